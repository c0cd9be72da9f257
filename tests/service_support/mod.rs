//! Support for the `serve` tests: real git upstreams and mirrors in temp dirs, a config, the
//! real `upkeep serve` binary as a child process, an HTTP client, an SSE reader, an upstream
//! that answers only when the test says so (to hold a server in flight), and the waits and
//! failpoint pauses of `tests/wait_support`.

#![allow(dead_code)] // Each test uses a different part of the support.

pub mod prom;
#[path = "../wait_support/mod.rs"]
pub mod wait;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, mpsc};

use chrono::{Datelike as _, Timelike as _};
use git2::{Oid, Repository, Signature};

#[allow(unused_imports)] // Each test binary uses a different part.
pub use wait::{CEILING, Pause, wait_for, wait_output};

// At least 32 characters: `serve` refuses shorter secrets.
pub const SYNC_TOKEN: &str = "test-sync-token-4f1c-0123456789abcdef";
pub const WEBHOOK_SECRET: &str = "test-webhook-secret-9a2e-0123456789abcdef";
/// The read token of `/status` and `/events`; [`Service::get`] and [`Service::events`] send it.
pub const READ_TOKEN: &str = "test-read-token-7c3d-0123456789abcdef";
const MIT: &str = "MIT License\n\nCopyright (c) 2025 Test Authors\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software, to deal in the Software without restriction.\n";

/// A 6-field cron expression that fires once a year, about half a year from now: for tests in
/// which the schedule must not fire (a fixed date such as New Year would, once a year).
pub fn far_cron() -> String {
    let at = chrono::Utc::now() + chrono::Duration::days(180);
    format!(
        "0 {} {} {} {} *",
        at.minute(),
        at.hour(),
        at.day(),
        at.month()
    )
}

/// A bare upstream with commits tagged v1.0.0 and v1.1.0 on main.
pub fn upstream(path: &Path) {
    let repo = Repository::init_bare(path).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    let sig = Signature::now("Up Stream", "up@example.org").unwrap();
    let mut parent: Option<Oid> = None;
    for (version, body) in [("1.0.0", "first"), ("1.1.0", "second")] {
        let mut tb = repo.treebuilder(None).unwrap();
        tb.insert("LICENSE", repo.blob(MIT.as_bytes()).unwrap(), 0o100_644)
            .unwrap();
        tb.insert("README.md", repo.blob(body.as_bytes()).unwrap(), 0o100_644)
            .unwrap();
        let tree = repo.find_tree(tb.write().unwrap()).unwrap();
        let parents: Vec<git2::Commit<'_>> = parent
            .iter()
            .map(|p| repo.find_commit(*p).unwrap())
            .collect();
        let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        parent = Some(release_commit(&repo, &sig, &tree, &refs, version));
    }
}

/// Commit `tree` on main as release `version` and tag it `v<version>`.
pub fn release_commit(
    repo: &Repository,
    sig: &Signature<'_>,
    tree: &git2::Tree<'_>,
    parents: &[&git2::Commit<'_>],
    version: &str,
) -> Oid {
    let id = repo
        .commit(
            Some("refs/heads/main"),
            sig,
            sig,
            &format!("release {version}"),
            tree,
            parents,
        )
        .unwrap();
    repo.tag_lightweight(
        &format!("v{version}"),
        &repo.find_object(id, None).unwrap(),
        false,
    )
    .unwrap();
    id
}

/// A bare mirror whose main holds `upkeep.lock` pinning `upstream` at v1.0.0.
pub fn mirror(path: &Path, upstream: &str) {
    let repo = Repository::init_bare(path).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    let sig = Signature::now("Mirror Owner", "owner@example.com").unwrap();
    let lock = format!("upstream = \"{upstream}\"\nref = \"refs/tags/v1.0.0\"\n");
    let mut tb = repo.treebuilder(None).unwrap();
    tb.insert(
        "upkeep.lock",
        repo.blob(lock.as_bytes()).unwrap(),
        0o100_644,
    )
    .unwrap();
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    repo.commit(
        Some("refs/heads/main"),
        &sig,
        &sig,
        "pin the upstream",
        &tree,
        &[],
    )
    .unwrap();
}

/// Whether the mirror has the bot branch of `server`.
pub fn has_branch(mirror: &Path, server: &str) -> bool {
    Repository::open(mirror)
        .unwrap()
        .find_reference(&format!("refs/heads/upkeep/{server}"))
        .is_ok()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One sponsored server of a test config.
pub struct ServerSpec {
    pub name: String,
    pub upstream: String,
    pub mirror: PathBuf,
}

/// A temp dir with upstreams, mirrors, a config and a state.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub servers: Vec<ServerSpec>,
    pub config: PathBuf,
}

/// The knobs of a test config.
pub struct Settings {
    pub cron: String,
    pub sync_token: bool,
    pub webhook_secret: bool,
    pub concurrency: usize,
    pub grace: &'static str,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cron: "*/2 * * * * *".into(),
            sync_token: false,
            webhook_secret: false,
            concurrency: 4,
            grace: "30s",
        }
    }
}

