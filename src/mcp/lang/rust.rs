//! Rust: `rmcp` tool and prompt routers. `#[tool(name = …, description = …, annotations(…))]`
//! on methods (description from doc comments when absent, name from the method), parameters
//! from the `Parameters<T>` struct (fields with `#[schemars(description = …)]` or doc comments,
//! `Option<_>` and `#[serde(default)]` optional, `rename`/`rename_all` applied); `#[prompt(…)]`
//! likewise; server instructions from `ServerInfo { instructions: Some(…) }` or
//! `.with_instructions(…)`; resources from `RawResource::new(uri, name)`.
//!
//! Attribute arguments are read from the token trees tree-sitter gives for them; values
//! resolve through `const`/`static` string items of the files read.

use tree_sitter::Node;

use super::{Collector, location};
use crate::mcp::source::{Workspace, dir_of};
use crate::mcp::surface::{Annotations, Prompt, Resource, Tool};
use crate::mcp::syntax::{self, MAX_EVAL_DEPTH, MAX_NODES_PER_FILE, SourceFile, unescape};
use crate::mcp::value::{Schema, Value};

pub(super) fn uses_sdk(file: &SourceFile) -> bool {
    syntax::descendants(file.root(), MAX_NODES_PER_FILE)
        .into_iter()
        .any(|n| {
            (n.kind() == "use_declaration"
                || n.kind() == "scoped_identifier"
                || n.kind() == "scoped_type_identifier")
                && file
                    .text(n)
                    .trim_start_matches("use ")
                    .trim_start_matches("::")
                    .starts_with("rmcp")
        })
}

/// `mod x;` declarations: `x.rs` or `x/mod.rs` beside the file (or under its stem for a
/// non-root module file).
pub(super) fn related_files(file: &SourceFile, exists: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let dir = dir_of(&file.path);
    let name = file.path.rsplit('/').next().unwrap_or("");
    let base = if matches!(name, "lib.rs" | "main.rs" | "mod.rs") {
        dir.to_owned()
    } else {
        format!("{dir}/{}", name.trim_end_matches(".rs"))
            .trim_start_matches('/')
            .to_owned()
    };
    for node in syntax::descendants(file.root(), MAX_NODES_PER_FILE) {
        if node.kind() != "mod_item" || node.child_by_field_name("body").is_some() {
            continue;
        }
        let Some(n) = node.child_by_field_name("name") else {
            continue;
        };
        let m = file.text(n);
        for cand in [format!("{base}/{m}.rs"), format!("{base}/{m}/mod.rs")] {
            let cand = cand.trim_start_matches('/').to_owned();
            if exists(&cand) {
                out.push(cand);
                break;
            }
        }
    }
    out
}

fn string_value(file: &SourceFile, node: Node<'_>) -> Option<String> {
    let text = file.text(node);
    match node.kind() {
        "string_literal" => Some(unescape(text.get(1..text.len().saturating_sub(1))?)),
        "raw_string_literal" => {
            let body = text.strip_prefix('r')?;
            let hashes = body.len() - body.trim_start_matches('#').len();
            body.get(hashes + 1..body.len().saturating_sub(hashes + 1))
                .map(str::to_owned)
        }
        _ => None,
    }
}

/// The items of an attribute's token tree: `key = value`, `key(…)` and bare `flag`s.
enum Arg<'f> {
    Value(&'f str, Node<'f>),
    Nested(&'f str, Node<'f>),
    Flag(&'f str),
}

fn attr_args<'f>(file: &'f SourceFile, tree: Node<'f>) -> Vec<Arg<'f>> {
    let mut cursor = tree.walk();
    let tokens: Vec<Node<'f>> = tree.children(&mut cursor).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        // Keywords such as `default` or `type` come as anonymous tokens, not identifiers.
        let word = file.text(t);
        let is_word = t.kind() == "identifier"
            || (!t.is_named()
                && word.starts_with(|c: char| c.is_ascii_alphabetic())
                && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if is_word {
            let key = file.text(t);
            match tokens.get(i + 1).map(|n| n.kind()) {
                Some("=") => {
                    if let Some(v) = tokens.get(i + 2) {
                        out.push(Arg::Value(key, *v));
                    }
                    i += 3;
                    continue;
                }
                Some("token_tree") => {
                    out.push(Arg::Nested(key, tokens[i + 1]));
                    i += 2;
                    continue;
                }
                _ => out.push(Arg::Flag(key)),
            }
        }
        i += 1;
    }
    out
}

