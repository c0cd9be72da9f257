//! Pure decisions about the commands people write on a held rebuild PR: which comments are
//! commands (`/upkeep approve-license [note]`, `/upkeep decline-license <reason>`,
//! `/upkeep approve-mcp [note]`, `/upkeep decline-mcp <reason>` on the first line), whose
//! identity may decide (the approvers configured for the command's review, as the forge names
//! the author), and what each command gets: a decision, or a reply that says why not.
//!
//! Each command names the review it decides (the license change or the MCP surface): it is
//! answered against that review only, and only from that review's approvers (the legal
//! reviewers decide the license, the security reviewers the MCP surface; [`Approvers`]), so a
//! license command never clears an MCP hold or the other way round, and a PR held for both
//! needs both approvals.
//!
//! The rules, in order: a comment answered before is never answered again; a comment edited
//! after the last decision on the PR was recorded counts as of nothing (its new text came too
//! late); someone who is not an approver of the command's review is told who may decide; a command about a review the
//! PR does not hold (or one decided in the same batch, or any after a decline, which ends the
//! PR) is told so; a command written before the text under review was (an older text's or
//! surface's) is told it is stale; a decline needs a reason. Only then does a command decide,
//! and only the first one of each review.

use std::collections::HashSet;

use chrono::{DateTime, Timelike as _, Utc};

use crate::config::license::Approver;
use crate::forge::PrComment;
use crate::store::ReviewKind;

/// A command a comment's first line carries, and the review it decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Approve {
        kind: ReviewKind,
        note: Option<String>,
    },
    /// The reason, possibly empty (then it is refused).
    Decline { kind: ReviewKind, reason: String },
}

impl Command {
    pub fn kind(&self) -> ReviewKind {
        match self {
            Command::Approve { kind, .. } | Command::Decline { kind, .. } => *kind,
        }
    }
}

/// The words of each command: (approve, decline) per review kind.
const WORDS: [(ReviewKind, &str, &str); 2] = [
    (ReviewKind::License, "approve-license", "decline-license"),
    (ReviewKind::Mcp, "approve-mcp", "decline-mcp"),
];

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
    WORDS.iter().find_map(|&(kind, approve, decline)| {
        if let Some(note) = rest(approve) {
            return Some(Command::Approve {
                kind,
                note: Some(note).filter(|n| !n.is_empty()),
            });
        }
        rest(decline).map(|reason| Command::Decline { kind, reason })
    })
}

/// A review the PR holds, as the state has it.
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    /// The fingerprint of the text (license) or surface (MCP) under review.
    pub fingerprint: &'a str,
    /// Since when it waits for review.
    pub since: DateTime<Utc>,
}

/// Who may decide each review by a comment on the PR (an empty list: nobody, the CLI decides).
#[derive(Debug, Clone, Copy)]
pub struct Approvers<'a> {
    /// `[license] approvers`: the legal reviewers.
    pub license: &'a [Approver],
    /// `[mcp] approvers` (or, where unset, the license ones): the security reviewers.
    pub mcp: &'a [Approver],
}

impl<'a> Approvers<'a> {
    /// The approvers of the `kind` review.
    pub fn of(&self, kind: ReviewKind) -> &'a [Approver] {
        match kind {
            ReviewKind::License => self.license,
            ReviewKind::Mcp => self.mcp,
        }
    }

    /// Whether the forge's identity `who` may decide the `kind` review.
    pub fn may_decide(&self, kind: ReviewKind, forge_kind: &str, who: &str) -> bool {
        self.of(kind).iter().any(|a| a.matches(forge_kind, who))
    }
}

#[derive(Debug)]
pub struct CommandsInput<'a> {
    pub comments: &'a [PrComment],
    /// Comment ids answered before.
    pub handled: &'a HashSet<String>,
    pub approvers: Approvers<'a>,
    /// [`crate::forge::Forge::kind`] of the mirror: whose identities the comments carry.
    pub forge_kind: &'a str,
    /// The license review held on the PR; None when it holds none (any more).
    pub license: Option<Held<'a>>,
    /// The MCP surface review held on the PR; None when it holds none (any more).
    pub mcp: Option<Held<'a>>,
    /// When the last decision about this server's reviews was recorded.
    pub decided_at: Option<DateTime<Utc>>,
}

