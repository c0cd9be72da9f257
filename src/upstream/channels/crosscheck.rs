//! Cross-check of a registry against the upstream's git tags (pure).
//!
//! Two kinds of disagreement are reported: a version the registry publishes that no git tag
//! names (what a stolen publish token looks like), and a tag whose version the registry still
//! lacks once the tag is older than the cooldown (a release that was never published, or was
//! pulled). Versions match by the scheme's equality (`1.2` = `1.2.0` in semver).
//!
//! History before the two sources overlap is not checked: registry versions older than the
//! oldest tag (the project tagged late) and tags older than the oldest registry version (it
//! was published late) would otherwise be reported on every run forever. Callers pass the
//! tags and releases they consider (e.g. without prereleases when the policy excludes them).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ChannelRelease;
use super::cooldown::cooldown_passed;
use crate::upstream::version::{Version, VersionScheme};

/// How a registry and the git tags disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiscrepancyKind {
    /// The registry has the version; no git tag names it.
    MissingTag,
    /// A git tag names the version; the registry does not have it after the cooldown.
    MissingInRegistry,
}

/// One disagreement, for the run report and the PR body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discrepancy {
    /// The registry's channel name (`npm`, `mcp-registry`, ...).
    pub channel: String,
    pub version: String,
    pub kind: DiscrepancyKind,
    /// One sentence for people.
    pub detail: String,
}

