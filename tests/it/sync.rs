//! `upkeep sync --now` end to end on the embedded defaults (local mirror, file outbox, SQLite).

use crate::support::{
    MIT, Repo, ServerSpec, Workspace, commits_ahead, lockfile, pipeline_yaml, server,
};

/// An upstream with v1.0.0 and v1.1.0 (MIT both), and a mirror pinned at v1.0.0.
struct Fixture {
    ws: Workspace,
    up: Repo,
    mirror: Repo,
}

fn fixture(format: &str) -> Fixture {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("upstream.git"));
    let c1 = up.commit(
        &[("LICENSE", Some(MIT)), ("src/main.py", Some("print(1)\n"))],
        "Release 1.0.0",
    );
    up.tag("v1.0.0", c1);
    let c2 = up.commit(&[("src/main.py", Some("print(2)\n"))], "feat: two");
    up.tag("v1.1.0", c2);
    let mut mirror = Repo::new(&ws.path("mirror.git"));
    let spec = if format == "lockfile" {
        mirror.commit(
            &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.0.0")))],
            "pin",
        );
        ServerSpec::lockfile("demo-server", &up, &mirror)
    } else {
        mirror.commit(
            &[(
                "azure-pipelines.yml",
                Some(&pipeline_yaml("upstream", "v1.0.0")),
            )],
            "pin",
        );
        ServerSpec {
            name: "demo-server".into(),
            upstream: up.url(),
            mirror: mirror.url(),
            pin_file: "azure-pipelines.yml".into(),
            pin_format: "azure-pipelines".into(),
            mirror_table: None,
        }
    };
    ws.write_config(&[spec]);
    Fixture { ws, up, mirror }
}

#[test]
fn a_new_release_opens_one_pr_that_changes_only_the_pin_and_a_rerun_changes_nothing() {
    let f = fixture("lockfile");
    let (code, report) = f.ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "demo-server");
    assert_eq!(s["status"], "pr-opened", "{s}");
    assert_eq!(s["pinned"]["ref"], "refs/tags/v1.0.0");
    assert_eq!(s["latest"]["version"], "1.1.0");
    assert_eq!(s["latest"]["tag"], "v1.1.0");
    assert_eq!(s["pull_request"]["action"], "created");
    assert_eq!(s["pull_request"]["branch"], "upkeep/demo-server");
    assert!(
        s["pull_request"]["title"]
            .as_str()
            .unwrap()
            .contains("1.0.0 → 1.1.0"),
        "{s}"
    );
    assert_eq!(s["license"]["verdict"], "unchanged");
    assert_eq!(s["emails_queued"], 0);
    assert!(s["error"].is_null());

    // The branch is one commit on top of base, changing only the pin (ref and commit).
    assert_eq!(commits_ahead(&f.mirror, "upkeep/demo-server", "main"), 1);
    let pin = f
        .mirror
        .file_at("upkeep/demo-server", "upkeep.lock")
        .unwrap();
    assert!(pin.contains("ref = \"refs/tags/v1.1.0\""), "{pin}");
    let v11 =
        f.up.repo
            .revparse_single("v1.1.0^{commit}")
            .unwrap()
            .id()
            .to_string();
    assert!(
        pin.contains(&v11),
        "the pin records the commit as well as the tag:\n{pin}"
    );
    assert!(
        pin.starts_with("# pinned by upkeep\n"),
        "comments survive:\n{pin}"
    );
    let head_before = f.mirror.branch("upkeep/demo-server");

    // Upstream is quiet: the rerun answers from the state without reading the mirror.
    let (code, report) = f.ws.sync();
    assert_eq!(code, 0);
    let s = server(&report, "demo-server");
    assert_eq!(s["status"], "pr-open", "{s}");
    assert!(s["unchanged_since"].is_string(), "{s}");
    assert!(s["pull_request"].is_null(), "{s}");
    assert_eq!(s["latest"]["version"], "1.1.0", "{s}");
    // A full check reads the forge and agrees: nothing to do.
    let (code, report) = f.ws.sync_with(&["--full"]);
    assert_eq!(code, 0);
    let s = server(&report, "demo-server");
    assert_eq!(s["pull_request"]["action"], "unchanged", "{s}");
    assert_eq!(s["status"], "pr-open", "the rerun did not open it: {s}");
    assert!(s["unchanged_since"].is_null(), "{s}");
    assert_eq!(
        f.mirror.branch("upkeep/demo-server"),
        head_before,
        "a rerun must not move the branch"
    );
    assert!(f.ws.emails().is_empty());
}

