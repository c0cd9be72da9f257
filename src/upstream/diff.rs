//! Release diff (temporary minimal version).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    pub max_commits_listed: usize,
    pub max_largest_files: usize,
    pub default_branch: Option<git2::Oid>,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitSummary {
    pub short_id: String,
    pub subject: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseDiff {
    pub commit_count: usize,
    pub commits: Vec<CommitSummary>,
}

pub fn release_diff(
    repo: &git2::Repository,
    old: git2::Oid,
    new: git2::Oid,
    opts: &DiffOptions,
) -> anyhow::Result<ReleaseDiff> {
    let mut walk = repo.revwalk()?;
    walk.push(new)?;
    walk.hide(old)?;
    let mut commits = Vec::new();
    let mut count = 0;
    for id in walk {
        let c = repo.find_commit(id?)?;
        count += 1;
        if commits.len() < opts.max_commits_listed {
            commits.push(CommitSummary {
                short_id: c.id().to_string()[..7].to_string(),
                subject: c.summary().ok().flatten().unwrap_or("").to_string(),
            });
        }
    }
    Ok(ReleaseDiff {
        commit_count: count,
        commits,
    })
}
