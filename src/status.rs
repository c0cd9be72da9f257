//! What `status` shows (and `/status` serves): per server, the pinned and latest versions, the
//! open PR, pending emails and the last run. Also the human summary of a run report.

use std::fmt::Write as _;

use serde::Serialize;

use crate::advisories::AdvisoryReport;
use crate::config::ValidConfig;
use crate::freshness::{self, Freshness};
use crate::report::{RunReport, Status};
use crate::store::{LeaseHolder, Store};

#[derive(Debug, Serialize)]
pub struct StatusDoc {
    pub servers: Vec<ServerStatus>,
    /// Outbox rows by status, all servers.
    pub outbox: Vec<(String, i64)>,
    /// The run in progress, if any.
    pub running: Option<LeaseHolder>,
}

#[derive(Debug, Serialize)]
pub struct OpenPr {
    pub version: String,
    pub url: Option<String>,
    pub held: bool,
    pub since: String,
    /// What upkeep last did about the forge's auto-merge of the PR; None when auto-merge was
    /// never considered for it (not configured, or no full check since).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_merge: Option<AutoMergeStatus>,
}

/// The PR's auto-merge as `status` shows it: `armed`, `arming` (a run ended while asking the
/// forge), `merged`, `refused` (the forge's words in `note`), `blocked` (by the named guards)
/// or `off`.
#[derive(Debug, Serialize)]
pub struct AutoMergeStatus {
    pub state: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl AutoMergeStatus {
    /// One line for the `status` table, e.g. "armed (squash)" or "blocked: license-change".
    pub fn line(&self) -> String {
        match self.state.as_str() {
            "blocked" => format!("blocked: {}", self.blocked_by.join(", ")),
            "refused" => format!(
                "refused by the forge: {}",
                self.note.as_deref().unwrap_or("no reason given")
            ),
            state => match &self.strategy {
                Some(st) => format!("{state} ({st})"),
                None => state.to_owned(),
            },
        }
    }
}

fn auto_merge_status(store: &Store, pr_id: i64) -> anyhow::Result<Option<AutoMergeStatus>> {
    Ok(store.auto_merge(pr_id)?.map(|r| AutoMergeStatus {
        state: r.state,
        blocked_by: r.blocked_by,
        strategy: r.strategy,
        note: r.note,
    }))
}

#[derive(Debug, Serialize)]
pub struct ServerStatus {
    pub name: String,
    /// The last run's status, or `never-synced`.
    pub status: String,
    pub pinned: Option<String>,
    pub pinned_commit: Option<String>,
    pub latest: Option<String>,
    pub open_pr: Option<OpenPr>,
    pub hold_reason: Option<String>,
    pub held_since: Option<String>,
    pub pending_emails: i64,
    pub failed_emails: i64,
    pub last_run_id: Option<i64>,
    pub last_run_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    pub consecutive_failures: i64,
    /// What the forge did not do on the last full check (a reviewer not found, a label
    /// refused). Added in issue 14.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The last advisory check; None when advisories were never looked up for the server.
    pub advisories: Option<AdvisoryStatus>,
    /// How far behind the server is and what blocks it (issue 17; see `crate::freshness`).
    pub freshness: Freshness,
    /// The license review waiting for a decision, and for how long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_review: Option<PendingReview>,
}

/// A license review waiting for a decision, as `status` shows it.
#[derive(Debug, Serialize)]
pub struct PendingReview {
    pub fingerprint: String,
    /// When this license text started waiting (RFC 3339).
    pub since: String,
    /// Whole hours it has waited.
    pub age_hours: i64,
}

fn pending_review(store: &Store, server: &str) -> anyhow::Result<Option<PendingReview>> {
    let Some((fingerprint, since)) =
        store.pending_since(crate::store::ReviewKind::License, server)?
    else {
        return Ok(None);
    };
    let age_hours = chrono::DateTime::parse_from_rfc3339(&since)
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_hours())
        .unwrap_or(0);
    Ok(Some(PendingReview {
        fingerprint,
        since,
        age_hours,
    }))
}

