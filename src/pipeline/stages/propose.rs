//! Stage `propose`: the rebuild as people will see it: the PR title and body, the commit message,
//! the labels, and the pin file edited to the new release (one changed value). Rendering is pure
//! ([`crate::render`]); nothing is read or written here.

use anyhow::Context as _;

use super::judge::Judged;
use super::pin::Mirror;
use super::record::sha256_hex;
use super::releases::Releases;
use crate::advisories::render as advisory_texts;
use crate::forge::pin::{self, Pin};
use crate::pipeline::ServerRun;
use crate::pipeline::automerge;
use crate::pipeline::plan::automerge::AutoMerge;
use crate::render::{self, ApprovalView, McpView, RebuildView, SecurityView};
use crate::report::{Latest, Pinned};
use crate::store::Approval;
use crate::upstream;

/// The proposed rebuild.
pub struct Proposal {
    /// The upstream URL without credentials.
    pub upstream: String,
    pub old: Pinned,
    pub old_version: Option<String>,
    pub new: Latest,
    /// Release notes from the primary channel, preferred over the diff's changelog section.
    pub release_notes: Option<String>,
    pub title: String,
    pub body: String,
    pub commit_message: String,
    pub labels: Vec<String>,
    /// A held draft (the license change or the MCP surface awaits review).
    pub held: bool,
    /// The pin file as the rebuild PR changes it, and that change as a unified diff.
    pub new_content: Vec<u8>,
    pub pin_diff: String,
    /// Hash of the title, body and hold flag: a PR whose stored hash matches needs no update.
    pub body_hash: String,
    /// Whether the forge's auto-merge may be armed, by the guards over what `judge` found.
    pub auto_merge: AutoMerge,
}

impl Proposal {
    /// Everything the texts need, borrowed for one rendering.
    pub fn view<'a>(&'a self, run: &'a ServerRun<'_>, judged: &'a Judged) -> RebuildView<'a> {
        RebuildView {
            server: &run.server.name,
            upstream: &self.upstream,
            old: &self.old,
            old_version: self.old_version.as_deref(),
            new: &self.new,
            license: Some(&judged.judgement),
            license_texts: (Some(&judged.old_snap), Some(&judged.new_snap)),
            approval: judged.approval.as_ref().map(approval_view),
            license_held: judged.license_held,
            mcp: judged.mcp.as_ref().map(|m| McpView {
                report: &m.report,
                gating_findings: m.gating_findings,
                held: m.held,
                approval: m.approval.as_ref().map(approval_view),
                approvers: run.server.mcp_approvers(),
            }),
            security: judged.security.as_ref().map(|s| SecurityView {
                section: &s.section,
                leads: advisory_texts::leads_pr_body(&s.report),
            }),
            diff: judged.diff.as_ref(),
            release_notes: self.release_notes.as_deref(),
            channels: &run.report.channels,
            run_id: run.run_id,
            approvers: &run.server.license.approvers,
        }
    }
}

fn approval_view(a: &Approval) -> ApprovalView<'_> {
    ApprovalView {
        approved_by: &a.approved_by,
        approved_at: &a.approved_at,
        note: a.note.as_deref(),
    }
}

/// Render the proposal and edit the pin.
pub fn propose(
    run: &ServerRun<'_>,
    mirror: &Mirror,
    judged: &Judged,
    releases: &Releases,
) -> anyhow::Result<Proposal> {
    let server = run.server;
    let old = run.report.pinned.clone().unwrap_or(Pinned {
        git_ref: mirror.pin.git_ref.clone(),
        commit: None,
    });
    let new = run
        .report
        .latest
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no latest release"))?;
    let mut proposal = Proposal {
        upstream: upstream::redact_url(&server.upstream),
        old,
        old_version: mirror
            .pinned_version
            .as_ref()
            .map(|v| v.as_str().to_string()),
        new,
        release_notes: releases.published.as_ref().and_then(|p| p.notes.clone()),
        title: String::new(),
        body: String::new(),
        commit_message: String::new(),
        labels: labels(run, judged),
        held: judged.held(),
        new_content: Vec::new(),
        pin_diff: String::new(),
        body_hash: String::new(),
        auto_merge: automerge::verdict(run, judged, &mirror.latest.version)?,
    };
    let view = proposal.view(run, judged);
    let title = render::pr_title(&view);
    let title = match &judged.security {
        Some(s) => advisory_texts::pr_title(&title, &s.report),
        None => title,
    };
    let line = automerge::body_line(run, &proposal.auto_merge);
    let limit = (mirror.forge.body_limit())
        .saturating_sub(line.as_deref().map_or(0, render::automerge::cost));
    let body = render::pr_body(&view, limit);
    let body = match &line {
        Some(line) => render::automerge::with_line(&body, line),
        None => body,
    };
    let commit_message = render::commit_message(&view);
    let (new_content, pin_diff) = edit_pin(run, mirror)?;
    proposal.body_hash = sha256_hex(&format!("{title}\n{body}\n{}", judged.held()));
    proposal.title = title;
    proposal.body = body;
    proposal.commit_message = commit_message;
    proposal.new_content = new_content;
    proposal.pin_diff = pin_diff;
    Ok(proposal)
}

/// The mirror's labels, `upkeep` first, and the review labels of a held draft.
fn labels(run: &ServerRun<'_>, judged: &Judged) -> Vec<String> {
    let mut labels = run.server.mirror.labels.clone();
    if !labels.iter().any(|l| l == "upkeep") {
        labels.insert(0, "upkeep".into());
    }
    if judged.license_held {
        labels.push(render::REVIEW_LABEL.into());
    }
    if judged.mcp_held() {
        labels.push(render::MCP_REVIEW_LABEL.into());
    }
    if judged
        .security
        .as_ref()
        .is_some_and(|s| s.report.is_security_fix())
    {
        labels.push(advisory_texts::SECURITY_LABEL.into());
    }
    labels
}

/// The pin file pinned to the new release, and the change as a unified diff.
fn edit_pin(run: &ServerRun<'_>, mirror: &Mirror) -> anyhow::Result<(Vec<u8>, String)> {
    let mirror_cfg = &run.server.mirror;
    let new_pin = Pin {
        git_ref: format!("refs/tags/{}", mirror.latest.tag),
        commit: Some(mirror.latest.commit.clone()),
    };
    let new_content = pin::write_pin(
        mirror_cfg.pin_format,
        &mirror.base.content,
        &Mirror::target(run.server),
        &new_pin,
    )
    .with_context(|| format!("editing the pin in {}", mirror_cfg.pin_file))?;
    let pin_diff = similar::TextDiff::from_lines(
        String::from_utf8_lossy(&mirror.base.content).into_owned(),
        String::from_utf8_lossy(&new_content).into_owned(),
    )
    .unified_diff()
    .context_radius(2)
    .header(
        &format!("a/{}", mirror_cfg.pin_file),
        &format!("b/{}", mirror_cfg.pin_file),
    )
    .to_string();
    Ok((new_content, pin_diff))
}
