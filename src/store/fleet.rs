//! Store queries for the fleet at a glance: what each server's last full check saw of the
//! releases newer than its pin (`fleet_behind`), when rebuild PRs were merged (`pr_merges`, the
//! lead time), and the pipeline's answer on an open PR's head commit (`pr_checks`). The store
//! fills [`FreshnessView`] from these and the older tables (server state, reviews, PR records);
//! `crate::freshness` decides from it.

use chrono::{DateTime, Utc};

use super::db::{Exec as _, OptionalExt as _, params};
use super::{PrRecordState, ReviewKind, Store, Tx, now, parse_ts, ts};
use crate::freshness::{ChecksState, FreshnessView};

/// What a full check saw of the releases newer than the pin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Behind {
    pub releases_behind: u32,
    /// The publish time of the oldest of them, when known.
    pub behind_since: Option<DateTime<Utc>>,
    /// A release tag moved (and nobody accepted it).
    pub moved_tag: bool,
}

/// One check that failed on a PR's head commit: its name and where to read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FailedCheck {
    pub name: String,
    pub url: Option<String>,
}

/// The pipeline's answer on a PR's head commit, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksRecord {
    pub head_commit: String,
    pub state: ChecksState,
    pub failed: Vec<FailedCheck>,
    /// Where a person sees the checks of the commit (the PR's checks tab, the build).
    pub url: Option<String>,
    pub checked_at: String,
}

impl Store {
    /// Keep what a full check saw of the releases newer than the pin.
    pub fn put_behind(&self, server: &str, behind: &Behind) -> anyhow::Result<()> {
        self.write(
            "INSERT INTO fleet_behind(server, releases_behind, behind_since, moved_tag, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(server) DO UPDATE SET releases_behind = ?2, behind_since = ?3,
                moved_tag = ?4, updated_at = ?5",
            params![
                server,
                behind.releases_behind,
                behind.behind_since.map(ts),
                behind.moved_tag,
                ts(now())
            ],
        )?;
        Ok(())
    }

