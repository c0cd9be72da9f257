//! The MCP surface of an upstream release: what a model sees of the server (tool names,
//! descriptions, parameter descriptions, hints, prompts, resources, server instructions), read
//! statically from source, compared across two revisions and judged for tool poisoning.
//!
//! Owns the answer to "what does this release change in the text a model is given?". Entry
//! points: [`extract`] reads one commit from git objects (never a checkout, never executing or
//! installing anything) into a [`Surface`], cached per tree in a [`SurfaceCache`] the caller
//! keeps; [`compare`] diffs two surfaces and judges the changes into a [`McpSurfaceReport`]
//! (pure), the run report's `mcp_surface` contract; [`render::markdown`] and
//! [`render::plain_text`] turn it into the PR body section and the email text (pure). This
//! module does not gate, send mail, store anything or talk to forges.
//!
//! Extraction parses source with tree-sitter grammars (TypeScript/JavaScript, Python, Go,
//! Rust, C#) and knows each official SDK's definition forms; values are resolved only where
//! the source makes them literal (constants, concatenations, object literals, relative
//! imports). Everything else is listed as unresolved with its file, line and reason.
//!
//! Submodules: `source` (git, the only I/O; limits), `syntax` (parsing), `lang` (one extractor
//! per language), `value` (statically evaluated values), `surface` (the data), `cache`,
//! `diff`, `findings`, `report`, `render`.

mod cache;
mod diff;
mod findings;
mod lang;
mod manifests;
pub mod render;
mod report;
mod source;
mod surface;
mod syntax;
mod value;

use anyhow::Context as _;
use git2::{Oid, Repository};

pub use cache::{DEFAULT_CACHE_ENTRIES, SurfaceCache};
pub use diff::{ChangeKind, FieldChange, ItemDiff, ItemKind, SurfaceDiff, Text};
pub use findings::{Finding, FindingCode, Severity};
pub use report::{ItemReport, McpSurfaceReport, ServerReport};
pub use source::{Limits, ScanMemo};
pub use surface::{
    Annotations, Coverage, Language, Location, Param, Prompt, Resource, SURFACE_VERSION,
    ServerInfo, Surface, Tool, Unresolved,
};

/// Reads the MCP surface of `commit` from `repo` (typically a bare clone).
///
/// `Ok(None)` when no file of the commit uses an MCP SDK. Only git objects are read, within
/// `limits`; the result is cached in `cache` by tree, so the pinned revision of a server is
/// read once per process. Unreadable, oversized, binary or slow-to-parse files are recorded in
/// [`Surface::coverage`], never errors. Pass one `memo` to the two extractions of a release
/// (pinned and proposed): the files both revisions share are then scanned once. A language
/// whose manifests all leave MCP unnamed is not read (`manifests`: the gate and its reasons).
///
/// # Errors
/// When the commit or its root tree cannot be read, or a tree under it is missing.
pub fn extract(
    repo: &Repository,
    commit: Oid,
    limits: &Limits,
    cache: &SurfaceCache,
    memo: &mut ScanMemo,
) -> anyhow::Result<Option<Surface>> {
    let commit_obj = repo
        .find_commit(commit)
        .with_context(|| format!("finding commit {commit}"))?;
    let tree = commit_obj
        .tree()
        .with_context(|| format!("reading the tree of {commit}"))?;
    let span = tracing::debug_span!("mcp_extract", commit = %commit, tree = %tree.id());
    let _enter = span.enter();
    if let Some(cached) = cache.get(tree.id(), limits) {
        return Ok(cached.map(|mut s| {
            s.commit = commit.to_string();
            s
        }));
    }
    let ws = source::read_workspace(repo, &tree, limits, memo)?;
    let surface = build(&ws, commit.to_string());
    tracing::debug!(
        files = ws.coverage.files_parsed,
        tools = surface.as_ref().map_or(0, |s| s.tools.len()),
        truncated = ws.coverage.truncated,
        "extracted the MCP surface"
    );
    cache.put(tree.id(), limits, surface.clone());
    Ok(surface)
}

/// Reads the MCP surface of in-memory files (`(path, text)`), by the same rules as
/// [`extract`]: for tools that hold source outside git, and the tests.
#[must_use]
pub fn extract_files(files: &[(&str, &str)], limits: &Limits) -> Option<Surface> {
    let ws = source::Workspace::from_sources(files, limits);
    build(&ws, String::new())
}

fn build(ws: &source::Workspace, commit: String) -> Option<Surface> {
    if ws.roots.is_empty() {
        // A scan a limit cut before it found any SDK use has not shown there is none: it is an
        // empty surface that says it may be incomplete, not "no MCP SDK here".
        return ws.coverage.truncated.then(|| Surface {
            commit,
            coverage: ws.coverage.clone(),
            ..Surface::empty()
        });
    }
    let found = lang::extract(ws);
    let mut surface = Surface {
        version: SURFACE_VERSION,
        commit,
        languages: found.languages.into_iter().collect(),
        server: found.server,
        tools: found.tools,
        prompts: found.prompts,
        resources: found.resources,
        unresolved: found.unresolved,
        coverage: ws.coverage.clone(),
    };
    surface.sort();
    surface.tools.dedup();
    surface.prompts.dedup();
    surface.resources.dedup();
    Some(surface)
}

/// Compares the surface at the pinned revision (`old`) with the proposed one (`new`) and
/// judges the changes (pure).
///
/// `None` when neither revision uses an MCP SDK (the report's `mcp_surface: null`). A server
/// seen for the first time has no `old`: everything is `added` and every text is judged.
#[must_use]
pub fn compare(old: Option<&Surface>, new: Option<&Surface>) -> Option<McpSurfaceReport> {
    if old.is_none() && new.is_none() {
        return None;
    }
    let empty = Surface::empty();
    let old = old.unwrap_or(&empty);
    let new = new.unwrap_or(&empty);
    let diff = diff::diff(old, new);
    let findings = findings::judge(old, new, &diff);
    Some(report::build(new, &diff, findings))
}
