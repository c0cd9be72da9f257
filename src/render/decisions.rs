//! The texts of review decisions, for both reviews that hold a rebuild ([`Subject`]: the
//! license change, the MCP surface): how to decide a held review (PR banner and email steps,
//! naming the approvers and the exact comment when there are approvers, the CLI when there are
//! none), upkeep's replies to commands on the PR, the owners' email about a decline, and the
//! audit trail as `license show` and `license log` print it.
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

/// The review a decision or a command is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The license change (legal review).
    License,
    /// The MCP surface change with findings at the hold levels (security review).
    Mcp,
}

impl Subject {
    /// What was approved or declined, capitalised: the replies' headline.
    fn change(self) -> &'static str {
        match self {
            Subject::License => "License change",
            Subject::Mcp => "MCP surface change",
        }
    }

    /// The same within a sentence.
    pub fn change_in_text(self) -> &'static str {
        match self {
            Subject::License => "license change",
            Subject::Mcp => "MCP surface change",
        }
    }

    /// What the fingerprint identifies, at the start of a line.
    fn text_title(self) -> &'static str {
        match self {
            Subject::License => "License text",
            Subject::Mcp => "MCP surface",
        }
    }

    /// What the fingerprint identifies.
    fn text(self) -> &'static str {
        match self {
            Subject::License => "license text",
            Subject::Mcp => "MCP surface",
        }
    }

    /// The review, within a sentence (`license review`, `MCP surface review`).
    pub fn review(self) -> &'static str {
        match self {
            Subject::License => "license review",
            Subject::Mcp => "MCP surface review",
        }
    }

    /// The label the held PR carries for this review.
    pub fn label(self) -> &'static str {
        match self {
            Subject::License => super::REVIEW_LABEL,
            Subject::Mcp => super::MCP_REVIEW_LABEL,
        }
    }

    /// The PR command that approves (`/upkeep <word> [note]`).
    pub fn approve_word(self) -> &'static str {
        match self {
            Subject::License => "approve-license",
            Subject::Mcp => "approve-mcp",
        }
    }

    /// The PR command that declines (`/upkeep <word> <reason>`).
    pub fn decline_word(self) -> &'static str {
        match self {
            Subject::License => "decline-license",
            Subject::Mcp => "decline-mcp",
        }
    }

    /// What an approval's note should name.
    fn note_hint(self) -> &'static str {
        match self {
            Subject::License => "the CELA ticket",
            Subject::Mcp => "who read the changed texts, or a ticket",
        }
    }

    /// The operators' command line that decides this review (`verb`: `approve`,
    /// `decline` or `approve|decline`).
    fn cli(self, verb: &str, server: &str) -> String {
        match self {
            Subject::License => format!("upkeep license {verb} {server}"),
            Subject::Mcp => format!("upkeep review {verb} {server} --kind mcp"),
        }
    }

    /// What becomes of a newer release, said after a decline.
    fn next_release(self) -> &'static str {
        match self {
            Subject::License => "reviewed again if its license changes",
            Subject::Mcp => "held again if its MCP surface has findings at the hold levels",
        }
    }
}

/// The last lines of the PR's hold banner for `subject`: how to decide. `draft_until` starts
/// the sentence ("This PR stays a draft until", which the no-drafts variant rewrites).
pub fn pr_how_to_decide(
    subject: Subject,
    server: &str,
    version: &str,
    approvers: &[Approver],
    draft_until: &str,
) -> String {
    if approvers.is_empty() {
        return format!(
            "{draft_until} `{} --by <name>` records an approval. \
             To decline, close it: upkeep will not propose {} again.",
            subject.cli("approve", server),
            md_escape(version)
        );
    }
    format!(
        "{draft_until} an approver ({}) comments on it with the first line\n>\n\
         > `/upkeep {} <note, e.g. {}>`\n>\n\
         > To decline, an approver comments `/upkeep {} <reason>`: upkeep closes \
         this PR and will not propose {} again. Anyone else's command gets a reply and changes \
         nothing. (Operators: `{} --by <name>`.)",
        approver_list(approvers, true),
        subject.approve_word(),
        subject.note_hint(),
        subject.decline_word(),
        md_escape(version),
        subject.cli("approve|decline", server),
    )
}

