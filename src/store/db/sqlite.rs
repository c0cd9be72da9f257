//! TEMPORARY (lead's branch): a minimal SQLite side so the claims can be tested before the
//! port lands; replaced by dbport's version at merge.

use std::path::Path;
use std::time::Duration;

use super::{Error, Result, Row, Value};

pub(super) fn open(path: &Path, busy_timeout: Duration) -> Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open(path)?;
    c.busy_timeout(busy_timeout)?;
    Ok(c)
}

fn bind(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Null => rusqlite::types::Value::Null,
        Value::Integer(i) => rusqlite::types::Value::Integer(*i),
        Value::Real(r) => rusqlite::types::Value::Real(*r),
        Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
        Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
    }
}

pub(super) fn execute(c: &rusqlite::Connection, sql: &str, params: &[Value]) -> Result<usize> {
    let mut st = c.prepare_cached(sql)?;
    Ok(st.execute(rusqlite::params_from_iter(params.iter().map(bind)))?)
}

pub(super) fn query(c: &rusqlite::Connection, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
    let mut st = c.prepare_cached(sql)?;
    let n = st.column_count();
    let mut rows = st.query(rusqlite::params_from_iter(params.iter().map(bind)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(match r.get::<_, rusqlite::types::Value>(i)? {
                rusqlite::types::Value::Null => Value::Null,
                rusqlite::types::Value::Integer(i) => Value::Integer(i),
                rusqlite::types::Value::Real(f) => Value::Real(f),
                rusqlite::types::Value::Text(s) => Value::Text(s),
                rusqlite::types::Value::Blob(b) => Value::Blob(b),
            });
        }
        out.push(Row::new(values));
    }
    Ok(out)
}

pub(super) fn schema_version(c: &rusqlite::Connection) -> Result<usize> {
    let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    usize::try_from(v).map_err(|_| Error::Range {
        column: 0,
        value: v.to_string(),
    })
}

pub(super) fn set_schema_version(c: &rusqlite::Connection, version: usize) -> Result<()> {
    c.pragma_update(
        None,
        "user_version",
        i64::try_from(version).unwrap_or(i64::MAX),
    )?;
    Ok(())
}
