//! Guarded auto-merge (issue 17), end to end through the binary against the GitHub and Azure
//! DevOps stand-ins, which keep each PR's auto-merge as their APIs document it and merge an
//! armed PR once the checks the repository requires pass.

use std::collections::BTreeMap;

use crate::forge_support::azure::FakeAzure;
use crate::forge_support::azure_automerge::BOT_ID;
use crate::forge_support::github::FakeGithub;
use crate::forge_support::{
    BOT_LOGIN, Core, FakeCheck, FakeForge, FakePr, FakePrState, Recorded, TOKEN,
};
use crate::support::{MIT, Repo, ServerSpec, Workspace, lockfile, server};

const TOKEN_ENV: &str = "UPKEEP_TEST_FORGE_TOKEN";
const NAME: &str = "auto";
/// A license text that needs legal review (a commercial-use clause on top of MIT).
const RELICENSED: &str = "Commercial use of this software requires a separate commercial license from Example Corp.\n\nMIT License\n\nCopyright (c) 2025 Example Authors\n";

struct World<F> {
    ws: Workspace,
    up: Repo,
    fake: F,
}

/// An upstream at v1.0.0 and v1.1.0 (`second` is what v1.1.0 changes), a mirror on `fake`
/// pinned at v1.0.0 whose base requires the check `build`, and `extra` in `[servers.mirror]`.
fn world<F: FakeForge + Listening>(second: &[(&str, Option<&str>)], extra: &str) -> World<F> {
    let mut ws = Workspace::new();
    ws.env.push((TOKEN_ENV.into(), TOKEN.into()));
    let mut up = Repo::new(&ws.path("up.git"));
    let c1 = up.commit(
        &[
            ("LICENSE", Some(MIT)),
            ("main.py", Some("print(1)\n")),
            (
                "package.json",
                Some("{\"name\": \"auto\", \"scripts\": {}}\n"),
            ),
        ],
        "one",
    );
    up.tag("v1.0.0", c1);
    let c2 = up.commit(second, "two");
    up.tag("v1.1.0", c2);
    let fake = F::start();
    {
        let mut s = fake.core().lock();
        let pin = lockfile(&up.url(), "v1.0.0");
        let files = BTreeMap::from([("upkeep.lock".to_string(), pin.into_bytes())]);
        let id = s.put_commit(files, vec![], "Human", "human@example.com", "mirror pin");
        s.refs.insert("main".into(), id);
        s.required_checks = vec!["build".into()];
    }
    let forge = if F::KIND == "github" {
        format!(
            "forge = \"github\"\nrepo = \"acme/mirror\"\napi-url = {:?}\n",
            fake_url(&fake)
        )
    } else {
        format!(
            "forge = \"azure-devops\"\nrepo = \"contoso/Mirror Project/mirror\"\nbase-url = {:?}\n",
            fake_url(&fake)
        )
    };
    ws.write_config(&[ServerSpec {
        name: NAME.into(),
        upstream: up.url(),
        mirror: String::new(),
        pin_file: "upkeep.lock".into(),
        pin_format: "lockfile".into(),
        mirror_table: Some(format!(
            "{forge}token-env = \"{TOKEN_ENV}\"\nbase = \"main\"\npin-file = \"upkeep.lock\"\n\
             pin-format = \"lockfile\"\n{extra}"
        )),
    }]);
    World { ws, up, fake }
}

/// Where a stand-in listens.
trait Listening {
    fn url(&self) -> String;
}

impl Listening for FakeGithub {
    fn url(&self) -> String {
        self.server.url()
    }
}

impl Listening for FakeAzure {
    fn url(&self) -> String {
        self.server.url()
    }
}

fn fake_url<F: Listening>(fake: &F) -> String {
    fake.url()
}

const PLAIN: &[(&str, Option<&str>)] = &[("main.py", Some("print(2)\n"))];
const ON: &str = "auto-merge = true\nmerge-strategy = \"squash\"\n";

fn the_pr(core: &Core) -> FakePr {
    let s = core.lock();
    s.prs.last().cloned().expect("a PR was opened")
}

/// The GraphQL requests whose body names `operation`, in order.
fn graphql(core: &Core, operation: &str) -> usize {
    core.lock()
        .requests
        .iter()
        .filter(|r| r.path == "/graphql" && r.body.contains(operation))
        .count()
}

