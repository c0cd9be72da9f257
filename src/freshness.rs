//! Freshness: how far behind upstream each rebuild is, for how long, and what blocks it. Pure:
//! [`assess`] turns a [`FreshnessView`] (which the store fills from what the runs recorded) and
//! the time now into a [`Freshness`], the answer the run report (`servers[].freshness`),
//! `status`, `/status` and `/metrics` show.
//!
//! **Blocker precedence** (the first that applies is *the* blocker; a person clears them in
//! this order, because each one hides the ones after it):
//!
//! 1. `failing`: the server's last run failed; nothing else about it can be trusted until it
//!    runs again.
//! 2. `moved-tag`: a release tag moved upstream; no PR work happens until someone accepts it.
//! 3. `license-review`: the rebuild is held for legal (CELA) review of a license change.
//! 4. `mcp-review`: the rebuild is held for review of the MCP surface.
//! 5. `declined`: the newest proposable release's PR was closed without merge; upkeep waits for
//!    a newer release.
//! 6. `pipeline-failed`: the rebuild PR is open and its pipeline failed on the head commit.
//! 7. `awaiting-merge`: the rebuild PR is open (checks green, pending or absent); a person has
//!    to merge it (or auto-merge will).
//!
//! None when nothing above applies: the server is current, or behind with no PR yet (the next
//! run proposes it).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What blocks a server from being current. Serialised kebab-case (`license-review`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Blocker {
    Failing,
    MovedTag,
    LicenseReview,
    McpReview,
    Declined,
    PipelineFailed,
    AwaitingMerge,
}

impl Blocker {
    pub fn as_str(self) -> &'static str {
        match self {
            Blocker::Failing => "failing",
            Blocker::MovedTag => "moved-tag",
            Blocker::LicenseReview => "license-review",
            Blocker::McpReview => "mcp-review",
            Blocker::Declined => "declined",
            Blocker::PipelineFailed => "pipeline-failed",
            Blocker::AwaitingMerge => "awaiting-merge",
        }
    }
}

/// The pipeline's answer on the rebuild PR's head commit (the forges fold their checks into it).
pub use crate::forge::checks::ChecksState;

/// What the state knows about one server, as [`assess`] needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FreshnessView {
    /// Proposable releases newer than the pin (as the last full check saw them).
    pub releases_behind: u32,
    /// The publish time of the oldest of them; None when current, or when no channel or tag
    /// said when it was published.
    pub behind_since: Option<DateTime<Utc>>,
    /// The open rebuild PR's creation time.
    pub pr_opened_at: Option<DateTime<Utc>>,
    /// The pipeline's answer on the open PR's head commit (None: not read).
    pub checks: Option<ChecksState>,
    /// The last run of the server failed.
    pub failing: bool,
    /// A release tag moved and no one accepted it.
    pub moved_tag: bool,
    pub license_review: bool,
    pub mcp_review: bool,
    /// The newest proposable release's PR was closed without merge.
    pub declined: bool,
}

/// A server's freshness, as reports and pages show it. Durations are whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freshness {
    pub releases_behind: u32,
    /// RFC 3339; None when current (or when the publish time is unknown).
    pub behind_since: Option<String>,
    /// Seconds since `behind_since`: 0 when current, None when behind since an unknown time.
    pub lag: Option<u64>,
    /// Seconds the rebuild PR has been open; None without an open PR.
    pub pr_open_for: Option<u64>,
    /// What blocks the server (see the module's precedence); None when nothing does.
    pub blocker: Option<Blocker>,
}

/// The server's freshness at `now`.
pub fn assess(view: &FreshnessView, now: DateTime<Utc>) -> Freshness {
    let current = view.releases_behind == 0;
    let since = |t: DateTime<Utc>| u64::try_from((now - t).num_seconds()).unwrap_or(0);
    Freshness {
        releases_behind: view.releases_behind,
        behind_since: view
            .behind_since
            .filter(|_| !current)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        lag: if current {
            Some(0)
        } else {
            view.behind_since.map(since)
        },
        pr_open_for: view.pr_opened_at.map(since),
        blocker: blocker(view),
    }
}

