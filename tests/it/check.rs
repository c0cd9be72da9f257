//! `upkeep check`: every problem with file, line and column; exit 2 when invalid.

use crate::support::Workspace;

#[test]
fn a_broken_config_lists_every_error_with_line_and_column_and_exits_2() {
    let ws = Workspace::new();
    std::fs::write(
        ws.config_path(),
        "[schedule]\ncron = \"every day\"\n\n[[servers]]\nname = \"a\"\nupstream = \"/nonexistent\"\nowners = [\"x\"]\nrelease = { tag-pattern = \"(\" }\nmirorr = {}\n\n[[servers]]\nname = \"a\"\n",
    )
    .unwrap();
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let file = ws.config_path().display().to_string();
    for needle in [
        format!("{file}:2:8: cron expression `every day` has 2 fields"),
        format!("{file}:7:11: server `a`: owner `x` is not an email address"),
        format!("{file}:8:27: server `a`: `tag-pattern` is not a valid regex"),
        format!("{file}:9:1: unknown key `mirorr` in [servers]"),
        format!("{file}:12:8: duplicate server name `a`"),
    ] {
        assert!(
            out.stderr.contains(&needle),
            "missing {needle:?} in:\n{}",
            out.stderr
        );
    }
    assert!(out.stderr.contains("problem(s) in"), "{}", out.stderr);
}

#[test]
fn a_valid_config_prints_the_next_three_fire_times() {
    let ws = Workspace::new();
    ws.write_config(&[]);
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("valid, 0 server(s)"), "{}", out.stdout);
    let fires: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("  20"))
        .collect();
    assert_eq!(fires.len(), 3, "{}", out.stdout);
}

#[test]
fn a_missing_config_says_how_to_get_one() {
    let ws = Workspace::new();
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("config/example.toml"), "{}", out.stderr);
}

#[test]
fn bad_toml_syntax_names_the_place() {
    let ws = Workspace::new();
    std::fs::write(ws.config_path(), "[state]\npath = \"unterminated\n").unwrap();
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains(&format!("{}:2:", ws.config_path().display())),
        "{}",
        out.stderr
    );
}

#[test]
fn check_online_verifies_each_mirror_is_reachable_and_writable() {
    use crate::support::{Repo, ServerSpec};
    let ws = Workspace::new();
    let up = Repo::new(&ws.path("upstream.git"));
    let mut mirror = Repo::new(&ws.path("mirror.git"));
    mirror.commit(&[("upkeep.lock", Some("ref = \"refs/tags/v1\"\n"))], "pin");
    let mut gone = ServerSpec::lockfile("gone", &up, &mirror);
    gone.mirror = ws.path("no-such-mirror.git").display().to_string();
    ws.write_config(&[ServerSpec::lockfile("ok", &up, &mirror), gone]);
    let out = ws.upkeep(&["check", "--online"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("ok: mirror reachable and writable"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("gone: mirror check failed"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("no-such-mirror.git"), "{}", out.stdout);
}

/// A PostgreSQL state: `check` shows where it is with the URL redacted, from an environment
/// variable or a file, and when the URL cannot be read here it names the variable or file and
/// still passes (the URL is read when the state is opened, as every secret is).
#[test]
fn check_shows_a_postgres_state_redacted() {
    let mut ws = Workspace::new();
    ws.write_config(&[]);
    let url = "postgres://upkeep:hunter2-pw@db.example.com:5432/upkeep?password=hunter2-pw&sslmode=require";
    // The `[state]` table (the first block of the written config) replaced.
    let postgres = |from: String| {
        move |text: String| {
            let rest = text.split_once("\n\n").unwrap().1.to_string();
            format!("[state]\nbackend = \"postgres\"\n{from}\n\n{rest}")
        }
    };
    let shown = "state: PostgreSQL postgres://db.example.com:5432/upkeep?sslmode=require";

    ws.edit_config(postgres("url-env = \"UPKEEP_TEST_DATABASE_URL\"".into()));
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("environment variable UPKEEP_TEST_DATABASE_URL ([state] url-env) is not set"),
        "{}",
        out.stdout
    );
    ws.env.push(("UPKEEP_TEST_DATABASE_URL".into(), url.into()));
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(shown), "{}", out.stdout);
    assert!(!out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"));

    let file = ws.path("database-url");
    std::fs::write(&file, format!("{url}\n")).unwrap();
    let from = format!("url-file = {:?}", file.display().to_string());
    ws.write_config(&[]);
    ws.edit_config(postgres(from));
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(shown), "{}", out.stdout);
    assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);

    // SQLite: the file, as before.
    ws.write_config(&[]);
    let out = ws.upkeep(&["check"]);
    let db = ws.path("state/upkeep.db").display().to_string();
    assert!(
        out.stdout.contains(&format!("state: SQLite {db}")),
        "{}",
        out.stdout
    );
}
