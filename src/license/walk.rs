//! The bounded walk of a release's tree for every license declaration below the root: workspace
//! members, packages and sub-projects (Cargo, npm/pnpm, Python, Go), and vendored trees.
//!
//! Owns where declarations are looked for and what it costs. Only tree objects are read (git2,
//! object data, never a checkout); a directory is a package when it holds a manifest or a license
//! file, and its blobs are read by `discover`. Hostile trees are bounded, with a note in the
//! snapshot: depth ([`MAX_DEPTH`]), trees visited ([`MAX_TREES`]), packages ([`MAX_PACKAGES`]) and
//! vendored packages ([`MAX_VENDORED`]). Symlinked directories are blobs to git and never followed.
//! Results are cached per root tree id (a tree id names its content), so the pinned release is
//! scanned once per process.

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};

use anyhow::Context as _;
use git2::{Oid, Repository};

use super::discover::{self, Place};
use super::snapshot::{EntryKind, LicenseEntry, LicenseSnapshot, Scope};

/// Directories deeper than this below the root are not searched (root = 0).
pub const MAX_DEPTH: usize = 7;
/// Tree objects read per scan, at most.
pub const MAX_TREES: usize = 20_000;
/// Package directories (non-vendored) whose declarations are read, at most.
pub const MAX_PACKAGES: usize = 400;
/// Vendored package directories whose declarations are read, at most.
pub const MAX_VENDORED: usize = 300;

/// Directory names whose subtree is third-party code kept in the repository.
const VENDORED_DIRS: &[&str] = &[
    "vendor",
    "vendored",
    "third_party",
    "third-party",
    "thirdparty",
    "3rdparty",
    "node_modules",
];

/// Directory names never searched: test fixtures carry manifests and licenses that are not the
/// project's (a fixture `package.json` saying "UNLICENSED" is data, not a declaration).
const SKIPPED_DIRS: &[&str] = &[
    "testdata",
    "test-data",
    "fixtures",
    "__fixtures__",
    "__snapshots__",
    "__mocks__",
];

/// Snapshots by root tree id, shared by every scan in the process.
static CACHE: LazyLock<Mutex<HashMap<Oid, LicenseSnapshot>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
/// Snapshots kept; a full cache is emptied (a run scans each server's two releases once).
const CACHE_LIMIT: usize = 64;

/// The snapshot of a root tree scanned before in this process.
pub fn cached(tree: Oid) -> Option<LicenseSnapshot> {
    CACHE.lock().ok()?.get(&tree).cloned()
}

/// Remembers the snapshot of a root tree.
pub fn remember(tree: Oid, snap: &LicenseSnapshot) {
    if let Ok(mut cache) = CACHE.lock() {
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(tree, snap.clone());
    }
}

struct Pending {
    name: String,
    dir: String,
    tree: Oid,
    depth: usize,
    vendored: bool,
}

#[derive(Default)]
struct Counts {
    trees: usize,
    packages: usize,
    vendored: usize,
    too_deep: usize,
    packages_skipped: usize,
    vendored_skipped: usize,
}

/// Walks the root's subdirectories breadth first and reads every package's declarations.
///
/// # Errors
/// When a tree object the walk was given cannot be read (a corrupt repository); entries that
/// cannot be judged become entries, as at the root.
pub fn walk(
    repo: &Repository,
    root_subtrees: Vec<(String, Oid)>,
    snap: &mut LicenseSnapshot,
) -> anyhow::Result<()> {
    let mut queue: VecDeque<Pending> = VecDeque::new();
    enqueue(&mut queue, "", 1, false, root_subtrees);
    let mut counts = Counts::default();
    while let Some(p) = queue.pop_front() {
        if counts.trees >= MAX_TREES {
            snap.truncated = true;
            snap.notes.push(format!(
                "the tree walk stopped after {MAX_TREES} directories; {} more were not searched",
                queue.len() + 1
            ));
            break;
        }
        counts.trees += 1;
        let tree = repo
            .find_tree(p.tree)
            .with_context(|| format!("reading tree {}", p.dir))?;
        let vendored = p.vendored || VENDORED_DIRS.contains(&p.name.to_ascii_lowercase().as_str());
        let declares = tree.iter().any(|e| {
            may_declare(e.name_bytes()) && {
                let name = String::from_utf8_lossy(e.name_bytes());
                super::manifest::MANIFESTS.contains(&name.as_ref())
                    || discover::classify_name(&name) == Some(EntryKind::License)
            }
        });
        let mut subtrees = tree
            .iter()
            .filter(|e| e.kind() == Some(git2::ObjectType::Tree))
            .map(|e| (String::from_utf8_lossy(e.name_bytes()).into_owned(), e.id()))
            .collect::<Vec<_>>();
        if declares && admit(vendored, &mut counts) {
            let place = Place {
                scope: if vendored {
                    Scope::Vendored
                } else {
                    Scope::Package
                },
                dir: p.dir.clone(),
            };
            let start = snap.entries.len();
            subtrees = discover::read_package(repo, &tree, &place, snap)?;
            if vendored {
                slim_vendored(&mut snap.entries[start..]);
            }
        }
        if p.depth >= MAX_DEPTH {
            counts.too_deep += subtrees.iter().filter(|(n, _)| searchable(n)).count();
            continue;
        }
        enqueue(&mut queue, &p.dir, p.depth + 1, vendored, subtrees);
    }
    note_limits(&counts, snap);
    Ok(())
}