/// The email's two steps after the review of `subject`: approve, decline.
pub fn email_steps(
    subject: Subject,
    server: &str,
    version: &str,
    approvers: &[Approver],
) -> [String; 2] {
    let note = match subject {
        Subject::License => " --note \"<CELA ticket>\"",
        Subject::Mcp => "",
    };
    if approvers.is_empty() {
        return [
            format!(
                "If approved:  {} --by \"<your name>\"{note}\n     The rebuild PR then becomes ready for review.",
                subject.cli("approve", server)
            ),
            format!(
                "If not approved: close the rebuild PR; upkeep will not propose {version} again."
            ),
        ];
    }
    let who = approver_list(approvers, false);
    let hint = match subject {
        Subject::License => "<CELA ticket>",
        Subject::Mcp => "<note>",
    };
    [
        format!(
            "If approved: one of the approvers ({who}) comments on the rebuild PR, first line:\n     \
             /upkeep {} {hint}\n     \
             The rebuild PR then becomes ready for review.",
            subject.approve_word()
        ),
        format!(
            "If not approved: an approver comments on the rebuild PR, first line:\n     \
             /upkeep {} <reason>\n     \
             upkeep closes the PR and will not propose {version} again.",
            subject.decline_word()
        ),
    ]
}

/// A decision as a reply on the PR states it.
#[derive(Debug, Clone, Copy)]
pub struct DecisionView<'a> {
    pub subject: Subject,
    pub server: &'a str,
    pub version: &'a str,
    pub actor: &'a str,
    /// RFC 3339.
    pub at: &'a str,
    pub fingerprint: &'a str,
    /// The approval's note or the decline's reason.
    pub note: Option<&'a str>,
    /// The other review that still holds the PR after this approval, if any.
    pub still_held: Option<Subject>,
}

fn fp(fingerprint: &str) -> &str {
    fingerprint.get(..16).unwrap_or(fingerprint)
}

/// "(license text `0123…` of 1.1.0)": what a decision is about.
fn about(d: &DecisionView<'_>) -> String {
    let of = if d.version.is_empty() {
        String::new()
    } else {
        format!(" of {}", md_escape(d.version))
    };
    format!("{} `{}`{of}", d.subject.text(), fp(d.fingerprint))
}

/// The reply to an approval.
pub fn approved_reply(key: &str, d: &DecisionView<'_>) -> String {
    let label = d.subject.label();
    let next = match d.still_held {
        Some(other) => format!(
            "upkeep removes the `{label}` label; this PR stays a draft until its {} is decided \
             too (`/upkeep {}`).",
            other.review(),
            other.approve_word()
        ),
        None => format!(
            "upkeep now marks this PR ready for review and removes the `{label}` label \
             (unless another review still holds it)."
        ),
    };
    let scope = match d.subject {
        Subject::License => "",
        Subject::Mcp => {
            " The approval covers this surface only: a release that changes it again is held again."
        }
    };
    format!(
        "✅ **{} approved** by {} at {} ({}){}.\n\n{next}{scope} The approval is in \
         `upkeep license log {}`.\n\n{}",
        d.subject.change(),
        md_escape(d.actor),
        d.at,
        about(d),
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
        "❌ **{} declined** by {} at {} ({}): {}\n\n\
         upkeep closes this PR and will not propose {} again; a newer release is proposed as \
         usual ({}). The owners are emailed.\n\n{}",
        d.subject.change(),
        md_escape(d.actor),
        d.at,
        about(d),
        md_escape(d.note.unwrap_or("no reason given")),
        md_escape(d.version),
        d.subject.next_release(),
        reply_marker(key)
    )
}

/// Why a command changed nothing.
#[derive(Debug, Clone, Copy)]
pub enum Refusal<'a> {
    /// `author` is not an approver of the command's review; `theirs`: the other review, when
    /// they are one of its approvers.
    NotApprover {
        author: &'a str,
        theirs: Option<Subject>,
    },
    /// Nothing of the command's kind is held; `other` is a review the PR does hold.
    NotHeld {
        other: Option<Subject>,
    },
    Stale {
        fingerprint: &'a str,
    },
    NoReason,
}

