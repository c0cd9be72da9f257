//! Owner notifications end to end: the real `upkeep` binary syncing real git repositories and
//! sending through a real SMTP server (aiosmtpd) on 127.0.0.1. The demo's license email, an SMTP
//! outage, 451 then success, a 550 and `outbox retry`, a crash that left a row `sending`, the
//! stale-review reminder and the per-owner digest. Also snapshots of every rendered email, from
//! fixed inputs.

// Both support modules allow dead code themselves (an outer allow here would be a duplicate).
#[path = "smtp_support/mod.rs"]
mod smtp_support;
#[path = "it/support/mod.rs"]
mod support;

use smtp_support::{Delivered, ServerOptions, SmtpServer, free_port};
use support::{MIT, Repo, Workspace, lockfile};

/// The restriction the demo's weather-mcp adds to its MIT license.
const RESTRICTION: &str = "\nThe Software may not be used to provide a hosted service to third parties\nwithout a commercial agreement with Example Weather Corp.\n";

/// One sponsored server: an upstream whose v1.1.0 adds the restriction, a mirror pinned at v1.0.0.
struct ServerFixture {
    name: String,
    owners: Vec<String>,
    upstream: Repo,
    mirror: Repo,
}

fn relicensing_server(ws: &Workspace, name: &str, owners: &[&str]) -> ServerFixture {
    let mut upstream = Repo::new(&ws.path(&format!("{name}-upstream.git")));
    let c1 = upstream.commit(
        &[("LICENSE", Some(MIT)), ("src/main.py", Some("print(1)\n"))],
        "Release 1.0.0",
    );
    upstream.tag("v1.0.0", c1);
    let c2 = upstream.commit(
        &[("LICENSE", Some(&format!("{MIT}{RESTRICTION}")))],
        "Add a hosting restriction",
    );
    upstream.tag("v1.1.0", c2);
    let mut mirror = Repo::new(&ws.path(&format!("{name}-mirror.git")));
    mirror.commit(
        &[("upkeep.lock", Some(&lockfile(&upstream.url(), "v1.0.0")))],
        "pin",
    );
    ServerFixture {
        name: name.into(),
        owners: owners.iter().map(|o| (*o).to_string()).collect(),
        upstream,
        mirror,
    }
}

/// The `[email]` settings a test varies.
#[derive(Default)]
struct EmailSettings<'a> {
    review_sla: Option<&'a str>,
    escalation: Option<&'a str>,
    digest: Option<(&'a [&'a str], &'a str)>,
}

fn write_config(ws: &Workspace, port: u16, email: &EmailSettings, servers: &[&ServerFixture]) {
    let q = |s: &str| format!("{s:?}");
    let list = |v: &[String]| v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ");
    let mut c = format!(
        "[state]\npath = {}\ncache-dir = {}\nlease-timeout = \"2m\"\n\n\
         [email]\nfrom = \"upkeep@example.com\"\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\n\
         tls = \"none\"\ntimeout = \"2m\"\n",
        q(&ws.path("state/upkeep.db").display().to_string()),
        q(&ws.path("cache").display().to_string()),
    );
    if let Some(sla) = email.review_sla {
        c.push_str(&format!("review-sla = {}\n", q(sla)));
    }
    if let Some(e) = email.escalation {
        c.push_str(&format!("escalation = {}\n", q(e)));
    }
    if let Some((owners, cron)) = email.digest {
        let owners: Vec<String> = owners.iter().map(|o| (*o).to_string()).collect();
        c.push_str(&format!(
            "\n[email.digest]\nowners = [{}]\ncron = {}\n",
            list(&owners),
            q(cron)
        ));
    }
    c.push_str(&format!("\n{}", support::LAG_ALERTS_OFF));
    for s in servers {
        c.push_str(&format!(
            "\n[[servers]]\nname = {}\nupstream = {}\nowners = [{}]\n\
             release = {{ channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }}\n\n\
             [servers.mirror]\nforge = \"local\"\nrepo = {}\nbase = \"main\"\npin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n",
            q(&s.name),
            q(&s.upstream.url()),
            list(&s.owners),
            q(&s.mirror.url()),
        ));
    }
    std::fs::write(ws.config_path(), c).unwrap();
}