/// The advisories of the pinned release, as `status` shows them.
#[derive(Debug, Serialize)]
pub struct AdvisoryStatus {
    /// `vulnerable`, `none` or `unknown` (the service failed and nothing is known).
    pub state: String,
    /// Advisories affecting the pinned release (the last known answer when the check failed).
    pub count: usize,
    pub worst: Option<String>,
    /// Per severity, zeros included (the `/metrics` gauge).
    pub by_severity: Vec<(String, usize)>,
    pub checked_at: String,
    /// Why the last check failed, when it did.
    pub error: Option<String>,
}

/// The server's last advisory report from the state, as `status` and `/metrics` show it.
pub fn advisory_status(store: &Store, server: &str) -> anyhow::Result<Option<AdvisoryStatus>> {
    let Some(report) = store
        .advisory_state(server)?
        .and_then(|s| s.report)
        .and_then(|json| serde_json::from_str::<AdvisoryReport>(&json).ok())
    else {
        return Ok(None);
    };
    let state = if report.is_unknown() {
        "unknown"
    } else if report.pinned.is_empty() {
        "none"
    } else {
        "vulnerable"
    };
    Ok(Some(AdvisoryStatus {
        state: state.into(),
        count: report.pinned.len(),
        worst: report.worst_pinned().map(|s| s.as_str().to_string()),
        by_severity: report
            .pinned_counts()
            .into_iter()
            .map(|(s, n)| (s.as_str().to_string(), n))
            .collect(),
        checked_at: report
            .checked_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        error: report.error.map(|e| e.message),
    }))
}

pub fn collect(config: &ValidConfig, store: &Store) -> anyhow::Result<StatusDoc> {
    let mut servers = Vec::new();
    for s in &config.servers {
        let st = store.server_state(&s.name)?;
        let pr = store.open_pr(&s.name)?;
        let counts = store.outbox_counts(Some(&s.name))?;
        let count = |names: &[&str]| {
            counts
                .iter()
                .filter(|(k, _)| names.contains(&k.as_str()))
                .map(|(_, n)| n)
                .sum()
        };
        servers.push(ServerStatus {
            name: s.name.clone(),
            status: st
                .as_ref()
                .and_then(|s| s.last_status.clone())
                .unwrap_or_else(|| "never-synced".into()),
            pinned: st.as_ref().and_then(|s| s.pinned_ref.clone()),
            pinned_commit: st.as_ref().and_then(|s| s.pinned_commit.clone()),
            latest: st.as_ref().and_then(|s| s.latest_version.clone()),
            open_pr: match pr {
                Some(p) => Some(OpenPr {
                    auto_merge: auto_merge_status(store, p.id)?,
                    version: p.version,
                    url: p.url,
                    held: p.held,
                    since: p.created_at,
                }),
                None => None,
            },
            hold_reason: st.as_ref().and_then(|s| s.hold_reason.clone()),
            held_since: st.as_ref().and_then(|s| s.held_since.clone()),
            pending_emails: count(&["pending", "sending"]),
            failed_emails: count(&["failed"]),
            last_run_id: st.as_ref().and_then(|s| s.last_run_id),
            last_run_at: st.as_ref().and_then(|s| s.last_run_at.clone()),
            last_success_at: st.as_ref().and_then(|s| s.last_success_at.clone()),
            last_error: st.as_ref().and_then(|s| s.last_error.clone()),
            consecutive_failures: st.as_ref().map_or(0, |s| s.consecutive_failures),
            warnings: store.forge_warnings(&s.name)?,
            advisories: advisory_status(store, &s.name)?,
            freshness: freshness::assess(&store.freshness_view(&s.name)?, chrono::Utc::now()),
            license_review: pending_review(store, &s.name)?,
        });
    }
    Ok(StatusDoc {
        servers,
        outbox: store.outbox_counts(None)?,
        running: store.lease_holder()?,
    })
}

fn short_ref(r: &str) -> &str {
    crate::render::short_ref(r)
}

