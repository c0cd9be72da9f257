//! The service's run control: the current deps (swapped on config reload), the runs in flight
//! (tracked so shutdown can wait for them), the metrics fed by the event bus, and readiness.
//!
//! Every run of `serve` (scheduled, `POST /sync`, webhook) starts here, under the same run lease
//! as `sync --now` (the pipeline takes it), so two runs never overlap, in or across processes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::ValidConfig;
use crate::deps::Deps;
use crate::events::Event;
use crate::metrics::Metrics;
use crate::pipeline::{self, RunError, RunOptions};
use crate::store::{LeaseHolder, Store, Target};

use super::reload;

/// Why a run was not started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("a run is already in progress in this service")]
    InProgress,
    #[error("another process holds the run lease ({} since {})", .0.holder, .0.acquired_at)]
    LeaseHeld(LeaseHolder),
    #[error("the service is shutting down")]
    ShuttingDown,
    #[error("unknown server `{0}` (not in the config)")]
    UnknownServer(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// The run in flight in this process, for readiness: it is stuck when it made no progress
/// (a server finished) for longer than the lease timeout, i.e. its lease would have lapsed.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    run_id: i64,
    last_progress: Instant,
}

/// Shared by the scheduler loop and the HTTP handlers.
pub struct Control {
    config_path: PathBuf,
    deps: RwLock<Deps>,
    tracker: TaskTracker,
    /// Runs started and not finished (including those waiting out their jitter).
    active: AtomicUsize,
    in_flight: Mutex<Option<InFlight>>,
    metrics: Metrics,
    /// Cancelled when the HTTP server should close its long-lived streams.
    http_shutdown: CancellationToken,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("config_path", &self.config_path)
            .field("active", &self.active.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl Control {
    /// Wrap `deps` and start feeding the metrics from its event bus. Call inside a tokio runtime.
    pub fn new(config_path: PathBuf, deps: Deps) -> Arc<Control> {
        let control = Arc::new(Control {
            config_path,
            deps: RwLock::new(deps),
            tracker: TaskTracker::new(),
            active: AtomicUsize::new(0),
            in_flight: Mutex::new(None),
            metrics: Metrics::new(),
            http_shutdown: CancellationToken::new(),
        });
        let mut events = control.deps().events.subscribe();
        // A weak reference: the consumer must not keep the control alive after serve returns.
        let weak = Arc::downgrade(&control);
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => match weak.upgrade() {
                        Some(control) => control.observe(&event),
                        None => break,
                    },
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "event consumer lagged; metrics missed events");
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        control
    }

    fn observe(&self, event: &Event) {
        self.metrics.observe(event);
        let mut in_flight = lock(&self.in_flight);
        match event {
            Event::RunStarted { run_id, .. } => {
                *in_flight = Some(InFlight {
                    run_id: *run_id,
                    last_progress: Instant::now(),
                });
            }
            Event::ServerStarted { run_id, .. } | Event::ServerFinished { run_id, .. } => {
                if let Some(f) = in_flight.as_mut().filter(|f| f.run_id == *run_id) {
                    f.last_progress = Instant::now();
                }
            }
            Event::RunFinished { run_id, .. } => {
                if in_flight.is_some_and(|f| f.run_id == *run_id) {
                    *in_flight = None;
                }
            }
            Event::PrAction { .. }
            | Event::EmailQueued { .. }
            | Event::EmailsSent { .. }
            | Event::ClaimTakenOver { .. }
            | Event::ClaimLost { .. } => {}
        }
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The deps runs start with now (cheap: a handful of `Arc`s).
    pub fn deps(&self) -> Deps {
        self.deps
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn config(&self) -> Arc<ValidConfig> {
        self.deps().config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Cancelled when long-lived HTTP responses (`/events`) should end.
    pub fn http_shutdown(&self) -> &CancellationToken {
        &self.http_shutdown
    }

    /// True when a run is in flight (or waiting out its jitter) in this process.
    pub fn busy(&self) -> bool {
        self.active.load(Ordering::SeqCst) > 0
    }

    /// The run in flight that made no progress for longer than the lease timeout, if any.
    pub fn stuck_run(&self) -> Option<(i64, Duration)> {
        let timeout = self.config().state.lease_timeout;
        let f = (*lock(&self.in_flight))?;
        let idle = f.last_progress.elapsed();
        (idle > timeout).then_some((f.run_id, idle))
    }

    /// Swap in deps built from a new config. The event bus and the stop token stay the same,
    /// so subscribers keep their streams and a shutdown in progress still reaches new runs.
    pub fn replace_deps(&self, mut deps: Deps) {
        let mut current = self
            .deps
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        deps.events = current.events.clone();
        deps.stop = current.stop.clone();
        *current = deps;
    }

    /// Reload the config file: a valid one replaces the deps for the next runs; an invalid one
    /// is logged (every diagnostic) and the old config stays; one naming another state
    /// database is refused (see [`reload`]). Counted in `/metrics` by outcome.
    pub async fn reload(&self) -> reload::Outcome {
        let outcome = self.reload_config().await;
        self.metrics
            .record_reload(outcome.as_str(), outcome.applied());
        outcome
    }

    async fn reload_config(&self) -> reload::Outcome {
        let path = self.config_path.clone();
        let config = match crate::config::load(&path) {
            Ok(c) => c,
            Err(errors) => {
                for d in &errors.0 {
                    tracing::error!(diagnostic = %d, code = d.code, "config reload: invalid config");
                }
                tracing::error!(
                    file = %path.display(),
                    problems = errors.0.len(),
                    "config reload failed; keeping the old config"
                );
                return reload::Outcome::Invalid;
            }
        };
        let current = self.deps();
        let old_listen = current.config.service.listen;
        if config.service.listen != old_listen {
            tracing::warn!(
                old = %old_listen,
                new = %config.service.listen,
                "a new listen address takes effect after a restart"
            );
        }
        // Which database the new config names, read (its URL too) before anything is opened:
        // a refused reload must not touch, let alone migrate, the other database.
        let state = config.state.clone();
        let named = tokio::task::spawn_blocking(move || Target::resolve(&state))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
        let named = match named {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "config reload failed: cannot tell which database [state] names; keeping the old config");
                return reload::Outcome::Failed;
            }
        };
        if refused(&current, &config.state, &named) {
            return reload::Outcome::Refused;
        }
        match Deps::open(config).await {
            // The URL's file may have been rewritten between that check and the open: the
            // store says what it connected to.
            Ok(deps) if refused(&current, &deps.config.state, deps.store.target()) => {
                reload::Outcome::Refused
            }
            Ok(deps) => {
                let servers = deps.config.servers.len();
                let schedule = deps.config.schedule.expression.clone();
                self.replace_deps(deps);
                tracing::info!(file = %path.display(), servers, schedule = %schedule, "config reloaded");
                reload::Outcome::Applied
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "config reload failed; keeping the old config");
                reload::Outcome::Failed
            }
        }
    }

    /// Start a run in the background after `delay` (its jitter), unless one is in flight here
    /// or another process holds the lease. A run that loses the lease race later is logged
    /// and skipped by [`Control::execute`].
    pub async fn try_start(
        self: &Arc<Self>,
        opts: RunOptions,
        delay: Duration,
    ) -> Result<(), StartError> {
        let deps = self.deps();
        if deps.stop.is_cancelled() || self.tracker.is_closed() {
            return Err(StartError::ShuttingDown);
        }
        for name in &opts.servers {
            if deps.config.server(name).is_none() {
                return Err(StartError::UnknownServer(name.clone()));
            }
        }
        if self
            .active
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(StartError::InProgress);
        }
        let guard = ActiveGuard(Arc::clone(self));
        // A shared state has no run lease: servers are claimed one by one during the run.
        if !deps.store.shares_work()
            && let Some(holder) = deps.store.blocking(Store::lease_holder).await?
        {
            return Err(StartError::LeaseHeld(holder));
        }
        let control = Arc::clone(self);
        self.tracker.spawn(async move {
            let _guard = guard;
            control.execute(&opts, delay).await;
        });
        Ok(())
    }

