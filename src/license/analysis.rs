//! The license analysis a reviewer reads first (pure): each side as one SPDX expression with a
//! plain reading, the family and obligation that bite, every package's declaration side by side,
//! BUSL parameter changes, and the canonical-text comparison of files whose license changed.
//!
//! Owns what the screens say about a license change; the verdict stays with `judge`. Built from
//! the two snapshots and the per-file judgements, which it completes: a file whose identity
//! changed gets its comparison with the canonical SPDX text, which screens show instead of the
//! line diff against the old file (two different licenses do not diff usefully).
//!
//! What a screen takes from a [`super::LicenseJudgement`] (`analysis` is `None` only in judgements
//! stored before it existed):
//! - the banner line: `analysis.headline`, or built from `old.expression` / `new.expression` and
//!   `new.reading`;
//! - the family line: `new.family` (`Family::label`), `new.obligation`, and `disclaimer` beside it;
//!   `old.family` for "was";
//! - the non-standard text: for each file with `shows_canonical()`, `canonical.runs` (`added` /
//!   `removed` words, `position`, `after_words` to locate them), `canonical.score` and
//!   `standard_share`; other changed files keep `word_diff` / `unified_diff` as before; riders
//!   recognised are in `new.riders`;
//! - the findings table: `packages` (one row per root/package/vendored directory, each side's
//!   expression and disagreement) and `files` (one row per file or manifest field, with `scope`,
//!   `package`, `code`, `verdict`); `parameters` for BUSL; `notes` for what the walk left out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::canonical::{self, CanonicalDiff};
use super::expression::{self, COMMONS_CLAUSE, Expr};
use super::family::{self, Classified, DISCLAIMER, Family};
use super::identify;
use super::judge::{Change, FileJudgement};
use super::normalize::Markup;
use super::params::{self, ParameterChange};
use super::snapshot::{EntryKind, EntryState, LicenseEntry, LicenseSnapshot, Scope};
use super::terms::{FileTerms, Rider, RiderKind};

/// One side of the change (the pinned or the proposed release), at the repository root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// The SPDX expression, `None` when nothing declares a license.
    pub expression: Option<String>,
    /// Plain English: "dual-licensed: AGPL-3.0-or-later, or a commercial license from ...".
    pub reading: String,
    /// The family that bites (for `OR`, the option open without an agreement).
    pub family: Option<Family>,
    /// "network copyleft: offering modified versions to users over a network requires ...".
    pub obligation: Option<String>,
    /// Every id of the expression, classified.
    pub terms: Vec<Classified>,
    /// The declarations it was built from: `LICENSE`, `pyproject.toml project.license`.
    pub sources: Vec<String>,
    /// Riders and preambles recognised in the license files.
    pub riders: Vec<Rider>,
    /// True when a license file has non-standard words no recognised rider explains.
    pub modified: bool,
    /// The manifest and the license files name different licenses.
    pub disagreement: Option<String>,
}

/// One package's (or the root's, or a vendored tree's) declaration at both releases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRow {
    pub scope: Scope,
    /// The directory, `""` for the root.
    pub dir: String,
    /// The expression at each release; `None` when absent or declaring nothing.
    pub old: Option<String>,
    pub new: Option<String>,
    /// "Cargo.toml says MIT; the license file (LICENSE at the root) is 0BSD".
    pub old_disagreement: Option<String>,
    pub new_disagreement: Option<String>,
}

impl PackageRow {
    /// True when the declaration differs between the releases.
    #[must_use]
    pub fn changed(&self) -> bool {
        self.old != self.new
    }
}

/// What the screens show about the license change (added to the judgement; serde, stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicenseAnalysis {
    pub old: Side,
    pub new: Side,
    /// One line: "`Apache-2.0` → `AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial`: dual-licensed: ...".
    pub headline: String,
    pub expression_changed: bool,
    /// Root first, then packages, then vendored trees, each by directory.
    pub packages: Vec<PackageRow>,
    /// BUSL-1.1 (and other parameterised licenses) parameter changes.
    pub parameters: Vec<ParameterChange>,
    /// What the bounded tree walk left out, at either release.
    pub notes: Vec<String>,
    /// "a summary for orientation, not legal advice".
    pub disclaimer: String,
}

