//! The license state of one revision: what [`super::scan`] found, stored as the server's baseline.
//!
//! Pure data (serde, stored in SQLite as JSON). Building entries from bytes lives here too, so
//! `scan` only walks git and everything it derives is testable without a repository.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::identify::{self, Detection};
use super::normalize::{self, Markup};

/// Snapshot format version; bump when the meaning of stored fields changes.
/// 2: entries of workspace members, packages and vendored trees (`scope`, `package`).
pub const SNAPSHOT_VERSION: u32 = 2;

/// Blobs above this size are not loaded (hostile or mistaken inputs).
pub const MAX_BLOB_BYTES: u64 = 1024 * 1024;

/// Stored display text is capped at this many bytes (diffs of longer texts are partial).
pub const MAX_STORED_TEXT: usize = 256 * 1024;

/// The license-relevant state of one revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicenseSnapshot {
    /// [`SNAPSHOT_VERSION`] at the time of the scan.
    pub version: u32,
    /// The commit the snapshot was taken at (empty for hand-built snapshots).
    pub commit: String,
    /// License files and manifest fields, sorted by (path, field).
    pub entries: Vec<LicenseEntry>,
    /// Root manifests seen (including ones without a license field, such as go.mod).
    pub manifests: Vec<ManifestSeen>,
    /// True when discovery stopped early (too many files under a license directory, or a walk
    /// limit of the repository tree; `notes` says which).
    #[serde(default)]
    pub truncated: bool,
    /// What the bounded walk of the tree left out, for people (empty when nothing).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl LicenseSnapshot {
    /// An empty snapshot: no license at all (the state before a server was first scanned).
    #[must_use]
    pub fn empty() -> Self {
        Self {
            version: SNAPSHOT_VERSION,
            commit: String::new(),
            entries: Vec::new(),
            manifests: Vec::new(),
            truncated: false,
            notes: Vec::new(),
        }
    }

    /// Sorts entries into their canonical order (scan does this; hand-built snapshots may not).
    pub fn sort(&mut self) {
        self.entries.sort_by(|a, b| {
            (a.path.as_str(), a.field.as_deref()).cmp(&(b.path.as_str(), b.field.as_deref()))
        });
        self.manifests.sort_by(|a, b| a.path.cmp(&b.path));
    }

    /// The fingerprint of this state: sha256 over the sorted (path, field, normalised body hash)
    /// triples. Approvals are keyed on it, so any later non-cosmetic change needs a new approval.
    /// Vendored entries are left out: a vendored tree's churn never voids an approval (its changes
    /// are reported, and reviewed only when the policy asks for `vendored-changed`).
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let mut rows: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.scope != Scope::Vendored)
            .map(|e| {
                format!(
                    "{}\u{0}{}\u{0}{}\n",
                    e.path,
                    e.field.as_deref().unwrap_or(""),
                    e.identity_hash()
                )
            })
            .collect();
        rows.sort();
        let mut hasher = Sha256::new();
        hasher.update(b"upkeep-license-fingerprint-v1\n");
        for row in rows {
            hasher.update(row.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// LICENSE, COPYING, UNLICENSE, files under LICENSES/.
    License,
    /// NOTICE files.
    Notice,
    /// PATENTS files.
    Patents,
    /// A license field of a manifest (or an SPDX-License-Identifier header in it).
    ManifestField,
}

impl EntryKind {
    /// Lower-case name for messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::License => "license",
            Self::Notice => "notice",
            Self::Patents => "patents",
            Self::ManifestField => "manifest-field",
        }
    }
}

/// Which part of the repository an entry declares the license of.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// The repository root (its files, `LICENSES/` and root manifests).
    #[default]
    Root,
    /// A workspace member, package or sub-project in a subdirectory (its own manifest or license).
    Package,
    /// Third-party code committed under `vendor/`, `third_party/`, `node_modules/`, ...
    Vendored,
}

impl Scope {
    /// Lower-case name for tables.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Package => "package",
            Self::Vendored => "vendored",
        }
    }
}

/// Whether an entry's content could be read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryState {
    /// Text, normalised and judged.
    Text,
    /// NUL bytes or too much invalid UTF-8.
    Binary,
    /// Over [`MAX_BLOB_BYTES`]; not loaded.
    TooLarge,
    /// A symlink in the tree; the target (in `detail`) is never followed.
    Symlink,
    /// A manifest that did not parse (error in `detail`).
    Unparsable,
    /// Something else that cannot be judged (a submodule named LICENSE, a missing object).
    Unreadable,
}

