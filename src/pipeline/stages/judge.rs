//! Stage `judge`: judge the change from the pinned release to the proposed one, from git objects
//! only (no checkout): the license files and manifest license fields at both revisions
//! ([`license::judge`], pure, with any recorded approval), the MCP surface at both revisions
//! ([`mcp::compare`], pure, gated by `hold-on` with any recorded approval of that surface), and
//! the release diff (commits, files, supply-chain signals).
//!
//! The surface is read on a thread of its own while the licenses and the diff are read here
//! (on a large upstream it is the longest of the three, and they share only read-only git
//! objects); the gates are applied on this thread once all three are done.
//!
//! Each check is one function here and one field of [`Judged`]; a new one (the MCP surface,
//! advisories) goes beside them, and the texts that show it take it from `Judged`.

use anyhow::Context as _;
use git2::Oid;

use super::fetch::Upstream;
use super::pin::Mirror;
use super::security::Security;
use crate::config::ServerConfig;
use crate::license::{self, LicenseJudgement, LicensePolicy, LicenseSnapshot, Verdict};
use crate::mcp::{self, McpSurfaceReport};
use crate::pipeline::ServerRun;
use crate::report::{LicenseReport, McpReviewReport};
use crate::store::{Approval, ReviewKind};
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
    pub license_held: bool,
    /// The MCP surface change; None when neither revision uses an MCP SDK.
    pub mcp: Option<McpJudgement>,
    /// None when the pinned commit is not in the upstream history.
    pub diff: Option<ReleaseDiff>,
    /// The advisories of the pinned and the proposed release; None when not looked up.
    pub security: Option<Security>,
}

impl Judged {
    /// A review nobody approved yet holds the rebuild: the PR is a draft.
    pub fn held(&self) -> bool {
        self.license_held || self.mcp_held()
    }

    /// The MCP surface has findings at the `hold-on` levels that nobody approved yet.
    pub fn mcp_held(&self) -> bool {
        self.mcp.as_ref().is_some_and(|m| m.held)
    }
}

/// The MCP surface change and the gate's answer.
pub struct McpJudgement {
    pub report: McpSurfaceReport,
    /// Findings at the server's `hold-on` levels (any: the surface needs a person's review).
    pub gating_findings: usize,
    /// The approval of this very surface (its fingerprint), when one is recorded.
    pub approval: Option<Approval>,
    /// Review required and not approved.
    pub held: bool,
}

/// Judge the license change and the MCP surface, and compute the release diff.
pub fn judge(
    run: &mut ServerRun<'_>,
    upstream: &Upstream,
    mirror: &Mirror,
    security: Option<Security>,
) -> anyhow::Result<Judged> {
    let repo = &upstream.fetched.repo;
    let new_oid = Oid::from_str(&mirror.latest.commit)?;
    let old_oid = mirror
        .pinned_commit
        .as_deref()
        .and_then(|c| Oid::from_str(c).ok())
        .filter(|o| repo.find_commit(*o).is_ok());
    crate::failpoint::hit("after-tags");
    // The surface scan reads most source files of both revisions: on a large upstream it is
    // the longest of the three checks. It runs on a thread of its own, with its own handle on
    // the bare clone (read-only git objects are all the checks share), while this thread reads
    // the licenses and the diff; the gate is applied once both are done.
    let deps = run.deps;
    let repo_path = repo.path().to_path_buf();
    let surface_span = tracing::info_span!("mcp_surface");
    std::thread::scope(|scope| {
        let reading = scope
            .spawn(|| surface_span.in_scope(|| read_surfaces(&repo_path, old_oid, new_oid, deps)));
        let LicenseSide {
            old_snap,
            new_snap,
            judgement,
            approval,
        } = license_stage(run, repo, old_oid, new_oid)?;
        let license_held = judgement.verdict == Verdict::ReviewRequired && approval.is_none();
        let diff = diff_stage(run, upstream, mirror, old_oid, new_oid)?;
        let surfaces = reading.join().map_err(|_| {
            anyhow::anyhow!("reading the MCP surface failed: the reader panicked")
        })??;
        let mcp = surface_span.in_scope(|| mcp_gate(run, surfaces))?;
        Ok(Judged {
            old_snap,
            new_snap,
            judgement,
            approval,
            license_held,
            mcp,
            diff,
            security,
        })
    })
}

