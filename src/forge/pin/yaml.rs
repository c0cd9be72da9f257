//! A line- and indentation-aware scanner for the block-YAML subset pipeline files use.
//!
//! It builds no values. It tells structural lines (keys, sequence dashes) from the inside of
//! multi-line scalars (block `|`/`>`, quoted or flow scalars spanning lines, plain
//! continuations), and records where each structural line's value starts and ends, so a caller
//! can replace exactly those bytes. Oddities on lines are recorded, not rejected: only the lines
//! a caller interprets need to be in the subset it can edit. What breaks the line structure
//! itself (an unterminated quote, a second document, a bare CR) is an error.

use super::PinError;

/// The shape of the value that starts on a structural line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Nothing (or only a comment) after the key or dash.
    Empty,
    Plain,
    SingleQuoted,
    DoubleQuoted,
    /// `[..]` or `{..}`.
    Flow,
    /// `|` or `>`.
    Block,
    /// `*anchor`.
    Alias,
}

/// A value as seen on its first line. Columns are byte offsets within the line.
#[derive(Debug, Clone)]
pub(super) struct Value {
    pub kind: Kind,
    /// Anchors (`&a`) or tags (`!t`) precede the value.
    pub props: bool,
    /// The scalar on this line, quotes included.
    pub start: usize,
    pub end: usize,
    /// Column of the `#` starting a trailing comment.
    pub comment: Option<usize>,
    /// The value continues on later lines.
    pub multiline: bool,
    /// Text other than whitespace or a comment follows the value on this line (invalid YAML,
    /// or something like `key: a: b`).
    pub trailing: bool,
}

/// A mapping key on a structural line.
#[derive(Debug, Clone)]
pub(super) struct Key {
    pub text: String,
    pub col: usize,
}

/// A structural line: not blank, not a comment, not inside a multi-line scalar.
#[derive(Debug, Clone)]
pub(super) struct Line<'a> {
    /// 1-based line number.
    pub no: usize,
    /// Byte offset of the line in the text.
    pub start: usize,
    /// The line without its line break.
    pub text: &'a str,
    /// Leading spaces.
    pub indent: usize,
    /// A tab follows the leading spaces (YAML forbids tabs in indentation).
    pub tab_indent: bool,
    /// Number of `- ` sequence indicators before the key or value.
    pub dashes: usize,
    pub key: Option<Key>,
    pub value: Value,
}

struct Raw<'a> {
    start: usize,
    text: &'a str,
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

fn malformed(line: usize, message: impl Into<String>) -> PinError {
    PinError::Malformed {
        line,
        message: message.into(),
    }
}

/// Split on `\n`, dropping a `\r` before it; a `\r` anywhere else would be a line break to
/// YAML but not to us, so it is refused.
fn split_lines(text: &str) -> Result<Vec<Raw<'_>>, PinError> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in text.split('\n') {
        let line = piece.strip_suffix('\r').unwrap_or(piece);
        if line.contains('\r') {
            return Err(malformed(out.len() + 1, "carriage return inside a line"));
        }
        out.push(Raw { start, text: line });
        start += piece.len() + 1;
    }
    Ok(out)
}

/// `---` or `...` alone (or followed by whitespace) at the start of a line.
fn is_marker(b: &[u8], marker: &[u8]) -> bool {
    b.starts_with(marker) && b.get(3).is_none_or(|&c| is_ws(c))
}

/// Find the end of a quoted scalar whose opening quote is at (`line`, `col`): the line index
/// and the column just after the closing quote.
fn close_quote(raws: &[Raw], line: usize, col: usize, quote: u8) -> Option<(usize, usize)> {
    let mut li = line;
    let mut i = col + 1;
    loop {
        let b = raws[li].text.as_bytes();
        while i < b.len() {
            match b[i] {
                b'\\' if quote == b'"' => i += 2,
                b'\'' if quote == b'\'' && b.get(i + 1) == Some(&b'\'') => i += 2,
                c if c == quote => return Some((li, i + 1)),
                _ => i += 1,
            }
        }
        li += 1;
        if li >= raws.len() {
            return None;
        }
        i = 0;
    }
}

/// Find the end of a flow collection opened at (`line`, `col`).
fn close_flow(raws: &[Raw], line: usize, col: usize) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut li = line;
    let mut i = col;
    loop {
        let b = raws[li].text.as_bytes();
        while i < b.len() {
            match b[i] {
                b'[' | b'{' => {
                    depth += 1;
                    i += 1;
                }
                b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    i += 1;
                    if depth == 0 {
                        return Some((li, i));
                    }
                }
                q @ (b'"' | b'\'')
                    if i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'[' | b'{' | b',' | b':') =>
                {
                    let (l2, c2) = close_quote(raws, li, i, q)?;
                    if l2 != li {
                        li = l2;
                        i = c2;
                        break;
                    }
                    i = c2;
                }
                b'#' if i == 0 || is_ws(b[i - 1]) => i = b.len(),
                _ => i += 1,
            }
        }
        if i < raws[li].text.len() {
            // Left the inner loop to switch lines inside a quoted scalar.
            continue;
        }
        li += 1;
        if li >= raws.len() {
            return None;
        }
        i = 0;
    }
}