/// One license file or manifest field at one revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicenseEntry {
    /// Path from the repository root (non-UTF-8 bytes replaced).
    pub path: String,
    /// Manifest field name (`license`, `classifiers`, `SPDX-License-Identifier`, ...); None for files.
    pub field: Option<String>,
    pub kind: EntryKind,
    /// Root, package or vendored (absent in snapshots before version 2: root).
    #[serde(default)]
    pub scope: Scope,
    /// The directory of the package this entry belongs to (`""` for the root).
    #[serde(default)]
    pub package: String,
    pub state: EntryState,
    /// Size in bytes of the blob (or of the field value).
    pub size: u64,
    /// Git blob id (files only).
    pub blob_id: Option<String>,
    /// sha256 of the raw bytes; for a too-large blob, of its blob id (the bytes are not read).
    pub sha256: String,
    /// sha256 of the normalised text, copyright lines included.
    pub text_sha256: Option<String>,
    /// sha256 of the normalised text without copyright lines: "same license text".
    pub body_sha256: Option<String>,
    /// What the detector says the text is (files only).
    pub detected: Option<Detection>,
    /// Canonical SPDX expression (manifest fields and headers that parse).
    pub expression: Option<String>,
    /// License ids named by `expression`.
    #[serde(default)]
    pub expression_ids: Vec<String>,
    /// Copyright lines, normalised.
    #[serde(default)]
    pub copyright: Vec<String>,
    /// Display text (lightly normalised, rewrapped), capped at [`MAX_STORED_TEXT`].
    pub text: Option<String>,
    #[serde(default)]
    pub text_truncated: bool,
    /// Symlink target, parse error or other explanation.
    pub detail: Option<String>,
}

impl LicenseEntry {
    /// Path plus field, as people read it: `LICENSE`, `package.json license`.
    #[must_use]
    pub fn display_path(&self) -> String {
        match &self.field {
            Some(f) => format!("{} {f}", self.path),
            None => self.path.clone(),
        }
    }

    /// The hash that decides "same content" for renames and fingerprints.
    #[must_use]
    pub fn identity_hash(&self) -> &str {
        self.body_sha256.as_deref().unwrap_or(&self.sha256)
    }

    /// The label people read: detected id or expression, `binary`, `symlink -> x`, ...
    #[must_use]
    pub fn label(&self) -> String {
        match self.state {
            EntryState::Text => {
                if let Some(expr) = &self.expression {
                    expr.clone()
                } else if let Some(d) = &self.detected {
                    d.label()
                } else if self.kind == EntryKind::ManifestField {
                    format!("\"{}\"", self.text.as_deref().unwrap_or("").trim())
                } else {
                    "unidentified text".to_owned()
                }
            }
            EntryState::Binary => "binary file".to_owned(),
            EntryState::TooLarge => format!("file too large to judge ({} bytes)", self.size),
            EntryState::Symlink => format!("symlink -> {}", self.detail.as_deref().unwrap_or("?")),
            EntryState::Unparsable => "unparsable manifest".to_owned(),
            EntryState::Unreadable => {
                format!("unreadable ({})", self.detail.as_deref().unwrap_or("?"))
            }
        }
    }

    /// Builds a file entry from its blob bytes (decoding, normalisation, hashes, detection).
    ///
    /// # Errors
    /// Only when the detection store cannot be loaded.
    pub fn from_file_bytes(
        path: &str,
        kind: EntryKind,
        blob_id: Option<String>,
        bytes: &[u8],
    ) -> anyhow::Result<Self> {
        let mut entry = Self::bare(path, None, kind, EntryState::Text);
        entry.size = bytes.len() as u64;
        entry.blob_id = blob_id;
        entry.sha256 = sha256_hex(bytes);
        let Some(text) = decode_text(bytes) else {
            entry.state = EntryState::Binary;
            return Ok(entry);
        };
        entry.fill_text(&text, Markup::from_path(path));
        // NOTICE and PATENTS texts are not licenses; a label would only mislead.
        if kind == EntryKind::License {
            let key = entry.body_sha256.clone().unwrap_or_default();
            entry.detected = identify::detect(&text, &key)?;
        }
        Ok(entry)
    }

    /// Places the entry in a package (`dir` non-empty) or vendored tree; the root is the default.
    #[must_use]
    pub fn in_scope(mut self, scope: Scope, dir: &str) -> Self {
        self.scope = scope;
        self.package = dir.to_owned();
        self
    }

    /// Builds a manifest-field entry from its (string) value.
    #[must_use]
    pub fn from_manifest_value(path: &str, field: &str, value: &str) -> Self {
        let mut entry = Self::bare(
            path,
            Some(field.to_owned()),
            EntryKind::ManifestField,
            EntryState::Text,
        );
        entry.size = value.len() as u64;
        entry.sha256 = sha256_hex(value.as_bytes());
        entry.fill_text(value, Markup::Text);
        if let Some(parsed) = identify::parse_expression(value) {
            // An expression's meaning is its canonical form; folding "Apache 2.0" into
            // "Apache-2.0" is formatting, so the identity hash follows the canonical text.
            entry.body_sha256 = Some(sha256_hex(parsed.canonical.as_bytes()));
            entry.expression = Some(parsed.canonical);
            entry.expression_ids = parsed.ids;
        }
        entry
    }

