//! The azure-pipelines pin: find the `resources.repositories` entry that points at the upstream
//! and read or edit its `ref:` value and its `# upkeep:commit=<hex>` comment in place.
//!
//! The block structure comes from [`super::yaml::scan`]; this module walks it (top-level
//! mapping -> `resources` -> `repositories` list -> entry mappings) and refuses, with a line
//! number, anything on that path it cannot edit as a single-line scalar.

use std::collections::HashSet;
use std::ops::Range;

use super::yaml::{self, Kind, Line};
use super::{Edit, Pin, PinError, PinTarget, is_commit_hex, repo_id};

const MARKER: &str = "upkeep:commit=";

/// One `key:` of a block mapping and the structural lines of its value below it.
struct Item {
    line: usize,
    key: String,
    children: Range<usize>,
}

/// A single-line scalar value and where it sits.
struct Scalar {
    text: String,
    kind: Kind,
    line: usize,
}

/// One `resources.repositories` entry.
struct Entry {
    /// Index of the entry's `-` line.
    line: usize,
    items: Vec<Item>,
}

fn malformed(l: &Line, message: impl Into<String>) -> PinError {
    PinError::Malformed {
        line: l.no,
        message: message.into(),
    }
}

/// The items of the block mapping whose first key is on `lines[first]` at column `col`,
/// reading up to `end`.
fn mapping(lines: &[Line], first: usize, end: usize, col: usize) -> Result<Vec<Item>, PinError> {
    let head = &lines[first];
    let Some(key) = &head.key else {
        return Err(malformed(head, "expected `key:`"));
    };
    let mut items = vec![Item {
        line: first,
        key: key.text.clone(),
        children: first + 1..first + 1,
    }];
    let mut seen = HashSet::from([key.text.clone()]);
    for (idx, l) in lines.iter().enumerate().take(end).skip(first + 1) {
        if l.indent <= col && l.tab_indent {
            return Err(malformed(l, "tab used for indentation"));
        }
        // Deeper lines, and a compact `- ` list at the key's own column, belong to the value.
        if l.indent > col || (l.indent == col && l.dashes > 0) {
            if let Some(last) = items.last_mut() {
                last.children.end = idx + 1;
            }
            continue;
        }
        if l.indent < col {
            return Err(malformed(l, "bad indentation"));
        }
        let Some(key) = &l.key else {
            return Err(malformed(l, "expected `key:`"));
        };
        if !seen.insert(key.text.clone()) {
            return Err(malformed(l, format!("duplicate key `{}`", key.text)));
        }
        items.push(Item {
            line: idx,
            key: key.text.clone(),
            children: idx + 1..idx + 1,
        });
    }
    Ok(items)
}

/// The block mapping that is the value of `item`, or an error naming what was expected.
fn nested_mapping(lines: &[Line], item: &Item) -> Result<Vec<Item>, PinError> {
    let l = &lines[item.line];
    if l.value.kind != Kind::Empty || l.value.props {
        return Err(PinError::Unsupported {
            line: l.no,
            what: format!(
                "`{}:` is not a block mapping (anchors/aliases/flow syntax or a scalar)",
                item.key
            ),
        });
    }
    if item.children.is_empty() {
        return Ok(Vec::new());
    }
    let first = &lines[item.children.start];
    if first.dashes > 0 || first.key.is_none() {
        return Err(malformed(
            first,
            format!("`{}:` is not a mapping", item.key),
        ));
    }
    mapping(lines, item.children.start, item.children.end, first.indent)
}

