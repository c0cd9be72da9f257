//! Classification (pure): compares two snapshots and decides, per file and overall, whether a
//! change is `unchanged`, `cosmetic` or `review-required`, with a stable code and a one-line
//! reason per finding.
//!
//! The rule it must never break: only changes confined to copyright lines, whitespace, reflow and
//! formatting may skip review. An SPDX label is shown, never trusted as "same text".

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use similar::TextDiff;

use super::analysis::{self, LicenseAnalysis};
use super::canonical::CanonicalDiff;
use super::code::FindingCode as Code;
use super::diff::{self, WordChange, WordTag};
use super::identify::{self, Detection};
use super::params;
use super::policy::LicensePolicy;
use super::snapshot::{EntryKind, EntryState, LicenseEntry, LicenseSnapshot, Scope};

/// The overall or per-finding outcome, ordered so that `max()` is the most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Unchanged,
    Cosmetic,
    ReviewRequired,
}

impl Verdict {
    /// The stable code: `unchanged`, `cosmetic` or `review-required`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unchanged => "unchanged",
            Self::Cosmetic => "cosmetic",
            Self::ReviewRequired => "review-required",
        }
    }
}

/// How an entry changed between the two revisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Added,
    Removed,
    Modified,
    Renamed,
    Unchanged,
}

/// The judgement of one license file or manifest field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileJudgement {
    /// Path at the new revision (the old path for a removed file).
    pub path: String,
    /// Manifest field, for manifest entries.
    pub field: Option<String>,
    /// The old path when the file was renamed.
    pub old_path: Option<String>,
    pub kind: EntryKind,
    /// Root, package or vendored.
    #[serde(default)]
    pub scope: Scope,
    /// The package directory (`""` for the root).
    #[serde(default)]
    pub package: String,
    pub change: Change,
    pub old_id: Option<Detection>,
    pub new_id: Option<Detection>,
    pub old_expression: Option<String>,
    pub new_expression: Option<String>,
    /// What people read for each side: the id, expression or state.
    pub old_label: Option<String>,
    pub new_label: Option<String>,
    pub old_sha256: Option<String>,
    pub new_sha256: Option<String>,
    /// Finer code: `text-changed`, `copyright-only`, ...
    pub code: Code,
    pub verdict: Verdict,
    /// One line.
    pub reason: String,
    /// Copyright lines only in the old / only in the new text.
    pub copyright_removed: Vec<String>,
    pub copyright_added: Vec<String>,
    /// Unified diff of the display texts (3 lines of context).
    pub unified_diff: Option<String>,
    /// Word-level segments of the display texts (modified and renamed files).
    pub word_diff: Vec<WordChange>,
    /// The new file against the canonical text of its license, when its identity changed (or it
    /// is new). See [`FileJudgement::shows_canonical`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical: Option<CanonicalDiff>,
}

impl FileJudgement {
    /// True when screens show `canonical` (the words that are not the standard text of the new
    /// license) and never `unified_diff` / `word_diff` inline: the file changed license, so a
    /// line diff would set two different licenses against each other. Those stay as data, for
    /// attachments and the run report. False: the diff against the old file, as before.
    #[must_use]
    pub fn shows_canonical(&self) -> bool {
        self.canonical.is_some() && self.change != Change::Added
    }

    /// `LICENSE`, or `package.json license` for a manifest field.
    #[must_use]
    pub fn display_path(&self) -> String {
        match &self.field {
            Some(f) => format!("{} {f}", self.path),
            None => self.path.clone(),
        }
    }
}

/// One finding: a changed file, or a project-level observation (`license-removed`,
/// `manifest-disagrees`, `not-allowed`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub code: Code,
    pub verdict: Verdict,
    /// The file it is about (display path), if any.
    pub path: Option<String>,
    pub reason: String,
}

/// The judgement of one release's license state against the baseline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LicenseJudgement {
    /// The maximum over all findings.
    pub verdict: Verdict,
    /// Code of the most severe finding (`unchanged` when there is none).
    pub code: Code,
    /// One line: the most severe finding's reason.
    pub reason: String,
    /// Every finding, most severe first (per-file ones repeat their file's code and reason).
    pub findings: Vec<Finding>,
    /// Every entry of either side, changed or not, in path order.
    pub files: Vec<FileJudgement>,
    /// Fingerprint of the new state: approvals are keyed on it.
    pub fingerprint: String,
    /// Fingerprint of the old state.
    pub old_fingerprint: String,
    /// Lines for people (emails, PR bodies): `LICENSE: MIT -> MIT with added text: "..."`.
    pub summary: Vec<String>,
    /// Expressions, families, per-package declarations and parameters for the screens (absent in
    /// judgements stored before it existed).
    #[serde(default)]
    pub analysis: Option<LicenseAnalysis>,
}

