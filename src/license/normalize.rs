//! Text normalisation of license files (pure).
//!
//! Owns the two views of a license text that the judgement relies on: a *display* text (lightly
//! normalised and rewrapped to 80 columns, what people read in diffs) and a *body key* (the
//! whitespace-insensitive token stream without copyright lines, what decides "same text").
//! Also owns copyright-line recognition. It must stay conservative: anything it folds away can
//! never trigger a review, so it only folds what cannot change meaning (whitespace, reflow,
//! markdown decoration, quote and dash glyphs, bullets) plus strictly shaped copyright lines.

use std::sync::LazyLock;

use regex::Regex;

/// Column the display text is rewrapped to (like `licensee diff`).
pub const WRAP_COLUMNS: usize = 80;

/// The normalised views of one license text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalised {
    /// Lightly normalised, rewrapped text with copyright lines kept in place.
    pub display: String,
    /// Body tokens joined by single spaces, copyright lines left out.
    pub body_key: String,
    /// Full token stream (copyright lines included) joined by single spaces.
    pub full_key: String,
    /// The copyright lines, whitespace collapsed, in order of appearance.
    pub copyright: Vec<String>,
}

/// How a source text is marked up, which decides what decoration is stripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// Plain text and Markdown/reStructuredText (the decoration rules are harmless on plain text).
    Text,
    /// HTML: tags are stripped and entities decoded first.
    Html,
}

impl Markup {
    /// Picks the markup from a file name.
    #[must_use]
    pub fn from_path(path: &str) -> Self {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".html") || lower.ends_with(".htm") {
            Self::Html
        } else {
            Self::Text
        }
    }
}

/// A line after markup stripping, before paragraph assembly.
#[derive(Debug)]
enum Line {
    Blank,
    Copyright(String),
    /// Body text; `starts_block` means it must begin a new display line (list item, heading).
    Body {
        text: String,
        starts_block: bool,
        bullet: bool,
    },
}

/// Normalises `raw` into its display text, body key and copyright lines.
#[must_use]
pub fn normalise(raw: &str, markup: Markup) -> Normalised {
    let folded = fold_characters(raw);
    let text = match markup {
        Markup::Html => strip_html(&folded),
        Markup::Text => folded,
    };
    let mut lines: Vec<Line> = text.split('\n').filter_map(classify_line).collect();
    demote_mid_paragraph_copyright(&mut lines);

    let mut display = String::new();
    let mut body_tokens: Vec<String> = Vec::new();
    let mut full_tokens: Vec<String> = Vec::new();
    let mut copyright = Vec::new();
    let mut paragraph: Vec<String> = Vec::new();
    let mut pending_blank = false;

    let flush = |paragraph: &mut Vec<String>, display: &mut String| {
        if !paragraph.is_empty() {
            wrap_into(display, paragraph);
            paragraph.clear();
        }
    };

    for line in lines {
        match line {
            Line::Blank => {
                flush(&mut paragraph, &mut display);
                pending_blank = !display.is_empty();
            }
            Line::Copyright(text) => {
                flush(&mut paragraph, &mut display);
                push_separator(&mut display, &mut pending_blank);
                display.push_str(&text);
                display.push('\n');
                full_tokens.extend(text.split(' ').map(str::to_owned));
                copyright.push(text);
            }
            Line::Body {
                text,
                starts_block,
                bullet,
            } => {
                if starts_block {
                    flush(&mut paragraph, &mut display);
                }
                if paragraph.is_empty() {
                    push_separator(&mut display, &mut pending_blank);
                }
                if bullet {
                    paragraph.push("-".to_owned());
                }
                for token in text.split(' ').filter(|t| !t.is_empty()) {
                    paragraph.push(token.to_owned());
                    body_tokens.push(token.to_owned());
                    full_tokens.push(token.to_owned());
                }
            }
        }
    }
    flush(&mut paragraph, &mut display);

    Normalised {
        display,
        body_key: body_tokens.join(" "),
        full_key: full_tokens.join(" "),
        copyright,
    }
}

