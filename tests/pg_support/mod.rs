//! The throwaway PostgreSQL 15 cluster of the lib's unit tests, for the integration tests: one
//! cluster per test binary, a fresh database per test (see the file it includes).

#[path = "../../src/store/db/pg/cluster.rs"]
mod cluster;

#[allow(unused_imports)] // each test binary uses a different part
pub use cluster::*;
