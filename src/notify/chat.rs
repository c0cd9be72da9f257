//! Delivering one chat message: one POST of a rendered card to a destination's incoming
//! webhook (Teams or Slack), and what the answer means for the outbox.
//!
//! The webhook URL is a credential: it is read from its environment variable or file for each
//! delivery, goes into the request and nowhere else. Errors never carry it (reqwest's error
//! drops the URL, and every message is scrubbed of it besides), and the service's answer kept
//! on the outbox row is cut to [`ANSWER_CHARS`] with its control characters escaped.
//!
//! One attempt per call: the outbox owns retries, so a wait survives restarts. 2xx is sent
//! (Slack answers `200 ok`, Teams `200 1` or, for Workflows webhooks, `202`); 429 and 5xx are
//! retried later (and 408), after `Retry-After` when the service sends one; any other status is failed
//! with the answer (Slack's `400 invalid_payload`, `403 action_prohibited`, `404
//! no_service`, `410 channel_is_archived`: none of them gets better by waiting). A request
//! that times out after it was sent may have been delivered: it is retried, and that, with a
//! crash between the POST and the outbox's `sent`, is the at-least-once window of chat.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::transport::Outcome;
use crate::config::{ChatConfig, ChatDestination, ChatKind};
use crate::secret::Secret;

/// One POST: connect, send, answer (the outbox's claim on a row outlives it: see
/// [`crate::config::EmailConfig::delivery_bound`]).
const TIMEOUT: Duration = crate::config::CHAT_POST_TIMEOUT;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `Retry-After` honoured; a longer one waits this long (the outbox tries again).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);
/// Characters of a service's answer kept on the outbox row.
pub const ANSWER_CHARS: usize = 300;
/// Bytes of an answer read at most (webhook answers are a word or a small JSON document).
const ANSWER_BYTES: u64 = 16 * 1024;

/// Posts to the configured destinations. Made once per drain that has chat rows.
pub struct ChatSender {
    client: reqwest::blocking::Client,
    destinations: BTreeMap<String, ChatDestination>,
}

impl ChatSender {
    pub fn from_config(config: &ChatConfig) -> anyhow::Result<Arc<ChatSender>> {
        let client = crate::http::Pool::new(CONNECT_TIMEOUT)?.reqwest_client();
        Ok(Arc::new(ChatSender {
            client,
            destinations: config.destinations.clone(),
        }))
    }

    /// The kind of a configured destination (None: not configured, or no longer).
    pub fn kind(&self, destination: &str) -> Option<ChatKind> {
        self.destinations.get(destination).map(|d| d.kind)
    }

    /// POST `payload` to `destination` once (on the blocking pool).
    pub async fn deliver(
        self: &Arc<Self>,
        destination: &str,
        payload: serde_json::Value,
    ) -> Outcome {
        let this = Arc::clone(self);
        let name = destination.to_string();
        tokio::task::spawn_blocking(move || this.deliver_blocking(&name, &payload))
            .await
            .unwrap_or_else(|e| Outcome::Transient(format!("the chat delivery panicked: {e}")))
    }

    fn deliver_blocking(&self, destination: &str, payload: &serde_json::Value) -> Outcome {
        let Some(dest) = self.destinations.get(destination) else {
            return Outcome::Permanent(format!(
                "chat destination `{destination}` is not configured (any more)"
            ));
        };
        let url = match webhook_url(dest) {
            Ok(url) => url,
            // The environment or file may be fixed before the next attempt.
            Err(e) => return Outcome::Transient(e),
        };
        let scrub = |text: String| text.replace(url.expose(), "<webhook URL>");
        let response = self
            .client
            .post(url.expose())
            .timeout(TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(payload.to_string())
            .send();
        match response {
            Ok(r) => {
                let status = r.status().as_u16();
                let retry_after = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let mut body = Vec::new();
                let _ = std::io::Read::read_to_end(
                    &mut std::io::Read::take(r, ANSWER_BYTES),
                    &mut body,
                );
                match classify(status, retry_after.as_deref(), &body) {
                    Outcome::Sent => Outcome::Sent,
                    Outcome::Transient(e) => Outcome::Transient(scrub(e)),
                    Outcome::Later(e, wait) => Outcome::Later(scrub(e), wait),
                    Outcome::Permanent(e) => Outcome::Permanent(scrub(e)),
                }
            }
            Err(e) => {
                let sent = !e.is_connect() && !e.is_builder();
                let cause = crate::http::policy::error_chain(&e.without_url());
                let cause = scrub(cause);
                Outcome::Transient(if sent {
                    format!("{cause} (it may have been delivered)")
                } else {
                    format!("{cause} (not sent)")
                })
            }
        }
    }
}

/// The destination's webhook URL, read now and checked: https, or http to loopback, or http
/// with `allow-insecure = true`. The error never shows the URL.
pub fn webhook_url(dest: &ChatDestination) -> Result<Secret, String> {
    let what = format!("chat destination `{}`", dest.name);
    let url = dest
        .webhook_url
        .resolve()
        .map_err(|e| format!("{what}: webhook URL: {e:#}"))?
        .ok_or_else(|| format!("{what}: no webhook URL is configured"))?;
    check_url(url.expose(), dest.allow_insecure).map_err(|e| format!("{what}: {e}"))?;
    Ok(url)
}

/// Whether a webhook URL may be used; the error never shows it.
pub fn check_url(url: &str, allow_insecure: bool) -> Result<(), String> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Err("the webhook URL is not a URL".into());
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure || crate::config::is_loopback_url(&parsed) => Ok(()),
        "http" => Err(
            "the webhook URL is not https, so it and every message would cross the network \
             unencrypted: use its https form, or set `allow-insecure = true` on the destination \
             if the network is trusted"
                .into(),
        ),
        _ => Err("the webhook URL is not an http(s) URL".into()),
    }
}

