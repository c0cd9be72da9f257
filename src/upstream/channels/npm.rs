//! The `npm` channel: the full packument, `GET {registry}/{package}` (a scoped name travels as
//! one path segment, `@scope%2Fname`).
//!
//! What the npm registry documents ("Package Metadata", npm/registry
//! `docs/responses/package-metadata.md`; `npm dist-tag`, `npm deprecate`):
//! - versions come from `versions`, publish times from `time` (version -> ISO time). The
//!   abbreviated document (`Accept: application/vnd.npm.install-v1+json`) has no `time`, so the
//!   full one is asked for (`Accept: application/json`; the registry's default as well).
//! - `dist-tags` maps tag names to versions, and "every package will have a `latest` tag".
//!   `npm install <pkg>` installs what `latest` names, and `npm publish --tag next` publishes
//!   without moving it. So a version above the followed tag (`latest` unless configured) is
//!   never proposed: it was published under another tag, or `latest` was moved back from it.
//!   Such versions are withheld as [`WithheldReason::AboveDistTag`].
//! - a deprecated version carries a non-empty `deprecated` message (an empty string is how a
//!   deprecation is lifted): withheld as [`WithheldReason::Deprecated`].
//!
//! A `latest` that moved back since the last look (the previous packument is in the conditional
//! cache) is said once, as a [`NoticeKind::DistTagMovedBack`] notice.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{
    ChannelError, ChannelRelease, DEFAULT_DIST_TAG, Fetcher, Found, Notice, NoticeKind, Withheld,
    WithheldReason, base_url, one_line,
};
use crate::http::build_url;
use crate::upstream::version::{Version, VersionScheme};

#[derive(Debug, Deserialize)]
struct Packument {
    name: String,
    #[serde(rename = "dist-tags", default)]
    dist_tags: BTreeMap<String, String>,
    versions: Option<BTreeMap<String, NpmVersion>>,
    #[serde(default)]
    time: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct NpmVersion {
    /// The deprecation message (npm writes a string; `false`/`""` mean not deprecated).
    #[serde(default)]
    deprecated: Option<serde_json::Value>,
}

/// Only the tags of a packument: enough to compare with an older one.
#[derive(Debug, Deserialize)]
struct TagsOnly {
    #[serde(rename = "dist-tags", default)]
    dist_tags: BTreeMap<String, String>,
}

/// What one packument says, read for one dist-tag.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Packed {
    pub releases: Vec<ChannelRelease>,
    pub withheld: Vec<Withheld>,
    pub unparsable: Vec<String>,
    /// The version the followed tag names (None: no such tag, or nothing published).
    pub tag_version: Option<String>,
}

pub(super) fn lookup(
    fetcher: &Fetcher<'_>,
    registry: &str,
    package: &str,
    dist_tag: &str,
    scheme: VersionScheme,
) -> Result<Found, ChannelError> {
    if package.is_empty() {
        return Err(fetcher.invalid("the package name is empty".into()));
    }
    if dist_tag.trim().is_empty() {
        return Err(fetcher.invalid("the dist-tag is empty".into()));
    }
    let base = base_url(fetcher, registry)?;
    let url = build_url(&base, &[package], &[]).map_err(|e| fetcher.invalid(e.to_string()))?;
    let page_link = (base.host_str() == Some("registry.npmjs.org"))
        .then(|| format!("https://www.npmjs.com/package/{package}/v/"));
    let page = fetcher.page(&url, |body| {
        parse_packument(body, package, dist_tag, scheme, page_link.as_deref())
    })?;
    let packed = page.value;
    // The packument this answer replaces in the cache: what `dist_tag` named at the last look.
    let before = page
        .previous
        .as_deref()
        .and_then(|body| tag_target(body, dist_tag));
    let mut notices = Vec::new();
    if let Some(notice) = moved_back(
        dist_tag,
        before.as_deref(),
        packed.tag_version.as_deref(),
        scheme,
    ) {
        tracing::warn!(package, dist_tag, detail = %notice.detail, "npm dist-tag moved back");
        notices.push(notice);
    }
    Ok(Found {
        releases: packed.releases,
        not_modified: page.not_modified,
        withheld: packed.withheld,
        unparsable: packed.unparsable,
        notices,
    })
}

