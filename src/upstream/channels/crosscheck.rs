//! Cross-check of a registry against the upstream's git tags (pure).
//!
//! Reported, one finding per version and kind: a version the registry publishes that no git tag
//! names (what a stolen publish token looks like); a tagged version the registry holds back
//! (deprecated, yanked, deleted, or above the followed dist-tag: said for what it is, at once);
//! and a tag whose version the registry still lacks once the tag is older than the cooldown (a
//! release that was never published, or was pulled). Versions match by the scheme's equality
//! (`1.2` = `1.2.0` in semver).
//!
//! **Time.** Every finding is stable: its text holds dates, never ages, so the same tags and the
//! same registry answer give the same findings at any later time. The one thing time alone
//! changes is a tag the registry lacks while it is still inside the cooldown: not a finding yet,
//! but [`CrossCheck::pending`], with the moment it becomes one. A caller that replays an earlier
//! answer (the pipeline's quiet path) may do so while nothing is pending.
//!
//! History before the two sources overlap is not checked: registry versions older than the
//! oldest tag (the project tagged late) and tags older than the oldest registry version (it
//! was published late) would otherwise be reported on every run forever. Callers pass the
//! tags and releases they consider (e.g. without prereleases when the policy excludes them).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cooldown::{cooldown_passed, proposable_at};
use super::{ChannelRelease, Withheld, WithheldReason};
use crate::upstream::version::{Version, VersionScheme};

/// How a registry and the git tags disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiscrepancyKind {
    /// The registry has the version; no git tag names it.
    MissingTag,
    /// A git tag names the version; the registry does not have it after the cooldown.
    MissingInRegistry,
    /// A git tag names the version; the registry has it, deprecated (npm).
    Deprecated,
    /// A git tag names the version; the registry has it, every file yanked (PyPI).
    Yanked,
    /// A git tag names the version; the registry lists it as deleted (MCP Registry).
    Deleted,
    /// A git tag names the version; the registry has it above the followed dist-tag (npm).
    AboveDistTag,
}

impl DiscrepancyKind {
    /// True for the kinds that say the registry withdrew or holds back a tagged version: a
    /// publisher's decision to show, not a disagreement to alarm on.
    pub fn is_withheld(self) -> bool {
        matches!(
            self,
            DiscrepancyKind::Deprecated
                | DiscrepancyKind::Yanked
                | DiscrepancyKind::Deleted
                | DiscrepancyKind::AboveDistTag
        )
    }
}

/// One disagreement, for the run report and the PR body. The same inputs give the same value
/// whenever it is computed (no ages in the text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discrepancy {
    /// The registry's channel name (`npm`, `mcp-registry`, ...).
    pub channel: String,
    pub version: String,
    pub kind: DiscrepancyKind,
    /// One sentence for people.
    pub detail: String,
}

/// A tag the registry lacks while the tag is still inside the cooldown: a finding once `until`
/// passes, unless the registry publishes the version first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub channel: String,
    pub version: String,
    pub until: DateTime<Utc>,
}

/// What a cross-check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrossCheck {
    /// Ordered by version, then kind. Each changes only when the tags or the registry do.
    pub discrepancies: Vec<Discrepancy>,
    /// What time alone will change, soonest first.
    pub pending: Vec<Pending>,
}

impl CrossCheck {
    /// When the answer next changes with time alone (`None`: only a change of the tags or of
    /// the registry's answer can change it).
    pub fn changes_at(&self) -> Option<DateTime<Utc>> {
        self.pending.iter().map(|p| p.until).min()
    }
}

/// [`verify`] without withheld versions and pending tags: for callers that have neither.
pub fn cross_check(
    channel: &str,
    tag_versions: &[(String, Option<DateTime<Utc>>)],
    published: &[ChannelRelease],
    scheme: VersionScheme,
    cooldown: Duration,
    now: DateTime<Utc>,
) -> Vec<Discrepancy> {
    verify(channel, tag_versions, published, &[], scheme, cooldown, now).discrepancies
}