/// A copyright-looking line in the middle of running text is a wrapped sentence, not a statement:
/// it counts only after a blank line, another copyright line, a title (a short first line) or a
/// line that ends a sentence. Otherwise a reflow that happens to start a line with "(c) 2001"
/// would turn body words into an ignorable copyright line.
fn demote_mid_paragraph_copyright(lines: &mut [Line]) {
    for i in 1..lines.len() {
        let running_text = match &lines[i - 1] {
            Line::Body { text, .. } => {
                let title = i == 1 && text.chars().count() < 60;
                let end = text.trim_end_matches([')', '>', '"', '\'', ']']);
                !title && !end.ends_with(['.', ':', ';', '!', '?'])
            }
            _ => false,
        };
        if running_text && let Line::Copyright(text) = &lines[i] {
            let text = text.clone();
            lines[i] = Line::Body {
                text,
                starts_block: false,
                bullet: false,
            };
        }
    }
}

fn push_separator(display: &mut String, pending_blank: &mut bool) {
    if *pending_blank {
        display.push('\n');
        *pending_blank = false;
    }
}

/// Greedy wrap of one paragraph's tokens at [`WRAP_COLUMNS`].
fn wrap_into(display: &mut String, tokens: &[String]) {
    let mut width = 0;
    for token in tokens {
        let len = token.chars().count();
        if width > 0 && width + 1 + len > WRAP_COLUMNS {
            display.push('\n');
            width = 0;
        } else if width > 0 {
            display.push(' ');
            width += 1;
        }
        display.push_str(token);
        width += len;
    }
    display.push('\n');
}

