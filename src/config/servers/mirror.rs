//! `[servers.mirror]`: the internal mirror a server's rebuild PRs go to: its forge (a local git
//! repository, GitHub or Azure DevOps), base branch, and the file and format of the pin.

use std::ops::Range;

use serde::Deserialize;

use crate::config::diag::Diagnostics;
use crate::config::raw::S;
use crate::config::secrets::{SecretRef, secret_ref};
use crate::config::urls::{Endpoint, http_url};
use crate::config::values;
use crate::forge::pin::PinFormat;
use crate::upstream::channels::advice;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawMirror {
    pub forge: Option<S<String>>,
    pub repo: Option<S<String>>,
    pub base: Option<S<String>>,
    pub pin_file: Option<S<String>>,
    pub pin_format: Option<S<String>>,
    pub pin_entry: Option<S<String>>,
    pub api_url: Option<S<String>>,
    pub base_url: Option<S<String>>,
    pub api_version: Option<S<String>>,
    pub identity_url: Option<S<String>>,
    pub token_env: Option<S<String>>,
    pub token_file: Option<S<String>>,
    pub labels: Option<S<Vec<S<String>>>>,
    pub reviewers: Option<S<Vec<S<String>>>>,
    /// Accept a plain `http://` API URL although the token travels to it.
    pub allow_insecure: Option<S<bool>>,
    /// Arm the forge's auto-merge when no guard holds the PR (`super::automerge`).
    pub auto_merge: Option<S<bool>>,
    pub merge_strategy: Option<S<String>>,
    pub delete_source_branch: Option<S<bool>>,
}

#[derive(Debug, Clone)]
pub struct MirrorConfig {
    pub forge: ForgeConfig,
    pub base: String,
    pub pin_file: String,
    pub pin_format: PinFormat,
    pub pin_entry: Option<String>,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    /// `auto-merge = true`: how the forge merges a PR upkeep arms (None: off).
    pub auto_merge: Option<crate::forge::automerge::MergeOptions>,
}

#[derive(Debug, Clone)]
pub enum ForgeConfig {
    /// A git repository reachable by path or URL; PRs are recorded in the state only.
    Local { repo: String },
    Github {
        api_url: String,
        owner: String,
        repo: String,
        token: SecretRef,
    },
    AzureDevops {
        base_url: String,
        organization: String,
        project: String,
        repository: String,
        api_version: String,
        /// The Identities API host (reviewer names to ids); None: derived from `base_url`.
        identity_url: Option<String>,
        token: SecretRef,
    },
}

/// What the forge checks need to report: the server and where its mirror table is.
struct Ctx<'a> {
    who: &'a str,
    span: Range<usize>,
}

pub fn validate(
    m: Option<&S<RawMirror>>,
    who: &str,
    span: Range<usize>,
    d: &mut Diagnostics<'_>,
) -> Option<MirrorConfig> {
    let Some(m) = m else {
        d.at(
            Some(span),
            "missing-key",
            format!("{who} has no [servers.mirror] table"),
        );
        return None;
    };
    let cx = Ctx {
        who,
        span: m.span(),
    };
    let m = m.get_ref();
    let forge = forge(m, &cx, d);
    let pin_format = pin_format(m.pin_format.as_ref(), who, d);
    let pin_file = pin_file(m.pin_file.as_ref(), pin_format, who, d);
    let base = m
        .base
        .as_ref()
        .map_or_else(|| "main".to_string(), |b| b.get_ref().clone());
    if base.is_empty() || !git2::Reference::is_valid_name(&format!("refs/heads/{base}")) {
        d.at(
            m.base.as_ref().map(S::span),
            "invalid-value",
            format!("{who}: `base` `{base}` is not a valid branch name"),
        );
    }
    let auto_merge = super::automerge::validate(m, forge.as_ref(), who, d);
    Some(MirrorConfig {
        forge: forge?,
        base,
        pin_file,
        pin_format: pin_format?,
        pin_entry: m.pin_entry.as_ref().map(|e| e.get_ref().clone()),
        labels: values::strings(m.labels.as_ref()),
        reviewers: values::strings(m.reviewers.as_ref()),
        auto_merge,
    })
}

fn forge(m: &RawMirror, cx: &Ctx<'_>, d: &mut Diagnostics<'_>) -> Option<ForgeConfig> {
    let name = m.forge.as_ref().map_or("local", |f| f.get_ref().as_str());
    match name {
        "local" => {
            require(m.repo.as_ref(), "repo", "local", cx, d).map(|repo| ForgeConfig::Local { repo })
        }
        "github" => github(m, cx, d),
        "azure-devops" => azure_devops(m, cx, d),
        other => {
            d.at(
                m.forge.as_ref().map(S::span),
                "invalid-value",
                format!(
                    "{}: forge `{other}` is not one of \"local\", \"github\", \"azure-devops\"",
                    cx.who
                ),
            );
            None
        }
    }
}