/// The proposable, withheld and unreadable versions of a packument, read for `dist_tag`.
/// `page_link` + version is the package page of a version, when the registry has one.
pub(super) fn parse_packument(
    body: &[u8],
    package: &str,
    dist_tag: &str,
    scheme: VersionScheme,
    page_link: Option<&str>,
) -> Result<Packed, String> {
    let doc: Packument =
        serde_json::from_slice(body).map_err(|e| format!("not an npm packument ({e})"))?;
    if doc.name != package {
        return Err(format!(
            "the packument is for {:?}, not {package:?}",
            doc.name
        ));
    }
    let Some(versions) = doc.versions else {
        // A fully unpublished package keeps only `time.unpublished`: it has no releases.
        return if doc.time.contains_key("unpublished") {
            Ok(Packed::default())
        } else {
            Err("the packument has no `versions`".into())
        };
    };
    let cap = tag_cap(&doc.dist_tags, &versions, dist_tag, scheme)?;
    let mut out = Packed {
        tag_version: cap.as_ref().map(|c| c.as_str().to_string()),
        ..Packed::default()
    };
    for (version, meta) in versions {
        let published_at = doc
            .time
            .get(&version)
            .and_then(|t| t.as_str())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        if let Some(message) = deprecation(meta.deprecated.as_ref()) {
            tracing::debug!(package, version = %version, "deprecated npm version withheld");
            out.withheld.push(Withheld::new(
                version,
                WithheldReason::Deprecated,
                one_line(message),
                published_at,
                scheme,
            ));
            continue;
        }
        let Some(parsed) = Version::parse(scheme, &version) else {
            tracing::debug!(package, version = %version, "npm version does not parse under the scheme; skipped");
            out.unparsable.push(version);
            continue;
        };
        if let Some(cap) = &cap
            && parsed > *cap
        {
            tracing::debug!(package, version = %version, dist_tag, "npm version above the dist-tag withheld");
            out.withheld.push(Withheld::new(
                version,
                WithheldReason::AboveDistTag,
                Some(format!("`{dist_tag}` is {}", cap.as_str())),
                published_at,
                scheme,
            ));
            continue;
        }
        out.releases.push(ChannelRelease {
            prerelease: parsed.is_prerelease(),
            url: page_link.map(|link| format!("{link}{version}")),
            version,
            tag: None,
            published_at,
            notes: None,
        });
    }
    Ok(out)
}

