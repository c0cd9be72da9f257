//! Stage `apply`: carry out the plan on the mirror and the forge, one small function per ladder
//! step. Commits by a person on the bot branch are never overwritten; a PR someone opened (or a
//! crashed run left) between the look and the write is adopted, not duplicated.
//!
//! The one state write here comes first: a PR the forge shows closed without merge declines the
//! version it proposed, before anything else is written.

use anyhow::anyhow;

use super::decide::Decision;
use super::pin::Mirror;
use super::propose::Proposal;
use super::record;
use crate::forge::{CommitWrite, ForgeError, PrInfo, PrRequest, PrState};
use crate::pipeline::plan::PrPlan;
use crate::pipeline::{ServerRun, bot_identity, branch_name};

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
            let info = forge.update_pr(&open_pr("a refresh")?.id, &request)?;
            (info, stored_head(), request.branch)
        }
        PrPlan::UpdateToNewer { expected_head } => {
            let head = write_pin(run, mirror, proposal, &request.branch, Some(expected_head))?;
            crate::failpoint::hit("after-move-branch");
            let info = forge.update_pr(&open_pr("an update")?.id, &request)?;
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
            (open_or_adopt(mirror, &request)?, Some(head), request.branch)
        }
        PrPlan::HumanOnBranch { pr_id } => {
            return continue_beside_a_person(run, mirror, proposal, request, pr_id.as_deref());
        }
    };
    Ok(Applied::Open(Box::new(OpenPr { info, head, branch })))
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
    let fresh_state = mirror
        .forge
        .branch_state(&fresh, &server.mirror.base, &bot_identity())?;
    if fresh_state.as_ref().is_some_and(|b| !b.only_bot_commits) {
        anyhow::bail!("people pushed to both {branch} and {fresh}; not overwriting their commits");
    }
    let expected = fresh_state.map(|b| b.head);
    let head = write_pin(run, mirror, proposal, &fresh, expected.as_ref())?;
    let fresh_request = PrRequest {
        branch: fresh.clone(),
        ..request.clone()
    };
    let info = open_or_adopt(mirror, &fresh_request)?;
    if let Some(id) = their_pr {
        let note = crate::render::takeover_comment(branch, &mirror.latest.version, &info.url);
        if let Err(e) = mirror.forge.comment_pr(id, &note) {
            tracing::warn!(error = %e, "could not comment on the PR a person pushed to");
        }
    }
    run.report.notes.push(format!(
        "a person pushed to {branch}; continued in a fresh PR on {fresh}"
    ));
    Ok(Applied::Open(Box::new(OpenPr {
        info,
        head: Some(head),
        branch: fresh,
    })))
}

/// One commit on `branch` on top of the base branch that changes only the pinned value; the
/// forge refuses it when the branch head is not `expected_head` (None: the branch must not
/// exist). Returns the new head.
fn write_pin(
    run: &ServerRun<'_>,
    mirror: &Mirror,
    proposal: &Proposal,
    branch: &str,
    expected_head: Option<&String>,
) -> anyhow::Result<String> {
    Ok(mirror.forge.write_branch(&CommitWrite {
        branch: branch.to_string(),
        base_commit: mirror.base.base_commit.clone(),
        path: run.server.mirror.pin_file.clone(),
        content: proposal.new_content.clone(),
        message: proposal.commit_message.clone(),
        author: bot_identity(),
        expected_head: expected_head.cloned(),
    })?)
}

/// Open the PR; when the forge says one exists already (someone, or a crashed run, opened it
/// between our look and now), adopt that one.
fn open_or_adopt(mirror: &Mirror, request: &PrRequest) -> anyhow::Result<PrInfo> {
    match mirror.forge.open_pr(request) {
        Ok(info) => Ok(info),
        Err(ForgeError::Conflict(_)) => {
            mirror.forge.find_pr(&request.branch, None)?.ok_or_else(|| {
                anyhow!(
                    "the forge reported a conflicting PR for {} but none is open",
                    request.branch
                )
            })
        }
        Err(e) => Err(e.into()),
    }
}
