//! The shared blocking HTTP client of the forges (and, later, the release channels).
//!
//! Owns: TLS setup (rustls with the ring provider), timeouts, the user agent, the retry loop
//! (5xx and network errors with exponential backoff and jitter; 429 and rate-limit 403s waited
//! out per `Retry-After` or the rate-limit reset, up to a cap), the mapping of statuses to
//! [`ForgeError`], an optional ETag cache for conditional GETs, per-host request metrics,
//! gzip-compressed responses (decoded as they stream in) and an optional cap on body size that
//! is enforced while the body streams in (`read_body`).
//!
//! It never logs or returns a credential: the auth header is marked sensitive, URLs in messages
//! lose any userinfo, and every error message is scrubbed of the token before it leaves.
//! It knows nothing about any forge's API shapes.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, LazyLock, Mutex, Once};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, ETAG, HeaderMap, HeaderName, HeaderValue, IF_NONE_MATCH,
    RETRY_AFTER,
};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::{ForgeError, ForgeResult};
use crate::secret::Secret;

/// How much of a response body an error message keeps.
const ERROR_BODY_LIMIT: usize = 2048;

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
    /// A rate-limit wait longer than this fails at once with [`ForgeError::RateLimited`].
    pub max_rate_limit_wait: Duration,
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
}

