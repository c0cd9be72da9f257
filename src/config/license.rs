//! `[license]` and `[servers.license]`: which licenses need no review, which finding codes
//! do, and who may decide a held review on the rebuild PR (`approvers`). A server's table
//! overrides the top-level one key by key (its `approvers` replace the global list).

use serde::Deserialize;

use super::diag::Diagnostics;
use super::raw::S;
use super::values;
use crate::license::code::FindingCode;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawLicense {
    pub allowed: Option<S<Vec<S<String>>>>,
    pub review_codes: Option<S<Vec<S<String>>>>,
    pub approvers: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Clone, Default)]
pub struct LicensePolicyConfig {
    pub allowed: Vec<String>,
    pub review_codes: Option<Vec<FindingCode>>,
    /// Who may approve or decline a held review by a comment on the rebuild PR. Empty: the PR
    /// commands are off and people are told to use the CLI.
    pub approvers: Vec<Approver>,
}

/// A person who may decide a held review, as the forge names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approver {
    /// A GitHub login (`user.login` of a comment).
    Github(String),
    /// An Azure DevOps `uniqueName` (usually the email) of a comment's author.
    Azure(String),
}

impl Approver {
    /// Parse `github:<login>` or `azure:<uniqueName or email>`; why not, otherwise.
    pub fn parse(text: &str) -> Result<Approver, String> {
        let Some((kind, name)) = text.split_once(':') else {
            return Err("is not `github:<login>` or `azure:<uniqueName or email>`".into());
        };
        let name = name.trim();
        match kind.trim() {
            "github" if github_login(name) => Ok(Approver::Github(name.to_string())),
            "github" => Err(format!(
                "`{name}` is not a GitHub login (letters, digits and single hyphens, at most 39)"
            )),
            "azure" if azure_name(name) => Ok(Approver::Azure(name.to_string())),
            "azure" => Err(format!(
                "`{name}` is not an Azure DevOps uniqueName (no spaces or control characters, \
                 at most 256)"
            )),
            other => Err(format!(
                "`{other}` is not a forge; use `github:` or `azure:`"
            )),
        }
    }

    /// Whether the forge's identity `who` (of the forge `forge_kind`) is this approver. Both
    /// forges compare names without regard to case.
    pub fn matches(&self, forge_kind: &str, who: &str) -> bool {
        match self {
            Approver::Github(login) => forge_kind == "github" && login.eq_ignore_ascii_case(who),
            Approver::Azure(name) => forge_kind == "azure-devops" && name.eq_ignore_ascii_case(who),
        }
    }
}

impl std::fmt::Display for Approver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Approver::Github(login) => write!(f, "github:{login}"),
            Approver::Azure(name) => write!(f, "azure:{name}"),
        }
    }
}

