//! `[servers.channels]`: where each non-git release channel a server uses looks (its release
//! channel, and every registry it cross-checks in `verify`), and how it is read (npm's
//! `dist-tag`). Settings that work but will surprise are warnings (`pypi` under a scheme other
//! than `pep440`), worded by [`advice`].

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;

use super::release::ReleaseConfig;
use crate::config::diag::Diagnostics;
use crate::config::raw::S;
use crate::config::secrets::{SecretRef, secret_ref};
use crate::config::urls::{Endpoint, http_url};
use crate::upstream::channels::advice;
use crate::upstream::version::VersionScheme;

/// The npm dist-tag followed when none is configured: what `npm install <pkg>` installs (the
/// channels' `DEFAULT_DIST_TAG`, which the config may not name).
const DEFAULT_DIST_TAG: &str = "latest";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawChannels {
    pub github_releases: Option<S<RawGithubChannel>>,
    pub npm: Option<S<RawNpmChannel>>,
    pub pypi: Option<S<RawPypiChannel>>,
    pub mcp_registry: Option<S<RawMcpChannel>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawGithubChannel {
    pub repo: Option<S<String>>,
    pub api_url: Option<S<String>>,
    pub token_env: Option<S<String>>,
    pub token_file: Option<S<String>>,
    pub allow_insecure: Option<S<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawNpmChannel {
    pub package: Option<S<String>>,
    pub registry: Option<S<String>>,
    /// Sent as `Authorization: Bearer` (npm's `_authToken`).
    pub token_env: Option<S<String>>,
    pub token_file: Option<S<String>>,
    pub allow_insecure: Option<S<bool>>,
    /// The dist-tag whose version caps what is proposed (default `latest`).
    pub dist_tag: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawPypiChannel {
    pub project: Option<S<String>>,
    pub index: Option<S<String>>,
    /// HTTP Basic user name sent with the token (default `__token__`).
    pub username: Option<S<String>>,
    pub token_env: Option<S<String>>,
    pub token_file: Option<S<String>>,
    pub allow_insecure: Option<S<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawMcpChannel {
    pub server: Option<S<String>>,
    pub registry: Option<S<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    GitTags,
    GithubReleases,
    Npm,
    Pypi,
    McpRegistry,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::GitTags => "git-tags",
            Channel::GithubReleases => "github-releases",
            Channel::Npm => "npm",
            Channel::Pypi => "pypi",
            Channel::McpRegistry => "mcp-registry",
        }
    }

    pub(super) fn parse(s: &str) -> Option<Channel> {
        [
            Channel::GitTags,
            Channel::GithubReleases,
            Channel::Npm,
            Channel::Pypi,
            Channel::McpRegistry,
        ]
        .into_iter()
        .find(|c| c.name() == s)
    }
}

/// Where a non-git release channel looks (secrets still unresolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelConfig {
    GithubReleases {
        api_url: String,
        owner: String,
        repo: String,
        token: SecretRef,
    },
    /// `token` is sent as a bearer token, as npm sends `_authToken`.
    Npm {
        registry: String,
        package: String,
        token: SecretRef,
        dist_tag: String,
    },
    /// `token` is sent with `username` by HTTP Basic, the authentication pip documents for
    /// private indexes.
    Pypi {
        index: String,
        project: String,
        username: String,
        token: SecretRef,
    },
    McpRegistry {
        registry: String,
        server: String,
    },
}

/// The settings of every channel `release` uses; `span` is the server's, for a missing table.
pub fn validate(
    raw: Option<&S<RawChannels>>,
    release: &ReleaseConfig,
    upstream: &str,
    who: &str,
    span: Range<usize>,
    d: &mut Diagnostics<'_>,
) -> BTreeMap<Channel, ChannelConfig> {
    let mut used: Vec<Channel> = release.verify.clone();
    if release.channel != Channel::GitTags {
        used.push(release.channel);
    }
    let empty = RawChannels::default();
    let (r, rspan) = raw.map_or((&empty, span), |r| (r.get_ref(), r.span()));
    let mut out = BTreeMap::new();
    for c in used {
        let cfg = match c {
            Channel::GitTags => continue,
            Channel::GithubReleases => github(r, upstream, who, &rspan, d),
            Channel::Npm => r.npm.as_ref().and_then(|n| npm(n.get_ref(), who, d)),
            Channel::Pypi => {
                let cfg = r.pypi.as_ref().and_then(|p| pypi(p.get_ref(), who, d));
                if cfg.is_some() {
                    pypi_scheme(release.scheme, r.pypi.as_ref().map(S::span), who, d);
                }
                cfg
            }
            Channel::McpRegistry => r
                .mcp_registry
                .as_ref()
                .and_then(|m| mcp(m.get_ref(), who, d)),
        };
        match cfg {
            Some(cfg) => {
                out.insert(c, cfg);
            }
            None => {
                let key = match c {
                    Channel::GithubReleases => "repo",
                    Channel::Npm => "package",
                    Channel::Pypi => "project",
                    Channel::McpRegistry | Channel::GitTags => "server",
                };
                d.at(
                    Some(rspan.clone()),
                    "missing-key",
                    format!(
                        "{who}: channel `{}` needs [servers.channels] {} = {{ {key} = \"...\" }}",
                        c.name(),
                        c.name()
                    ),
                );
            }
        }
    }
    out
}

/// A URL or name as written, without a trailing `/`; `default` when absent.
fn text(v: Option<&S<String>>, default: &str) -> String {
    v.map_or_else(
        || default.to_string(),
        |x| x.get_ref().trim_end_matches('/').to_string(),
    )
}

/// The prefix of messages about one channel: ``server `x`: channel `npm`: ``.
fn prefix(who: &str, channel: Channel) -> String {
    format!("{who}: channel `{}`: ", channel.name())
}

/// None when no repo is named and the upstream is not on GitHub.
fn github(
    r: &RawChannels,
    upstream: &str,
    who: &str,
    span: &Range<usize>,
    d: &mut Diagnostics<'_>,
) -> Option<ChannelConfig> {
    let g = r.github_releases.as_ref().map(S::get_ref);
    let (owner, repo) = match g.and_then(|g| g.repo.as_ref()) {
        Some(x) => x
            .get_ref()
            .split_once('/')
            .map(|(o, n)| (o.to_string(), n.to_string())),
        None => github_repo_of(upstream),
    }?;
    let token = g.map_or(SecretRef::None, |g| {
        secret_ref(d, g.token_env.as_ref(), g.token_file.as_ref(), "token")
    });
    let at = Endpoint {
        who: &prefix(who, Channel::GithubReleases),
        key: "api-url",
        secret: &token,
        allow_insecure: g.and_then(|g| g.allow_insecure.as_ref()),
    };
    let has_token = !matches!(token, SecretRef::None);
    let api_url = http_url(
        d,
        g.and_then(|g| g.api_url.as_ref()),
        "https://api.github.com",
        &at,
    );
    if let Some(a) = advice::github_token(&api_url, has_token) {
        let at = r.github_releases.as_ref().map_or(span.clone(), S::span);
        d.warn(Some(at), a.code, format!("{who}: {}", a.message));
    }
    Some(ChannelConfig::GithubReleases {
        api_url,
        owner,
        repo,
        token,
    })
}

fn npm(n: &RawNpmChannel, who: &str, d: &mut Diagnostics<'_>) -> Option<ChannelConfig> {
    let package = text(Some(n.package.as_ref()?), "");
    let token = secret_ref(d, n.token_env.as_ref(), n.token_file.as_ref(), "token");
    let at = Endpoint {
        who: &prefix(who, Channel::Npm),
        key: "registry",
        secret: &token,
        allow_insecure: n.allow_insecure.as_ref(),
    };
    Some(ChannelConfig::Npm {
        registry: http_url(d, n.registry.as_ref(), "https://registry.npmjs.org", &at),
        package,
        token,
        dist_tag: n
            .dist_tag
            .as_ref()
            .map_or(DEFAULT_DIST_TAG.to_string(), |t| dist_tag(t, who, d)),
    })
}

/// A dist-tag as npm accepts one: no whitespace, and not something that reads as a version or
/// a semver range ("Tags that can be interpreted as valid semver ranges will be rejected",
/// npm docs, `npm dist-tag`, Caveats), since `npm install <pkg>@<tag>` puts both in one slot.
/// A rejected one is reported with the nearest thing that would work.
fn dist_tag(raw: &S<String>, who: &str, d: &mut Diagnostics<'_>) -> String {
    let tag = raw.get_ref();
    let problem = if tag.trim().is_empty() {
        Some(format!(
            "{who}: npm `dist-tag` is empty; leave it out to follow `{DEFAULT_DIST_TAG}`"
        ))
    } else if tag.chars().any(char::is_whitespace) {
        // One word with spaces around it was meant as that word; several, as one tag.
        let meant = tag.split_whitespace().collect::<Vec<_>>().join("-");
        Some(format!(
            "{who}: npm `dist-tag` {tag:?} has whitespace, which no npm tag has; did you mean \
             `{meant}`?"
        ))
    } else if looks_like_a_version(tag) {
        Some(format!(
            "{who}: npm `dist-tag` `{tag}` reads as a version or range, and npm refuses such \
             tags; a dist-tag names a stream: did you mean `{DEFAULT_DIST_TAG}` or `next`? \
             (`npm dist-tag ls <package>` lists the package's tags)"
        ))
    } else {
        None
    };
    match problem {
        Some(message) => {
            d.at(Some(raw.span()), "invalid-dist-tag", message);
            String::new()
        }
        None => tag.clone(),
    }
}

/// Whether `tag` reads as a semver version or range (`1.2.0`, `v2`, `^1.4`, `>=2`, `1.x`, `*`):
/// range operators and a `v` stripped, what is left starts with a digit or a wildcard.
fn looks_like_a_version(tag: &str) -> bool {
    let rest = tag.trim_start_matches(['^', '~', '<', '>', '=', 'v', 'V']);
    rest.starts_with(|c: char| c.is_ascii_digit())
        || matches!(rest, "*" | "x" | "X")
        || ["*.", "x.", "X."].iter().any(|p| rest.starts_with(p))
}

/// Warns when a `pypi` channel is read under a scheme that loses PEP 440 versions.
fn pypi_scheme(
    scheme: VersionScheme,
    span: Option<Range<usize>>,
    who: &str,
    d: &mut Diagnostics<'_>,
) {
    if let Some(a) = advice::pypi_scheme(scheme) {
        d.warn(span, a.code, format!("{who}: {}", a.message));
    }
}

fn pypi(p: &RawPypiChannel, who: &str, d: &mut Diagnostics<'_>) -> Option<ChannelConfig> {
    let project = text(Some(p.project.as_ref()?), "");
    let token = secret_ref(d, p.token_env.as_ref(), p.token_file.as_ref(), "token");
    let at = Endpoint {
        who: &prefix(who, Channel::Pypi),
        key: "index",
        secret: &token,
        allow_insecure: p.allow_insecure.as_ref(),
    };
    Some(ChannelConfig::Pypi {
        index: http_url(d, p.index.as_ref(), "https://pypi.org", &at),
        project,
        // PyPI's own convention for API tokens; private indexes take their user name here.
        username: text(p.username.as_ref(), "__token__"),
        token,
    })
}

fn mcp(m: &RawMcpChannel, who: &str, d: &mut Diagnostics<'_>) -> Option<ChannelConfig> {
    let at = Endpoint {
        who: &prefix(who, Channel::McpRegistry),
        key: "registry",
        secret: &SecretRef::None,
        allow_insecure: None,
    };
    Some(ChannelConfig::McpRegistry {
        server: text(Some(m.server.as_ref()?), ""),
        registry: http_url(
            d,
            m.registry.as_ref(),
            "https://registry.modelcontextprotocol.io",
            &at,
        ),
    })
}

/// `owner/repo` of a GitHub upstream URL, for the github-releases channel's default.
fn github_repo_of(upstream: &str) -> Option<(String, String)> {
    let rest = upstream
        .strip_prefix("https://github.com/")
        .or_else(|| upstream.strip_prefix("git@github.com:"))
        .or_else(|| upstream.strip_prefix("ssh://git@github.com/"))?;
    let (owner, repo) = rest
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .split_once('/')?;
    (!owner.is_empty() && !repo.is_empty() && !repo.contains('/'))
        .then(|| (owner.to_string(), repo.to_string()))
}
