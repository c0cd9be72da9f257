//! Release channels over HTTP: GitHub releases, npm, PyPI and the MCP Registry.
//!
//! Owns: the request and response shapes of each registry (one file each), the conditional
//! requests that make an unchanged channel cost one cheap request per page, the checks on what
//! comes back (status, content type, size, JSON shape), and two pure policies built on the
//! published releases: the cooldown ([`cooldown_passed`]) and the cross-check of registries
//! against git tags ([`cross_check`]).
//!
//! Retries, backoff, `Retry-After` and rate-limit waits are the shared client's
//! ([`crate::forge::http::HttpClient`]); this module never sleeps or loops on errors itself.
//! It does not know about the state store (the store implements [`ConditionalCache`]), the
//! tag pattern or the prerelease policy (callers apply them to the returned releases).
//!
//! A failed lookup is always an error ([`ChannelError`]), never an empty list: a channel that
//! cannot be read must not look like a channel without a new release.

mod cooldown;
mod crosscheck;
mod github;
mod mcp_registry;
mod npm;
mod pypi;

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, ETAG, HeaderName, HeaderValue, IF_NONE_MATCH};
use serde::{Deserialize, Serialize};

use super::version::{Version, VersionScheme};
use crate::config::ChannelConfig;
use crate::forge::ForgeError;
use crate::forge::http::{Auth, HttpClient, HttpSettings, Request, Response, truncate_body};
use crate::secret::Secret;

pub use cooldown::{cooldown_passed, is_security_release, proposable_at};
pub use crosscheck::{Discrepancy, DiscrepancyKind, cross_check};
pub use github::parse_link_next;

/// The public npm registry.
pub const DEFAULT_NPM_REGISTRY: &str = "https://registry.npmjs.org";
/// The public Python package index.
pub const DEFAULT_PYPI_INDEX: &str = "https://pypi.org";
/// The official MCP Registry.
pub const DEFAULT_MCP_REGISTRY: &str = "https://registry.modelcontextprotocol.io";
/// The public GitHub REST API.
pub const DEFAULT_GITHUB_API: &str = "https://api.github.com";

/// Responses larger than this are refused: no registry answer for one package comes close, so a
/// bigger one is a wrong URL or a hostile server.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Release notes are cut to this many bytes (on a character boundary).
pub const NOTES_LIMIT: usize = 16 * 1024;
/// Paginated channels (GitHub, MCP Registry) stop after this many pages, with a warning.
pub const MAX_PAGES: usize = 20;

/// One release as a channel publishes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChannelRelease {
    /// The version as published. GitHub: the tag name with one leading `v` stripped.
    pub version: String,
    /// The git tag it names, when the channel knows (GitHub releases).
    pub tag: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// The channel's own prerelease flag, or else what the version scheme says.
    pub prerelease: bool,
    /// Release notes (GitHub release body), cut to [`NOTES_LIMIT`] bytes.
    pub notes: Option<String>,
    /// The release or package page for people.
    pub url: Option<String>,
}

/// What one lookup found.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    /// Ordered by version, oldest first, under the lookup's scheme. GitHub releases whose
    /// version does not parse come first (by tag name): the caller may still match their tag.
    pub releases: Vec<ChannelRelease>,
    /// True when every page was answered `304 Not Modified` (the releases come from the cache).
    pub not_modified: bool,
}

/// Persisted conditional-request cache: the last `ETag` and body seen per URL.
///
/// The state store implements it; [`MemoryCache`] is the in-process one. The body is opaque to
/// the cache (this module stores what it needs to replay a page, not only the raw response).
pub trait ConditionalCache: Send + Sync {
    /// The ETag and body last stored for `url`.
    fn get(&self, url: &str) -> Option<(String, Vec<u8>)>;
    /// Replaces the entry for `url`.
    fn put(&self, url: &str, etag: &str, body: &[u8]);
}

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

