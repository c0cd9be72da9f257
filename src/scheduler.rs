//! The schedule: fire times, schedule groups, catch-up and jitter (pure), and the `serve` loop.
//!
//! Servers with their own `schedule` run on it; the rest on `[schedule].cron`; all read in
//! `[schedule].timezone`. Groups that fire at the same moment share one run. Every run starts
//! through [`crate::service::Control`], under the same run lease as `sync --now`, so a manual run
//! and a scheduled one never overlap: a fire time that finds a run in progress is skipped.
//!
//! Signals: SIGTERM/ctrl-c stop taking work, skip the servers not started yet and wait up to
//! `[service] grace-period` for the run in flight (each server's decision is one state
//! transaction, so nothing is left half-recorded); SIGHUP reloads the config, keeping the old
//! one when the new one is invalid or names another state database
//! ([`crate::service::reload`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use crate::config::ValidConfig;
use crate::service::Control;

/// The next fire time of the main schedule strictly after `after`, in UTC.
pub fn next_fire(config: &ValidConfig, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    config
        .next_fires(after, 1)
        .first()
        .map(|t| t.with_timezone(&Utc))
}

/// Servers that run on one schedule.
#[derive(Debug, Clone)]
pub struct ScheduleGroup {
    /// The expression as written (5 or 6 fields).
    pub expression: String,
    pub schedule: cron::Schedule,
    /// Enabled servers on this schedule, in config order (never empty).
    pub servers: Vec<String>,
}

/// The schedule groups of a config: the main schedule's enabled servers, then one group per
/// distinct per-server expression. Groups without enabled servers are left out.
pub fn groups(config: &ValidConfig) -> Vec<ScheduleGroup> {
    let mut out: Vec<ScheduleGroup> = vec![ScheduleGroup {
        expression: config.schedule.expression.clone(),
        schedule: config.schedule.schedule.clone(),
        servers: Vec::new(),
    }];
    for s in config.servers.iter().filter(|s| s.enabled) {
        match &s.schedule {
            None => out[0].servers.push(s.name.clone()),
            Some(own) => match out[1..].iter_mut().find(|g| g.expression == own.expression) {
                Some(g) => g.servers.push(s.name.clone()),
                None => out.push(ScheduleGroup {
                    expression: own.expression.clone(),
                    schedule: own.schedule.clone(),
                    servers: vec![s.name.clone()],
                }),
            },
        }
    }
    out.retain(|g| !g.servers.is_empty());
    out
}

/// The next fire time of `schedule` (read in `tz`) strictly after `after`.
pub fn fire_after(
    schedule: &cron::Schedule,
    tz: chrono_tz::Tz,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    schedule
        .after(&after.with_timezone(&tz))
        .next()
        .map(|t| t.with_timezone(&Utc))
}

/// The last fire time of `schedule` (read in `tz`) at or before `at`.
pub fn fire_before(
    schedule: &cron::Schedule,
    tz: chrono_tz::Tz,
    at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // `after(t).next_back()` walks backwards from t, exclusive; nudge t so a fire exactly at
    // `at` counts.
    let probe = at + chrono::Duration::milliseconds(1);
    schedule
        .after(&probe.with_timezone(&tz))
        .next_back()
        .map(|t| t.with_timezone(&Utc))
}

/// The next moment any group fires after `after`, and the servers of every group firing then.
pub fn next_due(
    groups: &[ScheduleGroup],
    tz: chrono_tz::Tz,
    after: DateTime<Utc>,
) -> Option<(DateTime<Utc>, Vec<String>)> {
    let fires: Vec<(DateTime<Utc>, &ScheduleGroup)> = groups
        .iter()
        .filter_map(|g| fire_after(&g.schedule, tz, after).map(|t| (t, g)))
        .collect();
    let first = fires.iter().map(|(t, _)| *t).min()?;
    let servers = fires
        .iter()
        .filter(|(t, _)| *t == first)
        .flat_map(|(_, g)| g.servers.iter().cloned())
        .collect();
    Some((first, servers))
}

/// A scheduled run from the state: when it started and which servers it covered
/// (`None`: unknown, e.g. it never finished; taken as all of them).
#[derive(Debug, Clone)]
pub struct PastRun {
    pub started_at: DateTime<Utc>,
    pub servers: Option<Vec<String>>,
}

