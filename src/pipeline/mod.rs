//! One sync run: for every selected server, fetch the upstream, find the newest release, judge
//! the change against the pinned release, and open/update the rebuild PR or hold it.
//!
//! [`plan`] holds the pure decisions (which PR action to take); this module calls the adapters
//! and is the only one that knows all of them. Each server runs on a blocking thread; a server
//! that fails (or panics) is reported as failed and never stops the others.

pub mod plan;
pub mod quiet;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, anyhow};
use git2::Oid;
use sha2::Digest as _;
use tracing::Instrument as _;

use crate::config::{Channel, ServerConfig, ValidConfig};
use crate::events::Event;
use crate::forge::pin::{self, Pin, PinTarget};
use crate::forge::{CommitWrite, Forge, Identity, PrRequest, PrState};
use crate::license::{self, LicensePolicy, Verdict};
use crate::render::{self, RebuildView};
use crate::report::{
    ChannelReport, Latest, LicenseReport, Pinned, PrAction, PullRequestReport, RunReport,
    ServerReport, ServerSummary, Status,
};
use crate::store::{LeaseHolder, NewEmail, PrRecord, ServerState, Store};
use crate::upstream::{self, Cache, diff};
use plan::{ForgeView, PrPlan};

/// Builds the forge client of a server (the composition root decides how).
pub type ForgeFactory = Arc<dyn Fn(&ServerConfig) -> anyhow::Result<Box<dyn Forge>> + Send + Sync>;

/// What a run needs.
#[derive(Clone)]
pub struct Deps {
    pub config: Arc<ValidConfig>,
    pub store: Arc<Store>,
    pub forges: ForgeFactory,
    /// How many servers are synced at once.
    pub concurrency: usize,
    /// Where run progress is published.
    pub events: crate::events::Bus,
    /// Cancelled on shutdown: servers not started yet are skipped; started ones finish.
    pub stop: tokio_util::sync::CancellationToken,
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only these servers (all enabled ones when empty).
    pub servers: Vec<String>,
    pub dry_run: bool,
    /// Read every mirror and forge even where upstream is quiet (see [`quiet`]).
    pub full: bool,
    /// manual | schedule | webhook | demo
    pub trigger: String,
}

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

/// Run one sync under the run lease.
pub async fn run(deps: &Deps, opts: &RunOptions) -> Result<RunReport, RunError> {
    for name in &opts.servers {
        if deps.config.server(name).is_none() {
            return Err(RunError::UnknownServer(name.clone()));
        }
    }
    let holder = format!("{}:{}:{}", hostname(), std::process::id(), opts.trigger);
    let ttl = deps.config.state.lease_timeout;
    let before_start = |e: anyhow::Error| {
        if crate::store::is_locked(&e) {
            RunError::StateLocked(e)
        } else {
            RunError::Other(e)
        }
    };
    if let Err(busy) = deps
        .store
        .acquire_lease(&holder, ttl)
        .map_err(before_start)?
    {
        // A holder on this host whose process is gone crashed: take over now instead of waiting
        // for the lease to expire.
        let dead = holder_is_dead(&busy.holder);
        if !(dead
            && deps
                .store
                .take_over_lease(&busy.holder, &holder, ttl)
                .map_err(before_start)?)
        {
            return Err(RunError::Busy(busy));
        }
        tracing::warn!(previous = %busy.holder, "took over the run lease of a crashed run");
    }
    crate::failpoint::hit("after-lease");
    let result = run_leased(deps, opts, &holder).await;
    crate::failpoint::hit("before-release-lease");
    if let Err(e) = deps.store.release_lease(&holder) {
        tracing::warn!(error = %format!("{e:#}"), "could not release the run lease; it expires by itself");
    }
    result
}

