//! Reading the source files that can define an MCP surface out of git objects (the only I/O of
//! the module): walk a commit's tree, pick the files that use an MCP SDK, follow what they
//! import by relative path, parse them within the limits.
//!
//! Never checks out, never follows a symlink, never loads a blob over the size limit (its size
//! is read from the object header first), never reads outside the commit's tree.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use anyhow::Context as _;
use git2::{ObjectType, Oid, Repository, Tree};

use super::lang;
use super::manifests::{Ecosystem, Gate};
use super::surface::Coverage;
use super::syntax::{self, Grammar, ParseBudget, SourceFile};

/// What one extraction may cost. The defaults suit a large upstream on a small machine.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Source files larger than this are not read (generated bundles, hostile input).
    pub max_file_bytes: u64,
    /// At most this many files are parsed.
    pub max_files: usize,
    /// At most this many tree entries are walked.
    pub max_entries: usize,
    /// At most this many bytes are read to find the files that use an MCP SDK.
    pub max_scan_bytes: u64,
    /// Total parse time of one extraction (tree-sitter cancels a parse that overruns it).
    pub parse_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 512 * 1024,
            max_files: 400,
            max_entries: 200_000,
            // Finding the files that use an SDK reads blobs at ~8 MiB/s of CPU on a small
            // machine (delta chains, bench/RESULTS.md "Large upstream"); real MCP servers hold
            // a few MiB of source, and the files of packages that name MCP are read first.
            max_scan_bytes: 24 * 1024 * 1024,
            parse_time: Duration::from_secs(20),
        }
    }
}

/// Directories that hold no server surface: dependencies, build output, tests, examples, docs.
const SKIP_DIRS: &[&str] = &[
    "node_modules",
    "vendor",
    "third_party",
    "dist",
    "build",
    "out",
    "target",
    "obj",
    "coverage",
    ".git",
    ".github",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
    "test",
    "tests",
    "__tests__",
    "testdata",
    "spec",
    "e2e",
    "fixtures",
    "examples",
    "example",
    "docs",
];

/// Whether a directory name is skipped (see [`SKIP_DIRS`]; also .NET test projects).
fn skip_dir(name: &str) -> bool {
    SKIP_DIRS.contains(&name) || name.ends_with(".Tests") || name.ends_with(".Test")
}

/// Whether a file name is a test, a declaration or a minified bundle.
fn skip_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        ".test.",
        ".spec.",
        ".min.js",
        "_test.go",
        "_test.py",
        "_tests.py",
    ]
    .iter()
    .any(|p| lower.contains(p))
        || lower.starts_with("test_")
        || lower == "conftest.py"
}

/// A source file in the tree (not yet read).
#[derive(Debug, Clone)]
struct Entry {
    blob: Oid,
    grammar: Grammar,
}

/// The parsed files of one revision that can define its surface.
pub(crate) struct Workspace {
    pub files: Vec<SourceFile>,
    by_path: HashMap<String, usize>,
    /// Files read because they use an MCP SDK (the others were imported by one).
    pub roots: Vec<usize>,
    pub coverage: Coverage,
}

impl Workspace {
    pub(crate) fn file(&self, path: &str) -> Option<&SourceFile> {
        self.by_path.get(path).map(|i| &self.files[*i])
    }

    /// Builds a workspace from in-memory files (tests, and the fuzz-style property tests).
    pub(crate) fn from_sources(sources: &[(&str, &str)], limits: &Limits) -> Self {
        let mut budget = ParseBudget::new(limits.parse_time);
        let mut ws = Self::new();
        let known: BTreeMap<String, Entry> = sources
            .iter()
            .filter_map(|(p, _)| {
                Grammar::for_path(p).map(|g| {
                    (
                        (*p).to_owned(),
                        Entry {
                            blob: Oid::ZERO_SHA1,
                            grammar: g,
                        },
                    )
                })
            })
            .collect();
        let mut gate = Gate::default();
        for (path, text) in sources {
            if let Some(eco) = Ecosystem::of_manifest(path.rsplit('/').next().unwrap_or(path)) {
                gate.note(eco, path, Some(text));
            }
        }
        let known = ws.apply_gate(known, &gate);
        let order = scan_order(&known, &gate);
        let texts: HashMap<&str, &str> = sources.iter().copied().collect();
        let mut load = |path: &str| texts.get(path).map(|t| Ok((*t).to_owned()));
        let mut memo = ScanMemo::default();
        ws.fill(&known, &order, &mut load, limits, &mut budget, &mut memo);
        ws
    }

