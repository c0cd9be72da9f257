//! Per-server claims: how processes sharing one state (replicas of `serve` on PostgreSQL, and a
//! `sync --now` beside them) divide the servers between them.
//!
//! A claim is a row lease in `server_claims`: a holder, an expiry, and a fencing token that
//! grows by one with every claim of that server. A process syncs a server only under a claim,
//! renews it while the sync runs, and releases it at the end (recording when the sync ended).
//! Every write transaction made under a claim first checks the claim's token is still the
//! server's current one and unexpired ([`check_fence`]), so a process that stalled past its
//! expiry (a long GC pause, a frozen VM) and wakes up after another took the server over cannot
//! write: its transaction fails before it changes anything.
//!
//! Claims are decided inside write transactions, which are serialised on both backends (see
//! `db`), so "read the row, then write it" here is race-free without `SELECT … FOR UPDATE`.
//! Timestamps are RFC 3339 UTC text with milliseconds; they compare as text.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::db::{Exec, OptionalExt as _, params};
use super::{parse_ts, ts};

/// A claim this process holds on one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub server: String,
    pub holder: String,
    /// The fencing token: every write under this claim carries it.
    pub token: i64,
    /// The holder whose claim expired and was taken over by this one, if any.
    pub taken_over_from: Option<String>,
}

/// What asking for a claim came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    Claimed(Claim),
    /// Another process holds an unexpired claim.
    Held {
        holder: String,
        expires_at: String,
    },
    /// A sync of this server ended at or after the caller's `not_synced_since`: nothing to do.
    Fresh {
        finished_at: String,
    },
}

/// The row of one server's claim.
struct Row {
    holder: String,
    token: i64,
    expires_at: String,
    released: bool,
    finished_at: Option<String>,
}

fn read(db: &impl Exec, server: &str) -> anyhow::Result<Option<Row>> {
    Ok(db
        .query_row(
            "SELECT holder, token, expires_at, released, finished_at FROM server_claims WHERE server = ?1",
            params![server],
            |r| {
                Ok(Row {
                    holder: r.get(0)?,
                    token: r.get(1)?,
                    expires_at: r.get(2)?,
                    released: r.get(3)?,
                    finished_at: r.get(4)?,
                })
            },
        )
        .optional()?)
}

fn later(now: DateTime<Utc>, ttl: Duration) -> String {
    ts(now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX))
}

/// Claim `server` for `holder` until `now + ttl`, unless another unexpired claim holds it or
/// (when `not_synced_since` is given: scheduled runs) a sync of it ended since then. Call
/// inside a write transaction.
///
/// # Errors
/// When the state cannot be read or written.
pub fn claim(
    db: &impl Exec,
    server: &str,
    holder: &str,
    ttl: Duration,
    now: DateTime<Utc>,
    not_synced_since: Option<DateTime<Utc>>,
) -> anyhow::Result<ClaimOutcome> {
    let row = read(db, server)?;
    let now_text = ts(now);
    if let Some(row) = &row {
        if !row.released && row.expires_at > now_text {
            return Ok(ClaimOutcome::Held {
                holder: row.holder.clone(),
                expires_at: row.expires_at.clone(),
            });
        }
        let fresh = row.finished_at.as_deref().filter(|finished| {
            not_synced_since.is_some_and(|since| parse_ts(finished).is_some_and(|f| f >= since))
        });
        if let Some(finished_at) = fresh {
            return Ok(ClaimOutcome::Fresh {
                finished_at: finished_at.to_string(),
            });
        }
    }
    let token = row.as_ref().map_or(1, |r| r.token + 1);
    db.execute(
        "INSERT INTO server_claims(server, holder, token, claimed_at, expires_at, released)
         VALUES (?1, ?2, ?3, ?4, ?5, 0)
         ON CONFLICT(server) DO UPDATE SET holder = ?2, token = ?3, claimed_at = ?4, expires_at = ?5,
             released = 0",
        params![server, holder, token, now_text, later(now, ttl)],
    )?;
    Ok(ClaimOutcome::Claimed(Claim {
        server: server.to_string(),
        holder: holder.to_string(),
        token,
        taken_over_from: row.filter(|r| !r.released).map(|r| r.holder),
    }))
}

/// Extend `claim` to `now + ttl`; false when it is no longer this claim (expired and taken
/// over, or released).
///
/// # Errors
/// When the state cannot be written.
pub fn renew(
    db: &impl Exec,
    claim: &Claim,
    ttl: Duration,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let n = db.execute(
        "UPDATE server_claims SET expires_at = ?4
         WHERE server = ?1 AND holder = ?2 AND token = ?3 AND released = 0 AND expires_at > ?5",
        params![
            claim.server,
            claim.holder,
            claim.token,
            later(now, ttl),
            ts(now)
        ],
    )?;
    Ok(n == 1)
}

