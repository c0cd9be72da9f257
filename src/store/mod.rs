//! State in SQLite (the embedded default) or PostgreSQL (shared by several replicas): runs,
//! per-server state and seen releases with their tag→commit history, rebuild PRs, license
//! baselines and approvals, the email outbox and the run lease.
//!
//! Every statement goes through [`db`], written once in the SQL both backends speak. Schema
//! changes are numbered migrations applied in order ([`schema`]). Every decision is one
//! transaction ([`Store::transaction`]), so a crash leaves either the whole decision or none of
//! it. This module knows nothing of git, forges or email transports.

mod automerge;
mod branches;
mod chat;
pub mod claims;
pub mod copy;
mod dashboard;
pub mod db;
mod decisions;
mod fleet;
mod http_cache;
mod migrations;
mod notify;
pub mod schema;
pub mod shared;
mod target;
#[cfg(test)]
pub(crate) mod testing;
mod withheld;

pub use automerge::AutoMergeRecord;
pub use branches::WrittenBranch;
pub use chat::{CHAT_RECIPIENT_PREFIX, ChatMessage};
pub use dashboard::{Decision, EmailLine, RunServer, ServerRun};
pub use decisions::{DecisionRow, NewCommand, NewDecision, OwedAction, Source, Verdict};
pub use fleet::{Behind, ChecksRecord, FailedCheck};
pub use notify::PendingReview;
pub use target::Target;
pub use withheld::NotedWithheld;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::report::{Attachment, MovedTag, RunArchive};
use db::{Exec, OptionalExt as _, params};

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether an error is the database giving up on a lock another connection held past the
/// configured wait (SQLite's busy timeout, PostgreSQL's lock timeout).
pub fn is_locked(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<db::Error>()
            .is_some_and(db::Error::is_locked)
    })
}

/// Where the state lives, as messages name it: the SQLite file, or the PostgreSQL server and
/// database (never the user or password of its URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// `host:port/database`.
    Postgres(String),
}

impl Location {
    /// The PostgreSQL server and database a connection URL (or `key=value` string) names.
    fn postgres(url: &str) -> Location {
        let named = if let Ok(u) = reqwest::Url::parse(url)
            && u.scheme().starts_with("postgres")
        {
            let host = u.host_str().unwrap_or("localhost");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{host}{port}{}", u.path())
        } else {
            let field = |key: &str| {
                url.split_whitespace()
                    .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                    .map(|v| v.trim_matches('\''))
            };
            format!(
                "{}/{}",
                field("host").unwrap_or("localhost"),
                field("dbname").unwrap_or("")
            )
        };
        Location::Postgres(named)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(named) => write!(f, "PostgreSQL ({named})"),
        }
    }
}

/// The state store. Cheap to share behind an `Arc`. On SQLite calls are serialised on one
/// connection; on PostgreSQL they share a small pool (`[state] pool-size`, see [`db::Pool`]),
/// and write transactions still take turns.
///
/// Every call blocks: it waits for a connection (SQLite: the connection's mutex; PostgreSQL:
/// a pooled connection, at most twice `lock-timeout`), and the database may wait up to
/// `[state] busy-timeout` (`lock-timeout`) for another process's lock. **The rule: async code
/// never calls the store directly; it goes through [`Store::blocking`]**, which runs the call
/// on tokio's blocking pool, so a locked database never ties up a runtime worker that the
/// service's HTTP handlers, timers and other runs share. Synchronous code on a blocking thread
/// calls it directly: a server's sync, the commands `app` runs with `spawn_blocking`, opening
/// the state ([`crate::deps::Deps::open`]). The blocking PostgreSQL client, which panics inside
/// the runtime, therefore only ever runs where blocking is allowed; only tests call the store
/// from plain `#[test]` threads.
pub struct Store {
    location: Location,
    pool: db::Pool,
    /// Which database this is (see [`Target`]).
    target: Target,
    context: Context,
}

/// What this process knows beside the database, for the transactions of this store: the
/// configured chat routes and outbox claim lifetime (configuration, never written to the
/// state; kept in memory because a connection-scoped table would not survive a PostgreSQL
/// reconnect).
struct Context {
    /// server → its chat destinations.
    chat_routes: RwLock<HashMap<String, BTreeSet<String>>>,
    /// How long a claim on an outbox row being sent lasts on a shared state.
    outbox_claim_ttl: RwLock<Duration>,
}

impl Default for Context {
    fn default() -> Context {
        Context {
            chat_routes: RwLock::default(),
            outbox_claim_ttl: RwLock::new(shared::DEFAULT_OUTBOX_CLAIM_TTL),
        }
    }
}

/// An open transaction of the store: the database's, plus the store's in-memory context.
/// Rolled back when dropped; [`Store::transaction`] commits it when its closure succeeds.
pub struct Tx<'a> {
    tx: db::Tx<'a>,
    context: &'a Context,
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = db::Tx<'a>;
    fn deref(&self) -> &db::Tx<'a> {
        &self.tx
    }
}

impl Exec for Tx<'_> {
    fn dialect(&self) -> db::Dialect {
        self.tx.dialect()
    }
    fn execute<P: db::Params>(&self, sql: &str, params: P) -> db::Result<usize> {
        self.tx.execute(sql, params)
    }
    fn execute_batch(&self, sql: &str) -> db::Result<()> {
        self.tx.execute_batch(sql)
    }
    fn query_map<P: db::Params, T>(
        &self,
        sql: &str,
        params: P,
        f: impl FnMut(&db::Row) -> db::Result<T>,
    ) -> db::Result<Vec<T>> {
        self.tx.query_map(sql, params, f)
    }
    fn query_row<P: db::Params, T>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&db::Row) -> db::Result<T>,
    ) -> db::Result<T> {
        self.tx.query_row(sql, params, f)
    }
}

/// This process as a sender of outbox rows (`host:pid`).
fn sender_id() -> String {
    format!("{}:{}", shared::hostname(), std::process::id())
}

/// Who holds the run lease, for a clear "busy" message.
#[derive(Debug, Clone, Serialize)]
pub struct LeaseHolder {
    pub holder: String,
    pub acquired_at: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TagSighting {
    pub tag: String,
    pub commit: String,
    pub first_seen: String,
}

/// What the history knows of one tag (see [`Store::record_tags`]).
struct TagReference {
    /// The commit and `first_seen` later sightings are compared with.
    reference: (String, String),
    /// The commit seen last, and when.
    latest: String,
    latest_seen: String,
}

/// Where a recorded rebuild PR stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PrRecordState {
    /// Open on the forge (at most one per server).
    Open,
    /// Merged: the pin on the base branch moved.
    Merged,
    /// Closed without merge: its version is not proposed again.
    Declined,
    /// A newer version took over the open PR.
    Superseded,
}

impl PrRecordState {
    /// The value stored in `pull_requests.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrRecordState::Open => "open",
            PrRecordState::Merged => "merged",
            PrRecordState::Declined => "declined",
            PrRecordState::Superseded => "superseded",
        }
    }
}

