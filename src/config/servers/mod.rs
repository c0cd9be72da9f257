//! `[[servers]]`: one sponsored server each, with its upstream, owners, per-server schedule and
//! license policy; its `release`, `mirror` and `channels` tables validate in their own modules.
//!
//! A server with any problem is left out of the valid config (its diagnostics say why), so the
//! other servers' problems are still all found.

pub mod automerge;
pub mod channels;
pub mod mirror;
pub mod release;

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::ops::Range;

use serde::Deserialize;

use super::advisories::{self, RawServerAdvisories, ServerAdvisories};
use super::diag::Diagnostics;
use super::license::{self, LicensePolicyConfig, RawLicense};
use super::mcp::{self, McpConfig, RawMcp};
use super::raw::S;
use super::schedule::parse_cron;
use super::values;
use channels::{Channel, ChannelConfig, RawChannels};
use mirror::{MirrorConfig, RawMirror};
use release::{RawRelease, ReleaseConfig};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawServer {
    pub name: Option<S<String>>,
    pub upstream: Option<S<String>>,
    pub owners: Option<S<Vec<S<String>>>>,
    pub enabled: Option<S<bool>>,
    pub schedule: Option<S<String>>,
    pub release: Option<S<RawRelease>>,
    pub mirror: Option<S<RawMirror>>,
    pub license: Option<RawLicense>,
    pub mcp: Option<RawMcp>,
    pub advisories: Option<RawServerAdvisories>,
    pub channels: Option<S<RawChannels>>,
    /// Chat destinations of this server (validated in `config::chat`).
    pub chat: Option<super::chat::RawChatList>,
    pub freshness: Option<super::freshness::RawFreshness>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub name: String,
    pub upstream: String,
    pub owners: Vec<String>,
    pub enabled: bool,
    /// A per-server cron schedule for `serve` (None: the main schedule).
    pub schedule: Option<ServerSchedule>,
    pub release: ReleaseConfig,
    pub mirror: MirrorConfig,
    pub license: LicensePolicyConfig,
    /// The MCP surface gate: `[mcp]` with this server's `[servers.mcp]` on top.
    pub mcp: McpConfig,
    /// `[servers.advisories]`: on or off, and the packages when the manifests do not say.
    pub advisories: ServerAdvisories,
    /// Settings of every non-git channel the server uses (as `release.channel` or in `verify`).
    pub channels: BTreeMap<Channel, ChannelConfig>,
    /// `[servers.freshness] max-lag`: this server's own (None: `[freshness] max-lag`).
    pub max_lag: Option<std::time::Duration>,
}

impl ServerConfig {
    /// Who may decide a held MCP surface review by a comment on the rebuild PR: the MCP
    /// approvers (the server's own `[servers.mcp]` list, else `[mcp]`'s), or, where neither is
    /// set, the license approvers (`check` warns about that: `mcp::warn_license_fallback`).
    pub fn mcp_approvers(&self) -> &[license::Approver] {
        self.mcp
            .approvers
            .as_deref()
            .unwrap_or(&self.license.approvers)
    }
}

#[derive(Debug, Clone)]
pub struct ServerSchedule {
    pub expression: String,
    pub schedule: cron::Schedule,
}

/// Every `[[servers]]` entry that is valid, in config order. `license` is the top-level policy
/// each server's own table overrides.
pub fn validate_all(
    raw: Vec<S<RawServer>>,
    license: &LicensePolicyConfig,
    mcp: &McpConfig,
    d: &mut Diagnostics<'_>,
) -> Vec<ServerConfig> {
    // Each name's first place, so a duplicate can point at both copies.
    let mut names: HashMap<String, Range<usize>> = HashMap::new();
    let mut servers = Vec::new();
    for s in raw {
        let span = s.span();
        if let Some(server) = validate(s.into_inner(), span, (license, mcp), &mut names, d) {
            servers.push(server);
        }
    }
    servers
}

