//! Upstream repositories: the cache of bare clones, tag listing and release selection.
//!
//! The cache holds one bare repository per server (`<cache-dir>/<server>.git`), fetched
//! incrementally with git2; nothing here ever writes a working tree. A cache that cannot be
//! opened or fetched into is deleted and cloned afresh once. What one upstream may make it hold
//! is capped ([`FetchLimits`]): its tag count is checked on the ref advertisement, before
//! anything is downloaded, and a fetch is aborted once it received more than the byte limit.
//! A fetch also stops when cancelled or past its deadline ([`FetchStop`]), and only one fetch
//! into a clone runs at a time ([`CloneLock`]).
//! For `http(s)://` upstreams the pipeline first lists the refs over the shared HTTP client
//! ([`smart_http`]) and, when the clone already holds them, takes it as it is
//! ([`Cache::open_if_current`]) instead of fetching. libgit2 honours the same proxy environment
//! as that client (see [`fetch_into`]). Release selection ([`select_releases`]) is pure.

pub mod channels;
mod current;
pub mod diff;
mod guard;
pub mod smart_http;
pub mod version;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use git2::{Direction, FetchOptions, Oid, Repository};
use serde::Serialize;

use crate::config::ReleaseConfig;
pub use crate::secret::redact_url;
pub use guard::{CloneLock, FetchStop, Stopped};
use version::Version;

/// A tag as the upstream has it now, peeled to its commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagRef {
    /// The tag name without `refs/tags/`.
    pub name: String,
    pub commit: String,
    /// Commit time, RFC 3339.
    pub date: Option<String>,
}

/// A tag that parsed as a release version.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    pub version: String,
    pub tag: String,
    pub commit: String,
    pub date: Option<String>,
    pub prerelease: bool,
    #[serde(skip)]
    pub parsed: Version,
}

/// The result of one fetch.
pub struct Fetched {
    pub repo: Repository,
    pub tags: Vec<TagRef>,
    /// The upstream default branch head, when the remote advertised its HEAD.
    pub default_branch: Option<(String, Oid)>,
    /// True when the cache was (re)created in this fetch.
    pub cloned: bool,
}

/// What one upstream may make the cache hold (`[state] max-tags`, `max-fetch-size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    pub max_tags: usize,
    pub max_bytes: u64,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            max_tags: crate::config::DEFAULT_MAX_TAGS,
            max_bytes: crate::config::DEFAULT_MAX_FETCH_BYTES,
        }
    }
}

/// The cache of bare clones.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    limits: FetchLimits,
    stop: FetchStop,
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache {
            dir: dir.into(),
            limits: FetchLimits::default(),
            stop: FetchStop::new(),
        }
    }

    #[must_use]
    pub fn with_limits(mut self, limits: FetchLimits) -> Cache {
        self.limits = limits;
        self
    }

    /// Fetches through this cache stop when `stop` says so (see [`FetchStop`]).
    #[must_use]
    pub fn with_stop(mut self, stop: FetchStop) -> Cache {
        self.stop = stop;
        self
    }

    pub fn path_for(&self, server: &str) -> PathBuf {
        // Server names are validated to a safe alphabet, so this cannot leave the cache dir.
        self.dir.join(format!("{server}.git"))
    }

    /// Fetch `url` into the server's bare clone, creating or rebuilding it as needed. Refused
    /// while another fetch into the same clone runs ([`CloneLock`]).
    pub fn fetch(&self, server: &str, url: &str) -> anyhow::Result<Fetched> {
        let path = self.path_for(server);
        // A cache that cannot be written is named as such (the lock file is the first write).
        let lock = CloneLock::try_acquire(&self.dir, server)
            .map_err(|e| ensure_writable(&self.dir, &path, server).err().unwrap_or(e))?;
        let Some(_lock) = lock else {
            anyhow::bail!(
                "another fetch into the cache clone of {server} is still running (a sync \
                 abandoned on [service] server-timeout, or another upkeep process); not fetching \
                 this time, the next run will"
            );
        };
        if let Some(why) = self.stop.stopped() {
            return Err(FetchStop::error(why, &redact_url(url)));
        }
        let existed = path.exists();
        let first = match self.fetch_into(&path, url) {
            // A stopped fetch is neither a stale lock nor damage: no retry, no rebuild.
            Err(e) if self.stop.stopped().is_some() => return Err(e),
            // A process killed mid-fetch leaves ref lock files behind; we hold the clone's
            // fetch lock, so no other fetch uses it now: they are stale. Clear and retry.
            Err(e) if existed && is_stale_lock(&e) => {
                let cleared = clear_lock_files(&path);
                tracing::warn!(
                    server,
                    cleared,
                    "cleared stale lock files left in the cache by a killed run"
                );
                self.fetch_into(&path, url)
            }
            other => other,
        };
        // Only when something failed: a cache we cannot write is our fault, not the upstream's,
        // and never a damaged clone to delete.
        let first = first.map_err(|e| match ensure_writable(&self.dir, &path, server) {
            Err(unwritable) => unwritable,
            Ok(()) => e,
        });
        match first {
            Ok(mut f) => {
                f.cloned = !existed;
                Ok(f)
            }
            Err(e) if existed && is_cache_damage(&e) => {
                tracing::warn!(server, error = %format!("{e:#}"), "cache clone is damaged; rebuilding it");
                std::fs::remove_dir_all(&path)
                    .with_context(|| format!("removing damaged cache {}", path.display()))?;
                let mut f = self.fetch_into(&path, url)?;
                f.cloned = true;
                Ok(f)
            }
            Err(e) => Err(e),
        }
    }
}

