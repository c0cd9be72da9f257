//! The forge's own auto-merge of a rebuild PR (issue 17): how it is asked to merge (strategy,
//! source branch), what the forge says about a PR's auto-merge, and what arming it came to.
//! Shared words only; each forge maps them onto its API (`github/automerge.rs`: GraphQL
//! `enablePullRequestAutoMerge`; `azure/automerge.rs`: the PR's `autoCompleteSetBy` and
//! `completionOptions`). Whether a PR may be armed at all is decided in
//! `pipeline::plan::automerge`, never here.

/// How the forge merges an armed PR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStrategy {
    /// A merge commit (GitHub `MERGE`, Azure DevOps `noFastForward`).
    Merge,
    /// One squashed commit (GitHub `SQUASH`, Azure DevOps `squash`).
    Squash,
    /// The commits rebased onto the base, fast-forward (GitHub `REBASE`, Azure DevOps `rebase`).
    Rebase,
    /// Rebased, then a merge commit (Azure DevOps `rebaseMerge`, "semi-linear"; GitHub has none).
    RebaseMerge,
}

impl MergeStrategy {
    pub const ALL: [MergeStrategy; 4] = [
        MergeStrategy::Merge,
        MergeStrategy::Squash,
        MergeStrategy::Rebase,
        MergeStrategy::RebaseMerge,
    ];

    /// The config's word: `merge`, `squash`, `rebase`, `rebase-merge`.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeStrategy::Merge => "merge",
            MergeStrategy::Squash => "squash",
            MergeStrategy::Rebase => "rebase",
            MergeStrategy::RebaseMerge => "rebase-merge",
        }
    }

    pub fn parse(s: &str) -> Option<MergeStrategy> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// GitHub's `PullRequestMergeMethod` (GraphQL enum), None where GitHub has no such method.
    pub fn github(self) -> Option<&'static str> {
        match self {
            MergeStrategy::Merge => Some("MERGE"),
            MergeStrategy::Squash => Some("SQUASH"),
            MergeStrategy::Rebase => Some("REBASE"),
            MergeStrategy::RebaseMerge => None,
        }
    }

    /// Azure DevOps' `GitPullRequestMergeStrategy` ("Pull Requests - Update", completionOptions).
    pub fn azure(self) -> &'static str {
        match self {
            MergeStrategy::Merge => "noFastForward",
            MergeStrategy::Squash => "squash",
            MergeStrategy::Rebase => "rebase",
            MergeStrategy::RebaseMerge => "rebaseMerge",
        }
    }
}

/// What the forge is asked to do when it merges an armed PR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeOptions {
    pub strategy: MergeStrategy,
    /// Delete the bot branch once merged (Azure DevOps `deleteSourceBranch`; on GitHub it is the
    /// repository's "Automatically delete head branches" setting, not a per-PR choice).
    pub delete_source_branch: bool,
}

/// A PR's auto-merge as the forge shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoMergeState {
    Off,
    /// Armed, by whom when the forge says (GitHub `enabled_by.login`, Azure DevOps
    /// `autoCompleteSetBy.displayName`).
    Armed {
        by: Option<String>,
    },
}

/// What asking the forge to arm its auto-merge came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Armed {
    /// Armed: the forge merges the PR when its own rules (required checks, policies) pass.
    Armed,
    /// Nothing was left to wait for, so the forge could not arm it and the PR was merged at the
    /// head that was judged (GitHub answers "clean status" to arming a PR that is mergeable now).
    MergedNow,
    /// The forge will not arm it here, in its words (auto-merge not allowed in the
    /// repository, the PR's state): nothing is armed, and nothing is merged.
    Refused(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_strategy_has_its_word_and_its_forge_names() {
        for m in MergeStrategy::ALL {
            assert_eq!(MergeStrategy::parse(m.as_str()), Some(m));
        }
        assert_eq!(MergeStrategy::parse("fast-forward"), None);
        assert_eq!(MergeStrategy::Merge.azure(), "noFastForward");
        assert_eq!(MergeStrategy::RebaseMerge.azure(), "rebaseMerge");
        assert_eq!(MergeStrategy::Squash.github(), Some("SQUASH"));
        assert_eq!(MergeStrategy::RebaseMerge.github(), None);
    }
}
