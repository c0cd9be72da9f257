//! The upstream over a real transport: `git daemon` on 127.0.0.1 serving the upstream, fetched
//! incrementally into the cache, and an upstream whose port is closed.

use crate::support::{MIT, Repo, ServerSpec, Workspace, free_port, git_daemon, lockfile, server};

#[test]
fn an_upstream_served_by_git_daemon_is_fetched_incrementally() {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("served/upstream.git"));
    let c1 = up.commit(&[("LICENSE", Some(MIT))], "r1");
    up.tag("v1.0.0", c1);
    let c2 = up.commit(&[("a.txt", Some("2"))], "r2");
    up.tag("v1.1.0", c2);
    let daemon = git_daemon(&ws.path("served"));
    let url = format!("git://127.0.0.1:{}/upstream.git", daemon.port);
    let mut mirror = Repo::new(&ws.path("mirror.git"));
    mirror.commit(&[("upkeep.lock", Some(&lockfile(&url, "v1.0.0")))], "pin");
    let mut spec = ServerSpec::lockfile("remote", &up, &mirror);
    spec.upstream.clone_from(&url);
    ws.write_config(&[spec]);

    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!(server(&report, "remote")["latest"]["version"], "1.1.0");
    assert_eq!(
        server(&report, "remote")["pull_request"]["action"],
        "created"
    );

    let c3 = up.commit(&[("a.txt", Some("3"))], "r3");
    up.tag("v1.2.0", c3);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let s = server(&report, "remote");
    assert_eq!(s["latest"]["version"], "1.2.0");
    assert_eq!(s["pull_request"]["action"], "updated");
    assert_eq!(
        s["diff"]["commits"]["count"], 2,
        "pinned v1.0.0 to v1.2.0: {s}"
    );
}

#[test]
fn an_unreachable_upstream_fails_that_server_with_a_clear_error() {
    let ws = Workspace::new();
    let up = Repo::new(&ws.path("upstream.git"));
    let mut mirror = Repo::new(&ws.path("mirror.git"));
    let port = free_port();
    let url = format!("git://127.0.0.1:{port}/nothing-here.git");
    mirror.commit(&[("upkeep.lock", Some(&lockfile(&url, "v1.0.0")))], "pin");
    let mut spec = ServerSpec::lockfile("unreachable", &up, &mirror);
    spec.upstream.clone_from(&url);
    ws.write_config(&[spec]);
    let (code, report) = ws.sync();
    assert_eq!(code, 1);
    let err = server(&report, "unreachable")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        err.contains("connecting to upstream") && err.contains(&port.to_string()),
        "{err}"
    );
}
