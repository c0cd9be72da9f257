//! The Azure DevOps forge: the Git REST API of Azure DevOps Services or Server, chosen by
//! `base_url`, addressed by organization, project and repository, versioned by `api-version`.
//!
//! Owns the Azure DevOps request shapes and their mapping onto the [`Forge`] primitives.
//! Writes use the pushes API (one commit per push) and the refs API (to reset the bot branch
//! onto base before that push). Retries, rate limits and error mapping live in [`crate::http`].

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::json;

use super::{
    Access, BaseFile, BranchState, CommitWrite, Forge, ForgeError, ForgeResult, Identity, PrInfo,
    PrRequest, PrState, send_or_confirm,
};
use crate::http::{Auth, HttpClient, HttpSettings, Pool, Request, Response, build_url};
use crate::secret::Secret;

/// Azure DevOps rejects pull request descriptions longer than this many characters.
pub const AZURE_DESCRIPTION_LIMIT: usize = 4_000;

/// The "Git Repositories" security namespace and its GenericContribute (push) bit.
const GIT_SECURITY_NAMESPACE: &str = "2e9eb7ed-3c0a-47d4-87c1-0ffdd275fd87";
const GENERIC_CONTRIBUTE: &str = "4";

/// Where the mirror lives on Azure DevOps and how to talk to it.
#[derive(Debug, Clone)]
pub struct AzureSettings {
    /// `https://dev.azure.com`, a server collection URL (then `organization` may be empty), or a
    /// test server.
    pub base_url: String,
    pub organization: String,
    pub project: String,
    pub repository: String,
    /// `api-version` sent with every call; "7.1" unless configured.
    pub api_version: String,
    /// A personal access token, sent as `Basic base64(":" + pat)`.
    pub token: Option<Secret>,
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_rate_limit_wait: Duration,
}

/// A [`Forge`] backed by the Azure DevOps Git REST API.
#[derive(Debug)]
pub struct AzureForge {
    settings: AzureSettings,
    /// `{base}/{org}`: the organization (or collection) root.
    org_url: Url,
    http: HttpClient,
}

impl AzureForge {
    /// A forge on the shared connection pool, with the retry policy of `settings`.
    pub fn with_pool(pool: &Pool, settings: AzureSettings) -> anyhow::Result<AzureForge> {
        let http = HttpSettings {
            timeout: settings.timeout,
            max_retries: settings.max_retries,
            max_rate_limit_wait: settings.max_rate_limit_wait,
            ..HttpSettings::default()
        };
        Self::build(pool, settings, http)
    }

    /// With full control of the HTTP policy, on a pool of its own (tests use tiny backoffs).
    pub fn with_http_settings(
        settings: AzureSettings,
        http: HttpSettings,
    ) -> anyhow::Result<AzureForge> {
        Self::build(&Pool::new(http.connect_timeout)?, settings, http)
    }

    fn build(
        pool: &Pool,
        settings: AzureSettings,
        http: HttpSettings,
    ) -> anyhow::Result<AzureForge> {
        let base = Url::parse(settings.base_url.trim_end_matches('/')).map_err(|e| {
            anyhow::anyhow!("invalid Azure DevOps base_url {:?}: {e}", settings.base_url)
        })?;
        let org_url = if settings.organization.is_empty() {
            base
        } else {
            build_url(&base, &[settings.organization.as_str()], &[])
                .map_err(|e| anyhow::anyhow!("Azure DevOps base_url: {e}"))?
        };
        let auth = settings.token.clone().map(|pat| Auth::Basic {
            user: String::new(),
            password: pat,
        });
        let client = pool.client(http, auth)?;
        Ok(Self {
            settings,
            org_url,
            http: client,
        })
    }

    /// The client, for callers that want to reuse its policy and metrics.
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    fn repo_url(&self, rest: &[&str], query: &[(&str, &str)]) -> ForgeResult<Url> {
        let mut segments = vec![
            self.settings.project.as_str(),
            "_apis",
            "git",
            "repositories",
            self.settings.repository.as_str(),
        ];
        segments.extend_from_slice(rest);
        let mut query = query.to_vec();
        query.push(("api-version", self.settings.api_version.as_str()));
        build_url(&self.org_url, &segments, &query)
    }

