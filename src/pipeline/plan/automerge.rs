//! Whether upkeep may arm the forge's own auto-merge on a rebuild PR (issue 17), pure: what
//! the judge and decide stages know in, [`AutoMerge::Arm`] or the named guards that stop it
//! out. A guard is something only a person should wave through; every guard must hold for the
//! PR to be armed, and a held PR is never armed.
//!
//! | guard | stops auto-merge when |
//! |---|---|
//! | `held` | the PR is a held draft (a license or MCP review nobody approved yet) |
//! | `license-change` | the license verdict is `review-required` (approved or not: merging a relicensed release stays a person's act) |
//! | `mcp-findings` | the MCP surface has findings at the server's `hold-on` levels (approved or not) |
//! | `moved-tag` | a release tag of the upstream was moved or re-created |
//! | `cooldown` | the release is younger than the server's cooldown (proposed early as a security fix) |
//! | `install-script` | the release adds or changes an install script (`install-script-added`, `install-script-changed`, `setup-py-changed`) |
//! | `binary` | the release adds or changes a binary file (`binary-added`, `binary-changed`) |
//! | `no-release-diff` | the pinned commit is not in the upstream history, so the signals above are unknown |
//! | `checks-failing` | the pipeline failed on the PR's head commit |
//! | `forge-refused` | the forge would not arm it last time (e.g. auto-merge not allowed in the repository); asked again on every full check |
//!
//! Checks that are pending or absent do not stop it: the forge's auto-merge itself waits for
//! the checks and policies the repository requires.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::forge::checks::ChecksState;
use crate::license::Verdict;
use crate::upstream::channels;
use crate::upstream::diff::Signal;
use crate::upstream::diff::signals::codes;

/// One reason upkeep leaves the merge to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guard {
    Held,
    LicenseChange,
    McpFindings,
    MovedTag,
    Cooldown,
    InstallScript,
    Binary,
    NoReleaseDiff,
    ChecksFailing,
    ForgeRefused,
}

impl Guard {
    /// The stable code, as in the run report's `blocked_by`.
    pub fn code(self) -> &'static str {
        match self {
            Guard::Held => "held",
            Guard::LicenseChange => "license-change",
            Guard::McpFindings => "mcp-findings",
            Guard::MovedTag => "moved-tag",
            Guard::Cooldown => "cooldown",
            Guard::InstallScript => "install-script",
            Guard::Binary => "binary",
            Guard::NoReleaseDiff => "no-release-diff",
            Guard::ChecksFailing => "checks-failing",
            Guard::ForgeRefused => "forge-refused",
        }
    }

    /// What it means, in plain words for the PR body.
    pub fn plain(self) -> &'static str {
        match self {
            Guard::Held => "the PR is held for a review",
            Guard::LicenseChange => "the license changed",
            Guard::McpFindings => "the MCP surface has findings at the hold levels",
            Guard::MovedTag => "an upstream release tag was moved",
            Guard::Cooldown => "the release is still in its cooldown",
            Guard::InstallScript => "an install script was added or changed",
            Guard::Binary => "a binary file was added or changed",
            Guard::NoReleaseDiff => {
                "the pinned commit is not in the upstream history, so the change is unknown"
            }
            Guard::ChecksFailing => "the pipeline failed on this PR",
            Guard::ForgeRefused => {
                "the forge would not arm it (its words are in the run report); asked again on the next full check"
            }
        }
    }
}

/// What the stages know about the proposed release and its PR.
#[derive(Debug, Clone)]
pub struct GuardInput<'a> {
    /// The PR is a held draft.
    pub held: bool,
    pub license: Verdict,
    /// Findings of the MCP surface at the `hold-on` levels (0 without an MCP surface).
    pub mcp_gating_findings: usize,
    pub moved_tag: bool,
    /// When the release was published (None: unknown, so no cooldown applies).
    pub published: Option<DateTime<Utc>>,
    pub cooldown: Duration,
    pub now: DateTime<Utc>,
    /// The release diff's supply-chain signals; None when there is no release diff.
    pub signals: Option<&'a [Signal]>,
    /// The pipeline's answer on the head commit to be armed (None: not read yet).
    pub checks: Option<ChecksState>,
    /// The forge refused to arm this PR last time upkeep asked.
    pub forge_refused: bool,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoMerge {
    /// `auto-merge` is not set for the server.
    Off,
    /// Every guard holds: arm the forge's auto-merge.
    Arm,
    /// These guards stop it, in the order of the table above.
    Blocked(Vec<Guard>),
}

