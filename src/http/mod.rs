//! The one HTTP layer: every outbound HTTP call (forges, release channels, and later
//! advisories, chat webhooks, smart-HTTP ref advertisements) goes through an [`HttpClient`].
//!
//! Owns: TLS setup (rustls with the ring provider), timeouts, the user agent, the retry loop
//! (5xx and network errors with exponential backoff and jitter; 429 and rate-limit 403s waited
//! out per `Retry-After` or the rate-limit reset, up to a cap), response size caps, the mapping of
//! statuses to [`Error`] kinds, an optional ETag cache for conditional GETs, and per-host request
//! metrics. The pure decisions (backoff, rate-limit reading, URL and body display) are in
//! [`policy`].
//!
//! One [`Pool`] (reqwest's blocking client: connections, TLS sessions, its I/O thread) is built
//! once by the composition root ([`crate::deps`]) and shared. An [`HttpClient`] made from it
//! holds only what one use needs: the retry policy, the credential, default headers and the
//! scrubbing of that credential from messages.
//!
//! It never logs or returns a credential: the auth header is marked sensitive, URLs in messages
//! lose any userinfo, and every error message is scrubbed of the token before it leaves.
//! It knows nothing about any forge's or registry's API shapes, and imports no other adapter.

mod budget;
mod client;
mod host_limit;
pub mod policy;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex, Once};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::secret::Secret;

pub use budget::WaitBudget;
pub use client::HttpClient;
pub use host_limit::HostLimit;
pub use policy::{
    Budget, RateLimit, backoff_delay, build_url, display_url, parse_link_next, parse_retry_after,
    rate_limit_budget, rate_limit_wait, truncate_body,
};

/// What a remote call failed on, for the callers that branch on it. The forges use the same
/// kinds ([`crate::forge::ForgeError`]), the local git forge included.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404 or a missing branch/file/PR.
    #[error("not found: {0}")]
    NotFound(String),
    /// 409/422: the ref moved under us, the PR already exists, ...
    #[error("conflict: {0}")]
    Conflict(String),
    /// 401/403 (not rate limiting): the token is missing, wrong or cannot write.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 429 or a rate-limit 403 that outlasted our retries, asked for a wait over the per-wait
    /// cap, or found the run's waiting budget ([`WaitBudget`]) spent.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// A request that changes something (POST, PATCH, PUT, DELETE) timed out, lost its
    /// connection after it was sent, or got a 5xx: it may have been applied. The HTTP layer does
    /// not resend it; the caller re-reads what it meant to change and resends only if it did not
    /// happen.
    #[error("may have been applied: {0}")]
    MaybeApplied(String),
    /// The service refused a feature this repository or plan does not offer (GitHub: draft pull
    /// requests). The caller may retry without it.
    #[error("not supported here: {0}")]
    Unsupported(String),
    /// A response body over the client's size cap ([`HttpClient::with_body_limit`]): a wrong
    /// URL or a hostile server. Never retried.
    #[error("too large: {0}")]
    TooLarge(String),
    /// Anything else, with the response body or the git error in the message.
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Timeouts, retry and rate-limit policy of one client.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Total time for one attempt (connect, send, read the body).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries after the first attempt, for 5xx, network errors and rate limits alike.
    pub max_retries: u32,
    /// First backoff delay; doubles per retry, plus up to 50% jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A rate-limit wait longer than this fails at once with [`Error::RateLimited`]. (All waits
    /// of a run together are capped by the pool's [`WaitBudget`].)
    pub max_rate_limit_wait: Duration,
    /// The first wait for a secondary rate limit without `Retry-After`: GitHub asks for at least
    /// one minute, doubling while it keeps failing. Tests set it tiny.
    pub secondary_min_wait: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_rate_limit_wait: Duration::from_secs(300),
            secondary_min_wait: Duration::from_secs(60),
        }
    }
}

/// How the client authenticates. The secret is only ever put into a sensitive header.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `Authorization: Bearer <token>` (GitHub).
    Bearer(Secret),
    /// `Authorization: Basic base64(user:password)` (Azure DevOps PATs use an empty user).
    Basic { user: String, password: Secret },
}