impl Cache {
    fn fetch_into(&self, path: &Path, url: &str) -> anyhow::Result<Fetched> {
        fetch_into(path, url, self.limits, &self.stop)
    }
}

/// An error naming the path when the cache cannot be written (a read-only mount, wrong
/// permissions, a file in the way); libgit2's own error would read like an upstream fault.
fn ensure_writable(dir: &Path, clone: &Path, server: &str) -> anyhow::Result<()> {
    crate::files::create_private_dir_all(dir).with_context(|| {
        format!(
            "the cache directory {} cannot be created (check [state] cache-dir)",
            dir.display()
        )
    })?;
    let target = if clone.is_dir() { clone } else { dir };
    // Named after the server: servers synced at once never share a probe.
    let probe = target.join(format!(".{server}.write-probe"));
    std::fs::File::create(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .with_context(|| {
            format!(
                "the cache {} is not writable (check [state] cache-dir and its permissions)",
                target.display()
            )
        })
}

fn is_stale_lock(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<git2::Error>().is_some_and(|g| {
            g.code() == git2::ErrorCode::Locked || g.message().contains("failed to lock file")
        })
    })
}

/// Remove every `*.lock` file of a bare repository (refs, packed-refs, config, HEAD).
fn clear_lock_files(dir: &Path) -> usize {
    let mut cleared = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        // Never follow a symlink out of the cache.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            cleared += clear_lock_files(&p);
        } else if kind.is_file()
            && p.extension().is_some_and(|x| x == "lock")
            && std::fs::remove_file(&p).is_ok()
        {
            cleared += 1;
        }
    }
    cleared
}

/// Whether an error is about our cache (rebuild it) rather than the upstream (report it).
fn is_cache_damage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<git2::Error>().is_some_and(|g| {
            matches!(
                g.class(),
                git2::ErrorClass::Odb
                    | git2::ErrorClass::Index
                    | git2::ErrorClass::Repository
                    | git2::ErrorClass::Reference
                    | git2::ErrorClass::Object
            ) || g.code() == git2::ErrorCode::NotFound && g.class() == git2::ErrorClass::Os
        }) || c.to_string().contains("open cache")
    })
}

