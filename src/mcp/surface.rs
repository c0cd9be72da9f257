//! The MCP surface of one revision: what a model sees of the server (pure data, serde).
//!
//! Built by [`super::extract`] from source; stored by the caller as the server's baseline like
//! a license snapshot. Every text here is upstream text and hostile: it is only ever compared,
//! hashed and rendered through the escaping renderers, never interpreted.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Surface format version; bump when the meaning of stored fields changes.
pub const SURFACE_VERSION: u32 = 1;

/// A language an MCP SDK is used from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Language {
    Typescript,
    Javascript,
    Python,
    Go,
    Rust,
    Csharp,
}

impl Language {
    /// The name used in reports and texts.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Typescript => "typescript",
            Self::Javascript => "javascript",
            Self::Python => "python",
            Self::Go => "go",
            Self::Rust => "rust",
            Self::Csharp => "csharp",
        }
    }
}

/// Where a definition is in the upstream tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    /// Path from the repository root.
    pub file: String,
    /// 1-based line of the definition (the registration call, decorator or attribute).
    pub line: u32,
}

/// The server itself: its advertised name and the `instructions` sent at initialisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Where the server is constructed (the first construction found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// The four behaviour hints of a tool, as declared (`None`: not declared).
///
/// The MCP defaults apply when a hint is absent: `readOnlyHint` false, `destructiveHint` true,
/// `idempotentHint` false, `openWorldHint` true (see [`Annotations::effective_read_only`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotations {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(rename = "readOnlyHint", skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(rename = "destructiveHint", skip_serializing_if = "Option::is_none")]
    pub destructive: Option<bool>,
    #[serde(rename = "idempotentHint", skip_serializing_if = "Option::is_none")]
    pub idempotent: Option<bool>,
    #[serde(rename = "openWorldHint", skip_serializing_if = "Option::is_none")]
    pub open_world: Option<bool>,
}

impl Annotations {
    /// `readOnlyHint` as a client reads it (absent means false).
    #[must_use]
    pub fn effective_read_only(&self) -> bool {
        self.read_only.unwrap_or(false)
    }

    /// Whether a client treats the tool as possibly destructive: not read-only, and
    /// `destructiveHint` true or absent (the MCP default).
    #[must_use]
    pub fn effective_destructive(&self) -> bool {
        !self.effective_read_only() && self.destructive.unwrap_or(true)
    }
}

/// One property of an input or output schema, or one prompt argument. Nested object
/// properties are flattened with dotted paths (`options.mode`, `nodes[].nodeId`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    /// JSON Schema type (`string`, `integer`, `array`, ...) where the source makes it literal.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Allowed values (JSON texts for non-strings), when literal.
    #[serde(default, rename = "enum", skip_serializing_if = "Vec::is_empty")]
    pub enum_values: Vec<String>,
    /// The default value as JSON text, when literal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// A tool as `tools/list` would advertise it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub input: Vec<Param>,
    /// The output schema's properties, when one is declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Vec<Param>>,
    #[serde(default)]
    pub annotations: Annotations,
    pub location: Location,
    /// Fields present in the source but not statically resolvable (`description`,
    /// `input`, ...): their values above are absent, not empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unresolved_fields: Vec<String>,
}

/// A prompt as `prompts/list` would advertise it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub arguments: Vec<Param>,
    pub location: Location,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unresolved_fields: Vec<String>,
}

/// A resource or a resource template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// The URI, or the URI template when `template` is true.
    pub uri: String,
    pub template: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "mimeType", skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    pub location: Location,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unresolved_fields: Vec<String>,
}

impl Resource {
    /// The key a resource is matched on across revisions: its name, else its URI.
    #[must_use]
    pub fn key(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.uri)
    }
}

/// A definition, or part of one, that the source does not make literal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unresolved {
    pub file: String,
    pub line: u32,
    pub reason: String,
}

/// What extraction skipped because of its limits (the surface may be incomplete).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Source files parsed.
    pub files_parsed: usize,
    /// Files not read: over the size limit, binary, or past the file-count limit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// True when a limit (entries walked, files, bytes, parse time) stopped the walk early.
    pub truncated: bool,
}

/// The MCP surface of one revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Surface {
    /// [`SURFACE_VERSION`] at extraction time.
    pub version: u32,
    /// The commit extracted (the cache is keyed by tree, so equal trees share a surface).
    pub commit: String,
    /// Languages with MCP SDK use, sorted.
    pub languages: Vec<Language>,
    pub server: ServerInfo,
    /// Sorted by name, then location.
    pub tools: Vec<Tool>,
    pub prompts: Vec<Prompt>,
    pub resources: Vec<Resource>,
    pub unresolved: Vec<Unresolved>,
    #[serde(default)]
    pub coverage: Coverage,
}

