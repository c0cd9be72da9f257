//! The texts of review decisions: how to decide a held license review (PR banner and email
//! steps, naming the approvers and the exact comment when there are approvers, the CLI when
//! there are none), upkeep's replies to commands on the PR, the owners' email about a decline,
//! and the audit trail as `license show` and `license log` print it.
//!
//! Everything a forge renders goes through [`md_escape`]: names and notes come from comments
//! and the forge, so mentions and references are neutralised. Every reply ends with the hidden
//! marker of the comment it answers ([`reply_marker`]), by which a reply posted just before a
//! crash is found instead of posted twice.

use std::fmt::Write as _;

use super::{EmailText, html_escape, md_escape};
use crate::config::license::Approver;

/// The hidden marker a reply to `key` (a comment id, or `decision-<id>`) carries.
pub fn reply_marker(key: &str) -> String {
    format!("<!-- upkeep:reply:{key} -->")
}

/// The approvers, as the config names them, for a PR (Markdown-escaped) or a plain text.
fn approver_list(approvers: &[Approver], md: bool) -> String {
    approvers
        .iter()
        .map(|a| {
            if md {
                md_escape(&a.to_string())
            } else {
                a.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The last lines of the PR's hold banner: how to decide. `draft_until` starts the sentence
/// ("This PR stays a draft until", which the no-drafts variant rewrites).
pub fn pr_how_to_decide(
    server: &str,
    version: &str,
    approvers: &[Approver],
    draft_until: &str,
) -> String {
    if approvers.is_empty() {
        return format!(
            "{draft_until} `upkeep license approve {server} --by <name>` records an approval. \
             To decline, close it: upkeep will not propose {} again.",
            md_escape(version)
        );
    }
    format!(
        "{draft_until} an approver ({}) comments on it with the first line\n>\n\
         > `/upkeep approve-license <note, e.g. the CELA ticket>`\n>\n\
         > To decline, an approver comments `/upkeep decline-license <reason>`: upkeep closes \
         this PR and will not propose {} again. Anyone else's command gets a reply and changes \
         nothing. (Operators: `upkeep license approve|decline {server} --by <name>`.)",
        approver_list(approvers, true),
        md_escape(version)
    )
}

/// The email's two steps after the review: approve, decline.
pub fn email_steps(server: &str, version: &str, approvers: &[Approver]) -> [String; 2] {
    if approvers.is_empty() {
        return [
            format!(
                "If approved:  upkeep license approve {server} --by \"<your name>\" --note \"<CELA ticket>\"\n     The rebuild PR then becomes ready for review."
            ),
            format!(
                "If not approved: close the rebuild PR; upkeep will not propose {version} again."
            ),
        ];
    }
    let who = approver_list(approvers, false);
    [
        format!(
            "If approved: one of the approvers ({who}) comments on the rebuild PR, first line:\n     \
             /upkeep approve-license <CELA ticket>\n     \
             The rebuild PR then becomes ready for review."
        ),
        format!(
            "If not approved: an approver comments on the rebuild PR, first line:\n     \
             /upkeep decline-license <reason>\n     \
             upkeep closes the PR and will not propose {version} again."
        ),
    ]
}

/// A decision as a reply on the PR states it.
#[derive(Debug, Clone, Copy)]
pub struct DecisionView<'a> {
    pub server: &'a str,
    pub version: &'a str,
    pub actor: &'a str,
    /// RFC 3339.
    pub at: &'a str,
    pub fingerprint: &'a str,
    /// The approval's note or the decline's reason.
    pub note: Option<&'a str>,
}

fn fp(fingerprint: &str) -> &str {
    fingerprint.get(..16).unwrap_or(fingerprint)
}

/// The reply to an approval.
pub fn approved_reply(key: &str, d: &DecisionView<'_>) -> String {
    format!(
        "✅ **License change approved** by {} at {} (license text `{}`){}.\n\n\
         upkeep now marks this PR ready for review and removes the `license-review-required` \
         label (unless another review still holds it); the approval is in \
         `upkeep license log {}`.\n\n{}",
        md_escape(d.actor),
        d.at,
        fp(d.fingerprint),
        d.note
            .map(|n| format!(": {}", md_escape(n)))
            .unwrap_or_default(),
        d.server,
        reply_marker(key)
    )
}

/// The reply to a decline, posted before the PR is closed.
pub fn declined_reply(key: &str, d: &DecisionView<'_>) -> String {
    format!(
        "❌ **License change declined** by {} at {} (license text `{}`): {}\n\n\
         upkeep closes this PR and will not propose {} again; a newer release is proposed as \
         usual. The owners are emailed.\n\n{}",
        md_escape(d.actor),
        d.at,
        fp(d.fingerprint),
        md_escape(d.note.unwrap_or("no reason given")),
        md_escape(d.version),
        reply_marker(key)
    )
}

/// Why a command changed nothing.
#[derive(Debug, Clone, Copy)]
pub enum Refusal<'a> {
    NotApprover { author: &'a str },
    NotHeld,
    Stale { fingerprint: &'a str },
    NoReason,
}

/// The reply to a command that changed nothing.
pub fn refusal_reply(key: &str, server: &str, approvers: &[Approver], why: Refusal<'_>) -> String {
    let text = match why {
        Refusal::NotApprover { author } => format!(
            "{} may not decide this license review. The approvers for {server} are: {}. \
             Nothing was recorded.",
            md_escape(author),
            approver_list(approvers, true)
        ),
        Refusal::NotHeld => "This PR holds no license review waiting for a decision (it was \
             decided, or nothing is held). Nothing was recorded."
            .to_string(),
        Refusal::Stale { fingerprint } => format!(
            "The license text changed after this comment was written: it is about an earlier \
             text, and the PR now holds license text `{}` for review. Read the current text and \
             comment again. Nothing was recorded.",
            fp(fingerprint)
        ),
        Refusal::NoReason => "A decline needs a reason on the same line: \
             `/upkeep decline-license <reason>`. Nothing was recorded."
            .to_string(),
    };
    format!("ℹ️ {text}\n\n{}", reply_marker(key))
}

/// The owners' email about a decline (sent once per license text).
pub fn declined_email(d: &DecisionView<'_>, pr_url: Option<&str>) -> EmailText {
    let subject = format!(
        "[upkeep] {}: license change of {} declined",
        d.server, d.version
    );
    let mut t = format!(
        "The license change of {}, a sponsored server you own, in release {} was declined by {} at {}.\n\n\
         Reason: {}\n\n",
        d.server,
        d.version,
        d.actor,
        d.at,
        d.note.unwrap_or("no reason given")
    );
    if let Some(url) = pr_url {
        let _ = writeln!(t, "The rebuild PR is closed: {url}");
    }
    let _ = writeln!(
        t,
        "upkeep will not propose {} again; a newer release is proposed as usual (and reviewed again if its license changes).\n\
         License text: {}\nThe decision is kept: upkeep license log {}",
        d.version, d.fingerprint, d.server
    );
    let html = format!(
        "<html><body style=\"font-family:sans-serif\"><pre>{}</pre></body></html>",
        html_escape(&t)
    );
    EmailText {
        subject,
        text: t,
        html,
    }
}

/// One decision of the audit trail, as the terminal shows it.
#[derive(Debug, Clone, Copy)]
pub struct LogLine<'a> {
    pub server: &'a str,
    /// `license` or `mcp` (MCP surface approvals share the trail).
    pub kind: &'a str,
    pub decided_at: &'a str,
    pub decision: &'a str,
    pub source: &'a str,
    pub actor: &'a str,
    pub fingerprint: &'a str,
    pub version: Option<&'a str>,
    pub note: Option<&'a str>,
    pub url: Option<&'a str>,
}

/// The audit trail, one decision per line (and its note and link indented under it).
pub fn log_text(lines: &[LogLine<'_>]) -> String {
    if lines.is_empty() {
        return "No review decisions recorded.\n".into();
    }
    let mut t = String::new();
    for l in lines {
        let _ = writeln!(
            t,
            "{}  {}  {}{} by {} ({}), {} {}{}",
            l.decided_at,
            l.server,
            l.decision,
            if l.kind == "license" {
                String::new()
            } else {
                format!(" ({})", l.kind)
            },
            l.actor,
            l.source,
            if l.kind == "license" {
                "license text"
            } else {
                "fingerprint"
            },
            fp(l.fingerprint),
            l.version.map(|v| format!(", {v}")).unwrap_or_default()
        );
        if let Some(n) = l.note {
            let _ = writeln!(t, "    note: {n}");
        }
        if let Some(u) = l.url {
            let _ = writeln!(t, "    {u}");
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: DecisionView<'static> = DecisionView {
        server: "weather",
        version: "1.1.0",
        actor: "@ada",
        at: "2026-12-01T12:00:00Z",
        fingerprint: "0123456789abcdef0123",
        note: Some("see #12, cc @legal"),
    };

    #[test]
    fn replies_neutralise_mentions_and_carry_their_marker() {
        for reply in [
            approved_reply("c9", &D),
            declined_reply("c9", &D),
            refusal_reply(
                "c9",
                "weather",
                &[Approver::Github("ada".into())],
                Refusal::NotApprover { author: "@bob" },
            ),
        ] {
            assert!(reply.ends_with("<!-- upkeep:reply:c9 -->"), "{reply}");
            assert!(
                !reply.contains("@ada") && !reply.contains("@legal"),
                "{reply}"
            );
            assert!(!reply.contains("#12"), "{reply}");
            assert!(!reply.starts_with("/upkeep"), "a reply is never a command");
        }
        assert!(approved_reply("c9", &D).contains("`0123456789abcdef`"));
    }

    #[test]
    fn the_log_names_the_review_kind_when_it_is_not_a_license() {
        let line = |kind| LogLine {
            server: "w",
            kind,
            decided_at: "2026-12-01T12:00:00.000Z",
            decision: "approved",
            source: "cli",
            actor: "Ada",
            fingerprint: "0123456789abcdef0123",
            version: Some("1.1.0"),
            note: Some("CELA-1"),
            url: None,
        };
        let t = log_text(&[line("license"), line("mcp")]);
        assert!(
            t.contains(
                "w  approved by Ada (cli), license text 0123456789abcdef, 1.1.0\n    note: CELA-1"
            ),
            "{t}"
        );
        assert!(
            t.contains("approved (mcp) by Ada (cli), fingerprint"),
            "{t}"
        );
        assert_eq!(log_text(&[]), "No review decisions recorded.\n");
    }

    #[test]
    fn with_approvers_people_are_told_the_exact_comment() {
        let none = pr_how_to_decide("w", "1.1.0", &[], "This PR stays a draft until");
        assert!(none.contains("upkeep license approve w --by <name>"));
        let some = pr_how_to_decide(
            "w",
            "1.1.0",
            &[Approver::Github("ada".into())],
            "This PR stays a draft until",
        );
        assert!(some.contains("github:ada"));
        assert!(some.contains("`/upkeep approve-license <note"));
        assert!(some.contains("`/upkeep decline-license <reason>`"));
        let steps = email_steps("w", "1.1.0", &[Approver::Azure("c@example.com".into())]);
        assert!(
            steps[0].contains("azure:c@example.com")
                && steps[0].contains("/upkeep approve-license")
        );
        assert!(email_steps("w", "1.1.0", &[])[0].contains("upkeep license approve w"));
    }
}
