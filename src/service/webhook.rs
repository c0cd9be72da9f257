//! GitHub webhook deliveries, pure: which events mean "a release may have appeared", and which
//! configured servers a delivery's repository is the upstream of. Signatures are checked in
//! [`super::auth`] before any of this runs.
//!
//! GitHub signs only the body (`X-Hub-Signature-256`, "Validating webhook deliveries"): the
//! `X-GitHub-Event` and `X-GitHub-Delivery` headers are not covered, so a captured delivery
//! could be replayed, or relabelled as another event. Hence the event type is trusted only as
//! far as the signed payload agrees with it ([`classify`] refuses a `release` without a
//! `release` object, a `push` without `ref`/`before`/`after`, ...), and a delivery id that
//! already started a run is ignored (GitHub keeps the id on a redelivery). The worst a replay
//! can then do is start a sync of a server whose upstream the body names, once.

use serde_json::Value;

use crate::config::ValidConfig;

/// What to do with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `ping`: GitHub checking the hook works.
    Pong,
    /// An event that cannot mean a new release; acknowledged, nothing done.
    Ignore(String),
    /// A release or a tag: sync the servers whose upstream is one of these URLs.
    Sync {
        repository_urls: Vec<String>,
        what: String,
    },
}

/// Release actions that make a release (or prerelease) visible.
const RELEASE_ACTIONS: &[&str] = &["published", "released", "prereleased", "created"];

/// The `X-GitHub-Delivery` header: GitHub sends a GUID; anything odd is refused.
pub fn delivery_id(header: Option<&str>) -> Result<&str, String> {
    match header.map(str::trim) {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
        {
            Ok(id)
        }
        Some(_) => Err("X-GitHub-Delivery is not a delivery id".into()),
        None => Err("X-GitHub-Delivery is missing".into()),
    }
}

/// The fields a payload of `event` always has (GitHub's "Webhook events and payloads"): a body
/// relabelled as another event lacks them.
fn payload_fits(event: &str, payload: &Value) -> bool {
    let has = |k: &str| !payload[k].is_null();
    match event {
        "ping" => has("zen") || has("hook_id"),
        "release" => payload["release"].is_object() && payload["action"].is_string(),
        "push" => payload["ref"].is_string() && has("before") && has("after"),
        "create" => payload["ref_type"].is_string() && payload["ref"].is_string(),
        _ => true,
    }
}

/// Decide what a delivery of `event` (the `X-GitHub-Event` header) asks for.
pub fn classify(event: &str, payload: &Value) -> Result<Action, String> {
    if !payload_fits(event, payload) {
        return Err(format!(
            "the payload is not a `{event}` event (X-GitHub-Event is not signed; the body is)"
        ));
    }
    let what = match event {
        "ping" => return Ok(Action::Pong),
        "release" => {
            let action = payload["action"].as_str().unwrap_or_default();
            if !RELEASE_ACTIONS.contains(&action) {
                return Ok(Action::Ignore(format!("release action `{action}`")));
            }
            let tag = payload["release"]["tag_name"].as_str().unwrap_or("?");
            format!("release {tag} {action}")
        }
        "push" => {
            let git_ref = payload["ref"].as_str().unwrap_or_default();
            let Some(tag) = git_ref.strip_prefix("refs/tags/") else {
                return Ok(Action::Ignore(format!("push to `{git_ref}` (not a tag)")));
            };
            if payload["deleted"].as_bool() == Some(true) {
                return Ok(Action::Ignore(format!("tag {tag} deleted")));
            }
            format!("tag {tag} pushed")
        }
        "create" => {
            if payload["ref_type"].as_str() != Some("tag") {
                return Ok(Action::Ignore("a branch was created".into()));
            }
            format!(
                "tag {} created",
                payload["ref"].as_str().unwrap_or_default()
            )
        }
        other => return Ok(Action::Ignore(format!("event `{other}`"))),
    };
    let repo = &payload["repository"];
    let repository_urls: Vec<String> = ["clone_url", "html_url", "ssh_url", "git_url", "url"]
        .iter()
        .filter_map(|k| repo[*k].as_str())
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect();
    if repository_urls.is_empty() {
        return Err("the payload names no repository URL".into());
    }
    Ok(Action::Sync {
        repository_urls,
        what,
    })
}

