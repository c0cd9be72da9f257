//! The fleet's side of one server's run (issue 17): what a full check saw of the releases newer
//! than the pin (kept for `crate::freshness`), the merge of a rebuild PR (its lead time), and
//! the server's freshness attached to its report once the run is recorded.
//!
//! The decisions are pure and live elsewhere ([`plan::behind_pin`], [`crate::freshness`]);
//! this file gathers their inputs and keeps their answers.

use super::ServerRun;
use super::plan;
use super::stages::fetch::Upstream;
use super::stages::pin::Mirror;
use super::stages::releases::Releases;
use crate::report::ServerReport;
use crate::store::{Behind, PrRecord, Store};

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

/// Inside the transaction that marks `pr` merged: when, and the publish time of the release it
/// proposed (known when it is the release this run is about), for the lead time.
pub fn record_merge(
    tx: &rusqlite::Transaction<'_>,
    report: &ServerReport,
    pr: &PrRecord,
) -> anyhow::Result<()> {
    let published = report
        .latest
        .as_ref()
        .filter(|l| l.version == pr.version)
        .and_then(|l| l.date.as_deref());
    Store::record_merge(tx, pr.id, &pr.server, &pr.version, published)
}

/// Attach the server's freshness, from the state as this run left it. Never fails the server:
/// a state that cannot be read leaves the report without it (and says so in the log).
pub fn attach(store: &Store, report: &mut ServerReport) {
    match store.freshness_view(&report.name) {
        Ok(view) => {
            report.freshness = Some(crate::freshness::assess(&view, chrono::Utc::now()));
        }
        Err(e) => {
            tracing::warn!(server = %report.name, error = %format!("{e:#}"), "could not read the server's freshness");
        }
    }
}
