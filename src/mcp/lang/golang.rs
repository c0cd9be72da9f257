//! Go: `mark3labs/mcp-go` (`mcp.NewTool(name, mcp.WithDescription(…), mcp.WithString(…,
//! mcp.Description(…), mcp.Required()))`, prompts, resources, `server.NewMCPServer(name,
//! version, server.WithInstructions(…))`) and the official `modelcontextprotocol/go-sdk`
//! (`&mcp.Tool{Name: …, Description: …}` with `mcp.AddTool`, the input schema inferred from
//! the handler's input struct: `json` names, `jsonschema` descriptions, `omitempty` for
//! optional; prompts, resources, `mcp.NewServer(&mcp.Implementation{…},
//! &mcp.ServerOptions{Instructions: …})`).
//!
//! Values resolve through the constants of the package (the other files of the directory are
//! read too), `+` concatenation, raw strings and `strings.Join` of literals.

use tree_sitter::Node;

use super::{Collector, Item, location};
use crate::mcp::source::{Workspace, dir_of};
use crate::mcp::surface::{Annotations, Param, Prompt, Resource, Tool};
use crate::mcp::syntax::{self, MAX_EVAL_DEPTH, MAX_NODES_PER_FILE, SourceFile, unescape};
use crate::mcp::value::{Schema, Value};

const MARK3LABS: &str = "github.com/mark3labs/mcp-go";
const OFFICIAL: &str = "github.com/modelcontextprotocol/go-sdk";

/// Which SDK a package alias stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sdk {
    /// `github.com/mark3labs/mcp-go/mcp`
    Mark3Mcp,
    /// `github.com/mark3labs/mcp-go/server`
    Mark3Server,
    /// `github.com/modelcontextprotocol/go-sdk/mcp`
    Official,
}

/// The file's imports: (local package name, import path).
fn imports(file: &SourceFile) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for decl in syntax::named_children(file.root()) {
        if decl.kind() != "import_declaration" {
            continue;
        }
        let specs: Vec<Node<'_>> = syntax::descendants(decl, 10_000)
            .into_iter()
            .filter(|n| n.kind() == "import_spec")
            .collect();
        for spec in specs {
            let Some(path) = spec.child_by_field_name("path") else {
                continue;
            };
            let path = string_value(file, path).unwrap_or_default();
            let local = match spec.child_by_field_name("name") {
                Some(n) => file.text(n).to_owned(),
                None => path.rsplit('/').next().unwrap_or("").to_owned(),
            };
            out.push((local, path));
        }
    }
    out
}

fn sdk_of(path: &str) -> Option<Sdk> {
    match path {
        p if p == format!("{MARK3LABS}/mcp") => Some(Sdk::Mark3Mcp),
        p if p == format!("{MARK3LABS}/server") => Some(Sdk::Mark3Server),
        p if p.starts_with(OFFICIAL) && p.ends_with("/mcp") => Some(Sdk::Official),
        _ => None,
    }
}

pub(super) fn uses_sdk(file: &SourceFile) -> bool {
    imports(file).iter().any(|(_, p)| sdk_of(p).is_some())
}

/// The other files of the package (same directory), for its constants and types.
pub(super) fn related_files(file: &SourceFile, paths: &[&str]) -> Vec<String> {
    let dir = dir_of(&file.path);
    paths
        .iter()
        .filter(|p| dir_of(p) == dir && p.ends_with(".go") && **p != file.path)
        .map(|p| (*p).to_owned())
        .collect()
}

fn string_value(file: &SourceFile, node: Node<'_>) -> Option<String> {
    let text = file.text(node);
    let inner = text.get(1..text.len().saturating_sub(1))?;
    match node.kind() {
        "interpreted_string_literal" => Some(unescape(inner)),
        "raw_string_literal" => Some(inner.replace('\r', "")),
        _ => None,
    }
}

struct Eval<'w> {
    /// The files of the package being read (same directory).
    package: Vec<&'w SourceFile>,
}

impl<'w> Eval<'w> {
    fn new(ws: &'w Workspace, file: &SourceFile) -> Self {
        let dir = dir_of(&file.path);
        let package = ws
            .files
            .iter()
            .filter(|f| f.grammar == file.grammar && dir_of(&f.path) == dir)
            .collect();
        Self { package }
    }

    /// The SDK a package-qualified name in `file` refers to.
    fn sdk(&self, file: &SourceFile, pkg: &str) -> Option<Sdk> {
        imports(file)
            .into_iter()
            .find(|(local, _)| local == pkg)
            .and_then(|(_, p)| sdk_of(&p))
    }