/// A repository URL reduced to what identifies the repository: lower case, no credentials,
/// no trailing `/` or `.git`.
pub fn normalize_repo_url(url: &str) -> String {
    let mut u = url.trim().to_lowercase();
    if let Some((scheme, rest)) = u.split_once("://") {
        // Drop `user:token@` from the authority so a credentialed upstream still matches.
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        u = format!("{scheme}://{host}/{path}");
    }
    loop {
        let trimmed = u.trim_end_matches('/');
        let trimmed = trimmed.strip_suffix(".git").unwrap_or(trimmed);
        if trimmed.len() == u.len() {
            return u;
        }
        u = trimmed.to_string();
    }
}

/// The enabled servers whose upstream is one of `urls`, in config order.
pub fn matching_servers(config: &ValidConfig, urls: &[String]) -> Vec<String> {
    let wanted: Vec<String> = urls.iter().map(|u| normalize_repo_url(u)).collect();
    config
        .servers
        .iter()
        .filter(|s| s.enabled && wanted.contains(&normalize_repo_url(&s.upstream)))
        .map(|s| s.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalisation() {
        let cases = [
            (
                "https://github.com/Owner/Repo.git",
                "https://github.com/owner/repo",
            ),
            (
                "https://github.com/owner/repo/",
                "https://github.com/owner/repo",
            ),
            (
                "https://github.com/owner/repo.git/",
                "https://github.com/owner/repo",
            ),
            (
                "https://x-access-token:abc@github.com/owner/repo",
                "https://github.com/owner/repo",
            ),
            ("git@github.com:Owner/Repo.git", "git@github.com:owner/repo"),
            ("/srv/git/Upstream.git/", "/srv/git/upstream"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_repo_url(input), want, "{input}");
        }
    }

    fn repo() -> Value {
        json!({
            "clone_url": "https://github.com/o/r.git",
            "html_url": "https://github.com/o/r",
            "ssh_url": "git@github.com:o/r.git"
        })
    }

    #[test]
    fn delivery_ids() {
        assert_eq!(
            delivery_id(Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")),
            Ok("72d3162e-cc78-11e3-81ab-4c9367dc0958")
        );
        for bad in [None, Some(""), Some("a b"), Some("x\ny")] {
            assert!(delivery_id(bad).is_err(), "{bad:?}");
        }
        assert!(delivery_id(Some(&"a".repeat(65))).is_err());
    }

    #[test]
    fn classification() {
        assert_eq!(
            classify("ping", &json!({"zen": "z", "hook_id": 1})),
            Ok(Action::Pong)
        );
        let release =
            json!({"action": "published", "release": {"tag_name": "v2.0.0"}, "repository": repo()});
        match classify("release", &release) {
            Ok(Action::Sync {
                repository_urls,
                what,
            }) => {
                assert_eq!(repository_urls.len(), 3);
                assert_eq!(what, "release v2.0.0 published");
            }
            other => panic!("{other:?}"),
        }
        let edited = json!({"action": "edited", "release": {}, "repository": repo()});
        assert!(matches!(
            classify("release", &edited),
            Ok(Action::Ignore(_))
        ));
        let sha = |c: char| c.to_string().repeat(40);
        let tag_push = json!({"ref": "refs/tags/v2.0.0", "before": sha('0'), "after": sha('a'), "deleted": false, "repository": repo()});
        assert!(matches!(
            classify("push", &tag_push),
            Ok(Action::Sync { .. })
        ));
        let branch_push = json!({"ref": "refs/heads/main", "before": sha('a'), "after": sha('b'), "repository": repo()});
        assert!(matches!(
            classify("push", &branch_push),
            Ok(Action::Ignore(_))
        ));
        let tag_delete = json!({"ref": "refs/tags/v2.0.0", "before": sha('a'), "after": sha('0'), "deleted": true, "repository": repo()});
        assert!(matches!(
            classify("push", &tag_delete),
            Ok(Action::Ignore(_))
        ));
        let create_tag = json!({"ref": "v2.0.0", "ref_type": "tag", "repository": repo()});
        assert!(matches!(
            classify("create", &create_tag),
            Ok(Action::Sync { .. })
        ));
        let create_branch = json!({"ref": "x", "ref_type": "branch", "repository": repo()});
        assert!(matches!(
            classify("create", &create_branch),
            Ok(Action::Ignore(_))
        ));
        assert!(matches!(
            classify("issues", &json!({})),
            Ok(Action::Ignore(_))
        ));
        assert!(classify("release", &json!({"action": "published", "release": {}})).is_err());
        // A signed body relabelled as another event does not fit it.
        assert!(classify("release", &json!({"zen": "z", "hook_id": 1})).is_err());
        assert!(classify("push", &release).is_err());
        assert!(classify("ping", &release).is_err());
    }
}