type Key = (Scope, String);

/// Canonical comparisons of one side, by entry path.
type Comparisons = HashMap<String, CanonicalDiff>;

/// Builds the analysis and completes `files` with canonical comparisons.
#[must_use]
pub fn analyse(
    old: &LicenseSnapshot,
    new: &LicenseSnapshot,
    files: &mut [FileJudgement],
) -> LicenseAnalysis {
    let (old_cmp, new_cmp) = (comparisons(old), comparisons(new));
    attach_canonical(files, &new_cmp);
    let old_groups = groups(old);
    let new_groups = groups(new);
    let (old_root_files, new_root_files) = (root_files(old), root_files(new));
    let mut built_old = BTreeMap::new();
    for (k, v) in &old_groups {
        built_old.insert(k.clone(), build(v, &old_cmp, &old_root_files, k));
    }
    let mut built_new = BTreeMap::new();
    for (k, v) in &new_groups {
        built_new.insert(k.clone(), build(v, &new_cmp, &new_root_files, k));
    }
    let root: Key = (Scope::Root, String::new());
    let side = |built: &BTreeMap<Key, Built>| built.get(&root).map_or_else(Side::none, Built::side);
    let (old_side, new_side) = (side(&built_old), side(&built_new));
    let keys: BTreeSet<&Key> = built_old.keys().chain(built_new.keys()).collect();
    let packages: Vec<PackageRow> = keys
        .into_iter()
        .map(|k| {
            let (o, n) = (built_old.get(k), built_new.get(k));
            PackageRow {
                scope: k.0,
                dir: k.1.clone(),
                old: o.and_then(|b| b.expr.as_ref().map(ToString::to_string)),
                new: n.and_then(|b| b.expr.as_ref().map(ToString::to_string)),
                old_disagreement: o.and_then(|b| b.disagreement.clone()),
                new_disagreement: n.and_then(|b| b.disagreement.clone()),
            }
        })
        .collect();
    let parameters = parameter_changes(old, new, files);
    let headline = headline(&old_side, &new_side, &parameters, &packages);
    let mut notes: Vec<String> = old
        .notes
        .iter()
        .map(|n| format!("pinned release: {n}"))
        .collect();
    notes.extend(new.notes.iter().map(|n| format!("proposed release: {n}")));
    LicenseAnalysis {
        expression_changed: old_side.expression != new_side.expression,
        old: old_side,
        new: new_side,
        headline,
        packages,
        parameters,
        notes,
        disclaimer: DISCLAIMER.to_owned(),
    }
}

/// Canonical comparisons of every confidently identified root or package license file.
fn comparisons(snap: &LicenseSnapshot) -> Comparisons {
    snap.entries
        .iter()
        .filter(|e| e.kind == EntryKind::License && e.scope != Scope::Vendored)
        .filter_map(|e| {
            let d = e.detected.as_ref().filter(|d| d.is_confident())?;
            let text = e.text.as_deref()?;
            let c = canonical::compare(text, Markup::Text, &d.id, d.confidence)?;
            Some((e.path.clone(), c))
        })
        .collect()
}

/// A file whose license identity changed (or that is new) gets its comparison with the canonical
/// text of its new license. The line diff against the old file is kept as data (attachments, the
/// run report); screens show the comparison instead ([`FileJudgement::shows_canonical`]).
fn attach_canonical(files: &mut [FileJudgement], new_cmp: &Comparisons) {
    for f in files.iter_mut() {
        if f.kind != EntryKind::License || f.change == Change::Unchanged {
            continue;
        }
        let Some(new_id) = f.new_id.as_ref().filter(|d| d.is_confident()) else {
            continue;
        };
        let same = f
            .old_id
            .as_ref()
            .is_some_and(|o| o.is_confident() && identify::same_license(&o.id, &new_id.id));
        if same {
            continue;
        }
        let Some(c) = new_cmp.get(&f.path) else {
            continue;
        };
        f.canonical = Some(c.clone());
    }
}