/// Whether a lease holder (`host:pid:trigger`) is a process on this host that no longer exists.
fn holder_is_dead(holder: &str) -> bool {
    let mut parts = holder.splitn(3, ':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    host == hostname()
        && pid.parse::<u32>().is_ok_and(|pid| {
            pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        })
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

async fn run_leased(deps: &Deps, opts: &RunOptions, holder: &str) -> Result<RunReport, RunError> {
    let started_at = now_str();
    let run_id = deps.store.start_run(&opts.trigger, opts.dry_run)?;
    crate::failpoint::hit("run-started");
    // We hold the lease, so any other "running" run died (a crash or a kill): mark it.
    match deps.store.abort_stale_runs(run_id) {
        Ok(0) => {}
        Ok(n) => tracing::warn!(runs = n, "marked runs that died mid-way as aborted"),
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not mark dead runs"),
    }
    let span = tracing::info_span!("run", run_id, trigger = %opts.trigger, dry_run = opts.dry_run);
    async {
        tracing::info!("run started");
        let run_started = Instant::now();
        let servers: Vec<ServerConfig> = deps
            .config
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
            .collect();
        deps.events.publish(Event::RunStarted {
            run_id,
            trigger: opts.trigger.clone(),
            dry_run: opts.dry_run,
            servers: servers.len(),
        });
        let semaphore = Arc::new(tokio::sync::Semaphore::new(deps.concurrency.max(1)));
        // One upstream host serves many servers: cap how many hit it at once.
        let per_host = deps.config.service.per_host_concurrency.max(1);
        let mut hosts: std::collections::HashMap<String, Arc<tokio::sync::Semaphore>> = std::collections::HashMap::new();
        let timeout = deps.config.service.server_timeout;
        // Scheduled runs spread their servers' starts over [schedule] jitter.
        let jitter = if opts.trigger == "schedule" { deps.config.schedule.jitter } else { std::time::Duration::ZERO };
        let tasks = futures_util::stream::FuturesUnordered::new();
        for (seq, server) in servers.into_iter().enumerate() {
            let deps = deps.clone();
            let permit_source = semaphore.clone();
            let host_permits = hosts
                .entry(upstream_host(&server.upstream))
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(per_host)))
                .clone();
            let mode = SyncMode { dry_run: opts.dry_run, full: opts.full };
            let name = server.name.clone();
            let span = tracing::info_span!("server", name = %server.name);
            let handle = tokio::spawn(async move {
                    let delay = crate::jitter::delay(jitter, crate::jitter::random_u64());
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let _permit = permit_source.acquire_owned().await;
                    let _host_permit = host_permits.acquire_owned().await;
                    if deps.stop.is_cancelled() {
                        let mut r = ServerReport::new(&server.name);
                        r.status = Status::Failed;
                        r.error = Some("not synced: upkeep is shutting down".into());
                        return Ok(r);
                    }
                    deps.events.publish(Event::ServerStarted { run_id, server: server.name.clone() });
                    let span2 = span.clone();
                    let name = server.name.clone();
                    let deps2 = deps.clone();
                    let work = tokio::task::spawn_blocking(move || span2.in_scope(|| sync_server(&deps2, &server, run_id, mode)));
                    match tokio::time::timeout(timeout, work).await {
                        Ok(joined) => joined,
                        Err(_) => {
                            // The blocking work cannot be cancelled; it finishes in the background
                            // and its decisions are still whole transactions.
                            tracing::error!(server = %name, timeout_s = timeout.as_secs(), "server sync timed out; abandoned");
                            let mut r = ServerReport::new(&name);
                            r.status = Status::Failed;
                            let msg = format!("timed out after {}s ([service] server-timeout); abandoned", timeout.as_secs());
                            // Recorded like any failure, so `status` and the failing alert see it.
                            if !mode.dry_run {
                                record_failure(&deps, &name, run_id, &msg, &mut r);
                            }
                            r.error = Some(msg);
                            Ok(r)
                        }
                    }
                });
            tasks.push(async move { (seq, name, handle.await) });
        }
        // Taken as they finish, so one slow server holds back neither the others' events nor
        // their memory: each full report goes to the state and only its summary stays.
        let mut tasks = tasks;
        let mut summaries: Vec<(usize, ServerSummary)> = Vec::new();
        while let Some((seq, name, joined)) = futures_util::StreamExt::next(&mut tasks).await {
            let report = match joined {
                Ok(Ok(r)) => r,
                Ok(Err(join)) | Err(join) => {
                    let mut r = ServerReport::new(&name);
                    r.status = Status::Failed;
                    let msg = format!("internal error while syncing: {join}");
                    tracing::error!(server = %name, error = %join, "server sync panicked");
                    if !opts.dry_run {
                        record_failure(deps, &name, run_id, &msg, &mut r);
                    }
                    r.error = Some(msg);
                    r
                }
            };
            crate::failpoint::hit("after-server");
            let mut summary = report.summary();
            let stored = serde_json::to_string(&report)
                .map_err(anyhow::Error::from)
                .and_then(|json| deps.store.put_run_server(run_id, seq, &report.name, report.status.as_str(), &json));
            drop(report);
            if let Err(e) = stored {
                tracing::error!(server = %summary.name, error = %format!("{e:#}"), "could not keep the server's full report");
                summary.notes.push("the full report (diff, PR body) could not be kept in the state; this is its summary".into());
            }
            publish_server(&deps.events, run_id, &summary);
            if let Err(e) = deps
                .store
                .renew_lease(holder, deps.config.state.lease_timeout)
            {
                tracing::warn!(error = %format!("{e:#}"), "could not renew the run lease");
            }
            summaries.push((seq, summary));
        }
        summaries.sort_by_key(|(seq, _)| *seq);
        let reports: Vec<ServerSummary> = summaries.into_iter().map(|(_, s)| s).collect();
        if !opts.dry_run {
            match crate::notify::reminders::enqueue_due(&deps.store, &deps.config, run_id) {
                Ok(0) => {}
                Ok(n) => tracing::info!(reminders = n, "queued review reminders"),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "could not queue review reminders")
                }
            }
        }
        crate::failpoint::hit("before-drain");
        let emails = if opts.dry_run {
            Default::default()
        } else {
            crate::notify::outbox::drain(&deps.store, &deps.config.email).await
        };
        if !opts.dry_run {
            deps.events.publish(Event::EmailsSent {
                run_id,
                sent: emails.sent,
                retrying: emails.retrying,
                failed: emails.failed,
            });
        }
        let report = RunReport {
            run_id,
            trigger: opts.trigger.clone(),
            dry_run: opts.dry_run,
            started_at,
            finished_at: now_str(),
            servers: reports,
            emails,
        };
        let result = if report.any_failed() { "failed" } else { "ok" };
        let json = serde_json::to_string(&report).unwrap_or_default();
        crate::failpoint::hit("before-finish-run");
        deps.store.finish_run(run_id, result, &json)?;
        drop(json);
        let retention = deps.config.state.report_retention;
        if !retention.is_zero() {
            match deps.store.prune_run_reports(retention, run_id) {
                Ok(0) => {}
                Ok(n) => tracing::info!(reports = n, "deleted per-server reports past [state] report-retention"),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not delete old run reports"),
            }
        }
        tracing::info!(result, "run finished");
        deps.events.publish(Event::RunFinished {
            run_id,
            result: result.to_string(),
            duration_ms: u64::try_from(run_started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        Ok(report)
    }
    .instrument(span)
    .await
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

/// Read-through of the store's HTTP cache for the release channels. A dry run reads but never
/// writes it.
struct StoreCache<'a> {
    store: &'a Store,
    write: bool,
}

impl upstream::channels::ConditionalCache for StoreCache<'_> {
    fn get(&self, url: &str) -> Option<(String, Vec<u8>)> {
        self.store.http_cache_get(url).unwrap_or_else(|e| {
            tracing::warn!(error = %format!("{e:#}"), "HTTP cache unreadable; fetching in full");
            None
        })
    }

    fn put(&self, url: &str, etag: &str, body: &[u8]) {
        if self.write
            && let Err(e) = self.store.http_cache_put(url, etag, body)
        {
            tracing::warn!(error = %format!("{e:#}"), "could not cache an HTTP response");
        }
    }
}

