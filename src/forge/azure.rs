//! The Azure DevOps forge: the Git REST API of Azure DevOps Services or Server, chosen by
//! `base_url`, addressed by organization, project and repository, versioned by `api-version`.
//!
//! Owns the Azure DevOps request shapes and their mapping onto the [`Forge`] primitives.
//! Writes use the pushes API (one commit per push) and the refs API (to reset the bot branch
//! onto base before that push). Reviewers are resolved from names or emails to identity ids
//! with the Identities API (cached for the process); labels are read with the PR labels list;
//! 400/409 answers are told apart by the `TFnnnnnn` code in their documented error bodies.
//! Retries and rate limits live in [`crate::http`].

mod automerge;
mod checks;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::json;

use super::automerge::{Armed, AutoMergeState, MergeOptions};
use super::{
    Access, BaseFile, BranchState, CommentsRead, CommitSummary, CommitWrite, Forge, ForgeError,
    ForgeResult, PrComment, PrInfo, PrRequest, PrSeen, PrState, found, send_or_confirm,
};
use crate::http::{Auth, HttpClient, HttpSettings, Pool, Request, Response, build_url};
use crate::secret::Secret;

/// Azure DevOps rejects pull request descriptions longer than this; the service counts UTF-16
/// code units (a .NET string length), so an emoji counts two.
pub const AZURE_DESCRIPTION_LIMIT: usize = 4_000;

/// "TF401179: An active pull request for the source and target branch already exists."
const PR_EXISTS: &str = "TF401179";
/// "TF401289: The current user does not have permissions to create tags." A label that is not
/// yet a tag definition of the project needs the project permission to create one.
const TAG_CREATE_DENIED: &str = "TF401289";

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
    /// Where the Identities API lives: `https://vssps.dev.azure.com` for Azure DevOps Services,
    /// the collection URL for a server. None: derived from `base_url` ([`identity_base`]).
    pub identity_url: Option<String>,
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
    /// `{identity base}/{org}`: where `_apis/identities` is.
    identity_root: Url,
    http: HttpClient,
}

/// The Identities API host for `base_url`: Azure DevOps Services serves it from
/// `vssps.dev.azure.com` ("Identities - Read Identities", API 7.1); a server collection (or a
/// test server) serves it from the collection itself.
pub fn identity_base(base_url: &str) -> String {
    let trimmed = base_url.trim_end_matches('/');
    match Url::parse(trimmed) {
        Ok(u) if u.host_str() == Some("dev.azure.com") => "https://vssps.dev.azure.com".into(),
        _ => trimmed.to_string(),
    }
}

