//! The dashboard's routes: `GET /`, `GET /servers/{name}`, `GET /runs/{id}` (the pages of
//! [`super::pages`]) and the sign-in (`GET`/`POST /login`).
//!
//! Who may look (`[service] dashboard`): `open`, anyone who reaches the listen address (accepted
//! only on loopback); `token` (the default), the read token of `/status`, as a bearer token or
//! as the session cookie `POST /login` sets after the token was typed into its form. The cookie
//! holds an HMAC of the token, not the token: `HttpOnly` (no script reads it), `SameSite=Strict`
//! (no other site's page sends it), and it stops working when the token changes.
//!
//! Every answer carries a Content-Security-Policy that admits no script and only the pages' own
//! style sheet, `nosniff`, `no-store` (an authenticated page is never kept by a cache) and no
//! framing. The handlers only read: nothing here writes the state or starts a run.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::auth;
use super::control::Control;
use super::http::endpoint_secret;
use super::pages::{self, fleet};
use crate::config::{DashboardAccess, ReadAccess, ValidConfig};
use crate::store::{ReviewKind, Store};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "upkeep_dashboard";
/// How long a session cookie is kept by the browser (12 hours).
const SESSION_MAX_AGE_SECS: u64 = 12 * 3_600;
/// The largest sign-in form read.
const LOGIN_BODY_LIMIT: usize = 4 * 1024;

/// The dashboard's routes, under the viewer check and the page headers.
pub fn routes(control: &Arc<Control>) -> Router<Arc<Control>> {
    let pages = Router::new()
        .route("/", get(fleet_page))
        .route("/servers/{name}", get(server_page))
        .route("/runs/{id}", get(run_page))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(control),
            viewers,
        ));
    Router::new()
        .route("/login", get(login_form).post(login))
        .layer(axum::extract::DefaultBodyLimit::max(LOGIN_BODY_LIMIT))
        .merge(pages)
        .layer(axum::middleware::map_response(page_headers))
}

async fn page_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&pages::html::content_security_policy()) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn page(code: StatusCode, html: String) -> Response {
    (code, Html(html)).into_response()
}

/// The read token the dashboard asks for, or the page saying why there is none.
fn read_token(config: &ValidConfig) -> Result<String, Box<Response>> {
    let refused = |code: StatusCode, text: &str| {
        Box::new(page(code, pages::problem("Dashboard unavailable", text)))
    };
    let ReadAccess::Token(secret) = &config.service.read_access else {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "The dashboard asks for the read token, and none is configured: set [service] \
             read-token-env (or read-token-file), or dashboard = \"open\" on a loopback listen.",
        ));
    };
    endpoint_secret(secret, "dashboard").map_err(|r| {
        let text = if r.status() == StatusCode::FORBIDDEN {
            "The dashboard asks for the read token, and none is configured: set [service] \
             read-token-env (or read-token-file)."
        } else {
            "The read token is not available or too short; the service log says which."
        };
        refused(r.status(), text)
    })
}

/// The session cookie's value for `token`: an HMAC of the token, so the cookie never holds it.
fn session_value(token: &str) -> String {
    let signed = auth::sign(token.as_bytes(), b"upkeep dashboard session v1");
    signed.trim_start_matches("sha256=").to_string()
}

/// Whether the `Cookie` headers carry the session cookie of `token` (compared in constant time).
fn session_matches(headers: &HeaderMap, token: &str) -> bool {
    let expected = Sha256::digest(session_value(token).as_bytes());
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .any(|(_, value)| bool::from(Sha256::digest(value.as_bytes()).ct_eq(&expected)))
}

/// Lets a request through to the pages when the dashboard is open, or it carries the read
/// token (bearer) or the session cookie; otherwise answers with the sign-in page.
async fn viewers(State(control): State<Arc<Control>>, request: Request, next: Next) -> Response {
    let config = control.config();
    if config.service.dashboard == DashboardAccess::Open {
        return next.run(request).await;
    }
    let token = match read_token(&config) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth::bearer_matches(bearer, &token) || session_matches(headers, &token) {
        return next.run(request).await;
    }
    page(StatusCode::UNAUTHORIZED, pages::login(None))
}

async fn login_form(State(control): State<Arc<Control>>) -> Response {
    if control.config().service.dashboard == DashboardAccess::Open {
        return Redirect::to("/").into_response();
    }
    page(StatusCode::OK, pages::login(None))
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(
    State(control): State<Arc<Control>>,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let config = control.config();
    if config.service.dashboard == DashboardAccess::Open {
        return Redirect::to("/").into_response();
    }
    let token = match read_token(&config) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    if !auth::bearer_matches(Some(&format!("Bearer {}", form.token)), &token) {
        tracing::warn!("dashboard sign-in refused: wrong read token");
        return page(
            StatusCode::UNAUTHORIZED,
            pages::login(Some("That is not the read token.")),
        );
    }
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_MAX_AGE_SECS}",
        session_value(&token)
    );
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Run `f` on the state on a blocking thread; a failure becomes an error page.
async fn gather<T, F>(control: &Control, f: F) -> Result<T, Response>
where
    F: FnOnce(&ValidConfig, &Store) -> anyhow::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let deps = control.deps();
    let config = Arc::clone(&deps.config);
    deps.store
        .blocking(move |store| f(&config, store))
        .await
        .map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "dashboard page failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::problem("The state could not be read", &format!("{e:#}")),
            )
        })
}

