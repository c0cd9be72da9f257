//! The local forge: a plain git repository on this machine (a path or a `file://` URL).
//!
//! Commits are written straight into the mirror's object database and the bot branch ref is
//! moved with a compare-and-swap, which is what a push to a local path amounts to; no working
//! tree is touched. A plain git repository has no pull requests, so the local forge keeps each
//! rebuild PR as a small JSON record in the mirror's git directory
//! (`<git-dir>/upkeep/prs/<branch>.json`): title, body, labels, draft state. A person "merges"
//! by merging the branch and deleting it, and "declines" by deleting the branch unmerged.

use std::path::{Path, PathBuf};

use git2::{ErrorCode, ObjectType, Oid, Repository, Signature};
use serde::{Deserialize, Serialize};

use super::{
    Access, BaseFile, BranchState, CommentsRead, CommitSummary, CommitWrite, Forge, ForgeError,
    ForgeResult, PrComment, PrInfo, PrRequest, PrSeen, PrState,
};

pub struct LocalForge {
    path: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PrFile {
    branch: String,
    base: String,
    title: String,
    body: String,
    labels: Vec<String>,
    reviewers: Vec<String>,
    draft: bool,
    comments: Vec<String>,
    /// Set once the PR was seen closed or merged: a later branch of the same name is a new PR.
    #[serde(default)]
    ended: Option<PrEnd>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum PrEnd {
    Closed,
    Merged,
}

fn git_err(context: &str, e: &git2::Error) -> ForgeError {
    if e.code() == ErrorCode::NotFound {
        ForgeError::NotFound(format!("{context}: {}", e.message()))
    } else {
        ForgeError::Other(format!("{context}: {}", e.message()))
    }
}

impl LocalForge {
    /// `repo` is a path or a `file://` URL of an existing git repository.
    pub fn new(repo: &str) -> anyhow::Result<LocalForge> {
        let path = PathBuf::from(repo.strip_prefix("file://").unwrap_or(repo));
        Repository::open(&path).map_err(|e| {
            anyhow::anyhow!(
                "mirror repository {} cannot be opened: {}",
                path.display(),
                e.message()
            )
        })?;
        Ok(LocalForge { path })
    }

    fn repo(&self) -> ForgeResult<Repository> {
        Repository::open(&self.path)
            .map_err(|e| git_err(&format!("opening mirror {}", self.path.display()), &e))
    }

    fn pr_path(&self, repo: &Repository, branch: &str) -> PathBuf {
        // Branch names are `upkeep/<server>` with a validated server name.
        repo.path()
            .join("upkeep")
            .join("prs")
            .join(format!("{}.json", branch.replace('/', "__")))
    }

    fn read_pr(&self, repo: &Repository, branch: &str) -> ForgeResult<Option<PrFile>> {
        let path = self.pr_path(repo, branch);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                ForgeError::Other(format!("PR record {} is corrupt: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ForgeError::Other(format!(
                "reading {}: {e}",
                path.display()
            ))),
        }
    }

    fn write_pr(&self, repo: &Repository, pr: &PrFile) -> ForgeResult<()> {
        let path = self.pr_path(repo, &pr.branch);
        write_atomic(
            &path,
            &serde_json::to_vec_pretty(pr).map_err(|e| ForgeError::Other(e.to_string()))?,
        )
        .map_err(|e| ForgeError::Other(format!("writing {}: {e}", path.display())))
    }

