//! Review reminders, queued: every held review older than `[email] review-sla` (a license
//! change's legal review, an MCP surface change's security review) reminds its server's owners,
//! once per SLA period. When a reminder is due and what it says are `notify::reminders`' (pure);
//! this is the state side: each reminder is queued with its record in one transaction, and the
//! outbox's dedupe key is the review's kind, fingerprint and period, so a crash or a rerun never
//! queues a period's reminder twice.

use chrono::{DateTime, Utc};

use crate::config::{ServerConfig, ValidConfig};
use crate::notify::reminders;
use crate::pipeline::stages::commands;
use crate::store::{NewEmail, PendingReview, ReviewKind, Store};

/// Queue a reminder for every held review, of either kind, older than the SLA; returns how many.
///
/// Reviews of servers no longer configured, or already approved (the next sync releases them),
/// are skipped; a declined review is no longer pending. Each reminder is queued in its own
/// transaction with its reminder record.
pub fn enqueue_due(store: &Store, config: &ValidConfig, run_id: i64) -> anyhow::Result<usize> {
    let mut queued = 0;
    for kind in [ReviewKind::License, ReviewKind::Mcp] {
        for review in store.pending_reviews(kind)? {
            let Some(server) = config.server(&review.server) else {
                continue;
            };
            if server.owners.is_empty()
                || (store.approval_of(kind, &review.server, &review.fingerprint)?).is_some()
            {
                continue;
            }
            if remind(store, config, server, (kind, &review), run_id)? {
                tracing::info!(server = %review.server, kind = kind.as_str(), "queued a review reminder");
                queued += 1;
            }
        }
    }
    Ok(queued)
}