/// Judges `new` against `old` under `policy`. Pure: no I/O.
#[must_use]
pub fn judge(
    old: &LicenseSnapshot,
    new: &LicenseSnapshot,
    policy: &LicensePolicy,
) -> LicenseJudgement {
    let mut files: Vec<FileJudgement> = pair_entries(old, new)
        .into_iter()
        .map(|(o, n)| judge_pair(o, n, (old, new), policy))
        .collect();
    files.sort_by(|a, b| {
        (a.path.as_str(), a.field.as_deref()).cmp(&(b.path.as_str(), b.field.as_deref()))
    });
    let analysis = analysis::analyse(old, new, &mut files);

    let mut findings: Vec<Finding> = files
        .iter()
        .filter(|f| f.code != Code::Unchanged)
        .map(|f| Finding {
            code: f.code,
            verdict: f.verdict,
            path: Some(f.display_path()),
            reason: f.reason.clone(),
        })
        .collect();
    let mut extra = project_findings(old, new, policy);
    findings.append(&mut extra);
    for (dir, reason) in analysis::new_package_disagreements(&analysis) {
        findings.push(Finding {
            code: Code::ManifestDisagrees,
            verdict: verdict_for(Code::ManifestDisagrees, policy),
            path: Some(dir),
            reason,
        });
    }
    findings.sort_by_key(|f| std::cmp::Reverse((f.verdict, f.code.severity())));

    let (verdict, code, reason) = match findings.first() {
        Some(top) => (top.verdict, top.code, top.reason.clone()),
        None => (
            Verdict::Unchanged,
            Code::Unchanged,
            "license files and manifest fields are unchanged".to_owned(),
        ),
    };
    let summary = summarise(&files, &findings);
    LicenseJudgement {
        verdict,
        code,
        reason,
        findings,
        files,
        fingerprint: new.fingerprint(),
        old_fingerprint: old.fingerprint(),
        summary,
        analysis: Some(analysis),
    }
}

type Pair<'a> = (Option<&'a LicenseEntry>, Option<&'a LicenseEntry>);

/// Pairs old and new entries: by (path, field), then renames by identical normalised text, then
/// renames by text similarity (same kind, at least 60 % similar).
fn pair_entries<'a>(old: &'a LicenseSnapshot, new: &'a LicenseSnapshot) -> Vec<Pair<'a>> {
    let key = |e: &'a LicenseEntry| (e.path.as_str(), e.field.as_deref());
    let mut old_by: BTreeMap<(&str, Option<&str>), &LicenseEntry> = BTreeMap::new();
    for e in &old.entries {
        old_by.entry(key(e)).or_insert(e);
    }
    let mut new_by: BTreeMap<(&str, Option<&str>), &LicenseEntry> = BTreeMap::new();
    for e in &new.entries {
        new_by.entry(key(e)).or_insert(e);
    }
    let mut pairs = Vec::new();
    let mut old_only: Vec<&LicenseEntry> = Vec::new();
    for (k, o) in &old_by {
        match new_by.remove(k) {
            Some(n) => pairs.push((Some(*o), Some(n))),
            None => old_only.push(o),
        }
    }
    let mut new_only: Vec<&LicenseEntry> = new_by.into_values().collect();

    // Renames by content: same normalised body under a new name.
    let mut still_old = Vec::new();
    for o in old_only {
        let found = (o.field.is_none())
            .then(|| {
                new_only.iter().position(|n| {
                    n.field.is_none()
                        && same_place(o, n)
                        && n.kind == o.kind
                        && n.identity_hash() == o.identity_hash()
                })
            })
            .flatten();
        match found {
            Some(i) => pairs.push((Some(o), Some(new_only.remove(i)))),
            None => still_old.push(o),
        }
    }
    // Renames with edits: the most similar text of the same kind.
    let mut remaining_old = Vec::new();
    for o in still_old {
        let best = (o.field.is_none())
            .then(|| {
                new_only
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.field.is_none() && n.kind == o.kind && same_place(o, n))
                    .filter_map(|(i, n)| similarity(o, n).map(|r| (i, r)))
                    .filter(|(_, r)| *r >= 0.6)
                    .max_by(|a, b| a.1.total_cmp(&b.1))
            })
            .flatten();
        match best {
            Some((i, _)) => pairs.push((Some(o), Some(new_only.remove(i)))),
            None => remaining_old.push(o),
        }
    }
    pairs.extend(remaining_old.into_iter().map(|o| (Some(o), None)));
    pairs.extend(new_only.into_iter().map(|n| (None, Some(n))));
    pairs
}

/// Renames are looked for within one package: a vendored LICENSE is never "the root's LICENSE,
/// renamed", and comparing every pair of a monorepo's files would be quadratic.
fn same_place(a: &LicenseEntry, b: &LicenseEntry) -> bool {
    a.scope == b.scope && a.package == b.package
}

