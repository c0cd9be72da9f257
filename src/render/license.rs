//! The license change as the reviewer reads it (pure): the held PR's banner and license section,
//! the license email's summary and attachments, and `upkeep license show`.
//!
//! Owns the order a lawyer reads in: what it was → what it is now (as SPDX expressions, with
//! "dual" / "commercial option" and whom to contact when the text says so), the family and the
//! obligation that bites, how far the new text departs from the standard text it claims to be
//! (only the non-standard words), the declarations that changed, parameters and notes, and how
//! to decide. A line diff of two different licenses is never shown inline: a file whose license
//! changed is shown against its canonical text; its full texts go to attachments, a collapsed
//! section or `license show`. Built from [`LicenseJudgement::analysis`]; judgements stored
//! before it existed fall back to the summary lines and diffs.

use std::fmt::Write as _;

use crate::license::{
    CanonicalDiff, Change, EntryKind, FileJudgement, LicenseAnalysis, LicenseJudgement,
    LicenseSnapshot, PackageRow, Position, RiderKind, Scope, WordChange, WordTag,
};
use crate::report::Attachment;

use super::{html_escape, md_escape, thousands};

/// Characters of non-standard words a PR body shows; the rest is in the email and `license show`.
pub const PR_NONSTANDARD_CHARS: usize = 1_200;
/// Finding lines a PR body lists; the rest is in the email and `license show`.
const PR_FINDINGS: usize = 8;
/// Characters of license text (non-standard words, diffs) the email's body shows; the rest is
/// in its attachments and `license show`.
const EMAIL_LICENSE_TEXT_CHARS: usize = 16_000;
/// The license email, attachments and MIME framing included, stays under this many bytes.
pub const EMAIL_LIMIT_BYTES: usize = 100 * 1024;
/// Kept free for headers, MIME boundaries and the attachment list.
const EMAIL_FRAMING_BYTES: usize = 6 * 1024;

/// `Apache-2.0` → `AGPL-3.0-or-later OR ...`: ..., as plain text (no code marks).
#[must_use]
pub fn headline(l: &LicenseJudgement) -> String {
    l.analysis
        .as_ref()
        .map_or_else(|| l.reason.clone(), |a| a.headline.replace('`', ""))
}

/// The headline in Markdown: the code spans it marks stay code, the rest is escaped.
fn headline_md(l: &LicenseJudgement) -> String {
    match &l.analysis {
        Some(a) => a
            .headline
            .split('`')
            .enumerate()
            .map(|(i, part)| {
                if i % 2 == 1 {
                    format!("`{part}`")
                } else {
                    md_escape(part)
                }
            })
            .collect(),
        None => md_escape(&l.reason),
    }
}

/// Words of the new texts that are not the standard license text (preambles, riders), or that
/// a file with the same license gained.
fn nonstandard_words(l: &LicenseJudgement) -> String {
    let mut out = String::new();
    for f in changed_files(l) {
        match &f.canonical {
            Some(c) => {
                for r in &c.runs {
                    out.push_str(&r.added);
                    out.push(' ');
                }
            }
            None => {
                for w in f.word_diff.iter().filter(|w| w.tag == WordTag::Insert) {
                    out.push_str(&w.text);
                }
                out.push(' ');
            }
        }
    }
    out
}

/// Email addresses and web addresses the non-standard words name (whom to contact).
#[must_use]
pub fn contacts(l: &LicenseJudgement) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for word in nonstandard_words(l).split_whitespace() {
        let w = word.trim_matches(|c: char| {
            matches!(
                c,
                '.' | ',' | ';' | ':' | '(' | ')' | '<' | '>' | '"' | '\'' | '[' | ']'
            )
        });
        let w = w.strip_prefix("mailto:").unwrap_or(w);
        let email = w
            .split_once('@')
            .is_some_and(|(a, d)| !a.is_empty() && d.contains('.') && !d.starts_with('.'));
        let web = w.starts_with("https://") || w.starts_with("http://");
        if (email || web) && !found.iter().any(|f| f == w) {
            found.push(w.to_owned());
        }
    }
    found.truncate(3);
    found
}

/// True when the new license offers a commercial alternative.
#[must_use]
pub fn commercial_option(l: &LicenseJudgement) -> bool {
    l.analysis.as_ref().is_some_and(|a| {
        a.new
            .riders
            .iter()
            .any(|r| r.kind == RiderKind::CommercialAlternative)
            || a.new
                .expression
                .as_deref()
                .is_some_and(|e| e.contains("-Commercial"))
    })
}