/// The reply to a command about `subject` that changed nothing.
pub fn refusal_reply(
    key: &str,
    subject: Subject,
    server: &str,
    approvers: &[Approver],
    why: Refusal<'_>,
) -> String {
    let review = subject.review();
    let text = match why {
        Refusal::NotApprover { author, theirs } => {
            let who = if approvers.is_empty() {
                format!(
                    "Nobody decides the {review} of {server} by a comment: an operator records \
                     the decision with `{} --by <name>`.",
                    subject.cli("approve|decline", server)
                )
            } else {
                format!(
                    "The {review} of {server} is decided by: {}.",
                    approver_list(approvers, true)
                )
            };
            let theirs = theirs
                .map(|o| {
                    format!(
                        " ({} decides its {} only: `/upkeep {}`.)",
                        md_escape(author),
                        o.review(),
                        o.approve_word()
                    )
                })
                .unwrap_or_default();
            format!(
                "{} may not decide this {review}. {who}{theirs} Nothing was recorded.",
                md_escape(author)
            )
        }
        Refusal::NotHeld { other } => format!(
            "This PR holds no {review} waiting for a decision (it was decided, or nothing is \
             held).{} Nothing was recorded.",
            other
                .map(|o| format!(
                    " It holds its {} instead: `/upkeep {}` decides that one.",
                    o.review(),
                    o.approve_word()
                ))
                .unwrap_or_default()
        ),
        Refusal::Stale { fingerprint } => format!(
            "The {0} changed after this comment was written: it is about an earlier {0}, and \
             the PR now holds {0} `{1}` for review. Read the current {0} and comment again. \
             Nothing was recorded.",
            subject.text(),
            fp(fingerprint)
        ),
        Refusal::NoReason => format!(
            "A decline needs a reason on the same line: `/upkeep {} <reason>`. Nothing was \
             recorded.",
            subject.decline_word()
        ),
    };
    format!("ℹ️ {text}\n\n{}", reply_marker(key))
}

