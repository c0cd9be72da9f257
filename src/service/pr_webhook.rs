//! GitHub `issue_comment` deliveries: a command on a rebuild PR syncs that one server at once,
//! so an approval or a decline takes effect without waiting for the schedule. The delivery is
//! signed and checked as every webhook ([`super::auth`], in [`super::http`]); nothing in it is
//! trusted beyond naming which PR to read: the run reads the comments from the GitHub API
//! itself, with their authors as GitHub reports them.
//!
//! "Webhook events and payloads", `issue_comment`: `action` (`created`, `edited`, `deleted`),
//! `issue` (with `number`, and a `pull_request` object when the issue is a PR), `comment`
//! (`body`, `user.login`) and `repository` (`full_name`).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::control::Control;
use super::http::{message, sync_once};
use crate::config::{ForgeConfig, ValidConfig};

/// The PR a delivery's comment may carry a command for: (repository `owner/name`, PR number).
pub fn command_on_pr(payload: &Value) -> Result<Option<(String, u64)>, String> {
    let (issue, comment) = (&payload["issue"], &payload["comment"]);
    if !issue.is_object() || !comment.is_object() || !payload["action"].is_string() {
        return Err(
            "the payload is not an `issue_comment` event (X-GitHub-Event is not signed; the body is)"
                .into(),
        );
    }
    let action = payload["action"].as_str().unwrap_or_default();
    let body = comment["body"].as_str().unwrap_or_default();
    let is_command = body.trim_start().starts_with("/upkeep ");
    if !matches!(action, "created" | "edited") || !issue["pull_request"].is_object() || !is_command
    {
        return Ok(None);
    }
    let repo = payload["repository"]["full_name"]
        .as_str()
        .ok_or("the payload names no repository")?;
    let number = issue["number"].as_u64().ok_or("the issue has no number")?;
    Ok(Some((repo.to_string(), number)))
}

/// The enabled servers whose GitHub mirror is `full_name` (`owner/name`, any case).
pub fn mirror_servers(config: &ValidConfig, full_name: &str) -> Vec<String> {
    config
        .servers
        .iter()
        .filter(|s| s.enabled)
        .filter(|s| match &s.mirror.forge {
            ForgeConfig::Github { owner, repo, .. } => {
                format!("{owner}/{repo}").eq_ignore_ascii_case(full_name)
            }
            _ => false,
        })
        .map(|s| s.name.clone())
        .collect()
}

/// Answer an `issue_comment` delivery: sync the server whose open rebuild PR it is.
pub async fn handle(control: &Arc<Control>, delivery: &str, payload: &Value) -> Response {
    let (repo, number) = match command_on_pr(payload) {
        Err(e) => return message(StatusCode::BAD_REQUEST, e),
        Ok(None) => return message(StatusCode::OK, "ignored: not a command on a pull request"),
        Ok(Some(pr)) => pr,
    };
    let candidates = mirror_servers(&control.config(), &repo);
    let store = Arc::clone(&control.deps().store);
    let id = number.to_string();
    let found = store
        .blocking(move |store| {
            let mut hits = Vec::new();
            for name in candidates {
                if store
                    .open_pr(&name)?
                    .is_some_and(|p| p.forge_id.as_deref() == Some(id.as_str()))
                {
                    hits.push(name);
                }
            }
            Ok(hits)
        })
        .await;
    match found {
        Ok(servers) if servers.is_empty() => message(
            StatusCode::OK,
            "ignored: not an open rebuild PR of an enabled server",
        ),
        Ok(servers) => {
            sync_once(
                control,
                delivery,
                servers,
                &format!("command on PR #{number}"),
            )
            .await
        }
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_commands_on_pull_requests_count() {
        let payload = |action: &str, body: &str, pr: bool| {
            let mut issue = json!({ "number": 7 });
            if pr {
                issue["pull_request"] =
                    json!({ "url": "https://api.github.com/repos/acme/mirror/pulls/7" });
            }
            json!({ "action": action, "issue": issue, "comment": { "body": body, "user": { "login": "ada" } },
                   "repository": { "full_name": "acme/mirror" } })
        };
        assert_eq!(
            command_on_pr(&payload("created", "/upkeep approve-license", true)),
            Ok(Some(("acme/mirror".into(), 7)))
        );
        assert_eq!(
            command_on_pr(&payload("edited", "/upkeep decline-license no", true)),
            Ok(Some(("acme/mirror".into(), 7)))
        );
        assert_eq!(
            command_on_pr(&payload("created", "/upkeep approve-mcp SEC-4", true)),
            Ok(Some(("acme/mirror".into(), 7))),
            "an MCP surface command syncs the server too"
        );
        assert_eq!(
            command_on_pr(&payload("created", "looks good", true)),
            Ok(None)
        );
        assert_eq!(
            command_on_pr(&payload("deleted", "/upkeep approve-license", true)),
            Ok(None)
        );
        assert_eq!(
            command_on_pr(&payload("created", "/upkeep approve-license", false)),
            Ok(None)
        );
        assert!(command_on_pr(&json!({ "action": "created", "release": {} })).is_err());
    }
}
