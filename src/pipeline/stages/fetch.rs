//! Stage `fetch`: bring the server's cache clone up to date (libgit2, incremental), list its
//! tags and pick the releases among them (tag pattern, version scheme, prerelease policy).
//!
//! An `http(s)://` upstream is asked for its ref advertisement over the run's shared HTTP
//! client first (`Deps::refs`: connections kept alive across upstreams, HTTP/2 where offered);
//! when the clone already holds every advertised tag and HEAD, there is nothing to fetch and
//! libgit2 opens no connection. A listing that fails for any reason falls back to the libgit2
//! fetch, which reports the upstream's real error if there is one. `git://`, `ssh://` and local
//! upstreams go to libgit2 directly (git:// has no HTTP to share, and ssh needs the user's keys
//! and config, which only libgit2 has here); the fetch itself makes the same comparison on
//! libgit2's advertisement and downloads nothing when the clone is current.

use crate::pipeline::ServerRun;
use crate::upstream::smart_http::is_http_url;
use crate::upstream::{self, Cache, Fetched, Release};

/// What the upstream holds now.
pub struct Upstream {
    /// The cache clone, its tags and default branch.
    pub fetched: Fetched,
    /// The releases among the tags, oldest first (never empty).
    pub releases: Vec<Release>,
    /// Every release tag and the commit it names: the trust stage remembers them, and they are
    /// part of the quiet key.
    pub release_tags: Vec<(String, String)>,
}

/// Fetch the upstream and select its releases; no release at all is a failure.
pub fn fetch(run: &ServerRun<'_>) -> anyhow::Result<Upstream> {
    let server = run.server;
    let state = &run.deps.config.state;
    let cache = Cache::new(&state.cache_dir)
        .with_limits(upstream::FetchLimits {
            max_tags: state.max_tags,
            max_bytes: state.max_fetch_bytes,
        })
        .with_stop(run.stop.clone());
    let fetched = tracing::info_span!("fetch").in_scope(|| fetch_if_changed(run, &cache))?;
    let releases = upstream::select_releases(&fetched.tags, &server.release);
    let release_tags: Vec<(String, String)> = fetched
        .tags
        .iter()
        .filter(|t| upstream::tag_version(&t.name, &server.release).is_some())
        .map(|t| (t.name.clone(), t.commit.clone()))
        .collect();
    if releases.is_empty() {
        anyhow::bail!(
            "no tag of {} matches tag-pattern `{}` ({} tags seen)",
            upstream::redact_url(&server.upstream),
            server.release.tag_pattern.as_str(),
            fetched.tags.len()
        );
    }
    Ok(Upstream {
        fetched,
        releases,
        release_tags,
    })
}

/// The clone as it is when the upstream's advertisement shows nothing new, else a fetch.
fn fetch_if_changed(run: &ServerRun<'_>, cache: &Cache) -> anyhow::Result<Fetched> {
    let server = run.server;
    if is_http_url(&server.upstream) {
        match run.deps.refs.list(&server.upstream) {
            Ok(ad) => {
                if let Some(current) = cache.open_if_current(&server.name, &ad) {
                    tracing::debug!(
                        tags = current.tags.len(),
                        "advertisement unchanged; no fetch"
                    );
                    return Ok(current);
                }
            }
            // The message is the lister's, already redacted.
            Err(e) => {
                tracing::debug!(error = %e, "listing refs over smart HTTP failed; fetching with libgit2")
            }
        }
    }
    cache.fetch(&server.name, &server.upstream)
}
