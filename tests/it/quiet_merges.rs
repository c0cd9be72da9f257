//! Merges and declines seen on the quiet path (issue 17), end to end through the real binary on
//! the GitHub and Azure DevOps stand-ins and the local mirror. A run whose upstream is quiet
//! still asks the forge whether the open rebuild PR is open: one read, on GitHub a conditional
//! one the stand-in answers `304` while nothing changed ("Best practices for using the REST
//! API": conditional requests). A PR merged or closed since ends the quiet replay, and the full
//! check records it as it records any merge or decline: `status` no longer shows the server
//! behind, and the lead time counts to the forge's merge time.

use crate::forge_support::azure::FakeAzure;
use crate::forge_support::github::FakeGithub;
use crate::forge_support::{Core, FakePrState, Fault, Recorded};
use crate::pr_approvals::{SERVER, Stand, sync, sync_full, the_pr, world_with};
use crate::support::Workspace;

/// When the stand-ins say the PR was merged: after the releases (the test repositories' clock
/// starts on 2026-01-01), and long before any run of the test.
const MERGED_AT: &str = "2026-01-02T03:04:05Z";

/// The requests that read a PR's state: GitHub "Get a pull request" (`GET .../pulls/{n}`),
/// Azure DevOps "Get Pull Request" (`GET .../pullrequests/{id}`).
fn state_reads(core: &Core) -> Vec<Recorded> {
    core.requests()
        .into_iter()
        .filter(|r| {
            r.method == "GET"
                && ["/pulls/", "/pullrequests/"].iter().any(|at| {
                    r.path.rsplit_once(at).is_some_and(|(_, n)| {
                        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
                    })
                })
        })
        .collect()
}

fn is_quiet(s: &serde_json::Value) -> bool {
    s["unchanged_since"].is_string()
}

fn notes(s: &serde_json::Value) -> String {
    s["notes"].to_string()
}

