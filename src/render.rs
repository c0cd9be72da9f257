//! The texts people read: rebuild PR titles and bodies, and owner emails. Pure functions of
//! the run's findings; no I/O. Bodies are size-aware: the least important sections are cut
//! first and the cut is said in the body. The license change's own screens are in [`license`].

pub mod license;

use std::fmt::Write as _;

use crate::license::{LicenseJudgement, LicenseSnapshot, Verdict};
use crate::report::{Attachment, Latest, MovedTag, Pinned};
use crate::upstream::diff::ReleaseDiff;

/// Label put on a rebuild PR held for license review.
pub const REVIEW_LABEL: &str = "license-review-required";

/// Everything a reviewer needs about one proposed rebuild.
pub struct RebuildView<'a> {
    pub server: &'a str,
    pub upstream: &'a str,
    pub old: &'a Pinned,
    pub old_version: Option<&'a str>,
    pub new: &'a Latest,
    pub license: Option<&'a LicenseJudgement>,
    /// The license files of the pinned and the proposed release, for the full texts (email
    /// attachments, the PR's collapsed section); `None` where not at hand.
    pub license_texts: (Option<&'a LicenseSnapshot>, Option<&'a LicenseSnapshot>),
    pub approval: Option<ApprovalView<'a>>,
    pub held: bool,
    pub diff: Option<&'a ReleaseDiff>,
    /// Release notes from the release channel (e.g. the GitHub release body), preferred over
    /// the changelog section found in the diff.
    pub release_notes: Option<&'a str>,
    /// The release channels looked up, with their cross-check findings.
    pub channels: &'a [crate::report::ChannelReport],
    pub run_id: i64,
}

/// A recorded approval of the license change, as the PR body states it.
#[derive(Debug, Clone, Copy)]
pub struct ApprovalView<'a> {
    pub approved_by: &'a str,
    /// RFC 3339; the body shows the date.
    pub approved_at: &'a str,
    pub note: Option<&'a str>,
}

impl RebuildView<'_> {
    fn old_label(&self) -> String {
        self.old_version
            .map_or_else(|| short_ref(&self.old.git_ref).to_string(), str::to_string)
    }
}

/// `refs/tags/v1.2.0` -> `v1.2.0`.
pub fn short_ref(r: &str) -> &str {
    r.strip_prefix("refs/tags/")
        .or_else(|| r.strip_prefix("refs/heads/"))
        .unwrap_or(r)
}

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

/// Text from an upstream (tag names, commit subjects) goes into Markdown: neutralise what could
/// render as markup, mention people, or break out of a table cell.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '@' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

pub fn pr_title(v: &RebuildView<'_>) -> String {
    let mut t = format!("Rebuild {} {} → {}", v.server, v.old_label(), v.new.version);
    if v.held {
        t.push_str(" (license review required)");
    }
    t
}

/// The commit message of the pin bump.
pub fn commit_message(v: &RebuildView<'_>) -> String {
    format!(
        "Rebuild {} {} -> {}\n\nPin the upstream {} to {} ({}).\n\nProposed by upkeep run {}.",
        v.server,
        v.old_label(),
        v.new.version,
        v.upstream,
        v.new.tag,
        v.new.commit,
        v.run_id
    )
}

/// Section of the PR body, in order of importance (cut from the end).
#[derive(Clone)]
struct Section {
    title: String,
    text: String,
}

/// `1234567` -> `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A compare link for upstreams on hosts whose compare URL is known (GitHub).
pub fn compare_url(upstream: &str, old_ref: &str, new_tag: &str) -> Option<String> {
    let rest = upstream
        .strip_prefix("https://github.com/")
        .or_else(|| upstream.strip_prefix("git@github.com:"))
        .or_else(|| upstream.strip_prefix("ssh://git@github.com/"))?;
    let repo = rest.trim_end_matches('/').trim_end_matches(".git");
    if repo.split('/').count() != 2 {
        return None;
    }
    let enc = |s: &str| {
        s.replace('%', "%25")
            .replace(' ', "%20")
            .replace('#', "%23")
    };
    Some(format!(
        "https://github.com/{repo}/compare/{}...{}",
        enc(short_ref(old_ref)),
        enc(new_tag)
    ))
}

