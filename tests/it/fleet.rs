//! The fleet at a glance (issue 17): a fixture fleet with a server in each state shows how far
//! behind each is and what blocks it, the same in the run report, `status` (JSON and table) and
//! `/metrics` of `serve`.

use std::collections::BTreeMap;

use crate::forge_support::github::FakeGithub;
use crate::forge_support::{FakeCheck, FakeForge as _, FakePrState, TOKEN};
use crate::support::{MIT, Repo, ServerSpec, Workspace, free_port, lockfile, server};

/// An upstream with `tags` (each a commit), and a mirror pinned at `pinned`.
fn released(ws: &Workspace, name: &str, tags: &[&str], pinned: &str) -> (Repo, Repo) {
    let mut up = Repo::new(&ws.path(&format!("{name}-up.git")));
    for (i, tag) in tags.iter().enumerate() {
        let c = up.commit(
            &[
                ("LICENSE", Some(MIT)),
                ("main.py", Some(&format!("print({i})\n"))),
            ],
            &format!("release {tag}"),
        );
        up.tag(tag, c);
    }
    let mut mirror = Repo::new(&ws.path(&format!("{name}-mirror.git")));
    mirror.commit(
        &[("upkeep.lock", Some(&lockfile(&up.url(), pinned)))],
        "pin",
    );
    (up, mirror)
}

/// A license text that needs legal review (a commercial-use clause on top of MIT).
const RELICENSED: &str = "Commercial use of this software requires a separate commercial license from Example Corp.\n\nMIT License\n\nCopyright (c) 2025 Example Authors\n";

struct Fleet {
    ws: Workspace,
    /// Kept so the repositories outlive the test's runs.
    repos: BTreeMap<&'static str, (Repo, Repo)>,
}

/// current (pinned at its newest), behind (two releases, PR open), licensed (held for license
/// review), declined (its PR closed), moved (a release tag re-pointed), failing (no upstream).
fn fleet() -> Fleet {
    let ws = Workspace::new();
    let mut repos = BTreeMap::new();
    repos.insert("current", released(&ws, "current", &["v1.0.0"], "v1.0.0"));
    repos.insert(
        "behind",
        released(&ws, "behind", &["v1.0.0", "v1.1.0", "v1.2.0"], "v1.0.0"),
    );
    let (mut up, mirror) = released(&ws, "licensed", &["v1.0.0"], "v1.0.0");
    let c = up.commit(&[("LICENSE", Some(RELICENSED))], "relicense");
    up.tag("v2.0.0", c);
    repos.insert("licensed", (up, mirror));
    repos.insert(
        "declined",
        released(&ws, "declined", &["v1.0.0", "v1.1.0"], "v1.0.0"),
    );
    repos.insert(
        "moved",
        released(&ws, "moved", &["v1.0.0", "v1.1.0"], "v1.0.0"),
    );
    let mut specs: Vec<ServerSpec> = repos
        .iter()
        .map(|(name, (up, mirror))| ServerSpec::lockfile(name, up, mirror))
        .collect();
    let (up, mirror) = released(&ws, "failing", &["v1.0.0"], "v1.0.0");
    let mut failing = ServerSpec::lockfile("failing", &up, &mirror);
    failing.upstream = format!("file://{}", ws.path("no-such-upstream.git").display());
    specs.push(failing);
    repos.insert("failing", (up, mirror));
    ws.write_config(&specs);
    Fleet { ws, repos }
}

/// Close the declined server's PR (on a local mirror: delete its branch) and re-point the moved
/// server's v1.1.0 tag at a new commit.
fn act_on_the_forge_and_upstream(f: &mut Fleet) {
    let (_, mirror) = &f.repos["declined"];
    mirror
        .repo
        .find_branch("upkeep/declined", git2::BranchType::Local)
        .unwrap()
        .delete()
        .unwrap();
    let (up, _) = f.repos.get_mut("moved").unwrap();
    let c = up.commit(&[("main.py", Some("print('retagged')\n"))], "retag");
    up.tag("v1.1.0", c);
}

