//! A fake Azure DevOps Git REST API for one repository `contoso/Mirror Project/_git/mirror`,
//! with the Identities API of the organization on the same server (what a test points
//! `identity-url` at; the service serves it from `vssps.dev.azure.com`).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine as _;
use serde_json::{Value, json};
use upkeep::forge::Forge;
use upkeep::forge::azure::{AzureForge, AzureSettings};
use upkeep::secret::Secret;

use super::{
    Core, FakeForge, FakePr, FakePrState, FakeState, Server, error, gate, test_http_settings,
};

pub const ORG: &str = "contoso";
pub const PROJECT: &str = "Mirror Project";
pub const REPO: &str = "mirror";
const REPO_ID: &str = "7b1f0c52-0000-4000-8000-00000000beef";
const PROJECT_ID: &str = "0d6c8a9e-0000-4000-8000-00000000cafe";
const ZERO: &str = "0000000000000000000000000000000000000000";
/// The identity id of the reviewer `alice` (alice@example.com) the fake knows.
pub const ALICE_ID: &str = "a11ce000-0000-4000-8000-000000000001";

pub struct FakeAzure {
    pub core: Core,
    pub server: Server,
}

impl FakeForge for FakeAzure {
    const KIND: &'static str = "azure-devops";
    const BODY_LIMIT: usize = 4_000;

    fn start() -> Self {
        let core = Core::new(Self::authorization(super::TOKEN));
        {
            let mut s = core.lock();
            s.identities.push((
                ALICE_ID.into(),
                "Alice Example".into(),
                "alice@example.com".into(),
            ));
            // Two people whose names both contain "sam": a search for "sam" is ambiguous.
            s.identities.push((
                "5a000000-0000-4000-8000-000000000002".into(),
                "Sam One".into(),
                "sam.one@example.com".into(),
            ));
            s.identities.push((
                "5a000000-0000-4000-8000-000000000003".into(),
                "Sam Two".into(),
                "sam.two@example.com".into(),
            ));
        }
        let server = Server::start(router(core.clone()));
        FakeAzure { core, server }
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
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(":{token}"))
        )
    }

    fn reviewer(name: &str) -> String {
        match name {
            "alice" => ALICE_ID.into(),
            other => panic!("the fake knows no identity for {other}"),
        }
    }
}

impl FakeAzure {
    pub fn client_for(
        &self,
        repo: &str,
        token: Option<&str>,
        max_rate_limit_wait: Duration,
    ) -> AzureForge {
        AzureForge::with_http_settings(
            AzureSettings {
                base_url: self.server.url(),
                organization: ORG.into(),
                project: PROJECT.into(),
                repository: repo.into(),
                api_version: "7.1".into(),
                identity_url: None,
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
    let repo = "/{org}/{project}/_apis/git/repositories/{repo}";
    Router::new()
        .route(repo, get(get_repo))
        .route(&format!("{repo}/refs"), get(list_refs).post(update_refs))
        .route(&format!("{repo}/items"), get(get_item))
        .route(&format!("{repo}/pushes"), post(push))
        .route(&format!("{repo}/commitsbatch"), post(commits_batch))
        .route(&format!("{repo}/commits/{{id}}"), get(get_commit))
        .route(
            &format!("{repo}/pullrequests"),
            get(list_prs).post(create_pr),
        )
        .route(
            &format!("{repo}/pullrequests/{{id}}"),
            get(get_pr).patch(update_pr),
        )
        .route(
            &format!("{repo}/pullrequests/{{id}}/labels"),
            get(list_labels).post(add_label),
        )
        .route(
            &format!("{repo}/pullrequests/{{id}}/labels/{{name}}"),
            delete(remove_label),
        )
        .route(
            &format!("{repo}/pullrequests/{{id}}/threads"),
            get(list_threads).post(add_thread),
        )
        .route(
            &format!("{repo}/pullrequests/{{id}}/statuses"),
            get(list_pr_statuses),
        )
        .route(
            "/{org}/{project}/_apis/policy/evaluations",
            get(list_evaluations),
        )
        .route(
            "/{org}/_apis/permissions/{namespace}/{bits}",
            get(permissions),
        )
        .route("/{org}/_apis/identities", get(identities))
        .route(
            "/{org}/_apis/connectionData",
            get(super::azure_automerge::connection_data),
        )
        .layer(axum::middleware::from_fn_with_state(core.clone(), gate))
        .with_state(core)
}

type Q = Query<BTreeMap<String, String>>;

/// The service refuses a PR description over 4,000 characters, counted as a .NET string length:
/// UTF-16 code units (issue 14), so an emoji counts two.
fn description_too_long(body: &Value) -> Option<Response> {
    let units = body["description"].as_str()?.encode_utf16().count();
    (units > 4_000).then(|| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("The description is {units} characters long; the maximum is 4000."),
        )
    })
}

/// 404 unless the path names the one repository, and 400 without `api-version`, as ADO does.
fn known(
    org: &str,
    project: &str,
    repo: &str,
    query: &BTreeMap<String, String>,
) -> Result<(), Response> {
    if query.get("api-version").map(String::as_str) != Some("7.1") {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "VssInvalidPreviewVersionException: api-version is required",
        ));
    }
    if org == ORG && project == PROJECT && (repo == REPO || repo == REPO_ID) {
        Ok(())
    } else {
        Err(error(
            StatusCode::NOT_FOUND,
            &format!("TF401019: The Git repository with name or identifier {repo} does not exist"),
        ))
    }
}

