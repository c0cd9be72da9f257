//! The GitHub forge: REST v3 (plus two GraphQL mutations for draft state) against github.com,
//! GitHub Enterprise Server or a test server, chosen by `api_url`.
//!
//! Owns the GitHub request shapes and their mapping onto the [`Forge`] primitives. Writes go
//! through the Git Data API (blob, tree, commit, ref), so no local clone is needed. Retries,
//! rate limits and error mapping live in [`crate::http`].

mod automerge;
mod checks;

use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::json;

use super::automerge::{Armed, AutoMergeState, MergeOptions};
use super::{
    Access, BaseFile, BranchState, CommentsRead, CommitSummary, CommitWrite, Forge, ForgeError,
    ForgeResult, PrComment, PrInfo, PrRequest, PrSeen, PrState, found, send_or_confirm,
};
use crate::http::{Auth, HttpClient, HttpSettings, Pool, Request, build_url};
use crate::secret::Secret;

/// GitHub rejects pull request bodies (and comments) longer than this many characters.
pub const GITHUB_BODY_LIMIT: usize = 65_536;

/// At most this many pages of 100 comments are read in one go: a PR with more is not one
/// upkeep's reviewers discuss on; the newest changes come first through `since`.
const COMMENT_PAGES: u32 = 20;

/// Where the mirror lives on GitHub and how to talk to it.
#[derive(Debug, Clone)]
pub struct GithubSettings {
    /// `https://api.github.com`, a GHE `https://host/api/v3`, or a test server.
    pub api_url: String,
    pub owner: String,
    pub repo: String,
    pub token: Option<Secret>,
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_rate_limit_wait: Duration,
}

/// A [`Forge`] backed by the GitHub REST API.
#[derive(Debug)]
pub struct GithubForge {
    settings: GithubSettings,
    api: Url,
    graphql: Url,
    http: HttpClient,
}

impl GithubForge {
    /// A forge on the shared connection pool, with the retry policy of `settings`.
    pub fn with_pool(pool: &Pool, settings: GithubSettings) -> anyhow::Result<GithubForge> {
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
        settings: GithubSettings,
        http: HttpSettings,
    ) -> anyhow::Result<GithubForge> {
        Self::build(&Pool::new(http.connect_timeout)?, settings, http)
    }

    /// With full control of the HTTP policy, on `pool` (tests share one rate-limit budget).
    pub fn build(
        pool: &Pool,
        settings: GithubSettings,
        http: HttpSettings,
    ) -> anyhow::Result<GithubForge> {
        let api = Url::parse(settings.api_url.trim_end_matches('/')).map_err(|e| {
            anyhow::anyhow!(
                "invalid GitHub api_url {:?}: {e}",
                crate::secret::redact_url(&settings.api_url)
            )
        })?;
        let graphql = graphql_url(&api)?;
        let client = pool
            .client(http, settings.token.clone().map(Auth::Bearer))?
            .with_default_header(
                reqwest::header::ACCEPT,
                HeaderValue::from_static("application/vnd.github+json"),
            )
            .with_default_header(
                HeaderName::from_static("x-github-api-version"),
                HeaderValue::from_static("2022-11-28"),
            );
        Ok(Self {
            settings,
            api,
            graphql,
            http: client,
        })
    }

    /// The client, for callers that want to reuse its policy and metrics.
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    fn repo_url(&self, rest: &[&str], query: &[(&str, &str)]) -> ForgeResult<Url> {
        let mut segments = vec![
            "repos",
            self.settings.owner.as_str(),
            self.settings.repo.as_str(),
        ];
        segments.extend_from_slice(rest);
        build_url(&self.api, &segments, query)
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, url: Url) -> ForgeResult<T> {
        self.http.execute(&Request::get(url))?.json()
    }

    fn send<T: for<'de> Deserialize<'de>>(
        &self,
        method: Method,
        url: Url,
        body: &serde_json::Value,
    ) -> ForgeResult<T> {
        self.http
            .execute(&Request::new(method, url).json(body))?
            .json()
    }

    /// Creates a git object (blob, tree, commit). Safe to resend after a timeout: objects are
    /// addressed by content, so a second blob or tree is the same object, and a second commit is
    /// an unreferenced one nothing points at ("Git database" API: objects only become visible
    /// through a ref, which is written separately and confirmed).
    fn create_object(&self, kind: &str, body: &serde_json::Value) -> ForgeResult<Sha> {
        let url = self.repo_url(&["git", kind], &[])?;
        self.http
            .execute(&Request::new(Method::POST, url).json(body).resend_safe())?
            .json()
    }

