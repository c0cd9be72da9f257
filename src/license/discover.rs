//! Discovery: the license files and manifest fields of one commit, read from git objects only.
//!
//! With `walk`, the only I/O in the license module. Never checks out, never follows a symlink,
//! never loads a blob over [`MAX_BLOB_BYTES`] (its size is read from the object header first).
//! This file reads one directory's declarations (the root's, or a package's); `walk` finds the
//! packages.

use anyhow::Context as _;
use git2::{ObjectType, Oid, Repository, TreeEntry};

use super::manifest;
use super::snapshot::{
    EntryKind, EntryState, LicenseEntry, LicenseSnapshot, MAX_BLOB_BYTES, ManifestSeen,
    SNAPSHOT_VERSION, Scope, sha256_hex,
};
use super::walk;

/// At most this many files are read under a license directory (hostile trees).
pub const MAX_DIR_FILES: usize = 200;

/// Classifies a root file name; `None` when it is not a license-bearing file.
#[must_use]
pub fn classify_name(name: &str) -> Option<EntryKind> {
    let lower = name.to_ascii_lowercase();
    let (stem, ext) = match lower.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, Some(e)),
        _ => (lower.as_str(), None),
    };
    // Code and config files named license.go, license.rs, LICENSE.spdx, ... are not license texts.
    const NOT_TEXT: &[&str] = &[
        "go", "rs", "py", "js", "mjs", "cjs", "ts", "tsx", "jsx", "json", "yml", "yaml", "toml",
        "java", "kt", "c", "h", "cc", "cpp", "hpp", "cs", "rb", "php", "sh", "ps1", "bat", "spdx",
        "header", "gemspec", "tmpl", "tpl", "swift", "lock", "xml", "csv", "png", "jpg", "svg",
        "gif", "pdf", "sum", "mod", "scala", "dart", "ex", "exs", "lua", "pl", "r", "sql", "vue",
        "svelte", "css", "scss",
    ];
    if ext.is_some_and(|e| NOT_TEXT.contains(&e)) {
        return None;
    }
    let starts = |p: &str| {
        stem.starts_with(p)
            && stem[p.len()..]
                .chars()
                .next()
                .is_none_or(|c| matches!(c, '-' | '_' | '.' | 's'))
    };
    if starts("license")
        || starts("licence")
        || starts("copying")
        || starts("unlicense")
        || starts("copyright")
        || starts("licensing")
    {
        return Some(EntryKind::License);
    }
    if stem.ends_with("-license") || stem.ends_with("_license") || stem.ends_with("-licence") {
        return Some(EntryKind::License);
    }
    if starts("notice") {
        return Some(EntryKind::Notice);
    }
    if starts("patents") || starts("patent") {
        return Some(EntryKind::Patents);
    }
    None
}

/// Scans `commit` of `repo` (bare or not) and returns its license snapshot: the root's license
/// files and manifests, then every package, workspace member and vendored tree below it (see
/// [`super::walk`]). Cached per root tree: a tree id names its content.
///
/// # Errors
/// When the commit or its tree cannot be read, or the detection store cannot be loaded.
/// Individual bad files and manifests become entries, not errors.
pub fn scan(repo: &Repository, commit: Oid) -> anyhow::Result<LicenseSnapshot> {
    let commit_obj = repo
        .find_commit(commit)
        .with_context(|| format!("finding commit {commit}"))?;
    let tree = commit_obj
        .tree()
        .with_context(|| format!("reading the tree of {commit}"))?;
    if let Some(mut hit) = walk::cached(tree.id()) {
        hit.commit = commit.to_string();
        return Ok(hit);
    }
    let mut snap = LicenseSnapshot {
        version: SNAPSHOT_VERSION,
        commit: commit.to_string(),
        entries: Vec::new(),
        manifests: Vec::new(),
        truncated: false,
        notes: Vec::new(),
    };
    let subtrees = read_package(repo, &tree, &Place::root(), &mut snap)?;
    walk::walk(repo, subtrees, &mut snap)?;
    walk::inherit_workspace_licenses(&mut snap);
    snap.sort();
    walk::remember(tree.id(), &snap);
    Ok(snap)
}

