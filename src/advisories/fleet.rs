//! The fleet-wide lookup: one `querybatch` for every server's packages at their pinned and
//! proposed versions, then the details of every advisory found, through the cache.
//!
//! The only I/O of the advisories module besides the client itself. It decides nothing about
//! any server: [`super::assess`] does, from the [`FleetAnswer`] this returns.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::cache::{VulnCache, is_fresh};
use super::osv::{OsvClient, PackageQuery, Vuln, VulnRef, parse_vuln};
use super::package::PackageRef;

/// What one server asks of the advisory service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerQuery {
    pub server: String,
    pub packages: Vec<PackageRef>,
    /// The pinned release's version (as released, e.g. `v1.4.2` or `1.4.2`).
    pub pinned: Option<String>,
    /// The proposed release's version, when there is one.
    pub proposed: Option<String>,
}

impl ServerQuery {
    /// The package queries of this server: each package at each known version.
    pub fn package_queries(&self) -> Vec<PackageQuery> {
        let mut out = Vec::new();
        for version in [&self.pinned, &self.proposed].into_iter().flatten() {
            for package in &self.packages {
                out.push(PackageQuery {
                    package: package.clone(),
                    version: package.ecosystem.query_version(version),
                });
            }
        }
        out
    }
}

/// The details of one advisory as far as they could be had.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    /// Fetched now, or cached with the `modified` time the batch reported.
    Current(Vuln),
    /// The fetch failed; this is the last cached record (older than the batch said).
    Stale { vuln: Vuln, error: String },
    /// The fetch failed and nothing is cached: only the id is known.
    Missing { error: String },
}

impl Detail {
    pub fn vuln(&self) -> Option<&Vuln> {
        match self {
            Detail::Current(vuln) | Detail::Stale { vuln, .. } => Some(vuln),
            Detail::Missing { .. } => None,
        }
    }

    pub fn error(&self) -> Option<&str> {
        match self {
            Detail::Current(_) => None,
            Detail::Stale { error, .. } | Detail::Missing { error } => Some(error),
        }
    }
}

/// The service's answer for the whole fleet.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FleetAnswer {
    /// The advisories listed for each package query (the service's own matching).
    pub matches: BTreeMap<PackageQuery, Vec<VulnRef>>,
    /// The details of every advisory listed, by id.
    pub details: BTreeMap<String, Detail>,
    pub checked_at: DateTime<Utc>,
    /// `GET /v1/vulns/{id}` requests sent (advisories not answered by the cache).
    pub detail_fetches: usize,
}

impl FleetAnswer {
    /// The ids the service listed for `package` at `version` (as released); `None` when that
    /// query was not part of the lookup.
    pub fn listed(&self, package: &PackageRef, version: &str) -> Option<&[VulnRef]> {
        let query = PackageQuery {
            package: package.clone(),
            version: package.ecosystem.query_version(version),
        };
        self.matches.get(&query).map(Vec::as_slice)
    }

    /// The part of this answer that `server` asked: its queries and the details of the
    /// advisories listed for them. One server of a shared lookup sees nothing of the others.
    pub fn part(&self, server: &ServerQuery) -> FleetAnswer {
        let matches: BTreeMap<PackageQuery, Vec<VulnRef>> = server
            .package_queries()
            .into_iter()
            .filter_map(|q| self.matches.get(&q).map(|v| (q, v.clone())))
            .collect();
        let details = matches
            .values()
            .flatten()
            .filter_map(|v| self.details.get(&v.id).map(|d| (v.id.clone(), d.clone())))
            .collect();
        FleetAnswer {
            matches,
            details,
            checked_at: self.checked_at,
            detail_fetches: 0,
        }
    }
}

/// Looks up every server's packages at once.
///
/// Blocking. One `querybatch` (split at the service's limit, every page followed), then
/// `GET /v1/vulns/{id}` for each advisory whose cached record is older than the batch says.
/// A failed detail fetch does not fail the lookup: the advisory is kept with its cached record
/// or its id alone ([`Detail`]).
///
/// # Errors
/// When the batch query fails: then nothing is known, and the caller keeps its last answer.
pub fn lookup(
    client: &OsvClient,
    cache: &dyn VulnCache,
    servers: &[ServerQuery],
    now: DateTime<Utc>,
) -> anyhow::Result<FleetAnswer> {
    let queries: Vec<PackageQuery> = servers
        .iter()
        .flat_map(ServerQuery::package_queries)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let span = tracing::info_span!("advisories", queries = queries.len());
    let _entered = span.enter();
    let results = client.query_batch(&queries)?;
    let matches: BTreeMap<PackageQuery, Vec<VulnRef>> = queries.into_iter().zip(results).collect();
    // The newest `modified` reported for each id (the same id can come back for many queries).
    let mut reported: BTreeMap<&str, &str> = BTreeMap::new();
    for vuln in matches.values().flatten() {
        let entry = reported.entry(&vuln.id).or_insert(&vuln.modified);
        if is_fresh(&vuln.modified, entry) {
            *entry = &vuln.modified;
        }
    }
    let mut details = BTreeMap::new();
    let mut fetches = 0;
    for (id, modified) in reported {
        let (detail, fetched) = detail(client, cache, id, modified);
        fetches += usize::from(fetched);
        details.insert(id.to_string(), detail);
    }
    tracing::info!(
        advisories = details.len(),
        fetched = fetches,
        "advisory lookup done"
    );
    Ok(FleetAnswer {
        matches,
        details,
        checked_at: now,
        detail_fetches: fetches,
    })
}

/// One advisory's details: the cache when it is as new as `modified`, else the service.
/// Returns whether a request was sent.
fn detail(client: &OsvClient, cache: &dyn VulnCache, id: &str, modified: &str) -> (Detail, bool) {
    let cached = cache
        .get(id)
        .and_then(|entry| match parse_vuln(&entry.body) {
            Ok(vuln) if vuln.id == id => Some((entry.modified, vuln)),
            _ => {
                tracing::debug!(id, "ignoring an unreadable cached advisory");
                None
            }
        });
    if let Some((cached_modified, vuln)) = &cached
        && is_fresh(cached_modified, modified)
    {
        return (Detail::Current(vuln.clone()), false);
    }
    match client.vuln(id) {
        Ok((vuln, body)) => {
            cache.put(id, &vuln.modified, &body);
            (Detail::Current(vuln), true)
        }
        Err(e) => {
            let error = format!("{e:#}");
            tracing::warn!(id, error = %error, "advisory details unavailable");
            let detail = match cached {
                Some((_, vuln)) => Detail::Stale { vuln, error },
                None => Detail::Missing { error },
            };
            (detail, true)
        }
    }
}