/// The owners' email about a decline (sent once per text or surface).
pub fn declined_email(d: &DecisionView<'_>, pr_url: Option<&str>) -> EmailText {
    let subject = format!(
        "[upkeep] {}: {} of {} declined",
        d.server,
        d.subject.change_in_text(),
        d.version
    );
    let mut t = format!(
        "The {} of {}, a sponsored server you own, in release {} was declined by {} at {}.\n\n\
         Reason: {}\n\n",
        d.subject.change_in_text(),
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
        "upkeep will not propose {} again; a newer release is proposed as usual ({}).\n\
         {}: {}\nThe decision is kept: upkeep license log {}",
        d.version,
        d.subject.next_release(),
        d.subject.text_title(),
        d.fingerprint,
        d.server
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
        subject: Subject::License,
        server: "weather",
        version: "1.1.0",
        actor: "@ada",
        at: "2026-12-01T12:00:00Z",
        fingerprint: "0123456789abcdef0123",
        note: Some("see #12, cc @legal"),
        still_held: None,
    };

    #[test]
    fn replies_neutralise_mentions_and_carry_their_marker() {
        for reply in [
            approved_reply("c9", &D),
            declined_reply("c9", &D),
            refusal_reply(
                "c9",
                Subject::License,
                "weather",
                &[Approver::Github("ada".into())],
                Refusal::NotApprover {
                    author: "@bob",
                    theirs: None,
                },
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
        let none = pr_how_to_decide(
            Subject::License,
            "w",
            "1.1.0",
            &[],
            "This PR stays a draft until",
        );
        assert!(none.contains("upkeep license approve w --by <name>"));
        let some = pr_how_to_decide(
            Subject::License,
            "w",
            "1.1.0",
            &[Approver::Github("ada".into())],
            "This PR stays a draft until",
        );
        assert!(some.contains("github:ada"));
        assert!(some.contains("`/upkeep approve-license <note"));
        assert!(some.contains("`/upkeep decline-license <reason>`"));
        let steps = email_steps(
            Subject::License,
            "w",
            "1.1.0",
            &[Approver::Azure("c@example.com".into())],
        );
        assert!(
            steps[0].contains("azure:c@example.com")
                && steps[0].contains("/upkeep approve-license")
        );
        assert!(
            email_steps(Subject::License, "w", "1.1.0", &[])[0]
                .contains("upkeep license approve w")
        );
    }

    #[test]
    fn the_mcp_review_has_its_own_commands_and_texts() {
        let ada = [Approver::Github("ada".into())];
        let how = pr_how_to_decide(
            Subject::Mcp,
            "w",
            "1.1.0",
            &ada,
            "This PR stays a draft until",
        );
        assert!(how.contains("`/upkeep approve-mcp <note"), "{how}");
        assert!(how.contains("`/upkeep decline-mcp <reason>`"), "{how}");
        assert!(
            how.contains("upkeep review approve|decline w --kind mcp"),
            "{how}"
        );
        assert!(!how.contains("license"), "{how}");
        let none = pr_how_to_decide(
            Subject::Mcp,
            "w",
            "1.1.0",
            &[],
            "This PR stays a draft until",
        );
        assert!(
            none.contains("`upkeep review approve w --kind mcp --by <name>`"),
            "{none}"
        );
        let steps = email_steps(Subject::Mcp, "w", "1.1.0", &ada);
        assert!(steps[0].contains("/upkeep approve-mcp") && steps[0].contains("github:ada"));
        assert!(steps[1].contains("/upkeep decline-mcp <reason>"));

        let mcp = DecisionView {
            subject: Subject::Mcp,
            still_held: Some(Subject::License),
            ..D
        };
        let approved = approved_reply("c9", &mcp);
        assert!(
            approved.starts_with("✅ **MCP surface change approved** by "),
            "{approved}"
        );
        assert!(
            approved.contains("MCP surface `0123456789abcdef` of 1.1.0"),
            "{approved}"
        );
        assert!(approved.contains("removes the `mcp-review-required` label"));
        assert!(
            approved.contains("stays a draft until its license review is decided too"),
            "{approved}"
        );
        assert!(approved.contains("a release that changes it again is held again"));
        let declined = declined_reply("c9", &mcp);
        assert!(
            declined.starts_with("❌ **MCP surface change declined**"),
            "{declined}"
        );
        assert!(declined.contains("will not propose 1.1.0 again"));
        let email = declined_email(&mcp, Some("https://forge/pr/7"));
        assert_eq!(
            email.subject,
            "[upkeep] weather: MCP surface change of 1.1.0 declined"
        );
        assert!(
            email.text.contains("MCP surface: 0123456789abcdef0123"),
            "{}",
            email.text
        );
    }

    #[test]
    fn the_mcp_review_refusals_name_its_own_approvers() {
        let ada = [Approver::Github("ada".into())];
        let refuse = |why| refusal_reply("c9", Subject::Mcp, "weather", &ada, why);
        let not_approver = refuse(Refusal::NotApprover {
            author: "bob",
            theirs: None,
        });
        assert!(
            not_approver.contains(
                "bob may not decide this MCP surface review. The MCP surface review of weather \
                 is decided by: github:ada. Nothing was recorded."
            ),
            "{not_approver}"
        );
        let legal = refuse(Refusal::NotApprover {
            author: "cela-ada",
            theirs: Some(Subject::License),
        });
        assert!(
            legal.contains(
                "decided by: github:ada. (cela-ada decides its license review only: \
                 `/upkeep approve-license`.)"
            ),
            "{legal}"
        );
        let nobody = refusal_reply(
            "c9",
            Subject::Mcp,
            "weather",
            &[],
            Refusal::NotApprover {
                author: "cela-ada",
                theirs: Some(Subject::License),
            },
        );
        assert!(
            nobody.contains(
                "Nobody decides the MCP surface review of weather by a comment: an operator \
                 records the decision with `upkeep review approve|decline weather --kind mcp \
                 --by <name>`."
            ),
            "{nobody}"
        );
        let not_held = refuse(Refusal::NotHeld {
            other: Some(Subject::License),
        });
        assert!(
            not_held.contains("holds no MCP surface review waiting")
                && not_held.contains("`/upkeep approve-license` decides that one"),
            "{not_held}"
        );
        assert!(
            refuse(Refusal::Stale {
                fingerprint: "fedcba9876543210ff"
            })
            .contains("the PR now holds MCP surface `fedcba9876543210` for review")
        );
        assert!(refuse(Refusal::NoReason).contains("`/upkeep decline-mcp <reason>`"));
    }
}
