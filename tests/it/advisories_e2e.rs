//! Security advisories through the real sync against the OSV stand-in (`osv_support`): a
//! pinned release with a published advisory gets a `[security]` PR that leads with the
//! advisory table, the fixing release skips its cooldown, the owners are emailed once, the
//! next run asks the service in one fleet-wide request; the service down is a note, never a
//! failed run.

use serde_json::{Value, json};

use crate::osv_support::FakeOsv;
use crate::support::{ADVISORIES_OFF, MIT, Repo, ServerSpec, Workspace, lockfile, server};

fn package_json(version: &str) -> String {
    format!("{{\n  \"name\": \"weather-mcp\",\n  \"version\": \"{version}\"\n}}\n")
}

/// An npm advisory against weather-mcp, fixed in `fixed`.
pub(crate) fn record(id: &str, fixed: &str) -> Value {
    json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": "2026-11-20T10:00:00Z",
        "published": "2026-11-19T10:00:00Z",
        "aliases": ["CVE-2026-4242"],
        "summary": "Path traversal in the read_file tool",
        "affected": [{
            "package": {"ecosystem": "npm", "name": "weather-mcp"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }],
        "database_specific": {"severity": "HIGH"}
    })
}

/// Upstream v1.0.0 and v1.1.0 of an npm package, the mirror pinned at v1.0.0, advisories
/// looked up at `osv_url`; `release` is the server's release table.
pub(crate) fn world(osv_url: &str, release: &str) -> Workspace {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("upstream.git"));
    let c1 = up.commit(
        &[
            ("LICENSE", Some(MIT)),
            ("package.json", Some(&package_json("1.0.0"))),
        ],
        "Release 1.0.0",
    );
    up.tag("v1.0.0", c1);
    let c2 = up.commit(
        &[("package.json", Some(&package_json("1.1.0")))],
        "fix: path traversal",
    );
    up.tag("v1.1.0", c2);
    let mut mirror = Repo::new(&ws.path("mirror.git"));
    mirror.commit(
        &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.0.0")))],
        "pin",
    );
    ws.write_config(&[ServerSpec::lockfile("weather", &up, &mirror)]);
    ws.edit_config(|c| {
        c.replace(
            ADVISORIES_OFF,
            &format!("[advisories]\nurl = {osv_url:?}\n\n"),
        )
        .replace(
            "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }",
            release,
        )
    });
    ws
}

/// The stand-in with advisory `id` (fixed in 1.1.0), the world looking it up, and its first
/// sync's report (which must succeed).
fn first_sync(id: &str, release: &str) -> (FakeOsv, Workspace, Value) {
    let osv = FakeOsv::start();
    osv.put(record(id, "1.1.0"));
    let ws = world(&osv.base(), release);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    (osv, ws, report)
}

fn advisory_emails(ws: &Workspace) -> Vec<String> {
    ws.emails()
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .filter(|e| e.contains("security advisory"))
        .collect()
}

