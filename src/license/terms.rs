//! What the non-standard words of a license file mean (pure): a dual-license preamble offering a
//! commercial alternative, a Commons Clause rider, an added exception, or just edited text.
//!
//! Owns turning one license file into one expression term: `AGPL-3.0-or-later` + a preamble
//! naming a commercial option becomes `AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial`, with the
//! holder named from the text where it names one (the commercial offer, a contact, or the
//! copyright line). Recognition is by plain phrases; what it does not recognise stays
//! "non-standard text" for a person to read, never silently dropped.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::canonical::CanonicalDiff;
use super::expression::{COMMONS_CLAUSE, Expr};

/// Runs shorter than this many words are edits, not riders or preambles.
const MIN_RIDER_WORDS: usize = 8;

/// What a run of non-standard words was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RiderKind {
    /// "dual-licensed ... or a commercial license from X": an OR alternative.
    CommercialAlternative,
    /// The Commons Clause: a condition added to the license (AND).
    CommonsClause,
    /// "additional permission" / "exception": an addition to the license (WITH).
    Exception,
}

/// A recognised rider or preamble.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rider {
    pub kind: RiderKind,
    /// Its first words, for the reader to find it.
    pub excerpt: String,
}

/// One license file read as an expression term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTerms {
    /// The SPDX id of the standard text the file contains (confident detections only).
    pub base: Option<String>,
    pub riders: Vec<Rider>,
    /// The licensor as the text names it, sanitised for a `LicenseRef-` (`Comfy`).
    pub holder: Option<String>,
    /// True when non-standard words remain that no recognised rider explains.
    pub modified: bool,
}

impl FileTerms {
    /// Reads a license file: its detected standard text (if any), the canonical comparison (if
    /// one was made), the whole display text and its copyright lines.
    #[must_use]
    pub fn read(
        base: Option<&str>,
        canonical: Option<&CanonicalDiff>,
        text: &str,
        copyright: &[String],
    ) -> Self {
        let mut riders = Vec::new();
        let mut unexplained = false;
        let mut holder_text = String::new();
        match canonical {
            Some(c) => {
                for run in &c.runs {
                    let words = run.added.split_whitespace().count();
                    match (words >= MIN_RIDER_WORDS)
                        .then(|| recognise(&run.added))
                        .flatten()
                    {
                        Some(kind) => {
                            holder_text.push_str(&run.added);
                            holder_text.push(' ');
                            riders.push(Rider {
                                kind,
                                excerpt: excerpt(&run.added),
                            });
                        }
                        None => unexplained = true,
                    }
                }
            }
            // No standard text to compare with: the whole text is the evidence.
            None => {
                if let Some(kind) = recognise(text) {
                    riders.push(Rider {
                        kind,
                        excerpt: String::new(),
                    });
                    holder_text.push_str(text);
                }
                unexplained = base.is_none();
            }
        }
        let holder = holder_from_offer(&holder_text)
            .or_else(|| holder_from_copyright(copyright))
            .or_else(|| holder_from_email(&holder_text));
        Self {
            base: base.map(str::to_owned),
            riders,
            holder,
            modified: unexplained,
        }
    }

    /// The file as an expression term.
    #[must_use]
    pub fn term(&self) -> Expr {
        let holder = self.holder.as_deref().unwrap_or("Unnamed");
        let mut term = match &self.base {
            Some(id) => Expr::Id(id.clone()),
            None => Expr::Id(format!("LicenseRef-{holder}-Custom")),
        };
        let has = |k: RiderKind| self.riders.iter().any(|r| r.kind == k);
        if has(RiderKind::Exception)
            && let Expr::Id(id) = &term
        {
            term = Expr::With(id.clone(), format!("AdditionRef-{holder}-exception"));
        }
        if has(RiderKind::CommonsClause) {
            term = Expr::and(vec![term, Expr::Id(COMMONS_CLAUSE.to_owned())]);
        }
        if has(RiderKind::CommercialAlternative) {
            term = Expr::or(vec![
                term,
                Expr::Id(format!("LicenseRef-{holder}-Commercial")),
            ]);
        }
        term
    }
}

fn excerpt(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() > 16 {
        format!("{} ...", words[..16].join(" "))
    } else {
        words.join(" ")
    }
}

/// Recognises a run of non-standard words. Order matters: a Commons Clause and an exception
/// both mention licenses; a commercial offer is the loosest pattern.
fn recognise(text: &str) -> Option<RiderKind> {
    let lower = text.to_lowercase();
    if lower.contains("commons clause") {
        return Some(RiderKind::CommonsClause);
    }
    if lower.contains("additional permission") || lower.contains(" exception") {
        return Some(RiderKind::Exception);
    }
    let commercial = lower.contains("commercial licen") || lower.contains("commercial agreement");
    let choice = [
        "dual",
        "alternatively",
        "either",
        "choose",
        "option",
        " or under",
        "as an alternative",
    ]
    .iter()
    .any(|w| lower.contains(w));
    (commercial && choice).then_some(RiderKind::CommercialAlternative)
}

static OFFER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i:commercial (?:licen[cs]e|agreement|terms)s?(?: is| are)?(?: available)?(?: directly)? (?:from|with|by|through|offered by)|contact|purchased from|licensed by) (?:the )?([A-Z][\w&'-]*(?: [A-Z][\w&'-]*){0,3})",
    )
    .expect("static regex")
});

