//! The router and handlers of the service's HTTP endpoints.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /healthz` | 200 `ok` while the process runs |
//! | `GET /readyz` | 200 when the state store answers and no run is stuck past `lease-timeout`, else 503 with the reason |
//! | `GET /metrics` | Prometheus text |
//! | `GET /status` | the `status --json` document; read token ([`super::guard`]) |
//! | `POST /sync` | bearer token, checked before the body is read; optional `server` (query or JSON body); 202 started, 401, 403 disabled, 404 unknown server, 409 busy |
//! | `POST /webhooks/github` | `X-Hub-Signature-256` checked; release/tag events sync the matching servers, once per `X-GitHub-Delivery`; an `issue_comment` with a command on a rebuild PR syncs that server ([`super::pr_webhook`]); 401 bad signature, 404 no server |
//! | `POST /licenses/{server}/approve`, `/decline` | bearer token `[service] approvals-token-env` ([`super::approvals`]); JSON `{"by", "note"}`; 200, 400, 401, 403 disabled, 404, 409 nothing pending |
//! | `POST /mcp/{server}/approve`, `/decline` | the same for the held MCP surface review |
//! | `GET /events` | Server-Sent Events: each run event as JSON, `event:` its kind; read token; at most `max-event-subscribers` at once |
//! | `GET /`, `/servers/{name}`, `/runs/{id}`, `GET`/`POST /login` | the dashboard's HTML pages ([`super::dashboard`]) |
//!
//! Every request's `Host` is checked first ([`super::guard`]); connections and header timeouts
//! are the listener's ([`super::listener`]); bodies are read only after the request is
//! authorised (the webhook's signature needs its body: its headers are checked first), within
//! `[service] request-timeout` and a size limit.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::control::{Control, StartError};
use super::{auth, dashboard, guard, listener, webhook};
use crate::config::SecretRef;
use crate::metrics::{PoolGauge, Scrape, ServerGauge};
use crate::pipeline::RunOptions;

/// The largest `POST /sync` body: a JSON list of server names.
const SYNC_BODY_LIMIT: usize = 64 * 1024;
/// The largest webhook payload read (GitHub's release and tag payloads are far smaller).
const WEBHOOK_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The service's routes over `control`.
pub fn router(control: Arc<Control>) -> Router {
    let read = Router::new()
        .route("/status", get(status))
        .route("/events", get(events))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&control),
            guard::readers,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/sync", post(sync))
        .route("/webhooks/github", post(github_webhook))
        .route(
            "/licenses/{server}/approve",
            post(super::approvals::approve),
        )
        .route(
            "/licenses/{server}/decline",
            post(super::approvals::decline),
        )
        .route("/mcp/{server}/approve", post(super::approvals::approve_mcp))
        .route("/mcp/{server}/decline", post(super::approvals::decline_mcp))
        .merge(read)
        .merge(dashboard::routes(&control))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&control),
            guard::hosts,
        ))
        .layer(axum::Extension(Arc::new(Subscribers::default())))
        .with_state(control)
}

/// Serve `router(control)` on `listener` until [`Control::http_shutdown`] is cancelled, with
/// the connection limit and timeouts of `[service]` (read at start, like `listen`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    control: Arc<Control>,
) -> std::io::Result<()> {
    let stop = control.http_shutdown().clone();
    let service = control.config().service.clone();
    let limits = listener::Limits {
        max_connections: service.max_connections,
        request_timeout: service.request_timeout,
    };
    listener::serve(listener, router(control), limits, stop).await
}

pub(super) fn json_reply(code: StatusCode, body: &serde_json::Value) -> Response {
    (code, axum::Json(body.clone())).into_response()
}

pub(super) fn message(code: StatusCode, text: impl Into<String>) -> Response {
    json_reply(code, &json!({ "message": text.into() }))
}

