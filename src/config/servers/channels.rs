//! `[servers.channels]`: where each non-git release channel a server uses looks (its release
//! channel, and every registry it cross-checks in `verify`).

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;

use super::release::ReleaseConfig;
use crate::config::diag::Diagnostics;
use crate::config::raw::S;
use crate::config::secrets::{SecretRef, secret_ref};
use crate::upstream::channels::advice;

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
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawNpmChannel {
    pub package: Option<S<String>>,
    pub registry: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawPypiChannel {
    pub project: Option<S<String>>,
    pub index: Option<S<String>>,
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
    Npm {
        registry: String,
        package: String,
    },
    Pypi {
        index: String,
        project: String,
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
            Channel::Npm => r.npm.as_ref().map(S::get_ref).and_then(npm),
            Channel::Pypi => r.pypi.as_ref().map(S::get_ref).and_then(pypi),
            Channel::McpRegistry => r.mcp_registry.as_ref().map(S::get_ref).and_then(mcp),
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
    let api_url = text(g.and_then(|g| g.api_url.as_ref()), "https://api.github.com");
    let token = g.map_or(SecretRef::None, |g| {
        secret_ref(d, g.token_env.as_ref(), g.token_file.as_ref(), "token")
    });
    if let Some(a) = advice::github_token(&api_url, !matches!(token, SecretRef::None)) {
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

fn npm(n: &RawNpmChannel) -> Option<ChannelConfig> {
    Some(ChannelConfig::Npm {
        package: text(Some(n.package.as_ref()?), ""),
        registry: text(n.registry.as_ref(), "https://registry.npmjs.org"),
    })
}

fn pypi(p: &RawPypiChannel) -> Option<ChannelConfig> {
    Some(ChannelConfig::Pypi {
        project: text(Some(p.project.as_ref()?), ""),
        index: text(p.index.as_ref(), "https://pypi.org"),
    })
}

fn mcp(m: &RawMcpChannel) -> Option<ChannelConfig> {
    Some(ChannelConfig::McpRegistry {
        server: text(Some(m.server.as_ref()?), ""),
        registry: text(
            m.registry.as_ref(),
            "https://registry.modelcontextprotocol.io",
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
