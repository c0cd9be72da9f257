//! Comparison of a license file with the canonical SPDX text of the license it matches (pure).
//!
//! Owns "how far does this file depart from the standard text it claims to be, and in which
//! words". Used when a file's identity changes between releases: a line diff of Apache-2.0
//! against AGPL-3.0 is 600 lines of noise, while the words that are *not* AGPL-3.0 (a
//! dual-license preamble, a rider, an added exception) are the whole story.
//!
//! Words are compared after the same normalisation the judgement uses (copyright lines set aside,
//! whitespace, quotes and markup folded), then by a key that also ignores case, edge punctuation,
//! list markers (`1.`, `(a)`), URL schemes and British spellings. What SPDX's templates let vary is
//! not reported as non-standard: placeholders (`<year>`, `[name of copyright owner]`, the BSD
//! "copyright holder" slot) filled in are listed apart as [`Filled`], and optional parts the file
//! leaves out (a title line, everything after "END OF TERMS AND CONDITIONS", the GNU "How to Apply
//! These Terms" appendix) are named in `omitted_optional`, never as removed text.
//!
//! The canonical texts come from the `spdx` crate's `text` feature (SPDX License List 3.29.0).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use similar::{Algorithm, DiffOp};

use super::normalize::{self, Markup};
use super::snapshot::sha256_hex;

/// Non-standard runs kept per comparison; more are counted in `runs_omitted`.
const MAX_RUNS: usize = 40;
/// Words kept per run side; the rest is cut with an ellipsis (`truncated` is set).
const MAX_RUN_WORDS: usize = 600;
/// Two changes separated by fewer standard words than this are one run (a sentence, not confetti).
const MERGE_GAP: usize = 4;
/// A leading standard-only region at most this long is a title, which SPDX templates make optional.
const MAX_TITLE_WORDS: usize = 40;
/// Words of standard text shown before a run, to say where it is.
const CONTEXT_WORDS: usize = 8;
/// Diffing is bounded in time: a pathological input degrades to a coarser diff.
const DIFF_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a non-standard run sits relative to the standard text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Position {
    /// Before the standard text starts: preambles, dual-license notices.
    Before,
    /// Inside the standard text: edited, inserted or removed clauses.
    Within,
    /// After the standard text ends: riders, exceptions, extra conditions.
    After,
}

/// One run of words that are not the standard text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonStandard {
    pub position: Position,
    /// Words of the file that the standard text does not have (empty for a removal).
    pub added: String,
    /// Words of the standard text that the file lacks (empty for an addition).
    pub removed: String,
    /// The standard words just before the run (empty at the start), to locate it.
    pub after_words: String,
}

/// A template placeholder the file fills in the ordinary way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filled {
    /// As the canonical text writes it: `<year> <copyright holders>`, `the copyright holder`.
    pub placeholder: String,
    pub value: String,
}

/// The new file against the canonical text of the license it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanonicalDiff {
    /// The SPDX id whose canonical text was compared.
    pub id: String,
    /// The detector's score for the whole file (0..=1).
    pub score: f32,
    /// Share of the file's words that are the standard text (0..=1, three decimals).
    pub standard_share: f32,
    /// Words compared on each side (copyright lines, list markers and punctuation left out).
    pub file_words: usize,
    pub standard_words: usize,
    /// Words of the file that are not the standard text, as runs in file order.
    pub runs: Vec<NonStandard>,
    /// Runs beyond the first 40, not kept.
    pub runs_omitted: usize,
    /// Placeholders filled in (not non-standard).
    pub filled: Vec<Filled>,
    /// Optional parts the file leaves out, named (not non-standard).
    pub omitted_optional: Vec<String>,
    /// True when a run was cut (600 words a side) or the diff hit its time limit.
    pub truncated: bool,
}

impl CanonicalDiff {
    /// True when every word is the standard text (up to placeholders and optional parts).
    #[must_use]
    pub fn is_standard(&self) -> bool {
        self.runs.is_empty() && self.runs_omitted == 0
    }

    /// Non-standard words added, counted over the kept runs.
    #[must_use]
    pub fn added_words(&self) -> usize {
        self.runs
            .iter()
            .map(|r| r.added.split_whitespace().count())
            .sum()
    }
}

/// The canonical SPDX text of `id` (GNU `-only`/`-or-later` share one text).
#[must_use]
pub fn standard_text(id: &str) -> Option<&'static str> {
    let lic = spdx::license_id(id).or_else(|| spdx::license_id(id.trim_end_matches('+')))?;
    let text = lic.text();
    (!text.trim().is_empty()).then_some(text)
}