/// The attributes and doc comment lines that precede an item.
struct Preamble<'f> {
    attrs: Vec<(String, Option<Node<'f>>)>,
    doc: Vec<String>,
}

fn preamble<'f>(file: &'f SourceFile, item: Node<'f>) -> Preamble<'f> {
    let mut attrs = Vec::new();
    let mut doc = Vec::new();
    let mut cur = item.prev_sibling();
    while let Some(n) = cur {
        match n.kind() {
            "attribute_item" => {
                if let Some(a) = syntax::named_children(n)
                    .into_iter()
                    .find(|c| c.kind() == "attribute")
                {
                    let path = syntax::named_children(a)
                        .into_iter()
                        .find(|c| matches!(c.kind(), "identifier" | "scoped_identifier"))
                        .map(|p| file.text(p).to_owned())
                        .unwrap_or_default();
                    let args = a.child_by_field_name("arguments");
                    if path == "doc"
                        && let Some(v) = a.child_by_field_name("value")
                        && let Some(s) = string_value(file, v)
                    {
                        doc.push(s.trim().to_owned());
                    }
                    attrs.push((path, args));
                }
            }
            "line_comment" | "block_comment" => {
                let is_outer_doc = syntax::named_children(n)
                    .iter()
                    .any(|c| c.kind() == "outer_doc_comment_marker");
                if is_outer_doc && let Some(d) = n.child_by_field_name("doc") {
                    doc.push(file.text(d).trim().to_owned());
                }
            }
            _ => break,
        }
        cur = n.prev_sibling();
    }
    attrs.reverse();
    doc.reverse();
    Preamble { attrs, doc }
}

/// Doc lines joined as rmcp joins them: trimmed, blank lines skipped, newline-separated.
fn doc_text(lines: &[String]) -> Option<String> {
    let kept: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.is_empty())
        .collect();
    (!kept.is_empty()).then(|| kept.join("\n"))
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
            "string_literal" | "raw_string_literal" => {
                string_value(file, node).map_or_else(|| Value::unknown("a string"), Value::Str)
            }
            "boolean_literal" => Value::Bool(file.text(node) == "true"),
            "integer_literal" | "float_literal" => Value::Num(file.text(node).to_owned()),
            "identifier" if file.text(node) == "None" => Value::Null,
            "identifier" => {
                let name = file.text(node);
                match self.constant(name) {
                    Some((f, v)) => self.eval(f, v, d),
                    None => Value::unknown(format!("`{name}` is not a constant of the files read")),
                }
            }
            "call_expression" => {
                let func = node.child_by_field_name("function");
                let args = node
                    .child_by_field_name("arguments")
                    .map(syntax::args)
                    .unwrap_or_default();
                match func.map(|f| (f.kind(), file.text(f))) {
                    Some((_, "Some" | "String::from" | "Cow::Borrowed" | "Cow::from"))
                        if args.len() == 1 =>
                    {
                        self.eval(file, args[0], d)
                    }
                    Some(("field_expression", _)) => {
                        let f = func.expect("matched");
                        let method = f.child_by_field_name("field").map_or("", |m| file.text(m));
                        let base = f.child_by_field_name("value");
                        match (method, base) {
                            ("into" | "to_string" | "to_owned", Some(b)) => self.eval(file, b, d),
                            _ => Value::unknown(format!("computed at run time by `.{method}()`")),
                        }
                    }
                    _ => Value::unknown(format!(
                        "computed at run time by `{}`",
                        file.text(node).chars().take(40).collect::<String>()
                    )),
                }
            }
            "macro_invocation" => Value::unknown("a macro, expanded at build time"),
            "reference_expression" | "parenthesized_expression" => syntax::args(node)
                .last()
                .map_or(Value::Null, |n| self.eval(file, *n, d)),
            other => Value::unknown(format!("a `{other}` expression")),
        }
    }

    /// A `const`/`static` item named `name` in any Rust file read.
    fn constant(&self, name: &str) -> Option<(&'w SourceFile, Node<'w>)> {
        self.ws
            .files
            .iter()
            .filter(|f| f.path.ends_with(".rs"))
            .find_map(|f| {
                syntax::descendants(f.root(), MAX_NODES_PER_FILE)
                    .into_iter()
                    .find_map(|n| {
                        (matches!(n.kind(), "const_item" | "static_item")
                            && n.child_by_field_name("name")
                                .is_some_and(|x| f.text(x) == name))
                        .then(|| n.child_by_field_name("value"))
                        .flatten()
                        .map(|v| (f, v))
                    })
            })
    }

    /// A struct named `name` in any Rust file read.
    fn find_struct(&self, name: &str) -> Option<(&'w SourceFile, Node<'w>)> {
        self.ws
            .files
            .iter()
            .filter(|f| f.path.ends_with(".rs"))
            .find_map(|f| {
                syntax::descendants(f.root(), MAX_NODES_PER_FILE)
                    .into_iter()
                    .find_map(|n| {
                        (n.kind() == "struct_item"
                            && n.child_by_field_name("name")
                                .is_some_and(|x| f.text(x) == name))
                        .then_some((f, n))
                    })
            })
    }
}

