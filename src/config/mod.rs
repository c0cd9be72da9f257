//! Configuration: TOML parsed into raw types ([`raw`]), then validated into [`ValidConfig`].
//!
//! Validation collects every problem it can find in one pass, each as a [`Diagnostic`] with file,
//! line and column, so `upkeep check` can print them all at once. Defaults live here and only here.
//! This module does no I/O beyond reading the config file itself; secrets are referenced by
//! environment-variable or file name ([`SecretRef`]) and resolved at the point of use.

pub mod diag;
mod raw;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use regex::Regex;

pub use diag::Diagnostic;
use diag::Diagnostics;
use raw::{RawConfig, RawLicense, RawMirror, RawRelease, RawServer, S};

use crate::forge::pin::PinFormat;
use crate::secret::Secret;
use crate::upstream::version::VersionScheme;

/// Where upkeep looks for its config when neither `--config` nor `UPKEEP_CONFIG` is given.
pub const DEFAULT_PATH: &str = "config/upkeep.toml";
/// A merged or closed rebuild PR is noticed within a day even when upstream stays quiet.
pub const DEFAULT_RECHECK: Duration = Duration::from_secs(24 * 3600);

/// A config that passed validation: every value typed, every default applied.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    pub file: PathBuf,
    pub state: StateConfig,
    pub schedule: ScheduleConfig,
    pub email: EmailConfig,
    pub license: LicensePolicyConfig,
    pub service: ServiceConfig,
    pub servers: Vec<ServerConfig>,
}

#[derive(Debug, Clone)]
pub struct StateConfig {
    pub path: PathBuf,
    pub cache_dir: PathBuf,
    /// How long a run lease is honoured without being renewed (a crashed run frees it after this).
    pub lease_timeout: Duration,
    /// How long a state write waits for another process's lock before giving up.
    pub busy_timeout: Duration,
    /// How long each run's per-server reports are kept (the run's summary is kept for good).
    /// Zero: kept for good.
    pub report_retention: Duration,
}

#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// The expression as written (5 or 6 fields).
    pub expression: String,
    pub schedule: cron::Schedule,
    pub timezone: chrono_tz::Tz,
    /// Each server's start is delayed by a random share of this, so many servers do not hit
    /// one host in the same second.
    pub jitter: Duration,
    /// The longest a server whose upstream has not changed goes without a full check (mirror
    /// and forge read). Zero: every run is a full check.
    pub recheck: Duration,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub from: String,
    pub transport: EmailTransport,
    /// Email the owners after this many failed runs in a row of one server.
    pub failing_runs_alert: u32,
    /// Remind owners when a held rebuild waits longer than this.
    pub review_sla: Duration,
    /// Copied on reminders.
    pub escalation: Option<String>,
    /// Owners who get one digest email per period instead of one email per event.
    pub digest: Option<DigestConfig>,
}

#[derive(Debug, Clone)]
pub struct DigestConfig {
    pub owners: Vec<String>,
    /// When digests go out (5-field crontab, in the schedule's timezone); default daily 08:00.
    pub expression: String,
    pub schedule: cron::Schedule,
}

#[derive(Debug, Clone)]
pub enum EmailTransport {
    /// One `.eml` file per message in `dir`.
    File {
        dir: PathBuf,
    },
    Smtp(SmtpConfig),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: SecretRef,
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct LicensePolicyConfig {
    pub allowed: Vec<String>,
    pub review_codes: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub listen: SocketAddr,
    /// Bearer token for `POST /sync` (none: the endpoint refuses every request).
    pub sync_token: SecretRef,
    /// HMAC secret of GitHub webhooks (none: the endpoint refuses every request).
    pub webhook_secret: SecretRef,
    /// Servers synced at once.
    pub concurrency: usize,
    /// Servers synced at once against one upstream host.
    pub per_host_concurrency: usize,
    /// A server taking longer than this is abandoned and reported failed.
    pub server_timeout: Duration,
    /// On SIGTERM, how long in-flight servers may take to finish.
    pub grace_period: Duration,
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
    /// Settings of every non-git channel the server uses (as `release.channel` or in `verify`).
    pub channels: BTreeMap<Channel, ChannelConfig>,
}

#[derive(Debug, Clone)]
pub struct ServerSchedule {
    pub expression: String,
    pub schedule: cron::Schedule,
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