/// Undo YAML quoting of a single-line quoted scalar (quotes included). None: not quoted, or a
/// bad escape.
pub(super) fn unquote(raw: &str) -> Option<String> {
    let inner = raw.get(1..raw.len().checked_sub(1)?)?;
    if raw.len() >= 2 && raw.starts_with('\'') && raw.ends_with('\'') {
        return Some(inner.replace("''", "'"));
    }
    if !(raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"')) {
        return None;
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let hex = |chars: &mut std::str::Chars, n: usize| -> Option<char> {
            let digits: String = chars.by_ref().take(n).collect();
            if digits.len() != n {
                return None;
            }
            char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
        };
        out.push(match chars.next()? {
            '0' => '\0',
            'a' => '\x07',
            'b' => '\x08',
            't' | '\t' => '\t',
            'n' => '\n',
            'v' => '\x0b',
            'f' => '\x0c',
            'r' => '\r',
            'e' => '\x1b',
            ' ' => ' ',
            '"' => '"',
            '/' => '/',
            '\\' => '\\',
            'N' => '\u{85}',
            '_' => '\u{a0}',
            'L' => '\u{2028}',
            'P' => '\u{2029}',
            'x' => hex(&mut chars, 2)?,
            'u' => hex(&mut chars, 4)?,
            'U' => hex(&mut chars, 8)?,
            _ => return None,
        });
    }
    Some(out)
}

/// A mapping key starting at `body`, and the column after its `:`.
fn key_at(raws: &[Raw], li: usize, body: usize) -> Option<(Key, usize)> {
    let t = raws[li].text;
    let b = t.as_bytes();
    let c = *b.get(body)?;
    let colon_after = |j: usize| b.get(j) == Some(&b':') && b.get(j + 1).is_none_or(|&n| is_ws(n));
    match c {
        b'"' | b'\'' => {
            let (l2, end) = close_quote(raws, li, body, c)?;
            let j = skip_ws(b, end);
            if l2 != li || !colon_after(j) {
                return None;
            }
            let text = unquote(&t[body..end])?;
            Some((Key { text, col: body }, j + 1))
        }
        b'[' | b'{' | b'|' | b'>' | b'*' | b'&' | b'!' | b'#' | b'%' | b'@' | b'`' => None,
        b'?' if b.get(body + 1).is_none_or(|&n| is_ws(n)) => None,
        _ => {
            for j in body..b.len() {
                if b[j] == b'#' && j > body && is_ws(b[j - 1]) {
                    return None;
                }
                if colon_after(j) {
                    let text = t[body..j].trim_end().to_owned();
                    return Some((Key { text, col: body }, j + 1));
                }
            }
            None
        }
    }
}

/// After a single-line value ending at `end`: the comment column and whether other text follows.
fn after_value(b: &[u8], end: usize) -> (Option<usize>, bool) {
    let k = skip_ws(b, end);
    if k >= b.len() {
        (None, false)
    } else if b[k] == b'#' && k > end {
        (Some(k), false)
    } else {
        (None, true)
    }
}

