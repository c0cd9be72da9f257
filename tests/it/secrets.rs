//! Secrets written where their *name* belongs, and the files that hold the state.
//!
//! A token pasted into `token-env` passed `check` (it is a valid variable name), and the run then
//! failed with "environment variable <the token> is not set": the token reached stdout, the log,
//! the stored report, `status`, `/status`, the SSE error event and the failing alert. Now the
//! config refuses it, naming the key and never the value; and the state, the cache and the
//! outbox are private to the user upkeep runs as.

use std::os::unix::fs::PermissionsExt as _;

use crate::support::{MIT, Repo, ServerSpec, Workspace, released_and_pinned};

const GITHUB_CANARY: &str = "ghp_C4naryT0kenF0rUpkeepTests000000000001";
const HEX_CANARY: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const PYPI_CANARY: &str = "pypi-AgEIcHlwaS5vcmcCanaryCanaryCanary";

fn world(mirror_table: Option<String>) -> (Workspace, Repo, Repo) {
    let ws = Workspace::new();
    let (mut up, mirror) = released_and_pinned(&ws, "");
    // A license change, so the run also writes an email to the outbox.
    let restricted = format!("{MIT}\nYou may not use the Software in production.\n");
    let c2 = up.commit(&[("LICENSE", Some(&restricted))], "r2");
    up.tag("v1.1.0", c2);
    let mut spec = ServerSpec::lockfile("srv", &up, &mirror);
    spec.mirror_table = mirror_table;
    ws.write_config(&[spec]);
    (ws, up, mirror)
}

fn assert_nowhere(ws: &Workspace, canary: &str, outputs: &[&str]) {
    for text in outputs {
        assert!(!text.contains(canary), "the secret was printed:\n{text}");
    }
    // Nor in any file upkeep wrote (state, cache, outbox).
    for dir in ["state", "cache", "outbox"] {
        let path = ws.path(dir);
        if path.exists() {
            let grep = std::process::Command::new("grep")
                .args(["-r", "-a", "-l", canary])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                grep.stdout.is_empty(),
                "the secret is in {}",
                String::from_utf8_lossy(&grep.stdout)
            );
        }
    }
}

#[test]
fn a_token_pasted_into_token_env_is_refused_by_check_and_sync_and_printed_nowhere() {
    let mirror = format!(
        "forge = \"github\"\nrepo = \"example/mirror\"\napi-url = \"http://127.0.0.1:9\"\n\
         token-env = \"{GITHUB_CANARY}\"\nbase = \"main\"\npin-file = \"upkeep.lock\"\n"
    );
    let (ws, _up, _mirror) = world(Some(mirror));
    let check = ws.upkeep(&["check"]);
    assert_eq!(check.code, 2, "check accepted a token as a variable name");
    assert!(
        check.stderr.contains("looks like a GitHub token")
            && check
                .stderr
                .contains("put the token in an environment variable and name the variable here"),
        "{}",
        check.stderr
    );
    let sync = ws.upkeep(&["sync", "--now"]);
    assert_eq!(sync.code, 2, "{}", sync.stdout);
    let status = ws.upkeep(&["status", "--json"]);
    assert_nowhere(
        &ws,
        GITHUB_CANARY,
        &[
            &check.stdout,
            &check.stderr,
            &sync.stdout,
            &sync.stderr,
            &status.stdout,
            &status.stderr,
        ],
    );
}

#[test]
fn tokens_pasted_into_service_email_and_channel_secret_keys_are_refused_unprinted() {
    let (ws, _up, _mirror) = world(None);
    ws.edit_config(|c| {
        let c = c.replacen(
            "[[servers]]",
            &format!("[service]\nsync-token-env = \"{HEX_CANARY}\"\n\n[[servers]]"),
            1,
        );
        c.replace(
            "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }",
            &format!(
                "release = {{ channel = \"github-releases\", tag-pattern = \"^v(.+)$\" }}\n\
                 [servers.channels]\ngithub-releases = {{ repo = \"o/r\", token-file = \"{PYPI_CANARY}\" }}"
            ),
        )
    });
    let check = ws.upkeep(&["check"]);
    assert_eq!(check.code, 2, "{}", check.stderr);
    assert!(
        check
            .stderr
            .contains("`sync-token-env` holds what looks like"),
        "{}",
        check.stderr
    );
    assert!(
        check.stderr.contains("`token-file` holds what looks like"),
        "{}",
        check.stderr
    );
    for canary in [HEX_CANARY, PYPI_CANARY] {
        assert_nowhere(&ws, canary, &[&check.stdout, &check.stderr]);
    }
}

#[test]
fn a_token_under_a_misspelt_key_is_not_shown_in_the_diagnostic() {
    let mirror = format!(
        "forge = \"github\"\nrepo = \"example/mirror\"\ntoken = \"{GITHUB_CANARY}\"\n\
         base = \"main\"\npin-file = \"upkeep.lock\"\n"
    );
    let (ws, _up, _mirror) = world(Some(mirror));
    let check = ws.upkeep(&["check"]);
    assert_eq!(check.code, 2);
    assert!(
        check.stderr.contains("unknown key `token`"),
        "{}",
        check.stderr
    );
    assert_nowhere(&ws, GITHUB_CANARY, &[&check.stdout, &check.stderr]);
}

#[test]
fn the_state_the_cache_and_the_outbox_are_private_to_their_owner() {
    let (ws, _up, _mirror) = world(None);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let mode = |rel: &str| {
        std::fs::metadata(ws.path(rel))
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("state/upkeep.db"), 0o600, "the state file");
    assert_eq!(mode("state"), 0o700, "the state directory");
    assert_eq!(mode("cache"), 0o700, "the cache directory");
    assert_eq!(mode("outbox"), 0o700, "the outbox directory");
    let emails = ws.emails();
    assert!(!emails.is_empty(), "the license change queued an email");
    for email in emails {
        let m = std::fs::metadata(&email).unwrap().permissions().mode() & 0o777;
        assert_eq!(m, 0o600, "{}", email.display());
    }
}

#[test]
fn an_empty_token_file_fails_the_server_naming_the_file_not_an_empty_token_sent() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("github-token");
    // Mounted before its content was written: a newline only.
    std::fs::write(&token_file, "\n").unwrap();
    let mirror = format!(
        "forge = \"github\"\nrepo = \"example/mirror\"\napi-url = \"http://127.0.0.1:9\"\n\
         token-file = \"{}\"\nbase = \"main\"\npin-file = \"upkeep.lock\"\n",
        token_file.display()
    );
    let (ws, _up, _mirror) = world(Some(mirror));
    let (code, report) = ws.sync();
    assert_eq!(code, 1, "{report}");
    let error = report["servers"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!(
            "secret file {} is empty: it must hold the secret",
            token_file.display()
        )),
        "{report}"
    );
}
