//! Dependency manifests: recognising them by path and reading their dependencies (pure).
//!
//! Owns the per-ecosystem parsing of npm `package.json`, Python `pyproject.toml` (PEP 621,
//! PEP 735 groups and Poetry) and `requirements*.txt`, Cargo `Cargo.toml` and Go `go.mod`, and
//! the comparison of two dependency lists. Functions take bytes and never panic: a manifest that
//! does not parse is an `Err` with a one-line reason, which the caller turns into a signal.

use std::collections::BTreeMap;

use anyhow::{Context, anyhow};

/// The manifest formats whose dependencies are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    NpmPackage,
    PyProject,
    Requirements,
    CargoToml,
    GoMod,
}

/// The last path component.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The manifest kind for `path` (anywhere in the tree), if it is one we parse.
pub fn manifest_kind(path: &str) -> Option<ManifestKind> {
    let name = file_name(path);
    match name {
        "package.json" => Some(ManifestKind::NpmPackage),
        "pyproject.toml" => Some(ManifestKind::PyProject),
        "Cargo.toml" => Some(ManifestKind::CargoToml),
        "go.mod" => Some(ManifestKind::GoMod),
        _ if name.starts_with("requirements") && name.ends_with(".txt") => {
            Some(ManifestKind::Requirements)
        }
        _ => None,
    }
}

/// True for lockfiles: changed pins without a manifest change still change what gets built.
pub fn is_lockfile(path: &str) -> bool {
    matches!(
        file_name(path),
        "pnpm-lock.yaml"
            | "package-lock.json"
            | "npm-shrinkwrap.json"
            | "yarn.lock"
            | "bun.lockb"
            | "bun.lock"
            | "uv.lock"
            | "poetry.lock"
            | "Pipfile.lock"
            | "Cargo.lock"
            | "go.sum"
    )
}

/// True for dependency manifests, including ones we only flag (e.g. `Pipfile`, `setup.cfg`).
pub fn is_manifest(path: &str) -> bool {
    manifest_kind(path).is_some() || matches!(file_name(path), "Pipfile" | "setup.cfg")
}

/// One declared dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// Where it is declared: `dependencies`, `devDependencies`, `dev-dependencies`,
    /// `optional-dependencies.test`, `require`, ... The ecosystem's main group is
    /// [`MAIN_GROUP`]-like (`dependencies` or `require`).
    pub group: String,
    /// The package name (normalised for Python: lowercase, runs of `-_.` as `-`).
    pub name: String,
    /// The version requirement or source as written (`^7.2.0`, `>=1,<2`, `git=... rev=...`).
    pub spec: String,
}

/// The group names that are a manifest's main dependencies (not mentioned in reasons).
pub const MAIN_GROUP: [&str; 2] = ["dependencies", "require"];

/// A difference between two dependency lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepChange {
    Added(Dependency),
    Removed(Dependency),
    Changed { old: Dependency, new: Dependency },
}

/// Reads the dependencies of a manifest of `kind`.
pub fn parse_dependencies(kind: ManifestKind, bytes: &[u8]) -> anyhow::Result<Vec<Dependency>> {
    let text = std::str::from_utf8(bytes).context("not UTF-8")?;
    // A BOM is common in files edited on Windows and trips the JSON and TOML parsers.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match kind {
        ManifestKind::NpmPackage => npm_dependencies(text),
        ManifestKind::PyProject => pyproject_dependencies(text),
        ManifestKind::Requirements => Ok(requirements_dependencies(text)),
        ManifestKind::CargoToml => cargo_dependencies(text),
        ManifestKind::GoMod => Ok(go_mod_dependencies(text)),
    }
}

/// Compares two dependency lists keyed by (group, name); output sorted by group then name.
pub fn diff_dependencies(old: &[Dependency], new: &[Dependency]) -> Vec<DepChange> {
    let key = |d: &Dependency| (d.group.clone(), d.name.clone());
    let old: BTreeMap<_, _> = old.iter().map(|d| (key(d), d)).collect();
    let new: BTreeMap<_, _> = new.iter().map(|d| (key(d), d)).collect();
    let mut out = Vec::new();
    let mut keys: Vec<_> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        match (old.get(k), new.get(k)) {
            (None, Some(n)) => out.push(DepChange::Added((*n).clone())),
            (Some(o), None) => out.push(DepChange::Removed((*o).clone())),
            (Some(o), Some(n)) if o.spec != n.spec => out.push(DepChange::Changed {
                old: (*o).clone(),
                new: (*n).clone(),
            }),
            _ => {}
        }
    }
    out
}