    fn parse(s: &str) -> Option<Channel> {
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

#[derive(Debug, Clone)]
pub struct ReleaseConfig {
    pub channel: Channel,
    /// Matches a tag name (without `refs/tags/`); capture group 1 (or `version`) is the version.
    pub tag_pattern: Regex,
    pub prerelease: bool,
    pub scheme: VersionScheme,
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    /// A release is proposed only once it is this old (bake-in); zero: at once.
    pub cooldown: Duration,
    /// Versions marked as security releases: they skip the cooldown.
    pub security: Vec<String>,
    /// Channels cross-checked against the git tags.
    pub verify: Vec<Channel>,
}

#[derive(Debug, Clone)]
pub struct MirrorConfig {
    pub forge: ForgeConfig,
    pub base: String,
    pub pin_file: String,
    pub pin_format: PinFormat,
    pub pin_entry: Option<String>,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum ForgeConfig {
    /// A git repository reachable by path or URL; PRs are recorded in the state only.
    Local { repo: String },
    Github {
        api_url: String,
        owner: String,
        repo: String,
        token: SecretRef,
    },
    AzureDevops {
        base_url: String,
        organization: String,
        project: String,
        repository: String,
        api_version: String,
        token: SecretRef,
    },
}

/// A secret named by the config, never written in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    None,
    Env(String),
    File(PathBuf),
}

impl SecretRef {
    /// Read the secret now. `Ok(None)` when none is configured.
    pub fn resolve(&self) -> anyhow::Result<Option<Secret>> {
        match self {
            SecretRef::None => Ok(None),
            SecretRef::Env(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Some(Secret::new(v.trim().to_string()))),
                _ => anyhow::bail!("environment variable {var} is not set or empty"),
            },
            SecretRef::File(path) => {
                let v = std::fs::read_to_string(path)
                    .with_context(|| format!("reading secret file {}", path.display()))?;
                Ok(Some(Secret::new(v.trim().to_string())))
            }
        }
    }
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
            return Err(ConfigErrors(vec![Diagnostic {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
                code: "unreadable",
                message: format!("cannot read config: {e}{hint}"),
            }]));
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
    let mut unknown: Vec<Vec<String>> = Vec::new();
    let de = toml::de::Deserializer::from(table.clone());
    let raw: Result<RawConfig, _> =
        serde_ignored::deserialize(de, |p| unknown.push(path_segments(&p)));
    let raw = match raw {
        Ok(raw) => raw,
        Err(e) => {
            diags.at(e.span(), "type", first_line(e.message()));
            return Err(ConfigErrors(diags.items));
        }
    };
    for segments in &unknown {
        let span = key_span(table.get_ref(), segments);
        let key = segments.last().cloned().unwrap_or_default();
        let within = segments[..segments.len().saturating_sub(1)]
            .iter()
            .filter(|s| s.parse::<usize>().is_err())
            .cloned()
            .collect::<Vec<_>>()
            .join(".");
        let within = if within.is_empty() {
            "the top level".to_string()
        } else {
            format!("[{within}]")
        };
        diags.at(
            span,
            "unknown-key",
            format!("unknown key `{key}` in {within}"),
        );
    }

    let config = validate(path, raw, &mut diags);
    if diags.is_empty() {
        Ok(config)
    } else {
        diags.items.sort_by_key(|d| (d.line, d.column));
        Err(ConfigErrors(diags.items))
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

fn path_segments(path: &serde_ignored::Path<'_>) -> Vec<String> {
    use serde_ignored::Path as P;
    match path {
        P::Root => Vec::new(),
        P::Seq { parent, index } => {
            let mut v = path_segments(parent);
            v.push(index.to_string());
            v
        }
        P::Map { parent, key } => {
            let mut v = path_segments(parent);
            // Spanned values show up as a map with private keys; skip those levels.
            if !key.starts_with("$__") {
                v.push(key.clone());
            }
            v
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            path_segments(parent)
        }
    }
}

/// Byte span of the key at `segments` (table keys and array indexes) in the parsed document.
fn key_span(table: &toml::de::DeTable<'_>, segments: &[String]) -> Option<std::ops::Range<usize>> {
    let (first, rest) = segments.split_first()?;
    let (key, value) = table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == first.as_str())?;
    if rest.is_empty() {
        return Some(key.span());
    }
    value_key_span(value.get_ref(), rest)
}

fn value_key_span(
    value: &toml::de::DeValue<'_>,
    segments: &[String],
) -> Option<std::ops::Range<usize>> {
    match value {
        toml::de::DeValue::Table(t) => key_span(t, segments),
        toml::de::DeValue::Array(items) => {
            let (first, rest) = segments.split_first()?;
            let item = items.get(first.parse::<usize>().ok()?)?;
            if rest.is_empty() {
                Some(item.span())
            } else {
                value_key_span(item.get_ref(), rest)
            }
        }
        _ => None,
    }
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

fn valid_email(addr: &str) -> bool {
    addr.parse::<lettre::Address>().is_ok()
}

/// Parse a 5-field crontab expression (or a 6-field one with seconds first).
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields = expr.split_whitespace().count();
    let full = match fields {
        5 => format!("0 {expr}"),
        6 => expr.to_string(),
        n => {
            return Err(format!(
                "cron expression `{expr}` has {n} fields; write the 5-field crontab form \
                 `MIN HOUR DAY MONTH WEEKDAY` (e.g. `0 */6 * * *`), or 6 fields with seconds first"
            ));
        }
    };
    cron::Schedule::from_str(&full).map_err(|e| {
        format!(
            "invalid cron expression `{expr}`: {}",
            e.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        )
    })
}

fn parse_duration(
    d: &mut Diagnostics<'_>,
    value: Option<&S<String>>,
    key: &str,
    default: Duration,
) -> Duration {
    match value {
        None => default,
        Some(v) => match humantime::parse_duration(v.get_ref()) {
            Ok(dur) => dur,
            Err(e) => {
                d.at(Some(v.span()), "invalid-duration", format!("`{key}`: `{}` is not a duration ({e}); write e.g. \"30s\", \"15m\", \"7d\"", v.get_ref()));
                default
            }
        },
    }
}

fn validate(path: &Path, raw: RawConfig, d: &mut Diagnostics<'_>) -> ValidConfig {
    let state = {
        let s = raw.state.unwrap_or_default();
        StateConfig {
            path: s.path.map_or_else(
                || PathBuf::from("var/upkeep.db"),
                |p| PathBuf::from(p.into_inner()),
            ),
            cache_dir: s.cache_dir.map_or_else(
                || PathBuf::from("var/cache"),
                |p| PathBuf::from(p.into_inner()),
            ),
            lease_timeout: parse_duration(
                d,
                s.lease_timeout.as_ref(),
                "lease-timeout",
                Duration::from_secs(30 * 60),
            ),
            busy_timeout: parse_duration(
                d,
                s.busy_timeout.as_ref(),
                "busy-timeout",
                Duration::from_secs(10),
            ),
            report_retention: parse_duration(
                d,
                s.report_retention.as_ref(),
                "report-retention",
                Duration::from_secs(30 * 24 * 3600),
            ),
        }
    };

    let schedule = {
        let s = raw.schedule.unwrap_or_default();
        let expression = s
            .cron
            .as_ref()
            .map_or_else(|| "0 */6 * * *".to_string(), |c| c.get_ref().clone());
        let parsed = match parse_cron(&expression) {
            Ok(p) => p,
            Err(msg) => {
                d.at(s.cron.as_ref().map(S::span), "invalid-cron", msg);
                parse_cron("0 */6 * * *").expect("the default cron expression parses")
            }
        };
        let timezone = match &s.timezone {
            None => chrono_tz::UTC,
            Some(tz) => tz.get_ref().parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
                d.at(Some(tz.span()), "invalid-timezone", format!("unknown timezone `{}`; use an IANA name such as \"UTC\" or \"Europe/Berlin\"", tz.get_ref()));
                chrono_tz::UTC
            }),
        };
        let jitter = parse_duration(d, s.jitter.as_ref(), "jitter", Duration::ZERO);
        let recheck = parse_duration(d, s.recheck.as_ref(), "recheck", DEFAULT_RECHECK);
        ScheduleConfig {
            expression,
            schedule: parsed,
            timezone,
            jitter,
            recheck,
        }
    };

