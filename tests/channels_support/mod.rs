//! A fake package registry on loopback for the channel tests, behaving as the registries
//! document it.
//!
//! One axum server on 127.0.0.1:0 with its own tokio runtime on a background thread (the
//! channels use a blocking client, which must not run on a tokio worker). A test puts documents
//! at a path (plus query); the server then follows HTTP and each registry's documentation:
//!
//! - **Content negotiation** (RFC 9110, section 12.5.1): a document may have several
//!   representations; the `Accept` header picks one by quality value, the most specific media
//!   range deciding; no `Accept` means the server's default. npm serves the full packument as
//!   `application/json` and the abbreviated one as `application/vnd.npm.install-v1+json`
//!   (npm/registry, "Package Metadata"); the PyPI Simple API serves `text/html`,
//!   `application/vnd.pypi.simple.v1+html` and `application/vnd.pypi.simple.v1+json`, HTML by
//!   default, and answers `406 Not Acceptable` when none is acceptable (PEP 691,
//!   "Recommendations").
//! - **Conditional requests**: every representation has an `ETag`; `If-None-Match` (a list, or
//!   `*`) is compared weakly and answered `304 Not Modified` with the `ETag` and no body
//!   (RFC 9110, sections 13.1.2 and 15.4.5).
//! - **Compression**: when `Accept-Encoding` allows gzip the body is gzip-encoded with
//!   `Content-Encoding: gzip`, and its ETag is weak, since the bytes differ from the identity
//!   encoding (RFC 9110, sections 8.4 and 8.8.3; the npm registry and PyPI's CDN both compress).
//!
//! It records every request, serves programmed faults first, can stream an endless body (for
//! the size cap) and serve a pre-compressed body (a gzip bomb). A separate raw TCP server drips
//! a body slowly, for the timeout test.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The media type of the PyPI Simple API's JSON form (PEP 691).
pub const PYPI_SIMPLE_JSON: &str = "application/vnd.pypi.simple.v1+json";
/// The abbreviated npm packument (npm/registry, "Package Metadata").
pub const NPM_INSTALL_V1: &str = "application/vnd.npm.install-v1+json";

/// One representation of a document.
#[derive(Debug, Clone)]
pub struct Variant {
    pub media_type: String,
    pub body: Vec<u8>,
    /// Strong, derived from the body. None: the server sends no ETag (and so never a 304).
    pub etag: Option<String>,
}

impl Variant {
    pub fn new(media_type: &str, body: Vec<u8>) -> Variant {
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..16]);
        Variant {
            media_type: media_type.to_string(),
            body,
            etag: Some(etag),
        }
    }
}

/// How a document is served.
#[derive(Debug, Clone)]
pub enum Content {
    /// Representations in the server's order of preference; the first is the default.
    Variants {
        variants: Vec<Variant>,
        /// What an `Accept` that matches no representation gets: `406` (true) or the default.
        not_acceptable: bool,
    },
    /// Bytes already gzip-encoded, sent as they are with `Content-Encoding: gzip`.
    Gzipped { media_type: String, gzip: Vec<u8> },
    /// An endless `200` body, sent in chunks until the client hangs up.
    Endless { media_type: String },
}

/// A document served at one path and query.
#[derive(Debug, Clone)]
pub struct Resource {
    pub body: Content,
    /// A `Link` header sent with it (GitHub pagination).
    pub link: Option<String>,
}

/// A programmed response served before the documents, `times` times.
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// `{auth}` is replaced by the received Authorization header (to test scrubbing).
    pub body: String,
    pub times: u32,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub query: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub resources: HashMap<String, Resource>,
    pub faults: VecDeque<Fault>,
    pub requests: Vec<Recorded>,
    /// 200 responses that carried a document.
    pub full_responses: u32,
    pub not_modified_responses: u32,
    /// 200 responses sent gzip-encoded.
    pub gzip_responses: u32,
    /// Headers added to every answer (e.g. GitHub's `x-ratelimit-*`).
    pub extra_headers: Vec<(String, String)>,
    /// When set, only requests carrying exactly this `Authorization` value are served; others
    /// get `401` with a challenge, as a private registry answers (RFC 9110, 15.5.2).
    pub required_auth: Option<String>,
}

/// A running fake registry; stops when dropped.
pub struct FakeRegistry {
    state: Arc<Mutex<FakeState>>,
    /// Bytes the endless bodies produced so far.
    streamed: Arc<AtomicU64>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<FakeState>>,
    streamed: Arc<AtomicU64>,
}