    /// Creates the pull request. A 422 is classified by its documented body
    /// ([`pr_refusal`]): an open PR for the branch, no draft PRs here, or anything else verbatim.
    fn create_pull(&self, body: &serde_json::Value) -> ForgeResult<Pull> {
        let request = Request::new(Method::POST, self.repo_url(&["pulls"], &[])?).json(body);
        let response = self.http.execute_raw(&request)?;
        if response.status.as_u16() == 422 {
            return Err(pr_refusal(&response.body, |m| {
                self.http.scrub(&format!("POST {}: 422: {m}", response.url))
            }));
        }
        self.http.accept(&request, response)?.json()
    }

    /// The open PR whose head is `branch` (the list is newest first).
    fn open_pull(&self, branch: &str) -> ForgeResult<Option<Pull>> {
        let head = format!("{}:{branch}", self.settings.owner);
        let url = self.repo_url(&["pulls"], &[("head", head.as_str()), ("state", "open")])?;
        let pulls: Vec<Pull> = self.get(url)?;
        Ok(pulls.into_iter().find(|p| p.head.ref_name == branch))
    }

    /// The labels on issue (PR) `number`.
    fn labels_of(&self, number: &str) -> ForgeResult<Vec<String>> {
        let url = self.repo_url(&["issues", number, "labels"], &[("per_page", "100")])?;
        let labels: Vec<Label> = self.get(url)?;
        Ok(labels.into_iter().map(|l| l.name).collect())
    }