/// v1.2.0 changes the license: the run that proposes it must cancel the PR's auto-merge (a
/// request `cancel` matches) before it pushes the new head (the last request `push` matches).
fn relicensed_release_is_disarmed_before_its_push<F: FakeForge>(
    w: &mut World<F>,
    cancel: fn(&Recorded) -> bool,
    push: fn(&Recorded) -> bool,
) -> serde_json::Value {
    let c = w.up.commit(&[("LICENSE", Some(RELICENSED))], "relicense");
    w.up.tag("v1.2.0", c);
    let s = sync_report(&w.ws, &[]);
    assert!(the_pr(w.fake.core()).auto_merge.is_none(), "{s}");
    let requests = w.fake.core().lock().requests.clone();
    let cancelled = requests
        .iter()
        .position(cancel)
        .expect("auto-merge was cancelled");
    let pushed = requests
        .iter()
        .rposition(push)
        .expect("the new head was pushed");
    assert!(
        cancelled < pushed,
        "cancelled at {cancelled}, pushed at {pushed}"
    );
    s
}

/// The checks of the bot branch's head, as the forge will report them; returns the head.
fn set_checks<F: FakeForge>(w: &World<F>, checks: Vec<FakeCheck>) -> String {
    let head = w.fake.core().head(&format!("upkeep/{NAME}")).unwrap();
    w.fake.core().lock().checks.insert(head.clone(), checks);
    head
}

pub(crate) fn check(name: &str, outcome: &'static str, status: bool) -> FakeCheck {
    FakeCheck {
        name: name.into(),
        outcome,
        url: format!("https://ci.example/{name}/1"),
        status,
    }
}

fn sync_report(ws: &Workspace, extra: &[&str]) -> serde_json::Value {
    let (code, report) = ws.sync_with(extra);
    assert_eq!(code, 0, "{report}");
    server(&report, NAME).clone()
}

#[test]
fn a_clean_release_is_armed_and_the_forge_merges_it_when_its_required_check_passes() {
    let w = world::<FakeGithub>(PLAIN, ON);
    let s = sync_report(&w.ws, &[]);
    let am = &s["pull_request"]["auto_merge"];
    assert_eq!(am["state"], "armed", "{s}");
    assert_eq!(am["strategy"], "squash", "{s}");
    assert_eq!(am["blocked_by"], serde_json::json!([]), "{s}");
    let pr = the_pr(w.fake.core());
    let armed = pr.auto_merge.clone().expect("armed on the forge");
    assert_eq!(
        (armed.by.as_str(), armed.strategy.as_str()),
        (BOT_LOGIN, "SQUASH")
    );
    assert!(
        pr.body.contains("**Auto-merge:** on (squash)."),
        "{}",
        pr.body
    );

    // A rerun asks the forge, finds it armed, and sends nothing.
    sync_report(&w.ws, &["--full"]);
    assert_eq!(graphql(w.fake.core(), "enablePullRequestAutoMerge"), 1);
    // `status` says so, as JSON and in the table.
    let status = status_of(&w.ws);
    let am = &status["servers"][0]["open_pr"]["auto_merge"];
    assert_eq!(
        (am["state"].as_str(), am["strategy"].as_str()),
        (Some("armed"), Some("squash")),
        "{status}"
    );
    let table = w.ws.upkeep(&["status"]);
    assert!(table.stdout.contains("    auto-merge: armed (squash)\n"));

    // The required check passes: the forge merges it on its own; upkeep sees the merge.
    let head = set_checks(&w, vec![check("build", "pass", false)]);
    let s = sync_report(&w.ws, &["--full"]);
    assert_eq!(the_pr(w.fake.core()).state, FakePrState::Merged);
    assert_eq!(w.fake.core().head("main"), Some(head));
    assert_eq!(s["freshness"]["releases_behind"], 0, "{s}");
}

#[test]
fn off_by_default_nothing_is_asked_and_the_body_says_nothing() {
    let w = world::<FakeGithub>(PLAIN, "");
    let s = sync_report(&w.ws, &[]);
    assert_eq!(s["pull_request"]["auto_merge"]["state"], "off", "{s}");
    let pr = the_pr(w.fake.core());
    assert!(pr.auto_merge.is_none());
    assert!(!pr.body.contains("Auto-merge"), "{}", pr.body);
    assert_eq!(graphql(w.fake.core(), "AutoMerge"), 0);
}

