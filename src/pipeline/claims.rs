//! A server's turn when several processes share the state (PostgreSQL): it is claimed before
//! its sync starts, renewed while the sync runs, and released when the sync ends, so exactly
//! one process syncs a server at a time (see [`crate::store::claims`]). On SQLite the run lease
//! already allows one process at a time, and nothing here runs.
//!
//! The claim is taken and renewed from async code (through [`Store::blocking`]); the sync itself
//! runs on one blocking thread that holds the claim as its fence, so every write transaction it
//! opens is refused once the claim is lost. The claim is released by that thread when the sync
//! really ends (a sync abandoned at `[service] server-timeout` keeps its claim until its
//! blocking work stops), and renewal stops then too.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::deps::Deps;
use crate::events::Event;
use crate::report::ServerReport;
use crate::store::Store;
use crate::store::claims::{Claim, ClaimOutcome};

/// What a server's turn comes to before its sync.
pub enum Turn {
    /// Sync it; under this claim when the state is shared.
    Go(Option<Held>),
    /// Leave it: another process syncs it, or synced it since `fresh_since`.
    Skip(Box<ServerReport>),
}

/// A claim this process holds, with its renewal running.
pub struct Held {
    pub claim: Claim,
    renewal: CancellationToken,
    store: Arc<Store>,
}

/// Claim `server` for `holder` when the state is shared; `fresh_since` (scheduled runs: the
/// fire time) leaves alone a server whose sync ended since. `on_lost` runs when a renewal
/// finds the claim gone (the caller stops the fetch).
pub async fn take(
    deps: &Deps,
    server: &str,
    holder: &str,
    fresh_since: Option<DateTime<Utc>>,
    on_lost: impl FnOnce() + Send + 'static,
) -> Turn {
    if !deps.store.shares_work() {
        return Turn::Go(None);
    }
    let ttl = deps.config.state.claim_ttl();
    let (name, who) = (server.to_string(), holder.to_string());
    let asked = deps
        .store
        .blocking(move |s| s.claim_server(&name, &who, ttl, fresh_since))
        .await;
    match asked {
        Ok(ClaimOutcome::Claimed(claim)) => {
            if let Some(previous) = &claim.taken_over_from {
                tracing::warn!(server, previous = %previous, token = claim.token, "took over a lapsed claim");
                deps.events.publish(Event::ClaimTakenOver {
                    server: server.to_string(),
                    previous: previous.clone(),
                });
            }
            let renewal = CancellationToken::new();
            tokio::spawn(renew(
                deps.clone(),
                claim.clone(),
                ttl,
                renewal.clone(),
                on_lost,
            ));
            Turn::Go(Some(Held {
                claim,
                renewal,
                store: Arc::clone(&deps.store),
            }))
        }
        Ok(ClaimOutcome::Held { holder, expires_at }) => {
            Turn::Skip(Box::new(ServerReport::skipped(
                server,
                &format!("in progress on {holder} (claimed until {expires_at})"),
            )))
        }
        Ok(ClaimOutcome::Fresh { finished_at }) => Turn::Skip(Box::new(ServerReport::skipped(
            server,
            &format!("synced by another process at {finished_at}, after this run was due"),
        ))),
        Err(e) => Turn::Skip(Box::new(ServerReport::failed(
            server,
            &format!("could not claim the server in the shared state: {e:#}"),
        ))),
    }
}

/// Renew `claim` every third of `ttl` until `done`; when it is lost, say so and cancel `lost`.
async fn renew(
    deps: Deps,
    claim: Claim,
    ttl: Duration,
    done: CancellationToken,
    on_lost: impl FnOnce() + Send + 'static,
) {
    let every = ttl / 3;
    loop {
        tokio::select! {
            () = done.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let c = claim.clone();
        match deps.store.blocking(move |s| s.renew_claim(&c, ttl)).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!(server = %claim.server, token = claim.token, "lost the claim on the server; its sync stops writing");
                deps.events.publish(Event::ClaimLost {
                    server: claim.server.clone(),
                });
                on_lost();
                return;
            }
            // A database that cannot be reached now may be back before the claim expires.
            Err(e) => {
                tracing::warn!(server = %claim.server, error = %format!("{e:#}"), "could not renew the claim; trying again");
            }
        }
    }
}

impl Held {
    /// End the turn, on the thread that synced: renewal stops and the claim is released,
    /// recording that a sync ended now (unless it was a dry run, which changes nothing).
    pub fn release(self, finished: bool) {
        self.renewal.cancel();
        if let Err(e) = self.store.release_claim(&self.claim, finished) {
            tracing::warn!(server = %self.claim.server, error = %format!("{e:#}"), "could not release the claim; it expires by itself");
        }
    }
}
