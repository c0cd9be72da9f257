//! One sync run: for every selected server, fetch the upstream, find the newest release, judge
//! the change against the pinned release, and open/update the rebuild PR or hold it; then send
//! the emails the run queued. The only module that knows every adapter.
//!
//! - [`run`] (`run.rs`): the run: the lease, concurrency, one job per server, events, bookkeeping.
//! - [`sync_server`] (below): one server's run, as a list of named [`stages`], one file each.
//! - [`plan`]: the pure decisions (which release to propose, which PR action to take).
//! - [`outbox`], [`reminders`]: the state side of notifications, run at the end of every run.
//!
//! Each server runs on a blocking thread; a server that fails (or panics) is reported as failed
//! and never stops the others.

pub mod advisory_batcher;
pub mod advisory_lookup;
pub mod automerge;
pub mod chat;
pub mod checks;
pub mod claims;
pub mod decisions;
pub mod fleet;
pub mod outbox;
pub mod plan;
pub mod reminders;
mod run;
pub mod stages;
pub mod state_cache;

use std::time::Instant;

use crate::config::ServerConfig;
use crate::deps::Deps;
use crate::forge::Identity;
use crate::report::ServerReport;
use advisory_lookup::Fleet;
use stages::{
    apply, commands, decide, fetch, judge, pin, propose, quiet, record, releases, security, trust,
};

pub use run::{RunError, RunOptions, run};

/// The identity of upkeep's commits; a commit by anyone else on the bot branch is a human's.
pub fn bot_identity() -> Identity {
    Identity {
        name: "upkeep".into(),
        email: "upkeep@users.noreply.invalid".into(),
    }
}

pub fn branch_name(server: &str) -> String {
    format!("upkeep/{server}")
}

/// How one server is synced.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncMode {
    /// Look, decide and report; change nothing anywhere.
    pub dry_run: bool,
    /// Read the mirror and the forge even when upstream is quiet.
    pub full: bool,
}

/// One server's run: who it is, how it runs, and what it reports. Every stage takes it, reads
/// what it needs (and the typed outputs of the stages before it), and adds its findings to
/// `report`.
pub struct ServerRun<'a> {
    pub deps: &'a Deps,
    pub server: &'a ServerConfig,
    pub run_id: i64,
    pub mode: SyncMode,
    /// The run's advisory lookup (one for the fleet, made before the servers).
    pub fleet: &'a Fleet,
    /// This server's seat at the run's advisory batcher, held while it runs: the batcher sends
    /// a batch early only when every server holding one is waiting for it.
    pub seat: Option<advisory_batcher::Seat>,
    /// Stops the upstream fetch when the run abandons this server or its deadline passes.
    pub stop: crate::upstream::FetchStop,
    /// What this server's run found and did, as the run report shows it.
    pub report: ServerReport,
    /// Advisory notices the `security` stage left for after the stages ([`security::tell`]).
    pub owed: Option<security::Owed>,
}

/// Sync one server. Never returns an error: failures become a `failed` report (and are recorded).
/// `stop` ends its upstream fetch early (the run cancels it when it abandons the server).
pub fn sync_server(
    deps: &Deps,
    server: &ServerConfig,
    run_id: i64,
    mode: SyncMode,
    fleet: &Fleet,
    stop: crate::upstream::FetchStop,
) -> ServerReport {
    let start = Instant::now();
    let mut run = ServerRun {
        deps,
        server,
        run_id,
        mode,
        fleet,
        seat: fleet.seat(server),
        stop,
        report: ServerReport::new(&server.name),
        owed: None,
    };
    match run.stages() {
        Ok(Some(key)) if !mode.dry_run => record::quiet_mark(&run, &key),
        Ok(_) => {}
        Err(e) => record::failed(&mut run, &e),
    }
    if let Err(e) = security::tell(&mut run) {
        tracing::warn!(server = %server.name, error = %format!("{e:#}"), "could not queue the advisory notices");
        run.report.notes.push(format!(
            "advisory notices not queued (the next run will): {e:#}"
        ));
    }
    fleet::attach(deps, run_id, mode.dry_run, &mut run.report);
    let mut report = run.report;
    report.duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}

impl ServerRun<'_> {
    /// The stages, in order. Returns the quiet key to remember when later runs may replay this
    /// outcome (see [`stages::quiet`]).
    fn stages(&mut self) -> anyhow::Result<Option<String>> {
        // Decisions made on the PR change nothing upstream: read on every run, before the
        // quiet replay (and before an upstream that fails to fetch can stop the run).
        commands::sync(self)?;
        let upstream = fetch::fetch(self)?;
        let releases = releases::find(self, &upstream)?;
        let quiet_key = quiet::key_now(&upstream, &releases, self.server);
        if let Some(quiet) = quiet::replay(self, quiet_key.as_deref())? {
            // Advisories change without upstream changes: checked on the quiet path too.
            security::quiet_path(self, &upstream, &releases)?;
            // The open PR's pipeline answers without upstream moving: read on the quiet path too,
            // on the forge the quiet stage asked whether the PR is still open.
            checks::observe_quiet(self, quiet.forge.as_deref());
            // The mark keeps the time of the last full check, so the recheck still comes.
            return Ok(None);
        }
        releases::note_withheld(self, &releases)?;
        let mut mirror = pin::read(self, &upstream, &releases)?;
        let security = security::assess(self, &upstream, &mut mirror)?;
        let moved = trust::check(self, &upstream)?;
        fleet::note_behind(self, &upstream, &releases, &mirror, !moved.is_empty())?;
        if !moved.is_empty() {
            record::tag_moved(self, &mirror, &moved)?;
            automerge::on_moved_tag(self, mirror.forge.as_ref())?;
            return Ok(quiet_key);
        }
        if !mirror.newer {
            record::caught_up(self, &mirror)?;
            return Ok(quiet_key);
        }
        let judged = judge::judge(self, &upstream, &mirror, security)?;
        let proposal = propose::propose(self, &mirror, &judged, &releases)?;
        let decision = decide::decide(self, &mirror, &proposal)?;
        if self.mode.dry_run {
            decide::report_only(self, &proposal, &decision);
            automerge::report_planned(self, &proposal.auto_merge);
            return Ok(None);
        }
        let applied = apply::apply(self, &mirror, &proposal, &decision)?;
        let replayable = applied.replayable();
        record::record(self, &mirror, &judged, &proposal, &decision, applied)?;
        checks::observe(self, mirror.forge.as_ref());
        automerge::settle(self, mirror.forge.as_ref(), &proposal.auto_merge);
        Ok(quiet_key.filter(|_| replayable))
    }
}

/// The time now as stored and reported (RFC 3339, seconds).
fn now_str() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