type RepoPath = Path<(String, String, String)>;
type PrPath = Path<(String, String, String, String)>;

fn pr_json(pr: &FakePr) -> Value {
    let status = match pr.state {
        FakePrState::Open => "active",
        FakePrState::Closed => "abandoned",
        FakePrState::Merged => "completed",
    };
    let closed = pr.state != FakePrState::Open;
    json!({
        "pullRequestId": pr.id,
        "status": status,
        "title": pr.title,
        "description": pr.body,
        "isDraft": pr.draft,
        "sourceRefName": format!("refs/heads/{}", pr.head),
        "targetRefName": format!("refs/heads/{}", pr.base),
        "labels": pr.labels.iter().map(|l| json!({ "name": l, "active": true })).collect::<Vec<_>>(),
        "reviewers": pr.reviewers.iter().map(|r| json!({ "id": r, "vote": 0 })).collect::<Vec<_>>(),
        "closedBy": if closed { json!({ "displayName": pr.closed_by }) } else { Value::Null },
        "closedDate": if closed { json!(pr.closed_at) } else { Value::Null },
        "repository": { "id": REPO_ID, "name": REPO },
    })
}

async fn get_repo(Path((org, project, repo)): RepoPath, Query(q): Q) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    Json(json!({ "id": REPO_ID, "name": REPO, "project": { "id": PROJECT_ID, "name": PROJECT }, "defaultBranch": "refs/heads/main" }))
        .into_response()
}

async fn permissions(
    State(core): State<Core>,
    Path((org, namespace, bits)): Path<(String, String, String)>,
    Query(q): Q,
) -> Response {
    let token_ok =
        q.get("tokens").map(String::as_str) == Some(&format!("repoV2/{PROJECT_ID}/{REPO_ID}"));
    if org != ORG || namespace != "2e9eb7ed-3c0a-47d4-87c1-0ffdd275fd87" || bits != "4" || !token_ok
    {
        return error(StatusCode::BAD_REQUEST, "unexpected permission probe");
    }
    let allowed = core.lock().push_allowed;
    Json(json!({ "count": 1, "value": [allowed] })).into_response()
}

async fn list_refs(
    State(core): State<Core>,
    Path((org, project, repo)): RepoPath,
    Query(q): Q,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let filter = q.get("filter").cloned().unwrap_or_default();
    let s = core.lock();
    // ADO's filter is a prefix match on the name without "refs/".
    let value: Vec<Value> = s
        .refs
        .iter()
        .filter(|(name, _)| format!("heads/{name}").starts_with(&filter))
        .map(|(name, id)| json!({ "name": format!("refs/heads/{name}"), "objectId": id }))
        .collect();
    Json(json!({ "count": value.len(), "value": value })).into_response()
}