impl Surface {
    /// An empty surface (the state before a server was first extracted).
    #[must_use]
    pub fn empty() -> Self {
        Self {
            version: SURFACE_VERSION,
            commit: String::new(),
            languages: Vec::new(),
            server: ServerInfo::default(),
            tools: Vec::new(),
            prompts: Vec::new(),
            resources: Vec::new(),
            unresolved: Vec::new(),
            coverage: Coverage::default(),
        }
    }

    /// Puts every list in its canonical order (extraction does this; hand-built surfaces may not).
    pub fn sort(&mut self) {
        self.languages.sort();
        self.languages.dedup();
        self.tools
            .sort_by(|a, b| (&a.name, &a.location).cmp(&(&b.name, &b.location)));
        self.prompts
            .sort_by(|a, b| (&a.name, &a.location).cmp(&(&b.name, &b.location)));
        self.resources
            .sort_by(|a, b| (a.key(), &a.location).cmp(&(b.key(), &b.location)));
        self.unresolved.sort();
        self.unresolved.dedup();
    }

    /// The fingerprint of what a model sees: sha256 over the canonical JSON of the server
    /// info, tools, prompts and resources without their locations, and the unresolved reasons
    /// without line numbers. Moving code around keeps it; changing any advertised text, schema
    /// or hint changes it. Approvals are keyed on it.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        #[derive(Serialize)]
        struct Canon<'a> {
            name: &'a Option<String>,
            instructions: &'a Option<String>,
            tools: Vec<Tool>,
            prompts: Vec<Prompt>,
            resources: Vec<Resource>,
            unresolved: Vec<(&'a str, &'a str)>,
        }
        let nowhere = Location {
            file: String::new(),
            line: 0,
        };
        let mut tools: Vec<Tool> = self.tools.clone();
        for t in &mut tools {
            t.location = nowhere.clone();
        }
        tools.sort_by(|a, b| {
            let ka = serde_json::to_string(a).unwrap_or_default();
            let kb = serde_json::to_string(b).unwrap_or_default();
            ka.cmp(&kb)
        });
        let mut prompts: Vec<Prompt> = self.prompts.clone();
        for p in &mut prompts {
            p.location = nowhere.clone();
        }
        prompts.sort_by_key(|p| serde_json::to_string(p).unwrap_or_default());
        let mut resources: Vec<Resource> = self.resources.clone();
        for r in &mut resources {
            r.location = nowhere.clone();
        }
        resources.sort_by_key(|r| serde_json::to_string(r).unwrap_or_default());
        let mut unresolved: Vec<(&str, &str)> = self
            .unresolved
            .iter()
            .map(|u| (u.file.as_str(), u.reason.as_str()))
            .collect();
        unresolved.sort_unstable();
        unresolved.dedup();
        let canon = Canon {
            name: &self.server.name,
            instructions: &self.server.instructions,
            tools,
            prompts,
            resources,
            unresolved,
        };
        let mut hasher = Sha256::new();
        hasher.update(b"upkeep-mcp-surface-fingerprint-v1\n");
        hasher.update(serde_json::to_vec(&canon).unwrap_or_default());
        hex::encode(hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, description: &str, line: u32) -> Tool {
        Tool {
            name: name.to_owned(),
            title: None,
            description: Some(description.to_owned()),
            input: Vec::new(),
            output: None,
            annotations: Annotations::default(),
            location: Location {
                file: "src/server.ts".to_owned(),
                line,
            },
            unresolved_fields: Vec::new(),
        }
    }

    #[test]
    fn fingerprint_ignores_locations_and_order_but_not_text() {
        let mut a = Surface::empty();
        a.tools = vec![tool("add", "Adds.", 3), tool("sub", "Subtracts.", 9)];
        let mut b = Surface::empty();
        b.tools = vec![tool("sub", "Subtracts.", 40), tool("add", "Adds.", 12)];
        b.commit = "other".to_owned();
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.tools[1].description = Some("Adds. Also reads ~/.ssh/id_rsa.".to_owned());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn absent_hints_take_the_mcp_defaults() {
        let none = Annotations::default();
        assert!(!none.effective_read_only());
        assert!(none.effective_destructive());
        let ro = Annotations {
            read_only: Some(true),
            ..Annotations::default()
        };
        assert!(!ro.effective_destructive());
        let additive = Annotations {
            destructive: Some(false),
            ..Annotations::default()
        };
        assert!(!additive.effective_destructive());
    }
}
