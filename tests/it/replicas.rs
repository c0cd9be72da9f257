//! State on PostgreSQL shared by several processes (issue 19), end to end: real `upkeep serve`
//! replicas and `sync --now` processes on one throwaway PostgreSQL 15 database, each with a
//! cache of its own (as pods would have), local mirrors as the forge and the file transport.
//!
//! What must hold whatever the interleaving: exactly one rebuild branch and one PR record per
//! server, one email per dedupe key, a server synced by one process at a time (the others
//! report it `skipped`), a killed replica's servers taken over once its claims expire.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use upkeep::secret::Secret;
use upkeep::store::db::{Conn, Exec, PgOptions, params};

use crate::pg_support::{self, TestDb};
use crate::support::wait::{CEILING, wait_for};
use crate::support::{MIT, Repo, ServerSpec, Workspace, free_port, lockfile};

const URL_VAR: &str = "UPKEEP_TEST_DATABASE_URL";
const READ_TOKEN: &str = "replica-test-read-token-0123456789abcdef";
/// Short, so a killed replica's claims lapse within a test; renewed every 2 s.
const CLAIM_TTL: &str = "6s";

/// A license text that needs legal review (a commercial-use clause on top of MIT).
const RELICENSED: &str = "Commercial use of this software requires a separate commercial license from Example Corp.\n\nMIT License\n\nCopyright (c) 2025 Example Authors\n";

struct Shared {
    ws: Workspace,
    db: TestDb,
    /// Every server's (upstream, mirror), kept so the repositories outlive the runs.
    repos: Vec<(String, Repo, Repo)>,
}

/// `n` servers pinned at v1.0.0 with v1.1.0 released; every tenth one's release changes its
/// license (held for review, its owners emailed).
fn shared(n: usize) -> Shared {
    let ws = Workspace::new();
    let mut repos = Vec::new();
    for i in 0..n {
        let name = format!("s{i:02}");
        let mut up = Repo::new(&ws.path(&format!("{name}-up.git")));
        let c = up.commit(
            &[("LICENSE", Some(MIT)), ("main.py", Some("print(1)\n"))],
            "r1",
        );
        up.tag("v1.0.0", c);
        let license = if i % 10 == 0 { RELICENSED } else { MIT };
        let c = up.commit(
            &[("LICENSE", Some(license)), ("main.py", Some("print(2)\n"))],
            "r2",
        );
        up.tag("v1.1.0", c);
        let mut mirror = Repo::new(&ws.path(&format!("{name}-mirror.git")));
        mirror.commit(
            &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.0.0")))],
            "pin",
        );
        repos.push((name, up, mirror));
    }
    let specs: Vec<ServerSpec> = repos
        .iter()
        .map(|(name, up, mirror)| ServerSpec::lockfile(name, up, mirror))
        .collect();
    ws.write_config(&specs);
    let db = pg_support::fresh_database();
    let mut shared = Shared { ws, db, repos };
    shared.ws.env.push((URL_VAR.into(), shared.db.url()));
    shared.ws.edit_config(|c| on_postgres(&c, "cache"));
    shared
}

/// The workspace's config with its `[state]` on the shared PostgreSQL database and `cache` as
/// this process's own cache directory.
fn on_postgres(config: &str, cache: &str) -> String {
    let (state, rest) = config
        .split_once("\n\n")
        .expect("the config opens with its [state] table");
    assert!(state.starts_with("[state]"), "{state}");
    let cache_dir = state
        .lines()
        .find_map(|l| l.strip_prefix("cache-dir = "))
        .unwrap()
        .replace("/cache\"", &format!("/{cache}\""));
    format!(
        "[state]\nbackend = \"postgres\"\nurl-env = \"{URL_VAR}\"\nauto-migrate = true\n\
         cache-dir = {cache_dir}\nlease-timeout = \"2m\"\nclaim-ttl = \"{CLAIM_TTL}\"\n\
         lock-timeout = \"1s\"\npool-size = 3\n\n[service]\nconcurrency = 4\n\n{rest}"
    )
}

impl Shared {
    fn conn(&self) -> Conn {
        Conn::connect_postgres(&PgOptions {
            url: Secret::new(self.db.url()),
            lock_timeout: Duration::from_secs(30),
        })
        .unwrap()
    }

