//! Security advisories against a loopback OSV stand-in that speaks the documented request and
//! response schema (see `osv_support`): the batch split and pagination, detail caching by
//! `modified`, withdrawn advisories, PEP 440 ordering, broken answers and the service down.

mod osv_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone as _, Utc};
use osv_support::FakeOsv;
use serde_json::{Value, json};
use upkeep::advisories::fleet::lookup;
use upkeep::advisories::osv::MAX_PAGE_ROUNDS;
use upkeep::advisories::render::{NoticeView, fix_available_email, pr_section, pr_title};
use upkeep::advisories::{
    AdvisoryReport, Detail, Ecosystem, MemoryVulnCache, OsvClient, PackageQuery, PackageRef,
    ServerQuery, Severity, assess, detect,
};
use upkeep::http::HttpSettings;
use upkeep::pipeline::advisory_batcher::{Batcher, Lookup};

/// Tiny back-offs so the retry tests stay fast.
fn settings() -> HttpSettings {
    HttpSettings {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        max_retries: 2,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
        max_rate_limit_wait: Duration::from_secs(5),
        secondary_min_wait: Duration::from_millis(10),
    }
}

fn client(osv: &FakeOsv) -> OsvClient {
    OsvClient::new(&osv.base(), settings()).unwrap()
}

fn at(hour: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, hour, 0, 0).unwrap()
}

/// An npm record in the shape GitHub's database exports (ECOSYSTEM range, label severity).
fn npm_record(id: &str, package: &str, introduced: &str, fixed: Option<&str>) -> Value {
    let mut events = vec![json!({"introduced": introduced})];
    if let Some(fixed) = fixed {
        events.push(json!({"fixed": fixed}));
    }
    json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": "2026-11-01T10:00:00Z",
        "published": "2026-10-30T10:00:00Z",
        "aliases": [format!("CVE-2026-{}", id.len() * 1000)],
        "summary": format!("Problem {id} in {package}"),
        "details": "Long description in **Markdown**.",
        "affected": [{
            "package": {"ecosystem": "npm", "name": package, "purl": format!("pkg:npm/{package}")},
            "ranges": [{"type": "ECOSYSTEM", "events": events}]
        }],
        "database_specific": {"severity": "HIGH", "github_reviewed": true}
    })
}

fn npm(name: &str) -> PackageRef {
    PackageRef::new(Ecosystem::Npm, name)
}

fn query(package: &PackageRef, version: &str) -> PackageQuery {
    PackageQuery {
        package: package.clone(),
        version: version.to_string(),
    }
}

fn ids(refs: &[upkeep::advisories::osv::VulnRef]) -> Vec<&str> {
    refs.iter().map(|r| r.id.as_str()).collect()
}

fn server(
    name: &str,
    packages: Vec<PackageRef>,
    pinned: &str,
    proposed: Option<&str>,
) -> ServerQuery {
    ServerQuery {
        server: name.to_string(),
        packages,
        pinned: Some(pinned.to_string()),
        proposed: proposed.map(str::to_string),
    }
}

