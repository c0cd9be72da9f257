//! The fake Azure DevOps' auto-complete (issue 17), as "Pull Requests - Update" documents it:
//! a PATCH of the PR may set `autoCompleteSetBy.id` (the identity that enables it; the empty
//! GUID clears it, as `az repos pr update --auto-complete false` sends) and
//! `completionOptions` (`mergeStrategy`, `deleteSourceBranch`, `transitionWorkItems`); a PR
//! answer carries `autoCompleteSetBy` (id, displayName) while it is set, its
//! `completionOptions`, and `lastMergeSourceCommit`. `GET {org}/_apis/connectionData` names the
//! identity the PAT signs in as (`authenticatedUser`). Completion itself is the shared model in
//! `automerge.rs`: once every required check passed.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::automerge::FakeAutoMerge;
use super::{BOT_LOGIN, FakePr, FakeState, error};

/// The identity id of the PAT the fake accepts.
pub const BOT_ID: &str = "b0b0b0b0-0000-4000-8000-00000000b0b0";
const NO_ONE: &str = "00000000-0000-0000-0000-000000000000";

/// `GET {org}/_apis/connectionData`.
pub async fn connection_data(Path(org): Path<String>) -> Response {
    if org != super::azure::ORG {
        return error(StatusCode::NOT_FOUND, "TF400813: not found");
    }
    Json(json!({
        "authenticatedUser": { "id": BOT_ID, "providerDisplayName": BOT_LOGIN },
        "authorizedUser": { "id": BOT_ID, "providerDisplayName": BOT_LOGIN },
    }))
    .into_response()
}

/// A PR answer with its auto-complete and its source head.
pub fn with_auto_complete(s: &FakeState, pr: &FakePr, mut json: Value) -> Value {
    if let Some(head) = s.pr_head(pr) {
        json["lastMergeSourceCommit"] = json!({ "commitId": head });
    }
    if let Some(a) = &pr.auto_merge {
        json["autoCompleteSetBy"] = json!({ "id": a.by, "displayName": BOT_LOGIN });
        json["completionOptions"] = json!({
            "mergeStrategy": a.strategy,
            "deleteSourceBranch": a.delete_source_branch,
            "transitionWorkItems": false,
        });
    }
    json
}

/// The auto-complete part of "Pull Requests - Update".
pub fn update(pr: &mut FakePr, body: &Value) {
    if let Some(id) = body["autoCompleteSetBy"]["id"].as_str() {
        pr.auto_merge = (id != NO_ONE).then(|| FakeAutoMerge {
            by: id.to_string(),
            strategy: "noFastForward".into(),
            delete_source_branch: false,
        });
    }
    let options = &body["completionOptions"];
    if let Some(a) = pr.auto_merge.as_mut() {
        if let Some(m) = options["mergeStrategy"].as_str() {
            a.strategy = m.to_string();
        }
        if let Some(d) = options["deleteSourceBranch"].as_bool() {
            a.delete_source_branch = d;
        }
    }
}
