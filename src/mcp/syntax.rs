//! Tree-sitter plumbing shared by the language extractors: the grammar of a file, parsing
//! within a time budget, and small node helpers. No extraction logic lives here.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use tree_sitter::{Node, Parser, Tree};

use super::surface::Language;

/// One parse may take at most this long, whatever the remaining budget.
const MAX_PARSE_PER_FILE: Duration = Duration::from_secs(2);

/// The grammar a file is parsed with (TSX and TypeScript differ; JSX parses as JavaScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Grammar {
    Typescript,
    Tsx,
    Javascript,
    Python,
    Go,
    Rust,
    Csharp,
}

impl Grammar {
    /// The grammar for a path, by extension; `None` for files no MCP SDK is written in.
    pub(crate) fn for_path(path: &str) -> Option<Self> {
        let name = path.rsplit('/').next().unwrap_or(path);
        if name.ends_with(".d.ts") {
            return None;
        }
        let ext = name.rsplit_once('.')?.1;
        Some(match ext {
            "ts" | "mts" | "cts" => Self::Typescript,
            "tsx" => Self::Tsx,
            "js" | "mjs" | "cjs" | "jsx" => Self::Javascript,
            "py" => Self::Python,
            "go" => Self::Go,
            "rs" => Self::Rust,
            "cs" => Self::Csharp,
            _ => return None,
        })
    }

    pub(crate) fn language(self) -> Language {
        match self {
            Self::Typescript | Self::Tsx => Language::Typescript,
            Self::Javascript => Language::Javascript,
            Self::Python => Language::Python,
            Self::Go => Language::Go,
            Self::Rust => Language::Rust,
            Self::Csharp => Language::Csharp,
        }
    }

    fn ts_language(self) -> tree_sitter::Language {
        match self {
            Self::Typescript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Self::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Self::Javascript => tree_sitter_javascript::LANGUAGE.into(),
            Self::Python => tree_sitter_python::LANGUAGE.into(),
            Self::Go => tree_sitter_go::LANGUAGE.into(),
            Self::Rust => tree_sitter_rust::LANGUAGE.into(),
            Self::Csharp => tree_sitter_c_sharp::LANGUAGE.into(),
        }
    }
}

/// The time one extraction may spend parsing, shared by every file it parses.
#[derive(Debug)]
pub(crate) struct ParseBudget {
    deadline: Instant,
    /// Set once a parse was cancelled for time: the surface is then incomplete.
    pub exhausted: bool,
}

impl ParseBudget {
    pub(crate) fn new(total: Duration) -> Self {
        Self {
            deadline: Instant::now() + total,
            exhausted: false,
        }
    }

    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// A parsed source file.
pub(crate) struct SourceFile {
    pub path: String,
    pub grammar: Grammar,
    pub src: String,
    pub tree: Tree,
}

impl SourceFile {
    pub(crate) fn root(&self) -> Node<'_> {
        self.tree.root_node()
    }

    /// The source text of a node ("" when the node spans invalid UTF-8, which `src` cannot).
    pub(crate) fn text(&self, node: Node<'_>) -> &str {
        self.src.get(node.byte_range()).unwrap_or("")
    }
}

/// Parses `src` with the grammar, cancelled when the budget or the per-file cap runs out.
/// `None` when cancelled (the budget is then marked exhausted) or when the parser failed.
pub(crate) fn parse(
    path: &str,
    grammar: Grammar,
    src: String,
    budget: &mut ParseBudget,
) -> Option<SourceFile> {
    let mut parser = Parser::new();
    parser.set_language(&grammar.ts_language()).ok()?;
    let limit = budget.remaining().min(MAX_PARSE_PER_FILE);
    if limit.is_zero() {
        budget.exhausted = true;
        return None;
    }
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let mut progress = |_: &tree_sitter::ParseState| {
        if Instant::now() >= deadline {
            timed_out = true;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let bytes = src.as_bytes();
    let len = bytes.len();
    let tree = parser.parse_with_options(
        &mut |offset, _| {
            if offset < len { &bytes[offset..] } else { &[] }
        },
        None,
        Some(tree_sitter::ParseOptions::new().progress_callback(&mut progress)),
    );
    if timed_out {
        budget.exhausted = true;
    }
    let tree = tree?;
    Some(SourceFile {
        path: path.to_owned(),
        grammar,
        src,
        tree,
    })
}

/// The 1-based line of a node.
pub(crate) fn line(node: Node<'_>) -> u32 {
    u32::try_from(node.start_position().row)
        .unwrap_or(u32::MAX - 1)
        .saturating_add(1)
}

/// The named children of a node.
pub(crate) fn named_children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

/// Named children that are not comments (argument lists and bodies mix both).
pub(crate) fn args(node: Node<'_>) -> Vec<Node<'_>> {
    named_children(node)
        .into_iter()
        .filter(|n| !n.kind().contains("comment"))
        .collect()
}

/// Every node under `root` in document order, without recursion (trees of hostile input can be
/// deeper than the stack). Stops after `limit` nodes.
pub(crate) fn descendants(root: Node<'_>, limit: usize) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut cursor = root.walk();
    loop {
        if out.len() >= limit {
            break;
        }
        out.push(cursor.node());
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return out;
            }
        }
    }
    out
}

/// At most this many nodes of one file are visited by an extractor.
pub(crate) const MAX_NODES_PER_FILE: usize = 2_000_000;

/// Evaluation recursion stops here (cyclic constants, hostile nesting).
pub(crate) const MAX_EVAL_DEPTH: usize = 48;

/// Decodes the escapes of a C-family string body (`\n`, `\t`, `\\`, `\"`, `\'`, `\xHH`,
/// `\uXXXX`, `\u{X…}`, `\UXXXXXXXX`, line continuations). Unknown escapes keep the escaped
/// character, as JavaScript, Python and Go mostly do for printable ones.
pub(crate) fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' if chars.peek().is_none_or(|c| !c.is_ascii_digit()) => out.push('\0'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            'a' => out.push('\u{7}'),
            '\n' => {}
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
            }
            'x' => push_hex(&mut out, &mut chars, 2, '\\', 'x'),
            'u' if chars.peek() == Some(&'{') => {
                chars.next();
                let hex: String = chars.by_ref().take_while(|c| *c != '}').collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push('\u{fffd}'),
                }
            }
            'u' => push_hex(&mut out, &mut chars, 4, '\\', 'u'),
            'U' => push_hex(&mut out, &mut chars, 8, '\\', 'U'),
            other => out.push(other),
        }
    }
    out
}

