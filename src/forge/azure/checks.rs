//! Azure DevOps: the checks of a PR. Two documents:
//!
//! - "Pull Request Statuses - List" (`GET .../pullRequests/{id}/statuses`): statuses posted by
//!   services (one per post, across the PR's iterations); the newest of each context (genre
//!   and name) is the one that counts, as the PR page shows it.
//! - "Evaluations - List" (`GET {project}/_apis/policy/evaluations?artifactId=...`, a preview
//!   API): the branch policies' evaluations of the PR, addressed by the artifact id
//!   `vstfs:///CodeReview/CodeReviewId/{projectId}/{pullRequestId}`. Only build policies (the
//!   policy type `0609b952-1397-4640-95ec-e00a01b2c241`, "Build") are pipeline results; the
//!   others (reviewers, work items) are people's business, not the pipeline's.
//!
//! Both describe the PR, whose newest iteration is its head: `head` is recorded with them.
//! Read in full, three small GETs per PR, and never through the state's HTTP cache: the REST
//! reference pages of these lists ("Pull Request Statuses - List", "Evaluations - List",
//! "Repositories - Get") document neither an `ETag` in their answers nor `If-None-Match` or a
//! `304` (their only documented answer is `200 OK`), so a conditional read would rest on
//! behaviour Azure DevOps does not promise.

use serde::Deserialize;

use super::{AzureForge, List, Repository};
use crate::forge::ForgeResult;
use crate::forge::checks::{self, Check, PrChecks};
use crate::http::build_url;

/// The "Build" policy type (Policy Types - List).
const BUILD_POLICY: &str = "0609b952-1397-4640-95ec-e00a01b2c241";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrStatus {
    #[serde(default)]
    id: u64,
    state: String,
    context: Option<StatusContext>,
    target_url: Option<String>,
}

#[derive(Deserialize)]
struct StatusContext {
    name: Option<String>,
    genre: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Evaluation {
    status: String,
    configuration: Option<PolicyConfiguration>,
    context: Option<EvaluationContext>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyConfiguration {
    #[serde(rename = "type")]
    kind: Option<PolicyType>,
    settings: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyType {
    id: String,
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EvaluationContext {
    build_id: Option<u64>,
}

impl AzureForge {
    pub(super) fn read_checks(&self, id: &str, head: &str) -> ForgeResult<PrChecks> {
        let statuses: List<PrStatus> =
            self.get(self.repo_url(&["pullrequests", id, "statuses"], &[])?)?;
        let mut found = newest_per_context(statuses.value);
        let repo: Repository = self.get(self.repo_url(&[], &[])?)?;
        let artifact = format!("vstfs:///CodeReview/CodeReviewId/{}/{id}", repo.project.id);
        let version = preview_version(&self.settings.api_version);
        let url = build_url(
            &self.org_url,
            &[
                self.settings.project.as_str(),
                "_apis",
                "policy",
                "evaluations",
            ],
            &[
                ("artifactId", artifact.as_str()),
                ("api-version", version.as_str()),
            ],
        )?;
        let evaluations: List<Evaluation> = self.get(url)?;
        for e in evaluations.value {
            let Some(config) = e.configuration else {
                continue;
            };
            if config.kind.as_ref().is_none_or(|k| k.id != BUILD_POLICY) {
                continue;
            }
            let name = config
                .settings
                .as_ref()
                .and_then(|s| s.get("displayName"))
                .and_then(|n| n.as_str())
                .filter(|n| !n.is_empty())
                .map(String::from)
                .or_else(|| config.kind.and_then(|k| k.display_name))
                .unwrap_or_else(|| "Build".to_string());
            let build = e.context.and_then(|c| c.build_id);
            found.push(Check {
                name,
                outcome: checks::azure_policy(&e.status),
                url: build.map(|b| self.build_url(b)),
            });
        }
        Ok(PrChecks {
            head: head.to_string(),
            checks: found,
            url: id.parse().ok().map(|n| self.web_url(n)),
        })
    }

    /// The build's results page: `{org}/{project}/_build/results?buildId={id}`.
    fn build_url(&self, build: u64) -> String {
        let mut url = self.org_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend([self.settings.project.as_str(), "_build", "results"]);
        }
        url.query_pairs_mut()
            .append_pair("buildId", &build.to_string());
        url.to_string()
    }
}

/// The newest status (highest id) of each context, in the order first seen.
fn newest_per_context(statuses: Vec<PrStatus>) -> Vec<Check> {
    let mut newest: Vec<(String, u64, Check)> = Vec::new();
    for s in statuses {
        let (genre, name) = s
            .context
            .map(|c| (c.genre.unwrap_or_default(), c.name.unwrap_or_default()))
            .unwrap_or_default();
        let key = format!("{genre}/{name}");
        let check = Check {
            name: if genre.is_empty() {
                name
            } else {
                format!("{genre}/{name}")
            },
            outcome: checks::azure_status(&s.state),
            url: s.target_url,
        };
        match newest.iter_mut().find(|(k, _, _)| *k == key) {
            Some(slot) if slot.1 <= s.id => *slot = (key, s.id, check),
            Some(_) => {}
            None => newest.push((key, s.id, check)),
        }
    }
    newest.into_iter().map(|(_, _, c)| c).collect()
}

/// "Evaluations - List" is a preview API: `7.1` is asked as `7.1-preview.1`.
fn preview_version(api_version: &str) -> String {
    if api_version.contains("preview") {
        api_version.to_string()
    } else {
        format!("{api_version}-preview.1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(id: u64, genre: &str, name: &str, state: &str) -> PrStatus {
        PrStatus {
            id,
            state: state.into(),
            context: Some(StatusContext {
                name: Some(name.into()),
                genre: Some(genre.into()),
            }),
            target_url: None,
        }
    }

    #[test]
    fn the_newest_status_of_each_context_counts() {
        let checks = newest_per_context(vec![
            status(1, "ci", "build", "failed"),
            status(2, "ci", "lint", "succeeded"),
            status(3, "ci", "build", "succeeded"),
            status(0, "", "scan", "pending"),
        ]);
        let got: Vec<(&str, checks::Outcome)> = checks
            .iter()
            .map(|c| (c.name.as_str(), c.outcome))
            .collect();
        assert_eq!(
            got,
            [
                ("ci/build", checks::Outcome::Passed),
                ("ci/lint", checks::Outcome::Passed),
                ("scan", checks::Outcome::Pending)
            ]
        );
    }

    #[test]
    fn the_evaluations_api_is_asked_in_its_preview_version() {
        assert_eq!(preview_version("7.1"), "7.1-preview.1");
        assert_eq!(preview_version("7.1-preview.1"), "7.1-preview.1");
    }
}