    /// `pkg.Name(...)` where pkg is an SDK package: the SDK and the name.
    fn sdk_call<'n>(&self, file: &'n SourceFile, call: Node<'n>) -> Option<(Sdk, &'n str)> {
        let func = call.child_by_field_name("function")?;
        if func.kind() != "selector_expression" {
            return None;
        }
        let operand = func.child_by_field_name("operand")?;
        let field = func.child_by_field_name("field")?;
        if operand.kind() != "identifier" {
            return None;
        }
        Some((self.sdk(file, file.text(operand))?, file.text(field)))
    }

    /// A package-level `const` or `var` named `name`, or a local `:=` in an enclosing block.
    fn lookup(
        &self,
        file: &'w SourceFile,
        at: Node<'w>,
        name: &str,
    ) -> Option<(&'w SourceFile, Node<'w>)> {
        let mut cur = at;
        while let Some(parent) = cur.parent() {
            if parent.kind() == "block" || parent.kind() == "statement_list" {
                for stmt in syntax::named_children(parent) {
                    if stmt.start_byte() >= at.start_byte() {
                        break;
                    }
                    if let Some(v) = spec_value(file, stmt, name) {
                        return Some((file, v));
                    }
                }
            }
            cur = parent;
        }
        for f in &self.package {
            for decl in syntax::named_children(f.root()) {
                if let Some(v) = spec_value(f, decl, name) {
                    return Some((f, v));
                }
            }
        }
        None
    }

    fn eval(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        if depth > MAX_EVAL_DEPTH {
            return Value::unknown("nested too deep to evaluate");
        }
        let d = depth + 1;
        match node.kind() {
            "interpreted_string_literal" | "raw_string_literal" => {
                string_value(file, node).map_or_else(|| Value::unknown("a string"), Value::Str)
            }
            "int_literal" | "float_literal" => Value::Num(file.text(node).replace('_', "")),
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "nil" => Value::Null,
            "parenthesized_expression" | "literal_element" => syntax::args(node)
                .first()
                .map_or(Value::Null, |n| self.eval(file, *n, d)),
            "binary_expression" => {
                let op = node.child_by_field_name("operator").map(|o| file.text(o));
                let l = node
                    .child_by_field_name("left")
                    .map(|n| self.eval(file, n, d));
                let r = node
                    .child_by_field_name("right")
                    .map(|n| self.eval(file, n, d));
                match (op, l, r) {
                    (Some("+"), Some(Value::Str(a)), Some(Value::Str(b))) => Value::Str(a + &b),
                    (_, Some(Value::Unknown(w)), _) | (_, _, Some(Value::Unknown(w))) => {
                        Value::Unknown(w)
                    }
                    _ => Value::unknown("computed at run time"),
                }
            }
            "unary_expression" => {
                let op = node.child_by_field_name("operator").map(|o| file.text(o));
                let arg = node
                    .child_by_field_name("operand")
                    .map(|a| self.eval(file, a, d));
                match (op, arg) {
                    (Some("&"), Some(v)) => v,
                    (Some("-"), Some(Value::Num(n))) => Value::Num(format!("-{n}")),
                    (Some("!"), Some(Value::Bool(b))) => Value::Bool(!b),
                    _ => Value::unknown("computed at run time"),
                }
            }
            "identifier" => {
                let name = file.text(node);
                match self.lookup(file, node, name) {
                    Some((f, v)) => self.eval(f, v, d),
                    None => Value::unknown(format!("`{name}` is not a constant of this package")),
                }
            }
            "composite_literal" | "literal_value" => self.composite(file, node, d),
            "call_expression" => self.call(file, node, d),
            "func_literal" => Value::unknown("a function, run at run time"),
            other => Value::unknown(format!("a `{other}` expression")),
        }
    }

    /// A struct literal as an object (field names as written), a slice or map literal as an
    /// array or object.
    fn composite(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        // An element of a slice or map literal may elide its type: `{Name: "x"}`.
        let body = if node.kind() == "literal_value" {
            Some(node)
        } else {
            node.child_by_field_name("body")
        };
        let Some(body) = body else {
            return Value::unknown("an empty literal");
        };
        let elements = syntax::args(body);
        if elements.iter().all(|e| e.kind() == "keyed_element") && !elements.is_empty() {
            let mut fields = Vec::new();
            for e in elements {
                let kids = syntax::args(e);
                let (Some(k), Some(v)) = (kids.first(), kids.get(1)) else {
                    continue;
                };
                let key_node = syntax::args(*k).first().copied().unwrap_or(*k);
                let key = match key_node.kind() {
                    "identifier" | "field_identifier" => file.text(key_node).to_owned(),
                    _ => match self.eval(file, key_node, depth) {
                        Value::Str(s) => s,
                        _ => continue,
                    },
                };
                fields.push((key, self.eval(file, *v, depth)));
            }
            return Value::Object(fields);
        }
        Value::Array(
            elements
                .into_iter()
                .map(|e| self.eval(file, e, depth))
                .collect(),
        )
    }

    fn call(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        let args = node
            .child_by_field_name("arguments")
            .map(syntax::args)
            .unwrap_or_default();
        let func = node.child_by_field_name("function");
        let func_text = func.map_or("", |f| file.text(f));
        match func_text {
            "strings.Join" => match (
                args.first().map(|a| self.eval(file, *a, depth)),
                args.get(1).map(|a| self.eval(file, *a, depth)),
            ) {
                (Some(Value::Array(items)), Some(Value::Str(sep))) => {
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
            },
            "strings.TrimSpace" => match args.first().map(|a| self.eval(file, *a, depth)) {
                Some(Value::Str(s)) => Value::Str(s.trim().to_owned()),
                _ => Value::unknown("computed at run time"),
            },
            // `ptr(false)`, `jsonschema.Ptr(false)`, `mcp.Ptr(true)`: a pointer to a literal.
            f if (f == "ptr"
                || f.ends_with(".Ptr")
                || f == "boolPtr"
                || f.ends_with(".ToBoolPtr"))
                && args.len() == 1 =>
            {
                self.eval(file, args[0], depth)
            }
            f => Value::unknown(format!("computed at run time by `{f}(…)`")),
        }
    }
}

