use std::collections::BTreeMap;

use chrono::TimeZone as _;

use super::*;
use crate::advisories::osv::{PackageQuery, VulnRef, parse_vuln};
use crate::advisories::package::Ecosystem;

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, hour, 0, 0).unwrap()
}

fn npm() -> PackageRef {
    PackageRef::new(Ecosystem::Npm, "weather")
}

/// An npm advisory for `weather` with one SEMVER range.
fn advisory(id: &str, introduced: &str, fixed: Option<&str>, severity: &str) -> Vuln {
    let fixed = fixed.map_or(String::new(), |f| format!(r#", {{"fixed": "{f}"}}"#));
    parse_vuln(
        format!(
            r#"{{"id": "{id}", "modified": "2026-11-01T00:00:00Z", "aliases": ["CVE-2026-{}"],
                "summary": "Problem in {id}",
                "affected": [{{"package": {{"ecosystem": "npm", "name": "weather"}},
                  "ranges": [{{"type": "SEMVER", "events": [{{"introduced": "{introduced}"}}{fixed}]}}]}}],
                "database_specific": {{"severity": "{severity}"}}}}"#,
            id.len()
        )
        .as_bytes(),
    )
    .unwrap()
}

/// A fleet answer in which the service lists, per version, the given ids.
fn answer(listed: &[(&str, &[&str])], vulns: &[Vuln]) -> FleetAnswer {
    let mut matches = BTreeMap::new();
    for (version, ids) in listed {
        matches.insert(
            PackageQuery {
                package: npm(),
                version: (*version).to_string(),
            },
            ids.iter()
                .map(|id| VulnRef {
                    id: (*id).to_string(),
                    modified: "2026-11-01T00:00:00Z".into(),
                })
                .collect(),
        );
    }
    FleetAnswer {
        matches,
        details: vulns
            .iter()
            .map(|v| (v.id.clone(), Detail::Current(v.clone())))
            .collect(),
        checked_at: at(6),
        detail_fetches: 0,
    }
}

fn query(pinned: &str, proposed: Option<&str>) -> ServerQuery {
    ServerQuery {
        server: "weather".into(),
        packages: vec![npm()],
        pinned: Some(pinned.into()),
        proposed: proposed.map(str::to_string),
    }
}

#[test]
fn the_proposed_release_fixes_the_pinned_advisory() {
    let a = advisory("GHSA-fix1", "0", Some("1.5.1"), "HIGH");
    let fleet = answer(&[("1.4.2", &["GHSA-fix1"]), ("1.6.0", &[])], &[a]);
    let report = assess(
        &query("v1.4.2", Some("v1.6.0")),
        &["1.5.0".into(), "1.5.1".into(), "1.6.0".into()],
        &fleet,
    );
    assert_eq!(report.fixed_by_proposed, vec!["GHSA-fix1"]);
    assert!(report.is_security_fix());
    assert!(report.proposed.is_empty());
    let p = &report.pinned[0];
    assert_eq!(p.fixed_in, vec!["1.5.1"]);
    assert_eq!(p.fix_release.as_deref(), Some("1.5.1"));
    assert_eq!(p.severity, Severity::High);
    assert_eq!(p.aliases, vec!["CVE-2026-9"]);
    assert_eq!(report.worst_pinned(), Some(Severity::High));
    assert_eq!(report.pinned_counts()[3], (Severity::High, 1));
    assert_eq!(report.pinned_counts().iter().map(|c| c.1).sum::<usize>(), 1);
    assert!(report.notes.is_empty(), "{:?}", report.notes);
}

#[test]
fn no_fixed_release_upstream_yet() {
    let a = advisory("GHSA-open", "1.0.0", None, "CRITICAL");
    let fleet = answer(
        &[("1.4.2", &["GHSA-open"]), ("1.6.0", &["GHSA-open"])],
        &[a],
    );
    let report = assess(&query("1.4.2", Some("1.6.0")), &["1.6.0".into()], &fleet);
    assert!(report.fixed_by_proposed.is_empty());
    assert!(!report.is_security_fix());
    assert_eq!(report.pinned[0].fix_release, None);
    assert!(report.pinned[0].fixed_in.is_empty());
    // The proposed release is itself affected.
    assert_eq!(report.proposed[0].id, "GHSA-open");
}

