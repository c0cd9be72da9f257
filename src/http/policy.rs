//! The pure half of the HTTP policy: how long to back off, whether a response is a rate limit
//! and how long it asks us to wait, and how URLs and bodies are shown in messages. No I/O; the
//! client in [`super`] applies these.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use super::{Error, Result};

/// How much of a response body an error message keeps.
const ERROR_BODY_LIMIT: usize = 2048;

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

pub(crate) fn host_key(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => "unknown".to_string(),
    }
}

pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
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
pub fn build_url(base: &Url, segments: &[&str], query: &[(&str, &str)]) -> Result<Url> {
    let mut url = base.clone();
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| Error::Other(format!("{base} cannot be a base URL")))?;
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
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
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
}
