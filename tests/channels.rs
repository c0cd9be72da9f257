//! The HTTP release channels against a fake registry on loopback that behaves as each registry
//! documents it (documents modelled on the public docs' examples; content negotiation, ETags,
//! gzip: see `channels_support`), with faults and pagination.

mod channels_support;
#[path = "wait_support/mod.rs"]
mod wait_support;

use std::time::{Duration, Instant};

use channels_support::{DripServer, FakeRegistry, PYPI_SIMPLE_JSON};
use serde_json::json;
use upkeep::http::HttpSettings;
use upkeep::secret::Secret;
use upkeep::upstream::channels::{
    ChannelError, ChannelRelease, ChannelSpec, ConditionalCache, DiscrepancyKind, Lookup,
    LookupOptions, MAX_BODY_BYTES, MemoryCache, NoticeKind, Observation, WithheldReason, lookup,
    observe, verify,
};
use upkeep::upstream::version::VersionScheme;
use wait_support::{CEILING, wait_for};

const TOKEN: &str = "canary-gh-7d2e91";
const GH_PATH: &str = "/repos/acme/weather/releases?per_page=100";
const NPM_PATH: &str = "/@acme%2Fweather";
const PYPI_PATH: &str = "/pypi/weather-mcp/json";
const SIMPLE_PATH: &str = "/simple/weather-mcp/";
const MCP_PATH: &str = "/v0.1/servers/io.github.acme%2Fweather/versions";

/// Tiny backoffs so retry tests stay fast. The timeouts are ceilings for a loaded machine (the
/// slow-drip test sets its own short one: its server never finishes a response).
fn settings() -> HttpSettings {
    HttpSettings {
        timeout: Duration::from_secs(120),
        connect_timeout: Duration::from_secs(120),
        max_retries: 2,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        max_rate_limit_wait: Duration::from_secs(5),
        secondary_min_wait: Duration::from_millis(10),
    }
}

fn github(base: &str) -> ChannelSpec {
    ChannelSpec::GithubReleases {
        api_url: base.to_string(),
        owner: "acme".into(),
        repo: "weather".into(),
        token: Some(Secret::new(TOKEN)),
    }
}

fn npm(base: &str) -> ChannelSpec {
    ChannelSpec::Npm {
        registry: base.to_string(),
        package: "@acme/weather".into(),
        token: None,
    }
}

fn pypi(base: &str) -> ChannelSpec {
    ChannelSpec::Pypi {
        index: base.to_string(),
        project: "weather-mcp".into(),
        username: "__token__".into(),
        token: None,
    }
}

fn mcp(base: &str) -> ChannelSpec {
    ChannelSpec::McpRegistry {
        registry: base.to_string(),
        server: "io.github.acme/weather".into(),
    }
}

fn gh_release(
    tag: &str,
    draft: bool,
    prerelease: bool,
    published: Option<&str>,
) -> serde_json::Value {
    json!({
        "url": format!("https://api.github.example/repos/acme/weather/releases/{tag}"),
        "html_url": format!("https://github.example/acme/weather/releases/tag/{tag}"),
        "id": 1,
        "tag_name": tag,
        "target_commitish": "main",
        "name": format!("Release {tag}"),
        "draft": draft,
        "prerelease": prerelease,
        "created_at": "2026-01-01T00:00:00Z",
        "published_at": published,
        "body": format!("Notes for {tag}"),
        "assets": []
    })
}

fn github_page() -> serde_json::Value {
    json!([
        gh_release("v1.3.0-rc.1", false, true, Some("2026-03-20T00:00:00Z")),
        gh_release("v1.2.0", true, false, None),
        gh_release("v1.1.0", false, false, Some("2026-02-01T12:00:00Z")),
        gh_release("v1.0.0", false, false, Some("2026-01-01T12:00:00Z")),
    ])
}

fn packument() -> serde_json::Value {
    json!({
        "_id": "@acme/weather",
        "name": "@acme/weather",
        "dist-tags": {"latest": "1.1.0", "next": "1.2.0-beta.1"},
        "versions": {
            "1.0.0": {"name": "@acme/weather", "version": "1.0.0", "dist": {"tarball": "t"}},
            "1.0.1": {"name": "@acme/weather", "version": "1.0.1", "deprecated": "accidental publish"},
            "1.1.0": {"name": "@acme/weather", "version": "1.1.0"},
            "1.2.0-beta.1": {"name": "@acme/weather", "version": "1.2.0-beta.1"}
        },
        "time": {
            "created": "2026-01-01T12:00:00.000Z",
            "modified": "2026-03-01T00:00:00.000Z",
            "1.0.0": "2026-01-01T12:00:00.000Z",
            "1.0.1": "2026-01-02T12:00:00.000Z",
            "1.1.0": "2026-02-01T12:00:00.000Z",
            "1.2.0-beta.1": "2026-03-01T00:00:00.000Z"
        }
    })
}

fn pypi_file(name: &str, time: &str, yanked: bool) -> serde_json::Value {
    json!({
        "filename": name,
        "packagetype": "bdist_wheel",
        "upload_time": time.trim_end_matches('Z'),
        "upload_time_iso_8601": time,
        "yanked": yanked,
        "yanked_reason": if yanked { json!("broken") } else { json!(null) }
    })
}

