//! MCP surface corpus: small servers written for this test, one directory each under
//! `tests/mcp_corpus/`, in every language and SDK form the extractor knows, with decoys (calls
//! named like SDK methods that are not, strings that look like tool names). Each directory
//! holds the server's files and `expected.json`, the surface a careful reader of the source
//! sees. Every server is committed into a real git repository and extracted from git objects.
//!
//! Targets: 100 % of literal definitions found with every field as expected, nothing invented,
//! every expected unresolved definition reported. Run with
//! `cargo test --test mcp_corpus -- --nocapture` to see the table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{Repository, Signature};
use serde_json::Value;
use upkeep::mcp::{Limits, ScanMemo, Surface, SurfaceCache, extract};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_corpus")
}

/// The files of one corpus server (relative path -> bytes), without `expected.json`.
fn server_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read corpus dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .expect("inside")
                .to_string_lossy()
                .replace('\\', "/");
            if rel == "expected.json" {
                continue;
            }
            out.insert(rel, std::fs::read(&path).expect("read fixture"));
        }
    }
    out
}

/// Commits `files` into a new repository and returns it with the commit id.
fn commit_files(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> (Repository, git2::Oid) {
    let repo = Repository::init(dir).expect("init");
    let mut index = repo.index().expect("index");
    for (path, bytes) in files {
        let blob = repo.blob(bytes).expect("blob");
        let entry = git2::IndexEntry {
            ctime: git2::IndexTime::new(0, 0),
            mtime: git2::IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode: 0o100_644,
            uid: 0,
            gid: 0,
            file_size: u32::try_from(bytes.len()).expect("small"),
            id: blob,
            flags: 0,
            flags_extended: 0,
            path: path.as_bytes().to_vec(),
        };
        index.add(&entry).expect("add");
    }
    let tree_id = index.write_tree().expect("tree");
    let tree = repo.find_tree(tree_id).expect("find tree");
    let sig = Signature::now("corpus", "corpus@example.com").expect("sig");
    let commit = repo
        .commit(Some("HEAD"), &sig, &sig, "corpus server", &tree, &[])
        .expect("commit");
    drop(tree);
    (repo, commit)
}

/// An item as JSON without its location (compared field by field with the expectation).
fn without_location(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("location");
    }
    v
}

fn item_key(kind: &str, v: &Value) -> String {
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .or_else(|| v.get("uri").and_then(Value::as_str))
        .unwrap_or("?");
    format!("{kind}:{name}")
}

#[derive(Default, Debug)]
struct Tally {
    expected: usize,
    found: usize,
    exact: usize,
    invented: usize,
    unresolved_expected: usize,
    unresolved_found: usize,
    failures: Vec<String>,
}

fn check_items(kind: &str, expected: &Value, got: &Value, tally: &mut Tally) {
    let exp: Vec<Value> = expected.as_array().cloned().unwrap_or_default();
    let got: Vec<Value> = got
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(without_location)
        .collect();
    let mut got_by: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for g in &got {
        got_by.entry(item_key(kind, g)).or_default().push(g.clone());
    }
    for e in &exp {
        tally.expected += 1;
        let key = item_key(kind, e);
        match got_by
            .get_mut(&key)
            .and_then(|v| (!v.is_empty()).then(|| v.remove(0)))
        {
            Some(g) => {
                tally.found += 1;
                if &g == e {
                    tally.exact += 1;
                } else {
                    tally.failures.push(format!(
                        "{key}: fields differ\n  expected {}\n  got      {}",
                        e, g
                    ));
                }
            }
            None => tally.failures.push(format!("{key}: MISSED")),
        }
    }
    for (key, rest) in got_by {
        for g in rest {
            tally.invented += 1;
            tally.failures.push(format!("{key}: INVENTED {g}"));
        }
    }
}

