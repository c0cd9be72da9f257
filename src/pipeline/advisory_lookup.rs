//! The run's advisory lookup: once per run, before the servers, one `querybatch` for the whole
//! fleet ([`advisories::lookup`]), with the advisory details cached in the state by id and
//! `modified` ([`StateVulnCache`]). Runs on the quiet path too: advisories change without any
//! upstream change.
//!
//! What each server asks is what its last check found (its packages, pinned and proposed
//! versions, kept in the state). A server whose packages or versions changed since (a new
//! release, a first check) is asked about on its own when its stage needs it
//! ([`Fleet::answer_for`]), so the answer is never for the wrong versions. An unreachable
//! service is a warning in the run, never a failed server or fleet.

use std::borrow::Cow;
use std::collections::BTreeSet;

use chrono::Utc;

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

/// The fleet's answer for this run, and the client to ask about what it does not cover.
pub struct Fleet {
    client: Option<OsvClient>,
    answer: Result<FleetAnswer, String>,
    /// False in a dry run: the state is not written.
    write: bool,
    /// Set when a server's own lookup failed: the others do not wait out the retries again.
    down: std::sync::Mutex<Option<String>>,
}

impl Fleet {
    /// Advisories are off (`[advisories] enabled = false`), or this run looks nothing up.
    pub fn disabled() -> Fleet {
        Fleet {
            client: None,
            answer: Err("advisory lookups are turned off".into()),
            write: false,
            down: std::sync::Mutex::new(None),
        }
    }

    pub fn enabled(&self) -> bool {
        self.client.is_some()
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
                return Fleet {
                    client: None,
                    answer: Err(error),
                    write: false,
                    down: std::sync::Mutex::new(None),
                };
            }
        };
        let queries: Vec<ServerQuery> = servers
            .iter()
            .filter(|s| s.advisories.enabled)
            .filter_map(|s| last_query(&deps.store, s))
            .collect();
        let cache = StateVulnCache {
            store: &deps.store,
            write: !dry_run,
        };
        let answer =
            advisories::lookup(&client, &cache, &queries, Utc::now()).map_err(|e| format!("{e:#}"));
        if let Err(e) = &answer {
            tracing::warn!(error = %e, "the advisory service did not answer; advisories unknown this run");
        }
        Fleet {
            client: Some(client),
            answer,
            write: !dry_run,
            down: std::sync::Mutex::new(None),
        }
    }

    /// The answer for `query`: the fleet's when it asked exactly this, else a lookup of this
    /// query alone. `Err` when the service failed (the caller keeps its last answer).
    pub fn answer_for(
        &self,
        store: &Store,
        query: &ServerQuery,
    ) -> Result<Cow<'_, FleetAnswer>, String> {
        let Some(client) = &self.client else {
            return Err(self.answer.as_ref().err().cloned().unwrap_or_default());
        };
        let answer = self.answer.as_ref().map_err(Clone::clone)?;
        let wanted: BTreeSet<PackageQuery> = query.package_queries().into_iter().collect();
        if wanted.iter().all(|q| answer.matches.contains_key(q)) {
            return Ok(Cow::Borrowed(answer));
        }
        if let Some(e) = self.down().clone() {
            return Err(e);
        }
        tracing::info!(server = %query.server, "packages or versions changed since the last check; asking about them");
        let cache = StateVulnCache {
            store,
            write: self.write,
        };
        match advisories::lookup(client, &cache, std::slice::from_ref(query), Utc::now()) {
            Ok(answer) => Ok(Cow::Owned(answer)),
            Err(e) => {
                let e = format!("{e:#}");
                *self.down() = Some(e.clone());
                Err(e)
            }
        }
    }
}

impl Fleet {
    fn down(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.down
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
