//! Chat cards: what a Teams or Slack channel shows of a message upkeep emails. Pure: a
//! [`ChatCard`] (made from the email, or by the code that queued it with more to say) becomes
//! the JSON body of one incoming-webhook POST.
//!
//! - Teams: a `message` with one Adaptive Card attachment (schema 1.4): the title (coloured by
//!   the card's [`Tone`]), a FactSet, the summary, the first lines of the license diff, and an
//!   `Action.OpenUrl` to the PR (and one to the card's second link, e.g. an advisory's page).
//!   Microsoft documents a message size limit of about 28 KB for incoming webhooks; the body is
//!   kept under [`TEAMS_MAX_BYTES`] by dropping diff and summary lines from the end.
//! - Slack: Block Kit (header, section with fields, sections for the summary and the diff,
//!   context, actions with a button to the PR and one to the second link) and a plain `text` fallback, within Slack's block
//!   limits (header text 150 characters, section text 3000, 10 fields of 2000, a button's text
//!   75 and its URL 3000, 50 blocks).
//!
//! Whatever is cut ends with "…" and the card links the PR, where the whole change is.
//!
//! Upstream text (tags, license text, commit subjects) is hostile until shown otherwise:
//! control and bidirectional-override characters are dropped (a terminal escape or a reversed
//! line has no business in a channel), and nothing it says can notify anyone. Slack reads
//! `<!channel>`, `<!here>`, `<@U123>` and `<#C123>` in mrkdwn, so `&`, `<` and `>` are escaped
//! as Slack's "Formatting text for app surfaces" asks, and an `@` that starts a word gets a
//! zero-width joiner; Teams mentions need `<at>` tags, so `<` becomes a look-alike there.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::RebuildView;

/// Teams incoming webhooks refuse messages over about 28 KB; keep a margin for the envelope.
pub const TEAMS_MAX_BYTES: usize = 27 * 1024;
/// Slack Block Kit limits ("Blocks" reference: header, section; "Block elements": button).
pub const SLACK_HEADER_CHARS: usize = 150;
pub const SLACK_SECTION_CHARS: usize = 3000;
pub const SLACK_FIELD_CHARS: usize = 2000;
pub const SLACK_MAX_FIELDS: usize = 10;
pub const SLACK_BUTTON_CHARS: usize = 75;
pub const SLACK_URL_CHARS: usize = 3000;
pub const SLACK_MAX_BLOCKS: usize = 50;
/// Lines of the email's text a card made from an email shows.
const SUMMARY_LINES: usize = 12;
/// Lines of the license diff a card shows at most.
const DIFF_LINES: usize = 20;
/// Characters of one summary line / diff line in a Teams card.
const SUMMARY_CHARS: usize = 2000;
const DIFF_LINE_CHARS: usize = 500;

/// What a chat message shows. Stored (as JSON) with the queued message, so what goes out after
/// a crash is what was decided before it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatCard {
    pub title: String,
    /// Name and value, e.g. ("Server", "weather-mcp").
    pub facts: Vec<(String, String)>,
    /// Plain-text lines under the facts.
    pub summary: Vec<String>,
    /// The first lines of the license diff, when there is one.
    pub diff: Vec<String>,
    /// The rebuild PR.
    pub link: Option<String>,
    /// A small line at the bottom (what sent it, which message).
    pub context: String,
    /// How urgent it looks: Teams colours the title (Slack's blocks have no colour).
    #[serde(default, skip_serializing_if = "Tone::is_plain")]
    pub tone: Tone,
    /// A second button after the PR's: its label and where it goes (e.g. the advisory's page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more: Option<(String, String)>,
}

/// How urgent a card looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tone {
    #[default]
    Plain,
    /// Teams' `Warning` colour.
    Warning,
    /// Teams' `Attention` colour (red in the default themes).
    Attention,
}

impl Tone {
    pub fn is_plain(&self) -> bool {
        *self == Tone::Plain
    }