impl FakeRegistry {
    pub fn start() -> FakeRegistry {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let streamed = Arc::new(AtomicU64::new(0));
        let shared = Shared {
            state: Arc::clone(&state),
            streamed: Arc::clone(&streamed),
        };
        let router = Router::new().fallback(serve).with_state(shared);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .expect("fake registry runs");
            });
        });
        FakeRegistry {
            state,
            streamed,
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn insert(&self, path_and_query: &str, body: Content) {
        self.lock()
            .resources
            .insert(path_and_query.to_string(), Resource { body, link: None });
    }

    /// Serves `body` as JSON at `path_and_query` (one representation).
    pub fn json(&self, path_and_query: &str, body: &serde_json::Value) {
        self.put(
            path_and_query,
            body.to_string().into_bytes(),
            "application/json",
        );
    }

    /// Serves raw bytes with a content type (one representation, served whatever `Accept`
    /// says, as most JSON APIs do).
    pub fn put(&self, path_and_query: &str, body: Vec<u8>, content_type: &str) {
        self.insert(
            path_and_query,
            Content::Variants {
                variants: vec![Variant::new(content_type, body)],
                not_acceptable: false,
            },
        );
    }

    /// Serves a full npm packument at `path`, and the abbreviated document derived from it to
    /// clients that ask for it (`Accept: application/vnd.npm.install-v1+json`). Per
    /// npm/registry "Package Metadata": no `Accept` (or JSON) gets the full document; the
    /// abbreviated one keeps `name`, `modified`, `dist-tags` and per version only the fields
    /// needed to install (no `time`; `deprecated` is kept, as npm warns on install).
    pub fn npm(&self, path: &str, packument: &serde_json::Value) {
        let full = Variant::new("application/json", packument.to_string().into_bytes());
        let abbreviated = Variant::new(
            NPM_INSTALL_V1,
            abbreviate(packument).to_string().into_bytes(),
        );
        self.insert(
            path,
            Content::Variants {
                variants: vec![full, abbreviated],
                not_acceptable: false,
            },
        );
    }

    /// Serves a PyPI Simple API project page at `/simple/<name>/`: the JSON form given, and an
    /// HTML rendering of it (PEP 503, `data-yanked` per PEP 592) as `text/html` (the default)
    /// and `application/vnd.pypi.simple.v1+html`. An `Accept` matching none of them gets 406.
    pub fn pypi_simple(&self, path: &str, page: &serde_json::Value) {
        let html = simple_html(page).into_bytes();
        self.insert(
            path,
            Content::Variants {
                variants: vec![
                    Variant::new("text/html", html.clone()),
                    Variant::new("application/vnd.pypi.simple.v1+html", html),
                    Variant::new(PYPI_SIMPLE_JSON, page.to_string().into_bytes()),
                ],
                not_acceptable: true,
            },
        );
    }

    /// An index that predates PEP 691: HTML only. PEP 691 leaves a server that cannot serve
    /// what was asked for two answers: its default type anyway (`answer_406` false) or
    /// `406 Not Acceptable`.
    pub fn pypi_simple_html_only(&self, path: &str, page: &serde_json::Value, answer_406: bool) {
        let html = simple_html(page).into_bytes();
        self.insert(
            path,
            Content::Variants {
                variants: vec![Variant::new("text/html", html)],
                not_acceptable: answer_406,
            },
        );
    }

    /// Serves bytes that are already gzip-encoded, as they are (`Content-Encoding: gzip`).
    pub fn gzipped(&self, path: &str, gzip: Vec<u8>, media_type: &str) {
        self.insert(
            path,
            Content::Gzipped {
                media_type: media_type.to_string(),
                gzip,
            },
        );
    }

    /// Serves an endless body (chunked, no `Content-Length`) until the client hangs up.
    pub fn endless(&self, path: &str, media_type: &str) {
        self.insert(
            path,
            Content::Endless {
                media_type: media_type.to_string(),
            },
        );
    }

    /// How many bytes the endless bodies produced.
    pub fn streamed_bytes(&self) -> u64 {
        self.streamed.load(Ordering::Relaxed)
    }

    /// Adds a `Link` header to an existing document.
    pub fn link(&self, path_and_query: &str, link: &str) {
        self.lock()
            .resources
            .get_mut(path_and_query)
            .expect("document exists")
            .link = Some(link.to_string());
    }

    /// A header sent with every answer from now on.
    pub fn always_send(&self, name: &str, value: &str) {
        self.lock()
            .extra_headers
            .push((name.to_string(), value.to_string()));
    }

    /// `times` responses of `status` with `headers`, then normal service.
    pub fn fail_next(&self, status: u16, times: u32, headers: &[(&str, &str)], body: &str) {
        self.lock().faults.push_back(Fault {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_string(),
            times,
        });
    }

    /// Serve only requests whose `Authorization` header is exactly `value`.
    pub fn require_auth(&self, value: &str) {
        self.lock().required_auth = Some(value.to_string());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn full_responses(&self) -> u32 {
        self.lock().full_responses
    }

    pub fn not_modified_responses(&self) -> u32 {
        self.lock().not_modified_responses
    }

    pub fn gzip_responses(&self) -> u32 {
        self.lock().gzip_responses
    }

    pub fn reset_counts(&self) {
        let mut s = self.lock();
        s.requests.clear();
        s.full_responses = 0;
        s.not_modified_responses = 0;
        s.gzip_responses = 0;
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(State(shared): State<Shared>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let key = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    };
    let mut s = shared
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    s.requests.push(Recorded {
        path,
        query,
        headers: headers.clone(),
    });
    if let Some(required) = &s.required_auth
        && header("authorization").as_deref() != Some(required.as_str())
    {
        let scheme = required.split(' ').next().unwrap_or("Bearer").to_string();
        return (
            StatusCode::UNAUTHORIZED,
            [
                ("content-type", "application/json".to_string()),
                ("www-authenticate", format!("{scheme} realm=\"registry\"")),
            ],
            r#"{"error":"authentication required"}"#,
        )
            .into_response();
    }
    let extra = s.extra_headers.clone();
    let mut response = answer(&mut s, &shared.streamed, &key, &header);
    for (k, v) in &extra {
        response.headers_mut().insert(
            HeaderName::from_bytes(k.as_bytes()).expect("valid header name"),
            HeaderValue::from_str(v).expect("valid header value"),
        );
    }
    response
}

fn answer(
    s: &mut FakeState,
    streamed: &Arc<AtomicU64>,
    key: &str,
    header: &dyn Fn(&str) -> Option<String>,
) -> Response {
    if let Some(fault) = s.faults.front_mut() {
        fault.times -= 1;
        let fault = fault.clone();
        if fault.times == 0 {
            s.faults.pop_front();
        }
        return fault_response(&fault, header("authorization").unwrap_or_default());
    }
    let Some(resource) = s.resources.get(key).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            [("content-type", "application/json")],
            r#"{"error":"Not found"}"#,
        )
            .into_response();
    };
    let gzip_ok = accepts_gzip(header("accept-encoding").as_deref());
    let mut builder = Response::builder();
    if let Some(link) = &resource.link {
        builder = builder.header("link", link);
    }
    match resource.body {
        Content::Endless { media_type } => {
            s.full_responses += 1;
            builder
                .status(StatusCode::OK)
                .header("content-type", media_type)
                .body(endless_body(Arc::clone(streamed)))
                .expect("response")
        }
        Content::Gzipped { media_type, gzip } => {
            if !gzip_ok {
                // The bytes exist only compressed; a client that cannot take gzip gets none.
                return StatusCode::NOT_ACCEPTABLE.into_response();
            }
            s.full_responses += 1;
            s.gzip_responses += 1;
            builder
                .status(StatusCode::OK)
                .header("content-type", media_type)
                .header("content-encoding", "gzip")
                .body(Body::from(gzip))
                .expect("response")
        }
        Content::Variants {
            variants,
            not_acceptable,
        } => {
            let Some(variant) = negotiate(&variants, header("accept").as_deref())
                .or_else(|| (!not_acceptable).then(|| variants[0].clone()))
            else {
                return (StatusCode::NOT_ACCEPTABLE, "no acceptable representation")
                    .into_response();
            };
            if variants.len() > 1 {
                builder = builder.header("vary", "Accept, Accept-Encoding");
            } else {
                builder = builder.header("vary", "Accept-Encoding");
            }
            serve_variant(s, builder, &variant, gzip_ok, header("if-none-match"))
        }
    }
}

