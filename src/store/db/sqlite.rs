//! The SQLite side of [`super`]: `rusqlite` with the pragmas the store has always set.
//! SKELETON: the port fills these in.

use std::path::Path;
use std::time::Duration;

use super::{Result, Row, Value};

pub(super) fn open(_path: &Path, _busy_timeout: Duration) -> Result<rusqlite::Connection> {
    todo!("open, busy handler, WAL, synchronous, foreign_keys, secure_delete")
}

pub(super) fn execute(_c: &rusqlite::Connection, _sql: &str, _params: &[Value]) -> Result<usize> {
    todo!("prepare_cached + execute")
}

pub(super) fn query(_c: &rusqlite::Connection, _sql: &str, _params: &[Value]) -> Result<Vec<Row>> {
    todo!("prepare_cached + every row as owned Values")
}

pub(super) fn schema_version(_c: &rusqlite::Connection) -> Result<usize> {
    todo!("PRAGMA user_version")
}

pub(super) fn set_schema_version(_c: &rusqlite::Connection, _version: usize) -> Result<()> {
    todo!("PRAGMA user_version = n")
}
