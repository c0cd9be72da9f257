//! `upkeep serve` against a hostile client: the real binary on loopback, spoken to over raw TCP
//! where the point is what a well-behaved client would never do (send half a request, hold
//! connections open, declare a body and never send it, lie about its Host).
//!
//! No assertion here depends on how fast anything is: a cut-off connection is one that ends
//! (read returns) long before the test's own generous read timeout; a refused one is one that
//! is answered 503.

mod service_support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use service_support::*;
use upkeep::service::auth::sign;

const LONG: Duration = Duration::from_secs(60);

/// The fixture's config with `keys` added to its `[service]` table.
fn fixture(local: &[&str], settings: &Settings, keys: &str) -> Fixture {
    let f = Fixture::new(local, &[], settings);
    let text = f
        .config_text(settings)
        .replacen("[service]\n", &format!("[service]\n{keys}"), 1);
    std::fs::write(&f.config, text).unwrap();
    f
}

fn connect(svc: &Service) -> TcpStream {
    let addr = svc.base.trim_start_matches("http://");
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(LONG)).unwrap();
    s
}

/// Everything the server sends until it closes the connection (or `LONG` passes: then None).
fn read_to_close(mut s: TcpStream) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&out).into_owned());
            }
            Err(_) => return None,
        }
    }
}

/// The status line of the first response on `s`.
fn status_line(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while !out.ends_with(b"\r\n") {
        match s.read(&mut byte) {
            Ok(1) => out.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).trim().to_string()
}

fn request(svc: &Service, text: &str) -> (TcpStream, String) {
    let mut s = connect(svc);
    s.write_all(text.as_bytes()).unwrap();
    let line = status_line(&mut s);
    (s, line)
}

fn get(path: &str, headers: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n")
}

#[test]
fn a_half_sent_request_and_a_silent_connection_are_cut_off() {
    // The default `request-timeout` (10 s) applies.
    let f = fixture(&["alpha"], &Settings::default(), "");
    let svc = f.start();

    let mut half = connect(&svc);
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    assert!(
        read_to_close(half).is_some(),
        "a half-sent request was still open after {LONG:?}"
    );
    let silent = connect(&svc);
    assert!(
        read_to_close(silent).is_some(),
        "a connection that sent nothing was still open after {LONG:?}"
    );

    // A body declared and never sent, on an authorised request, is cut off too.
    let f = fixture(
        &["alpha"],
        &Settings {
            sync_token: true,
            ..Settings::default()
        },
        "request-timeout = \"1s\"\n",
    );
    let svc = f.start();
    let (s, line) = request(
        &svc,
        &format!(
            "POST /sync HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {SYNC_TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"ser"
        ),
    );
    assert!(line.contains(" 408 "), "{line}");
    assert!(read_to_close(s).is_some());
}

/// The default `[service] max-connections`.
const MAX_CONNECTIONS: usize = 64;

#[test]
fn connections_past_the_limit_are_refused_and_the_limit_frees_up() {
    let f = fixture(&["alpha"], &Settings::default(), "");
    let svc = f.start();
    // 64 connections hold their slots with half-sent requests; one more is answered 503.
    // (Retried: the slots of the start-up probes are freed once the server sees them close.)
    wait_for("a connection past the limit to be refused", CEILING, || {
        let mut held = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            let mut s = connect(&svc);
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .unwrap();
            held.push(s);
        }
        let (_s, line) = request(&svc, &get("/healthz", ""));
        line.contains(" 503 ").then_some(())
    });
    // Once the held connections are gone, requests are served again.
    wait_for("a request to be served again", CEILING, || {
        let (_s, line) = request(&svc, &get("/healthz", ""));
        line.contains(" 200 ").then_some(())
    });
}

#[test]
fn unauthenticated_posts_are_refused_before_their_body_is_read() {
    let f = fixture(
        &["alpha"],
        &Settings {
            cron: "0 0 0 1 1 *".into(), // yearly: no scheduled run during the test
            sync_token: true,
            webhook_secret: true,
            ..Settings::default()
        },
        "",
    );
    let svc = f.start();
    // 2 MB declared and never sent: the answer comes anyway, so the body was never awaited.
    let declared = "Content-Type: application/json\r\nContent-Length: 2000000\r\n";
    let (s, line) = request(
        &svc,
        &format!("POST /sync HTTP/1.1\r\nHost: 127.0.0.1\r\n{declared}\r\n"),
    );
    assert!(line.contains(" 401 "), "{line}");
    drop(s);
    let (s, line) = request(
        &svc,
        &format!(
            "POST /sync HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\n{declared}\r\n"
        ),
    );
    assert!(line.contains(" 401 "), "{line}");
    drop(s);
    let (_s, line) = request(
        &svc,
        &format!(
            "POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nX-GitHub-Event: release\r\n\
             X-GitHub-Delivery: 1\r\n{declared}\r\n"
        ),
    );
    assert!(line.contains(" 401 "), "{line}");
    // Declared larger than any sync request needs, with the right token: refused unread.
    let (_s, line) = request(
        &svc,
        &format!(
            "POST /sync HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {SYNC_TOKEN}\r\n{declared}\r\n"
        ),
    );
    assert!(line.contains(" 413 "), "{line}");
    assert!(runs(&f).is_empty());
}

