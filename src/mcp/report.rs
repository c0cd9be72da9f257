//! The `mcp_surface` entry of a server's run report: the machine-readable contract (fields are
//! added, never renamed). Built from the diff and the findings (pure); the renderers read it.

use serde::{Deserialize, Serialize};

use super::diff::{ChangeKind, FieldChange, ItemDiff, ItemKind, SurfaceDiff};
use super::findings::{Finding, Severity};
use super::surface::{Language, Surface, Unresolved};

/// One tool, prompt or resource found at either revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemReport {
    pub name: String,
    pub change: ChangeKind,
    /// The changed fields (`description`, `input.path.description`, ...).
    pub fields: Vec<String>,
    pub file: String,
    pub line: u32,
    /// For a renamed item, its old name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_name: Option<String>,
    /// The changed fields with their old and new values (for the word diffs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
}

/// The server's own name and instructions, when they changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerReport {
    pub name: String,
    pub change: ChangeKind,
    pub fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
}

/// What a release changes in what the model sees, and what that looks like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpSurfaceReport {
    pub languages: Vec<Language>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerReport>,
    pub tools: Vec<ItemReport>,
    pub prompts: Vec<ItemReport>,
    pub resources: Vec<ItemReport>,
    /// Most severe first.
    pub findings: Vec<Finding>,
    /// At the proposed revision.
    pub unresolved: Vec<Unresolved>,
    /// [`Surface::fingerprint`] of the proposed revision: approvals are keyed on it.
    pub fingerprint: String,
    /// True when extraction hit a limit at the proposed revision (the surface may be
    /// incomplete).
    #[serde(default)]
    pub truncated: bool,
}

impl McpSurfaceReport {
    /// The most severe finding's severity.
    #[must_use]
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Findings at any of `levels` (the gate's `hold-on`).
    pub fn findings_at<'a>(&'a self, levels: &'a [Severity]) -> impl Iterator<Item = &'a Finding> {
        self.findings
            .iter()
            .filter(|f| levels.contains(&f.severity))
    }

    /// Whether anything a model sees changed.
    #[must_use]
    pub fn has_changes(&self) -> bool {
        self.server.is_some() || self.items().any(|(_, i)| i.change != ChangeKind::Unchanged)
    }

    /// Every item with its kind, tools first.
    pub fn items(&self) -> impl Iterator<Item = (ItemKind, &ItemReport)> {
        self.tools
            .iter()
            .map(|i| (ItemKind::Tool, i))
            .chain(self.prompts.iter().map(|i| (ItemKind::Prompt, i)))
            .chain(self.resources.iter().map(|i| (ItemKind::Resource, i)))
    }
}

fn item_report(d: &ItemDiff) -> ItemReport {
    let (file, line) = d
        .location
        .as_ref()
        .map_or((String::new(), 0), |l| (l.file.clone(), l.line));
    ItemReport {
        name: d.name.clone(),
        change: d.change,
        fields: d.fields.iter().map(|f| f.field.clone()).collect(),
        file,
        line,
        previous_name: d.previous_name.clone(),
        changes: d.fields.clone(),
    }
}

/// Builds the report of the change to `new` (pure).
pub(crate) fn build(new: &Surface, diff: &SurfaceDiff, findings: Vec<Finding>) -> McpSurfaceReport {
    let mut report = McpSurfaceReport {
        languages: new.languages.clone(),
        server: None,
        tools: Vec::new(),
        prompts: Vec::new(),
        resources: Vec::new(),
        findings,
        unresolved: new.unresolved.clone(),
        fingerprint: new.fingerprint(),
        truncated: new.coverage.truncated,
    };
    for d in &diff.items {
        match d.kind {
            ItemKind::Server => {
                report.server = Some(ServerReport {
                    name: d.name.clone(),
                    change: d.change,
                    fields: d.fields.iter().map(|f| f.field.clone()).collect(),
                    changes: d.fields.clone(),
                });
            }
            ItemKind::Tool => report.tools.push(item_report(d)),
            ItemKind::Prompt => report.prompts.push(item_report(d)),
            ItemKind::Resource => report.resources.push(item_report(d)),
        }
    }
    for list in [
        &mut report.tools,
        &mut report.prompts,
        &mut report.resources,
    ] {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    report
}