fn pypi_project() -> serde_json::Value {
    json!({
        "info": {"name": "weather-mcp", "version": "1.1.0", "summary": "weather"},
        "last_serial": 42,
        "releases": {
            "1.0.0": [
                pypi_file("weather_mcp-1.0.0-py3-none-any.whl", "2026-01-01T13:00:00.000000Z", false),
                pypi_file("weather_mcp-1.0.0.tar.gz", "2026-01-01T12:00:00.000000Z", false)
            ],
            "1.0.1": [pypi_file("weather_mcp-1.0.1.tar.gz", "2026-01-02T12:00:00.000000Z", true)],
            "1.0.2": [],
            "1.1.0": [pypi_file("weather_mcp-1.1.0.tar.gz", "2026-02-01T12:00:00.000000Z", false)],
            "1.2.0b1": [pypi_file("weather_mcp-1.2.0b1.tar.gz", "2026-03-01T00:00:00.000000Z", false)]
        },
        "urls": []
    })
}

/// The Simple API project page (PEP 691 + PEP 700, API 1.1) with the same releases as
/// [`pypi_project`]: files map to versions by their names; 1.0.1's only file is yanked.
fn pypi_simple_page() -> serde_json::Value {
    let file = |name: &str, time: &str, yanked: serde_json::Value| {
        json!({
            "filename": name,
            "url": format!("https://files.example/{name}"),
            "hashes": {"sha256": "00"},
            "requires-python": ">=3.10",
            "size": 1234,
            "upload-time": time,
            "yanked": yanked,
            "core-metadata": false
        })
    };
    json!({
        "meta": {"api-version": "1.1", "_last-serial": 42},
        "name": "weather-mcp",
        "versions": ["1.0.0", "1.0.1", "1.1.0", "1.2.0b1"],
        "files": [
            file("weather_mcp-1.0.0-py3-none-any.whl", "2026-01-01T13:00:00.000000Z", json!(false)),
            file("weather_mcp-1.0.0.tar.gz", "2026-01-01T12:00:00.000000Z", json!(false)),
            file("weather_mcp-1.0.1.tar.gz", "2026-01-02T12:00:00.000000Z", json!("broken")),
            file("weather_mcp-1.1.0.tar.gz", "2026-02-01T12:00:00.000000Z", json!(false)),
            file("weather_mcp-1.2.0b1.tar.gz", "2026-03-01T00:00:00.000000Z", json!(false))
        ]
    })
}

fn mcp_entry(version: &str, status: &str, published: &str, latest: bool) -> serde_json::Value {
    json!({
        "server": {
            "$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
            "name": "io.github.acme/weather",
            "description": "Weather forecasts",
            "version": version,
            "packages": [{"registryType": "npm", "identifier": "@acme/weather", "version": version}]
        },
        "_meta": {
            "io.modelcontextprotocol.registry/official": {
                "status": status,
                "publishedAt": published,
                "updatedAt": published,
                "isLatest": latest
            }
        }
    })
}

fn mcp_page(entries: Vec<serde_json::Value>, next: Option<&str>) -> serde_json::Value {
    let count = entries.len();
    json!({"servers": entries, "metadata": {"count": count, "nextCursor": next}})
}

/// A fake serving the same releases on all four channels.
fn registry_with_all() -> FakeRegistry {
    let fake = FakeRegistry::start();
    fake.json(GH_PATH, &github_page());
    fake.npm(NPM_PATH, &packument());
    fake.pypi_simple(SIMPLE_PATH, &pypi_simple_page());
    fake.json(PYPI_PATH, &pypi_project());
    fake.json(
        MCP_PATH,
        &mcp_page(
            vec![
                mcp_entry("1.1.0", "active", "2026-02-01T12:00:00Z", true),
                mcp_entry("1.0.1", "deleted", "2026-01-02T12:00:00Z", false),
                mcp_entry("1.0.0", "deprecated", "2026-01-01T12:00:00Z", false),
            ],
            None,
        ),
    );
    fake
}

fn all_specs(base: &str) -> Vec<(ChannelSpec, VersionScheme)> {
    vec![
        (github(base), VersionScheme::Semver),
        (npm(base), VersionScheme::Semver),
        (pypi(base), VersionScheme::Pep440),
        (mcp(base), VersionScheme::Semver),
    ]
}

fn versions(lookup: &Lookup) -> Vec<&str> {
    lookup.releases.iter().map(|r| r.version.as_str()).collect()
}

fn time(release: &ChannelRelease) -> Option<String> {
    release.published_at.map(|t| t.to_rfc3339())
}

fn observe_with(
    spec: &ChannelSpec,
    scheme: VersionScheme,
    dist_tag: Option<&str>,
    cache: &MemoryCache,
) -> Result<Observation, ChannelError> {
    let options = LookupOptions {
        scheme,
        dist_tag: dist_tag.map(String::from),
    };
    observe(spec, &options, &settings(), cache)
}

/// The error of one npm lookup with an empty cache.
fn npm_fails(fake: &FakeRegistry) -> ChannelError {
    lookup(
        &npm(&fake.base()),
        &settings(),
        &MemoryCache::new(),
        VersionScheme::Semver,
    )
    .unwrap_err()
}

