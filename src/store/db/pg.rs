//! The PostgreSQL side of [`super`]: one connection of the blocking `postgres` client.
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
//!
//! Where it may run: the `postgres` client drives tokio-postgres on a runtime of its own and
//! blocks the calling thread, like `reqwest::blocking`. On a plain thread or inside
//! `tokio::task::spawn_blocking` that is fine (tested); called from inside an async task it
//! panics ("Cannot start a runtime from within a runtime"), as blocking a runtime worker
//! would starve its other tasks. The store only runs on blocking threads.
//!
//! One difference from SQLite the store's code must respect: a statement that fails inside a
//! PostgreSQL transaction aborts the whole transaction. So `commit` after a failed statement
//! is an error (the transaction was rolled back), never a silent success; code that expects a
//! conflict writes `ON CONFLICT DO NOTHING` rather than catching the error.
//!
//! A lost connection (the server restarted, the network dropped) is found by the statement
//! that meets it. Outside a transaction, that statement is tried once more on a fresh
//! connection only when it cannot have taken effect: `begin` (BEGIN and a lock change nothing)
//! and a plain `SELECT`. Anything else reports `connection_lost`: a write may have committed
//! just before the connection died (a server shutting down ends the session after the commit
//! but possibly before the answer), and only the caller can judge whether repeating it is
//! safe; the next call reconnects. Inside a transaction nothing is retried (see the contract).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use postgres::{Client, Statement};

use super::{Error, Result, Row, Value};

#[cfg(test)]
pub(crate) mod cluster;
mod sql;
#[cfg(test)]
mod tests;
mod tls;
mod values;

/// The advisory lock key every transaction takes: "upkeep" in ASCII, so it is recognisable in
/// `pg_locks` (`objid` 0x6b656570, `classid` 0x7570) and unlikely to meet another
/// application's key in a shared database.
pub(crate) const ADVISORY_KEY: i64 = 0x7570_6b65_6570;

/// Prepared statements kept per connection. The store's SQL is a fixed set of a few hundred
/// strings; the bound only matters for generated SQL (lists of placeholders), and the cache is
/// simply emptied when it is reached.
const STATEMENT_CACHE: usize = 512;

/// How long a connection attempt may take unless the URL says `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach the PostgreSQL server.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// The connection URL (`postgres://user:password@host:port/db?sslmode=…`): a secret.
    /// `sslmode` and `sslrootcert` as libpq reads them (see `pg/tls.rs`); `application_name`
    /// defaults to `upkeep`.
    pub url: crate::secret::Secret,
    /// How long a statement waits for a lock another replica holds (at least 1 ms:
    /// PostgreSQL reads 0 as "forever"). A store's call waits at most twice this for a free
    /// pooled connection (see `pool.rs`).
    pub lock_timeout: std::time::Duration,
}

/// Where and how to connect: the parsed URL, never shown, and the redacted `host:port/db`.
struct Target {
    config: postgres::Config,
    tls: tls::MakeRustls,
    shown: String,
    lock_timeout_ms: u128,
}

impl Target {
    fn new(options: &PgOptions) -> Result<Target> {
        let (url, settings) = tls::split_url(options.url.expose()).map_err(config_error)?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(config_error(
                "the PostgreSQL URL must start with postgres:// or postgresql://".to_owned(),
            ));
        }
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| config_error(format!("the PostgreSQL URL does not parse: {e}")))?;
        let (ssl_mode, tls) = tls::connector(&settings).map_err(config_error)?;
        config.ssl_mode(ssl_mode);
        if config.get_application_name().is_none() {
            config.application_name("upkeep");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let shown = shown(&config);
        Ok(Target {
            config,
            tls,
            shown,
            lock_timeout_ms: options.lock_timeout.as_millis().max(1),
        })
    }

    fn connect(&self) -> Result<Client> {
        self.config.connect(self.tls.clone()).map_err(|e| {
            let code = e.code().map(|c| c.code().to_owned());
            Error::Postgres {
                code,
                connection_lost: true,
                source: Box::new(Described {
                    message: format!(
                        "cannot connect to PostgreSQL at {}: {}",
                        self.shown,
                        describe(&e)
                    ),
                    inner: e,
                }),
            }
        })
    }
}

