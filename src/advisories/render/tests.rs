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

// ---- chat cards ----------------------------------------------------------------------------

use crate::advisories::Notice;
use crate::render::chat::{Tone, slack_message, teams_message};

use super::card::{NO_FIX_YET, notice_card};

fn fact<'a>(card: &'a crate::render::chat::ChatCard, name: &str) -> Option<&'a str> {
    card.facts
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_fix_available_card_shows_the_facts_and_both_buttons() {
    let mut a = adv(
        "GHSA-aaaa-bbbb-cccc",
        Severity::High,
        "Path traversal in read_file",
        &["1.5.1"],
    );
    a.aliases.push("PYSEC-2026-7".into());
    let notice = Notice::FixAvailable {
        advisory: &a,
        release: "1.5.1",
    };
    let card = notice_card(&view(), &notice);
    assert_eq!(card.tone, Tone::Attention);
    assert_eq!(fact(&card, "Severity"), Some("high (CVSS 8.1)"));
    assert_eq!(fact(&card, "Aliases"), Some("CVE-2026-1234, PYSEC-2026-7"));
    assert_eq!(fact(&card, "Pinned"), Some("1.4.2"));
    assert_eq!(fact(&card, "Fixed in"), Some("1.5.1"));
    let teams = teams_message(&card);
    insta::assert_snapshot!(
        "teams_advisory_fix_available",
        serde_json::to_string_pretty(&teams).unwrap()
    );
    let content = &teams["attachments"][0]["content"];
    assert_eq!(content["body"][0]["color"], "Attention");
    assert_eq!(content["actions"][0]["url"], view().pr_url.unwrap());
    assert_eq!(
        content["actions"][1]["url"],
        "https://osv.dev/vulnerability/GHSA-aaaa-bbbb-cccc"
    );
    let slack = slack_message(&card);
    insta::assert_snapshot!(
        "slack_advisory_fix_available",
        serde_json::to_string_pretty(&slack).unwrap()
    );
    let buttons = slack["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap()["elements"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(buttons, 2);
}

#[test]
fn a_card_without_a_fix_or_a_pr_says_so_and_links_only_the_advisory() {
    let a = adv(
        "GHSA-dddd-eeee-ffff",
        Severity::Medium,
        "Prompt injection",
        &[],
    );
    let v = NoticeView {
        pr_url: None,
        ..view()
    };
    let card = notice_card(&v, &Notice::NoFixYet { advisory: &a });
    assert_eq!(fact(&card, "Fixed in"), Some(NO_FIX_YET));
    assert!(card.title.ends_with(NO_FIX_YET), "{}", card.title);
    assert_eq!(card.tone, Tone::Warning);
    let teams = teams_message(&card);
    let actions = teams["attachments"][0]["content"]["actions"]
        .as_array()
        .unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["title"], "Read the advisory");

    // The advisory names a version upstream has not released: still no fixed release.
    let named = adv("GHSA-dddd-eeee-ffff", Severity::Low, "x", &["9.0.0"]);
    let card = notice_card(&v, &Notice::NoFixYet { advisory: &named });
    assert_eq!(
        fact(&card, "Fixed in"),
        Some("no fixed release upstream yet (the advisory names 9.0.0)")
    );
    assert_eq!(card.tone, Tone::Plain);
}

#[test]
fn a_proposed_affected_card_names_both_versions() {
    let a = adv("GHSA-pppp-qqqq-rrrr", Severity::Critical, "RCE", &["1.7.0"]);
    let notice = Notice::ProposedAffected {
        advisory: &a,
        version: "1.6.0",
    };
    let card = notice_card(&view(), &notice);
    assert_eq!(
        card.title,
        "weather-mcp 1.6.0: the proposed release is itself affected by GHSA-pppp-qqqq-rrrr"
    );
    assert_eq!(fact(&card, "Proposed"), Some("1.6.0"));
    assert_eq!(fact(&card, "Pinned"), Some("1.4.2"));
    assert_eq!(fact(&card, "Fixed in"), Some("1.7.0"));
}

#[test]
fn advisory_text_in_a_card_pings_nobody() {
    let mut a = adv(
        "GHSA-aaaa-bbbb-cccc",
        Severity::High,
        "<!channel> @here see [this](https://evil.example) \u{1b}[31m",
        &["1.5.1"],
    );
    a.aliases = vec!["<@U024BE7LH>".into()];
    // An id outside the id alphabet gets no page link.
    let mut odd = a.clone();
    odd.id = "GHSA/../x".into();
    for a in [&a, &odd] {
        let card = notice_card(
            &view(),
            &Notice::FixAvailable {
                advisory: a,
                release: "1.5.1",
            },
        );
        let (slack, teams) = (
            slack_message(&card).to_string(),
            teams_message(&card).to_string(),
        );
        for banned in ["<!channel>", "<@U", "@here", "\u{1b}"] {
            assert!(!slack.contains(banned), "slack: {banned} in {slack}");
            assert!(!teams.contains(banned), "teams: {banned} in {teams}");
        }
        // Markdown links are Teams' (Slack's are `<url|text>`, escaped above).
        assert!(!teams.contains("](https://evil"), "{teams}");
        assert!(slack.contains("&lt;!channel&gt;"), "{slack}");
    }
    let card = notice_card(&view(), &Notice::NoFixYet { advisory: &odd });
    assert!(card.more.is_none());
}
