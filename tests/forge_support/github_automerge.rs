//! The fake GitHub's auto-merge (issue 17), as documented:
//!
//! - GraphQL `enablePullRequestAutoMerge(input: {pullRequestId, mergeMethod, expectedHeadOid})`
//!   and `disablePullRequestAutoMerge(input: {pullRequestId})` ("Mutations" in the GraphQL
//!   reference). Refusals come back as `200` with `errors`, in the words the service uses:
//!   "Pull request Auto merge is not allowed for this repository" (the repository setting
//!   "Allow auto-merge" is off), "Pull request Pull request is in clean status" (nothing is
//!   left to wait for), "... unstable status" (a check that is not required failed).
//! - The REST PR's `auto_merge` (null when off; `enabled_by`, `merge_method` when armed) and
//!   `head.sha` ("Get a pull request").
//! - "Merge a pull request" (`PUT /repos/{o}/{r}/pulls/{n}/merge`, `merge_method`, `sha`):
//!   `405` when it is not mergeable, `409` when `sha` is not the head.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::automerge::{FakeAutoMerge, MergeState};
use super::github::{known, with_pr};
use super::{BOT_LOGIN, Core, FakePr, FakePrState, FakeState, error};

/// The REST answer of a PR with its `head.sha` and `auto_merge`.
pub fn with_auto_merge(s: &FakeState, pr: &FakePr, mut json: Value) -> Value {
    json["head"]["sha"] = json!(s.pr_head(pr).unwrap_or_default());
    json["auto_merge"] = match &pr.auto_merge {
        None => Value::Null,
        Some(a) => json!({
            "enabled_by": { "login": a.by },
            "merge_method": a.strategy.to_ascii_lowercase(),
            "commit_title": pr.title,
            "commit_message": "",
        }),
    };
    json
}

fn refused(message: &str) -> Response {
    Json(
        json!({ "data": Value::Null, "errors": [{ "type": "UNPROCESSABLE", "message": message }] }),
    )
    .into_response()
}

/// The two mutations.
pub fn mutation(core: &Core, query: &str, variables: &Value) -> Response {
    let node = variables["id"].as_str().unwrap_or_default();
    let mut s = core.lock();
    let Some(i) = node
        .strip_prefix("PR_node")
        .and_then(|n| n.parse::<u64>().ok())
        .and_then(|id| s.prs.iter().position(|p| p.id == id))
    else {
        return Json(json!({ "errors": [{ "type": "NOT_FOUND",
            "message": format!("Could not resolve to a node with the global id of '{node}'") }] }))
        .into_response();
    };
    let number = s.prs[i].id;
    if query.contains("disablePullRequestAutoMerge") {
        s.prs[i].auto_merge = None;
        return Json(json!({ "data": { "disablePullRequestAutoMerge": { "pullRequest": { "number": number } } } }))
            .into_response();
    }
    if s.auto_merge_disallowed {
        return refused("Pull request Auto merge is not allowed for this repository");
    }
    let pr = &s.prs[i];
    if pr.state != FakePrState::Open {
        return refused("Pull request Pull request is closed");
    }
    if pr.draft {
        return refused("Pull request Pull request is in draft state");
    }
    let expected = variables["head"].as_str();
    if expected.is_some_and(|h| Some(h.to_string()) != s.pr_head(pr)) {
        return refused("Pull request Head sha didn't match expected head sha");
    }
    match s.merge_state(pr) {
        MergeState::Clean => return refused("Pull request Pull request is in clean status"),
        MergeState::Unstable => return refused("Pull request Pull request is in unstable status"),
        MergeState::Blocked => {}
    }
    let method = variables["method"].as_str().unwrap_or("MERGE").to_string();
    s.prs[i].auto_merge = Some(FakeAutoMerge {
        by: BOT_LOGIN.into(),
        strategy: method,
        delete_source_branch: false,
    });
    Json(json!({ "data": { "enablePullRequestAutoMerge": { "pullRequest": { "number": number } } } }))
        .into_response()
}

/// "Merge a pull request".
pub async fn merge(
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
    let pr = &s.prs[i];
    if pr.state != FakePrState::Open || s.merge_state(pr) == MergeState::Blocked {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is not mergeable",
        );
    }
    if body["sha"]
        .as_str()
        .is_some_and(|h| Some(h.to_string()) != s.pr_head(pr))
    {
        return error(
            StatusCode::CONFLICT,
            "Head branch was modified. Review and try the merge again.",
        );
    }
    s.merge_pr(i, BOT_LOGIN, false);
    let sha = s.refs.get(&s.prs[i].base).cloned().unwrap_or_default();
    Json(json!({ "sha": sha, "merged": true, "message": "Pull Request successfully merged" }))
        .into_response()
}
