//! The decisions for one server (pure): which advisories affect the pinned release, which affect
//! the proposed one, which the proposed release fixes, and whether any newer proposable release
//! fixes them. Also the error state that keeps the last known answer.
//!
//! A version counts as affected when the service lists the advisory for it, or when the
//! advisory's own ranges include it: the service is the authority on the versions it was asked
//! about (it also matches enumerated versions and git ranges), and a local reading that finds
//! more is reported rather than dropped. Where they disagree a note says so. Releases the
//! service was not asked about are judged by the ranges alone, and only a definite "not
//! affected" counts as a fix.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::fleet::{Detail, FleetAnswer, ServerQuery};
use super::osv::Vuln;
use super::package::PackageRef;
use super::ranges::{Status, compare_versions, fixes_above, status};
use super::severity::{Severity, rate};
use crate::upstream::diff::signals::one_line;

/// Summaries are cut to this many characters (the schema recommends 120).
pub const SUMMARY_CHARS: usize = 200;
/// At most this many notes per server (a hostile record must not flood the report).
const MAX_NOTES: usize = 20;

/// One advisory as the run report, the PR table and the emails show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    /// Other ids of the same advisory (CVE, GHSA, ...).
    pub aliases: Vec<String>,
    pub severity: Severity,
    /// The CVSS vector behind `severity`, when a vector was the worst source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// One line of plain text, cut to [`SUMMARY_CHARS`]; empty when the details are unknown.
    pub summary: String,
    /// The server's packages it affects.
    pub packages: Vec<PackageRef>,
    /// Versions the advisory names as fixed, above the version it was found for.
    pub fixed_in: Vec<String>,
    /// `last_affected` versions (later versions are unaffected; no fix version is named).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_affected: Vec<String>,
    /// The earliest newer proposable release that this advisory does not affect.
    pub fix_release: Option<String>,
    pub modified: String,
    /// Why the details are missing or stale, when they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details_error: Option<String>,
}

/// Why the answer is not current, and how old the kept one is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupFailure {
    pub message: String,
    /// When the kept answer was obtained; `None`: there is no earlier answer (unknown).
    pub last_known_at: Option<DateTime<Utc>>,
    pub age_seconds: Option<i64>,
}

/// A server's advisories: `servers[].advisories` of the run report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvisoryReport {
    /// Advisories affecting the pinned release, worst first.
    pub pinned: Vec<Advisory>,
    /// Advisories affecting the proposed release, worst first.
    pub proposed: Vec<Advisory>,
    /// Ids of the pinned release's advisories that the proposed release does not have.
    pub fixed_by_proposed: Vec<String>,
    /// Set when the service could not be asked: the lists above are then the last known
    /// answer (or empty when there is none), never "no advisories".
    pub error: Option<LookupFailure>,
    pub checked_at: DateTime<Utc>,
    pub pinned_version: Option<String>,
    pub proposed_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl AdvisoryReport {
    /// The error state: `previous` (the last stored report) kept, labelled with its age.
    pub fn unavailable(
        previous: Option<&AdvisoryReport>,
        message: &str,
        now: DateTime<Utc>,
    ) -> AdvisoryReport {
        let message = one_line(message, 500);
        let Some(previous) = previous else {
            return AdvisoryReport {
                pinned: Vec::new(),
                proposed: Vec::new(),
                fixed_by_proposed: Vec::new(),
                error: Some(LookupFailure {
                    message,
                    last_known_at: None,
                    age_seconds: None,
                }),
                checked_at: now,
                pinned_version: None,
                proposed_version: None,
                notes: Vec::new(),
            };
        };
        // A previous failure kept an older answer: that answer's time is still the one to say.
        let last_known_at = match &previous.error {
            Some(failure) => failure.last_known_at,
            None => Some(previous.checked_at),
        };
        AdvisoryReport {
            error: Some(LookupFailure {
                message,
                last_known_at,
                age_seconds: last_known_at.map(|at| (now - at).num_seconds().max(0)),
            }),
            checked_at: now,
            ..previous.clone()
        }
    }

    /// True when the lists are the service's answer of this run.
    pub fn is_current(&self) -> bool {
        self.error.is_none()
    }

    /// True when nothing is known (the service failed and there is no earlier answer).
    pub fn is_unknown(&self) -> bool {
        self.error
            .as_ref()
            .is_some_and(|e| e.last_known_at.is_none())
    }

    /// The worst severity among the advisories affecting the pinned release.
    pub fn worst_pinned(&self) -> Option<Severity> {
        self.pinned.iter().map(|a| a.severity).max()
    }

    /// How many advisories affect the pinned release, per severity (every severity listed,
    /// zeros included, so a metric drops to 0 when an advisory goes away).
    pub fn pinned_counts(&self) -> Vec<(Severity, usize)> {
        Severity::ALL
            .iter()
            .map(|s| (*s, self.pinned.iter().filter(|a| a.severity == *s).count()))
            .collect()
    }

    /// True when the proposed release fixes an advisory of the pinned one: the PR is a
    /// security rebuild (`[security]` title, `security` label, no cooldown).
    pub fn is_security_fix(&self) -> bool {
        !self.fixed_by_proposed.is_empty()
    }

    /// The pinned release's advisories the proposed release fixes.
    pub fn fixed(&self) -> impl Iterator<Item = &Advisory> {
        self.pinned
            .iter()
            .filter(|a| self.fixed_by_proposed.contains(&a.id))
    }

    /// The release that fixes the most pinned advisories soonest: the lowest `fix_release`
    /// (what the pipeline proposes, cooldown skipped, when it is not the proposed release).
    pub fn earliest_fix_release(
        &self,
        scheme: crate::upstream::version::VersionScheme,
    ) -> Option<&str> {
        self.pinned
            .iter()
            .filter_map(|a| a.fix_release.as_deref())
            .min_by(|a, b| compare_versions(scheme, a, b))
    }
}

