//! The `pypi` channel: the JSON API, `GET {index}/pypi/{project}/json`. Versions come from
//! `releases` (version -> files); a version whose files are all yanked, or that has no files,
//! is skipped; its publish time is the earliest upload time of its files.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::Url;
use serde::Deserialize;

use super::{ChannelError, ChannelRelease, Fetcher, Lookup, base_url, scheme_prerelease};
use crate::http::build_url;
use crate::upstream::version::{Version, VersionScheme};

#[derive(Debug, Deserialize)]
struct Project {
    info: Info,
    releases: BTreeMap<String, Vec<File>>,
}

#[derive(Debug, Deserialize)]
struct Info {
    name: String,
}

#[derive(Debug, Deserialize)]
struct File {
    upload_time_iso_8601: Option<String>,
    /// The older field: ISO 8601 without a zone, in UTC.
    upload_time: Option<String>,
    #[serde(default)]
    yanked: bool,
}

pub(super) fn lookup(
    fetcher: &Fetcher<'_>,
    index: &str,
    project: &str,
    scheme: VersionScheme,
) -> Result<Lookup, ChannelError> {
    if project.is_empty() {
        return Err(fetcher.invalid("the project name is empty".into()));
    }
    let base = base_url(fetcher, index)?;
    let url = build_url(&base, &["pypi", project, "json"], &[])
        .map_err(|e| fetcher.invalid(e.to_string()))?;
    let page = fetcher.page(&url, |body| parse_project(body, project, scheme, &base))?;
    Ok(Lookup {
        releases: page.value,
        not_modified: page.not_modified,
    })
}

/// The installable versions of a project document.
pub(super) fn parse_project(
    body: &[u8],
    project: &str,
    scheme: VersionScheme,
    index: &Url,
) -> Result<Vec<ChannelRelease>, String> {
    let doc: Project =
        serde_json::from_slice(body).map_err(|e| format!("not a PyPI project document ({e})"))?;
    if normalize(&doc.info.name) != normalize(project) {
        return Err(format!(
            "the document is for {:?}, not {project:?}",
            doc.info.name
        ));
    }
    let mut out = Vec::new();
    for (version, files) in doc.releases {
        let live: Vec<&File> = files.iter().filter(|f| !f.yanked).collect();
        if live.is_empty() {
            tracing::debug!(project, version = %version, files = files.len(), "skipping PyPI version with no installable files");
            continue;
        }
        if Version::parse(scheme, &version).is_none() {
            tracing::debug!(project, version = %version, "PyPI version does not parse under the scheme; skipped");
            continue;
        }
        // Yanked files count for the publish time too: the version was out since then.
        let published_at = files.iter().filter_map(upload_time).min();
        let url = build_url(index, &["project", &doc.info.name, &version, ""], &[])
            .ok()
            .map(String::from);
        out.push(ChannelRelease {
            prerelease: scheme_prerelease(scheme, &version),
            version,
            tag: None,
            published_at,
            notes: None,
            url,
        });
    }
    Ok(out)
}

fn upload_time(file: &File) -> Option<DateTime<Utc>> {
    if let Some(t) = file
        .upload_time_iso_8601
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        return Some(t.with_timezone(&Utc));
    }
    let naive =
        NaiveDateTime::parse_from_str(file.upload_time.as_deref()?, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(naive.and_utc())
}

/// PEP 503 name normalisation: case-insensitive, runs of `-`, `_`, `.` are one `-`.
fn normalize(name: &str) -> String {
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

    fn index() -> Url {
        Url::parse("https://pypi.org").unwrap()
    }

    #[test]
    fn yanked_and_empty_versions_are_skipped_and_times_are_the_earliest() {
        let body = br#"{
          "info": {"name": "Weather_MCP", "version": "1.2.0"},
          "releases": {
            "1.0.0": [
              {"filename": "a.whl", "upload_time": "2025-01-02T00:00:00", "upload_time_iso_8601": "2025-01-02T00:00:00.123456Z", "yanked": false},
              {"filename": "a.tar.gz", "upload_time": "2025-01-01T08:00:00", "upload_time_iso_8601": "2025-01-01T08:00:00.000000Z", "yanked": false}
            ],
            "1.1.0": [
              {"filename": "b.whl", "upload_time_iso_8601": "2025-02-01T00:00:00Z", "yanked": true, "yanked_reason": "bad"}
            ],
            "1.1.1": [],
            "1.2.0": [
              {"filename": "c.whl", "upload_time_iso_8601": "2025-03-01T00:00:00Z", "yanked": true},
              {"filename": "c.tar.gz", "upload_time": "2025-03-02T00:00:00", "yanked": false}
            ],
            "2.0.0rc1": [{"filename": "d.whl", "upload_time_iso_8601": "2025-04-01T00:00:00Z"}],
            "not a version": [{"filename": "e.whl"}]
          }
        }"#;
        let got = parse_project(body, "weather-mcp", VersionScheme::Pep440, &index()).unwrap();
        let versions: Vec<_> = got.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["1.0.0", "1.2.0", "2.0.0rc1"]);
        assert_eq!(
            got[0].published_at.map(|t| t.to_rfc3339()),
            Some("2025-01-01T08:00:00+00:00".to_string())
        );
        assert_eq!(
            got[1].published_at.map(|t| t.to_rfc3339()),
            Some("2025-03-01T00:00:00+00:00".to_string()),
            "the yanked file was the first upload"
        );
        assert!(got[2].prerelease && !got[0].prerelease);
        assert_eq!(
            got[0].url.as_deref(),
            Some("https://pypi.org/project/Weather_MCP/1.0.0/")
        );
    }

    #[test]
    fn other_shapes_and_other_projects_are_errors() {
        let other = br#"{"info":{"name":"requests"},"releases":{}}"#;
        assert!(parse_project(other, "weather-mcp", VersionScheme::Pep440, &index()).is_err());
        let no_releases = br#"{"info":{"name":"weather-mcp"}}"#;
        assert!(
            parse_project(no_releases, "weather-mcp", VersionScheme::Pep440, &index()).is_err()
        );
        assert!(parse_project(b"[]", "weather-mcp", VersionScheme::Pep440, &index()).is_err());
    }

    #[test]
    fn names_normalise_per_pep_503() {
        assert_eq!(normalize("Weather__MCP.Server"), "weather-mcp-server");
        assert_eq!(normalize("a-_.b"), "a-b");
    }
}