impl db::ToValue for PrRecordState {
    fn to_value(&self) -> db::Value {
        db::Value::Text(self.as_str().to_owned())
    }
}

impl db::FromValue for PrRecordState {
    fn from_value(value: &db::Value, column: usize) -> db::Result<Self> {
        let text = String::from_value(value, column)?;
        [
            PrRecordState::Open,
            PrRecordState::Merged,
            PrRecordState::Declined,
            PrRecordState::Superseded,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        // Not a state this build knows: out of the type's range, like a negative count.
        .ok_or(db::Error::Range {
            column,
            value: format!("PR state {text:?}"),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PrRecord {
    pub id: i64,
    pub server: String,
    pub version: String,
    pub tag: String,
    pub commit: String,
    pub branch: String,
    pub forge_id: Option<String>,
    pub url: Option<String>,
    pub title: String,
    pub body_hash: String,
    pub head_commit: Option<String>,
    pub state: PrRecordState,
    pub held: bool,
    pub closed_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServerState {
    pub server: String,
    pub pinned_ref: Option<String>,
    pub pinned_commit: Option<String>,
    pub latest_version: Option<String>,
    pub latest_tag: Option<String>,
    pub latest_commit: Option<String>,
    /// up-to-date | pr-opened | pr-updated | pr-open | held | failed
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    pub last_run_id: Option<i64>,
    pub last_run_at: Option<String>,
    pub last_success_at: Option<String>,
    pub consecutive_failures: i64,
    pub hold_reason: Option<String>,
    pub held_since: Option<String>,
}

impl ServerState {
    /// The state of a server nothing was recorded for yet.
    pub fn empty(server: &str) -> ServerState {
        ServerState {
            server: server.to_string(),
            pinned_ref: None,
            pinned_commit: None,
            latest_version: None,
            latest_tag: None,
            latest_commit: None,
            last_status: None,
            last_error: None,
            last_run_id: None,
            last_run_at: None,
            last_success_at: None,
            consecutive_failures: 0,
            hold_reason: None,
            held_since: None,
        }
    }
}

/// What a server's last full check saw (see `pipeline::quiet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietMark {
    pub key: String,
    pub checked_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Approval {
    pub server: String,
    pub fingerprint: String,
    pub approved_by: String,
    pub note: Option<String>,
    pub approved_at: String,
}

/// What a server's last advisory check asked (packages as JSON, versions) and found (the
/// advisory report as JSON). The store keeps the texts; the pipeline reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryState {
    pub packages: String,
    pub pinned: Option<String>,
    pub proposed: Option<String>,
    pub report: Option<String>,
}

/// What a person reviews before a held rebuild goes on: a license change (legal) or a change of
/// the MCP surface with findings (security). Each kind has its pending reviews and approvals,
/// keyed on the fingerprint of what was reviewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewKind {
    License,
    Mcp,
}

impl ReviewKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewKind::License => "license",
            ReviewKind::Mcp => "mcp",
        }
    }

    fn reviews_table(self) -> &'static str {
        match self {
            ReviewKind::License => "license_reviews",
            ReviewKind::Mcp => "mcp_reviews",
        }
    }

    fn approvals_table(self) -> &'static str {
        match self {
            ReviewKind::License => "license_approvals",
            ReviewKind::Mcp => "mcp_approvals",
        }
    }

    fn reminders_table(self) -> &'static str {
        match self {
            ReviewKind::License => "reminders",
            ReviewKind::Mcp => "mcp_reminders",
        }
    }

    /// The other kind: what may still hold a PR after this one is decided.
    pub fn other(self) -> ReviewKind {
        match self {
            ReviewKind::License => ReviewKind::Mcp,
            ReviewKind::Mcp => ReviewKind::License,
        }
    }
}

/// An email waiting in (or gone through) the outbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub dedupe_key: String,
    pub server: String,
    pub reason: String,
    pub recipients: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// pending | sending | sent | failed
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub run_id: Option<i64>,
}

/// A new email for the outbox (the row's id, status and times are the store's).
#[derive(Debug, Clone)]
pub struct NewEmail {
    pub dedupe_key: String,
    pub server: String,
    pub reason: String,
    pub recipients: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub trigger: String,
    pub dry_run: bool,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub result: String,
}

/// A `runs` row from `SELECT id, trigger, dry_run, started_at, finished_at, result`.
fn run_row(r: &db::Row) -> db::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        trigger: r.get(1)?,
        dry_run: r.get(2)?,
        started_at: r.get(3)?,
        finished_at: r.get(4)?,
        result: r.get(5)?,
    })
}

