//! Shared builders for the integration tests: real git repositories in temp dirs, a config
//! writer and a runner for the real `upkeep` binary.

#![allow(dead_code)] // Each test file uses a different part of the support code.

#[path = "../../wait_support/mod.rs"]
pub mod wait;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use git2::{Oid, Repository, Signature, Time};

pub const MIT: &str = "MIT License\n\nCopyright (c) 2025 Example Authors\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software and associated documentation files (the \"Software\"), to deal\nin the Software without restriction, including without limitation the rights\nto use, copy, modify, merge, publish, distribute, sublicense, and/or sell\ncopies of the Software, and to permit persons to whom the Software is\nfurnished to do so, subject to the following conditions:\n\nThe above copyright notice and this permission notice shall be included in all\ncopies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\nIMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\nFITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE\nAUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER\nLIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,\nOUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE\nSOFTWARE.\n";

/// A bare git repository with a linear `main` history built commit by commit.
pub struct Repo {
    pub path: PathBuf,
    pub repo: Repository,
    files: BTreeMap<String, Vec<u8>>,
    clock: i64,
}

impl Repo {
    pub fn new(path: &Path) -> Repo {
        let repo = Repository::init_bare(path).unwrap();
        repo.set_head("refs/heads/main").unwrap();
        Repo {
            path: path.to_path_buf(),
            repo,
            files: BTreeMap::new(),
            clock: 1_767_225_600,
        }
    }

    pub fn url(&self) -> String {
        self.path.display().to_string()
    }

    /// Commit the given file changes (None deletes) on main as `author`.
    pub fn commit_as(
        &mut self,
        author: &str,
        changes: &[(&str, Option<&str>)],
        message: &str,
    ) -> Oid {
        for (path, content) in changes {
            match content {
                Some(c) => {
                    self.files
                        .insert((*path).to_string(), c.as_bytes().to_vec());
                }
                None => {
                    self.files.remove(*path);
                }
            }
        }
        self.clock += 3600;
        let tree = build_tree(&self.repo, &self.files);
        let sig = Signature::new(
            author,
            &format!("{}@example.org", author.to_lowercase()),
            &Time::new(self.clock, 0),
        )
        .unwrap();
        let parent = self
            .repo
            .refname_to_id("refs/heads/main")
            .ok()
            .map(|id| self.repo.find_commit(id).unwrap());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        self.repo
            .commit(
                Some("refs/heads/main"),
                &sig,
                &sig,
                message,
                &self.repo.find_tree(tree).unwrap(),
                &parents,
            )
            .unwrap()
    }

    pub fn commit(&mut self, changes: &[(&str, Option<&str>)], message: &str) -> Oid {
        self.commit_as("Dev", changes, message)
    }

    pub fn tag(&self, name: &str, target: Oid) {
        let obj = self.repo.find_object(target, None).unwrap();
        let sig = Signature::new("Dev", "dev@example.org", &Time::new(self.clock, 0)).unwrap();
        self.repo
            .tag(name, &obj, &sig, &format!("Release {name}"), true)
            .unwrap();
    }

    pub fn head(&self) -> Oid {
        self.repo.refname_to_id("refs/heads/main").unwrap()
    }

    /// Merge `branch` as a person does on a local mirror: fast-forward `main` to it, then
    /// delete it.
    pub fn merge_to_main(&self, branch: &str) {
        let head = self.branch(branch).unwrap();
        self.repo
            .reference("refs/heads/main", head, true, "merge")
            .unwrap();
        self.repo
            .find_branch(branch, git2::BranchType::Local)
            .unwrap()
            .delete()
            .unwrap();
    }

    /// The content of `path` at the tip of `branch`, if the branch and file exist.
    pub fn file_at(&self, branch: &str, path: &str) -> Option<String> {
        let id = self
            .repo
            .refname_to_id(&format!("refs/heads/{branch}"))
            .ok()?;
        let tree = self.repo.find_commit(id).ok()?.tree().ok()?;
        let entry = tree.get_path(Path::new(path)).ok()?;
        let blob = self.repo.find_blob(entry.id()).ok()?;
        Some(String::from_utf8_lossy(blob.content()).into_owned())
    }

    pub fn branch(&self, name: &str) -> Option<Oid> {
        self.repo.refname_to_id(&format!("refs/heads/{name}")).ok()
    }
}