fn summary_rows(head: &mut String, d: &ReleaseDiff) {
    let c = &d.commits;
    let _ = writeln!(
        head,
        "| commits / files | | {} commit{} by {} author{} · {} file{} · +{} −{} |",
        thousands(c.count as u64),
        if c.count == 1 { "" } else { "s" },
        c.authors_total(),
        if c.authors_total() == 1 { "" } else { "s" },
        thousands(d.files.changed as u64),
        if d.files.changed == 1 { "" } else { "s" },
        thousands(d.files.insertions),
        thousands(d.files.deletions)
    );
    let mut history = Vec::new();
    if !c.old_is_ancestor {
        history.push("⚠ the pinned commit is not an ancestor of the release (rewritten history or another branch)".to_string());
    }
    match c.reachable_from_default {
        Some(false) => {
            history.push("⚠ the release commit is not on the upstream default branch".to_string())
        }
        Some(true) => history.push("on the default branch".to_string()),
        None => {}
    }
    if !history.is_empty() {
        let _ = writeln!(head, "| history | | {} |", history.join(" · "));
    }
}

fn signals_section(d: &ReleaseDiff) -> String {
    let mut t = String::new();
    for s in &d.signals {
        let _ = writeln!(
            t,
            "- `{}`: {} <sub>{}</sub>",
            md_escape(&s.path).replace('`', "'"),
            md_escape(&s.reason),
            s.code
        );
    }
    if d.signals_truncated > 0 {
        let _ = writeln!(
            t,
            "- … {} more of the same kinds (at most {} listed per kind)",
            d.signals_truncated,
            crate::upstream::diff::MAX_SIGNALS_PER_CODE
        );
    }
    t
}

fn commits_section(d: &ReleaseDiff, compare: Option<&str>) -> String {
    let mut t = String::new();
    for c in &d.commits.list {
        let _ = writeln!(
            t,
            "- `{}` {}{} <sub>{}</sub>",
            c.short_id,
            if c.is_merge { "**merge** " } else { "" },
            md_escape(&c.subject),
            md_escape(&c.author)
        );
    }
    if d.commits.truncated > 0 {
        let _ = writeln!(
            t,
            "- … {} more{}",
            d.commits.truncated,
            compare.map(|u| format!(": {u}")).unwrap_or_default()
        );
    } else if let Some(u) = compare {
        let _ = writeln!(t, "\nCompare: {u}");
    }
    t
}

fn files_section(d: &ReleaseDiff) -> String {
    let mut t = String::new();
    for f in &d.files.largest {
        let _ = writeln!(
            t,
            "- `{}` +{} −{}",
            md_escape(&f.path).replace('`', "'"),
            f.insertions,
            f.deletions
        );
    }
    for f in &d.files.binary_or_large {
        let _ = writeln!(
            t,
            "- `{}` {}{}",
            md_escape(&f.path).replace('`', "'"),
            if f.large { "large file" } else { "binary" },
            f.size
                .map(|s| format!(", {} bytes", thousands(s)))
                .unwrap_or_default()
        );
    }
    if d.files.renames_count > 0 {
        let _ = writeln!(t, "- {} rename(s)", d.files.renames_count);
    }
    t
}

/// The PR body, within `limit` characters.
pub fn pr_body(v: &RebuildView<'_>, limit: usize) -> String {
    let head = pr_head(v);
    let compare = compare_url(v.upstream, &v.old.git_ref, &v.new.tag);
    let mut sections = pr_sections(v, compare.as_deref());
    let checklist = format!(
        "- [ ] Mirror pipeline green: no supply-chain vulnerabilities, no failed SDL tasks\n\
         - [ ] Component Governance: no open alerts\n\
         - [ ] CELA review of the license change ({})\n",
        if v.license
            .is_some_and(|l| l.verdict == Verdict::ReviewRequired)
        {
            "required for this release"
        } else {
            "not needed: no license change"
        }
    );
    // No run id or time here: an unchanged proposal must render to the same body, so a rerun
    // does not touch the PR.
    let footer = format!(
        "\n<sub>Opened by upkeep for `{}` · updated in place when a newer release appears</sub>\n",
        v.server
    );
    // The full new license texts, collapsed, come last and only whole: a forge whose limit
    // cannot hold them (Azure DevOps) gets the pointer to the email and `license show` instead.
    let full = v
        .license
        .filter(|l| l.verdict == Verdict::ReviewRequired)
        .and_then(|l| license::pr_full_texts(l, v.license_texts.1, &v.new.tag));
    let Some(full) = full else {
        return fit_body(head, sections, &checklist, &footer, limit);
    };
    let without = fit_body(head.clone(), sections.clone(), &checklist, &footer, limit);
    sections.push(Section {
        title: "Full license texts".into(),
        text: full.clone(),
    });
    let with = fit_body(head, sections, &checklist, &footer, limit);
    if with.contains(&full) { with } else { without }
}