#[test]
fn the_azure_pipelines_pin_is_edited_in_place() {
    let f = fixture("azure-pipelines");
    let (code, report) = f.ws.sync();
    assert_eq!(code, 0, "{report}");
    let before = pipeline_yaml("upstream", "v1.0.0");
    let after = f
        .mirror
        .file_at("upkeep/demo-server", "azure-pipelines.yml")
        .unwrap();
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1, "only the ref line changes:\n{after}");
    assert!(changed[0].1.contains("ref: refs/tags/v1.1.0"), "{after}");
    assert!(
        changed[0].1.contains("# the sponsored release") || changed[0].1.contains("upkeep:commit="),
        "{after}"
    );
    assert_eq!(before.lines().count(), after.lines().count());
}

#[test]
fn a_newer_release_updates_the_open_pr_instead_of_opening_another() {
    let mut f = fixture("lockfile");
    assert_eq!(f.ws.sync().0, 0);
    let c3 =
        f.up.commit(&[("src/main.py", Some("print(3)\n"))], "feat: three");
    f.up.tag("v1.2.0", c3);
    let (code, report) = f.ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "demo-server");
    assert_eq!(s["status"], "pr-updated", "{s}");
    assert_eq!(s["pull_request"]["action"], "updated");
    assert!(
        s["pull_request"]["title"]
            .as_str()
            .unwrap()
            .contains("→ 1.2.0")
    );
    assert_eq!(
        commits_ahead(&f.mirror, "upkeep/demo-server", "main"),
        1,
        "still one commit on top of base"
    );
    assert!(
        f.mirror
            .file_at("upkeep/demo-server", "upkeep.lock")
            .unwrap()
            .contains("v1.2.0")
    );
    let status = f.ws.upkeep(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(doc["servers"][0]["open_pr"]["version"], "1.2.0");
}

