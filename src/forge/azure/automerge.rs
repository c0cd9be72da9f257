//! Azure DevOps: the PR's auto-complete, the service's auto-merge ("Pull Requests - Update",
//! Git REST API 7.1: `AutoCompleteSetBy.Id` and `CompletionOptions` are among the properties
//! the update accepts).
//!
//! - Armed by a PATCH of the PR with `autoCompleteSetBy.id` = the identity the PAT signs in as
//!   (`authenticatedUser.id` of `GET {organization}/_apis/connectionData`) and
//!   `completionOptions` (`mergeStrategy`, `deleteSourceBranch`, `transitionWorkItems: false`:
//!   upkeep's PRs link no work items, and it never moves anyone's).
//! - Cancelled by the same PATCH with `autoCompleteSetBy.id` = the empty GUID, which the
//!   service reads as "no one" (what `az repos pr update --auto-complete false` sends).
//! - Auto-complete is not tied to a head commit: the service completes whatever the source
//!   branch holds once its policies pass. That is why the pipeline cancels it before pushing a
//!   head that may not be merged unreviewed.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::AzureForge;
use crate::forge::automerge::{Armed, AutoMergeState, MergeOptions};
use crate::forge::{ForgeError, ForgeResult, send_or_confirm};
use crate::http::build_url;

/// The id that clears `autoCompleteSetBy`.
const NO_ONE: &str = "00000000-0000-0000-0000-000000000000";

/// The fields of a pull request ("Pull Requests - Get Pull Request By Id") that auto-complete
/// is about.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AutoCompletePr {
    status: String,
    auto_complete_set_by: Option<SetBy>,
    last_merge_source_commit: Option<CommitRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetBy {
    #[serde(default)]
    id: String,
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommitRef {
    commit_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConnectionData {
    authenticated_user: Option<Identity>,
}

#[derive(Deserialize)]
struct Identity {
    id: String,
}

impl AutoCompletePr {
    pub(super) fn state(&self) -> AutoMergeState {
        match self.armed_by() {
            None => AutoMergeState::Off,
            Some(s) => AutoMergeState::Armed {
                by: s.display_name.clone(),
            },
        }
    }

    /// Armed: set by someone (an answer that names the empty GUID is off).
    fn armed_by(&self) -> Option<&SetBy> {
        self.auto_complete_set_by
            .as_ref()
            .filter(|s| !s.id.is_empty() && s.id != NO_ONE)
    }
}

impl AzureForge {
    pub(super) fn auto_complete_pr(&self, id: &str) -> ForgeResult<AutoCompletePr> {
        self.get(self.repo_url(&["pullrequests", id], &[])?)
    }

    /// The identity id the PAT signs in as.
    fn authenticated_id(&self) -> ForgeResult<String> {
        let url = build_url(&self.org_url, &["_apis", "connectionData"], &[])?;
        let data: ConnectionData = self.get(url)?;
        data.authenticated_user.map(|u| u.id).ok_or_else(|| {
            ForgeError::Other(
                "Azure DevOps connectionData names no authenticated user; auto-complete needs one"
                    .into(),
            )
        })
    }

    /// Set auto-complete on PR `id` when its source head is `head`. Arming an armed PR sends
    /// nothing. A refusal of the service (a 400/409 with its `TFnnnnnn` words) arms nothing and
    /// is reported.
    pub(super) fn set_auto_complete(
        &self,
        id: &str,
        head: &str,
        options: &MergeOptions,
    ) -> ForgeResult<Armed> {
        let pr = self.auto_complete_pr(id)?;
        if pr.status != "active" {
            return Ok(Armed::Refused(format!("the PR is {}", pr.status)));
        }
        if let Some(c) = &pr.last_merge_source_commit
            && c.commit_id != head
        {
            return Err(ForgeError::Conflict(format!(
                "the PR's source head is {}, not the judged {head}",
                c.commit_id
            )));
        }
        if pr.armed_by().is_some() {
            return Ok(Armed::Armed);
        }
        let me = self.authenticated_id()?;
        let body = json!({
            "autoCompleteSetBy": { "id": me },
            "completionOptions": {
                "mergeStrategy": options.strategy.azure(),
                "deleteSourceBranch": options.delete_source_branch,
                "transitionWorkItems": false,
            },
        });
        let url = self.repo_url(&["pullrequests", id], &[])?;
        let answer = send_or_confirm(
            "set auto-complete",
            || match self.send::<AutoCompletePr>(Method::PATCH, url.clone(), &body) {
                Ok(pr) if pr.armed_by().is_some() => Ok(Armed::Armed),
                Ok(_) => Ok(Armed::Refused(
                    "Azure DevOps answered without auto-complete set".into(),
                )),
                Err(ForgeError::Conflict(m) | ForgeError::Other(m)) => Ok(Armed::Refused(m)),
                Err(e) => Err(e),
            },
            || Ok(self.auto_complete_pr(id)?.armed_by().map(|_| Armed::Armed)),
        )?;
        Ok(answer)
    }

    /// Clear auto-complete on PR `id`, when it is set; confirmed by a re-read.
    pub(super) fn clear_auto_complete(&self, id: &str) -> ForgeResult<()> {
        if self.auto_complete_pr(id)?.armed_by().is_none() {
            return Ok(());
        }
        let url = self.repo_url(&["pullrequests", id], &[])?;
        let body = json!({ "autoCompleteSetBy": { "id": NO_ONE } });
        send_or_confirm(
            "cancel auto-complete",
            || {
                self.send::<serde_json::Value>(Method::PATCH, url.clone(), &body)
                    .map(|_| ())
            },
            || {
                Ok(self
                    .auto_complete_pr(id)?
                    .armed_by()
                    .is_none()
                    .then_some(()))
            },
        )?;
        match self.auto_complete_pr(id)?.armed_by() {
            None => Ok(()),
            Some(_) => Err(ForgeError::Other(format!(
                "Azure DevOps still shows auto-complete set on PR {id} after it was cleared"
            ))),
        }
    }
}