/// Give `claim` up; `finished` records that a sync of the server ended now (what makes it
/// fresh for scheduled runs elsewhere). A claim already taken over is left alone.
///
/// # Errors
/// When the state cannot be written.
pub fn release(
    db: &impl Exec,
    claim: &Claim,
    finished: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let finished_at = finished.then(|| ts(now));
    db.execute(
        "UPDATE server_claims SET released = 1, expires_at = ?4,
             finished_at = COALESCE(?5, finished_at)
         WHERE server = ?1 AND holder = ?2 AND token = ?3",
        params![
            claim.server,
            claim.holder,
            claim.token,
            ts(now),
            finished_at
        ],
    )?;
    Ok(())
}

/// Why a write under a claim was refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "the claim on {server} (token {token}) is no longer held: {why}; this process stops writing for it"
)]
pub struct FenceError {
    pub server: String,
    pub token: i64,
    pub why: String,
}

/// Check that `claim` is still the current, unexpired claim of its server. Call first in every
/// write transaction made under a claim.
///
/// # Errors
/// A [`FenceError`] when it is not; any error reading the state.
pub fn check_fence(db: &impl Exec, claim: &Claim, now: DateTime<Utc>) -> anyhow::Result<()> {
    let refuse = |why: String| {
        Err(FenceError {
            server: claim.server.clone(),
            token: claim.token,
            why,
        }
        .into())
    };
    match read(db, &claim.server)? {
        None => refuse("there is no claim on it".into()),
        Some(row) if row.token != claim.token => refuse(format!(
            "{} claimed it since (token {})",
            row.holder, row.token
        )),
        Some(row) if row.released => refuse("it was released".into()),
        Some(row) if row.expires_at <= ts(now) => {
            refuse(format!("it expired at {}", row.expires_at))
        }
        Some(_) => Ok(()),
    }
}