#[test]
fn a_license_change_holds_the_rebuild_emails_once_and_an_approval_releases_it() {
    let mut f = fixture("lockfile");
    let c3 = f.up.commit(
        &[(
            "LICENSE",
            Some(&format!(
                "{MIT}\nThe Software may not be used to provide a hosted service.\n"
            )),
        )],
        "relicense",
    );
    f.up.tag("v1.2.0", c3);
    let (code, report) = f.ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "demo-server");
    assert_eq!(s["status"], "held", "{s}");
    assert_eq!(s["license"]["verdict"], "review-required");
    assert_eq!(s["pull_request"]["draft"], true);
    assert!(
        s["pull_request"]["labels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "license-review-required")
    );
    assert!(
        s["pull_request"]["body"]
            .as_str()
            .unwrap()
            .contains("Blocked: license change needs CELA review")
    );
    assert_eq!(s["emails_queued"], 1);
    let emails = f.ws.emails();
    assert_eq!(emails.len(), 1);
    let eml = std::fs::read_to_string(&emails[0]).unwrap();
    assert!(
        eml.contains("Subject: [upkeep] demo-server 1.0.0 -> 1.2.0: license change needs CELA"),
        "{eml}"
    );
    assert!(eml.contains("To: owner@example.com"), "{eml}");
    assert!(
        eml.contains("hosted service"),
        "the email carries the diff:\n{eml}"
    );

    // Held runs do not repeat the email.
    let (_, report) = f.ws.sync();
    assert_eq!(server(&report, "demo-server")["emails_queued"], 0);
    assert_eq!(f.ws.emails().len(), 1);

    let status = f.ws.upkeep(&["status"]);
    assert!(status.stdout.contains("held"), "{}", status.stdout);
    let show = f.ws.upkeep(&["license", "show", "demo-server"]);
    assert!(
        show.stdout.contains("license review pending"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("hosted service"), "{}", show.stdout);
    assert!(
        show.stdout.contains("license files at the pinned commit"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("LICENSE: MIT"), "{}", show.stdout);

    let approve = f.ws.upkeep(&[
        "license",
        "approve",
        "demo-server",
        "--by",
        "Ada Lovelace",
        "--note",
        "CELA-42",
    ]);
    assert_eq!(approve.code, 0, "{}", approve.stderr);

    let (code, report) = f.ws.sync();
    assert_eq!(code, 0);
    let s = server(&report, "demo-server");
    assert_eq!(s["status"], "pr-updated", "{s}");
    assert_eq!(s["pull_request"]["draft"], false);
    assert!(
        !s["pull_request"]["labels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "license-review-required")
    );
    assert_eq!(s["license"]["approved_by"], "Ada Lovelace");
    assert!(
        s["pull_request"]["body"]
            .as_str()
            .unwrap()
            .contains("approved by Ada Lovelace")
    );
    assert_eq!(
        f.ws.emails().len(),
        1,
        "no further email for an approved text"
    );
}

#[test]
fn dry_run_decides_but_writes_no_branch_pr_or_email() {
    let mut f = fixture("lockfile");
    let c3 =
        f.up.commit(&[("LICENSE", Some("All rights reserved.\n"))], "relicense");
    f.up.tag("v1.2.0", c3);
    let (code, report) = f.ws.sync_with(&["--dry-run"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["dry_run"], true);
    let s = server(&report, "demo-server");
    assert_eq!(s["status"], "held");
    assert_eq!(s["pull_request"]["action"], "created");
    assert!(
        f.mirror.branch("upkeep/demo-server").is_none(),
        "dry run pushed a branch"
    );
    assert!(f.ws.emails().is_empty(), "dry run wrote an email");
    let status = f.ws.upkeep(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(
        doc["servers"][0]["open_pr"].is_null(),
        "dry run recorded a PR: {doc}"
    );
    assert_eq!(doc["servers"][0]["status"], "never-synced");
}

/// A server named `gone` whose upstream does not exist.
fn gone(f: &Fixture) -> ServerSpec {
    let broken_mirror = Repo::new(&f.ws.path("broken-mirror.git"));
    ServerSpec {
        name: "gone".into(),
        upstream: f.ws.path("does-not-exist.git").display().to_string(),
        mirror: broken_mirror.url(),
        pin_file: "upkeep.lock".into(),
        pin_format: "lockfile".into(),
        mirror_table: None,
    }
}

#[test]
fn a_failing_server_is_reported_and_the_others_still_sync() {
    let f = fixture("lockfile");
    let mut ok = ServerSpec::lockfile("good", &f.up, &f.mirror);
    ok.name = "good".into();
    f.ws.write_config(&[gone(&f), ok]);
    let (code, report) = f.ws.sync();
    assert_eq!(code, 1, "exit 1 when any server failed");
    let gone = server(&report, "gone");
    assert_eq!(gone["status"], "failed");
    assert!(
        gone["error"]
            .as_str()
            .unwrap()
            .contains("does-not-exist.git"),
        "{gone}"
    );
    assert_eq!(server(&report, "good")["status"], "pr-opened");

    // After `failing-runs-alert` (2) failed runs in a row, the owners get one alert.
    let (code, report) = f.ws.sync();
    assert_eq!(code, 1);
    assert_eq!(server(&report, "gone")["emails_queued"], 1);
    let status = f.ws.upkeep(&["status"]);
    assert!(
        status.stdout.contains("2 run(s) in a row"),
        "{}",
        status.stdout
    );
    let (_, report) = f.ws.sync();
    assert_eq!(
        server(&report, "gone")["emails_queued"],
        0,
        "one alert per streak"
    );
}

#[test]
fn a_moved_release_tag_holds_the_server_and_alerts_the_owners() {
    let mut f = fixture("lockfile");
    assert_eq!(f.ws.sync().0, 0);
    // Re-create v1.1.0 on another commit (a force-pushed tag).
    let other = f.up.commit(&[("src/evil.py", Some("steal()\n"))], "sneaky");
    f.up.repo.tag_delete("v1.1.0").unwrap();
    f.up.tag("v1.1.0", other);
    let head_before = f.mirror.branch("upkeep/demo-server");
    let (code, report) = f.ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "demo-server");
    assert_eq!(s["status"], "held", "{s}");
    assert_eq!(s["moved_tags"][0]["tag"], "v1.1.0");
    assert!(s["hold_reason"].as_str().unwrap().contains("moved"), "{s}");
    assert_eq!(
        f.mirror.branch("upkeep/demo-server"),
        head_before,
        "no PR update while held"
    );
    let emails = f.ws.emails();
    assert_eq!(emails.len(), 1);
    assert!(
        std::fs::read_to_string(&emails[0])
            .unwrap()
            .contains("tag moved")
    );
    // Still held, no second email.
    let (_, report) = f.ws.sync();
    assert_eq!(server(&report, "demo-server")["status"], "held");
    assert_eq!(f.ws.emails().len(), 1);

    // A person checks the new commit and accepts it: the hold is released.
    let out =
        f.ws.upkeep(&["tag", "accept", "demo-server", "v1.1.0", "--by", "Sam Sec"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (code, report) = f.ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "demo-server");
    assert_ne!(s["status"], "held", "{s}");
    assert!(s["moved_tags"].as_array().unwrap().is_empty(), "{s}");
}

#[test]
fn a_pr_closed_without_merge_declines_that_version_until_a_newer_release() {
    let mut f = fixture("lockfile");
    assert_eq!(f.ws.sync().0, 0);
    // A person closes the PR: on a local mirror, the unmerged branch is deleted.
    f.mirror
        .repo
        .find_branch("upkeep/demo-server", git2::BranchType::Local)
        .unwrap()
        .delete()
        .unwrap();
    // A full check reads the forge and declines (a quiet run would see the close too and
    // check in full: tests/it/quiet_merges.rs).
    let (code, report) = f.ws.sync_with(&["--full"]);
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "demo-server");
    assert_eq!(s["pull_request"]["action"], "declined", "{s}");
    assert!(
        f.mirror.branch("upkeep/demo-server").is_none(),
        "a declined version is not reopened"
    );
    let (_, report) = f.ws.sync_with(&["--full"]);
    assert_eq!(
        server(&report, "demo-server")["pull_request"]["action"],
        "declined"
    );
    let (_, report) = f.ws.sync();
    let s = server(&report, "demo-server");
    assert_eq!(s["status"], "up-to-date", "{s}");
    assert!(s["unchanged_since"].is_string(), "{s}");
    assert!(f.mirror.branch("upkeep/demo-server").is_none());

    let c3 =
        f.up.commit(&[("src/main.py", Some("print(3)\n"))], "feat: three");
    f.up.tag("v1.2.0", c3);
    let (_, report) = f.ws.sync();
    let s = server(&report, "demo-server");
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    assert!(f.mirror.branch("upkeep/demo-server").is_some());
}

#[test]
fn a_merged_pr_leaves_the_server_up_to_date() {
    let f = fixture("lockfile");
    assert_eq!(f.ws.sync().0, 0);
    // Merge: fast-forward main to the bot branch and delete the branch.
    let head = f.mirror.branch("upkeep/demo-server").unwrap();
    f.mirror
        .repo
        .reference("refs/heads/main", head, true, "merge")
        .unwrap();
    f.mirror
        .repo
        .find_branch("upkeep/demo-server", git2::BranchType::Local)
        .unwrap()
        .delete()
        .unwrap();
    let (code, report) = f.ws.sync_with(&["--full"]);
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "demo-server");
    assert_eq!(s["status"], "up-to-date", "{s}");
    assert_eq!(s["pinned"]["ref"], "refs/tags/v1.1.0");
    assert!(s["pull_request"].is_null());
    let doc: serde_json::Value =
        serde_json::from_str(&f.ws.upkeep(&["status", "--json"]).stdout).unwrap();
    assert!(doc["servers"][0]["open_pr"].is_null(), "{doc}");
}

#[test]
fn a_human_commit_on_the_bot_branch_is_never_overwritten_and_a_fresh_pr_carries_on() {
    let mut f = fixture("lockfile");
    assert_eq!(f.ws.sync().0, 0);
    // A person pushes a fix to the bot branch.
    let head = f.mirror.branch("upkeep/demo-server").unwrap();
    let parent = f.mirror.repo.find_commit(head).unwrap();
    let sig = git2::Signature::now("Pat Person", "pat@example.org").unwrap();
    let human = f
        .mirror
        .repo
        .commit(
            Some("refs/heads/upkeep/demo-server"),
            &sig,
            &sig,
            "fix build",
            &parent.tree().unwrap(),
            &[&parent],
        )
        .unwrap();
    let c3 =
        f.up.commit(&[("src/main.py", Some("print(3)\n"))], "feat: three");
    f.up.tag("v1.2.0", c3);
    let (code, report) = f.ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "demo-server");
    assert_eq!(s["status"], "pr-opened", "{s}");
    assert_eq!(s["pull_request"]["action"], "created");
    assert_eq!(s["pull_request"]["branch"], "upkeep/demo-server-r2");
    assert_eq!(
        f.mirror.branch("upkeep/demo-server"),
        Some(human),
        "the person's commit is still the head"
    );
    assert!(
        f.mirror
            .file_at("upkeep/demo-server-r2", "upkeep.lock")
            .unwrap()
            .contains("v1.2.0")
    );
    // The person's PR got a comment pointing at the fresh one.
    let old_pr: serde_json::Value = serde_json::from_slice(
        &std::fs::read(f.mirror.path.join("upkeep/prs/upkeep__demo-server.json")).unwrap(),
    )
    .unwrap();
    assert!(
        old_pr["comments"][0]
            .as_str()
            .unwrap()
            .contains("will not force-push"),
        "{old_pr}"
    );
    // And the fresh PR is the one upkeep keeps up to date from now on.
    let (_, report) = f.ws.sync_with(&["--full"]);
    let s = server(&report, "demo-server");
    assert_eq!(s["pull_request"]["action"], "unchanged", "{s}");
    assert_eq!(s["pull_request"]["branch"], "upkeep/demo-server-r2");
}

#[test]
fn a_crash_between_branch_and_pr_is_finished_without_a_duplicate() {
    let f = fixture("lockfile");
    // Simulate the crash: the bot branch exists (written by upkeep), the state still marks the
    // write in flight, and no PR was recorded.
    let base = f.mirror.head();
    let store = upkeep::store::Store::open(&f.ws.path("state/upkeep.db")).unwrap();
    store
        .branch_write_started("demo-server", "upkeep/demo-server", &base.to_string())
        .unwrap();
    drop(store);
    let parent = f.mirror.repo.find_commit(base).unwrap();
    let sig = git2::Signature::now("upkeep", "upkeep@users.noreply.invalid").unwrap();
    f.mirror
        .repo
        .commit(
            Some("refs/heads/upkeep/demo-server"),
            &sig,
            &sig,
            "partial",
            &parent.tree().unwrap(),
            &[&parent],
        )
        .unwrap();
    let (code, report) = f.ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        server(&report, "demo-server")["pull_request"]["action"],
        "created"
    );
    assert_eq!(commits_ahead(&f.mirror, "upkeep/demo-server", "main"), 1);
    assert!(
        f.mirror
            .file_at("upkeep/demo-server", "upkeep.lock")
            .unwrap()
            .contains("v1.1.0")
    );
}

#[test]
fn a_second_run_is_refused_while_one_holds_the_lease() {
    let f = fixture("lockfile");
    assert_eq!(f.ws.sync().0, 0);
    let store = upkeep::store::Store::open(&f.ws.path("state/upkeep.db")).unwrap();
    store
        .acquire_lease("other-host:1:schedule", std::time::Duration::from_secs(60))
        .unwrap()
        .unwrap();
    let out = f.ws.upkeep(&["sync", "--now"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("another upkeep run is in progress (other-host:1:schedule"),
        "{}",
        out.stderr
    );
    store.release_lease("other-host:1:schedule").unwrap();
    assert_eq!(f.ws.sync().0, 0);
}

#[test]
fn a_pin_file_without_the_entry_fails_that_server_clearly() {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("upstream.git"));
    let c1 = up.commit(&[("LICENSE", Some(MIT))], "r1");
    up.tag("v1.0.0", c1);
    let mut mirror = Repo::new(&ws.path("mirror.git"));
    mirror.commit(
        &[("upkeep.lock", Some("# nothing pinned yet\n"))],
        "empty pin",
    );
    ws.write_config(&[ServerSpec::lockfile("nopin", &up, &mirror)]);
    let (code, report) = ws.sync();
    assert_eq!(code, 1);
    let err = server(&report, "nopin")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("upkeep.lock") && err.contains("ref"), "{err}");
}