fn serve_variant(
    s: &mut FakeState,
    mut builder: axum::http::response::Builder,
    variant: &Variant,
    gzip_ok: bool,
    if_none_match: Option<String>,
) -> Response {
    // The gzip encoding is other bytes: its validator is weak (RFC 9110, 8.8.3).
    let etag = variant
        .etag
        .as_ref()
        .map(|e| if gzip_ok { format!("W/{e}") } else { e.clone() });
    if let Some(etag) = &etag {
        builder = builder.header("etag", etag);
        if if_none_match.is_some_and(|list| none_match_hits(&list, etag)) {
            s.not_modified_responses += 1;
            return builder
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .expect("response");
        }
    }
    s.full_responses += 1;
    builder = builder
        .status(StatusCode::OK)
        .header("content-type", &variant.media_type);
    if gzip_ok {
        s.gzip_responses += 1;
        builder = builder.header("content-encoding", "gzip");
        return builder
            .body(Body::from(gzip(&variant.body)))
            .expect("response");
    }
    builder
        .body(Body::from(variant.body.clone()))
        .expect("response")
}

fn fault_response(fault: &Fault, auth: String) -> Response {
    let body = fault.body.replace("{auth}", &auth);
    let mut response = (
        StatusCode::from_u16(fault.status).unwrap_or(StatusCode::IM_A_TEAPOT),
        body,
    )
        .into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    for (k, v) in &fault.headers {
        response.headers_mut().insert(
            HeaderName::from_bytes(k.as_bytes()).expect("valid header name"),
            HeaderValue::from_str(v).expect("valid header value"),
        );
    }
    response
}