pub fn table(doc: &StatusDoc) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<24} {:<13} {:<14} {:<10} {:<24} {:<7} {:<6} {:<7} {:<15} LAST RUN",
        "SERVER", "STATUS", "PINNED", "LATEST", "OPEN PR", "EMAILS", "BEHIND", "LAG", "BLOCKER"
    );
    for s in &doc.servers {
        let pr = s.open_pr.as_ref().map_or_else(
            || "-".to_string(),
            |p| format!("{}{}", p.version, if p.held { " (held)" } else { "" }),
        );
        let emails = if s.failed_emails > 0 {
            format!("{}+{}!", s.pending_emails, s.failed_emails)
        } else {
            s.pending_emails.to_string()
        };
        let last = s.last_run_at.as_deref().map_or_else(
            || "never".to_string(),
            |at| format!("#{} {}", s.last_run_id.unwrap_or(0), at),
        );
        let f = &s.freshness;
        let _ = writeln!(
            t,
            "{:<24} {:<13} {:<14} {:<10} {:<24} {:<7} {:<6} {:<7} {:<15} {}",
            s.name,
            s.status,
            s.pinned.as_deref().map_or("-", short_ref),
            s.latest.as_deref().unwrap_or("-"),
            pr,
            emails,
            f.releases_behind,
            f.lag.map_or_else(|| "?".to_string(), freshness::human),
            f.blocker.map_or("-", |b| b.as_str()),
            last
        );
        if let Some(r) = &s.hold_reason {
            let _ = writeln!(t, "    held: {r}");
        }
        if let Some(a) = s.open_pr.as_ref().and_then(|p| p.auto_merge.as_ref()) {
            let _ = writeln!(t, "    auto-merge: {}", a.line());
        }
        if let Some(p) = &s.license_review {
            let _ = writeln!(
                t,
                "    license review pending for {}h (since {}; `upkeep license show {}`)",
                p.age_hours, p.since, s.name
            );
        }
        match &s.advisories {
            Some(a) if a.state == "vulnerable" => {
                let _ = writeln!(
                    t,
                    "    vulnerable: {} advisor{} against the pinned release (worst {}){}",
                    a.count,
                    if a.count == 1 { "y" } else { "ies" },
                    a.worst.as_deref().unwrap_or("unknown"),
                    if a.error.is_some() {
                        "; the last check failed"
                    } else {
                        ""
                    }
                );
            }
            Some(a) if a.state == "unknown" => {
                let _ = writeln!(
                    t,
                    "    advisories: unknown ({})",
                    a.error.as_deref().unwrap_or("the check failed")
                );
            }
            _ => {}
        }
        if let Some(e) = &s.last_error {
            let _ = writeln!(
                t,
                "    error ({} run(s) in a row): {e}",
                s.consecutive_failures
            );
        }
        for w in &s.warnings {
            let _ = writeln!(t, "    warning: {w}");
        }
    }
    // Sent and digested emails need nothing from anyone; show the rest.
    let waiting: Vec<&(String, i64)> = doc
        .outbox
        .iter()
        .filter(|(k, n)| k != "sent" && k != "digested" && *n > 0)
        .collect();
    if !waiting.is_empty() {
        let parts: Vec<String> = waiting.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = writeln!(t, "outbox: {} (see `upkeep outbox`)", parts.join(", "));
    }
    if let Some(r) = &doc.running {
        let _ = writeln!(
            t,
            "a run is in progress: {} since {}",
            r.holder, r.acquired_at
        );
    }
    t
}

/// The human summary of a run, one block per server.
pub fn run_summary(report: &RunReport) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "run #{}{}",
        report.run_id,
        if report.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    for s in &report.servers {
        let versions = match (&s.pinned, &s.latest) {
            (Some(p), Some(l)) => format!("{} -> {}", short_ref(&p.git_ref), l.tag),
            (Some(p), None) => short_ref(&p.git_ref).to_string(),
            _ => String::new(),
        };
        let _ = writeln!(t, "  {:<24} {:<11} {}", s.name, s.status.as_str(), versions);
        if let Some(pr) = &s.pull_request {
            let _ = writeln!(
                t,
                "      PR {:?}: {} [{}]{}",
                pr.action,
                pr.title,
                pr.branch,
                pr.url
                    .as_deref()
                    .map(|u| format!(" {u}"))
                    .unwrap_or_default()
            );
        }
        if let Some(l) = &s.license
            && l.verdict != "unchanged"
        {
            let _ = writeln!(
                t,
                "      license: {} ({}){}",
                l.verdict,
                l.reason,
                l.approved_by
                    .as_deref()
                    .map(|b| format!(", approved by {b}"))
                    .unwrap_or_default()
            );
        }
        if let Some(r) = &s.hold_reason
            && s.status == Status::Held
        {
            let _ = writeln!(t, "      held: {r}");
        }
        if s.emails_queued > 0 {
            let _ = writeln!(t, "      emails queued: {}", s.emails_queued);
        }
        for n in &s.notes {
            let _ = writeln!(t, "      note: {n}");
        }
        for w in &s.warnings {
            let _ = writeln!(t, "      warning: {w}");
        }
        if let Some(e) = &s.error {
            let _ = writeln!(t, "      error: {e}");
        }
    }
    let e = &report.emails;
    if e.sent + e.retrying + e.failed > 0 {
        let _ = writeln!(
            t,
            "  emails: {} sent, {} retrying, {} failed",
            e.sent, e.retrying, e.failed
        );
    }
    for err in &e.errors {
        let _ = writeln!(t, "      {err}");
    }
    t
}