    fn info(&self, repo: &Repository, pr: &PrFile) -> PrInfo {
        let branch_head = repo
            .refname_to_id(&format!("refs/heads/{}", pr.branch))
            .ok();
        let state = match (pr.ended, branch_head) {
            (Some(PrEnd::Closed), _) => PrState::Closed,
            (Some(PrEnd::Merged), _) => PrState::Merged,
            (None, Some(_)) => PrState::Open,
            (None, None) => {
                // Merged when the last head we wrote is reachable from base, else declined.
                let last = self.last_head(repo, &pr.branch);
                let base = repo.refname_to_id(&format!("refs/heads/{}", pr.base)).ok();
                match (last, base) {
                    (Some(last), Some(base))
                        if base == last
                            || repo.graph_descendant_of(base, last).unwrap_or(false) =>
                    {
                        PrState::Merged
                    }
                    _ => PrState::Closed,
                }
            }
        };
        PrInfo {
            id: pr.branch.clone(),
            url: format!("{}#{}", self.path.display(), pr.branch),
            state,
            title: pr.title.clone(),
            body: pr.body.clone(),
            draft: pr.draft,
            labels: pr.labels.clone(),
            head_branch: pr.branch.clone(),
            closed_by: None,
            closed_at: None,
            warnings: Vec::new(),
        }
    }

    fn last_head(&self, repo: &Repository, branch: &str) -> Option<Oid> {
        let path = self.pr_path(repo, branch).with_extension("head");
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| Oid::from_str(s.trim()).ok())
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

/// Insert or replace `path` (slash-separated) in `tree`, creating intermediate trees.
fn replace_in_tree(
    repo: &Repository,
    tree: Option<&git2::Tree<'_>>,
    path: &[&str],
    blob: Oid,
) -> Result<Oid, git2::Error> {
    let mut builder = repo.treebuilder(tree)?;
    match path {
        [] => Err(git2::Error::from_str("empty path")),
        [name] => {
            let mode = tree
                .and_then(|t| t.get_name(name))
                .map(|e| e.filemode())
                .filter(|m| *m == 0o100_644 || *m == 0o100_755)
                .unwrap_or(0o100_644);
            builder.insert(name, blob, mode)?;
            builder.write()
        }
        [dir, rest @ ..] => {
            let sub = match tree.and_then(|t| t.get_name(dir)) {
                Some(e) if e.kind() == Some(ObjectType::Tree) => Some(repo.find_tree(e.id())?),
                Some(_) => return Err(git2::Error::from_str(&format!("{dir} is not a directory"))),
                None => None,
            };
            let new_sub = replace_in_tree(repo, sub.as_ref(), rest, blob)?;
            builder.insert(dir, new_sub, 0o040_000)?;
            builder.write()
        }
    }
}

impl Forge for LocalForge {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn body_limit(&self) -> usize {
        // No limit of its own: render as for GitHub, so a local mirror shows what a real one would.
        super::github::GITHUB_BODY_LIMIT
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn read_base_file(&self, base: &str, path: &str) -> ForgeResult<BaseFile> {
        let repo = self.repo()?;
        let commit = repo
            .revparse_single(&format!("refs/heads/{base}"))
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| {
                git_err(
                    &format!("base branch `{base}` of mirror {}", self.path.display()),
                    &e,
                )
            })?;
        let entry = commit
            .tree()
            .and_then(|t| t.get_path(Path::new(path)))
            .map_err(|e| git_err(&format!("pin file `{path}` on `{base}`"), &e))?;
        if entry.kind() != Some(ObjectType::Blob) || entry.filemode() == 0o120_000 {
            return Err(ForgeError::Other(format!(
                "pin file `{path}` on `{base}` is not a regular file"
            )));
        }
        let blob = repo
            .find_blob(entry.id())
            .map_err(|e| git_err("reading pin file", &e))?;
        Ok(BaseFile {
            base_commit: commit.id().to_string(),
            content: blob.content().to_vec(),
        })
    }

    fn branch_state(&self, branch: &str) -> ForgeResult<Option<BranchState>> {
        let repo = self.repo()?;
        let Ok(head) = repo.refname_to_id(&format!("refs/heads/{branch}")) else {
            return Ok(None);
        };
        let commit = repo
            .find_commit(head)
            .map_err(|e| git_err("bot branch head", &e))?;
        Ok(Some(BranchState {
            head: head.to_string(),
            parents: commit.parent_ids().map(|p| p.to_string()).collect(),
            author_email: commit.author().email().ok().map(str::to_string),
        }))
    }

