//! The manifest gate: which languages of a tree cannot hold an MCP server, because the tree
//! has package manifests for that language and none of them names an MCP SDK (pure).
//!
//! Why: finding the files that use an SDK means reading every source file, and on a large
//! monorepo that is most of a cold run's cost (99,000 TypeScript files, 143 MB, read twice:
//! once per revision). A package cannot import an SDK its manifests do not depend on (the
//! build that produces the internal rebuild installs from those manifests), so when a tree has
//! `package.json` files and none of them mentions MCP, its TypeScript and JavaScript files
//! are not read. The test is deliberately loose — any mention of `mcp` or
//! `modelcontextprotocol` anywhere in any manifest of the language, or a manifest that cannot
//! be read, keeps every file of that language — so it only ever skips trees that plainly have
//! nothing to do with MCP. A language with no manifest at all (a loose script, Deno's inline
//! `npm:` imports) is always read.

use super::syntax::Grammar;

/// A package ecosystem: the languages that share one kind of manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ecosystem {
    Node,
    Python,
    Go,
    Rust,
    Dotnet,
}

const ALL: [Ecosystem; 5] = [
    Ecosystem::Node,
    Ecosystem::Python,
    Ecosystem::Go,
    Ecosystem::Rust,
    Ecosystem::Dotnet,
];

impl Ecosystem {
    /// The ecosystem whose manifests govern files of `grammar`.
    pub(crate) fn of(grammar: Grammar) -> Self {
        match grammar {
            Grammar::Typescript | Grammar::Tsx | Grammar::Javascript => Self::Node,
            Grammar::Python => Self::Python,
            Grammar::Go => Self::Go,
            Grammar::Rust => Self::Rust,
            Grammar::Csharp => Self::Dotnet,
        }
    }

    /// The ecosystem a file name is a dependency manifest of, if any.
    pub(crate) fn of_manifest(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        Some(match lower.as_str() {
            "package.json" => Self::Node,
            "pyproject.toml" | "setup.py" | "setup.cfg" | "pipfile" => Self::Python,
            "go.mod" => Self::Go,
            "cargo.toml" => Self::Rust,
            "directory.packages.props" | "directory.build.props" | "packages.config" => {
                Self::Dotnet
            }
            _ if lower.starts_with("requirements")
                && (lower.ends_with(".txt") || lower.ends_with(".in")) =>
            {
                Self::Python
            }
            _ if lower.ends_with(".csproj") => Self::Dotnet,
            _ => return None,
        })
    }

    fn manifest_names(self) -> &'static str {
        match self {
            Self::Node => "package.json",
            Self::Python => "Python manifest (pyproject.toml, setup.py, requirements)",
            Self::Go => "go.mod",
            Self::Rust => "Cargo.toml",
            Self::Dotnet => ".csproj or package props file",
        }
    }

    fn index(self) -> usize {
        ALL.iter().position(|e| *e == self).unwrap_or(0)
    }
}

/// Whether a manifest's text may declare an MCP SDK. Loose on purpose (see the module doc):
/// every SDK the extractors know is named `…mcp…` or `…modelcontextprotocol…` in its
/// ecosystem (`@modelcontextprotocol/sdk`, `mcp`, `fastmcp`, `mark3labs/mcp-go`,
/// `modelcontextprotocol/go-sdk`, `rmcp`, `ModelContextProtocol`). A Python `pyproject.toml`
/// whose dependencies are `dynamic` is read from elsewhere, so it counts as a mention.
pub(crate) fn mentions_mcp(ecosystem: Ecosystem, text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("mcp")
        || lower.contains("modelcontextprotocol")
        || (ecosystem == Ecosystem::Python && lower.contains("dynamic"))
}

/// What the manifests of one tree say, per ecosystem and per directory.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    /// Per ecosystem (in [`ALL`] order): manifests seen, and whether any may declare an SDK.
    seen: [(usize, bool); 5],
    /// Each manifest's ecosystem, directory ("" at the root) and whether it may declare one.
    dirs: Vec<(Ecosystem, String, bool)>,
}

impl Gate {
    /// Notes the manifest at `path`; `text` is `None` when it could not be read (then it
    /// counts as a mention: an unreadable manifest never hides a language).
    pub(crate) fn note(&mut self, ecosystem: Ecosystem, path: &str, text: Option<&str>) {
        let mentions = text.is_none_or(|t| mentions_mcp(ecosystem, t));
        let slot = &mut self.seen[ecosystem.index()];
        slot.0 += 1;
        slot.1 |= mentions;
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        self.dirs.push((ecosystem, dir.to_owned(), mentions));
    }

    /// Whether the file at `path` is scanned first: the nearest manifest of its ecosystem
    /// above it names MCP, or none governs it. When a tree holds more source than the scan
    /// may read, the files a package that names MCP owns are read before the others, so the
    /// budget cuts the least likely ones.
    pub(crate) fn first(&self, grammar: Grammar, path: &str) -> bool {
        let eco = Ecosystem::of(grammar);
        self.dirs
            .iter()
            .filter(|(e, dir, _)| {
                *e == eco
                    && (dir.is_empty()
                        || path
                            .strip_prefix(dir.as_str())
                            .is_some_and(|rest| rest.starts_with('/')))
            })
            .max_by_key(|(_, dir, _)| dir.len())
            .is_none_or(|(_, _, mentions)| *mentions)
    }