/// Claims held now, by holder (for `/metrics` and `status`).
///
/// # Errors
/// When the state cannot be read.
pub fn held(db: &impl Exec, now: DateTime<Utc>) -> anyhow::Result<Vec<(String, String)>> {
    Ok(db.query_map(
        "SELECT server, holder FROM server_claims WHERE released = 0 AND expires_at > ?1 ORDER BY server",
        params![ts(now)],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

impl super::Store {
    /// Whether other processes may share this state and sync beside this one (PostgreSQL), so
    /// servers are claimed one by one instead of under one run lease.
    pub fn shares_work(&self) -> bool {
        matches!(self.location(), super::Location::Postgres(_))
    }

    /// [`claim`], in a write transaction.
    ///
    /// # Errors
    /// When the state cannot be read or written.
    pub fn claim_server(
        &self,
        server: &str,
        holder: &str,
        ttl: Duration,
        not_synced_since: Option<DateTime<Utc>>,
    ) -> anyhow::Result<ClaimOutcome> {
        self.transaction(|tx| claim(&**tx, server, holder, ttl, super::now(), not_synced_since))
    }

    /// [`renew`], in a write transaction.
    ///
    /// # Errors
    /// When the state cannot be written.
    pub fn renew_claim(&self, claim: &Claim, ttl: Duration) -> anyhow::Result<bool> {
        self.transaction(|tx| renew(&**tx, claim, ttl, super::now()))
    }

    /// [`release`], in a write transaction.
    ///
    /// # Errors
    /// When the state cannot be written.
    pub fn release_claim(&self, claim: &Claim, finished: bool) -> anyhow::Result<()> {
        self.transaction(|tx| release(&**tx, claim, finished, super::now()))
    }

    /// How many servers each process holds now.
    ///
    /// # Errors
    /// When the state cannot be read.
    pub fn claims_by_holder(&self) -> anyhow::Result<Vec<(String, i64)>> {
        let mut counts: Vec<(String, i64)> = Vec::new();
        for (_, holder) in held(&*self.conn()?, super::now())? {
            match counts.iter_mut().find(|(h, _)| *h == holder) {
                Some((_, n)) => *n += 1,
                None => counts.push((holder, 1)),
            }
        }
        Ok(counts)
    }
}

thread_local! {
    /// The claim the current thread syncs its server under (see [`Fenced`]).
    static FENCE: std::cell::RefCell<Option<Claim>> = const { std::cell::RefCell::new(None) };
}

/// While alive, every write transaction this thread opens checks `claim` first
/// ([`check_fence`]). A server's sync runs on one blocking thread, which holds one of these
/// for as long as it works under the claim.
pub struct Fenced(());

impl Fenced {
    pub fn new(claim: Claim) -> Fenced {
        FENCE.with(|f| *f.borrow_mut() = Some(claim));
        Fenced(())
    }
}

impl Drop for Fenced {
    fn drop(&mut self) {
        FENCE.with(|f| *f.borrow_mut() = None);
    }
}

/// The claim this thread writes under, if any.
pub fn current() -> Option<Claim> {
    FENCE.with(|f| f.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::Conn;
    use crate::store::testing;

    /// A raw connection to the migrated state of `dir`, on the backend of the test (the
    /// scenarios below call the claim functions on a connection, as a transaction would).
    fn migrated(dir: &tempfile::TempDir) -> Conn {
        drop(testing::open(dir.path()));
        testing::conn(dir.path())
    }

    fn at(s: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::seconds(i64::from(s))
    }

    fn claimed(o: ClaimOutcome) -> Claim {
        match o {
            ClaimOutcome::Claimed(c) => c,
            other => panic!("expected a claim, got {other:?}"),
        }
    }

    const TTL: Duration = Duration::from_secs(60);

    testing::on_both_backends! {
        fn one_holder_at_a_time_and_a_lapsed_claim_is_taken_over_with_a_new_token() {
            let dir = tempfile::tempdir().unwrap();
            let db = &migrated(&dir);
            let a = claimed(claim(db, "s", "a", TTL, at(0), None).unwrap());
            assert_eq!((a.token, a.taken_over_from.as_deref()), (1, None));
            let held = claim(db, "s", "b", TTL, at(30), None).unwrap();
            assert!(
                matches!(held, ClaimOutcome::Held { ref holder, .. } if holder == "a"),
                "{held:?}"
            );
            assert!(renew(db, &a, TTL, at(50)).unwrap(), "a renews in time");
            assert!(matches!(
                claim(db, "s", "b", TTL, at(100), None).unwrap(),
                ClaimOutcome::Held { .. }
            ));
            // a stalls past its expiry (renewed to 110): b takes over.
            let b = claimed(claim(db, "s", "b", TTL, at(111), None).unwrap());
            assert_eq!((b.token, b.taken_over_from.as_deref()), (2, Some("a")));
            assert!(!renew(db, &a, TTL, at(112)).unwrap(), "a's claim is gone");
            let refused = check_fence(db, &a, at(112)).unwrap_err();
            let text = refused.to_string();
            assert!(text.contains("b claimed it since (token 2)"), "{text}");
            assert!(refused.downcast_ref::<FenceError>().is_some());
            check_fence(db, &b, at(112)).unwrap();
            // a's late release does not free b's claim.
            release(db, &a, true, at(113)).unwrap();
            check_fence(db, &b, at(114)).unwrap();
        }

        fn an_expired_claim_fences_its_holder_even_before_anyone_takes_over() {
            let dir = tempfile::tempdir().unwrap();
            let db = &migrated(&dir);
            let a = claimed(claim(db, "s", "a", TTL, at(0), None).unwrap());
            check_fence(db, &a, at(59)).unwrap();
            let text = check_fence(db, &a, at(60)).unwrap_err().to_string();
            assert!(text.contains("expired at"), "{text}");
            assert!(!renew(db, &a, TTL, at(61)).unwrap());
        }

        fn released_servers_are_free_at_once_and_fresh_for_runs_that_started_before_the_sync_ended() {
            let dir = tempfile::tempdir().unwrap();
            let db = &migrated(&dir);
            let a = claimed(claim(db, "s", "a", TTL, at(0), None).unwrap());
            release(db, &a, true, at(10)).unwrap();
            assert!(
                check_fence(db, &a, at(11))
                    .unwrap_err()
                    .to_string()
                    .contains("released")
            );
            // A scheduled run on another replica that ticked at 5 finds it synced since.
            let fresh = claim(db, "s", "b", TTL, at(12), Some(at(5))).unwrap();
            assert!(matches!(fresh, ClaimOutcome::Fresh { .. }), "{fresh:?}");
            // One that ticked after the sync ended, or a manual run, claims it.
            let b = claimed(claim(db, "s", "b", TTL, at(12), Some(at(11))).unwrap());
            assert_eq!((b.token, b.taken_over_from.as_deref()), (2, None));
            release(db, &b, false, at(13)).unwrap();
            let c = claimed(claim(db, "s", "c", TTL, at(14), None).unwrap());
            assert_eq!(c.token, 3);
            assert_eq!(
                held(db, at(15)).unwrap(),
                vec![("s".to_string(), "c".to_string())]
            );
        }
    }

    /// A server's state as a sync writes it (only the fields the test reads matter).
    fn synced(server: &str, version: &str) -> crate::store::ServerState {
        crate::store::ServerState {
            latest_version: Some(version.into()),
            last_status: Some("up-to-date".into()),
            ..crate::store::ServerState::empty(server)
        }
    }

    /// The stale replica of issue 19 at the store's level: two stores (two replicas) on one
    /// PostgreSQL database; A's claim lapses and B takes the server over, after which nothing
    /// A writes under its old claim lands, through a transaction or an autocommit write.
    ///
    /// PostgreSQL only, so not `on_both_backends!`: it is about two replicas sharing one state,
    /// which a SQLite state never is (one process at a time holds its run lease, and no claim
    /// is taken there: `Store::shares_work`). It still opens its state through `testing`.
    #[test]
    fn a_replica_whose_claim_was_taken_over_cannot_write_under_it_on_postgres() {
        testing::on(testing::Backend::Postgres, stale_replica_cannot_write);
    }

    fn stale_replica_cannot_write() {
        use crate::store::Store;
        let dir = tempfile::tempdir().unwrap();
        // The same directory is the same database: two stores on it, as two replicas.
        let (a, b) = (testing::open(dir.path()), testing::open(dir.path()));
        assert!(a.shares_work() && b.shares_work());
        let a_claim = claimed(
            a.claim_server("s", "a", Duration::from_secs(1), None)
                .unwrap(),
        );
        assert_eq!(a_claim.token, 1);
        // B asks until A's claim has lapsed (1 s after A took it): a polling wait.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let b_claim = loop {
            match b.claim_server("s", "b", TTL, None).unwrap() {
                ClaimOutcome::Claimed(c) => break c,
                ClaimOutcome::Held { holder, .. } => {
                    assert_eq!(holder, "a");
                    assert!(
                        std::time::Instant::now() < deadline,
                        "a's claim never lapsed"
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
                fresh @ ClaimOutcome::Fresh { .. } => panic!("{fresh:?}"),
            }
        };
        assert_eq!(
            (b_claim.token, b_claim.taken_over_from.as_deref()),
            (2, Some("a"))
        );

        // A wakes up on its sync thread, still fenced with its old claim.
        {
            let _fenced = Fenced::new(a_claim.clone());
            let ran = std::cell::Cell::new(false);
            let err = a
                .transaction(|tx| {
                    ran.set(true);
                    Store::put_server_state(tx, &synced("s", "1.0.0"))
                })
                .unwrap_err();
            let fence = err.downcast_ref::<FenceError>().expect("a fence error");
            assert_eq!((fence.server.as_str(), fence.token), ("s", 1));
            assert!(
                err.to_string().contains("b claimed it since (token 2)"),
                "{err}"
            );
            assert!(!ran.get(), "refused before the decision ran");
            let err = a.put_quiet_mark("s", "a-key").unwrap_err();
            assert!(err.downcast_ref::<FenceError>().is_some(), "{err:#}");
        }
        assert_eq!(b.server_state("s").unwrap(), None, "nothing of A's landed");
        assert_eq!(b.quiet_mark("s").unwrap(), None);

        // B's writes under its own claim go through; A (unfenced) reads them.
        {
            let _fenced = Fenced::new(b_claim);
            b.transaction(|tx| Store::put_server_state(tx, &synced("s", "2.0.0")))
                .unwrap();
            b.put_quiet_mark("s", "b-key").unwrap();
        }
        let state = a.server_state("s").unwrap().unwrap();
        assert_eq!(state.latest_version.as_deref(), Some("2.0.0"));
        assert_eq!(a.quiet_mark("s").unwrap().unwrap().key, "b-key");
    }

    #[test]
    fn the_fence_follows_the_thread_that_syncs() {
        let claim = Claim {
            server: "s".into(),
            holder: "a".into(),
            token: 7,
            taken_over_from: None,
        };
        assert_eq!(current(), None);
        {
            let _fenced = Fenced::new(claim.clone());
            assert_eq!(current(), Some(claim.clone()));
            std::thread::spawn(|| assert_eq!(current(), None))
                .join()
                .unwrap();
        }
        assert_eq!(current(), None);
    }
}