/// Look up every non-git channel of the server. Errors are kept per channel (as text without
/// secrets) so the caller decides: the primary channel failing fails the server; a cross-checked
/// one is reported.
fn lookup_channels(
    store: &Store,
    server: &ServerConfig,
    dry_run: bool,
) -> Vec<(Channel, Result<upstream::channels::Lookup, String>)> {
    use upstream::channels::ChannelSpec;
    let cache = StoreCache {
        store,
        write: !dry_run,
    };
    let settings = crate::forge::http::HttpSettings::default();
    server
        .channels
        .iter()
        .map(|(channel, cfg)| {
            let spec = match ChannelSpec::resolve(cfg) {
                Ok(spec) => spec,
                Err(e) => return (*channel, Err(format!("{e:#}"))),
            };
            let result = upstream::channels::lookup(&spec, &settings, &cache, server.release.scheme).map_err(|e| e.to_string());
            if let Err(e) = &result {
                tracing::warn!(channel = channel.name(), error = %e, "release channel lookup failed");
            }
            (*channel, result)
        })
        .collect()
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

fn now_str() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// How one server is synced.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncMode {
    /// Look, decide and report; change nothing anywhere.
    pub dry_run: bool,
    /// Read the mirror and the forge even when upstream is quiet.
    pub full: bool,
}

/// Sync one server. Never returns an error: failures become a `failed` report (and are recorded).
pub fn sync_server(
    deps: &Deps,
    server: &ServerConfig,
    run_id: i64,
    mode: SyncMode,
) -> ServerReport {
    let start = Instant::now();
    let mut report = ServerReport::new(&server.name);
    match sync_server_inner(deps, server, run_id, mode, &mut report) {
        Ok(Some(key)) if !mode.dry_run => {
            // After the decision's own transaction: a crash in between only costs a full check.
            if let Err(e) = deps.store.put_quiet_mark(&server.name, &key) {
                tracing::warn!(error = %format!("{e:#}"), "could not remember the quiet mark");
            }
        }
        Ok(_) => {}
        Err(e) => {
            let msg = format!("{e:#}");
            tracing::error!(error = %msg, "server failed");
            report.status = Status::Failed;
            report.error = Some(msg.clone());
            if !mode.dry_run {
                record_failure(deps, &server.name, run_id, &msg, &mut report);
            }
        }
    }
    report.duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}

/// Answer from the state when the server's quiet mark matches: what the last full check found
/// still stands. Returns false (do the full check) when there is nothing to replay.
fn replay_quiet(
    deps: &Deps,
    server: &ServerConfig,
    run_id: i64,
    key: &str,
    report: &mut ServerReport,
) -> anyhow::Result<bool> {
    let store = &deps.store;
    let mark = store.quiet_mark(&server.name)?;
    let recheck = deps.config.schedule.recheck;
    if !quiet::may_skip(mark.as_ref(), key, chrono::Utc::now(), recheck) {
        return Ok(false);
    }
    let Some(mut state) = store.server_state(&server.name)? else {
        return Ok(false);
    };
    let Some(status) = state.last_status.as_deref().and_then(Status::parse) else {
        return Ok(false);
    };
    if status == Status::Failed {
        return Ok(false);
    }
    let since = mark.map(|m| {
        m.checked_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    });
    tracing::info!(since = ?since, "upstream unchanged since the last full check; mirror and forge not read");
    // Nothing was updated this time: an open PR reads as open, as in a full check that finds
    // it unchanged.
    report.status = if status == Status::PrUpdated {
        Status::PrOpened
    } else {
        status
    };
    report.pinned = state.pinned_ref.clone().map(|git_ref| Pinned {
        git_ref,
        commit: state.pinned_commit.clone(),
    });
    report.latest = match (
        &state.latest_version,
        &state.latest_tag,
        &state.latest_commit,
    ) {
        (Some(version), Some(tag), Some(commit)) => Some(Latest {
            version: version.clone(),
            tag: tag.clone(),
            commit: commit.clone(),
            date: None,
        }),
        _ => None,
    };
    report.hold_reason.clone_from(&state.hold_reason);
    report.unchanged_since.clone_from(&since);
    let open = store.open_pr(&server.name)?;
    report.notes.push(format!(
        "upstream unchanged since the full check at {}{}; the mirror and the forge were not read \
         (a full check runs at least every {}, or now with `sync --now --full`)",
        since.as_deref().unwrap_or("?"),
        open.as_ref()
            .and_then(|p| p.url.as_deref())
            .map(|u| format!(" (rebuild PR open: {u})"))
            .unwrap_or_default(),
        humantime::format_duration(recheck)
    ));
    state.last_run_id = Some(run_id);
    state.last_run_at = Some(now_str());
    state.last_success_at.clone_from(&state.last_run_at);
    state.last_error = None;
    state.consecutive_failures = 0;
    store.transaction(|tx| Store::put_server_state(tx, &state))?;
    Ok(true)
}

