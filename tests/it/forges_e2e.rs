//! The same rebuild-PR scenarios, end to end through the real binary, on all three forges: the
//! local git mirror, and GitHub and Azure DevOps as stateful fakes on 127.0.0.1 that speak
//! their REST APIs.

use std::collections::BTreeMap;

use crate::forge_support::azure::FakeAzure;
use crate::forge_support::github::FakeGithub;
use crate::forge_support::{Core, FakeForge, FakePrState, TOKEN};
use crate::support::{MIT, Repo, ServerSpec, Workspace, lockfile, server};

const SERVER: &str = "weather";
const TOKEN_ENV: &str = "UPKEEP_TEST_FORGE_TOKEN";

#[derive(Debug)]
struct PrView {
    title: String,
    body: String,
    draft: bool,
    labels: Vec<String>,
}

/// What the scenarios need to see and do on a mirror, whatever forge hosts it.
trait Mirror {
    fn mirror_table(&self) -> String;
    fn open_prs(&self) -> Vec<PrView>;
    fn pin_on_bot_branch(&self) -> Option<String>;
    /// A person closes the open PR without merging.
    fn close_open_pr(&self);
    /// What a crash between the forge's push and upkeep's record of it leaves on the mirror:
    /// the bot's one commit on base. Returns the base commit it sits on.
    fn seed_bot_branch(&self) -> String;
    /// Someone lands a commit on the base branch.
    fn advance_main(&self);
    /// A person pushes a commit to the bot branch; returns the new head.
    fn push_as_person(&self) -> String;
    fn bot_head(&self) -> Option<String>;
    /// The comments on the PR of the usual bot branch.
    fn comments_on_bot_pr(&self) -> Vec<String>;
    fn body_limit(&self) -> usize;
    /// How many requests the forge has served (None for the local mirror, which has no server).
    fn forge_requests(&self) -> Option<usize>;
}

fn bot_email() -> String {
    upkeep::pipeline::bot_identity().email
}

// ---- local ----------------------------------------------------------------------------------

struct Local(Repo);