/// Where the entries of one directory go: its scope and package directory.
#[derive(Debug, Clone)]
pub(super) struct Place {
    pub scope: Scope,
    /// The directory, `""` for the root.
    pub dir: String,
}

impl Place {
    pub fn root() -> Self {
        Self {
            scope: Scope::Root,
            dir: String::new(),
        }
    }

    fn path(&self, name: &str) -> String {
        if self.dir.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.dir)
        }
    }
}

/// Reads the manifests and license files directly in `tree` (and its license directories) into
/// `snap`, and returns the other subdirectories (name, tree id) for the walk.
pub(super) fn read_package(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    place: &Place,
    snap: &mut LicenseSnapshot,
) -> anyhow::Result<Vec<(String, Oid)>> {
    let mut subtrees = Vec::new();
    for entry in tree {
        let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
        let path = place.path(&name);
        if manifest::MANIFESTS.contains(&name.as_str()) && entry.kind() != Some(ObjectType::Tree) {
            read_manifest(repo, &entry, &path, place, snap)?;
            continue;
        }
        let lower = name.to_ascii_lowercase();
        let kind = classify_name(&name);
        match entry.kind() {
            Some(ObjectType::Tree)
                if lower == "licenses" || lower == "licences" || kind.is_some() =>
            {
                let mut budget = MAX_DIR_FILES;
                read_dir(repo, entry.id(), &path, place, snap, &mut budget, 0)?;
            }
            Some(ObjectType::Tree) => subtrees.push((name, entry.id())),
            _ => {
                // Packages and vendored trees: license files only (a NOTICE there is not theirs
                // to change for the rebuild's terms, and PATENTS rarely appears).
                if let Some(kind) =
                    kind.filter(|k| place.scope == Scope::Root || *k == EntryKind::License)
                {
                    let file = read_file(repo, &entry, &path, kind)?;
                    snap.entries.push(file.in_scope(place.scope, &place.dir));
                }
            }
        }
    }
    Ok(subtrees)
}

/// Reads every file under a license directory, depth and count limited.
fn read_dir(
    repo: &Repository,
    tree_id: Oid,
    prefix: &str,
    place: &Place,
    snap: &mut LicenseSnapshot,
    budget: &mut usize,
    depth: usize,
) -> anyhow::Result<()> {
    let tree = repo
        .find_tree(tree_id)
        .with_context(|| format!("reading tree {prefix}"))?;
    for entry in &tree {
        let name = String::from_utf8_lossy(entry.name_bytes());
        let path = format!("{prefix}/{name}");
        if entry.kind() == Some(ObjectType::Tree) {
            if depth < 4 {
                read_dir(repo, entry.id(), &path, place, snap, budget, depth + 1)?;
            } else {
                snap.truncated = true;
            }
            continue;
        }
        if *budget == 0 {
            snap.truncated = true;
            return Ok(());
        }
        *budget -= 1;
        let file = read_file(repo, &entry, &path, EntryKind::License)?;
        snap.entries.push(file.in_scope(place.scope, &place.dir));
    }
    Ok(())
}

