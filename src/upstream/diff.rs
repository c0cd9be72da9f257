//! The release diff: what changed upstream between the pinned release and a new one.
//!
//! Owns [`release_diff`], which reads a bare clone (object data only: no checkout, no working
//! tree) and produces a [`ReleaseDiff`]: the commit range, file statistics, supply-chain
//! [`signals`] and the release notes from the changelog. It is data only; turning it into PR text
//! belongs to `render`.
//!
//! Hostile upstreams are expected: blobs above [`MAX_INSPECT_BYTES`] are never loaded for line
//! stats or content checks (their size comes from the object header), symlinks are read as
//! links, submodule (gitlink) entries are never looked up as blobs, and paths are decoded
//! lossily with control characters escaped.

pub mod changelog;
pub mod manifest;
pub mod signals;

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use chrono::{DateTime, FixedOffset};
use git2::{Delta, DiffFindOptions, FileMode, ObjectType, Oid, Patch, Repository, Sort};
use serde::{Deserialize, Serialize};

pub use signals::Signal;
use signals::{ChangeKind, EntryMode, PathChange};

/// Blobs larger than this are summarised by size: never read for line stats or content checks.
pub const MAX_INSPECT_BYTES: u64 = 1024 * 1024;

/// Fuzzy rename detection loads candidate blobs whole; when an added or deleted blob is larger
/// than this, only exact renames (same blob id) are detected.
const MAX_RENAME_CANDIDATE_BYTES: u64 = 8 * 1024 * 1024;

/// Rename detection is quadratic in the candidates; libgit2 falls back to exact matching above.
const RENAME_LIMIT: usize = 1000;

/// Cap on the renames listed (all are counted).
const MAX_RENAMES_LISTED: usize = 100;

/// Cap on the authors listed, most commits first (all are counted): a long range of a big project
/// has thousands.
pub const MAX_AUTHORS_LISTED: usize = 100;

/// Cap on the signals listed per signal code (the rest are counted), so that thousands of one kind
/// (a vendored tree of binaries) neither bloat the report nor bury a rarer one (an install script).
pub const MAX_SIGNALS_PER_CODE: usize = 50;

/// Changelogs larger than this are not read.
const MAX_CHANGELOG_BYTES: u64 = 4 * 1024 * 1024;

/// Symlink blobs larger than this are not read (a real link target is short).
const MAX_SYMLINK_BYTES: u64 = 4096;

/// Commit subjects are cut to this many characters.
const MAX_SUBJECT_CHARS: usize = 120;

/// Options of [`release_diff`].
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// How many commits to list (newest first); the rest are counted in `truncated`.
    pub max_commits_listed: usize,
    /// How many of the largest text changes, and of the largest binary changes, to list.
    pub max_largest_files: usize,
    /// Upstream default-branch head, to tell whether the release commit is on it.
    pub default_branch: Option<Oid>,
    /// The new version's text, to find its CHANGELOG section.
    pub version: Option<String>,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            max_commits_listed: 50,
            max_largest_files: 10,
            default_branch: None,
            version: None,
        }
    }
}

/// Everything upkeep knows about one upgrade, old pin -> new release.
/// It goes into the JSON report as `servers[].diff` and into the PR body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseDiff {
    /// Full commit id of the old pin.
    pub old: String,
    /// Full commit id of the new release.
    pub new: String,
    pub commits: CommitRange,
    pub files: FileStats,
    /// Supply-chain findings, in path order, at most [`MAX_SIGNALS_PER_CODE`] of each code.
    pub signals: Vec<Signal>,
    /// How many findings were left out of `signals` by that cap.
    #[serde(default)]
    pub signals_truncated: usize,
    /// The changelog section for the new version, when one was found.
    pub release_notes: Option<ReleaseNotes>,
}

/// The commits of the new release that the old pin does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRange {
    /// Commits reachable from new and not from old.
    pub count: usize,
    /// False when history was rewritten or the release is on another branch: `count` is then
    /// the commits of new not reachable from old, not a fast-forward.
    pub old_is_ancestor: bool,
    /// Whether the release commit is reachable from the upstream default branch head
    /// (None: the head was not given or is not in the clone).
    pub reachable_from_default: Option<bool>,
    /// Distinct authors (by email), most commits first, at most [`MAX_AUTHORS_LISTED`].
    pub authors: Vec<AuthorCount>,
    /// How many distinct authors the range has (all of them, not only those listed).
    #[serde(default)]
    pub authors_count: usize,
    /// Earliest and latest committer date in the range (RFC 3339).
    pub first_date: Option<String>,
    pub last_date: Option<String>,
    /// Newest first, at most `max_commits_listed`.
    pub list: Vec<CommitSummary>,
    /// How many commits were left out of `list`.
    pub truncated: usize,
}

