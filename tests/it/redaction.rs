//! Credentials in URLs never reach an output: each upstream below carries a canary password in
//! its URL and fails in its own way (a URL libgit2 cannot use, a refused connection, a `401`
//! from a loopback git server, a password holding an `@`, the scp-like form). Two runs (so the
//! failing alert is queued) and every command that shows their result must not contain any
//! canary: stdout, the log at debug level, the stored reports, `status`, `runs`, the outbox and
//! every byte of the state, cache and outbox.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

use crate::support::{MIT, Repo, ServerSpec, Workspace, lockfile, released_and_pinned};

/// A git "smart HTTP" server that answers every request `401 Unauthorized` with a Basic
/// challenge, as a private repository does (RFC 7235; git's http-protocol documentation).
fn unauthorized_git_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
                      Content-Length: 13\r\nConnection: close\r\n\r\nUnauthorized\n",
                );
            });
        }
    });
    port
}

fn canary(n: u32) -> String {
    format!("c4nary{n}pw")
}

#[test]
fn credentials_in_upstream_urls_appear_in_no_output_of_any_error_path() {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("up.git"));
    let c1 = up.commit(&[("LICENSE", Some(MIT))], "r1");
    up.tag("v1.0.0", c1);
    let port = unauthorized_git_server();
    let upstreams = [
        // Not a URL libgit2 can use ("bad upstream URL ..." was printed as written).
        ("bad-url", format!("https://user:{}@/x.git", canary(1))),
        (
            "refused",
            format!("http://user:{}@127.0.0.1:1/x.git", canary(2)),
        ),
        (
            "unauthorized",
            format!("http://user:{}@127.0.0.1:{port}/x.git", canary(3)),
        ),
        // Redaction used to cut at the first `@`, leaving the rest of this password.
        (
            "at-sign",
            format!("http://user:pa@{}@127.0.0.1:{port}/x.git", canary(4)),
        ),
        ("scp-like", format!("user:{}@127.0.0.1:x.git", canary(5))),
        (
            "unresolvable",
            format!("https://user:{}@upstream.invalid/x.git", canary(6)),
        ),
    ];
    let mut specs = Vec::new();
    for (name, url) in &upstreams {
        let mut m = Repo::new(&ws.path(&format!("{name}-mirror.git")));
        m.commit(&[("upkeep.lock", Some(&lockfile(url, "v1.0.0")))], "pin");
        let mut spec = ServerSpec::lockfile(name, &up, &m);
        spec.upstream = url.clone();
        specs.push(spec);
    }
    ws.write_config(&specs);
    let mut ws = ws;
    ws.env.push(("UPKEEP_LOG".into(), "debug".into()));

    let mut outputs = Vec::new();
    for args in [
        &["sync", "--now", "--json"][..],
        &["sync", "--now"],
        &["status"],
        &["status", "--json"],
        &["runs"],
        &["runs", "show", "1"],
        &["runs", "show", "2", "--json"],
        &["outbox", "--all"],
        &["outbox", "--all", "--json"],
    ] {
        let out = ws.upkeep(args);
        outputs.push((args.join(" "), out.stdout, out.stderr));
    }
    // Every server failed, and says why without the password.
    let (_, report, _) = &outputs[0];
    let report: serde_json::Value = serde_json::from_str(report).unwrap();
    for (name, _) in &upstreams {
        let s = crate::support::server(&report, name);
        assert_eq!(s["status"], "failed", "{s}");
    }
    assert!(
        ws.emails()
            .iter()
            .any(|e| e.display().to_string().contains("failing")),
        "the failing alert was sent: {:?}",
        ws.emails()
    );
    for (command, stdout, stderr) in &outputs {
        for n in 1..=6 {
            let c = canary(n);
            assert!(!stdout.contains(&c), "`{command}` printed {c}:\n{stdout}");
            assert!(!stderr.contains(&c), "`{command}` logged {c}:\n{stderr}");
        }
    }
    for dir in ["state", "outbox"] {
        for entry in std::fs::read_dir(ws.path(dir)).unwrap() {
            let path = entry.unwrap().path();
            let bytes = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            for n in 1..=6 {
                assert!(
                    !bytes.contains(&canary(n)),
                    "{} holds {}",
                    path.display(),
                    canary(n)
                );
            }
        }
    }
}

#[test]
fn credentials_in_registry_urls_are_refused_by_check_without_being_printed() {
    let ws = Workspace::new();
    let (up, m) = released_and_pinned(&ws, "");
    ws.write_config(&[ServerSpec::lockfile("srv", &up, &m)]);
    let secret = canary(7);
    ws.edit_config(|c| {
        c.replace(
            "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }",
            &format!(
                "release = {{ channel = \"npm\", tag-pattern = \"^v(.+)$\" }}\n\
                 [servers.channels]\nnpm = {{ package = \"p\", registry = \"https://bot:{secret}@npm.example.com\" }}"
            ),
        )
    });
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 2, "check accepted credentials in a registry URL");
    assert!(out.stderr.contains("token-env"), "{}", out.stderr);
    assert!(!out.stderr.contains(&secret), "{}", out.stderr);
    assert!(!out.stdout.contains(&secret), "{}", out.stdout);
}