#[derive(Debug, Deserialize)]
struct FleetQuery {
    sort: Option<String>,
}

async fn fleet_page(
    State(control): State<Arc<Control>>,
    Query(query): Query<FleetQuery>,
) -> Response {
    let sort = fleet::Sort::parse(query.sort.as_deref());
    let rows = gather(&control, |config, store| {
        let doc = crate::status::collect(config, store)?;
        let mut rows = Vec::new();
        for s in &doc.servers {
            rows.push(fleet_row(store, s)?);
        }
        Ok(rows)
    })
    .await;
    match rows {
        Ok(rows) => page(
            StatusCode::OK,
            fleet::render(&fleet::sorted(rows, sort), sort, &now()),
        ),
        Err(r) => r,
    }
}

/// The fleet row of `s`: what the status document says, with its freshness and checks.
fn fleet_row(store: &Store, s: &crate::status::ServerStatus) -> anyhow::Result<fleet::FleetRow> {
    // The status document's freshness, assessed when it was collected.
    let measured = store.behind(&s.name)?.is_some();
    let checks = match store.open_pr(&s.name)? {
        Some(pr) => store.checks(pr.id)?.map(|c| fleet::ChecksCell {
            state: c.state.as_str().to_string(),
            failed: c.failed.into_iter().map(|f| f.name).collect(),
            url: c.url,
        }),
        None => None,
    };
    Ok(fleet::FleetRow::from_status(
        s,
        &s.freshness,
        measured,
        checks.as_ref(),
    ))
}

fn now() -> String {
    crate::store::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn server_page(State(control): State<Arc<Control>>, Path(name): Path<String>) -> Response {
    if control.config().server(&name).is_none() {
        return page(
            StatusCode::NOT_FOUND,
            pages::problem(
                "No such server",
                &format!("No server named `{name}` is in the config."),
            ),
        );
    }
    let html = gather(&control, move |config, store| {
        let now = crate::store::now();
        let doc = crate::status::collect(config, store)?;
        let Some(status) = doc.servers.into_iter().find(|s| s.name == name) else {
            anyhow::bail!("{name} is not in the status document");
        };
        let license = match store.pending(ReviewKind::License, &name)? {
            Some(_) => Some(crate::status::license_text(store, &name, true)?),
            None => None,
        };
        let mcp = store
            .pending(ReviewKind::Mcp, &name)?
            .and_then(|(_, json)| serde_json::from_str::<crate::mcp::McpSurfaceReport>(&json).ok());
        let mut prs = store.prs(&name)?;
        prs.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        let since = now - chrono::Duration::days(pages::chart::DAYS);
        Ok(pages::server::render(&pages::server::ServerPage {
            row: &fleet_row(store, &status)?,
            status: &status,
            tags: &store.tag_history(&name)?,
            prs: &prs,
            license_review: license.as_deref(),
            mcp_review: mcp.as_ref(),
            decisions: &store.decision_history(&name)?,
            emails: &store.server_emails(&name, 100)?,
            runs: &store.server_runs(&name, since, 500)?,
            now,
        }))
    })
    .await;
    match html {
        Ok(html) => page(StatusCode::OK, html),
        Err(r) => r,
    }
}

async fn run_page(State(control): State<Arc<Control>>, Path(id): Path<String>) -> Response {
    let not_found = || {
        page(
            StatusCode::NOT_FOUND,
            pages::problem("No such run", &format!("No run `{id}` is in the state.")),
        )
    };
    let Ok(run_id) = id.parse::<i64>() else {
        return not_found();
    };
    let found = gather(&control, move |_, store| {
        let Some(row) = store.run(run_id)? else {
            return Ok(None);
        };
        let summary = store
            .run_summary(run_id)?
            .and_then(|json| serde_json::from_str::<crate::report::RunReport>(&json).ok());
        let servers = store.run_servers(run_id)?;
        Ok(Some(pages::run::render(&row, summary.as_ref(), &servers)))
    })
    .await;
    match found {
        Ok(Some(html)) => page(StatusCode::OK, html),
        Ok(None) => not_found(),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_a_keyed_hash_of_the_token_and_only_that_matches() {
        let token = "t".repeat(40);
        let value = session_value(&token);
        assert!(!value.contains(&token));
        assert_eq!(value.len(), 64);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {SESSION_COOKIE}={value}")).unwrap(),
        );
        assert!(session_matches(&headers, &token));
        assert!(!session_matches(&headers, &"u".repeat(40)));
        let mut forged = HeaderMap::new();
        forged.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{SESSION_COOKIE}={token}")).unwrap(),
        );
        assert!(!session_matches(&forged, &token));
        assert!(!session_matches(&HeaderMap::new(), &token));
    }
}
