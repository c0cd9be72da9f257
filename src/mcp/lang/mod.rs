//! The language extractors: one module per language an MCP SDK is written in, each reading
//! parsed files into tools, prompts, resources and server info. Dispatch by grammar lives
//! here, with the [`Collector`] they all write into.
//!
//! Extractors read syntax only (tree-sitter nodes) and evaluate what the source makes literal;
//! anything else becomes an [`Unresolved`] entry with the file, the line and the reason.

mod csharp;
mod golang;
mod python;
mod rust;
mod typescript;

use std::collections::BTreeSet;

use tree_sitter::Node;

use super::source::Workspace;
use super::surface::{Language, Location, Prompt, Resource, ServerInfo, Tool, Unresolved};
use super::syntax::{self, Grammar, SourceFile};

/// Cheap first test on the raw text: can this file use an MCP SDK at all? (A substring test on
/// module names only picks files to parse; what a file defines is read from its syntax.)
pub(crate) fn mentions_sdk(grammar: Grammar, text: &str) -> bool {
    match grammar {
        Grammar::Typescript | Grammar::Tsx | Grammar::Javascript => {
            text.contains("@modelcontextprotocol/")
        }
        Grammar::Python => ["mcp", "fastmcp", "FastMCP"]
            .iter()
            .any(|m| text.contains(m)),
        Grammar::Go => {
            text.contains("github.com/mark3labs/mcp-go")
                || text.contains("github.com/modelcontextprotocol/go-sdk")
        }
        Grammar::Rust => text.contains("rmcp"),
        Grammar::Csharp => text.contains("ModelContextProtocol") || text.contains("McpServer"),
    }
}

/// Cheap first test for files that use no SDK themselves: does the text call a registration
/// method (so it may register on a server it imports from a file that does)?
pub(crate) fn may_register(grammar: Grammar, text: &str) -> bool {
    let calls: &[&str] = match grammar {
        Grammar::Typescript | Grammar::Tsx | Grammar::Javascript => &[
            ".tool(",
            ".registerTool(",
            ".prompt(",
            ".registerPrompt(",
            ".resource(",
            ".registerResource(",
        ],
        // Decorators may be bare (`@mcp.tool`).
        Grammar::Python => &[".tool", ".prompt", ".resource"],
        _ => &[],
    };
    calls.iter().any(|c| text.contains(c))
}

/// Whether a parsed file really imports an MCP SDK (or, in C#, uses its attributes).
pub(crate) fn uses_sdk(file: &SourceFile) -> bool {
    match file.grammar {
        Grammar::Typescript | Grammar::Tsx | Grammar::Javascript => typescript::uses_sdk(file),
        Grammar::Python => python::uses_sdk(file),
        Grammar::Go => golang::uses_sdk(file),
        Grammar::Rust => rust::uses_sdk(file),
        Grammar::Csharp => csharp::uses_sdk(file),
    }
}

/// The files a file makes relevant: relative imports (TypeScript, JavaScript, Python), the
/// other files of its package (Go), its modules (Rust). `paths` are the source files of the
/// tree, sorted.
pub(crate) fn related_files(file: &SourceFile, paths: &[&str]) -> Vec<String> {
    let exists = |p: &str| paths.binary_search(&p).is_ok();
    match file.grammar {
        Grammar::Typescript | Grammar::Tsx | Grammar::Javascript => {
            typescript::related_files(file, &exists)
        }
        Grammar::Python => python::related_files(file, &exists),
        Grammar::Go => golang::related_files(file, paths),
        Grammar::Rust => rust::related_files(file, &exists),
        Grammar::Csharp => Vec::new(),
    }
}

/// One definition an extractor found.
pub(crate) enum Item {
    Tool(Tool),
    Prompt(Prompt),
    Resource(Resource),
}

/// Everything the extractors found in one workspace.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    pub languages: BTreeSet<Language>,
    pub server: ServerInfo,
    pub tools: Vec<Tool>,
    pub prompts: Vec<Prompt>,
    pub resources: Vec<Resource>,
    pub unresolved: Vec<Unresolved>,
}

impl Collector {
    /// Records that something at `node` of `file` is not statically known.
    pub(crate) fn unresolved(
        &mut self,
        file: &SourceFile,
        node: Node<'_>,
        reason: impl Into<String>,
    ) {
        self.unresolved.push(Unresolved {
            file: file.path.clone(),
            line: syntax::line(node),
            reason: reason.into(),
        });
    }

