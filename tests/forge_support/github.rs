//! A fake GitHub REST v3 (+ the two GraphQL draft mutations) for one repository `acme/mirror`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine as _;
use serde_json::{Value, json};
use upkeep::forge::Forge;
use upkeep::forge::github::{GithubForge, GithubSettings};
use upkeep::secret::Secret;

use super::{
    Core, FakeForge, FakePr, FakePrState, FakeState, Server, error, gate, test_http_settings,
};

pub const OWNER: &str = "acme";
pub const REPO: &str = "mirror";

pub struct FakeGithub {
    pub core: Core,
    pub server: Server,
}

impl FakeForge for FakeGithub {
    const KIND: &'static str = "github";
    const BODY_LIMIT: usize = 65_536;

    fn start() -> Self {
        let core = Core::new(Self::authorization(super::TOKEN));
        let server = Server::start(router(core.clone()));
        FakeGithub { core, server }
    }

    fn core(&self) -> &Core {
        &self.core
    }

    fn client(&self, token: Option<&str>, max_rate_limit_wait: Duration) -> Box<dyn Forge> {
        Box::new(self.client_for(REPO, token, max_rate_limit_wait))
    }

    fn client_for_unknown_repo(&self) -> Box<dyn Forge> {
        Box::new(self.client_for("nope", Some(super::TOKEN), Duration::from_secs(5)))
    }

    fn authorization(token: &str) -> String {
        format!("Bearer {token}")
    }
}

impl FakeGithub {
    pub fn client_for(
        &self,
        repo: &str,
        token: Option<&str>,
        max_rate_limit_wait: Duration,
    ) -> GithubForge {
        GithubForge::with_http_settings(
            GithubSettings {
                api_url: format!("{}/", self.server.url()),
                owner: OWNER.into(),
                repo: repo.into(),
                token: token.map(Secret::new),
                timeout: super::TIMEOUT,
                max_retries: 3,
                max_rate_limit_wait,
            },
            test_http_settings(max_rate_limit_wait),
        )
        .expect("client builds")
    }
}

fn router(core: Core) -> Router {
    let repo = "/repos/{owner}/{repo}";
    Router::new()
        .route(repo, get(get_repo))
        .route(&format!("{repo}/git/ref/{{*name}}"), get(get_ref))
        .route(&format!("{repo}/git/refs"), post(create_ref))
        .route(
            &format!("{repo}/git/refs/{{*name}}"),
            axum::routing::patch(update_ref),
        )
        .route(&format!("{repo}/contents/{{*path}}"), get(get_contents))
        .route(&format!("{repo}/git/blobs"), post(create_blob))
        .route(&format!("{repo}/git/blobs/{{sha}}"), get(get_blob))
        .route(&format!("{repo}/git/trees"), post(create_tree))
        .route(&format!("{repo}/git/commits"), post(create_commit))
        .route(&format!("{repo}/git/commits/{{sha}}"), get(get_commit))
        .route(&format!("{repo}/compare/{{*basehead}}"), get(compare))
        .route(&format!("{repo}/pulls"), get(list_pulls).post(create_pull))
        .route(
            &format!("{repo}/pulls/{{n}}"),
            get(get_pull).patch(update_pull),
        )
        .route(
            &format!("{repo}/pulls/{{n}}/requested_reviewers"),
            post(request_reviewers),
        )
        .route(&format!("{repo}/issues/{{n}}"), get(get_issue))
        .route(
            &format!("{repo}/issues/{{n}}/labels"),
            get(list_labels).post(add_labels),
        )
        .route(
            &format!("{repo}/issues/{{n}}/labels/{{name}}"),
            delete(remove_label),
        )
        .route(
            &format!("{repo}/issues/{{n}}/comments"),
            get(list_comments).post(add_comment),
        )
        .route(
            &format!("{repo}/commits/{{sha}}/check-runs"),
            get(list_check_runs),
        )
        .route(
            &format!("{repo}/commits/{{sha}}/status"),
            get(combined_status),
        )
        .route(
            &format!("{repo}/pulls/{{n}}/merge"),
            axum::routing::put(super::github_automerge::merge),
        )
        .route("/graphql", post(graphql))
        .layer(axum::middleware::from_fn_with_state(core.clone(), gate))
        .with_state(core)
}

