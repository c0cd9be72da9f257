//! The JSON run report: the machine-readable contract of a run (`sync --now --json`, `/status`).
//! Fields are added freely; existing ones are never renamed.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::freshness::Freshness;
use crate::upstream::diff::ReleaseDiff;

/// A file attached to an email (the license texts of a review), as the renderer makes it and the
/// outbox keeps it until it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The name the reader sees, e.g. `LICENSE-0.10.0.txt`.
    pub filename: String,
    /// MIME type, e.g. `text/plain; charset=utf-8`.
    pub content_type: String,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    UpToDate,
    /// This run opened the rebuild PR.
    PrOpened,
    /// This run updated the rebuild PR (moved it to a newer release, or refreshed its body).
    PrUpdated,
    /// A rebuild PR is open and this run neither opened nor updated it. Added later than the
    /// others: before it, such a run reported `pr-opened` again.
    PrOpen,
    Held,
    Failed,
    /// Not synced by this run: another process sharing the state syncs it, or synced it since
    /// this run was due (PostgreSQL with several replicas). The reason is in `notes`.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::UpToDate => "up-to-date",
            Status::PrOpened => "pr-opened",
            Status::PrUpdated => "pr-updated",
            Status::PrOpen => "pr-open",
            Status::Held => "held",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::UpToDate,
            Status::PrOpened,
            Status::PrUpdated,
            Status::PrOpen,
            Status::Held,
            Status::Failed,
            Status::Skipped,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// `upkeep sync --now`.
    Manual,
    /// A fire time of the schedule under `serve` (or its catch-up run).
    Schedule,
    /// `POST /sync` on the service.
    Api,
    /// A signed push webhook.
    Webhook,
    /// `upkeep demo`.
    Demo,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Api => "api",
            Trigger::Webhook => "webhook",
            Trigger::Demo => "demo",
        }
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A finished run as the process keeps it: each server's summary. The servers' full reports
/// went to the state as each finished (see [`RunArchive`]), so a run of thousands of
/// servers does not hold thousands of release diffs and PR bodies; [`write_json`] streams them.
/// Serialised, this is the summary document kept in `runs.report`; a full report of a run from
/// before schema 5 reads back as one too.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    pub run_id: i64,
    pub trigger: Trigger,
    pub dry_run: bool,
    pub started_at: String,
    pub finished_at: String,
    /// In config order.
    pub servers: Vec<ServerSummary>,
    pub emails: EmailSummary,
}

impl RunReport {
    pub fn any_failed(&self) -> bool {
        self.servers.iter().any(|s| s.status == Status::Failed)
    }
}

/// Where finished runs' reports are kept, as this module reads them. The state store implements
/// it (`store` fills these views); this module never sees a table.
pub trait RunArchive {
    /// The document kept for a finished run: its [`RunReport`] of summaries (or, for a run from
    /// before schema 5, its full report). None while it runs, or when it is unknown.
    fn run_document(&self, run_id: i64) -> anyhow::Result<Option<String>>;
    /// Whether any server of the run has its full report kept (false once pruned).
    fn has_server_reports(&self, run_id: i64) -> anyhow::Result<bool>;
    /// The full report (JSON) of the run's server number `seq` (config order), if kept.
    fn server_report(&self, run_id: i64, seq: usize) -> anyhow::Result<Option<String>>;
}

