//! Whether a server's cache clone already holds what its upstream advertises now, so the run
//! can skip the libgit2 fetch (and, over HTTPS, its connection) and read the clone as it is.
//! The advertisement comes from the smart-HTTP lister ([`Cache::open_if_current`]) or, for
//! every other transport, from libgit2's own connection before it downloads anything
//! ([`advertisement_of`], used by the fetch itself).
//!
//! The comparison ([`differences`]) is pure: the advertised tags (each ref's own object, the
//! tag object of an annotated tag) against the clone's `refs/tags/*`, and the advertised HEAD
//! branch and commit against the clone's `refs/remotes/origin/<branch>`. Anything else (a tag
//! added, moved or deleted, HEAD on another branch or commit) means the fetch runs as before,
//! so the clone, the tags and the default branch a stage sees are what a fetch would give.

use std::collections::BTreeMap;

use git2::{Oid, Repository};

use super::smart_http::{AdvertisedHead, AdvertisedTag, Advertisement, Protocol};
use super::{Cache, Fetched, TagRef, list_tags};

/// What the clone holds of the refs an advertisement lists.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CloneRefs {
    /// `refs/tags/<name>` → the object the ref names (not peeled).
    pub tags: BTreeMap<String, String>,
    /// The commit of `refs/remotes/origin/<branch>` for the advertised HEAD branch, if any.
    pub head_branch: Option<String>,
}

/// Why the clone is behind the advertisement: empty when it is current. The first few reasons
/// only, for a debug line.
pub fn differences(ad: &Advertisement, clone: &CloneRefs) -> Vec<String> {
    let mut out = Vec::new();
    let advertised: BTreeMap<&str, &str> = ad
        .tags
        .iter()
        .map(|t| (t.name.as_str(), t.oid.as_str()))
        .collect();
    for (name, oid) in &advertised {
        match clone.tags.get(*name) {
            None => out.push(format!("tag {name} is new")),
            Some(have) if have != oid => out.push(format!("tag {name} moved")),
            Some(_) => {}
        }
    }
    for name in clone.tags.keys() {
        if !advertised.contains_key(name.as_str()) {
            out.push(format!("tag {name} was deleted"));
        }
    }
    if let Some((branch, oid)) = ad.default_branch()
        && clone.head_branch.as_deref() != Some(oid.as_str())
    {
        out.push(format!("HEAD ({branch}) moved"));
    }
    out.truncate(5);
    out
}

impl Cache {
    /// The server's clone as a fetch would leave it, when it already holds every ref `ad`
    /// lists; `None` when there is no clone, it cannot be read, or it is behind (then fetch).
    pub fn open_if_current(&self, server: &str, ad: &Advertisement) -> Option<Fetched> {
        let path = self.path_for(server);
        if !path.is_dir() {
            return None;
        }
        let repo = Repository::open_bare(&path)
            .inspect_err(
                |e| tracing::debug!(server, error = %e, "cache clone not readable; fetching"),
            )
            .ok()?;
        let (tags, default_branch) = holds(&repo, ad)?;
        Some(Fetched {
            repo,
            tags,
            default_branch,
            cloned: false,
        })
    }
}

/// A clone's tags and its default branch with the branch's commit, as `Fetched` has them.
pub(super) type Held = (Vec<TagRef>, Option<(String, Oid)>);

/// The clone's tags and default branch, as a fetch would leave them, when `repo` already holds
/// every ref `ad` lists; `None` when it is behind or cannot be read (then fetch).
pub(super) fn holds(repo: &Repository, ad: &Advertisement) -> Option<Held> {
    let branch = ad.default_branch().map(|(short, _)| short);
    let refs = clone_refs(repo, branch.as_deref())
        .inspect_err(
            |e| tracing::debug!(error = %format!("{e:#}"), "cache refs not readable; fetching"),
        )
        .ok()?;
    let behind = differences(ad, &refs);
    if !behind.is_empty() {
        tracing::debug!(?behind, "upstream advertises changes; fetching");
        return None;
    }
    let default_branch = match (branch, refs.head_branch.as_deref()) {
        (Some(short), Some(oid)) => Some((short, Oid::from_str(oid).ok()?)),
        _ => None,
    };
    let tags = list_tags(repo).ok()?;
    Some((tags, default_branch))
}

