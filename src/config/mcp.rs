//! `[mcp]` and `[servers.mcp]`: which severities of MCP surface findings hold a rebuild for
//! review (`hold-on`, default `["high"]`; `[]` turns the gate off). A server's table overrides
//! the top-level one.

use serde::Deserialize;

use super::diag::Diagnostics;
use super::raw::S;

/// The finding severities `hold-on` may name (the MCP surface's own levels).
pub const SEVERITIES: [&str; 3] = ["low", "medium", "high"];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawMcp {
    pub hold_on: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpConfig {
    /// Severities (`low`, `medium`, `high`) whose findings hold the rebuild; empty: never.
    pub hold_on: Vec<String>,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            hold_on: vec!["high".into()],
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