#[test]
fn unknown_server_names_are_refused() {
    let f = fixture("lockfile");
    let out = f.ws.upkeep(&["sync", "--now", "--server", "nope"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unknown server `nope`"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_demo_opens_a_pr_and_writes_an_email_and_a_second_demo_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let run = || {
        let out = assert_cmd::Command::cargo_bin("upkeep")
            .unwrap()
            .args(["demo", "--dir"])
            .arg(&demo_dir)
            .env("UPKEEP_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run();
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("Rebuild PR for weather-mcp"), "{stdout}");
    assert!(
        stdout.contains("title:  Rebuild weather-mcp 1.0.0 → 1.2.0 (license review required)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+      ref: refs/tags/v1.2.0"),
        "the pin diff is shown:\n{stdout}"
    );
    assert!(
        stdout.contains("Subject: [upkeep] weather-mcp 1.0.0 -> 1.2.0: license change needs CELA"),
        "{stdout}"
    );
    assert!(stdout.contains("Rebuild PR for search-mcp"), "{stdout}");
    let emails = std::fs::read_dir(demo_dir.join("outbox")).unwrap().count();

    let (code, stdout, _) = run();
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("Nothing new upstream since the last sync"),
        "{stdout}"
    );
    assert!(!stdout.contains("Rebuild PR for"), "{stdout}");
    assert_eq!(
        std::fs::read_dir(demo_dir.join("outbox")).unwrap().count(),
        emails,
        "no second email"
    );
}

fn spdx_text(id: &str) -> &'static str {
    spdx::text::LICENSE_TEXTS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, t)| *t)
        .unwrap()
}

