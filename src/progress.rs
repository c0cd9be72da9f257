//! A terminal progress bar for a run, fed by the event bus: one bar per run, advancing as
//! servers finish, naming the servers in flight. Drawn on stderr, and only when stderr is a
//! terminal: piped or logged output stays clean.

use std::collections::BTreeSet;
use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::broadcast::error::RecvError;

use crate::events::{Bus, Event};

/// What the bar shows, folded from events (pure, so it is testable without a terminal).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunProgress {
    pub run_id: Option<i64>,
    pub total: u64,
    pub done: u64,
    pub failed: u64,
    pub in_flight: BTreeSet<String>,
}

impl RunProgress {
    /// Apply one event; returns true when the run finished.
    pub fn apply(&mut self, event: &Event) -> bool {
        match event {
            Event::RunStarted {
                run_id, servers, ..
            } => {
                *self = RunProgress {
                    run_id: Some(*run_id),
                    total: u64::try_from(*servers).unwrap_or(u64::MAX),
                    ..RunProgress::default()
                };
            }
            Event::ServerStarted { server, .. } => {
                self.in_flight.insert(server.clone());
            }
            Event::ServerFinished { server, status, .. } => {
                self.in_flight.remove(server);
                self.done += 1;
                if status == "failed" {
                    self.failed += 1;
                }
            }
            Event::RunFinished { .. } => return true,
            Event::PrAction { .. }
            | Event::EmailQueued { .. }
            | Event::EmailsSent { .. }
            | Event::ClaimTakenOver { .. }
            | Event::ClaimLost { .. } => {}
        }
        false
    }

    /// The text beside the bar.
    pub fn message(&self) -> String {
        let failed = if self.failed > 0 {
            format!(" ({} failed)", self.failed)
        } else {
            String::new()
        };
        if self.in_flight.is_empty() {
            return failed.trim_start().to_string();
        }
        let names: Vec<&str> = self.in_flight.iter().map(String::as_str).collect();
        format!("{}{failed}", names.join(", "))
    }
}

/// The running progress bar; [`ProgressHandle::finish`] clears it.
#[derive(Debug)]
pub struct ProgressHandle {
    bar: Option<Arc<Mutex<Option<ProgressBar>>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ProgressHandle {
    /// Whether a bar is drawn at all (false when stderr is not a terminal).
    pub fn is_active(&self) -> bool {
        self.bar.is_some()
    }

    /// Clear the bar and stop following events. Call before printing the run's summary.
    pub fn finish(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(bar) = self.bar.take()
            && let Some(b) = bar
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
        {
            b.finish_and_clear();
        }
    }
}

impl Drop for ProgressHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Follow `bus` and draw a bar on stderr when it is a terminal. Call inside a tokio runtime,
/// before the run starts (events published before this are not seen).
pub fn spawn(bus: &Bus) -> ProgressHandle {
    if !std::io::stderr().is_terminal() {
        return ProgressHandle {
            bar: None,
            task: None,
        };
    }
    let shared: Arc<Mutex<Option<ProgressBar>>> = Arc::new(Mutex::new(None));
    let mut rx = bus.subscribe();
    let bar = Arc::clone(&shared);
    let task = tokio::spawn(async move {
        let mut state = RunProgress::default();
        loop {
            let event = match rx.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            };
            let finished = state.apply(&event);
            let mut slot = bar
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if matches!(event, Event::RunStarted { .. }) {
                let b =
                    ProgressBar::with_draw_target(Some(state.total), ProgressDrawTarget::stderr());
                b.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {pos}/{len} {elapsed} {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                b.set_prefix(format!("run #{}", state.run_id.unwrap_or_default()));
                b.enable_steady_tick(std::time::Duration::from_millis(200));
                *slot = Some(b);
            }
            if let Some(b) = slot.as_ref() {
                b.set_position(state.done);
                b.set_message(state.message());
                if finished {
                    b.finish_and_clear();
                    *slot = None;
                }
            }
        }
    });
    ProgressHandle {
        bar: Some(shared),
        task: Some(task),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_follows_a_run() {
        let mut p = RunProgress::default();
        assert!(!p.apply(&Event::RunStarted {
            run_id: 7,
            trigger: "manual".into(),
            dry_run: false,
            servers: 3,
        }));
        assert_eq!((p.run_id, p.total, p.done), (Some(7), 3, 0));
        p.apply(&Event::ServerStarted {
            run_id: 7,
            server: "b".into(),
        });
        p.apply(&Event::ServerStarted {
            run_id: 7,
            server: "a".into(),
        });
        assert_eq!(p.message(), "a, b");
        p.apply(&Event::ServerFinished {
            run_id: 7,
            server: "a".into(),
            status: "failed".into(),
            latest: None,
            license_verdict: None,
            error: Some("boom".into()),
            duration_ms: 5,
        });
        assert_eq!((p.done, p.failed), (1, 1));
        assert_eq!(p.message(), "b (1 failed)");
        p.apply(&Event::ServerFinished {
            run_id: 7,
            server: "b".into(),
            status: "pr-opened".into(),
            latest: Some("1.1.0".into()),
            license_verdict: None,
            error: None,
            duration_ms: 5,
        });
        assert_eq!(p.message(), "(1 failed)");
        assert!(p.apply(&Event::RunFinished {
            run_id: 7,
            result: "failed".into(),
            duration_ms: 10,
        }));
    }

    #[tokio::test]
    async fn no_bar_without_a_terminal_on_stderr() {
        let handle = spawn(&Bus::new());
        assert_eq!(handle.is_active(), std::io::stderr().is_terminal());
        handle.finish();
    }
}
