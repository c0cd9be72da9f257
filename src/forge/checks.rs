//! The pipeline's answer on a rebuild PR's head commit, as the forges report it, folded into
//! one state. Pure: each forge reads its own documents (`github/checks.rs`, `azure/checks.rs`)
//! and maps every entry onto an [`Outcome`] here, where the mapping is written down and tested.

use serde::{Deserialize, Serialize};

/// The pipeline's answer on the rebuild PR's head commit, folded over every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksState {
    /// At least one check is queued or running, and none failed.
    Pending,
    /// Every check passed (or was skipped/neutral).
    Success,
    /// At least one check failed.
    Failure,
    /// No check ran on the commit (no pipeline, or none reported yet).
    None,
}

impl ChecksState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksState::Pending => "pending",
            ChecksState::Success => "success",
            ChecksState::Failure => "failure",
            ChecksState::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<ChecksState> {
        [
            ChecksState::Pending,
            ChecksState::Success,
            ChecksState::Failure,
            ChecksState::None,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// One check's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
    Pending,
    /// Says nothing about the commit (a policy that does not apply, a status never set).
    Ignored,
}

/// One check on the commit: a GitHub check run or commit status, an Azure DevOps PR status or
/// build policy evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub outcome: Outcome,
    /// Where a person reads it (the run's page, the build's results).
    pub url: Option<String>,
}

/// Every check of a PR's head commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrChecks {
    /// The commit the checks are of.
    pub head: String,
    pub checks: Vec<Check>,
    /// Where a person sees all of them (the PR's checks page).
    pub url: Option<String>,
}

impl PrChecks {
    /// Failure when any check failed, else pending when any is still running, else success
    /// when any passed, else none.
    pub fn state(&self) -> ChecksState {
        let any = |o: Outcome| self.checks.iter().any(|c| c.outcome == o);
        if any(Outcome::Failed) {
            ChecksState::Failure
        } else if any(Outcome::Pending) {
            ChecksState::Pending
        } else if any(Outcome::Passed) {
            ChecksState::Success
        } else {
            ChecksState::None
        }
    }

    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Failed)
    }
}

/// A GitHub check run ("Check runs" REST page: `status` is queued, in_progress, completed, or
/// for Actions waiting, requested, pending; `conclusion` is set once completed). `stale` is
/// GitHub's mark on a run that never completed: it is not a pass, and not the pipeline failing.
pub fn github_check_run(status: &str, conclusion: Option<&str>) -> Outcome {
    if status != "completed" {
        return Outcome::Pending;
    }
    match conclusion {
        Some("success" | "neutral" | "skipped") => Outcome::Passed,
        Some("failure" | "timed_out" | "cancelled" | "action_required" | "startup_failure") => {
            Outcome::Failed
        }
        Some("stale") | None => Outcome::Pending,
        Some(_) => Outcome::Failed,
    }
}

/// A GitHub commit status ("Commit statuses" REST page: error, failure, pending, success).
pub fn github_status(state: &str) -> Outcome {
    match state {
        "success" => Outcome::Passed,
        "pending" => Outcome::Pending,
        _ => Outcome::Failed,
    }
}

/// An Azure DevOps PR status ("Pull Request Statuses - List", `GitStatusState`: notSet,
/// pending, succeeded, failed, error, notApplicable).
pub fn azure_status(state: &str) -> Outcome {
    match state {
        "succeeded" => Outcome::Passed,
        "pending" => Outcome::Pending,
        "failed" | "error" => Outcome::Failed,
        _ => Outcome::Ignored,
    }
}

/// An Azure DevOps policy evaluation ("Evaluations - List", `PolicyEvaluationStatus`: queued,
/// running, approved, rejected, notApplicable, broken).
pub fn azure_policy(status: &str) -> Outcome {
    match status {
        "approved" => Outcome::Passed,
        "queued" | "running" => Outcome::Pending,
        "rejected" | "broken" => Outcome::Failed,
        _ => Outcome::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(outcomes: &[Outcome]) -> PrChecks {
        PrChecks {
            head: "h".into(),
            checks: outcomes
                .iter()
                .enumerate()
                .map(|(i, o)| Check {
                    name: format!("c{i}"),
                    outcome: *o,
                    url: None,
                })
                .collect(),
            url: None,
        }
    }

    #[test]
    fn the_fold_over_every_check() {
        use Outcome::*;
        for (outcomes, want) in [
            (&[][..], ChecksState::None),
            (&[Ignored][..], ChecksState::None),
            (&[Passed, Ignored][..], ChecksState::Success),
            (&[Passed, Pending][..], ChecksState::Pending),
            (&[Passed, Pending, Failed][..], ChecksState::Failure),
        ] {
            assert_eq!(checks(outcomes).state(), want, "{outcomes:?}");
        }
        let c = checks(&[Passed, Failed, Failed]);
        assert_eq!(
            c.failed().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["c1", "c2"]
        );
    }

    #[test]
    fn each_forge_state_maps_as_documented() {
        use Outcome::*;
        for (status, conclusion, want) in [
            ("queued", None, Pending),
            ("in_progress", None, Pending),
            ("waiting", None, Pending),
            ("completed", Some("success"), Passed),
            ("completed", Some("neutral"), Passed),
            ("completed", Some("skipped"), Passed),
            ("completed", Some("failure"), Failed),
            ("completed", Some("timed_out"), Failed),
            ("completed", Some("cancelled"), Failed),
            ("completed", Some("action_required"), Failed),
            ("completed", Some("stale"), Pending),
        ] {
            assert_eq!(
                github_check_run(status, conclusion),
                want,
                "{status} {conclusion:?}"
            );
        }
        for (state, want) in [
            ("success", Passed),
            ("pending", Pending),
            ("failure", Failed),
            ("error", Failed),
        ] {
            assert_eq!(github_status(state), want, "{state}");
        }
        for (state, want) in [
            ("succeeded", Passed),
            ("pending", Pending),
            ("failed", Failed),
            ("error", Failed),
            ("notSet", Ignored),
            ("notApplicable", Ignored),
        ] {
            assert_eq!(azure_status(state), want, "{state}");
        }
        for (status, want) in [
            ("approved", Passed),
            ("queued", Pending),
            ("running", Pending),
            ("rejected", Failed),
            ("broken", Failed),
            ("notApplicable", Ignored),
        ] {
            assert_eq!(azure_policy(status), want, "{status}");
        }
    }
}