#[test]
fn a_relicense_from_apache_to_agpl_is_held_emailed_approved_and_released() {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("upstream.git"));
    let apache = spdx_text("Apache-2.0");
    let c1 = up.commit(
        &[
            ("LICENSE", Some(apache)),
            (
                "package.json",
                Some("{\"name\":\"x\",\"license\":\"Apache-2.0\"}\n"),
            ),
        ],
        "r1",
    );
    up.tag("v1.0.0", c1);
    let agpl = format!(
        "Commercial use of this software requires a separate commercial license from Example Corp.\n\n{}",
        spdx_text("AGPL-3.0-only")
    );
    let c2 = up.commit(
        &[
            ("LICENSE", Some(&agpl)),
            (
                "package.json",
                Some("{\"name\":\"x\",\"license\":\"AGPL-3.0-only\"}\n"),
            ),
        ],
        "relicense",
    );
    up.tag("v2.0.0", c2);
    let mut mirror = Repo::new(&ws.path("mirror.git"));
    mirror.commit(
        &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.0.0")))],
        "pin",
    );
    ws.write_config(&[ServerSpec::lockfile("relicensed", &up, &mirror)]);

    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "relicensed");
    assert_eq!(s["status"], "held");
    assert_eq!(s["license"]["verdict"], "review-required");
    assert_eq!(s["pull_request"]["draft"], true);
    let body = s["pull_request"]["body"].as_str().unwrap();
    assert!(
        body.contains("AGPL-3.0"),
        "the PR names the new license:\n{body}"
    );
    let emails = ws.emails();
    assert_eq!(emails.len(), 1);
    let raw = std::fs::read(&emails[0]).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();
    use mailparse::MailHeaderMap as _;
    let subject = mail.headers.get_first_value("Subject").unwrap();
    assert_eq!(
        subject,
        "[upkeep] relicensed 1.0.0 -> 2.0.0: license change needs CELA review: Apache-2.0 -> AGPL-3.0-only"
    );
    // The body's parts (the license texts come as attachments beside them).
    fn part(p: &mailparse::ParsedMail<'_>, mime: &str) -> Option<String> {
        let attached =
            p.get_content_disposition().disposition == mailparse::DispositionType::Attachment;
        if p.ctype.mimetype == mime && !attached {
            return p.get_body().ok();
        }
        p.subparts.iter().find_map(|s| part(s, mime))
    }
    let text = part(&mail, "text/plain").unwrap();
    assert!(
        text.contains("AGPL-3.0"),
        "the email carries the change:\n{text}"
    );
    assert!(text.contains("upkeep license approve relicensed"), "{text}");
    let html = part(&mail, "text/html").unwrap();
    // Two different licenses are compared with the standard text, never word-diffed.
    assert!(
        html.contains("Apache-2.0 → AGPL-3.0-only") && !html.contains("<del"),
        "the HTML names the change and diffs no license against another:\n{html}"
    );

    assert_eq!(
        ws.upkeep(&["license", "approve", "relicensed", "--by", "Legal"])
            .code,
        0
    );
    let (_, report) = ws.sync();
    let s = server(&report, "relicensed");
    assert_eq!(s["status"], "pr-updated");
    assert_eq!(s["pull_request"]["draft"], false);
    assert_eq!(ws.emails().len(), 1);
}

