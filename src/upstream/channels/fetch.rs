//! Conditional GETs of JSON pages for the channel modules, through the shared HTTP client and a
//! [`ConditionalCache`].
//!
//! An unchanged page costs one `If-None-Match` request answered `304 Not Modified` and is
//! replayed from the cache (RFC 9110, section 13.1.2; GitHub: "Best practices for using the REST
//! API", use conditional requests). The cache is keyed by URL alone: each URL is always
//! requested with the same `Accept`, so the representation a 304 confirms is the cached one.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;

use chrono::DateTime;
use reqwest::header::{ACCEPT, CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, IF_NONE_MATCH};
use reqwest::{StatusCode, Url};

use super::{ChannelError, RateBudget};
use crate::http::{HttpClient, Request, Response, truncate_body};

/// Persisted conditional-request cache: the last `ETag` and body seen per URL, the one trait the
/// forges' conditional reads use too. The state store implements it (through the pipeline);
/// [`MemoryCache`] is the in-process one. This module stores what it needs to replay a page,
/// not only the raw response.
pub use crate::http::ConditionalCache;

/// A [`ConditionalCache`] in memory (tests, one-shot runs).
#[derive(Debug, Default)]
pub struct MemoryCache(Mutex<HashMap<String, (String, Vec<u8>)>>);

impl MemoryCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many URLs have an entry.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no URL has an entry.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Vec<u8>)>> {
        // A panic while holding the lock leaves entries that are still fine to read.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ConditionalCache for MemoryCache {
    fn get(&self, url: &str) -> Option<(String, Vec<u8>)> {
        self.lock().get(url).cloned()
    }

    fn put(&self, url: &str, etag: &str, body: &[u8]) {
        self.lock()
            .insert(url.to_string(), (etag.to_string(), body.to_vec()));
    }
}

/// A page of a channel's answer, decoded.
pub(crate) struct Page<T> {
    pub value: T,
    /// The next page from the `Link` header (GitHub), kept across 304s.
    pub link_next: Option<String>,
    pub not_modified: bool,
    /// On a fresh answer, the body the cache held until now: what the registry said at the
    /// last look (None on a 304, or when nothing was cached).
    pub previous: Option<Vec<u8>>,
}

/// Conditional GETs of JSON pages through the shared client and a [`ConditionalCache`].
pub(crate) struct Fetcher<'a> {
    client: &'a HttpClient,
    cache: &'a dyn ConditionalCache,
    pub channel: &'static str,
    /// From the last response that carried `x-ratelimit-*` headers.
    rate_limit: Cell<Option<RateBudget>>,
}

/// Marks cache entries written by this module, so a foreign or older entry is ignored.
const CACHE_MAGIC: &str = "upkeep-channel-page/1 ";

impl<'a> Fetcher<'a> {
    pub fn new(
        client: &'a HttpClient,
        cache: &'a dyn ConditionalCache,
        channel: &'static str,
    ) -> Self {
        Self {
            client,
            cache,
            channel,
            rate_limit: Cell::new(None),
        }
    }

