//! The legal gate where reviewers work, end to end through the real binary on the GitHub and
//! Azure DevOps stand-ins: a held license change is approved or declined by a comment on the
//! rebuild PR, by an approver the forge names; anyone else's command changes nothing; every
//! decision is in the audit trail; a comment edited after the decision does not count.

use std::collections::BTreeMap;

use crate::forge_support::azure::FakeAzure;
use crate::forge_support::github::FakeGithub;
use crate::forge_support::{BOT_LOGIN, Core, FakeForge, FakePr, FakePrState, TOKEN};
use crate::support::{MIT, Repo, ServerSpec, Workspace, lockfile, server};

pub(crate) const SERVER: &str = "weather";
pub(crate) const TOKEN_ENV: &str = "UPKEEP_TEST_FORGE_TOKEN";

/// A forge stand-in, the `[servers.mirror]` table pointing at it, and how that forge names
/// the approver and someone else.
pub(crate) trait Stand: FakeForge {
    fn table(&self) -> String;
    /// The approver as the config names them, and as the forge's API names them.
    const APPROVER: (&'static str, &'static str);
    const STRANGER: &'static str;
}

impl Stand for FakeGithub {
    fn table(&self) -> String {
        format!(
            "forge = \"github\"\nrepo = \"acme/mirror\"\napi-url = {:?}\ntoken-env = \"{TOKEN_ENV}\"\nbase = \"main\"\npin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n",
            self.server.url()
        )
    }
    const APPROVER: (&'static str, &'static str) = ("github:cela-ada", "cela-ada");
    const STRANGER: &'static str = "mallory";
}

impl Stand for FakeAzure {
    fn table(&self) -> String {
        format!(
            "forge = \"azure-devops\"\nrepo = \"contoso/Mirror Project/mirror\"\nbase-url = {:?}\ntoken-env = \"{TOKEN_ENV}\"\nbase = \"main\"\npin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n",
            self.server.url()
        )
    }
    const APPROVER: (&'static str, &'static str) =
        ("azure:ada@contoso.example", "Ada@contoso.example");
    const STRANGER: &'static str = "mallory@contoso.example";
}

pub(crate) struct World<F> {
    pub(crate) ws: Workspace,
    pub(crate) up: Repo,
    pub(crate) fake: F,
}

/// Upstream at v1.0.0 (MIT, pinned) and v1.1.0 with a use restriction added to the license;
/// `[license] approvers` names the approver.
fn world<F: Stand>() -> World<F> {
    world_with::<F>(true)
}

/// The world, its v1.1.0 relicensed (held) or a plain release (`relicensed = false`).
pub(crate) fn world_with<F: Stand>(relicensed: bool) -> World<F> {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("upstream.git"));
    let c1 = up.commit(
        &[("LICENSE", Some(MIT)), ("src/a.py", Some("a = 1\n"))],
        "Release 1.0.0",
    );
    up.tag("v1.0.0", c1);
    if relicensed {
        relicense(&mut up, "v1.1.0");
    } else {
        let c2 = up.commit(&[("src/a.py", Some("a = 2\n"))], "fix: a");
        up.tag("v1.1.0", c2);
    }
    mirrored(ws, up)
}

/// The forge stand-in with its mirror pinned at `up`'s v1.0.0, the config pointing at it, and
/// `[license] approvers` naming the approver.
pub(crate) fn mirrored<F: Stand>(mut ws: Workspace, up: Repo) -> World<F> {
    ws.env.push((TOKEN_ENV.into(), TOKEN.into()));
    let fake = F::start();
    {
        let mut s = fake.core().lock();
        let pin = lockfile(&up.url(), "v1.0.0");
        let files = BTreeMap::from([("upkeep.lock".to_string(), pin.into_bytes())]);
        let id = s.put_commit(files, vec![], "Human", "human@example.com", "mirror pin");
        s.refs.insert("main".into(), id);
    }
    ws.write_config(&[ServerSpec {
        name: SERVER.into(),
        upstream: up.url(),
        mirror: String::new(),
        pin_file: "upkeep.lock".into(),
        pin_format: "lockfile".into(),
        mirror_table: Some(fake.table()),
    }]);
    ws.edit_config(|c| format!("{c}\n[license]\napprovers = [{:?}]\n", F::APPROVER.0));
    World { ws, up, fake }
}

