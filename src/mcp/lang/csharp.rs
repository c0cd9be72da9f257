//! C#: the official SDK's attributes. `[McpServerTool(Name = …, Title = …, ReadOnly = …,
//! Destructive = …, Idempotent = …, OpenWorld = …)]` with `[Description(…)]` on the method and
//! its parameters (the name defaults to the method's, `Async` dropped, in snake case, as the
//! SDK derives it); `[McpServerPrompt]` likewise; `[McpServerResource(UriTemplate = …, Name =
//! …, MimeType = …)]`; server instructions from `ServerInstructions = …` and the name from
//! `new Implementation { Name = … }`.
//!
//! Values resolve through `const` fields of the files read, `+` concatenation, verbatim and
//! raw strings, and `nameof(…)`.

use tree_sitter::Node;

use super::{Collector, Item, location, snake_case};
use crate::mcp::source::Workspace;
use crate::mcp::surface::{Annotations, Param, Prompt, Resource, Tool};
use crate::mcp::syntax::{self, MAX_EVAL_DEPTH, MAX_NODES_PER_FILE, SourceFile, unescape};
use crate::mcp::value::{Schema, Value};

const ATTRS: &[&str] = &["McpServerTool", "McpServerPrompt", "McpServerResource"];

/// An attribute's simple name (`ModelContextProtocol.Server.McpServerToolAttribute` ->
/// `McpServerTool`).
fn attr_name<'f>(file: &'f SourceFile, attr: Node<'f>) -> &'f str {
    let full = attr
        .child_by_field_name("name")
        .map_or("", |n| file.text(n));
    let last = full.rsplit('.').next().unwrap_or(full);
    last.strip_suffix("Attribute").unwrap_or(last)
}

pub(super) fn uses_sdk(file: &SourceFile) -> bool {
    syntax::descendants(file.root(), MAX_NODES_PER_FILE)
        .into_iter()
        .any(|n| {
            (n.kind() == "attribute" && ATTRS.contains(&attr_name(file, n)))
                || (n.kind() == "using_directive" && file.text(n).contains("ModelContextProtocol"))
        })
}

fn string_value(file: &SourceFile, node: Node<'_>) -> Option<String> {
    let text = file.text(node);
    match node.kind() {
        "string_literal" => {
            let body = text.strip_prefix('"')?;
            let body = body.strip_suffix("u8").unwrap_or(body);
            Some(unescape(body.strip_suffix('"')?))
        }
        "verbatim_string_literal" => Some(
            text.strip_prefix("@\"")?
                .strip_suffix('"')?
                .replace("\"\"", "\""),
        ),
        "raw_string_literal" => {
            let quotes = text.len() - text.trim_start_matches('"').len();
            let inner = text.get(quotes..text.len().checked_sub(quotes)?)?;
            // Multi-line raw strings drop the first and last line and the closing indentation.
            if inner.contains('\n') {
                let lines: Vec<&str> = inner.lines().collect();
                let indent = lines.last().map_or(0, |l| l.len() - l.trim_start().len());
                let body: Vec<&str> = lines[1..lines.len().saturating_sub(1)]
                    .iter()
                    .map(|l| l.get(indent..).unwrap_or(l.trim_start()))
                    .collect();
                Some(body.join("\n"))
            } else {
                Some(inner.to_owned())
            }
        }
        "interpolated_string_expression" => {
            if syntax::named_children(node)
                .iter()
                .any(|c| c.kind() == "interpolation")
            {
                return None;
            }
            let start = text.find('"')?;
            Some(unescape(text.get(start + 1..text.len() - 1)?))
        }
        _ => None,
    }
}

struct Eval<'w> {
    ws: &'w Workspace,
}

