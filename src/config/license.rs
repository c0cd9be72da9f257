//! `[license]` and `[servers.license]`: which licenses need no review and which finding codes
//! do. A server's table overrides the top-level one key by key.

use serde::Deserialize;

use super::raw::S;
use super::values;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawLicense {
    pub allowed: Option<S<Vec<S<String>>>>,
    pub review_codes: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Clone, Default)]
pub struct LicensePolicyConfig {
    pub allowed: Vec<String>,
    pub review_codes: Option<Vec<String>>,
}

/// The policy of `raw`, on top of `parent` (the top-level policy, for a server's table).
pub fn validate(
    raw: Option<&RawLicense>,
    parent: Option<&LicensePolicyConfig>,
) -> LicensePolicyConfig {
    let mut policy = parent.cloned().unwrap_or_default();
    if let Some(raw) = raw {
        if raw.allowed.is_some() {
            policy.allowed = values::strings(raw.allowed.as_ref());
        }
        if raw.review_codes.is_some() {
            policy.review_codes = Some(values::strings(raw.review_codes.as_ref()));
        }
    }
    policy
}
