//! Stage `judge`: judge the change from the pinned release to the proposed one, from git objects
//! only (no checkout): the license files and manifest license fields at both revisions
//! ([`license::judge`], pure, with any recorded approval), and the release diff (commits, files,
//! supply-chain signals).
//!
//! Each check is one function here and one field of [`Judged`]; a new one (the MCP surface,
//! advisories) goes beside them, and the texts that show it take it from `Judged`.

use anyhow::Context as _;
use git2::Oid;

use super::fetch::Upstream;
use super::pin::Mirror;
use crate::config::ServerConfig;
use crate::license::{self, LicenseJudgement, LicensePolicy, LicenseSnapshot, Verdict};
use crate::pipeline::ServerRun;
use crate::report::LicenseReport;
use crate::store::Approval;
use crate::upstream::diff::{self, ReleaseDiff};

/// What the change is.
pub struct Judged {
    /// The license files of the pinned release (the baseline the record stage keeps).
    pub old_snap: LicenseSnapshot,
    /// The license files of the proposed release (their full texts go to the review email).
    pub new_snap: LicenseSnapshot,
    pub judgement: LicenseJudgement,
    /// The approval of this license change, when one is recorded.
    pub approval: Option<Approval>,
    /// The license change needs a review nobody approved yet: the PR is a held draft.
    pub held: bool,
    /// None when the pinned commit is not in the upstream history.
    pub diff: Option<ReleaseDiff>,
}

/// Judge the license change and compute the release diff.
pub fn judge(
    run: &mut ServerRun<'_>,
    upstream: &Upstream,
    mirror: &Mirror,
) -> anyhow::Result<Judged> {
    let repo = &upstream.fetched.repo;
    let new_oid = Oid::from_str(&mirror.latest.commit)?;
    let old_oid = mirror
        .pinned_commit
        .as_deref()
        .and_then(|c| Oid::from_str(c).ok())
        .filter(|o| repo.find_commit(*o).is_ok());
    crate::failpoint::hit("after-tags");
    let (old_snap, new_snap, judgement) =
        tracing::info_span!("license").in_scope(|| license_change(run, repo, old_oid, new_oid))?;
    let approval = if judgement.verdict == Verdict::ReviewRequired {
        run.deps
            .store
            .approval(&run.server.name, &judgement.fingerprint)?
    } else {
        None
    };
    let held = judgement.verdict == Verdict::ReviewRequired && approval.is_none();
    run.report.license = Some(license_report(&judgement, approval.as_ref()));
    crate::failpoint::hit("after-license");
    let diff = match old_oid {
        Some(old) => Some(diff::release_diff(
            repo,
            old,
            new_oid,
            &diff::DiffOptions {
                max_commits_listed: 50,
                max_largest_files: 10,
                default_branch: upstream
                    .fetched
                    .default_branch
                    .as_ref()
                    .map(|(_, oid)| *oid),
                version: Some(mirror.latest.version.clone()),
            },
        )?),
        None => None,
    };
    run.report.diff.clone_from(&diff);
    crate::failpoint::hit("after-diff");
    Ok(Judged {
        old_snap,
        new_snap,
        judgement,
        approval,
        held,
        diff,
    })
}

/// The license files at both revisions, and the judgement of the change under the server's
/// policy. Without a pinned commit in the history, the new license is compared with nothing.
fn license_change(
    run: &mut ServerRun<'_>,
    repo: &git2::Repository,
    old: Option<Oid>,
    new: Oid,
) -> anyhow::Result<(LicenseSnapshot, LicenseSnapshot, LicenseJudgement)> {
    let new_snap = license::scan(repo, new).context("scanning license files of the new release")?;
    let old_snap = match old {
        Some(o) => {
            license::scan(repo, o).context("scanning license files of the pinned release")?
        }
        None => {
            run.report.notes.push(
                "the pinned commit is not in the upstream history; license compared against nothing"
                    .into(),
            );
            LicenseSnapshot::empty()
        }
    };
    let judgement = license::judge(&old_snap, &new_snap, &policy_for(run.server));
    Ok((old_snap, new_snap, judgement))
}

fn policy_for(server: &ServerConfig) -> LicensePolicy {
    LicensePolicy {
        allowed: server.license.allowed.clone(),
        review_codes: server.license.review_codes.clone(),
    }
}

/// The judgement as the run report shows it.
fn license_report(judgement: &LicenseJudgement, approval: Option<&Approval>) -> LicenseReport {
    LicenseReport {
        verdict: judgement.verdict.code().to_string(),
        reason: judgement.reason.clone(),
        approved_by: approval.map(|a| a.approved_by.clone()),
        files: judgement
            .files
            .iter()
            .filter_map(|f| serde_json::to_value(f).ok())
            .map(|mut v| {
                // The word-level runs repeat the whole text; the report keeps the unified diff
                // (the HTML email has the word-level view).
                if let Some(o) = v.as_object_mut() {
                    o.remove("word_diff");
                }
                v
            })
            .collect(),
    }
}