#[test]
fn an_advisory_against_the_pin_makes_a_security_pr_that_skips_the_cooldown_and_emails_once() {
    // A ten-year cooldown: only a security fix can be proposed now.
    let (osv, ws, report) = first_sync(
        "GHSA-wthr-0001",
        "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\", cooldown = \"3650d\" }",
    );
    let s = server(&report, "weather");
    assert_eq!(s["status"], "pr-opened", "{s}");
    assert_eq!(s["latest"]["version"], "1.1.0");
    let title = s["pull_request"]["title"].as_str().unwrap();
    assert!(title.starts_with("[security] Rebuild weather"), "{title}");
    let labels = s["pull_request"]["labels"].as_array().unwrap();
    assert!(labels.contains(&json!("security")), "{labels:?}");
    let body = s["pull_request"]["body"].as_str().unwrap();
    let table = body
        .find("### Security advisories")
        .expect("the advisory section");
    assert!(
        table < body.find("### License").unwrap(),
        "it leads the body:\n{body}"
    );
    assert!(
        body.contains("GHSA-wthr-0001") && body.contains("CVE-2026-4242"),
        "{body}"
    );
    assert!(
        s["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("without waiting for its cooldown")),
        "{s}"
    );
    let adv = &s["advisories"];
    assert_eq!(adv["pinned"][0]["id"], "GHSA-wthr-0001", "{adv}");
    assert_eq!(adv["fixed_by_proposed"], json!(["GHSA-wthr-0001"]));
    assert!(adv["proposed"].as_array().unwrap().is_empty());
    assert!(adv["error"].is_null());
    let emails = advisory_emails(&ws);
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(emails[0].contains("GHSA-wthr-0001"), "{}", emails[0]);
    assert!(emails[0].contains("To: owner@example.com"), "{}", emails[0]);
    // Told after the stages: the email links the rebuild PR this same run opened.
    let pr_url = s["pull_request"]["url"].as_str().expect("the PR's URL");
    assert!(emails[0].contains(pr_url), "{pr_url} in {}", emails[0]);
    assert!(!emails[0].contains("on its next run"), "{}", emails[0]);

    let status = ws.upkeep(&["status"]);
    assert!(
        status
            .stdout
            .contains("vulnerable: 1 advisory against the pinned release (worst high)"),
        "{}",
        status.stdout
    );
    let json: Value = serde_json::from_str(&ws.upkeep(&["status", "--json"]).stdout).unwrap();
    assert_eq!(json["servers"][0]["advisories"]["state"], "vulnerable");

    // The next run asks the service once for the fleet and tells nobody again.
    osv.clear_requests();
    let (code, report) = ws.sync_with(&["--full"]);
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "weather");
    assert_eq!(s["advisories"]["pinned"][0]["id"], "GHSA-wthr-0001");
    assert_eq!(
        osv.batch_requests().len(),
        1,
        "one querybatch for the fleet"
    );
    assert!(
        osv.detail_requests().is_empty(),
        "details come from the state"
    );
    assert_eq!(advisory_emails(&ws).len(), 1, "once per advisory");
}

#[test]
fn a_quiet_run_still_asks_and_a_withdrawn_advisory_takes_the_security_label_with_it() {
    let (osv, ws, report) = first_sync(
        "GHSA-wthr-0002",
        "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }",
    );
    let s = server(&report, "weather");
    assert!(
        s["pull_request"]["title"]
            .as_str()
            .unwrap()
            .starts_with("[security]"),
        "{s}"
    );

    // Nothing changed upstream: a quiet run, which still asks the service (once, for the
    // fleet) and reports the advisories.
    osv.clear_requests();
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "weather");
    assert!(s["unchanged_since"].is_string(), "a quiet run: {s}");
    assert_eq!(osv.batch_requests().len(), 1);
    assert_eq!(s["advisories"]["pinned"][0]["id"], "GHSA-wthr-0002", "{s}");
    assert_eq!(advisory_emails(&ws).len(), 1);

    // Withdrawn: the next full check drops the prefix and the label; nobody is emailed.
    osv.withdraw("GHSA-wthr-0002", "2026-11-30T10:00:00Z");
    let (code, report) = ws.sync_with(&["--full"]);
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "weather");
    assert!(
        s["advisories"]["pinned"].as_array().unwrap().is_empty(),
        "{s}"
    );
    let title = s["pull_request"]["title"].as_str().unwrap();
    assert!(title.starts_with("Rebuild weather"), "{title}");
    assert!(
        !s["pull_request"]["labels"]
            .as_array()
            .unwrap()
            .contains(&json!("security")),
        "{s}"
    );
    assert_eq!(advisory_emails(&ws).len(), 1);
}

#[test]
fn without_an_advisory_the_cooldown_holds_and_the_pr_is_plain() {
    let osv = FakeOsv::start();
    let ws = world(
        &osv.base(),
        "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\", cooldown = \"3650d\" }",
    );
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "weather");
    assert_eq!(s["status"], "up-to-date", "{s}");
    assert!(
        s["advisories"]["pinned"].as_array().unwrap().is_empty(),
        "{s}"
    );
    assert!(advisory_emails(&ws).is_empty());
}

