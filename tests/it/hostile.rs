//! Hostile upstreams and secrets: nothing an upstream puts in its repository crashes a run,
//! escapes the cache, or reaches a branch name unescaped; canary secrets appear in no log line,
//! report, PR body, email or state row.

use crate::forge_support::github::FakeGithub;
use crate::forge_support::{FakeForge, TOKEN};
use crate::support::{MIT, Repo, ServerSpec, Workspace, lockfile, server};

const NASTY_TAGS: &[&str] = &[
    "v1.1.0-..-x",
    "v1.1.0;rm -rf ~",
    "v1.1.0$(reboot)",
    "v1.1.0`id`",
    "v1.1.0\u{202e}evil",
    "v1.1.0-ünïcødé",
    "v1.1.0-%0aBcc:x@evil",
    "../../../../etc/passwd",
    "v9.9.9/../../x",
];

fn hostile_world() -> (Workspace, Repo, Repo) {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("upstream.git"));
    let c1 = up.commit(&[("LICENSE", Some(MIT))], "r1");
    up.tag("v1.0.0", c1);
    let mirror = {
        let mut m = Repo::new(&ws.path("mirror.git"));
        m.commit(
            &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.0.0")))],
            "pin",
        );
        m
    };
    ws.write_config(&[ServerSpec::lockfile("hostile", &up, &mirror)]);
    (ws, up, mirror)
}

#[test]
fn a_license_symlink_a_huge_and_a_binary_license_are_judged_never_followed_or_loaded() {
    let (ws, up, mirror) = hostile_world();
    let repo = &up.repo;
    // v1.1.0: LICENSE becomes a symlink to /etc/passwd; COPYING is a 100 MB file; NOTICE is binary.
    let head = repo.find_commit(up.head()).unwrap();
    let mut tb = repo.treebuilder(Some(&head.tree().unwrap())).unwrap();
    let link = repo.blob(b"/etc/passwd").unwrap();
    tb.insert("LICENSE", link, 0o120_000).unwrap();
    let huge = repo.blob(&vec![b'a'; 100 * 1024 * 1024]).unwrap();
    tb.insert("COPYING", huge, 0o100_644).unwrap();
    let binary = repo.blob(&[0u8, 159, 146, 150, 0, 1, 2, 3]).unwrap();
    tb.insert("NOTICE", binary, 0o100_644).unwrap();
    let escape = repo.blob(b"../../../../../../etc/shadow").unwrap();
    tb.insert("LICENSE-outside", escape, 0o120_000).unwrap();
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    let sig = git2::Signature::now("Mallory", "m@evil.example").unwrap();
    let c = repo
        .commit(
            Some("refs/heads/main"),
            &sig,
            &sig,
            "hostile",
            &tree,
            &[&head],
        )
        .unwrap();
    up.tag("v1.1.0", c);

    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "hostile");
    assert_eq!(s["status"], "held", "{s}");
    assert_eq!(s["license"]["verdict"], "review-required");
    let text = serde_json::to_string(s).unwrap();
    assert!(!text.contains("root:x:0:0"), "/etc/passwd was read");
    assert!(text.contains("symlink"), "{text}");
    // Nothing was written outside the workspace's cache, and the mirror got exactly one branch.
    assert!(mirror.branch("upkeep/hostile").is_some());
}

#[test]
fn nasty_tag_names_and_tags_on_trees_or_blobs_never_reach_a_branch_or_break_a_run() {
    let (ws, mut up, mirror) = hostile_world();
    let c2 = up.commit(&[("a.txt", Some("2"))], "r2");
    for t in NASTY_TAGS {
        // Some of these are not valid ref names: git refuses them, which is fine.
        if let Ok(obj) = up.repo.find_object(c2, None) {
            let _ = up.repo.tag_lightweight(t, &obj, false);
        }
    }
    // Tags pointing at a tree and at a blob.
    let tree = up.repo.find_commit(c2).unwrap().tree().unwrap();
    up.repo
        .reference("refs/tags/v8.0.0", tree.id(), true, "tree tag")
        .unwrap();
    let blob = up.repo.blob(b"not a commit").unwrap();
    up.repo
        .reference("refs/tags/v9.0.0", blob, true, "blob tag")
        .unwrap();
    up.tag("v1.1.0", c2);

    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "hostile");
    assert_eq!(s["latest"]["version"], "1.1.0", "{s}");
    assert_eq!(s["pull_request"]["branch"], "upkeep/hostile");
    let branches: Vec<String> = mirror
        .repo
        .branches(Some(git2::BranchType::Local))
        .unwrap()
        .map(|b| b.unwrap().0.name().unwrap().unwrap().to_string())
        .collect();
    assert_eq!(branches.len(), 2, "{branches:?}");
}

#[test]
fn non_utf8_paths_and_a_force_pushed_history_are_reported_not_fatal() {
    let (ws, up, _mirror) = hostile_world();
    assert_eq!(ws.sync().0, 0);
    // Rewrite history: a new root commit, v1.0.0 stays, v1.1.0 on the unrelated history.
    let repo = &up.repo;
    let mut tb = repo.treebuilder(None).unwrap();
    let blob = repo.blob(MIT.as_bytes()).unwrap();
    tb.insert("LICENSE", blob, 0o100_644).unwrap();
    let odd = repo.blob(b"x").unwrap();
    tb.insert(
        std::ffi::OsStr::new("caf\u{e9}-\u{1}-name.txt"),
        odd,
        0o100_644,
    )
    .unwrap();
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    let sig = git2::Signature::now("Force", "f@example.org").unwrap();
    // A force push: main is replaced by an unrelated root commit.
    let root = repo
        .commit(None, &sig, &sig, "rewritten", &tree, &[])
        .unwrap();
    repo.reference("refs/heads/main", root, true, "force push")
        .unwrap();
    up.tag("v1.1.0", root);

    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "hostile");
    assert_eq!(s["diff"]["commits"]["old_is_ancestor"], false, "{s}");
    assert!(
        s["pull_request"]["body"]
            .as_str()
            .unwrap()
            .contains("not an ancestor"),
        "{s}"
    );
}