fn rename(style: &str, name: &str) -> String {
    let words: Vec<String> = name
        .split('_')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let cap = |w: &str| {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    match style {
        "camelCase" => words
            .iter()
            .enumerate()
            .map(|(i, w)| if i == 0 { w.clone() } else { cap(w) })
            .collect(),
        "PascalCase" => words.iter().map(|w| cap(w)).collect(),
        "kebab-case" => words.join("-"),
        "SCREAMING_SNAKE_CASE" => words.join("_").to_uppercase(),
        "lowercase" => name.to_lowercase(),
        "UPPERCASE" => name.to_uppercase(),
        _ => name.to_owned(),
    }
}

/// The schema of a Rust type (structs of the files read flattened).
fn type_schema<'w>(ev: &Eval<'w>, file: &'w SourceFile, ty: Node<'w>, depth: usize) -> Schema {
    if depth > 6 {
        return Schema::default();
    }
    let text = file.text(ty);
    match ty.kind() {
        "primitive_type" => match text {
            "bool" => Schema::of_type("boolean"),
            "str" | "char" => Schema::of_type("string"),
            "f32" | "f64" => Schema::of_type("number"),
            _ => Schema::of_type("integer"),
        },
        "reference_type" => ty
            .child_by_field_name("type")
            .map(|t| type_schema(ev, file, t, depth + 1))
            .unwrap_or_default(),
        "generic_type" => {
            let base = ty.child_by_field_name("type").map_or("", |t| file.text(t));
            let arg = ty
                .child_by_field_name("type_arguments")
                .and_then(|a| syntax::args(a).first().copied());
            let base = base.rsplit("::").next().unwrap_or(base);
            match base {
                "Option" => {
                    let mut s = arg
                        .map(|a| type_schema(ev, file, a, depth + 1))
                        .unwrap_or_default();
                    s.optional = true;
                    s
                }
                "Vec" | "HashSet" | "BTreeSet" | "VecDeque" => Schema {
                    ty: Some("array".to_owned()),
                    items: arg.map(|a| Box::new(type_schema(ev, file, a, depth + 1))),
                    ..Schema::default()
                },
                "HashMap" | "BTreeMap" => Schema::of_type("object"),
                "Box" | "Arc" => arg
                    .map(|a| type_schema(ev, file, a, depth + 1))
                    .unwrap_or_default(),
                _ => Schema::default(),
            }
        }
        "type_identifier" | "scoped_type_identifier" => {
            let name = text.rsplit("::").next().unwrap_or(text);
            match name {
                "String" | "PathBuf" => Schema::of_type("string"),
                "Value" => Schema::default(),
                _ => match ev.find_struct(name) {
                    Some((f, s)) => struct_schema(ev, f, s, depth + 1),
                    None => Schema::default(),
                },
            }
        }
        _ => Schema::default(),
    }
}