/// Folds line endings, the BOM, invisible and typographic characters into plain ASCII forms.
#[must_use]
pub fn fold_characters(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                // CRLF and lone CR both end a line.
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\u{feff}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{00ad}' => {}
            '\t' | '\u{a0}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}' => {
                out.push(' ');
            }
            '\u{2028}' | '\u{2029}' | '\u{0b}' | '\u{0c}' => out.push('\n'),
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{2033}' | '\u{00ab}'
            | '\u{00bb}' => out.push('"'),
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' | '\u{2032}' | '\u{00b4}' | '`' => {
                out.push('\'')
            }
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe58}' | '\u{fe63}' | '\u{ff0d}' => {
                out.push('-')
            }
            '\u{2022}' | '\u{00b7}' | '\u{2023}' | '\u{2043}' | '\u{25e6}' => out.push('*'),
            '\u{2026}' => out.push_str("..."),
            '\u{00a9}' => out.push_str("(c)"),
            _ => out.push(c),
        }
    }
    // Doubled ASCII quotes (TeX style ``x'') are the same quote mark.
    out.replace("''", "\"")
}

static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<[a-zA-Z/!][^>]*>").expect("static regex"));
static BLOCK_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)</?(p|br|div|li|ul|ol|h[1-6]|pre|tr|table|blockquote|hr)\b[^>]*>")
        .expect("static regex")
});

/// Strips HTML tags (block tags become line breaks) and decodes the common entities.
fn strip_html(text: &str) -> String {
    let blocks = BLOCK_TAG.replace_all(text, "\n\n");
    let bare = TAG.replace_all(&blocks, "");
    bare.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&copy;", "(c)")
        .replace("&amp;", "&")
}

static RULE_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:[-=*_~#+]\s*){3,}$").expect("static regex"));
static HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^#{1,6}\s+(.*?)\s*#*$").expect("static regex"));
static BULLET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[-*]\s+(.*)$").expect("static regex"));
static NUMBERED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\(?[0-9]{1,3}[.)]|\([a-zA-Z]{1,4}\)|[a-z][.)]|[ivxIVX]{1,5}[.)])\s")
        .expect("static regex")
});
static BLOCKQUOTE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:>\s?)+").expect("static regex"));

/// Strips one line's markup and classifies it; `None` drops pure decoration (rules, underlines).
fn classify_line(line: &str) -> Option<Line> {
    let mut text = line.trim();
    if text.is_empty() {
        return Some(Line::Blank);
    }
    let first = text.as_bytes()[0];
    // Cheap first-byte checks keep the regexes off ordinary lines (debug builds are slow).
    if matches!(first, b'-' | b'=' | b'*' | b'_' | b'~' | b'#' | b'+') && RULE_LINE.is_match(text) {
        // Horizontal rules and setext heading underlines carry no words.
        return None;
    }
    let quoted;
    if first == b'>'
        && let Some(m) = BLOCKQUOTE.find(text)
    {
        quoted = text[m.end()..].trim().to_owned();
        text = &quoted;
        if text.is_empty() {
            return Some(Line::Blank);
        }
    }
    let mut starts_block = false;
    let mut bullet = false;
    let first = text.as_bytes()[0];
    let stripped: String = if first == b'#'
        && let Some(c) = HEADING.captures(text)
    {
        starts_block = true;
        c[1].to_owned()
    } else if matches!(first, b'-' | b'*')
        && let Some(c) = BULLET.captures(text)
    {
        // The marker is shown as "- " but, like every stand-alone dash, is not part of the key.
        starts_block = true;
        bullet = true;
        c[1].to_owned()
    } else {
        if NUMBERED.is_match(text) {
            starts_block = true;
        }
        text.to_owned()
    };
    let tokens: Vec<String> = stripped
        .split_whitespace()
        .filter_map(strip_emphasis)
        .collect();
    if tokens.is_empty() {
        return Some(Line::Blank);
    }
    let joined = tokens.join(" ");
    if is_copyright_line(&joined) {
        return Some(Line::Copyright(joined));
    }
    Some(Line::Body {
        text: joined,
        starts_block,
        bullet,
    })
}

/// Removes Markdown emphasis and escapes from one token; `None` when nothing is left.
///
/// Stand-alone `-` tokens (bullets, dashes used as punctuation) are dropped too, so a reflow that
/// moves a dash to a line start cannot look like a new list item.
fn strip_emphasis(token: &str) -> Option<String> {
    if !token.contains(['*', '\\', '_', '<', '-', '=', '~', '#']) {
        return Some(token.to_owned());
    }
    let mut t: String = token.chars().filter(|c| *c != '*').collect();
    // `\.` and friends are Markdown escapes of the same character.
    if t.contains('\\') {
        let mut unescaped = String::with_capacity(t.len());
        let mut chars = t.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' && chars.peek().is_some_and(char::is_ascii_punctuation) {
                continue;
            }
            unescaped.push(c);
        }
        t = unescaped;
    }
    // Underscore emphasis only at token edges (before trailing punctuation), so snake_case
    // words survive: `_word_.` -> `word.`.
    let t = t.trim_start_matches('_');
    let core_end = t.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != '_');
    let punct = &t[core_end.len()..];
    let t = format!("{}{punct}", core_end.trim_end_matches('_'));
    // Autolinks: <https://...> is the same URL.
    let t = match t.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
        Some(inner) if inner.starts_with("http://") || inner.starts_with("https://") => {
            inner.to_owned()
        }
        _ => t,
    };
    // Rules and heading marks inside running text ("====", "#", "-=-=") carry no words.
    if t.chars().all(|c| matches!(c, '-' | '=' | '_' | '~' | '#')) {
        None
    } else {
        Some(t)
    }
}

static COPYRIGHT_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^(?:portions\s+)?(?:copyright|\(c\))\s*(?:\(c\)\s*)*:?\s*
          (?:\(c\)|(?:19|20)[0-9]{2}|<year>|\[yyyy\]|\[year\]|\{year\}|<yyyy>)",
    )
    .expect("static regex")
});
static ALL_RIGHTS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)all\s+rights\s+reserved\.?").expect("static regex"));
static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z]+").expect("static regex"));

/// Words that never occur in a plain copyright statement but do in terms; a line with any of them
/// stays body text so that terms appended to a copyright line are judged.
const TERM_WORDS: &[&str] = &[
    "use",
    "used",
    "using",
    "uses",
    "only",
    "not",
    "no",
    "non",
    "nor",
    "commercial",
    "noncommercial",
    "shall",
    "must",
    "may",
    "can",
    "cannot",
    "will",
    "permit",
    "permits",
    "permitted",
    "permission",
    "prohibit",
    "prohibited",
    "restrict",
    "restricted",
    "restriction",
    "restrictions",
    "license",
    "licensed",
    "licence",
    "licenses",
    "licensing",
    "grant",
    "granted",
    "grants",
    "except",
    "provided",
    "condition",
    "conditions",
    "terms",
    "without",
    "allowed",
    "forbidden",
    "agree",
    "agreement",
    "subject",
    "warranty",
    "liability",
    "liable",
    "free",
    "distribute",
    "redistribute",
    "redistribution",
    "modify",
    "copy",
    "copies",
    "sell",
    "sublicense",
    "notice",
    "unless",
    "apply",
    "applies",
    "fee",
    "charge",
    "paid",
    "pay",
    "payment",
    "obtain",
    "hereby",
    "except",
    "excluding",
    "limited",
    "limitation",
    "rights",
    "reserves",
    "prior",
    "written",
    "consent",
    "approval",
    "hosted",
    "service",
    "services",
    "competing",
    "production",
];

/// True when `line` (already whitespace-collapsed) is a plain copyright statement.
///
/// Strict on purpose: it must start like `Copyright (c) 2024 ...` / `(c) 2024 ...`, be short, and
/// contain none of [`TERM_WORDS`] once "All rights reserved" is set aside. Anything else is body
/// text, so at worst a copyright change is sent to review, never a term change waved through.
#[must_use]
pub fn is_copyright_line(line: &str) -> bool {
    let trimmed = line.trim();
    if !trimmed.starts_with(['c', 'C', '(', 'p', 'P', 'a', 'A']) {
        return false;
    }
    if ALL_RIGHTS.is_match(trimmed) && ALL_RIGHTS.replace_all(trimmed, "").trim().is_empty() {
        return true;
    }
    if trimmed.chars().count() > 200 || !COPYRIGHT_START.is_match(trimmed) {
        return false;
    }
    let rest = ALL_RIGHTS.replace_all(trimmed, " ");
    let words: Vec<String> = WORD
        .find_iter(&rest)
        .map(|m| m.as_str().to_ascii_lowercase())
        .collect();
    if words.len() > 24 {
        return false;
    }
    // The first word is "copyright"/"portions"/"c"; holders may be called anything but terms.
    !words.iter().any(|w| TERM_WORDS.contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIT_BODY: &str = "Permission is hereby granted, free of charge, to any person obtaining a copy\n\
of this software and associated documentation files (the \"Software\"), to deal\n\
in the Software without restriction.\n";

    fn n(text: &str) -> Normalised {
        normalise(text, Markup::Text)
    }

    #[test]
    fn crlf_trailing_whitespace_and_reflow_share_the_body_key() {
        let base = n(MIT_BODY);
        let crlf = n(&MIT_BODY.replace('\n', "  \r\n"));
        let reflowed = n(&MIT_BODY.replace('\n', " ").replace(", ", ",\n"));
        assert_eq!(base.body_key, crlf.body_key);
        assert_eq!(base.body_key, reflowed.body_key);
        assert_eq!(
            base.display, reflowed.display,
            "display is rewrapped the same way"
        );
    }

    #[test]
    fn markdown_decoration_is_folded_but_words_are_not() {
        let plain = n("MIT License\n\nThe software is provided \"as is\".\n");
        let md = n("# MIT License\n\nThe software is provided **\u{201c}as is\u{201d}**.\n\n---\n");
        assert_eq!(plain.body_key, md.body_key);
        let changed = n("# MIT License\n\nThe software is not provided \"as is\".\n");
        assert_ne!(plain.body_key, changed.body_key);
        let setext = n("MIT License\n===========\n\nThe software is provided \"as is\".\n");
        assert_eq!(plain.body_key, setext.body_key);
    }

    #[test]
    fn case_changes_are_not_folded() {
        // Conspicuous capitals in warranty disclaimers can matter legally.
        assert_ne!(n("PROVIDED AS IS").body_key, n("provided as is").body_key);
    }

    #[test]
    fn bullets_and_dashes_fold() {
        let a = n("* first item\n* second - item\n");
        let b = n("- first item\n\u{2022} second \u{2014} item\n");
        assert_eq!(a.body_key, b.body_key);
        assert!(a.display.contains("- first item"), "{}", a.display);
    }

    #[test]
    fn snake_case_survives_emphasis_stripping() {
        assert_eq!(n("_foo_bar_").body_key, "foo_bar");
        assert_eq!(n("__Note__ x").body_key, "Note x");
        assert_eq!(n("the _Software_, and").body_key, "the Software, and");
        assert_eq!(n("a - b").body_key, n("a\n- b").body_key);
    }

    #[test]
    fn copyright_lines_are_set_aside() {
        let a = n("Copyright (c) 2023 Example Corp\n\nPermission is granted.\n");
        let b = n(
            "Copyright \u{00a9} 2020-2025 Other Holder <legal@other.example>\nAll rights reserved.\n\nPermission is granted.\n",
        );
        assert_eq!(a.body_key, b.body_key);
        assert_eq!(a.copyright, vec!["Copyright (c) 2023 Example Corp"]);
        assert_eq!(b.copyright.len(), 2);
        assert_ne!(a.full_key, b.full_key);
    }

    #[test]
    fn copyright_words_inside_running_text_stay_body() {
        let wrapped = n(
            "Python license terms follow here.\nThe notice of copyright, i.e., \"Copyright\n(c) 2001, 2002 Python Software Foundation\" is retained.\n",
        );
        assert!(wrapped.copyright.is_empty(), "{:?}", wrapped.copyright);
        let titled = n("MIT License\nCopyright (c) 2024 Example\n\nPermission is granted.\n");
        assert_eq!(titled.copyright, vec!["Copyright (c) 2024 Example"]);
    }

    #[test]
    fn copyright_line_recognition_is_strict() {
        assert!(is_copyright_line("Copyright (c) 2024 Example Corp."));
        assert!(is_copyright_line("Copyright 2019-2024 The Example Authors"));
        assert!(is_copyright_line("(c) 2024 Jane Doe <jane@example.com>"));
        assert!(is_copyright_line(
            "Copyright (C) <year> <copyright holders>"
        ));
        assert!(is_copyright_line(
            "Copyright (c) Microsoft Corporation. All rights reserved."
        ));
        assert!(is_copyright_line("All Rights Reserved."));
        // Terms smuggled onto a copyright line keep it in the body.
        assert!(!is_copyright_line(
            "Copyright (c) 2024 Example Corp. Commercial use prohibited."
        ));
        assert!(!is_copyright_line(
            "Copyright (c) 2024 Example Corp, for non-commercial use only"
        ));
        // Sentences that merely start with the word are body text.
        assert!(!is_copyright_line(
            "copyright notice and this permission notice appear in all copies."
        ));
        assert!(!is_copyright_line("Copyright The Go Authors"));
    }

    #[test]
    fn html_is_stripped() {
        let html = n(
            "<html><body><h1>MIT License</h1><p>The software is provided &quot;as is&quot; &amp; free.</p></body></html>",
        );
        let text = n("MIT License\n\nThe software is provided \"as is\" & free.\n");
        assert_eq!(
            normalise("<p>a &lt;b&gt;</p>", Markup::Html).body_key,
            "a <b>"
        );
        assert_eq!(n(&text.display).body_key, text.body_key);
        assert_eq!(
            normalise(
                "<h1>MIT License</h1><p>The software is provided &quot;as is&quot; &amp; free.</p>",
                Markup::Html
            )
            .body_key,
            text.body_key
        );
        assert!(html.body_key.contains("MIT License"));
    }

    #[test]
    fn display_keeps_list_items_on_their_own_lines() {
        let d = n("Conditions:\n1. Keep the notice.\n2. Do not misrepresent.\n").display;
        assert_eq!(
            d,
            "Conditions:\n1. Keep the notice.\n2. Do not misrepresent.\n"
        );
    }
}