/// "Commercial option: the license text says to contact licensing@comfy.org." (plain text).
#[must_use]
pub fn commercial_line(l: &LicenseJudgement) -> Option<String> {
    if !commercial_option(l) {
        return None;
    }
    let contacts = contacts(l);
    Some(if contacts.is_empty() {
        "Commercial option: a commercial license is offered; the text names no contact (see the non-standard text).".to_owned()
    } else {
        format!(
            "Commercial option: a commercial license is offered; the license text says to contact {}.",
            contacts.join(" or ")
        )
    })
}

/// The license files and manifest fields that changed, in path order.
fn changed_files(l: &LicenseJudgement) -> impl Iterator<Item = &FileJudgement> {
    l.files.iter().filter(|f| f.change != Change::Unchanged)
}

/// Longest diff of an added file shown inline (it is the whole file).
const ADDED_INLINE_LINES: usize = 60;

/// True when a changed file's diff against the old file is worth reading inline: no canonical
/// comparison replaces it, and it sets a license against itself (same label), or it is a short
/// new file. Two texts that are not the same license do not diff usefully.
fn diff_inline(f: &FileJudgement) -> bool {
    let Some(d) = &f.unified_diff else {
        return false;
    };
    f.canonical.is_none()
        && match f.change {
            Change::Added => d.lines().count() <= ADDED_INLINE_LINES,
            _ => f.old_label.is_some() && f.old_label == f.new_label,
        }
}

/// "LICENSE: MIT → unidentified text: too different to diff line by line".
fn not_diffed(f: &FileJudgement) -> String {
    format!(
        "{}: {} → {}: the texts differ too much to diff line by line; the full texts are attached to the license email",
        f.display_path(),
        f.old_label.as_deref().unwrap_or("none"),
        f.new_label.as_deref().unwrap_or("none")
    )
}

/// Package rows whose declaration (or disagreement) differs between the releases.
fn changed_rows(a: &LicenseAnalysis) -> Vec<&PackageRow> {
    a.packages
        .iter()
        .filter(|p| p.changed() || p.old_disagreement != p.new_disagreement)
        .collect()
}

fn row_label(a: &LicenseAnalysis, p: &PackageRow) -> String {
    match p.scope {
        Scope::Root if a.new.sources.is_empty() && a.old.sources.is_empty() => "root".to_owned(),
        Scope::Root => {
            let sources = if a.new.sources.is_empty() {
                &a.old.sources
            } else {
                &a.new.sources
            };
            format!("root ({})", sources.join(", "))
        }
        scope => format!("{} {}", scope.as_str(), p.dir),
    }
}

fn expr_or_none(e: Option<&String>) -> String {
    e.map_or_else(|| "none".to_owned(), Clone::clone)
}

fn percent(share: f32) -> String {
    format!("{:.1} %", f64::from(share) * 100.0)
}

fn position_words(p: Position) -> &'static str {
    match p {
        Position::Before => "before the standard text",
        Position::Within => "within the standard text",
        Position::After => "after the standard text",
    }
}

/// "LICENSE: the standard AGPL-3.0-or-later text (match 0.97; 98.6 % of its 5,520 words
/// standard), plus 1 non-standard passage:" (plain; the caller marks up).
fn canonical_intro(path: &str, c: &CanonicalDiff) -> String {
    let passages = c.runs.len() + c.runs_omitted;
    let tail = match passages {
        0 => ", and nothing else.".to_owned(),
        1 => ", plus 1 non-standard passage:".to_owned(),
        n => format!(", plus {n} non-standard passages:"),
    };
    format!(
        "{path}: the standard {} text (match {:.2}; {} of its {} words standard){tail}",
        c.id,
        c.score,
        percent(c.standard_share),
        thousands(c.file_words as u64)
    )
}

// ---- the PR ------------------------------------------------------------------------------

/// The hold banner of a PR (Markdown, one block quote): the change as expressions, the
/// commercial option and its contact, and how to decide.
#[must_use]
pub fn pr_banner(
    l: &LicenseJudgement,
    server: &str,
    version: &str,
    approvers: &[crate::config::license::Approver],
) -> String {
    let mut b = format!(
        "> ⛔ **Blocked: license change needs CELA review.** {}.\n",
        headline_md(l)
    );
    if let Some(c) = commercial_line(l) {
        let (label, rest) = c.split_once(": ").unwrap_or(("", &c));
        let _ = writeln!(b, ">\n> **{label}:** {}", md_escape(rest));
    }
    let _ = writeln!(
        b,
        ">\n> {}\n",
        super::decisions::pr_how_to_decide(
            super::decisions::Subject::License,
            server,
            version,
            approvers,
            "This PR stays a draft until"
        )
    );
    b
}

