//! Pure decisions about the commands people write on a held rebuild PR: which comments are
//! commands (`/upkeep approve-license [note]`, `/upkeep decline-license <reason>` on the first
//! line), whose identity may decide (the configured approvers, as the forge names the author),
//! and what each command gets: a decision, or a reply that says why not.
//!
//! The rules, in order: a comment answered before is never answered again; a comment edited
//! after the last decision on the PR was recorded counts as of nothing (its new text came too
//! late); someone who is not an approver is told who may decide; a command on a PR that holds
//! no review (or after a decision in the same batch) is told so; a command written before the
//! license text under review was (an older text's) is told it is stale; a decline needs a
//! reason. Only then does a command decide, and only the first one.

use std::collections::HashSet;

use chrono::{DateTime, Timelike as _, Utc};

use crate::config::license::Approver;
use crate::forge::PrComment;

/// A command a comment's first line carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Approve {
        note: Option<String>,
    },
    /// The reason, possibly empty (then it is refused).
    Decline {
        reason: String,
    },
}

/// The command on the first line of `body`, if any. The words must be exact; what follows them
/// on the line is the note or the reason.
pub fn parse(body: &str) -> Option<Command> {
    let line = body.lines().next()?.trim();
    let rest = |word: &str| {
        let tail = line
            .strip_prefix("/upkeep")?
            .trim_start()
            .strip_prefix(word)?;
        (tail.is_empty() || tail.starts_with(char::is_whitespace)).then(|| tail.trim().to_string())
    };
    if let Some(note) = rest("approve-license") {
        return Some(Command::Approve {
            note: Some(note).filter(|n| !n.is_empty()),
        });
    }
    rest("decline-license").map(|reason| Command::Decline { reason })
}

/// The review the PR holds, as the state has it.
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    /// The fingerprint of the license text under review.
    pub fingerprint: &'a str,
    /// Since when this text waits for review.
    pub since: DateTime<Utc>,
}

#[derive(Debug)]
pub struct CommandsInput<'a> {
    pub comments: &'a [PrComment],
    /// Comment ids answered before.
    pub handled: &'a HashSet<String>,
    pub approvers: &'a [Approver],
    /// [`crate::forge::Forge::kind`] of the mirror: whose identities the comments carry.
    pub forge_kind: &'a str,
    /// The review held on the PR; None when it holds none (any more).
    pub held: Option<Held<'a>>,
    /// When the last decision about this server's review was recorded.
    pub decided_at: Option<DateTime<Utc>>,
}

/// What one command gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Approve {
        note: Option<String>,
    },
    Decline {
        reason: String,
    },
    /// The author is not an approver.
    NotApprover,
    /// The PR holds no review, or it was just decided.
    NotHeld,
    /// Written before the license text under review was.
    Stale,
    /// A decline without a reason.
    NoReason,
}

impl Answer {
    /// The outcome as the state records it.
    pub fn outcome(&self) -> &'static str {
        match self {
            Answer::Approve { .. } => "approved",
            Answer::Decline { .. } => "declined",
            Answer::NotApprover => "refused",
            Answer::NotHeld => "not-held",
            Answer::Stale => "stale",
            Answer::NoReason => "no-reason",
        }
    }
}

/// A command and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned<'a> {
    pub comment: &'a PrComment,
    pub answer: Answer,
}