    /// What the last full check saw of the releases newer than the pin (None: never checked).
    pub fn behind(&self, server: &str) -> anyhow::Result<Option<Behind>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT releases_behind, behind_since, moved_tag FROM fleet_behind WHERE server = ?1",
                params![server],
                |r| {
                    Ok(Behind {
                        releases_behind: r.get(0)?,
                        behind_since: r.get::<_, Option<String>>(1)?.as_deref().and_then(parse_ts),
                        moved_tag: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Everything [`crate::freshness::assess`] needs about `server`, from the state.
    pub fn freshness_view(&self, server: &str) -> anyhow::Result<FreshnessView> {
        let state = self.server_state(server)?;
        let behind = self.behind(server)?.unwrap_or_default();
        let open = self.open_pr(server)?;
        let checks = match &open {
            Some(pr) => self
                .checks(pr.id)?
                .filter(|c| pr.head_commit.as_deref().is_none_or(|h| h == c.head_commit))
                .map(|c| c.state),
            None => None,
        };
        let declined = match state.as_ref().and_then(|s| s.latest_version.as_deref()) {
            Some(v) => self
                .pr_for_version(server, v)?
                .is_some_and(|p| p.state == PrRecordState::Declined),
            None => false,
        };
        Ok(FreshnessView {
            releases_behind: behind.releases_behind,
            behind_since: behind.behind_since,
            pr_opened_at: open.as_ref().and_then(|p| parse_ts(&p.created_at)),
            checks,
            failing: state
                .as_ref()
                .is_some_and(|s| s.last_status.as_deref() == Some("failed")),
            moved_tag: behind.moved_tag,
            license_review: self.pending(ReviewKind::License, server)?.is_some(),
            mcp_review: self.pending(ReviewKind::Mcp, server)?.is_some(),
            declined,
        })
    }

    /// Record that the PR `pr_id` was merged (now), with the publish time of the release it
    /// proposed. The first sighting wins: a later run seeing the same merge changes nothing.
    pub fn record_merge(
        tx: &Tx<'_>,
        pr_id: i64,
        server: &str,
        version: &str,
        published_at: Option<&str>,
        merged_at: Option<DateTime<Utc>>,
    ) -> anyhow::Result<()> {
        // The forge's merge time when it said one (never in the future: clocks disagree),
        // else now: the moment upkeep saw the merge.
        let merged_at = merged_at.map_or_else(now, |t| t.min(now()));
        tx.execute(
            "INSERT INTO pr_merges(pr_id, server, version, published_at, merged_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
            params![pr_id, server, version, published_at, ts(merged_at)],
        )?;
        Ok(())
    }

    /// When the PR `pr_id` was seen merged, if it was.
    pub fn merged_at(&self, pr_id: i64) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT merged_at FROM pr_merges WHERE pr_id = ?1",
                params![pr_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every merged rebuild's lead time in seconds (release published to PR merged), for the
    /// servers named; merges whose publish time is unknown are left out.
    pub fn lead_times(&self, servers: &[&str]) -> anyhow::Result<Vec<f64>> {
        let rows = self.conn()?.query_map(
            "SELECT server, published_at, merged_at FROM pr_merges
             WHERE published_at IS NOT NULL ORDER BY pr_id",
            params![],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for (server, published, merged) in rows {
            if !servers.contains(&server.as_str()) {
                continue;
            }
            if let (Some(p), Some(m)) = (parse_ts(&published), parse_ts(&merged)) {
                #[allow(clippy::cast_precision_loss)]
                out.push((m - p).num_seconds().max(0) as f64);
            }
        }
        Ok(out)
    }

    /// Keep the pipeline's answer on the head commit of the PR `pr_id` (replacing the last).
    pub fn put_checks(&self, pr_id: i64, server: &str, c: &ChecksRecord) -> anyhow::Result<()> {
        self.write(
            "INSERT INTO pr_checks(pr_id, server, head_commit, state, failed, url, checked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(pr_id) DO UPDATE SET server = ?2, head_commit = ?3, state = ?4,
                failed = ?5, url = ?6, checked_at = ?7",
            params![
                pr_id,
                server,
                c.head_commit,
                c.state.as_str(),
                serde_json::to_string(&c.failed)?,
                c.url,
                c.checked_at
            ],
        )?;
        Ok(())
    }

    /// The last answer kept for the PR `pr_id`'s checks.
    pub fn checks(&self, pr_id: i64) -> anyhow::Result<Option<ChecksRecord>> {
        let row = self
            .conn()?
            .query_row(
                "SELECT head_commit, state, failed, url, checked_at FROM pr_checks WHERE pr_id = ?1",
                params![pr_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((head_commit, state, failed, url, checked_at)) = row else {
            return Ok(None);
        };
        Ok(Some(ChecksRecord {
            head_commit,
            state: ChecksState::parse(&state).unwrap_or(ChecksState::None),
            failed: serde_json::from_str(&failed).unwrap_or_default(),
            url,
            checked_at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PrRecord, ServerState};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::testing::open(dir.path());
        (dir, store)
    }

    fn pr(version: &str, head: &str) -> PrRecord {
        PrRecord {
            id: 0,
            server: "s".into(),
            version: version.into(),
            tag: format!("v{version}"),
            commit: "c".into(),
            branch: "upkeep/s".into(),
            forge_id: Some("7".into()),
            url: Some("https://forge/pr/7".into()),
            title: "t".into(),
            body_hash: "h".into(),
            head_commit: Some(head.into()),
            state: PrRecordState::Open,
            held: false,
            closed_by: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    crate::store::testing::on_both_backends! {
        fn an_unknown_server_is_current_and_unblocked() {
            let (_d, store) = store();
            assert_eq!(store.freshness_view("s").unwrap(), FreshnessView::default());
        }

        fn the_view_gathers_behind_pr_checks_and_reviews() {
            let (_d, store) = store();
            let since = parse_ts("2026-03-01T00:00:00Z");
            store
                .put_behind(
                    "s",
                    &Behind {
                        releases_behind: 2,
                        behind_since: since,
                        moved_tag: false,
                    },
                )
                .unwrap();
            let id = store
                .transaction(|tx| Store::upsert_pr(tx, &pr("1.2.0", "head1")))
                .unwrap();
            let checks = |head: &str, state| ChecksRecord {
                head_commit: head.into(),
                state,
                failed: vec![FailedCheck {
                    name: "build".into(),
                    url: Some("https://ci/1".into()),
                }],
                url: None,
                checked_at: "2026-03-02T00:00:00Z".into(),
            };
            store
                .put_checks(id, "s", &checks("head1", ChecksState::Failure))
                .unwrap();
            let view = store.freshness_view("s").unwrap();
            assert_eq!(view.releases_behind, 2);
            assert_eq!(view.behind_since, since);
            assert!(view.pr_opened_at.is_some());
            assert_eq!(view.checks, Some(ChecksState::Failure));
            assert_eq!(store.checks(id).unwrap().unwrap().failed[0].name, "build");
            // Checks of an older head say nothing about the PR as it is now.
            store
                .put_checks(id, "s", &checks("head0", ChecksState::Failure))
                .unwrap();
            assert_eq!(store.freshness_view("s").unwrap().checks, None);
            store
                .transaction(|tx| Store::put_pending(tx, ReviewKind::License, "s", "fp", "{}"))
                .unwrap();
            assert!(store.freshness_view("s").unwrap().license_review);
        }

        fn declined_is_about_the_newest_release_and_failing_about_the_last_run() {
            let (_d, store) = store();
            let id = store
                .transaction(|tx| Store::upsert_pr(tx, &pr("1.2.0", "h")))
                .unwrap();
            store
                .transaction(|tx| Store::set_pr_state(tx, id, PrRecordState::Declined, Some("ada")))
                .unwrap();
            let mut state = ServerState {
                server: "s".into(),
                pinned_ref: None,
                pinned_commit: None,
                latest_version: Some("1.2.0".into()),
                latest_tag: None,
                latest_commit: None,
                last_status: Some("failed".into()),
                last_error: None,
                last_run_id: None,
                last_run_at: None,
                last_success_at: None,
                consecutive_failures: 1,
                hold_reason: None,
                held_since: None,
            };
            store
                .transaction(|tx| Store::put_server_state(tx, &state))
                .unwrap();
            let view = store.freshness_view("s").unwrap();
            assert!(view.declined && view.failing);
            state.latest_version = Some("1.3.0".into());
            state.last_status = Some("pr-opened".into());
            store
                .transaction(|tx| Store::put_server_state(tx, &state))
                .unwrap();
            let view = store.freshness_view("s").unwrap();
            assert!(!view.declined && !view.failing);
        }

        fn the_forges_merge_time_is_kept_and_never_in_the_future() {
            let (_d, store) = store();
            let published = now() - chrono::Duration::days(3);
            let merged = now() - chrono::Duration::days(1);
            let future = now() + chrono::Duration::days(1);
            store
                .transaction(|tx| {
                    Store::record_merge(tx, 1, "s", "1.0.0", Some(&ts(published)), Some(merged))?;
                    Store::record_merge(tx, 2, "s", "1.1.0", Some(&ts(published)), Some(future))
                })
                .unwrap();
            assert_eq!(store.merged_at(1).unwrap(), Some(ts(merged)));
            let clamped = parse_ts(&store.merged_at(2).unwrap().unwrap()).unwrap();
            assert!(clamped <= now());
            let lead = store.lead_times(&["s"]).unwrap();
            assert!((lead[0] - 2.0 * 86_400.0).abs() < 5.0, "{lead:?}");
        }

        fn a_merge_is_recorded_once_and_gives_its_lead_time() {
            let (_d, store) = store();
            let published = (now() - chrono::Duration::days(3)).to_rfc3339();
            for _ in 0..2 {
                store
                    .transaction(|tx| Store::record_merge(tx, 5, "s", "1.2.0", Some(&published), None))
                    .unwrap();
            }
            store
                .transaction(|tx| Store::record_merge(tx, 6, "t", "2.0.0", None, None))
                .unwrap();
            assert!(store.merged_at(5).unwrap().is_some());
            assert!(store.merged_at(7).unwrap().is_none());
            let lead = store.lead_times(&["s", "t"]).unwrap();
            assert_eq!(lead.len(), 1);
            assert!((lead[0] - 3.0 * 86_400.0).abs() < 5.0, "{lead:?}");
            assert!(store.lead_times(&["t"]).unwrap().is_empty());
        }
    }
}