impl CommitRange {
    /// The distinct authors of the range; reports stored before `authors_count` have only the list.
    #[must_use]
    pub fn authors_total(&self) -> usize {
        self.authors_count.max(self.authors.len())
    }
}

/// One author's share of the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorCount {
    pub name: String,
    pub email: String,
    pub commits: usize,
}

/// One listed commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitSummary {
    pub short_id: String,
    pub id: String,
    /// First line of the message, at most 120 characters.
    pub subject: String,
    pub author: String,
    /// Committer date, RFC 3339 in the committer's offset.
    pub date: String,
    pub is_merge: bool,
}

/// File-level statistics of the tree diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStats {
    /// Changed paths (a rename counts once).
    pub changed: usize,
    /// Added and deleted lines over the text files that were inspected.
    pub insertions: u64,
    pub deletions: u64,
    /// The text changes with the most changed lines, largest first.
    pub largest: Vec<FileChange>,
    /// Binary files and files too large to inspect, largest first (capped like `largest`).
    pub binary_or_large: Vec<FileChange>,
    /// How many changed paths are binary or too large (all of them, not only those listed).
    pub binary_or_large_count: usize,
    /// Detected renames, at most 100 listed.
    pub renames: Vec<Rename>,
    pub renames_count: usize,
    /// True when fuzzy rename detection was skipped because a candidate blob was too large.
    pub renames_exact_only: bool,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    pub path: String,
    /// The previous path, for renames and copies.
    pub old_path: Option<String>,
    pub status: ChangeKind,
    pub insertions: u64,
    pub deletions: u64,
    /// Binary content (NUL bytes): no line stats.
    pub binary: bool,
    /// Larger than [`MAX_INSPECT_BYTES`]: not read, size only.
    pub large: bool,
    /// Size of the new blob (or of the old one for deletions), when it is a blob.
    pub size: Option<u64>,
}

/// A rename found by libgit2's similarity detection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rename {
    pub from: String,
    pub to: String,
}

/// The changelog section of the new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseNotes {
    /// The changelog file, at the repository root.
    pub path: String,
    pub heading: String,
    pub text: String,
    /// True when `text` was cut at about 8 KB.
    pub truncated: bool,
}

/// Computes the release diff between two commits (or tags) of a bare clone.
pub fn release_diff(
    repo: &Repository,
    old: Oid,
    new: Oid,
    opts: &DiffOptions,
) -> anyhow::Result<ReleaseDiff> {
    let old_commit = repo
        .find_object(old, None)
        .and_then(|o| o.peel_to_commit())
        .with_context(|| format!("old pin {old} is not a commit in the clone"))?;
    let new_commit = repo
        .find_object(new, None)
        .and_then(|o| o.peel_to_commit())
        .with_context(|| format!("new release {new} is not a commit in the clone"))?;
    let (old, new) = (old_commit.id(), new_commit.id());

    let commits = commit_range(repo, old, new, opts).context("walking the commit range")?;
    let old_tree = old_commit.tree().context("reading the old tree")?;
    let new_tree = new_commit.tree().context("reading the new tree")?;
    let (files, signals) =
        tree_diff(repo, &old_tree, &new_tree, opts).context("diffing the trees")?;
    let (signals, signals_truncated) = cap_signals(signals);
    let release_notes = match &opts.version {
        Some(version) => {
            release_notes(repo, &new_tree, version).context("reading the changelog")?
        }
        None => None,
    };
    Ok(ReleaseDiff {
        old: old.to_string(),
        new: new.to_string(),
        commits,
        files,
        signals,
        signals_truncated,
        release_notes,
    })
}

/// Keeps the first [`MAX_SIGNALS_PER_CODE`] signals of each code; returns them and how many were
/// dropped.
fn cap_signals(signals: Vec<Signal>) -> (Vec<Signal>, usize) {
    let mut per_code: HashMap<String, usize> = HashMap::new();
    let total = signals.len();
    let kept: Vec<Signal> = signals
        .into_iter()
        .filter(|s| {
            let n = per_code.entry(s.code.clone()).or_default();
            *n += 1;
            *n <= MAX_SIGNALS_PER_CODE
        })
        .collect();
    let dropped = total - kept.len();
    (kept, dropped)
}