#[test]
fn batch_is_split_at_the_limit_and_every_page_is_followed() {
    let osv = FakeOsv::start();
    for id in ["GHSA-a1", "GHSA-a2", "GHSA-a3"] {
        osv.put(npm_record(id, "pkg-a", "0", None));
    }
    for p in ["b", "c", "d", "e"] {
        osv.put(npm_record(
            &format!("GHSA-{p}1"),
            &format!("pkg-{p}"),
            "0",
            None,
        ));
    }
    osv.set_paging(2, 3000);
    let queries: Vec<PackageQuery> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|p| query(&npm(&format!("pkg-{p}")), "1.0.0"))
        .collect();
    let results = client(&osv)
        .with_batch_limit(2)
        .query_batch(&queries)
        .unwrap();
    assert_eq!(ids(&results[0]), ["GHSA-a1", "GHSA-a2", "GHSA-a3"]);
    for (i, p) in ["b", "c", "d", "e"].iter().enumerate() {
        assert_eq!(ids(&results[i + 1]), [format!("GHSA-{p}1")]);
    }
    let sent = osv.batch_requests();
    let shapes: Vec<Vec<(String, Option<String>)>> = sent
        .iter()
        .map(|r| {
            r.queries()
                .iter()
                .map(|q| {
                    (
                        q["package"]["name"].as_str().unwrap().to_string(),
                        q["page_token"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .collect();
    assert_eq!(
        shapes,
        vec![
            vec![("pkg-a".into(), None), ("pkg-b".into(), None)],
            // Only the query that returned a token is asked again, with that token.
            vec![("pkg-a".into(), Some("cursor-2".into()))],
            vec![("pkg-c".into(), None), ("pkg-d".into(), None)],
            vec![("pkg-e".into(), None)],
        ]
    );
    // The documented request shape: package name and ecosystem, version.
    assert_eq!(
        sent[0].queries()[0],
        json!({"package": {"name": "pkg-a", "ecosystem": "npm"}, "version": "1.0.0"})
    );
}

#[test]
fn a_full_batch_cuts_queries_and_tokens_without_advisories_are_followed() {
    let osv = FakeOsv::start();
    for p in ["x", "y", "z"] {
        for n in 1..=2 {
            osv.put(npm_record(
                &format!("GHSA-{p}{n}"),
                &format!("pkg-{p}"),
                "0",
                None,
            ));
        }
    }
    // The batch is full after 2 advisories: later queries come back with a token and nothing
    // else, as the service answers queries it had not started.
    osv.set_paging(1000, 2);
    let queries: Vec<PackageQuery> = ["x", "y", "z"]
        .iter()
        .map(|p| query(&npm(&format!("pkg-{p}")), "2.0.0"))
        .collect();
    let results = client(&osv).query_batch(&queries).unwrap();
    for (i, p) in ["x", "y", "z"].iter().enumerate() {
        assert_eq!(
            ids(&results[i]),
            [format!("GHSA-{p}1"), format!("GHSA-{p}2")]
        );
    }
    let rounds: Vec<usize> = osv
        .batch_requests()
        .iter()
        .map(|r| r.queries().len())
        .collect();
    assert_eq!(rounds, [3, 2, 1]);
}

#[test]
fn a_thousand_and_one_queries_make_two_requests() {
    let osv = FakeOsv::start();
    osv.put(npm_record("GHSA-last", "p1000", "0", None));
    let queries: Vec<PackageQuery> = (0..=1000)
        .map(|i| query(&npm(&format!("p{i}")), "1.0.0"))
        .collect();
    // The stand-in refuses more than 1,000 queries (400), as the service does.
    let results = client(&osv).query_batch(&queries).unwrap();
    assert_eq!(ids(&results[1000]), ["GHSA-last"]);
    assert!(results[..1000].iter().all(Vec::is_empty));
    let sizes: Vec<usize> = osv
        .batch_requests()
        .iter()
        .map(|r| r.queries().len())
        .collect();
    assert_eq!(sizes, [1000, 1]);
}

#[test]
fn details_are_fetched_once_and_again_only_when_modified() {
    let osv = FakeOsv::start();
    osv.put(npm_record("GHSA-one", "weather", "0", Some("1.5.0")));
    osv.put(npm_record("GHSA-two", "weather", "1.0.0", Some("1.6.0")));
    osv.put(npm_record("GHSA-tool", "toolkit", "0", None));
    let fleet = [
        server("weather", vec![npm("weather")], "1.4.2", Some("1.5.0")),
        // A second server sharing nothing but the service: one batch for both.
        server("tools", vec![npm("toolkit")], "0.3.0", None),
    ];
    let cache = MemoryVulnCache::new();
    let c = client(&osv);
    let first = lookup(&c, &cache, &fleet, at(6)).unwrap();
    assert_eq!(first.detail_fetches, 3);
    assert_eq!(osv.batch_requests().len(), 1);
    let mut fetched = osv.detail_requests();
    fetched.sort();
    assert_eq!(fetched, ["GHSA-one", "GHSA-tool", "GHSA-two"]);
    assert_eq!(cache.len(), 3);

    osv.clear_requests();
    let second = lookup(&c, &cache, &fleet, at(7)).unwrap();
    assert_eq!(second.detail_fetches, 0);
    assert!(osv.detail_requests().is_empty());
    assert_eq!(second.details, first.details);

    osv.clear_requests();
    osv.modify("GHSA-two", "2026-11-26T08:00:00Z", |r| {
        r["summary"] = json!("Updated summary");
    });
    let third = lookup(&c, &cache, &fleet, at(8)).unwrap();
    assert_eq!(osv.detail_requests(), ["GHSA-two"]);
    let Detail::Current(two) = &third.details["GHSA-two"] else {
        panic!("fresh details expected");
    };
    assert_eq!(two.summary.as_deref(), Some("Updated summary"));
    let report = assess(&fleet[0], &["1.5.0".into()], &third);
    assert_eq!(report.fixed_by_proposed, ["GHSA-one"]);
    assert_eq!(report.pinned.len(), 2);
}

#[test]
fn a_withdrawn_advisory_drops_out_and_takes_the_security_prefix_with_it() {
    let osv = FakeOsv::start();
    osv.put(npm_record("GHSA-gone", "weather", "0", Some("1.5.0")));
    let fleet = [server(
        "weather",
        vec![npm("weather")],
        "1.4.2",
        Some("1.5.0"),
    )];
    let cache = MemoryVulnCache::new();
    let c = client(&osv);
    let before = assess(&fleet[0], &[], &lookup(&c, &cache, &fleet, at(6)).unwrap());
    assert!(before.is_security_fix());
    let title = pr_title("Rebuild weather 1.4.2 → 1.5.0", &before);
    assert_eq!(title, "[security] Rebuild weather 1.4.2 → 1.5.0");

    osv.withdraw("GHSA-gone", "2026-11-26T00:00:00Z");
    let answer = lookup(&c, &cache, &fleet, at(7)).unwrap();
    let after = assess(&fleet[0], &[], &answer);
    assert!(after.pinned.is_empty() && after.fixed_by_proposed.is_empty());
    assert!(after.is_current());
    assert_eq!(pr_title(&title, &after), "Rebuild weather 1.4.2 → 1.5.0");
    // The record itself is still served, marked withdrawn, and then affects nothing.
    let (record, _) = c.vuln("GHSA-gone").unwrap();
    assert_eq!(record.withdrawn.as_deref(), Some("2026-11-26T00:00:00Z"));
    assert_eq!(
        upkeep::advisories::ranges::status(&record, &npm("weather"), "1.4.2"),
        upkeep::advisories::ranges::Status::NotAffected
    );
}

/// A PyPI record as the PyPA database exports it: an ECOSYSTEM range and the enumerated
/// affected versions (the stand-in matches PyPI through those, as osv.dev does).
fn pypi_record() -> Value {
    json!({
        "id": "PYSEC-2026-7",
        "modified": "2026-11-02T00:00:00Z",
        "aliases": ["CVE-2026-7777", "GHSA-pppp-qqqq-rrrr"],
        "summary": "Server-side request forgery in the fetch tool",
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": "weather-mcp"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0.post1"}]}],
            "versions": ["0.9", "1.0rc1", "1.0"],
            "ecosystem_specific": {"severity": "MODERATE"}
        }]
    })
}