/// npm lifecycle scripts that run when the package is installed or packed from git.
pub const NPM_INSTALL_SCRIPTS: [&str; 6] = [
    "preinstall",
    "install",
    "postinstall",
    "preprepare",
    "prepare",
    "postprepare",
];

/// The install-time scripts of a `package.json` (name -> command).
pub fn npm_install_scripts(bytes: &[u8]) -> anyhow::Result<BTreeMap<String, String>> {
    let json = parse_json(bytes)?;
    let mut out = BTreeMap::new();
    if let Some(scripts) = json.get("scripts").and_then(|s| s.as_object()) {
        for name in NPM_INSTALL_SCRIPTS {
            if let Some(cmd) = scripts.get(name) {
                out.insert(name.to_owned(), json_text(cmd));
            }
        }
    }
    Ok(out)
}

fn parse_json(bytes: &[u8]) -> anyhow::Result<serde_json::Value> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let v: serde_json::Value = serde_json::from_slice(bytes).context("invalid JSON")?;
    if !v.is_object() {
        return Err(anyhow!("top level is not a JSON object"));
    }
    Ok(v)
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn npm_dependencies(text: &str) -> anyhow::Result<Vec<Dependency>> {
    let json = parse_json(text.as_bytes())?;
    let mut out = Vec::new();
    for group in [
        "dependencies",
        "devDependencies",
        "optionalDependencies",
        "peerDependencies",
    ] {
        if let Some(deps) = json.get(group).and_then(|d| d.as_object()) {
            for (name, spec) in deps {
                out.push(Dependency {
                    group: group.to_owned(),
                    name: name.clone(),
                    spec: json_text(spec),
                });
            }
        }
    }
    Ok(out)
}

/// PEP 503 name normalisation, so that `Foo_Bar` and `foo-bar` are the same dependency.
pub fn normalise_python_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Splits a PEP 508 requirement into (normalised name, rest). A line that does not start with a
/// name (a bare URL, say) is kept whole as the name so that its changes still show.
fn split_pep508(req: &str) -> (String, String) {
    let req = req.trim();
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    if end == 0 {
        return (req.to_owned(), String::new());
    }
    (normalise_python_name(&req[..end]), one_line(&req[end..]))
}

fn pep508_list(group: &str, value: Option<&toml::Value>, out: &mut Vec<Dependency>) {
    let Some(items) = value.and_then(toml::Value::as_array) else {
        return;
    };
    for item in items {
        // PEP 735 `{include-group = ...}` tables are not dependencies themselves.
        if let Some(req) = item.as_str() {
            let (name, spec) = split_pep508(req);
            out.push(Dependency {
                group: group.to_owned(),
                name,
                spec,
            });
        }
    }
}

fn pyproject_dependencies(text: &str) -> anyhow::Result<Vec<Dependency>> {
    let doc: toml::Table =
        toml::from_str(text).map_err(|e| anyhow!("invalid TOML: {}", one_line(&e.to_string())))?;
    let mut out = Vec::new();
    if let Some(project) = doc.get("project") {
        pep508_list("dependencies", project.get("dependencies"), &mut out);
        if let Some(extras) = project
            .get("optional-dependencies")
            .and_then(toml::Value::as_table)
        {
            for (extra, list) in extras {
                pep508_list(
                    &format!("optional-dependencies.{extra}"),
                    Some(list),
                    &mut out,
                );
            }
        }
    }
    if let Some(groups) = doc.get("dependency-groups").and_then(toml::Value::as_table) {
        for (g, list) in groups {
            pep508_list(&format!("dependency-groups.{g}"), Some(list), &mut out);
        }
    }
    if let Some(poetry) = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(toml::Value::as_table)
    {
        toml_dep_table(
            "poetry.dependencies",
            poetry.get("dependencies"),
            true,
            &mut out,
        );
        toml_dep_table(
            "poetry.dev-dependencies",
            poetry.get("dev-dependencies"),
            true,
            &mut out,
        );
        if let Some(groups) = poetry.get("group").and_then(toml::Value::as_table) {
            for (g, body) in groups {
                toml_dep_table(
                    &format!("poetry.group.{g}.dependencies"),
                    body.get("dependencies"),
                    true,
                    &mut out,
                );
            }
        }
    }
    Ok(out)
}

