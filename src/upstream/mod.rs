//! Upstream repositories.

pub mod diff;
pub mod version;
