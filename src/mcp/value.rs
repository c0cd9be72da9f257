//! Statically evaluated values: what an expression in upstream source is, where the source makes
//! it literal (pure). The language extractors evaluate syntax into [`Value`]s; this module turns
//! values into schema properties. Anything not literal is [`Value::Unknown`] with the reason,
//! never a guess.

use super::surface::Param;

/// Nesting deeper than this is not flattened into parameters (hostile or generated schemas).
const MAX_SCHEMA_DEPTH: usize = 6;

/// At most this many parameters are taken from one schema.
const MAX_PARAMS: usize = 200;

/// A value as far as static evaluation knows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    /// A number literal, as written (normalised by the language evaluator).
    Num(String),
    Bool(bool),
    Null,
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
    /// A schema built by code (zod chains, type hints, struct fields).
    Schema(Box<Schema>),
    /// Not statically known; the reason says why.
    Unknown(String),
}

impl Value {
    pub(crate) fn unknown(reason: impl Into<String>) -> Self {
        Self::Unknown(reason.into())
    }

    /// The string, if this is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A property of an object value.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Self::Object(fields) => fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn is_unknown(&self) -> bool {
        matches!(self, Self::Unknown(_))
    }

    /// The value as compact JSON text (defaults and enum members); `None` for unknowns and
    /// schemas.
    pub(crate) fn to_json(&self) -> Option<String> {
        Some(match self {
            Self::Str(s) => serde_json::to_string(s).ok()?,
            Self::Num(n) => n.clone(),
            Self::Bool(b) => b.to_string(),
            Self::Null => "null".to_owned(),
            Self::Array(items) => {
                let parts: Option<Vec<String>> = items.iter().map(Value::to_json).collect();
                format!("[{}]", parts?.join(","))
            }
            Self::Object(fields) => {
                let mut parts = Vec::with_capacity(fields.len());
                for (k, v) in fields {
                    parts.push(format!(
                        "{}:{}",
                        serde_json::to_string(k).ok()?,
                        v.to_json()?
                    ));
                }
                format!("{{{}}}", parts.join(","))
            }
            Self::Schema(_) | Self::Unknown(_) => return None,
        })
    }

    /// An enum member as people read it: strings bare, everything else as JSON.
    pub(crate) fn to_enum_member(&self) -> Option<String> {
        match self {
            Self::Str(s) => Some(s.clone()),
            other => other.to_json(),
        }
    }
}

/// A schema node: a zod chain, a JSON-schema literal, a type hint or a struct field.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Schema {
    pub ty: Option<String>,
    pub description: Option<String>,
    /// Not required in its parent (`.optional()`, `Optional[...]`, a default, `omitempty`).
    pub optional: bool,
    pub default: Option<String>,
    pub enum_values: Vec<String>,
    /// Object properties, in source order.
    pub properties: Option<Vec<(String, Schema)>>,
    /// For JSON-schema objects: the `required` list (overrides `optional` of the properties).
    pub required: Option<Vec<String>>,
    pub items: Option<Box<Schema>>,
    /// Parts of this node that were not literal (`description`, `default`, ...).
    pub unresolved: Vec<String>,
}

impl Schema {
    pub(crate) fn of_type(ty: &str) -> Self {
        Self {
            ty: Some(ty.to_owned()),
            ..Self::default()
        }
    }

    pub(crate) fn object(properties: Vec<(String, Schema)>) -> Self {
        Self {
            ty: Some("object".to_owned()),
            properties: Some(properties),
            ..Self::default()
        }
    }

    /// Reads a JSON-schema literal (`{ type, properties, required, description, enum, default,
    /// items }`) evaluated into a value.
    pub(crate) fn from_json_schema(value: &Value, depth: usize) -> Schema {
        let mut s = Schema::default();
        if depth > MAX_SCHEMA_DEPTH {
            s.unresolved.push("schema nested too deep".to_owned());
            return s;
        }
        match value.get("type") {
            Some(Value::Str(t)) => s.ty = Some(t.clone()),
            Some(Value::Array(ts)) => {
                let names: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
                s.ty = Some(names.join("|"));
            }
            Some(_) => s.unresolved.push("type".to_owned()),
            None => {}
        }
        match value.get("description") {
            Some(Value::Str(d)) => s.description = Some(d.clone()),
            Some(_) => s.unresolved.push("description".to_owned()),
            None => {}
        }
        if let Some(d) = value.get("default") {
            match d.to_json() {
                Some(j) => s.default = Some(j),
                None => s.unresolved.push("default".to_owned()),
            }
        }
        match value.get("enum") {
            Some(Value::Array(items)) => {
                s.enum_values = items.iter().filter_map(Value::to_enum_member).collect();
            }
            Some(_) => s.unresolved.push("enum".to_owned()),
            None => {}
        }
        match value.get("properties") {
            Some(Value::Object(props)) => {
                s.properties = Some(
                    props
                        .iter()
                        .map(|(k, v)| (k.clone(), Schema::from_value(v, depth + 1)))
                        .collect(),
                );
            }
            Some(_) => s.unresolved.push("properties".to_owned()),
            None => {}
        }
        match value.get("required") {
            Some(Value::Array(items)) => {
                s.required = Some(
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                );
            }
            Some(_) => s.unresolved.push("required".to_owned()),
            None => {}
        }
        // JSON Schema: properties not listed in `required` are optional.
        if s.properties.is_some()
            && s.required.is_none()
            && !s.unresolved.iter().any(|u| u == "required")
        {
            s.required = Some(Vec::new());
        }
        if let Some(items) = value.get("items") {
            s.items = Some(Box::new(Schema::from_value(items, depth + 1)));
        }
        s
    }