/// The root's license files (`LICENSES/` included): what a package without its own inherits.
fn root_files(snap: &LicenseSnapshot) -> Vec<&LicenseEntry> {
    snap.entries
        .iter()
        .filter(|e| e.scope == Scope::Root && e.kind == EntryKind::License)
        .collect()
}

fn groups(snap: &LicenseSnapshot) -> BTreeMap<Key, Vec<&LicenseEntry>> {
    let mut out: BTreeMap<Key, Vec<&LicenseEntry>> = BTreeMap::new();
    for e in &snap.entries {
        if matches!(e.kind, EntryKind::License | EntryKind::ManifestField) {
            out.entry((e.scope, e.package.clone())).or_default().push(e);
        }
    }
    out
}

/// A manifest field that holds a license expression (not a file name or a classifier).
fn is_expression_field(field: &str) -> bool {
    field == "license"
        || field == "licenses"
        || field.ends_with(".license")
        || field == "project.license.text"
        || field.starts_with("SPDX-License-Identifier")
}

/// One package's declaration on one side.
struct Built {
    expr: Option<Expr>,
    sources: Vec<String>,
    riders: Vec<Rider>,
    modified: bool,
    disagreement: Option<String>,
}

impl Built {
    fn side(&self) -> Side {
        let Some(expr) = &self.expr else {
            return Side::none();
        };
        let bite = expr.biting();
        let mut reading = expr.reading();
        if self.modified {
            reading.push_str(
                " — the text departs from the standard license (see the non-standard text)",
            );
        }
        if let Some(d) = &self.disagreement {
            reading.push_str(&format!("; {d}"));
        }
        Side {
            expression: Some(expr.to_string()),
            reading,
            family: Some(bite.family),
            obligation: Some(bite.obligation),
            terms: expr.ids().into_iter().map(family::classify).collect(),
            sources: self.sources.clone(),
            riders: self.riders.clone(),
            modified: self.modified,
            disagreement: self.disagreement.clone(),
        }
    }
}

impl Side {
    fn none() -> Self {
        Self {
            expression: None,
            reading: "no license declared: all rights reserved by default".to_owned(),
            family: None,
            obligation: None,
            terms: Vec::new(),
            sources: Vec::new(),
            riders: Vec::new(),
            modified: false,
            disagreement: None,
        }
    }
}

/// The families a set of ids names (GNU `-only`/`-or-later` and detector aliases folded).
fn families<'a>(ids: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    ids.filter(|i| !i.starts_with("LicenseRef-") && !i.starts_with("AdditionRef-"))
        .flat_map(|i| {
            identify::aliases(i)
                .into_iter()
                .map(|a| identify::family(&a))
        })
        .collect()
}

