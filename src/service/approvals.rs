//! `POST /licenses/{server}/approve` and `POST /licenses/{server}/decline`: an operator's (or a
//! tool's) license decision over HTTP, as `upkeep license approve|decline` makes it, recorded
//! with source `api`; `POST /mcp/{server}/approve` and `/decline` the same for the held MCP
//! surface, as `upkeep review approve|decline --kind mcp` makes it.
//!
//! The bearer token is `[service] approvals-token-env`, compared in constant time
//! ([`super::http::require_bearer`]) before the body is read; with none configured the
//! endpoints answer 403. The body is JSON `{"by": "...", "note": "..."}` (`note` is the
//! decline's reason, required there). 200 recorded (with the fingerprint), 400 bad body,
//! 401 wrong token, 404 unknown server, 409 nothing waits for review.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::control::Control;
use super::http::{json_reply, message, read_body, require_bearer};
use crate::pipeline::decisions::{self, Outcome, Request};
use crate::store::{ReviewKind, Source, Verdict};

/// A decision's body: a name and a note, a few hundred bytes.
const BODY_LIMIT: usize = 16 * 1024;
/// The longest `by` and `note` kept: they are shown on the PR and in emails.
const FIELD_LIMIT: usize = 2_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    by: String,
    note: Option<String>,
}

/// One endpoint: the review it decides and how, in front of [`decide`].
macro_rules! endpoint {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $verdict:expr) => {
        $(#[$doc])*
        pub async fn $name(
            State(control): State<Arc<Control>>,
            Path(server): Path<String>,
            headers: HeaderMap,
            body: Body,
        ) -> Response {
            let asked = Asked {
                kind: $kind,
                verdict: $verdict,
            };
            decide(control, server, asked, headers, body).await
        }
    };
}

endpoint!(
    /// `POST /licenses/{server}/approve`
    approve,
    ReviewKind::License,
    Verdict::Approved
);
endpoint!(
    /// `POST /licenses/{server}/decline`
    decline,
    ReviewKind::License,
    Verdict::Declined
);
endpoint!(
    /// `POST /mcp/{server}/approve`
    approve_mcp,
    ReviewKind::Mcp,
    Verdict::Approved
);
endpoint!(
    /// `POST /mcp/{server}/decline`
    decline_mcp,
    ReviewKind::Mcp,
    Verdict::Declined
);

/// Which review an endpoint decides, and how.
#[derive(Debug, Clone, Copy)]
struct Asked {
    kind: ReviewKind,
    verdict: Verdict,
}

impl Asked {
    fn what(self) -> &'static str {
        match self.kind {
            ReviewKind::License => "license change",
            ReviewKind::Mcp => "MCP surface change",
        }
    }
}

async fn decide(
    control: Arc<Control>,
    server: String,
    asked: Asked,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let verdict = asked.verdict;
    let config = control.config();
    if let Err(r) = require_bearer(&config.service.approvals_token, "approvals", &headers) {
        return *r;
    }
    let Some(server_config) = config.server(&server).cloned() else {
        return message(StatusCode::NOT_FOUND, format!("unknown server `{server}`"));
    };
    let bytes = match read_body(&control, &headers, body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let request: DecisionBody = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return message(
                StatusCode::BAD_REQUEST,
                format!("body is not {{\"by\": \"...\", \"note\": \"...\"}}: {e}"),
            );
        }
    };
    let by = request.by.trim().to_string();
    let note = request
        .note
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    if by.is_empty()
        || by.len() > FIELD_LIMIT
        || note.as_ref().is_some_and(|n| n.len() > FIELD_LIMIT)
    {
        return message(
            StatusCode::BAD_REQUEST,
            format!("`by` must name who decided and `by`/`note` be at most {FIELD_LIMIT} bytes"),
        );
    }
    if verdict == Verdict::Declined && note.is_none() {
        return message(
            StatusCode::BAD_REQUEST,
            "a decline needs a `note`: the reason",
        );
    }
    let store = Arc::clone(&control.deps().store);
    let outcome = store
        .blocking(move |store| {
            decisions::decide(
                store,
                &server_config,
                Request {
                    kind: asked.kind,
                    verdict,
                    source: Source::Api,
                    by: &by,
                    note: note.as_deref(),
                },
            )
        })
        .await;
    match outcome {
        Ok(Outcome::Recorded { fingerprint }) => {
            tracing::info!(server = %server, kind = asked.kind.as_str(), verdict = verdict.as_str(), "review decision recorded over the API");
            json_reply(
                StatusCode::OK,
                &json!({
                    "server": server,
                    "kind": asked.kind.as_str(),
                    "decision": verdict.as_str(),
                    "fingerprint": fingerprint,
                }),
            )
        }
        Ok(Outcome::NothingPending) => message(
            StatusCode::CONFLICT,
            format!("{server} has no {} waiting for review", asked.what()),
        ),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), kind = asked.kind.as_str(), "review decision not recorded");
            message(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
        }
    }
}
