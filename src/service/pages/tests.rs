//! The pages are well-formed (an XML parser reads every one), show upstream text as text, and
//! sort by lag.

use chrono::{DateTime, Utc};

use super::fleet::{ChecksCell, FleetRow, Sort, render, sorted};
use super::server::ServerPage;
use crate::freshness::{Blocker, Freshness};
use crate::status::{OpenPr, ServerStatus};
use crate::store::{Decision, EmailLine, PrRecord, PrRecordState, ServerRun, TagSighting};

const HOSTILE: &str = "\"><img src=x onerror=alert(1)><script>alert(2)</script>";

fn status(name: &str) -> ServerStatus {
    ServerStatus {
        name: name.into(),
        status: "held".into(),
        pinned: Some("refs/tags/v1.0.0".into()),
        pinned_commit: Some("a".repeat(40)),
        latest: Some(HOSTILE.into()),
        open_pr: Some(OpenPr {
            version: HOSTILE.into(),
            url: Some("javascript:alert(3)".into()),
            held: true,
            since: "2026-11-01T00:00:00Z".into(),
            auto_merge: None,
        }),
        hold_reason: Some(format!("license changed {HOSTILE}")),
        held_since: Some("2026-11-01T00:00:00Z".into()),
        pending_emails: 0,
        failed_emails: 0,
        last_run_id: Some(7),
        last_run_at: Some("2026-11-02T00:00:00Z".into()),
        last_success_at: None,
        last_error: Some(HOSTILE.into()),
        consecutive_failures: 2,
        warnings: vec![HOSTILE.into()],
        advisories: None,
        freshness: fresh(Some(Blocker::LicenseReview)),
        license_review: None,
    }
}

/// Parses `html` as XML (the pages are polyglot) and returns its element names.
fn elements(html: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse_with_options(
        html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("not well-formed: {e}\n{html}"));
    doc.descendants()
        .filter(roxmltree::Node::is_element)
        .map(|n| n.tag_name().name().to_string())
        .collect()
}

fn assert_inert(html: &str) {
    let names = elements(html);
    assert!(
        !names.iter().any(|n| n == "script" || n == "img"),
        "{names:?}"
    );
    assert!(
        !html.contains("javascript:"),
        "a javascript: link made it to the page"
    );
    assert!(
        html.contains("&lt;script&gt;alert(2)&lt;/script&gt;"),
        "{html}"
    );
}

fn fresh(blocker: Option<Blocker>) -> Freshness {
    Freshness {
        releases_behind: 2,
        behind_since: Some("2026-11-01T00:00:00Z".into()),
        lag: Some(3_600),
        pr_open_for: None,
        blocker,
    }
}

fn row(name: &str, lag: Option<i64>) -> FleetRow {
    FleetRow {
        lag_seconds: lag,
        ..FleetRow::from_status(
            &status(name),
            &fresh(Some(Blocker::LicenseReview)),
            true,
            None,
        )
    }
}

#[test]
fn the_fleet_page_is_well_formed_and_shows_upstream_text_as_text() {
    let html = render(&[row("alpha", Some(5))], Sort::Name, "2026-12-01T00:00:00Z");
    assert_inert(&html);
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("<th scope=\"col\" aria-sort=\"ascending\"><a href=\"/?sort=name\">"));
    assert!(html.contains("<a href=\"/?sort=lag\">Lag</a>"));
}

#[test]
fn sorting_by_lag_puts_the_longest_first_and_unknown_last() {
    let rows = vec![
        row("a", None),
        row("b", Some(10)),
        row("c", Some(300)),
        row("d", Some(10)),
    ];
    let names = |rows: Vec<FleetRow>| rows.into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert_eq!(names(sorted(rows.clone(), Sort::Lag)), ["c", "b", "d", "a"]);
    assert_eq!(names(sorted(rows, Sort::Name)), ["a", "b", "c", "d"]);
    assert_eq!(Sort::parse(Some("lag")), Sort::Lag);
    assert_eq!(Sort::parse(Some("<x>")), Sort::Name);
}

#[test]
fn the_blocker_and_checks_say_what_freshness_and_the_state_know() {
    let s = status("x");
    let checks = ChecksCell {
        state: "failure".into(),
        failed: vec!["build".into(), "<test>".into()],
        url: Some("https://ci.example.com/1".into()),
    };
    let blocker = |b| FleetRow::from_status(&s, &fresh(Some(b)), true, Some(&checks)).blocker;
    assert_eq!(
        blocker(Blocker::Failing).as_deref(),
        Some(format!("failing: 2 runs in a row: {HOSTILE}").as_str())
    );
    assert!(
        blocker(Blocker::LicenseReview)
            .unwrap()
            .starts_with("license-review: license changed")
    );
    assert_eq!(
        blocker(Blocker::PipelineFailed).as_deref(),
        Some("pipeline-failed: build, <test>")
    );
    assert_eq!(blocker(Blocker::Declined).as_deref(), Some("declined"));
    let unmeasured = FleetRow::from_status(&s, &fresh(None), false, None);
    assert_eq!(
        (
            unmeasured.releases_behind,
            unmeasured.lag_seconds,
            unmeasured.blocker
        ),
        (None, None, None)
    );
    let html = render(
        &[FleetRow::from_status(&s, &fresh(None), true, Some(&checks))],
        Sort::Lag,
        "2026-12-01T00:00:00Z",
    );
    assert!(html.contains("<td class=\"bad\"><a href=\"https://ci.example.com/1\">failure: build, &lt;test&gt;</a></td>"), "{html}");
    assert!(
        html.contains("<td class=\"num\" data-lag=\"3600\">1h 0m</td>"),
        "{html}"
    );
}

