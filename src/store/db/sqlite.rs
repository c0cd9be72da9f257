//! The SQLite side of [`super`]: `rusqlite` with the pragmas the store has always set (WAL,
//! `synchronous = NORMAL`, foreign keys, secure delete), a busy handler that waits like SQLite's
//! own busy timeout and says so, and every statement prepared once per connection
//! (`prepare_cached`) with its rows read into owned [`Value`]s.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};

use super::{Result, Row, Value};

/// Open the state database at `path`. The caller creates the file (owner-only) before SQLite
/// opens it, so its `-wal` and `-shm` files take the same mode.
pub(super) fn open(path: &Path, busy_timeout: Duration) -> Result<rusqlite::Connection> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.busy_handler(Some(lock_waiter(path.to_path_buf(), busy_timeout)))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted rows are overwritten, not left in free pages: dropped cache entries (once
    // keyed with credentials) and pruned reports must not linger in the file.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(conn)
}

/// The connection's busy handler: SQLite's own busy-timeout waits (the same growing delays, up
/// to `timeout` per locking event), plus a debug line when a wait starts, so a run that stalls
/// on another process's lock says why. The `state-lock-wait` failpoint lets a test see that a
/// run is waiting (and hold it there) rather than guess from the clock.
fn lock_waiter(path: PathBuf, timeout: Duration) -> impl FnMut(i32) -> bool + Send + 'static {
    const DELAYS_MS: [u64; 12] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];
    let mut waited = Duration::ZERO;
    move |count| {
        if count == 0 {
            waited = Duration::ZERO;
            tracing::debug!(
                state = %path.display(),
                busy_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                "state database locked by another process; waiting"
            );
            crate::failpoint::hit("state-lock-wait");
        }
        let left = timeout.saturating_sub(waited);
        if left.is_zero() {
            return false;
        }
        let step = usize::try_from(count).unwrap_or(0).min(DELAYS_MS.len() - 1);
        let delay = Duration::from_millis(DELAYS_MS[step]).min(left);
        std::thread::sleep(delay);
        waited += delay;
        true
    }
}

/// A [`Value`] as rusqlite binds it.
struct Bind<'a>(&'a Value);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn owned(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        // The store writes only UTF-8; anything else is read as a blob rather than mangled.
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => Value::Text(s.to_owned()),
            Err(_) => Value::Blob(t.to_vec()),
        },
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn binds(params: &[Value]) -> Vec<Bind<'_>> {
    params.iter().map(Bind).collect()
}

pub(super) fn execute(c: &rusqlite::Connection, sql: &str, params: &[Value]) -> Result<usize> {
    let mut stmt = c.prepare_cached(sql)?;
    Ok(stmt.execute(rusqlite::params_from_iter(binds(params)))?)
}

pub(super) fn query(c: &rusqlite::Connection, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
    let mut stmt = c.prepare_cached(sql)?;
    let columns = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(binds(params)))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..columns)
            .map(|i| row.get_ref(i).map(owned))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.push(Row::new(values));
    }
    Ok(out)
}

pub(super) fn schema_version(c: &rusqlite::Connection) -> Result<usize> {
    let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    usize::try_from(v).map_err(|_| super::Error::Range {
        column: 0,
        value: v.to_string(),
    })
}

pub(super) fn set_schema_version(c: &rusqlite::Connection, version: usize) -> Result<()> {
    let v = i64::try_from(version).map_err(|_| super::Error::Range {
        column: 0,
        value: version.to_string(),
    })?;
    Ok(c.pragma_update(None, "user_version", v)?)
}

#[cfg(test)]
// SQLite only: the SQLite side's own tests (pragmas, busy handler); PostgreSQL's are in pg/tests.rs.
mod tests {
    use super::super::{Conn, Error, Exec, OptionalExt, params};
    use super::*;

