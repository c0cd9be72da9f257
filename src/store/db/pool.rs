//! The connections of one store: SQLite's one connection behind a mutex, as always, or a small
//! pool of PostgreSQL connections, so that one sync's reads and single statements no longer
//! queue behind another's on a single connection.
//!
//! What the PostgreSQL pool keeps, and why:
//! - **At most `pool-size` connections**, opened lazily: the first is the one the store was
//!   migrated on; another is made only when every open one is leased, and it connects on its
//!   first statement ([`super::pg::PgConnector::unopened`]), so reconnecting follows the
//!   connection's own rules (only a call that cannot have taken effect is tried again).
//! - **One lease, one thread, one connection**: a [`Lease`] is the connection for as long as
//!   it lives; a transaction is begun on a lease and ends before it, so its statements never
//!   share a connection with anyone else's.
//! - **Write transactions take turns in the process first** ([`Pool::writer`]), then take the
//!   database-wide advisory lock as before. In-process writers queue as they did behind the
//!   one connection (no timeout), so `lock-timeout` still measures another replica's hold, and
//!   a queue of writers never occupies more than one pooled connection: the others stay free
//!   for reads.
//! - **A returned connection is kept only when it is healthy and outside a transaction**: one
//!   whose session was lost ([`super::Conn::is_closed`]), or that a panic left inside a
//!   transaction, is dropped (the server rolls back what it held) and its slot freed for a
//!   fresh one; a lost session also drops the idle connections (see [`Shared::give_back`]). A
//!   panic unwinds through the lease, which returns its connection.
//! - **Waiting for a connection is bounded**: twice `lock-timeout` (the longest a healthy lease
//!   is held is about one lock wait plus the transaction that waited), then
//!   [`super::Error::PoolExhausted`], which names `pool-size`.
//! - Connections are dropped where they are returned or with the pool; each closes itself on a
//!   thread of its own when that is inside async code (see `pg.rs`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::pg::PgConnector;
use super::{Conn, Error, PgOptions, Result};

#[cfg(test)]
mod tests;

/// How the pool stands, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// `pool-size`: the most connections the pool opens.
    pub size: usize,
    /// Connections held now (leased or idle; a leased one may still be connecting).
    pub open: usize,
    /// Connections leased now.
    pub in_use: usize,
    /// Calls that found every connection leased and waited, since the process started.
    pub waits: u64,
    /// Of those, the ones that gave up ([`Error::PoolExhausted`]).
    pub timeouts: u64,
}

/// The store's connections (see the module docs).
pub struct Pool {
    inner: Inner,
}

enum Inner {
    /// SQLite: one connection, every call in turn (unchanged).
    Single(Mutex<Conn>),
    Postgres(Shared),
}

struct Shared {
    connector: PgConnector,
    size: usize,
    wait: Duration,
    slots: Mutex<Slots>,
    /// Signalled whenever a lease ends.
    returned: Condvar,
    /// Held by the one write transaction of this process at a time.
    writer: Mutex<()>,
    waits: AtomicU64,
    timeouts: AtomicU64,
}

struct Slots {
    idle: Vec<Conn>,
    leased: usize,
}

/// One connection, the caller's alone until dropped.
pub struct Lease<'p> {
    held: Held<'p>,
}

enum Held<'p> {
    Single(MutexGuard<'p, Conn>),
    Pooled {
        pool: &'p Shared,
        /// `None` only while being dropped.
        conn: Option<Conn>,
        /// The process's write turn, for a lease taken by [`Pool::writer`]; released after
        /// the connection is back (fields drop after `Drop::drop`).
        _writer: Option<MutexGuard<'p, ()>>,
    },
}

