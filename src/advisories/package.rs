//! Which packages a server is: OSV's ecosystems, package names as OSV spells them, and their
//! detection from the root manifests of a commit (read from git objects, never a checkout) and
//! from the server's release channels.
//!
//! Detection is a guess that config can replace (`[servers.advisories] packages`): a root
//! manifest may name a workspace, a private package or a name that someone else published.
//! So manifests that say they are never published (`"private": true`, `publish = false`) are
//! skipped, and what was skipped or could not be read is said in notes, never silently.

use std::collections::BTreeMap;

use anyhow::Context as _;
use git2::{ObjectType, Oid, Repository};
use serde::{Deserialize, Serialize};

use crate::upstream::channels::ChannelSpec;
use crate::upstream::diff::manifest::normalise_python_name;
use crate::upstream::version::{Version, VersionScheme};

/// A root manifest larger than this is not read (a hostile upstream can commit anything).
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;
/// A package name longer than this is not a package name (npm allows 214 characters).
pub const MAX_NAME_CHARS: usize = 256;

/// The package ecosystems upkeep can name, spelt as OSV spells them
/// (<https://ossf.github.io/osv-schema/#defined-ecosystems>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Ecosystem {
    #[serde(rename = "npm")]
    Npm,
    #[serde(rename = "PyPI")]
    PyPi,
    #[serde(rename = "crates.io")]
    CratesIo,
    #[serde(rename = "Go")]
    Go,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 4] = [
        Ecosystem::Npm,
        Ecosystem::PyPi,
        Ecosystem::CratesIo,
        Ecosystem::Go,
    ];

    /// The name OSV uses (the API is case-sensitive: `PyPI`, not `pypi`).
    pub fn osv_name(self) -> &'static str {
        match self {
            Ecosystem::Npm => "npm",
            Ecosystem::PyPi => "PyPI",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Go => "Go",
        }
    }

    /// Parses an ecosystem name as a person writes it in config: OSV's names in any case, plus
    /// `crates` and `cargo` for crates.io.
    pub fn parse(text: &str) -> Option<Ecosystem> {
        let lower = text.trim().to_ascii_lowercase();
        match lower.as_str() {
            "crates" | "cargo" => Some(Ecosystem::CratesIo),
            _ => Ecosystem::ALL
                .into_iter()
                .find(|e| e.osv_name().eq_ignore_ascii_case(&lower)),
        }
    }

    /// How the ecosystem orders its versions (for OSV ranges of type `ECOSYSTEM`): npm and
    /// crates.io follow SemVer 2.0, Go module versions are SemVer with a `v`, PyPI is PEP 440.
    pub fn scheme(self) -> VersionScheme {
        match self {
            Ecosystem::PyPi => VersionScheme::Pep440,
            Ecosystem::Npm | Ecosystem::CratesIo | Ecosystem::Go => VersionScheme::Semver,
        }
    }

    /// The name as OSV keys it: PyPI names are PEP 503 normalised, the others are exact.
    pub fn normalise_name(self, name: &str) -> String {
        let name = name.trim();
        match self {
            Ecosystem::PyPi => normalise_python_name(name),
            _ => name.to_string(),
        }
    }

    /// The version text to send for a release version: without a leading `v` (OSV records
    /// versions without it, `v1.2.3` of a Go module is `1.2.3` in its ranges).
    pub fn query_version(self, release_version: &str) -> String {
        let v = release_version.trim();
        match v.strip_prefix(['v', 'V']) {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest.to_string(),
            _ => v.to_string(),
        }
    }
}

impl std::fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.osv_name())
    }
}

/// One package in one ecosystem, its name normalised as OSV keys it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PackageRef {
    pub ecosystem: Ecosystem,
    pub name: String,
}

impl PackageRef {
    /// A package with its name normalised for the ecosystem.
    pub fn new(ecosystem: Ecosystem, name: &str) -> PackageRef {
        PackageRef {
            ecosystem,
            name: ecosystem.normalise_name(name),
        }
    }

    /// The package a release channel names: npm's package, PyPI's project. GitHub releases and
    /// the MCP Registry name no package of an OSV ecosystem.
    pub fn from_channel(spec: &ChannelSpec) -> Option<PackageRef> {
        match spec {
            ChannelSpec::Npm { package, .. } if !package.trim().is_empty() => {
                Some(PackageRef::new(Ecosystem::Npm, package))
            }
            ChannelSpec::Pypi { project, .. } if !project.trim().is_empty() => {
                Some(PackageRef::new(Ecosystem::PyPi, project))
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for PackageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.ecosystem, self.name)
    }
}

/// A package found for a server, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DetectedPackage {
    pub package: PackageRef,
    /// `package.json`, `npm channel`, ... in the order found.
    pub sources: Vec<String>,
    /// The `version` a manifest declares, when it declares a literal one.
    pub manifest_version: Option<String>,
}

