//! Who may use the HTTP surface, as axum middleware over [`Control`]'s current config (so a
//! reload applies at once):
//!
//! - every request: its `Host` must be `localhost`, an IP address, or one of `[service]
//!   allowed-hosts`. A page on another site that gets its name resolved to this machine (DNS
//!   rebinding) makes the browser send *that* name, and is refused.
//! - `/status` and `/events` (and any page showing the same): the read token as a bearer token,
//!   unless `read-access = "open"`. Without a read token configured they refuse everything.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::auth;
use super::control::Control;
use super::http::{endpoint_secret, message};
use crate::config::ReadAccess;

/// Whether `host` (a `Host` header: a name or address, maybe with a port) may be served.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        // `[::1]:9187`
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => match host.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => host,
        },
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    !name.is_empty()
        && (name == "localhost"
            || name.parse::<std::net::IpAddr>().is_ok()
            || allowed.iter().any(|a| a.trim_end_matches('.') == name))
}

/// Refuses a request whose `Host` is not allowed, before any handler runs.
pub async fn hosts(State(control): State<Arc<Control>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let config = control.config();
    if host_allowed(&host, &config.service.allowed_hosts) {
        return next.run(request).await;
    }
    tracing::warn!(host = %host, path = %request.uri().path(), "request refused: Host not allowed");
    message(
        StatusCode::FORBIDDEN,
        format!(
            "Host `{host}` is not served here; add it to [service] allowed-hosts if this is \
             how clients reach the service"
        ),
    )
}

/// Lets a request through to the status endpoints only with the read token (or when
/// `read-access = "open"`).
pub async fn readers(
    State(control): State<Arc<Control>>,
    request: Request,
    next: Next,
) -> Response {
    let config = control.config();
    let secret = match &config.service.read_access {
        ReadAccess::Open => return next.run(request).await,
        ReadAccess::Token(secret) => secret,
    };
    let token = match endpoint_secret(secret, "status") {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth::bearer_matches(given, &token) {
        return next.run(request).await;
    }
    let mut r = message(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_addresses_and_listed_hosts_are_served() {
        let allowed = vec!["upkeep.example.com".to_string()];
        for ok in [
            "localhost",
            "localhost:9187",
            "LOCALHOST.",
            "127.0.0.1:9187",
            "10.1.2.3",
            "[::1]:9187",
            "upkeep.example.com",
            "Upkeep.Example.Com:443",
        ] {
            assert!(host_allowed(ok, &allowed), "{ok}");
        }
        for bad in [
            "",
            "attacker.example",
            "attacker.example:9187",
            "upkeep.example.com.attacker.example",
            "localhost.attacker.example",
        ] {
            assert!(!host_allowed(bad, &allowed), "{bad}");
        }
    }
}