impl Store {
    /// Open (creating it and its directory if needed) and migrate the database, waiting up to
    /// 10 s for another process's lock.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        Store::open_with(path, Duration::from_secs(10))
    }

    /// [`Store::open`], waiting up to `busy_timeout` whenever another process holds the lock
    /// (a longer hold fails with an error [`is_locked`] recognises).
    pub fn open_with(path: &Path, busy_timeout: Duration) -> anyhow::Result<Store> {
        Store::open_migrating(path, busy_timeout, schema::Policy::Apply).map(|(store, _)| store)
    }

    /// [`Store::open_with`], applying pending migrations only under `policy` (see
    /// [`schema`]); returns what it applied. A newer schema is always refused.
    pub fn open_migrating(
        path: &Path,
        busy_timeout: Duration,
        policy: schema::Policy,
    ) -> anyhow::Result<(Store, Vec<schema::Migration>)> {
        if let Some(dir) = path.parent() {
            crate::files::create_private_dir_all(dir)
                .with_context(|| format!("creating state directory {}", dir.display()))?;
        }
        // Created 0600 before SQLite opens it (its -wal and -shm files take the same mode): it
        // holds PR links, hold reasons quoting upstream text and cached registry answers.
        if !path.exists() {
            crate::files::write_private(path, b"")
                .with_context(|| format!("creating state database {}", path.display()))?;
        } else if crate::files::restrict_to_owner(path).unwrap_or(false) {
            tracing::info!(path = %path.display(), "made the state database readable by its owner only");
        }
        let conn = db::Conn::open_sqlite(path, busy_timeout)
            .with_context(|| format!("opening state database {}", path.display()))?;
        let target = Target::sqlite(path);
        Store::migrated(
            conn,
            (Location::Sqlite(path.to_path_buf()), target),
            policy,
            db::Pool::single,
        )
    }

    /// Connect to the PostgreSQL state and bring its schema up under `policy` (as
    /// [`Store::open_migrating`]), with the default pool size; returns what it applied.
    pub fn open_postgres(
        options: &db::PgOptions,
        policy: schema::Policy,
    ) -> anyhow::Result<(Store, Vec<schema::Migration>)> {
        Store::open_postgres_pooled(options, crate::config::DEFAULT_POOL_SIZE, policy)
    }

    /// [`Store::open_postgres`] with up to `pool_size` connections (`[state] pool-size`).
    pub fn open_postgres_pooled(
        options: &db::PgOptions,
        pool_size: usize,
        policy: schema::Policy,
    ) -> anyhow::Result<(Store, Vec<schema::Migration>)> {
        let location = Location::postgres(options.url.expose());
        let target = Target::postgres(&options.url)?;
        let conn = db::Conn::connect_postgres(options)
            .with_context(|| format!("connecting to the state database {location}"))?;
        Store::migrated(conn, (location, target), policy, |conn| {
            db::Pool::postgres(conn, pool_size, options)
        })
    }

    /// The store over `conn`, migrated first, its connections then kept by `pool`.
    fn migrated(
        mut conn: db::Conn,
        (location, target): (Location, Target),
        policy: schema::Policy,
        pool: impl FnOnce(db::Conn) -> db::Pool,
    ) -> anyhow::Result<(Store, Vec<schema::Migration>)> {
        let applied = schema::migrate(&mut conn, policy, &location)
            .with_context(|| format!("migrating state database {location}"))?;
        let store = Store {
            location,
            pool: pool(conn),
            target,
            context: Context::default(),
        };
        Ok((store, applied))
    }

    /// Where the state lives (for messages).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// A connection for reads and single statements (see [`db::Pool`]).
    fn conn(&self) -> db::Result<db::Lease<'_>> {
        self.pool.get()
    }

    /// How the PostgreSQL connection pool stands (`None` on SQLite), for `/metrics`.
    pub fn pool_stats(&self) -> Option<db::PoolStats> {
        self.pool.stats()
    }

    /// Which database this store opened, to compare with what a config names now.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Run `f` with the store on tokio's blocking pool: how async code calls the store (see the
    /// type's docs). A panic inside `f` becomes an error.
    pub async fn blocking<T, F>(self: &Arc<Self>, f: F) -> anyhow::Result<T>
    where
        F: FnOnce(&Store) -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .context("a state store call panicked")?
    }

    /// Run `f` in one write transaction: the unit of a decision, and the one place every
    /// write transaction of the store begins.
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        // Pinned to this lease for the transaction's life; this process's writers take turns.
        let mut conn = self.pool.writer()?;
        let tx = Tx {
            tx: conn.transaction()?,
            context: &self.context,
        };
        // A server's sync on a shared state writes only while its claim is still its own
        // (see `claims`): checked first, under the transaction's lock.
        if let Some(claim) = claims::current() {
            claims::check_fence(&*tx, &claim, now())?;
        }
        let out = f(&tx)?;
        tx.tx.commit()?;
        Ok(out)
    }

    /// One write statement on its own. Under a claim (a server's sync on a shared state) it is
    /// a transaction of its own, so the claim is checked first like every other write.
    fn write<P: db::Params>(&self, sql: &str, params: P) -> anyhow::Result<usize> {
        if claims::current().is_some() {
            return self.transaction(|tx| Ok(tx.execute(sql, params)?));
        }
        Ok(self.conn()?.execute(sql, params)?)
    }

    /// Cheap liveness probe for readiness checks.
    pub fn ping(&self) -> anyhow::Result<()> {
        self.conn()?.query_row("SELECT 1", params![], |_| Ok(()))?;
        Ok(())
    }

    // ---- run lease -------------------------------------------------------------------------

    /// Take the run lease for `holder`, unless someone else holds an unexpired one.
    pub fn acquire_lease(
        &self,
        holder: &str,
        ttl: Duration,
    ) -> anyhow::Result<Result<(), LeaseHolder>> {
        self.transaction(|tx| {
            let current: Option<(String, String, String)> = tx
                .query_row(
                    "SELECT holder, acquired_at, expires_at FROM lease WHERE name = 'run'",
                    params![],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let now = now();
            if let Some((h, acquired, expires)) = current {
                let live = parse_ts(&expires).is_some_and(|e| e > now);
                if live && h != holder {
                    return Ok(Err(LeaseHolder {
                        holder: h,
                        acquired_at: acquired,
                        expires_at: expires,
                    }));
                }
            }
            let expires =
                now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(30));
            tx.execute(
                "INSERT INTO lease(name, holder, acquired_at, expires_at) VALUES ('run', ?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET holder = ?1, acquired_at = ?2, expires_at = ?3",
                params![holder, ts(now), ts(expires)],
            )?;
            Ok(Ok(()))
        })
    }

    /// Take a lease over from `previous` (a holder known to be dead), atomically: fails when
    /// someone else took it meanwhile.
    pub fn take_over_lease(
        &self,
        previous: &str,
        holder: &str,
        ttl: Duration,
    ) -> anyhow::Result<bool> {
        let now = now();
        let expires =
            now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(30));
        let n = self.write(
            "UPDATE lease SET holder = ?2, acquired_at = ?3, expires_at = ?4 WHERE name = 'run' AND holder = ?1",
            params![previous, holder, ts(now), ts(expires)],
        )?;
        Ok(n == 1)
    }

    /// Extend a lease we hold (long runs renew it as they go).
    pub fn renew_lease(&self, holder: &str, ttl: Duration) -> anyhow::Result<bool> {
        let expires =
            now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(30));
        let n = self.write(
            "UPDATE lease SET expires_at = ?2 WHERE name = 'run' AND holder = ?1",
            params![holder, ts(expires)],
        )?;
        Ok(n == 1)
    }

    pub fn release_lease(&self, holder: &str) -> anyhow::Result<()> {
        self.write(
            "DELETE FROM lease WHERE name = 'run' AND holder = ?1",
            params![holder],
        )?;
        Ok(())
    }

    pub fn lease_holder(&self) -> anyhow::Result<Option<LeaseHolder>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT holder, acquired_at, expires_at FROM lease WHERE name = 'run'",
                params![],
                |r| {
                    Ok(LeaseHolder {
                        holder: r.get(0)?,
                        acquired_at: r.get(1)?,
                        expires_at: r.get(2)?,
                    })
                },
            )
            .optional()?
            .filter(|l| parse_ts(&l.expires_at).is_some_and(|e| e > now())))
    }

    // ---- runs ------------------------------------------------------------------------------

    pub fn start_run(&self, trigger: &str, dry_run: bool) -> anyhow::Result<i64> {
        Ok(self.conn()?.query_row(
            "INSERT INTO runs(trigger, dry_run, started_at, result) VALUES (?1, ?2, ?3, 'running')
             RETURNING id",
            params![trigger, dry_run, ts(now())],
            |r| r.get(0),
        )?)
    }

    /// Runs still marked running when a new run holds the lease died mid-way: say so.
    pub fn abort_stale_runs(&self, current: i64) -> anyhow::Result<usize> {
        self.write(
            "UPDATE runs SET result = 'aborted', finished_at = ?2 WHERE result = 'running' AND id < ?1",
            params![current, ts(now())],
        )
    }

    pub fn finish_run(&self, run_id: i64, result: &str, report_json: &str) -> anyhow::Result<()> {
        self.write(
            "UPDATE runs SET finished_at = ?2, result = ?3, report = ?4 WHERE id = ?1",
            params![run_id, ts(now()), result, report_json],
        )?;
        Ok(())
    }

    pub fn recent_runs(&self, limit: usize) -> anyhow::Result<Vec<RunRow>> {
        Ok(self.conn()?.query_map(
            "SELECT id, trigger, dry_run, started_at, finished_at, result FROM runs ORDER BY id DESC LIMIT ?1",
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
            run_row,
        )?)
    }

    /// A server's full report in a run, written as soon as the server finishes. `seq` is the
    /// server's place in the run (config order), so the run's report keeps that order.
    pub fn put_run_server(
        &self,
        run_id: i64,
        seq: usize,
        server: &str,
        status: &str,
        report_json: &str,
    ) -> anyhow::Result<()> {
        self.write(
            "INSERT INTO run_servers(run_id, seq, server, status, report) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(run_id, seq) DO UPDATE SET server = excluded.server, status = excluded.status,
                 report = excluded.report",
            params![run_id, i64::try_from(seq)?, server, status, report_json],
        )?;
        Ok(())
    }

    /// The full report of the server at `seq` in a run, if it was kept.
    pub fn run_server_report(&self, run_id: i64, seq: usize) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT report FROM run_servers WHERE run_id = ?1 AND seq = ?2",
                params![run_id, i64::try_from(seq)?],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Delete the per-server reports of runs that started longer than `keep` ago, except the
    /// run `current` (a run may last longer than a short retention); the runs' summaries stay.
    /// Returns how many reports went.
    pub fn prune_run_reports(&self, keep: Duration, current: i64) -> anyhow::Result<usize> {
        let cutoff = now() - chrono::Duration::from_std(keep)?;
        self.write(
            "DELETE FROM run_servers WHERE run_id <> ?2 AND run_id IN (SELECT id FROM runs WHERE started_at < ?1)",
            params![ts(cutoff), current],
        )
    }

    /// One run's row, if it exists.
    pub fn run(&self, run_id: i64) -> anyhow::Result<Option<RunRow>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT id, trigger, dry_run, started_at, finished_at, result FROM runs WHERE id = ?1",
                params![run_id],
                run_row,
            )
            .optional()?)
    }

    /// The document kept in `runs.report` when the run finished: the run's summary (or, for
    /// runs before schema 5, its full report). None while running or if it died.
    pub fn run_summary(&self, run_id: i64) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT report FROM runs WHERE id = ?1",
                params![run_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Whether any of a run's per-server full reports is still kept.
    pub fn run_has_server_reports(&self, run_id: i64) -> anyhow::Result<bool> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT 1 FROM run_servers WHERE run_id = ?1 LIMIT 1",
                params![run_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    // ---- webhook deliveries ----------------------------------------------------------------

    /// Claim a webhook delivery id: true the first time, false when it was claimed before.
    /// Claims older than 30 days are forgotten (GitHub redelivers only the last 3 days).
    pub fn claim_delivery(&self, id: &str) -> anyhow::Result<bool> {
        self.transaction(|tx| {
            let cutoff = ts(now() - chrono::Duration::days(30));
            tx.execute(
                "DELETE FROM webhook_deliveries WHERE received_at < ?1",
                params![cutoff],
            )?;
            let n = tx.execute(
                "INSERT INTO webhook_deliveries(id, received_at) VALUES (?1, ?2) ON CONFLICT(id) DO NOTHING",
                params![id, ts(now())],
            )?;
            Ok(n == 1)
        })
    }

    /// Forget a claimed delivery (its run did not start, so a redelivery may start it).
    pub fn release_delivery(&self, id: &str) -> anyhow::Result<()> {
        self.conn()?
            .execute("DELETE FROM webhook_deliveries WHERE id = ?1", params![id])?;
        Ok(())
    }

    // ---- tag history -----------------------------------------------------------------------

    /// Record the tags seen now; returns the tags whose commit differs from the first sighting
    /// of that tag, or from the commit a person accepted (moved or re-created tags). The history
    /// keeps every tag→commit pair ever seen, and a row is written only when a tag is new or
    /// points somewhere else than when last seen: an upstream with 200,000 unchanged tags costs
    /// one read per full run, not 200,000 writes.
    pub fn record_tags(
        tx: &Tx<'_>,
        server: &str,
        tags: &[(String, String)],
    ) -> anyhow::Result<Vec<MovedTag>> {
        let known = Self::tag_references(tx, server)?;
        let moved = Self::moved_among(&known, tags);
        let now = ts(now());
        // `seq` orders a tag's sightings as they were first written (the tie-break when two
        // share a timestamp).
        let upsert = "INSERT INTO tag_history(server, tag, commit_id, first_seen, last_seen, seq)
             VALUES (?1, ?2, ?3, ?4, ?4,
                 (SELECT COALESCE(MAX(seq), 0) + 1 FROM tag_history WHERE server = ?1 AND tag = ?2))
             ON CONFLICT(server, tag, commit_id) DO UPDATE SET last_seen = ?4";
        for (tag, commit) in tags {
            if known.get(tag.as_str()).is_none_or(|r| &r.latest != commit) {
                tx.execute(upsert, params![server, tag, commit, now])?;
            }
        }
        Ok(moved)
    }

    /// The tags among `tags` that [`Store::record_tags`] would report as moved, without
    /// recording anything (a dry run looks and does not remember).
    pub fn moved_tags(
        &self,
        server: &str,
        tags: &[(String, String)],
    ) -> anyhow::Result<Vec<MovedTag>> {
        let known = Self::tag_references(&*self.conn()?, server)?;
        Ok(Self::moved_among(&known, tags))
    }

    /// Each tag whose commit differs from the commit of its first (or accepted) sighting.
    fn moved_among(
        known: &HashMap<String, TagReference>,
        tags: &[(String, String)],
    ) -> Vec<MovedTag> {
        let mut moved = Vec::new();
        for (tag, commit) in tags {
            if let Some(r) = known.get(tag.as_str())
                && &r.reference.0 != commit
            {
                moved.push(MovedTag {
                    tag: tag.clone(),
                    old_commit: r.reference.0.clone(),
                    new_commit: commit.clone(),
                    first_seen: r.reference.1.clone(),
                });
            }
        }
        moved
    }

    /// Per tag of `server`: the commit later sightings are compared with (the latest accepted
    /// one, else the first seen; with when it was first seen) and the commit seen last.
    fn tag_references(
        conn: &impl Exec,
        server: &str,
    ) -> anyhow::Result<HashMap<String, TagReference>> {
        // Reference order first (accepted, newest acceptance, then first seen), so the first
        // row of a tag is its reference; the latest sighting is the one with the last `last_seen`.
        let rows = conn.query_map(
            "SELECT tag, commit_id, first_seen, last_seen FROM tag_history WHERE server = ?1
             ORDER BY tag, CASE WHEN accepted_at IS NULL THEN 1 ELSE 0 END, accepted_at DESC, first_seen, seq",
            params![server],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )?;
        let mut out: HashMap<String, TagReference> = HashMap::new();
        for (tag, commit, first_seen, last_seen) in rows {
            match out.get_mut(&tag) {
                None => {
                    out.insert(
                        tag,
                        TagReference {
                            reference: (commit.clone(), first_seen),
                            latest: commit,
                            latest_seen: last_seen,
                        },
                    );
                }
                Some(r) if last_seen > r.latest_seen => {
                    r.latest = commit;
                    r.latest_seen = last_seen;
                }
                Some(_) => {}
            }
        }
        Ok(out)
    }

    /// A person checked a moved tag and accepts the commit it points at now: later runs compare
    /// against that commit. Returns false when that tag→commit was never seen.
    pub fn accept_tag(
        &self,
        server: &str,
        tag: &str,
        commit: &str,
        by: &str,
    ) -> anyhow::Result<bool> {
        self.transaction(|tx| {
            let n = tx.execute(
                "UPDATE tag_history SET accepted_by = ?4, accepted_at = ?5 WHERE server = ?1 AND tag = ?2 AND commit_id = ?3",
                params![server, tag, commit, by, ts(now())],
            )?;
            Self::forget_quiet_mark(tx, server)?;
            Ok(n == 1)
        })
    }

    // ---- quiet marks -----------------------------------------------------------------------

    /// The quiet mark of a server: the key its last full check computed, and when it ran.
    pub fn quiet_mark(&self, server: &str) -> anyhow::Result<Option<QuietMark>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT key, checked_at FROM quiet_marks WHERE server = ?1",
                params![server],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?
            .and_then(|(key, at)| {
                Some(QuietMark {
                    key,
                    checked_at: parse_ts(&at)?,
                })
            }))
    }

    pub fn put_quiet_mark(&self, server: &str, key: &str) -> anyhow::Result<()> {
        self.write(
            "INSERT INTO quiet_marks(server, key, checked_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(server) DO UPDATE SET key = ?2, checked_at = ?3",
            params![server, key, ts(now())],
        )?;
        Ok(())
    }

    /// Drop a server's quiet mark: its next run does the full check.
    pub fn forget_quiet_mark(tx: &Tx<'_>, server: &str) -> anyhow::Result<()> {
        tx.execute("DELETE FROM quiet_marks WHERE server = ?1", params![server])?;
        Ok(())
    }

    /// The commit a tag pointed at when last seen.
    pub fn last_seen_commit(&self, server: &str, tag: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT commit_id FROM tag_history WHERE server = ?1 AND tag = ?2 ORDER BY last_seen DESC, seq DESC LIMIT 1",
                params![server, tag],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn tag_history(&self, server: &str) -> anyhow::Result<Vec<TagSighting>> {
        Ok(self.conn()?.query_map(
            "SELECT tag, commit_id, first_seen FROM tag_history WHERE server = ?1 ORDER BY first_seen, tag",
            params![server],
            |r| {
                Ok(TagSighting {
                    tag: r.get(0)?,
                    commit: r.get(1)?,
                    first_seen: r.get(2)?,
                })
            },
        )?)
    }

    /// Has this server ever been synced (so its tags were recorded before)?
    pub fn has_tag_history(&self, server: &str) -> anyhow::Result<bool> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT 1 FROM tag_history WHERE server = ?1 LIMIT 1",
                params![server],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    // ---- server state ----------------------------------------------------------------------

    pub fn server_state(&self, server: &str) -> anyhow::Result<Option<ServerState>> {
        Self::server_state_in(&*self.conn()?, server)
    }

    fn server_state_in(conn: &impl Exec, server: &str) -> anyhow::Result<Option<ServerState>> {
        Ok(conn
            .query_row(
                "SELECT server, pinned_ref, pinned_commit, latest_version, latest_tag, latest_commit, last_status,
                        last_error, last_run_id, last_run_at, last_success_at, consecutive_failures, hold_reason, held_since
                 FROM server_state WHERE server = ?1",
                params![server],
                |r| {
                    Ok(ServerState {
                        server: r.get(0)?,
                        pinned_ref: r.get(1)?,
                        pinned_commit: r.get(2)?,
                        latest_version: r.get(3)?,
                        latest_tag: r.get(4)?,
                        latest_commit: r.get(5)?,
                        last_status: r.get(6)?,
                        last_error: r.get(7)?,
                        last_run_id: r.get(8)?,
                        last_run_at: r.get(9)?,
                        last_success_at: r.get(10)?,
                        consecutive_failures: r.get(11)?,
                        hold_reason: r.get(12)?,
                        held_since: r.get(13)?,
                    })
                },
            )
            .optional()?)
    }

    /// Write a server's state after a run (inside the decision's transaction).
    pub fn put_server_state(tx: &Tx<'_>, s: &ServerState) -> anyhow::Result<()> {
        tx.execute(
            "INSERT INTO server_state(server, pinned_ref, pinned_commit, latest_version, latest_tag, latest_commit,
                 last_status, last_error, last_run_id, last_run_at, last_success_at, consecutive_failures, hold_reason, held_since)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT(server) DO UPDATE SET pinned_ref = ?2, pinned_commit = ?3, latest_version = ?4, latest_tag = ?5,
                 latest_commit = ?6, last_status = ?7, last_error = ?8, last_run_id = ?9, last_run_at = ?10,
                 last_success_at = ?11, consecutive_failures = ?12, hold_reason = ?13, held_since = ?14",
            params![
                s.server,
                s.pinned_ref,
                s.pinned_commit,
                s.latest_version,
                s.latest_tag,
                s.latest_commit,
                s.last_status,
                s.last_error,
                s.last_run_id,
                s.last_run_at,
                s.last_success_at,
                s.consecutive_failures,
                s.hold_reason,
                s.held_since
            ],
        )?;
        Ok(())
    }

    pub fn server_state_tx(tx: &Tx<'_>, server: &str) -> anyhow::Result<Option<ServerState>> {
        Self::server_state_in(tx, server)
    }

    // ---- pull requests ---------------------------------------------------------------------

    fn pr_from_row(r: &db::Row) -> db::Result<PrRecord> {
        Ok(PrRecord {
            id: r.get(0)?,
            server: r.get(1)?,
            version: r.get(2)?,
            tag: r.get(3)?,
            commit: r.get(4)?,
            branch: r.get(5)?,
            forge_id: r.get(6)?,
            url: r.get(7)?,
            title: r.get(8)?,
            body_hash: r.get(9)?,
            head_commit: r.get(10)?,
            state: r.get(11)?,
            held: r.get(12)?,
            closed_by: r.get(13)?,
            created_at: r.get(14)?,
            updated_at: r.get(15)?,
        })
    }

    const PR_COLUMNS: &'static str = "id, server, version, tag, commit_id, branch, forge_id, url, title, body_hash, head_commit, state, held, closed_by, created_at, updated_at";

    /// The server's open rebuild PR record, if any (at most one by construction).
    pub fn open_pr(&self, server: &str) -> anyhow::Result<Option<PrRecord>> {
        let conn = self.conn()?;
        let sql = format!(
            "SELECT {} FROM pull_requests WHERE server = ?1 AND state = 'open' ORDER BY id DESC LIMIT 1",
            Self::PR_COLUMNS
        );
        Ok(conn
            .query_row(&sql, params![server], Self::pr_from_row)
            .optional()?)
    }

    pub fn open_pr_tx(tx: &Tx<'_>, server: &str) -> anyhow::Result<Option<PrRecord>> {
        let sql = format!(
            "SELECT {} FROM pull_requests WHERE server = ?1 AND state = 'open' ORDER BY id DESC LIMIT 1",
            Self::PR_COLUMNS
        );
        Ok(tx
            .query_row(&sql, params![server], Self::pr_from_row)
            .optional()?)
    }

    /// The record for (server, version), whatever its state.
    pub fn pr_for_version(&self, server: &str, version: &str) -> anyhow::Result<Option<PrRecord>> {
        let conn = self.conn()?;
        let sql = format!(
            "SELECT {} FROM pull_requests WHERE server = ?1 AND version = ?2 ORDER BY id DESC LIMIT 1",
            Self::PR_COLUMNS
        );
        Ok(conn
            .query_row(&sql, params![server, version], Self::pr_from_row)
            .optional()?)
    }

    pub fn prs(&self, server: &str) -> anyhow::Result<Vec<PrRecord>> {
        let sql = format!(
            "SELECT {} FROM pull_requests WHERE server = ?1 ORDER BY id",
            Self::PR_COLUMNS
        );
        Ok(self
            .conn()?
            .query_map(&sql, params![server], Self::pr_from_row)?)
    }

    /// Insert or update the PR record of (server, version). When a newer version takes over an
    /// open PR, the older version's record is marked `superseded` in the same transaction.
    pub fn upsert_pr(tx: &Tx<'_>, pr: &PrRecord) -> anyhow::Result<i64> {
        let now = ts(now());
        let superseded = tx.execute(
            "UPDATE pull_requests SET state = ?4, updated_at = ?3
             WHERE server = ?1 AND version <> ?2 AND state = ?5",
            params![
                pr.server,
                pr.version,
                now,
                PrRecordState::Superseded,
                PrRecordState::Open
            ],
        )?;
        tx.execute(
            "INSERT INTO pull_requests(server, version, tag, commit_id, branch, forge_id, url, title, body_hash, head_commit,
                 state, held, closed_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)
             ON CONFLICT(server, version) DO UPDATE SET tag = ?3, commit_id = ?4, branch = ?5, forge_id = ?6, url = ?7,
                 title = ?8, body_hash = ?9, head_commit = ?10, state = ?11, held = ?12, closed_by = ?13, updated_at = ?14",
            params![
                pr.server,
                pr.version,
                pr.tag,
                pr.commit,
                pr.branch,
                pr.forge_id,
                pr.url,
                pr.title,
                pr.body_hash,
                pr.head_commit,
                pr.state,
                pr.held,
                pr.closed_by,
                now
            ],
        )?;
        let id = tx.query_row(
            "SELECT id FROM pull_requests WHERE server = ?1 AND version = ?2",
            params![pr.server, pr.version],
            |r| r.get(0),
        )?;
        // A record that leaves the open state takes its PR's cached answers with it; so does
        // one a newer version superseded (the PR's title, body and head change with it, so
        // they are stale anyway).
        if superseded > 0 || pr.state != PrRecordState::Open {
            Self::drop_pr_http_cache(tx, &pr.server)?;
        }
        Ok(id)
    }

    pub fn set_pr_state(
        tx: &Tx<'_>,
        id: i64,
        state: PrRecordState,
        closed_by: Option<&str>,
    ) -> anyhow::Result<()> {
        tx.execute(
            "UPDATE pull_requests SET state = ?2, closed_by = COALESCE(?3, closed_by), updated_at = ?4 WHERE id = ?1",
            params![id, state, closed_by, ts(now())],
        )?;
        if state != PrRecordState::Open
            && let Some(server) = tx
                .query_row(
                    "SELECT server FROM pull_requests WHERE id = ?1",
                    params![id],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
        {
            Self::drop_pr_http_cache(tx, &server)?;
        }
        Ok(())
    }

    // ---- license baselines and approvals ---------------------------------------------------

    /// The license snapshot (JSON) recorded for the server's pinned commit.
    pub fn license_baseline(&self, server: &str) -> anyhow::Result<Option<(String, String)>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT commit_id, snapshot FROM license_baselines WHERE server = ?1",
                params![server],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn put_license_baseline(
        tx: &Tx<'_>,
        server: &str,
        commit: &str,
        fingerprint: &str,
        snapshot_json: &str,
    ) -> anyhow::Result<()> {
        tx.execute(
            "INSERT INTO license_baselines(server, commit_id, fingerprint, snapshot, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(server) DO UPDATE SET commit_id = ?2, fingerprint = ?3, snapshot = ?4, updated_at = ?5",
            params![server, commit, fingerprint, snapshot_json, ts(now())],
        )?;
        Ok(())
    }

    pub fn approve_license(
        &self,
        server: &str,
        fingerprint: &str,
        by: &str,
        note: Option<&str>,
    ) -> anyhow::Result<()> {
        self.approve(ReviewKind::License, server, fingerprint, by, note)
    }

    /// Record `by`'s approval of the `kind` change of `server` with this fingerprint.
    pub fn approve(
        &self,
        kind: ReviewKind,
        server: &str,
        fingerprint: &str,
        by: &str,
        note: Option<&str>,
    ) -> anyhow::Result<()> {
        let sql = format!(
            "INSERT INTO {}(server, fingerprint, approved_by, note, approved_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(server, fingerprint) DO UPDATE SET approved_by = ?3, note = ?4, approved_at = ?5",
            kind.approvals_table()
        );
        self.transaction(|tx| {
            tx.execute(&sql, params![server, fingerprint, by, note, ts(now())])?;
            // The approval changes the decision while upstream stays the same.
            Self::forget_quiet_mark(tx, server)
        })
    }

    pub fn approval(&self, server: &str, fingerprint: &str) -> anyhow::Result<Option<Approval>> {
        self.approval_of(ReviewKind::License, server, fingerprint)
    }

    /// The approval of the `kind` change of `server` with this fingerprint, if recorded.
    pub fn approval_of(
        &self,
        kind: ReviewKind,
        server: &str,
        fingerprint: &str,
    ) -> anyhow::Result<Option<Approval>> {
        Ok(self
            .conn()?
            .query_row(
                &format!(
                    "SELECT server, fingerprint, approved_by, note, approved_at FROM {} WHERE server = ?1 AND fingerprint = ?2",
                    kind.approvals_table()
                ),
                params![server, fingerprint],
                Self::approval_from_row,
            )
            .optional()?)
    }

    fn approval_from_row(r: &db::Row) -> db::Result<Approval> {
        Ok(Approval {
            server: r.get(0)?,
            fingerprint: r.get(1)?,
            approved_by: r.get(2)?,
            note: r.get(3)?,
            approved_at: r.get(4)?,
        })
    }

    pub fn approvals(&self, server: &str) -> anyhow::Result<Vec<Approval>> {
        Ok(self.conn()?.query_map(
            "SELECT server, fingerprint, approved_by, note, approved_at FROM license_approvals WHERE server = ?1 ORDER BY approved_at",
            params![server],
            Self::approval_from_row,
        )?)
    }

    /// The pending license review of a server: (fingerprint, judgement JSON), if one is held.
    pub fn pending_review(&self, server: &str) -> anyhow::Result<Option<(String, String)>> {
        self.pending(ReviewKind::License, server)
    }

    /// The pending `kind` review of a server: (fingerprint, judgement JSON), if one is held.
    pub fn pending(
        &self,
        kind: ReviewKind,
        server: &str,
    ) -> anyhow::Result<Option<(String, String)>> {
        Ok(self
            .conn()?
            .query_row(
                &format!(
                    "SELECT fingerprint, judgement FROM {} WHERE server = ?1",
                    kind.reviews_table()
                ),
                params![server],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn put_pending_review(
        tx: &Tx<'_>,
        server: &str,
        fingerprint: &str,
        judgement_json: &str,
    ) -> anyhow::Result<()> {
        Self::put_pending(tx, ReviewKind::License, server, fingerprint, judgement_json)
    }

    /// Remember that the `kind` change of `server` with this fingerprint waits for review.
    pub fn put_pending(
        tx: &Tx<'_>,
        kind: ReviewKind,
        server: &str,
        fingerprint: &str,
        judgement_json: &str,
    ) -> anyhow::Result<()> {
        tx.execute(
            &format!(
                // The kept row's columns named with the table: unqualified, PostgreSQL cannot
                // tell them from `excluded`'s.
                "INSERT INTO {table}(server, fingerprint, judgement, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(server) DO UPDATE SET fingerprint = ?2, judgement = ?3,
                     created_at = CASE WHEN {table}.fingerprint = ?2 THEN {table}.created_at ELSE ?4 END",
                table = kind.reviews_table()
            ),
            params![server, fingerprint, judgement_json, ts(now())],
        )?;
        Ok(())
    }

    pub fn clear_pending_review(tx: &Tx<'_>, server: &str) -> anyhow::Result<()> {
        Self::clear_pending(tx, ReviewKind::License, server)
    }

    /// Nothing of `kind` waits for review for `server` (any more).
    pub fn clear_pending(tx: &Tx<'_>, kind: ReviewKind, server: &str) -> anyhow::Result<()> {
        tx.execute(
            &format!("DELETE FROM {} WHERE server = ?1", kind.reviews_table()),
            params![server],
        )?;
        Ok(())
    }

    // ---- Security advisories ---------------------------------------------------------------

    /// The cached record of advisory `id`: (`modified`, the record's JSON).
    pub fn advisory_vuln(&self, id: &str) -> anyhow::Result<Option<(String, Vec<u8>)>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT modified, body FROM advisory_vulns WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn put_advisory_vuln(&self, id: &str, modified: &str, body: &[u8]) -> anyhow::Result<()> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO advisory_vulns(id, modified, body, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(id) DO UPDATE SET modified = ?2, body = ?3, updated_at = ?4",
                params![id, modified, body, ts(now())],
            )?;
            Ok(())
        })
    }

    /// What a server's last advisory check asked and found.
    pub fn advisory_state(&self, server: &str) -> anyhow::Result<Option<AdvisoryState>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT packages, pinned, proposed, report FROM advisory_state WHERE server = ?1",
                params![server],
                |r| {
                    Ok(AdvisoryState {
                        packages: r.get(0)?,
                        pinned: r.get(1)?,
                        proposed: r.get(2)?,
                        report: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn put_advisory_state(
        &self,
        server: &str,
        packages_json: &str,
        pinned: Option<&str>,
        proposed: Option<&str>,
        report_json: &str,
    ) -> anyhow::Result<()> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO advisory_state(server, packages, pinned, proposed, report, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(server) DO UPDATE SET packages = ?2, pinned = ?3, proposed = ?4,
                     report = ?5, updated_at = ?6",
                params![
                    server,
                    packages_json,
                    pinned,
                    proposed,
                    report_json,
                    ts(now())
                ],
            )?;
            Ok(())
        })
    }

    // ---- outbox ----------------------------------------------------------------------------

    /// Enqueue an email unless one with the same dedupe key exists. Returns whether it was new.
    pub fn enqueue_email(
        tx: &Tx<'_>,
        email: &NewEmail,
        run_id: Option<i64>,
    ) -> anyhow::Result<bool> {
        Self::enqueue_email_with(tx, email, &[], run_id)
    }

    /// [`Store::enqueue_email`] with files attached (kept with the email until it is sent).
    /// A new email also goes to its server's chat destinations ([`Store::enqueue_email_with_card`]).
    pub fn enqueue_email_with(
        tx: &Tx<'_>,
        email: &NewEmail,
        attachments: &[Attachment],
        run_id: Option<i64>,
    ) -> anyhow::Result<bool> {
        Self::enqueue_email_with_card(tx, email, attachments, None, run_id)
    }

    /// Insert one outbox email; its id, or None when its dedupe key exists.
    fn insert_email(
        tx: &Tx<'_>,
        email: &NewEmail,
        attachments: &[Attachment],
        run_id: Option<i64>,
    ) -> anyhow::Result<Option<i64>> {
        let now = ts(now());
        let inserted = tx.query_map(
            "INSERT INTO outbox(dedupe_key, server, reason, recipients, cc, subject, text_body, html_body, status, attempts,
                 next_attempt_at, created_at, run_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, ?9, ?10)
             ON CONFLICT(dedupe_key) DO NOTHING
             RETURNING id",
            params![
                email.dedupe_key,
                email.server,
                email.reason,
                serde_json::to_string(&email.recipients)?,
                serde_json::to_string(&email.cc)?,
                email.subject,
                email.text,
                email.html,
                now,
                run_id
            ],
            |r| r.get::<_, i64>(0),
        )?;
        if let Some(&id) = inserted.first() {
            for (position, a) in attachments.iter().enumerate() {
                tx.execute(
                    "INSERT INTO outbox_attachments(outbox_id, position, filename, content_type, body)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        id,
                        i64::try_from(position)?,
                        a.filename,
                        a.content_type,
                        a.body
                    ],
                )?;
            }
            return Ok(Some(id));
        }
        Ok(None)
    }

    /// The files attached to outbox email `id`, in order.
    pub fn outbox_attachments(&self, id: i64) -> anyhow::Result<Vec<Attachment>> {
        Self::outbox_attachments_on(&*self.conn()?, id)
    }

    /// [`Store::outbox_attachments`] on `conn` (a transaction's, for the digest that carries them).
    pub fn outbox_attachments_on(conn: &impl Exec, id: i64) -> anyhow::Result<Vec<Attachment>> {
        Ok(conn.query_map(
            "SELECT filename, content_type, body FROM outbox_attachments WHERE outbox_id = ?1 ORDER BY position",
            params![id],
            |r| {
                Ok(Attachment {
                    filename: r.get(0)?,
                    content_type: r.get(1)?,
                    body: r.get(2)?,
                })
            },
        )?)
    }

    fn outbox_from_row(r: &db::Row) -> db::Result<OutboxRow> {
        let list = |s: String| serde_json::from_str::<Vec<String>>(&s).unwrap_or_default();
        Ok(OutboxRow {
            id: r.get(0)?,
            dedupe_key: r.get(1)?,
            server: r.get(2)?,
            reason: r.get(3)?,
            recipients: list(r.get(4)?),
            cc: list(r.get(5)?),
            subject: r.get(6)?,
            text: r.get(7)?,
            html: r.get(8)?,
            status: r.get(9)?,
            attempts: r.get(10)?,
            next_attempt_at: r.get(11)?,
            last_error: r.get(12)?,
            created_at: r.get(13)?,
            sent_at: r.get(14)?,
            run_id: r.get(15)?,
        })
    }

    const OUTBOX_COLUMNS: &'static str = "id, dedupe_key, server, reason, recipients, cc, subject, text_body, html_body, status, attempts, next_attempt_at, last_error, created_at, sent_at, run_id";

    /// Emails due for sending now: pending ones whose backoff has passed, and `sending` ones a
    /// crashed sender left behind (the at-least-once window), except those another sender
    /// holds now.
    pub fn due_emails(&self) -> anyhow::Result<Vec<OutboxRow>> {
        let sql = format!(
            "SELECT {} FROM outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= ?1 AND {} ORDER BY id",
            Self::OUTBOX_COLUMNS,
            shared::UNCLAIMED
        );
        Ok(self
            .conn()?
            .query_map(&sql, params![ts(now())], Self::outbox_from_row)?)
    }

    pub fn outbox(&self, statuses: &[&str]) -> anyhow::Result<Vec<OutboxRow>> {
        let sql = format!("SELECT {} FROM outbox ORDER BY id", Self::OUTBOX_COLUMNS);
        let mut rows = self
            .conn()?
            .query_map(&sql, params![], Self::outbox_from_row)?;
        rows.retain(|r| statuses.is_empty() || statuses.contains(&r.status.as_str()));
        Ok(rows)
    }

    pub fn outbox_row(&self, id: i64) -> anyhow::Result<Option<OutboxRow>> {
        let conn = self.conn()?;
        let sql = format!("SELECT {} FROM outbox WHERE id = ?1", Self::OUTBOX_COLUMNS);
        Ok(conn
            .query_row(&sql, params![id], Self::outbox_from_row)
            .optional()?)
    }

    /// Claim a row for this process and mark it as being sent (before the transport is
    /// called); false when another sender holds it, or it is no longer due (another replica's
    /// drain sent it since this one read the outbox). See [`shared`].
    pub fn mark_sending(&self, id: i64) -> anyhow::Result<bool> {
        let ttl = self.outbox_claim_ttl();
        self.transaction(|tx| shared::claim_email(&**tx, id, &sender_id(), ttl, now()))
    }

    /// How long a sender's claim on an outbox row lasts: on a shared state, as long as one
    /// delivery attempt and its record may take ([`Store::set_outbox_delivery`],
    /// [`shared::outbox_claim_ttl`]), after which a crashed sender's row is retried by another
    /// replica; on SQLite nothing (one process drains; a crashed sender's row is retried at
    /// once, as always).
    fn outbox_claim_ttl(&self) -> Duration {
        if self.shares_work() {
            *self
                .context
                .outbox_claim_ttl
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        } else {
            Duration::ZERO
        }
    }

    /// What bounds one delivery attempt of an outbox row (`delivery`: the transports'
    /// timeouts) and the wait for the lock its outcome is recorded under (`lock_wait`): the
    /// claim on a row being sent lasts as long as both (see [`shared::outbox_claim_ttl`]).
    pub fn set_outbox_delivery(&self, delivery: Duration, lock_wait: Duration) {
        *self
            .context
            .outbox_claim_ttl
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            shared::outbox_claim_ttl(delivery, lock_wait);
    }

    /// Record an attempt's outcome and give up the row's claim, in one transaction.
    fn outbox_outcome<P: db::Params>(&self, id: i64, sql: &str, params: P) -> anyhow::Result<()> {
        self.transaction(|tx| {
            tx.execute(sql, params)?;
            shared::unclaim_email(&**tx, id)
        })
    }

    pub fn mark_sent(&self, id: i64) -> anyhow::Result<()> {
        self.outbox_outcome(
            id,
            "UPDATE outbox SET status = 'sent', sent_at = ?2, last_error = NULL WHERE id = ?1",
            params![id, ts(now())],
        )
    }

    pub fn mark_retry(&self, id: i64, error: &str, next: DateTime<Utc>) -> anyhow::Result<()> {
        self.outbox_outcome(
            id,
            "UPDATE outbox SET status = 'pending', last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
            params![id, error, ts(next)],
        )
    }

    pub fn mark_failed(&self, id: i64, error: &str) -> anyhow::Result<()> {
        self.outbox_outcome(
            id,
            "UPDATE outbox SET status = 'failed', last_error = ?2 WHERE id = ?1",
            params![id, error],
        )
    }

    /// `outbox retry <id>`: make a failed or waiting email due now.
    pub fn retry_email(&self, id: i64) -> anyhow::Result<bool> {
        let n = self.write(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?2 WHERE id = ?1 AND status IN ('failed', 'pending')",
            params![id, ts(now())],
        )?;
        Ok(n == 1)
    }

    /// Count of outbox rows per status for one server (or all when `server` is None).
    pub fn outbox_counts(&self, server: Option<&str>) -> anyhow::Result<Vec<(String, i64)>> {
        Ok(self.conn()?.query_map(
            "SELECT status, COUNT(*) FROM outbox WHERE ?1 IS NULL OR server = ?1 GROUP BY status ORDER BY status",
            params![server],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }
}

/// The store hands the run reports it keeps to [`crate::report`], which writes them.
impl RunArchive for Store {
    fn run_document(&self, run_id: i64) -> anyhow::Result<Option<String>> {
        self.run_summary(run_id)
    }

    fn has_server_reports(&self, run_id: i64) -> anyhow::Result<bool> {
        self.run_has_server_reports(run_id)
    }

    fn server_report(&self, run_id: i64, seq: usize) -> anyhow::Result<Option<String>> {
        self.run_server_report(run_id, seq)
    }
}

#[cfg(test)]
mod tests;
