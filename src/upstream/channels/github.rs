//! The `github-releases` channel: `GET {api}/repos/{owner}/{repo}/releases?per_page=100`,
//! following `Link: rel="next"` pages on the same origin only (the client sends the token with
//! every request, so a link to another host must never be followed).
//!
//! Without a token GitHub allows 60 requests an hour per client address, and a `304` answer to
//! a conditional request is free only when the request was authenticated ("Best practices for
//! using the REST API"): see [`super::advice::github_token`] for what `check` says about it.

use chrono::{DateTime, Utc};
use reqwest::Url;
use serde::Deserialize;

use super::{
    ChannelError, ChannelRelease, Fetcher, Found, MAX_PAGES, NOTES_LIMIT, base_url, cap_text,
    scheme_prerelease,
};
use crate::http::build_url;
use crate::upstream::version::VersionScheme;

#[derive(Debug, Deserialize)]
struct GhRelease {
    tag_name: String,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
    published_at: Option<DateTime<Utc>>,
    body: Option<String>,
    html_url: Option<String>,
}

pub(super) fn lookup(
    fetcher: &Fetcher<'_>,
    api_url: &str,
    owner: &str,
    repo: &str,
    scheme: VersionScheme,
) -> Result<Found, ChannelError> {
    if owner.is_empty() || repo.is_empty() {
        return Err(fetcher.invalid("owner and repo must not be empty".into()));
    }
    let api = base_url(fetcher, api_url)?;
    let first = build_url(
        &api,
        &["repos", owner, repo, "releases"],
        &[("per_page", "100")],
    )
    .map_err(|e| fetcher.invalid(e.to_string()))?;
    let mut releases = Vec::new();
    let mut not_modified = true;
    let mut next = Some(first);
    let mut pages = 0;
    while let Some(url) = next.take() {
        if pages == MAX_PAGES {
            tracing::warn!(
                channel = fetcher.channel,
                owner,
                repo,
                pages,
                "stopping at the page cap; older releases are not listed"
            );
            break;
        }
        pages += 1;
        let page = fetcher.page(&url, |body| parse_releases(body, scheme))?;
        not_modified &= page.not_modified;
        releases.extend(page.value);
        if let Some(link) = page.link_next {
            let link_url = Url::parse(&link).map_err(|e| {
                fetcher.malformed(url.as_str(), format!("bad next link {link:?}: {e}"))
            })?;
            if link_url.origin() != api.origin() {
                return Err(fetcher.malformed(
                    url.as_str(),
                    format!(
                        "next-page link points to another origin ({}); not following it with the token",
                        link_url.origin().ascii_serialization()
                    ),
                ));
            }
            next = Some(link_url);
        }
    }
    Ok(Found {
        releases,
        not_modified,
        ..Found::default()
    })
}

/// One page of the releases API, drafts dropped.
pub(super) fn parse_releases(
    body: &[u8],
    scheme: VersionScheme,
) -> Result<Vec<ChannelRelease>, String> {
    let page: Vec<GhRelease> =
        serde_json::from_slice(body).map_err(|e| format!("not a list of GitHub releases ({e})"))?;
    Ok(page
        .into_iter()
        .filter(|r| {
            if r.draft {
                tracing::debug!(tag = %r.tag_name, "skipping draft release");
            }
            !r.draft
        })
        .map(|r| {
            let version = r
                .tag_name
                .strip_prefix('v')
                .unwrap_or(&r.tag_name)
                .to_string();
            ChannelRelease {
                prerelease: r.prerelease || scheme_prerelease(scheme, &version),
                version,
                tag: Some(r.tag_name),
                published_at: r.published_at,
                notes: r
                    .body
                    .filter(|b| !b.trim().is_empty())
                    .map(|b| cap_text(&b, NOTES_LIMIT)),
                url: r.html_url,
            }
        })
        .collect())
}

/// The `rel="next"` target of an RFC 8288 `Link` header: the shared HTTP layer's reading.
pub use crate::http::parse_link_next;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next_table() {
        let cases = [
            (
                r#"<https://api.github.com/repositories/1/releases?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/releases?per_page=100&page=5>; rel="last""#,
                Some("https://api.github.com/repositories/1/releases?per_page=100&page=2"),
            ),
            (
                r#"<https://h/x?page=1>; rel="prev", <https://h/x?page=3>; rel="next""#,
                Some("https://h/x?page=3"),
            ),
            (
                r#"<https://h/x?a=1,2>; rel=next"#,
                Some("https://h/x?a=1,2"),
            ),
            (
                r#"<https://h/x?page=4>; rel="last next""#,
                Some("https://h/x?page=4"),
            ),
            (r#"<https://h/x?page=1>; rel="first""#, None),
            (r#"<https://h/nextpage>; rel="prev""#, None),
            ("", None),
            ("garbage without brackets; rel=next", None),
        ];
        for (header, expected) in cases {
            assert_eq!(parse_link_next(header).as_deref(), expected, "{header}");
        }
    }

    #[test]
    fn releases_page_maps_fields_and_skips_drafts() {
        let body = br#"[
          {"tag_name":"v2.0.0-beta.1","name":"Beta","draft":false,"prerelease":false,
           "published_at":"2026-03-01T10:00:00Z","body":"beta notes","html_url":"https://gh/r/2b"},
          {"tag_name":"v1.9.0","draft":true,"prerelease":false,"published_at":null,"body":"wip"},
          {"tag_name":"1.8.0","draft":false,"prerelease":true,"published_at":"2026-02-01T00:00:00Z",
           "body":"   ","html_url":"https://gh/r/18"}
        ]"#;
        let got = parse_releases(body, VersionScheme::Semver).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].version, "2.0.0-beta.1");
        assert_eq!(got[0].tag.as_deref(), Some("v2.0.0-beta.1"));
        assert!(got[0].prerelease, "semver pre part makes it a prerelease");
        assert_eq!(got[0].notes.as_deref(), Some("beta notes"));
        assert_eq!(got[1].version, "1.8.0");
        assert!(got[1].prerelease, "the channel's own flag");
        assert_eq!(got[1].notes, None, "blank notes are no notes");
        assert_eq!(
            got[1].published_at.map(|t| t.to_rfc3339()),
            Some("2026-02-01T00:00:00+00:00".to_string())
        );
    }

    #[test]
    fn long_notes_are_capped() {
        let notes = "é".repeat(NOTES_LIMIT);
        let body = serde_json::json!([{ "tag_name": "v1.0.0", "body": notes }]).to_string();
        let got = parse_releases(body.as_bytes(), VersionScheme::Semver).unwrap();
        let kept = got[0].notes.as_ref().unwrap();
        assert!(kept.len() <= NOTES_LIMIT && kept.len() > NOTES_LIMIT - 2);
    }

    #[test]
    fn non_list_bodies_are_rejected() {
        assert!(parse_releases(br#"{"message":"Not Found"}"#, VersionScheme::Semver).is_err());
        assert!(parse_releases(b"[{\"name\":\"no tag\"}]", VersionScheme::Semver).is_err());
    }
}