/// Where a server's releases are published, with that channel's own options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelSpec {
    /// `GET {api_url}/repos/{owner}/{repo}/releases`, token sent as a bearer token.
    GithubReleases {
        api_url: String,
        owner: String,
        repo: String,
        token: Option<Secret>,
    },
    /// `GET {registry}/{package}` (the full packument); the token is sent as
    /// `Authorization: Bearer`, as npm sends a registry's `_authToken`.
    Npm {
        registry: String,
        package: String,
        token: Option<Secret>,
    },
    /// `GET {index}/pypi/{project}/json`; the token is sent with `username` by HTTP Basic, the
    /// authentication pip documents for private indexes ("Authentication", pip user guide).
    Pypi {
        index: String,
        project: String,
        username: String,
        token: Option<Secret>,
    },
    /// `GET {registry}/v0.1/servers/{server}/versions` (the stable API version).
    McpRegistry { registry: String, server: String },
}

impl ChannelSpec {
    /// The spec of a configured channel, with its secret read now.
    pub fn resolve(config: &ChannelConfig) -> anyhow::Result<ChannelSpec> {
        Ok(match config {
            ChannelConfig::GithubReleases {
                api_url,
                owner,
                repo,
                token,
            } => ChannelSpec::GithubReleases {
                api_url: api_url.clone(),
                owner: owner.clone(),
                repo: repo.clone(),
                token: token.resolve()?,
            },
            ChannelConfig::Npm {
                registry,
                package,
                token,
            } => ChannelSpec::Npm {
                registry: registry.clone(),
                package: package.clone(),
                token: token.resolve()?,
            },
            ChannelConfig::Pypi {
                index,
                project,
                username,
                token,
            } => ChannelSpec::Pypi {
                index: index.clone(),
                project: project.clone(),
                username: username.clone(),
                token: token.resolve()?,
            },
            ChannelConfig::McpRegistry { registry, server } => ChannelSpec::McpRegistry {
                registry: registry.clone(),
                server: server.clone(),
            },
        })
    }

    /// How requests authenticate: bearer for GitHub and npm, Basic for PyPI.
    fn auth(&self) -> Option<Auth> {
        match self {
            ChannelSpec::GithubReleases { token, .. } | ChannelSpec::Npm { token, .. } => {
                token.clone().map(Auth::Bearer)
            }
            ChannelSpec::Pypi {
                username, token, ..
            } => token.clone().map(|password| Auth::Basic {
                user: username.clone(),
                password,
            }),
            ChannelSpec::McpRegistry { .. } => None,
        }
    }

    /// The channel's name as the config spells it (`github-releases`, `npm`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelSpec::GithubReleases { .. } => "github-releases",
            ChannelSpec::Npm { .. } => "npm",
            ChannelSpec::Pypi { .. } => "pypi",
            ChannelSpec::McpRegistry { .. } => "mcp-registry",
        }
    }
}

/// Why a lookup failed. Callers branch on not-found (a config mistake) and rate limits (try
/// later); everything else is reported as is.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// 404: the package, project, repository or server does not exist there.
    #[error("{channel}: not found: {message}")]
    NotFound {
        channel: &'static str,
        message: String,
    },
    /// 401/403: the token is missing or wrong, or the repository is private.
    #[error("{channel}: unauthorized: {message}")]
    Unauthorized {
        channel: &'static str,
        message: String,
    },
    /// 429 or a rate-limit 403 that outlasted the client's waits.
    #[error("{channel}: rate limited: {message}")]
    RateLimited {
        channel: &'static str,
        message: String,
    },
    /// Network errors, timeouts (including slow-drip bodies) and unexpected statuses.
    #[error("{channel}: request failed: {message}")]
    Request {
        channel: &'static str,
        message: String,
    },
    /// A body that is not JSON by its content type (a login page, a proxy's error page).
    #[error("{channel}: GET {url}: expected JSON, got content type {content_type:?}")]
    WrongContentType {
        channel: &'static str,
        url: String,
        content_type: String,
    },
    /// A body over [`MAX_BODY_BYTES`].
    #[error("{channel}: GET {url}: response body of {bytes} bytes is over the {limit}-byte limit")]
    TooLarge {
        channel: &'static str,
        url: String,
        bytes: usize,
        limit: usize,
    },
    /// JSON that does not decode, or decodes to something that is not this registry's shape.
    #[error("{channel}: GET {url}: unexpected response: {message}")]
    Malformed {
        channel: &'static str,
        url: String,
        message: String,
    },
    /// The channel's settings cannot make a URL (a bad base URL, an empty name).
    #[error("{channel}: invalid settings: {message}")]
    InvalidSpec {
        channel: &'static str,
        message: String,
    },
}

