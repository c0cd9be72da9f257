//! [`HttpClient`]: one use of the shared [`Pool`] (a forge, a channel) with its own retry
//! policy, credential, default headers and size cap, and the retry loop that applies them.

use std::io::Read as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, ETAG, HeaderMap, HeaderName, HeaderValue, IF_NONE_MATCH,
};
use reqwest::{StatusCode, Url};

use super::policy::{
    RateLimit, backoff_delay, display_url, error_chain, host_key, rate_limit_budget,
    rate_limit_wait, truncate_body,
};
use super::{
    Auth, CachedBody, ConditionalCache, Error, HttpMetrics, HttpSettings, Pool, Request, Response,
    Result, global_metrics,
};
use crate::secret::Secret;

/// The body cap of every client that sets none ([`HttpClient::with_body_limit`]): forge API
/// answers (a compare of 250 commits with their files is a few MB) and OSV answers stay far
/// below it; a bigger body is a wrong URL or a hostile server, and must not be buffered whole.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// A blocking HTTP client with retries, rate-limit handling, size caps and metrics.
///
/// Use it on a blocking thread, never on a tokio worker thread.
#[derive(Debug, Clone)]
pub struct HttpClient {
    pool: Pool,
    settings: HttpSettings,
    /// Sensitive: its Debug form hides the value.
    auth_header: Option<HeaderValue>,
    /// Kept as secrets so that `Debug` of the client (and of every forge) stays redacted.
    secret_forms: Vec<Secret>,
    default_headers: Vec<(HeaderName, HeaderValue)>,
    /// Bodies longer than this are refused ([`Error::TooLarge`]) without being read in full.
    body_limit: usize,
    metrics: Arc<HttpMetrics>,
}

/// What a conditional GET got: the server's answer, or the cached body a `304` confirmed.
enum Conditional {
    Fresh(Response),
    Confirmed(Vec<u8>),
}

/// Why one attempt got no usable response.
enum Failure {
    /// Connect, send or read failed. `sent`: the request may have reached the server (anything
    /// but a failed connect), so only a request safe to resend is retried.
    Network { cause: String, sent: bool },
    /// The body is over the cap (never retried).
    TooLarge(String),
}

impl HttpClient {
    /// A client with a [`Pool`] of its own (connect timeout from `settings`): for tests and
    /// one-off tools. The service makes its clients from the shared pool ([`Pool::client`]).
    pub fn new(settings: HttpSettings, auth: Option<Auth>) -> anyhow::Result<Self> {
        let pool = Pool::new(settings.connect_timeout)?;
        Self::on(&pool, settings, auth)
    }

