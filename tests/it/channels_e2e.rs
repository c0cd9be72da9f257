//! Release channels through the real binary: npm as the primary channel with a cooldown and its
//! dist-tags, PyPI through the Simple API, the registry cross-check, conditional requests across
//! runs, and a failed lookup that fails the server instead of looking like "no new release".
//! Versions a registry holds back (deprecated, yanked, above the followed dist-tag) are never
//! proposed, are reported for what they are, and do not keep the quiet path off.

use serde_json::json;

use crate::channels_support::FakeRegistry;
use crate::support::{MIT, Repo, ServerSpec, Workspace, lockfile, server};

/// A packument whose `latest` names the last version given.
fn npm_doc(versions: &[(&str, &str)]) -> serde_json::Value {
    let mut v = serde_json::Map::new();
    let mut t = serde_json::Map::new();
    for (ver, at) in versions {
        v.insert(
            (*ver).into(),
            json!({"name": "weather-mcp", "version": ver}),
        );
        t.insert((*ver).into(), json!(at));
    }
    json!({"name": "weather-mcp", "dist-tags": {"latest": versions.last().unwrap().0}, "versions": v, "time": t})
}

fn notes(s: &serde_json::Value) -> Vec<String> {
    s["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// `(version, kind)` of each cross-check finding of the first channel.
fn findings(s: &serde_json::Value) -> Vec<(String, String)> {
    version_and(s, "discrepancies", "kind")
}

/// `(version, reason)` of each version the first channel holds back.
fn withheld(s: &serde_json::Value) -> Vec<(String, String)> {
    version_and(s, "withheld", "reason")
}

/// `(version, <field>)` of each entry of the first channel's `list`.
fn version_and(s: &serde_json::Value, list: &str, field: &str) -> Vec<(String, String)> {
    s["channels"][0][list]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["version"].as_str().unwrap().to_string(),
                e[field].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// One sync that succeeds; the server's report.
fn sync_ok(w: &World) -> serde_json::Value {
    let (code, report) = w.ws.sync();
    assert_eq!(code, 0, "{report}");
    server(&report, "weather").clone()
}

fn is_quiet(s: &serde_json::Value) -> bool {
    s["unchanged_since"].is_string()
}

/// A PyPI Simple API project page in its JSON form (PEP 691, API version 1.1 with PEP 700's
/// `versions` and `upload-time`); `files` are `(filename, yanked)`, where `yanked` is `false` or
/// the yank reason (PEP 592: a string is a yank with a reason).
fn pypi_page(
    versions: &[&str],
    files: &[(&str, serde_json::Value)],
    uploaded: &str,
) -> serde_json::Value {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|(name, yanked)| {
            json!({"filename": name, "url": format!("/files/{name}"), "hashes": {"sha256": "00"},
                   "size": 10, "upload-time": uploaded, "yanked": yanked})
        })
        .collect();
    json!({"meta": {"api-version": "1.1"}, "name": "weather-mcp", "versions": versions, "files": files})
}

/// PEP 700 `upload-time`: ISO 8601 with a `Z` suffix.
fn pypi_time(days_ago: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days_ago))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

struct World {
    ws: Workspace,
    up: Repo,
    registry: FakeRegistry,
}

fn world(release_table: &str) -> World {
    world_with(release_table, |registry| {
        format!(
            "npm = {{ package = \"weather-mcp\", registry = \"{}\" }}",
            registry
        )
    })
}

/// `channels` makes the `[servers.channels]` entries from the fake registry's base URL.
fn world_with(release_table: &str, channels: impl Fn(&str) -> String) -> World {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("upstream.git"));
    let c1 = up.commit(&[("LICENSE", Some(MIT))], "r1");
    up.tag("v1.0.0", c1);
    let c2 = up.commit(&[("a.txt", Some("2"))], "r2");
    up.tag("v1.1.0", c2);
    let c3 = up.commit(&[("a.txt", Some("3"))], "r3");
    up.tag("v1.2.0", c3);
    let mut mirror = Repo::new(&ws.path("mirror.git"));
    mirror.commit(
        &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.0.0")))],
        "pin",
    );
    let registry = FakeRegistry::start();
    let spec = ServerSpec::lockfile("weather", &up, &mirror);
    ws.write_config(&[spec]);
    // Swap in the release table and the channel settings.
    let config = std::fs::read_to_string(ws.config_path()).unwrap();
    let config = config.replace(
        "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }",
        &format!(
            "{release_table}\n\n[servers.channels]\n{}\n",
            channels(&registry.base())
        ),
    );
    std::fs::write(ws.config_path(), config).unwrap();
    World { ws, up, registry }
}

