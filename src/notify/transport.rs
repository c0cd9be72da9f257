//! Delivering one email: the transports (a `.eml` file per message, or SMTP), the stable
//! Message-ID of a queued email, and how long a failed delivery waits before it is tried again.
//!
//! Which emails are due, and recording what came of each attempt, is the outbox's job
//! (`pipeline::outbox`); this module knows no state. The file transport writes to a name
//! derived from the queued email's id, atomically, so a retry after a crash rewrites the same
//! file instead of writing a second one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use sha2::Digest as _;

use super::smtp::{SendError, SmtpSender, SmtpSettings, TlsMode};
use crate::config::{EmailConfig, EmailTransport, SmtpConfig, SmtpTls};

/// Transient failures back off exponentially from this, up to `MAX_BACKOFF`.
const BASE_BACKOFF: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// After this many attempts a transient failure is recorded as failed.
pub const MAX_ATTEMPTS: i64 = 12;

/// What one delivery attempt came to.
pub enum Outcome {
    Sent,
    Transient(String),
    /// Transient, and the service said how long to wait (`Retry-After`; chat webhooks).
    Later(String, Duration),
    Permanent(String),
}

/// Where messages go.
pub enum Transport {
    /// One `.eml` file per message in `dir`.
    File { dir: PathBuf },
    /// Boxed: the sender is large, and a transport is made once per drain.
    Smtp(Box<SmtpSender>),
}

impl Transport {
    /// The configured transport, with the SMTP password read now.
    pub fn from_config(config: &EmailConfig) -> anyhow::Result<Transport> {
        Ok(match &config.transport {
            EmailTransport::File { dir } => Transport::File { dir: dir.clone() },
            EmailTransport::Smtp(s) => Transport::Smtp(Box::new(sender_from_config(s)?)),
        })
    }

    /// Hand `message` over once. `file_name` is the queued email's stable file name
    /// ([`eml_name`]), used by the file transport.
    pub async fn deliver(&self, message: &lettre::Message, file_name: &str) -> Outcome {
        match self {
            Transport::File { dir } => match write_file(dir, file_name, message) {
                Ok(_) => Outcome::Sent,
                Err(e) => Outcome::Transient(format!("{e:#}")),
            },
            Transport::Smtp(sender) => match sender.send(message).await {
                Ok(()) => Outcome::Sent,
                Err(SendError::Transient(e)) => Outcome::Transient(e),
                Err(SendError::Permanent(e)) => Outcome::Permanent(e),
            },
        }
    }
}

/// The Message-ID of a queued email: stable across retries, so receivers can dedupe the one
/// message a crash between hand-over and bookkeeping may send twice.
pub fn message_id(id: i64, dedupe_key: &str) -> String {
    let h = hex::encode(sha2::Sha256::digest(dedupe_key.as_bytes()));
    format!("{id}.{}@upkeep", &h[..16])
}

/// File name of a queued email's `.eml` in the file transport's directory.
pub fn eml_name(id: i64, server: &str, reason: &str) -> String {
    format!("{id:06}-{server}-{reason}.eml")
}

fn write_file(dir: &Path, name: &str, message: &lettre::Message) -> anyhow::Result<PathBuf> {
    crate::files::create_private_dir_all(dir)
        .with_context(|| format!("creating outbox directory {}", dir.display()))?;
    let path = dir.join(name);
    let tmp = path.with_extension("eml.tmp");
    crate::files::write_private(&tmp, &message.formatted())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path)
        .with_context(|| format!("moving {} into place", path.display()))?;
    Ok(path)
}

/// The SMTP sender of the configured relay, with its password read now.
pub fn sender_from_config(c: &SmtpConfig) -> anyhow::Result<SmtpSender> {
    let password = c.password.resolve().context("SMTP password")?;
    SmtpSender::new(&SmtpSettings {
        host: c.host.clone(),
        port: c.port,
        tls: match c.tls {
            SmtpTls::None => TlsMode::None,
            SmtpTls::Starttls => TlsMode::Starttls,
            SmtpTls::Tls => TlsMode::Tls,
        },
        username: c.username.clone(),
        password,
        timeout: c.timeout,
        ca_file: c.ca_file.clone(),
        hello_name: None,
    })
}

/// How long attempt `attempt` of queued email `id` waits after a transient failure:
/// exponential, with jitter spread by row (repeatable for one row, different across rows).
pub fn retry_delay(attempt: u32, id: i64) -> Duration {
    let jitter = 0.5 + (id.unsigned_abs() * 7919 % 1000) as f64 / 2000.0;
    super::smtp::retry_delay(attempt, BASE_BACKOFF, MAX_BACKOFF, jitter)
}
