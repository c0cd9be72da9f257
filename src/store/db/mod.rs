//! The SQL the store speaks, over either backend: SQLite (the embedded default, `rusqlite`) or
//! PostgreSQL (shared state for several replicas, the blocking `postgres` client).
//!
//! Every statement the store runs is written once, in the common subset of the two dialects,
//! with SQLite's numbered placeholders (`?1`, `?2`, …); the PostgreSQL side rewrites them to
//! `$1`, `$2`, … and maps the schema's column types. Values cross this boundary as [`Value`]s
//! (SQLite's five storage classes), so a row reads the same from either backend: that is what
//! keeps one code path for every decision.
//!
//! A transaction ([`Conn::transaction`]) is the unit of a decision on both backends. On SQLite
//! it is `BEGIN IMMEDIATE` (one writer at a time); on PostgreSQL it takes a transaction-level
//! advisory lock first, the same guarantee across every replica, so a decision that reads then
//! writes stays correct without reasoning about isolation levels statement by statement.

use std::cell::RefCell;
use std::fmt;

mod pg;
mod pool;
mod sqlite;

/// The throwaway PostgreSQL cluster of the unit tests (see `pg/cluster.rs`).
#[cfg(test)]
pub(crate) use pg::cluster as pg_cluster;
pub use pg::{PgOptions, database_identity as postgres_identity};
pub use pool::{Lease, Pool, PoolStats};

/// A PostgreSQL URL as people may see it: `host:port/database`, never a user, password or
/// query parameter (libpq also takes `?password=` there).
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) if u.has_host() => format!(
            "{}:{}{}",
            u.host_str().unwrap_or_default(),
            u.port().unwrap_or(5432),
            u.path()
        ),
        _ => "a PostgreSQL server (URL not shown)".to_string(),
    }
}

/// Which SQL dialect a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// One SQL value: SQLite's storage classes. Booleans are integers 0/1, timestamps RFC 3339 text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Integer(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        }
    }
}

/// What went wrong talking to the database.
#[derive(Debug)]
pub enum Error {
    Sqlite(rusqlite::Error),
    Postgres {
        /// The SQLSTATE, when the server answered with one (`55P03` lock not available, …).
        code: Option<String>,
        /// Whether the connection is gone (the server restarted, the network dropped).
        connection_lost: bool,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `query_row` found no row.
    NoRows,
    /// A column held a value of another kind than the caller asked for.
    Type {
        column: usize,
        expected: &'static str,
        found: &'static str,
    },
    /// A value out of the range of the type asked for (a negative count read as `usize`).
    Range {
        column: usize,
        value: String,
    },
    /// A column index past the end of the row.
    Column(usize),
    /// Every pooled PostgreSQL connection stayed leased for as long as a call may wait.
    PoolExhausted {
        size: usize,
        waited: std::time::Duration,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sqlite(e) => write!(f, "{e}"),
            Error::Postgres { source, .. } => write!(f, "{source}"),
            Error::NoRows => f.write_str("query returned no rows"),
            Error::Type {
                column,
                expected,
                found,
            } => write!(f, "column {column}: expected {expected}, found {found}"),
            Error::Range { column, value } => {
                write!(f, "column {column}: {value} is out of range")
            }
            Error::Column(i) => write!(f, "no column {i}"),
            Error::PoolExhausted { size, waited } => write!(
                f,
                "all {size} connections to PostgreSQL ([state] pool-size = {size}) stayed busy \
                 for {}: raise pool-size, or look for statements that do not finish \
                 (pg_stat_activity)",
                humantime::format_duration(*waited)
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Sqlite(e) => Some(e),
            Error::Postgres { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Error::NoRows,
            e => Error::Sqlite(e),
        }
    }
}

impl Error {
    /// Another process held a lock longer than the configured wait (SQLite busy/locked,
    /// PostgreSQL `lock_not_available`): the caller may say "busy" rather than "failed".
    pub fn is_locked(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            Error::Postgres { code, .. } => code.as_deref() == Some("55P03"),
            _ => false,
        }
    }

    /// The connection to the database is gone; the next call reconnects.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            Error::Postgres {
                connection_lost: true,
                ..
            }
        )
    }
}

/// `query_row`'s "no row" as `None`, like `rusqlite::OptionalExtension`.
pub trait OptionalExt<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExt<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

// ---- values in -----------------------------------------------------------------------------

