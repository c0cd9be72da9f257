//! Stage `releases`: ask the release channels (the primary one when it is not git tags, and the
//! registries cross-checked against the tags), report each answer, and choose the release to
//! propose ([`plan::choose_release`], pure: channel, cooldown, security releases).
//!
//! Each channel is read with [`channels::observe_on`]: the releases that may be proposed, the
//! versions the registry holds back (npm deprecations and versions above the followed
//! dist-tag, PyPI yanks, MCP Registry deletions: never proposed), and notices for the run's
//! notes. The registries in `verify` are cross-checked against the tags with
//! [`channels::verify`], which names a tagged version the registry holds back for what it is,
//! never as missing.
//!
//! HTTP channels answer through the store's conditional-request cache
//! ([`crate::pipeline::state_cache::StoreCache`]): an
//! unchanged registry costs one `304`. A dry run reads that cache but never writes it.

use chrono::{DateTime, Utc};

use crate::config::{Channel, ChannelConfig, ServerConfig};
use crate::http::{HttpSettings, Pool};
use crate::pipeline::ServerRun;
use crate::pipeline::plan::{self, Waiting};
use crate::pipeline::state_cache::StoreCache;
use crate::report::ChannelReport;
use crate::store::{NotedWithheld, Store};
use crate::upstream::Release;
use crate::upstream::channels::{
    self, ChannelRelease, ChannelSpec, LookupOptions, Observation, Withheld, WithheldReason,
};
use crate::upstream::version::{Version, VersionScheme};

use super::fetch::Upstream;

/// What the channels said, and the release chosen from it.
pub struct Releases {
    /// Every channel looked up, with its answer (errors as text without secrets).
    pub lookups: Vec<(Channel, Result<Observation, String>)>,
    /// The newest proposable release, if any.
    pub chosen: Option<Release>,
    /// The primary channel's record of the chosen release (publish time, notes).
    pub published: Option<ChannelRelease>,
    /// Newer releases still in their cooldown.
    pub waiting: Vec<Waiting>,
    /// Versions the primary channel published that no git tag carries.
    pub untagged: Vec<String>,
    /// A cross-check has a tag inside its cooldown that the registry lacks: its answer will
    /// change with time alone, so this run's outcome may not be replayed.
    pub cross_check_pending: bool,
    /// The primary channel's withheld versions that would otherwise be the newest, as notes:
    /// said by the first full check that sees each ([`note_withheld`]), not repeated by later
    /// full checks nor by the quiet path's replays.
    pub withheld_notes: Vec<(NotedWithheld, String)>,
}

/// Look up the channels, report them, and choose. A failed primary channel fails the server:
/// it must never read as "no new release".
pub fn find(run: &mut ServerRun<'_>, upstream: &Upstream) -> anyhow::Result<Releases> {
    let server = run.server;
    let now = Utc::now();
    let lookups = tracing::info_span!("release")
        .in_scope(|| lookup_channels(&run.deps.store, &run.deps.http, server, run.mode.dry_run));
    let mut primary: Option<&Observation> = None;
    for (channel, result) in &lookups {
        match result {
            Ok(found) if *channel == server.release.channel => primary = Some(found),
            Err(e) if *channel == server.release.channel => {
                anyhow::bail!("release channel {}: {e}", channel.name());
            }
            _ => {}
        }
    }
    for notice in lookups
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .flat_map(|o| &o.notices)
    {
        run.report.notes.push(notice.detail.clone());
    }
    let reports = channel_reports(server, &upstream.releases, &lookups, now);
    let cross_check_pending = reports.iter().any(|c| !c.pending.is_empty());
    let withheld_notes = primary
        .map(|o| {
            let reported: Vec<&str> = reports
                .iter()
                .filter(|c| c.name == server.release.channel.name())
                .flat_map(|c| c.discrepancies.iter().map(|d| d.version.as_str()))
                .collect();
            withheld_notes(server.release.channel.name(), o, server, &reported)
        })
        .unwrap_or_default();
    run.report.channels.extend(reports);
    let choice = plan::choose_release(
        &upstream.releases,
        primary.map(|o| o.lookup.releases.as_slice()),
        server.release.prerelease,
        server.release.scheme,
        server.release.cooldown,
        &server.release.security,
        now,
    );
    for w in &choice.waiting {
        run.report.notes.push(format!(
            "{} is in its cooldown{}",
            w.version,
            w.until
                .as_deref()
                .map(|u| format!(" until {u}"))
                .unwrap_or_default()
        ));
    }
    for v in &choice.untagged {
        run.report.notes.push(format!(
            "{} published on {} has no matching git tag; it cannot be pinned",
            v,
            server.release.channel.name()
        ));
    }
    Ok(Releases {
        chosen: choice.release.cloned(),
        published: choice.published.cloned(),
        waiting: choice.waiting,
        untagged: choice.untagged,
        cross_check_pending,
        withheld_notes,
        lookups,
    })
}

