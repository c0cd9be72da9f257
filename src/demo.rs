//! `upkeep demo`: the offline quickstart. Builds real git upstreams with a release history, local
//! mirrors pinned to old releases and a config under one directory, then runs the same sync as
//! `sync --now` and shows what a person would look at: the PRs and the email.
//!
//! The example is built once; later runs reuse it, so a second `demo` shows that nothing is
//! proposed or sent twice.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use git2::{Oid, Repository, Signature, Time};

use crate::pipeline::{self, RunOptions};
use crate::report::{PrAction, PullRequestReport, RunReport};

const MIT: &str = "MIT License\n\nCopyright (c) 2025 Example Weather Authors\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software and associated documentation files (the \"Software\"), to deal\nin the Software without restriction, including without limitation the rights\nto use, copy, modify, merge, publish, distribute, sublicense, and/or sell\ncopies of the Software, and to permit persons to whom the Software is\nfurnished to do so, subject to the following conditions:\n\nThe above copyright notice and this permission notice shall be included in all\ncopies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\nIMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\nFITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE\nAUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER\nLIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,\nOUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE\nSOFTWARE.\n";

const RESTRICTION: &str = "\nThe Software may not be used to provide a hosted service to third parties\nwithout a commercial agreement with Example Weather Corp.\n";

const ISC_2025: &str = "ISC License\n\nCopyright (c) 2025 Example Search Authors\n\nPermission to use, copy, modify, and/or distribute this software for any\npurpose with or without fee is hereby granted, provided that the above\ncopyright notice and this permission notice appear in all copies.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\" AND THE AUTHOR DISCLAIMS ALL WARRANTIES\nWITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF\nMERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR\nANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES\nWHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN\nACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF\nOR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.\n";

/// One commit of an example history: files to write, a message, an optional tag.
struct Step<'a> {
    files: &'a [(&'a str, String)],
    message: &'a str,
    tag: Option<&'a str>,
    annotated: bool,
}