/// Comparisons already made in this process, by (text hash, id, score): both releases of a
/// server, and every judgement of a baseline, compare the same texts again.
type MemoKey = (String, String, u32);
static MEMO: LazyLock<Mutex<HashMap<MemoKey, CanonicalDiff>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
const MEMO_LIMIT: usize = 1024;

/// Compares `file_text` (raw, as read) with the canonical text of `id`; `None` when SPDX has no
/// text for `id`.
#[must_use]
pub fn compare(file_text: &str, markup: Markup, id: &str, score: f32) -> Option<CanonicalDiff> {
    let canonical = standard_text(id)?;
    let key = (
        format!("{}{:?}", sha256_hex(file_text.as_bytes()), markup),
        id.to_owned(),
        score.to_bits(),
    );
    if let Some(hit) = MEMO.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Some(hit);
    }
    let diff = compare_texts(file_text, markup, canonical, id, score);
    if let Ok(mut memo) = MEMO.lock() {
        if memo.len() >= MEMO_LIMIT {
            memo.clear();
        }
        memo.insert(key, diff.clone());
    }
    Some(diff)
}

/// A word of one side: what is shown, and what is compared.
struct Word {
    raw: String,
    key: String,
}

/// The words of a text, and its title line when it has one (a short first paragraph naming a
/// license: "The MIT License (MIT)"). SPDX templates make titles optional, and their wording varies
/// freely, so titles are compared apart from the body.
fn words(text: &str, markup: Markup) -> (Option<String>, Vec<Word>) {
    let n = normalize::normalise(text, markup);
    let title = n
        .display
        .split("\n\n")
        .find(|p| !p.lines().all(normalize::is_copyright_line))
        .filter(|p| {
            let lower = p.to_lowercase();
            p.split_whitespace().count() <= 12
                && (lower.contains("license") || lower.contains("licence"))
                && !p.trim_end().ends_with(['.', ':', ';', ','])
        })
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "));
    let skip = title.as_ref().map_or(0, |t| t.split(' ').count());
    let body = n
        .body_key
        .split(' ')
        .filter(|t| !t.is_empty())
        .skip(skip)
        .filter_map(|raw| {
            let key = key_of(raw)?;
            Some(Word {
                raw: raw.to_owned(),
                key,
            })
        })
        .collect();
    (title, body)
}

/// The comparison key of a token, `None` for tokens that carry no words (punctuation, bullets).
fn key_of(raw: &str) -> Option<String> {
    let lower = raw.to_lowercase();
    if is_list_marker(&lower) {
        return None;
    }
    let mut key = lower
        .trim_matches(|c: char| {
            !c.is_alphanumeric() && c != '<' && c != '>' && c != '[' && c != ']'
        })
        .to_owned();
    for scheme in ["https://", "http://"] {
        if let Some(rest) = key.strip_prefix(scheme) {
            key = rest.trim_start_matches("www.").to_owned();
        }
    }
    let key = key.trim_end_matches('/').to_owned();
    if key.is_empty() || !key.chars().any(char::is_alphanumeric) {
        return None;
    }
    Some(
        VARIETAL
            .iter()
            .find(|(uk, _)| *uk == key)
            .map_or(key, |(_, us)| (*us).to_owned()),
    )
}

/// SPDX's equivalent words (matching guidelines, "varietal word spelling"), the common ones.
const VARIETAL: &[(&str, &str)] = &[
    ("licence", "license"),
    ("licences", "licenses"),
    ("licenced", "licensed"),
    ("licencing", "licensing"),
    ("licensor's", "licensor's"),
    ("whilst", "while"),
    ("acknowledgement", "acknowledgment"),
    ("acknowledgements", "acknowledgments"),
    ("organisation", "organization"),
    ("organisations", "organizations"),
    ("authorised", "authorized"),
    ("utilise", "utilize"),
    ("behaviour", "behavior"),
    ("favour", "favor"),
    ("copyright-holder", "copyright holder"),
];