/// What detection found at one commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Detection {
    pub packages: Vec<DetectedPackage>,
    /// Manifests skipped or unreadable, and why (for the run report).
    pub notes: Vec<String>,
}

impl Detection {
    /// The packages to look up: `overrides` (from config) replace the detection entirely.
    pub fn packages_to_query(&self, overrides: Option<&[PackageRef]>) -> Vec<PackageRef> {
        match overrides {
            Some(list) => {
                let mut out: Vec<PackageRef> = list
                    .iter()
                    .map(|p| PackageRef::new(p.ecosystem, &p.name))
                    .collect();
                out.sort();
                out.dedup();
                out
            }
            None => self.packages.iter().map(|d| d.package.clone()).collect(),
        }
    }

    /// A note for every manifest whose `version` disagrees with the release version (the
    /// release version is what is looked up; a disagreement is worth a reader's glance).
    pub fn version_notes(&self, release_version: &str) -> Vec<String> {
        let mut notes = Vec::new();
        for d in &self.packages {
            let Some(declared) = &d.manifest_version else {
                continue;
            };
            let scheme = d.package.ecosystem.scheme();
            let release = d.package.ecosystem.query_version(release_version);
            let same = match (
                Version::parse(scheme, declared),
                Version::parse(scheme, &release),
            ) {
                (Some(a), Some(b)) => a == b,
                _ => declared.trim() == release,
            };
            if !same {
                notes.push(format!(
                    "{} declares version {declared:?} but the release is {release_version:?}; advisories are looked up for the release version",
                    d.sources.first().map_or("a manifest", String::as_str)
                ));
            }
        }
        notes
    }
}

/// The packages a server is at `commit`: its root manifests, then the packages its release
/// channels name. Same package from several places: one entry with every source.
///
/// # Errors
/// Only when the commit or its root tree cannot be read; a bad manifest is a note.
pub fn detect(
    repo: &Repository,
    commit: Oid,
    channels: &[ChannelSpec],
) -> anyhow::Result<Detection> {
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .with_context(|| format!("reading the tree of {commit}"))?;
    let mut found: BTreeMap<PackageRef, DetectedPackage> = BTreeMap::new();
    let mut order: Vec<PackageRef> = Vec::new();
    let mut notes = Vec::new();
    let mut add = |found: &mut BTreeMap<PackageRef, DetectedPackage>,
                   package: PackageRef,
                   source: String,
                   version: Option<String>| {
        let entry = found.entry(package.clone()).or_insert_with(|| {
            order.push(package.clone());
            DetectedPackage {
                package,
                sources: Vec::new(),
                manifest_version: None,
            }
        });
        entry.sources.push(source);
        if entry.manifest_version.is_none() {
            entry.manifest_version = version;
        }
    };
    for file in MANIFEST_FILES {
        let Some(text) = read_root_text(repo, &tree, file, &mut notes) else {
            continue;
        };
        match manifest_package(file, &text) {
            Ok(Some(m)) => add(&mut found, m.package, (*file).to_string(), m.version),
            Ok(None) => {}
            Err(reason) => notes.push(format!("{file}: {reason}")),
        }
    }
    for spec in channels {
        if let Some(package) = PackageRef::from_channel(spec) {
            add(
                &mut found,
                package,
                format!("{} channel", spec.kind()),
                None,
            );
        }
    }
    let packages = order
        .iter()
        .filter_map(|p| found.remove(p))
        .collect::<Vec<_>>();
    if packages.is_empty() {
        notes.push(
            "no package found in the root manifests or the release channels; name them in [servers.advisories] packages"
                .into(),
        );
    }
    Ok(Detection { packages, notes })
}

/// The root manifests that name a package, in the order their packages are listed.
const MANIFEST_FILES: &[&str] = &[
    "package.json",
    "pyproject.toml",
    "setup.cfg",
    "Cargo.toml",
    "go.mod",
];