fn build(
    entries: &[&LicenseEntry],
    cmp: &Comparisons,
    root_files: &[&LicenseEntry],
    key: &Key,
) -> Built {
    let mut sources = Vec::new();
    let mut manifest_exprs: Vec<Expr> = Vec::new();
    for e in entries
        .iter()
        .filter(|e| e.kind == EntryKind::ManifestField)
    {
        let field = e.field.as_deref().unwrap_or("");
        if let Some(expr) = e
            .expression
            .as_deref()
            .filter(|_| is_expression_field(field))
            .and_then(Expr::parse)
        {
            sources.push(e.display_path());
            if !manifest_exprs.contains(&expr) {
                manifest_exprs.push(expr);
            }
        }
    }
    let file_terms = |files: &[&LicenseEntry]| -> Vec<(String, FileTerms)> {
        files
            .iter()
            .filter(|e| e.kind == EntryKind::License && e.state == EntryState::Text)
            .map(|e| {
                let base = e
                    .detected
                    .as_ref()
                    .filter(|d| d.is_confident())
                    .map(|d| d.id.as_str());
                let terms = FileTerms::read(
                    base,
                    cmp.get(&e.path),
                    e.text.as_deref().unwrap_or(""),
                    &e.copyright,
                );
                (e.path.clone(), terms)
            })
            .collect()
    };
    let own_files: Vec<&LicenseEntry> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::License)
        .copied()
        .collect();
    let own = file_terms(&own_files);
    sources.extend(own.iter().map(|(p, _)| p.clone()));
    let riders: Vec<Rider> = own.iter().flat_map(|(_, t)| t.riders.clone()).collect();
    let modified = own.iter().any(|(_, t)| t.modified);
    let file_expr = combine_files(&own);
    let manifest = match manifest_exprs.len() {
        0 => None,
        _ => Some(Expr::and(manifest_exprs)),
    };
    // A package without license files of its own is covered by the root's.
    let inherited = (own.is_empty() && key.0 != Scope::Root).then(|| file_terms(root_files));
    let (expr, disagreement) = match (manifest, file_expr) {
        (None, f) => (f, None),
        (Some(m), None) => {
            let disagreement = inherited.as_ref().and_then(|root| {
                let root_ids: Vec<&str> = root.iter().filter_map(|(_, t)| t.base.as_deref()).collect();
                disagrees(&m, &root_ids).then(|| {
                    format!(
                        "the manifest says {m}; the package has no license file and the root's ({}) is {}",
                        root.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(", "),
                        root_ids.join(", ")
                    )
                })
            });
            (Some(m), disagreement)
        }
        (Some(m), Some(f)) => {
            let bases: Vec<&str> = own.iter().filter_map(|(_, t)| t.base.as_deref()).collect();
            if disagrees(&m, &bases) {
                let d = format!("the manifest says {m} but the license file says {f}");
                (Some(f), Some(d))
            } else {
                (Some(refine(m, &riders, &own)), None)
            }
        }
    };
    Built {
        expr,
        sources,
        riders,
        modified,
        disagreement,
    }
}

/// True when the manifest names licenses and none of them is among the files' identified ones.
fn disagrees(manifest: &Expr, file_ids: &[&str]) -> bool {
    let m = families(manifest.ids().into_iter());
    let f = families(file_ids.iter().copied());
    !m.is_empty() && !f.is_empty() && m.is_disjoint(&f)
}

/// Several license files: `LICENSE-MIT` + `LICENSE-APACHE` is the convention for a choice;
/// anything else is read as all of them applying (the cautious reading).
fn combine_files(files: &[(String, FileTerms)]) -> Option<Expr> {
    let terms: Vec<Expr> = files.iter().map(|(_, t)| t.term()).collect();
    if terms.is_empty() {
        return None;
    }
    let per_license_names = files.len() > 1
        && files.iter().all(|(p, _)| {
            let name = p.rsplit('/').next().unwrap_or(p).to_ascii_uppercase();
            name.starts_with("LICENSE-")
                || name.starts_with("LICENSE_")
                || name.starts_with("LICENCE-")
        });
    Some(if per_license_names {
        Expr::or(terms)
    } else {
        Expr::and(terms)
    })
}

/// Adds to a manifest's expression what only the texts say (a commercial alternative, a Commons
/// Clause, an exception), unless the manifest already says it.
fn refine(manifest: Expr, riders: &[Rider], files: &[(String, FileTerms)]) -> Expr {
    let has = |k: RiderKind| riders.iter().any(|r| r.kind == k);
    let holder = files
        .iter()
        .find_map(|(_, t)| t.holder.clone())
        .unwrap_or_else(|| "Unnamed".to_owned());
    let mut out = manifest;
    if has(RiderKind::Exception)
        && let Expr::Id(id) = &out
        && !id.starts_with("LicenseRef-")
    {
        out = Expr::With(id.clone(), format!("AdditionRef-{holder}-exception"));
    }
    if has(RiderKind::CommonsClause) && !out.any_id(&|i| expression::is_commons_clause(i)) {
        out = Expr::and(vec![out, Expr::Id(COMMONS_CLAUSE.to_owned())]);
    }
    if has(RiderKind::CommercialAlternative) && !out.any_id(&|i| i.starts_with("LicenseRef-")) {
        out = Expr::or(vec![
            out,
            Expr::Id(format!("LicenseRef-{holder}-Commercial")),
        ]);
    }
    out
}