/// The license section of a PR body (Markdown), most decisive first, so that a forge's size
/// limit cuts only its tail.
#[must_use]
pub fn pr_section(l: &LicenseJudgement, server: &str) -> String {
    let mut t = String::new();
    let Some(a) = &l.analysis else {
        return legacy_pr_section(l);
    };
    family_md(&mut t, a);
    let _ = writeln!(
        t,
        "Full texts: attached to the license email; `upkeep license show {server}` prints everything.\n"
    );
    nonstandard_md(&mut t, l);
    same_license_diffs_md(&mut t, l);
    let rows = changed_rows(a);
    if !rows.is_empty() {
        let _ = writeln!(
            t,
            "**Declarations that changed**\n\n| declaration | pinned | proposed |\n|---|---|---|"
        );
        for p in &rows {
            let cell = |e: Option<&String>, d: Option<&String>| {
                let mut s = format!("`{}`", expr_or_none(e).replace('`', "'"));
                if let Some(d) = d {
                    let _ = write!(s, " ⚠ {}", md_escape(d));
                }
                s
            };
            let _ = writeln!(
                t,
                "| {} | {} | {} |",
                md_escape(&row_label(a, p)),
                cell(p.old.as_ref(), p.old_disagreement.as_ref()),
                cell(p.new.as_ref(), p.new_disagreement.as_ref())
            );
        }
        let unchanged = a.packages.len() - rows.len();
        if unchanged > 0 {
            let _ = writeln!(t, "\n{unchanged} unchanged declaration(s) not shown.");
        }
        t.push('\n');
    }
    let mut listed = false;
    for p in &a.parameters {
        listed = true;
        let _ = writeln!(
            t,
            "- parameter **{}** in `{}`: {} → {}",
            md_escape(&p.name),
            md_escape(&p.path),
            md_escape(p.old.as_deref().unwrap_or("(none)")),
            md_escape(p.new.as_deref().unwrap_or("(none)"))
        );
    }
    for n in &a.notes {
        listed = true;
        let _ = writeln!(t, "- note: {}", md_escape(n));
    }
    if listed {
        t.push('\n');
    }
    // The judge already leaves out unchanged package manifests; the root's unchanged fields
    // stay, since they say what still holds beside a changed text.
    let findings: Vec<&String> = l.summary.iter().collect();
    if !findings.is_empty() {
        t.push_str("**Findings**\n");
        for s in findings.iter().take(PR_FINDINGS) {
            let _ = writeln!(t, "- {}", md_escape(s));
        }
        if findings.len() > PR_FINDINGS {
            let _ = writeln!(
                t,
                "- … {} more in `upkeep license show {server}`",
                findings.len() - PR_FINDINGS
            );
        }
    }
    t
}

fn family_md(t: &mut String, a: &LicenseAnalysis) {
    let fam = |s: &crate::license::Side| s.family.map_or("no license", |f| f.label());
    let now = fam(&a.new);
    let obligation = a.new.obligation.as_deref().unwrap_or(&a.new.reading);
    let obligation = obligation
        .strip_prefix(&format!("{now}: "))
        .unwrap_or(obligation);
    let _ = writeln!(
        t,
        "**Now {now}** (was {}): {} <sub>{}</sub>\n",
        fam(&a.old),
        md_escape(obligation),
        md_escape(&a.disclaimer)
    );
}

/// The words of each changed license file that are not its standard text, capped.
fn nonstandard_md(t: &mut String, l: &LicenseJudgement) {
    let mut budget = PR_NONSTANDARD_CHARS;
    let with_canonical: Vec<&FileJudgement> = changed_files(l)
        .filter(|f| f.kind == EntryKind::License && f.canonical.is_some())
        .collect();
    if with_canonical.is_empty() {
        return;
    }
    t.push_str("**How far the new text departs from the standard text**\n\n");
    for f in with_canonical {
        let Some(c) = &f.canonical else { continue };
        let _ = writeln!(t, "{}\n", md_escape(&canonical_intro(&f.path, c)));
        for r in &c.runs {
            for (sign, words) in [("added", &r.added), ("removed", &r.removed)] {
                if words.is_empty() {
                    continue;
                }
                let shown: String = words.chars().take(budget).collect();
                budget = budget.saturating_sub(shown.chars().count());
                let more = words.chars().count() - shown.chars().count();
                let at = if r.position == Position::Within && !r.after_words.is_empty() {
                    format!(", after “{}”", md_escape(&r.after_words))
                } else {
                    String::new()
                };
                let _ = writeln!(
                    t,
                    "> **{sign} {}{at}:** {}{}\n",
                    position_words(r.position),
                    md_escape(&shown),
                    if more > 0 {
                        format!(" … ({more} more characters in the email)")
                    } else {
                        String::new()
                    }
                );
            }
        }
        if c.runs_omitted > 0 {
            let _ = writeln!(t, "… {} more passages in the email.\n", c.runs_omitted);
        }
        if !c.filled.is_empty() {
            let filled: Vec<String> = c
                .filled
                .iter()
                .map(|p| format!("{} = {}", md_escape(&p.placeholder), md_escape(&p.value)))
                .collect();
            let _ = writeln!(t, "Filled in: {}.\n", filled.join("; "));
        }
    }
}

