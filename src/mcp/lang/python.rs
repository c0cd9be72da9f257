//! Python: FastMCP (`mcp.server.fastmcp.FastMCP`, the 2.x `mcp.server.mcpserver.MCPServer`,
//! the standalone `fastmcp` package) decorators `@mcp.tool()`, `@mcp.tool(name=…,
//! description=…, annotations=…)`, `@mcp.prompt`, `@mcp.resource("uri")`, with descriptions
//! from keyword arguments or docstrings and parameters from type hints (`Annotated[…,
//! Field(description=…)]`, `= Field(…)`, defaults, `Literal[…]`, pydantic models); and the
//! low-level `types.Tool(...)`, `types.Prompt(...)`, `types.Resource(...)`,
//! `types.ResourceTemplate(...)` literals.
//!
//! Values resolve through module constants, `+` and implicit concatenation, `dedent`, `join`,
//! and modules imported relatively (or by a package path that exists in the tree).

use tree_sitter::Node;

use super::{Collector, Item, clean_doc, dedent, location};
use crate::mcp::source::{Workspace, dir_of};
use crate::mcp::surface::{Annotations, Param, Prompt, Resource, Tool};
use crate::mcp::syntax::{self, MAX_EVAL_DEPTH, MAX_NODES_PER_FILE, SourceFile, unescape};
use crate::mcp::value::{Schema, Value};

fn is_sdk_module(module: &str) -> bool {
    module == "mcp"
        || module.starts_with("mcp.")
        || module == "fastmcp"
        || module.starts_with("fastmcp.")
}

/// The dotted module names a file imports, with the number of leading dots (relative level).
fn imports(file: &SourceFile) -> Vec<(usize, String, Node<'_>)> {
    let mut out = Vec::new();
    for node in syntax::named_children(file.root()) {
        collect_imports(file, node, &mut out);
    }
    // Imports inside functions (`def build_server(): from mcp... import ...`).
    for node in syntax::descendants(file.root(), MAX_NODES_PER_FILE) {
        if node.kind() == "import_from_statement"
            && node.parent().is_some_and(|p| p.kind() != "module")
        {
            collect_imports(file, node, &mut out);
        }
    }
    out
}

fn collect_imports<'f>(
    file: &'f SourceFile,
    node: Node<'f>,
    out: &mut Vec<(usize, String, Node<'f>)>,
) {
    match node.kind() {
        "import_statement" => {
            for name in syntax::named_children(node) {
                let dotted = if name.kind() == "aliased_import" {
                    name.child_by_field_name("name")
                } else {
                    Some(name)
                };
                if let Some(d) = dotted {
                    out.push((0, file.text(d).to_owned(), node));
                }
            }
        }
        "import_from_statement" => {
            let Some(module) = node.child_by_field_name("module_name") else {
                return;
            };
            let (level, dotted) = module_spec(file, module);
            out.push((level, dotted.clone(), node));
            // `from . import x` / `from pkg import mod`: each name may be a module.
            for name in named_imports(file, node) {
                let full = if dotted.is_empty() {
                    name.0.to_owned()
                } else {
                    format!("{dotted}.{}", name.0)
                };
                out.push((level, full, node));
            }
        }
        _ => {}
    }
}

/// `(level, "a.b")` of a `module_name` node (`..a.b` is level 2).
fn module_spec(file: &SourceFile, module: Node<'_>) -> (usize, String) {
    if module.kind() == "relative_import" {
        let mut level = 0;
        let mut dotted = String::new();
        for c in syntax::named_children(module) {
            match c.kind() {
                "import_prefix" => level = file.text(c).chars().filter(|c| *c == '.').count(),
                "dotted_name" => dotted = file.text(c).to_owned(),
                _ => {}
            }
        }
        (level, dotted)
    } else {
        (0, file.text(module).to_owned())
    }
}

/// The `(imported, local)` names of a `from … import …` statement.
fn named_imports<'f>(file: &'f SourceFile, stmt: Node<'f>) -> Vec<(&'f str, &'f str)> {
    let module = stmt.child_by_field_name("module_name");
    let mut out = Vec::new();
    for c in syntax::named_children(stmt) {
        if Some(c) == module {
            continue;
        }
        match c.kind() {
            "dotted_name" => {
                let t = file.text(c);
                out.push((t, t));
            }
            "aliased_import" => {
                if let (Some(n), Some(a)) = (
                    c.child_by_field_name("name"),
                    c.child_by_field_name("alias"),
                ) {
                    out.push((file.text(n), file.text(a)));
                }
            }
            _ => {}
        }
    }
    out
}

pub(super) fn uses_sdk(file: &SourceFile) -> bool {
    imports(file)
        .iter()
        .any(|(level, module, _)| *level == 0 && is_sdk_module(module))
}

/// Candidate paths of a module: relative to the file for `from .x`, else from each ancestor
/// directory of the file (a package path that exists in the tree).
fn module_paths(from: &str, level: usize, dotted: &str) -> Vec<String> {
    let rel = dotted.replace('.', "/");
    let mut bases: Vec<String> = Vec::new();
    if level > 0 {
        let mut dir = dir_of(from).to_owned();
        for _ in 1..level {
            dir = dir_of(&dir).to_owned();
        }
        bases.push(dir);
    } else {
        let mut dir = dir_of(from).to_owned();
        loop {
            bases.push(dir.clone());
            if dir.is_empty() {
                break;
            }
            dir = dir_of(&dir).to_owned();
        }
    }
    let mut out = Vec::new();
    for base in bases {
        let join = |tail: &str| {
            if base.is_empty() {
                tail.to_owned()
            } else if tail.is_empty() {
                base.clone()
            } else {
                format!("{base}/{tail}")
            }
        };
        if rel.is_empty() {
            out.push(join("__init__.py"));
        } else {
            out.push(join(&format!("{rel}.py")));
            out.push(join(&format!("{rel}/__init__.py")));
        }
    }
    out
}