/// Decides one server's advisories from the fleet's answer.
///
/// `candidates`: the server's releases newer than the pinned one that its release policy
/// allows (prerelease, include, exclude), whether or not their cooldown has passed; any order.
pub fn assess(query: &ServerQuery, candidates: &[String], answer: &FleetAnswer) -> AdvisoryReport {
    let mut notes = Vec::new();
    let mut pinned = Vec::new();
    let mut proposed = Vec::new();
    let mut fixed_by_proposed = Vec::new();
    let ids: BTreeSet<&str> = [&query.pinned, &query.proposed]
        .into_iter()
        .flatten()
        .flat_map(|version| {
            query
                .packages
                .iter()
                .filter_map(move |p| answer.listed(p, version))
        })
        .flatten()
        .map(|v| v.id.as_str())
        .collect();
    for id in ids {
        let detail = answer.details.get(id);
        let vuln = detail.and_then(Detail::vuln);
        if let Some(withdrawn) = vuln.and_then(|v| v.withdrawn.as_deref()) {
            notes.push(format!("{id} was withdrawn ({withdrawn}); ignored"));
            continue;
        }
        let judge = |version: &Option<String>, notes: &mut Vec<String>| {
            version
                .as_deref()
                .map(|v| affected_packages(query, answer, id, vuln, v, notes))
                .unwrap_or_default()
        };
        let on_pinned = judge(&query.pinned, &mut notes);
        let on_proposed = judge(&query.proposed, &mut notes);
        let make = |packages: &[PackageRef], base: &str, proposed_fixes: bool| {
            let context = Context {
                query,
                candidates,
                vuln,
                detail,
            };
            context.advisory(id, packages, base, proposed_fixes)
        };
        if let Some(base) = query.pinned.as_deref()
            && !on_pinned.is_empty()
        {
            let fixes = query.proposed.is_some() && on_proposed.is_empty();
            if fixes {
                fixed_by_proposed.push(id.to_string());
            }
            pinned.push(make(&on_pinned, base, fixes));
        }
        if let Some(base) = query.proposed.as_deref()
            && !on_proposed.is_empty()
        {
            proposed.push(make(&on_proposed, base, false));
        }
    }
    let by_severity =
        |a: &Advisory, b: &Advisory| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id));
    pinned.sort_by(by_severity);
    proposed.sort_by(by_severity);
    if notes.len() > MAX_NOTES {
        let more = notes.len() - MAX_NOTES;
        notes.truncate(MAX_NOTES);
        notes.push(format!("… {more} more notes"));
    }
    AdvisoryReport {
        pinned,
        proposed,
        fixed_by_proposed,
        error: None,
        checked_at: answer.checked_at,
        pinned_version: query.pinned.clone(),
        proposed_version: query.proposed.clone(),
        notes,
    }
}

