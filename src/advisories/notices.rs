//! Whom to tell what, once (pure): the owner notices a server's advisory report calls for, each
//! with the outbox dedupe key that makes it go out once.
//!
//! - the pinned release is affected and a release fixes it: once per advisory
//!   (`{server}:advisory-fix:{id}`), whichever release it is;
//! - the pinned release is affected and nothing fixes it yet: once per advisory
//!   (`{server}:advisory-open:{id}`); when a fix appears the fix notice is a new key, so the
//!   owners are told again;
//! - the proposed release is itself affected: once per proposed version and advisory
//!   (`{server}:advisory-proposed:{version}:{id}`).
//!
//! Only a current answer calls for notices: an error state repeats an answer whose notices
//! went out when it was current, and a withdrawn advisory is not in any list.

use super::assess::{Advisory, AdvisoryReport};

/// One thing the owners of a server should hear about.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice<'a> {
    /// The pinned release is affected; `release` fixes it.
    FixAvailable {
        advisory: &'a Advisory,
        release: &'a str,
    },
    /// The pinned release is affected; no proposable release fixes it yet.
    NoFixYet { advisory: &'a Advisory },
    /// The proposed release `version` is itself affected.
    ProposedAffected {
        advisory: &'a Advisory,
        version: &'a str,
    },
}

impl Notice<'_> {
    /// The outbox dedupe key (the email goes out once per key).
    pub fn dedupe_key(&self, server: &str) -> String {
        match self {
            Notice::FixAvailable { advisory, .. } => {
                format!("{server}:advisory-fix:{}", advisory.id)
            }
            Notice::NoFixYet { advisory } => format!("{server}:advisory-open:{}", advisory.id),
            Notice::ProposedAffected { advisory, version } => {
                format!("{server}:advisory-proposed:{version}:{}", advisory.id)
            }
        }
    }

    pub fn advisory(&self) -> &Advisory {
        match self {
            Notice::FixAvailable { advisory, .. }
            | Notice::NoFixYet { advisory }
            | Notice::ProposedAffected { advisory, .. } => advisory,
        }
    }
}

/// The notices `report` calls for, pinned ones first (worst first, as the report orders them).
pub fn notices(report: &AdvisoryReport) -> Vec<Notice<'_>> {
    if !report.is_current() {
        return Vec::new();
    }
    let mut out: Vec<Notice<'_>> = report
        .pinned
        .iter()
        .map(|advisory| match advisory.fix_release.as_deref() {
            Some(release) => Notice::FixAvailable { advisory, release },
            None => Notice::NoFixYet { advisory },
        })
        .collect();
    if let Some(version) = report.proposed_version.as_deref() {
        out.extend(
            report
                .proposed
                .iter()
                .map(|advisory| Notice::ProposedAffected { advisory, version }),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};

    use super::*;
    use crate::advisories::severity::Severity;

    fn adv(id: &str, fix: Option<&str>) -> Advisory {
        Advisory {
            id: id.into(),
            aliases: Vec::new(),
            severity: Severity::High,
            cvss: None,
            score: None,
            summary: String::new(),
            packages: Vec::new(),
            fixed_in: Vec::new(),
            last_affected: Vec::new(),
            fix_release: fix.map(str::to_string),
            modified: String::new(),
            details_error: None,
        }
    }

    fn report(pinned: Vec<Advisory>, proposed: Vec<Advisory>) -> AdvisoryReport {
        AdvisoryReport {
            pinned,
            proposed,
            fixed_by_proposed: Vec::new(),
            error: None,
            checked_at: Utc.with_ymd_and_hms(2026, 11, 27, 6, 0, 0).unwrap(),
            pinned_version: Some("1.4.2".into()),
            proposed_version: Some("1.6.0".into()),
            notes: Vec::new(),
        }
    }

    #[test]
    fn notices_and_their_keys() {
        let r = report(
            vec![adv("GHSA-fix", Some("1.5.1")), adv("GHSA-open", None)],
            vec![adv("GHSA-open", None)],
        );
        let keys: Vec<String> = notices(&r)
            .iter()
            .map(|n| n.dedupe_key("weather"))
            .collect();
        assert_eq!(
            keys,
            [
                "weather:advisory-fix:GHSA-fix",
                "weather:advisory-open:GHSA-open",
                "weather:advisory-proposed:1.6.0:GHSA-open",
            ]
        );
        // A fix appearing later is a new key: the owners hear again.
        let later = report(vec![adv("GHSA-open", Some("1.7.0"))], Vec::new());
        assert_eq!(
            notices(&later)[0].dedupe_key("weather"),
            "weather:advisory-fix:GHSA-open"
        );
    }

    #[test]
    fn a_stale_or_unknown_answer_calls_for_nothing() {
        let r = report(vec![adv("GHSA-fix", Some("1.5.1"))], Vec::new());
        let now = r.checked_at;
        assert!(notices(&AdvisoryReport::unavailable(Some(&r), "down", now)).is_empty());
        assert!(notices(&AdvisoryReport::unavailable(None, "down", now)).is_empty());
    }
}
