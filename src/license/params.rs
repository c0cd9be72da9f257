//! Parameters of parameterised licenses (pure): BUSL-1.1's Licensor, Licensed Work, Additional
//! Use Grant, Change Date and Change License, read as fields.
//!
//! Owns "which parameter changed, from what to what" and "did only the parameters change?". The
//! SPDX text of BUSL-1.1 has no parameter block, so the detector calls any filled-in file BUSL-1.1
//! whatever its grant says; a reviewer needs the fields themselves. The verdict is not decided
//! here: a changed Change Date still needs review, but the reason says exactly that.

use serde::{Deserialize, Serialize};

/// The BUSL-1.1 parameter names, in the order the license's cover page lists them.
pub const BUSL_KEYS: &[&str] = &[
    "Licensor",
    "Licensed Work",
    "Additional Use Grant",
    "Change Date",
    "Change License",
];

/// Text that ends the parameter block (the cover page's closing notes and the terms).
const BLOCK_ENDS: &[&str] = &[
    "For information about alternative licensing",
    "Notice The Business Source License",
    "Terms The Licensor hereby grants",
    "License text copyright",
    "-----",
    "The Business Source License (this document",
];

/// One parameter value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameter {
    pub name: String,
    pub value: String,
}

/// One parameter that differs between the releases (`None`: absent on that side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterChange {
    /// The license file.
    pub path: String,
    pub name: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// The parameter keys of a license id, empty for licenses without a parameter block.
#[must_use]
pub fn keys_for(id: &str) -> &'static [&'static str] {
    if id == "BUSL-1.1" { BUSL_KEYS } else { &[] }
}

/// Byte spans (start of value, end of value) of each key found in collapsed `text`.
fn spans(text: &str, keys: &[&str]) -> Vec<(usize, usize, usize)> {
    let mut found: Vec<(usize, usize, usize)> = keys
        .iter()
        .enumerate()
        .filter_map(|(k, key)| {
            let needle = format!("{key}:");
            let mut from = 0;
            while let Some(i) = text[from..].find(&needle) {
                let at = from + i;
                let boundary = at == 0 || text[..at].ends_with([' ', '\n']);
                if boundary {
                    return Some((k, at, at + needle.len()));
                }
                from = at + needle.len();
            }
            None
        })
        .collect();
    found.sort_by_key(|(_, at, _)| *at);
    found
}

/// Reads the parameters of `id` from a license text; empty when it has none or no block.
#[must_use]
pub fn read(id: &str, text: &str) -> Vec<Parameter> {
    let keys = keys_for(id);
    if keys.is_empty() {
        return Vec::new();
    }
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    value_spans(&flat, keys)
        .into_iter()
        .map(|(k, start, end)| Parameter {
            name: keys[k].to_owned(),
            value: flat[start..end].trim().to_owned(),
        })
        .collect()
}

/// (key index, value start, value end) in the whitespace-collapsed text.
fn value_spans(flat: &str, keys: &[&str]) -> Vec<(usize, usize, usize)> {
    let found = spans(flat, keys);
    found
        .iter()
        .enumerate()
        .map(|(i, (k, _, start))| {
            let next_key = found.get(i + 1).map_or(flat.len(), |(_, at, _)| *at);
            let end = BLOCK_ENDS
                .iter()
                .filter_map(|e| flat[*start..next_key].find(e).map(|j| start + j))
                .min()
                .unwrap_or(next_key);
            (*k, *start, end)
        })
        .collect()
}