/// Compares the versions of the release tags (`(version, tag date)`) with what `channel`
/// publishes (`published`) and holds back (`withheld`, from [`super::Observation`]). Pass all
/// three through the same prerelease policy (each carries a `prerelease` flag), or a
/// prerelease published without a tag reads as a finding.
pub fn verify(
    channel: &str,
    tag_versions: &[(String, Option<DateTime<Utc>>)],
    published: &[ChannelRelease],
    withheld: &[Withheld],
    scheme: VersionScheme,
    cooldown: Duration,
    now: DateTime<Utc>,
) -> CrossCheck {
    let parse = |v: &str| Version::parse(scheme, v);
    let tags: Vec<(Version, Option<DateTime<Utc>>)> = tag_versions
        .iter()
        .filter_map(|(v, date)| Some((parse(v)?, *date)))
        .collect();
    let offered: Vec<(Version, &ChannelRelease)> = published
        .iter()
        .filter_map(|r| Some((parse(&r.version)?, r)))
        .collect();
    let held: Vec<(Version, &Withheld)> = withheld
        .iter()
        .filter_map(|w| Some((parse(&w.version)?, w)))
        .collect();
    let oldest_tag = tags.iter().map(|(v, _)| v).min();
    let oldest_in_registry = offered
        .iter()
        .map(|(v, _)| v)
        .chain(held.iter().map(|(v, _)| v))
        .min();

    let mut found: Vec<(Version, Discrepancy)> = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let untagged = offered
        .iter()
        .map(|(v, r)| (v, r.version.as_str(), r.published_at))
        // A version above the dist-tag is still published: without a tag, it is as suspect.
        .chain(
            held.iter()
                .filter(|(_, w)| w.reason == WithheldReason::AboveDistTag)
                .map(|(v, w)| (v, w.version.as_str(), w.published_at)),
        );
    for (version, text, published_at) in untagged {
        let reported = found.iter().any(|(v, _)| v == version);
        if reported
            || oldest_tag.is_some_and(|oldest| version < oldest)
            || tags.iter().any(|(t, _)| t == version)
        {
            continue;
        }
        let when = published_at
            .map(|t| format!(" (published {})", t.format("%Y-%m-%d")))
            .unwrap_or_default();
        found.push((
            version.clone(),
            finding(
                channel,
                text,
                DiscrepancyKind::MissingTag,
                format!("{channel} publishes {text}{when}, but no git tag has that version"),
            ),
        ));
    }
    let mut tag_list: Vec<&Version> = tags.iter().map(|(v, _)| v).collect();
    tag_list.sort();
    tag_list.dedup();
    for version in tag_list {
        if oldest_in_registry.is_some_and(|oldest| version < oldest)
            || offered.iter().any(|(r, _)| r == version)
        {
            continue;
        }
        if let Some((_, w)) = held.iter().find(|(h, _)| h == version) {
            found.push((version.clone(), withheld_finding(channel, version, w)));
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
            if let Some(until) = proposable_at(date, cooldown) {
                pending.push(Pending {
                    channel: channel.to_string(),
                    version: version.as_str().to_string(),
                    until,
                });
            }
            continue;
        }
        found.push((
            version.clone(),
            finding(
                channel,
                version.as_str(),
                DiscrepancyKind::MissingInRegistry,
                missing_detail(channel, version.as_str(), date, cooldown),
            ),
        ));
    }
    found.sort_by(|(a, da), (b, db)| a.cmp(b).then(da.kind.cmp(&db.kind)));
    pending.sort_by(|a, b| a.until.cmp(&b.until).then(a.version.cmp(&b.version)));
    CrossCheck {
        discrepancies: found.into_iter().map(|(_, d)| d).collect(),
        pending,
    }
}

fn finding(channel: &str, version: &str, kind: DiscrepancyKind, detail: String) -> Discrepancy {
    Discrepancy {
        channel: channel.to_string(),
        version: version.to_string(),
        kind,
        detail,
    }
}

/// "the git tag for 1.1.0 (2026-03-11) is past the 7d cooldown, but npm does not have that
/// version": a date, never an age, so the text does not change from one day to the next.
fn missing_detail(
    channel: &str,
    version: &str,
    date: Option<DateTime<Utc>>,
    cooldown: Duration,
) -> String {
    let Some(date) = date else {
        return format!(
            "the git tag for {version} has no date, and {channel} does not have that version"
        );
    };
    let day = date.format("%Y-%m-%d");
    if cooldown.is_zero() {
        format!(
            "the git tag for {version} ({day}) exists, but {channel} does not have that version"
        )
    } else {
        format!(
            "the git tag for {version} ({day}) is past the {} cooldown, but {channel} does not \
             have that version",
            cooldown_text(cooldown)
        )
    }
}