fn state(ws: &Workspace) -> upkeep::store::Store {
    upkeep::store::Store::open(&ws.path("state/upkeep.db")).unwrap()
}

/// Let time pass for the outbox: every waiting email's backoff is over.
fn backoff_passes(ws: &Workspace) {
    let conn = rusqlite::Connection::open(ws.path("state/upkeep.db")).unwrap();
    let n = conn
        .execute(
            "UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00.000Z' WHERE status IN ('pending', 'sending')",
            [],
        )
        .unwrap();
    assert!(n > 0, "no email was waiting");
}

fn header(mail: &mailparse::ParsedMail<'_>, key: &str) -> String {
    use mailparse::MailHeaderMap as _;
    mail.headers.get_first_value(key).unwrap_or_default()
}

/// The plain-text and HTML parts of a multipart/alternative message, alone or first in a
/// multipart/mixed one with attachments (asserting that shape).
fn text_and_html(d: &Delivered) -> (String, String, String) {
    let mail = mailparse::parse_mail(&d.raw).unwrap();
    let alternative = if mail.ctype.mimetype == "multipart/mixed" {
        assert!(mail.subparts.len() > 1, "mixed without attachments");
        &mail.subparts[0]
    } else {
        &mail
    };
    assert_eq!(alternative.ctype.mimetype, "multipart/alternative");
    assert_eq!(alternative.subparts.len(), 2);
    assert_eq!(alternative.subparts[0].ctype.mimetype, "text/plain");
    assert_eq!(alternative.subparts[1].ctype.mimetype, "text/html");
    (
        header(&mail, "Subject"),
        alternative.subparts[0].get_body().unwrap(),
        alternative.subparts[1].get_body().unwrap(),
    )
}