async fn update_refs(
    State(core): State<Core>,
    Path((org, project, repo)): RepoPath,
    Query(q): Q,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let mut s = core.lock();
    let mut results = Vec::new();
    for update in body.as_array().cloned().unwrap_or_default() {
        let name = update["name"].as_str().unwrap_or_default();
        let branch = name.strip_prefix("refs/heads/").unwrap_or(name).to_string();
        let old = update["oldObjectId"].as_str().unwrap_or_default();
        let new = update["newObjectId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let current = s
            .refs
            .get(&branch)
            .cloned()
            .unwrap_or_else(|| ZERO.to_string());
        let ok = current == old && (new == ZERO || s.commits.contains_key(&new));
        if ok {
            if new == ZERO {
                s.refs.remove(&branch);
            } else {
                s.refs.insert(branch, new.clone());
            }
        }
        results.push(json!({
            "name": name, "oldObjectId": old, "newObjectId": new, "success": ok,
            "updateStatus": if ok { "succeeded" } else { "staleOldObjectId" },
        }));
    }
    Json(json!({ "count": results.len(), "value": results })).into_response()
}

async fn get_item(
    State(core): State<Core>,
    Path((org, project, repo)): RepoPath,
    Query(q): Q,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let s = core.lock();
    let path = q.get("path").cloned().unwrap_or_default();
    let version = q
        .get("versionDescriptor.version")
        .cloned()
        .unwrap_or_else(|| "main".into());
    let Some(commit) = s.resolve(&version) else {
        return error(
            StatusCode::NOT_FOUND,
            "TF401175: The version descriptor could not be resolved",
        );
    };
    let Some(content) = s
        .files_at(&commit)
        .and_then(|f| f.get(path.trim_start_matches('/')))
    else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("TF401174: The item '{path}' could not be found"),
        );
    };
    Json(json!({
        "objectId": format!("blob-{commit}"), "commitId": commit, "path": path, "isFolder": false,
        "content": String::from_utf8_lossy(content),
    }))
    .into_response()
}

async fn push(
    State(core): State<Core>,
    Path((org, project, repo)): RepoPath,
    Query(q): Q,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let mut s = core.lock();
    let (Some(update), Some(commits)) = (body["refUpdates"].get(0), body["commits"].as_array())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "refUpdates and commits are required",
        );
    };
    let name = update["name"].as_str().unwrap_or_default();
    let branch = name.strip_prefix("refs/heads/").unwrap_or(name).to_string();
    let old = update["oldObjectId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // An existing branch must be at oldObjectId; a new branch starts from oldObjectId.
    match s.refs.get(&branch) {
        Some(current) if *current != old => {
            return error(
                StatusCode::CONFLICT,
                &format!(
                    "TF401028: The reference '{name}' has already been updated by another client"
                ),
            );
        }
        None if !s.commits.contains_key(&old) => {
            return error(
                StatusCode::BAD_REQUEST,
                "TF401035: The object does not exist",
            );
        }
        _ => {}
    }
    let mut parent = old.clone();
    let mut created = Vec::new();
    for commit in commits {
        let mut files = s.files_at(&parent).cloned().unwrap_or_default();
        for change in commit["changes"].as_array().cloned().unwrap_or_default() {
            let path = change["item"]["path"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string();
            let kind = change["changeType"].as_str().unwrap_or_default();
            let exists = files.contains_key(&path);
            if (kind == "edit" && !exists) || (kind == "add" && exists) {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("TF401177: change type {kind} does not fit {path}"),
                );
            }
            if change["newContent"]["contentType"] != "base64encoded" {
                return error(StatusCode::BAD_REQUEST, "unsupported contentType");
            }
            let Ok(bytes) = base64::engine::general_purpose::STANDARD
                .decode(change["newContent"]["content"].as_str().unwrap_or_default())
            else {
                return error(StatusCode::BAD_REQUEST, "content is not base64");
            };
            files.insert(path, bytes);
        }
        let id = s.put_commit(
            files,
            vec![parent.clone()],
            commit["author"]["name"].as_str().unwrap_or("PAT owner"),
            commit["author"]["email"]
                .as_str()
                .unwrap_or("pat-owner@example.com"),
            commit["comment"].as_str().unwrap_or_default(),
        );
        created.push(json!({ "commitId": id }));
        parent = id;
    }
    s.refs.insert(branch, parent.clone());
    (
        StatusCode::CREATED,
        Json(json!({ "pushId": 1, "commits": created, "refUpdates": [{ "name": name, "oldObjectId": old, "newObjectId": parent }] })),
    )
        .into_response()
}