/// Adds the notes about withheld versions a full check has not said before (the state keeps
/// the set said last; a dry run reads it but never writes it). Called by a full check only, so
/// an unchanged answer replayed by the quiet path does not say them either.
pub fn note_withheld(run: &mut ServerRun<'_>, releases: &Releases) -> anyhow::Result<()> {
    let store = &run.deps.store;
    let said = store.withheld_noted(&run.server.name)?;
    run.report.notes.extend(
        releases
            .withheld_notes
            .iter()
            .filter(|(key, _)| !said.contains(key))
            .map(|(_, text)| text.clone()),
    );
    if !run.mode.dry_run {
        let current: Vec<NotedWithheld> = releases
            .withheld_notes
            .iter()
            .map(|(k, _)| k.clone())
            .collect();
        store.put_withheld_noted(&run.server.name, &current)?;
    }
    Ok(())
}

/// One note per version `channel` holds back that is newer than everything it offers (under
/// the server's prerelease policy): the versions people would expect to see proposed. Versions
/// in `reported` (already a cross-check finding of that channel) are not said twice.
fn withheld_notes(
    channel: &str,
    observation: &Observation,
    server: &ServerConfig,
    reported: &[&str],
) -> Vec<(NotedWithheld, String)> {
    let scheme = server.release.scheme;
    let allowed = |prerelease: bool| server.release.prerelease || !prerelease;
    let newest_offered = observation
        .lookup
        .releases
        .iter()
        .filter(|r| allowed(r.prerelease))
        .filter_map(|r| Version::parse(scheme, &r.version))
        .max();
    observation
        .withheld
        .iter()
        .filter(|w| allowed(w.prerelease) && !reported.contains(&w.version.as_str()))
        .filter(|w| newer(scheme, &w.version, newest_offered.as_ref()))
        .map(|w| {
            let key = NotedWithheld {
                channel: channel.to_string(),
                version: w.version.clone(),
                reason: reason_name(w.reason).to_string(),
            };
            (key, withheld_note(channel, w))
        })
        .collect()
}

/// The reason as the state keeps it (the report's kebab-case name).
fn reason_name(reason: WithheldReason) -> &'static str {
    match reason {
        WithheldReason::Deprecated => "deprecated",
        WithheldReason::Yanked => "yanked",
        WithheldReason::Deleted => "deleted",
        WithheldReason::AboveDistTag => "above-dist-tag",
    }
}

/// Whether `version` parses and is above `newest` (everything is, when nothing is offered).
fn newer(scheme: VersionScheme, version: &str, newest: Option<&Version>) -> bool {
    Version::parse(scheme, version).is_some_and(|v| newest.is_none_or(|n| v > *n))
}

/// "npm holds back 1.2.0 (deprecated: "use 1.3"): not proposed".
fn withheld_note(channel: &str, w: &Withheld) -> String {
    let why = match w.reason {
        WithheldReason::Deprecated => "deprecated",
        WithheldReason::Yanked => "every file yanked",
        WithheldReason::Deleted => "deleted",
        WithheldReason::AboveDistTag => "above the followed dist-tag",
    };
    let said = w
        .detail
        .as_deref()
        .map(|d| format!(": \"{d}\""))
        .unwrap_or_default();
    format!(
        "{channel} holds back {} ({why}{said}): not proposed",
        w.version
    )
}

/// Each channel's answer as the report shows it, with the cross-check of the registries listed
/// in `verify` against the git tags.
fn channel_reports(
    server: &ServerConfig,
    releases: &[Release],
    lookups: &[(Channel, Result<Observation, String>)],
    now: DateTime<Utc>,
) -> Vec<ChannelReport> {
    let tag_versions: Vec<(String, Option<DateTime<Utc>>)> = releases
        .iter()
        .map(|r| {
            let date = r
                .date
                .as_deref()
                .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
                .map(|d| d.with_timezone(&Utc));
            (r.version.clone(), date)
        })
        .collect();
    let allowed = |prerelease: bool| server.release.prerelease || !prerelease;
    lookups
        .iter()
        .map(|(channel, result)| {
            let dist_tag = match server.channels.get(channel) {
                Some(ChannelConfig::Npm { dist_tag, .. }) => Some(dist_tag.clone()),
                _ => None,
            };
            match result {
                Ok(found) => {
                    let published: Vec<_> = found
                        .lookup
                        .releases
                        .iter()
                        .filter(|p| allowed(p.prerelease))
                        .cloned()
                        .collect();
                    let withheld: Vec<_> = found
                        .withheld
                        .iter()
                        .filter(|w| allowed(w.prerelease))
                        .cloned()
                        .collect();
                    let check = if server.release.verify.contains(channel) {
                        channels::verify(
                            channel.name(),
                            &tag_versions,
                            &published,
                            &withheld,
                            server.release.scheme,
                            server.release.cooldown,
                            now,
                        )
                    } else {
                        channels::CrossCheck::default()
                    };
                    ChannelReport {
                        name: channel.name().to_string(),
                        ok: true,
                        not_modified: found.lookup.not_modified,
                        latest: published.last().map(|p| p.version.clone()),
                        error: None,
                        discrepancies: check.discrepancies,
                        dist_tag,
                        withheld,
                        notices: found.notices.clone(),
                        pending: check.pending,
                    }
                }
                Err(e) => ChannelReport {
                    name: channel.name().to_string(),
                    ok: false,
                    not_modified: false,
                    latest: None,
                    error: Some(e.clone()),
                    discrepancies: Vec::new(),
                    dist_tag,
                    withheld: Vec::new(),
                    notices: Vec::new(),
                    pending: Vec::new(),
                },
            }
        })
        .collect()
}

