//! Release channels over HTTP: GitHub releases, npm, PyPI and the MCP Registry.
//!
//! Owns: the request and response shapes of each registry (one file each), the conditional
//! requests that make an unchanged channel cost one cheap request per page (`fetch`), the
//! checks on what comes back (status, content type, size while it streams in, JSON shape), what
//! each registry holds back from a default install ([`Withheld`]: npm deprecations and versions
//! above the followed dist-tag, PyPI yanks, MCP Registry deletions), and pure policies built on
//! the published releases: the cooldown ([`cooldown_passed`]), the cross-check of registries
//! against git tags ([`verify`]) and the advice `check` gives about channel settings
//! ([`advice`]).
//!
//! Retries, backoff, `Retry-After` and rate-limit waits are the shared client's
//! ([`crate::http::HttpClient`]); this module never sleeps or loops on errors itself.
//! It does not know about the state store (the store implements [`ConditionalCache`]), the
//! tag pattern or the prerelease policy (callers apply them to the returned releases).
//!
//! A failed lookup is always an error ([`ChannelError`]), never an empty list: a channel that
//! cannot be read must not look like a channel without a new release.

pub mod advice;
mod cooldown;
mod crosscheck;
mod fetch;
mod github;
mod mcp_registry;
mod npm;
mod pypi;

use chrono::{DateTime, Utc};
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::version::{Version, VersionScheme};
use crate::config::ChannelConfig;
use crate::http::{Auth, HttpSettings, Pool};
use crate::secret::Secret;

pub use cooldown::{cooldown_passed, is_security_release, proposable_at};
pub use crosscheck::{CrossCheck, Discrepancy, DiscrepancyKind, Pending, cross_check, verify};
pub use fetch::{ConditionalCache, MemoryCache};
pub use github::parse_link_next;

pub(crate) use fetch::Fetcher;

/// The public npm registry.
pub const DEFAULT_NPM_REGISTRY: &str = "https://registry.npmjs.org";
/// The public Python package index.
pub const DEFAULT_PYPI_INDEX: &str = "https://pypi.org";
/// The official MCP Registry.
pub const DEFAULT_MCP_REGISTRY: &str = "https://registry.modelcontextprotocol.io";
/// The public GitHub REST API.
pub const DEFAULT_GITHUB_API: &str = "https://api.github.com";
/// The npm dist-tag followed when none is configured: what `npm install <pkg>` installs.
pub const DEFAULT_DIST_TAG: &str = "latest";

/// Responses larger than this (after decompression) are refused while they stream in: no
/// registry answer for one package comes close, so a bigger one is a wrong URL or a hostile
/// server.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Release notes are cut to this many bytes (on a character boundary).
pub const NOTES_LIMIT: usize = 16 * 1024;
/// A registry's own words about a version (a deprecation message, a yank reason) are cut to
/// this many characters, on one line.
pub const REASON_LIMIT: usize = 200;
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

/// What one lookup found: the releases that may be proposed.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    /// Ordered by version, oldest first, under the lookup's scheme. GitHub releases whose
    /// version does not parse come first (by tag name): the caller may still match their tag.
    /// Withheld versions ([`Observation::withheld`]) are never in it.
    pub releases: Vec<ChannelRelease>,
    /// True when every page was answered `304 Not Modified` (the releases come from the cache).
    pub not_modified: bool,
}

/// Everything one lookup learned: the releases that may be proposed, the versions the registry
/// holds back, and what people should be told about the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub lookup: Lookup,
    /// Versions the registry has but does not offer, ordered by version (unparsable first).
    /// The cross-check ([`verify`]) names a tagged one for what it is, never as missing.
    pub withheld: Vec<Withheld>,
    /// For the run report's notes.
    pub notices: Vec<Notice>,
    /// The rate-limit budget the last response reported (GitHub sends it on every answer).
    pub rate_limit: Option<RateBudget>,
}

/// Why a registry holds a version back from a default install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WithheldReason {
    /// npm: the version carries a `deprecated` message (`npm deprecate`).
    Deprecated,
    /// PyPI: every file of the version is yanked (PEP 592).
    Yanked,
    /// MCP Registry: the version's status is `deleted`.
    Deleted,
    /// npm: the version is above the one the followed dist-tag names (published under another
    /// tag, or `latest` was moved back from it).
    AboveDistTag,
}

