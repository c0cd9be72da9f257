//! Test hooks at named points of a run: `UPKEEP_FAILPOINT` arms them, and only tests set it.
//! Unset (always, outside tests), a failpoint is one cached environment lookup.
//!
//! `UPKEEP_FAILPOINT` is a comma-separated list of `name` or `name=action`:
//! - `kill` (the default): the process kills itself with SIGKILL at that point, as a power cut
//!   or an OOM kill would (the fault suite).
//! - `pause`: the process stops at that point until the test releases it. A test that needs two
//!   things to happen at once holds one side open here (a run holding the lease, a run about to
//!   take it), then starts the other, instead of hoping they meet by chance on a busy machine.
//!   The handshake is two files in `UPKEEP_FAILPOINT_DIR`: on arrival the process writes
//!   `<name>.reached` (its pid; written whole, then renamed into place), then waits until
//!   `<name>.release` exists. While that file exists the point lets every hit through; the test
//!   deletes it to hold the next hit again.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// What an armed failpoint does when reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Kill,
    Pause,
}

/// The armed points and where pauses hand shake with the test.
#[derive(Debug, Default)]
struct Armed {
    points: Vec<(String, Action)>,
    dir: Option<PathBuf>,
}

/// Parse an `UPKEEP_FAILPOINT` value.
pub fn parse(spec: &str) -> Result<Vec<(String, Action)>, String> {
    let mut points = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, action) = match item.split_once('=') {
            None => (item, Action::Kill),
            Some((name, "kill")) => (name, Action::Kill),
            Some((name, "pause")) => (name, Action::Pause),
            Some((_, other)) => {
                return Err(format!(
                    "failpoint `{item}`: unknown action `{other}` (kill or pause)"
                ));
            }
        };
        if name.is_empty() {
            return Err(format!("failpoint `{item}` has no name"));
        }
        points.push((name.to_string(), action));
    }
    Ok(points)
}

fn armed() -> &'static Armed {
    static ARMED: OnceLock<Armed> = OnceLock::new();
    ARMED.get_or_init(|| {
        let Some(spec) = std::env::var("UPKEEP_FAILPOINT")
            .ok()
            .filter(|v| !v.is_empty())
        else {
            return Armed::default();
        };
        match parse(&spec) {
            Ok(points) => Armed {
                points,
                dir: std::env::var_os("UPKEEP_FAILPOINT_DIR").map(PathBuf::from),
            },
            Err(e) => {
                tracing::error!(error = %e, "UPKEEP_FAILPOINT ignored");
                Armed::default()
            }
        }
    })
}

/// Act here if this failpoint is armed: die at once without cleanup, or pause until released.
pub fn hit(name: &str) {
    let armed = armed();
    let Some(action) = armed
        .points
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, a)| *a)
    else {
        return;
    };
    match (action, &armed.dir) {
        (Action::Kill, _) => kill(name),
        (Action::Pause, Some(dir)) => pause(name, dir),
        (Action::Pause, None) => {
            tracing::error!(
                failpoint = name,
                "failpoint armed to pause, but UPKEEP_FAILPOINT_DIR is not set; not pausing"
            );
        }
    }
}

fn kill(name: &str) {
    tracing::warn!(failpoint = name, "failpoint reached: killing the process");
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    // `kill` delivers asynchronously; never run past the point.
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Wait at `name` until `<dir>/<name>.release` exists (see the module docs).
pub fn pause(name: &str, dir: &Path) {
    let release = dir.join(format!("{name}.release"));
    if release.exists() {
        return;
    }
    tracing::warn!(failpoint = name, dir = %dir.display(), "failpoint reached: pausing until released");
    let reached = dir.join(format!("{name}.reached"));
    let tmp = dir.join(format!("{name}.reached.tmp"));
    let announced = std::fs::write(&tmp, format!("{}\n", std::process::id()))
        .and_then(|()| std::fs::rename(&tmp, &reached));
    if let Err(e) = announced {
        tracing::error!(failpoint = name, error = %e, file = %reached.display(), "could not announce the pause");
    }
    let wait = || {
        while !release.exists() {
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    // On a runtime worker, hand its other tasks to another thread first: a pause must hold
    // only this run, not the HTTP surface or the scheduler of `serve`.
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait);
        }
        _ => wait(),
    }
    tracing::info!(failpoint = name, "failpoint released");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_points_and_their_actions() {
        assert_eq!(
            parse("after-lease").unwrap(),
            vec![("after-lease".to_string(), Action::Kill)]
        );
        assert_eq!(
            parse("before-lease=pause, after-send=kill").unwrap(),
            vec![
                ("before-lease".to_string(), Action::Pause),
                ("after-send".to_string(), Action::Kill)
            ]
        );
        assert!(parse("").unwrap().is_empty());
        assert!(parse("x=sleep").unwrap_err().contains("unknown action"));
        assert!(parse("=pause").unwrap_err().contains("no name"));
    }

    #[test]
    fn a_pause_announces_itself_and_holds_until_released_then_lets_hits_through() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        let paused = std::thread::spawn(move || {
            pause("p", &path);
            tx.send(()).unwrap();
        });
        let reached = dir.path().join("p.reached");
        let ceiling = std::time::Instant::now() + Duration::from_secs(120);
        while !reached.exists() {
            assert!(
                std::time::Instant::now() < ceiling,
                "the pause was never announced"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let pid = std::fs::read_to_string(&reached).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        // Announced and not released: still held (the thread cannot have sent).
        assert!(rx.try_recv().is_err());
        std::fs::write(dir.path().join("p.release"), "").unwrap();
        rx.recv_timeout(Duration::from_secs(120))
            .expect("released pause returns");
        paused.join().unwrap();
        // Released: later hits pass without announcing again.
        std::fs::remove_file(&reached).unwrap();
        pause("p", dir.path());
        assert!(!reached.exists());
    }
}
