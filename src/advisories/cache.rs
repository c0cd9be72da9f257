//! The cache of advisory details, keyed by id and `modified`.
//!
//! `querybatch` answers with ids and `modified` times only; a detail is fetched again only when
//! its `modified` changed. The state store implements [`VulnCache`] so the cache outlives the
//! process; [`MemoryVulnCache`] is the in-process one (tests, one-shot runs).

use std::collections::HashMap;
use std::sync::Mutex;

/// One cached advisory: its `modified` time and the record's JSON as the service sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedVuln {
    pub modified: String,
    pub body: Vec<u8>,
}

/// Persisted advisory details. Implementations must not fail loudly: a read that fails is a
/// miss (the detail is fetched again), a write that fails is logged and forgotten.
pub trait VulnCache: Send + Sync {
    /// The entry stored for `id`.
    fn get(&self, id: &str) -> Option<CachedVuln>;
    /// Replaces the entry for `id`.
    fn put(&self, id: &str, modified: &str, body: &[u8]);
}

/// A [`VulnCache`] in memory.
#[derive(Debug, Default)]
pub struct MemoryVulnCache(Mutex<HashMap<String, CachedVuln>>);

impl MemoryVulnCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many advisories are cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedVuln>> {
        // A panic while holding the lock leaves entries that are still fine to read.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl VulnCache for MemoryVulnCache {
    fn get(&self, id: &str) -> Option<CachedVuln> {
        self.lock().get(id).cloned()
    }

    fn put(&self, id: &str, modified: &str, body: &[u8]) {
        self.lock().insert(
            id.to_string(),
            CachedVuln {
                modified: modified.to_string(),
                body: body.to_vec(),
            },
        );
    }
}

/// True when a cached record is as new as the `modified` time `querybatch` reported. Times are
/// compared as instants (RFC 3339 allows several spellings of one); an unreadable or missing
/// time is never fresh, so the detail is fetched again.
pub fn is_fresh(cached_modified: &str, reported_modified: &str) -> bool {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s.trim()).ok();
    match (parse(cached_modified), parse(reported_modified)) {
        (Some(cached), Some(reported)) => cached >= reported,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_compares_instants() {
        assert!(is_fresh("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000Z"));
        assert!(is_fresh("2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z"));
        assert!(!is_fresh("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z"));
        assert!(!is_fresh("", "2024-01-01T00:00:00Z"));
        assert!(!is_fresh("2024-01-01T00:00:00Z", ""));
    }

    #[test]
    fn memory_cache_round_trip() {
        let cache = MemoryVulnCache::new();
        assert!(cache.get("X-1").is_none());
        cache.put("X-1", "2024-01-01T00:00:00Z", b"{}");
        assert_eq!(cache.get("X-1").unwrap().body, b"{}");
        assert_eq!(cache.len(), 1);
    }
}
