//! `[state]`: where the SQLite state and the cache of upstream clones live, how long the
//! state's leases, locks and reports last, and how much one upstream may make them hold.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::diag::Diagnostics;
use super::raw::S;
use super::values;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawState {
    pub path: Option<S<String>>,
    pub cache_dir: Option<S<String>>,
    pub lease_timeout: Option<S<String>>,
    pub busy_timeout: Option<S<String>>,
    pub report_retention: Option<S<String>>,
    pub max_tags: Option<S<i64>>,
    pub max_fetch_size: Option<S<String>>,
    pub auto_migrate: Option<bool>,
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
    /// An upstream advertising more tags than this is refused (before anything is fetched).
    pub max_tags: usize,
    /// One fetch receiving more bytes than this is aborted.
    pub max_fetch_bytes: u64,
    /// Whether the commands that use the state apply its pending schema migrations when they
    /// open it (else they refuse it until `upkeep migrate` or `--migrate`).
    pub auto_migrate: bool,
}

/// Default of `max-tags`: far above any project's release history, far below a tag flood.
pub const DEFAULT_MAX_TAGS: usize = 10_000;
/// Default of `max-fetch-size`: larger than the packs of the biggest servers upkeep follows.
pub const DEFAULT_MAX_FETCH_BYTES: u64 = 2 << 30;
/// Default of `auto-migrate` for the SQLite state: the file belongs to one installation, whose
/// run lease lets one process at a time write it, so the binary that opens it is the one to
/// migrate it (as every upkeep before explicit migrations did); there is no older replica that
/// a migration could strand.
pub const DEFAULT_AUTO_MIGRATE: bool = true;

pub fn validate(raw: Option<RawState>, d: &mut Diagnostics<'_>) -> StateConfig {
    let s = raw.unwrap_or_default();
    let path = |p: Option<S<String>>, default: &str| {
        p.map_or_else(|| PathBuf::from(default), |p| PathBuf::from(p.into_inner()))
    };
    StateConfig {
        lease_timeout: values::duration(
            d,
            s.lease_timeout.as_ref(),
            "lease-timeout",
            Duration::from_secs(30 * 60),
        ),
        busy_timeout: values::duration(
            d,
            s.busy_timeout.as_ref(),
            "busy-timeout",
            Duration::from_secs(10),
        ),
        report_retention: values::duration(
            d,
            s.report_retention.as_ref(),
            "report-retention",
            Duration::from_secs(30 * 24 * 3600),
        ),
        max_tags: values::positive(
            d,
            s.max_tags.as_ref(),
            "`max-tags` must be a positive number of tags",
            DEFAULT_MAX_TAGS,
        ),
        max_fetch_bytes: values::size(
            d,
            s.max_fetch_size.as_ref(),
            "max-fetch-size",
            DEFAULT_MAX_FETCH_BYTES,
        ),
        auto_migrate: s.auto_migrate.unwrap_or(DEFAULT_AUTO_MIGRATE),
        path: path(s.path, "var/upkeep.db"),
        cache_dir: path(s.cache_dir, "var/cache"),
    }
}
