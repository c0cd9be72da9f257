//! The state's schema version and when migrations are applied.
//!
//! The version is the number of [`MIGRATIONS`] applied (SQLite's `user_version`, a one-row
//! table on PostgreSQL: see [`db::Conn::schema_version`]). The migrations are written in SQLite's
//! DDL; [`db::migration_sql`] gives PostgreSQL its column types. Opening a state checks the
//! version against what this build knows:
//! - newer than this build: always refused ([`SchemaError::Newer`]): an older upkeep must not
//!   write to a schema it does not know (a column it would not fill, a table it would not
//!   keep);
//! - older: migrated under [`Policy::Apply`] (`upkeep migrate`, `--migrate`, `[state]
//!   auto-migrate = true`, the SQLite default), refused under [`Policy::Refuse`]
//!   ([`SchemaError::Pending`]) with nothing changed.
//!
//! Each migration runs in its own immediate transaction that first re-reads the version, so two
//! processes migrating at once apply each step once, and a crash leaves a whole number of steps.

use serde::Serialize;

use super::Location;
use super::db::{self, Exec as _};
use super::migrations::MIGRATIONS;

/// Whether opening a state may apply its pending migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Apply,
    Refuse,
}

/// A state this build must not use as it is. Callers branch on it (its own exit code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the state database {location} is at schema version {state}, newer than this upkeep knows ({known}); \
         nothing was changed: run the upkeep that migrated it (or a newer one), or point [state] path at another state"
    )]
    Newer {
        location: Location,
        state: usize,
        known: usize,
    },
    #[error(
        "the state database {location} is at schema version {state} and this upkeep needs version {known} \
         (migration{} {} pending); nothing was changed: apply {} with `upkeep migrate`, or pass --migrate, \
         or set [state] auto-migrate = true",
        if known - state == 1 { "" } else { "s" },
        numbers(*state, *known),
        if known - state == 1 { "it" } else { "them" }
    )]
    Pending {
        location: Location,
        state: usize,
        known: usize,
    },
}

/// One migration (applied or pending), for `upkeep migrate` to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    pub number: usize,
    /// What it changed, read from its SQL (`table fleet_behind, column outbox.run_id`).
    pub summary: String,
}

/// The schema version this build knows (the number of migrations).
pub fn known() -> usize {
    MIGRATIONS.len()
}

/// The state's schema version.
///
/// # Errors
/// When the database cannot be read.
pub fn version(conn: &mut db::Conn) -> anyhow::Result<usize> {
    Ok(conn.schema_version()?)
}

/// Brings the state at `location` to [`known`] under `policy`; returns what was applied (nothing
/// when it was current).
///
/// # Errors
/// A [`SchemaError`] when the state is newer, or older under [`Policy::Refuse`]; any failed
/// migration (its transaction rolled back, the ones before it kept).
pub fn migrate(
    conn: &mut db::Conn,
    policy: Policy,
    location: &Location,
) -> anyhow::Result<Vec<Migration>> {
    let (state, known) = (version(conn)?, known());
    let location = location.clone();
    if state > known {
        return Err(SchemaError::Newer {
            location,
            state,
            known,
        }
        .into());
    }
    if state < known && policy == Policy::Refuse {
        return Err(SchemaError::Pending {
            location,
            state,
            known,
        }
        .into());
    }
    migrate_to(conn, known)
}

/// Applies the migrations up to `target` only: a state as an older upkeep left it (tests, and
/// tools that must reproduce one).
///
/// # Errors
/// A failed migration, or a `target` beyond [`known`].
pub fn migrate_to(conn: &mut db::Conn, target: usize) -> anyhow::Result<Vec<Migration>> {
    anyhow::ensure!(
        target <= known(),
        "there is no schema version {target} (this upkeep knows {})",
        known()
    );
    let mut applied = Vec::new();
    let current = version(conn)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().take(target).skip(current) {
        let number = i + 1;
        let dialect = conn.dialect();
        let tx = conn.transaction()?;
        // Re-read under the write lock: another process may have applied it meanwhile.
        if tx.schema_version()? >= number {
            continue;
        }
        tx.execute_batch(&db::migration_sql(dialect, sql))
            .map_err(|e| anyhow::anyhow!("migration {number}: {e}"))?;
        tx.set_schema_version(number)?;
        tx.commit()?;
        tracing::debug!(migration = number, "applied a state migration");
        applied.push(Migration {
            number,
            summary: summary(sql),
        });
    }
    Ok(applied)
}