/// Identity ids found for (identity root, reviewer), for the life of the process: reviewers
/// rarely change, and a run of many servers on one organization asks once per reviewer.
fn identity_cache() -> &'static Mutex<HashMap<(String, String), String>> {
    static CACHE: OnceLock<Mutex<HashMap<(String, String), String>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
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
            anyhow::anyhow!(
                "invalid Azure DevOps base_url {:?}: {e}",
                crate::secret::redact_url(&settings.base_url)
            )
        })?;
        let org_url = org_root(&base, &settings.organization)?;
        let identity = settings
            .identity_url
            .clone()
            .unwrap_or_else(|| identity_base(&settings.base_url));
        let identity = Url::parse(identity.trim_end_matches('/'))
            .map_err(|e| anyhow::anyhow!("invalid Azure DevOps identity-url {identity:?}: {e}"))?;
        let identity_root = org_root(&identity, &settings.organization)?;
        let auth = settings.token.clone().map(|pat| Auth::Basic {
            user: String::new(),
            password: pat,
        });
        let client = pool.client(http, auth)?;
        Ok(Self {
            settings,
            org_url,
            identity_root,
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
        let state = pr.pr_state();
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
            warnings: Vec::new(),
        }
    }

    /// "Pull Request Labels - Create": adds the label, creating the project's tag definition if
    /// there is none. Refused with TF401289 when the caller may not create tag definitions: the
    /// PR stays as it is and the refusal becomes a warning that names the permission.
    fn add_label(&self, id: &str, label: &str) -> ForgeResult<Option<String>> {
        let url = self.repo_url(&["pullrequests", id, "labels"], &[])?;
        match self.send::<serde_json::Value>(Method::POST, url, &json!({ "name": label })) {
            Ok(_) => Ok(None),
            Err(e) if tf_code(&e) == Some(TAG_CREATE_DENIED) => Ok(Some(format!(
                "Azure DevOps refused to add the label `{label}` ({TAG_CREATE_DENIED}: the PAT's \
                 identity may not create tag definitions): grant it \"Create tag definition\" \
                 in Project settings > Permissions, or create the tag once by hand; the PR is \
                 open without the label"
            ))),
            Err(e) => Err(e),
        }
    }

    fn remove_label(&self, id: &str, label: &str) -> ForgeResult<()> {
        let url = self.repo_url(&["pullrequests", id, "labels", label], &[])?;
        match self.call(&Request::new(Method::DELETE, url)) {
            Ok(_) | Err(ForgeError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// "Pull Request Labels - List": the active labels of the PR. The PR's own `labels` field
    /// is not reliably filled in every answer (the update response leaves it out), so the list
    /// API is the one source.
    fn labels(&self, id: &str) -> ForgeResult<Vec<String>> {
        let list: List<Label> = self.get(self.repo_url(&["pullrequests", id, "labels"], &[])?)?;
        Ok(list
            .value
            .into_iter()
            .filter(|l| l.active.unwrap_or(true))
            .map(|l| l.name)
            .collect())
    }

    /// Adds the missing labels and removes the extra ones; returns the labels the PR carries
    /// and the refusals.
    fn set_labels(
        &self,
        id: &str,
        current: &[String],
        wanted: &[String],
    ) -> ForgeResult<(Vec<String>, Vec<String>)> {
        let mut warnings = Vec::new();
        let mut now: Vec<String> = current.to_vec();
        for label in wanted.iter().filter(|l| !current.contains(l)) {
            match self.add_label(id, label)? {
                None => now.push(label.clone()),
                Some(w) => warnings.push(w),
            }
        }
        for label in current.iter().filter(|l| !wanted.contains(l)) {
            self.remove_label(id, label)?;
            now.retain(|l| l != label);
        }
        Ok((now, warnings))
    }

    /// Reviewer names or emails to identity ids ("Identities - Read Identities",
    /// `searchFilter=General`). A value that matches no identity, or several, is left out and
    /// reported as a warning; a GUID is taken as an id already.
    fn resolve_reviewers(&self, reviewers: &[String]) -> ForgeResult<(Vec<String>, Vec<String>)> {
        let (mut ids, mut warnings) = (Vec::new(), Vec::new());
        for reviewer in reviewers {
            if is_guid(reviewer) {
                ids.push(reviewer.clone());
                continue;
            }
            let key = (self.identity_root.to_string(), reviewer.to_lowercase());
            let cached = identity_cache()
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&key)
                .cloned();
            let found = match cached {
                Some(id) => Ok(id),
                None => self.find_identity(reviewer),
            };
            match found {
                Ok(id) => {
                    identity_cache()
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(key, id.clone());
                    ids.push(id);
                }
                Err(why) => {
                    warnings.push(format!("reviewer `{reviewer}` was not requested: {why}"))
                }
            }
        }
        Ok((ids, warnings))
    }

    /// One identity for `who`, or why not. Several matches are narrowed to the one whose mail
    /// or account name is exactly `who`.
    fn find_identity(&self, who: &str) -> Result<String, String> {
        let url = build_url(
            &self.identity_root,
            &["_apis", "identities"],
            &[
                ("searchFilter", "General"),
                ("filterValue", who),
                ("queryMembership", "None"),
                ("api-version", self.settings.api_version.as_str()),
            ],
        )
        .map_err(|e| e.to_string())?;
        let found: List<IdentityRecord> = self.get(url).map_err(|e| e.to_string())?;
        let active: Vec<&IdentityRecord> = found
            .value
            .iter()
            .filter(|i| i.is_active.unwrap_or(true))
            .collect();
        let exact: Vec<&IdentityRecord> = active
            .iter()
            .copied()
            .filter(|i| i.is_exactly(who))
            .collect();
        match (active.as_slice(), exact.as_slice()) {
            ([only], _) | (_, [only]) => Ok(only.id.clone()),
            ([], _) => Err("no Azure DevOps identity matches it".into()),
            _ => Err(format!(
                "{} Azure DevOps identities match it; configure the email address",
                active.len()
            )),
        }
    }
}

/// `base/org`, or `base` for a server collection URL (no organization).
fn org_root(base: &Url, organization: &str) -> anyhow::Result<Url> {
    if organization.is_empty() {
        return Ok(base.clone());
    }
    build_url(base, &[organization], &[]).map_err(|e| anyhow::anyhow!("Azure DevOps URL: {e}"))
}

/// The `TFnnnnnn` code an Azure DevOps error body starts its `message` with, if any.
fn tf_code(error: &ForgeError) -> Option<&str> {
    let text = match error {
        ForgeError::Conflict(t) | ForgeError::Other(t) | ForgeError::Unauthorized(t) => t,
        _ => return None,
    };
    text.match_indices("TF").find_map(|(at, _)| {
        let code = &text[at..];
        let digits = code[2..].bytes().take_while(u8::is_ascii_digit).count();
        (digits >= 5).then(|| &code[..2 + digits])
    })
}

/// A refused PR create, by its documented body: TF401179 means the PR exists (the caller adopts
/// it); any other refusal, 409 included, is reported with the service's words and adopts nothing.
fn classify_create(error: ForgeError) -> ForgeError {
    match (&error, tf_code(&error)) {
        (_, Some(PR_EXISTS)) => ForgeError::Conflict(error.to_string()),
        (ForgeError::Conflict(text), _) => ForgeError::Other(text.clone()),
        _ => error,
    }
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn item_path(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

/// Refuses a description over [`AZURE_DESCRIPTION_LIMIT`] UTF-16 code units before anything is
/// sent. Bodies are rendered to fit (`render::pr_body` counts the same units and cuts between
/// characters); this guard only catches a body that was not.
fn check_description(description: &str) -> ForgeResult<()> {
    let units = description.encode_utf16().count();
    if units > AZURE_DESCRIPTION_LIMIT {
        return Err(ForgeError::Other(format!(
            "the PR description is {units} UTF-16 code units; Azure DevOps accepts at most {AZURE_DESCRIPTION_LIMIT}: shorten it before sending"
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

    /// The head from the refs API, its parents and author from "Commits - Get".
    fn branch_state(&self, branch: &str) -> ForgeResult<Option<BranchState>> {
        let Some(head) = self.branch_head(branch)? else {
            return Ok(None);
        };
        let commit: Commit = self.get(self.repo_url(&["commits", &head], &[])?)?;
        Ok(Some(BranchState {
            head,
            parents: commit.parents,
            author_email: commit.author.map(|a| a.email),
        }))
    }

    /// "Commits - Get Commits Batch" (API 7.1, GitQueryCommitsCriteria): `compareVersion` is
    /// where the history walk *starts* and `itemVersion` the history it stops at, so the
    /// commits on `branch` that `base` does not contain are asked with `compareVersion` = the
    /// branch and `itemVersion` = base. The answer only fills a note people read; nothing is
    /// decided from it, so a service reading the two the other way round loses no one's work.
    fn commits_beside(
        &self,
        branch: &str,
        base: &str,
        limit: usize,
    ) -> ForgeResult<Vec<CommitSummary>> {
        let top = limit.to_string();
        let url = self.repo_url(&["commitsbatch"], &[("$top", top.as_str())])?;
        let commits: List<Commit> = self.send(
            Method::POST,
            url,
            &json!({
                "itemVersion": { "version": base, "versionType": "branch" },
                "compareVersion": { "version": branch, "versionType": "branch" },
            }),
        )?;
        Ok(commits
            .value
            .into_iter()
            .take(limit)
            .map(|c| CommitSummary {
                id: c.commit_id,
                author: c
                    .author
                    .map_or_else(|| "(unknown)".into(), |a| a.name.unwrap_or(a.email)),
                subject: c.comment.lines().next().unwrap_or_default().to_string(),
            })
            .collect())
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
                Ok(pr) => {
                    let mut info = self.pr_info(pr);
                    info.labels = self.labels(id)?;
                    Ok(Some(info))
                }
                Err(ForgeError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            };
        }
        let Some(pr) = self.active_pr(branch)? else {
            return Ok(None);
        };
        let mut info = self.pr_info(pr);
        info.labels = self.labels(&info.id)?;
        Ok(Some(info))
    }

    /// "Pull Requests - Get Pull Request" (`GET .../pullrequests/{id}`): its `status` and
    /// `closedDate`. Azure DevOps documents no conditional reads of a PR, so this is one plain
    /// read (made conditional by `cache` should the service send an ETag).
    fn pr_state(
        &self,
        id: &str,
        cache: &dyn crate::http::ConditionalCache,
    ) -> ForgeResult<Option<PrSeen>> {
        let url = self.repo_url(&["pullrequests", id], &[])?;
        Ok(
            found(self.http.get_cached_json::<PullRequest>(url, cache))?.map(|pr| {
                let state = pr.pr_state();
                PrSeen {
                    state,
                    closed_at: pr.closed_date.filter(|_| state != PrState::Open),
                }
            }),
        )
    }

    /// Reviewers are resolved to identity ids first and sent as `reviewers: [{"id": ..}]`
    /// (IdentityRefWithVote). TF401179 (an active PR for the same source and target exists) is
    /// a Conflict, which the caller answers by adopting that PR; any other refusal is reported
    /// with the service's words. Labels refused and reviewers not found are the PR's warnings.
    fn open_pr(&self, request: &PrRequest) -> ForgeResult<PrInfo> {
        check_description(&request.body)?;
        let (reviewers, mut warnings) = self.resolve_reviewers(&request.reviewers)?;
        let url = self.repo_url(&["pullrequests"], &[])?;
        let body = json!({
            "sourceRefName": format!("refs/heads/{}", request.branch),
            "targetRefName": format!("refs/heads/{}", request.base),
            "title": request.title,
            "description": request.body,
            "isDraft": request.draft,
            "reviewers": reviewers.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
        });
        // A create whose answer was lost is confirmed by the branch's active PR (one per source
        // and target), never sent again blindly.
        let created = send_or_confirm(
            "open the PR",
            || self.send(Method::POST, url.clone(), &body),
            || self.active_pr(&request.branch),
        );
        let pr: PullRequest = match created {
            Ok(pr) => pr,
            Err(e) => return Err(classify_create(e)),
        };
        let id = pr.pull_request_id.to_string();
        let (labels, refused) = self.set_labels(&id, &[], &request.labels)?;
        warnings.extend(refused);
        let mut info = self.pr_info(pr);
        info.labels = labels;
        info.warnings = warnings;
        Ok(info)
    }

    /// Sets title, description and draft flag, and the label set to exactly `request.labels`
    /// (read first with the labels list API). Reviewers are only added when the PR is opened.
    fn update_pr(&self, id: &str, request: &PrRequest) -> ForgeResult<PrInfo> {
        check_description(&request.body)?;
        let pr: PullRequest = self.send(
            Method::PATCH,
            self.repo_url(&["pullrequests", id], &[])?,
            &json!({ "title": request.title, "description": request.body, "isDraft": request.draft }),
        )?;
        let current = self.labels(id)?;
        let (labels, warnings) = self.set_labels(id, &current, &request.labels)?;
        let mut info = self.pr_info(pr);
        info.labels = labels;
        info.warnings = warnings;
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

    /// "Pull Request Threads - List": every thread with its comments (the API has no
    /// conditional read or `since`, so the cursor is unused and each read is one request). The
    /// service's own `system` comments and deleted ones are left out.
    fn pr_comments(&self, id: &str, _cursor: Option<&str>) -> ForgeResult<CommentsRead> {
        let threads: List<Thread> =
            self.get(self.repo_url(&["pullrequests", id, "threads"], &[])?)?;
        let pr_url = id
            .parse::<u64>()
            .map(|n| self.web_url(n))
            .unwrap_or_default();
        let mut comments = Vec::new();
        for t in threads.value.iter().filter(|t| !t.is_deleted) {
            for c in &t.comments {
                if c.is_deleted || c.comment_type.as_deref() == Some("system") {
                    continue;
                }
                let created = c.published_date.clone().unwrap_or_default();
                comments.push(PrComment {
                    id: format!("{}-{}", t.id, c.id),
                    author: c
                        .author
                        .as_ref()
                        .and_then(|a| a.unique_name.clone())
                        .unwrap_or_default(),
                    body: c.content.clone().unwrap_or_default(),
                    updated_at: c
                        .last_updated_date
                        .clone()
                        .unwrap_or_else(|| created.clone()),
                    created_at: created,
                    url: format!("{pr_url}?discussionId={}", t.id),
                });
            }
        }
        comments.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(CommentsRead::Read {
            comments,
            cursor: None,
        })
    }

    /// "Pull Requests - Update" with `status: abandoned`, Azure DevOps' close without merge.
    fn close_pr(&self, id: &str) -> ForgeResult<()> {
        let url = self.repo_url(&["pullrequests", id], &[])?;
        send_or_confirm(
            "abandon the PR",
            || {
                let _: serde_json::Value = self.send(
                    Method::PATCH,
                    url.clone(),
                    &json!({ "status": "abandoned" }),
                )?;
                Ok(())
            },
            || Ok((self.pull(id)?.status == "abandoned").then_some(())),
        )
    }

    /// The PR's statuses and build policy evaluations, plain reads (`azure/checks.rs` says why
    /// `cache` is not used).
    fn pr_checks(
        &self,
        id: &str,
        _url: &str,
        head: &str,
        _cache: &dyn crate::http::ConditionalCache,
    ) -> ForgeResult<super::checks::PrChecks> {
        self.read_checks(id, head)
    }

    /// The PR's auto-complete (`azure/automerge.rs`).
    fn auto_merge(&self, id: &str) -> ForgeResult<AutoMergeState> {
        Ok(self.auto_complete_pr(id)?.state())
    }

    fn arm_auto_merge(&self, id: &str, head: &str, o: &MergeOptions) -> ForgeResult<Armed> {
        self.set_auto_complete(id, head, o)
    }

    fn disarm_auto_merge(&self, id: &str) -> ForgeResult<()> {
        self.clear_auto_complete(id)
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
#[serde(rename_all = "camelCase")]
struct Commit {
    commit_id: String,
    author: Option<Person>,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    parents: Vec<String>,
}

#[derive(Deserialize)]
struct Person {
    name: Option<String>,
    email: String,
}

/// One answer of "Identities - Read Identities": the id, and the properties that tell which of
/// several matches is exactly the configured reviewer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityRecord {
    id: String,
    is_active: Option<bool>,
    #[serde(default)]
    properties: HashMap<String, IdentityProperty>,
}

#[derive(Deserialize)]
struct IdentityProperty {
    #[serde(rename = "$value")]
    value: Option<serde_json::Value>,
}

impl IdentityRecord {
    fn is_exactly(&self, who: &str) -> bool {
        ["Mail", "Account"].iter().any(|k| {
            self.properties
                .get(*k)
                .and_then(|p| p.value.as_ref())
                .and_then(|v| v.as_str())
                .is_some_and(|v| v.eq_ignore_ascii_case(who))
        })
    }
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
#[serde(rename_all = "camelCase")]
struct Thread {
    #[serde(default)]
    id: u64,
    #[serde(default)]
    comments: Vec<ThreadComment>,
    #[serde(default)]
    is_deleted: bool,
}

/// A comment of a thread ("Pull Request Threads - List", `Comment`): `author` is an
/// IdentityRef whose `uniqueName` is the sign-in name (usually the email); `commentType` is
/// `text`, `system` (the service's own notes: votes, pushes) or `codeChange`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadComment {
    #[serde(default)]
    id: u64,
    content: Option<String>,
    author: Option<CommentAuthor>,
    published_date: Option<String>,
    last_updated_date: Option<String>,
    comment_type: Option<String>,
    #[serde(default)]
    is_deleted: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommentAuthor {
    unique_name: Option<String>,
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

impl PullRequest {
    /// `completed` is merged, `abandoned` closed unmerged; `active` (and anything newer) open.
    fn pr_state(&self) -> PrState {
        match self.status.as_str() {
            "completed" => PrState::Merged,
            "abandoned" => PrState::Closed,
            _ => PrState::Open,
        }
    }
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
                identity_url: None,
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
    fn the_description_limit_counts_utf16_code_units() {
        assert!(check_description(&"x".repeat(AZURE_DESCRIPTION_LIMIT)).is_ok());
        // 2,000 emoji are 2,000 characters but 4,000 UTF-16 units: exactly at the limit.
        assert!(check_description(&"🦀".repeat(2_000)).is_ok());
        // One more unit is refused, though character counting would have let it through.
        let over = format!("a{}", "🦀".repeat(2_000));
        assert!(over.chars().count() < AZURE_DESCRIPTION_LIMIT);
        let err = check_description(&over).unwrap_err();
        assert!(err.to_string().contains("4001 UTF-16"), "{err}");
    }

    #[test]
    fn error_bodies_are_told_apart_by_their_tf_code() {
        let exists = ForgeError::Conflict(
            r#"POST u: 409 Conflict: {"message":"TF401179: An active pull request for the source and target branch already exists.","typeKey":"GitPullRequestExistsException"}"#.into(),
        );
        assert_eq!(tf_code(&exists), Some("TF401179"));
        assert!(matches!(classify_create(exists), ForgeError::Conflict(_)));
        let other = ForgeError::Conflict(
            r#"POST u: 409 Conflict: {"message":"TF401028: The reference has already been updated by another client"}"#.into(),
        );
        match classify_create(other) {
            ForgeError::Other(text) => assert!(text.contains("TF401028"), "{text}"),
            e => panic!("{e:?}"),
        }
        let project = ForgeError::Conflict(
            "POST https://h/TFS%20Mirror/x: 409 Conflict: {\"message\":\"TF401179: exists\"}"
                .into(),
        );
        assert_eq!(
            tf_code(&project),
            Some("TF401179"),
            "a TF in the URL is skipped"
        );
        let plain = ForgeError::Other("POST u: 400 Bad Request: {\"message\":\"nope\"}".into());
        assert_eq!(tf_code(&plain), None);
        assert!(matches!(classify_create(plain), ForgeError::Other(_)));
    }

    #[test]
    fn identities_live_on_vssps_for_services_and_on_the_collection_for_servers() {
        assert_eq!(
            identity_base("https://dev.azure.com/"),
            "https://vssps.dev.azure.com"
        );
        assert_eq!(
            identity_base("https://tfs.example.com/tfs/DefaultCollection"),
            "https://tfs.example.com/tfs/DefaultCollection"
        );
        assert_eq!(
            forge("https://dev.azure.com", "contoso")
                .identity_root
                .as_str(),
            "https://vssps.dev.azure.com/contoso"
        );
        assert!(is_guid("5d3c1c5e-2a4b-4c8e-9f00-0123456789ab"));
        assert!(!is_guid("alice@example.com"));
    }

    #[test]
    fn item_paths_are_rooted() {
        assert_eq!(item_path("pins/server.toml"), "/pins/server.toml");
        assert_eq!(item_path("/Dockerfile"), "/Dockerfile");
    }
}
