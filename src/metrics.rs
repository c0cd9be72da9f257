//! Prometheus metrics of `serve`, in the text exposition format (version 0.0.4), written by the
//! official `prometheus-client` crate (names, escaping, histogram buckets, number formatting).
//!
//! Two kinds of family, each registered in one place:
//! - **folded from run events** ([`Metrics::observe`]), living as long as the process:
//!   [`Families::register`]. A new counter or histogram (e.g. the lead time of a rebuild) is a
//!   field there, one `register` line, and the event arm that feeds it.
//! - **read at scrape time** from what the state and the HTTP clients know ([`Scrape`]):
//!   [`register_scrape`]. A new gauge (per server, per host) is a field of `Scrape`, filled by
//!   the `/metrics` handler, and a few lines there.
//!
//! Rendering does no I/O.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::events::Event;
use crate::http::HostMetrics;

/// The `Content-Type` of what [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the run duration histogram.
const RUN_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];
/// Upper bounds (seconds) of the per-server duration histogram.
const SERVER_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

// Label sets: the field names are the label names, in this order.

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    trigger: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HolderLabels {
    holder: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabels {
    server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerSeverityLabels {
    server: String,
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerStatusLabels {
    server: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    verdict: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabels {
    host: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostStatusLabels {
    host: String,
    status: String,
}

/// A counter of seconds (fractional).
type SecondsCounter = Counter<f64, AtomicU64>;
/// A gauge of fractional values (timestamps).
type FloatGauge = Gauge<f64, AtomicU64>;

fn server_histogram() -> Histogram {
    Histogram::new(SERVER_BUCKETS.iter().copied())
}

/// The families folded from run events. Counter names are registered without `_total`: the
/// crate appends it.
struct Families {
    runs: Family<RunLabels, Counter>,
    runs_skipped: Family<ReasonLabels, Counter>,
    run_duration: Histogram,
    server_syncs: Family<ServerStatusLabels, Counter>,
    server_duration: Family<ServerLabels, Histogram, fn() -> Histogram>,
    releases_found: Family<ServerLabels, Counter>,
    pr_actions: Family<ActionLabels, Counter>,
    license_verdicts: Family<VerdictLabels, Counter>,
    emails_queued: Counter,
    claims_taken_over: Counter,
    claims_lost: Counter,
    config_reloads: Family<ResultLabels, Counter>,
    config_reload_ok: Gauge,
}

impl Families {
    /// Every event-fed family, registered once for the life of the process.
    fn register(r: &mut Registry) -> Families {
        let f = Families {
            runs: Family::default(),
            runs_skipped: Family::default(),
            run_duration: Histogram::new(RUN_BUCKETS.iter().copied()),
            server_syncs: Family::default(),
            server_duration: Family::new_with_constructor(server_histogram),
            releases_found: Family::default(),
            pr_actions: Family::default(),
            license_verdicts: Family::default(),
            emails_queued: Counter::default(),
            claims_taken_over: Counter::default(),
            claims_lost: Counter::default(),
            config_reloads: Family::default(),
            config_reload_ok: Gauge::default(),
        };
        // No reload yet: the config in use is the one the service started with, which loaded.
        f.config_reload_ok.set(1);
        r.register(
            "upkeep_runs",
            "Sync runs finished, by trigger and result",
            f.runs.clone(),
        );
        r.register(
            "upkeep_runs_skipped",
            "Runs not started or not recorded, by reason (busy: another run held the lease; \
             state-locked: another process kept the state database locked past [state] \
             busy-timeout; done-elsewhere: a scheduled run found every server synced by \
             another replica)",
            f.runs_skipped.clone(),
        );
        r.register(
            "upkeep_run_duration_seconds",
            "Duration of sync runs",
            f.run_duration.clone(),
        );
        r.register(
            "upkeep_server_syncs",
            "Server syncs finished, by server and status",
            f.server_syncs.clone(),
        );
        r.register(
            "upkeep_server_sync_duration_seconds",
            "Duration of one server's sync",
            f.server_duration.clone(),
        );
        r.register(
            "upkeep_releases_found",
            "New upstream releases a server acted on (a rebuild PR or a hold)",
            f.releases_found.clone(),
        );
        r.register(
            "upkeep_pr_actions",
            "Rebuild PR actions, by action",
            f.pr_actions.clone(),
        );
        r.register(
            "upkeep_license_verdicts",
            "License verdicts of server syncs, by verdict",
            f.license_verdicts.clone(),
        );
        r.register(
            "upkeep_emails_queued",
            "Emails queued by runs of this process",
            f.emails_queued.clone(),
        );
        r.register(
            "upkeep_claims_taken_over",
            "Servers this process took over after another process's claim expired (shared state)",
            f.claims_taken_over.clone(),
        );
        r.register(
            "upkeep_claims_lost",
            "Claims of this process that expired while its sync ran (shared state)",
            f.claims_lost.clone(),
        );
        r.register(
            "upkeep_config_reloads",
            "Config reloads (SIGHUP), by result (applied; invalid: the file did not validate; \
             refused: it names another state database, which takes a restart; failed: its \
             state could not be opened)",
            f.config_reloads.clone(),
        );
        r.register(
            "upkeep_config_last_reload_successful",
            "1 when the last config reload was applied (or none was asked for), 0 when the \
             service kept its old config",
            f.config_reload_ok.clone(),
        );
        f
    }
}

/// What the state and the HTTP clients say at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// Outbox rows by status (pending, sending, sent, failed).
    pub emails: Vec<(String, i64)>,
    /// Per configured server: whether it is held, and its last success (Unix seconds).
    pub servers: Vec<ServerGauge>,
    /// Per-host HTTP counters of the forge clients.
    pub http: BTreeMap<String, HostMetrics>,
    /// A run is in flight in this process.
    pub run_in_progress: bool,
    /// Every merged rebuild's lead time (release published to PR merged), seconds. Read from
    /// the state at scrape time rather than folded from events: a restart must not forget them.
    pub lead_times: Vec<f64>,
    /// Claims held now, per holder (shared state; empty on SQLite).
    pub claims: Vec<(String, i64)>,
    /// This process's PostgreSQL connection pool (`None` on SQLite: no family is written).
    pub state_pool: Option<PoolGauge>,
}

/// How the state's connection pool stands (see `store::db::Pool`).
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolGauge {
    /// `[state] pool-size`.
    pub size: u64,
    pub in_use: u64,
    pub idle: u64,
    /// Calls that found every connection in use and waited, since the process started.
    pub waits: u64,
    /// Of those, the ones that gave up.
    pub timeouts: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ServerGauge {
    pub name: String,
    pub held: bool,
    pub last_success: Option<f64>,
    /// Advisories against the pinned release per severity (empty: never looked up).
    pub advisories: Vec<(String, usize)>,
    /// Proposable releases newer than the pin (issue 17).
    pub releases_behind: u32,
    /// Seconds since the oldest of them was published (0 when current; None: unknown).
    pub lag_seconds: Option<u64>,
}

/// Every scrape-time family, registered into a registry made for one scrape and filled from
/// `scrape`. Cumulative values kept elsewhere (the HTTP clients' counts) are counters whose
/// single increment is the total so far.
fn register_scrape(r: &mut Registry, scrape: &Scrape) {
    let run_in_progress = Gauge::<i64>::default();
    run_in_progress.set(i64::from(scrape.run_in_progress));
    r.register(
        "upkeep_run_in_progress",
        "1 while a run is in flight in this process",
        run_in_progress,
    );

    let emails = Family::<StatusLabels, Gauge>::default();
    for status in ["pending", "sending", "sent", "failed"] {
        let n: i64 = scrape
            .emails
            .iter()
            .filter(|(s, _)| s == status)
            .map(|(_, n)| *n)
            .sum();
        emails
            .get_or_create(&StatusLabels {
                status: status.into(),
            })
            .set(n);
    }
    r.register("upkeep_emails", "Emails in the outbox, by status", emails);
    register_servers(r, scrape);
    register_http(r, scrape);
    register_fleet(r, scrape);
    let claims = Family::<HolderLabels, Gauge>::default();
    for (holder, n) in &scrape.claims {
        claims
            .get_or_create(&HolderLabels {
                holder: holder.clone(),
            })
            .set(*n);
    }
    r.register(
        "upkeep_claims_held",
        "Servers claimed now, by the process holding them (shared state)",
        claims,
    );
    if let Some(pool) = &scrape.state_pool {
        register_state_pool(r, pool);
    }
}

/// The PostgreSQL connection pool: its size, its connections by state, and the waits for one.
fn register_state_pool(r: &mut Registry, pool: &PoolGauge) {
    let gauge = |n: u64| {
        let g = Gauge::<i64>::default();
        g.set(i64::try_from(n).unwrap_or(i64::MAX));
        g
    };
    let counter = |n: u64| {
        let c = Counter::<u64>::default();
        c.inc_by(n);
        c
    };
    r.register(
        "upkeep_state_pool_size",
        "Most connections this process opens to the PostgreSQL state ([state] pool-size)",
        gauge(pool.size),
    );
    let connections = Family::<StatusLabels, Gauge>::default();
    for (status, n) in [("in-use", pool.in_use), ("idle", pool.idle)] {
        connections
            .get_or_create(&StatusLabels {
                status: status.into(),
            })
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    r.register(
        "upkeep_state_pool_connections",
        "Open connections to the PostgreSQL state, in use or idle",
        connections,
    );
    r.register(
        "upkeep_state_pool_waits",
        "Calls that found every pooled PostgreSQL connection in use and waited for one",
        counter(pool.waits),
    );
    r.register(
        "upkeep_state_pool_wait_timeouts",
        "Waits for a pooled PostgreSQL connection that gave up (raise [state] pool-size)",
        counter(pool.timeouts),
    );
}

/// Per server: held, last success, advisories by severity; and how many are held.
fn register_servers(r: &mut Registry, scrape: &Scrape) {
    let held = Family::<ServerLabels, Gauge>::default();
    let last_success = Family::<ServerLabels, FloatGauge>::default();
    for s in &scrape.servers {
        let labels = ServerLabels {
            server: s.name.clone(),
        };
        held.get_or_create(&labels).set(i64::from(s.held));
        if let Some(t) = s.last_success {
            last_success.get_or_create(&labels).set(t);
        }
    }
    let advisories = Family::<ServerSeverityLabels, Gauge>::default();
    for s in &scrape.servers {
        for (severity, n) in &s.advisories {
            advisories
                .get_or_create(&ServerSeverityLabels {
                    server: s.name.clone(),
                    severity: severity.clone(),
                })
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }
    r.register(
        "upkeep_server_advisories",
        "Known advisories against the server's pinned release, by severity (last check)",
        advisories,
    );
    let servers_held = Gauge::<i64>::default();
    servers_held
        .set(i64::try_from(scrape.servers.iter().filter(|s| s.held).count()).unwrap_or(i64::MAX));
    r.register(
        "upkeep_servers_held",
        "Servers whose rebuild is held (license review, moved tag)",
        servers_held,
    );
    r.register(
        "upkeep_server_held",
        "1 when the server's rebuild is held",
        held,
    );
    r.register(
        "upkeep_server_last_success_timestamp_seconds",
        "Unix time of the server's last successful sync",
        last_success,
    );
}

/// The HTTP clients' counts by host: responses, retries, rate-limit waits and budgets.
fn register_http(r: &mut Registry, scrape: &Scrape) {
    let requests = Family::<HostStatusLabels, Counter>::default();
    let retries = Family::<HostLabels, Counter>::default();
    let waits = Family::<HostLabels, Counter>::default();
    let waited = Family::<HostLabels, SecondsCounter>::default();
    let remaining = Family::<HostLabels, Gauge>::default();
    let reset = Family::<HostLabels, Gauge>::default();
    for (host, m) in &scrape.http {
        for (status, n) in &m.requests_by_status {
            requests
                .get_or_create(&HostStatusLabels {
                    host: host.clone(),
                    status: status.clone(),
                })
                .inc_by(*n);
        }
        let labels = HostLabels { host: host.clone() };
        retries.get_or_create(&labels).inc_by(m.retries);
        waits.get_or_create(&labels).inc_by(m.rate_limit_waits);
        #[allow(clippy::cast_precision_loss)] // Milliseconds waited stay far below 2^52.
        waited
            .get_or_create(&labels)
            .inc_by(m.rate_limit_wait_ms as f64 / 1000.0);
        // Only hosts that report a budget (GitHub always; Azure DevOps near its limit).
        if let Some(n) = m.rate_limit_remaining {
            remaining
                .get_or_create(&labels)
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        if let Some(at) = m.rate_limit_reset {
            reset
                .get_or_create(&labels)
                .set(i64::try_from(at).unwrap_or(i64::MAX));
        }
    }
    r.register(
        "upkeep_http_requests",
        "Forge HTTP responses by host and status (network-error: no response)",
        requests,
    );
    r.register(
        "upkeep_http_retries",
        "Forge HTTP attempts repeated after a 5xx or a network error, by host",
        retries,
    );
    r.register(
        "upkeep_http_rate_limit_waits",
        "Waits for a forge rate limit to reset, by host",
        waits,
    );
    r.register(
        "upkeep_http_rate_limit_wait_seconds",
        "Time spent waiting for forge rate limits, by host",
        waited,
    );
    r.register(
        "upkeep_http_rate_limit_remaining",
        "Requests (GitHub) or TSTUs (Azure DevOps) left in the host's rate-limit budget, as its last answer reported",
        remaining,
    );
    r.register(
        "upkeep_http_rate_limit_reset_timestamp_seconds",
        "Unix time the host's rate-limit budget resets, as its last answer reported",
        reset,
    );
}

/// Upper bounds (seconds) of the rebuild lead time histogram: an hour to a quarter.
const LEAD_TIME_BUCKETS: &[f64] = &[
    3_600.0,
    21_600.0,
    86_400.0,
    172_800.0,
    259_200.0,
    604_800.0,
    1_209_600.0,
    2_592_000.0,
    5_184_000.0,
    7_776_000.0,
];

/// The fleet at a glance (issue 17): how far behind each server is, and the lead time of the
/// merged rebuilds.
fn register_fleet(r: &mut Registry, scrape: &Scrape) {
    let behind = Family::<ServerLabels, Gauge>::default();
    let lag = Family::<ServerLabels, Gauge>::default();
    for s in &scrape.servers {
        let labels = ServerLabels {
            server: s.name.clone(),
        };
        behind
            .get_or_create(&labels)
            .set(i64::from(s.releases_behind));
        if let Some(l) = s.lag_seconds {
            lag.get_or_create(&labels)
                .set(i64::try_from(l).unwrap_or(i64::MAX));
        }
    }
    r.register(
        "upkeep_server_releases_behind",
        "Proposable upstream releases newer than the server's pin (last full check)",
        behind,
    );
    r.register(
        "upkeep_server_lag_seconds",
        "Seconds since the oldest release newer than the pin was published (0 when current)",
        lag,
    );
    let lead = Histogram::new(LEAD_TIME_BUCKETS.iter().copied());
    for t in &scrape.lead_times {
        lead.observe(*t);
    }
    r.register(
        "upkeep_rebuild_lead_time_seconds",
        "Time from an upstream release's publication to the merge of its rebuild PR",
        lead,
    );
}

/// What folding events needs to remember besides the counters.
#[derive(Debug, Default)]
struct Fold {
    /// The last release counted per server, so a release is counted once, not once per run.
    last_release: BTreeMap<String, String>,
    /// Trigger of each run in flight, to label its result.
    triggers: BTreeMap<i64, String>,
}

/// The counters of this process (they start at zero on each start, as Prometheus expects).
pub struct Metrics {
    registry: Registry,
    families: Families,
    fold: Mutex<Fold>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let families = Families::register(&mut registry);
        Metrics {
            registry,
            families,
            fold: Mutex::default(),
        }
    }

    fn fold(&self) -> std::sync::MutexGuard<'_, Fold> {
        // The fold state stays usable after a panic elsewhere; a scrape must not fail for it.
        self.fold
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fold one run event into the counters.
    #[allow(clippy::cast_precision_loss)] // Millisecond durations are far below 2^52.
    pub fn observe(&self, event: &Event) {
        let f = &self.families;
        match event {
            Event::RunStarted {
                run_id, trigger, ..
            } => {
                self.fold().triggers.insert(*run_id, trigger.clone());
            }
            Event::ServerStarted { .. } | Event::EmailsSent { .. } => {}
            Event::ClaimTakenOver { .. } => {
                f.claims_taken_over.inc();
            }
            Event::ClaimLost { .. } => {
                f.claims_lost.inc();
            }
            Event::ServerFinished {
                server,
                status,
                latest,
                license_verdict,
                duration_ms,
                ..
            } => {
                f.server_syncs
                    .get_or_create(&ServerStatusLabels {
                        server: server.clone(),
                        status: status.clone(),
                    })
                    .inc();
                f.server_duration
                    .get_or_create(&ServerLabels {
                        server: server.clone(),
                    })
                    .observe(*duration_ms as f64 / 1000.0);
                if let Some(verdict) = license_verdict {
                    f.license_verdicts
                        .get_or_create(&VerdictLabels {
                            verdict: verdict.clone(),
                        })
                        .inc();
                }
                // A release counts as found when the server acted on it (a PR or a hold).
                if let Some(version) = latest
                    && matches!(
                        status.as_str(),
                        "pr-opened" | "pr-updated" | "pr-open" | "held"
                    )
                {
                    let mut fold = self.fold();
                    if fold.last_release.get(server) != Some(version) {
                        fold.last_release.insert(server.clone(), version.clone());
                        f.releases_found
                            .get_or_create(&ServerLabels {
                                server: server.clone(),
                            })
                            .inc();
                    }
                }
            }
            Event::PrAction { action, .. } => {
                f.pr_actions
                    .get_or_create(&ActionLabels {
                        action: action.clone(),
                    })
                    .inc();
            }
            Event::EmailQueued { count, .. } => {
                f.emails_queued
                    .inc_by(u64::try_from(*count).unwrap_or(u64::MAX));
            }
            Event::RunFinished {
                run_id,
                result,
                duration_ms,
            } => {
                let trigger = self
                    .fold()
                    .triggers
                    .remove(run_id)
                    .unwrap_or_else(|| "unknown".into());
                // Not kept in the state either: counted with the runs that did not happen.
                if result == crate::events::NOTHING_TO_DO {
                    self.record_skipped("done-elsewhere");
                    return;
                }
                f.runs
                    .get_or_create(&RunLabels {
                        trigger,
                        result: result.clone(),
                    })
                    .inc();
                f.run_duration.observe(*duration_ms as f64 / 1000.0);
            }
        }
    }

    /// A run that was not started (`busy`: another run held the lease), or not recorded.
    pub fn record_skipped(&self, reason: &str) {
        self.families
            .runs_skipped
            .get_or_create(&ReasonLabels {
                reason: reason.into(),
            })
            .inc();
    }

    /// A config reload ended with `result` (`applied`, `invalid`, `refused`, `failed`).
    pub fn record_reload(&self, result: &str, applied: bool) {
        let f = &self.families;
        f.config_reloads
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
        f.config_reload_ok.set(i64::from(applied));
    }

    /// The exposition text: the counters plus what `scrape` says.
    pub fn render(&self, scrape: &Scrape) -> String {
        let mut scraped = Registry::default();
        register_scrape(&mut scraped, scrape);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        let _ = prometheus_text::encode(&mut out, &scraped);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(server: &str, status: &str, latest: Option<&str>, ms: u64) -> Event {
        Event::ServerFinished {
            run_id: 1,
            server: server.into(),
            status: status.into(),
            latest: latest.map(String::from),
            license_verdict: Some("unchanged".into()),
            error: None,
            duration_ms: ms,
        }
    }

    #[test]
    fn counters_follow_the_events_of_a_run() {
        let m = Metrics::new();
        m.observe(&Event::RunStarted {
            run_id: 1,
            trigger: "schedule".into(),
            dry_run: false,
            servers: 2,
        });
        m.observe(&finished("alpha", "pr-opened", Some("1.1.0"), 700));
        m.observe(&finished("beta", "up-to-date", Some("2.0.0"), 30));
        m.observe(&Event::PrAction {
            run_id: 1,
            server: "alpha".into(),
            action: "created".into(),
            url: None,
        });
        m.observe(&Event::RunFinished {
            run_id: 1,
            result: "ok".into(),
            duration_ms: 2_000,
        });
        let text = m.render(&Scrape::default());
        assert!(text.contains("upkeep_runs_total{trigger=\"schedule\",result=\"ok\"} 1\n"));
        assert!(
            text.contains("upkeep_server_syncs_total{server=\"alpha\",status=\"pr-opened\"} 1\n")
        );
        assert!(text.contains("upkeep_pr_actions_total{action=\"created\"} 1\n"));
        assert!(text.contains("upkeep_license_verdicts_total{verdict=\"unchanged\"} 2\n"));
        // Only the release acted on counts as found.
        assert!(text.contains("upkeep_releases_found_total{server=\"alpha\"} 1\n"));
        assert!(!text.contains("upkeep_releases_found_total{server=\"beta\"}"));
        // 2 s lands in the 5 s bucket and every bucket above it, not in the 1 s one.
        assert!(text.contains("upkeep_run_duration_seconds_bucket{le=\"1\"} 0\n"));
        assert!(text.contains("upkeep_run_duration_seconds_bucket{le=\"5\"} 1\n"));
        assert!(text.contains("upkeep_run_duration_seconds_bucket{le=\"+Inf\"} 1\n"));
        // The crate writes float samples with a decimal point (`2.0`); scrapers read the same
        // number as the hand-written `2` of before.
        assert!(text.contains("upkeep_run_duration_seconds_sum 2.0\n"));
        assert!(text.contains(
            "upkeep_server_sync_duration_seconds_bucket{server=\"alpha\",le=\"0.5\"} 0\n"
        ));
        assert!(
            text.contains(
                "upkeep_server_sync_duration_seconds_bucket{server=\"alpha\",le=\"1\"} 1\n"
            )
        );
    }

    #[test]
    fn a_run_with_nothing_to_do_counts_as_skipped_not_as_a_run() {
        let m = Metrics::new();
        m.observe(&Event::RunStarted {
            run_id: 7,
            trigger: "schedule".into(),
            dry_run: false,
            servers: 1,
        });
        m.observe(&finished("alpha", "skipped", None, 3));
        m.observe(&Event::RunFinished {
            run_id: 7,
            result: crate::events::NOTHING_TO_DO.into(),
            duration_ms: 10,
        });
        let text = m.render(&Scrape::default());
        assert!(
            text.contains("upkeep_runs_skipped_total{reason=\"done-elsewhere\"} 1\n"),
            "{text}"
        );
        assert!(!text.contains("upkeep_runs_total{"), "{text}");
        assert!(
            text.contains("upkeep_run_duration_seconds_count 0\n"),
            "{text}"
        );
        // The skip itself stays visible per server.
        assert!(
            text.contains("upkeep_server_syncs_total{server=\"alpha\",status=\"skipped\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn claims_taken_over_and_lost_are_counted() {
        let m = Metrics::new();
        for server in ["a", "b"] {
            m.observe(&Event::ClaimTakenOver {
                server: server.into(),
                previous: "host-b:7:schedule".into(),
            });
        }
        m.observe(&Event::ClaimLost { server: "c".into() });
        let text = m.render(&Scrape::default());
        assert!(
            text.contains("upkeep_claims_taken_over_total 2\n"),
            "{text}"
        );
        assert!(text.contains("upkeep_claims_lost_total 1\n"), "{text}");
    }

    #[test]
    fn the_same_release_is_found_once() {
        let m = Metrics::new();
        for _ in 0..3 {
            m.observe(&finished("alpha", "pr-opened", Some("1.1.0"), 1));
        }
        m.observe(&finished("alpha", "pr-updated", Some("1.2.0"), 1));
        let text = m.render(&Scrape::default());
        assert!(text.contains("upkeep_releases_found_total{server=\"alpha\"} 2\n"));
    }

    #[test]
    fn scrape_values_and_label_escaping() {
        let m = Metrics::new();
        let mut http = BTreeMap::new();
        http.insert(
            "api.github.com".to_string(),
            HostMetrics {
                requests_by_status: [("200".to_string(), 5), ("403".to_string(), 1)].into(),
                retries: 2,
                rate_limit_waits: 1,
                rate_limit_wait_ms: 1_500,
                rate_limit_remaining: Some(4_321),
                rate_limit_reset: Some(1_700_000_900),
            },
        );
        let text = m.render(&Scrape {
            emails: vec![("failed".into(), 1), ("sent".into(), 4)],
            servers: vec![
                ServerGauge {
                    name: "we\"ird\\name".into(),
                    held: true,
                    last_success: Some(1_700_000_000.0),
                    advisories: vec![("high".into(), 2), ("low".into(), 0)],
                    ..ServerGauge::default()
                },
                ServerGauge {
                    name: "plain".into(),
                    held: false,
                    last_success: None,
                    advisories: Vec::new(),
                    ..ServerGauge::default()
                },
            ],
            http,
            run_in_progress: true,
            lead_times: Vec::new(),
            claims: vec![("host-a:41:schedule".into(), 3)],
            // SQLite: one connection, no pool families.
            state_pool: None,
        });
        assert!(!text.contains("upkeep_state_pool"), "{text}");
        assert!(text.contains("upkeep_emails{status=\"pending\"} 0\n"));
        assert!(text.contains("upkeep_emails{status=\"sent\"} 4\n"));
        assert!(text.contains("upkeep_emails{status=\"failed\"} 1\n"));
        assert!(text.contains("upkeep_servers_held 1\n"));
        assert!(text.contains("upkeep_server_held{server=\"we\\\"ird\\\\name\"} 1\n"));
        // A float sample, written `1700000000.0` by the crate (the same number).
        assert!(text.contains(
            "upkeep_server_last_success_timestamp_seconds{server=\"we\\\"ird\\\\name\"} 1700000000.0\n"
        ));
        assert!(!text.contains("upkeep_server_last_success_timestamp_seconds{server=\"plain\"}"));
        assert!(
            text.contains("upkeep_http_requests_total{host=\"api.github.com\",status=\"403\"} 1\n")
        );
        assert!(
            text.contains(
                "upkeep_http_rate_limit_wait_seconds_total{host=\"api.github.com\"} 1.5\n"
            )
        );
        assert!(text.contains("upkeep_run_in_progress 1\n"));
        assert!(text.contains("upkeep_claims_held{holder=\"host-a:41:schedule\"} 3\n"));
        assert!(text.contains(
            "upkeep_server_advisories{server=\"we\\\"ird\\\\name\",severity=\"high\"} 2\n"
        ));
        assert!(!text.contains("upkeep_server_advisories{server=\"plain\""));
        assert!(text.contains("upkeep_http_rate_limit_remaining{host=\"api.github.com\"} 4321\n"));
        assert!(text.contains(
            "upkeep_http_rate_limit_reset_timestamp_seconds{host=\"api.github.com\"} 1700000900\n"
        ));
        // Every family is declared once, before its samples.
        let mut declared = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap();
                assert!(declared.insert(name.to_string()), "{name} declared twice");
            }
        }
    }

    #[test]
    fn fleet_gauges_and_the_lead_time_histogram() {
        let text = Metrics::new().render(&Scrape {
            servers: vec![
                ServerGauge {
                    name: "behind".into(),
                    releases_behind: 3,
                    lag_seconds: Some(1_209_600),
                    ..ServerGauge::default()
                },
                ServerGauge {
                    name: "unknown-lag".into(),
                    releases_behind: 1,
                    lag_seconds: None,
                    ..ServerGauge::default()
                },
            ],
            lead_times: vec![7_200.0, 200_000.0, 10_000_000.0],
            ..Scrape::default()
        });
        for line in [
            "upkeep_server_releases_behind{server=\"behind\"} 3\n",
            "upkeep_server_releases_behind{server=\"unknown-lag\"} 1\n",
            "upkeep_server_lag_seconds{server=\"behind\"} 1209600\n",
            "upkeep_rebuild_lead_time_seconds_count 3\n",
            "upkeep_rebuild_lead_time_seconds_bucket{le=\"21600\"} 1\n",
            "upkeep_rebuild_lead_time_seconds_bucket{le=\"259200\"} 2\n",
            "upkeep_rebuild_lead_time_seconds_bucket{le=\"+Inf\"} 3\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        // An unknown lag is no series, never a made-up zero.
        assert!(!text.contains("upkeep_server_lag_seconds{server=\"unknown-lag\"}"));
    }

    #[test]
    fn reloads_are_counted_by_result_and_the_last_one_is_a_gauge() {
        let m = Metrics::new();
        let text = m.render(&Scrape::default());
        assert!(
            text.contains("upkeep_config_last_reload_successful 1\n"),
            "{text}"
        );
        m.record_reload("refused", false);
        let text = m.render(&Scrape::default());
        assert!(
            text.contains("upkeep_config_reloads_total{result=\"refused\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("upkeep_config_last_reload_successful 0\n"),
            "{text}"
        );
        m.record_reload("applied", true);
        let text = m.render(&Scrape::default());
        assert!(
            text.contains("upkeep_config_last_reload_successful 1\n"),
            "{text}"
        );
    }

    #[test]
    fn the_state_pool_gauges_carry_its_numbers() {
        let text = scrape_with_every_family();
        for line in [
            "upkeep_state_pool_size 8\n",
            "upkeep_state_pool_connections{status=\"in-use\"} 2\n",
            "upkeep_state_pool_connections{status=\"idle\"} 1\n",
            "upkeep_state_pool_waits_total 5\n",
            "upkeep_state_pool_wait_timeouts_total 1\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    /// A scrape where every family has a series (a family with none is not written at all,
    /// as client_golang does for an empty vector).
    fn scrape_with_every_family() -> String {
        let m = Metrics::new();
        m.observe(&Event::RunStarted {
            run_id: 1,
            trigger: "manual".into(),
            dry_run: false,
            servers: 1,
        });
        m.observe(&finished("alpha", "held", Some("1.1.0"), 5));
        m.observe(&Event::PrAction {
            run_id: 1,
            server: "alpha".into(),
            action: "created".into(),
            url: None,
        });
        m.observe(&Event::EmailQueued {
            run_id: 1,
            server: "alpha".into(),
            count: 1,
        });
        m.observe(&Event::RunFinished {
            run_id: 1,
            result: "ok".into(),
            duration_ms: 10,
        });
        m.record_skipped("busy");
        m.record_reload("refused", false);
        m.render(&Scrape {
            emails: Vec::new(),
            servers: vec![ServerGauge {
                name: "alpha".into(),
                held: true,
                last_success: Some(1.0),
                advisories: vec![("high".into(), 1)],
                releases_behind: 2,
                lag_seconds: Some(86_400),
            }],
            http: [(
                "api.github.com".to_string(),
                HostMetrics {
                    requests_by_status: [("200".to_string(), 1)].into(),
                    rate_limit_remaining: Some(4_999),
                    rate_limit_reset: Some(1_700_000_000),
                    ..HostMetrics::default()
                },
            )]
            .into(),
            run_in_progress: false,
            lead_times: vec![7_200.0],
            claims: vec![("host-a:41:schedule".into(), 1)],
            state_pool: Some(PoolGauge {
                size: 8,
                in_use: 2,
                idle: 1,
                waits: 5,
                timeouts: 1,
            }),
        })
    }

    #[test]
    fn every_family_keeps_its_name_and_type() {
        let text = scrape_with_every_family();
        let declared: Vec<(&str, &str)> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.split_once(' '))
            .collect();
        let mut expected = vec![
            ("upkeep_runs_total", "counter"),
            ("upkeep_runs_skipped_total", "counter"),
            ("upkeep_run_in_progress", "gauge"),
            ("upkeep_run_duration_seconds", "histogram"),
            ("upkeep_server_syncs_total", "counter"),
            ("upkeep_server_sync_duration_seconds", "histogram"),
            ("upkeep_releases_found_total", "counter"),
            ("upkeep_pr_actions_total", "counter"),
            ("upkeep_license_verdicts_total", "counter"),
            ("upkeep_emails_queued_total", "counter"),
            ("upkeep_emails", "gauge"),
            ("upkeep_servers_held", "gauge"),
            ("upkeep_server_held", "gauge"),
            ("upkeep_server_advisories", "gauge"),
            ("upkeep_server_last_success_timestamp_seconds", "gauge"),
            ("upkeep_http_requests_total", "counter"),
            ("upkeep_http_retries_total", "counter"),
            ("upkeep_http_rate_limit_waits_total", "counter"),
            ("upkeep_http_rate_limit_wait_seconds_total", "counter"),
            ("upkeep_http_rate_limit_remaining", "gauge"),
            ("upkeep_http_rate_limit_reset_timestamp_seconds", "gauge"),
            ("upkeep_server_releases_behind", "gauge"),
            ("upkeep_server_lag_seconds", "gauge"),
            ("upkeep_rebuild_lead_time_seconds", "histogram"),
            ("upkeep_claims_taken_over_total", "counter"),
            ("upkeep_claims_lost_total", "counter"),
            ("upkeep_claims_held", "gauge"),
            ("upkeep_state_pool_size", "gauge"),
            ("upkeep_state_pool_connections", "gauge"),
            ("upkeep_state_pool_waits_total", "counter"),
            ("upkeep_state_pool_wait_timeouts_total", "counter"),
            ("upkeep_config_reloads_total", "counter"),
            ("upkeep_config_last_reload_successful", "gauge"),
        ];
        let mut declared_sorted = declared.clone();
        declared_sorted.sort_unstable();
        expected.sort_unstable();
        assert_eq!(declared_sorted, expected, "{text}");
        // Every family has one HELP line, ending in one full stop (the crate adds it).
        for (name, _) in &declared {
            let help = text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("# HELP {name} ")))
                .unwrap_or_else(|| panic!("no HELP for {name}"));
            assert!(
                help.ends_with('.') && !help.ends_with(".."),
                "{name}: {help}"
            );
        }
    }
}