/// Commit `steps` on `main` of a new bare repository at `path`, with fixed times so the example
/// is the same on every machine.
fn build_history(path: &Path, author: &str, steps: &[Step<'_>]) -> anyhow::Result<()> {
    let repo =
        Repository::init_bare(path).with_context(|| format!("creating {}", path.display()))?;
    repo.set_head("refs/heads/main")?;
    let mut parent: Option<Oid> = None;
    let mut when = 1_767_225_600; // 2026-01-01
    let mut tree_files: std::collections::BTreeMap<String, String> =
        std::collections::BTreeMap::new();
    for step in steps {
        when += 86_400 * 9;
        for (p, content) in step.files {
            tree_files.insert((*p).to_string(), content.clone());
        }
        let tree = write_tree(&repo, &tree_files)?;
        let sig = Signature::new(
            author,
            &format!("{}@example.org", author.to_lowercase().replace(' ', ".")),
            &Time::new(when, 0),
        )?;
        let parents: Vec<git2::Commit<'_>> = parent
            .iter()
            .map(|p| repo.find_commit(*p))
            .collect::<Result<_, _>>()?;
        let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let id = repo.commit(
            Some("refs/heads/main"),
            &sig,
            &sig,
            step.message,
            &repo.find_tree(tree)?,
            &parent_refs,
        )?;
        if let Some(tag) = step.tag {
            let obj = repo.find_object(id, None)?;
            if step.annotated {
                repo.tag(tag, &obj, &sig, &format!("Release {tag}"), false)?;
            } else {
                repo.tag_lightweight(tag, &obj, false)?;
            }
        }
        parent = Some(id);
    }
    Ok(())
}

fn write_tree(
    repo: &Repository,
    files: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<Oid> {
    // Example files are flat or one level deep; build nested trees by directory.
    let mut dirs: std::collections::BTreeMap<String, Vec<(String, Oid)>> =
        std::collections::BTreeMap::new();
    let mut root = repo.treebuilder(None)?;
    for (path, content) in files {
        let blob = repo.blob(content.as_bytes())?;
        match path.split_once('/') {
            Some((dir, name)) => dirs
                .entry(dir.to_string())
                .or_default()
                .push((name.to_string(), blob)),
            None => {
                root.insert(path, blob, 0o100_644)?;
            }
        }
    }
    for (dir, entries) in dirs {
        let mut b = repo.treebuilder(None)?;
        for (name, blob) in entries {
            b.insert(&name, blob, 0o100_644)?;
        }
        root.insert(&dir, b.write()?, 0o040_000)?;
    }
    Ok(root.write()?)
}

fn pipeline_yaml(upstream_name: &str, tag: &str) -> String {
    format!(
        "# Mirror pipeline: rebuilds the upstream from source and scans it.\nresources:\n  repositories:\n    - repository: templates\n      type: git\n      name: Pipelines/GovernedTemplates\n      ref: refs/heads/main\n    - repository: upstream   # the sponsored server's source\n      type: git\n      name: {upstream_name}\n      ref: refs/tags/{tag}\n\nextends:\n  template: rebuild.yml@templates\n  parameters:\n    source: upstream\n"
    )
}

fn package_json(version: &str, extra: &str) -> String {
    format!(
        "{{\n  \"name\": \"weather-mcp\",\n  \"version\": \"{version}\",\n  \"license\": \"MIT\",\n  \"dependencies\": {{\n    \"@modelcontextprotocol/sdk\": \"^1.0.0\"{extra}\n  }}\n}}\n"
    )
}

/// Build the example under `dir` (once) and return the config path.
fn build(dir: &Path) -> anyhow::Result<PathBuf> {
    let config_path = dir.join("upkeep.toml");
    if config_path.exists() {
        return Ok(config_path);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let abs = std::fs::canonicalize(dir)?;
    let up = abs.join("upstreams");
    let mirrors = abs.join("mirrors");
    // The config is written last (atomically): an example without one is never reused.
    weather_upstream(&up)?;
    search_upstream(&up)?;
    mirrors_pinned_to_old_releases(&up, &mirrors)?;
    let config = config_text(&abs, &up, &mirrors);
    let tmp = config_path.with_extension("toml.tmp");
    std::fs::write(&tmp, config)?;
    std::fs::rename(&tmp, &config_path)?;
    Ok(config_path)
}

/// weather-mcp: 1.0.0, 1.1.0, and 1.2.0 whose license gains a use restriction.
fn weather_upstream(up: &Path) -> anyhow::Result<()> {
    let weather_license_changed = format!("{MIT}{RESTRICTION}");
    build_history(
        &up.join("weather-mcp.git"),
        "Wendy Weather",
        &[
            Step {
                files: &[
                    ("LICENSE", MIT.into()),
                    ("package.json", package_json("1.0.0", "")),
                    (
                        "src/index.js",
                        "export const forecast = () => 'sunny';\n".into(),
                    ),
                ],
                message: "Release 1.0.0",
                tag: Some("v1.0.0"),
                annotated: true,
            },
            Step {
                files: &[
                    ("package.json", package_json("1.1.0", "")),
                    ("src/hourly.js", "export const hourly = () => [];\n".into()),
                ],
                message: "feat: hourly forecast",
                tag: Some("v1.1.0"),
                annotated: false,
            },
            Step {
                files: &[
                    ("LICENSE", weather_license_changed),
                    (
                        "package.json",
                        package_json("1.2.0", ",\n    \"undici\": \"^7.2.0\""),
                    ),
                    ("src/hosted.js", "export const hosted = true;\n".into()),
                ],
                message: "feat: hosted mode with API keys",
                tag: Some("v1.2.0"),
                annotated: true,
            },
        ],
    )
}

/// search-mcp: 2.0.0, 2.0.1, and 2.1.0 whose license only gains a year (cosmetic).
fn search_upstream(up: &Path) -> anyhow::Result<()> {
    build_history(
        &up.join("search-mcp.git"),
        "Sam Search",
        &[
            Step {
                files: &[
                    ("LICENSE", ISC_2025.into()),
                    ("server.py", "print('search')\n".into()),
                ],
                message: "Release 2.0.0",
                tag: Some("v2.0.0"),
                annotated: true,
            },
            Step {
                files: &[("server.py", "print('search, paginated')\n".into())],
                message: "fix: pagination off by one",
                tag: Some("v2.0.1"),
                annotated: true,
            },
            Step {
                files: &[
                    ("LICENSE", ISC_2025.replace("2025", "2025-2026")),
                    ("server.py", "print('fuzzy search')\n".into()),
                ],
                message: "feat: fuzzy matching",
                tag: Some("v2.1.0"),
                annotated: true,
            },
        ],
    )
}

/// The two mirrors: weather-mcp pins 1.0.0 in an Azure Pipelines file, search-mcp 2.0.0 in a
/// lockfile.
fn mirrors_pinned_to_old_releases(up: &Path, mirrors: &Path) -> anyhow::Result<()> {
    build_history(
        &mirrors.join("weather-mcp.git"),
        "Mirror Admin",
        &[Step {
            files: &[(
                "azure-pipelines.yml",
                pipeline_yaml("weather-mcp", "v1.0.0"),
            )],
            message: "Mirror pipeline for weather-mcp",
            tag: None,
            annotated: false,
        }],
    )?;
    let search_url = up.join("search-mcp.git").display().to_string();
    build_history(
        &mirrors.join("search-mcp.git"),
        "Mirror Admin",
        &[Step {
            files: &[(
                "upkeep.lock",
                format!(
                    "# The upstream release this mirror rebuilds (edited by upkeep).\nupstream = \"{search_url}\"\nref = \"refs/tags/v2.0.0\"\n"
                ),
            )],
            message: "Mirror pin for search-mcp",
            tag: None,
            annotated: false,
        }],
    )?;
    Ok(())
}

/// The example's config: the state, a file outbox and the two servers, under `abs`.
fn config_text(abs: &Path, up: &Path, mirrors: &Path) -> String {
    let q = |p: PathBuf| toml_string(&p.display().to_string());
    format!(
        "# Written by `upkeep demo`: a self-contained example. Edit freely; delete this directory to start over.\n\
[state]\npath = {db}\ncache-dir = {cache}\n\n\
[schedule]\ncron = \"0 */6 * * *\"\ntimezone = \"UTC\"\n\n\
[email]\nfrom = \"upkeep@example.com\"\ntransport = \"file\"\ndir = {outbox}\n\n\
# The demo is offline: no security advisory lookups (see README, \"Security advisories\").\n\
[advisories]\nenabled = false\n\n\
[[servers]]\nname = \"weather-mcp\"\nupstream = {weather}\nowners = [\"weather-owners@example.com\"]\nrelease = {{ channel = \"git-tags\", tag-pattern = \"^v(.+)$\", prerelease = false }}\n\n\
[servers.mirror]\nforge = \"local\"\nrepo = {weather_mirror}\nbase = \"main\"\npin-file = \"azure-pipelines.yml\"\npin-format = \"azure-pipelines\"\n\n\
[[servers]]\nname = \"search-mcp\"\nupstream = {search}\nowners = [\"search-owners@example.com\"]\nrelease = {{ channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }}\n\n\
[servers.mirror]\nforge = \"local\"\nrepo = {search_mirror}\nbase = \"main\"\npin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n",
        db = q(abs.join("upkeep.db")),
        cache = q(abs.join("cache")),
        outbox = q(abs.join("outbox")),
        weather = q(up.join("weather-mcp.git")),
        weather_mirror = q(mirrors.join("weather-mcp.git")),
        search = q(up.join("search-mcp.git")),
        search_mirror = q(mirrors.join("search-mcp.git")),
    )
}

fn toml_string(s: &str) -> String {
    // Basic-string escaping for paths.
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Run the demo; returns the exit code.
pub async fn run(dir: &Path) -> anyhow::Result<i32> {
    let fresh = !dir.join("upkeep.toml").exists();
    let config_path = build(dir)?;
    let config = crate::config::load(&config_path)
        .map_err(|e| anyhow::anyhow!("the demo config is invalid:\n{e}"))?;
    let outbox_dir = match &config.email.transport {
        crate::config::EmailTransport::File { dir } => dir.clone(),
        crate::config::EmailTransport::Smtp(_) => dir.join("outbox"),
    };
    let before: std::collections::BTreeSet<PathBuf> = list_eml(&outbox_dir);
    let deps = crate::deps::Deps::open(config).await?;
    let report = pipeline::run(
        &deps,
        &RunOptions {
            servers: Vec::new(),
            dry_run: false,
            full: false,
            trigger: crate::report::Trigger::Demo,
            fresh_since: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let after = list_eml(&outbox_dir);
    let new_emails: Vec<&PathBuf> = after.difference(&before).collect();
    let prs = {
        let report = report.clone();
        deps.store
            .blocking(move |store| shown_prs(&report, store))
            .await?
    };
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "{}",
        render_demo(&report, &prs, &config_path, fresh, &new_emails)
    )?;
    Ok(if report.any_failed() {
        crate::exit::FAILED
    } else {
        crate::exit::OK
    })
}

fn list_eml(dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default()
}

/// The PRs this run opened or changed, in full (the run itself kept only their summaries).
fn shown_prs(
    report: &RunReport,
    store: &crate::store::Store,
) -> anyhow::Result<Vec<(String, PullRequestReport)>> {
    let mut prs = Vec::new();
    for (seq, s) in report.servers.iter().enumerate() {
        let Some(pr) = &s.pull_request else { continue };
        if pr.action == PrAction::Unchanged || pr.action == PrAction::Declined {
            continue;
        }
        let Some(json) = store.run_server_report(report.run_id, seq)? else {
            continue;
        };
        let mut full: serde_json::Value = serde_json::from_str(&json)?;
        prs.push((
            s.name.clone(),
            serde_json::from_value(full["pull_request"].take())?,
        ));
    }
    Ok(prs)
}

fn render_demo(
    report: &RunReport,
    prs: &[(String, PullRequestReport)],
    config_path: &Path,
    fresh: bool,
    new_emails: &[&PathBuf],
) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let rule = "─".repeat(72);
    if fresh {
        let _ = writeln!(
            t,
            "Built an offline example in {}:",
            config_path
                .parent()
                .map_or_else(String::new, |p| p.display().to_string())
        );
        let _ = writeln!(
            t,
            "  two upstream git repos with release tags, two local mirrors pinned to old releases,"
        );
        let _ = writeln!(
            t,
            "  and a config ({}). Synced it like `upkeep sync --now` would:\n",
            config_path.display()
        );
    } else {
        let _ = writeln!(
            t,
            "Synced the existing example again ({}):\n",
            config_path.display()
        );
    }
    t.push_str(&crate::status::run_summary(report));
    for (name, pr) in prs {
        let _ = writeln!(
            t,
            "\n{rule}\nRebuild PR for {} ({:?})\n{rule}",
            name, pr.action
        );
        let _ = writeln!(t, "title:  {}", pr.title);
        let _ = writeln!(
            t,
            "branch: {}{}",
            pr.branch,
            if pr.draft {
                "   (draft: held for license review)"
            } else {
                ""
            }
        );
        let _ = writeln!(t, "labels: {}", pr.labels.join(", "));
        let _ = writeln!(t, "where:  {}", pr.url.as_deref().unwrap_or("-"));
        let _ = writeln!(
            t,
            "\nThe pin change (the only change in the PR):\n{}",
            pr.pin_diff
        );
        let _ = writeln!(t, "The PR body:\n{}", indent(&pr.body));
    }
    for path in new_emails {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let _ = writeln!(t, "\n{rule}\nEmail written to {}\n{rule}", path.display());
        let headers: Vec<&str> = text
            .lines()
            .take_while(|l| !l.is_empty())
            .filter(|l| l.starts_with("Subject:") || l.starts_with("To:"))
            .collect();
        for h in headers {
            let _ = writeln!(t, "{h}");
        }
        if let Some(plain) = plain_part(&text) {
            let _ = writeln!(t, "\n{}", plain.trim_end());
        }
    }
    if report.servers.iter().all(|s| {
        s.pull_request
            .as_ref()
            .is_none_or(|p| p.action == PrAction::Unchanged)
    }) && new_emails.is_empty()
    {
        let _ = writeln!(
            t,
            "\nNothing new upstream since the last sync: no PR was opened or changed, and no email was written."
        );
    }
    let _ = writeln!(
        t,
        "\nNext: `upkeep status --config {c}` shows the state; `upkeep license show weather-mcp --config {c}` the pending review;\n\
         `upkeep license approve weather-mcp --by \"<name>\" --config {c}` records an approval, and the next\n\
         `upkeep sync --now --config {c}` marks the held PR ready.",
        c = config_path.display()
    );
    t
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

/// The text/plain part of a formatted message (quoted-printable or 7bit as lettre wrote it).
fn plain_part(eml: &str) -> Option<String> {
    let start = eml.find("Content-Type: text/plain")?;
    let rest = &eml[start..];
    let body_start = rest
        .find("\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| rest.find("\n\n").map(|i| i + 2))?;
    let body = &rest[body_start..];
    let end = body
        .find("\r\n--")
        .or_else(|| body.find("\n--"))
        .unwrap_or(body.len());
    let raw = &body[..end];
    let qp = rest[..body_start].contains("quoted-printable");
    Some(if qp {
        decode_qp(raw)
    } else {
        raw.replace("\r\n", "\n")
    })
}

fn decode_qp(s: &str) -> String {
    let mut bytes = Vec::new();
    let s = s.replace("\r\n", "\n");
    let mut it = s.as_bytes().iter().copied().peekable();
    while let Some(b) = it.next() {
        if b == b'=' {
            let h1 = it.next();
            if h1 == Some(b'\n') {
                continue;
            }
            let h2 = it.next();
            if let (Some(a), Some(c)) = (h1, h2)
                && let Ok(v) = u8::from_str_radix(&format!("{}{}", a as char, c as char), 16)
            {
                bytes.push(v);
            }
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
