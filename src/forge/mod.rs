//! Forges: where the internal mirror repository lives and where rebuild PRs are opened.
//!
//! One trait, one file per forge (`local`, `github`, `azure`). The trait offers primitives only;
//! the idempotency ladder (same version open / older open / declined / merged) is decided in
//! `pipeline`, from the state store's records plus what these primitives report. Forges call
//! HTTP through [`crate::http`] and never import `store`, `notify` or `upstream`.

pub mod automerge;
pub mod azure;
pub mod checks;
pub mod github;
pub mod local;
pub mod pin;

use std::fmt;

/// What a forge operation failed on, for the callers that branch on it: the kinds of the
/// shared HTTP layer (the local git forge maps its errors onto the same kinds).
pub use crate::http::Error as ForgeError;

pub type ForgeResult<T> = Result<T, ForgeError>;

/// The pin file as it is on the base branch.
#[derive(Debug, Clone)]
pub struct BaseFile {
    /// Commit id of the base branch head the content was read at.
    pub base_commit: String,
    pub content: Vec<u8>,
}

/// The head of the bot branch `upkeep/<server>` on the forge.
///
/// Whose branch it is is decided from what upkeep recorded writing (`pipeline::plan::owner`),
/// not from the commits on it: the head commit's parents and author only let a write that
/// completed just before a crash be recognised as upkeep's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchState {
    pub head: String,
    /// The head commit's parents.
    pub parents: Vec<String>,
    /// The head commit's author email, when the forge says.
    pub author_email: Option<String>,
}

/// One commit on a branch, as the note on a PR a person pushed to lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSummary {
    pub id: String,
    pub author: String,
    /// The first line of the message.
    pub subject: String,
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

