//! A real SMTP server for the integration tests: Python `aiosmtpd` 1.4.6 in a venv under the
//! cargo target dir, started as a child process on a free loopback port per test.
//!
//! The venv is made once per machine (a file lock keeps parallel test binaries from racing;
//! a marker file written last makes a half-built venv from a killed run get rebuilt) and once
//! checked per process (`OnceLock`). If PyPI cannot be reached the tests fail loudly.
//! The server writes each accepted message to `<dir>/new/NNNN.eml` with its envelope in
//! `NNNN.json`; replies can be programmed to fail with 4xx/5xx codes.

#![allow(dead_code)] // each test binary uses a different subset

#[path = "../test_ca/mod.rs"]
mod test_ca;

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

const AIOSMTPD: &str = "aiosmtpd==1.4.6";
pub const USER: &str = "upkeep-bot";
pub const PASSWORD: &str = "correct horse battery staple";

/// The server script, written next to each server's mail directory.
const SERVER_PY: &str = r#"
import argparse, json, os, ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

def parse_fail(spec):
    # "CODE:COUNT": reply CODE to the first COUNT commands; COUNT -1 means always.
    code, count = spec.split(":")
    return int(code), int(count)

class Handler:
    def __init__(self, maildir, rcpt_fail, data_fail):
        self.maildir, self.rcpt_fail, self.data_fail = maildir, rcpt_fail, data_fail
        self.lock = threading.Lock()
        self.count = 0
        os.makedirs(os.path.join(maildir, "new"), exist_ok=True)
        os.makedirs(os.path.join(maildir, "tmp"), exist_ok=True)

    def _should_fail(self, attr):
        with self.lock:
            spec = getattr(self, attr)
            if spec is None or spec[1] == 0:
                return None
            if spec[1] > 0:
                setattr(self, attr, (spec[0], spec[1] - 1))
            return spec[0]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self._should_fail("rcpt_fail")
        if code is not None:
            if code >= 500:
                return f"{code} 5.1.1 <{address}>: mailbox unavailable"
            return f"{code} 4.3.0 <{address}>: try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        code = self._should_fail("data_fail")
        if code is not None:
            if code >= 500:
                return f"{code} 5.6.0 message refused"
            return f"{code} 4.3.0 try again later"
        with self.lock:
            self.count += 1
            name = f"{self.count:04d}"
        auth = session.auth_data if session.authenticated else None
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        # session.ssl is only set by STARTTLS; implicit TLS shows on the transport.
        tls = server.transport.get_extra_info("ssl_object") is not None
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                "tls": tls, "login": login}
        tmp = os.path.join(self.maildir, "tmp", name)
        with open(tmp + ".eml", "wb") as f:
            f.write(envelope.original_content)
        with open(tmp + ".json", "w") as f:
            json.dump(meta, f)
        # The .json lands first: a reader that sees the .eml also sees its envelope.
        os.replace(tmp + ".json", os.path.join(self.maildir, "new", name + ".json"))
        os.replace(tmp + ".eml", os.path.join(self.maildir, "new", name + ".eml"))
        return "250 Message accepted for delivery"

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--smtps", action="store_true")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth-user")
    p.add_argument("--auth-pass")
    p.add_argument("--rcpt-fail", type=parse_fail)
    p.add_argument("--data-fail", type=parse_fail)
    args = p.parse_args()

    kwargs = {}
    if args.starttls or args.smtps:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        if args.starttls:
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    if args.auth_user is not None:
        user, password = args.auth_user.encode(), args.auth_pass.encode()
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login == user and auth_data.password == password)
            # handled=False: aiosmtpd then answers 535 itself (the default sends nothing).
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=False)

    controller = Controller(Handler(args.maildir, args.rcpt_fail, args.data_fail),
                            hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    print(f"READY {args.port}", flush=True)
    try:
        sys.stdin.read()  # EOF: the test process is gone, so are we
    finally:
        controller.stop()

main()
"#;

/// The venv's interpreter, with aiosmtpd installed. Panics with the reason when it cannot be
/// set up (no python3, no venv module, PyPI unreachable): these tests must never pass silently.
pub fn python() -> &'static Path {
    // The failure is kept too, so the other tests of this binary fail at once instead of
    // each retrying pip.
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PYTHON.get_or_init(setup_venv) {
        Ok(python) => python,
        Err(err) => panic!(
            "cannot prepare the SMTP test server (python3 venv + pip install {AIOSMTPD}): {err}"
        ),
    }
}

fn setup_venv() -> Result<PathBuf, String> {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
    let lock_path = root.join("smtp-venv.lock");
    let lock =
        fs::File::create(&lock_path).map_err(|e| format!("create {}: {e}", lock_path.display()))?;
    // Held until this function returns: other test binaries wait instead of half-seeing our venv.
    lock.lock()
        .map_err(|e| format!("lock {}: {e}", lock_path.display()))?;

    let venv = root.join("smtp-venv");
    let python = venv.join("bin").join("python");
    let marker = venv.join(".upkeep-ready");
    if fs::read_to_string(&marker).is_ok_and(|m| m == AIOSMTPD) && python.exists() {
        return Ok(python);
    }
    if venv.exists() {
        fs::remove_dir_all(&venv).map_err(|e| format!("remove stale {}: {e}", venv.display()))?;
    }
    let base = std::env::var("UPKEEP_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    run(Command::new(&base).arg("-m").arg("venv").arg(&venv))?;
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--timeout",
        "30",
        AIOSMTPD,
    ]))
    .map_err(|e| format!("{e}\n(is PyPI reachable? the SMTP tests need it once)"))?;
    run(Command::new(&python).args([
        "-c",
        "import aiosmtpd; assert aiosmtpd.__version__ == '1.4.6', aiosmtpd.__version__",
    ]))?;
    fs::write(&marker, AIOSMTPD).map_err(|e| format!("write {}: {e}", marker.display()))?;
    Ok(python)
}

fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// A test CA and a server certificate for `127.0.0.1` and `localhost` signed by it, as PEM
/// files. Made once per process.
pub struct TestPki {
    _dir: tempfile::TempDir,
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = test_ca::generate("upkeep test relay CA");
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            fs::write(&path, pem).unwrap();
            path
        };
        TestPki {
            ca_pem: write("ca.pem", ca.ca_pem),
            cert_pem: write("server.pem", ca.cert_pem),
            key_pem: write("server.key", ca.key_pem),
            _dir: dir,
        }
    })
}

/// How a test server behaves.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Offer STARTTLS and refuse mail before it.
    pub starttls: bool,
    /// TLS from the first byte.
    pub smtps: bool,
    /// Require AUTH with [`USER`] / [`PASSWORD`].
    pub auth: bool,
    /// Reply `(code, count)` to the first `count` RCPT commands (`-1`: always).
    pub rcpt_fail: Option<(u16, i32)>,
    /// Reply `(code, count)` to the first `count` DATA commands (`-1`: always).
    pub data_fail: Option<(u16, i32)>,
}

/// One message the server accepted.
#[derive(Debug)]
pub struct Delivered {
    pub raw: Vec<u8>,
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The session was encrypted (STARTTLS or implicit TLS) when DATA arrived.
    pub tls: bool,
    /// The AUTH login name, when the client logged in.
    pub login: Option<String>,
}

/// A running aiosmtpd; killed on drop.
pub struct SmtpServer {
    child: Child,
    // Closing it makes the server exit even if the kill below never happens.
    _stdin: ChildStdin,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl SmtpServer {
    pub fn start(options: ServerOptions) -> Self {
        let python = python();
        let mut last_error = String::new();
        // A free port can be taken between our probe and the server's bind: try a few.
        for _ in 0..3 {
            match Self::try_start(python, &options) {
                Ok(server) => return server,
                Err(err) => last_error = err,
            }
        }
        panic!("the SMTP test server did not start: {last_error}");
    }

    fn try_start(python: &Path, options: &ServerOptions) -> Result<Self, String> {
        let port = free_port();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let script = dir.path().join("server.py");
        fs::write(&script, SERVER_PY).map_err(|e| e.to_string())?;
        let mut command = Command::new(python);
        command
            .arg(&script)
            .arg("--port")
            .arg(port.to_string())
            .arg("--maildir")
            .arg(dir.path().join("mail"));
        if options.starttls || options.smtps {
            let pki = pki();
            command.arg(if options.starttls {
                "--starttls"
            } else {
                "--smtps"
            });
            command
                .arg("--cert")
                .arg(&pki.cert_pem)
                .arg("--key")
                .arg(&pki.key_pem);
        }
        if options.auth {
            command.args(["--auth-user", USER, "--auth-pass", PASSWORD]);
        }
        if let Some((code, count)) = options.rcpt_fail {
            command.arg("--rcpt-fail").arg(format!("{code}:{count}"));
        }
        if let Some((code, count)) = options.data_fail {
            command.arg("--data-fail").arg(format!("{code}:{count}"));
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", python.display()))?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");

        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = ready_tx.send(line);
        });
        // Python starting aiosmtpd takes a second when the machine is idle, many when every
        // test binary starts its servers at once on a loaded machine: a ceiling, not a guess.
        let ready = ready_rx.recv_timeout(Duration::from_secs(180));
        let mut server = Self {
            child,
            _stdin: stdin,
            dir,
            port,
        };
        match ready {
            Ok(line) if line.trim() == format!("READY {port}") => {}
            other => {
                let _ = server.child.kill();
                let mut stderr = String::new();
                if let Some(mut pipe) = server.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                return Err(format!("no READY line ({other:?}); stderr:\n{stderr}"));
            }
        }
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect to {port}: {e}"))?;
        Ok(server)
    }

    /// Messages accepted so far, oldest first. The server writes them before it answers DATA,
    /// so after a successful send they are already here.
    pub fn messages(&self) -> Vec<Delivered> {
        let new = self.dir.path().join("mail").join("new");
        let Ok(entries) = fs::read_dir(&new) else {
            return Vec::new();
        };
        let mut names: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|ext| ext == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|eml| {
                let meta: serde_json::Value =
                    serde_json::from_slice(&fs::read(eml.with_extension("json")).unwrap()).unwrap();
                Delivered {
                    raw: fs::read(&eml).unwrap(),
                    mail_from: meta["mail_from"].as_str().unwrap().to_owned(),
                    rcpt_tos: meta["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_owned())
                        .collect(),
                    tls: meta["tls"].as_bool().unwrap(),
                    login: meta["login"].as_str().map(str::to_owned),
                }
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now (bound, read, released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// A listener that never accepts: the kernel completes the TCP handshake into the backlog,
/// so a client connects and then waits for a greeting that never comes (for timeouts).
pub fn silent_server() -> (TcpListener, u16) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}