    /// Start a scheduled run: like [`Control::try_start`], but a busy service or lease is an
    /// ordinary skip (logged), since the next fire time comes soon enough. `fire_time` is when
    /// it was due: on a shared state, a server another replica synced since is left alone.
    pub async fn start_scheduled(
        self: &Arc<Self>,
        servers: Vec<String>,
        delay: Duration,
        fire_time: chrono::DateTime<chrono::Utc>,
    ) {
        let opts = RunOptions {
            servers,
            dry_run: false,
            full: false,
            trigger: crate::report::Trigger::Schedule,
            fresh_since: Some(fire_time),
        };
        match self.try_start(opts, delay).await {
            Ok(()) => {}
            Err(StartError::InProgress) => {
                self.metrics.record_skipped("busy");
                tracing::warn!("scheduled run skipped: the previous run is still in progress");
            }
            Err(StartError::LeaseHeld(h)) => {
                self.metrics.record_skipped("busy");
                tracing::warn!(holder = %h.holder, since = %h.acquired_at, "scheduled run skipped: another run holds the lease");
            }
            Err(StartError::ShuttingDown) => {}
            Err(e) => tracing::error!(error = %e, "scheduled run not started"),
        }
    }

    async fn execute(&self, opts: &RunOptions, delay: Duration) {
        let deps = self.deps();
        if !delay.is_zero() {
            tracing::debug!(delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), trigger = %opts.trigger, "run delayed by jitter");
            tokio::select! {
                () = deps.stop.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
        }
        match pipeline::run(&deps, opts).await {
            Ok(report) => tracing::info!(
                run_id = report.run_id,
                trigger = %opts.trigger,
                servers = report.servers.len(),
                failed = report.any_failed(),
                "run finished"
            ),
            Err(RunError::Busy(h)) => {
                self.metrics.record_skipped("busy");
                tracing::warn!(holder = %h.holder, trigger = %opts.trigger, "run skipped: another run holds the lease");
            }
            Err(RunError::StateLocked(e)) => {
                self.metrics.record_skipped("state-locked");
                tracing::warn!(error = %format!("{e:#}"), trigger = %opts.trigger, "run skipped: another process kept the state database locked past [state] busy-timeout; nothing was done");
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), trigger = %opts.trigger, "run failed")
            }
        }
    }

    /// Shutdown: stop taking work, let servers not yet started be skipped, and wait up to
    /// `grace` for the run in flight. Returns false when the grace period ran out.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        let deps = self.deps();
        deps.stop.cancel();
        self.tracker.close();
        let finished = tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok();
        if !finished {
            tracing::warn!(
                grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
                "grace period over; abandoning the servers still in flight"
            );
            // The servers still running are abandoned mid-way; each server's decision is one
            // transaction, so the state holds either all of it or none. Free the lease now
            // rather than making the next run wait out its timeout.
            match deps.store.blocking(Store::lease_holder).await {
                Ok(Some(h)) if lease_is_ours(&h.holder) => {
                    let holder = h.holder.clone();
                    let released = deps.store.blocking(move |s| s.release_lease(&holder)).await;
                    if let Err(e) = released {
                        tracing::warn!(error = %format!("{e:#}"), "could not release the run lease");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not read the run lease"),
            }
        }
        self.http_shutdown.cancel();
        finished
    }
}