/// The first blocker that applies, in the module's precedence.
pub fn blocker(view: &FreshnessView) -> Option<Blocker> {
    let pr_open = view.pr_opened_at.is_some();
    [
        (view.failing, Blocker::Failing),
        (view.moved_tag, Blocker::MovedTag),
        (view.license_review, Blocker::LicenseReview),
        (view.mcp_review, Blocker::McpReview),
        (view.declined && !pr_open, Blocker::Declined),
        (
            pr_open && view.checks == Some(ChecksState::Failure),
            Blocker::PipelineFailed,
        ),
        (pr_open, Blocker::AwaitingMerge),
    ]
    .into_iter()
    .find_map(|(applies, b)| applies.then_some(b))
}

/// The releases newer than the pin as one count and the oldest publish time: `published` has one
/// entry per release (None where its publish time is unknown).
pub fn behind(published: &[Option<DateTime<Utc>>]) -> (u32, Option<DateTime<Utc>>) {
    let count = u32::try_from(published.len()).unwrap_or(u32::MAX);
    (count, published.iter().flatten().min().copied())
}

/// A duration in seconds as people read it in a table: `0`, `45m`, `5h`, `3d 4h`, `12d`.
pub fn human(seconds: u64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
    );
    match (d, h) {
        (0, 0) if m == 0 => if seconds == 0 { "0" } else { "<1m" }.to_string(),
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h"),
        (d, 0) => format!("{d}d"),
        (d, _) if d >= 10 => format!("{d}d"),
        (d, h) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const NOW: &str = "2026-03-15T12:00:00Z";

    /// A server two releases behind since the 1st, with an open PR since the 10th.
    fn behind_with_pr() -> FreshnessView {
        FreshnessView {
            releases_behind: 2,
            behind_since: Some(t("2026-03-01T12:00:00Z")),
            pr_opened_at: Some(t("2026-03-10T12:00:00Z")),
            checks: Some(ChecksState::Success),
            ..FreshnessView::default()
        }
    }

    #[test]
    fn every_blocker_and_its_precedence() {
        type Case = (&'static str, fn(&mut FreshnessView), Option<Blocker>);
        let cases: &[Case] = &[
            ("current, no PR", |v| *v = FreshnessView::default(), None),
            ("behind, no PR yet", |v| v.pr_opened_at = None, None),
            (
                "open PR, checks green",
                |_| {},
                Some(Blocker::AwaitingMerge),
            ),
            (
                "open PR, checks pending",
                |v| v.checks = Some(ChecksState::Pending),
                Some(Blocker::AwaitingMerge),
            ),
            (
                "open PR, checks not read",
                |v| v.checks = None,
                Some(Blocker::AwaitingMerge),
            ),
            (
                "open PR, no checks",
                |v| v.checks = Some(ChecksState::None),
                Some(Blocker::AwaitingMerge),
            ),
            (
                "open PR, pipeline failed",
                |v| v.checks = Some(ChecksState::Failure),
                Some(Blocker::PipelineFailed),
            ),
            (
                "checks failed without an open PR say nothing",
                |v| {
                    v.pr_opened_at = None;
                    v.checks = Some(ChecksState::Failure);
                },
                None,
            ),
            (
                "declined",
                |v| {
                    v.pr_opened_at = None;
                    v.declined = true;
                },
                Some(Blocker::Declined),
            ),
            (
                "a declined older release under a newer open PR is not the blocker",
                |v| v.declined = true,
                Some(Blocker::AwaitingMerge),
            ),
            (
                "MCP review beats the pipeline",
                |v| {
                    v.mcp_review = true;
                    v.checks = Some(ChecksState::Failure);
                },
                Some(Blocker::McpReview),
            ),
            (
                "license review beats MCP review",
                |v| {
                    v.license_review = true;
                    v.mcp_review = true;
                },
                Some(Blocker::LicenseReview),
            ),
            (
                "moved tag beats license review",
                |v| {
                    v.moved_tag = true;
                    v.license_review = true;
                },
                Some(Blocker::MovedTag),
            ),
            (
                "failing beats everything",
                |v| {
                    v.failing = true;
                    v.moved_tag = true;
                    v.license_review = true;
                    v.checks = Some(ChecksState::Failure);
                },
                Some(Blocker::Failing),
            ),
            (
                "a failing server that is current is still failing",
                |v| {
                    *v = FreshnessView {
                        failing: true,
                        ..FreshnessView::default()
                    }
                },
                Some(Blocker::Failing),
            ),
        ];
        for (name, edit, want) in cases {
            let mut view = behind_with_pr();
            edit(&mut view);
            assert_eq!(blocker(&view), *want, "{name}");
            assert_eq!(assess(&view, t(NOW)).blocker, *want, "{name}");
        }
    }

    #[test]
    fn lag_and_pr_age() {
        let f = assess(&behind_with_pr(), t(NOW));
        assert_eq!(f.releases_behind, 2);
        assert_eq!(f.behind_since.as_deref(), Some("2026-03-01T12:00:00Z"));
        assert_eq!(f.lag, Some(14 * 86_400));
        assert_eq!(f.pr_open_for, Some(5 * 86_400));
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["blocker"], "awaiting-merge");
        assert_eq!(json["lag"], 14 * 86_400);
    }

    #[test]
    fn current_has_zero_lag_and_no_since() {
        let view = FreshnessView {
            behind_since: Some(t("2026-03-01T12:00:00Z")),
            ..FreshnessView::default()
        };
        let f = assess(&view, t(NOW));
        assert_eq!(
            (f.lag, f.behind_since.as_deref(), f.pr_open_for),
            (Some(0), None, None)
        );
        assert_eq!(
            serde_json::to_value(&f).unwrap()["blocker"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn behind_since_an_unknown_time_has_unknown_lag() {
        let view = FreshnessView {
            releases_behind: 1,
            ..FreshnessView::default()
        };
        assert_eq!(assess(&view, t(NOW)).lag, None);
    }

    #[test]
    fn a_clock_behind_the_publish_time_gives_zero_not_a_wrap() {
        let view = FreshnessView {
            releases_behind: 1,
            behind_since: Some(t("2026-03-16T00:00:00Z")),
            ..FreshnessView::default()
        };
        assert_eq!(assess(&view, t(NOW)).lag, Some(0));
    }

    #[test]
    fn behind_counts_and_takes_the_oldest_known_time() {
        assert_eq!(behind(&[]), (0, None));
        let (n, oldest) = behind(&[
            Some(t("2026-03-05T00:00:00Z")),
            None,
            Some(t("2026-03-02T00:00:00Z")),
        ]);
        assert_eq!((n, oldest), (3, Some(t("2026-03-02T00:00:00Z"))));
    }

    #[test]
    fn human_durations() {
        for (s, want) in [
            (0, "0"),
            (30, "<1m"),
            (45 * 60, "45m"),
            (5 * 3600 + 59, "5h"),
            (3 * 86_400, "3d"),
            (3 * 86_400 + 4 * 3600, "3d 4h"),
            (12 * 86_400 + 4 * 3600, "12d"),
        ] {
            assert_eq!(human(s), want, "{s}");
        }
    }

    #[test]
    fn names_round_trip() {
        for c in [
            ChecksState::Pending,
            ChecksState::Success,
            ChecksState::Failure,
            ChecksState::None,
        ] {
            assert_eq!(ChecksState::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        for b in [
            Blocker::LicenseReview,
            Blocker::PipelineFailed,
            Blocker::AwaitingMerge,
        ] {
            assert_eq!(serde_json::to_value(b).unwrap(), b.as_str());
        }
    }
}
