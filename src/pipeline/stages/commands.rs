//! Stage `commands`: the decisions people make on a held rebuild PR. Runs on every run, before
//! the quiet replay, because a decision changes nothing upstream: the open PR's comments are read
//! (held or not, so a command where nothing is held is told so)
//! (one conditional request where the forge has them), the commands planned
//! ([`plan::commands`], pure), and the answers recorded in one transaction together with the
//! replies (and the close) they owe. Only then are the replies posted and the PR closed. Each
//! command decides one review, the license change or the MCP surface, against that review's
//! pending fingerprint; the replies say what the other review still holds.
//!
//! Crash safety: a command is recorded keyed by its comment id, with "reply owed", in the same
//! transaction as its decision; the comment cursor moves in that transaction too. A crash
//! before it loses nothing (the next run reads the comment again); after it, the next run finds
//! the owed reply and, before posting it, looks on the PR for a reply carrying the comment's
//! hidden marker ([`render::decisions::reply_marker`]), so a reply posted just before a crash
//! is not posted twice. An approval forgets the quiet mark, so the same run goes on to the full
//! check, which marks the PR ready; a decline marks the PR record declined.

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use crate::forge::{CommentsRead, Forge, PrComment};
use crate::pipeline::ServerRun;
use crate::pipeline::plan::commands::{self, Answer, Approvers, CommandsInput, Held};
use crate::render::decisions::{self as texts, DecisionView, Refusal, Subject};
use crate::store::{NewCommand, NewDecision, PrRecord, ReviewKind, Source, Store, Verdict};

/// Read and answer the commands on the server's held PR, then carry out what earlier answers
/// (and CLI or API declines) still owe on the forge. Problems with the forge are warnings: the
/// run goes on, and the next run tries again.
pub fn sync(run: &mut ServerRun<'_>) -> anyhow::Result<()> {
    if run.mode.dry_run {
        return Ok(());
    }
    let (store, server) = (&run.deps.store, run.server);
    let open = store.open_pr(&server.name)?;
    // A local mirror has no comments from people: decisions there are made with the CLI.
    let has_comments = !matches!(
        server.mirror.forge,
        crate::config::ForgeConfig::Local { .. }
    );
    // The open PR is read whether it holds a review or not, so a command written where nothing
    // is held (any more, or ever) gets its "not held" reply: one conditional request per open
    // PR, beside the reads of its checks.
    let anyone = !(server.license.approvers.is_empty() && server.mcp_approvers().is_empty());
    let readable = open
        .as_ref()
        .filter(|p| p.forge_id.is_some() && has_comments && anyone);
    let owed = !store.owed_actions(&server.name)?.is_empty();
    if readable.is_none() && !owed {
        return Ok(());
    }
    let forge = (run.deps.forges)(server).context("setting up the mirror's forge")?;
    if let Some(pr) = readable
        && let Err(e) = read_and_record(run, forge.as_ref(), pr)
    {
        warn(run, "reading the commands on the rebuild PR", &e);
    }
    if let Err(e) = settle(run, forge.as_ref()) {
        warn(run, "answering the commands on the rebuild PR", &e);
    }
    Ok(())
}

fn warn(run: &mut ServerRun<'_>, what: &str, e: &anyhow::Error) {
    tracing::warn!(error = %format!("{e:#}"), "{what} failed; the next run tries again");
    run.report
        .warnings
        .push(format!("{what} failed (the next run tries again): {e:#}"));
}

