//! Waiting in tests without betting on how fast the machine is. Two tools:
//! - [`wait_for`]: poll a condition under a generous ceiling; a timeout names what was awaited.
//!   A ceiling only ends a test that is already failing, so it is minutes, never "should be
//!   enough"; no test sleeps a fixed time to let something happen.
//! - [`Pause`]: hold the real binary at a failpoint (`UPKEEP_FAILPOINT=<point>=pause`, see
//!   `src/failpoint.rs`) until the test releases it, so two things that must happen at the same
//!   time are made to, instead of meeting by chance.

#![allow(dead_code)] // Each test binary uses a different part.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The ceiling of a wait for something that takes a second when the machine is idle.
pub const CEILING: Duration = Duration::from_secs(180);

/// Poll `condition` until it returns `Some`, or panic after `ceiling` naming `what`.
pub fn wait_for<T>(what: &str, ceiling: Duration, mut condition: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = condition() {
            return v;
        }
        assert!(
            start.elapsed() < ceiling,
            "timed out after {ceiling:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Poll `condition` until it returns `Some`, or give up after `ceiling` with `None`: for a
/// caller that says itself what it last saw.
pub fn wait_for_or<T>(ceiling: Duration, mut condition: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = condition() {
            return Some(v);
        }
        if start.elapsed() >= ceiling {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Wait until the wall clock is past `t`: for tests whose subject is time passing (a retention,
/// a digest period), not another actor.
pub fn wait_until_past(what: &str, t: chrono::DateTime<chrono::Utc>) {
    let ceiling = (t - chrono::Utc::now()).to_std().unwrap_or_default() + CEILING;
    wait_for(what, ceiling, || (chrono::Utc::now() > t).then_some(()));
}

/// Start `command` in the background with extra environment (e.g. a [`Pause`]'s), its output
/// captured for [`wait_output`].
pub fn spawn_captured(mut command: Command, env: &[(String, String)]) -> Child {
    command
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait for `child` to exit (under [`CEILING`], naming `what`), then collect its output. The
/// output is read once it exited: enough for the short reports of the commands tested.
pub fn wait_output(mut child: Child, what: &str) -> Output {
    wait_for(what, CEILING, || child.try_wait().unwrap());
    child.wait_with_output().unwrap()
}

/// The handshake directory of failpoints armed to pause one process.
pub struct Pause {
    dir: tempfile::TempDir,
}

impl Pause {
    pub fn new() -> Pause {
        Pause {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The environment that makes a process pause at each of `points`.
    pub fn env(&self, points: &[&str]) -> Vec<(String, String)> {
        let spec: Vec<String> = points.iter().map(|p| format!("{p}=pause")).collect();
        vec![
            ("UPKEEP_FAILPOINT".into(), spec.join(",")),
            (
                "UPKEEP_FAILPOINT_DIR".into(),
                self.dir.path().display().to_string(),
            ),
        ]
    }

    fn file(&self, point: &str, suffix: &str) -> PathBuf {
        self.dir.path().join(format!("{point}.{suffix}"))
    }

    /// The process is paused at `point` now (or was, and has not been released).
    pub fn reached(&self, point: &str) -> bool {
        self.file(point, "reached").exists() && !self.file(point, "release").exists()
    }

    /// Wait until the process pauses at `point`; returns its pid.
    pub fn wait_reached(&self, point: &str) -> u32 {
        wait_for(
            &format!("the process to pause at failpoint {point}"),
            CEILING,
            || {
                let pid = std::fs::read_to_string(self.file(point, "reached")).ok()?;
                pid.trim().parse().ok()
            },
        )
    }

    /// Let the process go on from `point`, now and at every later hit until [`Pause::hold`].
    pub fn release(&self, point: &str) {
        std::fs::write(self.file(point, "release"), "").unwrap();
    }

    /// Make the next hit of `point` pause again (and forget an earlier arrival).
    pub fn hold(&self, point: &str) {
        for suffix in ["release", "reached"] {
            remove_if_present(&self.file(point, suffix));
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn remove_if_present(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("removing {}: {e}", path.display()),
    }
}