    /// A `serve` replica: its own config (port, cache) beside the workspace's, firing every
    /// `every` seconds, started with `env` (e.g. a failpoint).
    fn replica(&self, name: &str, every_s: u32, env: &[(&str, &str)]) -> Replica {
        let port = free_port();
        let base = std::fs::read_to_string(self.ws.config_path()).unwrap();
        let config = base
            .replace("/cache\"", &format!("/cache-{name}\""))
            .replacen(
                "[service]\n",
                &format!(
                    "[schedule]\ncron = \"*/{every_s} * * * * *\"\ntimezone = \"UTC\"\n\n[service]\n\
                     listen = \"127.0.0.1:{port}\"\nread-token-env = \"UPKEEP_REPLICA_READ_TOKEN\"\n"
                ),
                1,
            );
        let path = self.ws.path(&format!("{name}.toml"));
        std::fs::write(&path, config).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_upkeep"))
            .arg("--config")
            .arg(&path)
            .arg("serve")
            .env_remove("UPKEEP_CONFIG")
            .env_remove("UPKEEP_FAILPOINT")
            .env("UPKEEP_LOG", "warn")
            .env("UPKEEP_REPLICA_READ_TOKEN", READ_TOKEN)
            .envs(self.ws.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.ws.path(&format!("{name}.log"))).unwrap())
            .spawn()
            .unwrap();
        Replica {
            child,
            port,
            log: self.ws.path(&format!("{name}.log")),
        }
    }

    /// How many PR records each server has, and the servers with none.
    fn pr_records(&self) -> Vec<(String, i64)> {
        self.conn()
            .query_map(
                "SELECT server, COUNT(*) FROM pull_requests GROUP BY server ORDER BY server",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    }

    /// Servers whose last sync ended with a PR or a hold.
    fn settled(&self) -> usize {
        self.conn()
            .query_row(
                "SELECT COUNT(*) FROM server_state WHERE last_status IN ('pr-opened', 'pr-open', 'pr-updated', 'held')",
                params![],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| usize::try_from(n).unwrap())
            .unwrap_or(0)
    }

    /// Every server has exactly one rebuild branch on its mirror and one PR record.
    fn assert_one_pr_each(&self) {
        let records = self.pr_records();
        assert_eq!(records.len(), self.repos.len(), "{records:?}");
        for (server, n) in &records {
            assert_eq!(*n, 1, "{server} has {n} PR records");
        }
        for (name, _, mirror) in &self.repos {
            let branches: Vec<String> = mirror
                .repo
                .branches(Some(git2::BranchType::Local))
                .unwrap()
                .filter_map(|b| {
                    b.ok()?
                        .0
                        .name()
                        .ok()??
                        .strip_prefix("upkeep/")
                        .map(String::from)
                })
                .collect();
            assert_eq!(branches, vec![name.clone()], "{name}'s mirror");
        }
    }

    /// Every queued email went out once: one outbox row per dedupe key (the key is unique), each
    /// sent after one attempt (a second sender would have counted a second), and the held
    /// servers' owners emailed once each.
    fn assert_one_email_each(&self) {
        let rows: Vec<(String, String, i64)> = self
            .conn()
            .query_map(
                "SELECT dedupe_key, status, attempts FROM outbox ORDER BY id",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        for (key, status, attempts) in &rows {
            assert_eq!((status.as_str(), *attempts), ("sent", 1), "{key}");
        }
        let reviews: Vec<(String, i64)> = self
            .conn()
            .query_map(
                "SELECT server, COUNT(*) FROM outbox WHERE reason = 'license-review' GROUP BY server ORDER BY server",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let held: Vec<(String, i64)> = (0..self.repos.len())
            .step_by(10)
            .map(|i| (format!("s{i:02}"), 1))
            .collect();
        assert_eq!(reviews, held);
        // The file transport writes one file per sent email.
        assert_eq!(self.ws.emails().len(), rows.len(), "{:?}", self.ws.emails());
    }
}

struct Replica {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Replica {
    fn metrics(&self) -> String {
        upkeep::http::install_crypto_provider();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        let mut last = String::new();
        let answered = crate::support::wait::wait_for_or(CEILING, || {
            match client.get(&url).bearer_auth(READ_TOKEN).send() {
                Ok(r) if r.status().is_success() => r.text().ok(),
                Ok(r) => {
                    last = format!("{}: {}", r.status(), r.text().unwrap_or_default());
                    None
                }
                Err(e) => {
                    last = e.to_string();
                    None
                }
            }
        });
        answered.unwrap_or_else(|| panic!("the replica's /metrics did not answer; last: {last}"))
    }

    fn stop(mut self) -> String {
        // SIGTERM: a graceful stop (the run in flight finishes).
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        wait_for("the replica to stop", CEILING, || {
            self.child.try_wait().unwrap()
        });
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn three_replicas_and_a_manual_sync_divide_sixty_servers_with_one_pr_and_one_email_each() {
    let s = shared(60);
    let replicas: Vec<Replica> = (0..3)
        .map(|i| s.replica(&format!("r{i}"), 5, &[]))
        .collect();
    // A manual sync beside them, while their scheduled runs go on (its report read as it is
    // written: 60 servers' JSON is more than a pipe holds).
    let (_, report) = s.ws.sync();
    wait_for("every server to be settled", CEILING, || {
        (s.settled() == s.repos.len()).then_some(())
    });
    let scraped = replicas[0].metrics();
    assert!(
        scraped.contains("# TYPE upkeep_claims_taken_over_total counter"),
        "{scraped}"
    );
    // Four syncs at once on three pooled connections (`pool-size = 3`).
    for line in [
        "upkeep_state_pool_size 3\n",
        "upkeep_state_pool_connections{status=\"in-use\"} ",
        "# TYPE upkeep_state_pool_waits_total counter",
        "upkeep_state_pool_wait_timeouts_total 0\n",
    ] {
        assert!(scraped.contains(line), "{line} in\n{scraped}");
    }
    let logs: Vec<String> = replicas.into_iter().map(Replica::stop).collect();
    s.assert_one_pr_each();
    s.assert_one_email_each();
    // The manual run synced each server or said who did.
    for server in report["servers"].as_array().unwrap() {
        let status = server["status"].as_str().unwrap();
        if status == "skipped" {
            let why = server["notes"][0].as_str().unwrap();
            assert!(why.starts_with("in progress on "), "{server}");
        } else {
            assert!(
                ["pr-opened", "pr-open", "pr-updated", "held"].contains(&status),
                "{server}"
            );
        }
    }
    // Each server's PR was opened by one run, whichever process ran it.
    let opened: Vec<(String, i64)> = s
        .conn()
        .query_map(
            "SELECT server, COUNT(*) FROM run_servers WHERE status = 'pr-opened' GROUP BY server",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    for (server, n) in opened {
        assert_eq!(
            n,
            1,
            "{server} opened {n} times; logs:\n{}",
            logs.join("\n")
        );
    }
}

#[test]
fn a_replica_killed_mid_server_is_taken_over_after_its_claim_expires() {
    let s = shared(3);
    // The first replica dies (SIGKILL, by its own failpoint) right after pushing a rebuild
    // branch, before the PR is recorded, still holding its claims.
    let mut doomed = s.replica("doomed", 2, &[("UPKEEP_FAILPOINT", "after-write-branch")]);
    wait_for("the doomed replica to kill itself", CEILING, || {
        doomed.child.try_wait().unwrap()
    });
    let claimed: i64 = s
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM server_claims WHERE released = 0",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert!(claimed >= 1, "the dead replica left its claims");
    // Another replica takes its servers over once the claims lapse, and adopts the branch the
    // dead one pushed instead of pushing a second.
    let taker = s.replica("taker", 2, &[]);
    wait_for("every server to be settled", CEILING, || {
        (s.settled() == s.repos.len()).then_some(())
    });
    let scraped = taker.metrics();
    let log = taker.stop();
    assert!(log.contains("took over a lapsed claim"), "{log}");
    assert!(
        !scraped.contains("upkeep_claims_taken_over_total 0\n"),
        "{scraped}"
    );
    s.assert_one_pr_each();
}

#[test]
fn the_database_restarting_mid_run_leaves_nothing_half_written() {
    let mut s = shared(3);
    let pause = crate::support::wait::Pause::new();
    let child =
        s.ws.spawn(&["sync", "--now", "--json"], &pause.env(&["after-fetch"]));
    pause.wait_reached("after-fetch");
    // Every connection of the run is cut while a server is mid-sync.
    s.db.restart();
    pause.release("after-fetch");
    let out = s.ws.finish(child, "the interrupted sync");
    assert!(
        out.code == 0 || out.stdout.contains("\"failed\"") || !out.stderr.is_empty(),
        "a run that lost its database either finished or said what failed: {}\n{}",
        out.stdout,
        out.stderr
    );
    // Whatever the interrupted run got to, the next runs finish the job once claims it could
    // not release have lapsed, with one branch and one PR record per server.
    wait_for("every server to be settled", CEILING, || {
        let (_, report) = s.ws.sync();
        (s.settled() == s.repos.len()).then_some(report)
    });
    s.assert_one_pr_each();
}

#[test]
fn state_copy_moves_a_sqlite_installation_to_postgres_and_refuses_a_used_database() {
    // A SQLite installation with history: runs, PRs, a hold and its email, tag sightings.
    let ws = Workspace::new();
    let mut specs = Vec::new();
    let mut repos = Vec::new();
    for i in 0..3 {
        let name = format!("m{i}");
        let mut up = Repo::new(&ws.path(&format!("{name}-up.git")));
        let c = up.commit(&[("LICENSE", Some(MIT))], "r1");
        up.tag("v1.0.0", c);
        let license = if i == 0 { RELICENSED } else { MIT };
        let c = up.commit(&[("LICENSE", Some(license))], "r2");
        up.tag("v1.1.0", c);
        let mut mirror = Repo::new(&ws.path(&format!("{name}-mirror.git")));
        mirror.commit(
            &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.0.0")))],
            "pin",
        );
        specs.push(ServerSpec::lockfile(&name, &up, &mirror));
        repos.push((up, mirror));
    }
    ws.write_config(&specs);
    assert_eq!(ws.sync().0, 0);
    let sqlite_status = ws.upkeep(&["status", "--json"]);

    let db = pg_support::fresh_database();
    let copy = |ws: &Workspace| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_upkeep"));
        cmd.args([
            "state",
            "copy",
            "--to-url-env",
            "UPKEEP_COPY_TARGET",
            "--config",
        ])
        .arg(ws.config_path())
        .env("UPKEEP_COPY_TARGET", db.url())
        .env("UPKEEP_LOG", "warn");
        cmd.output().unwrap()
    };
    let out = copy(&ws);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("verified: every table has the same number of rows"),
        "{stdout}"
    );
    for table in [
        "runs",
        "server_state",
        "tag_history",
        "pull_requests",
        "outbox",
    ] {
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("no {table} row in\n{stdout}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[1], cols[2], "{row}");
        assert_ne!(cols[1], "0", "{table} was copied with rows: {row}");
    }
    assert!(!stdout.contains("pg-test-Secret") && !stderr.contains("pg-test-Secret"));

    // A second copy into the same (now used) database is refused and changes nothing.
    let again = copy(&ws);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The moved installation on PostgreSQL: the same status, and a sync that continues it
    // (the open PRs are its own: nothing is proposed twice; new runs get new ids).
    let moved = Workspace {
        dir: tempfile::tempdir().unwrap(),
        env: vec![(URL_VAR.into(), db.url())],
    };
    std::fs::write(
        moved.config_path(),
        on_postgres(&std::fs::read_to_string(ws.config_path()).unwrap(), "cache"),
    )
    .unwrap();
    let pg_status = moved.upkeep(&["status", "--json"]);
    let servers = |out: &crate::support::Output| -> serde_json::Value {
        let doc: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
        doc["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                serde_json::json!([
                    s["name"],
                    s["status"],
                    s["pinned"],
                    s["latest"],
                    s["open_pr"],
                    s["hold_reason"]
                ])
            })
            .collect()
    };
    assert_eq!(servers(&pg_status), servers(&sqlite_status));
    let out = moved.upkeep(&["sync", "--now", "--json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(report["run_id"].as_i64().unwrap() > 1, "{report}");
    let conn = Conn::connect_postgres(&PgOptions {
        url: Secret::new(db.url()),
        lock_timeout: Duration::from_secs(30),
    })
    .unwrap();
    let prs: i64 = conn
        .query_row("SELECT COUNT(*) FROM pull_requests", params![], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(prs, 3, "no PR proposed twice after the move");
}

#[test]
fn readyz_fails_while_the_database_is_unreachable() {
    let s = shared(1);
    let replica = s.replica("ready", 30, &[]);
    upkeep::http::install_crypto_provider();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{}/readyz", replica.port);
    let status = || {
        client
            .get(&url)
            .send()
            .ok()
            .map(|r| (r.status().as_u16(), r.text().unwrap_or_default()))
    };
    wait_for("the replica to be ready", CEILING, || {
        status().filter(|(code, _)| *code == 200)
    });
    // The database goes away under it (dropped, its connections cut).
    let admin =
        s.db.url()
            .replace(&format!("/{}?", s.db.name), "/postgres?");
    let conn = Conn::connect_postgres(&PgOptions {
        url: Secret::new(admin),
        lock_timeout: Duration::from_secs(30),
    })
    .unwrap();
    conn.execute_batch(&format!("DROP DATABASE \"{}\" WITH (FORCE)", s.db.name))
        .unwrap();
    let (code, body) = wait_for("/readyz to fail", CEILING, || {
        status().filter(|(code, _)| *code == 503)
    });
    assert_eq!(code, 503);
    assert!(body.contains("state store unreachable"), "{body}");
    assert!(!body.contains("pg-test-Secret"), "{body}");
    // It comes back with the database.
    conn.execute_batch(&format!("CREATE DATABASE \"{}\"", s.db.name))
        .unwrap();
    wait_for("/readyz to recover", CEILING, || {
        status().filter(|(code, _)| *code == 200)
    });
}

/// A metric's value in `/metrics` text (the first series whose line starts with `series`).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn sighup_pointing_a_replica_at_another_database_is_refused() {
    let s = shared(1);
    let replica = s.replica("hup", 2, &[]);
    let runs = || {
        s.conn()
            .query_row("SELECT COUNT(*) FROM runs", params![], |r| {
                r.get::<_, i64>(0)
            })
            // The replica may not have migrated the database yet.
            .unwrap_or(0)
    };
    wait_for("a scheduled run", CEILING, || (runs() > 0).then_some(()));
    let hup = || {
        let status = Command::new("kill")
            .args(["-HUP", &replica.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let config_path = s.ws.path("hup.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let url_file = s.ws.path("state-url");
    let on_file = config.replace(
        &format!("url-env = \"{URL_VAR}\""),
        &format!("url-file = \"{}\"", url_file.display()),
    );
    assert_ne!(on_file, config);

    // The URL file names another database (of the same server): refused before it is opened.
    let other = pg_support::fresh_database();
    std::fs::write(&url_file, format!("{}\n", other.url())).unwrap();
    std::fs::write(&config_path, &on_file).unwrap();
    hup();
    let log = wait_for("the reload to be refused", CEILING, || {
        let log = std::fs::read_to_string(&replica.log).unwrap_or_default();
        log.contains("config reload refused").then_some(log)
    });
    assert!(log.contains("[state] url-file"), "{log}");
    assert!(!log.contains(pg_support::PASSWORD), "{log}");
    assert!(
        !log.contains(&other.name),
        "the other database is not named:\n{log}"
    );
    let scraped = replica.metrics();
    assert_eq!(
        metric(&scraped, "upkeep_config_reloads_total{result=\"refused\"}"),
        Some(1.0),
        "{scraped}"
    );
    assert_eq!(
        metric(&scraped, "upkeep_config_last_reload_successful"),
        Some(0.0)
    );
    // The replica runs on in its database; the other was not touched (auto-migrate is on in
    // the config: a reload that opened it would have migrated it).
    let before = runs();
    wait_for("a run after the refused reload", CEILING, || {
        (runs() > before).then_some(())
    });
    let tables: i64 = Conn::connect_postgres(&PgOptions {
        url: Secret::new(other.url()),
        lock_timeout: Duration::from_secs(30),
    })
    .unwrap()
    .query_row(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
        params![],
        |r| r.get(0),
    )
    .unwrap();
    assert_eq!(tables, 0, "the refused database was migrated");

    // The same database through a file instead of the variable: resolved the same, applied.
    std::fs::write(&url_file, format!("{}\n", s.db.url())).unwrap();
    hup();
    let scraped = wait_for("the reload to be applied", CEILING, || {
        let scraped = replica.metrics();
        (metric(&scraped, "upkeep_config_reloads_total{result=\"applied\"}") == Some(1.0))
            .then_some(scraped)
    });
    assert_eq!(
        metric(&scraped, "upkeep_config_last_reload_successful"),
        Some(1.0)
    );
    let log = replica.stop();
    assert!(!log.contains(pg_support::PASSWORD), "{log}");
}

#[test]
fn a_scheduled_tick_left_wholly_to_another_replica_records_no_run() {
    let s = shared(1);
    // Two replicas on the same fire times: at each, one syncs the server and the other finds
    // it claimed or synced since; that one's run is counted, not recorded.
    let replicas = [s.replica("a", 2, &[]), s.replica("b", 2, &[])];
    let elsewhere = || {
        replicas
            .iter()
            .filter_map(|r| {
                metric(
                    &r.metrics(),
                    "upkeep_runs_skipped_total{reason=\"done-elsewhere\"}",
                )
            })
            .sum::<f64>()
    };
    let recorded = || {
        s.conn()
            .query_row(
                "SELECT COUNT(*) FROM runs WHERE finished_at IS NOT NULL",
                params![],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0)
    };
    wait_for(
        "two ticks left to the other replica, two runs recorded",
        CEILING,
        || (elsewhere() >= 2.0 && recorded() >= 2).then_some(()),
    );
    let [a, b] = replicas;
    let logs = [a.stop(), b.stop()];
    let runs: Vec<(i64, i64, i64, Option<String>)> = s
        .conn()
        .query_map(
            "SELECT r.id,
                    (SELECT COUNT(*) FROM run_servers x WHERE x.run_id = r.id),
                    (SELECT COUNT(*) FROM run_servers x WHERE x.run_id = r.id AND x.status <> 'skipped'),
                    r.report
             FROM runs r ORDER BY r.id",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert!(runs.len() >= 2, "{runs:?}");
    // A run that synced nothing is still recorded when its drain delivered an email (any
    // replica's run may send what another queued: the opened PR's email, whoever drains first).
    let delivered = |report: &Option<String>| {
        let report: serde_json::Value =
            serde_json::from_str(report.as_deref().unwrap_or("{}")).unwrap_or_default();
        ["sent", "retrying", "failed"]
            .iter()
            .map(|k| report["emails"][k].as_u64().unwrap_or(0))
            .sum::<u64>()
            > 0
    };
    for (id, servers, synced, report) in &runs {
        assert_eq!(*servers, 1, "run {id}: {runs:?}");
        assert!(
            *synced == 1 || delivered(report),
            "run {id} records a server it did not sync and delivered nothing ({report:?}); logs:\n{}",
            logs.join("\n")
        );
    }
    // `upkeep runs` lists only them.
    let out = s.ws.upkeep(&["runs", "--json", "--limit", "1000"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let listed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(runs.len()),
        "{listed}"
    );
    s.assert_one_pr_each();
}

#[test]
fn an_email_whose_sender_died_is_sent_by_another_replica_once_its_short_claim_lapses() {
    let s = shared(1);
    // s00's release changes its license: held, its owners emailed. The first replica dies
    // (SIGKILL) after claiming that email for delivery, before handing it to the transport.
    let mut doomed = s.replica("doomed", 2, &[("UPKEEP_FAILPOINT", "before-send")]);
    wait_for("the doomed replica to kill itself", CEILING, || {
        doomed.child.try_wait().unwrap()
    });
    let (claimed_until, status): (String, String) = s
        .conn()
        .query_row(
            "SELECT c.expires_at, o.status FROM outbox_claims c JOIN outbox o ON o.id = c.outbox_id",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "sending");
    // The claim lasts one delivery (the file transport: nothing to wait for), the wait for
    // the lock its outcome is recorded under (lock-timeout = 1s) and the margin: 31 s, not
    // the ten minutes of before.
    let until = chrono::DateTime::parse_from_rfc3339(&claimed_until).unwrap();
    let left = until.signed_duration_since(chrono::Utc::now());
    assert!(
        left <= chrono::Duration::seconds(31),
        "claimed for {left} more"
    );
    let taker = s.replica("taker", 2, &[]);
    let (attempts, status): (i64, String) = wait_for("the email to be sent", CEILING, || {
        s.conn()
            .query_row(
                "SELECT attempts, status FROM outbox WHERE reason = 'license-review'",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()
            .filter(|(_, status): &(i64, String)| status == "sent")
    });
    taker.stop();
    // Claimed once by each sender; sent once.
    assert_eq!((attempts, status.as_str()), (2, "sent"));
    assert_eq!(s.ws.emails().len(), 1, "{:?}", s.ws.emails());
}