/// The servers to sync once on start because the service was down at their group's last fire
/// time: a group is due when its previous fire time (at or before `now`) is later than the
/// last scheduled run that covered any of its servers. A group that never ran on the schedule
/// waits for its first fire time (there was nothing to miss). Never more than one run: the
/// result is one list, however many fire times were missed.
pub fn catch_up(
    groups: &[ScheduleGroup],
    tz: chrono_tz::Tz,
    history: &[PastRun],
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut due = Vec::new();
    for g in groups {
        let Some(previous) = fire_before(&g.schedule, tz, now) else {
            continue;
        };
        let last = history
            .iter()
            .filter(|r| {
                r.servers
                    .as_ref()
                    .is_none_or(|s| s.iter().any(|n| g.servers.contains(n)))
            })
            .map(|r| r.started_at)
            .max();
        if last.is_some_and(|last| last < previous) {
            due.extend(g.servers.iter().cloned());
        }
    }
    due
}

pub use crate::jitter::{delay as jitter_delay, random_u64};

/// The scheduled runs in the state, newest first (at most `limit` runs are looked at).
fn scheduled_history(store: &crate::store::Store, limit: usize) -> anyhow::Result<Vec<PastRun>> {
    let mut out = Vec::new();
    for run in store.recent_runs(limit)? {
        if run.trigger != crate::report::Trigger::Schedule.as_str() || run.dry_run {
            continue;
        }
        let Some(started_at) = DateTime::parse_from_rfc3339(&run.started_at)
            .ok()
            .map(|t| t.with_timezone(&Utc))
        else {
            continue;
        };
        let servers = store
            .run_summary(run.id)?
            .and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
            .and_then(|v| {
                v["servers"].as_array().map(|a| {
                    a.iter()
                        .filter_map(|s| s["name"].as_str().map(str::to_string))
                        .collect()
                })
            });
        out.push(PastRun {
            started_at,
            servers,
        });
    }
    Ok(out)
}

enum Signal {
    Stop,
    Reload,
}

/// Waits for the signals `serve` handles.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                term: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
                hup: signal(SignalKind::hangup()).context("listening for SIGHUP")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => Signal::Stop,
                _ = tokio::signal::ctrl_c() => Signal::Stop,
                _ = self.hup.recv() => Signal::Reload,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Stop
        }
    }
}

/// How often `serve` sends due emails between runs (retries after an SMTP outage, digests).
const OUTBOX_INTERVAL: Duration = Duration::from_secs(60);

/// Between runs, drain the outbox on a timer, under the run lease so it never races a run's
/// own drain (a row is then handed to the transport by one sender only). On a shared state the
/// rows themselves are claimed by the sender (see `store`'s outbox), so replicas drain without
/// a lease.
async fn outbox_timer(control: Arc<Control>) {
    let mut tick = tokio::time::interval(OUTBOX_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        if control.busy() {
            continue;
        }
        let deps = control.deps();
        if deps.store.shares_work() {
            log_drain(&crate::pipeline::outbox::drain(&deps.store, &deps.config.email).await);
            continue;
        }
        let holder = format!("serve-outbox:{}", std::process::id());
        let ours = holder.clone();
        let acquired = deps
            .store
            .blocking(move |s| s.acquire_lease(&ours, Duration::from_secs(300)))
            .await;
        match acquired {
            Ok(Ok(())) => {
                log_drain(&crate::pipeline::outbox::drain(&deps.store, &deps.config.email).await);
                if let Err(e) = deps.store.blocking(move |s| s.release_lease(&holder)).await {
                    tracing::warn!(error = %format!("{e:#}"), "could not release the outbox lease");
                }
            }
            Ok(Err(_)) => {}
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "outbox timer could not check the lease")
            }
        }
    }
}

fn log_drain(summary: &crate::report::EmailSummary) {
    if summary.sent + summary.retrying + summary.failed > 0 {
        tracing::info!(
            sent = summary.sent,
            retrying = summary.retrying,
            failed = summary.failed,
            "outbox drained between runs"
        );
    }
}