    /// `git log base..branch`: a revwalk from the branch head with base's history hidden.
    fn commits_beside(
        &self,
        branch: &str,
        base: &str,
        limit: usize,
    ) -> ForgeResult<Vec<CommitSummary>> {
        let repo = self.repo()?;
        let Ok(head) = repo.refname_to_id(&format!("refs/heads/{branch}")) else {
            return Ok(Vec::new());
        };
        let base_id = repo
            .refname_to_id(&format!("refs/heads/{base}"))
            .map_err(|e| git_err("base branch", &e))?;
        let mut walk = repo.revwalk().map_err(|e| git_err("revwalk", &e))?;
        walk.push(head).map_err(|e| git_err("revwalk", &e))?;
        walk.hide(base_id).map_err(|e| git_err("revwalk", &e))?;
        let mut out = Vec::new();
        for id in walk.take(limit) {
            let id = id.map_err(|e| git_err("revwalk", &e))?;
            let c = repo.find_commit(id).map_err(|e| git_err("commit", &e))?;
            out.push(CommitSummary {
                id: id.to_string(),
                author: c.author().name().ok().unwrap_or("(unknown)").to_string(),
                subject: c.summary().ok().flatten().unwrap_or_default().to_string(),
            });
        }
        Ok(out)
    }

    fn write_branch(&self, w: &CommitWrite) -> ForgeResult<String> {
        let repo = self.repo()?;
        let base = Oid::from_str(&w.base_commit)
            .and_then(|id| repo.find_commit(id))
            .map_err(|e| git_err("base commit", &e))?;
        let blob = repo
            .blob(&w.content)
            .map_err(|e| git_err("writing blob", &e))?;
        let parts: Vec<&str> = w.path.split('/').collect();
        let tree_id = replace_in_tree(
            &repo,
            Some(&base.tree().map_err(|e| git_err("base tree", &e))?),
            &parts,
            blob,
        )
        .map_err(|e| git_err("writing tree", &e))?;
        let tree = repo.find_tree(tree_id).map_err(|e| git_err("tree", &e))?;
        let sig = Signature::now(&w.author.name, &w.author.email)
            .map_err(|e| git_err("signature", &e))?;
        let commit = repo
            .commit(None, &sig, &sig, &w.message, &tree, &[&base])
            .map_err(|e| git_err("writing commit", &e))?;
        let refname = format!("refs/heads/{}", w.branch);
        let expected = match &w.expected_head {
            Some(old) => Some(Oid::from_str(old).map_err(|e| git_err("expected head", &e))?),
            None => None,
        };
        // Compare-and-swap on the branch: a concurrent writer or a human push makes this fail.
        let swap = || match expected {
            None => repo
                .reference(&refname, commit, false, "upkeep: create rebuild branch")
                .map(|_| ()),
            Some(old) => repo
                .reference_matching(&refname, commit, true, old, "upkeep: update rebuild branch")
                .map(|_| ()),
        };
        let result = match swap() {
            // A run killed mid-write leaves the ref's lock file behind; we hold the run lease,
            // so one older than this process is stale. A live writer's is never removed.
            Err(e) if e.code() == ErrorCode::Locked && clear_stale_ref_lock(&repo, &refname) => {
                swap()
            }
            other => other,
        };
        result.map_err(|e| match e.code() {
            ErrorCode::Exists | ErrorCode::Modified | ErrorCode::Locked => {
                ForgeError::Conflict(format!("branch {} moved: {}", w.branch, e.message()))
            }
            _ => git_err("updating branch", &e),
        })?;
        let head_file = self.pr_path(&repo, &w.branch).with_extension("head");
        write_atomic(&head_file, commit.to_string().as_bytes())
            .map_err(|e| ForgeError::Other(e.to_string()))?;
        Ok(commit.to_string())
    }

