//! `[service]`: what `upkeep serve` listens on, its endpoints' secrets, how many servers it
//! syncs at once, and how long it waits for them.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::diag::Diagnostics;
use super::raw::S;
use super::secrets::{SecretRef, secret_ref};
use super::values;

const DEFAULT_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 9187);

/// `[service] max-rate-limit-wait` when unset: ten minutes, the default `server-timeout`. A GitHub
/// secondary rate limit backs off 1, 2 and 4 minutes within it.
pub const DEFAULT_MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawService {
    pub listen: Option<S<String>>,
    pub sync_token_env: Option<S<String>>,
    pub webhook_secret_env: Option<S<String>>,
    pub concurrency: Option<S<i64>>,
    pub per_host_concurrency: Option<S<i64>>,
    pub server_timeout: Option<S<String>>,
    pub grace_period: Option<S<String>>,
    pub max_rate_limit_wait: Option<S<String>>,
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
    /// Servers synced at once against one upstream host.
    pub per_host_concurrency: usize,
    /// A server taking longer than this is abandoned and reported failed.
    pub server_timeout: Duration,
    /// On SIGTERM, how long in-flight servers may take to finish.
    pub grace_period: Duration,
    /// The most one run waits for rate limits, all its requests together; past it a
    /// rate-limited request fails its server at once (the others go on).
    pub max_rate_limit_wait: Duration,
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
            4,
        ),
        per_host_concurrency: values::positive(
            d,
            s.per_host_concurrency.as_ref(),
            "`per-host-concurrency` must be a positive number",
            2,
        ),
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
        max_rate_limit_wait: values::duration(
            d,
            s.max_rate_limit_wait.as_ref(),
            "max-rate-limit-wait",
            DEFAULT_MAX_RATE_LIMIT_WAIT,
        ),
    }
}
