//! TypeScript and JavaScript, the official SDK (`@modelcontextprotocol/sdk` 1.x and
//! `@modelcontextprotocol/server` 2.x): `server.tool(...)`, `registerTool`, `prompt`,
//! `registerPrompt`, `resource`, `registerResource`, the low-level
//! `setRequestHandler(ListToolsRequestSchema, ...)` returning literal lists, and `new
//! McpServer(info, { instructions })`. Input schemas are zod shapes (`.describe()`,
//! `.optional()`, `.default()`) or JSON-schema literals.
//!
//! Values resolve through constants and object literals of the same file and of files imported
//! by relative path (re-exports followed). A registration counts when its receiver is known to
//! be an MCP server (constructed from the SDK, or typed as one) or, when the receiver cannot be
//! known, when the call has the SDK's shape; a receiver known to be something else never counts.

use tree_sitter::Node;

use super::{Collector, location};
use crate::mcp::source::{Workspace, join_relative};
use crate::mcp::surface::{Annotations, Param, Prompt, Resource, Tool};
use crate::mcp::syntax::{self, MAX_EVAL_DEPTH, MAX_NODES_PER_FILE, SourceFile, unescape};
use crate::mcp::value::{Schema, Value};

/// Whether an import source is the MCP SDK.
fn is_sdk_module(spec: &str) -> bool {
    spec.starts_with("@modelcontextprotocol/sdk")
        || spec == "@modelcontextprotocol/server"
        || spec.starts_with("@modelcontextprotocol/server/")
}

pub(super) fn uses_sdk(file: &SourceFile) -> bool {
    import_sources(file)
        .iter()
        .any(|(spec, _)| is_sdk_module(spec))
}

/// Every module specifier the file imports or re-exports from (`import`, `export … from`,
/// `require("…")`, `import("…")`), with the node that names it.
fn import_sources<'f>(file: &'f SourceFile) -> Vec<(String, Node<'f>)> {
    let mut out = Vec::new();
    for node in syntax::descendants(file.root(), MAX_NODES_PER_FILE) {
        match node.kind() {
            "import_statement" | "export_statement" => {
                if let Some(src) = node.child_by_field_name("source") {
                    out.push((string_value(file, src), src));
                }
            }
            "call_expression" => {
                let Some(callee) = node.child_by_field_name("function") else {
                    continue;
                };
                if matches!(file.text(callee), "require" | "import")
                    && let Some(args) = node.child_by_field_name("arguments")
                    && let Some(first) = syntax::args(args).first()
                    && first.kind() == "string"
                {
                    out.push((string_value(file, *first), *first));
                }
            }
            _ => {}
        }
    }
    out
}

/// The repository path a relative module specifier names, among the files that exist.
fn resolve_module(from: &str, spec: &str, exists: &dyn Fn(&str) -> bool) -> Option<String> {
    if !(spec.starts_with("./") || spec.starts_with("../")) {
        return None;
    }
    let base = join_relative(from, spec)?;
    let mut candidates = vec![base.clone()];
    for (js, ts) in [
        (".js", ".ts"),
        (".mjs", ".mts"),
        (".cjs", ".cts"),
        (".jsx", ".tsx"),
    ] {
        if let Some(stem) = base.strip_suffix(js) {
            candidates.push(format!("{stem}{ts}"));
            candidates.push(format!("{stem}.tsx"));
        }
    }
    for ext in [".ts", ".tsx", ".js", ".mjs", ".cjs", ".jsx"] {
        candidates.push(format!("{base}{ext}"));
    }
    for ext in ["ts", "tsx", "js", "mjs"] {
        candidates.push(format!("{base}/index.{ext}"));
    }
    candidates.into_iter().find(|c| exists(c))
}

pub(super) fn related_files(file: &SourceFile, exists: &dyn Fn(&str) -> bool) -> Vec<String> {
    import_sources(file)
        .into_iter()
        .filter_map(|(spec, _)| resolve_module(&file.path, &spec, exists))
        .collect()
}

/// The decoded value of a `string` node.
fn string_value(file: &SourceFile, node: Node<'_>) -> String {
    let text = file.text(node);
    let inner = text
        .get(1..text.len().saturating_sub(1))
        .unwrap_or_default();
    unescape(inner)
}

/// What a name is bound to, as far as the syntax says.
#[derive(Clone, Copy)]
enum Binding<'w> {
    /// `const x = value` (value `None` when declared without one); `mutable` for let/var.
    Value {
        file: &'w SourceFile,
        decl: Node<'w>,
        value: Option<Node<'w>>,
        mutable: bool,
    },
    /// A function parameter (with its node, for its type annotation).
    Param {
        file: &'w SourceFile,
        param: Node<'w>,
    },
    /// `import { imported as x } from spec` (imported `*` for a namespace, `default`).
    Import {
        file: &'w SourceFile,
        spec: Node<'w>,
        imported: &'w str,
    },
    /// A function or class declaration.
    Code,
    /// The variable of a `for … of` / `for … in` loop.
    Loop,
    None,
}

/// What a registration receiver is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recv {
    Mcp,
    NotMcp,
    Unknown,
}

struct Eval<'w> {
    ws: &'w Workspace,
}

impl<'w> Eval<'w> {
    // ---- bindings -------------------------------------------------------------------------