/// Server-driven negotiation (RFC 9110, 12.5.1): each representation gets the quality of the
/// most specific media range that matches it; the highest non-zero quality wins, ties going to
/// the server's order. No `Accept` header means anything is acceptable.
fn negotiate(variants: &[Variant], accept: Option<&str>) -> Option<Variant> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return variants.first().cloned();
    };
    let ranges: Vec<(String, f32)> = accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let range = parts.next()?.trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!range.is_empty()).then_some((range, q))
        })
        .collect();
    let quality = |media: &str| {
        let media = media.to_ascii_lowercase();
        let kind = media.split('/').next().unwrap_or_default().to_string();
        // Specificity: exact 2, `type/*` 1, `*/*` 0.
        ranges
            .iter()
            .filter_map(|(range, q)| {
                let specificity = if *range == media {
                    2
                } else if *range == format!("{kind}/*") {
                    1
                } else if range == "*/*" {
                    0
                } else {
                    return None;
                };
                Some((specificity, *q))
            })
            .max_by_key(|(specificity, _)| *specificity)
            .map_or(0.0, |(_, q)| q)
    };
    let mut best: Option<(f32, &Variant)> = None;
    for variant in variants {
        let q = quality(&variant.media_type);
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, variant));
        }
    }
    best.map(|(_, v)| v.clone())
}

/// `If-None-Match`: `*`, or a list of entity tags compared weakly (RFC 9110, 13.1.2).
fn none_match_hits(list: &str, current: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    list.trim() == "*" || list.split(',').any(|tag| opaque(tag) == opaque(current))
}

/// Whether `Accept-Encoding` allows gzip (a `q=0` refuses it).
fn accepts_gzip(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        v.split(',').any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
    })
}

/// `body` gzip-encoded.
pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

/// An endless body: 64 KiB chunks of spaces after an opening brace, counted into `streamed`.
fn endless_body(streamed: Arc<AtomicU64>) -> Body {
    let chunk = Bytes::from(vec![b' '; 64 * 1024]);
    let first = Bytes::from_static(b"{\"pad\":\"");
    let stream = futures_util::stream::unfold(Some(first), move |next| {
        let streamed = Arc::clone(&streamed);
        let chunk = chunk.clone();
        async move {
            let bytes = next.unwrap_or(chunk);
            streamed.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            Some((Ok::<Bytes, Infallible>(bytes), None))
        }
    });
    Body::from_stream(stream)
}

/// The abbreviated packument of a full one (npm/registry, "Package Metadata": abbreviated
/// metadata format).
fn abbreviate(full: &serde_json::Value) -> serde_json::Value {
    const KEPT: [&str; 13] = [
        "name",
        "version",
        "dependencies",
        "optionalDependencies",
        "devDependencies",
        "bundleDependencies",
        "peerDependencies",
        "bin",
        "directories",
        "dist",
        "engines",
        "_hasShrinkwrap",
        "deprecated",
    ];
    let mut versions = serde_json::Map::new();
    if let Some(all) = full["versions"].as_object() {
        for (version, meta) in all {
            let kept: serde_json::Map<String, serde_json::Value> = meta
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| KEPT.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            versions.insert(version.clone(), serde_json::Value::Object(kept));
        }
    }
    serde_json::json!({
        "name": full["name"],
        "modified": full["time"]["modified"],
        "dist-tags": full["dist-tags"],
        "versions": versions,
    })
}

