//! upkeep keeps sponsored rebuilds of third-party servers current with their upstreams.
//!
//! Module map (dependency direction: `cli -> app -> {pipeline, scheduler, status, demo}`;
//! `pipeline` is the only module that knows every adapter; adapters do not import each other):
//!
//! - [`config`]: TOML parsed into raw types, then validated into [`config::ValidConfig`], every
//!   diagnostic collected with file, line and column.
//! - [`store`]: SQLite state (runs, releases and tag history, PRs, license baselines and
//!   approvals, the email outbox, the run lease). Numbered migrations.
//! - [`upstream`]: the cache of bare clones, tag listing, version ordering, the release diff.
//! - [`license`]: discovery, identification, normalised diff and classification of license files.
//! - [`forge`]: the `Forge` trait, its local/GitHub/Azure DevOps implementations, pin-file editors.
//! - [`notify`]: email rendering and transports (file, SMTP).
//! - [`render`]: the texts people read: PR titles and bodies, email bodies (pure).
//! - [`pipeline`]: one sync run: plan (pure decisions) and run (calls the adapters).
//! - [`scheduler`]: next fire times (pure) and the serve loop.
//! - [`report`]: the JSON run report, the machine-readable contract of a run.
//! - [`events`]: run progress on a broadcast bus, for `/events`, metrics and progress bars.
//! - [`service`]: the HTTP control surface of `serve` (probes, metrics, status, run-now, webhooks,
//!   live events); [`metrics`] renders Prometheus text; [`progress`] draws the terminal bar.
//! - [`files`]: private files and directories (the state, the cache, the outbox).
//! - [`status`], [`demo`], [`app`], [`cli`]: what the commands show, and the composition root;
//!   [`term`] makes upstream text inert before it reaches a terminal.

// Library code reports through return values and tracing; only `app` talks to the terminal.
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr, clippy::dbg_macro)]

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod events;
pub mod failpoint;
pub mod files;
pub mod forge;
pub mod jitter;
pub mod license;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod progress;
pub mod render;
pub mod report;
pub mod scheduler;
pub mod secret;
pub mod service;
pub mod status;
pub mod store;
pub mod term;
pub mod upstream;

/// When this process started (first asked for by `app::run`, before any work). A lock file older
/// than this, found while we hold the run lease, was left by a process that died.
pub fn started_at() -> std::time::SystemTime {
    static STARTED: std::sync::LazyLock<std::time::SystemTime> =
        std::sync::LazyLock::new(std::time::SystemTime::now);
    *STARTED
}