#[test]
fn a_copyright_year_bump_opens_a_normal_pr_without_email() {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("upstream.git"));
    let c1 = up.commit(&[("LICENSE", Some(MIT))], "r1");
    up.tag("v1.0.0", c1);
    let c2 = up.commit(
        &[(
            "LICENSE",
            Some(&MIT.replace(
                "Copyright (c) 2025 Example Authors",
                "Copyright (c) 2025-2026 Example Authors and contributors",
            )),
        )],
        "year",
    );
    up.tag("v1.0.1", c2);
    let mut mirror = Repo::new(&ws.path("mirror.git"));
    mirror.commit(
        &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.0.0")))],
        "pin",
    );
    ws.write_config(&[ServerSpec::lockfile("yearly", &up, &mirror)]);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "yearly");
    assert_eq!(s["status"], "pr-opened");
    assert_eq!(s["license"]["verdict"], "cosmetic");
    assert_eq!(s["pull_request"]["draft"], false);
    assert!(ws.emails().is_empty());
}

#[test]
fn logs_into_a_pipe_carry_no_colour_codes() {
    // Container runtimes, journald and log files read stderr through a pipe, as here.
    let mut f = fixture("lockfile");
    f.ws.env.push(("UPKEEP_LOG".into(), "info".into()));
    let out = f.ws.upkeep(&["sync", "--now"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("run started"), "{}", out.stderr);
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
}

#[test]
fn the_json_report_is_in_config_order_and_is_the_one_kept_in_the_state() {
    let f = fixture("lockfile");
    let named = |name: &str| ServerSpec {
        name: name.into(),
        ..ServerSpec::lockfile(name, &f.up, &f.mirror)
    };
    // Not alphabetical, and the failing server (which finishes first) is in the middle.
    f.ws.write_config(&[named("zeta"), gone(&f), named("alpha")]);
    let (code, report) = f.ws.sync();
    assert_eq!(code, 1, "{report}");
    let names: Vec<&str> = report["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["zeta", "gone", "alpha"]);
    // The full reports, not summaries: release diff, PR body and pin diff are all there.
    for name in ["zeta", "alpha"] {
        let s = server(&report, name);
        assert_eq!(s["status"], "pr-opened", "{s}");
        assert_eq!(s["diff"]["commits"]["count"], 1, "{s}");
        assert!(
            s["pull_request"]["body"].as_str().unwrap().len() > 200,
            "{s}"
        );
        assert!(
            s["pull_request"]["pin_diff"]
                .as_str()
                .unwrap()
                .contains("v1.1.0"),
            "{s}"
        );
    }
    // What was printed is what the state keeps for the run.
    let run_id = report["run_id"].as_i64().unwrap();
    let store = upkeep::store::Store::open(&f.ws.path("state/upkeep.db")).unwrap();
    let kept: serde_json::Value = serde_json::from_str(
        &upkeep::report::stored_json(&store, run_id)
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(kept, report);
}

#[test]
fn past_runs_are_listed_and_shown_from_the_state() {
    let f = fixture("lockfile");
    // Full reports outlive only the run that wrote them (the summary stays).
    f.ws.edit_config(|t| t.replace("[state]\n", "[state]\nreport-retention = \"1ms\"\n"));
    let (code, first) = f.ws.sync();
    assert_eq!(code, 0, "{first}");
    let id1 = first["run_id"].as_i64().unwrap().to_string();
    let json = |args: &[&str]| -> serde_json::Value {
        let out = f.ws.upkeep(args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    };
    assert_eq!(json(&["runs", "show", &id1, "--json"]), first);

    let finished = chrono::DateTime::parse_from_rfc3339(first["finished_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    crate::support::wait::wait_until_past(
        "the first run's reports to be older than their retention",
        finished + chrono::Duration::milliseconds(1),
    );
    let (code, second) = f.ws.sync();
    assert_eq!(code, 0, "{second}");
    let id2 = second["run_id"].as_i64().unwrap().to_string();
    assert_eq!(json(&["runs", "show", &id2, "--json"]), second);
    // The first run is past its retention now: its summary is what is left.
    let pruned = json(&["runs", "show", &id1, "--json"]);
    let s = server(&pruned, "demo-server");
    assert_eq!(s["status"], "pr-opened", "{pruned}");
    assert_eq!(s["pull_request"]["action"], "created", "{pruned}");
    assert!(
        s.get("diff").is_none() && s["pull_request"].get("body").is_none(),
        "{pruned}"
    );

    let listed = json(&["runs", "--json"]);
    assert_eq!(listed[0]["id"].to_string(), id2, "newest first: {listed}");
    assert_eq!(listed[1]["id"].to_string(), id1, "{listed}");
    assert_eq!(listed[1]["statuses"]["pr-opened"], 1, "{listed}");
    assert_eq!(listed[0]["result"], "ok");

    let table = f.ws.upkeep(&["runs"]);
    let text = &table.stdout;
    assert!(text.starts_with("   RUN  TRIGGER"), "{text}");
    assert!(text.contains("1 pr-opened"), "{text}");
    let shown = f.ws.upkeep(&["runs", "show", &id1]);
    let text = &shown.stdout;
    assert!(text.starts_with("manual run, started "), "{text}");
    assert!(
        text.contains("demo-server") && text.contains("PR Created"),
        "{text}"
    );

    let missing = f.ws.upkeep(&["runs", "show", "999"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no run 999"), "{}", missing.stderr);
}