impl<'w> Eval<'w> {
    fn eval(&self, file: &'w SourceFile, node: Node<'w>, depth: usize) -> Value {
        if depth > MAX_EVAL_DEPTH {
            return Value::unknown("nested too deep to evaluate");
        }
        let d = depth + 1;
        match node.kind() {
            "string_literal"
            | "verbatim_string_literal"
            | "raw_string_literal"
            | "interpolated_string_expression" => string_value(file, node)
                .map_or_else(|| Value::unknown("an interpolated string"), Value::Str),
            "boolean_literal" => Value::Bool(file.text(node) == "true"),
            "integer_literal" | "real_literal" => Value::Num(
                file.text(node)
                    .trim_end_matches(['f', 'd', 'm', 'L', 'u', 'U'])
                    .to_owned(),
            ),
            "null_literal" => Value::Null,
            "parenthesized_expression" | "attribute_argument" => syntax::args(node)
                .last()
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
            "identifier" => {
                let name = file.text(node);
                match self.constant(None, name) {
                    Some((f, v)) => self.eval(f, v, d),
                    None => Value::unknown(format!("`{name}` is not a constant of the files read")),
                }
            }
            "member_access_expression" => {
                let class = node.child_by_field_name("expression").map(|e| file.text(e));
                let name = node
                    .child_by_field_name("name")
                    .map_or("", |n| file.text(n));
                match self.constant(class, name) {
                    Some((f, v)) => self.eval(f, v, d),
                    None => Value::unknown(format!(
                        "`{}` is not a constant of the files read",
                        file.text(node)
                    )),
                }
            }
            "invocation_expression" => {
                let func = node
                    .child_by_field_name("function")
                    .map_or("", |f| file.text(f));
                if func == "nameof" {
                    let arg = node
                        .child_by_field_name("arguments")
                        .map(syntax::args)
                        .and_then(|a| a.first().copied());
                    let text = arg.map_or("", |a| file.text(a));
                    return Value::Str(text.rsplit('.').next().unwrap_or(text).to_owned());
                }
                Value::unknown(format!("computed at run time by `{func}(…)`"))
            }
            other => Value::unknown(format!("a `{other}` expression")),
        }
    }

    /// A `const` field `name` (in class `class` when given) of any C# file read.
    fn constant(&self, class: Option<&str>, name: &str) -> Option<(&'w SourceFile, Node<'w>)> {
        let class = class.map(|c| c.rsplit('.').next().unwrap_or(c));
        self.ws
            .files
            .iter()
            .filter(|f| f.path.ends_with(".cs"))
            .find_map(|f| {
                syntax::descendants(f.root(), MAX_NODES_PER_FILE)
                    .into_iter()
                    .find_map(|n| {
                        if n.kind() != "field_declaration" || !f.text(n).contains("const ") {
                            return None;
                        }
                        if let Some(c) = class {
                            let owner = ancestor(n, "class_declaration")
                                .and_then(|k| k.child_by_field_name("name"));
                            if owner.is_none_or(|o| f.text(o) != c) {
                                return None;
                            }
                        }
                        syntax::descendants(n, 1_000).into_iter().find_map(|d| {
                            (d.kind() == "variable_declarator"
                                && d.child_by_field_name("name")
                                    .is_some_and(|x| f.text(x) == name))
                            .then(|| {
                                syntax::args(d).into_iter().rev().find(|c| {
                                    c.kind() != "identifier"
                                        || Some(*c) != d.child_by_field_name("name")
                                })
                            })
                            .flatten()
                            .map(|v| (f, v))
                        })
                    })
            })
    }
}

fn ancestor<'f>(node: Node<'f>, kind: &str) -> Option<Node<'f>> {
    let mut cur = node.parent();
    while let Some(p) = cur {
        if p.kind() == kind {
            return Some(p);
        }
        cur = p.parent();
    }
    None
}

/// The attributes on a declaration: (simple name, attribute node).
fn attributes<'f>(file: &'f SourceFile, decl: Node<'f>) -> Vec<(&'f str, Node<'f>)> {
    syntax::named_children(decl)
        .into_iter()
        .filter(|c| c.kind() == "attribute_list")
        .flat_map(syntax::named_children)
        .filter(|a| a.kind() == "attribute")
        .map(|a| (attr_name(file, a), a))
        .collect()
}

/// An attribute's arguments: positional values and `Name = value` pairs.
fn attr_args<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    attr: Node<'w>,
) -> (Vec<Value>, Vec<(String, Value)>) {
    let mut pos = Vec::new();
    let mut named = Vec::new();
    let list = syntax::named_children(attr)
        .into_iter()
        .find(|c| c.kind() == "attribute_argument_list");
    for arg in list.map(syntax::args).unwrap_or_default() {
        let value = syntax::args(arg).into_iter().last();
        let v = value.map_or(Value::Null, |v| ev.eval(file, v, 0));
        match arg.child_by_field_name("name") {
            Some(n) => named.push((file.text(n).to_owned(), v)),
            None => pos.push(v),
        }
    }
    (pos, named)
}

fn description_of<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    decl: Node<'w>,
    field: &str,
    unresolved: &mut Vec<String>,
) -> Option<String> {
    let (_, attr) = attributes(file, decl)
        .into_iter()
        .find(|(n, _)| *n == "Description")?;
    match attr_args(ev, file, attr).0.into_iter().next() {
        Some(Value::Str(s)) => Some(s),
        _ => {
            unresolved.push(field.to_owned());
            None
        }
    }
}