/// What libgit2 read of the upstream's refs on an open connection, in the lister's terms: the
/// tags (with the `^{}` peeled object where listed) and HEAD with its branch (the `symref`
/// capability). `None` when a tag name is not a valid ref name: the fetch decides about it.
/// libgit2 speaks protocol v0 on git://, ssh:// and local upstreams.
pub(super) fn advertisement_of(heads: &[git2::RemoteHead<'_>]) -> Option<Advertisement> {
    let mut tags: BTreeMap<String, AdvertisedTag> = BTreeMap::new();
    let mut peeled: BTreeMap<&str, String> = BTreeMap::new();
    let mut head = None;
    for h in heads {
        let name = h.name();
        if name == "HEAD" {
            head = Some(AdvertisedHead {
                oid: h.oid().to_string(),
                target: h.symref_target().map(str::to_string),
            });
        } else if let Some(tag) = name.strip_prefix("refs/tags/") {
            if let Some(base) = tag.strip_suffix("^{}") {
                peeled.insert(base, h.oid().to_string());
            } else if git2::Reference::is_valid_name(name) {
                let oid = h.oid().to_string();
                let t = AdvertisedTag {
                    name: tag.to_string(),
                    oid,
                    peeled: None,
                };
                tags.insert(tag.to_string(), t);
            } else {
                return None;
            }
        }
    }
    for (name, object) in peeled {
        if let Some(t) = tags.get_mut(name) {
            t.peeled = Some(object);
        }
    }
    Some(Advertisement {
        protocol: Protocol::V0,
        tags: tags.into_values().collect(),
        head,
        skipped_tags: 0,
    })
}

/// The clone's tags and the commit of its copy of `branch`.
fn clone_refs(repo: &Repository, branch: Option<&str>) -> anyhow::Result<CloneRefs> {
    let mut tags = BTreeMap::new();
    for r in repo.references_glob("refs/tags/*")? {
        let r = r?;
        let (Some(name), Some(oid)) = (
            r.name().ok().and_then(|n| n.strip_prefix("refs/tags/")),
            r.target(),
        ) else {
            // A symbolic or non-UTF-8 tag ref: the advertisement cannot match it; fetch.
            anyhow::bail!("an unusual tag ref in the clone");
        };
        tags.insert(name.to_string(), oid.to_string());
    }
    let head_branch = branch.and_then(|b| {
        repo.refname_to_id(&format!("refs/remotes/origin/{b}"))
            .ok()
            .map(|oid| oid.to_string())
    });
    Ok(CloneRefs { tags, head_branch })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::smart_http::{AdvertisedHead, AdvertisedTag, Protocol};

    fn ad(tags: &[(&str, &str)], head: Option<(&str, &str)>) -> Advertisement {
        Advertisement {
            protocol: Protocol::V2,
            tags: tags
                .iter()
                .map(|(n, o)| AdvertisedTag {
                    name: (*n).into(),
                    oid: (*o).into(),
                    peeled: Some("c".into()),
                })
                .collect(),
            head: head.map(|(target, oid)| AdvertisedHead {
                oid: oid.into(),
                target: Some(target.into()),
            }),
            skipped_tags: 0,
        }
    }

    fn clone(tags: &[(&str, &str)], head: Option<&str>) -> CloneRefs {
        CloneRefs {
            tags: tags
                .iter()
                .map(|(n, o)| ((*n).to_string(), (*o).to_string()))
                .collect(),
            head_branch: head.map(str::to_string),
        }
    }

    #[test]
    fn the_same_refs_are_current() {
        let a = ad(
            &[("v1", "a1"), ("v2", "a2")],
            Some(("refs/heads/main", "h")),
        );
        assert!(differences(&a, &clone(&[("v2", "a2"), ("v1", "a1")], Some("h"))).is_empty());
    }

    #[test]
    fn a_new_moved_or_deleted_tag_is_a_change() {
        let have = clone(&[("v1", "a1"), ("v2", "a2")], None);
        let new = ad(&[("v1", "a1"), ("v2", "a2"), ("v3", "a3")], None);
        assert_eq!(differences(&new, &have), ["tag v3 is new"]);
        let moved = ad(&[("v1", "a1"), ("v2", "b2")], None);
        assert_eq!(differences(&moved, &have), ["tag v2 moved"]);
        let deleted = ad(&[("v1", "a1")], None);
        assert_eq!(differences(&deleted, &have), ["tag v2 was deleted"]);
    }

    #[test]
    fn head_on_a_new_commit_or_an_unknown_branch_is_a_change() {
        let have = clone(&[], Some("h1"));
        assert_eq!(
            differences(&ad(&[], Some(("refs/heads/main", "h2"))), &have),
            ["HEAD (main) moved"]
        );
        // The branch is not in the clone at all.
        assert_eq!(
            differences(&ad(&[], Some(("refs/heads/dev", "h1"))), &clone(&[], None)),
            ["HEAD (dev) moved"]
        );
        // A HEAD without a branch is not compared: the fetch would not name one either.
        assert!(differences(&ad(&[], None), &clone(&[], Some("x"))).is_empty());
    }

    #[test]
    fn only_a_few_reasons_are_kept() {
        let many: Vec<(String, String)> = (0..50).map(|i| (format!("v{i}"), "o".into())).collect();
        let refs: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            differences(&ad(&refs, None), &CloneRefs::default()).len(),
            5
        );
    }
}