/// The body of an authorised request, read within `[service] request-timeout` and `limit`.
pub(super) async fn read_body(
    control: &Control,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        message(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes"),
        )
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let timeout = control.config().service.request_timeout;
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        // Past the limit (a chunked body has no declared length) or cut off by the client.
        Ok(Err(e)) => Err(message(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body could not be read within {limit} bytes: {e}"),
        )),
        Err(_) => Err(message(
            StatusCode::REQUEST_TIMEOUT,
            "the body did not arrive within [service] request-timeout",
        )),
    }
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
                ..fleet_gauges(&deps.store, &s.name)?
            });
        }
        let names: Vec<&str> = deps
            .config
            .servers
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        Ok(Scrape {
            emails: deps.store.outbox_counts(None)?,
            servers,
            http: crate::http::global_metrics().snapshot(),
            run_in_progress,
            lead_times: deps.store.lead_times(&names)?,
            claims: deps.store.claims_by_holder()?,
            state_pool: deps.store.pool_stats().map(pool_gauge),
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

/// The state pool's counts as `/metrics` shows them.
fn pool_gauge(s: crate::store::db::PoolStats) -> PoolGauge {
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    PoolGauge {
        size: n(s.size),
        in_use: n(s.in_use),
        idle: n(s.open.saturating_sub(s.in_use)),
        waits: s.waits,
        timeouts: s.timeouts,
    }
}

/// A server's freshness gauges for `/metrics` (issue 17).
fn fleet_gauges(store: &crate::store::Store, server: &str) -> anyhow::Result<ServerGauge> {
    let f = crate::freshness::assess(&store.freshness_view(server)?, chrono::Utc::now());
    Ok(ServerGauge {
        releases_behind: f.releases_behind,
        lag_seconds: f.lag,
        ..ServerGauge::default()
    })
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

/// The caller of a token-guarded endpoint holds its bearer token (checked in constant time,
/// before any body is read); else the answer to send: 403/503 from [`endpoint_secret`], or 401.
pub(super) fn require_bearer(
    secret: &SecretRef,
    endpoint: &str,
    headers: &HeaderMap,
) -> Result<(), Box<Response>> {
    let token = endpoint_secret(secret, endpoint)?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth::bearer_matches(given, &token) {
        return Ok(());
    }
    let mut r = message(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Err(Box::new(r))
}

/// A secret the endpoint needs: `Err` is the response when it is not configured, unreadable
/// or too weak to use.
pub(super) fn endpoint_secret(secret: &SecretRef, endpoint: &str) -> Result<String, Box<Response>> {
    match secret.resolve() {
        Ok(Some(s)) => match crate::config::weak_secret(s.expose()) {
            None => Ok(s.expose().to_string()),
            Some(why) => {
                tracing::error!(endpoint, "endpoint secret refused: it {why}");
                Err(Box::new(message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{endpoint} endpoint misconfigured: its secret is too short"),
                )))
            }
        },
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
    body: Body,
) -> Response {
    let config = control.config();
    if let Err(r) = require_bearer(&config.service.sync_token, "sync", &headers) {
        return *r;
    }
    // Only now, with the caller known: an anonymous client cannot make us read its body.
    let body = match read_body(&control, &headers, body, SYNC_BODY_LIMIT).await {
        Ok(b) => b,
        Err(r) => return r,
    };
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
            fresh_since: None,
        },
    )
    .await
}

async fn github_webhook(
    State(control): State<Arc<Control>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let config = control.config();
    let secret = match endpoint_secret(&config.service.webhook_secret, "webhook") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signature = header("x-hub-signature-256");
    // What can be checked without the body is, before the body is read.
    if !auth::signature_well_formed(signature) {
        tracing::warn!(
            signed = signature.is_some(),
            "webhook delivery refused: missing or malformed signature"
        );
        return message(
            StatusCode::UNAUTHORIZED,
            "missing or wrong X-Hub-Signature-256",
        );
    }
    let delivery = match webhook::delivery_id(header("x-github-delivery")) {
        Ok(id) => id.to_string(),
        Err(e) => return message(StatusCode::BAD_REQUEST, e),
    };
    let body = match read_body(&control, &headers, body, WEBHOOK_BODY_LIMIT).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !auth::signature_matches(secret.as_bytes(), &body, signature) {
        tracing::warn!(delivery = %delivery, "webhook delivery refused: wrong signature");
        return message(
            StatusCode::UNAUTHORIZED,
            "missing or wrong X-Hub-Signature-256",
        );
    }
    let event = header("x-github-event").unwrap_or_default();
    let payload: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return message(StatusCode::BAD_REQUEST, format!("payload is not JSON: {e}")),
    };
    if event == "issue_comment" {
        return super::pr_webhook::handle(&control, &delivery, &payload).await;
    }
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
                let repository = repository_urls
                    .first()
                    .map(|u| crate::secret::redact_url(u));
                tracing::info!(event, repository = ?repository, "webhook for a repository no enabled server follows");
                return message(
                    StatusCode::NOT_FOUND,
                    "no enabled server has this repository as its upstream",
                );
            }
            sync_once(&control, &delivery, servers, &what).await
        }
    }
}