/// "Commits - Get Commits Batch" (API 7.1), as GitQueryCommitsCriteria documents it:
/// `compareVersion` is where the history walk starts ("If provided, start walking history
/// starting at this commit") and `itemVersion` the commit or branch whose history is left out,
/// so the answer is the commits of `compareVersion` that `itemVersion` does not contain, newest
/// first, at most `$top`.
async fn commits_batch(
    State(core): State<Core>,
    Path((org, project, repo)): RepoPath,
    Query(q): Q,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let s = core.lock();
    let item = body["itemVersion"]["version"]
        .as_str()
        .and_then(|v| s.resolve(v));
    let compare = body["compareVersion"]["version"]
        .as_str()
        .and_then(|v| s.resolve(v));
    let (Some(item), Some(compare)) = (item, compare) else {
        return error(
            StatusCode::NOT_FOUND,
            "TF401175: The version descriptor could not be resolved",
        );
    };
    let top = q
        .get("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(100);
    let value: Vec<Value> = s
        .only_on(&compare, &item)
        .into_iter()
        .take(top)
        .map(|id| commit_json(&s, &id))
        .collect();
    Json(json!({ "count": value.len(), "value": value })).into_response()
}

fn commit_json(s: &FakeState, id: &str) -> Value {
    let c = &s.commits[id];
    json!({
        "commitId": id,
        "author": { "name": c.author_name, "email": c.author_email, "date": "2026-11-30T00:00:00Z" },
        "comment": c.message,
        "parents": c.parents,
    })
}

/// "Commits - Get": one commit with its parents and author.
async fn get_commit(
    State(core): State<Core>,
    Path((org, project, repo, id)): PrPath,
    Query(q): Q,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let s = core.lock();
    if !s.commits.contains_key(&id) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("TF401175: The version descriptor <Commit: {id}> could not be resolved"),
        );
    }
    Json(commit_json(&s, &id)).into_response()
}

/// "Identities - Read Identities" with `searchFilter=General`: every identity whose display
/// name, account or mail contains the filter value, as `{count, value}` with the `Mail` and
/// `Account` properties in the `{"$type", "$value"}` form the service uses.
async fn identities(State(core): State<Core>, Path(org): Path<String>, Query(q): Q) -> Response {
    if org != ORG || q.get("searchFilter").map(String::as_str) != Some("General") {
        return error(StatusCode::BAD_REQUEST, "unexpected identity search");
    }
    let Some(filter) = q.get("filterValue").map(|f| f.to_lowercase()) else {
        return error(StatusCode::BAD_REQUEST, "filterValue is required");
    };
    let s = core.lock();
    let value: Vec<Value> = s
        .identities
        .iter()
        .filter(|(_, name, mail)| {
            name.to_lowercase().contains(&filter) || mail.to_lowercase().contains(&filter)
        })
        .map(|(id, name, mail)| {
            json!({
                "id": id,
                "descriptor": format!("Microsoft.IdentityModel.Claims.ClaimsIdentity;{mail}"),
                "providerDisplayName": name,
                "isActive": true,
                "properties": {
                    "Mail": { "$type": "System.String", "$value": mail },
                    "Account": { "$type": "System.String", "$value": mail },
                },
            })
        })
        .collect();
    Json(json!({ "count": value.len(), "value": value })).into_response()
}

