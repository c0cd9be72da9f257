//! Faults of the environment rather than of a run: a host name that does not resolve, the state
//! database locked by another process, a cache directory that cannot be written, and an upstream
//! that accepts the connection and never answers. Each is reported clearly for the servers it
//! hits (or for the run, when it is global), the other servers finish, and once the fault is
//! gone the next run recovers without doing anything twice.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::wait::Pause;
use crate::support::{
    MIT, Repo, ServerSpec, Workspace, commits_ahead, git_daemon, git_daemon_on, server,
};

/// A password in an upstream URL; it must never reach a report, log line or state row.
const CANARY: &str = "canary-pw-5d1c7e";

/// An upstream with v1.0.0 and v1.1.0.
fn released_upstream(path: &Path) -> Repo {
    let mut up = Repo::new(path);
    let c = up.commit(&[("LICENSE", Some(MIT)), ("a.txt", Some("1"))], "r1");
    up.tag("v1.0.0", c);
    let c = up.commit(&[("a.txt", Some("2"))], "r2");
    up.tag("v1.1.0", c);
    up
}

fn release(up: &mut Repo, tag: &str) {
    let c = up.commit(&[("a.txt", Some(tag))], tag);
    up.tag(tag, c);
}

/// A mirror pinned at v1.0.0. The lockfile names no upstream, so a test can change the
/// configured upstream URL (as an operator fixing a host name would).
fn pinned_mirror(path: &Path) -> Repo {
    let mut m = Repo::new(path);
    m.commit(
        &[("upkeep.lock", Some("ref = \"refs/tags/v1.0.0\"\n"))],
        "pin",
    );
    m
}

fn spec(name: &str, upstream: &str, mirror: &Repo) -> ServerSpec {
    ServerSpec {
        name: name.into(),
        upstream: upstream.into(),
        mirror: mirror.url(),
        pin_file: "upkeep.lock".into(),
        pin_format: "lockfile".into(),
        mirror_table: None,
    }
}