/// A version the registry has but does not offer for a default install: never proposed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withheld {
    pub version: String,
    pub reason: WithheldReason,
    /// The registry's words, on one line and cut to [`REASON_LIMIT`] characters: the
    /// deprecation message, the yank reason, or for [`WithheldReason::AboveDistTag`] which
    /// version the dist-tag names (`` `latest` is 1.2.0 ``).
    pub detail: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// What the version scheme says (false when the version does not parse), so a caller can
    /// apply the same prerelease policy as to [`Lookup::releases`].
    pub prerelease: bool,
}

impl Withheld {
    /// A withheld version, its prerelease flag from `scheme`.
    pub(crate) fn new(
        version: String,
        reason: WithheldReason,
        detail: Option<String>,
        published_at: Option<DateTime<Utc>>,
        scheme: VersionScheme,
    ) -> Self {
        Self {
            prerelease: scheme_prerelease(scheme, &version),
            version,
            reason,
            detail,
            published_at,
        }
    }
}

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// npm: the followed dist-tag names an older version than at the last look: the publisher
    /// rolled back. Said once, on the lookup that first sees the older version.
    DistTagMovedBack,
    /// The registry publishes versions the server's version scheme cannot read: skipped.
    Unparsable,
    /// Less than a tenth of the rate-limit budget is left.
    RateLimitLow,
}

/// Something a lookup learned that people should read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub channel: String,
    pub kind: NoticeKind,
    /// One sentence for people.
    pub detail: String,
}

/// The rate-limit budget a response reported (`x-ratelimit-limit`, `-remaining`, `-reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateBudget {
    pub limit: u64,
    pub remaining: u64,
    pub reset: Option<DateTime<Utc>>,
}

