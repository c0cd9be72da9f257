use chrono::TimeZone as _;

use super::*;
use crate::advisories::assess::LookupFailure;
use crate::advisories::package::{Ecosystem, PackageRef};
use crate::advisories::severity::Severity;

fn adv(id: &str, severity: Severity, summary: &str, fixed: &[&str]) -> Advisory {
    Advisory {
        id: id.into(),
        aliases: vec!["CVE-2026-1234".into()],
        severity,
        cvss: (severity == Severity::High)
            .then(|| "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:N".to_string()),
        score: (severity == Severity::High).then_some(8.1),
        summary: summary.into(),
        packages: vec![PackageRef::new(Ecosystem::Npm, "weather-mcp")],
        fixed_in: fixed.iter().map(|s| s.to_string()).collect(),
        last_affected: Vec::new(),
        fix_release: fixed.first().map(|s| s.to_string()),
        modified: "2026-11-20T00:00:00Z".into(),
        details_error: None,
    }
}

fn report(pinned: Vec<Advisory>, proposed: Vec<Advisory>, fixed: &[&str]) -> AdvisoryReport {
    AdvisoryReport {
        pinned,
        proposed,
        fixed_by_proposed: fixed.iter().map(|s| s.to_string()).collect(),
        error: None,
        checked_at: Utc.with_ymd_and_hms(2026, 11, 27, 6, 0, 0).unwrap(),
        pinned_version: Some("1.4.2".into()),
        proposed_version: Some("1.6.0".into()),
        notes: Vec::new(),
    }
}

use chrono::Utc;

fn view() -> NoticeView<'static> {
    NoticeView {
        server: "weather-mcp",
        upstream: "https://github.com/example/weather-mcp",
        pinned: "1.4.2",
        proposed: Some("1.6.0"),
        pr_url: Some("https://dev.azure.com/contoso/mirrors/_git/weather-mcp/pullrequest/118"),
    }
}

#[test]
fn title_prefix_follows_the_fix_and_is_never_doubled() {
    let fixing = report(
        vec![adv("GHSA-aaaa-bbbb-cccc", Severity::High, "x", &["1.5.1"])],
        Vec::new(),
        &["GHSA-aaaa-bbbb-cccc"],
    );
    let title = "Rebuild weather-mcp 1.4.2 → 1.6.0";
    let prefixed = pr_title(title, &fixing);
    assert_eq!(prefixed, "[security] Rebuild weather-mcp 1.4.2 → 1.6.0");
    assert_eq!(pr_title(&prefixed, &fixing), prefixed);
    // The advisory was withdrawn: the next update drops the prefix.
    let clean = report(Vec::new(), Vec::new(), &[]);
    assert_eq!(pr_title(&prefixed, &clean), title);
    assert!(leads_pr_body(&fixing) && !leads_pr_body(&clean));
}

#[test]
fn hostile_summaries_are_escaped_in_the_table() {
    let hostile = adv(
        "GHSA-aaaa-bbbb-cccc",
        Severity::Medium,
        "| pwned | [click](https://evil.example) @everyone <img src=x>",
        &["1.5.1"],
    );
    let mut bad_id = hostile.clone();
    bad_id.id = "](javascript:alert(1))".into();
    let table = advisory_table(&[hostile, bad_id]);
    assert!(table.contains(
        "\\| pwned \\| \\[click\\](https://\u{200D}evil.example) \\@\u{200D}everyone \\<img src=x\\>"
    ));
    // The id that is not an id is shown escaped, never linked.
    assert!(table.contains("| \\](javascript:alert(1)) |"));
    assert!(!table.contains("vulnerability/]"));
    // Each row keeps exactly the table's five columns.
    for row in table.lines().skip(2) {
        assert_eq!(row.replace("\\|", "").matches('|').count(), 6, "{row}");
    }
}

#[test]
fn pr_section_security_fix() {
    let fixed = adv(
        "GHSA-aaaa-bbbb-cccc",
        Severity::High,
        "Path traversal in the file tool",
        &["1.5.1"],
    );
    let still = adv(
        "GHSA-dddd-eeee-ffff",
        Severity::Medium,
        "Prompt injection through tool descriptions",
        &[],
    );
    let r = report(
        vec![fixed, still.clone()],
        vec![still],
        &["GHSA-aaaa-bbbb-cccc"],
    );
    insta::assert_snapshot!(pr_section(&r));
}

#[test]
fn pr_section_none_and_failed() {
    insta::assert_snapshot!(
        "pr_section_none",
        pr_section(&report(Vec::new(), Vec::new(), &[]))
    );
    let mut stale = report(
        vec![adv(
            "GHSA-aaaa-bbbb-cccc",
            Severity::High,
            "Path traversal",
            &[],
        )],
        Vec::new(),
        &[],
    );
    stale.error = Some(LookupFailure {
        message: "POST https://api.osv.dev/v1/querybatch: 503 Service Unavailable".into(),
        last_known_at: Some(stale.checked_at),
        age_seconds: Some(3 * 3600),
    });
    insta::assert_snapshot!("pr_section_stale", pr_section(&stale));
    let unknown = AdvisoryReport::unavailable(None, "connection refused", stale.checked_at);
    let text = pr_section(&unknown);
    assert!(text.contains("Advisories unknown"), "{text}");
    assert!(!text.contains("No published advisories"), "{text}");
}

#[test]
fn fix_available_email_text() {
    let a = adv(
        "GHSA-aaaa-bbbb-cccc",
        Severity::High,
        "Path traversal in the file tool",
        &["1.5.1"],
    );
    let e = fix_available_email(&view(), &a, "1.5.1");
    insta::assert_snapshot!(format!("Subject: {}\n\n{}", e.subject, e.text));
    assert!(e.html.contains("Path traversal"));
}

#[test]
fn no_fix_email_text() {
    let a = adv(
        "GHSA-dddd-eeee-ffff",
        Severity::Critical,
        "Remote code execution <script>",
        &[],
    );
    let e = no_fix_email(&view(), &a);
    insta::assert_snapshot!(format!("Subject: {}\n\n{}", e.subject, e.text));
    assert!(e.html.contains("&lt;script&gt;") && !e.html.contains("<script>"));
}

#[test]
fn proposed_affected_email_text() {
    let a = adv(
        "GHSA-dddd-eeee-ffff",
        Severity::Medium,
        "Prompt injection through tool descriptions",
        &[],
    );
    let e = proposed_affected_email(&view(), &[a]);
    insta::assert_snapshot!(format!("Subject: {}\n\n{}", e.subject, e.text));
}

#[test]
fn subjects_are_one_line_whatever_the_id_says() {
    let mut a = adv("GHSA-1", Severity::Low, "x", &[]);
    a.id = "GHSA-1\r\nBcc: victim@example.com".into();
    let e = no_fix_email(&view(), &a);
    assert!(!e.subject.contains('\n') && !e.subject.contains('\r'));
}
