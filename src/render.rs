//! The texts people read: rebuild PR titles and bodies, and owner emails. Pure functions of
//! the run's findings; no I/O. Bodies are size-aware: the least important sections are cut
//! first and the cut is said in the body.

use std::fmt::Write as _;

use crate::license::{LicenseJudgement, Verdict};
use crate::report::{Latest, Pinned};
use crate::store::{Approval, MovedTag};
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
    pub approval: Option<&'a Approval>,
    pub held: bool,
    pub diff: Option<&'a ReleaseDiff>,
    pub run_at: &'a str,
    pub run_id: i64,
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
struct Section {
    title: &'static str,
    text: String,
}

/// The PR body, within `limit` characters.
pub fn pr_body(v: &RebuildView<'_>, limit: usize) -> String {
    let mut head = String::new();
    if v.held {
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
            md_escape(&a.approved_by),
            a.approved_at.get(..10).unwrap_or(&a.approved_at),
            a.note
                .as_deref()
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
        let _ = writeln!(head, "| commits | | {} |", d.commit_count);
    }
    head.push('\n');

    let mut sections = Vec::new();
    if let Some(l) = v.license {
        sections.push(Section {
            title: "License",
            text: license_section(l, v.held),
        });
    }
    if let Some(d) = v.diff {
        let mut t = String::new();
        for c in &d.commits {
            let _ = writeln!(t, "- `{}` {}", c.short_id, md_escape(&c.subject));
        }
        if d.commit_count > d.commits.len() {
            let _ = writeln!(t, "- … {} more", d.commit_count - d.commits.len());
        }
        sections.push(Section {
            title: "Commits",
            text: t,
        });
    }
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
        "\n<sub>Opened by upkeep for `{}` · updated in place when a newer release appears · \
         approve license changes with `upkeep license approve`</sub>\n",
        v.server
    );

    // Assemble, cutting the least important sections (from the end) until it fits.
    let fixed = head.len() + checklist.len() + footer.len() + 200;
    let mut body = head;
    let mut cut = Vec::new();
    let mut budget = limit.saturating_sub(fixed);
    for s in sections {
        let block = format!("### {}\n{}\n", s.title, s.text);
        if block.len() <= budget {
            budget -= block.len();
            body.push_str(&block);
        } else if budget > 400 {
            let keep = floor_char_boundary(&block, budget - 100);
            body.push_str(&block[..keep]);
            body.push_str("\n…\n");
            budget = 0;
            cut.push(format!("{} (shortened)", s.title));
        } else {
            cut.push(s.title.to_string());
        }
    }
    body.push_str("### Sponsoring checklist\n");
    body.push_str(&checklist);
    if !cut.is_empty() {
        let _ = writeln!(
            body,
            "\n_Cut to fit this forge's size limit: {}. The run report has everything._",
            cut.join(", ")
        );
    }
    body.push_str(&footer);
    body
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
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

/// The email that asks owners for a CELA review of a license change.
pub fn license_email(v: &RebuildView<'_>, pr_url: Option<&str>, sla_days: u64) -> EmailText {
    let subject = format!(
        "[upkeep] {} {} -> {}: license change needs CELA review",
        v.server,
        v.old_label(),
        v.new.version
    );
    let mut t = String::new();
    let _ = writeln!(
        t,
        "The upstream of {}, a sponsored server you own, released {} with a changed license.\nupkeep has held the rebuild until the change is reviewed.\n",
        v.server, v.new.version
    );
    t.push_str("What changed\n");
    if let Some(l) = v.license {
        for line in &l.summary {
            let _ = writeln!(t, "  {line}");
        }
        for f in &l.files {
            if let Some(d) = &f.unified_diff {
                let _ = writeln!(t, "\n  {}:", f.path);
                for line in d.lines() {
                    let _ = writeln!(t, "  {line}");
                }
            }
        }
    }
    let _ = writeln!(
        t,
        "\nWhat to do\n  1. Send the diff above to CELA for review.\n  2. If approved:  upkeep license approve {} --by \"<your name>\" --note \"<CELA ticket>\"\n     The rebuild PR then becomes ready for review.\n  3. If not approved: close the rebuild PR; upkeep will not propose {} again.\n",
        v.server, v.new.version
    );
    if let Some(url) = pr_url {
        let _ = writeln!(t, "Rebuild PR (draft): {url}");
    }
    let _ = writeln!(
        t,
        "Pinned: {} ({})   Proposed: {} ({})\n\nYou get this email once for this license text. If it is not reviewed within {} days, upkeep reminds you.",
        short_ref(&v.old.git_ref),
        v.old.commit.as_deref().map_or("unknown", short),
        v.new.tag,
        short(&v.new.commit),
        sla_days
    );
    EmailText {
        html: html_from_text(&t),
        subject,
        text: t,
    }
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
    t.push_str("\nCompare the commits upstream and ask the maintainers why the tag moved.\n");
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
        let diff = ReleaseDiff {
            commit_count: 5000,
            commits: (0..2000)
                .map(|i| crate::upstream::diff::CommitSummary {
                    short_id: format!("{i:07}"),
                    subject: "x".repeat(80),
                })
                .collect(),
        };
        let v = RebuildView {
            server: "s",
            upstream: "u",
            old: &old,
            old_version: Some("1.0.0"),
            new: &new,
            license: None,
            approval: None,
            held: false,
            diff: Some(&diff),
            run_at: "now",
            run_id: 1,
        };
        let body = pr_body(&v, 4000);
        assert!(body.len() <= 4000, "{}", body.len());
        assert!(body.contains("Cut to fit"));
        assert!(body.contains("Sponsoring checklist"));
    }
}
