//! `[state]`: which database holds the state (SQLite, the default, or PostgreSQL shared by
//! several replicas), where the cache of upstream clones lives, how long the state's leases,
//! locks, claims and reports last, and how much one upstream may make them hold.
//!
//! Each backend has keys of its own (`path` and `busy-timeout` for SQLite; `url-env` or
//! `url-file`, `lock-timeout`, `claim-ttl` and `pool-size` for PostgreSQL); one given with the other backend
//! is refused rather than silently ignored. The PostgreSQL URL is never part of the config
//! text: [`super::database_url`] reads it when the state is opened.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::database_url;
use super::diag::Diagnostics;
use super::raw::S;
use super::secrets::{SecretRef, secret_ref};
use super::values;
use crate::secret::Secret;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawState {
    pub backend: Option<S<String>>,
    pub path: Option<S<String>>,
    /// Never accepted (a URL may carry a password): taken only to say what to write instead.
    pub url: Option<S<toml::Value>>,
    pub url_env: Option<S<String>>,
    pub url_file: Option<S<String>>,
    pub cache_dir: Option<S<String>>,
    pub lease_timeout: Option<S<String>>,
    pub busy_timeout: Option<S<String>>,
    pub lock_timeout: Option<S<String>>,
    pub claim_ttl: Option<S<String>>,
    pub pool_size: Option<S<i64>>,
    pub report_retention: Option<S<String>>,
    pub max_tags: Option<S<i64>>,
    pub max_fetch_size: Option<S<String>>,
    pub auto_migrate: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct StateConfig {
    /// Which database holds the state, with what only that database needs.
    pub backend: StateBackend,
    /// The SQLite file: the same as [`StateBackend::Sqlite`]'s `path` (with PostgreSQL, the
    /// default and meaningless). Kept while the code that opens the state reads it here;
    /// new code matches on `backend`.
    pub path: PathBuf,
    pub cache_dir: PathBuf,
    /// How long a run lease is honoured without being renewed (a crashed run frees it after this).
    pub lease_timeout: Duration,
    /// How long a SQLite write waits for another process's lock before giving up: the same as
    /// [`StateBackend::Sqlite`]'s (with PostgreSQL, the default; see
    /// [`PostgresState::lock_timeout`]).
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

/// The database that holds the state.
#[derive(Debug, Clone)]
pub enum StateBackend {
    /// One file, one installation: the default.
    Sqlite {
        path: PathBuf,
        /// How long a write waits for another process's lock on the file.
        busy_timeout: Duration,
    },
    /// A PostgreSQL database that several `serve` replicas share.
    Postgres(PostgresState),
}

/// `[state] backend = "postgres"`: where the URL comes from, and the timings of sharing.
#[derive(Debug, Clone)]
pub struct PostgresState {
    /// The variable or file that holds the connection URL; read by [`PostgresState::url`].
    pub url_from: SecretRef,
    /// How long a write waits for a row or lock another replica's transaction holds before
    /// giving up (PostgreSQL's `lock_timeout`; never zero, which PostgreSQL reads as forever).
    pub lock_timeout: Duration,
    /// How long a replica's claim on one server lasts unless renewed; renewed every
    /// [`PostgresState::claim_renewal`], and taken over by another replica once expired.
    pub claim_ttl: Duration,
    /// The most connections this process opens to the database (`crate::store::db::Pool`).
    pub pool_size: usize,
}

impl PostgresState {
    /// The connection URL, read now from the environment or the file the config names (its
    /// surrounding whitespace trimmed). Errors name the variable or file, never the value; show
    /// the URL only through [`database_url::redact`].
    pub fn url(&self) -> anyhow::Result<Secret> {
        database_url::load(&self.url_from)
    }

    /// How often a held claim is renewed: a third of its lifetime, so one renewal can fail
    /// (or wait `lock-timeout`) and the next still lands before the claim expires.
    pub fn claim_renewal(&self) -> Duration {
        self.claim_ttl / 3
    }
}

impl StateConfig {
    /// How long a claim on one server lasts unless renewed (only a shared state claims).
    pub fn claim_ttl(&self) -> Duration {
        match &self.backend {
            StateBackend::Postgres(pg) => pg.claim_ttl,
            StateBackend::Sqlite { .. } => DEFAULT_CLAIM_TTL,
        }
    }

    /// How long one write waits for another process's lock: SQLite's `busy-timeout`, or
    /// PostgreSQL's `lock-timeout`.
    pub fn lock_wait(&self) -> Duration {
        match &self.backend {
            StateBackend::Postgres(pg) => pg.lock_timeout,
            StateBackend::Sqlite { busy_timeout, .. } => *busy_timeout,
        }
    }

    /// The state's place for messages and logs: the SQLite file, or where the PostgreSQL
    /// URL comes from (never the URL: reading it is I/O, and it may carry a password).
    pub fn location(&self) -> String {
        match &self.backend {
            StateBackend::Sqlite { path, .. } => path.display().to_string(),
            StateBackend::Postgres(pg) => {
                format!(
                    "PostgreSQL (URL from {})",
                    database_url::source(&pg.url_from)
                )
            }
        }
    }
}

/// Default of `max-tags`: far above any project's release history, far below a tag flood.
pub const DEFAULT_MAX_TAGS: usize = 10_000;
/// Default of `max-fetch-size`: larger than the packs of the biggest servers upkeep follows.
pub const DEFAULT_MAX_FETCH_BYTES: u64 = 2 << 30;
/// Default of `busy-timeout` (SQLite) and of `lock-timeout` (PostgreSQL).
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(10);
/// Default of `claim-ttl`: a dead replica's servers wait at most this long for another
/// replica; long enough that a busy database or a short network pause loses no claim.
pub const DEFAULT_CLAIM_TTL: Duration = Duration::from_secs(120);
/// Default of `pool-size` (PostgreSQL): enough that a run's concurrent syncs seldom wait for a
/// connection to read (write transactions take turns anyway), few enough that several
/// replicas stay far below PostgreSQL's default `max_connections` (100).
pub const DEFAULT_POOL_SIZE: usize = 8;
/// The largest `pool-size`: more connections than this only make more backends contend.
pub const MAX_POOL_SIZE: usize = 64;
/// Default of `auto-migrate` for the PostgreSQL state: replicas of two versions run side by
/// side during a rolling update, and each starting replica must not race the others to
/// migrate the schema under the older ones; the migration Job (`upkeep migrate`) does it once,
/// before the rollout.
pub const DEFAULT_AUTO_MIGRATE_POSTGRES: bool = false;
/// Default of `auto-migrate` for the SQLite state: the file belongs to one installation, whose
/// run lease lets one process at a time write it, so the binary that opens it is the one to
/// migrate it (as every upkeep before explicit migrations did); there is no older replica that
/// a migration could strand.
pub const DEFAULT_AUTO_MIGRATE: bool = true;

pub fn validate(raw: Option<RawState>, d: &mut Diagnostics<'_>) -> StateConfig {
    let s = raw.unwrap_or_default();
    let path = |p: Option<&S<String>>, default: &str| {
        p.map_or_else(|| PathBuf::from(default), |p| PathBuf::from(p.get_ref()))
    };
    let sqlite_path = path(s.path.as_ref(), "var/upkeep.db");
    let busy_timeout = values::duration(
        d,
        s.busy_timeout.as_ref(),
        "busy-timeout",
        DEFAULT_LOCK_WAIT,
    );
    let kind = backend_kind(d, &s);
    let pool_size = pool_size(d, &s, kind);
    let backend = match kind {
        Some(Kind::Postgres) => StateBackend::Postgres(postgres(d, &s, pool_size)),
        _ => StateBackend::Sqlite {
            path: sqlite_path.clone(),
            busy_timeout,
        },
    };
    let default_auto_migrate = match backend {
        StateBackend::Sqlite { .. } => DEFAULT_AUTO_MIGRATE,
        StateBackend::Postgres(_) => DEFAULT_AUTO_MIGRATE_POSTGRES,
    };
    StateConfig {
        backend,
        lease_timeout: values::duration(
            d,
            s.lease_timeout.as_ref(),
            "lease-timeout",
            Duration::from_secs(30 * 60),
        ),
        busy_timeout,
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
        auto_migrate: s.auto_migrate.unwrap_or(default_auto_migrate),
        path: sqlite_path,
        cache_dir: path(s.cache_dir.as_ref(), "var/cache"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

/// The backend `backend` names (`None` when it names none), after refusing a `url` key and
/// every key of the other backend.
fn backend_kind(d: &mut Diagnostics<'_>, s: &RawState) -> Option<Kind> {
    if let Some(url) = &s.url {
        // The line holds the URL, and so maybe its password: placed, never shown.
        d.at_secret_line(
            Some(url.span()),
            "secret-in-config",
            "`url` is not read: a connection URL may carry a password, which never belongs in \
             the config; put the URL in an environment variable or a file and name it with \
             `url-env` or `url-file`, and change that password if the URL had one",
        );
    }
    let kind = match s.backend.as_ref() {
        None => Kind::Sqlite,
        Some(b) => match b.get_ref().as_str() {
            "sqlite" => Kind::Sqlite,
            "postgres" => Kind::Postgres,
            other => {
                let message = "`backend` must be \"sqlite\" or \"postgres\"";
                if other.contains("://") {
                    // A connection URL written here: placed, never shown.
                    d.at_secret_line(
                        Some(b.span()),
                        "secret-in-config",
                        format!(
                            "{message}, and the URL goes in an environment variable or a file \
                             that `url-env` or `url-file` names; change its password if it had one"
                        ),
                    );
                } else {
                    d.at(
                        Some(b.span()),
                        "invalid-value",
                        format!("{message}, not `{other}`"),
                    );
                }
                return None;
            }
        },
    };
    for (key, value) in other_backend_keys(s, kind) {
        let message = wrong_backend(key, kind, s.backend.is_none());
        if value.get_ref().contains("://") {
            d.at_secret_line(Some(value.span()), "wrong-backend", message);
        } else {
            d.at(Some(value.span()), "wrong-backend", message);
        }
    }
    Some(kind)
}

/// The keys given that only the other backend reads, with their values.
fn other_backend_keys(s: &RawState, kind: Kind) -> Vec<(&'static str, &S<String>)> {
    let keys = match kind {
        Kind::Postgres => vec![("path", &s.path), ("busy-timeout", &s.busy_timeout)],
        Kind::Sqlite => vec![
            ("url-env", &s.url_env),
            ("url-file", &s.url_file),
            ("lock-timeout", &s.lock_timeout),
            ("claim-ttl", &s.claim_ttl),
        ],
    };
    keys.into_iter()
        .filter_map(|(key, value)| Some((key, value.as_ref()?)))
        .collect()
}

/// `pool-size`: PostgreSQL's alone, a whole number of connections from 1 to
/// [`MAX_POOL_SIZE`].
fn pool_size(d: &mut Diagnostics<'_>, s: &RawState, kind: Option<Kind>) -> usize {
    let Some(v) = &s.pool_size else {
        return DEFAULT_POOL_SIZE;
    };
    if kind == Some(Kind::Sqlite) {
        let message = wrong_backend("pool-size", Kind::Sqlite, s.backend.is_none());
        d.at(Some(v.span()), "wrong-backend", message);
        return DEFAULT_POOL_SIZE;
    }
    match usize::try_from(*v.get_ref()) {
        Ok(n) if (1..=MAX_POOL_SIZE).contains(&n) => n,
        _ => {
            d.at(
                Some(v.span()),
                "invalid-value",
                format!(
                    "`pool-size` must be a number of connections from 1 to {MAX_POOL_SIZE}, \
                     not {}",
                    v.get_ref()
                ),
            );
            DEFAULT_POOL_SIZE
        }
    }
}

/// Why `key` does not fit a state of `kind`, and what to write instead.
fn wrong_backend(key: &str, kind: Kind, default: bool) -> String {
    match (kind, key) {
        (Kind::Postgres, "path") => "`path` is the SQLite file, and this state is in PostgreSQL \
             (`backend = \"postgres\"`), in the database its URL names: remove `path`"
            .to_string(),
        (Kind::Postgres, _) => format!(
            "`{key}` is SQLite's, and this state is in PostgreSQL (`backend = \"postgres\"`): \
             write `lock-timeout`, how long a write waits for another replica's transaction"
        ),
        (Kind::Sqlite, _) => format!(
            "`{key}` is for `backend = \"postgres\"`, and this state is SQLite{}: set \
             `backend = \"postgres\"`, or remove `{key}`",
            if default { " (the default)" } else { "" }
        ),
    }
}

/// The PostgreSQL keys: where the URL comes from, and the timings of sharing the database.
fn postgres(d: &mut Diagnostics<'_>, s: &RawState, pool_size: usize) -> PostgresState {
    let url_from = url_source(d, s);
    let lock_timeout = values::duration(
        d,
        s.lock_timeout.as_ref(),
        "lock-timeout",
        DEFAULT_LOCK_WAIT,
    );
    if let Some(v) = &s.lock_timeout
        && lock_timeout.is_zero()
    {
        d.at(
            Some(v.span()),
            "invalid-value",
            "`lock-timeout` must be longer than zero: PostgreSQL reads a zero lock timeout as \
             waiting forever",
        );
    }
    let claim_ttl = values::duration(d, s.claim_ttl.as_ref(), "claim-ttl", DEFAULT_CLAIM_TTL);
    let place = s.claim_ttl.as_ref().or(s.lock_timeout.as_ref());
    if let Some(v) = place
        && !lock_timeout.is_zero()
        && claim_ttl <= lock_timeout * 3
    {
        d.at(
            Some(v.span()),
            "invalid-value",
            format!(
                "`claim-ttl` ({}) must be longer than 3 x `lock-timeout` ({}): a claim is \
                 renewed every claim-ttl/3 and a renewal may wait lock-timeout for another \
                 replica's transaction, so the next renewal must still land before the claim \
                 expires",
                humantime::format_duration(claim_ttl),
                humantime::format_duration(lock_timeout)
            ),
        );
    }
    PostgresState {
        url_from,
        lock_timeout,
        claim_ttl,
        pool_size,
    }
}

/// `url-env` or `url-file`: exactly one, naming a variable or a file, never holding the URL.
fn url_source(d: &mut Diagnostics<'_>, s: &RawState) -> SecretRef {
    for (key, value, holds) in [
        ("url-env", &s.url_env, "name of an environment variable"),
        ("url-file", &s.url_file, "path of a file"),
    ] {
        if let Some(v) = value
            && v.get_ref().contains("://")
        {
            d.at_secret_line(
                Some(v.span()),
                "secret-in-config",
                format!(
                    "`{key}` holds a URL, not the {holds}: put the URL there and give its name \
                     here; and change the password if the URL had one, since it was written \
                     into the config"
                ),
            );
            return SecretRef::None;
        }
    }
    let from = secret_ref(d, s.url_env.as_ref(), s.url_file.as_ref(), "url");
    if s.url_env.is_none() && s.url_file.is_none() && s.url.is_none() {
        d.at(
            s.backend.as_ref().map(|b| b.span()),
            "missing-key",
            "`backend = \"postgres\"` needs `url-env` (an environment variable's name) or \
             `url-file` (a file's path) to say where the connection URL is: it may carry a \
             password, so it is never written in the config",
        );
    }
    from
}