    /// Drops the files of the languages the manifests rule out (see [`super::manifests`]),
    /// saying how many in the coverage.
    fn apply_gate(
        &mut self,
        known: BTreeMap<String, Entry>,
        gate: &Gate,
    ) -> BTreeMap<String, Entry> {
        let mut dropped: Vec<(Ecosystem, usize)> = Vec::new();
        let kept = known
            .into_iter()
            .filter(|(_, entry)| {
                if !gate.excludes(entry.grammar) {
                    return true;
                }
                let eco = Ecosystem::of(entry.grammar);
                match dropped.iter_mut().find(|(e, _)| *e == eco) {
                    Some((_, n)) => *n += 1,
                    None => dropped.push((eco, 1)),
                }
                false
            })
            .collect();
        for (eco, files) in dropped {
            self.coverage.skipped.push(gate.reason(eco, files));
        }
        kept
    }

    fn new() -> Self {
        Self {
            files: Vec::new(),
            by_path: HashMap::new(),
            roots: Vec::new(),
            coverage: Coverage::default(),
        }
    }

    /// Reads the roots (files that use an MCP SDK), then what they import relatively,
    /// breadth first, then files that import an accepted file relatively and register on
    /// what they import (`from .app import mcp` / `import { server } from "./server.js"`),
    /// until a limit.
    fn fill(
        &mut self,
        known: &BTreeMap<String, Entry>,
        order: &[&str],
        load: &mut dyn FnMut(&str) -> Option<Result<String, String>>,
        limits: &Limits,
        budget: &mut ParseBudget,
        memo: &mut ScanMemo,
    ) {
        let paths: Vec<&str> = known.keys().map(String::as_str).collect();
        let mut maybe = self.scan_roots(known, order, load, limits, budget, memo);
        let mut queue: VecDeque<String> = self.files.iter().map(|f| f.path.clone()).collect();
        // Importers of importers are adopted in later rounds; a few rounds reach any real
        // layout, and the file limit bounds a hostile one.
        for _ in 0..4 {
            if !self.follow_imports(&mut queue, &paths, known, load, limits, budget) {
                return;
            }
            let before = maybe.len();
            let mut rest = Vec::new();
            for file in maybe {
                let adopt = lang::related_files(&file, &paths)
                    .iter()
                    .any(|p| self.by_path.contains_key(p));
                if adopt && !self.by_path.contains_key(&file.path) {
                    if self.files.len() >= limits.max_files {
                        self.coverage.truncated = true;
                        return;
                    }
                    queue.push_back(file.path.clone());
                    let idx = self.push(file);
                    self.roots.push(idx);
                } else {
                    rest.push(file);
                }
            }
            maybe = rest;
            if maybe.len() == before {
                break;
            }
        }
        self.follow_imports(&mut queue, &paths, known, load, limits, budget);
    }

    /// Parses the files that use an MCP SDK (the roots) and returns, parsed, the files that
    /// do not but call registration methods (candidates for adoption).
    fn scan_roots(
        &mut self,
        known: &BTreeMap<String, Entry>,
        order: &[&str],
        load: &mut dyn FnMut(&str) -> Option<Result<String, String>>,
        limits: &Limits,
        budget: &mut ParseBudget,
        memo: &mut ScanMemo,
    ) -> Vec<SourceFile> {
        let mut scanned: u64 = 0;
        let mut maybe = Vec::new();
        for (path, entry) in order.iter().filter_map(|p| known.get_key_value(*p)) {
            if self.files.len() + maybe.len() >= limits.max_files
                || scanned >= limits.max_scan_bytes
            {
                self.coverage.truncated = true;
                break;
            }
            if let Some(len) = memo.get(entry) {
                scanned += len;
                continue;
            }
            let Some(text) = self.read(path, load) else {
                continue;
            };
            scanned += text.len() as u64;
            let sdk = lang::mentions_sdk(entry.grammar, &text);
            if !sdk && !lang::may_register(entry.grammar, &text) {
                memo.note(entry, text.len() as u64);
                continue;
            }
            let Some(file) = syntax::parse(path, entry.grammar, text, budget) else {
                self.coverage
                    .skipped
                    .push(format!("{path}: not parsed in time"));
                continue;
            };
            if sdk && lang::uses_sdk(&file) {
                let idx = self.push(file);
                self.roots.push(idx);
            } else {
                maybe.push(file);
            }
        }
        maybe
    }

