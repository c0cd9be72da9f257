//! Stateful fake forges on loopback for the forge integration tests.
//!
//! Each fake is an axum server on 127.0.0.1:0 with its own tokio runtime on a background thread
//! (the forges use a blocking client, which must not run on a tokio worker). State lives in
//! memory: a tiny object model (trees are flat path -> bytes maps; ids are hashes), refs, and
//! pull requests. A middleware records every request, checks the Authorization header and
//! serves programmed faults before the routes see the request.

// Handlers return axum responses as their error type; boxing them would only add noise here.
#![allow(dead_code, clippy::result_large_err)]

pub mod automerge;
pub mod azure;
pub mod azure_automerge;
pub mod github;
pub mod github_automerge;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use upkeep::forge::Forge;

/// The token every fake accepts unless a test says otherwise.
pub const TOKEN: &str = "canary-tok-3f9a1c";
/// Path of the pin file seeded on `main`.
pub const PIN_PATH: &str = "pins/server.toml";
pub const PIN_CONTENT: &str = "upstream = \"v1.0.0\"\n";
pub const BOT_NAME: &str = "upkeep-bot";
pub const BOT_EMAIL: &str = "upkeep@example.com";

/// One recorded request; the Authorization value is not kept, only whether it matched.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Header names and values, without `authorization`.
    pub headers: Vec<(String, String)>,
    pub auth_present: bool,
    pub auth_correct: bool,
    pub body: String,
    /// The status the fake answered with (0 until it has answered).
    pub status: u16,
}

/// A programmed failure served instead of the route, `times` times, for matching requests.
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// `{auth}` is replaced by the received Authorization header (to test scrubbing).
    pub body: String,
    pub times: u32,
    /// Only requests whose path contains this are hit (None: all).
    pub path_contains: Option<String>,
}

/// A request that is carried out, but whose answer is lost: the client gets `status` (a 502, as
/// from a proxy that timed out waiting) instead of the real answer. Where a forge applies a write
/// and the answer never arrives, the client cannot tell it apart from a write that failed; this
/// is what "a request that may have taken effect" looks like from the client.
#[derive(Debug, Clone)]
pub struct LostAnswer {
    pub method: String,
    pub path_contains: String,
    pub status: u16,
    pub times: u32,
}

#[derive(Debug, Clone)]
pub struct FakeCommit {
    pub tree: String,
    pub parents: Vec<String>,
    pub author_name: String,
    pub author_email: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakePrState {
    Open,
    Closed,
    Merged,
}

#[derive(Debug, Clone)]
pub struct FakePr {
    pub id: u64,
    pub title: String,
    pub body: String,
    pub draft: bool,
    pub state: FakePrState,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    pub comments: Vec<FakeComment>,
    pub head: String,
    pub base: String,
    pub closed_by: Option<String>,
    pub closed_at: Option<String>,
    /// The forge's own auto-merge, when armed (issue 17).
    pub auto_merge: Option<automerge::FakeAutoMerge>,
}

/// One comment on a PR: who wrote it as the forge names them (GitHub `user.login`, Azure
/// DevOps `author.uniqueName`), and when it was written and last edited (RFC 3339, seconds, as
/// both services report them).
#[derive(Debug, Clone)]
pub struct FakeComment {
    pub id: u64,
    pub author: String,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Who the token the fakes accept belongs to: the author of upkeep's own comments.
pub const BOT_LOGIN: &str = "upkeep-bot";

impl FakePr {
    /// The comments' texts, oldest first.
    pub fn texts(&self) -> Vec<String> {
        self.comments.iter().map(|c| c.body.clone()).collect()
    }
}

/// The time now as the forges write it.
pub fn forge_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Everything a fake knows.
#[derive(Debug, Default)]
pub struct FakeState {
    pub expected_auth: String,
    pub push_allowed: bool,
    pub blobs: HashMap<String, Vec<u8>>,
    pub trees: HashMap<String, BTreeMap<String, Vec<u8>>>,
    pub commits: HashMap<String, FakeCommit>,
    /// Branch name (no `refs/heads/`) -> commit id.
    pub refs: BTreeMap<String, String>,
    pub prs: Vec<FakePr>,
    /// People the forge knows: (identity id, display name, email). Azure DevOps resolves
    /// reviewers against these.
    pub identities: Vec<(String, String, String)>,
    /// Tag definitions of the project (Azure DevOps PR labels are tags).
    pub tags: std::collections::BTreeSet<String>,
    /// The token may not create tag definitions (Azure DevOps answers TF401289).
    pub tag_create_denied: bool,
    pub faults: Vec<Fault>,
    pub lost_answers: Vec<LostAnswer>,
    /// GitHub: draft PRs are not available (a private repository on a plan without them).
    pub drafts_unsupported: bool,
    /// GitHub: the repository answer carries no `permissions` (a GitHub App installation token).
    pub permissions_hidden: bool,
    pub requests: Vec<Recorded>,
    /// The pipeline's checks per commit id, as the fakes serve them (issue 17).
    pub checks: BTreeMap<String, Vec<FakeCheck>>,
    /// Checks the base branch requires before a merge (GitHub branch protection, Azure DevOps
    /// build policies): what the forge's auto-merge waits for.
    pub required_checks: Vec<String>,
    /// GitHub: the repository setting "Allow auto-merge" is off.
    pub auto_merge_disallowed: bool,
    counter: u64,
}

/// One check of a commit, in words both fakes translate into their documented shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCheck {
    pub name: String,
    /// `pass`, `fail` or `pending`.
    pub outcome: &'static str,
    pub url: String,
    /// GitHub: a commit status rather than a check run. Azure DevOps: a PR status rather than a
    /// build policy evaluation.
    pub status: bool,
}

impl FakeState {
    /// A fresh 40-hex id (unique per call, like a git object id).
    pub fn new_id(&mut self, seed: &[u8]) -> String {
        self.counter += 1;
        let mut hasher = Sha256::new();
        hasher.update(self.counter.to_be_bytes());
        hasher.update(seed);
        hex::encode(hasher.finalize())[..40].to_string()
    }

