//! Integration tests of `upstream::diff::release_diff` against real bare repositories built with
//! git2 in temp dirs: commits, merges, tags, renames, symlinks, binaries, executable bits,
//! submodule gitlinks, manifests and changelogs.

use git2::{FileMode, Oid, Repository, Signature, Time};
use tempfile::TempDir;
use upkeep::upstream::diff::signals::{ChangeKind, codes};
use upkeep::upstream::diff::{DiffOptions, ReleaseDiff, release_diff};

/// One tree edit.
enum E<'a> {
    File(&'a [u8]),
    Exec(&'a [u8]),
    Link(&'a str),
    Gitlink(Oid),
    Delete,
}

/// A bare repository and a builder of commits from path -> content maps.
struct Fixture {
    _dir: TempDir,
    repo: Repository,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        Fixture { _dir: dir, repo }
    }

    /// Commits `edits` on top of the first parent's tree (or the empty tree).
    fn commit(
        &self,
        parents: &[Oid],
        edits: &[(&[u8], E<'_>)],
        msg: &str,
        who: &str,
        time: i64,
    ) -> Oid {
        let repo = &self.repo;
        let base = match parents.first() {
            Some(p) => repo.find_commit(*p).unwrap().tree().unwrap(),
            None => {
                let empty = repo.treebuilder(None).unwrap().write().unwrap();
                repo.find_tree(empty).unwrap()
            }
        };
        let mut update = git2::build::TreeUpdateBuilder::new();
        for (path, edit) in edits {
            match edit {
                E::File(c) => update.upsert(*path, repo.blob(c).unwrap(), FileMode::Blob),
                E::Exec(c) => update.upsert(*path, repo.blob(c).unwrap(), FileMode::BlobExecutable),
                E::Link(t) => {
                    update.upsert(*path, repo.blob(t.as_bytes()).unwrap(), FileMode::Link)
                }
                E::Gitlink(id) => update.upsert(*path, *id, FileMode::Commit),
                E::Delete => update.remove(*path),
            };
        }
        let tree = repo
            .find_tree(update.create_updated(repo, &base).unwrap())
            .unwrap();
        let sig = Signature::new(
            who,
            &format!("{}@example.com", who.to_lowercase()),
            &Time::new(time, 60),
        )
        .unwrap();
        let parents: Vec<_> = parents
            .iter()
            .map(|p| repo.find_commit(*p).unwrap())
            .collect();
        let parent_refs: Vec<_> = parents.iter().collect();
        repo.commit(None, &sig, &sig, msg, &tree, &parent_refs)
            .unwrap()
    }

    /// An annotated tag object pointing at `target`.
    fn tag(&self, name: &str, target: Oid) -> Oid {
        let obj = self.repo.find_object(target, None).unwrap();
        let sig = Signature::new("Rel", "rel@example.com", &Time::new(1_700_000_000, 0)).unwrap();
        self.repo.tag(name, &obj, &sig, name, false).unwrap()
    }

    fn diff(&self, old: Oid, new: Oid, opts: &DiffOptions) -> ReleaseDiff {
        release_diff(&self.repo, old, new, opts).unwrap()
    }
}

const T0: i64 = 1_700_000_000;

fn reasons<'a>(d: &'a ReleaseDiff, code: &str) -> Vec<(&'a str, &'a str)> {
    d.signals
        .iter()
        .filter(|s| s.code == code)
        .map(|s| (s.path.as_str(), s.reason.as_str()))
        .collect()
}

fn has(d: &ReleaseDiff, code: &str, path: &str) -> bool {
    d.signals.iter().any(|s| s.code == code && s.path == path)
}

fn lines(n: usize, tag: &str) -> Vec<u8> {
    (0..n)
        .map(|i| format!("{tag} line {i}\n"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn commit_range_counts_authors_merges_and_dates() {
    let f = Fixture::new();
    let c0 = f.commit(
        &[],
        &[(b"README.md", E::File(b"hi\n"))],
        "initial",
        "Alice",
        T0,
    );
    let v1 = f.tag("v1.0.0", c0);
    let c1 = f.commit(
        &[c0],
        &[(b"a.txt", E::File(b"a\n"))],
        "feat: a\n\nbody",
        "Alice",
        T0 + 100,
    );
    let s1 = f.commit(
        &[c1],
        &[(b"b.txt", E::File(b"b\n"))],
        "fix: b",
        "Bob",
        T0 + 200,
    );
    let c2 = f.commit(
        &[c1],
        &[(b"c.txt", E::File(b"c\n"))],
        &format!("  {}", "x".repeat(300)),
        "Alice",
        T0 + 300,
    );
    let m = f.commit(
        &[c2, s1],
        &[(b"b.txt", E::File(b"b\n"))],
        "Merge branch 'side'",
        "alice",
        T0 + 400,
    );
    let v2 = f.tag("v1.1.0", m);

    let opts = DiffOptions {
        default_branch: Some(m),
        ..DiffOptions::default()
    };
    // Annotated tags are peeled to their commits.
    let d = f.diff(v1, v2, &opts);
    assert_eq!(d.old, c0.to_string());
    assert_eq!(d.new, m.to_string());
    let r = &d.commits;
    assert_eq!(r.count, 4);
    assert!(r.old_is_ancestor);
    assert_eq!(r.reachable_from_default, Some(true));
    // Authors are distinct by email (case-insensitive), most commits first.
    let authors: Vec<_> = r
        .authors
        .iter()
        .map(|a| (a.email.as_str(), a.commits))
        .collect();
    assert_eq!(authors, [("alice@example.com", 3), ("bob@example.com", 1)]);
    assert_eq!(r.first_date.as_deref(), Some("2023-11-14T23:15:00+01:00"));
    assert_eq!(r.last_date.as_deref(), Some("2023-11-14T23:20:00+01:00"));
    // Newest first; the merge is marked.
    assert_eq!(r.list[0].id, m.to_string());
    assert_eq!(r.list[0].short_id, m.to_string()[..12]);
    assert!(r.list[0].is_merge);
    assert_eq!(r.list[0].subject, "Merge branch 'side'");
    assert!(r.list[1..].iter().all(|c| !c.is_merge));
    let long = r.list.iter().find(|c| c.id == c2.to_string()).unwrap();
    assert_eq!(long.subject.chars().count(), 120);
    assert!(long.subject.starts_with("xxx") && long.subject.ends_with('…'));
    let c1_summary = r.list.iter().find(|c| c.id == c1.to_string()).unwrap();
    assert_eq!(c1_summary.subject, "feat: a");
    assert_eq!(r.truncated, 0);

    // Listing is capped; counting is not.
    let capped = f.diff(
        c0,
        m,
        &DiffOptions {
            max_commits_listed: 2,
            ..DiffOptions::default()
        },
    );
    assert_eq!(capped.commits.list.len(), 2);
    assert_eq!(capped.commits.truncated, 2);
    assert_eq!(capped.commits.count, 4);
    assert_eq!(capped.commits.reachable_from_default, None);

    // A default branch that does not contain the release.
    let off = f.diff(
        c0,
        m,
        &DiffOptions {
            default_branch: Some(c1),
            ..DiffOptions::default()
        },
    );
    assert_eq!(off.commits.reachable_from_default, Some(false));

    // Same commit: nothing to report.
    let same = f.diff(m, m, &DiffOptions::default());
    assert_eq!(same.commits.count, 0);
    assert!(same.commits.old_is_ancestor);
    assert_eq!(same.files.changed, 0);
    assert!(same.signals.is_empty());
}

#[test]
fn force_pushed_history_is_not_an_ancestor() {
    let f = Fixture::new();
    let c0 = f.commit(&[], &[(b"a", E::File(b"0\n"))], "root", "Alice", T0);
    let old = f.commit(
        &[c0],
        &[(b"a", E::File(b"1\n"))],
        "old release",
        "Alice",
        T0 + 10,
    );
    // Upstream rewrote history: the new release is not a descendant of the pinned commit.
    let r1 = f.commit(
        &[c0],
        &[(b"a", E::File(b"1 rewritten\n"))],
        "rewritten",
        "Mallory",
        T0 + 20,
    );
    let new = f.commit(
        &[r1],
        &[(b"b", E::File(b"2\n"))],
        "new release",
        "Mallory",
        T0 + 30,
    );
    let d = f.diff(old, new, &DiffOptions::default());
    assert!(!d.commits.old_is_ancestor);
    assert_eq!(d.commits.count, 2, "commits of new not reachable from old");
    let ids: Vec<_> = d.commits.list.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, [new.to_string(), r1.to_string()]);
    assert_eq!(d.files.changed, 2);
}

#[test]
fn file_stats_renames_binaries_large_files_and_odd_names() {
    let f = Fixture::new();
    let guide = lines(40, "guide");
    let big_text = lines(60_000, "padding"); // > 1 MiB
    assert!(big_text.len() > 1024 * 1024);
    let c0 = f.commit(
        &[],
        &[
            (b"src/main.rs", E::File(&lines(10, "main"))),
            (b"docs/guide.md", E::File(&guide)),
            (b"old.txt", E::File(b"bye\n")),
        ],
        "v1",
        "Alice",
        T0,
    );
    let mut main_new = lines(10, "main");
    main_new.extend_from_slice(b"added 1\nadded 2\nadded 3\n");
    let mut guide_new = guide.clone();
    guide_new.extend_from_slice(b"one more\n");
    let binary: &[u8] = b"\x7fELF\x00\x00\x01binary";
    let c1 = f.commit(
        &[c0],
        &[
            (b"src/main.rs", E::File(&main_new)),
            (b"docs/guide.md", E::Delete),
            (b"docs/manual.md", E::File(&guide_new)),
            (b"old.txt", E::Delete),
            (b"assets/tool", E::File(binary)),
            (b"data/huge.txt", E::File(&big_text)),
            (b"weird\nname.txt", E::File(b"x\n")),
            (b"caf\xe9.txt", E::File(b"latin1 name\n")),
        ],
        "v2",
        "Alice",
        T0 + 10,
    );
    let d = f.diff(
        c0,
        c1,
        &DiffOptions {
            max_largest_files: 2,
            ..DiffOptions::default()
        },
    );
    let files = &d.files;
    // main.rs, rename guide->manual, old.txt, tool, huge, two odd names.
    assert_eq!(files.changed, 7, "{files:#?}");
    assert_eq!(files.renames_count, 1);
    assert_eq!(files.renames[0].from, "docs/guide.md");
    assert_eq!(files.renames[0].to, "docs/manual.md");
    assert!(!files.renames_exact_only);
    // 3 (main) + 1 (manual) + 2 (odd names) inserted, 1 (old.txt) deleted; huge not counted.
    assert_eq!(files.insertions, 6);
    assert_eq!(files.deletions, 1);
    assert_eq!(files.largest.len(), 2);
    assert_eq!(files.largest[0].path, "src/main.rs");
    assert_eq!(
        (files.largest[0].insertions, files.largest[0].deletions),
        (3, 0)
    );
    assert_eq!(files.largest[0].status, ChangeKind::Modified);
    assert_eq!(files.binary_or_large_count, 2);
    let huge = &files.binary_or_large[0];
    assert_eq!(huge.path, "data/huge.txt");
    assert!(huge.large && !huge.binary);
    assert_eq!(huge.size, Some(big_text.len() as u64));
    assert_eq!((huge.insertions, huge.deletions), (0, 0));
    let tool = &files.binary_or_large[1];
    assert_eq!(tool.path, "assets/tool");
    assert!(tool.binary && !tool.large);
    assert_eq!(tool.size, Some(binary.len() as u64));

    let added = format!("binary file added ({} bytes)", binary.len());
    assert_eq!(
        reasons(&d, codes::BINARY_ADDED),
        [("assets/tool", added.as_str())]
    );
    assert_eq!(reasons(&d, codes::LARGE_FILE_ADDED).len(), 1);
    assert!(has(&d, codes::LARGE_FILE_ADDED, "data/huge.txt"));
    // Hostile names are reported, escaped and lossily decoded, never break a line.
    let all = f.diff(c0, c1, &DiffOptions::default());
    let paths: Vec<_> = all.files.largest.iter().map(|c| c.path.as_str()).collect();
    assert!(paths.contains(&"weird\\nname.txt"), "{paths:?}");
    assert!(paths.contains(&"caf\u{fffd}.txt"), "{paths:?}");
}

#[test]
fn huge_rename_candidates_fall_back_to_exact_renames() {
    let f = Fixture::new();
    let text = lines(50, "moved");
    let c0 = f.commit(
        &[],
        &[
            (b"a/exact.txt", E::File(b"same content\n")),
            (b"a/edited.txt", E::File(&text)),
        ],
        "v1",
        "Alice",
        T0,
    );
    let mut edited = text.clone();
    edited.extend_from_slice(b"edit\n");
    let blob = vec![b'z'; 9 * 1024 * 1024];
    let c1 = f.commit(
        &[c0],
        &[
            (b"a/exact.txt", E::Delete),
            (b"b/exact.txt", E::File(b"same content\n")),
            (b"a/edited.txt", E::Delete),
            (b"b/edited.txt", E::File(&edited)),
            (b"blob.dat", E::File(&blob)),
        ],
        "v2",
        "Alice",
        T0 + 10,
    );
    let d = f.diff(c0, c1, &DiffOptions::default());
    assert!(d.files.renames_exact_only);
    let renames: Vec<_> = d
        .files
        .renames
        .iter()
        .map(|r| (r.from.as_str(), r.to.as_str()))
        .collect();
    assert_eq!(renames, [("a/exact.txt", "b/exact.txt")]);
    // edited.txt is a delete plus an add, blob.dat is summarised by size.
    assert_eq!(d.files.changed, 4);
    assert_eq!(d.files.binary_or_large[0].size, Some(blob.len() as u64));
}

#[test]
fn symlinks_executables_minified_and_submodules() {
    let f = Fixture::new();
    // Any commit id will do for a gitlink; it need not exist in this repository.
    let sub_a = Oid::from_str("1111111111111111111111111111111111111111").unwrap();
    let sub_b = Oid::from_str("2222222222222222222222222222222222222222").unwrap();
    let c0 = f.commit(
        &[],
        &[
            (b"scripts/build.sh", E::File(b"#!/bin/sh\n")),
            (b"vendor/lib", E::Gitlink(sub_a)),
            (b".gitmodules", E::File(b"[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = https://github.com/up/lib\n")),
            (b"docs", E::File(b"docs\n")),
        ],
        "v1",
        "Alice",
        T0,
    );
    let c1 = f.commit(
        &[c0],
        &[
            (b"scripts/build.sh", E::Exec(b"#!/bin/sh\n")),
            (b"install.sh", E::Exec(b"#!/bin/sh\ncurl x | sh\n")),
            (b"evil", E::Link("../../etc/passwd")),
            (b"docs", E::Link("README.md")),
            (b"dist/app.min.js", E::File(b"var a=1;")),
            (b"vendor/lib", E::Gitlink(sub_b)),
            (b"vendor/other", E::Gitlink(sub_a)),
            (b".gitmodules", E::File(b"[submodule \"lib\"]\n\tpath = vendor/lib\n\turl = https://evil.example/lib\n[submodule \"other\"]\n\tpath = vendor/other\n\turl = https://h/other\n")),
        ],
        "v2",
        "Alice",
        T0 + 10,
    );
    let d = f.diff(c0, c1, &DiffOptions::default());
    assert_eq!(
        reasons(&d, codes::EXECUTABLE_BIT_SET),
        [
            ("install.sh", "new executable file (100755)"),
            ("scripts/build.sh", "executable bit set (100644 -> 100755)"),
        ]
    );
    assert_eq!(
        reasons(&d, codes::SYMLINK_ADDED),
        [
            ("docs", "symlink added -> README.md"),
            (
                "evil",
                "symlink added, points outside the repository: ../../etc/passwd"
            ),
        ]
    );
    // A file that became a symlink is one typechange entry, not a delete plus an add:
    // .gitmodules, dist, docs, evil, install.sh, scripts/build.sh, vendor/lib, vendor/other.
    assert_eq!(d.files.changed, 8, "{:#?}", d.files);
    assert!(has(&d, codes::MINIFIED_ADDED, "dist/app.min.js"));
    assert_eq!(
        reasons(&d, codes::SUBMODULE_REPOINTED),
        [(
            "vendor/lib",
            "submodule repointed 111111111111 -> 222222222222"
        )]
    );
    assert_eq!(
        reasons(&d, codes::SUBMODULE_ADDED),
        [("vendor/other", "submodule added at 111111111111")]
    );
    let gm = reasons(&d, codes::GITMODULES_CHANGED);
    assert!(
        gm.contains(&(
            "vendor/lib",
            "submodule lib url changed https://github.com/up/lib -> https://evil.example/lib"
        )),
        "{gm:?}"
    );
    assert!(
        gm.contains(&(
            "vendor/other",
            "submodule other declared with url https://h/other"
        )),
        "{gm:?}"
    );
    // Gitlinks have no line stats and are not binary.
    assert!(
        d.files
            .binary_or_large
            .iter()
            .all(|c| !c.path.starts_with("vendor/"))
    );
}

#[test]
fn dependency_install_ci_and_build_signals() {
    let f = Fixture::new();
    let c0 = f.commit(
        &[],
        &[
            (b"package.json", E::File(br#"{"dependencies":{"lodash":"^4.17.20","node-fetch":"^2"},"scripts":{"test":"vitest"}}"#)),
            (b"py/requirements.txt", E::File(b"httpx==0.27.0\nrich\n")),
            (b"py/pyproject.toml", E::File(b"[project]\nname='x'\ndependencies=['mcp>=1.0']\n")),
            (b"Cargo.toml", E::File(b"[package]\nname='x'\n[dependencies]\nserde='1'\n")),
            (b"setup.py", E::File(b"setup()\n")),
            (b".github/workflows/ci.yml", E::File(b"on: push\n")),
            (b"web/package.json", E::File(b"{}")),
            (b"Dockerfile", E::File(b"FROM alpine\n")),
        ],
        "v1",
        "Alice",
        T0,
    );
    let c1 = f.commit(
        &[c0],
        &[
            (b"package.json", E::File(br#"{"dependencies":{"lodash":"^4.17.21","undici":"^7.2.0"},"scripts":{"test":"vitest","postinstall":"node scripts/get.js"}}"#)),
            (b"pnpm-lock.yaml", E::File(b"lockfileVersion: 9\n")),
            (b"py/requirements.txt", E::File(b"httpx==0.28.1\nrich\nrequests>=2\n")),
            (b"py/pyproject.toml", E::File(b"[project]\nname='x'\ndependencies=[]\n")),
            (b"Cargo.toml", E::File(b"[package]\nname='x'\n[dependencies]\nserde='1'\n[build-dependencies]\ncc='1'\n")),
            (b"build.rs", E::File(b"fn main() {}\n")),
            (b"setup.py", E::File(b"import os; setup()\n")),
            (b".github/workflows/ci.yml", E::File(b"on: [push, pull_request]\n")),
            (b"web/package.json", E::File(b"{ \"dependencies\": ")),
            (b"Dockerfile", E::File(b"FROM alpine:3.20\n")),
        ],
        "v2",
        "Alice",
        T0 + 10,
    );
    let d = f.diff(c0, c1, &DiffOptions::default());
    assert_eq!(
        reasons(&d, codes::DEPENDENCY_ADDED),
        [
            ("Cargo.toml", "new dependency cc@1 (build-dependencies)"),
            ("package.json", "new dependency undici@^7.2.0"),
            ("py/requirements.txt", "new dependency requests >=2"),
        ]
    );
    assert_eq!(
        reasons(&d, codes::DEPENDENCY_REMOVED),
        [
            ("package.json", "removed node-fetch"),
            ("py/pyproject.toml", "removed mcp")
        ]
    );
    assert_eq!(
        reasons(&d, codes::DEPENDENCY_CHANGED),
        [
            ("package.json", "changed lodash ^4.17.20 -> ^4.17.21"),
            ("py/requirements.txt", "changed httpx ==0.27.0 -> ==0.28.1"),
        ]
    );
    assert_eq!(
        reasons(&d, codes::INSTALL_SCRIPT_ADDED),
        [(
            "package.json",
            "npm postinstall script added: node scripts/get.js"
        )]
    );
    let bad = reasons(&d, codes::MANIFEST_UNPARSABLE);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].0, "web/package.json");
    assert!(
        bad[0]
            .1
            .starts_with("could not parse package.json at the new revision"),
        "{}",
        bad[0].1
    );
    for (code, path) in [
        (codes::LOCKFILE_CHANGED, "pnpm-lock.yaml"),
        (codes::DEPENDENCY_MANIFEST_CHANGED, "package.json"),
        (codes::DEPENDENCY_MANIFEST_CHANGED, "Cargo.toml"),
        (codes::BUILD_SCRIPT_CHANGED, "build.rs"),
        (codes::SETUP_PY_CHANGED, "setup.py"),
        (codes::CI_WORKFLOW_CHANGED, ".github/workflows/ci.yml"),
        (codes::CONTAINER_BUILD_CHANGED, "Dockerfile"),
    ] {
        assert!(
            has(&d, code, path),
            "missing {code} for {path}: {:#?}",
            d.signals
        );
    }
    // Every reason is one line.
    assert!(d.signals.iter().all(|s| !s.reason.contains('\n')));
}

#[test]
fn changelog_section_for_the_new_version() {
    let f = Fixture::new();
    let changelog = b"# Changelog\n\n## [1.2.0] - 2024-11-03\n\n### Added\n- search tool\n\n## [1.1.0]\n- older\n";
    let c0 = f.commit(
        &[],
        &[(b"CHANGELOG.md", E::File(b"# Changelog\n"))],
        "v1.1.0",
        "Alice",
        T0,
    );
    let c1 = f.commit(
        &[c0],
        &[(b"CHANGELOG.md", E::File(changelog))],
        "v1.2.0",
        "Alice",
        T0 + 10,
    );
    let opts = |v: &str| DiffOptions {
        version: Some(v.to_owned()),
        ..DiffOptions::default()
    };

    let d = f.diff(c0, c1, &opts("v1.2.0"));
    let notes = d.release_notes.expect("section found");
    assert_eq!(notes.path, "CHANGELOG.md");
    assert_eq!(notes.heading, "[1.2.0] - 2024-11-03");
    assert_eq!(notes.text, "### Added\n- search tool");
    assert!(!notes.truncated);

    assert_eq!(f.diff(c0, c1, &opts("1.3.0")).release_notes, None);
    assert_eq!(f.diff(c0, c1, &DiffOptions::default()).release_notes, None);

    // A symlinked changelog is not followed.
    let c2 = f.commit(
        &[c1],
        &[
            (b"CHANGELOG.md", E::Delete),
            (b"HISTORY.md", E::Link("CHANGELOG.real")),
        ],
        "link",
        "Alice",
        T0 + 20,
    );
    assert_eq!(f.diff(c1, c2, &opts("1.2.0")).release_notes, None);
}

#[test]
fn report_round_trips_through_json() {
    let f = Fixture::new();
    let c0 = f.commit(&[], &[(b"package.json", E::File(b"{}"))], "v1", "Alice", T0);
    let c1 = f.commit(
        &[c0],
        &[(b"package.json", E::File(br#"{"dependencies":{"a":"1"}}"#))],
        "v2",
        "Bob",
        T0 + 5,
    );
    let d = f.diff(c0, c1, &DiffOptions::default());
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["signals"][1]["code"], "dependency-added");
    assert_eq!(json["files"]["largest"][0]["status"], "modified");
    let back: ReleaseDiff = serde_json::from_value(json).unwrap();
    assert_eq!(back, d);
}

#[test]
fn long_ranges_keep_every_list_capped_and_everything_counted() {
    // 130 commits by 130 authors, each adding a binary file, plus one install script: more of
    // everything than any list holds (the large-upstream benchmark has 10,250 commits).
    use upkeep::upstream::diff::{MAX_AUTHORS_LISTED, MAX_SIGNALS_PER_CODE};
    let n = 130;
    let f = Fixture::new();
    let old = f.commit(&[], &[(b"package.json", E::File(b"{}"))], "v1", "Root", T0);
    let mut new = old;
    for i in 0..n {
        let path = format!("assets/icon{i}.png");
        let content = [0u8, 1, 2, (i % 256) as u8];
        new = f.commit(
            &[new],
            &[(path.as_bytes(), E::File(&content))],
            &format!("icon {i}"),
            &format!("Author{i}"),
            T0 + 60 * (i as i64 + 1),
        );
    }
    new = f.commit(
        &[new],
        &[(
            b"package.json",
            E::File(br#"{"scripts":{"postinstall":"node x.js"}}"#),
        )],
        "scripts",
        "Author0",
        T0 + 60 * (n as i64 + 1),
    );
    let d = f.diff(old, new, &DiffOptions::default());
    let c = &d.commits;
    assert_eq!(c.count, n + 1);
    assert_eq!((c.list.len(), c.truncated), (50, n + 1 - 50));
    assert_eq!(c.authors.len(), MAX_AUTHORS_LISTED);
    assert_eq!((c.authors_count, c.authors_total()), (n, n));
    // Author0 has two commits: listed first.
    assert_eq!(
        (c.authors[0].name.as_str(), c.authors[0].commits),
        ("Author0", 2)
    );
    assert_eq!(d.files.changed, n + 1);
    assert_eq!(d.files.binary_or_large_count, n);
    assert_eq!(d.files.binary_or_large.len(), 10);
    assert_eq!(reasons(&d, codes::BINARY_ADDED).len(), MAX_SIGNALS_PER_CODE);
    assert_eq!(d.signals_truncated, n - MAX_SIGNALS_PER_CODE);
    // The one install script is not buried by the binaries.
    assert!(has(&d, codes::INSTALL_SCRIPT_ADDED, "package.json"));
    // Reports stored before the counts existed still read, and count their lists.
    let mut json = serde_json::to_value(&d).unwrap();
    json["commits"]
        .as_object_mut()
        .unwrap()
        .remove("authors_count");
    json.as_object_mut().unwrap().remove("signals_truncated");
    let old_report: ReleaseDiff = serde_json::from_value(json).unwrap();
    assert_eq!(old_report.commits.authors_total(), MAX_AUTHORS_LISTED);
    assert_eq!(old_report.signals_truncated, 0);
}

#[test]
fn unknown_commits_are_errors() {
    let f = Fixture::new();
    let c0 = f.commit(&[], &[(b"a", E::File(b"a"))], "v1", "Alice", T0);
    let missing = Oid::from_str("3333333333333333333333333333333333333333").unwrap();
    let err = release_diff(&f.repo, missing, c0, &DiffOptions::default()).unwrap_err();
    assert!(
        format!("{err:#}").contains("old pin 3333333333333333333333333333333333333333"),
        "{err:#}"
    );
    let err = release_diff(&f.repo, c0, missing, &DiffOptions::default()).unwrap_err();
    assert!(format!("{err:#}").contains("new release"), "{err:#}");
}