impl Request {
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            body: None,
        }
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
    /// Decodes the body as JSON; a body that does not decode is an [`ForgeError::Other`].
    pub fn json<T: DeserializeOwned>(&self) -> ForgeResult<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ForgeError::Other(format!(
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

/// A blocking HTTP client with retries, rate-limit handling and metrics.
///
/// Build and use it on a blocking thread, never on a tokio worker thread.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::blocking::Client,
    settings: HttpSettings,
    /// Sensitive: its Debug form hides the value.
    auth_header: Option<HeaderValue>,
    /// Kept as secrets so that `Debug` of the client (and of every forge) stays redacted.
    secret_forms: Vec<Secret>,
    default_headers: Vec<(HeaderName, HeaderValue)>,
    metrics: Arc<HttpMetrics>,
    /// Bodies longer than this (after decompression) are refused: [`ForgeError::TooLarge`].
    body_limit: Option<usize>,
}

impl HttpClient {
    pub fn new(settings: HttpSettings, auth: Option<Auth>) -> anyhow::Result<Self> {
        install_crypto_provider();
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("upkeep/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("building the HTTP client: {}", error_chain(&e)))?;
        let (auth_header, secret_forms) = match &auth {
            Some(auth) => (Some(auth.header_value()?), auth.secret_forms()),
            None => (None, Vec::new()),
        };
        Ok(Self {
            client,
            settings,
            auth_header,
            secret_forms,
            default_headers: Vec::new(),
            metrics: global_metrics(),
            body_limit: None,
        })
    }

    /// Refuses response bodies longer than `limit` bytes (counted after decompression), while
    /// they stream in: a hostile or misdirected server cannot make the client buffer more.
    #[must_use]
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = Some(limit);
        self
    }

    /// Records into `metrics` instead of the process-wide metrics.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<HttpMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Adds a header sent with every request (API version, accept type).
    #[must_use]
    pub fn with_default_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.default_headers.push((name, value));
        self
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// Sends with retries and maps a final non-2xx status to a [`ForgeError`].
    pub fn execute(&self, request: &Request) -> ForgeResult<Response> {
        let response = self.execute_raw(request)?;
        if response.status.is_success() || response.status == StatusCode::NOT_MODIFIED {
            Ok(response)
        } else {
            Err(self.status_error(&response))
        }
    }

    /// Sends with retries and returns the final response whatever its status; only network
    /// errors and exhausted rate limits are errors.
    pub fn execute_raw(&self, request: &Request) -> ForgeResult<Response> {
        let shown_url = display_url(&request.url);
        let host = host_key(&request.url);
        let attempts = self.settings.max_retries.saturating_add(1);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let last = attempt >= attempts;
            let outcome = self.send_once(request);
            let response = match outcome {
                Ok(response) => response,
                Err(SendError::TooLarge { limit }) => {
                    // The same request would get the same body: not worth a retry.
                    return Err(ForgeError::TooLarge(self.scrub(&format!(
                        "{} {shown_url}: response body is over the {limit}-byte limit",
                        request.method
                    ))));
                }
                Err(SendError::Transport(e)) => {
                    self.metrics.update(&host, |m| {
                        *m.requests_by_status
                            .entry("network-error".into())
                            .or_default() += 1;
                    });
                    let message = self.scrub(&format!(
                        "{} {shown_url}: {} (attempt {attempt} of {attempts})",
                        request.method,
                        error_chain(e.as_ref())
                    ));
                    if last {
                        return Err(ForgeError::Other(message));
                    }
                    let delay = self.backoff(attempt);
                    tracing::warn!(error = %message, delay_ms = delay.as_millis() as u64, "retrying request");
                    self.metrics.update(&host, |m| m.retries += 1);
                    std::thread::sleep(delay);
                    continue;
                }
            };
            self.metrics.update(&host, |m| {
                *m.requests_by_status
                    .entry(response.status.as_u16().to_string())
                    .or_default() += 1;
            });
            if let Some(hint) = rate_limit_wait(
                response.status,
                &response.headers,
                &response.body,
                SystemTime::now(),
            ) {
                let wait = hint.unwrap_or_else(|| self.backoff(attempt));
                if last || wait > self.settings.max_rate_limit_wait {
                    let message = self.scrub(&format!(
                        "{} {shown_url}: {} after {attempt} attempt(s); next wait would be {}s (limit {}s): {}",
                        request.method,
                        response.status,
                        wait.as_secs(),
                        self.settings.max_rate_limit_wait.as_secs(),
                        truncate_body(&response.body)
                    ));
                    return Err(ForgeError::RateLimited(message));
                }
                tracing::warn!(
                    method = %request.method,
                    url = %shown_url,
                    status = response.status.as_u16(),
                    wait_ms = wait.as_millis() as u64,
                    "rate limited; waiting"
                );
                self.metrics.update(&host, |m| {
                    m.rate_limit_waits += 1;
                    m.rate_limit_wait_ms += wait.as_millis() as u64;
                });
                std::thread::sleep(wait);
                continue;
            }
            if response.status.is_server_error() && !last {
                let delay = self.backoff(attempt);
                tracing::warn!(
                    method = %request.method,
                    url = %shown_url,
                    status = response.status.as_u16(),
                    delay_ms = delay.as_millis() as u64,
                    "server error; retrying"
                );
                self.metrics.update(&host, |m| m.retries += 1);
                std::thread::sleep(delay);
                continue;
            }
            return Ok(response);
        }
    }

    /// A GET that sends `If-None-Match` when `cache` knows the URL and returns the cached body
    /// on 304; a 200 with an ETag refreshes the cache.
    pub fn get_cached(&self, url: Url, cache: &EtagCache) -> ForgeResult<CachedBody> {
        let key = url.to_string();
        let cached = cache.get(&key);
        let mut request = Request::get(url);
        if let Some((etag, _)) = &cached
            && let Ok(value) = HeaderValue::from_str(etag)
        {
            request = request.header(IF_NONE_MATCH, value);
        }
        let response = self.execute(&request)?;
        if response.status == StatusCode::NOT_MODIFIED {
            return match cached {
                Some((_, body)) => Ok(CachedBody {
                    body,
                    not_modified: true,
                }),
                None => Err(ForgeError::Other(format!(
                    "GET {}: 304 Not Modified without a cached body",
                    response.url
                ))),
            };
        }
        if let Some(etag) = response.header_str(ETAG.as_str()) {
            cache.put(&key, etag.to_string(), response.body.clone());
        }
        Ok(CachedBody {
            body: response.body,
            not_modified: false,
        })
    }

    /// The error for a final non-success response, scrubbed of credentials.
    pub fn status_error(&self, response: &Response) -> ForgeError {
        let message = self.scrub(&format!(
            "{} {}: {}: {}",
            response.method,
            response.url,
            response.status,
            truncate_body(&response.body)
        ));
        match response.status.as_u16() {
            401 | 403 => ForgeError::Unauthorized(message),
            404 => ForgeError::NotFound(message),
            409 | 422 => ForgeError::Conflict(message),
            429 => ForgeError::RateLimited(message),
            _ => ForgeError::Other(message),
        }
    }

    /// Removes every form of the token from `text` (defence in depth: bodies may echo it).
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for form in &self.secret_forms {
            out = out.replace(form.expose(), "<redacted>");
        }
        out
    }

    fn send_once(&self, request: &Request) -> Result<Response, SendError> {
        // Later sources replace earlier ones: request headers win over client defaults.
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        for (name, value) in self.default_headers.iter().chain(&request.headers) {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(auth) = &self.auth_header {
            headers.insert(AUTHORIZATION, auth.clone());
        }
        // The per-request timeout is also a deadline for the whole body: the blocking client's own
        // timeout only bounds each read, which a server dripping bytes would never trip.
        let mut builder = self
            .client
            .request(request.method.clone(), request.url.clone())
            .timeout(self.settings.timeout)
            .headers(headers);
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let response = builder.send().map_err(SendError::transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_body(response, self.body_limit)?;
        Ok(Response {
            method: request.method.clone(),
            url: display_url(&request.url),
            status,
            headers,
            body,
        })
    }

    fn backoff(&self, attempt: u32) -> Duration {
        backoff_delay(
            self.settings.backoff_base,
            self.settings.backoff_max,
            attempt,
            random_u64(),
        )
    }
}

/// Why one attempt got no usable response.
enum SendError {
    /// Connecting, sending or reading failed: retried.
    Transport(Box<dyn std::error::Error + Send + Sync>),
    /// The body passed the client's limit: not retried.
    TooLarge { limit: usize },
}

impl SendError {
    fn transport(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        SendError::Transport(Box::new(error))
    }
}

/// Reads a response body, refusing it as soon as it passes `limit` bytes. The bytes are counted
/// after decompression, so a small gzip body cannot expand past the limit; a declared
/// `Content-Length` over it is refused before anything is read, and otherwise at most one byte
/// past the limit is ever held.
fn read_body(
    mut response: reqwest::blocking::Response,
    limit: Option<usize>,
) -> Result<Vec<u8>, SendError> {
    use std::io::Read as _;
    let Some(limit) = limit else {
        return Ok(response.bytes().map_err(SendError::transport)?.to_vec());
    };
    let cap = u64::try_from(limit).unwrap_or(u64::MAX);
    if response
        .content_length()
        .is_some_and(|declared| declared > cap)
    {
        return Err(SendError::TooLarge { limit });
    }
    let mut body = Vec::new();
    response
        .by_ref()
        .take(cap.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(SendError::transport)?;
    if body.len() > limit {
        return Err(SendError::TooLarge { limit });
    }
    Ok(body)
}

/// Exponential backoff for retry number `attempt` (1-based) with up to 50% jitter.
pub fn backoff_delay(base: Duration, max: Duration, attempt: u32, random: u64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let delay = base.saturating_mul(1u32 << exponent).min(max);
    let half_ms = u64::try_from(delay.as_millis() / 2).unwrap_or(u64::MAX);
    let jitter = if half_ms == 0 {
        0
    } else {
        random % (half_ms + 1)
    };
    delay + Duration::from_millis(jitter)
}

fn random_u64() -> u64 {
    // RandomState is seeded per instance from the OS: enough randomness for jitter.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    hasher.finish()
}

/// Whether a response is a rate limit, and how long the server asks us to wait.
///
/// `None`: not rate limited. `Some(None)`: rate limited without a usable hint (back off).
/// `Some(Some(wait))`: wait that long (from `Retry-After` or the rate-limit reset).
/// 429 is always a rate limit; a 403 is one when `x-ratelimit-remaining` is 0, when it carries
/// `Retry-After`, or when its body speaks of a (secondary) rate limit, as GitHub's do.
pub fn rate_limit_wait(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Option<Option<Duration>> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let retry_after = header(RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(v, now));
    let remaining_zero = header("x-ratelimit-remaining").is_some_and(|v| v == "0");
    let reset = header("x-ratelimit-reset")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|epoch| {
            let reset = UNIX_EPOCH + Duration::from_secs(epoch);
            reset.duration_since(now).unwrap_or(Duration::ZERO)
        });
    let limited = match status.as_u16() {
        429 => true,
        403 => {
            remaining_zero
                || header(RETRY_AFTER.as_str()).is_some()
                || String::from_utf8_lossy(body)
                    .to_ascii_lowercase()
                    .contains("rate limit")
        }
        _ => false,
    };
    if !limited {
        return None;
    }
    Some(retry_after.or(
        if remaining_zero || status == StatusCode::TOO_MANY_REQUESTS {
            reset
        } else {
            None
        },
    ))
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(date.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The body as text, cut to about 2 KB on a character boundary.
pub fn truncate_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.len() <= ERROR_BODY_LIMIT {
        return text.into_owned();
    }
    let mut end = ERROR_BODY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &text[..end], body.len())
}

/// The URL without userinfo, for messages.
pub fn display_url(url: &Url) -> String {
    let mut url = url.clone();
    // Both only fail for URLs that cannot have credentials in the first place.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

fn host_key(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => "unknown".to_string(),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// Appends path segments (each percent-encoded, so a `/` inside one stays inside it) and
/// query pairs to `base`.
pub fn build_url(base: &Url, segments: &[&str], query: &[(&str, &str)]) -> ForgeResult<Url> {
    let mut url = base.clone();
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| ForgeError::Other(format!("{base} cannot be a base URL")))?;
        path.pop_if_empty();
        path.extend(segments);
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

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
    fn rate_limit_detection_table() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let cases: Vec<(u16, HeaderMap, &str, Option<Option<Duration>>)> = vec![
            (200, headers(&[]), "", None),
            (500, headers(&[("retry-after", "3")]), "", None),
            (
                403,
                headers(&[]),
                "Resource not accessible by integration",
                None,
            ),
            (429, headers(&[]), "", Some(None)),
            (
                429,
                headers(&[("retry-after", "7")]),
                "",
                Some(Some(Duration::from_secs(7))),
            ),
            (
                403,
                headers(&[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "1030"),
                ]),
                "",
                Some(Some(Duration::from_secs(30))),
            ),
            (
                403,
                headers(&[("x-ratelimit-remaining", "12")]),
                "You have exceeded a secondary rate limit",
                Some(None),
            ),
            (
                403,
                headers(&[("retry-after", "60")]),
                "",
                Some(Some(Duration::from_secs(60))),
            ),
            (
                429,
                headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "900")]),
                "",
                Some(Some(Duration::ZERO)),
            ),
        ];
        for (status, headers, body, expected) in cases {
            let got = rate_limit_wait(
                StatusCode::from_u16(status).unwrap(),
                &headers,
                body.as_bytes(),
                now,
            );
            assert_eq!(
                got, expected,
                "status {status} headers {headers:?} body {body}"
            );
        }
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_doubles_caps_and_jitters_within_half() {
        let base = Duration::from_millis(100);
        let max = Duration::from_millis(1_000);
        assert_eq!(backoff_delay(base, max, 1, 0), Duration::from_millis(100));
        assert_eq!(backoff_delay(base, max, 3, 0), Duration::from_millis(400));
        assert_eq!(
            backoff_delay(base, max, 10, 0),
            Duration::from_millis(1_000)
        );
        let jittered = backoff_delay(base, max, 2, u64::MAX);
        assert!(jittered >= Duration::from_millis(200) && jittered <= Duration::from_millis(300));
    }

    #[test]
    fn truncate_body_cuts_on_char_boundary() {
        let body = "é".repeat(3_000);
        let cut = truncate_body(body.as_bytes());
        assert!(cut.len() < 2_100);
        assert!(cut.ends_with("(6000 bytes in all)"));
        assert_eq!(truncate_body(b"short"), "short");
    }

    #[test]
    fn display_url_drops_credentials_and_build_url_encodes_segments() {
        let url = Url::parse("https://user:secret@example.com/api/").unwrap();
        assert_eq!(display_url(&url), "https://example.com/api/");
        let built = build_url(
            &Url::parse("https://example.com/api").unwrap(),
            &["labels", "needs review/legal"],
            &[("ref", "a b")],
        )
        .unwrap();
        assert_eq!(
            built.as_str(),
            "https://example.com/api/labels/needs%20review%2Flegal?ref=a+b"
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
