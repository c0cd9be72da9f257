//! Per-owner digests (being written).
