//! The outbox, drained: every due email is routed to digests, handed to the transport once per
//! attempt, and its outcome recorded. Run at the end of every run, between runs by `serve`, and
//! by `upkeep outbox retry`.
//!
//! Delivery protocol per email: mark `sending` (attempts+1) -> transport -> mark `sent`. A crash
//! after the transport accepted the message but before `sent` is recorded is the one window in
//! which an email can go out twice: the row is still `sending` and is retried on the next drain
//! (with the same Message-ID, so receivers can dedupe; the file transport rewrites the same file).
//!
//! Chat rows (`store::chat`: one per chat destination of a queued email) are ordinary rows of
//! the same outbox: the same protocol, with a POST to the destination's webhook as the
//! transport (`pipeline::chat`) and the service's `Retry-After` as the back-off when it gives
//! one. Digests are email only: a chat row's recipient is never a digest owner, and a digest is
//! never fanned out to chat (chat already got each of its messages).
//!
//! Digest owners: before sending, a due email's digest owners are handed to their digests
//! ([`route_to_digests`]) and due digests are queued ([`enqueue_digests`]); the email then goes
//! to the remaining recipients only, or nowhere (status `digested`). The decisions and texts are
//! `notify`'s; the state side is here. The drain is async (SMTP is), so every store call goes
//! through [`Store::blocking`].

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use crate::config::EmailConfig;
use crate::notify::digest;
use crate::notify::email::{Email, build_message};
use crate::notify::transport::{self, MAX_ATTEMPTS, Outcome, Transport};
use crate::report::{Attachment, EmailSummary};
use crate::store::{NewEmail, OutboxRow, Store};