/// Answer every new command of `i.comments`, oldest first.
pub fn plan<'a>(i: &CommandsInput<'a>) -> Vec<Planned<'a>> {
    let mut out = Vec::new();
    let mut decided = false;
    let mut comments: Vec<&PrComment> = i.comments.iter().collect();
    comments.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    for c in comments {
        let Some(command) = parse(&c.body) else {
            continue;
        };
        if i.handled.contains(&c.id) || edited_after_decision(c, i.decided_at) {
            continue;
        }
        let answer = if !i
            .approvers
            .iter()
            .any(|a| a.matches(i.forge_kind, &c.author))
        {
            Answer::NotApprover
        } else if decided {
            Answer::NotHeld
        } else if let Some(held) = i.held {
            // Forges give seconds: a comment in the second the text was held is not stale.
            let since = held.since.with_nanosecond(0).unwrap_or(held.since);
            if time(&c.updated_at).is_some_and(|t| t < since) {
                Answer::Stale
            } else {
                match command {
                    Command::Decline { reason } if reason.is_empty() => Answer::NoReason,
                    Command::Decline { reason } => Answer::Decline { reason },
                    Command::Approve { note } => Answer::Approve { note },
                }
            }
        } else {
            Answer::NotHeld
        };
        decided |= matches!(answer, Answer::Approve { .. } | Answer::Decline { .. });
        out.push(Planned { comment: c, answer });
    }
    out
}

