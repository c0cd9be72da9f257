//! Stage `quiet`: a run whose upstream answers exactly as at the server's last full check is
//! answered from the state.
//!
//! Everything upkeep decides follows from four things: the server's config, the release tags
//! (name → commit), what the release channels publish and hold back (deprecated, yanked,
//! deleted, above the dist-tag), and what the mirror and the forge hold.
//! The first three are known after one ref advertisement and the channels' conditional requests;
//! their hash is the server's *quiet key*. When it equals the key of the last full check, the run
//! skips the mirror, the PR's branch, the license scan and the diff: they would find the same
//! answer. What people do on the forge that needs no upstream change is still read on the quiet
//! path: the open PR's comments (stage `commands`, before this one), whether the open PR is
//! still open (one conditional read, [`crate::forge::Forge::pr_state`]: a PR merged or closed
//! since ends the replay, and the full check records it as it records any merge or decline), and
//! an open PR's pipeline results (`pipeline::checks`). The rest of the forge's side (a person's
//! push to the PR's branch, an edited title) is read by a full check at least every
//! `[schedule] recheck`. Local decisions
//! (`license approve`, `tag accept`) forget the mark, and time-dependent outcomes (a release in its cooldown, a tag the registry lacks while
//! the tag is inside the cooldown) never set one. A stable cross-check finding does not stop the
//! quiet path: the same tags and registry answer give the same findings at any later time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use super::fetch::Upstream;
use super::releases::Releases;
use crate::config::{Channel, ServerConfig};
use crate::forge::{Forge, PrSeen, PrState};
use crate::pipeline::state_cache::StoreCache;
use crate::pipeline::{ServerRun, now_str};
use crate::report::{Latest, Pinned, Status};
use crate::store::{PrRecord, QuietMark, Store};
use crate::upstream::channels::Observation;

/// Bump when a change to upkeep's decisions must redo every server's full check. The crate
/// version is in the key too, so an upgrade always does.
const KEY_VERSION: &str = "1";

