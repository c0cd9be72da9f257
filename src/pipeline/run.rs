//! The run: the lease, which servers run and how many at once, one [`ServerJob`] per server, the
//! events, and the run's bookkeeping (its row, each server's full report, reminders, the outbox
//! drain, the summary). A scheduled run that found every server synced by another replica is
//! forgotten at its end rather than recorded ([`did_nothing`]).
//!
//! The run is async (it waits on permits, timers and SMTP); each server's sync is blocking work
//! on tokio's blocking pool, and every store call made here goes through [`crate::store::Store::blocking`]
//! (see [`crate::store::Store`]), so a locked state database never stalls a runtime worker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use super::advisory_lookup::Fleet;
use super::stages::record::record_failure;
use super::{SyncMode, now_str, outbox, reminders, sync_server};
use crate::config::ServerConfig;
use crate::deps::Deps;
use crate::events::Event;
use crate::report::{RunReport, ServerReport, ServerSummary, Status, Trigger};
use crate::store::LeaseHolder;
use crate::store::claims::Fenced;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Only these servers (all enabled ones when empty).
    pub servers: Vec<String>,
    pub dry_run: bool,
    /// Read every mirror and forge even where upstream is quiet (see [`super::stages::quiet`]).
    pub full: bool,
    pub trigger: Trigger,
    /// On a state shared with other processes, leave alone the servers whose sync (by anyone)
    /// ended at or after this moment: a scheduled run's fire time, so replicas that fire
    /// together sync each server once. None: sync every selected server not claimed elsewhere.
    pub fresh_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// Why a run did not happen (or stopped); a failed server is not one of these.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("another run holds the lease ({} since {}, until {}); try again later", .0.holder, .0.acquired_at, .0.expires_at)]
    Busy(LeaseHolder),
    #[error("unknown server `{0}` (not in the config)")]
    UnknownServer(String),
    /// Another process kept the state database locked past the busy timeout before this run
    /// took the lease: nothing was done.
    #[error(transparent)]
    StateLocked(anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Run one sync: under the run lease on SQLite; on a state shared with other processes
/// (PostgreSQL), with no run lease, each server claimed on its own (see [`super::claims`]).
pub async fn run(deps: &Deps, opts: &RunOptions) -> Result<RunReport, RunError> {
    for name in &opts.servers {
        if deps.config.server(name).is_none() {
            return Err(RunError::UnknownServer(name.clone()));
        }
    }
    let holder = format!(
        "{}:{}:{}",
        crate::store::shared::hostname(),
        std::process::id(),
        opts.trigger
    );
    if deps.store.shares_work() {
        // Each process's own budget: replicas do not share a rate-limit clock.
        deps.http
            .wait_budget()
            .reset(deps.config.service.max_rate_limit_wait);
        return run_leased(deps, opts, &holder).await;
    }
    crate::failpoint::hit("before-lease");
    take_lease(deps, &holder).await?;
    crate::failpoint::hit("after-lease");
    // Under the lease, one run at a time: its rate-limit waiting starts from the whole budget.
    deps.http
        .wait_budget()
        .reset(deps.config.service.max_rate_limit_wait);
    let result = run_leased(deps, opts, &holder).await;
    crate::failpoint::hit("before-release-lease");
    let released = {
        let holder = holder.clone();
        deps.store.blocking(move |s| s.release_lease(&holder)).await
    };
    if let Err(e) = released {
        tracing::warn!(error = %format!("{e:#}"), "could not release the run lease; it expires by itself");
    }
    result
}

/// Take the run lease for `holder`, or take it over from a crashed holder on this host.
async fn take_lease(deps: &Deps, holder: &str) -> Result<(), RunError> {
    let ttl = deps.config.state.lease_timeout;
    let before_start = |e: anyhow::Error| {
        if crate::store::is_locked(&e) {
            RunError::StateLocked(e)
        } else {
            RunError::Other(e)
        }
    };
    let ours = holder.to_string();
    let acquired = deps
        .store
        .blocking(move |s| s.acquire_lease(&ours, ttl))
        .await
        .map_err(before_start)?;
    let Err(busy) = acquired else {
        return Ok(());
    };
    // A holder on this host whose process is gone crashed: take over now instead of waiting
    // for the lease to expire.
    if !holder_is_dead(&busy.holder) {
        return Err(RunError::Busy(busy));
    }
    let (previous, ours) = (busy.holder.clone(), holder.to_string());
    let taken = deps
        .store
        .blocking(move |s| s.take_over_lease(&previous, &ours, ttl))
        .await
        .map_err(before_start)?;
    if !taken {
        return Err(RunError::Busy(busy));
    }
    tracing::warn!(previous = %busy.holder, "took over the run lease of a crashed run");
    Ok(())
}

/// Whether a lease holder (`host:pid:trigger`) is a process on this host that no longer exists.
fn holder_is_dead(holder: &str) -> bool {
    let mut parts = holder.splitn(3, ':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    host == crate::store::shared::hostname()
        && pid.parse::<u32>().is_ok_and(|pid| {
            pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        })
}

async fn run_leased(deps: &Deps, opts: &RunOptions, holder: &str) -> Result<RunReport, RunError> {
    let started_at = now_str();
    let (trigger, dry_run) = (opts.trigger, opts.dry_run);
    let run_id = deps
        .store
        .blocking(move |s| s.start_run(trigger.as_str(), dry_run))
        .await?;
    crate::failpoint::hit("run-started");
    // Under the lease any other "running" run died (a crash or a kill); on a shared state,
    // any whose process stopped beating: mark it.
    let (ours, silent_for) = (holder.to_string(), deps.config.state.lease_timeout);
    match deps
        .store
        .blocking(move |s| s.abort_dead_runs(run_id, &ours, silent_for))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::warn!(runs = n, "marked runs that died mid-way as aborted"),
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not mark dead runs"),
    }
    let span = tracing::info_span!("run", run_id, trigger = %opts.trigger, dry_run = opts.dry_run);
    async {
        tracing::info!("run started");
        let run_started = Instant::now();
        let summaries = sync_servers(deps, opts, run_id, holder).await;
        finish(deps, opts, run_id, started_at, summaries, run_started).await
    }
    .instrument(span)
    .await
}

/// The servers this run covers, in config order.
fn selected(deps: &Deps, opts: &RunOptions) -> Vec<ServerConfig> {
    deps.config
        .servers
        .iter()
        .filter(|s| {
            if opts.servers.is_empty() {
                s.enabled
            } else {
                opts.servers.contains(&s.name)
            }
        })
        .cloned()
        .collect()
}

/// Sync every selected server, at most `concurrency` at once and `[service]
/// per-host-concurrency` `git` per upstream host. Taken as they finish, so one slow server holds back
/// neither the others' events nor their memory: each full report goes to the state and only its
/// summary stays. Returns the summaries in config order.
async fn sync_servers(
    deps: &Deps,
    opts: &RunOptions,
    run_id: i64,
    holder: &str,
) -> Vec<ServerSummary> {
    let servers = selected(deps, opts);
    let fleet = advisory_lookup(deps, &servers, opts.dry_run).await;
    deps.events.publish(Event::RunStarted {
        run_id,
        trigger: opts.trigger.to_string(),
        dry_run: opts.dry_run,
        servers: servers.len(),
    });
    let permits = Arc::new(Semaphore::new(deps.concurrency.max(1)));
    // One upstream host serves many servers: cap how many hit it at once.
    let per_host = deps.config.service.per_host_concurrency.git.max(1);
    let mut hosts: std::collections::HashMap<String, Arc<Semaphore>> =
        std::collections::HashMap::new();
    // Scheduled runs spread their servers' starts over [schedule] jitter.
    let jitter = if opts.trigger == Trigger::Schedule {
        deps.config.schedule.jitter
    } else {
        Duration::ZERO
    };
    let mode = SyncMode {
        dry_run: opts.dry_run,
        full: opts.full,
    };
    let mut tasks = futures_util::stream::FuturesUnordered::new();
    for (seq, server) in servers.into_iter().enumerate() {
        let host_permits = hosts
            .entry(upstream_host(&server.upstream))
            .or_insert_with(|| Arc::new(Semaphore::new(per_host)))
            .clone();
        let name = server.name.clone();
        let job = ServerJob {
            deps: deps.clone(),
            holder: holder.to_string(),
            fresh_since: opts.fresh_since,
            span: tracing::info_span!("server", name = %server.name),
            server,
            run_id,
            mode,
            fleet: Arc::clone(&fleet),
            jitter,
            permits: Arc::clone(&permits),
            host_permits,
        };
        let handle = tokio::spawn(job.run());
        tasks.push(async move { (seq, name, handle.await) });
    }
    let mut summaries: Vec<(usize, ServerSummary)> = Vec::new();
    while let Some((seq, name, joined)) = tasks.next().await {
        let report = match joined {
            Ok(report) => report,
            Err(join) => panicked(deps, &name, run_id, mode, &join).await,
        };
        crate::failpoint::hit("after-server");
        let summary = keep(deps, run_id, seq, report, holder).await;
        publish_server(&deps.events, run_id, &summary);
        summaries.push((seq, summary));
    }
    summaries.sort_by_key(|(seq, _)| *seq);
    summaries.into_iter().map(|(_, s)| s).collect()
}

/// One server's turn in a run: it waits out its jitter and its permits, then syncs on a
/// blocking thread within `[service] server-timeout`. It never fails: a skip, a timeout or a
/// panic is a failed report (recorded like any failure).
struct ServerJob {
    deps: Deps,
    /// Who this process is, for claims on a shared state.
    holder: String,
    fresh_since: Option<chrono::DateTime<chrono::Utc>>,
    server: ServerConfig,
    run_id: i64,
    mode: SyncMode,
    fleet: Arc<Fleet>,
    jitter: Duration,
    permits: Arc<Semaphore>,
    host_permits: Arc<Semaphore>,
    span: tracing::Span,
}

impl ServerJob {
    async fn run(self) -> ServerReport {
        let delay = crate::jitter::delay(self.jitter, crate::jitter::random_u64());
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let _permit = self.permits.acquire_owned().await;
        let _host_permit = self.host_permits.acquire_owned().await;
        let name = self.server.name.clone();
        if self.deps.stop.is_cancelled() {
            return ServerReport::failed(&name, "not synced: upkeep is shutting down");
        }
        // The fetch stops by itself at the timeout (a dripping upstream included), at once
        // when the server is abandoned below, and when a shared state's claim on it is lost.
        let timeout = self.deps.config.service.server_timeout;
        let mut stop = crate::upstream::FetchStop::new();
        if let Some(deadline) = Instant::now().checked_add(timeout) {
            stop = stop.with_deadline(deadline);
        }
        let on_lost = stop.clone();
        let turn = super::claims::take(
            &self.deps,
            &name,
            &self.holder,
            self.fresh_since,
            move || on_lost.cancel(),
        )
        .await;
        let held = match turn {
            super::claims::Turn::Go(held) => held,
            super::claims::Turn::Skip(report) => return *report,
        };
        self.deps.events.publish(Event::ServerStarted {
            run_id: self.run_id,
            server: name.clone(),
        });
        let (deps, server, run_id, mode, span, fleet) = (
            self.deps.clone(),
            self.server,
            self.run_id,
            self.mode,
            self.span,
            self.fleet,
        );
        let fetch_stop = stop.clone();
        let work = tokio::task::spawn_blocking(move || {
            // Every write transaction of this sync checks the claim first; the claim is given
            // up here, when the sync really ends, even if the run abandoned it at the timeout.
            let fenced = held.as_ref().map(|h| Fenced::new(h.claim.clone()));
            let report =
                span.in_scope(|| sync_server(&deps, &server, run_id, mode, &fleet, fetch_stop));
            drop(fenced);
            if let Some(held) = held {
                held.release(!mode.dry_run);
            }
            report
        });
        match tokio::time::timeout(timeout, work).await {
            Ok(Ok(report)) => report,
            Ok(Err(join)) => panicked(&self.deps, &name, run_id, mode, &join).await,
            Err(_) => {
                // The blocking work cannot be killed: its fetch is cancelled here and the rest
                // finishes in the background, its decisions still whole transactions.
                stop.cancel();
                tracing::error!(server = %name, timeout_s = timeout.as_secs(), "server sync timed out; abandoned");
                let msg = format!(
                    "timed out after {}s ([service] server-timeout); abandoned",
                    timeout.as_secs()
                );
                // Recorded like any failure, so `status` and the failing alert see it.
                failed(&self.deps, &name, run_id, mode, msg).await
            }
        }
    }
}

/// The run's one advisory lookup for the fleet (blocking work, on the blocking pool), and the
/// batcher of the servers' follow-ups. Never fails the run: an unreachable service is a
/// warning and each server reports "unknown".
async fn advisory_lookup(deps: &Deps, servers: &[ServerConfig], dry_run: bool) -> Arc<Fleet> {
    let (d, s) = (deps.clone(), servers.to_vec());
    match tokio::task::spawn_blocking(move || Fleet::lookup(&d, &s, dry_run)).await {
        Ok(mut fleet) => {
            fleet.start_batcher(deps.config.advisories.batch_window);
            Arc::new(fleet)
        }
        Err(e) => {
            tracing::warn!(error = %e, "the advisory lookup stopped; advisories unknown this run");
            Arc::new(Fleet::disabled())
        }
    }
}

/// The report of a server whose sync panicked.
async fn panicked(
    deps: &Deps,
    name: &str,
    run_id: i64,
    mode: SyncMode,
    join: &tokio::task::JoinError,
) -> ServerReport {
    tracing::error!(server = %name, error = %join, "server sync panicked");
    let msg = format!("internal error while syncing: {join}");
    failed(deps, name, run_id, mode, msg).await
}

/// A failed report for a server the run gave up on, recorded (unless a dry run) like a failure
/// inside its sync.
async fn failed(deps: &Deps, name: &str, run_id: i64, mode: SyncMode, msg: String) -> ServerReport {
    let report = ServerReport::failed(name, &msg);
    if mode.dry_run {
        return report;
    }
    let (bookkeeping, name) = (deps.clone(), name.to_string());
    let mut recorded = report.clone();
    let result = deps
        .store
        .blocking(move |_| {
            record_failure(&bookkeeping, &name, run_id, &msg, &mut recorded);
            super::fleet::attach(&bookkeeping, run_id, false, &mut recorded);
            Ok(recorded)
        })
        .await;
    result.unwrap_or(report)
}

/// Keep a finished server's full report in the state and renew the run lease; returns what the
/// run keeps of it (its summary).
async fn keep(
    deps: &Deps,
    run_id: i64,
    seq: usize,
    report: ServerReport,
    holder: &str,
) -> ServerSummary {
    let mut summary = report.summary();
    let (holder, ttl) = (holder.to_string(), deps.config.state.lease_timeout);
    let kept = deps
        .store
        .blocking(move |s| {
            let stored = serde_json::to_string(&report)
                .map_err(anyhow::Error::from)
                .and_then(|json| {
                    s.put_run_server(run_id, seq, &report.name, report.status.as_str(), &json)
                });
            drop(report);
            let renewed = if s.shares_work() {
                s.beat_run(run_id, &holder)
            } else {
                s.renew_lease(&holder, ttl).map(|_| ())
            };
            if let Err(e) = renewed {
                tracing::warn!(error = %format!("{e:#}"), "could not renew the run lease");
            }
            Ok(stored)
        })
        .await
        .and_then(|stored| stored);
    if let Err(e) = kept {
        tracing::error!(server = %summary.name, error = %format!("{e:#}"), "could not keep the server's full report");
        summary.notes.push(
            "the full report (diff, PR body) could not be kept in the state; this is its summary"
                .into(),
        );
    }
    summary
}

/// The run's end: review reminders, the outbox drain, and the run's summary in the state.
async fn finish(
    deps: &Deps,
    opts: &RunOptions,
    run_id: i64,
    started_at: String,
    servers: Vec<ServerSummary>,
    run_started: Instant,
) -> Result<RunReport, RunError> {
    let reminders = if opts.dry_run {
        0
    } else {
        queue_reminders(deps, run_id).await
    };
    crate::failpoint::hit("before-drain");
    let emails = if opts.dry_run {
        Default::default()
    } else {
        let emails = outbox::drain(&deps.store, &deps.config.email).await;
        deps.events.publish(Event::EmailsSent {
            run_id,
            sent: emails.sent,
            retrying: emails.retrying,
            failed: emails.failed,
        });
        emails
    };
    let report = RunReport {
        run_id,
        trigger: opts.trigger,
        dry_run: opts.dry_run,
        started_at,
        finished_at: now_str(),
        servers,
        emails,
    };
    let duration_ms = || u64::try_from(run_started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if did_nothing(opts.trigger, &report.servers, reminders, &report.emails)
        && forget(deps, run_id).await
    {
        tracing::info!(
            servers = report.servers.len(),
            "scheduled run had nothing to do: every server was synced by another process; not recorded"
        );
        deps.events.publish(Event::RunFinished {
            run_id,
            result: crate::events::NOTHING_TO_DO.to_string(),
            duration_ms: duration_ms(),
        });
        return Ok(report);
    }
    let result = if report.any_failed() { "failed" } else { "ok" };
    let json = serde_json::to_string(&report).unwrap_or_default();
    crate::failpoint::hit("before-finish-run");
    deps.store
        .blocking(move |s| s.finish_run(run_id, result, &json))
        .await?;
    prune_reports(deps, run_id).await;
    if !opts.dry_run {
        // The HTTP cache's age bound (`state_cache::MAX_AGE`); a failure is only logged.
        let pruned = deps
            .store
            .blocking(|s| {
                super::state_cache::prune(s);
                Ok(())
            })
            .await;
        if let Err(e) = pruned {
            tracing::warn!(error = %format!("{e:#}"), "could not prune the HTTP cache");
        }
    }
    tracing::info!(result, "run finished");
    deps.events.publish(Event::RunFinished {
        run_id,
        result: result.to_string(),
        duration_ms: duration_ms(),
    });
    Ok(report)
}

/// Whether a finished run is not worth a record: a scheduled run (a fire time, which every
/// replica answers) on which every server was left to another process, claimed there or
/// synced since the fire time, and that queued no reminder and handed no email to a
/// transport. What it did is already in the records of the runs that synced the servers; a
/// row per replica per tick would bury them in `upkeep runs`. Runs someone asked for
/// (`sync --now`, `POST /sync`, webhooks) are always recorded, as is a run with no servers.
fn did_nothing(
    trigger: Trigger,
    servers: &[ServerSummary],
    reminders: usize,
    emails: &crate::report::EmailSummary,
) -> bool {
    trigger == Trigger::Schedule
        && !servers.is_empty()
        && servers.iter().all(|s| s.status == Status::Skipped)
        && reminders == 0
        && emails.sent + emails.retrying + emails.failed == 0
}

/// Delete the run's row (see [`crate::store::shared::forget_run`]); false when it was kept.
async fn forget(deps: &Deps, run_id: i64) -> bool {
    match deps.store.blocking(move |s| s.forget_run(run_id)).await {
        Ok(forgotten) => forgotten,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "could not forget a run that did nothing; recording it");
            false
        }
    }
}