/// The value expression of a `const`/`var` spec or `:=` declaring `name` (single names).
fn spec_value<'f>(file: &'f SourceFile, decl: Node<'f>, name: &str) -> Option<Node<'f>> {
    match decl.kind() {
        "const_declaration" | "var_declaration" => {
            for spec in syntax::descendants(decl, 10_000) {
                if !matches!(spec.kind(), "const_spec" | "var_spec") {
                    continue;
                }
                let names: Vec<Node<'f>> = syntax::named_children(spec)
                    .into_iter()
                    .filter(|c| c.kind() == "identifier")
                    .collect();
                let values = spec
                    .child_by_field_name("value")
                    .map(syntax::args)
                    .unwrap_or_default();
                if let Some(i) = names.iter().position(|n| file.text(*n) == name) {
                    return values.get(i).copied();
                }
            }
            None
        }
        "short_var_declaration" => {
            let left = decl
                .child_by_field_name("left")
                .map(syntax::args)
                .unwrap_or_default();
            let right = decl
                .child_by_field_name("right")
                .map(syntax::args)
                .unwrap_or_default();
            let i = left.iter().position(|n| file.text(*n) == name)?;
            right.get(i).copied()
        }
        _ => None,
    }
}

/// `reflect.StructTag.Get`: the value of `key` in a struct tag (`json:"name,omitempty"`).
fn tag_get(tag: &str, key: &str) -> Option<String> {
    let mut rest = tag;
    loop {
        rest = rest.trim_start();
        let colon = rest.find(':')?;
        let name = &rest[..colon];
        let after = rest[colon + 1..].strip_prefix('"')?;
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let end = end?;
        if name == key {
            return Some(unescape(&after[..end]));
        }
        rest = &after[end + 1..];
    }
}

// ---- definitions --------------------------------------------------------------------------

pub(super) fn extract(ws: &Workspace, file: &SourceFile, out: &mut Collector) {
    if !uses_sdk(file) {
        return;
    }
    let ev = Eval::new(ws, file);
    for node in syntax::descendants(file.root(), MAX_NODES_PER_FILE) {
        match node.kind() {
            "call_expression" => {
                let Some((sdk, name)) = ev.sdk_call(file, node) else {
                    continue;
                };
                match (sdk, name) {
                    (Sdk::Mark3Mcp, "NewTool") => mark3_tool(&ev, file, node, out),
                    (Sdk::Mark3Mcp, "NewToolWithRawSchema") => mark3_raw_tool(&ev, file, node, out),
                    (Sdk::Mark3Mcp, "NewPrompt") => mark3_prompt(&ev, file, node, out),
                    (Sdk::Mark3Mcp, "NewResource" | "NewResourceTemplate") => {
                        mark3_resource(&ev, file, node, name == "NewResourceTemplate", out);
                    }
                    (Sdk::Mark3Server, "NewMCPServer") => mark3_server(&ev, file, node, out),
                    (Sdk::Official, "AddTool") => official_add_tool(&ev, file, node, out),
                    (Sdk::Official, "NewServer") => official_server(&ev, file, node, out),
                    _ => {}
                }
            }
            "composite_literal" => official_literal(&ev, file, node, out),
            _ => {}
        }
    }
}

/// The option calls of a mark3labs constructor: `(option name, its arguments)`.
fn options<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    args: &[Node<'w>],
) -> Vec<(String, Vec<Node<'w>>, Node<'w>)> {
    args.iter()
        .filter(|a| a.kind() == "call_expression")
        .filter_map(|a| {
            let (_, name) = ev.sdk_call(file, *a)?;
            let inner = a
                .child_by_field_name("arguments")
                .map(syntax::args)
                .unwrap_or_default();
            Some((name.to_owned(), inner, *a))
        })
        .collect()
}

