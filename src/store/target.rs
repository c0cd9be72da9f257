//! Which database a state is: what a config's `[state]` resolves to, and what an open store
//! is connected to, so two can be compared (a config reload must never switch databases under
//! a running service).
//!
//! A SQLite state is its file, after symlinks and relative paths are resolved; a PostgreSQL
//! state is the hosts, ports, database name and `options` its URL names
//! ([`db::postgres_identity`]), never the credentials or TLS settings, so a rotated password
//! or a new `sslmode` is still the same database. Neither form holds a secret, but neither is
//! meant for messages: show [`super::Location`].

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::db;
use crate::config::{StateBackend, StateConfig};
use crate::secret::Secret;

/// What identifies one state database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The SQLite file, canonical when it exists (else absolute).
    Sqlite(PathBuf),
    /// See [`db::postgres_identity`].
    Postgres(String),
}

impl Target {
    /// The file at `path` (relative to the working directory, like the store opens it).
    pub fn sqlite(path: &Path) -> Target {
        let resolved = std::fs::canonicalize(path)
            .or_else(|_| std::path::absolute(path))
            .unwrap_or_else(|_| path.to_path_buf());
        Target::Sqlite(resolved)
    }

    /// The database `url` names. Errors name no part of the URL.
    pub fn postgres(url: &Secret) -> anyhow::Result<Target> {
        Ok(Target::Postgres(db::postgres_identity(url.expose())?))
    }

    /// The database `state` names now: the SQLite path, or the URL read now from the variable
    /// or file the config names (I/O; errors name the variable or file, never the value).
    pub fn resolve(state: &StateConfig) -> anyhow::Result<Target> {
        match &state.backend {
            StateBackend::Sqlite { path, .. } => Ok(Target::sqlite(path)),
            StateBackend::Postgres(pg) => {
                let url = pg.url()?;
                Target::postgres(&url).with_context(|| {
                    format!(
                        "reading the database that {} names",
                        crate::config::database_url::source(&pg.url_from)
                    )
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(url: &str) -> Target {
        Target::postgres(&Secret::new(url)).unwrap()
    }

    #[test]
    fn credentials_and_tls_settings_do_not_change_the_database() {
        let base = pg("postgres://upkeep:old-pw@db.example.com:5432/upkeep");
        for same in [
            "postgres://upkeep:new-pw@db.example.com:5432/upkeep",
            "postgresql://other-user:pw@DB.example.com/upkeep?sslmode=require",
            "postgres://db.example.com/upkeep?password=x&application_name=y",
        ] {
            assert_eq!(pg(same), base, "{same}");
        }
    }

    #[test]
    fn host_port_database_or_options_change_the_database() {
        let base = pg("postgres://u:pw@db.example.com:5432/upkeep");
        for other in [
            "postgres://u:pw@db2.example.com:5432/upkeep",
            "postgres://u:pw@db.example.com:5433/upkeep",
            "postgres://u:pw@db.example.com:5432/upkeep_staging",
            "postgres://u:pw@db.example.com,db2.example.com/upkeep",
            "postgres://u:pw@db.example.com/upkeep?options=-csearch_path%3Dother",
            // No database name: libpq takes the user's name.
            "postgres://other@db.example.com/",
        ] {
            assert_ne!(pg(other), base, "{other}");
        }
        // ...which is the same database when the user's name is the database's.
        assert_eq!(pg("postgres://upkeep@db.example.com:5432"), base);
        // The default database is the user's: a new user is then a new database.
        assert_ne!(
            pg("postgres://a@db.example.com/"),
            pg("postgres://b@db.example.com/")
        );
    }

    #[test]
    fn an_unreadable_url_names_no_part_of_it() {
        let err = format!(
            "{:#}",
            Target::postgres(&Secret::new("postgres://u:s3cret@db/x?sslmode=bogus")).unwrap_err()
        );
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn a_sqlite_file_is_the_same_through_a_symlink_or_a_relative_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("upkeep.db");
        std::fs::write(&file, b"").unwrap();
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(Target::sqlite(&link), Target::sqlite(&file));
        assert_eq!(
            Target::sqlite(&dir.path().join("sub/../upkeep.db")),
            Target::sqlite(&file)
        );
        assert_ne!(
            Target::sqlite(&dir.path().join("other.db")),
            Target::sqlite(&file)
        );
    }
}