    /// The commit a branch points at, or None when the branch does not exist.
    fn branch_head(&self, branch: &str) -> ForgeResult<Option<String>> {
        let mut rest = vec!["git", "ref", "heads"];
        rest.extend(branch.split('/'));
        match self.get::<GitRef>(self.repo_url(&rest, &[])?) {
            Ok(r) => Ok(Some(r.object.sha)),
            Err(ForgeError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn pull(&self, number: &str) -> ForgeResult<Pull> {
        self.get(self.repo_url(&["pulls", number], &[])?)
    }

    fn pr_info(&self, pull: Pull) -> PrInfo {
        let state = pull.pr_state();
        let closed_by = match state {
            PrState::Open => None,
            PrState::Merged => pull.merged_by.as_ref().map(|u| u.login.clone()),
            // The pulls API does not say who closed; the issue does, for one more request.
            PrState::Closed => self
                .repo_url(&["issues", &pull.number.to_string()], &[])
                .and_then(|url| self.get::<Issue>(url))
                .ok()
                .and_then(|issue| issue.closed_by.map(|u| u.login)),
        };
        PrInfo {
            id: pull.number.to_string(),
            url: pull.html_url,
            state,
            title: pull.title,
            body: pull.body.unwrap_or_default(),
            draft: pull.draft,
            labels: pull.labels.into_iter().map(|l| l.name).collect(),
            head_branch: pull.head.ref_name,
            closed_by,
            closed_at: pull.merged_at.or(pull.closed_at),
            warnings: Vec::new(),
        }
    }

    fn add_labels(&self, number: &str, labels: &[String]) -> ForgeResult<Vec<String>> {
        let url = self.repo_url(&["issues", number, "labels"], &[])?;
        send_or_confirm(
            "add labels",
            || {
                let added: Vec<Label> =
                    self.send(Method::POST, url.clone(), &json!({ "labels": labels }))?;
                Ok(added.into_iter().map(|l| l.name).collect())
            },
            || {
                let now = self.labels_of(number)?;
                Ok(labels.iter().all(|l| now.contains(l)).then_some(now))
            },
        )
    }

    fn remove_label(&self, number: &str, label: &str) -> ForgeResult<()> {
        let url = self.repo_url(&["issues", number, "labels", label], &[])?;
        send_or_confirm(
            "remove a label",
            || match self
                .http
                .execute(&Request::new(Method::DELETE, url.clone()))
            {
                // Already gone is what we wanted.
                Ok(_) | Err(ForgeError::NotFound(_)) => Ok(()),
                Err(e) => Err(e),
            },
            || Ok((!self.labels_of(number)?.iter().any(|l| l == label)).then_some(())),
        )
    }

    fn request_reviewers(&self, number: &str, reviewers: &[String]) {
        if reviewers.is_empty() {
            return;
        }
        let result = self
            .repo_url(&["pulls", number, "requested_reviewers"], &[])
            .and_then(|url| {
                self.send::<serde_json::Value>(
                    Method::POST,
                    url,
                    &json!({ "reviewers": reviewers }),
                )
            });
        if let Err(error) = result {
            // A reviewer who is not a collaborator must not block the rebuild PR.
            tracing::warn!(pr = number, error = %error, "could not request reviewers");
        }
    }

    /// Converts PR `number` to a draft or marks it ready, confirming by a re-read when the
    /// answer was lost.
    fn set_draft(&self, number: &str, node_id: &str, draft: bool) -> ForgeResult<()> {
        send_or_confirm(
            if draft {
                "convert the PR to a draft"
            } else {
                "mark the PR ready"
            },
            || self.send_draft_mutation(node_id, draft),
            || Ok((self.pull(number)?.draft == draft).then_some(())),
        )
    }

    fn send_draft_mutation(&self, node_id: &str, draft: bool) -> ForgeResult<()> {
        let mutation = if draft {
            "mutation($id: ID!) { convertPullRequestToDraft(input: {pullRequestId: $id}) { pullRequest { isDraft } } }"
        } else {
            "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } } }"
        };
        match self.graphql(mutation, &json!({ "id": node_id }))? {
            None => Ok(()),
            Some(e) if drafts_unavailable(&e.said) => Err(ForgeError::Unsupported(e.message)),
            Some(e) => Err(e.into_error()),
        }
    }

    /// One GraphQL request. GitHub answers a refused operation with `200` and an `errors`
    /// list ("Forming calls with GraphQL"), returned here for the caller to classify.
    fn graphql(
        &self,
        query: &str,
        variables: &serde_json::Value,
    ) -> ForgeResult<Option<GraphqlErrors>> {
        let body = json!({ "query": query, "variables": variables });
        let response: GraphqlResponse = self.send(Method::POST, self.graphql.clone(), &body)?;
        let errors = response.errors.unwrap_or_default();
        if errors.is_empty() {
            return Ok(None);
        }
        let said = errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        Ok(Some(GraphqlErrors {
            message: self
                .http
                .scrub(&format!("POST {}: GraphQL: {said}", self.graphql)),
            said,
            kinds: errors.into_iter().filter_map(|e| e.kind).collect(),
        }))
    }
}

/// The `errors` of a GraphQL answer: what GitHub said, the same scrubbed and placed for a
/// report, and the error `type`s.
struct GraphqlErrors {
    said: String,
    message: String,
    kinds: Vec<String>,
}

impl GraphqlErrors {
    fn into_error(self) -> ForgeError {
        if self.kinds.iter().any(|k| k == "FORBIDDEN") {
            ForgeError::Unauthorized(self.message)
        } else if self.kinds.iter().any(|k| k == "NOT_FOUND") {
            ForgeError::NotFound(self.message)
        } else {
            ForgeError::Other(self.message)
        }
    }
}

impl GithubForge {
    /// Points `branch` at `commit`: creates the ref when `current` is None, else moves it
    /// (forced: the new commit sits on base, not on the old head; safe because the caller
    /// checked the head). A lost answer is confirmed by reading the ref back.
    fn move_ref(&self, branch: &str, current: Option<&str>, commit: &str) -> ForgeResult<()> {
        let mut rest = vec!["git", "refs", "heads"];
        rest.extend(branch.split('/'));
        let ref_url = self.repo_url(&rest, &[])?;
        let create_url = self.repo_url(&["git", "refs"], &[])?;
        send_or_confirm(
            "write the branch",
            || {
                let _: serde_json::Value = match current {
                    None => self.send(
                        Method::POST,
                        create_url.clone(),
                        &json!({ "ref": format!("refs/heads/{branch}"), "sha": commit }),
                    )?,
                    Some(_) => self.send(
                        Method::PATCH,
                        ref_url.clone(),
                        &json!({ "sha": commit, "force": true }),
                    )?,
                };
                Ok(())
            },
            || match self.branch_head(branch)? {
                Some(head) if head == commit => Ok(Some(())),
                head if head.as_deref() == current => Ok(None),
                head => Err(ForgeError::Conflict(format!(
                    "branch {branch} moved to {} while upkeep wrote it",
                    head.as_deref().unwrap_or("(deleted)")
                ))),
            },
        )
    }
}

/// What a 422 answer to "Create a pull request" means, read from its documented body
/// ("Create a pull request": 422 Validation failed; "Troubleshooting the REST API"): `message`
/// and `errors[].message`. "A pull request already exists for owner:branch." means one is open
/// (adopt it: a [`ForgeError::Conflict`]); "Draft pull requests are not supported in this
/// repository." means the plan has no drafts ([`ForgeError::Unsupported`]); anything else is
/// reported as GitHub said it. `shown` adds the request to a message.
pub fn pr_refusal(body: &[u8], shown: impl Fn(&str) -> String) -> ForgeError {
    #[derive(Deserialize, Default)]
    struct Refusal {
        message: Option<String>,
        #[serde(default)]
        errors: Vec<Detail>,
    }
    #[derive(Deserialize)]
    struct Detail {
        message: Option<String>,
        code: Option<String>,
        field: Option<String>,
    }
    let refusal: Refusal = serde_json::from_slice(body).unwrap_or_default();
    let mut parts: Vec<String> = refusal.message.into_iter().collect();
    for e in refusal.errors {
        parts.push(match (e.message, e.code, e.field) {
            (Some(m), _, _) => m,
            (None, Some(code), Some(field)) => format!("{field}: {code}"),
            (None, Some(code), None) => code,
            (None, None, _) => continue,
        });
    }
    let text = if parts.is_empty() {
        crate::http::truncate_body(body)
    } else {
        parts.join(": ")
    };
    let lower = text.to_ascii_lowercase();
    if lower.contains("a pull request already exists") {
        ForgeError::Conflict(shown(&text))
    } else if drafts_unavailable(&text) {
        ForgeError::Unsupported(shown(&text))
    } else {
        ForgeError::Other(shown(&format!("GitHub refused the pull request: {text}")))
    }
}

/// Whether GitHub's text says draft PRs are not available here (REST: "Draft pull requests are
/// not supported in this repository."; read loosely, since the GraphQL wording may differ).
fn drafts_unavailable(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("draft")
        && ["not supported", "not available", "not enabled"]
            .iter()
            .any(|w| lower.contains(w))
}

/// GraphQL lives at `/graphql` on github.com and at `/api/graphql` beside GHE's `/api/v3`.
fn graphql_url(api: &Url) -> anyhow::Result<Url> {
    let text = api.as_str().trim_end_matches('/');
    let graphql = match text.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{text}/graphql"),
    };
    Url::parse(&graphql).map_err(|e| anyhow::anyhow!("deriving the GraphQL URL from {api}: {e}"))
}

fn check_body(kind: &str, body: &str) -> ForgeResult<()> {
    let chars = body.chars().count();
    if chars > GITHUB_BODY_LIMIT {
        return Err(ForgeError::Other(format!(
            "{kind} is {chars} characters; GitHub accepts at most {GITHUB_BODY_LIMIT}: shorten it before sending"
        )));
    }
    Ok(())
}

impl Forge for GithubForge {
    fn kind(&self) -> &'static str {
        "github"
    }

    fn body_limit(&self) -> usize {
        GITHUB_BODY_LIMIT
    }

    fn location(&self) -> String {
        format!(
            "{}/{}/{}",
            self.api.as_str().trim_end_matches('/'),
            self.settings.owner,
            self.settings.repo
        )
    }

    fn read_base_file(&self, base: &str, path: &str) -> ForgeResult<BaseFile> {
        let commit = self
            .branch_head(base)?
            .ok_or_else(|| ForgeError::NotFound(format!("branch {base} in {}", self.location())))?;
        let mut rest = vec!["contents"];
        rest.extend(path.split('/').filter(|s| !s.is_empty()));
        // Read at the commit, not the branch name, so content and base_commit agree.
        let contents: Contents = self.get(self.repo_url(&rest, &[("ref", commit.as_str())])?)?;
        if contents.kind != "file" {
            return Err(ForgeError::Other(format!(
                "{path} at {base} is a {}, not a file",
                contents.kind
            )));
        }
        let encoded =
            if contents.encoding.as_deref() == Some("base64") && contents.content.is_some() {
                contents.content.unwrap_or_default()
            } else {
                // Files over 1 MB come back without content; the blob API has it.
                let blob: Blob = self.get(self.repo_url(&["git", "blobs", &contents.sha], &[])?)?;
                blob.content
            };
        let content = decode_base64(&encoded).map_err(|e| {
            ForgeError::Other(format!("{path} at {base}: bad base64 from GitHub: {e}"))
        })?;
        Ok(BaseFile {
            base_commit: commit,
            content,
        })
    }

    /// The head from the ref, its parents and author from the git database's commit object
    /// ("Get a commit object", REST API, git database).
    fn branch_state(&self, branch: &str) -> ForgeResult<Option<BranchState>> {
        let Some(head) = self.branch_head(branch)? else {
            return Ok(None);
        };
        let commit: GitCommit = self.get(self.repo_url(&["git", "commits", &head], &[])?)?;
        Ok(Some(BranchState {
            parents: commit.parents.into_iter().map(|p| p.sha).collect(),
            author_email: commit.author.map(|a| a.email),
            head,
        }))
    }

    /// "Compare two commits" with `basehead` = `{base}...{branch}`: the commits reachable from
    /// the branch and not from base, oldest first (at most 250 in one answer).
    fn commits_beside(
        &self,
        branch: &str,
        base: &str,
        limit: usize,
    ) -> ForgeResult<Vec<CommitSummary>> {
        let basehead = format!("{base}...{branch}");
        let mut rest = vec!["compare"];
        rest.extend(basehead.split('/'));
        let compare: Compare = self.get(self.repo_url(&rest, &[])?)?;
        Ok(compare
            .commits
            .into_iter()
            .rev()
            .take(limit)
            .map(|c| CommitSummary {
                id: c.sha,
                author: c
                    .commit
                    .author
                    .and_then(|a| a.name)
                    .unwrap_or_else(|| "(unknown)".into()),
                subject: c.commit.message.lines().next().unwrap_or_default().into(),
            })
            .collect())
    }

    fn write_branch(&self, write: &CommitWrite) -> ForgeResult<String> {
        let current = self.branch_head(&write.branch)?;
        match (&current, &write.expected_head) {
            (None, None) => {}
            (Some(head), Some(expected)) if head == expected => {}
            (current, expected) => {
                return Err(ForgeError::Conflict(format!(
                    "branch {} is at {} but {} was expected",
                    write.branch,
                    current.as_deref().unwrap_or("(missing)"),
                    expected.as_deref().unwrap_or("(missing)")
                )));
            }
        }
        let blob = self.create_object(
            "blobs",
            &json!({ "content": encode_base64(&write.content), "encoding": "base64" }),
        )?;
        let base: GitCommit =
            self.get(self.repo_url(&["git", "commits", &write.base_commit], &[])?)?;
        let tree = self.create_object(
            "trees",
            &json!({
                "base_tree": base.tree.sha,
                "tree": [{ "path": write.path, "mode": "100644", "type": "blob", "sha": blob.sha }],
            }),
        )?;
        let commit = self.create_object(
            "commits",
            &json!({
                "message": write.message,
                "tree": tree.sha,
                "parents": [write.base_commit],
                "author": { "name": write.author.name, "email": write.author.email },
            }),
        )?;
        self.move_ref(&write.branch, current.as_deref(), &commit.sha)?;
        Ok(commit.sha)
    }

    fn find_pr(&self, branch: &str, known_id: Option<&str>) -> ForgeResult<Option<PrInfo>> {
        if let Some(id) = known_id {
            return Ok(found(self.pull(id))?.map(|pull| self.pr_info(pull)));
        }
        Ok(self.open_pull(branch)?.map(|p| self.pr_info(p)))
    }

    /// "Get a pull request" (`GET /repos/{o}/{r}/pulls/{n}`), conditionally: an unchanged PR
    /// is a `304` ("Best practices for using the REST API", use conditional requests: a `304`
    /// to an authorized request does not count against the primary rate limit).
    fn pr_state(
        &self,
        id: &str,
        cache: &dyn crate::http::ConditionalCache,
    ) -> ForgeResult<Option<PrSeen>> {
        let url = self.repo_url(&["pulls", id], &[])?;
        // Only the fields the state needs are kept: a PR's body alone may be 64 KB.
        Ok(
            found(self.http.get_cached_value::<PullState>(url, cache))?.map(|pull| PrSeen {
                state: pull.pr_state(),
                closed_at: pull.merged_at.or(pull.closed_at),
            }),
        )
    }

    /// A create whose answer was lost is confirmed by listing the open PRs of the branch; one
    /// there is ours (GitHub allows one open PR per head and base), so it is not created again.
    fn open_pr(&self, request: &PrRequest) -> ForgeResult<PrInfo> {
        check_body("the PR body", &request.body)?;
        let body = json!({
            "title": request.title,
            "head": request.branch,
            "base": request.base,
            "body": request.body,
            "draft": request.draft,
        });
        let pull = send_or_confirm(
            "open the PR",
            || self.create_pull(&body),
            || self.open_pull(&request.branch),
        )?;
        let number = pull.number.to_string();
        let labels = if request.labels.is_empty() {
            Vec::new()
        } else {
            self.add_labels(&number, &request.labels)?
        };
        self.request_reviewers(&number, &request.reviewers);
        let mut info = self.pr_info(pull);
        info.labels = labels;
        Ok(info)
    }

    /// Sets title and body, the draft flag, and the label set to exactly `request.labels`.
    /// Reviewers are only requested when the PR is opened, so updates do not re-ping them.
    fn update_pr(&self, id: &str, request: &PrRequest) -> ForgeResult<PrInfo> {
        check_body("the PR body", &request.body)?;
        let url = self.repo_url(&["pulls", id], &[])?;
        let pull: Pull = send_or_confirm(
            "update the PR",
            || {
                self.send(
                    Method::PATCH,
                    url.clone(),
                    &json!({ "title": request.title, "body": request.body }),
                )
            },
            || {
                let pull = self.pull(id)?;
                let same = pull.title == request.title
                    && pull.body.as_deref().unwrap_or_default() == request.body;
                Ok(same.then_some(pull))
            },
        )?;
        let mut labels: Vec<String> = pull.labels.iter().map(|l| l.name.clone()).collect();
        let draft_now = pull.draft;
        if draft_now != request.draft {
            self.set_draft(id, &pull.node_id, request.draft)?;
        }
        let missing: Vec<String> = request
            .labels
            .iter()
            .filter(|l| !labels.contains(l))
            .cloned()
            .collect();
        if !missing.is_empty() {
            labels = self.add_labels(id, &missing)?;
        }
        for label in labels.iter().filter(|l| !request.labels.contains(l)) {
            self.remove_label(id, label)?;
        }
        labels.retain(|l| request.labels.contains(l));
        let mut info = self.pr_info(pull);
        info.draft = request.draft;
        info.labels = labels;
        Ok(info)
    }

    /// A comment whose answer was lost is looked for among the PR's comments made since just
    /// before it was sent ("List issue comments", `since`), by its exact body.
    fn comment_pr(&self, id: &str, body: &str) -> ForgeResult<()> {
        check_body("the comment", body)?;
        // A few minutes before now, in case the forge's clock is behind ours.
        let since = (chrono::Utc::now() - chrono::Duration::minutes(10))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let url = self.repo_url(&["issues", id, "comments"], &[])?;
        send_or_confirm(
            "comment on the PR",
            || {
                let _: serde_json::Value =
                    self.send(Method::POST, url.clone(), &json!({ "body": body }))?;
                Ok(())
            },
            || {
                let list = self.repo_url(
                    &["issues", id, "comments"],
                    &[("since", since.as_str()), ("per_page", "100")],
                )?;
                let comments: Vec<Comment> = self.get(list)?;
                Ok(comments
                    .iter()
                    .any(|c| c.body.as_deref() == Some(body))
                    .then_some(()))
            },
        )
    }

    /// "List issue comments" of the PR (a PR is an issue), oldest first. The cursor is the
    /// newest `updated_at` seen and the ETag of that query: the next read asks `since` it (only
    /// comments created or edited at or after it) with `If-None-Match`, so an unchanged list
    /// costs one `304` (GitHub documents conditional requests under "Best practices for using
    /// the REST API", and a 304 does not count against the rate limit).
    fn pr_comments(&self, id: &str, cursor: Option<&str>) -> ForgeResult<CommentsRead> {
        let (since, etag) =
            cursor
                .and_then(|c| c.split_once('\n'))
                .map_or((None, None), |(s, e)| {
                    (
                        Some(s).filter(|s| !s.is_empty()),
                        Some(e).filter(|e| !e.is_empty()),
                    )
                });
        let mut comments = Vec::new();
        let mut first_etag = None;
        for page in 1..=COMMENT_PAGES {
            let page_text = page.to_string();
            let mut query = vec![("per_page", "100"), ("page", page_text.as_str())];
            if let Some(s) = since {
                query.push(("since", s));
            }
            let mut request = Request::get(self.repo_url(&["issues", id, "comments"], &query)?);
            if page == 1
                && let Some(e) = etag.and_then(|e| HeaderValue::from_str(e).ok())
            {
                request = request.header(reqwest::header::IF_NONE_MATCH, e);
            }
            let response = self.http.execute(&request)?;
            if response.status == reqwest::StatusCode::NOT_MODIFIED {
                return Ok(CommentsRead::Unchanged);
            }
            if page == 1 {
                first_etag = response.header_str("etag").map(str::to_string);
            }
            let batch: Vec<Comment> = response.json()?;
            let full = batch.len() == 100;
            comments.extend(batch.into_iter().map(Comment::into_pr_comment));
            if !full {
                break;
            }
        }
        let newest = comments
            .iter()
            .map(|c| c.updated_at.as_str())
            .max()
            .or(since)
            .unwrap_or_default()
            .to_string();
        // The ETag belongs to the query it answered: kept only while `since` stays the same.
        let etag = first_etag.filter(|_| since == Some(newest.as_str()) || comments.is_empty());
        Ok(CommentsRead::Read {
            comments,
            cursor: Some(format!("{newest}\n{}", etag.unwrap_or_default())),
        })
    }

    fn close_pr(&self, id: &str) -> ForgeResult<()> {
        let url = self.repo_url(&["pulls", id], &[])?;
        send_or_confirm(
            "close the PR",
            || {
                let _: serde_json::Value =
                    self.send(Method::PATCH, url.clone(), &json!({ "state": "closed" }))?;
                Ok(())
            },
            || Ok((self.pull(id)?.state == "closed").then_some(())),
        )
    }

    /// The check runs and commit statuses of `head`, conditional through `cache`
    /// (`github/checks.rs`).
    fn pr_checks(
        &self,
        _id: &str,
        url: &str,
        head: &str,
        cache: &dyn crate::http::ConditionalCache,
    ) -> ForgeResult<super::checks::PrChecks> {
        self.read_checks(url, head, cache)
    }

    /// GitHub's `auto_merge` of the PR (`github/automerge.rs`).
    fn auto_merge(&self, id: &str) -> ForgeResult<AutoMergeState> {
        Ok(automerge::state_of(&self.pull(id)?))
    }

    fn arm_auto_merge(&self, id: &str, head: &str, o: &MergeOptions) -> ForgeResult<Armed> {
        self.enable_auto_merge(id, head, o)
    }

    fn disarm_auto_merge(&self, id: &str) -> ForgeResult<()> {
        self.disable_auto_merge(id)
    }

    /// GitHub reports `permissions` on the repository only for some tokens: a GitHub App
    /// installation token gets none ("Get a repository" lists it as optional). Absent, or without
    /// `push`, it says nothing either way: "could not tell", never a failure.
    fn check_access(&self, base: &str) -> ForgeResult<Access> {
        let repo: Repository = self.get(self.repo_url(&[], &[])?)?;
        if self.branch_head(base)?.is_none() {
            return Err(ForgeError::NotFound(format!(
                "base branch {base} in {}",
                self.location()
            )));
        }
        match repo.permissions.and_then(|p| p.push) {
            Some(true) => Ok(Access::Writable),
            Some(false) => Err(ForgeError::Unauthorized(format!(
                "the token cannot push to {}/{} (permissions.push is false); it needs write access \
                 (contents and pull requests: write)",
                self.settings.owner, self.settings.repo
            ))),
            None => Ok(Access::Unknown(
                "GitHub did not report the token's permissions on the repository (GitHub App \
                 installation tokens get none), so whether it can push could not be told; the \
                 first run will"
                    .into(),
            )),
        }
    }
}

fn encode_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// GitHub wraps base64 at 60 columns; the newlines are not part of the data.
fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine as _;
    let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean)
}

