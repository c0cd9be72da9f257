//! Version schemes (temporary minimal version; the full one is being written).

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionScheme {
    #[default]
    Semver,
    Pep440,
    Calver,
    Loose,
}

#[derive(Debug, Clone)]
pub struct Version {
    raw: String,
    parsed: semver::Version,
}

impl Version {
    pub fn parse(_scheme: VersionScheme, raw: &str) -> Option<Version> {
        let s = raw.trim_start_matches(['v', 'V']);
        let parsed = semver::Version::parse(s).ok()?;
        Some(Version {
            raw: raw.to_string(),
            parsed,
        })
    }
    pub fn is_prerelease(&self) -> bool {
        !self.parsed.pre.is_empty()
    }
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Version {}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parsed.cmp_precedence(&other.parsed)
    }
}
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}
