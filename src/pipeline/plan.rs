//! Pure PR decisions: given what the state remembers and what the forge shows, what to do.
//!
//! The ladder: a version declined before stays declined; a merged PR needs nothing; an open PR
//! for the same version is left alone (or its body refreshed); an open PR for an older version is
//! moved to the newer release; otherwise a PR is created, reusing a bot branch a crashed run left
//! behind. Commits by a person on the bot branch are never overwritten: whose the branch is
//! comes from what upkeep recorded writing there ([`owner`]), never from the commits on it, so
//! the base branch moving on is never mistaken for a person's edit.

pub mod automerge;
pub mod commands;

use chrono::{DateTime, Utc};

use crate::forge::{BranchState, PrState};
use crate::report::{PrAction, Status};
use crate::store::{PrRecord, PrRecordState, WrittenBranch};
use crate::upstream::Release;
use crate::upstream::channels::{self, ChannelRelease};
use crate::upstream::version::{Version, VersionScheme};

/// The forge's view of the server's PR.
#[derive(Debug, Clone, Copy)]
pub struct ForgeView<'a> {
    pub state: PrState,
    pub title: &'a str,
    pub body_hash: Option<&'a str>,
}

/// Whose the bot branch is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchOwner {
    /// There is no such branch.
    Absent,
    /// Upkeep's to update: its head is the commit upkeep last wrote there.
    Upkeep { head: String },
    /// Touched by someone (a person's push, a rebase) or never written by upkeep: never reset.
    Touched { head: String },
}

/// Whose `branch` is, from the record of what upkeep wrote to it.
///
/// The head upkeep recorded is upkeep's. A write still marked in flight (a crash between the
/// forge's push and the record) is recognised by its shape: one commit by the bot whose only
/// parent is the base it was written on. Anything else, including a branch upkeep has no record
/// of, is someone's: the answer that can cost an extra branch but never a person's commits.
pub fn owner(
    branch: Option<&BranchState>,
    written: Option<&WrittenBranch>,
    bot_email: &str,
) -> BranchOwner {
    let Some(b) = branch else {
        return BranchOwner::Absent;
    };
    let head = b.head.clone();
    let Some(w) = written else {
        return BranchOwner::Touched { head };
    };
    let recorded = w.head.as_deref() == Some(b.head.as_str());
    let in_flight = w
        .pending_base
        .as_deref()
        .is_some_and(|base| b.parents.len() == 1 && b.parents[0] == base)
        && b.author_email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(bot_email));
    if recorded || in_flight {
        BranchOwner::Upkeep { head }
    } else {
        BranchOwner::Touched { head }
    }
}

#[derive(Debug)]
pub struct PlanInput<'a> {
    /// The version to propose.
    pub version: &'a str,
    /// The state's open PR record of this server, if any.
    pub stored_open: Option<&'a PrRecord>,
    /// The state's record of this exact version, if any (any state).
    pub stored_this: Option<&'a PrRecord>,
    pub forge_pr: Option<ForgeView<'a>>,
    pub branch: &'a BranchOwner,
    /// Hash of the title, body and hold flag we would write now.
    pub body_hash: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrPlan {
    /// The version was declined (its PR closed without merge): do nothing until a newer release.
    Declined { by: Option<String> },
    /// The open PR already proposes this version with this body.
    Unchanged,
    /// Same version, but the body (or hold state) changed.
    RefreshBody,
    /// The open PR proposes an older version: move its branch (from `expected_head`) and retitle.
    UpdateToNewer { expected_head: String },
    /// Open a PR; `reuse_branch` is the head of a bot branch left without a PR.
    Create { reuse_branch: Option<String> },
    /// A person pushed to the bot branch: leave it alone and say so.
    HumanOnBranch { pr_id: Option<String> },
    /// The PR was merged.
    Merged,
}

impl PrPlan {
    /// The action reported for this plan. (`held` is reported when no PR work is done at all
    /// because the server is held, e.g. for a moved tag; a license hold still opens a draft.)
    pub fn action(&self) -> PrAction {
        match self {
            PrPlan::Declined { .. } => PrAction::Declined,
            PrPlan::Unchanged | PrPlan::Merged => PrAction::Unchanged,
            PrPlan::RefreshBody | PrPlan::UpdateToNewer { .. } => PrAction::Updated,
            // A human push means a fresh PR is opened beside theirs.
            PrPlan::Create { .. } | PrPlan::HumanOnBranch { .. } => PrAction::Created,
        }
    }