static YEARS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:copyright|\(c\)|©|[\d\s,\-–]+|present)+\s*").expect("static regex")
});

/// Words dropped from holder names: legal forms and generic tails (`Comfy Org, Inc.` → `Comfy`).
const LEGAL_FORMS: &[&str] = &[
    "inc",
    "llc",
    "ltd",
    "limited",
    "gmbh",
    "corp",
    "corporation",
    "co",
    "company",
    "org",
    "ab",
    "sa",
    "ag",
    "bv",
    "pbc",
    "plc",
    "srl",
    "sas",
    "oy",
    "as",
    "the",
    "and",
    "contributors",
    "authors",
    "all",
    "rights",
    "reserved",
];

/// `Comfy Org, Inc.` → `Comfy`; `Example Labs` → `Example-Labs`; at most two words.
#[must_use]
pub fn sanitise_holder(name: &str) -> Option<String> {
    let words: Vec<String> = name
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| {
            w.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
                .collect::<String>()
                .trim_matches(['.', '-'])
                .to_owned()
        })
        .filter(|w| !w.is_empty() && !LEGAL_FORMS.contains(&w.to_ascii_lowercase().as_str()))
        .take(2)
        .collect();
    (!words.is_empty()
        && words
            .iter()
            .any(|w| w.chars().any(|c| c.is_ascii_alphabetic())))
    .then(|| words.join("-"))
}

fn holder_from_offer(text: &str) -> Option<String> {
    OFFER
        .captures_iter(text)
        .filter_map(|c| c.get(1))
        .find_map(|m| sanitise_holder(m.as_str()))
}

fn holder_from_copyright(lines: &[String]) -> Option<String> {
    lines.iter().find_map(|line| {
        let rest = YEARS.replace(line.trim(), "");
        let rest = rest.split(['<', '(']).next().unwrap_or("");
        sanitise_holder(rest)
    })
}

fn holder_from_email(text: &str) -> Option<String> {
    let at = text.find('@')?;
    let domain = text[at + 1..].split(['.', ' ', '>', ')']).next()?;
    let mut chars = domain.chars();
    let first = chars.next()?.to_ascii_uppercase();
    sanitise_holder(&format!("{first}{}", chars.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::canonical::{self, standard_text};
    use crate::license::normalize::Markup;

    fn read(text: &str, id: &str, copyright: &[&str]) -> FileTerms {
        let c = canonical::compare(text, Markup::Text, id, 0.95);
        let cr: Vec<String> = copyright.iter().map(|s| (*s).to_owned()).collect();
        FileTerms::read(Some(id), c.as_ref(), text, &cr)
    }

    #[test]
    fn a_dual_license_preamble_is_an_or_with_the_named_holder() {
        let text = format!(
            "This project is dual-licensed. You may use it under the GNU Affero General Public License v3 below, or under a commercial license from Comfy Org, Inc. Contact licensing@comfy.org.\n\n{}",
            standard_text("AGPL-3.0-or-later").expect("text")
        );
        let t = read(&text, "AGPL-3.0-or-later", &[]);
        assert_eq!(
            t.term().to_string(),
            "AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial"
        );
        assert!(!t.modified);
    }

    #[test]
    fn riders_and_exceptions_become_and_and_with() {
        let cc = format!(
            "{}\n\n\"Commons Clause\" License Condition v1.0\n\nThe Software is provided to you by the Licensor under the License, subject to the following condition. Without limiting other conditions in the License, the grant of rights under the License will not include the right to Sell the Software.\n",
            standard_text("Apache-2.0").expect("text")
        );
        let t = read(&cc, "Apache-2.0", &["Copyright 2024 Example Labs"]);
        assert_eq!(
            t.term().to_string(),
            "Apache-2.0 AND LicenseRef-Commons-Clause"
        );
        let exc = format!(
            "{}\n\nAdditional permission under GNU AGPL version 3 section 7: if you have purchased a commercial license from Acme Software Ltd, the conditions of section 13 do not apply to your use.\n",
            standard_text("AGPL-3.0-or-later").expect("text")
        );
        let t = read(&exc, "AGPL-3.0-or-later", &[]);
        assert_eq!(
            t.term().to_string(),
            "AGPL-3.0-or-later WITH AdditionRef-Acme-Software-exception"
        );
    }

    #[test]
    fn an_unexplained_edit_marks_the_text_modified() {
        let mit = standard_text("MIT").expect("text").replacen(
            "without restriction",
            "without restriction, except that the Software may not be used to provide a hosted service to third parties",
            1,
        );
        let t = read(&mit, "MIT", &["Copyright (c) 2024 Example Corp"]);
        assert!(t.modified);
        assert_eq!(t.term().to_string(), "MIT");
        assert_eq!(t.holder.as_deref(), Some("Example"));
    }

    #[test]
    fn holder_names() {
        assert_eq!(sanitise_holder("Comfy Org, Inc.").as_deref(), Some("Comfy"));
        assert_eq!(
            sanitise_holder("Example Labs").as_deref(),
            Some("Example-Labs")
        );
        assert_eq!(sanitise_holder("2024").as_deref(), None);
        assert_eq!(
            holder_from_copyright(&[
                "Copyright (c) 2023-2025 Acme GmbH <legal@acme.example>".into()
            ])
            .as_deref(),
            Some("Acme")
        );
    }
}