// ---------------------------------------------------------------------------------------------
// commits

fn commit_range(
    repo: &Repository,
    old: Oid,
    new: Oid,
    opts: &DiffOptions,
) -> anyhow::Result<CommitRange> {
    let old_is_ancestor = old == new || repo.graph_descendant_of(new, old)?;
    let reachable_from_default = opts.default_branch.and_then(|head| {
        if head == new {
            return Some(true);
        }
        match repo.graph_descendant_of(head, new) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::debug!(%head, error = %e, "default branch head not usable");
                None
            }
        }
    });

    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)?;
    walk.push(new)?;
    // Hiding old works whether or not it is an ancestor: we get the commits of new that old
    // cannot reach, which is what a rewritten history needs to show.
    walk.hide(old)?;

    let mut count = 0;
    let mut list = Vec::new();
    // email (lowercased) -> (name of the newest commit, count, first seen order)
    let mut authors: HashMap<String, (String, String, usize, usize)> = HashMap::new();
    let mut first: Option<(i64, String)> = None;
    let mut last: Option<(i64, String)> = None;
    for id in walk {
        let id = id?;
        let commit = repo.find_commit(id)?;
        count += 1;
        let author = commit.author();
        let name = String::from_utf8_lossy(author.name_bytes()).into_owned();
        let email = String::from_utf8_lossy(author.email_bytes()).into_owned();
        let seen = authors.len();
        authors
            .entry(email.to_lowercase())
            .or_insert_with(|| (name.clone(), email.clone(), 0, seen))
            .2 += 1;
        let when = commit.committer().when();
        let date = rfc3339(when.seconds(), when.offset_minutes());
        if first.as_ref().is_none_or(|(t, _)| when.seconds() < *t) {
            first = Some((when.seconds(), date.clone()));
        }
        if last.as_ref().is_none_or(|(t, _)| when.seconds() > *t) {
            last = Some((when.seconds(), date.clone()));
        }
        if list.len() < opts.max_commits_listed {
            let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
            let subject = message
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("");
            let id_text = id.to_string();
            list.push(CommitSummary {
                short_id: id_text.chars().take(12).collect(),
                id: id_text,
                subject: signals::one_line(subject, MAX_SUBJECT_CHARS),
                author: name,
                date,
                is_merge: commit.parent_count() > 1,
            });
        }
    }
    let mut authors: Vec<_> = authors.into_values().collect();
    authors.sort_by(|a, b| b.2.cmp(&a.2).then(a.3.cmp(&b.3)));
    let authors_count = authors.len();
    authors.truncate(MAX_AUTHORS_LISTED);
    Ok(CommitRange {
        count,
        old_is_ancestor,
        reachable_from_default,
        authors: authors
            .into_iter()
            .map(|(name, email, commits, _)| AuthorCount {
                name,
                email,
                commits,
            })
            .collect(),
        authors_count,
        first_date: first.map(|(_, d)| d),
        last_date: last.map(|(_, d)| d),
        truncated: count - list.len(),
        list,
    })
}

/// RFC 3339 in the commit's own offset; hostile timestamps out of range fall back to UTC or "".
fn rfc3339(seconds: i64, offset_minutes: i32) -> String {
    let Some(utc) = DateTime::from_timestamp(seconds, 0) else {
        return String::new();
    };
    match offset_minutes
        .checked_mul(60)
        .and_then(FixedOffset::east_opt)
    {
        Some(offset) => utc.with_timezone(&offset).to_rfc3339(),
        None => utc.to_rfc3339(),
    }
}

// ---------------------------------------------------------------------------------------------
// files and signals

/// A path for reports: lossy UTF-8, control characters escaped so that a hostile file name
/// cannot break a line in a PR body or log.
pub fn display_path(bytes: &[u8]) -> String {
    let lossy = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(lossy.len());
    for c in lossy.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn entry_mode(mode: FileMode) -> Option<EntryMode> {
    match mode {
        FileMode::Blob | FileMode::BlobGroupWritable => Some(EntryMode::File),
        FileMode::BlobExecutable => Some(EntryMode::Executable),
        FileMode::Link => Some(EntryMode::Symlink),
        FileMode::Commit => Some(EntryMode::Submodule),
        FileMode::Tree => Some(EntryMode::Other),
        FileMode::Unreadable => None,
    }
}

fn is_blob_mode(mode: Option<EntryMode>) -> bool {
    matches!(
        mode,
        Some(EntryMode::File | EntryMode::Executable | EntryMode::Symlink)
    )
}

/// Blob sizes from object headers (cheap: the blob is not inflated whole), memoised.
struct Sizes<'r> {
    odb: git2::Odb<'r>,
    known: HashMap<Oid, Option<u64>>,
}

