//! Stage `record`: the run's outcome, kept in the state. Each outcome is one transaction (the PR
//! record, the hold and its email together), so a crash keeps all of a decision or none of it;
//! the report says the same as the state.
//!
//! Also here: the state side of a failed server ([`record_failure`]), the quiet mark of a
//! replayable outcome, and the helpers the other stages' own decisions use (emails, hashes).

use sha2::Digest as _;

use super::apply::{Applied, OpenPr};
use super::decide::{self, Decision};
use super::judge::Judged;
use super::pin::Mirror;
use super::propose::Proposal;
use crate::deps::Deps;
use crate::pipeline::plan::PrPlan;
use crate::pipeline::{ServerRun, now_str};
use crate::render;
use crate::report::{MovedTag, PrAction, ServerReport, Status};
use crate::store::{NewEmail, PrRecord, PrRecordState, ReviewKind, ServerState, Store};

/// A release tag moved: the server is held; no PR work is done.
pub fn tag_moved(
    run: &mut ServerRun<'_>,
    mirror: &Mirror,
    moved: &[MovedTag],
) -> anyhow::Result<()> {
    let m = &moved[0];
    let reason = format!(
        "release tag {} moved from {} to {}",
        m.tag,
        &m.old_commit[..m.old_commit.len().min(10)],
        &m.new_commit[..m.new_commit.len().min(10)]
    );
    tracing::warn!(tag = %m.tag, old = %m.old_commit, new = %m.new_commit, "release tag moved upstream; holding");
    run.report.status = Status::Held;
    run.report.hold_reason = Some(reason.clone());
    if run.mode.dry_run {
        return Ok(());
    }
    let mut state = server_state(run, mirror)?;
    state.last_status = Some(Status::Held.as_str().into());
    if state.hold_reason.is_none() {
        state.held_since = Some(now_str());
    }
    state.hold_reason = Some(reason);
    run.deps
        .store
        .transaction(|tx| Store::put_server_state(tx, &state))
}

/// The pin is at the newest release (the PR was merged, or someone bumped it by hand): close
/// the books.
pub fn caught_up(run: &mut ServerRun<'_>, mirror: &Mirror) -> anyhow::Result<()> {
    run.report.status = Status::UpToDate;
    if run.mode.dry_run {
        return Ok(());
    }
    let mut state = server_state(run, mirror)?;
    // The pin reached the base; the forge says when the PR merged, where it has PRs.
    let merged_at = crate::pipeline::fleet::merge_time(run, mirror.forge.as_ref());
    let (name, report) = (&run.server.name, &run.report);
    run.deps.store.transaction(|tx| {
        if let Some(open) = Store::open_pr_tx(tx, name)? {
            Store::set_pr_state(tx, open.id, PrRecordState::Merged, None)?;
            crate::pipeline::fleet::record_merge(tx, report, &open, merged_at.as_deref())?;
        }
        Store::clear_pending(tx, ReviewKind::License, name)?;
        Store::clear_pending(tx, ReviewKind::Mcp, name)?;
        state.last_status = Some(Status::UpToDate.as_str().into());
        state.last_success_at = Some(now_str());
        state.hold_reason = None;
        state.held_since = None;
        Store::put_server_state(tx, &state)
    })
}

/// A PR the forge shows closed without merge declines the version it proposed.
pub fn declined_on_forge(
    run: &ServerRun<'_>,
    record: &PrRecord,
    closed_by: Option<&str>,
) -> anyhow::Result<()> {
    run.deps
        .store
        .transaction(|tx| Store::set_pr_state(tx, record.id, PrRecordState::Declined, closed_by))
}

/// What the apply stage did, kept.
pub fn record(
    run: &mut ServerRun<'_>,
    mirror: &Mirror,
    judged: &Judged,
    proposal: &Proposal,
    decision: &Decision,
    applied: Applied,
) -> anyhow::Result<()> {
    match applied {
        Applied::Declined { by } => declined(run, mirror, proposal, decision, by.as_deref()),
        Applied::Merged => merged(run, proposal, decision),
        Applied::Open(open) => opened(run, mirror, judged, proposal, decision, *open),
    }
}

/// The version was declined: wait for a newer release.
fn declined(
    run: &mut ServerRun<'_>,
    mirror: &Mirror,
    proposal: &Proposal,
    decision: &Decision,
    by: Option<&str>,
) -> anyhow::Result<()> {
    let store = &run.deps.store;
    if let Some(rec) = &decision.stored_this {
        store.transaction(|tx| Store::set_pr_state(tx, rec.id, PrRecordState::Declined, by))?;
    }
    run.report.notes.push(format!(
        "version {} was declined (its PR was closed without merge); waiting for a newer release",
        mirror.latest.version
    ));
    let mut pr = decide::pr_report(proposal, decision);
    pr.action = PrAction::Declined;
    run.report.status = Status::UpToDate;
    let mut state = server_state(run, mirror)?;
    state.last_status = Some(Status::UpToDate.as_str().into());
    state.last_success_at = Some(now_str());
    run.deps
        .store
        .transaction(|tx| Store::put_server_state(tx, &state))?;
    run.report.pull_request = Some(pr);
    Ok(())
}