/// The text of a regular root file; a symlink, submodule, oversized or non-UTF-8 entry is a
/// note (never followed or loaded).
fn read_root_text(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    name: &str,
    notes: &mut Vec<String>,
) -> Option<String> {
    let entry = tree.get_name(name)?;
    // 0o120000 is a symlink, 0o160000 a submodule; only regular files are read.
    let mode = entry.filemode();
    if mode != 0o100_644 && mode != 0o100_755 {
        notes.push(format!(
            "{name}: not a regular file (mode {mode:o}); not read"
        ));
        return None;
    }
    let header = repo.odb().and_then(|odb| odb.read_header(entry.id())).ok();
    match header {
        Some((size, ObjectType::Blob)) if size <= MAX_MANIFEST_BYTES => {}
        Some((size, ObjectType::Blob)) => {
            notes.push(format!(
                "{name}: {size} bytes, over the {MAX_MANIFEST_BYTES}-byte limit; not read"
            ));
            return None;
        }
        _ => {
            notes.push(format!("{name}: object {} is missing", entry.id()));
            return None;
        }
    }
    let blob = match repo.find_blob(entry.id()) {
        Ok(blob) => blob,
        Err(e) => {
            notes.push(format!("{name}: {}", e.message()));
            return None;
        }
    };
    match std::str::from_utf8(blob.content()) {
        Ok(text) => Some(text.strip_prefix('\u{feff}').unwrap_or(text).to_string()),
        Err(_) => {
            notes.push(format!("{name}: not UTF-8; not read"));
            None
        }
    }
}

/// The package one manifest names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ManifestPackage {
    package: PackageRef,
    version: Option<String>,
}

/// The package named by manifest `file`; `Ok(None)` when it names none (a workspace root, a
/// private package); `Err` with a one-line reason when it does not parse.
fn manifest_package(file: &str, text: &str) -> Result<Option<ManifestPackage>, String> {
    let named = |ecosystem, name: Option<&str>, version: Option<&str>| match name
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        None => Ok(None),
        Some(n) if n.chars().count() > MAX_NAME_CHARS || n.chars().any(char::is_control) => {
            Err(format!(
                "the name is not a package name (over {MAX_NAME_CHARS} characters, or control characters); skipped"
            ))
        }
        Some(n) => Ok(Some(ManifestPackage {
            package: PackageRef::new(ecosystem, n),
            version: version
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty() && v.len() <= MAX_NAME_CHARS),
        })),
    };
    match file {
        "package.json" => {
            let json: serde_json::Value =
                serde_json::from_str(text).map_err(|e| format!("invalid JSON ({e})"))?;
            if json.get("private").and_then(serde_json::Value::as_bool) == Some(true) {
                return Err("marked \"private\": never published to npm; skipped".into());
            }
            let field = |k: &str| json.get(k).and_then(serde_json::Value::as_str);
            named(Ecosystem::Npm, field("name"), field("version"))
        }
        "pyproject.toml" => {
            let doc = toml_doc(text)?;
            let project = doc.get("project");
            let poetry = doc.get("tool").and_then(|t| t.get("poetry"));
            let field = |k: &str| {
                project
                    .and_then(|p| p.get(k))
                    .or_else(|| poetry.and_then(|p| p.get(k)))
                    .and_then(toml::Value::as_str)
            };
            named(Ecosystem::PyPi, field("name"), field("version"))
        }
        "setup.cfg" => {
            let meta = setup_cfg_metadata(text);
            let field = |k: &str| meta.get(k).map(String::as_str);
            // `version = attr: pkg.__version__` or `file: VERSION` is not a version.
            let version = field("version").filter(|v| !v.contains(':'));
            named(Ecosystem::PyPi, field("name"), version)
        }
        "Cargo.toml" => {
            let doc = toml_doc(text)?;
            let Some(package) = doc.get("package") else {
                return Ok(None); // a virtual workspace manifest
            };
            if package.get("publish").and_then(toml::Value::as_bool) == Some(false)
                || package
                    .get("publish")
                    .and_then(toml::Value::as_array)
                    .is_some_and(Vec::is_empty)
            {
                return Err("marked publish = false: never published to crates.io; skipped".into());
            }
            let field = |k: &str| package.get(k).and_then(toml::Value::as_str);
            named(Ecosystem::CratesIo, field("name"), field("version"))
        }
        "go.mod" => named(Ecosystem::Go, go_module(text).as_deref(), None),
        _ => Ok(None),
    }
}

fn toml_doc(text: &str) -> Result<toml::Table, String> {
    text.parse::<toml::Table>().map_err(|e| {
        format!(
            "invalid TOML ({})",
            e.to_string().lines().next().unwrap_or("parse error")
        )
    })
}

