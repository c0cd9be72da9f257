//! Configuration: TOML parsed into raw types, then validated into [`ValidConfig`].
//!
//! Validation collects every problem it can find in one pass, each as a [`Diagnostic`] with file,
//! line and column (and every other place involved), so `upkeep check` can print them all at
//! once. This module does no I/O beyond reading the config file itself; secrets are referenced by
//! environment-variable or file name ([`SecretRef`]) and resolved at the point of use.
//!
//! One file per section, each holding the section's raw types (as written), its valid types and
//! its validator side by side, with the section's defaults: [`state`], [`schedule`], [`email`],
//! [`service`], [`license`] and [`servers`] (with `release`, `mirror` and `channels`). This file
//! holds the entry points ([`load`], [`parse`]) and the pass that collects the diagnostics.

mod advisories;
mod chat;
pub mod database_url;
pub mod diag;
mod email;
mod freshness;
pub mod license;
mod mcp;
mod raw;
mod schedule;
mod secrets;
mod servers;
mod service;
mod state;
mod unknown;
mod urls;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use advisories::{AdvisoriesConfig, ServerAdvisories};
pub use chat::{ChatConfig, ChatDestination, ChatKind};
pub use diag::Diagnostic;
use diag::Diagnostics;
pub use email::{
    CHAT_POST_TIMEOUT, DigestConfig, EmailConfig, EmailTransport, SmtpConfig, SmtpTls,
};
pub use freshness::{DEFAULT_MAX_LAG, FreshnessConfig};
pub use license::LicensePolicyConfig;
pub use mcp::McpConfig;
use raw::RawConfig;
pub use schedule::{DEFAULT_RECHECK, ScheduleConfig, parse_cron};
pub use secrets::SecretRef;
pub use servers::channels::{Channel, ChannelConfig};
pub use servers::mirror::{ForgeConfig, MirrorConfig};
pub use servers::release::ReleaseConfig;
pub use servers::{ServerConfig, ServerSchedule};
pub use service::{
    DEFAULT_MAX_RATE_LIMIT_WAIT, DashboardAccess, MIN_SECRET_LEN, PerHostConcurrency, ReadAccess,
    ServiceConfig, weak_secret,
};
pub use state::{
    DEFAULT_CLAIM_TTL, DEFAULT_LOCK_WAIT, DEFAULT_MAX_FETCH_BYTES, DEFAULT_MAX_TAGS,
    DEFAULT_POOL_SIZE, PostgresState, StateBackend, StateConfig,
};
pub use urls::is_loopback as is_loopback_url;
pub use values::format_size;

/// Where upkeep looks for its config when neither `--config` nor `UPKEEP_CONFIG` is given.
pub const DEFAULT_PATH: &str = "config/upkeep.toml";

/// A config that passed validation: every value typed, every default applied.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    pub file: PathBuf,
    pub state: StateConfig,
    pub schedule: ScheduleConfig,
    pub email: EmailConfig,
    pub license: LicensePolicyConfig,
    /// `[mcp]`: the MCP surface gate (each server's own, with overrides, is on the server).
    pub mcp: McpConfig,
    /// `[advisories]`: where security advisories are looked up.
    pub advisories: AdvisoriesConfig,
    pub service: ServiceConfig,
    pub servers: Vec<ServerConfig>,
    /// `[freshness]`: how far behind a rebuild may fall before its owners are told (issue 17).
    pub freshness: FreshnessConfig,
    /// Settings that are allowed but risky (e.g. `allow-insecure`, no token for GitHub), for `check` to print and
    /// the other commands to log.
    pub warnings: Vec<Diagnostic>,
}

/// Why a config could not be loaded: the caller prints the diagnostics and exits 2.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The config path to use: `--config`, else `UPKEEP_CONFIG` (clap fills both), else the default.
pub fn resolve_path(flag: Option<&Path>) -> PathBuf {
    flag.map_or_else(|| PathBuf::from(DEFAULT_PATH), Path::to_path_buf)
}

/// Read and validate a config file.
pub fn load(path: &Path) -> Result<ValidConfig, ConfigErrors> {
    let source = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                " (copy config/example.toml there, pass --config FILE, or run `upkeep demo`)"
            } else {
                ""
            };
            let mut d = Diagnostics::new(path, "");
            d.at(None, "unreadable", format!("cannot read config: {e}{hint}"));
            return Err(ConfigErrors(d.items));
        }
    };
    parse(path, &source)
}

