//! Integration tests: the real `upkeep` binary against real git repositories in temp dirs,
//! a real SQLite file and real outbox files.

#[path = "../channels_support/mod.rs"]
mod channels_support;
#[path = "../forge_support/mod.rs"]
mod forge_support;
#[path = "../smart_http_support/mod.rs"]
mod smart_http_support;
mod support;

mod channels_e2e;
mod check;
mod env_faults;
mod faults;
mod forges_e2e;
mod hostile;
mod http_upstream;
mod props;
mod quiet;
mod snapshots;
mod sync;
mod transport;