#[test]
fn pypi_versions_are_ordered_by_pep_440() {
    let osv = FakeOsv::start();
    osv.put(pypi_record());
    let package = PackageRef::new(Ecosystem::PyPi, "Weather_MCP");
    let cache = MemoryVulnCache::new();
    let c = client(&osv);
    // 1.0rc1 < 1.0 < 1.0.post1: the final 1.0 is still affected, the post release fixes it.
    let fleet = [server(
        "weather",
        vec![package.clone()],
        "1.0rc1",
        Some("1.0"),
    )];
    let report = assess(
        &fleet[0],
        &["1.0".into(), "1.0.post1".into()],
        &lookup(&c, &cache, &fleet, at(6)).unwrap(),
    );
    assert_eq!(
        osv.batch_requests()[0].queries()[0]["package"]["name"],
        "weather-mcp"
    );
    assert!(report.fixed_by_proposed.is_empty());
    assert_eq!(report.proposed[0].id, "PYSEC-2026-7");
    let pinned = &report.pinned[0];
    assert_eq!(pinned.fix_release.as_deref(), Some("1.0.post1"));
    assert_eq!(pinned.fixed_in, ["1.0.post1"]);
    assert_eq!(pinned.severity, Severity::Medium);
    assert!(report.notes.is_empty(), "{:?}", report.notes);

    let fleet = [server("weather", vec![package], "1.0", Some("1.0.post1"))];
    let report = assess(&fleet[0], &[], &lookup(&c, &cache, &fleet, at(7)).unwrap());
    assert_eq!(report.fixed_by_proposed, ["PYSEC-2026-7"]);
    assert!(report.proposed.is_empty());
}