/// `1.`, `2.1.`, `(a)`, `a)`, `iv.`, `*`, `-`: list markers SPDX templates mark as variable.
fn is_list_marker(lower: &str) -> bool {
    let inner = lower.trim_start_matches('(').trim_end_matches([')', '.']);
    if inner.len() == lower.len() || inner.is_empty() {
        return lower
            .chars()
            .all(|c| matches!(c, '*' | '-' | '+' | '#' | '.'));
    }
    let numeric = inner.chars().all(|c| c.is_ascii_digit() || c == '.');
    let letter = inner.len() == 1 && inner.chars().all(|c| c.is_ascii_lowercase());
    let roman = inner.len() <= 4 && inner.chars().all(|c| matches!(c, 'i' | 'v' | 'x'));
    numeric || letter || roman
}

/// Phrases that start an optional tail in SPDX templates (everything from there on may be left out).
const OPTIONAL_TAILS: &[(&[&str], &str)] = &[
    (
        &["end", "of", "terms", "and", "conditions"],
        "the closing \"END OF TERMS AND CONDITIONS\" and what follows it",
    ),
    (
        &["appendix", "how", "to", "apply", "the", "apache", "license"],
        "the appendix on how to apply the license",
    ),
    (
        &["how", "to", "apply", "these", "terms", "to", "your", "new"],
        "the appendix on how to apply these terms",
    ),
];

fn optional_tail(canon: &[Word]) -> Option<(usize, &'static str)> {
    OPTIONAL_TAILS
        .iter()
        .filter_map(|(phrase, name)| {
            canon
                .windows(phrase.len())
                .position(|w| w.iter().zip(phrase.iter()).all(|(a, b)| a.key == *b))
                .map(|i| (i, *name))
        })
        .min_by_key(|(i, _)| *i)
}

/// Canonical word indexes that belong to a placeholder (`<year>`, `[name of copyright owner]`).
fn placeholder_mask(canon: &[Word]) -> Vec<bool> {
    let mut mask = vec![false; canon.len()];
    let mut i = 0;
    while i < canon.len() {
        let open = canon[i].raw.trim_start_matches('(').chars().next();
        let close = match open {
            Some('<') => '>',
            Some('[') => ']',
            _ => {
                i += 1;
                continue;
            }
        };
        let end = (i..canon.len().min(i + 12)).find(|j| {
            canon[*j]
                .raw
                .trim_end_matches(['.', ',', ';', ':', ')'])
                .ends_with(close)
        });
        match end {
            Some(j) => {
                mask[i..=j].iter_mut().for_each(|m| *m = true);
                i = j + 1;
            }
            None => i += 1,
        }
    }
    mask
}

/// A removed side that is the name slot of a license ("the copyright holder", "AUTHORS OR
/// COPYRIGHT HOLDERS"): SPDX templates let it be replaced by a name.
fn is_name_slot(removed: &[&Word]) -> bool {
    let keys: Vec<&str> = removed.iter().map(|w| w.key.as_str()).collect();
    keys.len() <= 5
        && keys.contains(&"copyright")
        && keys
            .iter()
            .any(|k| matches!(*k, "holder" | "holders" | "owner" | "owners"))
}