/// Parameter types the SDK binds itself (not part of the schema).
fn bound_by_sdk(ty: &str) -> bool {
    let base = ty
        .split('<')
        .next()
        .unwrap_or(ty)
        .rsplit('.')
        .next()
        .unwrap_or(ty)
        .trim_end_matches('?');
    matches!(
        base,
        "CancellationToken"
            | "IServiceProvider"
            | "McpServer"
            | "IMcpServer"
            | "IProgress"
            | "RequestContext"
            | "HttpContext"
            | "ClaimsPrincipal"
    ) || (base.len() > 1
        && base.starts_with('I')
        && base[1..].starts_with(|c: char| c.is_ascii_uppercase()))
}

fn json_type(ty: &str) -> Option<&'static str> {
    let t = ty.trim_end_matches('?');
    if t.ends_with("[]")
        || t.starts_with("List<")
        || t.starts_with("IEnumerable<")
        || t.starts_with("IList<")
        || t.starts_with("IReadOnlyList<")
    {
        return Some("array");
    }
    Some(match t {
        "string" | "String" | "char" | "Guid" | "DateTime" | "DateTimeOffset" | "Uri" => "string",
        "int" | "long" | "short" | "byte" | "uint" | "ulong" | "ushort" | "sbyte" | "Int32"
        | "Int64" => "integer",
        "double" | "float" | "decimal" | "Double" | "Single" | "Decimal" => "number",
        "bool" | "Boolean" => "boolean",
        _ if t.starts_with("Dictionary<") => "object",
        _ => return None,
    })
}

fn method_params<'w>(
    ev: &Eval<'w>,
    file: &'w SourceFile,
    method: Node<'w>,
    unresolved: &mut Vec<String>,
) -> Vec<Param> {
    let Some(list) = method.child_by_field_name("parameters") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in syntax::named_children(list) {
        if p.kind() != "parameter" {
            continue;
        }
        let (Some(name), Some(ty)) = (p.child_by_field_name("name"), p.child_by_field_name("type"))
        else {
            continue;
        };
        let ty_text = file.text(ty);
        if bound_by_sdk(ty_text) {
            continue;
        }
        let pname = file.text(name).to_owned();
        // A default value follows the name (`int count = 2`).
        let default = syntax::named_children(p)
            .into_iter()
            .skip_while(|c| c.id() != name.id())
            .nth(1);
        let mut s = Schema {
            ty: json_type(ty_text).map(str::to_owned),
            ..Schema::default()
        };
        s.description = description_of(
            ev,
            file,
            p,
            &format!("input.{pname}.description"),
            unresolved,
        );
        if let Some(d) = default {
            s.optional = true;
            if d.kind() != "default_expression" {
                match ev.eval(file, d, 0).to_json() {
                    Some(j) => s.default = Some(j),
                    None => unresolved.push(format!("input.{pname}.default")),
                }
            }
        }
        out.push(Param {
            name: pname,
            ty: s.ty,
            required: !s.optional,
            description: s.description,
            enum_values: Vec::new(),
            default: s.default,
        });
    }
    out
}

/// The SDK's default name for a method: `Async` dropped for async methods, snake case.
fn derived_name(method: &str, returns: &str) -> String {
    let is_async = ["Task", "ValueTask", "IAsyncEnumerable"]
        .iter()
        .any(|t| returns == *t || returns.starts_with(&format!("{t}<")));
    let base = match method.strip_suffix("Async") {
        Some(b) if is_async && !b.is_empty() => b,
        _ => method,
    };
    snake_case(base)
}

pub(super) fn extract(ws: &Workspace, file: &SourceFile, out: &mut Collector) {
    let ev = Eval { ws };
    for node in syntax::descendants(file.root(), MAX_NODES_PER_FILE) {
        match node.kind() {
            "method_declaration" => method(&ev, file, node, out),
            "assignment_expression" => server_option(&ev, file, node, out),
            _ => {}
        }
    }
}