/// A cheap first look at a name (most of a large tree's 100,000 names are source files): only
/// names that could be a manifest or a license file go on to `classify_name`.
fn may_declare(name: &[u8]) -> bool {
    let lower = |i: usize| name.get(i).map(u8::to_ascii_lowercase);
    match lower(0) {
        Some(b'p' | b'c' | b's' | b'g') => true,
        Some(b'l' | b'u') => true,
        // `MIT-LICENSE`, `BSD_LICENSE`, ...: anything holding "licen".
        _ => name.windows(5).any(|w| w.eq_ignore_ascii_case(b"licen")),
    }
}

fn searchable(name: &str) -> bool {
    !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.to_ascii_lowercase().as_str())
}

fn enqueue(
    queue: &mut VecDeque<Pending>,
    parent: &str,
    depth: usize,
    vendored: bool,
    subtrees: Vec<(String, Oid)>,
) {
    for (name, tree) in subtrees {
        if !searchable(&name) {
            continue;
        }
        let dir = if parent.is_empty() {
            name.clone()
        } else {
            format!("{parent}/{name}")
        };
        queue.push_back(Pending {
            name,
            dir,
            tree,
            depth,
            vendored,
        });
    }
}

/// Counts a package against its limit; false when over it.
fn admit(vendored: bool, counts: &mut Counts) -> bool {
    let (n, limit, skipped) = if vendored {
        (
            &mut counts.vendored,
            MAX_VENDORED,
            &mut counts.vendored_skipped,
        )
    } else {
        (
            &mut counts.packages,
            MAX_PACKAGES,
            &mut counts.packages_skipped,
        )
    };
    if *n >= limit {
        *skipped += 1;
        return false;
    }
    *n += 1;
    true
}

/// Vendored entries keep their hashes, label and expression but not their text: hundreds of
/// committed `node_modules` licenses would otherwise be stored in every baseline.
fn slim_vendored(entries: &mut [LicenseEntry]) {
    for e in entries {
        if e.kind != EntryKind::ManifestField {
            e.text = None;
        }
    }
}

fn note_limits(counts: &Counts, snap: &mut LicenseSnapshot) {
    if counts.too_deep > 0 {
        snap.notes.push(format!(
            "{} directories deeper than {MAX_DEPTH} levels were not searched for license declarations",
            counts.too_deep
        ));
    }
    if counts.packages_skipped > 0 {
        snap.truncated = true;
        snap.notes.push(format!(
            "{} packages beyond the first {MAX_PACKAGES} were not read",
            counts.packages_skipped
        ));
    }
    if counts.vendored_skipped > 0 {
        snap.truncated = true;
        snap.notes.push(format!(
            "{} vendored packages beyond the first {MAX_VENDORED} were not read",
            counts.vendored_skipped
        ));
    }
}

/// Cargo workspace members that say `license.workspace = true` inherit the root's
/// `[workspace.package] license`: their entries get that value, so a member's declaration reads
/// as what it is.
pub fn inherit_workspace_licenses(snap: &mut LicenseSnapshot) {
    let Some(root_value) = snap
        .entries
        .iter()
        .find(|e| {
            e.scope == Scope::Root
                && e.path == "Cargo.toml"
                && e.field.as_deref() == Some("workspace.package.license")
        })
        .and_then(|e| e.text.clone())
    else {
        return;
    };
    let root_value = root_value.trim().to_owned();
    for e in &mut snap.entries {
        let inherits = e.scope != Scope::Root
            && e.path.ends_with("Cargo.toml")
            && e.field.as_deref() == Some("package.license")
            && e.text.as_deref().map(str::trim) == Some("(inherited from the workspace)");
        if inherits {
            let (scope, dir) = (e.scope, e.package.clone());
            let field = e.field.clone().unwrap_or_default();
            *e = LicenseEntry::from_manifest_value(&e.path, &field, &root_value)
                .in_scope(scope, &dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_look_never_drops_a_declaration() {
        for name in [
            "package.json",
            "pyproject.toml",
            "Cargo.toml",
            "setup.cfg",
            "go.mod",
            "LICENSE",
            "licence.md",
            "COPYING",
            "UNLICENSE",
            "COPYRIGHT",
            "MIT-LICENSE",
            "bsd_license.txt",
        ] {
            let kind = discover::classify_name(name);
            let is_declaration = super::super::manifest::MANIFESTS.contains(&name)
                || kind == Some(EntryKind::License);
            assert!(is_declaration, "{name} is a declaration");
            assert!(may_declare(name.as_bytes()), "{name}");
        }
        assert!(!may_declare(b"index.ts"));
        assert!(!may_declare(b"README.md"));
    }
}
