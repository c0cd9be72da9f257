//! A fake package registry on loopback for the channel tests.
//!
//! One axum server on 127.0.0.1:0 with its own tokio runtime on a background thread (the
//! channels use a blocking client, which must not run on a tokio worker). It serves whatever
//! documents a test puts at a path (plus query), with strong ETags and `If-None-Match`
//! handling, records every request, and serves programmed faults first. A separate raw TCP
//! server drips a body slowly, for the timeout test.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// A document served at one path and query.
#[derive(Debug, Clone)]
pub struct Resource {
    pub body: Vec<u8>,
    pub content_type: String,
    /// None: the server sends no ETag (and so never answers 304).
    pub etag: Option<String>,
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
    /// When set, only requests carrying exactly this `Authorization` value are served; others
    /// get `401` with a challenge, as a private registry answers (RFC 9110, 15.5.2).
    pub required_auth: Option<String>,
}

/// A running fake registry; stops when dropped.
pub struct FakeRegistry {
    state: Arc<Mutex<FakeState>>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeRegistry {
    pub fn start() -> FakeRegistry {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let router = Router::new().fallback(serve).with_state(Arc::clone(&state));
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

    /// Serves `body` as JSON at `path_and_query` with an ETag derived from the body.
    pub fn json(&self, path_and_query: &str, body: &serde_json::Value) {
        self.put(
            path_and_query,
            body.to_string().into_bytes(),
            "application/json",
        );
    }

    /// Serves raw bytes with a content type and a body-derived ETag.
    pub fn put(&self, path_and_query: &str, body: Vec<u8>, content_type: &str) {
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..16]);
        self.lock().resources.insert(
            path_and_query.to_string(),
            Resource {
                body,
                content_type: content_type.to_string(),
                etag: Some(etag),
                link: None,
            },
        );
    }

    /// Adds a `Link` header to an existing document.
    pub fn link(&self, path_and_query: &str, link: &str) {
        self.lock()
            .resources
            .get_mut(path_and_query)
            .expect("document exists")
            .link = Some(link.to_string());
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

    pub fn reset_counts(&self) {
        let mut s = self.lock();
        s.requests.clear();
        s.full_responses = 0;
        s.not_modified_responses = 0;
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

async fn serve(State(state): State<Arc<Mutex<FakeState>>>, request: Request) -> Response {
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
    let mut s = state
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
    if let Some(fault) = s.faults.front_mut() {
        fault.times -= 1;
        let fault = fault.clone();
        if fault.times == 0 {
            s.faults.pop_front();
        }
        let body = fault
            .body
            .replace("{auth}", &header("authorization").unwrap_or_default());
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
        return response;
    }
    let Some(resource) = s.resources.get(&key).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            [("content-type", "application/json")],
            r#"{"error":"Not found"}"#,
        )
            .into_response();
    };
    let mut builder = Response::builder();
    if let Some(etag) = &resource.etag {
        builder = builder.header("etag", etag);
        if header("if-none-match").as_deref() == Some(etag.as_str()) {
            s.not_modified_responses += 1;
            return builder
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .expect("response");
        }
    }
    s.full_responses += 1;
    if let Some(link) = &resource.link {
        builder = builder.header("link", link);
    }
    builder
        .status(StatusCode::OK)
        .header("content-type", resource.content_type)
        .body(Body::from(resource.body))
        .expect("response")
}

/// A server that answers every request with headers promising a JSON body, then sends one
/// byte every 100 ms. It stops by itself after `lifetime`, or when dropped.
pub struct DripServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DripServer {
    pub fn start(lifetime: Duration) -> DripServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + lifetime;
            let mut drips = Vec::new();
            while Instant::now() < deadline && !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let flag = Arc::clone(&flag);
                        drips.push(std::thread::spawn(move || {
                            stream.set_nonblocking(false).ok();
                            stream
                                .set_read_timeout(Some(Duration::from_secs(2)))
                                .ok();
                            let mut buf = [0u8; 4096];
                            let _ = stream.read(&mut buf);
                            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n[";
                            if stream.write_all(head.as_bytes()).is_err() {
                                return;
                            }
                            while Instant::now() < deadline && !flag.load(Ordering::Relaxed) {
                                std::thread::sleep(Duration::from_millis(100));
                                if stream.write_all(b" ").and_then(|()| stream.flush()).is_err() {
                                    return;
                                }
                            }
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            flag.store(true, Ordering::Relaxed);
            for drip in drips {
                let _ = drip.join();
            }
        });
        DripServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
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
