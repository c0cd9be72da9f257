//! License fields of root manifests (pure: bytes in, fields out).
//!
//! package.json, pyproject.toml, Cargo.toml, setup.cfg and go.mod, plus `SPDX-License-Identifier`
//! headers in any of them. A manifest that does not parse is an error value, never a panic.

use std::sync::LazyLock;

use regex::Regex;

/// Root manifest file names this module understands.
pub const MANIFESTS: &[&str] = &[
    "package.json",
    "pyproject.toml",
    "Cargo.toml",
    "setup.cfg",
    "go.mod",
];

/// One license-bearing field: name and value as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: String,
}

fn field(name: &str, value: impl Into<String>) -> Field {
    Field {
        name: name.to_owned(),
        value: value.into(),
    }
}

/// Extracts the license fields of manifest `name` from its text.
///
/// # Errors
/// A one-line parse error when the manifest is not valid JSON/TOML.
pub fn fields(name: &str, text: &str) -> Result<Vec<Field>, String> {
    let mut out = match name {
        "package.json" => package_json(text)?,
        "pyproject.toml" => pyproject(text)?,
        "Cargo.toml" => cargo_toml(text)?,
        "setup.cfg" => setup_cfg(text),
        _ => Vec::new(),
    };
    out.extend(spdx_headers(text));
    Ok(out)
}

static SPDX_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"SPDX-License-Identifier:\s*([^\r\n]*?)\s*(?:\*/|-->)?\s*$").expect("static regex")
});

/// `SPDX-License-Identifier:` lines anywhere in the text (comments of TOML, cfg, go.mod).
fn spdx_headers(text: &str) -> Vec<Field> {
    let values: Vec<&str> = text
        .lines()
        .filter_map(|l| SPDX_HEADER.captures(l).and_then(|c| c.get(1)))
        .map(|m| m.as_str())
        .collect();
    match values.as_slice() {
        [] => Vec::new(),
        [one] => vec![field("SPDX-License-Identifier", *one)],
        many => many
            .iter()
            .enumerate()
            .map(|(i, v)| field(&format!("SPDX-License-Identifier[{i}]"), *v))
            .collect(),
    }
}

fn package_json(text: &str) -> Result<Vec<Field>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("package.json: {e}"))?;
    let mut out = Vec::new();
    match v.get("license") {
        Some(serde_json::Value::String(s)) => out.push(field("license", s.as_str())),
        // Legacy `{ "type": "MIT", "url": ... }`.
        Some(serde_json::Value::Object(o)) => {
            out.push(field(
                "license",
                o.get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("")
                    .to_owned(),
            ));
        }
        Some(other) if !other.is_null() => out.push(field("license", other.to_string())),
        _ => {}
    }
    if let Some(serde_json::Value::Array(items)) = v.get("licenses") {
        // Legacy array: several licenses offered, i.e. a choice.
        let types: Vec<String> = items
            .iter()
            .map(|i| match i {
                serde_json::Value::String(s) => s.clone(),
                other => other
                    .get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("?")
                    .to_owned(),
            })
            .collect();
        out.push(field("licenses", types.join(" OR ")));
    }
    Ok(out)
}

fn toml_table(name: &str, text: &str) -> Result<toml::Table, String> {
    text.parse::<toml::Table>().map_err(|e| {
        format!(
            "{name}: {}",
            e.to_string().lines().next().unwrap_or("parse error")
        )
    })
}

fn pyproject(text: &str) -> Result<Vec<Field>, String> {
    let t = toml_table("pyproject.toml", text)?;
    let mut out = Vec::new();
    if let Some(project) = t.get("project").and_then(|p| p.as_table()) {
        match project.get("license") {
            Some(toml::Value::String(s)) => out.push(field("project.license", s.as_str())),
            Some(toml::Value::Table(tbl)) => {
                if let Some(text) = tbl.get("text").and_then(|v| v.as_str()) {
                    out.push(field("project.license.text", text));
                }
                if let Some(file) = tbl.get("file").and_then(|v| v.as_str()) {
                    out.push(field("project.license.file", file));
                }
            }
            Some(other) => out.push(field("project.license", other.to_string())),
            None => {}
        }
        if let Some(files) = project.get("license-files") {
            out.push(field("project.license-files", value_text(files)));
        }
        if let Some(toml::Value::Array(classifiers)) = project.get("classifiers") {
            let mut lic: Vec<&str> = classifiers
                .iter()
                .filter_map(|c| c.as_str())
                .filter(|c| c.trim_start().starts_with("License ::"))
                .collect();
            lic.sort_unstable();
            if !lic.is_empty() {
                out.push(field("project.classifiers", lic.join("\n")));
            }
        }
    }
    if let Some(lic) = t
        .get("tool")
        .and_then(|x| x.get("poetry"))
        .and_then(|x| x.get("license"))
    {
        out.push(field("tool.poetry.license", value_text(lic)));
    }
    Ok(out)
}

