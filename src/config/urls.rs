//! URLs the config names for HTTP services (forge APIs, registries): parsed, never carrying
//! credentials, and encrypted whenever a secret travels to them.
//!
//! Credentials written into a URL (`https://user:pass@host`) would sit in the config text, the
//! HTTP cache's keys and every message that names the URL: they are refused, with the
//! `token-env`/`token-file` keys to use instead. A plain `http://` URL that receives a token
//! sends it unencrypted: refused unless the entry says `allow-insecure = true` (then a
//! warning), except on loopback, where the token never leaves the machine.

use super::diag::Diagnostics;
use super::raw::S;
use super::secrets::SecretRef;
use crate::secret::redact_url;

/// Where a URL is and what goes to it, for the checks and their messages.
pub struct Endpoint<'a> {
    /// `server `x`: ` or empty, to start messages.
    pub who: &'a str,
    /// The key as written (`api-url`, `registry`, ...).
    pub key: &'a str,
    /// The secret sent to it (None: nothing to protect in transit).
    pub secret: &'a SecretRef,
    pub allow_insecure: Option<&'a S<bool>>,
}

/// The URL as written without a trailing `/` (`default` when absent), after the checks.
pub fn http_url(
    d: &mut Diagnostics<'_>,
    value: Option<&S<String>>,
    default: &str,
    at: &Endpoint<'_>,
) -> String {
    let Some(v) = value else {
        return default.to_string();
    };
    let raw = v.get_ref().trim_end_matches('/');
    let who = at.who;
    let key = at.key;
    let Ok(url) = reqwest::Url::parse(raw) else {
        d.at(
            Some(v.span()),
            "invalid-url",
            format!("{who}`{key}`: `{}` is not a URL", redact_url(raw)),
        );
        return raw.to_string();
    };
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        d.at(
            Some(v.span()),
            "invalid-url",
            format!("{who}`{key}`: `{}` is not an http(s) URL", redact_url(raw)),
        );
    }
    if !url.username().is_empty() || url.password().is_some() {
        d.at(
            Some(v.span()),
            "credentials-in-url",
            format!(
                "{who}`{key}` carries credentials (`{}` with a user and password): remove them \
                 and name the secret with `token-env` or `token-file` instead",
                redact_url(raw)
            ),
        );
    }
    let secret_sent = *at.secret != SecretRef::None;
    if url.scheme() == "http" && secret_sent && !is_loopback(&url) {
        insecure(d, v, at, "its token would cross the network unencrypted");
    }
    raw.to_string()
}

/// A plain-text transport that carries a secret: an error, or a warning with
/// `allow-insecure = true`.
pub fn insecure(d: &mut Diagnostics<'_>, at_value: &S<String>, at: &Endpoint<'_>, why: &str) {
    let who = at.who;
    let key = at.key;
    if at.allow_insecure.is_some_and(|a| *a.get_ref()) {
        d.warn(
            Some(at_value.span()),
            "insecure-url",
            format!("{who}`{key}` is not encrypted and {why} (allowed by `allow-insecure`)"),
        );
    } else {
        d.at(
            Some(at_value.span()),
            "insecure-url",
            format!(
                "{who}`{key}` is not encrypted and {why}: use https (or TLS), or set \
                 `allow-insecure = true` on this entry if the network is trusted"
            ),
        );
    }
}

/// Loopback hosts: a token sent there never leaves the machine.
pub fn is_loopback(url: &reqwest::Url) -> bool {
    is_loopback_host(url.host_str().unwrap_or_default())
}

/// `localhost`, 127.0.0.0/8 or `::1` (with or without brackets).
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
