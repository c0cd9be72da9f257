//! GitHub: the checks of a PR's head commit. Two documents, both of the commit and both read
//! conditionally (GitHub answers every GET with an ETag, and a `304` costs no rate limit:
//! "Best practices for using the REST API", conditional requests):
//!
//! - "List check runs for a Git reference" (`GET /repos/{o}/{r}/commits/{ref}/check-runs`):
//!   GitHub Actions and other apps; by default the latest run of each name.
//! - "Get the combined status for a specific reference" (`GET .../commits/{ref}/status`): the
//!   commit statuses, the latest of each context. Its own `state` is `pending` when there is no
//!   status at all, so each status is read rather than that summary.
//!
//! The first 100 of each are read (`per_page=100`, the most GitHub gives); a commit with more
//! checks than that is judged on those. Both go through the cache the caller lends (the state's
//! HTTP cache on a sync, so a new process confirms an unchanged commit's checks with two `304`s),
//! which keeps only the fields below, not GitHub's whole answer (each check run's output text
//! may be 64 KB), and only a one-page answer (see `HttpClient::get_cached_value`).

use serde::{Deserialize, Serialize};

use super::GithubForge;
use crate::forge::ForgeResult;
use crate::forge::checks::{self, Check, PrChecks};
use crate::http::ConditionalCache;

#[derive(Deserialize, Serialize)]
struct CheckRuns {
    #[serde(default)]
    check_runs: Vec<CheckRun>,
}

#[derive(Deserialize, Serialize)]
struct CheckRun {
    name: String,
    status: String,
    conclusion: Option<String>,
    html_url: Option<String>,
    details_url: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct Combined {
    #[serde(default)]
    statuses: Vec<Status>,
}

#[derive(Deserialize, Serialize)]
struct Status {
    context: String,
    state: String,
    target_url: Option<String>,
}

impl GithubForge {
    /// The check runs and commit statuses of `head`; `pr_url` is the PR's page (its checks tab
    /// is where a person sees them all).
    pub(super) fn read_checks(
        &self,
        pr_url: &str,
        head: &str,
        cache: &dyn ConditionalCache,
    ) -> ForgeResult<PrChecks> {
        let page = [("per_page", "100")];
        let runs: CheckRuns = self.http.get_cached_value(
            self.repo_url(&["commits", head, "check-runs"], &page)?,
            cache,
        )?;
        let combined: Combined = self
            .http
            .get_cached_value(self.repo_url(&["commits", head, "status"], &page)?, cache)?;
        let mut found: Vec<Check> = runs
            .check_runs
            .into_iter()
            .map(|r| Check {
                outcome: checks::github_check_run(&r.status, r.conclusion.as_deref()),
                name: r.name,
                url: r.html_url.or(r.details_url),
            })
            .collect();
        found.extend(combined.statuses.into_iter().map(|s| Check {
            outcome: checks::github_status(&s.state),
            name: s.context,
            url: s.target_url,
        }));
        Ok(PrChecks {
            head: head.to_string(),
            checks: found,
            url: Some(format!("{}/checks", pr_url.trim_end_matches('/'))),
        })
    }
}
