//! Store queries for review decisions: the audit trail (`review_decisions`: every approval,
//! decline and supersession, with its source, actor, time, note and where it was made), the PR
//! commands handled (`pr_commands`: one row per comment, or per CLI/API decline, with the reply
//! and the close it still owes), and where each held PR's comments were last read
//! (`pr_comment_cursors`).
//!
//! A decision and everything it changes in the state (the approval, the declined PR record, the
//! pending review, the quiet mark, the owed reply, the owners' email) are written in one
//! transaction by the caller, through the `_tx` functions here: a crash keeps all of it or none.

use std::collections::HashSet;

use serde::Serialize;

use super::db::{Exec as _, OptionalExt as _, params};
use super::{PrRecordState, ReviewKind, Store, Tx, db, now, ts};

/// What was decided about a held review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    Declined,
    /// A newer license text replaced the one under review before anyone decided.
    Superseded,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approved => "approved",
            Verdict::Declined => "declined",
            Verdict::Superseded => "superseded",
        }
    }
}

/// Where a decision was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cli,
    Api,
    PrComment,
    /// Upkeep itself (a supersession).
    Upkeep,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cli => "cli",
            Source::Api => "api",
            Source::PrComment => "pr-comment",
            Source::Upkeep => "upkeep",
        }
    }
}

/// A decision to record.
#[derive(Debug, Clone)]
pub struct NewDecision<'a> {
    pub kind: ReviewKind,
    pub server: &'a str,
    pub fingerprint: &'a str,
    /// The version the held PR proposes, when known.
    pub version: Option<&'a str>,
    pub verdict: Verdict,
    pub source: Source,
    /// Who decided: the forge's identity for a comment, `--by` or `by` otherwise.
    pub actor: &'a str,
    pub note: Option<&'a str>,
    pub pr_url: Option<&'a str>,
    pub comment_url: Option<&'a str>,
}

/// One recorded decision, as `license show`, `license log` and the run report list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionRow {
    pub id: i64,
    pub server: String,
    pub kind: String,
    pub fingerprint: String,
    pub version: Option<String>,
    pub decision: String,
    pub source: String,
    pub actor: String,
    pub decided_at: String,
    pub note: Option<String>,
    pub pr_url: Option<String>,
    pub comment_url: Option<String>,
}

/// What a handled PR command (or a CLI/API decline) still owes on the forge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedAction {
    /// The comment id it answers, or `<verdict>-<kind>-<fingerprint>` for a decision made with
    /// the CLI or the API.
    pub key: String,
    pub pr_id: String,
    /// The reply to post (carrying the hidden marker of `key`), when one is owed.
    pub reply: Option<String>,
    /// The PR is to be closed (a decline).
    pub close: bool,
}

/// A handled command to record: its outcome and what it owes.
#[derive(Debug, Clone)]
pub struct NewCommand<'a> {
    pub server: &'a str,
    pub key: &'a str,
    pub pr_id: &'a str,
    /// `approved`, `declined`, `refused`, `not-held`, `stale`, `no-reason`.
    pub outcome: &'a str,
    pub reply: Option<&'a str>,
    pub close: bool,
}

const DECISION_COLUMNS: &str = "id, server, kind, fingerprint, version, decision, source, actor, \
     decided_at, note, pr_url, comment_url";

