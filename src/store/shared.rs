//! What else changes when several processes share the state (PostgreSQL replicas): a run says
//! which process runs it and keeps a heartbeat, so a replica marks as aborted only the runs
//! whose process stopped beating; and an outbox row is claimed by the one sender delivering it,
//! so two replicas' drains never hand the same email to a transport at once.
//!
//! A scheduled run whose servers were all synced by other replicas (claimed elsewhere, or
//! synced since the fire time) is forgotten at its end ([`forget_run`]): it is started like
//! every run, before any work, so a crash still leaves its row to be aborted, and deleted in
//! one transaction once it is known to have done nothing.
//!
//! On SQLite one process runs at a time (the run lease), and these keep today's behaviour: a
//! run older than the current one is dead, and a `sending` row is a crashed sender's, retried at
//! once (its claim, if any, is written already expired).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::db::{Exec, OptionalExt as _, params};
use super::ts;

/// This machine's name as processes are told apart in the state (a lease or claim holder is
/// `host:pid:…`): `$HOSTNAME` (a pod's name on Kubernetes), else `localhost`.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Record that `holder` runs `run_id`, beating now.
///
/// # Errors
/// When the state cannot be written.
pub fn beat(db: &impl Exec, run_id: i64, holder: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO run_holders(run_id, holder, heartbeat_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(run_id) DO UPDATE SET heartbeat_at = ?3",
        params![run_id, holder, ts(now)],
    )?;
    Ok(())
}

/// Mark as aborted the runs still `running` that started before `silent_since` and whose
/// process stopped beating before it (or never beat: runs of an older upkeep), other than
/// `current`. A run that started since may not have had its first beat yet: it is left alone.
///
/// # Errors
/// When the state cannot be written.
pub fn abort_silent_runs(
    db: &impl Exec,
    current: i64,
    silent_since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    Ok(db.execute(
        "UPDATE runs SET result = 'aborted', finished_at = ?3
         WHERE result = 'running' AND id <> ?1 AND started_at < ?2
           AND NOT EXISTS (SELECT 1 FROM run_holders h WHERE h.run_id = runs.id AND h.heartbeat_at >= ?2)",
        params![current, ts(silent_since), ts(now)],
    )?)
}

/// What a claim on an outbox row allows beyond the delivery and the lock wait: a reconnect
/// to the database before the outcome is recorded (the PostgreSQL client's 10 s connect
/// timeout) and the difference between two replicas' clocks (the expiry is written by one
/// and read by another), with room to spare.
pub const OUTBOX_CLAIM_MARGIN: Duration = Duration::from_secs(30);

/// The claim lifetime until the config says otherwise (`deps::open_store` always does): the
/// default SMTP timeout and lock wait.
pub const DEFAULT_OUTBOX_CLAIM_TTL: Duration =
    Duration::from_secs(30 + 10).saturating_add(OUTBOX_CLAIM_MARGIN);

/// How long a sender's claim on an outbox row lasts: one delivery attempt (`delivery`, which
/// the transports' timeouts bound), then recording its outcome, a transaction that may wait
/// `lock_wait` for the lock, plus [`OUTBOX_CLAIM_MARGIN`]. Never shorter: a claim that lapsed
/// while its sender was still delivering would let a second replica send the same email.
/// Never much longer: a crashed sender's email waits this long for another replica (with the
/// defaults, 30 s SMTP timeout and 10 s lock timeout, 70 s).
pub fn outbox_claim_ttl(delivery: Duration, lock_wait: Duration) -> Duration {
    delivery
        .saturating_add(lock_wait)
        .saturating_add(OUTBOX_CLAIM_MARGIN)
}

/// The condition (on `outbox`) of a row no sender holds now; `?1` is now.
pub const UNCLAIMED: &str = "NOT EXISTS (SELECT 1 FROM outbox_claims c WHERE c.outbox_id = outbox.id AND c.expires_at > ?1)";