    pub fn put_tree(&mut self, files: BTreeMap<String, Vec<u8>>) -> String {
        let id = self.new_id(b"tree");
        self.trees.insert(id.clone(), files);
        id
    }

    pub fn put_commit(
        &mut self,
        files: BTreeMap<String, Vec<u8>>,
        parents: Vec<String>,
        name: &str,
        email: &str,
        message: &str,
    ) -> String {
        let tree = self.put_tree(files);
        let id = self.new_id(message.as_bytes());
        self.commits.insert(
            id.clone(),
            FakeCommit {
                tree,
                parents,
                author_name: name.into(),
                author_email: email.into(),
                message: message.into(),
            },
        );
        id
    }

    pub fn files_at(&self, commit: &str) -> Option<&BTreeMap<String, Vec<u8>>> {
        self.trees.get(&self.commits.get(commit)?.tree)
    }

    /// A branch name or a commit id, resolved to a commit id.
    pub fn resolve(&self, version: &str) -> Option<String> {
        let version = version.strip_prefix("refs/heads/").unwrap_or(version);
        self.refs.get(version).cloned().or_else(|| {
            self.commits
                .contains_key(version)
                .then(|| version.to_string())
        })
    }

    pub fn ancestors(&self, commit: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut stack = vec![commit.to_string()];
        while let Some(id) = stack.pop() {
            if seen.insert(id.clone())
                && let Some(c) = self.commits.get(&id)
            {
                stack.extend(c.parents.iter().cloned());
            }
        }
        seen
    }

    /// Commits reachable from `head` but not from `base`, newest first (parents walked in order).
    pub fn only_on(&self, head: &str, base: &str) -> Vec<String> {
        let on_base = self.ancestors(base);
        let mut out = Vec::new();
        let mut stack = vec![head.to_string()];
        let mut seen = HashSet::new();
        while let Some(id) = stack.pop() {
            if on_base.contains(&id) || !seen.insert(id.clone()) {
                continue;
            }
            if let Some(c) = self.commits.get(&id) {
                stack.extend(c.parents.iter().cloned());
            }
            out.push(id);
        }
        out
    }

    pub fn pr_mut(&mut self, id: u64) -> Option<&mut FakePr> {
        self.prs.iter_mut().find(|p| p.id == id)
    }