    /// The server's status once this plan is carried out (`held`: the PR is a held draft).
    pub fn status(&self, held: bool) -> Status {
        if held {
            return Status::Held;
        }
        match self {
            PrPlan::Create { .. } | PrPlan::HumanOnBranch { .. } => Status::PrOpened,
            PrPlan::UpdateToNewer { .. } | PrPlan::RefreshBody => Status::PrUpdated,
            // Open, and left as it was: not counted as opened again.
            PrPlan::Unchanged => Status::PrOpen,
            PrPlan::Declined { .. } | PrPlan::Merged => Status::UpToDate,
        }
    }
}

pub fn plan_pr(i: &PlanInput<'_>) -> PrPlan {
    if let Some(rec) = i.stored_this
        && rec.state == PrRecordState::Declined
    {
        return PrPlan::Declined {
            by: rec.closed_by.clone(),
        };
    }
    let open_version = i.stored_open.map(|p| p.version.as_str());
    let bot_branch_head = match i.branch {
        BranchOwner::Upkeep { head } => Some(head.clone()),
        _ => None,
    };
    let human_on_branch = matches!(i.branch, BranchOwner::Touched { .. });
    match i.forge_pr.map(|p| p.state) {
        Some(PrState::Merged) if open_version == Some(i.version) => PrPlan::Merged,
        Some(PrState::Closed) if open_version == Some(i.version) => PrPlan::Declined {
            by: i.stored_open.and_then(|p| p.closed_by.clone()),
        },
        Some(PrState::Open) => {
            if human_on_branch {
                return PrPlan::HumanOnBranch {
                    pr_id: i.stored_open.and_then(|p| p.forge_id.clone()),
                };
            }
            match (open_version, bot_branch_head) {
                (Some(v), _) if v == i.version => {
                    if i.stored_open.is_some_and(|p| p.body_hash == i.body_hash) {
                        PrPlan::Unchanged
                    } else {
                        PrPlan::RefreshBody
                    }
                }
                (_, Some(head)) => PrPlan::UpdateToNewer {
                    expected_head: head,
                },
                // An open PR whose branch is gone: recreate the branch from scratch.
                (_, None) => PrPlan::Create { reuse_branch: None },
            }
        }
        // No PR, or an older one merged/closed: a new PR, reusing a bot branch if one is left.
        _ => {
            if human_on_branch {
                PrPlan::HumanOnBranch { pr_id: None }
            } else {
                PrPlan::Create {
                    reuse_branch: bot_branch_head,
                }
            }
        }
    }
}

/// A release that exists but is not proposed yet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Waiting {
    pub version: String,
    /// When its cooldown ends.
    pub until: Option<String>,
}

/// The release to propose, and the newer ones still in their cooldown.
#[derive(Debug)]
pub struct Choice<'a> {
    pub release: Option<&'a Release>,
    /// The primary channel's record of the chosen release (publish time, notes), if any.
    pub published: Option<&'a ChannelRelease>,
    pub waiting: Vec<Waiting>,
    /// Channel versions that have no git tag to pin (they cannot be proposed).
    pub untagged: Vec<String>,
}

/// Choose the newest proposable release. `git` is sorted oldest first (prereleases already
/// filtered by policy). With a primary channel other than git tags, only versions that channel
/// published are candidates, and they must have a git tag to pin. The cooldown counts from the
/// channel's publish time, else from the tag's commit date.
pub fn choose_release<'a>(
    git: &'a [Release],
    primary: Option<&'a [ChannelRelease]>,
    prerelease: bool,
    scheme: VersionScheme,
    cooldown: std::time::Duration,
    security: &[String],
    now: DateTime<Utc>,
) -> Choice<'a> {
    let (candidates, untagged) = candidates(git, primary, prerelease, scheme);
    let mut waiting = Vec::new();
    for (r, p) in candidates.iter().rev() {
        let published = published_at(r, *p);
        let security_release = channels::is_security_release(&r.version, security, scheme);
        if channels::cooldown_passed(published, now, cooldown, security_release) {
            return Choice {
                release: Some(r),
                published: *p,
                waiting,
                untagged,
            };
        }
        waiting.push(Waiting {
            version: r.version.clone(),
            until: channels::proposable_at(published, cooldown)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        });
    }
    Choice {
        release: None,
        published: None,
        waiting,
        untagged,
    }
}