pub(super) fn related_files(file: &SourceFile, exists: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for (level, module, _) in imports(file) {
        if level == 0 && is_sdk_module(&module) {
            continue;
        }
        if let Some(p) = module_paths(&file.path, level, &module)
            .into_iter()
            .find(|p| exists(p))
        {
            out.push(p);
        }
    }
    out
}

/// The decoded value of a `string` node; `None` for an f-string with interpolations.
fn string_value(file: &SourceFile, node: Node<'_>) -> Option<String> {
    let children = syntax::named_children(node);
    let start = children.iter().find(|c| c.kind() == "string_start")?;
    let end = children.iter().rev().find(|c| c.kind() == "string_end")?;
    if children.iter().any(|c| c.kind() == "interpolation") {
        return None;
    }
    let prefix = file.text(*start).to_ascii_lowercase();
    let body = file
        .src
        .get(start.end_byte()..end.start_byte())
        .unwrap_or("");
    Some(if prefix.contains('r') {
        body.to_owned()
    } else {
        unescape(body)
    })
}

#[derive(Clone, Copy)]
enum Binding<'w> {
    Value {
        file: &'w SourceFile,
        value: Node<'w>,
    },
    Param {
        file: &'w SourceFile,
        param: Node<'w>,
    },
    /// `from module import name` (name `*` for `import module as x`).
    Import {
        file: &'w SourceFile,
        stmt: Node<'w>,
        imported: &'w str,
    },
    Code {
        file: &'w SourceFile,
        node: Node<'w>,
    },
    None,
}

struct Eval<'w> {
    ws: &'w Workspace,
}