    /// Parses what the queued files import relatively, breadth first. False when the file
    /// limit stopped it.
    fn follow_imports(
        &mut self,
        queue: &mut VecDeque<String>,
        paths: &[&str],
        known: &BTreeMap<String, Entry>,
        load: &mut dyn FnMut(&str) -> Option<Result<String, String>>,
        limits: &Limits,
        budget: &mut ParseBudget,
    ) -> bool {
        while let Some(path) = queue.pop_front() {
            let Some(file) = self.file(&path) else {
                continue;
            };
            for import in lang::related_files(file, paths) {
                if self.by_path.contains_key(&import) {
                    continue;
                }
                if self.files.len() >= limits.max_files {
                    self.coverage.truncated = true;
                    return false;
                }
                let Some(entry) = known.get(&import) else {
                    continue;
                };
                let Some(text) = self.read(&import, load) else {
                    continue;
                };
                match syntax::parse(&import, entry.grammar, text, budget) {
                    Some(file) => {
                        self.push(file);
                        queue.push_back(import);
                    }
                    None => self
                        .coverage
                        .skipped
                        .push(format!("{import}: not parsed in time")),
                }
            }
        }
        true
    }

    fn read(
        &mut self,
        path: &str,
        load: &mut dyn FnMut(&str) -> Option<Result<String, String>>,
    ) -> Option<String> {
        match load(path)? {
            Ok(text) => Some(text),
            Err(why) => {
                self.coverage.skipped.push(format!("{path}: {why}"));
                None
            }
        }
    }

    fn push(&mut self, file: SourceFile) -> usize {
        let idx = self.files.len();
        self.by_path.insert(file.path.clone(), idx);
        self.files.push(file);
        self.coverage.files_parsed += 1;
        idx
    }
}

/// The order the roots are looked for in: files the manifests put first (see
/// [`Gate::first`]), then the others, each group by path. Deterministic per tree.
fn scan_order<'k>(known: &'k BTreeMap<String, Entry>, gate: &Gate) -> Vec<&'k str> {
    let mut first = Vec::new();
    let mut rest = Vec::new();
    for (path, entry) in known {
        if gate.first(entry.grammar, path) {
            first.push(path.as_str());
        } else {
            rest.push(path.as_str());
        }
    }
    first.extend(rest);
    first
}

/// Source files found to neither use an MCP SDK nor call a registration method, by blob id
/// and grammar, with their length. Shared by the two extractions of one release (pinned and
/// proposed revisions share most of their blobs), so each such blob is read once, not twice.
/// The length still counts against each revision's scan budget, so a revision scans exactly
/// the files it would scan alone: the surface of a tree never depends on what was read before.
#[derive(Debug, Default)]
pub struct ScanMemo {
    irrelevant: HashMap<(Oid, Grammar), u64>,
}

impl ScanMemo {
    fn get(&self, entry: &Entry) -> Option<u64> {
        self.irrelevant.get(&(entry.blob, entry.grammar)).copied()
    }

    /// In-memory sources have no blob id (zero): they are never remembered.
    fn note(&mut self, entry: &Entry, len: u64) {
        if !entry.blob.is_zero() {
            self.irrelevant.insert((entry.blob, entry.grammar), len);
        }
    }
}

/// Reads the workspace of `commit` from `repo` (bare or not).
///
/// # Errors
/// When the commit or its root tree cannot be read. Unreadable, oversized, binary or
/// unparsable files are recorded in the coverage, not errors.
pub(crate) fn read_workspace(
    repo: &Repository,
    tree: &Tree<'_>,
    limits: &Limits,
    memo: &mut ScanMemo,
) -> anyhow::Result<Workspace> {
    let mut walker = Walker {
        repo,
        limits,
        known: BTreeMap::new(),
        manifests: Vec::new(),
        walked: 0,
        truncated: false,
    };
    walker.walk(tree, "", 0)?;
    let odb = repo.odb().context("opening the object database")?;
    let mut gate = Gate::default();
    for (eco, path, blob) in &walker.manifests {
        let text = read_text(repo, &odb, *blob, limits.max_file_bytes).ok();
        gate.note(*eco, path, text.as_deref());
    }
    let mut ws = Workspace::new();
    let known = ws.apply_gate(walker.known, &gate);
    let order = scan_order(&known, &gate);
    let mut load = |path: &str| -> Option<Result<String, String>> {
        let entry: &Entry = known.get(path)?;
        Some(read_text(repo, &odb, entry.blob, limits.max_file_bytes))
    };
    let mut budget = ParseBudget::new(limits.parse_time);
    ws.fill(&known, &order, &mut load, limits, &mut budget, memo);
    ws.coverage.truncated |= walker.truncated || budget.exhausted;
    Ok(ws)
}