    /// The Adaptive Card `color` of the title, when it has one.
    fn teams_color(self) -> Option<&'static str> {
        match self {
            Tone::Plain => None,
            Tone::Warning => Some("Warning"),
            Tone::Attention => Some("Attention"),
        }
    }
}

/// The card of a message queued without one: the email's subject, server and reason, its first
/// lines, and the PR that was open when it was queued.
pub fn card_from_email(
    server: &str,
    reason: &str,
    subject: &str,
    text: &str,
    link: Option<&str>,
) -> ChatCard {
    let summary = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .take(SUMMARY_LINES)
        .map(str::to_string)
        .collect();
    ChatCard {
        title: subject.to_string(),
        facts: vec![
            ("Server".into(), server.to_string()),
            ("About".into(), reason.to_string()),
        ],
        summary,
        diff: Vec::new(),
        link: link.map(str::to_string),
        context: String::new(),
        ..ChatCard::default()
    }
}

/// The card of a license review: server, versions, verdict, the judgement's summary, and the
/// first lines of the unified diff of the first changed license file that has one.
pub fn license_review_card(v: &RebuildView<'_>, pr_url: Option<&str>) -> ChatCard {
    let Some(j) = v.license else {
        return card_from_email(v.server, "license-review", "License review", "", pr_url);
    };
    let diff = j
        .files
        .iter()
        .filter(|f| f.verdict != crate::license::Verdict::Unchanged)
        .find_map(|f| f.unified_diff.as_deref())
        .map(|d| d.lines().take(DIFF_LINES).map(str::to_string).collect())
        .unwrap_or_default();
    ChatCard {
        title: format!(
            "{}: license change in {} needs review",
            v.server, v.new.version
        ),
        facts: vec![
            ("Server".into(), v.server.to_string()),
            (
                "Versions".into(),
                format!("{} → {}", v.old_label(), v.new.version),
            ),
            ("Verdict".into(), j.verdict.code().to_string()),
        ],
        summary: std::iter::once(j.reason.clone())
            .chain(j.summary.iter().cloned())
            .collect(),
        diff,
        link: pr_url.map(str::to_string),
        context: String::new(),
        ..ChatCard::default()
    }
}

// ---- Teams ---------------------------------------------------------------------------------

/// The Teams webhook body: a message with the card as an Adaptive Card attachment, within
/// [`TEAMS_MAX_BYTES`].
pub fn teams_message(card: &ChatCard) -> Value {
    // What each line adds to the body, roughly: its JSON string and its share of the markup.
    let cost = |line: &String, max: usize, markup: usize| {
        Value::String(cut(&teams_text(line), max)).to_string().len() + markup
    };
    let mut left = TEAMS_MAX_BYTES.saturating_sub(teams_with(card, 0, 0).to_string().len());
    let mut take = |lines: &[String], max: usize, markup: usize| {
        lines
            .iter()
            .take_while(|l| {
                let c = cost(l, max, markup);
                let fits = c <= left;
                left = left.saturating_sub(c);
                fits
            })
            .count()
    };
    let mut summary = take(&card.summary, SUMMARY_CHARS, 4);
    let mut diff = take(&card.diff, DIFF_LINE_CHARS, 80);
    // The estimate is close; the exact size decides.
    loop {
        let body = teams_with(card, summary, diff);
        if body.to_string().len() <= TEAMS_MAX_BYTES || (diff == 0 && summary == 0) {
            return body;
        }
        // The diff goes first: the PR has all of it; then the summary from its end.
        if diff > 0 {
            diff -= 1;
        } else {
            summary -= 1;
        }
    }
}

