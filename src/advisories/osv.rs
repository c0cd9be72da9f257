//! The OSV API client and its wire shapes (<https://google.github.io/osv.dev/api/>).
//!
//! Two calls: `POST /v1/querybatch` (<https://google.github.io/osv.dev/post-v1-querybatch/>),
//! which answers each query with advisory ids and `modified` times only, in the order asked,
//! and `GET /v1/vulns/{id}` (<https://google.github.io/osv.dev/get-v1-vulns/>) for one
//! advisory in the OSV schema (<https://ossf.github.io/osv-schema/>).
//!
//! A batch holds at most [`BATCH_LIMIT`] queries (the service's documented maximum; more is a
//! 400 "too many queries"), so larger fleets are split. Any result may carry a
//! `next_page_token`: that query is asked again with `page_token` until no token comes back.
//! The service may return a token with no advisories yet (it answered before the query
//! started), so an empty page with a token is followed too. Retries, back-off and
//! `Retry-After` are the shared client's; this module never loops on errors itself.
//!
//! Every failure is an error, never an empty answer: a missing or misshapen result would
//! otherwise read as "no advisories".

use anyhow::{Context as _, anyhow, bail};
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Deserializer, Serialize};

use super::package::PackageRef;
use crate::http::{HttpClient, HttpSettings, Request, build_url, truncate_body};

/// The public OSV API.
pub const DEFAULT_OSV_URL: &str = "https://api.osv.dev";
/// Queries per `querybatch` request: the documented maximum ("a maximum of 1000 package
/// versions", the API's OpenAPI description of `/v1/querybatch`).
pub const BATCH_LIMIT: usize = 1000;
/// Pages followed per batch before giving up: the documented page sizes (1,000 advisories per
/// query, 3,000 per batch) make even a huge answer a few pages; a server that keeps handing
/// out tokens is broken or hostile.
pub const MAX_PAGE_ROUNDS: usize = 50;
/// The documented response size limit over HTTP/1.1 (32 MiB); a bigger body is refused.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Advisory ids longer than this are refused (the service itself refuses ids over 100).
const MAX_ID_LEN: usize = 100;

/// One package at one version, as sent to `querybatch`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PackageQuery {
    pub package: PackageRef,
    /// As sent: the release version without a leading `v`.
    pub version: String,
}

/// An advisory id as `querybatch` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VulnRef {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub modified: String,
}

/// An advisory in the OSV schema: the fields upkeep reads (unknown fields are ignored, as the
/// schema asks of clients reading a newer minor version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vuln {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Set when the advisory was withdrawn: it is then ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub severity: Vec<SeverityScore>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub affected: Vec<Affected>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// `severity[]`: a scoring method and its score (a CVSS vector for the `CVSS_V*` types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityScore {
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub score: String,
}

/// `affected[]`: one package and the versions of it that are affected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<AffectedPackage>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub severity: Vec<SeverityScore>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ranges: Vec<Range>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedPackage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub ecosystem: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
}

/// `affected[].ranges[]`: a timeline of events under an ordering named by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// `SEMVER`, `ECOSYSTEM` or `GIT`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<Event>,
}

/// One event; the schema allows exactly one of the four per object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// A JSON `null` where the schema has a list or a string reads as empty (a proxy or a mirror
/// may write nulls where the service omits the field).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Serialize)]
struct BatchRequest<'a> {
    queries: Vec<QueryBody<'a>>,
}

#[derive(Serialize)]
struct QueryBody<'a> {
    package: PackageBody<'a>,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_token: Option<&'a str>,
}

#[derive(Serialize)]
struct PackageBody<'a> {
    name: &'a str,
    ecosystem: &'static str,
}

#[derive(Deserialize)]
struct BatchResponse {
    results: Vec<BatchResult>,
}

#[derive(Deserialize)]
struct BatchResult {
    #[serde(default, deserialize_with = "null_as_default")]
    vulns: Vec<VulnRef>,
    // The documented JSON name is `next_page_token`; proto3 JSON printers write `nextPageToken`.
    #[serde(default, alias = "nextPageToken")]
    next_page_token: Option<String>,
}

/// The OSV API at one base URL (the public service, a mirror or a proxy).
///
/// Blocking: call it from a blocking thread, never on a tokio worker.
#[derive(Debug, Clone)]
pub struct OsvClient {
    http: HttpClient,
    base: Url,
    batch_limit: usize,
}

impl OsvClient {
    /// A client for the API at `base_url` (e.g. [`DEFAULT_OSV_URL`], or a mirror's URL with a
    /// path prefix) with its own HTTP client.
    ///
    /// # Errors
    /// When the URL is not an http(s) URL or the HTTP client cannot be built.
    pub fn new(base_url: &str, settings: HttpSettings) -> anyhow::Result<OsvClient> {
        OsvClient::with_http(base_url, HttpClient::new(settings, None)?)
    }

