//! Private registries: the npm and PyPI channels authenticate with a token named by
//! `token-env`/`token-file` (npm: `Authorization: Bearer`, as npm sends `_authToken`; PyPI:
//! HTTP Basic with `username`, as pip authenticates to private indexes), so credentials no
//! longer have to be written into the registry URL. The token reaches the registry and nothing
//! else: no output, log line, report, state row or cache key.

use base64::Engine as _;
use serde_json::json;

use crate::channels_support::FakeRegistry;
use crate::support::{Repo, ServerSpec, Workspace, released_and_pinned, server};

const NPM_TOKEN: &str = "npm-registry-token-canary-8d3f";
const PYPI_TOKEN: &str = "pypi-index-token-canary-41ab";

fn world(channel_table: &str, release_channel: &str) -> (Workspace, Repo) {
    let ws = Workspace::new();
    let (mut up, mirror) = released_and_pinned(&ws, "");
    let c2 = up.commit(&[("a.txt", Some("2"))], "r2");
    up.tag("v1.1.0", c2);
    ws.write_config(&[ServerSpec::lockfile("private", &up, &mirror)]);
    ws.edit_config(|c| {
        c.replace(
            "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }",
            &format!(
                "release = {{ channel = \"{release_channel}\", tag-pattern = \"^v(.+)$\" }}\n\
                 [servers.channels]\n{channel_table}"
            ),
        )
    });
    (ws, mirror)
}

fn assert_secret_nowhere(ws: &Workspace, secret: &str, outputs: &[&str]) {
    for text in outputs {
        assert!(!text.contains(secret), "the token was printed:\n{text}");
    }
    for entry in std::fs::read_dir(ws.path("state")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(secret));
    }
}

#[test]
fn npm_sends_the_token_as_a_bearer_token_and_nowhere_else() {
    let registry = FakeRegistry::start();
    let old = "2025-01-01T00:00:00.000Z";
    registry.json(
        "/weather",
        &json!({"name": "weather", "versions": {"1.0.0": {}, "1.1.0": {}},
                "time": {"1.0.0": old, "1.1.0": old}}),
    );
    registry.require_auth(&format!("Bearer {NPM_TOKEN}"));
    let table = format!(
        "npm = {{ package = \"weather\", registry = \"{}\", token-env = \"UPKEEP_TEST_NPM_TOKEN\" }}",
        registry.base()
    );
    let (mut ws, mirror) = world(&table, "npm");

    // Without the variable: the server fails naming the variable, not a value.
    let (code, report) = ws.sync();
    assert_eq!(code, 1, "{report}");
    let err = server(&report, "private")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("UPKEEP_TEST_NPM_TOKEN"), "{err}");

    ws.env
        .push(("UPKEEP_TEST_NPM_TOKEN".into(), NPM_TOKEN.into()));
    ws.env.push(("UPKEEP_LOG".into(), "trace".into()));
    let out = ws.upkeep(&["sync", "--now", "--json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(server(&report, "private")["latest"]["version"], "1.1.0");
    assert!(mirror.branch("upkeep/private").is_some());
    assert!(
        registry
            .requests()
            .iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {NPM_TOKEN}"))),
        "the registry saw the bearer token"
    );
    let status = ws.upkeep(&["status", "--json"]);
    assert_secret_nowhere(&ws, NPM_TOKEN, &[&out.stdout, &out.stderr, &status.stdout]);
}

#[test]
fn pypi_sends_the_username_and_token_by_basic_auth() {
    let registry = FakeRegistry::start();
    let file =
        |at: &str| json!([{"filename": "w.tar.gz", "upload_time_iso_8601": at, "yanked": false}]);
    registry.json(
        "/pypi/weather/json",
        &json!({"info": {"name": "weather"},
                "releases": {"1.0.0": file("2025-01-01T00:00:00Z"), "1.1.0": file("2025-02-01T00:00:00Z")}}),
    );
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("deploy-bot:{PYPI_TOKEN}"));
    registry.require_auth(&format!("Basic {basic}"));
    let (ws, _) = world("", "pypi");
    let token_file = ws.path("pypi-token");
    std::fs::write(&token_file, format!("{PYPI_TOKEN}\n")).unwrap();
    ws.edit_config(|c| {
        c.replace(
            "[servers.channels]\n",
            &format!(
                "[servers.channels]\npypi = {{ project = \"weather\", index = \"{}\", username = \"deploy-bot\", token-file = {:?} }}\n",
                registry.base(),
                token_file.display().to_string()
            ),
        )
    });
    let out = ws.upkeep(&["sync", "--now", "--json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        server(&report, "private")["latest"]["version"],
        "1.1.0",
        "{report}"
    );
    assert_secret_nowhere(&ws, PYPI_TOKEN, &[&out.stdout, &out.stderr]);
    assert_secret_nowhere(&ws, &basic, &[&out.stdout, &out.stderr]);
}
