//! The lockfile pin: upkeep's own small TOML file (`upstream`, `ref`, `commit` at top level).
//!
//! Parsed with `toml`'s spanned document parser to find the values; edited by replacing their
//! byte spans, so comments, spacing, key order and line endings stay as the owner wrote them.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::{Edit, Pin, PinError, PinTarget, is_commit_hex, line_of, repo_id};

const HEADER: &str = "# Pinned by upkeep: the upstream release this mirror rebuilds.\n";

/// A top-level string and the spans of its key and its value token (quotes included).
struct Field {
    value: String,
    key: Range<usize>,
    span: Range<usize>,
}

struct Lock {
    git_ref: Field,
    commit: Option<Field>,
}

fn parse(text: &str, target: &PinTarget) -> Result<Lock, PinError> {
    let doc = DeTable::parse(text).map_err(|e| PinError::Toml {
        line: e.span().map_or(1, |s| line_of(text.as_bytes(), s.start)),
        message: e.message().to_owned(),
    })?;
    let table = doc.get_ref();
    let field = |name: &str| -> Result<Option<Field>, PinError> {
        let Some((key, value)) = table.iter().find(|(k, _)| k.get_ref() == name) else {
            return Ok(None);
        };
        match value.get_ref() {
            DeValue::String(s) => Ok(Some(Field {
                value: s.to_string(),
                key: key.span(),
                span: value.span(),
            })),
            _ => Err(PinError::Lockfile(format!(
                "`{name}` must be a string (line {})",
                line_of(text.as_bytes(), key.span().start)
            ))),
        }
    };
    if let Some(upstream) = field("upstream")? {
        let (found, configured) = (
            repo_id::parse(&upstream.value),
            repo_id::parse(target.upstream),
        );
        // Bumping a lockfile that pins another repository would build the wrong code.
        if found.key != configured.key {
            return Err(PinError::UpstreamMismatch {
                found: found.display,
                configured: configured.display,
            });
        }
    }
    let Some(git_ref) = field("ref")? else {
        return Err(PinError::Lockfile("`ref` is missing".into()));
    };
    if git_ref.value.is_empty() {
        return Err(PinError::Lockfile(format!(
            "`ref` is empty (line {})",
            line_of(text.as_bytes(), git_ref.key.start)
        )));
    }
    let commit = field("commit")?.filter(|c| !c.value.is_empty());
    Ok(Lock { git_ref, commit })
}

pub(super) fn read(text: &str, target: &PinTarget) -> Result<Pin, PinError> {
    let lock = parse(text, target)?;
    let commit = match lock.commit {
        Some(c) if !is_commit_hex(&c.value) => {
            return Err(PinError::Lockfile(format!(
                "`commit` is not 40 hex digits (line {}): {:?}",
                line_of(text.as_bytes(), c.key.start),
                c.value
            )));
        }
        c => c.map(|c| c.value),
    };
    Ok(Pin {
        git_ref: lock.git_ref.value,
        commit,
    })
}

pub(super) fn edits(text: &str, target: &PinTarget, pin: &Pin) -> Result<Vec<Edit>, PinError> {
    let lock = parse(text, target)?;
    let r = &lock.git_ref;
    let mut out = vec![Edit::replace(
        r.span.clone(),
        format_like(&pin.git_ref, &text[r.span.clone()]),
    )];
    match (&lock.commit, &pin.commit) {
        (Some(c), Some(commit)) => {
            out.push(Edit::replace(
                c.span.clone(),
                format_like(commit, &text[c.span.clone()]),
            ));
        }
        (Some(c), None) => out.push(Edit::replace(remove_line(text, c), "")),
        (None, Some(commit)) => out.push(insert_after(text, r, commit)),
        (None, None) => {}
    }
    Ok(out)
}

/// A lockfile for a mirror that has none yet.
pub(super) fn new(upstream: &str, pin: &Pin) -> String {
    let mut out = String::from(HEADER);
    out.push_str(&format!("upstream = {}\n", basic(upstream)));
    out.push_str(&format!("ref = {}\n", basic(&pin.git_ref)));
    if let Some(commit) = &pin.commit {
        out.push_str(&format!("commit = {}\n", basic(commit)));
    }
    out
}

/// Start of the line holding byte `at`.
fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The span of `field`'s whole line (key to end of line, line break included). On a last line
/// without a line break, the break before it goes instead, so no trailing newline appears.
fn remove_line(text: &str, field: &Field) -> Range<usize> {
    let start = line_start(text, field.key.start);
    match text[field.span.end..].find('\n') {
        Some(n) => start..field.span.end + n + 1,
        None => {
            let before = text[..start].strip_suffix('\n').map_or(start, |t| {
                t.strip_suffix('\r').map_or(start - 1, |t| t.len())
            });
            before..text.len()
        }
    }
}

/// Insert `commit = ".."` on its own line after the `ref` line, indented like it.
fn insert_after(text: &str, git_ref: &Field, commit: &str) -> Edit {
    let start = line_start(text, git_ref.key.start);
    let indent = &text[start..git_ref.key.start];
    let indent = if indent.trim().is_empty() { indent } else { "" };
    let line = format!("{indent}commit = {}", basic(commit));
    match text[git_ref.span.end..].find('\n') {
        Some(n) => {
            let nl = git_ref.span.end + n;
            let eol = if text[..nl].ends_with('\r') {
                "\r\n"
            } else {
                "\n"
            };
            Edit::insert(nl + 1, format!("{line}{eol}"))
        }
        None => {
            let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
            Edit::insert(text.len(), format!("{eol}{line}"))
        }
    }
}

