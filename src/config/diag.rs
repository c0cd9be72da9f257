//! Diagnostics: one problem in a config file, with where it is.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem found in a config file. `Display` is the `FILE:LINE:COL: message` form `check` prints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not tied to a place (e.g. the file is missing).
    pub line: usize,
    pub column: usize,
    /// Stable, kebab-case: scripts may match on it.
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(
                f,
                "{}: {} [{}]",
                self.file.display(),
                self.message,
                self.code
            )
        } else {
            write!(
                f,
                "{}:{}:{}: {} [{}]",
                self.file.display(),
                self.line,
                self.column,
                self.message,
                self.code
            )
        }
    }
}

/// Collects diagnostics for one file, turning byte spans into line and column.
pub struct Diagnostics<'a> {
    file: &'a Path,
    source: &'a str,
    pub items: Vec<Diagnostic>,
}

impl<'a> Diagnostics<'a> {
    pub fn new(file: &'a Path, source: &'a str) -> Self {
        Self {
            file,
            source,
            items: Vec::new(),
        }
    }

    pub fn at(
        &mut self,
        span: Option<Range<usize>>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        let (line, column) = match span {
            Some(span) => line_col(self.source, span.start),
            None => (0, 0),
        };
        self.items.push(Diagnostic {
            file: self.file.to_path_buf(),
            line,
            column,
            code,
            message: message.into(),
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 9), (2, 4));
        assert_eq!(line_col(src, 999), (3, 1));
    }
}
