//! The fault suite: a sync that opens PRs and queues emails is killed with SIGKILL at each of
//! 20 points (`UPKEEP_FAILPOINT`), then run again. Afterwards there is exactly one PR per
//! (server, version), exactly one email per dedupe key, no stale lease, and every server is up
//! to date with its upstream.

use crate::support::{MIT, Repo, ServerSpec, Workspace, commits_ahead, lockfile, server};

struct World {
    ws: Workspace,
    plain_up: Repo,
    plain_mirror: Repo,
    licensed_mirror: Repo,
}

fn world() -> World {
    let ws = Workspace::new();
    let mut plain_up = Repo::new(&ws.path("plain-up.git"));
    let c = plain_up.commit(&[("LICENSE", Some(MIT)), ("a.txt", Some("1"))], "r1");
    plain_up.tag("v1.0.0", c);
    let c = plain_up.commit(&[("a.txt", Some("2"))], "r2");
    plain_up.tag("v1.1.0", c);
    let mut licensed_up = Repo::new(&ws.path("licensed-up.git"));
    let c = licensed_up.commit(&[("LICENSE", Some(MIT))], "r1");
    licensed_up.tag("v1.0.0", c);
    let c = licensed_up.commit(
        &[(
            "LICENSE",
            Some(&format!("{MIT}\nNo use in hosted services.\n")),
        )],
        "relicense",
    );
    licensed_up.tag("v2.0.0", c);
    let mut plain_mirror = Repo::new(&ws.path("plain-mirror.git"));
    plain_mirror.commit(
        &[("upkeep.lock", Some(&lockfile(&plain_up.url(), "v1.0.0")))],
        "pin",
    );
    let mut licensed_mirror = Repo::new(&ws.path("licensed-mirror.git"));
    licensed_mirror.commit(
        &[("upkeep.lock", Some(&lockfile(&licensed_up.url(), "v1.0.0")))],
        "pin",
    );
    ws.write_config(&[
        ServerSpec::lockfile("plain", &plain_up, &plain_mirror),
        ServerSpec::lockfile("licensed", &licensed_up, &licensed_mirror),
    ]);
    World {
        ws,
        plain_up,
        plain_mirror,
        licensed_mirror,
    }
}

/// Run `sync --now` with a failpoint armed; true when the process was killed there.
fn crash_at(ws: &Workspace, point: &str) -> bool {
    let out = assert_cmd::Command::cargo_bin("upkeep")
        .unwrap()
        .args(["sync", "--now", "--json", "--config"])
        .arg(ws.config_path())
        .env("UPKEEP_FAILPOINT", point)
        .env("UPKEEP_LOG", "warn")
        .output()
        .unwrap();
    match out.status.code() {
        None => true,
        Some(code) => {
            assert!(
                code == 0,
                "a run that did not reach {point} must succeed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            false
        }
    }
}

/// Open PR records of a local mirror (the ones whose branch exists and that did not end).
fn open_prs(mirror: &Repo) -> Vec<serde_json::Value> {
    std::fs::read_dir(mirror.path.join("upkeep/prs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| {
            serde_json::from_slice::<serde_json::Value>(&std::fs::read(e.path()).unwrap()).unwrap()
        })
        .filter(|v| v["ended"].is_null() && mirror.branch(v["branch"].as_str().unwrap()).is_some())
        .collect()
}

fn emails_for(ws: &Workspace, server: &str, reason: &str) -> usize {
    ws.emails()
        .iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains(&format!("-{server}-{reason}.eml"))
        })
        .count()
}

fn survive(point: &str) {
    let mut w = world();
    let mut killed = crash_at(&w.ws, point);
    // A newer release reaches the update paths, and the failpoint is armed again.
    let c = w.plain_up.commit(&[("a.txt", Some("3"))], "r3");
    w.plain_up.tag("v1.2.0", c);
    killed |= crash_at(&w.ws, point);
    assert!(killed, "failpoint {point} was never reached");

    // Recovery: a clean run finishes the work.
    let (code, report) = w.ws.sync();
    assert_eq!(code, 0, "{report}");
    // Upstream is quiet now: the next run replays what the recovery run decided...
    let (code, report) = w.ws.sync();
    assert_eq!(code, 0, "{report}");
    for (name, version, status) in [
        // Open, and neither opened nor updated by this run.
        ("plain", "1.2.0", "pr-open"),
        ("licensed", "2.0.0", "held"),
    ] {
        let s = server(&report, name);
        assert!(s["unchanged_since"].is_string(), "{s}");
        assert_eq!(s["latest"]["version"], version, "{s}");
        assert_eq!(s["status"], status, "{s}");
    }
    // ...and a full check of the forge agrees with it.
    let (code, report) = w.ws.sync_with(&["--full"]);
    assert_eq!(code, 0, "{report}");
    let plain = server(&report, "plain");
    assert_eq!(plain["latest"]["version"], "1.2.0");
    assert_eq!(plain["pull_request"]["action"], "unchanged", "{plain}");
    let licensed = server(&report, "licensed");
    assert_eq!(licensed["status"], "held", "{licensed}");
    assert_eq!(
        licensed["pull_request"]["action"], "unchanged",
        "{licensed}"
    );

    // Exactly one PR per server, for the right version; one commit on top of base.
    let prs = open_prs(&w.plain_mirror);
    assert_eq!(prs.len(), 1, "{prs:?}");
    assert!(
        prs[0]["title"].as_str().unwrap().contains("→ 1.2.0"),
        "{prs:?}"
    );
    assert_eq!(
        commits_ahead(&w.plain_mirror, prs[0]["branch"].as_str().unwrap(), "main"),
        1
    );
    let prs = open_prs(&w.licensed_mirror);
    assert_eq!(prs.len(), 1, "{prs:?}");
    assert_eq!(prs[0]["draft"], true);

    // Exactly one email per dedupe key, and none pending.
    assert_eq!(
        emails_for(&w.ws, "licensed", "license-review"),
        1,
        "{:?}",
        w.ws.emails()
    );
    assert_eq!(w.ws.emails().len(), 1, "{:?}", w.ws.emails());
    let status: serde_json::Value =
        serde_json::from_str(&w.ws.upkeep(&["status", "--json"]).stdout).unwrap();
    assert!(status["running"].is_null(), "a stale lease: {status}");
    for s in status["servers"].as_array().unwrap() {
        assert_eq!(s["pending_emails"], 0, "{status}");
        assert_eq!(s["failed_emails"], 0, "{status}");
    }
    // No run is left looking alive.
    let store = upkeep::store::Store::open(&w.ws.path("state/upkeep.db")).unwrap();
    assert!(
        store
            .recent_runs(20)
            .unwrap()
            .iter()
            .all(|r| r.result != "running"),
        "{:?}",
        store.recent_runs(20).unwrap()
    );
    // The state agrees with the mirror.
    assert_eq!(
        status["servers"][0]["open_pr"]["version"], "1.2.0",
        "{status}"
    );
}

