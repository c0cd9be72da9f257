//! The screens of a license review, through real syncs of real git histories: the held PR body
//! (on a local mirror rendered as for GitHub, and on the Azure DevOps stand-in with its
//! 4,000-character description), the license email with its attachments, and `license show`.
//!
//! Two relicensings in the shapes seen upstream, written here: a dual license stated in a
//! preamble before the AGPL text (Apache-2.0 before), and a 0BSD project going AGPL whose
//! workspace member declared MIT (disagreeing with the root's 0BSD) and then AGPL. The standard
//! parts of the texts are the SPDX texts the `spdx` crate ships.

use std::collections::BTreeMap;

use crate::forge_support::azure::FakeAzure;
use crate::forge_support::{FakeForge, FakePrState, TOKEN};
use crate::support::{Repo, ServerSpec, Workspace, lockfile, server};
use upkeep::license::standard_text;

const COMFY_PREAMBLE: &str = "comfy-mcp is dual-licensed. You may use, modify and distribute it under the terms of the GNU Affero General Public License version 3 or (at your option) any later version, as set out below. Alternatively, a commercial license is available from Comfy Org, Inc. for use that is not compatible with the AGPL; contact licensing@comfy.example for the commercial terms.";
const CONTACT: &str = "licensing@comfy.example";
const TOKEN_ENV: &str = "UPKEEP_TEST_FORGE_TOKEN";
/// What a reviewer sees without scrolling: the banner and the top of the body.
const FIRST_SCREEN: usize = 1_500;

fn spdx(id: &str) -> String {
    standard_text(id)
        .unwrap_or_else(|| panic!("no SPDX text for {id}"))
        .to_owned()
}

fn pyproject(version: &str, license: &str) -> String {
    format!("[project]\nname = \"comfy-mcp\"\nversion = \"{version}\"\nlicense = \"{license}\"\n")
}

/// comfy-mcp: Apache-2.0 at v0.4.0; a dual-license preamble before the AGPL text at v0.10.0.
fn comfy_upstream(ws: &Workspace) -> Repo {
    let mut up = Repo::new(&ws.path("comfy.git"));
    let apache = format!("Copyright 2025 Comfy Org, Inc.\n\n{}", spdx("Apache-2.0"));
    let c1 = up.commit(
        &[
            ("LICENSE", Some(&apache)),
            ("pyproject.toml", Some(&pyproject("0.4.0", "Apache-2.0"))),
            ("comfy_mcp/__init__.py", Some("VERSION = '0.4.0'\n")),
        ],
        "Release 0.4.0",
    );
    up.tag("v0.4.0", c1);
    let agpl = format!("{COMFY_PREAMBLE}\n\n{}", spdx("AGPL-3.0-or-later"));
    let c2 = up.commit(
        &[
            ("LICENSE", Some(&agpl)),
            (
                "pyproject.toml",
                Some(&pyproject("0.10.0", "AGPL-3.0-or-later")),
            ),
            ("comfy_mcp/__init__.py", Some("VERSION = '0.10.0'\n")),
        ],
        "Release 0.10.0",
    );
    up.tag("v0.10.0", c2);
    up
}

fn cargo_member(name: &str, license: &str) -> String {
    format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nlicense = \"{license}\"\n")
}

/// mcp-js: 0BSD at v0.10.22 with a member declaring MIT; AGPL everywhere at v0.20.0.
fn mcp_js_upstream(ws: &Workspace) -> Repo {
    let mut up = Repo::new(&ws.path("mcp-js.git"));
    let bsd = format!("Copyright (C) 2025 by Example Labs\n\n{}", spdx("0BSD"));
    let workspace = "[workspace]\nmembers = [\"server\", \"mcp-v8-client\"]\n";
    let c1 = up.commit(
        &[
            ("LICENSE", Some(&bsd)),
            ("Cargo.toml", Some(workspace)),
            ("server/Cargo.toml", Some(&cargo_member("server", "0BSD"))),
            (
                "mcp-v8-client/Cargo.toml",
                Some(&cargo_member("mcp-v8-client", "MIT")),
            ),
            ("server/src/main.rs", Some("fn main() {}\n")),
        ],
        "Release 0.10.22",
    );
    up.tag("v0.10.22", c1);
    let c2 = up.commit(
        &[
            ("LICENSE", Some(&spdx("AGPL-3.0-or-later"))),
            (
                "server/Cargo.toml",
                Some(&cargo_member("server", "AGPL-3.0-or-later")),
            ),
            (
                "mcp-v8-client/Cargo.toml",
                Some(&cargo_member("mcp-v8-client", "AGPL-3.0-or-later")),
            ),
        ],
        "Release 0.20.0",
    );
    up.tag("v0.20.0", c2);
    up
}