    /// Sends and treats 203 (Azure DevOps' answer to a bad PAT: a sign-in page) as 401.
    fn call(&self, request: &Request) -> ForgeResult<Response> {
        let response = self.http.execute(request)?;
        if response.status == StatusCode::NON_AUTHORITATIVE_INFORMATION
            || response
                .header_str("content-type")
                .is_some_and(|t| t.starts_with("text/html"))
        {
            return Err(ForgeError::Unauthorized(format!(
                "{} {}: {}: Azure DevOps answered with a sign-in page; the PAT is missing, wrong or expired",
                response.method, response.url, response.status
            )));
        }
        Ok(response)
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, url: Url) -> ForgeResult<T> {
        self.call(&Request::get(url))?.json()
    }

    fn send<T: for<'de> Deserialize<'de>>(
        &self,
        method: Method,
        url: Url,
        body: &serde_json::Value,
    ) -> ForgeResult<T> {
        self.call(&Request::new(method, url).json(body))?.json()
    }

    /// The commit a branch points at, or None. `filter` is a prefix match, so the exact name is
    /// picked from the answer.
    fn branch_head(&self, branch: &str) -> ForgeResult<Option<String>> {
        let filter = format!("heads/{branch}");
        let refs: List<GitRef> =
            self.get(self.repo_url(&["refs"], &[("filter", filter.as_str())])?)?;
        let name = format!("refs/heads/{branch}");
        Ok(refs
            .value
            .into_iter()
            .find(|r| r.name == name)
            .map(|r| r.object_id))
    }