#[derive(Deserialize)]
struct GitRef {
    object: Sha,
}

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

#[derive(Deserialize)]
struct GitCommit {
    tree: Sha,
    author: Option<GitPerson>,
    #[serde(default)]
    parents: Vec<Sha>,
}

#[derive(Deserialize)]
struct Contents {
    #[serde(rename = "type")]
    kind: String,
    sha: String,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

#[derive(Deserialize)]
struct Blob {
    content: String,
}

#[derive(Deserialize)]
struct Compare {
    #[serde(default)]
    commits: Vec<CompareCommit>,
}

#[derive(Deserialize)]
struct CompareCommit {
    sha: String,
    commit: CommitDetail,
}

#[derive(Deserialize)]
struct CommitDetail {
    author: Option<GitPerson>,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct GitPerson {
    name: Option<String>,
    email: String,
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct PullHead {
    #[serde(rename = "ref")]
    ref_name: String,
    #[serde(default)]
    sha: String,
}

#[derive(Deserialize)]
struct Pull {
    number: u64,
    #[serde(default)]
    node_id: String,
    html_url: String,
    state: String,
    title: String,
    body: Option<String>,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    labels: Vec<Label>,
    head: PullHead,
    merged_at: Option<String>,
    closed_at: Option<String>,
    merged_by: Option<User>,
    /// Set while auto-merge is armed ("Get a pull request": `auto_merge`, null when off).
    #[serde(default)]
    auto_merge: Option<AutoMergeField>,
}

impl Pull {
    fn pr_state(&self) -> PrState {
        state_of(&self.state, self.merged_at.as_deref())
    }
}

/// Merged when GitHub says when (`merged_at`); else closed or open as `state` says.
fn state_of(state: &str, merged_at: Option<&str>) -> PrState {
    if merged_at.is_some() {
        PrState::Merged
    } else if state == "closed" {
        PrState::Closed
    } else {
        PrState::Open
    }
}

/// What the quiet path reads of "Get a pull request", and what the state's HTTP cache keeps of
/// it ([`HttpClient::get_cached_value`]).
#[derive(Deserialize, serde::Serialize)]
struct PullState {
    state: String,
    merged_at: Option<String>,
    closed_at: Option<String>,
}

impl PullState {
    fn pr_state(&self) -> PrState {
        state_of(&self.state, self.merged_at.as_deref())
    }
}

#[derive(Deserialize)]
struct AutoMergeField {
    enabled_by: Option<User>,
}

/// An issue comment ("List issue comments"): `user.login` is who wrote it.
#[derive(Deserialize)]
struct Comment {
    #[serde(default)]
    id: u64,
    body: Option<String>,
    user: Option<User>,
    #[serde(default)]
    html_url: String,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    updated_at: String,
}

impl Comment {
    fn into_pr_comment(self) -> PrComment {
        PrComment {
            id: self.id.to_string(),
            author: self.user.map(|u| u.login).unwrap_or_default(),
            body: self.body.unwrap_or_default(),
            updated_at: if self.updated_at.is_empty() {
                self.created_at.clone()
            } else {
                self.updated_at
            },
            created_at: self.created_at,
            url: self.html_url,
        }
    }
}

#[derive(Deserialize)]
struct Issue {
    closed_by: Option<User>,
}

#[derive(Deserialize)]
struct Permissions {
    push: Option<bool>,
}

#[derive(Deserialize)]
struct Repository {
    permissions: Option<Permissions>,
}

#[derive(Deserialize)]
struct GraphqlResponse {
    errors: Option<Vec<GraphqlError>>,
}

#[derive(Deserialize)]
struct GraphqlError {
    message: String,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_url_for_dotcom_and_enterprise() {
        let dotcom = graphql_url(&Url::parse("https://api.github.com").unwrap()).unwrap();
        assert_eq!(dotcom.as_str(), "https://api.github.com/graphql");
        let ghe = graphql_url(&Url::parse("https://ghe.example.com/api/v3").unwrap()).unwrap();
        assert_eq!(ghe.as_str(), "https://ghe.example.com/api/graphql");
    }

    #[test]
    fn body_limit_counts_characters_not_bytes() {
        assert!(check_body("body", &"é".repeat(GITHUB_BODY_LIMIT)).is_ok());
        let err = check_body("body", &"a".repeat(GITHUB_BODY_LIMIT + 1)).unwrap_err();
        assert!(err.to_string().contains("65536"), "{err}");
    }

    /// The documented 422 bodies of "Create a pull request", and what each becomes.
    #[test]
    fn pr_refusals_are_classified_by_their_documented_bodies() {
        let kind = |body: &str| match pr_refusal(body.as_bytes(), str::to_string) {
            ForgeError::Conflict(m) => ("conflict", m),
            ForgeError::Unsupported(m) => ("unsupported", m),
            ForgeError::Other(m) => ("other", m),
            e => ("unexpected", e.to_string()),
        };
        let exists = r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:upkeep/weather."}],"documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request","status":"422"}"#;
        assert_eq!(
            kind(exists),
            (
                "conflict",
                "Validation Failed: A pull request already exists for acme:upkeep/weather.".into()
            )
        );
        let drafts = r#"{"message":"Draft pull requests are not supported in this repository.","documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}"#;
        assert_eq!(kind(drafts).0, "unsupported");
        let no_commits = r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","field":"base","code":"custom","message":"No commits between main and upkeep/weather"}]}"#;
        assert_eq!(
            kind(no_commits),
            (
                "other",
                "GitHub refused the pull request: Validation Failed: No commits between main and upkeep/weather".into()
            )
        );
        let coded = r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","field":"head","code":"invalid"}]}"#;
        assert_eq!(
            kind(coded).1,
            "GitHub refused the pull request: Validation Failed: head: invalid"
        );
        assert_eq!(
            kind("not json").1,
            "GitHub refused the pull request: not json"
        );
    }

    #[test]
    fn base64_with_line_breaks_decodes() {
        assert_eq!(decode_base64("aGVs\nbG8=\n").unwrap(), b"hello");
    }
}