#[test]
fn a_fleet_in_every_state_shows_its_freshness_in_the_report_status_and_metrics() {
    let mut f = fleet();
    let (_, report) = f.ws.sync();
    assert_eq!(
        server(&report, "behind")["freshness"]["blocker"],
        "awaiting-merge"
    );
    act_on_the_forge_and_upstream(&mut f);
    let (code, report) = f.ws.sync_with(&["--full"]);
    assert_ne!(code, 0, "the failing server fails the run: {report}");

    // (server, releases behind, blocker)
    let want: &[(&str, u64, Option<&str>)] = &[
        ("current", 0, None),
        ("behind", 2, Some("awaiting-merge")),
        ("licensed", 1, Some("license-review")),
        ("declined", 1, Some("declined")),
        ("moved", 1, Some("moved-tag")),
        ("failing", 0, Some("failing")),
    ];
    for (name, behind, blocker) in want {
        let fr = &server(&report, name)["freshness"];
        assert_eq!(fr["releases_behind"], *behind, "{name}: {fr}");
        assert_eq!(fr["blocker"].as_str(), *blocker, "{name}: {fr}");
    }
    let behind = &server(&report, "behind")["freshness"];
    assert!(behind["behind_since"].is_string(), "{behind}");
    assert!(behind["lag"].as_u64().unwrap() > 0, "{behind}");
    assert!(behind["pr_open_for"].is_u64(), "{behind}");
    let current = &server(&report, "current")["freshness"];
    assert_eq!(current["lag"], 0, "{current}");
    assert!(current["behind_since"].is_null() && current["pr_open_for"].is_null());

    // `status --json` and the table say the same.
    let out = f.ws.upkeep(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for (name, behind, blocker) in want {
        let s = doc["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == *name)
            .unwrap();
        assert_eq!(s["freshness"]["releases_behind"], *behind, "{name}: {s}");
        assert_eq!(s["freshness"]["blocker"].as_str(), *blocker, "{name}: {s}");
    }
    let table = f.ws.upkeep(&["status"]).stdout;
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .contains("BEHIND LAG     BLOCKER"),
        "{table}"
    );
    for (name, behind, blocker) in want {
        let row = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{table}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert!(cols.contains(&behind.to_string().as_str()), "{row}");
        assert!(cols.contains(&blocker.unwrap_or("-")), "{row}");
    }

    // `/metrics` of `serve`, read from the same state.
    let metrics = scrape_metrics(&f.ws);
    for (name, behind, _) in want {
        let line = format!("upkeep_server_releases_behind{{server=\"{name}\"}} {behind}\n");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    assert!(metrics.contains("upkeep_server_lag_seconds{server=\"current\"} 0\n"));
    assert!(metrics.contains("# TYPE upkeep_rebuild_lead_time_seconds histogram"));
}

#[test]
fn a_merged_rebuild_closes_the_lag_and_counts_its_lead_time() {
    let ws = Workspace::new();
    let (up, mirror) = released(&ws, "merged", &["v1.0.0", "v1.1.0"], "v1.0.0");
    ws.write_config(&[ServerSpec::lockfile("merged", &up, &mirror)]);
    let (_, report) = ws.sync();
    let fr = &server(&report, "merged")["freshness"];
    assert_eq!(fr["releases_behind"], 1, "{fr}");
    // Merge: fast-forward main to the bot branch and delete the branch.
    mirror.merge_to_main("upkeep/merged");
    let (code, report) = ws.sync_with(&["--full"]);
    assert_eq!(code, 0, "{report}");
    let fr = &server(&report, "merged")["freshness"];
    assert_eq!(fr["releases_behind"], 0, "{fr}");
    assert_eq!(fr["lag"], 0, "{fr}");
    assert!(fr["blocker"].is_null(), "{fr}");
    let metrics = scrape_metrics(&ws);
    assert!(
        metrics.contains("upkeep_rebuild_lead_time_seconds_count 1\n"),
        "{metrics}"
    );
    // A rerun sees the same merge and counts nothing twice.
    assert_eq!(ws.sync_with(&["--full"]).0, 0);
    assert!(scrape_metrics(&ws).contains("upkeep_rebuild_lead_time_seconds_count 1\n"));
}

/// A server behind for longer than `max-lag` (its releases date from January): the owners are
/// told once, and a rerun in the same period tells nobody again; a server within its own
/// (longer) `max-lag` is not told at all.
#[test]
fn owners_are_told_once_when_a_server_passes_max_lag() {
    let ws = Workspace::new();
    let (up, mirror) = released(&ws, "late", &["v1.0.0", "v1.1.0"], "v1.0.0");
    let (up2, mirror2) = released(&ws, "patient", &["v1.0.0", "v1.1.0"], "v1.0.0");
    ws.write_config(&[
        ServerSpec::lockfile("late", &up, &mirror),
        ServerSpec::lockfile("patient", &up2, &mirror2),
    ]);
    // The default `max-lag` (the support sets one out of the way for other tests), and
    // `patient`, the last entry, with its own at the end of the file.
    ws.edit_config(|text| {
        text.replacen(crate::support::LAG_ALERTS_OFF, "", 1)
            + "\n[servers.freshness]\nmax-lag = \"3650d\"\n"
    });
    let lag_emails = || -> Vec<String> {
        ws.emails()
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .filter(|t| t.contains("behind upstream"))
            .collect()
    };
    let (_, report) = ws.sync();
    let late = &server(&report, "late")["freshness"];
    assert!(late["lag"].as_u64().unwrap() > 14 * 86_400, "{late}");
    let told = lag_emails();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("late: the rebuild is"), "{}", told[0]);
    assert!(!told[0].contains("patient"), "{}", told[0]);
    assert!(told[0].contains("awaiting-merge") || told[0].contains("waits for someone to merge"));
    ws.sync_with(&["--full"]);
    ws.sync();
    assert_eq!(lag_emails().len(), 1, "told once per period");
}

/// A rebuild PR on GitHub whose pipeline fails: the report carries the checks, the owners are
/// told once for that head commit (not again by a rerun, a quiet one included), and the
/// blocker follows the checks; a merge on the forge closes the lag.
#[test]
fn a_failed_pipeline_is_reported_emailed_once_and_blocks_until_green() {
    const TOKEN_ENV: &str = "UPKEEP_TEST_FORGE_TOKEN";
    let mut ws = Workspace::new();
    ws.env.push((TOKEN_ENV.into(), TOKEN.into()));
    let mut up = Repo::new(&ws.path("piped-up.git"));
    let c1 = up.commit(&[("LICENSE", Some(MIT)), ("a.py", Some("1\n"))], "one");
    up.tag("v1.0.0", c1);
    let c2 = up.commit(&[("a.py", Some("2\n"))], "two");
    up.tag("v1.1.0", c2);
    let fake = FakeGithub::start();
    {
        let mut s = fake.core.lock();
        let pin = lockfile(&up.url(), "v1.0.0");
        let files = BTreeMap::from([("upkeep.lock".to_string(), pin.into_bytes())]);
        let id = s.put_commit(files, vec![], "Human", "human@example.com", "mirror pin");
        s.refs.insert("main".into(), id);
    }
    ws.write_config(&[ServerSpec {
        name: "piped".into(),
        upstream: up.url(),
        mirror: String::new(),
        pin_file: "upkeep.lock".into(),
        pin_format: "lockfile".into(),
        mirror_table: Some(format!(
            "forge = \"github\"\nrepo = \"acme/mirror\"\napi-url = {:?}\ntoken-env = \"{TOKEN_ENV}\"\n\
             base = \"main\"\npin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n",
            fake.server.url()
        )),
    }]);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "piped");
    assert_eq!(s["pull_request"]["checks"]["state"], "none", "{s}");
    assert_eq!(s["freshness"]["blocker"], "awaiting-merge", "{s}");

    let head = fake.core.head("upkeep/piped").unwrap();
    let check = |name: &str, outcome, status| FakeCheck {
        name: name.into(),
        outcome,
        url: format!("https://ci.example/{name}/1"),
        status,
    };
    fake.core.lock().checks.insert(
        head.clone(),
        vec![check("build", "fail", false), check("lint", "pass", true)],
    );
    let (_, report) = ws.sync_with(&["--full"]);
    let s = server(&report, "piped");
    let checks = &s["pull_request"]["checks"];
    assert_eq!(checks["state"], "failure", "{s}");
    assert_eq!(checks["failed"], serde_json::json!(["build"]), "{s}");
    assert!(checks["url"].as_str().unwrap().ends_with("/checks"), "{s}");
    assert_eq!(s["freshness"]["blocker"], "pipeline-failed", "{s}");
    let emails = pipeline_emails(&ws);
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(
        emails[0].contains("build: https://ci.example/build/1"),
        "{}",
        emails[0]
    );
    assert!(emails[0].contains(&head), "the email names the commit");

    // Reruns, full and quiet, see the same commit fail: nobody is told twice.
    let (_, report) = ws.sync_with(&["--full"]);
    assert_eq!(
        server(&report, "piped")["freshness"]["blocker"],
        "pipeline-failed"
    );
    let (_, report) = ws.sync();
    let s = server(&report, "piped");
    assert!(s["unchanged_since"].is_string(), "a quiet run: {s}");
    assert_eq!(s["freshness"]["blocker"], "pipeline-failed", "{s}");
    assert_eq!(pipeline_emails(&ws).len(), 1);

    // Green again (a re-run of the check): read on the quiet path too.
    fake.core.lock().checks.insert(
        head.clone(),
        vec![check("build", "pass", false), check("lint", "pass", true)],
    );
    let (_, report) = ws.sync();
    assert_eq!(
        server(&report, "piped")["freshness"]["blocker"],
        "awaiting-merge"
    );

    // Merged on the forge: the lag closes and the lead time is counted.
    let id = fake
        .core
        .lock()
        .prs
        .iter()
        .find(|p| p.state == FakePrState::Open)
        .unwrap()
        .id;
    fake.core
        .set_pr_state(id, FakePrState::Merged, "Merger Max");
    let (code, report) = ws.sync_with(&["--full"]);
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "piped");
    assert!(s["freshness"]["blocker"].is_null(), "{s}");
    assert!(scrape_metrics(&ws).contains("upkeep_rebuild_lead_time_seconds_count 1\n"));
    // The merge is dated by the forge's `merged_at` (the stand-in merged it at a fixed past
    // time), not by when this full check saw it.
    let db = rusqlite::Connection::open(ws.path("state/upkeep.db")).unwrap();
    let merged_at: String = db
        .query_row("SELECT merged_at FROM pr_merges", [], |r| r.get(0))
        .unwrap();
    assert_eq!(merged_at, "2026-01-02T03:04:05.000Z");
}