/// Claim outbox row `id` for `holder` until `now + ttl` and mark it `sending` (one more
/// attempt): false when it is no longer due (sent, failed, or claimed by another sender
/// meanwhile). Call inside a write transaction.
///
/// # Errors
/// When the state cannot be read or written.
pub fn claim_email(
    db: &impl Exec,
    id: i64,
    holder: &str,
    ttl: Duration,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let other: Option<String> = db
        .query_row(
            "SELECT holder FROM outbox_claims WHERE outbox_id = ?1 AND expires_at > ?2 AND holder <> ?3",
            params![id, ts(now), holder],
            |r| r.get(0),
        )
        .optional()?;
    if other.is_some() {
        return Ok(false);
    }
    let marked = db.execute(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1
         WHERE id = ?1 AND status IN ('pending', 'sending')",
        params![id],
    )?;
    if marked == 0 {
        return Ok(false);
    }
    let until = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    db.execute(
        "INSERT INTO outbox_claims(outbox_id, holder, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(outbox_id) DO UPDATE SET holder = ?2, expires_at = ?3",
        params![id, holder, ts(until)],
    )?;
    Ok(true)
}

/// Forget row `id`'s claim: its attempt is recorded (sent, retry later, failed).
///
/// # Errors
/// When the state cannot be written.
pub fn unclaim_email(db: &impl Exec, id: i64) -> anyhow::Result<()> {
    db.execute(
        "DELETE FROM outbox_claims WHERE outbox_id = ?1",
        params![id],
    )?;
    Ok(())
}

/// Delete run `run_id` with its server reports and heartbeat, in one transaction, if it is
/// still `running` and nothing else in the state names it (an outbox row it queued): a
/// scheduled run that found every server done elsewhere leaves no trace. False when it was
/// kept. Call inside a write transaction.
///
/// # Errors
/// When the state cannot be read or written.
pub fn forget_run(db: &impl Exec, run_id: i64) -> anyhow::Result<bool> {
    let queued: i64 = db.query_row(
        "SELECT COUNT(*) FROM outbox WHERE run_id = ?1",
        params![run_id],
        |r| r.get(0),
    )?;
    if queued > 0 {
        return Ok(false);
    }
    let deleted = db.execute(
        "DELETE FROM runs WHERE id = ?1 AND result = 'running'",
        params![run_id],
    )?;
    if deleted == 0 {
        return Ok(false);
    }
    db.execute("DELETE FROM run_servers WHERE run_id = ?1", params![run_id])?;
    db.execute("DELETE FROM run_holders WHERE run_id = ?1", params![run_id])?;
    Ok(true)
}

impl super::Store {
    /// Runs that died mid-way, marked aborted. One process runs at a time on SQLite (the run
    /// lease), so every older run still `running` died; on a shared state only those whose
    /// process stopped beating `silent_for` ago (the lease timeout) did, and this run starts
    /// beating as `holder`.
    ///
    /// # Errors
    /// When the state cannot be written.
    pub fn abort_dead_runs(
        &self,
        current: i64,
        holder: &str,
        silent_for: Duration,
    ) -> anyhow::Result<usize> {
        if !self.shares_work() {
            return self.abort_stale_runs(current);
        }
        let now = super::now();
        let since = now - chrono::Duration::from_std(silent_for).unwrap_or(chrono::Duration::MAX);
        self.transaction(|tx| {
            beat(&**tx, current, holder, now)?;
            abort_silent_runs(&**tx, current, since, now)
        })
    }

    /// Forget a run that did nothing (see [`forget_run`]); false when it was kept.
    ///
    /// # Errors
    /// When the state cannot be written.
    pub fn forget_run(&self, run_id: i64) -> anyhow::Result<bool> {
        self.transaction(|tx| forget_run(&**tx, run_id))
    }

