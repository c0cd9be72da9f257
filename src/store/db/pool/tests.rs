//! The PostgreSQL pool of a store against a real PostgreSQL 15 (the throwaway cluster of
//! `pg/cluster.rs`). No test here measures time: each shows an outcome that one shared
//! connection could not give (a read answered while a transaction holds a connection, a new
//! backend after the old one was killed), and a lost race fails with an error rather than
//! hanging, since a wait for a connection is bounded.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use super::super::pg::cluster::{self, PASSWORD, TestDb};
use super::super::{Conn, Error, Exec, PgOptions, params};
use crate::secret::Secret;
use crate::store::{Store, schema};

fn options(db: &TestDb, lock_timeout: Duration) -> PgOptions {
    PgOptions {
        url: Secret::new(db.url()),
        lock_timeout,
    }
}

fn store(db: &TestDb, pool_size: usize, lock_timeout: Duration) -> Arc<Store> {
    let (store, _) =
        Store::open_postgres_pooled(&options(db, lock_timeout), pool_size, schema::Policy::Apply)
            .expect("opening the test store");
    Arc::new(store)
}

/// The backend process behind whichever connection `conn` is.
fn backend_pid(conn: &impl Exec) -> i32 {
    conn.query_row("SELECT pg_backend_pid()", params![], |r| r.get(0))
        .unwrap()
}

