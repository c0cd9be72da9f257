//! Guarded auto-merge of the rebuild PR (issue 17), carried out. The decision is pure
//! ([`plan::automerge`]); here its inputs are gathered and its answer is acted on:
//!
//! 1. [`verdict`] (in `propose`): the guards over what `judge` found, for the PR body's
//!    "Auto-merge" line and the report.
//! 2. [`before_push`] (in `apply`, before a new head goes onto an existing PR): a PR that may
//!    be armed is disarmed first when the new head may not be merged unreviewed, so the forge
//!    can never merge it. A forge that cannot confirm the disarm stops the push.
//! 3. [`settle`] (after the PR's checks are read): arm the forge's auto-merge when every guard
//!    holds for the head the PR has now, or cancel what upkeep armed when one does not.
//! 4. [`on_moved_tag`]: a moved tag ends the run before `judge`; a PR upkeep armed is
//!    disarmed all the same.
//!
//! What upkeep did is kept per PR (`store::AutoMergeRecord`, `arming` before the forge is
//! asked), but every arm and disarm asks the forge first: arming an armed PR sends nothing, and
//! a run that died mid-way is finished by the next. The quiet path decides nothing: a quiet
//! upstream leaves the PR as the last full check left it (the forge's auto-merge waits for its
//! own checks meanwhile).

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::ServerRun;
use super::plan::automerge::{self as guard, AutoMerge, Guard, GuardInput};
use super::stages::judge::Judged;
use crate::forge::Forge;
use crate::forge::automerge::Armed;
use crate::forge::checks::ChecksState;
use crate::render::automerge as text;
use crate::report::AutoMergeReport;
use crate::store::{AutoMergeRecord, PrRecord};

/// The guards over the proposed release and the PR that will carry it.
pub fn verdict(run: &ServerRun<'_>, judged: &Judged, version: &str) -> anyhow::Result<AutoMerge> {
    let store = &run.deps.store;
    // The open PR already carrying this version keeps its head unless a person moved it: its
    // stored checks and the forge's last answer are about the head that will be armed.
    let (checks, forge_refused) = match store.open_pr(&run.server.name)? {
        Some(pr) if pr.version == version => {
            let checks = store
                .checks(pr.id)?
                .filter(|c| Some(&c.head_commit) == pr.head_commit.as_ref())
                .map(|c| c.state);
            let refused = store
                .auto_merge(pr.id)?
                .is_some_and(|r| r.state == "refused");
            (checks, refused)
        }
        _ => (None, false),
    };
    let published = run
        .report
        .latest
        .as_ref()
        .and_then(|l| l.date.as_deref())
        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.with_timezone(&Utc));
    Ok(guard::decide(
        run.server.mirror.auto_merge.is_some(),
        &GuardInput {
            held: judged.held(),
            license: judged.judgement.verdict,
            mcp_gating_findings: judged.mcp.as_ref().map_or(0, |m| m.gating_findings),
            // A moved tag ends the run before `judge` ([`on_moved_tag`]).
            moved_tag: false,
            published,
            cooldown: run.server.release.cooldown,
            now: Utc::now(),
            signals: judged.diff.as_ref().map(|d| d.signals.as_slice()),
            checks,
            forge_refused,
        },
    ))
}

/// The PR body's "Auto-merge" line, None when auto-merge is off for the server.
pub fn body_line(run: &ServerRun<'_>, verdict: &AutoMerge) -> Option<String> {
    let strategy = run.server.mirror.auto_merge.map(|o| o.strategy.as_str());
    match verdict {
        AutoMerge::Off => None,
        AutoMerge::Arm => Some(text::pr_line(strategy, &[])),
        AutoMerge::Blocked(guards) => {
            let words: Vec<&str> = guards.iter().map(|g| g.plain()).collect();
            Some(text::pr_line(None, &words))
        }
    }
}

