//! A throwaway PostgreSQL 15 cluster for tests: one per test process, in a temp dir, on a free
//! loopback port, each test in a database of its own.
//!
//! Shared by the lib's unit tests (`store::db::pg::cluster`) and the integration tests
//! (`tests/pg_support/mod.rs` includes this file), so it uses only std, the `postgres` client
//! and `rcgen` (a dev-dependency).
//!
//! - The binaries: `initdb`, `pg_ctl` and `postgres` from `$UPKEEP_PG_BIN`, else
//!   `/usr/lib/postgresql/15/bin` (Debian's `postgresql-15` package). Missing binaries fail
//!   every test that asks for a database, naming the README's prerequisite line.
//! - PostgreSQL refuses to run as root, and CI runs as root: then every server command runs as
//!   the `postgres` user (else `nobody`) through `setpriv`, and the temp dir belongs to it.
//! - The cluster is stopped (`pg_ctl stop -m immediate`) and its directory removed when the
//!   test process ends, however it ends (a panic, `exit`, SIGKILL): a watchdog shell started
//!   first holds the read end of a pipe whose write end only this process holds; the pipe
//!   closes with the process and the watchdog cleans up.
//! - The server speaks TLS with a certificate for `localhost` signed by a CA of its own
//!   ([`TestDb::ca_file`]) and authenticates TCP logins by password (SCRAM), as a managed
//!   PostgreSQL does; the Unix socket (used here for `CREATE DATABASE`) trusts.

#![allow(dead_code)] // each test binary uses a different part

use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

/// The README line a machine without the binaries is pointed to.
pub const PREREQUISITE: &str = "README.md, Quickstart: \"The PostgreSQL tests need the \
     PostgreSQL 15 server binaries\" (Debian/Ubuntu: apt-get install -y postgresql-15, or set \
     UPKEEP_PG_BIN to the directory holding initdb, pg_ctl and postgres)";
const DEFAULT_BIN: &str = "/usr/lib/postgresql/15/bin";
pub const USER: &str = "upkeep";
/// The test superuser's password (URL-safe). Tests check it never shows in an error.
pub const PASSWORD: &str = "pg-test-Secret-7f3a";

struct Cluster {
    root: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    bin: PathBuf,
    /// uid and gid the server runs as, when this process is root.
    run_as: Option<(u32, u32)>,
    ca_file: PathBuf,
    next_db: AtomicUsize,
    /// Held while a database is in use; [`TestDb::restart`] takes it exclusively.
    in_use: RwLock<()>,
    /// The watchdog's pipe: never written, closed by the kernel when this process ends.
    _watchdog: Mutex<ChildStdin>,
    started_in: Duration,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(start) {
        Ok(c) => c,
        Err(e) => panic!("the test PostgreSQL cluster did not start: {e}"),
    }
}

/// How long this process's cluster took to start (initdb, configuration, pg_ctl start).
pub fn startup_time() -> Duration {
    cluster().started_in
}

/// The cluster's temp dir (data, socket, log, certificates): gone once the process is.
pub fn root_dir() -> PathBuf {
    cluster().root.clone()
}

/// One test's database in the shared cluster.
pub struct TestDb {
    pub name: String,
    port: u16,
    shared: Option<RwLockReadGuard<'static, ()>>,
}

/// A new, empty database (the cluster's default: UTF-8, collation "C").
pub fn fresh_database() -> TestDb {
    fresh_database_with("")
}

/// A new database created with `options` appended to `CREATE DATABASE name TEMPLATE template0`
/// (e.g. `LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`).
pub fn fresh_database_with(options: &str) -> TestDb {
    let c = cluster();
    let shared = c
        .in_use
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let name = format!("t{}", c.next_db.fetch_add(1, Ordering::SeqCst));
    let sql = format!("CREATE DATABASE {name} TEMPLATE template0 {options}");
    let (socket_dir, port) = (c.socket_dir.clone(), c.port);
    // On a thread of its own: the blocking client cannot run inside an async test's runtime.
    std::thread::spawn(move || {
        let mut admin = postgres::Config::new()
            .host_path(&socket_dir)
            .port(port)
            .user(USER)
            .dbname("postgres")
            .connect(postgres::NoTls)
            .map_err(|e| format!("connecting to the test cluster: {e}"))?;
        admin.batch_execute(&sql).map_err(|e| format!("{sql}: {e}"))
    })
    .join()
    .expect("the CREATE DATABASE thread panicked")
    .unwrap_or_else(|e| panic!("{e}"));
    TestDb {
        name,
        port: c.port,
        shared: Some(shared),
    }
}

