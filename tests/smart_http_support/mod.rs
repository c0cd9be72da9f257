//! A git smart-HTTP server on 127.0.0.1 for the ref-advertisement tests: real `git http-backend`
//! run as a CGI (RFC 3875: request headers passed as `HTTP_*` variables, so `Git-Protocol`
//! reaches it as `HTTP_GIT_PROTOCOL`, which git's Documentation/git-http-backend.adoc says it
//! copies into `GIT_PROTOCOL`), behind two front ends:
//! - [`GitHttp::start`]: HTTP/1.1 written here (plain or TLS), with the behaviours of real
//!   servers the tests need: Basic auth challenges, redirects, a v0-only server (the server sets
//!   `GIT_PROTOCOL=version=0`, which the same page says takes precedence over the client's
//!   header), keep-alive connections closed silently after every answer (RFC 9112 section 9.6:
//!   a server may close an idle connection at any time), a dumb server (static files), and hooks
//!   for hostile answers.
//! - [`GitHttp::start_h2`]: hyper's server over TLS with ALPN `h2`, for HTTP/2 multiplexing.
//!
//! Every request is logged with its connection, HTTP version, whether it carried credentials
//! and its status, so tests assert what went over the wire.

#![allow(dead_code)] // Each test binary uses part of it.

#[path = "../test_ca/mod.rs"]
mod test_ca;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A request as logged, with what the tests check.
#[derive(Debug, Clone)]
pub struct Logged {
    pub conn: u64,
    pub version: String,
    pub method: String,
    pub target: String,
    pub authorization: Option<String>,
    pub git_protocol: Option<String>,
    pub user_agent: Option<String>,
    pub status: u16,
    /// The body asks for objects (`want <oid>` lines: a v0 or v2 fetch, a pack to download),
    /// as opposed to an advertisement or `ls-refs` (gitprotocol-pack(5), gitprotocol-v2(5)).
    pub wants: bool,
}

/// Answers a request instead of the server when it returns `Some`.
pub type Hook = Arc<dyn Fn(&Request) -> Option<Response> + Send + Sync>;

/// How the server behaves.
#[derive(Clone, Default)]
pub struct Behaviour {
    /// Let `Git-Protocol` through to http-backend (a v2 server); otherwise v0 only.
    pub v2: bool,
    /// Require Basic credentials `(user, password)` on every request.
    pub basic_auth: Option<(String, String)>,
    /// `(path prefix, replacement, status)`: a request whose path starts with the prefix is
    /// redirected to the replacement (a path, or an absolute URL) plus the rest of the target.
    pub redirects: Vec<(String, String, u16)>,
    /// Close every connection right after its first answer, without `Connection: close`.
    pub close_after_response: bool,
    /// Read the second request on every connection, then close it without an answer: a server
    /// that shut an idle kept-alive connection just as the client sent on it (RFC 9112 section
    /// 9.6; section 9.3.1 lets a client retry a request that got no answer). Logged with
    /// status 0.
    pub drop_second_request: bool,
    /// Serve the repositories as static files (a dumb HTTP server).
    pub dumb: bool,
    pub hook: Option<Hook>,
}

/// A running server; stops on drop.
pub struct GitHttp {
    pub port: u16,
    pub scheme: &'static str,
    log: Arc<Mutex<Vec<Logged>>>,
    stop: Arc<AtomicBool>,
    h2_runtime: Option<tokio::runtime::Runtime>,
}

impl GitHttp {
    /// HTTP/1.1 on 127.0.0.1, plain, or TLS when `tls` is given.
    pub fn start(
        root: &Path,
        behaviour: Behaviour,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let scheme = if tls.is_some() { "https" } else { "http" };
        let ctx = Arc::new(Ctx {
            root: root.to_path_buf(),
            behaviour,
            log: log.clone(),
            scheme,
            port,
        });
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            let conns = AtomicU64::new(0);
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let id = conns.fetch_add(1, Ordering::SeqCst);
                let ctx = ctx.clone();
                let tls = tls.clone();
                std::thread::spawn(move || match tls {
                    Some(config) => {
                        let conn = rustls::ServerConnection::new(config).unwrap();
                        let mut tls = rustls::StreamOwned::new(conn, stream);
                        serve_h1(&ctx, id, &mut tls);
                        tls.conn.send_close_notify();
                        let _ = tls.flush();
                    }
                    None => {
                        let mut stream = stream;
                        serve_h1(&ctx, id, &mut stream);
                    }
                });
            }
        });
        GitHttp {
            port,
            scheme,
            log,
            stop,
            h2_runtime: None,
        }
    }

    /// HTTP/2 (and HTTP/1.1 for clients without ALPN) over TLS with hyper's server.
    pub fn start_h2(root: &Path, behaviour: Behaviour, tls: Arc<rustls::ServerConfig>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let ctx = Arc::new(Ctx {
            root: root.to_path_buf(),
            behaviour,
            log: log.clone(),
            scheme: "https",
            port,
        });
        runtime.spawn(h2::accept_loop(
            listener,
            tokio_rustls::TlsAcceptor::from(tls),
            ctx,
        ));
        GitHttp {
            port,
            scheme: "https",
            log,
            stop: Arc::new(AtomicBool::new(false)),
            h2_runtime: Some(runtime),
        }
    }

    /// The URL of repository `name` (e.g. `r.git`), optionally with userinfo.
    pub fn url(&self, name: &str) -> String {
        format!("{}://127.0.0.1:{}/{name}", self.scheme, self.port)
    }

    pub fn url_with(&self, userinfo: &str, name: &str) -> String {
        format!(
            "{}://{userinfo}@127.0.0.1:{}/{name}",
            self.scheme, self.port
        )
    }

    pub fn log(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }
}