fn similarity(a: &LicenseEntry, b: &LicenseEntry) -> Option<f32> {
    let (ta, tb) = (a.text.as_deref()?, b.text.as_deref()?);
    Some(
        TextDiff::configure()
            .timeout(Duration::from_millis(500))
            .diff_words(ta, tb)
            .ratio(),
    )
}

fn state_code(state: EntryState) -> Code {
    match state {
        EntryState::Text => Code::TextChanged,
        EntryState::Binary => Code::Binary,
        EntryState::TooLarge => Code::TooLarge,
        EntryState::Symlink => Code::Symlink,
        EntryState::Unparsable => Code::ManifestUnparsable,
        EntryState::Unreadable => Code::Unreadable,
    }
}

fn verdict_for(code: Code, policy: &LicensePolicy) -> Verdict {
    if code == Code::Unchanged {
        Verdict::Unchanged
    } else if policy.needs_review(code) {
        Verdict::ReviewRequired
    } else {
        Verdict::Cosmetic
    }
}

fn judge_pair(
    old: Option<&LicenseEntry>,
    new: Option<&LicenseEntry>,
    snaps: (&LicenseSnapshot, &LicenseSnapshot),
    policy: &LicensePolicy,
) -> FileJudgement {
    let any = new.or(old).expect("a pair always has one side");
    let mut fj = FileJudgement {
        path: any.path.clone(),
        field: any.field.clone(),
        old_path: None,
        kind: any.kind,
        scope: any.scope,
        package: any.package.clone(),
        change: Change::Unchanged,
        old_id: old.and_then(|e| e.detected.clone()),
        new_id: new.and_then(|e| e.detected.clone()),
        old_expression: old.and_then(|e| e.expression.clone()),
        new_expression: new.and_then(|e| e.expression.clone()),
        old_label: old.map(LicenseEntry::label),
        new_label: new.map(LicenseEntry::label),
        old_sha256: old.map(|e| e.sha256.clone()),
        new_sha256: new.map(|e| e.sha256.clone()),
        code: Code::Unchanged,
        verdict: Verdict::Unchanged,
        reason: String::new(),
        copyright_removed: Vec::new(),
        copyright_added: Vec::new(),
        unified_diff: None,
        word_diff: Vec::new(),
        canonical: None,
    };
    let name = any.display_path();
    let (code, reason): (Code, String) = match (old, new) {
        (None, Some(n)) => {
            fj.change = Change::Added;
            fj.unified_diff = n
                .text
                .as_deref()
                .and_then(|t| diff::unified("", t, "/dev/null", &format!("b/{}", n.path)));
            if n.kind == EntryKind::ManifestField {
                (
                    Code::ManifestChanged,
                    format!("{name} added: {}", n.label()),
                )
            } else if n.state == EntryState::Text {
                (
                    Code::FileAdded,
                    format!("{name} added ({} file: {})", n.kind.as_str(), n.label()),
                )
            } else {
                (
                    state_code(n.state),
                    format!("{name} added and cannot be judged: {}", n.label()),
                )
            }
        }
        (Some(o), None) => {
            fj.change = Change::Removed;
            fj.unified_diff = o
                .text
                .as_deref()
                .and_then(|t| diff::unified(t, "", &format!("a/{}", o.path), "/dev/null"));
            if o.kind == EntryKind::ManifestField {
                (
                    Code::ManifestChanged,
                    format!("{name} removed (was {})", o.label()),
                )
            } else {
                (
                    Code::FileRemoved,
                    format!("{name} removed (was {})", o.label()),
                )
            }
        }
        (Some(o), Some(n)) => {
            if o.path != n.path {
                fj.change = Change::Renamed;
                fj.old_path = Some(o.path.clone());
            }
            judge_both(o, n, &name, &mut fj)
        }
        (None, None) => (Code::Unchanged, String::new()),
    };
    if fj.change == Change::Unchanged && code != Code::Unchanged {
        fj.change = Change::Modified;
    }
    let (code, reason) = scoped(code, reason, old, new, snaps);
    fj.code = code;
    fj.verdict = verdict_for(code, policy);
    fj.reason = if reason.is_empty() {
        format!("{name} is unchanged")
    } else {
        reason
    };
    fj
}