/// A struct's fields as an object schema (serde names, schemars descriptions).
fn struct_schema<'w>(ev: &Eval<'w>, file: &'w SourceFile, item: Node<'w>, depth: usize) -> Schema {
    let pre = preamble(file, item);
    let mut rename_all = None;
    for (path, args) in &pre.attrs {
        if path == "serde"
            && let Some(args) = args
        {
            for a in attr_args(file, *args) {
                if let Arg::Value("rename_all", v) = a {
                    rename_all = string_value(file, v);
                }
            }
        }
    }
    let Some(body) = item.child_by_field_name("body") else {
        return Schema::object(Vec::new());
    };
    let mut props = Vec::new();
    for field in syntax::named_children(body) {
        if field.kind() != "field_declaration" {
            continue;
        }
        let Some(name) = field.child_by_field_name("name") else {
            continue;
        };
        let fpre = preamble(file, field);
        let mut key = file.text(name).trim_start_matches("r#").to_owned();
        if let Some(style) = &rename_all {
            key = rename(style, &key);
        }
        let mut s = field
            .child_by_field_name("type")
            .map(|t| type_schema(ev, file, t, depth + 1))
            .unwrap_or_default();
        s.description = doc_text(&fpre.doc).map(|d| d.replace('\n', " "));
        let mut skip = false;
        for (path, args) in &fpre.attrs {
            let Some(args) = args else {
                continue;
            };
            for a in attr_args(file, *args) {
                match (path.as_str(), a) {
                    ("schemars", Arg::Value("description", v)) => match ev.eval(file, v, 0) {
                        Value::Str(d) => s.description = Some(d),
                        _ => s.unresolved.push("description".to_owned()),
                    },
                    ("serde", Arg::Value("rename", v)) => {
                        if let Some(r) = string_value(file, v) {
                            key = r;
                        }
                    }
                    ("serde", Arg::Flag("default")) | ("serde", Arg::Value("default", _)) => {
                        s.optional = true
                    }
                    ("serde", Arg::Flag("skip")) => skip = true,
                    _ => {}
                }
            }
        }
        if !skip {
            props.push((key, s));
        }
    }
    Schema::object(props)
}

/// The `T` of a `Parameters<T>` argument of a method.
fn parameters_struct<'w>(ev: &Eval<'w>, file: &'w SourceFile, func: Node<'w>) -> Option<Schema> {
    let params = func.child_by_field_name("parameters")?;
    for p in syntax::named_children(params) {
        let Some(ty) = p.child_by_field_name("type") else {
            continue;
        };
        if ty.kind() == "generic_type"
            && ty
                .child_by_field_name("type")
                .is_some_and(|t| file.text(t).rsplit("::").next() == Some("Parameters"))
        {
            let arg = ty
                .child_by_field_name("type_arguments")
                .and_then(|a| syntax::args(a).first().copied())?;
            return Some(type_schema(ev, file, arg, 0));
        }
    }
    None
}

pub(super) fn extract(ws: &Workspace, file: &SourceFile, out: &mut Collector) {
    let ev = Eval { ws };
    for node in syntax::descendants(file.root(), MAX_NODES_PER_FILE) {
        match node.kind() {
            "function_item" => routed_fn(&ev, file, node, out),
            "struct_expression" => server_struct(&ev, file, node, out),
            "call_expression" => {
                let func = node
                    .child_by_field_name("function")
                    .map_or("", |f| file.text(f));
                if func.ends_with("with_instructions") {
                    let args = node
                        .child_by_field_name("arguments")
                        .map(syntax::args)
                        .unwrap_or_default();
                    match args.first().map(|a| ev.eval(file, *a, 0)) {
                        Some(Value::Str(s)) => out.server(file, node, None, Some(s)),
                        Some(Value::Unknown(w)) => out.unresolved(
                            file,
                            node,
                            format!("server instructions are not literal: {w}"),
                        ),
                        _ => {}
                    }
                } else if func == "RawResource::new" || func.ends_with("::RawResource::new") {
                    raw_resource(&ev, file, node, out);
                }
            }
            _ => {}
        }
    }
}

