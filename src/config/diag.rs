//! Diagnostics: one problem in a config file, with every place involved.
//!
//! A diagnostic has one primary place (`FILE:LINE:COL`) and may name others (the first copy of a
//! duplicate), as cargo-deny does. `{}` prints one line per problem, for logs and scripts;
//! `{:#}` adds the offending source lines with a caret under each place, for people at a terminal.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem found in a config file. `Display` is the `FILE:LINE:COL: message [code]` form
/// `check` prints; the alternate form (`{:#}`) adds the source lines.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not tied to a place (e.g. the file is missing).
    pub line: usize,
    pub column: usize,
    /// Stable, kebab-case: scripts may match on it.
    pub code: &'static str,
    /// One line.
    pub message: String,
    /// Other places involved, each with what it is (e.g. "first defined here").
    pub related: Vec<Related>,
    /// The source line of the primary place, for the alternate form.
    #[serde(skip)]
    pub excerpt: Option<Excerpt>,
}

/// A secondary place of a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Related {
    pub line: usize,
    pub column: usize,
    pub label: String,
    #[serde(skip)]
    pub excerpt: Option<Excerpt>,
}

/// One source line as shown under a diagnostic, and how many characters the caret underlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// The line with control characters shown as spaces, cut to a window around the place.
    pub text: String,
    /// Characters of `text` before the place.
    pub offset: usize,
    /// Characters underlined (at least 1).
    pub width: usize,
}

/// The longest excerpt shown: a minified one-line config must not print megabytes per problem.
const EXCERPT_MAX: usize = 100;

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line != 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": {}", self.message)?;
        for r in &self.related {
            write!(f, ", {} ({}:{})", r.label, r.line, r.column)?;
        }
        write!(f, " [{}]", self.code)?;
        if f.alternate() {
            self.write_excerpts(f)?;
        }
        Ok(())
    }
}

impl Diagnostic {
    /// The source lines under the header: the primary place with `^`, the others with `-` and
    /// their label, in the style of rustc and cargo-deny.
    fn write_excerpts(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let places: Vec<(usize, &Excerpt, char, &str)> = self
            .excerpt
            .iter()
            .map(|e| (self.line, e, '^', ""))
            .chain(
                self.related
                    .iter()
                    .filter_map(|r| Some((r.line, r.excerpt.as_ref()?, '-', r.label.as_str()))),
            )
            .collect();
        let Some(widest) = places.iter().map(|(line, ..)| line.to_string().len()).max() else {
            return Ok(());
        };
        let gutter = " ".repeat(widest);
        for (i, (line, excerpt, mark, label)) in places.iter().enumerate() {
            if i == 0 {
                write!(f, "\n{gutter} |")?;
            } else {
                write!(f, "\n{gutter} ...")?;
            }
            write!(f, "\n{line:>widest$} | {}", excerpt.text)?;
            let pad = " ".repeat(excerpt.offset);
            let marks = mark.to_string().repeat(excerpt.width);
            write!(f, "\n{gutter} | {pad}{marks}")?;
            if !label.is_empty() {
                write!(f, " {label}")?;
            }
        }
        Ok(())
    }
}

/// Collects diagnostics for one file, turning byte spans into lines, columns and excerpts.
pub struct Diagnostics<'a> {
    file: &'a Path,
    source: &'a str,
    pub items: Vec<Diagnostic>,
    /// Allowed, but worth saying (`check` prints them; the other commands log them).
    pub warnings: Vec<Diagnostic>,
}