    /// A client that sends through an existing HTTP client (shared connection pool).
    ///
    /// # Errors
    /// When the URL is not an http(s) URL.
    pub fn with_http(base_url: &str, http: HttpClient) -> anyhow::Result<OsvClient> {
        let base = Url::parse(base_url.trim().trim_end_matches('/'))
            .with_context(|| format!("the advisory service URL {base_url:?} is not a URL"))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            bail!("the advisory service URL {base_url:?} is not an http(s) URL");
        }
        Ok(OsvClient {
            http,
            base,
            batch_limit: BATCH_LIMIT,
        })
    }

    /// Splits batches at `limit` queries instead of [`BATCH_LIMIT`] (a proxy with a lower
    /// limit; tests). Zero is taken as one.
    #[must_use]
    pub fn with_batch_limit(mut self, limit: usize) -> OsvClient {
        self.batch_limit = limit.clamp(1, BATCH_LIMIT);
        self
    }

    /// The advisories of each query, in the order of `queries`, every page followed.
    ///
    /// # Errors
    /// Any failed request or unexpected answer (after the client's retries): never a partial
    /// answer.
    pub fn query_batch(&self, queries: &[PackageQuery]) -> anyhow::Result<Vec<Vec<VulnRef>>> {
        let mut out: Vec<Vec<VulnRef>> = vec![Vec::new(); queries.len()];
        let url = build_url(&self.base, &["v1", "querybatch"], &[]).map_err(|e| anyhow!("{e}"))?;
        for (chunk_no, chunk) in queries.chunks(self.batch_limit).enumerate() {
            let first = chunk_no * self.batch_limit;
            let mut pending: Vec<(usize, Option<String>)> =
                (first..first + chunk.len()).map(|i| (i, None)).collect();
            let mut rounds = 0;
            while !pending.is_empty() {
                rounds += 1;
                if rounds > MAX_PAGE_ROUNDS {
                    bail!(
                        "POST {url}: still paginating after {MAX_PAGE_ROUNDS} pages; refusing a partial answer"
                    );
                }
                let results = self.post_batch(&url, queries, &pending)?;
                let mut next = Vec::new();
                for ((index, _), result) in pending.iter().zip(results) {
                    for vuln in result.vulns {
                        check_id(&vuln.id).with_context(|| format!("POST {url}"))?;
                        if !out[*index].iter().any(|v| v.id == vuln.id) {
                            out[*index].push(vuln);
                        }
                    }
                    if let Some(token) = result.next_page_token.filter(|t| !t.is_empty()) {
                        next.push((*index, Some(token)));
                    }
                }
                pending = next;
            }
        }
        Ok(out)
    }

    /// One `querybatch` request for the `pending` queries (with their page tokens).
    fn post_batch(
        &self,
        url: &Url,
        queries: &[PackageQuery],
        pending: &[(usize, Option<String>)],
    ) -> anyhow::Result<Vec<BatchResult>> {
        let body = BatchRequest {
            queries: pending
                .iter()
                .map(|(i, token)| QueryBody {
                    package: PackageBody {
                        name: &queries[*i].package.name,
                        ecosystem: queries[*i].package.ecosystem.osv_name(),
                    },
                    version: &queries[*i].version,
                    page_token: token.as_deref(),
                })
                .collect(),
        };
        // A query: it changes nothing, so a timeout or a 5xx may be retried like a GET.
        let request = Request::new(reqwest::Method::POST, url.clone())
            .json(&serde_json::to_value(&body).context("encoding the batch query")?)
            .resend_safe();
        let bytes = self.send(&request)?;
        let response: BatchResponse = serde_json::from_slice(&bytes).map_err(|e| {
            anyhow!(
                "POST {url}: not a querybatch answer ({e}): {}",
                truncate_body(&bytes)
            )
        })?;
        if response.results.len() != pending.len() {
            bail!(
                "POST {url}: {} results for {} queries; the answer cannot be matched to the packages",
                response.results.len(),
                pending.len()
            );
        }
        Ok(response.results)
    }

    /// `GET /v1/vulns/{id}`: the advisory and the body it was read from (for the cache).
    ///
    /// # Errors
    /// A failed request, a body that is not an OSV record, or a record for another id.
    pub fn vuln(&self, id: &str) -> anyhow::Result<(Vuln, Vec<u8>)> {
        check_id(id)?;
        let url = build_url(&self.base, &["v1", "vulns", id], &[]).map_err(|e| anyhow!("{e}"))?;
        let bytes = self.send(&Request::get(url.clone()))?;
        let vuln = parse_vuln(&bytes).with_context(|| format!("GET {url}"))?;
        if vuln.id != id {
            bail!("GET {url}: the record is for {:?}, not {id:?}", vuln.id);
        }
        Ok((vuln, bytes))
    }

    /// Sends through the shared client and checks the body's size and content type.
    fn send(&self, request: &Request) -> anyhow::Result<Vec<u8>> {
        let response = self.http.execute(request).map_err(|e| anyhow!("{e}"))?;
        if response.body.len() > MAX_BODY_BYTES {
            bail!(
                "{} {}: response body of {} bytes is over the {MAX_BODY_BYTES}-byte limit",
                response.method,
                response.url,
                response.body.len()
            );
        }
        // A missing content type is tolerated (the JSON decode still guards); a present one
        // must say JSON, so a proxy's HTML error page is named as such.
        if let Some(content_type) = response.header_str(CONTENT_TYPE.as_str()) {
            let essence = content_type.split(';').next().unwrap_or_default().trim();
            if !(essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")) {
                bail!(
                    "{} {}: expected JSON, got content type {content_type:?}",
                    response.method,
                    response.url
                );
            }
        }
        Ok(response.body)
    }
}