/// Quote `value` the way the old value token `old` was quoted, when that style can hold it.
fn format_like(value: &str, old: &str) -> String {
    let literal_ok =
        !value.contains('\'') && !value.contains(|c: char| c.is_control() && c != '\t');
    if old.starts_with("'''") && literal_ok {
        format!("'''{value}'''")
    } else if old.starts_with('\'') && !old.starts_with("'''") && literal_ok {
        format!("'{value}'")
    } else if old.starts_with("\"\"\"") {
        let b = basic(value);
        format!("\"\"{b}\"\"")
    } else {
        basic(value)
    }
}

/// A TOML basic string.
fn basic(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::pin::{PinFormat, read_pin, write_pin};

    const UP: &str = "https://github.com/GLips/Figma-Context-MCP.git";
    const C1: &str = "3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b";
    const C2: &str = "0123456789abcdef0123456789abcdef01234567";

    fn target() -> PinTarget<'static> {
        PinTarget {
            upstream: UP,
            entry: None,
        }
    }

    fn pin(git_ref: &str, commit: Option<&str>) -> Pin {
        Pin {
            git_ref: git_ref.into(),
            commit: commit.map(str::to_owned),
        }
    }

    fn write(text: &str, p: &Pin) -> String {
        String::from_utf8(write_pin(PinFormat::Lockfile, text.as_bytes(), &target(), p).unwrap())
            .unwrap()
    }

    #[test]
    fn edits_values_in_place() {
        let cases: &[(&str, Pin, &str)] = &[
            (
                "# c\nupstream = \"https://github.com/GLips/Figma-Context-MCP.git\"\nref = \"refs/tags/v1\"  # note\ncommit = \"3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b\"\n",
                pin("refs/tags/v2", Some(C2)),
                "# c\nupstream = \"https://github.com/GLips/Figma-Context-MCP.git\"\nref = \"refs/tags/v2\"  # note\ncommit = \"0123456789abcdef0123456789abcdef01234567\"\n",
            ),
            (
                "commit='3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b'\r\nref   =   'refs/tags/v1'\r\n\r\n[extra]\r\nref = 1\r\n",
                pin("refs/tags/it's", Some(C2)),
                "commit='0123456789abcdef0123456789abcdef01234567'\r\nref   =   \"refs/tags/it's\"\r\n\r\n[extra]\r\nref = 1\r\n",
            ),
            // Missing commit: added after `ref`, same indentation and line ending.
            (
                "  ref = \"refs/tags/v1\" # r\r\n[t]\r\n",
                pin("refs/tags/v2", Some(C1)),
                "  ref = \"refs/tags/v2\" # r\r\n  commit = \"3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b\"\r\n[t]\r\n",
            ),
            (
                "ref = \"\"\"refs/tags/v1\"\"\"",
                pin("refs/tags/v2", Some(C1)),
                "ref = \"\"\"refs/tags/v2\"\"\"\ncommit = \"3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b\"",
            ),
            // No commit wanted: the commit line goes, nothing else.
            (
                "ref = \"refs/tags/v1\"\ncommit = \"3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b\" # c\nx = 1\n",
                pin("refs/tags/v2", None),
                "ref = \"refs/tags/v2\"\nx = 1\n",
            ),
            (
                "ref = \"refs/tags/v1\"\r\ncommit = \"3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b3f1c2e9a7b\"",
                pin("refs/tags/v2", None),
                "ref = \"refs/tags/v2\"",
            ),
        ];
        for (input, p, want) in cases {
            let got = write(input, p);
            assert_eq!(&got, want, "{input:?}");
            assert_eq!(
                read_pin(PinFormat::Lockfile, got.as_bytes(), &target()).unwrap(),
                *p
            );
            assert_eq!(write(&got, p), got, "idempotent: {input:?}");
        }
    }

    #[test]
    fn new_lockfile_reads_back() {
        for p in [
            pin("refs/tags/v0.11.0", Some(C1)),
            pin("refs/tags/\"q\"\\", None),
        ] {
            let text = new(UP, &p);
            assert!(text.starts_with(HEADER));
            assert_eq!(read(&text, &target()).unwrap(), p);
        }
        assert_eq!(
            new(UP, &pin("refs/tags/v1", Some(C1))),
            format!("{HEADER}upstream = \"{UP}\"\nref = \"refs/tags/v1\"\ncommit = \"{C1}\"\n")
        );
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            ("commit = \"x\"\n", "lockfile: `ref` is missing"),
            ("ref = 1\n", "lockfile: `ref` must be a string (line 1)"),
            (
                "\n[ref]\nx = 1\n",
                "lockfile: `ref` must be a string (line 2)",
            ),
            ("\n[t]\nref = \"v\"\n", "lockfile: `ref` is missing"),
            ("ref = \"\"\n", "lockfile: `ref` is empty (line 1)"),
            (
                "a = 1\nref = \"v\nb = 2\n",
                "lockfile is not valid TOML (line 2)",
            ),
            (
                "ref = \"v\"\nref = \"w\"\n",
                "lockfile is not valid TOML (line 2)",
            ),
            (
                "ref = \"v\"\ncommit = \"abc\"\n",
                "lockfile: `commit` is not 40 hex digits (line 2): \"abc\"",
            ),
            (
                "upstream = \"git@github.com:other/repo\"\nref = \"v\"\n",
                "lockfile pins github.com/other/repo, but the configured upstream is github.com/GLips/Figma-Context-MCP",
            ),
        ];
        for (input, want) in cases {
            let err = read(input, &target()).unwrap_err();
            assert!(err.to_string().starts_with(want), "{input:?}: {err}");
        }
        // The same repository under another URL form is not a mismatch.
        let text = "upstream = \"git@github.com:glips/figma-context-mcp\"\nref = \"v\"\n";
        assert_eq!(read(text, &target()).unwrap(), pin("v", None));
    }
}