/// A method with `#[tool(...)]` or `#[prompt(...)]`.
fn routed_fn<'w>(ev: &Eval<'w>, file: &'w SourceFile, func: Node<'w>, out: &mut Collector) {
    let pre = preamble(file, func);
    let Some((kind, args)) = pre.attrs.iter().find_map(|(p, a)| {
        let last = p.rsplit("::").next().unwrap_or(p);
        matches!(last, "tool" | "prompt").then(|| (last.to_owned(), *a))
    }) else {
        return;
    };
    let fn_name = func
        .child_by_field_name("name")
        .map_or("", |n| file.text(n))
        .to_owned();
    let mut unresolved = Vec::new();
    let mut name = fn_name;
    let mut description = None;
    let mut title = None;
    let mut annotations = Annotations::default();
    let mut explicit_description = false;
    for a in args.map(|t| attr_args(file, t)).unwrap_or_default() {
        match a {
            Arg::Value("name", v) => match ev.eval(file, v, 0) {
                Value::Str(s) => name = s,
                _ => {
                    out.unresolved(file, func, format!("{kind} name is not literal"));
                    return;
                }
            },
            Arg::Value("description", v) => {
                explicit_description = true;
                match ev.eval(file, v, 0) {
                    Value::Str(s) => description = Some(s),
                    _ => unresolved.push("description".to_owned()),
                }
            }
            Arg::Value("title", v) => match ev.eval(file, v, 0) {
                Value::Str(s) => title = Some(s),
                _ => unresolved.push("title".to_owned()),
            },
            Arg::Nested("annotations", t) => {
                for h in attr_args(file, t) {
                    if let Arg::Value(key, v) = h {
                        let val = ev.eval(file, v, 0);
                        match key {
                            "title" => annotations.title = val.as_str().map(str::to_owned),
                            "read_only_hint" => annotations.read_only = val.as_bool(),
                            "destructive_hint" => annotations.destructive = val.as_bool(),
                            "idempotent_hint" => annotations.idempotent = val.as_bool(),
                            "open_world_hint" => annotations.open_world = val.as_bool(),
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if !explicit_description {
        description = doc_text(&pre.doc);
    }
    let schema = parameters_struct(ev, file, func).unwrap_or_default();
    unresolved.extend(schema.unresolved_paths("input"));
    let params = schema.params();
    let loc = location(file, func);
    for f in &unresolved {
        out.unresolved(file, func, format!("{kind} `{name}`: {f} is not literal"));
    }
    if kind == "tool" {
        out.tools.push(Tool {
            name,
            title,
            description,
            input: params,
            output: None,
            annotations,
            location: loc,
            unresolved_fields: unresolved,
        });
    } else {
        out.prompts.push(Prompt {
            name,
            title,
            description,
            arguments: params,
            location: loc,
            unresolved_fields: unresolved,
        });
    }
}

/// `ServerInfo { instructions: Some("…".into()), .. }` and `Implementation { name: …, .. }`.
fn server_struct<'w>(ev: &Eval<'w>, file: &'w SourceFile, node: Node<'w>, out: &mut Collector) {
    let ty = node
        .child_by_field_name("name")
        .map_or("", |n| file.text(n));
    let ty = ty.rsplit("::").next().unwrap_or(ty);
    if !matches!(ty, "ServerInfo" | "InitializeResult" | "Implementation") {
        return;
    }
    let Some(body) = node.child_by_field_name("body") else {
        return;
    };
    for f in syntax::named_children(body) {
        if f.kind() != "field_initializer" {
            continue;
        }
        let field = f.child_by_field_name("field").map_or("", |n| file.text(n));
        let Some(v) = f.child_by_field_name("value") else {
            continue;
        };
        match (ty, field) {
            ("Implementation", "name") => {
                if let Value::Str(s) = ev.eval(file, v, 0) {
                    out.server(file, node, Some(s), None);
                }
            }
            (_, "instructions") => match ev.eval(file, v, 0) {
                Value::Str(s) => out.server(file, node, None, Some(s)),
                Value::Null => {}
                Value::Unknown(w) => out.unresolved(
                    file,
                    node,
                    format!("server instructions are not literal: {w}"),
                ),
                _ => {}
            },
            _ => {}
        }
    }
}

/// `RawResource::new("uri", "name")`.
fn raw_resource<'w>(ev: &Eval<'w>, file: &'w SourceFile, call: Node<'w>, out: &mut Collector) {
    let args = call
        .child_by_field_name("arguments")
        .map(syntax::args)
        .unwrap_or_default();
    let (Some(Value::Str(uri)), name) = (
        args.first().map(|a| ev.eval(file, *a, 0)),
        args.get(1).map(|a| ev.eval(file, *a, 0)),
    ) else {
        out.unresolved(file, call, "resource URI is not literal");
        return;
    };
    out.resources.push(Resource {
        template: false,
        uri,
        name: name.and_then(|n| n.as_str().map(str::to_owned)),
        title: None,
        description: None,
        mime_type: None,
        location: location(file, call),
        unresolved_fields: Vec::new(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_renames() {
        assert_eq!(rename("camelCase", "file_path"), "filePath");
        assert_eq!(rename("PascalCase", "file_path"), "FilePath");
        assert_eq!(rename("kebab-case", "file_path"), "file-path");
    }
}
