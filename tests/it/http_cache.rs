//! The state's HTTP cache across processes, end to end on the GitHub stand-in: every `sync`
//! here is a new `upkeep` process, as a `sync --now` from cron is. The reads of the open
//! rebuild PR's checks ("List check runs for a Git reference", "Get the combined status for a
//! specific reference") are conditional through the state, so a second process confirms an
//! unchanged commit's checks with two `304`s (which cost no rate limit: "Best practices for
//! using the REST API", use conditional requests) and decides exactly what the first did; a
//! changed answer is a `200` whose body is the one used. The PR's rows go with the transaction
//! that records it merged, and every row goes once its last full answer is a month old.

use crate::automerge::check;
use crate::forge_support::github::FakeGithub;
use crate::forge_support::{Core, FakePrState, Recorded};
use crate::pr_approvals::{SERVER, sync, sync_full, the_pr, world_with};
use crate::support::Workspace;

/// The reads of the head's checks: GitHub's check runs and combined status.
fn check_reads(core: &Core) -> Vec<Recorded> {
    core.requests()
        .into_iter()
        .filter(|r| {
            r.method == "GET" && (r.path.ends_with("/check-runs") || r.path.ends_with("/status"))
        })
        .collect()
}

/// The run read both check documents once, each with `If-None-Match`, answered `status`.
fn both_conditional(core: &Core, status: u16) {
    let reads = check_reads(core);
    assert_eq!(reads.len(), 2, "{reads:?}");
    for r in &reads {
        assert!(r.headers.iter().any(|(k, _)| k == "if-none-match"), "{r:?}");
        assert_eq!(r.status, status, "{r:?}");
    }
}

/// The state's HTTP cache rows: (url, server, body).
fn rows(ws: &Workspace) -> Vec<(String, Option<String>, Vec<u8>)> {
    let db = rusqlite::Connection::open(ws.path("state/upkeep.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT url, server, body FROM http_cache ORDER BY url")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn pipeline_emails(ws: &Workspace) -> usize {
    ws.emails()
        .iter()
        .filter(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains("rebuild pipeline failed")
        })
        .count()
}

/// The rebuild PR opened by a first process, whose head's pipeline then fails one check.
fn opened_then_failing() -> (crate::pr_approvals::World<FakeGithub>, String) {
    let w = world_with::<FakeGithub>(false);
    let s = sync(&w.ws);
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    assert_eq!(s["pull_request"]["checks"]["state"], "none", "{s}");
    let head = w.fake.core.head(&format!("upkeep/{SERVER}")).unwrap();
    w.fake.core.lock().checks.insert(
        head.clone(),
        vec![check("build", "fail", false), check("lint", "pass", true)],
    );
    (w, head)
}

#[test]
fn a_second_sync_process_confirms_the_checks_with_304s_and_decides_the_same() {
    let (w, head) = opened_then_failing();
    let core = &w.fake.core;

    // The first process kept the answers it read (no checks yet). This one sends their ETags;
    // the pipeline has answered since, so GitHub answers 200 and that body is what counts.
    core.clear_requests();
    let first = sync_full(&w.ws);
    // A changed answer is read in full.
    both_conditional(core, 200);
    assert_eq!(
        first["pull_request"]["checks"]["state"], "failure",
        "{first}"
    );
    assert_eq!(
        first["pull_request"]["checks"]["failed"],
        serde_json::json!(["build"])
    );
    assert_eq!(first["freshness"]["blocker"], "pipeline-failed", "{first}");
    assert_eq!(pipeline_emails(&w.ws), 1);

    // A new process, nothing changed: both reads are conditional and answered 304, and the
    // run reaches the same decisions from the kept answers (no second email).
    core.clear_requests();
    let second = sync_full(&w.ws);
    both_conditional(core, 304);
    for field in ["action", "checks"] {
        assert_eq!(
            second["pull_request"][field], first["pull_request"][field],
            "{second}"
        );
    }
    assert_eq!(second["status"], first["status"]);
    assert_eq!(
        second["freshness"]["blocker"], "pipeline-failed",
        "{second}"
    );
    assert_eq!(pipeline_emails(&w.ws), 1, "told once per head commit");

    // The quiet path reads them the same way.
    core.clear_requests();
    let quiet = sync(&w.ws);
    assert!(quiet["unchanged_since"].is_string(), "{quiet}");
    assert!(
        check_reads(core).iter().all(|r| r.status == 304),
        "{:?}",
        core.requests()
    );
    assert_eq!(quiet["freshness"]["blocker"], "pipeline-failed", "{quiet}");

    // What the state keeps of them is the PR's (named by its server) and only what upkeep
    // reads: not GitHub's other fields (the stand-in's `head_sha`, `total_count`).
    let kept: Vec<_> = rows(&w.ws)
        .into_iter()
        .filter(|(url, _, _)| url.contains(&head))
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    for (url, server, body) in &kept {
        assert_eq!(server.as_deref(), Some(SERVER), "{url}");
        let text = String::from_utf8_lossy(body);
        assert!(text.contains("build") || text.contains("lint"), "{text}");
        assert!(
            !text.contains("head_sha") && !text.contains("total_count"),
            "{text}"
        );
    }

    // Green again (the check run re-run; the status as it was): the changed answer is a 200,
    // and it is the one used.
    core.lock().checks.insert(
        head.clone(),
        vec![check("build", "pass", false), check("lint", "pass", true)],
    );
    core.clear_requests();
    let green = sync_full(&w.ws);
    let reads: Vec<(bool, u16)> = check_reads(core)
        .iter()
        .map(|r| (r.path.ends_with("/check-runs"), r.status))
        .collect();
    assert_eq!(reads, [(true, 200), (false, 304)]);
    assert_eq!(
        green["pull_request"]["checks"]["state"], "success",
        "{green}"
    );
    assert_eq!(green["freshness"]["blocker"], "awaiting-merge", "{green}");
}

#[test]
fn a_merged_pr_takes_its_cached_answers_with_it_and_old_rows_age_out() {
    let (w, _) = opened_then_failing();
    let core = &w.fake.core;
    sync(&w.ws);
    assert!(
        rows(&w.ws)
            .iter()
            .any(|(_, server, _)| server.as_deref() == Some(SERVER)),
        "{:?}",
        rows(&w.ws)
    );
    // A row nothing has answered in full for 40 days (a channel since taken out of the config).
    {
        let db = rusqlite::Connection::open(w.ws.path("state/upkeep.db")).unwrap();
        let old = (chrono::Utc::now() - chrono::Duration::days(40))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        db.execute(
            "INSERT INTO http_cache(url, etag, body, updated_at) VALUES ('https://registry.example/gone', 'W/\"g\"', x'7b7d', ?1)",
            [old],
        )
        .unwrap();
    }
    core.set_pr_state(the_pr(core).id, FakePrState::Merged, "merger-max");
    let s = sync(&w.ws);
    assert!(
        s["notes"]
            .to_string()
            .contains("was merged since the full check"),
        "{s}"
    );
    assert!(s["freshness"]["blocker"].is_null(), "{s}");
    assert!(
        rows(&w.ws).is_empty(),
        "the merged PR's rows went with its record, the old row by age: {:?}",
        rows(&w.ws)
    );
}