    /// Whether files of `grammar` are left unread.
    pub(crate) fn excludes(&self, grammar: Grammar) -> bool {
        let (count, mentioned) = self.seen[Ecosystem::of(grammar).index()];
        count > 0 && !mentioned
    }

    /// One coverage line for an ecosystem whose `files` source files were left unread.
    pub(crate) fn reason(&self, ecosystem: Ecosystem, files: usize) -> String {
        let (count, _) = self.seen[ecosystem.index()];
        format!(
            "{files} source file(s) not read: none of the tree's {count} {} names an MCP SDK",
            ecosystem.manifest_names()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_recognised_by_name() {
        assert_eq!(
            Ecosystem::of_manifest("package.json"),
            Some(Ecosystem::Node)
        );
        assert_eq!(
            Ecosystem::of_manifest("requirements-dev.txt"),
            Some(Ecosystem::Python)
        );
        assert_eq!(Ecosystem::of_manifest("Pipfile"), Some(Ecosystem::Python));
        assert_eq!(Ecosystem::of_manifest("go.mod"), Some(Ecosystem::Go));
        assert_eq!(Ecosystem::of_manifest("Cargo.toml"), Some(Ecosystem::Rust));
        assert_eq!(
            Ecosystem::of_manifest("Weather.Server.csproj"),
            Some(Ecosystem::Dotnet)
        );
        assert_eq!(Ecosystem::of_manifest("package-lock.json"), None);
        assert_eq!(Ecosystem::of_manifest("README.md"), None);
    }

    #[test]
    fn a_language_is_skipped_only_when_it_has_manifests_and_none_mentions_mcp() {
        let mut gate = Gate::default();
        assert!(!gate.excludes(Grammar::Typescript), "no manifest: read");
        gate.note(
            Ecosystem::Node,
            "package.json",
            Some(r#"{"dependencies":{"zod":"3"}}"#),
        );
        assert!(gate.excludes(Grammar::Typescript));
        assert!(gate.excludes(Grammar::Javascript));
        assert!(
            !gate.excludes(Grammar::Python),
            "other ecosystems untouched"
        );
        gate.note(
            Ecosystem::Node,
            "packages/server/package.json",
            Some(r#"{"dependencies":{"@modelcontextprotocol/sdk":"1"}}"#),
        );
        assert!(
            !gate.excludes(Grammar::Tsx),
            "one mention anywhere keeps them all"
        );
    }

    #[test]
    fn files_of_a_package_that_names_mcp_are_scanned_first() {
        let mut gate = Gate::default();
        gate.note(
            Ecosystem::Node,
            "package.json",
            Some(r#"{"dependencies":{"@modelcontextprotocol/sdk":"1"}}"#),
        );
        gate.note(
            Ecosystem::Node,
            "packages/ui/package.json",
            Some(r#"{"name":"ui"}"#),
        );
        gate.note(
            Ecosystem::Node,
            "packages/ui-kit/package.json",
            Some(r#"{"name":"mcp-kit"}"#),
        );
        assert!(
            gate.first(Grammar::Typescript, "src/server.ts"),
            "the root names it"
        );
        assert!(
            !gate.first(Grammar::Typescript, "packages/ui/src/a.ts"),
            "nearest does not"
        );
        assert!(
            gate.first(Grammar::Typescript, "packages/ui-kit/a.ts"),
            "a sibling prefix is not a parent"
        );
        assert!(
            gate.first(Grammar::Python, "tools/x.py"),
            "no Python manifest: unknown, first"
        );
    }

    #[test]
    fn unreadable_or_dynamic_manifests_never_hide_a_language() {
        let mut gate = Gate::default();
        gate.note(Ecosystem::Go, "go.mod", None);
        assert!(!gate.excludes(Grammar::Go));
        gate.note(
            Ecosystem::Python,
            "pyproject.toml",
            Some("[project]\nname = \"x\"\ndynamic = [\"dependencies\"]\n"),
        );
        assert!(!gate.excludes(Grammar::Python));
    }

    #[test]
    fn every_known_sdk_counts_as_a_mention() {
        for (eco, text) in [
            (Ecosystem::Node, r#""@modelcontextprotocol/sdk": "^1.2""#),
            (Ecosystem::Python, "dependencies = [\"mcp[cli]>=1.2\"]"),
            (Ecosystem::Python, "fastmcp==2.3"),
            (Ecosystem::Go, "require github.com/mark3labs/mcp-go v0.30.0"),
            (
                Ecosystem::Go,
                "require github.com/modelcontextprotocol/go-sdk v1",
            ),
            (Ecosystem::Rust, "rmcp = { version = \"0.3\" }"),
            (
                Ecosystem::Dotnet,
                "<PackageReference Include=\"ModelContextProtocol\" />",
            ),
        ] {
            assert!(mentions_mcp(eco, text), "{text}");
        }
        assert!(!mentions_mcp(Ecosystem::Node, r#"{"name":"pixel-core"}"#));
    }
}