    /// Finds the declaration `name` refers to at `at`, climbing the enclosing scopes.
    fn lookup(&self, file: &'w SourceFile, at: Node<'w>, name: &str) -> Binding<'w> {
        let mut cur = at;
        while let Some(parent) = cur.parent() {
            match parent.kind() {
                "program" | "statement_block" => {
                    if let Some(b) = self.in_block(file, parent, name) {
                        return b;
                    }
                }
                "for_in_statement"
                    if parent.child_by_field_name("left").is_some_and(|l| {
                        syntax::descendants(l, 64)
                            .iter()
                            .any(|n| n.kind() == "identifier" && file.text(*n) == name)
                    }) =>
                {
                    return Binding::Loop;
                }
                "arrow_function"
                | "function_declaration"
                | "function_expression"
                | "function"
                | "method_definition"
                | "generator_function_declaration" => {
                    if let Some(params) = parent.child_by_field_name("parameters")
                        && let Some(p) = param_named(file, params, name)
                    {
                        return Binding::Param { file, param: p };
                    }
                    if let Some(p) = parent.child_by_field_name("parameter")
                        && file.text(p) == name
                    {
                        return Binding::Param { file, param: p };
                    }
                }
                _ => {}
            }
            cur = parent;
        }
        Binding::None
    }

    /// A declaration of `name` directly in a block or program.
    fn in_block(&self, file: &'w SourceFile, block: Node<'w>, name: &str) -> Option<Binding<'w>> {
        for child in syntax::named_children(block) {
            let decl = match child.kind() {
                "export_statement" => match child.child_by_field_name("declaration") {
                    Some(d) => d,
                    None => continue,
                },
                "import_statement" => {
                    if let Some(b) = import_binding(file, child, name) {
                        return Some(b);
                    }
                    continue;
                }
                _ => child,
            };
            match decl.kind() {
                "lexical_declaration" | "variable_declaration" => {
                    let mutable = decl
                        .child(0)
                        .is_some_and(|k| matches!(k.kind(), "let" | "var"));
                    for d in syntax::named_children(decl) {
                        if d.kind() != "variable_declarator" {
                            continue;
                        }
                        if let Some(b) = require_binding(file, d, name) {
                            return Some(b);
                        }
                        if d.child_by_field_name("name")
                            .is_some_and(|n| n.kind() == "identifier" && file.text(n) == name)
                        {
                            return Some(Binding::Value {
                                file,
                                decl: d,
                                value: d.child_by_field_name("value"),
                                mutable,
                            });
                        }
                    }
                }
                "function_declaration"
                | "generator_function_declaration"
                | "class_declaration"
                | "abstract_class_declaration"
                    if decl
                        .child_by_field_name("name")
                        .is_some_and(|n| file.text(n) == name) =>
                {
                    return Some(Binding::Code);
                }
                _ => {}
            }
        }
        None
    }

    /// The exported binding `name` of a module (following re-exports), if it is in the
    /// workspace.
    fn export(&self, file: &'w SourceFile, name: &str, depth: usize) -> Option<Binding<'w>> {
        if depth > MAX_EVAL_DEPTH {
            return None;
        }
        let root = file.root();
        let mut star_sources = Vec::new();
        for child in syntax::named_children(root) {
            if child.kind() != "export_statement" {
                continue;
            }
            if let Some(decl) = child.child_by_field_name("declaration")
                && let Some(b) = self.in_block_single(file, root, decl, name)
            {
                return Some(b);
            }
            if name == "default"
                && let Some(v) = child.child_by_field_name("value")
            {
                return Some(Binding::Value {
                    file,
                    decl: child,
                    value: Some(v),
                    mutable: false,
                });
            }
            let source = child.child_by_field_name("source");
            let clause = syntax::named_children(child)
                .into_iter()
                .find(|c| c.kind() == "export_clause");
            match (clause, source) {
                (Some(clause), src) => {
                    for spec in syntax::named_children(clause) {
                        let local = spec.child_by_field_name("name").map(|n| file.text(n));
                        let exported = spec
                            .child_by_field_name("alias")
                            .map(|n| file.text(n))
                            .or(local);
                        if exported != Some(name) {
                            continue;
                        }
                        let local = local.unwrap_or(name);
                        return match src {
                            Some(src) => {
                                let other = self.module(file, &string_value(file, src))?;
                                self.export(other, local, depth + 1)
                            }
                            None => Some(self.lookup_at_top(file, local)),
                        };
                    }
                }
                (None, Some(src)) => star_sources.push(src),
                (None, None) => {}
            }
        }
        if let Some(b) = self.commonjs_export(file, name) {
            return Some(b);
        }
        for src in star_sources {
            if let Some(other) = self.module(file, &string_value(file, src))
                && let Some(b) = self.export(other, name, depth + 1)
            {
                return Some(b);
            }
        }
        None
    }

    /// CommonJS exports: `module.exports = { name, other: value }`, `exports.name = value`,
    /// `module.exports.name = value`.
    fn commonjs_export(&self, file: &'w SourceFile, name: &str) -> Option<Binding<'w>> {
        for stmt in syntax::named_children(file.root()) {
            if stmt.kind() != "expression_statement" {
                continue;
            }
            let Some(assign) = syntax::args(stmt).into_iter().next() else {
                continue;
            };
            if assign.kind() != "assignment_expression" {
                continue;
            }
            let (Some(left), Some(right)) = (
                assign.child_by_field_name("left"),
                assign.child_by_field_name("right"),
            ) else {
                continue;
            };
            let target = file.text(left);
            if target == format!("exports.{name}") || target == format!("module.exports.{name}") {
                return Some(Binding::Value {
                    file,
                    decl: assign,
                    value: Some(right),
                    mutable: false,
                });
            }
            if target != "module.exports" || right.kind() != "object" {
                continue;
            }
            for member in syntax::args(right) {
                match member.kind() {
                    "shorthand_property_identifier" if file.text(member) == name => {
                        return Some(self.lookup_at_top(file, name));
                    }
                    "pair"
                        if member
                            .child_by_field_name("key")
                            .is_some_and(|k| file.text(k) == name) =>
                    {
                        return Some(Binding::Value {
                            file,
                            decl: member,
                            value: member.child_by_field_name("value"),
                            mutable: false,
                        });
                    }
                    _ => {}
                }
            }
        }
        None
    }

    fn in_block_single(
        &self,
        file: &'w SourceFile,
        root: Node<'w>,
        decl: Node<'w>,
        name: &str,
    ) -> Option<Binding<'w>> {
        let declares = match decl.kind() {
            "lexical_declaration" | "variable_declaration" => {
                syntax::named_children(decl).iter().any(|d| {
                    d.child_by_field_name("name")
                        .is_some_and(|n| file.text(n) == name)
                })
            }
            _ => decl
                .child_by_field_name("name")
                .is_some_and(|n| file.text(n) == name),
        };
        if declares {
            self.in_block(file, root, name)
        } else {
            None
        }
    }

    fn lookup_at_top(&self, file: &'w SourceFile, name: &str) -> Binding<'w> {
        self.in_block(file, file.root(), name)
            .unwrap_or(Binding::None)
    }

    /// The workspace file a relative specifier in `file` names.
    fn module(&self, file: &SourceFile, spec: &str) -> Option<&'w SourceFile> {
        let path = resolve_module(&file.path, spec, &|p| self.ws.file(p).is_some())?;
        self.ws.file(&path)
    }

    // ---- evaluation -----------------------------------------------------------------------

    fn eval(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        if depth > MAX_EVAL_DEPTH {
            return Value::unknown("nested too deep to evaluate");
        }
        let d = depth + 1;
        match node.kind() {
            "string" => Value::Str(string_value(file, node)),
            "template_string" => self.template(file, node, d),
            "number" => Value::Num(file.text(node).to_owned()),
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" | "undefined" => Value::Null,
            "parenthesized_expression"
            | "as_expression"
            | "satisfies_expression"
            | "non_null_expression" => match syntax::args(node).first() {
                Some(inner) => self.eval(file, *inner, d),
                None => Value::unknown("empty expression"),
            },
            "type_assertion" => match syntax::args(node).last() {
                Some(inner) => self.eval(file, *inner, d),
                None => Value::unknown("empty expression"),
            },
            "unary_expression" => self.unary(file, node, d),
            "binary_expression" => self.binary(file, node, d),
            "identifier" | "shorthand_property_identifier" => self.identifier(file, node, d),
            "member_expression" => self.member(file, node, d),
            "subscript_expression" => self.subscript(file, node, d),
            "object" => self.object(file, node, d),
            "array" => {
                let mut items = Vec::new();
                for e in syntax::args(node) {
                    if e.kind() == "spread_element" {
                        match syntax::args(e).first().map(|x| self.eval(file, *x, d)) {
                            Some(Value::Array(more)) => items.extend(more),
                            _ => {
                                items.push(Value::unknown("spread of a value not known statically"))
                            }
                        }
                    } else {
                        items.push(self.eval(file, e, d));
                    }
                }
                Value::Array(items)
            }
            "call_expression" => self.call(file, node, d),
            "arrow_function" | "function_expression" | "function" => {
                Value::unknown("a function, run at run time")
            }
            "new_expression" => Value::unknown("an object constructed at run time"),
            other => Value::unknown(format!("a `{other}` expression")),
        }
    }

    fn template(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        let range = node.byte_range();
        let mut out = String::new();
        let mut pos = range.start + 1;
        for child in syntax::named_children(node) {
            if child.kind() != "template_substitution" {
                continue;
            }
            out.push_str(&unescape(
                file.src.get(pos..child.start_byte()).unwrap_or(""),
            ));
            let inner = syntax::args(child);
            match inner.first().map(|e| self.eval(file, *e, depth)) {
                Some(Value::Str(s)) => out.push_str(&s),
                Some(Value::Num(n)) => out.push_str(&n),
                _ => {
                    return Value::unknown(format!(
                        "template literal with a run-time expression `{}`",
                        short(file.text(child))
                    ));
                }
            }
            pos = child.end_byte();
        }
        out.push_str(&unescape(
            file.src
                .get(pos..range.end.saturating_sub(1).max(pos))
                .unwrap_or(""),
        ));
        Value::Str(out)
    }

    fn unary(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        let op = node.child_by_field_name("operator").map(|o| file.text(o));
        let arg = node.child_by_field_name("argument");
        match (op, arg.map(|a| self.eval(file, a, depth))) {
            (Some("-"), Some(Value::Num(n))) => Value::Num(format!("-{n}")),
            (Some("!"), Some(Value::Bool(b))) => Value::Bool(!b),
            _ => Value::unknown("computed at run time"),
        }
    }

    fn binary(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        let op = node.child_by_field_name("operator").map(|o| file.text(o));
        let (Some(l), Some(r)) = (
            node.child_by_field_name("left"),
            node.child_by_field_name("right"),
        ) else {
            return Value::unknown("incomplete expression");
        };
        if op != Some("+") {
            return Value::unknown("computed at run time");
        }
        match (self.eval(file, l, depth), self.eval(file, r, depth)) {
            (Value::Str(a), Value::Str(b)) => Value::Str(a + &b),
            (Value::Str(a), Value::Num(b)) => Value::Str(a + &b),
            (Value::Num(a), Value::Str(b)) => Value::Str(a + &b),
            (Value::Unknown(why), _) | (_, Value::Unknown(why)) => Value::Unknown(why),
            _ => Value::unknown("computed at run time"),
        }
    }

    fn identifier(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        let name = file.text(node);
        let binding = self.lookup(file, node, name);
        self.binding_value(binding, name, depth)
    }

    fn binding_value(&self, binding: Binding<'w>, name: &str, depth: usize) -> Value {
        match binding {
            Binding::Value {
                file,
                decl,
                value,
                mutable,
            } => {
                if mutable && reassigned(file, name) {
                    return Value::unknown(format!("`{name}` is reassigned at run time"));
                }
                match value {
                    Some(v) => self.eval(file, v, depth),
                    None => {
                        let _ = decl;
                        Value::unknown(format!("`{name}` is declared without a value"))
                    }
                }
            }
            Binding::Param { .. } => Value::unknown(format!("`{name}` is a function parameter")),
            Binding::Import {
                file,
                spec,
                imported,
            } => {
                let spec_text = string_value(file, spec);
                match self.module(file, &spec_text) {
                    Some(other) if imported != "*" => match self.export(other, imported, depth) {
                        Some(b) => self.binding_value(b, imported, depth + 1),
                        None => Value::unknown(format!(
                            "`{imported}` is not a constant exported by {}",
                            other.path
                        )),
                    },
                    Some(_) => Value::unknown(format!("`{name}` is a module namespace")),
                    None => Value::unknown(format!(
                        "`{name}` is imported from `{}`, not a file in the tree",
                        short(&spec_text)
                    )),
                }
            }
            Binding::Code => Value::unknown(format!("`{name}` is code, run at run time")),
            Binding::Loop => Value::unknown(format!("`{name}` is a loop variable")),
            Binding::None => Value::unknown(format!("`{name}` is not declared in this file")),
        }
    }

    fn member(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        let (Some(obj), Some(prop)) = (
            node.child_by_field_name("object"),
            node.child_by_field_name("property"),
        ) else {
            return Value::unknown("incomplete expression");
        };
        let key = file.text(prop);
        // `ns.x` on `import * as ns from "./x"`.
        if obj.kind() == "identifier"
            && let Binding::Import {
                file: f,
                spec,
                imported: "*",
            } = self.lookup(file, obj, file.text(obj))
        {
            let spec_text = string_value(f, spec);
            return match self
                .module(f, &spec_text)
                .and_then(|m| self.export(m, key, depth))
            {
                Some(b) => self.binding_value(b, key, depth + 1),
                None => Value::unknown(format!(
                    "`{}` is not a constant in the tree",
                    short(file.text(node))
                )),
            };
        }
        self.property(self.eval(file, obj, depth), key, file.text(node))
    }

    fn property(&self, base: Value, key: &str, whole: &str) -> Value {
        match base {
            Value::Object(_) => match base.get(key) {
                Some(v) => v.clone(),
                None => Value::unknown(format!("`{}` has no literal value", short(whole))),
            },
            Value::Schema(s) if key == "shape" => match s.properties {
                Some(props) => Value::Object(
                    props
                        .into_iter()
                        .map(|(k, v)| (k, Value::Schema(Box::new(v))))
                        .collect(),
                ),
                None => Value::unknown("a schema without a literal shape"),
            },
            Value::Unknown(why) => Value::Unknown(why),
            _ => Value::unknown(format!("`{}` has no literal value", short(whole))),
        }
    }

    fn subscript(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        let (Some(obj), Some(idx)) = (
            node.child_by_field_name("object"),
            node.child_by_field_name("index"),
        ) else {
            return Value::unknown("incomplete expression");
        };
        match (self.eval(file, obj, depth), self.eval(file, idx, depth)) {
            (base @ Value::Object(_), Value::Str(k)) => self.property(base, &k, file.text(node)),
            (Value::Array(items), Value::Num(n)) => n
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i).cloned())
                .unwrap_or_else(|| Value::unknown("index out of range")),
            _ => Value::unknown(format!(
                "`{}` is computed at run time",
                short(file.text(node))
            )),
        }
    }

    fn object(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        let mut fields: Vec<(String, Value)> = Vec::new();
        for child in syntax::args(node) {
            match child.kind() {
                "pair" => {
                    let (Some(k), Some(v)) = (
                        child.child_by_field_name("key"),
                        child.child_by_field_name("value"),
                    ) else {
                        continue;
                    };
                    let key = match k.kind() {
                        "string" => string_value(file, k),
                        "computed_property_name" => {
                            match syntax::args(k).first().map(|e| self.eval(file, *e, depth)) {
                                Some(Value::Str(s)) => s,
                                _ => continue,
                            }
                        }
                        _ => file.text(k).to_owned(),
                    };
                    fields.push((key, self.eval(file, v, depth)));
                }
                "shorthand_property_identifier" => {
                    let key = file.text(child).to_owned();
                    fields.push((key, self.eval(file, child, depth)));
                }
                "spread_element" => match syntax::args(child)
                    .first()
                    .map(|e| self.eval(file, *e, depth))
                {
                    Some(Value::Object(more)) => fields.extend(more),
                    _ => fields.push((
                        "...".to_owned(),
                        Value::unknown("spread of a value not known statically"),
                    )),
                },
                "method_definition" => {
                    if let Some(n) = child.child_by_field_name("name") {
                        fields.push((file.text(n).to_owned(), Value::unknown("a method")));
                    }
                }
                _ => {}
            }
        }
        Value::Object(fields)
    }

    fn call(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        let Some(callee) = node.child_by_field_name("function") else {
            return Value::unknown("incomplete call");
        };
        let args: Vec<Node<'w>> = node
            .child_by_field_name("arguments")
            .map(syntax::args)
            .unwrap_or_default();
        let first = || args.first().map(|a| self.eval(file, *a, depth));
        match callee.kind() {
            "member_expression" => {
                let (Some(obj), Some(prop)) = (
                    callee.child_by_field_name("object"),
                    callee.child_by_field_name("property"),
                ) else {
                    return Value::unknown("incomplete call");
                };
                let method = file.text(prop);
                if self.is_zod(file, obj) {
                    return Value::Schema(Box::new(self.zod_root(file, method, &args, depth)));
                }
                if obj.kind() == "member_expression"
                    && obj
                        .child_by_field_name("property")
                        .is_some_and(|p| file.text(p) == "coerce")
                    && obj
                        .child_by_field_name("object")
                        .is_some_and(|o| self.is_zod(file, o))
                {
                    return Value::Schema(Box::new(self.zod_root(file, method, &args, depth)));
                }
                if matches!(file.text(obj), "Object" | "JSON") && method == "freeze" {
                    return first().unwrap_or(Value::Null);
                }
                if file.text(obj) == "z" && method == "toJSONSchema" {
                    return first().unwrap_or(Value::Null);
                }
                let base = self.eval(file, obj, depth);
                self.method(file, base, method, &args, depth)
            }
            "identifier" => match file.text(callee) {
                // `completable(schema, complete)` wraps a zod schema with completions.
                "zodToJsonSchema" | "toJsonSchema" | "toJSONSchema" | "completable" => {
                    first().unwrap_or(Value::Null)
                }
                "dedent" | "outdent" => match first() {
                    Some(Value::Str(s)) => Value::Str(super::dedent(&s)),
                    other => other.unwrap_or_else(|| Value::unknown("empty call")),
                },
                name => Value::unknown(format!("computed at run time by `{}(…)`", short(name))),
            },
            _ => Value::unknown(format!(
                "computed at run time by `{}(…)`",
                short(file.text(callee))
            )),
        }
    }

    fn method(
        &self,
        file: &'w SourceFile,
        base: Value,
        method: &str,
        args: &[Node<'w>],
        depth: usize,
    ) -> Value {
        let arg = |i: usize| args.get(i).map(|a| self.eval(file, *a, depth));
        match (base, method) {
            (Value::Schema(s), _) => {
                Value::Schema(Box::new(self.zod_method(file, *s, method, args, depth)))
            }
            (Value::Array(items), "join") => {
                let sep = match arg(0) {
                    Some(Value::Str(s)) => s,
                    None => ",".to_owned(),
                    _ => return Value::unknown("joined with a run-time separator"),
                };
                let parts: Option<Vec<String>> = items
                    .iter()
                    .map(|v| match v {
                        Value::Str(s) => Some(s.clone()),
                        Value::Num(n) => Some(n.clone()),
                        _ => None,
                    })
                    .collect();
                parts.map_or_else(
                    || Value::unknown("joins values not known statically"),
                    |p| Value::Str(p.join(&sep)),
                )
            }
            (Value::Str(s), "trim") => Value::Str(s.trim().to_owned()),
            (Value::Str(s), "concat") => match arg(0) {
                Some(Value::Str(t)) => Value::Str(s + &t),
                _ => Value::unknown("concatenated with a run-time value"),
            },
            (Value::Unknown(why), _) => Value::Unknown(why),
            (_, m) => Value::unknown(format!("computed at run time by `.{}(…)`", short(m))),
        }
    }

    /// Whether `node` names the zod namespace (`z` imported from `zod`, `zod/v4`, ...).
    fn is_zod(&self, file: &'w SourceFile, node: Node<'w>) -> bool {
        if node.kind() != "identifier" {
            return false;
        }
        match self.lookup(file, node, file.text(node)) {
            Binding::Import { file: f, spec, .. } => {
                let s = string_value(f, spec);
                s == "zod" || s.starts_with("zod/")
            }
            _ => false,
        }
    }

    fn zod_root(
        &self,
        file: &'w SourceFile,
        kind: &str,
        args: &[Node<'w>],
        depth: usize,
    ) -> Schema {
        let arg = |i: usize| args.get(i).map(|a| self.eval(file, *a, depth));
        match kind {
            "string" | "email" | "url" | "uuid" | "cuid" | "date" | "datetime" | "ipv4"
            | "ipv6" | "base64" | "iso" => Schema::of_type("string"),
            "number" | "float32" | "float64" => Schema::of_type("number"),
            "int" | "bigint" | "int32" | "int64" => Schema::of_type("integer"),
            "boolean" => Schema::of_type("boolean"),
            "null" => Schema::of_type("null"),
            "array" => Schema {
                ty: Some("array".to_owned()),
                items: arg(0).map(|v| Box::new(Schema::from_value(&v, 1))),
                ..Schema::default()
            },
            "object" | "strictObject" | "looseObject" => match arg(0) {
                Some(v) => shape_schema(&v),
                None => Schema::object(Vec::new()),
            },
            "record" | "map" => Schema::of_type("object"),
            "tuple" | "set" => Schema::of_type("array"),
            "enum" | "nativeEnum" => {
                let mut s = Schema::of_type("string");
                match arg(0) {
                    Some(Value::Array(items)) => {
                        s.enum_values = items.iter().filter_map(Value::to_enum_member).collect();
                    }
                    Some(Value::Object(fields)) => {
                        s.enum_values = fields
                            .iter()
                            .filter_map(|(_, v)| v.to_enum_member())
                            .collect();
                    }
                    _ => s.unresolved.push("enum".to_owned()),
                }
                s
            }
            "literal" => {
                let v = arg(0).unwrap_or(Value::Null);
                let mut s = Schema {
                    ty: match &v {
                        Value::Str(_) => Some("string".to_owned()),
                        Value::Num(_) => Some("number".to_owned()),
                        Value::Bool(_) => Some("boolean".to_owned()),
                        _ => None,
                    },
                    ..Schema::default()
                };
                match v.to_enum_member() {
                    Some(m) => s.enum_values.push(m),
                    None => s.unresolved.push("enum".to_owned()),
                }
                s
            }
            "optional" | "nullable" | "nullish" => {
                let mut s = arg(0)
                    .map(|v| Schema::from_value(&v, 1))
                    .unwrap_or_default();
                if kind != "nullable" {
                    s.optional = true;
                }
                s
            }
            _ => Schema::default(),
        }
    }

    fn zod_method(
        &self,
        file: &'w SourceFile,
        mut s: Schema,
        method: &str,
        args: &[Node<'w>],
        depth: usize,
    ) -> Schema {
        let arg = |i: usize| args.get(i).map(|a| self.eval(file, *a, depth));
        match method {
            "describe" => match arg(0) {
                Some(Value::Str(d)) => s.description = Some(d),
                _ => s.unresolved.push("description".to_owned()),
            },
            "meta" => {
                if let Some(v) = arg(0) {
                    match v.get("description") {
                        Some(Value::Str(d)) => s.description = Some(d.clone()),
                        Some(_) => s.unresolved.push("description".to_owned()),
                        None => {}
                    }
                }
            }
            "optional" | "nullish" => s.optional = true,
            "default" | "catch" => {
                s.optional = true;
                match arg(0).and_then(|v| v.to_json()) {
                    Some(j) if method == "default" => s.default = Some(j),
                    Some(_) => {}
                    None => s.unresolved.push("default".to_owned()),
                }
            }
            "int" => s.ty = Some("integer".to_owned()),
            "array" => {
                return Schema {
                    ty: Some("array".to_owned()),
                    items: Some(Box::new(s)),
                    ..Schema::default()
                };
            }
            "or" | "and" => s.ty = None,
            "partial" => {
                for (_, p) in s.properties.iter_mut().flatten() {
                    p.optional = true;
                }
            }
            "extend" | "merge" => {
                let more = match arg(0) {
                    Some(v @ Value::Object(_)) => shape_schema(&v),
                    Some(v) => Schema::from_value(&v, 1),
                    None => Schema::default(),
                };
                s.unresolved.extend(more.unresolved);
                if let Some(extra) = more.properties {
                    let props = s.properties.get_or_insert_with(Vec::new);
                    for (k, v) in extra {
                        props.retain(|(name, _)| name != &k);
                        props.push((k, v));
                    }
                }
            }
            _ => {}
        }
        s
    }

    // ---- receivers ------------------------------------------------------------------------

    fn receiver(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Recv {
        if depth > MAX_EVAL_DEPTH {
            return Recv::Unknown;
        }
        match node.kind() {
            "identifier" => {
                let name = file.text(node);
                self.binding_receiver(self.lookup(file, node, name), depth)
            }
            "member_expression" => {
                let obj = node.child_by_field_name("object");
                let prop = node.child_by_field_name("property").map(|p| file.text(p));
                match (obj, prop) {
                    (Some(o), Some(p)) if o.kind() == "this" => {
                        class_field_receiver(self, file, node, p)
                    }
                    // `mcpServer.server` is the low-level server under an McpServer.
                    (Some(o), Some("server")) if self.receiver(file, o, depth + 1) == Recv::Mcp => {
                        Recv::Mcp
                    }
                    _ => Recv::Unknown,
                }
            }
            "parenthesized_expression" | "non_null_expression" | "as_expression" => {
                syntax::args(node)
                    .first()
                    .map_or(Recv::Unknown, |n| self.receiver(file, *n, depth + 1))
            }
            _ => Recv::Unknown,
        }
    }

    fn binding_receiver(&self, binding: Binding<'w>, depth: usize) -> Recv {
        match binding {
            Binding::Value {
                file, decl, value, ..
            } => {
                if let Some(t) = decl.child_by_field_name("type") {
                    return self.type_receiver(file, t);
                }
                match value {
                    Some(v) if v.kind() == "new_expression" => self.constructed(file, v),
                    Some(v) if matches!(v.kind(), "identifier" | "member_expression") => {
                        self.receiver(file, v, depth + 1)
                    }
                    Some(v) if matches!(v.kind(), "object" | "array" | "string" | "number") => {
                        Recv::NotMcp
                    }
                    _ => Recv::Unknown,
                }
            }
            Binding::Param { file, param } => match param.child_by_field_name("type") {
                Some(t) => self.type_receiver(file, t),
                None => Recv::Unknown,
            },
            Binding::Import {
                file,
                spec,
                imported,
            } => {
                let s = string_value(file, spec);
                if is_sdk_module(&s) {
                    return Recv::Unknown;
                }
                match self.module(file, &s) {
                    Some(m) => match self.export(m, imported, depth + 1) {
                        Some(b) => self.binding_receiver(b, depth + 1),
                        None => Recv::Unknown,
                    },
                    None if s.starts_with('.') => Recv::Unknown,
                    None => Recv::NotMcp,
                }
            }
            Binding::Code => Recv::NotMcp,
            Binding::Loop => Recv::Unknown,
            Binding::None => Recv::Unknown,
        }
    }

    /// `new X(...)`: an MCP server when X is the SDK's `McpServer` or `Server`.
    fn constructed(&self, file: &'w SourceFile, new_expr: Node<'w>) -> Recv {
        let Some(ctor) = new_expr.child_by_field_name("constructor") else {
            return Recv::Unknown;
        };
        if self.is_sdk_server_class(file, ctor) {
            Recv::Mcp
        } else {
            Recv::NotMcp
        }
    }

    fn is_sdk_server_class(&self, file: &'w SourceFile, ctor: Node<'w>) -> bool {
        let name = match ctor.kind() {
            "identifier" => file.text(ctor),
            "member_expression" => {
                return ctor
                    .child_by_field_name("property")
                    .is_some_and(|p| matches!(file.text(p), "McpServer" | "Server"))
                    && ctor
                        .child_by_field_name("object")
                        .is_some_and(|o| self.imported_from_sdk(file, o));
            }
            _ => return false,
        };
        matches!(name, "McpServer" | "Server") && self.imported_from_sdk(file, ctor)
    }

    fn imported_from_sdk(&self, file: &'w SourceFile, ident: Node<'w>) -> bool {
        match self.lookup(file, ident, file.text(ident)) {
            Binding::Import { file: f, spec, .. } => is_sdk_module(&string_value(f, spec)),
            _ => false,
        }
    }

    /// A type annotation: `McpServer` (or the SDK's `Server`) is an MCP server; any other
    /// named type is not.
    fn type_receiver(&self, file: &'w SourceFile, annotation: Node<'w>) -> Recv {
        let named: Vec<Node<'w>> = syntax::descendants(annotation, 64)
            .into_iter()
            .filter(|n| n.kind() == "type_identifier")
            .collect();
        if named.iter().any(|n| {
            let t = file.text(*n);
            t == "McpServer" || (t == "Server" && self.type_from_sdk(file, *n))
        }) {
            Recv::Mcp
        } else if named.is_empty() {
            Recv::Unknown
        } else {
            Recv::NotMcp
        }
    }

    fn type_from_sdk(&self, file: &'w SourceFile, node: Node<'w>) -> bool {
        match self.in_block(file, file.root(), file.text(node)) {
            Some(Binding::Import { file: f, spec, .. }) => is_sdk_module(&string_value(f, spec)),
            _ => false,
        }
    }
}

/// `this.x` inside a class: an MCP server when the class declares `x: McpServer` or assigns
/// `this.x = new McpServer(...)`.
fn class_field_receiver<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    at: Node<'w>,
    field: &str,
) -> Recv {
    let mut cur = at;
    let body = loop {
        match cur.parent() {
            Some(p) if p.kind() == "class_body" => break p,
            Some(p) => cur = p,
            None => return Recv::Unknown,
        }
    };
    for member in syntax::named_children(body) {
        if matches!(
            member.kind(),
            "public_field_definition" | "field_definition"
        ) {
            let name = member
                .child_by_field_name("name")
                .or_else(|| member.child_by_field_name("property"));
            if name.is_some_and(|n| file.text(n) == field) {
                if let Some(t) = member.child_by_field_name("type") {
                    return ev.type_receiver(file, t);
                }
                if let Some(v) = member.child_by_field_name("value")
                    && v.kind() == "new_expression"
                {
                    return ev.constructed(file, v);
                }
            }
        }
    }
    for node in syntax::descendants(body, MAX_NODES_PER_FILE) {
        if node.kind() != "assignment_expression" {
            continue;
        }
        let left = node.child_by_field_name("left");
        let right = node.child_by_field_name("right");
        if let (Some(l), Some(r)) = (left, right)
            && l.kind() == "member_expression"
            && l.child_by_field_name("object")
                .is_some_and(|o| o.kind() == "this")
            && l.child_by_field_name("property")
                .is_some_and(|p| file.text(p) == field)
            && r.kind() == "new_expression"
        {
            return ev.constructed(file, r);
        }
    }
    Recv::Unknown
}

/// CommonJS: `const x = require("m")` (a namespace) and `const { a, b: c } = require("m")`.
fn require_binding<'w>(file: &'w SourceFile, decl: Node<'w>, name: &str) -> Option<Binding<'w>> {
    let value = decl.child_by_field_name("value")?;
    if value.kind() != "call_expression"
        || value.child_by_field_name("function").map(|f| file.text(f)) != Some("require")
    {
        return None;
    }
    let spec = value
        .child_by_field_name("arguments")
        .map(syntax::args)
        .and_then(|a| a.first().copied())
        .filter(|a| a.kind() == "string")?;
    let pattern = decl.child_by_field_name("name")?;
    let imported = match pattern.kind() {
        "identifier" if file.text(pattern) == name => "*",
        "object_pattern" => {
            syntax::named_children(pattern)
                .into_iter()
                .find_map(|p| match p.kind() {
                    "shorthand_property_identifier_pattern" if file.text(p) == name => {
                        Some(file.text(p))
                    }
                    "pair_pattern"
                        if p.child_by_field_name("value")
                            .is_some_and(|v| file.text(v) == name) =>
                    {
                        p.child_by_field_name("key").map(|k| file.text(k))
                    }
                    _ => None,
                })?
        }
        _ => return None,
    };
    Some(Binding::Import {
        file,
        spec,
        imported,
    })
}

/// The binding an import statement gives `name`, if any.
fn import_binding<'w>(file: &'w SourceFile, stmt: Node<'w>, name: &str) -> Option<Binding<'w>> {
    let spec = stmt.child_by_field_name("source")?;
    let clause = syntax::named_children(stmt)
        .into_iter()
        .find(|c| c.kind() == "import_clause")?;
    for part in syntax::named_children(clause) {
        match part.kind() {
            "identifier" if file.text(part) == name => {
                return Some(Binding::Import {
                    file,
                    spec,
                    imported: "default",
                });
            }
            "namespace_import"
                if syntax::named_children(part)
                    .iter()
                    .any(|n| file.text(*n) == name) =>
            {
                return Some(Binding::Import {
                    file,
                    spec,
                    imported: "*",
                });
            }
            "named_imports" => {
                for s in syntax::named_children(part) {
                    let imported = s.child_by_field_name("name").map(|n| file.text(n));
                    let local = s
                        .child_by_field_name("alias")
                        .map(|n| file.text(n))
                        .or(imported);
                    if local == Some(name)
                        && let Some(imported) = imported
                    {
                        return Some(Binding::Import {
                            file,
                            spec,
                            imported,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// The parameter node binding `name` in a parameter list (TypeScript `required_parameter` /
/// `optional_parameter`, JavaScript bare identifiers and defaults).
fn param_named<'w>(file: &SourceFile, params: Node<'w>, name: &str) -> Option<Node<'w>> {
    syntax::named_children(params).into_iter().find(|p| {
        let pattern = match p.kind() {
            "required_parameter" | "optional_parameter" => p.child_by_field_name("pattern"),
            "assignment_pattern" => p.child_by_field_name("left"),
            "identifier" => Some(*p),
            _ => None,
        };
        pattern.is_some_and(|n| n.kind() == "identifier" && file.text(n) == name)
    })
}

/// Whether a `let`/`var` name is assigned anywhere in the file after its declaration.
fn reassigned(file: &SourceFile, name: &str) -> bool {
    syntax::descendants(file.root(), MAX_NODES_PER_FILE)
        .into_iter()
        .any(|n| {
            matches!(
                n.kind(),
                "assignment_expression" | "augmented_assignment_expression"
            ) && n
                .child_by_field_name("left")
                .is_some_and(|l| l.kind() == "identifier" && file.text(l) == name)
        })
}

/// A zod raw shape (`{ a: z.string() }`) or a JSON-schema literal, as an object schema.
fn shape_schema(v: &Value) -> Schema {
    match v {
        Value::Object(fields) if is_json_schema(v) => {
            let _ = fields;
            Schema::from_json_schema(v, 0)
        }
        Value::Object(fields) => Schema::object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), Schema::from_value(v, 1)))
                .collect(),
        ),
        other => Schema::from_value(other, 0),
    }
}

fn is_json_schema(v: &Value) -> bool {
    v.get("properties").is_some() || matches!(v.get("type"), Some(Value::Str(t)) if t == "object")
}

/// Whether an evaluated argument is a zod raw shape (every value a schema), as the SDK's
/// `tool()` decides between a parameter shape and annotations.
fn is_raw_shape(v: &Value) -> bool {
    match v {
        Value::Object(fields) => fields.iter().all(|(_, v)| matches!(v, Value::Schema(_))),
        Value::Schema(_) => true,
        _ => false,
    }
}

fn short(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 60 {
        format!("{}…", one_line.chars().take(60).collect::<String>())
    } else {
        one_line
    }
}

fn is_function(node: Node<'_>) -> bool {
    matches!(
        node.kind(),
        "arrow_function"
            | "function_expression"
            | "function"
            | "identifier"
            | "member_expression"
            | "call_expression"
    )
}

// ---- registrations ------------------------------------------------------------------------

const METHODS: &[&str] = &[
    "tool",
    "registerTool",
    "prompt",
    "registerPrompt",
    "resource",
    "registerResource",
    "setRequestHandler",
];

pub(super) fn extract(ws: &Workspace, file: &SourceFile, out: &mut Collector) {
    let ev = Eval { ws };
    for node in syntax::descendants(file.root(), MAX_NODES_PER_FILE) {
        match node.kind() {
            "new_expression" => server_info(&ev, file, node, out),
            "call_expression" => {
                let Some(callee) = node.child_by_field_name("function") else {
                    continue;
                };
                if callee.kind() != "member_expression" {
                    continue;
                }
                let (Some(obj), Some(prop)) = (
                    callee.child_by_field_name("object"),
                    callee.child_by_field_name("property"),
                ) else {
                    continue;
                };
                let method = file.text(prop);
                if !METHODS.contains(&method) {
                    continue;
                }
                let args = node
                    .child_by_field_name("arguments")
                    .map(syntax::args)
                    .unwrap_or_default();
                let recv = ev.receiver(file, obj, 0);
                if recv == Recv::NotMcp
                    || (recv == Recv::Unknown && !sdk_shaped(file, method, &args))
                {
                    continue;
                }
                registration(&ev, file, node, method, &args, out);
            }
            _ => {}
        }
    }
}

/// Whether a call on an unknown receiver has the shape of the SDK method: a name first, then
/// the method's arguments, ending in a handler.
fn sdk_shaped(file: &SourceFile, method: &str, args: &[Node<'_>]) -> bool {
    let named_first = args.first().is_some_and(|a| {
        matches!(
            a.kind(),
            "string" | "template_string" | "identifier" | "member_expression"
        )
    });
    let handler_last = args.last().is_some_and(|a| is_function(*a));
    match method {
        "registerTool" | "registerPrompt" => {
            args.len() == 3
                && named_first
                && handler_last
                && !matches!(args[1].kind(), "string" | "number")
        }
        "registerResource" => args.len() == 4 && named_first && handler_last,
        "tool" | "prompt" => (2..=5).contains(&args.len()) && named_first && handler_last,
        "resource" => (3..=4).contains(&args.len()) && named_first && handler_last,
        "setRequestHandler" => args
            .first()
            .is_some_and(|a| LIST_SCHEMAS.contains(&file.text(*a))),
        _ => false,
    }
}

const LIST_SCHEMAS: &[&str] = &[
    "ListToolsRequestSchema",
    "ListPromptsRequestSchema",
    "ListResourcesRequestSchema",
    "ListResourceTemplatesRequestSchema",
];

fn registration<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    call: Node<'w>,
    method: &str,
    args: &[Node<'w>],
    out: &mut Collector,
) {
    if method == "setRequestHandler" {
        list_handler(ev, file, call, args, out);
        return;
    }
    let Some(name_node) = args.first() else {
        return;
    };
    let kind = match method {
        "tool" | "registerTool" => "tool",
        "prompt" | "registerPrompt" => "prompt",
        _ => "resource",
    };
    let name = match ev.eval(file, *name_node, 0) {
        Value::Str(s) => s,
        Value::Unknown(why) => {
            out.unresolved(file, call, format!("{kind} name is not literal: {why}"));
            return;
        }
        _ => {
            out.unresolved(file, call, format!("{kind} name is not a string"));
            return;
        }
    };
    let rest = &args[1..args.len().saturating_sub(1).max(1)];
    match method {
        "registerTool" => {
            let config = rest
                .first()
                .map_or(Value::Object(Vec::new()), |c| ev.eval(file, *c, 0));
            let tool = tool_from_config(name, &config, location(file, call));
            note_unresolved(
                file,
                call,
                "tool",
                &tool.name,
                &tool.unresolved_fields,
                &config,
                out,
            );
            out.tools.push(tool);
        }
        "tool" => {
            let tool = legacy_tool(ev, file, call, name, rest, out);
            out.tools.push(tool);
        }
        "registerPrompt" => {
            let config = rest
                .first()
                .map_or(Value::Object(Vec::new()), |c| ev.eval(file, *c, 0));
            let prompt = prompt_from_config(name, &config, location(file, call));
            note_unresolved(
                file,
                call,
                "prompt",
                &prompt.name,
                &prompt.unresolved_fields,
                &config,
                out,
            );
            out.prompts.push(prompt);
        }
        "prompt" => {
            let prompt = legacy_prompt(ev, file, call, name, rest, out);
            out.prompts.push(prompt);
        }
        _ => resource(ev, file, call, name, &args[1..], out),
    }
}

/// Records one unresolved entry per unresolved field of an item.
fn note_unresolved(
    file: &SourceFile,
    at: Node<'_>,
    kind: &str,
    name: &str,
    fields: &[String],
    config: &Value,
    out: &mut Collector,
) {
    if let Value::Unknown(why) = config {
        out.unresolved(
            file,
            at,
            format!("{kind} `{name}`: definition is not literal: {why}"),
        );
        return;
    }
    for f in fields {
        let top = f.split('.').next().unwrap_or(f);
        let key = match top {
            "input" => "inputSchema",
            "output" => "outputSchema",
            "arguments" => "argsSchema",
            other => other,
        };
        match config.get(key) {
            Some(Value::Unknown(why)) => {
                out.unresolved(
                    file,
                    at,
                    format!("{kind} `{name}`: {f} is not literal: {why}"),
                );
            }
            _ => out.unresolved(file, at, format!("{kind} `{name}`: {f} is not literal")),
        }
    }
}

fn opt_str(v: Option<&Value>, field: &str, unresolved: &mut Vec<String>) -> Option<String> {
    match v {
        Some(Value::Str(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(_) => {
            unresolved.push(field.to_owned());
            None
        }
    }
}

fn annotations_from(v: Option<&Value>, unresolved: &mut Vec<String>) -> Annotations {
    let mut a = Annotations::default();
    let Some(v) = v else {
        return a;
    };
    if v.is_unknown() {
        unresolved.push("annotations".to_owned());
        return a;
    }
    let mut hint = |key: &str| match v.get(key) {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Null) | None => None,
        Some(_) => {
            unresolved.push(format!("annotations.{key}"));
            None
        }
    };
    a.read_only = hint("readOnlyHint");
    a.destructive = hint("destructiveHint");
    a.idempotent = hint("idempotentHint");
    a.open_world = hint("openWorldHint");
    a.title = opt_str(v.get("title"), "annotations.title", unresolved);
    a
}

/// The properties of an input or output schema value (zod object, raw shape or JSON schema).
fn schema_params(v: &Value, field: &str, unresolved: &mut Vec<String>) -> Vec<Param> {
    let schema = shape_schema(v);
    if let Value::Unknown(_) = v {
        unresolved.push(field.to_owned());
        return Vec::new();
    }
    unresolved.extend(schema.unresolved_paths(field));
    schema.params()
}

/// A tool from a `registerTool` config or a low-level tool object.
fn tool_from_config(name: String, config: &Value, loc: crate::mcp::surface::Location) -> Tool {
    let mut unresolved = Vec::new();
    if config.is_unknown() {
        unresolved.push("definition".to_owned());
    }
    let input = config
        .get("inputSchema")
        .map(|v| schema_params(v, "input", &mut unresolved))
        .unwrap_or_default();
    let output = config
        .get("outputSchema")
        .map(|v| schema_params(v, "output", &mut unresolved));
    Tool {
        title: opt_str(config.get("title"), "title", &mut unresolved),
        description: opt_str(config.get("description"), "description", &mut unresolved),
        annotations: annotations_from(config.get("annotations"), &mut unresolved),
        name,
        input,
        output,
        location: loc,
        unresolved_fields: unresolved,
    }
}

/// `server.tool(name, [description], [paramsSchema], [annotations], handler)`.
fn legacy_tool<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    call: Node<'w>,
    name: String,
    rest: &[Node<'w>],
    out: &mut Collector,
) -> Tool {
    let mut values: Vec<Value> = rest.iter().map(|n| ev.eval(file, *n, 0)).collect();
    let mut unresolved = Vec::new();
    let mut description = None;
    if let Some(Value::Str(_)) = values.first() {
        if let Value::Str(d) = values.remove(0) {
            description = Some(d);
        }
    } else if rest.first().is_some_and(|n| !matches!(n.kind(), "object")) && !values.is_empty() {
        // A non-literal second argument is a description computed at run time.
        if let Some(Value::Unknown(_)) = values.first() {
            unresolved.push("description".to_owned());
            values.remove(0);
        }
    }
    let mut input = Vec::new();
    let mut annotations = Annotations::default();
    let mut took_input = false;
    for v in &values {
        if !took_input && is_raw_shape(v) {
            input = schema_params(v, "input", &mut unresolved);
            took_input = true;
        } else if let Value::Object(_) = v {
            annotations = annotations_from(Some(v), &mut unresolved);
        } else if v.is_unknown() {
            unresolved.push(if took_input { "annotations" } else { "input" }.to_owned());
        }
    }
    for f in &unresolved {
        out.unresolved(file, call, format!("tool `{name}`: {f} is not literal"));
    }
    Tool {
        name,
        title: None,
        description,
        input,
        output: None,
        annotations,
        location: location(file, call),
        unresolved_fields: unresolved,
    }
}

fn prompt_from_config(name: String, config: &Value, loc: crate::mcp::surface::Location) -> Prompt {
    let mut unresolved = Vec::new();
    if config.is_unknown() {
        unresolved.push("definition".to_owned());
    }
    let arguments = config
        .get("argsSchema")
        .map(|v| schema_params(v, "arguments", &mut unresolved))
        .unwrap_or_default();
    Prompt {
        title: opt_str(config.get("title"), "title", &mut unresolved),
        description: opt_str(config.get("description"), "description", &mut unresolved),
        name,
        arguments,
        location: loc,
        unresolved_fields: unresolved,
    }
}

/// `server.prompt(name, [description], [argsSchema], handler)`.
fn legacy_prompt<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    call: Node<'w>,
    name: String,
    rest: &[Node<'w>],
    out: &mut Collector,
) -> Prompt {
    let mut unresolved = Vec::new();
    let mut description = None;
    let mut arguments = Vec::new();
    for (i, n) in rest.iter().enumerate() {
        match ev.eval(file, *n, 0) {
            Value::Str(s) if i == 0 => description = Some(s),
            v @ (Value::Object(_) | Value::Schema(_)) => {
                arguments = schema_params(&v, "arguments", &mut unresolved);
            }
            Value::Unknown(_) => {
                unresolved.push(if i == 0 { "description" } else { "arguments" }.to_owned());
            }
            _ => {}
        }
    }
    for f in &unresolved {
        out.unresolved(file, call, format!("prompt `{name}`: {f} is not literal"));
    }
    Prompt {
        name,
        title: None,
        description,
        arguments,
        location: location(file, call),
        unresolved_fields: unresolved,
    }
}

/// `resource(name, uriOrTemplate, [metadata], handler)` and `registerResource(name,
/// uriOrTemplate, config, handler)`.
fn resource<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    call: Node<'w>,
    name: String,
    rest: &[Node<'w>],
    out: &mut Collector,
) {
    let Some(target) = rest.first() else {
        return;
    };
    let (uri, template) = if target.kind() == "new_expression" {
        let first = target
            .child_by_field_name("arguments")
            .map(syntax::args)
            .and_then(|a| a.first().copied());
        (first.map(|f| ev.eval(file, f, 0)), true)
    } else {
        (Some(ev.eval(file, *target, 0)), false)
    };
    let Some(Value::Str(uri)) = uri else {
        out.unresolved(file, call, format!("resource `{name}`: URI is not literal"));
        return;
    };
    let mut unresolved = Vec::new();
    let meta = if rest.len() >= 3 {
        ev.eval(file, rest[1], 0)
    } else {
        Value::Object(Vec::new())
    };
    if meta.is_unknown() {
        unresolved.push("metadata".to_owned());
    }
    let res = Resource {
        uri,
        template,
        name: Some(name.clone()),
        title: opt_str(meta.get("title"), "title", &mut unresolved),
        description: opt_str(meta.get("description"), "description", &mut unresolved),
        mime_type: opt_str(meta.get("mimeType"), "mimeType", &mut unresolved),
        location: location(file, call),
        unresolved_fields: unresolved,
    };
    for f in &res.unresolved_fields {
        out.unresolved(file, call, format!("resource `{name}`: {f} is not literal"));
    }
    out.resources.push(res);
}

/// `setRequestHandler(ListToolsRequestSchema, handler)`: the literal lists the handler
/// returns.
fn list_handler<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    call: Node<'w>,
    args: &[Node<'w>],
    out: &mut Collector,
) {
    let (Some(schema), Some(handler)) = (args.first(), args.get(1)) else {
        return;
    };
    let which = file.text(*schema);
    let Some(key) = (match which {
        "ListToolsRequestSchema" => Some("tools"),
        "ListPromptsRequestSchema" => Some("prompts"),
        "ListResourcesRequestSchema" => Some("resources"),
        "ListResourceTemplatesRequestSchema" => Some("resourceTemplates"),
        _ => None,
    }) else {
        return;
    };
    let returned = returned_values(*handler);
    if returned.is_empty() {
        out.unresolved(
            file,
            call,
            format!("{which} handler returns no literal list"),
        );
        return;
    }
    for ret in returned {
        let value = ev.eval(file, ret, 0);
        let list = match value.get(key) {
            Some(Value::Array(items)) => items.clone(),
            Some(Value::Unknown(why)) => {
                out.unresolved(
                    file,
                    ret,
                    format!("{which} handler's `{key}` is not literal: {why}"),
                );
                continue;
            }
            _ => {
                out.unresolved(
                    file,
                    ret,
                    format!("{which} handler returns no literal `{key}` list"),
                );
                continue;
            }
        };
        for item in list {
            list_item(file, ret, key, &item, out);
        }
    }
}

fn list_item(file: &SourceFile, at: Node<'_>, key: &str, item: &Value, out: &mut Collector) {
    let name = match (key, item.get("name")) {
        (_, Some(Value::Str(n))) => n.clone(),
        ("resources", _) | ("resourceTemplates", _) => String::new(),
        _ => {
            out.unresolved(file, at, format!("an item of `{key}` has no literal name"));
            return;
        }
    };
    let loc = location(file, at);
    match key {
        "tools" => {
            let tool = tool_from_config(name, item, loc);
            note_unresolved(
                file,
                at,
                "tool",
                &tool.name,
                &tool.unresolved_fields,
                item,
                out,
            );
            out.tools.push(tool);
        }
        "prompts" => {
            let mut unresolved = Vec::new();
            let arguments = match item.get("arguments") {
                Some(Value::Array(args)) => args.iter().filter_map(prompt_argument).collect(),
                Some(_) => {
                    unresolved.push("arguments".to_owned());
                    Vec::new()
                }
                None => Vec::new(),
            };
            let prompt = Prompt {
                title: opt_str(item.get("title"), "title", &mut unresolved),
                description: opt_str(item.get("description"), "description", &mut unresolved),
                name,
                arguments,
                location: loc,
                unresolved_fields: unresolved,
            };
            note_unresolved(
                file,
                at,
                "prompt",
                &prompt.name,
                &prompt.unresolved_fields,
                item,
                out,
            );
            out.prompts.push(prompt);
        }
        _ => {
            let uri_key = if key == "resources" {
                "uri"
            } else {
                "uriTemplate"
            };
            let Some(Value::Str(uri)) = item.get(uri_key) else {
                out.unresolved(
                    file,
                    at,
                    format!("an item of `{key}` has no literal {uri_key}"),
                );
                return;
            };
            let mut unresolved = Vec::new();
            let res = Resource {
                uri: uri.clone(),
                template: key == "resourceTemplates",
                name: (!name.is_empty()).then_some(name),
                title: opt_str(item.get("title"), "title", &mut unresolved),
                description: opt_str(item.get("description"), "description", &mut unresolved),
                mime_type: opt_str(item.get("mimeType"), "mimeType", &mut unresolved),
                location: loc,
                unresolved_fields: unresolved,
            };
            out.resources.push(res);
        }
    }
}

fn prompt_argument(v: &Value) -> Option<Param> {
    Some(Param {
        name: v.get("name")?.as_str()?.to_owned(),
        ty: None,
        required: v.get("required").and_then(Value::as_bool).unwrap_or(false),
        description: v
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        enum_values: Vec::new(),
        default: None,
    })
}

/// The expressions a handler function returns: an arrow's expression body, or the arguments
/// of the `return` statements of its own body (not of nested functions).
fn returned_values(handler: Node<'_>) -> Vec<Node<'_>> {
    if !matches!(
        handler.kind(),
        "arrow_function" | "function_expression" | "function"
    ) {
        return Vec::new();
    }
    let Some(body) = handler.child_by_field_name("body") else {
        return Vec::new();
    };
    if body.kind() != "statement_block" {
        return vec![body];
    }
    let mut out = Vec::new();
    let mut stack = vec![body];
    while let Some(n) = stack.pop() {
        for child in syntax::named_children(n) {
            match child.kind() {
                "return_statement" => out.extend(syntax::args(child).first().copied()),
                "arrow_function"
                | "function_expression"
                | "function"
                | "function_declaration"
                | "class_declaration" => {}
                _ => stack.push(child),
            }
        }
    }
    out
}

/// `new McpServer({ name, ... }, { instructions })` and the low-level `new Server(...)`.
fn server_info<'w>(ev: &Eval<'w>, file: &'w SourceFile, node: Node<'w>, out: &mut Collector) {
    let Some(ctor) = node.child_by_field_name("constructor") else {
        return;
    };
    if !ev.is_sdk_server_class(file, ctor) {
        return;
    }
    let args = node
        .child_by_field_name("arguments")
        .map(syntax::args)
        .unwrap_or_default();
    let info = args.first().map(|a| ev.eval(file, *a, 0));
    let opts = args.get(1).map(|a| ev.eval(file, *a, 0));
    let name = info
        .as_ref()
        .and_then(|i| i.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let instructions = match opts.as_ref().and_then(|o| o.get("instructions")) {
        Some(Value::Str(s)) => Some(s.clone()),
        Some(Value::Unknown(why)) => {
            out.unresolved(
                file,
                node,
                format!("server instructions are not literal: {why}"),
            );
            None
        }
        _ => None,
    };
    if info
        .as_ref()
        .is_some_and(|i| matches!(i.get("name"), Some(Value::Unknown(_))))
    {
        out.unresolved(file, node, "server name is not literal");
    }
    out.server(file, node, name, instructions);
}