impl Sizes<'_> {
    /// None when the object is missing (partial clone) or not a blob.
    fn of(&mut self, id: Oid) -> Option<u64> {
        if id.is_zero() {
            return None;
        }
        *self
            .known
            .entry(id)
            .or_insert_with(|| match self.odb.read_header(id) {
                Ok((size, ObjectType::Blob)) => Some(size as u64),
                _ => None,
            })
    }
}

/// Reads a blob's bytes only when it is small enough to inspect.
fn small_blob(repo: &Repository, sizes: &mut Sizes<'_>, id: Oid, max: u64) -> Option<Vec<u8>> {
    let size = sizes.of(id)?;
    if size > max {
        return None;
    }
    repo.find_blob(id).ok().map(|b| b.content().to_vec())
}

fn tree_diff(
    repo: &Repository,
    old_tree: &git2::Tree<'_>,
    new_tree: &git2::Tree<'_>,
    opts: &DiffOptions,
) -> anyhow::Result<(FileStats, Vec<Signal>)> {
    let mut gopts = git2::DiffOptions::new();
    // Typechanges keep "file became a symlink" one entry instead of a delete and an add;
    // max_size makes libgit2 itself treat large blobs as binary without loading them.
    gopts
        .include_typechange(true)
        .max_size(i64::try_from(MAX_INSPECT_BYTES).unwrap_or(i64::MAX))
        .context_lines(0);
    let mut diff = repo.diff_tree_to_tree(Some(old_tree), Some(new_tree), Some(&mut gopts))?;
    let mut sizes = Sizes {
        odb: repo.odb()?,
        known: HashMap::new(),
    };
    let exact_only = find_renames(&mut diff, &mut sizes)?;
    let mut changes: Vec<FileChange> = Vec::new();
    let mut renames = Vec::new();
    let mut signals = Vec::new();
    for (idx, delta) in diff.deltas().enumerate() {
        let Some((change, mut found)) = file_change(repo, &diff, idx, &delta, &mut sizes)? else {
            continue;
        };
        if change.status == ChangeKind::Renamed {
            renames.push(Rename {
                from: change.old_path.clone().unwrap_or_default(),
                to: change.path.clone(),
            });
        }
        signals.append(&mut found);
        changes.push(change);
    }
    Ok((file_stats(changes, renames, opts, exact_only), signals))
}

/// Pair deleted and added files into renames. With a large file among the candidates, only
/// exact renames are looked for (similarity would read it whole); returns whether that was so.
fn find_renames(diff: &mut git2::Diff<'_>, sizes: &mut Sizes<'_>) -> anyhow::Result<bool> {
    let big_candidate = diff.deltas().any(|d| {
        let file = match d.status() {
            Delta::Added => d.new_file(),
            Delta::Deleted => d.old_file(),
            _ => return false,
        };
        is_blob_mode(entry_mode(file.mode()))
            && sizes
                .of(file.id())
                .is_none_or(|s| s > MAX_RENAME_CANDIDATE_BYTES)
    });
    let mut find = DiffFindOptions::new();
    find.renames(true)
        .rename_limit(RENAME_LIMIT)
        .exact_match_only(big_candidate);
    diff.find_similar(Some(&mut find))?;
    Ok(big_candidate)
}

