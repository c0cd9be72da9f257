//! The router and handlers of the service's HTTP endpoints.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /healthz` | 200 `ok` while the process runs |
//! | `GET /readyz` | 200 when the state store answers and no run is stuck past `lease-timeout`, else 503 with the reason |
//! | `GET /metrics` | Prometheus text |
//! | `GET /status` | the `status --json` document |
//! | `POST /sync` | bearer token; optional `server` (query or JSON body); 202 started, 401, 403 disabled, 404 unknown server, 409 busy |
//! | `POST /webhooks/github` | `X-Hub-Signature-256` checked; release/tag events sync the matching servers; 401 bad signature, 404 no server |
//! | `GET /events` | Server-Sent Events: each run event as JSON, `event:` its kind |

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::control::{Control, StartError};
use super::{auth, webhook};
use crate::config::SecretRef;
use crate::metrics::{Scrape, ServerGauge};
use crate::pipeline::RunOptions;

/// The service's routes over `control`.
pub fn router(control: Arc<Control>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/sync", post(sync))
        .route("/webhooks/github", post(github_webhook))
        .route("/events", get(events))
        .with_state(control)
}

/// Serve `router(control)` on `listener` until [`Control::http_shutdown`] is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    control: Arc<Control>,
) -> std::io::Result<()> {
    let stop = control.http_shutdown().clone();
    axum::serve(listener, router(control))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

fn json_reply(code: StatusCode, body: &serde_json::Value) -> Response {
    (code, axum::Json(body.clone())).into_response()
}

fn message(code: StatusCode, text: impl Into<String>) -> Response {
    json_reply(code, &json!({ "message": text.into() }))
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(control): State<Arc<Control>>) -> Response {
    let deps = control.deps();
    if deps.stop.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    let store = Arc::clone(&deps.store);
    let ping = tokio::task::spawn_blocking(move || store.ping()).await;
    match ping {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("state store unreachable: {e:#}\n"),
            )
                .into_response();
        }
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("state store check failed: {e}\n"),
            )
                .into_response();
        }
    }
    if let Some((run_id, idle)) = control.stuck_run() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "run {run_id} made no progress for {}s (lease-timeout {}s)\n",
                idle.as_secs(),
                deps.config.state.lease_timeout.as_secs()
            ),
        )
            .into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

async fn metrics(State(control): State<Arc<Control>>) -> Response {
    let deps = control.deps();
    let run_in_progress = control.busy();
    let scraped = tokio::task::spawn_blocking(move || -> anyhow::Result<Scrape> {
        let mut servers = Vec::new();
        for s in &deps.config.servers {
            let st = deps.store.server_state(&s.name)?;
            #[allow(clippy::cast_precision_loss)] // Unix milliseconds are far below 2^52.
            let last_success = st
                .as_ref()
                .and_then(|st| st.last_success_at.as_deref())
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp_millis() as f64 / 1000.0);
            servers.push(ServerGauge {
                name: s.name.clone(),
                held: st.as_ref().is_some_and(|st| st.hold_reason.is_some()),
                last_success,
                advisories: crate::status::advisory_status(&deps.store, &s.name)?
                    .map(|a| a.by_severity)
                    .unwrap_or_default(),
            });
        }
        Ok(Scrape {
            emails: deps.store.outbox_counts(None)?,
            servers,
            http: crate::http::global_metrics().snapshot(),
            run_in_progress,
        })
    })
    .await;
    match scraped {
        Ok(Ok(scrape)) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
            )],
            control.metrics().render(&scrape),
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "metrics scrape failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("scrape failed: {e:#}\n"),
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("scrape failed: {e}\n"),
        )
            .into_response(),
    }
}

