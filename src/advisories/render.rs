//! The texts people read about advisories (pure): the PR body's advisory section and table, the
//! `[security]` title prefix, and the owners' emails for "pinned release affected, fix
//! available", "affected, no fixed release upstream yet" and "the proposed release is itself
//! affected".
//!
//! Advisory text comes from outside (anyone can file an advisory against a package): summaries
//! are reduced to one plain line, escaped for Markdown in PR bodies and for HTML in emails, and
//! links are built only from ids that passed the id check.

use std::fmt::Write as _;

use super::assess::{Advisory, AdvisoryReport, plain_line};
use crate::render::{EmailText, html_escape, md_escape};

/// The title prefix of a security rebuild PR.
pub const SECURITY_PREFIX: &str = "[security] ";
/// The label of a security rebuild PR.
pub const SECURITY_LABEL: &str = "security";
/// Where people read an advisory.
pub const ADVISORY_PAGE: &str = "https://osv.dev/vulnerability/";
/// Rows per table before the rest is counted, not listed (PR bodies have a size limit).
pub const MAX_TABLE_ROWS: usize = 25;

/// The PR title with `[security]` in front when the proposed release fixes an advisory of the
/// pinned one, and without it otherwise (an advisory withdrawn since the last update).
pub fn pr_title(title: &str, report: &AdvisoryReport) -> String {
    let bare = title.strip_prefix(SECURITY_PREFIX).unwrap_or(title);
    if report.is_security_fix() {
        format!("{SECURITY_PREFIX}{bare}")
    } else {
        bare.to_string()
    }
}

/// True when the advisory section should lead the PR body (a fix, or an affected proposal).
pub fn leads_pr_body(report: &AdvisoryReport) -> bool {
    report.is_security_fix() || !report.proposed.is_empty()
}

/// The link to an advisory's page, only for ids in the id alphabet.
pub fn advisory_url(id: &str) -> Option<String> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| format!("{ADVISORY_PAGE}{id}"))
}

/// `high (CVSS 8.1)`, `medium`, `unknown`.
pub fn severity_text(a: &Advisory) -> String {
    match a.score {
        Some(score) => format!("{} (CVSS {score:.1})", a.severity),
        None => a.severity.to_string(),
    }
}

/// What the advisory names as the fix: `1.5.1`, `after 2.1.214`, or `no fix named`.
pub fn fixed_in_text(a: &Advisory) -> String {
    if !a.fixed_in.is_empty() {
        return a.fixed_in.join(", ");
    }
    if !a.last_affected.is_empty() {
        return format!("after {}", a.last_affected.join(", "));
    }
    "no fix named".to_string()
}