/// The `repositories:` entries under `resources:`.
fn entries(lines: &[Line]) -> Result<Vec<Entry>, PinError> {
    let Some(first) = lines.first() else {
        return Err(PinError::NoRepositories);
    };
    if first.dashes > 0 || first.key.is_none() {
        return Err(malformed(first, "the top level is not a mapping"));
    }
    let top = mapping(lines, 0, lines.len(), first.indent)?;
    let Some(resources) = top.iter().find(|i| i.key == "resources") else {
        return Err(PinError::NoRepositories);
    };
    let resources = nested_mapping(lines, resources)?;
    let Some(repos) = resources.iter().find(|i| i.key == "repositories") else {
        return Err(PinError::NoRepositories);
    };
    let head = &lines[repos.line];
    if head.value.kind != Kind::Empty || head.value.props {
        return Err(PinError::Unsupported {
            line: head.no,
            what: "`repositories:` uses YAML anchors/aliases/flow syntax".into(),
        });
    }
    let seq = repos.children.clone();
    let Some(first) = lines.get(seq.start).filter(|_| !seq.is_empty()) else {
        return Ok(Vec::new());
    };
    if first.dashes == 0 {
        return Err(malformed(first, "`repositories:` is not a list"));
    }
    let dash_col = first.indent;
    let mut starts = Vec::new();
    for idx in seq.clone() {
        let l = &lines[idx];
        if l.indent <= dash_col && l.tab_indent {
            return Err(malformed(l, "tab used for indentation"));
        }
        if l.indent == dash_col && l.dashes > 0 {
            starts.push(idx);
        } else if l.indent <= dash_col {
            return Err(malformed(l, "bad indentation in `repositories:`"));
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(seq.end);
        out.push(Entry {
            line: start,
            items: entry_items(lines, start, end)?,
        });
    }
    Ok(out)
}

fn entry_items(lines: &[Line], start: usize, end: usize) -> Result<Vec<Item>, PinError> {
    let l = &lines[start];
    if l.dashes > 1 {
        return Err(malformed(l, "`repositories:` entry is a nested list"));
    }
    if let Some(key) = &l.key {
        return mapping(lines, start, end, key.col);
    }
    match l.value.kind {
        Kind::Empty if !l.value.props => {
            let Some(first) = lines.get(start + 1).filter(|_| start + 1 < end) else {
                return Err(malformed(l, "empty `repositories:` entry"));
            };
            if first.dashes > 0 || first.key.is_none() {
                return Err(malformed(first, "`repositories:` entry is not a mapping"));
            }
            mapping(lines, start + 1, end, first.indent)
        }
        Kind::Plain | Kind::SingleQuoted | Kind::DoubleQuoted => {
            Err(malformed(l, "`repositories:` entry is not a mapping"))
        }
        _ => Err(PinError::Unsupported {
            line: l.no,
            what: "`repositories:` entry uses YAML anchors/aliases/flow syntax".into(),
        }),
    }
}

impl Entry {
    fn item(&self, key: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.key == key)
    }

    /// The single-line scalar value of `key`, if the entry has one.
    fn scalar(&self, lines: &[Line], key: &str) -> Result<Option<Scalar>, PinError> {
        let Some(item) = self.item(key) else {
            return Ok(None);
        };
        let l = &lines[item.line];
        let v = &l.value;
        let unsupported = |why: &str| PinError::Unsupported {
            line: l.no,
            what: format!("`{key}:` value {why}"),
        };
        if v.props || matches!(v.kind, Kind::Flow | Kind::Alias) {
            return Err(unsupported("uses YAML anchors/aliases/flow syntax"));
        }
        if v.multiline || !item.children.is_empty() {
            // Block scalars (`|`, `>`) always land here.
            return Err(unsupported("spans several lines"));
        }
        if v.trailing {
            return Err(malformed(
                l,
                format!("unexpected text after the `{key}:` value"),
            ));
        }
        let raw = &l.text[v.start..v.end];
        let text = match v.kind {
            Kind::Empty => return Ok(None),
            Kind::Plain => raw.to_owned(),
            _ => yaml::unquote(raw).ok_or_else(|| malformed(l, "bad escape in quoted value"))?,
        };
        Ok(Some(Scalar {
            text,
            kind: v.kind,
            line: item.line,
        }))
    }

    fn label(&self, lines: &[Line]) -> String {
        match self.scalar(lines, "repository") {
            Ok(Some(alias)) => alias.text,
            _ => format!("(entry at line {})", lines[self.line].no),
        }
    }
}

/// The entry the target designates.
fn select<'e>(
    lines: &[Line],
    entries: &'e [Entry],
    target: &PinTarget,
) -> Result<&'e Entry, PinError> {
    // A `<<` merge key can supply the field we match on; without it we cannot tell.
    let deciding = if target.entry.is_some() {
        "repository"
    } else {
        "name"
    };
    for e in entries {
        if let Some(merge) = e.item("<<")
            && e.item(deciding).is_none()
        {
            return Err(PinError::Unsupported {
                line: lines[merge.line].no,
                what: format!("an entry without its own `{deciding}:` uses a `<<` merge key"),
            });
        }
    }
    let mut matched = Vec::new();
    let (what, wanted) = if let Some(alias) = target.entry {
        for e in entries {
            if e.scalar(lines, "repository")?
                .is_some_and(|a| a.text == alias)
            {
                matched.push(e);
            }
        }
        ("`repository:` alias", alias.to_owned())
    } else {
        let id = repo_id::parse(target.upstream);
        for e in entries {
            let by_name = e
                .scalar(lines, "name")?
                .is_some_and(|n| id.matches_name(&n.text));
            let mut by_url = false;
            for key in ["endpoint", "url"] {
                by_url |= e
                    .scalar(lines, key)?
                    .is_some_and(|v| id.matches_url(&v.text));
            }
            if by_name || by_url {
                matched.push(e);
            }
        }
        ("name or URL", id.display)
    };
    match matched.as_slice() {
        [one] => Ok(one),
        [] => Err(PinError::NoMatch {
            what,
            wanted,
            found: entries.iter().map(|e| e.label(lines)).collect(),
        }),
        many => Err(PinError::Ambiguous {
            wanted,
            candidates: many.iter().map(|e| e.label(lines)).collect(),
        }),
    }
}

/// The selected entry's `ref:` scalar.
fn ref_scalar(lines: &[Line], entry: &Entry) -> Result<Scalar, PinError> {
    let label = entry.label(lines);
    if let Some(merge) = entry.item("<<") {
        return Err(PinError::Unsupported {
            line: lines[merge.line].no,
            what: format!("entry `{label}` uses a `<<` merge key (YAML anchors/aliases)"),
        });
    }
    let Some(item) = entry.item("ref") else {
        return Err(PinError::MissingRef {
            entry: label,
            line: lines[entry.line].no,
        });
    };
    match entry.scalar(lines, "ref")? {
        Some(s)
            if !(s.kind == Kind::Plain
                && matches!(s.text.as_str(), "~" | "null" | "Null" | "NULL")) =>
        {
            Ok(s)
        }
        _ => Err(PinError::EmptyRef {
            entry: label,
            line: lines[item.line].no,
        }),
    }
}