    /// A schema from any evaluated value: schemas as they are, objects read as JSON schema.
    pub(crate) fn from_value(value: &Value, depth: usize) -> Schema {
        match value {
            Value::Schema(s) => (**s).clone(),
            Value::Object(_) => Schema::from_json_schema(value, depth),
            // The whole node is not literal: its path alone names it.
            Value::Unknown(_) => Schema {
                unresolved: vec![String::new()],
                ..Schema::default()
            },
            _ => Schema {
                unresolved: vec![String::new()],
                ..Schema::default()
            },
        }
    }

    /// The object's properties flattened into parameters (nested objects as `a.b`, array
    /// items as `a[].b`), in source order.
    pub(crate) fn params(&self) -> Vec<Param> {
        let mut out = Vec::new();
        self.flatten("", 0, &mut out);
        out
    }

    fn flatten(&self, prefix: &str, depth: usize, out: &mut Vec<Param>) {
        let Some(props) = &self.properties else {
            return;
        };
        for (name, prop) in props {
            if out.len() >= MAX_PARAMS {
                return;
            }
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            let required = match &self.required {
                Some(list) => list.iter().any(|r| r == name),
                None => !prop.optional,
            };
            out.push(Param {
                name: path.clone(),
                ty: prop.ty.clone(),
                required,
                description: prop.description.clone(),
                enum_values: prop.enum_values.clone(),
                default: prop.default.clone(),
            });
            if depth < MAX_SCHEMA_DEPTH {
                prop.flatten(&path, depth + 1, out);
                if let Some(items) = &prop.items {
                    items.flatten(&format!("{path}[]"), depth + 1, out);
                }
            }
        }
    }

    /// The names of unresolved parts, prefixed with their property path.
    pub(crate) fn unresolved_paths(&self, prefix: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .unresolved
            .iter()
            .map(|u| match (prefix.is_empty(), u.is_empty()) {
                (true, _) => u.clone(),
                (false, true) => prefix.to_owned(),
                (false, false) => format!("{prefix}.{u}"),
            })
            .collect();
        for (name, prop) in self.properties.iter().flatten() {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            out.extend(prop.unresolved_paths(&path));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.to_owned())
    }

    #[test]
    fn json_schema_literals_become_parameters() {
        let schema = Value::Object(vec![
            ("type".into(), s("object")),
            (
                "properties".into(),
                Value::Object(vec![
                    (
                        "path".into(),
                        Value::Object(vec![
                            ("type".into(), s("string")),
                            ("description".into(), s("Where to read")),
                        ]),
                    ),
                    (
                        "mode".into(),
                        Value::Object(vec![
                            ("type".into(), s("string")),
                            ("enum".into(), Value::Array(vec![s("a"), s("b")])),
                            ("default".into(), s("a")),
                        ]),
                    ),
                ]),
            ),
            ("required".into(), Value::Array(vec![s("path")])),
        ]);
        let params = Schema::from_value(&schema, 0).params();
        assert_eq!(params.len(), 2);
        assert_eq!(params[0].name, "path");
        assert!(params[0].required);
        assert_eq!(params[0].description.as_deref(), Some("Where to read"));
        assert!(!params[1].required);
        assert_eq!(params[1].enum_values, vec!["a", "b"]);
        assert_eq!(params[1].default.as_deref(), Some("\"a\""));
    }

    #[test]
    fn nested_objects_and_arrays_flatten_with_paths() {
        let mut item = Schema::object(vec![("id".into(), Schema::of_type("string"))]);
        item.description = Some("one node".into());
        let list = Schema {
            ty: Some("array".into()),
            items: Some(Box::new(item)),
            ..Schema::default()
        };
        let root = Schema::object(vec![("nodes".into(), list)]);
        let names: Vec<String> = root.params().into_iter().map(|p| p.name).collect();
        assert_eq!(names, vec!["nodes", "nodes[].id"]);
    }

    #[test]
    fn unknown_values_have_no_json() {
        assert_eq!(Value::unknown("call").to_json(), None);
        assert_eq!(
            Value::Array(vec![Value::Num("2".into()), Value::Bool(true)]).to_json(),
            Some("[2,true]".into())
        );
    }
}