/// What names the database a connection URL reaches, whoever logs in and however: every
/// host (and `hostaddr`) with its port, the database name (libpq's default: the user name)
/// and `options` (which may set a `search_path`, another schema). Never the user, password or
/// TLS settings, so a rotated credential or a stricter `sslmode` is the same database. For
/// comparing two URLs (a reload must not switch databases); not for showing (see
/// [`shown`]). Errors name no part of the URL.
pub fn database_identity(url: &str) -> Result<String> {
    let (url, _) = tls::split_url(url).map_err(config_error)?;
    let config: postgres::Config = url
        .parse()
        .map_err(|e| config_error(format!("the PostgreSQL URL does not parse: {e}")))?;
    let ports = config.get_ports();
    let port = |i: usize| match ports {
        [] => 5432,
        [one] => *one,
        many => many.get(i).copied().unwrap_or(5432),
    };
    let mut hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| match h {
            postgres::config::Host::Tcp(h) => format!("{}:{}", h.to_ascii_lowercase(), port(i)),
            postgres::config::Host::Unix(p) => format!("{}:{}", p.display(), port(i)),
        })
        .collect();
    hosts.extend(config.get_hostaddrs().iter().map(|a| format!("addr {a}")));
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or_default();
    let options = config.get_options().unwrap_or_default();
    Ok(format!("{}/{db} options={options}", hosts.join(",")))
}

/// `host:port/db` of the first host: what messages may show of the URL.
fn shown(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or_default();
    format!("{host}:{port}/{db}")
}

/// A client error with what it means in words: tokio-postgres' own `Display` says only "db
/// error" or "error performing TLS handshake" and keeps the server's message, or the TLS
/// reason, in its source chain.
#[derive(Debug)]
struct Described {
    message: String,
    inner: postgres::Error,
}

impl fmt::Display for Described {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Described {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.inner)
    }
}

/// `e` in words: the server's severity, message, SQLSTATE, detail and hint; otherwise the
/// client's message and its causes.
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
        if let Some(detail) = db.detail() {
            s.push_str(&format!("; {detail}"));
        }
        if let Some(hint) = db.hint() {
            s.push_str(&format!("; hint: {hint}"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.ends_with(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = cause.source();
    }
    s
}

fn server_error(e: postgres::Error, connection_lost: bool) -> Error {
    Error::Postgres {
        code: e.code().map(|c| c.code().to_owned()),
        connection_lost,
        source: Box::new(Described {
            message: describe(&e),
            inner: e,
        }),
    }
}

fn config_error(message: String) -> Error {
    Error::Postgres {
        code: None,
        connection_lost: false,
        source: message.into(),
    }
}

/// Where the connection stands with respect to a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxState {
    Idle,
    /// `failed`: a statement failed, so PostgreSQL has aborted the transaction.
    Open {
        failed: bool,
    },
    /// The connection was lost inside the transaction: everything fails until `rollback`.
    Lost,
}

/// The prepared statements of one connection.
#[derive(Default)]
struct Cache {
    inferred: HashMap<String, Statement>,
    /// Statements whose placeholders the server cannot type (`?1 IS NULL`), prepared with the
    /// types of the values instead, keyed by SQL and those types.
    needs_types: HashSet<String>,
    typed: HashMap<(String, Vec<Type>), Statement>,
}

impl Cache {
    fn room(&mut self) {
        if self.inferred.len() + self.typed.len() >= STATEMENT_CACHE {
            self.inferred.clear();
            self.typed.clear();
        }
    }
}

struct State {
    client: Option<Client>,
    cache: Cache,
    tx: TxState,
    /// A session of this connection was found lost since [`PgConn::take_lost`] last asked
    /// (even when the call was then retried on a new one).
    lost: bool,
}

impl Drop for State {
    /// `postgres::Client` closes its connection with `block_on`, which panics on a thread that
    /// drives a tokio runtime, and the last `Arc<Store>` is often dropped by async code (a
    /// command's `Deps` at the end of `main`). So the client is closed on a thread of its own.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if tokio::runtime::Handle::try_current().is_err() {
                drop(client);
                return;
            }
            let closed = std::thread::Builder::new()
                .name("upkeep-pg-close".into())
                .spawn(move || drop(client));
            if let Ok(closing) = closed {
                let _ = closing.join();
            }
        }
    }
}