/// Changed files with no canonical comparison (the same license, or unidentified): the diff
/// against the old file, as before.
fn same_license_diffs_md(t: &mut String, l: &LicenseJudgement) {
    for f in changed_files(l).filter(|f| {
        f.kind == EntryKind::License && f.canonical.is_none() && f.unified_diff.is_some()
    }) {
        if !diff_inline(f) {
            let _ = writeln!(t, "{}\n", md_escape(&not_diffed(f)));
        }
    }
    let diffs: Vec<(&str, &String)> = changed_files(l)
        .filter(|f| diff_inline(f))
        .filter_map(|f| Some((f.path.as_str(), f.unified_diff.as_ref()?)))
        .collect();
    if diffs.is_empty() {
        return;
    }
    t.push_str("**What the text changed** (against the pinned release's file)\n");
    for (path, d) in diffs {
        let _ = writeln!(
            t,
            "\n`{}`:\n```diff\n{}```\n",
            md_escape(path).replace('`', "'"),
            d.replace("```", "'''")
        );
    }
}

fn legacy_pr_section(l: &LicenseJudgement) -> String {
    let mut t = String::new();
    for line in &l.summary {
        let _ = writeln!(t, "- {}", md_escape(line));
    }
    for f in changed_files(l).filter(|f| diff_inline(f)) {
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

/// The full new texts of license files whose license changed, each collapsed (Markdown), for a
/// forge that renders `<details>`; `None` when there are none.
#[must_use]
pub fn pr_full_texts(
    l: &LicenseJudgement,
    new: Option<&LicenseSnapshot>,
    version: &str,
) -> Option<String> {
    let new = new?;
    let mut t = String::new();
    for f in changed_files(l).filter(|f| f.canonical.is_some()) {
        let Some(text) = text_of(new, &f.path) else {
            continue;
        };
        let _ = writeln!(
            t,
            "<details><summary>{} at {} ({} characters)</summary>\n\n```text\n{}\n```\n</details>\n",
            html_escape(&f.path),
            html_escape(version),
            thousands(text.chars().count() as u64),
            text.trim_end().replace("```", "'''")
        );
    }
    (!t.is_empty()).then_some(t)
}

fn text_of<'a>(snap: &'a LicenseSnapshot, path: &str) -> Option<&'a str> {
    snap.entries
        .iter()
        .find(|e| e.path == path && e.field.is_none() && e.kind == EntryKind::License)
        .and_then(|e| e.text.as_deref())
}

// ---- plain text: the email and `license show` --------------------------------------------

/// One line of a plain-text block, marked for the HTML part.
enum Line {
    Plain(String),
    Added(String),
    Removed(String),
    /// A diff against the old file: the unified diff (text), and its word-level segments (HTML,
    /// when there are any).
    Diff(String, Vec<WordChange>),
}

/// A titled block of the email (and of `license show`).
struct Block {
    title: Option<String>,
    lines: Vec<Line>,
}

impl Block {
    fn new(title: &str) -> Self {
        Self {
            title: Some(title.to_owned()),
            lines: Vec::new(),
        }
    }
    fn plain(&mut self, s: impl Into<String>) {
        self.lines.push(Line::Plain(s.into()));
    }
}

/// Wraps `text` at about 76 columns, every line indented by `indent`.
fn wrap(text: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + word.chars().count() > 76 {
            let _ = writeln!(out, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}{line}");
    }
    out
}

fn to_text(blocks: &[Block]) -> String {
    let mut t = String::new();
    for b in blocks {
        if let Some(title) = &b.title {
            let _ = writeln!(t, "\n{title}");
        }
        for l in &b.lines {
            match l {
                Line::Plain(s) => t.push_str(&wrap(s, "  ")),
                Line::Added(s) => t.push_str(&wrap(s, "  + ")),
                Line::Removed(s) => t.push_str(&wrap(s, "  - ")),
                Line::Diff(s, _) => {
                    for line in s.lines() {
                        let _ = writeln!(t, "  {line}");
                    }
                }
            }
        }
    }
    t
}