fn text_named(
    named: &[(String, Value)],
    key: &str,
    field: &str,
    unresolved: &mut Vec<String>,
) -> Option<String> {
    match named.iter().find(|(k, _)| k == key).map(|(_, v)| v) {
        Some(Value::Str(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(_) => {
            unresolved.push(field.to_owned());
            None
        }
    }
}

fn method<'w>(ev: &Eval<'w>, file: &'w SourceFile, m: Node<'w>, out: &mut Collector) {
    let attrs = attributes(file, m);
    let Some((kind, attr)) = attrs.iter().copied().find(|(n, _)| ATTRS.contains(n)) else {
        return;
    };
    let (_, named) = attr_args(ev, file, attr);
    let method_name = m.child_by_field_name("name").map_or("", |n| file.text(n));
    let returns = m
        .child_by_field_name("returns")
        .map_or("", |r| file.text(r));
    let mut unresolved = Vec::new();
    let name = match named.iter().find(|(k, _)| k == "Name").map(|(_, v)| v) {
        Some(Value::Str(s)) => s.clone(),
        Some(_) => {
            out.unresolved(
                file,
                m,
                format!(
                    "{} name is not literal",
                    kind.trim_start_matches("McpServer").to_lowercase()
                ),
            );
            return;
        }
        None => derived_name(method_name, returns),
    };
    let description = description_of(ev, file, m, "description", &mut unresolved);
    let title = text_named(&named, "Title", "title", &mut unresolved);
    let loc = location(file, m);
    match kind {
        "McpServerTool" => {
            let hint = |k: &str| {
                named
                    .iter()
                    .find(|(n, _)| n == k)
                    .and_then(|(_, v)| v.as_bool())
            };
            let annotations = Annotations {
                title: None,
                read_only: hint("ReadOnly"),
                destructive: hint("Destructive"),
                idempotent: hint("Idempotent"),
                open_world: hint("OpenWorld"),
            };
            let input = method_params(ev, file, m, &mut unresolved);
            out.add(
                file,
                m,
                Item::Tool(Tool {
                    name,
                    title,
                    description,
                    input,
                    output: None,
                    annotations,
                    location: loc,
                    unresolved_fields: unresolved,
                }),
            );
        }
        "McpServerPrompt" => {
            let arguments = method_params(ev, file, m, &mut unresolved)
                .into_iter()
                .map(|p| Param { ty: None, ..p })
                .collect();
            out.add(
                file,
                m,
                Item::Prompt(Prompt {
                    name,
                    title,
                    description,
                    arguments,
                    location: loc,
                    unresolved_fields: unresolved,
                }),
            );
        }
        _ => {
            let uri = match named
                .iter()
                .find(|(k, _)| k == "UriTemplate")
                .map(|(_, v)| v)
            {
                Some(Value::Str(u)) => u.clone(),
                Some(_) => {
                    out.unresolved(file, m, format!("resource `{name}`: URI is not literal"));
                    return;
                }
                // The SDK's default: `resource://mcp/{name}`, the parameters as a query.
                None => {
                    let params = method_params(ev, file, m, &mut Vec::new());
                    let mut uri = format!("resource://mcp/{name}");
                    if !params.is_empty() {
                        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                        uri.push_str(&format!("{{?{}}}", names.join(",")));
                    }
                    uri
                }
            };
            let mime_type = text_named(&named, "MimeType", "mimeType", &mut unresolved);
            out.add(
                file,
                m,
                Item::Resource(Resource {
                    template: uri.contains('{'),
                    uri,
                    name: Some(name),
                    title,
                    description,
                    mime_type,
                    location: loc,
                    unresolved_fields: unresolved,
                }),
            );
        }
    }
}

/// `ServerInstructions = "…"` in options, `Name = "…"` in `new Implementation { … }`.
fn server_option<'w>(ev: &Eval<'w>, file: &'w SourceFile, node: Node<'w>, out: &mut Collector) {
    let left = node
        .child_by_field_name("left")
        .map_or("", |l| file.text(l));
    let left = left.rsplit('.').next().unwrap_or(left);
    let Some(right) = node.child_by_field_name("right") else {
        return;
    };
    match left {
        "ServerInstructions" => match ev.eval(file, right, 0) {
            Value::Str(s) => out.server(file, node, None, Some(s)),
            Value::Unknown(w) => out.unresolved(
                file,
                node,
                format!("server instructions are not literal: {w}"),
            ),
            _ => {}
        },
        "Name" => {
            let in_implementation = ancestor(node, "object_creation_expression")
                .and_then(|o| o.child_by_field_name("type"))
                .is_some_and(|t| file.text(t).ends_with("Implementation"));
            if in_implementation && let Value::Str(s) = ev.eval(file, right, 0) {
                out.server(file, node, Some(s), None);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_like_the_sdk() {
        assert_eq!(derived_name("GetAlertsAsync", "Task<string>"), "get_alerts");
        assert_eq!(derived_name("GetAlertsAsync", "string"), "get_alerts_async");
        assert_eq!(derived_name("Echo", "string"), "echo");
        assert!(bound_by_sdk("CancellationToken"));
        assert!(bound_by_sdk("IHttpClientFactory"));
        assert!(!bound_by_sdk("string"));
        assert!(!bound_by_sdk("Item"));
    }
}