fn relicense(up: &mut Repo, tag: &str) {
    let c = up.commit(
        &[(
            "LICENSE",
            Some(&format!(
                "{MIT}\nCommercial use requires a paid license ({tag}).\n"
            )),
        )],
        "relicense",
    );
    up.tag(tag, c);
}

pub(crate) fn sync(ws: &Workspace) -> serde_json::Value {
    let (code, report) = ws.sync();
    let s = server(&report, SERVER).clone();
    assert_eq!(code, 0, "sync failed: {s}");
    s
}

pub(crate) fn sync_full(ws: &Workspace) -> serde_json::Value {
    let (code, report) = ws.sync_with(&["--full"]);
    let s = server(&report, SERVER).clone();
    assert_eq!(code, 0, "sync failed: {s}");
    s
}

pub(crate) fn the_pr(core: &Core) -> FakePr {
    core.lock().prs.last().cloned().expect("upkeep opened a PR")
}

/// upkeep's replies on the PR.
pub(crate) fn replies(pr: &FakePr) -> Vec<String> {
    pr.comments
        .iter()
        .filter(|c| c.author == BOT_LOGIN)
        .map(|c| c.body.clone())
        .collect()
}

/// How many of upkeep's replies answer `comment` (by the hidden marker each reply carries).
pub(crate) fn replies_to(pr: &FakePr, comment: u64) -> usize {
    // The key is the forge's comment id: on Azure DevOps `<thread>-<comment>`, the thread's
    // id being what the stand-in returns.
    let marker = format!("<!-- upkeep:reply:{comment}");
    replies(pr).iter().filter(|r| r.contains(&marker)).count()
}