fn to_html(blocks: &[Block]) -> String {
    let mut h = String::new();
    for b in blocks {
        if let Some(title) = &b.title {
            let _ = write!(h, "<h3>{}</h3>", html_escape(title));
        }
        for l in &b.lines {
            match l {
                Line::Plain(s) => {
                    let _ = write!(h, "<p>{}</p>", html_escape(s));
                }
                Line::Added(s) => {
                    let _ = write!(
                        h,
                        "<p style=\"background:#d4f8d4;padding:4px\"><ins style=\"text-decoration:none\">{}</ins></p>",
                        html_escape(s)
                    );
                }
                Line::Removed(s) => {
                    let _ = write!(
                        h,
                        "<p style=\"background:#fbd4d4;padding:4px\"><del>{}</del></p>",
                        html_escape(s)
                    );
                }
                Line::Diff(s, w) if w.is_empty() => {
                    let _ = write!(
                        h,
                        "<pre style=\"white-space:pre-wrap;border:1px solid #ddd;padding:8px\">{}</pre>",
                        html_escape(s)
                    );
                }
                Line::Diff(_, w) => word_diff_html(&mut h, w),
            }
        }
    }
    h
}

fn word_diff_html(h: &mut String, words: &[WordChange]) {
    h.push_str("<pre style=\"white-space:pre-wrap;border:1px solid #ddd;padding:8px\">");
    for w in words {
        let text = html_escape(&w.text);
        match w.tag {
            WordTag::Equal => h.push_str(&text),
            WordTag::Insert => {
                let _ = write!(
                    h,
                    "<ins style=\"background:#d4f8d4;text-decoration:none\">{text}</ins>"
                );
            }
            WordTag::Delete => {
                let _ = write!(h, "<del style=\"background:#fbd4d4\">{text}</del>");
            }
        }
    }
    h.push_str("</pre>");
}

/// The comparison of one file with its canonical text, every passage in full.
fn canonical_lines(b: &mut Block, path: &str, c: &CanonicalDiff) {
    b.plain(canonical_intro(path, c));
    for r in &c.runs {
        let at = if r.position == Position::Within && !r.after_words.is_empty() {
            format!(", after \"{}\"", r.after_words)
        } else {
            String::new()
        };
        if !r.added.is_empty() {
            b.plain(format!("added {}{at}:", position_words(r.position)));
            b.lines.push(Line::Added(r.added.clone()));
        }
        if !r.removed.is_empty() {
            b.plain(format!("removed {}{at}:", position_words(r.position)));
            b.lines.push(Line::Removed(r.removed.clone()));
        }
    }
    if c.runs_omitted > 0 || c.truncated {
        b.plain(format!(
            "(comparison cut: {} more passages not kept{})",
            c.runs_omitted,
            if c.truncated {
                "; long passages shortened"
            } else {
                ""
            }
        ));
    }
    if !c.filled.is_empty() {
        let filled: Vec<String> = c
            .filled
            .iter()
            .map(|p| format!("{} = {}", p.placeholder, p.value))
            .collect();
        b.plain(format!(
            "Filled in (not non-standard): {}",
            filled.join("; ")
        ));
    }
    if !c.omitted_optional.is_empty() {
        b.plain(format!(
            "Left out (optional in the standard text): {}",
            c.omitted_optional.join("; ")
        ));
    }
}

/// Keeps the lines of `b` up to about `cap` characters and says where the rest is.
fn cap_lines(b: &mut Block, cap: usize) {
    let mut used = 0;
    let keep = b.lines.iter().position(|l| {
        used += match l {
            Line::Plain(s) | Line::Added(s) | Line::Removed(s) => s.chars().count(),
            Line::Diff(s, w) => s
                .chars()
                .count()
                .max(w.iter().map(|w| w.text.chars().count()).sum()),
        };
        used > cap
    });
    if let Some(at) = keep {
        b.lines.truncate(at);
        b.plain(format!(
            "(cut here at {} characters: the rest is in the attached comparison and diff, and in `upkeep license show`)",
            thousands(cap as u64)
        ));
    }
}