/// Where the `upkeep:commit=` token sits in a line: the marker's column and the hex span.
struct Marker {
    start: usize,
    hex: Range<usize>,
}

fn find_marker(line: &Line) -> Option<Marker> {
    let comment = line.value.comment?;
    let at = comment + line.text[comment..].find(MARKER)?;
    let hex_start = at + MARKER.len();
    let hex_end = line.text[hex_start..]
        .find([' ', '\t'])
        .map_or(line.text.len(), |n| hex_start + n);
    Some(Marker {
        start: at,
        hex: hex_start..hex_end,
    })
}

fn locate<'t>(text: &'t str, target: &PinTarget) -> Result<(Vec<Line<'t>>, Scalar), PinError> {
    let lines = yaml::scan(text)?;
    let entries = entries(&lines)?;
    let entry = select(&lines, &entries, target)?;
    let scalar = ref_scalar(&lines, entry)?;
    Ok((lines, scalar))
}

pub(super) fn read(text: &str, target: &PinTarget) -> Result<Pin, PinError> {
    let (lines, scalar) = locate(text, target)?;
    let line = &lines[scalar.line];
    let commit = match find_marker(line) {
        None => None,
        Some(m) => {
            let hex = &line.text[m.hex];
            if !is_commit_hex(hex) {
                return Err(PinError::BadCommitComment {
                    line: line.no,
                    found: hex.to_owned(),
                });
            }
            Some(hex.to_owned())
        }
    };
    Ok(Pin {
        git_ref: scalar.text,
        commit,
    })
}

pub(super) fn edits(text: &str, target: &PinTarget, pin: &Pin) -> Result<Vec<Edit>, PinError> {
    let (lines, scalar) = locate(text, target)?;
    let line = &lines[scalar.line];
    let at = |col: usize| line.start + col;
    let v = &line.value;
    let mut out = vec![Edit::replace(
        at(v.start)..at(v.end),
        format_ref(&pin.git_ref, scalar.kind),
    )];
    match (find_marker(line), &pin.commit) {
        (Some(m), Some(commit)) => out.push(Edit::replace(at(m.hex.start)..at(m.hex.end), commit)),
        (Some(m), None) => out.push(remove_marker(line, &m)),
        (None, Some(commit)) => out.push(match v.comment {
            // Keep the existing comment, after ours.
            Some(c) => Edit::insert(at(c), format!("# {MARKER}{commit} ")),
            None => Edit::insert(at(v.end), format!("  # {MARKER}{commit}")),
        }),
        (None, None) => {}
    }
    Ok(out)
}

/// Drop the `upkeep:commit=` token, and the comment with it when nothing else is in it; the
/// inverse of the insertions in [`edits`].
fn remove_marker(line: &Line, m: &Marker) -> Edit {
    let b = line.text.as_bytes();
    let comment = line.value.comment.unwrap_or(m.start);
    let mut after = m.hex.end;
    while after < b.len() && (b[after] == b' ' || b[after] == b'\t') {
        after += 1;
    }
    let before = line.text[comment + 1..m.start].trim();
    let span = if !before.is_empty() {
        // `# note upkeep:commit=..`: drop the token and the space before it.
        let mut from = m.start;
        while from > comment + 1 && (b[from - 1] == b' ' || b[from - 1] == b'\t') {
            from -= 1;
        }
        from..m.hex.end
    } else if after >= b.len() {
        // The whole comment was ours: drop it and the gap before it.
        line.value.end..m.hex.end
    } else if b[after] == b'#' {
        comment..after
    } else {
        m.start..after
    };
    Edit::replace(line.start + span.start..line.start + span.end, "")
}

/// Write `value` in the style the old value used; plain falls back to single quotes when the
/// value would not read back as the same string.
fn format_ref(value: &str, kind: Kind) -> String {
    match kind {
        Kind::DoubleQuoted => {
            format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
        }
        Kind::Plain if plain_safe(value) => value.to_owned(),
        _ => format!("'{}'", value.replace('\'', "''")),
    }
}

fn plain_safe(v: &str) -> bool {
    let Some(first) = v.chars().next() else {
        return false;
    };
    let lower = v.to_ascii_lowercase();
    !("-?:,[]{}#&*!|>'\"%@`".contains(first)
        || v.trim() != v
        || v.contains(": ")
        || v.contains(" #")
        || v.ends_with(':')
        || v.contains(char::is_control)
        || matches!(
            lower.as_str(),
            "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
        )
        || lower.starts_with(".inf")
        || lower.starts_with(".nan")
        || lower.starts_with("0x")
        || lower.starts_with("0o")
        || v.parse::<f64>().is_ok())
}

#[cfg(test)]
mod tests;
