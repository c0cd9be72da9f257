//! The `pypi` channel.
//!
//! The Simple API in its JSON form is read first ([`simple`]: PEP 691, with PEP 700's
//! `versions` and `upload-time`): the interface every index standardises on, and PyPI's
//! recommended one. An index that does not speak it (404, 406, an HTML answer, or API version
//! 1.0 without `versions` and upload times) is read through Warehouse's JSON API instead
//! ([`json_api`]; its `releases` key is deprecated upstream but still served).
//!
//! Either way, per version: no files, nothing was released (skipped); every file yanked
//! (PEP 592), withheld as [`WithheldReason::Yanked`] with the yank reason; otherwise published,
//! at the earliest upload time of its files (yanked ones included: the version was out since).

mod json_api;
mod simple;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::Url;

use super::{
    ChannelError, ChannelRelease, Fetcher, Found, Withheld, WithheldReason, base_url, one_line,
    scheme_prerelease,
};
use crate::http::build_url;
use crate::upstream::version::{Version, VersionScheme};

/// One distribution file, as far as the channel cares.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FileFacts {
    pub uploaded: Option<DateTime<Utc>>,
    /// `Some(reason)` when yanked; the reason may be empty.
    pub yanked: Option<String>,
}

/// A project's versions and their files, from either API.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Listing {
    /// The project's name as the index spells it, for the package page URLs.
    pub name: String,
    pub files: BTreeMap<String, Vec<FileFacts>>,
}

pub(super) fn lookup(
    fetcher: &Fetcher<'_>,
    index: &str,
    project: &str,
    scheme: VersionScheme,
) -> Result<Found, ChannelError> {
    if project.is_empty() {
        return Err(fetcher.invalid("the project name is empty".into()));
    }
    let base = base_url(fetcher, index)?;
    let (listing, not_modified) = match simple::fetch(fetcher, &base, project)? {
        Some(found) => found,
        None => json_api::fetch(fetcher, &base, project)?,
    };
    let mut found = assemble(listing, scheme, &base);
    found.not_modified = not_modified;
    Ok(found)
}

/// The proposable, yanked and unreadable versions of a listing.
pub(super) fn assemble(listing: Listing, scheme: VersionScheme, index: &Url) -> Found {
    let mut found = Found::default();
    for (version, files) in listing.files {
        if files.is_empty() {
            tracing::debug!(project = %listing.name, version = %version, "PyPI version without files skipped");
            continue;
        }
        let published_at = files.iter().filter_map(|f| f.uploaded).min();
        if files.iter().all(|f| f.yanked.is_some()) {
            tracing::debug!(project = %listing.name, version = %version, "yanked PyPI version withheld");
            let reason = files
                .iter()
                .filter_map(|f| f.yanked.as_deref())
                .find_map(one_line);
            found.withheld.push(Withheld::new(
                version,
                WithheldReason::Yanked,
                reason,
                published_at,
                scheme,
            ));
            continue;
        }
        if Version::parse(scheme, &version).is_none() {
            tracing::debug!(project = %listing.name, version = %version, "PyPI version does not parse under the scheme; skipped");
            found.unparsable.push(version);
            continue;
        }
        let url = build_url(index, &["project", &listing.name, &version, ""], &[])
            .ok()
            .map(String::from);
        found.releases.push(ChannelRelease {
            prerelease: scheme_prerelease(scheme, &version),
            version,
            tag: None,
            published_at,
            notes: None,
            url,
        });
    }
    found
}

/// PEP 503 name normalisation: case-insensitive, runs of `-`, `_`, `.` are one `-`.
pub(super) fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                out.push('-');
            }
            in_separator = true;
        } else {
            out.extend(c.to_lowercase());
            in_separator = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<DateTime<Utc>> {
        Some(
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    fn file(uploaded: &str, yanked: Option<&str>) -> FileFacts {
        FileFacts {
            uploaded: at(uploaded),
            yanked: yanked.map(String::from),
        }
    }

    #[test]
    fn versions_are_published_withheld_skipped_or_unreadable() {
        let mut files = BTreeMap::new();
        files.insert(
            "1.0.0".to_string(),
            vec![
                file("2025-01-02T00:00:00Z", None),
                file("2025-01-01T08:00:00Z", None),
            ],
        );
        files.insert(
            "1.1.0".to_string(),
            vec![
                file("2025-02-01T00:00:00Z", Some("")),
                file("2025-02-02T00:00:00Z", Some("broken\nwheel")),
            ],
        );
        files.insert("1.1.1".to_string(), Vec::new());
        files.insert(
            "1.2.0".to_string(),
            vec![
                file("2025-03-01T00:00:00Z", Some("bad")),
                file("2025-03-02T00:00:00Z", None),
            ],
        );
        files.insert(
            "1.3rc1".to_string(),
            vec![file("2025-04-01T00:00:00Z", None)],
        );
        let listing = Listing {
            name: "Weather_MCP".into(),
            files,
        };
        let index = Url::parse("https://pypi.org").unwrap();
        let found = assemble(listing, VersionScheme::Semver, &index);
        let versions: Vec<_> = found.releases.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["1.0.0", "1.2.0"]);
        assert_eq!(found.releases[0].published_at, at("2025-01-01T08:00:00Z"));
        assert_eq!(
            found.releases[1].published_at,
            at("2025-03-01T00:00:00Z"),
            "the yanked file was the first upload"
        );
        assert_eq!(
            found.releases[0].url.as_deref(),
            Some("https://pypi.org/project/Weather_MCP/1.0.0/")
        );
        assert_eq!(found.withheld.len(), 1);
        assert_eq!(found.withheld[0].version, "1.1.0");
        assert_eq!(found.withheld[0].reason, WithheldReason::Yanked);
        assert_eq!(found.withheld[0].detail.as_deref(), Some("broken wheel"));
        assert_eq!(found.withheld[0].published_at, at("2025-02-01T00:00:00Z"));
        assert_eq!(found.unparsable, ["1.3rc1"], "semver cannot read PEP 440");
    }

    #[test]
    fn names_normalise_per_pep_503() {
        assert_eq!(normalize("Weather__MCP.Server"), "weather-mcp-server");
        assert_eq!(normalize("a-_.b"), "a-b");
    }
}