/// The releases a channel offers (`primary`, else the git tags) that have a tag to pin, oldest
/// first, with the channel's record of each; and the channel's versions without a tag.
type Candidates<'a> = (Vec<(&'a Release, Option<&'a ChannelRelease>)>, Vec<String>);

fn candidates<'a>(
    git: &'a [Release],
    primary: Option<&'a [ChannelRelease]>,
    prerelease: bool,
    scheme: VersionScheme,
) -> Candidates<'a> {
    let mut candidates: Vec<(&Release, Option<&ChannelRelease>)> = Vec::new();
    let mut untagged = Vec::new();
    match primary {
        None => candidates.extend(git.iter().map(|r| (r, None))),
        Some(published) => {
            for p in published.iter().filter(|p| prerelease || !p.prerelease) {
                let Some(v) = Version::parse(scheme, &p.version) else {
                    continue;
                };
                match git.iter().rev().find(|r| r.parsed == v) {
                    Some(r) => candidates.push((r, Some(p))),
                    None => untagged.push(p.version.clone()),
                }
            }
            candidates.sort_by(|a, b| a.0.parsed.cmp(&b.0.parsed));
        }
    }
    (candidates, untagged)
}

/// When a release was published: the channel's publish time, else the tag's commit date.
fn published_at(r: &Release, p: Option<&ChannelRelease>) -> Option<DateTime<Utc>> {
    p.and_then(|p| p.published_at).or_else(|| {
        r.date
            .as_deref()
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.with_timezone(&Utc))
    })
}

