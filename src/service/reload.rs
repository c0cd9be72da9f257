//! What a config reload (SIGHUP) may change under a running `serve`, decided apart from the
//! reload itself ([`super::Control::reload`]): pure, table-tested.
//!
//! A reload never switches databases. Every record a running service keeps (runs in flight,
//! claims, leases, the outbox it drains) is in the database it opened; pointing the next runs
//! at another one would leave the run in flight writing to the old database while new runs
//! write to the new, duplicate PRs and emails the new database has no record of, and (with
//! `auto-migrate`) migrate a database nobody chose to migrate at that moment. So a reload whose
//! `[state]` names another database is refused: the service keeps its old config, the log
//! names the key, and a restart switches. "Another database" is compared on what was resolved
//! ([`crate::store::Target`]), not on the text: renaming `url-env` to another variable that
//! holds the same URL, or a rotated password in the URL file, is the same database.
//!
//! The other `[state]` keys apply to runs started after the reload (a run in flight keeps the
//! deps it started with), because each is read where one run or one new connection begins:
//!
//! | key | on reload |
//! |---|---|
//! | `backend`, `path`, `url-env`, `url-file` (what they resolve to) | refused: restart to switch |
//! | `busy-timeout`, `lock-timeout` | applied: the reload opens the state's new connection with them |
//! | `pool-size` | applied: the reload's new store keeps up to that many connections (the old store's close as the runs holding it end) |
//! | `claim-ttl` | applied to claims taken from then on; each claim's expiry is written with it, so replicas (or this one before and after) may differ |
//! | `lease-timeout` | applied to leases taken from then on, and to `/readyz`'s stuck-run check |
//! | `cache-dir` | applied: the next runs fetch into the new directory (a first fetch there is a full clone) |
//! | `report-retention`, `max-tags`, `max-fetch-size` | applied to the next runs |
//! | `auto-migrate` | no effect: the reload reopens the database this process already migrated or checked at start |

use crate::config::{SecretRef, StateBackend, StateConfig};
use crate::store::Target;

/// How a reload ended, as `/metrics` counts it (`upkeep_config_reloads_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The new config replaced the old one.
    Applied,
    /// The file did not validate; the old config stays.
    Invalid,
    /// The new config names another database; the old config stays until a restart.
    Refused,
    /// The new config was valid but its state could not be opened; the old config stays.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Invalid => "invalid",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }

    pub fn applied(self) -> bool {
        self == Outcome::Applied
    }
}

/// Why a reload would switch databases: the `[state]` key that changed, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseChange {
    /// The key as written in `[state]` (`backend`, `path`, `url-env`, `url-file`).
    pub key: &'static str,
    /// What changed, in words that hold no value of the key (a URL may carry a password).
    pub what: &'static str,
}

/// Whether the reloaded `[state]` (`new`, which resolves to `named`) names another database
/// than the one the service runs on (`old`, opened as `running`).
pub fn database_change(
    old: &StateConfig,
    running: &Target,
    new: &StateConfig,
    named: &Target,
) -> Option<DatabaseChange> {
    if running == named {
        return None;
    }
    let change = |key, what| Some(DatabaseChange { key, what });
    match (&old.backend, &new.backend) {
        (StateBackend::Sqlite { .. }, StateBackend::Sqlite { .. }) => {
            change("path", "names another SQLite file")
        }
        (StateBackend::Postgres(old), StateBackend::Postgres(new)) => {
            let key = url_key(&new.url_from);
            if old.url_from == new.url_from {
                change(
                    key,
                    "holds a URL that now names another PostgreSQL database (host, port, \
                     database name or options)",
                )
            } else {
                change(key, "names a URL of another PostgreSQL database")
            }
        }
        _ => change("backend", "names another kind of database"),
    }
}

fn url_key(from: &SecretRef) -> &'static str {
    match from {
        SecretRef::File(_) => "url-file",
        SecretRef::Env(_) | SecretRef::None => "url-env",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    fn state(backend: StateBackend) -> StateConfig {
        let path = match &backend {
            StateBackend::Sqlite { path, .. } => path.clone(),
            StateBackend::Postgres(_) => PathBuf::from("var/upkeep.db"),
        };
        StateConfig {
            backend,
            path,
            cache_dir: PathBuf::from("var/cache"),
            lease_timeout: Duration::from_secs(1800),
            busy_timeout: Duration::from_secs(10),
            report_retention: Duration::ZERO,
            max_tags: 10,
            max_fetch_bytes: 10,
            auto_migrate: true,
        }
    }

    fn sqlite(path: &str) -> StateConfig {
        state(StateBackend::Sqlite {
            path: PathBuf::from(path),
            busy_timeout: Duration::from_secs(10),
        })
    }

    fn postgres(from: SecretRef) -> StateConfig {
        state(StateBackend::Postgres(crate::config::PostgresState {
            url_from: from,
            lock_timeout: Duration::from_secs(10),
            claim_ttl: Duration::from_secs(120),
            pool_size: crate::config::DEFAULT_POOL_SIZE,
        }))
    }

    fn file(path: &str) -> Target {
        Target::Sqlite(PathBuf::from(path))
    }

    fn db(identity: &str) -> Target {
        Target::Postgres(identity.into())
    }

    #[test]
    fn the_key_that_switches_the_database_is_named() {
        let env = |v: &str| postgres(SecretRef::Env(v.into()));
        let url_file = |p: &str| postgres(SecretRef::File(PathBuf::from(p)));
        let key = |old: &StateConfig, running: &Target, new: &StateConfig, named: &Target| {
            database_change(old, running, new, named).map(|c| c.key)
        };
        // Nothing resolved differently: applied, whatever the text says.
        let a = sqlite("/s/a.db");
        assert_eq!(key(&a, &file("/s/a.db"), &a, &file("/s/a.db")), None);
        assert_eq!(
            key(&a, &file("/s/a.db"), &sqlite("a.db"), &file("/s/a.db")),
            None
        );
        assert_eq!(
            key(&env("A"), &db("h:5432/x"), &url_file("/u"), &db("h:5432/x")),
            None
        );
        // Another file, another backend, another URL source or URL.
        assert_eq!(
            key(&a, &file("/s/a.db"), &sqlite("/s/b.db"), &file("/s/b.db")),
            Some("path")
        );
        assert_eq!(
            key(&a, &file("/s/a.db"), &env("A"), &db("h:5432/x")),
            Some("backend")
        );
        assert_eq!(
            key(&env("A"), &db("h:5432/x"), &a, &file("/s/a.db")),
            Some("backend")
        );
        assert_eq!(
            key(&env("A"), &db("h:5432/x"), &url_file("/u"), &db("h:5432/y")),
            Some("url-file")
        );
        assert_eq!(
            key(&env("A"), &db("h:5432/x"), &env("B"), &db("h:5432/y")),
            Some("url-env")
        );
        let change = database_change(&env("A"), &db("h:5432/x"), &env("A"), &db("g:5432/x"));
        assert_eq!(change.as_ref().map(|c| c.key), Some("url-env"));
        assert!(change.unwrap().what.contains("now names another"));
    }
}