/// A TOML table of `name = "spec"` or `name = { version = ..., git = ... }` (Cargo, Poetry).
fn toml_dep_table(
    group: &str,
    value: Option<&toml::Value>,
    python: bool,
    out: &mut Vec<Dependency>,
) {
    let Some(table) = value.and_then(toml::Value::as_table) else {
        return;
    };
    for (name, spec) in table {
        out.push(Dependency {
            group: group.to_owned(),
            name: if python {
                normalise_python_name(name)
            } else {
                name.clone()
            },
            spec: toml_spec(spec),
        });
    }
}

/// A compact one-line spec for a TOML dependency value.
fn toml_spec(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Table(t) => {
            let mut parts = Vec::new();
            if let Some(ver) = t.get("version").and_then(toml::Value::as_str) {
                parts.push(ver.to_owned());
            }
            for key in [
                "workspace",
                "package",
                "git",
                "branch",
                "tag",
                "rev",
                "path",
                "url",
                "registry",
            ] {
                if let Some(val) = t.get(key) {
                    let shown = match val {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    parts.push(format!("{key}={shown}"));
                }
            }
            if parts.is_empty() {
                v.to_string()
            } else {
                parts.join(" ")
            }
        }
        // Poetry allows a list of constraint tables for one dependency.
        other => other.to_string(),
    }
}

fn requirements_dependencies(text: &str) -> Vec<Dependency> {
    let mut out = Vec::new();
    // Backslash-newline continues a logical line.
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    for line in joined.lines() {
        let line = match line
            .find(" #")
            .or_else(|| line.trim_start().starts_with('#').then_some(0))
        {
            Some(i) => &line[..i],
            None => line,
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('-') {
            // Options (-r, -c, --index-url, --hash) are not dependencies, but an editable or
            // VCS install is: keep it whole.
            if let Some(target) = line
                .strip_prefix("-e ")
                .or_else(|| line.strip_prefix("--editable "))
                .or_else(|| line.strip_prefix("--editable="))
            {
                out.push(Dependency {
                    group: "dependencies".to_owned(),
                    name: target.trim().to_owned(),
                    spec: "editable".to_owned(),
                });
            }
            continue;
        }
        // Per-requirement options such as `--hash=...` follow the requirement.
        let req = line.split(" --").next().unwrap_or(line);
        let (name, spec) = split_pep508(req);
        out.push(Dependency {
            group: "dependencies".to_owned(),
            name,
            spec,
        });
    }
    out
}

fn cargo_dependencies(text: &str) -> anyhow::Result<Vec<Dependency>> {
    let doc: toml::Table =
        toml::from_str(text).map_err(|e| anyhow!("invalid TOML: {}", one_line(&e.to_string())))?;
    let mut out = Vec::new();
    for group in ["dependencies", "dev-dependencies", "build-dependencies"] {
        toml_dep_table(group, doc.get(group), false, &mut out);
    }
    if let Some(ws) = doc.get("workspace") {
        toml_dep_table(
            "workspace.dependencies",
            ws.get("dependencies"),
            false,
            &mut out,
        );
    }
    if let Some(targets) = doc.get("target").and_then(toml::Value::as_table) {
        for (cfg, body) in targets {
            for group in ["dependencies", "dev-dependencies", "build-dependencies"] {
                toml_dep_table(
                    &format!("target.{cfg}.{group}"),
                    body.get(group),
                    false,
                    &mut out,
                );
            }
        }
    }
    Ok(out)
}

fn go_mod_dependencies(text: &str) -> Vec<Dependency> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        let spec_line = if in_block {
            if line == ")" {
                in_block = false;
                continue;
            }
            line
        } else if let Some(rest) = line.strip_prefix("require") {
            let rest = rest.trim();
            if rest == "(" {
                in_block = true;
                continue;
            }
            rest
        } else {
            continue;
        };
        let mut parts = spec_line.split_whitespace();
        if let (Some(module), Some(version)) = (parts.next(), parts.next()) {
            out.push(Dependency {
                group: "require".to_owned(),
                name: module.to_owned(),
                spec: version.to_owned(),
            });
        }
    }
    out
}