/// Run until SIGTERM or ctrl-c; returns the exit code.
pub async fn serve(config_path: PathBuf, config: ValidConfig) -> anyhow::Result<i32> {
    let listen = config.service.listen;
    let deps = crate::deps::Deps::open(config).await?;
    let control = Control::new(config_path, deps);
    let mut signals = Signals::new()?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen} ([service] listen)"))?;
    let http = tokio::spawn(crate::service::serve(listener, Arc::clone(&control)));
    let outbox_timer = tokio::spawn(outbox_timer(Arc::clone(&control)));
    {
        let config = control.config();
        tracing::info!(
            config = %control.config_path().display(),
            listen = %listen,
            schedule = %config.schedule.expression,
            timezone = %config.schedule.timezone,
            groups = groups(&config).len(),
            "serving"
        );
    }

    // Catch-up: one run for the groups whose last fire time passed while we were down.
    {
        let deps = control.deps();
        let store = Arc::clone(&deps.store);
        let history = tokio::task::spawn_blocking(move || scheduled_history(&store, 200))
            .await
            .context("reading the run history")??;
        let due = catch_up(
            &groups(&deps.config),
            deps.config.schedule.timezone,
            &history,
            Utc::now(),
        );
        if !due.is_empty() {
            tracing::info!(servers = ?due, "missed a scheduled run while down; catching up once");
            control
                .start_scheduled(
                    due,
                    jitter_delay(deps.config.schedule.jitter, random_u64()),
                    Utc::now(),
                )
                .await;
        }
    }

    let mut last_fired: Option<DateTime<Utc>> = None;
    loop {
        let config = control.config();
        let tz = config.schedule.timezone;
        let now = Utc::now();
        // Never fire the same moment twice, even if the wall clock stepped back.
        let after = last_fired.map_or(now, |l| l.max(now));
        let Some((at, servers)) = next_due(&groups(&config), tz, after) else {
            tracing::warn!("no schedule ever fires; waiting for a signal");
            match signals.next().await {
                Signal::Stop => break,
                Signal::Reload => {
                    control.reload().await;
                    continue;
                }
            }
        };
        tracing::debug!(next = %at.to_rfc3339(), servers = servers.len(), "waiting for the next scheduled run");
        let wait = (at - now).to_std().unwrap_or_default();
        tokio::select! {
            signal = signals.next() => match signal {
                Signal::Stop => break,
                Signal::Reload => {
                    control.reload().await;
                }
            },
            () = tokio::time::sleep(wait) => {
                last_fired = Some(at);
                tracing::info!(fire_time = %at.to_rfc3339(), servers = ?servers, "scheduled run due");
                control
                    .start_scheduled(servers, jitter_delay(config.schedule.jitter, random_u64()), at)
                    .await;
            }
        }
    }

    outbox_timer.abort();
    let grace = control.config().service.grace_period;
    tracing::info!(
        grace_s = grace.as_secs(),
        in_flight = control.busy(),
        "shutting down: no new runs; waiting for the run in flight"
    );
    let finished = control.shutdown(grace).await;
    match tokio::time::timeout(Duration::from_secs(5), http).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "HTTP server stopped with an error"),
        Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server task failed"),
        Err(_) => tracing::warn!("HTTP server did not stop in time"),
    }
    tracing::info!(clean = finished, "stopped");
    Ok(crate::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use std::collections::BTreeSet;

    fn sched(expr: &str) -> cron::Schedule {
        crate::config::parse_cron(expr).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn group(expr: &str, servers: &[&str]) -> ScheduleGroup {
        ScheduleGroup {
            expression: expr.into(),
            schedule: sched(expr),
            servers: servers.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn fire_times_in_a_timezone() {
        let s = sched("0 6 * * *");
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        // 06:00 in Berlin in January is 05:00 UTC.
        let now = utc(2026, 1, 10, 12, 0, 0);
        assert_eq!(fire_after(&s, berlin, now), Some(utc(2026, 1, 11, 5, 0, 0)));
        assert_eq!(
            fire_before(&s, berlin, now),
            Some(utc(2026, 1, 10, 5, 0, 0))
        );
        // A fire exactly now is the previous one, not the next one.
        let at = utc(2026, 1, 10, 5, 0, 0);
        assert_eq!(fire_before(&s, berlin, at), Some(at));
        assert_eq!(fire_after(&s, berlin, at), Some(utc(2026, 1, 11, 5, 0, 0)));
    }

    #[test]
    fn groups_fire_together_when_they_coincide() {
        let gs = vec![
            group("0 */6 * * *", &["a", "b"]),
            group("0 0 * * *", &["c"]),
        ];
        let tz = chrono_tz::UTC;
        let (at, servers) = next_due(&gs, tz, utc(2026, 1, 1, 13, 0, 0)).unwrap();
        assert_eq!(at, utc(2026, 1, 1, 18, 0, 0));
        assert_eq!(servers, vec!["a", "b"]);
        let (at, servers) = next_due(&gs, tz, utc(2026, 1, 1, 19, 0, 0)).unwrap();
        assert_eq!(at, utc(2026, 1, 2, 0, 0, 0));
        assert_eq!(servers, vec!["a", "b", "c"]);
    }

    #[test]
    fn catch_up_runs_missed_groups_once() {
        let gs = vec![group("0 */6 * * *", &["a"]), group("0 0 * * *", &["c"])];
        let tz = chrono_tz::UTC;
        let now = utc(2026, 1, 2, 13, 0, 0);
        let ran = |t: DateTime<Utc>, servers: Option<&[&str]>| PastRun {
            started_at: t,
            servers: servers.map(|s| s.iter().map(|x| x.to_string()).collect()),
        };
        // Down since yesterday 19:00: both groups missed fire times (many for `a`): one list.
        let history = [ran(utc(2026, 1, 1, 18, 0, 1), None)];
        assert_eq!(catch_up(&gs, tz, &history, now), vec!["a", "c"]);
        // `a` ran at 12:00 (its last fire); `c` last ran the day before yesterday.
        let history = [
            ran(utc(2026, 1, 2, 12, 0, 0), Some(&["a"])),
            ran(utc(2026, 1, 1, 0, 0, 0), Some(&["c"])),
        ];
        assert_eq!(catch_up(&gs, tz, &history, now), vec!["c"]);
        // Nothing missed.
        let history = [ran(utc(2026, 1, 2, 12, 0, 3), None)];
        // (`c` fired at 00:00 today, before that run: not missed either.)
        assert!(catch_up(&gs, tz, &history, now).is_empty());
        // A fresh install has nothing to catch up.
        assert!(catch_up(&gs, tz, &[], now).is_empty());
    }

    #[test]
    fn jitter_is_a_share_of_the_configured_spread() {
        assert_eq!(jitter_delay(Duration::ZERO, 12345), Duration::ZERO);
        let j = Duration::from_secs(10);
        for r in [0, 1, 9_999, 10_000, 10_001, u64::MAX] {
            assert!(jitter_delay(j, r) <= j, "{r}");
        }
        assert_eq!(jitter_delay(j, 10_001), Duration::ZERO);
        assert_eq!(jitter_delay(j, 2_500), Duration::from_millis(2_500));
        // Random draws spread over the range rather than sticking to one value.
        let draws: BTreeSet<Duration> = (0..20).map(|_| jitter_delay(j, random_u64())).collect();
        assert!(draws.len() > 1);
    }

    #[test]
    fn groups_of_a_config() {
        let src = r#"
[schedule]
cron = "0 */6 * * *"
[[servers]]
name = "a"
upstream = "/u/a"
owners = ["o@example.com"]
release = { channel = "git-tags", tag-pattern = "^v(.+)$" }
mirror = { forge = "local", repo = "/m/a" }
[[servers]]
name = "b"
upstream = "/u/b"
owners = ["o@example.com"]
schedule = "0 3 * * *"
release = { channel = "git-tags", tag-pattern = "^v(.+)$" }
mirror = { forge = "local", repo = "/m/b" }
[[servers]]
name = "c"
upstream = "/u/c"
owners = ["o@example.com"]
schedule = "0 3 * * *"
release = { channel = "git-tags", tag-pattern = "^v(.+)$" }
mirror = { forge = "local", repo = "/m/c" }
[[servers]]
name = "d"
upstream = "/u/d"
owners = ["o@example.com"]
enabled = false
release = { channel = "git-tags", tag-pattern = "^v(.+)$" }
mirror = { forge = "local", repo = "/m/d" }
"#;
        let config = crate::config::parse(std::path::Path::new("t.toml"), src)
            .unwrap_or_else(|e| panic!("{e}"));
        let gs = groups(&config);
        let names: Vec<(&str, Vec<&str>)> = gs
            .iter()
            .map(|g| {
                (
                    g.expression.as_str(),
                    g.servers.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![("0 */6 * * *", vec!["a"]), ("0 3 * * *", vec!["b", "c"])]
        );
    }
}
