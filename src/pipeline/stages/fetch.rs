//! Stage `fetch`: bring the server's cache clone up to date (libgit2, incremental), list its
//! tags and pick the releases among them (tag pattern, version scheme, prerelease policy).

use crate::pipeline::ServerRun;
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
    let fetched =
        tracing::info_span!("fetch").in_scope(|| cache.fetch(&server.name, &server.upstream))?;
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