/// The default `[service] max-event-subscribers`.
const MAX_SUBSCRIBERS: usize = 16;

#[test]
fn event_streams_are_capped_and_a_closed_one_frees_its_slot() {
    let f = fixture(
        &["alpha"],
        &Settings {
            cron: "0 0 0 1 1 *".into(),
            ..Settings::default()
        },
        "",
    );
    let svc = f.start();
    let auth = format!("Authorization: Bearer {READ_TOKEN}\r\n");
    let mut open = Vec::new();
    for _ in 0..MAX_SUBSCRIBERS {
        let (s, line) = request(&svc, &get("/events", &auth));
        assert!(line.contains(" 200 "), "{line}");
        open.push(s);
    }
    let (_over, line) = request(&svc, &get("/events", &auth));
    assert!(line.contains(" 503 "), "{line}");
    // The server notices a closed stream when it next writes to it (a keep-alive comment).
    drop(open.pop());
    wait_for("a freed /events slot", CEILING, || {
        let (s, line) = request(&svc, &get("/events", &auth));
        line.contains(" 200 ").then_some(s)
    });
}

#[test]
fn status_and_events_need_the_read_token_and_foreign_hosts_are_refused() {
    let f = fixture(&["alpha"], &Settings::default(), "");
    let svc = f.start();
    for path in ["/status", "/events"] {
        let (_s, line) = request(&svc, &get(path, ""));
        assert!(line.contains(" 401 "), "{path}: {line}");
        let (_s, line) = request(&svc, &get(path, "Authorization: Bearer wrong-token\r\n"));
        assert!(line.contains(" 401 "), "{path}: {line}");
    }
    let (code, body) = svc.get("/status").unwrap();
    assert_eq!(code, 200, "{body}");

    // DNS rebinding: the browser sends the attacker's name as Host.
    let foreign = "GET /status HTTP/1.1\r\nHost: attacker.example:9187\r\nConnection: close\r\n";
    let (_s, line) = request(
        &svc,
        &format!("{foreign}Authorization: Bearer {READ_TOKEN}\r\n\r\n"),
    );
    assert!(line.contains(" 403 "), "{line}");
    let (_s, line) = request(
        &svc,
        "GET /healthz HTTP/1.1\r\nHost: rebound.example\r\nConnection: close\r\n\r\n",
    );
    assert!(line.contains(" 403 "), "{line}");
}

#[test]
fn allowed_hosts_loopback_names_and_addresses_are_served() {
    let f = fixture(
        &["alpha"],
        &Settings::default(),
        "allowed-hosts = [\"upkeep.test\"]\n",
    );
    let svc = f.start();
    for host in ["localhost:9187", "upkeep.test", "127.0.0.1", "[::1]:9187"] {
        let (_s, line) = request(
            &svc,
            &format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        );
        assert!(line.contains(" 200 "), "{host}: {line}");
    }
}

/// A fixture without the read token the support configures, with `keys` in `[service]`.
fn fixture_without_read_token(keys: &str) -> (Fixture, String) {
    let f = fixture(&["alpha"], &Settings::default(), keys);
    let text = std::fs::read_to_string(&f.config)
        .unwrap()
        .replace("read-token-env = \"UPKEEP_TEST_READ_TOKEN\"\n", "");
    std::fs::write(&f.config, &text).unwrap();
    (f, text)
}

