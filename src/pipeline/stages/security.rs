//! Stage `security`: the known advisories against the server's packages at the pinned and the
//! proposed release ([`advisories::assess`], pure, on the run's fleet answer), kept in the
//! state, reported, and told to the owners once per advisory ([`advisories::notices`]). A
//! newer release that fixes an advisory of the pinned one is proposed without waiting out its
//! cooldown. Runs on the quiet path too ([`quiet_path`]): advisories change without upstream
//! changes.
//!
//! Failure is never "no advisories": when the service fails, the last stored answer is kept
//! and labelled with its age ([`AdvisoryReport::unavailable`]), and the run says so.

use chrono::Utc;

use super::fetch::Upstream;
use super::pin::Mirror;
use super::record::new_email;
use super::releases::Releases;
use crate::advisories::{
    self, AdvisoryReport, Notice, PackageRef, ServerQuery, render::NoticeView,
};
use crate::config::ChannelConfig;
use crate::pipeline::ServerRun;
use crate::pipeline::advisory_lookup::configured_packages;
use crate::pipeline::chat::enqueue_with_card;
use crate::report::Latest;
use crate::upstream::channels::ChannelSpec;
use crate::upstream::version::Version;

/// The advisories of this run's change, for the PR.
pub struct Security {
    pub report: AdvisoryReport,
    /// The PR body's advisory section (Markdown).
    pub section: String,
}

