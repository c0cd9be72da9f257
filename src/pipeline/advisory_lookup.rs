//! The run's advisory lookup: once per run, before the servers, one `querybatch` for the whole
//! fleet ([`advisories::lookup`]), with the advisory details cached in the state by id and
//! `modified` ([`StateVulnCache`]). Runs on the quiet path too: advisories change without any
//! upstream change.
//!
//! What each server asks is what its last check found (its packages, pinned and proposed
//! versions, kept in the state). A server whose packages or versions changed since (a new
//! release, a first check) is asked about again when its stage needs it
//! ([`Fleet::answer_for`]), so the answer is never for the wrong versions; those follow-ups of
//! the servers running at the same time go out together ([`super::advisory_batcher`]). An
//! unreachable service is a warning in the run, never a failed server or fleet.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;

use super::advisory_batcher::{Batcher, Lookup, Seat};
use crate::advisories::{
    self, Ecosystem, FleetAnswer, OsvClient, PackageQuery, PackageRef, ServerQuery, VulnCache,
};
use crate::config::ServerConfig;
use crate::deps::Deps;
use crate::http::HttpSettings;
use crate::store::Store;

/// The advisory details, kept in the state (a read that fails is a miss; a write that fails
/// is logged and forgotten, as [`VulnCache`] asks). A dry run reads it and writes nothing.
pub struct StateVulnCache<'a> {
    pub store: &'a Store,
    pub write: bool,
}

impl VulnCache for StateVulnCache<'_> {
    fn get(&self, id: &str) -> Option<advisories::CachedVuln> {
        match self.store.advisory_vuln(id) {
            Ok(found) => found.map(|(modified, body)| advisories::CachedVuln { modified, body }),
            Err(e) => {
                tracing::debug!(id, error = %format!("{e:#}"), "advisory cache read failed");
                None
            }
        }
    }

    fn put(&self, id: &str, modified: &str, body: &[u8]) {
        if !self.write {
            return;
        }
        if let Err(e) = self.store.put_advisory_vuln(id, modified, body) {
            tracing::warn!(id, error = %format!("{e:#}"), "could not cache an advisory");
        }
    }
}

/// The fleet's answer for this run, and the lookup of what it does not cover.
pub struct Fleet {
    answer: Result<FleetAnswer, String>,
    /// One lookup through the run's client and the state's cache (`None`: advisories are off).
    lookup: Option<Lookup>,
    /// Gathers the follow-up lookups of the servers running at once ([`Fleet::start_batcher`]).
    batcher: Option<Batcher>,
}

impl Fleet {
    /// Advisories are off (`[advisories] enabled = false`), or this run looks nothing up.
    pub fn disabled() -> Fleet {
        Fleet::off("advisory lookups are turned off".into())
    }

    fn off(error: String) -> Fleet {
        Fleet {
            answer: Err(error),
            lookup: None,
            batcher: None,
        }
    }

    pub fn enabled(&self) -> bool {
        self.lookup.is_some()
    }

    /// One lookup for every server in `servers` whose advisories are on, from what their last
    /// checks found. Blocking.
    pub fn lookup(deps: &Deps, servers: &[ServerConfig], dry_run: bool) -> Fleet {
        let config = &deps.config.advisories;
        if !config.enabled {
            return Fleet::disabled();
        }
        let client = match deps
            .http
            .client(HttpSettings::default(), None)
            .and_then(|http| OsvClient::with_http(&config.url, http))
        {
            Ok(c) => c,
            Err(e) => {
                let error = format!("{e:#}");
                tracing::warn!(error = %error, "no advisory client");
                return Fleet::off(error);
            }
        };
        let queries: Vec<ServerQuery> = servers
            .iter()
            .filter(|s| s.advisories.enabled)
            .filter_map(|s| last_query(&deps.store, s))
            .collect();
        let store = Arc::clone(&deps.store);
        let lookup: Lookup = Arc::new(move |queries| {
            let cache = StateVulnCache {
                store: &store,
                write: !dry_run,
            };
            advisories::lookup(&client, &cache, queries, Utc::now()).map_err(|e| format!("{e:#}"))
        });
        let answer = lookup(&queries);
        if let Err(e) = &answer {
            tracing::warn!(error = %e, "the advisory service did not answer; advisories unknown this run");
        }
        Fleet {
            answer,
            lookup: Some(lookup),
            batcher: None,
        }
    }

    /// From now on, the follow-up lookups of servers holding a [`Seat`] go out together, each
    /// held at most `window`. Call it on the runtime, before the servers start.
    pub fn start_batcher(&mut self, window: std::time::Duration) {
        if let (Some(lookup), Ok(_)) = (&self.lookup, &self.answer) {
            self.batcher = Some(Batcher::spawn(window, Arc::clone(lookup)));
        }
    }

    /// `server`'s seat at the batcher, for the time it may still ask ([`Fleet::answer_for`]).
    pub fn seat(&self, server: &ServerConfig) -> Option<Seat> {
        let batcher = self.batcher.as_ref()?;
        server.advisories.enabled.then(|| batcher.seat())
    }

    /// The answer for `query`: the fleet's when it asked exactly this, else a lookup of this
    /// query (with the other seated servers' when `seat` is given). `Err` when the service
    /// failed (the caller keeps its last answer). Blocking.
    pub fn answer_for(
        &self,
        seat: Option<&Seat>,
        query: &ServerQuery,
    ) -> Result<Cow<'_, FleetAnswer>, String> {
        let answer = self.answer.as_ref().map_err(Clone::clone)?;
        let Some(lookup) = &self.lookup else {
            return Err("advisory lookups are turned off".into());
        };
        let wanted: BTreeSet<PackageQuery> = query.package_queries().into_iter().collect();
        if wanted.iter().all(|q| answer.matches.contains_key(q)) {
            return Ok(Cow::Borrowed(answer));
        }
        tracing::info!(server = %query.server, "packages or versions changed since the last check; asking about them");
        match seat {
            Some(seat) => seat.ask(query.clone()),
            None => lookup(std::slice::from_ref(query)),
        }
        .map(Cow::Owned)
    }
}

/// What the server's last check asked, from the state.
fn last_query(store: &Store, server: &ServerConfig) -> Option<ServerQuery> {
    let kept = match store.advisory_state(&server.name) {
        Ok(found) => found?,
        Err(e) => {
            tracing::warn!(server = %server.name, error = %format!("{e:#}"), "could not read the advisory state");
            return None;
        }
    };
    let packages: Vec<PackageRef> = serde_json::from_str(&kept.packages).ok()?;
    Some(ServerQuery {
        server: server.name.clone(),
        packages,
        pinned: kept.pinned,
        proposed: kept.proposed,
    })
}

/// The packages config names for `server`, when it names them (they replace detection).
pub fn configured_packages(server: &ServerConfig) -> Option<Vec<PackageRef>> {
    server.advisories.packages.as_ref().map(|list| {
        list.iter()
            .filter_map(|(eco, name)| Ecosystem::parse(eco).map(|e| PackageRef::new(e, name)))
            .collect()
    })
}