impl TestDb {
    /// The database's URL over TCP with the password, without TLS.
    pub fn url(&self) -> String {
        self.url_with("sslmode=disable")
    }

    /// The URL with `query` (`sslmode=verify-full&sslrootcert=…`) and `host` 127.0.0.1.
    pub fn url_with(&self, query: &str) -> String {
        self.url_for_host("127.0.0.1", query)
    }

    pub fn url_for_host(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@{host}:{}/{}?{query}",
            self.port, self.name
        )
    }

    /// The PEM file of the CA that signed the server's certificate (for `localhost` only).
    pub fn ca_file(&self) -> PathBuf {
        cluster().ca_file.clone()
    }

    /// Stops the cluster (`-m fast`: sessions are told and closed) and starts it again on the
    /// same port and data: "the database restarted". Waits until no other test of this process
    /// is using the cluster; a test that restarts holds only this one database.
    pub fn restart(&mut self) {
        let c = cluster();
        self.shared = None;
        {
            let _alone = c
                .in_use
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let log = c.root.join("server.log");
            let out = c
                .command("pg_ctl")
                .arg("restart")
                .args([
                    "-D".as_ref(),
                    c.data.as_os_str(),
                    "-l".as_ref(),
                    log.as_os_str(),
                ])
                .args(["-m", "fast", "-w", "-t", "60"])
                .output()
                .expect("running pg_ctl restart");
            assert!(
                out.status.success(),
                "pg_ctl restart failed: {}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
        self.shared = Some(
            c.in_use
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
    }
}

impl Cluster {
    /// A server command, run as the unprivileged user when this process is root.
    fn command(&self, program: &str) -> Command {
        command_as(self.run_as, &self.bin.join(program), &self.root)
    }
}

fn command_as(run_as: Option<(u32, u32)>, program: &Path, dir: &Path) -> Command {
    let mut cmd = match run_as {
        Some((uid, gid)) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg("--")
                .arg(program);
            c
        }
        None => Command::new(program),
    };
    // The server user may not be able to enter the test's working directory.
    cmd.current_dir(dir).stdin(Stdio::null());
    cmd
}

/// The uid and gid to run the server as: none unless this process is root; then `postgres`
/// if the system has that user, else `nobody`.
fn unprivileged_user() -> Result<Option<(u32, u32)>, String> {
    let me = fs::metadata("/proc/self").map_err(|e| format!("reading /proc/self: {e}"))?;
    if me.uid() != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let find = |name: &str| {
        passwd.lines().find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() > 3 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
        })
    };
    Ok(Some(
        find("postgres")
            .or_else(|| find("nobody"))
            .unwrap_or((65534, 65534)),
    ))
}