/// A poisoned lock means a panic elsewhere; what it guards is still consistent (the slots are
/// updated in single steps, a connection's transaction ends with its `Tx`), so keep going.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pool {
    /// SQLite's (or any single) connection, every call in turn.
    pub fn single(conn: Conn) -> Pool {
        Pool {
            inner: Inner::Single(Mutex::new(conn)),
        }
    }

    /// A pool of up to `size` PostgreSQL connections (at least 1) to the database of `first`,
    /// `first` among them, connected with `options`. A SQLite `first` gets [`Pool::single`].
    pub fn postgres(first: Conn, size: usize, options: &PgOptions) -> Pool {
        let Conn::Postgres(pg) = &first else {
            return Pool::single(first);
        };
        let connector = pg.connector();
        Pool {
            inner: Inner::Postgres(Shared {
                connector,
                size: size.max(1),
                wait: options.lock_timeout.saturating_mul(2),
                slots: Mutex::new(Slots {
                    idle: vec![first],
                    leased: 0,
                }),
                returned: Condvar::new(),
                writer: Mutex::new(()),
                waits: AtomicU64::new(0),
                timeouts: AtomicU64::new(0),
            }),
        }
    }

    /// A connection for reads and single statements.
    pub fn get(&self) -> Result<Lease<'_>> {
        match &self.inner {
            Inner::Single(conn) => Ok(Lease {
                held: Held::Single(lock(conn)),
            }),
            Inner::Postgres(shared) => Ok(Lease {
                held: Held::Pooled {
                    pool: shared,
                    conn: Some(shared.take()?),
                    _writer: None,
                },
            }),
        }
    }

    /// A connection for a write transaction, once this process's previous write transaction
    /// is over (see the module docs).
    pub fn writer(&self) -> Result<Lease<'_>> {
        match &self.inner {
            Inner::Single(_) => self.get(),
            Inner::Postgres(shared) => {
                let turn = lock(&shared.writer);
                Ok(Lease {
                    held: Held::Pooled {
                        pool: shared,
                        conn: Some(shared.take()?),
                        _writer: Some(turn),
                    },
                })
            }
        }
    }

    /// How the pool stands; `None` for SQLite's single connection.
    pub fn stats(&self) -> Option<PoolStats> {
        let Inner::Postgres(shared) = &self.inner else {
            return None;
        };
        let slots = lock(&shared.slots);
        Some(PoolStats {
            size: shared.size,
            open: slots.idle.len() + slots.leased,
            in_use: slots.leased,
            waits: shared.waits.load(Ordering::Relaxed),
            timeouts: shared.timeouts.load(Ordering::Relaxed),
        })
    }
}

impl Shared {
    /// An idle connection, else a new one while there is room, else the next one returned,
    /// waiting at most `self.wait`.
    fn take(&self) -> Result<Conn> {
        let mut slots = lock(&self.slots);
        let mut deadline = None;
        loop {
            if let Some(conn) = slots.idle.pop() {
                slots.leased += 1;
                return Ok(conn);
            }
            if slots.leased < self.size {
                slots.leased += 1;
                return Ok(Conn::Postgres(self.connector.unopened()));
            }
            let deadline = *deadline.get_or_insert_with(|| {
                self.waits.fetch_add(1, Ordering::Relaxed);
                Instant::now() + self.wait
            });
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                return Err(Error::PoolExhausted {
                    size: self.size,
                    waited: self.wait,
                });
            }
            slots = self
                .returned
                .wait_timeout(slots, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Back from a lease: kept when healthy and outside a transaction, else dropped. When the
    /// lease met a lost session, the idle connections go too: they were opened before the
    /// loss, and if the server restarted each would fail the next write that takes it, where
    /// one connection failed one. Dropped after the slots are unlocked (closing takes a moment).
    fn give_back(&self, conn: Conn) {
        let (broken, lost) = match &conn {
            Conn::Postgres(pg) => (pg.is_closed() || pg.in_transaction(), pg.take_lost()),
            Conn::Sqlite(_) => (false, false),
        };
        let mut dropped = Vec::new();
        {
            let mut slots = lock(&self.slots);
            slots.leased -= 1;
            if lost {
                dropped.append(&mut slots.idle);
            }
            if broken {
                dropped.push(conn);
            } else {
                slots.idle.push(conn);
            }
        }
        self.returned.notify_all();
        if !dropped.is_empty() {
            tracing::debug!(
                connections = dropped.len(),
                session_lost = lost,
                "dropped PostgreSQL connections opened before a lost session or left inside a \
                 transaction"
            );
        }
        drop(dropped);
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Held::Pooled { pool, conn, .. } = &mut self.held
            && let Some(conn) = conn.take()
        {
            pool.give_back(conn);
        }
    }
}

impl std::ops::Deref for Lease<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        match &self.held {
            Held::Single(conn) => conn,
            Held::Pooled { conn, .. } => conn.as_ref().expect("a lease holds its connection"),
        }
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        match &mut self.held {
            Held::Single(conn) => conn,
            Held::Pooled { conn, .. } => conn.as_mut().expect("a lease holds its connection"),
        }
    }
}

impl fmt::Debug for Pool {
    /// Never the URL: the size and `host:port/db` at most.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Single(_) => f.write_str("Pool::Single"),
            Inner::Postgres(shared) => f
                .debug_struct("Pool")
                .field("database", &shared.connector)
                .field("size", &shared.size)
                .finish_non_exhaustive(),
        }
    }
}
