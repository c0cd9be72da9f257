//! Review decisions made away from the PR: `upkeep license approve|decline`, `upkeep review
//! approve|decline --kind mcp|license`, and the service's `POST /licenses/{server}/approve|decline`
//! and `POST /mcp/{server}/approve|decline`. Each is recorded against the fingerprint of the
//! text under review, in the audit trail with its source, in one transaction with what it owes
//! on the PR (a reply; for a decline, closing it) and, for a decline, the owners' email. The
//! next run's `commands` stage posts the reply and closes the PR; the full check then releases
//! (approve) or stops proposing (decline) the version.

use super::stages::commands;
use crate::config::ServerConfig;
use crate::render::decisions::{self as texts, DecisionView};
use crate::store::{NewCommand, NewDecision, ReviewKind, Source, Store, Verdict};

/// What a decision made away from the PR did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded against this fingerprint.
    Recorded { fingerprint: String },
    /// Nothing of this kind waits for review.
    NothingPending,
}

/// A decision's who and why.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub kind: ReviewKind,
    pub verdict: Verdict,
    pub source: Source,
    pub by: &'a str,
    /// The approval's note, or the decline's reason (required for a decline by the callers).
    pub note: Option<&'a str>,
}

/// Record `r` for `server`'s pending review.
pub fn decide(store: &Store, server: &ServerConfig, r: Request<'_>) -> anyhow::Result<Outcome> {
    let name = &server.name;
    let Some((fingerprint, _)) = store.pending(r.kind, name)? else {
        return Ok(Outcome::NothingPending);
    };
    let open = store.open_pr(name)?;
    let version = open.as_ref().map(|p| p.version.clone()).unwrap_or_default();
    let pr_url = open.as_ref().and_then(|p| p.url.clone());
    let now = super::now_str();
    let other = r.kind.other();
    let still_held = commands::held(store, other, name)?.map(|_| commands::subject(other));
    let view = DecisionView {
        subject: commands::subject(r.kind),
        server: name,
        version: &version,
        actor: r.by,
        at: &now,
        fingerprint: &fingerprint,
        note: r.note,
        still_held,
    };
    let declined = r.verdict == Verdict::Declined;
    let key = format!("{}-{}-{fingerprint}", r.verdict.as_str(), r.kind.as_str());
    // The reply states the decision on the PR, where people look.
    let reply = if declined {
        texts::declined_reply(&key, &view)
    } else {
        texts::approved_reply(&key, &view)
    };
    let owed = open
        .as_ref()
        .and_then(|p| p.forge_id.as_deref())
        .map(|pr_id| NewCommand {
            server: name,
            key: &key,
            pr_id,
            outcome: r.verdict.as_str(),
            reply: Some(&reply),
            close: declined,
        });
    let email = declined.then(|| commands::declined_email(server, &view, pr_url.as_deref()));
    let decision = NewDecision {
        kind: r.kind,
        server: name,
        fingerprint: &fingerprint,
        version: Some(&version).filter(|v| !v.is_empty()).map(String::as_str),
        verdict: r.verdict,
        source: r.source,
        actor: r.by,
        note: r.note,
        pr_url: pr_url.as_deref(),
        comment_url: None,
    };
    store.transaction(|tx| {
        Store::record_decision_tx(tx, &decision)?;
        if let Some(c) = &owed {
            Store::record_command_tx(tx, c)?;
        }
        if let Some(e) = &email {
            Store::enqueue_email(tx, e, None)?;
        }
        Ok(())
    })?;
    tracing::info!(server = %name, verdict = r.verdict.as_str(), source = r.source.as_str(), "review decision recorded");
    Ok(Outcome::Recorded { fingerprint })
}