impl Drop for GitHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(rt) = self.h2_runtime.take() {
            rt.shutdown_background();
        }
    }
}

struct Ctx {
    root: PathBuf,
    behaviour: Behaviour,
    log: Arc<Mutex<Vec<Logged>>>,
    scheme: &'static str,
    port: u16,
}

impl Ctx {
    fn record(&self, conn: u64, version: &str, req: &Request, status: u16) {
        self.log.lock().unwrap().push(Logged {
            conn,
            version: version.into(),
            method: req.method.clone(),
            target: req.target.clone(),
            authorization: req.header("authorization").map(str::to_string),
            git_protocol: req.header("git-protocol").map(str::to_string),
            user_agent: req.header("user-agent").map(str::to_string),
            status,
            wants: req.body.windows(5).any(|w| w == b"want "),
        });
    }
}

/// One HTTP/1.1 connection: requests answered in order until the client closes it, or after
/// the first answer when the behaviour says so.
fn serve_h1<S: Read + Write>(ctx: &Ctx, conn: u64, stream: &mut S) {
    let mut reader = BufReader::new(stream);
    for served in 0.. {
        let Some(req) = read_request(&mut reader) else {
            return;
        };
        if served == 1 && ctx.behaviour.drop_second_request {
            ctx.record(conn, "HTTP/1.1", &req, 0);
            return;
        }
        let resp = respond(ctx, &req);
        ctx.record(conn, "HTTP/1.1", &req, resp.status);
        let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status)).into_bytes();
        for (k, v) in &resp.headers {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", resp.body.len()).as_bytes());
        out.extend_from_slice(&resp.body);
        let stream = reader.get_mut();
        if stream
            .write_all(&out)
            .and_then(|()| stream.flush())
            .is_err()
        {
            return;
        }
        let wants_close = req
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        if ctx.behaviour.close_after_response || wants_close {
            return;
        }
    }
}

fn read_request<R: BufRead>(r: &mut R) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut req = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0u8; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            req.body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = req.header("content-length").and_then(|n| n.parse().ok()) {
        let mut body = vec![0u8; n];
        r.read_exact(&mut body).ok()?;
        req.body = body;
    }
    Some(req)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Status",
    }
}

/// What the server answers, whichever front end carried the request.
fn respond(ctx: &Ctx, req: &Request) -> Response {
    let b = &ctx.behaviour;
    if let Some(hook) = &b.hook
        && let Some(resp) = hook(req)
    {
        return resp;
    }
    for (prefix, to, status) in &b.redirects {
        if let Some(rest) = req.target.strip_prefix(prefix.as_str()) {
            return Response::new(*status, "text/plain", "moved\n")
                .with_header("Location", &format!("{to}{rest}"));
        }
    }
    if let Some((user, password)) = &b.basic_auth {
        use base64::Engine as _;
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        if req.header("authorization") != Some(expected.as_str()) {
            // RFC 7617: the challenge names the scheme and a realm.
            return Response::new(401, "text/plain", "Authentication required\n")
                .with_header("WWW-Authenticate", "Basic realm=\"git\", charset=\"UTF-8\"");
        }
    }
    if b.dumb {
        return static_file(&ctx.root, req.path());
    }
    http_backend(ctx, req)
}

/// A dumb HTTP server: files as they are on disk (info/refs written by `git update-server-info`).
fn static_file(root: &Path, path: &str) -> Response {
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|c| c == "..") {
        return Response::new(403, "text/plain", "no\n");
    }
    match std::fs::read(root.join(rel)) {
        Ok(body) => Response::new(200, "text/plain; charset=utf-8", body),
        Err(_) => Response::new(404, "text/plain", "not found\n"),
    }
}