/// A failure inside one call: the server's (classified afterwards) or our own.
enum Failure {
    Db(postgres::Error),
    Store(Error),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Self {
        Failure::Db(e)
    }
}

/// Boxed: the client is large, and `Conn` holds this beside a SQLite connection. The parsed
/// URL is shared by every connection of one pool ([`PgConnector`]).
pub struct PgConn {
    target: Arc<Target>,
    state: Box<RefCell<State>>,
}

impl fmt::Debug for PgConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PgConn").field(&self.target.shown).finish()
    }
}

/// Opens connections to one database: the parsed URL, shared by the connections of a pool.
#[derive(Clone)]
pub struct PgConnector(Arc<Target>);

impl PgConnector {
    /// A connection not yet open: it connects on its first statement, as one whose session
    /// was lost reconnects (so it reports [`PgConn::is_closed`] until then).
    pub fn unopened(&self) -> PgConn {
        PgConn::with(Arc::clone(&self.0), None)
    }
}

impl fmt::Debug for PgConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PgConnector").field(&self.0.shown).finish()
    }
}

fn lost_in_transaction() -> Error {
    Error::Postgres {
        code: None,
        connection_lost: true,
        source: "the connection to PostgreSQL was lost inside a transaction; the server rolled \
                 it back"
            .into(),
    }
}

/// "cached plan must not change result type" (SQLSTATE 0A000): a table of a cached statement
/// changed since it was prepared.
fn is_stale_plan(e: &postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        db.code() == &SqlState::FEATURE_NOT_SUPPORTED && db.message().starts_with("cached plan")
    })
}