/// The license files at both revisions, judged under the server's policy, with any recorded
/// approval (also put in the run report). Without a pinned commit in the history, the new
/// license is compared with nothing.
fn license_stage(
    run: &mut ServerRun<'_>,
    repo: &git2::Repository,
    old_oid: Option<Oid>,
    new_oid: Oid,
) -> anyhow::Result<LicenseSide> {
    let span = tracing::info_span!("license").entered();
    let new_snap =
        license::scan(repo, new_oid).context("scanning license files of the new release")?;
    let old_snap = match old_oid {
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
    drop(span);
    let approval = if judgement.verdict == Verdict::ReviewRequired {
        run.deps
            .store
            .approval(&run.server.name, &judgement.fingerprint)?
    } else {
        None
    };
    let mut report = license_report(&judgement, approval.as_ref());
    if judgement.verdict == Verdict::ReviewRequired {
        report.decisions = decisions_of(run, ReviewKind::License, &judgement.fingerprint)?;
    }
    run.report.license = Some(report);
    crate::failpoint::hit("after-license");
    Ok(LicenseSide {
        old_snap,
        new_snap,
        judgement,
        approval,
    })
}

/// The license side of the judgement (see [`Judged`]).
struct LicenseSide {
    old_snap: LicenseSnapshot,
    new_snap: LicenseSnapshot,
    judgement: LicenseJudgement,
    approval: Option<Approval>,
}

/// The release diff (commits, files, signals); None without a pinned commit in the history.
fn diff_stage(
    run: &mut ServerRun<'_>,
    upstream: &Upstream,
    mirror: &Mirror,
    old_oid: Option<Oid>,
    new_oid: Oid,
) -> anyhow::Result<Option<ReleaseDiff>> {
    let repo = &upstream.fetched.repo;
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
    Ok(diff)
}

/// The MCP surfaces of the pinned (when in the history) and the proposed revision, read from
/// the bare clone at `repo_path` through the process-wide per-tree cache; the two reads share
/// one scan memo, so the files both revisions hold are scanned once.
fn read_surfaces(
    repo_path: &std::path::Path,
    old: Option<Oid>,
    new: Oid,
    deps: &crate::deps::Deps,
) -> anyhow::Result<Surfaces> {
    let repo = git2::Repository::open(repo_path)
        .with_context(|| format!("opening {} to read the MCP surface", repo_path.display()))?;
    let (limits, cache) = (mcp::Limits::default(), &*deps.mcp_surfaces);
    let mut memo = mcp::ScanMemo::default();
    let new = mcp::extract(&repo, new, &limits, cache, &mut memo)
        .context("reading the MCP surface of the new release")?;
    let old = match old {
        Some(o) => mcp::extract(&repo, o, &limits, cache, &mut memo)
            .context("reading the MCP surface of the pinned release")?,
        None => None,
    };
    Ok(Surfaces { old, new })
}

/// The surfaces of both revisions (None: that revision uses no MCP SDK).
struct Surfaces {
    old: Option<mcp::Surface>,
    new: Option<mcp::Surface>,
}

/// The MCP surface at both revisions, compared and judged, and the gate: findings at the
/// server's `hold-on` levels hold the rebuild until someone approves this surface. Read from
/// git objects only (nothing is checked out, run or installed); each tree is read once per
/// process ([`crate::deps::Deps::mcp_surfaces`]).
fn mcp_gate(run: &mut ServerRun<'_>, surfaces: Surfaces) -> anyhow::Result<Option<McpJudgement>> {
    let Some(report) = mcp::compare(surfaces.old.as_ref(), surfaces.new.as_ref()) else {
        return Ok(None);
    };
    let hold_on: Vec<mcp::Severity> = run
        .server
        .mcp
        .hold_on
        .iter()
        .filter_map(|l| mcp::Severity::parse(l))
        .collect();
    let gating_findings = report.findings_at(&hold_on).count();
    let review_required = gating_findings > 0;
    let approval = if review_required {
        run.deps
            .store
            .approval_of(ReviewKind::Mcp, &run.server.name, &report.fingerprint)?
    } else {
        None
    };
    let held = review_required && approval.is_none();
    if review_required {
        run.report.mcp_review = Some(McpReviewReport {
            state: if held { "held" } else { "approved" }.into(),
            fingerprint: report.fingerprint.clone(),
            hold_on: run.server.mcp.hold_on.clone(),
            approved_by: approval.as_ref().map(|a| a.approved_by.clone()),
            decisions: decisions_of(run, ReviewKind::Mcp, &report.fingerprint)?,
        });
    }
    tracing::info!(
        findings = report.findings.len(),
        changed = report.has_changes(),
        held,
        "judged the MCP surface"
    );
    run.report.mcp_surface = Some(report.clone());
    Ok(Some(McpJudgement {
        report,
        gating_findings,
        approval,
        held,
    }))
}

fn policy_for(server: &ServerConfig) -> LicensePolicy {
    LicensePolicy {
        allowed: server.license.allowed.clone(),
        review_codes: server.license.review_codes.clone(),
    }
}

/// The decisions recorded about the `kind` text or surface `fingerprint`, as the report shows
/// them.
fn decisions_of(
    run: &ServerRun<'_>,
    kind: ReviewKind,
    fingerprint: &str,
) -> anyhow::Result<Vec<crate::report::DecisionReport>> {
    Ok(run
        .deps
        .store
        .decisions_for(kind, &run.server.name, fingerprint)?
        .into_iter()
        .map(|d| crate::report::DecisionReport {
            decision: d.decision,
            source: d.source,
            actor: d.actor,
            decided_at: d.decided_at,
            note: d.note,
            fingerprint: d.fingerprint,
            pr_url: d.pr_url,
            comment_url: d.comment_url,
        })
        .collect())
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
        decisions: Vec::new(),
    }
}