fn push_hex(
    out: &mut String,
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    digits: usize,
    backslash: char,
    letter: char,
) {
    let mut hex = String::new();
    for _ in 0..digits {
        match chars.peek() {
            Some(c) if c.is_ascii_hexdigit() => {
                hex.push(*c);
                chars.next();
            }
            _ => break,
        }
    }
    let code = u32::from_str_radix(&hex, 16).ok();
    // A UTF-16 high surrogate followed by `\uDC00`-style low surrogate (JavaScript, C#).
    if let Some(hi @ 0xD800..=0xDBFF) = code {
        let mut ahead = chars.clone();
        if ahead.next() == Some('\\') && ahead.next() == Some('u') {
            let lo: String = ahead.by_ref().take(4).collect();
            if let Ok(lo @ 0xDC00..=0xDFFF) = u32::from_str_radix(&lo, 16) {
                let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                if let Some(ch) = char::from_u32(cp) {
                    out.push(ch);
                    for _ in 0..6 {
                        chars.next();
                    }
                    return;
                }
            }
        }
    }
    match code.and_then(char::from_u32) {
        Some(ch) if hex.len() == digits => out.push(ch),
        _ => {
            out.push(backslash);
            out.push(letter);
            out.push_str(&hex);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_including_invisible_characters() {
        assert_eq!(unescape(r"a\nb\tc"), "a\nb\tc");
        assert_eq!(unescape(r"\u200b"), "\u{200b}");
        assert_eq!(unescape(r"\u{E0041}"), "\u{E0041}");
        assert_eq!(unescape(r"\uDB40\uDC41"), "\u{E0041}");
        assert_eq!(unescape(r#"say \"hi\""#), "say \"hi\"");
        assert_eq!(unescape(r"\x41\q"), "Aq");
        assert_eq!(unescape("line \\\nnext"), "line next");
        assert_eq!(unescape(r"\u12"), r"\u12");
    }

    #[test]
    fn grammars_by_extension() {
        assert_eq!(Grammar::for_path("src/a.ts"), Some(Grammar::Typescript));
        assert_eq!(Grammar::for_path("src/a.d.ts"), None);
        assert_eq!(Grammar::for_path("a.tsx"), Some(Grammar::Tsx));
        assert_eq!(Grammar::for_path("a.mjs"), Some(Grammar::Javascript));
        assert_eq!(Grammar::for_path("Makefile"), None);
        assert_eq!(Grammar::for_path("x/Tools.cs"), Some(Grammar::Csharp));
    }

    #[test]
    fn parse_stops_when_the_budget_is_spent() {
        let mut budget = ParseBudget::new(Duration::ZERO);
        assert!(
            parse(
                "a.ts",
                Grammar::Typescript,
                "let a = 1;".into(),
                &mut budget
            )
            .is_none()
        );
        assert!(budget.exhausted);
        let mut budget = ParseBudget::new(Duration::from_secs(5));
        let f = parse("a.py", Grammar::Python, "x = 1\n".into(), &mut budget).expect("parses");
        assert_eq!(f.root().kind(), "module");
        assert_eq!(
            descendants(f.root(), 100).len(),
            f.root().descendant_count()
        );
    }
}
