//! Store queries for the HTTP cache (`http_cache`): the ETag and body of a conditional GET per
//! URL, lent to the adapters by `pipeline::state_cache`.
//!
//! A row says whose open rebuild PR it answers about (`server`; NULL: shared, such as a release
//! channel's page). A PR's rows are deleted in the transaction that ends the PR
//! ([`Store::set_pr_state`], [`Store::upsert_pr`]); every row is deleted once its last full
//! answer is old ([`Store::prune_http_cache`]). Neither can break a process that is using a row
//! at that moment: a row's ETag and body are read together in one statement, a `304` to that
//! ETag vouches for exactly that body, and a row that is gone costs one full answer. A row a
//! process writes just after its PR ended (it read the PR as open a moment before) is left to
//! the age bound.

use std::time::Duration;

use super::db::{Exec as _, OptionalExt as _, params};
use super::{Store, Tx, now, ts};

impl Store {
    /// The cached ETag and body of a URL, read together in one statement.
    pub fn http_cache_get(&self, url: &str) -> anyhow::Result<Option<(String, Vec<u8>)>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT etag, body FROM http_cache WHERE url = ?1",
                params![url],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Stores the answer of `url`; `server` names the server whose open rebuild PR it is about
    /// (None: shared), so the row goes when that PR stops being open.
    pub fn http_cache_put(
        &self,
        url: &str,
        etag: &str,
        body: &[u8],
        server: Option<&str>,
    ) -> anyhow::Result<()> {
        self.write(
            "INSERT INTO http_cache(url, etag, body, updated_at, server) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(url) DO UPDATE SET etag = ?2, body = ?3, updated_at = ?4, server = ?5",
            params![url, etag, body, ts(now()), server],
        )?;
        Ok(())
    }

    /// Deletes the rows whose last full answer is older than `max_age`, shared or not.
    /// Returns how many went.
    pub fn prune_http_cache(&self, max_age: Duration) -> anyhow::Result<usize> {
        let cutoff = now() - chrono::Duration::from_std(max_age)?;
        self.write(
            "DELETE FROM http_cache WHERE updated_at < ?1",
            params![ts(cutoff)],
        )
    }