fn status(ws: &Workspace) -> serde_json::Value {
    let out = ws.upkeep(&["status", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// `status` of one server after a failed run: its last error says `needle`.
fn assert_last_error(ws: &Workspace, name: &str, needle: &str) -> serde_json::Value {
    let doc = status(ws);
    let st = server(&doc, name).clone();
    assert!(st["last_error"].as_str().unwrap().contains(needle), "{doc}");
    st
}

fn error_of(report: &serde_json::Value, name: &str) -> String {
    let s = server(report, name);
    assert_eq!(s["status"], "failed", "{s}");
    s["error"].as_str().unwrap().to_string()
}

/// After the fault is gone: `recovered` get their PR in the next run, and a full check after
/// that changes nothing anywhere (one PR per server, one commit on top of base, no email).
fn assert_recovers(ws: &Workspace, recovered: &[(&str, &Repo, &str)]) {
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    for (name, _, action) in recovered {
        let s = server(&report, name);
        if *action == "unchanged" && s["unchanged_since"].is_string() {
            // Its upstream stayed quiet: answered from the state, checked in full below.
            continue;
        }
        assert_eq!(s["pull_request"]["action"], *action, "{s}");
    }
    let (code, report) = ws.sync_with(&["--full"]);
    assert_eq!(code, 0, "{report}");
    for s in report["servers"].as_array().unwrap() {
        assert_eq!(s["pull_request"]["action"], "unchanged", "{s}");
    }
    for (name, mirror, _) in recovered {
        assert_eq!(commits_ahead(mirror, &format!("upkeep/{name}"), "main"), 1);
    }
    let doc = status(ws);
    assert!(doc["running"].is_null(), "a stale lease: {doc}");
    for s in doc["servers"].as_array().unwrap() {
        assert_eq!(s["consecutive_failures"], 0, "{doc}");
    }
    assert!(ws.emails().is_empty(), "{:?}", ws.emails());
}

#[test]
fn an_upstream_host_that_does_not_resolve_fails_that_server_without_leaking_credentials() {
    let ws = Workspace::new();
    let healthy_up = released_upstream(&ws.path("healthy-up.git"));
    let healthy_mirror = pinned_mirror(&ws.path("healthy-mirror.git"));
    released_upstream(&ws.path("served/dns-up.git"));
    let dns_mirror = pinned_mirror(&ws.path("dns-mirror.git"));
    // RFC 2606: `.invalid` never resolves, and the resolver says so without asking the internet.
    let unresolvable = format!("https://upkeep:{CANARY}@upstream.invalid/dns-up.git");
    ws.write_config(&[
        spec("healthy", &healthy_up.url(), &healthy_mirror),
        spec("dns", &unresolvable, &dns_mirror),
    ]);

    let out = ws.upkeep(&["sync", "--now", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let err = error_of(&report, "dns");
    assert!(
        err.contains("resolve") && err.contains("upstream.invalid"),
        "the error must say the host name did not resolve: {err}"
    );
    assert_eq!(server(&report, "healthy")["status"], "pr-opened");
    assert!(dns_mirror.branch("upkeep/dns").is_none());
    let st = assert_last_error(&ws, "dns", "upstream.invalid");
    for text in [&out.stdout, &out.stderr, &st.to_string()] {
        assert!(!text.contains(CANARY), "the URL's password leaked:\n{text}");
    }
    // Nor any state row (the database and its WAL, as bytes).
    for entry in std::fs::read_dir(ws.path("state")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(CANARY));
    }

    // The name resolves again: `localhost` goes through the same resolver.
    let daemon = git_daemon(&ws.path("served"));
    let resolvable = format!("git://localhost:{}/dns-up.git", daemon.port);
    ws.edit_config(|c| c.replace(&unresolvable, &resolvable));
    assert_recovers(
        &ws,
        &[
            ("dns", &dns_mirror, "created"),
            ("healthy", &healthy_mirror, "unchanged"),
        ],
    );
    assert!(
        dns_mirror
            .file_at("upkeep/dns", "upkeep.lock")
            .unwrap()
            .contains("v1.1.0")
    );
}

/// A workspace with two servers whose PRs are open at v1.1.0, and v1.2.0 released since.
struct Synced {
    ws: Workspace,
    mirrors: Vec<(&'static str, Repo)>,
}

fn synced() -> Synced {
    let ws = Workspace::new();
    let mut specs = Vec::new();
    let mut ups = Vec::new();
    let mut mirrors = Vec::new();
    for name in ["alpha", "beta"] {
        let up = released_upstream(&ws.path(&format!("{name}-up.git")));
        let mirror = pinned_mirror(&ws.path(&format!("{name}-mirror.git")));
        specs.push(spec(name, &up.url(), &mirror));
        ups.push(up);
        mirrors.push((name, mirror));
    }
    ws.write_config(&specs);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    for up in &mut ups {
        release(up, "v1.2.0");
    }
    Synced { ws, mirrors }
}

impl Synced {
    fn bot_heads(&self) -> Vec<Option<git2::Oid>> {
        self.mirrors
            .iter()
            .map(|(name, m)| m.branch(&format!("upkeep/{name}")))
            .collect()
    }

    fn recovered(&self) -> Vec<(&str, &Repo, &str)> {
        self.mirrors
            .iter()
            .map(|(name, m)| (*name, m, "updated"))
            .collect()
    }

    fn db(&self) -> std::path::PathBuf {
        self.ws.path("state/upkeep.db")
    }

    fn run_count(&self) -> i64 {
        rusqlite::Connection::open(self.db())
            .unwrap()
            .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
            .unwrap()
    }
}

/// Another process's lock on the state database, held until `release`.
struct DbLock {
    conn: rusqlite::Connection,
}

impl DbLock {
    /// A write transaction: other writers wait, readers still read (WAL).
    fn writer(db: &Path) -> DbLock {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        DbLock { conn }
    }

    /// Exclusive locking mode: after its first read, nobody else even reads the file.
    fn exclusive(db: &Path) -> DbLock {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; SELECT count(*) FROM runs;",
        )
        .unwrap();
        DbLock { conn }
    }

    fn release(self) {
        self.conn.execute_batch("ROLLBACK").unwrap();
        self.conn.close().unwrap();
    }
}

#[test]
fn a_state_lock_that_clears_within_the_busy_timeout_is_waited_for() {
    let s = synced();
    s.ws.edit_config(|c| c.replacen("[state]\n", "[state]\nbusy-timeout = \"5m\"\n", 1));
    let lock = DbLock::writer(&s.db());
    // The run announces (and holds) its first wait for the lock at a failpoint: the lock is
    // released only once the run is known to be waiting for it.
    let pause = Pause::new();
    let run = s.ws.spawn(
        &["sync", "--now", "--json"],
        &pause.env(&["state-lock-wait"]),
    );
    pause.wait_reached("state-lock-wait");
    let released_at = chrono::Utc::now();
    lock.release();
    pause.release("state-lock-wait");
    let out = s.ws.finish(run, "the run that waited for the lock");
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {}\n{}", out.stdout, out.stderr));
    assert_eq!(out.code, 0, "{report}\n{}", out.stderr);
    for (name, _) in &s.mirrors {
        assert_eq!(server(&report, name)["status"], "pr-updated", "{report}");
    }
    // The run began only once the lock was gone: it waited rather than failed.
    let store = upkeep::store::Store::open(&s.db()).unwrap();
    let run = store
        .recent_runs(10)
        .unwrap()
        .into_iter()
        .find(|r| r.id == report["run_id"].as_i64().unwrap())
        .unwrap();
    let started = chrono::DateTime::parse_from_rfc3339(&run.started_at).unwrap();
    assert!(
        started.timestamp_millis() >= released_at.timestamp_millis(),
        "run started at {started}, lock released at {released_at}"
    );
}

#[test]
fn a_state_lock_held_past_the_busy_timeout_stops_the_run_clearly_and_the_next_run_recovers() {
    let s = synced();
    s.ws.edit_config(|c| c.replacen("[state]\n", "[state]\nbusy-timeout = \"1s\"\n", 1));
    let (runs, heads) = (s.run_count(), s.bot_heads());
    let db = s.db().display().to_string();
    let expect_locked = |out: &crate::support::Output| {
        assert_eq!(out.code, 3, "exit 3: busy, nothing done\n{}", out.stderr);
        assert!(out.stdout.is_empty(), "no report: {}", out.stdout);
        assert!(
            out.stderr.contains(&db)
                && out.stderr.contains("locked by another process")
                && out.stderr.contains("nothing was changed"),
            "{}",
            out.stderr
        );
    };

    // Another writer: the run cannot take its lease.
    let lock = DbLock::writer(&s.db());
    expect_locked(&s.ws.upkeep(&["sync", "--now", "--json"]));
    lock.release();
    // A lock that keeps even readers out: the store cannot be opened, by sync or status.
    let lock = DbLock::exclusive(&s.db());
    expect_locked(&s.ws.upkeep(&["sync", "--now", "--json"]));
    expect_locked(&s.ws.upkeep(&["status"]));
    lock.release();

    // Nothing half-written: no run recorded, no lease left, no branch moved.
    assert_eq!(s.run_count(), runs);
    assert!(status(&s.ws)["running"].is_null());
    assert_eq!(s.bot_heads(), heads);
    assert_recovers(&s.ws, &s.recovered());
}

#[test]
fn a_cache_directory_that_cannot_be_created_fails_every_server_naming_the_path() {
    let s = synced();
    // A regular file where the cache's parent directory should be: no process, root included,
    // can create a directory under it (ENOTDIR). Unlike a chmod, this holds for root too.
    let blocked = s.ws.path("blocked");
    std::fs::write(&blocked, "not a directory").unwrap();
    let cache = blocked.join("cache").display().to_string();
    let old_cache = s.ws.path("cache").display().to_string();
    s.ws.edit_config(|c| c.replace(&format!("{old_cache:?}"), &format!("{cache:?}")));
    let heads = s.bot_heads();

    let (code, report) = s.ws.sync();
    assert_eq!(code, 1, "{report}");
    for (name, _) in &s.mirrors {
        let err = error_of(&report, name);
        assert!(
            err.contains(&cache) && err.contains("cannot be created"),
            "{err}"
        );
    }
    assert_eq!(s.bot_heads(), heads);

    // Fixed: the directory can be made, the clones are fetched afresh.
    std::fs::remove_file(&blocked).unwrap();
    assert_recovers(&s.ws, &s.recovered());
}

/// A command prefix under which this process cannot write a read-only (0555) directory. A
/// normal user already cannot; root can (CAP_DAC_OVERRIDE), so for root the run goes through
/// `setpriv` with the capabilities that bypass file permissions dropped from its bounding set.
fn without_permission_override(probe: &Path) -> Vec<&'static str> {
    std::fs::write(probe, "").unwrap();
    let root = std::fs::metadata(probe).unwrap().uid() == 0;
    if root {
        vec![
            "setpriv",
            "--bounding-set",
            "-dac_override,-dac_read_search,-fowner",
            "--",
        ]
    } else {
        Vec::new()
    }
}

fn set_writable(dir: &Path, writable: bool) {
    use std::os::unix::fs::PermissionsExt as _;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode();
        let mode = if writable {
            mode | 0o200
        } else {
            mode & !0o222
        };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
}

#[test]
fn a_read_only_cache_fails_the_servers_naming_their_clone_and_recovers_once_writable() {
    let s = synced();
    let wrapper = without_permission_override(&s.ws.path("uid-probe"));
    let heads = s.bot_heads();
    set_writable(&s.ws.path("cache"), false);
    let (code, report) = s.ws.sync_via(&wrapper, &[]);
    set_writable(&s.ws.path("cache"), true);
    assert_eq!(code, 1, "{report}");
    for (name, _) in &s.mirrors {
        let err = error_of(&report, name);
        let clone =
            s.ws.path(&format!("cache/{name}.git"))
                .display()
                .to_string();
        assert!(
            err.contains(&clone) && err.contains("not writable"),
            "the cache, not the upstream, is at fault: {err}"
        );
    }
    assert_eq!(s.bot_heads(), heads);
    assert_recovers(&s.ws, &s.recovered());
}

/// A TCP listener that accepts connections and never answers; it closes them on drop.
struct Stall {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Stall {
    fn start() -> Stall {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        held.push(conn);
                        a.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        Stall {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Stall {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn an_upstream_that_stalls_times_out_while_the_others_finish() {
    let mut ws = Workspace::new();
    let healthy_up = released_upstream(&ws.path("healthy-up.git"));
    let healthy_mirror = pinned_mirror(&ws.path("healthy-mirror.git"));
    released_upstream(&ws.path("served/stalled-up.git"));
    let stalled_mirror = pinned_mirror(&ws.path("stalled-mirror.git"));
    let stall = Stall::start();
    let url = format!("git://127.0.0.1:{}/stalled-up.git", stall.port);
    ws.write_config(&[
        spec("healthy", &healthy_up.url(), &healthy_mirror),
        spec("stalled", &url, &stalled_mirror),
    ]);
    // libgit2's read timeout (default 120 s) is what ends a stalled fetch; shortened here.
    ws.env.push(("UPKEEP_GIT_IO_TIMEOUT".into(), "2s".into()));

    let (code, report) = ws.sync();
    assert_eq!(code, 1, "{report}");
    let err = error_of(&report, "stalled");
    assert!(
        err.contains(&url) && err.contains("timed out"),
        "the error names the upstream and says it timed out: {err}"
    );
    assert!(
        stall.accepted.load(Ordering::SeqCst) > 0,
        "the run never connected to the stalled upstream"
    );
    assert_eq!(
        server(&report, "healthy")["status"],
        "pr-opened",
        "{report}"
    );
    assert!(stalled_mirror.branch("upkeep/stalled").is_none());
    assert_last_error(&ws, "stalled", "timed out");

    // The upstream answers again, on the same address. libgit2's timeout is back at its
    // default: a real fetch must not race a 2 s limit on a busy machine.
    let port = stall.port;
    drop(stall);
    ws.env.retain(|(k, _)| k != "UPKEEP_GIT_IO_TIMEOUT");
    let _daemon = git_daemon_on(&ws.path("served"), port);
    assert_recovers(
        &ws,
        &[
            ("stalled", &stalled_mirror, "created"),
            ("healthy", &healthy_mirror, "unchanged"),
        ],
    );
}

#[test]
fn the_server_timeout_abandons_a_stalled_server_records_it_and_ends_the_run() {
    let ws = Workspace::new();
    let stall = Stall::start();
    let url = format!("http://127.0.0.1:{}/stalled-up.git", stall.port);
    let mirror = pinned_mirror(&ws.path("stalled-mirror.git"));
    ws.write_config(&[spec("stalled", &url, &mirror)]);
    // The backstop when libgit2's own timeouts (30 s / 120 s here) have not fired yet. Only the
    // stalled server runs: a healthy one might not finish within so short a limit on a busy
    // machine. The run returning at all, long before libgit2 would give up, shows the blocked
    // fetch does not hold the process.
    ws.edit_config(|c| format!("{c}\n[service]\nserver-timeout = \"2s\"\n"));

    let (code, report) = ws.sync();
    assert_eq!(code, 1, "{report}");
    let err = error_of(&report, "stalled");
    assert!(
        err.contains("timed out after 2s") && err.contains("server-timeout"),
        "{err}"
    );
    assert!(stall.accepted.load(Ordering::SeqCst) > 0);
    // Recorded like any failure, so `status` and the failing-runs alert see it.
    let st = assert_last_error(&ws, "stalled", "timed out");
    assert_eq!(st["consecutive_failures"], 1, "{st}");
    assert!(status(&ws)["running"].is_null());
}
