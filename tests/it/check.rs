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
