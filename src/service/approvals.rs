//! `POST /licenses/{server}/approve` and `POST /licenses/{server}/decline`: an operator's (or a
//! tool's) license decision over HTTP, as `upkeep license approve|decline` makes it, recorded
//! with source `api`.
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

pub async fn approve(
    State(control): State<Arc<Control>>,
    Path(server): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    decide(control, server, Verdict::Approved, headers, body).await
}

pub async fn decline(
    State(control): State<Arc<Control>>,
    Path(server): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    decide(control, server, Verdict::Declined, headers, body).await
}

async fn decide(
    control: Arc<Control>,
    server: String,
    verdict: Verdict,
    headers: HeaderMap,
    body: Body,
) -> Response {
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
                    kind: ReviewKind::License,
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
            tracing::info!(server = %server, verdict = verdict.as_str(), "license decision recorded over the API");
            json_reply(
                StatusCode::OK,
                &json!({ "server": server, "decision": verdict.as_str(), "fingerprint": fingerprint }),
            )
        }
        Ok(Outcome::NothingPending) => message(
            StatusCode::CONFLICT,
            format!("{server} has no license change waiting for review"),
        ),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "license decision not recorded");
            message(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
        }
    }
}
