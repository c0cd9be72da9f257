//! The Simple API's project page in JSON: `GET {index}/simple/{normalized-name}/` with
//! `Accept: application/vnd.pypi.simple.v1+json`.
//!
//! What the specifications say (PyPA "Simple repository API", from PEP 503, 592, 629, 691, 700):
//! - the project URL holds the PEP 503 normalised name and ends with `/`;
//! - the format is chosen by content negotiation on `Accept`; a server that cannot serve JSON
//!   may answer 406, or pick another type (HTML): both mean "read the JSON API instead" here;
//! - `meta.api-version` is `Major.Minor` (PEP 629): another major version is not understood;
//!   1.1 (PEP 700) added the `versions` list and per-file `upload-time` (UTC, ISO 8601 with a
//!   `Z`); 1.0 has neither, so it cannot age a release and the JSON API is read instead;
//! - `files[].yanked` is absent, a boolean, or a non-empty reason string (PEP 592, PEP 691);
//! - files carry no version field: each belongs to a version of `versions` (PEP 700 requires
//!   it), found from its file name (wheel: `{name}-{version}-...whl`; sdist:
//!   `{name}-{version}.tar.gz`, where legacy names may contain `-`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::Url;
use serde::Deserialize;

use super::{FileFacts, Listing, normalize};
use crate::http::build_url;
use crate::upstream::channels::{ChannelError, Fetcher};
use crate::upstream::version::{Version, VersionScheme};

/// The media type of a version-1 JSON answer (PEP 691).
pub(super) const SIMPLE_JSON: &str = "application/vnd.pypi.simple.v1+json";

/// Extensions of source and legacy distributions whose stem is `{name}-{version}`.
const SDIST_EXTENSIONS: [&str; 6] = [".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar"];

#[derive(Debug, Deserialize)]
struct Detail {
    meta: Meta,
    name: String,
    #[serde(default)]
    versions: Option<Vec<String>>,
    files: Vec<SimpleFile>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    #[serde(rename = "api-version")]
    api_version: String,
}

#[derive(Debug, Deserialize)]
struct SimpleFile {
    filename: String,
    #[serde(default)]
    yanked: serde_json::Value,
    #[serde(rename = "upload-time", default)]
    upload_time: Option<String>,
}

/// A project page, or why it cannot be used.
#[derive(Debug, PartialEq)]
pub(super) enum Answer {
    Listing(Listing),
    /// An API version this reader does not use (another major, or 1.0): read the JSON API.
    Unsupported(String),
}

/// The project's listing, or `None` when the index does not serve the JSON Simple API (the
/// caller reads the JSON API instead).
pub(super) fn fetch(
    fetcher: &Fetcher<'_>,
    index: &Url,
    project: &str,
) -> Result<Option<(Listing, bool)>, ChannelError> {
    let url = build_url(index, &["simple", &normalize(project), ""], &[])
        .map_err(|e| fetcher.invalid(e.to_string()))?;
    let page = match fetcher.page_as(&url, Some(SIMPLE_JSON), |body| parse(body, project)) {
        Ok(page) => page,
        Err(
            e @ (ChannelError::NotFound { .. }
            | ChannelError::NotAcceptable { .. }
            | ChannelError::WrongContentType { .. }),
        ) => {
            tracing::debug!(error = %e, "no JSON Simple API here; reading the JSON API");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    match page.value {
        Answer::Listing(listing) => Ok(Some((listing, page.not_modified))),
        Answer::Unsupported(version) => {
            tracing::debug!(api_version = %version, "Simple API version without versions and upload times; reading the JSON API");
            Ok(None)
        }
    }
}

/// Reads a project page.
pub(super) fn parse(body: &[u8], project: &str) -> Result<Answer, String> {
    let doc: Detail =
        serde_json::from_slice(body).map_err(|e| format!("not a Simple API project page ({e})"))?;
    let (major, minor) = api_version(&doc.meta.api_version)?;
    let Some(versions) = doc.versions.filter(|_| major == 1 && minor >= 1) else {
        return Ok(Answer::Unsupported(doc.meta.api_version));
    };
    let wanted = normalize(project);
    if normalize(&doc.name) != wanted {
        return Err(format!("the page is for {:?}, not {project:?}", doc.name));
    }
    let mut files: BTreeMap<String, Vec<FileFacts>> =
        versions.iter().map(|v| (v.clone(), Vec::new())).collect();
    for file in doc.files {
        let Some(version) = file_version(&file.filename, &wanted, &versions) else {
            tracing::debug!(file = %file.filename, "file matches no listed version; ignored");
            continue;
        };
        let uploaded = file
            .upload_time
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        files
            .entry(version.to_string())
            .or_default()
            .push(FileFacts {
                uploaded,
                yanked: yank_reason(&file.yanked),
            });
    }
    Ok(Answer::Listing(Listing {
        name: doc.name,
        files,
    }))
}

/// `Major.Minor` (PEP 629).
fn api_version(text: &str) -> Result<(u64, u64), String> {
    let parsed = text
        .split_once('.')
        .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)));
    parsed.ok_or_else(|| format!("meta.api-version {text:?} is not Major.Minor"))
}

