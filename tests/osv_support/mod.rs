//! A loopback stand-in for the OSV API, written from its documentation:
//!
//! - `POST /v1/querybatch` (https://google.github.io/osv.dev/post-v1-querybatch/): answers each
//!   query, in the order asked, with `{"vulns": [{"id", "modified"}]}` only (never the full
//!   records), omits empty fields as the service's proto3 JSON does (`{}` for a query without
//!   advisories), refuses more than 1,000 queries (400 "too many queries", the limit in the
//!   API's OpenAPI description), and paginates: a query with more than `page_size` advisories
//!   (1,000 documented), or every query once the batch passed `batch_total` (3,000 documented),
//!   carries a `next_page_token`; the client asks again with `page_token` for those queries
//!   only. A query the service did not start before the batch filled gets a token and no
//!   advisories, as the service's "first page token" does.
//! - `GET /v1/vulns/{id}` (https://google.github.io/osv.dev/get-v1-vulns/): the full record,
//!   withdrawn ones included; 404 for an unknown id.
//! - Withdrawn records are left out of query answers
//!   (https://google.github.io/osv.dev/faq/#how-does-osvdev-handle-withdrawn-records).
//! - Matching (https://ossf.github.io/osv-schema/#evaluation): the record's enumerated
//!   `versions`, and ranges evaluated with the `semver` crate: `SEMVER` ranges always, and
//!   `ECOSYSTEM` ranges of the SemVer-ordered ecosystems (npm, crates.io, Go). PyPI's
//!   `ECOSYSTEM` ranges are matched through the enumerated `versions` only, as osv.dev
//!   enumerates them at import: the stand-in has no PEP 440 of its own, so a PyPI fixture must
//!   list its affected versions, as real PyPI records do. `GIT` ranges match through `versions`.
//! - PyPI names are compared PEP 503 normalised; the API is otherwise case-sensitive.
//!
//! Faults: `fail_next` answers the next requests with a status (5xx), and `stop` takes the
//! server down (connections refused). Every request is recorded.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The documented maximum queries per batch.
pub const MAX_QUERIES: usize = 1000;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The JSON body (`Null` for a GET).
    pub body: Value,
}

impl Recorded {
    /// The queries of a querybatch request.
    pub fn queries(&self) -> Vec<Value> {
        self.body["queries"].as_array().cloned().unwrap_or_default()
    }
}

/// A response served instead of the API, `times` times.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Only requests whose path starts with this (all requests when `None`).
    pub path: Option<String>,
    pub status: u16,
    pub content_type: String,
    pub body: String,
    pub times: u32,
}

#[derive(Debug)]
pub struct OsvState {
    /// Records by id, as a test wrote them.
    pub records: BTreeMap<String, Value>,
    pub faults: VecDeque<Fault>,
    pub requests: Vec<Recorded>,
    /// Advisories per query per page.
    pub page_size: usize,
    /// Advisories per batch response before every remaining query is cut with a token.
    pub batch_total: usize,
}