impl Auth {
    fn header_value(&self) -> anyhow::Result<HeaderValue> {
        use base64::Engine as _;
        let raw = match self {
            Auth::Bearer(token) => format!("Bearer {}", token.expose()),
            Auth::Basic { user, password } => {
                let pair = format!("{user}:{}", password.expose());
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
        };
        let mut value = HeaderValue::from_str(&raw).map_err(|_| {
            anyhow::anyhow!("the token contains characters not allowed in a header")
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Every form in which the secret could show up in a message (raw and as sent).
    fn secret_forms(&self) -> Vec<Secret> {
        let mut forms = Vec::new();
        match self {
            Auth::Bearer(token) => forms.push(token.expose().to_string()),
            Auth::Basic { user, password } => {
                use base64::Engine as _;
                forms.push(password.expose().to_string());
                forms.push(
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{user}:{}", password.expose())),
                );
            }
        }
        forms.retain(|f| !f.is_empty());
        forms.into_iter().map(Secret::new).collect()
    }
}

/// A request that can be sent more than once (the body is kept as bytes for retries).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<Vec<u8>>,
    /// Whether sending it twice is harmless, so a timeout or a 5xx may be retried blindly.
    /// True for GET, HEAD and OPTIONS; a POST that only reads (a query) may say so with
    /// [`Request::resend_safe`]. Otherwise such failures are [`Error::MaybeApplied`].
    pub resend_safe: bool,
}

impl Request {
    pub fn new(method: Method, url: Url) -> Self {
        let resend_safe = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        Self {
            method,
            url,
            headers: Vec::new(),
            body: None,
            resend_safe,
        }
    }

    /// Marks a request that changes nothing (a POST query) as safe to resend after a timeout.
    #[must_use]
    pub fn resend_safe(mut self) -> Self {
        self.resend_safe = true;
        self
    }

    pub fn get(url: Url) -> Self {
        Self::new(Method::GET, url)
    }

    /// Sets a JSON body (and its content type).
    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self.headers
            .push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// A response read in full, with what is needed to describe it in an error.
#[derive(Debug, Clone)]
pub struct Response {
    pub method: Method,
    /// The request URL without credentials.
    pub url: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    /// Decodes the body as JSON; a body that does not decode is an [`Error::Other`].
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Other(format!(
                "{} {}: unexpected response body ({e}): {}",
                self.method,
                self.url,
                truncate_body(&self.body)
            ))
        })
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Request counts and rate-limit waits of one host.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HostMetrics {
    /// Responses by status code; `"network-error"` for attempts that got no response.
    pub requests_by_status: BTreeMap<String, u64>,
    /// Attempts repeated after a 5xx or a network error.
    pub retries: u64,
    pub rate_limit_waits: u64,
    pub rate_limit_wait_ms: u64,
    /// The rate-limit budget the host's last answer reported (`x-ratelimit-remaining`), if any.
    pub rate_limit_remaining: Option<u64>,
    /// When that budget resets, in UTC epoch seconds (`x-ratelimit-reset`), if reported.
    pub rate_limit_reset: Option<u64>,
}

/// Per-host HTTP metrics, shared by every client that records into it.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    hosts: Mutex<BTreeMap<String, HostMetrics>>,
}

impl HttpMetrics {
    /// A copy of the counters, keyed by host (with port when not the default).
    pub fn snapshot(&self) -> BTreeMap<String, HostMetrics> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, HostMetrics>> {
        // A panic while holding the lock leaves counters that are still fine to read.
        self.hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn update(&self, host: &str, f: impl FnOnce(&mut HostMetrics)) {
        f(self.lock().entry(host.to_string()).or_default());
    }
}

static GLOBAL_METRICS: LazyLock<Arc<HttpMetrics>> = LazyLock::new(Arc::default);

/// The process-wide metrics every client records into unless given its own (for `/metrics`).
pub fn global_metrics() -> Arc<HttpMetrics> {
    Arc::clone(&GLOBAL_METRICS)
}

/// Where conditional GETs keep the last `ETag` and body seen per URL: [`EtagCache`] in memory
/// for the life of the process, or a persisted one (the state's HTTP cache, which the pipeline
/// lends), so an unchanged answer costs a `304` from one run to the next. The body is opaque to
/// the cache: a caller may store what it needs to replay an answer, not only the raw response.
pub trait ConditionalCache: Send + Sync {
    /// The ETag and body last stored for `url`.
    fn get(&self, url: &str) -> Option<(String, Vec<u8>)>;
    /// Replaces the entry for `url`.
    fn put(&self, url: &str, etag: &str, body: &[u8]);
}

/// Remembers ETags and bodies so a repeated GET can be a conditional one.
#[derive(Debug, Default)]
pub struct EtagCache {
    entries: Mutex<HashMap<String, (String, Vec<u8>)>>,
}

impl EtagCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The ETag and body stored for `url`.
    pub fn get(&self, url: &str) -> Option<(String, Vec<u8>)> {
        self.lock().get(url).cloned()
    }

    pub fn put(&self, url: &str, etag: String, body: Vec<u8>) {
        self.lock().insert(url.to_string(), (etag, body));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Vec<u8>)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ConditionalCache for EtagCache {
    fn get(&self, url: &str) -> Option<(String, Vec<u8>)> {
        EtagCache::get(self, url)
    }

    fn put(&self, url: &str, etag: &str, body: &[u8]) {
        EtagCache::put(self, url, etag.to_string(), body.to_vec());
    }
}

/// The body of a conditional GET and whether it came from the cache (304).
#[derive(Debug, Clone)]
pub struct CachedBody {
    pub body: Vec<u8>,
    pub not_modified: bool,
}

/// Installs ring as the process-wide rustls provider (once; "already installed" is fine).
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already the default, which is all we need.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The process's one connection pool: reqwest's blocking client (TLS with the ring provider, the
/// user agent, the connect timeout, its I/O thread). Cheap to clone (it is an `Arc` inside).
///
/// Built once by the composition root and carried in [`crate::deps::Deps`]; every forge and
/// channel client is made from it with [`Pool::client`], so a run of thousands of servers opens
/// one pool, not one per server.
#[derive(Debug, Clone)]
pub struct Pool {
    inner: reqwest::blocking::Client,
    /// The run's ceiling on rate-limit waiting, shared by every client of the pool.
    budget: WaitBudget,
    /// Requests in flight per host through [`HttpClient`]s of this pool (REST APIs).
    api_limit: Arc<HostLimit>,
}

impl Pool {
    /// Builds the pool. Safe to call from async code: reqwest refuses to build its blocking
    /// client on a thread inside a tokio runtime, so it is built on a short-lived thread.
    pub fn new(connect_timeout: Duration) -> anyhow::Result<Pool> {
        install_crypto_provider();
        let build = move || {
            reqwest::blocking::Client::builder()
                .user_agent(concat!("upkeep/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(connect_timeout)
                .build()
                .map_err(|e| {
                    anyhow::anyhow!("building the HTTP client: {}", policy::error_chain(&e))
                })
        };
        let inner = std::thread::spawn(build)
            .join()
            .map_err(|_| anyhow::anyhow!("building the HTTP client: the builder panicked"))??;
        Ok(Pool {
            inner,
            budget: WaitBudget::default(),
            api_limit: Arc::new(HostLimit::new(usize::MAX)),
        })
    }

    /// The rate-limit waiting budget every client of this pool draws from; a run resets it to
    /// `[service] max-rate-limit-wait` when it starts.
    pub fn wait_budget(&self) -> &WaitBudget {
        &self.budget
    }

    /// This pool with at most `per_host` requests in flight to one host through its
    /// [`HttpClient`]s (`[service.per-host-concurrency] api`); clones share the count.
    #[must_use]
    pub fn with_api_limit(mut self, per_host: usize) -> Pool {
        self.api_limit = Arc::new(HostLimit::new(per_host));
        self
    }

    /// The underlying client, for protocols that are not REST calls (git's smart HTTP): it
    /// shares this pool's connections, TLS settings and proxy, not its per-host API limit.
    pub fn reqwest_client(&self) -> reqwest::blocking::Client {
        self.inner.clone()
    }

    /// A client on this pool with its own policy and credential.
    pub fn client(&self, settings: HttpSettings, auth: Option<Auth>) -> anyhow::Result<HttpClient> {
        HttpClient::on(self, settings, auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_client_builds_with_the_ring_provider() {
        let client = HttpClient::new(
            HttpSettings::default(),
            Some(Auth::Bearer(Secret::new("t"))),
        );
        assert!(client.is_ok(), "{:?}", client.err());
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }

    #[test]
    fn auth_header_is_sensitive_and_redacted_in_debug() {
        let value = Auth::Bearer(Secret::new("canary-123"))
            .header_value()
            .unwrap();
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("canary-123"));
        let basic = Auth::Basic {
            user: String::new(),
            password: Secret::new("pat"),
        };
        assert_eq!(
            basic.header_value().unwrap().to_str().unwrap(),
            "Basic OnBhdA=="
        );
    }

    #[test]
    fn debug_of_a_client_never_shows_the_token() {
        for auth in [
            Auth::Bearer(Secret::new("canary-123")),
            Auth::Basic {
                user: String::new(),
                password: Secret::new("canary-123"),
            },
        ] {
            let client = HttpClient::new(HttpSettings::default(), Some(auth)).unwrap();
            let debug = format!("{client:?}");
            assert!(
                !debug.contains("canary-123") && !debug.contains("OmNhbmFyeS0xMjM="),
                "{debug}"
            );
        }
    }

    #[test]
    fn scrub_removes_raw_and_encoded_secrets() {
        let client = HttpClient::new(
            HttpSettings::default(),
            Some(Auth::Basic {
                user: String::new(),
                password: Secret::new("pat"),
            }),
        )
        .unwrap();
        assert_eq!(
            client.scrub("a pat and OnBhdA== here"),
            "a <redacted> and <redacted> here"
        );
    }

    #[test]
    fn etag_cache_round_trip() {
        let cache = EtagCache::new();
        assert!(cache.get("u").is_none());
        cache.put("u", "\"e1\"".into(), b"body".to_vec());
        assert_eq!(
            cache.get("u"),
            Some(("\"e1\"".to_string(), b"body".to_vec()))
        );
    }
}