/// Queue the reminder `review` is due, if any; whether one was queued.
fn remind(
    store: &Store,
    config: &ValidConfig,
    server: &ServerConfig,
    (kind, review): (ReviewKind, &PendingReview),
    run_id: i64,
) -> anyhow::Result<bool> {
    let Some(since) = DateTime::parse_from_rfc3339(&review.created_at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
    else {
        tracing::warn!(server = %review.server, created_at = %review.created_at, "unreadable review time; no reminder");
        return Ok(false);
    };
    let waited = (Utc::now() - since).to_std().unwrap_or_default();
    let state = store.server_state(&review.server)?;
    let pr = store.open_pr(&review.server)?;
    let changes = changes(kind, review, server);
    let subject = commands::subject(kind);
    store.transaction(|tx| {
        let sent = Store::reminders_sent(tx, kind, &review.server, &review.fingerprint)?;
        let Some(number) = reminders::reminder_number(waited, config.email.review_sla, sent) else {
            return Ok(false);
        };
        let view = reminders::ReminderView {
            subject,
            server: &review.server,
            pinned: state.as_ref().and_then(|s| s.pinned_ref.as_deref()),
            proposed: pr.as_ref().map(|p| p.version.as_str()),
            since: &review.created_at,
            waited,
            number,
            pr_url: pr.as_ref().and_then(|p| p.url.as_deref()),
            changes: &changes,
            fingerprint: &review.fingerprint,
            escalation: config.email.escalation.as_deref(),
            approvers: commands::approvers(server).of(kind),
        };
        let text = reminders::reminder_email(&view);
        let email = NewEmail {
            dedupe_key: reminders::reminder_key(
                subject,
                &review.server,
                &review.fingerprint,
                number,
            ),
            server: review.server.clone(),
            reason: reminders::reason(subject).into(),
            recipients: server.owners.clone(),
            cc: config.email.escalation.iter().cloned().collect(),
            subject: text.subject,
            text: text.text,
            html: text.html,
        };
        let new = Store::enqueue_email(tx, &email, Some(run_id))?;
        Store::record_reminder(tx, kind, &review.server, &review.fingerprint, number)?;
        Ok(new)
    })
}

/// What the reminder lists: the license change's summary, or the MCP surface's findings at the
/// server's hold levels (none when the stored JSON does not read).
fn changes(kind: ReviewKind, review: &PendingReview, server: &ServerConfig) -> Vec<String> {
    match kind {
        ReviewKind::License => {
            serde_json::from_str::<crate::license::LicenseJudgement>(&review.judgement)
                .map(|j| j.summary)
                .unwrap_or_default()
        }
        ReviewKind::Mcp => serde_json::from_str::<crate::mcp::McpSurfaceReport>(&review.judgement)
            .map(|r| crate::render::held_finding_lines(&r, &server.mcp.hold_on))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::{Exec as _, params};

    /// One server with its MCP gate on, separate license and MCP approvers, an hour's SLA.
    fn config() -> ValidConfig {
        let src = "[email]\ntransport = \"file\"\ndir = \"outbox\"\nreview-sla = \"1h\"\n\
                   escalation = \"oss@example.com\"\n\n\
                   [license]\napprovers = [\"github:cela-ada\"]\n\n\
                   [mcp]\napprovers = [\"github:sec-sam\"]\n\n\
                   [[servers]]\nname = \"s\"\nupstream = \"https://example.com/s.git\"\n\
                   owners = [\"o@example.com\"]\nrelease = { channel = \"git-tags\" }\n\n\
                   [servers.mirror]\nforge = \"local\"\nrepo = \"var/mirrors/s.git\"\n\
                   pin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n";
        crate::config::parse(std::path::Path::new("t.toml"), src).expect("valid config")
    }

    /// Let time pass for the pending reviews in `table`: they started waiting `secs` ago.
    fn waited(dir: &std::path::Path, table: &str, secs: i64) {
        let since = Utc::now() - chrono::Duration::seconds(secs);
        let at = since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let n = crate::store::testing::conn(dir)
            .execute(&format!("UPDATE {table} SET created_at = ?1"), params![at])
            .unwrap();
        assert_eq!(n, 1, "one review waits in {table}");
    }

    fn reminders(store: &Store) -> Vec<(String, String, String)> {
        let rows = store.outbox(&[]).unwrap();
        rows.into_iter()
            .filter(|r| r.reason.ends_with("review-reminder"))
            .map(|r| (r.reason, r.subject, r.text))
            .collect()
    }

    crate::store::testing::on_both_backends! {
        /// A held MCP surface reminds like a held license, counted apart, once per period
        /// whatever reruns, to the owners with the escalation copied, naming the MCP approvers;
        /// the reminders stop once it is approved, and a decline ends both reviews.
        fn mcp_holds_are_reminded_once_per_period_until_decided() {
            let dir = tempfile::tempdir().unwrap();
            let store = crate::store::testing::open(dir.path());
            let config = config();
            let surface = serde_json::json!({
                "languages": [], "tools": [], "prompts": [], "resources": [],
                "findings": [{"code": "hidden-instruction", "severity": "high",
                              "item": "tool:add", "field": "description", "detail": "x"}],
                "unresolved": [], "fingerprint": "surface1"
            });
            store
                .transaction(|tx| {
                    Store::put_pending(tx, ReviewKind::Mcp, "s", "surface1", &surface.to_string())?;
                    Store::put_pending(tx, ReviewKind::License, "s", "text1", "{}")
                })
                .unwrap();
            assert_eq!(enqueue_due(&store, &config, 1).unwrap(), 0, "not due yet");

            waited(dir.path(), "mcp_reviews", 3600 + 60);
            assert_eq!(enqueue_due(&store, &config, 1).unwrap(), 1);
            assert_eq!(enqueue_due(&store, &config, 2).unwrap(), 0, "once per period");
            let sent = reminders(&store);
            assert_eq!(sent.len(), 1, "{sent:?}");
            let (reason, subject, text) = &sent[0];
            assert_eq!(reason, "mcp-review-reminder");
            assert!(subject.contains("MCP surface review waiting for 1 hour"), "{subject}");
            assert!(text.contains("high: hidden-instruction in tool:add description"), "{text}");
            assert!(
                text.contains("github:sec-sam") && !text.contains("cela-ada"),
                "the MCP approvers, not the license ones: {text}"
            );
            let row = &store.outbox(&[]).unwrap()[0];
            assert_eq!(
                (row.recipients.clone(), row.cc.clone()),
                (vec!["o@example.com".to_string()], vec!["oss@example.com".to_string()])
            );

            // The license review reminds on its own count; the MCP one again in its second period.
            waited(dir.path(), "license_reviews", 3600 + 60);
            waited(dir.path(), "mcp_reviews", 2 * 3600 + 60);
            assert_eq!(enqueue_due(&store, &config, 3).unwrap(), 2);
            let reasons: Vec<String> = reminders(&store).into_iter().map(|r| r.0).collect();
            assert_eq!(
                reasons,
                ["mcp-review-reminder", "review-reminder", "mcp-review-reminder"]
            );

            // Approved: no more MCP reminders; the license review still reminds.
            store
                .approve(ReviewKind::Mcp, "s", "surface1", "sec-sam", None)
                .unwrap();
            waited(dir.path(), "mcp_reviews", 5 * 3600);
            waited(dir.path(), "license_reviews", 5 * 3600);
            assert_eq!(enqueue_due(&store, &config, 4).unwrap(), 1);
            assert_eq!(reminders(&store).last().unwrap().0, "review-reminder");

            // A decline ends what is pending: nothing more, of either kind.
            store
                .transaction(|tx| {
                    Store::record_decision_tx(
                        tx,
                        &crate::store::NewDecision {
                            kind: ReviewKind::Mcp,
                            server: "s",
                            fingerprint: "surface1",
                            version: None,
                            verdict: crate::store::Verdict::Declined,
                            source: crate::store::Source::Cli,
                            actor: "sec-sam",
                            note: Some("exfiltrates"),
                            pr_url: None,
                            comment_url: None,
                        },
                    )
                    .map(|_| ())
                })
                .unwrap();
            let before = reminders(&store).len();
            assert_eq!(enqueue_due(&store, &config, 5).unwrap(), 0);
            assert_eq!(reminders(&store).len(), before);
        }
    }
}