    fn find_pr(&self, branch: &str, _known_id: Option<&str>) -> ForgeResult<Option<PrInfo>> {
        let repo = self.repo()?;
        let Some(mut pr) = self.read_pr(&repo, branch)? else {
            return Ok(None);
        };
        let info = self.info(&repo, &pr);
        // Remember the end: the branch name may be reused by the next PR.
        if pr.ended.is_none() && info.state != PrState::Open {
            pr.ended = Some(if info.state == PrState::Merged {
                PrEnd::Merged
            } else {
                PrEnd::Closed
            });
            self.write_pr(&repo, &pr)?;
        }
        Ok(Some(info))
    }

    /// The PR's state from the mirror itself (its id is its branch): the branch there, or
    /// gone merged into base or unmerged. Local git reads, no request.
    fn pr_state(
        &self,
        id: &str,
        _cache: &dyn crate::http::ConditionalCache,
    ) -> ForgeResult<Option<PrSeen>> {
        Ok(self.find_pr(id, Some(id))?.map(|info| PrSeen {
            state: info.state,
            closed_at: info.closed_at,
        }))
    }

    fn open_pr(&self, r: &PrRequest) -> ForgeResult<PrInfo> {
        let repo = self.repo()?;
        if repo
            .refname_to_id(&format!("refs/heads/{}", r.branch))
            .is_err()
        {
            return Err(ForgeError::NotFound(format!(
                "branch {} does not exist",
                r.branch
            )));
        }
        if let Some(existing) = self.read_pr(&repo, &r.branch)?
            && self.info(&repo, &existing).state == PrState::Open
        {
            return Err(ForgeError::Conflict(format!(
                "a PR for {} is already open",
                r.branch
            )));
        }
        let pr = PrFile {
            branch: r.branch.clone(),
            base: r.base.clone(),
            title: r.title.clone(),
            body: r.body.clone(),
            labels: r.labels.clone(),
            reviewers: r.reviewers.clone(),
            draft: r.draft,
            comments: Vec::new(),
            ended: None,
        };
        self.write_pr(&repo, &pr)?;
        Ok(self.info(&repo, &pr))
    }

    fn update_pr(&self, id: &str, r: &PrRequest) -> ForgeResult<PrInfo> {
        let repo = self.repo()?;
        let mut pr = self
            .read_pr(&repo, id)?
            .ok_or_else(|| ForgeError::NotFound(format!("PR {id}")))?;
        pr.title.clone_from(&r.title);
        pr.body.clone_from(&r.body);
        pr.labels.clone_from(&r.labels);
        pr.reviewers.clone_from(&r.reviewers);
        pr.draft = r.draft;
        self.write_pr(&repo, &pr)?;
        Ok(self.info(&repo, &pr))
    }

    fn comment_pr(&self, id: &str, body: &str) -> ForgeResult<()> {
        let repo = self.repo()?;
        let mut pr = self
            .read_pr(&repo, id)?
            .ok_or_else(|| ForgeError::NotFound(format!("PR {id}")))?;
        pr.comments.push(body.to_string());
        self.write_pr(&repo, &pr)
    }

    /// A plain git repository has no comments from people: decisions on a local mirror are
    /// made with the CLI. What is listed is upkeep's own notes on the PR, by `upkeep`.
    fn pr_comments(&self, id: &str, _cursor: Option<&str>) -> ForgeResult<CommentsRead> {
        let repo = self.repo()?;
        let pr = self
            .read_pr(&repo, id)?
            .ok_or_else(|| ForgeError::NotFound(format!("PR {id}")))?;
        let info = self.info(&repo, &pr);
        let comments = pr
            .comments
            .iter()
            .enumerate()
            .map(|(i, body)| PrComment {
                id: (i + 1).to_string(),
                author: "upkeep".into(),
                body: body.clone(),
                created_at: String::new(),
                updated_at: String::new(),
                url: info.url.clone(),
            })
            .collect();
        Ok(CommentsRead::Read {
            comments,
            cursor: None,
        })
    }