/// What an answer means: sent, retry (after `Retry-After` when given), or failed for good.
pub fn classify(status: u16, retry_after: Option<&str>, body: &[u8]) -> Outcome {
    let said = || format!("HTTP {status}: {}", answer(body));
    match status {
        200..=299 => Outcome::Sent,
        408 | 429 | 500..=599 => {
            let wait = retry_after.and_then(|v| {
                crate::http::parse_retry_after(v.trim(), std::time::SystemTime::now())
            });
            match wait {
                Some(wait) => Outcome::Later(said(), wait.min(MAX_RETRY_AFTER)),
                None => Outcome::Transient(said()),
            }
        }
        _ => Outcome::Permanent(said()),
    }
}

/// A service's answer as kept on the outbox row: at most [`ANSWER_CHARS`] characters, control
/// characters escaped, "…" when cut.
pub fn answer(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(no answer)".into();
    }
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i >= ANSWER_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_outcomes() {
        let table: &[(u16, Option<&str>, &str, &str)] = &[
            (200, None, "ok", "sent"),
            (202, None, "", "sent"),
            (429, Some("30"), "rate_limited", "later 30"),
            (429, None, "rate_limited", "transient"),
            (503, Some("7"), "", "later 7"),
            (500, None, "rollup_error", "transient"),
            (400, Some("30"), "invalid_payload", "permanent"),
            (403, None, "action_prohibited", "permanent"),
            (404, None, "no_service", "permanent"),
            (410, None, "channel_is_archived", "permanent"),
            (429, Some("999999"), "", "later 21600"),
        ];
        for (status, retry_after, body, want) in table {
            let got = match classify(*status, *retry_after, body.as_bytes()) {
                Outcome::Sent => "sent".to_string(),
                Outcome::Later(e, wait) => {
                    assert!(e.contains(&status.to_string()), "{e}");
                    format!("later {}", wait.as_secs())
                }
                Outcome::Transient(_) => "transient".into(),
                Outcome::Permanent(e) => {
                    assert!(e.contains(body), "{e}");
                    "permanent".into()
                }
            };
            assert_eq!(&got, want, "{status} {retry_after:?}");
        }
    }

    #[test]
    fn answers_are_bounded_and_escaped() {
        let long = format!("bad\u{1b}[31m\r\n{}", "x".repeat(5000));
        let a = answer(long.as_bytes());
        assert!(a.starts_with("bad\\u{1b}[31m\\r\\nx"), "{a}");
        assert!(!a.chars().any(char::is_control));
        assert!(a.chars().count() <= ANSWER_CHARS + 20 && a.ends_with('…'));
        assert_eq!(answer(b"  "), "(no answer)");
    }

    #[test]
    fn only_https_or_loopback_or_allowed_http() {
        assert!(check_url("https://hooks.slack.com/services/T/B/x", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook", false).is_ok());
        assert!(check_url("http://localhost/hook", false).is_ok());
        assert!(check_url("http://chat.internal/hook", true).is_ok());
        let secret = "http://chat.internal/hook/SeCrEt";
        let e = check_url(secret, false).unwrap_err();
        assert!(e.contains("not https") && !e.contains("SeCrEt"), "{e}");
        assert!(check_url("ftp://x/y", true).is_err());
        assert!(
            !check_url("not a url SeCrEt", false)
                .unwrap_err()
                .contains("SeCrEt")
        );
    }
}