/// The version the followed tag names, parsed: nothing above it is proposed.
///
/// A configured tag that the packument lacks is an error (a config mistake must not read as "no
/// new release"). A missing `latest` is not: the registry documents that every package has
/// one, but a private registry may not, and then npm itself installs the highest version
/// (npm-pick-manifest), so nothing is capped.
fn tag_cap(
    dist_tags: &BTreeMap<String, String>,
    versions: &BTreeMap<String, NpmVersion>,
    dist_tag: &str,
    scheme: VersionScheme,
) -> Result<Option<Version>, String> {
    let Some(target) = dist_tags.get(dist_tag) else {
        if dist_tag == DEFAULT_DIST_TAG {
            tracing::debug!("the packument has no `latest` dist-tag; nothing is capped");
            return Ok(None);
        }
        let known: Vec<&str> = dist_tags.keys().map(String::as_str).collect();
        return Err(format!(
            "the packument has no dist-tag `{dist_tag}` (it has: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    };
    if !versions.contains_key(target) {
        return Err(format!(
            "dist-tag `{dist_tag}` names {target}, which is not in `versions`"
        ));
    }
    Version::parse(scheme, target).map(Some).ok_or_else(|| {
        format!(
            "dist-tag `{dist_tag}` names {target}, which the `{}` scheme cannot read",
            super::scheme_name(scheme)
        )
    })
}

/// The version `dist_tag` named in an older packument (from the conditional cache).
fn tag_target(body: &[u8], dist_tag: &str) -> Option<String> {
    let doc: TagsOnly = serde_json::from_slice(body).ok()?;
    doc.dist_tags.get(dist_tag).cloned()
}

/// A notice when the tag now names an older version than before.
fn moved_back(
    dist_tag: &str,
    before: Option<&str>,
    now: Option<&str>,
    scheme: VersionScheme,
) -> Option<Notice> {
    let (before_text, now_text) = (before?, now?);
    let (before, now) = (
        Version::parse(scheme, before_text)?,
        Version::parse(scheme, now_text)?,
    );
    (now < before).then(|| Notice {
        channel: "npm".into(),
        kind: NoticeKind::DistTagMovedBack,
        detail: format!(
            "npm's `{dist_tag}` tag moved back from {before_text} to {now_text} since the last \
             look (the publisher rolled back): versions above {now_text} are not proposed"
        ),
    })
}

/// The deprecation message, when the version is deprecated. npm writes a string; an empty one
/// lifts a deprecation (`npm deprecate`). Some registries write `true`.
fn deprecation(value: Option<&serde_json::Value>) -> Option<&str> {
    match value {
        Some(serde_json::Value::String(message)) if !message.trim().is_empty() => Some(message),
        Some(serde_json::Value::Bool(true)) => Some(""),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packument() -> &'static [u8] {
        br#"{
          "name": "@acme/server",
          "dist-tags": {"latest": "1.1.0", "next": "2.0.0-rc.1"},
          "versions": {
            "1.0.0": {"name": "@acme/server", "version": "1.0.0"},
            "1.0.1": {"version": "1.0.1", "deprecated": "broken build,\n use 1.1.0"},
            "1.1.0": {"version": "1.1.0", "deprecated": ""},
            "1.2.0": {"version": "1.2.0"},
            "2.0.0-rc.1": {"version": "2.0.0-rc.1"},
            "not-a-version": {}
          },
          "time": {
            "created": "2025-01-01T00:00:00.000Z",
            "modified": "2026-01-01T00:00:00.000Z",
            "1.0.0": "2025-01-01T00:00:00.000Z",
            "1.0.1": "2025-02-01T00:00:00.000Z",
            "1.1.0": "2025-03-04T05:06:07.890Z",
            "1.2.0": "2025-04-01T00:00:00.000Z"
          }
        }"#
    }

    fn versions(list: &[ChannelRelease]) -> Vec<&str> {
        list.iter().map(|r| r.version.as_str()).collect()
    }

    fn withheld(list: &[Withheld]) -> Vec<(&str, WithheldReason)> {
        list.iter()
            .map(|w| (w.version.as_str(), w.reason))
            .collect()
    }

    #[test]
    fn latest_caps_the_releases_and_deprecations_are_withheld() {
        let got = parse_packument(
            packument(),
            "@acme/server",
            "latest",
            VersionScheme::Semver,
            Some("https://www.npmjs.com/package/@acme/server/v/"),
        )
        .unwrap();
        assert_eq!(versions(&got.releases), ["1.0.0", "1.1.0"]);
        assert_eq!(
            withheld(&got.withheld),
            [
                ("1.0.1", WithheldReason::Deprecated),
                ("1.2.0", WithheldReason::AboveDistTag),
                ("2.0.0-rc.1", WithheldReason::AboveDistTag)
            ]
        );
        assert_eq!(
            got.withheld[0].detail.as_deref(),
            Some("broken build, use 1.1.0")
        );
        assert_eq!(got.withheld[1].detail.as_deref(), Some("`latest` is 1.1.0"));
        assert_eq!(got.unparsable, ["not-a-version"]);
        assert_eq!(got.tag_version.as_deref(), Some("1.1.0"));
        assert_eq!(
            got.releases[1].published_at.map(|t| t.to_rfc3339()),
            Some("2025-03-04T05:06:07.890+00:00".to_string())
        );
        assert_eq!(
            got.releases[0].url.as_deref(),
            Some("https://www.npmjs.com/package/@acme/server/v/1.0.0")
        );
    }

    #[test]
    fn a_configured_tag_lets_its_prerelease_through() {
        let got = parse_packument(
            packument(),
            "@acme/server",
            "next",
            VersionScheme::Semver,
            None,
        )
        .unwrap();
        assert_eq!(
            versions(&got.releases),
            ["1.0.0", "1.1.0", "1.2.0", "2.0.0-rc.1"]
        );
        assert!(got.releases[3].prerelease && !got.releases[2].prerelease);
        assert_eq!(got.releases[3].published_at, None, "no time entry, no time");
    }

    #[test]
    fn tags_that_cannot_cap_are_errors_except_a_missing_latest() {
        let body = |tags: &str| {
            format!(r#"{{"name":"p","dist-tags":{tags},"versions":{{"1.0.0":{{}},"2.0.0":{{}}}}}}"#)
        };
        let read = |tags: &str, tag: &str| {
            parse_packument(body(tags).as_bytes(), "p", tag, VersionScheme::Semver, None)
        };
        let uncapped = read("{}", "latest").unwrap();
        assert_eq!(versions(&uncapped.releases), ["1.0.0", "2.0.0"]);
        let err = read(r#"{"latest":"2.0.0","beta":"2.0.0"}"#, "next").unwrap_err();
        assert_eq!(
            err,
            "the packument has no dist-tag `next` (it has: beta, latest)"
        );
        let err = read(r#"{"latest":"3.0.0"}"#, "latest").unwrap_err();
        assert!(err.contains("not in `versions`"), "{err}");
    }

    #[test]
    fn unpublished_packages_have_no_releases_but_other_shapes_are_errors() {
        let unpublished =
            br#"{"name":"gone","time":{"unpublished":{"time":"2025-01-01T00:00:00Z"}}}"#;
        assert_eq!(
            parse_packument(unpublished, "gone", "latest", VersionScheme::Semver, None).unwrap(),
            Packed::default()
        );
        let read = |body: &[u8], name: &str| {
            parse_packument(body, name, "latest", VersionScheme::Semver, None)
        };
        assert!(read(br#"{"name":"x"}"#, "x").is_err());
        assert!(read(br#"{"name":"y","versions":{}}"#, "x").is_err());
        assert!(read(b"[]", "x").is_err());
    }

    #[test]
    fn a_tag_moved_back_is_a_notice_and_forward_or_unknown_is_not() {
        let semver = VersionScheme::Semver;
        let back = moved_back("latest", Some("1.3.0"), Some("1.2.0"), semver).unwrap();
        assert_eq!(back.kind, NoticeKind::DistTagMovedBack);
        assert!(
            back.detail
                .starts_with("npm's `latest` tag moved back from 1.3.0 to 1.2.0"),
            "{}",
            back.detail
        );
        assert_eq!(
            moved_back("latest", Some("1.2.0"), Some("1.3.0"), semver),
            None
        );
        assert_eq!(
            moved_back("latest", Some("1.2.0"), Some("1.2.0"), semver),
            None
        );
        assert_eq!(moved_back("latest", None, Some("1.2.0"), semver), None);
        assert_eq!(
            tag_target(
                br#"{"dist-tags":{"latest":"1.3.0"},"versions":{}}"#,
                "latest"
            )
            .as_deref(),
            Some("1.3.0")
        );
        assert_eq!(tag_target(b"not json", "latest"), None);
    }
}