fn build_tree(repo: &Repository, files: &BTreeMap<String, Vec<u8>>) -> Oid {
    fn write(repo: &Repository, entries: &BTreeMap<String, Vec<u8>>) -> Oid {
        let mut dirs: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
        let mut b = repo.treebuilder(None).unwrap();
        for (path, content) in entries {
            match path.split_once('/') {
                Some((d, rest)) => {
                    dirs.entry(d.to_string())
                        .or_default()
                        .insert(rest.to_string(), content.clone());
                }
                None => {
                    let blob = repo.blob(content).unwrap();
                    b.insert(path, blob, 0o100_644).unwrap();
                }
            }
        }
        for (d, sub) in dirs {
            let id = write(repo, &sub);
            b.insert(&d, id, 0o040_000).unwrap();
        }
        b.write().unwrap()
    }
    write(repo, files)
}

/// A lockfile pin at `tag`.
pub fn lockfile(upstream: &str, tag: &str) -> String {
    format!("# pinned by upkeep\nupstream = \"{upstream}\"\nref = \"refs/tags/{tag}\"\n")
}

/// An upstream `<prefix>up.git` released as v1.0.0 (an MIT LICENSE) and a mirror
/// `<prefix>mirror.git` pinned there, in `ws`. Tests add the releases they need.
pub fn released_and_pinned(ws: &Workspace, prefix: &str) -> (Repo, Repo) {
    let mut up = Repo::new(&ws.path(&format!("{prefix}up.git")));
    let c1 = up.commit(&[("LICENSE", Some(MIT))], "r1");
    up.tag("v1.0.0", c1);
    let mut mirror = Repo::new(&ws.path(&format!("{prefix}mirror.git")));
    mirror.commit(
        &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.0.0")))],
        "pin",
    );
    (up, mirror)
}

/// An azure-pipelines file whose `upstream` entry is pinned at `tag`.
pub fn pipeline_yaml(name: &str, tag: &str) -> String {
    format!(
        "# mirror pipeline\nresources:\n  repositories:\n    - repository: upstream\n      type: git\n      name: {name}\n      ref: refs/tags/{tag}   # the sponsored release\n\nextends:\n  template: build.yml\n"
    )
}

/// Tests are offline: advisories are looked up only where a test points them at its OSV
/// stand-in (by replacing this table).
pub const ADVISORIES_OFF: &str = "[advisories]\nenabled = false\n\n";

/// The fixtures' releases date from January 2026, so every server would lag past the default
/// `max-lag` and its owners be told: tests about other emails set it out of the way (the lag
/// tests in `fleet.rs` set their own).
pub const LAG_ALERTS_OFF: &str = "[freshness]\nmax-lag = \"36500d\"\n\n";

/// One server entry of a test config.
pub struct ServerSpec {
    pub name: String,
    pub upstream: String,
    pub mirror: String,
    pub pin_file: String,
    pub pin_format: String,
    /// The whole `[servers.mirror]` table body, for forges other than local.
    pub mirror_table: Option<String>,
}

impl ServerSpec {
    pub fn lockfile(name: &str, upstream: &Repo, mirror: &Repo) -> ServerSpec {
        ServerSpec {
            name: name.into(),
            upstream: upstream.url(),
            mirror: mirror.url(),
            pin_file: "upkeep.lock".into(),
            pin_format: "lockfile".into(),
            mirror_table: None,
        }
    }
}