/// Write the run's full JSON report (the `sync --json` contract): the run's fields and every
/// server's full report, read back from `archive` one at a time, so memory does not grow with
/// the number of servers. A server whose full report is not kept (its write failed) is written
/// as its summary.
pub fn write_json(
    report: &RunReport,
    archive: &impl RunArchive,
    w: &mut impl Write,
) -> anyhow::Result<()> {
    fn field(w: &mut impl Write, name: &str, value: &impl Serialize) -> anyhow::Result<()> {
        write!(w, "  {}: ", serde_json::to_string(name)?)?;
        write_indented(w, &serde_json::to_string_pretty(value)?, "  ")?;
        writeln!(w, ",")?;
        Ok(())
    }
    writeln!(w, "{{")?;
    field(w, "run_id", &report.run_id)?;
    field(w, "trigger", &report.trigger)?;
    field(w, "dry_run", &report.dry_run)?;
    field(w, "started_at", &report.started_at)?;
    field(w, "finished_at", &report.finished_at)?;
    write!(w, "  \"servers\": [")?;
    for (seq, summary) in report.servers.iter().enumerate() {
        let stored = archive
            .server_report(report.run_id, seq)
            .unwrap_or_else(|e| {
                tracing::warn!(server = %summary.name, error = %format!("{e:#}"), "could not read a server's report back");
                None
            })
            .and_then(|json| prettify(&json).ok());
        let pretty = match stored {
            Some(full) => full,
            None => serde_json::to_string_pretty(summary)?,
        };
        write!(w, "{}\n    ", if seq == 0 { "" } else { "," })?;
        write_indented(w, &pretty, "    ")?;
    }
    writeln!(
        w,
        "{}],",
        if report.servers.is_empty() {
            ""
        } else {
            "\n  "
        }
    )?;
    write!(w, "  \"emails\": ")?;
    write_indented(w, &serde_json::to_string_pretty(&report.emails)?, "  ")?;
    writeln!(w, "\n}}")?;
    Ok(())
}

/// Write a finished run's JSON report from the state, as `sync --json` printed it: each
/// server's full report while `[state] report-retention` keeps it, otherwise the document kept
/// for the run (its summary, or the full report of a run from before schema 5). Returns false
/// when the run has no report (unknown, still running, or died).
pub fn write_stored(
    archive: &impl RunArchive,
    run_id: i64,
    w: &mut impl Write,
) -> anyhow::Result<bool> {
    let Some(doc) = archive.run_document(run_id)? else {
        return Ok(false);
    };
    if archive.has_server_reports(run_id)? {
        let report: RunReport = serde_json::from_str(&doc)?;
        write_json(&report, archive, w)?;
    } else {
        writeln!(w, "{}", prettify(&doc)?)?;
    }
    Ok(true)
}

/// [`write_stored`] into a string, for one run on demand.
pub fn stored_json(archive: &impl RunArchive, run_id: i64) -> anyhow::Result<Option<String>> {
    let mut out = Vec::new();
    Ok(write_stored(archive, run_id, &mut out)?
        .then(|| String::from_utf8(out))
        .transpose()?)
}

/// Compact JSON made pretty with its keys in their order (a `Value` would sort them).
pub fn prettify(json: &str) -> anyhow::Result<String> {
    let mut out = Vec::with_capacity(json.len() * 2);
    let mut de = serde_json::Deserializer::from_str(json);
    serde_transcode::transcode(&mut de, &mut serde_json::Serializer::pretty(&mut out))?;
    de.end()?;
    Ok(String::from_utf8(out)?)
}

