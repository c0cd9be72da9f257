//! License policy (pure data, built by the config module): which licenses are allowed and which
//! finding codes need legal review.

use serde::{Deserialize, Serialize};

use super::code::FindingCode;
use super::identify;

/// What is allowed and what needs review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicensePolicy {
    /// Allowed SPDX ids (`MIT`) or whole expressions (`Apache-2.0 WITH LLVM-exception`).
    /// Empty: no allow list, the `not-allowed` finding is never raised.
    pub allowed: Vec<String>,
    /// Codes that need review. `None`: every non-cosmetic code. Codes that are
    /// [`FindingCode::always_reviewed`] need review regardless.
    pub review_codes: Option<Vec<FindingCode>>,
}

impl LicensePolicy {
    /// True when a finding with `code` needs legal review under this policy.
    #[must_use]
    pub fn needs_review(&self, code: FindingCode) -> bool {
        if code == FindingCode::Unchanged {
            return false;
        }
        if code.always_reviewed() {
            return true;
        }
        match &self.review_codes {
            Some(list) => list.contains(&code),
            None => !code.cosmetic_by_default(),
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
        assert!(p.needs_review(FindingCode::NoticeChanged));
        assert!(p.needs_review(FindingCode::FileAdded));
        assert!(!p.needs_review(FindingCode::CopyrightOnly));
        assert!(!p.needs_review(FindingCode::Unchanged));
    }

    #[test]
    fn operators_can_relax_codes_but_not_the_core_ones() {
        let p = LicensePolicy {
            allowed: Vec::new(),
            review_codes: Some(vec![FindingCode::FileAdded, FindingCode::CopyrightOnly]),
        };
        assert!(!p.needs_review(FindingCode::NoticeChanged));
        assert!(p.needs_review(FindingCode::CopyrightOnly));
        assert!(p.needs_review(FindingCode::TextChanged));
        assert!(p.needs_review(FindingCode::LicenseRemoved));
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