type Repo = Path<(String, String)>;

/// 404 unless the path names the one repository this fake hosts.
pub(super) fn known(owner: &str, repo: &str) -> Result<(), Response> {
    if owner == OWNER && repo == REPO {
        Ok(())
    } else {
        Err(error(StatusCode::NOT_FOUND, "Not Found"))
    }
}

pub(super) fn pr_json(pr: &FakePr) -> Value {
    let closed = pr.state != FakePrState::Open;
    let merged = pr.state == FakePrState::Merged;
    json!({
        "number": pr.id,
        "node_id": format!("PR_node{}", pr.id),
        "html_url": format!("https://github.example/{OWNER}/{REPO}/pull/{}", pr.id),
        "state": if closed { "closed" } else { "open" },
        "title": pr.title,
        "body": if pr.body.is_empty() { Value::Null } else { json!(pr.body) },
        "draft": pr.draft,
        "labels": pr.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
        "head": { "ref": pr.head, "label": format!("{OWNER}:{}", pr.head) },
        "base": { "ref": pr.base },
        "merged_at": if merged { json!(pr.closed_at) } else { Value::Null },
        "closed_at": if closed { json!(pr.closed_at) } else { Value::Null },
        "merged_by": if merged { json!({ "login": pr.closed_by }) } else { Value::Null },
        "requested_reviewers": pr.reviewers.iter().map(|r| json!({ "login": r })).collect::<Vec<_>>(),
    })
}

async fn get_repo(State(core): State<Core>, Path((o, r)): Repo, headers: HeaderMap) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let (push, hidden) = {
        let s = core.lock();
        (s.push_allowed, s.permissions_hidden)
    };
    let etag = format!("\"repo-{push}\"");
    if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
    }
    // "Get a repository": `permissions` is only in the answer for some callers; a GitHub App
    // installation token gets none.
    let body = if hidden {
        json!({ "full_name": format!("{o}/{r}") })
    } else {
        json!({ "full_name": format!("{o}/{r}"), "permissions": { "admin": false, "push": push, "pull": true } })
    };
    (StatusCode::OK, [("etag", etag)], Json(body)).into_response()
}

async fn get_ref(
    State(core): State<Core>,
    Path((o, r, name)): Path<(String, String, String)>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let Some(branch) = name.strip_prefix("heads/") else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    match core.head(branch) {
        Some(sha) => Json(
            json!({ "ref": format!("refs/{name}"), "object": { "sha": sha, "type": "commit" } }),
        )
        .into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn create_ref(
    State(core): State<Core>,
    Path((o, r)): Repo,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let name = body["ref"].as_str().unwrap_or_default();
    let sha = body["sha"].as_str().unwrap_or_default().to_string();
    let Some(branch) = name.strip_prefix("refs/heads/") else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Reference name is invalid",
        );
    };
    let mut s = core.lock();
    if s.refs.contains_key(branch) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Reference already exists");
    }
    if !s.commits.contains_key(&sha) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Object does not exist");
    }
    s.refs.insert(branch.to_string(), sha.clone());
    (
        StatusCode::CREATED,
        Json(json!({ "ref": name, "object": { "sha": sha } })),
    )
        .into_response()
}

async fn update_ref(
    State(core): State<Core>,
    Path((o, r, name)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let Some(branch) = name.strip_prefix("heads/") else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let sha = body["sha"].as_str().unwrap_or_default().to_string();
    let force = body["force"].as_bool().unwrap_or(false);
    let mut s = core.lock();
    let Some(current) = s.refs.get(branch).cloned() else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Reference does not exist");
    };
    if !s.commits.contains_key(&sha) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Object does not exist");
    }
    if !force && !s.ancestors(&sha).contains(&current) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Update is not a fast forward",
        );
    }
    s.refs.insert(branch.to_string(), sha.clone());
    Json(json!({ "ref": format!("refs/{name}"), "object": { "sha": sha } })).into_response()
}