impl<'w> Eval<'w> {
    /// The binding of `name` at `at`: enclosing function bodies, then the module.
    fn lookup(&self, file: &'w SourceFile, at: Node<'w>, name: &str) -> Binding<'w> {
        let mut cur = at;
        while let Some(parent) = cur.parent() {
            match parent.kind() {
                "module" => return self.in_block(file, parent, name).unwrap_or(Binding::None),
                "function_definition" => {
                    if let Some(body) = parent.child_by_field_name("body")
                        && let Some(b) = self.in_block(file, body, name)
                    {
                        return b;
                    }
                    if let Some(params) = parent.child_by_field_name("parameters")
                        && let Some(p) = syntax::named_children(params)
                            .into_iter()
                            .find(|p| param_name(file, *p) == Some(name))
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

    fn in_block(&self, file: &'w SourceFile, block: Node<'w>, name: &str) -> Option<Binding<'w>> {
        let mut found = None;
        for stmt in syntax::named_children(block) {
            match stmt.kind() {
                "expression_statement" => {
                    for a in syntax::named_children(stmt) {
                        if a.kind() == "assignment"
                            && a.child_by_field_name("left")
                                .is_some_and(|l| l.kind() == "identifier" && file.text(l) == name)
                            && let Some(v) = a.child_by_field_name("right")
                        {
                            // A name assigned twice is whatever the last assignment says at
                            // import time; an assignment in a branch is not seen here.
                            found = Some(Binding::Value { file, value: v });
                        }
                    }
                }
                "import_from_statement" => {
                    for (imported, local) in named_imports(file, stmt) {
                        if local == name {
                            found = Some(Binding::Import {
                                file,
                                stmt,
                                imported,
                            });
                        }
                    }
                }
                "import_statement" => {
                    for n in syntax::named_children(stmt) {
                        if n.kind() == "aliased_import"
                            && n.child_by_field_name("alias")
                                .is_some_and(|a| file.text(a) == name)
                        {
                            found = Some(Binding::Import {
                                file,
                                stmt,
                                imported: "*",
                            });
                        }
                    }
                }
                "function_definition" | "class_definition" | "decorated_definition" => {
                    let def = if stmt.kind() == "decorated_definition" {
                        stmt.child_by_field_name("definition")
                    } else {
                        Some(stmt)
                    };
                    if let Some(d) = def
                        && d.child_by_field_name("name")
                            .is_some_and(|n| file.text(n) == name)
                    {
                        found = Some(Binding::Code { file, node: d });
                    }
                }
                _ => {}
            }
        }
        found
    }

    /// The module an import statement names, if it is in the workspace.
    fn module_of(
        &self,
        file: &SourceFile,
        stmt: Node<'_>,
        imported: &str,
    ) -> Option<&'w SourceFile> {
        let (level, dotted) = match stmt.kind() {
            "import_from_statement" => {
                let m = stmt.child_by_field_name("module_name")?;
                let (level, dotted) = module_spec(file, m);
                if imported == "*" {
                    (level, dotted)
                } else {
                    // `from . import consts` names a module; `from .consts import X` a value.
                    let sub = if dotted.is_empty() {
                        imported.to_owned()
                    } else {
                        format!("{dotted}.{imported}")
                    };
                    if let Some(f) = module_paths(&file.path, level, &sub)
                        .into_iter()
                        .find_map(|p| self.ws.file(&p))
                    {
                        return Some(f);
                    }
                    (level, dotted)
                }
            }
            _ => {
                let n = syntax::named_children(stmt)
                    .into_iter()
                    .find(|n| n.kind() == "aliased_import")?
                    .child_by_field_name("name")?;
                (0, file.text(n).to_owned())
            }
        };
        module_paths(&file.path, level, &dotted)
            .into_iter()
            .find_map(|p| self.ws.file(&p))
    }

    fn eval(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        if depth > MAX_EVAL_DEPTH {
            return Value::unknown("nested too deep to evaluate");
        }
        let d = depth + 1;
        match node.kind() {
            "string" => string_value(file, node).map_or_else(
                || Value::unknown("an f-string with run-time values"),
                Value::Str,
            ),
            "concatenated_string" => {
                let mut out = String::new();
                for part in syntax::named_children(node) {
                    match self.eval(file, part, d) {
                        Value::Str(s) => out.push_str(&s),
                        other => return other,
                    }
                }
                Value::Str(out)
            }
            "integer" | "float" => Value::Num(file.text(node).replace('_', "")),
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "none" => Value::Null,
            "parenthesized_expression" => syntax::args(node)
                .first()
                .map_or(Value::Null, |n| self.eval(file, *n, d)),
            "binary_operator" => {
                let op = node.child_by_field_name("operator").map(|o| file.text(o));
                let l = node
                    .child_by_field_name("left")
                    .map(|l| self.eval(file, l, d));
                let r = node
                    .child_by_field_name("right")
                    .map(|r| self.eval(file, r, d));
                match (op, l, r) {
                    (Some("+"), Some(Value::Str(a)), Some(Value::Str(b))) => Value::Str(a + &b),
                    (_, Some(Value::Unknown(w)), _) | (_, _, Some(Value::Unknown(w))) => {
                        Value::Unknown(w)
                    }
                    _ => Value::unknown("computed at run time"),
                }
            }
            "unary_operator" => match (
                node.child_by_field_name("operator").map(|o| file.text(o)),
                node.child_by_field_name("argument")
                    .map(|a| self.eval(file, a, d)),
            ) {
                (Some("-"), Some(Value::Num(n))) => Value::Num(format!("-{n}")),
                _ => Value::unknown("computed at run time"),
            },
            "identifier" => self.identifier(file, node, d),
            "attribute" => self.attribute(file, node, d),
            "dictionary" => {
                let mut fields = Vec::new();
                for pair in syntax::args(node) {
                    if pair.kind() != "pair" {
                        fields.push(("...".to_owned(), Value::unknown("a dictionary splat")));
                        continue;
                    }
                    let key = pair
                        .child_by_field_name("key")
                        .map(|k| self.eval(file, k, d));
                    let value = pair
                        .child_by_field_name("value")
                        .map(|v| self.eval(file, v, d));
                    if let (Some(Value::Str(k)), Some(v)) = (key, value) {
                        fields.push((k, v));
                    }
                }
                Value::Object(fields)
            }
            "list" | "tuple" => Value::Array(
                syntax::args(node)
                    .into_iter()
                    .map(|e| self.eval(file, e, d))
                    .collect(),
            ),
            "call" => self.call(file, node, d),
            "lambda" => Value::unknown("a function, run at run time"),
            other => Value::unknown(format!("a `{other}` expression")),
        }
    }

    fn identifier(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        let name = file.text(node);
        let b = self.lookup(file, node, name);
        self.binding_value(b, name, depth)
    }

    fn binding_value(&self, b: Binding<'w>, name: &str, depth: usize) -> Value {
        match b {
            Binding::Value { file, value } => self.eval(file, value, depth),
            Binding::Param { .. } => Value::unknown(format!("`{name}` is a function parameter")),
            Binding::Import {
                file,
                stmt,
                imported,
            } => match self.module_of(file, stmt, imported) {
                Some(m) if imported != "*" => match self.in_block(m, m.root(), imported) {
                    Some(b) => self.binding_value(b, imported, depth + 1),
                    None => Value::unknown(format!("`{imported}` is not a constant of {}", m.path)),
                },
                Some(_) => Value::unknown(format!("`{name}` is a module")),
                None => Value::unknown(format!("`{name}` is imported from outside the tree")),
            },
            Binding::Code { .. } => Value::unknown(format!("`{name}` is code, run at run time")),
            Binding::None => Value::unknown(format!("`{name}` is not defined in this file")),
        }
    }

    /// `module.NAME` on an imported module.
    fn attribute(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        let (Some(obj), Some(attr)) = (
            node.child_by_field_name("object"),
            node.child_by_field_name("attribute"),
        ) else {
            return Value::unknown("incomplete expression");
        };
        let key = file.text(attr);
        // `GitTools.STATUS` on `class GitTools(str, Enum): STATUS = "git_status"`.
        if let Some((cf, class)) = self.class_of(file, obj)
            && let Some(body) = class.child_by_field_name("body")
        {
            return match self.in_block(cf, body, key) {
                Some(b) => self.binding_value(b, key, depth),
                None => Value::unknown(format!("`{}` is not a class constant", file.text(node))),
            };
        }
        // `TimeTools.GET_CURRENT_TIME.value`: an enum member's value is what it was assigned.
        if key == "value" && obj.kind() == "attribute" {
            let member = self.eval(file, obj, depth);
            if matches!(member, Value::Str(_) | Value::Num(_)) {
                return member;
            }
        }
        if obj.kind() == "identifier"
            && let Binding::Import {
                file: f,
                stmt,
                imported,
            } = self.lookup(file, obj, file.text(obj))
        {
            let module = self.module_of(f, stmt, imported);
            return match module.and_then(|m| self.in_block(m, m.root(), key)) {
                Some(b) => self.binding_value(b, key, depth),
                None => Value::unknown(format!(
                    "`{}` is not a constant in the tree",
                    file.text(node)
                )),
            };
        }
        match self.eval(file, obj, depth) {
            base @ Value::Object(_) => base
                .get(key)
                .cloned()
                .unwrap_or_else(|| Value::unknown("no such key")),
            Value::Unknown(w) => Value::Unknown(w),
            _ => Value::unknown(format!("`{}` is computed at run time", file.text(node))),
        }
    }

    /// The class an identifier names, in this file or a module imported from the tree.
    fn class_of(&self, file: &'w SourceFile, node: Node<'w>) -> Option<(&'w SourceFile, Node<'w>)> {
        if node.kind() != "identifier" {
            return None;
        }
        let name = file.text(node);
        match self.lookup(file, node, name) {
            Binding::Code { file: f, node: n } if n.kind() == "class_definition" => Some((f, n)),
            Binding::Import {
                file: f,
                stmt,
                imported,
            } if imported != "*" => {
                let m = self.module_of(f, stmt, imported)?;
                match self.in_block(m, m.root(), imported)? {
                    Binding::Code { file: mf, node: n } if n.kind() == "class_definition" => {
                        Some((mf, n))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn call(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        let Some(func) = node.child_by_field_name("function") else {
            return Value::unknown("incomplete call");
        };
        let args = node
            .child_by_field_name("arguments")
            .map(syntax::args)
            .unwrap_or_default();
        let first = || args.first().map(|a| self.eval(file, *a, depth));
        let name = callee_name(file, func);
        // `Model.model_json_schema()`: the schema of a pydantic model of the tree.
        if name == "model_json_schema"
            && let Some(obj) = func.child_by_field_name("object")
            && self.class_of(file, obj).is_some()
        {
            let schema = model_schema(self, file, obj, file.text(obj), 0);
            return Value::Schema(Box::new(schema));
        }
        match name {
            "dedent" => match first() {
                Some(Value::Str(s)) => Value::Str(dedent(&s)),
                other => other.unwrap_or_else(|| Value::unknown("empty call")),
            },
            "cleandoc" => match first() {
                Some(Value::Str(s)) => Value::Str(clean_doc(&s)),
                other => other.unwrap_or_else(|| Value::unknown("empty call")),
            },
            "join" if func.kind() == "attribute" => {
                let sep = func
                    .child_by_field_name("object")
                    .map(|o| self.eval(file, o, depth));
                match (sep, first()) {
                    (Some(Value::Str(sep)), Some(Value::Array(items))) => {
                        let parts: Option<Vec<String>> = items
                            .iter()
                            .map(|v| v.as_str().map(str::to_owned))
                            .collect();
                        parts.map_or_else(
                            || Value::unknown("joins values not known statically"),
                            |p| Value::Str(p.join(&sep)),
                        )
                    }
                    _ => Value::unknown("joined at run time"),
                }
            }
            "strip" if func.kind() == "attribute" => {
                match func
                    .child_by_field_name("object")
                    .map(|o| self.eval(file, o, depth))
                {
                    Some(Value::Str(s)) => Value::Str(s.trim().to_owned()),
                    _ => Value::unknown("computed at run time"),
                }
            }
            "ToolAnnotations" | "Field" | "PromptArgument" | "dict" => {
                self.kwargs(file, node, depth)
            }
            _ => Value::unknown(format!(
                "computed at run time by `{}(…)`",
                short(file.text(func))
            )),
        }
    }

    /// A call's keyword arguments as an object (`ToolAnnotations(read_only_hint=True)`).
    fn kwargs(&self, file: &'w SourceFile, call: Node<'w>, depth: usize) -> Value {
        let mut fields = Vec::new();
        for a in call
            .child_by_field_name("arguments")
            .map(syntax::args)
            .unwrap_or_default()
        {
            if a.kind() == "keyword_argument"
                && let (Some(n), Some(v)) = (
                    a.child_by_field_name("name"),
                    a.child_by_field_name("value"),
                )
            {
                fields.push((file.text(n).to_owned(), self.eval(file, v, depth)));
            }
        }
        Value::Object(fields)
    }

    /// Whether `node` (a call's callee) names a class of the SDK: `types.Tool`, `Tool`
    /// imported from `mcp.types`, `FastMCP`, ...
    fn sdk_name(&self, file: &'w SourceFile, func: Node<'w>, names: &[&str]) -> bool {
        let last = callee_name(file, func);
        if !names.contains(&last) {
            return false;
        }
        let root = match func.kind() {
            "identifier" => func,
            "attribute" => {
                let mut o = func;
                while o.kind() == "attribute" {
                    match o.child_by_field_name("object") {
                        Some(x) => o = x,
                        None => return false,
                    }
                }
                o
            }
            _ => return false,
        };
        if root.kind() != "identifier" {
            return false;
        }
        match self.lookup(file, root, file.text(root)) {
            Binding::Import { file: f, stmt, .. } => {
                let module = match stmt.kind() {
                    "import_from_statement" => stmt
                        .child_by_field_name("module_name")
                        .map(|m| module_spec(f, m))
                        .filter(|(level, _)| *level == 0)
                        .map(|(_, d)| d),
                    _ => syntax::named_children(stmt)
                        .into_iter()
                        .find(|n| {
                            n.kind() == "aliased_import"
                                && n.child_by_field_name("alias")
                                    .is_some_and(|a| f.text(a) == f.text(root))
                        })
                        .and_then(|n| n.child_by_field_name("name"))
                        .map(|n| f.text(n).to_owned()),
                };
                module.is_some_and(|m| is_sdk_module(&m))
            }
            // `import mcp.types` binds `mcp`.
            Binding::None => matches!(file.text(root), "mcp" | "fastmcp") && uses_sdk(file),
            _ => false,
        }
    }
}

fn callee_name<'f>(file: &'f SourceFile, func: Node<'f>) -> &'f str {
    match func.kind() {
        "attribute" => func
            .child_by_field_name("attribute")
            .map_or("", |a| file.text(a)),
        _ => file.text(func),
    }
}

fn param_name<'f>(file: &'f SourceFile, p: Node<'f>) -> Option<&'f str> {
    match p.kind() {
        "identifier" => Some(file.text(p)),
        "typed_parameter" => syntax::named_children(p)
            .into_iter()
            .find(|c| c.kind() == "identifier")
            .map(|c| file.text(c)),
        "default_parameter" | "typed_default_parameter" => {
            p.child_by_field_name("name").map(|n| file.text(n))
        }
        _ => None,
    }
}

fn short(text: &str) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one.chars().take(60).collect()
}

// ---- definitions --------------------------------------------------------------------------

const SERVER_CLASSES: &[&str] = &["FastMCP", "MCPServer", "Server"];

/// What a decorator's receiver is.
#[derive(PartialEq, Eq)]
enum Recv {
    Mcp,
    NotMcp,
    Unknown,
}

fn receiver<'w>(ev: &Eval<'w>, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Recv {
    if depth > 8 || node.kind() != "identifier" {
        return Recv::Unknown;
    }
    match ev.lookup(file, node, file.text(node)) {
        Binding::Value { file: f, value } if value.kind() == "call" => {
            match value.child_by_field_name("function") {
                Some(func) if ev.sdk_name(f, func, SERVER_CLASSES) => Recv::Mcp,
                Some(_) => Recv::NotMcp,
                None => Recv::Unknown,
            }
        }
        Binding::Value { file: f, value } if value.kind() == "identifier" => {
            receiver(ev, f, value, depth + 1)
        }
        Binding::Value { .. } | Binding::Code { .. } => Recv::NotMcp,
        Binding::Param { file: f, param } => match param.child_by_field_name("type") {
            Some(t) if SERVER_CLASSES.iter().any(|c| f.text(t).contains(c)) => Recv::Mcp,
            Some(_) => Recv::NotMcp,
            None => Recv::Unknown,
        },
        Binding::Import {
            file: f,
            stmt,
            imported,
        } if imported != "*" => {
            match ev
                .module_of(f, stmt, imported)
                .and_then(|m| ev.in_block(m, m.root(), imported).map(|b| (m, b)))
            {
                Some((m, Binding::Value { value, .. })) if value.kind() == "call" => {
                    match value.child_by_field_name("function") {
                        Some(func) if ev.sdk_name(m, func, SERVER_CLASSES) => Recv::Mcp,
                        _ => Recv::NotMcp,
                    }
                }
                _ => Recv::Unknown,
            }
        }
        _ => Recv::Unknown,
    }
}

pub(super) fn extract(ws: &Workspace, file: &SourceFile, out: &mut Collector) {
    let ev = Eval { ws };
    let root_file = uses_sdk(file);
    for node in syntax::descendants(file.root(), MAX_NODES_PER_FILE) {
        match node.kind() {
            "decorated_definition" => decorated(&ev, file, node, root_file, out),
            "call" => {
                let Some(func) = node.child_by_field_name("function") else {
                    continue;
                };
                let name = callee_name(file, func);
                match name {
                    "Tool" | "Prompt" | "Resource" | "ResourceTemplate"
                        if ev.sdk_name(file, func, &[name]) =>
                    {
                        low_level(&ev, file, node, name, out);
                    }
                    "FastMCP" | "MCPServer" | "Server"
                        if ev.sdk_name(file, func, SERVER_CLASSES) =>
                    {
                        server_info(&ev, file, node, out);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

fn server_info<'w>(ev: &Eval<'w>, file: &'w SourceFile, call: Node<'w>, out: &mut Collector) {
    let a = CallArgs::of(ev, file, call);
    let name = a.get(0, "name").and_then(|v| v.as_str().map(str::to_owned));
    let instructions = match a.get(usize::MAX, "instructions") {
        Some(Value::Str(s)) => Some(s),
        Some(Value::Unknown(why)) => {
            out.unresolved(
                file,
                call,
                format!("server instructions are not literal: {why}"),
            );
            None
        }
        _ => None,
    };
    out.server(file, call, name, instructions);
}

/// A call's arguments, evaluated: positional and keyword.
struct CallArgs {
    positional: Vec<Value>,
    keyword: Vec<(String, Value)>,
}

impl CallArgs {
    fn of<'w>(ev: &Eval<'w>, file: &'w SourceFile, call: Node<'w>) -> Self {
        let mut positional = Vec::new();
        let mut keyword = Vec::new();
        for a in call
            .child_by_field_name("arguments")
            .map(syntax::args)
            .unwrap_or_default()
        {
            if a.kind() == "keyword_argument" {
                if let (Some(n), Some(v)) = (
                    a.child_by_field_name("name"),
                    a.child_by_field_name("value"),
                ) {
                    keyword.push((file.text(n).to_owned(), ev.eval(file, v, 0)));
                }
            } else {
                positional.push(ev.eval(file, a, 0));
            }
        }
        Self {
            positional,
            keyword,
        }
    }

    /// The argument at position `pos` or by keyword `name`.
    fn get(&self, pos: usize, name: &str) -> Option<Value> {
        self.keyword
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| self.positional.get(pos).cloned())
    }
}

fn text_arg(
    a: &CallArgs,
    pos: usize,
    names: &[&str],
    field: &str,
    unresolved: &mut Vec<String>,
) -> Option<String> {
    let v = names
        .iter()
        .find_map(|n| a.get(pos, n))
        .or_else(|| a.get(pos, ""));
    match v {
        Some(Value::Str(s)) => Some(s),
        Some(Value::Null) | None => None,
        Some(_) => {
            unresolved.push(field.to_owned());
            None
        }
    }
}

fn annotations_of(v: Option<Value>, unresolved: &mut Vec<String>) -> Annotations {
    let mut a = Annotations::default();
    let Some(v) = v else {
        return a;
    };
    if v.is_unknown() {
        unresolved.push("annotations".to_owned());
        return a;
    }
    let hint = |camel: &str, snake: &str| {
        v.get(camel)
            .or_else(|| v.get(snake))
            .and_then(Value::as_bool)
    };
    a.read_only = hint("readOnlyHint", "read_only_hint");
    a.destructive = hint("destructiveHint", "destructive_hint");
    a.idempotent = hint("idempotentHint", "idempotent_hint");
    a.open_world = hint("openWorldHint", "open_world_hint");
    a.title = v.get("title").and_then(Value::as_str).map(str::to_owned);
    a
}

/// `@x.tool(...)`, `@x.prompt(...)`, `@x.resource(...)` on a function.
fn decorated<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    node: Node<'w>,
    root_file: bool,
    out: &mut Collector,
) {
    let Some(def) = node.child_by_field_name("definition") else {
        return;
    };
    if def.kind() != "function_definition" {
        return;
    }
    for dec in syntax::named_children(node) {
        if dec.kind() != "decorator" {
            continue;
        }
        if let Some((kind, call)) = sdk_decorator(ev, file, dec, root_file) {
            let args = call.map_or(
                CallArgs {
                    positional: Vec::new(),
                    keyword: Vec::new(),
                },
                |c| CallArgs::of(ev, file, c),
            );
            definition(ev, file, dec, def, kind, &args, out);
        }
    }
}

/// The kind (`tool`, `prompt`, `resource`) and call of a decorator on an MCP server.
fn sdk_decorator<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    dec: Node<'w>,
    root_file: bool,
) -> Option<(&'w str, Option<Node<'w>>)> {
    let expr = syntax::args(dec).first().copied()?;
    let (target, call) = if expr.kind() == "call" {
        (expr.child_by_field_name("function")?, Some(expr))
    } else {
        (expr, None)
    };
    if target.kind() != "attribute" {
        return None;
    }
    let kind = file.text(target.child_by_field_name("attribute")?);
    if !matches!(kind, "tool" | "prompt" | "resource") {
        return None;
    }
    match receiver(ev, file, target.child_by_field_name("object")?, 0) {
        Recv::Mcp => Some((kind, call)),
        Recv::Unknown if root_file => Some((kind, call)),
        _ => None,
    }
}

/// A keyword argument as text.
fn kw(a: &CallArgs, key: &str, field: &str, unresolved: &mut Vec<String>) -> Option<String> {
    text_arg(a, usize::MAX, &[key], field, unresolved)
}

/// The tool, prompt or resource a decorated function defines.
fn definition<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    dec: Node<'w>,
    def: Node<'w>,
    kind: &str,
    args: &CallArgs,
    out: &mut Collector,
) {
    let fn_name = def
        .child_by_field_name("name")
        .map_or("", |n| file.text(n))
        .to_owned();
    let doc = docstring(file, def);
    let mut unresolved = Vec::new();
    let params = function_params(ev, file, def, &mut unresolved);
    let loc = location(file, dec);
    match kind {
        "tool" => {
            let tool = Tool {
                name: text_arg(args, 0, &["name"], "name", &mut unresolved).unwrap_or(fn_name),
                description: kw(args, "description", "description", &mut unresolved).or(doc),
                title: kw(args, "title", "title", &mut unresolved),
                annotations: annotations_of(args.get(usize::MAX, "annotations"), &mut unresolved),
                input: params,
                output: None,
                location: loc,
                unresolved_fields: unresolved,
            };
            out.add(file, dec, Item::Tool(tool));
        }
        "prompt" => {
            let prompt = Prompt {
                name: text_arg(args, 0, &["name"], "name", &mut unresolved).unwrap_or(fn_name),
                title: kw(args, "title", "title", &mut unresolved),
                description: kw(args, "description", "description", &mut unresolved).or(doc),
                arguments: params,
                location: loc,
                unresolved_fields: unresolved,
            };
            out.add(file, dec, Item::Prompt(prompt));
        }
        _ => {
            let Some(uri) = text_arg(args, 0, &["uri"], "uri", &mut unresolved) else {
                out.unresolved(
                    file,
                    dec,
                    format!("resource `{fn_name}`: URI is not literal"),
                );
                return;
            };
            let res = Resource {
                template: uri.contains('{'),
                uri,
                name: Some(kw(args, "name", "name", &mut unresolved).unwrap_or(fn_name)),
                title: kw(args, "title", "title", &mut unresolved),
                description: kw(args, "description", "description", &mut unresolved).or(doc),
                mime_type: kw(args, "mime_type", "mimeType", &mut unresolved),
                location: loc,
                unresolved_fields: unresolved,
            };
            out.add(file, dec, Item::Resource(res));
        }
    }
}

/// A function's docstring, cleaned like `inspect.cleandoc`.
fn docstring(file: &SourceFile, def: Node<'_>) -> Option<String> {
    let body = def.child_by_field_name("body")?;
    let first = syntax::args(body).into_iter().next()?;
    if first.kind() != "expression_statement" {
        return None;
    }
    let s = syntax::args(first).into_iter().next()?;
    if s.kind() != "string" {
        return None;
    }
    string_value(file, s)
        .map(|d| clean_doc(&d))
        .filter(|d| !d.is_empty())
}

/// Parameters that FastMCP does not expose: the context, `self`, splats.
fn hidden_param(file: &SourceFile, p: Node<'_>, name: &str) -> bool {
    if matches!(name, "self" | "cls") {
        return true;
    }
    if matches!(
        p.kind(),
        "list_splat_pattern"
            | "dictionary_splat_pattern"
            | "keyword_separator"
            | "positional_separator"
    ) {
        return true;
    }
    p.child_by_field_name("type").is_some_and(|t| {
        let text = file.text(t);
        text == "Context"
            || text.starts_with("Context[")
            || text.ends_with(".Context")
            || text == "ServerSession"
    })
}

fn function_params<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    def: Node<'w>,
    unresolved: &mut Vec<String>,
) -> Vec<Param> {
    let Some(params) = def.child_by_field_name("parameters") else {
        return Vec::new();
    };
    let mut props: Vec<(String, Schema)> = Vec::new();
    for p in syntax::named_children(params) {
        let Some(name) = param_name(file, p) else {
            continue;
        };
        if hidden_param(file, p, name) {
            continue;
        }
        let mut s = p
            .child_by_field_name("type")
            .map(|t| type_schema(ev, file, t, 0))
            .unwrap_or_default();
        if let Some(v) = p.child_by_field_name("value") {
            apply_default(ev, file, v, &mut s);
        }
        props.push((name.to_owned(), s));
    }
    let schema = Schema::object(props);
    unresolved.extend(schema.unresolved_paths("input"));
    schema.params()
}

/// `= Field(description=…, default=…)` or a plain default.
fn apply_default<'w>(ev: &Eval<'w>, file: &'w SourceFile, v: Node<'w>, s: &mut Schema) {
    if v.kind() == "call"
        && v.child_by_field_name("function")
            .is_some_and(|f| callee_name(file, f) == "Field")
    {
        apply_field(ev, file, v, s);
        return;
    }
    s.optional = true;
    match ev.eval(file, v, 0).to_json() {
        Some(j) => s.default = Some(j),
        None => s.unresolved.push("default".to_owned()),
    }
}

/// `Field(...)` keyword arguments onto a schema.
fn apply_field<'w>(ev: &Eval<'w>, file: &'w SourceFile, call: Node<'w>, s: &mut Schema) {
    let a = CallArgs::of(ev, file, call);
    match a.get(usize::MAX, "description") {
        Some(Value::Str(d)) => s.description = Some(d),
        Some(_) => s.unresolved.push("description".to_owned()),
        None => {}
    }
    let default = a.get(0, "default");
    match default {
        // `Field(...)`: the Ellipsis marks a required field.
        Some(Value::Unknown(ref why)) if why.contains("ellipsis") => {}
        Some(v) => {
            s.optional = true;
            match v.to_json() {
                Some(j) => s.default = Some(j),
                None => s.unresolved.push("default".to_owned()),
            }
        }
        None => {
            if a.get(usize::MAX, "default_factory").is_some() {
                s.optional = true;
            }
        }
    }
}

/// The schema of a type hint.
fn type_schema<'w>(ev: &Eval<'w>, file: &'w SourceFile, t: Node<'w>, depth: usize) -> Schema {
    if depth > 8 {
        return Schema::default();
    }
    let node = if t.kind() == "type" {
        syntax::args(t).first().copied().unwrap_or(t)
    } else {
        t
    };
    match node.kind() {
        "identifier" | "attribute" => named_type(ev, file, node, depth),
        "none" => Schema::of_type("null"),
        "binary_operator" => {
            // `X | None`: the non-None side.
            let sides: Vec<Node<'w>> = [
                node.child_by_field_name("left"),
                node.child_by_field_name("right"),
            ]
            .into_iter()
            .flatten()
            .filter(|n| n.kind() != "none" && file.text(*n) != "None")
            .collect();
            if sides.len() == 1 {
                type_schema(ev, file, sides[0], depth + 1)
            } else {
                Schema::default()
            }
        }
        "generic_type" | "subscript" => generic_type(ev, file, node, depth),
        _ => Schema::default(),
    }
}

