//! Identification: SPDX labels for license texts and normalised SPDX expressions.
//!
//! Owns the process-wide detection store (loaded once, lazily) and the expression helpers.
//! A label is only a label: the judgement never treats "same id" as "same text".

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};

use serde::{Deserialize, Serialize};
use spdx::detection::{Store, TextData};

/// Below this confidence a detected id is a guess: shown, never acted on.
pub const CONFIDENT: f32 = 0.9;

/// An SPDX id the detector gave a text, with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// SPDX id as named by the detection store (for GNU texts the `-or-later` entry).
    pub id: String,
    /// 0.0..=1.0, rounded to three decimals so stored baselines compare stably.
    pub confidence: f32,
}

impl Detection {
    /// True when the score is high enough to name the license.
    #[must_use]
    pub fn is_confident(&self) -> bool {
        self.confidence >= CONFIDENT
    }

    /// The label people read: `MIT`, or `MIT? (0.72)` for a guess.
    #[must_use]
    pub fn label(&self) -> String {
        if self.is_confident() {
            self.id.clone()
        } else {
            format!("{}? ({:.2})", self.id, self.confidence)
        }
    }
}

/// The detection store, loaded once per process (~100-200 ms).
static STORE: LazyLock<Result<Store, String>> = LazyLock::new(|| {
    Store::load_inline().map_err(|e| format!("loading the SPDX detection store: {e}"))
});

/// Detections already computed in this process, keyed by the text's sha256. Scanning two
/// revisions of one server usually sees the same texts twice.
static MEMO: LazyLock<Mutex<HashMap<String, Option<Detection>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
const MEMO_LIMIT: usize = 4096;

/// Identifies `text` (raw decoded text; the detector normalises on its own).
///
/// `key` is a hash of the text used for memoisation. Returns `Ok(None)` for texts with no words.
///
/// # Errors
/// When the embedded detection store cannot be loaded.
pub fn detect(text: &str, key: &str) -> anyhow::Result<Option<Detection>> {
    if let Ok(memo) = MEMO.lock()
        && let Some(hit) = memo.get(key)
    {
        return Ok(hit.clone());
    }
    let store = STORE.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
    let result = if text.split_whitespace().next().is_none() {
        None
    } else {
        let data = TextData::new(text);
        let found = store.analyze(&data);
        Some(Detection {
            id: found.name.to_owned(),
            confidence: (found.score * 1000.0).round() / 1000.0,
        })
    };
    if let Ok(mut memo) = MEMO.lock() {
        if memo.len() >= MEMO_LIMIT {
            memo.clear();
        }
        memo.insert(key.to_owned(), result.clone());
    }
    Ok(result)
}

/// Alias sets already computed (each walks the whole store; a monorepo asks for the same few ids
/// once per package).
static ALIASES: LazyLock<Mutex<HashMap<String, BTreeSet<String>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Every name the detection store treats as the same text as `id` (itself included).
#[must_use]
pub fn aliases(id: &str) -> BTreeSet<String> {
    if let Some(hit) = ALIASES.lock().ok().and_then(|m| m.get(id).cloned()) {
        return hit;
    }
    let out = store_aliases(id);
    if let Ok(mut memo) = ALIASES.lock() {
        if memo.len() >= MEMO_LIMIT {
            memo.clear();
        }
        memo.insert(id.to_owned(), out.clone());
    }
    out
}

fn store_aliases(id: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::from([id.to_owned()]);
    if let Ok(store) = STORE.as_ref() {
        if let Some(list) = store.aliases(id) {
            out.extend(list.iter().cloned());
        }
        // The store may list `id` as an alias of another entry.
        for name in store.licenses() {
            if store
                .aliases(name)
                .is_some_and(|a| a.iter().any(|x| x == id))
            {
                out.insert(name.clone());
            }
        }
    }
    out
}

/// The license family of an id for comparisons across sources: `GPL-3.0-only`,
/// `GPL-3.0-or-later`, `GPL-3.0+` and `GPL-3.0` are one family (the text cannot tell them apart;
/// the manifest decides which).
#[must_use]
pub fn family(id: &str) -> String {
    let base = id.trim_end_matches('+');
    let base = base
        .strip_suffix("-only")
        .or_else(|| base.strip_suffix("-or-later"))
        .unwrap_or(base);
    base.to_owned()
}

/// True when two detected ids name the same license text (aliases or one GNU family).
#[must_use]
pub fn same_license(a: &str, b: &str) -> bool {
    if a == b || family(a) == family(b) {
        return true;
    }
    let fa: BTreeSet<String> = aliases(a).iter().map(|x| family(x)).collect();
    aliases(b).iter().any(|x| fa.contains(&family(x)))
}

/// A parsed manifest or header license value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedExpression {
    /// Canonical text: imprecise names fixed, operators upper-cased, whitespace collapsed.
    pub canonical: String,
    /// The license ids it mentions (`LicenseRef-*` included), sorted.
    pub ids: Vec<String>,
}

