//! What an upstream URL or path identifies, so pipeline entries and lockfiles can be matched
//! against the configured upstream. Pure string work: no network, no filesystem.

/// A repository as far as pin files can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RepoId {
    /// Comparison key: `host/path` (no scheme, user, port or `.git`) or the local path;
    /// lowercase because hosts and the forges we target compare names case-insensitively.
    pub key: String,
    /// The `name:` values an Azure Pipelines repository resource may use for it (lowercase).
    pub names: Vec<String>,
    /// For messages: `github.com/GLips/Figma-Context-MCP`, or the path as configured.
    pub display: String,
}

impl RepoId {
    /// Whether an entry's `name:` value names this repository.
    pub fn matches_name(&self, name: &str) -> bool {
        let name = strip_git(name.trim().trim_matches('/')).to_lowercase();
        !name.is_empty() && self.names.contains(&name)
    }

    /// Whether a field such as `endpoint:` holds this repository's URL (other forms of the
    /// same URL count: https and ssh name the same repository). Non-URL values never match.
    pub fn matches_url(&self, value: &str) -> bool {
        looks_like_url(value) && parse(value).key == self.key
    }
}

/// Parse an upstream URL (https, ssh, git, scp-like `git@host:path`, `file://`) or local path.
pub(super) fn parse(raw: &str) -> RepoId {
    let s = raw.trim();
    if let Some(path) = s.strip_prefix("file://") {
        return local(path);
    }
    if let Some((_, rest)) = s.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        return remote(host_of(authority), path);
    }
    if let Some((authority, path)) = scp_like(s) {
        return remote(host_of(authority), path);
    }
    local(s)
}

/// `user@host:path`, but not a Windows drive (`C:\x`) or a path containing a colon.
fn scp_like(s: &str) -> Option<(&str, &str)> {
    let (before, after) = s.split_once(':')?;
    if before.len() <= 1 || before.contains(['/', '\\']) || after.starts_with('\\') {
        return None;
    }
    Some((before, after))
}

/// Drop user info and port from an authority.
fn host_of(authority: &str) -> &str {
    let host = authority.rsplit('@').next().unwrap_or(authority);
    host.split(':').next().unwrap_or(host)
}

fn looks_like_url(value: &str) -> bool {
    let v = value.trim();
    v.contains("://") || (v.contains('@') && scp_like(v).is_some())
}

/// Strip a `.git` suffix (any case) and the slashes around it.
fn strip_git(path: &str) -> &str {
    let p = path.trim_end_matches(['/', '\\']);
    let cut = p.len().saturating_sub(4);
    let p = if p.is_char_boundary(cut) && p[cut..].eq_ignore_ascii_case(".git") {
        &p[..cut]
    } else {
        p
    };
    p.trim_end_matches(['/', '\\'])
}

fn remote(host: &str, path: &str) -> RepoId {
    let host = host.to_ascii_lowercase();
    let path = strip_git(path.trim_start_matches('/'));
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut names = Vec::new();
    if let Some(i) = segs.iter().position(|s| *s == "_git") {
        // Azure DevOps: dev.azure.com/org/project/_git/repo, org.visualstudio.com/project/_git/repo.
        // A repository named like its project may drop the project segment.
        if let Some(repo) = segs.get(i + 1) {
            let project = match i {
                0 => repo,
                1 if host == "dev.azure.com" => repo,
                _ => &segs[i - 1],
            };
            names.push(format!("{project}/{repo}"));
            names.push((*repo).to_owned());
        }
    } else if host == "ssh.dev.azure.com" || host.ends_with("vs-ssh.visualstudio.com") {
        // Azure DevOps ssh: v3/org/project/repo.
        if let [_, _, project, repo] = segs.as_slice() {
            names.push(format!("{project}/{repo}"));
            names.push((*repo).to_owned());
        }
    } else if !segs.is_empty() {
        names.push(segs.join("/"));
    }
    let display = format!("{host}/{}", segs.join("/"));
    RepoId {
        key: display.to_lowercase(),
        names: names.into_iter().map(|n| n.to_lowercase()).collect(),
        display,
    }
}

fn local(path: &str) -> RepoId {
    let trimmed = strip_git(path);
    let last = trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed);
    RepoId {
        key: trimmed.to_lowercase(),
        names: if last.is_empty() {
            Vec::new()
        } else {
            vec![last.to_lowercase()]
        },
        display: path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms_name_the_same_repository() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "https://github.com/GLips/Figma-Context-MCP",
                "github.com/glips/figma-context-mcp",
                &["glips/figma-context-mcp"],
            ),
            (
                "https://github.com/GLips/Figma-Context-MCP.git/",
                "github.com/glips/figma-context-mcp",
                &["glips/figma-context-mcp"],
            ),
            (
                "git@github.com:GLips/Figma-Context-MCP.git",
                "github.com/glips/figma-context-mcp",
                &["glips/figma-context-mcp"],
            ),
            (
                "ssh://git@github.com:22/GLips/Figma-Context-MCP.GIT",
                "github.com/glips/figma-context-mcp",
                &["glips/figma-context-mcp"],
            ),
            (
                "https://user@dev.azure.com/org/Project/_git/Repo",
                "dev.azure.com/org/project/_git/repo",
                &["project/repo", "repo"],
            ),
            (
                "https://org.visualstudio.com/Project/_git/Repo",
                "org.visualstudio.com/project/_git/repo",
                &["project/repo", "repo"],
            ),
            (
                "git@ssh.dev.azure.com:v3/org/Project/Repo",
                "ssh.dev.azure.com/v3/org/project/repo",
                &["project/repo", "repo"],
            ),
            ("/srv/x/Repo.git", "/srv/x/repo", &["repo"]),
            ("file:///srv/x/repo.git/", "/srv/x/repo", &["repo"]),
            ("../mirror/repo", "../mirror/repo", &["repo"]),
            ("C:\\src\\repo.git", "c:\\src\\repo", &["repo"]),
        ];
        for (url, key, names) in cases {
            let id = parse(url);
            assert_eq!(id.key, *key, "{url}");
            assert_eq!(id.names, *names, "{url}");
        }
    }

    #[test]
    fn names_and_urls_match_case_insensitively() {
        let id = parse("https://github.com/GLips/Figma-Context-MCP.git");
        assert!(id.matches_name("glips/figma-context-mcp"));
        assert!(id.matches_name("GLips/Figma-Context-MCP.git"));
        assert!(!id.matches_name("Figma-Context-MCP"));
        assert!(!id.matches_name("GLips/Other"));
        assert!(id.matches_url("git@github.com:glips/figma-context-mcp"));
        assert!(
            !id.matches_url("github-mirror"),
            "a service connection name is not a URL"
        );
        assert!(!id.matches_url("https://gitlab.com/GLips/Figma-Context-MCP"));
        let local = parse("/srv/x/repo.git");
        assert!(local.matches_name("repo"));
        assert!(!local.matches_name("x/repo"));
    }
}