/// The value starting at or after `vp` on line `li`, and the last line it occupies.
fn value_at(raws: &[Raw], li: usize, vp: usize) -> Result<(Value, usize), PinError> {
    let b = raws[li].text.as_bytes();
    let no = li + 1;
    let mut i = skip_ws(b, vp);
    let mut props = false;
    while i < b.len() && (b[i] == b'&' || b[i] == b'!') {
        props = true;
        while i < b.len() && !is_ws(b[i]) {
            i += 1;
        }
        i = skip_ws(b, i);
    }
    let mut value = Value {
        kind: Kind::Empty,
        props,
        start: i,
        end: i,
        comment: None,
        multiline: false,
        trailing: false,
    };
    let Some(&c) = b.get(i) else {
        return Ok((value, li));
    };
    let mut last = li;
    match c {
        b'#' if i == 0 || is_ws(b[i - 1]) => value.comment = Some(i),
        b'|' | b'>' => {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'+' || b[j] == b'-') {
                j += 1;
            }
            value.kind = Kind::Block;
            value.end = j;
            value.multiline = true;
            (value.comment, value.trailing) = after_value(b, j);
        }
        b'"' | b'\'' | b'[' | b'{' => {
            let (kind, close) = match c {
                b'"' => (Kind::DoubleQuoted, close_quote(raws, li, i, c)),
                b'\'' => (Kind::SingleQuoted, close_quote(raws, li, i, c)),
                _ => (Kind::Flow, close_flow(raws, li, i)),
            };
            let Some((l2, c2)) = close else {
                return Err(malformed(
                    no,
                    if kind == Kind::Flow {
                        "flow collection is never closed"
                    } else {
                        "quoted scalar is never closed"
                    },
                ));
            };
            value.kind = kind;
            if l2 == li {
                value.end = c2;
                (value.comment, value.trailing) = after_value(b, c2);
            } else {
                value.end = b.len();
                value.multiline = true;
                last = l2;
            }
        }
        b'*' => {
            let mut j = i;
            while j < b.len() && !is_ws(b[j]) {
                j += 1;
            }
            value.kind = Kind::Alias;
            value.end = j;
            (value.comment, value.trailing) = after_value(b, j);
        }
        _ => {
            // A plain scalar ends at a ` #` comment or the end of the line.
            let mut end = b.len();
            for j in i..b.len() {
                if b[j] == b'#' && is_ws(b[j - 1]) {
                    value.comment = Some(j);
                    end = j;
                    break;
                }
            }
            while end > i && is_ws(b[end - 1]) {
                end -= 1;
            }
            value.kind = Kind::Plain;
            value.end = end;
            let s = &b[i..end];
            // `key: a: b` and `key: - x` are not one scalar; callers refuse to edit them.
            value.trailing = s.windows(2).any(|w| w[0] == b':' && is_ws(w[1]))
                || s.ends_with(b":")
                || (c == b'-' && s.get(1).is_none_or(|&n| is_ws(n)));
        }
    }
    Ok((value, last))
}

/// Where the file stands in its one YAML document: markers (`---`, `...`) and directives
/// (`%YAML`) are allowed only where a single document allows them.
#[derive(Default)]
struct Document {
    seen_start: bool,
    seen_content: bool,
    ended: bool,
}