/// The rebuild PR was merged; the next full check sees the pin moved.
fn merged(run: &mut ServerRun<'_>, proposal: &Proposal, decision: &Decision) -> anyhow::Result<()> {
    run.report.notes.push(
        "the rebuild PR was merged; the pin on the base branch will show the new release".into(),
    );
    run.report.status = Status::UpToDate;
    if let Some(rec) = &decision.stored_open {
        let report = &run.report;
        // The forge's merge time (GitHub `merged_at`, Azure DevOps `closedDate`): a merge seen
        // only at the next full check still counts its lead time to when it happened.
        let merged_at = decision
            .forge_pr
            .as_ref()
            .filter(|p| p.state == crate::forge::PrState::Merged)
            .and_then(|p| p.closed_at.as_deref());
        run.deps.store.transaction(|tx| {
            Store::set_pr_state(tx, rec.id, PrRecordState::Merged, None)?;
            crate::pipeline::fleet::record_merge(tx, report, rec, merged_at)
        })?;
    }
    run.report.pull_request = Some(decide::pr_report(proposal, decision));
    Ok(())
}

/// The PR, the license baseline, the hold and its email, and the server's state: one
/// transaction.
fn opened(
    run: &mut ServerRun<'_>,
    mirror: &Mirror,
    judged: &Judged,
    proposal: &Proposal,
    decision: &Decision,
    open: OpenPr,
) -> anyhow::Result<()> {
    let (server, held) = (run.server, proposal.held);
    let mut pr = decide::pr_report(proposal, decision);
    pr.action = decision.plan.action();
    pr.url = Some(open.info.url.clone());
    pr.branch.clone_from(&open.branch);
    if open.ready_despite_hold {
        pr.draft = false;
    }
    run.report.status = decision.plan.status(held);
    run.report.warnings = forge_warnings(run, decision, &open.info.warnings)?;
    let record = PrRecord {
        id: 0,
        server: server.name.clone(),
        version: mirror.latest.version.clone(),
        tag: mirror.latest.tag.clone(),
        commit: mirror.latest.commit.clone(),
        branch: open.branch,
        forge_id: Some(open.info.id.clone()),
        url: Some(open.info.url.clone()),
        title: proposal.title.clone(),
        body_hash: proposal.body_hash.clone(),
        head_commit: open.head,
        state: PrRecordState::Open,
        held,
        closed_by: None,
        created_at: String::new(),
        updated_at: String::new(),
    };
    let baseline_json = serde_json::to_string(&judged.old_snap)?;
    let holds = Holds::of(run, judged, proposal, &open.info.url)?;
    let mut state = server_state(run, mirror)?;
    let (status, run_id) = (run.report.status, run.run_id);
    crate::failpoint::hit("before-record-pr");
    let queued = run.deps.store.transaction(|tx| {
        Store::upsert_pr(tx, &record)?;
        crate::failpoint::hit("inside-record-pr-transaction");
        // The license baseline: what the pinned release's license files were when judged.
        if let Some(pinned) = &mirror.pinned_commit {
            let fingerprint = judged.old_snap.fingerprint();
            Store::put_license_baseline(tx, &server.name, pinned, &fingerprint, &baseline_json)?;
        }
        let mut queued = 0;
        let mut reasons = Vec::new();
        for (kind, hold) in [
            (ReviewKind::License, &holds.license),
            (ReviewKind::Mcp, &holds.mcp),
        ] {
            match hold {
                Some(h) => {
                    // A text nobody decided, replaced by a newer one: kept in the audit trail.
                    Store::supersede_pending_tx(tx, kind, &server.name, &h.fingerprint)?;
                    Store::put_pending(tx, kind, &server.name, &h.fingerprint, &h.json)?;
                    queued += usize::from(match &h.card {
                        Some(card) => crate::pipeline::chat::enqueue_with_card(
                            tx,
                            &h.email,
                            &h.attachments,
                            card,
                            Some(run_id),
                        )?,
                        None => {
                            Store::enqueue_email_with(tx, &h.email, &h.attachments, Some(run_id))?
                        }
                    });
                    reasons.push(h.reason.clone());
                }
                None => Store::clear_pending(tx, kind, &server.name)?,
            }
        }
        if reasons.is_empty() {
            state.hold_reason = None;
            state.held_since = None;
        } else {
            state.hold_reason = Some(reasons.join("; "));
            if state.held_since.is_none() {
                state.held_since = Some(now_str());
            }
        }
        state.last_status = Some(status.as_str().into());
        state.last_success_at = Some(now_str());
        Store::put_server_state(tx, &state)?;
        Ok(queued)
    })?;
    crate::failpoint::hit("after-record-pr");
    run.report.emails_queued += queued;
    if held {
        run.report.hold_reason.clone_from(&state.hold_reason);
    }
    run.report.pull_request = Some(pr);
    Ok(())
}