/// Whether a reload to `new` (naming `named`) would switch the database `current` runs on;
/// logged as the refusal when it would. Only the key is named, never its value, and the
/// database the service keeps is shown as the store shows it (no credentials).
fn refused(current: &Deps, new: &crate::config::StateConfig, named: &Target) -> bool {
    let Some(change) =
        reload::database_change(&current.config.state, current.store.target(), new, named)
    else {
        return false;
    };
    tracing::error!(
        key = %format!("[state] {}", change.key),
        running_on = %current.store.location(),
        "config reload refused: [state] {} {}; a running service never switches its state \
         database; keeping the old config (restart upkeep serve to use the new database)",
        change.key,
        change.what
    );
    true
}

/// The pipeline names lease holders `host:pid:trigger`; ours carry this process's id.
fn lease_is_ours(holder: &str) -> bool {
    let mut parts = holder.rsplitn(3, ':');
    let _trigger = parts.next();
    parts.next() == Some(std::process::id().to_string().as_str())
}

/// Marks a run active from its acceptance until its task ends (or it is refused).
struct ActiveGuard(Arc<Control>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain data: a panic while holding it leaves nothing half-updated worth refusing.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_holder_of_this_process_is_recognised() {
        let pid = std::process::id();
        assert!(lease_is_ours(&format!("host:{pid}:schedule")));
        assert!(lease_is_ours(&format!("a:b:{pid}:webhook")));
        assert!(!lease_is_ours(&format!("host:{}:schedule", pid + 1)));
        assert!(!lease_is_ours("garbage"));
    }
}