/// Record a failed run for the server, and alert the owners when it has failed enough runs in a row.
fn record_failure(deps: &Deps, name: &str, run_id: i64, error: &str, report: &mut ServerReport) {
    let owners = deps
        .config
        .server(name)
        .map(|s| s.owners.clone())
        .unwrap_or_default();
    let threshold = i64::from(deps.config.email.failing_runs_alert);
    let res = deps.store.transaction(|tx| {
        let mut st = Store::server_state_tx(tx, name)?.unwrap_or_else(|| empty_state(name));
        // A server fails at most once per run: a server abandoned on timeout keeps working in
        // the background (under `serve`), and its own failure later is the same failure. Its
        // error is the more useful one, so it is kept; the count and the alert are not repeated.
        if st.last_run_id == Some(run_id)
            && st.last_status.as_deref() == Some(Status::Failed.as_str())
        {
            st.last_error = Some(error.to_string());
            return Store::put_server_state(tx, &st);
        }
        st.consecutive_failures += 1;
        st.last_status = Some(Status::Failed.as_str().into());
        st.last_error = Some(error.to_string());
        st.last_run_id = Some(run_id);
        st.last_run_at = Some(now_str());
        Store::put_server_state(tx, &st)?;
        // A failure is never replayed: the next run checks in full.
        Store::forget_quiet_mark(tx, name)?;
        if st.consecutive_failures == threshold && !owners.is_empty() {
            let text = render::failing_email(name, st.consecutive_failures, error);
            // One alert per failure streak: the key names the run the streak reached the threshold in.
            let key = format!("{name}:failing:{run_id}");
            if Store::enqueue_email(
                tx,
                &new_email(&key, name, "failing", &owners, &[], text),
                Some(run_id),
            )? {
                report.emails_queued += 1;
            }
        }
        Ok(())
    });
    if let Err(e) = res {
        tracing::error!(error = %format!("{e:#}"), "could not record the failure in the state");
    }
}