async fn queue_reminders(deps: &Deps, run_id: i64) -> usize {
    let config = Arc::clone(&deps.config);
    let queued = deps
        .store
        .blocking(move |s| reminders::enqueue_due(s, &config, run_id))
        .await;
    match queued {
        Ok(0) => 0,
        Ok(n) => {
            tracing::info!(reminders = n, "queued review reminders");
            n
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "could not queue review reminders");
            0
        }
    }
}

/// Delete full reports past `[state] report-retention` (the runs' summaries stay).
async fn prune_reports(deps: &Deps, run_id: i64) {
    let retention = deps.config.state.report_retention;
    if retention.is_zero() {
        return;
    }
    match deps
        .store
        .blocking(move |s| s.prune_run_reports(retention, run_id))
        .await
    {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(
                reports = n,
                "deleted per-server reports past [state] report-retention"
            );
        }
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not delete old run reports"),
    }
}

fn publish_server(bus: &crate::events::Bus, run_id: i64, r: &ServerSummary) {
    if let Some(pr) = &r.pull_request {
        let action = serde_json::to_value(pr.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        bus.publish(Event::PrAction {
            run_id,
            server: r.name.clone(),
            action,
            url: pr.url.clone(),
        });
    }
    if r.emails_queued > 0 {
        bus.publish(Event::EmailQueued {
            run_id,
            server: r.name.clone(),
            count: r.emails_queued,
        });
    }
    bus.publish(Event::ServerFinished {
        run_id,
        server: r.name.clone(),
        status: r.status.as_str().to_string(),
        latest: r.latest.as_ref().map(|l| l.version.clone()),
        license_verdict: r.license.as_ref().map(|l| l.verdict.clone()),
        error: r.error.clone(),
        duration_ms: r.duration_ms,
    });
}

/// The host part of an upstream URL, for per-host limits ("local" for paths).
fn upstream_host(url: &str) -> String {
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split('/').next().unwrap_or(rest);
        return authority
            .rsplit('@')
            .next()
            .unwrap_or(authority)
            .to_ascii_lowercase();
    }
    // scp-like ssh: git@host:owner/repo
    match url.split_once(':') {
        Some((user_host, _)) if !user_host.contains('/') && url.contains('@') => user_host
            .rsplit('@')
            .next()
            .unwrap_or(user_host)
            .to_ascii_lowercase(),
        _ => "local".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::EmailSummary;

    fn summary(status: Status) -> ServerSummary {
        let mut r = ServerReport::skipped("s", "in progress on another replica");
        r.status = status;
        r.summary()
    }

    #[test]
    fn only_a_scheduled_run_left_wholly_to_others_goes_unrecorded() {
        let skipped = vec![summary(Status::Skipped), summary(Status::Skipped)];
        let none = EmailSummary::default();
        assert!(did_nothing(Trigger::Schedule, &skipped, 0, &none));
        // Someone asked for it.
        for trigger in [Trigger::Manual, Trigger::Api, Trigger::Webhook] {
            assert!(!did_nothing(trigger, &skipped, 0, &none), "{trigger}");
        }
        // One server synced, failed or up to date here.
        for other in [
            Status::UpToDate,
            Status::Failed,
            Status::PrOpened,
            Status::Held,
        ] {
            let mixed = vec![summary(Status::Skipped), summary(other)];
            assert!(
                !did_nothing(Trigger::Schedule, &mixed, 0, &none),
                "{other:?}"
            );
        }
        // It queued a reminder, or its drain handed an email to a transport.
        assert!(!did_nothing(Trigger::Schedule, &skipped, 1, &none));
        for emails in [
            EmailSummary {
                sent: 1,
                ..EmailSummary::default()
            },
            EmailSummary {
                retrying: 1,
                ..EmailSummary::default()
            },
            EmailSummary {
                failed: 1,
                ..EmailSummary::default()
            },
        ] {
            assert!(!did_nothing(Trigger::Schedule, &skipped, 0, &emails));
        }
        // No servers at all: recorded as before.
        assert!(!did_nothing(Trigger::Schedule, &[], 0, &none));
    }

    #[test]
    fn upstream_hosts_for_per_host_limits() {
        for (url, host) in [
            ("https://github.com/a/b.git", "github.com"),
            ("https://user:tok@GitHub.com/a/b", "github.com"),
            ("git@github.com:a/b.git", "github.com"),
            ("ssh://git@ssh.dev.azure.com/v3/o/p/r", "ssh.dev.azure.com"),
            ("git://127.0.0.1:9418/r.git", "127.0.0.1:9418"),
            ("/srv/git/r.git", "local"),
            ("file:///srv/git/r.git", ""),
        ] {
            assert_eq!(super::upstream_host(url), host, "{url}");
        }
    }
}