    let email = validate_email(raw.email.unwrap_or_default(), d);
    let license = license_policy(raw.license.as_ref(), None);
    let service = {
        let s = raw.service.unwrap_or_default();
        let listen = match &s.listen {
            None => SocketAddr::from(([127, 0, 0, 1], 9187)),
            Some(l) => l.get_ref().parse().unwrap_or_else(|_| {
                d.at(
                    Some(l.span()),
                    "invalid-listen",
                    format!("`listen`: `{}` is not an address:port", l.get_ref()),
                );
                SocketAddr::from(([127, 0, 0, 1], 9187))
            }),
        };
        let positive =
            |d: &mut Diagnostics<'_>, v: &Option<S<i64>>, key: &str, default: usize| match v {
                None => default,
                Some(n) => usize::try_from(*n.get_ref())
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| {
                        d.at(
                            Some(n.span()),
                            "invalid-value",
                            format!("`{key}` must be a positive number"),
                        );
                        default
                    }),
            };
        ServiceConfig {
            listen,
            sync_token: secret_ref(d, s.sync_token_env.as_ref(), None, "sync-token"),
            webhook_secret: secret_ref(d, s.webhook_secret_env.as_ref(), None, "webhook-secret"),
            concurrency: positive(d, &s.concurrency, "concurrency", 4),
            per_host_concurrency: positive(d, &s.per_host_concurrency, "per-host-concurrency", 2),
            server_timeout: parse_duration(
                d,
                s.server_timeout.as_ref(),
                "server-timeout",
                Duration::from_secs(600),
            ),
            grace_period: parse_duration(
                d,
                s.grace_period.as_ref(),
                "grace-period",
                Duration::from_secs(30),
            ),
        }
    };

    let mut names = HashSet::new();
    let mut servers = Vec::new();
    for s in raw.servers {
        let span = s.span();
        if let Some(server) = validate_server(s.into_inner(), span, &license, &mut names, d) {
            servers.push(server);
        }
    }

    ValidConfig {
        file: path.to_path_buf(),
        state,
        schedule,
        email,
        license,
        service,
        servers,
    }
}

