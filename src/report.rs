//! The JSON run report: the machine-readable contract of a run (`sync --now --json`, `/status`).
//! Fields are added freely; existing ones are never renamed.

use serde::Serialize;

use crate::store::MovedTag;
use crate::upstream::diff::ReleaseDiff;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    UpToDate,
    PrOpened,
    PrUpdated,
    Held,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::UpToDate => "up-to-date",
            Status::PrOpened => "pr-opened",
            Status::PrUpdated => "pr-updated",
            Status::Held => "held",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::UpToDate,
            Status::PrOpened,
            Status::PrUpdated,
            Status::Held,
            Status::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: i64,
    pub trigger: String,
    pub dry_run: bool,
    pub started_at: String,
    pub finished_at: String,
    pub servers: Vec<ServerReport>,
    pub emails: EmailSummary,
}

impl RunReport {
    pub fn any_failed(&self) -> bool {
        self.servers.iter().any(|s| s.status == Status::Failed)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EmailSummary {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
    /// Problems the sender met, one line each (no secrets).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Pinned {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub commit: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
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
}

/// What happened to the rebuild PR in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrAction {
    Created,
    Updated,
    Unchanged,
    Declined,
    Held,
}

#[derive(Debug, Clone, Serialize)]
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
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub name: String,
    pub status: Status,
    pub pinned: Option<Pinned>,
    pub latest: Option<Latest>,
    pub license: Option<LicenseReport>,
    pub diff: Option<ReleaseDiff>,
    pub pull_request: Option<PullRequestReport>,
    pub emails_queued: usize,
    pub moved_tags: Vec<MovedTag>,
    /// Each release channel looked up, with what the cross-check found.
    pub channels: Vec<ChannelReport>,
    /// Why the server is held, when it is.
    pub hold_reason: Option<String>,
    pub error: Option<String>,
    pub notes: Vec<String>,
    /// Set when upstream answered as at the last full check (this time): the state was
    /// replayed and the mirror and the forge were not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchanged_since: Option<String>,
    pub duration_ms: u64,
}

impl ServerReport {
    pub fn new(name: &str) -> ServerReport {
        ServerReport {
            name: name.to_string(),
            status: Status::UpToDate,
            pinned: None,
            latest: None,
            license: None,
            diff: None,
            pull_request: None,
            emails_queued: 0,
            moved_tags: Vec::new(),
            channels: Vec::new(),
            hold_reason: None,
            error: None,
            notes: Vec::new(),
            unchanged_since: None,
            duration_ms: 0,
        }
    }
}