/// A Rust value that can be bound to a placeholder.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
macro_rules! integer_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                // Saturating: the store's counters and sizes never come near i64::MAX.
                Value::Integer(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
integer_to_value!(i8, i16, i32, i64, u8, u16, u32, u64, usize);

/// What a statement's placeholders are bound to: `params![a, b]`, `[]`, or a slice of values.
pub trait Params {
    fn values(&self) -> Vec<Value>;
}

impl Params for &[&dyn ToValue] {
    fn values(&self) -> Vec<Value> {
        self.iter().map(|v| v.to_value()).collect()
    }
}
impl<const N: usize> Params for [&dyn ToValue; N] {
    fn values(&self) -> Vec<Value> {
        self.iter().map(|v| v.to_value()).collect()
    }
}
impl<const N: usize> Params for &[&dyn ToValue; N] {
    fn values(&self) -> Vec<Value> {
        self.iter().map(|v| v.to_value()).collect()
    }
}
impl Params for Vec<Value> {
    fn values(&self) -> Vec<Value> {
        self.clone()
    }
}
impl Params for &[Value] {
    fn values(&self) -> Vec<Value> {
        self.to_vec()
    }
}

/// `params![a, b, c]`: the placeholders `?1`, `?2`, `?3`, like `rusqlite::params!`.
#[macro_export]
macro_rules! db_params {
    () => { &[] as &[&dyn $crate::store::db::ToValue] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::store::db::ToValue),+] as &[&dyn $crate::store::db::ToValue] };
}
pub use crate::db_params as params;

// ---- values out ----------------------------------------------------------------------------

/// One result row, read into owned values (both backends materialise rows the same way).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    values: Vec<Value>,
}

/// A Rust type a column can be read as.
pub trait FromValue: Sized {
    /// `column` is only for the error message.
    fn from_value(value: &Value, column: usize) -> Result<Self>;
}

/// A column position; only `usize`, so `r.get(0)` infers like rusqlite's `RowIndex`.
pub trait ColumnIndex {
    fn index(self) -> usize;
}
impl ColumnIndex for usize {
    fn index(self) -> usize {
        self
    }
}

impl Row {
    pub fn new(values: Vec<Value>) -> Row {
        Row { values }
    }

    pub fn get<I: ColumnIndex, T: FromValue>(&self, column: I) -> Result<T> {
        let column = column.index();
        let value = self.values.get(column).ok_or(Error::Column(column))?;
        T::from_value(value, column)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}

fn wrong(value: &Value, column: usize, expected: &'static str) -> Error {
    Error::Type {
        column,
        expected,
        found: value.kind(),
    }
}

impl FromValue for Value {
    fn from_value(value: &Value, _: usize) -> Result<Self> {
        Ok(value.clone())
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value, column: usize) -> Result<Self> {
        match value {
            Value::Null => Ok(None),
            v => T::from_value(v, column).map(Some),
        }
    }
}
impl FromValue for String {
    fn from_value(value: &Value, column: usize) -> Result<Self> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            v => Err(wrong(v, column, "text")),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(value: &Value, column: usize) -> Result<Self> {
        match value {
            Value::Blob(b) => Ok(b.clone()),
            // SQLite hands back text stored in a BLOB column as text; so does a cast.
            Value::Text(s) => Ok(s.clone().into_bytes()),
            v => Err(wrong(v, column, "blob")),
        }
    }
}
impl FromValue for f64 {
    fn from_value(value: &Value, column: usize) -> Result<Self> {
        match value {
            Value::Real(r) => Ok(*r),
            #[allow(clippy::cast_precision_loss)]
            Value::Integer(i) => Ok(*i as f64),
            v => Err(wrong(v, column, "real")),
        }
    }
}
impl FromValue for bool {
    fn from_value(value: &Value, column: usize) -> Result<Self> {
        match value {
            Value::Integer(i) => Ok(*i != 0),
            v => Err(wrong(v, column, "integer (boolean)")),
        }
    }
}
macro_rules! integer_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value, column: usize) -> Result<Self> {
                match value {
                    Value::Integer(i) => <$t>::try_from(*i).map_err(|_| Error::Range {
                        column,
                        value: i.to_string(),
                    }),
                    v => Err(wrong(v, column, "integer")),
                }
            }
        }
    )*};
}
integer_from_value!(i8, i16, i32, i64, u8, u16, u32, u64, usize);

// ---- connections ---------------------------------------------------------------------------

/// One connection to the state database.
pub enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(pg::PgConn),
}

/// The statements both a connection and a transaction run.
pub trait Exec {
    fn dialect(&self) -> Dialect;

    /// Run one statement; the number of rows it changed.
    fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize>;

    /// Run several `;`-separated statements without parameters (schema migrations).
    fn execute_batch(&self, sql: &str) -> Result<()>;

    /// Every row of a query, each mapped by `f`.
    fn query_map<P: Params, T>(
        &self,
        sql: &str,
        params: P,
        f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Vec<T>>;

    /// The first row of a query mapped by `f`; [`Error::NoRows`] when there is none (see
    /// [`OptionalExt::optional`]).
    fn query_row<P: Params, T>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T>;

    /// Whether a query returns any row.
    fn exists<P: Params>(&self, sql: &str, params: P) -> Result<bool> {
        self.query_map(sql, params, |_| Ok(()))
            .map(|rows| !rows.is_empty())
    }
}

/// An open transaction: rolled back when dropped without [`Tx::commit`].
pub struct Tx<'c> {
    conn: RefCell<&'c mut Conn>,
    done: bool,
}

impl Conn {
    /// Open the SQLite database at `path` (see `sqlite.rs` for the pragmas it sets).
    pub fn open_sqlite(path: &std::path::Path, busy_timeout: std::time::Duration) -> Result<Conn> {
        sqlite::open(path, busy_timeout).map(Conn::Sqlite)
    }

