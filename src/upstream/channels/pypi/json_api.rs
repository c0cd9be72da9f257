//! Warehouse's JSON API, `GET {index}/pypi/{project}/json`: the fallback for indexes without
//! the JSON Simple API. Versions come from `releases` (version -> files), which PyPI documents
//! as deprecated but still serves; each file has `upload_time_iso_8601` (or the older
//! zone-less `upload_time`, in UTC), `yanked` and `yanked_reason` ("JSON API", PyPI docs).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::Url;
use serde::Deserialize;

use super::{FileFacts, Listing, normalize};
use crate::http::build_url;
use crate::upstream::channels::{ChannelError, Fetcher};

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
    #[serde(default)]
    yanked_reason: Option<String>,
}

/// The project's listing and whether it came from the cache (304).
pub(super) fn fetch(
    fetcher: &Fetcher<'_>,
    index: &Url,
    project: &str,
) -> Result<(Listing, bool), ChannelError> {
    let url = build_url(index, &["pypi", project, "json"], &[])
        .map_err(|e| fetcher.invalid(e.to_string()))?;
    let page = fetcher.page(&url, |body| parse(body, project))?;
    Ok((page.value, page.not_modified))
}

/// Reads a project document.
pub(super) fn parse(body: &[u8], project: &str) -> Result<Listing, String> {
    let doc: Project =
        serde_json::from_slice(body).map_err(|e| format!("not a PyPI project document ({e})"))?;
    if normalize(&doc.info.name) != normalize(project) {
        return Err(format!(
            "the document is for {:?}, not {project:?}",
            doc.info.name
        ));
    }
    let files = doc
        .releases
        .into_iter()
        .map(|(version, files)| {
            let facts = files
                .iter()
                .map(|f| FileFacts {
                    uploaded: upload_time(f),
                    yanked: f
                        .yanked
                        .then(|| f.yanked_reason.clone().unwrap_or_default()),
                })
                .collect();
            (version, facts)
        })
        .collect();
    Ok(Listing {
        name: doc.info.name,
        files,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_keep_times_and_yank_reasons() {
        let body = br#"{
          "info": {"name": "Weather_MCP", "version": "1.2.0"},
          "releases": {
            "1.0.0": [
              {"filename": "a.whl", "upload_time": "2025-01-02T00:00:00", "upload_time_iso_8601": "2025-01-02T00:00:00.123456Z", "yanked": false},
              {"filename": "a.tar.gz", "upload_time": "2025-01-01T08:00:00", "yanked": false}
            ],
            "1.1.0": [
              {"filename": "b.whl", "upload_time_iso_8601": "2025-02-01T00:00:00Z", "yanked": true, "yanked_reason": "bad"}
            ],
            "1.1.1": []
          }
        }"#;
        let got = parse(body, "weather-mcp").unwrap();
        assert_eq!(got.name, "Weather_MCP");
        assert_eq!(got.files.len(), 3);
        assert_eq!(
            got.files["1.0.0"]
                .iter()
                .map(|f| f.uploaded.map(|t| t.to_rfc3339()))
                .collect::<Vec<_>>(),
            [
                Some("2025-01-02T00:00:00.123456+00:00".to_string()),
                Some("2025-01-01T08:00:00+00:00".to_string())
            ]
        );
        assert_eq!(got.files["1.1.0"][0].yanked.as_deref(), Some("bad"));
        assert!(got.files["1.1.1"].is_empty());
    }

    #[test]
    fn other_shapes_and_other_projects_are_errors() {
        let other = br#"{"info":{"name":"requests"},"releases":{}}"#;
        assert!(parse(other, "weather-mcp").is_err());
        let no_releases = br#"{"info":{"name":"weather-mcp"}}"#;
        assert!(parse(no_releases, "weather-mcp").is_err());
        assert!(parse(b"[]", "weather-mcp").is_err());
    }
}
