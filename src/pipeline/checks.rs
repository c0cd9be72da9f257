//! The pipeline's answer on the rebuild PR (issue 17): read the checks of the open PR's head
//! commit from the forge, keep them (`pr_checks`, which `freshness` shows as `pipeline-failed`),
//! put them in the report (`pull_request.checks`), and tell the owners once per head commit
//! when they failed (the outbox key names the commit, so a rerun queues nothing new).
//!
//! Read after `apply` on a full check (the head is then the one the PR will keep: reading in
//! `decide` would see the head `apply` is about to replace), and on the quiet path for a server
//! with an open PR, after the quiet stage saw it still open. Never fails the
//! server: a forge that cannot say leaves the last answer in place and a note in the report.

use super::ServerRun;
use super::stages::record::new_email;
use super::state_cache::StoreCache;
use crate::config::ForgeConfig;
use crate::forge::Forge;
use crate::forge::checks::ChecksState;
use crate::render::fleet::{PipelineFailed, pipeline_failed_email};
use crate::report::ChecksReport;
use crate::store::{ChecksRecord, FailedCheck, PrRecord, Store};

/// A full check: the open PR's checks, read on the forge the run already has.
pub fn observe(run: &mut ServerRun<'_>, forge: &dyn Forge) {
    if run.mode.dry_run {
        return;
    }
    let result = match run.deps.store.open_pr(&run.server.name) {
        Ok(Some(pr)) => read_and_keep(run, forge, &pr),
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    note_failure(run, result);
}

/// The quiet path: the open PR's checks, on the forge the quiet stage made to read the PR's
/// state (None: no open PR, or a forge that could not be set up, which that stage noted). A
/// local mirror has no pipeline: nothing is read.
pub fn observe_quiet(run: &mut ServerRun<'_>, forge: Option<&dyn Forge>) {
    if let Some(forge) = forge
        && !matches!(run.server.mirror.forge, ForgeConfig::Local { .. })
    {
        observe(run, forge);
    }
}

fn note_failure(run: &mut ServerRun<'_>, result: anyhow::Result<()>) {
    if let Err(e) = result {
        let msg = format!("{e:#}");
        tracing::warn!(error = %msg, "could not read the rebuild PR's checks");
        run.report.notes.push(format!(
            "the rebuild PR's checks could not be read ({msg}); the last answer stands"
        ));
    }
}

fn read_and_keep(run: &mut ServerRun<'_>, forge: &dyn Forge, pr: &PrRecord) -> anyhow::Result<()> {
    let (Some(id), Some(head)) = (pr.forge_id.as_deref(), pr.head_commit.as_deref()) else {
        return Ok(());
    };
    // Conditional through the state's HTTP cache (kept as the PR's, so it goes when the PR
    // ends): an unchanged head's checks cost `304`s, under `serve` and for a one-shot
    // `sync --now` alike. A dry run never gets here.
    let cache = StoreCache::of_pr(&run.deps.store, true, &run.server.name);
    let found = tracing::info_span!("checks", pr = %id, head = %head)
        .in_scope(|| forge.pr_checks(id, pr.url.as_deref().unwrap_or_default(), head, &cache))?;
    let state = found.state();
    let failed: Vec<FailedCheck> = found
        .failed()
        .map(|c| FailedCheck {
            name: c.name.clone(),
            url: c.url.clone(),
        })
        .collect();
    let store = &run.deps.store;
    let name = &run.server.name;
    store.put_checks(
        pr.id,
        name,
        &ChecksRecord {
            head_commit: head.to_string(),
            state,
            failed: failed.clone(),
            url: found.url.clone(),
            checked_at: super::now_str(),
        },
    )?;
    tracing::info!(
        state = state.as_str(),
        failed = failed.len(),
        "rebuild PR checks"
    );
    if state == ChecksState::Failure {
        super::automerge::on_failed_checks(run, forge, pr)?;
    }
    if state == ChecksState::Failure && !run.server.owners.is_empty() {
        let listed: Vec<(String, Option<String>)> = failed
            .iter()
            .map(|f| (f.name.clone(), f.url.clone()))
            .collect();
        let text = pipeline_failed_email(&PipelineFailed {
            server: name,
            version: &pr.version,
            pr_url: pr.url.as_deref(),
            head,
            failed: &listed,
            checks_url: found.url.as_deref(),
        });
        // Once per head commit: a rerun finds the key taken; a new commit that fails is new.
        let key = format!("{name}:pipeline-failed:{head}");
        let email = new_email(&key, name, "pipeline-failed", &run.server.owners, &[], text);
        let run_id = run.run_id;
        if store.transaction(|tx| Store::enqueue_email(tx, &email, Some(run_id)))? {
            run.report.emails_queued += 1;
        }
    }
    if let Some(report) = run.report.pull_request.as_mut() {
        report.checks = Some(ChecksReport {
            state,
            failed: failed.into_iter().map(|f| f.name).collect(),
            url: found.url,
        });
    }
    Ok(())
}
