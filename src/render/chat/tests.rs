use serde_json::Value;

use super::*;

fn review_card() -> ChatCard {
    ChatCard {
        title: "weather-mcp: license change in 1.6.0 needs review".into(),
        facts: vec![
            ("Server".into(), "weather-mcp".into()),
            ("Versions".into(), "1.4.2 → 1.6.0".into()),
            ("Verdict".into(), "review-required".into()),
        ],
        summary: vec![
            "LICENSE: the license text changed beyond formatting".into(),
            "LICENSE: MIT -> MIT with added text: \"No use in hosted services.\"".into(),
        ],
        diff: vec![
            "--- LICENSE".into(),
            "+++ LICENSE".into(),
            "@@ -19,3 +19,5 @@".into(),
            " SOFTWARE.".into(),
            "+".into(),
            "+No use in hosted services.".into(),
        ],
        link: Some("https://github.com/acme/weather-mcp-mirror/pull/7".into()),
        context: "upkeep · license-review · message 12".into(),
        ..ChatCard::default()
    }
}

fn hostile() -> String {
    "<!channel> <!here> @here @channel <@U024BE7LH> <#C123> <at>Bob</at> a&b \u{1b}[31mred\u{7} \u{202E}txet [x](https://evil.example)".into()
}

/// Every string in a JSON value.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[test]
fn teams_message_is_an_adaptive_card_attachment() {
    let body = teams_message(&review_card());
    insta::assert_snapshot!(
        "teams_license_review",
        serde_json::to_string_pretty(&body).unwrap()
    );
    assert_eq!(body["type"], "message");
    let a = &body["attachments"][0];
    assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
    assert_eq!(a["content"]["type"], "AdaptiveCard");
    let version: f64 = a["content"]["version"].as_str().unwrap().parse().unwrap();
    assert!(version >= 1.4);
    assert_eq!(a["content"]["body"][1]["type"], "FactSet");
    assert_eq!(a["content"]["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(
        a["content"]["actions"][0]["url"],
        "https://github.com/acme/weather-mcp-mirror/pull/7"
    );
}

#[test]
fn slack_message_is_block_kit_with_a_fallback() {
    let body = slack_message(&review_card());
    insta::assert_snapshot!(
        "slack_license_review",
        serde_json::to_string_pretty(&body).unwrap()
    );
    let types: Vec<&str> = body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "header", "section", "section", "section", "context", "actions"
        ]
    );
    assert_eq!(body["blocks"][1]["fields"].as_array().unwrap().len(), 3);
    assert_eq!(
        body["blocks"][5]["elements"][0]["url"],
        "https://github.com/acme/weather-mcp-mirror/pull/7"
    );
    assert!(body["text"].as_str().unwrap().starts_with("weather-mcp"));
}

#[test]
fn upstream_text_pings_nobody_and_carries_no_control_characters() {
    let evil = hostile();
    let card = ChatCard {
        title: evil.clone(),
        facts: vec![("Server".into(), evil.clone())],
        summary: vec![evil.clone()],
        diff: vec![evil.clone()],
        link: Some("https://example.com/pr/1".into()),
        context: evil.clone(),
        more: Some((evil, "https://example.com/advisory/1".into())),
        ..ChatCard::default()
    };
    for (kind, body) in [
        ("teams", teams_message(&card)),
        ("slack", slack_message(&card)),
    ] {
        let mut all = Vec::new();
        strings(&body, &mut all);
        for s in &all {
            for banned in ["<!", "<@", "<#", "<at>", "\u{1b}", "\u{7}", "\u{202E}"] {
                assert!(!s.contains(banned), "{kind}: {banned:?} in {s:?}");
            }
            for mention in ["@here", "@channel"] {
                assert!(!s.contains(mention), "{kind}: {mention} in {s:?}");
            }
        }
        assert!(all.iter().any(|s| s.contains("red")), "{kind}: text kept");
    }
    // Slack mrkdwn gets Slack's three escapes; Teams gets look-alikes.
    let slack = slack_message(&card).to_string();
    assert!(
        slack.contains("&lt;!channel&gt;") && slack.contains("a&amp;b"),
        "{slack}"
    );
    let teams = teams_message(&card).to_string();
    assert!(teams.contains("‹at>Bob‹/at>"), "{teams}");
    assert!(!teams.contains("](https://evil"), "{teams}");
}

