//! Jitter: spreading start times so many servers do not hit one host in the same second.

use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

/// A random share of `jitter` (`random` is any uniformly random number).
pub fn delay(jitter: Duration, random: u64) -> Duration {
    let max = u64::try_from(jitter.as_millis()).unwrap_or(u64::MAX);
    if max == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(random % (max + 1))
}

/// A random number, good enough to spread start times (not for secrets).
pub fn random_u64() -> u64 {
    // std's hasher keys are random per instance: enough to spread start times, no crate needed.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}