    fn item_exists(&self, commit: &str, path: &str) -> ForgeResult<bool> {
        let url = self.item_url(commit, path)?;
        match self.call(&Request::get(url)) {
            Ok(_) => Ok(true),
            Err(ForgeError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn item_url(&self, commit: &str, path: &str) -> ForgeResult<Url> {
        let path = item_path(path);
        self.repo_url(
            &["items"],
            &[
                ("path", path.as_str()),
                ("versionDescriptor.version", commit),
                ("versionDescriptor.versionType", "commit"),
                ("includeContent", "true"),
            ],
        )
    }

    /// The newest active PR whose source is `branch`.
    fn active_pr(&self, branch: &str) -> ForgeResult<Option<PullRequest>> {
        let source = format!("refs/heads/{branch}");
        let url = self.repo_url(
            &["pullrequests"],
            &[
                ("searchCriteria.sourceRefName", source.as_str()),
                ("searchCriteria.status", "active"),
            ],
        )?;
        let prs: List<PullRequest> = self.get(url)?;
        // Newest first: the highest id.
        Ok(prs
            .value
            .into_iter()
            .filter(|p| p.source_ref_name == source)
            .max_by_key(|p| p.pull_request_id))
    }

    fn pull(&self, id: &str) -> ForgeResult<PullRequest> {
        self.get(self.repo_url(&["pullrequests", id], &[])?)
    }

    fn web_url(&self, id: u64) -> String {
        let mut url = self.org_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend([
                self.settings.project.as_str(),
                "_git",
                self.settings.repository.as_str(),
                "pullrequest",
            ]);
            path.push(&id.to_string());
        }
        url.to_string()
    }

    fn pr_info(&self, pr: PullRequest) -> PrInfo {
        let state = match pr.status.as_str() {
            "completed" => PrState::Merged,
            "abandoned" => PrState::Closed,
            _ => PrState::Open,
        };
        let closed = state != PrState::Open;
        PrInfo {
            id: pr.pull_request_id.to_string(),
            url: self.web_url(pr.pull_request_id),
            state,
            title: pr.title,
            body: pr.description.unwrap_or_default(),
            draft: pr.is_draft,
            labels: pr
                .labels
                .into_iter()
                .filter(|l| l.active.unwrap_or(true))
                .map(|l| l.name)
                .collect(),
            head_branch: pr
                .source_ref_name
                .strip_prefix("refs/heads/")
                .unwrap_or(&pr.source_ref_name)
                .to_string(),
            closed_by: if closed {
                pr.closed_by.map(|u| u.display_name)
            } else {
                None
            },
            closed_at: if closed { pr.closed_date } else { None },
        }
    }

    fn add_label(&self, id: &str, label: &str) -> ForgeResult<()> {
        let url = self.repo_url(&["pullrequests", id, "labels"], &[])?;
        let _: serde_json::Value = self.send(Method::POST, url, &json!({ "name": label }))?;
        Ok(())
    }

    fn remove_label(&self, id: &str, label: &str) -> ForgeResult<()> {
        let url = self.repo_url(&["pullrequests", id, "labels", label], &[])?;
        match self.call(&Request::new(Method::DELETE, url)) {
            Ok(_) | Err(ForgeError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn item_path(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

fn check_description(description: &str) -> ForgeResult<()> {
    let chars = description.chars().count();
    if chars > AZURE_DESCRIPTION_LIMIT {
        return Err(ForgeError::Other(format!(
            "the PR description is {chars} characters; Azure DevOps accepts at most {AZURE_DESCRIPTION_LIMIT}: shorten it before sending"
        )));
    }
    Ok(())
}

impl Forge for AzureForge {
    fn kind(&self) -> &'static str {
        "azure-devops"
    }

    fn body_limit(&self) -> usize {
        AZURE_DESCRIPTION_LIMIT
    }

    fn location(&self) -> String {
        format!(
            "{}/{}/_git/{}",
            self.org_url.as_str().trim_end_matches('/'),
            self.settings.project,
            self.settings.repository
        )
    }

    fn read_base_file(&self, base: &str, path: &str) -> ForgeResult<BaseFile> {
        let commit = self
            .branch_head(base)?
            .ok_or_else(|| ForgeError::NotFound(format!("branch {base} in {}", self.location())))?;
        // Read at the commit, not the branch name, so content and base_commit agree.
        let item: Item = self.get(self.item_url(&commit, path)?)?;
        if item.is_folder {
            return Err(ForgeError::Other(format!(
                "{path} at {base} is a folder, not a file"
            )));
        }
        Ok(BaseFile {
            base_commit: commit,
            content: item.content.unwrap_or_default().into_bytes(),
        })
    }

    /// Commits on the branch but not on base come from `commitsbatch` with
    /// `itemVersion` = the branch and `compareVersion` = base (Azure DevOps' "compare branches").
    fn branch_state(
        &self,
        branch: &str,
        base: &str,
        bot: &Identity,
    ) -> ForgeResult<Option<BranchState>> {
        let Some(head) = self.branch_head(branch)? else {
            return Ok(None);
        };
        let url = self.repo_url(&["commitsbatch"], &[("$top", "1000")])?;
        let commits: List<Commit> = self.send(
            Method::POST,
            url,
            &json!({
                "itemVersion": { "version": branch, "versionType": "branch" },
                "compareVersion": { "version": base, "versionType": "branch" },
            }),
        )?;
        let only_bot_commits = commits.value.iter().all(|c| {
            c.author
                .as_ref()
                .is_some_and(|a| a.email.eq_ignore_ascii_case(&bot.email))
        });
        Ok(Some(BranchState {
            head,
            only_bot_commits,
        }))
    }

    /// A push's parent is its ref's old object id, so an existing bot branch is first reset onto
    /// base (a compare-and-swap from `expected_head`), then the one commit is pushed on top of
    /// base; a new branch is created by pushing with base as the old object id.
    fn write_branch(&self, write: &CommitWrite) -> ForgeResult<String> {
        let ref_name = format!("refs/heads/{}", write.branch);
        let current = self.branch_head(&write.branch)?;
        match (&current, &write.expected_head) {
            (None, None) => {}
            (Some(head), Some(expected)) if head == expected => {
                if *head != write.base_commit {
                    let updates: List<RefUpdateResult> = self.send(
                        Method::POST,
                        self.repo_url(&["refs"], &[])?,
                        &json!([{ "name": ref_name, "oldObjectId": head, "newObjectId": write.base_commit }]),
                    )?;
                    if let Some(failed) = updates.value.iter().find(|u| !u.success) {
                        return Err(ForgeError::Conflict(format!(
                            "resetting {} onto base failed: {}",
                            write.branch,
                            failed.update_status.as_deref().unwrap_or("unknown status")
                        )));
                    }
                }
            }
            (current, expected) => {
                return Err(ForgeError::Conflict(format!(
                    "branch {} is at {} but {} was expected",
                    write.branch,
                    current.as_deref().unwrap_or("(missing)"),
                    expected.as_deref().unwrap_or("(missing)")
                )));
            }
        }
        let change_type = if self.item_exists(&write.base_commit, &write.path)? {
            "edit"
        } else {
            "add"
        };
        use base64::Engine as _;
        let push: Push = self.send(
            Method::POST,
            self.repo_url(&["pushes"], &[])?,
            &json!({
                "refUpdates": [{ "name": ref_name, "oldObjectId": write.base_commit }],
                "commits": [{
                    "comment": write.message,
                    "author": { "name": write.author.name, "email": write.author.email },
                    "changes": [{
                        "changeType": change_type,
                        "item": { "path": item_path(&write.path) },
                        "newContent": {
                            "content": base64::engine::general_purpose::STANDARD.encode(&write.content),
                            "contentType": "base64encoded",
                        },
                    }],
                }],
            }),
        )?;
        push.ref_updates
            .into_iter()
            .find_map(|u| u.new_object_id)
            .or_else(|| push.commits.into_iter().last().map(|c| c.commit_id))
            .ok_or_else(|| {
                ForgeError::Other(format!(
                    "push to {} returned no new commit id",
                    write.branch
                ))
            })
    }

    fn find_pr(&self, branch: &str, known_id: Option<&str>) -> ForgeResult<Option<PrInfo>> {
        if let Some(id) = known_id {
            return match self.pull(id) {
                Ok(pr) => Ok(Some(self.pr_info(pr))),
                Err(ForgeError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            };
        }
        Ok(self.active_pr(branch)?.map(|p| self.pr_info(p)))
    }

    /// Reviewers are identity ids (GUIDs or descriptors) sent as `reviewers: [{"id": ..}]`. If
    /// the create fails with reviewers, it is retried once without them (logged), so a stale id
    /// cannot block the rebuild PR.
    fn open_pr(&self, request: &PrRequest) -> ForgeResult<PrInfo> {
        check_description(&request.body)?;
        let url = self.repo_url(&["pullrequests"], &[])?;
        let body = |with_reviewers: bool| {
            let reviewers: Vec<_> = if with_reviewers {
                request
                    .reviewers
                    .iter()
                    .map(|id| json!({ "id": id }))
                    .collect()
            } else {
                Vec::new()
            };
            json!({
                "sourceRefName": format!("refs/heads/{}", request.branch),
                "targetRefName": format!("refs/heads/{}", request.base),
                "title": request.title,
                "description": request.body,
                "isDraft": request.draft,
                "reviewers": reviewers,
            })
        };
        // A create whose answer was lost is confirmed by the branch's active PR (one per source
        // and target), never sent again blindly.
        let create = |with_reviewers: bool| {
            send_or_confirm(
                "open the PR",
                || self.send(Method::POST, url.clone(), &body(with_reviewers)),
                || self.active_pr(&request.branch),
            )
        };
        let pr = match create(true) {
            Err(ForgeError::Other(error)) if !request.reviewers.is_empty() => {
                tracing::warn!(%error, "creating the PR with reviewers failed; retrying without them");
                create(false)?
            }
            other => other?,
        };
        let id = pr.pull_request_id.to_string();
        for label in &request.labels {
            self.add_label(&id, label)?;
        }
        let mut info = self.pr_info(pr);
        info.labels = request.labels.clone();
        Ok(info)
    }

    /// Sets title, description and draft flag, and the label set to exactly `request.labels`.
    /// Reviewers are only added when the PR is opened.
    fn update_pr(&self, id: &str, request: &PrRequest) -> ForgeResult<PrInfo> {
        check_description(&request.body)?;
        let pr: PullRequest = self.send(
            Method::PATCH,
            self.repo_url(&["pullrequests", id], &[])?,
            &json!({ "title": request.title, "description": request.body, "isDraft": request.draft }),
        )?;
        let current: Vec<String> = pr
            .labels
            .iter()
            .filter(|l| l.active.unwrap_or(true))
            .map(|l| l.name.clone())
            .collect();
        for label in request.labels.iter().filter(|l| !current.contains(l)) {
            self.add_label(id, label)?;
        }
        for label in current.iter().filter(|l| !request.labels.contains(l)) {
            self.remove_label(id, label)?;
        }
        let mut info = self.pr_info(pr);
        info.labels = request.labels.clone();
        Ok(info)
    }

    /// A comment whose answer was lost is looked for in the PR's threads ("Pull Request Threads
    /// - List") by its exact content before it is sent again.
    fn comment_pr(&self, id: &str, body: &str) -> ForgeResult<()> {
        let url = self.repo_url(&["pullrequests", id, "threads"], &[])?;
        send_or_confirm(
            "comment on the PR",
            || {
                let _: serde_json::Value = self.send(
                    Method::POST,
                    url.clone(),
                    &json!({ "comments": [{ "parentCommentId": 0, "content": body, "commentType": 1 }], "status": 1 }),
                )?;
                Ok(())
            },
            || {
                let threads: List<Thread> = self.get(url.clone())?;
                let posted = threads
                    .value
                    .iter()
                    .flat_map(|t| &t.comments)
                    .any(|c| c.content.as_deref() == Some(body));
                Ok(posted.then_some(()))
            },
        )
    }

    /// Reads the repository, then asks the security API whether the caller has GenericContribute
    /// (push) on it (`_apis/permissions/{git namespace}/4?tokens=repoV2/{project}/{repo}`), then
    /// checks that the base branch exists.
    fn check_access(&self, base: &str) -> ForgeResult<Access> {
        let repo: Repository = self.get(self.repo_url(&[], &[])?)?;
        let token = format!("repoV2/{}/{}", repo.project.id, repo.id);
        let url = build_url(
            &self.org_url,
            &[
                "_apis",
                "permissions",
                GIT_SECURITY_NAMESPACE,
                GENERIC_CONTRIBUTE,
            ],
            &[
                ("tokens", token.as_str()),
                ("api-version", self.settings.api_version.as_str()),
            ],
        )?;
        let answer: List<bool> = self.get(url)?;
        if !answer.value.first().copied().unwrap_or(false) {
            return Err(ForgeError::Unauthorized(format!(
                "the PAT cannot push to {} (no Contribute permission on the repository); it needs Code (read & write)",
                self.location()
            )));
        }
        if self.branch_head(base)?.is_none() {
            return Err(ForgeError::NotFound(format!(
                "base branch {base} in {}",
                self.location()
            )));
        }
        Ok(Access::Writable)
    }
}

#[derive(Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GitRef {
    name: String,
    object_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefUpdateResult {
    #[serde(default)]
    success: bool,
    update_status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    content: Option<String>,
    #[serde(default)]
    is_folder: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Push {
    #[serde(default)]
    commits: Vec<PushedCommit>,
    #[serde(default)]
    ref_updates: Vec<PushedRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PushedCommit {
    commit_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PushedRef {
    new_object_id: Option<String>,
}

#[derive(Deserialize)]
struct Commit {
    author: Option<Person>,
}

#[derive(Deserialize)]
struct Person {
    email: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityRef {
    display_name: String,
}

#[derive(Deserialize)]
struct Label {
    name: String,
    active: Option<bool>,
}

#[derive(Deserialize)]
struct Thread {
    #[serde(default)]
    comments: Vec<ThreadComment>,
}

#[derive(Deserialize)]
struct ThreadComment {
    content: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullRequest {
    pull_request_id: u64,
    status: String,
    title: String,
    description: Option<String>,
    #[serde(default)]
    is_draft: bool,
    source_ref_name: String,
    #[serde(default)]
    labels: Vec<Label>,
    closed_by: Option<IdentityRef>,
    closed_date: Option<String>,
}

#[derive(Deserialize)]
struct ProjectRef {
    id: String,
}

#[derive(Deserialize)]
struct Repository {
    id: String,
    project: ProjectRef,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forge(base: &str, organization: &str) -> AzureForge {
        let pool = Pool::new(Duration::from_secs(5)).unwrap();
        AzureForge::with_pool(
            &pool,
            AzureSettings {
                base_url: base.into(),
                organization: organization.into(),
                project: "Mirror Project".into(),
                repository: "servers".into(),
                api_version: "7.1".into(),
                token: None,
                timeout: Duration::from_secs(5),
                max_retries: 0,
                max_rate_limit_wait: Duration::from_secs(1),
            },
        )
        .unwrap()
    }

    #[test]
    fn urls_for_services_and_server_collections() {
        let services = forge("https://dev.azure.com/", "contoso");
        assert_eq!(
            services
                .repo_url(&["refs"], &[("filter", "heads/main")])
                .unwrap()
                .as_str(),
            "https://dev.azure.com/contoso/Mirror%20Project/_apis/git/repositories/servers/refs?filter=heads%2Fmain&api-version=7.1"
        );
        assert_eq!(
            services.web_url(7),
            "https://dev.azure.com/contoso/Mirror%20Project/_git/servers/pullrequest/7"
        );
        let server = forge("https://tfs.example.com/tfs/DefaultCollection", "");
        assert_eq!(
            server.location(),
            "https://tfs.example.com/tfs/DefaultCollection/Mirror Project/_git/servers"
        );
    }

    #[test]
    fn description_limit_is_4000_characters() {
        assert!(check_description(&"x".repeat(AZURE_DESCRIPTION_LIMIT)).is_ok());
        let err = check_description(&"x".repeat(AZURE_DESCRIPTION_LIMIT + 1)).unwrap_err();
        assert!(err.to_string().contains("4000"), "{err}");
    }

    #[test]
    fn item_paths_are_rooted() {
        assert_eq!(item_path("pins/server.toml"), "/pins/server.toml");
        assert_eq!(item_path("/Dockerfile"), "/Dockerfile");
    }
}