fn str_of<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    node: Option<&Node<'w>>,
    field: &str,
    unresolved: &mut Vec<String>,
) -> Option<String> {
    match node.map(|n| ev.eval(file, *n, 0)) {
        Some(Value::Str(s)) => Some(s),
        None => None,
        Some(_) => {
            unresolved.push(field.to_owned());
            None
        }
    }
}

fn bool_of<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    node: Option<&Node<'w>>,
    field: &str,
    unresolved: &mut Vec<String>,
) -> Option<bool> {
    match node.map(|n| ev.eval(file, *n, 0)) {
        Some(Value::Bool(b)) => Some(b),
        None => None,
        Some(_) => {
            unresolved.push(field.to_owned());
            None
        }
    }
}

/// `mcp.NewTool(name, opts...)`. `NewTool` sets every hint (read-only false, destructive true,
/// idempotent false, open-world true) before applying the options, so they are all declared.
fn mark3_tool<'w>(ev: &Eval<'w>, file: &'w SourceFile, call: Node<'w>, out: &mut Collector) {
    let args = call
        .child_by_field_name("arguments")
        .map(syntax::args)
        .unwrap_or_default();
    let Some(Value::Str(name)) = args.first().map(|a| ev.eval(file, *a, 0)) else {
        out.unresolved(file, call, "tool name is not literal");
        return;
    };
    let mut unresolved = Vec::new();
    let mut annotations = Annotations {
        title: None,
        read_only: Some(false),
        destructive: Some(true),
        idempotent: Some(false),
        open_world: Some(true),
    };
    let mut description = None;
    let mut title = None;
    let mut props: Vec<(String, Schema)> = Vec::new();
    let mut required: Vec<String> = Vec::new();
    for (opt, inner, _) in options(ev, file, &args[1..]) {
        match opt.as_str() {
            "WithDescription" => {
                description = str_of(ev, file, inner.first(), "description", &mut unresolved)
            }
            "WithToolTitle" => title = str_of(ev, file, inner.first(), "title", &mut unresolved),
            "WithTitleAnnotation" => {
                annotations.title = str_of(
                    ev,
                    file,
                    inner.first(),
                    "annotations.title",
                    &mut unresolved,
                )
            }
            "WithReadOnlyHintAnnotation" => {
                annotations.read_only = bool_of(
                    ev,
                    file,
                    inner.first(),
                    "annotations.readOnlyHint",
                    &mut unresolved,
                )
            }
            "WithDestructiveHintAnnotation" => {
                annotations.destructive = bool_of(
                    ev,
                    file,
                    inner.first(),
                    "annotations.destructiveHint",
                    &mut unresolved,
                )
            }
            "WithIdempotentHintAnnotation" => {
                annotations.idempotent = bool_of(
                    ev,
                    file,
                    inner.first(),
                    "annotations.idempotentHint",
                    &mut unresolved,
                )
            }
            "WithOpenWorldHintAnnotation" => {
                annotations.open_world = bool_of(
                    ev,
                    file,
                    inner.first(),
                    "annotations.openWorldHint",
                    &mut unresolved,
                )
            }
            "WithString" | "WithNumber" | "WithInteger" | "WithBoolean" | "WithArray"
            | "WithObject" | "WithAny" => {
                match mark3_property(ev, file, &opt, &inner, &mut required, &mut unresolved) {
                    Some(prop) => props.push(prop),
                    None => unresolved.push("input".to_owned()),
                }
            }
            _ => {}
        }
    }
    let mut schema = Schema::object(props);
    schema.required = Some(required);
    let tool = Tool {
        name,
        title,
        description,
        input: schema.params(),
        output: None,
        annotations,
        location: location(file, call),
        unresolved_fields: unresolved,
    };
    out.add(file, call, Item::Tool(tool));
}

/// One `mcp.WithString(name, opts...)`-style property: its name and schema (`None` when the
/// name is not literal). `Required()` adds the name to `required`.
fn mark3_property<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    opt: &str,
    inner: &[Node<'w>],
    required: &mut Vec<String>,
    unresolved: &mut Vec<String>,
) -> Option<(String, Schema)> {
    let Some(Value::Str(pname)) = inner.first().map(|a| ev.eval(file, *a, 0)) else {
        return None;
    };
    let ty = match opt {
        "WithString" => Some("string"),
        "WithNumber" => Some("number"),
        "WithInteger" => Some("integer"),
        "WithBoolean" => Some("boolean"),
        "WithArray" => Some("array"),
        "WithObject" => Some("object"),
        _ => None,
    };
    let mut s = ty.map(Schema::of_type).unwrap_or_default();
    let field = format!("input.{pname}");
    for (popt, pargs, _) in options(ev, file, &inner[1..]) {
        match popt.as_str() {
            "Description" => {
                s.description = str_of(
                    ev,
                    file,
                    pargs.first(),
                    &format!("{field}.description"),
                    unresolved,
                );
            }
            "Required" => required.push(pname.clone()),
            "Enum" => {
                s.enum_values = pargs
                    .iter()
                    .filter_map(|a| ev.eval(file, *a, 0).to_enum_member())
                    .collect();
            }
            "DefaultString" | "DefaultNumber" | "DefaultBool" | "DefaultArray" => {
                match pargs.first().and_then(|a| ev.eval(file, *a, 0).to_json()) {
                    Some(j) => s.default = Some(j),
                    None => unresolved.push(format!("{field}.default")),
                }
            }
            _ => {}
        }
    }
    Some((pname, s))
}