/// Validate config text; `path` is used in diagnostics only.
pub fn parse(path: &Path, source: &str) -> Result<ValidConfig, ConfigErrors> {
    let mut diags = Diagnostics::new(path, source);

    // Syntax first: every syntax error the parser can recover from.
    let (table, errors) = toml::de::DeTable::parse_recoverable(source);
    for e in &errors {
        diags.at(e.span(), "syntax", first_line(e.message()));
    }
    if !diags.is_empty() {
        return Err(ConfigErrors(diags.items));
    }

    // Unknown keys: all of them, each at its place, while deserializing.
    let mut ignored: Vec<Vec<String>> = Vec::new();
    let de = toml::de::Deserializer::from(table.clone());
    let raw: Result<RawConfig, _> =
        serde_ignored::deserialize(de, |p| ignored.push(unknown::path_segments(&p)));
    let raw = match raw {
        Ok(raw) => raw,
        Err(e) => {
            diags.at(e.span(), "type", first_line(e.message()));
            return Err(ConfigErrors(diags.items));
        }
    };
    for segments in &ignored {
        let span = unknown::key_span(table.get_ref(), segments);
        diags.at(span, "unknown-key", unknown::message(segments));
    }

    let mut config = validate(path, raw, &mut diags);
    if diags.is_empty() {
        diags.warnings.sort_by_key(|d| (d.line, d.column));
        config.warnings = diags.warnings;
        Ok(config)
    } else {
        diags.items.sort_by_key(|d| (d.line, d.column));
        Err(ConfigErrors(diags.items))
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

/// Every section in turn; each reports its problems and returns its valid part (defaults where
/// a value was wrong, so the next problem is still found).
fn validate(path: &Path, mut raw: RawConfig, d: &mut Diagnostics<'_>) -> ValidConfig {
    let license = license::validate(raw.license.as_ref(), None, d);
    let license_at = raw.license.as_ref().and_then(|l| l.approvers.as_ref());
    let license_at = license_at.map(raw::S::span);
    let mcp = mcp::validate(raw.mcp.as_ref(), None, d);
    let chat = chat_lists(&mut raw);
    let mut email = email::validate(raw.email, d);
    email.chat = chat::validate(raw.chat, chat.0, chat.1, d);
    let servers = servers::validate_all(raw.servers, &license, &mcp, d);
    mcp::warn_license_fallback(&servers, license_at, d);
    ValidConfig {
        file: path.to_path_buf(),
        state: state::validate(raw.state, d),
        schedule: schedule::validate(raw.schedule, d),
        email,
        service: service::validate(raw.service, d),
        servers,
        license,
        warnings: Vec::new(),
        mcp,
        advisories: advisories::validate(raw.advisories.as_ref(), d),
        freshness: freshness::validate(raw.freshness.as_ref(), d),
    }
}

/// The `chat` lists of `[email]` and of each named server, taken out for `chat::validate`.
fn chat_lists(
    raw: &mut RawConfig,
) -> (Option<chat::RawChatList>, Vec<(String, chat::RawChatList)>) {
    let every = raw.email.as_mut().and_then(|e| e.chat.take());
    let servers = raw
        .servers
        .iter_mut()
        .filter_map(|s| {
            let s = s.get_mut();
            let name = s.name.as_ref()?.get_ref().clone();
            Some((name, s.chat.take()?))
        })
        .collect();
    (every, servers)
}

impl ValidConfig {
    /// (server, chat destination) of every configured server: what the store fans a queued
    /// email out to.
    pub fn chat_routes(&self) -> Vec<(String, String)> {
        self.email
            .chat
            .routes(self.servers.iter().map(|s| s.name.as_str()))
    }

    pub fn server(&self, name: &str) -> Option<&ServerConfig> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// The next `n` fire times of the main schedule, in its timezone, after `after`.
    pub fn next_fires(
        &self,
        after: chrono::DateTime<chrono::Utc>,
        n: usize,
    ) -> Vec<chrono::DateTime<chrono_tz::Tz>> {
        self.schedule
            .schedule
            .after(&after.with_timezone(&self.schedule.timezone))
            .take(n)
            .collect()
    }

    /// Owners per server, for status and digest views.
    pub fn owners(&self) -> BTreeMap<&str, &[String]> {
        self.servers
            .iter()
            .map(|s| (s.name.as_str(), s.owners.as_slice()))
            .collect()
    }
}

#[cfg(test)]
mod tests;