/// Read the PR's comments since the last read and record the answers to its commands.
fn read_and_record(
    run: &mut ServerRun<'_>,
    forge: &dyn Forge,
    pr: &PrRecord,
) -> anyhow::Result<()> {
    let (store, server) = (&run.deps.store, run.server);
    let pr_id = pr.forge_id.as_deref().unwrap_or_default();
    let cursor = store.comment_cursor(&server.name, pr_id)?;
    let (comments, next) = match forge.pr_comments(pr_id, cursor.as_deref())? {
        CommentsRead::Unchanged => return Ok(()),
        CommentsRead::Read { comments, cursor } => (comments, cursor),
    };
    crate::failpoint::hit("commands-read");
    let license = held(store, ReviewKind::License, &server.name)?;
    let mcp = held(store, ReviewKind::Mcp, &server.name)?;
    let decided_at = store
        .decisions(Some(&server.name))?
        .iter()
        .filter(|d| d.decision != Verdict::Superseded.as_str())
        .filter_map(|d| parse_time(&d.decided_at))
        .max();
    let handled = store.handled_commands(&server.name)?;
    let input = CommandsInput {
        comments: &comments,
        handled: &handled,
        approvers: approvers(server),
        forge_kind: forge.kind(),
        license: license.as_ref().and_then(Pending::held),
        mcp: mcp.as_ref().and_then(Pending::held),
        decided_at,
    };
    let planned = commands::plan(&input);
    let now = crate::pipeline::now_str();
    let answers: Vec<Recorded> = planned
        .iter()
        .scan(Vec::new(), |decided: &mut Vec<ReviewKind>, p| {
            let recorded = answer(run, pr, &input, p, decided, &now);
            if p.answer.decides() {
                decided.push(p.kind);
            }
            Some(recorded)
        })
        .collect();
    let (name, run_id) = (&server.name, run.run_id);
    store.transaction(|tx| {
        for a in &answers {
            if let Some(d) = &a.decision {
                Store::record_decision_tx(tx, &d.as_new(name))?;
            }
            Store::record_command_tx(
                tx,
                &NewCommand {
                    server: name,
                    key: &a.key,
                    pr_id,
                    outcome: a.outcome,
                    reply: Some(&a.reply),
                    close: a.close,
                },
            )?;
            if let Some(email) = &a.email {
                Store::enqueue_email(tx, email, Some(run_id))?;
            }
        }
        if let Some(c) = &next {
            Store::put_comment_cursor_tx(tx, name, pr_id, c)?;
        }
        Ok(())
    })?;
    crate::failpoint::hit("commands-recorded");
    for a in &answers {
        tracing::info!(comment = %a.key, outcome = a.outcome, "PR command answered");
        if a.decision.is_some() {
            run.report.notes.push(a.note.clone());
            run.report.emails_queued += usize::from(a.email.is_some());
        }
    }
    Ok(())
}

/// A review waiting for a decision: its fingerprint and since when (RFC 3339).
pub(crate) struct Pending(String, String);

impl Pending {
    fn held(&self) -> Option<Held<'_>> {
        Some(Held {
            fingerprint: &self.0,
            since: parse_time(&self.1)?,
        })
    }
}

/// The `kind` review `server`'s PR holds: pending, and not approved yet (an approval not yet
/// carried out by a full run holds nothing any more).
pub(crate) fn held(
    store: &Store,
    kind: ReviewKind,
    server: &str,
) -> anyhow::Result<Option<Pending>> {
    let Some((fingerprint, since)) = store.pending_since(kind, server)? else {
        return Ok(None);
    };
    let approved = store.approval_of(kind, server, &fingerprint)?.is_some();
    Ok((!approved).then_some(Pending(fingerprint, since)))
}

/// Who may decide each of `server`'s reviews by a comment: the legal reviewers the license,
/// the security reviewers (`[mcp] approvers`, else the license ones) the MCP surface.
pub(crate) fn approvers(server: &crate::config::ServerConfig) -> Approvers<'_> {
    Approvers {
        license: &server.license.approvers,
        mcp: server.mcp_approvers(),
    }
}

/// The words a text uses for `kind`.
pub(crate) fn subject(kind: ReviewKind) -> Subject {
    match kind {
        ReviewKind::License => Subject::License,
        ReviewKind::Mcp => Subject::Mcp,
    }
}

/// A decision as the stage keeps it until the transaction.
struct DecisionOwned {
    kind: ReviewKind,
    fingerprint: String,
    version: String,
    verdict: Verdict,
    actor: String,
    note: Option<String>,
    pr_url: Option<String>,
    comment_url: String,
}

impl DecisionOwned {
    fn as_new<'a>(&'a self, server: &'a str) -> NewDecision<'a> {
        NewDecision {
            kind: self.kind,
            server,
            fingerprint: &self.fingerprint,
            version: Some(&self.version),
            verdict: self.verdict,
            source: Source::PrComment,
            actor: &self.actor,
            note: self.note.as_deref(),
            pr_url: self.pr_url.as_deref(),
            comment_url: Some(&self.comment_url),
        }
    }
}

/// One command's answer, ready to record.
struct Recorded {
    key: String,
    outcome: &'static str,
    reply: String,
    close: bool,
    decision: Option<DecisionOwned>,
    email: Option<crate::store::NewEmail>,
    /// What the run report says about a decision.
    note: String,
}