fn parameter_changes(
    old: &LicenseSnapshot,
    new: &LicenseSnapshot,
    files: &[FileJudgement],
) -> Vec<ParameterChange> {
    let text = |snap: &LicenseSnapshot, path: &str| {
        snap.entries
            .iter()
            .find(|e| e.path == path && e.field.is_none())
            .and_then(|e| e.text.clone())
    };
    files
        .iter()
        .filter(|f| {
            f.kind == EntryKind::License && matches!(f.change, Change::Modified | Change::Renamed)
        })
        .filter_map(|f| {
            let id = f.new_id.as_ref().filter(|d| d.is_confident())?.id.clone();
            if params::keys_for(&id).is_empty() {
                return None;
            }
            let o = text(old, f.old_path.as_deref().unwrap_or(&f.path))?;
            let n = text(new, &f.path)?;
            Some(params::changes(&id, &f.path, &o, &n))
        })
        .flatten()
        .collect()
}

/// What the side's plain reading says beyond its expression: a standard license reads as its
/// id, and repeating it right after the expression reads as a stutter (`MIT: MIT`).
fn reading_beyond(side: &Side) -> Option<&str> {
    let reading = side.reading.as_str();
    let Some(expr) = side.expression.as_deref() else {
        return Some(reading);
    };
    match reading.strip_prefix(expr) {
        Some("") => None,
        Some(rest) => rest.strip_prefix("; ").or(Some(reading)),
        None => Some(reading),
    }
}

fn quoted(e: Option<&String>) -> String {
    e.map_or_else(|| "no license".to_owned(), |e| format!("`{e}`"))
}

fn headline(
    old: &Side,
    new: &Side,
    parameters: &[ParameterChange],
    packages: &[PackageRow],
) -> String {
    let more = |tail: Option<&str>| tail.map(|t| format!(": {t}")).unwrap_or_default();
    let mut line = if old.expression != new.expression {
        format!(
            "{} → {}{}",
            quoted(old.expression.as_ref()),
            quoted(new.expression.as_ref()),
            more(reading_beyond(new))
        )
    } else if !parameters.is_empty() {
        format!(
            "{} (unchanged): {}",
            quoted(new.expression.as_ref()),
            params::describe(parameters, false)
        )
    } else if new.modified && !old.modified {
        format!(
            "{} → {} with non-standard text (see the non-standard text)",
            quoted(old.expression.as_ref()),
            quoted(new.expression.as_ref())
        )
    } else {
        format!(
            "{} (unchanged){}",
            quoted(new.expression.as_ref()),
            more(reading_beyond(new))
        )
    };
    let relicensed: Vec<&PackageRow> = packages
        .iter()
        .filter(|p| p.scope == Scope::Package && p.changed() && p.old.is_some() && p.new.is_some())
        .collect();
    match relicensed.as_slice() {
        [] => {}
        [one] => line.push_str(&format!(
            "; package `{}`: {} → {}",
            one.dir,
            quoted(one.old.as_ref()),
            quoted(one.new.as_ref())
        )),
        many => line.push_str(&format!(
            "; {} packages changed their license (see the table)",
            many.len()
        )),
    }
    line
}

/// Package disagreements that are new at the proposed release (root ones are judged apart).
#[must_use]
pub fn new_package_disagreements(analysis: &LicenseAnalysis) -> Vec<(String, String)> {
    analysis
        .packages
        .iter()
        .filter(|p| p.scope == Scope::Package)
        .filter_map(|p| {
            let d = p.new_disagreement.as_ref()?;
            (p.old_disagreement.as_ref() != Some(d))
                .then(|| (p.dir.clone(), format!("{}: {d}", p.dir)))
        })
        .collect()
}