/// The publish times (None where unknown) of the proposable releases newer than the pin: the
/// candidates [`choose_release`] considers, above `pinned` and up to the `chosen` release
/// (newer ones are still in their cooldown). A pin that is no release version (a branch, a
/// commit) is one release behind the chosen one when it differs from it (`newer`).
pub fn behind_pin(
    git: &[Release],
    primary: Option<&[ChannelRelease]>,
    prerelease: bool,
    scheme: VersionScheme,
    pinned: Option<&Version>,
    chosen: Option<&Release>,
    newer: bool,
) -> Vec<Option<DateTime<Utc>>> {
    let Some(chosen) = chosen.filter(|_| newer) else {
        return Vec::new();
    };
    let (candidates, _) = candidates(git, primary, prerelease, scheme);
    let chosen_record = candidates
        .iter()
        .find(|(r, _)| r.parsed == chosen.parsed)
        .and_then(|(_, p)| *p);
    let Some(pinned) = pinned else {
        return vec![published_at(chosen, chosen_record)];
    };
    candidates
        .iter()
        .filter(|(r, _)| r.parsed > *pinned && r.parsed <= chosen.parsed)
        .map(|(r, p)| published_at(r, *p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(version: &str, state: PrRecordState, hash: &str) -> PrRecord {
        PrRecord {
            id: 1,
            server: "s".into(),
            version: version.into(),
            tag: format!("v{version}"),
            commit: "c".into(),
            branch: "upkeep/s".into(),
            forge_id: Some("7".into()),
            url: None,
            title: "t".into(),
            body_hash: hash.into(),
            head_commit: None,
            state,
            held: false,
            closed_by: Some("ada".into()),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn open() -> Option<ForgeView<'static>> {
        Some(ForgeView {
            state: PrState::Open,
            title: "t",
            body_hash: None,
        })
    }

    fn bot(head: &str) -> BranchOwner {
        BranchOwner::Upkeep { head: head.into() }
    }

    fn release(v: &str, date: &str) -> Release {
        Release {
            version: v.into(),
            tag: format!("v{v}"),
            commit: "c".into(),
            date: Some(date.into()),
            prerelease: false,
            parsed: Version::parse(VersionScheme::Semver, v).unwrap(),
        }
    }

    fn published(v: &str, at: &str) -> ChannelRelease {
        ChannelRelease {
            version: v.into(),
            tag: None,
            published_at: Some(
                DateTime::parse_from_rfc3339(at)
                    .unwrap()
                    .with_timezone(&Utc),
            ),
            prerelease: false,
            notes: None,
            url: None,
        }
    }

    #[test]
    fn cooldown_and_channels_choose_the_release() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let git = [
            release("1.0.0", "2026-10-01T00:00:00Z"),
            release("1.1.0", "2026-11-25T00:00:00Z"),
        ];
        let week = std::time::Duration::from_secs(7 * 86_400);
        let c = choose_release(&git, None, false, VersionScheme::Semver, week, &[], now);
        assert_eq!(c.release.unwrap().version, "1.0.0");
        assert_eq!(c.waiting[0].version, "1.1.0");
        assert_eq!(c.waiting[0].until.as_deref(), Some("2026-12-02T00:00:00Z"));
        let c = choose_release(
            &git,
            None,
            false,
            VersionScheme::Semver,
            week,
            &["1.1.0".into()],
            now,
        );
        assert_eq!(
            c.release.unwrap().version,
            "1.1.0",
            "security releases skip the cooldown"
        );
        // A registry as the primary channel: only what it published (and has a tag) is proposed.
        let npm = [
            published("1.0.0", "2026-10-02T00:00:00Z"),
            published("1.2.0", "2026-10-03T00:00:00Z"),
        ];
        let c = choose_release(
            &git,
            Some(&npm),
            false,
            VersionScheme::Semver,
            week,
            &[],
            now,
        );
        assert_eq!(c.release.unwrap().version, "1.0.0");
        assert_eq!(c.untagged, ["1.2.0"]);
        assert!(c.published.is_some());
    }

    #[test]
    fn behind_the_pin_are_the_candidates_above_it_up_to_the_chosen_one() {
        let t = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        let git = [
            release("1.0.0", "2026-10-01T00:00:00Z"),
            release("1.1.0", "2026-10-05T00:00:00Z"),
            release("1.2.0", "2026-10-09T00:00:00Z"),
            release("1.3.0", "2026-11-25T00:00:00Z"),
        ];
        let v = |s: &str| Version::parse(VersionScheme::Semver, s).unwrap();
        let semver = VersionScheme::Semver;
        // Pinned at 1.0.0, 1.2.0 chosen (1.3.0 still in its cooldown): two behind.
        let behind = behind_pin(
            &git,
            None,
            false,
            semver,
            Some(&v("1.0.0")),
            Some(&git[2]),
            true,
        );
        assert_eq!(
            behind,
            [t("2026-10-05T00:00:00Z"), t("2026-10-09T00:00:00Z")]
        );
        // Current: nothing behind.
        assert!(
            behind_pin(
                &git,
                None,
                false,
                semver,
                Some(&v("1.2.0")),
                Some(&git[2]),
                false
            )
            .is_empty()
        );
        assert!(behind_pin(&git, None, false, semver, Some(&v("1.0.0")), None, true).is_empty());
        // A registry as the primary channel: only its versions count, at its publish times.
        let npm = [published("1.2.0", "2026-10-10T00:00:00Z")];
        let behind = behind_pin(
            &git,
            Some(&npm),
            false,
            semver,
            Some(&v("1.0.0")),
            Some(&git[2]),
            true,
        );
        assert_eq!(behind, [t("2026-10-10T00:00:00Z")]);
        // A pin that is no release (a branch): one behind, since the chosen release.
        let behind = behind_pin(&git, None, false, semver, None, Some(&git[2]), true);
        assert_eq!(behind, [t("2026-10-09T00:00:00Z")]);
    }

    fn state(head: &str, parents: &[&str], author: &str) -> BranchState {
        BranchState {
            head: head.into(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
            author_email: Some(author.into()),
        }
    }

    #[test]
    fn whose_branch_comes_from_what_upkeep_wrote() {
        const BOT: &str = "upkeep@users.noreply.invalid";
        let wrote = |head: Option<&str>, pending: Option<&str>| WrittenBranch {
            head: head.map(String::from),
            pending_base: pending.map(String::from),
        };
        let ours = state("h1", &["base1"], BOT);
        let upkeep = BranchOwner::Upkeep { head: "h1".into() };
        let touched = BranchOwner::Touched { head: "h1".into() };
        let cases = [
            (None, None, BranchOwner::Absent, "no branch"),
            (
                None,
                Some(wrote(Some("h0"), None)),
                BranchOwner::Absent,
                "branch deleted",
            ),
            (
                Some(&ours),
                Some(wrote(Some("h1"), None)),
                upkeep.clone(),
                "the head upkeep wrote",
            ),
            (
                Some(&ours),
                Some(wrote(Some("h0"), None)),
                touched.clone(),
                "a head upkeep did not write, even a bot-authored one on base",
            ),
            (
                Some(&ours),
                None,
                touched.clone(),
                "no record of writing it",
            ),
            (
                Some(&ours),
                Some(wrote(Some("h0"), Some("base1"))),
                upkeep.clone(),
                "the write in flight at a crash: one bot commit on the recorded base",
            ),
            (
                Some(&state("h1", &["h0"], BOT)),
                Some(wrote(Some("h0"), Some("base1"))),
                touched.clone(),
                "in flight, but the head sits on something else (a commit on top)",
            ),
            (
                Some(&state("h1", &["base1"], "pat@example.org")),
                Some(wrote(None, Some("base1"))),
                touched.clone(),
                "in flight, but a person's commit",
            ),
        ];
        for (branch, written, want, why) in cases {
            assert_eq!(owner(branch, written.as_ref(), BOT), want, "{why}");
        }
    }

    #[test]
    fn the_ladder() {
        let same = rec("1.1.0", PrRecordState::Open, "h");
        let older = rec("1.0.0", PrRecordState::Open, "h");
        let declined = rec("1.1.0", PrRecordState::Declined, "h");
        let b = bot("abc");
        let human = BranchOwner::Touched { head: "abc".into() };
        let base = PlanInput {
            version: "1.1.0",
            stored_open: None,
            stored_this: None,
            forge_pr: None,
            branch: &BranchOwner::Absent,
            body_hash: "h",
        };
        let cases: Vec<(PlanInput<'_>, PrPlan)> = vec![
            (PlanInput { ..base }, PrPlan::Create { reuse_branch: None }),
            (
                PlanInput { branch: &b, ..base },
                PrPlan::Create {
                    reuse_branch: Some("abc".into()),
                },
            ),
            (
                PlanInput {
                    branch: &human,
                    ..base
                },
                PrPlan::HumanOnBranch { pr_id: None },
            ),
            (
                PlanInput {
                    stored_open: Some(&same),
                    forge_pr: open(),
                    branch: &b,
                    ..base
                },
                PrPlan::Unchanged,
            ),
            (
                PlanInput {
                    stored_open: Some(&same),
                    forge_pr: open(),
                    branch: &b,
                    body_hash: "new",
                    ..base
                },
                PrPlan::RefreshBody,
            ),
            (
                PlanInput {
                    stored_open: Some(&older),
                    forge_pr: open(),
                    branch: &b,
                    ..base
                },
                PrPlan::UpdateToNewer {
                    expected_head: "abc".into(),
                },
            ),
            (
                PlanInput {
                    stored_open: Some(&older),
                    forge_pr: open(),
                    branch: &human,
                    ..base
                },
                PrPlan::HumanOnBranch {
                    pr_id: Some("7".into()),
                },
            ),
            (
                PlanInput {
                    stored_this: Some(&declined),
                    ..base
                },
                PrPlan::Declined {
                    by: Some("ada".into()),
                },
            ),
            (
                PlanInput {
                    stored_open: Some(&same),
                    forge_pr: Some(ForgeView {
                        state: PrState::Closed,
                        title: "t",
                        body_hash: None,
                    }),
                    ..base
                },
                PrPlan::Declined {
                    by: Some("ada".into()),
                },
            ),
            (
                PlanInput {
                    stored_open: Some(&older),
                    forge_pr: Some(ForgeView {
                        state: PrState::Closed,
                        title: "t",
                        body_hash: None,
                    }),
                    ..base
                },
                PrPlan::Create { reuse_branch: None },
            ),
            (
                PlanInput {
                    stored_open: Some(&same),
                    forge_pr: Some(ForgeView {
                        state: PrState::Merged,
                        title: "t",
                        body_hash: None,
                    }),
                    ..base
                },
                PrPlan::Merged,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(plan_pr(&input), want, "{input:?}");
        }
    }
}