/// One changed path: its line counts (text under the size cap only), and the supply-chain
/// signals of the path and, for small files, of the content. None for deltas that are not
/// changes (unmodified, ignored).
fn file_change(
    repo: &Repository,
    diff: &git2::Diff<'_>,
    idx: usize,
    delta: &git2::DiffDelta<'_>,
    sizes: &mut Sizes<'_>,
) -> anyhow::Result<Option<(FileChange, Vec<Signal>)>> {
    let kind = match delta.status() {
        Delta::Added => ChangeKind::Added,
        Delta::Deleted => ChangeKind::Deleted,
        Delta::Modified => ChangeKind::Modified,
        Delta::Renamed => ChangeKind::Renamed,
        Delta::Copied => ChangeKind::Copied,
        Delta::Typechange => ChangeKind::Typechange,
        _ => return Ok(None),
    };
    let (of, nf) = (delta.old_file(), delta.new_file());
    let old_mode = (kind != ChangeKind::Added)
        .then(|| entry_mode(of.mode()))
        .flatten();
    let new_mode = (kind != ChangeKind::Deleted)
        .then(|| entry_mode(nf.mode()))
        .flatten();
    let old_path = old_mode.and(of.path_bytes()).map(display_path);
    let new_path = new_mode.and(nf.path_bytes()).map(display_path);
    let old_size = is_blob_mode(old_mode).then(|| sizes.of(of.id())).flatten();
    let new_size = is_blob_mode(new_mode).then(|| sizes.of(nf.id())).flatten();
    // A blob side whose size is unknown (missing object) counts as too large to read.
    let too_big = |mode: Option<EntryMode>, size: Option<u64>| {
        is_blob_mode(mode) && size.is_none_or(|s| s > MAX_INSPECT_BYTES)
    };
    let large = too_big(old_mode, old_size) || too_big(new_mode, new_size);
    let gitlink = old_mode == Some(EntryMode::Submodule) || new_mode == Some(EntryMode::Submodule);

    let (mut insertions, mut deletions, mut binary) = (0u64, 0u64, false);
    if !large && !gitlink {
        match Patch::from_diff(diff, idx)? {
            Some(patch) if !patch.delta().flags().is_binary() => {
                let (_, add, del) = patch.line_stats()?;
                insertions = add as u64;
                deletions = del as u64;
            }
            // libgit2 returns no patch, or a binary-flagged one, for binary content.
            _ => binary = is_blob_mode(new_mode) || is_blob_mode(old_mode),
        }
    }
    let path = new_path
        .clone()
        .or_else(|| old_path.clone())
        .unwrap_or_default();
    let symlink_target = (new_mode == Some(EntryMode::Symlink)
        && old_mode != Some(EntryMode::Symlink))
    .then(|| small_blob(repo, sizes, nf.id(), MAX_SYMLINK_BYTES))
    .flatten()
    .map(|b| display_path(&b));
    let change = PathChange {
        kind,
        old_path: old_path.clone(),
        new_path: new_path.clone(),
        old_mode,
        new_mode,
        old_id: old_mode.map(|_| of.id().to_string()),
        new_id: new_mode.map(|_| nf.id().to_string()),
        new_size,
        new_binary: binary
            || new_path
                .as_deref()
                .is_some_and(signals::has_binary_extension),
        new_large: too_big(new_mode, new_size),
        symlink_target,
    };
    let mut found = signals::path_signals(&change);
    found.extend(content_signals(repo, sizes, &change, of.id(), nf.id()));
    let file = FileChange {
        path,
        // Renames keep their source; so do copies.
        old_path: if matches!(kind, ChangeKind::Renamed | ChangeKind::Copied) {
            old_path
        } else {
            None
        },
        status: kind,
        insertions,
        deletions,
        binary,
        large,
        size: new_size.or(old_size),
    };
    Ok(Some((file, found)))
}

/// The totals, the largest text changes, the binary or large files and the renames, each list
/// capped.
fn file_stats(
    changes: Vec<FileChange>,
    mut renames: Vec<Rename>,
    opts: &DiffOptions,
    renames_exact_only: bool,
) -> FileStats {
    let insertions = changes.iter().map(|c| c.insertions).sum();
    let deletions = changes.iter().map(|c| c.deletions).sum();
    let changed = changes.len();
    let (mut heavy, mut text): (Vec<_>, Vec<_>) =
        changes.into_iter().partition(|c| c.binary || c.large);
    text.retain(|c| c.insertions + c.deletions > 0);
    text.sort_by(|a, b| {
        (b.insertions + b.deletions)
            .cmp(&(a.insertions + a.deletions))
            .then_with(|| a.path.cmp(&b.path))
    });
    text.truncate(opts.max_largest_files);
    let binary_or_large_count = heavy.len();
    heavy.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    heavy.truncate(opts.max_largest_files);
    let renames_count = renames.len();
    renames.truncate(MAX_RENAMES_LISTED);
    FileStats {
        changed,
        insertions,
        deletions,
        largest: text,
        binary_or_large: heavy,
        binary_or_large_count,
        renames,
        renames_count,
        renames_exact_only,
    }
}