/// The summary blocks shared by the email and `license show`: the change, the family, the
/// non-standard text, the declarations, parameters and notes, the findings.
/// `text_cap`: characters of license text (non-standard words, diffs) before the rest is left
/// to the attachments; `None` for everything.
fn summary_blocks(l: &LicenseJudgement, all_rows: bool, text_cap: Option<usize>) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut change = Block::new("What changed");
    if let Some(a) = &l.analysis {
        let side = |s: &crate::license::Side| {
            format!(
                "{} ({})",
                expr_or_none(s.expression.as_ref()),
                s.family.map_or("no license", |f| f.label())
            )
        };
        change.plain(format!("was: {}", side(&a.old)));
        change.plain(format!("now: {}", side(&a.new)));
        change.plain(format!("reading: {}", a.new.reading));
        if let Some(o) = &a.new.obligation {
            change.plain(format!("{o} ({})", a.disclaimer));
        }
    } else {
        for s in &l.summary {
            change.plain(s.clone());
        }
    }
    blocks.push(change);
    let mut text = Block::new("The license text");
    for f in changed_files(l).filter(|f| f.kind == EntryKind::License) {
        match (&f.canonical, &f.unified_diff) {
            (Some(c), _) => canonical_lines(&mut text, &f.path, c),
            (None, Some(_)) if !diff_inline(f) => text.plain(not_diffed(f)),
            (None, Some(d)) => {
                text.plain(format!("{} (against the pinned release's file):", f.path));
                let body: String = d
                    .lines()
                    .filter(|l| !l.starts_with("---") && !l.starts_with("+++"))
                    .map(|l| format!("{l}\n"))
                    .collect();
                text.lines.push(Line::Diff(body, f.word_diff.clone()));
            }
            (None, None) => text.plain(format!("{}: {}", f.display_path(), f.reason)),
        }
    }
    if let Some(cap) = text_cap {
        cap_lines(&mut text, cap);
    }
    if !text.lines.is_empty() {
        blocks.push(text);
    }
    if let Some(a) = &l.analysis {
        declarations_block(&mut blocks, a, all_rows);
    }
    let mut findings = Block::new("Findings");
    for s in &l.summary {
        findings.plain(s.clone());
    }
    if l.analysis.is_some() && !findings.lines.is_empty() {
        blocks.push(findings);
    }
    blocks
}

fn declarations_block(blocks: &mut Vec<Block>, a: &LicenseAnalysis, all_rows: bool) {
    let rows: Vec<&PackageRow> = if all_rows {
        a.packages.iter().collect()
    } else {
        changed_rows(a)
    };
    let mut b = Block::new(if all_rows {
        "Declarations"
    } else {
        "Declarations that changed"
    });
    for p in &rows {
        let mut line = format!(
            "{}: {} -> {}",
            row_label(a, p),
            expr_or_none(p.old.as_ref()),
            expr_or_none(p.new.as_ref())
        );
        if !p.changed() {
            line.push_str(" (unchanged)");
        }
        b.plain(line);
        if let Some(d) = &p.old_disagreement {
            b.plain(format!("  at the pinned release: {d}"));
        }
        if let Some(d) = &p.new_disagreement {
            b.plain(format!("  at the proposed release: {d}"));
        }
    }
    let hidden = a.packages.len() - rows.len();
    if hidden > 0 {
        b.plain(format!("({hidden} unchanged declaration(s) not shown)"));
    }
    if !rows.is_empty() {
        blocks.push(b);
    }
    if !a.parameters.is_empty() {
        let mut p = Block::new("Parameters");
        for c in &a.parameters {
            p.plain(format!(
                "{} in {}: {} -> {}",
                c.name,
                c.path,
                c.old.as_deref().unwrap_or("(none)"),
                c.new.as_deref().unwrap_or("(none)")
            ));
        }
        blocks.push(p);
    }
    if !a.notes.is_empty() {
        let mut n = Block::new("Notes");
        for note in &a.notes {
            n.plain(note.clone());
        }
        blocks.push(n);
    }
}

/// What the license email says about the change below its first lines: the summary blocks as
/// plain text and as HTML.
pub struct EmailSummary {
    pub text: String,
    pub html: String,
}

/// The license email's summary of the change (the headline and commercial option come first,
/// from [`headline`] and [`commercial_line`]).
#[must_use]
pub fn email_summary(l: &LicenseJudgement) -> EmailSummary {
    let blocks = summary_blocks(l, false, Some(EMAIL_LICENSE_TEXT_CHARS));
    EmailSummary {
        text: to_text(&blocks),
        html: to_html(&blocks),
    }
}