#[test]
fn the_server_page_is_well_formed_with_every_section() {
    let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
    let mut s = status("alpha");
    if let Some(pr) = s.open_pr.as_mut() {
        pr.auto_merge = Some(crate::status::AutoMergeStatus {
            state: "refused".into(),
            blocked_by: Vec::new(),
            strategy: None,
            note: Some(HOSTILE.into()),
        });
    }
    let tags = vec![TagSighting {
        tag: HOSTILE.into(),
        commit: "b".repeat(40),
        first_seen: "2026-11-01T00:00:00Z".into(),
    }];
    let prs = vec![PrRecord {
        id: 1,
        server: "alpha".into(),
        version: "1.1.0".into(),
        tag: HOSTILE.into(),
        commit: "b".repeat(40),
        branch: "upkeep/alpha".into(),
        forge_id: None,
        url: Some("https://example.com/pr/1".into()),
        title: HOSTILE.into(),
        body_hash: String::new(),
        head_commit: None,
        state: PrRecordState::Open,
        held: true,
        closed_by: None,
        created_at: "2026-11-01T00:00:00Z".into(),
        updated_at: "2026-11-01T00:00:00Z".into(),
    }];
    let decisions = vec![Decision {
        at: "2026-11-03T00:00:00Z".into(),
        what: "tag accepted".into(),
        subject: HOSTILE.into(),
        by: Some(HOSTILE.into()),
        note: None,
    }];
    let emails = vec![EmailLine {
        id: 1,
        reason: "license-review".into(),
        subject: HOSTILE.into(),
        recipients: vec!["owners@example.com".into()],
        status: "sent".into(),
        created_at: "2026-11-01T00:00:00Z".into(),
        sent_at: Some("2026-11-01T00:01:00Z".into()),
        run_id: Some(7),
    }];
    let report = serde_json::json!({
        "pinned": {"ref": "v1.0.0", "commit": "a".repeat(40)},
        "latest": {"version": "1.1.0", "tag": "v1.1.0", "commit": "b".repeat(40), "date": null},
        "hold_reason": HOSTILE,
    })
    .to_string();
    let runs = vec![
        ServerRun {
            run_id: 8,
            trigger: "schedule".into(),
            started_at: "2026-11-20T00:00:00Z".into(),
            status: "held".into(),
            report: report.clone(),
        },
        ServerRun {
            run_id: 7,
            trigger: "schedule".into(),
            started_at: "2026-11-10T00:00:00Z".into(),
            status: "held".into(),
            report,
        },
    ];
    let license = format!("- old line\n+ new line {HOSTILE}\n");
    let html = super::server::render(&ServerPage {
        row: &row("alpha", Some(86_400)),
        status: &s,
        tags: &tags,
        prs: &prs,
        license_review: Some(&license),
        mcp_review: None,
        decisions: &decisions,
        emails: &emails,
        runs: &runs,
        now,
    });
    assert_inert(&html);
    let names = elements(&html);
    for needed in ["svg", "path", "figure", "dl", "pre", "h2"] {
        assert!(
            names.iter().any(|n| n == needed),
            "no <{needed}> in {names:?}"
        );
    }
    assert!(html.contains("+ new line &quot;&gt;&lt;img"), "{html}");
    assert!(html.contains("Behind by 1d 0h now."), "{html}");
    assert!(
        html.contains("1d 0h now, at most 10d 0h (3 runs)"),
        "{html}"
    );
    assert!(html.contains("<a href=\"/runs/7\">#7</a>"));
    assert!(
        html.contains("refused by the forge: &quot;&gt;&lt;img"),
        "the forge's words about auto-merge, escaped: {html}"
    );
}

#[test]
fn the_run_login_and_problem_pages_are_well_formed() {
    let row = crate::store::RunRow {
        id: 3,
        trigger: HOSTILE.into(),
        dry_run: false,
        started_at: "2026-11-01T00:00:00Z".into(),
        finished_at: None,
        result: "running".into(),
    };
    let servers = vec![crate::store::RunServer {
        seq: 0,
        server: "alpha".into(),
        status: "failed".into(),
    }];
    assert_inert(&super::run::render(&row, None, &servers));
    let login = super::login(Some(HOSTILE));
    elements(&login);
    assert!(login.contains("<label for=\"token\">"));
    assert!(!login.contains("<img"));
    let problem = super::problem("No such server", HOSTILE);
    elements(&problem);
    assert!(!problem.contains("<script"));
}
