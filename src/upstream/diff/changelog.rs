//! Release notes: finding one version's section in a changelog text (pure).
//!
//! Owns the choice of changelog file names and the Markdown heading rules (ATX `#` headings and
//! setext underlines, fenced code blocks skipped). It does not read git: the caller hands over the
//! file names at the repository root and the text of the chosen file.

/// Changelog file names, in order of preference, compared case-insensitively at the tree root.
pub const CHANGELOG_NAMES: [&str; 6] = [
    "CHANGELOG.md",
    "CHANGELOG",
    "CHANGES.md",
    "HISTORY.md",
    "CHANGELOG.txt",
    "CHANGES",
];

/// Cap on the section text, so that a runaway section cannot bloat reports and PR bodies.
pub const MAX_SECTION_BYTES: usize = 8 * 1024;

/// One version's section of a changelog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The heading line's text, without `#` markers.
    pub heading: String,
    /// The text under the heading up to the next heading of the same or a higher level, trimmed.
    pub body: String,
    /// True when the body was cut at [`MAX_SECTION_BYTES`].
    pub truncated: bool,
}

/// Picks the preferred changelog among the names of the root tree's entries.
pub fn pick_changelog<'a>(names: impl IntoIterator<Item = &'a str> + Clone) -> Option<&'a str> {
    CHANGELOG_NAMES.iter().find_map(|want| {
        names
            .clone()
            .into_iter()
            .find(|n| n.eq_ignore_ascii_case(want))
    })
}

/// A heading found in the text: its level (1 = highest), text and the line range it occupies.
struct Heading<'a> {
    level: usize,
    text: &'a str,
    /// Index of the first line after the heading (setext headings span two lines).
    body_start: usize,
    line: usize,
}

