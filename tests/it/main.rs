//! Integration tests: the real `upkeep` binary against real git repositories in temp dirs,
//! a real SQLite file and real outbox files.

#[path = "../forge_support/mod.rs"]
mod forge_support;
mod support;

mod check;
mod forges_e2e;
mod sync;