/// The advisory table: id (linked), aliases, severity, summary, fixed in.
pub fn advisory_table(advisories: &[Advisory]) -> String {
    let mut t = String::from(
        "| advisory | aliases | severity | summary | fixed in |\n|---|---|---|---|---|\n",
    );
    for a in advisories.iter().take(MAX_TABLE_ROWS) {
        let id = match advisory_url(&a.id) {
            Some(url) => format!("[{}]({url})", md_escape(&a.id)),
            None => md_escape(&a.id),
        };
        let aliases: Vec<String> = a
            .aliases
            .iter()
            .take(4)
            .map(|x| md_escape(&plain_line(x, 40)))
            .collect();
        let summary = match (&a.summary[..], &a.details_error) {
            ("", Some(_)) => "*(details unavailable)*".to_string(),
            (s, _) => md_escape(s),
        };
        let _ = writeln!(
            t,
            "| {id} | {} | {} | {summary} | {} |",
            if aliases.is_empty() {
                "–".to_string()
            } else {
                aliases.join(", ")
            },
            md_escape(&severity_text(a)),
            md_escape(&fixed_in_text(a)),
        );
    }
    if advisories.len() > MAX_TABLE_ROWS {
        let _ = writeln!(t, "\n… and {} more.", advisories.len() - MAX_TABLE_ROWS);
    }
    t
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The PR body's advisory section (Markdown). It says what the check found in every case,
/// including "none" and "the check failed" (never silence that could read as "none").
pub fn pr_section(report: &AdvisoryReport) -> String {
    let pinned = report
        .pinned_version
        .as_deref()
        .map(md_escape)
        .unwrap_or_else(|| "the pinned release".into());
    let proposed = report.proposed_version.as_deref().map(md_escape);
    let mut s = String::from("### Security advisories\n\n");
    if let Some(error) = &report.error {
        match error.age_seconds {
            Some(age) => {
                let _ = writeln!(
                    s,
                    "> ❔ **The advisory check failed** ({}); what follows is the answer from {} ago.\n",
                    md_escape(&error.message),
                    age_text(age)
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "> ❔ **Advisories unknown:** the advisory check failed ({}) and there is no earlier answer.\n",
                    md_escape(&error.message)
                );
                return s;
            }
        }
    }
    let fixed: Vec<Advisory> = report.fixed().cloned().collect();
    if !fixed.is_empty() {
        let _ = writeln!(
            s,
            "> 🔒 **Security fix.** {} fixes {} published against the pinned {pinned}.\n",
            proposed.as_deref().unwrap_or("This release"),
            plural(fixed.len(), "advisory", "advisories")
        );
        s.push_str(&advisory_table(&fixed));
        s.push('\n');
    }
    if !report.proposed.is_empty() {
        let n = report.proposed.len();
        let also = report
            .proposed
            .iter()
            .filter(|p| report.pinned.iter().any(|a| a.id == p.id))
            .count();
        let origin = match (also, n - also) {
            (_, 0) => format!(
                "{} the pinned {pinned} too",
                if n == 1 { "It affects" } else { "They affect" }
            ),
            (0, _) => format!(
                "{} new since {pinned}",
                if n == 1 { "It is" } else { "All are" }
            ),
            (old, new) => format!(
                "{old} also affect{} the pinned {pinned}; {new} {} new",
                if old == 1 { "s" } else { "" },
                if new == 1 { "is" } else { "are" }
            ),
        };
        let _ = writeln!(
            s,
            "> ⚠️ **The proposed release {} is itself affected** by {}. {origin}.\n",
            proposed.as_deref().unwrap_or(""),
            plural(n, "published advisory", "published advisories"),
        );
        s.push_str(&advisory_table(&report.proposed));
        s.push('\n');
    }
    let unproposed: Vec<Advisory> = report
        .pinned
        .iter()
        .filter(|a| {
            !report.fixed_by_proposed.contains(&a.id)
                && !report.proposed.iter().any(|p| p.id == a.id)
        })
        .cloned()
        .collect();
    if !unproposed.is_empty() {
        let _ = writeln!(s, "Affecting the pinned {pinned}:\n");
        s.push_str(&advisory_table(&unproposed));
        s.push('\n');
    }
    if report.pinned.is_empty() && report.proposed.is_empty() {
        let versions = match &proposed {
            Some(p) => format!("{pinned} or {p}"),
            None => pinned,
        };
        let _ = writeln!(
            s,
            "No published advisories affect {versions} (checked {}).",
            report.checked_at.format("%Y-%m-%d %H:%MZ")
        );
    }
    s
}

/// `3 h`, `2 days`, `5 min`.
fn age_text(seconds: i64) -> String {
    match seconds {
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// Who and what an advisory email is about.
#[derive(Debug, Clone, Copy)]
pub struct NoticeView<'a> {
    pub server: &'a str,
    pub upstream: &'a str,
    /// The pinned release's version.
    pub pinned: &'a str,
    pub proposed: Option<&'a str>,
    /// The rebuild PR, when there is one.
    pub pr_url: Option<&'a str>,
}

/// The advisory's aliases as one short line (`CVE-2026-1, GHSA-…`), at most `n` of them.
fn aliases_line(a: &Advisory, n: usize) -> String {
    a.aliases
        .iter()
        .take(n)
        .map(|x| plain_line(x, 40))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The advisory block of an email.
fn advisory_block(a: &Advisory, version: &str) -> String {
    let mut t = String::new();
    let aliases = aliases_line(a, 6);
    let _ = writeln!(
        t,
        "  {}{}",
        plain_line(&a.id, 100),
        if aliases.is_empty() {
            String::new()
        } else {
            format!(" ({aliases})")
        }
    );
    let _ = writeln!(t, "  Severity: {}", severity_text(a));
    if let Some(vector) = &a.cvss {
        let _ = writeln!(t, "  CVSS vector: {}", plain_line(vector, 200));
    }
    if !a.summary.is_empty() {
        let _ = writeln!(t, "  Summary: {}", a.summary);
    }
    if let Some(error) = &a.details_error {
        let _ = writeln!(
            t,
            "  (details could not be read from the advisory service: {error})"
        );
    }
    for p in &a.packages {
        let _ = writeln!(
            t,
            "  Affected package: {} {} {version}",
            p.ecosystem,
            plain_line(&p.name, 200)
        );
    }
    let _ = writeln!(t, "  Fixed in (per the advisory): {}", fixed_in_text(a));
    if let Some(url) = advisory_url(&a.id) {
        let _ = writeln!(t, "  Details: {url}");
    }
    t
}

fn email(subject: String, text: String) -> EmailText {
    EmailText {
        html: format!(
            "<html><body><pre style=\"font-family:monospace;white-space:pre-wrap\">{}</pre></body></html>",
            html_escape(&text)
        ),
        subject: plain_line(&subject, 200),
        text,
    }
}

/// "The pinned release is affected and upstream has a release that fixes it."
pub fn fix_available_email(v: &NoticeView<'_>, a: &Advisory, fix_release: &str) -> EmailText {
    let subject = format!(
        "[upkeep] {} {}: security advisory {} ({}), fixed in {}",
        v.server, v.pinned, a.id, a.severity, fix_release
    );
    let mut t = format!(
        "A published security advisory affects the release of {} that is pinned and rebuilt internally ({}).\n\
         Upstream ({}) has released {}, which fixes it.\n\nAdvisory\n",
        v.server, v.pinned, v.upstream, fix_release
    );
    t.push_str(&advisory_block(a, v.pinned));
    t.push_str("\nWhat to do\n");
    match v.pr_url {
        Some(url) => {
            let _ = writeln!(
                t,
                "  1. Review and merge the rebuild PR to {fix_release}; upkeep skipped the release cooldown for it.\n     {url}"
            );
        }
        None => {
            let _ = writeln!(
                t,
                "  1. upkeep proposes {fix_release} as a rebuild PR on its next run, without waiting for the cooldown."
            );
        }
    }
    t.push_str(
        "  2. Until the rebuild ships, check whether the internal deployment is exposed (see the advisory).\n",
    );
    let _ = writeln!(
        t,
        "\nYou get this email once for this advisory against {}.",
        v.server
    );
    email(subject, t)
}

/// "The pinned release is affected and no release fixes it yet."
pub fn no_fix_email(v: &NoticeView<'_>, a: &Advisory) -> EmailText {
    let subject = format!(
        "[upkeep] {} {}: security advisory {} ({}), no fixed release upstream yet",
        v.server, v.pinned, a.id, a.severity
    );
    let named = if a.fixed_in.is_empty() {
        "the advisory names no fixed version".to_string()
    } else {
        format!(
            "the advisory names {} as fixed, but upstream has published no release with the fix that upkeep may propose",
            a.fixed_in.join(", ")
        )
    };
    let mut t = format!(
        "A published security advisory affects the release of {} that is pinned and rebuilt internally ({}).\n\
         There is no fixed release upstream yet: {named}.\n\nAdvisory\n",
        v.server, v.pinned
    );
    t.push_str(&advisory_block(a, v.pinned));
    let _ = write!(
        t,
        "\nWhat to do\n\
         \x20 1. Read the advisory and decide whether the internal deployment is exposed; mitigate or take it\n\
         \x20    out of service if it is.\n\
         \x20 2. Ask upstream ({}) about a fix if none is in sight.\n\n\
         upkeep tells you again when a release fixes it, and proposes that release as a rebuild PR.\n",
        v.upstream
    );
    email(subject, t)
}

/// "The proposed release is itself affected."
pub fn proposed_affected_email(v: &NoticeView<'_>, advisories: &[Advisory]) -> EmailText {
    let proposed = v.proposed.unwrap_or("the proposed release");
    let subject = format!(
        "[upkeep] {} {}: the proposed release is itself affected by {}",
        v.server,
        proposed,
        plural(advisories.len(), "security advisory", "security advisories")
    );
    let mut t = format!(
        "upkeep proposes {} {} as a rebuild, and that release is itself affected by {}.\n\
         Merging it does not remove {}.\n",
        v.server,
        proposed,
        plural(
            advisories.len(),
            "published advisory",
            "published advisories"
        ),
        if advisories.len() == 1 { "it" } else { "them" }
    );
    for a in advisories.iter().take(MAX_TABLE_ROWS) {
        t.push('\n');
        t.push_str(&advisory_block(a, proposed));
    }
    if advisories.len() > MAX_TABLE_ROWS {
        let _ = writeln!(t, "\n  … and {} more.", advisories.len() - MAX_TABLE_ROWS);
    }
    if let Some(url) = v.pr_url {
        let _ = writeln!(t, "\nRebuild PR: {url}");
    }
    let _ = writeln!(
        t,
        "\nPinned: {}   Proposed: {proposed}   Upstream: {}",
        v.pinned, v.upstream
    );
    email(subject, t)
}

pub mod card;

#[cfg(test)]
mod tests;
