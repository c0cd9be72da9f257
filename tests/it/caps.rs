//! Size caps on what an upstream may make upkeep store: the tags one upstream advertises
//! (`[state] max-tags`) and the bytes of one fetch (`[state] max-fetch-size`). Past a cap the
//! server fails with a message naming the limit and the key to raise, nothing is truncated or
//! half-recorded, the other servers go on, and raising the key recovers.

use crate::support::{Repo, ServerSpec, Workspace, released_and_pinned, server};

/// Text that does not compress: hex of a xorshift stream.
fn incompressible(bytes: usize) -> String {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = String::with_capacity(bytes);
    while out.len() < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(&format!("{x:016x}"));
    }
    out
}

fn with_state_keys(ws: &Workspace, keys: &str) {
    ws.edit_config(|c| {
        c.replacen(
            "lease-timeout = \"2m\"\n",
            &format!("lease-timeout = \"2m\"\n{keys}"),
            1,
        )
    });
}

fn healthy_and(ws: &Workspace, name: &str, up: &Repo, mirror: &Repo) -> Repo {
    let (mut ok_up, ok_mirror) = released_and_pinned(ws, "ok-");
    let c = ok_up.commit(&[("a.txt", Some("2"))], "r2");
    ok_up.tag("v1.1.0", c);
    ws.write_config(&[
        ServerSpec::lockfile("healthy", &ok_up, &ok_mirror),
        ServerSpec::lockfile(name, up, mirror),
    ]);
    ok_mirror
}

#[test]
fn an_upstream_with_more_tags_than_max_tags_is_refused_before_anything_is_stored() {
    let ws = Workspace::new();
    let (mut up, mirror) = released_and_pinned(&ws, "many-");
    for i in 1..=30 {
        let c = up.commit(&[("n.txt", Some(&i.to_string()))], &format!("r{i}"));
        up.tag(&format!("v1.0.{i}"), c);
    }
    let healthy = healthy_and(&ws, "many", &up, &mirror);
    with_state_keys(&ws, "max-tags = 20\n");

    let (code, report) = ws.sync();
    assert_eq!(code, 1, "{report}");
    let err = server(&report, "many")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        err.contains("31 tags") && err.contains("max-tags = 20") && err.contains("[state]"),
        "the error names the count, the limit and the key: {err}"
    );
    assert_eq!(server(&report, "healthy")["status"], "pr-opened");
    assert!(healthy.branch("upkeep/healthy").is_some());
    let store = upkeep::store::Store::open(&ws.path("state/upkeep.db")).unwrap();
    assert!(
        store.tag_history("many").unwrap().is_empty(),
        "nothing recorded"
    );
    let cache = git2::Repository::open_bare(ws.path("cache/many.git"));
    if let Ok(cache) = cache {
        assert_eq!(cache.tag_names(None).unwrap().len(), 0, "no tag fetched");
    }

    ws.edit_config(|c| c.replace("max-tags = 20", "max-tags = 100"));
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!(server(&report, "many")["latest"]["version"], "1.0.30");
}

#[test]
fn a_fetch_larger_than_max_fetch_size_is_aborted_and_named() {
    let ws = Workspace::new();
    let (mut up, mirror) = released_and_pinned(&ws, "big-");
    let c = up.commit(
        &[("blob.txt", Some(&incompressible(4 << 20)))],
        "a big file",
    );
    up.tag("v1.1.0", c);
    let healthy = healthy_and(&ws, "big", &up, &mirror);
    with_state_keys(&ws, "max-fetch-size = \"512KiB\"\n");

    let (code, report) = ws.sync();
    assert_eq!(code, 1, "{report}");
    let err = server(&report, "big")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        err.contains("max-fetch-size = 512KiB") && err.contains("[state]"),
        "the error names the limit and the key: {err}"
    );
    assert_eq!(server(&report, "healthy")["status"], "pr-opened");
    assert!(healthy.branch("upkeep/healthy").is_some());
    assert!(mirror.branch("upkeep/big").is_none());

    ws.edit_config(|c| c.replace("\"512KiB\"", "\"64MiB\""));
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!(server(&report, "big")["latest"]["version"], "1.1.0");
}

#[test]
fn the_default_cap_is_ten_thousand_tags() {
    let ws = Workspace::new();
    let (up, mirror) = released_and_pinned(&ws, "");
    let head = up.repo.find_object(up.head(), None).unwrap();
    for i in 0..10_000 {
        up.repo
            .tag_lightweight(&format!("nightly-{i:05}"), &head, false)
            .unwrap();
    }
    ws.write_config(&[ServerSpec::lockfile("flood", &up, &mirror)]);
    let (code, report) = ws.sync();
    assert_eq!(code, 1, "{report}");
    let err = server(&report, "flood")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("max-tags = 10000"), "{err}");
}
