//! The state's HTTP cache (`http_cache`, kept across runs and restarts) lent to the adapters'
//! conditional GETs through [`ConditionalCache`]: the release channels' pages, and the rebuild
//! PR's state on the quiet path. Keyed by URL, so an unchanged answer costs one `304` even for a
//! one-shot `sync --now` from cron. A cache that cannot be read or written costs a full answer,
//! never the run.

use crate::http::ConditionalCache;
use crate::store::Store;

/// The store as a [`ConditionalCache`]. `write: false` (a dry run) reads it but never writes it.
pub struct StoreCache<'a> {
    pub store: &'a Store,
    pub write: bool,
}

impl ConditionalCache for StoreCache<'_> {
    fn get(&self, url: &str) -> Option<(String, Vec<u8>)> {
        self.store.http_cache_get(url).unwrap_or_else(|e| {
            tracing::warn!(error = %format!("{e:#}"), "HTTP cache unreadable; fetching in full");
            None
        })
    }

    fn put(&self, url: &str, etag: &str, body: &[u8]) {
        if self.write
            && let Err(e) = self.store.http_cache_put(url, etag, body)
        {
            tracing::warn!(error = %format!("{e:#}"), "could not cache an HTTP response");
        }
    }
}
