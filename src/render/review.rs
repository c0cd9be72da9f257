//! The parts of the rebuild PR and the owners' emails about the reviews beside the license one:
//! the MCP surface (its banner, its section, the held email) and the security advisories
//! section the pipeline renders with the advisories' own texts. Pure, like the rest of
//! [`crate::render`].

use std::fmt::Write as _;

use super::decisions::{Subject, email_steps, pr_how_to_decide};
use super::{ApprovalView, EmailText, RebuildView, Section, html_from_text, short};
use crate::mcp::{self, McpSurfaceReport, Severity};

/// Label put on a rebuild PR held for review of its MCP surface.
pub const MCP_REVIEW_LABEL: &str = "mcp-review-required";

/// Characters of the MCP surface text in an email (the PR has its own, smaller, limit).
const EMAIL_SURFACE_CHARS: usize = 16_000;

/// The MCP surface change as the texts show it.
#[derive(Debug, Clone, Copy)]
pub struct McpView<'a> {
    pub report: &'a McpSurfaceReport,
    /// Findings at the server's `hold-on` levels (0: the gate does not apply).
    pub gating_findings: usize,
    /// Findings at the hold levels and no approval of this surface: the PR is a held draft.
    pub held: bool,
    pub approval: Option<ApprovalView<'a>>,
    /// Who may decide the held surface on the PR (the MCP approvers; none: the CLI only).
    pub approvers: &'a [crate::config::license::Approver],
}

impl McpView<'_> {
    /// Whether there is anything to show: an unchanged surface without findings has no section.
    pub fn worth_showing(&self) -> bool {
        self.report.has_changes() || !self.report.findings.is_empty()
    }

    pub fn review_required(&self) -> bool {
        self.gating_findings > 0
    }
}

/// The advisory section (Markdown, rendered by the advisories' own renderer).
#[derive(Debug, Clone, Copy)]
pub struct SecurityView<'a> {
    pub section: &'a str,
    /// The section leads the body (the release fixes an advisory, or is itself affected).
    pub leads: bool,
}

fn worst(report: &McpSurfaceReport) -> &'static str {
    report.max_severity().map_or("no", Severity::as_str)
}

/// The banner at the top of the body: blocked until approved (and how to decide: the PR
/// command when MCP approvers are configured, naming them), or approved by whom.
pub(super) fn mcp_banner(head: &mut String, v: &RebuildView<'_>, m: McpView<'_>) {
    if m.held {
        let how = pr_how_to_decide(
            Subject::Mcp,
            v.server,
            &v.new.version,
            m.approvers,
            super::DRAFT_UNTIL,
        );
        let _ = writeln!(
            head,
            "> ⛔ **Blocked: the MCP surface needs review.** {} finding(s) at the hold levels in \
             what the model sees, the worst {} (see \"MCP surface\" below). {how}\n",
            m.gating_findings,
            worst(m.report),
        );
    } else if let Some(a) = m.approval.filter(|_| m.review_required()) {
        let _ = writeln!(
            head,
            "{}",
            super::approved_line("MCP surface change reviewed and", a)
        );
    }
}

/// The "MCP surface" section within `room` characters, or None when nothing a model sees
/// changed and nothing was found.
pub(super) fn mcp_section(m: McpView<'_>, room: usize) -> Option<Section> {
    if !m.worth_showing() {
        return None;
    }
    // The renderer counts bytes, the forges characters: a byte budget is the safe side.
    let md = mcp::render::markdown(m.report, room.saturating_sub(30));
    let text = md.strip_prefix("### MCP surface\n").unwrap_or(&md);
    Some(Section {
        title: "MCP surface".into(),
        text: text.to_string(),
    })
}

pub(super) fn security_section(s: SecurityView<'_>) -> Section {
    let text = s
        .section
        .strip_prefix("### Security advisories\n")
        .unwrap_or(s.section);
    Section {
        title: "Security advisories".into(),
        text: text.trim_start_matches('\n').to_string(),
    }
}

/// Finding lines a reminder lists before it says how many more the PR shows.
const REMINDER_FINDINGS: usize = 10;

/// One line per finding of `report` at the `hold_on` levels (what holds the rebuild), for a
/// review reminder: severity, code, item and field, not the quoted upstream text (the first
/// email and the PR show that, escaped for each).
pub fn held_finding_lines(report: &McpSurfaceReport, hold_on: &[String]) -> Vec<String> {
    let levels: Vec<Severity> = hold_on.iter().filter_map(|l| Severity::parse(l)).collect();
    let held: Vec<_> = report.findings_at(&levels).collect();
    let mut lines: Vec<String> = held
        .iter()
        .take(REMINDER_FINDINGS)
        .map(|f| {
            format!(
                "{}: {} in {} {}",
                f.severity.as_str(),
                f.code.as_str(),
                f.item,
                f.field
            )
        })
        .collect();
    if held.len() > REMINDER_FINDINGS {
        lines.push(format!(
            "and {} more (see the rebuild PR)",
            held.len() - REMINDER_FINDINGS
        ));
    }
    lines
}

/// The MCP surface part of an owners' email (plain text), when there is something to show.
pub(super) fn mcp_email_part(v: &RebuildView<'_>) -> Option<String> {
    let m = v.mcp.filter(McpView::worth_showing)?;
    Some(mcp::render::plain_text(m.report, EMAIL_SURFACE_CHARS))
}

/// The email that asks the owners to review a held MCP surface change: the findings, the
/// changed texts as the model would read them, and what to do.
pub fn mcp_email(v: &RebuildView<'_>, pr_url: Option<&str>) -> EmailText {
    let worst = v.mcp.map_or("no", |m| worst(m.report));
    let subject = format!(
        "[upkeep] {} {} -> {}: MCP surface needs review ({worst}-severity findings)",
        v.server,
        v.old_label(),
        v.new.version
    );
    let mut t = format!(
        "The upstream of {}, a sponsored server you own, released {}. It changes the text a model \
         is given (tool names, descriptions, parameters, hints), and upkeep found {worst}-severity \
         signs of tool poisoning in it.\nupkeep has held the rebuild until someone reviews the \
         change. Nothing was run: the surface is read from the source.\n\n",
        v.server, v.new.version
    );
    t.push_str(&mcp_email_part(v).unwrap_or_default());
    let approvers = v.mcp.map_or(&[][..], |m| m.approvers);
    let [approve, decline] = email_steps(Subject::Mcp, v.server, &v.new.version, approvers);
    let _ = write!(
        t,
        "\nWhat to do\n  1. Read the changed texts above (hidden characters are shown as <U+XXXX>).\n  \
         2. {approve} A release that changes the surface again needs a new review.\n  \
         3. {decline}\n\n"
    );
    if let Some(url) = pr_url {
        let _ = writeln!(t, "Rebuild PR (draft): {url}");
    }
    let _ = writeln!(
        t,
        "Pinned: {} ({})   Proposed: {} ({})\n\nYou get this email once for this surface.",
        super::short_ref(&v.old.git_ref),
        v.old.commit.as_deref().map_or("unknown", short),
        v.new.tag,
        short(&v.new.commit)
    );
    EmailText {
        subject,
        html: html_from_text(&t),
        text: t,
    }
}