    /// A client on `pool`: its connect timeout is the pool's; every other setting is this one's.
    pub fn on(pool: &Pool, settings: HttpSettings, auth: Option<Auth>) -> anyhow::Result<Self> {
        let (auth_header, secret_forms) = match &auth {
            Some(auth) => (Some(auth.header_value()?), auth.secret_forms()),
            None => (None, Vec::new()),
        };
        Ok(Self {
            pool: pool.clone(),
            settings,
            auth_header,
            secret_forms,
            default_headers: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            metrics: global_metrics(),
        })
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

    /// Refuses response bodies over `bytes` ([`Error::TooLarge`]), reading at most one byte
    /// more than that: a hostile or mistaken server cannot make the process buffer more.
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// Sends with retries and maps a final non-2xx status to an [`Error`].
    pub fn execute(&self, request: &Request) -> Result<Response> {
        let response = self.execute_raw(request)?;
        self.accept(request, response)
    }

    /// The response of `request` when it is a success or a 304, else its error: what
    /// [`HttpClient::execute`] does after [`HttpClient::execute_raw`], for callers that look at
    /// some statuses themselves first.
    pub fn accept(&self, request: &Request, response: Response) -> Result<Response> {
        if response.status.is_success() || response.status == StatusCode::NOT_MODIFIED {
            Ok(response)
        } else if response.status.is_server_error() && !request.resend_safe {
            Err(Error::MaybeApplied(self.scrub(&format!(
                "{} {}: {} (not resent: it may have been applied): {}",
                response.method,
                response.url,
                response.status,
                truncate_body(&response.body)
            ))))
        } else {
            Err(self.status_error(&response))
        }
    }

    /// Sends with retries and returns the final response whatever its status; only network
    /// errors, bodies over the cap and exhausted rate limits are errors.
    ///
    /// Retried: network errors and 5xx of a request safe to resend ([`Request::resend_safe`]);
    /// a failed connect of any request (nothing was sent); rate limits of any request (refused,
    /// so not applied), waited out as [`rate_limit_wait`] says, within the per-wait cap and the
    /// pool's [`super::WaitBudget`]. A request that changes something and may have been applied
    /// is never resent here: it ends in [`Error::MaybeApplied`] (or its 5xx response).
    pub fn execute_raw(&self, request: &Request) -> Result<Response> {
        let shown_url = display_url(&request.url);
        let host = host_key(&request.url);
        let attempts = self.settings.max_retries.saturating_add(1);
        let (mut attempt, mut limited_in_a_row) = (0u32, 0u32);
        loop {
            attempt += 1;
            let last = attempt >= attempts;
            let response = match self.send_once(request) {
                Ok(response) => response,
                Err(Failure::TooLarge(message)) => return Err(Error::TooLarge(message)),
                Err(Failure::Network { cause, sent }) => {
                    self.count(&host, "network-error");
                    let message = self.scrub(&format!(
                        "{} {shown_url}: {cause} (attempt {attempt} of {attempts})",
                        request.method
                    ));
                    if sent && !request.resend_safe {
                        return Err(Error::MaybeApplied(format!(
                            "{message}; not resent: it may have been applied"
                        )));
                    }
                    if last {
                        return Err(Error::Other(message));
                    }
                    self.retry_after_error(&host, &message, attempt);
                    continue;
                }
            };
            self.count(&host, &response.status.as_u16().to_string());
            if let Some(budget) = rate_limit_budget(&response.headers) {
                self.metrics.update(&host, |m| {
                    m.rate_limit_remaining = budget.remaining.or(m.rate_limit_remaining);
                    m.rate_limit_reset = budget.reset.or(m.rate_limit_reset);
                });
            }
            if let Some(limit) = rate_limit_wait(
                response.status,
                &response.headers,
                &response.body,
                SystemTime::now(),
                limited_in_a_row + 1,
                self.settings.secondary_min_wait,
            ) {
                limited_in_a_row += 1;
                self.wait_out(request, &response, attempt, last, limit)?;
                continue;
            }
            if response.status.is_server_error() && request.resend_safe && !last {
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

    /// Back off before retrying after a network error.
    fn retry_after_error(&self, host: &str, message: &str, attempt: u32) {
        let delay = self.backoff(attempt);
        tracing::warn!(error = %message, delay_ms = delay.as_millis() as u64, "retrying request");
        self.metrics.update(host, |m| m.retries += 1);
        std::thread::sleep(delay);
    }

    /// Sleep out a rate limit, or the error when this is the last attempt, the wait is over
    /// the per-wait cap, or the run's waiting budget cannot cover it.
    fn wait_out(
        &self,
        request: &Request,
        response: &Response,
        attempt: u32,
        last: bool,
        limit: RateLimit,
    ) -> Result<()> {
        let wait = limit.wait();
        let cap = self.settings.max_rate_limit_wait;
        let refusal = if last {
            Some(format!("no attempts left after {attempt}"))
        } else if wait > cap {
            Some(format!("the wait is over the {}s cap", cap.as_secs()))
        } else if !self.pool.wait_budget().take(wait) {
            let (spent, ceiling) = self.pool.wait_budget().state();
            Some(format!(
                "this run has waited {}s of its {}s for rate limits ([service] max-rate-limit-wait)",
                spent.as_secs(),
                ceiling.as_secs()
            ))
        } else {
            None
        };
        if let Some(why) = refusal {
            return Err(Error::RateLimited(self.scrub(&format!(
                "{} {}: {}; {} asks for {}s; {why}: {}",
                request.method,
                response.url,
                response.status,
                limit.rule(),
                wait.as_secs(),
                truncate_body(&response.body)
            ))));
        }
        tracing::warn!(
            method = %request.method,
            url = %response.url,
            status = response.status.as_u16(),
            rule = limit.rule(),
            wait_ms = wait.as_millis() as u64,
            "rate limited; waiting"
        );
        self.metrics.update(&host_key(&request.url), |m| {
            m.rate_limit_waits += 1;
            m.rate_limit_wait_ms += wait.as_millis() as u64;
        });
        std::thread::sleep(wait);
        Ok(())
    }

    /// A GET that sends `If-None-Match` when `cache` knows the URL and returns the cached body
    /// on 304; a 200 with an ETag refreshes the cache ([`HttpClient::keep`] says which).
    pub fn get_cached(&self, url: Url, cache: &dyn ConditionalCache) -> Result<CachedBody> {
        let key = url.to_string();
        let cached = cache.get(&key);
        match self.send_conditional(url, cached)? {
            Conditional::Confirmed(body) => Ok(CachedBody {
                body,
                not_modified: true,
            }),
            Conditional::Fresh(response) => {
                Self::keep(cache, &key, &response, &response.body);
                Ok(CachedBody {
                    body: response.body,
                    not_modified: false,
                })
            }
        }
    }

    /// [`Self::get_cached`] with the body decoded as JSON; a body that does not decode is an
    /// [`Error::Other`] naming the URL without its credentials. The cache keeps the body as it
    /// came.
    pub fn get_cached_json<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        cache: &dyn ConditionalCache,
    ) -> Result<T> {
        self.get_cached_as(url, cache, |_, raw| raw.to_vec())
    }

    /// [`Self::get_cached_json`] that keeps only what `T` holds (the value encoded again), not
    /// the body as it came: a persisted cache then stores what the caller reads (a PR's state,
    /// the name and outcome of each check) rather than every field the service sends, so an
    /// entry stays small whatever else the answer carries.
    pub fn get_cached_value<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        url: Url,
        cache: &dyn ConditionalCache,
    ) -> Result<T> {
        self.get_cached_as(url, cache, |value: &T, _| {
            serde_json::to_vec(value).unwrap_or_default()
        })
    }

    /// The conditional GET of a JSON document, `kept(value, body)` being what the cache stores
    /// of a fresh answer. A cached entry a `304` confirms but that no longer decodes (written by
    /// an older upkeep, or damaged) is not trusted: the document is read again in full.
    fn get_cached_as<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        cache: &dyn ConditionalCache,
        kept: impl Fn(&T, &[u8]) -> Vec<u8>,
    ) -> Result<T> {
        let shown = crate::secret::redact_url(url.as_str());
        let decode = |body: &[u8]| -> Result<T> {
            serde_json::from_slice(body)
                .map_err(|e| Error::Other(format!("GET {shown}: unreadable answer: {e}")))
        };
        let key = url.to_string();
        let cached = cache.get(&key);
        let response = match self.send_conditional(url.clone(), cached)? {
            Conditional::Confirmed(body) => match decode(&body) {
                Ok(value) => return Ok(value),
                Err(e) => {
                    tracing::warn!(error = %e, "a cached answer no longer decodes; reading it in full");
                    self.execute(&Request::get(url))?
                }
            },
            Conditional::Fresh(response) => response,
        };
        let value = decode(&response.body)?;
        Self::keep(cache, &key, &response, &kept(&value, &response.body));
        Ok(value)
    }

    /// Sends `url` with `If-None-Match` naming the cached entry's ETag, if any. A `304` confirms
    /// the entry read before the request (etag and body read together, so an entry replaced or
    /// removed meanwhile cannot mix one answer's validator with another's body); anything else
    /// is the server's answer, never the cache's.
    fn send_conditional(&self, url: Url, cached: Option<(String, Vec<u8>)>) -> Result<Conditional> {
        let mut request = Request::get(url);
        if let Some((etag, _)) = &cached
            && let Ok(value) = HeaderValue::from_str(etag)
        {
            request = request.header(IF_NONE_MATCH, value);
        }
        let response = self.execute(&request)?;
        if response.status != StatusCode::NOT_MODIFIED {
            return Ok(Conditional::Fresh(response));
        }
        match cached {
            Some((_, body)) => Ok(Conditional::Confirmed(body)),
            None => Err(Error::Other(format!(
                "GET {}: 304 Not Modified without a cached body",
                response.url
            ))),
        }
    }

    /// Stores `body` for `key` when `response` carries an ETag and has no next page. An answer
    /// with more pages after it (a `Link` header naming a next page) is not stored: a `304`
    /// would vouch for that page alone while the list goes on, the pages of one list are read
    /// at different moments anyway, and a long list would take a row per page. Every list
    /// upkeep reads conditionally is read as its first page only (`per_page=100`), so such an
    /// answer is rare and costs only its full read.
    fn keep(cache: &dyn ConditionalCache, key: &str, response: &Response, body: &[u8]) {
        let paged = response
            .header_str("link")
            .and_then(super::policy::parse_link_next)
            .is_some();
        if let Some(etag) = response.header_str(ETAG.as_str())
            && !paged
        {
            cache.put(key, etag, body);
        }
    }

    /// The error for a final non-success response, scrubbed of credentials.
    pub fn status_error(&self, response: &Response) -> Error {
        let message = self.scrub(&format!(
            "{} {}: {}: {}",
            response.method,
            response.url,
            response.status,
            truncate_body(&response.body)
        ));
        match response.status.as_u16() {
            401 | 403 => Error::Unauthorized(message),
            404 => Error::NotFound(message),
            409 | 422 => Error::Conflict(message),
            429 => Error::RateLimited(message),
            _ => Error::Other(message),
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

    fn send_once(&self, request: &Request) -> std::result::Result<Response, Failure> {
        // Later sources replace earlier ones: request headers win over client defaults.
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        for (name, value) in self.default_headers.iter().chain(&request.headers) {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(auth) = &self.auth_header {
            headers.insert(AUTHORIZATION, auth.clone());
        }
        let mut builder = self
            .pool
            .inner
            .request(request.method.clone(), request.url.clone())
            .timeout(self.settings.timeout)
            .headers(headers);
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        // Held until the body is read: that is when the server is done with the request.
        let _permit = self.pool.api_limit.acquire(&host_key(&request.url));
        let response = builder.send().map_err(|e| Failure::Network {
            cause: error_chain(&e),
            sent: !e.is_connect(),
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = self.read_body(request, &headers, response)?;
        Ok(Response {
            method: request.method.clone(),
            url: display_url(&request.url),
            status,
            headers,
            body,
        })
    }

    /// The whole body, or [`Failure::TooLarge`] once it passes the cap.
    fn read_body(
        &self,
        request: &Request,
        headers: &HeaderMap,
        response: reqwest::blocking::Response,
    ) -> std::result::Result<Vec<u8>, Failure> {
        let limit = self.body_limit;
        let too_large = |detail: String| {
            Failure::TooLarge(format!(
                "{} {}: response body {detail} is over the {limit}-byte limit",
                request.method,
                display_url(&request.url)
            ))
        };
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(n) = declared.filter(|n| *n > limit as u64) {
            return Err(too_large(format!("of {n} bytes")));
        }
        let mut body = Vec::new();
        response
            .take(limit as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| Failure::Network {
                cause: error_chain(&e),
                sent: true,
            })?;
        if body.len() > limit {
            return Err(too_large(format!("of more than {limit} bytes")));
        }
        Ok(body)
    }

    fn count(&self, host: &str, status: &str) {
        self.metrics.update(host, |m| {
            *m.requests_by_status.entry(status.into()).or_default() += 1;
        });
    }

    fn backoff(&self, attempt: u32) -> Duration {
        backoff_delay(
            self.settings.backoff_base,
            self.settings.backoff_max,
            attempt,
            crate::jitter::random_u64(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::net::TcpListener;

    use super::*;
    use crate::http::{HttpSettings, Request};

    /// A one-request server that declares a body of `length` bytes and sends 16 of them.
    fn declares(length: u64) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n{{\"padding\": \"aa"
            );
            let _ = stream.flush();
            std::thread::sleep(std::time::Duration::from_millis(500));
        });
        format!("http://{addr}/v1/querybatch")
    }

    #[test]
    fn a_client_without_a_cap_of_its_own_refuses_a_body_over_the_default() {
        let client = HttpClient::new(HttpSettings::default(), None).unwrap();
        let url = Url::parse(&declares(DEFAULT_BODY_LIMIT as u64 + 1)).unwrap();
        let err = client.execute(&Request::get(url)).unwrap_err();
        assert!(matches!(err, Error::TooLarge(_)), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("over the {DEFAULT_BODY_LIMIT}-byte limit")),
            "{err}"
        );
    }
}