fn start() -> Result<Cluster, String> {
    let began = Instant::now();
    let bin =
        std::env::var_os("UPKEEP_PG_BIN").map_or_else(|| PathBuf::from(DEFAULT_BIN), PathBuf::from);
    for program in ["initdb", "pg_ctl", "postgres"] {
        if !bin.join(program).is_file() {
            return Err(format!(
                "{} is missing. The PostgreSQL tests need it: see {PREREQUISITE}",
                bin.join(program).display()
            ));
        }
    }
    let run_as = unprivileged_user()?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let root = std::env::temp_dir().join(format!("upkeep-pg-{}-{stamp}", std::process::id()));
    fs::create_dir(&root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let watchdog = watchdog(run_as, &bin, &root)?;
    let owned = |path: &Path| -> Result<(), String> {
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", path.display()))?;
        }
        Ok(())
    };
    fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).map_err(|e| e.to_string())?;
    owned(&root)?;
    let socket_dir = root.join("sock");
    fs::create_dir(&socket_dir).map_err(|e| e.to_string())?;
    owned(&socket_dir)?;
    let ca_file = write_tls_files(&root, &owned)?;
    let pwfile = root.join("pwfile");
    fs::write(&pwfile, PASSWORD).map_err(|e| e.to_string())?;
    owned(&pwfile)?;

    let data = root.join("data");
    run(command_as(run_as, &bin.join("initdb"), &root)
        .args(["-D".as_ref(), data.as_os_str()])
        .args([
            "-U",
            USER,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .args([
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]))?;

    let mut last_error = String::new();
    for _attempt in 0..5 {
        let port = free_port()?;
        configure(&data, &socket_dir, &root, port)?;
        let log = root.join("server.log");
        let started = run(command_as(run_as, &bin.join("pg_ctl"), &root)
            .arg("start")
            .args([
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
            ])
            .args(["-w", "-t", "60"]));
        match started {
            Ok(()) => {
                return Ok(Cluster {
                    root,
                    data,
                    socket_dir,
                    port,
                    bin,
                    run_as,
                    ca_file,
                    next_db: AtomicUsize::new(1),
                    in_use: RwLock::new(()),
                    _watchdog: Mutex::new(watchdog),
                    started_in: began.elapsed(),
                });
            }
            // Another process may have taken the port between our probe and the bind.
            Err(e) => last_error = format!("{e}\n{}", fs::read_to_string(&log).unwrap_or_default()),
        }
    }
    Err(last_error)
}

/// Starts the shell that stops the cluster and removes `root` once this process is gone.
fn watchdog(run_as: Option<(u32, u32)>, bin: &Path, root: &Path) -> Result<ChildStdin, String> {
    let stop = command_as(run_as, &bin.join("pg_ctl"), root);
    let mut args: Vec<std::ffi::OsString> = vec![stop.get_program().to_owned()];
    args.extend(stop.get_args().map(ToOwned::to_owned));
    args.extend(["stop", "-D"].map(Into::into));
    args.push(root.join("data").into_os_string());
    args.extend(["-m", "immediate", "-w"].map(Into::into));
    let mut child = Command::new("sh")
        .arg("-c")
        // Signals to the terminal's process group (Ctrl-C) must not stop the clean-up.
        .arg("trap '' INT TERM HUP; while read -r _; do :; done; cd /; \"$@\" >/dev/null 2>&1; rm -rf -- \"$UPKEEP_PG_ROOT\"")
        .arg("upkeep-pg-watchdog")
        .args(args)
        .env("UPKEEP_PG_ROOT", root)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the clean-up watchdog: {e}"))?;
    child
        .stdin
        .take()
        .ok_or_else(|| "the watchdog has no stdin".to_owned())
}

/// The server's settings: loopback only, its socket in the temp dir, TLS, and durability off
/// (a test cluster lives minutes; nothing in it must survive a machine crash).
fn configure(data: &Path, socket_dir: &Path, root: &Path, port: u16) -> Result<(), String> {
    let conf = data.join("postgresql.auto.conf");
    let text = format!(
        "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
         ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n\
         fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
         max_connections = 200\nshared_buffers = '32MB'\n",
        socket_dir.display(),
        root.join("server.crt").display(),
        root.join("server.key").display()
    );
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&conf)
        .map_err(|e| format!("{}: {e}", conf.display()))?;
    file.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

/// A CA and a server certificate for `localhost` (not 127.0.0.1, so `verify-full` against the
/// address fails on the name); the key readable by the server user only, as it demands.
fn write_tls_files(
    root: &Path,
    owned: &dyn Fn(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let e = |e: rcgen::Error| e.to_string();
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "upkeep test PostgreSQL CA");
    let ca_key = KeyPair::generate().map_err(e)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(e)?;
    let issuer = Issuer::new(ca, ca_key);
    let leaf = CertificateParams::new(vec!["localhost".to_owned()]).map_err(e)?;
    let leaf_key = KeyPair::generate().map_err(e)?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(e)?;
    let files = [
        ("ca.crt", ca_cert.pem(), 0o644),
        ("server.crt", leaf_cert.pem(), 0o644),
        ("server.key", leaf_key.serialize_pem(), 0o600),
    ];
    for (name, pem, mode) in files {
        let path = root.join(name);
        fs::write(&path, pem).map_err(|e| e.to_string())?;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(|e| e.to_string())?;
        owned(&path)?;
    }
    Ok(root.join("ca.crt"))
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("probing a port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("running {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{:?} {:?} failed ({}): {}{}",
        cmd.get_program(),
        cmd.get_args().collect::<Vec<_>>(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}
