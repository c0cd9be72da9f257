//! stub
use super::Collector;
use crate::mcp::source::Workspace;
use crate::mcp::syntax::SourceFile;
pub(super) fn uses_sdk(_file: &SourceFile) -> bool {
    false
}
#[allow(dead_code)]
pub(super) fn related_files(_file: &SourceFile, _exists: &dyn Fn(&str) -> bool) -> Vec<String> {
    Vec::new()
}
pub(super) fn extract(_ws: &Workspace, _file: &SourceFile, _out: &mut Collector) {}