/// Before a new head is pushed onto the PR `rec` (forge id `pr_id`): when the new head may not
/// be merged unreviewed (`verdict` is not Arm; None: the branch is a person's now, so nothing
/// upkeep armed there stands), make sure the forge's auto-merge is off. The forge is asked
/// whenever auto-merge is configured or upkeep may have armed the PR; an error stops the push.
pub fn before_push(
    run: &mut ServerRun<'_>,
    forge: &dyn Forge,
    rec: Option<&PrRecord>,
    pr_id: &str,
    verdict: Option<&AutoMerge>,
) -> anyhow::Result<()> {
    if matches!(verdict, Some(AutoMerge::Arm)) {
        return Ok(());
    }
    let store = &run.deps.store;
    let kept = match rec {
        Some(r) => store.auto_merge(r.id)?,
        None => None,
    };
    let maybe_armed = kept.as_ref().is_some_and(AutoMergeRecord::maybe_armed);
    if run.server.mirror.auto_merge.is_none() && !maybe_armed {
        return Ok(());
    }
    forge
        .disarm_auto_merge(pr_id)
        .with_context(|| format!("cancelling auto-merge of PR {pr_id} before the push"))?;
    if maybe_armed {
        tracing::info!(pr = %pr_id, "auto-merge cancelled");
        run.report.notes.push(format!(
            "auto-merge of PR {pr_id} was cancelled before anything new reached it: {}",
            verdict.map_or("a person pushed to its branch", |v| v
                .blocked_by()
                .first()
                .map_or("a guard no longer holds", |g| g.plain()))
        ));
    }
    if let Some(r) = rec {
        let guards = verdict.map_or(Vec::new(), |v| codes(v.blocked_by()));
        store.put_auto_merge(r.id, &r.server, &record("blocked", None, guards, None))?;
    }
    Ok(())
}

/// After the PR's checks were read: arm or cancel the forge's auto-merge of the open PR for the
/// head it has now, and report it. Never fails the server: a forge that cannot say leaves a
/// note, and the next full check asks again.
pub fn settle(run: &mut ServerRun<'_>, forge: &dyn Forge, proposed: &AutoMerge) {
    if run.mode.dry_run {
        return;
    }
    if let Err(e) = settle_open_pr(run, forge, proposed) {
        let msg = format!("{e:#}");
        tracing::warn!(error = %msg, "could not settle the rebuild PR's auto-merge");
        run.report.notes.push(format!(
            "auto-merge could not be settled ({msg}); the next full check tries again"
        ));
    }
}

fn settle_open_pr(
    run: &mut ServerRun<'_>,
    forge: &dyn Forge,
    proposed: &AutoMerge,
) -> anyhow::Result<()> {
    let store = &run.deps.store;
    let Some(pr) = store.open_pr(&run.server.name)? else {
        return Ok(());
    };
    let (Some(id), Some(head)) = (pr.forge_id.clone(), pr.head_commit.clone()) else {
        return Ok(());
    };
    let checks: Option<ChecksState> = store
        .checks(pr.id)?
        .filter(|c| c.head_commit == head)
        .map(|c| c.state);
    let now = proposed.recheck(checks);
    let kept = store.auto_merge(pr.id)?;
    let maybe_armed = kept.as_ref().is_some_and(AutoMergeRecord::maybe_armed);
    let report = match &now {
        AutoMerge::Arm => arm(run, forge, &pr, &id, &head)?,
        AutoMerge::Off | AutoMerge::Blocked(_) => {
            if maybe_armed {
                forge.disarm_auto_merge(&id)?;
                tracing::info!(pr = %id, "auto-merge cancelled: a guard no longer holds");
            }
            let state = now.state();
            let guards = codes(now.blocked_by());
            store.put_auto_merge(
                pr.id,
                &pr.server,
                &record(state, Some(&head), guards.clone(), None),
            )?;
            AutoMergeReport {
                state: state.into(),
                blocked_by: guards,
                strategy: None,
                note: None,
            }
        }
    };
    if let Some(p) = run.report.pull_request.as_mut() {
        p.auto_merge = Some(report);
    }
    Ok(())
}