/// The HTML form of a Simple API project page (PEP 503; `data-yanked` per PEP 592).
fn simple_html(page: &serde_json::Value) -> String {
    let mut html = String::from("<!DOCTYPE html>\n<html><body>\n");
    for file in page["files"].as_array().into_iter().flatten() {
        let name = file["filename"].as_str().unwrap_or_default();
        let yanked = match &file["yanked"] {
            serde_json::Value::String(reason) => format!(" data-yanked=\"{reason}\""),
            serde_json::Value::Bool(true) => " data-yanked=\"\"".to_string(),
            _ => String::new(),
        };
        html.push_str(&format!(
            "<a href=\"/files/{name}\"{yanked}>{name}</a><br/>\n"
        ));
    }
    html.push_str("</body></html>\n");
    html
}

/// A server that answers every request with headers promising a JSON body, then sends one
/// byte every 100 ms until the client hangs up (counted) or the server is dropped. It never
/// ends a response itself, so only the client's timeout can.
pub struct DripServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    hung_up: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DripServer {
    pub fn start() -> DripServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let hung_up = Arc::new(AtomicUsize::new(0));
        let (flag, hangups) = (Arc::clone(&stop), Arc::clone(&hung_up));
        let thread = std::thread::spawn(move || {
            let mut drips = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (flag, hangups) = (Arc::clone(&flag), Arc::clone(&hangups));
                        drips.push(std::thread::spawn(move || drip(stream, &flag, &hangups)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            for drip in drips {
                let _ = drip.join();
            }
        });
        DripServer {
            addr,
            stop,
            hung_up,
            thread: Some(thread),
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Responses the client gave up on while they were still dripping.
    pub fn hung_up(&self) -> usize {
        self.hung_up.load(Ordering::SeqCst)
    }
}

fn drip(mut stream: std::net::TcpStream, stop: &AtomicBool, hung_up: &AtomicUsize) {
    stream.set_nonblocking(false).ok();
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n[";
    if stream.write_all(head.as_bytes()).is_err() {
        hung_up.fetch_add(1, Ordering::SeqCst);
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if stream
            .write_all(b" ")
            .and_then(|()| stream.flush())
            .is_err()
        {
            hung_up.fetch_add(1, Ordering::SeqCst);
            return;
        }
    }
}

impl Drop for DripServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod stand_in_tests {
    use super::*;

    fn variant(media: &str) -> Variant {
        Variant::new(media, media.as_bytes().to_vec())
    }

    #[test]
    fn negotiation_follows_quality_and_specificity() {
        let simple = [
            variant("text/html"),
            variant("application/vnd.pypi.simple.v1+html"),
            variant(PYPI_SIMPLE_JSON),
        ];
        let pick = |accept: Option<&str>| negotiate(&simple, accept).map(|v| v.media_type);
        assert_eq!(pick(None).as_deref(), Some("text/html"));
        assert_eq!(
            pick(Some(PYPI_SIMPLE_JSON)).as_deref(),
            Some(PYPI_SIMPLE_JSON)
        );
        assert_eq!(
            pick(Some(
                "application/vnd.pypi.simple.v1+json, text/html;q=0.01"
            ))
            .as_deref(),
            Some(PYPI_SIMPLE_JSON)
        );
        assert_eq!(pick(Some("application/json")), None);
        assert_eq!(
            pick(Some("*/*;q=0.5, text/html;q=0")).as_deref(),
            Some("application/vnd.pypi.simple.v1+html")
        );
    }

    #[test]
    fn if_none_match_is_weak_and_takes_lists() {
        assert!(none_match_hits("\"a\"", "\"a\""));
        assert!(none_match_hits("W/\"a\"", "\"a\""));
        assert!(none_match_hits("\"x\", W/\"a\"", "W/\"a\""));
        assert!(none_match_hits("*", "\"a\""));
        assert!(!none_match_hits("\"b\"", "\"a\""));
    }

    #[test]
    fn gzip_is_accepted_unless_refused() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("br, gzip;q=0.5")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(None));
    }
}