async fn list_prs(
    State(core): State<Core>,
    Path((org, project, repo)): RepoPath,
    Query(q): Q,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let source = q.get("searchCriteria.sourceRefName").cloned();
    let status = q
        .get("searchCriteria.status")
        .cloned()
        .unwrap_or_else(|| "active".into());
    let s = core.lock();
    let value: Vec<Value> = s
        .prs
        .iter()
        .filter(|p| {
            source
                .as_ref()
                .is_none_or(|src| *src == format!("refs/heads/{}", p.head))
        })
        .filter(|p| status == "all" || (status == "active") == (p.state == FakePrState::Open))
        .map(pr_json)
        .collect();
    Json(json!({ "count": value.len(), "value": value })).into_response()
}

async fn create_pr(
    State(core): State<Core>,
    Path((org, project, repo)): RepoPath,
    Query(q): Q,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    if let Some(e) = description_too_long(&body) {
        return e;
    }
    let mut s = core.lock();
    let head = body["sourceRefName"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("refs/heads/")
        .to_string();
    let base = body["targetRefName"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("refs/heads/")
        .to_string();
    if !s.refs.contains_key(&head) || !s.refs.contains_key(&base) {
        return error(
            StatusCode::BAD_REQUEST,
            "TF401398: The source or target branch does not exist",
        );
    }
    if s.prs
        .iter()
        .any(|p| p.head == head && p.base == base && p.state == FakePrState::Open)
    {
        return error(
            StatusCode::CONFLICT,
            "TF401179: An active pull request for the source and target branch already exists.",
        );
    }
    let reviewers: Vec<String> = body["reviewers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect();
    // Reviewers are IdentityRefWithVote: `id` must be an identity id ("Pull Requests -
    // Create"). The exact refusal for an unknown id is not documented; the client reports any
    // 400 other than TF401179 verbatim, so its wording here does not matter.
    if reviewers
        .iter()
        .any(|r| !s.identities.iter().any(|(id, _, _)| id == r))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "The reviewer identity could not be resolved",
        );
    }
    let pr = FakePr {
        id: s.prs.len() as u64 + 100,
        title: body["title"].as_str().unwrap_or_default().into(),
        body: body["description"].as_str().unwrap_or_default().into(),
        draft: body["isDraft"].as_bool().unwrap_or(false),
        state: FakePrState::Open,
        labels: vec![],
        reviewers,
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

fn pr_index(s: &FakeState, id: &str) -> Result<usize, Response> {
    id.parse::<u64>()
        .ok()
        .and_then(|id| s.prs.iter().position(|p| p.id == id))
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                "TF401180: The requested pull request was not found.",
            )
        })
}

async fn get_pr(
    State(core): State<Core>,
    Path((org, project, repo, id)): PrPath,
    Query(q): Q,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let s = core.lock();
    match pr_index(&s, &id) {
        Ok(i) => Json(super::azure_automerge::with_auto_complete(
            &s,
            &s.prs[i],
            pr_json(&s.prs[i]),
        ))
        .into_response(),
        Err(e) => e,
    }
}

async fn update_pr(
    State(core): State<Core>,
    Path((org, project, repo, id)): PrPath,
    Query(q): Q,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    if let Some(e) = description_too_long(&body) {
        return e;
    }
    let mut s = core.lock();
    let i = match pr_index(&s, &id) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let pr = &mut s.prs[i];
    if let Some(title) = body["title"].as_str() {
        pr.title = title.into();
    }
    if let Some(description) = body["description"].as_str() {
        pr.body = description.into();
    }
    if let Some(draft) = body["isDraft"].as_bool() {
        pr.draft = draft;
    }
    // "Pull Requests - Update": `status: abandoned` closes it without merging.
    if body["status"].as_str() == Some("abandoned") && pr.state == FakePrState::Open {
        pr.state = FakePrState::Closed;
        pr.closed_by = Some(super::BOT_LOGIN.into());
        pr.closed_at = Some(super::forge_now());
    }
    // The update's answer does not reliably carry the labels (issue 14); this fake leaves them
    // out, so a client must read them with "Pull Request Labels - List".
    super::azure_automerge::update(pr, &body);
    let pr = &s.prs[i];
    let mut answer = super::azure_automerge::with_auto_complete(&s, pr, pr_json(pr));
    answer.as_object_mut().map(|o| o.remove("labels"));
    Json(answer).into_response()
}

