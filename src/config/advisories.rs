//! `[advisories]` and `[servers.advisories]`: where security advisories are looked up (OSV's
//! API or a mirror/proxy of it), whether at all, and which packages a server is when its
//! manifests do not say.

use std::time::Duration;

use serde::Deserialize;

use super::diag::Diagnostics;
use super::raw::S;
use super::values;

/// osv.dev's API (the advisories' own default).
pub const DEFAULT_URL: &str = "https://api.osv.dev";
/// Default of `batch-window`: long enough for servers started together to ask together, short
/// beside one server's sync.
pub const DEFAULT_BATCH_WINDOW: Duration = Duration::from_millis(250);
/// The longest `batch-window`: a server waits this long at most, holding its concurrency slot.
pub const MAX_BATCH_WINDOW: Duration = Duration::from_secs(60);

/// The ecosystems OSV defines that upkeep looks up, as OSV spells them, and the other
/// spellings a person may write.
const ECOSYSTEMS: [(&str, &[&str]); 4] = [
    ("npm", &[]),
    ("PyPI", &[]),
    ("crates.io", &["crates", "cargo"]),
    ("Go", &[]),
];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawAdvisories {
    pub url: Option<S<String>>,
    pub enabled: Option<bool>,
    pub batch_window: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawServerAdvisories {
    pub enabled: Option<bool>,
    pub packages: Option<Vec<S<RawPackage>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawPackage {
    pub ecosystem: Option<S<String>>,
    pub name: Option<S<String>>,
}

/// `[advisories]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoriesConfig {
    /// The OSV API's base URL (a mirror or a proxy may have a path prefix).
    pub url: String,
    pub enabled: bool,
    /// How long a server whose versions changed waits for others to ask with it.
    pub batch_window: Duration,
}

impl Default for AdvisoriesConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.into(),
            enabled: true,
            batch_window: DEFAULT_BATCH_WINDOW,
        }
    }
}

/// `[servers.advisories]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerAdvisories {
    pub enabled: bool,
    /// `(ecosystem as OSV spells it, name)`; when set, replaces what the manifests say.
    pub packages: Option<Vec<(String, String)>>,
}

pub fn validate(raw: Option<&RawAdvisories>, d: &mut Diagnostics<'_>) -> AdvisoriesConfig {
    let mut config = AdvisoriesConfig::default();
    let Some(raw) = raw else {
        return config;
    };
    config.enabled = raw.enabled.unwrap_or(true);
    config.batch_window = values::duration(
        d,
        raw.batch_window.as_ref(),
        "batch-window",
        DEFAULT_BATCH_WINDOW,
    );
    if config.batch_window > MAX_BATCH_WINDOW {
        d.at(
            raw.batch_window.as_ref().map(S::span),
            "out-of-range",
            format!(
                "`[advisories] batch-window` must be at most {}s: a waiting server holds its concurrency slot",
                MAX_BATCH_WINDOW.as_secs()
            ),
        );
        config.batch_window = DEFAULT_BATCH_WINDOW;
    }
    if let Some(url) = &raw.url {
        match reqwest::Url::parse(url.get_ref().trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base() => {
                config.url = url.get_ref().trim().trim_end_matches('/').to_string();
            }
            _ => d.at(
                Some(url.span()),
                "invalid-url",
                format!(
                    "`[advisories] url`: `{}` is not an http(s) URL",
                    url.get_ref()
                ),
            ),
        }
    }
    config
}

/// A server's table; `who` starts the messages.
pub fn validate_server(
    raw: Option<&RawServerAdvisories>,
    who: &str,
    d: &mut Diagnostics<'_>,
) -> ServerAdvisories {
    let Some(raw) = raw else {
        return ServerAdvisories {
            enabled: true,
            packages: None,
        };
    };
    let packages = raw.packages.as_ref().map(|list| {
        list.iter()
            .filter_map(|p| package(p, who, d))
            .collect::<Vec<_>>()
    });
    ServerAdvisories {
        enabled: raw.enabled.unwrap_or(true),
        packages,
    }
}

fn package(p: &S<RawPackage>, who: &str, d: &mut Diagnostics<'_>) -> Option<(String, String)> {
    let raw = p.get_ref();
    let (Some(eco), Some(name)) = (&raw.ecosystem, &raw.name) else {
        d.at(
            Some(p.span()),
            "missing-key",
            format!(
                "{who}: each `[servers.advisories] packages` entry needs `ecosystem` and `name`"
            ),
        );
        return None;
    };
    let written = eco.get_ref().trim().to_ascii_lowercase();
    let Some((osv, _)) = ECOSYSTEMS.iter().find(|(osv, aliases)| {
        osv.eq_ignore_ascii_case(&written) || aliases.contains(&written.as_str())
    }) else {
        d.at(
            Some(eco.span()),
            "unknown-ecosystem",
            format!(
                "{who}: `{}` is not an ecosystem upkeep looks up; use {}",
                eco.get_ref(),
                ECOSYSTEMS.map(|(e, _)| e).join(", ")
            ),
        );
        return None;
    };
    if name.get_ref().trim().is_empty() {
        d.at(
            Some(name.span()),
            "empty",
            format!("{who}: a package `name` is empty"),
        );
        return None;
    }
    Some(((*osv).to_string(), name.get_ref().trim().to_string()))
}