/// Compares the versions of the release tags (`(version, tag date)`) with what `channel`
/// publishes. The result is ordered by version, then kind.
pub fn cross_check(
    channel: &str,
    tag_versions: &[(String, Option<DateTime<Utc>>)],
    published: &[ChannelRelease],
    scheme: VersionScheme,
    cooldown: Duration,
    now: DateTime<Utc>,
) -> Vec<Discrepancy> {
    let tags: Vec<(Version, Option<DateTime<Utc>>)> = tag_versions
        .iter()
        .filter_map(|(v, date)| Some((Version::parse(scheme, v)?, *date)))
        .collect();
    let registry: Vec<(Version, &ChannelRelease)> = published
        .iter()
        .filter_map(|r| Some((Version::parse(scheme, &r.version)?, r)))
        .collect();
    let oldest_tag = tags.iter().map(|(v, _)| v).min();
    let oldest_published = registry.iter().map(|(v, _)| v).min();

    let mut found: Vec<(Version, Discrepancy)> = Vec::new();
    for (version, release) in &registry {
        let reported = found
            .iter()
            .any(|(v, d)| v == version && d.kind == DiscrepancyKind::MissingTag);
        if reported || oldest_tag.is_some_and(|oldest| version < oldest) {
            continue;
        }
        if tags.iter().any(|(t, _)| t == version) {
            continue;
        }
        let when = release
            .published_at
            .map(|t| format!(" (published {})", t.format("%Y-%m-%d")))
            .unwrap_or_default();
        found.push((
            version.clone(),
            Discrepancy {
                channel: channel.to_string(),
                version: release.version.clone(),
                kind: DiscrepancyKind::MissingTag,
                detail: format!(
                    "{channel} publishes {}{when}, but no git tag has that version",
                    release.version
                ),
            },
        ));
    }
    for (version, _) in &tags {
        let reported = found
            .iter()
            .any(|(v, d)| v == version && d.kind == DiscrepancyKind::MissingInRegistry);
        if reported || oldest_published.is_some_and(|oldest| version < oldest) {
            continue;
        }
        if registry.iter().any(|(r, _)| r == version) {
            continue;
        }
        // Among tags of the same version the oldest decides: the version has been out that long.
        let date = tags
            .iter()
            .filter(|(t, _)| t == version)
            .map(|(_, d)| *d)
            .min_by_key(|d| d.unwrap_or(DateTime::<Utc>::MIN_UTC))
            .flatten();
        if !cooldown_passed(date, now, cooldown, false) {
            continue;
        }
        let age = date
            .map(|d| format!(" is {} days old, but", (now - d).num_days()))
            .unwrap_or_else(|| " has no date, and".to_string());
        found.push((
            version.clone(),
            Discrepancy {
                channel: channel.to_string(),
                version: version.as_str().to_string(),
                kind: DiscrepancyKind::MissingInRegistry,
                detail: format!(
                    "the git tag for {}{age} {channel} does not have that version",
                    version.as_str()
                ),
            },
        ));
    }
    found.sort_by(|(a, da), (b, db)| a.cmp(b).then(da.kind.cmp(&db.kind)));
    found.into_iter().map(|(_, d)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn now() -> DateTime<Utc> {
        at("2026-03-31T00:00:00Z")
    }

    fn tags(list: &[(&str, Option<&str>)]) -> Vec<(String, Option<DateTime<Utc>>)> {
        list.iter()
            .map(|(v, d)| (v.to_string(), d.map(at)))
            .collect()
    }

    fn published(list: &[&str]) -> Vec<ChannelRelease> {
        list.iter()
            .map(|v| ChannelRelease {
                version: v.to_string(),
                tag: None,
                published_at: Some(at("2026-03-01T00:00:00Z")),
                prerelease: false,
                notes: None,
                url: None,
            })
            .collect()
    }

    fn summary(found: &[Discrepancy]) -> Vec<(String, DiscrepancyKind)> {
        found.iter().map(|d| (d.version.clone(), d.kind)).collect()
    }

    use DiscrepancyKind::{MissingInRegistry as InReg, MissingTag as Tag};

    #[test]
    fn cross_check_table() {
        let old = Some("2026-03-01T00:00:00Z");
        let fresh = Some("2026-03-30T00:00:00Z");
        // (tags, registry, expected, why)
        type Case<'a> = (
            Vec<(&'a str, Option<&'a str>)>,
            Vec<&'a str>,
            Vec<(&'a str, DiscrepancyKind)>,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            (
                vec![("1.0.0", old), ("1.1.0", old)],
                vec!["1.0.0", "1.1.0"],
                vec![],
                "agree",
            ),
            (
                vec![("1.0", old)],
                vec!["1.0.0"],
                vec![],
                "scheme equality: 1.0 = 1.0.0",
            ),
            (
                vec![("1.0.0", old)],
                vec!["1.0.0", "1.0.1"],
                vec![("1.0.1", Tag)],
                "published without a tag",
            ),
            (
                vec![("1.0.0", old), ("1.1.0", old)],
                vec!["1.0.0"],
                vec![("1.1.0", InReg)],
                "old tag never published",
            ),
            (
                vec![("1.0.0", old), ("1.1.0", fresh)],
                vec!["1.0.0"],
                vec![],
                "fresh tag still in cooldown",
            ),
            (
                vec![("1.0.0", old), ("1.1.0", None)],
                vec!["1.0.0"],
                vec![("1.1.0", InReg)],
                "undated tag counts as old",
            ),
            (
                vec![("2.0.0", old)],
                vec!["1.0.0", "1.5.0", "2.0.0"],
                vec![],
                "registry history before the first tag",
            ),
            (
                vec![("1.0.0", old), ("2.0.0", old)],
                vec!["2.0.0"],
                vec![],
                "tags before the first publish",
            ),
            (
                vec![],
                vec!["1.0.0"],
                vec![("1.0.0", Tag)],
                "no tags at all",
            ),
            (
                vec![("1.0.0", old)],
                vec![],
                vec![("1.0.0", InReg)],
                "nothing published at all",
            ),
            (
                vec![("1.0.0", old), ("1.2.0", old), ("v1.2.0", old)],
                vec!["1.0.0", "1.1.0", "1.3.0"],
                vec![("1.1.0", Tag), ("1.2.0", InReg), ("1.3.0", Tag)],
                "both ways, ordered by version, duplicate tags reported once",
            ),
            (
                vec![("1.0.0", old), ("not-a-version", old)],
                vec!["1.0.0", "junk"],
                vec![],
                "unparsable entries are ignored",
            ),
        ];
        for (tag_list, registry, expected, why) in cases {
            let found = cross_check(
                "npm",
                &tags(&tag_list),
                &published(&registry),
                VersionScheme::Semver,
                7 * DAY,
                now(),
            );
            let expected: Vec<(String, DiscrepancyKind)> = expected
                .into_iter()
                .map(|(v, k)| (v.to_string(), k))
                .collect();
            assert_eq!(summary(&found), expected, "{why}");
        }
    }

    #[test]
    fn details_name_the_channel_and_the_facts() {
        let found = cross_check(
            "mcp-registry",
            &tags(&[
                ("1.0.0", Some("2026-03-01T00:00:00Z")),
                ("1.1.0", Some("2026-03-11T00:00:00Z")),
            ]),
            &published(&["1.0.0", "1.0.5"]),
            VersionScheme::Semver,
            7 * DAY,
            now(),
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].channel, "mcp-registry");
        assert_eq!(
            found[0].detail,
            "mcp-registry publishes 1.0.5 (published 2026-03-01), but no git tag has that version"
        );
        assert_eq!(
            found[1].detail,
            "the git tag for 1.1.0 is 20 days old, but mcp-registry does not have that version"
        );
        let json = serde_json::to_value(&found[1]).unwrap();
        assert_eq!(json["kind"], "missing-in-registry");
    }
}