/// One walk of a commit's tree: its source files and its dependency manifests.
struct Walker<'r> {
    repo: &'r Repository,
    limits: &'r Limits,
    known: BTreeMap<String, Entry>,
    manifests: Vec<(Ecosystem, String, Oid)>,
    walked: usize,
    truncated: bool,
}

impl Walker<'_> {
    /// Collects the source files and manifests of a tree, depth first, skipping dependency,
    /// build and test directories, symlinks and submodules.
    fn walk(&mut self, tree: &Tree<'_>, prefix: &str, depth: usize) -> anyhow::Result<()> {
        for entry in tree {
            self.walked += 1;
            if self.walked > self.limits.max_entries {
                self.truncated = true;
                return Ok(());
            }
            let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            match entry.kind() {
                Some(ObjectType::Tree) => {
                    if skip_dir(&name) || name.starts_with('.') {
                        continue;
                    }
                    if depth >= 24 {
                        self.truncated = true;
                        continue;
                    }
                    let sub = self
                        .repo
                        .find_tree(entry.id())
                        .with_context(|| format!("reading tree {path}"))?;
                    self.walk(&sub, &path, depth + 1)?;
                }
                // 0o120000 is a symlink: its blob is a path, never followed.
                Some(ObjectType::Blob) if entry.filemode() != 0o120_000 => {
                    if let Some(eco) = Ecosystem::of_manifest(&name) {
                        self.manifests.push((eco, path.clone(), entry.id()));
                    }
                    if skip_file(&name) {
                        continue;
                    }
                    if let Some(grammar) = Grammar::for_path(&path) {
                        let blob = entry.id();
                        self.known.insert(path, Entry { blob, grammar });
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The UTF-8 text of a blob, or why it is not read.
fn read_text(repo: &Repository, odb: &git2::Odb<'_>, id: Oid, max: u64) -> Result<String, String> {
    let (size, kind) = odb
        .read_header(id)
        .map_err(|_| format!("object {id} is missing"))?;
    if kind != ObjectType::Blob {
        return Err(format!("not a file ({kind})"));
    }
    if size as u64 > max {
        return Err(format!("{size} bytes, over the {max}-byte limit"));
    }
    let blob = repo
        .find_blob(id)
        .map_err(|e| format!("reading blob {id}: {}", e.message()))?;
    let bytes = blob.content();
    if bytes.contains(&0) {
        return Err("binary".to_owned());
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| "not UTF-8".to_owned())
}

/// Resolves `spec` (a relative import path like `./tools/index.js` or `../x`) against the
/// directory of `from`, without leaving the repository. `None` when it climbs above the root.
pub(crate) fn join_relative(from: &str, spec: &str) -> Option<String> {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in spec.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// The directory part of a path ("" at the root).
pub(crate) fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_stay_inside_the_tree() {
        assert_eq!(
            join_relative("src/mcp/index.ts", "./tools/index.js").as_deref(),
            Some("src/mcp/tools/index.js")
        );
        assert_eq!(
            join_relative("src/mcp/index.ts", "../util.js").as_deref(),
            Some("src/util.js")
        );
        assert_eq!(join_relative("a.ts", "../../etc/passwd"), None);
        assert_eq!(dir_of("a.ts"), "");
        assert_eq!(dir_of("src/a.ts"), "src");
    }

    #[test]
    fn tests_builds_and_dependencies_are_skipped() {
        assert!(skip_dir("node_modules"));
        assert!(skip_dir("Server.Tests"));
        assert!(!skip_dir("src"));
        assert!(skip_file("server.test.ts"));
        assert!(skip_file("tools_test.go"));
        assert!(skip_file("test_server.py"));
        assert!(!skip_file("server.ts"));
    }
}