impl ChannelError {
    fn from_forge(channel: &'static str, error: ForgeError) -> Self {
        match error {
            ForgeError::NotFound(message) => ChannelError::NotFound { channel, message },
            ForgeError::Unauthorized(message) => ChannelError::Unauthorized { channel, message },
            ForgeError::RateLimited(message) => ChannelError::RateLimited { channel, message },
            ForgeError::Conflict(message) | ForgeError::Other(message) => {
                ChannelError::Request { channel, message }
            }
        }
    }
}

/// Lists the releases a channel publishes.
///
/// Blocking: call it from a blocking thread, never on a tokio worker. Each call builds its own
/// client from `settings` (the token is bound to the client so that error messages are
/// scrubbed of it). Every page is requested with `If-None-Match` when `cache` has its URL; a
/// 304 replays the cached page. Registry versions that do not parse under `scheme` are skipped
/// with a debug line (as unparsable tags are); npm's deprecated versions, PyPI's yanked or
/// file-less ones and the MCP Registry's deleted ones are skipped too.
pub fn lookup(
    spec: &ChannelSpec,
    settings: &HttpSettings,
    cache: &dyn ConditionalCache,
    scheme: VersionScheme,
) -> Result<Lookup, ChannelError> {
    let channel = spec.kind();
    let client =
        HttpClient::new(settings.clone(), spec.auth()).map_err(|e| ChannelError::Request {
            channel,
            message: format!("{e:#}"),
        })?;
    let mut releases = match spec {
        ChannelSpec::GithubReleases {
            api_url,
            owner,
            repo,
            ..
        } => {
            let client = client
                .with_default_header(
                    reqwest::header::ACCEPT,
                    HeaderValue::from_static("application/vnd.github+json"),
                )
                .with_default_header(
                    HeaderName::from_static("x-github-api-version"),
                    HeaderValue::from_static("2022-11-28"),
                );
            let fetcher = Fetcher {
                client: &client,
                cache,
                channel,
            };
            github::lookup(&fetcher, api_url, owner, repo, scheme)?
        }
        ChannelSpec::Npm {
            registry, package, ..
        } => {
            let fetcher = Fetcher {
                client: &client,
                cache,
                channel,
            };
            npm::lookup(&fetcher, registry, package, scheme)?
        }
        ChannelSpec::Pypi { index, project, .. } => {
            let fetcher = Fetcher {
                client: &client,
                cache,
                channel,
            };
            pypi::lookup(&fetcher, index, project, scheme)?
        }
        ChannelSpec::McpRegistry { registry, server } => {
            let fetcher = Fetcher {
                client: &client,
                cache,
                channel,
            };
            mcp_registry::lookup(&fetcher, registry, server, scheme)?
        }
    };
    sort_releases(&mut releases.releases, scheme);
    Ok(releases)
}

/// Oldest first by version; unparsable versions first, by tag then version text, so the order
/// is repeatable.
fn sort_releases(releases: &mut [ChannelRelease], scheme: VersionScheme) {
    releases.sort_by_cached_key(|r| {
        (
            Version::parse(scheme, &r.version),
            r.tag.clone(),
            r.version.clone(),
        )
    });
}

/// A page of a channel's answer, decoded.
pub(crate) struct Page<T> {
    pub value: T,
    /// The next page from the `Link` header (GitHub), kept across 304s.
    pub link_next: Option<String>,
    pub not_modified: bool,
}

/// Conditional GETs of JSON pages through the shared client and a [`ConditionalCache`].
pub(crate) struct Fetcher<'a> {
    client: &'a HttpClient,
    cache: &'a dyn ConditionalCache,
    pub channel: &'static str,
}

/// Marks cache entries written by this module, so a foreign or older entry is ignored.
const CACHE_MAGIC: &str = "upkeep-channel-page/1 ";

