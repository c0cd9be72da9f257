//! Unknown keys: where each key the raw types did not take sits in the file, so a typo gets a
//! diagnostic at its own line and column.

use std::ops::Range;

/// The path of an ignored key as table keys and array indexes.
pub fn path_segments(path: &serde_ignored::Path<'_>) -> Vec<String> {
    use serde_ignored::Path as P;
    match path {
        P::Root => Vec::new(),
        P::Seq { parent, index } => {
            let mut v = path_segments(parent);
            v.push(index.to_string());
            v
        }
        P::Map { parent, key } => {
            let mut v = path_segments(parent);
            // Spanned values show up as a map with private keys; skip those levels.
            if !key.starts_with("$__") {
                v.push(key.clone());
            }
            v
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            path_segments(parent)
        }
    }
}

/// `unknown key `x` in [servers.mirror]`.
pub fn message(segments: &[String]) -> String {
    let key = segments.last().cloned().unwrap_or_default();
    let within = segments[..segments.len().saturating_sub(1)]
        .iter()
        .filter(|s| s.parse::<usize>().is_err())
        .cloned()
        .collect::<Vec<_>>()
        .join(".");
    let within = if within.is_empty() {
        "the top level".to_string()
    } else {
        format!("[{within}]")
    };
    format!("unknown key `{key}` in {within}")
}

/// Byte span of the key at `segments` (table keys and array indexes) in the parsed document.
pub fn key_span(table: &toml::de::DeTable<'_>, segments: &[String]) -> Option<Range<usize>> {
    let (first, rest) = segments.split_first()?;
    let (key, value) = table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == first.as_str())?;
    if rest.is_empty() {
        return Some(key.span());
    }
    value_key_span(value.get_ref(), rest)
}

fn value_key_span(value: &toml::de::DeValue<'_>, segments: &[String]) -> Option<Range<usize>> {
    match value {
        toml::de::DeValue::Table(t) => key_span(t, segments),
        toml::de::DeValue::Array(items) => {
            let (first, rest) = segments.split_first()?;
            let item = items.get(first.parse::<usize>().ok()?)?;
            if rest.is_empty() {
                Some(item.span())
            } else {
                value_key_span(item.get_ref(), rest)
            }
        }
        _ => None,
    }
}