    /// A comment on PR `id` by `author`, now; returns its id (unique across the fake, as both
    /// services' comment ids are unique within a PR at least).
    pub fn push_comment(&mut self, id: u64, author: &str, body: &str) -> u64 {
        self.counter += 1;
        let n = self.counter;
        let now = forge_now();
        let pr = self.pr_mut(id).expect("PR exists in the fake");
        pr.comments.push(FakeComment {
            id: n,
            author: author.to_string(),
            body: body.to_string(),
            created_at: now.clone(),
            updated_at: now,
        });
        n
    }
}

/// Shared handle on a fake's state, used by the routes and by the tests.
#[derive(Debug, Clone, Default)]
pub struct Core(pub Arc<Mutex<FakeState>>);

impl Core {
    pub fn new(expected_auth: String) -> Self {
        let core = Core::default();
        {
            let mut s = core.lock();
            s.expected_auth = expected_auth;
            s.push_allowed = true;
            let files = BTreeMap::from([
                (PIN_PATH.to_string(), PIN_CONTENT.as_bytes().to_vec()),
                ("README.md".to_string(), b"mirror\n".to_vec()),
            ]);
            let root = s.put_commit(files, vec![], "Human", "human@example.com", "initial");
            s.refs.insert("main".into(), root);
        }
        core
    }

    pub fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn head(&self, branch: &str) -> Option<String> {
        self.lock().refs.get(branch).cloned()
    }

    pub fn file_at(&self, commit: &str, path: &str) -> Option<Vec<u8>> {
        self.lock().files_at(commit)?.get(path).cloned()
    }

    pub fn parents(&self, commit: &str) -> Vec<String> {
        self.lock()
            .commits
            .get(commit)
            .map(|c| c.parents.clone())
            .unwrap_or_default()
    }

    pub fn author_email(&self, commit: &str) -> Option<String> {
        self.lock()
            .commits
            .get(commit)
            .map(|c| c.author_email.clone())
    }

    /// A commit by someone else on top of `branch` (what a human push looks like).
    pub fn push_commit(&self, branch: &str, path: &str, content: &[u8], email: &str) -> String {
        let mut s = self.lock();
        let head = s.refs[branch].clone();
        let mut files = s.files_at(&head).cloned().unwrap_or_default();
        files.insert(path.to_string(), content.to_vec());
        let id = s.put_commit(files, vec![head], "Someone", email, "manual change");
        s.refs.insert(branch.to_string(), id.clone());
        id
    }

    pub fn pr(&self, id: u64) -> FakePr {
        self.lock()
            .prs
            .iter()
            .find(|p| p.id == id)
            .cloned()
            .expect("PR exists in the fake")
    }

    /// A person comments on PR `id`; returns the comment's id.
    pub fn add_comment(&self, id: u64, author: &str, body: &str) -> u64 {
        let mut s = self.lock();
        s.push_comment(id, author, body)
    }

    /// A person edits comment `comment` of PR `id` (its `updated_at` moves to now).
    pub fn edit_comment(&self, id: u64, comment: u64, body: &str) {
        let mut s = self.lock();
        let pr = s.pr_mut(id).expect("PR exists in the fake");
        let c = pr
            .comments
            .iter_mut()
            .find(|c| c.id == comment)
            .expect("comment exists");
        c.body = body.to_string();
        c.updated_at = forge_now();
    }

    pub fn set_pr_state(&self, id: u64, state: FakePrState, by: &str) {
        let mut s = self.lock();
        let pr = s.pr_mut(id).expect("PR exists in the fake");
        pr.state = state;
        pr.closed_by = Some(by.to_string());
        pr.closed_at = Some("2026-01-02T03:04:05Z".to_string());
    }

