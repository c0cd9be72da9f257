//! Stale-review reminders: a review still pending after `review-sla` (a license change's legal
//! review, or an MCP surface change's security review) reminds the server's owners (the
//! `escalation` address in Cc), and again after every further SLA period.
//!
//! Owns the decision "is a reminder due?" ([`reminder_number`]) and the reminder's text
//! ([`reminder_email`]), both pure. `pipeline::reminders` queues each reminder with its record in
//! one transaction, keyed [`reminder_key`], so a crash or a rerun never queues a period's
//! reminder twice. Sending is the outbox's job.

use std::fmt::Write as _;
use std::time::Duration;

use crate::render::decisions::{Subject, email_steps};
use crate::render::{EmailText, html_escape, short_ref};

/// Everything a reminder says; built from the state, rendered by [`reminder_email`].
#[derive(Debug, Clone)]
pub struct ReminderView<'a> {
    /// The review that waits: the license change or the MCP surface.
    pub subject: Subject,
    pub server: &'a str,
    /// The pinned ref (`refs/tags/v1.0.0`), when known.
    pub pinned: Option<&'a str>,
    /// The version the held rebuild proposes, when known.
    pub proposed: Option<&'a str>,
    /// When the review started waiting (as stored, RFC 3339).
    pub since: &'a str,
    /// How long it has waited.
    pub waited: Duration,
    /// Which reminder this is (1 for the first).
    pub number: i64,
    pub pr_url: Option<&'a str>,
    /// One line per license change (the judgement's summary), or per MCP surface finding at
    /// the hold levels.
    pub changes: &'a [String],
    pub fingerprint: &'a str,
    pub escalation: Option<&'a str>,
    /// Who may decide this review on the PR (none: the CLI).
    pub approvers: &'a [crate::config::license::Approver],
}

/// How many reminders are due for a review that has waited `waited`: one per full SLA period.
/// Returns the number of the reminder to queue now, or None when none is due beyond `sent`
/// (reminders missed while upkeep was down are not caught up: one per period at most).
pub fn reminder_number(waited: Duration, sla: Duration, sent: i64) -> Option<i64> {
    if sla.is_zero() {
        return None;
    }
    let periods = i64::try_from(waited.as_nanos() / sla.as_nanos()).unwrap_or(i64::MAX);
    (periods >= 1 && periods > sent).then_some(periods)
}

