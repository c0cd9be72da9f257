//! The quiet path: a run whose upstream answers as at the server's last full check reads
//! neither the mirror's pin nor the PR's branch (only whether the open PR is still open), and
//! every event that could change the decision without upstream moving brings the full check
//! back.

use crate::support::{MIT, Repo, ServerSpec, Workspace, lockfile, server};

pub(crate) struct Fixture {
    pub(crate) ws: Workspace,
    pub(crate) up: Repo,
    pub(crate) mirror: Repo,
}

pub(crate) fn fixture() -> Fixture {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("upstream.git"));
    let c1 = up.commit(&[("LICENSE", Some(MIT)), ("a.py", Some("1\n"))], "one");
    up.tag("v1.0.0", c1);
    let c2 = up.commit(&[("a.py", Some("2\n"))], "two");
    up.tag("v1.1.0", c2);
    let mut mirror = Repo::new(&ws.path("mirror.git"));
    mirror.commit(
        &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.0.0")))],
        "pin",
    );
    ws.write_config(&[ServerSpec::lockfile("quiet", &up, &mirror)]);
    Fixture { ws, up, mirror }
}

pub(crate) fn sync(f: &Fixture, args: &[&str]) -> serde_json::Value {
    let (code, report) = f.ws.sync_with(args);
    let s = server(&report, "quiet").clone();
    assert_eq!(code, 0, "{s}");
    s
}

fn is_quiet(s: &serde_json::Value) -> bool {
    s["unchanged_since"].is_string()
}

/// Replace one piece of the config text (the workspace writes a fixed layout).
fn edit_config(f: &Fixture, from: &str, to: &str) {
    f.ws.edit_config(|text| {
        assert!(text.contains(from), "{text}");
        text.replacen(from, to, 1)
    });
}

#[test]
fn a_quiet_upstream_is_answered_without_reading_the_mirror() {
    let f = fixture();
    let s = sync(&f, &[]);
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    assert!(!is_quiet(&s));

    // Take the mirror away: a quiet run must not need it. (It looks there whether the PR is
    // still open, and says it could not tell: tests/it/quiet_merges.rs has the merges it sees.)
    let away = f.ws.path("mirror-away.git");
    std::fs::rename(&f.mirror.path, &away).unwrap();
    let s = sync(&f, &[]);
    assert!(is_quiet(&s), "{s}");
    assert_eq!(s["status"], "pr-open", "{s}");
    assert_eq!(s["latest"]["tag"], "v1.1.0", "{s}");
    assert_eq!(s["pinned"]["ref"], "refs/tags/v1.0.0", "{s}");
    assert!(
        s["notes"][0]
            .as_str()
            .unwrap()
            .contains("sync --now --full"),
        "{s}"
    );
    assert!(
        s["notes"][1]
            .as_str()
            .unwrap()
            .contains("whether the rebuild PR is still open could not be read"),
        "{s}"
    );
    // A full check does read it (and fails without it).
    let (code, report) = f.ws.sync_with(&["--full"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(server(&report, "quiet")["status"], "failed");
    std::fs::rename(&away, &f.mirror.path).unwrap();

    // The failure forgot the mark: the next run checks in full, then quiet again.
    let s = sync(&f, &[]);
    assert!(!is_quiet(&s), "{s}");
    assert_eq!(s["pull_request"]["action"], "unchanged", "{s}");
    assert!(is_quiet(&sync(&f, &[])));
}

#[test]
fn a_new_tag_a_config_edit_or_recheck_zero_bring_the_full_check_back() {
    let mut f = fixture();
    sync(&f, &[]);
    assert!(is_quiet(&sync(&f, &[])));

    // A non-release tag is not a change; a release tag is.
    let head = f.up.head();
    f.up.tag("nightly", head);
    assert!(is_quiet(&sync(&f, &[])));
    let c = f.up.commit(&[("a.py", Some("3\n"))], "three");
    f.up.tag("v1.2.0", c);
    let s = sync(&f, &[]);
    assert!(!is_quiet(&s), "{s}");
    assert_eq!(s["pull_request"]["action"], "updated", "{s}");
    assert!(is_quiet(&sync(&f, &[])));

    // The server's config is part of the key.
    edit_config(
        &f,
        "base = \"main\"",
        "base = \"main\"\nlabels = [\"rebuild\"]",
    );
    assert!(!is_quiet(&sync(&f, &[])));
    assert!(is_quiet(&sync(&f, &[])));

    // recheck = "0s": every run is a full check.
    edit_config(&f, "[email]", "[schedule]\nrecheck = \"0s\"\n\n[email]");
    assert!(!is_quiet(&sync(&f, &[])));
    assert!(!is_quiet(&sync(&f, &[])));
}

#[test]
fn a_release_in_its_cooldown_is_never_answered_from_the_mark() {
    let f = fixture();
    // Every release is younger than ten years: v1.1.0 waits, so time alone changes the answer.
    edit_config(
        &f,
        "tag-pattern = \"^v(.+)$\" }",
        "tag-pattern = \"^v(.+)$\", cooldown = \"3650d\" }",
    );
    for _ in 0..2 {
        let s = sync(&f, &[]);
        assert!(!is_quiet(&s), "{s}");
        assert_eq!(s["status"], "up-to-date", "{s}");
        assert!(
            s["notes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n.as_str().unwrap().contains("cooldown")),
            "{s}"
        );
    }
}

#[test]
fn a_dry_run_never_takes_the_quiet_path_nor_sets_the_mark() {
    let f = fixture();
    let s = sync(&f, &["--dry-run"]);
    assert_eq!(s["pull_request"]["action"], "created", "{s}");
    let s = sync(&f, &["--dry-run"]);
    assert!(!is_quiet(&s), "{s}");
    // The real run after dry runs does the work.
    assert_eq!(sync(&f, &[])["pull_request"]["action"], "created");
    assert!(!is_quiet(&sync(&f, &["--dry-run"])));
}
