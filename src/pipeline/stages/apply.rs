//! Stage `apply`: carry out the plan on the mirror and the forge, one small function per ladder
//! step. Commits by a person on the bot branch are never overwritten; a PR someone opened (or a
//! crashed run left) between the look and the write is adopted, not duplicated. Every branch
//! write is recorded (in flight before the push, its head after) so the next run can tell
//! upkeep's branch from one a person touched.
//!
//! The one state write here comes first: a PR the forge shows closed without merge declines the
//! version it proposed, before anything else is written.

use anyhow::anyhow;

use super::decide::Decision;
use super::pin::Mirror;
use super::propose::Proposal;
use super::record;
use crate::forge::{CommitWrite, ForgeError, ForgeResult, PrInfo, PrRequest, PrState};
use crate::pipeline::automerge;
use crate::pipeline::plan::{self, BranchOwner, PrPlan};
use crate::pipeline::{ServerRun, bot_identity, branch_name};
use crate::render;

/// What carrying out the plan came to.
pub enum Applied {
    /// The version was declined (its PR closed without merge): nothing written.
    Declined { by: Option<String> },
    /// The rebuild PR was merged: nothing written.
    Merged,
    /// The rebuild PR is open: created, moved to the new release, refreshed, or left as it was.
    Open(Box<OpenPr>),
}

/// The open rebuild PR, as the apply stage left it.
pub struct OpenPr {
    pub info: PrInfo,
    /// The bot branch's head, when known.
    pub head: Option<String>,
    /// The branch it is on (a fresh one when a person pushed to the usual one).
    pub branch: String,
    /// A held PR the forge would not make a draft (no draft PRs in the repository): it is open
    /// ready for review, its banner saying it must not be merged.
    pub ready_despite_hold: bool,
}

impl Applied {
    /// Whether a later quiet run may replay this outcome. A merge is settled by the next full
    /// check, which sees the pin moved.
    pub fn replayable(&self) -> bool {
        !matches!(self, Applied::Merged)
    }
}

/// Carry out `decision.plan`.
pub fn apply(
    run: &mut ServerRun<'_>,
    mirror: &Mirror,
    proposal: &Proposal,
    decision: &Decision,
) -> anyhow::Result<Applied> {
    if let (Some(p), Some(rec)) = (&decision.forge_pr, &decision.stored_open)
        && p.state == PrState::Closed
    {
        record::declined_on_forge(run, rec, p.closed_by.as_deref())?;
    }
    let request = PrRequest {
        branch: decision.branch.clone(),
        base: run.server.mirror.base.clone(),
        title: proposal.title.clone(),
        body: proposal.body.clone(),
        labels: proposal.labels.clone(),
        reviewers: run.server.mirror.reviewers.clone(),
        draft: proposal.held,
    };
    let stored_head = || {
        decision
            .stored_open
            .as_ref()
            .and_then(|p| p.head_commit.clone())
    };
    let open_pr = |what: &str| {
        decision
            .forge_pr
            .clone()
            .ok_or_else(|| anyhow!("planned {what} without a PR"))
    };
    let forge = &mirror.forge;
    let (info, head, branch) = match &decision.plan {
        PrPlan::Declined { by } => return Ok(Applied::Declined { by: by.clone() }),
        PrPlan::Merged => return Ok(Applied::Merged),
        PrPlan::Unchanged => (open_pr("unchanged")?, stored_head(), request.branch),
        PrPlan::RefreshBody => {
            let id = open_pr("a refresh")?.id;
            let info =
                with_draft_fallback(&mut run.report.notes, &request, |r| forge.update_pr(&id, r))?;
            (info, stored_head(), request.branch)
        }
        PrPlan::UpdateToNewer { expected_head } => {
            let id = open_pr("an update")?.id;
            let verdict = Some(&proposal.auto_merge);
            automerge::before_push(
                run,
                forge.as_ref(),
                decision.stored_open.as_ref(),
                &id,
                verdict,
            )?;
            let head = write_pin(run, mirror, proposal, &request.branch, Some(expected_head))?;
            crate::failpoint::hit("after-move-branch");
            let info =
                with_draft_fallback(&mut run.report.notes, &request, |r| forge.update_pr(&id, r))?;
            crate::failpoint::hit("after-update-pr");
            (info, Some(head), request.branch)
        }
        PrPlan::Create { reuse_branch } => {
            crate::failpoint::hit("before-write-branch");
            let head = write_pin(
                run,
                mirror,
                proposal,
                &request.branch,
                reuse_branch.as_ref(),
            )?;
            crate::failpoint::hit("after-write-branch");
            let info = open_or_adopt(&mut run.report.notes, mirror, &request)?;
            (info, Some(head), request.branch)
        }
        PrPlan::HumanOnBranch { pr_id } => {
            if let Some(id) = pr_id {
                // Whatever upkeep armed there was for its own head, not for a person's commits.
                let stored = decision.stored_open.as_ref();
                automerge::before_push(run, forge.as_ref(), stored, id, None)?;
            }
            return continue_beside_a_person(run, mirror, proposal, request, pr_id.as_deref());
        }
    };
    let ready_despite_hold = request.draft && !info.draft;
    Ok(Applied::Open(Box::new(OpenPr {
        info,
        head,
        branch,
        ready_despite_hold,
    })))
}

