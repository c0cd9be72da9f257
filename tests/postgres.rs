//! The throwaway PostgreSQL cluster as the integration tests see it: a database per test
//! reached through the library's public `store::db` API, a failure that names the README when
//! the server binaries are missing, and nothing left behind when the test process is killed.

mod pg_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use upkeep::secret::Secret;
use upkeep::store::db::{Conn, Exec, PgOptions, params};

/// Set in a child run of this binary: print the cluster's directory, then wait to be killed.
const HOLD: &str = "UPKEEP_PG_TEST_HOLD";

fn connect(url: String) -> Conn {
    Conn::connect_postgres(&PgOptions {
        url: Secret::new(url),
        lock_timeout: Duration::from_secs(60),
    })
    .expect("connecting to the test database")
}

#[test]
fn each_test_gets_a_database_of_its_own() {
    let (a, b) = (pg_support::fresh_database(), pg_support::fresh_database());
    assert_ne!(a.name, b.name);
    let (one, two) = (connect(a.url()), connect(b.url()));
    one.execute_batch("CREATE TABLE t (n BIGINT)").unwrap();
    one.execute("INSERT INTO t VALUES (?1)", params![7])
        .unwrap();
    let n: i64 = one
        .query_row("SELECT n FROM t", params![], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 7);
    assert!(
        two.execute("SELECT n FROM t", params![]).is_err(),
        "b has no table t"
    );
    eprintln!(
        "the test cluster started in {:.2?}",
        pg_support::startup_time()
    );
    if std::env::var_os(HOLD).is_some() {
        println!("cluster-root={}", pg_support::root_dir().display());
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    }
}

/// This test binary run again with `env`, only the test above, stdout piped.
fn child(env: (&str, &str)) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "each_test_gets_a_database_of_its_own",
        "--exact",
        "--nocapture",
    ])
    .env(env.0, env.1)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

#[test]
fn missing_server_binaries_fail_the_tests_naming_the_readme() {
    let out = child(("UPKEEP_PG_BIN", "/nonexistent/postgresql/bin"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("/nonexistent/postgresql/bin/initdb is missing")
            && text.contains("README.md, Quickstart: \"The PostgreSQL tests need"),
        "{text}"
    );
}

#[test]
fn a_killed_test_process_leaves_no_server_and_no_directory() {
    let mut running = child((HOLD, "1")).spawn().unwrap();
    let mut lines = BufReader::new(running.stdout.take().unwrap()).lines();
    let root = loop {
        let line = lines
            .next()
            .expect("the child printed its cluster")
            .unwrap();
        if let Some(root) = line.strip_prefix("cluster-root=") {
            break std::path::PathBuf::from(root);
        }
    };
    let pid_file = root.join("data/postmaster.pid");
    let server: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    running.kill().unwrap(); // SIGKILL: no destructor, no panic hook runs
    running.wait().unwrap();
    // The watchdog's pipe closed with the process: it stops the server and removes the dir.
    let deadline = Instant::now() + Duration::from_secs(120);
    while root.exists() || std::path::Path::new(&format!("/proc/{server}")).exists() {
        assert!(
            Instant::now() < deadline,
            "{} or server {server} still there",
            root.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