/// "3 days", "5 hours", "1 minute": how long a review has waited, for people.
pub fn waited_label(waited: Duration) -> String {
    let s = waited.as_secs();
    let (n, unit) = match s {
        0..60 => (s, "second"),
        60..3600 => (s / 60, "minute"),
        3600..86_400 => (s / 3600, "hour"),
        _ => (s / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The reminder email: which server and versions, since when, the PR, how to decide.
pub fn reminder_email(v: &ReminderView<'_>) -> EmailText {
    let versions = match (v.pinned.map(short_ref), v.proposed) {
        (Some(p), Some(n)) => format!(" {p} -> {n}"),
        (None, Some(n)) => format!(" -> {n}"),
        _ => String::new(),
    };
    let waited = waited_label(v.waited);
    let review = v.subject.review();
    let subject = format!(
        "[upkeep] reminder: {}{versions}: {review} waiting for {waited}",
        v.server
    );
    let intro = format!(
        "The rebuild of {}{versions} has been held for {} {review} since {} ({waited}).\n\
         Until the {} is approved, the sponsored rebuild stays on the old release.",
        v.server,
        match v.subject {
            Subject::License => "a",
            Subject::Mcp => "an",
        },
        v.since,
        v.subject.change_in_text()
    );
    let steps = steps(v);
    let fp = &v.fingerprint[..v.fingerprint.len().min(16)];
    let footer = format!(
        "Reminder {} for {} fingerprint {fp}. upkeep reminds again after each review period{}.",
        v.number,
        match v.subject {
            Subject::License => "license",
            Subject::Mcp => "MCP surface",
        },
        v.escalation
            .map(|e| format!("; {e} is copied"))
            .unwrap_or_default()
    );
    let changes_title = match v.subject {
        Subject::License => "What changed",
        Subject::Mcp => "Findings at the hold levels",
    };

    let mut t = format!("{intro}\n\n");
    let mut h = format!(
        "<html><body style=\"font-family:sans-serif\"><p>{}</p>",
        html_escape(&intro).replace('\n', "<br>")
    );
    if !v.changes.is_empty() {
        let _ = writeln!(t, "{changes_title}");
        let _ = write!(h, "<h3>{changes_title}</h3><ul>");
        for line in v.changes {
            let _ = writeln!(t, "  {line}");
            let _ = write!(h, "<li>{}</li>", html_escape(line));
        }
        t.push('\n');
        h.push_str("</ul>");
    }
    t.push_str("What to do\n");
    h.push_str("<h3>What to do</h3><ol>");
    for (i, step) in steps.iter().enumerate() {
        let _ = writeln!(t, "  {}. {step}", i + 1);
        let _ = write!(h, "<li>{}</li>", html_escape(step).replace('\n', "<br>"));
    }
    h.push_str("</ol>");
    if let Some(url) = v.pr_url {
        let _ = writeln!(t, "\nRebuild PR (draft): {url}");
        let _ = write!(
            h,
            "<p>Rebuild PR (draft): <a href=\"{0}\">{0}</a></p>",
            html_escape(url)
        );
    }
    let _ = writeln!(t, "\n{footer}");
    let _ = write!(
        h,
        "<p style=\"color:#666\">{}</p></body></html>",
        html_escape(&footer)
    );
    EmailText {
        subject,
        text: t,
        html: h,
    }
}

/// The reminder's steps: where to see the change, who reviews it, how to approve or decline.
fn steps(v: &ReminderView<'_>) -> [String; 4] {
    let version = v.proposed.unwrap_or("that version");
    match v.subject {
        Subject::License => {
            let approve = format!(
                "upkeep license approve {} --by \"<your name>\" --note \"<CELA ticket>\"",
                v.server
            );
            let [if_approved, if_not] = if v.approvers.is_empty() {
                [
                    format!(
                        "If approved: {approve}\n     The rebuild PR then becomes ready for review."
                    ),
                    "If not approved: close the rebuild PR; upkeep will not propose that version again."
                        .to_string(),
                ]
            } else {
                email_steps(Subject::License, v.server, version, v.approvers)
            };
            [
                format!("See the pending change: upkeep license show {}", v.server),
                "Send it to CELA for review, if not done yet.".to_string(),
                if_approved,
                if_not,
            ]
        }
        Subject::Mcp => {
            let [if_approved, if_not] = email_steps(Subject::Mcp, v.server, version, v.approvers);
            [
                "See the changed texts in the rebuild PR's \"MCP surface\" section, or in the \
                 first email about this surface."
                    .to_string(),
                "Have them reviewed for tool poisoning (a security review), if not done yet."
                    .to_string(),
                if_approved,
                if_not,
            ]
        }
    }
}

/// The dedupe key of reminder `number` of a review: one per period, whatever crashes or reruns
/// (the license reviews' keys are what they were before MCP surface reviews had reminders).
pub fn reminder_key(subject: Subject, server: &str, fingerprint: &str, number: i64) -> String {
    format!("{server}:{}:{fingerprint}:{number}", reason(subject))
}

/// The outbox reason of a reminder about `subject`.
pub fn reason(subject: Subject) -> &'static str {
    match subject {
        Subject::License => "review-reminder",
        Subject::Mcp => "mcp-review-reminder",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reminder_per_full_period_and_no_catch_up() {
        let day = Duration::from_secs(86_400);
        let sla = day * 7;
        let table = [
            (day * 6, 0, None),
            (day * 7, 0, Some(1)),
            (day * 8, 1, None),
            (day * 14, 1, Some(2)),
            // Down for three periods: one reminder, numbered by the current period.
            (day * 35, 1, Some(5)),
            (day * 35, 5, None),
        ];
        for (waited, sent, want) in table {
            assert_eq!(
                reminder_number(waited, sla, sent),
                want,
                "{waited:?} {sent}"
            );
        }
        assert_eq!(reminder_number(day, Duration::ZERO, 0), None);
    }

    #[test]
    fn waited_is_said_in_the_largest_whole_unit() {
        assert_eq!(waited_label(Duration::from_secs(1)), "1 second");
        assert_eq!(waited_label(Duration::from_secs(125)), "2 minutes");
        assert_eq!(waited_label(Duration::from_secs(3600)), "1 hour");
        assert_eq!(waited_label(Duration::from_secs(86_400 * 9 + 5)), "9 days");
    }

    #[test]
    fn hostile_names_are_escaped_in_html() {
        let changes = vec!["LICENSE: <b>MIT</b> -> custom".to_string()];
        let v = ReminderView {
            subject: Subject::License,
            approvers: &[],
            server: "w<script>",
            pinned: Some("refs/tags/v1.0.0"),
            proposed: Some("1.2.0"),
            since: "2026-01-01T00:00:00.000Z",
            waited: Duration::from_secs(86_400 * 8),
            number: 1,
            pr_url: Some("https://example.com/pr/1?a=\"b\""),
            changes: &changes,
            fingerprint: "abc",
            escalation: None,
        };
        let e = reminder_email(&v);
        assert!(!e.html.contains("<script>"), "{}", e.html);
        assert!(!e.html.contains("<b>MIT"), "{}", e.html);
        assert!(e.text.contains("upkeep license approve w<script>"));
        assert_eq!(
            e.subject,
            "[upkeep] reminder: w<script> v1.0.0 -> 1.2.0: license review waiting for 8 days"
        );
    }

    #[test]
    fn an_mcp_reminder_names_its_own_review_and_approvers() {
        let changes = vec!["high: hidden-instruction in tool:add description".to_string()];
        let security = [crate::config::license::Approver::Github("sec-sam".into())];
        let v = ReminderView {
            subject: Subject::Mcp,
            approvers: &security,
            server: "w",
            pinned: Some("refs/tags/v1.0.0"),
            proposed: Some("1.2.0"),
            since: "2026-01-01T00:00:00.000Z",
            waited: Duration::from_secs(86_400 * 8),
            number: 2,
            pr_url: None,
            changes: &changes,
            fingerprint: "0123456789abcdef0123",
            escalation: None,
        };
        let e = reminder_email(&v);
        assert_eq!(
            e.subject,
            "[upkeep] reminder: w v1.0.0 -> 1.2.0: MCP surface review waiting for 8 days"
        );
        assert!(
            e.text.contains("held for an MCP surface review since")
                && e.text.contains("Until the MCP surface change is approved"),
            "{}",
            e.text
        );
        assert!(
            e.text
                .contains("Findings at the hold levels\n  high: hidden-instruction in tool:add"),
            "{}",
            e.text
        );
        assert!(
            e.text.contains("one of the approvers (github:sec-sam)")
                && e.text.contains("/upkeep approve-mcp <note>")
                && e.text.contains("/upkeep decline-mcp <reason>"),
            "{}",
            e.text
        );
        assert!(
            !e.text.contains("CELA") && !e.text.contains("license"),
            "{}",
            e.text
        );
        assert!(
            e.text
                .contains("Reminder 2 for MCP surface fingerprint 0123456789abcdef")
        );
        let cli = reminder_email(&ReminderView {
            approvers: &[],
            ..v.clone()
        });
        assert!(
            cli.text
                .contains("upkeep review approve w --kind mcp --by \"<your name>\""),
            "{}",
            cli.text
        );
        assert_ne!(
            reminder_key(Subject::Mcp, "w", "fp", 1),
            reminder_key(Subject::License, "w", "fp", 1)
        );
        assert_eq!(
            reminder_key(Subject::License, "w", "fp", 1),
            "w:review-reminder:fp:1",
            "license reminders keep their keys"
        );
    }
}