async fn add_label(
    State(core): State<Core>,
    Path((org, project, repo, id)): PrPath,
    Query(q): Q,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let mut s = core.lock();
    let i = match pr_index(&s, &id) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let name = body["name"].as_str().unwrap_or_default().to_string();
    // "Pull Request Labels - Create" creates the project's tag definition when there is none,
    // which needs the tagging permission "Create tag definition"; without it the service
    // refuses with TF401289 (403, AccessCheckException). An existing tag needs no such right.
    if !s.tags.contains(&name) {
        if s.tag_create_denied {
            return (
                StatusCode::FORBIDDEN,
                Json(json!({
                    "$id": "1",
                    "innerException": null,
                    "message": "TF401289: The current user does not have permissions to create tags.",
                    "typeName": "Microsoft.TeamFoundation.Framework.Server.AccessCheckException, Microsoft.TeamFoundation.Framework.Server",
                    "typeKey": "AccessCheckException",
                    "errorCode": 0,
                    "eventId": 3000,
                })),
            )
                .into_response();
        }
        s.tags.insert(name.clone());
    }
    if !s.prs[i].labels.contains(&name) {
        s.prs[i].labels.push(name.clone());
    }
    Json(json!({ "id": "label-id", "name": name, "active": true })).into_response()
}

/// "Pull Request Labels - List": the PR's labels as WebApiTagDefinition.
async fn list_labels(
    State(core): State<Core>,
    Path((org, project, repo, id)): PrPath,
    Query(q): Q,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let s = core.lock();
    let i = match pr_index(&s, &id) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let value: Vec<Value> = s.prs[i]
        .labels
        .iter()
        .map(|l| json!({ "id": format!("tag-{l}"), "name": l, "active": true }))
        .collect();
    Json(json!({ "count": value.len(), "value": value })).into_response()
}

async fn remove_label(
    State(core): State<Core>,
    Path((org, project, repo, id, name)): Path<(String, String, String, String, String)>,
    Query(q): Q,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let mut s = core.lock();
    let i = match pr_index(&s, &id) {
        Ok(i) => i,
        Err(e) => return e,
    };
    if !s.prs[i].labels.contains(&name) {
        return error(
            StatusCode::NOT_FOUND,
            "TF401416: The label could not be found",
        );
    }
    s.prs[i].labels.retain(|l| *l != name);
    StatusCode::NO_CONTENT.into_response()
}

/// "Pull Request Threads - List": every thread with its comments (one comment each here). A
/// `Comment` has `id`, `content`, `author` (IdentityRef: `displayName`, `uniqueName`, `id`),
/// `publishedDate`, `lastUpdatedDate` and `commentType` (`text` for people's comments; the
/// REST answer spells the enum as a string).
async fn list_threads(
    State(core): State<Core>,
    Path((org, project, repo, id)): PrPath,
    Query(q): Q,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let s = core.lock();
    let i = match pr_index(&s, &id) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let threads: Vec<Value> = s.prs[i]
        .comments
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "isDeleted": false,
                "comments": [{
                    "id": 1,
                    "parentCommentId": 0,
                    "content": c.body,
                    "commentType": "text",
                    "author": { "displayName": c.author, "uniqueName": c.author, "id": format!("id-{}", c.author) },
                    "publishedDate": c.created_at,
                    "lastUpdatedDate": c.updated_at,
                    "isDeleted": false,
                }],
            })
        })
        .collect();
    Json(json!({ "count": threads.len(), "value": threads })).into_response()
}

async fn add_thread(
    State(core): State<Core>,
    Path((org, project, repo, id)): PrPath,
    Query(q): Q,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let mut s = core.lock();
    let i = match pr_index(&s, &id) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let comment = &body["comments"][0];
    if comment["commentType"] != 1 || body["status"] != 1 {
        return error(StatusCode::BAD_REQUEST, "unexpected thread shape");
    }
    let pr_id = s.prs[i].id;
    let text = comment["content"].as_str().unwrap_or_default().to_string();
    let n = s.push_comment(pr_id, super::BOT_LOGIN, &text);
    (
        StatusCode::OK,
        Json(json!({ "id": n, "comments": [comment] })),
    )
        .into_response()
}

