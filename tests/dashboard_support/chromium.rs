//! Headless Chromium from the OS packages, driven from the command line: `--dump-dom` gives the
//! DOM the browser built from a page (after parsing, as a script on it would see it), and
//! `--screenshot` a PNG of it. Each call gets a fresh temporary profile and is killed if it does
//! not finish within a minute.
//!
//! The browser is `$UPKEEP_CHROMIUM`, else `chromium` (or `chromium-browser`) on `PATH`. A
//! missing browser fails the test with the README's prerequisite: a browser test that passes
//! without a browser would prove nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one browser call may take.
const DEADLINE: Duration = Duration::from_secs(60);

pub struct Chromium {
    binary: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Whether this process runs as root (Chromium's sandbox refuses to start as root).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

impl Chromium {
    /// The browser, or a panic naming the README's prerequisite.
    pub fn find() -> Chromium {
        let binary = std::env::var_os("UPKEEP_CHROMIUM")
            .map(PathBuf::from)
            .or_else(|| on_path("chromium"))
            .or_else(|| on_path("chromium-browser"));
        match binary {
            Some(binary) if binary.is_file() => Chromium { binary },
            other => panic!(
                "the dashboard browser tests need Chromium ({}): install it as the README's \
                 Quickstart says (`apt-get update && apt-get install -y chromium`), \
                 or point UPKEEP_CHROMIUM at a Chromium binary",
                other.map_or_else(
                    || "not on PATH".to_string(),
                    |p| format!("{} is not a file", p.display())
                )
            ),
        }
    }

    fn run(&self, extra: &[String], url: &str) -> String {
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(&self.binary);
        cmd.args([
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()));
        if is_root() {
            cmd.arg("--no-sandbox");
        }
        let mut child = cmd
            .args(extra)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", self.binary.display()));
        // Read the output on threads so a full pipe never stalls the browser.
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut stdout, &mut s).ok();
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut stderr, &mut s).ok();
            s
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > DEADLINE {
                child.kill().ok();
                child.wait().ok();
                panic!("chromium did not finish {url} within {DEADLINE:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let (out, err) = (out.join().unwrap(), err.join().unwrap());
        assert!(
            status.success(),
            "chromium failed on {url} ({status}):\n{err}"
        );
        out
    }

    /// The DOM Chromium built from `url`, serialised.
    pub fn dom(&self, url: &str) -> String {
        let dom = self.run(&["--dump-dom".into()], url);
        assert!(
            dom.contains("<html"),
            "chromium gave no DOM for {url}:\n{dom}"
        );
        dom
    }

    /// A PNG of `url` at `width`×`height`, written to `path`.
    pub fn screenshot(&self, url: &str, path: &Path, width: u32, height: u32) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::remove_file(path).ok();
        self.run(
            &[
                format!("--screenshot={}", path.display()),
                format!("--window-size={width},{height}"),
            ],
            url,
        );
        let png = std::fs::read(path).unwrap_or_else(|e| panic!("no screenshot of {url}: {e}"));
        assert!(
            png.starts_with(b"\x89PNG"),
            "{} is not a PNG",
            path.display()
        );
    }
}