/// Below the root, some changes are not license changes of the project: a vendored tree's
/// licenses changing (`vendored-changed`), a new package declaring only licenses the pinned
/// release already declares, in their standard texts (`package-added`), a package removed whole
/// (`package-removed`). All three are cosmetic by default; the policy may ask to review them.
fn scoped(
    code: Code,
    reason: String,
    old: Option<&LicenseEntry>,
    new: Option<&LicenseEntry>,
    (old_snap, new_snap): (&LicenseSnapshot, &LicenseSnapshot),
) -> (Code, String) {
    let any = new.or(old).expect("a pair always has one side");
    if code == Code::Unchanged || any.scope == Scope::Root {
        return (code, reason);
    }
    if any.scope == Scope::Vendored {
        return (Code::VendoredChanged, format!("vendored: {reason}"));
    }
    let has_package = |snap: &LicenseSnapshot| {
        snap.entries
            .iter()
            .any(|e| e.scope == Scope::Package && e.package == any.package)
    };
    match (old, new) {
        (None, Some(n)) if !has_package(old_snap) && already_declared(n, old_snap) => (
            Code::PackageAdded,
            format!(
                "{}: new package {} declares {}, which the pinned release already declares",
                n.display_path(),
                n.package,
                n.label()
            ),
        ),
        (Some(o), None) if !has_package(new_snap) => (
            Code::PackageRemoved,
            format!(
                "{}: package {} removed (was {})",
                o.display_path(),
                o.package,
                o.label()
            ),
        ),
        _ => (code, reason),
    }
}

/// True when `entry` declares nothing new against `old`: its licenses are already declared
/// there (outside vendored trees), and a license file is the standard text.
fn already_declared(entry: &LicenseEntry, old: &LicenseSnapshot) -> bool {
    let (files, manifests) = declared(old, &|e| e.scope != Scope::Vendored);
    let known: BTreeSet<String> = files.union(&manifests).cloned().collect();
    let family_known = |id: &str| known.contains(&identify::family(id));
    match entry.kind {
        EntryKind::License => entry
            .detected
            .as_ref()
            .filter(|d| d.is_confident() && family_known(&d.id))
            .and_then(|d| {
                let text = entry.text.as_deref()?;
                super::canonical::compare(text, super::normalize::Markup::Text, &d.id, d.confidence)
            })
            .is_some_and(|c| c.is_standard()),
        EntryKind::ManifestField if entry.expression.is_some() => {
            !entry.expression_ids.is_empty() && entry.expression_ids.iter().all(|i| family_known(i))
        }
        EntryKind::ManifestField => old
            .entries
            .iter()
            .any(|o| o.field == entry.field && o.identity_hash() == entry.identity_hash()),
        _ => false,
    }
}

/// Both sides exist: decide the code and fill the diffs. The steps, in order: what is not
/// text, a manifest field, the same text (or body), then a changed text.
fn judge_both(
    o: &LicenseEntry,
    n: &LicenseEntry,
    name: &str,
    fj: &mut FileJudgement,
) -> (Code, String) {
    let renamed = o.path != n.path;
    let from = if renamed {
        format!(" (renamed from {})", o.path)
    } else {
        String::new()
    };
    if let Some(judged) = judge_not_text(o, n, name, &from, fj) {
        return judged;
    }
    let old_cr: BTreeSet<&String> = o.copyright.iter().collect();
    let new_cr: BTreeSet<&String> = n.copyright.iter().collect();
    fj.copyright_removed = old_cr.difference(&new_cr).map(|s| (*s).clone()).collect();
    fj.copyright_added = new_cr.difference(&old_cr).map(|s| (*s).clone()).collect();
    if o.kind == EntryKind::ManifestField {
        return judge_manifest_field(o, n, name);
    }
    if o.sha256 == n.sha256 {
        return if renamed {
            (
                Code::Renamed,
                format!("{name} renamed from {}, same text", o.path),
            )
        } else {
            (Code::Unchanged, String::new())
        };
    }
    fill_diffs(o, n, fj);
    if o.body_sha256 == n.body_sha256 {
        return judge_same_body(o, n, name, renamed);
    }
    judge_changed_text(o, n, name, &from, fj)
}

/// A symlink, or a side that is not text (binary, too large, unreadable): judged by state and
/// hash only. None when both sides are text.
fn judge_not_text(
    o: &LicenseEntry,
    n: &LicenseEntry,
    name: &str,
    from: &str,
    fj: &mut FileJudgement,
) -> Option<(Code, String)> {
    // A symlink can point at a changed file while its own target string stays the same.
    if n.state == EntryState::Symlink {
        return Some((
            Code::Symlink,
            format!(
                "{name} is a symlink to {} (not followed; the target cannot be judged){from}",
                n.detail.as_deref().unwrap_or("?")
            ),
        ));
    }
    if n.state != EntryState::Text {
        if o.state == n.state && o.sha256 == n.sha256 {
            return Some(if o.path != n.path {
                (
                    Code::Renamed,
                    format!("{name} renamed from {}, same content", o.path),
                )
            } else {
                (Code::Unchanged, String::new())
            });
        }
        return Some((
            state_code(n.state),
            format!("{name} changed and cannot be judged: {}{from}", n.label()),
        ));
    }
    if o.state != EntryState::Text {
        fill_diffs(o, n, fj);
        return Some((
            Code::TextChanged,
            format!(
                "{name} was {} and is now text ({}){from}",
                o.label(),
                n.label()
            ),
        ));
    }
    None
}