#[test]
fn a_deleted_or_corrupted_cache_clone_is_rebuilt() {
    let (ws, mut up, _mirror) = hostile_world();
    assert_eq!(ws.sync().0, 0);
    let cache = ws.path("cache/hostile.git");
    assert!(cache.exists());
    // A run killed mid-fetch leaves ref lock files: the next fetch clears them.
    std::fs::create_dir_all(cache.join("refs/remotes/origin")).unwrap();
    std::fs::write(cache.join("refs/remotes/origin/main.lock"), "").unwrap();
    std::fs::write(cache.join("refs/tags/v1.1.5.lock"), "").unwrap();
    let c = up.commit(&[("a.txt", Some("2"))], "r2");
    up.tag("v1.1.5", c);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!(server(&report, "hostile")["latest"]["version"], "1.1.5");
    assert!(!cache.join("refs/remotes/origin/main.lock").exists());
    // Corrupt it: remove its object database and HEAD.
    std::fs::remove_dir_all(cache.join("objects")).unwrap();
    std::fs::remove_file(cache.join("HEAD")).unwrap();
    let c = up.commit(&[("a.txt", Some("3"))], "r3");
    up.tag("v1.2.0", c);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!(server(&report, "hostile")["latest"]["version"], "1.2.0");
    // Deleted entirely: cloned again.
    std::fs::remove_dir_all(&cache).unwrap();
    let (code, _) = ws.sync();
    assert_eq!(code, 0);
    assert!(cache.join("HEAD").exists());
}

#[test]
fn canary_secrets_appear_in_no_log_report_pr_body_email_or_state_row() {
    let mut ws = Workspace::new();
    let gh = FakeGithub::start();
    ws.env.push(("UPKEEP_CANARY_TOKEN".into(), TOKEN.into()));
    let mut up = Repo::new(&ws.path("upstream.git"));
    let c1 = up.commit(&[("LICENSE", Some(MIT))], "r1");
    up.tag("v1.0.0", c1);
    let c2 = up.commit(&[("LICENSE", Some(&format!("{MIT}\nextra terms\n")))], "r2");
    up.tag("v1.1.0", c2);
    {
        let mut s = gh.core.lock();
        let files = std::collections::BTreeMap::from([(
            "upkeep.lock".to_string(),
            lockfile(&up.url(), "v1.0.0").into_bytes(),
        )]);
        let id = s.put_commit(files, vec![], "Human", "human@example.com", "pin");
        s.refs.insert("main".into(), id);
    }
    ws.write_config(&[ServerSpec {
        name: "canary".into(),
        upstream: up.url(),
        mirror: String::new(),
        pin_file: "upkeep.lock".into(),
        pin_format: "lockfile".into(),
        mirror_table: Some(format!(
            "forge = \"github\"\nrepo = \"acme/mirror\"\napi-url = {:?}\ntoken-env = \"UPKEEP_CANARY_TOKEN\"\nbase = \"main\"\npin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n",
            gh.server.url()
        )),
    }]);
    // Also a failing forge call whose error body echoes the Authorization header back.
    let everything = |ws: &Workspace| {
        let mut text = String::new();
        for args in [
            &["sync", "--now", "--json"][..],
            &["status", "--json"],
            &["outbox", "--all", "--json"],
            &["license", "show", "canary"],
            &["check", "--online"],
        ] {
            let out = assert_cmd::Command::cargo_bin("upkeep")
                .unwrap()
                .args(args)
                .arg("--config")
                .arg(ws.config_path())
                .env("UPKEEP_LOG", "trace")
                .envs(ws.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .output()
                .unwrap();
            text.push_str(&String::from_utf8_lossy(&out.stdout));
            text.push_str(&String::from_utf8_lossy(&out.stderr));
        }
        text
    };
    let mut seen = everything(&ws);
    gh.core.fail(crate::forge_support::Fault {
        status: 500,
        headers: vec![],
        body: "{\"message\":\"boom {auth}\"}".into(),
        times: 10,
        path_contains: None,
    });
    let c3 = up.commit(&[("a.txt", Some("3"))], "r3");
    up.tag("v1.2.0", c3);
    seen.push_str(&everything(&ws));
    assert!(
        seen.contains("\"name\": \"canary\""),
        "the runs produced output:\n{seen}"
    );
    let encoded = base64_of(&format!(":{TOKEN}"));
    for needle in [TOKEN, encoded.as_str()] {
        assert!(!seen.contains(needle), "the token leaked into output");
        for e in walk(ws.dir.path()) {
            if e.extension().is_some_and(|x| x == "pack" || x == "idx") {
                continue;
            }
            let bytes = std::fs::read(&e).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(needle),
                "the token leaked into {}",
                e.display()
            );
        }
    }
    let prs = &gh.core.lock().prs;
    assert!(!prs.is_empty());
    assert!(
        prs.iter()
            .all(|p| !p.body.contains(TOKEN) && !p.title.contains(TOKEN))
    );
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
