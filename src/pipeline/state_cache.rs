//! The state's HTTP cache (`http_cache`, kept across runs, restarts and replicas) lent to the
//! adapters' conditional GETs through [`ConditionalCache`]: the release channels' pages, and the
//! open rebuild PR's state and its head's checks. Keyed by URL, so an unchanged answer costs one
//! `304` even for a one-shot `sync --now` from cron. A cache that cannot be read or written
//! costs a full answer, never the run.
//!
//! What it holds is bounded three ways: each entry's size ([`StoreCache::put`] refuses a body
//! over its bound), a PR's rows go in the transaction that ends the PR (they carry the server's
//! name: `Store::set_pr_state`, `Store::upsert_pr`), and every row goes once its last full answer
//! is [`MAX_AGE`] old ([`prune`], after each run).

use std::time::Duration;

use crate::http::ConditionalCache;
use crate::store::Store;

/// A row whose last full answer is older than this is deleted after a run. An answer that has
/// not changed for that long (a quiet upstream's registry page, a PR nobody touched) costs one
/// full read a month; a row nothing reads any more (a channel taken out of the config, a PR a
/// crashed process left) is gone within a month.
pub const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The largest body a shared entry keeps: the release channels refuse answers over 16 MiB as
/// they stream in, and their entries add a line of their own.
const SHARED_BODY_MAX: usize = 16 * 1024 * 1024 + 4096;

/// The largest body an entry of a rebuild PR keeps. Those entries hold only what upkeep reads
/// (a PR's state; each check's name, outcome and link), a few KB for a hundred checks; an
/// answer that still comes out bigger is read in full each time rather than stored.
const PR_BODY_MAX: usize = 256 * 1024;

/// The store as a [`ConditionalCache`]. `write: false` (a dry run) reads it but never writes it.
pub struct StoreCache<'a> {
    store: &'a Store,
    write: bool,
    /// The server whose open rebuild PR the answers are about (None: shared).
    server: Option<&'a str>,
    max_body: usize,
}

impl<'a> StoreCache<'a> {
    /// Answers any server may read (the release channels' pages); pruned by age only.
    pub fn shared(store: &'a Store, write: bool) -> Self {
        Self {
            store,
            write,
            server: None,
            max_body: SHARED_BODY_MAX,
        }
    }

    /// Answers about `server`'s open rebuild PR (its state, its head's checks): deleted with
    /// the transaction that records the PR merged, closed, declined or superseded.
    pub fn of_pr(store: &'a Store, write: bool, server: &'a str) -> Self {
        Self {
            store,
            write,
            server: Some(server),
            max_body: PR_BODY_MAX,
        }
    }
}

impl ConditionalCache for StoreCache<'_> {
    fn get(&self, url: &str) -> Option<(String, Vec<u8>)> {
        self.store.http_cache_get(url).unwrap_or_else(|e| {
            tracing::warn!(error = %format!("{e:#}"), "HTTP cache unreadable; fetching in full");
            None
        })
    }

    fn put(&self, url: &str, etag: &str, body: &[u8]) {
        if !self.write {
            return;
        }
        if body.len() > self.max_body {
            // The row (if any) keeps an older answer with its own ETag: a `304` to that ETag
            // still vouches for that body, so it is never served for this answer.
            tracing::debug!(
                bytes = body.len(),
                max = self.max_body,
                "HTTP answer too big to cache"
            );
            return;
        }
        if let Err(e) = self.store.http_cache_put(url, etag, body, self.server) {
            tracing::warn!(error = %format!("{e:#}"), "could not cache an HTTP response");
        }
    }
}

/// Deletes the HTTP cache rows past [`MAX_AGE`]; a failure is logged, never the run's.
pub fn prune(store: &Store) {
    match store.prune_http_cache(MAX_AGE) {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "deleted HTTP cache rows past their age bound"),
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not prune the HTTP cache"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::{Exec as _, params};
    use crate::store::testing;

    crate::store::testing::on_both_backends! {
        fn a_pr_entry_is_the_servers_and_bounded_in_size() {
            let dir = tempfile::tempdir().unwrap();
            let store = testing::open(dir.path());
            let cache = StoreCache::of_pr(&store, true, "x");
            cache.put("pulls/7", "W/\"a\"", b"{\"state\":\"open\"}");
            assert_eq!(
                cache.get("pulls/7"),
                Some(("W/\"a\"".to_string(), b"{\"state\":\"open\"}".to_vec()))
            );
            // An answer over the bound is not kept: the row keeps the older answer under the
            // older ETag, which a 304 can only confirm for that body.
            cache.put("pulls/7", "W/\"b\"", &vec![b' '; PR_BODY_MAX + 1]);
            assert_eq!(cache.get("pulls/7").unwrap().0, "W/\"a\"");
            // The same size is fine for a shared answer (a registry's page).
            let shared = StoreCache::shared(&store, true);
            shared.put("npm/big", "\"n\"", &vec![b' '; PR_BODY_MAX + 1]);
            assert!(shared.get("npm/big").is_some());
            // Each row says whose it is: the PR's goes with that PR (`store::http_cache`).
            let conn = testing::conn(dir.path());
            let owner = |url: &str| -> Option<String> {
                conn.query_row(
                    "SELECT server FROM http_cache WHERE url = ?1",
                    params![url],
                    |r| r.get(0),
                )
                .unwrap()
            };
            assert_eq!(owner("pulls/7").as_deref(), Some("x"));
            assert_eq!(owner("npm/big"), None);
        }

        fn a_dry_run_reads_the_cache_and_never_writes_it() {
            let dir = tempfile::tempdir().unwrap();
            let store = testing::open(dir.path());
            StoreCache::shared(&store, true).put("u", "\"1\"", b"one");
            let dry = StoreCache::shared(&store, false);
            dry.put("u", "\"2\"", b"two");
            dry.put("v", "\"3\"", b"three");
            assert_eq!(dry.get("u"), Some(("\"1\"".to_string(), b"one".to_vec())));
            assert_eq!(dry.get("v"), None);
        }
    }
}