#[test]
fn the_service_down_keeps_the_last_answer_with_its_age() {
    let mut osv = FakeOsv::start();
    osv.put(npm_record("GHSA-kept", "weather", "0", None));
    let fleet = [server("weather", vec![npm("weather")], "1.4.2", None)];
    let cache = MemoryVulnCache::new();
    let c = client(&osv);
    let good = assess(&fleet[0], &[], &lookup(&c, &cache, &fleet, at(6)).unwrap());
    assert_eq!(good.pinned[0].id, "GHSA-kept");

    // 5xx on every attempt: the shared client retries (2 retries), then the lookup fails.
    osv.clear_requests();
    osv.fail_next(503, 3);
    let err = lookup(&c, &cache, &fleet, at(9)).unwrap_err();
    assert_eq!(osv.batch_requests().len(), 3);
    assert!(format!("{err:#}").contains("503"), "{err:#}");
    let failed = AdvisoryReport::unavailable(Some(&good), &format!("{err:#}"), at(9));
    assert_eq!(failed.pinned, good.pinned);
    let error = failed.error.as_ref().unwrap();
    assert_eq!(error.last_known_at, Some(at(6)));
    assert_eq!(error.age_seconds, Some(3 * 3600));
    assert!(pr_section(&failed).contains("answer from 3 h ago"));

    // Then down altogether: connections refused, still an error, still the old answer.
    osv.stop();
    let err = lookup(&c, &cache, &fleet, at(12)).unwrap_err();
    let down = AdvisoryReport::unavailable(Some(&failed), &format!("{err:#}"), at(12));
    assert_eq!(down.pinned, good.pinned);
    assert_eq!(down.error.as_ref().unwrap().age_seconds, Some(6 * 3600));
    // Without any earlier answer the state is "unknown", never "no advisories".
    let unknown = AdvisoryReport::unavailable(None, &format!("{err:#}"), at(12));
    assert!(unknown.is_unknown());
    assert!(pr_section(&unknown).contains("Advisories unknown"));
}