/// Pretty JSON nested in an outer document: every line after the first is indented. JSON
/// strings never hold a raw newline, so splitting on lines is safe.
fn write_indented(w: &mut impl Write, pretty: &str, indent: &str) -> std::io::Result<()> {
    for (i, line) in pretty.lines().enumerate() {
        if i > 0 {
            write!(w, "\n{indent}")?;
        }
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// What a run keeps of a server once its full report is in the state: what the human summary,
/// the events and the exit code need.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerSummary {
    pub name: String,
    pub status: Status,
    pub pinned: Option<Pinned>,
    pub latest: Option<Latest>,
    pub license: Option<LicenseSummary>,
    pub pull_request: Option<PullRequestSummary>,
    #[serde(default)]
    pub emails_queued: usize,
    pub hold_reason: Option<String>,
    pub error: Option<String>,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchanged_since: Option<String>,
    #[serde(default)]
    pub duration_ms: u64,
    /// How far behind the server is and what blocks it (issue 17), from the state once the
    /// server's run is recorded. Absent in reports from before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LicenseSummary {
    pub verdict: String,
    pub reason: String,
    pub approved_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullRequestSummary {
    pub action: PrAction,
    pub branch: String,
    pub title: String,
    pub url: Option<String>,
    pub draft: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EmailSummary {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
    /// Problems the sender met, one line each (no secrets).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pinned {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub commit: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latest {
    pub version: String,
    pub tag: String,
    pub commit: String,
    pub date: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LicenseReport {
    pub verdict: String,
    pub reason: String,
    /// Set when an approval released a review-required verdict.
    pub approved_by: Option<String>,
    pub files: Vec<serde_json::Value>,
    /// The decisions recorded about this license text (approved, declined, superseded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<DecisionReport>,
}

/// One recorded decision about a license text, as the run report shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DecisionReport {
    pub decision: String,
    /// `cli`, `api`, `pr-comment` or `upkeep` (a supersession).
    pub source: String,
    pub actor: String,
    pub decided_at: String,
    pub note: Option<String>,
    pub fingerprint: String,
    pub pr_url: Option<String>,
    pub comment_url: Option<String>,
}

/// The MCP surface gate's answer for a release whose surface has findings at the `hold-on`
/// levels: held until approved, or released by an approval of this very surface.
#[derive(Debug, Clone, Serialize)]
pub struct McpReviewReport {
    /// `held` or `approved`.
    pub state: String,
    /// The fingerprint of the proposed surface the approval is (to be) recorded against.
    pub fingerprint: String,
    /// The severities that hold (`hold-on`).
    pub hold_on: Vec<String>,
    pub approved_by: Option<String>,
    /// The decisions recorded about this surface (the audit trail), oldest first.
    pub decisions: Vec<DecisionReport>,
}

/// What happened to the rebuild PR in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrAction {
    Created,
    Updated,
    Unchanged,
    Declined,
    Held,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullRequestReport {
    pub action: PrAction,
    pub branch: String,
    pub title: String,
    pub body: String,
    pub url: Option<String>,
    pub draft: bool,
    pub labels: Vec<String>,
    /// The pin file change, as a unified diff.
    pub pin_diff: String,
    /// The pipeline's answer on the PR's head commit (issue 17), when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<ChecksReport>,
    /// The forge's auto-merge of the PR (issue 17), when a full check looked at it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_merge: Option<AutoMergeReport>,
}

/// Guarded auto-merge of a rebuild PR: `state` is `armed` (the forge merges it when its own
/// required checks pass; `merged` when there was nothing left to wait for and it was merged at
/// the judged head), `blocked` (`blocked_by` names the guards: `held`, `license-change`,
/// `mcp-findings`, `moved-tag`, `cooldown`, `install-script`, `binary`, `no-release-diff`,
/// `checks-failing`, and `forge-refused` when the forge would not arm it) or `off`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AutoMergeReport {
    pub state: String,
    pub blocked_by: Vec<String>,
    /// The merge strategy asked for, when armed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// The forge's words when it refused or could not be asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The pipeline's answer on a rebuild PR's head commit: `state` is pending, success, failure or
/// none; `failed` names the checks that failed; `url` is where a person sees them all.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChecksReport {
    pub state: crate::freshness::ChecksState,
    pub failed: Vec<String>,
    pub url: Option<String>,
}

/// A moved release tag: it pointed at `old_commit` when first seen and now points at
/// `new_commit` (a moved or re-created tag holds the server).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MovedTag {
    pub tag: String,
    pub old_commit: String,
    pub new_commit: String,
    pub first_seen: String,
}

/// One release channel's answer in a run.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelReport {
    pub name: String,
    pub ok: bool,
    /// The registry answered 304: nothing changed since the last look.
    pub not_modified: bool,
    pub latest: Option<String>,
    pub error: Option<String>,
    pub discrepancies: Vec<crate::upstream::channels::Discrepancy>,
    /// npm: the dist-tag followed (nothing above the version it names is proposed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dist_tag: Option<String>,
    /// Versions the registry has but holds back (deprecated, yanked, deleted, above the
    /// dist-tag): never proposed.
    pub withheld: Vec<crate::upstream::channels::Withheld>,
    /// What the lookup said about itself (a dist-tag moved back, unreadable versions, a low
    /// rate-limit budget); each is in the server's `notes` too.
    pub notices: Vec<crate::upstream::channels::Notice>,
    /// Tags the registry lacks while still inside the cooldown: a discrepancy once `until`
    /// passes, unless the registry publishes the version first.
    pub pending: Vec<crate::upstream::channels::Pending>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub name: String,
    pub status: Status,
    pub pinned: Option<Pinned>,
    pub latest: Option<Latest>,
    pub license: Option<LicenseReport>,
    pub diff: Option<ReleaseDiff>,
    /// What the release changes in what a model sees (issue 16's contract); `null` when
    /// neither revision uses an MCP SDK, or the change was not judged in this run.
    pub mcp_surface: Option<crate::mcp::McpSurfaceReport>,
    /// The MCP surface gate: set when the surface has findings at the `hold-on` levels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_review: Option<McpReviewReport>,
    /// Known advisories against the pinned and the proposed release (issue 18's contract:
    /// `pinned`, `proposed`, `fixed_by_proposed`, `error`, ...); null when not looked up.
    pub advisories: Option<serde_json::Value>,
    pub pull_request: Option<PullRequestReport>,
    pub emails_queued: usize,
    pub moved_tags: Vec<MovedTag>,
    /// Each release channel looked up, with what the cross-check found.
    pub channels: Vec<ChannelReport>,
    /// Why the server is held, when it is.
    pub hold_reason: Option<String>,
    pub error: Option<String>,
    pub notes: Vec<String>,
    /// What the forge did not do although the PR exists: a reviewer it could not resolve, a
    /// label it refused (with the permission to grant). Added in issue 14.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Set when upstream answered as at the last full check (this time): the state was
    /// replayed and the mirror was not read; of the forge, only an open PR's checks were (issue 17).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchanged_since: Option<String>,
    pub duration_ms: u64,
    /// How far behind the server is and what blocks it (issue 17): `releases_behind`,
    /// `behind_since`, `lag` and `pr_open_for` (seconds), `blocker`. Set from the state once
    /// the server's run is recorded (see `crate::freshness`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
}

