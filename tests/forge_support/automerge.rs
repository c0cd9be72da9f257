//! The forges' own auto-merge, as both fakes model it (issue 17): who armed it and how it
//! merges, the PR's merge state from the checks the repository requires, and the merge itself
//! once those pass. GitHub: "Automatically merging a pull request" (auto-merge waits for the
//! required reviews and status checks, then merges with the chosen method). Azure DevOps:
//! "Complete pull requests", auto-complete (completes once every required policy passes).

use super::{FakePr, FakePrState, FakeState, forge_now};

/// A PR's armed auto-merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeAutoMerge {
    /// Who armed it (GitHub login; Azure DevOps identity id).
    pub by: String,
    /// The forge's own word for the method (GitHub `SQUASH`, Azure DevOps `squash`).
    pub strategy: String,
    pub delete_source_branch: bool,
}

/// GitHub's `mergeStateStatus` in the three values that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeState {
    /// A required check has not passed yet: auto-merge can be armed, and waits.
    Blocked,
    /// Mergeable, but a check that is not required failed.
    Unstable,
    /// Mergeable now: nothing to wait for.
    Clean,
}

impl FakeState {
    /// The head commit of PR `pr`'s branch.
    pub fn pr_head(&self, pr: &FakePr) -> Option<String> {
        self.refs.get(&pr.head).cloned()
    }

    /// The merge state of `pr` from the checks of its head and the repository's required ones.
    pub fn merge_state(&self, pr: &FakePr) -> MergeState {
        let head = self.pr_head(pr).unwrap_or_default();
        let checks = self.checks.get(&head).cloned().unwrap_or_default();
        let passed = |name: &str| checks.iter().any(|c| c.name == name && c.outcome == "pass");
        if !self.required_checks.iter().all(|r| passed(r)) {
            MergeState::Blocked
        } else if checks.iter().any(|c| c.outcome == "fail") {
            MergeState::Unstable
        } else {
            MergeState::Clean
        }
    }

    /// Merge PR `index` as the forge does: the base branch moves to the PR's head (the fake's
    /// trees are whole snapshots, so this is the merge result), and the source branch goes when
    /// asked.
    pub fn merge_pr(&mut self, index: usize, by: &str, delete_source_branch: bool) {
        let head = self.pr_head(&self.prs[index]).unwrap_or_default();
        let (base, branch) = (self.prs[index].base.clone(), self.prs[index].head.clone());
        self.refs.insert(base, head);
        if delete_source_branch {
            self.refs.remove(&branch);
        }
        let pr = &mut self.prs[index];
        pr.state = FakePrState::Merged;
        pr.closed_by = Some(by.to_string());
        pr.closed_at = Some(forge_now());
        pr.auto_merge = None;
    }

    /// What the forge does on its own between requests: an armed PR whose required checks all
    /// passed, with none failing, is merged.
    pub fn complete_auto_merges(&mut self) {
        let due: Vec<(usize, FakeAutoMerge)> = self
            .prs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.state == FakePrState::Open)
            .filter_map(|(i, p)| p.auto_merge.clone().map(|a| (i, a)))
            .filter(|(i, _)| self.merge_state(&self.prs[*i]) == MergeState::Clean)
            .collect();
        for (i, armed) in due {
            self.merge_pr(i, &armed.by, armed.delete_source_branch);
        }
    }
}