fn open_or_init(path: &Path) -> anyhow::Result<Repository> {
    if path.exists() {
        return Repository::open_bare(path)
            .with_context(|| format!("open cache {}", path.display()));
    }
    if let Some(parent) = path.parent() {
        crate::files::create_private_dir_all(parent)
            .with_context(|| format!("creating cache directory {}", parent.display()))?;
    }
    // Init into a temporary name and rename, so a crash never leaves a half-made cache
    // that looks valid.
    let tmp = path.with_extension("git.tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).ok();
    }
    Repository::init_bare(&tmp).with_context(|| format!("creating cache {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("moving cache into place at {}", path.display()))?;
    Repository::open_bare(path).with_context(|| format!("open cache {}", path.display()))
}

fn fetch_into(
    path: &Path,
    url: &str,
    limits: FetchLimits,
    stop: &FetchStop,
) -> anyhow::Result<Fetched> {
    let repo = open_or_init(path)?;
    let fetched = {
        let mut remote = repo
            .remote_anonymous(url)
            .with_context(|| format!("bad upstream URL {}", redact_url(url)))?;
        // `auto`: libgit2 reads `http.proxy` from git config, then `https_proxy`/`HTTPS_PROXY`
        // (`http_proxy`/`HTTP_PROXY` for http://) and `no_proxy`/`NO_PROXY`, as the smart-HTTP
        // lister's client does (README "Proxies"). Without it libgit2 uses no proxy at all.
        let conn = remote
            .connect_auth(Direction::Fetch, None, Some(proxy_options()))
            .with_context(|| format!("connecting to upstream {}", redact_url(url)))?;
        check_tag_count(&conn, limits.max_tags)?;
        // Nothing new upstream: the clone already is what the fetch would leave, so skip the
        // download, the ref updates and the prune (the smart-HTTP lister's comparison, on
        // libgit2's own advertisement; what git:// and ssh:// quiet runs cost).
        let current = conn
            .list()
            .ok()
            .and_then(current::advertisement_of)
            .and_then(|ad| current::holds(&repo, &ad));
        match current {
            Some((tags, branch)) => Ok(Outcome::Current(tags, branch)),
            None => download(conn, url, limits, stop),
        }
    };
    let (tags, default_branch) = match fetched? {
        Outcome::Current(tags, branch) => (tags, branch),
        Outcome::Downloaded { head, advertised } => {
            prune_gone(&repo, &advertised)?;
            let default_branch = head.and_then(|name| {
                let short = name.strip_prefix("refs/heads/")?.to_string();
                let oid = repo
                    .refname_to_id(&format!("refs/remotes/origin/{short}"))
                    .ok()?;
                Some((short, oid))
            });
            (list_tags(&repo)?, default_branch)
        }
    };
    Ok(Fetched {
        repo,
        tags,
        default_branch,
        cloned: false,
    })
}

/// What one connection to the upstream came to.
enum Outcome {
    /// The clone already held everything advertised: its tags and default branch.
    Current(Vec<TagRef>, Option<(String, Oid)>),
    /// Downloaded: the upstream's HEAD branch and every ref name it advertised (for the prune).
    Downloaded {
        head: Option<String>,
        advertised: HashSet<String>,
    },
}

/// Download what `conn` advertises and update the cache's refs.
fn download(
    mut conn: git2::RemoteConnection<'_, '_, '_>,
    url: &str,
    limits: FetchLimits,
    stop: &FetchStop,
) -> anyhow::Result<Outcome> {
    let refspecs = [
        "+refs/heads/*:refs/remotes/origin/*",
        "+refs/tags/*:refs/tags/*",
    ];
    let head = conn
        .default_branch()
        .ok()
        .and_then(|b| b.as_str().ok().map(str::to_string));
    let advertised = advertised_refs(&conn)?;
    let remote = conn.remote();
    let received = std::cell::Cell::new(0u64);
    let mut callbacks = git2::RemoteCallbacks::new();
    // Returning false aborts the transfer: a hostile or mistaken upstream cannot fill the
    // disk through one fetch, nor hold it past its deadline or its run.
    callbacks.transfer_progress(|p| {
        received.set(p.received_bytes() as u64);
        received.get() <= limits.max_bytes && stop.stopped().is_none()
    });
    callbacks.sideband_progress(|_| stop.stopped().is_none());
    let mut opts = FetchOptions::new();
    opts.proxy_options(proxy_options())
        .download_tags(git2::AutotagOption::None)
        .remote_callbacks(callbacks);
    let downloaded = remote.download(&refspecs, Some(&mut opts));
    drop(opts);
    if downloaded.is_err()
        && let Some(why) = stop.stopped()
    {
        return Err(FetchStop::error(why, &redact_url(url)));
    }
    if received.get() > limits.max_bytes {
        anyhow::bail!(
            "upstream {} sent more than [state] max-fetch-size = {} in one fetch; the fetch \
             was aborted (raise max-fetch-size if the repository really is that large)",
            redact_url(url),
            crate::config::format_size(limits.max_bytes)
        );
    }
    downloaded.with_context(|| format!("fetching from upstream {}", redact_url(url)))?;
    remote.disconnect().ok();
    remote
        .update_tips(
            None,
            git2::RemoteUpdateFlags::UPDATE_FETCHHEAD,
            git2::AutotagOption::None,
            None,
        )
        .context("updating cache refs")?;
    Ok(Outcome::Downloaded { head, advertised })
}

/// `auto`: libgit2 reads `http.proxy` from git config, then the proxy environment variables.
fn proxy_options() -> git2::ProxyOptions<'static> {
    let mut proxy = git2::ProxyOptions::new();
    proxy.auto();
    proxy
}

/// The ref names the upstream advertises (peeled `^{}` entries left out).
fn advertised_refs(conn: &git2::RemoteConnection<'_, '_, '_>) -> anyhow::Result<HashSet<String>> {
    Ok(conn
        .list()
        .context("reading the upstream's ref advertisement")?
        .iter()
        .map(|h| h.name())
        .filter(|n| !n.ends_with("^{}"))
        .map(str::to_string)
        .collect())
}

/// Delete the cache's tags and remote branches the upstream no longer advertises. libgit2
/// prunes only inside `git_remote_fetch`, not after `download` + `update_tips` as used here, so
/// without this a tag deleted upstream stayed in the cache for good: still offered as a release,
/// and (the cache never matching the advertisement again) every later run fetched. The tag
/// history in the state remembers what a deleted tag pointed at.
fn prune_gone(repo: &Repository, advertised: &HashSet<String>) -> anyhow::Result<()> {
    let mut gone = Vec::new();
    for r in repo.references()? {
        let Ok(r) = r else { continue };
        let Ok(name) = r.name() else { continue };
        let upstream_name = if name.starts_with("refs/tags/") {
            name.to_string()
        } else if let Some(branch) = name.strip_prefix("refs/remotes/origin/") {
            format!("refs/heads/{branch}")
        } else {
            continue;
        };
        if !advertised.contains(&upstream_name) {
            gone.push(name.to_string());
        }
    }
    for name in gone {
        tracing::debug!(reference = %name, "no longer advertised upstream; pruned from the cache");
        repo.find_reference(&name)
            .and_then(|mut r| r.delete())
            .with_context(|| format!("pruning {name} from the cache"))?;
    }
    Ok(())
}

/// Refuse an upstream that advertises more tags than `max`, before anything is downloaded: each
/// tag costs a ref in the cache and a row in the tag history, on every full run.
fn check_tag_count(conn: &git2::RemoteConnection<'_, '_, '_>, max: usize) -> anyhow::Result<()> {
    let tags = conn
        .list()
        .context("reading the upstream's ref advertisement")?
        .iter()
        .filter(|h| h.name().starts_with("refs/tags/") && !h.name().ends_with("^{}"))
        .count();
    if tags > max {
        anyhow::bail!(
            "the upstream advertises {tags} tags, more than [state] max-tags = {max}; nothing \
             was fetched (raise max-tags if this upstream really has that many tags)"
        );
    }
    Ok(())
}

/// Every tag of the repository peeled to a commit. Tags that point at a tree or blob are
/// skipped (with a debug line): they cannot be a release to rebuild.
pub fn list_tags(repo: &Repository) -> anyhow::Result<Vec<TagRef>> {
    let mut out = Vec::new();
    for r in repo.references_glob("refs/tags/*")? {
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "skipping unreadable tag");
                continue;
            }
        };
        let Some(name) = r
            .name()
            .ok()
            .and_then(|n| n.strip_prefix("refs/tags/"))
            .map(str::to_string)
        else {
            tracing::debug!("skipping tag with a non-UTF-8 name");
            continue;
        };
        match r.peel_to_commit() {
            Ok(c) => out.push(TagRef {
                name,
                commit: c.id().to_string(),
                date: chrono::DateTime::from_timestamp(c.time().seconds(), 0)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            }),
            Err(e) => {
                tracing::debug!(tag = %name, error = %e, "skipping tag that does not point at a commit")
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The version a tag name stands for under the server's release rules, if it is a release tag.
pub fn tag_version(tag: &str, rules: &ReleaseConfig) -> Option<Version> {
    if rules.include.as_ref().is_some_and(|re| !re.is_match(tag))
        || rules.exclude.as_ref().is_some_and(|re| re.is_match(tag))
    {
        return None;
    }
    let caps = rules.tag_pattern.captures(tag)?;
    let raw = caps.name("version").or_else(|| caps.get(1))?.as_str();
    Version::parse(rules.scheme, raw)
}

/// Release tags sorted by version, oldest first; prereleases dropped unless allowed.
/// Tags that do not parse are skipped with a debug line, never an error.
pub fn select_releases(tags: &[TagRef], rules: &ReleaseConfig) -> Vec<Release> {
    let mut out: Vec<Release> = tags
        .iter()
        .filter_map(|t| {
            let Some(v) = tag_version(&t.name, rules) else {
                tracing::debug!(tag = %t.name, "tag is not a release under the tag pattern; skipped");
                return None;
            };
            if v.is_prerelease() && !rules.prerelease {
                return None;
            }
            Some(Release {
                version: v.as_str().to_string(),
                tag: t.name.clone(),
                commit: t.commit.clone(),
                date: t.date.clone(),
                prerelease: v.is_prerelease(),
                parsed: v,
            })
        })
        .collect();
    // Stable order for equal versions (v1.0 and 1.0.0): by tag name, so the choice is repeatable.
    out.sort_by(|a, b| a.parsed.cmp(&b.parsed).then_with(|| a.tag.cmp(&b.tag)));
    out
}

#[cfg(test)]
mod tests {

    /// A bare-free upstream on disk with one commit on `main`, tagged with each of `tags`.
    fn upstream_with(dir: &Path, tags: &[&str]) -> Repository {
        let repo = Repository::init(dir).unwrap();
        let sig = git2::Signature::now("up", "up@example.com").unwrap();
        let tree = {
            let mut index = repo.index().unwrap();
            let id = index.write_tree().unwrap();
            repo.find_tree(id).unwrap()
        };
        let commit = repo
            .commit(Some("refs/heads/main"), &sig, &sig, "first", &tree, &[])
            .unwrap();
        let object = repo.find_object(commit, None).unwrap();
        for t in tags {
            repo.tag_lightweight(t, &object, false).unwrap();
        }
        drop(tree);
        drop(object);
        repo
    }

    #[test]
    fn a_fetch_with_nothing_new_upstream_downloads_nothing_and_sees_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let up = upstream_with(&dir.path().join("up"), &["v1.0.0"]);
        up.set_head("refs/heads/main").unwrap();
        let sig = git2::Signature::now("up", "up@example.com").unwrap();
        let annotate = |name: &str, force: bool| {
            let head = up.head().unwrap().peel_to_commit().unwrap();
            up.tag(name, head.as_object(), &sig, name, force).unwrap();
        };
        let commit_on_main = || {
            let parent = up.head().unwrap().peel_to_commit().unwrap();
            let tree = parent.tree().unwrap();
            up.commit(Some("HEAD"), &sig, &sig, "next", &tree, &[&parent])
                .unwrap()
        };
        annotate("v1.1.0", false);
        let url = dir.path().join("up").display().to_string();
        let cache = Cache::new(dir.path().join("cache"));
        let fetch_head = cache.path_for("s").join("FETCH_HEAD");
        let seen = |f: &Fetched| {
            let tags: Vec<_> = f
                .tags
                .iter()
                .map(|t| (t.name.clone(), t.commit.clone()))
                .collect();
            (tags, f.default_branch.clone())
        };
        let first = cache.fetch("s", &url).unwrap();
        assert!(fetch_head.exists(), "the first fetch downloads");
        std::fs::remove_file(&fetch_head).unwrap();

        // Nothing new: the clone is read as it is and nothing is downloaded or written.
        let again = cache.fetch("s", &url).unwrap();
        assert_eq!(seen(&again), seen(&first));
        assert!(
            !fetch_head.exists(),
            "nothing new upstream, nothing downloaded"
        );

        // Each change is fetched: a new annotated tag, a moved tag, a new commit on HEAD.
        let moved = commit_on_main();
        annotate("v1.2.0", false);
        let after = cache.fetch("s", &url).unwrap();
        assert!(fetch_head.exists());
        assert_eq!(after.default_branch.as_ref().map(|b| b.1), Some(moved));
        assert!(
            after
                .tags
                .iter()
                .any(|t| t.name == "v1.2.0" && t.commit == moved.to_string())
        );
        std::fs::remove_file(&fetch_head).unwrap();
        let moved_again = commit_on_main();
        annotate("v1.1.0", true);
        let last = cache.fetch("s", &url).unwrap();
        assert!(fetch_head.exists());
        let v110 = last.tags.iter().find(|t| t.name == "v1.1.0").unwrap();
        assert_eq!(v110.commit, moved_again.to_string());
        assert_eq!(last.default_branch.map(|b| b.1), Some(moved_again));
    }

    #[test]
    fn tags_and_branches_deleted_upstream_leave_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let up = upstream_with(&dir.path().join("up"), &["v1.0.0", "v1.1.0"]);
        let head = up.refname_to_id("refs/heads/main").unwrap();
        up.branch("topic", &up.find_commit(head).unwrap(), false)
            .unwrap();
        let url = dir.path().join("up").display().to_string();
        let cache = Cache::new(dir.path().join("cache"));
        let names = |f: &Fetched| f.tags.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        let first = cache.fetch("s", &url).unwrap();
        assert_eq!(names(&first), ["v1.0.0", "v1.1.0"]);
        assert!(
            first
                .repo
                .find_reference("refs/remotes/origin/topic")
                .is_ok()
        );

        up.find_reference("refs/tags/v1.1.0")
            .unwrap()
            .delete()
            .unwrap();
        up.find_reference("refs/heads/topic")
            .unwrap()
            .delete()
            .unwrap();
        let second = cache.fetch("s", &url).unwrap();
        assert_eq!(names(&second), ["v1.0.0"]);
        assert!(
            second
                .repo
                .find_reference("refs/remotes/origin/topic")
                .is_err()
        );
        assert!(
            second
                .repo
                .find_reference("refs/remotes/origin/main")
                .is_ok()
        );
    }
    use super::*;
    use crate::upstream::version::VersionScheme;

    fn rules(pattern: &str) -> ReleaseConfig {
        ReleaseConfig {
            channel: crate::config::Channel::GitTags,
            tag_pattern: regex::Regex::new(pattern).unwrap(),
            prerelease: false,
            scheme: VersionScheme::Semver,
            include: None,
            exclude: None,
            cooldown: std::time::Duration::ZERO,
            security: Vec::new(),
            verify: Vec::new(),
        }
    }

    fn tag(name: &str) -> TagRef {
        TagRef {
            name: name.into(),
            commit: "c".into(),
            date: None,
        }
    }

    #[test]
    fn releases_are_ordered_by_version_not_name() {
        let tags = [
            tag("v1.10.0"),
            tag("v1.9.0"),
            tag("v2.0.0-rc.1"),
            tag("nightly"),
            tag("v1.2.3; rm -rf /"),
        ];
        let r = select_releases(&tags, &rules(r"^v(.+)$"));
        assert_eq!(
            r.iter().map(|r| r.tag.as_str()).collect::<Vec<_>>(),
            ["v1.9.0", "v1.10.0"]
        );
        let mut with_pre = rules(r"^v(.+)$");
        with_pre.prerelease = true;
        assert_eq!(
            select_releases(&tags, &with_pre).last().unwrap().tag,
            "v2.0.0-rc.1"
        );
    }

    #[test]
    fn include_and_exclude_filter_tag_names() {
        let mut r = rules(r"^(?:server-)?v(.+)$");
        r.exclude = Some(regex::Regex::new("^server-").unwrap());
        let got = select_releases(&[tag("server-v3.0.0"), tag("v1.0.0")], &r);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].version, "1.0.0");
    }
}
