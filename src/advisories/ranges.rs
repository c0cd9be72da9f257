//! Is this version of this package affected by this advisory? (pure)
//!
//! The OSV schema's evaluation (<https://ossf.github.io/osv-schema/#evaluation>): a version is
//! affected when it is listed in `versions` or lies in any range. `SEMVER` ranges order by
//! SemVer 2.0 whatever the ecosystem; `ECOSYSTEM` ranges by the ecosystem's own order (PEP 440
//! for PyPI, SemVer for npm, crates.io and Go); `introduced: "0"` is below every version and
//! `limit: "*"` above every version; `last_affected` includes its own version, `fixed` does not.
//!
//! `GIT` ranges need the commit graph: they are not evaluated here (the schema requires a
//! `versions` list beside them, which is). When a range cannot be evaluated (a `GIT` range
//! without a `versions` list, a version that does not parse) the answer is [`Status::Unknown`],
//! never "not affected".

use std::cmp::Ordering;

use super::osv::{Affected, Event, Range, Vuln};
use super::package::PackageRef;
use crate::upstream::version::{Version, VersionScheme};

/// What an advisory says about one version of one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Affected,
    NotAffected,
    /// The advisory's data cannot answer (see the module docs).
    Unknown,
}

/// The `affected[]` entries of `vuln` that describe `package` (ecosystem suffixes such as
/// `Debian:12` do not occur for upkeep's ecosystems, but are tolerated; PyPI names compare
/// normalised).
pub fn entries_for<'a>(
    vuln: &'a Vuln,
    package: &'a PackageRef,
) -> impl Iterator<Item = &'a Affected> {
    vuln.affected.iter().filter(move |a| {
        a.package.as_ref().is_some_and(|p| {
            let ecosystem = p.ecosystem.split(':').next().unwrap_or_default();
            ecosystem == package.ecosystem.osv_name()
                && package.ecosystem.normalise_name(&p.name) == package.name
        })
    })
}

/// Whether `version` of `package` is affected by `vuln`. A withdrawn advisory affects nothing.
pub fn status(vuln: &Vuln, package: &PackageRef, version: &str) -> Status {
    if vuln.withdrawn.is_some() {
        return Status::NotAffected;
    }
    let mut any_entry = false;
    let mut unknown = false;
    for entry in entries_for(vuln, package) {
        any_entry = true;
        match entry_status(entry, package, version) {
            Status::Affected => return Status::Affected,
            Status::Unknown => unknown = true,
            Status::NotAffected => {}
        }
    }
    if unknown || !any_entry {
        Status::Unknown
    } else {
        Status::NotAffected
    }
}

fn entry_status(entry: &Affected, package: &PackageRef, version: &str) -> Status {
    let scheme = package.ecosystem.scheme();
    if entry
        .versions
        .iter()
        .any(|listed| same_version(scheme, listed, version))
    {
        return Status::Affected;
    }
    let mut unknown = false;
    for range in &entry.ranges {
        let answer = match range_scheme(range, scheme) {
            Some(scheme) => in_range(range, scheme, version),
            // A GIT range is answered by the `versions` list the schema requires beside it.
            None if !entry.versions.is_empty() => Some(false),
            None => None,
        };
        match answer {
            Some(true) => return Status::Affected,
            Some(false) => {}
            None => unknown = true,
        }
    }
    if unknown {
        Status::Unknown
    } else {
        Status::NotAffected
    }
}

/// The ordering of a range: `SEMVER` is SemVer 2.0, `ECOSYSTEM` the ecosystem's; `None` for
/// `GIT` and types this schema version does not define.
fn range_scheme(range: &Range, ecosystem: VersionScheme) -> Option<VersionScheme> {
    match range.kind.as_str() {
        "SEMVER" => Some(VersionScheme::Semver),
        "ECOSYSTEM" => Some(ecosystem),
        _ => None,
    }
}