/// A review that holds the rebuild: what is pending, why, and the email that asks for it.
struct Hold {
    fingerprint: String,
    /// What the reviewer is shown later (`license show`): the judgement, as JSON.
    json: String,
    reason: String,
    email: NewEmail,
    /// Files sent with the email (the license texts and their comparison).
    attachments: Vec<crate::report::Attachment>,
    /// What chat destinations show (None: a card made from the email).
    card: Option<render::chat::ChatCard>,
}

/// The reviews holding the rebuild (each None when it does not hold).
struct Holds {
    license: Option<Hold>,
    mcp: Option<Hold>,
}

impl Holds {
    fn of(
        run: &ServerRun<'_>,
        judged: &Judged,
        proposal: &Proposal,
        pr_url: &str,
    ) -> anyhow::Result<Holds> {
        let server = run.server;
        let view = proposal.view(run, judged);
        let license = if judged.license_held {
            let j = &judged.judgement;
            let sla_days = run.deps.config.email.review_sla.as_secs() / 86_400;
            let (text, attachments) =
                render::license_email_with_attachments(&view, Some(pr_url), sla_days);
            let key = format!("{}:license-review:{}", server.name, j.fingerprint);
            Some(Hold {
                fingerprint: j.fingerprint.clone(),
                json: serde_json::to_string(j)?,
                reason: format!("license review required: {}", j.reason),
                email: new_email(
                    &key,
                    &server.name,
                    "license-review",
                    &server.owners,
                    &[],
                    text,
                ),
                attachments,
                card: Some(render::chat::license_review_card(&view, Some(pr_url))),
            })
        } else {
            None
        };
        let mcp = match judged.mcp.as_ref().filter(|m| m.held) {
            Some(m) => {
                let fingerprint = &m.report.fingerprint;
                let text = render::mcp_email(&view, Some(pr_url));
                let key = format!("{}:mcp-review:{fingerprint}", server.name);
                Some(Hold {
                    fingerprint: fingerprint.clone(),
                    json: serde_json::to_string(&m.report)?,
                    reason: format!(
                        "MCP surface review required: {} finding(s) at hold-on levels ({})",
                        m.gating_findings,
                        server.mcp.hold_on.join(", ")
                    ),
                    email: new_email(&key, &server.name, "mcp-review", &server.owners, &[], text),
                    attachments: Vec::new(),
                    card: None,
                })
            }
            None => None,
        };
        Ok(Holds { license, mcp })
    }
}

/// The server's state as this run found it: what the state held, with the pin, the latest
/// release and this run filled in (the outcome adds its status).
fn server_state(run: &ServerRun<'_>, mirror: &Mirror) -> anyhow::Result<ServerState> {
    let name = &run.server.name;
    let mut state = run
        .deps
        .store
        .server_state(name)?
        .unwrap_or_else(|| ServerState::empty(name));
    state.pinned_ref = Some(mirror.pin.git_ref.clone());
    state.pinned_commit.clone_from(&mirror.pinned_commit);
    state.latest_version = Some(mirror.latest.version.clone());
    state.latest_tag = Some(mirror.latest.tag.clone());
    state.latest_commit = Some(mirror.latest.commit.clone());
    state.last_run_id = Some(run.run_id);
    state.last_run_at = Some(now_str());
    state.last_error = None;
    state.consecutive_failures = 0;
    Ok(state)
}

/// Remember what this full check saw, after the outcome's own transaction: a crash in between
/// only costs a full check next time.
pub fn quiet_mark(run: &ServerRun<'_>, key: &str) {
    if let Err(e) = run.deps.store.put_quiet_mark(&run.server.name, key) {
        tracing::warn!(error = %format!("{e:#}"), "could not remember the quiet mark");
    }
}

/// The server failed: report it, and record it (unless a dry run).
pub fn failed(run: &mut ServerRun<'_>, error: &anyhow::Error) {
    let msg = format!("{error:#}");
    tracing::error!(error = %msg, "server failed");
    run.report.status = Status::Failed;
    run.report.error = Some(msg.clone());
    if !run.mode.dry_run {
        record_failure(
            run.deps,
            &run.server.name,
            run.run_id,
            &msg,
            &mut run.report,
        );
    }
}