/// The blob bytes of a tree entry, or an unjudgeable entry explaining why not.
fn load_blob(
    repo: &Repository,
    entry: &TreeEntry<'_>,
    path: &str,
    field: Option<&str>,
    kind: EntryKind,
) -> anyhow::Result<Result<Vec<u8>, LicenseEntry>> {
    let id = entry.id();
    if entry.kind() == Some(ObjectType::Commit) {
        return Ok(Err(LicenseEntry::unjudgeable(
            path,
            field,
            kind,
            EntryState::Unreadable,
            0,
            sha256_hex(id.to_string().as_bytes()),
            Some(format!("a submodule at {id}")),
        )));
    }
    let odb = repo.odb().context("opening the object database")?;
    let Ok((size, otype)) = odb.read_header(id) else {
        return Ok(Err(LicenseEntry::unjudgeable(
            path,
            field,
            kind,
            EntryState::Unreadable,
            0,
            sha256_hex(id.to_string().as_bytes()),
            Some(format!("object {id} is missing")),
        )));
    };
    if otype != ObjectType::Blob {
        return Ok(Err(LicenseEntry::unjudgeable(
            path,
            field,
            kind,
            EntryState::Unreadable,
            size as u64,
            sha256_hex(id.to_string().as_bytes()),
            Some(format!("not a file ({otype})")),
        )));
    }
    let size = size as u64;
    if size > MAX_BLOB_BYTES {
        // The blob id is a content hash already; hashing it keeps "same blob => same entry".
        let mut e = LicenseEntry::unjudgeable(
            path,
            field,
            kind,
            EntryState::TooLarge,
            size,
            sha256_hex(id.to_string().as_bytes()),
            Some(format!(
                "{size} bytes, over the {MAX_BLOB_BYTES}-byte limit"
            )),
        );
        e.blob_id = Some(id.to_string());
        return Ok(Err(e));
    }
    let blob = repo
        .find_blob(id)
        .with_context(|| format!("reading blob {id} ({path})"))?;
    let bytes = blob.content().to_vec();
    // Symlinks are blobs holding the target path; report, never follow.
    if entry.filemode() == 0o120_000 {
        let target = String::from_utf8_lossy(&bytes).into_owned();
        let mut e = LicenseEntry::unjudgeable(
            path,
            field,
            kind,
            EntryState::Symlink,
            size,
            sha256_hex(&bytes),
            Some(target),
        );
        e.blob_id = Some(id.to_string());
        return Ok(Err(e));
    }
    Ok(Ok(bytes))
}

fn read_file(
    repo: &Repository,
    entry: &TreeEntry<'_>,
    path: &str,
    kind: EntryKind,
) -> anyhow::Result<LicenseEntry> {
    Ok(match load_blob(repo, entry, path, None, kind)? {
        Ok(bytes) => {
            LicenseEntry::from_file_bytes(path, kind, Some(entry.id().to_string()), &bytes)?
        }
        Err(unjudgeable) => unjudgeable,
    })
}

fn read_manifest(
    repo: &Repository,
    entry: &TreeEntry<'_>,
    path: &str,
    place: &Place,
    snap: &mut LicenseSnapshot,
) -> anyhow::Result<()> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let start = snap.entries.len();
    read_manifest_fields(repo, entry, name, path, snap)?;
    for e in &mut snap.entries[start..] {
        e.scope = place.scope;
        e.package.clone_from(&place.dir);
    }
    Ok(())
}

