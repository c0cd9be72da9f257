//! How bad an advisory is, from whatever its record says (pure).
//!
//! Sources, all read, the worst wins (a security tool should not pick the mildest reading):
//! CVSS vectors in `severity[]` and the package's `affected[].severity[]` (scored with the
//! `cvss` crate: v2, v3.0, v3.1, v4.0), the `Ubuntu` priority type, and the qualitative labels
//! databases put in `database_specific.severity` (GitHub: LOW, MODERATE, HIGH, CRITICAL) or
//! `affected[].ecosystem_specific.severity` (RustSec, the PyPA database). A record with none of
//! them is [`Severity::Unknown`].

use std::str::FromStr as _;

use serde::{Deserialize, Serialize};

use super::osv::{SeverityScore, Vuln};
use super::package::PackageRef;
use super::ranges::entries_for;

/// The qualitative severity scale (CVSS v3/v4's, with GitHub's "moderate" read as medium).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No source said; sorted lowest so that any stated severity is "worse".
    #[default]
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Unknown,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// A qualitative label as databases write it; `None` for anything else.
    pub fn from_label(label: &str) -> Option<Severity> {
        match label.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" | "important" => Some(Severity::High),
            "medium" | "moderate" => Some(Severity::Medium),
            "low" | "negligible" => Some(Severity::Low),
            _ => None,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The severity of `vuln` for `package`, and the CVSS vector and score behind it when a
/// vector was the worst source.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Rated {
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// Rates `vuln` as it affects `package`.
pub fn rate(vuln: &Vuln, package: &PackageRef) -> Rated {
    let mut best = Rated::default();
    let mut consider = |candidate: Rated| {
        if candidate.severity > best.severity {
            best = candidate;
        }
    };
    let entries: Vec<_> = entries_for(vuln, package).collect();
    for score in vuln
        .severity
        .iter()
        .chain(entries.iter().flat_map(|a| a.severity.iter()))
    {
        if let Some(rated) = rate_score(score) {
            consider(rated);
        }
    }
    let labels = std::iter::once(vuln.database_specific.as_ref()).chain(
        entries
            .iter()
            .flat_map(|a| [a.ecosystem_specific.as_ref(), a.database_specific.as_ref()]),
    );
    for label in labels
        .flatten()
        .filter_map(|v| v.get("severity").and_then(serde_json::Value::as_str))
        .filter_map(Severity::from_label)
    {
        consider(Rated {
            severity: label,
            cvss: None,
            score: None,
        });
    }
    best
}

fn rate_score(score: &SeverityScore) -> Option<Rated> {
    match score.kind.as_str() {
        "CVSS_V2" | "CVSS_V3" | "CVSS_V4" => {
            let vector = score.score.trim();
            let parsed = cvss::Cvss::from_str(vector).ok()?;
            let value = parsed.score();
            let severity = match parsed.severity() {
                cvss::Severity::Critical => Severity::Critical,
                cvss::Severity::High => Severity::High,
                cvss::Severity::Medium => Severity::Medium,
                // A 0.0 score ("none") still names a published advisory: the mildest label.
                _ => Severity::Low,
            };
            Some(Rated {
                severity,
                cvss: Some(vector.to_string()),
                score: value.is_finite().then_some(value),
            })
        }
        "Ubuntu" => Severity::from_label(&score.score).map(|severity| Rated {
            severity,
            cvss: None,
            score: None,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisories::osv::parse_vuln;
    use crate::advisories::package::Ecosystem;

    fn npm() -> PackageRef {
        PackageRef::new(Ecosystem::Npm, "weather")
    }

    #[test]
    fn cvss_vectors_are_scored() {
        let v = parse_vuln(
            br#"{"id": "GHSA-1", "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
            ]}"#,
        )
        .unwrap();
        let r = rate(&v, &npm());
        assert_eq!(r.severity, Severity::Critical);
        assert_eq!(r.score, Some(9.8));
        let v4 = parse_vuln(
            br#"{"id": "GHSA-2", "severity": [
                {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(rate(&v4, &npm()).severity, Severity::High);
    }

    #[test]
    fn labels_count_and_the_worst_source_wins() {
        let v = parse_vuln(
            br#"{"id": "GHSA-3",
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"}],
                "affected": [{"package": {"ecosystem": "npm", "name": "weather"},
                              "ecosystem_specific": {"severity": "HIGH"}}],
                "database_specific": {"severity": "MODERATE"}}"#,
        )
        .unwrap();
        let r = rate(&v, &npm());
        assert_eq!(r.severity, Severity::High);
        assert_eq!(r.cvss, None);
        let moderate =
            parse_vuln(br#"{"id": "GHSA-4", "database_specific": {"severity": "MODERATE"}}"#)
                .unwrap();
        assert_eq!(rate(&moderate, &npm()).severity, Severity::Medium);
    }

    #[test]
    fn hostile_or_missing_scores_are_unknown_not_a_crash() {
        for score in [
            "",
            "CVSS:3.1/",
            "CVSS:9.9/AV:N",
            "CVSS:3.1/AV:N/AV:N/AV:N",
            "CVSS:4.0/AV:Z",
            "AV:N/AC:L/Au:N/C:P/I:P/A:P/extra",
            "\u{0}\u{202e}",
        ] {
            let v = Vuln {
                severity: vec![SeverityScore {
                    kind: "CVSS_V3".into(),
                    score: score.into(),
                }],
                ..parse_vuln(br#"{"id": "X-1"}"#).unwrap()
            };
            assert_eq!(rate(&v, &npm()).severity, Severity::Unknown, "{score:?}");
        }
        let ordered: Vec<_> = Severity::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(ordered, ["unknown", "low", "medium", "high", "critical"]);
    }
}