/// GitHub logins: alphanumerics and single hyphens, not at either end, at most 39.
fn github_login(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 39
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

fn azure_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 256
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The policy of `raw`, on top of `parent` (the top-level policy, for a server's table).
pub fn validate(
    raw: Option<&RawLicense>,
    parent: Option<&LicensePolicyConfig>,
    d: &mut Diagnostics<'_>,
) -> LicensePolicyConfig {
    let mut policy = parent.cloned().unwrap_or_default();
    if let Some(raw) = raw {
        if raw.allowed.is_some() {
            policy.allowed = values::strings(raw.allowed.as_ref());
        }
        if let Some(codes) = &raw.review_codes {
            policy.review_codes = Some(review_codes(codes.get_ref(), d));
        }
        if let Some(list) = &raw.approvers {
            policy.approvers = approvers(list.get_ref(), d);
        }
    }
    policy
}

/// Every code must be a known one: a misspelt code would leave the finding it meant cosmetic,
/// silently weakening the license gate.
fn review_codes(raw: &[S<String>], d: &mut Diagnostics<'_>) -> Vec<FindingCode> {
    let mut codes = Vec::new();
    for c in raw {
        match c.get_ref().parse::<FindingCode>() {
            Ok(code) => codes.push(code),
            Err(_) => {
                let hint = match FindingCode::closest(c.get_ref()) {
                    Some(meant) => format!("did you mean `{meant}`?"),
                    None => format!(
                        "known codes: {}",
                        FindingCode::ALL.map(FindingCode::as_str).join(", ")
                    ),
                };
                d.at(
                    Some(c.span()),
                    "unknown-code",
                    format!(
                        "`review-codes`: `{}` is not a license finding code; {hint}",
                        c.get_ref()
                    ),
                );
            }
        }
    }
    codes
}

/// Every entry must name a forge and a well-formed identity: a typo would leave an approver
/// unable to decide, or match nobody. (`[mcp] approvers` is read the same way.)
pub(super) fn approvers(raw: &[S<String>], d: &mut Diagnostics<'_>) -> Vec<Approver> {
    let mut list = Vec::new();
    for entry in raw {
        match Approver::parse(entry.get_ref()) {
            Ok(a) if !list.contains(&a) => list.push(a),
            Ok(_) => {}
            Err(why) => d.at(
                Some(entry.span()),
                "invalid-approver",
                format!("`approvers`: `{}` {why}", entry.get_ref()),
            ),
        }
    }
    list
}

/// Which review a list of approvers decides, as [`warn_foreign_approvers`] names it.
#[derive(Debug, Clone, Copy)]
pub enum Review {
    License,
    Mcp,
}

impl Review {
    /// The list's name and the command line its approvers use instead of a PR comment.
    fn words(self) -> (&'static str, &'static str) {
        match self {
            Review::License => ("license approvers", "upkeep license approve|decline"),
            Review::Mcp => ("MCP approvers", "upkeep review approve|decline --kind mcp"),
        }
    }
}

/// An approver of another forge can never comment on this server's PRs (and on a local
/// mirror nobody can): allowed, but said, so a reviewer is not left waiting on a command that
/// is never read.
pub fn warn_foreign_approvers(
    (approvers, review): (&[Approver], Review),
    forge: &super::ForgeConfig,
    who: &str,
    at: std::ops::Range<usize>,
    d: &mut Diagnostics<'_>,
) {
    let kind = match forge {
        super::ForgeConfig::Github { .. } => "github",
        super::ForgeConfig::AzureDevops { .. } => "azure-devops",
        super::ForgeConfig::Local { .. } => "local",
    };
    let foreign: Vec<String> = approvers
        .iter()
        .filter(|a| {
            !matches!(
                (a, kind),
                (Approver::Github(_), "github") | (Approver::Azure(_), "azure-devops")
            )
        })
        .map(ToString::to_string)
        .collect();
    if !foreign.is_empty() {
        let (list, cli) = review.words();
        d.warn(
            Some(at),
            "approver-forge",
            format!(
                "{who}: {list} {} cannot comment on its {kind} mirror's PRs; they decide with \
                 `{cli}` instead",
                foreign.join(", ")
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approver_entries() {
        assert_eq!(
            Approver::parse("github:ada-l"),
            Ok(Approver::Github("ada-l".into()))
        );
        assert_eq!(
            Approver::parse("azure:Ada@Example.com"),
            Ok(Approver::Azure("Ada@Example.com".into()))
        );
        for bad in [
            "ada",
            "github:",
            "github:-ada",
            "github:a--b",
            "github:a b",
            "azure:",
            "azure:a b",
            "gitlab:ada",
        ] {
            assert!(Approver::parse(bad).is_err(), "{bad}");
        }
        let a = Approver::Github("Ada".into());
        assert!(a.matches("github", "ada"));
        assert!(!a.matches("azure-devops", "ada"));
        assert!(!a.matches("github", "ada2"));
        let z = Approver::Azure("ada@example.com".into());
        assert!(z.matches("azure-devops", "ADA@example.com"));
        assert!(!z.matches("github", "ada@example.com"));
        assert_eq!(z.to_string(), "azure:ada@example.com");
    }
}