/// `git http-backend` as a CGI.
fn http_backend(ctx: &Ctx, req: &Request) -> Response {
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", &ctx.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", req.path())
        .env("QUERY_STRING", req.query())
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .env("CONTENT_TYPE", req.header("content-type").unwrap_or(""))
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env_remove("GIT_PROTOCOL")
        .env_remove("GIT_DIR");
    for (k, v) in &req.headers {
        if matches!(
            k.as_str(),
            "content-type" | "content-length" | "authorization"
        ) {
            continue;
        }
        cmd.env(
            format!("HTTP_{}", k.to_ascii_uppercase().replace('-', "_")),
            v,
        );
    }
    if !ctx.behaviour.v2 {
        cmd.env("GIT_PROTOCOL", "version=0");
    }
    if ctx.behaviour.basic_auth.is_some() {
        cmd.env("REMOTE_USER", "test");
    }
    let out = run_with_stdin(cmd, &req.body);
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else {
        return Response::new(500, "text/plain", "http-backend wrote no headers\n");
    };
    let mut resp = Response {
        status: 200,
        headers: Vec::new(),
        body: out[end + sep..].to_vec(),
    };
    for line in String::from_utf8_lossy(&out[..end]).lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if k.eq_ignore_ascii_case("status") {
            resp.status = v.trim().split(' ').next().unwrap().parse().unwrap();
        } else {
            resp.headers.push((k.trim().into(), v.trim().into()));
        }
    }
    resp
}

fn run_with_stdin(mut cmd: Command, input: &[u8]) -> Vec<u8> {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("git http-backend runs (git is required by the tests)");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    out.stdout
}

mod h2 {
    //! hyper's server (HTTP/2 or HTTP/1.1 by ALPN and preface) in front of the same answers.
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use http_body_util::{BodyExt as _, Full};
    use hyper::body::Bytes;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    use super::{Ctx, Request, respond};

    pub async fn accept_loop(
        listener: tokio::net::TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
        ctx: Arc<Ctx>,
    ) {
        let conns = AtomicU64::new(0);
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let conn = conns.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    let ctx = ctx.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(&ctx, conn, req).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    }

    async fn answer(
        ctx: &Arc<Ctx>,
        conn: u64,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let version = format!("{:?}", req.version());
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let request = Request {
            method: parts.method.to_string(),
            target: parts
                .uri
                .path_and_query()
                .map(ToString::to_string)
                .unwrap_or_default(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: body.to_vec(),
        };
        let ctx2 = ctx.clone();
        let (request, resp) = tokio::task::spawn_blocking(move || {
            let resp = respond(&ctx2, &request);
            (request, resp)
        })
        .await
        .unwrap();
        ctx.record(conn, &version, &request, resp.status);
        let mut builder = hyper::Response::builder().status(resp.status);
        for (k, v) in &resp.headers {
            builder = builder.header(k, v);
        }
        builder.body(Full::new(Bytes::from(resp.body))).unwrap()
    }
}

/// The test CA (PEM) and server TLS configs for `127.0.0.1` and `localhost`, made once.
pub struct Pki {
    pub ca_pem: String,
    dir: tempfile::TempDir,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key_der: Vec<u8>,
}

impl Pki {
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server config offering `alpn` (e.g. `["h2", "http/1.1"]`).
    pub fn server_config(&self, alpn: &[&str]) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(self.key_der.clone().into());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), key)
            .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Arc::new(config)
    }
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = test_ca::generate("upkeep test git CA");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), &ca.ca_pem).unwrap();
        Pki {
            ca_pem: ca.ca_pem,
            dir,
            chain: vec![ca.cert_der.into()],
            key_der: ca.key_der,
        }
    })
}

/// Runs git in `dir`, panicking with its stderr on failure; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_in(dir, args, None)
}

pub fn git_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::process::Stdio;
    let mut child = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = stdin.unwrap_or("").to_string();
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Served repositories under one root, built with the git CLI from one work repository.
pub struct Repos {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub work: PathBuf,
}

impl Repos {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("srv");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        Repos { dir, root, work }
    }

    /// A commit in the work repository; returns its id.
    pub fn commit(&self, file: &str, content: &str) -> String {
        std::fs::write(self.work.join(file), content).unwrap();
        git(&self.work, &["add", "-A"]);
        git(
            &self.work,
            &["commit", "-q", "-m", &format!("change {file}")],
        );
        git(&self.work, &["rev-parse", "HEAD"]).trim().to_string()
    }

    /// Runs git in the work repository.
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.work, args)
    }

    /// Publishes the work repository's branches and tags as bare repository `name` (mirrored:
    /// tags deleted or moved in the work repository are deleted or moved there too).
    pub fn publish(&self, name: &str) -> PathBuf {
        let bare = self.root.join(name);
        if !bare.exists() {
            git(&self.root, &["init", "-q", "--bare", "-b", "main", name]);
        }
        git(
            &self.work,
            &["push", "-q", "--mirror", bare.to_str().unwrap()],
        );
        bare
    }
}