/// The advisories of the pinned release and the one `mirror` proposes; when a newer release
/// fixes an advisory of the pinned one and waits in its cooldown, it is proposed instead.
pub fn assess(
    run: &mut ServerRun<'_>,
    upstream: &Upstream,
    mirror: &mut Mirror,
) -> anyhow::Result<Option<Security>> {
    if !run.fleet.enabled() || !run.server.advisories.enabled {
        return Ok(None);
    }
    let pinned = Pinned {
        commit: mirror.pinned_commit.as_deref(),
        version: mirror.pinned_version.as_ref(),
    };
    let proposed = mirror.newer.then(|| mirror.latest.version.clone());
    let (mut report, mut query) = look(run, upstream, &pinned, proposed)?;
    if let Some(fix) = fixing_release_in_cooldown(run, upstream, mirror, &report) {
        run.report.notes.push(format!(
            "{} fixes {} of the pinned release: proposed without waiting for its cooldown",
            fix.version,
            report
                .pinned
                .iter()
                .filter(|a| a.fix_release.as_deref() == Some(fix.version.as_str()))
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        run.report.latest = Some(Latest {
            version: fix.version.clone(),
            tag: fix.tag.clone(),
            commit: fix.commit.clone(),
            date: fix.date.clone(),
        });
        mirror.latest = fix;
        mirror.newer = true;
        (report, query) = look(run, upstream, &pinned, Some(mirror.latest.version.clone()))?;
    }
    keep(run, &query, &report)?;
    let section = advisories::render::pr_section(&report);
    Ok(Some(Security { report, section }))
}

/// The quiet path's check: the pinned release as the state remembers it, the chosen release
/// as proposed. Nothing else of the run is redone.
pub fn quiet_path(
    run: &mut ServerRun<'_>,
    upstream: &Upstream,
    releases: &Releases,
) -> anyhow::Result<()> {
    if !run.fleet.enabled() || !run.server.advisories.enabled {
        return Ok(());
    }
    let Some(state) = run.deps.store.server_state(&run.server.name)? else {
        return Ok(());
    };
    let pinned_version = state.pinned_ref.as_deref().and_then(|r| {
        crate::upstream::tag_version(crate::render::short_ref(r), &run.server.release)
    });
    let pinned = Pinned {
        commit: state.pinned_commit.as_deref(),
        version: pinned_version.as_ref(),
    };
    let proposed = releases
        .chosen
        .as_ref()
        .filter(|r| pinned_version.as_ref().is_none_or(|p| r.parsed > *p))
        .map(|r| r.version.clone());
    let (report, query) = look(run, upstream, &pinned, proposed)?;
    keep(run, &query, &report)
}

struct Pinned<'a> {
    commit: Option<&'a str>,
    version: Option<&'a Version>,
}

/// The server's query and the assessment of the answer (or of the failure).
fn look(
    run: &mut ServerRun<'_>,
    upstream: &Upstream,
    pinned: &Pinned<'_>,
    proposed: Option<String>,
) -> anyhow::Result<(AdvisoryReport, ServerQuery)> {
    let server = run.server;
    let repo = &upstream.fetched.repo;
    let packages = match configured_packages(server) {
        Some(list) => list,
        None => detected(run, repo, pinned.commit)?,
    };
    let query = ServerQuery {
        server: server.name.clone(),
        packages,
        pinned: pinned.version.map(|v| v.as_str().to_string()),
        proposed,
    };
    let candidates: Vec<String> = upstream
        .releases
        .iter()
        .filter(|r| pinned.version.is_none_or(|p| r.parsed > *p))
        .map(|r| r.version.clone())
        .collect();
    let report = match run.fleet.answer_for(run.seat.as_ref(), &query) {
        Ok(answer) => advisories::assess(&query, &candidates, &answer),
        Err(e) => {
            tracing::warn!(error = %e, "the advisory service did not answer; advisories unknown this run");
            run.report
                .notes
                .push(format!("advisories unknown this run: {e}"));
            let previous = run
                .deps
                .store
                .advisory_state(&server.name)?
                .and_then(|s| s.report)
                .and_then(|json| serde_json::from_str::<AdvisoryReport>(&json).ok());
            AdvisoryReport::unavailable(previous.as_ref(), &e, Utc::now())
        }
    };
    run.report.advisories = Some(serde_json::to_value(&report)?);
    Ok((report, query))
}

/// The packages the pinned release's manifests and the server's channels name.
fn detected(
    run: &mut ServerRun<'_>,
    repo: &git2::Repository,
    commit: Option<&str>,
) -> anyhow::Result<Vec<PackageRef>> {
    let Some(commit) = commit
        .and_then(|c| git2::Oid::from_str(c).ok())
        .filter(|o| repo.find_commit(*o).is_ok())
    else {
        return Ok(Vec::new());
    };
    let channels: Vec<ChannelSpec> = run
        .server
        .channels
        .values()
        .filter_map(|c| match c {
            // Only the package names matter here: no request is made, so no token is read.
            ChannelConfig::Npm {
                registry, package, ..
            } => Some(ChannelSpec::Npm {
                registry: registry.clone(),
                package: package.clone(),
                token: None,
            }),
            ChannelConfig::Pypi { index, project, .. } => Some(ChannelSpec::Pypi {
                index: index.clone(),
                project: project.clone(),
                username: String::new(),
                token: None,
            }),
            _ => None,
        })
        .collect();
    let found = advisories::detect(repo, commit, &channels)?;
    run.report.notes.extend(found.notes.iter().cloned());
    Ok(found.packages_to_query(None))
}

/// The newest release that fixes an advisory of the pinned release and that the cooldown
/// alone keeps from being proposed (None when the proposed release fixes it already).
fn fixing_release_in_cooldown(
    run: &ServerRun<'_>,
    upstream: &Upstream,
    mirror: &Mirror,
    report: &AdvisoryReport,
) -> Option<crate::upstream::Release> {
    if !report.is_current() {
        return None;
    }
    let fix = report.earliest_fix_release(run.server.release.scheme)?;
    let release = upstream.releases.iter().find(|r| r.version == fix)?;
    let later = !mirror.newer || release.parsed > mirror.latest.parsed;
    later.then(|| release.clone())
}

/// What the owners are owed about this server's advisories: queued by [`tell`] once the
/// stages are done, so that a "fixed in" notice links the rebuild PR the same run opened.
pub struct Owed {
    query: ServerQuery,
    report: AdvisoryReport,
}

/// Keep the answer (the next run's fleet query and its fallback when the service is down), and
/// owe the owners its notices ([`tell`]).
fn keep(
    run: &mut ServerRun<'_>,
    query: &ServerQuery,
    report: &AdvisoryReport,
) -> anyhow::Result<()> {
    if run.mode.dry_run {
        return Ok(());
    }
    let server = run.server;
    // A failed lookup's report keeps the last good lists and their time (see
    // `AdvisoryReport::unavailable`), so it is kept too: `status` then says "unknown".
    run.deps.store.put_advisory_state(
        &server.name,
        &serde_json::to_string(&query.packages)?,
        query.pinned.as_deref(),
        query.proposed.as_deref(),
        &serde_json::to_string(report)?,
    )?;
    run.owed = Some(Owed {
        query: query.clone(),
        report: report.clone(),
    });
    Ok(())
}

/// Queue the notices [`keep`] left owed (each once: the outbox deduplicates on its key), with
/// the link to the server's open rebuild PR as the state now has it. Called after the stages
/// whatever their outcome: a forge that failed this run must not keep an advisory from the
/// owners. A crash before it loses nothing: the next run owes the same notices again.
pub fn tell(run: &mut ServerRun<'_>) -> anyhow::Result<()> {
    let Some(Owed { query, report }) = run.owed.take() else {
        return Ok(());
    };
    let (query, report) = (&query, &report);
    let server = run.server;
    let store = &run.deps.store;
    let pr_url = store.open_pr(&server.name)?.and_then(|p| p.url);
    let upstream = crate::upstream::redact_url(&server.upstream);
    let view = NoticeView {
        server: &server.name,
        upstream: &upstream,
        pinned: query.pinned.as_deref().unwrap_or("the pinned release"),
        proposed: query.proposed.as_deref(),
        pr_url: pr_url.as_deref(),
    };
    // Each notice is an email, and a card of its own for the server's chat destinations.
    let notices: Vec<_> = advisories::notices(report)
        .iter()
        .map(|n| {
            let text = match n {
                Notice::FixAvailable { advisory, release } => {
                    advisories::render::fix_available_email(&view, advisory, release)
                }
                Notice::NoFixYet { advisory } => advisories::render::no_fix_email(&view, advisory),
                Notice::ProposedAffected { advisory, .. } => {
                    advisories::render::proposed_affected_email(
                        &view,
                        std::slice::from_ref(*advisory),
                    )
                }
            };
            let email = new_email(
                &n.dedupe_key(&server.name),
                &server.name,
                "advisory",
                &server.owners,
                &[],
                text,
            );
            (email, advisories::render::card::notice_card(&view, n))
        })
        .collect();
    let run_id = run.run_id;
    let queued = store.transaction(|tx| {
        let mut queued = 0;
        for (email, card) in &notices {
            queued += usize::from(enqueue_with_card(tx, email, &[], card, Some(run_id))?);
        }
        Ok(queued)
    })?;
    run.report.emails_queued += queued;
    Ok(())
}
