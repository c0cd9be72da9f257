//! Readable diffs of license texts for people (pure): a unified line diff of the display texts and
//! word-level change segments for highlighting in the HTML email.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};

/// Unified diffs longer than this are cut (with a note) to keep emails and reports readable.
pub const MAX_DIFF_BYTES: usize = 64 * 1024;

/// Word diffs are skipped for texts longer than this (the unified diff still shows the change).
const MAX_WORD_DIFF_INPUT: usize = 256 * 1024;

/// Diffing is bounded in time; a pathological input degrades to a coarser diff, never hangs.
const DIFF_TIMEOUT: Duration = Duration::from_secs(2);

/// The kind of a word-diff segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WordTag {
    Equal,
    Insert,
    Delete,
}

/// A run of words with one tag; concatenating the `equal` and `delete` runs gives the old text,
/// the `equal` and `insert` runs the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordChange {
    pub tag: WordTag,
    pub text: String,
}

/// Unified diff (3 lines of context) between two display texts, `None` when equal.
#[must_use]
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> Option<String> {
    if old == new {
        return None;
    }
    let diff = TextDiff::configure()
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old, new);
    let mut out = diff
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string();
    if out.len() > MAX_DIFF_BYTES {
        let mut cut = MAX_DIFF_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("\n[diff truncated]\n");
    }
    Some(out)
}

/// Word-level segments between two display texts (empty when equal or too large).
#[must_use]
pub fn words(old: &str, new: &str) -> Vec<WordChange> {
    if old == new || old.len() + new.len() > MAX_WORD_DIFF_INPUT {
        return Vec::new();
    }
    let diff = TextDiff::configure()
        .timeout(DIFF_TIMEOUT)
        .diff_words(old, new);
    let mut out: Vec<WordChange> = Vec::new();
    for change in diff.iter_all_changes() {
        let tag = match change.tag() {
            ChangeTag::Equal => WordTag::Equal,
            ChangeTag::Insert => WordTag::Insert,
            ChangeTag::Delete => WordTag::Delete,
        };
        let text = change.value();
        match out.last_mut() {
            Some(last) if last.tag == tag => last.text.push_str(text),
            _ => out.push(WordChange {
                tag,
                text: text.to_owned(),
            }),
        }
    }
    out
}

/// The inserted and deleted words of a word diff, as short one-line excerpts.
#[must_use]
pub fn changed_excerpts(changes: &[WordChange], tag: WordTag, limit: usize) -> Vec<String> {
    changes
        .iter()
        .filter(|c| c.tag == tag)
        .map(|c| c.text.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty())
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_diff_shows_the_added_line() {
        let d = unified("a\nb\n", "a\nb\nc\n", "old/LICENSE", "new/LICENSE").expect("differs");
        assert!(d.contains("+c"), "{d}");
        assert!(d.contains("--- old/LICENSE"), "{d}");
        assert_eq!(unified("a\n", "a\n", "x", "y"), None);
    }

    #[test]
    fn word_segments_reassemble_both_sides() {
        let old = "provided without restriction, including\n";
        let new = "provided not without restriction, including\n";
        let w = words(old, new);
        let rebuild = |skip: WordTag| {
            w.iter()
                .filter(|c| c.tag != skip)
                .map(|c| c.text.as_str())
                .collect::<String>()
        };
        assert_eq!(rebuild(WordTag::Insert), old);
        assert_eq!(rebuild(WordTag::Delete), new);
        assert_eq!(changed_excerpts(&w, WordTag::Insert, 5), vec!["not"]);
    }
}