impl Document {
    /// Whether the unindented line `b` (number `no`) is a marker or a directive, which carries
    /// no content; an error where it would start a second document.
    fn marker(&mut self, b: &[u8], no: usize) -> Result<bool, PinError> {
        if is_marker(b, b"---") {
            if self.seen_start || self.seen_content {
                return Err(PinError::MultipleDocuments { line: no });
            }
            self.seen_start = true;
            let after = skip_ws(b, 3);
            if after < b.len() && b[after] != b'#' {
                return Err(PinError::Unsupported {
                    line: no,
                    what: "content on the `---` line".into(),
                });
            }
            return Ok(true);
        }
        if is_marker(b, b"...") {
            self.ended = true;
            return Ok(true);
        }
        if b[0] == b'%' {
            if self.seen_content || self.seen_start {
                return Err(malformed(no, "directive inside a document"));
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// A content line: an error after the document ended.
    fn content(&mut self, no: usize) -> Result<(), PinError> {
        if self.ended {
            return Err(PinError::MultipleDocuments { line: no });
        }
        self.seen_content = true;
        Ok(())
    }
}

/// The first line from `from` on that is not part of a block scalar whose lines are indented
/// at least `min_indent` (blank lines belong to it).
fn block_end(raws: &[Raw<'_>], from: usize, min_indent: usize) -> usize {
    let mut next = from;
    while next < raws.len() {
        let nb = raws[next].text.as_bytes();
        let nind = nb.iter().take_while(|&&c| c == b' ').count();
        if skip_ws(nb, nind) < nb.len() && nind < min_indent {
            break;
        }
        next += 1;
    }
    next
}

/// Classify `text` (without BOM) into structural lines.
pub(super) fn scan(text: &str) -> Result<Vec<Line<'_>>, PinError> {
    let raws = split_lines(text)?;
    let mut lines: Vec<Line> = Vec::new();
    let mut doc = Document::default();
    // While set, non-blank lines indented at least this much continue the last plain scalar.
    let mut plain_min: Option<usize> = None;
    let mut li = 0;
    while li < raws.len() {
        let raw = &raws[li];
        let b = raw.text.as_bytes();
        let no = li + 1;
        let indent = b.iter().take_while(|&&c| c == b' ').count();
        let first = skip_ws(b, indent);
        if first == b.len() || b[first] == b'#' {
            li += 1;
            continue;
        }
        if let Some(min) = plain_min {
            if indent >= min {
                if let Some(last) = lines.last_mut() {
                    last.value.multiline = true;
                }
                li += 1;
                continue;
            }
            plain_min = None;
        }
        if indent == 0 && doc.marker(b, no)? {
            li += 1;
            continue;
        }
        doc.content(no)?;

        let mut pos = first;
        let mut dashes = 0;
        let mut last_dash = first;
        while pos < b.len() && b[pos] == b'-' && b.get(pos + 1).is_none_or(|&n| is_ws(n)) {
            dashes += 1;
            last_dash = pos;
            pos = skip_ws(b, pos + 1);
        }
        let (key, vp) = match key_at(&raws, li, pos) {
            Some((key, after)) => (Some(key), after),
            None => (None, pos),
        };
        let (value, last) = value_at(&raws, li, vp)?;
        // Continuation lines must be indented past the key or dash that owns the value.
        let min_indent = match (&key, dashes) {
            (Some(k), _) => k.col + 1,
            (None, 0) => first,
            (None, _) => last_dash + 1,
        };
        let next = match value.kind {
            Kind::Block => block_end(&raws, last + 1, min_indent),
            Kind::Plain => {
                plain_min = Some(min_indent);
                last + 1
            }
            _ => last + 1,
        };
        lines.push(Line {
            no,
            start: raw.start,
            text: raw.text,
            indent,
            tab_indent: first > indent,
            dashes,
            key,
            value,
        });
        li = next;
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(text: &str) -> Vec<(usize, usize, usize, Option<String>, Kind, bool)> {
        scan(text)
            .unwrap()
            .into_iter()
            .map(|l| {
                (
                    l.no,
                    l.indent,
                    l.dashes,
                    l.key.map(|k| k.text),
                    l.value.kind,
                    l.value.multiline,
                )
            })
            .collect()
    }

    #[test]
    fn block_scalars_quoted_and_flow_continuations_are_not_structure() {
        let text = "a: |\n  resources:\n\n  - repository: x\nb: \"one\n- two\"\nc: [x,\n  'y]',\n  z]\nd: plain\n  ref: more\n# comment\ne: >-\n  text\n";
        assert_eq!(
            shape(text),
            vec![
                (1, 0, 0, Some("a".into()), Kind::Block, true),
                (5, 0, 0, Some("b".into()), Kind::DoubleQuoted, true),
                (7, 0, 0, Some("c".into()), Kind::Flow, true),
                (10, 0, 0, Some("d".into()), Kind::Plain, true),
                (13, 0, 0, Some("e".into()), Kind::Block, true),
            ]
        );
    }

    #[test]
    fn keys_dashes_and_value_spans() {
        let text = "- - 'k y': \"v\\\"1\"  # c\n  - key:value\n  -   k2: &a x\n";
        let lines = scan(text).unwrap();
        assert_eq!(lines.len(), 3);
        let l = &lines[0];
        assert_eq!(
            (l.dashes, l.key.as_ref().unwrap().text.as_str()),
            (2, "k y")
        );
        assert_eq!(&l.text[l.value.start..l.value.end], "\"v\\\"1\"");
        assert_eq!(l.value.comment, Some(19));
        assert_eq!(
            unquote(&l.text[l.value.start..l.value.end]).unwrap(),
            "v\"1"
        );
        // `key:value` has no space after the colon: a plain scalar, not a key.
        assert!(lines[1].key.is_none());
        assert_eq!(lines[1].value.kind, Kind::Plain);
        let l = &lines[2];
        assert_eq!(l.key.as_ref().unwrap().col, 6);
        assert!(l.value.props);
    }

    #[test]
    fn errors_carry_line_numbers() {
        for (text, line) in [
            ("a: 1\n---\nb: 2\n", 2),
            ("---\na: 1\n---\n", 3),
            ("a: 1\n...\nb: 2\n", 3),
            ("a: 'open\nb: 2\n", 1),
            ("a: 1\nb: [x,\n", 2),
            ("a: 1\nb: 2\rc: 3\n", 2),
        ] {
            let err = scan(text).unwrap_err();
            let got = match &err {
                PinError::MultipleDocuments { line } | PinError::Malformed { line, .. } => *line,
                other => panic!("{text:?}: {other}"),
            };
            assert_eq!(got, line, "{text:?}: {err}");
        }
        assert!(scan("%YAML 1.2\n---\na: 1\n...\n").is_ok());
    }

    #[test]
    fn unquote_handles_yaml_escapes() {
        assert_eq!(unquote("'it''s'").unwrap(), "it's");
        assert_eq!(unquote(r#""a\tb\x41\u00e9\\""#).unwrap(), "a\tbAé\\");
        assert!(unquote(r#""bad \q""#).is_none());
        assert!(unquote("plain").is_none());
        assert!(unquote("'").is_none());
    }
}