#[test]
fn the_advisory_service_down_is_a_note_never_a_failed_run() {
    let mut osv = FakeOsv::start();
    let url = osv.base();
    osv.stop();
    let ws = world(
        &url,
        "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }",
    );
    let out = ws.upkeep(&["sync", "--now", "--json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("advisor"),
        "a warning says so:\n{}",
        out.stderr
    );
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let s = server(&report, "weather");
    assert_eq!(s["status"], "pr-opened", "{s}");
    assert!(
        !s["pull_request"]["title"]
            .as_str()
            .unwrap()
            .starts_with("[security]")
    );
    assert!(s["advisories"]["error"]["message"].is_string(), "{s}");
    assert!(
        s["advisories"]["error"]["last_known_at"].is_null(),
        "unknown, not none: {s}"
    );
    assert!(
        s["pull_request"]["body"]
            .as_str()
            .unwrap()
            .contains("Advisories unknown"),
        "{s}"
    );
    let status = ws.upkeep(&["status"]);
    assert!(
        status.stdout.contains("advisories: unknown"),
        "{}",
        status.stdout
    );
}

#[test]
fn ten_new_servers_at_concurrency_four_ask_together_and_each_hears_of_its_own_advisory() {
    let osv = FakeOsv::start();
    let ws = Workspace::new();
    let mut specs = Vec::new();
    for i in 0..10 {
        let package = format!("pkg-{i}");
        let manifest =
            |v: &str| format!("{{\n  \"name\": \"{package}\",\n  \"version\": \"{v}\"\n}}\n");
        let mut up = Repo::new(&ws.path(&format!("up{i}.git")));
        let c1 = up.commit(
            &[
                ("LICENSE", Some(MIT)),
                ("package.json", Some(&manifest("1.0.0"))),
            ],
            "Release 1.0.0",
        );
        up.tag("v1.0.0", c1);
        let c2 = up.commit(&[("package.json", Some(&manifest("1.1.0")))], "fix");
        up.tag("v1.1.0", c2);
        let mut mirror = Repo::new(&ws.path(&format!("mirror{i}.git")));
        mirror.commit(
            &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.0.0")))],
            "pin",
        );
        specs.push(ServerSpec::lockfile(&format!("s{i}"), &up, &mirror));
        let mut advisory = record(&format!("GHSA-flt{i}"), "1.1.0");
        advisory["affected"][0]["package"]["name"] = json!(package);
        osv.put(advisory);
    }
    ws.write_config(&specs);
    // A window longer than the run: only "every server in flight is waiting" sends a batch.
    let osv_url = osv.base();
    ws.edit_config(|c| {
        c.replace(
            ADVISORIES_OFF,
            &format!(
                "[advisories]\nurl = {osv_url:?}\nbatch-window = \"60s\"\n\n[service]\nconcurrency = 4\nper-host-concurrency = 4\n\n"
            ),
        )
    });
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    for i in 0..10 {
        let s = server(&report, &format!("s{i}"));
        assert_eq!(s["status"], "pr-opened", "{s}");
        let pinned: Vec<&str> = s["advisories"]["pinned"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert_eq!(pinned, [format!("GHSA-flt{i}")], "s{i}'s own advisory: {s}");
    }
    // A first check: the fleet request before the servers has nothing to ask, so every server
    // asks from its stage; four run at once, so they ask in waves of 4, 4 and 2.
    let batches = osv.batch_requests();
    assert!(
        (2..=4).contains(&batches.len()),
        "{} querybatch requests for 10 new servers",
        batches.len()
    );
    assert_eq!(advisory_emails(&ws).len(), 10, "one per server's advisory");

    // Nothing changed: the fleet request answers every server.
    osv.clear_requests();
    let (code, report) = ws.sync_with(&["--full"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        osv.batch_requests().len(),
        1,
        "one querybatch for the fleet"
    );
}