/// Parses an OSV record (from the service or from the cache).
///
/// # Errors
/// When the body is not an OSV record with an id.
pub fn parse_vuln(bytes: &[u8]) -> anyhow::Result<Vuln> {
    let vuln: Vuln = serde_json::from_slice(bytes)
        .map_err(|e| anyhow!("not an OSV record ({e}): {}", truncate_body(bytes)))?;
    check_id(&vuln.id)?;
    Ok(vuln)
}

/// Advisory ids travel into URLs and texts: refuse anything but the id alphabet OSV uses
/// (`GHSA-xxxx-xxxx-xxxx`, `PYSEC-2024-1`, `RUSTSEC-2024-0001`, `GO-2024-1234`, `CVE-…`).
fn check_id(id: &str) -> anyhow::Result<()> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(anyhow!(
            "{:?} is not an advisory id",
            id.chars().take(MAX_ID_LEN).collect::<String>()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisories::package::Ecosystem;

    #[test]
    fn schema_example_parses_and_nulls_read_as_empty() {
        let body = br#"{
          "schema_version": "1.6.0",
          "id": "GHSA-aaaa-bbbb-cccc",
          "modified": "2024-05-01T10:00:00Z",
          "aliases": null,
          "summary": "Path traversal",
          "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
          "affected": [{
            "package": {"ecosystem": "npm", "name": "weather", "purl": "pkg:npm/weather"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.3"}]}],
            "versions": null,
            "future_field": {"ignored": true}
          }],
          "database_specific": {"severity": "HIGH"}
        }"#;
        let v = parse_vuln(body).unwrap();
        assert_eq!(v.id, "GHSA-aaaa-bbbb-cccc");
        assert!(v.aliases.is_empty());
        assert_eq!(
            v.affected[0].ranges[0].events[1].fixed.as_deref(),
            Some("1.2.3")
        );
        assert!(v.affected[0].versions.is_empty());
        assert!(parse_vuln(b"<html>").is_err());
        assert!(parse_vuln(br#"{"id": "../../etc"}"#).is_err());
    }

    #[test]
    fn batch_request_uses_the_documented_field_names() {
        let q = PackageQuery {
            package: PackageRef::new(Ecosystem::PyPi, "Weather_MCP"),
            version: "1.0".into(),
        };
        let body = BatchRequest {
            queries: vec![QueryBody {
                package: PackageBody {
                    name: &q.package.name,
                    ecosystem: q.package.ecosystem.osv_name(),
                },
                version: &q.version,
                page_token: Some("tok"),
            }],
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"queries": [{
                "package": {"name": "weather-mcp", "ecosystem": "PyPI"},
                "version": "1.0",
                "page_token": "tok"
            }]})
        );
        let answer: BatchResponse = serde_json::from_str(
            r#"{"results": [{}, {"vulns": [{"id": "X-1", "modified": "2024-01-01T00:00:00Z"}], "nextPageToken": "t2"}]}"#,
        )
        .unwrap();
        assert!(answer.results[0].vulns.is_empty());
        assert_eq!(answer.results[1].next_page_token.as_deref(), Some("t2"));
    }

    #[test]
    fn ids_are_checked_before_they_reach_a_url() {
        for good in [
            "GHSA-vqj2-4v8m-8vrq",
            "PYSEC-2022-28",
            "GO-2024-0001",
            "OSV-2020-484",
        ] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        for bad in ["", "a/b", "x y", "../x", &"A".repeat(101), "GHSA\n1"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn base_urls_must_be_http() {
        let s = HttpSettings::default();
        assert!(OsvClient::new("https://osv.mirror.example/api/", s.clone()).is_ok());
        assert!(OsvClient::new("file:///tmp/osv", s.clone()).is_err());
        assert!(OsvClient::new("not a url", s).is_err());
    }
}
