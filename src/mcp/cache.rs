//! The per-tree cache of extracted surfaces, kept by the caller across servers and runs of one
//! process. Keyed by the commit's tree id (two commits with the same tree have the same
//! surface) and the limits used; bounded, oldest entry evicted first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use git2::Oid;

use super::source::Limits;
use super::surface::Surface;

/// Entries kept by [`SurfaceCache::default`].
pub const DEFAULT_CACHE_ENTRIES: usize = 256;

type Key = (Oid, Limits);

/// Extracted surfaces by tree (`None` cached too: "this tree uses no MCP SDK").
#[derive(Debug)]
pub struct SurfaceCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Key, Option<Surface>>,
    order: VecDeque<Key>,
    hits: u64,
    misses: u64,
}

impl Default for SurfaceCache {
    fn default() -> Self {
        Self::new(DEFAULT_CACHE_ENTRIES)
    }
}

impl SurfaceCache {
    /// A cache holding at most `capacity` trees (0 disables caching).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub(crate) fn get(&self, tree: Oid, limits: &Limits) -> Option<Option<Surface>> {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let found = inner.map.get(&(tree, limits.clone())).cloned();
        if found.is_some() {
            inner.hits += 1;
        } else {
            inner.misses += 1;
        }
        found
    }

    pub(crate) fn put(&self, tree: Oid, limits: &Limits, surface: Option<Surface>) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (tree, limits.clone());
        if inner.map.insert(key.clone(), surface).is_none() {
            inner.order.push_back(key);
        }
        while inner.order.len() > self.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.map.remove(&old);
            }
        }
    }

    /// (hits, misses) since the cache was made: for metrics and the cost tests.
    #[must_use]
    pub fn stats(&self) -> (u64, u64) {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (inner.hits, inner.misses)
    }

    /// Trees cached now.
    #[must_use]
    pub fn len(&self) -> usize {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.map.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_entries_are_evicted_first() {
        let cache = SurfaceCache::new(2);
        let limits = Limits::default();
        let ids: Vec<Oid> = (1u8..=3)
            .map(|i| Oid::from_bytes(&[i; 20]).expect("oid"))
            .collect();
        for id in &ids {
            cache.put(*id, &limits, None);
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.get(ids[0], &limits).is_none());
        assert_eq!(cache.get(ids[2], &limits), Some(None));
        assert_eq!(cache.stats(), (1, 1));
        let other = Limits {
            max_files: 1,
            ..Limits::default()
        };
        assert!(
            cache.get(ids[2], &other).is_none(),
            "other limits, other entry"
        );
    }
}