async fn get_contents(
    State(core): State<Core>,
    Path((o, r, path)): Path<(String, String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let s = core.lock();
    let version = query.get("ref").cloned().unwrap_or_else(|| "main".into());
    let Some(commit) = s.resolve(&version) else {
        return error(StatusCode::NOT_FOUND, "No commit found for the ref");
    };
    let Some(content) = s.files_at(&commit).and_then(|f| f.get(&path)) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    // GitHub wraps the base64 at 60 columns.
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    let wrapped: Vec<String> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    Json(json!({
        "type": "file", "path": path, "sha": format!("blob-{commit}"), "encoding": "base64",
        "content": wrapped.join("\n") + "\n",
    }))
    .into_response()
}

async fn create_blob(
    State(core): State<Core>,
    Path((o, r)): Repo,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let Ok(bytes) = base64::engine::general_purpose::STANDARD
        .decode(body["content"].as_str().unwrap_or_default())
    else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "content is not base64");
    };
    let mut s = core.lock();
    let sha = s.new_id(&bytes);
    s.blobs.insert(sha.clone(), bytes);
    (StatusCode::CREATED, Json(json!({ "sha": sha }))).into_response()
}

async fn get_blob(
    State(core): State<Core>,
    Path((o, r, sha)): Path<(String, String, String)>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    match core.lock().blobs.get(&sha) {
        Some(bytes) => Json(json!({ "sha": sha, "encoding": "base64", "content": base64::engine::general_purpose::STANDARD.encode(bytes) })).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn create_tree(
    State(core): State<Core>,
    Path((o, r)): Repo,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let mut s = core.lock();
    let mut files = match body["base_tree"].as_str() {
        Some(base) => match s.trees.get(base) {
            Some(files) => files.clone(),
            None => return error(StatusCode::UNPROCESSABLE_ENTITY, "base_tree does not exist"),
        },
        None => BTreeMap::new(),
    };
    for entry in body["tree"].as_array().cloned().unwrap_or_default() {
        let path = entry["path"].as_str().unwrap_or_default().to_string();
        let Some(blob) = entry["sha"]
            .as_str()
            .and_then(|sha| s.blobs.get(sha))
            .cloned()
        else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "tree entry blob does not exist",
            );
        };
        files.insert(path, blob);
    }
    let sha = s.put_tree(files);
    (StatusCode::CREATED, Json(json!({ "sha": sha }))).into_response()
}

async fn create_commit(
    State(core): State<Core>,
    Path((o, r)): Repo,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let mut s = core.lock();
    let tree = body["tree"].as_str().unwrap_or_default().to_string();
    if !s.trees.contains_key(&tree) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "tree does not exist");
    }
    let parents: Vec<String> = body["parents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.as_str().map(String::from))
        .collect();
    if parents.iter().any(|p| !s.commits.contains_key(p)) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "parent does not exist");
    }
    let message = body["message"].as_str().unwrap_or_default().to_string();
    let sha = s.new_id(message.as_bytes());
    s.commits.insert(
        sha.clone(),
        super::FakeCommit {
            tree,
            parents,
            author_name: body["author"]["name"]
                .as_str()
                .unwrap_or("token user")
                .into(),
            author_email: body["author"]["email"]
                .as_str()
                .unwrap_or("token-user@example.com")
                .into(),
            message,
        },
    );
    (StatusCode::CREATED, Json(json!({ "sha": sha }))).into_response()
}