#[test]
fn read_access_open_needs_no_token_and_no_read_token_means_no_status() {
    // (`open` and a read token conflict.)
    let (f, _) = fixture_without_read_token("read-access = \"open\"\n");
    let svc = f.start();
    let (_s, line) = request(&svc, &get("/status", ""));
    assert!(line.contains(" 200 "), "{line}");
    drop(svc);

    let (f, text) = fixture_without_read_token("");
    let svc = f.start();
    let (_s, line) = request(&svc, &get("/status", ""));
    assert!(line.contains(" 403 "), "{line}");

    // `open` is for loopback only.
    let text = text.replace(
        "listen = \"127.0.0.1:",
        "read-access = \"open\"\nlisten = \"0.0.0.0:",
    );
    std::fs::write(&f.config, text).unwrap();
    let out = f.upkeep(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("open-read-access"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn release_payload(clone_url: &str) -> String {
    serde_json::json!({
        "action": "published",
        "release": { "tag_name": "v1.1.0" },
        "repository": { "clone_url": clone_url }
    })
    .to_string()
}

#[test]
fn a_replayed_delivery_starts_no_second_run_and_a_relabelled_one_none_at_all() {
    let f = fixture(
        &["alpha"],
        &Settings {
            cron: "0 0 0 1 1 *".into(),
            webhook_secret: true,
            ..Settings::default()
        },
        "",
    );
    let svc = f.start();
    let alpha = &f.servers[0];
    let body = release_payload(&alpha.upstream);
    let signature = sign(WEBHOOK_SECRET.as_bytes(), body.as_bytes());
    let id = delivery_id();
    let deliver = |event: &str, id: &str| {
        svc.post(
            "/webhooks/github",
            &[
                ("X-GitHub-Event", event),
                ("X-GitHub-Delivery", id),
                ("X-Hub-Signature-256", &signature),
            ],
            &body,
        )
    };
    let (code, reply) = deliver("release", &id);
    assert_eq!(code, 202, "{reply}");
    wait_for("the webhook run to finish", CEILING, || {
        runs(&f)
            .into_iter()
            .find(|r| r.trigger == "webhook" && r.finished_at.is_some())
    });
    // The same signed delivery again: acknowledged, ignored.
    let (code, reply) = deliver("release", &id);
    assert_eq!(code, 200, "{reply}");
    assert!(reply.contains("already processed"), "{reply}");
    // The signed body under another event name does not fit that event.
    let (code, reply) = deliver("push", &delivery_id());
    assert_eq!(code, 400, "{reply}");
    // No delivery id at all: refused (GitHub always sends one).
    let (code, _) = svc.post(
        "/webhooks/github",
        &[
            ("X-GitHub-Event", "release"),
            ("X-GitHub-Delivery", ""),
            ("X-Hub-Signature-256", &signature),
        ],
        &body,
    );
    assert_eq!(code, 400);
    assert_eq!(runs(&f).len(), 1, "one delivery, one run");
}

#[test]
fn short_service_secrets_are_refused_by_check_without_being_printed() {
    let f = fixture(
        &["alpha"],
        &Settings {
            sync_token: true,
            ..Settings::default()
        },
        "",
    );
    let check = std::process::Command::new(assert_cmd::cargo::cargo_bin("upkeep"))
        .arg("--config")
        .arg(&f.config)
        .arg("check")
        .env("UPKEEP_TEST_SYNC_TOKEN", "replace-me")
        .env("UPKEEP_TEST_READ_TOKEN", READ_TOKEN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sync-token-env"), "{stderr}");
    assert!(
        !stderr.contains("replace-me"),
        "the secret was printed: {stderr}"
    );
    let ok = std::process::Command::new(assert_cmd::cargo::cargo_bin("upkeep"))
        .arg("--config")
        .arg(&f.config)
        .arg("check")
        .env("UPKEEP_TEST_SYNC_TOKEN", SYNC_TOKEN)
        .env("UPKEEP_TEST_READ_TOKEN", READ_TOKEN)
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

/// The shipped samples: no placeholder secret, and a listener beyond loopback only with the
/// read and sync tokens named.
#[test]
fn the_kubernetes_sample_ships_no_secret_and_guards_its_open_listener() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let secret = std::fs::read_to_string(dir.join("secret.example.yaml")).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&secret).unwrap();
    let data = &docs[0]["stringData"];
    for (key, value) in data.as_hash().expect("stringData lists the keys") {
        assert_eq!(
            value.as_str(),
            Some(""),
            "{key:?} ships a value; the Secret must be generated (deploy/README.md)"
        );
    }
    assert!(!secret.contains("replace-me"));
    let readme = std::fs::read_to_string(dir.parent().unwrap().join("README.md")).unwrap();
    assert!(
        readme.contains("openssl rand -hex 32"),
        "deploy/README.md generates the secrets"
    );

    let configmap = std::fs::read_to_string(dir.join("configmap.yaml")).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&configmap).unwrap();
    let text = docs[0]["data"]["upkeep.toml"].as_str().unwrap();
    let config = upkeep::config::parse(std::path::Path::new("upkeep.toml"), text)
        .unwrap_or_else(|e| panic!("the ConfigMap's config is invalid:\n{e}"));
    assert!(!config.service.listen.ip().is_loopback());
    let raw: toml::Value = toml::from_str(text).unwrap();
    let service = &raw["service"];
    for key in ["read-token-env", "sync-token-env", "webhook-secret-env"] {
        assert!(
            service.get(key).and_then(toml::Value::as_str).is_some(),
            "the sample listens on {} without `{key}`",
            config.service.listen
        );
    }
    assert!(
        service.get("read-access").is_none(),
        "read-access stays \"token\""
    );
}