fn same_version(scheme: VersionScheme, a: &str, b: &str) -> bool {
    match (Version::parse(scheme, a), Version::parse(scheme, b)) {
        (Some(a), Some(b)) => a == b,
        _ => a.trim() == b.trim(),
    }
}

/// A point on a range's timeline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Bound {
    /// `introduced: "0"`.
    Bottom,
    At(Version),
    /// `limit: "*"`.
    Top,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Introduced,
    Fixed,
    LastAffected,
    Limit,
}

fn event_parts(event: &Event) -> Option<(Kind, &str)> {
    [
        (Kind::Introduced, &event.introduced),
        (Kind::Fixed, &event.fixed),
        (Kind::LastAffected, &event.last_affected),
        (Kind::Limit, &event.limit),
    ]
    .into_iter()
    .find_map(|(kind, value)| value.as_deref().map(|v| (kind, v)))
}

fn bound(kind: Kind, text: &str, scheme: VersionScheme) -> Option<Bound> {
    match (kind, text.trim()) {
        (Kind::Introduced, "0") => Some(Bound::Bottom),
        (Kind::Limit, t) if t.contains('*') => Some(Bound::Top),
        (_, t) => Version::parse(scheme, t).map(Bound::At),
    }
}

/// The range's events as bounds, sorted; `None` when one does not parse.
fn timeline(range: &Range, scheme: VersionScheme) -> Option<Vec<(Bound, Kind)>> {
    let mut events = Vec::with_capacity(range.events.len());
    for event in &range.events {
        let Some((kind, text)) = event_parts(event) else {
            continue; // an empty event object says nothing
        };
        events.push((bound(kind, text, scheme)?, kind));
    }
    events.sort_by(|a, b| a.0.cmp(&b.0));
    Some(events)
}

/// The schema's `IncludedInRanges` for one range; `None` when it cannot be evaluated.
fn in_range(range: &Range, scheme: VersionScheme, version: &str) -> Option<bool> {
    let v = Bound::At(Version::parse(scheme, version)?);
    let events = timeline(range, scheme)?;
    let limits: Vec<&Bound> = events
        .iter()
        .filter(|(_, k)| *k == Kind::Limit)
        .map(|(b, _)| b)
        .collect();
    if !limits.is_empty() && !limits.iter().any(|limit| v < **limit) {
        return Some(false);
    }
    let mut vulnerable = false;
    for (at, kind) in &events {
        match kind {
            Kind::Introduced if v >= *at => vulnerable = true,
            Kind::Fixed if v >= *at => vulnerable = false,
            Kind::LastAffected if v > *at => vulnerable = false,
            _ => {}
        }
    }
    Some(vulnerable)
}

/// What the advisory says fixes it for `package` above `version`: the `fixed` versions greater
/// than `version` (ascending) and the `last_affected` versions at or above it (the versions
/// after them are unaffected, but no release is named as the fix).
pub fn fixes_above(vuln: &Vuln, package: &PackageRef, version: &str) -> (Vec<String>, Vec<String>) {
    let mut fixed: Vec<(Bound, String)> = Vec::new();
    let mut last: Vec<(Bound, String)> = Vec::new();
    for entry in entries_for(vuln, package) {
        for range in &entry.ranges {
            let Some(scheme) = range_scheme(range, package.ecosystem.scheme()) else {
                continue;
            };
            let current = Version::parse(scheme, version).map(Bound::At);
            for event in &range.events {
                let Some((kind, text)) = event_parts(event) else {
                    continue;
                };
                let Some(at) = bound(kind, text, scheme) else {
                    continue;
                };
                let list = match kind {
                    Kind::Fixed if current.as_ref().is_none_or(|c| at > *c) => &mut fixed,
                    Kind::LastAffected if current.as_ref().is_none_or(|c| at >= *c) => &mut last,
                    _ => continue,
                };
                if !list.iter().any(|(b, _)| *b == at) {
                    list.push((at, text.trim().to_string()));
                }
            }
        }
    }
    let sorted = |mut list: Vec<(Bound, String)>| {
        list.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        list.into_iter().map(|(_, t)| t).collect::<Vec<_>>()
    };
    (sorted(fixed), sorted(last))
}