/// Start the run a delivery asks for, once per delivery id: a replayed (or redelivered)
/// delivery that already started a run is acknowledged and ignored. A delivery whose run could
/// not start (busy, shutting down) is not remembered, so GitHub's redelivery can still start it.
pub(super) async fn sync_once(
    control: &Arc<Control>,
    delivery: &str,
    servers: Vec<String>,
    what: &str,
) -> Response {
    let store = Arc::clone(&control.deps().store);
    let id = delivery.to_string();
    let claimed = tokio::task::spawn_blocking(move || store.claim_delivery(&id)).await;
    match claimed {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => {
            tracing::info!(delivery, "webhook delivery already processed; ignored");
            return message(
                StatusCode::OK,
                format!("ignored: delivery {delivery} was already processed"),
            );
        }
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "could not record the webhook delivery");
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "the state is unavailable; retry later",
            );
        }
        Err(e) => return message(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    tracing::info!(delivery, what = %what, servers = ?servers, "webhook: syncing");
    let response = start(
        control,
        RunOptions {
            servers,
            dry_run: false,
            full: false,
            trigger: crate::report::Trigger::Webhook,
            fresh_since: None,
        },
    )
    .await;
    if !response.status().is_success() {
        let store = Arc::clone(&control.deps().store);
        let id = delivery.to_string();
        let released = tokio::task::spawn_blocking(move || store.release_delivery(&id)).await;
        if !matches!(released, Ok(Ok(()))) {
            tracing::warn!(
                delivery,
                "could not forget a webhook delivery whose run did not start"
            );
        }
    }
    response
}

fn sse_event(event: &crate::events::Event) -> SseEvent {
    let value = serde_json::to_value(event).unwrap_or_default();
    let kind = value["event"].as_str().unwrap_or("event").to_string();
    SseEvent::default().event(kind).data(value.to_string())
}

/// `/events` streams open now, against `[service] max-event-subscribers`.
#[derive(Debug, Default)]
struct Subscribers(std::sync::atomic::AtomicUsize);

/// One open `/events` stream; its slot is freed when the stream is dropped (client gone).
struct Subscription(Arc<Subscribers>);

impl Subscription {
    fn take(subscribers: &Arc<Subscribers>, max: usize) -> Option<Subscription> {
        use std::sync::atomic::Ordering;
        subscribers
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Subscription(Arc::clone(subscribers)))
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn events(
    State(control): State<Arc<Control>>,
    axum::Extension(subscribers): axum::Extension<Arc<Subscribers>>,
) -> Response {
    let max = control.config().service.max_event_subscribers;
    let Some(slot) = Subscription::take(&subscribers, max) else {
        tracing::warn!(max, "/events refused: too many subscribers");
        let mut r = message(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many /events subscribers (at most {max}, [service] max-event-subscribers)"
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return r;
    };
    // Subscribed before the response starts: every event after the headers reaches the client.
    let rx = control.deps().events.subscribe();
    let stop = control.http_shutdown().clone();
    let hello = futures_util::stream::once(async {
        Ok::<_, Infallible>(SseEvent::default().comment("upkeep events"))
    });
    let stream =
        futures_util::stream::unfold((rx, stop, slot), |(mut rx, stop, slot)| async move {
            // Events first: what was published before the shutdown still reaches the client.
            let next = tokio::select! {
                biased;
                r = rx.recv() => r,
                () = stop.cancelled() => return None,
            };
            let item = match next {
                Ok(event) => sse_event(&event),
                // A slow client missed events; say so rather than pretend the stream is whole.
                Err(RecvError::Lagged(n)) => {
                    SseEvent::default().event("lagged").data(n.to_string())
                }
                Err(RecvError::Closed) => return None,
            };
            Some((Ok(item), (rx, stop, slot)))
        });
    Sse::new(futures_util::StreamExt::chain(hello, stream))
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_too_short_disables_its_endpoint_without_showing_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "replace-me\n").unwrap();
        let refused = endpoint_secret(&SecretRef::File(file.clone()), "sync").unwrap_err();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        std::fs::write(&file, "f".repeat(crate::config::MIN_SECRET_LEN)).unwrap();
        assert!(endpoint_secret(&SecretRef::File(file), "sync").is_ok());
        let disabled = endpoint_secret(&SecretRef::None, "sync").unwrap_err();
        assert_eq!(disabled.status(), StatusCode::FORBIDDEN);
    }
}
