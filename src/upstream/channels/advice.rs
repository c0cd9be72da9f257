//! What `check` should tell operators about channel settings that work but will surprise them
//! (pure). Each is a warning, not an error: the config is valid. Each message says the fact,
//! the consequence and the fix, and `code` is stable for scripts, like a diagnostic's.

use crate::upstream::version::{Version, VersionScheme};

/// One warning about a channel's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    /// Stable, kebab-case.
    pub code: &'static str,
    pub message: String,
}

/// GitHub's primary rate limit for unauthenticated REST requests, per hour and client address
/// ("Rate limits for the REST API").
pub const GITHUB_UNAUTHENTICATED_PER_HOUR: u32 = 60;
/// The same for a personal access token (GitHub App installations may get more).
pub const GITHUB_AUTHENTICATED_PER_HOUR: u32 = 5_000;

/// For a `github-releases` channel reading `api_url`; `None` when it has a token.
///
/// Without one, GitHub counts every request against a small limit shared by everything behind
/// the same address, and a `304 Not Modified` is free only for an authenticated request ("Best
/// practices for using the REST API": "Making a conditional request does not count against
/// your primary rate limit if a 304 response is returned and the request was made while
/// correctly authorized with an Authorization header").
pub fn github_token(api_url: &str, has_token: bool) -> Option<Advice> {
    if has_token {
        return None;
    }
    let host = reqwest::Url::parse(api_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| api_url.to_string());
    let limit = if host == "api.github.com" {
        format!(
            "GitHub allows {GITHUB_UNAUTHENTICATED_PER_HOUR} requests an hour per IP address without \
             one ({GITHUB_AUTHENTICATED_PER_HOUR} with one), shared by everything on this host"
        )
    } else {
        "where rate limits are enabled, unauthenticated requests share a small per-address limit"
            .to_string()
    };
    Some(Advice {
        code: "github-no-token",
        message: format!(
            "channel `github-releases` reads {host} without a token: {limit}, and even the \
             `304 Not Modified` answers to its conditional requests count against it (they are \
             free only with a token); set `token-env` or `token-file` in \
             [servers.channels] github-releases (read access to public repositories is enough)"
        ),
    })
}

/// Versions in PEP 440 order, each a form a PyPI project commonly publishes.
const PEP440_SAMPLES: [&str; 5] = ["1.0.dev1", "1.0a1", "1.0rc1", "1.0", "1.0.post1"];

/// For a server that reads a `pypi` channel under `scheme`; `None` for `pep440`.
///
/// PyPI versions are PEP 440 versions: under another scheme some do not parse (and are skipped,
/// so a release is silently never proposed) or sort wrongly. The message names which, computed
/// with the scheme's own parser.
pub fn pypi_scheme(scheme: VersionScheme) -> Option<Advice> {
    if scheme == VersionScheme::Pep440 {
        return None;
    }
    let name = super::scheme_name(scheme);
    let parsed: Vec<(&str, Option<Version>)> = PEP440_SAMPLES
        .iter()
        .map(|s| (*s, Version::parse(scheme, s)))
        .collect();
    let dropped: Vec<&str> = parsed
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(s, _)| *s)
        .collect();
    let readable: Vec<(&str, Version)> = parsed
        .into_iter()
        .filter_map(|(s, v)| Some((s, v?)))
        .collect();
    let misordered: Vec<String> = readable
        .windows(2)
        .filter(|pair| pair[0].1 >= pair[1].1)
        .map(|pair| format!("{} does not sort below {}", pair[0].0, pair[1].0))
        .collect();
    let mut problems = Vec::new();
    if !dropped.is_empty() {
        problems.push(format!(
            "{} do not parse as `{name}` and would be skipped without a word",
            dropped.join(", ")
        ));
    }
    problems.extend(misordered);
    let problems = if problems.is_empty() {
        String::new()
    } else {
        format!(": {}", problems.join("; "))
    };
    Some(Advice {
        code: "pypi-scheme",
        message: format!(
            "channel `pypi` is read under the `{name}` scheme, but PyPI versions follow PEP \
             440{problems}; set `scheme = \"pep440\"` in this server's `release`"
        ),
    })
}

/// The short fix for a notice about versions the scheme cannot read, when there is one.
pub(crate) fn scheme_hint(channel: &str, scheme: VersionScheme) -> Option<String> {
    (channel == "pypi" && scheme != VersionScheme::Pep440)
        .then(|| "PyPI versions follow PEP 440: set `scheme = \"pep440\"`".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_without_a_token_says_the_limit_and_the_fix() {
        assert_eq!(github_token("https://api.github.com", true), None);
        let advice = github_token("https://api.github.com", false).unwrap();
        assert_eq!(advice.code, "github-no-token");
        for needle in ["api.github.com", "60 requests an hour", "304", "token-env"] {
            assert!(
                advice.message.contains(needle),
                "{needle}: {}",
                advice.message
            );
        }
        let enterprise = github_token("https://ghe.example.com/api/v3", false).unwrap();
        assert!(
            enterprise.message.contains("ghe.example.com"),
            "{}",
            enterprise.message
        );
        assert!(
            !enterprise.message.contains("60 requests"),
            "{}",
            enterprise.message
        );
    }

    #[test]
    fn pypi_under_another_scheme_names_what_it_loses() {
        assert_eq!(pypi_scheme(VersionScheme::Pep440), None);
        let semver = pypi_scheme(VersionScheme::Semver).unwrap();
        assert_eq!(semver.code, "pypi-scheme");
        assert!(semver.message.contains("`semver`"), "{}", semver.message);
        assert!(semver.message.contains("1.0rc1"), "{}", semver.message);
        assert!(semver.message.contains("1.0.post1"), "{}", semver.message);
        assert!(
            semver
                .message
                .ends_with("set `scheme = \"pep440\"` in this server's `release`"),
            "{}",
            semver.message
        );
        for scheme in [VersionScheme::Calver, VersionScheme::Loose] {
            assert!(pypi_scheme(scheme).is_some(), "{scheme:?}");
        }
    }
}