/// The migrations after schema version `state`, not applied.
pub fn pending(state: usize) -> Vec<Migration> {
    MIGRATIONS
        .iter()
        .enumerate()
        .skip(state)
        .map(|(i, sql)| Migration {
            number: i + 1,
            summary: summary(sql),
        })
        .collect()
}

/// `16` or `16 to 18`.
fn numbers(state: usize, known: usize) -> String {
    if known - state == 1 {
        known.to_string()
    } else {
        format!("{} to {known}", state + 1)
    }
}

/// What a migration's SQL changes, one item per statement: `table runs`, `index x`,
/// `column outbox.run_id`, `rows of outbox`, `drops x`.
pub fn summary(sql: &str) -> String {
    let code: String = sql
        .lines()
        .map(|l| l.split_once("--").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join(" ");
    let items: Vec<String> = code
        .split(';')
        .map(|statement| statement.split_whitespace().collect::<Vec<_>>())
        .filter(|words| !words.is_empty())
        .map(|words| item(&words))
        .collect();
    items.join(", ")
}

fn item(words: &[&str]) -> String {
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let upper: Vec<&str> = upper.iter().map(String::as_str).collect();
    // The first word that is not a keyword of the statement's opening: the object's name.
    let name = |skip: &[&str]| {
        words
            .iter()
            .zip(&upper)
            .skip(1)
            .find(|(_, u)| !skip.contains(u))
            .map_or("?", |(w, _)| w.split('(').next().unwrap_or(w))
            .to_string()
    };
    let opening = [
        "TABLE", "INDEX", "UNIQUE", "IF", "NOT", "EXISTS", "TRIGGER", "VIEW",
    ];
    let opening = &opening[..];
    match upper.as_slice() {
        ["CREATE", rest @ ..] => {
            let kind = rest
                .iter()
                .find(|w| matches!(**w, "TABLE" | "INDEX" | "TRIGGER" | "VIEW"))
                .map_or("object", |w| match *w {
                    "TABLE" => "table",
                    "INDEX" => "index",
                    "TRIGGER" => "trigger",
                    _ => "view",
                });
            format!("{kind} {}", name(opening))
        }
        ["ALTER", "TABLE", _, "ADD", ..] => {
            let column = words
                .iter()
                .zip(&upper)
                .skip(4)
                .find(|(_, u)| **u != "COLUMN")
                .map_or("?", |(w, _)| *w);
            format!("column {}.{column}", words[2])
        }
        ["ALTER", "TABLE", ..] => format!("changes table {}", words[2]),
        ["DROP", ..] => format!("drops {}", name(opening)),
        ["INSERT", ..] | ["REPLACE", ..] => {
            format!("rows of {}", name(&["OR", "REPLACE", "IGNORE", "INTO"]))
        }
        ["UPDATE", ..] => format!("rows of {}", name(&["OR", "REPLACE", "IGNORE"])),
        ["DELETE", ..] => format!("rows of {}", name(&["FROM"])),
        _ => words.iter().take(3).copied().collect::<Vec<_>>().join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, db::Conn) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::testing::conn(dir.path());
        (dir, conn)
    }

    crate::store::testing::on_both_backends! {
        fn an_older_state_is_migrated_only_when_allowed() {
            let (dir, mut conn) = db();
            let path = crate::store::testing::location(dir.path());
            migrate_to(&mut conn, 10).unwrap();
            conn.execute(
                "INSERT INTO server_state(server, pinned_ref) VALUES ('weather', 'refs/tags/v1')",
                db::params![],
            )
            .unwrap();
            let err = migrate(&mut conn, Policy::Refuse, &path).unwrap_err();
            let schema = err.downcast_ref::<SchemaError>().unwrap();
            assert_eq!(
                *schema,
                SchemaError::Pending {
                    location: path.clone(),
                    state: 10,
                    known: known()
                }
            );
            let text = schema.to_string();
            assert!(
                text.contains("version 10") && text.contains(&format!("needs version {}", known())),
                "{text}"
            );
            assert!(text.contains("upkeep migrate") && text.contains("--migrate"));
            assert_eq!(version(&mut conn).unwrap(), 10, "nothing was changed");

            let applied = migrate(&mut conn, Policy::Apply, &path).unwrap();
            let numbers: Vec<usize> = applied.iter().map(|a| a.number).collect();
            assert_eq!(numbers, (11..=known()).collect::<Vec<_>>());
            assert_eq!(version(&mut conn).unwrap(), known());
            let kept: String = conn
                .query_row("SELECT pinned_ref FROM server_state", db::params![], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(kept, "refs/tags/v1");
            // Current: nothing to apply, under either policy.
            assert!(migrate(&mut conn, Policy::Apply, &path).unwrap().is_empty());
            assert!(
                migrate(&mut conn, Policy::Refuse, &path)
                    .unwrap()
                    .is_empty()
            );
        }

        fn a_newer_state_is_refused_whatever_the_policy() {
            let (dir, mut conn) = db();
            let path = crate::store::testing::location(dir.path());
            migrate_to(&mut conn, known()).unwrap();
            let tx = conn.transaction().unwrap();
            tx.set_schema_version(known() + 2).unwrap();
            tx.commit().unwrap();
            for policy in [Policy::Apply, Policy::Refuse] {
                let err = migrate(&mut conn, policy, &path).unwrap_err();
                let text = err.downcast_ref::<SchemaError>().unwrap().to_string();
                assert!(
                    text.contains(&format!("schema version {}", known() + 2))
                        && text.contains(&format!("knows ({})", known())),
                    "{text}"
                );
            }
            assert_eq!(version(&mut conn).unwrap(), known() + 2);
            assert!(migrate_to(&mut conn, known() + 1).is_err());
        }

        fn a_step_applied_by_another_process_meanwhile_is_skipped() {
            let (dir, mut conn) = db();
            migrate_to(&mut conn, 5).unwrap();
            let mut other = crate::store::testing::conn(dir.path());
            assert_eq!(migrate_to(&mut other, 6).unwrap().len(), 1);
            // This connection still believes 5: step 6 is skipped under the lock, 7 applied.
            let applied = migrate_to(&mut conn, 7).unwrap();
            assert_eq!(applied.iter().map(|a| a.number).collect::<Vec<_>>(), [7]);
        }
    }

    #[test]
    fn summaries_name_what_each_statement_changes() {
        let sql = "
            -- a comment; with a semicolon
            CREATE TABLE IF NOT EXISTS fleet_behind (server TEXT PRIMARY KEY);
            CREATE UNIQUE INDEX IF NOT EXISTS idx_x ON t(a);
            ALTER TABLE outbox ADD COLUMN run_id INTEGER;
            ALTER TABLE pull_requests ADD head_commit TEXT;
            UPDATE outbox SET status = 'x';
            INSERT OR IGNORE INTO bot_branches(server, branch) SELECT 1, 2;
            DROP TABLE IF EXISTS old;
            PRAGMA foo;
        ";
        assert_eq!(
            summary(sql),
            "table fleet_behind, index idx_x, column outbox.run_id, column pull_requests.head_commit, \
             rows of outbox, rows of bot_branches, drops old, PRAGMA foo"
        );
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let s = summary(sql);
            assert!(
                !s.is_empty() && !s.contains('?'),
                "migration {}: {s}",
                i + 1
            );
        }
    }
}

#[cfg(test)]
mod migration_race {
    use std::time::Duration;

    use crate::store::Store;
    use crate::store::db::PgOptions;
    use crate::store::schema::{Policy, known};

    /// Replicas starting together against an empty database each migrate it: one applies each
    /// migration, the others find it applied under the lock.
    #[test]
    fn replicas_starting_together_migrate_one_database_once() {
        let db = crate::store::db::pg_cluster::fresh_database();
        let url = db.url();
        let opened: Vec<anyhow::Result<usize>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let url = url.clone();
                    s.spawn(move || {
                        let options = PgOptions {
                            url: crate::secret::Secret::new(url),
                            lock_timeout: Duration::from_secs(60),
                        };
                        Store::open_postgres(&options, Policy::Apply).map(|(_, a)| a.len())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let applied: Vec<usize> = opened
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{e:#}")))
            .collect();
        assert_eq!(applied.iter().sum::<usize>(), known(), "{applied:?}");
    }
}
