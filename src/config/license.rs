//! `[license]` and `[servers.license]`: which licenses need no review and which finding codes
//! do. A server's table overrides the top-level one key by key.

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
}

#[derive(Debug, Clone, Default)]
pub struct LicensePolicyConfig {
    pub allowed: Vec<String>,
    pub review_codes: Option<Vec<FindingCode>>,
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
