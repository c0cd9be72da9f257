//! Snapshots of the texts people read: the rebuild PR body (held and plain), the license email
//! and the moved-tag alarm, rendered by real syncs of fixed histories (commit ids are stable:
//! the test repositories use fixed times). Temp paths are redacted.

use crate::support::{MIT, Repo, ServerSpec, Workspace, lockfile, server};

fn redact(text: &str, ws: &Workspace) -> String {
    text.replace(&ws.dir.path().display().to_string(), "[WORKSPACE]")
}

fn body_of(report: &serde_json::Value, name: &str) -> String {
    server(report, name)["pull_request"]["body"]
        .as_str()
        .unwrap()
        .to_string()
}

fn plain_text(path: &std::path::Path) -> (String, String) {
    use mailparse::MailHeaderMap as _;
    let raw = std::fs::read(path).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();
    let subject = mail.headers.get_first_value("Subject").unwrap();
    // The body's text part, not a text attachment (license emails carry the texts attached).
    fn text_part(p: &mailparse::ParsedMail<'_>) -> Option<String> {
        let attached =
            p.get_content_disposition().disposition == mailparse::DispositionType::Attachment;
        if p.ctype.mimetype == "text/plain" && !attached {
            return p.get_body().ok();
        }
        p.subparts.iter().find_map(text_part)
    }
    (subject, text_part(&mail).unwrap())
}

#[test]
fn the_screens_people_read() {
    let ws = Workspace::new();
    let mut up = Repo::new(&ws.path("upstream.git"));
    let pkg = |deps: &str, scripts: &str| {
        format!(
            "{{\n  \"name\": \"weather-mcp\",\n  \"license\": \"MIT\",\n  \"scripts\": {{{scripts}}},\n  \"dependencies\": {{{deps}}}\n}}\n"
        )
    };
    let c1 = up.commit(
        &[
            ("LICENSE", Some(MIT)),
            ("package.json", Some(&pkg("\"node-fetch\": \"^3.0.0\"", ""))),
            ("src/index.js", Some("export {}\n")),
        ],
        "Release 1.4.2",
    );
    up.tag("v1.4.2", c1);
    up.commit_as(
        "Ada",
        &[("src/hosted.js", Some("export const hosted = true;\n"))],
        "feat: hosted mode with API keys",
    );
    up.commit_as(
        "Bo",
        &[
            (
                "package.json",
                Some(&pkg(
                    "\"undici\": \"^7.2.0\"",
                    "\"postinstall\": \"node scripts/fetch-model.js\"",
                )),
            ),
            (".github/workflows/release.yml", Some("on: push\n")),
        ],
        "build: switch to undici",
    );
    let c4 = up.commit(
        &[(
            "LICENSE",
            Some(&format!(
                "{MIT}\nThe Software may not be used to provide a hosted service to third parties\nwithout a commercial agreement with Example Corp.\n"
            )),
        )],
        "Release 1.6.0",
    );
    up.tag("v1.6.0", c4);
    let mut mirror = Repo::new(&ws.path("mirror.git"));
    mirror.commit(
        &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.4.2")))],
        "pin",
    );
    ws.write_config(&[ServerSpec::lockfile("weather-mcp", &up, &mirror)]);

    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    insta::assert_snapshot!(
        "pr_body_held",
        redact(&body_of(&report, "weather-mcp"), &ws)
    );
    let emails = ws.emails();
    assert_eq!(emails.len(), 1);
    let (subject, text) = plain_text(&emails[0]);
    insta::assert_snapshot!(
        "license_email",
        redact(&format!("Subject: {subject}\n\n{text}"), &ws)
    );

    // Approved: the body says who approved it and the PR is no longer blocked.
    assert_eq!(
        ws.upkeep(&[
            "license",
            "approve",
            "weather-mcp",
            "--by",
            "Ada Lovelace",
            "--note",
            "CELA-118"
        ])
        .code,
        0
    );
    let (_, report) = ws.sync();
    let body = redact(&body_of(&report, "weather-mcp"), &ws);
    let body: String = body
        .lines()
        .map(|l| {
            if l.starts_with("> ✅") {
                "> ✅ License change approved by Ada Lovelace on [DATE] (CELA-118).".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("pr_body_approved", body);

    // A moved release tag: the alarm.
    let other = up.commit(&[("src/evil.js", Some("steal()\n"))], "sneaky");
    up.repo.tag_delete("v1.6.0").unwrap();
    up.tag("v1.6.0", other);
    let (_, report) = ws.sync();
    assert_eq!(server(&report, "weather-mcp")["status"], "held");
    let emails = ws.emails();
    assert_eq!(emails.len(), 2);
    let (subject, text) = plain_text(&emails[1]);
    let text: String = text
        .lines()
        .map(|l| match l.find("(first seen ") {
            Some(i) => format!(
                "{}(first seen [TIME]) {}",
                &l[..i],
                &l[l.find(") ->").map_or(l.len(), |j| j + 2)..]
            ),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!(
        "moved_tag_email",
        redact(&format!("Subject: {subject}\n\n{text}"), &ws)
    );
}