async fn get_commit(
    State(core): State<Core>,
    Path((o, r, sha)): Path<(String, String, String)>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    match core.lock().commits.get(&sha) {
        // "Get a commit object" (git database): tree, parents, author and message.
        Some(c) => Json(json!({
            "sha": sha,
            "tree": { "sha": c.tree },
            "parents": c.parents.iter().map(|p| json!({ "sha": p })).collect::<Vec<_>>(),
            "author": { "name": c.author_name, "email": c.author_email, "date": "2026-11-30T00:00:00Z" },
            "message": c.message,
        }))
        .into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn compare(
    State(core): State<Core>,
    Path((o, r, basehead)): Path<(String, String, String)>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let Some((base, head)) = basehead.split_once("...") else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let s = core.lock();
    let (Some(base), Some(head)) = (s.resolve(base), s.resolve(head)) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let commits: Vec<Value> = s
        .only_on(&head, &base)
        .into_iter()
        .rev()
        .map(|sha| {
            let c = &s.commits[&sha];
            json!({ "sha": sha, "commit": { "author": { "name": c.author_name, "email": c.author_email }, "message": c.message } })
        })
        .collect();
    Json(json!({ "status": "ahead", "ahead_by": commits.len(), "commits": commits }))
        .into_response()
}

async fn list_pulls(
    State(core): State<Core>,
    Path((o, r)): Repo,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let s = core.lock();
    let head = query.get("head").cloned();
    let state = query.get("state").cloned().unwrap_or_else(|| "open".into());
    let mut prs: Vec<Value> = s
        .prs
        .iter()
        .filter(|p| {
            head.as_ref()
                .is_none_or(|h| *h == format!("{OWNER}:{}", p.head))
        })
        .filter(|p| state == "all" || (state == "open") == (p.state == FakePrState::Open))
        .map(pr_json)
        .collect();
    prs.reverse();
    Json(Value::Array(prs)).into_response()
}

async fn create_pull(
    State(core): State<Core>,
    Path((o, r)): Repo,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let mut s = core.lock();
    let head = body["head"].as_str().unwrap_or_default().to_string();
    let base = body["base"].as_str().unwrap_or_default().to_string();
    // The 422 bodies as "Create a pull request" answers them: "Validation Failed" with the
    // reasons in `errors[]` (documented in "Troubleshooting the REST API" and the endpoint's
    // reference), except the draft refusal, which is a bare `message`.
    let invalid = |field: &str, message: Option<String>| {
        let mut detail = json!({ "resource": "PullRequest", "field": field, "code": "invalid" });
        if let Some(m) = message {
            detail = json!({ "resource": "PullRequest", "code": "custom", "message": m });
        }
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "message": "Validation Failed", "errors": [detail],
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request" })),
        )
            .into_response()
    };
    if !s.refs.contains_key(&head) {
        return invalid("head", None);
    }
    if !s.refs.contains_key(&base) {
        return invalid("base", None);
    }
    if s.prs
        .iter()
        .any(|p| p.head == head && p.state == FakePrState::Open)
    {
        return invalid(
            "head",
            Some(format!("A pull request already exists for {OWNER}:{head}.")),
        );
    }
    if body["draft"].as_bool() == Some(true) && s.drafts_unsupported {
        // Private repositories on plans without draft PRs.
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Draft pull requests are not supported in this repository.",
        );
    }
    let pr = FakePr {
        id: s.prs.len() as u64 + 1,
        title: body["title"].as_str().unwrap_or_default().into(),
        body: body["body"].as_str().unwrap_or_default().into(),
        draft: body["draft"].as_bool().unwrap_or(false),
        state: FakePrState::Open,
        labels: vec![],
        reviewers: vec![],
        comments: vec![],
        head,
        base,
        closed_by: None,
        closed_at: None,
        auto_merge: None,
    };
    let json = pr_json(&pr);
    s.prs.push(pr);
    (StatusCode::CREATED, Json(json)).into_response()
}

pub(super) fn with_pr(s: &mut FakeState, n: &str) -> Result<usize, Response> {
    n.parse::<u64>()
        .ok()
        .and_then(|id| s.prs.iter().position(|p| p.id == id))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "Not Found"))
}