impl ServerReport {
    pub fn summary(&self) -> ServerSummary {
        ServerSummary {
            name: self.name.clone(),
            status: self.status,
            pinned: self.pinned.clone(),
            latest: self.latest.clone(),
            license: self.license.as_ref().map(|l| LicenseSummary {
                verdict: l.verdict.clone(),
                reason: l.reason.clone(),
                approved_by: l.approved_by.clone(),
            }),
            pull_request: self.pull_request.as_ref().map(|p| PullRequestSummary {
                action: p.action,
                branch: p.branch.clone(),
                title: p.title.clone(),
                url: p.url.clone(),
                draft: p.draft,
            }),
            emails_queued: self.emails_queued,
            hold_reason: self.hold_reason.clone(),
            error: self.error.clone(),
            notes: self.notes.clone(),
            warnings: self.warnings.clone(),
            unchanged_since: self.unchanged_since.clone(),
            duration_ms: self.duration_ms,
            freshness: self.freshness.clone(),
        }
    }

    /// The report of a server that failed (or was not synced) for `error`.
    pub fn failed(name: &str, error: &str) -> ServerReport {
        ServerReport {
            status: Status::Failed,
            error: Some(error.to_string()),
            ..ServerReport::new(name)
        }
    }

    /// A server this run left to another process (see [`Status::Skipped`]).
    pub fn skipped(name: &str, why: &str) -> ServerReport {
        ServerReport {
            status: Status::Skipped,
            notes: vec![why.to_string()],
            ..ServerReport::new(name)
        }
    }

    pub fn new(name: &str) -> ServerReport {
        ServerReport {
            name: name.to_string(),
            status: Status::UpToDate,
            pinned: None,
            latest: None,
            license: None,
            diff: None,
            mcp_surface: None,
            mcp_review: None,
            advisories: None,
            pull_request: None,
            emails_queued: 0,
            moved_tags: Vec::new(),
            channels: Vec::new(),
            hold_reason: None,
            error: None,
            notes: Vec::new(),
            warnings: Vec::new(),
            unchanged_since: None,
            duration_ms: 0,
            freshness: None,
        }
    }
}
