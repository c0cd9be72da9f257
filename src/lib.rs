//! upkeep keeps sponsored rebuilds of third-party servers current with their upstreams.
//!
//! Module map (ARCHITECTURE.md at the repository root has the picture):
//!
//! - Commands: [`cli`] (clap), [`app`] (one function per command), [`demo`], [`scheduler`] (fire
//!   times and the `serve` loop), [`service`] (the HTTP control surface of `serve` and its
//!   dashboard pages), [`status`] (what `status`, `license show` and `runs` show), [`metrics`]
//!   (Prometheus text), [`progress`] (the terminal bar).
//! - The composition root: [`deps`] turns a valid config into the bundle a run needs (store,
//!   HTTP pool, forge factory, event bus, stop token); [`exit`] holds the exit codes.
//! - [`pipeline`]: one sync run: the run (lease, concurrency, bookkeeping), one server's stages
//!   (`pipeline::stages`), the pure decisions (`pipeline::plan`), and the outbox drain. The only
//!   module that knows every adapter.
//! - Adapters, each knowing one outside thing: [`upstream`] (the cache of bare clones, tags,
//!   versions, release channels, the release diff), [`forge`] (the `Forge` trait, the local, GitHub
//!   and Azure DevOps mirrors, pin-file editors), [`license`] (discovery, identification, diff and
//!   judgement of license files), [`mcp`] (the MCP surface of a revision read statically from
//!   source, its diff across a release, the tool-poisoning findings), [`advisories`] (OSV
//!   advisories against the pinned and proposed releases), [`notify`] (message building, file, SMTP and chat-webhook transports, digest
//!   and reminder texts), [`store`] (SQLite or PostgreSQL through one SQL code path, `store::db`:
//!   migrations, typed queries, the lease), [`http`] (the
//!   one retrying HTTP client).
//! - Views, the texts and documents people and programs read: [`render`] (PR titles and bodies,
//!   emails; pure) and [`report`] (the JSON run report, the machine-readable contract of a run).
//!   [`freshness`]: how far behind each rebuild is and what blocks it, from a view the store fills.
//! - Foundation: [`config`] (TOML parsed, then validated into [`config::ValidConfig`] with every
//!   diagnostic collected), [`secret`] (secrets and URL redaction), [`files`] (private files
//!   and directories: the state, the cache, the outbox), [`events`] (run progress on a broadcast
//!   bus), [`failpoint`] (crash points for the fault suite), [`jitter`], [`exit`].
//! - [`term`]: upstream text made inert before it reaches a terminal (the commands' output and
//!   the text log lines).
//!
//! Dependency rules. Each line names what a module may import (`use crate::x`, or a `crate::x`
//! path) besides the foundation; `*` is anything. A path (`upstream::diff`) allows only that part
//! of a module. The test in `dependency_rules.rs` reads this block and fails on any other import.
//!
//! ```text
//! foundation: config secret files failpoint jitter events exit
//! main      -> cli app exit term
//! app       -> *
//! cli       ->
//! demo      -> deps pipeline report status store
//! scheduler -> deps pipeline report service store
//! service   -> deps freshness http mcp metrics pipeline render report status store
//! status    -> advisories freshness license render report store
//! metrics   -> http
//! progress  ->
//! term      ->
//! pipeline  -> advisories deps forge freshness http license mcp notify render report store upstream
//! deps      -> forge http mcp store upstream
//! upstream  -> http
//! forge     -> http
//! license   ->
//! mcp       -> license
//! advisories -> http render upstream
//! notify    -> http render report
//! store     -> freshness report
//! http      ->
//! render    -> license mcp report upstream::diff
//! report    -> freshness mcp upstream::diff upstream::channels
//! config    -> forge::pin upstream::version license::code upstream::channels::advice forge::automerge
//! secret    ->
//! files     ->
//! failpoint ->
//! jitter    ->
//! events    ->
//! exit      ->
//! freshness -> forge::checks
//! ```
//!
//! In words: commands sit on the pipeline, the pipeline on the adapters; adapters never import
//! each other (the forges, the release channels and the chat webhooks share [`http`]; notify
//! uses render's texts);
//! the views know no adapter but the domain types they show, and only the store knows table rows
//! (it fills the views `report::MovedTag` and `report::RunArchive`). The config may name four leaf
//! enums of the adapters (pin formats, version schemes, license finding codes, merge strategies) its keys select, and words the warnings `check`
//! gives about channel settings with the channels' pure advice.
//! Two adapters sit on others by design: [`mcp`] shows its description changes with the license
//! word diff, and [`advisories`] reads manifests and versions through [`upstream`] and words its
//! texts with [`render`]'s escaping.

// Library code reports through return values and tracing; only `app` talks to the terminal.
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr, clippy::dbg_macro)]

pub mod advisories;
pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod deps;
pub mod events;
pub mod exit;
pub mod failpoint;
pub mod files;
pub mod forge;
pub mod freshness;
pub mod http;
pub mod jitter;
pub mod license;
pub mod mcp;
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

#[cfg(test)]
mod dependency_rules;

/// When this process started (first asked for by `app::run`, before any work). A lock file older
/// than this, found while we hold the run lease, was left by a process that died.
pub fn started_at() -> std::time::SystemTime {
    static STARTED: std::sync::LazyLock<std::time::SystemTime> =
        std::sync::LazyLock::new(std::time::SystemTime::now);
    *STARTED
}