/// Ends the session of backend `pid` (as an administrator or a failover would) and waits until
/// the server has let it go.
fn kill(observer: &Conn, pid: i32) {
    let killed: bool = observer
        .query_row("SELECT pg_terminate_backend(?1)", params![pid], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(killed, "backend {pid} was not there to terminate");
    while observer
        .exists(
            "SELECT 1 FROM pg_stat_activity WHERE pid = ?1",
            params![pid],
        )
        .unwrap()
    {
        std::thread::sleep(Duration::from_millis(5));
    }
}

const LEASE_ROW: &str = "INSERT INTO lease(name, holder, acquired_at, expires_at)
     VALUES ('run', 'writer', '2026-01-01T00:00:00.000Z', '2099-01-01T00:00:00.000Z')";

#[test]
fn a_read_is_answered_while_a_write_transaction_holds_another_connection() {
    let db = cluster::fresh_database();
    let store = store(&db, 2, Duration::from_secs(30));
    let seen = store
        .transaction(|tx| {
            tx.execute(LEASE_ROW, params![])?;
            // The reader runs while this transaction is open and holds its connection: behind
            // one shared connection it could only wait, then fail (the wait is bounded).
            let reader = Arc::clone(&store);
            std::thread::spawn(move || reader.lease_holder())
                .join()
                .expect("the reader panicked")
        })
        .unwrap();
    // Another connection, another snapshot: the uncommitted lease is not seen.
    assert!(seen.is_none(), "{seen:?}");
    assert_eq!(store.lease_holder().unwrap().unwrap().holder, "writer");
    let stats = store.pool_stats().unwrap();
    assert_eq!((stats.size, stats.open, stats.in_use), (2, 2, 0));
}

#[test]
fn with_every_connection_taken_a_call_waits_then_names_pool_size() {
    let db = cluster::fresh_database();
    // Waits at most 2 x lock-timeout for a connection.
    let store = store(&db, 1, Duration::from_millis(50));
    let err = store
        .transaction(|_| {
            let reader = Arc::clone(&store);
            let read = std::thread::spawn(move || reader.lease_holder())
                .join()
                .expect("the reader panicked");
            Ok(read.unwrap_err())
        })
        .unwrap();
    let shown = format!("{err:#}");
    assert!(
        shown.contains(
            "all 1 connections to PostgreSQL ([state] pool-size = 1) stayed busy for 100ms"
        ),
        "{shown}"
    );
    assert!(err.chain().any(|c| matches!(
        c.downcast_ref::<Error>(),
        Some(Error::PoolExhausted { size: 1, .. })
    )));
    assert!(!shown.contains(PASSWORD), "{shown}");
    let stats = store.pool_stats().unwrap();
    assert_eq!((stats.waits, stats.timeouts, stats.in_use), (1, 1, 0));
    // The connection is free again: the next call gets it.
    assert!(store.lease_holder().unwrap().is_none());
}

#[test]
fn a_killed_connection_is_replaced_and_a_write_that_met_it_is_not_repeated() {
    let db = cluster::fresh_database();
    let store = store(&db, 2, Duration::from_secs(30));
    let observer = Conn::connect_postgres(&options(&db, Duration::from_secs(30))).unwrap();
    let first = backend_pid(&*store.conn().unwrap());
    kill(&observer, first);

    // A write meets the dead session: it may have committed, so it is not tried again; the
    // caller is told, and the dead connection leaves the pool with the lease.
    let err = store
        .conn()
        .unwrap()
        .execute(LEASE_ROW, params![])
        .unwrap_err();
    assert!(err.is_connection_lost(), "{err}");
    assert_eq!(store.pool_stats().unwrap().open, 0);
    assert!(store.lease_holder().unwrap().is_none());

    // The next call opens a fresh connection.
    let second = backend_pid(&*store.conn().unwrap());
    assert_ne!(second, first);
    assert_eq!(store.pool_stats().unwrap().open, 1);

    // A plain SELECT that meets a killed session cannot have changed anything: it is tried
    // once more on a new session, and the caller never sees the loss.
    kill(&observer, second);
    let third = backend_pid(&*store.conn().unwrap());
    assert!(third != first && third != second);
    // So is a transaction's BEGIN: write transactions go on after a kill.
    kill(&observer, third);
    store
        .transaction(|tx| Ok(tx.execute(LEASE_ROW, params![])?))
        .unwrap();
    assert_eq!(store.lease_holder().unwrap().unwrap().holder, "writer");
    let stats = store.pool_stats().unwrap();
    assert_eq!((stats.open, stats.in_use), (1, 0));
}

#[test]
fn transactions_never_share_a_connection_and_reads_never_land_inside_one() {
    const WRITERS: usize = 4;
    const READERS: usize = 3;
    const TURNS: i64 = 8;
    let db = cluster::fresh_database();
    let store = store(&db, 3, Duration::from_secs(30));
    store
        .conn()
        .unwrap()
        .execute_batch(
            "CREATE TABLE turns (writer BIGINT, turn BIGINT, step BIGINT, pid BIGINT, xid BIGINT)",
        )
        .unwrap();
    let start = Arc::new(Barrier::new(WRITERS + READERS));
    let mut threads = Vec::new();
    for writer in 0..WRITERS {
        let (store, start) = (Arc::clone(&store), Arc::clone(&start));
        threads.push(std::thread::spawn(move || {
            start.wait();
            for turn in 0..TURNS {
                store
                    .transaction(|tx| {
                        for step in 0..3 {
                            tx.execute(
                                "INSERT INTO turns VALUES
                                 (?1, ?2, ?3, pg_backend_pid(), txid_current())",
                                params![writer, turn, step],
                            )?;
                        }
                        Ok(())
                    })
                    .unwrap();
            }
            0
        }));
    }
    for _ in 0..READERS {
        let (store, start) = (Arc::clone(&store), Arc::clone(&start));
        threads.push(std::thread::spawn(move || {
            start.wait();
            let mut outside = 0;
            for _ in 0..40 {
                // A connection inside someone's transaction has a transaction id assigned.
                let inside: bool = store
                    .conn()
                    .unwrap()
                    .query_row(
                        "SELECT txid_current_if_assigned() IS NOT NULL",
                        params![],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert!(!inside, "a read ran inside another thread's transaction");
                outside += 1;
            }
            outside
        }));
    }
    let reads: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(reads, READERS * 40);

    let conn = store.conn().unwrap();
    // One transaction per (writer, turn), all of its statements on one backend...
    let per_xid: Vec<(i64, i64, i64)> = conn
        .query_map(
            "SELECT count(DISTINCT (writer, turn)), count(DISTINCT pid), count(*)
             FROM turns GROUP BY xid",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(per_xid.len(), WRITERS * usize::try_from(TURNS).unwrap());
    assert!(per_xid.iter().all(|t| *t == (1, 1, 3)), "{per_xid:?}");
    // ...and every (writer, turn) in exactly one transaction.
    let split: i64 = conn
        .query_row(
            "SELECT count(*) FROM (SELECT 1 FROM turns GROUP BY writer, turn
                                   HAVING count(DISTINCT xid) <> 1) s",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(split, 0);
    let stats = store.pool_stats().unwrap();
    assert!(stats.open <= 3 && stats.in_use == 1, "{stats:?}");
}

#[test]
fn a_panic_inside_a_transaction_returns_its_connection_and_commits_nothing() {
    let db = cluster::fresh_database();
    let store = store(&db, 1, Duration::from_millis(200));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.transaction(|tx| -> anyhow::Result<()> {
            tx.execute(LEASE_ROW, params![])?;
            panic!("a bug in the middle of a decision");
        })
    }));
    assert!(panicked.is_err());
    let stats = store.pool_stats().unwrap();
    assert_eq!((stats.open, stats.in_use), (1, 0), "{stats:?}");
    // The write was rolled back, the advisory lock is free and the one connection serves the
    // next transaction (with a 200 ms lock timeout, a held lock would fail it).
    assert!(store.lease_holder().unwrap().is_none());
    store
        .transaction(|tx| Ok(tx.execute(LEASE_ROW, params![])?))
        .unwrap();
    assert_eq!(store.lease_holder().unwrap().unwrap().holder, "writer");
}

