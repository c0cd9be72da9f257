//! The schedule: next fire times (pure) and the `serve` loop.
//!
//! `serve` runs the same sync as `sync --now` at each fire time of `[schedule].cron`, under the
//! same run lease, so a manual run and a scheduled one never overlap. SIGTERM or ctrl-c stops it:
//! between runs at once; during a run after the run finishes (each server's work is one state
//! transaction, so nothing is left half-recorded).

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::config::ValidConfig;
use crate::pipeline::{self, RunError, RunOptions};

/// The next fire time strictly after `after`, in UTC.
pub fn next_fire(config: &ValidConfig, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    config
        .next_fires(after, 1)
        .first()
        .map(|t| t.with_timezone(&Utc))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Run until a shutdown signal; returns the exit code.
pub async fn serve(config_path: PathBuf, config: ValidConfig) -> anyhow::Result<i32> {
    let deps = crate::app::deps(config)?;
    tracing::info!(config = %config_path.display(), schedule = %deps.config.schedule.expression, timezone = %deps.config.schedule.timezone, "serving");
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let now = Utc::now();
        let Some(next) = next_fire(&deps.config, now) else {
            anyhow::bail!(
                "the schedule `{}` never fires",
                deps.config.schedule.expression
            );
        };
        tracing::info!(next = %next.to_rfc3339(), "waiting for the next scheduled run");
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            () = &mut shutdown => {
                tracing::info!("shutting down");
                return Ok(crate::app::EXIT_OK);
            }
            () = tokio::time::sleep(wait) => {}
        }
        let opts = RunOptions {
            servers: Vec::new(),
            dry_run: false,
            trigger: "schedule".into(),
        };
        let run = pipeline::run(&deps, &opts);
        tokio::pin!(run);
        let result = tokio::select! {
            r = &mut run => r,
            () = &mut shutdown => {
                tracing::info!("shutdown requested; finishing the run in progress");
                let r = run.await;
                log_run(&r);
                return Ok(crate::app::EXIT_OK);
            }
        };
        log_run(&result);
    }
}

fn log_run(result: &Result<crate::report::RunReport, RunError>) {
    match result {
        Ok(r) => tracing::info!(
            run_id = r.run_id,
            failed = r.any_failed(),
            "scheduled run finished"
        ),
        Err(RunError::Busy(h)) => {
            tracing::warn!(holder = %h.holder, "skipped: another run holds the lease")
        }
        Err(e) => tracing::error!(error = %e, "scheduled run failed"),
    }
}
