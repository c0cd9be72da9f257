//! Chat destinations end to end: the real binary posts to loopback Teams and Slack incoming
//! webhooks that check each payload's shape as the services document it, and answer as they
//! do (success, 429 with `Retry-After`, 500, 400 with the service's word).
//!
//! - Teams ("Create and send messages", Incoming Webhook; "Format cards in Teams"): a JSON body
//!   `{"type": "message", "attachments": [{"contentType":
//!   "application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard>}]}`; messages over
//!   28 KB are refused. Workflows webhooks answer `202 Accepted`.
//! - Slack ("Sending messages using incoming webhooks", "Block Kit" reference): `text` and/or
//!   `blocks` (at most 50; header text plain_text of at most 150 characters, section text 3000,
//!   fields at most 10 of 2000, a button's text 75 and URL 3000); success is `200 ok`; a bad
//!   payload is `400 invalid_blocks` / `invalid_payload`, no text at all `400 no_text`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

use crate::advisories_e2e::{record, world};
use crate::forge_support::Server;
use crate::osv_support::FakeOsv;
use crate::support::{MIT, Repo, ServerSpec, Workspace, lockfile};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Teams,
    Slack,
}

/// A programmed answer: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, String);

#[derive(Default)]
struct Inbox {
    /// Every POST that reached the route, in order (shape-checked or not).
    posts: Vec<Value>,
    /// The posts the service accepted (shown in the channel).
    accepted: Vec<Value>,
    script: VecDeque<Answer>,
}

/// A loopback incoming webhook of one kind. The path carries a token, as real webhook URLs do.
pub struct Receiver {
    server: Server,
    inbox: Arc<Mutex<Inbox>>,
}

/// The secret part of every receiver's URL: it must appear in no output or state.
pub const HOOK_TOKEN: &str = "T0CANARY/B0CANARY/XoXoWebhookCanary42";

impl Receiver {
    pub fn start(kind: Kind) -> Receiver {
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let router = Router::new()
            .route("/hook/{*token}", post(receive))
            .with_state((kind, Arc::clone(&inbox)));
        Receiver {
            server: Server::start(router),
            inbox,
        }
    }

    pub fn url(&self) -> String {
        format!("{}/hook/{HOOK_TOKEN}", self.server.url())
    }

