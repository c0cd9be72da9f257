//! Secrets (tokens, passwords) resolved from the environment or files named in the config.
//!
//! A `Secret` never prints its value: `Debug` and `Display` are redacted, so a secret that ends up
//! in a log field, an error or a report shows `<redacted>`. Read the value with [`Secret::expose`]
//! only at the point of use (an HTTP header, an SMTP login).
//!
//! [`looks_like_secret`] recognises a token pasted where a *name* belongs (`token-env =
//! "ghp_..."`), so the config check can refuse it without ever printing it; [`redact_url`]
//! takes the credentials out of a URL before it is shown anywhere.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `url` without its userinfo (user name and password), for every message, log field and
/// report. URLs are parsed (WHATWG rules, as git and browsers split them: the host follows the
/// *last* `@` of the authority), so `http://u:p@ss@host/x` shows `http://host/x`. The
/// scp-like `user@host:path` keeps a plain ssh login name (`git@github.com:o/r`) but loses a
/// userinfo with a password or one that looks like a token. A URL that does not parse keeps
/// only what follows its last `@`. Paths without an `@` come back unchanged.
pub fn redact_url(url: &str) -> String {
    if let Some(i) = url.find("://") {
        if let Ok(mut parsed) = reqwest::Url::parse(url)
            && parsed.has_host()
        {
            if parsed.username().is_empty() && parsed.password().is_none() {
                return url.to_string();
            }
            // Both only fail for URLs that cannot have credentials in the first place.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            return parsed.to_string();
        }
        return match url.rfind('@') {
            Some(at) if at > i => format!("{}://{}", &url[..i], &url[at + 1..]),
            _ => url.to_string(),
        };
    }
    // scp-like `[user[:pass]@]host:path`: userinfo ends at the last `@` before the first `/`.
    let head = url.split('/').next().unwrap_or(url);
    match head.rfind('@') {
        Some(at)
            if head[at..].contains(':')
                && (head[..at].contains(':') || looks_like_secret(&head[..at]).is_some()) =>
        {
            url[at + 1..].to_string()
        }
        _ => url.to_string(),
    }
}

/// Known token formats by prefix, with what they are.
const KNOWN_PREFIXES: &[(&str, &str)] = &[
    ("github_pat_", "a GitHub fine-grained token"),
    ("ghp_", "a GitHub token"),
    ("gho_", "a GitHub OAuth token"),
    ("ghu_", "a GitHub user-to-server token"),
    ("ghs_", "a GitHub server-to-server token"),
    ("ghr_", "a GitHub refresh token"),
    ("glpat-", "a GitLab token"),
    ("npm_", "an npm token"),
    ("pypi-", "a PyPI token"),
    ("xoxa-", "a Slack token"),
    ("xoxb-", "a Slack token"),
    ("xoxp-", "a Slack token"),
    ("xoxr-", "a Slack token"),
    ("sk-", "an API key"),
    ("AKIA", "an AWS access key"),
];

/// Shorter strings are never taken for a secret: names and paths are often this short,
/// and no token format upkeep meets is.
const MIN_SECRET_LEN: usize = 16;

/// What `text` looks like when it looks like a secret value (a token, a key, a password)
/// rather than the name of an environment variable or the path of a file; `None` otherwise.
///
/// Known prefixes (GitHub, GitLab, npm, PyPI, Slack, API keys, AWS), JWTs, Azure DevOps
/// personal access tokens (52 characters of base32, or 84 with the `AZDO` signature), long hex
/// strings, and long strings that mix cases and digits with high entropy. Conventional variable
/// names (`UPKEEP_GITHUB_TOKEN`) and paths (`/run/secrets/github-token`) are not.
pub fn looks_like_secret(text: &str) -> Option<&'static str> {
    let t = text.trim();
    if t.len() < MIN_SECRET_LEN {
        return None;
    }
    if let Some((_, what)) = KNOWN_PREFIXES.iter().find(|(p, _)| t.starts_with(p)) {
        return Some(what);
    }
    if let Some(what) = webhook_url(t) {
        return Some(what);
    }
    let parts: Vec<&str> = t.split('.').collect();
    if t.starts_with("eyJ") && parts.len() == 3 && parts.iter().all(|p| is_base64url(p)) {
        return Some("a JSON Web Token");
    }
    let all = |f: fn(char) -> bool| t.chars().all(f);
    if t.len() == 52 && all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c)) {
        return Some("an Azure DevOps personal access token");
    }
    if t.len() == 84 && all(|c| c.is_ascii_alphanumeric()) && t.get(76..80) == Some("AZDO") {
        return Some("an Azure DevOps personal access token");
    }
    let has = |f: fn(&char) -> bool| t.chars().any(|c| f(&c));
    if t.len() >= 32
        && all(|c| c.is_ascii_hexdigit())
        && has(char::is_ascii_digit)
        && has(char::is_ascii_alphabetic)
    {
        return Some("a hex-encoded secret");
    }
    let classes = [
        has(char::is_ascii_lowercase),
        has(char::is_ascii_uppercase),
        has(char::is_ascii_digit),
    ]
    .into_iter()
    .filter(|x| *x)
    .count();
    let path_like = t.starts_with(['/', '.', '~']);
    if t.len() >= 24
        && !path_like
        && classes == 3
        && all(|c| c.is_ascii_alphanumeric() || "+/=_-.~".contains(c))
        && entropy(t) >= 4.0
    {
        return Some("a random token");
    }
    None
}