#[test]
fn a_held_license_change_is_never_armed_and_the_body_names_the_guards() {
    let w = world::<FakeGithub>(&[("LICENSE", Some(RELICENSED))], ON);
    // Even with the required check green on every head.
    w.fake.core().lock().required_checks.clear();
    let s = sync_report(&w.ws, &[]);
    let am = &s["pull_request"]["auto_merge"];
    assert_eq!(am["state"], "blocked", "{s}");
    assert_eq!(
        am["blocked_by"],
        serde_json::json!(["held", "license-change"]),
        "{s}"
    );
    let pr = the_pr(w.fake.core());
    assert!(pr.draft && pr.auto_merge.is_none());
    assert!(
        pr.body.contains(
            "**Auto-merge:** not armed: the PR is held for a review; the license changed."
        ),
        "{}",
        pr.body
    );
    sync_report(&w.ws, &["--full"]);
    assert_eq!(graphql(w.fake.core(), "enablePullRequestAutoMerge"), 0);
    assert_eq!(the_pr(w.fake.core()).state, FakePrState::Open);
    let status = status_of(&w.ws);
    let am = &status["servers"][0]["open_pr"]["auto_merge"];
    assert_eq!(am["state"], "blocked", "{status}");
    assert_eq!(
        am["blocked_by"],
        serde_json::json!(["held", "license-change"])
    );
    let table = w.ws.upkeep(&["status"]);
    assert!(
        table
            .stdout
            .contains("    auto-merge: blocked: held, license-change\n")
    );
}