#[test]
fn npm_as_the_primary_channel_proposes_only_what_it_published_after_the_cooldown() {
    let w = world("release = { channel = \"npm\", tag-pattern = \"^v(.+)$\", cooldown = \"7d\" }");
    let now = chrono::Utc::now();
    let old = (now - chrono::Duration::days(30)).to_rfc3339();
    let fresh = (now - chrono::Duration::hours(2)).to_rfc3339();
    // 1.1.0 is published and old enough; 1.2.0 was published two hours ago.
    w.registry.npm(
        "/weather-mcp",
        &npm_doc(&[("1.0.0", &old), ("1.1.0", &old), ("1.2.0", &fresh)]),
    );
    let s = &sync_ok(&w);
    assert_eq!(s["latest"]["version"], "1.1.0", "{s}");
    assert_eq!(s["pull_request"]["action"], "created");
    assert!(
        s["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("1.2.0 is in its cooldown")),
        "{s}"
    );
    assert_eq!(s["channels"][0]["name"], "npm");
    assert_eq!(s["channels"][0]["ok"], true);

    // The next run revalidates with If-None-Match: one cheap 304, nothing else changes.
    w.registry.reset_counts();
    let (code, report) = w.ws.sync();
    assert_eq!(code, 0);
    let s = server(&report, "weather");
    assert_eq!(s["channels"][0]["not_modified"], true, "{s}");
    assert_eq!(w.registry.not_modified_responses(), 1);
    assert_eq!(w.registry.full_responses(), 0);
    assert_eq!(s["pull_request"]["action"], "unchanged");
    let _ = &w.up;
}

#[test]
fn an_unchanged_registry_answer_is_quiet_and_a_new_publication_is_not() {
    let w = world("release = { channel = \"npm\", tag-pattern = \"^v(.+)$\" }");
    let old = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();
    w.registry.npm(
        "/weather-mcp",
        &npm_doc(&[("1.0.0", &old), ("1.1.0", &old)]),
    );
    let (code, report) = w.ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!(server(&report, "weather")["latest"]["version"], "1.1.0");

    // The registry answers 304 and the tags did not move: the quiet path, one cheap request.
    w.registry.reset_counts();
    let (_, report) = w.ws.sync();
    let s = server(&report, "weather");
    assert!(s["unchanged_since"].is_string(), "{s}");
    assert_eq!(s["channels"][0]["not_modified"], true, "{s}");
    assert_eq!(w.registry.not_modified_responses(), 1);
    assert_eq!(w.registry.full_responses(), 0);

    // 1.2.0 is published (its tag was there all along): the full check updates the PR.
    w.registry.npm(
        "/weather-mcp",
        &npm_doc(&[("1.0.0", &old), ("1.1.0", &old), ("1.2.0", &old)]),
    );
    let (_, report) = w.ws.sync();
    let s = server(&report, "weather");
    assert!(s["unchanged_since"].is_null(), "{s}");
    assert_eq!(s["latest"]["version"], "1.2.0", "{s}");
    assert_eq!(s["pull_request"]["action"], "updated", "{s}");
}

#[test]
fn a_failed_primary_lookup_fails_the_server() {
    let w = world("release = { channel = \"npm\", tag-pattern = \"^v(.+)$\" }");
    w.registry.fail_next(500, 10, &[], "{\"error\":\"down\"}");
    let (code, report) = w.ws.sync();
    assert_eq!(code, 1);
    let s = server(&report, "weather");
    assert_eq!(s["status"], "failed");
    assert!(
        s["error"].as_str().unwrap().contains("release channel npm"),
        "{s}"
    );
    assert!(
        s["pull_request"].is_null(),
        "a failed lookup must not look like no new release"
    );
}

#[test]
fn a_registry_cross_check_reports_versions_without_tags_in_the_report_and_the_pr() {
    let w = world(
        "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\", verify = [\"npm\"] }",
    );
    let old = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();
    // npm has 1.3.0, which no tag carries; 1.2.0 is tagged but missing on npm.
    w.registry.npm(
        "/weather-mcp",
        &npm_doc(&[("1.0.0", &old), ("1.1.0", &old), ("1.3.0", &old)]),
    );
    let s = &sync_ok(&w);
    assert_eq!(s["latest"]["version"], "1.2.0");
    let kinds: Vec<&str> = s["channels"][0]["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"missing-tag"), "{s}");
    let body = s["pull_request"]["body"].as_str().unwrap();
    assert!(body.contains("Release channels disagree"), "{body}");
    assert!(body.contains("1.3.0"), "{body}");
}

#[test]
fn npm_a_version_published_under_next_is_not_proposed() {
    let w = world("release = { channel = \"npm\", tag-pattern = \"^v(.+)$\" }");
    let old = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();
    // 1.2.0 is tagged and published, but with `npm publish --tag next`: `latest` stays 1.1.0.
    let mut doc = npm_doc(&[("1.0.0", &old), ("1.1.0", &old), ("1.2.0", &old)]);
    doc["dist-tags"] = json!({"latest": "1.1.0", "next": "1.2.0"});
    w.registry.npm("/weather-mcp", &doc);
    let s = &sync_ok(&w);
    assert_eq!(s["latest"]["version"], "1.1.0", "{s}");
    assert_eq!(s["channels"][0]["latest"], "1.1.0", "{s}");
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    assert!(
        s["pull_request"]["pin_diff"]
            .as_str()
            .unwrap()
            .contains("v1.1.0"),
        "{s}"
    );
    assert_eq!(s["channels"][0]["dist_tag"], "latest", "{s}");
    assert_eq!(
        withheld(s),
        [("1.2.0".to_string(), "above-dist-tag".to_string())]
    );
    let said =
        "npm holds back 1.2.0 (above the followed dist-tag: \"`latest` is 1.1.0\"): not proposed";
    assert!(notes(s).contains(&said.to_string()), "{s}");

    // A later full check still lists the withheld version, but the note was said once.
    let (code, report) = w.ws.sync_with(&["--full"]);
    assert_eq!(code, 0, "{report}");
    let again = server(&report, "weather");
    assert!(again["unchanged_since"].is_null(), "{again}");
    assert_eq!(
        withheld(again),
        [("1.2.0".to_string(), "above-dist-tag".to_string())]
    );
    assert!(!notes(again).contains(&said.to_string()), "{again}");
}

#[test]
fn npm_following_the_next_dist_tag_proposes_what_next_names() {
    let w = world_with(
        "release = { channel = \"npm\", tag-pattern = \"^v(.+)$\" }",
        |registry| {
            format!(
                "npm = {{ package = \"weather-mcp\", registry = \"{registry}\", dist-tag = \"next\" }}"
            )
        },
    );
    let old = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();
    // The same packument as above: 1.2.0 published with `npm publish --tag next`.
    let mut doc = npm_doc(&[("1.0.0", &old), ("1.1.0", &old), ("1.2.0", &old)]);
    doc["dist-tags"] = json!({"latest": "1.1.0", "next": "1.2.0"});
    w.registry.npm("/weather-mcp", &doc);
    let s = &sync_ok(&w);
    assert_eq!(s["latest"]["version"], "1.2.0", "{s}");
    assert_eq!(s["channels"][0]["dist_tag"], "next", "{s}");
    assert_eq!(s["channels"][0]["latest"], "1.2.0", "{s}");
    assert!(withheld(s).is_empty(), "{s}");
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
}

#[test]
fn npm_latest_moved_back_turns_the_open_pr_to_the_version_it_names() {
    let w = world("release = { channel = \"npm\", tag-pattern = \"^v(.+)$\" }");
    let old = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();
    let mut doc = npm_doc(&[("1.0.0", &old), ("1.1.0", &old), ("1.2.0", &old)]);
    w.registry.npm("/weather-mcp", &doc);
    let (code, report) = w.ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!(server(&report, "weather")["latest"]["version"], "1.2.0");

    // The publisher rolls back: `npm dist-tag add weather-mcp@1.1.0 latest`.
    doc["dist-tags"]["latest"] = json!("1.1.0");
    w.registry.npm("/weather-mcp", &doc);
    let s = &sync_ok(&w);
    assert!(
        s["unchanged_since"].is_null(),
        "a new answer is a full check: {s}"
    );
    assert_eq!(s["latest"]["version"], "1.1.0", "{s}");
    assert_eq!(s["pull_request"]["action"], "updated", "{s}");
    let diff = s["pull_request"]["pin_diff"].as_str().unwrap();
    assert!(
        diff.contains("v1.1.0") && !diff.contains("v1.2.0"),
        "{diff}"
    );
    let title = s["pull_request"]["title"].as_str().unwrap();
    assert!(
        title.contains("1.1.0") && !title.contains("1.2.0"),
        "{title}"
    );
    // Reported: in the notes and as the channel's notice; 1.2.0 is withheld, not proposed.
    let moved = "npm's `latest` tag moved back from 1.2.0 to 1.1.0";
    assert!(notes(s).iter().any(|n| n.starts_with(moved)), "{s}");
    assert_eq!(
        s["channels"][0]["notices"][0]["kind"], "dist-tag-moved-back",
        "{s}"
    );
    assert_eq!(
        withheld(s),
        [("1.2.0".to_string(), "above-dist-tag".to_string())]
    );

    // Said once: the next look at the same packument has nothing to say about it.
    let (_, report) = w.ws.sync();
    let s = server(&report, "weather");
    assert!(!notes(s).iter().any(|n| n.starts_with(moved)), "{s}");
    assert_eq!(s["channels"][0]["notices"], json!([]), "{s}");
    assert_eq!(s["latest"]["version"], "1.1.0", "{s}");
}

#[test]
fn a_deprecated_npm_version_with_a_tag_is_reported_as_deprecated_and_the_quiet_path_holds() {
    let w = world("release = { channel = \"npm\", tag-pattern = \"^v(.+)$\", verify = [\"npm\"] }");
    let old = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();
    let mut doc = npm_doc(&[("1.0.0", &old), ("1.1.0", &old), ("1.2.0", &old)]);
    w.registry.npm("/weather-mcp", &doc);
    let s = &sync_ok(&w);
    assert_eq!(s["latest"]["version"], "1.2.0", "{s}");
    assert!(findings(s).is_empty(), "{s}");
    assert!(is_quiet(server(&w.ws.sync().1, "weather")));

    // `npm deprecate weather-mcp@1.2.0 "<message>"` sets the version's `deprecated` field in
    // the packument and leaves `dist-tags` alone (npm docs, "npm deprecate"; npm/registry,
    // "Package Metadata").
    doc["versions"]["1.2.0"]["deprecated"] = json!("crashes on start; use 1.1.0");
    w.registry.npm("/weather-mcp", &doc);
    let s = &sync_ok(&w);
    assert!(
        !is_quiet(s),
        "a newly deprecated version ends the quiet replay: {s}"
    );
    assert_eq!(s["latest"]["version"], "1.1.0", "not proposed: {s}");
    assert_eq!(s["pull_request"]["action"], "updated", "{s}");
    // Reported once, as what it is: one finding, never "missing in the registry".
    assert_eq!(
        findings(s),
        [("1.2.0".to_string(), "deprecated".to_string())]
    );
    let detail = s["channels"][0]["discrepancies"][0]["detail"]
        .as_str()
        .unwrap();
    assert!(
        detail.contains("deprecated") && detail.contains("crashes on start; use 1.1.0"),
        "{detail}"
    );
    assert_eq!(
        withheld(s),
        [("1.2.0".to_string(), "deprecated".to_string())]
    );
    assert_eq!(
        notes(s).iter().filter(|n| n.contains("1.2.0")).count(),
        0,
        "the finding says it; a note would say it twice: {s}"
    );
    let body = s["pull_request"]["body"].as_str().unwrap();
    assert!(body.contains("crashes on start; use 1.1.0"), "{body}");

    // The finding is stable: the next unchanged run takes the quiet path.
    w.registry.reset_counts();
    let s = &sync_ok(&w);
    assert!(is_quiet(s), "{s}");
    assert_eq!(w.registry.full_responses(), 0);
    assert_eq!(s["latest"]["version"], "1.1.0", "{s}");
}

#[test]
fn a_fully_yanked_pypi_version_with_a_tag_is_reported_as_yanked_and_the_quiet_path_holds() {
    let w = world_with(
        "release = { channel = \"pypi\", tag-pattern = \"^v(.+)$\", scheme = \"pep440\", verify = [\"pypi\"] }",
        |registry| format!("pypi = {{ project = \"weather-mcp\", index = \"{registry}\" }}"),
    );
    // 1.1.0 has one of its two files yanked: still installable, still proposable. Every file
    // of 1.2.0 is yanked, which is what withdraws a version (PEP 592).
    w.registry.pypi_simple(
        "/simple/weather-mcp/",
        &pypi_page(
            &["1.0.0", "1.1.0", "1.2.0"],
            &[
                ("weather_mcp-1.0.0.tar.gz", json!(false)),
                ("weather_mcp-1.1.0.tar.gz", json!(false)),
                (
                    "weather_mcp-1.1.0-py3-none-any.whl",
                    json!("wrong wheel tag"),
                ),
                ("weather_mcp-1.2.0.tar.gz", json!("data loss on upgrade")),
                ("weather_mcp-1.2.0-py3-none-any.whl", json!(true)),
            ],
            &pypi_time(30),
        ),
    );
    let s = &sync_ok(&w);
    assert_eq!(s["latest"]["version"], "1.1.0", "{s}");
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    assert_eq!(findings(s), [("1.2.0".to_string(), "yanked".to_string())]);
    let detail = s["channels"][0]["discrepancies"][0]["detail"]
        .as_str()
        .unwrap();
    assert!(detail.contains("data loss on upgrade"), "{detail}");
    assert_eq!(withheld(s), [("1.2.0".to_string(), "yanked".to_string())]);

    let s = &sync_ok(&w);
    assert!(is_quiet(s), "{s}");
    assert_eq!(findings(s), [("1.2.0".to_string(), "yanked".to_string())]);
}

#[test]
fn pypi_release_candidates_and_post_releases_are_ordered_by_pep440() {
    let mut w = world_with(
        "release = { channel = \"pypi\", tag-pattern = \"^v(.+)$\", scheme = \"pep440\" }",
        |registry| format!("pypi = {{ project = \"weather-mcp\", index = \"{registry}\" }}"),
    );
    for (n, tag) in ["v1.3rc1", "v1.3", "v1.3.post1"].into_iter().enumerate() {
        let c = w.up.commit(&[("a.txt", Some(&format!("1.3-{n}")))], tag);
        w.up.tag(tag, c);
    }
    // Listed out of order on purpose: the index gives no order (PEP 700 `versions` is a set).
    w.registry.pypi_simple(
        "/simple/weather-mcp/",
        &pypi_page(
            &["1.3.post1", "1.0.0", "1.3rc1", "1.3"],
            &[
                ("weather_mcp-1.3.post1.tar.gz", json!(false)),
                ("weather_mcp-1.0.0.tar.gz", json!(false)),
                ("weather_mcp-1.3rc1.tar.gz", json!(false)),
                ("weather_mcp-1.3.tar.gz", json!(false)),
            ],
            &pypi_time(30),
        ),
    );
    let s = &sync_ok(&w);
    // 1.3rc1 < 1.3 < 1.3.post1: the post-release (a packaging fix of 1.3) is the newest.
    assert_eq!(s["latest"]["version"], "1.3.post1", "{s}");
    assert_eq!(s["channels"][0]["latest"], "1.3.post1", "{s}");
    assert!(
        !notes(s).iter().any(|n| n.contains("cannot read")),
        "every version parses under pep440: {s}"
    );
    assert!(
        s["pull_request"]["pin_diff"]
            .as_str()
            .unwrap()
            .contains("v1.3.post1"),
        "{s}"
    );
}

#[test]
fn check_warns_when_a_pypi_channel_is_read_under_semver() {
    let w = world_with(
        "release = { channel = \"pypi\", tag-pattern = \"^v(.+)$\" }",
        |registry| format!("pypi = {{ project = \"weather-mcp\", index = \"{registry}\" }}"),
    );
    let out = w.ws.upkeep(&["check"]);
    assert_eq!(
        out.code, 0,
        "a warning keeps the config valid: {}",
        out.stderr
    );
    assert!(out.stdout.contains("valid, 1 server(s)"), "{}", out.stdout);
    assert!(out.stderr.contains("warning: "), "{}", out.stderr);
    for needle in ["[pypi-scheme]", "`semver`", "1.0rc1", "scheme = \"pep440\""] {
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    }

    // The same channel under pep440: nothing to say.
    w.ws.edit_config(|c| {
        c.replace(
            "tag-pattern = \"^v(.+)$\" }",
            "tag-pattern = \"^v(.+)$\", scheme = \"pep440\" }",
        )
    });
    let out = w.ws.upkeep(&["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

#[test]
fn pypi_as_the_primary_channel_is_read_through_the_simple_api() {
    let w = world_with(
        "release = { channel = \"pypi\", tag-pattern = \"^v(.+)$\", scheme = \"pep440\" }",
        |registry| format!("pypi = {{ project = \"Weather_MCP\", index = \"{registry}\" }}"),
    );
    let old = (chrono::Utc::now() - chrono::Duration::days(30))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let file = |name: &str, yanked: serde_json::Value| {
        json!({"filename": name, "url": format!("/files/{name}"), "hashes": {"sha256": "00"},
               "size": 10, "upload-time": old, "yanked": yanked})
    };
    // 1.2.0 is tagged and was uploaded, then yanked.
    w.registry.pypi_simple(
        "/simple/weather-mcp/",
        &json!({
            "meta": {"api-version": "1.1"},
            "name": "weather-mcp",
            "versions": ["1.0.0", "1.1.0", "1.2.0"],
            "files": [
                file("weather_mcp-1.0.0.tar.gz", json!(false)),
                file("weather_mcp-1.1.0-py3-none-any.whl", json!(false)),
                file("weather_mcp-1.2.0.tar.gz", json!("broken build"))
            ]
        }),
    );
    let s = &sync_ok(&w);
    assert_eq!(s["latest"]["version"], "1.1.0", "{s}");
    assert_eq!(s["channels"][0]["name"], "pypi");
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    let paths: Vec<String> = w.registry.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/simple/weather-mcp/"],
        "the JSON API is not needed"
    );
}
