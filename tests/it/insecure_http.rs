//! A token sent to a plain `http://` URL crosses the network unencrypted: `check` refuses it
//! for every entry that sends one (the GitHub and Azure DevOps APIs, the GitHub releases
//! channel, npm and PyPI registries with a token, SMTP without TLS with a password) unless the
//! entry says `allow-insecure = true` (then it warns). Loopback is exempt: the token never
//! leaves the machine.

use crate::support::{Repo, ServerSpec, Workspace};

fn workspace(mirror_table: &str, channels: &str, email_extra: &str) -> Workspace {
    let ws = Workspace::new();
    let up = Repo::new(&ws.path("up.git"));
    let mirror = Repo::new(&ws.path("mirror.git"));
    let mut spec = ServerSpec::lockfile("srv", &up, &mirror);
    if !mirror_table.is_empty() {
        spec.mirror_table = Some(mirror_table.to_string());
    }
    ws.write_config(&[spec]);
    ws.edit_config(|c| {
        let c = c.replace("failing-runs-alert = 2\n", &format!("failing-runs-alert = 2\n{email_extra}"));
        if channels.is_empty() {
            c
        } else {
            c.replace(
                "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }",
                &format!(
                    "release = {{ channel = \"git-tags\", tag-pattern = \"^v(.+)$\", verify = [\"npm\", \"pypi\", \"github-releases\"] }}\n[servers.channels]\n{channels}"
                ),
            )
        }
    });
    ws
}

const GITHUB_HTTP: &str = "forge = \"github\"\nrepo = \"o/r\"\napi-url = \"http://ghe.example.com/api/v3\"\ntoken-env = \"GH_TOKEN\"\n";

#[test]
fn a_token_bound_for_plain_http_is_refused_for_every_kind_of_entry() {
    let channels = "npm = { package = \"p\", registry = \"http://npm.example.com\", token-env = \"NPM_TOKEN\" }\n\
                    pypi = { project = \"p\", index = \"http://pypi.example.com\", token-file = \"/run/secrets/pypi\" }\n\
                    github-releases = { repo = \"o/r\", api-url = \"http://ghe.example.com/api/v3\", token-env = \"GH_TOKEN\" }\n";
    let ws = workspace(GITHUB_HTTP, channels, "");
    // SMTP without TLS, with a password, to a remote relay.
    ws.edit_config(|c| {
        c.replace(
            "transport = \"file\"\n",
            "transport = \"smtp\"\nhost = \"smtp.example.com\"\ntls = \"none\"\nusername = \"u\"\npassword-env = \"SMTP_PASSWORD\"\n",
        )
    });
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let refusals = out.stderr.matches("[insecure-url]").count();
    assert_eq!(
        refusals, 5,
        "mirror, npm, pypi, github-releases, smtp:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("allow-insecure = true"),
        "{}",
        out.stderr
    );
}

#[test]
fn allow_insecure_turns_the_refusal_into_a_warning_and_loopback_needs_nothing() {
    let allowed = format!("{GITHUB_HTTP}allow-insecure = true\n");
    let ws = workspace(&allowed, "", "");
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("warning:") && out.stderr.contains("[insecure-url]"),
        "{}",
        out.stderr
    );

    let loopback = GITHUB_HTTP.replace("ghe.example.com", "127.0.0.1:8080");
    let ws = workspace(&loopback, "", "");
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("insecure"), "{}", out.stderr);

    // No token, nothing to protect: a public registry over http is not refused.
    let ws = workspace(
        "",
        "npm = { package = \"p\", registry = \"http://npm.example.com\" }\n",
        "",
    );
    ws.edit_config(|c| c.replace(", \"pypi\", \"github-releases\"", ""));
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}