/// `mcp.NewToolWithRawSchema(name, description, json.RawMessage(`{...}`))`: the JSON text is
/// read as JSON.
fn mark3_raw_tool<'w>(ev: &Eval<'w>, file: &'w SourceFile, call: Node<'w>, out: &mut Collector) {
    let args = call
        .child_by_field_name("arguments")
        .map(syntax::args)
        .unwrap_or_default();
    let Some(Value::Str(name)) = args.first().map(|a| ev.eval(file, *a, 0)) else {
        out.unresolved(file, call, "tool name is not literal");
        return;
    };
    let mut unresolved = Vec::new();
    let description = str_of(ev, file, args.get(1), "description", &mut unresolved);
    // `json.RawMessage(x)` is a conversion: read x.
    let schema_node = args.get(2).map(|a| {
        if a.kind() == "call_expression" || a.kind() == "type_conversion_expression" {
            a.child_by_field_name("arguments")
                .map(syntax::args)
                .and_then(|x| x.first().copied())
                .or_else(|| a.child_by_field_name("operand"))
                .unwrap_or(*a)
        } else {
            *a
        }
    });
    let input = match schema_node.map(|n| ev.eval(file, n, 0)) {
        Some(Value::Str(json)) => match serde_json::from_str::<serde_json::Value>(&json) {
            Ok(v) => {
                let s = Schema::from_value(&from_json(&v), 0);
                s.params()
            }
            Err(_) => {
                unresolved.push("input".to_owned());
                Vec::new()
            }
        },
        _ => {
            unresolved.push("input".to_owned());
            Vec::new()
        }
    };
    let tool = Tool {
        name,
        title: None,
        description,
        input,
        output: None,
        annotations: Annotations::default(),
        location: location(file, call),
        unresolved_fields: unresolved,
    };
    out.add(file, call, Item::Tool(tool));
}

/// A parsed JSON document as a value.
fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Num(n.to_string()),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}

fn mark3_prompt<'w>(ev: &Eval<'w>, file: &'w SourceFile, call: Node<'w>, out: &mut Collector) {
    let args = call
        .child_by_field_name("arguments")
        .map(syntax::args)
        .unwrap_or_default();
    let Some(Value::Str(name)) = args.first().map(|a| ev.eval(file, *a, 0)) else {
        out.unresolved(file, call, "prompt name is not literal");
        return;
    };
    let mut unresolved = Vec::new();
    let mut prompt = Prompt {
        name,
        title: None,
        description: None,
        arguments: Vec::new(),
        location: location(file, call),
        unresolved_fields: Vec::new(),
    };
    for (opt, inner, _) in options(ev, file, &args[1..]) {
        match opt.as_str() {
            "WithPromptDescription" => {
                prompt.description = str_of(ev, file, inner.first(), "description", &mut unresolved)
            }
            "WithPromptTitle" => {
                prompt.title = str_of(ev, file, inner.first(), "title", &mut unresolved)
            }
            "WithArgument" => {
                let Some(Value::Str(aname)) = inner.first().map(|a| ev.eval(file, *a, 0)) else {
                    unresolved.push("arguments".to_owned());
                    continue;
                };
                let mut p = Param {
                    name: aname.clone(),
                    ..Param::default()
                };
                for (aopt, aargs, _) in options(ev, file, &inner[1..]) {
                    match aopt.as_str() {
                        "ArgumentDescription" => {
                            p.description = str_of(
                                ev,
                                file,
                                aargs.first(),
                                &format!("arguments.{aname}.description"),
                                &mut unresolved,
                            )
                        }
                        "RequiredArgument" => p.required = true,
                        _ => {}
                    }
                }
                prompt.arguments.push(p);
            }
            _ => {}
        }
    }
    prompt.unresolved_fields = unresolved;
    out.add(file, call, Item::Prompt(prompt));
}