/// `license show`: the baseline, the pending review and the decisions of one server.
/// `line_diffs`: also the line diffs of files whose license changed.
pub fn license_text(store: &Store, server: &str, line_diffs: bool) -> anyhow::Result<String> {
    let mut t = String::new();
    if let Some((commit, json)) = store.license_baseline(server)? {
        let snap: crate::license::LicenseSnapshot = serde_json::from_str(&json)?;
        let _ = writeln!(
            t,
            "{server}: license files at the pinned commit {}:",
            &commit[..commit.len().min(12)]
        );
        for e in &snap.entries {
            let _ = writeln!(
                t,
                "  {}{}: {}  sha256 {}",
                e.path,
                e.field
                    .as_deref()
                    .map(|f| format!(" ({f})"))
                    .unwrap_or_default(),
                e.label(),
                &e.sha256[..e.sha256.len().min(16)]
            );
        }
        let _ = writeln!(t, "  fingerprint {}\n", snap.fingerprint());
    }
    match store.pending_review(server)? {
        Some((fp, judgement)) => {
            let j: crate::license::LicenseJudgement = serde_json::from_str(&judgement)?;
            let _ = writeln!(t, "{server}: license review pending (fingerprint {fp})");
            let _ = writeln!(t, "verdict: {} ({})\n", j.verdict.code(), j.reason);
            t.push_str(&crate::render::license::show(&j, server, line_diffs));
            let _ = writeln!(
                t,
                "\napprove with: upkeep license approve {server} --by \"<name>\" --note \"<CELA ticket>\"\n\
                 decline with: upkeep license decline {server} --by \"<name>\" --reason \"<why>\" \
                 (or close the rebuild PR): upkeep will not propose that version again"
            );
        }
        None => {
            let _ = writeln!(t, "{server}: no license review pending");
        }
    }
    let decisions = store.decisions(Some(server))?;
    // Approvals recorded before the audit trail existed have no decision row.
    let legacy: Vec<_> = store
        .approvals(server)?
        .into_iter()
        .filter(|a| !decisions.iter().any(|d| d.fingerprint == a.fingerprint))
        .collect();
    if !decisions.is_empty() || !legacy.is_empty() {
        let _ = writeln!(t, "\ndecisions:");
        for a in legacy {
            let _ = writeln!(
                t,
                "  {} approved by {} ({}) {}",
                a.approved_at,
                a.approved_by,
                a.note.unwrap_or_default(),
                &a.fingerprint[..a.fingerprint.len().min(16)]
            );
        }
        if !decisions.is_empty() {
            t.push_str(&decisions_text(&decisions));
        }
    }
    Ok(t)
}

/// The audit trail of review decisions, as `license log` and `license show` print it.
pub fn decisions_text(rows: &[crate::store::DecisionRow]) -> String {
    let lines: Vec<crate::render::decisions::LogLine<'_>> = rows
        .iter()
        .map(|d| crate::render::decisions::LogLine {
            server: &d.server,
            decided_at: &d.decided_at,
            kind: &d.kind,
            decision: &d.decision,
            source: &d.source,
            actor: &d.actor,
            fingerprint: &d.fingerprint,
            version: d.version.as_deref(),
            note: d.note.as_deref(),
            url: d.comment_url.as_deref().or(d.pr_url.as_deref()),
        })
        .collect();
    crate::render::decisions::log_text(&lines)
}