/// PEP 691: absent or false, not yanked; true or a non-empty string, yanked (with a reason).
fn yank_reason(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Bool(true) => Some(String::new()),
        serde_json::Value::String(reason) if !reason.is_empty() => Some(reason.clone()),
        _ => None,
    }
}

/// Which listed version a file belongs to.
fn file_version<'v>(filename: &str, project: &str, versions: &'v [String]) -> Option<&'v str> {
    let text = version_in_name(filename, project)?;
    // The exact spelling first, then PEP 440 equality (`1.0` = `1.0.0`).
    versions
        .iter()
        .find(|v| **v == text)
        .or_else(|| {
            let wanted = Version::parse(VersionScheme::Pep440, &text)?;
            versions
                .iter()
                .find(|v| Version::parse(VersionScheme::Pep440, v).as_ref() == Some(&wanted))
        })
        .map(String::as_str)
}

/// The version text in a distribution's file name, when its name part is the project's.
fn version_in_name(filename: &str, project: &str) -> Option<String> {
    // Wheels and eggs: `{name}-{version}-...`, the name escaped so that it holds no `-`.
    if let Some(stem) = filename
        .strip_suffix(".whl")
        .or_else(|| filename.strip_suffix(".egg"))
    {
        let mut parts = stem.split('-');
        let name = parts.next()?;
        let version = parts.next()?;
        return (normalize(name) == project).then(|| version.to_string());
    }
    // Source distributions: `{name}-{version}`, where a legacy name may itself hold `-`: the
    // split is where the part before it normalises to the project's name.
    let stem = SDIST_EXTENSIONS
        .iter()
        .find_map(|ext| filename.strip_suffix(ext))?;
    stem.match_indices('-').find_map(|(at, _)| {
        (normalize(&stem[..at]) == project && at + 1 < stem.len())
            .then(|| stem[at + 1..].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(answer: Answer) -> Listing {
        match answer {
            Answer::Listing(l) => l,
            Answer::Unsupported(v) => panic!("unsupported {v}"),
        }
    }

    #[test]
    fn a_project_page_maps_files_to_versions_with_yanks_and_times() {
        let body = br#"{
          "meta": {"api-version": "1.1", "_last-serial": 7},
          "name": "weather-mcp",
          "versions": ["1.0.0", "1.1.0", "2.0"],
          "files": [
            {"filename": "weather_mcp-1.0.0-py3-none-any.whl", "url": "x", "hashes": {},
             "size": 10, "upload-time": "2025-01-02T00:00:00.123456Z"},
            {"filename": "Weather-MCP-1.0.0.tar.gz", "url": "x", "hashes": {}, "size": 10,
             "upload-time": "2025-01-01T00:00:00Z", "yanked": false},
            {"filename": "weather_mcp-1.1.0.tar.gz", "url": "x", "hashes": {}, "size": 10,
             "yanked": "Had a vulnerability"},
            {"filename": "weather_mcp-1.1.0-1-py3-none-any.whl", "url": "x", "hashes": {},
             "size": 10, "yanked": true},
            {"filename": "weather_mcp-2.0.0-py3-none-any.whl", "url": "x", "hashes": {}, "size": 1},
            {"filename": "other-1.0.0.tar.gz", "url": "x", "hashes": {}, "size": 1},
            {"filename": "weather_mcp-1.0.0.win32.exe", "url": "x", "hashes": {}, "size": 1}
          ]
        }"#;
        let got = listing(parse(body, "Weather_MCP").unwrap());
        assert_eq!(got.name, "weather-mcp");
        assert_eq!(got.files.len(), 3);
        let v1 = &got.files["1.0.0"];
        assert_eq!(v1.len(), 2);
        assert_eq!(
            v1[0].uploaded.map(|t| t.to_rfc3339()),
            Some("2025-01-02T00:00:00.123456+00:00".to_string())
        );
        assert!(v1.iter().all(|f| f.yanked.is_none()));
        let v11 = &got.files["1.1.0"];
        assert_eq!(
            v11.iter().map(|f| f.yanked.clone()).collect::<Vec<_>>(),
            [Some("Had a vulnerability".to_string()), Some(String::new())]
        );
        assert_eq!(got.files["2.0"].len(), 1, "2.0.0 is 2.0 under PEP 440");
    }

    #[test]
    fn older_or_other_api_versions_are_unsupported_not_errors() {
        let v10 = br#"{"meta":{"api-version":"1.0"},"name":"p","files":[]}"#;
        assert_eq!(parse(v10, "p").unwrap(), Answer::Unsupported("1.0".into()));
        let v2 = br#"{"meta":{"api-version":"2.0"},"name":"p","versions":[],"files":[]}"#;
        assert_eq!(parse(v2, "p").unwrap(), Answer::Unsupported("2.0".into()));
        let later_minor = br#"{"meta":{"api-version":"1.4"},"name":"p","versions":[],"files":[],
            "project-status":{"status":"active"}}"#;
        assert!(matches!(
            parse(later_minor, "p").unwrap(),
            Answer::Listing(_)
        ));
    }

    #[test]
    fn other_shapes_and_other_projects_are_errors() {
        assert!(parse(b"[]", "p").is_err());
        assert!(
            parse(
                br#"{"meta":{"api-version":"one"},"name":"p","files":[]}"#,
                "p"
            )
            .is_err()
        );
        let other = br#"{"meta":{"api-version":"1.1"},"name":"requests","versions":[],"files":[]}"#;
        assert!(parse(other, "p").is_err());
    }

    #[test]
    fn version_in_file_names_table() {
        let cases = [
            ("weather_mcp-1.0.0-py3-none-any.whl", Some("1.0.0")),
            (
                "weather_mcp-1.0.0-2-cp312-cp312-manylinux_2_17_x86_64.whl",
                Some("1.0.0"),
            ),
            ("Weather.MCP-1.0rc1.tar.gz", Some("1.0rc1")),
            ("weather-mcp-1.0.post1.zip", Some("1.0.post1")),
            ("weather_mcp-0.9-py3.8.egg", Some("0.9")),
            ("weather_mcp-.tar.gz", None),
            ("weatherx-1.0.tar.gz", None),
            ("weather_mcp-1.0.0.exe", None),
        ];
        for (name, expected) in cases {
            assert_eq!(
                version_in_name(name, "weather-mcp").as_deref(),
                expected,
                "{name}"
            );
        }
    }
}
