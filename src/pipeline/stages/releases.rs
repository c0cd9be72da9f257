//! Stage `releases`: ask the release channels (the primary one when it is not git tags, and the
//! registries cross-checked against the tags), report each answer, and choose the release to
//! propose ([`plan::choose_release`], pure: channel, cooldown, security releases).
//!
//! HTTP channels answer through the store's conditional-request cache ([`StoreCache`]): an
//! unchanged registry costs one `304`. A dry run reads that cache but never writes it.

use chrono::{DateTime, Utc};

use crate::config::{Channel, ServerConfig};
use crate::http::{HttpSettings, Pool};
use crate::pipeline::ServerRun;
use crate::pipeline::plan::{self, Waiting};
use crate::report::ChannelReport;
use crate::store::Store;
use crate::upstream::Release;
use crate::upstream::channels::{self, ChannelRelease, ChannelSpec, ConditionalCache, Lookup};

use super::fetch::Upstream;

/// What the channels said, and the release chosen from it.
pub struct Releases {
    /// Every channel looked up, with its answer (errors as text without secrets).
    pub lookups: Vec<(Channel, Result<Lookup, String>)>,
    /// The newest proposable release, if any.
    pub chosen: Option<Release>,
    /// The primary channel's record of the chosen release (publish time, notes).
    pub published: Option<ChannelRelease>,
    /// Newer releases still in their cooldown.
    pub waiting: Vec<Waiting>,
    /// Versions the primary channel published that no git tag carries.
    pub untagged: Vec<String>,
}

/// Look up the channels, report them, and choose. A failed primary channel fails the server:
/// it must never read as "no new release".
pub fn find(run: &mut ServerRun<'_>, upstream: &Upstream) -> anyhow::Result<Releases> {
    let server = run.server;
    let now = Utc::now();
    let lookups = tracing::info_span!("release")
        .in_scope(|| lookup_channels(&run.deps.store, &run.deps.http, server, run.mode.dry_run));
    let mut primary: Option<Vec<ChannelRelease>> = None;
    for (channel, result) in &lookups {
        match result {
            Ok(found) if *channel == server.release.channel => {
                primary = Some(found.releases.clone());
            }
            Err(e) if *channel == server.release.channel => {
                anyhow::bail!("release channel {}: {e}", channel.name());
            }
            _ => {}
        }
    }
    run.report
        .channels
        .extend(channel_reports(server, &upstream.releases, &lookups, now));
    let choice = plan::choose_release(
        &upstream.releases,
        primary.as_deref(),
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
        lookups,
    })
}

/// Each channel's answer as the report shows it, with the cross-check of the registries listed
/// in `verify` against the git tags.
fn channel_reports(
    server: &ServerConfig,
    releases: &[Release],
    lookups: &[(Channel, Result<Lookup, String>)],
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
    lookups
        .iter()
        .map(|(channel, result)| match result {
            Ok(found) => {
                let published: Vec<_> = found
                    .releases
                    .iter()
                    .filter(|p| server.release.prerelease || !p.prerelease)
                    .cloned()
                    .collect();
                ChannelReport {
                    name: channel.name().to_string(),
                    ok: true,
                    not_modified: found.not_modified,
                    latest: published.last().map(|p| p.version.clone()),
                    error: None,
                    discrepancies: if server.release.verify.contains(channel) {
                        channels::cross_check(
                            channel.name(),
                            &tag_versions,
                            &published,
                            server.release.scheme,
                            server.release.cooldown,
                            now,
                        )
                    } else {
                        Vec::new()
                    },
                }
            }
            Err(e) => ChannelReport {
                name: channel.name().to_string(),
                ok: false,
                not_modified: false,
                latest: None,
                error: Some(e.clone()),
                discrepancies: Vec::new(),
            },
        })
        .collect()
}

/// Read-through of the store's HTTP cache for the release channels. A dry run reads but never
/// writes it.
struct StoreCache<'a> {
    store: &'a Store,
    write: bool,
}

impl ConditionalCache for StoreCache<'_> {
    fn get(&self, url: &str) -> Option<(String, Vec<u8>)> {
        self.store.http_cache_get(url).unwrap_or_else(|e| {
            tracing::warn!(error = %format!("{e:#}"), "HTTP cache unreadable; fetching in full");
            None
        })
    }

    fn put(&self, url: &str, etag: &str, body: &[u8]) {
        if self.write
            && let Err(e) = self.store.http_cache_put(url, etag, body)
        {
            tracing::warn!(error = %format!("{e:#}"), "could not cache an HTTP response");
        }
    }
}

/// Look up every non-git channel of the server. Errors are kept per channel (as text without
/// secrets) so the caller decides: the primary channel failing fails the server; a cross-checked
/// one is reported.
fn lookup_channels(
    store: &Store,
    http: &Pool,
    server: &ServerConfig,
    dry_run: bool,
) -> Vec<(Channel, Result<Lookup, String>)> {
    let cache = StoreCache {
        store,
        write: !dry_run,
    };
    let settings = HttpSettings::default();
    server
        .channels
        .iter()
        .map(|(channel, cfg)| {
            let spec = match ChannelSpec::resolve(cfg) {
                Ok(spec) => spec,
                Err(e) => return (*channel, Err(format!("{e:#}"))),
            };
            let result = channels::lookup_on(http, &spec, &settings, &cache, server.release.scheme)
                .map_err(|e| e.to_string());
            if let Err(e) = &result {
                tracing::warn!(channel = channel.name(), error = %e, "release channel lookup failed");
            }
            (*channel, result)
        })
        .collect()
}