fn type_args<'w>(node: Node<'w>) -> Vec<Node<'w>> {
    if node.kind() == "subscript" {
        return syntax::named_children(node).into_iter().skip(1).collect();
    }
    syntax::named_children(node)
        .into_iter()
        .filter(|c| c.kind() == "type_parameter")
        .flat_map(syntax::named_children)
        .collect()
}

fn generic_type<'w>(ev: &Eval<'w>, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Schema {
    let base = if node.kind() == "subscript" {
        node.child_by_field_name("value")
    } else {
        syntax::named_children(node).first().copied()
    };
    let Some(base) = base else {
        return Schema::default();
    };
    let base_name = match base.kind() {
        "attribute" => base
            .child_by_field_name("attribute")
            .map_or("", |a| file.text(a)),
        _ => file.text(base),
    };
    let args = type_args(node);
    match base_name {
        "Annotated" => {
            let mut s = args
                .first()
                .map(|t| type_schema(ev, file, *t, depth + 1))
                .unwrap_or_default();
            for meta in args.iter().skip(1) {
                let inner = if meta.kind() == "type" {
                    syntax::args(*meta).first().copied()
                } else {
                    Some(*meta)
                };
                if let Some(call) = inner.filter(|c| c.kind() == "call")
                    && call
                        .child_by_field_name("function")
                        .is_some_and(|f| callee_name(file, f) == "Field")
                {
                    apply_field(ev, file, call, &mut s);
                }
            }
            s
        }
        "Optional" => args
            .first()
            .map(|t| type_schema(ev, file, *t, depth + 1))
            .unwrap_or_default(),
        "Union" => {
            let non_null: Vec<Node<'w>> = args
                .iter()
                .copied()
                .filter(|a| file.text(*a) != "None")
                .collect();
            if non_null.len() == 1 {
                type_schema(ev, file, non_null[0], depth + 1)
            } else {
                Schema::default()
            }
        }
        "Literal" => {
            let values: Vec<Value> = args
                .iter()
                .map(|a| {
                    let inner = if a.kind() == "type" {
                        syntax::args(*a).first().copied().unwrap_or(*a)
                    } else {
                        *a
                    };
                    ev.eval(file, inner, 0)
                })
                .collect();
            let mut s = Schema::of_type(match values.first() {
                Some(Value::Num(_)) => "number",
                Some(Value::Bool(_)) => "boolean",
                _ => "string",
            });
            s.enum_values = values.iter().filter_map(Value::to_enum_member).collect();
            s
        }
        "list" | "List" | "Sequence" | "Iterable" | "set" | "Set" | "frozenset" | "tuple"
        | "Tuple" => Schema {
            ty: Some("array".to_owned()),
            items: args
                .first()
                .map(|t| Box::new(type_schema(ev, file, *t, depth + 1))),
            ..Schema::default()
        },
        "dict" | "Dict" | "Mapping" => Schema::of_type("object"),
        _ => Schema::default(),
    }
}

