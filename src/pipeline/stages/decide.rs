//! Stage `decide`: look at what the forge shows of the rebuild PR and the bot branch, and at what
//! the state remembers of the server's PRs and of what upkeep wrote to the branch, then plan the
//! PR action ([`plan::owner`] and [`plan::plan_pr`], pure: the idempotency ladder). Reads only;
//! a dry run ends here with what it would do.

use super::pin::Mirror;
use super::propose::Proposal;
use crate::forge::PrInfo;
use crate::pipeline::plan::{self, ForgeView, PrPlan};
use crate::pipeline::{ServerRun, bot_identity, branch_name};
use crate::report::{PrAction, PullRequestReport};
use crate::store::PrRecord;

/// The PR as it stands, and what to do about it.
pub struct Decision {
    /// The state's open PR record of the server, if any.
    pub stored_open: Option<PrRecord>,
    /// The state's record of the proposed version, in any state.
    pub stored_this: Option<PrRecord>,
    /// The PR's branch: the deterministic one, or the fresh one a human push moved us to.
    pub branch: String,
    /// The PR as the forge shows it.
    pub forge_pr: Option<PrInfo>,
    pub plan: PrPlan,
}

/// Read the PR's records, the forge's PR and the bot branch, and plan.
pub fn decide(
    run: &ServerRun<'_>,
    mirror: &Mirror,
    proposal: &Proposal,
) -> anyhow::Result<Decision> {
    let (store, server) = (&run.deps.store, run.server);
    let version = &mirror.latest.version;
    let stored_open = store.open_pr(&server.name)?;
    let branch = stored_open
        .as_ref()
        .map_or_else(|| branch_name(&server.name), |p| p.branch.clone());
    let stored_this = store.pr_for_version(&server.name, version)?;
    let forge_pr = mirror.forge.find_pr(
        &branch,
        stored_open.as_ref().and_then(|p| p.forge_id.as_deref()),
    )?;
    let owner = plan::owner(
        mirror.forge.branch_state(&branch)?.as_ref(),
        store.written_branch(&server.name, &branch)?.as_ref(),
        &bot_identity().email,
    );
    let plan = plan::plan_pr(&plan::PlanInput {
        version,
        stored_open: stored_open.as_ref(),
        stored_this: stored_this.as_ref(),
        forge_pr: forge_pr.as_ref().map(|p| ForgeView {
            state: p.state,
            title: &p.title,
            body_hash: None,
        }),
        branch: &owner,
        body_hash: &proposal.body_hash,
    });
    tracing::info!(plan = ?plan, owner = ?owner, version = %version, held = proposal.held, "pr decision");
    Ok(Decision {
        stored_open,
        stored_this,
        branch,
        forge_pr,
        plan,
    })
}

/// The PR as the report shows it before anything is done about it.
pub fn pr_report(proposal: &Proposal, decision: &Decision) -> PullRequestReport {
    PullRequestReport {
        action: PrAction::Unchanged,
        branch: decision.branch.clone(),
        title: proposal.title.clone(),
        body: proposal.body.clone(),
        url: decision
            .forge_pr
            .as_ref()
            .map(|p| p.url.clone())
            .or_else(|| decision.stored_open.as_ref().and_then(|p| p.url.clone())),
        draft: proposal.held,
        labels: proposal.labels.clone(),
        pin_diff: proposal.pin_diff.clone(),
        checks: None,
        auto_merge: None,
    }
}

/// A dry run's end: report what the plan would do, and do nothing.
pub fn report_only(run: &mut ServerRun<'_>, proposal: &Proposal, decision: &Decision) {
    let mut pr = pr_report(proposal, decision);
    pr.action = decision.plan.action();
    run.report.status = decision.plan.status(proposal.held);
    run.report.pull_request = Some(pr);
}