/// One lookup with an empty cache, following `latest`.
fn fresh(spec: &ChannelSpec, scheme: VersionScheme) -> Observation {
    observe_with(spec, scheme, None, &MemoryCache::new()).unwrap()
}

fn withheld(observation: &Observation) -> Vec<(&str, WithheldReason)> {
    observation
        .withheld
        .iter()
        .map(|w| (w.version.as_str(), w.reason))
        .collect()
}

#[test]
fn github_releases_skip_drafts_and_keep_tags_notes_and_prerelease_flags() {
    let fake = registry_with_all();
    let cache = MemoryCache::new();
    let got = lookup(
        &github(&fake.base()),
        &settings(),
        &cache,
        VersionScheme::Semver,
    )
    .unwrap();
    assert_eq!(versions(&got), ["1.0.0", "1.1.0", "1.3.0-rc.1"]);
    assert!(!got.not_modified);
    let v110 = &got.releases[1];
    assert_eq!(v110.tag.as_deref(), Some("v1.1.0"));
    assert_eq!(v110.notes.as_deref(), Some("Notes for v1.1.0"));
    assert_eq!(time(v110).as_deref(), Some("2026-02-01T12:00:00+00:00"));
    assert_eq!(
        v110.url.as_deref(),
        Some("https://github.example/acme/weather/releases/tag/v1.1.0")
    );
    assert!(!v110.prerelease && got.releases[2].prerelease);

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.path, "/repos/acme/weather/releases");
    assert_eq!(r.query, "per_page=100");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
    assert!(
        r.header("user-agent")
            .is_some_and(|ua| ua.starts_with("upkeep/"))
    );
    assert_eq!(r.header("if-none-match"), None, "nothing cached yet");
}

#[test]
fn github_follows_link_pages_and_revalidates_every_page() {
    let fake = FakeRegistry::start();
    let page2 = "/repos/acme/weather/releases?per_page=100&page=2";
    fake.json(
        GH_PATH,
        &json!([gh_release(
            "v2.0.0",
            false,
            false,
            Some("2026-03-01T00:00:00Z")
        )]),
    );
    fake.link(
        GH_PATH,
        &format!(
            "<{}{page2}>; rel=\"next\", <{}{page2}>; rel=\"last\"",
            fake.base(),
            fake.base()
        ),
    );
    fake.json(
        page2,
        &json!([gh_release(
            "v1.0.0",
            false,
            false,
            Some("2026-01-01T00:00:00Z")
        )]),
    );
    let cache = MemoryCache::new();

    let first = lookup(
        &github(&fake.base()),
        &settings(),
        &cache,
        VersionScheme::Semver,
    )
    .unwrap();
    assert_eq!(versions(&first), ["1.0.0", "2.0.0"]);
    assert!(!first.not_modified);
    let queries: Vec<_> = fake.requests().into_iter().map(|r| r.query).collect();
    assert_eq!(queries, ["per_page=100", "per_page=100&page=2"]);
    assert_eq!(cache.len(), 2, "each page is cached under its own URL");

    // Unchanged: both pages answer 304 and the next link comes from the cache (a 304 carries no Link).
    fake.reset_counts();
    let second = lookup(
        &github(&fake.base()),
        &settings(),
        &cache,
        VersionScheme::Semver,
    )
    .unwrap();
    assert_eq!(second.releases, first.releases);
    assert!(second.not_modified);
    assert_eq!(fake.full_responses(), 0);
    assert_eq!(fake.not_modified_responses(), 2);
}