impl AutoMerge {
    /// `off`, `armed` (to be armed) or `blocked`, as the run report says.
    pub fn state(&self) -> &'static str {
        match self {
            AutoMerge::Off => "off",
            AutoMerge::Arm => "armed",
            AutoMerge::Blocked(_) => "blocked",
        }
    }

    pub fn blocked_by(&self) -> &[Guard] {
        match self {
            AutoMerge::Blocked(g) => g,
            _ => &[],
        }
    }

    /// The answer for the head the PR has now, whose checks are `checks` (read after the
    /// push): the checks guard decided afresh, and a forge's earlier refusal set aside so the
    /// forge is asked again. Every other guard stands.
    #[must_use]
    pub fn recheck(&self, checks: Option<ChecksState>) -> AutoMerge {
        let AutoMerge::Blocked(guards) = self else {
            return match (self, checks) {
                (AutoMerge::Arm, Some(ChecksState::Failure)) => {
                    AutoMerge::Blocked(vec![Guard::ChecksFailing])
                }
                _ => self.clone(),
            };
        };
        let mut kept: Vec<Guard> = guards
            .iter()
            .copied()
            .filter(|g| !matches!(g, Guard::ChecksFailing | Guard::ForgeRefused))
            .collect();
        if checks == Some(ChecksState::Failure) {
            kept.push(Guard::ChecksFailing);
        }
        if kept.is_empty() {
            AutoMerge::Arm
        } else {
            AutoMerge::Blocked(kept)
        }
    }
}

const INSTALL_SCRIPTS: [&str; 3] = [
    codes::INSTALL_SCRIPT_ADDED,
    codes::INSTALL_SCRIPT_CHANGED,
    codes::SETUP_PY_CHANGED,
];
const BINARIES: [&str; 2] = [codes::BINARY_ADDED, codes::BINARY_CHANGED];

