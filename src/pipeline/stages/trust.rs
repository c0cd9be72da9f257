//! Stage `trust`: every release tag → commit pair ever seen is remembered; a release tag that now
//! names another commit (moved or re-created) holds the server and alarms its owners.
//!
//! Remembering the tags and queueing the alarm are one decision: one transaction, whose email is
//! keyed on the moved tags so a rerun never alarms twice. A dry run looks without remembering.

use super::fetch::Upstream;
use super::record::{new_email, sha256_hex};
use crate::pipeline::ServerRun;
use crate::render;
use crate::report::MovedTag;
use crate::store::Store;
use crate::upstream;

/// Remember the release tags (unless a dry run) and return those that moved; they are in the
/// report, with the alarm counted in its queued emails.
pub fn check(run: &mut ServerRun<'_>, upstream: &Upstream) -> anyhow::Result<Vec<MovedTag>> {
    let server = run.server;
    let store = &run.deps.store;
    if run.mode.dry_run {
        // Look, do not remember.
        let moved = store.moved_tags(&server.name, &upstream.release_tags)?;
        run.report.moved_tags.clone_from(&moved);
        return Ok(moved);
    }
    let upstream_url = upstream::redact_url(&server.upstream);
    let run_id = run.run_id;
    let (moved, queued) = store.transaction(|tx| {
        let moved = Store::record_tags(tx, &server.name, &upstream.release_tags)?;
        if moved.is_empty() {
            return Ok((moved, 0));
        }
        let fp = sha256_hex(
            &moved
                .iter()
                .map(|m| format!("{}={}", m.tag, m.new_commit))
                .collect::<Vec<_>>()
                .join(","),
        );
        let key = format!("{}:moved-tag:{}", server.name, &fp[..16]);
        let text = render::moved_tag_email(&server.name, &upstream_url, &moved);
        let email = new_email(&key, &server.name, "moved-tag", &server.owners, &[], text);
        let queued = usize::from(Store::enqueue_email(tx, &email, Some(run_id))?);
        Ok((moved, queued))
    })?;
    run.report.emails_queued += queued;
    run.report.moved_tags.clone_from(&moved);
    Ok(moved)
}