fn headings<'a>(lines: &[&'a str]) -> Vec<Heading<'a>> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent < 4 {
            for marker in ["```", "~~~"] {
                if trimmed.starts_with(marker) {
                    fence = match fence {
                        None => Some(marker),
                        Some(open) if open == marker => None,
                        Some(open) => Some(open),
                    };
                }
            }
        }
        if fence.is_some() || trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            i += 1;
            continue;
        }
        if indent < 4 && trimmed.starts_with('#') {
            let level = trimmed.bytes().take_while(|&b| b == b'#').count();
            let rest = &trimmed[level..];
            if level <= 6 && (rest.is_empty() || rest.starts_with([' ', '\t'])) {
                let text = rest.trim().trim_end_matches('#').trim_end();
                out.push(Heading {
                    level,
                    text,
                    body_start: i + 1,
                    line: i,
                });
                i += 1;
                continue;
            }
        }
        // Setext: a non-blank paragraph line underlined with `===` (level 1) or `---` (level 2).
        if indent < 4 && !trimmed.is_empty() && i + 1 < lines.len() {
            let under = lines[i + 1].trim();
            let level = if !under.is_empty() && under.bytes().all(|b| b == b'=') {
                Some(1)
            } else if under.len() >= 2 && under.bytes().all(|b| b == b'-') {
                Some(2)
            } else {
                None
            };
            if let Some(level) = level {
                out.push(Heading {
                    level,
                    text: trimmed.trim_end(),
                    body_start: i + 2,
                    line: i,
                });
                i += 2;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// True when `heading` names `version` as a whole token: `1.2.0` matches `## [1.2.0] - 2024`
/// and `v1.2.0`, but not `11.2.0`, `1.2.01` or `1.2.0.1`.
pub fn heading_mentions(heading: &str, version: &str) -> bool {
    let version = version.trim();
    let bare = version
        .strip_prefix(['v', 'V'])
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(version);
    if bare.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(pos) = heading[from..].find(bare) {
        let start = from + pos;
        let end = start + bare.len();
        let before = heading[..start].chars().next_back();
        let before_ok = match before {
            None => true,
            // `v1.2.0`, but not `xv1.2.0`.
            Some('v' | 'V') => !heading[..start - 1]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric),
            Some(c) => !(c.is_alphanumeric() || c == '.' || c == '-' || c == '+'),
        };
        let mut after = heading[end..].chars();
        let after_ok = match after.next() {
            None => true,
            // A sentence-ending dot is fine; `.1` continues the version.
            Some('.') => !after.next().is_some_and(|c| c.is_alphanumeric()),
            Some(c) => !(c.is_alphanumeric() || c == '-' || c == '+'),
        };
        if before_ok && after_ok {
            return true;
        }
        from = start + bare.len().max(1);
        while !heading.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

/// The section for `version`: the first heading that mentions it, and the lines until the next
/// heading of the same or a higher level (a smaller level number).
pub fn find_section(text: &str, version: &str) -> Option<Section> {
    let lines: Vec<&str> = text.lines().collect();
    let heads = headings(&lines);
    let (idx, head) = heads
        .iter()
        .enumerate()
        .find(|(_, h)| heading_mentions(h.text, version))?;
    let end = heads[idx + 1..]
        .iter()
        .find(|h| h.level <= head.level)
        .map_or(lines.len(), |h| h.line);
    let body_lines = lines.get(head.body_start..end.max(head.body_start))?;
    let body = body_lines.join("\n");
    let body = body.trim_matches(|c| c == '\n' || c == '\r').trim_end();
    let (body, truncated) = cap(body, MAX_SECTION_BYTES);
    Some(Section {
        heading: head.text.to_owned(),
        body,
        truncated,
    })
}

/// Cuts `s` to at most `max` bytes, at a line end when one is near, else at a char boundary.
fn cap(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_owned(), false);
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    if let Some(nl) = s[..cut].rfind('\n').filter(|&nl| nl >= max / 2) {
        cut = nl;
    }
    (s[..cut].trim_end().to_owned(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEEP_A_CHANGELOG: &str = "\
# Changelog

All notable changes.

## [Unreleased]

- nothing yet

## [1.2.0] - 2024-11-03

### Added
- new `search` tool

### Fixed
- crash on empty input

## [1.1.0] - 2024-10-01

- older stuff
";

    #[test]
    fn finds_keep_a_changelog_section_with_subheadings() {
        let s = find_section(KEEP_A_CHANGELOG, "v1.2.0").unwrap();
        assert_eq!(s.heading, "[1.2.0] - 2024-11-03");
        assert_eq!(
            s.body,
            "### Added\n- new `search` tool\n\n### Fixed\n- crash on empty input"
        );
        assert!(!s.truncated);
        let older = find_section(KEEP_A_CHANGELOG, "1.1.0").unwrap();
        assert_eq!(older.body, "- older stuff");
    }

    #[test]
    fn missing_version_is_none() {
        assert_eq!(find_section(KEEP_A_CHANGELOG, "1.3.0"), None);
        assert_eq!(find_section(KEEP_A_CHANGELOG, ""), None);
        assert_eq!(find_section("", "1.0.0"), None);
    }

    #[test]
    fn heading_mentions_table() {
        let cases = [
            ("[1.2.0] - 2024-11-03", "1.2.0", true),
            ("v1.2.0", "1.2.0", true),
            ("Version 1.2.0.", "1.2.0", true),
            ("1.2.0 (2024)", "v1.2.0", true),
            ("11.2.0", "1.2.0", false),
            ("1.2.01", "1.2.0", false),
            ("1.2.0.1", "1.2.0", false),
            ("1.2.0-rc1", "1.2.0", false),
            ("dev1.2.0", "1.2.0", false),
            ("1.2.0-rc1", "1.2.0-rc1", true),
            ("Ünïcode 1.2.0 ✓", "1.2.0", true),
        ];
        for (heading, version, want) in cases {
            assert_eq!(
                heading_mentions(heading, version),
                want,
                "{heading:?} / {version:?}"
            );
        }
    }

    #[test]
    fn setext_headings_and_code_fences() {
        let text = "\
Changes
=======

2.0.0
-----

```
# 1.0.0 not a heading inside a fence
```
* big change

1.0.0
-----

* first
";
        let s = find_section(text, "2.0.0").unwrap();
        assert_eq!(s.heading, "2.0.0");
        assert_eq!(
            s.body,
            "```\n# 1.0.0 not a heading inside a fence\n```\n* big change"
        );
        assert_eq!(find_section(text, "1.0.0").unwrap().body, "* first");
    }

    #[test]
    fn lower_level_section_stops_at_higher_level_heading() {
        let text = "# 3.0\n### 2.1.0\nnotes\n## Other\nnot included\n";
        let s = find_section(text, "2.1.0").unwrap();
        assert_eq!(s.body, "notes");
    }

    #[test]
    fn long_sections_are_capped_on_a_line_boundary() {
        let mut text = String::from("## 1.0.0\n");
        for i in 0..2000 {
            text.push_str(&format!("- change number {i} é\n"));
        }
        text.push_str("## 0.9.0\n");
        let s = find_section(&text, "1.0.0").unwrap();
        assert!(s.truncated);
        assert!(s.body.len() <= MAX_SECTION_BYTES);
        assert!(
            s.body.ends_with('é'),
            "cut at a line end: {:?}",
            &s.body[s.body.len() - 20..]
        );
    }

    #[test]
    fn picks_changelog_by_preference_case_insensitively() {
        assert_eq!(
            pick_changelog(["README.md", "history.md", "Changelog.md"]),
            Some("Changelog.md")
        );
        assert_eq!(pick_changelog(["HISTORY.md", "src"]), Some("HISTORY.md"));
        assert_eq!(pick_changelog(["README.md"]), None);
    }
}