fn mark3_resource<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    call: Node<'w>,
    template: bool,
    out: &mut Collector,
) {
    let args = call
        .child_by_field_name("arguments")
        .map(syntax::args)
        .unwrap_or_default();
    let Some(Value::Str(uri)) = args.first().map(|a| ev.eval(file, *a, 0)) else {
        out.unresolved(file, call, "resource URI is not literal");
        return;
    };
    let mut unresolved = Vec::new();
    let name = str_of(ev, file, args.get(1), "name", &mut unresolved);
    let mut res = Resource {
        uri,
        template,
        name,
        title: None,
        description: None,
        mime_type: None,
        location: location(file, call),
        unresolved_fields: Vec::new(),
    };
    for (opt, inner, _) in options(ev, file, args.get(2..).unwrap_or(&[])) {
        match opt.as_str() {
            "WithResourceDescription" | "WithTemplateDescription" => {
                res.description = str_of(ev, file, inner.first(), "description", &mut unresolved)
            }
            "WithResourceTitle" | "WithTemplateTitle" => {
                res.title = str_of(ev, file, inner.first(), "title", &mut unresolved)
            }
            "WithMIMEType" | "WithTemplateMIMEType" => {
                res.mime_type = str_of(ev, file, inner.first(), "mimeType", &mut unresolved)
            }
            _ => {}
        }
    }
    res.unresolved_fields = unresolved;
    out.add(file, call, Item::Resource(res));
}

fn mark3_server<'w>(ev: &Eval<'w>, file: &'w SourceFile, call: Node<'w>, out: &mut Collector) {
    let args = call
        .child_by_field_name("arguments")
        .map(syntax::args)
        .unwrap_or_default();
    let mut unresolved = Vec::new();
    let name = str_of(ev, file, args.first(), "server name", &mut unresolved);
    let mut instructions = None;
    for (opt, inner, _) in options(ev, file, args.get(2..).unwrap_or(&[])) {
        if opt == "WithInstructions" {
            instructions = str_of(
                ev,
                file,
                inner.first(),
                "server instructions",
                &mut unresolved,
            );
        }
    }
    for u in unresolved {
        out.unresolved(file, call, format!("{u} is not literal"));
    }
    out.server(file, call, name, instructions);
}

/// The official SDK's `&mcp.Tool{...}`, `&mcp.Prompt{...}`, `&mcp.Resource{...}`,
/// `&mcp.ResourceTemplate{...}` literals.
fn official_literal<'w>(ev: &Eval<'w>, file: &'w SourceFile, node: Node<'w>, out: &mut Collector) {
    let Some(ty) = node.child_by_field_name("type") else {
        return;
    };
    if ty.kind() != "qualified_type" {
        return;
    }
    let (Some(pkg), Some(name)) = (
        ty.child_by_field_name("package"),
        ty.child_by_field_name("name"),
    ) else {
        return;
    };
    if ev.sdk(file, file.text(pkg)) != Some(Sdk::Official) {
        return;
    }
    match file.text(name) {
        // Tools with an inferred schema are read where `mcp.AddTool` binds their handler.
        "Tool" if !added_with_handler(ev, file, node) => {
            let v = ev.eval(file, node, 0);
            official_tool(file, node, &v, None, out);
        }
        "Prompt" => {
            let v = ev.eval(file, node, 0);
            let Some(Value::Str(pname)) = v.get("Name").cloned() else {
                out.unresolved(file, node, "prompt name is not literal");
                return;
            };
            let mut unresolved = Vec::new();
            let arguments = match v.get("Arguments") {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(|a| {
                        Some(Param {
                            name: a.get("Name")?.as_str()?.to_owned(),
                            description: a
                                .get("Description")
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                            required: a.get("Required").and_then(Value::as_bool).unwrap_or(false),
                            ..Param::default()
                        })
                    })
                    .collect(),
                Some(_) => {
                    unresolved.push("arguments".to_owned());
                    Vec::new()
                }
                None => Vec::new(),
            };
            let prompt = Prompt {
                title: text_field(&v, "Title", "title", &mut unresolved),
                description: text_field(&v, "Description", "description", &mut unresolved),
                name: pname,
                arguments,
                location: location(file, node),
                unresolved_fields: unresolved,
            };
            out.add(file, node, Item::Prompt(prompt));
        }
        kind @ ("Resource" | "ResourceTemplate") => {
            let v = ev.eval(file, node, 0);
            let template = kind == "ResourceTemplate";
            let key = if template { "URITemplate" } else { "URI" };
            let Some(Value::Str(uri)) = v.get(key).cloned() else {
                out.unresolved(file, node, "resource URI is not literal");
                return;
            };
            let mut unresolved = Vec::new();
            let res = Resource {
                uri,
                template,
                name: text_field(&v, "Name", "name", &mut unresolved),
                title: text_field(&v, "Title", "title", &mut unresolved),
                description: text_field(&v, "Description", "description", &mut unresolved),
                mime_type: text_field(&v, "MIMEType", "mimeType", &mut unresolved),
                location: location(file, node),
                unresolved_fields: unresolved,
            };
            out.add(file, node, Item::Resource(res));
        }
        _ => {}
    }
}