/// The single-line keys of setup.cfg's `[metadata]` section, lower-cased with `-` as `_`.
fn setup_cfg_metadata(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut in_metadata = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_metadata = trimmed.eq_ignore_ascii_case("[metadata]");
            continue;
        }
        if !in_metadata || line.starts_with([' ', '\t']) || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if let Some((key, value)) = trimmed.split_once(['=', ':']) {
            let key = key.trim().replace('-', "_").to_ascii_lowercase();
            out.entry(key).or_insert_with(|| value.trim().to_string());
        }
    }
    out
}

/// The module path of a go.mod (`module example.com/x`, possibly quoted, possibly commented).
fn go_module(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.split("//").next().unwrap_or_default().trim();
        let rest = line.strip_prefix("module")?;
        if !rest.starts_with([' ', '\t', '"', '`']) {
            return None;
        }
        let path = rest.trim().trim_matches(['"', '`']).trim();
        (!path.is_empty() && !path.contains(char::is_whitespace)).then(|| path.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(file: &str, text: &str) -> Result<Option<ManifestPackage>, String> {
        manifest_package(file, text)
    }

    #[test]
    fn ecosystems_parse_and_spell_as_osv() {
        assert_eq!(Ecosystem::parse("pypi"), Some(Ecosystem::PyPi));
        assert_eq!(Ecosystem::parse("PyPI"), Some(Ecosystem::PyPi));
        assert_eq!(Ecosystem::parse("crates"), Some(Ecosystem::CratesIo));
        assert_eq!(Ecosystem::parse("crates.io"), Some(Ecosystem::CratesIo));
        assert_eq!(Ecosystem::parse("go"), Some(Ecosystem::Go));
        assert_eq!(Ecosystem::parse("Maven"), None);
        assert_eq!(
            serde_json::to_string(&Ecosystem::CratesIo).unwrap(),
            "\"crates.io\""
        );
        assert_eq!(Ecosystem::Go.query_version("v1.4.0"), "1.4.0");
        assert_eq!(Ecosystem::Npm.query_version("version-2"), "version-2");
        assert_eq!(
            PackageRef::new(Ecosystem::PyPi, "Weather_MCP.Server").name,
            "weather-mcp-server"
        );
    }

    #[test]
    fn manifests_name_their_packages() {
        let npm = pkg(
            "package.json",
            r#"{"name":"@acme/weather","version":"1.2.0"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            npm.package,
            PackageRef::new(Ecosystem::Npm, "@acme/weather")
        );
        assert_eq!(npm.version.as_deref(), Some("1.2.0"));
        let py = pkg(
            "pyproject.toml",
            "[project]\nname = \"Weather_MCP\"\ndynamic = [\"version\"]\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(py.package.name, "weather-mcp");
        assert_eq!(py.version, None);
        let poetry = pkg(
            "pyproject.toml",
            "[tool.poetry]\nname = \"old-style\"\nversion = \"0.3.1\"\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(poetry.package.name, "old-style");
        let cfg = pkg(
            "setup.cfg",
            "[metadata]\nname = Legacy.Pkg\nversion = attr: legacy.__version__\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(cfg.package.name, "legacy-pkg");
        assert_eq!(cfg.version, None);
        let krate = pkg(
            "Cargo.toml",
            "[package]\nname = \"weather\"\nversion = \"0.9.0\"\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(krate.package.ecosystem, Ecosystem::CratesIo);
        let go = pkg(
            "go.mod",
            "// comment\nmodule \"github.com/acme/weather/v2\" // trailing\n\ngo 1.22\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(go.package.name, "github.com/acme/weather/v2");
    }

    #[test]
    fn unpublished_workspace_and_broken_manifests() {
        assert!(
            pkg("package.json", r#"{"name":"root","private":true}"#)
                .unwrap_err()
                .contains("private")
        );
        assert!(
            pkg("Cargo.toml", "[package]\nname='x'\npublish=false\n")
                .unwrap_err()
                .contains("publish")
        );
        assert_eq!(pkg("Cargo.toml", "[workspace]\nmembers=['a']\n"), Ok(None));
        assert_eq!(pkg("package.json", r#"{"version":"1.0.0"}"#), Ok(None));
        assert!(pkg("package.json", "{ not json").is_err());
        assert!(pkg("pyproject.toml", "[project\n").is_err());
        assert_eq!(pkg("go.mod", "modulex foo\n"), Ok(None));
        let long = format!(r#"{{"name": "{}"}}"#, "a".repeat(MAX_NAME_CHARS + 1));
        assert!(
            pkg("package.json", &long)
                .unwrap_err()
                .contains("not a package name")
        );
        assert!(pkg("package.json", r#"{"name": "a\u0000b"}"#).is_err());
    }

    /// A commit in a fresh bare repository whose root holds `files` (name, mode, bytes).
    fn commit(files: &[(&str, i32, &[u8])]) -> (tempfile::TempDir, Oid) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let mut tb = repo.treebuilder(None).unwrap();
        for (name, mode, bytes) in files {
            tb.insert(name, repo.blob(bytes).unwrap(), *mode).unwrap();
        }
        let tree = repo.find_tree(tb.write().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let oid = repo.commit(None, &sig, &sig, "c", &tree, &[]).unwrap();
        (dir, oid)
    }

    #[test]
    fn detection_reads_git_objects_and_merges_channel_packages() {
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        let (dir, oid) = commit(&[
            (
                "package.json",
                0o100_644,
                br#"{"name": "@acme/weather", "version": "1.4.2"}"#,
            ),
            (
                "go.mod",
                0o100_644,
                b"module github.com/acme/weather
",
            ),
            ("setup.cfg", 0o120_000, b"/etc/passwd"),
            ("pyproject.toml", 0o100_644, &big),
            ("Cargo.toml", 0o100_644, b"\xff\xfe not utf-8"),
        ]);
        let repo = Repository::open_bare(dir.path()).unwrap();
        let channels = [
            ChannelSpec::Npm {
                registry: "https://registry.npmjs.org".into(),
                package: "@acme/weather".into(),
                token: None,
            },
            ChannelSpec::Pypi {
                index: "https://pypi.org".into(),
                project: "Acme_Weather".into(),
                username: "__token__".into(),
                token: None,
            },
            ChannelSpec::McpRegistry {
                registry: "https://registry.modelcontextprotocol.io".into(),
                server: "io.github.acme/weather".into(),
            },
        ];
        let d = detect(&repo, oid, &channels).unwrap();
        let found: Vec<(String, Vec<String>)> = d
            .packages
            .iter()
            .map(|p| (p.package.to_string(), p.sources.clone()))
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    "npm @acme/weather".to_string(),
                    vec!["package.json".to_string(), "npm channel".to_string()]
                ),
                (
                    "Go github.com/acme/weather".to_string(),
                    vec!["go.mod".to_string()]
                ),
                (
                    "PyPI acme-weather".to_string(),
                    vec!["pypi channel".to_string()]
                ),
            ]
        );
        assert_eq!(d.packages[0].manifest_version.as_deref(), Some("1.4.2"));
        let notes = d.notes.join("\n");
        assert!(notes.contains("setup.cfg: not a regular file"), "{notes}");
        assert!(notes.contains("pyproject.toml: 1048577 bytes"), "{notes}");
        assert!(notes.contains("Cargo.toml: not UTF-8"), "{notes}");
        let (empty_dir, empty) = commit(&[("README.md", 0o100_644, b"hello")]);
        let empty_repo = Repository::open_bare(empty_dir.path()).unwrap();
        let none = detect(&empty_repo, empty, &[]).unwrap();
        assert!(none.packages.is_empty());
        assert!(none.notes[0].contains("[servers.advisories] packages"));
        let missing = Oid::from_str("0123456789012345678901234567890123456789").unwrap();
        assert!(detect(&repo, missing, &[]).is_err());
    }

    #[test]
    fn overrides_replace_detection_and_versions_are_cross_checked() {
        let detection = Detection {
            packages: vec![DetectedPackage {
                package: PackageRef::new(Ecosystem::Npm, "weather"),
                sources: vec!["package.json".into()],
                manifest_version: Some("1.2.2".into()),
            }],
            notes: Vec::new(),
        };
        assert_eq!(
            detection.packages_to_query(None),
            vec![PackageRef::new(Ecosystem::Npm, "weather")]
        );
        let over = [PackageRef {
            ecosystem: Ecosystem::PyPi,
            name: "Other_Name".into(),
        }];
        assert_eq!(
            detection.packages_to_query(Some(&over)),
            vec![PackageRef::new(Ecosystem::PyPi, "other-name")]
        );
        assert!(detection.version_notes("v1.2.2").is_empty());
        let notes = detection.version_notes("1.2.3");
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("package.json declares version \"1.2.2\""));
    }
}