/// Every guard that stops auto-merge, or Arm when none does.
pub fn decide(enabled: bool, i: &GuardInput<'_>) -> AutoMerge {
    if !enabled {
        return AutoMerge::Off;
    }
    let has = |wanted: &[&str]| {
        i.signals
            .is_some_and(|s| s.iter().any(|s| wanted.contains(&s.code.as_str())))
    };
    let guards = [
        (Guard::Held, i.held),
        (Guard::LicenseChange, i.license == Verdict::ReviewRequired),
        (Guard::McpFindings, i.mcp_gating_findings > 0),
        (Guard::MovedTag, i.moved_tag),
        (
            Guard::Cooldown,
            !channels::cooldown_passed(i.published, i.now, i.cooldown, false),
        ),
        (Guard::InstallScript, has(&INSTALL_SCRIPTS)),
        (Guard::Binary, has(&BINARIES)),
        (Guard::NoReleaseDiff, i.signals.is_none()),
        (Guard::ChecksFailing, i.checks == Some(ChecksState::Failure)),
        (Guard::ForgeRefused, i.forge_refused),
    ];
    let blocked: Vec<Guard> = guards
        .into_iter()
        .filter_map(|(g, stops)| stops.then_some(g))
        .collect();
    if blocked.is_empty() {
        AutoMerge::Arm
    } else {
        AutoMerge::Blocked(blocked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(code: &str) -> Signal {
        Signal {
            code: code.into(),
            path: "p".into(),
            reason: "r".into(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// A clean release: nothing for a person to look at.
    fn clean(signals: &[Signal]) -> GuardInput<'_> {
        GuardInput {
            held: false,
            license: Verdict::Unchanged,
            mcp_gating_findings: 0,
            moved_tag: false,
            published: Some(now() - chrono::Duration::days(10)),
            cooldown: Duration::from_secs(3 * 86_400),
            now: now(),
            signals: Some(signals),
            checks: Some(ChecksState::Success),
            forge_refused: false,
        }
    }

    #[test]
    fn off_unless_enabled_whatever_the_release() {
        let mut i = clean(&[]);
        i.held = true;
        assert_eq!(decide(false, &i), AutoMerge::Off);
        assert_eq!(decide(false, &clean(&[])), AutoMerge::Off);
    }

    #[test]
    fn a_clean_release_is_armed_with_a_cosmetic_license_change_and_pending_checks() {
        assert_eq!(decide(true, &clean(&[])), AutoMerge::Arm);
        let others = [
            signal(codes::LOCKFILE_CHANGED),
            signal(codes::CI_WORKFLOW_CHANGED),
        ];
        let mut i = clean(&others);
        i.license = Verdict::Cosmetic;
        for checks in [
            None,
            Some(ChecksState::Pending),
            Some(ChecksState::None),
            Some(ChecksState::Success),
        ] {
            i.checks = checks;
            assert_eq!(decide(true, &i), AutoMerge::Arm, "{checks:?}");
        }
        // No publish time: no cooldown to wait for.
        i.published = None;
        assert_eq!(decide(true, &i), AutoMerge::Arm);
    }

    #[test]
    fn each_guard_stops_it_by_name() {
        let install = [signal(codes::INSTALL_SCRIPT_ADDED)];
        let install_changed = [signal(codes::INSTALL_SCRIPT_CHANGED)];
        let setup = [signal(codes::SETUP_PY_CHANGED)];
        let binary = [signal(codes::BINARY_ADDED)];
        let binary_changed = [signal(codes::BINARY_CHANGED)];
        type Edit = fn(&mut GuardInput<'_>);
        let cases: Vec<(Guard, Edit)> = vec![
            (Guard::Held, |i| i.held = true),
            (Guard::LicenseChange, |i| {
                i.license = Verdict::ReviewRequired
            }),
            (Guard::McpFindings, |i| i.mcp_gating_findings = 2),
            (Guard::MovedTag, |i| i.moved_tag = true),
            (Guard::Cooldown, |i| {
                i.published = Some(i.now - chrono::Duration::hours(1));
            }),
            (Guard::NoReleaseDiff, |i| i.signals = None),
            (Guard::ChecksFailing, |i| {
                i.checks = Some(ChecksState::Failure);
            }),
            (Guard::ForgeRefused, |i| i.forge_refused = true),
        ];
        for (guard, edit) in cases {
            let mut i = clean(&[]);
            edit(&mut i);
            assert_eq!(
                decide(true, &i),
                AutoMerge::Blocked(vec![guard]),
                "{guard:?}"
            );
        }
        for (guard, signals) in [
            (Guard::InstallScript, &install[..]),
            (Guard::InstallScript, &install_changed[..]),
            (Guard::InstallScript, &setup[..]),
            (Guard::Binary, &binary[..]),
            (Guard::Binary, &binary_changed[..]),
        ] {
            assert_eq!(
                decide(true, &clean(signals)),
                AutoMerge::Blocked(vec![guard]),
                "{signals:?}"
            );
        }
    }

    #[test]
    fn every_guard_that_fails_is_named_in_order() {
        let signals = [
            signal(codes::BINARY_ADDED),
            signal(codes::INSTALL_SCRIPT_ADDED),
        ];
        let mut i = clean(&signals);
        i.held = true;
        i.license = Verdict::ReviewRequired;
        i.checks = Some(ChecksState::Failure);
        let answer = decide(true, &i);
        assert_eq!(answer.state(), "blocked");
        assert_eq!(
            answer.blocked_by(),
            [
                Guard::Held,
                Guard::LicenseChange,
                Guard::InstallScript,
                Guard::Binary,
                Guard::ChecksFailing
            ]
        );
        assert_eq!(
            answer
                .blocked_by()
                .iter()
                .map(|g| g.code())
                .collect::<Vec<_>>(),
            [
                "held",
                "license-change",
                "install-script",
                "binary",
                "checks-failing"
            ]
        );
    }

    #[test]
    fn the_checks_of_the_new_head_decide_afresh_and_a_refusal_is_asked_again() {
        let failing = Some(ChecksState::Failure);
        let green = Some(ChecksState::Success);
        assert_eq!(
            AutoMerge::Arm.recheck(failing),
            AutoMerge::Blocked(vec![Guard::ChecksFailing])
        );
        assert_eq!(AutoMerge::Arm.recheck(None), AutoMerge::Arm);
        assert_eq!(AutoMerge::Off.recheck(failing), AutoMerge::Off);
        let stale = AutoMerge::Blocked(vec![Guard::ChecksFailing, Guard::ForgeRefused]);
        assert_eq!(stale.recheck(green), AutoMerge::Arm);
        let held = AutoMerge::Blocked(vec![Guard::Held, Guard::ChecksFailing]);
        assert_eq!(held.recheck(None), AutoMerge::Blocked(vec![Guard::Held]));
        assert_eq!(
            AutoMerge::Blocked(vec![Guard::Binary]).recheck(failing),
            AutoMerge::Blocked(vec![Guard::Binary, Guard::ChecksFailing])
        );
    }

    #[test]
    fn a_zero_cooldown_never_waits() {
        let mut i = clean(&[]);
        i.cooldown = Duration::ZERO;
        i.published = Some(i.now);
        assert_eq!(decide(true, &i), AutoMerge::Arm);
    }
}