/// How to read a channel, beyond where it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupOptions {
    /// Versions that do not parse under it are skipped (GitHub keeps them: see [`Lookup`]).
    pub scheme: VersionScheme,
    /// npm: the dist-tag whose version caps what is proposed; `None` follows
    /// [`DEFAULT_DIST_TAG`]. Other channels ignore it.
    pub dist_tag: Option<String>,
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
    /// `GET {index}/simple/{project}/` (PEP 691 JSON), else `GET {index}/pypi/{project}/json`;
    /// the token is sent with `username` by HTTP Basic, the authentication pip documents for
    /// private indexes ("Authentication", pip user guide).
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
                ..
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
    /// 406: the server offers none of the formats asked for (content negotiation, PEP 691).
    #[error(
        "{channel}: GET {url}: 406 Not Acceptable: the server offers none of the formats asked for"
    )]
    NotAcceptable { channel: &'static str, url: String },
    /// A body that is not JSON by its content type (a login page, a proxy's error page).
    #[error("{channel}: GET {url}: expected JSON, got content type {content_type:?}")]
    WrongContentType {
        channel: &'static str,
        url: String,
        content_type: String,
    },
    /// A body over [`MAX_BODY_BYTES`], refused while it streamed in.
    #[error("{channel}: {message}")]
    TooLarge {
        channel: &'static str,
        message: String,
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
    fn from_http(channel: &'static str, error: crate::http::Error) -> Self {
        use crate::http::Error as ForgeError;
        match error {
            ForgeError::NotFound(message) => ChannelError::NotFound { channel, message },
            ForgeError::Unauthorized(message) => ChannelError::Unauthorized { channel, message },
            ForgeError::RateLimited(message) => ChannelError::RateLimited { channel, message },
            ForgeError::TooLarge(message) => ChannelError::TooLarge { channel, message },
            // Channels only read: a write's uncertain outcome cannot happen here.
            ForgeError::Conflict(message)
            | ForgeError::MaybeApplied(message)
            | ForgeError::Unsupported(message)
            | ForgeError::Other(message) => ChannelError::Request { channel, message },
        }
    }
}

/// Lists the releases a channel publishes: [`observe`] without what it adds. Kept for callers
/// that read only the releases.
pub fn lookup(
    spec: &ChannelSpec,
    settings: &HttpSettings,
    cache: &dyn ConditionalCache,
    scheme: VersionScheme,
) -> Result<Lookup, ChannelError> {
    let options = LookupOptions {
        scheme,
        ..LookupOptions::default()
    };
    observe(spec, &options, settings, cache).map(|o| o.lookup)
}

/// [`lookup`] on the process's connection pool (the pipeline reads [`observe_on`]).
pub fn lookup_on(
    pool: &Pool,
    spec: &ChannelSpec,
    settings: &HttpSettings,
    cache: &dyn ConditionalCache,
    scheme: VersionScheme,
) -> Result<Lookup, ChannelError> {
    let options = LookupOptions {
        scheme,
        ..LookupOptions::default()
    };
    observe_on(pool, spec, &options, settings, cache).map(|o| o.lookup)
}

/// [`observe_on`] on a connection pool of its own (tests, one-off tools).
pub fn observe(
    spec: &ChannelSpec,
    options: &LookupOptions,
    settings: &HttpSettings,
    cache: &dyn ConditionalCache,
) -> Result<Observation, ChannelError> {
    let pool = Pool::new(settings.connect_timeout).map_err(|e| ChannelError::Request {
        channel: spec.kind(),
        message: format!("{e:#}"),
    })?;
    observe_on(&pool, spec, options, settings, cache)
}

/// Reads a channel: the releases that may be proposed, the versions it withholds, notices.
///
/// Blocking: call it from a blocking thread, never on a tokio worker. Each call builds its own
/// client from `settings` (the channel's token is bound to the client, so every request carries it,
/// conditional ones included, and error messages are scrubbed of it). Every page is requested
/// with `If-None-Match` when `cache` has its URL; a 304 replays the cached page. Versions that do
/// not parse under the scheme are skipped and named in one [`NoticeKind::Unparsable`] notice.
pub fn observe_on(
    pool: &Pool,
    spec: &ChannelSpec,
    options: &LookupOptions,
    settings: &HttpSettings,
    cache: &dyn ConditionalCache,
) -> Result<Observation, ChannelError> {
    let channel = spec.kind();
    let scheme = options.scheme;
    let mut client = pool
        .client(settings.clone(), spec.auth())
        .map_err(|e| ChannelError::Request {
            channel,
            message: format!("{e:#}"),
        })?
        .with_body_limit(MAX_BODY_BYTES);
    if let ChannelSpec::GithubReleases { .. } = spec {
        client = client
            .with_default_header(
                reqwest::header::ACCEPT,
                HeaderValue::from_static("application/vnd.github+json"),
            )
            .with_default_header(
                HeaderName::from_static("x-github-api-version"),
                HeaderValue::from_static("2022-11-28"),
            );
    }
    let fetcher = Fetcher::new(&client, cache, channel);
    let mut found = match spec {
        ChannelSpec::GithubReleases {
            api_url,
            owner,
            repo,
            ..
        } => github::lookup(&fetcher, api_url, owner, repo, scheme)?,
        ChannelSpec::Npm {
            registry, package, ..
        } => {
            let tag = options.dist_tag.as_deref().unwrap_or(DEFAULT_DIST_TAG);
            npm::lookup(&fetcher, registry, package, tag, scheme)?
        }
        ChannelSpec::Pypi { index, project, .. } => pypi::lookup(&fetcher, index, project, scheme)?,
        ChannelSpec::McpRegistry { registry, server } => {
            mcp_registry::lookup(&fetcher, registry, server, scheme)?
        }
    };
    sort_releases(&mut found.releases, scheme);
    found.withheld.sort_by_cached_key(|w| {
        (
            Version::parse(scheme, &w.version),
            w.version.clone(),
            w.reason,
        )
    });
    let rate_limit = fetcher.rate_limit();
    let mut notices = found.notices;
    notices.extend(unparsable_notice(channel, scheme, &found.unparsable));
    notices.extend(rate_limit.and_then(|budget| rate_limit_notice(channel, budget)));
    Ok(Observation {
        lookup: Lookup {
            releases: found.releases,
            not_modified: found.not_modified,
        },
        withheld: found.withheld,
        notices,
        rate_limit,
    })
}

/// What one channel module read, before the notices common to all are added.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub releases: Vec<ChannelRelease>,
    pub not_modified: bool,
    pub withheld: Vec<Withheld>,
    /// Versions that do not parse under the scheme (skipped).
    pub unparsable: Vec<String>,
    pub notices: Vec<Notice>,
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

/// How many skipped versions a notice names before it says "and N more".
const NOTICE_LIST_LIMIT: usize = 5;

fn unparsable_notice(channel: &str, scheme: VersionScheme, versions: &[String]) -> Option<Notice> {
    if versions.is_empty() {
        return None;
    }
    let named: Vec<&str> = versions
        .iter()
        .take(NOTICE_LIST_LIMIT)
        .map(String::as_str)
        .collect();
    let more = versions.len().saturating_sub(NOTICE_LIST_LIMIT);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    let hint = advice::scheme_hint(channel, scheme)
        .map(|h| format!("; {h}"))
        .unwrap_or_default();
    Some(Notice {
        channel: channel.to_string(),
        kind: NoticeKind::Unparsable,
        detail: format!(
            "{channel} publishes {}{more}, which the `{}` scheme cannot read: skipped{hint}",
            named.join(", "),
            scheme_name(scheme)
        ),
    })
}

fn rate_limit_notice(channel: &str, budget: RateBudget) -> Option<Notice> {
    if budget.remaining.saturating_mul(10) >= budget.limit {
        return None;
    }
    let reset = budget
        .reset
        .map(|t| format!(" until {}", t.format("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_default();
    Some(Notice {
        channel: channel.to_string(),
        kind: NoticeKind::RateLimitLow,
        detail: format!(
            "{channel}: {} of {} requests left{reset}",
            budget.remaining, budget.limit
        ),
    })
}

/// The scheme's name as the config spells it.
pub(crate) fn scheme_name(scheme: VersionScheme) -> &'static str {
    match scheme {
        VersionScheme::Semver => "semver",
        VersionScheme::Pep440 => "pep440",
        VersionScheme::Calver => "calver",
        VersionScheme::Loose => "loose",
    }
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

/// A registry's free text (a deprecation message, a yank reason) made safe to show on one line:
/// control characters and runs of whitespace become one space, and it is cut to
/// [`REASON_LIMIT`] characters. `None` when nothing is left.
pub(crate) fn one_line(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join(" ");
    if joined.is_empty() {
        return None;
    }
    if joined.chars().count() <= REASON_LIMIT {
        return Some(joined);
    }
    let cut: String = joined.chars().take(REASON_LIMIT - 1).collect();
    Some(format!("{}…", cut.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_capped_on_a_char_boundary() {
        assert_eq!(cap_text("short", 10), "short");
        assert_eq!(cap_text("ééé", 3), "é");
        assert_eq!(cap_text("abcdef", 4), "abcd");
    }

    #[test]
    fn registry_words_become_one_safe_line() {
        assert_eq!(
            one_line("  use\n2.0 \u{1b}[31minstead\t ").as_deref(),
            Some("use 2.0 [31minstead")
        );
        assert_eq!(one_line(" \n\t"), None);
        let long = one_line(&"é".repeat(REASON_LIMIT + 50)).unwrap();
        assert_eq!(long.chars().count(), REASON_LIMIT);
        assert!(long.ends_with('…'));
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
    fn unparsable_versions_are_named_once_with_a_hint_for_pypi() {
        assert_eq!(unparsable_notice("npm", VersionScheme::Semver, &[]), None);
        let versions: Vec<String> = [
            "1.0rc1",
            "1.0.post1",
            "1.1rc1",
            "1.2rc1",
            "1.3rc1",
            "1.4rc1",
        ]
        .map(String::from)
        .to_vec();
        let notice = unparsable_notice("pypi", VersionScheme::Semver, &versions).unwrap();
        assert_eq!(notice.kind, NoticeKind::Unparsable);
        assert!(
            notice.detail.starts_with(
                "pypi publishes 1.0rc1, 1.0.post1, 1.1rc1, 1.2rc1, 1.3rc1 and 1 more, which the \
                 `semver` scheme cannot read: skipped; "
            ),
            "{}",
            notice.detail
        );
        assert!(notice.detail.contains("pep440"), "{}", notice.detail);
    }

    #[test]
    fn a_low_rate_limit_budget_is_a_notice() {
        let budget = |remaining| RateBudget {
            limit: 60,
            remaining,
            reset: DateTime::from_timestamp(1_775_000_000, 0),
        };
        assert_eq!(rate_limit_notice("github-releases", budget(6)), None);
        let low = rate_limit_notice("github-releases", budget(5)).unwrap();
        assert_eq!(low.kind, NoticeKind::RateLimitLow);
        assert!(
            low.detail
                .starts_with("github-releases: 5 of 60 requests left until 2026-"),
            "{}",
            low.detail
        );
    }
}
