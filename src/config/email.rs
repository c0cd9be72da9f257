//! `[email]`: the sender, the transport (a directory of `.eml` files or an SMTP relay), alerts,
//! reminders and digests.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::diag::Diagnostics;
use super::raw::S;
use super::schedule::parse_cron;
use super::secrets::{SecretRef, secret_ref};
use super::urls::{Endpoint, insecure, is_loopback_host};
use super::values;

const DEFAULT_DIGEST_CRON: &str = "0 8 * * *";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawEmail {
    pub from: Option<S<String>>,
    pub transport: Option<S<String>>,
    pub dir: Option<S<String>>,
    pub host: Option<S<String>>,
    pub port: Option<S<i64>>,
    pub tls: Option<S<String>>,
    pub username: Option<S<String>>,
    pub password_env: Option<S<String>>,
    pub password_file: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub ca_file: Option<S<String>>,
    pub failing_runs_alert: Option<S<i64>>,
    pub review_sla: Option<S<String>>,
    pub escalation: Option<S<String>>,
    pub digest: Option<S<RawDigest>>,
    /// Accept `tls = "none"` although a password is sent.
    pub allow_insecure: Option<S<bool>>,
    /// Chat destinations every server's messages also go to (validated in `chat`).
    pub chat: Option<super::chat::RawChatList>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawDigest {
    pub owners: Option<S<Vec<S<String>>>>,
    pub cron: Option<S<String>>,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub from: String,
    pub transport: EmailTransport,
    /// Email the owners after this many failed runs in a row of one server.
    pub failing_runs_alert: u32,
    /// Remind owners when a held rebuild waits longer than this.
    pub review_sla: Duration,
    /// Copied on reminders.
    pub escalation: Option<String>,
    /// Owners who get one digest email per period instead of one email per event.
    pub digest: Option<DigestConfig>,
    /// Chat destinations: every message queued for email also goes to the server's ones.
    pub chat: super::chat::ChatConfig,
}

#[derive(Debug, Clone)]
pub struct DigestConfig {
    pub owners: Vec<String>,
    /// When digests go out (5-field crontab, in the schedule's timezone); default daily 08:00.
    pub expression: String,
    pub schedule: cron::Schedule,
}

#[derive(Debug, Clone)]
pub enum EmailTransport {
    /// One `.eml` file per message in `dir`.
    File {
        dir: PathBuf,
    },
    Smtp(SmtpConfig),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

/// How long one chat webhook POST may take, connection to answer (`notify::chat` holds it
/// to this).
pub const CHAT_POST_TIMEOUT: Duration = Duration::from_secs(30);

impl EmailConfig {
    /// The longest one delivery attempt of an outbox row may take: the SMTP `timeout`, which
    /// bounds a whole send (connect, TLS, login, message), or a chat POST's
    /// [`CHAT_POST_TIMEOUT`] when chat destinations are configured. The file transport is a
    /// local write with no bound of its own; rewriting the same file twice is harmless.
    pub fn delivery_bound(&self) -> Duration {
        let email = match &self.transport {
            EmailTransport::Smtp(smtp) => smtp.timeout,
            EmailTransport::File { .. } => Duration::ZERO,
        };
        if self.chat.destinations.is_empty() {
            email
        } else {
            email.max(CHAT_POST_TIMEOUT)
        }
    }
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: SecretRef,
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
}

pub fn validate(raw: Option<RawEmail>, d: &mut Diagnostics<'_>) -> EmailConfig {
    let e = raw.unwrap_or_default();
    EmailConfig {
        from: e.from.as_ref().map_or_else(
            || "upkeep@localhost".to_string(),
            |f| values::email(d, f, "`from`:"),
        ),
        transport: transport(&e, d),
        failing_runs_alert: values::positive(
            d,
            e.failing_runs_alert.as_ref(),
            "`failing-runs-alert` must be a positive number of runs",
            3,
        ),
        review_sla: values::duration(
            d,
            e.review_sla.as_ref(),
            "review-sla",
            Duration::from_secs(7 * 86_400),
        ),
        escalation: e
            .escalation
            .as_ref()
            .map(|x| values::email(d, x, "`escalation`:")),
        digest: e.digest.as_ref().map(|dg| digest(dg.get_ref(), d)),
        // Filled by `chat::validate`, which needs every section's lists.
        chat: super::chat::ChatConfig::default(),
    }
}

fn transport(e: &RawEmail, d: &mut Diagnostics<'_>) -> EmailTransport {
    let name = e
        .transport
        .as_ref()
        .map_or("file", |t| t.get_ref().as_str());
    match name {
        "file" => EmailTransport::File {
            dir: e.dir.as_ref().map_or_else(
                || PathBuf::from("var/outbox"),
                |p| PathBuf::from(p.get_ref()),
            ),
        },
        "smtp" => EmailTransport::Smtp(smtp(e, d)),
        other => {
            d.at(
                e.transport.as_ref().map(S::span),
                "invalid-value",
                format!("`transport`: `{other}` is not one of \"file\", \"smtp\""),
            );
            EmailTransport::File {
                dir: PathBuf::from("var/outbox"),
            }
        }
    }
}

fn smtp(e: &RawEmail, d: &mut Diagnostics<'_>) -> SmtpConfig {
    let host = e
        .host
        .as_ref()
        .map(|h| h.get_ref().clone())
        .unwrap_or_else(|| {
            d.at(
                e.transport.as_ref().map(S::span),
                "missing-key",
                "transport = \"smtp\" needs `host`",
            );
            String::new()
        });
    let tls = match e.tls.as_ref().map(|t| (t.get_ref().as_str(), t.span())) {
        None | Some(("starttls", _)) => SmtpTls::Starttls,
        Some(("none", _)) => SmtpTls::None,
        Some(("tls", _)) => SmtpTls::Tls,
        Some((other, span)) => {
            d.at(
                Some(span),
                "invalid-value",
                format!("`tls`: `{other}` is not one of \"none\", \"starttls\", \"tls\""),
            );
            SmtpTls::Starttls
        }
    };
    let default_port = match tls {
        SmtpTls::Tls => 465,
        SmtpTls::Starttls => 587,
        SmtpTls::None => 25,
    };
    let port = e.port.as_ref().map_or(default_port, |p| {
        u16::try_from(*p.get_ref())
            .ok()
            .filter(|p| *p > 0)
            .unwrap_or_else(|| {
                d.at(
                    Some(p.span()),
                    "invalid-value",
                    format!("`port`: {} is not a TCP port", p.get_ref()),
                );
                default_port
            })
    });
    let password = secret_ref(
        d,
        e.password_env.as_ref(),
        e.password_file.as_ref(),
        "password",
    );
    if password != SecretRef::None && e.username.is_none() {
        d.at(
            e.password_env
                .as_ref()
                .or(e.password_file.as_ref())
                .map(S::span),
            "missing-key",
            "a password is set but `username` is not",
        );
    }
    if let Some(t) = e.tls.as_ref()
        && tls == SmtpTls::None
        && password != SecretRef::None
        && !is_loopback_host(&host)
    {
        let at = Endpoint {
            who: "",
            key: "tls",
            secret: &password,
            allow_insecure: e.allow_insecure.as_ref(),
        };
        insecure(
            d,
            t,
            &at,
            "the SMTP password would cross the network unencrypted",
        );
    }
    SmtpConfig {
        host,
        port,
        tls,
        username: e.username.as_ref().map(|u| u.get_ref().clone()),
        password,
        timeout: values::duration(d, e.timeout.as_ref(), "timeout", Duration::from_secs(30)),
        ca_file: e.ca_file.as_ref().map(|p| PathBuf::from(p.get_ref())),
    }
}

fn digest(dg: &RawDigest, d: &mut Diagnostics<'_>) -> DigestConfig {
    let owners = dg
        .owners
        .as_ref()
        .map(|l| {
            l.get_ref()
                .iter()
                .map(|o| values::email(d, o, "digest owner"))
                .collect()
        })
        .unwrap_or_default();
    let expression = dg
        .cron
        .as_ref()
        .map_or_else(|| DEFAULT_DIGEST_CRON.to_string(), |c| c.get_ref().clone());
    let schedule = parse_cron(&expression).unwrap_or_else(|msg| {
        d.at(
            dg.cron.as_ref().map(S::span),
            "invalid-cron",
            format!("digest: {msg}"),
        );
        parse_cron(DEFAULT_DIGEST_CRON).expect("the default digest schedule parses")
    });
    DigestConfig {
        owners,
        expression,
        schedule,
    }
}