/// The text with every parameter value blanked, for "did anything but the parameters change?".
fn without_values(id: &str, text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(flat.len());
    let mut last = 0;
    for (_, start, end) in value_spans(&flat, keys_for(id)) {
        out.push_str(&flat[last..start]);
        out.push(' ');
        last = end;
    }
    out.push_str(&flat[last..]);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The parameters that differ between two texts of license `id` at `path`.
#[must_use]
pub fn changes(id: &str, path: &str, old: &str, new: &str) -> Vec<ParameterChange> {
    let (a, b) = (read(id, old), read(id, new));
    keys_for(id)
        .iter()
        .filter_map(|key| {
            let get =
                |ps: &[Parameter]| ps.iter().find(|p| p.name == *key).map(|p| p.value.clone());
            let (o, n) = (get(&a), get(&b));
            (o != n).then(|| ParameterChange {
                path: path.to_owned(),
                name: (*key).to_owned(),
                old: o,
                new: n,
            })
        })
        .collect()
}

/// True when the two texts differ only in parameter values (and at least one differs).
#[must_use]
pub fn only_parameters_changed(id: &str, old: &str, new: &str) -> bool {
    !keys_for(id).is_empty()
        && !changes(id, "", old, new).is_empty()
        && without_values(id, old) == without_values(id, new)
}

/// "only the Change Date changed (2027-01-01 -> 2028-01-01)" / "the Additional Use Grant and the
/// Change License changed".
#[must_use]
pub fn describe(changes: &[ParameterChange], only: bool) -> String {
    let show = |v: &Option<String>| {
        v.as_deref().map_or_else(
            || "(none)".to_owned(),
            |s| {
                let short: String = s.chars().take(80).collect();
                if short.len() < s.len() {
                    format!("\"{short}...\"")
                } else {
                    format!("\"{short}\"")
                }
            },
        )
    };
    let names: Vec<String> = changes.iter().map(|c| format!("the {}", c.name)).collect();
    let list = match names.as_slice() {
        [] => return "no parameter changed".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    let detail = match changes {
        [one] => format!(" ({} -> {})", show(&one.old), show(&one.new)),
        _ => String::new(),
    };
    if only {
        format!("only {list} changed{detail}")
    } else {
        format!("{list} changed{detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BUSL cover page in the usual layout (values aligned, continuation lines indented).
    pub fn busl(licensor: &str, work: &str, grant: &str, date: &str, change: &str) -> String {
        format!(
            "License text copyright (c) 2017 MariaDB Corporation Ab, All Rights Reserved.\n\
\"Business Source License\" is a trademark of MariaDB Corporation Ab.\n\n\
Parameters\n\n\
Licensor:             {licensor}\n\
Licensed Work:        {work}\n\
Additional Use Grant: {grant}\n\
Change Date:          {date}\n\
Change License:       {change}\n\n\
For information about alternative licensing arrangements for the Licensed Work,\n\
please contact licensing@example.com.\n\n\
Notice\n\n\
The Business Source License (this document, or the \"License\") is not an Open Source license.\n\n\
Terms\n\nThe Licensor hereby grants you the right to copy, modify, create derivative works.\n"
        )
    }

    const GRANT: &str = "You may make production use of the Licensed Work, provided\n                      Your use does not include offering the Licensed Work to third\n                      parties on a hosted basis.";

    #[test]
    fn reads_every_field_including_continuation_lines() {
        let t = busl(
            "Example Labs, Inc.",
            "Example Server 2.0. The Licensed Work is (c) 2025 Example Labs.",
            GRANT,
            "2029-01-01",
            "Apache License, Version 2.0",
        );
        let p = read("BUSL-1.1", &t);
        let get = |k: &str| p.iter().find(|x| x.name == k).map(|x| x.value.as_str());
        assert_eq!(get("Licensor"), Some("Example Labs, Inc."));
        assert_eq!(
            get("Licensed Work"),
            Some("Example Server 2.0. The Licensed Work is (c) 2025 Example Labs.")
        );
        assert_eq!(
            get("Additional Use Grant"),
            Some(
                "You may make production use of the Licensed Work, provided Your use does not include offering the Licensed Work to third parties on a hosted basis."
            )
        );
        assert_eq!(get("Change Date"), Some("2029-01-01"));
        assert_eq!(get("Change License"), Some("Apache License, Version 2.0"));
        assert!(read("MIT", &t).is_empty());
    }

    #[test]
    fn each_parameter_change_is_named_and_a_date_only_change_says_so() {
        let base = [
            "Example Labs",
            "Example Server 2.0",
            GRANT,
            "2029-01-01",
            "Apache-2.0",
        ];
        let old = busl(base[0], base[1], base[2], base[3], base[4]);
        for (i, key) in BUSL_KEYS.iter().enumerate() {
            let mut v = base;
            v[i] = "CHANGED VALUE";
            let new = busl(v[0], v[1], v[2], v[3], v[4]);
            let c = changes("BUSL-1.1", "LICENSE", &old, &new);
            assert_eq!(c.len(), 1, "{key}: {c:?}");
            assert_eq!(c[0].name, *key);
            assert_eq!(c[0].new.as_deref(), Some("CHANGED VALUE"));
            assert!(only_parameters_changed("BUSL-1.1", &old, &new), "{key}");
        }
        let date = busl(base[0], base[1], base[2], "2030-01-01", base[4]);
        let c = changes("BUSL-1.1", "LICENSE", &old, &date);
        assert_eq!(
            describe(&c, true),
            "only the Change Date changed (\"2029-01-01\" -> \"2030-01-01\")"
        );
        let terms = date.replace("create derivative works", "create no derivative works");
        assert!(
            !only_parameters_changed("BUSL-1.1", &old, &terms),
            "the terms changed too"
        );
    }
}
