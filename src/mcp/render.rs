//! The texts people read about an MCP surface change (pure): the "MCP surface" section of the
//! rebuild PR body (Markdown) and the same for the held email (plain text).
//!
//! Upstream text is hostile. In Markdown it only ever appears inside code spans and fenced
//! blocks whose delimiters are longer than any backtick run in it (so it cannot close them,
//! inject HTML or mention anyone), with table pipes escaped and line breaks folded. In both
//! forms invisible, bidirectional and tag characters are shown as `<U+XXXX>` so the reviewer
//! sees what the model would read. Both renderers fit a character budget given by the caller,
//! most severe first, and say what they cut.

use std::fmt::Write as _;

use super::diff::{ChangeKind, FieldChange, ItemKind, Text};
use super::findings::Severity;
use super::report::{ItemReport, McpSurfaceReport};
use crate::license::{WordChange, WordTag};

/// Rows of the change table shown at most (the rest are counted).
const MAX_ROWS: usize = 60;

/// Upstream text longer than this is shortened in tables.
const CELL_CHARS: usize = 160;

/// A changed text to show as a word diff: (severity rank, item label, field, change).
struct WordDiff<'a> {
    rank: Option<Severity>,
    item: String,
    change: &'a FieldChange,
}

/// Makes hidden characters visible and folds line breaks (for one-line cells).
fn visible(text: &str, fold_lines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let hidden = super::findings::is_hidden(c);
        if hidden {
            let _ = write!(out, "<U+{:04X}>", c as u32);
        } else if fold_lines && matches!(c, '\n' | '\r' | '\t') {
            if !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

fn longest_backtick_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// Upstream text as a Markdown code span that fits in a table cell.
fn code(text: &str) -> String {
    let body = shorten(&visible(text, true), CELL_CHARS).replace('|', "\\|");
    let fence = "`".repeat(longest_backtick_run(&body) + 1);
    if body.is_empty() {
        return "` `".to_owned();
    }
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// A fenced block that the content cannot close.
fn fenced(content: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(content).max(2) + 1);
    format!("{fence}text\n{content}\n{fence}\n")
}

fn item_label(kind: ItemKind, name: &str) -> String {
    match kind {
        ItemKind::Server => "server".to_owned(),
        k => format!("{} {}", k.as_str(), code(name)),
    }
}

fn item_label_plain(kind: ItemKind, name: &str) -> String {
    match kind {
        ItemKind::Server => "server".to_owned(),
        k => format!(
            "{} {}",
            k.as_str(),
            shorten(&visible(name, true), CELL_CHARS)
        ),
    }
}

/// The worst finding about an item (`tool:NAME`).
fn item_severity(report: &McpSurfaceReport, kind: ItemKind, name: &str) -> Option<Severity> {
    let key = match kind {
        ItemKind::Server => "server".to_owned(),
        k => format!("{}:{name}", k.as_str()),
    };
    report
        .findings
        .iter()
        .filter(|f| f.item == key)
        .map(|f| f.severity)
        .max()
}

/// Changed items, worst first, then by change kind and name.
fn changed_items(report: &McpSurfaceReport) -> Vec<(ItemKind, &ItemReport, Option<Severity>)> {
    let mut rows: Vec<(ItemKind, &ItemReport, Option<Severity>)> = report
        .items()
        .filter(|(_, i)| i.change != ChangeKind::Unchanged)
        .map(|(k, i)| (k, i, item_severity(report, k, &i.name)))
        .collect();
    rows.sort_by(|a, b| (b.2, a.1.change, a.0, &a.1.name).cmp(&(a.2, b.1.change, b.0, &b.1.name)));
    rows
}

/// Changed texts with old and new literal values (or a new text of a new item), worst first.
fn word_diffs(report: &McpSurfaceReport) -> Vec<WordDiff<'_>> {
    let mut out: Vec<WordDiff<'_>> = Vec::new();
    if let Some(server) = &report.server {
        let rank = item_severity(report, ItemKind::Server, "");
        for c in &server.changes {
            out.push(WordDiff {
                rank,
                item: "server".to_owned(),
                change: c,
            });
        }
    }
    for (kind, item) in report.items() {
        let rank = item_severity(report, kind, &item.name);
        for c in &item.changes {
            let prose =
                c.field == "description" || c.field == "title" || c.field.ends_with(".description");
            if prose && c.new.as_ref().and_then(Text::literal).is_some() {
                out.push(WordDiff {
                    rank,
                    item: format!("{}:{}", kind.as_str(), item.name),
                    change: c,
                });
            }
        }
    }
    out.sort_by(|a, b| (b.rank, &a.item, &a.change.field).cmp(&(a.rank, &b.item, &b.change.field)));
    out
}

/// Word-level segments between two texts (bounded in time; a pathological input degrades to a
/// coarser diff).
fn word_segments(old: &str, new: &str) -> Vec<WordChange> {
    let diff = similar::TextDiff::configure()
        .timeout(std::time::Duration::from_secs(1))
        .diff_words(old, new);
    let mut out: Vec<WordChange> = Vec::new();
    for change in diff.iter_all_changes() {
        let tag = match change.tag() {
            similar::ChangeTag::Equal => WordTag::Equal,
            similar::ChangeTag::Insert => WordTag::Insert,
            similar::ChangeTag::Delete => WordTag::Delete,
        };
        match out.last_mut() {
            Some(last) if last.tag == tag => last.text.push_str(change.value()),
            _ => out.push(WordChange {
                tag,
                text: change.value().to_owned(),
            }),
        }
    }
    out
}

/// `[-removed-]{+added+}` over the word diff of two texts, hidden characters made visible.
fn word_diff_text(change: &FieldChange) -> String {
    let old = change.old.as_ref().and_then(Text::literal).unwrap_or("");
    let new = change.new.as_ref().and_then(Text::literal).unwrap_or("");
    let (old, new) = (visible(old, false), visible(new, false));
    if old.is_empty() {
        return format!("{{+{new}+}}");
    }
    let segments = word_segments(&old, &new);
    if segments.is_empty() {
        return format!("[-{old}-]{{+{new}+}}");
    }
    let mut out = String::new();
    for s in segments {
        match s.tag {
            WordTag::Equal => out.push_str(&s.text),
            WordTag::Delete => {
                let _ = write!(out, "[-{}-]", s.text);
            }
            WordTag::Insert => {
                let _ = write!(out, "{{+{}+}}", s.text);
            }
        }
    }
    out
}

fn summary_line(report: &McpSurfaceReport) -> String {
    let count = |c: ChangeKind| report.items().filter(|(_, i)| i.change == c).count();
    let mut parts = Vec::new();
    for c in [
        ChangeKind::Changed,
        ChangeKind::Added,
        ChangeKind::Removed,
        ChangeKind::Renamed,
        ChangeKind::Unchanged,
    ] {
        let n = count(c);
        if n > 0 {
            parts.push(format!("{n} {}", c.as_str()));
        }
    }
    if report.server.is_some() {
        parts.push("server info changed".to_owned());
    }
    let langs: Vec<&str> = report.languages.iter().map(|l| l.as_str()).collect();
    let what = if parts.is_empty() {
        "no tools, prompts or resources found".to_owned()
    } else {
        parts.join(" · ")
    };
    if langs.is_empty() {
        what
    } else {
        format!("{what} ({})", langs.join(", "))
    }
}

fn findings_line(report: &McpSurfaceReport) -> String {
    let n = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let (h, m, l) = (n(Severity::High), n(Severity::Medium), n(Severity::Low));
    if h + m + l == 0 {
        return "No findings.".to_owned();
    }
    let mut parts = Vec::new();
    for (count, s) in [(h, "high"), (m, "medium"), (l, "low")] {
        if count > 0 {
            parts.push(format!("{count} {s}"));
        }
    }
    format!("Findings: {}", parts.join(", "))
}

/// Appends `piece` when it fits in what is left of `budget` (keeping `reserve` for the note).
fn push_within(out: &mut String, piece: &str, budget: usize, reserve: usize) -> bool {
    if out.len() + piece.len() + reserve <= budget {
        out.push_str(piece);
        true
    } else {
        false
    }
}

/// Room kept for the closing "not shown" note.
const NOTE_RESERVE: usize = 200;

/// The "MCP surface" section of the PR body, at most `budget` bytes.
#[must_use]
pub fn markdown(report: &McpSurfaceReport, budget: usize) -> String {
    let mut out = String::new();
    let mut cut_rows = 0usize;
    let mut cut_diffs = 0usize;
    let head = markdown_head(report);
    if !push_within(&mut out, &head, budget, 0) {
        return shorten(&head, budget.saturating_sub(1));
    }
    if !report.findings.is_empty() {
        let _ = push_within(
            &mut out,
            "\n| severity | item | field | finding |\n|---|---|---|---|\n",
            budget,
            NOTE_RESERVE,
        );
        for f in &report.findings {
            let (kind, name) = split_item(&f.item);
            let row = format!(
                "| {} | {} | {} | {}: {} |\n",
                f.severity.as_str(),
                item_label(kind, name),
                code(&f.field),
                f.code.as_str(),
                code(&f.detail)
            );
            if !push_within(&mut out, &row, budget, NOTE_RESERVE) {
                cut_rows += 1;
            }
        }
    }
    let rows = changed_items(report);
    if !rows.is_empty() {
        let _ = push_within(
            &mut out,
            "\n| change | item | fields | where |\n|---|---|---|---|\n",
            budget,
            NOTE_RESERVE,
        );
        for (i, (kind, item, _)) in rows.iter().enumerate() {
            let row = change_row_md(*kind, item);
            if i >= MAX_ROWS || !push_within(&mut out, &row, budget, NOTE_RESERVE) {
                cut_rows += 1;
            }
        }
    }
    if let Some(server) = &report.server {
        let line = format!(
            "\nServer {}: {}.\n",
            code(&server.name),
            server
                .fields
                .iter()
                .map(|f| code(f))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = push_within(&mut out, &line, budget, NOTE_RESERVE);
    }
    for wd in word_diffs(report) {
        let (kind, name) = split_item(&wd.item);
        let block = format!(
            "\n{} {} ({}):\n{}",
            item_label(kind, name),
            code(&wd.change.field),
            wd.change.change.as_str(),
            fenced(&word_diff_text(wd.change))
        );
        if !push_within(&mut out, &block, budget, NOTE_RESERVE) {
            cut_diffs += 1;
        }
    }
    if !report.unresolved.is_empty() {
        let line = format!(
            "\n{} definition{} not statically known (computed at run time); see the run report.\n",
            report.unresolved.len(),
            if report.unresolved.len() == 1 {
                " is"
            } else {
                "s are"
            }
        );
        let _ = push_within(&mut out, &line, budget, NOTE_RESERVE);
    }
    if cut_rows + cut_diffs > 0 {
        let note = format!(
            "\n_Not shown for length: {cut_rows} table row{} and {cut_diffs} word diff{}; the run report has them all._\n",
            if cut_rows == 1 { "" } else { "s" },
            if cut_diffs == 1 { "" } else { "s" }
        );
        let _ = push_within(&mut out, &note, budget, 0);
    }
    out
}

fn markdown_head(report: &McpSurfaceReport) -> String {
    let mut head = String::from("### MCP surface\n");
    if report.max_severity() == Some(Severity::High) {
        head.push_str(
            "> ⛔ **High-severity findings in what the model sees.** Read the changed texts below before merging.\n\n",
        );
    }
    let _ = writeln!(
        head,
        "{}  \n{}",
        summary_line(report),
        findings_line(report)
    );
    if report.truncated {
        head.push_str("\n_Extraction hit a limit: the surface may be incomplete._\n");
    }
    head
}

fn change_row_md(kind: ItemKind, item: &ItemReport) -> String {
    let mut change = item.change.as_str().to_owned();
    if let Some(prev) = &item.previous_name {
        change = format!("renamed from {}", code(prev));
    }
    let fields = if item.fields.is_empty() || item.change != ChangeKind::Changed {
        String::new()
    } else {
        item.fields
            .iter()
            .take(8)
            .map(|f| code(f))
            .collect::<Vec<_>>()
            .join(", ")
            + if item.fields.len() > 8 { ", …" } else { "" }
    };
    let at = if item.file.is_empty() {
        String::new()
    } else {
        code(&format!("{}:{}", item.file, item.line))
    };
    format!(
        "| {change} | {} | {fields} | {at} |\n",
        item_label(kind, &item.name)
    )
}

fn split_item(item: &str) -> (ItemKind, &str) {
    match item.split_once(':') {
        Some(("tool", n)) => (ItemKind::Tool, n),
        Some(("prompt", n)) => (ItemKind::Prompt, n),
        Some(("resource", n)) => (ItemKind::Resource, n),
        _ => (ItemKind::Server, ""),
    }
}

/// The same for the held email, as plain text, at most `budget` bytes.
#[must_use]
pub fn plain_text(report: &McpSurfaceReport, budget: usize) -> String {
    let mut out = String::new();
    let mut cut = 0usize;
    let head = format!(
        "MCP surface (what the model sees)\n  {}\n  {}\n",
        summary_line(report),
        findings_line(report)
    );
    if !push_within(&mut out, &head, budget, 0) {
        return shorten(&head, budget.saturating_sub(1));
    }
    for f in &report.findings {
        let (kind, name) = split_item(&f.item);
        let line = format!(
            "  {:<6} {}, {}: {}: {}\n",
            f.severity.as_str().to_uppercase(),
            item_label_plain(kind, name),
            shorten(&visible(&f.field, true), CELL_CHARS),
            f.code.as_str(),
            shorten(&visible(&f.detail, true), CELL_CHARS)
        );
        if !push_within(&mut out, &line, budget, NOTE_RESERVE) {
            cut += 1;
        }
    }
    let rows = changed_items(report);
    if !rows.is_empty() {
        let _ = push_within(&mut out, "\nChanges\n", budget, NOTE_RESERVE);
        for (i, (kind, item, _)) in rows.iter().enumerate() {
            let fields = if item.change == ChangeKind::Changed {
                format!(" ({})", visible(&item.fields.join(", "), true))
            } else {
                String::new()
            };
            let line = format!(
                "  {:<9} {}{}  {}:{}\n",
                item.change.as_str(),
                item_label_plain(*kind, &item.name),
                shorten(&fields, CELL_CHARS),
                visible(&item.file, true),
                item.line
            );
            if i >= MAX_ROWS || !push_within(&mut out, &line, budget, NOTE_RESERVE) {
                cut += 1;
            }
        }
    }
    let diffs = word_diffs(report);
    if !diffs.is_empty() {
        let _ = push_within(
            &mut out,
            "\nChanged texts ([-removed-] {+added+})\n",
            budget,
            NOTE_RESERVE,
        );
    }
    for wd in diffs {
        let (kind, name) = split_item(&wd.item);
        let body: String = word_diff_text(wd.change)
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect();
        let block = format!(
            "  {}, {} ({}):\n{body}",
            item_label_plain(kind, name),
            visible(&wd.change.field, true),
            wd.change.change.as_str()
        );
        if !push_within(&mut out, &block, budget, NOTE_RESERVE) {
            cut += 1;
        }
    }
    if cut > 0 {
        let _ = push_within(
            &mut out,
            &format!("\n  ({cut} more lines not shown for length; the run report has them all.)\n"),
            budget,
            0,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_cannot_be_closed_or_split_a_table() {
        let span = code("a ``` b | c\nd");
        assert!(span.starts_with("````"), "{span}");
        assert!(span.contains("\\|"), "{span}");
        assert!(!span.contains('\n'));
        assert_eq!(code(""), "` `");
    }

    #[test]
    fn fences_are_longer_than_any_backtick_run() {
        let block = fenced("```\n</details><script>x</script>\n`````");
        assert!(block.starts_with("``````text\n"), "{block}");
        assert!(block.trim_end().ends_with("``````"));
    }

    #[test]
    fn hidden_characters_become_visible() {
        assert_eq!(visible("a\u{200b}b\u{E0041}", true), "a<U+200B>b<U+E0041>");
        assert_eq!(visible("a\nb", true), "a b");
    }
}