    /// GETs `url` (conditionally when the cache knows it) and decodes the body with `parse`.
    /// The cache is only updated once `parse` accepted the body, so a bad page is never
    /// replayed.
    pub fn page<T>(
        &self,
        url: &Url,
        parse: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Page<T>, ChannelError> {
        self.page_as(url, None, parse)
    }

    /// [`Fetcher::page`] asking for the media type `accept` (content negotiation) instead of
    /// the client's default `application/json`. A 406 is [`ChannelError::NotAcceptable`].
    pub fn page_as<T>(
        &self,
        url: &Url,
        accept: Option<&'static str>,
        parse: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Page<T>, ChannelError> {
        // The key is stored in the state and logged: never with credentials in it.
        let key = &crate::secret::redact_url(url.as_str());
        let cached = self.cached(key);
        let mut request = Request::get(url.clone());
        if let Some(accept) = accept {
            request = request.header(ACCEPT, HeaderValue::from_static(accept));
        }
        if let Some((etag, _, _)) = &cached
            && let Ok(value) = HeaderValue::from_str(etag)
        {
            request = request.header(IF_NONE_MATCH, value);
        }
        let response = self
            .client
            .execute_raw(&request)
            .map_err(|e| ChannelError::from_http(self.channel, e))?;
        if let Some(budget) = rate_budget(&response.headers) {
            self.rate_limit.set(Some(budget));
        }
        if response.status == StatusCode::NOT_MODIFIED {
            let Some((_, link_next, body)) = cached else {
                return Err(ChannelError::Request {
                    channel: self.channel,
                    message: format!(
                        "GET {}: 304 Not Modified to a request that was not conditional",
                        response.url
                    ),
                });
            };
            let value = parse(&body).map_err(|message| self.malformed(&response.url, message))?;
            return Ok(Page {
                value,
                link_next,
                not_modified: true,
                previous: None,
            });
        }
        if response.status == StatusCode::NOT_ACCEPTABLE {
            return Err(ChannelError::NotAcceptable {
                channel: self.channel,
                url: response.url,
            });
        }
        if !response.status.is_success() {
            let error = self.client.status_error(&response);
            return Err(ChannelError::from_http(self.channel, error));
        }
        self.check_content_type(&response)?;
        let value = parse(&response.body).map_err(|message| {
            self.malformed(
                &response.url,
                format!("{message}: {}", truncate_body(&response.body)),
            )
        })?;
        let link_next = response
            .header_str("link")
            .and_then(super::github::parse_link_next);
        if let Some(etag) = response.header_str(ETAG.as_str()) {
            self.cache.put(
                key,
                etag,
                &encode_entry(link_next.as_deref(), &response.body),
            );
        }
        Ok(Page {
            value,
            link_next,
            not_modified: false,
            previous: cached.map(|(_, _, body)| body),
        })
    }

    /// The rate-limit budget the last response reported.
    pub fn rate_limit(&self) -> Option<RateBudget> {
        self.rate_limit.get()
    }

    fn cached(&self, key: &str) -> Option<(String, Option<String>, Vec<u8>)> {
        self.cache.get(key).and_then(|(etag, raw)| {
            let entry = decode_entry(&raw);
            if entry.is_none() {
                tracing::debug!(url = %key, "ignoring an unreadable conditional-cache entry");
            }
            entry.map(|(next, body)| (etag, next, body))
        })
    }

    /// A 2xx body must say it is JSON, if it says anything.
    fn check_content_type(&self, response: &Response) -> Result<(), ChannelError> {
        // A missing content type is tolerated (the JSON decode still guards); a present one
        // must say JSON, so an HTML sign-in or proxy page is named as such.
        if let Some(content_type) = response.header_str(CONTENT_TYPE.as_str())
            && !is_json_content_type(content_type)
        {
            return Err(ChannelError::WrongContentType {
                channel: self.channel,
                url: response.url.clone(),
                content_type: content_type.to_string(),
            });
        }
        Ok(())
    }

    /// A shape error; the message is scrubbed of the token, as bodies may echo it.
    pub fn malformed(&self, url: &str, message: String) -> ChannelError {
        ChannelError::Malformed {
            channel: self.channel,
            url: url.to_string(),
            message: self.client.scrub(&message),
        }
    }

    pub fn invalid(&self, message: String) -> ChannelError {
        ChannelError::InvalidSpec {
            channel: self.channel,
            message,
        }
    }
}

/// `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` (UTC epoch seconds), as
/// GitHub sends them on every answer ("Rate limits for the REST API", checking the status of
/// your rate limit).
fn rate_budget(headers: &HeaderMap) -> Option<RateBudget> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    Some(RateBudget {
        limit: number("x-ratelimit-limit")?,
        remaining: number("x-ratelimit-remaining")?,
        reset: number("x-ratelimit-reset")
            .and_then(|epoch| i64::try_from(epoch).ok())
            .and_then(|epoch| DateTime::from_timestamp(epoch, 0)),
    })
}

/// `application/json`, `application/vnd.github+json`, `application/vnd.pypi.simple.v1+json`,
/// ...
pub(crate) fn is_json_content_type(value: &str) -> bool {
    let essence = media_type(value);
    essence.ends_with("/json") || essence.ends_with("+json")
}

/// The media type of a `Content-Type` value, lower case, without parameters.
pub(crate) fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn encode_entry(link_next: Option<&str>, body: &[u8]) -> Vec<u8> {
    // URLs never contain a raw newline, so the first line holds the next link.
    let mut out = format!("{CACHE_MAGIC}{}\n", link_next.unwrap_or_default()).into_bytes();
    out.extend_from_slice(body);
    out
}

fn decode_entry(raw: &[u8]) -> Option<(Option<String>, Vec<u8>)> {
    let newline = raw.iter().position(|b| *b == b'\n')?;
    let header = std::str::from_utf8(&raw[..newline]).ok()?;
    let next = header.strip_prefix(CACHE_MAGIC)?;
    let next = (!next.is_empty()).then(|| next.to_string());
    Some((next, raw[newline + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_entries_round_trip_and_foreign_ones_are_ignored() {
        let raw = encode_entry(Some("https://x/y?page=2"), b"[1]\n[2]");
        assert_eq!(
            decode_entry(&raw),
            Some((Some("https://x/y?page=2".to_string()), b"[1]\n[2]".to_vec()))
        );
        assert_eq!(
            decode_entry(&encode_entry(None, b"{}")),
            Some((None, b"{}".to_vec()))
        );
        assert_eq!(decode_entry(b"{\"raw\":\"json\"}\n"), None);
        assert_eq!(decode_entry(b"no newline"), None);
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "application/vnd.github+json",
            "application/vnd.pypi.simple.v1+json",
            "Application/JSON",
        ] {
            assert!(is_json_content_type(ok), "{ok}");
        }
        for bad in [
            "text/html",
            "text/html; charset=utf-8",
            "application/vnd.pypi.simple.v1+html",
            "application/octet-stream",
            "",
        ] {
            assert!(!is_json_content_type(bad), "{bad}");
        }
    }

    #[test]
    fn memory_cache_keeps_the_last_put() {
        let cache = MemoryCache::new();
        assert!(cache.is_empty());
        cache.put("u", "\"a\"", b"1");
        cache.put("u", "\"b\"", b"2");
        assert_eq!(cache.get("u"), Some(("\"b\"".into(), b"2".to_vec())));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn rate_budget_needs_limit_and_remaining() {
        let mut headers = HeaderMap::new();
        assert_eq!(rate_budget(&headers), None);
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("60"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static(" 7 "));
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1775000000"));
        let budget = rate_budget(&headers).unwrap();
        assert_eq!((budget.limit, budget.remaining), (60, 7));
        assert_eq!(budget.reset.map(|t| t.timestamp()), Some(1_775_000_000));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("lots"));
        assert_eq!(rate_budget(&headers), None);
    }
}
