//! Upstream text never drives the operator's terminal: OSC 0 (window title), OSC 52 (clipboard
//! write), `ESC[2J` (clear screen) and C1 controls in a license line, a registry's error body and
//! an SMTP reply are shown escaped by every human-readable command, while the JSON outputs keep
//! the text exact (JSON escapes it).

use crate::channels_support::FakeRegistry;
use crate::support::{MIT, Repo, ServerSpec, Workspace, lockfile, released_and_pinned};

/// OSC 0 ends with BEL, OSC 52 with ST (`ESC \`), then a CSI and an 8-bit CSI (C1).
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}]52;c;cm0gLXJmIH4=\u{1b}\\\u{1b}[2J\u{9b}31m";
/// How [`HOSTILE`] reads once escaped (its first sequence).
const SHOWN: &str = "\\x1b]0;pwned\\x07";

/// No control character a terminal acts on (newline and tab are fine).
fn assert_inert(what: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
        .collect();
    assert!(
        bad.is_empty(),
        "{what} printed raw control characters {bad:?}:\n{text}"
    );
}

struct World {
    ws: Workspace,
    _registry: FakeRegistry,
}

/// `licensed`: its v1.1.0 LICENSE gains a use restriction carrying the sequences (held for
/// review). `registry`: its npm registry answers 404 with them in the body (failed).
fn world() -> World {
    let ws = Workspace::new();
    let (mut up, m1) = released_and_pinned(&ws, "licensed-");
    let restricted = format!("{MIT}\nYou may not use the Software in production. {HOSTILE}\n");
    let c2 = up.commit(&[("LICENSE", Some(&restricted))], "r2");
    up.tag("v1.1.0", c2);
    let mut m2 = Repo::new(&ws.path("registry-mirror.git"));
    m2.commit(
        &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.0.0")))],
        "pin",
    );
    ws.write_config(&[
        ServerSpec::lockfile("licensed", &up, &m1),
        ServerSpec::lockfile("registry", &up, &m2),
    ]);
    let registry = FakeRegistry::start();
    registry.fail_next(404, 100, &[], &format!("no such package {HOSTILE}"));
    let base = registry.base();
    ws.edit_config(|c| {
        let (head, tail) = c.split_once("name = \"registry\"").unwrap();
        let tail = tail.replacen(
            "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }",
            &format!(
                "release = {{ channel = \"npm\", tag-pattern = \"^v(.+)$\" }}\n\
                 [servers.channels]\nnpm = {{ package = \"weather\", registry = \"{base}\" }}"
            ),
            1,
        );
        format!("{head}name = \"registry\"{tail}")
    });
    World {
        ws,
        _registry: registry,
    }
}

#[test]
fn every_human_readable_output_shows_control_sequences_escaped() {
    let w = world();
    let ws = &w.ws;

    let sync = ws.upkeep(&["sync", "--now"]);
    assert_eq!(sync.code, 1, "{}\n{}", sync.stdout, sync.stderr);
    assert_inert("sync", &sync.stdout);
    assert_inert("sync (stderr)", &sync.stderr);
    assert!(sync.stdout.contains(SHOWN), "{}", sync.stdout);

    let status = ws.upkeep(&["status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert_inert("status", &status.stdout);
    assert!(status.stdout.contains(SHOWN), "{}", status.stdout);

    let show = ws.upkeep(&["license", "show", "licensed"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert_inert("license show", &show.stdout);
    assert!(
        show.stdout.contains("in production."),
        "the diff is shown: {}",
        show.stdout
    );
    assert!(show.stdout.contains(SHOWN), "{}", show.stdout);

    let runs = ws.upkeep(&["runs"]);
    assert_inert("runs", &runs.stdout);
    let run = ws.upkeep(&["runs", "show", "1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_inert("runs show", &run.stdout);
    assert!(run.stdout.contains(SHOWN), "{}", run.stdout);

    // An SMTP relay's reply is quoted as the email's last error.
    let store = upkeep::store::Store::open(&ws.path("state/upkeep.db")).unwrap();
    let email = store.outbox(&[]).unwrap().remove(0);
    store
        .mark_retry(
            email.id,
            &format!("451 try later {HOSTILE}"),
            chrono::Utc::now(),
        )
        .unwrap();
    let outbox = ws.upkeep(&["outbox"]);
    assert_eq!(outbox.code, 0, "{}", outbox.stderr);
    assert_inert("outbox", &outbox.stdout);
    assert!(outbox.stdout.contains(SHOWN), "{}", outbox.stdout);

    // JSON keeps the text exact.
    let json = ws.upkeep(&["status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let registry = doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "registry")
        .unwrap();
    assert!(
        registry["last_error"].as_str().unwrap().contains(HOSTILE),
        "{registry}"
    );
}

#[test]
fn check_shows_a_config_value_with_control_sequences_escaped() {
    let ws = Workspace::new();
    ws.write_config(&[]);
    // TOML escapes put the raw characters into the value; the diagnostic quotes the value.
    ws.edit_config(|c| {
        c.replace(
            "[email]",
            "[schedule]\ncron = \"\\u001b]0;pwned\\u0007 \\u001b[2J\"\n\n[email]",
        )
    });
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_inert("check", &out.stderr);
    assert!(out.stderr.contains(SHOWN), "{}", out.stderr);
}