/// Never force-push over a person's commits: say so on their PR, and carry on in a fresh PR on
/// a new branch.
fn continue_beside_a_person(
    run: &mut ServerRun<'_>,
    mirror: &Mirror,
    proposal: &Proposal,
    request: PrRequest,
    their_pr: Option<&str>,
) -> anyhow::Result<Applied> {
    let (server, branch) = (run.server, &request.branch);
    let fresh = format!(
        "{}-r{}",
        branch_name(&server.name),
        run.deps.store.prs(&server.name)?.len() + 1
    );
    let expected = match plan::owner(
        mirror.forge.branch_state(&fresh)?.as_ref(),
        run.deps
            .store
            .written_branch(&server.name, &fresh)?
            .as_ref(),
        &bot_identity().email,
    ) {
        BranchOwner::Absent => None,
        BranchOwner::Upkeep { head } => Some(head),
        BranchOwner::Touched { .. } => anyhow::bail!(
            "{branch} and {fresh} were both changed by someone else; not overwriting their commits"
        ),
    };
    let theirs = mirror
        .forge
        .commits_beside(branch, &server.mirror.base, 10)
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not list the commits on the touched branch");
            Vec::new()
        });
    let head = write_pin(run, mirror, proposal, &fresh, expected.as_ref())?;
    let fresh_request = PrRequest {
        branch: fresh.clone(),
        ..request.clone()
    };
    let info = open_or_adopt(&mut run.report.notes, mirror, &fresh_request)?;
    if let Some(id) = their_pr {
        let commits: Vec<(&str, &str, &str)> = theirs
            .iter()
            .map(|c| (c.id.as_str(), c.author.as_str(), c.subject.as_str()))
            .collect();
        let note =
            crate::render::touched_branch_note(branch, &mirror.latest.version, &info.url, &commits);
        if let Err(e) = mirror.forge.comment_pr(id, &note) {
            tracing::warn!(error = %e, "could not comment on the PR a person pushed to");
        }
    }
    run.report.notes.push(format!(
        "{branch} was changed by someone else since upkeep wrote it; continued in a fresh PR on {fresh}"
    ));
    let ready_despite_hold = fresh_request.draft && !info.draft;
    Ok(Applied::Open(Box::new(OpenPr {
        info,
        head: Some(head),
        branch: fresh,
        ready_despite_hold,
    })))
}

/// One commit on `branch` on top of the base branch that changes only the pinned value; the
/// forge refuses it when the branch head is not `expected_head` (None: the branch must not
/// exist). Returns the new head.
///
/// The write is recorded as in flight before the push and its head right after, so the next run
/// knows this head as upkeep's ([`plan::owner`]).
fn write_pin(
    run: &ServerRun<'_>,
    mirror: &Mirror,
    proposal: &Proposal,
    branch: &str,
    expected_head: Option<&String>,
) -> anyhow::Result<String> {
    let (store, server) = (&run.deps.store, &run.server.name);
    let base_commit = &mirror.base.base_commit;
    store.branch_write_started(server, branch, base_commit)?;
    let head = mirror.forge.write_branch(&CommitWrite {
        branch: branch.to_string(),
        base_commit: base_commit.clone(),
        path: run.server.mirror.pin_file.clone(),
        content: proposal.new_content.clone(),
        message: proposal.commit_message.clone(),
        author: bot_identity(),
        expected_head: expected_head.cloned(),
    })?;
    store.branch_written(server, branch, &head)?;
    Ok(head)
}

/// Open the PR; when the forge says one exists already (someone, or a crashed run, opened it
/// between our look and now), adopt that one.
fn open_or_adopt(
    notes: &mut Vec<String>,
    mirror: &Mirror,
    request: &PrRequest,
) -> anyhow::Result<PrInfo> {
    match with_draft_fallback(notes, request, |r| mirror.forge.open_pr(r)) {
        Ok(info) => Ok(info),
        Err(ForgeError::Conflict(why)) => {
            let found = mirror.forge.find_pr(&request.branch, None)?;
            found.ok_or_else(|| {
                anyhow!(
                    "the forge refused to open a PR for {} ({why}) but shows none open",
                    request.branch
                )
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Write the PR with `write`; where the forge has no draft PRs and the PR should be a held
/// draft, write it ready for review instead, its banner saying it must not be merged (the review
/// label stays), and say so in the report.
fn with_draft_fallback(
    notes: &mut Vec<String>,
    request: &PrRequest,
    write: impl Fn(&PrRequest) -> ForgeResult<PrInfo>,
) -> ForgeResult<PrInfo> {
    match write(request) {
        Err(ForgeError::Unsupported(why)) if request.draft => {
            tracing::warn!(error = %why, "no draft PRs in this repository; opening the held PR ready for review");
            let ready = PrRequest {
                draft: false,
                body: render::pr_body_without_draft(&request.body),
                ..request.clone()
            };
            let mut info = write(&ready)?;
            info.draft = false;
            // The labels of the reviews that hold it: license, MCP surface, or both.
            let labels: Vec<String> = request
                .labels
                .iter()
                .filter(|l| [render::REVIEW_LABEL, render::MCP_REVIEW_LABEL].contains(&l.as_str()))
                .map(|l| format!("`{l}`"))
                .collect();
            notes.push(format!(
                "draft PRs are not available in this repository ({why}): the held rebuild PR is \
                 open ready for review, with the Blocked banner and the {} label; it must not \
                 be merged before its review",
                if labels.is_empty() {
                    "review".to_owned()
                } else {
                    labels.join(" and ")
                }
            ));
            Ok(info)
        }
        other => other,
    }
}
