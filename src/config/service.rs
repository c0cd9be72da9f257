//! `[service]`: what `upkeep serve` listens on, its endpoints' secrets, how many servers it
//! syncs at once (in all and per host, by transport), and how long it waits for them.
//!
//! The defaults come from `bench/RESULTS.md` ("Over a WAN"): with 50 ms between upkeep and an
//! upstream host, a quiet run is bound by round trips, not CPU, so it wants many servers in
//! flight; REST APIs (forges, release registries) ask clients to keep their concurrent requests
//! few, so they get their own, lower, per-host limit.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::diag::Diagnostics;
use super::raw::S;
use super::secrets::{SecretRef, secret_ref};
use super::values;

const DEFAULT_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 9187);

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawService {
    pub listen: Option<S<String>>,
    pub sync_token_env: Option<S<String>>,
    pub webhook_secret_env: Option<S<String>>,
    pub concurrency: Option<S<i64>>,
    /// An integer (both transports) or a table `{ git = N, api = M }`: read by hand, because a
    /// spanned value cannot sit inside an untagged enum.
    pub per_host_concurrency: Option<S<toml::Value>>,
    pub server_timeout: Option<S<String>>,
    pub grace_period: Option<S<String>>,
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub listen: SocketAddr,
    /// Bearer token for `POST /sync` (none: the endpoint refuses every request).
    pub sync_token: SecretRef,
    /// HMAC secret of GitHub webhooks (none: the endpoint refuses every request).
    pub webhook_secret: SecretRef,
    /// Servers synced at once.
    pub concurrency: usize,
    /// Per-host limits, by transport.
    pub per_host_concurrency: PerHostConcurrency,
    /// A server taking longer than this is abandoned and reported failed.
    pub server_timeout: Duration,
    /// On SIGTERM, how long in-flight servers may take to finish.
    pub grace_period: Duration,
}

/// Servers synced at once.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// How many at once against one host, by the transport that reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerHostConcurrency {
    /// Servers whose upstream is on one host synced at once: their ref advertisements and
    /// fetches (git smart protocol over HTTP(S), git:// or ssh).
    pub git: usize,
    /// Requests in flight to one REST API host at once (forges, release channels).
    pub api: usize,
}

impl Default for PerHostConcurrency {
    fn default() -> Self {
        Self { git: 16, api: 8 }
    }
}

pub fn validate(raw: Option<RawService>, d: &mut Diagnostics<'_>) -> ServiceConfig {
    let s = raw.unwrap_or_default();
    let listen = match &s.listen {
        None => SocketAddr::from(DEFAULT_LISTEN),
        Some(l) => l.get_ref().parse().unwrap_or_else(|_| {
            d.at(
                Some(l.span()),
                "invalid-listen",
                format!("`listen`: `{}` is not an address:port", l.get_ref()),
            );
            SocketAddr::from(DEFAULT_LISTEN)
        }),
    };
    ServiceConfig {
        listen,
        sync_token: secret_ref(d, s.sync_token_env.as_ref(), None, "sync-token"),
        webhook_secret: secret_ref(d, s.webhook_secret_env.as_ref(), None, "webhook-secret"),
        concurrency: values::positive(
            d,
            s.concurrency.as_ref(),
            "`concurrency` must be a positive number",
            DEFAULT_CONCURRENCY,
        ),
        per_host_concurrency: per_host(d, s.per_host_concurrency.as_ref()),
        server_timeout: values::duration(
            d,
            s.server_timeout.as_ref(),
            "server-timeout",
            Duration::from_secs(600),
        ),
        grace_period: values::duration(
            d,
            s.grace_period.as_ref(),
            "grace-period",
            Duration::from_secs(30),
        ),
    }
}

/// `per-host-concurrency`: an integer sets both transports (the form of earlier versions); a
/// table sets each (`git`, `api`), an absent key keeping its default. Every wrong part is reported.
fn per_host(d: &mut Diagnostics<'_>, value: Option<&S<toml::Value>>) -> PerHostConcurrency {
    let defaults = PerHostConcurrency::default();
    let Some(value) = value else {
        return defaults;
    };
    let span = value.span();
    let positive = |d: &mut Diagnostics<'_>, v: &toml::Value, key: &str, default: usize| match v
        .as_integer()
        .and_then(|n| usize::try_from(n).ok())
    {
        Some(n) if n > 0 => n,
        _ => {
            d.at(
                Some(span.clone()),
                "invalid-value",
                format!("`{key}` must be a positive number, not `{v}`"),
            );
            default
        }
    };
    match value.get_ref() {
        toml::Value::Table(table) => {
            let mut limits = defaults;
            for (key, v) in table {
                let full = format!("per-host-concurrency.{key}");
                match key.as_str() {
                    "git" => limits.git = positive(d, v, &full, defaults.git),
                    "api" => limits.api = positive(d, v, &full, defaults.api),
                    _ => d.at(
                        Some(span.clone()),
                        "unknown-key",
                        format!(
                            "`per-host-concurrency.{key}`: unknown key (expected `git` or `api`)"
                        ),
                    ),
                }
            }
            limits
        }
        v => {
            let n = positive(d, v, "per-host-concurrency", 0);
            if n == 0 {
                return defaults;
            }
            PerHostConcurrency { git: n, api: n }
        }
    }
}
