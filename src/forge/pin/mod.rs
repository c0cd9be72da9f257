//! Pin-file editors: read and rewrite the one value in the mirror repository that says which
//! upstream release the rebuild pipeline builds.
//!
//! Two formats:
//! - [`PinFormat::AzurePipelines`]: the `ref:` of one `resources.repositories` entry in an Azure
//!   Pipelines YAML file, with the commit in a trailing `# upkeep:commit=<hex>` comment;
//! - [`PinFormat::Lockfile`]: upkeep's own small TOML file (`upstream`, `ref`, `commit`).
//!
//! Every edit is a byte-span replacement on the original text: comments, key order, quoting,
//! indentation, CRLF/LF line endings, a BOM and a missing trailing newline all survive, because
//! a parse-and-serialise round trip would lose them. Anything this module cannot edit safely
//! (anchors, flow syntax, multi-line scalars on the pinned value, several documents) is an
//! error, never a guess. Pure: no I/O; the forge reads and writes the bytes.

mod lockfile;
mod repo_id;
mod yaml;
mod yaml_pin;

use std::ops::Range;

/// Which kind of pin file the mirror keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinFormat {
    /// An Azure Pipelines YAML file whose `resources.repositories` entry pins the upstream.
    AzurePipelines,
    /// upkeep's own TOML lockfile (usually `upkeep.lock`).
    Lockfile,
}

/// The pinned upstream release.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pin {
    /// Full ref name, e.g. `refs/tags/v0.11.0`.
    pub git_ref: String,
    /// The commit the ref pointed at when pinned (40 hex digits; 64 for SHA-256 repositories).
    pub commit: Option<String>,
}

/// How to find the entry that points at the upstream in an azure-pipelines file.
#[derive(Debug, Clone, Copy)]
pub struct PinTarget<'a> {
    /// The configured upstream URL or local path.
    pub upstream: &'a str,
    /// Explicit `repository:` alias from the config; when set, only that entry matches.
    pub entry: Option<&'a str>,
}

/// Why a pin file could not be read or edited. Line numbers are 1-based.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("not valid UTF-8 (line {line})")]
    NotUtf8 { line: usize },
    #[error("no `resources:` -> `repositories:` list in the file")]
    NoRepositories,
    #[error("no resources.repositories entry whose {what} matches {wanted} (found: {})", list_or_none(.found))]
    NoMatch {
        /// "name or URL" or "`repository:` alias".
        what: &'static str,
        wanted: String,
        found: Vec<String>,
    },
    #[error("{} entries match {wanted}; set pin-entry to one of: {}", .candidates.len(), .candidates.join(", "))]
    Ambiguous {
        wanted: String,
        candidates: Vec<String>,
    },
    #[error("entry `{entry}` (line {line}) has no `ref:`")]
    MissingRef { entry: String, line: usize },
    #[error("entry `{entry}` has an empty `ref:` (line {line})")]
    EmptyRef { entry: String, line: usize },
    #[error("line {line}: {what}; upkeep cannot edit this safely")]
    Unsupported {
        line: usize,
        /// What was found, e.g. "`ref:` value uses YAML anchors/aliases/flow syntax".
        what: String,
    },
    #[error("line {line}: {message}")]
    Malformed { line: usize, message: String },
    #[error("line {line}: a second YAML document starts here; pin files must hold one document")]
    MultipleDocuments { line: usize },
    #[error(
        "line {line}: malformed `upkeep:commit=` comment (expected 40 hex digits, found {found:?})"
    )]
    BadCommitComment { line: usize, found: String },
    #[error("lockfile is not valid TOML (line {line}): {message}")]
    Toml { line: usize, message: String },
    #[error("lockfile: {0}")]
    Lockfile(String),
    #[error("lockfile pins {found}, but the configured upstream is {configured}")]
    UpstreamMismatch { found: String, configured: String },
    #[error("cannot write pin: {0}")]
    InvalidPin(String),
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// Read the pinned release from a pin file.
pub fn read_pin(format: PinFormat, content: &[u8], target: &PinTarget) -> Result<Pin, PinError> {
    let (_, text) = decode(content)?;
    match format {
        PinFormat::AzurePipelines => yaml_pin::read(text, target),
        PinFormat::Lockfile => lockfile::read(text, target),
    }
}