/// A test workspace: a temp dir with a config, state and outbox.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    /// Extra environment for every upkeep invocation (e.g. forge tokens).
    pub env: Vec<(String, String)>,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("upkeep.toml")
    }

    /// Rewrite the config text (after [`Workspace::write_config`]), e.g. to add a setting.
    pub fn edit_config(&self, edit: impl FnOnce(String) -> String) {
        let text = std::fs::read_to_string(self.config_path()).unwrap();
        std::fs::write(self.config_path(), edit(text)).unwrap();
    }

    pub fn write_config(&self, servers: &[ServerSpec]) {
        let q = |s: &str| format!("{s:?}");
        let mut c = format!(
            "[state]\npath = {}\ncache-dir = {}\nlease-timeout = \"2m\"\n\n[email]\nfrom = \"upkeep@example.com\"\ntransport = \"file\"\ndir = {}\nfailing-runs-alert = 2\n\n{ADVISORIES_OFF}{LAG_ALERTS_OFF}",
            q(&self.path("state/upkeep.db").display().to_string()),
            q(&self.path("cache").display().to_string()),
            q(&self.path("outbox").display().to_string()),
        );
        for s in servers {
            let mirror = s.mirror_table.clone().unwrap_or_else(|| {
                format!(
                    "forge = \"local\"\nrepo = {}\nbase = \"main\"\npin-file = {}\npin-format = {}\n",
                    q(&s.mirror),
                    q(&s.pin_file),
                    q(&s.pin_format)
                )
            });
            c.push_str(&format!(
                "[[servers]]\nname = {}\nupstream = {}\nowners = [\"owner@example.com\"]\nrelease = {{ channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }}\n\n[servers.mirror]\n{mirror}\n",
                q(&s.name),
                q(&s.upstream),
            ));
        }
        std::fs::write(self.config_path(), c).unwrap();
    }

    /// Run the real binary with this workspace's config.
    pub fn upkeep(&self, args: &[&str]) -> Output {
        self.upkeep_via(&[], args)
    }

    /// Run the real binary through `wrapper`, a command that runs its arguments (e.g. `setpriv`).
    pub fn upkeep_via(&self, wrapper: &[&str], args: &[&str]) -> Output {
        Output::of(&self.command(wrapper, args).output().unwrap())
    }

    /// Start the real binary in the background with extra environment (e.g. a
    /// [`wait::Pause`]'s); [`Workspace::finish`] collects its output.
    pub fn spawn(&self, args: &[&str], env: &[(String, String)]) -> Child {
        wait::spawn_captured(self.command(&[], args), env)
    }

    /// Wait for a [`Workspace::spawn`]ed process to exit and collect its output.
    pub fn finish(&self, child: Child, what: &str) -> Output {
        Output::of(&wait::wait_output(child, what))
    }

    fn command(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let bin = env!("CARGO_BIN_EXE_upkeep");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.args(args)
            .arg("--config")
            .arg(self.config_path())
            .env_remove("UPKEEP_CONFIG")
            .env_remove("UPKEEP_FAILPOINT")
            .env("UPKEEP_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    /// `sync --now --json`, parsed.
    pub fn sync(&self) -> (i32, serde_json::Value) {
        self.sync_with(&[])
    }

    pub fn sync_with(&self, extra: &[&str]) -> (i32, serde_json::Value) {
        self.sync_via(&[], extra)
    }

    /// `sync --now --json` through `wrapper` (see [`Workspace::upkeep_via`]), parsed.
    pub fn sync_via(&self, wrapper: &[&str], extra: &[&str]) -> (i32, serde_json::Value) {
        let mut args = vec!["sync", "--now", "--json"];
        args.extend_from_slice(extra);
        let out = self.upkeep_via(wrapper, &args);
        let json = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "sync printed no JSON ({e}); code {}\nstdout:\n{}\nstderr:\n{}",
                out.code, out.stdout, out.stderr
            )
        });
        (out.code, json)
    }

    pub fn emails(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.path("outbox"))
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    fn of(out: &std::process::Output) -> Output {
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The server entry named `name` in a run report.
pub fn server<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no server {name} in {report}"))
}

/// Commits on `branch` that are not on `base`.
pub fn commits_ahead(repo: &Repo, branch: &str, base: &str) -> usize {
    let mut walk = repo.repo.revwalk().unwrap();
    walk.push(repo.branch(branch).unwrap()).unwrap();
    walk.hide(repo.branch(base).unwrap()).unwrap();
    walk.count()
}

/// `git daemon` serving the repositories under a directory on 127.0.0.1; killed on drop.
pub struct Daemon {
    child: Child,
    pub port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn git_daemon(base: &Path) -> Daemon {
    git_daemon_on(base, free_port())
}

/// `git daemon` on a given port (e.g. one a test listener held before).
pub fn git_daemon_on(base: &Path, port: u16) -> Daemon {
    let child = Command::new("git")
        .args([
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--listen=127.0.0.1",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("git daemon starts (git is required by the tests)");
    wait::wait_for(
        &format!("git daemon to listen on {port}"),
        wait::CEILING,
        || std::net::TcpStream::connect(("127.0.0.1", port)).ok(),
    );
    Daemon { child, port }
}