/// `upkeep status --json`.
fn status_of(ws: &Workspace) -> serde_json::Value {
    let out = ws.upkeep(&["status", "--json"]);
    assert!(out.code == 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("status JSON")
}

#[test]
fn an_install_script_stops_it_by_name() {
    let w = world::<FakeGithub>(
        &[(
            "package.json",
            Some("{\"name\": \"auto\", \"scripts\": {\"postinstall\": \"node setup.js\"}}\n"),
        )],
        ON,
    );
    let s = sync_report(&w.ws, &[]);
    let am = &s["pull_request"]["auto_merge"];
    assert_eq!(
        am["blocked_by"],
        serde_json::json!(["install-script"]),
        "{s}"
    );
    let pr = the_pr(w.fake.core());
    assert!(pr.auto_merge.is_none());
    assert!(
        pr.body
            .contains("not armed: an install script was added or changed."),
        "{}",
        pr.body
    );
}

#[test]
fn failing_checks_cancel_what_was_armed_and_green_ones_arm_it_again() {
    let w = world::<FakeGithub>(PLAIN, ON);
    sync_report(&w.ws, &[]);
    assert!(the_pr(w.fake.core()).auto_merge.is_some());
    set_checks(&w, vec![check("lint", "fail", true)]);
    let s = sync_report(&w.ws, &["--full"]);
    let am = &s["pull_request"]["auto_merge"];
    assert_eq!(
        am["blocked_by"],
        serde_json::json!(["checks-failing"]),
        "{s}"
    );
    assert!(the_pr(w.fake.core()).auto_merge.is_none(), "disarmed");
    assert_eq!(graphql(w.fake.core(), "disablePullRequestAutoMerge"), 1);
    // The next full check puts the guard in the body, and arms nothing.
    let s = sync_report(&w.ws, &["--full"]);
    assert!(
        the_pr(w.fake.core())
            .body
            .contains("not armed: the pipeline failed on this PR."),
        "{s}"
    );
    // Fixed: armed again.
    set_checks(&w, vec![check("lint", "pass", true)]);
    let s = sync_report(&w.ws, &["--full"]);
    assert_eq!(s["pull_request"]["auto_merge"]["state"], "armed", "{s}");
    assert!(the_pr(w.fake.core()).auto_merge.is_some());
}

#[test]
fn a_moved_tag_cancels_the_armed_auto_merge() {
    let mut w = world::<FakeGithub>(PLAIN, ON);
    sync_report(&w.ws, &[]);
    assert!(the_pr(w.fake.core()).auto_merge.is_some());
    let c =
        w.up.commit(&[("main.py", Some("print('retagged')\n"))], "retag");
    w.up.tag("v1.1.0", c);
    let (_, report) = w.ws.sync_with(&["--full"]);
    let s = server(&report, NAME);
    assert!(the_pr(w.fake.core()).auto_merge.is_none(), "{s}");
    assert!(
        s["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("an upstream release tag was moved")),
        "{s}"
    );
}

#[test]
fn an_armed_pr_is_disarmed_before_a_release_that_needs_review_is_pushed_to_it() {
    let mut w = world::<FakeGithub>(PLAIN, ON);
    sync_report(&w.ws, &[]);
    assert!(the_pr(w.fake.core()).auto_merge.is_some());
    let s = relicensed_release_is_disarmed_before_its_push(
        &mut w,
        |r| r.body.contains("disablePullRequestAutoMerge"),
        |r| r.method == "PATCH" && r.path.contains("/git/refs/heads/upkeep/"),
    );
    assert_eq!(s["pull_request"]["action"], "updated", "{s}");
    assert!(the_pr(w.fake.core()).draft);
}

#[test]
fn a_repository_that_does_not_allow_auto_merge_is_reported_and_asked_again() {
    let w = world::<FakeGithub>(PLAIN, ON);
    w.fake.core().lock().auto_merge_disallowed = true;
    let s = sync_report(&w.ws, &[]);
    let am = &s["pull_request"]["auto_merge"];
    assert_eq!(
        am["blocked_by"],
        serde_json::json!(["forge-refused"]),
        "{s}"
    );
    assert!(
        am["note"]
            .as_str()
            .unwrap()
            .contains("not allowed for this repository"),
        "{s}"
    );
    // The next full check says so in the body, and asks again: allowed now, armed.
    w.fake.core().lock().auto_merge_disallowed = false;
    let s = sync_report(&w.ws, &["--full"]);
    assert_eq!(s["pull_request"]["auto_merge"]["state"], "armed", "{s}");
    assert!(the_pr(w.fake.core()).auto_merge.is_some());
}

#[test]
fn nothing_left_to_wait_for_merges_at_the_judged_head() {
    let w = world::<FakeGithub>(PLAIN, ON);
    // No required check: GitHub answers "clean status" to arming.
    w.fake.core().lock().required_checks.clear();
    let s = sync_report(&w.ws, &[]);
    assert_eq!(s["pull_request"]["auto_merge"]["state"], "merged", "{s}");
    let pr = the_pr(w.fake.core());
    assert_eq!(pr.state, FakePrState::Merged);
    let merge = w
        .fake
        .core()
        .lock()
        .requests
        .iter()
        .find(|r| r.method == "PUT" && r.path.ends_with("/merge"))
        .cloned()
        .expect("merged through the REST API");
    assert!(
        merge.body.contains("\"merge_method\":\"squash\""),
        "{}",
        merge.body
    );
    assert!(merge.body.contains("\"sha\""), "{}", merge.body);
}

#[test]
fn azure_devops_auto_complete_carries_the_strategy_and_deletes_the_branch_once_complete() {
    let w = world::<FakeAzure>(
        PLAIN,
        "auto-merge = true\nmerge-strategy = \"rebase-merge\"\ndelete-source-branch = true\n",
    );
    let s = sync_report(&w.ws, &[]);
    assert_eq!(s["pull_request"]["auto_merge"]["state"], "armed", "{s}");
    let armed = the_pr(w.fake.core()).auto_merge.expect("auto-complete set");
    assert_eq!(armed.by, BOT_ID);
    assert_eq!(armed.strategy, "rebaseMerge");
    assert!(armed.delete_source_branch);
    let patch = w
        .fake
        .core()
        .lock()
        .requests
        .iter()
        .find(|r| r.method == "PATCH" && r.body.contains("autoCompleteSetBy"))
        .cloned()
        .unwrap();
    assert!(
        patch.body.contains("\"transitionWorkItems\":false"),
        "{}",
        patch.body
    );

    // A release that needs review: auto-complete is cleared before the push.
    let mut w = w;
    relicensed_release_is_disarmed_before_its_push(
        &mut w,
        |r| r.body.contains("00000000-0000-0000-0000-000000000000"),
        |r| r.method == "POST" && r.path.ends_with("/pushes"),
    );
}

#[test]
fn azure_devops_completes_an_armed_pr_when_its_policies_pass() {
    let w = world::<FakeAzure>(PLAIN, "auto-merge = true\ndelete-source-branch = true\n");
    sync_report(&w.ws, &[]);
    let armed = the_pr(w.fake.core()).auto_merge.expect("auto-complete set");
    assert_eq!(armed.strategy, "noFastForward");
    let branch = format!("upkeep/{NAME}");
    let head = set_checks(&w, vec![check("build", "pass", false)]);
    let s = sync_report(&w.ws, &["--full"]);
    assert_eq!(the_pr(w.fake.core()).state, FakePrState::Merged, "{s}");
    assert_eq!(
        w.fake.core().head(&branch),
        None,
        "the source branch is deleted"
    );
    assert_eq!(w.fake.core().head("main"), Some(head));
}

#[test]
fn a_run_killed_right_after_arming_is_finished_by_the_next_without_arming_twice() {
    let mut w = world::<FakeGithub>(PLAIN, ON);
    w.ws.env
        .push(("UPKEEP_FAILPOINT".into(), "after-arm-auto-merge".into()));
    let out = w.ws.upkeep(&["sync", "--now", "--json"]);
    assert_ne!(out.code, 0, "killed at the failpoint: {}", out.stderr);
    assert!(
        the_pr(w.fake.core()).auto_merge.is_some(),
        "armed on the forge"
    );
    w.ws.env.pop();
    let s = sync_report(&w.ws, &[]);
    assert_eq!(s["pull_request"]["auto_merge"]["state"], "armed", "{s}");
    assert_eq!(graphql(w.fake.core(), "enablePullRequestAutoMerge"), 1);
}

/// The adapters alone, on either forge: a PR whose head is not the judged one is refused; an
/// arm whose answer is lost is confirmed by a re-read and not sent again; arming an armed PR
/// sends nothing; a cancel is confirmed, and cancelling again is no error.
fn the_adapter_arms_once_and_cancels<F: FakeForge>(
    lost: (&str, &str),
    is_arm: fn(&Recorded) -> bool,
) {
    use upkeep::forge::automerge::{Armed, AutoMergeState, MergeOptions, MergeStrategy};
    use upkeep::forge::{CommitWrite, ForgeError, Identity, PrRequest};
    let fake = F::start();
    let forge = fake.forge();
    let base = forge
        .read_base_file("main", crate::forge_support::PIN_PATH)
        .unwrap();
    let branch = "upkeep/adapter";
    let head = forge
        .write_branch(&CommitWrite {
            branch: branch.into(),
            base_commit: base.base_commit,
            path: crate::forge_support::PIN_PATH.into(),
            content: b"upstream = \"v1.1.0\"\n".to_vec(),
            message: "Rebuild".into(),
            author: Identity {
                name: "upkeep".into(),
                email: "upkeep@example.com".into(),
            },
            expected_head: None,
        })
        .unwrap();
    let pr = forge
        .open_pr(&PrRequest {
            branch: branch.into(),
            base: "main".into(),
            title: "Rebuild".into(),
            body: "b".into(),
            labels: vec![],
            reviewers: vec![],
            draft: false,
        })
        .unwrap();
    fake.core().lock().required_checks = vec!["build".into()];
    let options = MergeOptions {
        strategy: MergeStrategy::Squash,
        delete_source_branch: false,
    };
    let arms = || {
        fake.core()
            .lock()
            .requests
            .iter()
            .filter(|r| is_arm(r))
            .count()
    };
    let other = "0".repeat(40);
    assert!(matches!(
        forge.arm_auto_merge(&pr.id, &other, &options),
        Err(ForgeError::Conflict(_))
    ));
    assert_eq!(forge.auto_merge(&pr.id).unwrap(), AutoMergeState::Off);
    fake.core().lose_answer(lost.0, lost.1, 502, 1);
    assert_eq!(
        forge.arm_auto_merge(&pr.id, &head, &options).unwrap(),
        Armed::Armed
    );
    assert_eq!(arms(), 1, "confirmed by a re-read, not sent again");
    assert!(matches!(
        forge.auto_merge(&pr.id).unwrap(),
        AutoMergeState::Armed { by: Some(_) }
    ));
    assert_eq!(
        forge.arm_auto_merge(&pr.id, &head, &options).unwrap(),
        Armed::Armed
    );
    assert_eq!(arms(), 1, "already armed: nothing sent");
    forge.disarm_auto_merge(&pr.id).unwrap();
    assert_eq!(forge.auto_merge(&pr.id).unwrap(), AutoMergeState::Off);
    forge.disarm_auto_merge(&pr.id).unwrap();
}

#[test]
fn the_github_adapter_arms_once_and_cancels() {
    the_adapter_arms_once_and_cancels::<FakeGithub>(("POST", "/graphql"), |r| {
        r.body.contains("enablePullRequestAutoMerge")
    });
}

#[test]
fn the_azure_adapter_arms_once_and_cancels() {
    the_adapter_arms_once_and_cancels::<FakeAzure>(("PATCH", "/pullrequests/"), |r| {
        r.method == "PATCH" && r.body.contains(BOT_ID)
    });
}

#[test]
fn failing_checks_read_on_the_quiet_path_cancel_it_too() {
    let w = world::<FakeGithub>(PLAIN, ON);
    sync_report(&w.ws, &[]);
    assert!(the_pr(w.fake.core()).auto_merge.is_some());
    set_checks(&w, vec![check("build", "fail", false)]);
    let s = sync_report(&w.ws, &[]);
    assert!(s["unchanged_since"].is_string(), "a quiet run: {s}");
    assert!(the_pr(w.fake.core()).auto_merge.is_none(), "{s}");
}