/// A manifest's license field: the same value, the same meaning reformatted, or a change.
fn judge_manifest_field(o: &LicenseEntry, n: &LicenseEntry, name: &str) -> (Code, String) {
    if o.sha256 == n.sha256 {
        return (Code::Unchanged, String::new());
    }
    if o.identity_hash() == n.identity_hash() {
        return (
            Code::FormattingOnly,
            format!("{name} reformatted, same meaning: {}", n.label()),
        );
    }
    (
        Code::ManifestChanged,
        format!("{name} changed: {} -> {}", o.label(), n.label()),
    )
}

/// The license body is the same: a rename, copyright lines, or formatting changed.
fn judge_same_body(
    o: &LicenseEntry,
    n: &LicenseEntry,
    name: &str,
    renamed: bool,
) -> (Code, String) {
    let copyright_changed = o.copyright != n.copyright;
    match (renamed, copyright_changed) {
        (true, false) => (
            Code::Renamed,
            format!("{name} renamed from {}, same text", o.path),
        ),
        (true, true) => (
            Code::Renamed,
            format!(
                "{name} renamed from {}, same text, copyright lines changed",
                o.path
            ),
        ),
        (false, true) => (
            Code::CopyrightOnly,
            format!("{name}: only copyright lines changed ({})", n.label()),
        ),
        (false, false) => (
            Code::FormattingOnly,
            format!(
                "{name}: only whitespace or formatting changed ({})",
                n.label()
            ),
        ),
    }
}

/// The license body changed: another license, a NOTICE, only a parameterised license's
/// parameters, or other words.
fn judge_changed_text(
    o: &LicenseEntry,
    n: &LicenseEntry,
    name: &str,
    from: &str,
    fj: &FileJudgement,
) -> (Code, String) {
    let what = describe_text_change(&fj.word_diff);
    if let (Some(od), Some(nd)) = (&o.detected, &n.detected)
        && od.is_confident()
        && nd.is_confident()
        && !identify::same_license(&od.id, &nd.id)
    {
        return (
            Code::IdChanged,
            format!("{name}: license changed from {} to {}{from}", od.id, nd.id),
        );
    }
    if n.kind == EntryKind::Notice {
        return (
            Code::NoticeChanged,
            format!("{name}: NOTICE text changed ({what}){from}"),
        );
    }
    if let (Some(id), Some(ot), Some(nt)) = (
        n.detected
            .as_ref()
            .filter(|d| d.is_confident())
            .map(|d| d.id.as_str()),
        o.text.as_deref(),
        n.text.as_deref(),
    ) && params::only_parameters_changed(id, ot, nt)
    {
        let changes = params::changes(id, &n.path, ot, nt);
        return (
            Code::TextChanged,
            format!(
                "{name}: {id} parameters: {}{from}",
                params::describe(&changes, true)
            ),
        );
    }
    (
        Code::TextChanged,
        format!("{name}: {} -> {} with {what}{from}", o.label(), n.label()),
    )
}

fn fill_diffs(o: &LicenseEntry, n: &LicenseEntry, fj: &mut FileJudgement) {
    if let (Some(a), Some(b)) = (o.text.as_deref(), n.text.as_deref()) {
        fj.unified_diff = diff::unified(a, b, &format!("a/{}", o.path), &format!("b/{}", n.path));
        fj.word_diff = diff::words(a, b);
    }
}

/// "added text: \"...\"", "removed text: \"...\"" or "changed text".
fn describe_text_change(words: &[WordChange]) -> String {
    let inserted = diff::changed_excerpts(words, WordTag::Insert, 1);
    let deleted = diff::changed_excerpts(words, WordTag::Delete, 1);
    let quote = |s: &str| {
        let short: String = s.chars().take(100).collect();
        if short.len() < s.len() {
            format!("\"{short}...\"")
        } else {
            format!("\"{short}\"")
        }
    };
    match (inserted.first(), deleted.first()) {
        (Some(i), None) => format!("added text: {}", quote(i)),
        (None, Some(d)) => format!("removed text: {}", quote(d)),
        (Some(i), Some(d)) => format!("changed text: {} replaced by {}", quote(d), quote(i)),
        (None, None) => "changed text".to_owned(),
    }
}

/// Ids the entries of a snapshot that pass `include` declare: confident detections of license
/// files and manifest expression ids, each as its family (GNU -only/-or-later folded).
fn declared(
    snapshot: &LicenseSnapshot,
    include: &dyn Fn(&LicenseEntry) -> bool,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut files = BTreeSet::new();
    let mut manifests = BTreeSet::new();
    for e in snapshot.entries.iter().filter(|e| include(e)) {
        match e.kind {
            EntryKind::License => {
                if let Some(d) = e.detected.as_ref().filter(|d| d.is_confident()) {
                    files.extend(identify::aliases(&d.id).iter().map(|a| identify::family(a)));
                }
            }
            EntryKind::ManifestField => {
                manifests.extend(e.expression_ids.iter().map(|i| identify::family(i)))
            }
            _ => {}
        }
    }
    (files, manifests)
}