    /// Adds an item, with one unresolved entry per field of it that is not literal.
    pub(crate) fn add(&mut self, file: &SourceFile, at: Node<'_>, item: Item) {
        let (kind, name, fields) = match &item {
            Item::Tool(t) => ("tool", t.name.clone(), t.unresolved_fields.clone()),
            Item::Prompt(p) => ("prompt", p.name.clone(), p.unresolved_fields.clone()),
            Item::Resource(r) => ("resource", r.key().to_owned(), r.unresolved_fields.clone()),
        };
        for f in fields {
            self.unresolved(file, at, format!("{kind} `{name}`: {f} is not literal"));
        }
        match item {
            Item::Tool(t) => self.tools.push(t),
            Item::Prompt(p) => self.prompts.push(p),
            Item::Resource(r) => self.resources.push(r),
        }
    }

    /// Sets the server name and instructions unless an earlier construction set them.
    pub(crate) fn server(
        &mut self,
        file: &SourceFile,
        node: Node<'_>,
        name: Option<String>,
        instructions: Option<String>,
    ) {
        if self.server.location.is_none() {
            self.server.location = Some(location(file, node));
        }
        if self.server.name.is_none() {
            self.server.name = name;
        }
        if self.server.instructions.is_none() {
            self.server.instructions = instructions;
        }
    }
}

pub(crate) fn location(file: &SourceFile, node: Node<'_>) -> Location {
    Location {
        file: file.path.clone(),
        line: syntax::line(node),
    }
}

/// Runs the extractor of each root file's language over the workspace.
pub(crate) fn extract(ws: &Workspace) -> Collector {
    let mut out = Collector::default();
    for &idx in &ws.roots {
        let file = &ws.files[idx];
        out.languages.insert(file.grammar.language());
    }
    // Imported files can register too (a `register(server)` helper without its own SDK
    // import), so every parsed file of an SDK language is read.
    for file in &ws.files {
        match file.grammar {
            Grammar::Typescript | Grammar::Tsx | Grammar::Javascript => {
                typescript::extract(ws, file, &mut out);
            }
            Grammar::Python => python::extract(ws, file, &mut out),
            Grammar::Go => golang::extract(ws, file, &mut out),
            Grammar::Rust => rust::extract(ws, file, &mut out),
            Grammar::Csharp => csharp::extract(ws, file, &mut out),
        }
    }
    out
}

/// Python's `inspect.cleandoc` and rmcp's doc joining both strip indentation and blank edge
/// lines; descriptions from docstrings and doc comments are compared in this form.
pub(crate) fn clean_doc(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let indent = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        if i == 0 {
            out.push(l.trim().to_owned());
        } else {
            out.push(
                l.get(indent..)
                    .unwrap_or(l.trim_start())
                    .trim_end()
                    .to_owned(),
            );
        }
    }
    while out.first().is_some_and(String::is_empty) {
        out.remove(0);
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out.join("\n")
}

/// `textwrap.dedent`: removes the whitespace prefix common to all non-blank lines.
pub(crate) fn dedent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    text.split_inclusive('\n')
        .map(|l| {
            if l.trim().is_empty() {
                l.trim_start_matches([' ', '\t'])
            } else {
                l.get(indent..).unwrap_or(l)
            }
        })
        .collect()
}

/// `JsonNamingPolicy.SnakeCaseLower`, as the C# SDK names tools after their methods.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None | Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(char::is_lowercase),
                _ => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docstrings_are_cleaned_like_inspect_cleandoc() {
        let doc = "Fetch a URL.\n\n        Returns the body.\n          Indented.\n    ";
        assert_eq!(
            clean_doc(doc),
            "Fetch a URL.\n\nReturns the body.\n  Indented."
        );
        assert_eq!(dedent("\n    a\n      b\n"), "\na\n  b\n");
    }

    #[test]
    fn csharp_names_are_snake_cased_like_the_sdk() {
        assert_eq!(snake_case("GetAlerts"), "get_alerts");
        assert_eq!(snake_case("Echo"), "echo");
        assert_eq!(snake_case("ReadHTTPHeaders"), "read_http_headers");
        assert_eq!(snake_case("Add2Numbers"), "add2_numbers");
    }
}
