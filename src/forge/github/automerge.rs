//! GitHub: the PR's auto-merge. Read from the REST PR (`auto_merge`, null when off: "Get a
//! pull request"); armed and cancelled with the GraphQL mutations `enablePullRequestAutoMerge`
//! (input `pullRequestId`, `mergeMethod`, `expectedHeadOid`: GitHub arms it only while the PR's
//! head is the commit upkeep judged) and `disablePullRequestAutoMerge` (input
//! `pullRequestId`), both on the "Mutations" page of the GraphQL reference.
//!
//! What each refusal means, and what is done about it:
//! - "Pull request is in clean status": nothing is left to wait for (no required check or
//!   review pending), so GitHub will not arm it. Auto-merge would merge it at once, so the PR
//!   is merged with "Merge a pull request" (`PUT .../pulls/{n}/merge`) at `sha` = the judged
//!   head: GitHub refuses (409) if the head moved since, and nothing unjudged is merged.
//! - Any other refusal ("Auto merge is not allowed for this repository" where the repository
//!   setting "Allow auto-merge" is off, "unstable status" where a check fails, a draft, a
//!   closed PR): nothing is armed and nothing is merged; the words are reported.
//! - `FORBIDDEN` / `NOT_FOUND`: the token cannot, or the PR is gone: an error.

use serde_json::json;

use super::{GithubForge, GraphqlErrors, Pull};
use crate::forge::automerge::{Armed, AutoMergeState, MergeOptions};
use crate::forge::{ForgeError, ForgeResult, send_or_confirm};
use crate::http::Request;

const ENABLE: &str = "mutation($id: ID!, $method: PullRequestMergeMethod!, $head: GitObjectID!) { \
     enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: $method, expectedHeadOid: $head}) \
     { pullRequest { number } } }";
const DISABLE: &str = "mutation($id: ID!) { disablePullRequestAutoMerge(input: {pullRequestId: $id}) \
     { pullRequest { number } } }";

pub(super) fn state_of(pull: &Pull) -> AutoMergeState {
    match &pull.auto_merge {
        None => AutoMergeState::Off,
        Some(a) => AutoMergeState::Armed {
            by: a.enabled_by.as_ref().map(|u| u.login.clone()),
        },
    }
}

impl GithubForge {
    /// Arm auto-merge on PR `id` at `head` (see the module doc for each answer).
    pub(super) fn enable_auto_merge(
        &self,
        id: &str,
        head: &str,
        options: &MergeOptions,
    ) -> ForgeResult<Armed> {
        let pull = self.pull(id)?;
        if pull.state != "open" || pull.merged_at.is_some() {
            return Ok(Armed::Refused(format!("the PR is {}", pull.state)));
        }
        if !pull.head.sha.is_empty() && pull.head.sha != head {
            return Err(ForgeError::Conflict(format!(
                "the PR's head is {}, not the judged {head}",
                pull.head.sha
            )));
        }
        if pull.auto_merge.is_some() {
            return Ok(Armed::Armed);
        }
        let Some(method) = options.strategy.github() else {
            return Ok(Armed::Refused(format!(
                "GitHub has no `{}` merge method",
                options.strategy.as_str()
            )));
        };
        let variables = json!({ "id": pull.node_id, "method": method, "head": head });
        let refusal = send_or_confirm(
            "arm auto-merge",
            || self.graphql(ENABLE, &variables),
            || Ok(self.pull(id)?.auto_merge.is_some().then_some(None)),
        )?;
        match refusal {
            None => Ok(Armed::Armed),
            Some(e) if e.said.contains("clean status") => self.merge_now(id, head, method),
            Some(e) => refused(e),
        }
    }

    /// "Merge a pull request" at `sha` = `head`. A refusal (405 not mergeable, 409 the head
    /// moved) merges nothing and is reported as such.
    fn merge_now(&self, id: &str, head: &str, method: &str) -> ForgeResult<Armed> {
        let url = self.repo_url(&["pulls", id, "merge"], &[])?;
        let body = json!({ "merge_method": method.to_ascii_lowercase(), "sha": head });
        send_or_confirm(
            "merge the PR",
            || match self
                .http
                .execute(&Request::new(reqwest::Method::PUT, url.clone()).json(&body))
            {
                Ok(_) => Ok(Armed::MergedNow),
                Err(ForgeError::Conflict(m) | ForgeError::Other(m)) => Ok(Armed::Refused(m)),
                Err(e) => Err(e),
            },
            || {
                Ok(self
                    .pull(id)?
                    .merged_at
                    .is_some()
                    .then_some(Armed::MergedNow))
            },
        )
    }

    /// Cancel auto-merge on PR `id`, when it is armed; confirmed by a re-read.
    pub(super) fn disable_auto_merge(&self, id: &str) -> ForgeResult<()> {
        let pull = self.pull(id)?;
        if pull.auto_merge.is_none() {
            return Ok(());
        }
        let variables = json!({ "id": pull.node_id });
        let refusal = send_or_confirm(
            "cancel auto-merge",
            || self.graphql(DISABLE, &variables),
            || Ok(self.pull(id)?.auto_merge.is_none().then_some(None)),
        )?;
        if let Some(e) = refusal {
            return Err(e.into_error());
        }
        match self.pull(id)?.auto_merge {
            None => Ok(()),
            Some(_) => Err(ForgeError::Other(format!(
                "GitHub still shows auto-merge armed on PR {id} after it was cancelled"
            ))),
        }
    }
}

/// Any refusal but a permission or a missing PR: nothing armed, in GitHub's words.
fn refused(e: GraphqlErrors) -> ForgeResult<Armed> {
    if e.kinds.iter().any(|k| k == "FORBIDDEN" || k == "NOT_FOUND") {
        Err(e.into_error())
    } else {
        Ok(Armed::Refused(e.message))
    }
}