/// The root's own files: its license files (not `LICENSES/`) and root manifests.
fn root_declaration(e: &LicenseEntry) -> bool {
    e.scope == Scope::Root && (e.kind == EntryKind::ManifestField || !e.path.contains('/'))
}

/// True when the root declares a license (packages and vendored trees do not count: a project
/// whose root license is gone is unlicensed whatever its members say).
fn has_license(snapshot: &LicenseSnapshot) -> bool {
    snapshot
        .entries
        .iter()
        .filter(|e| e.scope == Scope::Root)
        .any(|e| {
            e.kind == EntryKind::License
                || (e.kind == EntryKind::ManifestField
                    && e.state == EntryState::Text
                    && e.text.as_deref().is_some_and(|t| !t.trim().is_empty()))
        })
}

fn project_findings(
    old: &LicenseSnapshot,
    new: &LicenseSnapshot,
    policy: &LicensePolicy,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |code: Code, reason: String| {
        out.push(Finding {
            code,
            verdict: verdict_for(code, policy),
            path: None,
            reason,
        });
    };
    if has_license(old) && !has_license(new) {
        push(
            Code::LicenseRemoved,
            "no license file or manifest license field is left: all rights reserved by default"
                .to_owned(),
        );
    }

    let disagreement = |s: &LicenseSnapshot| {
        let (files, manifests) = declared(s, &root_declaration);
        (!files.is_empty() && !manifests.is_empty() && files.is_disjoint(&manifests))
            .then_some((files, manifests))
    };
    if let Some((files, manifests)) = disagreement(new)
        && disagreement(old).as_ref().map(|(f, m)| (f, m)) != Some((&files, &manifests))
    {
        let fmt = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
        push(
            Code::ManifestDisagrees,
            format!(
                "manifest license fields say {} but the license files are {}",
                fmt(&manifests),
                fmt(&files)
            ),
        );
    }

    if policy.has_allow_list() {
        let (old_files, old_manifests) = declared(old, &|e| e.scope != Scope::Vendored);
        let old_all: BTreeSet<&String> = old_files.iter().chain(old_manifests.iter()).collect();
        let mut reported = BTreeSet::new();
        for e in new.entries.iter().filter(|e| e.scope != Scope::Vendored) {
            let offending: Vec<String> = match (e.kind, &e.detected, &e.expression) {
                (EntryKind::License, Some(d), _)
                    if d.is_confident() && !policy.id_allowed(&d.id) =>
                {
                    vec![d.id.clone()]
                }
                (EntryKind::ManifestField, _, Some(expr)) if !policy.expression_allowed(expr) => e
                    .expression_ids
                    .iter()
                    .filter(|i| !policy.id_allowed(i))
                    .cloned()
                    .collect(),
                _ => Vec::new(),
            };
            for id in offending {
                if !old_all.contains(&identify::family(&id)) && reported.insert(id.clone()) {
                    push(
                        Code::NotAllowed,
                        format!(
                            "{}: {id} is not on the allowed license list",
                            e.display_path()
                        ),
                    );
                }
            }
        }
    }
    out
}

