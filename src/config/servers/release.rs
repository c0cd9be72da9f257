//! `[servers] release`: where a server's releases come from and which of them count (tag
//! pattern, version scheme, prereleases, include/exclude, cooldown, cross-checks).

use std::ops::Range;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use super::channels::Channel;
use crate::config::diag::Diagnostics;
use crate::config::raw::S;
use crate::config::values;
use crate::upstream::version::VersionScheme;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawRelease {
    pub channel: Option<S<String>>,
    pub tag_pattern: Option<S<String>>,
    pub prerelease: Option<S<bool>>,
    pub scheme: Option<S<String>>,
    pub include: Option<S<String>>,
    pub exclude: Option<S<String>>,
    pub cooldown: Option<S<String>>,
    pub security: Option<S<Vec<S<String>>>>,
    pub verify: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Clone)]
pub struct ReleaseConfig {
    pub channel: Channel,
    /// Matches a tag name (without `refs/tags/`); capture group 1 (or `version`) is the version.
    pub tag_pattern: Regex,
    pub prerelease: bool,
    pub scheme: VersionScheme,
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    /// A release is proposed only once it is this old (bake-in); zero: at once.
    pub cooldown: Duration,
    /// Versions marked as security releases: they skip the cooldown.
    pub security: Vec<String>,
    /// Channels cross-checked against the git tags.
    pub verify: Vec<Channel>,
}

const KNOWN_CHANNELS: &str =
    "\"git-tags\", \"github-releases\", \"npm\", \"pypi\", \"mcp-registry\"";

pub fn validate(
    r: Option<&S<RawRelease>>,
    who: &str,
    span: Range<usize>,
    d: &mut Diagnostics<'_>,
) -> Option<ReleaseConfig> {
    let Some(r) = r else {
        d.at(
            Some(span),
            "missing-key",
            format!(
                "{who} has no `release` (e.g. release = {{ channel = \"git-tags\", \
                 tag-pattern = \"^v(.+)$\" }})"
            ),
        );
        return None;
    };
    let r = r.get_ref();
    let channel = match r.channel.as_ref() {
        None => Some(Channel::GitTags),
        Some(c) => Channel::parse(c.get_ref()).or_else(|| {
            d.at(
                Some(c.span()),
                "invalid-value",
                format!(
                    "{who}: unknown release channel `{}` (known: {KNOWN_CHANNELS})",
                    c.get_ref()
                ),
            );
            None
        }),
    };
    let verify = verify(r.verify.as_ref(), who, d);
    let cooldown = values::duration(d, r.cooldown.as_ref(), "cooldown", Duration::ZERO);
    let tag_pattern = tag_pattern(r.tag_pattern.as_ref(), who, d);
    let include = r
        .include
        .as_ref()
        .and_then(|p| values::regex(d, p, "include", who));
    let exclude = r
        .exclude
        .as_ref()
        .and_then(|p| values::regex(d, p, "exclude", who));
    let scheme = scheme(r.scheme.as_ref(), who, d);
    Some(ReleaseConfig {
        channel: channel?,
        tag_pattern: tag_pattern?,
        prerelease: r.prerelease.as_ref().is_some_and(|p| *p.get_ref()),
        scheme,
        include,
        exclude,
        cooldown,
        security: values::strings(r.security.as_ref()),
        verify,
    })
}

/// The registries cross-checked against the git tags (never `git-tags` itself).
fn verify(raw: Option<&S<Vec<S<String>>>>, who: &str, d: &mut Diagnostics<'_>) -> Vec<Channel> {
    let mut verify = Vec::new();
    for v in raw.map(|l| l.get_ref().as_slice()).unwrap_or_default() {
        match Channel::parse(v.get_ref()) {
            Some(Channel::GitTags) => d.at(
                Some(v.span()),
                "invalid-value",
                format!(
                    "{who}: `verify` lists registries to check against the git tags; \
                     `git-tags` itself cannot be one"
                ),
            ),
            Some(c) => verify.push(c),
            None => d.at(
                Some(v.span()),
                "invalid-value",
                format!(
                    "{who}: unknown channel `{}` in `verify` (known: {KNOWN_CHANNELS})",
                    v.get_ref()
                ),
            ),
        }
    }
    verify
}

fn tag_pattern(raw: Option<&S<String>>, who: &str, d: &mut Diagnostics<'_>) -> Option<Regex> {
    let Some(p) = raw else {
        return Regex::new(r"^v?(\d.*)$").ok();
    };
    let re = values::regex(d, p, "tag-pattern", who)?;
    if re.captures_len() < 2 {
        d.at(
            Some(p.span()),
            "invalid-regex",
            format!("{who}: `tag-pattern` needs a capture group for the version, e.g. \"^v(.+)$\""),
        );
        return None;
    }
    Some(re)
}

fn scheme(raw: Option<&S<String>>, who: &str, d: &mut Diagnostics<'_>) -> VersionScheme {
    match raw.map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("semver", _)) => VersionScheme::Semver,
        Some(("pep440", _)) => VersionScheme::Pep440,
        Some(("calver", _)) => VersionScheme::Calver,
        Some(("loose", _)) => VersionScheme::Loose,
        Some((other, span)) => {
            d.at(
                Some(span),
                "invalid-value",
                format!(
                    "{who}: version scheme `{other}` is not one of \"semver\", \"pep440\", \
                     \"calver\", \"loose\""
                ),
            );
            VersionScheme::Semver
        }
    }
}
