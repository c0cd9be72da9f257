//! The page shell every dashboard page shares: escaping, the document around a body, its one
//! inline style sheet and the Content-Security-Policy that admits that sheet and nothing else.
//!
//! Pages are written as polyglot HTML (every element closed, every attribute quoted, only the
//! XML entities), so an XML parser can check them for well-formedness in the tests.

use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// The pages' one style sheet. Colours keep at least 4.5:1 contrast against their backgrounds
/// (WCAG AA for body text): #1a1a1a on #ffffff, #8a1c1c on #fdecea, #6b4e00 on #fff4d6,
/// #14532d on #e7f6ec, #0b4f8a (links) on #ffffff.
pub const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#1a1a1a;background:#fff;margin:1.5rem;line-height:1.4}\
a{color:#0b4f8a}\
table{border-collapse:collapse;margin:0.5rem 0 1.5rem}\
th,td{border-bottom:1px solid #c8c8c8;padding:0.3rem 0.6rem;text-align:left;vertical-align:top}\
th{background:#f0f0f0}\
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
td.status,tbody th{white-space:nowrap}\
code,pre{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,monospace;font-size:0.9em}\
pre{background:#f6f6f6;border:1px solid #c8c8c8;padding:0.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}\
.bad{background:#fdecea;color:#8a1c1c}\
.warn{background:#fff4d6;color:#6b4e00}\
.ok{background:#e7f6ec;color:#14532d}\
nav p{margin:0 0 1rem}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:0.25rem 1rem}\
dt{font-weight:600}\
dd{margin:0}\
.muted{color:#555}\
form p{margin:0.5rem 0}\
input{font:inherit;padding:0.2rem}\
";

/// `text` escaped for HTML text and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline are not allowed in XML 1.0 and
            // mean nothing on a page: shown as the replacement character.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A path segment for a link: only the characters of a URL path segment stay as they are.
pub fn path_segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The `Content-Security-Policy` of every page: no scripts, no fetches, no frames, no form
/// target but the service itself, and only the one style sheet above (by its hash).
pub fn content_security_policy() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// A whole document: `title` (escaped here) and `body` (already markup).
pub fn document(title: &str, body: &str) -> String {
    let title = escape(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n\
         <title>{title} · upkeep</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
}

/// An RFC 3339 time as `2026-12-01 21:33 UTC` (the input itself when it does not parse).
pub fn when(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_string(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        },
    )
}

/// A span of time, two units at most: `3d 4h`, `5h 12m`, `40s`.
pub fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// A commit id shortened for a table cell (the full id in its `title`).
pub fn commit(id: &str) -> String {
    let short: String = id.chars().take(12).collect();
    format!("<code title=\"{}\">{}</code>", escape(id), escape(&short))
}

/// `value` escaped, or a dash for none.
pub fn or_dash(value: Option<&str>) -> String {
    value.map_or_else(|| "—".to_string(), escape)
}

/// `text` as a link to `url` when that is a web address (never `javascript:` or the like),
/// else as text.
pub fn web_link(url: Option<&str>, text: &str) -> String {
    match url {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
            format!("<a href=\"{}\">{}</a>", escape(u), escape(text))
        }
        _ => escape(text),
    }
}

/// A section headed `heading` (its `id` labels it) holding a table of `rows` (each a whole
/// `<tr>`) under `columns`, or the sentence `empty` when there are none.
pub fn table_section(
    id: &str,
    heading: &str,
    caption: &str,
    columns: &[&str],
    rows: &[String],
    empty: &str,
) -> String {
    let mut t = format!("<section aria-labelledby=\"{id}\">\n<h2 id=\"{id}\">{heading}</h2>\n");
    if rows.is_empty() {
        let _ = writeln!(t, "<p>{empty}</p>\n</section>");
        return t;
    }
    let _ = write!(t, "<table>\n<caption>{caption}</caption>\n<thead><tr>");
    for c in columns {
        let _ = write!(t, "<th scope=\"col\">{c}</th>");
    }
    t.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        t.push_str(r);
        t.push('\n');
    }
    t.push_str("</tbody>\n</table>\n</section>\n");
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_upstream_text_is_shown_as_text() {
        assert_eq!(
            escape("\"><img src=x onerror=alert(1)>"),
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(
            escape("<script>a&b</script>'"),
            "&lt;script&gt;a&amp;b&lt;/script&gt;&#39;"
        );
        assert_eq!(escape("bell\u{7}\u{1b}[31m"), "bell\u{fffd}\u{fffd}[31m");
    }

    #[test]
    fn path_segments_carry_only_unreserved_characters() {
        assert_eq!(path_segment("a-b_c.d"), "a-b_c.d");
        assert_eq!(path_segment("../x y\"<"), "..%2Fx%20y%22%3C");
    }

    #[test]
    fn spans_and_times() {
        assert_eq!(span(40), "40s");
        assert_eq!(span(5 * 3_600 + 12 * 60), "5h 12m");
        assert_eq!(span(3 * 86_400 + 4 * 3_600 + 59), "3d 4h");
        assert_eq!(span(-5), "0s");
        assert_eq!(when("2026-12-01T21:33:26.123Z"), "2026-12-01 21:33 UTC");
        assert_eq!(when("not a time"), "not a time");
    }

    #[test]
    fn the_policy_admits_exactly_the_page_style() {
        let csp = content_security_policy();
        assert!(
            csp.starts_with("default-src 'none'; style-src 'sha256-"),
            "{csp}"
        );
        assert!(!csp.contains("script-src"));
        assert!(
            !CSS.contains('<') && !CSS.contains('&'),
            "the sheet must stay XML text"
        );
    }
}
