//! The `mcp-registry` channel: `GET {registry}/v0.1/servers/{name}/versions`.
//!
//! Assumed API shape (the registry's generic API spec, OpenAPI `2025-12-01`): the versions
//! endpoint returns a `ServerList`, `{"servers": [{"server": {"name", "version", ...},
//! "_meta": {"io.modelcontextprotocol.registry/official": {"status", "publishedAt",
//! "isLatest", ...}}}], "metadata": {"nextCursor", "count"}}`, newest first, with cursor
//! pagination. `/v0.1` is the path the registry promises to keep stable (`/v0` still evolves).
//! Deleted versions are withheld (the registry already hides them unless asked), so the
//! cross-check calls a tagged one deleted rather than missing; deprecated ones are kept, as
//! they were published. Entries for another name are ignored.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{
    ChannelError, ChannelRelease, Fetcher, Found, MAX_PAGES, Withheld, WithheldReason, base_url,
    scheme_prerelease,
};
use crate::http::build_url;
use crate::upstream::version::{Version, VersionScheme};

/// The `_meta` key of the official registry's own metadata.
const OFFICIAL_META: &str = "io.modelcontextprotocol.registry/official";

#[derive(Debug, Deserialize)]
struct ServerList {
    servers: Vec<ServerResponse>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    #[serde(rename = "nextCursor", default)]
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ServerResponse {
    server: ServerDetail,
    #[serde(rename = "_meta", default)]
    meta: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
struct ServerDetail {
    name: String,
    version: String,
}

#[derive(Debug, Default, Deserialize)]
struct Official {
    #[serde(default)]
    status: Option<String>,
    #[serde(rename = "publishedAt", default)]
    published_at: Option<String>,
}

/// One page: what is on it and the cursor of the next page.
#[derive(Debug, Default)]
pub(super) struct ParsedPage {
    pub releases: Vec<ChannelRelease>,
    pub withheld: Vec<Withheld>,
    pub unparsable: Vec<String>,
    pub next_cursor: Option<String>,
}

pub(super) fn lookup(
    fetcher: &Fetcher<'_>,
    registry: &str,
    server: &str,
    scheme: VersionScheme,
) -> Result<Found, ChannelError> {
    if server.is_empty() {
        return Err(fetcher.invalid("the server name is empty".into()));
    }
    let base = base_url(fetcher, registry)?;
    let segments = ["v0.1", "servers", server, "versions"];
    let mut url = build_url(&base, &segments, &[]).map_err(|e| fetcher.invalid(e.to_string()))?;
    let mut found = Found {
        not_modified: true,
        ..Found::default()
    };
    let mut pages = 0;
    loop {
        if pages == MAX_PAGES {
            tracing::warn!(
                channel = fetcher.channel,
                server,
                pages,
                "stopping at the page cap; older versions are not listed"
            );
            break;
        }
        pages += 1;
        let page = fetcher.page(&url, |body| parse_server_list(body, server, scheme))?;
        found.not_modified &= page.not_modified;
        let parsed = page.value;
        found.releases.extend(parsed.releases);
        found.withheld.extend(parsed.withheld);
        found.unparsable.extend(parsed.unparsable);
        let Some(cursor) = parsed.next_cursor.filter(|c| !c.is_empty()) else {
            break;
        };
        let next = build_url(&base, &segments, &[("cursor", &cursor)])
            .map_err(|e| fetcher.invalid(e.to_string()))?;
        if next == url {
            return Err(fetcher.malformed(url.as_str(), "the next cursor repeats this page".into()));
        }
        url = next;
    }
    Ok(found)
}

/// The versions of `server` on one `ServerList` page.
pub(super) fn parse_server_list(
    body: &[u8],
    server: &str,
    scheme: VersionScheme,
) -> Result<ParsedPage, String> {
    let list: ServerList = serde_json::from_slice(body)
        .map_err(|e| format!("not an MCP Registry server list ({e})"))?;
    let mut out = ParsedPage::default();
    for entry in list.servers {
        if entry.server.name != server {
            tracing::debug!(expected = server, got = %entry.server.name, "ignoring another server's entry");
            continue;
        }
        let official: Official = entry
            .meta
            .as_ref()
            .and_then(|m| m.get(OFFICIAL_META))
            .map(|v| serde_json::from_value(v.clone()))
            .transpose()
            .map_err(|e| format!("bad `{OFFICIAL_META}` metadata for {server} ({e})"))?
            .unwrap_or_default();
        let version = entry.server.version;
        let published_at = official
            .published_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        if official.status.as_deref() == Some("deleted") {
            tracing::debug!(server, version = %version, "deleted registry version withheld");
            out.withheld.push(Withheld::new(
                version,
                WithheldReason::Deleted,
                None,
                published_at,
                scheme,
            ));
            continue;
        }
        if Version::parse(scheme, &version).is_none() {
            tracing::debug!(server, version = %version, "registry version does not parse under the scheme; skipped");
            out.unparsable.push(version);
            continue;
        }
        out.releases.push(ChannelRelease {
            prerelease: scheme_prerelease(scheme, &version),
            published_at,
            version,
            tag: None,
            notes: None,
            url: None,
        });
    }
    out.next_cursor = list.metadata.and_then(|m| m.next_cursor);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_with_metadata_deleted_withheld_and_cursor_read() {
        let body = br#"{
          "servers": [
            {"server": {"name": "io.github.acme/weather", "version": "1.2.0", "description": "x"},
             "_meta": {"io.modelcontextprotocol.registry/official": {"status": "active", "publishedAt": "2026-01-05T10:00:00.5Z", "isLatest": true}}},
            {"server": {"name": "io.github.acme/weather", "version": "1.1.0"},
             "_meta": {"io.modelcontextprotocol.registry/official": {"status": "deleted", "publishedAt": "2025-12-01T00:00:00Z", "isLatest": false}}},
            {"server": {"name": "io.github.acme/weather", "version": "1.0.0"},
             "_meta": {"io.modelcontextprotocol.registry/official": {"status": "deprecated", "publishedAt": "2025-11-01T00:00:00Z"}}},
            {"server": {"name": "io.github.acme/weather-extra", "version": "9.0.0"}},
            {"server": {"name": "io.github.acme/weather", "version": "0.9.0"}}
          ],
          "metadata": {"count": 5, "nextCursor": "io.github.acme/weather:0.9.0"}
        }"#;
        let page =
            parse_server_list(body, "io.github.acme/weather", VersionScheme::Semver).unwrap();
        let got = &page.releases;
        let versions: Vec<_> = got.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["1.2.0", "1.0.0", "0.9.0"]);
        assert_eq!(
            got[0].published_at.map(|t| t.to_rfc3339()),
            Some("2026-01-05T10:00:00.500+00:00".to_string())
        );
        assert_eq!(got[2].published_at, None, "no _meta, no time");
        assert_eq!(page.withheld.len(), 1);
        assert_eq!(page.withheld[0].version, "1.1.0");
        assert_eq!(page.withheld[0].reason, WithheldReason::Deleted);
        assert_eq!(
            page.next_cursor.as_deref(),
            Some("io.github.acme/weather:0.9.0")
        );
    }

    #[test]
    fn wrong_shapes_are_errors() {
        assert!(parse_server_list(br#"{"servers": {}}"#, "a/b", VersionScheme::Semver).is_err());
        assert!(parse_server_list(br#"[]"#, "a/b", VersionScheme::Semver).is_err());
        let bad_meta = br#"{"servers":[{"server":{"name":"a/b","version":"1.0.0"},
            "_meta":{"io.modelcontextprotocol.registry/official":{"status":7}}}]}"#;
        assert!(parse_server_list(bad_meta, "a/b", VersionScheme::Semver).is_err());
    }
}