fn teams_with(card: &ChatCard, summary: usize, diff: usize) -> Value {
    let text = |s: &str, max: usize| cut(&teams_text(s), max);
    let mut title = json!({
        "type": "TextBlock", "text": text(&card.title, 300),
        "weight": "Bolder", "size": "Medium", "wrap": true,
    });
    if let Some(color) = card.tone.teams_color() {
        title["color"] = json!(color);
    }
    let mut body = vec![title];
    if !card.facts.is_empty() {
        // As many as Slack shows, and short: facts are names and versions, not prose.
        let facts: Vec<Value> = card
            .facts
            .iter()
            .take(SLACK_MAX_FIELDS)
            .map(|(k, v)| json!({"title": text(k, 100), "value": text(v, 500)}))
            .collect();
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    let more = |shown: usize, all: usize| (shown < all).then(|| "…".to_string());
    // A blank line between lines: Adaptive Card Markdown joins single newlines.
    let lines: Vec<String> = card.summary[..summary]
        .iter()
        .map(|l| text(l, SUMMARY_CHARS))
        .chain(more(summary, card.summary.len()))
        .collect();
    if !lines.is_empty() {
        body.push(json!({"type": "TextBlock", "text": lines.join("\n\n"), "wrap": true}));
    }
    if !card.diff.is_empty() {
        let mut items = vec![json!({
            "type": "TextBlock", "text": "License diff (first lines)", "weight": "Bolder", "wrap": true,
        })];
        for line in card.diff[..diff]
            .iter()
            .map(|l| text(l, DIFF_LINE_CHARS))
            .chain(more(diff, card.diff.len()))
        {
            items.push(json!({
                "type": "TextBlock", "text": if line.is_empty() { " ".into() } else { line },
                "fontType": "Monospace", "spacing": "None", "wrap": true,
            }));
        }
        body.push(json!({"type": "Container", "items": items}));
    }
    if !card.context.is_empty() {
        body.push(json!({
            "type": "TextBlock", "text": text(&card.context, 300),
            "isSubtle": true, "size": "Small", "wrap": true,
        }));
    }
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    let actions: Vec<Value> = buttons(card, web_url)
        .map(
            |(label, url)| json!({"type": "Action.OpenUrl", "title": text(label, 100), "url": url}),
        )
        .collect();
    if !actions.is_empty() {
        content["actions"] = json!(actions);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content,
        }],
    })
}

/// Upstream text for a Teams card: clean, no `<at>` (or any other) tag, no `@word`, no hidden
/// link.
fn teams_text(s: &str) -> String {
    // Without `<` no tag can open; `>` stays, so `->` reads as written. A zero-width joiner
    // in `](` stops upstream text from making a Markdown link whose target the reader
    // cannot see.
    neutralise_at(&clean(s).replace('<', "‹").replace("](", "]\u{200D}("))
}

// ---- Slack ---------------------------------------------------------------------------------

