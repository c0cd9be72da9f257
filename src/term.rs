//! Text bound for a terminal, made inert.
//!
//! Much of what upkeep prints comes from upstream: license lines and their diff, tag names,
//! commit subjects, a registry's or an SMTP relay's reply quoted in an error. A terminal obeys
//! control characters in that text: OSC 0 retitles the window, OSC 52 writes the clipboard,
//! `ESC[2J` clears the screen, a lone carriage return overwrites what came before. [`sanitize`]
//! shows every such character as a visible escape instead, and is applied where the commands
//! print for people (`app`) and to the text log lines ([`log_fields`]). JSON output is left
//! alone: JSON escapes control characters itself.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every character a terminal would act on shown escaped: C0 controls other than
/// newline and tab (`\x1b`), DEL (`\x7f`), a carriage return not followed by a newline (`\x0d`),
/// C1 controls (`\u{9b}`) and the bidirectional overrides and isolates that reorder what is
/// shown (`\u{202e}`). Borrowed when there is nothing to escape.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    let mut chars = text.chars().peekable();
    let mut out: Option<String> = None;
    let mut at = 0;
    while let Some(c) = chars.next() {
        if needs_escape(c, chars.peek().copied()) {
            let out = out.get_or_insert_with(|| {
                let mut s = String::with_capacity(text.len() + 16);
                s.push_str(&text[..at]);
                s
            });
            if u32::from(c) < 0x80 {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            } else {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        } else if let Some(out) = out.as_mut() {
            out.push(c);
        }
        at += c.len_utf8();
    }
    out.map_or(Cow::Borrowed(text), Cow::Owned)
}

/// The field formatter of text log lines: `message key=value ...` as tracing's default, with
/// every value passed through [`sanitize`] (errors quote registry bodies and license lines,
/// and operators read the log in a terminal: `journalctl -f`, `docker logs`).
pub fn log_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static {
    use tracing_subscriber::field::MakeExt as _;
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let text = format!("{value:?}");
        if field.name() == "message" {
            write!(w, "{}", sanitize(&text))
        } else {
            write!(w, "{field}={}", sanitize(&text))
        }
    })
    .delimited(" ")
}

fn needs_escape(c: char, next: Option<char>) -> bool {
    match c {
        '\n' | '\t' => false,
        // A Windows line ending is harmless; a lone CR moves the cursor back over the line.
        '\r' => next != Some('\n'),
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        // Bidirectional embeddings, overrides and isolates ("Trojan Source").
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "MIT License\n\tCopyright (c) 2025 ünïcødé\r\n";
        assert!(matches!(sanitize(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn every_sequence_a_terminal_obeys_is_shown_escaped() {
        let cases = [
            ("\u{1b}]0;owned\u{7}", "\\x1b]0;owned\\x07"),
            (
                "\u{1b}]52;c;cm0gLXJmIH4=\u{1b}\\",
                "\\x1b]52;c;cm0gLXJmIH4=\\x1b\\",
            ),
            ("a\u{1b}[2Jb", "a\\x1b[2Jb"),
            ("\u{9b}31m\u{9d}0;t\u{9c}", "\\u{9b}31m\\u{9d}0;t\\u{9c}"),
            ("over\rwrite", "over\\x0dwrite"),
            ("del\u{7f}", "del\\x7f"),
            ("v1\u{202e}txt.exe", "v1\\u{202e}txt.exe"),
            ("keep\r\nlines\n", "keep\r\nlines\n"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize(input), want, "{input:?}");
        }
    }

    #[test]
    fn the_output_never_holds_a_control_character_but_newline_and_tab() {
        let all: String = (0u32..0x2100).filter_map(char::from_u32).collect();
        let out = sanitize(&all);
        assert!(
            out.chars()
                .all(|c| !c.is_control() || c == '\n' || c == '\t'),
            "{out:?}"
        );
    }
}
