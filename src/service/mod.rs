//! The HTTP control surface of `upkeep serve` (axum): health, readiness, Prometheus metrics, the
//! status document, run-now, GitHub webhooks and a Server-Sent Events stream of run progress.
//!
//! - [`control`]: the run control shared with the scheduler (deps, runs in flight, metrics).
//! - [`http`]: the router and its handlers (thin: they call `control`, `status`, `metrics`).
//! - [`listener`]: the accept loop: the connection limit and the header read timeout.
//! - [`guard`]: who may ask: the `Host` allow-list and the read token of the status endpoints.
//! - [`approvals`]: `POST /licenses/{server}/approve|decline` and `POST /mcp/{server}/approve|decline`,
//!   license and MCP surface decisions over HTTP.
//! - [`reload`]: what a config reload may change (never the database).
//! - [`auth`], [`webhook`]: the pure parts: token and signature checks, event classification,
//!   repository matching.
//! - [`dashboard`]: the HTML pages' routes and who may see them; [`pages`]: the pages, pure.
//!
//! This module never decides *when* to run (that is [`crate::scheduler`]); it only starts runs
//! that a request asks for, under the same lease as every other run.

pub mod approvals;
pub mod auth;
pub mod control;
pub mod dashboard;
pub mod guard;
pub mod http;
pub mod listener;
pub mod pages;
pub mod pr_webhook;
pub mod reload;
pub mod webhook;

pub use control::{Control, StartError};
pub use http::{router, serve};
