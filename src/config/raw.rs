//! Raw config: the TOML as written, before validation. Every field is optional here so that
//! validation can report every missing or wrong value at once, each with its place.

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawConfig {
    pub state: Option<RawState>,
    pub schedule: Option<RawSchedule>,
    pub email: Option<RawEmail>,
    pub license: Option<RawLicense>,
    pub service: Option<RawService>,
    #[serde(default)]
    pub servers: Vec<S<RawServer>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawState {
    pub path: Option<S<String>>,
    pub cache_dir: Option<S<String>>,
    pub lease_timeout: Option<S<String>>,
    pub busy_timeout: Option<S<String>>,
    pub report_retention: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawSchedule {
    pub cron: Option<S<String>>,
    pub timezone: Option<S<String>>,
    pub jitter: Option<S<String>>,
    pub recheck: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawEmail {
    pub from: Option<S<String>>,
    pub transport: Option<S<String>>,
    pub dir: Option<S<String>>,
    pub host: Option<S<String>>,
    pub port: Option<S<i64>>,
    pub tls: Option<S<String>>,
    pub username: Option<S<String>>,
    pub password_env: Option<S<String>>,
    pub password_file: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub ca_file: Option<S<String>>,
    pub failing_runs_alert: Option<S<i64>>,
    pub review_sla: Option<S<String>>,
    pub escalation: Option<S<String>>,
    pub digest: Option<S<RawDigest>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawDigest {
    pub owners: Option<S<Vec<S<String>>>>,
    pub cron: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawLicense {
    pub allowed: Option<S<Vec<S<String>>>>,
    pub review_codes: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawService {
    pub listen: Option<S<String>>,
    pub sync_token_env: Option<S<String>>,
    pub webhook_secret_env: Option<S<String>>,
    pub concurrency: Option<S<i64>>,
    pub per_host_concurrency: Option<S<i64>>,
    pub server_timeout: Option<S<String>>,
    pub grace_period: Option<S<String>>,
}

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
    pub channels: Option<S<RawChannels>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawRelease {
    pub channel: Option<S<String>>,
    pub tag_pattern: Option<S<String>>,
    pub prerelease: Option<S<bool>>,
    pub scheme: Option<S<String>>,
    pub include: Option<S<String>>,
    pub exclude: Option<S<String>>,
    pub cooldown: Option<S<String>>,
    pub security: Option<S<Vec<S<String>>>>,
    pub verify: Option<S<Vec<S<String>>>>,
}

/// `[servers.channels]`: where each non-git release channel looks.
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

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawMirror {
    pub forge: Option<S<String>>,
    pub repo: Option<S<String>>,
    pub base: Option<S<String>>,
    pub pin_file: Option<S<String>>,
    pub pin_format: Option<S<String>>,
    pub pin_entry: Option<S<String>>,
    pub api_url: Option<S<String>>,
    pub base_url: Option<S<String>>,
    pub api_version: Option<S<String>>,
    pub token_env: Option<S<String>>,
    pub token_file: Option<S<String>>,
    pub labels: Option<S<Vec<S<String>>>>,
    pub reviewers: Option<S<Vec<S<String>>>>,
}