impl Fixture {
    /// Servers named in `local` get a real upstream; `slow` maps a name to an upstream URL
    /// (e.g. a [`HeldUpstream`]).
    pub fn new(local: &[&str], slow: &[(&str, String)], settings: &Settings) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut servers = Vec::new();
        for name in local {
            let up = dir.path().join("upstreams").join(format!("{name}.git"));
            upstream(&up);
            // file:// so webhook tests can match it like a URL.
            servers.push(ServerSpec {
                name: (*name).to_string(),
                upstream: format!("file://{}", up.display()),
                mirror: dir.path().join("mirrors").join(format!("{name}.git")),
            });
        }
        for (name, url) in slow {
            servers.push(ServerSpec {
                name: (*name).to_string(),
                upstream: url.clone(),
                mirror: dir.path().join("mirrors").join(format!("{name}.git")),
            });
        }
        // Slow servers first, so they are the ones in flight when a run is interrupted.
        servers.rotate_left(local.len());
        for s in &servers {
            mirror(&s.mirror, &s.upstream);
        }
        let port = free_port();
        let mut f = Fixture {
            config: dir.path().join("upkeep.toml"),
            dir,
            port,
            servers,
        };
        f.write_config(settings);
        f
    }

    pub fn state_db(&self) -> PathBuf {
        self.dir.path().join("state").join("upkeep.db")
    }

    pub fn config_text(&self, settings: &Settings) -> String {
        let d = self.dir.path().display();
        let mut t = format!(
            "[state]\npath = \"{d}/state/upkeep.db\"\ncache-dir = \"{d}/state/cache\"\nlease-timeout = \"5m\"\n\n\
             [schedule]\ncron = \"{}\"\ntimezone = \"UTC\"\n\n\
             [email]\nfrom = \"upkeep@example.com\"\ntransport = \"file\"\ndir = \"{d}/outbox\"\n\n\
             [service]\nlisten = \"127.0.0.1:{}\"\nconcurrency = {}\ngrace-period = \"{}\"\n\
             read-token-env = \"UPKEEP_TEST_READ_TOKEN\"\n",
            settings.cron, self.port, settings.concurrency, settings.grace
        );
        if settings.sync_token {
            t.push_str("sync-token-env = \"UPKEEP_TEST_SYNC_TOKEN\"\n");
        }
        if settings.webhook_secret {
            t.push_str("webhook-secret-env = \"UPKEEP_TEST_WEBHOOK_SECRET\"\n");
        }
        for s in &self.servers {
            t.push_str(&format!(
                "\n[[servers]]\nname = \"{}\"\nupstream = \"{}\"\nowners = [\"{}-owners@example.com\"]\n\
                 release = {{ channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }}\n\
                 [servers.mirror]\nforge = \"local\"\nrepo = \"{}\"\nbase = \"main\"\n\
                 pin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n",
                s.name,
                s.upstream,
                s.name,
                s.mirror.display()
            ));
        }
        t
    }

    pub fn write_config(&mut self, settings: &Settings) {
        std::fs::write(&self.config, self.config_text(settings)).unwrap();
    }

    pub fn store(&self) -> upkeep::store::Store {
        upkeep::store::Store::open(&self.state_db()).unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("upkeep"));
        c.arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("UPKEEP_FAILPOINT")
            .env("UPKEEP_LOG", "warn,upkeep=info");
        c
    }

    /// `upkeep <args>` against this fixture's config (the one-shot commands).
    pub fn upkeep(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().unwrap()
    }

    /// `upkeep <args>` in the background with extra environment (e.g. a [`Pause`]'s), its
    /// output captured.
    pub fn spawn_upkeep(&self, args: &[&str], env: &[(String, String)]) -> Child {
        wait::spawn_captured(self.command(args), env)
    }

    pub fn start(&self) -> Service {
        Service::start(self, &[])
    }

    /// `upkeep serve` with extra environment (e.g. a [`Pause`]'s).
    pub fn start_with(&self, env: &[(String, String)]) -> Service {
        Service::start(self, env)
    }
}