/// The server's packages that advisory `id` affects at `version`: listed by the service, or
/// included by the advisory's ranges. Disagreements become notes.
fn affected_packages(
    query: &ServerQuery,
    answer: &FleetAnswer,
    id: &str,
    vuln: Option<&Vuln>,
    version: &str,
    notes: &mut Vec<String>,
) -> Vec<PackageRef> {
    let mut out = Vec::new();
    for package in &query.packages {
        let listed = answer
            .listed(package, version)
            .is_some_and(|refs| refs.iter().any(|r| r.id == id));
        let local = vuln.map(|v| status(v, package, &package.ecosystem.query_version(version)));
        match (listed, local) {
            (true, Some(Status::NotAffected)) => notes.push(format!(
                "{id}: the service lists {package} {version} as affected though the advisory's ranges exclude it; taken as affected"
            )),
            (false, Some(Status::Affected)) => notes.push(format!(
                "{id}: the advisory's ranges include {package} {version} though the service did not list it; taken as affected"
            )),
            _ => {}
        }
        if listed || local == Some(Status::Affected) {
            out.push(package.clone());
        }
    }
    out
}

/// What building one [`Advisory`] needs.
struct Context<'a> {
    query: &'a ServerQuery,
    candidates: &'a [String],
    vuln: Option<&'a Vuln>,
    detail: Option<&'a Detail>,
}

impl Context<'_> {
    /// The advisory as found at release `base` for `packages`. `proposed_fixes`: the proposed
    /// release is known not to be affected (the service's answer counts for it).
    fn advisory(
        &self,
        id: &str,
        packages: &[PackageRef],
        base: &str,
        proposed_fixes: bool,
    ) -> Advisory {
        let mut fixed_in = Vec::new();
        let mut last_affected = Vec::new();
        let mut rated = super::severity::Rated::default();
        if let Some(vuln) = self.vuln {
            for package in packages {
                let (fixed, last) =
                    fixes_above(vuln, package, &package.ecosystem.query_version(base));
                merge(&mut fixed_in, fixed);
                merge(&mut last_affected, last);
                let r = rate(vuln, package);
                if r.severity > rated.severity {
                    rated = r;
                }
            }
        }
        Advisory {
            id: id.to_string(),
            aliases: self.vuln.map(|v| v.aliases.clone()).unwrap_or_default(),
            severity: rated.severity,
            cvss: rated.cvss,
            score: rated.score,
            summary: self.vuln.map(summary).unwrap_or_default(),
            packages: packages.to_vec(),
            fixed_in,
            last_affected,
            fix_release: self.fix_release(packages, base, proposed_fixes),
            modified: self.vuln.map(|v| v.modified.clone()).unwrap_or_default(),
            details_error: self
                .detail
                .and_then(Detail::error)
                .map(|e| one_line(e, 300)),
        }
    }

    /// The earliest candidate release above `base` that the advisory does not affect.
    fn fix_release(
        &self,
        packages: &[PackageRef],
        base: &str,
        proposed_fixes: bool,
    ) -> Option<String> {
        let scheme = packages.first()?.ecosystem.scheme();
        let mut releases: Vec<&str> = self
            .candidates
            .iter()
            .map(String::as_str)
            .chain(self.query.proposed.as_deref())
            .filter(|c| compare_versions(scheme, c, base).is_gt())
            .collect();
        releases.sort_by(|a, b| compare_versions(scheme, a, b));
        releases.dedup();
        releases
            .into_iter()
            .find(|release| {
                if self.query.proposed.as_deref() == Some(*release) {
                    return proposed_fixes;
                }
                self.vuln.is_some_and(|vuln| {
                    packages.iter().all(|p| {
                        status(vuln, p, &p.ecosystem.query_version(release)) == Status::NotAffected
                    })
                })
            })
            .map(str::to_string)
    }
}

fn merge(into: &mut Vec<String>, more: Vec<String>) {
    for m in more {
        if !into.contains(&m) {
            into.push(m);
        }
    }
}

/// The one-line summary: `summary`, else the first line of `details`, as plain text.
fn summary(vuln: &Vuln) -> String {
    let text = vuln
        .summary
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            vuln.details
                .as_deref()
                .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
        })
        .unwrap_or_default();
    plain_line(text, SUMMARY_CHARS)
}

/// Text from an advisory record as one line of plain text: control characters and the
/// invisible formatting characters that can reorder or hide text (bidi overrides, zero-width
/// characters) removed, cut to `max` characters.
pub fn plain_line(text: &str, max: usize) -> String {
    let visible: String = text
        .chars()
        .filter(|c| {
            !matches!(
                *c,
                '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{061c}'
            )
        })
        .collect();
    one_line(&visible, max)
}

#[cfg(test)]
mod tests;