/// Squashes a multi-line message (parser errors quote source lines) onto one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(group: &str, name: &str, spec: &str) -> Dependency {
        Dependency {
            group: group.into(),
            name: name.into(),
            spec: spec.into(),
        }
    }

    #[test]
    fn kinds_by_path() {
        let cases = [
            ("package.json", Some(ManifestKind::NpmPackage)),
            ("packages/a/package.json", Some(ManifestKind::NpmPackage)),
            ("pyproject.toml", Some(ManifestKind::PyProject)),
            ("requirements.txt", Some(ManifestKind::Requirements)),
            ("ci/requirements-dev.txt", Some(ManifestKind::Requirements)),
            ("crates/x/Cargo.toml", Some(ManifestKind::CargoToml)),
            ("go.mod", Some(ManifestKind::GoMod)),
            ("package.json.bak", None),
            ("requirements.in", None),
            ("Cargo.lock", None),
        ];
        for (path, want) in cases {
            assert_eq!(manifest_kind(path), want, "{path}");
        }
        for lock in [
            "pnpm-lock.yaml",
            "a/package-lock.json",
            "yarn.lock",
            "uv.lock",
            "poetry.lock",
            "Cargo.lock",
            "go.sum",
        ] {
            assert!(is_lockfile(lock), "{lock}");
        }
        assert!(!is_lockfile("lock.yaml"));
        assert!(
            is_manifest("setup.cfg") && is_manifest("x/Cargo.toml") && !is_manifest("README.md")
        );
    }

    #[test]
    fn npm_dependencies_and_scripts() {
        let json = br#"{"name":"x","dependencies":{"undici":"^7.2.0","lodash":"^4.17.21"},
            "devDependencies":{"vitest":"^2"},"peerDependencies":{"zod":"3"},
            "optionalDependencies":{"fsevents":"*"},
            "scripts":{"build":"tsc","postinstall":"node scripts/fetch.js","prepare":"husky"}}"#;
        let deps = parse_dependencies(ManifestKind::NpmPackage, json).unwrap();
        assert!(deps.contains(&dep("dependencies", "undici", "^7.2.0")));
        assert!(deps.contains(&dep("devDependencies", "vitest", "^2")));
        assert!(deps.contains(&dep("peerDependencies", "zod", "3")));
        assert!(deps.contains(&dep("optionalDependencies", "fsevents", "*")));
        assert_eq!(deps.len(), 5);
        let scripts = npm_install_scripts(json).unwrap();
        assert_eq!(scripts.len(), 2);
        assert_eq!(scripts["postinstall"], "node scripts/fetch.js");
        assert_eq!(scripts["prepare"], "husky");
    }

    #[test]
    fn bad_manifests_are_errors_not_panics() {
        let cases: [(ManifestKind, &[u8]); 5] = [
            (ManifestKind::NpmPackage, b"{not json"),
            (ManifestKind::NpmPackage, b"[1,2]"),
            (ManifestKind::PyProject, b"[project\ndependencies = "),
            (ManifestKind::CargoToml, b"[dependencies]\nserde = {"),
            (ManifestKind::Requirements, b"\xff\xfe\x00"),
        ];
        for (kind, bytes) in cases {
            let err = parse_dependencies(kind, bytes).unwrap_err();
            assert!(!format!("{err:#}").contains('\n'), "one line: {err:#}");
        }
        assert!(npm_install_scripts(b"nope").is_err());
    }

    #[test]
    fn pyproject_pep621_groups_and_poetry() {
        let toml = r#"
[project]
name = "srv"
dependencies = ["httpx>=0.27", "Pydantic_Core ==2.1 ; python_version>'3.9'"]
[project.optional-dependencies]
test = ["pytest"]
[dependency-groups]
lint = ["ruff>=0.5", {include-group = "test"}]
[tool.poetry.dependencies]
python = "^3.10"
requests = { version = "^2.31", extras = ["socks"] }
[tool.poetry.group.dev.dependencies]
mypy = "*"
"#;
        let deps = parse_dependencies(ManifestKind::PyProject, toml.as_bytes()).unwrap();
        assert!(deps.contains(&dep("dependencies", "httpx", ">=0.27")));
        assert!(deps.contains(&dep(
            "dependencies",
            "pydantic-core",
            "==2.1 ; python_version>'3.9'"
        )));
        assert!(deps.contains(&dep("optional-dependencies.test", "pytest", "")));
        assert!(deps.contains(&dep("dependency-groups.lint", "ruff", ">=0.5")));
        assert!(deps.contains(&dep("poetry.dependencies", "python", "^3.10")));
        assert!(deps.contains(&dep("poetry.dependencies", "requests", "^2.31")));
        assert!(deps.contains(&dep("poetry.group.dev.dependencies", "mypy", "*")));
        assert_eq!(deps.len(), 7);
    }

    #[test]
    fn requirements_lines() {
        let text = "# comment\nrequests==2.31.0  # pinned\n-r base.txt\n--index-url https://x\n\
            Flask[async]>=3 \\\n  ; python_version >= '3.9'\n-e git+https://example.com/a.git#egg=a\n\
            numpy==1.26 --hash=sha256:abc\n\n";
        let deps = parse_dependencies(ManifestKind::Requirements, text.as_bytes()).unwrap();
        assert_eq!(
            deps,
            vec![
                dep("dependencies", "requests", "==2.31.0"),
                dep(
                    "dependencies",
                    "flask",
                    "[async]>=3 ; python_version >= '3.9'"
                ),
                dep(
                    "dependencies",
                    "git+https://example.com/a.git#egg=a",
                    "editable"
                ),
                dep("dependencies", "numpy", "==1.26"),
            ]
        );
    }

    #[test]
    fn cargo_tables() {
        let toml = r#"
[package]
name = "x"
[dependencies]
serde = "1"
git2 = { version = "0.21", default-features = false }
mine = { git = "https://example.com/mine", rev = "abc" }
[build-dependencies]
cc = "1.0"
[target.'cfg(unix)'.dependencies]
libc = "0.2"
[workspace.dependencies]
tokio = { version = "1", features = ["full"] }
"#;
        let deps = parse_dependencies(ManifestKind::CargoToml, toml.as_bytes()).unwrap();
        assert!(deps.contains(&dep("dependencies", "serde", "1")));
        assert!(deps.contains(&dep("dependencies", "git2", "0.21")));
        assert!(deps.contains(&dep(
            "dependencies",
            "mine",
            "git=https://example.com/mine rev=abc"
        )));
        assert!(deps.contains(&dep("build-dependencies", "cc", "1.0")));
        assert!(deps.contains(&dep("target.cfg(unix).dependencies", "libc", "0.2")));
        assert!(deps.contains(&dep("workspace.dependencies", "tokio", "1")));
        assert_eq!(deps.len(), 6);
    }

    #[test]
    fn go_mod_require_lines_and_blocks() {
        let text = "module x\n\ngo 1.22\n\nrequire github.com/a/b v1.2.3\nrequire (\n\tgolang.org/x/net v0.20.0 // indirect\n\tgithub.com/c/d v0.0.0-2024\n)\n";
        let deps = parse_dependencies(ManifestKind::GoMod, text.as_bytes()).unwrap();
        assert_eq!(
            deps,
            vec![
                dep("require", "github.com/a/b", "v1.2.3"),
                dep("require", "golang.org/x/net", "v0.20.0"),
                dep("require", "github.com/c/d", "v0.0.0-2024"),
            ]
        );
    }

    #[test]
    fn diff_reports_added_removed_changed() {
        let old = vec![
            dep("dependencies", "lodash", "^4.17.20"),
            dep("dependencies", "node-fetch", "^2"),
            dep("devDependencies", "same", "1"),
        ];
        let new = vec![
            dep("dependencies", "lodash", "^4.17.21"),
            dep("dependencies", "undici", "^7.2.0"),
            dep("devDependencies", "same", "1"),
        ];
        assert_eq!(
            diff_dependencies(&old, &new),
            vec![
                DepChange::Changed {
                    old: dep("dependencies", "lodash", "^4.17.20"),
                    new: dep("dependencies", "lodash", "^4.17.21"),
                },
                DepChange::Removed(dep("dependencies", "node-fetch", "^2")),
                DepChange::Added(dep("dependencies", "undici", "^7.2.0")),
            ]
        );
        assert!(diff_dependencies(&new, &new).is_empty());
    }

    #[test]
    fn python_names_normalise() {
        for (raw, want) in [
            ("Foo_Bar", "foo-bar"),
            ("a..b--c", "a-b-c"),
            ("zope.interface", "zope-interface"),
        ] {
            assert_eq!(normalise_python_name(raw), want);
        }
    }
}