    /// Connect to PostgreSQL.
    pub fn connect_postgres(options: &PgOptions) -> Result<Conn> {
        pg::PgConn::connect(options).map(Conn::Postgres)
    }

    /// Begin the unit of a decision (see the module docs).
    pub fn transaction(&mut self) -> Result<Tx<'_>> {
        match self {
            Conn::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE")?,
            Conn::Postgres(c) => c.begin()?,
        }
        Ok(Tx {
            conn: RefCell::new(self),
            done: false,
        })
    }

    /// The schema version recorded in the database (0 for a new one).
    pub fn schema_version(&mut self) -> Result<usize> {
        match self {
            Conn::Sqlite(c) => sqlite::schema_version(c),
            Conn::Postgres(c) => c.schema_version(),
        }
    }

    /// Every row of a query, from whichever backend this is.
    fn rows(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        match self {
            Conn::Sqlite(c) => sqlite::query(c, sql, params),
            Conn::Postgres(c) => c.query(sql, params),
        }
    }

    /// Whether the connection is known to be broken (PostgreSQL after a lost connection).
    pub fn is_closed(&self) -> bool {
        match self {
            Conn::Sqlite(_) => false,
            Conn::Postgres(c) => c.is_closed(),
        }
    }
}

impl Tx<'_> {
    /// Commit; when that fails the transaction is rolled back (on drop), so the connection is
    /// never left inside it (SQLite keeps a transaction open after a failed `COMMIT`, say one
    /// that found the database busy).
    pub fn commit(mut self) -> Result<()> {
        let out = match &mut **self.conn.get_mut() {
            Conn::Sqlite(c) => c.execute_batch("COMMIT").map_err(Error::from),
            Conn::Postgres(c) => c.commit(),
        };
        self.done = out.is_ok();
        out
    }

    /// The schema version, as this transaction sees it (a migration re-reads it under the
    /// write lock).
    pub fn schema_version(&self) -> Result<usize> {
        match &mut **self.conn.borrow_mut() {
            Conn::Sqlite(c) => sqlite::schema_version(c),
            Conn::Postgres(c) => c.schema_version(),
        }
    }

    /// Record `version` as the schema version, inside this transaction (migrations).
    pub fn set_schema_version(&self, version: usize) -> Result<()> {
        match &mut **self.conn.borrow_mut() {
            Conn::Sqlite(c) => sqlite::set_schema_version(c, version),
            Conn::Postgres(c) => c.set_schema_version(version),
        }
    }
}

#[cfg(test)]
impl Tx<'_> {
    /// Rows this connection inserted, updated or deleted so far: tests count a call's writes
    /// (PostgreSQL counts them per transaction; SQLite per connection, so take a difference).
    pub(crate) fn total_changes(&self) -> Result<u64> {
        if let Conn::Sqlite(c) = &**self.conn.borrow() {
            return Ok(c.total_changes());
        }
        self.query_row(
            "SELECT CAST(COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0) AS BIGINT)
             FROM pg_stat_xact_user_tables",
            params![],
            |r| r.get(0),
        )
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = match &mut **self.conn.get_mut() {
                Conn::Sqlite(c) => c.execute_batch("ROLLBACK").map_err(Error::from),
                Conn::Postgres(c) => c.rollback(),
            };
        }
    }
}

/// A migration's SQL as `dialect` needs it: the schema is written for SQLite; PostgreSQL gets
/// its column types (`BIGINT` for `INTEGER`, `BYTEA` for `BLOB`, identity columns for
/// `AUTOINCREMENT`).
pub fn migration_sql(dialect: Dialect, sql: &str) -> std::borrow::Cow<'_, str> {
    match dialect {
        Dialect::Sqlite => std::borrow::Cow::Borrowed(sql),
        Dialect::Postgres => pg::ddl(sql),
    }
}

impl Exec for Conn {
    fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }
    fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        match self {
            Conn::Sqlite(c) => sqlite::execute(c, sql, &params.values()),
            Conn::Postgres(c) => c.execute(sql, &params.values()),
        }
    }
    fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(c) => c.execute_batch(sql).map_err(Error::from),
            Conn::Postgres(c) => c.execute_batch(sql),
        }
    }
    fn query_map<P: Params, T>(
        &self,
        sql: &str,
        params: P,
        mut f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.rows(sql, &params.values())?
            .iter()
            .map(&mut f)
            .collect()
    }
    fn query_row<P: Params, T>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T> {
        f(self
            .rows(sql, &params.values())?
            .first()
            .ok_or(Error::NoRows)?)
    }
}

impl Exec for Tx<'_> {
    fn dialect(&self) -> Dialect {
        self.conn.borrow().dialect()
    }
    fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.conn.borrow().execute(sql, params)
    }
    fn execute_batch(&self, sql: &str) -> Result<()> {
        self.conn.borrow().execute_batch(sql)
    }
    fn query_map<P: Params, T>(
        &self,
        sql: &str,
        params: P,
        f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.conn.borrow().query_map(sql, params, f)
    }
    fn query_row<P: Params, T>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T> {
        self.conn.borrow().query_row(sql, params, f)
    }
}
