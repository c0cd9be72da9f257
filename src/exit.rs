//! The process's exit codes (the README's table): every command returns one of these, and only
//! `main` exits with it.

/// Success: every server synced, or the command did what it was asked.
pub const OK: i32 = 0;
/// A server failed (the others still ran), or the command failed.
pub const FAILED: i32 = 1;
/// The config is invalid, or the command line named something unknown.
pub const CONFIG: i32 = 2;
/// Busy, nothing was done: another run holds the run lease, or another process kept the state
/// database locked longer than `[state] busy-timeout`.
pub const BUSY: i32 = 3;
/// The state's schema does not match this build, nothing was done: it is newer (an older
/// upkeep), or it has pending migrations and they may not be applied here (`upkeep migrate`,
/// `--migrate`, `[state] auto-migrate`).
pub const SCHEMA: i32 = 4;