    pub fn fail(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// `times` responses of `status` with `headers` for every path, then normal service.
    /// Carry out the next `times` `method` requests whose path contains `path_contains`, then
    /// answer `status` instead ([`LostAnswer`]).
    pub fn lose_answer(&self, method: &str, path_contains: &str, status: u16, times: u32) {
        self.lock().lost_answers.push(LostAnswer {
            method: method.into(),
            path_contains: path_contains.into(),
            status,
            times,
        });
    }

    pub fn fail_next(&self, status: u16, times: u32, headers: &[(&str, &str)]) {
        self.fail(Fault {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: format!("{{\"message\":\"injected {status}\"}}"),
            times,
            path_contains: None,
        });
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }
}

/// The recording, auth-checking, fault-serving middleware every fake puts before its routes.
pub async fn gate(State(core): State<Core>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let path = parts.uri.path().to_string();
    let (seen, fault) = {
        let mut s = core.lock();
        let seen = s.requests.len();
        // The forge merges armed PRs on its own time; here, before each request is seen.
        s.complete_auto_merges();
        let auth_correct = auth.as_deref() == Some(s.expected_auth.as_str());
        s.requests.push(Recorded {
            method: parts.method.to_string(),
            path: path.clone(),
            query: parts.uri.query().unwrap_or_default().to_string(),
            headers: parts
                .headers
                .iter()
                .filter(|(k, _)| k.as_str() != "authorization")
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect(),
            auth_present: auth.is_some(),
            auth_correct,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            status: 0,
        });
        let hit = s
            .faults
            .iter_mut()
            .find(|f| f.times > 0 && f.path_contains.as_deref().is_none_or(|p| path.contains(p)))
            .map(|f| {
                f.times -= 1;
                f.clone()
            });
        let fault = match hit {
            Some(f) => Some(f),
            None if auth_correct && lose_answer(&mut s, parts.method.as_str(), &path) => {
                Some(Fault {
                    status: LOST,
                    headers: vec![],
                    body: String::new(),
                    times: 1,
                    path_contains: None,
                })
            }
            None if !auth_correct => Some(Fault {
                status: 401,
                headers: vec![],
                body: "{\"message\":\"Bad credentials\"}".into(),
                times: 1,
                path_contains: None,
            }),
            None => None,
        };
        (seen, fault)
    };
    if let Some(Fault { status: LOST, .. }) = fault {
        let applied = next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
        assert_applied(applied.status());
        return error(StatusCode::BAD_GATEWAY, "Server Error");
    }
    if let Some(fault) = fault {
        let body = fault.body.replace("{auth}", auth.as_deref().unwrap_or(""));
        let mut response = (
            StatusCode::from_u16(fault.status).unwrap_or(StatusCode::IM_A_TEAPOT),
            body,
        )
            .into_response();
        for (k, v) in &fault.headers {
            response.headers_mut().insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("valid header name"),
                HeaderValue::from_str(v).expect("valid header value"),
            );
        }
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        return response;
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if let Some(r) = core.lock().requests.get_mut(seen) {
        r.status = response.status().as_u16();
    }
    response
}

/// Marks a [`LostAnswer`] inside the gate (not a status any fault uses).
const LOST: u16 = 599;

/// Whether this request's answer is to be lost (and count it).
fn lose_answer(s: &mut FakeState, method: &str, path: &str) -> bool {
    let hit = s
        .lost_answers
        .iter_mut()
        .find(|l| l.times > 0 && l.method == method && path.contains(&l.path_contains));
    match hit {
        Some(l) => {
            l.times -= 1;
            true
        }
        None => false,
    }
}

/// The real answer of a request whose answer is lost is dropped; it must have been a success,
/// or the test is not testing what it says.
fn assert_applied(status: StatusCode) {
    assert!(
        status.is_success(),
        "the request whose answer was to be lost failed itself: {status}"
    );
}

/// A JSON error response in the shape both fakes use.
pub fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "message": message })),
    )
        .into_response()
}

/// A running fake server; stops when dropped.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(router: Router) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
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
                    .expect("fake server runs");
            });
        });
        Server {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the shared scenarios need from a fake forge.
pub trait FakeForge {
    /// The name the forge reports as `kind()`.
    const KIND: &'static str;
    /// The forge's PR body limit in characters.
    const BODY_LIMIT: usize;

    /// A fresh server whose `main` holds [`PIN_PATH`], accepting [`TOKEN`].
    fn start() -> Self;
    fn core(&self) -> &Core;
    /// A forge client for this server.
    fn client(&self, token: Option<&str>, max_rate_limit_wait: Duration) -> Box<dyn Forge>;
    /// A client pointed at a repository this server does not know.
    fn client_for_unknown_repo(&self) -> Box<dyn Forge>;
    /// The exact Authorization header value for `token`.
    fn authorization(token: &str) -> String;
    /// The form a configured reviewer name takes on this forge's PR (GitHub: the login;
    /// Azure DevOps: the identity id it resolves to).
    fn reviewer(name: &str) -> String {
        name.to_string()
    }

    fn forge(&self) -> Box<dyn Forge> {
        self.client(Some(TOKEN), Duration::from_secs(5))
    }
}

/// The test clients' request timeout: no test here is about a fake that does not answer, so
/// it is a ceiling for a loaded machine, never the subject of a test.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// The HTTP policy the test clients use: real retries, tiny backoffs.
pub fn test_http_settings(max_rate_limit_wait: Duration) -> upkeep::http::HttpSettings {
    upkeep::http::HttpSettings {
        timeout: TIMEOUT,
        connect_timeout: TIMEOUT,
        max_retries: 3,
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(50),
        max_rate_limit_wait,
        // The documented minute, scaled down so no test waits for it.
        secondary_min_wait: Duration::from_millis(20),
    }
}