impl Mirror for Local {
    fn mirror_table(&self) -> String {
        format!(
            "forge = \"local\"\nrepo = {:?}\nbase = \"main\"\npin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n",
            self.0.url()
        )
    }
    fn open_prs(&self) -> Vec<PrView> {
        let dir = self.0.path.join("upkeep/prs");
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.path().extension().is_some_and(|x| x == "json") {
                let v: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
                if v["ended"].is_null() && self.0.branch(v["branch"].as_str().unwrap()).is_some() {
                    out.push(PrView {
                        title: v["title"].as_str().unwrap().into(),
                        body: v["body"].as_str().unwrap().into(),
                        draft: v["draft"].as_bool().unwrap(),
                        labels: v["labels"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|l| l.as_str().unwrap().to_string())
                            .collect(),
                    });
                }
            }
        }
        out
    }
    fn pin_on_bot_branch(&self) -> Option<String> {
        self.0.file_at(&format!("upkeep/{SERVER}"), "upkeep.lock")
    }
    fn close_open_pr(&self) {
        self.0
            .repo
            .find_branch(&format!("upkeep/{SERVER}"), git2::BranchType::Local)
            .unwrap()
            .delete()
            .unwrap();
    }
    fn seed_bot_branch(&self) -> String {
        let base = self.0.head();
        git_commit_on(
            &self.0.repo,
            &format!("upkeep/{SERVER}"),
            base,
            "upkeep",
            &bot_email(),
            "partial",
        );
        base.to_string()
    }
    fn advance_main(&self) {
        git_commit_on(
            &self.0.repo,
            "main",
            self.0.head(),
            "Human",
            "human@example.com",
            "unrelated change on main",
        );
    }
    fn push_as_person(&self) -> String {
        let branch = format!("upkeep/{SERVER}");
        let head = self.0.branch(&branch).unwrap();
        git_commit_on(
            &self.0.repo,
            &branch,
            head,
            "Pat Person",
            "pat@example.org",
            "fix the build",
        )
        .to_string()
    }
    fn bot_head(&self) -> Option<String> {
        self.0
            .branch(&format!("upkeep/{SERVER}"))
            .map(|o| o.to_string())
    }
    fn comments_on_bot_pr(&self) -> Vec<String> {
        let pr: serde_json::Value = serde_json::from_slice(
            &std::fs::read(
                self.0
                    .path
                    .join(format!("upkeep/prs/upkeep__{SERVER}.json")),
            )
            .unwrap(),
        )
        .unwrap();
        pr["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    }
    fn body_limit(&self) -> usize {
        65_536
    }
    fn forge_requests(&self) -> Option<usize> {
        None
    }
}

// ---- GitHub and Azure DevOps fakes -----------------------------------------------------------

fn seed_main(core: &Core, pin: &str) {
    let mut s = core.lock();
    let files = BTreeMap::from([("upkeep.lock".to_string(), pin.as_bytes().to_vec())]);
    let id = s.put_commit(files, vec![], "Human", "human@example.com", "mirror pin");
    s.refs.insert("main".into(), id);
}

fn fake_open_prs(core: &Core) -> Vec<PrView> {
    core.lock()
        .prs
        .iter()
        .filter(|p| p.state == FakePrState::Open)
        .map(|p| PrView {
            title: p.title.clone(),
            body: p.body.clone(),
            draft: p.draft,
            labels: p.labels.clone(),
        })
        .collect()
}

fn fake_close(core: &Core) {
    let id = core
        .lock()
        .prs
        .iter()
        .find(|p| p.state == FakePrState::Open)
        .map(|p| p.id)
        .expect("an open PR");
    core.set_pr_state(id, FakePrState::Closed, "Reviewer Rae");
}

/// A commit on `branch` (created at `parent` if missing) with `parent`'s tree.
fn git_commit_on(
    repo: &git2::Repository,
    branch: &str,
    parent: git2::Oid,
    name: &str,
    email: &str,
    message: &str,
) -> git2::Oid {
    let parent = repo.find_commit(parent).unwrap();
    let sig = git2::Signature::now(name, email).unwrap();
    repo.commit(
        Some(&format!("refs/heads/{branch}")),
        &sig,
        &sig,
        message,
        &parent.tree().unwrap(),
        &[&parent],
    )
    .unwrap()
}

fn fake_seed_bot_branch(core: &Core) -> String {
    let head = core.head("main").unwrap();
    core.lock()
        .refs
        .insert(format!("upkeep/{SERVER}"), head.clone());
    core.push_commit(
        &format!("upkeep/{SERVER}"),
        "upkeep.lock",
        b"partial\n",
        &bot_email(),
    );
    head
}

/// A GitHub or Azure DevOps fake with the `[servers.mirror]` table that points at it.
struct Fake<F> {
    fake: F,
    table: String,
}

impl<F: FakeForge> Mirror for Fake<F> {
    fn mirror_table(&self) -> String {
        self.table.clone()
    }
    fn open_prs(&self) -> Vec<PrView> {
        fake_open_prs(self.fake.core())
    }
    fn pin_on_bot_branch(&self) -> Option<String> {
        let core = self.fake.core();
        let head = core.head(&format!("upkeep/{SERVER}"))?;
        core.file_at(&head, "upkeep.lock")
            .map(|b| String::from_utf8(b).unwrap())
    }
    fn close_open_pr(&self) {
        fake_close(self.fake.core());
    }
    fn seed_bot_branch(&self) -> String {
        fake_seed_bot_branch(self.fake.core())
    }
    fn advance_main(&self) {
        self.fake
            .core()
            .push_commit("main", "OTHER.md", b"unrelated\n", "human@example.com");
    }
    fn push_as_person(&self) -> String {
        self.fake.core().push_commit(
            &format!("upkeep/{SERVER}"),
            "NOTES.md",
            b"hand edit\n",
            "pat@example.org",
        )
    }
    fn bot_head(&self) -> Option<String> {
        self.fake.core().head(&format!("upkeep/{SERVER}"))
    }
    fn comments_on_bot_pr(&self) -> Vec<String> {
        let branch = format!("upkeep/{SERVER}");
        self.fake
            .core()
            .lock()
            .prs
            .iter()
            .filter(|p| p.head == branch)
            .flat_map(|p| p.texts())
            .collect()
    }
    fn body_limit(&self) -> usize {
        F::BODY_LIMIT
    }
    fn forge_requests(&self) -> Option<usize> {
        Some(
            self.fake
                .core()
                .requests()
                .iter()
                .filter(|r| !reads_checks(&r.method, &r.path))
                .count(),
        )
    }
}

/// The reads of an open PR's pipeline results, which the quiet path makes by design (issue
/// 17): GitHub's check runs and combined status of the head; Azure DevOps' PR statuses, the
/// repository (for its project id) and the policy evaluations.
fn reads_checks(method: &str, path: &str) -> bool {
    method == "GET"
        && (path.ends_with("/check-runs")
            || path.ends_with("/status")
            || path.ends_with("/statuses")
            || path.ends_with("/_apis/policy/evaluations")
            || path.ends_with("/_apis/git/repositories/mirror"))
}

// ---- the scenarios -------------------------------------------------------------------------

struct World<M> {
    ws: Workspace,
    up: Repo,
    mirror: M,
}

fn world<M: Mirror>(make: impl FnOnce(&Workspace, &str) -> M) -> World<M> {
    let mut ws = Workspace::new();
    ws.env.push((TOKEN_ENV.into(), TOKEN.into()));
    let mut up = Repo::new(&ws.path("upstream.git"));
    let c1 = up.commit(
        &[("LICENSE", Some(MIT)), ("src/a.py", Some("a = 1\n"))],
        "Release 1.0.0",
    );
    up.tag("v1.0.0", c1);
    let c2 = up.commit(&[("src/a.py", Some("a = 2\n"))], "feat: two");
    up.tag("v1.1.0", c2);
    let pin = lockfile(&up.url(), "v1.0.0");
    let mirror = make(&ws, &pin);
    ws.write_config(&[ServerSpec {
        name: SERVER.into(),
        upstream: up.url(),
        mirror: String::new(),
        pin_file: "upkeep.lock".into(),
        pin_format: "lockfile".into(),
        mirror_table: Some(mirror.mirror_table()),
    }]);
    World { ws, up, mirror }
}

fn local(ws: &Workspace, pin: &str) -> Local {
    let mut m = Repo::new(&ws.path("mirror.git"));
    m.commit(&[("upkeep.lock", Some(pin))], "mirror pin");
    Local(m)
}

fn github(_: &Workspace, pin: &str) -> Fake<FakeGithub> {
    let fake = FakeGithub::start();
    seed_main(&fake.core, pin);
    let table = format!(
        "forge = \"github\"\nrepo = \"acme/mirror\"\napi-url = {:?}\ntoken-env = \"{TOKEN_ENV}\"\nbase = \"main\"\npin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n",
        fake.server.url()
    );
    Fake { fake, table }
}

fn azure(_: &Workspace, pin: &str) -> Fake<FakeAzure> {
    let fake = FakeAzure::start();
    seed_main(&fake.core, pin);
    let table = format!(
        "forge = \"azure-devops\"\nrepo = \"contoso/Mirror Project/mirror\"\nbase-url = {:?}\ntoken-env = \"{TOKEN_ENV}\"\nbase = \"main\"\npin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n",
        fake.server.url()
    );
    Fake { fake, table }
}

fn sync_ok<M: Mirror>(w: &World<M>) -> serde_json::Value {
    sync_ok_with(w, &[])
}

/// A full check: reads the forge even though upstream is quiet (what `recheck` does on schedule).
fn sync_full<M: Mirror>(w: &World<M>) -> serde_json::Value {
    sync_ok_with(w, &["--full"])
}

fn sync_ok_with<M: Mirror>(w: &World<M>, args: &[&str]) -> serde_json::Value {
    let (code, report) = w.ws.sync_with(args);
    let s = server(&report, SERVER).clone();
    assert_eq!(code, 0, "sync failed: {s}");
    s
}

/// A release `tag` that adds a use restriction to the MIT license: a license change to review.
fn relicense(up: &mut Repo, tag: &str) {
    let c = up.commit(
        &[(
            "LICENSE",
            Some(&format!("{MIT}\nCommercial use requires a paid license.\n")),
        )],
        "relicense",
    );
    up.tag(tag, c);
}

fn the_pr_ladder<M: Mirror>(mut w: World<M>) {
    // A new release: exactly one PR, the pin bumped by tag and commit, the body within the limit.
    let s = sync_ok(&w);
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    let prs = w.mirror.open_prs();
    assert_eq!(prs.len(), 1, "{prs:?}");
    assert!(prs[0].title.contains("1.0.0 → 1.1.0"), "{prs:?}");
    assert!(!prs[0].draft);
    assert!(prs[0].labels.iter().any(|l| l == "upkeep"));
    assert!(prs[0].body.chars().count() <= w.mirror.body_limit());
    let pin = w.mirror.pin_on_bot_branch().unwrap();
    assert!(pin.contains("refs/tags/v1.1.0"), "{pin}");
    assert!(
        pin.contains(
            &w.up
                .repo
                .revparse_single("v1.1.0^{commit}")
                .unwrap()
                .id()
                .to_string()
        ),
        "{pin}"
    );

    // Nothing new upstream: the run costs no forge call but the open PR's checks and one read
    // of the PR's state (issue 17: a PR merged or closed since would end the quiet replay; on
    // GitHub a conditional one, a `304` from the next quiet run on), and changes nothing.
    let before = w.mirror.forge_requests();
    let s = sync_ok(&w);
    assert!(s["unchanged_since"].is_string(), "{s}");
    assert_eq!(s["status"], "pr-open", "{s}");
    assert_eq!(
        w.mirror.forge_requests(),
        before.map(|n| n + 1),
        "a quiet run called the forge for more than the PR's checks and its state"
    );
    // A full check reads the forge and agrees: open, and not opened by this run.
    let s = sync_full(&w);
    assert_eq!(s["pull_request"]["action"], "unchanged", "{s}");
    assert_eq!(s["status"], "pr-open", "{s}");
    assert_eq!(w.mirror.open_prs().len(), 1);

    // A newer release with a long history: the same PR is updated, its body cut to the limit.
    let mut last = w.up.head();
    for i in 0..150 {
        last = w.up.commit(&[("src/a.py", Some(&format!("a = {i}\n")))], &format!("chore: a long commit subject number {i} that goes on and on to fill the PR body {}", "x".repeat(40)));
    }
    w.up.tag("v1.2.0", last);
    let s = sync_ok(&w);
    assert_eq!(s["pull_request"]["action"], "updated", "{s}");
    let prs = w.mirror.open_prs();
    assert_eq!(prs.len(), 1, "{prs:?}");
    assert!(prs[0].title.contains("→ 1.2.0"), "{prs:?}");
    assert!(
        prs[0].body.chars().count() <= w.mirror.body_limit(),
        "{} > {}",
        prs[0].body.chars().count(),
        w.mirror.body_limit()
    );
    assert!(w.mirror.pin_on_bot_branch().unwrap().contains("v1.2.0"));

    // Closed without merge: that version is declined and left alone.
    // Upstream is quiet, so the full check (on schedule every `recheck`) is what notices it.
    w.mirror.close_open_pr();
    let s = sync_full(&w);
    assert_eq!(s["pull_request"]["action"], "declined", "{s}");
    assert!(w.mirror.open_prs().is_empty());
    let s = sync_full(&w);
    assert_eq!(s["pull_request"]["action"], "declined", "{s}");
    assert!(w.mirror.open_prs().is_empty());
    let s = sync_ok(&w);
    assert_eq!(s["status"], "up-to-date", "{s}");
    assert!(s["unchanged_since"].is_string(), "{s}");

    // A newer release with a license change: a new PR, held as a draft with the label; one email.
    relicense(&mut w.up, "v1.3.0");
    let s = sync_ok(&w);
    assert_eq!(s["status"], "held", "{s}");
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    let prs = w.mirror.open_prs();
    assert_eq!(prs.len(), 1, "{prs:?}");
    assert!(prs[0].draft, "{prs:?}");
    assert!(
        prs[0].labels.iter().any(|l| l == "license-review-required"),
        "{prs:?}"
    );
    assert!(
        prs[0]
            .body
            .contains("Blocked: license change needs CELA review")
    );
    assert_eq!(w.ws.emails().len(), 1);

    // Approval releases the hold: ready for review, label gone, no further email.
    let out =
        w.ws.upkeep(&["license", "approve", SERVER, "--by", "Cee Ela"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let s = sync_ok(&w);
    assert_eq!(s["pull_request"]["action"], "updated", "{s}");
    let prs = w.mirror.open_prs();
    assert_eq!(prs.len(), 1, "{prs:?}");
    assert!(!prs[0].draft, "{prs:?}");
    assert!(
        !prs[0].labels.iter().any(|l| l == "license-review-required"),
        "{prs:?}"
    );
    assert_eq!(w.ws.emails().len(), 1);
}

fn a_crash_between_branch_and_pr_leaves_no_duplicate<M: Mirror>(w: World<M>) {
    // The mirror has the bot's commit, and the state still has the write marked in flight.
    let base = w.mirror.seed_bot_branch();
    let store = upkeep::store::Store::open(&w.ws.path("state/upkeep.db")).unwrap();
    store
        .branch_write_started(SERVER, &format!("upkeep/{SERVER}"), &base)
        .unwrap();
    drop(store);
    let s = sync_ok(&w);
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    assert_eq!(w.mirror.open_prs().len(), 1);
    assert!(
        w.mirror
            .pin_on_bot_branch()
            .unwrap()
            .contains("refs/tags/v1.1.0")
    );
    let s = sync_full(&w);
    assert_eq!(s["pull_request"]["action"], "unchanged", "{s}");
    assert_eq!(w.mirror.open_prs().len(), 1);
}

/// A branch upkeep has no record of writing is never reset, whoever authored it: the rebuild
/// goes to a fresh branch and the one found is left as it is.
fn an_unrecorded_bot_branch_is_left_alone<M: Mirror>(w: World<M>) {
    w.mirror.seed_bot_branch();
    let seeded = w.mirror.bot_head();
    let s = sync_ok(&w);
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    assert_ne!(
        s["pull_request"]["branch"],
        format!("upkeep/{SERVER}"),
        "{s}"
    );
    assert_eq!(
        w.mirror.bot_head(),
        seeded,
        "the branch found was not reset"
    );
    assert_eq!(w.mirror.open_prs().len(), 1);
}

/// Base moving on after the PR opened is not a person's edit: a newer release updates the
/// same PR in place. A person's commit on the bot branch is: it is never overwritten, their PR
/// is told (with the commit listed) and the rebuild continues on a fresh branch.
fn base_moves_then_a_person_pushes<M: Mirror>(mut w: World<M>) {
    let s = sync_ok(&w);
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    w.mirror.advance_main();
    let c = w.up.commit(&[("src/a.py", Some("a = 3\n"))], "feat: three");
    w.up.tag("v1.2.0", c);
    let s = sync_ok(&w);
    assert_eq!(s["pull_request"]["action"], "updated", "{s}");
    assert_eq!(
        s["pull_request"]["branch"],
        format!("upkeep/{SERVER}"),
        "{s}"
    );
    assert_eq!(w.mirror.open_prs().len(), 1, "no second PR");
    assert!(w.mirror.pin_on_bot_branch().unwrap().contains("v1.2.0"));
    assert!(w.mirror.comments_on_bot_pr().is_empty());

    let theirs = w.mirror.push_as_person();
    let c = w.up.commit(&[("src/a.py", Some("a = 4\n"))], "feat: four");
    w.up.tag("v1.3.0", c);
    let s = sync_ok(&w);
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    let fresh = s["pull_request"]["branch"].as_str().unwrap().to_string();
    assert!(fresh.starts_with(&format!("upkeep/{SERVER}-r")), "{s}");
    assert_eq!(
        w.mirror.bot_head(),
        Some(theirs),
        "the person's commit is still the head"
    );
    let comments = w.mirror.comments_on_bot_pr();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains("will not force-push"),
        "{}",
        comments[0]
    );
    let listed = ["fix the build", "manual change"];
    assert!(
        listed.iter().any(|l| comments[0].contains(l)),
        "{}",
        comments[0]
    );
    // The fresh PR is the one kept up to date from now on.
    let s = sync_full(&w);
    assert_eq!(s["pull_request"]["action"], "unchanged", "{s}");
    assert_eq!(s["pull_request"]["branch"], fresh.as_str());
}

/// Azure DevOps: a reviewer nobody resolves and a label the PAT may not create are warnings in
/// the report and in `status`; the PR is open, and the next run neither pushes nor fails again.
#[test]
fn azure_refusals_are_warnings_and_not_retried_by_pushing() {
    let w = world(|ws, pin| {
        let mut f = azure(ws, pin);
        f.table.push_str("reviewers = [\"nobody@example.com\"]\n");
        f.fake.core.lock().tag_create_denied = true;
        f
    });
    let s = sync_ok(&w);
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    let warnings = s["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{s}");
    assert!(
        warnings[0].as_str().unwrap().contains("nobody@example.com"),
        "{s}"
    );
    assert!(
        warnings[1]
            .as_str()
            .unwrap()
            .contains("Create tag definition"),
        "{s}"
    );
    assert_eq!(w.mirror.open_prs().len(), 1);

    let core = w.mirror.fake.core();
    core.clear_requests();
    let s = sync_full(&w);
    assert_eq!(s["pull_request"]["action"], "unchanged", "{s}");
    assert_eq!(s["warnings"].as_array().unwrap().len(), 2, "{s}");
    let writes: Vec<String> = core
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "the second run wrote: {writes:?}");
    let status: serde_json::Value =
        serde_json::from_str(&w.ws.upkeep(&["status", "--json"]).stdout).unwrap();
    let shown = status["servers"][0]["warnings"].as_array().unwrap();
    assert!(
        shown
            .iter()
            .any(|x| x.as_str().unwrap().contains("TF401289")),
        "{status}"
    );
    let text = w.ws.upkeep(&["status"]).stdout;
    assert!(
        text.contains("warning: reviewer `nobody@example.com`"),
        "{text}"
    );
}

#[test]
fn base_moves_and_a_person_pushes_on_the_local_mirror() {
    base_moves_then_a_person_pushes(world(local));
}

#[test]
fn base_moves_and_a_person_pushes_on_github() {
    base_moves_then_a_person_pushes(world(github));
}

#[test]
fn base_moves_and_a_person_pushes_on_azure_devops() {
    base_moves_then_a_person_pushes(world(azure));
}

#[test]
fn an_unrecorded_branch_on_github_is_left_alone() {
    an_unrecorded_bot_branch_is_left_alone(world(github));
}

#[test]
fn an_unrecorded_branch_on_azure_devops_is_left_alone() {
    an_unrecorded_bot_branch_is_left_alone(world(azure));
}

/// A repository without draft PRs (GitHub: "Draft pull requests are not supported in this
/// repository."): the held rebuild PR is opened ready for review, with the Blocked banner saying
/// it must not be merged, and the review label; the report says so. A second run leaves it.
#[test]
fn a_held_pr_where_drafts_are_not_available_is_opened_ready_and_blocked() {
    let mut w = world(github);
    w.mirror.fake.core.lock().drafts_unsupported = true;
    relicense(&mut w.up, "v1.2.0");
    let s = sync_ok(&w);
    assert_eq!(s["status"], "held", "{s}");
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    assert_eq!(s["pull_request"]["draft"], false, "{s}");
    let notes = s["notes"].to_string();
    assert!(notes.contains("draft PRs are not available"), "{s}");
    let prs = w.mirror.open_prs();
    assert_eq!(prs.len(), 1, "{prs:?}");
    assert!(!prs[0].draft, "{prs:?}");
    assert!(
        prs[0].labels.iter().any(|l| l == "license-review-required"),
        "{prs:?}"
    );
    assert!(
        prs[0]
            .body
            .contains("Blocked: license change needs CELA review"),
        "{}",
        prs[0].body
    );
    assert!(
        prs[0].body.contains("must not be merged"),
        "{}",
        prs[0].body
    );
    assert!(!prs[0].body.contains("stays a draft"), "{}", prs[0].body);
    // A full check finds it as it left it: open, nothing to do, not opened again.
    let s = sync_full(&w);
    assert_eq!(s["pull_request"]["action"], "unchanged", "{s}");
    assert_eq!(s["status"], "held", "{s}");
    assert_eq!(w.mirror.open_prs().len(), 1);
}

/// The PR create is carried out but its answer is lost (a 502): the run re-reads, finds the PR
/// and carries on with it: exactly one PR, reported created.
#[test]
fn a_pr_create_whose_answer_was_lost_opens_exactly_one_pr() {
    let w = world(github);
    w.mirror.fake.core.lose_answer("POST", "/pulls", 502, 1);
    let s = sync_ok(&w);
    assert_eq!(s["status"], "pr-opened", "{s}");
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    assert_eq!(w.mirror.open_prs().len(), 1);
    let creates = w
        .mirror
        .fake
        .core
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/pulls"))
        .count();
    assert_eq!(creates, 1, "the create was not sent again");
    let s = sync_full(&w);
    assert_eq!(s["status"], "pr-open", "{s}");
    assert_eq!(w.mirror.open_prs().len(), 1);
}

#[test]
fn pr_ladder_on_the_local_mirror() {
    the_pr_ladder(world(local));
}

#[test]
fn pr_ladder_on_github() {
    the_pr_ladder(world(github));
}

#[test]
fn pr_ladder_on_azure_devops() {
    the_pr_ladder(world(azure));
}

#[test]
fn crash_recovery_on_the_local_mirror() {
    a_crash_between_branch_and_pr_leaves_no_duplicate(world(local));
}

#[test]
fn crash_recovery_on_github() {
    a_crash_between_branch_and_pr_leaves_no_duplicate(world(github));
}

#[test]
fn crash_recovery_on_azure_devops() {
    a_crash_between_branch_and_pr_leaves_no_duplicate(world(azure));
}

#[test]
fn a_forge_error_fails_that_server_with_the_response_and_no_token() {
    let w = world(github);
    w.mirror.fake.core.fail_next(401, 10, &[]);
    let (code, report) = w.ws.sync();
    assert_eq!(code, 1);
    let err = server(&report, SERVER)["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("401") || err.contains("unauthorized"), "{err}");
    assert!(!err.contains(TOKEN), "the token leaked: {err}");
}