/// `7-day`, `36-hour`, `90-minute`, or humantime's form for anything else.
fn cooldown_text(cooldown: Duration) -> String {
    let secs = cooldown.as_secs();
    for (unit, name) in [(86_400, "day"), (3_600, "hour"), (60, "minute")] {
        if secs.is_multiple_of(unit) && cooldown.subsec_nanos() == 0 {
            return format!("{}-{name}", secs / unit);
        }
    }
    humantime::format_duration(cooldown).to_string()
}

fn withheld_finding(channel: &str, version: &Version, w: &Withheld) -> Discrepancy {
    let v = version.as_str();
    let said = |what: &str| match &w.detail {
        Some(words) => format!("{what}: \"{words}\""),
        None => what.to_string(),
    };
    let (kind, detail) = match w.reason {
        WithheldReason::Deprecated => (
            DiscrepancyKind::Deprecated,
            said(&format!("{channel} has {v}, deprecated")),
        ),
        WithheldReason::Yanked => (
            DiscrepancyKind::Yanked,
            said(&format!("{channel} has {v}, with every file yanked")),
        ),
        WithheldReason::Deleted => (
            DiscrepancyKind::Deleted,
            format!("{channel} lists {v} as deleted"),
        ),
        WithheldReason::AboveDistTag => (
            DiscrepancyKind::AboveDistTag,
            format!(
                "{channel} has {v}, above its dist-tag ({}): not proposed",
                w.detail.as_deref().unwrap_or("unknown")
            ),
        ),
    };
    finding(channel, v, kind, detail)
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
    fn details_name_the_channel_and_the_facts_and_never_an_age() {
        let tags = tags(&[
            ("1.0.0", Some("2026-03-01T00:00:00Z")),
            ("1.1.0", Some("2026-03-11T00:00:00Z")),
        ]);
        let registry = published(&["1.0.0", "1.0.5"]);
        let run = |now| {
            cross_check(
                "mcp-registry",
                &tags,
                &registry,
                VersionScheme::Semver,
                7 * DAY,
                now,
            )
        };
        let found = run(now());
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].channel, "mcp-registry");
        assert_eq!(
            found[0].detail,
            "mcp-registry publishes 1.0.5 (published 2026-03-01), but no git tag has that version"
        );
        assert_eq!(
            found[1].detail,
            "the git tag for 1.1.0 (2026-03-11) is past the 7-day cooldown, but mcp-registry \
             does not have that version"
        );
        let json = serde_json::to_value(&found[1]).unwrap();
        assert_eq!(json["kind"], "missing-in-registry");
        // A month later nothing changed upstream: the same findings, word for word (a text
        // that aged would change the PR body on every full check).
        assert_eq!(run(now() + chrono::Duration::days(30)), found);
    }

    fn held(version: &str, reason: WithheldReason, detail: Option<&str>) -> Withheld {
        Withheld {
            version: version.into(),
            reason,
            detail: detail.map(String::from),
            published_at: Some(at("2026-03-01T00:00:00Z")),
            prerelease: false,
        }
    }

    #[test]
    fn withheld_versions_are_named_for_what_they_are_never_missing() {
        let old = Some("2026-03-01T00:00:00Z");
        let check = verify(
            "npm",
            &tags(&[
                ("1.0.0", old),
                ("1.1.0", old),
                ("1.2.0", old),
                ("1.3.0", old),
                ("1.4.0", old),
            ]),
            &published(&["1.0.0"]),
            &[
                held("1.1.0", WithheldReason::Deprecated, Some("use 1.1.1")),
                held("1.2.0", WithheldReason::Yanked, None),
                held("1.3.0", WithheldReason::Deleted, None),
                held(
                    "1.4.0",
                    WithheldReason::AboveDistTag,
                    Some("`latest` is 1.0.0"),
                ),
                // Withdrawn and untagged: the publisher's cleanup, not a finding.
                held(
                    "1.0.1",
                    WithheldReason::Deprecated,
                    Some("accidental publish"),
                ),
                // Above the dist-tag and untagged: still published without a tag.
                held(
                    "2.0.0",
                    WithheldReason::AboveDistTag,
                    Some("`latest` is 1.0.0"),
                ),
            ],
            VersionScheme::Semver,
            7 * DAY,
            now(),
        );
        assert_eq!(
            summary(&check.discrepancies),
            [
                ("1.1.0".to_string(), DiscrepancyKind::Deprecated),
                ("1.2.0".to_string(), DiscrepancyKind::Yanked),
                ("1.3.0".to_string(), DiscrepancyKind::Deleted),
                ("1.4.0".to_string(), DiscrepancyKind::AboveDistTag),
                ("2.0.0".to_string(), DiscrepancyKind::MissingTag),
            ]
        );
        let details: Vec<&str> = check
            .discrepancies
            .iter()
            .map(|d| d.detail.as_str())
            .collect();
        assert_eq!(
            details[..4],
            [
                "npm has 1.1.0, deprecated: \"use 1.1.1\"",
                "npm has 1.2.0, with every file yanked",
                "npm lists 1.3.0 as deleted",
                "npm has 1.4.0, above its dist-tag (`latest` is 1.0.0): not proposed",
            ]
        );
        assert!(
            check
                .discrepancies
                .iter()
                .take(4)
                .all(|d| d.kind.is_withheld())
        );
        assert!(!DiscrepancyKind::MissingTag.is_withheld());
        assert!(check.pending.is_empty());
    }

    #[test]
    fn a_withheld_version_is_reported_at_once_not_after_the_cooldown() {
        let fresh = Some("2026-03-30T00:00:00Z");
        let check = verify(
            "pypi",
            &tags(&[("1.0.0", Some("2026-03-01T00:00:00Z")), ("1.1.0", fresh)]),
            &published(&["1.0.0"]),
            &[held("1.1.0", WithheldReason::Yanked, Some("broken wheel"))],
            VersionScheme::Semver,
            7 * DAY,
            now(),
        );
        assert_eq!(
            summary(&check.discrepancies),
            [("1.1.0".to_string(), DiscrepancyKind::Yanked)]
        );
        assert!(check.pending.is_empty());
    }

    #[test]
    fn a_tag_inside_the_cooldown_is_pending_until_it_ends() {
        let tag_list = tags(&[
            ("1.0.0", Some("2026-03-01T00:00:00Z")),
            ("1.1.0", Some("2026-03-30T00:00:00Z")),
            ("1.2.0", Some("2026-03-29T00:00:00Z")),
        ]);
        let registry = published(&["1.0.0"]);
        let at_time = |now| {
            verify(
                "npm",
                &tag_list,
                &registry,
                &[],
                VersionScheme::Semver,
                7 * DAY,
                now,
            )
        };
        let before = at_time(now());
        assert!(before.discrepancies.is_empty(), "{before:?}");
        let pending: Vec<(&str, DateTime<Utc>)> = before
            .pending
            .iter()
            .map(|p| (p.version.as_str(), p.until))
            .collect();
        assert_eq!(
            pending,
            [
                ("1.2.0", at("2026-04-05T00:00:00Z")),
                ("1.1.0", at("2026-04-06T00:00:00Z"))
            ]
        );
        assert_eq!(before.changes_at(), Some(at("2026-04-05T00:00:00Z")));
        // Once the cooldown ends it is a finding, and nothing is pending any more.
        let after = at_time(at("2026-04-06T00:00:00Z"));
        assert_eq!(
            summary(&after.discrepancies),
            [("1.1.0".to_string(), InReg), ("1.2.0".to_string(), InReg)]
        );
        assert_eq!(after.changes_at(), None);
    }

    #[test]
    fn cooldowns_are_written_in_whole_units() {
        assert_eq!(cooldown_text(7 * DAY), "7-day");
        assert_eq!(cooldown_text(Duration::from_secs(36 * 3_600)), "36-hour");
        assert_eq!(cooldown_text(Duration::from_secs(90 * 60)), "90-minute");
        assert_eq!(cooldown_text(Duration::from_secs(61)), "1m 1s");
    }
}