    /// Deletes the rows of `server`'s rebuild PR, in the transaction that ends it.
    pub(super) fn drop_pr_http_cache(tx: &Tx<'_>, server: &str) -> anyhow::Result<()> {
        tx.execute("DELETE FROM http_cache WHERE server = ?1", params![server])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{PrRecord, PrRecordState, testing};
    use super::*;

    fn pr(server: &str, version: &str) -> PrRecord {
        PrRecord {
            id: 0,
            server: server.into(),
            version: version.into(),
            tag: format!("v{version}"),
            commit: "c1".into(),
            branch: format!("upkeep/{server}"),
            forge_id: Some("7".into()),
            url: None,
            title: "t".into(),
            body_hash: "h".into(),
            head_commit: Some("h1".into()),
            state: PrRecordState::Open,
            held: false,
            closed_by: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    /// The rows the cache holds, by URL.
    fn urls(s: &Store) -> Vec<String> {
        let mut all: Vec<String> = [
            "pulls/7",
            "commits/h1/check-runs",
            "commits/h1/status",
            "npm/pkg",
            "other/pulls/9",
        ]
        .iter()
        .filter(|u| s.http_cache_get(u).unwrap().is_some())
        .map(|u| u.to_string())
        .collect();
        all.sort();
        all
    }

    /// The rows of server `x`'s PR, a shared row, and a row of server `y`'s PR.
    fn fill(s: &Store) {
        for url in ["pulls/7", "commits/h1/check-runs", "commits/h1/status"] {
            s.http_cache_put(url, "W/\"e\"", b"{}", Some("x")).unwrap();
        }
        s.http_cache_put("npm/pkg", "\"n\"", b"{}", None).unwrap();
        s.http_cache_put("other/pulls/9", "W/\"o\"", b"{}", Some("y"))
            .unwrap();
    }

    const LEFT: [&str; 2] = ["npm/pkg", "other/pulls/9"];

    testing::on_both_backends! {
        fn an_entry_is_its_etag_and_body_and_is_replaced_whole() {
            let dir = tempfile::tempdir().unwrap();
            let s = testing::open(dir.path());
            assert_eq!(s.http_cache_get("u").unwrap(), None);
            s.http_cache_put("u", "W/\"1\"", b"one", Some("x")).unwrap();
            s.http_cache_put("u", "W/\"2\"", b"two", None).unwrap();
            assert_eq!(
                s.http_cache_get("u").unwrap(),
                Some(("W/\"2\"".to_string(), b"two".to_vec()))
            );
            // Rewritten as shared, it no longer goes with x's PR.
            s.transaction(|tx| Store::drop_pr_http_cache(tx, "x")).unwrap();
            assert!(s.http_cache_get("u").unwrap().is_some());
        }

        fn a_declined_or_merged_pr_takes_its_rows_and_only_its_rows() {
            for state in [PrRecordState::Declined, PrRecordState::Merged] {
                let dir = tempfile::tempdir().unwrap();
                let s = testing::open(dir.path());
                let id = s.transaction(|tx| Store::upsert_pr(tx, &pr("x", "1.1.0"))).unwrap();
                fill(&s);
                s.transaction(|tx| Store::set_pr_state(tx, id, state, Some("ada")))
                    .unwrap();
                assert_eq!(urls(&s), LEFT, "{state:?}");
            }
        }

        fn an_open_pr_keeps_its_rows_until_a_newer_version_supersedes_it() {
            let dir = tempfile::tempdir().unwrap();
            let s = testing::open(dir.path());
            s.transaction(|tx| Store::upsert_pr(tx, &pr("x", "1.1.0"))).unwrap();
            fill(&s);
            // The same version written again (a full check that changed nothing) keeps them.
            s.transaction(|tx| Store::upsert_pr(tx, &pr("x", "1.1.0"))).unwrap();
            assert_eq!(urls(&s).len(), 5);
            // A newer version takes the PR over: the old answers are of another PR text and head.
            s.transaction(|tx| Store::upsert_pr(tx, &pr("x", "1.2.0"))).unwrap();
            assert_eq!(urls(&s), LEFT);
            // Recorded merged through the upsert (the full check's plan), it takes them too.
            fill(&s);
            let mut merged = pr("x", "1.2.0");
            merged.state = PrRecordState::Merged;
            s.transaction(|tx| Store::upsert_pr(tx, &merged)).unwrap();
            assert_eq!(urls(&s), LEFT);
        }

        fn rows_are_pruned_by_the_age_of_their_last_full_answer() {
            let dir = tempfile::tempdir().unwrap();
            let s = testing::open(dir.path());
            fill(&s);
            let month = Duration::from_secs(30 * 24 * 3600);
            assert_eq!(s.prune_http_cache(month).unwrap(), 0, "all are new");
            // Two rows last answered in full 31 days ago, one shared and one of a PR.
            let old = ts(now() - chrono::Duration::days(31));
            let conn = testing::conn(dir.path());
            conn.execute(
                "UPDATE http_cache SET updated_at = ?1 WHERE url IN ('npm/pkg', 'pulls/7')",
                params![old],
            )
            .unwrap();
            assert_eq!(s.prune_http_cache(month).unwrap(), 2);
            assert_eq!(
                urls(&s),
                ["commits/h1/check-runs", "commits/h1/status", "other/pulls/9"]
            );
            // A full answer since makes a row new again.
            conn.execute(
                "UPDATE http_cache SET updated_at = ?1 WHERE url = 'other/pulls/9'",
                params![old],
            )
            .unwrap();
            s.http_cache_put("other/pulls/9", "W/\"p\"", b"[]", Some("y")).unwrap();
            assert_eq!(s.prune_http_cache(month).unwrap(), 0);
        }
    }
}