/// "Get a pull request", with an ETag of the answer and `304 Not Modified` to a request whose
/// `If-None-Match` names it ("Best practices for using the REST API": conditional requests).
async fn get_pull(
    State(core): State<Core>,
    Path((o, r, n)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let mut s = core.lock();
    match with_pr(&mut s, &n) {
        Ok(i) => conditional(
            &headers,
            super::github_automerge::with_auto_merge(&s, &s.prs[i], pr_json(&s.prs[i])),
            None,
        ),
        Err(e) => e,
    }
}

async fn update_pull(
    State(core): State<Core>,
    Path((o, r, n)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let mut s = core.lock();
    let i = match with_pr(&mut s, &n) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let pr = &mut s.prs[i];
    if let Some(title) = body["title"].as_str() {
        pr.title = title.into();
    }
    if let Some(text) = body["body"].as_str() {
        pr.body = text.into();
    }
    // "Update a pull request": `state` is `open` or `closed`; closing records the token's user.
    if body["state"].as_str() == Some("closed") && pr.state == FakePrState::Open {
        pr.state = FakePrState::Closed;
        pr.closed_by = Some(super::BOT_LOGIN.into());
        pr.closed_at = Some(super::forge_now());
    }
    Json(pr_json(pr)).into_response()
}

async fn request_reviewers(
    State(core): State<Core>,
    Path((o, r, n)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let mut s = core.lock();
    let i = match with_pr(&mut s, &n) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let reviewers: Vec<String> = body["reviewers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    if reviewers
        .iter()
        .any(|r| r.starts_with("not-a-collaborator"))
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Reviews may only be requested from collaborators.",
        );
    }
    let pr = &mut s.prs[i];
    for reviewer in reviewers {
        if !pr.reviewers.contains(&reviewer) {
            pr.reviewers.push(reviewer);
        }
    }
    (StatusCode::CREATED, Json(pr_json(pr))).into_response()
}

async fn get_issue(
    State(core): State<Core>,
    Path((o, r, n)): Path<(String, String, String)>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let mut s = core.lock();
    match with_pr(&mut s, &n) {
        Ok(i) => {
            let pr = &s.prs[i];
            let closed = pr.state != FakePrState::Open;
            Json(json!({
                "number": pr.id,
                "state": if closed { "closed" } else { "open" },
                "closed_by": if closed { json!({ "login": pr.closed_by }) } else { Value::Null },
            }))
            .into_response()
        }
        Err(e) => e,
    }
}

async fn list_labels(
    State(core): State<Core>,
    Path((o, r, n)): Path<(String, String, String)>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let mut s = core.lock();
    match with_pr(&mut s, &n) {
        Ok(i) => Json(
            s.prs[i]
                .labels
                .iter()
                .map(|l| json!({ "name": l }))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => e,
    }
}

/// "List issue comments" (REST: Issues > Comments): oldest first, each with `id`, `html_url`,
/// `body`, `user.login`, `created_at` and `updated_at`. `since` keeps the comments *updated* at
/// or after it; `per_page` (default 30, at most 100) and `page` paginate. Every answer carries
/// an `ETag`, and a request whose `If-None-Match` names the current one is answered `304 Not
/// Modified` with no body ("Best practices for using the REST API": conditional requests).
async fn list_comments(
    State(core): State<Core>,
    Path((o, r, n)): Path<(String, String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let mut s = core.lock();
    let i = match with_pr(&mut s, &n) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let since = q.get("since").cloned().unwrap_or_default();
    let list: Vec<Value> = s.prs[i]
        .comments
        .iter()
        .filter(|c| c.updated_at >= since)
        .map(|c| {
            json!({
                "id": c.id,
                "html_url": format!("https://github.example/{OWNER}/{REPO}/pull/{n}#issuecomment-{}", c.id),
                "body": c.body,
                "user": { "login": c.author, "type": "User" },
                "created_at": c.created_at,
                "updated_at": c.updated_at,
            })
        })
        .collect();
    let path = format!("/repos/{o}/{r}/issues/{n}/comments");
    let (list, link) = page_of(list, &q, &headers, &path);
    conditional(&headers, Value::Array(list), link)
}

async fn add_labels(
    State(core): State<Core>,
    Path((o, r, n)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let mut s = core.lock();
    let i = match with_pr(&mut s, &n) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let pr = &mut s.prs[i];
    for label in body["labels"].as_array().cloned().unwrap_or_default() {
        if let Some(label) = label.as_str()
            && !pr.labels.iter().any(|l| l == label)
        {
            pr.labels.push(label.to_string());
        }
    }
    Json(
        pr.labels
            .iter()
            .map(|l| json!({ "name": l }))
            .collect::<Vec<_>>(),
    )
    .into_response()
}

async fn remove_label(
    State(core): State<Core>,
    Path((o, r, n, name)): Path<(String, String, String, String)>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let mut s = core.lock();
    let i = match with_pr(&mut s, &n) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let pr = &mut s.prs[i];
    if !pr.labels.contains(&name) {
        return error(StatusCode::NOT_FOUND, "Label does not exist");
    }
    pr.labels.retain(|l| *l != name);
    Json(
        pr.labels
            .iter()
            .map(|l| json!({ "name": l }))
            .collect::<Vec<_>>(),
    )
    .into_response()
}

async fn add_comment(
    State(core): State<Core>,
    Path((o, r, n)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let mut s = core.lock();
    let i = match with_pr(&mut s, &n) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let text = body["body"].as_str().unwrap_or_default().to_string();
    let pr_id = s.prs[i].id;
    let id = s.push_comment(pr_id, super::BOT_LOGIN, &text);
    (
        StatusCode::CREATED,
        Json(json!({ "id": id, "body": text, "user": { "login": super::BOT_LOGIN } })),
    )
        .into_response()
}

async fn graphql(State(core): State<Core>, Json(body): Json<Value>) -> Response {
    let query = body["query"].as_str().unwrap_or_default();
    let node = body["variables"]["id"].as_str().unwrap_or_default();
    if query.contains("enablePullRequestAutoMerge") || query.contains("disablePullRequestAutoMerge")
    {
        return super::github_automerge::mutation(&core, query, &body["variables"]);
    }
    let draft = if query.contains("markPullRequestReadyForReview") {
        false
    } else if query.contains("convertPullRequestToDraft") {
        true
    } else {
        return Json(json!({ "errors": [{ "message": "unknown operation" }] })).into_response();
    };
    let mut s = core.lock();
    if draft && s.drafts_unsupported {
        // GitHub does not document this error's wording; the REST one is reused. The client
        // reads any "draft ... not supported/available" text the same way.
        return Json(json!({ "errors": [{ "type": "UNPROCESSABLE",
            "message": "Draft pull requests are not supported in this repository." }] }))
        .into_response();
    }
    let Some(pr) = node
        .strip_prefix("PR_node")
        .and_then(|n| n.parse::<u64>().ok())
        .and_then(|id| s.pr_mut(id))
    else {
        return Json(json!({ "errors": [{ "type": "NOT_FOUND", "message": format!("Could not resolve to a node with the global id of '{node}'") }] }))
            .into_response();
    };
    pr.draft = draft;
    Json(json!({ "data": { "pullRequest": { "isDraft": draft } } })).into_response()
}

/// An answer with an ETag, or `304 Not Modified` when the request's `If-None-Match` names it.
/// GitHub answers every GET with an ETag, weak (`W/"..."`) for its JSON documents, and a
/// conditional request whose validator still matches gets a `304` with no body, which does not
/// count against the primary rate limit ("Best practices for using the REST API": use
/// conditional requests). The `304` carries the ETag and the caching headers the `200` would
/// (RFC 9110 §15.4.5), and not the `Link` of a paginated answer's pages.
fn conditional(headers: &HeaderMap, body: Value, link: Option<String>) -> Response {
    let text = body.to_string();
    let etag = format!(
        "W/\"{}\"",
        hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())[..8])
    );
    let caching = [
        ("etag", etag.clone()),
        (
            "cache-control",
            "private, max-age=60, s-maxage=60".to_string(),
        ),
        (
            "vary",
            "Accept, Authorization, Cookie, X-GitHub-OTP".to_string(),
        ),
    ];
    if none_match(headers, &etag) {
        return (StatusCode::NOT_MODIFIED, caching).into_response();
    }
    let mut response = (
        caching,
        [("content-type", "application/json; charset=utf-8")],
        text,
    )
        .into_response();
    if let Some(link) = link.and_then(|l| l.parse().ok()) {
        response.headers_mut().insert("link", link);
    }
    response
}

/// Whether `If-None-Match` names `etag`: a list of entity tags or `*`, compared weakly (RFC
/// 9110 §13.1.2: `W/"x"` matches `"x"` and `W/"x"`).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    headers
        .get_all("if-none-match")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || opaque(tag) == opaque(etag))
}

/// One page of `items` as GitHub's list endpoints serve it ("Using pagination in the REST
/// API"): `per_page` (default 30, at most 100) and `page` (from 1), and a `Link` header with
/// absolute URLs of the `next` and `last` pages (the other query parameters kept) when there
/// are more.
fn page_of(
    items: Vec<Value>,
    q: &BTreeMap<String, String>,
    headers: &HeaderMap,
    path: &str,
) -> (Vec<Value>, Option<String>) {
    let per_page: usize = q
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page: usize = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let link = (page < last).then(|| {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let at = |n: usize| {
            let mut url = reqwest::Url::parse(&format!("http://{host}{path}")).unwrap();
            let mut pairs = url.query_pairs_mut();
            for (k, v) in q.iter().filter(|(k, _)| *k != "page" && *k != "per_page") {
                pairs.append_pair(k, v);
            }
            pairs.append_pair("per_page", &per_page.to_string());
            pairs.append_pair("page", &n.to_string());
            drop(pairs);
            format!("<{url}>")
        };
        format!("{}; rel=\"next\", {}; rel=\"last\"", at(page + 1), at(last))
    });
    let one = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    (one, link)
}

/// The fake checks of commit `sha` that are commit statuses (`status`) or check runs.
fn checks_of(core: &Core, sha: &str, status: bool) -> Vec<super::FakeCheck> {
    let s = core.lock();
    let all = s.checks.get(sha).into_iter().flatten();
    all.filter(|c| c.status == status).cloned().collect()
}

/// "List check runs for a Git reference": `total_count` and `check_runs`, each with `status`
/// (queued, in_progress, completed) and, once completed, `conclusion`.
async fn list_check_runs(
    State(core): State<Core>,
    Path((o, r, sha)): Path<(String, String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let runs: Vec<Value> = checks_of(&core, &sha, false)
        .iter()
        .map(|c| {
            let (status, conclusion) = match c.outcome {
                "pass" => ("completed", json!("success")),
                "fail" => ("completed", json!("failure")),
                _ => ("in_progress", Value::Null),
            };
            json!({ "name": c.name, "head_sha": sha, "status": status, "conclusion": conclusion,
                    "html_url": c.url, "details_url": c.url })
        })
        .collect();
    let total = runs.len();
    let path = format!("/repos/{o}/{r}/commits/{sha}/check-runs");
    let (runs, link) = page_of(runs, &q, &headers, &path);
    conditional(
        &headers,
        json!({ "total_count": total, "check_runs": runs }),
        link,
    )
}

/// "Get the combined status for a specific reference": `state` and the latest `statuses` per
/// context (each `state` error, failure, pending or success). With no status at all the
/// combined `state` is `pending`, as GitHub documents.
async fn combined_status(
    State(core): State<Core>,
    Path((o, r, sha)): Path<(String, String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = known(&o, &r) {
        return e;
    }
    let statuses: Vec<Value> = checks_of(&core, &sha, true)
        .iter()
        .map(|c| {
            let state = match c.outcome {
                "pass" => "success",
                "fail" => "failure",
                _ => "pending",
            };
            json!({ "context": c.name, "state": state, "target_url": c.url })
        })
        .collect();
    let states: Vec<&str> = statuses
        .iter()
        .filter_map(|s| s["state"].as_str())
        .collect();
    let combined = if states.iter().any(|s| *s == "failure" || *s == "error") {
        "failure"
    } else if !states.is_empty() && states.iter().all(|s| *s == "success") {
        "success"
    } else {
        "pending"
    };
    let total = statuses.len();
    let path = format!("/repos/{o}/{r}/commits/{sha}/status");
    let (statuses, link) = page_of(statuses, &q, &headers, &path);
    conditional(
        &headers,
        json!({ "state": combined, "sha": sha, "total_count": total, "statuses": statuses }),
        link,
    )
}
