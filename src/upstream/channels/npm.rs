//! The `npm` channel: the full packument, `GET {registry}/{package}` (a scoped name travels as
//! one path segment, `@scope%2Fname`). Versions come from `versions`, publish times from
//! `time`; deprecated versions are skipped. The abbreviated install document is not used: it
//! has no per-version times.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{ChannelError, ChannelRelease, Fetcher, Lookup, base_url, scheme_prerelease};
use crate::http::build_url;
use crate::upstream::version::{Version, VersionScheme};

#[derive(Debug, Deserialize)]
struct Packument {
    name: String,
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

pub(super) fn lookup(
    fetcher: &Fetcher<'_>,
    registry: &str,
    package: &str,
    scheme: VersionScheme,
) -> Result<Lookup, ChannelError> {
    if package.is_empty() {
        return Err(fetcher.invalid("the package name is empty".into()));
    }
    let base = base_url(fetcher, registry)?;
    let url = build_url(&base, &[package], &[]).map_err(|e| fetcher.invalid(e.to_string()))?;
    let page_link = (base.host_str() == Some("registry.npmjs.org"))
        .then(|| format!("https://www.npmjs.com/package/{package}/v/"));
    let page = fetcher.page(&url, |body| {
        parse_packument(body, package, scheme, page_link.as_deref())
    })?;
    Ok(Lookup {
        releases: page.value,
        not_modified: page.not_modified,
    })
}

/// The published, non-deprecated versions of a packument. `page_link` + version is the
/// package page of a version, when the registry has one.
pub(super) fn parse_packument(
    body: &[u8],
    package: &str,
    scheme: VersionScheme,
    page_link: Option<&str>,
) -> Result<Vec<ChannelRelease>, String> {
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
            Ok(Vec::new())
        } else {
            Err("the packument has no `versions`".into())
        };
    };
    let mut out = Vec::new();
    for (version, meta) in versions {
        if is_deprecated(meta.deprecated.as_ref()) {
            tracing::debug!(package, version = %version, "skipping deprecated npm version");
            continue;
        }
        if Version::parse(scheme, &version).is_none() {
            tracing::debug!(package, version = %version, "npm version does not parse under the scheme; skipped");
            continue;
        }
        let published_at = doc
            .time
            .get(&version)
            .and_then(|t| t.as_str())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        out.push(ChannelRelease {
            prerelease: scheme_prerelease(scheme, &version),
            url: page_link.map(|link| format!("{link}{version}")),
            version,
            tag: None,
            published_at,
            notes: None,
        });
    }
    Ok(out)
}

fn is_deprecated(value: Option<&serde_json::Value>) -> bool {
    match value {
        Some(serde_json::Value::String(message)) => !message.is_empty(),
        Some(serde_json::Value::Bool(flag)) => *flag,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packument_versions_times_and_deprecations() {
        let body = br#"{
          "name": "@acme/server",
          "dist-tags": {"latest": "1.1.0", "next": "2.0.0-rc.1"},
          "versions": {
            "1.0.0": {"name": "@acme/server", "version": "1.0.0"},
            "1.0.1": {"version": "1.0.1", "deprecated": "broken build, use 1.1.0"},
            "1.1.0": {"version": "1.1.0", "deprecated": ""},
            "2.0.0-rc.1": {"version": "2.0.0-rc.1"},
            "not-a-version": {}
          },
          "time": {
            "created": "2025-01-01T00:00:00.000Z",
            "modified": "2026-01-01T00:00:00.000Z",
            "1.0.0": "2025-01-01T00:00:00.000Z",
            "1.0.1": "2025-02-01T00:00:00.000Z",
            "1.1.0": "2025-03-04T05:06:07.890Z"
          }
        }"#;
        let got = parse_packument(
            body,
            "@acme/server",
            VersionScheme::Semver,
            Some("https://www.npmjs.com/package/@acme/server/v/"),
        )
        .unwrap();
        let versions: Vec<_> = got.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["1.0.0", "1.1.0", "2.0.0-rc.1"]);
        assert_eq!(
            got[1].published_at.map(|t| t.to_rfc3339()),
            Some("2025-03-04T05:06:07.890+00:00".to_string())
        );
        assert!(!got[1].prerelease && got[2].prerelease);
        assert_eq!(got[2].published_at, None, "no time entry, no time");
        assert_eq!(
            got[0].url.as_deref(),
            Some("https://www.npmjs.com/package/@acme/server/v/1.0.0")
        );
    }

    #[test]
    fn unpublished_packages_have_no_releases_but_other_shapes_are_errors() {
        let unpublished =
            br#"{"name":"gone","time":{"unpublished":{"time":"2025-01-01T00:00:00Z"}}}"#;
        assert_eq!(
            parse_packument(unpublished, "gone", VersionScheme::Semver, None).unwrap(),
            Vec::new()
        );
        assert!(parse_packument(br#"{"name":"x"}"#, "x", VersionScheme::Semver, None).is_err());
        assert!(
            parse_packument(
                br#"{"name":"y","versions":{}}"#,
                "x",
                VersionScheme::Semver,
                None
            )
            .is_err()
        );
        assert!(parse_packument(b"[]", "x", VersionScheme::Semver, None).is_err());
    }
}