/// A key the forge needs, not empty.
fn require(
    v: Option<&S<String>>,
    key: &str,
    forge: &str,
    cx: &Ctx<'_>,
    d: &mut Diagnostics<'_>,
) -> Option<String> {
    match v {
        Some(v) if !v.get_ref().trim().is_empty() => Some(v.get_ref().clone()),
        Some(v) => {
            d.at(
                Some(v.span()),
                "invalid-value",
                format!("{}: mirror `{key}` is empty", cx.who),
            );
            None
        }
        None => {
            d.at(
                Some(cx.span.clone()),
                "missing-key",
                format!("{}: mirror with forge = \"{forge}\" needs `{key}`", cx.who),
            );
            None
        }
    }
}

/// The forge's API URL (`key`), checked: no credentials in it, encrypted if the token goes there.
fn api_url(
    m: &RawMirror,
    cx: &Ctx<'_>,
    d: &mut Diagnostics<'_>,
    (key, value, default): (&str, Option<&S<String>>, &str),
    token: &SecretRef,
) -> String {
    let at = Endpoint {
        who: &format!("{}: mirror ", cx.who),
        key,
        secret: token,
        allow_insecure: m.allow_insecure.as_ref(),
    };
    http_url(d, value, default, &at)
}

fn github(m: &RawMirror, cx: &Ctx<'_>, d: &mut Diagnostics<'_>) -> Option<ForgeConfig> {
    let repo = require(m.repo.as_ref(), "repo", "github", cx, d);
    let token = secret_ref(d, m.token_env.as_ref(), m.token_file.as_ref(), "token");
    if matches!(token, SecretRef::None) {
        // Allowed (a read-only `check --online` works), but every write will be refused.
        d.warn(
            Some(cx.span.clone()),
            "github-no-token",
            format!(
                "{}: the github mirror has no token (`token-env` or `token-file`): GitHub refuses \
                 to open PRs without one, and reads share {} requests an hour per address \
                 (rate limits for the REST API)",
                cx.who,
                advice::GITHUB_UNAUTHENTICATED_PER_HOUR
            ),
        );
    }
    let r = repo?;
    match r.split_once('/') {
        Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => {
            Some(ForgeConfig::Github {
                api_url: api_url(
                    m,
                    cx,
                    d,
                    ("api-url", m.api_url.as_ref(), "https://api.github.com"),
                    &token,
                ),
                owner: owner.to_string(),
                repo: name.trim_end_matches(".git").to_string(),
                token,
            })
        }
        _ => {
            d.at(
                m.repo.as_ref().map(S::span),
                "invalid-value",
                format!(
                    "{}: github mirror `repo` must be \"owner/name\", got `{r}`",
                    cx.who
                ),
            );
            None
        }
    }
}

fn azure_devops(m: &RawMirror, cx: &Ctx<'_>, d: &mut Diagnostics<'_>) -> Option<ForgeConfig> {
    let repo = require(m.repo.as_ref(), "repo", "azure-devops", cx, d);
    let token = secret_ref(d, m.token_env.as_ref(), m.token_file.as_ref(), "token");
    let r = repo?;
    let parts: Vec<&str> = r.split('/').collect();
    if let [organization, project, repository] = parts[..]
        && parts.iter().all(|p| !p.is_empty())
    {
        return Some(ForgeConfig::AzureDevops {
            base_url: api_url(
                m,
                cx,
                d,
                ("base-url", m.base_url.as_ref(), "https://dev.azure.com"),
                &token,
            ),
            organization: organization.to_string(),
            project: project.to_string(),
            repository: repository.to_string(),
            api_version: m
                .api_version
                .as_ref()
                .map_or_else(|| "7.1".to_string(), |v| v.get_ref().clone()),
            identity_url: m
                .identity_url
                .as_ref()
                .map(|u| api_url(m, cx, d, ("identity-url", Some(u), ""), &token)),
            token,
        });
    }
    d.at(
        m.repo.as_ref().map(S::span),
        "invalid-value",
        format!(
            "{}: azure-devops mirror `repo` must be \"organization/project/repository\", got `{r}`",
            cx.who
        ),
    );
    None
}

fn pin_format(raw: Option<&S<String>>, who: &str, d: &mut Diagnostics<'_>) -> Option<PinFormat> {
    match raw.map(|f| (f.get_ref().as_str(), f.span())) {
        None | Some(("lockfile", _)) => Some(PinFormat::Lockfile),
        Some(("azure-pipelines", _)) => Some(PinFormat::AzurePipelines),
        Some((other, span)) => {
            d.at(
                Some(span),
                "invalid-value",
                format!(
                    "{who}: pin-format `{other}` is not one of \"azure-pipelines\", \"lockfile\""
                ),
            );
            None
        }
    }
}

/// A relative path inside the mirror repository; the format's usual file when absent.
fn pin_file(
    raw: Option<&S<String>>,
    format: Option<PinFormat>,
    who: &str,
    d: &mut Diagnostics<'_>,
) -> String {
    let Some(p) = raw else {
        return match format {
            Some(PinFormat::AzurePipelines) => "azure-pipelines.yml".to_string(),
            _ => "upkeep.lock".to_string(),
        };
    };
    let v = p.get_ref();
    let bad = v.is_empty()
        || v.starts_with('/')
        || v.split(['/', '\\'])
            .any(|c| c == ".." || c.is_empty() || c == ".git");
    if bad {
        d.at(
            Some(p.span()),
            "invalid-value",
            format!("{who}: `pin-file` must be a relative path inside the mirror repo, got `{v}`"),
        );
    }
    v.clone()
}