/// The Slack webhook body: Block Kit blocks and a plain `text` fallback (what notifications
/// and clients without blocks show).
pub fn slack_message(card: &ChatCard) -> Value {
    let link = card.link.as_deref().filter(|u| slack_url(u));
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": cut(&slack_plain(&card.title), SLACK_HEADER_CHARS), "emoji": false},
    })];
    if !card.facts.is_empty() {
        let fields: Vec<Value> = card
            .facts
            .iter()
            .take(SLACK_MAX_FIELDS)
            .map(|(k, v)| {
                let text = format!("*{}*\n{}", slack_mrkdwn(k), slack_mrkdwn(v));
                json!({"type": "mrkdwn", "text": cut(&text, SLACK_FIELD_CHARS)})
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let summary: Vec<String> = card.summary.iter().map(|l| slack_mrkdwn(l)).collect();
    if !summary.is_empty() {
        let text = cut_with_link(&summary.join("\n"), SLACK_SECTION_CHARS, link);
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if !card.diff.is_empty() {
        // Inside a code block mrkdwn is not formatted, but mentions are still read: escaped too.
        let lines: Vec<String> = card.diff.iter().map(|l| slack_mrkdwn(l)).collect();
        let fence = "```";
        let inner = cut(
            &lines.join("\n"),
            SLACK_SECTION_CHARS - 2 * fence.len() - 40,
        );
        let text = format!("*License diff (first lines)*\n{fence}{inner}{fence}");
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if !card.context.is_empty() {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": cut(&slack_mrkdwn(&card.context), SLACK_FIELD_CHARS)}],
        }));
    }
    let elements: Vec<Value> = buttons(card, slack_url)
        .map(|(label, url)| {
            json!({
                "type": "button",
                "text": {"type": "plain_text", "text": cut(&slack_plain(label), SLACK_BUTTON_CHARS)},
                "url": url,
            })
        })
        .collect();
    if !elements.is_empty() {
        blocks.push(json!({"type": "actions", "elements": elements}));
    }
    blocks.truncate(SLACK_MAX_BLOCKS);
    json!({"text": slack_fallback(card, link), "blocks": blocks})
}

/// The `text` fallback: title, facts and link on a few lines.
fn slack_fallback(card: &ChatCard, link: Option<&str>) -> String {
    let mut lines = vec![slack_mrkdwn(&card.title)];
    lines.extend(
        card.facts
            .iter()
            .map(|(k, v)| format!("{}: {}", slack_mrkdwn(k), slack_mrkdwn(v))),
    );
    cut_with_link(&lines.join("\n"), SLACK_SECTION_CHARS, link)
}

/// Upstream text for Slack mrkdwn: clean, `&`, `<`, `>` escaped, `@word` neutralised.
fn slack_mrkdwn(s: &str) -> String {
    let escaped = clean(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    neutralise_at(&escaped)
}

/// Upstream text for a Slack `plain_text` object. Whether Slack decodes entities there is not
/// documented either way, so no entity is used: `<` and `>` become look-alikes.
fn slack_plain(s: &str) -> String {
    neutralise_at(&clean(s).replace('<', "‹").replace('>', "›"))
}

/// `text` cut to `max` characters; when cut, it ends with "…" and a link to the PR.
fn cut_with_link(text: &str, max: usize, link: Option<&str>) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    match link {
        Some(url) => {
            let tail = format!(" <{url}|the whole message is on the PR>");
            let mut out = cut(text, max.saturating_sub(tail.chars().count()));
            out.push_str(&tail);
            out
        }
        None => cut(text, max),
    }
}

/// A URL Slack can put in `<url|text>` and a button: http(s), no characters of its syntax.
fn slack_url(url: &str) -> bool {
    web_url(url) && url.chars().count() <= SLACK_URL_CHARS && !url.contains(['|', '<', '>'])
}

// ---- shared --------------------------------------------------------------------------------

/// The card's buttons whose URL the service can take: the PR's, then the second one.
fn buttons(card: &ChatCard, usable: fn(&str) -> bool) -> impl Iterator<Item = (&str, &str)> {
    let pr = card.link.as_deref().map(|url| ("Open the PR", url));
    let more = card.more.as_ref().map(|(l, u)| (l.as_str(), u.as_str()));
    pr.into_iter()
        .chain(more)
        .filter(move |(_, url)| usable(url))
}

fn web_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Drop control characters (but newlines and tabs, which become spaces unless newline) and
/// bidirectional overrides; an escape sequence loses its ESC, so it cannot reach a terminal
/// that renders the channel.
pub fn clean(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if c.is_control() => None,
            '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => None,
            c => Some(c),
        })
        .collect()
}

/// A zero-width joiner after an `@` that starts a word: `@here`, `@channel`, `@everyone` and
/// `@name` read the same and notify nobody.
fn neutralise_at(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut prev: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        let starts_word = prev.is_none_or(|p| !p.is_alphanumeric());
        if c == '@' && starts_word && chars.peek().is_some_and(|n| n.is_alphanumeric()) {
            out.push('\u{200D}');
        }
        prev = Some(c);
    }
    out
}

/// `s` cut to `max` characters, ending with "…" when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    // An escape cut in half (`&am`) would show as text: cut before it.
    if let Some(amp) = out.rfind('&')
        && !out[amp..].contains(';')
    {
        out.truncate(amp);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests;