/// Record a failed run for the server, and alert the owners when it has failed enough runs in a
/// row.
pub fn record_failure(
    deps: &Deps,
    name: &str,
    run_id: i64,
    error: &str,
    report: &mut ServerReport,
) {
    let owners = deps
        .config
        .server(name)
        .map(|s| s.owners.clone())
        .unwrap_or_default();
    let threshold = i64::from(deps.config.email.failing_runs_alert);
    let res = deps.store.transaction(|tx| {
        let mut st = Store::server_state_tx(tx, name)?.unwrap_or_else(|| ServerState::empty(name));
        // A server fails at most once per run: a server abandoned on timeout keeps working in
        // the background (under `serve`), and its own failure later is the same failure. Its
        // error is the more useful one, so it is kept; the count and the alert are not repeated.
        if st.last_run_id == Some(run_id)
            && st.last_status.as_deref() == Some(Status::Failed.as_str())
        {
            st.last_error = Some(error.to_string());
            return Store::put_server_state(tx, &st);
        }
        st.consecutive_failures += 1;
        st.last_status = Some(Status::Failed.as_str().into());
        st.last_error = Some(error.to_string());
        st.last_run_id = Some(run_id);
        st.last_run_at = Some(now_str());
        Store::put_server_state(tx, &st)?;
        // A failure is never replayed: the next run checks in full.
        Store::forget_quiet_mark(tx, name)?;
        if st.consecutive_failures == threshold && !owners.is_empty() {
            let text = render::failing_email(name, st.consecutive_failures, error);
            // One alert per failure streak: the key names the run the streak reached the threshold in.
            let key = format!("{name}:failing:{run_id}");
            if Store::enqueue_email(
                tx,
                &new_email(&key, name, "failing", &owners, &[], text),
                Some(run_id),
            )? {
                report.emails_queued += 1;
            }
        }
        Ok(())
    });
    if let Err(e) = res {
        tracing::error!(error = %format!("{e:#}"), "could not record the failure in the state");
    }
}

/// An outbox email of `server` to `to` (and `cc`), deduplicated on `key`.
pub fn new_email(
    key: &str,
    server: &str,
    reason: &str,
    to: &[String],
    cc: &[String],
    text: render::EmailText,
) -> NewEmail {
    NewEmail {
        dedupe_key: key.to_string(),
        server: server.to_string(),
        reason: reason.to_string(),
        recipients: to.to_vec(),
        cc: cc.to_vec(),
        subject: text.subject,
        text: text.text,
        html: text.html,
    }
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// The forge's warnings about the open PR: this run's, when it wrote the PR (kept for
/// `status`), else the ones kept from the run that last did (an unchanged PR reads nothing
/// that could say).
fn forge_warnings(
    run: &ServerRun<'_>,
    decision: &Decision,
    now: &[String],
) -> anyhow::Result<Vec<String>> {
    let store = &run.deps.store;
    if decision.plan == PrPlan::Unchanged {
        return store.forge_warnings(&run.server.name);
    }
    for w in now {
        tracing::warn!(warning = %w, "the forge did not do everything asked");
    }
    store.put_forge_warnings(&run.server.name, now)?;
    Ok(now.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::store::testing::on_both_backends! {
        fn a_server_fails_at_most_once_per_run() {
            let dir = tempfile::tempdir().unwrap();
            let text = format!(
                "{}\n[email]\ntransport = \"file\"\ndir = {:?}\nfailing-runs-alert = 2\n\n\
                 [[servers]]\nname = \"s\"\nupstream = \"/nowhere.git\"\nowners = [\"o@example.com\"]\nrelease = {{ channel = \"git-tags\" }}\n\n\
                 [servers.mirror]\nforge = \"local\"\nrepo = \"/nowhere-mirror.git\"\npin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n",
                crate::store::testing::state_table(dir.path()),
                dir.path().join("outbox").display().to_string(),
            );
            let config = crate::config::parse(std::path::Path::new("t.toml"), &text).unwrap();
            let deps = Deps::from_config(config).unwrap();
            let mut r = ServerReport::new("s");
            // Run 1 gives up on the server (timeout); its background work then fails too.
            record_failure(&deps, "s", 1, "timed out after 600s", &mut r);
            record_failure(&deps, "s", 1, "fetching: connection reset", &mut r);
            let st = deps.store.server_state("s").unwrap().unwrap();
            assert_eq!(st.consecutive_failures, 1);
            assert_eq!(st.last_error.as_deref(), Some("fetching: connection reset"));
            assert_eq!(
                r.emails_queued, 0,
                "one failure is below the alert threshold"
            );
            // The next run's failure counts, and reaches the threshold once.
            record_failure(&deps, "s", 2, "timed out after 600s", &mut r);
            record_failure(&deps, "s", 2, "fetching: connection reset", &mut r);
            let st = deps.store.server_state("s").unwrap().unwrap();
            assert_eq!(st.consecutive_failures, 2);
            assert_eq!(r.emails_queued, 1);
        }
    }
}