/// Parses an SPDX expression leniently (`Apache 2.0`, `MIT/Apache-2.0`, `GPL-2.0+` are accepted).
///
/// Returns `None` for values that are not expressions (`SEE LICENSE IN ...`, `UNLICENSED`,
/// free text).
#[must_use]
pub fn parse_expression(raw: &str) -> Option<ParsedExpression> {
    let raw = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if raw.is_empty() {
        return None;
    }
    let canonical = match spdx::Expression::canonicalize(&raw) {
        Ok(Some(c)) => c,
        Ok(None) => raw.clone(),
        // Lower-case ids ("apache-2.0") are common in manifests; fix their case and retry.
        Err(_) => match spdx::Expression::canonicalize(&fix_id_case(&raw)) {
            Ok(Some(c)) => c,
            Ok(None) => fix_id_case(&raw),
            Err(_) => return None,
        },
    };
    let expr = spdx::Expression::parse(&canonical)
        .or_else(|_| spdx::Expression::parse_mode(&canonical, spdx::ParseMode::LAX))
        .ok()?;
    let mut ids: Vec<String> = expr
        .requirements()
        .map(|r| item_id(&r.req.license))
        .collect();
    ids.sort();
    ids.dedup();
    Some(ParsedExpression {
        canonical: canonical.split_whitespace().collect::<Vec<_>>().join(" "),
        ids,
    })
}

/// The id of one license in an expression: `GPL-2.0+` for an or-later SPDX id that does not say
/// so in its name, `LicenseRef-...` for others.
#[must_use]
pub fn item_id(item: &spdx::LicenseItem) -> String {
    match item {
        spdx::LicenseItem::Spdx { id, or_later } => {
            if *or_later && !id.name.ends_with("-or-later") {
                format!("{}+", id.name)
            } else {
                id.name.to_owned()
            }
        }
        spdx::LicenseItem::Other(other) => other.to_string(),
    }
}

/// Replaces ids written in the wrong case with the SPDX spelling (`apache-2.0` -> `Apache-2.0`).
fn fix_id_case(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let bare = word.trim_end_matches('+');
        let fixed = spdx::identifiers::LICENSES
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(bare));
        match fixed {
            Some(l) => {
                out.push_str(l.name);
                out.push_str(&word[bare.len()..]);
            }
            None => out.push_str(word),
        }
        word.clear();
    };
    for c in raw.chars() {
        if c.is_whitespace() || matches!(c, '(' | ')' | '/') {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Evaluates an expression against an allow list of ids: true when some choice uses only
/// allowed licenses.
#[must_use]
pub fn expression_allowed(canonical: &str, allowed: &dyn Fn(&str) -> bool) -> bool {
    let Ok(expr) = spdx::Expression::parse_mode(canonical, spdx::ParseMode::LAX) else {
        return allowed(canonical);
    };
    expr.evaluate(|req| match &req.license {
        spdx::LicenseItem::Spdx { id, .. } => allowed(id.name),
        spdx::LicenseItem::Other(other) => allowed(&other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_are_canonicalised() {
        let p = parse_expression("mit / apache-2.0").expect("parses");
        assert_eq!(p.canonical, "MIT OR Apache-2.0");
        assert_eq!(p.ids, vec!["Apache-2.0", "MIT"]);
        let gpl = parse_expression("GPL-3.0+").expect("parses");
        assert_eq!(gpl.ids, vec!["GPL-3.0-or-later"]);
        assert!(parse_expression("SEE LICENSE IN LICENSE.txt").is_none());
        assert!(parse_expression("").is_none());
    }

    #[test]
    fn gnu_families_and_aliases_match() {
        assert!(same_license("GPL-3.0-only", "GPL-3.0-or-later"));
        assert!(same_license("AGPL-3.0-or-later", "AGPL-3.0"));
        assert!(!same_license("MIT", "MIT-0"));
        assert!(!same_license("GPL-2.0-only", "GPL-3.0-only"));
    }

    #[test]
    fn detection_names_a_canonical_text() {
        let mit = "Permission is hereby granted, free of charge, to any person obtaining a copy of this software \
and associated documentation files (the \"Software\"), to deal in the Software without restriction, including \
without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of \
the Software, and to permit persons to whom the Software is furnished to do so, subject to the following \
conditions:\n\nThe above copyright notice and this permission notice shall be included in all copies or \
substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS \
OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND \
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER \
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE \
SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.\n";
        let _ = detect("warm up the store", "test-warm");
        let d = detect(mit, "test-mit")
            .expect("store loads")
            .expect("has words");
        assert_eq!(d.id, "MIT");
        assert!(d.is_confident(), "{d:?}");
        assert_eq!(detect("   \n", "test-empty").expect("store loads"), None);
    }

    #[test]
    fn allow_list_evaluation_takes_any_allowed_choice() {
        let allowed = |id: &str| id == "MIT";
        assert!(expression_allowed("MIT OR GPL-3.0-only", &allowed));
        assert!(!expression_allowed("MIT AND GPL-3.0-only", &allowed));
    }
}