    fn db() -> (tempfile::TempDir, Conn) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Conn::open_sqlite(&dir.path().join("t.db"), Duration::from_millis(50)).unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, i INTEGER, r REAL, b BLOB)")
            .unwrap();
        (dir, conn)
    }

    fn round_trip<T: super::super::ToValue + super::super::FromValue>(conn: &Conn, v: T) -> T {
        conn.execute("DELETE FROM t", params![]).unwrap();
        conn.execute("INSERT INTO t(k, i) VALUES ('x', ?1)", params![v])
            .unwrap();
        conn.query_row("SELECT i FROM t WHERE k = 'x'", params![], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn values_of_every_kind_come_back_as_they_went_in() {
        let (_d, conn) = db();
        assert!(round_trip(&conn, true));
        assert!(!round_trip(&conn, false));
        assert_eq!(round_trip(&conn, i8::MIN), i8::MIN);
        assert_eq!(round_trip(&conn, i16::MAX), i16::MAX);
        assert_eq!(round_trip(&conn, i32::MIN), i32::MIN);
        assert_eq!(round_trip(&conn, i64::MAX), i64::MAX);
        assert_eq!(round_trip(&conn, u8::MAX), u8::MAX);
        assert_eq!(round_trip(&conn, u16::MAX), u16::MAX);
        assert_eq!(round_trip(&conn, u32::MAX), u32::MAX);
        assert_eq!(round_trip(&conn, 7u64), 7u64);
        assert_eq!(round_trip(&conn, 42usize), 42usize);
        assert!((round_trip(&conn, 2.5f64) - 2.5).abs() < f64::EPSILON);
        assert_eq!(round_trip(&conn, "text".to_string()), "text");
        assert_eq!(round_trip(&conn, vec![0u8, 255, 1]), vec![0u8, 255, 1]);
        assert_eq!(round_trip(&conn, Some(3i64)), Some(3i64));
        assert_eq!(round_trip(&conn, None::<i64>), None);
        assert_eq!(round_trip(&conn, Value::Null), Value::Null);
        conn.execute(
            "INSERT INTO t(k, i, r, b) VALUES ('y', ?1, ?2, ?3)",
            params![None::<String>, 1.5f64, &b"\x00\x01"[..]],
        )
        .unwrap();
        let row = conn
            .query_row("SELECT k, i, r, b FROM t WHERE k = 'y'", params![], |r| {
                Ok(r.clone())
            })
            .unwrap();
        assert_eq!(
            row.into_values(),
            [
                Value::Text("y".into()),
                Value::Null,
                Value::Real(1.5),
                Value::Blob(vec![0, 1])
            ]
        );
    }

    #[test]
    fn a_value_of_another_kind_or_range_is_an_error_and_no_row_is_none() {
        let (_d, conn) = db();
        conn.execute("INSERT INTO t(k, i) VALUES ('x', -1)", params![])
            .unwrap();
        let read = |sql: &str| {
            conn.query_row(sql, params![], |r| r.get::<_, u8>(0))
                .unwrap_err()
        };
        assert!(matches!(
            read("SELECT i FROM t"),
            Error::Range { column: 0, .. }
        ));
        assert!(matches!(
            read("SELECT k FROM t"),
            Error::Type {
                column: 0,
                expected: "integer",
                found: "text"
            }
        ));
        assert!(matches!(
            conn.query_row("SELECT i FROM t", params![], |r| r.get::<_, i64>(3)),
            Err(Error::Column(3))
        ));
        let none = conn
            .query_row("SELECT i FROM t WHERE k = 'y'", params![], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .unwrap();
        assert_eq!(none, None);
        assert!(matches!(
            conn.query_row("SELECT i FROM t WHERE k = 'y'", params![], |r| r
                .get::<_, i64>(0)),
            Err(Error::NoRows)
        ));
        assert!(conn.exists("SELECT 1 FROM t", params![]).unwrap());
        let bad = conn.execute("INSERT INTO nowhere VALUES (1)", params![]);
        assert!(matches!(bad, Err(Error::Sqlite(_))));
        assert!(!bad.unwrap_err().is_locked());
    }

    #[test]
    fn a_transaction_rolls_back_unless_committed_and_versions_are_kept() {
        let (_d, mut conn) = db();
        assert_eq!(conn.schema_version().unwrap(), 0);
        {
            let tx = conn.transaction().unwrap();
            tx.execute("INSERT INTO t(k) VALUES ('dropped')", params![])
                .unwrap();
            tx.set_schema_version(3).unwrap();
        }
        assert_eq!(conn.schema_version().unwrap(), 0);
        let tx = conn.transaction().unwrap();
        let before = tx.total_changes().unwrap();
        tx.execute("INSERT INTO t(k) VALUES ('kept')", params![])
            .unwrap();
        assert_eq!(tx.total_changes().unwrap() - before, 1);
        tx.set_schema_version(3).unwrap();
        tx.commit().unwrap();
        assert_eq!(conn.schema_version().unwrap(), 3);
        let keys = conn
            .query_map("SELECT k FROM t ORDER BY k", params![], |r| {
                r.get::<_, String>(0)
            })
            .unwrap();
        assert_eq!(keys, ["kept"]);
    }

    #[test]
    fn a_database_another_connection_holds_is_locked_after_the_wait() {
        let (dir, conn) = db();
        let mut other =
            Conn::open_sqlite(&dir.path().join("t.db"), Duration::from_millis(50)).unwrap();
        let held = other.transaction().unwrap();
        held.execute("INSERT INTO t(k) VALUES ('held')", params![])
            .unwrap();
        let err = conn
            .execute("INSERT INTO t(k) VALUES ('waits')", params![])
            .unwrap_err();
        assert!(err.is_locked(), "{err}");
        drop(held);
        conn.execute("INSERT INTO t(k) VALUES ('waits')", params![])
            .unwrap();
    }
}