/// The checks of the PR `id`'s head commit (its source branch's head), if the PR exists.
fn pr_checks(s: &FakeState, id: &str) -> Result<Vec<super::FakeCheck>, Response> {
    let i = pr_index(s, id)?;
    let head = s.refs.get(&s.prs[i].head).cloned().unwrap_or_default();
    Ok(s.checks.get(&head).cloned().unwrap_or_default())
}

/// "Pull Request Statuses - List": every status posted to the PR (`id`, `state` of
/// `GitStatusState`, `context` with `name` and `genre`, `targetUrl`). A status posted twice
/// under one context is listed twice; the newer has the higher id. Each fake status is listed
/// after an older `pending` one of its context, as a service that reports progress posts them.
async fn list_pr_statuses(
    State(core): State<Core>,
    Path((org, project, repo, id)): PrPath,
    Query(q): Q,
) -> Response {
    if let Err(e) = known(&org, &project, &repo, &q) {
        return e;
    }
    let checks = match pr_checks(&core.lock(), &id) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let mut value = Vec::new();
    for (i, c) in checks.iter().filter(|c| c.status).enumerate() {
        let state = match c.outcome {
            "pass" => "succeeded",
            "fail" => "failed",
            _ => "pending",
        };
        let context = json!({ "name": c.name, "genre": "ci" });
        value.push(
            json!({ "id": 2 * i + 1, "state": "pending", "context": context, "targetUrl": c.url }),
        );
        value.push(
            json!({ "id": 2 * i + 2, "state": state, "context": context, "targetUrl": c.url }),
        );
    }
    Json(json!({ "count": value.len(), "value": value })).into_response()
}

/// "Evaluations - List" (a preview API: `api-version=7.1-preview.1`): the PR's policy
/// evaluations, addressed by `artifactId=vstfs:///CodeReview/CodeReviewId/{projectId}/{prId}`.
/// Build policies carry the "Build" type id and the build in `context.buildId`; a required
/// reviewers policy is listed too, as on a real branch.
async fn list_evaluations(
    State(core): State<Core>,
    Path((org, project)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    if org != ORG || project != PROJECT {
        return error(StatusCode::NOT_FOUND, "project not found");
    }
    if q.get("api-version").map(String::as_str) != Some("7.1-preview.1") {
        return error(
            StatusCode::BAD_REQUEST,
            "VssInvalidPreviewVersionException: this API is in preview",
        );
    }
    let prefix = format!("vstfs:///CodeReview/CodeReviewId/{PROJECT_ID}/");
    let Some(id) = q.get("artifactId").and_then(|a| a.strip_prefix(&prefix)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "artifactId is not a pull request's",
        );
    };
    let checks = match pr_checks(&core.lock(), id) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let mut value = vec![json!({
        "evaluationId": "rev-1", "status": "running",
        "configuration": { "isBlocking": true, "isEnabled": true,
            "type": { "id": "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd", "displayName": "Minimum number of reviewers" },
            "settings": { "minimumApproverCount": 1 } },
        "context": null
    })];
    for (i, c) in checks.iter().filter(|c| !c.status).enumerate() {
        let status = match c.outcome {
            "pass" => "approved",
            "fail" => "rejected",
            _ => "running",
        };
        value.push(json!({
            "evaluationId": format!("build-{i}"), "status": status,
            "configuration": { "isBlocking": true, "isEnabled": true,
                "type": { "id": "0609b952-1397-4640-95ec-e00a01b2c241", "displayName": "Build" },
                "settings": { "buildDefinitionId": 7, "displayName": c.name } },
            "context": { "buildId": 100 + i, "isExpired": false }
        }));
    }
    Json(json!({ "count": value.len(), "value": value })).into_response()
}