fn named_type<'w>(ev: &Eval<'w>, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Schema {
    let name = match node.kind() {
        "attribute" => node
            .child_by_field_name("attribute")
            .map_or("", |a| file.text(a)),
        _ => file.text(node),
    };
    match name {
        "str" | "bytes" | "datetime" | "date" | "time" | "UUID" | "Path" | "AnyUrl" | "HttpUrl" => {
            Schema::of_type("string")
        }
        "int" => Schema::of_type("integer"),
        "float" | "Decimal" => Schema::of_type("number"),
        "bool" => Schema::of_type("boolean"),
        "list" | "List" | "tuple" | "set" => Schema::of_type("array"),
        "dict" | "Dict" => Schema::of_type("object"),
        "Any" | "object" => Schema::default(),
        _ => model_schema(ev, file, node, name, depth),
    }
}

/// A pydantic model or TypedDict defined in the tree: an object with its fields.
fn model_schema<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    at: Node<'w>,
    name: &str,
    depth: usize,
) -> Schema {
    let class = match ev.lookup(file, at, name) {
        Binding::Code { file: f, node } if node.kind() == "class_definition" => Some((f, node)),
        Binding::Import {
            file: f,
            stmt,
            imported,
        } if imported != "*" => {
            ev.module_of(f, stmt, imported)
                .and_then(|m| match ev.in_block(m, m.root(), imported) {
                    Some(Binding::Code { file: mf, node }) if node.kind() == "class_definition" => {
                        Some((mf, node))
                    }
                    _ => None,
                })
        }
        _ => None,
    };
    let Some((cf, class)) = class else {
        return Schema::default();
    };
    let supers = class
        .child_by_field_name("superclasses")
        .map_or("", |s| cf.text(s));
    if supers.contains("Enum") {
        return Schema::of_type("string");
    }
    let Some(body) = class.child_by_field_name("body") else {
        return Schema::object(Vec::new());
    };
    let mut props = Vec::new();
    for stmt in syntax::named_children(body) {
        if stmt.kind() != "expression_statement" {
            continue;
        }
        for a in syntax::named_children(stmt) {
            if a.kind() != "assignment" {
                continue;
            }
            let (Some(left), Some(ty)) =
                (a.child_by_field_name("left"), a.child_by_field_name("type"))
            else {
                continue;
            };
            let mut s = type_schema(ev, cf, ty, depth + 1);
            if let Some(v) = a.child_by_field_name("right") {
                apply_default(ev, cf, v, &mut s);
            }
            props.push((cf.text(left).to_owned(), s));
        }
    }
    Schema::object(props)
}