impl<'a> Diagnostics<'a> {
    pub fn new(file: &'a Path, source: &'a str) -> Self {
        Self {
            file,
            source,
            items: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// A problem at `span` (None: not tied to a place).
    pub fn at(
        &mut self,
        span: Option<Range<usize>>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.at_with(span, code, message, Vec::new());
    }

    /// A problem at `span` on a line that holds a secret (a connection URL with its password):
    /// its line and column, but never the line itself.
    pub fn at_secret_line(
        &mut self,
        span: Option<Range<usize>>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.at(span, code, message);
        if let Some(d) = self.items.last_mut() {
            d.excerpt = None;
        }
    }

    /// Something allowed but risky at `span`: reported, the config stays valid.
    pub fn warn(
        &mut self,
        span: Option<Range<usize>>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.at(span, code, message);
        if let Some(d) = self.items.pop() {
            self.warnings.push(d);
        }
    }

    /// A problem at `span` that involves other places too, each with a label.
    pub fn at_with(
        &mut self,
        span: Option<Range<usize>>,
        code: &'static str,
        message: impl Into<String>,
        related: Vec<(Range<usize>, String)>,
    ) {
        let (line, column, excerpt) = self.place(span);
        let related = related
            .into_iter()
            .map(|(span, label)| {
                let (line, column, excerpt) = self.place(Some(span));
                Related {
                    line,
                    column,
                    label,
                    excerpt,
                }
            })
            .collect();
        self.items.push(Diagnostic {
            file: self.file.to_path_buf(),
            line,
            column,
            code,
            message: message.into(),
            related,
            excerpt,
        });
    }

    fn place(&self, span: Option<Range<usize>>) -> (usize, usize, Option<Excerpt>) {
        match span {
            Some(span) => {
                let (line, column) = line_col(self.source, span.start);
                (line, column, excerpt(self.source, span))
            }
            None => (0, 0, None),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The line holding `span.start`, with the span underlined up to the end of that line.
fn excerpt(source: &str, span: Range<usize>) -> Option<Excerpt> {
    let start = span.start.min(source.len());
    if !source.is_char_boundary(start) {
        return None;
    }
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    let end = span.end.clamp(start, line_end);
    let line: Vec<char> = mask_secrets(source[line_start..line_end].trim_end_matches('\r'))
        .chars()
        // Control characters would move the caret or reach the terminal: show them as spaces.
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let offset = source[line_start..start].chars().count();
    let width = source
        .get(start..end)
        .map_or(1, |s| s.chars().count())
        .max(1);
    // A window around the place when the line is long.
    let from = offset.saturating_sub(EXCERPT_MAX / 2).min(line.len());
    let to = (from + EXCERPT_MAX).min(line.len());
    let text: String = line[from..to].iter().collect();
    let offset = offset - from;
    let width = width
        .min(text.chars().count().saturating_sub(offset))
        .max(1);
    Some(Excerpt {
        text: text.trim_end().to_string(),
        offset,
        width,
    })
}

/// `line` with every word that looks like a secret (quoted or not) replaced by `*`s of the
/// same length, so the caret still points at the right column: a token pasted into the config
/// is refused, and must not be printed by the refusal.
fn mask_secrets(line: &str) -> String {
    let delimiter = |c: char| c.is_whitespace() || "=,{}[]\"'#".contains(c);
    let mut out = String::with_capacity(line.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if crate::secret::looks_like_secret(word).is_some() {
            out.extend(word.chars().map(|_| '*'));
        } else {
            out.push_str(&mask_userinfo(word));
        }
        word.clear();
    };
    for c in line.chars() {
        if delimiter(c) {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// `word` with the userinfo of a URL in it (`scheme://user:pass@`, or scp-like `user:pass@`)
/// replaced by `*`s of the same length.
fn mask_userinfo(word: &str) -> String {
    let start = word.find("://").map_or(0, |i| i + 3);
    let Some(at) = word.rfind('@').filter(|at| *at >= start) else {
        return word.to_string();
    };
    let userinfo = &word[start..at];
    if start == 0 && !userinfo.contains(':') {
        // `git@host:path`: a login name, not a credential.
        return word.to_string();
    }
    format!(
        "{}{}{}",
        &word[..start],
        "*".repeat(userinfo.chars().count()),
        &word[at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_an_excerpt_are_masked_in_place() {
        let token = "ghp_R2d2C3poBB8Luke0Leia1Han2Solo3Chewie4";
        let stars = "*".repeat(token.len());
        let src = format!("[servers.mirror]\ntoken = \"{token}\"\n");
        let shown = format!("{:#}", one(&src, 17..22, Vec::new()));
        assert!(!shown.contains(token), "{shown}");
        assert!(shown.contains(&format!("token = \"{stars}\"")), "{shown}");
        assert_eq!(
            mask_secrets(&format!("x = {token} ")),
            format!("x = {stars} ")
        );
        let name = "token-env = \"GITHUB_TOKEN\"";
        assert_eq!(mask_secrets(name), name);
        assert_eq!(
            mask_secrets("registry = \"https://bot:pw@npm.example.com\""),
            "registry = \"https://******@npm.example.com\""
        );
        let scp = "upstream = \"git@github.com:o/r.git\"";
        assert_eq!(mask_secrets(scp), scp);
    }

    #[test]
    fn line_col_counts_from_one() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 9), (2, 4));
        assert_eq!(line_col(src, 999), (3, 1));
    }

    fn one(src: &str, span: Range<usize>, related: Vec<(Range<usize>, String)>) -> Diagnostic {
        let mut d = Diagnostics::new(Path::new("u.toml"), src);
        d.at_with(Some(span), "test-code", "something is wrong", related);
        d.items.remove(0)
    }

    #[test]
    fn the_plain_form_is_one_line_and_names_every_place() {
        let src = "name = \"a\"\nx = 1\nname = \"a\"\n";
        let d = one(src, 24..27, vec![(7..10, "first defined here".into())]);
        assert_eq!(
            d.to_string(),
            "u.toml:3:8: something is wrong, first defined here (1:8) [test-code]"
        );
    }

    #[test]
    fn the_alternate_form_shows_each_line_with_a_caret() {
        let src = "name = \"a\"\nx = 1\nname = \"a\"\n";
        let d = one(src, 24..27, vec![(7..10, "first defined here".into())]);
        insta::assert_snapshot!(format!("{d:#}"), @r#"
        u.toml:3:8: something is wrong, first defined here (1:8) [test-code]
          |
        3 | name = "a"
          |        ^^^
          ...
        1 | name = "a"
          |        --- first defined here
        "#);
    }

    #[test]
    fn excerpts_survive_odd_lines() {
        // A span over several lines underlines to the end of its first line.
        let d = one("[a]\nkey = 1\n", 0..12, Vec::new());
        assert_eq!(d.excerpt.as_ref().unwrap().width, 3);
        // Control characters never reach the terminal; tabs keep the caret in place.
        let d = one("\tk\u{1b}[2J = 1\n", 1..2, Vec::new());
        let e = d.excerpt.unwrap();
        assert_eq!((e.text.as_str(), e.offset, e.width), (" k [2J = 1", 1, 1));
        // A long line is cut to a window that still holds the place.
        let long = format!("{} = 1\n", "k".repeat(10_000));
        let d = one(&long, 9_000..9_001, Vec::new());
        let e = d.excerpt.unwrap();
        assert!(e.text.chars().count() <= EXCERPT_MAX);
        assert_eq!(e.offset, EXCERPT_MAX / 2);
        // A span at the very end, or past it, still gets a line.
        let d = one("a = 1", 5..9, Vec::new());
        assert_eq!(d.excerpt.unwrap().width, 1);
        // No place, no excerpt, and the alternate form is the plain one.
        let mut ds = Diagnostics::new(Path::new("u.toml"), "");
        ds.at(None, "unreadable", "cannot read");
        assert_eq!(
            format!("{:#}", ds.items[0]),
            "u.toml: cannot read [unreadable]"
        );
    }
}
