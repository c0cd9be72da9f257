//! The quiet path: a run whose upstream answers exactly as at the server's last full check.
//!
//! Everything upkeep decides follows from four things: the server's config, the release tags
//! (name → commit), what the release channels publish, and what the mirror and the forge hold.
//! The first three are known after one ref advertisement and the channels' conditional requests;
//! their hash is the server's *quiet key*. When it equals the key of the last full check, the run
//! skips the mirror, the forge, the license scan and the diff: they would find the same answer.
//! The forge's side (a PR merged, closed or pushed to by a person) is read by a full check at
//! least every `[schedule] recheck`. Local decisions (`license approve`, `tag accept`) forget the
//! mark, and time-dependent outcomes (a release in its cooldown) never set one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use crate::config::{Channel, ServerConfig};
use crate::store::QuietMark;
use crate::upstream::channels::Lookup;

/// Bump when a change to upkeep's decisions must redo every server's full check. The crate
/// version is in the key too, so an upgrade always does.
const KEY_VERSION: &str = "1";

/// The quiet key of a server now, or `None` when a channel lookup failed (a failure is always
/// reported by a full check, never skipped).
pub fn key(
    server: &ServerConfig,
    release_tags: &[(String, String)],
    lookups: &[(Channel, Result<Lookup, String>)],
) -> Option<String> {
    let mut h = Sha256::new();
    for part in [KEY_VERSION, env!("CARGO_PKG_VERSION")] {
        field(&mut h, part.as_bytes());
    }
    // The whole server config (its Debug form has no secrets: only the names of their env vars
    // and files), so a changed pattern, policy or mirror redoes the check.
    field(&mut h, format!("{server:?}").as_bytes());
    let mut tags: Vec<&(String, String)> = release_tags.iter().collect();
    tags.sort();
    for (tag, commit) in tags {
        field(&mut h, tag.as_bytes());
        field(&mut h, commit.as_bytes());
    }
    for (channel, result) in lookups {
        let found = result.as_ref().ok()?;
        field(&mut h, channel.name().as_bytes());
        field(&mut h, &serde_json::to_vec(&found.releases).ok()?);
    }
    Some(hex::encode(h.finalize()))
}

/// Length-prefixed, so ("ab", "c") and ("a", "bc") hash apart.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// Whether this run may take the quiet path: the mark matches and the last full check is
/// younger than `recheck` (zero turns the quiet path off).
pub fn may_skip(
    mark: Option<&QuietMark>,
    key: &str,
    now: DateTime<Utc>,
    recheck: Duration,
) -> bool {
    let Some(mark) = mark else {
        return false;
    };
    if recheck.is_zero() || mark.key != key {
        return false;
    }
    // A mark from the future (a clock set back) is not trusted.
    now.signed_duration_since(mark.checked_at)
        .to_std()
        .is_ok_and(|age| age < recheck)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::channels::ChannelRelease;

    fn server(pattern: &str) -> ServerConfig {
        let src = format!(
            r#"
[[servers]]
name = "s"
upstream = "https://example.com/s.git"
owners = ["o@example.com"]
release = {{ tag-pattern = "{pattern}" }}
[servers.mirror]
forge = "local"
repo = "var/mirrors/s.git"
base = "main"
pin-file = "pin.yml"
pin-format = "azure-pipelines"
"#
        );
        crate::config::parse(std::path::Path::new("t.toml"), &src)
            .expect("valid config")
            .servers
            .remove(0)
    }

    fn tags(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(t, c)| ((*t).to_string(), (*c).to_string()))
            .collect()
    }

    fn lookup(versions: &[&str]) -> Lookup {
        Lookup {
            releases: versions
                .iter()
                .map(|v| ChannelRelease {
                    version: (*v).to_string(),
                    tag: None,
                    published_at: None,
                    prerelease: false,
                    notes: None,
                    url: None,
                })
                .collect(),
            not_modified: false,
        }
    }

    #[test]
    fn the_key_moves_with_tags_config_and_channels_only() {
        let s = server("^v(.+)$");
        let t = tags(&[("v1.0.0", "aaa"), ("v1.1.0", "bbb")]);
        let base = key(&s, &t, &[]).unwrap();
        // Deterministic, and the order tags were listed in does not matter.
        let mut reversed = t.clone();
        reversed.reverse();
        assert_eq!(key(&s, &reversed, &[]).unwrap(), base);
        // A new tag, a moved tag, another config: another key.
        let mut more = t.clone();
        more.push(("v1.2.0".into(), "ccc".into()));
        assert_ne!(key(&s, &more, &[]).unwrap(), base);
        assert_ne!(
            key(&s, &tags(&[("v1.0.0", "aaa"), ("v1.1.0", "ddd")]), &[]).unwrap(),
            base
        );
        assert_ne!(key(&server("^release-(.+)$"), &t, &[]).unwrap(), base);
        // A channel answer is part of it; a 304 that replays the same answer is not a change.
        let npm = key(&s, &t, &[(Channel::Npm, Ok(lookup(&["1.1.0"])))]).unwrap();
        assert_ne!(npm, base);
        let mut cached = lookup(&["1.1.0"]);
        cached.not_modified = true;
        assert_eq!(key(&s, &t, &[(Channel::Npm, Ok(cached))]).unwrap(), npm);
        assert_ne!(
            key(&s, &t, &[(Channel::Npm, Ok(lookup(&["1.1.0", "1.2.0"])))]).unwrap(),
            npm
        );
    }

    #[test]
    fn a_failed_lookup_has_no_key() {
        let s = server("^v(.+)$");
        assert_eq!(key(&s, &[], &[(Channel::Pypi, Err("down".into()))]), None);
    }

    #[test]
    fn the_quiet_path_needs_a_matching_young_mark() {
        let now = chrono::Utc::now();
        let day = Duration::from_secs(86_400);
        let mark = |key: &str, hours_ago: i64| QuietMark {
            key: key.into(),
            checked_at: now - chrono::Duration::hours(hours_ago),
        };
        assert!(may_skip(Some(&mark("k", 1)), "k", now, day));
        assert!(!may_skip(None, "k", now, day));
        assert!(!may_skip(Some(&mark("other", 1)), "k", now, day));
        assert!(!may_skip(Some(&mark("k", 25)), "k", now, day));
        assert!(!may_skip(Some(&mark("k", -2)), "k", now, day));
        assert!(!may_skip(Some(&mark("k", 1)), "k", now, Duration::ZERO));
    }
}