/// A running `upkeep serve`; killed on drop if still running.
pub struct Service {
    child: Child,
    log: PathBuf,
    pub base: String,
    exit: Option<ExitStatus>,
}

impl Service {
    fn start(f: &Fixture, env: &[(String, String)]) -> Service {
        let log = f.dir.path().join(format!("serve-{}.log", f.port));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(assert_cmd::cargo::cargo_bin("upkeep"))
            .arg("--config")
            .arg(&f.config)
            .arg("serve")
            .env("UPKEEP_LOG", "warn,upkeep=debug")
            .env("UPKEEP_TEST_SYNC_TOKEN", SYNC_TOKEN)
            .env("UPKEEP_TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env_remove("UPKEEP_FAILPOINT")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("UPKEEP_TEST_READ_TOKEN", READ_TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        let mut s = Service {
            child,
            log,
            base: format!("http://127.0.0.1:{}", f.port),
            exit: None,
        };
        wait_for("/healthz to answer", CEILING, || {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("serve exited early with {status}:\n{}", s.log());
            }
            s.get("/healthz").ok().filter(|(code, _)| *code == 200)
        });
        s
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Wait until the scheduler waits for a fire time, i.e. it is past its start-up decisions
    /// (the catch-up run).
    pub fn wait_scheduling(&self) {
        wait_for(
            "the scheduler to wait for its next fire time",
            CEILING,
            || (!next_fires(&self.log()).is_empty()).then_some(()),
        );
    }

    pub fn term(&self) {
        self.signal("TERM");
    }

    pub fn hup(&self) {
        self.signal("HUP");
    }

    /// Wait for the process to exit (panics after [`CEILING`]).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let child = &mut self.child;
        let status = wait_for("serve to exit", CEILING, || child.try_wait().unwrap());
        self.exit = Some(status);
        status
    }

    pub fn get(&self, path: &str) -> Result<(u16, String), String> {
        let r = client()
            .get(format!("{}{path}", self.base))
            .bearer_auth(READ_TOKEN)
            .send()
            .map_err(|e| e.to_string())?;
        let code = r.status().as_u16();
        Ok((code, r.text().map_err(|e| e.to_string())?))
    }

    /// POST `body`. A webhook delivery gets a fresh `X-GitHub-Delivery` id, as GitHub sends
    /// one with every delivery, unless `headers` names one.
    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
        let mut req = client()
            .post(format!("{}{path}", self.base))
            .body(body.to_string());
        let named = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-github-delivery"));
        if path.starts_with("/webhooks/") && !named {
            req = req.header("X-GitHub-Delivery", delivery_id());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().unwrap();
        let code = r.status().as_u16();
        (code, r.text().unwrap())
    }

    pub fn metrics(&self) -> prom::Exposition {
        let (code, text) = self.get("/metrics").unwrap();
        assert_eq!(code, 200, "{text}");
        prom::parse(&text)
            .unwrap_or_else(|e| panic!("/metrics is not valid Prometheus text: {e}\n{text}"))
    }

    /// Follow `/events`; each SSE event arrives as (event name, JSON data).
    pub fn events(&self) -> mpsc::Receiver<(String, serde_json::Value)> {
        let (tx, rx) = mpsc::channel();
        let url = format!("{}/events", self.base);
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .timeout(None)
                .build()
                .unwrap();
            let r = client.get(url).bearer_auth(READ_TOKEN).send().unwrap();
            assert_eq!(r.status().as_u16(), 200);
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/event-stream")
            );
            let _ = ready_tx.send(());
            let mut name = String::new();
            for line in BufReader::new(r).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    let value: serde_json::Value = serde_json::from_str(d).unwrap();
                    if tx.send((name.clone(), value)).is_err() {
                        break;
                    }
                }
            }
        });
        ready_rx.recv_timeout(CEILING).expect("/events answered");
        rx
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.exit.is_none() && self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A delivery id unique in this test process, shaped like GitHub's GUIDs.
pub fn delivery_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{:08x}-0000-4000-8000-{n:012x}", std::process::id())
}