fn local_mirror(ws: &Workspace, name: &str, up: &Repo, tag: &str) -> Repo {
    let mut m = Repo::new(&ws.path(&format!("{name}-mirror.git")));
    m.commit(&[("upkeep.lock", Some(&lockfile(&up.url(), tag)))], "pin");
    m
}

/// The body without its collapsed sections: what a reader sees inline.
fn inline_part(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("<details>") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("</details>")
            .map_or("", |end| &rest[start + end + "</details>".len()..]);
    }
    out.push_str(rest);
    out
}

/// No line-by-line diff of two different licenses: no diff block, and no line of either
/// standard text marked as added or removed.
fn assert_no_diff_of_two_licenses(inline: &str, old_id: &str, new_id: &str) {
    assert!(
        !inline.contains("```diff"),
        "a diff block inline:\n{inline}"
    );
    for id in [old_id, new_id] {
        for line in spdx(id).lines().map(str::trim).filter(|l| l.len() > 30) {
            for mark in ["+", "-"] {
                assert!(
                    !inline.contains(&format!("\n{mark}{line}")),
                    "{id} line diffed inline: {line}"
                );
            }
        }
    }
}

fn body_of(report: &serde_json::Value, name: &str) -> String {
    server(report, name)["pull_request"]["body"]
        .as_str()
        .unwrap_or_else(|| panic!("no PR body for {name}: {report}"))
        .to_owned()
}

/// The email file, its text part and its attachments (name, body).
struct Mail {
    size: usize,
    subject: String,
    text: String,
    html: String,
    attachments: Vec<(String, String)>,
}

fn read_mail(path: &std::path::Path) -> Mail {
    use mailparse::MailHeaderMap as _;
    let raw = std::fs::read(path).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();
    let mut m = Mail {
        size: raw.len(),
        subject: mail.headers.get_first_value("Subject").unwrap(),
        text: String::new(),
        html: String::new(),
        attachments: Vec::new(),
    };
    fn walk(p: &mailparse::ParsedMail<'_>, m: &mut Mail) {
        let disposition = p.get_content_disposition();
        if disposition.disposition == mailparse::DispositionType::Attachment {
            let name = disposition.params.get("filename").cloned().unwrap();
            m.attachments
                .push((name, p.get_body().unwrap().replace("\r\n", "\n")));
        } else if p.ctype.mimetype == "text/plain" {
            m.text = p.get_body().unwrap().replace("\r\n", "\n");
        } else if p.ctype.mimetype == "text/html" {
            m.html = p.get_body().unwrap();
        }
        for s in &p.subparts {
            walk(s, m);
        }
    }
    walk(&mail, &mut m);
    m
}

/// The one email the sync sent, asserted under 100 KB with its attachments.
fn the_review_email(ws: &Workspace) -> Mail {
    let emails = ws.emails();
    assert_eq!(emails.len(), 1);
    let mail = read_mail(&emails[0]);
    assert!(mail.size < 100 * 1024, "email is {} bytes", mail.size);
    mail
}

/// The table row of `inline` that starts with `start`.
fn row<'a>(inline: &'a str, start: &str) -> &'a str {
    inline
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no row {start:?} in:\n{inline}"))
}

