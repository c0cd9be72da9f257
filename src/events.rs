//! Run progress events: what a run is doing, as it happens, for `/events`, metrics and progress
//! bars. Publishing never blocks and never fails a run: with no subscriber, events are dropped.

use serde::Serialize;
use tokio::sync::broadcast;

/// One step of a run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    RunStarted {
        run_id: i64,
        trigger: String,
        dry_run: bool,
        servers: usize,
    },
    ServerStarted {
        run_id: i64,
        server: String,
    },
    ServerFinished {
        run_id: i64,
        server: String,
        /// The report status: up-to-date | pr-opened | pr-updated | pr-open | held | failed
        status: String,
        /// The release found, when one was.
        latest: Option<String>,
        license_verdict: Option<String>,
        error: Option<String>,
        duration_ms: u64,
    },
    PrAction {
        run_id: i64,
        server: String,
        action: String,
        url: Option<String>,
    },
    EmailQueued {
        run_id: i64,
        server: String,
        count: usize,
    },
    EmailsSent {
        run_id: i64,
        sent: usize,
        retrying: usize,
        failed: usize,
    },
    RunFinished {
        run_id: i64,
        /// `ok`, `failed`, or [`NOTHING_TO_DO`].
        result: String,
        duration_ms: u64,
    },
    /// This process took over a server whose claim another process let lapse (shared state).
    ClaimTakenOver {
        server: String,
        previous: String,
    },
    /// This process's claim on a server lapsed while its sync ran (shared state).
    ClaimLost {
        server: String,
    },
}

/// A broadcast bus of [`Event`]s. Cheap to clone; every clone publishes to the same subscribers.
#[derive(Debug, Clone)]
pub struct Bus {
    sender: broadcast::Sender<Event>,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    pub fn new() -> Bus {
        // Slow subscribers lose old events rather than slowing a run down.
        let (sender, _) = broadcast::channel(1024);
        Bus { sender }
    }

    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

/// The result of a scheduled run that found every server synced by another process (claimed
/// there, or synced since its fire time) and sent no email: it is not kept in the state, and
/// `/metrics` counts it as a skipped run, not a run.
pub const NOTHING_TO_DO: &str = "nothing-to-do";