fn summarise(files: &[FileJudgement], findings: &[Finding]) -> Vec<String> {
    let mut lines = Vec::new();
    let anything_changed = files.iter().any(|f| f.code != Code::Unchanged);
    for f in files {
        let name = f.display_path();
        let old = f.old_label.clone().unwrap_or_default();
        let new = f.new_label.clone().unwrap_or_default();
        let line = match f.change {
            // The root's unchanged fields say what still holds; a monorepo's hundred unchanged
            // package manifests would bury the change.
            Change::Unchanged
                if f.kind == EntryKind::ManifestField
                    && f.scope == Scope::Root
                    && anything_changed =>
            {
                format!("{name}: unchanged ({new})")
            }
            Change::Unchanged => continue,
            Change::Added => format!("{name}: added ({new}) [{}]", f.code),
            Change::Removed => format!("{name}: removed (was {old}) [{}]", f.code),
            Change::Renamed | Change::Modified => match f.code {
                Code::TextChanged | Code::NoticeChanged => {
                    format!(
                        "{name}: {old} -> {new} with {} [{}]",
                        describe_text_change(&f.word_diff),
                        f.code
                    )
                }
                Code::Renamed => format!(
                    "{name}: renamed from {}, same text ({new}) [{}]",
                    f.old_path.as_deref().unwrap_or("?"),
                    f.code
                ),
                _ => format!("{name}: {old} -> {new} ({}) [{}]", f.reason, f.code),
            },
        };
        lines.push(line);
    }
    for f in findings.iter().filter(|f| f.path.is_none()) {
        lines.push(format!("{} [{}]", f.reason, f.code));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::snapshot::LicenseEntry;

    const MIT: &str = "MIT License\n\nCopyright (c) 2023 Example Corp\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software, to deal in the Software without restriction.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND.\n";

    fn file(path: &str, kind: EntryKind, text: &str) -> LicenseEntry {
        LicenseEntry::from_file_bytes(path, kind, None, text.as_bytes()).expect("entry")
    }

    fn snap(entries: Vec<LicenseEntry>) -> LicenseSnapshot {
        let mut s = LicenseSnapshot {
            entries,
            ..LicenseSnapshot::empty()
        };
        s.sort();
        s
    }

    fn field(path: &str, name: &str, value: &str) -> LicenseEntry {
        LicenseEntry::from_manifest_value(path, name, value)
    }

    /// A fake detection, so tests can state what the detector said without real texts.
    fn labelled(mut e: LicenseEntry, id: &str) -> LicenseEntry {
        e.detected = Some(Detection {
            id: id.to_owned(),
            confidence: 0.99,
        });
        e
    }

    #[test]
    fn verdicts_order_and_codes() {
        assert!(
            Verdict::ReviewRequired > Verdict::Cosmetic && Verdict::Cosmetic > Verdict::Unchanged
        );
        assert_eq!(
            [
                Verdict::Cosmetic,
                Verdict::ReviewRequired,
                Verdict::Unchanged
            ]
            .into_iter()
            .max(),
            Some(Verdict::ReviewRequired)
        );
        assert_eq!(
            serde_json::to_string(&Verdict::ReviewRequired).expect("json"),
            "\"review-required\""
        );
        assert_eq!(Verdict::Cosmetic.code(), "cosmetic");
    }

    #[test]
    fn copyright_only_and_formatting_only_are_cosmetic() {
        let p = LicensePolicy::default();
        let old = snap(vec![file("LICENSE", EntryKind::License, MIT)]);
        let year = snap(vec![file(
            "LICENSE",
            EntryKind::License,
            &MIT.replace("2023", "2025"),
        )]);
        let j = judge(&old, &year, &p);
        assert_eq!(
            (j.verdict, j.code.as_str()),
            (Verdict::Cosmetic, "copyright-only")
        );
        assert_eq!(
            j.files[0].copyright_added,
            vec!["Copyright (c) 2025 Example Corp"]
        );
        assert_eq!(
            j.fingerprint, j.old_fingerprint,
            "cosmetic changes keep the approval"
        );
        let crlf = snap(vec![file(
            "LICENSE",
            EntryKind::License,
            &MIT.replace('\n', "\r\n"),
        )]);
        assert_eq!(judge(&old, &crlf, &p).code, "formatting-only");
        assert_eq!(judge(&old, &old, &p).verdict, Verdict::Unchanged);
    }

    #[test]
    fn any_body_change_needs_review_with_a_diff() {
        let p = LicensePolicy::default();
        let old = snap(vec![file("LICENSE", EntryKind::License, MIT)]);
        let new = snap(vec![file(
            "LICENSE",
            EntryKind::License,
            &MIT.replace("without restriction", "not without restriction"),
        )]);
        let j = judge(&old, &new, &p);
        assert_eq!(
            (j.verdict, j.code.as_str()),
            (Verdict::ReviewRequired, "text-changed")
        );
        let f = &j.files[0];
        assert!(
            f.unified_diff
                .as_deref()
                .is_some_and(|d| d
                    .contains("+this software, to deal in the Software not without restriction.")),
            "{:?}",
            f.unified_diff
        );
        assert!(
            f.word_diff
                .iter()
                .any(|w| w.tag == WordTag::Insert && w.text.contains("not"))
        );
        assert_ne!(j.fingerprint, j.old_fingerprint);
        assert!(j.reason.contains("added text: \"not\""), "{}", j.reason);
    }

    #[test]
    fn id_change_rename_add_remove() {
        let p = LicensePolicy::default();
        let old = snap(vec![labelled(
            file("LICENSE", EntryKind::License, MIT),
            "MIT",
        )]);
        let apache = snap(vec![labelled(
            file(
                "LICENSE",
                EntryKind::License,
                "Apache License\nVersion 2.0\n",
            ),
            "Apache-2.0",
        )]);
        assert_eq!(judge(&old, &apache, &p).code, "id-changed");

        let renamed = snap(vec![file(
            "LICENSE.md",
            EntryKind::License,
            &format!("# {MIT}"),
        )]);
        let j = judge(&old, &renamed, &p);
        assert_eq!((j.verdict, j.code.as_str()), (Verdict::Cosmetic, "renamed"));
        assert_eq!(j.files[0].old_path.as_deref(), Some("LICENSE"));
        assert_eq!(j.files[0].change, Change::Renamed);

        let added = snap(vec![
            file("LICENSE", EntryKind::License, MIT),
            file("LICENSE-APACHE", EntryKind::License, "Apache License\n"),
        ]);
        let j = judge(
            &snap(vec![file("LICENSE", EntryKind::License, MIT)]),
            &added,
            &p,
        );
        assert_eq!(j.code, "file-added");
        assert_eq!(
            judge(
                &added,
                &snap(vec![file("LICENSE", EntryKind::License, MIT)]),
                &p
            )
            .code,
            "file-removed"
        );
    }

    #[test]
    fn license_removed_entirely_is_the_headline() {
        let p = LicensePolicy::default();
        let old = snap(vec![
            file("LICENSE", EntryKind::License, MIT),
            field("package.json", "license", "MIT"),
        ]);
        let j = judge(&old, &snap(vec![]), &p);
        assert_eq!(
            (j.verdict, j.code.as_str()),
            (Verdict::ReviewRequired, "license-removed")
        );
        assert!(j.findings.iter().any(|f| f.code == "file-removed"));
        assert!(j.findings.iter().any(|f| f.code == "manifest-changed"));
    }

    #[test]
    fn manifest_changes_disagreement_and_notice() {
        let p = LicensePolicy::default();
        let lic = labelled(file("LICENSE", EntryKind::License, MIT), "MIT");
        let old = snap(vec![
            lic.clone(),
            field("package.json", "license", "MIT"),
            file(
                "NOTICE",
                EntryKind::Notice,
                "Example\nCopyright 2023 Example\n",
            ),
        ]);
        let spelled = snap(vec![
            lic.clone(),
            field("package.json", "license", "mit"),
            file(
                "NOTICE",
                EntryKind::Notice,
                "Example\nCopyright 2024 Example\n",
            ),
        ]);
        let j = judge(&old, &spelled, &p);
        assert_eq!(j.verdict, Verdict::Cosmetic, "{}", j.reason);
        let changed = snap(vec![
            lic.clone(),
            field("package.json", "license", "BUSL-1.1"),
            file("NOTICE", EntryKind::Notice, "Example\n"),
        ]);
        let j = judge(&old, &changed, &p);
        assert_eq!(j.verdict, Verdict::ReviewRequired);
        assert!(j.findings.iter().any(|f| f.code == "manifest-changed"));
        assert!(
            j.findings
                .iter()
                .any(|f| f.code == "manifest-disagrees" && f.reason.contains("BUSL-1.1")),
            "{:?}",
            j.findings
        );
        let notice = snap(vec![
            lic,
            field("package.json", "license", "MIT"),
            file(
                "NOTICE",
                EntryKind::Notice,
                "Example\nCopyright 2023 Example\nIncludes Acme (proprietary).\n",
            ),
        ]);
        let j = judge(&old, &notice, &p);
        assert_eq!(j.code, "notice-changed");
        assert_eq!(j.verdict, Verdict::ReviewRequired);
        let relaxed = LicensePolicy {
            allowed: vec![],
            review_codes: Some(vec![Code::FileAdded]),
        };
        assert_eq!(
            judge(&old, &notice, &relaxed).verdict,
            Verdict::Cosmetic,
            "an operator may treat NOTICE changes as cosmetic"
        );
    }

    #[test]
    fn not_allowed_only_when_new() {
        let p = LicensePolicy {
            allowed: vec!["MIT".into(), "Apache-2.0".into()],
            review_codes: None,
        };
        let mit = snap(vec![field("package.json", "license", "MIT")]);
        let busl = snap(vec![field("package.json", "license", "BUSL-1.1")]);
        let j = judge(&mit, &busl, &p);
        assert_eq!(j.code, "not-allowed", "{:?}", j.findings);
        // Already BUSL before: only the change itself is reported.
        let busl2 = snap(vec![field("package.json", "license", "BUSL-1.1 OR MIT")]);
        let j = judge(&busl, &busl2, &p);
        assert!(
            !j.findings.iter().any(|f| f.code == "not-allowed"),
            "{:?}",
            j.findings
        );
    }

    #[test]
    fn symlink_always_needs_review() {
        let p = LicensePolicy::default();
        let link = || {
            LicenseEntry::unjudgeable(
                "LICENSE",
                None,
                EntryKind::License,
                EntryState::Symlink,
                10,
                "h".into(),
                Some("docs/LICENSE".into()),
            )
        };
        let j = judge(&snap(vec![link()]), &snap(vec![link()]), &p);
        assert_eq!(
            (j.verdict, j.code.as_str()),
            (Verdict::ReviewRequired, "symlink")
        );
        let bin = || {
            LicenseEntry::unjudgeable(
                "LICENSE",
                None,
                EntryKind::License,
                EntryState::Binary,
                10,
                "h".into(),
                None,
            )
        };
        assert_eq!(
            judge(&snap(vec![bin()]), &snap(vec![bin()]), &p).verdict,
            Verdict::Unchanged,
            "same bytes"
        );
    }
}