async fn status(State(control): State<Arc<Control>>) -> Response {
    let deps = control.deps();
    let doc = tokio::task::spawn_blocking(move || {
        crate::status::collect(&deps.config, &deps.store)
            .and_then(|d| serde_json::to_value(d).map_err(Into::into))
    })
    .await;
    match doc {
        Ok(Ok(doc)) => json_reply(StatusCode::OK, &doc),
        Ok(Err(e)) => message(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A secret the endpoint needs: `Err` is the response when it is not configured or unreadable.
fn endpoint_secret(secret: &SecretRef, endpoint: &str) -> Result<String, Box<Response>> {
    match secret.resolve() {
        Ok(Some(s)) => Ok(s.expose().to_string()),
        Ok(None) => Err(Box::new(message(
            StatusCode::FORBIDDEN,
            format!("{endpoint} endpoint disabled"),
        ))),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), endpoint, "endpoint secret unavailable");
            Err(Box::new(message(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{endpoint} endpoint misconfigured: its secret is not available"),
            )))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct SyncRequest {
    server: Option<String>,
    #[serde(default)]
    servers: Vec<String>,
}

async fn start(control: &Arc<Control>, opts: RunOptions) -> Response {
    let servers = opts.servers.clone();
    let trigger = opts.trigger;
    match control.try_start(opts, Duration::ZERO).await {
        Ok(()) => {
            tracing::info!(trigger = %trigger, servers = ?servers, "run requested");
            json_reply(
                StatusCode::ACCEPTED,
                &json!({ "message": "run started", "trigger": trigger, "servers": servers }),
            )
        }
        Err(e @ (StartError::InProgress | StartError::LeaseHeld(_))) => {
            message(StatusCode::CONFLICT, e.to_string())
        }
        Err(e @ StartError::ShuttingDown) => {
            message(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        Err(e @ StartError::UnknownServer(_)) => message(StatusCode::NOT_FOUND, e.to_string()),
        Err(StartError::Other(e)) => {
            tracing::error!(error = %format!("{e:#}"), "run not started");
            message(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
        }
    }
}

async fn sync(
    State(control): State<Arc<Control>>,
    Query(query): Query<SyncRequest>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let config = control.config();
    let token = match endpoint_secret(&config.service.sync_token, "sync") {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !auth::bearer_matches(given, &token) {
        let mut r = message(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    let request: SyncRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SyncRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return message(
                    StatusCode::BAD_REQUEST,
                    format!("body is not the expected JSON: {e}"),
                );
            }
        }
    };
    let mut servers: Vec<String> = query.server.into_iter().chain(query.servers).collect();
    servers.extend(request.server);
    servers.extend(request.servers);
    servers.sort();
    servers.dedup();
    start(
        &control,
        RunOptions {
            servers,
            dry_run: false,
            full: false,
            trigger: crate::report::Trigger::Api,
        },
    )
    .await
}

async fn github_webhook(
    State(control): State<Arc<Control>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let config = control.config();
    let secret = match endpoint_secret(&config.service.webhook_secret, "webhook") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !auth::signature_matches(secret.as_bytes(), &body, signature) {
        tracing::warn!(
            signed = signature.is_some(),
            "webhook delivery refused: bad or missing signature"
        );
        return message(
            StatusCode::UNAUTHORIZED,
            "missing or wrong X-Hub-Signature-256",
        );
    }
    let event = headers
        .get("x-github-event")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let payload: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return message(StatusCode::BAD_REQUEST, format!("payload is not JSON: {e}")),
    };
    match webhook::classify(event, &payload) {
        Err(e) => message(StatusCode::BAD_REQUEST, e),
        Ok(webhook::Action::Pong) => message(StatusCode::OK, "pong"),
        Ok(webhook::Action::Ignore(why)) => message(StatusCode::OK, format!("ignored: {why}")),
        Ok(webhook::Action::Sync {
            repository_urls,
            what,
        }) => {
            let servers = webhook::matching_servers(&config, &repository_urls);
            if servers.is_empty() {
                tracing::info!(event, repository = ?repository_urls.first(), "webhook for a repository no enabled server follows");
                return message(
                    StatusCode::NOT_FOUND,
                    "no enabled server has this repository as its upstream",
                );
            }
            tracing::info!(event, what = %what, servers = ?servers, "webhook: syncing");
            start(
                &control,
                RunOptions {
                    servers,
                    dry_run: false,
                    full: false,
                    trigger: crate::report::Trigger::Webhook,
                },
            )
            .await
        }
    }
}

fn sse_event(event: &crate::events::Event) -> SseEvent {
    let value = serde_json::to_value(event).unwrap_or_default();
    let kind = value["event"].as_str().unwrap_or("event").to_string();
    SseEvent::default().event(kind).data(value.to_string())
}

async fn events(
    State(control): State<Arc<Control>>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    // Subscribed before the response starts: every event after the headers reaches the client.
    let rx = control.deps().events.subscribe();
    let stop = control.http_shutdown().clone();
    let hello =
        futures_util::stream::once(async { Ok(SseEvent::default().comment("upkeep events")) });
    let stream = futures_util::stream::unfold((rx, stop), |(mut rx, stop)| async move {
        // Events first: what was published before the shutdown still reaches the client.
        let next = tokio::select! {
            biased;
            r = rx.recv() => r,
            () = stop.cancelled() => return None,
        };
        let item = match next {
            Ok(event) => sse_event(&event),
            // A slow client missed events; say so rather than pretend the stream is whole.
            Err(RecvError::Lagged(n)) => SseEvent::default().event("lagged").data(n.to_string()),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(item), (rx, stop)))
    });
    Sse::new(futures_util::StreamExt::chain(hello, stream)).keep_alive(KeepAlive::default())
}
