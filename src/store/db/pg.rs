//! The PostgreSQL side of [`super`]. SKELETON: the PostgreSQL engineer fills this in.
//!
//! Contract with `super` (do not change the signatures without telling the lead):
//! - every method takes `&self` (interior mutability: the `postgres::Client` sits in a
//!   `RefCell`), because `Exec` is implemented for `&Conn` and `&Tx`;
//! - `sql` arrives in SQLite's placeholder style (`?1`, `?2`, …) and is rewritten here to `$1`,
//!   `$2`, … outside string literals; prepared statements are cached per connection;
//! - parameters arrive as [`Value`]s and must bind to whatever type the server inferred for the
//!   placeholder (BIGINT, INTEGER, TEXT, BYTEA, DOUBLE PRECISION, BOOLEAN); rows come back as
//!   `Value`s (integers of any width and booleans as `Integer`, text as `Text`, bytea as `Blob`,
//!   floats as `Real`, NULL as `Null`);
//! - `begin` runs `BEGIN` and then takes the transaction-level advisory lock every writer takes
//!   (`pg_advisory_xact_lock`), waiting at most the configured lock timeout (then SQLSTATE 55P03,
//!   which `Error::is_locked` recognises);
//! - a lost connection is reported with `connection_lost: true`; the next statement *outside* a
//!   transaction (or the next `begin`) reconnects; statements inside a transaction whose
//!   connection was lost keep failing until `rollback`;
//! - the URL is a secret: it never appears in an error, a log line or a `Debug` output.

use std::borrow::Cow;

use super::{Error, Result, Row, Value};

/// How to reach the PostgreSQL server.
#[derive(Clone)]
pub struct PgOptions {
    /// The connection URL (`postgres://user:password@host:port/db?sslmode=…`): a secret.
    pub url: crate::secret::Secret,
    /// How long a statement waits for a lock another replica holds.
    pub lock_timeout: std::time::Duration,
}

pub struct PgConn {
    _todo: (),
}

fn unsupported() -> Error {
    Error::Postgres {
        code: None,
        connection_lost: false,
        source: "this build has no PostgreSQL backend yet".into(),
    }
}

impl PgConn {
    pub fn connect(_options: &PgOptions) -> Result<PgConn> {
        Err(unsupported())
    }
    pub fn execute(&self, _sql: &str, _params: &[Value]) -> Result<usize> {
        Err(unsupported())
    }
    pub fn execute_batch(&self, _sql: &str) -> Result<()> {
        Err(unsupported())
    }
    pub fn query(&self, _sql: &str, _params: &[Value]) -> Result<Vec<Row>> {
        Err(unsupported())
    }
    pub fn begin(&self) -> Result<()> {
        Err(unsupported())
    }
    pub fn commit(&self) -> Result<()> {
        Err(unsupported())
    }
    pub fn rollback(&self) -> Result<()> {
        Err(unsupported())
    }
    /// The schema version (a one-row table, `upkeep_schema`); 0 when the table is missing.
    pub fn schema_version(&self) -> Result<usize> {
        Err(unsupported())
    }
    pub fn set_schema_version(&self, _version: usize) -> Result<()> {
        Err(unsupported())
    }
    pub fn is_closed(&self) -> bool {
        true
    }
}

/// A migration written for SQLite, as PostgreSQL needs it (see [`super::migration_sql`]).
pub fn ddl(sql: &str) -> Cow<'_, str> {
    Cow::Borrowed(sql)
}
