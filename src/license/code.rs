//! License finding codes (pure data): one enum, so the list of codes, the config's
//! `review-codes` parser, the severity order and the docs cannot drift apart.
//!
//! The names are the stable kebab-case codes of reports, PR bodies and emails (`text-changed`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What one license finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingCode {
    Unchanged,
    Renamed,
    FormattingOnly,
    CopyrightOnly,
    TextChanged,
    IdChanged,
    FileAdded,
    FileRemoved,
    ManifestChanged,
    NoticeChanged,
    ManifestDisagrees,
    LicenseRemoved,
    NotAllowed,
    Binary,
    TooLarge,
    Symlink,
    Unreadable,
    ManifestUnparsable,
    PackageAdded,
    PackageRemoved,
    VendoredChanged,
}

impl FindingCode {
    /// Every code, in the order of the docs.
    pub const ALL: [FindingCode; 21] = [
        Self::Unchanged,
        Self::Renamed,
        Self::FormattingOnly,
        Self::CopyrightOnly,
        Self::TextChanged,
        Self::IdChanged,
        Self::FileAdded,
        Self::FileRemoved,
        Self::ManifestChanged,
        Self::NoticeChanged,
        Self::ManifestDisagrees,
        Self::LicenseRemoved,
        Self::NotAllowed,
        Self::Binary,
        Self::TooLarge,
        Self::Symlink,
        Self::Unreadable,
        Self::ManifestUnparsable,
        Self::PackageAdded,
        Self::PackageRemoved,
        Self::VendoredChanged,
    ];

    /// The stable kebab-case code.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unchanged => "unchanged",
            Self::Renamed => "renamed",
            Self::FormattingOnly => "formatting-only",
            Self::CopyrightOnly => "copyright-only",
            Self::TextChanged => "text-changed",
            Self::IdChanged => "id-changed",
            Self::FileAdded => "file-added",
            Self::FileRemoved => "file-removed",
            Self::ManifestChanged => "manifest-changed",
            Self::NoticeChanged => "notice-changed",
            Self::ManifestDisagrees => "manifest-disagrees",
            Self::LicenseRemoved => "license-removed",
            Self::NotAllowed => "not-allowed",
            Self::Binary => "binary",
            Self::TooLarge => "too-large",
            Self::Symlink => "symlink",
            Self::Unreadable => "unreadable",
            Self::ManifestUnparsable => "manifest-unparsable",
            Self::PackageAdded => "package-added",
            Self::PackageRemoved => "package-removed",
            Self::VendoredChanged => "vendored-changed",
        }
    }

    /// One line for people: what the finding means.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Self::Unchanged => "the license file or field is byte-for-byte the same",
            Self::Renamed => "a license file moved to another path with the same text",
            Self::FormattingOnly => "only whitespace, line wrapping or markup changed",
            Self::CopyrightOnly => "only copyright lines (years, holders) changed",
            Self::TextChanged => "the license text changed beyond copyright lines and formatting",
            Self::IdChanged => "the detected license (SPDX id) changed",
            Self::FileAdded => "a license, notice or patent file was added",
            Self::FileRemoved => "a license, notice or patent file was removed",
            Self::ManifestChanged => "a package manifest's license field changed",
            Self::NoticeChanged => "a NOTICE file changed",
            Self::ManifestDisagrees => "a manifest declares a license the license files do not",
            Self::LicenseRemoved => "the project no longer has any license file or field",
            Self::NotAllowed => "a license outside the allow list appeared",
            Self::Binary => "a license file is binary and cannot be judged",
            Self::TooLarge => "a license file is too large to judge",
            Self::Symlink => "a license file is a symlink, which is not followed",
            Self::Unreadable => "a license file could not be read",
            Self::ManifestUnparsable => "a package manifest could not be parsed",
            Self::PackageAdded => {
                "a new package declares only licenses the pinned release already declares"
            }
            Self::PackageRemoved => "a whole package (with its license files) was removed",
            Self::VendoredChanged => {
                "a license changed in a vendored third-party tree (vendor/, third_party/, node_modules/)"
            }
        }
    }

    /// Rank among findings of the same verdict, for picking the headline (higher first).
    #[must_use]
    pub fn severity(self) -> u8 {
        match self {
            Self::LicenseRemoved => 100,
            Self::NotAllowed => 95,
            Self::IdChanged => 90,
            Self::TextChanged => 85,
            Self::FileRemoved => 80,
            Self::ManifestChanged => 75,
            Self::ManifestDisagrees => 70,
            Self::Symlink => 65,
            Self::TooLarge => 64,
            Self::Binary => 63,
            Self::Unreadable => 62,
            Self::ManifestUnparsable => 61,
            Self::FileAdded => 60,
            Self::NoticeChanged => 55,
            Self::VendoredChanged => 30,
            Self::PackageAdded => 25,
            Self::PackageRemoved => 24,
            Self::CopyrightOnly => 20,
            Self::FormattingOnly => 15,
            Self::Renamed => 10,
            Self::Unchanged => 0,
        }
    }

    /// Needs review whatever the policy says: these are the changes upkeep exists to catch,
    /// so no configuration can wave them through.
    #[must_use]
    pub fn always_reviewed(self) -> bool {
        matches!(
            self,
            Self::LicenseRemoved | Self::TextChanged | Self::IdChanged | Self::NotAllowed
        )
    }

    /// Cosmetic unless `review-codes` names it.
    #[must_use]
    pub fn cosmetic_by_default(self) -> bool {
        matches!(
            self,
            Self::Renamed
                | Self::FormattingOnly
                | Self::CopyrightOnly
                // Below the root: a new package under licenses already declared, a removed
                // package, and vendored third-party trees.
                | Self::PackageAdded
                | Self::PackageRemoved
                | Self::VendoredChanged
        )
    }

    /// The code closest to a misspelt one, for a did-you-mean.
    #[must_use]
    pub fn closest(text: &str) -> Option<FindingCode> {
        let text = text.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .map(|c| (strsim::jaro_winkler(&text, c.as_str()), c))
            // 0.8: close enough that the suggestion is usually what was meant (`text-chaged`,
            // `copyright`), far enough that unrelated words get none.
            .filter(|(score, _)| *score >= 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, c)| c)
    }
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of [`FindingCode::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCode;

impl FromStr for FindingCode {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(UnknownCode)
    }
}

/// Comparing with the kebab-case code reads as the reports do (`f.code == "text-changed"`).
impl PartialEq<str> for FindingCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for FindingCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for c in FindingCode::ALL {
            assert_eq!(c.as_str().parse::<FindingCode>(), Ok(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{c}\""));
            assert!(!c.description().is_empty());
        }
        assert_eq!("Text-Changed".parse::<FindingCode>(), Err(UnknownCode));
    }

    #[test]
    fn severities_are_distinct_so_the_headline_is_stable() {
        let mut seen = std::collections::HashSet::new();
        for c in FindingCode::ALL {
            assert!(seen.insert(c.severity()), "{c} shares a severity");
        }
    }

    #[test]
    fn did_you_mean() {
        let close = [
            ("text-chaged", FindingCode::TextChanged),
            ("copyright", FindingCode::CopyrightOnly),
            ("file_added", FindingCode::FileAdded),
            ("licence-removed", FindingCode::LicenseRemoved),
            ("ID-CHANGED", FindingCode::IdChanged),
        ];
        for (typo, meant) in close {
            assert_eq!(FindingCode::closest(typo), Some(meant), "{typo}");
        }
        assert_eq!(FindingCode::closest("weather"), None);
    }
}
