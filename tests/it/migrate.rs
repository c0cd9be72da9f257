//! Explicit state migrations through the real binary: a state left by an older upkeep is
//! migrated only when that is allowed (`upkeep migrate`, `--migrate`, `[state] auto-migrate`,
//! which the SQLite state has on by default), and a state from a newer upkeep is refused by
//! every command, exit code 4, with nothing changed.

use rusqlite::Connection;
use upkeep::store::db::{self, Exec as _};
use upkeep::store::schema;

use crate::support::{ServerSpec, Workspace, released_and_pinned};

/// The schema version an older upkeep left behind in these tests.
const OLD: usize = 10;

/// One server (released and pinned at v1.0.0) and `[state] auto-migrate` as given (absent:
/// the default).
fn world(auto_migrate: Option<bool>) -> Workspace {
    let ws = Workspace::new();
    let (up, mirror) = released_and_pinned(&ws, "a");
    ws.write_config(&[ServerSpec::lockfile("a", &up, &mirror)]);
    if let Some(on) = auto_migrate {
        ws.edit_config(|c| {
            c.replacen(
                "lease-timeout = \"2m\"\n",
                &format!("lease-timeout = \"2m\"\nauto-migrate = {on}\n"),
                1,
            )
        });
    }
    ws
}

fn db(ws: &Workspace) -> Connection {
    Connection::open(ws.path("state/upkeep.db")).unwrap()
}

fn version(ws: &Workspace) -> usize {
    schema::version(&mut db::Conn::Sqlite(db(ws))).unwrap()
}

/// A state as an upkeep that knew `OLD` migrations left it, with one remembered tag.
fn older_state(ws: &Workspace) {
    std::fs::create_dir_all(ws.path("state")).unwrap();
    let mut conn = db::Conn::Sqlite(db(ws));
    schema::migrate_to(&mut conn, OLD).unwrap();
    conn.execute(
        "INSERT INTO tag_history(server, tag, commit_id, first_seen, last_seen)
         VALUES ('a', 'v0.9.0', 'abc', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        db::params![],
    )
    .unwrap();
}

#[test]
fn an_older_state_is_migrated_only_when_asked_and_migrate_is_idempotent() {
    let ws = world(Some(false));
    older_state(&ws);
    let known = schema::known();

    for args in [&["status"][..], &["sync", "--now"]] {
        let out = ws.upkeep(args);
        assert_eq!(out.code, 4, "{args:?}: {}{}", out.stdout, out.stderr);
        for said in [
            format!("schema version {OLD}"),
            format!("needs version {known}"),
            "upkeep migrate".into(),
            "--migrate".into(),
        ] {
            assert!(
                out.stderr.contains(&said),
                "{args:?}: {said} in {}",
                out.stderr
            );
        }
        assert_eq!(version(&ws), OLD, "{args:?} changed nothing");
    }

    let check = ws.upkeep(&["migrate", "--check"]);
    assert_eq!(check.code, 4, "{}{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains(&format!("  {}: ", OLD + 1)),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains(&format!("  {known}: ")),
        "{}",
        check.stdout
    );
    assert_eq!(version(&ws), OLD);

    let out = ws.upkeep(&["migrate"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "schema version {OLD} -> {known} ({} migrations)",
            known - OLD
        )),
        "{}",
        out.stdout
    );
    let applied: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("  applied "))
        .collect();
    assert_eq!(applied.len(), known - OLD, "{}", out.stdout);
    assert!(applied[0].starts_with(&format!("  applied {}: ", OLD + 1)));
    assert_eq!(version(&ws), known);
    let kept: String = db(&ws)
        .query_row("SELECT tag FROM tag_history WHERE server = 'a'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(kept, "v0.9.0", "the old state's rows are kept");

    let again = ws.upkeep(&["migrate"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("up to date; nothing to apply"),
        "{}",
        again.stdout
    );
    assert_eq!(ws.upkeep(&["migrate", "--check"]).code, 0);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
}

#[test]
fn the_migrate_flag_or_the_default_applies_pending_migrations() {
    // `--migrate` on one command, auto-migrate off.
    let ws = world(Some(false));
    older_state(&ws);
    let (code, report) = ws.sync_with(&["--migrate"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(version(&ws), schema::known());

    // The SQLite default: an existing installation upgrades as before, no step to run.
    let ws = world(None);
    older_state(&ws);
    let out = ws.upkeep(&["status"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(version(&ws), schema::known());
}

#[test]
fn a_newer_state_is_refused_by_every_command_with_both_versions_named() {
    let ws = world(None);
    assert_eq!(ws.upkeep(&["migrate"]).code, 0);
    let newer = schema::known() + 1;
    db(&ws)
        .pragma_update(None, "user_version", i64::try_from(newer).unwrap())
        .unwrap();
    for args in [
        &["status"][..],
        &["sync", "--now"],
        &["sync", "--now", "--migrate"],
        &["migrate"],
        &["outbox"],
        &["serve"],
    ] {
        let out = ws.upkeep(args);
        assert_eq!(out.code, 4, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "schema version {newer}, newer than this upkeep knows ({})",
                schema::known()
            )),
            "{args:?}: {}",
            out.stderr
        );
        assert_eq!(version(&ws), newer, "{args:?} changed nothing");
    }
}