fn validate(
    s: RawServer,
    span: Range<usize>,
    (license, mcp): (&LicensePolicyConfig, &McpConfig),
    names: &mut HashMap<String, Range<usize>>,
    d: &mut Diagnostics<'_>,
) -> Option<ServerConfig> {
    let before = d.items.len();
    let name = name(s.name.as_ref(), &span, names, d);
    let who = if name.is_empty() {
        "server".to_string()
    } else {
        format!("server `{name}`")
    };
    // Where a missing key is reported: the server's name, else the whole entry.
    let at = s.name.as_ref().map_or(span.clone(), S::span);
    let upstream = upstream(s.upstream.as_ref(), &at, &who, d);
    let owners = owners(s.owners.as_ref(), &at, &who, d);
    let release = release::validate(s.release.as_ref(), &who, span.clone(), d);
    let mirror = mirror::validate(s.mirror.as_ref(), &who, span.clone(), d);
    let server_license = license::validate(s.license.as_ref(), Some(license), d);
    let server_mcp = mcp::validate(s.mcp.as_ref(), Some(mcp), d);
    let server_advisories = advisories::validate_server(s.advisories.as_ref(), &who, d);
    let max_lag = super::freshness::max_lag(s.freshness.as_ref(), d);
    let channels = release
        .as_ref()
        .map(|r| channels::validate(s.channels.as_ref(), r, &upstream, &who, span.clone(), d))
        .unwrap_or_default();
    let schedule = s
        .schedule
        .as_ref()
        .and_then(|c| match parse_cron(c.get_ref()) {
            Ok(schedule) => Some(ServerSchedule {
                expression: c.get_ref().clone(),
                schedule,
            }),
            Err(msg) => {
                d.at(Some(c.span()), "invalid-cron", format!("{who}: {msg}"));
                None
            }
        });
    if let Some(m) = &mirror {
        let lists = [
            Some((&server_license.approvers[..], license::Review::License)),
            // Only a list of their own: one that falls back was warned about as the license's.
            (server_mcp.approvers.as_deref()).map(|a| (a, license::Review::Mcp)),
        ];
        for list in lists.into_iter().flatten() {
            license::warn_foreign_approvers(list, &m.forge, &who, at.clone(), d);
        }
    }
    if d.items.len() > before {
        return None;
    }
    Some(ServerConfig {
        name,
        upstream,
        owners,
        enabled: s.enabled.as_ref().is_none_or(|e| *e.get_ref()),
        schedule,
        release: release?,
        mirror: mirror?,
        license: server_license,
        mcp: server_mcp,
        advisories: server_advisories,
        channels,
        max_lag,
    })
}

/// The server's name: present, of the safe alphabet, and not taken by an earlier entry.
fn name(
    raw: Option<&S<String>>,
    span: &Range<usize>,
    names: &mut HashMap<String, Range<usize>>,
    d: &mut Diagnostics<'_>,
) -> String {
    let Some(n) = raw else {
        d.at(
            Some(span.clone()),
            "missing-key",
            "[[servers]] entry without `name`",
        );
        return String::new();
    };
    let v = n.get_ref();
    if !valid_server_name(v) {
        d.at(
            Some(n.span()),
            "invalid-name",
            format!(
                "server name `{v}` must be 1-64 characters of a-z, 0-9, '-', '_', '.' \
                 (it becomes the branch upkeep/<name>)"
            ),
        );
    } else if let Some(first) = names.get(v) {
        d.at_with(
            Some(n.span()),
            "duplicate-server",
            format!("duplicate server name `{v}`"),
            vec![(first.clone(), "first defined here".to_string())],
        );
    } else {
        names.insert(v.clone(), n.span());
    }
    v.clone()
}

/// A server name becomes a branch name (`upkeep/<name>`), a file name and an email subject:
/// keep it to a safe alphabet.
fn valid_server_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with(['.', '-'])
        && !name.contains("..")
        && !name.ends_with(".lock")
}

fn upstream(
    raw: Option<&S<String>>,
    at: &Range<usize>,
    who: &str,
    d: &mut Diagnostics<'_>,
) -> String {
    match raw {
        None => {
            d.at(
                Some(at.clone()),
                "missing-key",
                format!("{who} has no `upstream`"),
            );
            String::new()
        }
        Some(u) if u.get_ref().trim().is_empty() => {
            d.at(
                Some(u.span()),
                "invalid-value",
                format!("{who}: `upstream` is empty"),
            );
            String::new()
        }
        Some(u) => u.get_ref().clone(),
    }
}

fn owners(
    raw: Option<&S<Vec<S<String>>>>,
    at: &Range<usize>,
    who: &str,
    d: &mut Diagnostics<'_>,
) -> Vec<String> {
    let Some(list) = raw else {
        d.at(
            Some(at.clone()),
            "missing-key",
            format!("{who} has no `owners` (the people emailed about license changes)"),
        );
        return Vec::new();
    };
    if list.get_ref().is_empty() {
        d.at(
            Some(list.span()),
            "invalid-value",
            format!("{who}: `owners` is empty"),
        );
    }
    list.get_ref()
        .iter()
        .map(|o| values::email(d, o, &format!("{who}: owner")))
        .collect()
}
