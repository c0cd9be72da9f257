//! Draining the outbox: every due email is handed to the transport once per attempt.
//!
//! Delivery protocol per row: mark `sending` (attempts+1) -> transport -> mark `sent`. A crash
//! after the transport accepted the message but before `sent` is recorded is the one window in
//! which an email can go out twice: the row is still `sending` and is retried on the next drain
//! (with the same Message-ID, so receivers can dedupe). The file transport closes that window:
//! it writes to a name derived from the row id, atomically, so a retry rewrites the same file.
//!
//! Digest owners: before sending, a due email's digest owners are handed to their digests
//! ([`super::digest::route`]) and due digests are queued ([`super::digest::enqueue_due`]); the
//! email then goes to the remaining recipients only, or nowhere (status `digested`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use sha2::Digest as _;

use crate::config::{EmailConfig, EmailTransport};
use crate::report::EmailSummary;
use crate::store::{OutboxRow, Store};

use super::email::{Email, build_message};

/// Transient failures back off exponentially from this, up to `MAX_BACKOFF`.
const BASE_BACKOFF: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// After this many attempts a transient failure is recorded as failed.
const MAX_ATTEMPTS: i64 = 12;

/// What one delivery attempt came to.
pub enum Outcome {
    Sent,
    Transient(String),
    Permanent(String),
}

/// The Message-ID of an outbox row: stable across retries.
pub fn message_id(row: &OutboxRow) -> String {
    let h = hex::encode(sha2::Sha256::digest(row.dedupe_key.as_bytes()));
    format!("{}.{}@upkeep", row.id, &h[..16])
}

fn to_email(row: &OutboxRow, from: &str, to: Vec<String>, cc: Vec<String>) -> Email {
    Email {
        from: from.to_string(),
        to,
        cc,
        subject: row.subject.clone(),
        text: row.text.clone(),
        html: row.html.clone(),
        message_id: message_id(row),
        headers: vec![
            ("X-Upkeep-Reason".into(), row.reason.clone()),
            ("X-Upkeep-Server".into(), row.server.clone()),
        ],
        attachments: Vec::new(),
    }
}

/// File name of a row's `.eml` in the file transport's directory.
pub fn eml_path(dir: &Path, row: &OutboxRow) -> PathBuf {
    dir.join(format!("{:06}-{}-{}.eml", row.id, row.server, row.reason))
}

fn write_file(dir: &Path, row: &OutboxRow, message: &lettre::Message) -> anyhow::Result<PathBuf> {
    crate::files::create_private_dir_all(dir)
        .with_context(|| format!("creating outbox directory {}", dir.display()))?;
    let path = eml_path(dir, row);
    let tmp = path.with_extension("eml.tmp");
    crate::files::write_private(&tmp, &message.formatted())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path)
        .with_context(|| format!("moving {} into place", path.display()))?;
    Ok(path)
}