/// `types.Tool(name=…, description=…, inputSchema=…)` and the prompt and resource literals.
fn low_level<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    call: Node<'w>,
    kind: &str,
    out: &mut Collector,
) {
    let a = CallArgs::of(ev, file, call);
    let mut unresolved = Vec::new();
    let loc = location(file, call);
    match kind {
        "Tool" => {
            let Some(name) = kw(&a, "name", "name", &mut unresolved) else {
                out.unresolved(file, call, "tool name is not literal");
                return;
            };
            let input = schema_arg(
                &a,
                &["inputSchema", "input_schema"],
                "input",
                &mut unresolved,
            );
            let output = schema_arg(
                &a,
                &["outputSchema", "output_schema"],
                "output",
                &mut unresolved,
            );
            let tool = Tool {
                title: kw(&a, "title", "title", &mut unresolved),
                description: kw(&a, "description", "description", &mut unresolved),
                annotations: annotations_of(a.get(usize::MAX, "annotations"), &mut unresolved),
                name,
                input: input.unwrap_or_default(),
                output,
                location: loc,
                unresolved_fields: unresolved,
            };
            out.add(file, call, Item::Tool(tool));
        }
        "Prompt" => {
            let Some(name) = kw(&a, "name", "name", &mut unresolved) else {
                out.unresolved(file, call, "prompt name is not literal");
                return;
            };
            let prompt = Prompt {
                arguments: prompt_arguments(a.get(usize::MAX, "arguments"), &mut unresolved),
                title: kw(&a, "title", "title", &mut unresolved),
                description: kw(&a, "description", "description", &mut unresolved),
                name,
                location: loc,
                unresolved_fields: unresolved,
            };
            out.add(file, call, Item::Prompt(prompt));
        }
        _ => {
            let template = kind == "ResourceTemplate";
            let keys: &[&str] = if template {
                &["uriTemplate", "uri_template"]
            } else {
                &["uri"]
            };
            let Some(uri) = text_arg(&a, usize::MAX, keys, "uri", &mut unresolved) else {
                out.unresolved(file, call, "resource URI is not literal");
                return;
            };
            let res = Resource {
                uri,
                template,
                name: kw(&a, "name", "name", &mut unresolved),
                title: kw(&a, "title", "title", &mut unresolved),
                description: kw(&a, "description", "description", &mut unresolved),
                mime_type: text_arg(
                    &a,
                    usize::MAX,
                    &["mimeType", "mime_type"],
                    "mimeType",
                    &mut unresolved,
                ),
                location: loc,
                unresolved_fields: unresolved,
            };
            out.add(file, call, Item::Resource(res));
        }
    }
}

/// `arguments=[types.PromptArgument(name=…, description=…, required=…)]`.
fn prompt_arguments(v: Option<Value>, unresolved: &mut Vec<String>) -> Vec<Param> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| {
                Some(Param {
                    name: v.get("name")?.as_str()?.to_owned(),
                    required: v.get("required").and_then(Value::as_bool).unwrap_or(false),
                    description: v
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    ..Param::default()
                })
            })
            .collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(_) => {
            unresolved.push("arguments".to_owned());
            Vec::new()
        }
    }
}

fn schema_arg(
    a: &CallArgs,
    keys: &[&str],
    field: &str,
    unresolved: &mut Vec<String>,
) -> Option<Vec<Param>> {
    let v = keys.iter().find_map(|k| a.get(usize::MAX, k))?;
    Some(schema_params_of(&v, field, unresolved))
}

fn schema_params_of(v: &Value, field: &str, unresolved: &mut Vec<String>) -> Vec<Param> {
    if let Value::Unknown(_) = v {
        unresolved.push(field.to_owned());
        return Vec::new();
    }
    let s = Schema::from_value(v, 0);
    unresolved.extend(s.unresolved_paths(field));
    s.params()
}
