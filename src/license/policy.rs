//! License policy (pure data, built by the config module): which licenses are allowed and which
//! finding codes need legal review.

use serde::{Deserialize, Serialize};

use super::identify;

/// Codes that always need review whatever the policy says: they are the changes upkeep exists to
/// catch, so no configuration can wave them through.
pub const ALWAYS_REVIEW: &[&str] = &[
    "license-removed",
    "text-changed",
    "id-changed",
    "not-allowed",
];

/// Every finding code, for validating `review_codes` in config.
pub const ALL_CODES: &[&str] = &[
    "unchanged",
    "renamed",
    "formatting-only",
    "copyright-only",
    "text-changed",
    "id-changed",
    "file-added",
    "file-removed",
    "manifest-changed",
    "notice-changed",
    "manifest-disagrees",
    "license-removed",
    "not-allowed",
    "binary",
    "too-large",
    "symlink",
    "unreadable",
    "manifest-unparsable",
    "package-added",
    "package-removed",
    "vendored-changed",
];

/// The codes that are cosmetic by default. The last three are below the root: a new package
/// under licenses already declared, a removed package, and vendored third-party trees.
pub const COSMETIC_CODES: &[&str] = &[
    "renamed",
    "formatting-only",
    "copyright-only",
    "package-added",
    "package-removed",
    "vendored-changed",
];

/// What is allowed and what needs review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicensePolicy {
    /// Allowed SPDX ids (`MIT`) or whole expressions (`Apache-2.0 WITH LLVM-exception`).
    /// Empty: no allow list, the `not-allowed` finding is never raised.
    pub allowed: Vec<String>,
    /// Codes that need review. `None`: every non-cosmetic code. Codes in [`ALWAYS_REVIEW`] need
    /// review regardless.
    pub review_codes: Option<Vec<String>>,
}

impl LicensePolicy {
    /// True when a finding with `code` needs legal review under this policy.
    #[must_use]
    pub fn needs_review(&self, code: &str) -> bool {
        if code == "unchanged" {
            return false;
        }
        if ALWAYS_REVIEW.contains(&code) {
            return true;
        }
        match &self.review_codes {
            Some(list) => list.iter().any(|c| c == code),
            None => !COSMETIC_CODES.contains(&code),
        }
    }

    /// True when the allow list is in force.
    #[must_use]
    pub fn has_allow_list(&self) -> bool {
        !self.allowed.is_empty()
    }

    /// True when license `id` is allowed (GNU `-only`/`-or-later` and detector aliases count as
    /// the id itself, since a text cannot tell them apart).
    #[must_use]
    pub fn id_allowed(&self, id: &str) -> bool {
        !self.has_allow_list()
            || self
                .allowed
                .iter()
                .any(|a| a == id || identify::same_license(a, id))
    }

    /// True when an expression is allowed: listed whole, or some choice uses only allowed ids.
    #[must_use]
    pub fn expression_allowed(&self, canonical: &str) -> bool {
        if !self.has_allow_list() || self.allowed.iter().any(|a| a == canonical) {
            return true;
        }
        identify::expression_allowed(canonical, &|id| {
            self.allowed
                .iter()
                .any(|a| a == id || identify::family(a) == identify::family(id))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_reviews_everything_but_cosmetic_codes() {
        let p = LicensePolicy::default();
        assert!(p.needs_review("notice-changed"));
        assert!(p.needs_review("file-added"));
        assert!(!p.needs_review("copyright-only"));
        assert!(!p.needs_review("unchanged"));
    }

    #[test]
    fn operators_can_relax_codes_but_not_the_core_ones() {
        let p = LicensePolicy {
            allowed: Vec::new(),
            review_codes: Some(vec!["file-added".into(), "copyright-only".into()]),
        };
        assert!(!p.needs_review("notice-changed"));
        assert!(p.needs_review("copyright-only"));
        assert!(p.needs_review("text-changed"));
        assert!(p.needs_review("license-removed"));
    }

    #[test]
    fn allow_list() {
        let p = LicensePolicy {
            allowed: vec!["MIT".into(), "Apache-2.0".into(), "GPL-3.0-only".into()],
            review_codes: None,
        };
        assert!(p.id_allowed("MIT"));
        assert!(p.id_allowed("GPL-3.0-or-later"));
        assert!(!p.id_allowed("BUSL-1.1"));
        assert!(p.expression_allowed("MIT OR BUSL-1.1"));
        assert!(!p.expression_allowed("MIT AND BUSL-1.1"));
        assert!(LicensePolicy::default().id_allowed("BUSL-1.1"));
    }
}