    /// Closing is remembered in the PR record; the branch stays for whoever wants to look.
    fn close_pr(&self, id: &str) -> ForgeResult<()> {
        let repo = self.repo()?;
        let mut pr = self
            .read_pr(&repo, id)?
            .ok_or_else(|| ForgeError::NotFound(format!("PR {id}")))?;
        if pr.ended.is_none() {
            pr.ended = Some(PrEnd::Closed);
            self.write_pr(&repo, &pr)?;
        }
        Ok(())
    }

    fn check_access(&self, base: &str) -> ForgeResult<Access> {
        let repo = self.repo()?;
        repo.refname_to_id(&format!("refs/heads/{base}"))
            .map_err(|e| git_err(&format!("base branch `{base}`"), &e))?;
        let probe = repo.path().join("upkeep").join(".write-probe");
        write_atomic(&probe, b"ok")
            .map_err(|e| ForgeError::Unauthorized(format!("mirror is not writable: {e}")))?;
        std::fs::remove_file(probe).ok();
        Ok(Access::Writable)
    }
}

/// Remove `<ref>.lock` when it is a regular file made before this process started.
fn clear_stale_ref_lock(repo: &Repository, refname: &str) -> bool {
    let lock = repo.path().join(format!("{refname}.lock"));
    let stale = std::fs::symlink_metadata(&lock).is_ok_and(|m| {
        m.file_type().is_file() && m.modified().is_ok_and(|t| t < crate::started_at())
    });
    if stale && std::fs::remove_file(&lock).is_ok() {
        tracing::warn!(lock = %lock.display(), "removed a stale ref lock a killed run left in the mirror");
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::Identity;

    fn mirror(dir: &Path) -> (LocalForge, String) {
        let repo = Repository::init_bare(dir).unwrap();
        let sig = Signature::now("t", "t@example.org").unwrap();
        let blob = repo.blob(b"pin\n").unwrap();
        let mut tb = repo.treebuilder(None).unwrap();
        tb.insert("pin.lock", blob, 0o100_644).unwrap();
        let tree = repo.find_tree(tb.write().unwrap()).unwrap();
        let base = repo
            .commit(Some("refs/heads/main"), &sig, &sig, "base", &tree, &[])
            .unwrap();
        (
            LocalForge::new(dir.to_str().unwrap()).unwrap(),
            base.to_string(),
        )
    }

    fn write(base: &str) -> CommitWrite {
        CommitWrite {
            branch: "upkeep/s".into(),
            base_commit: base.into(),
            path: "pin.lock".into(),
            content: b"pin 2\n".to_vec(),
            message: "bump".into(),
            author: Identity {
                name: "upkeep".into(),
                email: "bot@example.org".into(),
            },
            expected_head: None,
        }
    }

    #[test]
    fn a_ref_lock_left_by_a_dead_run_is_cleared_and_a_live_one_is_respected() {
        let dir = tempfile::tempdir().unwrap();
        let (forge, base) = mirror(dir.path());
        let lock = dir.path().join("refs/heads/upkeep/s.lock");
        std::fs::create_dir_all(lock.parent().unwrap()).unwrap();

        // Made after this process started: a live writer's; never removed. (Its time is set,
        // not left to the clock: the file system's coarse clock may read earlier than ours.)
        std::fs::write(&lock, "").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(crate::started_at() + std::time::Duration::from_secs(1))
            .unwrap();
        let err = forge.write_branch(&write(&base)).unwrap_err();
        assert!(matches!(err, ForgeError::Conflict(_)), "{err}");
        assert!(lock.exists());

        // Older than this process: left by a killed run; cleared, and the write goes through.
        let old = crate::started_at() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let head = forge.write_branch(&write(&base)).unwrap();
        assert!(!lock.exists());
        let repo = Repository::open_bare(dir.path()).unwrap();
        assert_eq!(
            repo.refname_to_id("refs/heads/upkeep/s")
                .unwrap()
                .to_string(),
            head
        );
    }
}