/// Signals that need the content of small files: manifests, `package.json` scripts and
/// `.gitmodules`.
fn content_signals(
    repo: &Repository,
    sizes: &mut Sizes<'_>,
    change: &PathChange,
    old_id: Oid,
    new_id: Oid,
) -> Vec<Signal> {
    let path = change.path();
    // Only regular files carry manifests; a symlink named package.json is not read through.
    let old_file = matches!(
        change.old_mode,
        Some(EntryMode::File | EntryMode::Executable)
    );
    let new_file = matches!(
        change.new_mode,
        Some(EntryMode::File | EntryMode::Executable)
    );
    let kind = change
        .new_path
        .as_deref()
        .and_then(manifest::manifest_kind)
        .or_else(|| change.old_path.as_deref().and_then(manifest::manifest_kind));
    let gitmodules = [&change.old_path, &change.new_path]
        .iter()
        .any(|p| p.as_deref() == Some(".gitmodules"));
    if kind.is_none() && !gitmodules {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut read = |is_file: bool, id: Oid, which: &str| -> Result<Option<Vec<u8>>, ()> {
        if !is_file {
            return Ok(None);
        }
        match small_blob(repo, sizes, id, MAX_INSPECT_BYTES) {
            Some(b) => Ok(Some(b)),
            None => {
                out.push(Signal {
                    code: signals::codes::MANIFEST_UNPARSABLE.to_owned(),
                    path: path.to_owned(),
                    reason: format!(
                        "could not parse {path} at the {which} revision: larger than {MAX_INSPECT_BYTES} bytes or missing"
                    ),
                });
                Err(())
            }
        }
    };
    let (Ok(old), Ok(new)) = (read(old_file, old_id, "old"), read(new_file, new_id, "new")) else {
        return out;
    };
    if let Some(kind) = kind {
        out.extend(signals::dependency_signals(
            kind,
            path,
            old.as_deref(),
            new.as_deref(),
        ));
        if kind == manifest::ManifestKind::NpmPackage {
            out.extend(signals::install_script_signals(
                path,
                old.as_deref(),
                new.as_deref(),
            ));
        }
    }
    if gitmodules {
        let text = |b: &Option<Vec<u8>>| {
            b.as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        out.extend(signals::gitmodules_signals(
            text(&old).as_deref(),
            text(&new).as_deref(),
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// release notes

fn release_notes(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    version: &str,
) -> anyhow::Result<Option<ReleaseNotes>> {
    // Only regular files at the root: a symlinked CHANGELOG is not followed.
    let mut by_name: BTreeMap<String, Oid> = BTreeMap::new();
    for entry in tree.iter() {
        let regular = entry.kind() == Some(ObjectType::Blob)
            && matches!(entry.filemode(), 0o100644 | 0o100755 | 0o100664);
        if let (true, Ok(name)) = (regular, std::str::from_utf8(entry.name_bytes())) {
            by_name.insert(name.to_owned(), entry.id());
        }
    }
    let Some(name) = changelog::pick_changelog(by_name.keys().map(String::as_str)) else {
        return Ok(None);
    };
    let id = by_name[name];
    let size = repo.odb()?.read_header(id)?.0 as u64;
    if size > MAX_CHANGELOG_BYTES {
        tracing::debug!(path = name, size, "changelog too large to read");
        return Ok(None);
    }
    let blob = repo.find_blob(id)?;
    let text = String::from_utf8_lossy(blob.content());
    Ok(
        changelog::find_section(&text, version).map(|s| ReleaseNotes {
            path: name.to_owned(),
            heading: s.heading,
            text: s.body,
            truncated: s.truncated,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_path_escapes_control_characters() {
        assert_eq!(display_path(b"a/b.txt"), "a/b.txt");
        assert_eq!(display_path(b"evil\nname\t\x07"), "evil\\nname\\t\\u{7}");
        assert_eq!(display_path(b"caf\xe9"), "caf\u{fffd}");
    }

    #[test]
    fn rfc3339_uses_the_commit_offset_and_survives_junk() {
        assert_eq!(rfc3339(0, 60), "1970-01-01T01:00:00+01:00");
        assert_eq!(rfc3339(1_700_000_000, -300), "2023-11-14T17:13:20-05:00");
        assert_eq!(rfc3339(0, i32::MAX), "1970-01-01T00:00:00+00:00");
        assert_eq!(rfc3339(i64::MAX, 0), "");
    }
}
