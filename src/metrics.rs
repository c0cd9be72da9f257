//! Prometheus metrics of `serve`, in the text exposition format (version 0.0.4).
//!
//! Run and server counters are folded from the event bus ([`Metrics::observe`]); what the state
//! already knows (emails, held servers, last successes) and the HTTP clients' counters are read
//! at scrape time into a [`Scrape`]. Rendering is pure; this module does no I/O.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::events::Event;
use crate::http::HostMetrics;

/// Upper bounds (seconds) of the run duration histogram.
const RUN_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];
/// Upper bounds (seconds) of the per-server duration histogram.
const SERVER_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Non-cumulative counts per bucket of the family's bounds (the last slot is +Inf).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len() + 1];
        }
        let slot = bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(bounds.len());
        self.counts[slot] += 1;
        self.sum += value;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Counters {
    runs: BTreeMap<(String, String), u64>,
    runs_skipped: BTreeMap<String, u64>,
    run_duration: Histogram,
    server_syncs: BTreeMap<(String, String), u64>,
    server_duration: BTreeMap<String, Histogram>,
    releases_found: BTreeMap<String, u64>,
    /// The last release counted per server, so a release is counted once, not once per run.
    last_release: BTreeMap<String, String>,
    pr_actions: BTreeMap<String, u64>,
    license_verdicts: BTreeMap<String, u64>,
    emails_queued: u64,
    /// Trigger of each run in flight, to label its result.
    triggers: BTreeMap<i64, String>,
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
}

#[derive(Debug, Clone, Default)]
pub struct ServerGauge {
    pub name: String,
    pub held: bool,
    pub last_success: Option<f64>,
}