fn read_manifest_fields(
    repo: &Repository,
    entry: &TreeEntry<'_>,
    name: &str,
    path: &str,
    snap: &mut LicenseSnapshot,
) -> anyhow::Result<()> {
    let bytes = match load_blob(repo, entry, path, Some("(file)"), EntryKind::ManifestField)? {
        Ok(bytes) => bytes,
        Err(unjudgeable) => {
            snap.manifests.push(ManifestSeen {
                path: path.to_owned(),
                parsed: false,
                fields: Vec::new(),
            });
            snap.entries.push(unjudgeable);
            return Ok(());
        }
    };
    let unparsable = |detail: String| {
        LicenseEntry::unjudgeable(
            path,
            Some("(file)"),
            EntryKind::ManifestField,
            EntryState::Unparsable,
            bytes.len() as u64,
            sha256_hex(&bytes),
            Some(detail),
        )
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        snap.manifests.push(ManifestSeen {
            path: path.to_owned(),
            parsed: false,
            fields: Vec::new(),
        });
        snap.entries
            .push(unparsable(format!("{path} is not UTF-8")));
        return Ok(());
    };
    match manifest::fields(name, text) {
        Ok(fields) => {
            snap.manifests.push(ManifestSeen {
                path: path.to_owned(),
                parsed: true,
                fields: fields.iter().map(|f| f.name.clone()).collect(),
            });
            for f in fields {
                snap.entries
                    .push(LicenseEntry::from_manifest_value(path, &f.name, &f.value));
            }
        }
        Err(error) => {
            snap.manifests.push(ManifestSeen {
                path: path.to_owned(),
                parsed: false,
                fields: Vec::new(),
            });
            snap.entries.push(unparsable(error));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use git2::Signature;

    const MIT: &str = "MIT License\n\nCopyright (c) 2024 Example\n\nPermission is hereby granted, free of charge, to any person obtaining a copy of this software.\n";

    enum Item<'a> {
        File(&'a [u8]),
        Link(&'a str),
        Dir(Vec<(&'a [u8], Item<'a>)>),
    }

    fn write_tree(repo: &Repository, items: Vec<(&[u8], Item<'_>)>) -> Oid {
        let mut tb = repo.treebuilder(None).expect("treebuilder");
        for (name, item) in items {
            let (oid, mode) = match item {
                Item::File(bytes) => (repo.blob(bytes).expect("blob"), 0o100_644),
                Item::Link(target) => (repo.blob(target.as_bytes()).expect("blob"), 0o120_000),
                Item::Dir(children) => (write_tree(repo, children), 0o040_000),
            };
            // Tree entry names are bytes; non-UTF-8 names are legal in git.
            tb.insert(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name),
                oid,
                mode,
            )
            .expect("insert");
        }
        tb.write().expect("write tree")
    }

    fn commit(repo: &Repository, items: Vec<(&[u8], Item<'_>)>) -> Oid {
        let tree = repo.find_tree(write_tree(repo, items)).expect("tree");
        let sig = Signature::now("t", "t@example.com").expect("sig");
        repo.commit(None, &sig, &sig, "c", &tree, &[])
            .expect("commit")
    }

    fn entry<'a>(snap: &'a LicenseSnapshot, path: &str, field: Option<&str>) -> &'a LicenseEntry {
        snap.entries
            .iter()
            .find(|e| e.path == path && e.field.as_deref() == field)
            .unwrap_or_else(|| {
                panic!(
                    "no entry {path} {field:?} in {:?}",
                    snap.entries
                        .iter()
                        .map(LicenseEntry::display_path)
                        .collect::<Vec<_>>()
                )
            })
    }

    #[test]
    fn scan_reads_files_manifests_and_license_dirs_from_a_bare_repo() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init_bare(dir.path()).expect("bare");
        let oid = commit(
            &repo,
            vec![
                (b"LICENSE", Item::File(MIT.as_bytes())),
                (b"NOTICE", Item::File(b"Example\nCopyright 2024 Example\n")),
                (b"PATENTS", Item::File(b"Additional patent grant.\n")),
                (b"README.md", Item::File(b"# readme\n")),
                (b"license.go", Item::File(b"package license\n")),
                (b"package.json", Item::File(br#"{"license":"MIT"}"#)),
                (
                    b"Cargo.toml",
                    Item::File(b"[package]\nname = \"x\"\nlicense = \"MIT OR Apache-2.0\"\n"),
                ),
                (b"go.mod", Item::File(b"module example.com/x\n")),
                (b"pyproject.toml", Item::File(b"[project\nbroken")),
                (
                    b"LICENSES",
                    Item::Dir(vec![(b"CC0-1.0.txt", Item::File(b"No rights reserved.\n"))]),
                ),
                (
                    b"src",
                    Item::Dir(vec![(
                        b"LICENSE",
                        Item::File(b"nested, not a root license\n"),
                    )]),
                ),
            ],
        );
        let snap = scan(&repo, oid).expect("scan");
        assert_eq!(entry(&snap, "LICENSE", None).kind, EntryKind::License);
        assert!(
            entry(&snap, "LICENSE", None).detected.is_some(),
            "license files get a label"
        );
        assert_eq!(entry(&snap, "NOTICE", None).kind, EntryKind::Notice);
        assert_eq!(entry(&snap, "PATENTS", None).kind, EntryKind::Patents);
        assert_eq!(
            entry(&snap, "LICENSES/CC0-1.0.txt", None).kind,
            EntryKind::License
        );
        assert_eq!(
            entry(&snap, "package.json", Some("license"))
                .expression
                .as_deref(),
            Some("MIT")
        );
        assert_eq!(
            entry(&snap, "Cargo.toml", Some("package.license")).expression_ids,
            vec!["Apache-2.0", "MIT"]
        );
        let py = entry(&snap, "pyproject.toml", Some("(file)"));
        assert_eq!(py.state, EntryState::Unparsable);
        assert!(
            py.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("pyproject.toml"))
        );
        assert!(
            snap.manifests
                .iter()
                .any(|m| m.path == "go.mod" && m.parsed && m.fields.is_empty())
        );
        assert!(
            !snap
                .entries
                .iter()
                .any(|e| e.path == "license.go" || e.path == "README.md")
        );
        // A license file below the root declares that directory's license: a package entry.
        let nested = entry(&snap, "src/LICENSE", None);
        assert_eq!(
            (nested.scope, nested.package.as_str()),
            (Scope::Package, "src")
        );
        assert_eq!(entry(&snap, "LICENSE", None).scope, Scope::Root);
        assert_eq!(snap.commit, oid.to_string());
    }

    #[test]
    fn hostile_entries_are_reported_not_followed_or_loaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init_bare(dir.path()).expect("bare");
        let big = vec![b'a'; usize::try_from(MAX_BLOB_BYTES).expect("fits") + 1];
        let binary = b"\x7fELF\0\0\x01binary".to_vec();
        let oid = commit(
            &repo,
            vec![
                (b"LICENSE", Item::Link("../../etc/passwd")),
                (b"COPYING", Item::File(&big)),
                (b"LICENSE.txt", Item::File(&binary)),
                (b"LICENSE-\xff\xfe.md", Item::File(MIT.as_bytes())),
                (b"package.json", Item::Link("/etc/shadow")),
            ],
        );
        let snap = scan(&repo, oid).expect("scan never fails on bad entries");
        let link = entry(&snap, "LICENSE", None);
        assert_eq!(link.state, EntryState::Symlink);
        assert_eq!(link.detail.as_deref(), Some("../../etc/passwd"));
        let large = entry(&snap, "COPYING", None);
        assert_eq!(large.state, EntryState::TooLarge);
        assert_eq!(large.size, MAX_BLOB_BYTES + 1);
        assert_eq!(
            large.sha256,
            sha256_hex(large.blob_id.as_deref().expect("blob id").as_bytes())
        );
        assert_eq!(entry(&snap, "LICENSE.txt", None).state, EntryState::Binary);
        assert!(snap.entries.iter().any(|e| e.path.starts_with("LICENSE-")
            && e.path.contains('\u{fffd}')
            && e.state == EntryState::Text));
        assert_eq!(
            entry(&snap, "package.json", Some("(file)")).state,
            EntryState::Symlink
        );
        // Every one of them needs review when it appears.
        let j = super::super::judge::judge(
            &LicenseSnapshot::empty(),
            &snap,
            &super::super::LicensePolicy::default(),
        );
        for code in ["symlink", "too-large", "binary"] {
            assert!(
                j.findings
                    .iter()
                    .any(|f| f.code == code && f.verdict == super::super::Verdict::ReviewRequired),
                "{code}"
            );
        }
    }

    #[test]
    fn well_known_names() {
        for (name, kind) in [
            ("LICENSE", EntryKind::License),
            ("LICENSE.md", EntryKind::License),
            ("license.txt", EntryKind::License),
            ("LICENSE-MIT", EntryKind::License),
            ("LICENSE_APACHE", EntryKind::License),
            ("LICENCE.rst", EntryKind::License),
            ("LICENSES", EntryKind::License),
            ("COPYING", EntryKind::License),
            ("COPYING.LESSER", EntryKind::License),
            ("UNLICENSE", EntryKind::License),
            ("MIT-LICENSE", EntryKind::License),
            ("NOTICE", EntryKind::Notice),
            ("NOTICE.txt", EntryKind::Notice),
            ("PATENTS", EntryKind::Patents),
            ("LICENSE.html", EntryKind::License),
            ("LICENSING.md", EntryKind::License),
        ] {
            assert_eq!(classify_name(name), Some(kind), "{name}");
        }
        for name in [
            "license.go",
            "licenses.rs",
            "README.md",
            "LICENSE.spdx",
            "licensing_test.py",
            "notices.json",
            "noticeboard",
        ] {
            assert_eq!(classify_name(name), None, "{name}");
        }
    }
}