/// Ask the forge to arm its auto-merge of `pr` at `head`, recorded `arming` first.
fn arm(
    run: &mut ServerRun<'_>,
    forge: &dyn Forge,
    pr: &PrRecord,
    id: &str,
    head: &str,
) -> anyhow::Result<AutoMergeReport> {
    let Some(options) = run.server.mirror.auto_merge else {
        anyhow::bail!("armed without auto-merge configured");
    };
    let store = &run.deps.store;
    let strategy = options.strategy.as_str();
    store.put_auto_merge(
        pr.id,
        &pr.server,
        &record("arming", Some(head), vec![], None),
    )?;
    let answer = forge.arm_auto_merge(id, head, &options);
    // Killed here, the forge has it armed and the record says `arming`: the next run asks the
    // forge, finds it armed, and sends nothing.
    crate::failpoint::hit("after-arm-auto-merge");
    let (state, blocked_by, note) = match answer {
        Ok(Armed::Armed) => ("armed", vec![], None),
        Ok(Armed::MergedNow) => ("merged", vec![], None),
        Ok(Armed::Refused(words)) => ("refused", vec![Guard::ForgeRefused], Some(words)),
        // Nothing known armed: the record stays `arming`, so a later push asks the forge first.
        Err(e) => return Err(anyhow::Error::new(e).context("arming auto-merge")),
    };
    let mut kept = record(state, Some(head), codes(&blocked_by), note.clone());
    kept.strategy = Some(strategy.into());
    store.put_auto_merge(pr.id, &pr.server, &kept)?;
    tracing::info!(pr = %id, state, strategy, "auto-merge");
    if let Some(words) = &note {
        run.report.notes.push(format!(
            "the forge would not arm auto-merge of PR {id}: {words}"
        ));
    }
    Ok(AutoMergeReport {
        state: if state == "refused" { "blocked" } else { state }.into(),
        blocked_by: codes(&blocked_by),
        strategy: Some(strategy.into()),
        note,
    })
}

/// A moved release tag holds the server: cancel the auto-merge of an open PR upkeep may have
/// armed (the forge must not merge a rebuild of a release whose tag moved).
pub fn on_moved_tag(run: &mut ServerRun<'_>, forge: &dyn Forge) -> anyhow::Result<()> {
    let store = &run.deps.store;
    let Some(pr) = store.open_pr(&run.server.name)? else {
        return Ok(());
    };
    let Some(id) = pr.forge_id.clone() else {
        return Ok(());
    };
    let blocked = AutoMerge::Blocked(vec![Guard::MovedTag]);
    before_push(run, forge, Some(&pr), &id, Some(&blocked))
}

/// The PR's checks failed (read on any path, the quiet one included): cancel an auto-merge
/// upkeep may have armed at once, rather than at the next full check. A check the repository
/// does not require would not stop the forge from merging.
pub fn on_failed_checks(
    run: &mut ServerRun<'_>,
    forge: &dyn Forge,
    pr: &PrRecord,
) -> anyhow::Result<()> {
    let Some(id) = pr.forge_id.clone() else {
        return Ok(());
    };
    let maybe_armed = run
        .deps
        .store
        .auto_merge(pr.id)?
        .is_some_and(|r| r.maybe_armed());
    if !maybe_armed {
        return Ok(());
    }
    let blocked = AutoMerge::Blocked(vec![Guard::ChecksFailing]);
    before_push(run, forge, Some(pr), &id, Some(&blocked))
}

/// What the run report says for a dry run: what the guards would do.
pub fn report_planned(run: &mut ServerRun<'_>, verdict: &AutoMerge) {
    if let Some(p) = run.report.pull_request.as_mut() {
        p.auto_merge = Some(AutoMergeReport {
            state: verdict.state().into(),
            blocked_by: codes(verdict.blocked_by()),
            strategy: None,
            note: None,
        });
    }
}

fn codes(guards: &[Guard]) -> Vec<String> {
    guards.iter().map(|g| g.code().to_string()).collect()
}

fn record(
    state: &str,
    head: Option<&str>,
    blocked_by: Vec<String>,
    note: Option<String>,
) -> AutoMergeRecord {
    AutoMergeRecord {
        state: state.into(),
        head_commit: head.map(str::to_string),
        strategy: None,
        blocked_by,
        note,
        updated_at: String::new(),
    }
}
