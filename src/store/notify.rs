//! Store queries for per-owner digests and stale-review reminders.
//!
//! Digest items (`digest_items`) link an owner to an outbox row the owner gets in a digest
//! instead of directly; an item belongs to no digest (`digest_outbox_id` NULL) until one digest
//! row claims it in the transaction that enqueues that digest, so an item is never lost and never
//! in two digests. Reminders (`reminders` for license reviews, `mcp_reminders` for MCP surface
//! reviews) remember how many reminders went out per pending review. The decisions (who is
//! digested, when a reminder is due) are made in `notify`.

use anyhow::Context as _;
use serde::Serialize;

use super::db::{Exec as _, OptionalExt as _, params};
use super::{NewEmail, ReviewKind, Store, Tx, now, ts};
use crate::report::Attachment;

/// A review waiting for a decision (a `license_reviews` or `mcp_reviews` row).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PendingReview {
    pub server: String,
    pub fingerprint: String,
    /// The license judgement or the MCP surface report, as JSON.
    pub judgement: String,
    /// When the review started waiting (RFC 3339).
    pub created_at: String,
}

/// One email an owner gets in a digest, with what the digest shows of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DigestItem {
    pub id: i64,
    pub owner: String,
    pub outbox_id: i64,
    /// When the item was handed to the digest (RFC 3339).
    pub created_at: String,
    pub server: String,
    pub reason: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Store {
    /// Every pending `kind` review, oldest first.
    pub fn pending_reviews(&self, kind: ReviewKind) -> anyhow::Result<Vec<PendingReview>> {
        Ok(self.conn()?.query_map(
            &format!(
                "SELECT server, fingerprint, judgement, created_at FROM {} ORDER BY created_at, server",
                kind.reviews_table()
            ),
            params![],
            |r| {
                Ok(PendingReview {
                    server: r.get(0)?,
                    fingerprint: r.get(1)?,
                    judgement: r.get(2)?,
                    created_at: r.get(3)?,
                })
            },
        )?)
    }

    /// How many reminders were queued for this `kind` review (0 when none).
    pub fn reminders_sent(
        tx: &Tx<'_>,
        kind: ReviewKind,
        server: &str,
        fingerprint: &str,
    ) -> anyhow::Result<i64> {
        Ok(tx
            .query_row(
                &format!(
                    "SELECT sent_count FROM {} WHERE server = ?1 AND fingerprint = ?2",
                    kind.reminders_table()
                ),
                params![server, fingerprint],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// Record that reminder number `count` of this `kind` review was queued.
    pub fn record_reminder(
        tx: &Tx<'_>,
        kind: ReviewKind,
        server: &str,
        fingerprint: &str,
        count: i64,
    ) -> anyhow::Result<()> {
        tx.execute(
            &format!(
                "INSERT INTO {}(server, fingerprint, sent_count, last_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(server, fingerprint) DO UPDATE SET sent_count = ?3, last_at = ?4",
                kind.reminders_table()
            ),
            params![server, fingerprint, count, ts(now())],
        )?;
        Ok(())
    }

    /// Hand outbox row `outbox_id` to the digests of `owners`, in one transaction. When
    /// `nobody_direct`, the row goes to nobody directly and is marked `digested`. Idempotent:
    /// an owner already holding an item for the row keeps that one.
    pub fn route_to_digest(
        &self,
        outbox_id: i64,
        owners: &[String],
        nobody_direct: bool,
    ) -> anyhow::Result<()> {
        self.transaction(|tx| {
            let now = ts(now());
            for owner in owners {
                tx.execute(
                    "INSERT INTO digest_items(owner, outbox_id, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(owner, outbox_id) DO NOTHING",
                    params![owner, outbox_id, now],
                )?;
            }
            if nobody_direct {
                tx.execute(
                    "UPDATE outbox SET status = 'digested', last_error = NULL WHERE id = ?1 AND status IN ('pending', 'sending')",
                    params![outbox_id],
                )?;
            }
            Ok(())
        })
        .with_context(|| format!("handing outbox {outbox_id} to the digest"))
    }

    /// The owners who get outbox row `outbox_id` in a digest (so not directly).
    pub fn digest_owners_of(&self, outbox_id: i64) -> anyhow::Result<Vec<String>> {
        let conn = self.conn()?;
        let rows: Vec<String> = conn.query_map(
            "SELECT owner FROM digest_items WHERE outbox_id = ?1 ORDER BY owner",
            params![outbox_id],
            |r| r.get(0),
        )?;
        Ok(rows)
    }

    /// Owners with items that no digest claimed yet, with their oldest item's time.
    pub fn owners_with_digest_items(&self) -> anyhow::Result<Vec<(String, String)>> {
        let conn = self.conn()?;
        let rows = conn.query_map(
            "SELECT owner, MIN(created_at) FROM digest_items WHERE digest_outbox_id IS NULL
             GROUP BY owner ORDER BY owner",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows)
    }

    /// The owner's items that no digest claimed yet, oldest first.
    pub fn unclaimed_digest_items(tx: &Tx<'_>, owner: &str) -> anyhow::Result<Vec<DigestItem>> {
        Ok(tx.query_map(
            "SELECT d.id, d.owner, d.outbox_id, d.created_at, o.server, o.reason, o.subject, o.text_body, o.html_body
             FROM digest_items d JOIN outbox o ON o.id = d.outbox_id
             WHERE d.owner = ?1 AND d.digest_outbox_id IS NULL ORDER BY d.id",
            params![owner],
            |r| {
                Ok(DigestItem {
                    id: r.get(0)?,
                    owner: r.get(1)?,
                    outbox_id: r.get(2)?,
                    created_at: r.get(3)?,
                    server: r.get(4)?,
                    reason: r.get(5)?,
                    subject: r.get(6)?,
                    text: r.get(7)?,
                    html: r.get(8)?,
                })
            },
        )?)
    }

    /// Enqueue `digest` and let it claim `item_ids`, in the caller's transaction. Returns the new
    /// row's id, or None when a digest with the same dedupe key exists (the items stay unclaimed
    /// for the next one).
    pub fn enqueue_digest(
        tx: &Tx<'_>,
        digest: &NewEmail,
        attachments: &[Attachment],
        item_ids: &[i64],
    ) -> anyhow::Result<Option<i64>> {
        // Never fanned out to chat: a digest gathers messages chat already got one by one.
        let Some(id) = Store::insert_email(tx, digest, attachments, None)? else {
            return Ok(None);
        };
        for item in item_ids {
            // Exactly one: the items were read unclaimed in this same transaction.
            anyhow::ensure!(
                tx.execute(
                    "UPDATE digest_items SET digest_outbox_id = ?2 WHERE id = ?1 AND digest_outbox_id IS NULL",
                    params![item, id]
                )? == 1,
                "digest item {item} was claimed by another digest"
            );
        }
        Ok(Some(id))
    }

    /// The items a digest row carries (for tests and `outbox` views).
    pub fn digest_items_of(&self, digest_outbox_id: i64) -> anyhow::Result<Vec<i64>> {
        let conn = self.conn()?;
        let rows: Vec<i64> = conn.query_map(
            "SELECT outbox_id FROM digest_items WHERE digest_outbox_id = ?1 ORDER BY id",
            params![digest_outbox_id],
            |r| r.get(0),
        )?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::store::testing::on_both_backends! {
        /// Each kind's pending reviews and reminder counts are its own, even for one
        /// fingerprint.
        fn pending_reviews_and_reminder_counts_are_kept_per_kind() {
            let dir = tempfile::tempdir().unwrap();
            let s = crate::store::testing::open(dir.path());
            s.transaction(|tx| {
                Store::put_pending(tx, ReviewKind::License, "x", "fp", "{\"l\":1}")?;
                Store::put_pending(tx, ReviewKind::Mcp, "x", "fp", "{\"m\":1}")?;
                Store::record_reminder(tx, ReviewKind::Mcp, "x", "fp", 1)?;
                Store::record_reminder(tx, ReviewKind::Mcp, "x", "fp", 2)
            })
            .unwrap();
            let license = s.pending_reviews(ReviewKind::License).unwrap();
            let mcp = s.pending_reviews(ReviewKind::Mcp).unwrap();
            assert_eq!(
                (license.len(), license[0].judgement.as_str()),
                (1, "{\"l\":1}")
            );
            assert_eq!((mcp.len(), mcp[0].judgement.as_str()), (1, "{\"m\":1}"));
            let counts = s
                .transaction(|tx| {
                    Ok([ReviewKind::License, ReviewKind::Mcp]
                        .map(|k| Store::reminders_sent(tx, k, "x", "fp").unwrap()))
                })
                .unwrap();
            assert_eq!(counts, [0, 2]);
            s.transaction(|tx| Store::clear_pending(tx, ReviewKind::Mcp, "x"))
                .unwrap();
            assert!(s.pending_reviews(ReviewKind::Mcp).unwrap().is_empty());
            assert_eq!(s.pending_reviews(ReviewKind::License).unwrap().len(), 1);
        }
    }
}