/// Look up every non-git channel of the server. Errors are kept per channel (as text without
/// secrets) so the caller decides: the primary channel failing fails the server; a cross-checked
/// one is reported.
fn lookup_channels(
    store: &Store,
    http: &Pool,
    server: &ServerConfig,
    dry_run: bool,
) -> Vec<(Channel, Result<Observation, String>)> {
    let cache = StoreCache::shared(store, !dry_run);
    let settings = HttpSettings::default();
    server
        .channels
        .iter()
        .map(|(channel, cfg)| {
            let spec = match ChannelSpec::resolve(cfg) {
                Ok(spec) => spec,
                Err(e) => return (*channel, Err(format!("{e:#}"))),
            };
            let options = lookup_options(cfg, server.release.scheme);
            let result = channels::observe_on(http, &spec, &options, &settings, &cache)
                .map_err(|e| e.to_string());
            match &result {
                Err(e) => {
                    tracing::warn!(channel = channel.name(), error = %e, "release channel lookup failed");
                }
                Ok(o) => {
                    for n in &o.notices {
                        tracing::info!(channel = channel.name(), kind = ?n.kind, detail = %n.detail, "release channel notice");
                    }
                }
            }
            (*channel, result)
        })
        .collect()
}

/// How a configured channel is read: the server's version scheme, and npm's dist-tag.
fn lookup_options(cfg: &ChannelConfig, scheme: VersionScheme) -> LookupOptions {
    LookupOptions {
        scheme,
        dist_tag: match cfg {
            ChannelConfig::Npm { dist_tag, .. } => Some(dist_tag.clone()),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::channels::Lookup;

    fn server(prerelease: bool) -> ServerConfig {
        super::super::test_server(&format!(
            "release = {{ channel = \"npm\", prerelease = {prerelease} }}\n\
             [servers.channels]\nnpm = {{ package = \"s\" }}"
        ))
    }

    fn observation(offered: &[&str], withheld: &[(&str, WithheldReason)]) -> Observation {
        let scheme = VersionScheme::Semver;
        Observation {
            lookup: Lookup {
                releases: offered
                    .iter()
                    .map(|v| ChannelRelease {
                        version: (*v).into(),
                        tag: None,
                        published_at: None,
                        prerelease: Version::parse(scheme, v).is_some_and(|v| v.is_prerelease()),
                        notes: None,
                        url: None,
                    })
                    .collect(),
                not_modified: false,
            },
            withheld: withheld
                .iter()
                .map(|(v, reason)| Withheld {
                    version: (*v).into(),
                    reason: *reason,
                    detail: (*reason == WithheldReason::Deprecated).then(|| "use 2.0".into()),
                    published_at: None,
                    prerelease: Version::parse(scheme, v).is_some_and(|v| v.is_prerelease()),
                })
                .collect(),
            notices: Vec::new(),
            rate_limit: None,
        }
    }

    fn texts(notes: Vec<(NotedWithheld, String)>) -> Vec<String> {
        notes.into_iter().map(|(_, text)| text).collect()
    }

    #[test]
    fn only_withheld_versions_above_what_is_offered_are_noted() {
        use WithheldReason::{AboveDistTag, Deprecated};
        let o = observation(
            &["1.0.0", "1.1.0"],
            &[
                ("0.9.0", Deprecated),
                ("1.2.0", Deprecated),
                ("1.3.0-rc.1", AboveDistTag),
                ("1.3.0", AboveDistTag),
            ],
        );
        assert_eq!(
            texts(withheld_notes("npm", &o, &server(false), &[])),
            [
                "npm holds back 1.2.0 (deprecated: \"use 2.0\"): not proposed",
                "npm holds back 1.3.0 (above the followed dist-tag): not proposed",
            ]
        );
        // A prerelease is said only when the policy would propose prereleases.
        assert_eq!(withheld_notes("npm", &o, &server(true), &[]).len(), 3);
        // A version the cross-check already reports is not said twice.
        assert_eq!(
            texts(withheld_notes("npm", &o, &server(false), &["1.2.0"])),
            ["npm holds back 1.3.0 (above the followed dist-tag): not proposed"]
        );
        // Nothing offered: every readable withheld version is news.
        let none = observation(&[], &[("1.0.0", WithheldReason::Yanked)]);
        assert_eq!(
            texts(withheld_notes("pypi", &none, &server(false), &[])),
            ["pypi holds back 1.0.0 (every file yanked): not proposed"]
        );
    }
}