#[test]
fn a_dual_license_behind_a_preamble_is_read_in_the_first_screen() {
    let ws = Workspace::new();
    let up = comfy_upstream(&ws);
    let mirror = local_mirror(&ws, "comfy", &up, "v0.4.0");
    ws.write_config(&[ServerSpec::lockfile("comfy-mcp", &up, &mirror)]);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!(server(&report, "comfy-mcp")["status"], "held");

    // The PR body (local mirrors render as for GitHub).
    let body = body_of(&report, "comfy-mcp");
    assert!(body.chars().count() <= 65_536, "{}", body.chars().count());
    let first: String = body.chars().take(FIRST_SCREEN).collect();
    for needle in [
        "`Apache-2.0` → `AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial`",
        "dual-licensed",
        "Commercial option:",
        "licensing\\@comfy.example",
        "upkeep license approve comfy-mcp",
        "close it",
    ] {
        assert!(first.contains(needle), "{needle:?} not in:\n{first}");
    }
    let inline = inline_part(&body);
    assert_no_diff_of_two_licenses(&inline, "Apache-2.0", "AGPL-3.0-or-later");
    // The non-standard words, and nothing else of the license, inline.
    assert!(inline.contains("**added before the standard text:** comfy-mcp is dual-licensed"));
    assert!(inline.contains("the standard AGPL-3.0-or-later text (match"));
    assert!(
        !inline.contains("GNU AFFERO GENERAL PUBLIC LICENSE"),
        "{inline}"
    );
    assert!(inline.contains("network copyleft"));
    assert!(inline.contains("not legal advice"));
    // The declarations that changed; the full new text only collapsed.
    let root = row(&inline, "| root (");
    assert!(
        root.contains("LICENSE")
            && root.contains("pyproject.toml project.license")
            && root
                .ends_with("| `Apache-2.0` | `AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial` |"),
        "{root}"
    );
    assert!(body.contains("<details><summary>LICENSE at v0.10.0"));
    assert!(body.contains("GNU AFFERO GENERAL PUBLIC LICENSE"));

    // The email: the change first, the texts attached, under 100 KB with them.
    let mail = the_review_email(&ws);
    assert!(
        mail.subject
            .ends_with(": Apache-2.0 -> AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial"),
        "{}",
        mail.subject
    );
    let mut lines = mail.text.lines();
    assert!(lines.next().unwrap().starts_with(
        "Apache-2.0 → AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial: dual-licensed"
    ));
    assert!(lines.next().unwrap().contains(CONTACT), "{}", mail.text);
    assert!(mail.html.contains(CONTACT));
    assert_no_diff_of_two_licenses(&mail.text, "Apache-2.0", "AGPL-3.0-or-later");
    assert!(
        mail.text
            .contains("The license text\n  LICENSE: the standard AGPL-3.0-or-later text")
    );
    assert!(mail.text.contains("added before the standard text:"));
    let names: Vec<&str> = mail.attachments.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "LICENSE-vs-standard-AGPL-3.0-or-later.txt",
            "LICENSE-0.10.0.txt",
            "LICENSE-0.4.0.txt"
        ]
    );
    let text_of = |n: &str| &mail.attachments.iter().find(|(a, _)| a == n).unwrap().1;
    assert!(text_of("LICENSE-0.10.0.txt").contains("GNU AFFERO GENERAL PUBLIC LICENSE"));
    assert!(text_of("LICENSE-0.4.0.txt").contains("Apache License"));
    assert!(text_of("LICENSE-vs-standard-AGPL-3.0-or-later.txt").contains(CONTACT));
    assert!(mail.text.contains("Attached: LICENSE-vs-standard"));

    // `license show` prints everything, the decisive part first.
    let out = ws.upkeep(&["license", "show", "comfy-mcp"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let show = out.stdout;
    let at = |needle: &str| {
        show.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{show}"))
    };
    assert!(at("Apache-2.0 → AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial") < at(CONTACT));
    assert!(at(CONTACT) < at("added before the standard text:"));
    assert!(at("Declarations") < at("for reference only"));
    assert!(show.contains("upkeep license approve comfy-mcp"));
    assert!(
        !show.contains("\n-Apache License"),
        "no line diff unless asked"
    );
    let full = ws
        .upkeep(&["license", "show", "comfy-mcp", "--line-diffs"])
        .stdout;
    assert!(full.contains("\n-Apache License") && full.contains("\n+GNU AFFERO"));
}

#[test]
fn a_workspace_member_that_declared_mit_then_agpl_is_in_the_table() {
    let ws = Workspace::new();
    let up = mcp_js_upstream(&ws);
    let mirror = local_mirror(&ws, "mcp-js", &up, "v0.10.22");
    ws.write_config(&[ServerSpec::lockfile("mcp-js", &up, &mirror)]);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let body = body_of(&report, "mcp-js");
    let first: String = body.chars().take(FIRST_SCREEN).collect();
    assert!(first.contains("`0BSD` → `AGPL-3.0-or-later`"), "{first}");
    let inline = inline_part(&body);
    assert_no_diff_of_two_licenses(&inline, "0BSD", "AGPL-3.0-or-later");
    // The member row, with the disagreement at the pinned release; unchanged rows left out.
    let member = row(&inline, "| package mcp-v8-client |");
    assert!(
        member.contains("`MIT` ⚠") && member.contains("0BSD"),
        "{member}"
    );
    assert!(member.ends_with("| `AGPL-3.0-or-later` |"), "{member}");
    assert!(inline.contains("| package server | `0BSD` | `AGPL-3.0-or-later` |"));

    let mail = the_review_email(&ws);
    assert!(
        mail.text
            .contains("package mcp-v8-client: MIT -> AGPL-3.0-or-later")
    );
    assert!(mail.text.contains("at the pinned release: "));
    assert_no_diff_of_two_licenses(&mail.text, "0BSD", "AGPL-3.0-or-later");
    assert!(
        mail.attachments
            .iter()
            .any(|(n, b)| n == "LICENSE-0.10.22.txt" && b.contains("Permission to use"))
    );

    let show = ws.upkeep(&["license", "show", "mcp-js"]).stdout;
    assert!(
        show.contains("package mcp-v8-client: MIT -> AGPL-3.0-or-later"),
        "{show}"
    );
}

#[test]
fn on_azure_devops_the_decision_fits_in_4000_characters() {
    let mut ws = Workspace::new();
    ws.env.push((TOKEN_ENV.into(), TOKEN.into()));
    let up = comfy_upstream(&ws);
    let fake = FakeAzure::start();
    {
        let mut s = fake.core.lock();
        let files = BTreeMap::from([(
            "upkeep.lock".to_string(),
            lockfile(&up.url(), "v0.4.0").into_bytes(),
        )]);
        let id = s.put_commit(files, vec![], "Human", "human@example.com", "mirror pin");
        s.refs.insert("main".into(), id);
    }
    let table = format!(
        "forge = \"azure-devops\"\nrepo = \"contoso/Mirror Project/mirror\"\nbase-url = {:?}\ntoken-env = \"{TOKEN_ENV}\"\nbase = \"main\"\npin-file = \"upkeep.lock\"\npin-format = \"lockfile\"\n",
        fake.server.url()
    );
    ws.write_config(&[ServerSpec {
        name: "comfy-mcp".into(),
        upstream: up.url(),
        mirror: String::new(),
        pin_file: "upkeep.lock".into(),
        pin_format: "lockfile".into(),
        mirror_table: Some(table),
    }]);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let body = {
        let s = fake.core.lock();
        let open: Vec<_> = s
            .prs
            .iter()
            .filter(|p| p.state == FakePrState::Open)
            .collect();
        assert_eq!(open.len(), 1);
        assert!(open[0].draft, "held: a draft");
        open[0].body.clone()
    };
    assert!(
        body.chars().count() <= FakeAzure::BODY_LIMIT,
        "{} characters",
        body.chars().count()
    );
    let first: String = body.chars().take(FIRST_SCREEN).collect();
    for needle in [
        "`Apache-2.0` → `AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial`",
        "licensing\\@comfy.example",
        "upkeep license approve comfy-mcp",
    ] {
        assert!(first.contains(needle), "{needle:?} not in:\n{first}");
    }
    // What is cut is pointed to; the full texts are not inline, collapsed or not.
    assert!(body.contains("`upkeep license show comfy-mcp` prints everything"));
    assert!(
        body.contains("**added before the standard text:**"),
        "{body}"
    );
    assert!(!body.contains("<details>"));
    assert_no_diff_of_two_licenses(&body, "Apache-2.0", "AGPL-3.0-or-later");
    assert!(body.contains("Sponsoring checklist"));
}

#[test]
fn a_huge_license_text_stays_within_the_email_and_body_limits() {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("huge.git"));
    let mit = crate::support::MIT;
    let c1 = up.commit(&[("LICENSE", Some(mit))], "Release 1.0.0");
    up.tag("v1.0.0", c1);
    // A schedule of terms appended after the AGPL text, 160 KB of clauses that differ.
    let schedule: String = (0..2_000)
        .map(|i| {
            format!("Schedule clause {i}: the licensee shall report usage metric {i} to the licensor within {i} days.\n")
        })
        .collect();
    let huge = format!("{}\n\n{schedule}", spdx("AGPL-3.0-or-later"));
    let c2 = up.commit(&[("LICENSE", Some(&huge))], "Release 2.0.0");
    up.tag("v2.0.0", c2);
    let mirror = local_mirror(&ws, "huge", &up, "v1.0.0");
    ws.write_config(&[ServerSpec::lockfile("huge-mcp", &up, &mirror)]);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let body = body_of(&report, "huge-mcp");
    assert!(body.chars().count() <= 65_536, "{}", body.chars().count());
    assert!(body.contains("`MIT` → `"), "{body}");
    assert_no_diff_of_two_licenses(&inline_part(&body), "MIT", "AGPL-3.0-or-later");

    let mail = the_review_email(&ws);
    assert!(
        mail.text
            .contains("Not attached (the email would pass 100 KB): LICENSE-2.0.0.txt"),
        "{}",
        mail.text
    );
    assert!(
        mail.text
            .contains("`upkeep license show huge-mcp` prints everything")
    );
    assert!(
        mail.attachments
            .iter()
            .any(|(n, _)| n == "LICENSE-1.0.0.txt")
    );
}