/// The counters of this process (they start at zero on each start, as Prometheus expects).
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        // Counters stay readable after a panic elsewhere; a scrape must not fail for it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fold one run event into the counters.
    #[allow(clippy::cast_precision_loss)] // Millisecond durations are far below 2^52.
    pub fn observe(&self, event: &Event) {
        let mut c = self.lock();
        match event {
            Event::RunStarted {
                run_id, trigger, ..
            } => {
                c.triggers.insert(*run_id, trigger.clone());
            }
            Event::ServerStarted { .. } | Event::EmailsSent { .. } => {}
            Event::ServerFinished {
                server,
                status,
                latest,
                license_verdict,
                duration_ms,
                ..
            } => {
                *c.server_syncs
                    .entry((server.clone(), status.clone()))
                    .or_default() += 1;
                c.server_duration
                    .entry(server.clone())
                    .or_default()
                    .observe(SERVER_BUCKETS, *duration_ms as f64 / 1000.0);
                if let Some(verdict) = license_verdict {
                    *c.license_verdicts.entry(verdict.clone()).or_default() += 1;
                }
                // A release counts as found when the server acted on it (a PR or a hold).
                if let Some(version) = latest
                    && matches!(status.as_str(), "pr-opened" | "pr-updated" | "held")
                    && c.last_release.get(server) != Some(version)
                {
                    c.last_release.insert(server.clone(), version.clone());
                    *c.releases_found.entry(server.clone()).or_default() += 1;
                }
            }
            Event::PrAction { action, .. } => {
                *c.pr_actions.entry(action.clone()).or_default() += 1;
            }
            Event::EmailQueued { count, .. } => {
                c.emails_queued += u64::try_from(*count).unwrap_or(u64::MAX);
            }
            Event::RunFinished {
                run_id,
                result,
                duration_ms,
            } => {
                let trigger = c
                    .triggers
                    .remove(run_id)
                    .unwrap_or_else(|| "unknown".into());
                *c.runs.entry((trigger, result.clone())).or_default() += 1;
                c.run_duration
                    .observe(RUN_BUCKETS, *duration_ms as f64 / 1000.0);
            }
        }
    }

    /// A run that was not started (`busy`: another run held the lease).
    pub fn record_skipped(&self, reason: &str) {
        *self.lock().runs_skipped.entry(reason.into()).or_default() += 1;
    }

    /// The exposition text: the counters plus what `scrape` says.
    pub fn render(&self, scrape: &Scrape) -> String {
        let c = self.lock();
        let mut w = Writer::default();

        w.family(
            "upkeep_runs_total",
            "counter",
            "Sync runs finished, by trigger and result.",
        );
        for ((trigger, result), n) in &c.runs {
            w.sample(
                "upkeep_runs_total",
                &[("trigger", trigger), ("result", result)],
                count(*n),
            );
        }
        w.family(
            "upkeep_runs_skipped_total",
            "counter",
            "Runs not started, by reason (busy: another run held the lease; state-locked: another process kept the state database locked past [state] busy-timeout).",
        );
        for (reason, n) in &c.runs_skipped {
            w.sample(
                "upkeep_runs_skipped_total",
                &[("reason", reason)],
                count(*n),
            );
        }
        w.family(
            "upkeep_run_in_progress",
            "gauge",
            "1 while a run is in flight in this process.",
        );
        w.sample(
            "upkeep_run_in_progress",
            &[],
            if scrape.run_in_progress { 1.0 } else { 0.0 },
        );
        w.family(
            "upkeep_run_duration_seconds",
            "histogram",
            "Duration of sync runs.",
        );
        w.histogram(
            "upkeep_run_duration_seconds",
            &[],
            RUN_BUCKETS,
            &c.run_duration,
        );
        w.family(
            "upkeep_server_syncs_total",
            "counter",
            "Server syncs finished, by server and status.",
        );
        for ((server, status), n) in &c.server_syncs {
            w.sample(
                "upkeep_server_syncs_total",
                &[("server", server), ("status", status)],
                count(*n),
            );
        }
        w.family(
            "upkeep_server_sync_duration_seconds",
            "histogram",
            "Duration of one server's sync.",
        );
        for (server, h) in &c.server_duration {
            w.histogram(
                "upkeep_server_sync_duration_seconds",
                &[("server", server)],
                SERVER_BUCKETS,
                h,
            );
        }
        w.family(
            "upkeep_releases_found_total",
            "counter",
            "New upstream releases a server acted on (a rebuild PR or a hold).",
        );
        for (server, n) in &c.releases_found {
            w.sample(
                "upkeep_releases_found_total",
                &[("server", server)],
                count(*n),
            );
        }
        w.family(
            "upkeep_pr_actions_total",
            "counter",
            "Rebuild PR actions, by action.",
        );
        for (action, n) in &c.pr_actions {
            w.sample("upkeep_pr_actions_total", &[("action", action)], count(*n));
        }
        w.family(
            "upkeep_license_verdicts_total",
            "counter",
            "License verdicts of server syncs, by verdict.",
        );
        for (verdict, n) in &c.license_verdicts {
            w.sample(
                "upkeep_license_verdicts_total",
                &[("verdict", verdict)],
                count(*n),
            );
        }
        w.family(
            "upkeep_emails_queued_total",
            "counter",
            "Emails queued by runs of this process.",
        );
        w.sample("upkeep_emails_queued_total", &[], count(c.emails_queued));
        drop(c);

        w.family("upkeep_emails", "gauge", "Emails in the outbox, by status.");
        for status in ["pending", "sending", "sent", "failed"] {
            let n = scrape
                .emails
                .iter()
                .filter(|(s, _)| s == status)
                .map(|(_, n)| *n)
                .sum::<i64>();
            #[allow(clippy::cast_precision_loss)] // Row counts are far below 2^52.
            w.sample("upkeep_emails", &[("status", status)], n as f64);
        }
        w.family(
            "upkeep_servers_held",
            "gauge",
            "Servers whose rebuild is held (license review, moved tag).",
        );
        w.sample(
            "upkeep_servers_held",
            &[],
            count(scrape.servers.iter().filter(|s| s.held).count() as u64),
        );
        w.family(
            "upkeep_server_held",
            "gauge",
            "1 when the server's rebuild is held.",
        );
        for s in &scrape.servers {
            w.sample(
                "upkeep_server_held",
                &[("server", &s.name)],
                if s.held { 1.0 } else { 0.0 },
            );
        }
        w.family(
            "upkeep_server_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the server's last successful sync.",
        );
        for s in &scrape.servers {
            if let Some(t) = s.last_success {
                w.sample(
                    "upkeep_server_last_success_timestamp_seconds",
                    &[("server", &s.name)],
                    t,
                );
            }
        }

        w.family(
            "upkeep_http_requests_total",
            "counter",
            "Forge HTTP responses by host and status (network-error: no response).",
        );
        for (host, m) in &scrape.http {
            for (status, n) in &m.requests_by_status {
                w.sample(
                    "upkeep_http_requests_total",
                    &[("host", host), ("status", status)],
                    count(*n),
                );
            }
        }
        w.family(
            "upkeep_http_retries_total",
            "counter",
            "Forge HTTP attempts repeated after a 5xx or a network error, by host.",
        );
        for (host, m) in &scrape.http {
            w.sample(
                "upkeep_http_retries_total",
                &[("host", host)],
                count(m.retries),
            );
        }
        w.family(
            "upkeep_http_rate_limit_waits_total",
            "counter",
            "Waits for a forge rate limit to reset, by host.",
        );
        for (host, m) in &scrape.http {
            w.sample(
                "upkeep_http_rate_limit_waits_total",
                &[("host", host)],
                count(m.rate_limit_waits),
            );
        }
        w.family(
            "upkeep_http_rate_limit_wait_seconds_total",
            "counter",
            "Time spent waiting for forge rate limits, by host.",
        );
        for (host, m) in &scrape.http {
            w.sample(
                "upkeep_http_rate_limit_wait_seconds_total",
                &[("host", host)],
                count(m.rate_limit_wait_ms) / 1000.0,
            );
        }
        w.out
    }
}

