//! The dependency rules of `lib.rs`, checked: every `crate::x` path in a module's files (and
//! every `upkeep::x` path in `main.rs`) must be allowed by the rules block of `lib.rs`. Text
//! based on purpose: cheap, and it reads the same rules a person reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What each module may import: module paths (`http`, `upstream::diff`) or `*`.
struct Rules {
    foundation: Vec<String>,
    allowed: BTreeMap<String, Vec<String>>,
}

impl Rules {
    /// The ```text block after "Dependency rules" in the `//!` docs of `lib.rs`.
    fn parse(lib_rs: &str) -> Rules {
        let docs: Vec<&str> = lib_rs
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .map(str::trim)
            .collect();
        let start = docs
            .iter()
            .position(|l| l.starts_with("Dependency rules"))
            .expect("lib.rs has a \"Dependency rules\" paragraph");
        let open = start
            + docs[start..]
                .iter()
                .position(|l| *l == "```text")
                .expect("a ```text block follows it");
        let mut rules = Rules {
            foundation: Vec::new(),
            allowed: BTreeMap::new(),
        };
        for line in docs[open + 1..].iter().take_while(|l| **l != "```") {
            if let Some(list) = line.strip_prefix("foundation:") {
                rules.foundation = list.split_whitespace().map(String::from).collect();
            } else if let Some((module, list)) = line.split_once("->") {
                rules.allowed.insert(
                    module.trim().to_string(),
                    list.split_whitespace().map(String::from).collect(),
                );
            } else {
                panic!("unreadable rule in lib.rs: {line:?}");
            }
        }
        rules
    }

    /// Why `from` may not name `path` (`store::Store`), or None when it may.
    fn forbids(&self, from: &str, path: &str) -> Option<String> {
        let target = path.split("::").next().unwrap_or(path);
        if target == from {
            return None;
        }
        let Some(allowed) = self.allowed.get(from) else {
            return Some(format!("module `{from}` has no rule in lib.rs"));
        };
        let ok = self
            .foundation
            .iter()
            .chain(allowed)
            .any(|a| a == "*" || path == a || path.starts_with(&format!("{a}::")));
        (!ok).then(|| format!("`{from}` may not import `{path}`"))
    }
}

/// Every `crate::a::b` (or `<prefix>a::b`) path outside comments, as `a::b` (module segments
/// only: the path stops at the first capitalised or braced segment).
fn paths(source: &str, prefix: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (no, line) in source.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        for (at, _) in code.match_indices(prefix) {
            // `some_crate::x` is not `crate::x`.
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[at + prefix.len()..];
            let segments: Vec<&str> = rest
                .split("::")
                .map(|s| {
                    s.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or("")
                })
                .take_while(|s| s.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
                .collect();
            if !segments.is_empty() {
                out.push((no + 1, segments.join("::")));
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src dir") {
        let path = entry.expect("a dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to: `src/pipeline/stages/apply.rs` -> `pipeline`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("a file under src");
    let first = rel.components().next().expect("a path");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// The modules `lib.rs` declares (`pub mod x;`), this test module aside.
fn modules(lib_rs: &str) -> Vec<String> {
    lib_rs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|rest| rest.trim_end_matches(';').to_string())
        .collect()
}

#[test]
fn no_module_imports_what_lib_rs_forbids() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib_rs = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let rules = Rules::parse(&lib_rs);
    let modules = modules(&lib_rs);
    let mut problems: Vec<String> = modules
        .iter()
        .filter(|m| !rules.allowed.contains_key(*m))
        .map(|m| format!("src/lib.rs: module `{m}` has no dependency rule"))
        .collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let module = module_of(&src, &file);
        let (from, prefix) = match module.as_str() {
            "lib" | "dependency_rules" => continue,
            "main" => ("main".to_string(), "upkeep::"),
            _ => (module, "crate::"),
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, path) in paths(&text, prefix) {
            // Items of the crate root (`crate::started_at`) are not modules.
            if !modules
                .iter()
                .any(|m| path.split("::").next() == Some(m.as_str()))
            {
                continue;
            }
            if let Some(why) = rules.forbids(&from, &path) {
                problems.push(format!("{}:{line}: {why}", file.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "imports against the rules in src/lib.rs:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_reads_paths_and_rules() {
    let rules = Rules::parse(
        "//! Dependency rules.\n//!\n//! ```text\n//! foundation: config\n//! a -> b c::d\n//! b ->\n//! c ->\n//! config ->\n//! ```\n",
    );
    assert_eq!(rules.forbids("a", "b::X"), None);
    assert_eq!(rules.forbids("a", "c::d::e"), None);
    assert_eq!(rules.forbids("a", "config::x"), None);
    assert!(rules.forbids("a", "c::other").is_some());
    assert!(rules.forbids("b", "a").is_some());
    let src = "use crate::store::{Store, X};\n// crate::app in a comment\nlet x = other_crate::y; crate::report::Trigger::Api;";
    assert_eq!(
        paths(src, "crate::"),
        [(1, "store".to_string()), (3, "report".to_string())]
    );
}