fn validate_email(e: raw::RawEmail, d: &mut Diagnostics<'_>) -> EmailConfig {
    let from = match &e.from {
        None => "upkeep@localhost".to_string(),
        Some(f) => {
            if !valid_email(f.get_ref()) {
                d.at(
                    Some(f.span()),
                    "invalid-address",
                    format!("`from`: `{}` is not an email address", f.get_ref()),
                );
            }
            f.get_ref().clone()
        }
    };
    let transport_name = e
        .transport
        .as_ref()
        .map_or("file", |t| t.get_ref().as_str())
        .to_string();
    let transport = match transport_name.as_str() {
        "file" => EmailTransport::File {
            dir: e.dir.as_ref().map_or_else(
                || PathBuf::from("var/outbox"),
                |p| PathBuf::from(p.get_ref()),
            ),
        },
        "smtp" => {
            let host = e
                .host
                .as_ref()
                .map(|h| h.get_ref().clone())
                .unwrap_or_else(|| {
                    d.at(
                        e.transport.as_ref().map(S::span),
                        "missing-key",
                        "transport = \"smtp\" needs `host`",
                    );
                    String::new()
                });
            let tls = match e.tls.as_ref().map(|t| (t.get_ref().as_str(), t.span())) {
                None | Some(("starttls", _)) => SmtpTls::Starttls,
                Some(("none", _)) => SmtpTls::None,
                Some(("tls", _)) => SmtpTls::Tls,
                Some((other, span)) => {
                    d.at(
                        Some(span),
                        "invalid-value",
                        format!("`tls`: `{other}` is not one of \"none\", \"starttls\", \"tls\""),
                    );
                    SmtpTls::Starttls
                }
            };
            let default_port = match tls {
                SmtpTls::Tls => 465,
                SmtpTls::Starttls => 587,
                SmtpTls::None => 25,
            };
            let port = match &e.port {
                None => default_port,
                Some(p) => u16::try_from(*p.get_ref())
                    .ok()
                    .filter(|p| *p > 0)
                    .unwrap_or_else(|| {
                        d.at(
                            Some(p.span()),
                            "invalid-value",
                            format!("`port`: {} is not a TCP port", p.get_ref()),
                        );
                        default_port
                    }),
            };
            let password = secret_ref(
                d,
                e.password_env.as_ref(),
                e.password_file.as_ref(),
                "password",
            );
            if password != SecretRef::None && e.username.is_none() {
                d.at(
                    e.password_env
                        .as_ref()
                        .or(e.password_file.as_ref())
                        .map(S::span),
                    "missing-key",
                    "a password is set but `username` is not",
                );
            }
            EmailTransport::Smtp(SmtpConfig {
                host,
                port,
                tls,
                username: e.username.as_ref().map(|u| u.get_ref().clone()),
                password,
                timeout: parse_duration(d, e.timeout.as_ref(), "timeout", Duration::from_secs(30)),
                ca_file: e.ca_file.as_ref().map(|p| PathBuf::from(p.get_ref())),
            })
        }
        other => {
            d.at(
                e.transport.as_ref().map(S::span),
                "invalid-value",
                format!("`transport`: `{other}` is not one of \"file\", \"smtp\""),
            );
            EmailTransport::File {
                dir: PathBuf::from("var/outbox"),
            }
        }
    };
    let failing_runs_alert = match &e.failing_runs_alert {
        None => 3,
        Some(n) => u32::try_from(*n.get_ref())
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or_else(|| {
                d.at(
                    Some(n.span()),
                    "invalid-value",
                    "`failing-runs-alert` must be a positive number of runs",
                );
                3
            }),
    };
    let escalation = e.escalation.as_ref().map(|x| {
        if !valid_email(x.get_ref()) {
            d.at(
                Some(x.span()),
                "invalid-address",
                format!("`escalation`: `{}` is not an email address", x.get_ref()),
            );
        }
        x.get_ref().clone()
    });
    EmailConfig {
        from,
        transport,
        failing_runs_alert,
        review_sla: parse_duration(
            d,
            e.review_sla.as_ref(),
            "review-sla",
            Duration::from_secs(7 * 86_400),
        ),
        escalation,
        digest: e.digest.as_ref().map(|dg| {
            let dg = dg.get_ref();
            let owners: Vec<String> = dg
                .owners
                .as_ref()
                .map(|l| {
                    for o in l.get_ref() {
                        if !valid_email(o.get_ref()) {
                            d.at(
                                Some(o.span()),
                                "invalid-address",
                                format!("digest owner `{}` is not an email address", o.get_ref()),
                            );
                        }
                    }
                    l.get_ref().iter().map(|o| o.get_ref().clone()).collect()
                })
                .unwrap_or_default();
            let expression = dg
                .cron
                .as_ref()
                .map_or_else(|| "0 8 * * *".to_string(), |c| c.get_ref().clone());
            let schedule = parse_cron(&expression).unwrap_or_else(|msg| {
                d.at(
                    dg.cron.as_ref().map(S::span),
                    "invalid-cron",
                    format!("digest: {msg}"),
                );
                parse_cron("0 8 * * *").expect("the default digest schedule parses")
            });
            DigestConfig {
                owners,
                expression,
                schedule,
            }
        }),
    }
}

