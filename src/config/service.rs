//! `[service]`: what `upkeep serve` listens on, its endpoints' secrets and who may read its
//! status, the limits of its HTTP surface, how many servers it syncs at once (in all and per
//! host, by transport), and how long it waits for them.
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

/// `[service] max-rate-limit-wait` when unset: ten minutes, the default `server-timeout`. A GitHub
/// secondary rate limit backs off 1, 2 and 4 minutes within it.
pub const DEFAULT_MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawService {
    pub listen: Option<S<String>>,
    pub sync_token_env: Option<S<String>>,
    pub webhook_secret_env: Option<S<String>>,
    pub read_token_env: Option<S<String>>,
    pub read_token_file: Option<S<String>>,
    pub read_access: Option<S<String>>,
    pub allowed_hosts: Option<S<Vec<S<String>>>>,
    pub max_connections: Option<S<i64>>,
    pub max_event_subscribers: Option<S<i64>>,
    pub request_timeout: Option<S<String>>,
    pub concurrency: Option<S<i64>>,
    /// An integer (both transports) or a table `{ git = N, api = M }`: read by hand, because a
    /// spanned value cannot sit inside an untagged enum.
    pub per_host_concurrency: Option<S<toml::Value>>,
    pub server_timeout: Option<S<String>>,
    pub grace_period: Option<S<String>>,
    pub max_rate_limit_wait: Option<S<String>>,
    pub approvals_token_env: Option<S<String>>,
    pub dashboard: Option<S<String>>,
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub listen: SocketAddr,
    /// Bearer token for `POST /sync` (none: the endpoint refuses every request).
    pub sync_token: SecretRef,
    /// HMAC secret of GitHub webhooks (none: the endpoint refuses every request).
    pub webhook_secret: SecretRef,
    /// Who may read `/status`, `/events` and the pages that show the same.
    pub read_access: ReadAccess,
    /// Host names accepted in the `Host` header besides `localhost` and IP addresses (a
    /// browser tricked by DNS rebinding sends the attacker's name).
    pub allowed_hosts: Vec<String>,
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// `/events` streams open at once; more are answered 503.
    pub max_event_subscribers: usize,
    /// How long a client may take to send a request's headers, and then its body.
    pub request_timeout: Duration,
    /// Servers synced at once.
    pub concurrency: usize,
    /// Per-host limits, by transport.
    pub per_host_concurrency: PerHostConcurrency,
    /// A server taking longer than this is abandoned and reported failed.
    pub server_timeout: Duration,
    /// On SIGTERM, how long in-flight servers may take to finish.
    pub grace_period: Duration,
    /// The most one run waits for rate limits, all its requests together; past it a
    /// rate-limited request fails its server at once (the others go on).
    pub max_rate_limit_wait: Duration,
    /// Bearer token for `POST /licenses/{server}/approve|decline` and
    /// `POST /mcp/{server}/approve|decline` (none: refused, 403).
    pub approvals_token: SecretRef,
    /// Who may read the dashboard pages (`/`, `/servers/{name}`, `/runs/{id}`).
    pub dashboard: DashboardAccess,
}

/// Who may read the dashboard pages (`[service] dashboard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DashboardAccess {
    /// The read token of `/status`: as a bearer token, or the session cookie `/login` sets.
    #[default]
    Token,
    /// Anyone who reaches the listen address: for loopback-only setups.
    Open,
}

/// Who may read the service's status (`/status`, `/events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadAccess {
    /// A bearer token, the default. With none configured, the endpoints refuse every request.
    Token(SecretRef),
    /// Anyone who reaches the listen address: for loopback-only setups.
    Open,
}

/// The shortest sync token, webhook secret or read token accepted: 32 characters, e.g. 128
/// random bits in hex (`openssl rand -hex 32` makes 64).
pub const MIN_SECRET_LEN: usize = 32;

/// Why a service secret's value is too weak to use, if it is.
pub fn weak_secret(value: &str) -> Option<String> {
    let n = value.chars().count();
    (n < MIN_SECRET_LEN).then(|| {
        format!(
            "is {n} characters long; use at least {MIN_SECRET_LEN} random ones \
             (e.g. `openssl rand -hex 32`)"
        )
    })
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
        sync_token: secret_ref(d, s.sync_token_env.as_ref(), None, "sync-token"),
        webhook_secret: secret_ref(d, s.webhook_secret_env.as_ref(), None, "webhook-secret"),
        read_access: read_access(&s, listen, d),
        allowed_hosts: values::strings(s.allowed_hosts.as_ref())
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        listen,
        max_connections: values::positive(
            d,
            s.max_connections.as_ref(),
            "`max-connections` must be a positive number",
            64,
        ),
        max_event_subscribers: values::positive(
            d,
            s.max_event_subscribers.as_ref(),
            "`max-event-subscribers` must be a positive number",
            16,
        ),
        request_timeout: values::duration(
            d,
            s.request_timeout.as_ref(),
            "request-timeout",
            Duration::from_secs(10),
        ),
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
        max_rate_limit_wait: values::duration(
            d,
            s.max_rate_limit_wait.as_ref(),
            "max-rate-limit-wait",
            DEFAULT_MAX_RATE_LIMIT_WAIT,
        ),
        approvals_token: secret_ref(d, s.approvals_token_env.as_ref(), None, "approvals-token"),
        dashboard: dashboard(&s, listen, d),
    }
}

/// `dashboard`: the read token by default; `open` only on loopback, like `read-access`.
fn dashboard(s: &RawService, listen: SocketAddr, d: &mut Diagnostics<'_>) -> DashboardAccess {
    let Some(value) = &s.dashboard else {
        return DashboardAccess::Token;
    };
    match value.get_ref().as_str() {
        "token" => DashboardAccess::Token,
        "open" => {
            if !listen.ip().is_loopback() {
                d.at(
                    Some(value.span()),
                    "open-dashboard",
                    format!(
                        "dashboard = \"open\" shows every server's state to anyone who reaches \
                         {listen}: use it only with a loopback `listen`, or keep the default \
                         \"token\" (the read token)"
                    ),
                );
            }
            DashboardAccess::Open
        }
        other => {
            d.at(
                Some(value.span()),
                "invalid-value",
                format!("`dashboard`: `{other}` is not one of \"token\", \"open\""),
            );
            DashboardAccess::Token
        }
    }
}

/// `read-access` and the read token: a token by default; `open` only on loopback.
fn read_access(s: &RawService, listen: SocketAddr, d: &mut Diagnostics<'_>) -> ReadAccess {
    let token = secret_ref(
        d,
        s.read_token_env.as_ref(),
        s.read_token_file.as_ref(),
        "read-token",
    );
    match s
        .read_access
        .as_ref()
        .map(|a| (a.get_ref().as_str(), a.span()))
    {
        None | Some(("token", _)) => ReadAccess::Token(token),
        Some(("open", span)) => {
            if !listen.ip().is_loopback() {
                d.at(
                    Some(span),
                    "open-read-access",
                    format!(
                        "read-access = \"open\" shows /status and /events to anyone who reaches \
                         {listen}: use it only with a loopback `listen`, or name a token with \
                         `read-token-env`"
                    ),
                );
            } else if token != SecretRef::None {
                d.at(
                    Some(span),
                    "conflicting-keys",
                    "set either read-access = \"open\" or a read token, not both",
                );
            }
            ReadAccess::Open
        }
        Some((other, span)) => {
            d.at(
                Some(span),
                "invalid-value",
                format!("`read-access`: `{other}` is not one of \"token\", \"open\""),
            );
            ReadAccess::Token(token)
        }
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