pub fn client() -> reqwest::blocking::Client {
    upkeep::http::install_crypto_provider();
    reqwest::blocking::Client::builder()
        .timeout(CEILING)
        .build()
        .unwrap()
}

/// An HTTP "upstream" that holds every request until the test calls [`HeldUpstream::answer`],
/// then answers 404 (so a git fetch from it fails): it keeps a server in flight exactly as long
/// as the test needs, however slow the machine.
pub struct HeldUpstream {
    pub url: String,
    state: Arc<(Mutex<Held>, Condvar)>,
    port: u16,
}

#[derive(Default)]
struct Held {
    requests: usize,
    answer: bool,
    stop: bool,
}

impl HeldUpstream {
    pub fn start() -> HeldUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new((Mutex::new(Held::default()), Condvar::new()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if shared.0.lock().unwrap().stop {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    if !matches!(conn.read(&mut buf), Ok(n) if n > 0) {
                        return; // The wake-up connection of drop, or a client that left.
                    }
                    let (lock, cvar) = &*shared;
                    let mut held = lock.lock().unwrap();
                    held.requests += 1;
                    cvar.notify_all();
                    while !held.answer {
                        held = cvar.wait(held).unwrap();
                    }
                    drop(held);
                    let _ = conn.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
                    );
                });
            }
        });
        HeldUpstream {
            url: format!("http://127.0.0.1:{port}/held.git"),
            state,
            port,
        }
    }

    /// Requests received so far (each is held until [`HeldUpstream::answer`]).
    pub fn requests(&self) -> usize {
        self.state.0.lock().unwrap().requests
    }

    /// Answer every held request, and every later one at once.
    pub fn answer(&self) {
        let (lock, cvar) = &*self.state;
        lock.lock().unwrap().answer = true;
        cvar.notify_all();
    }
}

impl Drop for HeldUpstream {
    fn drop(&mut self) {
        self.answer();
        self.state.0.lock().unwrap().stop = true;
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Runs in the state, oldest first.
pub fn runs(f: &Fixture) -> Vec<upkeep::store::RunRow> {
    let mut r = f.store().recent_runs(1000).unwrap();
    r.reverse();
    r
}

/// The server names of a finished run's report.
pub fn report_servers(f: &Fixture, run_id: i64) -> Vec<String> {
    let report = upkeep::report::stored_json(&f.store(), run_id)
        .unwrap()
        .expect("report");
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    v["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

pub fn parse_ts(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// The `key=value` field of a log line (the value ends at the next space).
fn log_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    line[start..].split(' ').next()
}

/// The lines of a serve log that contain `message`: (when logged, the time in field `key`).
/// A line's timestamp is its first word (`tracing`'s text format, RFC 3339 in UTC).
pub fn logged_times(
    log: &str,
    message: &str,
    key: &str,
) -> Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    log.lines()
        .filter(|l| l.contains(message))
        .map(|l| {
            let at = l.split(' ').next().unwrap_or_default();
            let value = log_field(l, key).unwrap_or_else(|| panic!("no {key}= in {l:?}"));
            (parse_ts(at), parse_ts(value))
        })
        .collect()
}

/// Each `scheduled run due` line: (when logged, its fire time).
pub fn due_fires(log: &str) -> Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    logged_times(log, "scheduled run due", "fire_time")
}

/// Each `waiting for the next scheduled run` line: (when logged, the fire time it waits for).
pub fn next_fires(
    log: &str,
) -> Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    logged_times(log, "waiting for the next scheduled run", "next")
}

/// The part of `log` after the first line containing `marker` (empty when none does).
pub fn log_after<'a>(log: &'a str, marker: &str) -> &'a str {
    log.find(marker)
        .and_then(|i| log[i..].find('\n').map(|j| &log[i + j + 1..]))
        .unwrap_or_default()
}
