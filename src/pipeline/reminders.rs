//! Review reminders, queued: every held license review older than `[email] review-sla` reminds
//! its server's owners, once per SLA period. When a reminder is due and what it says are
//! `notify::reminders`' (pure); this is the state side: each reminder is queued with its record in
//! one transaction, so a crash or a rerun never queues a period's reminder twice.

use chrono::{DateTime, Utc};

use crate::config::ValidConfig;
use crate::notify::reminders;
use crate::store::{NewEmail, Store};

/// Queue a reminder for every held license review older than the SLA; returns how many.
///
/// Reviews of servers no longer configured, or already approved (the next sync releases them),
/// are skipped. Each reminder is queued in its own transaction with its `reminders` record.
pub fn enqueue_due(store: &Store, config: &ValidConfig, run_id: i64) -> anyhow::Result<usize> {
    let sla = config.email.review_sla;
    let now = Utc::now();
    let mut queued = 0;
    for review in store.pending_reviews()? {
        let Some(server) = config.server(&review.server) else {
            continue;
        };
        if server.owners.is_empty()
            || store
                .approval(&review.server, &review.fingerprint)?
                .is_some()
        {
            continue;
        }
        let Some(since) = DateTime::parse_from_rfc3339(&review.created_at)
            .ok()
            .map(|t| t.with_timezone(&Utc))
        else {
            tracing::warn!(server = %review.server, created_at = %review.created_at, "unreadable review time; no reminder");
            continue;
        };
        let waited = (now - since).to_std().unwrap_or_default();
        let state = store.server_state(&review.server)?;
        let pr = store.open_pr(&review.server)?;
        let changes = serde_json::from_str::<crate::license::LicenseJudgement>(&review.judgement)
            .map(|j| j.summary)
            .unwrap_or_default();
        let new = store.transaction(|tx| {
            let sent = Store::reminders_sent(tx, &review.server, &review.fingerprint)?;
            let Some(number) = reminders::reminder_number(waited, sla, sent) else {
                return Ok(false);
            };
            let view = reminders::ReminderView {
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
                approvers: config
                    .server(&review.server)
                    .map_or(&[][..], |s| &s.license.approvers[..]),
            };
            let text = reminders::reminder_email(&view);
            let email = NewEmail {
                dedupe_key: reminders::reminder_key(&review.server, &review.fingerprint, number),
                server: review.server.clone(),
                reason: "review-reminder".into(),
                recipients: server.owners.clone(),
                cc: config.email.escalation.iter().cloned().collect(),
                subject: text.subject,
                text: text.text,
                html: text.html,
            };
            let new = Store::enqueue_email(tx, &email, Some(run_id))?;
            Store::record_reminder(tx, &review.server, &review.fingerprint, number)?;
            Ok(new)
        })?;
        if new {
            tracing::info!(server = %review.server, "queued a license review reminder");
            queued += 1;
        }
    }
    Ok(queued)
}
