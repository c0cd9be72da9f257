//! Discovery: the license files and manifest fields of one commit, read from git objects only.
//!
//! The only I/O in the license module. Never checks out, never follows a symlink, never loads a
//! blob over [`MAX_BLOB_BYTES`] (its size is read from the object header first).

use anyhow::Context as _;
use git2::{ObjectType, Oid, Repository, TreeEntry};

use super::manifest;
use super::snapshot::{
    EntryKind, EntryState, LicenseEntry, LicenseSnapshot, MAX_BLOB_BYTES, ManifestSeen,
    SNAPSHOT_VERSION, sha256_hex,
};

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

/// Scans `commit` of `repo` (bare or not) and returns its license snapshot.
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
    let mut snap = LicenseSnapshot {
        version: SNAPSHOT_VERSION,
        commit: commit.to_string(),
        entries: Vec::new(),
        manifests: Vec::new(),
        truncated: false,
    };
    for entry in &tree {
        let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
        if manifest::MANIFESTS.contains(&name.as_str()) {
            read_manifest(repo, &entry, &name, &mut snap)?;
            continue;
        }
        let lower = name.to_ascii_lowercase();
        let kind = classify_name(&name);
        match entry.kind() {
            Some(ObjectType::Tree)
                if lower == "licenses" || lower == "licences" || kind.is_some() =>
            {
                let mut budget = MAX_DIR_FILES;
                read_dir(repo, entry.id(), &name, &mut snap, &mut budget, 0)?;
            }
            _ => {
                if let Some(kind) = kind {
                    snap.entries.push(read_file(repo, &entry, &name, kind)?);
                }
            }
        }
    }
    snap.sort();
    Ok(snap)
}

/// Reads every file under a license directory, depth and count limited.
fn read_dir(
    repo: &Repository,
    tree_id: Oid,
    prefix: &str,
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
                read_dir(repo, entry.id(), &path, snap, budget, depth + 1)?;
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
        snap.entries
            .push(read_file(repo, &entry, &path, EntryKind::License)?);
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
    name: &str,
    snap: &mut LicenseSnapshot,
) -> anyhow::Result<()> {
    if entry.kind() == Some(ObjectType::Tree) {
        return Ok(());
    }
    let bytes = match load_blob(repo, entry, name, Some("(file)"), EntryKind::ManifestField)? {
        Ok(bytes) => bytes,
        Err(unjudgeable) => {
            snap.manifests.push(ManifestSeen {
                path: name.to_owned(),
                parsed: false,
                fields: Vec::new(),
            });
            snap.entries.push(unjudgeable);
            return Ok(());
        }
    };
    let unparsable = |detail: String| {
        LicenseEntry::unjudgeable(
            name,
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
            path: name.to_owned(),
            parsed: false,
            fields: Vec::new(),
        });
        snap.entries
            .push(unparsable(format!("{name} is not UTF-8")));
        return Ok(());
    };
    match manifest::fields(name, text) {
        Ok(fields) => {
            snap.manifests.push(ManifestSeen {
                path: name.to_owned(),
                parsed: true,
                fields: fields.iter().map(|f| f.name.clone()).collect(),
            });
            for f in fields {
                snap.entries
                    .push(LicenseEntry::from_manifest_value(name, &f.name, &f.value));
            }
        }
        Err(error) => {
            snap.manifests.push(ManifestSeen {
                path: name.to_owned(),
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