fn answer(
    run: &ServerRun<'_>,
    pr: &PrRecord,
    input: &CommandsInput<'_>,
    p: &commands::Planned<'_>,
    decided: &[ReviewKind],
    now: &str,
) -> Recorded {
    let (server, c, a) = (run.server, p.comment, &p.answer);
    let approvers = input.approvers.of(p.kind);
    let other_kind = p.kind.other();
    // The other review, while it still holds the PR (not decided earlier in this batch).
    let other_subject = subject(other_kind);
    let other = input
        .held(other_kind)
        .filter(|_| !decided.contains(&other_kind))
        .map(|_| other_subject);
    let fingerprint = input
        .held(p.kind)
        .map(|h| h.fingerprint)
        .unwrap_or_default();
    let subject = subject(p.kind);
    let refusal = |why| texts::refusal_reply(&c.id, subject, &server.name, approvers, why);
    let (verdict, note) = match a {
        Answer::Approve { note } => (Verdict::Approved, note.clone()),
        Answer::Decline { reason } => (Verdict::Declined, Some(reason.clone())),
        Answer::NotApprover => {
            // Someone who decides the other review is told which one is theirs.
            let theirs = (input.approvers)
                .may_decide(other_kind, input.forge_kind, &c.author)
                .then_some(other_subject);
            let why = Refusal::NotApprover {
                author: &c.author,
                theirs,
            };
            return refused(c, a, refusal(why));
        }
        Answer::NotHeld => return refused(c, a, refusal(Refusal::NotHeld { other })),
        Answer::Stale => return refused(c, a, refusal(Refusal::Stale { fingerprint })),
        Answer::NoReason => return refused(c, a, refusal(Refusal::NoReason)),
    };
    let view = DecisionView {
        subject,
        server: &server.name,
        version: &pr.version,
        actor: &c.author,
        at: now,
        fingerprint,
        note: note.as_deref(),
        still_held: other,
    };
    let declined = verdict == Verdict::Declined;
    let reply = if declined {
        texts::declined_reply(&c.id, &view)
    } else {
        texts::approved_reply(&c.id, &view)
    };
    let email = declined.then(|| declined_email(server, &view, pr.url.as_deref()));
    Recorded {
        key: c.id.clone(),
        outcome: a.outcome(),
        reply,
        close: declined,
        note: format!(
            "{} change {} by {} on the rebuild PR ({})",
            match p.kind {
                ReviewKind::License => "license",
                ReviewKind::Mcp => "MCP surface",
            },
            verdict.as_str(),
            c.author,
            c.url
        ),
        decision: Some(DecisionOwned {
            kind: p.kind,
            fingerprint: fingerprint.to_string(),
            version: pr.version.clone(),
            verdict,
            actor: c.author.clone(),
            note,
            pr_url: pr.url.clone(),
            comment_url: c.url.clone(),
        }),
        email,
    }
}

/// The owners' email about a decline, once per declined text or surface.
pub(crate) fn declined_email(
    server: &crate::config::ServerConfig,
    view: &DecisionView<'_>,
    pr_url: Option<&str>,
) -> crate::store::NewEmail {
    let reason = match view.subject {
        Subject::License => "license-declined",
        Subject::Mcp => "mcp-declined",
    };
    super::record::new_email(
        &format!("{}:{reason}:{}", server.name, view.fingerprint),
        &server.name,
        reason,
        &server.owners,
        &[],
        texts::declined_email(view, pr_url),
    )
}

fn refused(c: &PrComment, a: &Answer, reply: String) -> Recorded {
    Recorded {
        key: c.id.clone(),
        outcome: a.outcome(),
        reply,
        close: false,
        decision: None,
        email: None,
        note: String::new(),
    }
}

/// Post the replies and close the PRs that recorded answers owe. A reply is first looked for
/// on the PR by its marker: one posted just before a crash is recorded, not posted again.
fn settle(run: &mut ServerRun<'_>, forge: &dyn Forge) -> anyhow::Result<()> {
    let (store, name) = (&run.deps.store, &run.server.name);
    let owed = store.owed_actions(name)?;
    let mut seen: Option<(String, Vec<PrComment>)> = None;
    for o in &owed {
        if let Some(reply) = &o.reply {
            if seen.as_ref().is_none_or(|(id, _)| *id != o.pr_id) {
                let all = match forge.pr_comments(&o.pr_id, None)? {
                    CommentsRead::Read { comments, .. } => comments,
                    CommentsRead::Unchanged => Vec::new(),
                };
                seen = Some((o.pr_id.clone(), all));
            }
            let marker = texts::reply_marker(&o.key);
            let posted = seen
                .as_ref()
                .is_some_and(|(_, all)| all.iter().any(|c| c.body.contains(&marker)));
            if !posted {
                forge.comment_pr(&o.pr_id, reply)?;
                crate::failpoint::hit("command-reply-posted");
            }
            store.reply_posted(name, &o.key)?;
        }
        if o.close {
            forge.close_pr(&o.pr_id)?;
            store.close_done(name, &o.key)?;
        }
    }
    Ok(())
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
