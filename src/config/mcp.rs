//! `[mcp]` and `[servers.mcp]`: which severities of MCP surface findings hold a rebuild for
//! review (`hold-on`, default `["high"]`; `[]` turns the gate off), and who may decide a held
//! MCP surface review on the rebuild PR (`approvers`: the security reviewers, apart from the
//! license's legal ones). A server's table overrides the top-level one key by key (its
//! `approvers` replace the global list).
//!
//! Where neither table sets `approvers`, the server's license approvers decide its MCP surface
//! reviews too (what every config did before the list existed), and `check` warns once naming
//! the servers that do so ([`warn_license_fallback`]): never silently nobody, never silently
//! more people than the config names.

use serde::Deserialize;

use super::diag::Diagnostics;
use super::license::{self, Approver};
use super::raw::S;

/// The finding severities `hold-on` may name (the MCP surface's own levels).
pub const SEVERITIES: [&str; 3] = ["low", "medium", "high"];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawMcp {
    pub hold_on: Option<S<Vec<S<String>>>>,
    pub approvers: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpConfig {
    /// Severities (`low`, `medium`, `high`) whose findings hold the rebuild; empty: never.
    pub hold_on: Vec<String>,
    /// Who may approve or decline a held MCP surface review by a comment on the rebuild PR, as
    /// set in `[mcp]` or the server's table. None: not set, so the license approvers decide
    /// (see [`super::ServerConfig::mcp_approvers`]); `Some([])`: the CLI and the API only.
    pub approvers: Option<Vec<Approver>>,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            hold_on: vec!["high".into()],
            approvers: None,
        }
    }
}

/// The gate of `raw`, on top of `parent` (the top-level gate, for a server's table).
pub fn validate(
    raw: Option<&RawMcp>,
    parent: Option<&McpConfig>,
    d: &mut Diagnostics<'_>,
) -> McpConfig {
    let mut config = parent.cloned().unwrap_or_default();
    if let Some(list) = raw.and_then(|r| r.approvers.as_ref()) {
        config.approvers = Some(license::approvers(list.get_ref(), d));
    }
    let Some(levels) = raw.and_then(|r| r.hold_on.as_ref()) else {
        return config;
    };
    config.hold_on.clear();
    for level in levels.get_ref() {
        let l = level.get_ref().to_ascii_lowercase();
        if SEVERITIES.contains(&l.as_str()) {
            if !config.hold_on.contains(&l) {
                config.hold_on.push(l);
            }
        } else {
            // A misspelt level would quietly open the gate for it.
            d.at(
                Some(level.span()),
                "unknown-severity",
                format!(
                    "`hold-on`: `{}` is not a finding severity; use {}",
                    level.get_ref(),
                    SEVERITIES.join(", ")
                ),
            );
        }
    }
    config
}

/// One warning for the servers whose MCP surface reviews their license approvers decide because
/// no `approvers` is set for the MCP surface (`at`: the `[license] approvers` list, when set):
/// allowed, so configs written before `[mcp] approvers` keep working, but said, because an MCP
/// surface change is a security review, not a legal one. Servers whose gate is off, whose
/// license list is empty (the CLI decides both) or whose mirror is local (nobody comments
/// there) are not named.
pub fn warn_license_fallback(
    servers: &[super::ServerConfig],
    at: Option<std::ops::Range<usize>>,
    d: &mut Diagnostics<'_>,
) {
    let names: Vec<&str> = servers
        .iter()
        .filter(|s| s.mcp.approvers.is_none() && !s.mcp.hold_on.is_empty())
        .filter(|s| !s.license.approvers.is_empty())
        .filter(|s| !matches!(s.mirror.forge, super::ForgeConfig::Local { .. }))
        .map(|s| s.name.as_str())
        .collect();
    if names.is_empty() {
        return;
    }
    d.warn(
        at,
        "mcp-approvers-unset",
        format!(
            "`[mcp] approvers` is not set, so the license approvers also decide the MCP surface \
             reviews of {}; name the security reviewers in `[mcp] approvers` (or \
             `[servers.mcp] approvers`), or set `approvers = []` there to decide MCP holds with \
             `upkeep review approve|decline --kind mcp` only",
            names.join(", ")
        ),
    );
}
