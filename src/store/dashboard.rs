//! Store views for the dashboard pages (`service::pages`): a server's runs with their reports,
//! the emails sent about it, the decisions people made on it, and a run's servers. Read-only:
//! nothing here writes.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::db::{Exec as _, params};
use super::{Store, ts};

/// A server's part in one run: what the run's row and the server's kept full report say.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServerRun {
    pub run_id: i64,
    pub trigger: String,
    pub started_at: String,
    /// The server's status in the run (`up-to-date`, `pr-opened`, `held`, `failed`, ...).
    pub status: String,
    /// The server's full report (JSON), as the run kept it.
    pub report: String,
}

/// An email about a server, without its bodies (the page lists them, it does not show them).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EmailLine {
    pub id: i64,
    pub reason: String,
    pub subject: String,
    pub recipients: Vec<String>,
    /// pending | sending | sent | failed | digested
    pub status: String,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub run_id: Option<i64>,
}

/// A decision a person (or a forge event) made about a server.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Decision {
    pub at: String,
    /// `license approved`, `MCP surface approved`, `tag accepted`, `PR declined`.
    pub what: String,
    /// The fingerprint, tag or version the decision is about.
    pub subject: String,
    pub by: Option<String>,
    pub note: Option<String>,
}

/// One server's line in a run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RunServer {
    pub seq: i64,
    pub server: String,
    pub status: String,
}

impl Store {
    /// The runs of `server` that started at or after `since`, newest first, at most `limit`,
    /// with the server's full report (runs whose reports were pruned are not listed).
    pub fn server_runs(
        &self,
        server: &str,
        since: DateTime<Utc>,
        limit: usize,
    ) -> anyhow::Result<Vec<ServerRun>> {
        let conn = self.conn()?;
        let rows = conn.query_map(
            "SELECT r.id, r.trigger, r.started_at, s.status, s.report
             FROM run_servers s JOIN runs r ON r.id = s.run_id
             WHERE s.server = ?1 AND r.started_at >= ?2
             ORDER BY r.started_at DESC, r.id DESC LIMIT ?3",
            params![server, ts(since), i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok(ServerRun {
                    run_id: r.get(0)?,
                    trigger: r.get(1)?,
                    started_at: r.get(2)?,
                    status: r.get(3)?,
                    report: r.get(4)?,
                })
            },
        )?;
        Ok(rows)
    }

    /// The emails about `server`, newest first, at most `limit`.
    pub fn server_emails(&self, server: &str, limit: usize) -> anyhow::Result<Vec<EmailLine>> {
        let conn = self.conn()?;
        let rows = conn.query_map(
            "SELECT id, reason, subject, recipients, status, created_at, sent_at, run_id
             FROM outbox WHERE server = ?1 ORDER BY id DESC LIMIT ?2",
            params![server, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                let recipients: String = r.get(3)?;
                Ok(EmailLine {
                    id: r.get(0)?,
                    reason: r.get(1)?,
                    subject: r.get(2)?,
                    recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                    status: r.get(4)?,
                    created_at: r.get(5)?,
                    sent_at: r.get(6)?,
                    run_id: r.get(7)?,
                })
            },
        )?;
        Ok(rows)
    }

    /// What people decided about `server`, oldest first: the review decisions' audit trail
    /// (approved, declined, superseded; with where they were made), accepted moved tags, and
    /// what predates the audit trail (approvals and declined PRs recorded before it).
    pub fn decision_history(&self, server: &str) -> anyhow::Result<Vec<Decision>> {
        let conn = self.conn()?;
        let rows = conn.query_map(
            "SELECT decided_at,
                    CASE kind WHEN 'mcp' THEN 'MCP surface ' ELSE 'license ' END
                        || decision || ' (' || source || ')',
                    COALESCE(version || ', ', '') || fingerprint, actor, note
                 FROM review_decisions WHERE server = ?1
             UNION ALL
             SELECT approved_at, 'license approved', fingerprint, approved_by, note
                 FROM license_approvals a WHERE server = ?1 AND NOT EXISTS (
                     SELECT 1 FROM review_decisions d WHERE d.server = a.server
                     AND d.kind = 'license' AND d.fingerprint = a.fingerprint
                     AND d.decision = 'approved')
             UNION ALL
             SELECT approved_at, 'MCP surface approved', fingerprint, approved_by, note
                 FROM mcp_approvals a WHERE server = ?1 AND NOT EXISTS (
                     SELECT 1 FROM review_decisions d WHERE d.server = a.server
                     AND d.kind = 'mcp' AND d.fingerprint = a.fingerprint
                     AND d.decision = 'approved')
             UNION ALL
             SELECT accepted_at, 'tag accepted', tag || ' at ' || commit_id, accepted_by, NULL
                 FROM tag_history WHERE server = ?1 AND accepted_at IS NOT NULL
             UNION ALL
             SELECT updated_at, 'PR declined', version, closed_by, NULL
                 FROM pull_requests p WHERE server = ?1 AND state = 'declined' AND NOT EXISTS (
                     SELECT 1 FROM review_decisions d WHERE d.server = p.server
                     AND d.decision = 'declined' AND d.version = p.version)
             ORDER BY 1",
            params![server],
            |r| {
                Ok(Decision {
                    at: r.get(0)?,
                    what: r.get(1)?,
                    subject: r.get(2)?,
                    by: r.get(3)?,
                    note: r.get(4)?,
                })
            },
        )?;
        Ok(rows)
    }

    /// The servers of run `run_id` whose full reports are kept, in the run's order.
    pub fn run_servers(&self, run_id: i64) -> anyhow::Result<Vec<RunServer>> {
        let conn = self.conn()?;
        let rows = conn.query_map(
            "SELECT seq, server, status FROM run_servers WHERE run_id = ?1 ORDER BY seq",
            params![run_id],
            |r| {
                Ok(RunServer {
                    seq: r.get(0)?,
                    server: r.get(1)?,
                    status: r.get(2)?,
                })
            },
        )?;
        Ok(rows)
    }
}