/// Send every due email. Never fails as a whole: per-email problems are recorded on the row and
/// summarised in the result.
///
/// Digest schedules are evaluated in UTC here, as the email config carries no timezone.
pub async fn drain(store: &Arc<Store>, config: &EmailConfig) -> EmailSummary {
    let mut summary = EmailSummary::default();
    // Digest routing first, so the digests queued now already carry this drain's items.
    let email = config.clone();
    let routed = store
        .blocking(move |s| {
            let mut errors = route_to_digests(s, &email, &s.due_emails()?);
            if let Err(e) = enqueue_digests(s, &email, &Utc, Utc::now()) {
                errors.push(format!("queueing digests: {e:#}"));
            }
            Ok(errors)
        })
        .await;
    match routed {
        Ok(errors) => summary.errors.extend(errors),
        Err(e) => {
            summary.errors.push(format!("reading the outbox: {e:#}"));
            return summary;
        }
    }
    let rows = match store.blocking(Store::due_emails).await {
        Ok(rows) if rows.is_empty() => return summary,
        Ok(rows) => rows,
        Err(e) => {
            summary.errors.push(format!("reading the outbox: {e:#}"));
            return summary;
        }
    };
    // A broken email transport holds the emails back, not the chat messages.
    let transport = Transport::from_config(config);
    if let Err(e) = &transport {
        summary.errors.push(format!("SMTP transport: {e:#}"));
    }
    let mut chat = super::chat::Sender::default();
    for row in rows {
        let id = row.id;
        let sent = match store.blocking(move |s| s.chat_message(id)).await {
            Ok(Some(message)) => {
                super::chat::send(store, &mut chat, config, &row, message, &mut summary).await
            }
            Ok(None) => match &transport {
                Ok(t) => send_one(store, t, config, &row, &mut summary).await,
                Err(_) => Ok(()),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            summary.errors.push(format!("outbox {id}: {e:#}"));
        }
    }
    summary
}

/// One due email: to its direct recipients (digest owners taken out), then its outcome
/// recorded. Errors are the state's; delivery problems are counted in `summary`.
async fn send_one(
    store: &Arc<Store>,
    transport: &Transport,
    config: &EmailConfig,
    row: &OutboxRow,
    summary: &mut EmailSummary,
) -> anyhow::Result<()> {
    let id = row.id;
    let digested = store.blocking(move |s| s.digest_owners_of(id)).await?;
    let split = digest::split(&row.recipients, &row.cc, &digested);
    if split.nobody_direct() {
        // Routed before a crash that came before the status change, or routed by an older
        // drain: either way only the digests carry it.
        let owners = split.digested;
        return store
            .blocking(move |s| s.route_to_digest(id, &owners, true))
            .await;
    }
    let recipients = split.to.join(", ");
    let attached = store.blocking(move |s| s.outbox_attachments(id)).await?;
    let mut email = to_email(row, &config.from, split.to, split.cc);
    email.attachments = attached
        .into_iter()
        .map(|a| crate::notify::email::Attachment {
            filename: a.filename,
            content_type: a.content_type,
            body: a.body,
        })
        .collect();
    let outcome = match build_message(&email) {
        Err(e) => Outcome::Permanent(format!("cannot build message: {e:#}")),
        Ok(message) => {
            crate::failpoint::hit("before-mark-sending");
            if !store.blocking(move |s| s.mark_sending(id)).await? {
                // Another replica's drain holds it, or sent it since this drain read the outbox.
                return Ok(());
            }
            crate::failpoint::hit("before-send");
            let name = transport::eml_name(row.id, &row.server, &row.reason);
            transport.deliver(&message, &name).await
        }
    };
    if matches!(outcome, Outcome::Sent) {
        crate::failpoint::hit("after-send");
    }
    record(
        store,
        row,
        outcome,
        &format!("email {id} to {recipients}"),
        summary,
    )
    .await;
    Ok(())
}

/// Record what one attempt at outbox row `row` came to: sent, retried later (after the
/// service's `Retry-After` when it gave one, else the row's back-off), or failed after
/// [`MAX_ATTEMPTS`] or for good. `what` names the message in the run's errors.
pub(super) async fn record(
    store: &Arc<Store>,
    row: &OutboxRow,
    outcome: Outcome,
    what: &str,
    summary: &mut EmailSummary,
) {
    let (id, attempts) = (row.id, row.attempts);
    let backoff = || transport::retry_delay(u32::try_from(attempts + 1).unwrap_or(u32::MAX), id);
    let recorded = match outcome {
        Outcome::Sent => {
            summary.sent += 1;
            tracing::info!(outbox_id = id, server = %row.server, reason = %row.reason, "{what}: sent");
            store.blocking(move |s| s.mark_sent(id)).await
        }
        Outcome::Transient(e) | Outcome::Later(e, _) if attempts + 1 >= MAX_ATTEMPTS => {
            failed(store, id, e, what, summary).await
        }
        Outcome::Transient(e) => retry(store, id, e, backoff(), what, summary).await,
        // At least a second: a `Retry-After: 0` must not make a busy loop of the drain.
        Outcome::Later(e, wait) => {
            retry(
                store,
                id,
                e,
                wait.max(std::time::Duration::from_secs(1)),
                what,
                summary,
            )
            .await
        }
        Outcome::Permanent(e) => failed(store, id, e, what, summary).await,
    };
    if let Err(e) = recorded {
        summary.errors.push(format!("recording outbox {id}: {e:#}"));
    }
}

async fn retry(
    store: &Arc<Store>,
    id: i64,
    e: String,
    delay: std::time::Duration,
    what: &str,
    summary: &mut EmailSummary,
) -> anyhow::Result<()> {
    summary.retrying += 1;
    tracing::warn!(outbox_id = id, error = %e, retry_in_s = delay.as_secs(), "{what}: not sent; will retry");
    summary.errors.push(format!("{what}: {e} (retrying)"));
    let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
    store.blocking(move |s| s.mark_retry(id, &e, next)).await
}

async fn failed(
    store: &Arc<Store>,
    id: i64,
    e: String,
    what: &str,
    summary: &mut EmailSummary,
) -> anyhow::Result<()> {
    summary.failed += 1;
    tracing::error!(outbox_id = id, error = %e, "{what}: failed permanently");
    summary.errors.push(format!("{what}: {e} (failed)"));
    store.blocking(move |s| s.mark_failed(id, &e)).await
}

fn to_email(row: &OutboxRow, from: &str, to: Vec<String>, cc: Vec<String>) -> Email {
    Email {
        from: from.to_string(),
        to,
        cc,
        subject: row.subject.clone(),
        text: row.text.clone(),
        html: row.html.clone(),
        message_id: transport::message_id(row.id, &row.dedupe_key),
        headers: vec![
            ("X-Upkeep-Reason".into(), row.reason.clone()),
            ("X-Upkeep-Server".into(), row.server.clone()),
        ],
        attachments: Vec::new(),
    }
}

/// Hand every due email's digest owners to their digests (first handling of an email only:
/// an email already tried keeps the recipients it was tried with). Returns the problems met.
pub fn route_to_digests(store: &Store, config: &EmailConfig, rows: &[OutboxRow]) -> Vec<String> {
    let Some(dg) = &config.digest else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    for row in rows {
        if row.reason == digest::REASON || row.attempts > 0 || row.status != "pending" {
            continue;
        }
        let s = digest::split(&row.recipients, &row.cc, &dg.owners);
        if s.digested.is_empty() {
            continue;
        }
        match store.route_to_digest(row.id, &s.digested, s.nobody_direct()) {
            Ok(()) => {
                tracing::info!(
                    outbox_id = row.id,
                    owners = s.digested.len(),
                    direct = !s.nobody_direct(),
                    "email handed to the digest"
                );
            }
            Err(e) => errors.push(format!("outbox {}: {e:#}", row.id)),
        }
    }
    errors
}

/// Queue one digest per owner whose schedule fired since their oldest unclaimed item; returns
/// how many were queued. The schedule is evaluated in `tz`. Items left over from a digest
/// configuration that was since removed go out at once, so nothing waits forever.
pub fn enqueue_digests<Z: TimeZone>(
    store: &Store,
    config: &EmailConfig,
    tz: &Z,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut queued = 0;
    for (owner, oldest) in store.owners_with_digest_items()? {
        let oldest = DateTime::parse_from_rfc3339(&oldest).map_or(now, |t| t.with_timezone(&Utc));
        let period = match &config.digest {
            Some(dg) => digest::period_start(&dg.schedule, tz, oldest, now),
            None => Some(now),
        };
        let Some(period) = period else { continue };
        let id = store.transaction(|tx| {
            // Read inside the transaction that claims them: no other digest can take them.
            let items = Store::unclaimed_digest_items(tx, &owner)?;
            if items.is_empty() {
                return Ok(None);
            }
            let entries: Vec<digest::DigestEntry<'_>> = items
                .iter()
                .map(|i| digest::DigestEntry {
                    server: &i.server,
                    subject: &i.subject,
                    text: &i.text,
                    html: &i.html,
                })
                .collect();
            let with_files: Vec<(&str, Vec<Attachment>)> = items
                .iter()
                .map(|i| {
                    Ok((
                        i.server.as_str(),
                        Store::outbox_attachments_on(tx, i.outbox_id)?,
                    ))
                })
                .collect::<anyhow::Result<_>>()?;
            let (attachments, left_out) = digest::digest_attachments(&with_files);
            let text = digest::with_attachment_note(
                digest::digest_email(&entries),
                &attachments,
                &left_out,
            );
            let email = NewEmail {
                dedupe_key: digest::digest_key(&owner, period),
                server: digest::REASON.into(),
                reason: digest::REASON.into(),
                recipients: vec![owner.clone()],
                cc: Vec::new(),
                subject: text.subject,
                text: text.text,
                html: text.html,
            };
            let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
            Store::enqueue_digest(tx, &email, &attachments, &ids)
        })?;
        if let Some(id) = id {
            tracing::info!(outbox_id = id, "queued a digest");
            queued += 1;
        }
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr as _;

    use crate::store::db::Exec as _;

    use super::*;

    fn owners(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_string()).collect()
    }

    fn queue(store: &Store, key: &str, to: &[&str]) -> i64 {
        store
            .transaction(|tx| {
                Store::enqueue_email(
                    tx,
                    &NewEmail {
                        dedupe_key: key.into(),
                        server: "s".into(),
                        reason: "license-review".into(),
                        recipients: owners(to),
                        cc: Vec::new(),
                        subject: format!("subject {key}"),
                        text: format!("text {key}"),
                        html: String::new(),
                    },
                    None,
                )
            })
            .unwrap();
        store
            .outbox(&[])
            .unwrap()
            .into_iter()
            .find(|r| r.dedupe_key == key)
            .unwrap()
            .id
    }

    fn config(cron: &str, digest_owners: &[&str]) -> EmailConfig {
        EmailConfig {
            from: "upkeep@example.com".into(),
            transport: crate::config::EmailTransport::File {
                dir: std::path::PathBuf::from("unused"),
            },
            failing_runs_alert: 3,
            review_sla: std::time::Duration::from_secs(60),
            escalation: None,
            digest: Some(crate::config::DigestConfig {
                owners: owners(digest_owners),
                expression: cron.into(),
                schedule: cron::Schedule::from_str(cron).unwrap(),
            }),
            chat: crate::config::ChatConfig::default(),
        }
    }

    crate::store::testing::on_both_backends! {
        fn items_are_claimed_by_exactly_one_digest_and_routing_is_idempotent() {
            let dir = tempfile::tempdir().unwrap();
            let store = crate::store::testing::open(dir.path());
            // Every second: due once a second has passed since the oldest item.
            let cfg = config("* * * * * *", &["busy@x.org"]);
            let a = queue(&store, "a", &["busy@x.org"]);
            let b = queue(&store, "b", &["busy@x.org", "other@x.org"]);
            let rows = store.due_emails().unwrap();
            assert!(route_to_digests(&store, &cfg, &rows).is_empty());
            // A second drain (say, after a crash before sending) changes nothing.
            assert!(route_to_digests(&store, &cfg, &rows).is_empty());
            assert_eq!(
                store.outbox_row(a).unwrap().unwrap().status,
                digest::DIGESTED
            );
            assert_eq!(store.outbox_row(b).unwrap().unwrap().status, "pending");
            assert_eq!(store.digest_owners_of(b).unwrap(), owners(&["busy@x.org"]));

            let now = Utc::now();
            assert_eq!(
                enqueue_digests(&store, &cfg, &Utc, now).unwrap(),
                0,
                "not fired yet"
            );
            let later = now + chrono::Duration::seconds(2);
            assert_eq!(enqueue_digests(&store, &cfg, &Utc, later).unwrap(), 1);
            assert_eq!(
                enqueue_digests(&store, &cfg, &Utc, later).unwrap(),
                0,
                "claimed"
            );
            let digest = store
                .outbox(&[])
                .unwrap()
                .into_iter()
                .find(|r| r.reason == digest::REASON)
                .unwrap();
            assert_eq!(digest.recipients, owners(&["busy@x.org"]));
            assert_eq!(store.digest_items_of(digest.id).unwrap(), [a, b]);
            assert!(digest.text.contains("text a") && digest.text.contains("text b"));

            // A new item in the same period: the period's key is taken, so it waits for the next
            // digest instead of joining a second one for the same period.
            let c = queue(&store, "c", &["busy@x.org"]);
            route_to_digests(&store, &cfg, &store.due_emails().unwrap());
            let fired =
                digest::period_start(&cfg.digest.as_ref().unwrap().schedule, &Utc, now, later).unwrap();
            store
                .transaction(|tx| {
                    tx.execute(
                        "UPDATE digest_items SET created_at = ?1 WHERE outbox_id = ?2",
                        crate::store::db::params![
                            (fired - chrono::Duration::milliseconds(1))
                                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                            c
                        ],
                    )?;
                    Ok(())
                })
                .unwrap();
            assert_eq!(enqueue_digests(&store, &cfg, &Utc, later).unwrap(), 0);
            let next = later + chrono::Duration::seconds(1);
            assert_eq!(enqueue_digests(&store, &cfg, &Utc, next).unwrap(), 1);
            let digests: Vec<_> = store
                .outbox(&[])
                .unwrap()
                .into_iter()
                .filter(|r| r.reason == digest::REASON)
                .collect();
            assert_eq!(digests.len(), 2);
            assert_eq!(store.digest_items_of(digests[1].id).unwrap(), [c]);
        }
    }
}