/// The quiet key of a server now, or `None` when a channel lookup failed (a failure is always
/// reported by a full check, never skipped). Each channel's offered and withheld versions are
/// in it, so a newly deprecated or yanked version ends the quiet replay once; notices are not
/// (a rate-limit budget changes on every answer).
pub fn key(
    server: &ServerConfig,
    release_tags: &[(String, String)],
    lookups: &[(Channel, Result<Observation, String>)],
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
        field(&mut h, &serde_json::to_vec(&found.lookup.releases).ok()?);
        field(&mut h, &serde_json::to_vec(&found.withheld).ok()?);
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

/// The quiet key of this run, or `None` when this run's answer may not be replayed later: a
/// release in its cooldown, or a tag a cross-checked registry lacks while the tag is still
/// inside the cooldown, changes with time alone. Findings do not: each is stable.
pub fn key_now(upstream: &Upstream, releases: &Releases, server: &ServerConfig) -> Option<String> {
    key(server, &upstream.release_tags, &releases.lookups)
        .filter(|_| releases.waiting.is_empty() && !releases.cross_check_pending)
}

/// A quiet run: the forge it made to read the open rebuild PR (None without an open PR, or when
/// the forge could not be set up), for the PR's checks next.
pub struct Quiet {
    pub forge: Option<Box<dyn Forge>>,
}

/// Answer from the state when the server's quiet mark matches `key` (never in a dry run or a
/// `--full` one): what the last full check found still stands, unless the open rebuild PR was
/// merged or closed since. Returns None (do the full check) when there is nothing to replay.
pub fn replay(run: &mut ServerRun<'_>, key: Option<&str>) -> anyhow::Result<Option<Quiet>> {
    let Some(key) = key else {
        return Ok(None);
    };
    if run.mode.dry_run || run.mode.full {
        return Ok(None);
    }
    let store = &run.deps.store;
    let name = &run.server.name;
    let mark = store.quiet_mark(name)?;
    let recheck = run.deps.config.schedule.recheck;
    if !may_skip(mark.as_ref(), key, chrono::Utc::now(), recheck) {
        return Ok(None);
    }
    let Some(mut state) = store.server_state(name)? else {
        return Ok(None);
    };
    let Some(status) = state.last_status.as_deref().and_then(Status::parse) else {
        return Ok(None);
    };
    if status == Status::Failed {
        return Ok(None);
    }
    let since = mark.map(|m| {
        m.checked_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    });
    let open = store.open_pr(name)?;
    let (forge, unread) = match open.as_ref().map(|pr| on_forge(run, pr)) {
        None => (None, None),
        Some(OnForge::Open(forge)) => (Some(forge), None),
        Some(OnForge::Ended(seen)) => {
            let url = open.as_ref().and_then(|p| p.url.as_deref());
            run.report.notes.push(format!(
                "the rebuild PR {} {} since the full check at {}: checked in full",
                url.unwrap_or("?"),
                ended_words(seen.as_ref()),
                since.as_deref().unwrap_or("?"),
            ));
            return Ok(None);
        }
        Some(OnForge::Unread(forge, why)) => (forge, Some(why)),
    };
    tracing::info!(since = ?since, "upstream unchanged since the last full check; mirror and PR branch not read");
    let report = &mut run.report;
    // Nothing was opened or updated this time: an open PR reads as `pr-open`, as in a full
    // check that finds it unchanged.
    report.status = match status {
        Status::PrOpened | Status::PrUpdated => Status::PrOpen,
        other => other,
    };
    report.pinned = state.pinned_ref.clone().map(|git_ref| Pinned {
        git_ref,
        commit: state.pinned_commit.clone(),
    });
    report.latest = match (
        &state.latest_version,
        &state.latest_tag,
        &state.latest_commit,
    ) {
        (Some(version), Some(tag), Some(commit)) => Some(Latest {
            version: version.clone(),
            tag: tag.clone(),
            commit: commit.clone(),
            date: None,
        }),
        _ => None,
    };
    report.hold_reason.clone_from(&state.hold_reason);
    report.unchanged_since.clone_from(&since);
    report.notes.push(format!(
        "upstream unchanged since the full check at {}{}; the mirror and the PR's branch were not \
         read (a full check runs at least every {}, or now with `sync --now --full`)",
        since.as_deref().unwrap_or("?"),
        open.as_ref()
            .and_then(|p| p.url.as_deref())
            .map(|u| format!(" (rebuild PR open: {u})"))
            .unwrap_or_default(),
        humantime::format_duration(recheck)
    ));
    if let Some(why) = unread {
        report.notes.push(format!(
            "whether the rebuild PR is still open could not be read ({why}); the last full \
             check stands"
        ));
    }
    state.last_run_id = Some(run.run_id);
    state.last_run_at = Some(now_str());
    state.last_success_at.clone_from(&state.last_run_at);
    state.last_error = None;
    state.consecutive_failures = 0;
    store.transaction(|tx| Store::put_server_state(tx, &state))?;
    Ok(Some(Quiet { forge }))
}

/// What the forge says of the state's open rebuild PR.
enum OnForge {
    /// Still open: the replay stands.
    Open(Box<dyn Forge>),
    /// Merged or closed (or gone: None) since the last full check.
    Ended(Option<PrSeen>),
    /// The forge could not say (why): the replay stands, and says so.
    Unread(Option<Box<dyn Forge>>, String),
}

/// Read whether `pr` is still open: one read, conditional through the state's HTTP cache (a
/// `304` on GitHub while nothing changed). A PR without a forge id (a crash before its record
/// was complete) is left to the next full check.
fn on_forge(run: &ServerRun<'_>, pr: &PrRecord) -> OnForge {
    let forge = match (run.deps.forges)(run.server) {
        Ok(forge) => forge,
        Err(e) => return OnForge::Unread(None, format!("{e:#}")),
    };
    let Some(id) = pr.forge_id.as_deref() else {
        return OnForge::Open(forge);
    };
    let cache = StoreCache::of_pr(&run.deps.store, true, &run.server.name);
    let read = tracing::info_span!("pr_state", pr = %id).in_scope(|| forge.pr_state(id, &cache));
    match read {
        Ok(Some(seen)) if seen.state == PrState::Open => OnForge::Open(forge),
        Ok(seen) => {
            tracing::info!(state = ?seen.as_ref().map(|s| s.state), "the rebuild PR is no longer open; checking in full");
            OnForge::Ended(seen)
        }
        Err(e) => {
            let why = format!("{e:#}");
            tracing::warn!(error = %why, "could not read whether the rebuild PR is still open");
            OnForge::Unread(Some(forge), why)
        }
    }
}

fn ended_words(seen: Option<&PrSeen>) -> &'static str {
    match seen.map(|s| s.state) {
        Some(PrState::Merged) => "was merged",
        Some(PrState::Closed) => "was closed without merge",
        Some(PrState::Open) | None => "is no longer on the mirror",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::channels::{
        ChannelRelease, Lookup, Notice, NoticeKind, Withheld, WithheldReason,
    };

    fn server(pattern: &str) -> ServerConfig {
        super::super::test_server(&format!("release = {{ tag-pattern = \"{pattern}\" }}"))
    }

    fn tags(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(t, c)| ((*t).to_string(), (*c).to_string()))
            .collect()
    }

    fn lookup(versions: &[&str]) -> Observation {
        Observation {
            lookup: Lookup {
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
            },
            withheld: Vec::new(),
            notices: Vec::new(),
            rate_limit: None,
        }
    }

    fn withholding(mut o: Observation, version: &str, reason: WithheldReason) -> Observation {
        o.withheld.push(Withheld {
            version: version.into(),
            reason,
            detail: None,
            published_at: None,
            prerelease: false,
        });
        o
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
        cached.lookup.not_modified = true;
        assert_eq!(key(&s, &t, &[(Channel::Npm, Ok(cached))]).unwrap(), npm);
        assert_ne!(
            key(&s, &t, &[(Channel::Npm, Ok(lookup(&["1.1.0", "1.2.0"])))]).unwrap(),
            npm
        );
    }

    #[test]
    fn a_newly_withheld_version_moves_the_key_and_a_notice_does_not() {
        let s = server("^v(.+)$");
        let t = tags(&[("v1.0.0", "aaa"), ("v1.1.0", "bbb")]);
        let npm = |o: Observation| key(&s, &t, &[(Channel::Npm, Ok(o))]).unwrap();
        let plain = npm(lookup(&["1.0.0"]));
        // 1.1.0 deprecated (npm deprecate), yanked on PyPI, or published above `latest`: each
        // is a new answer, so the quiet replay ends once.
        let deprecated = npm(withholding(
            lookup(&["1.0.0"]),
            "1.1.0",
            WithheldReason::Deprecated,
        ));
        assert_ne!(deprecated, plain);
        let yanked = npm(withholding(
            lookup(&["1.0.0"]),
            "1.1.0",
            WithheldReason::Yanked,
        ));
        assert_ne!(yanked, plain);
        assert_ne!(yanked, deprecated);
        assert_ne!(
            npm(withholding(
                lookup(&["1.0.0"]),
                "1.1.0",
                WithheldReason::AboveDistTag
            )),
            plain
        );
        // The same answer again (a 304 replaying the cache) is the same key: quiet from then on.
        let mut again = withholding(lookup(&["1.0.0"]), "1.1.0", WithheldReason::Deprecated);
        again.lookup.not_modified = true;
        assert_eq!(npm(again), deprecated);
        // Notices change with every answer (a rate-limit budget) and are not part of it.
        let mut noticed = lookup(&["1.0.0"]);
        noticed.notices.push(Notice {
            channel: "npm".into(),
            kind: NoticeKind::RateLimitLow,
            detail: "npm: 5 of 60 requests left".into(),
        });
        assert_eq!(npm(noticed), plain);
        // A version moving from offered to withheld is a change too, not the same set of names.
        assert_ne!(
            npm(withholding(
                lookup(&[]),
                "1.0.0",
                WithheldReason::Deprecated
            )),
            npm(lookup(&["1.0.0"]))
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