/// The last `Arc<Store>` is often dropped by async code: every open connection of its pool
/// closes on a thread of its own there instead of panicking.
#[test]
fn a_store_with_several_open_connections_dropped_inside_an_async_task_closes_quietly() {
    let db = cluster::fresh_database();
    let store = store(&db, 3, Duration::from_secs(30));
    {
        let (a, b, c) = (
            store.conn().unwrap(),
            store.conn().unwrap(),
            store.conn().unwrap(),
        );
        let pids = [backend_pid(&*a), backend_pid(&*b), backend_pid(&*c)];
        assert!(pids[0] != pids[1] && pids[1] != pids[2] && pids[0] != pids[2]);
    }
    assert_eq!(store.pool_stats().unwrap().open, 3);
    let store = Arc::into_inner(store).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        tokio::spawn(async move { drop(store) }).await.unwrap();
    });
}

#[test]
fn the_pool_shows_where_it_connects_but_never_the_url() {
    let db = cluster::fresh_database();
    let store = store(&db, 2, Duration::from_secs(30));
    let shown = format!("{:?}", store.pool);
    assert!(
        shown.contains("127.0.0.1:") && shown.contains("size: 2"),
        "{shown}"
    );
    assert!(
        !shown.contains(PASSWORD) && !shown.contains("postgres://"),
        "{shown}"
    );
}

#[test]
fn after_a_server_restart_the_idle_connections_go_with_the_first_lost_one() {
    let mut db = cluster::fresh_database();
    let store = store(&db, 3, Duration::from_secs(30));
    {
        let leases = [
            store.conn().unwrap(),
            store.conn().unwrap(),
            store.conn().unwrap(),
        ];
        // Each connects on its first statement.
        let pids: Vec<i32> = leases.iter().map(|l| backend_pid(&**l)).collect();
        assert!(pids[0] != pids[1] && pids[1] != pids[2] && pids[0] != pids[2]);
    }
    assert_eq!(store.pool_stats().unwrap().open, 3);
    db.restart();
    // A read meets a dead session and is quietly tried again on a new one; the other two idle
    // sessions died with the server, so they are dropped rather than lent to the next write,
    // which would meet a dead one and fail (as it may have committed, it is never repeated).
    assert!(store.lease_holder().unwrap().is_none());
    assert_eq!(store.pool_stats().unwrap().open, 1);
    store.conn().unwrap().execute(LEASE_ROW, params![]).unwrap();
    store
        .transaction(|tx| Ok(tx.execute("UPDATE lease SET holder = 'second'", params![])?))
        .unwrap();
    assert_eq!(store.lease_holder().unwrap().unwrap().holder, "second");
}

/// The claim fence is the calling thread's (`claims::Fenced`), checked inside the write
/// transaction on whichever connection that thread leased: a fenced thread and a free one
/// sharing the pool each get their own answer.
#[test]
fn the_claim_fence_follows_the_thread_whichever_connection_it_leases() {
    use crate::store::claims::{Claim, FenceError, Fenced};
    let db = cluster::fresh_database();
    let store = store(&db, 2, Duration::from_secs(30));
    // Never claimed: a thread fenced with it may write nothing.
    let ghost = Claim {
        server: "s".into(),
        holder: "gone".into(),
        token: 9,
        taken_over_from: None,
    };
    let free = store.conn().unwrap();
    let fenced = Arc::clone(&store);
    let refused = std::thread::spawn(move || {
        let _fence = Fenced::new(ghost);
        let in_tx = fenced.transaction(|tx| Ok(tx.execute(LEASE_ROW, params![])?));
        let single = fenced.put_quiet_mark("s", "stale");
        [in_tx.map(drop), single]
    })
    .join()
    .unwrap();
    for err in refused {
        let err = err.unwrap_err();
        assert!(err.downcast_ref::<FenceError>().is_some(), "{err:#}");
    }
    // This thread is not fenced: its writes land, on the connection it held meanwhile and on
    // the one the fenced thread used.
    free.execute(LEASE_ROW, params![]).unwrap();
    drop(free);
    store.put_quiet_mark("s", "fresh").unwrap();
    assert_eq!(store.quiet_mark("s").unwrap().unwrap().key, "fresh");
    assert_eq!(store.lease_holder().unwrap().unwrap().holder, "writer");
}