fn cargo_toml(text: &str) -> Result<Vec<Field>, String> {
    let t = toml_table("Cargo.toml", text)?;
    let mut out = Vec::new();
    let workspace = t.get("workspace").and_then(|w| w.get("package"));
    for section in ["package", "workspace.package"] {
        let table = if section == "package" {
            t.get("package")
        } else {
            workspace
        };
        let Some(table) = table else { continue };
        for key in ["license", "license-file"] {
            let Some(value) = table.get(key) else {
                continue;
            };
            let name = format!("{section}.{key}");
            // `license.workspace = true` inherits from [workspace.package], recorded separately.
            let text = match value.get("workspace").and_then(toml::Value::as_bool) {
                Some(true) => workspace
                    .and_then(|w| w.get(key))
                    .map_or_else(|| "(inherited from the workspace)".to_owned(), value_text),
                _ => value_text(value),
            };
            out.push(field(&name, text));
        }
    }
    Ok(out)
}

fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// setup.cfg is INI: `license` and `license_files` in `[metadata]` (continuation lines indented).
fn setup_cfg(text: &str) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    let mut in_metadata = false;
    let mut current: Option<usize> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_metadata = trimmed.eq_ignore_ascii_case("[metadata]");
            current = None;
            continue;
        }
        if !in_metadata || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) && !trimmed.is_empty() {
            if let Some(i) = current {
                out[i].value.push('\n');
                out[i].value.push_str(trimmed);
            }
            continue;
        }
        current = None;
        let Some((key, value)) = trimmed.split_once(['=', ':']) else {
            continue;
        };
        let key = key.trim().replace('-', "_").to_ascii_lowercase();
        if matches!(key.as_str(), "license" | "license_file" | "license_files") {
            out.push(field(&format!("metadata.{key}"), value.trim()));
            current = Some(out.len() - 1);
        }
    }
    for f in &mut out {
        f.value = f.value.trim().to_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
        fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    #[test]
    fn package_json_fields() {
        let f = fields(
            "package.json",
            r#"{"name":"x","license":"MIT OR Apache-2.0"}"#,
        )
        .expect("parses");
        assert_eq!(get(&f, "license"), Some("MIT OR Apache-2.0"));
        let legacy = fields(
            "package.json",
            r#"{"licenses":[{"type":"MIT"},{"type":"GPL-2.0"}]}"#,
        )
        .expect("parses");
        assert_eq!(get(&legacy, "licenses"), Some("MIT OR GPL-2.0"));
        let obj =
            fields("package.json", r#"{"license":{"type":"ISC","url":"x"}}"#).expect("parses");
        assert_eq!(get(&obj, "license"), Some("ISC"));
        assert!(fields("package.json", "{ not json").is_err());
        assert!(
            fields("package.json", r#"{"name":"x"}"#)
                .expect("parses")
                .is_empty()
        );
    }

    #[test]
    fn pyproject_fields() {
        let text = r#"
[project]
name = "x"
license = "Apache-2.0"
license-files = ["LICENSE", "NOTICE"]
classifiers = ["Programming Language :: Python", "License :: OSI Approved :: Apache Software License"]
"#;
        let f = fields("pyproject.toml", text).expect("parses");
        assert_eq!(get(&f, "project.license"), Some("Apache-2.0"));
        assert_eq!(get(&f, "project.license-files"), Some("LICENSE, NOTICE"));
        assert_eq!(
            get(&f, "project.classifiers"),
            Some("License :: OSI Approved :: Apache Software License")
        );
        let table = fields(
            "pyproject.toml",
            "[project]\nlicense = { file = \"LICENSE.txt\" }\n",
        )
        .expect("parses");
        assert_eq!(get(&table, "project.license.file"), Some("LICENSE.txt"));
        let text_table = fields(
            "pyproject.toml",
            "[project]\nlicense = { text = \"MIT\" }\n",
        )
        .expect("parses");
        assert_eq!(get(&text_table, "project.license.text"), Some("MIT"));
        assert!(fields("pyproject.toml", "[project\nlicense=").is_err());
    }

    #[test]
    fn cargo_toml_fields_and_workspace_inheritance() {
        let f = fields(
            "Cargo.toml",
            "[package]\nname='x'\nlicense='MIT'\nlicense-file='LICENSE'\n",
        )
        .expect("parses");
        assert_eq!(get(&f, "package.license"), Some("MIT"));
        assert_eq!(get(&f, "package.license-file"), Some("LICENSE"));
        let ws = fields(
            "Cargo.toml",
            "[package]\nname='x'\nlicense.workspace = true\n[workspace.package]\nlicense = 'Apache-2.0'\n",
        )
        .expect("parses");
        assert_eq!(get(&ws, "package.license"), Some("Apache-2.0"));
        assert_eq!(get(&ws, "workspace.package.license"), Some("Apache-2.0"));
    }

    #[test]
    fn setup_cfg_and_headers() {
        let text = "# SPDX-License-Identifier: BSD-3-Clause\n[metadata]\nname = x\nlicense = BSD-3-Clause\nlicense_files =\n    LICENSE\n    NOTICE\n[options]\nlicense = ignored\n";
        let f = fields("setup.cfg", text).expect("never fails");
        assert_eq!(get(&f, "metadata.license"), Some("BSD-3-Clause"));
        assert_eq!(get(&f, "metadata.license_files"), Some("LICENSE\nNOTICE"));
        assert_eq!(get(&f, "SPDX-License-Identifier"), Some("BSD-3-Clause"));
        let gomod = fields("go.mod", "module example.com/x\n\ngo 1.22\n").expect("never fails");
        assert!(gomod.is_empty());
    }
}