/// The file names of a message's attachments (parts after the first of a multipart/mixed).
fn attachment_names(d: &Delivered) -> Vec<String> {
    let mail = mailparse::parse_mail(&d.raw).unwrap();
    assert_eq!(mail.ctype.mimetype, "multipart/mixed", "no attachments");
    mail.subparts[1..]
        .iter()
        .map(|p| {
            p.get_content_disposition()
                .params
                .get("filename")
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

const LICENSE_SUBJECT: &str =
    "[upkeep] weather-mcp 1.0.0 -> 1.1.0: license change needs CELA review: MIT, text changed";

#[test]
fn the_demo_license_email_arrives_once_through_smtp() {
    let smtp = SmtpServer::start(ServerOptions::default());
    let ws = Workspace::new();
    let weather = relicensing_server(&ws, "weather-mcp", &["weather-owners@example.com"]);
    write_config(&ws, smtp.port, &EmailSettings::default(), &[&weather]);

    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!(support::server(&report, "weather-mcp")["status"], "held");
    assert_eq!(report["emails"]["sent"], 1, "{report}");

    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].mail_from, "upkeep@example.com");
    assert_eq!(mails[0].rcpt_tos, ["weather-owners@example.com"]);
    let (subject, text, html) = text_and_html(&mails[0]);
    assert_eq!(subject, LICENSE_SUBJECT);
    assert!(
        text.contains("+The Software may not be used to provide a hosted service"),
        "{text}"
    );
    assert!(
        text.contains("upkeep license approve weather-mcp"),
        "{text}"
    );
    assert!(
        html.contains("<ins"),
        "the HTML highlights the added words:\n{html}"
    );
    assert!(html.contains("hosted"), "{html}");

    // Held runs neither queue nor send it again.
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn an_smtp_outage_loses_nothing_and_the_mail_arrives_once_when_the_relay_is_back() {
    let ws = Workspace::new();
    let weather = relicensing_server(&ws, "weather-mcp", &["weather-owners@example.com"]);
    let closed = free_port();
    write_config(&ws, closed, &EmailSettings::default(), &[&weather]);

    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["emails"]["retrying"], 1, "{report}");
    let errors = report["emails"]["errors"].to_string();
    assert!(errors.contains("retrying"), "{errors}");

    let status = ws.upkeep(&["status"]);
    assert!(
        status
            .stdout
            .contains("outbox: 1 pending (see `upkeep outbox`)"),
        "{}",
        status.stdout
    );
    let doc: serde_json::Value =
        serde_json::from_str(&ws.upkeep(&["status", "--json"]).stdout).unwrap();
    assert_eq!(doc["servers"][0]["pending_emails"], 1, "{doc}");
    let outbox = ws.upkeep(&["outbox"]);
    assert!(outbox.stdout.contains("pending"), "{}", outbox.stdout);
    assert!(outbox.stdout.contains(LICENSE_SUBJECT), "{}", outbox.stdout);
    assert!(outbox.stdout.contains("last error: "), "{}", outbox.stdout);
    let rows: serde_json::Value =
        serde_json::from_str(&ws.upkeep(&["outbox", "--json"]).stdout).unwrap();
    assert_eq!(rows[0]["status"], "pending");
    assert_eq!(rows[0]["attempts"], 1);
    assert!(
        rows[0]["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );

    // The relay is back (at its new address) and the backoff has passed.
    let smtp = SmtpServer::start(ServerOptions::default());
    write_config(&ws, smtp.port, &EmailSettings::default(), &[&weather]);
    backoff_passes(&ws);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["emails"]["sent"], 1, "{report}");
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(text_and_html(&mails[0]).0, LICENSE_SUBJECT);

    ws.sync();
    assert_eq!(smtp.messages().len(), 1, "sent exactly once");
    let status = ws.upkeep(&["status"]);
    assert!(!status.stdout.contains("outbox:"), "{}", status.stdout);
}

#[test]
fn a_451_is_retried_and_the_mail_arrives_once() {
    let smtp = SmtpServer::start(ServerOptions {
        data_fail: Some((451, 1)),
        ..ServerOptions::default()
    });
    let ws = Workspace::new();
    let weather = relicensing_server(&ws, "weather-mcp", &["weather-owners@example.com"]);
    write_config(&ws, smtp.port, &EmailSettings::default(), &[&weather]);

    let (_, report) = ws.sync();
    assert_eq!(report["emails"]["retrying"], 1, "{report}");
    assert!(smtp.messages().is_empty());
    let row = &state(&ws).outbox(&[]).unwrap()[0];
    assert_eq!(row.status, "pending");
    assert!(
        row.last_error.as_deref().is_some_and(|e| e.contains("451")),
        "{row:?}"
    );

    let out = ws.upkeep(&["outbox", "retry", &row.id.to_string()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("email {}: sent", row.id)),
        "{}",
        out.stdout
    );
    assert_eq!(smtp.messages().len(), 1);
    ws.sync();
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn a_550_is_recorded_as_failed_shown_and_retried_by_hand() {
    let refusing = SmtpServer::start(ServerOptions {
        data_fail: Some((550, -1)),
        ..ServerOptions::default()
    });
    let ws = Workspace::new();
    let weather = relicensing_server(&ws, "weather-mcp", &["weather-owners@example.com"]);
    write_config(&ws, refusing.port, &EmailSettings::default(), &[&weather]);

    let (_, report) = ws.sync();
    assert_eq!(report["emails"]["failed"], 1, "{report}");
    assert!(refusing.messages().is_empty());

    let status = ws.upkeep(&["status"]);
    assert!(
        status.stdout.contains("outbox: 1 failed"),
        "{}",
        status.stdout
    );
    let doc: serde_json::Value =
        serde_json::from_str(&ws.upkeep(&["status", "--json"]).stdout).unwrap();
    assert_eq!(doc["servers"][0]["failed_emails"], 1, "{doc}");
    let outbox = ws.upkeep(&["outbox"]);
    assert!(outbox.stdout.contains("failed"), "{}", outbox.stdout);
    assert!(outbox.stdout.contains("550"), "{}", outbox.stdout);

    // A failed email is not retried by runs on its own.
    ws.sync();
    assert!(refusing.messages().is_empty());

    let healthy = SmtpServer::start(ServerOptions::default());
    write_config(&ws, healthy.port, &EmailSettings::default(), &[&weather]);
    let id = state(&ws).outbox(&["failed"]).unwrap()[0].id;
    let out = ws.upkeep(&["outbox", "retry", &id.to_string()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let mails = healthy.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(text_and_html(&mails[0]).0, LICENSE_SUBJECT);
    assert_eq!(state(&ws).outbox_row(id).unwrap().unwrap().status, "sent");
}

#[test]
fn a_sender_crash_mid_send_is_finished_once_by_the_next_run() {
    let ws = Workspace::new();
    let weather = relicensing_server(&ws, "weather-mcp", &["weather-owners@example.com"]);
    // The run decides and enqueues, but nothing can be sent.
    write_config(&ws, free_port(), &EmailSettings::default(), &[&weather]);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    // Then a sender takes the row and dies before recording the outcome.
    let id = {
        let store = state(&ws);
        let row = store.outbox(&["pending"]).unwrap().remove(0);
        store.mark_sending(row.id).unwrap();
        row.id
    };
    backoff_passes(&ws);
    assert_eq!(
        state(&ws).outbox_row(id).unwrap().unwrap().status,
        "sending"
    );

    let smtp = SmtpServer::start(ServerOptions::default());
    write_config(&ws, smtp.port, &EmailSettings::default(), &[&weather]);
    let (_, report) = ws.sync();
    assert_eq!(report["emails"]["sent"], 1, "{report}");
    ws.sync();
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(text_and_html(&mails[0]).0, LICENSE_SUBJECT);
    let row = state(&ws).outbox_row(id).unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("sent", 3));
}

/// Let time pass for the rows of `table` (`created_at`): each was created `secs` ago. Returns
/// how many rows there are.
fn backdate(ws: &Workspace, table: &str, secs: i64) -> usize {
    let since = chrono::Utc::now() - chrono::Duration::seconds(secs);
    let conn = rusqlite::Connection::open(ws.path("state/upkeep.db")).unwrap();
    conn.execute(
        &format!("UPDATE {table} SET created_at = ?1"),
        [since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)],
    )
    .unwrap()
}

/// Let time pass for the pending license reviews: they started waiting `secs` ago.
fn review_waited(ws: &Workspace, secs: i64) {
    assert_eq!(
        backdate(ws, "license_reviews", secs),
        1,
        "one review is pending"
    );
}

/// Let time pass for the digests: every collected item was collected `secs` ago.
fn digest_items_waited(ws: &Workspace, secs: i64) {
    assert!(
        backdate(ws, "digest_items", secs) > 0,
        "items were collected"
    );
}

fn reminder_rows(ws: &Workspace) -> usize {
    state(ws)
        .outbox(&[])
        .unwrap()
        .into_iter()
        .filter(|r| r.reason == "review-reminder")
        .count()
}

#[test]
fn a_review_waiting_past_the_sla_reminds_the_owners_with_escalation_in_cc() {
    let smtp = SmtpServer::start(ServerOptions::default());
    let ws = Workspace::new();
    let weather = relicensing_server(&ws, "weather-mcp", &["weather-owners@example.com"]);
    let email = EmailSettings {
        review_sla: Some("1h"),
        escalation: Some("oss-office@example.com"),
        ..EmailSettings::default()
    };
    write_config(&ws, smtp.port, &email, &[&weather]);

    ws.sync();
    assert_eq!(
        smtp.messages().len(),
        1,
        "the license email, no reminder yet"
    );
    // The clock is moved through the state: however long a run takes, none straddles the SLA.
    review_waited(&ws, 3600 + 60);
    let (_, report) = ws.sync();
    assert_eq!(report["emails"]["sent"], 1, "{report}");

    let mails = smtp.messages();
    assert_eq!(mails.len(), 2);
    let reminder = &mails[1];
    assert_eq!(
        reminder.rcpt_tos,
        ["weather-owners@example.com", "oss-office@example.com"]
    );
    let parsed = mailparse::parse_mail(&reminder.raw).unwrap();
    assert_eq!(header(&parsed, "Cc"), "oss-office@example.com");
    assert_eq!(header(&parsed, "To"), "weather-owners@example.com");
    let (subject, text, html) = text_and_html(reminder);
    assert!(
        subject.starts_with(
            "[upkeep] reminder: weather-mcp v1.0.0 -> 1.1.0: license review waiting for"
        ),
        "{subject}"
    );
    assert!(
        text.contains("upkeep license approve weather-mcp --by"),
        "{text}"
    );
    assert!(text.contains("Rebuild PR (draft): "), "{text}");
    assert!(
        text.contains("hosted service"),
        "the change is summarised: {text}"
    );
    assert!(html.contains("oss-office@example.com is copied"), "{html}");
    assert_eq!(reminder_rows(&ws), 1);
}

#[test]
fn review_reminders_come_once_per_sla_period_and_stop_after_approval() {
    let smtp = SmtpServer::start(ServerOptions::default());
    let ws = Workspace::new();
    let weather = relicensing_server(&ws, "weather-mcp", &["weather-owners@example.com"]);
    let email = EmailSettings {
        review_sla: Some("1h"),
        escalation: Some("oss-office@example.com"),
        ..EmailSettings::default()
    };
    write_config(&ws, smtp.port, &email, &[&weather]);
    ws.sync();
    assert_eq!(reminder_rows(&ws), 0);

    // The clock is moved through the state, so no run can straddle a period boundary.
    review_waited(&ws, 3600 + 60);
    ws.sync();
    ws.sync();
    assert_eq!(reminder_rows(&ws), 1, "one reminder in the first period");
    review_waited(&ws, 2 * 3600 + 60);
    ws.sync();
    ws.sync();
    assert_eq!(reminder_rows(&ws), 2, "and one more in the second");
    let subjects: Vec<String> = smtp.messages().iter().map(|m| text_and_html(m).0).collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    assert!(subjects[2].ends_with("waiting for 2 hours"), "{subjects:?}");

    let out = ws.upkeep(&["license", "approve", "weather-mcp", "--by", "Ada"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    review_waited(&ws, 5 * 3600);
    ws.sync();
    assert_eq!(reminder_rows(&ws), 2, "approved: no more reminders");
    assert_eq!(smtp.messages().len(), 3);
}

#[test]
fn a_digest_owner_gets_one_digest_for_two_servers_and_others_get_theirs_at_once() {
    let smtp = SmtpServer::start(ServerOptions::default());
    let ws = Workspace::new();
    let weather = relicensing_server(&ws, "weather-mcp", &["busy@example.com"]);
    let search = relicensing_server(
        &ws,
        "search-mcp",
        &["busy@example.com", "search-owners@example.com"],
    );
    // Daily, at the time of day it was twelve hours ago: the period that is open now began
    // half a day ago and ends half a day from now, out of the test's reach.
    let at = chrono::Utc::now() - chrono::Duration::hours(12);
    let cron = format!(
        "{} {} * * *",
        chrono::Timelike::minute(&at),
        chrono::Timelike::hour(&at)
    );
    let email = EmailSettings {
        digest: Some((&["busy@example.com"], &cron)),
        ..EmailSettings::default()
    };
    write_config(&ws, smtp.port, &email, &[&weather, &search]);

    ws.sync();
    // search-mcp's other owner got theirs at once, without the digest owner.
    let mails = smtp.messages();
    let direct: Vec<&Delivered> = mails
        .iter()
        .filter(|m| m.rcpt_tos == ["search-owners@example.com"])
        .collect();
    assert_eq!(direct.len(), 1, "{mails:?}");
    let parsed = mailparse::parse_mail(&direct[0].raw).unwrap();
    assert_eq!(header(&parsed, "To"), "search-owners@example.com");
    assert_eq!(
        mails.len(),
        1,
        "no digest before the period ends: {mails:?}"
    );

    // The clock is moved through the state: the items were collected a day ago, so the fire
    // time half a day ago ended their period.
    digest_items_waited(&ws, 86_400);
    ws.sync();
    ws.sync();
    let mails = smtp.messages();
    let digests: Vec<&Delivered> = mails
        .iter()
        .filter(|m| m.rcpt_tos == ["busy@example.com"])
        .collect();
    assert_eq!(mails.len(), 2, "one direct email and one digest: {mails:?}");
    assert_eq!(digests.len(), 1);
    let (subject, text, html) = text_and_html(digests[0]);
    assert_eq!(
        subject,
        "[upkeep] digest: 2 updates for your sponsored servers"
    );
    assert!(
        text.contains("[upkeep] weather-mcp 1.0.0 -> 1.1.0: license change needs CELA review"),
        "{text}"
    );
    assert!(
        text.contains("[upkeep] search-mcp 1.0.0 -> 1.1.0: license change needs CELA review"),
        "{text}"
    );
    assert_eq!(
        text.matches("+The Software may not be used").count(),
        2,
        "{text}"
    );
    assert!(html.matches("<ins").count() >= 2, "{html}");
    // The license texts the two review emails carried ride along, named per server.
    let files = attachment_names(digests[0]);
    for server in ["weather-mcp", "search-mcp"] {
        assert!(
            files
                .iter()
                .any(|f| f.starts_with(&format!("{server}-LICENSE-"))),
            "{server}: {files:?}"
        );
    }
    assert!(text.contains(&format!("Attached: {}", files[0])), "{text}");

    let store = state(&ws);
    let rows = store.outbox(&[]).unwrap();
    let weather_row = rows.iter().find(|r| r.server == "weather-mcp").unwrap();
    assert_eq!(weather_row.status, "digested");
    let search_row = rows.iter().find(|r| r.server == "search-mcp").unwrap();
    assert_eq!(search_row.status, "sent");
    let digest_row = rows.iter().find(|r| r.reason == "digest").unwrap();
    assert_eq!(digest_row.status, "sent");
    assert_eq!(
        store.digest_items_of(digest_row.id).unwrap(),
        [
            weather_row.id.min(search_row.id),
            weather_row.id.max(search_row.id)
        ]
    );
}

mod snapshots {
    //! The texts people read, rendered from fixed inputs.

    use std::time::Duration;

    use upkeep::config::license::Approver;
    use upkeep::license::{EntryKind, LicenseEntry, LicensePolicy, LicenseSnapshot, judge};
    use upkeep::notify::digest::{DigestEntry, digest_email};
    use upkeep::notify::reminders::{ReminderView, reminder_email};
    use upkeep::render::decisions::Subject;
    use upkeep::render::{self, EmailText, RebuildView};
    use upkeep::report::MovedTag;
    use upkeep::report::{Latest, Pinned};

    use super::{MIT, RESTRICTION};

    fn shown(e: &EmailText) -> String {
        format!(
            "Subject: {}\n\n----- text -----\n{}\n----- html -----\n{}\n",
            e.subject, e.text, e.html
        )
    }

    fn snapshot(text: &str) -> LicenseSnapshot {
        let mut s = LicenseSnapshot::empty();
        s.entries.push(
            LicenseEntry::from_file_bytes("LICENSE", EntryKind::License, None, text.as_bytes())
                .unwrap(),
        );
        s
    }

    fn license_email() -> EmailText {
        let judgement = judge(
            &snapshot(MIT),
            &snapshot(&format!("{MIT}{RESTRICTION}")),
            &LicensePolicy::default(),
        );
        let old = Pinned {
            git_ref: "refs/tags/v1.0.0".into(),
            commit: Some("a".repeat(40)),
        };
        let new = Latest {
            version: "1.1.0".into(),
            tag: "v1.1.0".into(),
            commit: "b".repeat(40),
            date: None,
        };
        let view = RebuildView {
            server: "weather-mcp",
            upstream: "https://github.com/example/weather-mcp.git",
            old: &old,
            old_version: Some("1.0.0"),
            new: &new,
            license: Some(&judgement),
            license_texts: (None, None),
            approval: None,
            license_held: true,
            mcp: None,
            security: None,
            diff: None,
            release_notes: None,
            channels: &[],
            run_id: 7,
            approvers: &[],
        };
        render::license_email(
            &view,
            Some("https://git.example.com/mirrors/weather-mcp/pull/12"),
            7,
        )
    }

    fn moved_tag_email() -> EmailText {
        render::moved_tag_email(
            "weather-mcp",
            "https://github.com/example/weather-mcp.git",
            &[MovedTag {
                tag: "v1.1.0".into(),
                old_commit: "1".repeat(40),
                new_commit: "2".repeat(40),
                first_seen: "2026-01-10T08:00:00.000Z".into(),
            }],
        )
    }

    fn failing_email() -> EmailText {
        render::failing_email(
            "search-mcp",
            3,
            "fetching https://github.com/example/search-mcp.git: connection refused",
        )
    }

    #[test]
    fn license_email_snapshot() {
        insta::assert_snapshot!("license_email", shown(&license_email()));
    }

    #[test]
    fn moved_tag_email_snapshot() {
        insta::assert_snapshot!("moved_tag_email", shown(&moved_tag_email()));
    }

    #[test]
    fn failing_email_snapshot() {
        insta::assert_snapshot!("failing_email", shown(&failing_email()));
    }

    /// The license reminder the snapshots show, about `changes`.
    fn license_reminder(changes: &[String]) -> ReminderView<'_> {
        ReminderView {
            subject: Subject::License,
            approvers: &[],
            server: "weather-mcp",
            pinned: Some("refs/tags/v1.0.0"),
            proposed: Some("1.1.0"),
            since: "2026-03-01T09:30:00.000Z",
            waited: Duration::from_secs(8 * 86_400 + 3600),
            number: 1,
            pr_url: Some("https://git.example.com/mirrors/weather-mcp/pull/12"),
            changes,
            fingerprint: "9a0d44c1e2b3f4a5d6c7e8f9a0b1c2d3",
            escalation: Some("oss-office@example.com"),
        }
    }

    #[test]
    fn reminder_email_snapshot() {
        let changes = license_email_changes();
        let v = license_reminder(&changes);
        insta::assert_snapshot!("reminder_email", shown(&reminder_email(&v)));
    }

    /// The reminder of a held MCP surface: its findings, and the security reviewers (the MCP
    /// approvers) with their commands.
    #[test]
    fn mcp_reminder_email_snapshot() {
        let changes = vec![
            "high: hidden-instruction in tool:add description".to_string(),
            "high: invisible-characters in tool:add input.a.description".to_string(),
        ];
        let security = [Approver::Github("sec-sam".into())];
        let v = ReminderView {
            subject: Subject::Mcp,
            approvers: &security,
            fingerprint: "5b1e0c9d8a7f6e5d4c3b2a1908f7e6d5",
            ..license_reminder(&changes)
        };
        insta::assert_snapshot!("mcp_reminder_email", shown(&reminder_email(&v)));
    }

    fn license_email_changes() -> Vec<String> {
        judge(
            &snapshot(MIT),
            &snapshot(&format!("{MIT}{RESTRICTION}")),
            &LicensePolicy::default(),
        )
        .summary
    }

    #[test]
    fn digest_email_snapshot() {
        let items = [moved_tag_email(), failing_email()];
        let entries: Vec<DigestEntry<'_>> = items
            .iter()
            .zip(["weather-mcp", "search-mcp"])
            .map(|(e, server)| DigestEntry {
                server,
                subject: &e.subject,
                text: &e.text,
                html: &e.html,
            })
            .collect();
        insta::assert_snapshot!("digest_email", shown(&digest_email(&entries)));
    }
}
