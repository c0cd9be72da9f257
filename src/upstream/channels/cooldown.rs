//! Cooldown (bake-in): a release is proposed only once it has been out for a while, so that a
//! broken or malicious release is usually pulled before a rebuild picks it up (pure).
//!
//! A release without a publish time is proposable at once: the channel gave nothing to age it
//! by, and holding it forever would be worse. The git-tags channel passes the commit date, so
//! this only concerns registries that omit times.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::upstream::version::{Version, VersionScheme};

/// Whether a release published at `published` may be proposed at `now`.
///
/// `is_security` (the version is listed as a security release in the config) bypasses the
/// cooldown. A zero cooldown always passes; otherwise a publish time in the future (clock skew)
/// does not.
pub fn cooldown_passed(
    published: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    cooldown: Duration,
    is_security: bool,
) -> bool {
    if is_security || cooldown.is_zero() {
        return true;
    }
    proposable_at(published, cooldown).is_none_or(|at| now >= at)
}

/// When a release published at `published` becomes proposable (None: no publish time, so at
/// once). For reports: "waits for its cooldown until ...".
pub fn proposable_at(
    published: Option<DateTime<Utc>>,
    cooldown: Duration,
) -> Option<DateTime<Utc>> {
    let published = published?;
    // A cooldown too long for chrono is "never" in practice.
    let at = chrono::Duration::from_std(cooldown)
        .ok()
        .and_then(|d| published.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    Some(at)
}

/// Whether `version` is one of the config's `security` versions, compared under `scheme`
/// (so `1.2` matches `1.2.0` in semver). Entries that do not parse match by exact text.
pub fn is_security_release(version: &str, security: &[String], scheme: VersionScheme) -> bool {
    let parsed = Version::parse(scheme, version);
    security
        .iter()
        .any(|s| match (&parsed, Version::parse(scheme, s)) {
            (Some(a), Some(b)) => *a == b,
            _ => s == version,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn cooldown_table() {
        let now = at("2026-03-10T12:00:00Z");
        // (published, cooldown, security, expected, why)
        let cases: [(Option<&str>, Duration, bool, bool, &str); 9] = [
            (
                Some("2026-03-01T12:00:00Z"),
                7 * DAY,
                false,
                true,
                "nine days old",
            ),
            (
                Some("2026-03-03T12:00:00Z"),
                7 * DAY,
                false,
                true,
                "exactly seven days",
            ),
            (
                Some("2026-03-03T12:00:01Z"),
                7 * DAY,
                false,
                false,
                "one second short",
            ),
            (
                Some("2026-03-09T12:00:00Z"),
                7 * DAY,
                false,
                false,
                "one day old",
            ),
            (
                Some("2026-03-09T12:00:00Z"),
                7 * DAY,
                true,
                true,
                "security bypass",
            ),
            (None, 7 * DAY, false, true, "no publish time: proposable"),
            (
                Some("2026-03-11T00:00:00Z"),
                7 * DAY,
                false,
                false,
                "published in the future",
            ),
            (
                Some("2026-03-11T00:00:00Z"),
                Duration::ZERO,
                false,
                true,
                "no cooldown",
            ),
            (
                Some("2026-03-01T00:00:00Z"),
                Duration::MAX,
                false,
                false,
                "absurd cooldown",
            ),
        ];
        for (published, cooldown, security, expected, why) in cases {
            assert_eq!(
                cooldown_passed(published.map(at), now, cooldown, security),
                expected,
                "{why}"
            );
        }
    }

    #[test]
    fn proposable_at_adds_the_cooldown() {
        assert_eq!(
            proposable_at(Some(at("2026-03-01T00:00:00Z")), 7 * DAY),
            Some(at("2026-03-08T00:00:00Z"))
        );
        assert_eq!(proposable_at(None, DAY), None);
    }

    #[test]
    fn security_versions_match_by_scheme() {
        let security = vec!["1.2".to_string(), "weird-tag".to_string()];
        assert!(is_security_release(
            "1.2.0",
            &security,
            VersionScheme::Semver
        ));
        assert!(is_security_release(
            "v1.2.0",
            &security,
            VersionScheme::Semver
        ));
        assert!(!is_security_release(
            "1.2.1",
            &security,
            VersionScheme::Semver
        ));
        assert!(is_security_release(
            "weird-tag",
            &security,
            VersionScheme::Semver
        ));
        assert!(!is_security_release("1.2.0", &[], VersionScheme::Semver));
    }
}