pub(crate) fn log(ws: &Workspace) -> Vec<serde_json::Value> {
    let out = ws.upkeep(&["license", "log", SERVER, "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// Held: a draft with the label; the body names the approver and the exact comment.
fn held<F: Stand>(w: &World<F>) -> u64 {
    let s = sync(&w.ws);
    assert_eq!(s["status"], "held", "{s}");
    let pr = the_pr(w.fake.core());
    assert!(pr.draft, "held as a draft");
    assert!(pr.labels.iter().any(|l| l == "license-review-required"));
    assert!(pr.body.contains("/upkeep approve-license"), "{}", pr.body);
    assert!(pr.body.contains("/upkeep decline-license <reason>"));
    let out = w.ws.upkeep(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let review = &status["servers"][0]["license_review"];
    assert!(
        review["since"].is_string(),
        "status shows the pending review: {status}"
    );
    assert_eq!(review["age_hours"], 0);
    // The approver as configured (Markdown-escaped: `\@` renders as `@`).
    assert!(
        pr.body.contains(&F::APPROVER.0.replace('@', "\\@")),
        "{}",
        pr.body
    );
    pr.id
}

fn approver_comment_releases_the_hold<F: Stand>() {
    let w = world::<F>();
    let id = held(&w);
    let core = w.fake.core();

    // A quiet run reads the held PR's comments with one request, and nothing else on the forge.
    core.clear_requests();
    let s = sync(&w.ws);
    assert!(s["unchanged_since"].is_string(), "a quiet run: {s}");
    // (The other requests of a quiet run are the open PR's pipeline results and one read of
    // the PR's state, which ends the quiet replay when it was merged or closed: issue 17.)
    let requests = core.requests();
    let comments: Vec<_> = requests
        .iter()
        .filter(|r| r.path.ends_with("/comments") || r.path.ends_with("/threads"))
        .collect();
    assert_eq!(comments.len(), 1, "{requests:?}");
    assert!(requests.iter().all(|r| r.method == "GET"), "{requests:?}");
    let checks = |p: &str| {
        [
            "/check-runs",
            "/status",
            "/statuses",
            "/policy/evaluations",
            "/repositories/mirror",
        ]
        .iter()
        .any(|end| p.ends_with(end))
    };
    let pr_state = |p: &str| {
        ["/pulls/", "/pullrequests/"].iter().any(|at| {
            p.rsplit_once(at)
                .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
    };
    let states: Vec<_> = requests.iter().filter(|r| pr_state(&r.path)).collect();
    assert_eq!(states.len(), 1, "{requests:?}");
    assert!(
        requests
            .iter()
            .all(|r| checks(&r.path) || pr_state(&r.path) || std::ptr::eq(r, comments[0])),
        "{requests:?}"
    );

    // Someone who is not an approver: one reply naming who may decide, nothing recorded.
    core.add_comment(id, F::STRANGER, "/upkeep approve-license trust me");
    let s = sync(&w.ws);
    assert_eq!(s["status"], "held", "{s}");
    let pr = the_pr(core);
    assert!(pr.draft);
    let r = replies(&pr);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("may not decide"), "{}", r[0]);
    assert!(r[0].contains(F::APPROVER.0.split('@').next().unwrap()));
    assert!(log(&w.ws).is_empty(), "nothing recorded");
    sync(&w.ws);
    assert_eq!(replies(&the_pr(core)).len(), 1, "one reply per comment");

    // The approver: released on this run, with the reply and the audit record.
    core.add_comment(id, F::APPROVER.1, "/upkeep approve-license CELA-7 reviewed");
    let s = sync(&w.ws);
    assert_ne!(s["status"], "held", "{s}");
    let pr = the_pr(core);
    assert!(!pr.draft, "ready for review");
    assert!(!pr.labels.iter().any(|l| l == "license-review-required"));
    let r = replies(&pr);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r[1].contains("License change approved"), "{}", r[1]);
    let entries = log(&w.ws);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(e["source"], "pr-comment");
    assert_eq!(e["decision"], "approved");
    assert_eq!(e["actor"], F::APPROVER.1);
    assert_eq!(e["note"], "CELA-7 reviewed");
    assert!(e["comment_url"].as_str().is_some_and(|u| !u.is_empty()));
    let text = w.ws.upkeep(&["license", "log"]).stdout;
    assert!(
        text.contains(&format!("approved by {} (pr-comment)", F::APPROVER.1)),
        "{text}"
    );
    let show = w.ws.upkeep(&["license", "show", SERVER]).stdout;
    assert!(
        show.contains("decisions:") && show.contains("approved by"),
        "{show}"
    );
    assert!(
        s["pull_request"]["draft"] == false,
        "the run report shows it ready: {s}"
    );
    let d = &s["license"]["decisions"][0];
    assert_eq!(d["source"], "pr-comment", "the report's decisions: {s}");
    assert_eq!(d["actor"], F::APPROVER.1);

    // The approver's comment edited after the decision: it counts as of nothing.
    let approving = pr
        .comments
        .iter()
        .find(|c| c.author == F::APPROVER.1)
        .unwrap()
        .id;
    core.edit_comment(id, approving, "/upkeep decline-license changed my mind");
    sync(&w.ws);
    let pr = the_pr(core);
    assert_eq!(pr.state, FakePrState::Open);
    assert_eq!(
        replies(&pr).len(),
        2,
        "no reply to an edit after the decision"
    );
    assert_eq!(log(&w.ws).len(), 1);

    // A new command on the released PR, which stays open: told it holds nothing, once.
    core.add_comment(id, F::APPROVER.1, "/upkeep decline-license too late");
    sync(&w.ws);
    sync(&w.ws);
    let pr = the_pr(core);
    assert_eq!(pr.state, FakePrState::Open);
    let r = replies(&pr);
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(r[2].contains("holds no license review waiting"), "{}", r[2]);
    assert_eq!(log(&w.ws).len(), 1, "nothing recorded");
}

fn approver_decline_closes_the_pr_and_declines_the_version<F: Stand>() {
    let mut w = world::<F>();
    let id = held(&w);
    let core = w.fake.core();
    let emails_before = w.ws.emails().len();
    core.add_comment(
        id,
        F::APPROVER.1,
        "/upkeep decline-license GPL terms @legal #12",
    );
    let s = sync(&w.ws);
    assert_ne!(s["status"], "held", "{s}");
    let pr = the_pr(core);
    assert_eq!(pr.state, FakePrState::Closed, "declined: closed");
    let r = replies(&pr);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("License change declined"), "{}", r[0]);
    assert!(r[0].contains("GPL terms"));
    assert!(
        !r[0].contains("@legal") && !r[0].contains("#12"),
        "mentions neutralised"
    );
    let entries = log(&w.ws);
    assert_eq!(entries[0]["decision"], "declined");
    assert_eq!(entries[0]["note"], "GPL terms @legal #12");
    let emails = w.ws.emails();
    let declined: Vec<_> = emails[emails_before..]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .filter(|t| t.contains("declined"))
        .collect();
    assert_eq!(declined.len(), 1, "the owners are emailed once");

    // The version stays declined: no new PR, no second email.
    let s = sync(&w.ws);
    assert_eq!(s["status"], "up-to-date", "{s}");
    let s = sync_full(&w.ws);
    assert_eq!(s["pull_request"]["action"], "declined", "{s}");
    assert_eq!(core.lock().prs.len(), 1);
    assert_eq!(w.ws.emails().len(), emails.len());

    // A newer release is proposed (and held again: its license changed too).
    relicense(&mut w.up, "v1.2.0");
    let s = sync(&w.ws);
    assert_eq!(s["status"], "held", "{s}");
    assert_eq!(core.lock().prs.len(), 2);
}

/// A PR that never held a review: a command there is told so, once; nothing is recorded.
fn a_command_where_nothing_was_ever_held_is_told_so<F: Stand>() {
    let w = world_with::<F>(false);
    let s = sync(&w.ws);
    assert_eq!(s["status"], "pr-opened", "{s}");
    let core = w.fake.core();
    let id = the_pr(core).id;
    core.add_comment(id, F::APPROVER.1, "/upkeep decline-license no thanks");
    sync(&w.ws);
    sync(&w.ws);
    let pr = the_pr(core);
    assert_eq!(pr.state, FakePrState::Open);
    let r = replies(&pr);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("holds no license review waiting"), "{}", r[0]);
    assert!(log(&w.ws).is_empty(), "nothing recorded");
}

#[test]
fn a_command_where_nothing_was_ever_held_is_told_so_on_github() {
    a_command_where_nothing_was_ever_held_is_told_so::<FakeGithub>();
}

#[test]
fn a_command_where_nothing_was_ever_held_is_told_so_on_azure_devops() {
    a_command_where_nothing_was_ever_held_is_told_so::<FakeAzure>();
}

#[test]
fn an_approver_comment_releases_the_hold_on_github() {
    approver_comment_releases_the_hold::<FakeGithub>();
}

#[test]
fn an_approver_comment_releases_the_hold_on_azure_devops() {
    approver_comment_releases_the_hold::<FakeAzure>();
}

#[test]
fn a_decline_by_comment_closes_the_pr_on_github() {
    approver_decline_closes_the_pr_and_declines_the_version::<FakeGithub>();
}

#[test]
fn a_decline_by_comment_closes_the_pr_on_azure_devops() {
    approver_decline_closes_the_pr_and_declines_the_version::<FakeAzure>();
}

const WEBHOOK_SECRET: &str = "test-webhook-secret-9a2e-0123456789abcdef";
pub(crate) const APPROVALS_TOKEN: &str = "test-approvals-token-5b7d-0123456789abcdef";

/// `upkeep serve` on this world, with the webhook secret and the approvals token; killed on drop.
pub(crate) struct Serving {
    child: std::process::Child,
    base: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn serve<F: Stand>(w: &World<F>) -> Serving {
    let port = crate::support::free_port();
    w.ws.edit_config(|c| {
        format!(
            "{c}\n[schedule]\ncron = \"0 0 1 1 *\"\ntimezone = \"UTC\"\n\n[service]\nlisten = \"127.0.0.1:{port}\"\n\
             webhook-secret-env = \"UPKEEP_TEST_WEBHOOK_SECRET\"\napprovals-token-env = \"UPKEEP_TEST_APPROVALS_TOKEN\"\n"
        )
    });
    let env = [
        (
            "UPKEEP_TEST_WEBHOOK_SECRET".to_string(),
            WEBHOOK_SECRET.to_string(),
        ),
        (
            "UPKEEP_TEST_APPROVALS_TOKEN".to_string(),
            APPROVALS_TOKEN.to_string(),
        ),
    ];
    let child = w.ws.spawn(&["serve"], &env);
    let base = format!("http://127.0.0.1:{port}");
    let s = Serving { child, base };
    crate::support::wait::wait_for(
        "the service to answer",
        crate::support::wait::CEILING,
        || client().get(format!("{}/healthz", s.base)).send().ok(),
    );
    s
}

fn client() -> reqwest::blocking::Client {
    upkeep::http::install_crypto_provider();
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

fn post_decision(s: &Serving, verdict: &str, token: Option<&str>, body: &str) -> (u16, String) {
    post_to(s, &format!("/licenses/{SERVER}/{verdict}"), token, body)
}

/// POST `body` to the service's `path`, with the bearer `token` if any: (status, text).
pub(crate) fn post_to(s: &Serving, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut req = client()
        .post(format!("{}{path}", s.base))
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// On GitHub, a signed `issue_comment` delivery syncs the server at once: the approver's
/// comment releases the hold without waiting for the schedule. Then the API: the token is
/// checked, and a decline by `POST /licenses/{server}/decline` closes the next held PR.
#[test]
fn the_webhook_releases_at_once_and_the_api_declines() {
    let mut w = world::<FakeGithub>();
    let id = held(&w);
    let s = serve(&w);
    let core = w.fake.core();
    core.add_comment(id, FakeGithub::APPROVER.1, "/upkeep approve-license CELA-9");
    let payload = serde_json::json!({
        "action": "created",
        "issue": { "number": id, "pull_request": { "url": "x" } },
        "comment": { "body": "/upkeep approve-license CELA-9", "user": { "login": FakeGithub::APPROVER.1 } },
        "repository": { "full_name": "acme/mirror" },
    })
    .to_string();
    let deliver = |signature: &str| {
        let r = client()
            .post(format!("{}/webhooks/github", s.base))
            .header("X-GitHub-Event", "issue_comment")
            .header(
                "X-GitHub-Delivery",
                format!("{:08x}-0000-4000-8000-000000000001", std::process::id()),
            )
            .header("X-Hub-Signature-256", signature)
            .body(payload.clone())
            .send()
            .unwrap();
        r.status().as_u16()
    };
    let wrong = upkeep::service::auth::sign(b"not the secret", payload.as_bytes());
    assert_eq!(
        deliver(&wrong),
        401,
        "a wrongly signed delivery changes nothing"
    );
    let signed = upkeep::service::auth::sign(WEBHOOK_SECRET.as_bytes(), payload.as_bytes());
    assert_eq!(deliver(&signed), 202);
    // The run updates the PR in steps (draft flag, labels): wait for the whole of it.
    crate::support::wait::wait_for(
        "the PR to be released",
        crate::support::wait::CEILING,
        || {
            let pr = the_pr(core);
            (!pr.draft && !pr.labels.iter().any(|l| l == "license-review-required")).then_some(())
        },
    );
    let pr = the_pr(core);
    assert!(!pr.labels.iter().any(|l| l == "license-review-required"));
    assert!(
        replies(&pr)
            .iter()
            .any(|r| r.contains("License change approved"))
    );

    // The API: no token or a wrong one is refused before anything is read.
    let body = r#"{"by": "Legal Lee", "note": "terms unacceptable"}"#;
    assert_eq!(post_decision(&s, "decline", None, body).0, 401);
    assert_eq!(
        post_decision(
            &s,
            "decline",
            Some("wrong-token-0123456789abcdef0123456789"),
            body
        )
        .0,
        401
    );
    let (code, text) = post_decision(&s, "approve", Some(APPROVALS_TOKEN), body);
    assert_eq!(code, 409, "nothing waits for review now: {text}");
    assert_eq!(
        post_decision(&s, "decline", Some(APPROVALS_TOKEN), r#"{"by": "x"}"#).0,
        400,
        "a decline needs a reason"
    );

    // A newer release with another license text is held; the API declines it.
    relicense(&mut w.up, "v1.2.0");
    // The webhook's run may still hold the lease for a moment (the outbox drain): retry.
    let r = crate::support::wait::wait_for(
        "a sync after the webhook's run",
        crate::support::wait::CEILING,
        || {
            let (code, report) = w.ws.sync();
            (code == 0).then(|| server(&report, SERVER).clone())
        },
    );
    assert_eq!(r["status"], "held", "{r}");
    let (code, text) = post_decision(&s, "decline", Some(APPROVALS_TOKEN), body);
    assert_eq!(code, 200, "{text}");
    sync(&w.ws);
    let pr = the_pr(core);
    assert_eq!(pr.state, FakePrState::Closed);
    assert!(
        replies(&pr)
            .iter()
            .any(|r| r.contains("terms unacceptable"))
    );
    let entries = log(&w.ws);
    let sources: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["source"].as_str().unwrap(),
                e["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(sources, [("pr-comment", "approved"), ("api", "declined")]);
}

/// `sync --now` with a failpoint armed; true when the process was killed there.
pub(crate) fn crash_at<F: Stand>(w: &World<F>, point: &str) -> bool {
    let out = assert_cmd::Command::cargo_bin("upkeep")
        .unwrap()
        .args(["sync", "--now", "--json", "--config"])
        .arg(w.ws.config_path())
        .env("UPKEEP_FAILPOINT", point)
        .env("UPKEEP_LOG", "warn")
        .envs(w.ws.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    match out.status.code() {
        None => true,
        Some(code) => panic!(
            "the run did not reach {point} (exit {code}): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// A decision by comment survives a SIGKILL between reading the comment and recording it,
/// between recording it and replying, and between replying and recording the reply: after the
/// next run there is exactly one decision and exactly one reply to the comment.
fn a_crash_loses_no_decision_and_doubles_no_reply<F: Stand>(decline: bool) {
    for point in ["commands-read", "commands-recorded", "command-reply-posted"] {
        let w = world::<F>();
        let id = held(&w);
        let core = w.fake.core();
        let command = if decline {
            "/upkeep decline-license not for us"
        } else {
            "/upkeep approve-license CELA-3"
        };
        let comment = core.add_comment(id, F::APPROVER.1, command);
        assert!(crash_at(&w, point), "killed at {point}");
        sync(&w.ws);
        sync(&w.ws);
        let pr = the_pr(core);
        let answers = replies_to(&pr, comment);
        assert_eq!(
            answers,
            1,
            "one reply after a crash at {point}: {:?}",
            pr.texts()
        );
        let entries = log(&w.ws);
        assert_eq!(
            entries.len(),
            1,
            "one decision after a crash at {point}: {entries:?}"
        );
        if decline {
            assert_eq!(pr.state, FakePrState::Closed, "{point}");
            let declined =
                w.ws.emails()
                    .iter()
                    .filter(|p| std::fs::read_to_string(p).unwrap().contains("declined"))
                    .count();
            assert_eq!(declined, 1, "one email after a crash at {point}");
        } else {
            assert!(!pr.draft, "released after a crash at {point}");
        }
    }
}

#[test]
fn an_approval_by_comment_survives_a_crash() {
    a_crash_loses_no_decision_and_doubles_no_reply::<FakeGithub>(false);
}

#[test]
fn a_decline_by_comment_survives_a_crash() {
    a_crash_loses_no_decision_and_doubles_no_reply::<FakeAzure>(true);
}