/// Whether `e` means the session is gone: the client saw the socket close, an I/O error, a
/// connection-exception SQLSTATE (class 08), or the server ending the session (57P01 admin
/// shutdown, 57P02 crash shutdown, 57P03 cannot connect now).
fn is_lost(e: &postgres::Error, client: &Client) -> bool {
    if e.is_closed() || client.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

impl PgConn {
    pub fn connect(options: &PgOptions) -> Result<PgConn> {
        let target = Target::new(options)?;
        let client = target.connect()?;
        Ok(PgConn::with(Arc::new(target), Some(client)))
    }

    fn with(target: Arc<Target>, client: Option<Client>) -> PgConn {
        PgConn {
            target,
            state: Box::new(RefCell::new(State {
                client,
                cache: Cache::default(),
                tx: TxState::Idle,
                lost: false,
            })),
        }
    }

    /// What opens more connections to the same database (a pool's).
    pub fn connector(&self) -> PgConnector {
        PgConnector(Arc::clone(&self.target))
    }

    /// Whether a session of this connection was found lost since the last time this was asked:
    /// the server may have restarted, so a pool's other idle sessions are suspect too.
    pub fn take_lost(&self) -> bool {
        std::mem::take(&mut self.state.borrow_mut().lost)
    }

    /// Whether a transaction is open on this connection (or was, until its session was lost):
    /// such a connection must not serve anyone else until it is rolled back.
    pub fn in_transaction(&self) -> bool {
        self.state.borrow().tx != TxState::Idle
    }

    /// Runs `f` on a live client, reconnecting first outside a transaction when the connection
    /// is gone, and books a failure (lost connection, aborted transaction) on the way out.
    /// Outside a transaction `f` is tried once more when it cannot have taken effect: after a
    /// lost connection when it is `idempotent`, and after a stale cached plan.
    fn with_client<T>(
        &self,
        idempotent: bool,
        mut f: impl FnMut(&mut Client, &mut Cache, bool) -> Result<T, Failure>,
    ) -> Result<T> {
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        let mut tries = 2;
        loop {
            tries -= 1;
            match state.tx {
                TxState::Lost => return Err(lost_in_transaction()),
                TxState::Idle if state.client.as_ref().is_none_or(Client::is_closed) => {
                    state.cache = Cache::default();
                    state.client = None;
                    state.client = Some(self.target.connect()?);
                }
                _ => {}
            }
            let in_tx = matches!(state.tx, TxState::Open { .. });
            let Some(client) = state.client.as_mut() else {
                return Err(lost_in_transaction());
            };
            let e = match f(client, &mut state.cache, in_tx) {
                Ok(v) => return Ok(v),
                Err(Failure::Store(e)) => {
                    if in_tx {
                        state.tx = TxState::Open { failed: true };
                    }
                    return Err(e);
                }
                Err(Failure::Db(e)) => e,
            };
            let lost = is_lost(&e, client);
            if lost {
                state.client = None;
                state.cache = Cache::default();
                state.lost = true;
            }
            state.tx = match (state.tx, lost) {
                (TxState::Open { .. }, true) => TxState::Lost,
                (TxState::Open { .. }, false) => TxState::Open { failed: true },
                (other, _) => other,
            };
            // Another process changed a table under a cached statement (a migration): the
            // server refuses before executing anything, so a fresh prepare is always safe.
            let stale = is_stale_plan(&e);
            if stale {
                state.cache = Cache::default();
            }
            let again = (lost && idempotent) || stale;
            if !(again && state.tx == TxState::Idle && tries > 0) {
                return Err(server_error(e, lost));
            }
            tracing::info!(database = %self.target.shown, error = %describe(&e),
                "retrying a PostgreSQL statement that did not run");
        }
    }

    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<usize> {
        let sql = sql::placeholders(sql);
        self.with_client(false, |client, cache, in_tx| {
            let statement = prepare(client, cache, in_tx, &sql, params)?;
            let bound = bind_all(&statement, params).map_err(Failure::Store)?;
            let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|b| &**b).collect();
            let n = client.execute(&statement, &refs)?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.with_client(false, |client, cache, _| {
            client.batch_execute(sql)?;
            // DDL may have changed what a cached statement returns ("cached plan must not
            // change result type"): prepare afresh.
            *cache = Cache::default();
            Ok(())
        })
    }

    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let sql = sql::placeholders(sql);
        self.with_client(sql::is_plain_select(&sql), |client, cache, in_tx| {
            let statement = prepare(client, cache, in_tx, &sql, params)?;
            let bound = bind_all(&statement, params).map_err(Failure::Store)?;
            let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|b| &**b).collect();
            let rows = client.query(&statement, &refs)?;
            rows.iter()
                .map(|r| values::read_row(r).map(Row::new))
                .collect::<Result<Vec<_>>>()
                .map_err(Failure::Store)
        })
    }

    pub fn begin(&self) -> Result<()> {
        let sql = format!(
            "BEGIN; SET LOCAL lock_timeout = '{}ms'; SELECT pg_advisory_xact_lock({ADVISORY_KEY})",
            self.target.lock_timeout_ms
        );
        let result = self.with_client(true, |client, _, _| {
            if let Err(e) = client.batch_execute(&sql) {
                // A lock wait that timed out left an aborted transaction behind.
                let _ = client.batch_execute("ROLLBACK");
                return Err(e.into());
            }
            Ok(())
        });
        if result.is_ok() {
            self.state.borrow_mut().tx = TxState::Open { failed: false };
        }
        result
    }

    pub fn commit(&self) -> Result<()> {
        // The state stays Open while COMMIT runs, so a dead connection is never replaced by a
        // new one that would answer COMMIT with "no transaction in progress" and succeed.
        let tx = self.state.borrow().tx;
        let result = match tx {
            TxState::Lost => Err(lost_in_transaction()),
            TxState::Idle => Err(config_error("COMMIT without a transaction".to_owned())),
            TxState::Open { failed: true } => Err(Error::Postgres {
                code: Some(SqlState::IN_FAILED_SQL_TRANSACTION.code().to_owned()),
                connection_lost: false,
                source: "a statement of this transaction failed, so PostgreSQL aborted it: \
                         nothing was committed"
                    .into(),
            }),
            TxState::Open { failed: false } => Ok(()),
        };
        let result = match result {
            // A connection lost during COMMIT leaves the outcome unknown, and says so.
            Ok(()) => self.with_client(false, |c, _, _| Ok(c.batch_execute("COMMIT")?)),
            Err(e) => {
                // PostgreSQL would answer COMMIT with ROLLBACK, silently: say it instead.
                let _ = self.rollback();
                Err(e)
            }
        };
        self.state.borrow_mut().tx = TxState::Idle;
        result
    }

    pub fn rollback(&self) -> Result<()> {
        let tx = self.state.borrow().tx;
        let result = match tx {
            // The server rolled back when the session ended.
            TxState::Lost | TxState::Idle => Ok(()),
            TxState::Open { .. } => {
                match self.with_client(false, |c, _, _| Ok(c.batch_execute("ROLLBACK")?)) {
                    Err(e) if e.is_connection_lost() => Ok(()),
                    other => other,
                }
            }
        };
        self.state.borrow_mut().tx = TxState::Idle;
        result
    }

    /// The schema version (a one-row table, `upkeep_schema`); 0 when the table is missing.
    pub fn schema_version(&self) -> Result<usize> {
        // Asked first rather than caught: a failed SELECT would abort a surrounding transaction.
        // Asked of pg_class with the statement's own snapshot, not with `to_regclass`: a name
        // lookup answers from this backend's catalog cache, which a transaction that waited for
        // the advisory lock has not refreshed since it began, so a replica that waited while
        // another created the table would still see none and migrate again.
        let exists = self.query(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relname = 'upkeep_schema' AND n.nspname = current_schema())",
            &[],
        )?;
        if exists.first().map(|r| r.get::<_, bool>(0)).transpose()? != Some(true) {
            return Ok(0);
        }
        let rows = self.query("SELECT version FROM upkeep_schema", &[])?;
        match rows.first() {
            Some(row) => row.get(0),
            None => Ok(0),
        }
    }

    pub fn set_schema_version(&self, version: usize) -> Result<()> {
        self.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS upkeep_schema (
                one_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one_row),
                version BIGINT NOT NULL
            );
            INSERT INTO upkeep_schema(version) VALUES ({version})
                ON CONFLICT (one_row) DO UPDATE SET version = EXCLUDED.version"
        ))
    }

    pub fn is_closed(&self) -> bool {
        let state = self.state.borrow();
        state.client.as_ref().is_none_or(Client::is_closed)
    }
}