#[test]
fn broken_answers_are_errors_never_empty_lists() {
    let osv = FakeOsv::start();
    let c = client(&osv);
    let queries = [query(&npm("weather"), "1.0.0")];
    osv.respond_next(200, "application/json", r#"{"results": []}"#, 1);
    let e = format!("{:#}", c.query_batch(&queries).unwrap_err());
    assert!(e.contains("0 results for 1 queries"), "{e}");
    osv.respond_next(200, "text/html", "<html>proxy login</html>", 1);
    let e = format!("{:#}", c.query_batch(&queries).unwrap_err());
    assert!(e.contains("expected JSON"), "{e}");
    osv.respond_next(
        200,
        "application/json",
        r#"{"results": [{"vulns": [{"id": "../../x"}]}]}"#,
        1,
    );
    let e = format!("{:#}", c.query_batch(&queries).unwrap_err());
    assert!(e.contains("not an advisory id"), "{e}");
    // A token that never ends is cut off, not followed forever.
    let rounds = u32::try_from(MAX_PAGE_ROUNDS).unwrap();
    osv.respond_next(
        200,
        "application/json",
        r#"{"results": [{"next_page_token": "again"}]}"#,
        rounds,
    );
    let e = format!("{:#}", c.query_batch(&queries).unwrap_err());
    assert!(e.contains("still paginating"), "{e}");
    // A record for another id than asked is refused.
    osv.put(npm_record("GHSA-real", "weather", "0", None));
    osv.respond_next(
        200,
        "application/json",
        &npm_record("GHSA-other", "weather", "0", None).to_string(),
        1,
    );
    let e = format!("{:#}", c.vuln("GHSA-real").unwrap_err());
    assert!(e.contains("not \"GHSA-real\""), "{e}");
}

#[test]
fn unreadable_details_keep_the_advisory() {
    let osv = FakeOsv::start();
    osv.put(npm_record("GHSA-cached", "weather", "0", None));
    let fleet = [server(
        "weather",
        vec![npm("weather")],
        "1.4.2",
        Some("1.5.0"),
    )];
    let cache = MemoryVulnCache::new();
    let c = client(&osv);
    lookup(&c, &cache, &fleet, at(6)).unwrap();
    // The record changes and a new one appears, but their details cannot be read.
    osv.modify("GHSA-cached", "2026-11-26T00:00:00Z", |r| {
        r["summary"] = json!("New text")
    });
    osv.put(npm_record("GHSA-new", "weather", "1.0.0", Some("1.5.0")));
    osv.fail_path("/v1/vulns/", 500, 6);
    let answer = lookup(&c, &cache, &fleet, at(7)).unwrap();
    assert!(matches!(
        answer.details["GHSA-cached"],
        Detail::Stale { .. }
    ));
    assert!(matches!(answer.details["GHSA-new"], Detail::Missing { .. }));
    let report = assess(&fleet[0], &["1.5.0".into()], &answer);
    let cached = report
        .pinned
        .iter()
        .find(|a| a.id == "GHSA-cached")
        .unwrap();
    assert_eq!(cached.summary, "Problem GHSA-cached in weather");
    assert!(cached.details_error.is_some());
    let new = report.pinned.iter().find(|a| a.id == "GHSA-new").unwrap();
    assert_eq!(new.severity, Severity::Unknown);
    assert!(new.summary.is_empty());
    // The service said 1.5.0 is not affected by it: the proposed release fixes it.
    assert_eq!(report.fixed_by_proposed, ["GHSA-new"]);
    assert!(pr_section(&report).contains("*(details unavailable)*"));
}

#[test]
fn from_a_repository_to_the_texts() {
    // The whole path the pipeline takes: detect at the pinned commit, one fleet lookup, the
    // decisions, the PR section and the owners' email.
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init_bare(dir.path()).unwrap();
    let mut tb = repo.treebuilder(None).unwrap();
    let manifest = br#"{"name": "weather-mcp", "version": "1.4.2", "license": "MIT"}"#;
    tb.insert("package.json", repo.blob(manifest).unwrap(), 0o100_644)
        .unwrap();
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    let sig = git2::Signature::now("t", "t@example.com").unwrap();
    let commit = repo.commit(None, &sig, &sig, "v1.4.2", &tree, &[]).unwrap();

    let osv = FakeOsv::start();
    let mut record = npm_record("GHSA-wthr-2026-0001", "weather-mcp", "1.2.0", Some("1.5.1"));
    record["summary"] =
        json!("Path traversal in the | read_file | tool [click](https://evil.example)");
    osv.put(record);
    let detection = detect(&repo, commit, &[]).unwrap();
    assert!(detection.version_notes("v1.4.2").is_empty());
    let fleet = [ServerQuery {
        server: "weather-mcp".into(),
        packages: detection.packages_to_query(None),
        pinned: Some("v1.4.2".into()),
        proposed: Some("v1.6.0".into()),
    }];
    let answer = lookup(&client(&osv), &MemoryVulnCache::new(), &fleet, at(6)).unwrap();
    let report = assess(
        &fleet[0],
        &["v1.5.0".into(), "v1.5.1".into(), "v1.6.0".into()],
        &answer,
    );
    assert_eq!(report.fixed_by_proposed, ["GHSA-wthr-2026-0001"]);
    let advisory = &report.pinned[0];
    assert_eq!(advisory.fix_release.as_deref(), Some("v1.5.1"));
    let section = pr_section(&report);
    assert!(
        section.contains("**Security fix.** v1.6.0 fixes 1 advisory"),
        "{section}"
    );
    assert!(
        section.contains("Path traversal in the \\| read\\_file \\| tool \\[click\\]"),
        "{section}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["fixed_by_proposed"], json!(["GHSA-wthr-2026-0001"]));
    assert_eq!(json["pinned"][0]["severity"], "high");
    assert_eq!(json["error"], Value::Null);
    let email = fix_available_email(
        &NoticeView {
            server: "weather-mcp",
            upstream: "https://github.com/example/weather-mcp",
            pinned: "v1.4.2",
            proposed: Some("v1.6.0"),
            pr_url: None,
        },
        advisory,
        "v1.5.1",
    );
    assert!(
        email
            .subject
            .contains("GHSA-wthr-2026-0001 (high), fixed in v1.5.1")
    );
    assert!(
        email
            .text
            .contains("upkeep proposes v1.5.1 as a rebuild PR on its next run")
    );
}

// The run's follow-up lookups (`pipeline::advisory_batcher`): servers whose versions changed
// since their last check ask together.

/// One lookup through `osv` with an in-memory cache, as the run's is through the state's.
fn batch_lookup(osv: &FakeOsv) -> Lookup {
    let (c, cache) = (client(osv), Arc::new(MemoryVulnCache::new()));
    Arc::new(move |queries| lookup(&c, &*cache, queries, at(6)).map_err(|e| format!("{e:#}")))
}

/// `seat` asks about `query` from a blocking thread, as a server's sync does.
async fn ask(
    what: &str,
    seat: upkeep::pipeline::advisory_batcher::Seat,
    query: &ServerQuery,
) -> Result<upkeep::advisories::FleetAnswer, String> {
    let query = query.clone();
    within(what, tokio::task::spawn_blocking(move || seat.ask(query)))
        .await
        .unwrap()
}

/// Gives up instead of hanging when a batch is never sent.
async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer after 60 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_changed_servers_at_concurrency_four_ask_in_a_few_requests_and_each_gets_its_own() {
    let osv = FakeOsv::start();
    for i in 0..10 {
        osv.put(npm_record(
            &format!("GHSA-s{i}"),
            &format!("pkg-{i}"),
            "0",
            None,
        ));
    }
    // A window far longer than the test: only "every server in flight is waiting" sends.
    let batcher = Batcher::spawn(Duration::from_secs(3600), batch_lookup(&osv));
    let permits = Arc::new(tokio::sync::Semaphore::new(4));
    let mut servers = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (batcher, permits) = (batcher.clone(), Arc::clone(&permits));
        servers.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            let seat = batcher.seat();
            // The stages before `security` (fetch, releases, pin) take a while.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let query = server(
                &format!("s{i}"),
                vec![npm(&format!("pkg-{i}"))],
                "1.0.0",
                None,
            );
            let answer = tokio::task::spawn_blocking(move || {
                let answer = seat.ask(query.clone());
                (query, answer, seat)
            });
            let (query, answer, seat) = answer.await.unwrap();
            // The stages after it (judge, the PR) take a while too; the seat is held till the end.
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(seat);
            (query, answer)
        });
    }
    drop(batcher);
    let mut answered = 0;
    while let Some(joined) = within("a server", servers.join_next()).await {
        let (query, answer) = joined.unwrap();
        let answer = answer.unwrap();
        let report = assess(&query, &[], &answer);
        let i = &query.server[1..];
        let ids: Vec<&str> = report.pinned.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, [format!("GHSA-s{i}")], "{}", query.server);
        assert_eq!(answer.matches.len(), 1, "only its own queries");
        assert_eq!(answer.details.len(), 1, "only its own advisories");
        answered += 1;
    }
    assert_eq!(answered, 10);
    let batches = osv.batch_requests();
    // Waves of 4, 4 and 2 servers; one more if a wave's last server started late.
    assert!(
        (3..=4).contains(&batches.len()),
        "{} querybatch requests for 10 servers",
        batches.len()
    );
    let asked: usize = batches.iter().map(|r| r.queries().len()).sum();
    assert_eq!(asked, 10, "every server's query once");
    assert_eq!(
        osv.detail_requests().len(),
        10,
        "each advisory fetched once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alone_a_server_is_answered_at_once_and_beside_a_busy_one_after_the_window() {
    let osv = FakeOsv::start();
    osv.put(npm_record("GHSA-one", "weather", "0", None));
    let query = server("weather", vec![npm("weather")], "1.0.0", None);

    // Concurrency 1: the only server in flight is waiting, so the batch goes at once (a window
    // of an hour would hang the test otherwise).
    let batcher = Batcher::spawn(Duration::from_secs(3600), batch_lookup(&osv));
    let answer = ask("concurrency 1", batcher.seat(), &query).await.unwrap();
    assert_eq!(assess(&query, &[], &answer).pinned[0].id, "GHSA-one");
    assert_eq!(osv.batch_requests().len(), 1);

    // Another server in flight that does not ask (yet): the asker waits the window, no more.
    let window = Duration::from_millis(300);
    let batcher = Batcher::spawn(window, batch_lookup(&osv));
    let (busy, seat) = (batcher.seat(), batcher.seat());
    let started = Instant::now();
    let answer = ask("the window", seat, &query).await.unwrap();
    assert!(started.elapsed() >= window, "it waited for the busy server");
    assert_eq!(assess(&query, &[], &answer).pinned[0].id, "GHSA-one");
    assert_eq!(osv.batch_requests().len(), 2);
    drop(busy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_limit_is_split_and_a_failed_one_is_not_retried_by_the_next_asker() {
    let osv = FakeOsv::start();
    osv.put(npm_record("GHSA-big", "p-b-599", "0", None));
    let batcher = Batcher::spawn(Duration::from_secs(3600), batch_lookup(&osv));
    // Two servers of 600 packages each, asking together: 1,200 queries, two requests.
    let wide = |name: &str| {
        let packages = (0..600).map(|i| npm(&format!("p-{name}-{i}"))).collect();
        server(name, packages, "1.0.0", None)
    };
    let (a, b) = (batcher.seat(), batcher.seat());
    let (qa, qb) = (wide("a"), wide("b"));
    let ask_a = tokio::task::spawn_blocking(move || a.ask(qa));
    let ask_b = tokio::task::spawn_blocking(move || b.ask(qb));
    let (ra, rb) = within("two wide servers", async {
        (ask_a.await.unwrap().unwrap(), ask_b.await.unwrap().unwrap())
    })
    .await;
    assert!(ra.details.is_empty(), "a sees none of b's advisories");
    assert_eq!(rb.details.keys().collect::<Vec<_>>(), ["GHSA-big"]);
    let sizes: Vec<usize> = osv
        .batch_requests()
        .iter()
        .map(|r| r.queries().len())
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 1200, "{sizes:?}");
    assert!(sizes.iter().all(|n| *n <= 1000), "{sizes:?}");

    // The service fails (every retry): that asker gets the error, and the next one gets it at
    // once, without waiting out the retries again.
    osv.clear_requests();
    osv.fail_next(503, 3);
    let query = server("weather", vec![npm("weather")], "1.0.0", None);
    for round in ["first", "next"] {
        let err = ask(round, batcher.seat(), &query).await.unwrap_err();
        assert!(err.contains("503"), "{round}: {err}");
    }
    assert_eq!(osv.batch_requests().len(), 3, "one batch, its 2 retries");
}