#[allow(clippy::cast_precision_loss)] // Counters stay far below 2^52.
fn count(n: u64) -> f64 {
    n as f64
}

/// Writes the exposition format: `# HELP`/`# TYPE` per family, then its samples.
#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", format_value(value));
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], bounds: &[f64], h: &Histogram) {
        let mut cumulative = 0;
        for (i, bound) in bounds
            .iter()
            .map(|b| format_value(*b))
            .chain(std::iter::once("+Inf".to_string()))
            .enumerate()
        {
            cumulative += h.counts.get(i).copied().unwrap_or(0);
            let mut l: Vec<(&str, &str)> = labels.to_vec();
            l.push(("le", &bound));
            self.sample(&format!("{name}_bucket"), &l, count(cumulative));
        }
        self.sample(&format!("{name}_sum"), labels, h.sum);
        self.sample(&format!("{name}_count"), labels, count(h.count));
    }
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
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
        assert!(text.contains("upkeep_run_duration_seconds_sum 2\n"));
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
            },
        );
        let text = m.render(&Scrape {
            emails: vec![("failed".into(), 1), ("sent".into(), 4)],
            servers: vec![
                ServerGauge {
                    name: "we\"ird\\name".into(),
                    held: true,
                    last_success: Some(1_700_000_000.0),
                },
                ServerGauge {
                    name: "plain".into(),
                    held: false,
                    last_success: None,
                },
            ],
            http,
            run_in_progress: true,
        });
        assert!(text.contains("upkeep_emails{status=\"pending\"} 0\n"));
        assert!(text.contains("upkeep_emails{status=\"sent\"} 4\n"));
        assert!(text.contains("upkeep_emails{status=\"failed\"} 1\n"));
        assert!(text.contains("upkeep_servers_held 1\n"));
        assert!(text.contains("upkeep_server_held{server=\"we\\\"ird\\\\name\"} 1\n"));
        assert!(text.contains(
            "upkeep_server_last_success_timestamp_seconds{server=\"we\\\"ird\\\\name\"} 1700000000\n"
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
        // Every family is declared once, before its samples.
        let mut declared = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap();
                assert!(declared.insert(name.to_string()), "{name} declared twice");
            }
        }
    }
}