impl<'a> CommandsInput<'a> {
    /// The review of `kind` the PR holds.
    pub fn held(&self, kind: ReviewKind) -> Option<Held<'a>> {
        match kind {
            ReviewKind::License => self.license,
            ReviewKind::Mcp => self.mcp,
        }
    }
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
    /// The author is not an approver of the command's review.
    NotApprover,
    /// The PR holds no review of the command's kind, or it was just decided.
    NotHeld,
    /// Written before the text or surface under review was.
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

    /// A decision (approve or decline), not a refusal.
    pub fn decides(&self) -> bool {
        matches!(self, Answer::Approve { .. } | Answer::Decline { .. })
    }
}

/// A command, the review it is about, and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned<'a> {
    pub comment: &'a PrComment,
    pub kind: ReviewKind,
    pub answer: Answer,
}

/// Answer every new command of `i.comments`, oldest first.
pub fn plan<'a>(i: &CommandsInput<'a>) -> Vec<Planned<'a>> {
    let mut out: Vec<Planned<'a>> = Vec::new();
    let mut comments: Vec<&PrComment> = i.comments.iter().collect();
    comments.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    for c in comments {
        let Some(command) = parse(&c.body) else {
            continue;
        };
        if i.handled.contains(&c.id) || edited_after_decision(c, i.decided_at) {
            continue;
        }
        let kind = command.kind();
        // Decided in this batch: the same review, or any review by a decline (it closes the PR
        // and declines the version, so nothing on it is held any more).
        let decided = out.iter().any(|p| {
            p.answer.decides() && (p.kind == kind || matches!(p.answer, Answer::Decline { .. }))
        });
        let answer = if !i.approvers.may_decide(kind, i.forge_kind, &c.author) {
            Answer::NotApprover
        } else if decided {
            Answer::NotHeld
        } else if let Some(held) = i.held(kind) {
            // Forges give seconds: a comment in the second the text was held is not stale.
            let since = held.since.with_nanosecond(0).unwrap_or(held.since);
            if time(&c.updated_at).is_some_and(|t| t < since) {
                Answer::Stale
            } else {
                match command {
                    Command::Decline { reason, .. } if reason.is_empty() => Answer::NoReason,
                    Command::Decline { reason, .. } => Answer::Decline { reason },
                    Command::Approve { note, .. } => Answer::Approve { note },
                }
            }
        } else {
            Answer::NotHeld
        };
        out.push(Planned {
            comment: c,
            kind,
            answer,
        });
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
        let approve = |kind, note: Option<&str>| Command::Approve {
            kind,
            note: note.map(String::from),
        };
        let decline = |kind, reason: &str| Command::Decline {
            kind,
            reason: reason.into(),
        };
        let (license, mcp) = (ReviewKind::License, ReviewKind::Mcp);
        let cases = [
            ("/upkeep approve-license", Some(approve(license, None))),
            (
                "  /upkeep approve-license CELA-12 ok  \nmore",
                Some(approve(license, Some("CELA-12 ok"))),
            ),
            (
                "/upkeep decline-license GPL is not for us",
                Some(decline(license, "GPL is not for us")),
            ),
            ("/upkeep decline-license", Some(decline(license, ""))),
            ("/upkeep approve-licenses", None),
            ("/upkeep  approve-license", Some(approve(license, None))),
            ("please /upkeep approve-license", None),
            ("hello\n/upkeep approve-license", None),
            ("/Upkeep approve-license", None),
            ("", None),
            ("/upkeep approve-mcp", Some(approve(mcp, None))),
            (
                " /upkeep approve-mcp SEC-4 read the new texts \nthanks",
                Some(approve(mcp, Some("SEC-4 read the new texts"))),
            ),
            (
                "/upkeep decline-mcp tool poisoning",
                Some(decline(mcp, "tool poisoning")),
            ),
            ("/upkeep decline-mcp   ", Some(decline(mcp, ""))),
            ("/upkeep approve-mcps", None),
            ("/upkeep approve-MCP", None),
            ("/upkeep approve mcp", None),
            ("> /upkeep approve-mcp", None),
            ("/upkeep approve-mcp-license", None),
        ];
        for (body, want) in cases {
            assert_eq!(parse(body), want, "{body:?}");
        }
    }

    const T: &str = "2026-12-01T11:00:00Z";

    /// What the tables of who may decide, and when, share: an approver on each forge, and the
    /// comments already handled.
    struct Table {
        approvers: [Approver; 2],
        none: HashSet<String>,
        handled: HashSet<String>,
    }

    impl Table {
        fn new() -> Self {
            Self {
                approvers: [
                    Approver::Github("ada".into()),
                    Approver::Azure("cela@example.com".into()),
                ],
                none: HashSet::new(),
                handled: ["1".to_string()].into(),
            }
        }

        /// A GitHub PR held for its license, nothing handled yet; the same people decide both
        /// reviews.
        fn base(&self) -> CommandsInput<'_> {
            CommandsInput {
                comments: &[],
                handled: &self.none,
                approvers: both(&self.approvers),
                forge_kind: "github",
                license: held_for("fp"),
                mcp: None,
                decided_at: None,
            }
        }
    }

    /// The same list for both reviews.
    fn both(list: &[Approver]) -> Approvers<'_> {
        Approvers {
            license: list,
            mcp: list,
        }
    }

    fn held_for(fingerprint: &'static str) -> Option<Held<'static>> {
        Some(Held {
            fingerprint,
            since: at("2026-12-01T10:00:00Z"),
        })
    }

    fn approve() -> Answer {
        Answer::Approve { note: None }
    }

    /// One comment, `1`, by `author`.
    fn by(author: &str, body: &str) -> Vec<PrComment> {
        vec![comment("1", author, body, T, T)]
    }

    /// (comments, input changes, expected answers, why)
    type Case<'a> = (
        Vec<PrComment>,
        CommandsInput<'a>,
        Vec<(&'a str, Answer)>,
        &'a str,
    );

    fn check(cases: Vec<Case<'_>>) {
        for (comments, input, want, why) in cases {
            let got: Vec<(String, Answer)> = plan(&CommandsInput {
                comments: &comments,
                ..input
            })
            .into_iter()
            .map(|p| (p.comment.id.clone(), p.answer))
            .collect();
            let want: Vec<(String, Answer)> = want
                .into_iter()
                .map(|(id, a)| (id.to_string(), a))
                .collect();
            assert_eq!(got, want, "{why}");
        }
    }

    /// Who may decide a held license review, on either forge.
    #[test]
    fn who_may_decide_a_license_review() {
        let table = Table::new();
        let (handled, base) = (&table.handled, table.base());
        check(vec![
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
                CommandsInput { handled, ..base },
                vec![],
                "answered before",
            ),
        ]);
    }

    /// When a command counts: once, while something is held, about the text it was written for.
    #[test]
    fn when_a_command_counts() {
        let table = Table::new();
        let (approvers, base, t) = (&table.approvers, table.base(), T);
        check(vec![
            (
                by("ada", "/upkeep approve-license"),
                CommandsInput {
                    license: None,
                    ..base
                },
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
                    approvers: both(&approvers[..1]),
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
        ]);
    }

    /// The MCP surface's commands, and a PR held for both reviews.
    #[test]
    fn who_may_decide_an_mcp_review_and_both() {
        let table = Table::new();
        let (base, mcp_held, t) = (table.base(), held_for("surface"), T);
        check(vec![
            (
                by("ada", "/upkeep approve-mcp SEC-4"),
                CommandsInput {
                    mcp: mcp_held,
                    ..base
                },
                vec![(
                    "1",
                    Answer::Approve {
                        note: Some("SEC-4".into()),
                    },
                )],
                "an approver approves the held MCP surface",
            ),
            (
                by("ada", "/upkeep approve-mcp"),
                CommandsInput { ..base },
                vec![("1", Answer::NotHeld)],
                "a license hold is not an MCP hold",
            ),
            (
                by("ada", "/upkeep approve-license"),
                CommandsInput {
                    license: None,
                    mcp: mcp_held,
                    ..base
                },
                vec![("1", Answer::NotHeld)],
                "an MCP hold is not a license hold",
            ),
            (
                by("mallory", "/upkeep approve-mcp"),
                CommandsInput {
                    mcp: mcp_held,
                    ..base
                },
                vec![("1", Answer::NotApprover)],
                "someone else may not approve a surface either",
            ),
            (
                by("ada", "/upkeep decline-mcp"),
                CommandsInput {
                    mcp: mcp_held,
                    ..base
                },
                vec![("1", Answer::NoReason)],
                "an MCP decline needs a reason too",
            ),
            (
                by("ada", "/upkeep approve-mcp"),
                CommandsInput {
                    mcp: Some(Held {
                        fingerprint: "surface2",
                        since: at("2026-12-01T12:00:00Z"),
                    }),
                    ..base
                },
                vec![("1", Answer::Stale)],
                "written about an earlier surface",
            ),
            (
                vec![
                    comment("1", "ada", "/upkeep approve-license CELA-1", t, t),
                    comment("2", "ada", "/upkeep approve-mcp SEC-1", t, t),
                    comment("3", "ada", "/upkeep approve-mcp again", t, t),
                ],
                CommandsInput {
                    mcp: mcp_held,
                    ..base
                },
                vec![
                    (
                        "1",
                        Answer::Approve {
                            note: Some("CELA-1".into()),
                        },
                    ),
                    (
                        "2",
                        Answer::Approve {
                            note: Some("SEC-1".into()),
                        },
                    ),
                    ("3", Answer::NotHeld),
                ],
                "held for both: each review is decided once, by its own command",
            ),
            (
                vec![
                    comment("1", "ada", "/upkeep decline-license no", t, t),
                    comment("2", "ada", "/upkeep approve-mcp", t, t),
                ],
                CommandsInput {
                    mcp: mcp_held,
                    ..base
                },
                vec![
                    (
                        "1",
                        Answer::Decline {
                            reason: "no".into(),
                        },
                    ),
                    ("2", Answer::NotHeld),
                ],
                "a decline ends the PR: nothing else on it is held",
            ),
        ]);
    }

    /// `[mcp] approvers` apart from `[license] approvers`: each review is decided by its own
    /// people only, and an empty list leaves that review to the CLI.
    #[test]
    fn each_review_is_decided_by_its_own_approvers() {
        let table = Table::new();
        let legal = [Approver::Github("ada".into())];
        let security = [Approver::Github("sec-sam".into())];
        let apart = Approvers {
            license: &legal,
            mcp: &security,
        };
        let (mcp, t) = (held_for("surface"), T);
        let base = CommandsInput {
            approvers: apart,
            mcp,
            ..table.base()
        };
        check(vec![
            (
                by("ada", "/upkeep approve-mcp"),
                CommandsInput { ..base },
                vec![("1", Answer::NotApprover)],
                "a license approver may not clear an MCP hold",
            ),
            (
                by("ada", "/upkeep decline-mcp no"),
                CommandsInput { ..base },
                vec![("1", Answer::NotApprover)],
                "nor decline one",
            ),
            (
                by("Sec-Sam", "/upkeep approve-mcp SEC-4"),
                CommandsInput { ..base },
                vec![(
                    "1",
                    Answer::Approve {
                        note: Some("SEC-4".into()),
                    },
                )],
                "an MCP approver clears it",
            ),
            (
                by("sec-sam", "/upkeep approve-license"),
                CommandsInput { ..base },
                vec![("1", Answer::NotApprover)],
                "an MCP approver may not clear a license hold",
            ),
            (
                by("ada", "/upkeep approve-license"),
                CommandsInput { ..base },
                vec![("1", approve())],
                "the license approver still decides the license",
            ),
            (
                vec![
                    comment("1", "ada", "/upkeep approve-mcp", t, t),
                    comment("2", "sec-sam", "/upkeep approve-mcp", t, t),
                ],
                CommandsInput { ..base },
                vec![("1", Answer::NotApprover), ("2", approve())],
                "a refused command decides nothing: the MCP approver's after it counts",
            ),
            (
                by("sec-sam", "/upkeep approve-mcp"),
                CommandsInput {
                    approvers: Approvers {
                        license: &legal,
                        mcp: &[],
                    },
                    ..base
                },
                vec![("1", Answer::NotApprover)],
                "`approvers = []`: nobody decides the MCP surface by a comment",
            ),
        ]);
        assert!(apart.may_decide(ReviewKind::Mcp, "github", "SEC-SAM"));
        assert!(!apart.may_decide(ReviewKind::Mcp, "azure-devops", "sec-sam"));
        assert_eq!(apart.of(ReviewKind::License), legal);
    }

    #[test]
    fn each_command_is_answered_about_its_own_review() {
        let approvers = [Approver::Github("ada".into())];
        let none = HashSet::new();
        let t = "2026-12-01T11:00:00Z";
        let comments = [
            comment("1", "ada", "/upkeep approve-mcp", t, t),
            comment("2", "mallory", "/upkeep decline-license no", t, t),
            comment("3", "ada", "/upkeep decline-mcp", t, t),
        ];
        let held = Held {
            fingerprint: "surface",
            since: at("2026-12-01T10:00:00Z"),
        };
        let planned = plan(&CommandsInput {
            comments: &comments,
            handled: &none,
            approvers: both(&approvers),
            forge_kind: "github",
            license: None,
            mcp: Some(held),
            decided_at: None,
        });
        let kinds: Vec<(&str, ReviewKind, &str)> = planned
            .iter()
            .map(|p| (p.comment.id.as_str(), p.kind, p.answer.outcome()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("1", ReviewKind::Mcp, "approved"),
                ("2", ReviewKind::License, "refused"),
                ("3", ReviewKind::Mcp, "not-held"),
            ]
        );
    }
}
