//! Integration tests: the real `upkeep` binary against real git repositories in temp dirs,
//! a real SQLite file and real outbox files.

#[path = "../channels_support/mod.rs"]
mod channels_support;
#[path = "../forge_support/mod.rs"]
mod forge_support;
#[path = "../osv_support/mod.rs"]
mod osv_support;
#[path = "../pg_support/mod.rs"]
mod pg_support;
#[path = "../smart_http_support/mod.rs"]
mod smart_http_support;
mod support;

mod advisories_e2e;
mod automerge;
mod caps;
mod channels_e2e;
mod chat;
mod check;
mod env_faults;
mod faults;
mod fetch_stop;
mod fleet;
mod forges_e2e;
mod hostile;
mod http_cache;
mod http_upstream;
mod insecure_http;
mod license_screens;
mod mcp_approvals;
mod mcp_gate;
mod migrate;
mod pr_approvals;
mod props;
mod quiet;
mod quiet_merges;
mod redaction;
mod registry_auth;
mod replicas;
mod secrets;
mod snapshots;
mod sync;
mod terminal;
mod transport;