#[test]
fn github_refuses_a_next_link_to_another_origin() {
    let fake = FakeRegistry::start();
    fake.json(
        GH_PATH,
        &json!([gh_release(
            "v1.0.0",
            false,
            false,
            Some("2026-01-01T00:00:00Z")
        )]),
    );
    fake.link(
        GH_PATH,
        "<https://collector.invalid/steal?page=2>; rel=\"next\"",
    );
    let err = lookup(
        &github(&fake.base()),
        &settings(),
        &MemoryCache::new(),
        VersionScheme::Semver,
    )
    .unwrap_err();
    assert!(matches!(err, ChannelError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("another origin"), "{err}");
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn npm_proposes_up_to_latest_and_withholds_deprecated_and_next_versions() {
    let fake = registry_with_all();
    let got = fresh(&npm(&fake.base()), VersionScheme::Semver);
    // `latest` is 1.1.0: 1.2.0-beta.1 was published under `next`; 1.0.1 is deprecated.
    assert_eq!(versions(&got.lookup), ["1.0.0", "1.1.0"]);
    assert_eq!(
        withheld(&got),
        [
            ("1.0.1", WithheldReason::Deprecated),
            ("1.2.0-beta.1", WithheldReason::AboveDistTag)
        ]
    );
    assert_eq!(
        got.withheld[0].detail.as_deref(),
        Some("accidental publish")
    );
    assert_eq!(got.withheld[1].detail.as_deref(), Some("`latest` is 1.1.0"));
    assert!(got.notices.is_empty(), "{:?}", got.notices);
    // The full packument was asked for (the abbreviated one has no publish times).
    assert_eq!(
        time(&got.lookup.releases[1]).as_deref(),
        Some("2026-02-01T12:00:00+00:00")
    );
    assert_eq!(got.lookup.releases[0].tag, None);
    let requests = fake.requests();
    assert_eq!(
        requests[0].path, NPM_PATH,
        "a scoped name is one encoded segment"
    );
    assert_eq!(requests[0].header("accept"), Some("application/json"));
    assert_eq!(requests[0].header("authorization"), None);
}

#[test]
fn npm_a_configured_dist_tag_is_followed_and_a_missing_one_is_an_error() {
    let fake = registry_with_all();
    let next = observe_with(
        &npm(&fake.base()),
        VersionScheme::Semver,
        Some("next"),
        &MemoryCache::new(),
    )
    .unwrap();
    assert_eq!(versions(&next.lookup), ["1.0.0", "1.1.0", "1.2.0-beta.1"]);
    assert!(next.lookup.releases[2].prerelease);
    assert_eq!(withheld(&next), [("1.0.1", WithheldReason::Deprecated)]);

    let err = observe_with(
        &npm(&fake.base()),
        VersionScheme::Semver,
        Some("beta"),
        &MemoryCache::new(),
    )
    .unwrap_err();
    assert!(matches!(err, ChannelError::Malformed { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("no dist-tag `beta` (it has: latest, next)"),
        "{err}"
    );
}

#[test]
fn npm_a_latest_moved_back_withholds_what_is_above_and_is_said_once() {
    let fake = FakeRegistry::start();
    let mut doc = packument();
    doc["versions"]["1.2.0"] = json!({"name": "@acme/weather", "version": "1.2.0"});
    doc["time"]["1.2.0"] = json!("2026-03-10T00:00:00.000Z");
    doc["dist-tags"]["latest"] = json!("1.2.0");
    fake.npm(NPM_PATH, &doc);
    let cache = MemoryCache::new();
    let spec = npm(&fake.base());
    let first = observe_with(&spec, VersionScheme::Semver, None, &cache).unwrap();
    assert_eq!(
        versions(&first.lookup),
        ["1.0.0", "1.1.0", "1.2.0-beta.1", "1.2.0"]
    );

    // The publisher rolls back: `npm dist-tag add @acme/weather@1.1.0 latest`.
    doc["dist-tags"]["latest"] = json!("1.1.0");
    fake.npm(NPM_PATH, &doc);
    let rolled_back = observe_with(&spec, VersionScheme::Semver, None, &cache).unwrap();
    assert_eq!(versions(&rolled_back.lookup), ["1.0.0", "1.1.0"]);
    assert!(
        withheld(&rolled_back).contains(&("1.2.0", WithheldReason::AboveDistTag)),
        "{:?}",
        rolled_back.withheld
    );
    let moved: Vec<_> = rolled_back
        .notices
        .iter()
        .filter(|n| n.kind == NoticeKind::DistTagMovedBack)
        .collect();
    assert_eq!(moved.len(), 1, "{:?}", rolled_back.notices);
    assert!(
        moved[0]
            .detail
            .contains("`latest` tag moved back from 1.2.0 to 1.1.0"),
        "{}",
        moved[0].detail
    );

    // Unchanged since: a 304, the same withheld versions, and no second notice.
    let again = observe_with(&spec, VersionScheme::Semver, None, &cache).unwrap();
    assert!(again.lookup.not_modified);
    assert_eq!(again.withheld, rolled_back.withheld);
    assert!(again.notices.is_empty(), "{:?}", again.notices);

    // The cross-check names the tagged 1.2.0 for what it is, never as missing from npm.
    let old = Some(chrono::Utc::now() - chrono::Duration::days(60));
    let tags: Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> = ["1.0.0", "1.1.0", "1.2.0"]
        .iter()
        .map(|v| (v.to_string(), old))
        .collect();
    let stable: Vec<_> = again
        .withheld
        .iter()
        .filter(|w| !w.prerelease)
        .cloned()
        .collect();
    let check = verify(
        "npm",
        &tags,
        &again.lookup.releases,
        &stable,
        VersionScheme::Semver,
        Duration::from_secs(7 * 86_400),
        chrono::Utc::now(),
    );
    let kinds: Vec<_> = check
        .discrepancies
        .iter()
        .map(|d| (d.version.as_str(), d.kind))
        .collect();
    assert_eq!(kinds, [("1.2.0", DiscrepancyKind::AboveDistTag)]);
}

#[test]
fn deprecated_and_yanked_tagged_versions_are_reported_as_such_not_as_missing() {
    let fake = registry_with_all();
    let old = Some(chrono::Utc::now() - chrono::Duration::days(60));
    let tags: Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> = ["1.0.0", "1.0.1", "1.1.0"]
        .iter()
        .map(|v| (v.to_string(), old))
        .collect();
    let week = Duration::from_secs(7 * 86_400);
    for (spec, scheme, kind, words) in [
        (
            npm(&fake.base()),
            VersionScheme::Semver,
            DiscrepancyKind::Deprecated,
            "npm has 1.0.1, deprecated: \"accidental publish\"",
        ),
        (
            pypi(&fake.base()),
            VersionScheme::Pep440,
            DiscrepancyKind::Yanked,
            "pypi has 1.0.1, with every file yanked: \"broken\"",
        ),
    ] {
        let seen = fresh(&spec, scheme);
        // The policy excludes prereleases: from the tags, the releases and the withheld alike.
        let releases: Vec<ChannelRelease> = seen
            .lookup
            .releases
            .into_iter()
            .filter(|r| !r.prerelease)
            .collect();
        let held: Vec<_> = seen
            .withheld
            .into_iter()
            .filter(|w| !w.prerelease)
            .collect();
        let check = verify(
            spec.kind(),
            &tags,
            &releases,
            &held,
            scheme,
            week,
            chrono::Utc::now(),
        );
        assert_eq!(check.discrepancies.len(), 1, "{check:?}");
        assert_eq!(check.discrepancies[0].version, "1.0.1");
        assert_eq!(check.discrepancies[0].kind, kind);
        assert_eq!(check.discrepancies[0].detail, words);
        assert!(check.pending.is_empty());
    }
}

#[test]
fn pypi_reads_the_simple_api_in_json_and_withholds_fully_yanked_versions() {
    let fake = registry_with_all();
    let got = fresh(&pypi(&fake.base()), VersionScheme::Pep440);
    assert_eq!(versions(&got.lookup), ["1.0.0", "1.1.0", "1.2.0b1"]);
    assert_eq!(
        time(&got.lookup.releases[0]).as_deref(),
        Some("2026-01-01T12:00:00+00:00"),
        "the earliest upload of the version's files"
    );
    assert!(got.lookup.releases[2].prerelease);
    assert_eq!(
        got.lookup.releases[1].url,
        Some(format!("{}/project/weather-mcp/1.1.0/", fake.base()))
    );
    assert_eq!(withheld(&got), [("1.0.1", WithheldReason::Yanked)]);
    assert_eq!(got.withheld[0].detail.as_deref(), Some("broken"));
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "the JSON API is not read");
    assert_eq!(requests[0].path, SIMPLE_PATH);
    assert_eq!(requests[0].header("accept"), Some(PYPI_SIMPLE_JSON));
}

#[test]
fn pypi_falls_back_to_the_json_api_where_the_simple_api_has_no_json() {
    let mut v10 = pypi_simple_page();
    v10["meta"]["api-version"] = json!("1.0");
    v10.as_object_mut().unwrap().remove("versions");
    // (what the index does with /simple/, why)
    type Setup = Box<dyn Fn(&FakeRegistry)>;
    let cases: [(&str, Setup); 4] = [
        ("no Simple API at all", Box::new(|_| {})),
        (
            "HTML whatever is asked",
            Box::new(|f| f.pypi_simple_html_only(SIMPLE_PATH, &pypi_simple_page(), false)),
        ),
        (
            "406 for JSON",
            Box::new(|f| f.pypi_simple_html_only(SIMPLE_PATH, &pypi_simple_page(), true)),
        ),
        (
            "API 1.0 without versions or upload times",
            Box::new(move |f| f.pypi_simple(SIMPLE_PATH, &v10)),
        ),
    ];
    for (why, setup) in cases {
        let fake = FakeRegistry::start();
        fake.json(PYPI_PATH, &pypi_project());
        setup(&fake);
        let cache = MemoryCache::new();
        let got = observe_with(&pypi(&fake.base()), VersionScheme::Pep440, None, &cache)
            .unwrap_or_else(|e| panic!("{why}: {e}"));
        assert_eq!(
            versions(&got.lookup),
            ["1.0.0", "1.1.0", "1.2.0b1"],
            "{why}"
        );
        assert_eq!(withheld(&got), [("1.0.1", WithheldReason::Yanked)], "{why}");
        let paths: Vec<_> = fake.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, [SIMPLE_PATH, PYPI_PATH], "{why}");

        // Unchanged: the JSON API answers 304 and the lookup says so.
        let again = observe_with(&pypi(&fake.base()), VersionScheme::Pep440, None, &cache)
            .unwrap_or_else(|e| panic!("{why}: {e}"));
        assert!(again.lookup.not_modified, "{why}");
        assert_eq!(again.lookup.releases, got.lookup.releases, "{why}");
    }
}

#[test]
fn pypi_read_under_semver_names_the_pep440_versions_it_skips() {
    let fake = registry_with_all();
    let got = fresh(&pypi(&fake.base()), VersionScheme::Semver);
    assert_eq!(versions(&got.lookup), ["1.0.0", "1.1.0"]);
    assert_eq!(got.notices.len(), 1, "{:?}", got.notices);
    let notice = &got.notices[0];
    assert_eq!(notice.kind, NoticeKind::Unparsable);
    assert!(
        notice.detail.contains("1.2.0b1") && notice.detail.contains("scheme = \"pep440\""),
        "{}",
        notice.detail
    );
}

#[test]
fn mcp_registry_lists_versions_follows_cursors_and_skips_deleted() {
    let fake = FakeRegistry::start();
    fake.json(
        MCP_PATH,
        &mcp_page(
            vec![
                mcp_entry("1.2.0", "active", "2026-03-01T00:00:00Z", true),
                mcp_entry("1.1.0", "deleted", "2026-02-01T00:00:00Z", false),
            ],
            Some("opaque-cursor-2"),
        ),
    );
    fake.json(
        &format!("{MCP_PATH}?cursor=opaque-cursor-2"),
        &mcp_page(
            vec![mcp_entry(
                "1.0.0",
                "deprecated",
                "2026-01-01T00:00:00Z",
                false,
            )],
            None,
        ),
    );
    let got = lookup(
        &mcp(&fake.base()),
        &settings(),
        &MemoryCache::new(),
        VersionScheme::Semver,
    )
    .unwrap();
    assert_eq!(versions(&got), ["1.0.0", "1.2.0"]);
    assert_eq!(
        time(&got.releases[1]).as_deref(),
        Some("2026-03-01T00:00:00+00:00")
    );
    assert_eq!(fake.requests().len(), 2);
}

#[test]
fn an_unchanged_channel_costs_one_conditional_request() {
    let fake = registry_with_all();
    for (spec, scheme) in all_specs(&fake.base()) {
        fake.reset_counts();
        let cache = MemoryCache::new();
        let first = lookup(&spec, &settings(), &cache, scheme).unwrap();
        assert!(
            !first.not_modified && !first.releases.is_empty(),
            "{}",
            spec.kind()
        );
        let second = lookup(&spec, &settings(), &cache, scheme).unwrap();
        assert!(second.not_modified, "{}", spec.kind());
        assert_eq!(second.releases, first.releases, "{}", spec.kind());
        let requests = fake.requests();
        assert_eq!(requests.len(), 2, "{}", spec.kind());
        assert!(
            requests[1]
                .header("if-none-match")
                .is_some_and(|e| e.ends_with('"')),
            "{}",
            spec.kind()
        );
        assert_eq!(
            fake.full_responses(),
            1,
            "{}: one full response",
            spec.kind()
        );
        assert_eq!(fake.not_modified_responses(), 1, "{}", spec.kind());
    }
}

#[test]
fn a_changed_channel_is_read_again() {
    let fake = registry_with_all();
    let cache = MemoryCache::new();
    let spec = npm(&fake.base());
    let first = lookup(&spec, &settings(), &cache, VersionScheme::Semver).unwrap();
    let mut doc = packument();
    doc["versions"]["1.3.0"] = json!({"name": "@acme/weather", "version": "1.3.0"});
    doc["time"]["1.3.0"] = json!("2026-03-15T00:00:00.000Z");
    doc["dist-tags"]["latest"] = json!("1.3.0");
    fake.npm(NPM_PATH, &doc);
    let second = lookup(&spec, &settings(), &cache, VersionScheme::Semver).unwrap();
    assert!(!second.not_modified);
    assert_eq!(versions(&first), ["1.0.0", "1.1.0"]);
    // `latest` moved up to 1.3.0: the beta published under `next` is below it now.
    assert_eq!(
        versions(&second),
        ["1.0.0", "1.1.0", "1.2.0-beta.1", "1.3.0"]
    );
    // The cache now holds the new body: a third lookup is a 304 with the new list.
    let third = lookup(&spec, &settings(), &cache, VersionScheme::Semver).unwrap();
    assert!(third.not_modified);
    assert_eq!(third.releases, second.releases);
}

#[test]
fn server_errors_are_retried_until_success() {
    let fake = registry_with_all();
    fake.fail_next(500, 2, &[], r#"{"message":"boom"}"#);
    let got = lookup(
        &pypi(&fake.base()),
        &settings(),
        &MemoryCache::new(),
        VersionScheme::Pep440,
    )
    .unwrap();
    assert_eq!(got.releases.len(), 3);
    assert_eq!(fake.requests().len(), 3);
}

#[test]
fn persistent_server_errors_fail_the_lookup() {
    let fake = registry_with_all();
    fake.fail_next(503, 10, &[], r#"{"message":"down"}"#);
    let err = npm_fails(&fake);
    assert!(
        matches!(err, ChannelError::Request { channel: "npm", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(fake.requests().len(), 3, "first attempt plus two retries");
}

#[test]
fn rate_limits_with_retry_after_are_waited_out() {
    let fake = registry_with_all();
    fake.fail_next(
        429,
        1,
        &[("retry-after", "1")],
        r#"{"message":"slow down"}"#,
    );
    let started = Instant::now();
    let got = lookup(
        &mcp(&fake.base()),
        &settings(),
        &MemoryCache::new(),
        VersionScheme::Semver,
    )
    .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(versions(&got), ["1.0.0", "1.1.0"]);
    assert_eq!(fake.requests().len(), 2);
}

#[test]
fn a_rate_limit_longer_than_allowed_is_an_error() {
    let fake = registry_with_all();
    fake.fail_next(429, 1, &[("retry-after", "3600")], r#"{"message":"later"}"#);
    let err = npm_fails(&fake);
    assert!(matches!(err, ChannelError::RateLimited { .. }), "{err}");
}

#[test]
fn a_missing_package_is_an_error_not_an_empty_list() {
    let fake = FakeRegistry::start();
    for (spec, scheme) in all_specs(&fake.base()) {
        let err = lookup(&spec, &settings(), &MemoryCache::new(), scheme).unwrap_err();
        assert!(
            matches!(err, ChannelError::NotFound { .. }),
            "{}: {err}",
            spec.kind()
        );
        assert!(err.to_string().starts_with(spec.kind()), "{err}");
    }
}

#[test]
fn malformed_json_is_an_error_and_is_not_cached() {
    let fake = FakeRegistry::start();
    fake.put(
        NPM_PATH,
        b"{\"name\": \"@acme/weather\", \"versions\": ".to_vec(),
        "application/json",
    );
    // Valid JSON of the wrong shape: a GitHub list where a PyPI document belongs.
    fake.json(PYPI_PATH, &github_page());
    fake.put(MCP_PATH, b"not json at all".to_vec(), "application/json");
    fake.json(
        GH_PATH,
        &json!({"message": "Moved", "documentation_url": "x"}),
    );
    for (spec, scheme) in all_specs(&fake.base()) {
        let cache = MemoryCache::new();
        let err = lookup(&spec, &settings(), &cache, scheme).unwrap_err();
        assert!(
            matches!(err, ChannelError::Malformed { .. }),
            "{}: {err}",
            spec.kind()
        );
        assert!(
            cache.is_empty(),
            "{}: a bad page must not be replayed",
            spec.kind()
        );
    }
}

#[test]
fn an_html_page_is_a_wrong_content_type() {
    let fake = FakeRegistry::start();
    fake.put(
        NPM_PATH,
        b"<html><body>Sign in</body></html>".to_vec(),
        "text/html; charset=utf-8",
    );
    let err = npm_fails(&fake);
    match err {
        ChannelError::WrongContentType { content_type, .. } => {
            assert_eq!(content_type, "text/html; charset=utf-8")
        }
        other => panic!("expected a content-type error, got {other}"),
    }
}

#[test]
fn huge_bodies_are_refused_before_they_are_read() {
    let fake = FakeRegistry::start();
    let mut body = b"{\"name\":\"@acme/weather\",\"pad\":\"".to_vec();
    body.resize(MAX_BODY_BYTES + 1024, b'a');
    body.extend_from_slice(b"\"}");
    fake.put(NPM_PATH, body, "application/json");
    let cache = MemoryCache::new();
    let err = lookup(
        &npm(&fake.base()),
        &settings(),
        &cache,
        VersionScheme::Semver,
    )
    .unwrap_err();
    assert!(matches!(err, ChannelError::TooLarge { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("over the {MAX_BODY_BYTES}-byte limit")),
        "{err}"
    );
    assert!(cache.is_empty());
    assert_eq!(
        fake.requests().len(),
        1,
        "the same body is not asked for again"
    );
}

#[test]
fn an_endless_body_is_refused_while_it_streams() {
    let fake = FakeRegistry::start();
    fake.endless(NPM_PATH, "application/json");
    let started = Instant::now();
    let err = npm_fails(&fake);
    // Reading the whole body first would never end (the timeout would fire instead).
    assert!(matches!(err, ChannelError::TooLarge { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.requests().len(), 1, "not retried");
    // The server stopped soon after the limit: what it produced is the limit plus what the
    // socket buffers held when the client hung up.
    let streamed = fake.streamed_bytes();
    assert!(
        streamed > MAX_BODY_BYTES as u64 && streamed < 2 * MAX_BODY_BYTES as u64,
        "streamed {streamed} bytes"
    );
}

#[test]
fn a_gzip_bomb_is_refused_at_the_size_it_expands_to() {
    let fake = FakeRegistry::start();
    let expanded = vec![b' '; MAX_BODY_BYTES + 1024 * 1024];
    let bomb = channels_support::gzip(&expanded);
    assert!(bomb.len() < 1024 * 1024, "{} bytes compressed", bomb.len());
    fake.gzipped(NPM_PATH, bomb, "application/json");
    let err = npm_fails(&fake);
    assert!(matches!(err, ChannelError::TooLarge { .. }), "{err}");
}

#[test]
fn gzip_bodies_are_accepted_and_revalidated_with_their_weak_etags() {
    let fake = registry_with_all();
    for (spec, scheme) in all_specs(&fake.base()) {
        fake.reset_counts();
        let cache = MemoryCache::new();
        let first = lookup(&spec, &settings(), &cache, scheme).unwrap();
        assert!(!first.releases.is_empty(), "{}", spec.kind());
        let second = lookup(&spec, &settings(), &cache, scheme).unwrap();
        assert!(second.not_modified, "{}", spec.kind());
        let requests = fake.requests();
        assert!(
            requests[0]
                .header("accept-encoding")
                .is_some_and(|e| e.contains("gzip")),
            "{}: {:?}",
            spec.kind(),
            requests[0].headers
        );
        assert_eq!(fake.gzip_responses(), 1, "{}", spec.kind());
        assert!(
            requests[1]
                .header("if-none-match")
                .is_some_and(|e| e.starts_with("W/\"")),
            "{}: the gzip answer's weak ETag is sent back",
            spec.kind()
        );
    }
}

#[test]
fn github_conditional_requests_carry_the_token_and_the_budget_is_read() {
    let fake = registry_with_all();
    fake.always_send("x-ratelimit-limit", "5000");
    fake.always_send("x-ratelimit-remaining", "4321");
    fake.always_send("x-ratelimit-reset", "1775000000");
    let cache = MemoryCache::new();
    let spec = github(&fake.base());
    observe_with(&spec, VersionScheme::Semver, None, &cache).unwrap();
    let again = observe_with(&spec, VersionScheme::Semver, None, &cache).unwrap();
    assert!(again.lookup.not_modified);
    let requests = fake.requests();
    let conditional = &requests[1];
    assert!(conditional.header("if-none-match").is_some());
    // A 304 is free against GitHub's limit only for an authenticated request.
    assert_eq!(
        conditional.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let budget = again.rate_limit.expect("the budget headers were read");
    assert_eq!((budget.limit, budget.remaining), (5000, 4321));
    assert_eq!(budget.reset.map(|t| t.timestamp()), Some(1_775_000_000));
    assert!(again.notices.is_empty(), "{:?}", again.notices);

    // Unauthenticated and nearly spent: said in a notice.
    let fake = registry_with_all();
    fake.always_send("x-ratelimit-limit", "60");
    fake.always_send("x-ratelimit-remaining", "2");
    let anonymous = ChannelSpec::GithubReleases {
        api_url: fake.base(),
        owner: "acme".into(),
        repo: "weather".into(),
        token: None,
    };
    let seen = fresh(&anonymous, VersionScheme::Semver);
    assert_eq!(fake.requests()[0].header("authorization"), None);
    assert_eq!(seen.notices.len(), 1, "{:?}", seen.notices);
    assert_eq!(seen.notices[0].kind, NoticeKind::RateLimitLow);
    assert!(
        seen.notices[0].detail.contains("2 of 60 requests left"),
        "{}",
        seen.notices[0].detail
    );
}

#[test]
fn slow_drip_bodies_time_out() {
    // The server drips forever, so each attempt can only end by the client's total timeout:
    // both attempts fail, and the server saw the client hang up on both mid-body.
    let drip = DripServer::start();
    let settings = HttpSettings {
        timeout: Duration::from_secs(1),
        max_retries: 1,
        ..settings()
    };
    let err = lookup(
        &npm(&drip.base()),
        &settings,
        &MemoryCache::new(),
        VersionScheme::Semver,
    )
    .unwrap_err();
    assert!(matches!(err, ChannelError::Request { .. }), "{err}");
    assert!(err.to_string().contains("attempt 2 of 2"), "{err}");
    wait_for(
        "the server to see the client hang up on both responses",
        CEILING,
        || (drip.hung_up() >= 2).then_some(()),
    );
    assert_eq!(drip.hung_up(), 2, "exactly the two attempts");
}

#[test]
fn the_token_never_appears_in_errors() {
    let fake = registry_with_all();
    fake.fail_next(401, 1, &[], r#"{"message":"Bad credentials: {auth}"}"#);
    let err = lookup(
        &github(&fake.base()),
        &settings(),
        &MemoryCache::new(),
        VersionScheme::Semver,
    )
    .unwrap_err();
    assert!(matches!(err, ChannelError::Unauthorized { .. }), "{err}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("<redacted>"), "{text}");

    // A 200 whose (wrong-shaped) body echoes the token is scrubbed too.
    fake.fail_next(200, 1, &[], r#"{"echo":"{auth}"}"#);
    let err = lookup(
        &github(&fake.base()),
        &settings(),
        &MemoryCache::new(),
        VersionScheme::Semver,
    )
    .unwrap_err();
    assert!(matches!(err, ChannelError::Malformed { .. }), "{err}");
    assert!(!format!("{err}").contains(TOKEN), "{err}");
}

#[test]
fn a_foreign_cache_entry_is_ignored_not_trusted() {
    let fake = registry_with_all();
    let cache = MemoryCache::new();
    let url = format!("{}{NPM_PATH}", fake.base());
    // What another writer (or an older upkeep) might have left: an ETag and a raw body.
    cache.put(
        &url,
        "\"whatever\"",
        b"{\"name\":\"@acme/weather\",\"versions\":{}}",
    );
    fake.reset_counts();
    let got = lookup(
        &npm(&fake.base()),
        &settings(),
        &cache,
        VersionScheme::Semver,
    )
    .unwrap();
    assert_eq!(versions(&got), ["1.0.0", "1.1.0"]);
    assert_eq!(fake.requests()[0].header("if-none-match"), None);
    assert_eq!(fake.full_responses(), 1);
}

#[test]
fn bad_settings_are_errors_before_any_request() {
    let err = lookup(
        &ChannelSpec::Npm {
            registry: "not a url".into(),
            package: "x".into(),
            token: None,
        },
        &settings(),
        &MemoryCache::new(),
        VersionScheme::Semver,
    )
    .unwrap_err();
    assert!(
        matches!(err, ChannelError::InvalidSpec { channel: "npm", .. }),
        "{err}"
    );
    let err = lookup(
        &ChannelSpec::Pypi {
            index: "https://pypi.org".into(),
            project: String::new(),
            username: "__token__".into(),
            token: None,
        },
        &settings(),
        &MemoryCache::new(),
        VersionScheme::Pep440,
    )
    .unwrap_err();
    assert!(matches!(err, ChannelError::InvalidSpec { .. }), "{err}");
}