/// A chat webhook URL: the URL is the credential (Slack's `hooks.slack.com/services/…`, Teams'
/// `….webhook.office.com/…`, and Workflows / Logic Apps URLs signed with `sig=`).
fn webhook_url(t: &str) -> Option<&'static str> {
    let lower = t.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return None;
    }
    if lower.contains("hooks.slack.com/") {
        Some("a Slack webhook URL")
    } else if lower.contains(".webhook.office.com/") {
        Some("a Teams webhook URL")
    } else if lower.contains("sig=") {
        Some("a signed webhook URL")
    } else {
        None
    }
}

fn is_base64url(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '=')
}

/// Shannon entropy of the characters of `s`, in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = std::collections::HashMap::<char, usize>::new();
    for c in s.chars() {
        *counts.entry(c).or_default() += 1;
    }
    #[allow(clippy::cast_precision_loss)] // Config values are far shorter than 2^52.
    let n = s.chars().count() as f64;
    counts
        .values()
        .map(|&k| {
            #[allow(clippy::cast_precision_loss)]
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_every_known_shape_are_recognised() {
        for token in [
            "ghp_R2d2C3poBB8Luke0Leia1Han2Solo3Chewie4",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "gho_16C7e42F292c6912E7710c838347Ae178B4a",
            "ghs_abcdefghijklmnopqrstuvwxyz0123456789",
            "glpat-xxxxxxxxxxxxxxxxxxxx",
            "npm_abcdefghijklmnopqrstuvwxyz0123456789",
            "pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmdo",
            "xoxb-123456789012-abcdefghijkl",
            "sk-proj-abcdefghijklmnopqrstuvwxyz",
            "AKIAIOSFODNN7EXAMPLE",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            // Azure DevOps: the classic 52-character base32 form and the 84-character one.
            "q3fxwqn2vq5zqlmbbtz7oeb2hr6fsjxgxkomcq4eyrpu3ivlnh5a",
            "7Ffp2mNqA4sX9tL1cV6bZ8dR3hJ0kW5yU2eT7gI4oP9aS1fD6gH3jK8lZ0xC5vB2nM7qW4eR9tY1AZDOabcd",
            // `openssl rand -hex 32` and `openssl rand -base64 32`.
            "4f1c9a2e7b3d5f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718",
            "mK9vQ2xL7pR4tW8yZ1nB5cF3hJ6gD0sA/uE+iO7kM2w=",
            // Chat webhook URLs are credentials too.
            "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
            "https://acme.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456",
            "https://prod-01.westus.logic.azure.com:443/workflows/1/triggers/manual/paths/invoke?api-version=2016-06-01&sig=abc",
        ] {
            assert!(looks_like_secret(token).is_some(), "{token}");
        }
    }

    #[test]
    fn urls_lose_their_credentials_wholesale() {
        let cases = [
            ("https://user:tok@host/x.git", "https://host/x.git"),
            ("http://u:pa@ss@host:8080/x", "http://host:8080/x"),
            (
                "https://x-access-token:t0k@github.com/o/r",
                "https://github.com/o/r",
            ),
            ("https://tokenonly@host/simple/", "https://host/simple/"),
            ("ssh://git:pw@host:2222/o/r.git", "ssh://host:2222/o/r.git"),
            ("https://user:pw@/x.git", "https:///x.git"),
            ("user:pw@host:o/r.git", "host:o/r.git"),
            ("u:p@ss@host:o/r.git", "host:o/r.git"),
            (
                "ghp_R2d2C3poBB8Luke0Leia1Han2Solo3Chewie4@host:o/r",
                "host:o/r",
            ),
            ("git@github.com:o/r.git", "git@github.com:o/r.git"),
            // Unchanged: nothing to hide.
            ("https://github.com/o/r.git", "https://github.com/o/r.git"),
            ("/srv/git/up@stream.git", "/srv/git/up@stream.git"),
            ("file:///srv/git/x.git", "file:///srv/git/x.git"),
            ("/srv/git/x.git", "/srv/git/x.git"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    #[test]
    fn names_and_paths_are_not_taken_for_secrets() {
        for name in [
            "GITHUB_TOKEN",
            "UPKEEP_SYNC_TOKEN",
            "UPKEEP_AZURE_DEVOPS_PERSONAL_ACCESS_TOKEN_2025",
            "upkeep_smtp_password",
            "MirrorToken",
            "/run/secrets/github-token",
            "/var/run/secrets/kubernetes.io/serviceaccount/token",
            "secrets/npm-token.txt",
            "",
        ] {
            assert_eq!(looks_like_secret(name), None, "{name}");
        }
    }
}