fn text_field(v: &Value, key: &str, field: &str, unresolved: &mut Vec<String>) -> Option<String> {
    match v.get(key) {
        Some(Value::Str(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(_) => {
            unresolved.push(field.to_owned());
            None
        }
    }
}

/// Whether a `&mcp.Tool{}` literal is the second argument of `mcp.AddTool(server, tool, h)`.
fn added_with_handler<'w>(ev: &Eval<'w>, file: &'w SourceFile, node: Node<'w>) -> bool {
    let mut cur = node;
    while let Some(p) = cur.parent() {
        match p.kind() {
            "unary_expression" | "parenthesized_expression" => cur = p,
            "argument_list" => {
                return p
                    .parent()
                    .filter(|c| c.kind() == "call_expression")
                    .and_then(|c| ev.sdk_call(file, c))
                    .is_some_and(|(sdk, name)| sdk == Sdk::Official && name == "AddTool")
                    && syntax::args(p).get(1).is_some_and(|a| a.id() == cur.id());
            }
            _ => return false,
        }
    }
    false
}

fn official_tool(
    file: &SourceFile,
    at: Node<'_>,
    v: &Value,
    inferred: Option<Vec<Param>>,
    out: &mut Collector,
) {
    let Some(Value::Str(name)) = v.get("Name").cloned() else {
        out.unresolved(file, at, "tool name is not literal");
        return;
    };
    let mut unresolved = Vec::new();
    if v.is_unknown() {
        unresolved.push("definition".to_owned());
    }
    let mut annotations = Annotations::default();
    match v.get("Annotations") {
        Some(a @ Value::Object(_)) => {
            let hint = |k: &str| a.get(k).and_then(Value::as_bool);
            // ReadOnlyHint and IdempotentHint are plain bools (always sent); the others
            // pointers (absent when nil).
            annotations.read_only = Some(hint("ReadOnlyHint").unwrap_or(false));
            annotations.idempotent = Some(hint("IdempotentHint").unwrap_or(false));
            annotations.destructive = hint("DestructiveHint");
            annotations.open_world = hint("OpenWorldHint");
            annotations.title = a.get("Title").and_then(Value::as_str).map(str::to_owned);
        }
        Some(Value::Null) | None => {}
        Some(_) => unresolved.push("annotations".to_owned()),
    }
    let input = match v.get("InputSchema") {
        Some(s @ Value::Object(_)) => Schema::from_json_schema(&json_keys(s), 0).params(),
        Some(Value::Null) | None => inferred.unwrap_or_default(),
        Some(_) => {
            unresolved.push("input".to_owned());
            Vec::new()
        }
    };
    let tool = Tool {
        title: text_field(v, "Title", "title", &mut unresolved),
        description: text_field(v, "Description", "description", &mut unresolved),
        name,
        input,
        output: None,
        annotations,
        location: location(file, at),
        unresolved_fields: unresolved,
    };
    out.add(file, at, Item::Tool(tool));
}

/// A `jsonschema.Schema{Type: ..., Properties: ...}` literal with its Go field names turned
/// into JSON Schema keys.
fn json_keys(v: &Value) -> Value {
    match v {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let key = match k.as_str() {
                        "Type" => "type",
                        "Properties" => "properties",
                        "Required" => "required",
                        "Description" => "description",
                        "Enum" => "enum",
                        "Default" => "default",
                        "Items" => "items",
                        other => other,
                    };
                    (key.to_owned(), json_keys(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(json_keys).collect()),
        other => other.clone(),
    }
}

/// `mcp.AddTool(server, &mcp.Tool{...}, handler)`: the input schema is inferred from the
/// handler's input struct when the tool declares none.
fn official_add_tool<'w>(ev: &Eval<'w>, file: &'w SourceFile, call: Node<'w>, out: &mut Collector) {
    let args = call
        .child_by_field_name("arguments")
        .map(syntax::args)
        .unwrap_or_default();
    let (Some(tool_node), Some(handler)) = (args.get(1), args.get(2)) else {
        return;
    };
    let v = ev.eval(file, *tool_node, 0);
    let inferred = handler_input(ev, file, *handler, out, call);
    official_tool(file, call, &v, inferred, out);
}

/// The parameters of a handler's third argument type (`func(ctx, req, in In)`).
fn handler_input<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    handler: Node<'w>,
    out: &mut Collector,
    at: Node<'w>,
) -> Option<Vec<Param>> {
    let found: Option<(&'w SourceFile, Node<'w>)> = match handler.kind() {
        "func_literal" => handler.child_by_field_name("parameters").map(|p| (file, p)),
        "identifier" => {
            let name = file.text(handler);
            ev.package.iter().find_map(|f| {
                syntax::named_children(f.root())
                    .into_iter()
                    .find(|d| {
                        d.kind() == "function_declaration"
                            && d.child_by_field_name("name")
                                .is_some_and(|n| f.text(n) == name)
                    })
                    .and_then(|d| d.child_by_field_name("parameters"))
                    .map(|p| (*f, p))
            })
        }
        _ => None,
    };
    let Some((pf, params)) = found else {
        out.unresolved(
            file,
            at,
            "tool input schema: the handler is not a function of this package",
        );
        return None;
    };
    let decls: Vec<Node<'w>> = syntax::named_children(params)
        .into_iter()
        .filter(|p| p.kind() == "parameter_declaration")
        .collect();
    let ty = decls.get(2).and_then(|d| d.child_by_field_name("type"))?;
    let schema = struct_schema(ev, pf, ty, 0);
    Some(schema.params())
}