/// The texts of the pipeline-failed emails written to the file outbox.
fn pipeline_emails(ws: &Workspace) -> Vec<String> {
    ws.emails()
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .filter(|t| t.contains("rebuild pipeline failed"))
        .collect()
}

/// A 6-field cron expression that fires about half a year from now (never during the test).
fn far_cron() -> String {
    use chrono::{Datelike as _, Timelike as _};
    let at = chrono::Utc::now() + chrono::Duration::days(180);
    format!(
        "0 {} {} {} {} *",
        at.minute(),
        at.hour(),
        at.day(),
        at.month()
    )
}

const READ_TOKEN: &str = "fleet-test-read-token-0123456789abcdef";

/// Start `serve` (its schedule far away), read `/metrics`, stop it.
fn scrape_metrics(ws: &Workspace) -> String {
    let port = free_port();
    let config = std::fs::read_to_string(ws.config_path()).unwrap();
    let with_service = config.replacen(
        "[[servers]]",
        &format!(
            "[schedule]\ncron = \"{}\"\ntimezone = \"UTC\"\n\n[service]\nlisten = \"127.0.0.1:{port}\"\n\
             read-token-env = \"UPKEEP_FLEET_READ_TOKEN\"\n\n[[servers]]",
            far_cron()
        ),
        1,
    );
    let path = ws.path("serve.toml");
    std::fs::write(&path, with_service).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_upkeep"))
        .arg("--config")
        .arg(&path)
        .arg("serve")
        .env_remove("UPKEEP_CONFIG")
        .env_remove("UPKEEP_FAILPOINT")
        .env("UPKEEP_LOG", "warn")
        .env("UPKEEP_FLEET_READ_TOKEN", READ_TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    upkeep::http::install_crypto_provider();
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let started = std::time::Instant::now();
    let text = loop {
        match client.get(&url).bearer_auth(READ_TOKEN).send() {
            Ok(r) if r.status().is_success() => break r.text().unwrap(),
            _ if started.elapsed() > std::time::Duration::from_secs(120) => {
                let _ = child.kill();
                panic!("serve did not answer /metrics");
            }
            _ => {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("serve exited early with {status}");
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    text
}
