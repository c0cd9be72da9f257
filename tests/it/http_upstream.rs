//! An `http://` upstream behind the smart-HTTP stand-in (real `git http-backend`): a quiet run
//! asks for the ref advertisement only and fetches nothing; a changed ref is fetched with
//! libgit2; a listing that fails falls back to the libgit2 fetch and the server still syncs.
//! What went over the wire is read from the stand-in's request log.

use std::sync::Arc;

use crate::smart_http_support::{Behaviour, GitHttp, Logged, Response};
use crate::support::{MIT, Repo, ServerSpec, Workspace, lockfile, server};

struct Fixture {
    ws: Workspace,
    up: Repo,
    http: GitHttp,
}

/// An upstream at `srv/up.git` with v1.0.0 and v1.1.0, served over plain HTTP, and a mirror
/// pinned at v1.0.0.
fn fixture(behaviour: Behaviour) -> Fixture {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("srv/up.git"));
    let c1 = up.commit(&[("LICENSE", Some(MIT)), ("a.py", Some("1\n"))], "one");
    up.tag("v1.0.0", c1);
    let c2 = up.commit(&[("a.py", Some("2\n"))], "two");
    up.tag("v1.1.0", c2);
    let http = GitHttp::start(&ws.path("srv"), behaviour, None);
    let url = http.url("up.git");
    let mut mirror = Repo::new(&ws.path("mirror.git"));
    mirror.commit(&[("upkeep.lock", Some(&lockfile(&url, "v1.0.0")))], "pin");
    let mut spec = ServerSpec::lockfile("web", &up, &mirror);
    spec.upstream = url;
    ws.write_config(&[spec]);
    Fixture { ws, up, http }
}

fn sync(f: &Fixture) -> serde_json::Value {
    let (code, report) = f.ws.sync();
    let s = server(&report, "web").clone();
    assert_eq!(code, 0, "{s}");
    s
}

/// libgit2 announces itself in its user agent (`git/2.0 (libgit2 …)`), the lister as upkeep.
fn by_libgit2(r: &Logged) -> bool {
    r.user_agent
        .as_deref()
        .is_some_and(|ua| ua.contains("libgit2"))
}

fn fetched(log: &[Logged]) -> bool {
    log.iter().any(|r| r.wants)
}

fn v2() -> Behaviour {
    Behaviour {
        v2: true,
        ..Behaviour::default()
    }
}

#[test]
fn a_quiet_http_upstream_is_only_asked_for_its_refs() {
    for (behaviour, protocol) in [(v2(), "v2"), (Behaviour::default(), "v0")] {
        let f = fixture(behaviour);
        let s = sync(&f);
        assert_eq!(s["pull_request"]["action"], "created", "{protocol}: {s}");
        assert!(fetched(&f.http.log()), "{protocol}: the cold run fetches");

        f.http.clear_log();
        let s = sync(&f);
        assert!(s["unchanged_since"].is_string(), "{protocol}: {s}");
        assert_eq!(s["latest"]["tag"], "v1.1.0", "{protocol}: {s}");
        let log = f.http.log();
        assert!(!fetched(&log), "{protocol}: no pack asked for: {log:#?}");
        assert!(!log.iter().any(by_libgit2), "{protocol}: {log:#?}");
        // One GET of info/refs, plus the ls-refs POST of protocol v2.
        let gets: Vec<&Logged> = log.iter().filter(|r| r.method == "GET").collect();
        assert_eq!(gets.len(), 1, "{protocol}: {log:#?}");
        assert!(
            gets[0]
                .target
                .ends_with("/up.git/info/refs?service=git-upload-pack"),
            "{protocol}: {log:#?}"
        );
        let posts = log.iter().filter(|r| r.method == "POST").count();
        assert_eq!(posts, usize::from(protocol == "v2"), "{protocol}: {log:#?}");
    }
}

#[test]
fn a_changed_ref_over_http_is_fetched() {
    let mut f = fixture(v2());
    sync(&f);
    let c3 = f.up.commit(&[("a.py", Some("3\n"))], "three");
    f.up.tag("v1.2.0", c3);
    f.http.clear_log();
    let s = sync(&f);
    assert!(!s["unchanged_since"].is_string(), "{s}");
    assert_eq!(s["latest"]["tag"], "v1.2.0", "{s}");
    assert_eq!(s["pull_request"]["action"], "updated", "{s}");
    let log = f.http.log();
    assert!(
        log.iter().any(|r| r.wants && by_libgit2(r)),
        "libgit2 fetched the new tag: {log:#?}"
    );

    // A tag deleted upstream is a change too: libgit2 is asked (it has nothing to download, so
    // it sends no `want`), and the cache drops the tag.
    f.up.repo
        .find_reference("refs/tags/v1.2.0")
        .unwrap()
        .delete()
        .unwrap();
    f.http.clear_log();
    let s = sync(&f);
    assert!(f.http.log().iter().any(by_libgit2), "{:#?}", f.http.log());
    assert_eq!(s["latest"]["tag"], "v1.1.0", "{s}");

    // The cache now matches the advertisement again: the next run is quiet, libgit2 unasked.
    f.http.clear_log();
    let s = sync(&f);
    assert!(s["unchanged_since"].is_string(), "{s}");
    assert!(!f.http.log().iter().any(by_libgit2), "{:#?}", f.http.log());
}

#[test]
fn a_failing_ref_listing_falls_back_to_the_libgit2_fetch() {
    // Every request of the lister gets a sign-in page (not git at all); libgit2's are served.
    let behaviour = Behaviour {
        v2: true,
        hook: Some(Arc::new(|req| {
            let ua = req.header("user-agent").unwrap_or_default();
            (!ua.contains("libgit2"))
                .then(|| Response::new(200, "text/html", "<html>Sign in</html>"))
        })),
        ..Behaviour::default()
    };
    let f = fixture(behaviour);
    for (run, status) in [("cold", "pr-opened"), ("nothing changed", "pr-open")] {
        f.http.clear_log();
        let s = sync(&f);
        assert_eq!(s["status"], status, "{run}: {s}");
        assert_eq!(s["latest"]["tag"], "v1.1.0", "{run}: {s}");
        let log = f.http.log();
        assert!(
            log.iter().any(|r| !by_libgit2(r) && r.status == 200),
            "{run}: the lister asked first: {log:#?}"
        );
        // On the second run libgit2 connects, finds nothing new and asks for no pack.
        assert!(
            log.iter().any(by_libgit2),
            "{run}: then libgit2 fetched: {log:#?}"
        );
    }
}