macro_rules! fault_points {
    ($($test:ident => $point:literal,)*) => {
        $(
            #[test]
            fn $test() {
                survive($point);
            }
        )*
    };
}

fault_points! {
    killed_after_taking_the_lease => "after-lease",
    killed_after_starting_the_run => "run-started",
    killed_after_fetching => "after-fetch",
    killed_after_recording_tags => "after-tags",
    killed_after_judging_the_license => "after-license",
    killed_after_the_release_diff => "after-diff",
    killed_before_writing_the_branch => "before-write-branch",
    killed_after_writing_the_branch => "after-write-branch",
    killed_after_moving_the_branch => "after-move-branch",
    killed_after_updating_the_pr => "after-update-pr",
    killed_before_recording_the_pr => "before-record-pr",
    killed_inside_the_record_transaction => "inside-record-pr-transaction",
    killed_after_recording_the_pr => "after-record-pr",
    killed_after_a_server => "after-server",
    killed_before_draining_the_outbox => "before-drain",
    killed_before_marking_an_email_sending => "before-mark-sending",
    killed_before_sending_an_email => "before-send",
    killed_after_sending_an_email => "after-send",
    killed_before_finishing_the_run => "before-finish-run",
    killed_before_releasing_the_lease => "before-release-lease",
}

// ---- chat delivery -------------------------------------------------------------------------
//
// A license review goes to one Teams and one Slack destination (`chat::licensed_world`), and
// the run is killed around the first chat POST. Killed before the POST: the row is left
// `sending`, and the next run posts it, once. Killed after the service accepted it but before
// `sent` was recorded: the next run posts it again. That is the documented at-least-once
// window of chat (webhooks take no idempotency key); it is one message, and both copies name
// the same outbox row, so a reader can tell.

use crate::chat::{Kind, Receiver, chat_rows, licensed_world};

/// `sync --now` with `point` armed and the workspace's environment; true when killed there.
fn crash_chat_at(ws: &Workspace, point: &str) -> bool {
    let out = assert_cmd::Command::cargo_bin("upkeep")
        .unwrap()
        .args(["sync", "--now", "--json", "--config"])
        .arg(ws.config_path())
        .env("UPKEEP_FAILPOINT", point)
        .env("UPKEEP_LOG", "warn")
        .envs(ws.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    out.status.code().is_none()
}

/// The context line of a Teams card: it names the outbox row.
fn teams_context(payload: &serde_json::Value) -> String {
    let body = payload["attachments"][0]["content"]["body"]
        .as_array()
        .unwrap();
    body.last().unwrap()["text"].as_str().unwrap().to_string()
}

#[test]
fn killed_before_posting_a_chat_message() {
    let (teams, slack) = (Receiver::start(Kind::Teams), Receiver::start(Kind::Slack));
    let ws = licensed_world(&teams, &slack);
    assert!(crash_chat_at(&ws, "chat-before-post"), "never reached");
    assert_eq!(teams.posts() + slack.posts(), 0);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!((teams.posts(), slack.posts()), (1, 1));
    assert!(chat_rows(&ws).iter().all(|r| r.status == "sent"));
    assert_eq!(ws.emails().len(), 1);
}

#[test]
fn killed_after_posting_a_chat_message() {
    let (teams, slack) = (Receiver::start(Kind::Teams), Receiver::start(Kind::Slack));
    let ws = licensed_world(&teams, &slack);
    assert!(crash_chat_at(&ws, "chat-after-post"), "never reached");
    // The first chat row (Teams: `legal` sorts before `ops`) was accepted, not recorded.
    assert_eq!((teams.posts(), slack.posts()), (1, 0));
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    // The at-least-once window: that one message again, the other once.
    assert_eq!((teams.posts(), slack.posts()), (2, 1));
    let t = teams.accepted();
    assert_eq!(t[0], t[1], "a repeat is the same message");
    assert!(
        teams_context(&t[0]).contains("message "),
        "{}",
        teams_context(&t[0])
    );
    // And never again.
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!((teams.posts(), slack.posts()), (2, 1));
    assert!(chat_rows(&ws).iter().all(|r| r.status == "sent"));
}