#[test]
fn a_fix_in_a_newer_release_than_the_proposed_one_is_found() {
    // The proposed release (in cooldown order, 1.5.0) is still affected; 1.5.2 fixes it.
    let a = advisory("GHSA-later", "0", Some("1.5.2"), "MODERATE");
    let fleet = answer(
        &[("1.4.2", &["GHSA-later"]), ("1.5.0", &["GHSA-later"])],
        &[a],
    );
    let report = assess(
        &query("1.4.2", Some("1.5.0")),
        &["1.5.2".into(), "1.5.0".into(), "2.0.0-rc.1".into()],
        &fleet,
    );
    assert!(report.fixed_by_proposed.is_empty());
    assert_eq!(report.pinned[0].fix_release.as_deref(), Some("1.5.2"));
    assert_eq!(report.proposed[0].fix_release.as_deref(), Some("1.5.2"));
    assert_eq!(
        report.earliest_fix_release(crate::upstream::version::VersionScheme::Semver),
        Some("1.5.2")
    );
}

#[test]
fn withdrawn_advisories_are_ignored_with_a_note() {
    let mut a = advisory("GHSA-gone", "0", Some("2.0.0"), "HIGH");
    a.withdrawn = Some("2026-11-20T00:00:00Z".into());
    let fleet = answer(&[("1.4.2", &["GHSA-gone"])], &[a]);
    let report = assess(&query("1.4.2", None), &[], &fleet);
    assert!(report.pinned.is_empty());
    assert!(report.notes[0].contains("GHSA-gone was withdrawn"));
}

#[test]
fn service_and_ranges_disagreeing_is_affected_and_noted() {
    // The service lists 1.6.0 although the ranges say 1.5.1 fixed it: trust the service.
    let a = advisory("GHSA-odd", "0", Some("1.5.1"), "LOW");
    let fleet = answer(&[("1.4.2", &["GHSA-odd"]), ("1.6.0", &["GHSA-odd"])], &[a]);
    let report = assess(&query("1.4.2", Some("1.6.0")), &[], &fleet);
    assert_eq!(report.proposed.len(), 1);
    assert!(report.fixed_by_proposed.is_empty());
    assert!(report.notes.iter().any(|n| n.contains("taken as affected")));
}

#[test]
fn missing_details_keep_the_id_and_the_services_answer() {
    let mut fleet = answer(&[("1.4.2", &["GHSA-nodetail"]), ("1.6.0", &[])], &[]);
    fleet.details.insert(
        "GHSA-nodetail".into(),
        Detail::Missing {
            error: "GET …: 503".into(),
        },
    );
    let report = assess(&query("1.4.2", Some("1.6.0")), &["1.5.0".into()], &fleet);
    let p = &report.pinned[0];
    assert_eq!(p.id, "GHSA-nodetail");
    assert_eq!(p.severity, Severity::Unknown);
    assert!(p.details_error.as_deref().unwrap().contains("503"));
    // Only the proposed release is known to be unaffected (the service said so); 1.5.0 is not
    // judged without the advisory's ranges.
    assert_eq!(p.fix_release.as_deref(), Some("1.6.0"));
    assert_eq!(report.fixed_by_proposed, vec!["GHSA-nodetail"]);
}

#[test]
fn the_error_state_keeps_the_last_answer_and_its_age() {
    let a = advisory("GHSA-kept", "0", None, "HIGH");
    let fleet = answer(&[("1.4.2", &["GHSA-kept"])], &[a]);
    let good = assess(&query("1.4.2", None), &[], &fleet);
    let failed = AdvisoryReport::unavailable(Some(&good), "POST …: 503", at(9));
    assert_eq!(failed.pinned, good.pinned);
    let error = failed.error.as_ref().unwrap();
    assert_eq!(error.last_known_at, Some(at(6)));
    assert_eq!(error.age_seconds, Some(3 * 3600));
    assert!(!failed.is_current() && !failed.is_unknown());
    // A second failure still dates the answer from the last success.
    let again = AdvisoryReport::unavailable(Some(&failed), "down", at(12));
    assert_eq!(again.error.as_ref().unwrap().age_seconds, Some(6 * 3600));
    let unknown = AdvisoryReport::unavailable(None, "down", at(12));
    assert!(unknown.is_unknown());
    let json = serde_json::to_value(&good).unwrap();
    assert_eq!(json["error"], serde_json::Value::Null);
    assert_eq!(json["fixed_by_proposed"], serde_json::json!([]));
    let round: AdvisoryReport =
        serde_json::from_value(serde_json::to_value(&failed).unwrap()).unwrap();
    assert_eq!(round, failed);
}

#[test]
fn hostile_summaries_become_one_plain_line() {
    assert_eq!(
        plain_line("a\u{202e}evil\u{200b}\nline\t two", 50),
        "aevil line two"
    );
    assert_eq!(plain_line(&"x".repeat(300), 10).chars().count(), 10);
}