/// The top of the PR body: the hold (or approval) line and the table of pinned vs proposed.
fn pr_head(v: &RebuildView<'_>) -> String {
    let mut head = String::new();
    if let Some(l) = v.license.filter(|l| v.held && l.analysis.is_some()) {
        head.push_str(&license::pr_banner(l, v.server, &v.new.version));
    } else if v.held {
        let reason = v
            .license
            .map_or("the license changed", |l| l.reason.as_str());
        let _ = writeln!(
            head,
            "> ⛔ **Blocked: license change needs CELA review.** {}. This PR stays a draft until \
             `upkeep license approve {} --by <name>` records an approval.\n",
            md_escape(reason),
            v.server
        );
    } else if let Some(a) = v.approval {
        let _ = writeln!(
            head,
            "> ✅ License change approved by {} on {}{}.\n",
            md_escape(a.approved_by),
            a.approved_at.get(..10).unwrap_or(a.approved_at),
            a.note
                .map(|n| format!(" ({})", md_escape(n)))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(head, "| | pinned | proposed |\n|---|---|---|");
    let _ = writeln!(head, "| upstream | {} | |", md_escape(v.upstream));
    let _ = writeln!(
        head,
        "| ref | `{}` | `refs/tags/{}` |",
        v.old.git_ref.replace('`', "'"),
        v.new.tag.replace('`', "'")
    );
    let _ = writeln!(
        head,
        "| commit | `{}` | `{}` |",
        v.old.commit.as_deref().map_or("unknown", short),
        short(&v.new.commit)
    );
    if let Some(date) = &v.new.date {
        let _ = writeln!(head, "| released | | {} |", date.get(..10).unwrap_or(date));
    }
    if let Some(d) = v.diff {
        summary_rows(&mut head, d);
    }
    if !v.channels.is_empty() {
        let _ = writeln!(head, "| channels | | {} |", channel_cells(v.channels));
    }
    head.push('\n');
    head
}

/// One cell per release channel: its latest version, or what is wrong with it.
fn channel_cells(channels: &[crate::report::ChannelReport]) -> String {
    let cells: Vec<String> = channels
        .iter()
        .map(|c| match (&c.error, c.discrepancies.is_empty()) {
            (Some(_), _) => format!("{} ⚠ lookup failed", c.name),
            (None, true) => format!(
                "{} {} ✔",
                c.name,
                md_escape(c.latest.as_deref().unwrap_or("-"))
            ),
            (None, false) => format!(
                "{} ⚠ {} discrepanc{}",
                c.name,
                c.discrepancies.len(),
                if c.discrepancies.len() == 1 {
                    "y"
                } else {
                    "ies"
                }
            ),
        })
        .collect();
    cells.join(" · ")
}

/// The body's sections, most important first (the license, channel problems, signals,
/// commits, release notes, largest changes).
fn pr_sections(v: &RebuildView<'_>, compare: Option<&str>) -> Vec<Section> {
    let mut sections = Vec::new();
    if let Some(l) = v.license {
        let title = match l.verdict {
            Verdict::Unchanged => "License: unchanged",
            Verdict::Cosmetic => "License: cosmetic change only",
            Verdict::ReviewRequired if v.held => "License: review required",
            Verdict::ReviewRequired => "License: changed (approved)",
        };
        let text = if l.verdict == Verdict::ReviewRequired && l.analysis.is_some() {
            license::pr_section(l, v.server)
        } else {
            license_section(l, v.held)
        };
        sections.push(Section {
            title: title.into(),
            text,
        });
    }
    let problems: Vec<String> = v
        .channels
        .iter()
        .flat_map(|c| {
            c.error
                .iter()
                .map(move |e| format!("- {}: lookup failed: {}", c.name, md_escape(e)))
                .chain(
                    c.discrepancies
                        .iter()
                        .map(|d| format!("- {}: {}", d.channel, md_escape(&d.detail))),
                )
        })
        .collect();
    if !problems.is_empty() {
        sections.push(Section {
            title: "Release channels disagree".into(),
            text: problems.join("\n") + "\n",
        });
    }
    match v.diff {
        Some(d) => sections.extend(diff_sections(v, d, compare)),
        None => sections.push(Section {
            title: "Commits".into(),
            text: "The pinned commit is not in the upstream history, so no commit range can be shown.\n".into(),
        }),
    }
    sections
}

/// The sections drawn from the release diff.
fn diff_sections(v: &RebuildView<'_>, d: &ReleaseDiff, compare: Option<&str>) -> Vec<Section> {
    let mut sections = Vec::new();
    if !d.signals.is_empty() {
        sections.push(Section {
            title: format!(
                "Supply-chain signals ({})",
                d.signals.len() + d.signals_truncated
            ),
            text: signals_section(d),
        });
    }
    let shown = d.commits.list.len();
    sections.push(Section {
        title: if d.commits.truncated > 0 {
            format!("Commits ({}; showing {shown})", d.commits.count)
        } else {
            format!("Commits ({})", d.commits.count)
        },
        text: commits_section(d, compare),
    });
    if let Some(notes) = v.release_notes {
        sections.push(Section {
            title: format!("Release notes ({})", md_escape(&v.new.tag)),
            text: quote(notes),
        });
    } else if let Some(notes) = &d.release_notes {
        sections.push(Section {
            title: format!(
                "Release notes ({}: {})",
                md_escape(&notes.path),
                md_escape(&notes.heading)
            ),
            text: format!(
                "{}{}\n",
                quote(&notes.text),
                if notes.truncated { "\n> …" } else { "" }
            ),
        });
    }
    if !d.files.largest.is_empty() || !d.files.binary_or_large.is_empty() {
        sections.push(Section {
            title: "Largest changes".into(),
            text: files_section(d),
        });
    }
    sections
}

/// Assemble the body, cutting the least important sections (from the end) until it fits, and
/// saying what was cut. Limits are in characters (Azure DevOps and GitHub count characters, not
/// bytes).
fn fit_body(
    head: String,
    sections: Vec<Section>,
    checklist: &str,
    footer: &str,
    limit: usize,
) -> String {
    let chars = |s: &str| s.chars().count();
    let fixed = chars(&head) + chars(checklist) + chars(footer) + 300;
    let mut body = head;
    let mut cut = Vec::new();
    let mut budget = limit.saturating_sub(fixed);
    for s in sections {
        let block = format!("### {}\n{}\n", s.title, s.text);
        let n = chars(&block);
        if n <= budget {
            budget -= n;
            body.push_str(&block);
        } else if budget > 400 {
            let keep: String = block.chars().take(budget - 100).collect();
            let keep = keep.rfind('\n').map_or(keep.as_str(), |i| &keep[..i]);
            body.push_str(keep);
            // Close a code fence the cut may have left open.
            if keep.matches("```").count() % 2 == 1 {
                body.push_str("\n```");
            }
            body.push_str("\n…\n\n");
            budget = 0;
            cut.push(format!("{} (shortened)", s.title));
        } else {
            cut.push(s.title.clone());
        }
    }
    body.push_str("### Sponsoring checklist\n");
    body.push_str(checklist);
    if !cut.is_empty() {
        let _ = writeln!(
            body,
            "\n_Cut to fit this forge's size limit: {}. `upkeep sync --now --json` shows everything._",
            cut.join(", ")
        );
    }
    body.push_str(footer);
    body
}

fn quote(text: &str) -> String {
    text.lines()
        .map(|l| format!("> {}\n", md_escape(l)))
        .collect()
}

fn license_section(l: &LicenseJudgement, held: bool) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "**{}**: {}{}\n",
        l.verdict.code(),
        md_escape(&l.reason),
        if held {
            ""
        } else if l.verdict == Verdict::ReviewRequired {
            " (approved)"
        } else {
            ""
        }
    );
    for line in &l.summary {
        let _ = writeln!(t, "- {}", md_escape(line));
    }
    for f in &l.files {
        if let Some(d) = &f.unified_diff {
            let _ = writeln!(
                t,
                "\n`{}`:\n```diff\n{}```",
                md_escape(&f.path),
                d.replace("```", "'''")
            );
        }
    }
    t
}