/// `upkeep license show`: everything the judgement holds, decisive part first. The line diffs
/// of files whose license changed (two different licenses set line against line) are printed
/// last, marked as reference, with `line_diffs`; otherwise their size is named.
#[must_use]
pub fn show(l: &LicenseJudgement, server: &str, line_diffs: bool) -> String {
    let mut t = headline(l);
    t.push('\n');
    if let Some(c) = commercial_line(l) {
        let _ = writeln!(t, "{c}");
    }
    t.push_str(&to_text(&summary_blocks(l, true, None)));
    let reference: Vec<&FileJudgement> = changed_files(l)
        .filter(|f| f.unified_diff.is_some() && !diff_inline(f))
        .collect();
    if !reference.is_empty() && !line_diffs {
        let sizes: Vec<String> = reference
            .iter()
            .map(|f| {
                let lines = f.unified_diff.as_deref().map_or(0, |d| d.lines().count());
                format!("{} ({} lines)", f.path, thousands(lines as u64))
            })
            .collect();
        let _ = writeln!(
            t,
            "\nNot printed: the line diffs of {} against the pinned release's files (different \
             licenses: for reference only); `upkeep license show {server} --line-diffs` prints them.",
            sizes.join(", ")
        );
    } else if !reference.is_empty() {
        t.push_str(
            "\nLine diffs against the pinned release's files (different licenses: for reference only)\n",
        );
        for f in reference {
            let _ = writeln!(
                t,
                "\n{}:\n{}",
                f.path,
                f.unified_diff.as_deref().unwrap_or("")
            );
        }
    }
    t
}

// ---- attachments -------------------------------------------------------------------------

/// The attachments of the license email, most useful first: each changed file's comparison
/// with its standard text (or its diff), then the new texts, then the old ones. Those that
/// would take the email past `budget` bytes are left out and named in the second list.
#[must_use]
pub fn attachments(
    l: &LicenseJudgement,
    texts: (Option<&LicenseSnapshot>, Option<&LicenseSnapshot>),
    labels: (&str, &str),
    budget: usize,
) -> (Vec<Attachment>, Vec<String>) {
    let file_name = |path: &str, tail: &str| format!("{}{tail}", path.replace(['/', '\\'], "_"));
    let mut wanted: Vec<Attachment> = Vec::new();
    let files: Vec<&FileJudgement> = changed_files(l)
        .filter(|f| f.kind == EntryKind::License)
        .collect();
    for f in &files {
        if let Some(c) = &f.canonical {
            let mut b = Block {
                title: None,
                lines: Vec::new(),
            };
            canonical_lines(&mut b, &f.path, c);
            wanted.push(text_attachment(
                file_name(&f.path, &format!("-vs-standard-{}.txt", c.id)),
                to_text(&[b]),
            ));
        } else if let Some(d) = &f.unified_diff {
            wanted.push(Attachment {
                filename: file_name(&f.path, ".diff"),
                content_type: "text/x-diff; charset=utf-8".to_owned(),
                body: d.clone().into_bytes(),
            });
        }
    }
    for (snap, label, old) in [(texts.1, labels.1, false), (texts.0, labels.0, true)] {
        let Some(snap) = snap else { continue };
        for f in &files {
            let path = if old {
                f.old_path.as_deref().unwrap_or(&f.path)
            } else {
                &f.path
            };
            if let Some(text) = text_of(snap, path) {
                wanted.push(text_attachment(
                    file_name(path, &format!("-{label}.txt")),
                    text.to_owned(),
                ));
            }
        }
    }
    let mut used = 0;
    let mut kept = Vec::new();
    let mut left_out = Vec::new();
    for a in wanted {
        let size = encoded_len(&a.body);
        if used + size <= budget {
            used += size;
            kept.push(a);
        } else {
            left_out.push(a.filename);
        }
    }
    (kept, left_out)
}

fn text_attachment(filename: String, body: String) -> Attachment {
    Attachment {
        filename,
        content_type: "text/plain; charset=utf-8".to_owned(),
        body: body.into_bytes(),
    }
}

/// Bytes a part takes on the wire, on the safe side: ASCII goes 7-bit or quoted-printable
/// (CRLF line ends, a soft break every 76 characters, some characters escaped); anything else
/// may go base64 (4/3, plus line breaks).
#[must_use]
pub fn encoded_len(body: &[u8]) -> usize {
    if body.is_ascii() {
        let escaped = body.iter().filter(|b| **b == b'=' || **b == b'\t').count();
        body.len()
            + body.iter().filter(|b| **b == b'\n').count()
            + body.len() / 76 * 3
            + 2 * escaped
    } else {
        body.len().div_ceil(3) * 4 * 78 / 76 + 4
    }
}