    /// On a shared state, record that `holder`'s run `run_id` is making progress.
    ///
    /// # Errors
    /// When the state cannot be written.
    pub fn beat_run(&self, run_id: i64, holder: &str) -> anyhow::Result<()> {
        self.transaction(|tx| beat(&**tx, run_id, holder, super::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::Conn;

    #[test]
    fn an_outbox_claim_outlives_one_delivery_and_no_more() {
        let secs = Duration::from_secs;
        // The defaults: 30 s SMTP timeout, 10 s lock timeout.
        assert_eq!(
            outbox_claim_ttl(secs(30), secs(10)),
            DEFAULT_OUTBOX_CLAIM_TTL
        );
        assert_eq!(DEFAULT_OUTBOX_CLAIM_TTL, secs(70));
        for (delivery, lock) in [(0, 1), (5, 2), (30, 10), (600, 60)] {
            let ttl = outbox_claim_ttl(secs(delivery), secs(lock));
            assert!(ttl > secs(delivery + lock), "{delivery} {lock}");
            assert_eq!(ttl - secs(delivery + lock), OUTBOX_CLAIM_MARGIN);
        }
        assert_eq!(outbox_claim_ttl(Duration::MAX, secs(1)), Duration::MAX);
    }
    use crate::store::{NewEmail, Store};

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::seconds(s)
    }

    fn email(reason: &str) -> NewEmail {
        NewEmail {
            dedupe_key: "k".into(),
            server: "s".into(),
            reason: reason.into(),
            recipients: vec!["o@example.com".into()],
            cc: Vec::new(),
            subject: "subject".into(),
            text: "text".into(),
            html: String::new(),
        }
    }

    /// A state in `dir` with one due email; its id.
    fn with_one_email(dir: &std::path::Path) -> (Store, i64) {
        let store = crate::store::testing::open(dir);
        store
            .transaction(|tx| Store::enqueue_email(tx, &email("license-review"), None))
            .unwrap();
        let id = store.due_emails().unwrap()[0].id;
        (store, id)
    }

    fn result(db: &Conn, id: i64) -> String {
        db.query_row("SELECT result FROM runs WHERE id = ?1", params![id], |r| {
            r.get(0)
        })
        .unwrap()
    }

    crate::store::testing::on_both_backends! {
        fn only_runs_whose_process_stopped_beating_are_aborted() {
            let dir = tempfile::tempdir().unwrap();
            let store = crate::store::testing::open(dir.path());
            let ids: Vec<i64> = (0..5)
                .map(|_| store.start_run("schedule", false).unwrap())
                .collect();
            let db = crate::store::testing::conn(dir.path());
            db.execute("UPDATE runs SET started_at = ?1", params![ts(at(0))])
                .unwrap();
            // ids[4] started just now, on another replica, and has not beaten yet.
            db.execute(
                "UPDATE runs SET started_at = ?2 WHERE id = ?1",
                params![ids[4], ts(at(100))],
            )
            .unwrap();
            beat(&db, ids[1], "replica-b", at(100)).unwrap();
            beat(&db, ids[2], "replica-c", at(10)).unwrap();
            beat(&db, ids[2], "replica-c", at(20)).unwrap();
            let n = abort_silent_runs(&db, ids[3], at(50), at(101)).unwrap();
            assert_eq!(n, 2);
            let results: Vec<String> = ids.iter().map(|id| result(&db, *id)).collect();
            assert_eq!(
                results,
                ["aborted", "running", "aborted", "running", "running"]
            );
        }

        fn a_run_that_did_nothing_is_forgotten_whole_unless_something_names_it() {
            let dir = tempfile::tempdir().unwrap();
            let store = crate::store::testing::open(dir.path());
            let count = |sql: &str, id: i64| -> i64 {
                let db = crate::store::testing::conn(dir.path());
                db.query_row(sql, params![id], |r| r.get(0)).unwrap()
            };
            let traces = |id: i64| {
                [
                    count("SELECT COUNT(*) FROM runs WHERE id = ?1", id),
                    count("SELECT COUNT(*) FROM run_servers WHERE run_id = ?1", id),
                    count("SELECT COUNT(*) FROM run_holders WHERE run_id = ?1", id),
                ]
            };
            let started = |store: &Store| {
                let id = store.start_run("schedule", false).unwrap();
                store
                    .put_run_server(id, 0, "s", "skipped", "{}")
                    .unwrap();
                store.beat_run(id, "replica-a").unwrap();
                id
            };
            let idle = started(&store);
            assert_eq!(traces(idle), [1, 1, 1]);
            assert!(store.forget_run(idle).unwrap());
            assert_eq!(traces(idle), [0, 0, 0]);
            // A run another replica already marked aborted (it stopped beating) stays as marked.
            let aborted = started(&store);
            store.finish_run(aborted, "aborted", "{}").unwrap();
            assert!(!store.forget_run(aborted).unwrap());
            assert_eq!(traces(aborted), [1, 1, 1]);
            // An email that names the run keeps it.
            let mailed = started(&store);
            store
                .transaction(|tx| Store::enqueue_email(tx, &email("review-reminder"), Some(mailed)))
                .unwrap();
            assert!(!store.forget_run(mailed).unwrap());
            assert_eq!(traces(mailed), [1, 1, 1]);
        }

        fn a_claim_on_an_email_lasts_one_delivery_and_its_record() {
            let dir = tempfile::tempdir().unwrap();
            let (store, id) = with_one_email(dir.path());
            // A 5 s SMTP timeout and a 2 s lock wait.
            store.set_outbox_delivery(Duration::from_secs(5), Duration::from_secs(2));
            let before = crate::store::now();
            assert!(store.mark_sending(id).unwrap());
            let after = crate::store::now();
            let db = crate::store::testing::conn(dir.path());
            let expires: String = db
                .query_row(
                    "SELECT expires_at FROM outbox_claims WHERE outbox_id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .unwrap();
            let expires = crate::store::parse_ts(&expires).unwrap();
            let ttl = if store.shares_work() {
                Duration::from_secs(5 + 2) + OUTBOX_CLAIM_MARGIN
            } else {
                // One process drains a SQLite state: a crashed sender's row is retried at once.
                Duration::ZERO
            };
            let ttl = chrono::Duration::from_std(ttl).unwrap();
            // Timestamps are kept to the millisecond.
            let before = before - chrono::Duration::milliseconds(1);
            assert!(
                before + ttl <= expires && expires <= after + ttl,
                "{before} + {ttl} <= {expires} <= {after} + {ttl}"
            );
        }

        fn an_email_has_one_sender_until_its_claim_lapses() {
            let dir = tempfile::tempdir().unwrap();
            let (store, id) = with_one_email(dir.path());
            let db = crate::store::testing::conn(dir.path());
            let ttl = Duration::from_secs(60);
            assert!(claim_email(&db, id, "a", ttl, at(0)).unwrap());
            assert!(
                !claim_email(&db, id, "b", ttl, at(30)).unwrap(),
                "a holds it"
            );
            // a's process died mid-send: b retries it once the claim lapses.
            assert!(claim_email(&db, id, "b", ttl, at(61)).unwrap());
            let attempts: i64 = db
                .query_row(
                    "SELECT attempts FROM outbox WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(attempts, 2);
            let unclaimed = format!("SELECT COUNT(*) FROM outbox WHERE {UNCLAIMED}");
            let free = |t| -> i64 {
                db.query_row(&unclaimed, params![ts(t)], |r| r.get(0))
                    .unwrap()
            };
            assert_eq!(free(at(62)), 0);
            store.mark_sent(id).unwrap();
            unclaim_email(&db, id).unwrap();
            assert_eq!(free(at(62)), 1);
            assert!(
                !claim_email(&db, id, "a", ttl, at(63)).unwrap(),
                "sent already"
            );
        }
    }
}