fn check_server(name: &str, surface: &Option<Surface>, expected: &Value, tally: &mut Tally) {
    let failures = &mut tally.failures;
    if expected.is_null() {
        if let Some(s) = surface {
            failures.push(format!("{name}: expected no MCP surface, got {s:?}"));
        }
        return;
    }
    let Some(s) = surface else {
        failures.push(format!("{name}: no MCP surface found"));
        return;
    };
    let got = serde_json::to_value(s).expect("json");
    let langs = got.get("languages").cloned().unwrap_or(Value::Null);
    if let Some(e) = expected.get("languages")
        && e != &langs
    {
        failures.push(format!("{name}: languages {langs} != {e}"));
    }
    if let Some(e) = expected.get("server") {
        let server = without_location(got.get("server").unwrap_or(&Value::Null));
        if &server != e {
            failures.push(format!("{name}: server {server} != {e}"));
        }
    }
    for kind in ["tools", "prompts", "resources"] {
        let k = kind.trim_end_matches('s');
        check_items(
            k,
            expected.get(kind).unwrap_or(&Value::Array(Vec::new())),
            got.get(kind).unwrap_or(&Value::Null),
            tally,
        );
    }
    // Each expected unresolved entry: a file and a phrase of its reason.
    let unresolved = &s.unresolved;
    for e in expected
        .get("unresolved")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        tally.unresolved_expected += 1;
        let file = e.get("file").and_then(Value::as_str).unwrap_or("");
        let phrase = e.get("reason").and_then(Value::as_str).unwrap_or("");
        if unresolved
            .iter()
            .any(|u| u.file == file && u.reason.contains(phrase))
        {
            tally.unresolved_found += 1;
        } else {
            tally.failures.push(format!(
                "{name}: unresolved ({file}: {phrase}) not reported; got {unresolved:?}"
            ));
        }
    }
    if let Some(max) = expected.get("unresolved_max").and_then(Value::as_u64)
        && unresolved.len() as u64 > max
    {
        tally.failures.push(format!(
            "{name}: {} unresolved entries, expected at most {max}: {unresolved:?}",
            unresolved.len()
        ));
    }
}

#[test]
fn corpus_surfaces_are_found_exactly() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let cache = SurfaceCache::default();
    let limits = Limits::default();
    let mut by_lang: BTreeMap<String, Tally> = BTreeMap::new();
    let mut all_failures = Vec::new();
    for dir in &dirs {
        let name = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let expected: Value = serde_json::from_slice(
            &std::fs::read(dir.join("expected.json")).expect("expected.json"),
        )
        .unwrap_or_else(|e| panic!("{name}/expected.json: {e}"));
        let files = server_files(dir);
        let tmp = tempfile::tempdir().expect("tmp");
        let (repo, commit) = commit_files(tmp.path(), &files);
        let surface =
            extract(&repo, commit, &limits, &cache, &mut ScanMemo::default()).expect("extract");
        if std::env::var_os("MCP_CORPUS_DUMP").is_some() {
            eprintln!(
                "== {name}\n{}",
                serde_json::to_string_pretty(&surface).expect("json")
            );
        }
        let lang = name.split('-').next().unwrap_or("?").to_owned();
        let tally = by_lang.entry(lang).or_default();
        let before = tally.failures.len();
        check_server(&name, &surface, &expected, tally);
        for f in &tally.failures[before..] {
            all_failures.push(format!("{name}: {f}"));
        }
    }
    eprintln!("\nMCP surface corpus: {} servers", dirs.len());
    eprintln!(
        "  {:<8} {:>8} {:>6} {:>6} {:>8} {:>11}",
        "language", "expected", "found", "exact", "invented", "unresolved"
    );
    let mut total = Tally::default();
    for (lang, t) in &by_lang {
        eprintln!(
            "  {lang:<8} {:>8} {:>6} {:>6} {:>8} {:>7}/{:<3}",
            t.expected, t.found, t.exact, t.invented, t.unresolved_found, t.unresolved_expected
        );
        total.expected += t.expected;
        total.found += t.found;
        total.exact += t.exact;
        total.invented += t.invented;
        total.unresolved_found += t.unresolved_found;
        total.unresolved_expected += t.unresolved_expected;
    }
    eprintln!(
        "  {:<8} {:>8} {:>6} {:>6} {:>8} {:>7}/{:<3}",
        "total",
        total.expected,
        total.found,
        total.exact,
        total.invented,
        total.unresolved_found,
        total.unresolved_expected
    );
    for f in &all_failures {
        eprintln!("  FAIL {f}");
    }
    assert!(dirs.len() >= 10, "the corpus has {} servers", dirs.len());
    assert!(total.expected >= 60, "corpus too small: {}", total.expected);
    assert!(
        all_failures.is_empty(),
        "{} corpus failures (run with --nocapture)",
        all_failures.len()
    );
    assert_eq!(
        total.found, total.expected,
        "every literal definition found"
    );
    assert_eq!(total.exact, total.expected, "every field as expected");
    assert_eq!(total.invented, 0, "nothing invented");
}