/// The schema of a Go type (structs of the package flattened by their `json` names).
fn struct_schema<'w>(ev: &Eval<'w>, file: &'w SourceFile, ty: Node<'w>, depth: usize) -> Schema {
    if depth > 6 {
        return Schema::default();
    }
    match ty.kind() {
        "pointer_type" => syntax::args(ty)
            .first()
            .map(|t| struct_schema(ev, file, *t, depth + 1))
            .unwrap_or_default(),
        "slice_type" | "array_type" => Schema {
            ty: Some("array".to_owned()),
            items: ty
                .child_by_field_name("element")
                .map(|e| Box::new(struct_schema(ev, file, e, depth + 1))),
            ..Schema::default()
        },
        "map_type" => Schema::of_type("object"),
        "struct_type" => struct_fields(ev, file, ty, depth),
        "type_identifier" => {
            let name = file.text(ty);
            match name {
                "string" => Schema::of_type("string"),
                "bool" => Schema::of_type("boolean"),
                "float32" | "float64" => Schema::of_type("number"),
                n if n.starts_with("int")
                    || n.starts_with("uint")
                    || n == "byte"
                    || n == "rune" =>
                {
                    Schema::of_type("integer")
                }
                "any" => Schema::default(),
                _ => {
                    for f in &ev.package {
                        for node in syntax::descendants(f.root(), MAX_NODES_PER_FILE) {
                            if node.kind() == "type_spec"
                                && node
                                    .child_by_field_name("name")
                                    .is_some_and(|n| f.text(n) == name)
                                && let Some(t) = node.child_by_field_name("type")
                            {
                                return struct_schema(ev, f, t, depth + 1);
                            }
                        }
                    }
                    Schema::default()
                }
            }
        }
        "qualified_type" if file.text(ty) == "time.Time" => Schema::of_type("string"),
        _ => Schema::default(),
    }
}

fn struct_fields<'w>(ev: &Eval<'w>, file: &'w SourceFile, st: Node<'w>, depth: usize) -> Schema {
    let mut props = Vec::new();
    let mut required = Vec::new();
    for decl in syntax::descendants(st, 10_000) {
        if decl.kind() != "field_declaration"
            || decl.parent().and_then(|p| p.parent()).map(|p| p.id()) != Some(st.id())
        {
            continue;
        }
        let Some(name) = decl.child_by_field_name("name") else {
            continue;
        };
        let go_name = file.text(name);
        if !go_name.starts_with(|c: char| c.is_uppercase()) {
            continue;
        }
        let tag = decl
            .child_by_field_name("tag")
            .and_then(|t| string_value(file, t))
            .unwrap_or_default();
        let json = tag_get(&tag, "json").unwrap_or_default();
        let mut parts = json.split(',');
        let json_name = parts.next().unwrap_or("");
        if json_name == "-" {
            continue;
        }
        let optional = parts.any(|p| p == "omitempty" || p == "omitzero");
        let key = if json_name.is_empty() {
            go_name.to_owned()
        } else {
            json_name.to_owned()
        };
        let mut s = decl
            .child_by_field_name("type")
            .map(|t| struct_schema(ev, file, t, depth + 1))
            .unwrap_or_default();
        if let Some(desc) = tag_get(&tag, "jsonschema") {
            let d = desc.strip_prefix("description=").unwrap_or(&desc);
            s.description = Some(d.to_owned());
        }
        if !optional {
            required.push(key.clone());
        }
        props.push((key, s));
    }
    let mut schema = Schema::object(props);
    schema.required = Some(required);
    schema
}

fn official_server<'w>(ev: &Eval<'w>, file: &'w SourceFile, call: Node<'w>, out: &mut Collector) {
    let args = call
        .child_by_field_name("arguments")
        .map(syntax::args)
        .unwrap_or_default();
    let info = args.first().map(|a| ev.eval(file, *a, 0));
    let opts = args.get(1).map(|a| ev.eval(file, *a, 0));
    let name = info
        .as_ref()
        .and_then(|i| i.get("Name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let instructions = match opts.as_ref().and_then(|o| o.get("Instructions")) {
        Some(Value::Str(s)) => Some(s.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_tags_read_like_reflect() {
        let tag = r#"json:"name,omitempty" jsonschema:"the \"name\" to greet""#;
        assert_eq!(tag_get(tag, "json").as_deref(), Some("name,omitempty"));
        assert_eq!(
            tag_get(tag, "jsonschema").as_deref(),
            Some("the \"name\" to greet")
        );
        assert_eq!(tag_get(tag, "yaml"), None);
        assert_eq!(tag_get("broken", "json"), None);
    }
}