    /// An entry that could not be read as text (binary, too large, symlink, unparsable, ...).
    #[must_use]
    pub fn unjudgeable(
        path: &str,
        field: Option<&str>,
        kind: EntryKind,
        state: EntryState,
        size: u64,
        sha256: String,
        detail: Option<String>,
    ) -> Self {
        let mut entry = Self::bare(path, field.map(str::to_owned), kind, state);
        entry.size = size;
        entry.sha256 = sha256;
        entry.detail = detail;
        entry
    }

    fn bare(path: &str, field: Option<String>, kind: EntryKind, state: EntryState) -> Self {
        Self {
            path: path.to_owned(),
            field,
            kind,
            scope: Scope::Root,
            package: String::new(),
            state,
            size: 0,
            blob_id: None,
            sha256: String::new(),
            text_sha256: None,
            body_sha256: None,
            detected: None,
            expression: None,
            expression_ids: Vec::new(),
            copyright: Vec::new(),
            text: None,
            text_truncated: false,
            detail: None,
        }
    }

    fn fill_text(&mut self, text: &str, markup: Markup) {
        let n = normalize::normalise(text, markup);
        self.text_sha256 = Some(sha256_hex(n.full_key.as_bytes()));
        self.body_sha256 = Some(sha256_hex(n.body_key.as_bytes()));
        self.copyright = n.copyright;
        let mut display = n.display;
        if display.len() > MAX_STORED_TEXT {
            let mut cut = MAX_STORED_TEXT;
            while !display.is_char_boundary(cut) {
                cut -= 1;
            }
            display.truncate(cut);
            self.text_truncated = true;
        }
        self.text = Some(display);
    }
}

/// A manifest found at the root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSeen {
    pub path: String,
    /// False when it did not parse (the entry list then holds an `unparsable` entry).
    pub parsed: bool,
    /// License fields read from it (empty for go.mod).
    pub fields: Vec<String>,
}

/// sha256 as lower-case hex.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Decodes a blob as text, or `None` when it looks binary.
///
/// UTF-16 with a BOM is decoded; otherwise NUL bytes mean binary, and invalid UTF-8 beyond 2 % of
/// the bytes means binary. A few invalid bytes (Latin-1 files) are kept as Latin-1 characters
/// rather than replacement characters, so two different bytes never compare equal.
#[must_use]
pub fn decode_text(bytes: &[u8]) -> Option<String> {
    if let Some(text) = decode_utf16(bytes) {
        return Some(text);
    }
    if bytes.contains(&0) {
        return None;
    }
    let mut out = String::with_capacity(bytes.len());
    let mut invalid = 0usize;
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for &b in chunk.invalid() {
            invalid += 1;
            out.push(char::from(b));
        }
    }
    if invalid * 50 > bytes.len() {
        return None;
    }
    Some(out)
}

fn decode_utf16(bytes: &[u8]) -> Option<String> {
    let (le, body) = match bytes {
        [0xff, 0xfe, rest @ ..] => (true, rest),
        [0xfe, 0xff, rest @ ..] => (false, rest),
        _ => return None,
    };
    if body.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = body
        .chunks_exact(2)
        .map(|p| {
            if le {
                u16::from_le_bytes([p[0], p[1]])
            } else {
                u16::from_be_bytes([p[0], p[1]])
            }
        })
        .collect();
    let text = String::from_utf16(&units).ok()?;
    if text.contains('\0') {
        None
    } else {
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_latin1_detection() {
        assert_eq!(decode_text(b"abc\0def"), None);
        let latin1 = b"Copyright (c) 2024 M\xfcller\nPermission is granted to everyone here.\n";
        let text = decode_text(latin1).expect("a few invalid bytes are text");
        assert!(text.contains("M\u{fc}ller"));
        assert_eq!(decode_text(&[0x80, 0x81, 0x82, 0x83, b'a']), None);
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain("MIT".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode_text(&utf16).as_deref(), Some("MIT"));
    }

    #[test]
    fn fingerprint_ignores_copyright_but_not_terms() {
        let snap = |text: &str| LicenseSnapshot {
            entries: vec![
                LicenseEntry::from_file_bytes("NOTICE", EntryKind::Notice, None, text.as_bytes())
                    .expect("entry"),
            ],
            ..LicenseSnapshot::empty()
        };
        let a = snap("Copyright 2023 A\n\nThis product includes software from B.\n");
        let b = snap("Copyright 2025 A\n\nThis product includes software from B.\n");
        let c = snap("Copyright 2025 A\n\nThis product includes software from C.\n");
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_ne!(a.entries[0].sha256, b.entries[0].sha256);
    }

    #[test]
    fn snapshot_round_trips_through_json() {
        let mut snap = LicenseSnapshot::empty();
        snap.entries.push(LicenseEntry::from_manifest_value(
            "package.json",
            "license",
            "Apache 2.0",
        ));
        let json = serde_json::to_string(&snap).expect("serialise");
        let back: LicenseSnapshot = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, snap);
        assert_eq!(back.entries[0].expression.as_deref(), Some("Apache-2.0"));
    }
}