/// A comment written before the last decision and edited after it: its current text came after
/// the decision, so it counts as of nothing.
fn edited_after_decision(c: &PrComment, decided_at: Option<DateTime<Utc>>) -> bool {
    let Some(decided) = decided_at else {
        return false;
    };
    let created = time(&c.created_at);
    let updated = time(&c.updated_at);
    created.is_some_and(|t| t <= decided) && updated.is_none_or(|t| t > decided)
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        time(s).unwrap()
    }

    fn comment(id: &str, author: &str, body: &str, created: &str, updated: &str) -> PrComment {
        PrComment {
            id: id.into(),
            author: author.into(),
            body: body.into(),
            created_at: created.into(),
            updated_at: updated.into(),
            url: format!("https://forge/pr/7#c{id}"),
        }
    }

    #[test]
    fn commands_are_the_first_line_exactly() {
        let approve = |note: Option<&str>| Command::Approve {
            note: note.map(String::from),
        };
        let cases = [
            ("/upkeep approve-license", Some(approve(None))),
            (
                "  /upkeep approve-license CELA-12 ok  \nmore",
                Some(approve(Some("CELA-12 ok"))),
            ),
            (
                "/upkeep decline-license GPL is not for us",
                Some(Command::Decline {
                    reason: "GPL is not for us".into(),
                }),
            ),
            (
                "/upkeep decline-license",
                Some(Command::Decline {
                    reason: String::new(),
                }),
            ),
            ("/upkeep approve-licenses", None),
            ("/upkeep  approve-license", Some(approve(None))),
            ("please /upkeep approve-license", None),
            ("hello\n/upkeep approve-license", None),
            ("/Upkeep approve-license", None),
            ("", None),
        ];
        for (body, want) in cases {
            assert_eq!(parse(body), want, "{body:?}");
        }
    }

    #[test]
    fn who_may_decide_and_when() {
        let approvers = [
            Approver::Github("ada".into()),
            Approver::Azure("cela@example.com".into()),
        ];
        let held = Some(Held {
            fingerprint: "fp",
            since: at("2026-12-01T10:00:00Z"),
        });
        let none = HashSet::new();
        let t = "2026-12-01T11:00:00Z";
        let base = CommandsInput {
            comments: &[],
            handled: &none,
            approvers: &approvers,
            forge_kind: "github",
            held,
            decided_at: None,
        };
        let approve = || Answer::Approve { note: None };
        let run = |comments: &[PrComment], input: CommandsInput<'_>| -> Vec<(String, Answer)> {
            plan(&CommandsInput { comments, ..input })
                .into_iter()
                .map(|p| (p.comment.id.clone(), p.answer))
                .collect()
        };
        let by = |author: &str, body: &str| vec![comment("1", author, body, t, t)];
        // (comments, input changes, expected answers, why)
        type Case<'a> = (
            Vec<PrComment>,
            CommandsInput<'a>,
            Vec<(&'a str, Answer)>,
            &'a str,
        );
        let handled: HashSet<String> = ["1".to_string()].into();
        let cases: Vec<Case<'_>> = vec![
            (
                by("ada", "/upkeep approve-license"),
                CommandsInput { ..base },
                vec![("1", approve())],
                "an approver approves",
            ),
            (
                by("ADA", "/upkeep approve-license CELA-1"),
                CommandsInput { ..base },
                vec![(
                    "1",
                    Answer::Approve {
                        note: Some("CELA-1".into()),
                    },
                )],
                "logins compare without case",
            ),
            (
                by("mallory", "/upkeep approve-license"),
                CommandsInput { ..base },
                vec![("1", Answer::NotApprover)],
                "someone else is told who may decide",
            ),
            (
                by("cela@example.com", "/upkeep approve-license"),
                CommandsInput { ..base },
                vec![("1", Answer::NotApprover)],
                "an Azure approver's name on GitHub is someone else",
            ),
            (
                by("cela@example.com", "/upkeep decline-license no"),
                CommandsInput {
                    forge_kind: "azure-devops",
                    ..base
                },
                vec![(
                    "1",
                    Answer::Decline {
                        reason: "no".into(),
                    },
                )],
                "an Azure approver declines on Azure DevOps",
            ),
            (
                by("ada", "/upkeep decline-license"),
                CommandsInput { ..base },
                vec![("1", Answer::NoReason)],
                "a decline needs a reason",
            ),
            (
                by("ada", "looks fine to me"),
                CommandsInput { ..base },
                vec![],
                "not a command",
            ),
            (
                by("ada", "/upkeep approve-license"),
                CommandsInput {
                    handled: &handled,
                    ..base
                },
                vec![],
                "answered before",
            ),
            (
                by("ada", "/upkeep approve-license"),
                CommandsInput { held: None, ..base },
                vec![("1", Answer::NotHeld)],
                "nothing held",
            ),
            (
                vec![comment(
                    "1",
                    "ada",
                    "/upkeep approve-license",
                    "2026-12-01T09:00:00Z",
                    "2026-12-01T09:00:00Z",
                )],
                CommandsInput { ..base },
                vec![("1", Answer::Stale)],
                "written about an earlier license text",
            ),
            (
                vec![comment(
                    "1",
                    "ada",
                    "/upkeep decline-license changed my mind",
                    "2026-12-01T10:30:00Z",
                    "2026-12-01T12:00:00Z",
                )],
                CommandsInput {
                    decided_at: Some(at("2026-12-01T11:00:00Z")),
                    ..base
                },
                vec![],
                "edited after the decision was recorded: ignored",
            ),
            (
                vec![comment(
                    "1",
                    "ada",
                    "/upkeep approve-license",
                    "2026-12-01T10:30:00Z",
                    "2026-12-01T10:45:00Z",
                )],
                CommandsInput {
                    decided_at: Some(at("2026-12-01T11:00:00Z")),
                    ..base
                },
                vec![("1", approve())],
                "edited before the decision: counts as its current text",
            ),
            (
                vec![
                    comment("2", "ada", "/upkeep decline-license no", t, t),
                    comment(
                        "1",
                        "cela@example.com",
                        "/upkeep approve-license",
                        "2026-12-01T10:30:00Z",
                        "2026-12-01T10:30:00Z",
                    ),
                    comment("3", "ada", "/upkeep approve-license", t, t),
                ],
                CommandsInput {
                    approvers: &approvers[..1],
                    ..base
                },
                vec![
                    ("1", Answer::NotApprover),
                    (
                        "2",
                        Answer::Decline {
                            reason: "no".into(),
                        },
                    ),
                    ("3", Answer::NotHeld),
                ],
                "oldest first; the first decision wins; a server's own approver list",
            ),
        ];
        for (comments, input, want, why) in cases {
            let want: Vec<(String, Answer)> = want
                .into_iter()
                .map(|(id, a)| (id.to_string(), a))
                .collect();
            assert_eq!(run(&comments, input), want, "{why}");
        }
    }
}