impl Fetcher<'_> {
    /// GETs `url` (conditionally when the cache knows it) and decodes the body with `parse`.
    /// The cache is only updated once `parse` accepted the body, so a bad page is never
    /// replayed.
    pub fn page<T>(
        &self,
        url: &Url,
        parse: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Page<T>, ChannelError> {
        // The key is stored in the state and logged: never with credentials in it.
        let key = &crate::secret::redact_url(url.as_str());
        let cached = self.cache.get(key).and_then(|(etag, raw)| {
            let entry = decode_entry(&raw);
            if entry.is_none() {
                tracing::debug!(url = %key, "ignoring an unreadable conditional-cache entry");
            }
            entry.map(|(next, body)| (etag, next, body))
        });
        let mut request = Request::get(url.clone());
        if let Some((etag, _, _)) = &cached
            && let Ok(value) = HeaderValue::from_str(etag)
        {
            request = request.header(IF_NONE_MATCH, value);
        }
        let response = self
            .client
            .execute(&request)
            .map_err(|e| ChannelError::from_forge(self.channel, e))?;
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
            });
        }
        self.check_body(&response)?;
        let value = parse(&response.body).map_err(|message| {
            self.malformed(
                &response.url,
                format!("{message}: {}", truncate_body(&response.body)),
            )
        })?;
        let link_next = response
            .header_str("link")
            .and_then(github::parse_link_next);
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
        })
    }

    /// Size and content type of a 2xx body.
    fn check_body(&self, response: &Response) -> Result<(), ChannelError> {
        if response.body.len() > MAX_BODY_BYTES {
            return Err(ChannelError::TooLarge {
                channel: self.channel,
                url: response.url.clone(),
                bytes: response.body.len(),
                limit: MAX_BODY_BYTES,
            });
        }
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

/// `application/json`, `application/vnd.github+json`, `application/problem+json`, ...
fn is_json_content_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.ends_with("/json") || essence.ends_with("+json")
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

/// Parses a base URL from the config for building request URLs.
pub(crate) fn base_url(fetcher: &Fetcher<'_>, raw: &str) -> Result<Url, ChannelError> {
    let shown = crate::secret::redact_url(raw);
    let url = Url::parse(raw.trim_end_matches('/'))
        .map_err(|e| fetcher.invalid(format!("base URL {shown:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(fetcher.invalid(format!("base URL {shown:?} is not an http(s) URL")));
    }
    Ok(url)
}

/// Whether `version` is a prerelease under `scheme` (false when it does not parse).
pub(crate) fn scheme_prerelease(scheme: VersionScheme, version: &str) -> bool {
    Version::parse(scheme, version).is_some_and(|v| v.is_prerelease())
}

/// `text` cut to at most `limit` bytes on a character boundary.
pub(crate) fn cap_text(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
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
            "Application/JSON",
        ] {
            assert!(is_json_content_type(ok), "{ok}");
        }
        for bad in [
            "text/html",
            "text/html; charset=utf-8",
            "application/octet-stream",
            "",
        ] {
            assert!(!is_json_content_type(bad), "{bad}");
        }
    }

    #[test]
    fn text_is_capped_on_a_char_boundary() {
        assert_eq!(cap_text("short", 10), "short");
        assert_eq!(cap_text("ééé", 3), "é");
        assert_eq!(cap_text("abcdef", 4), "abcd");
    }

    #[test]
    fn releases_sort_by_version_with_unparsable_first() {
        let release = |version: &str, tag: Option<&str>| ChannelRelease {
            version: version.into(),
            tag: tag.map(String::from),
            published_at: None,
            prerelease: false,
            notes: None,
            url: None,
        };
        let mut releases = vec![
            release("1.10.0", None),
            release("nightly", Some("nightly")),
            release("1.9.0", None),
            release("2.0.0-rc.1", None),
        ];
        sort_releases(&mut releases, VersionScheme::Semver);
        let order: Vec<_> = releases.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(order, ["nightly", "1.9.0", "1.10.0", "2.0.0-rc.1"]);
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
}