impl Store {
    /// Record `d` and what it changes: an approval releases the hold of its fingerprint (of its
    /// kind only); a decline marks the server's open PR record declined (its version is never
    /// proposed again) and ends the pending reviews of both kinds. Either forgets the quiet mark, so the next run looks again.
    /// Returns the decision's id.
    pub fn record_decision_tx(tx: &Tx<'_>, d: &NewDecision<'_>) -> anyhow::Result<i64> {
        let at = ts(now());
        let id: i64 = tx.query_row(
            "INSERT INTO review_decisions(server, kind, fingerprint, version, decision, source, actor,
                 decided_at, note, pr_url, comment_url)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             RETURNING id",
            params![
                d.server,
                d.kind.as_str(),
                d.fingerprint,
                d.version,
                d.verdict.as_str(),
                d.source.as_str(),
                d.actor,
                at,
                d.note,
                d.pr_url,
                d.comment_url
            ],
            |r| r.get(0),
        )?;
        match d.verdict {
            Verdict::Approved => {
                tx.execute(
                    &format!(
                        "INSERT INTO {}(server, fingerprint, approved_by, note, approved_at) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT(server, fingerprint) DO UPDATE SET approved_by = ?3, note = ?4, approved_at = ?5",
                        d.kind.approvals_table()
                    ),
                    params![d.server, d.fingerprint, d.actor, d.note, at],
                )?;
                Self::forget_quiet_mark(tx, d.server)?;
            }
            Verdict::Declined => {
                if let Some(open) = Self::open_pr_tx(tx, d.server)? {
                    Self::set_pr_state(tx, open.id, PrRecordState::Declined, Some(d.actor))?;
                }
                // A decline of either review declines the version: nothing of it waits for
                // review any more (a newer release is judged afresh).
                Self::clear_pending(tx, ReviewKind::License, d.server)?;
                Self::clear_pending(tx, ReviewKind::Mcp, d.server)?;
                Self::forget_quiet_mark(tx, d.server)?;
                // Nothing is held any more: the version is declined, a newer release is awaited.
                tx.execute(
                    "UPDATE server_state SET hold_reason = NULL, held_since = NULL WHERE server = ?1",
                    params![d.server],
                )?;
            }
            Verdict::Superseded => {}
        }
        Ok(id)
    }

    /// When the pending review of `server` is about to become `fingerprint` and the text under
    /// review was never decided, record that a newer text superseded it.
    pub fn supersede_pending_tx(
        tx: &Tx<'_>,
        kind: ReviewKind,
        server: &str,
        fingerprint: &str,
    ) -> anyhow::Result<()> {
        let old: Option<String> = tx
            .query_row(
                &format!(
                    "SELECT fingerprint FROM {} WHERE server = ?1",
                    kind.reviews_table()
                ),
                params![server],
                |r| r.get(0),
            )
            .optional()?;
        let Some(old) = old.filter(|o| o != fingerprint) else {
            return Ok(());
        };
        let decided: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM review_decisions WHERE server = ?1 AND kind = ?2
                 AND fingerprint = ?3)",
            params![server, kind.as_str(), old],
            |r| r.get(0),
        )?;
        if !decided {
            Self::record_decision_tx(
                tx,
                &NewDecision {
                    kind,
                    server,
                    fingerprint: &old,
                    version: None,
                    verdict: Verdict::Superseded,
                    source: Source::Upkeep,
                    actor: "upkeep",
                    note: Some(&format!("replaced by the license text {fingerprint}")),
                    pr_url: None,
                    comment_url: None,
                },
            )?;
        }
        Ok(())
    }

    /// Every decision, oldest first: of `server`, or of all servers.
    pub fn decisions(&self, server: Option<&str>) -> anyhow::Result<Vec<DecisionRow>> {
        Ok(self.conn()?.query_map(
            &format!(
                "SELECT {DECISION_COLUMNS} FROM review_decisions
                 WHERE ?1 IS NULL OR server = ?1 ORDER BY id"
            ),
            params![server],
            decision_from_row,
        )?)
    }

    /// The decisions about one text (`fingerprint`) of `server`, oldest first.
    pub fn decisions_for(
        &self,
        kind: ReviewKind,
        server: &str,
        fingerprint: &str,
    ) -> anyhow::Result<Vec<DecisionRow>> {
        Ok(self.conn()?.query_map(
            &format!(
                "SELECT {DECISION_COLUMNS} FROM review_decisions
                 WHERE server = ?1 AND kind = ?2 AND fingerprint = ?3 ORDER BY id"
            ),
            params![server, kind.as_str(), fingerprint],
            decision_from_row,
        )?)
    }

    /// The pending `kind` review of `server`: its fingerprint and since when it waits.
    pub fn pending_since(
        &self,
        kind: ReviewKind,
        server: &str,
    ) -> anyhow::Result<Option<(String, String)>> {
        Ok(self
            .conn()?
            .query_row(
                &format!(
                    "SELECT fingerprint, created_at FROM {} WHERE server = ?1",
                    kind.reviews_table()
                ),
                params![server],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Record a handled command and what it owes. A key already recorded is left as it is
    /// (returns false): a comment is answered once.
    pub fn record_command_tx(tx: &Tx<'_>, c: &NewCommand<'_>) -> anyhow::Result<bool> {
        let n = tx.execute(
            "INSERT INTO pr_commands(server, key, pr_id, outcome, reply, reply_owed, close_owed, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(server, key) DO NOTHING",
            params![
                c.server,
                c.key,
                c.pr_id,
                c.outcome,
                c.reply,
                c.reply.is_some(),
                c.close,
                ts(now())
            ],
        )?;
        Ok(n == 1)
    }

    /// The keys (comment ids) of `server`'s handled commands.
    pub fn handled_commands(&self, server: &str) -> anyhow::Result<HashSet<String>> {
        let keys = self.conn()?.query_map(
            "SELECT key FROM pr_commands WHERE server = ?1",
            params![server],
            |r| r.get::<_, String>(0),
        )?;
        Ok(keys.into_iter().collect())
    }

    /// What `server`'s handled commands still owe on the forge, oldest first.
    pub fn owed_actions(&self, server: &str) -> anyhow::Result<Vec<OwedAction>> {
        Ok(self.conn()?.query_map(
            "SELECT key, pr_id, CASE WHEN reply_owed = 1 THEN reply END, close_owed FROM pr_commands
             WHERE server = ?1 AND (reply_owed = 1 OR close_owed = 1) ORDER BY recorded_at, key",
            params![server],
            |r| {
                Ok(OwedAction {
                    key: r.get(0)?,
                    pr_id: r.get(1)?,
                    reply: r.get(2)?,
                    close: r.get(3)?,
                })
            },
        )?)
    }

    /// The reply of `key` is on the PR.
    pub fn reply_posted(&self, server: &str, key: &str) -> anyhow::Result<()> {
        self.write(
            "UPDATE pr_commands SET reply_owed = 0 WHERE server = ?1 AND key = ?2",
            params![server, key],
        )?;
        Ok(())
    }

    /// The PR `key` closes is closed.
    pub fn close_done(&self, server: &str, key: &str) -> anyhow::Result<()> {
        self.write(
            "UPDATE pr_commands SET close_owed = 0 WHERE server = ?1 AND key = ?2",
            params![server, key],
        )?;
        Ok(())
    }

    /// Where the comments of `server`'s PR `pr_id` were last read (the forge's opaque cursor).
    pub fn comment_cursor(&self, server: &str, pr_id: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT cursor FROM pr_comment_cursors WHERE server = ?1 AND pr_id = ?2",
                params![server, pr_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn put_comment_cursor_tx(
        tx: &Tx<'_>,
        server: &str,
        pr_id: &str,
        cursor: &str,
    ) -> anyhow::Result<()> {
        tx.execute(
            "INSERT INTO pr_comment_cursors(server, pr_id, cursor, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(server) DO UPDATE SET pr_id = ?2, cursor = ?3, updated_at = ?4",
            params![server, pr_id, cursor, ts(now())],
        )?;
        Ok(())
    }
}

fn decision_from_row(r: &db::Row) -> db::Result<DecisionRow> {
    Ok(DecisionRow {
        id: r.get(0)?,
        server: r.get(1)?,
        kind: r.get(2)?,
        fingerprint: r.get(3)?,
        version: r.get(4)?,
        decision: r.get(5)?,
        source: r.get(6)?,
        actor: r.get(7)?,
        decided_at: r.get(8)?,
        note: r.get(9)?,
        pr_url: r.get(10)?,
        comment_url: r.get(11)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::store::testing::open(dir.path());
        (dir, s)
    }

    fn decision<'a>(verdict: Verdict, fingerprint: &'a str) -> NewDecision<'a> {
        NewDecision {
            kind: ReviewKind::License,
            server: "x",
            fingerprint,
            version: Some("1.1.0"),
            verdict,
            source: Source::PrComment,
            actor: "ada",
            note: Some("CELA-1"),
            pr_url: Some("https://forge/pr/7"),
            comment_url: Some("https://forge/pr/7#c1"),
        }
    }

    crate::store::testing::on_both_backends! {
        fn an_approval_is_kept_with_its_audit_record_and_a_comment_is_answered_once() {
            let (_d, s) = store();
            s.transaction(|tx| {
                Store::record_decision_tx(tx, &decision(Verdict::Approved, "fp1"))?;
                let c = NewCommand {
                    server: "x",
                    key: "c1",
                    pr_id: "7",
                    outcome: "approved",
                    reply: Some("ok <!-- upkeep:reply:c1 -->"),
                    close: false,
                };
                assert!(Store::record_command_tx(tx, &c)?);
                assert!(
                    !Store::record_command_tx(tx, &c)?,
                    "a comment is handled once"
                );
                Ok(())
            })
            .unwrap();
            assert_eq!(s.approval("x", "fp1").unwrap().unwrap().approved_by, "ada");
            let log = s.decisions(Some("x")).unwrap();
            assert_eq!(log.len(), 1);
            assert_eq!(
                (log[0].source.as_str(), log[0].decision.as_str()),
                ("pr-comment", "approved")
            );
            assert_eq!(
                s.decisions_for(ReviewKind::License, "x", "fp1").unwrap(),
                log
            );
            assert!(s.handled_commands("x").unwrap().contains("c1"));
            let owed = s.owed_actions("x").unwrap();
            assert_eq!(owed.len(), 1);
            assert!(owed[0].reply.is_some() && !owed[0].close);
            s.reply_posted("x", "c1").unwrap();
            assert!(s.owed_actions("x").unwrap().is_empty());
        }

        fn a_newer_text_supersedes_an_undecided_one_only() {
            let (_d, s) = store();
            s.transaction(|tx| {
                Store::put_pending_review(tx, "x", "fp1", "{}")?;
                Store::supersede_pending_tx(tx, ReviewKind::License, "x", "fp1")?;
                Store::supersede_pending_tx(tx, ReviewKind::License, "x", "fp2")?;
                Store::put_pending_review(tx, "x", "fp2", "{}")?;
                Store::record_decision_tx(tx, &decision(Verdict::Approved, "fp2"))?;
                Store::supersede_pending_tx(tx, ReviewKind::License, "x", "fp3")
            })
            .unwrap();
            let log = s.decisions(None).unwrap();
            let seen: Vec<_> = log
                .iter()
                .map(|d| (d.fingerprint.as_str(), d.decision.as_str()))
                .collect();
            assert_eq!(seen, [("fp1", "superseded"), ("fp2", "approved")]);
            assert_eq!(
                s.pending_since(ReviewKind::License, "x")
                    .unwrap()
                    .unwrap()
                    .0,
                "fp2"
            );
        }

        fn cursors_follow_the_pr() {
            let (_d, s) = store();
            assert_eq!(s.comment_cursor("x", "7").unwrap(), None);
            s.transaction(|tx| Store::put_comment_cursor_tx(tx, "x", "7", "c"))
                .unwrap();
            assert_eq!(s.comment_cursor("x", "7").unwrap().as_deref(), Some("c"));
            assert_eq!(s.comment_cursor("x", "8").unwrap(), None, "another PR");
        }
    }
}