/// Compares `file_text` with `canonical` (the SPDX text of `id`).
#[must_use]
pub fn compare_texts(
    file_text: &str,
    markup: Markup,
    canonical: &str,
    id: &str,
    score: f32,
) -> CanonicalDiff {
    let (mut file_title, mut file) = words(file_text, markup);
    let (canon_title, canon) = words(canonical, Markup::Text);
    // A preamble before the standard text puts the title after it: take it out there too.
    if file_title.is_none()
        && let Some(t) = &canon_title
    {
        let keys: Vec<String> = t.split(' ').filter_map(key_of).collect();
        let head = file.len().min(400);
        if let Some(at) = (!keys.is_empty())
            .then(|| {
                file[..head]
                    .windows(keys.len())
                    .position(|w| w.iter().zip(&keys).all(|(a, b)| a.key == *b))
            })
            .flatten()
        {
            file_title = Some(
                file.drain(at..at + keys.len())
                    .map(|w| w.raw)
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
    }
    let file_keys: Vec<&str> = file.iter().map(|w| w.key.as_str()).collect();
    let canon_keys: Vec<&str> = canon.iter().map(|w| w.key.as_str()).collect();
    let deadline = Instant::now() + DIFF_TIMEOUT;
    let ops = similar::capture_diff_slices_deadline(
        Algorithm::Patience,
        &canon_keys,
        &file_keys,
        Some(deadline),
    );
    let timed_out = Instant::now() >= deadline;
    let equal: usize = ops
        .iter()
        .map(|op| match op {
            DiffOp::Equal { len, .. } => *len,
            _ => 0,
        })
        .sum();
    let mut out = CanonicalDiff {
        id: id.to_owned(),
        score,
        standard_share: if file.is_empty() {
            0.0
        } else {
            ((equal as f32 / file.len() as f32) * 1000.0).round() / 1000.0
        },
        file_words: file.len(),
        standard_words: canon.len(),
        runs: Vec::new(),
        runs_omitted: 0,
        filled: Vec::new(),
        omitted_optional: Vec::new(),
        truncated: timed_out,
    };
    let title_key = |t: &Option<String>| {
        t.as_deref()
            .map(|t| t.split(' ').filter_map(key_of).collect::<Vec<_>>())
    };
    match (&canon_title, &file_title) {
        (Some(_), None) => out.omitted_optional.push("the title line".to_owned()),
        (Some(_), Some(f)) if title_key(&canon_title) != title_key(&file_title) => {
            out.omitted_optional
                .push(format!("the title line (the file's reads \"{f}\")"));
        }
        _ => {}
    }
    let regions: Vec<Region> = change_regions(&ops)
        .into_iter()
        .map(|r| slide_to_sentence(r, &canon, &file))
        .collect();
    let first_equal = ops
        .iter()
        .position(|o| matches!(o, DiffOp::Equal { len, .. } if *len >= MERGE_GAP));
    let last_equal = ops
        .iter()
        .rposition(|o| matches!(o, DiffOp::Equal { len, .. } if *len >= MERGE_GAP));
    let tail = optional_tail(&canon);
    let mask = placeholder_mask(&canon);
    for region in regions {
        let position = match (first_equal, last_equal) {
            (Some(f), _) if region.last_op < f => Position::Before,
            (_, Some(l)) if region.first_op > l => Position::After,
            (None, None) => Position::Within,
            _ => Position::Within,
        };
        classify_region(&region, position, &canon, &file, &mask, tail, &mut out);
    }
    out.omitted_optional.dedup();
    out
}

/// A maximal stretch of changes (short equal gaps merged) in canonical and file coordinates.
struct Region {
    canon: (usize, usize),
    file: (usize, usize),
    first_op: usize,
    last_op: usize,
}

fn change_regions(ops: &[DiffOp]) -> Vec<Region> {
    let mut out: Vec<Region> = Vec::new();
    let mut open: Option<Region> = None;
    for (i, op) in ops.iter().enumerate() {
        let (canon, file) = (op.old_range(), op.new_range());
        if let DiffOp::Equal { len, .. } = op {
            // A short equal stretch between two changes belongs to the run around it.
            let next_is_change = i + 1 < ops.len();
            if *len < MERGE_GAP && open.is_some() && next_is_change {
                continue;
            }
            if let Some(r) = open.take() {
                out.push(r);
            }
            continue;
        }
        match open.as_mut() {
            Some(r) => {
                r.canon.1 = canon.end;
                r.file.1 = file.end;
                r.last_op = i;
            }
            None => {
                open = Some(Region {
                    canon: (canon.start, canon.end),
                    file: (file.start, file.end),
                    first_op: i,
                    last_op: i,
                });
            }
        }
    }
    out.extend(open);
    out
}

/// A pure insertion or deletion can often sit one word earlier or later ("The above ... Software."
/// or "above ... Software. The"); prefer the placement that starts at a sentence.
fn slide_to_sentence(mut r: Region, canon: &[Word], file: &[Word]) -> Region {
    let (side, other): (&[Word], bool) = match (r.canon.0 == r.canon.1, r.file.0 == r.file.1) {
        (true, false) => (file, true),
        (false, true) => (canon, false),
        _ => return r,
    };
    let (mut s, mut e) = if other { r.file } else { r.canon };
    while s > 0 && side[s - 1].key == side[e - 1].key {
        s -= 1;
        e -= 1;
    }
    let starts_sentence = |i: usize| {
        i == 0 || side[i - 1].raw.ends_with(['.', ':', ';']) || side[i - 1].raw.ends_with(".\"")
    };
    let mut best = (s, e);
    let (mut cs, mut ce) = (s, e);
    loop {
        if starts_sentence(cs) {
            best = (cs, ce);
            break;
        }
        if ce < side.len() && side[ce].key == side[cs].key {
            cs += 1;
            ce += 1;
        } else {
            break;
        }
    }
    if best == (s, e) && !starts_sentence(s) {
        return r;
    }
    let shift = best.0 as isize - if other { r.file.0 } else { r.canon.0 } as isize;
    let moved =
        |(a, b): (usize, usize)| ((a as isize + shift) as usize, (b as isize + shift) as usize);
    if other {
        r.file = best;
        r.canon = moved(r.canon);
    } else {
        r.canon = best;
        r.file = moved(r.file);
    }
    r
}

fn join(words: &[&Word]) -> String {
    words
        .iter()
        .map(|w| w.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn capped(words: &[&Word], truncated: &mut bool) -> String {
    if words.len() > MAX_RUN_WORDS {
        *truncated = true;
        format!("{} ...", join(&words[..MAX_RUN_WORDS]))
    } else {
        join(words)
    }
}

fn classify_region(
    region: &Region,
    position: Position,
    canon: &[Word],
    file: &[Word],
    mask: &[bool],
    tail: Option<(usize, &'static str)>,
    out: &mut CanonicalDiff,
) {
    let removed_all: Vec<(usize, &Word)> = (region.canon.0..region.canon.1)
        .map(|i| (i, &canon[i]))
        .collect();
    let added: Vec<&Word> = file[region.file.0..region.file.1].iter().collect();
    // Standard words the file lacks, less optional parts and placeholders.
    let mut omitted_tail = false;
    let mut omitted_title = false;
    let mut placeholders: Vec<&Word> = Vec::new();
    let mut removed: Vec<&Word> = Vec::new();
    for (i, w) in &removed_all {
        if tail.is_some_and(|(t, _)| *i >= t) {
            omitted_tail = true;
        } else if position == Position::Before
            && region.canon.0 == 0
            && removed_all.len() <= MAX_TITLE_WORDS
            && added.is_empty()
        {
            omitted_title = true;
        } else if mask[*i] {
            placeholders.push(w);
        } else {
            removed.push(w);
        }
    }
    if omitted_tail && let Some((_, name)) = tail {
        out.omitted_optional.push(name.to_owned());
    }
    if omitted_title {
        out.omitted_optional.push("the title line".to_owned());
    }
    let only_placeholders = removed.is_empty() && !placeholders.is_empty();
    if !added.is_empty()
        && added.len() <= 16
        && (only_placeholders || (placeholders.is_empty() && is_name_slot(&removed)))
    {
        let slot = if only_placeholders {
            &placeholders
        } else {
            &removed
        };
        out.filled.push(Filled {
            placeholder: join(slot),
            value: join(&added),
        });
        return;
    }
    removed.extend(placeholders);
    if added.is_empty() && removed.is_empty() {
        return;
    }
    if out.runs.len() >= MAX_RUNS {
        out.runs_omitted += 1;
        return;
    }
    let context_start = region.canon.0.saturating_sub(CONTEXT_WORDS);
    let context: Vec<&Word> = canon[context_start..region.canon.0].iter().collect();
    let mut truncated = out.truncated;
    out.runs.push(NonStandard {
        position,
        added: capped(&added, &mut truncated),
        removed: capped(&removed, &mut truncated),
        after_words: join(&context),
    });
    out.truncated = truncated;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(file: &str, id: &str) -> CanonicalDiff {
        compare(file, Markup::Text, id, 0.95).expect("SPDX has the text")
    }

    #[test]
    fn the_canonical_text_itself_is_standard() {
        for id in [
            "MIT",
            "Apache-2.0",
            "AGPL-3.0-or-later",
            "BSD-3-Clause",
            "GPL-2.0-only",
        ] {
            let d = cmp(standard_text(id).expect("text"), id);
            assert!(d.is_standard(), "{id}: {:?}", d.runs);
            assert!(
                (d.standard_share - 1.0).abs() < 0.001,
                "{id}: {}",
                d.standard_share
            );
        }
    }

    #[test]
    fn filled_placeholders_and_omitted_optional_parts_are_not_non_standard() {
        let apache = standard_text("Apache-2.0").expect("text");
        let end = apache.find("END OF TERMS AND CONDITIONS").expect("marker");
        let body = &apache[apache.find("TERMS AND CONDITIONS FOR USE").expect("start")..end];
        let d = cmp(
            &format!("Copyright 2024 Example Corp\n\n{body}"),
            "Apache-2.0",
        );
        assert!(d.is_standard(), "{:?}", d.runs);
        assert!(
            d.omitted_optional
                .iter()
                .any(|o| o.contains("END OF TERMS")),
            "{:?}",
            d.omitted_optional
        );
        let bsd = standard_text("BSD-3-Clause")
            .expect("text")
            .replace("the copyright holder nor", "Example Corp nor");
        let d = cmp(&bsd, "BSD-3-Clause");
        assert!(d.is_standard(), "{:?}", d.runs);
        assert_eq!(d.filled[0].value, "Example Corp", "{:?}", d.filled);
        // Numbering and bullets are template variables too.
        let renumbered = standard_text("Apache-2.0")
            .expect("text")
            .replace("1. Definitions", "(1) Definitions");
        assert!(cmp(&renumbered, "Apache-2.0").is_standard());
    }

    #[test]
    fn a_preamble_and_a_rider_are_the_only_non_standard_words() {
        let agpl = standard_text("AGPL-3.0-or-later").expect("text");
        let preamble = "This software is dual-licensed. You may use it under the GNU Affero General Public License version 3 as set out below, or under a commercial license from Example Labs. Contact sales@example.com for the commercial terms.";
        let rider = "Additional restriction: the software may not be offered as a managed service.";
        let d = cmp(
            &format!("{preamble}\n\n{agpl}\n\n{rider}\n"),
            "AGPL-3.0-or-later",
        );
        assert_eq!(d.runs.len(), 2, "{:#?}", d.runs);
        assert_eq!(d.runs[0].position, Position::Before);
        assert!(
            d.runs[0]
                .added
                .starts_with("This software is dual-licensed."),
            "{}",
            d.runs[0].added
        );
        assert!(
            d.runs[0].added.ends_with("the commercial terms."),
            "{}",
            d.runs[0].added
        );
        assert_eq!(d.runs[1].position, Position::After);
        assert!(
            d.runs[1].added.contains("managed service"),
            "{}",
            d.runs[1].added
        );
        assert!(
            d.standard_share > 0.9 && d.standard_share < 1.0,
            "{}",
            d.standard_share
        );
    }

    #[test]
    fn an_inserted_word_and_a_removed_clause_are_runs_within() {
        let mit = standard_text("MIT").expect("text");
        let not = mit.replacen("without restriction", "not without restriction", 1);
        let d = cmp(&not, "MIT");
        assert_eq!(d.runs.len(), 1, "{:?}", d.runs);
        assert_eq!(
            (d.runs[0].position, d.runs[0].added.as_str()),
            (Position::Within, "not")
        );
        assert!(
            d.runs[0].after_words.ends_with("to deal in the Software"),
            "{}",
            d.runs[0].after_words
        );
        let cut = mit.replace(
            "The above copyright notice and this permission notice shall be included in all copies or substantial\nportions of the Software.",
            "",
        );
        assert_ne!(cut, mit, "the clause is in the text");
        let d = cmp(&cut, "MIT");
        assert_eq!(d.runs.len(), 1, "{:?}", d.runs);
        assert!(
            d.runs[0].removed.starts_with("The above copyright notice"),
            "{:?}",
            d.runs[0]
        );
        assert!(d.runs[0].added.is_empty());
    }

    #[test]
    fn title_variants_are_not_non_standard_words() {
        let mit = standard_text("MIT").expect("text");
        let body = &mit[mit.find("Permission").expect("body")..];
        let retitled =
            format!("The MIT License (MIT)\n\nCopyright (c) 2024 Example Corp\n\n{body}");
        let d = cmp(&retitled, "MIT");
        assert!(d.is_standard(), "{:?}", d.runs);
        assert!(
            d.omitted_optional
                .iter()
                .any(|o| o.contains("The MIT License (MIT)")),
            "{:?}",
            d.omitted_optional
        );
        let untitled = cmp(&format!("Copyright (c) 2024 Example Corp\n\n{body}"), "MIT");
        assert!(untitled.is_standard(), "{:?}", untitled.runs);
        assert_eq!(untitled.omitted_optional, vec!["the title line"]);
    }

    #[test]
    fn list_markers_and_keys() {
        for m in ["1.", "(a)", "a)", "iv.", "2.1.", "*", "-"] {
            assert!(key_of(m).is_none(), "{m}");
        }
        assert_eq!(key_of("Licence,").as_deref(), Some("license"));
        assert_eq!(
            key_of("http://www.apache.org/licenses/").as_deref(),
            Some("apache.org/licenses")
        );
        assert_eq!(key_of("a").as_deref(), Some("a"));
    }
}