fn empty_state(name: &str) -> ServerState {
    ServerState {
        server: name.to_string(),
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

fn new_email(
    key: &str,
    server: &str,
    reason: &str,
    to: &[String],
    cc: &[String],
    text: render::EmailText,
) -> NewEmail {
    NewEmail {
        dedupe_key: key.to_string(),
        server: server.to_string(),
        reason: reason.to_string(),
        recipients: to.to_vec(),
        cc: cc.to_vec(),
        subject: text.subject,
        text: text.text,
        html: text.html,
    }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn policy_for(server: &ServerConfig) -> LicensePolicy {
    LicensePolicy {
        allowed: server.license.allowed.clone(),
        review_codes: server.license.review_codes.clone(),
    }
}

/// Returns the quiet key to remember when the outcome may be replayed by later runs.
#[allow(clippy::too_many_lines)] // One linear story per server reads better than a scatter of helpers.
fn sync_server_inner(
    deps: &Deps,
    server: &ServerConfig,
    run_id: i64,
    mode: SyncMode,
    report: &mut ServerReport,
) -> anyhow::Result<Option<String>> {
    let dry_run = mode.dry_run;
    let store = &deps.store;
    let state = &deps.config.state;
    let cache = Cache::new(&state.cache_dir).with_limits(upstream::FetchLimits {
        max_tags: state.max_tags,
        max_bytes: state.max_fetch_bytes,
    });

    // 1. Upstream: fetch and list release tags.
    let fetched =
        tracing::info_span!("fetch").in_scope(|| cache.fetch(&server.name, &server.upstream))?;
    let repo = &fetched.repo;
    let releases = upstream::select_releases(&fetched.tags, &server.release);

    // 2. Trust: every release tag -> commit pair is remembered; a release tag that moved holds the server.
    let release_tags: Vec<(String, String)> = fetched
        .tags
        .iter()
        .filter(|t| upstream::tag_version(&t.name, &server.release).is_some())
        .map(|t| (t.name.clone(), t.commit.clone()))
        .collect();

    if releases.is_empty() {
        anyhow::bail!(
            "no tag of {} matches tag-pattern `{}` ({} tags seen)",
            upstream::redact_url(&server.upstream),
            server.release.tag_pattern.as_str(),
            fetched.tags.len()
        );
    }

    // Release channels: the primary one (when not git tags) and the registries cross-checked.
    let now = chrono::Utc::now();
    let lookups =
        tracing::info_span!("release").in_scope(|| lookup_channels(store, server, dry_run));
    let mut primary: Option<Vec<upstream::channels::ChannelRelease>> = None;
    for (channel, result) in &lookups {
        match result {
            Ok(found) if *channel == server.release.channel => {
                primary = Some(found.releases.clone());
            }
            Err(e) if *channel == server.release.channel => {
                // A failed lookup is a failure, never "no new release".
                anyhow::bail!("release channel {}: {e}", channel.name());
            }
            _ => {}
        }
    }
    let scheme = server.release.scheme;
    let tag_versions: Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> = releases
        .iter()
        .map(|r| {
            let date = r
                .date
                .as_deref()
                .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                .map(|d| d.with_timezone(&chrono::Utc));
            (r.version.clone(), date)
        })
        .collect();
    for (channel, result) in &lookups {
        report.channels.push(match result {
            Ok(found) => {
                let published: Vec<_> = found
                    .releases
                    .iter()
                    .filter(|p| server.release.prerelease || !p.prerelease)
                    .cloned()
                    .collect();
                ChannelReport {
                    name: channel.name().to_string(),
                    ok: true,
                    not_modified: found.not_modified,
                    latest: published.last().map(|p| p.version.clone()),
                    error: None,
                    discrepancies: if server.release.verify.contains(channel) {
                        upstream::channels::cross_check(
                            channel.name(),
                            &tag_versions,
                            &published,
                            scheme,
                            server.release.cooldown,
                            now,
                        )
                    } else {
                        Vec::new()
                    },
                }
            }
            Err(e) => ChannelReport {
                name: channel.name().to_string(),
                ok: false,
                not_modified: false,
                latest: None,
                error: Some(e.clone()),
                discrepancies: Vec::new(),
            },
        });
    }
    let choice = plan::choose_release(
        &releases,
        primary.as_deref(),
        server.release.prerelease,
        scheme,
        server.release.cooldown,
        &server.release.security,
        now,
    );
    for w in &choice.waiting {
        report.notes.push(format!(
            "{} is in its cooldown{}",
            w.version,
            w.until
                .as_deref()
                .map(|u| format!(" until {u}"))
                .unwrap_or_default()
        ));
    }
    for v in &choice.untagged {
        report.notes.push(format!(
            "{} published on {} has no matching git tag; it cannot be pinned",
            v,
            server.release.channel.name()
        ));
    }
    let channel_notes = choice.published.and_then(|p| p.notes.clone());

    // The quiet path: upstream answers as at the last full check, so skip the mirror and forge.
    let quiet_key = quiet::key(server, &release_tags, &lookups).filter(|_| {
        // A release in its cooldown or a cross-check finding changes with time alone.
        choice.waiting.is_empty() && report.channels.iter().all(|c| c.discrepancies.is_empty())
    });
    if let Some(key) = &quiet_key
        && !mode.dry_run
        && !mode.full
        && replay_quiet(deps, server, run_id, key, report)?
    {
        // The mark keeps the time of the last full check, so the recheck still comes.
        return Ok(None);
    }

    // 3. The mirror's pin.
    let forge = (deps.forges)(server)
        .with_context(|| format!("setting up the {} mirror", forge_kind(server)))?;
    crate::failpoint::hit("after-fetch");
    let base = tracing::info_span!("pin")
        .in_scope(|| forge.read_base_file(&server.mirror.base, &server.mirror.pin_file))?;
    let target = PinTarget {
        upstream: &server.upstream,
        entry: server.mirror.pin_entry.as_deref(),
    };
    let pin =
        pin::read_pin(server.mirror.pin_format, &base.content, &target).with_context(|| {
            format!(
                "reading the pin from {} on {}",
                server.mirror.pin_file, server.mirror.base
            )
        })?;
    let pinned_commit = match &pin.commit {
        Some(c) => Some(c.clone()),
        None => repo
            .revparse_single(&pin.git_ref)
            .and_then(|o| o.peel_to_commit())
            .ok()
            .map(|c| c.id().to_string()),
    };
    report.pinned = Some(Pinned {
        git_ref: pin.git_ref.clone(),
        commit: pinned_commit.clone(),
    });
    let pinned_tag = render::short_ref(&pin.git_ref).to_string();
    let pinned_version = upstream::tag_version(&pinned_tag, &server.release);

    let Some(latest) = choice.release.or_else(|| {
        // Nothing proposable yet: report the pinned release as the latest usable one.
        releases
            .iter()
            .find(|r| Some(&r.parsed) == pinned_version.as_ref())
    }) else {
        anyhow::bail!(
            "no release of {} is proposable yet ({} waiting for the cooldown, {} without a tag)",
            server.name,
            choice.waiting.len(),
            choice.untagged.len()
        );
    };
    report.latest = Some(Latest {
        version: latest.version.clone(),
        tag: latest.tag.clone(),
        commit: latest.commit.clone(),
        date: choice
            .published
            .and_then(|p| p.published_at)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .or_else(|| latest.date.clone()),
    });

    let moved = if dry_run {
        store
            .transaction(|tx| {
                let moved = Store::record_tags(tx, &server.name, &release_tags)?;
                // Dry run: look, do not remember.
                Err(anyhow!(DryRunRollback(moved)))
            })
            .or_else(|e| match e.downcast::<DryRunRollback>() {
                Ok(DryRunRollback(m)) => Ok(m),
                Err(e) => Err(e),
            })?
    } else {
        Vec::new()
    };
    let newer = match &pinned_version {
        Some(pv) => latest.parsed > *pv,
        None => latest.commit != pinned_commit.clone().unwrap_or_default(),
    };

    let mut state = store
        .server_state(&server.name)?
        .unwrap_or_else(|| empty_state(&server.name));
    state.pinned_ref = Some(pin.git_ref.clone());
    state.pinned_commit.clone_from(&pinned_commit);
    state.latest_version = Some(latest.version.clone());
    state.latest_tag = Some(latest.tag.clone());
    state.latest_commit = Some(latest.commit.clone());
    state.last_run_id = Some(run_id);
    state.last_run_at = Some(now_str());
    state.last_error = None;
    state.consecutive_failures = 0;

    // The PR's branch: the deterministic one, or the fresh one a human push moved us to.
    let stored_open = store.open_pr(&server.name)?;
    let branch = stored_open
        .as_ref()
        .map_or_else(|| branch_name(&server.name), |p| p.branch.clone());

    // The moved-tag check and its alarm are one decision (one transaction).
    if !dry_run {
        let owners = server.owners.clone();
        let upstream_url = upstream::redact_url(&server.upstream);
        let (moved, queued) = store.transaction(|tx| {
            let moved = Store::record_tags(tx, &server.name, &release_tags)?;
            let mut queued = 0;
            if !moved.is_empty() {
                let fp = sha256_hex(
                    &moved
                        .iter()
                        .map(|m| format!("{}={}", m.tag, m.new_commit))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                let key = format!("{}:moved-tag:{}", server.name, &fp[..16]);
                let text = render::moved_tag_email(&server.name, &upstream_url, &moved);
                if Store::enqueue_email(
                    tx,
                    &new_email(&key, &server.name, "moved-tag", &owners, &[], text),
                    Some(run_id),
                )? {
                    queued += 1;
                }
            }
            Ok((moved, queued))
        })?;
        report.emails_queued += queued;
        report.moved_tags = moved;
    } else {
        report.moved_tags = moved;
    }
    if !report.moved_tags.is_empty() {
        let m = &report.moved_tags[0];
        let reason = format!(
            "release tag {} moved from {} to {}",
            m.tag,
            &m.old_commit[..m.old_commit.len().min(10)],
            &m.new_commit[..m.new_commit.len().min(10)]
        );
        tracing::warn!(tag = %m.tag, old = %m.old_commit, new = %m.new_commit, "release tag moved upstream; holding");
        report.status = Status::Held;
        report.hold_reason = Some(reason.clone());
        if !dry_run {
            state.last_status = Some(Status::Held.as_str().into());
            if state.hold_reason.is_none() {
                state.held_since = Some(now_str());
            }
            state.hold_reason = Some(reason);
            store.transaction(|tx| Store::put_server_state(tx, &state))?;
        }
        return Ok(quiet_key);
    }

    if !newer {
        report.status = Status::UpToDate;
        if !dry_run {
            // The pin caught up (the PR was merged, or someone bumped it by hand): close the books.
            store.transaction(|tx| {
                if let Some(open) = Store::open_pr_tx(tx, &server.name)? {
                    Store::set_pr_state(tx, open.id, "merged", None)?;
                }
                Store::clear_pending_review(tx, &server.name)?;
                state.last_status = Some(Status::UpToDate.as_str().into());
                state.last_success_at = Some(now_str());
                state.hold_reason = None;
                state.held_since = None;
                Store::put_server_state(tx, &state)
            })?;
        }
        return Ok(quiet_key);
    }

    // 4. The change: license judgement and release diff, from object data only.
    let new_oid = Oid::from_str(&latest.commit)?;
    let old_oid = pinned_commit
        .as_deref()
        .and_then(|c| Oid::from_str(c).ok())
        .filter(|o| repo.find_commit(*o).is_ok());
    crate::failpoint::hit("after-tags");
    let (old_snap, judgement) = tracing::info_span!("license").in_scope(|| -> anyhow::Result<_> {
        let new_snap = license::scan(repo, new_oid).context("scanning license files of the new release")?;
        let old_snap = match old_oid {
            Some(o) => license::scan(repo, o).context("scanning license files of the pinned release")?,
            None => {
                report.notes.push("the pinned commit is not in the upstream history; license compared against nothing".into());
                license::LicenseSnapshot::empty()
            }
        };
        let judgement = license::judge(&old_snap, &new_snap, &policy_for(server));
        Ok((old_snap, judgement))
    })?;
    let approval = if judgement.verdict == Verdict::ReviewRequired {
        store.approval(&server.name, &judgement.fingerprint)?
    } else {
        None
    };
    let held = judgement.verdict == Verdict::ReviewRequired && approval.is_none();
    report.license = Some(LicenseReport {
        verdict: judgement.verdict.code().to_string(),
        reason: judgement.reason.clone(),
        approved_by: approval.as_ref().map(|a| a.approved_by.clone()),
        files: judgement
            .files
            .iter()
            .filter_map(|f| serde_json::to_value(f).ok())
            .map(|mut v| {
                // The word-level runs repeat the whole text; the report keeps the unified diff
                // (the HTML email has the word-level view).
                if let Some(o) = v.as_object_mut() {
                    o.remove("word_diff");
                }
                v
            })
            .collect(),
    });
    crate::failpoint::hit("after-license");
    let release_diff = match old_oid {
        Some(o) => Some(diff::release_diff(
            repo,
            o,
            new_oid,
            &diff::DiffOptions {
                max_commits_listed: 50,
                max_largest_files: 10,
                default_branch: fetched.default_branch.as_ref().map(|(_, oid)| *oid),
                version: Some(latest.version.clone()),
            },
        )?),
        None => None,
    };
    report.diff.clone_from(&release_diff);
    crate::failpoint::hit("after-diff");

    // 5. The rebuild PR.
    let old = report.pinned.clone().unwrap_or(Pinned {
        git_ref: pin.git_ref.clone(),
        commit: None,
    });
    let new = report
        .latest
        .clone()
        .ok_or_else(|| anyhow!("no latest release"))?;
    let view = RebuildView {
        server: &server.name,
        upstream: &upstream::redact_url(&server.upstream),
        old: &old,
        old_version: pinned_version
            .as_ref()
            .map(upstream::version::Version::as_str),
        new: &new,
        license: Some(&judgement),
        approval: approval.as_ref(),
        held,
        diff: release_diff.as_ref(),
        release_notes: channel_notes.as_deref(),
        channels: &report.channels,
        run_id,
    };
    let title = render::pr_title(&view);
    let body = render::pr_body(&view, body_limit(forge.kind()));
    let new_pin = Pin {
        git_ref: format!("refs/tags/{}", latest.tag),
        commit: Some(latest.commit.clone()),
    };
    let new_content = pin::write_pin(server.mirror.pin_format, &base.content, &target, &new_pin)
        .with_context(|| format!("editing the pin in {}", server.mirror.pin_file))?;
    let pin_diff = similar::TextDiff::from_lines(
        String::from_utf8_lossy(&base.content).into_owned(),
        String::from_utf8_lossy(&new_content).into_owned(),
    )
    .unified_diff()
    .context_radius(2)
    .header(
        &format!("a/{}", server.mirror.pin_file),
        &format!("b/{}", server.mirror.pin_file),
    )
    .to_string();
    let mut labels = server.mirror.labels.clone();
    if !labels.iter().any(|l| l == "upkeep") {
        labels.insert(0, "upkeep".into());
    }
    if held {
        labels.push(render::REVIEW_LABEL.into());
    }
    let request = PrRequest {
        branch: branch.clone(),
        base: server.mirror.base.clone(),
        title: title.clone(),
        body: body.clone(),
        labels: labels.clone(),
        reviewers: server.mirror.reviewers.clone(),
        draft: held,
    };

    let stored_this = store.pr_for_version(&server.name, &latest.version)?;
    let bot = bot_identity();
    let forge_pr = forge.find_pr(
        &branch,
        stored_open.as_ref().and_then(|p| p.forge_id.as_deref()),
    )?;
    let branch_state = forge.branch_state(&branch, &server.mirror.base, &bot)?;
    let body_hash = sha256_hex(&format!("{title}\n{body}\n{held}"));
    let plan = plan::plan_pr(&plan::PlanInput {
        version: &latest.version,
        stored_open: stored_open.as_ref(),
        stored_this: stored_this.as_ref(),
        forge_pr: forge_pr.as_ref().map(|p| ForgeView {
            state: p.state,
            title: &p.title,
            body_hash: None,
        }),
        branch: branch_state.as_ref(),
        body_hash: &body_hash,
    });
    tracing::info!(plan = ?plan, version = %latest.version, held, "pr decision");

    let mut pr_report = PullRequestReport {
        action: PrAction::Unchanged,
        branch: branch.clone(),
        title,
        body,
        url: forge_pr
            .as_ref()
            .map(|p| p.url.clone())
            .or_else(|| stored_open.as_ref().and_then(|p| p.url.clone())),
        draft: held,
        labels,
        pin_diff,
    };

    if dry_run {
        pr_report.action = plan.action();
        report.status = status_for(&plan, held);
        report.pull_request = Some(pr_report);
        return Ok(None);
    }

    let commit_message = render::commit_message(&view);
    let write = |expected_head: Option<String>| -> anyhow::Result<String> {
        Ok(forge.write_branch(&CommitWrite {
            branch: branch.clone(),
            base_commit: base.base_commit.clone(),
            path: server.mirror.pin_file.clone(),
            content: new_content.clone(),
            message: commit_message.clone(),
            author: bot.clone(),
            expected_head,
        })?)
    };

    // A PR closed without merge declines the version it proposed.
    if let (Some(p), Some(rec)) = (&forge_pr, &stored_open)
        && p.state == PrState::Closed
    {
        store.transaction(|tx| {
            Store::set_pr_state(tx, rec.id, "declined", p.closed_by.as_deref())
        })?;
    }

    let (info, head) = match &plan {
        PrPlan::Declined { by } => {
            if let Some(rec) = &stored_this {
                store
                    .transaction(|tx| Store::set_pr_state(tx, rec.id, "declined", by.as_deref()))?;
            }
            report.notes.push(format!("version {} was declined (its PR was closed without merge); waiting for a newer release", latest.version));
            pr_report.action = PrAction::Declined;
            report.status = Status::UpToDate;
            state.last_status = Some(Status::UpToDate.as_str().into());
            state.last_success_at = Some(now_str());
            store.transaction(|tx| Store::put_server_state(tx, &state))?;
            report.pull_request = Some(pr_report);
            return Ok(quiet_key);
        }
        PrPlan::Unchanged => {
            let info = forge_pr
                .clone()
                .ok_or_else(|| anyhow!("planned unchanged without a PR"))?;
            (
                info,
                stored_open.as_ref().and_then(|p| p.head_commit.clone()),
            )
        }
        PrPlan::RefreshBody => {
            let info = forge_pr
                .clone()
                .ok_or_else(|| anyhow!("planned a refresh without a PR"))?;
            let info = forge.update_pr(&info.id, &request)?;
            (
                info,
                stored_open.as_ref().and_then(|p| p.head_commit.clone()),
            )
        }
        PrPlan::UpdateToNewer { expected_head } => {
            let head = write(Some(expected_head.clone()))?;
            crate::failpoint::hit("after-move-branch");
            let info = forge_pr
                .clone()
                .ok_or_else(|| anyhow!("planned an update without a PR"))?;
            let info = forge.update_pr(&info.id, &request)?;
            crate::failpoint::hit("after-update-pr");
            (info, Some(head))
        }
        PrPlan::Create { reuse_branch } => {
            crate::failpoint::hit("before-write-branch");
            let head = write(reuse_branch.clone())?;
            crate::failpoint::hit("after-write-branch");
            let info = match forge.open_pr(&request) {
                Ok(info) => info,
                // Someone (or a crashed run) opened it between our look and now: adopt it.
                Err(crate::forge::ForgeError::Conflict(_)) => {
                    forge.find_pr(&branch, None)?.ok_or_else(|| {
                        anyhow!("the forge reported a conflicting PR for {branch} but none is open")
                    })?
                }
                Err(e) => return Err(e.into()),
            };
            (info, Some(head))
        }
        PrPlan::HumanOnBranch { pr_id } => {
            // Never force-push over a person's commits: say so on their PR, and carry on in a
            // fresh PR on a new branch.
            let fresh = format!(
                "{}-r{}",
                branch_name(&server.name),
                store.prs(&server.name)?.len() + 1
            );
            let fresh_state = forge.branch_state(&fresh, &server.mirror.base, &bot)?;
            if fresh_state.as_ref().is_some_and(|b| !b.only_bot_commits) {
                anyhow::bail!(
                    "people pushed to both {branch} and {fresh}; not overwriting their commits"
                );
            }
            let head = forge.write_branch(&CommitWrite {
                branch: fresh.clone(),
                base_commit: base.base_commit.clone(),
                path: server.mirror.pin_file.clone(),
                content: new_content.clone(),
                message: commit_message.clone(),
                author: bot.clone(),
                expected_head: fresh_state.map(|b| b.head),
            })?;
            let fresh_request = PrRequest {
                branch: fresh.clone(),
                ..request.clone()
            };
            let info = match forge.open_pr(&fresh_request) {
                Ok(info) => info,
                Err(crate::forge::ForgeError::Conflict(_)) => {
                    forge.find_pr(&fresh, None)?.ok_or_else(|| {
                        anyhow!("the forge reported a conflicting PR for {fresh} but none is open")
                    })?
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(id) = pr_id {
                let note = format!(
                    "upkeep found commits by someone else on `{branch}` and will not force-push over them. \
                     The rebuild of {} continues in {}. This PR is left as it is: merge or close it.",
                    latest.version, info.url
                );
                if let Err(e) = forge.comment_pr(id, &note) {
                    tracing::warn!(error = %e, "could not comment on the PR a person pushed to");
                }
            }
            report.notes.push(format!(
                "a person pushed to {branch}; continued in a fresh PR on {fresh}"
            ));
            pr_report.branch.clone_from(&fresh);
            (info, Some(head))
        }
        PrPlan::Merged => {
            report.notes.push(
                "the rebuild PR was merged; the pin on the base branch will show the new release"
                    .into(),
            );
            report.status = Status::UpToDate;
            if let Some(rec) = &stored_open {
                store.transaction(|tx| Store::set_pr_state(tx, rec.id, "merged", None))?;
            }
            report.pull_request = Some(pr_report);
            return Ok(None);
        }
    };

    pr_report.action = plan.action();
    pr_report.url = Some(info.url.clone());
    report.status = status_for(&plan, held);

    // 6. Record the PR, the hold and its email in one transaction.
    let record = PrRecord {
        id: 0,
        server: server.name.clone(),
        version: latest.version.clone(),
        tag: latest.tag.clone(),
        commit: latest.commit.clone(),
        branch: pr_report.branch.clone(),
        forge_id: Some(info.id.clone()),
        url: Some(info.url.clone()),
        title: pr_report.title.clone(),
        body_hash,
        head_commit: head,
        state: "open".into(),
        held,
        closed_by: None,
        created_at: String::new(),
        updated_at: String::new(),
    };
    let judgement_json = serde_json::to_string(&judgement)?;
    let baseline_json = serde_json::to_string(&old_snap)?;
    let sla_days = deps.config.email.review_sla.as_secs() / 86_400;
    crate::failpoint::hit("before-record-pr");
    let queued = store.transaction(|tx| {
        Store::upsert_pr(tx, &record)?;
        crate::failpoint::hit("inside-record-pr-transaction");
        // The license baseline: what the pinned release's license files were when judged.
        if let Some(pinned) = &pinned_commit {
            Store::put_license_baseline(
                tx,
                &server.name,
                pinned,
                &old_snap.fingerprint(),
                &baseline_json,
            )?;
        }
        let mut queued = 0;
        if held {
            Store::put_pending_review(tx, &server.name, &judgement.fingerprint, &judgement_json)?;
            let key = format!("{}:license-review:{}", server.name, judgement.fingerprint);
            let text = render::license_email(&view, Some(&info.url), sla_days);
            if Store::enqueue_email(
                tx,
                &new_email(
                    &key,
                    &server.name,
                    "license-review",
                    &server.owners,
                    &[],
                    text,
                ),
                Some(run_id),
            )? {
                queued += 1;
            }
            state.hold_reason = Some(format!("license review required: {}", judgement.reason));
            if state.held_since.is_none() {
                state.held_since = Some(now_str());
            }
        } else {
            Store::clear_pending_review(tx, &server.name)?;
            state.hold_reason = None;
            state.held_since = None;
        }
        state.last_status = Some(report.status.as_str().into());
        state.last_success_at = Some(now_str());
        Store::put_server_state(tx, &state)?;
        Ok(queued)
    })?;
    crate::failpoint::hit("after-record-pr");
    report.emails_queued += queued;
    if held {
        report.hold_reason.clone_from(&state.hold_reason);
    }
    report.pull_request = Some(pr_report);
    Ok(quiet_key)
}

#[derive(Debug)]
struct DryRunRollback(Vec<crate::store::MovedTag>);
impl std::fmt::Display for DryRunRollback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dry run")
    }
}
impl std::error::Error for DryRunRollback {}

fn forge_kind(server: &ServerConfig) -> &'static str {
    match server.mirror.forge {
        crate::config::ForgeConfig::Local { .. } => "local",
        crate::config::ForgeConfig::Github { .. } => "GitHub",
        crate::config::ForgeConfig::AzureDevops { .. } => "Azure DevOps",
    }
}

/// PR body size limits: Azure DevOps descriptions 4,000 characters, GitHub bodies 65,536.
pub fn body_limit(kind: &str) -> usize {
    // The forges refuse larger bodies with these same limits; render within them.
    match kind {
        "azure-devops" => crate::forge::azure::AZURE_DESCRIPTION_LIMIT,
        _ => crate::forge::github::GITHUB_BODY_LIMIT,
    }
}

fn status_for(plan: &PrPlan, held: bool) -> Status {
    if held {
        return Status::Held;
    }
    match plan {
        PrPlan::Create { .. } | PrPlan::HumanOnBranch { .. } => Status::PrOpened,
        PrPlan::UpdateToNewer { .. } | PrPlan::RefreshBody => Status::PrUpdated,
        PrPlan::Unchanged => Status::PrOpened,
        PrPlan::Declined { .. } | PrPlan::Merged => Status::UpToDate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_fails_at_most_once_per_run() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[state]\npath = {:?}\n\n[email]\ntransport = \"file\"\ndir = {:?}\nfailing-runs-alert = 2\n\n\
             [[servers]]\nname = \"s\"\nupstream = \"/nowhere.git\"\nowners = [\"o@example.com\"]\nrelease = {{ channel = \"git-tags\" }}\n\n\
             [servers.mirror]\nforge = \"local\"\nrepo = \"/nowhere-mirror.git\"\npin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n",
            dir.path().join("upkeep.db").display().to_string(),
            dir.path().join("outbox").display().to_string(),
        );
        let config = crate::config::parse(std::path::Path::new("t.toml"), &text).unwrap();
        let deps = crate::app::deps(config).unwrap();
        let mut r = ServerReport::new("s");
        // Run 1 gives up on the server (timeout); its background work then fails too.
        record_failure(&deps, "s", 1, "timed out after 600s", &mut r);
        record_failure(&deps, "s", 1, "fetching: connection reset", &mut r);
        let st = deps.store.server_state("s").unwrap().unwrap();
        assert_eq!(st.consecutive_failures, 1);
        assert_eq!(st.last_error.as_deref(), Some("fetching: connection reset"));
        assert_eq!(
            r.emails_queued, 0,
            "one failure is below the alert threshold"
        );
        // The next run's failure counts, and reaches the threshold once.
        record_failure(&deps, "s", 2, "timed out after 600s", &mut r);
        record_failure(&deps, "s", 2, "fetching: connection reset", &mut r);
        let st = deps.store.server_state("s").unwrap().unwrap();
        assert_eq!(st.consecutive_failures, 2);
        assert_eq!(r.emails_queued, 1);
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