/// What is left of the email's byte limit for attachments once the text and HTML parts are in.
#[must_use]
pub fn attachment_budget(text: &str, html: &str) -> usize {
    EMAIL_LIMIT_BYTES
        .saturating_sub(EMAIL_FRAMING_BYTES)
        .saturating_sub(encoded_len(text.as_bytes()))
        .saturating_sub(encoded_len(html.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::{LicenseEntry, LicensePolicy, judge, standard_text};

    fn snapshot(files: &[(&str, &str)]) -> LicenseSnapshot {
        let mut s = LicenseSnapshot::empty();
        for (path, text) in files {
            s.entries.push(
                LicenseEntry::from_file_bytes(path, EntryKind::License, None, text.as_bytes())
                    .unwrap(),
            );
        }
        s.sort();
        s
    }

    /// Apache-2.0 → a preamble offering a commercial license (with hostile Markdown) before AGPL.
    fn dual() -> (LicenseSnapshot, LicenseSnapshot, LicenseJudgement) {
        let old = snapshot(&[("LICENSE", standard_text("Apache-2.0").unwrap())]);
        let preamble = "This software is dual-licensed: the GNU Affero General Public License below, or a commercial license from Example Labs. Contact <sales@example.test>, or see https://example.test/pricing. [click](javascript:x) @team | ping";
        let new_text = format!(
            "{preamble}\n\n{}",
            standard_text("AGPL-3.0-or-later").unwrap()
        );
        let new = snapshot(&[("LICENSE", &new_text)]);
        let j = judge(&old, &new, &LicensePolicy::default());
        (old, new, j)
    }

    #[test]
    fn the_commercial_option_names_its_contacts_and_upstream_markdown_is_neutralised() {
        let (old, new, j) = dual();
        assert!(commercial_option(&j));
        assert_eq!(
            contacts(&j),
            ["sales@example.test", "https://example.test/pricing"]
        );
        let banner = pr_banner(&j, "s", "2.0.0", &[]);
        assert!(banner.contains("sales\\@example.test"), "{banner}");
        let section = pr_section(&j, "s");
        assert!(!section.contains("[click](javascript"), "{section}");
        assert!(!section.contains(" @team"), "{section}");
        assert!(section.contains("\\@\u{200d}team"), "{section}");
        // No line of either license diffed anywhere in the PR or the email's body.
        let show_default = show(&j, "s", false);
        for text in [&section, &email_summary(&j).text, &show_default] {
            assert!(!text.contains("-TERMS AND CONDITIONS FOR USE"), "{text}");
        }
        assert!(show(&j, "s", true).contains("-TERMS AND CONDITIONS FOR USE"));
        let (kept, left_out) =
            attachments(&j, (Some(&old), Some(&new)), ("1.0.0", "2.0.0"), 100_000);
        let names: Vec<&str> = kept.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(
            names,
            [
                "LICENSE-vs-standard-AGPL-3.0-or-later.txt",
                "LICENSE-2.0.0.txt",
                "LICENSE-1.0.0.txt"
            ]
        );
        assert!(left_out.is_empty());
        // A tight budget leaves out what does not fit, most useful first: the comparison stays.
        let (kept, left_out) =
            attachments(&j, (Some(&old), Some(&new)), ("1.0.0", "2.0.0"), 20_000);
        let names: Vec<&str> = kept.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(
            names,
            [
                "LICENSE-vs-standard-AGPL-3.0-or-later.txt",
                "LICENSE-1.0.0.txt"
            ]
        );
        assert_eq!(left_out, ["LICENSE-2.0.0.txt"]);
    }

    #[test]
    fn judgements_stored_before_the_analysis_fall_back_to_their_summary() {
        let (_, _, mut j) = dual();
        j.analysis = None;
        assert_eq!(headline(&j), j.reason);
        assert!(!commercial_option(&j));
        let section = pr_section(&j, "s");
        assert!(section.starts_with("- "), "{section}");
        assert!(
            !section.contains("```diff"),
            "two licenses are never diffed: {section}"
        );
    }

    #[test]
    fn wrap_keeps_words_and_indents() {
        let w = wrap(&"word ".repeat(40), "  + ");
        assert!(w.lines().all(|l| l.starts_with("  + ") && l.len() <= 84));
        assert_eq!(w.split_whitespace().filter(|x| *x == "word").count(), 40);
    }

    #[test]
    fn encoded_len_counts_base64_for_non_ascii() {
        assert_eq!(encoded_len(b"ab\ncd\n"), 8);
        assert!(encoded_len(&[b'a'; 760]) >= 790);
        assert!(encoded_len("é".repeat(300).as_bytes()) > 600);
    }
}