#[test]
fn oversized_cards_fit_each_services_limits_and_link_the_pr() {
    let long = "x".repeat(5000);
    let card = ChatCard {
        title: "t".repeat(1000),
        facts: (0..30)
            .map(|i| (format!("fact {i}"), long.clone()))
            .collect(),
        summary: (0..500).map(|i| format!("{i} {long}")).collect(),
        diff: (0..2000)
            .map(|i| format!("+{i} {}", "<&>".repeat(300)))
            .collect(),
        link: Some("https://example.com/pr/9".into()),
        context: long.clone(),
        ..ChatCard::default()
    };
    let teams = teams_message(&card);
    assert!(
        teams.to_string().len() <= TEAMS_MAX_BYTES,
        "{}",
        teams.to_string().len()
    );
    assert_eq!(
        teams["attachments"][0]["content"]["actions"][0]["url"],
        "https://example.com/pr/9"
    );
    assert!(teams.to_string().contains('…'));

    let slack = slack_message(&card);
    let blocks = slack["blocks"].as_array().unwrap();
    assert!(blocks.len() <= SLACK_MAX_BLOCKS);
    let header = blocks[0]["text"]["text"].as_str().unwrap();
    assert!(header.chars().count() <= SLACK_HEADER_CHARS && header.ends_with('…'));
    let fields = blocks[1]["fields"].as_array().unwrap();
    assert!(fields.len() <= SLACK_MAX_FIELDS);
    for f in fields {
        assert!(f["text"].as_str().unwrap().chars().count() <= SLACK_FIELD_CHARS);
    }
    for b in blocks
        .iter()
        .filter(|b| b["type"] == "section" && b["text"].is_object())
    {
        let text = b["text"]["text"].as_str().unwrap();
        assert!(
            text.chars().count() <= SLACK_SECTION_CHARS,
            "{}",
            text.len()
        );
        assert!(
            !text.contains("&a…") && !text.contains("&l…"),
            "a cut escape"
        );
    }
    let summary = blocks[2]["text"]["text"].as_str().unwrap();
    assert!(summary.ends_with("<https://example.com/pr/9|the whole message is on the PR>"));
    assert!(slack["text"].as_str().unwrap().chars().count() <= SLACK_SECTION_CHARS);
}

#[test]
fn a_card_made_from_an_email_shows_its_subject_and_first_lines() {
    let text = "Line one\n\n  \nLine two\n".to_string() + &"more\n".repeat(40);
    let card = card_from_email("s", "moved-tag", "[upkeep] s: tag v1 moved", &text, None);
    assert_eq!(card.title, "[upkeep] s: tag v1 moved");
    assert_eq!(card.facts[0], ("Server".into(), "s".into()));
    assert_eq!(card.summary[..2], ["Line one", "Line two"]);
    assert_eq!(card.summary.len(), SUMMARY_LINES);
    // No PR: no button, no action.
    assert!(
        slack_message(&card)
            .to_string()
            .find("\"actions\"")
            .is_none()
    );
    assert!(teams_message(&card)["attachments"][0]["content"]["actions"].is_null());
}

#[test]
fn links_that_are_not_web_urls_are_left_out() {
    for bad in [
        "javascript:alert(1)",
        "https://x/a|b",
        "https://x/<a>",
        "file:///etc",
    ] {
        let mut card = review_card();
        card.link = Some(bad.into());
        card.more = Some(("Read the advisory".into(), bad.into()));
        assert!(
            slack_message(&card)["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|b| b["type"] != "actions"),
            "{bad}"
        );
        if !bad.starts_with("https://") {
            assert!(
                teams_message(&card)["attachments"][0]["content"]["actions"].is_null(),
                "{bad}"
            );
        }
    }
}
