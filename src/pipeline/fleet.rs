//! The fleet's side of one server's run (issue 17): what a full check saw of the releases newer
//! than the pin (kept for `crate::freshness`), the merge of a rebuild PR (its lead time), the
//! server's freshness attached to its report once the run is recorded, and the owners' notice
//! when its lag passes `max-lag`.
//!
//! The decisions are pure and live elsewhere ([`plan::behind_pin`], [`crate::freshness`]);
//! this file gathers their inputs and keeps their answers.

use super::ServerRun;
use super::plan;
use super::stages::fetch::Upstream;
use super::stages::pin::Mirror;
use super::stages::record::new_email;
use super::stages::releases::Releases;
use super::state_cache::StoreCache;
use crate::config::ServerConfig;
use crate::deps::Deps;
use crate::forge::{Forge, PrState};
use crate::freshness::Freshness;
use crate::render::fleet::{LagNotice, lag_email};
use crate::report::ServerReport;
use crate::store::{Behind, PrRecord, Store, Tx};

/// After `trust`: keep how many proposable releases are newer than the pin and since when
/// (nothing in a dry run). A moved tag is kept too: it blocks the server until accepted.
pub fn note_behind(
    run: &ServerRun<'_>,
    upstream: &Upstream,
    releases: &Releases,
    mirror: &Mirror,
    moved_tag: bool,
) -> anyhow::Result<()> {
    if run.mode.dry_run {
        return Ok(());
    }
    let server = run.server;
    let primary = releases
        .lookups
        .iter()
        .find(|(channel, _)| *channel == server.release.channel)
        .and_then(|(_, r)| r.as_ref().ok())
        .map(|o| o.lookup.releases.as_slice());
    let published = plan::behind_pin(
        &upstream.releases,
        primary,
        server.release.prerelease,
        server.release.scheme,
        mirror.pinned_version.as_ref(),
        releases.chosen.as_ref(),
        mirror.newer,
    );
    let (releases_behind, behind_since) = crate::freshness::behind(&published);
    tracing::debug!(releases_behind, behind_since = ?behind_since, "behind the pin");
    run.deps.store.put_behind(
        &server.name,
        &Behind {
            releases_behind,
            behind_since,
            moved_tag,
        },
    )
}

/// Inside the transaction that marks `pr` merged: when (the forge's merge time, `merged_at`,
/// when it said one; else now, when upkeep saw it), and the publish time of the release it
/// proposed (known when it is the release this run is about), for the lead time.
pub fn record_merge(
    tx: &Tx<'_>,
    report: &ServerReport,
    pr: &PrRecord,
    merged_at: Option<&str>,
) -> anyhow::Result<()> {
    let published = report
        .latest
        .as_ref()
        .filter(|l| l.version == pr.version)
        .and_then(|l| l.date.as_deref());
    let merged_at = merged_at
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    Store::record_merge(tx, pr.id, &pr.server, &pr.version, published, merged_at)
}

/// The forge's merge time of the server's open rebuild PR, when the forge shows it merged
/// (GitHub `merged_at`, Azure DevOps `closedDate`): asked when the pin reached the base, so a
/// merge is dated when it happened even when the pin is what showed it. One read through the
/// state's HTTP cache (a `304` on GitHub right after the quiet path saw the merge). None when
/// there is no open PR, it is not merged, or the forge cannot say (the merge is then dated now).
pub fn merge_time(run: &ServerRun<'_>, forge: &dyn Forge) -> Option<String> {
    let read = || -> anyhow::Result<Option<String>> {
        let Some(id) = run
            .deps
            .store
            .open_pr(&run.server.name)?
            .and_then(|pr| pr.forge_id)
        else {
            return Ok(None);
        };
        let cache = StoreCache::of_pr(&run.deps.store, !run.mode.dry_run, &run.server.name);
        Ok(forge
            .pr_state(&id, &cache)?
            .filter(|seen| seen.state == PrState::Merged)
            .and_then(|seen| seen.closed_at))
    };
    read().unwrap_or_else(|e| {
        tracing::warn!(error = %format!("{e:#}"), "could not read when the rebuild PR was merged; dated now");
        None
    })
}

/// Attach the server's freshness, from the state as this run left it, and tell the owners when
/// the lag has passed `max-lag` (once per period; not in a dry run). Never fails the server: a
/// state that cannot be read leaves the report without it (and says so in the log).
pub fn attach(deps: &Deps, run_id: i64, dry_run: bool, report: &mut ServerReport) {
    let view = match deps.store.freshness_view(&report.name) {
        Ok(view) => view,
        Err(e) => {
            tracing::warn!(server = %report.name, error = %format!("{e:#}"), "could not read the server's freshness");
            return;
        }
    };
    let fresh = crate::freshness::assess(&view, chrono::Utc::now());
    if !dry_run && let Some(server) = deps.config.server(&report.name) {
        match lag_notice(deps, server, run_id, &fresh) {
            Ok(queued) => report.emails_queued += usize::from(queued),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "could not queue the lag notice");
            }
        }
    }
    report.freshness = Some(fresh);
}

/// Queue the lag notice when the lag has passed another whole `max-lag`; the key names the
/// episode (when it fell behind) and the period, so each is told once.
fn lag_notice(
    deps: &Deps,
    server: &ServerConfig,
    run_id: i64,
    fresh: &Freshness,
) -> anyhow::Result<bool> {
    let max_lag = server.max_lag.unwrap_or(deps.config.freshness.max_lag);
    let periods = crate::freshness::lag_periods(fresh.lag, max_lag);
    let Some(since) = fresh.behind_since.as_deref() else {
        return Ok(false);
    };
    if periods == 0 || server.owners.is_empty() {
        return Ok(false);
    }
    let pr = deps.store.open_pr(&server.name)?;
    let text = lag_email(&LagNotice {
        server: &server.name,
        releases_behind: fresh.releases_behind,
        behind_since: since,
        lag: &crate::freshness::human(fresh.lag.unwrap_or(0)),
        max_lag: &crate::freshness::human(max_lag.as_secs()),
        blocker: fresh.blocker.map(|b| b.as_str()),
        pr_url: pr.as_ref().and_then(|p| p.url.as_deref()),
    });
    let key = format!("{}:lag:{since}:{periods}", server.name);
    let email = new_email(&key, &server.name, "lag", &server.owners, &[], text);
    deps.store
        .transaction(|tx| Store::enqueue_email(tx, &email, Some(run_id)))
}
