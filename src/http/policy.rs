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

/// How a rate-limited answer asks to be waited out. GitHub documents the order ("Rate limits for
/// the REST API", section "Exceeding the rate limit"; "Best practices for using the REST API",
/// "Handle rate limit errors appropriately"): `retry-after` first; else, when
/// `x-ratelimit-remaining` is 0, until the `x-ratelimit-reset` epoch second; else (a secondary
/// limit) at least one minute, exponentially longer while it keeps failing. Azure DevOps sends the
/// same headers on a 429 ("Rate and usage limits", section "API client experience").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// `Retry-After` (seconds or an HTTP date).
    RetryAfter(Duration),
    /// The primary budget is spent: wait until its reset.
    UntilReset(Duration),
    /// A secondary limit (or a 429 without hints): `minimum * 2^(n-1)` for the n-th in a row.
    Secondary(Duration),
}

impl RateLimit {
    pub fn wait(self) -> Duration {
        match self {
            RateLimit::RetryAfter(d) | RateLimit::UntilReset(d) | RateLimit::Secondary(d) => d,
        }
    }

    /// How the wait was derived, for logs and error messages.
    pub fn rule(self) -> &'static str {
        match self {
            RateLimit::RetryAfter(_) => "retry-after",
            RateLimit::UntilReset(_) => "x-ratelimit-reset",
            RateLimit::Secondary(_) => "secondary limit back-off",
        }
    }
}

/// Whether a response is a rate limit, and how long to wait before the next attempt.
///
/// 429 is always a rate limit; a 403 is one when `x-ratelimit-remaining` is 0, when it carries
/// `Retry-After`, or when its body speaks of a (secondary) rate limit, as GitHub's do ("You have
/// exceeded a secondary rate limit..."). `in_a_row` counts the rate-limited answers this request
/// got so far, this one included (1 for the first); `secondary_min` is the documented one minute
/// (tests configure less).
pub fn rate_limit_wait(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
    in_a_row: u32,
    secondary_min: Duration,
) -> Option<RateLimit> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let remaining_zero = header("x-ratelimit-remaining").is_some_and(|v| v == "0");
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
    if let Some(wait) = header(RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(v, now)) {
        return Some(RateLimit::RetryAfter(wait));
    }
    let reset = rate_limit_budget(headers).and_then(|b| b.reset);
    if remaining_zero && let Some(reset) = reset {
        let at = UNIX_EPOCH + Duration::from_secs(reset);
        return Some(RateLimit::UntilReset(
            at.duration_since(now).unwrap_or(Duration::ZERO),
        ));
    }
    let exponent = in_a_row.saturating_sub(1).min(16);
    Some(RateLimit::Secondary(
        secondary_min.saturating_mul(1u32 << exponent),
    ))
}

/// What a response says of the caller's rate-limit budget: `x-ratelimit-remaining` and
/// `x-ratelimit-reset` (UTC epoch seconds), sent by GitHub on every REST answer and by Azure
/// DevOps once a client nears its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Budget {
    pub remaining: Option<u64>,
    pub reset: Option<u64>,
}

/// The budget headers of a response, if it carries any.
pub fn rate_limit_budget(headers: &HeaderMap) -> Option<Budget> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let budget = Budget {
        remaining: number("x-ratelimit-remaining"),
        reset: number("x-ratelimit-reset"),
    };
    (budget != Budget::default()).then_some(budget)
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

/// The `rel="next"` target of an RFC 8288 `Link` header, if any: a paginated answer's next
/// page (GitHub and the registries paginate this way).
pub fn parse_link_next(header: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let target = &rest[start + 1..end];
        let after = &rest[end + 1..];
        // Parameters run until the next link (a comma outside <...>).
        let params_end = after.find(',').unwrap_or(after.len());
        let is_next = after[..params_end].split(';').any(|param| {
            let Some((name, value)) = param.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.to_string());
        }
        rest = &after[params_end..];
    }
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

    /// The documented rule, case by case ("Rate limits for the REST API", "Exceeding the rate
    /// limit"; Azure DevOps "Rate and usage limits"). Minimum one minute, as documented.
    #[test]
    fn rate_limit_wait_table() {
        use RateLimit::{RetryAfter, Secondary, UntilReset};
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let minute = Duration::from_secs(60);
        let secs = Duration::from_secs;
        // (case, status, headers, body, rate-limited answers in a row, expected)
        type Case = (
            &'static str,
            u16,
            HeaderMap,
            &'static str,
            u32,
            Option<RateLimit>,
        );
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("a success is never a limit", 200, headers(&[("x-ratelimit-remaining", "0")]), "", 1, None),
            ("a 5xx is not a limit, even with retry-after", 500, headers(&[("retry-after", "3")]), "", 1, None),
            ("a permission 403 is not a limit", 403, headers(&[("x-ratelimit-remaining", "4999")]),
                "Resource not accessible by integration", 1, None),
            ("retry-after wins", 429, headers(&[("retry-after", "7"), ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1030")]), "", 1, Some(RetryAfter(secs(7)))),
            ("403 with retry-after", 403, headers(&[("retry-after", "60")]), "", 1, Some(RetryAfter(minute))),
            ("primary: remaining 0 waits until reset", 403, headers(&[("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1030")]), "API rate limit exceeded", 1, Some(UntilReset(secs(30)))),
            ("a reset in the past is no wait", 429, headers(&[("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "900")]), "", 1, Some(UntilReset(Duration::ZERO))),
            ("secondary: at least a minute", 403, headers(&[("x-ratelimit-remaining", "12"),
                ("x-ratelimit-reset", "4600")]), "You have exceeded a secondary rate limit", 1, Some(Secondary(minute))),
            ("secondary again: doubled", 403, headers(&[]), "secondary rate limit", 2, Some(Secondary(secs(120)))),
            ("secondary a third time: doubled again", 429, headers(&[]), "", 3, Some(Secondary(secs(240)))),
            ("Azure 429 with Retry-After", 429, headers(&[("retry-after", "5"), ("x-ratelimit-resource", "Core")]),
                "TF400733: Request was blocked", 1, Some(RetryAfter(secs(5)))),
            ("Azure 429 with only a reset", 429, headers(&[("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1010")]), "", 1, Some(UntilReset(secs(10)))),
        ];
        for (name, status, headers, body, in_a_row, expected) in cases {
            let got = rate_limit_wait(
                StatusCode::from_u16(status).unwrap(),
                &headers,
                body.as_bytes(),
                now,
                in_a_row,
                minute,
            );
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn the_budget_is_read_from_either_header() {
        assert_eq!(rate_limit_budget(&headers(&[])), None);
        assert_eq!(
            rate_limit_budget(&headers(&[
                ("x-ratelimit-remaining", "4999"),
                ("x-ratelimit-reset", "1700000000")
            ])),
            Some(Budget {
                remaining: Some(4999),
                reset: Some(1_700_000_000)
            })
        );
        assert_eq!(
            rate_limit_budget(&headers(&[("X-RateLimit-Remaining", "0")])),
            Some(Budget {
                remaining: Some(0),
                reset: None
            })
        );
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