fn secret_ref(
    d: &mut Diagnostics<'_>,
    env: Option<&S<String>>,
    file: Option<&S<String>>,
    what: &str,
) -> SecretRef {
    match (env, file) {
        (Some(e), Some(_)) => {
            d.at(
                Some(e.span()),
                "conflicting-keys",
                format!("set either `{what}-env` or `{what}-file`, not both"),
            );
            SecretRef::Env(e.get_ref().clone())
        }
        (Some(e), None) => {
            let name = e.get_ref();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                d.at(Some(e.span()), "invalid-value", format!("`{what}-env` must name an environment variable (letters, digits, _), not hold the {what} itself"));
            }
            SecretRef::Env(name.clone())
        }
        (None, Some(f)) => SecretRef::File(PathBuf::from(f.get_ref())),
        (None, None) => SecretRef::None,
    }
}

fn license_policy(
    raw: Option<&RawLicense>,
    parent: Option<&LicensePolicyConfig>,
) -> LicensePolicyConfig {
    let mut policy = parent.cloned().unwrap_or_default();
    if let Some(raw) = raw {
        if let Some(allowed) = &raw.allowed {
            policy.allowed = allowed
                .get_ref()
                .iter()
                .map(|s| s.get_ref().clone())
                .collect();
        }
        if let Some(codes) = &raw.review_codes {
            policy.review_codes = Some(
                codes
                    .get_ref()
                    .iter()
                    .map(|s| s.get_ref().clone())
                    .collect(),
            );
        }
    }
    policy
}