/// Orders version texts under the ecosystem's scheme; unparsable ones first, by text.
pub fn compare_versions(scheme: VersionScheme, a: &str, b: &str) -> Ordering {
    let key = |s: &str| (Version::parse(scheme, s), s.to_string());
    key(a).cmp(&key(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisories::osv::{AffectedPackage, Range};
    use crate::advisories::package::Ecosystem;

    fn ev(kind: &str, v: &str) -> Event {
        let mut e = Event::default();
        let slot = match kind {
            "introduced" => &mut e.introduced,
            "fixed" => &mut e.fixed,
            "last_affected" => &mut e.last_affected,
            _ => &mut e.limit,
        };
        *slot = Some(v.to_string());
        e
    }

    fn vuln(eco: &str, name: &str, ranges: Vec<Range>, versions: &[&str]) -> Vuln {
        Vuln {
            id: "TEST-1".into(),
            modified: "2024-01-01T00:00:00Z".into(),
            published: None,
            withdrawn: None,
            aliases: Vec::new(),
            summary: None,
            details: None,
            severity: Vec::new(),
            affected: vec![Affected {
                package: Some(AffectedPackage {
                    ecosystem: eco.into(),
                    name: name.into(),
                }),
                severity: Vec::new(),
                ranges,
                versions: versions.iter().map(|s| s.to_string()).collect(),
                ecosystem_specific: None,
                database_specific: None,
            }],
            database_specific: None,
        }
    }

    fn range(kind: &str, events: &[(&str, &str)]) -> Range {
        Range {
            kind: kind.into(),
            repo: None,
            events: events.iter().map(|(k, v)| ev(k, v)).collect(),
        }
    }

    #[test]
    fn schema_examples_evaluate_as_documented() {
        let npm = PackageRef::new(Ecosystem::Npm, "x");
        let multi = vuln(
            "npm",
            "x",
            vec![range(
                "SEMVER",
                &[
                    ("introduced", "1.0.0"),
                    ("fixed", "1.0.2"),
                    ("introduced", "3.0.0"),
                    ("fixed", "3.2.5"),
                ],
            )],
            &[],
        );
        let table = [
            ("0.9.0", Status::NotAffected),
            ("1.0.0", Status::Affected),
            ("1.0.1", Status::Affected),
            ("1.0.2", Status::NotAffected),
            ("2.5.0", Status::NotAffected),
            ("3.2.4", Status::Affected),
            ("3.2.5", Status::NotAffected),
            ("3.3.0-rc.1", Status::NotAffected),
            ("not-a-version", Status::Unknown),
        ];
        for (version, want) in table {
            assert_eq!(status(&multi, &npm, version), want, "{version}");
        }
        let last = vuln(
            "npm",
            "x",
            vec![range(
                "ECOSYSTEM",
                &[("introduced", "0"), ("last_affected", "2.1.214")],
            )],
            &[],
        );
        assert_eq!(status(&last, &npm, "2.1.214"), Status::Affected);
        assert_eq!(status(&last, &npm, "2.1.215"), Status::NotAffected);
        let limited = vuln(
            "npm",
            "x",
            vec![range("SEMVER", &[("introduced", "0"), ("limit", "2.0.0")])],
            &[],
        );
        assert_eq!(status(&limited, &npm, "1.9.9"), Status::Affected);
        assert_eq!(status(&limited, &npm, "2.0.0"), Status::NotAffected);
    }

    #[test]
    fn pypi_ecosystem_ranges_follow_pep_440() {
        let py = PackageRef::new(Ecosystem::PyPi, "Weather_MCP");
        let v = vuln(
            "PyPI",
            "weather-mcp",
            vec![range(
                "ECOSYSTEM",
                &[("introduced", "0"), ("fixed", "1.0.post1")],
            )],
            &[],
        );
        // 1.0rc1 < 1.0 < 1.0.post1 < 1.0.1 under PEP 440 (text order would put 1.0 first).
        assert_eq!(status(&v, &py, "1.0rc1"), Status::Affected);
        assert_eq!(status(&v, &py, "1.0"), Status::Affected);
        assert_eq!(status(&v, &py, "1.0.post1"), Status::NotAffected);
        assert_eq!(status(&v, &py, "1.0.1"), Status::NotAffected);
        let (fixed, last) = fixes_above(&v, &py, "1.0rc1");
        assert_eq!(fixed, vec!["1.0.post1"]);
        assert!(last.is_empty());
        // The same range read as SEMVER cannot order `1.0.post1`: not evaluable, never "safe".
        let semver = vuln(
            "PyPI",
            "weather-mcp",
            vec![range(
                "SEMVER",
                &[("introduced", "0"), ("fixed", "1.0.post1")],
            )],
            &[],
        );
        assert_eq!(status(&semver, &py, "1.0"), Status::Unknown);
    }

    #[test]
    fn go_versions_compare_with_their_v() {
        let go = PackageRef::new(Ecosystem::Go, "github.com/acme/weather");
        let v = vuln(
            "Go",
            "github.com/acme/weather",
            vec![range("SEMVER", &[("introduced", "0"), ("fixed", "1.4.1")])],
            &[],
        );
        assert_eq!(status(&v, &go, "v1.4.0"), Status::Affected);
        assert_eq!(status(&v, &go, "v1.4.1"), Status::NotAffected);
    }

    #[test]
    fn versions_lists_git_ranges_withdrawn_and_other_packages() {
        let npm = PackageRef::new(Ecosystem::Npm, "x");
        let git = range("GIT", &[("introduced", "0"), ("fixed", "abc123")]);
        let listed = vuln("npm", "x", vec![git.clone()], &["1.0.0", "1.0.1"]);
        assert_eq!(status(&listed, &npm, "1.0.1"), Status::Affected);
        assert_eq!(status(&listed, &npm, "1.0.2"), Status::NotAffected);
        let git_only = vuln("npm", "x", vec![git], &[]);
        assert_eq!(status(&git_only, &npm, "1.0.1"), Status::Unknown);
        let mut withdrawn = listed.clone();
        withdrawn.withdrawn = Some("2024-02-01T00:00:00Z".into());
        assert_eq!(status(&withdrawn, &npm, "1.0.1"), Status::NotAffected);
        let other = PackageRef::new(Ecosystem::Npm, "y");
        assert_eq!(status(&listed, &other, "1.0.1"), Status::Unknown);
        let pypi_same_name = PackageRef::new(Ecosystem::PyPi, "x");
        assert_eq!(status(&listed, &pypi_same_name, "1.0.1"), Status::Unknown);
    }

    #[test]
    fn fixes_above_lists_later_fixes_in_order() {
        let npm = PackageRef::new(Ecosystem::Npm, "x");
        let v = vuln(
            "npm",
            "x",
            vec![
                range(
                    "SEMVER",
                    &[
                        ("introduced", "2.0.0"),
                        ("fixed", "2.1.3"),
                        ("introduced", "0"),
                        ("fixed", "1.2.5"),
                    ],
                ),
                range(
                    "ECOSYSTEM",
                    &[("introduced", "3.0.0"), ("last_affected", "3.0.4")],
                ),
            ],
            &[],
        );
        let (fixed, last) = fixes_above(&v, &npm, "1.0.0");
        assert_eq!(fixed, vec!["1.2.5", "2.1.3"]);
        assert_eq!(last, vec!["3.0.4"]);
        let (fixed, _) = fixes_above(&v, &npm, "2.0.1");
        assert_eq!(fixed, vec!["2.1.3"]);
    }
}
