//! Crash points for the fault suite: `UPKEEP_FAILPOINT=<name>` makes the process kill itself
//! with SIGKILL when it reaches that point, as a power cut or an OOM kill would. Unset (always,
//! outside tests), a failpoint is one cached environment lookup.

use std::sync::OnceLock;

fn armed() -> Option<&'static str> {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            std::env::var("UPKEEP_FAILPOINT")
                .ok()
                .filter(|v| !v.is_empty())
        })
        .as_deref()
}

/// Die here, at once and without cleanup, if this failpoint is armed.
pub fn hit(name: &str) {
    if armed() == Some(name) {
        tracing::warn!(failpoint = name, "failpoint reached: killing the process");
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
        // `kill` delivers asynchronously; never run past the point.
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}