/// One commit on top of `base_commit` that replaces `path` with `content`.
#[derive(Debug, Clone)]
pub struct CommitWrite {
    pub branch: String,
    pub base_commit: String,
    pub path: String,
    pub content: Vec<u8>,
    pub message: String,
    pub author: Identity,
    /// The branch head we expect to replace (None: the branch must not exist yet).
    /// A forge must refuse (Conflict) when the branch head differs.
    pub expected_head: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrState {
    Open,
    Closed,
    Merged,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PrInfo {
    /// Forge id (GitHub number, Azure DevOps pullRequestId, local: the branch name).
    pub id: String,
    pub url: String,
    pub state: PrState,
    pub title: String,
    pub body: String,
    pub draft: bool,
    pub labels: Vec<String>,
    pub head_branch: String,
    /// Who closed or merged it, when the forge says.
    pub closed_by: Option<String>,
    pub closed_at: Option<String>,
    /// What the forge did not do although the PR exists (a reviewer it could not resolve, a
    /// label it refused): reported as warnings, never dropped, never a reason to push again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What one cheap read of a PR shows of its state ([`Forge::pr_state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrSeen {
    pub state: PrState,
    /// When it was merged or closed (RFC 3339), when the forge says: GitHub `merged_at` (else
    /// `closed_at`), Azure DevOps `closedDate`. The same as [`PrInfo::closed_at`].
    pub closed_at: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PrRequest {
    pub branch: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    /// Forge user names (already mapped from owner emails by the config).
    pub reviewers: Vec<String>,
    pub draft: bool,
}

/// A forge that hosts one mirror repository.
///
/// Implementations are synchronous: the pipeline runs each server on a blocking thread.
/// Every HTTP implementation retries reads after 5xx/network errors with backoff, waits out rate
/// limits as documented, confirms a write whose answer was lost before sending it again
/// ([`send_or_confirm`]), and never logs its token. `open_pr` and `update_pr` with `draft` set
/// fail with [`ForgeError::Unsupported`] where the repository has no draft PRs.
pub trait Forge: Send + Sync {
    /// Short name for logs and reports: "local", "github", "azure-devops".
    fn kind(&self) -> &'static str;
    /// The longest PR body the forge accepts; bodies are rendered within this many UTF-16 code
    /// units (Azure DevOps counts those; within them is within as many characters too).
    fn body_limit(&self) -> usize;
    /// Human-readable location of the mirror (no secrets).
    fn location(&self) -> String;
    /// Read `path` at the head of `base`.
    fn read_base_file(&self, base: &str, path: &str) -> ForgeResult<BaseFile>;
    /// The bot branch's head, or None when the branch does not exist.
    fn branch_state(&self, branch: &str) -> ForgeResult<Option<BranchState>>;
    /// The commits on `branch` that `base` does not contain, newest first, at most `limit`:
    /// what the note on a PR a person pushed to lists. Never used to decide anything.
    fn commits_beside(
        &self,
        branch: &str,
        base: &str,
        limit: usize,
    ) -> ForgeResult<Vec<CommitSummary>>;
    /// Create or move `branch` to a new commit; returns the new head commit id.
    fn write_branch(&self, write: &CommitWrite) -> ForgeResult<String>;
    /// Find the PR for `branch`: by `known_id` when given, else the open PR whose head is `branch`.
    /// Returns the newest such PR in any state when `known_id` is given, else only an open one.
    fn find_pr(&self, branch: &str, known_id: Option<&str>) -> ForgeResult<Option<PrInfo>>;
    /// The state of PR `id` (open, merged or closed) with one read, the quiet path's question
    /// (is the rebuild PR still open?): conditional where the forge answers with an ETag,
    /// `cache` keeping validator and answer between runs (GitHub answers an unchanged PR with a
    /// `304`, which costs no rate limit). None when the forge has no such PR.
    fn pr_state(
        &self,
        id: &str,
        cache: &dyn crate::http::ConditionalCache,
    ) -> ForgeResult<Option<PrSeen>>;
    fn open_pr(&self, request: &PrRequest) -> ForgeResult<PrInfo>;
    fn update_pr(&self, id: &str, request: &PrRequest) -> ForgeResult<PrInfo>;
    fn comment_pr(&self, id: &str, body: &str) -> ForgeResult<()>;
    /// The comments of PR `id` (people's and upkeep's own), oldest first. With the `cursor` of
    /// an earlier read, only what may have changed since, or [`CommentsRead::Unchanged`] when
    /// the forge says nothing did (one conditional request where the forge has them); without,
    /// all of them.
    fn pr_comments(&self, id: &str, cursor: Option<&str>) -> ForgeResult<CommentsRead>;
    /// Close PR `id` without merging (a declined review). Closing a closed PR is not an error.
    fn close_pr(&self, id: &str) -> ForgeResult<()>;
    /// `check --online`: the mirror is reachable and the base branch exists; whether the
    /// credentials can write, when the forge tells. An error when they cannot.
    fn check_access(&self, base: &str) -> ForgeResult<Access>;
    /// The checks of head commit `head` of the PR `id` (web page `url`): GitHub check runs and
    /// commit statuses, Azure DevOps PR statuses and build policy evaluations. Reads are
    /// conditional where the forge documents them (GitHub), `cache` keeping validator and
    /// answer between calls and, when it is the state's, between processes. A forge without
    /// pipelines (the local mirror) reports no checks.
    fn pr_checks(
        &self,
        id: &str,
        url: &str,
        head: &str,
        cache: &dyn crate::http::ConditionalCache,
    ) -> ForgeResult<checks::PrChecks> {
        let _ = (id, url, cache);
        Ok(checks::PrChecks {
            head: head.to_string(),
            checks: Vec::new(),
            url: None,
        })
    }
    /// Whether the forge's own auto-merge is set on PR `id`. A forge without it (the local
    /// mirror) says off.
    fn auto_merge(&self, id: &str) -> ForgeResult<automerge::AutoMergeState> {
        let _ = id;
        Ok(automerge::AutoMergeState::Off)
    }
    /// Arm the forge's auto-merge on PR `id`, for head commit `head` only (a PR whose head is
    /// another commit is refused with [`ForgeError::Conflict`]). Arming an armed PR is not an
    /// error. A forge without auto-merge answers [`ForgeError::Unsupported`].
    fn arm_auto_merge(
        &self,
        id: &str,
        head: &str,
        options: &automerge::MergeOptions,
    ) -> ForgeResult<automerge::Armed> {
        let _ = (id, head, options);
        Err(ForgeError::Unsupported(format!(
            "the {} mirror has no auto-merge",
            self.kind()
        )))
    }
    /// Cancel the forge's auto-merge on PR `id`; confirmed off when it returns. Disarming a PR
    /// that is not armed is not an error.
    fn disarm_auto_merge(&self, id: &str) -> ForgeResult<()> {
        let _ = id;
        Ok(())
    }
}

/// One comment on a PR as the forge shows it. `author` is the forge's identity of who wrote it
/// (GitHub `user.login`, Azure DevOps `author.uniqueName`), never anything the text claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrComment {
    /// Unique within the PR (GitHub: the comment id; Azure DevOps: `<thread>-<comment>`).
    pub id: String,
    pub author: String,
    pub body: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: the last edit, or `created_at`.
    pub updated_at: String,
    /// Where a person sees it.
    pub url: String,
}

/// What a read of a PR's comments found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentsRead {
    /// Nothing changed since the cursor.
    Unchanged,
    /// The comments (all, or those that may have changed since the cursor) and the cursor
    /// to pass next time (None: the forge has no conditional reads).
    Read {
        comments: Vec<PrComment>,
        cursor: Option<String>,
    },
}

/// What `check --online` established about writing to the mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// The credentials can write.
    Writable,
    /// Reachable, but the forge does not say whether the credentials can write (why, for the
    /// operator). Not a failure: the first run tells.
    Unknown(String),
}

/// A read whose `404` means there is no such thing: None.
pub(crate) fn found<T>(read: ForgeResult<T>) -> ForgeResult<Option<T>> {
    match read {
        Ok(value) => Ok(Some(value)),
        Err(ForgeError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// How often a write whose outcome was unknown is sent again, each time only after a re-read
/// showed it had not happened.
const RESENDS: u32 = 2;

/// Send a write; when its outcome is unknown ([`ForgeError::MaybeApplied`]: a timeout, a dropped
/// connection or a 5xx after it was sent), look with `applied` whether it took effect, and send it
/// again only when it did not. A write is never resent blindly: a duplicate PR or comment is
/// worse than a failed run, which the next run repeats.
pub(crate) fn send_or_confirm<T>(
    what: &str,
    mut send: impl FnMut() -> ForgeResult<T>,
    mut applied: impl FnMut() -> ForgeResult<Option<T>>,
) -> ForgeResult<T> {
    let mut attempt = 0;
    loop {
        match send() {
            Err(ForgeError::MaybeApplied(message)) => {
                tracing::warn!(what, error = %message, "outcome unknown; re-reading before any resend");
                if let Some(done) = applied()? {
                    tracing::info!(what, "it had taken effect; not resent");
                    return Ok(done);
                }
                attempt += 1;
                if attempt > RESENDS {
                    return Err(ForgeError::MaybeApplied(format!(
                        "{what}: {message}; re-read after each of {attempt} attempts: not applied"
                    )));
                }
            }
            other => return other,
        }
    }
}

impl fmt::Debug for dyn Forge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.kind(), self.location())
    }
}