/// Return `content` with the pinned release replaced by `pin`; every other byte is unchanged.
pub fn write_pin(
    format: PinFormat,
    content: &[u8],
    target: &PinTarget,
    pin: &Pin,
) -> Result<Vec<u8>, PinError> {
    validate_pin(pin)?;
    let (bom, text) = decode(content)?;
    let edits = match format {
        PinFormat::AzurePipelines => yaml_pin::edits(text, target, pin)?,
        PinFormat::Lockfile => lockfile::edits(text, target, pin)?,
    };
    let mut out = Vec::with_capacity(content.len() + 64);
    out.extend_from_slice(bom);
    out.extend_from_slice(apply_edits(text, edits).as_bytes());
    Ok(out)
}

/// A new lockfile for a mirror that has no pin file yet.
pub fn new_lockfile(upstream: &str, pin: &Pin) -> Vec<u8> {
    lockfile::new(upstream, pin).into_bytes()
}

/// One byte-span replacement in the text (after any BOM).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Edit {
    span: Range<usize>,
    text: String,
}

impl Edit {
    fn replace(span: Range<usize>, text: impl Into<String>) -> Self {
        Self {
            span,
            text: text.into(),
        }
    }

    fn insert(at: usize, text: impl Into<String>) -> Self {
        Self::replace(at..at, text)
    }
}

/// Apply non-overlapping edits; they may come in any order.
fn apply_edits(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| (e.span.start, e.span.end));
    let mut out = String::with_capacity(text.len() + 64);
    let mut pos = 0;
    for edit in edits {
        debug_assert!(edit.span.start >= pos, "overlapping pin edits");
        out.push_str(&text[pos..edit.span.start]);
        out.push_str(&edit.text);
        pos = edit.span.end;
    }
    out.push_str(&text[pos..]);
    out
}

/// Split off a UTF-8 BOM (kept verbatim on write) and check the rest is UTF-8.
fn decode(content: &[u8]) -> Result<(&[u8], &str), PinError> {
    let bom_len = if content.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let (bom, rest) = content.split_at(bom_len);
    match std::str::from_utf8(rest) {
        Ok(text) => Ok((bom, text)),
        Err(e) => Err(PinError::NotUtf8 {
            line: line_of(rest, e.valid_up_to()),
        }),
    }
}

/// 1-based line number of byte offset `at`.
fn line_of(text: &[u8], at: usize) -> usize {
    text[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Commit ids are SHA-1 (40) or SHA-256 (64) hex.
fn is_commit_hex(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Refuse values that would break the line they are written into.
fn validate_pin(pin: &Pin) -> Result<(), PinError> {
    let r = &pin.git_ref;
    if r.is_empty() || r.trim() != r || r.chars().any(char::is_control) {
        return Err(PinError::InvalidPin(format!(
            "ref {r:?} is empty, has surrounding whitespace or control characters"
        )));
    }
    if let Some(commit) = &pin.commit
        && !is_commit_hex(commit)
    {
        return Err(PinError::InvalidPin(format!(
            "commit {commit:?} is not 40 (or 64) hex digits"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_edits_in_any_order() {
        let out = apply_edits(
            "abcdef",
            vec![
                Edit::replace(4..5, "E"),
                Edit::insert(0, ">"),
                Edit::replace(1..3, ""),
            ],
        );
        assert_eq!(out, ">adEf");
    }

    #[test]
    fn decode_keeps_bom_apart_and_reports_bad_utf8_line() {
        let (bom, text) = decode(b"\xEF\xBB\xBFa: 1\n").unwrap();
        assert_eq!(bom, b"\xEF\xBB\xBF");
        assert_eq!(text, "a: 1\n");
        let err = decode(b"a: 1\nb: \xFF\n").unwrap_err();
        assert!(matches!(err, PinError::NotUtf8 { line: 2 }), "{err}");
        assert_eq!(err.to_string(), "not valid UTF-8 (line 2)");
    }

    #[test]
    fn validate_pin_rejects_values_that_break_lines() {
        let ok = Pin {
            git_ref: "refs/tags/v1".into(),
            commit: Some("a".repeat(40)),
        };
        assert!(validate_pin(&ok).is_ok());
        for (git_ref, commit) in [
            ("", None),
            ("refs/tags/v1\n", None),
            (" refs/tags/v1", None),
            ("refs/tags/\tv1", None),
            ("refs/tags/v1", Some("abc")),
            ("refs/tags/v1", Some("g".repeat(40).as_str())),
        ] {
            let pin = Pin {
                git_ref: git_ref.into(),
                commit: commit.map(str::to_owned),
            };
            assert!(
                matches!(validate_pin(&pin), Err(PinError::InvalidPin(_))),
                "{pin:?}"
            );
        }
    }
}