/// The cached statement for `sql`, prepared on first use: with the types the server infers,
/// or, where it cannot (SQLSTATE 42P18 or 42P08), with the types of `params`.
fn prepare(
    client: &mut Client,
    cache: &mut Cache,
    in_tx: bool,
    sql: &str,
    params: &[Value],
) -> Result<Statement, Failure> {
    if !cache.needs_types.contains(sql) {
        if let Some(s) = cache.inferred.get(sql) {
            return Ok(s.clone());
        }
        // Inside a transaction a failed Parse would abort it: try under a savepoint.
        if in_tx {
            client.batch_execute("SAVEPOINT upkeep_prepare")?;
        }
        match client.prepare(sql) {
            Ok(s) => {
                if in_tx {
                    client.batch_execute("RELEASE SAVEPOINT upkeep_prepare")?;
                }
                cache.room();
                cache.inferred.insert(sql.to_owned(), s.clone());
                return Ok(s);
            }
            // 42P18 for `?1 IS NULL` alone; 42P08 when the same placeholder is also compared
            // with a column (`?1 IS NULL OR server = ?1`): typed once as unknown, once as text.
            Err(e)
                if e.code() == Some(&SqlState::INDETERMINATE_DATATYPE)
                    || e.code() == Some(&SqlState::AMBIGUOUS_PARAMETER) =>
            {
                if in_tx {
                    client.batch_execute("ROLLBACK TO SAVEPOINT upkeep_prepare")?;
                }
                cache.needs_types.insert(sql.to_owned());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let types: Vec<Type> = params.iter().map(values::declared_type).collect();
    let key = (sql.to_owned(), types);
    if let Some(s) = cache.typed.get(&key) {
        return Ok(s.clone());
    }
    let s = client.prepare_typed(sql, &key.1)?;
    cache.room();
    cache.typed.insert(key, s.clone());
    Ok(s)
}

fn bind_all(statement: &Statement, params: &[Value]) -> Result<Vec<Box<dyn ToSql + Sync>>> {
    let types = statement.params();
    if types.len() != params.len() {
        return Err(config_error(format!(
            "the statement has {} placeholders but {} values were bound",
            types.len(),
            params.len()
        )));
    }
    params
        .iter()
        .zip(types)
        .enumerate()
        .map(|(i, (value, ty))| values::bind(value, ty, i + 1))
        .collect()
}

/// A migration written for SQLite, as PostgreSQL needs it (see [`super::migration_sql`] and
/// `pg/sql.rs`).
pub fn ddl(sql: &str) -> std::borrow::Cow<'_, str> {
    sql::ddl(sql)
}