/// A running stand-in; stops when dropped.
pub struct FakeOsv {
    state: Arc<Mutex<OsvState>>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeOsv {
    pub fn start() -> FakeOsv {
        let state = Arc::new(Mutex::new(OsvState {
            records: BTreeMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            page_size: 1000,
            batch_total: 3000,
        }));
        let router = Router::new().fallback(serve).with_state(Arc::clone(&state));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // Its own runtime on its own thread: the client under test is blocking.
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .expect("stand-in runs");
            });
        });
        FakeOsv {
            state,
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>` (the API's base URL).
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn lock(&self) -> MutexGuard<'_, OsvState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds or replaces a record (keyed by its `id`).
    pub fn put(&self, record: Value) {
        let id = record["id"].as_str().expect("record has an id").to_string();
        self.lock().records.insert(id, record);
    }

    /// Sets a record's `modified` (as the database does on every change) and applies `change`.
    pub fn modify(&self, id: &str, modified: &str, change: impl FnOnce(&mut Value)) {
        let mut s = self.lock();
        let record = s.records.get_mut(id).expect("record exists");
        change(record);
        record["modified"] = json!(modified);
    }

    /// Withdraws a record at `when` (its `modified` moves too).
    pub fn withdraw(&self, id: &str, when: &str) {
        self.modify(id, when, |r| r["withdrawn"] = json!(when));
    }

    pub fn set_paging(&self, page_size: usize, batch_total: usize) {
        let mut s = self.lock();
        s.page_size = page_size;
        s.batch_total = batch_total;
    }

    /// The next `times` requests get `status` with a JSON error body.
    pub fn fail_next(&self, status: u16, times: u32) {
        self.respond_next(
            status,
            "application/json",
            &json!({"code": 14, "message": "upstream connect error"}).to_string(),
            times,
        );
    }

    /// The next `times` requests for paths starting with `path` get `status`.
    pub fn fail_path(&self, path: &str, status: u16, times: u32) {
        self.lock().faults.push_back(Fault {
            path: Some(path.to_string()),
            status,
            content_type: "application/json".into(),
            body: json!({"code": 13, "message": "internal error"}).to_string(),
            times,
        });
    }

    /// The next `times` requests get this exact response (hostile or broken answers).
    pub fn respond_next(&self, status: u16, content_type: &str, body: &str, times: u32) {
        self.lock().faults.push_back(Fault {
            path: None,
            status,
            content_type: content_type.to_string(),
            body: body.to_string(),
            times,
        });
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn batch_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == "/v1/querybatch")
            .collect()
    }

    pub fn detail_requests(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter_map(|r| r.path.strip_prefix("/v1/vulns/").map(str::to_string))
            .collect()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Takes the server down: from now on connections are refused.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FakeOsv {
    fn drop(&mut self) {
        self.stop();
    }
}

fn error(status: StatusCode, code: u8, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({"code": code, "message": message}).to_string(),
    )
        .into_response()
}

fn ok_json(body: &Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn serve(State(state): State<Arc<Mutex<OsvState>>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let bytes = to_bytes(request.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let mut s = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    s.requests.push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        body: body.clone(),
    });
    let due = s
        .faults
        .iter()
        .position(|f| f.path.as_deref().is_none_or(|p| path.starts_with(p)));
    if let Some(index) = due {
        let fault = &mut s.faults[index];
        fault.times -= 1;
        let fault = fault.clone();
        if fault.times == 0 {
            s.faults.remove(index);
        }
        return Response::builder()
            .status(StatusCode::from_u16(fault.status).expect("status"))
            .header("content-type", fault.content_type)
            .body(Body::from(fault.body))
            .expect("response");
    }
    match (method, path.as_str()) {
        (Method::POST, "/v1/querybatch") => query_batch(&s, &body),
        (Method::GET, p) if p.starts_with("/v1/vulns/") => {
            let id = &p["/v1/vulns/".len()..];
            match s.records.get(id) {
                Some(record) => ok_json(record),
                None => error(StatusCode::NOT_FOUND, 5, "Vulnerability not found."),
            }
        }
        _ => error(StatusCode::NOT_FOUND, 5, "Not Found"),
    }
}

fn query_batch(s: &OsvState, body: &Value) -> Response {
    let Some(queries) = body["queries"].as_array() else {
        return error(StatusCode::BAD_REQUEST, 3, "invalid query");
    };
    if queries.len() > MAX_QUERIES {
        return error(StatusCode::BAD_REQUEST, 3, "too many queries");
    }
    let mut results = Vec::with_capacity(queries.len());
    let mut total = 0;
    for (i, q) in queries.iter().enumerate() {
        let (Some(name), Some(ecosystem), Some(version)) = (
            q["package"]["name"].as_str(),
            q["package"]["ecosystem"].as_str(),
            q["version"].as_str(),
        ) else {
            return error(
                StatusCode::BAD_REQUEST,
                3,
                &format!("error in query at index {i}: invalid query"),
            );
        };
        let start = match q["page_token"].as_str() {
            None | Some("") => 0,
            Some(token) => match token.strip_prefix("cursor-").and_then(|n| n.parse().ok()) {
                Some(offset) => offset,
                None => return error(StatusCode::BAD_REQUEST, 3, "invalid cursor"),
            },
        };
        let matched = matching(s, ecosystem, name, version);
        if total >= s.batch_total {
            // The batch is full: this query was not started; it gets a token and no vulns.
            results.push(json!({"next_page_token": format!("cursor-{start}")}));
            continue;
        }
        let room = s.page_size.min(s.batch_total - total);
        let page: Vec<&(String, String)> = matched.iter().skip(start).take(room).collect();
        total += page.len();
        let mut result = serde_json::Map::new();
        if !page.is_empty() {
            result.insert(
                "vulns".into(),
                page.iter()
                    .map(|(id, modified)| json!({"id": id, "modified": modified}))
                    .collect(),
            );
        }
        if start + page.len() < matched.len() {
            result.insert(
                "next_page_token".into(),
                json!(format!("cursor-{}", start + page.len())),
            );
        }
        results.push(Value::Object(result));
    }
    ok_json(&json!({"results": results}))
}

/// The (id, modified) of every record that is not withdrawn and affects the package at the
/// version, ordered by id as the service orders its matches.
fn matching(s: &OsvState, ecosystem: &str, name: &str, version: &str) -> Vec<(String, String)> {
    s.records
        .values()
        .filter(|r| r.get("withdrawn").is_none_or(Value::is_null))
        .filter(|r| affects(r, ecosystem, name, version))
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_string(),
                r["modified"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// PEP 503: lowercase, runs of `-`, `_` and `.` as one `-`.
fn pep503(name: &str) -> String {
    let mut out = String::new();
    let mut pending = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            pending = true;
        } else {
            if pending && !out.is_empty() {
                out.push('-');
            }
            pending = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

fn affects(record: &Value, ecosystem: &str, name: &str, version: &str) -> bool {
    let same_name = |n: &str| {
        if ecosystem == "PyPI" {
            pep503(n) == pep503(name)
        } else {
            n == name
        }
    };
    let entries = record["affected"].as_array().cloned().unwrap_or_default();
    entries.iter().any(|a| {
        a["package"]["ecosystem"].as_str() == Some(ecosystem)
            && a["package"]["name"].as_str().is_some_and(same_name)
            && (a["versions"]
                .as_array()
                .is_some_and(|vs| vs.iter().any(|v| v.as_str() == Some(version)))
                || a["ranges"]
                    .as_array()
                    .is_some_and(|rs| rs.iter().any(|r| in_semver_range(r, ecosystem, version))))
    })
}

/// The schema's evaluation for a `SEMVER` range, or an `ECOSYSTEM` range of a SemVer-ordered
/// ecosystem, with the `semver` crate.
fn in_semver_range(range: &Value, ecosystem: &str, version: &str) -> bool {
    let semver_ordered = matches!(ecosystem, "npm" | "crates.io" | "Go");
    match range["type"].as_str() {
        Some("SEMVER") => {}
        Some("ECOSYSTEM") if semver_ordered => {}
        _ => return false,
    }
    let parse = |v: &str| semver::Version::parse(v.trim_start_matches('v')).ok();
    let Some(v) = parse(version) else {
        return false;
    };
    let zero = semver::Version::new(0, 0, 0);
    let mut events: Vec<(semver::Version, &str)> = Vec::new();
    let mut unlimited = false;
    for event in range["events"].as_array().into_iter().flatten() {
        for kind in ["introduced", "fixed", "last_affected", "limit"] {
            if let Some(at) = event[kind].as_str() {
                if kind == "limit" && at.contains('*') {
                    unlimited = true; // "*" is infinity
                    continue;
                }
                let at = if at == "0" {
                    Some(zero.clone())
                } else {
                    parse(at)
                };
                match at {
                    Some(at) => events.push((at, kind)),
                    None => return false,
                }
            }
        }
    }
    let limits: Vec<&semver::Version> = events
        .iter()
        .filter(|(_, k)| *k == "limit")
        .map(|(at, _)| at)
        .collect();
    if !unlimited && !limits.is_empty() && !limits.iter().any(|l| v < **l) {
        return false;
    }
    events.sort_by(|a, b| a.0.cmp(&b.0));
    let mut vulnerable = false;
    for (at, kind) in &events {
        match *kind {
            "introduced" if v >= *at => vulnerable = true,
            "fixed" if v >= *at => vulnerable = false,
            "last_affected" if v > *at => vulnerable = false,
            _ => {}
        }
    }
    vulnerable
}