/// The server as `status --json` shows it.
fn status(ws: &Workspace, name: &str) -> serde_json::Value {
    let out = ws.upkeep(&["status", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} in {doc}"))
}

/// The recorded merges: (version, published_at, merged_at).
fn merges(ws: &Workspace) -> Vec<(String, Option<String>, String)> {
    let db = rusqlite::Connection::open(ws.path("state/upkeep.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT version, published_at, merged_at FROM pr_merges ORDER BY pr_id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn instant(t: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(t)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
        .into()
}

/// A server behind by one release with its rebuild PR open, then a quiet run.
fn open_and_quiet<F: Stand>() -> crate::pr_approvals::World<F> {
    let w = world_with::<F>(false);
    let s = sync(&w.ws);
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    let s = sync(&w.ws);
    assert!(is_quiet(&s), "{s}");
    assert_eq!(s["freshness"]["blocker"], "awaiting-merge", "{s}");
    assert_eq!(s["freshness"]["releases_behind"], 1, "{s}");
    w
}

fn a_merge_between_quiet_runs_is_recorded_by_the_next<F: Stand>() {
    let w = open_and_quiet::<F>();
    let core = w.fake.core();
    // A person merges on the forge: the base branch takes the PR's head, the branch goes.
    {
        let mut s = core.lock();
        let i = s
            .prs
            .iter()
            .position(|p| p.state == FakePrState::Open)
            .unwrap();
        s.merge_pr(i, "merger-max", true);
        s.prs[i].closed_at = Some(MERGED_AT.into());
    }
    let s = sync(&w.ws);
    assert!(!is_quiet(&s), "the merge ends the quiet replay: {s}");
    assert!(notes(&s).contains("was merged since the full check"), "{s}");
    assert_eq!(s["status"], "up-to-date", "{s}");
    assert_eq!(s["freshness"]["releases_behind"], 0, "{s}");
    assert_eq!(s["freshness"]["lag"], 0, "{s}");
    assert!(s["freshness"]["blocker"].is_null(), "{s}");
    let shown = status(&w.ws, SERVER);
    assert_eq!(shown["freshness"]["releases_behind"], 0, "{shown}");
    assert!(shown["freshness"]["blocker"].is_null(), "{shown}");
    // Recorded once, dated by the forge's merge time (not by this run), with the release's
    // publish time: its lead time.
    let merged = merges(&w.ws);
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!(merged[0].0, "1.1.0");
    assert_eq!(instant(&merged[0].2), instant(MERGED_AT), "{merged:?}");
    let published = instant(merged[0].1.as_deref().expect("publish time known"));
    assert!(published < instant(MERGED_AT), "{merged:?}");

    // Quiet again, with no open PR to ask about; the merge is not counted twice.
    core.clear_requests();
    let s = sync(&w.ws);
    assert!(is_quiet(&s), "{s}");
    assert!(state_reads(core).is_empty(), "{:?}", core.requests());
    assert_eq!(merges(&w.ws).len(), 1);
}

#[test]
fn a_merge_on_github_between_quiet_runs_is_recorded_by_the_next() {
    a_merge_between_quiet_runs_is_recorded_by_the_next::<FakeGithub>();
}

#[test]
fn a_merge_on_azure_devops_between_quiet_runs_is_recorded_by_the_next() {
    a_merge_between_quiet_runs_is_recorded_by_the_next::<FakeAzure>();
}

/// Closed without merge between quiet runs: the next run declines the version, as a full check
/// does (`sync::a_pr_closed_without_merge_declines_that_version_until_a_newer_release`), and
/// opens nothing.
fn a_close_between_quiet_runs_declines<F: Stand>() {
    let w = open_and_quiet::<F>();
    let core = w.fake.core();
    core.set_pr_state(the_pr(core).id, FakePrState::Closed, F::STRANGER);
    let s = sync(&w.ws);
    assert!(!is_quiet(&s), "the close ends the quiet replay: {s}");
    assert!(
        notes(&s).contains("was closed without merge since the full check"),
        "{s}"
    );
    assert_eq!(s["pull_request"]["action"], "declined", "{s}");
    assert_eq!(s["status"], "up-to-date", "{s}");
    assert_eq!(s["freshness"]["blocker"], "declined", "{s}");
    assert_eq!(status(&w.ws, SERVER)["freshness"]["blocker"], "declined");
    let open = |core: &Core| {
        core.lock()
            .prs
            .iter()
            .filter(|p| p.state == FakePrState::Open)
            .count()
    };
    assert_eq!(open(core), 0, "a declined version is not reopened");
    assert!(merges(&w.ws).is_empty());
    // A full check agrees, and a quiet run after it reads no PR.
    assert_eq!(sync_full(&w.ws)["pull_request"]["action"], "declined");
    core.clear_requests();
    assert!(is_quiet(&sync(&w.ws)));
    assert!(state_reads(core).is_empty(), "{:?}", core.requests());
    assert_eq!(open(core), 0);
}

#[test]
fn a_close_on_github_between_quiet_runs_declines_the_version() {
    a_close_between_quiet_runs_declines::<FakeGithub>();
}

#[test]
fn a_close_on_azure_devops_between_quiet_runs_declines_the_version() {
    a_close_between_quiet_runs_declines::<FakeAzure>();
}

/// Each quiet run with an open PR reads its state once; returns the reads of two such runs.
fn two_quiet_reads<F: Stand>() -> (Recorded, Recorded) {
    let w = open_and_quiet::<F>();
    let core = w.fake.core();
    let mut reads = Vec::new();
    for _ in 0..2 {
        core.clear_requests();
        let s = sync(&w.ws);
        assert!(is_quiet(&s), "{s}");
        assert_eq!(s["status"], "pr-open", "{s}");
        let found = state_reads(core);
        assert_eq!(found.len(), 1, "{:?}", core.requests());
        reads.extend(found);
    }
    let second = reads.pop().unwrap();
    (reads.pop().unwrap(), second)
}

#[test]
fn an_open_pr_on_github_costs_a_quiet_run_one_conditional_read() {
    let (_, second) = two_quiet_reads::<FakeGithub>();
    // The answer the first quiet runs kept (the state's HTTP cache) is confirmed with a `304`:
    // no rate limit spent while nothing changes.
    let sent = second
        .headers
        .iter()
        .find(|(k, _)| k == "if-none-match")
        .map(|(_, v)| v.clone());
    assert!(sent.is_some(), "{second:?}");
    assert_eq!(second.status, 304, "{second:?}");
}

#[test]
fn an_open_pr_on_azure_devops_costs_a_quiet_run_one_read() {
    // Azure DevOps documents no conditional read of a PR (nor does the stand-in send an ETag):
    // one plain read per quiet run.
    let (first, second) = two_quiet_reads::<FakeAzure>();
    assert_eq!((first.status, second.status), (200, 200));
}

#[test]
fn a_pr_state_the_forge_cannot_tell_leaves_the_quiet_answer_standing() {
    let w = open_and_quiet::<FakeGithub>();
    w.fake.core.fail(Fault {
        status: 401,
        headers: Vec::new(),
        body: "{\"message\":\"Bad credentials\"}".into(),
        times: 1,
        path_contains: Some("/pulls/".into()),
    });
    let s = sync(&w.ws);
    assert!(is_quiet(&s), "{s}");
    assert_eq!(s["status"], "pr-open", "{s}");
    assert!(
        notes(&s).contains("whether the rebuild PR is still open could not be read"),
        "{s}"
    );
    // Told, with the forge's answer and no token.
    assert!(notes(&s).contains("401"), "{s}");
    assert!(!notes(&s).contains(crate::forge_support::TOKEN), "{s}");
}

/// The local mirror: a person merges by fast-forwarding the base to the bot branch and deleting
/// it; the next quiet run looks at the mirror and records the merge (dated when seen: a plain
/// git repository keeps no merge time).
#[test]
fn a_merge_on_the_local_mirror_between_quiet_runs_is_recorded_by_the_next() {
    let f = crate::quiet::fixture();
    let run = || crate::quiet::sync(&f, &[]);
    assert_eq!(run()["pull_request"]["action"], "created");
    let s = run();
    assert!(is_quiet(&s), "{s}");
    assert_eq!(s["freshness"]["blocker"], "awaiting-merge", "{s}");
    f.mirror.merge_to_main("upkeep/quiet");
    let s = run();
    assert!(!is_quiet(&s), "{s}");
    assert!(notes(&s).contains("was merged since the full check"), "{s}");
    assert_eq!(s["freshness"]["releases_behind"], 0, "{s}");
    assert!(s["freshness"]["blocker"].is_null(), "{s}");
    assert!(status(&f.ws, "quiet")["freshness"]["blocker"].is_null());
    assert_eq!(merges(&f.ws).len(), 1);
    assert!(is_quiet(&run()));
}
