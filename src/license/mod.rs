//! License judgement: discovery, identification, normalised diff and classification of the
//! license files and manifest license fields of an upstream release.
//!
//! Owns the answer to "did the license change in a way that needs legal review?". Two entry
//! points: [`scan`] reads one commit from git objects (never a checkout) into a
//! [`LicenseSnapshot`] (stored as the server's baseline), and [`judge`] compares two snapshots
//! under a [`LicensePolicy`] into a [`LicenseJudgement`] (pure).
//!
//! The texts themselves are judged, not their SPDX labels: detectors still call MIT-plus-a-
//! restriction "MIT" at 0.94, so only changes confined to copyright lines, whitespace, reflow and
//! formatting are cosmetic; every other text change needs review. This module does not send mail,
//! store anything or talk to forges.
//!
//! Submodules: `discover` (git, the only I/O), `manifest` (manifest fields), `normalize`
//! (normalised texts, copyright lines), `identify` (SPDX detection and expressions), `snapshot`
//! (the stored state), `diff` (readable diffs), `judge` (classification), `code` (the finding
//! codes), `policy`.

mod analysis;
mod canonical;
pub mod code;
mod diff;
mod discover;
mod expression;
mod family;
mod identify;
mod judge;
mod manifest;
mod normalize;
mod params;
mod policy;
mod snapshot;
mod terms;
mod walk;

pub use analysis::{LicenseAnalysis, PackageRow, Side};
pub use canonical::{CanonicalDiff, Filled, NonStandard, Position, standard_text};
pub use code::FindingCode;
pub use diff::{WordChange, WordTag};
pub use discover::{MAX_DIR_FILES, classify_name};
pub use expression::Expr;
pub use family::{Classified, DISCLAIMER, Family, Source as FamilySource};
pub use identify::{CONFIDENT, Detection, ParsedExpression, parse_expression};
pub use judge::{Change, FileJudgement, Finding, LicenseJudgement, Verdict};
pub use manifest::{Field as ManifestField, MANIFESTS};
pub use normalize::{Markup, Normalised, is_copyright_line, normalise};
pub use params::{BUSL_KEYS, Parameter, ParameterChange};
pub use policy::LicensePolicy;
pub use snapshot::{
    EntryKind, EntryState, LicenseEntry, LicenseSnapshot, MAX_BLOB_BYTES, MAX_STORED_TEXT,
    ManifestSeen, SNAPSHOT_VERSION, Scope, decode_text, sha256_hex,
};
pub use terms::{Rider, RiderKind};
pub use walk::{MAX_DEPTH, MAX_PACKAGES, MAX_TREES, MAX_VENDORED};

/// Reads the license state of `commit` from `repo` (typically a bare clone).
///
/// Only git objects are read: symlinks are reported (never followed), blobs over
/// [`MAX_BLOB_BYTES`] are not loaded, binary and unparsable files become entries that need review.
///
/// # Errors
/// When the commit or its root tree cannot be read, or the embedded SPDX detection store fails to
/// load.
pub fn scan(repo: &git2::Repository, commit: git2::Oid) -> anyhow::Result<LicenseSnapshot> {
    discover::scan(repo, commit)
}

/// Judges the license state `new` against the baseline `old` (pure, no I/O).
///
/// Use [`LicenseSnapshot::empty`] as `old` for a server seen for the first time: every file is
/// then `file-added` and needs review.
#[must_use]
pub fn judge(
    old: &LicenseSnapshot,
    new: &LicenseSnapshot,
    policy: &LicensePolicy,
) -> LicenseJudgement {
    judge::judge(old, new, policy)
}

/// Identifies one license text with the SPDX detector (memoised per process).
///
/// A label only: a text that differs from the SPDX one can still score 0.94 or more.
///
/// # Errors
/// When the embedded SPDX detection store fails to load.
pub fn identify(text: &str) -> anyhow::Result<Option<Detection>> {
    identify::detect(text, &sha256_hex(text.as_bytes()))
}

/// Parses manifest text into its license fields (exposed for `check`-style tooling).
///
/// # Errors
/// A one-line parse error for invalid JSON/TOML.
pub fn manifest_fields(name: &str, text: &str) -> Result<Vec<ManifestField>, String> {
    manifest::fields(name, text)
}