/// Send every due email. Never fails as a whole: per-email problems are recorded on the row and
/// summarised in the result.
///
/// Digest schedules are evaluated in UTC here, as the email config carries no timezone.
pub async fn drain(store: &Store, config: &EmailConfig) -> EmailSummary {
    let mut summary = EmailSummary::default();
    let rows = match store.due_emails() {
        Ok(rows) => rows,
        Err(e) => {
            summary.errors.push(format!("reading the outbox: {e:#}"));
            return summary;
        }
    };
    // Digest routing first, so the digests queued now already carry this drain's items.
    summary
        .errors
        .extend(super::digest::route(store, config, &rows));
    if let Err(e) = super::digest::enqueue_due(store, config, &chrono::Utc, chrono::Utc::now()) {
        summary.errors.push(format!("queueing digests: {e:#}"));
    }
    let rows = match store.due_emails() {
        Ok(rows) => rows,
        Err(e) => {
            summary.errors.push(format!("reading the outbox: {e:#}"));
            return summary;
        }
    };
    let smtp = match &config.transport {
        EmailTransport::Smtp(s) if !rows.is_empty() => match sender_from_config(s) {
            Ok(sender) => Some(sender),
            Err(e) => {
                summary.errors.push(format!("SMTP transport: {e:#}"));
                return summary;
            }
        },
        _ => None,
    };
    for row in rows {
        let digested = match store.digest_owners_of(row.id) {
            Ok(d) => d,
            Err(e) => {
                summary.errors.push(format!("outbox {}: {e:#}", row.id));
                continue;
            }
        };
        let split = super::digest::split(&row.recipients, &row.cc, &digested);
        if split.nobody_direct() {
            // Routed before a crash that came before the status change, or routed by an
            // older drain: either way only the digests carry it.
            if let Err(e) = store.route_to_digest(row.id, &split.digested, true) {
                summary.errors.push(format!("outbox {}: {e:#}", row.id));
            }
            continue;
        }
        let recipients = split.to.join(", ");
        let email = to_email(&row, &config.from, split.to, split.cc);
        let outcome = match build_message(&email) {
            Err(e) => Outcome::Permanent(format!("cannot build message: {e:#}")),
            Ok(message) => {
                crate::failpoint::hit("before-mark-sending");
                if let Err(e) = store.mark_sending(row.id) {
                    summary.errors.push(format!("outbox {}: {e:#}", row.id));
                    continue;
                }
                crate::failpoint::hit("before-send");
                match (&config.transport, &smtp) {
                    (EmailTransport::File { dir }, _) => match write_file(dir, &row, &message) {
                        Ok(_) => Outcome::Sent,
                        Err(e) => Outcome::Transient(format!("{e:#}")),
                    },
                    (EmailTransport::Smtp(_), Some(sender)) => match sender.send(&message).await {
                        Ok(()) => Outcome::Sent,
                        Err(super::smtp::SendError::Transient(e)) => Outcome::Transient(e),
                        Err(super::smtp::SendError::Permanent(e)) => Outcome::Permanent(e),
                    },
                    (EmailTransport::Smtp(_), None) => Outcome::Transient("no SMTP sender".into()),
                }
            }
        };
        let recorded = match outcome {
            Outcome::Sent => {
                summary.sent += 1;
                tracing::info!(outbox_id = row.id, server = %row.server, reason = %row.reason, "email sent");
                crate::failpoint::hit("after-send");
                store.mark_sent(row.id)
            }
            Outcome::Transient(e) if row.attempts + 1 < MAX_ATTEMPTS => {
                summary.retrying += 1;
                let delay = backoff(u32::try_from(row.attempts + 1).unwrap_or(u32::MAX), row.id);
                tracing::warn!(outbox_id = row.id, error = %e, retry_in_s = delay.as_secs(), "email not sent; will retry");
                summary
                    .errors
                    .push(format!("email {} to {recipients}: {e} (retrying)", row.id));
                store.mark_retry(
                    row.id,
                    &e,
                    chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
                )
            }
            Outcome::Transient(e) | Outcome::Permanent(e) => {
                summary.failed += 1;
                tracing::error!(outbox_id = row.id, error = %e, "email failed permanently");
                summary
                    .errors
                    .push(format!("email {} to {recipients}: {e} (failed)", row.id));
                store.mark_failed(row.id, &e)
            }
        };
        if let Err(e) = recorded {
            summary
                .errors
                .push(format!("recording outbox {}: {e:#}", row.id));
        }
    }
    summary
}

/// The SMTP sender of the configured relay, with its password read now.
pub fn sender_from_config(
    c: &crate::config::SmtpConfig,
) -> anyhow::Result<super::smtp::SmtpSender> {
    use super::smtp::{SmtpSender, SmtpSettings, TlsMode};
    let password = c.password.resolve().context("SMTP password")?;
    SmtpSender::new(&SmtpSettings {
        host: c.host.clone(),
        port: c.port,
        tls: match c.tls {
            crate::config::SmtpTls::None => TlsMode::None,
            crate::config::SmtpTls::Starttls => TlsMode::Starttls,
            crate::config::SmtpTls::Tls => TlsMode::Tls,
        },
        username: c.username.clone(),
        password,
        timeout: c.timeout,
        ca_file: c.ca_file.clone(),
        hello_name: None,
    })
}

/// Exponential backoff with jitter spread by row (repeatable for one row, different across rows).
fn backoff(attempt: u32, id: i64) -> Duration {
    let jitter = 0.5 + (id.unsigned_abs() * 7919 % 1000) as f64 / 2000.0;
    super::smtp::retry_delay(attempt, BASE_BACKOFF, MAX_BACKOFF, jitter)
}