    /// Answer the next POST with this instead of success.
    pub fn then_answer(&self, status: u16, headers: &[(&'static str, &str)], body: &str) {
        let headers = headers
            .iter()
            .map(|(k, v)| (*k, (*v).to_string()))
            .collect();
        self.inbox
            .lock()
            .unwrap()
            .script
            .push_back((status, headers, body.to_string()));
    }

    pub fn posts(&self) -> usize {
        self.inbox.lock().unwrap().posts.len()
    }

    pub fn accepted(&self) -> Vec<Value> {
        self.inbox.lock().unwrap().accepted.clone()
    }
}

async fn receive(State((kind, inbox)): State<(Kind, Arc<Mutex<Inbox>>)>, body: Bytes) -> Response {
    let mut inbox = inbox.lock().unwrap();
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    inbox.posts.push(payload.clone());
    if let Some((status, headers, text)) = inbox.script.pop_front() {
        let mut response = (StatusCode::from_u16(status).unwrap(), text).into_response();
        for (k, v) in headers {
            response.headers_mut().insert(k, v.parse().unwrap());
        }
        return response;
    }
    let problem = match kind {
        Kind::Teams => teams_problem(&payload, body.len()),
        Kind::Slack => slack_problem(&payload),
    };
    if let Some((status, word)) = problem {
        return (StatusCode::from_u16(status).unwrap(), word).into_response();
    }
    inbox.accepted.push(payload);
    match kind {
        Kind::Teams => (StatusCode::ACCEPTED, "").into_response(),
        Kind::Slack => (StatusCode::OK, "ok").into_response(),
    }
}

/// What Teams would refuse in `payload`, as (status, answer).
fn teams_problem(payload: &Value, size: usize) -> Option<(u16, String)> {
    if size > 28 * 1024 {
        return Some((413, "Payload is too large".into()));
    }
    let bad = |why: &str| Some((400, format!("Bad payload: {why}")));
    if payload["type"] != "message" {
        return bad("type is not message");
    }
    let Some(attachment) = payload["attachments"].get(0) else {
        return bad("no attachment");
    };
    if attachment["contentType"] != "application/vnd.microsoft.card.adaptive" {
        return bad("attachment is not an adaptive card");
    }
    let card = &attachment["content"];
    let version: f64 = card["version"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    if card["type"] != "AdaptiveCard" || version < 1.4 || !card["body"].is_array() {
        return bad("not an AdaptiveCard of version 1.4 or later with a body");
    }
    None
}

/// What Slack would refuse in `payload`, as (status, answer).
fn slack_problem(payload: &Value) -> Option<(u16, String)> {
    let blocks = payload["blocks"].as_array();
    let text = payload["text"].as_str().filter(|t| !t.is_empty());
    if blocks.is_none() && text.is_none() {
        return Some((400, "no_text".into()));
    }
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let invalid = Some((400, "invalid_blocks".into()));
    let blocks = blocks.cloned().unwrap_or_default();
    if blocks.len() > 50 {
        return invalid;
    }
    for b in &blocks {
        let ok = match b["type"].as_str() {
            Some("header") => b["text"]["type"] == "plain_text" && chars(&b["text"]["text"]) <= 150,
            Some("section") => {
                let fields = b["fields"].as_array();
                (b["text"].is_object() || fields.is_some())
                    && chars(&b["text"]["text"]) <= 3000
                    && fields.is_none_or(|f| {
                        f.len() <= 10 && f.iter().all(|x| chars(&x["text"]) <= 2000)
                    })
            }
            Some("context") => b["elements"].as_array().is_some_and(|e| e.len() <= 10),
            Some("actions") => b["elements"].as_array().is_some_and(|e| {
                e.iter().all(|x| {
                    x["type"] == "button"
                        && chars(&x["text"]["text"]) <= 75
                        && chars(&x["url"]) <= 3000
                })
            }),
            _ => false,
        };
        if !ok {
            return invalid;
        }
    }
    None
}

/// A held license review for server `licensed`, its mirror local, with chat destinations
/// `legal` (Teams, URL in an environment variable) for the server and `ops` (Slack, URL in a
/// file) for every server.
pub(crate) fn licensed_world(teams: &Receiver, slack: &Receiver) -> Workspace {
    let mut ws = Workspace::new();
    let mut up = Repo::new(&ws.path("licensed-up.git"));
    let c = up.commit(&[("LICENSE", Some(MIT))], "r1");
    up.tag("v1.0.0", c);
    let c = up.commit(
        &[(
            "LICENSE",
            Some(&format!(
                "{MIT}\nNo use in hosted services. <!channel> @here\n"
            )),
        )],
        "relicense",
    );
    up.tag("v2.0.0", c);
    let mut mirror = Repo::new(&ws.path("licensed-mirror.git"));
    mirror.commit(
        &[("upkeep.lock", Some(&lockfile(&up.url(), "v1.0.0")))],
        "pin",
    );
    ws.write_config(&[ServerSpec::lockfile("licensed", &up, &mirror)]);
    with_chat(&mut ws, teams, slack);
    ws
}

/// Chat destinations for the (one) server of `ws`: `legal` (Teams, URL in an environment
/// variable) for the server and `ops` (Slack, URL in a file) for every server.
fn with_chat(ws: &mut Workspace, teams: &Receiver, slack: &Receiver) {
    let url_file = ws.path("slack-url");
    std::fs::write(&url_file, format!("{}\n", slack.url())).unwrap();
    ws.env.push(("UPKEEP_TEST_TEAMS_URL".into(), teams.url()));
    ws.edit_config(|c| {
        let c = c.replacen(
            "failing-runs-alert = 2\n",
            "failing-runs-alert = 2\nchat = [\"ops\"]\n",
            1,
        );
        let c = c.replacen(
            "owners = [\"owner@example.com\"]\n",
            "owners = [\"owner@example.com\"]\nchat = [\"legal\"]\n",
            1,
        );
        format!(
            "{c}\n[chat.legal]\nkind = \"teams\"\nwebhook-url-env = \"UPKEEP_TEST_TEAMS_URL\"\n\n\
             [chat.ops]\nkind = \"slack\"\nwebhook-url-file = {:?}\n",
            url_file.display().to_string()
        )
    });
}

/// The outbox rows of chat messages, as `outbox list --json` would not show them: read from
/// the state.
pub(crate) fn chat_rows(ws: &Workspace) -> Vec<upkeep::store::OutboxRow> {
    let store = upkeep::store::Store::open(&ws.path("state/upkeep.db")).unwrap();
    store
        .outbox(&[])
        .unwrap()
        .into_iter()
        .filter(|r| r.recipients.iter().any(|x| x.starts_with("chat:")))
        .collect()
}

fn no_secret_in(ws: &Workspace, texts: &[&str]) {
    for t in texts {
        assert!(
            !t.contains("XoXoWebhookCanary42"),
            "the webhook URL leaked: {t}"
        );
    }
    let db = std::fs::read(ws.path("state/upkeep.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains("XoXoWebhookCanary42"),
        "the webhook URL is in the state"
    );
}

#[test]
fn a_license_review_reaches_teams_and_slack_once() {
    let (teams, slack) = (Receiver::start(Kind::Teams), Receiver::start(Kind::Slack));
    let ws = licensed_world(&teams, &slack);
    let check = ws.upkeep(&["check"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);

    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let (t, s) = (teams.accepted(), slack.accepted());
    assert_eq!((t.len(), s.len()), (1, 1), "teams {t:?}\nslack {s:?}");

    let card = &t[0]["attachments"][0]["content"];
    let facts: Vec<(String, String)> = card["body"][1]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["title"].as_str().unwrap().to_string(),
                f["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(facts[0], ("Server".into(), "licensed".into()));
    assert_eq!(facts[1], ("Versions".into(), "1.0.0 → 2.0.0".into()));
    assert_eq!(facts[2], ("Verdict".into(), "review-required".into()));
    let teams_text = t[0].to_string();
    assert!(
        teams_text.contains("No use in hosted services."),
        "{teams_text}"
    );
    assert!(!teams_text.contains("<!channel>"), "{teams_text}");

    let slack_text = s[0].to_string();
    assert_eq!(s[0]["blocks"][0]["type"], "header");
    assert!(s[0]["text"].as_str().unwrap().contains("licensed"));
    assert!(slack_text.contains("&lt;!channel&gt;"), "{slack_text}");
    assert!(!slack_text.contains("<!channel>") && !slack_text.contains("@here"));

    // The outbox: one row per destination, sent; the email itself went as before.
    let rows = chat_rows(&ws);
    let mut to: Vec<&str> = rows.iter().map(|r| r.recipients[0].as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["chat:legal", "chat:ops"]);
    assert!(rows.iter().all(|r| r.status == "sent"), "{rows:?}");
    assert_eq!(ws.emails().len(), 1);

    // The next run queues nothing new and posts nothing again.
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    assert_eq!((teams.posts(), slack.posts()), (1, 1));
    no_secret_in(&ws, &[&report.to_string()]);
}

#[test]
fn rate_limits_and_server_errors_are_retried_and_a_refusal_is_kept() {
    let (teams, slack) = (Receiver::start(Kind::Teams), Receiver::start(Kind::Slack));
    let ws = licensed_world(&teams, &slack);
    teams.then_answer(429, &[("retry-after", "1")], "Too many requests");
    slack.then_answer(500, &[], "rollup_error");
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let rows = chat_rows(&ws);
    let by = |to: &str| rows.iter().find(|r| r.recipients[0] == to).unwrap().clone();
    let legal = by("chat:legal");
    assert_eq!(legal.status, "pending", "{legal:?}");
    let error = legal.last_error.unwrap();
    assert!(
        error.contains("429") && error.contains("Too many requests"),
        "{error}"
    );
    // Retry-After: 1 -> due about a second after the answer, not the minutes of the back-off.
    let due = chrono::DateTime::parse_from_rfc3339(&legal.next_attempt_at).unwrap();
    assert!(
        due < chrono::Utc::now() + chrono::Duration::seconds(5),
        "{}",
        legal.next_attempt_at
    );
    let ops = by("chat:ops");
    assert_eq!(ops.status, "pending");
    assert!(ops.last_error.unwrap().contains("rollup_error"));

    // After the wait, `outbox retry` of the Slack row and a drain of the Teams row send both.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let out = ws.upkeep(&["outbox", "retry", &ops.id.to_string()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!((teams.accepted().len(), slack.accepted().len()), (1, 1));
    assert!(chat_rows(&ws).iter().all(|r| r.status == "sent"));

    // A 400 is final: recorded with Slack's word, escaped and bounded, and never sent again.
    let (teams, slack) = (Receiver::start(Kind::Teams), Receiver::start(Kind::Slack));
    let ws = licensed_world(&teams, &slack);
    slack.then_answer(
        400,
        &[],
        &format!("invalid_blocks\u{1b}[2J{}", "x".repeat(4000)),
    );
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let ops = chat_rows(&ws)
        .into_iter()
        .find(|r| r.recipients[0] == "chat:ops")
        .unwrap();
    assert_eq!(ops.status, "failed");
    let error = ops.last_error.clone().unwrap();
    assert!(
        error.contains("HTTP 400: invalid_blocks\\u{1b}[2J"),
        "{error}"
    );
    assert!(error.chars().count() < 400, "{}", error.len());
    let (code, _) = ws.sync();
    assert_eq!(code, 0);
    assert_eq!(slack.posts(), 1);
    no_secret_in(&ws, &[&report.to_string(), &error]);
}

#[test]
fn check_refuses_unknown_and_ill_formed_destinations_all_at_once() {
    let ws = Workspace::new();
    let up = Repo::new(&ws.path("up.git"));
    let mirror = Repo::new(&ws.path("mirror.git"));
    ws.write_config(&[ServerSpec::lockfile("s", &up, &mirror)]);
    ws.edit_config(|c| {
        let c = c.replacen(
            "owners = [\"owner@example.com\"]\n",
            "owners = [\"owner@example.com\"]\nchat = [\"nope\"]\n",
            1,
        );
        format!(
            "{c}\n[chat.both]\nkind = \"slack\"\nwebhook-url-env = \"A\"\nwebhook-url-file = \"/x\"\n\n\
             [chat.neither]\nkind = \"teams\"\n\n[chat.odd]\nkind = \"irc\"\nwebhook-url-env = \"B\"\n"
        )
    });
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    for needle in [
        "no `[chat.nope]` destination",
        "set either `webhook-url-env` or `webhook-url-file`, not both",
        "[chat.neither]: needs `webhook-url-env`",
        "`kind`: `irc` is not one of",
    ] {
        assert!(out.stderr.contains(needle), "{needle}:\n{}", out.stderr);
    }

    // A URL that is set and is plain http off loopback is refused, without being shown.
    let ws = Workspace::new();
    ws.write_config(&[ServerSpec::lockfile("s", &up, &mirror)]);
    ws.edit_config(|c| {
        format!(
            "{c}\n[chat.plain]\nkind = \"slack\"\nwebhook-url-env = \"UPKEEP_TEST_PLAIN_URL\"\n"
        )
    });
    let mut ws = ws;
    ws.env.push((
        "UPKEEP_TEST_PLAIN_URL".into(),
        format!("http://chat.example.com/hook/{HOOK_TOKEN}"),
    ));
    let out = ws.upkeep(&["check"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("[chat.plain]: the webhook URL is not https"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("XoXoWebhookCanary42") && !out.stdout.contains("XoXoWebhookCanary42")
    );
}

#[test]
fn an_advisory_reaches_teams_and_slack_as_its_own_card_once() {
    let (teams, slack) = (Receiver::start(Kind::Teams), Receiver::start(Kind::Slack));
    let osv = FakeOsv::start();
    let mut advisory = record("GHSA-wthr-0042", "1.1.0");
    advisory["summary"] = serde_json::json!("Path traversal <!channel> @here");
    osv.put(advisory);
    let mut ws = world(
        &osv.base(),
        "release = { channel = \"git-tags\", tag-pattern = \"^v(.+)$\" }",
    );
    with_chat(&mut ws, &teams, &slack);
    let (code, report) = ws.sync();
    assert_eq!(code, 0, "{report}");
    let (t, s) = (teams.accepted(), slack.accepted());
    assert_eq!((t.len(), s.len()), (1, 1), "teams {t:?}\nslack {s:?}");

    let card = &t[0]["attachments"][0]["content"];
    let title = card["body"][0]["text"].as_str().unwrap();
    assert_eq!(
        title,
        "weather 1.0.0: security advisory GHSA-wthr-0042, fixed in 1.1.0"
    );
    assert_eq!(card["body"][0]["color"], "Attention", "high severity");
    let facts: Vec<(&str, &str)> = card["body"][1]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["title"].as_str().unwrap(), f["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        facts,
        [
            ("Server", "weather"),
            ("Severity", "high"),
            ("Advisory", "GHSA-wthr-0042"),
            ("Aliases", "CVE-2026-4242"),
            ("Pinned", "1.0.0"),
            ("Fixed in", "1.1.0"),
        ]
    );
    let teams_text = t[0].to_string();
    assert!(teams_text.contains("Path traversal"), "{teams_text}");
    assert!(!teams_text.contains("<!channel>"), "{teams_text}");
    // The local mirror's PR is a path, not a page: only the advisory's button.
    let actions: Vec<&str> = card["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["url"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["https://osv.dev/vulnerability/GHSA-wthr-0042"]);

    let blocks = s[0]["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(
        blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("GHSA-wthr-0042")
    );
    let slack_text = s[0].to_string();
    assert!(slack_text.contains("*Fixed in*\\n1.1.0"), "{slack_text}");
    assert!(slack_text.contains("&lt;!channel&gt;"), "{slack_text}");
    assert!(!slack_text.contains("<!channel>") && !slack_text.contains("@here"));
    assert!(slack_text.contains("advisory · message"), "{slack_text}");

    // The email went too, and the next run tells nobody again.
    assert_eq!(ws.emails().len(), 1);
    let (code, report) = ws.sync_with(&["--full"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!((teams.posts(), slack.posts()), (1, 1));
    no_secret_in(&ws, &[&report.to_string()]);
}