/// Subject and bodies (text, HTML) of an email.
pub struct EmailText {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Make untrusted text safe inside HTML.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html_from_text(text: &str) -> String {
    format!(
        "<html><body><pre style=\"font-family:monospace\">{}</pre></body></html>",
        html_escape(text)
    )
}

/// The email that asks owners for a CELA review of a license change: plain text, and HTML with
/// the non-standard words highlighted (without its attachments; see
/// [`license_email_with_attachments`]).
pub fn license_email(v: &RebuildView<'_>, pr_url: Option<&str>, sla_days: u64) -> EmailText {
    license_email_with_attachments(v, pr_url, sla_days).0
}

/// The license review email and its attachments (the comparison with the standard text or the
/// diff, the new and the old license files), within [`license::EMAIL_LIMIT_BYTES`] in total:
/// what does not fit is named in the email, which points to `upkeep license show`.
pub fn license_email_with_attachments(
    v: &RebuildView<'_>,
    pr_url: Option<&str>,
    sla_days: u64,
) -> (EmailText, Vec<Attachment>) {
    let mut subject = format!(
        "[upkeep] {} {} -> {}: license change needs CELA review",
        v.server,
        v.old_label(),
        v.new.version
    );
    // The subject's tail is the change as expressions, so an inbox list says what happened.
    if let Some(a) = v.license.and_then(|l| l.analysis.as_ref()) {
        let expr = |e: Option<&String>| e.map_or("no license", String::as_str).to_owned();
        let new = expr(a.new.expression.as_ref());
        if a.expression_changed {
            let _ = write!(subject, ": {} -> {new}", expr(a.old.expression.as_ref()));
        } else {
            let _ = write!(subject, ": {new}, text changed");
        }
    }
    let intro = format!(
        "The upstream of {}, a sponsored server you own, released {} with a changed license.\n\
         upkeep has held the rebuild until the change is reviewed.",
        v.server, v.new.version
    );
    let steps = [
        "Send this email and its attachments to CELA for review.".to_string(),
        format!(
            "If approved:  upkeep license approve {} --by \"<your name>\" --note \"<CELA ticket>\"\n     The rebuild PR then becomes ready for review.",
            v.server
        ),
        format!(
            "If not approved: close the rebuild PR; upkeep will not propose {} again.",
            v.new.version
        ),
    ];
    let pins = format!(
        "Pinned: {} ({})   Proposed: {} ({})",
        short_ref(&v.old.git_ref),
        v.old.commit.as_deref().map_or("unknown", short),
        v.new.tag,
        short(&v.new.commit)
    );
    let footer = format!(
        "You get this email once for this license text. If it is not reviewed within {sla_days} days, upkeep reminds you."
    );
    let summary = v.license.map(license::email_summary);
    let mut t = String::new();
    let mut h = String::from("<html><body style=\"font-family:sans-serif\">");
    // The first line is the change itself; the commercial option and its contact follow.
    if let Some(l) = v.license {
        let top: Vec<String> = std::iter::once(license::headline(l))
            .chain(license::commercial_line(l))
            .collect();
        let _ = writeln!(t, "{}\n", top.join("\n"));
        let _ = write!(
            h,
            "<p style=\"font-size:1.1em\"><b>{}</b></p>",
            top.iter()
                .map(|s| html_escape(s))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    let _ = writeln!(t, "{intro}");
    let _ = write!(h, "<p>{}</p>", html_escape(&intro).replace('\n', "<br>"));
    if let Some(summary) = &summary {
        t.push_str(&summary.text);
        h.push_str(&summary.html);
    }
    t.push_str("\nWhat to do\n");
    h.push_str("<h3>What to do</h3><ol>");
    for (i, step) in steps.iter().enumerate() {
        let _ = writeln!(t, "  {}. {step}", i + 1);
        let _ = write!(h, "<li>{}</li>", html_escape(step).replace('\n', "<br>"));
    }
    h.push_str("</ol>");
    t.push('\n');
    if let Some(url) = pr_url {
        let _ = writeln!(t, "Rebuild PR (draft): {url}");
        let _ = write!(
            h,
            "<p>Rebuild PR (draft): <a href=\"{0}\">{0}</a></p>",
            html_escape(url)
        );
    }
    let tail = format!("{pins}\n\n{footer}");
    let budget = license::attachment_budget(&t, &h) - 2 * tail.len();
    let (attachments, left_out) = match v.license {
        Some(l) => {
            license::attachments(l, v.license_texts, (&v.old_label(), &v.new.version), budget)
        }
        None => (Vec::new(), Vec::new()),
    };
    let mut files = String::new();
    if !attachments.is_empty() {
        let names: Vec<&str> = attachments.iter().map(|a| a.filename.as_str()).collect();
        let _ = writeln!(files, "Attached: {}.", names.join(", "));
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            files,
            "Not attached (the email would pass {} KB): {}; `upkeep license show {}` prints everything.",
            license::EMAIL_LIMIT_BYTES / 1024,
            left_out.join(", "),
            v.server
        );
    }
    let _ = writeln!(t, "{files}{tail}");
    let _ = write!(
        h,
        "<p>{}</p><p><code>{}</code></p><p style=\"color:#666\">{}</p></body></html>",
        html_escape(&files).replace('\n', "<br>"),
        html_escape(&pins),
        html_escape(&footer)
    );
    (
        EmailText {
            subject,
            text: t,
            html: h,
        },
        attachments,
    )
}

/// The alarm sent when release tags moved upstream.
pub fn moved_tag_email(server: &str, upstream: &str, moved: &[MovedTag]) -> EmailText {
    let subject = format!("[upkeep] {server}: release tag moved upstream; rebuild held");
    let mut t = format!(
        "A release tag of {server} ({upstream}) now points at a different commit than when upkeep first saw it.\n\
         A moved or re-created tag can mean a compromised release or rewritten history, so upkeep holds\n\
         every rebuild of {server} until someone checks it.\n\n"
    );
    for m in moved {
        let _ = writeln!(
            t,
            "  {}: {} (first seen {}) -> {}",
            m.tag, m.old_commit, m.first_seen, m.new_commit
        );
    }
    t.push_str("\nWhat to do\n  1. Compare the commits upstream and ask the maintainers why the tag moved.\n");
    if let Some(m) = moved.first() {
        let _ = writeln!(
            t,
            "  2. If the new commit is legitimate:  upkeep tag accept {server} {} --by \"<your name>\"\n     upkeep then proposes releases of {server} again.",
            m.tag
        );
    }
    t.push_str("  3. If it is not: keep the hold and tell the sponsoring team; the pinned rebuild stays as it is.\n");
    EmailText {
        html: html_from_text(&t),
        subject,
        text: t,
    }
}

/// The alert sent when a server has failed several runs in a row.
pub fn failing_email(server: &str, runs: i64, error: &str) -> EmailText {
    let subject = format!("[upkeep] {server}: sync failing for {runs} runs in a row");
    let t = format!(
        "upkeep could not sync {server} in its last {runs} runs, so new upstream releases are not being proposed.\n\n\
         Last error:\n  {error}\n\nRun `upkeep sync --now --server {server}` to see the problem.\n"
    );
    EmailText {
        html: html_from_text(&t),
        subject,
        text: t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_from_upstream_is_neutralised() {
        assert_eq!(
            md_escape("fix | @team <script>\nx"),
            "fix \\| \\@team \\<script\\> x"
        );
    }

    #[test]
    fn body_stays_within_the_limit_and_says_what_was_cut() {
        let old = Pinned {
            git_ref: "refs/tags/v1.0.0".into(),
            commit: Some("a".repeat(40)),
        };
        let new = Latest {
            version: "1.1.0".into(),
            tag: "v1.1.0".into(),
            commit: "b".repeat(40),
            date: None,
        };
        let mut diff: ReleaseDiff = serde_json::from_value(serde_json::json!({
            "old": "a", "new": "b",
            "commits": {"count": 5000, "old_is_ancestor": true, "reachable_from_default": null, "authors": [],
                        "first_date": null, "last_date": null, "list": [], "truncated": 3000},
            "files": {"changed": 1, "insertions": 1, "deletions": 1, "largest": [], "binary_or_large": [],
                      "binary_or_large_count": 0, "renames": [], "renames_count": 0, "renames_exact_only": false},
            "signals": [], "release_notes": null
        }))
        .unwrap();
        for i in 0..2000 {
            diff.commits
                .list
                .push(crate::upstream::diff::CommitSummary {
                    short_id: format!("{i:07}"),
                    id: String::new(),
                    subject: "x".repeat(80),
                    author: "a".into(),
                    date: String::new(),
                    is_merge: false,
                });
        }
        let v = RebuildView {
            server: "s",
            upstream: "https://github.com/o/r.git",
            old: &old,
            old_version: Some("1.0.0"),
            new: &new,
            license: None,
            license_texts: (None, None),
            approval: None,
            held: false,
            diff: Some(&diff),
            release_notes: None,
            channels: &[],
            run_id: 1,
        };
        for limit in [4_000, 65_536] {
            let body = pr_body(&v, limit);
            assert!(
                body.chars().count() <= limit,
                "{} > {limit}",
                body.chars().count()
            );
            assert!(body.contains("Cut to fit"));
            assert!(body.contains("Sponsoring checklist"));
        }
        assert_eq!(
            compare_url(v.upstream, "refs/tags/v1.0.0", "v1.1.0").unwrap(),
            "https://github.com/o/r/compare/v1.0.0...v1.1.0"
        );
    }
}