fn validate_server(
    s: RawServer,
    span: std::ops::Range<usize>,
    license: &LicensePolicyConfig,
    names: &mut HashSet<String>,
    d: &mut Diagnostics<'_>,
) -> Option<ServerConfig> {
    let before = d.items.len();
    let name = match &s.name {
        None => {
            d.at(
                Some(span.clone()),
                "missing-key",
                "[[servers]] entry without `name`",
            );
            String::new()
        }
        Some(n) => {
            let v = n.get_ref();
            if !valid_server_name(v) {
                d.at(Some(n.span()), "invalid-name", format!("server name `{v}` must be 1-64 characters of a-z, 0-9, '-', '_', '.' (it becomes the branch upkeep/<name>)"));
            } else if !names.insert(v.clone()) {
                d.at(
                    Some(n.span()),
                    "duplicate-server",
                    format!("duplicate server name `{v}`"),
                );
            }
            v.clone()
        }
    };
    let who = if name.is_empty() {
        "server".to_string()
    } else {
        format!("server `{name}`")
    };
    let upstream = match &s.upstream {
        None => {
            d.at(
                s.name
                    .as_ref()
                    .map_or(Some(span.clone()), |n| Some(n.span())),
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
    };
    let owners: Vec<String> = match &s.owners {
        None => {
            d.at(
                s.name
                    .as_ref()
                    .map_or(Some(span.clone()), |n| Some(n.span())),
                "missing-key",
                format!("{who} has no `owners` (the people emailed about license changes)"),
            );
            Vec::new()
        }
        Some(list) => {
            if list.get_ref().is_empty() {
                d.at(
                    Some(list.span()),
                    "invalid-value",
                    format!("{who}: `owners` is empty"),
                );
            }
            for o in list.get_ref() {
                if !valid_email(o.get_ref()) {
                    d.at(
                        Some(o.span()),
                        "invalid-address",
                        format!("{who}: owner `{}` is not an email address", o.get_ref()),
                    );
                }
            }
            list.get_ref().iter().map(|o| o.get_ref().clone()).collect()
        }
    };
    let release = validate_release(s.release.as_ref(), &who, span.clone(), d);
    let mirror = validate_mirror(s.mirror.as_ref(), &who, span.clone(), d);
    let server_license = license_policy(s.license.as_ref(), Some(license));
    let channels = release
        .as_ref()
        .map(|r| validate_channels(s.channels.as_ref(), r, &upstream, &who, span.clone(), d))
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
        channels,
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

fn validate_channels(
    raw: Option<&S<raw::RawChannels>>,
    release: &ReleaseConfig,
    upstream: &str,
    who: &str,
    span: std::ops::Range<usize>,
    d: &mut Diagnostics<'_>,
) -> BTreeMap<Channel, ChannelConfig> {
    let mut used: Vec<Channel> = release.verify.clone();
    if release.channel != Channel::GitTags {
        used.push(release.channel);
    }
    let empty = raw::RawChannels::default();
    let (r, rspan) = raw.map_or((&empty, span), |r| (r.get_ref(), r.span()));
    let text = |v: &Option<S<String>>, default: &str| {
        v.as_ref().map_or_else(
            || default.to_string(),
            |x| x.get_ref().trim_end_matches('/').to_string(),
        )
    };
    let mut out = BTreeMap::new();
    for c in used {
        let missing = |d: &mut Diagnostics<'_>, key: &str| {
            d.at(
                Some(rspan.clone()),
                "missing-key",
                format!(
                    "{who}: channel `{}` needs [servers.channels] {} = {{ {key} = \"...\" }}",
                    c.name(),
                    c.name()
                ),
            );
        };
        let cfg = match c {
            Channel::GitTags => continue,
            Channel::GithubReleases => {
                let g = r.github_releases.as_ref().map(S::get_ref);
                let repo = g.and_then(|g| g.repo.as_ref()).map(|x| x.get_ref().clone());
                let pair = match repo {
                    Some(x) => x
                        .split_once('/')
                        .map(|(o, n)| (o.to_string(), n.to_string())),
                    None => github_repo_of(upstream),
                };
                let Some((owner, repo)) = pair else {
                    missing(d, "repo");
                    continue;
                };
                ChannelConfig::GithubReleases {
                    api_url: text(&g.and_then(|g| g.api_url.clone()), "https://api.github.com"),
                    owner,
                    repo,
                    token: g.map_or(SecretRef::None, |g| {
                        secret_ref(d, g.token_env.as_ref(), g.token_file.as_ref(), "token")
                    }),
                }
            }
            Channel::Npm => {
                let Some(n) = r
                    .npm
                    .as_ref()
                    .map(S::get_ref)
                    .filter(|n| n.package.is_some())
                else {
                    missing(d, "package");
                    continue;
                };
                ChannelConfig::Npm {
                    registry: text(&n.registry, "https://registry.npmjs.org"),
                    package: text(&n.package, ""),
                }
            }
            Channel::Pypi => {
                let Some(p) = r
                    .pypi
                    .as_ref()
                    .map(S::get_ref)
                    .filter(|p| p.project.is_some())
                else {
                    missing(d, "project");
                    continue;
                };
                ChannelConfig::Pypi {
                    index: text(&p.index, "https://pypi.org"),
                    project: text(&p.project, ""),
                }
            }
            Channel::McpRegistry => {
                let Some(m) = r
                    .mcp_registry
                    .as_ref()
                    .map(S::get_ref)
                    .filter(|m| m.server.is_some())
                else {
                    missing(d, "server");
                    continue;
                };
                ChannelConfig::McpRegistry {
                    registry: text(&m.registry, "https://registry.modelcontextprotocol.io"),
                    server: text(&m.server, ""),
                }
            }
        };
        out.insert(c, cfg);
    }
    out
}

fn compile_regex(
    d: &mut Diagnostics<'_>,
    value: &S<String>,
    key: &str,
    who: &str,
) -> Option<Regex> {
    // Thousands of servers usually share a handful of patterns, and a compiled regex is ~13 KB:
    // compile each pattern once (clones share the program) instead of once per server.
    static COMPILED: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, Regex>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut compiled = COMPILED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(r) = compiled.get(value.get_ref()) {
        return Some(r.clone());
    }
    match Regex::new(value.get_ref()) {
        Ok(r) => {
            compiled.insert(value.get_ref().clone(), r.clone());
            Some(r)
        }
        Err(e) => {
            let msg = e.to_string();
            let last = msg.lines().last().unwrap_or("").trim().to_string();
            d.at(
                Some(value.span()),
                "invalid-regex",
                format!("{who}: `{key}` is not a valid regex: {last}"),
            );
            None
        }
    }
}

fn validate_release(
    r: Option<&S<RawRelease>>,
    who: &str,
    span: std::ops::Range<usize>,
    d: &mut Diagnostics<'_>,
) -> Option<ReleaseConfig> {
    let Some(r) = r else {
        d.at(Some(span), "missing-key", format!("{who} has no `release` (e.g. release = {{ channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }})"));
        return None;
    };
    let r = r.get_ref();
    let known = "\"git-tags\", \"github-releases\", \"npm\", \"pypi\", \"mcp-registry\"";
    let channel = match r.channel.as_ref() {
        None => Some(Channel::GitTags),
        Some(c) => Channel::parse(c.get_ref()).or_else(|| {
            d.at(
                Some(c.span()),
                "invalid-value",
                format!(
                    "{who}: unknown release channel `{}` (known: {known})",
                    c.get_ref()
                ),
            );
            None
        }),
    };
    let mut verify = Vec::new();
    for v in r
        .verify
        .as_ref()
        .map(|l| l.get_ref().as_slice())
        .unwrap_or_default()
    {
        match Channel::parse(v.get_ref()) {
            Some(Channel::GitTags) => d.at(Some(v.span()), "invalid-value", format!("{who}: `verify` lists registries to check against the git tags; `git-tags` itself cannot be one")),
            Some(c) => verify.push(c),
            None => d.at(Some(v.span()), "invalid-value", format!("{who}: unknown channel `{}` in `verify` (known: {known})", v.get_ref())),
        }
    }
    let cooldown = parse_duration(d, r.cooldown.as_ref(), "cooldown", Duration::ZERO);
    let security = r
        .security
        .as_ref()
        .map(|l| l.get_ref().iter().map(|v| v.get_ref().clone()).collect())
        .unwrap_or_default();
    let tag_pattern = match &r.tag_pattern {
        None => Regex::new(r"^v?(\d.*)$").ok(),
        Some(p) => compile_regex(d, p, "tag-pattern", who).and_then(|re| {
            if re.captures_len() < 2 {
                d.at(Some(p.span()), "invalid-regex", format!("{who}: `tag-pattern` needs a capture group for the version, e.g. \"^v(.+)$\""));
                None
            } else {
                Some(re)
            }
        }),
    };
    let include = r
        .include
        .as_ref()
        .and_then(|p| compile_regex(d, p, "include", who));
    let exclude = r
        .exclude
        .as_ref()
        .and_then(|p| compile_regex(d, p, "exclude", who));
    let scheme = match r.scheme.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("semver", _)) => VersionScheme::Semver,
        Some(("pep440", _)) => VersionScheme::Pep440,
        Some(("calver", _)) => VersionScheme::Calver,
        Some(("loose", _)) => VersionScheme::Loose,
        Some((other, span)) => {
            d.at(Some(span), "invalid-value", format!("{who}: version scheme `{other}` is not one of \"semver\", \"pep440\", \"calver\", \"loose\""));
            VersionScheme::Semver
        }
    };
    Some(ReleaseConfig {
        channel: channel?,
        tag_pattern: tag_pattern?,
        prerelease: r.prerelease.as_ref().is_some_and(|p| *p.get_ref()),
        scheme,
        include,
        exclude,
        cooldown,
        security,
        verify,
    })
}

fn validate_mirror(
    m: Option<&S<RawMirror>>,
    who: &str,
    span: std::ops::Range<usize>,
    d: &mut Diagnostics<'_>,
) -> Option<MirrorConfig> {
    let Some(m) = m else {
        d.at(
            Some(span),
            "missing-key",
            format!("{who} has no [servers.mirror] table"),
        );
        return None;
    };
    let mspan = m.span();
    let m = m.get_ref();
    let require = |d: &mut Diagnostics<'_>,
                   v: &Option<S<String>>,
                   key: &str,
                   forge: &str|
     -> Option<String> {
        match v {
            Some(v) if !v.get_ref().trim().is_empty() => Some(v.get_ref().clone()),
            Some(v) => {
                d.at(
                    Some(v.span()),
                    "invalid-value",
                    format!("{who}: mirror `{key}` is empty"),
                );
                None
            }
            None => {
                d.at(
                    Some(mspan.clone()),
                    "missing-key",
                    format!("{who}: mirror with forge = \"{forge}\" needs `{key}`"),
                );
                None
            }
        }
    };
    let forge_name = m
        .forge
        .as_ref()
        .map_or("local", |f| f.get_ref().as_str())
        .to_string();
    let forge = match forge_name.as_str() {
        "local" => require(d, &m.repo, "repo", "local").map(|repo| ForgeConfig::Local { repo }),
        "github" => {
            let repo = require(d, &m.repo, "repo", "github");
            let token = secret_ref(d, m.token_env.as_ref(), m.token_file.as_ref(), "token");
            repo.and_then(|r| match r.split_once('/') {
                Some((owner, name))
                    if !owner.is_empty() && !name.is_empty() && !name.contains('/') =>
                {
                    Some(ForgeConfig::Github {
                        api_url: m.api_url.as_ref().map_or_else(
                            || "https://api.github.com".to_string(),
                            |u| u.get_ref().trim_end_matches('/').to_string(),
                        ),
                        owner: owner.to_string(),
                        repo: name.trim_end_matches(".git").to_string(),
                        token,
                    })
                }
                _ => {
                    d.at(
                        m.repo.as_ref().map(S::span),
                        "invalid-value",
                        format!("{who}: github mirror `repo` must be \"owner/name\", got `{r}`"),
                    );
                    None
                }
            })
        }
        "azure-devops" => {
            let repo = require(d, &m.repo, "repo", "azure-devops");
            let token = secret_ref(d, m.token_env.as_ref(), m.token_file.as_ref(), "token");
            repo.and_then(|r| {
                let parts: Vec<&str> = r.split('/').collect();
                if parts.len() == 3 && parts.iter().all(|p| !p.is_empty()) {
                    Some(ForgeConfig::AzureDevops {
                        base_url: m.base_url.as_ref().map_or_else(|| "https://dev.azure.com".to_string(), |u| u.get_ref().trim_end_matches('/').to_string()),
                        organization: parts[0].to_string(),
                        project: parts[1].to_string(),
                        repository: parts[2].to_string(),
                        api_version: m.api_version.as_ref().map_or_else(|| "7.1".to_string(), |v| v.get_ref().clone()),
                        token,
                    })
                } else {
                    d.at(m.repo.as_ref().map(S::span), "invalid-value", format!("{who}: azure-devops mirror `repo` must be \"organization/project/repository\", got `{r}`"));
                    None
                }
            })
        }
        other => {
            d.at(
                m.forge.as_ref().map(S::span),
                "invalid-value",
                format!(
                    "{who}: forge `{other}` is not one of \"local\", \"github\", \"azure-devops\""
                ),
            );
            None
        }
    };
    let pin_format = match m
        .pin_format
        .as_ref()
        .map(|f| (f.get_ref().as_str(), f.span()))
    {
        None | Some(("lockfile", _)) => Some(PinFormat::Lockfile),
        Some(("azure-pipelines", _)) => Some(PinFormat::AzurePipelines),
        Some((other, span)) => {
            d.at(
                Some(span),
                "invalid-value",
                format!(
                    "{who}: pin-format `{other}` is not one of \"azure-pipelines\", \"lockfile\""
                ),
            );
            None
        }
    };
    let pin_file = match &m.pin_file {
        None => match pin_format {
            Some(PinFormat::AzurePipelines) => "azure-pipelines.yml".to_string(),
            _ => "upkeep.lock".to_string(),
        },
        Some(p) => {
            let v = p.get_ref();
            let bad = v.is_empty()
                || v.starts_with('/')
                || v.split(['/', '\\'])
                    .any(|c| c == ".." || c.is_empty() || c == ".git");
            if bad {
                d.at(Some(p.span()), "invalid-value", format!("{who}: `pin-file` must be a relative path inside the mirror repo, got `{v}`"));
            }
            v.clone()
        }
    };
    let base = m
        .base
        .as_ref()
        .map_or_else(|| "main".to_string(), |b| b.get_ref().clone());
    if base.is_empty() || !git2::Reference::is_valid_name(&format!("refs/heads/{base}")) {
        d.at(
            m.base.as_ref().map(S::span),
            "invalid-value",
            format!("{who}: `base` `{base}` is not a valid branch name"),
        );
    }
    let list = |v: &Option<S<Vec<S<String>>>>| {
        v.as_ref()
            .map(|l| l.get_ref().iter().map(|s| s.get_ref().clone()).collect())
            .unwrap_or_default()
    };
    Some(MirrorConfig {
        forge: forge?,
        base,
        pin_file,
        pin_format: pin_format?,
        pin_entry: m.pin_entry.as_ref().map(|e| e.get_ref().clone()),
        labels: list(&m.labels),
        reviewers: list(&m.reviewers),
    })
}

impl ValidConfig {
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
