//! License families and the obligation that usually bites, from a table kept in source (pure).
//!
//! Owns the answer to "what kind of license is this, and what does it ask of an internal rebuild?".
//! It is a summary for a reviewer's first minute, never legal advice ([`DISCLAIMER`]).
//!
//! Sources of the table, per row (`Source`):
//! - the SPDX License List's `isOsiApproved` / `isFsfLibre` flags and its copyleft marking, as the
//!   `spdx` crate carries them (`spdx::LicenseId::{is_osi_approved, is_fsf_free_libre,
//!   is_copyleft}`): the fallback for ids the table does not name;
//! - the Blue Oak Council's permissive license list and its "Guide to Copyleft" families (weak,
//!   strong, network, maximal; version 8), for the open-source rows;
//! - Google's license classification (the `licenseclassifier` categories: notice, permissive,
//!   unencumbered, reciprocal, restricted, by-exception-only, forbidden), for the source-available and
//!   non-commercial rows the two lists above leave out (SSPL, BUSL, Elastic, Commons Clause, PolyForm,
//!   CC-BY-NC), where the license's own text decides the family.

use serde::{Deserialize, Serialize};

/// Shown beside every family line and obligation.
pub const DISCLAIMER: &str = "a summary for orientation, not legal advice";

/// How far a license reaches, ordered from least to most restrictive for an internal rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Public-domain dedications and permissive licenses (MIT, Apache-2.0, BSD, 0BSD, CC0).
    Permissive,
    /// File- or library-scoped copyleft (MPL, LGPL, EPL, CDDL).
    WeakCopyleft,
    /// Whole-program copyleft on distribution (GPL).
    StrongCopyleft,
    /// Copyleft that also reaches users over a network (AGPL, EUPL network clause aside).
    NetworkCopyleft,
    /// Source is public but use is limited (SSPL, BUSL, Elastic-2.0, Commons Clause riders).
    SourceAvailable,
    /// Non-commercial licenses and commercial/proprietary terms that need an agreement.
    NonCommercialProprietary,
    /// Not in the table and not classifiable from the SPDX flags.
    Unknown,
}

impl Family {
    /// The words people read: `network copyleft`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Permissive => "permissive",
            Self::WeakCopyleft => "weak copyleft",
            Self::StrongCopyleft => "strong copyleft",
            Self::NetworkCopyleft => "network copyleft",
            Self::SourceAvailable => "source-available",
            Self::NonCommercialProprietary => "non-commercial/proprietary",
            Self::Unknown => "unclassified",
        }
    }

    /// The obligation that usually matters for an internal rebuild, one sentence.
    #[must_use]
    pub fn obligation(self) -> &'static str {
        match self {
            Self::Permissive => {
                "permissive: keep the copyright and license notices in copies you pass on; nothing else is usually required"
            }
            Self::WeakCopyleft => {
                "weak copyleft: changes to the licensed files themselves must be shared under the same license when copies are passed on; code that only uses them need not be"
            }
            Self::StrongCopyleft => {
                "strong copyleft: passing on the program or anything built from it, binaries included, requires offering its complete source under the same license"
            }
            Self::NetworkCopyleft => {
                "network copyleft: offering modified versions to users over a network requires offering them the source"
            }
            Self::SourceAvailable => {
                "source-available: use is allowed only within the license's limits (typically no competing hosted service or resale); it is not an open-source license"
            }
            Self::NonCommercialProprietary => {
                "non-commercial/proprietary: use beyond the license's narrow grant, commercial use included, needs an agreement with the licensor"
            }
            Self::Unknown => "unclassified: the license is not in upkeep's table; read its terms",
        }
    }
}

/// Where a row's classification comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// Blue Oak Council: permissive list or copyleft family.
    BlueOak,
    /// Google's license classification categories.
    GoogleClassifier,
    /// The SPDX License List flags (fallback for ids not in the table).
    SpdxFlags,
    /// A `LicenseRef-` upkeep builds itself (commercial alternatives, Commons Clause riders).
    Upkeep,
    /// Nothing known.
    None,
}

/// The table: SPDX id (exact, or a GNU family stem matched with `-only`/`-or-later`) → family.
const TABLE: &[(&str, Family, Source)] = &[
    // Permissive (Blue Oak permissive list; public-domain dedications as Google's "unencumbered").
    ("0BSD", Family::Permissive, Source::BlueOak),
    ("MIT", Family::Permissive, Source::BlueOak),
    ("MIT-0", Family::Permissive, Source::BlueOak),
    ("X11", Family::Permissive, Source::BlueOak),
    ("ISC", Family::Permissive, Source::BlueOak),
    ("Apache-2.0", Family::Permissive, Source::BlueOak),
    ("Apache-1.1", Family::Permissive, Source::BlueOak),
    ("BSD-2-Clause", Family::Permissive, Source::BlueOak),
    ("BSD-2-Clause-Patent", Family::Permissive, Source::BlueOak),
    ("BSD-3-Clause", Family::Permissive, Source::BlueOak),
    ("BSD-3-Clause-Clear", Family::Permissive, Source::BlueOak),
    ("BSD-4-Clause", Family::Permissive, Source::BlueOak),
    ("BlueOak-1.0.0", Family::Permissive, Source::BlueOak),
    ("BSL-1.0", Family::Permissive, Source::BlueOak),
    ("Zlib", Family::Permissive, Source::BlueOak),
    ("zlib-acknowledgement", Family::Permissive, Source::BlueOak),
    ("PostgreSQL", Family::Permissive, Source::BlueOak),
    ("Python-2.0", Family::Permissive, Source::BlueOak),
    ("PSF-2.0", Family::Permissive, Source::BlueOak),
    ("UPL-1.0", Family::Permissive, Source::BlueOak),
    ("NCSA", Family::Permissive, Source::BlueOak),
    ("AFL-3.0", Family::Permissive, Source::BlueOak),
    ("ECL-2.0", Family::Permissive, Source::BlueOak),
    ("curl", Family::Permissive, Source::BlueOak),
    ("W3C", Family::Permissive, Source::BlueOak),
    ("Unicode-3.0", Family::Permissive, Source::BlueOak),
    ("Unicode-DFS-2016", Family::Permissive, Source::BlueOak),
    ("MulanPSL-2.0", Family::Permissive, Source::BlueOak),
    ("CC-BY-4.0", Family::Permissive, Source::GoogleClassifier),
    ("CC-BY-3.0", Family::Permissive, Source::GoogleClassifier),
    ("Unlicense", Family::Permissive, Source::GoogleClassifier),
    ("CC0-1.0", Family::Permissive, Source::GoogleClassifier),
    ("WTFPL", Family::Permissive, Source::GoogleClassifier),
    ("Beerware", Family::Permissive, Source::GoogleClassifier),
    ("JSON", Family::Permissive, Source::GoogleClassifier),
    ("OpenSSL", Family::Permissive, Source::GoogleClassifier),
    ("Ruby", Family::Permissive, Source::GoogleClassifier),
    ("Vim", Family::Permissive, Source::GoogleClassifier),
    ("PHP-3.01", Family::Permissive, Source::GoogleClassifier),
    // Weak copyleft (Blue Oak "weak copyleft" family; Google "reciprocal" / LGPL "restricted").
    ("MPL-2.0", Family::WeakCopyleft, Source::BlueOak),
    ("MPL-1.1", Family::WeakCopyleft, Source::BlueOak),
    ("LGPL-2.0", Family::WeakCopyleft, Source::BlueOak),
    ("LGPL-2.1", Family::WeakCopyleft, Source::BlueOak),
    ("LGPL-3.0", Family::WeakCopyleft, Source::BlueOak),
    ("EPL-1.0", Family::WeakCopyleft, Source::BlueOak),
    ("EPL-2.0", Family::WeakCopyleft, Source::BlueOak),
    ("CDDL-1.0", Family::WeakCopyleft, Source::BlueOak),
    ("CDDL-1.1", Family::WeakCopyleft, Source::BlueOak),
    ("CPL-1.0", Family::WeakCopyleft, Source::BlueOak),
    ("MS-RL", Family::WeakCopyleft, Source::BlueOak),
    ("APSL-2.0", Family::WeakCopyleft, Source::BlueOak),
    (
        "Artistic-2.0",
        Family::WeakCopyleft,
        Source::GoogleClassifier,
    ),
    ("OFL-1.1", Family::WeakCopyleft, Source::GoogleClassifier),
    ("LPPL-1.3c", Family::WeakCopyleft, Source::GoogleClassifier),
    (
        "CC-BY-SA-4.0",
        Family::WeakCopyleft,
        Source::GoogleClassifier,
    ),
    ("MS-PL", Family::Permissive, Source::BlueOak),
    // Strong copyleft (Blue Oak "strong copyleft"; Google "restricted").
    ("GPL-1.0", Family::StrongCopyleft, Source::BlueOak),
    ("GPL-2.0", Family::StrongCopyleft, Source::BlueOak),
    ("GPL-3.0", Family::StrongCopyleft, Source::BlueOak),
    ("EUPL-1.1", Family::StrongCopyleft, Source::BlueOak),
    ("EUPL-1.2", Family::StrongCopyleft, Source::BlueOak),
    ("CECILL-2.1", Family::StrongCopyleft, Source::BlueOak),
    ("OSL-3.0", Family::StrongCopyleft, Source::BlueOak),
    ("Sleepycat", Family::StrongCopyleft, Source::BlueOak),
    // Network copyleft (Blue Oak "network copyleft"; Google "forbidden").
    ("AGPL-1.0", Family::NetworkCopyleft, Source::BlueOak),
    ("AGPL-3.0", Family::NetworkCopyleft, Source::BlueOak),
    // Source-available (Google "forbidden"/"by exception only"; not OSI-approved).
    (
        "SSPL-1.0",
        Family::SourceAvailable,
        Source::GoogleClassifier,
    ),
    (
        "BUSL-1.1",
        Family::SourceAvailable,
        Source::GoogleClassifier,
    ),
    (
        "Elastic-2.0",
        Family::SourceAvailable,
        Source::GoogleClassifier,
    ),
    (
        "FSL-1.1-MIT",
        Family::SourceAvailable,
        Source::GoogleClassifier,
    ),
    (
        "FSL-1.1-ALv2",
        Family::SourceAvailable,
        Source::GoogleClassifier,
    ),
    (
        "Commons-Clause",
        Family::SourceAvailable,
        Source::GoogleClassifier,
    ),
    // Non-commercial (Google "forbidden").
    (
        "CC-BY-NC-4.0",
        Family::NonCommercialProprietary,
        Source::GoogleClassifier,
    ),
    (
        "CC-BY-NC-SA-4.0",
        Family::NonCommercialProprietary,
        Source::GoogleClassifier,
    ),
    (
        "CC-BY-NC-ND-4.0",
        Family::NonCommercialProprietary,
        Source::GoogleClassifier,
    ),
    (
        "PolyForm-Noncommercial-1.0.0",
        Family::NonCommercialProprietary,
        Source::GoogleClassifier,
    ),
    (
        "PolyForm-Small-Business-1.0.0",
        Family::NonCommercialProprietary,
        Source::GoogleClassifier,
    ),
];

/// Sentences for licenses whose bite is more specific than their family's.
const SPECIFIC: &[(&str, &str)] = &[
    (
        "SSPL-1.0",
        "source-available: offering the program as a service requires releasing the source of the whole service stack under the SSPL",
    ),
    (
        "BUSL-1.1",
        "source-available until the Change Date: production use is allowed only as the Additional Use Grant says; the Change License applies afterwards",
    ),
    (
        "Elastic-2.0",
        "source-available: the software may not be offered to others as a hosted or managed service, and license-key functions must not be circumvented",
    ),
    (
        "Commons-Clause",
        "Commons Clause: selling the software, or a service whose value derives substantially from it, is not permitted",
    ),
    (
        "FSL-1.1-MIT",
        "source-available for two years per release: no competing use; each release becomes MIT two years after it is made available",
    ),
    (
        "FSL-1.1-ALv2",
        "source-available for two years per release: no competing use; each release becomes Apache-2.0 two years after it is made available",
    ),
];

/// The classification of one license id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classified {
    pub id: String,
    pub family: Family,
    pub source: Source,
    /// One sentence: what usually matters for an internal rebuild.
    pub obligation: String,
}

/// Strips the GNU `-only` / `-or-later` / `+` suffixes so one row covers all three.
fn stem(id: &str) -> &str {
    let id = id.trim_end_matches('+');
    id.strip_suffix("-only")
        .or_else(|| id.strip_suffix("-or-later"))
        .unwrap_or(id)
}

/// Classifies one id (SPDX, `LicenseRef-*` or `AdditionRef-*`).
#[must_use]
pub fn classify(id: &str) -> Classified {
    let (family, source) = lookup(id);
    let specific = SPECIFIC
        .iter()
        .find(|(i, _)| *i == stem(id) || (*i == "Commons-Clause" && is_commons_clause_ref(id)))
        .map(|(_, s)| (*s).to_owned());
    Classified {
        id: id.to_owned(),
        family,
        source,
        obligation: specific.unwrap_or_else(|| family.obligation().to_owned()),
    }
}

fn is_commons_clause_ref(id: &str) -> bool {
    id.to_ascii_lowercase().contains("commons-clause")
}

fn lookup(id: &str) -> (Family, Source) {
    let s = stem(id);
    if let Some((_, f, src)) = TABLE.iter().find(|(i, _, _)| *i == id || *i == s) {
        return (*f, *src);
    }
    if id.starts_with("LicenseRef-") || id.starts_with("AdditionRef-") {
        let lower = id.to_ascii_lowercase();
        if is_commons_clause_ref(id) {
            return (Family::SourceAvailable, Source::Upkeep);
        }
        if lower.contains("commercial") || lower.contains("proprietary") {
            return (Family::NonCommercialProprietary, Source::Upkeep);
        }
        return (Family::Unknown, Source::None);
    }
    match spdx::license_id(id) {
        Some(l) if l.is_copyleft() => (Family::StrongCopyleft, Source::SpdxFlags),
        Some(l) if l.is_osi_approved() || l.is_fsf_free_libre() => {
            (Family::Permissive, Source::SpdxFlags)
        }
        _ => (Family::Unknown, Source::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_and_gnu_variants() {
        assert_eq!(classify("MIT").family, Family::Permissive);
        assert_eq!(
            classify("AGPL-3.0-or-later").family,
            Family::NetworkCopyleft
        );
        assert_eq!(classify("AGPL-3.0-only").family, Family::NetworkCopyleft);
        assert_eq!(classify("GPL-2.0+").family, Family::StrongCopyleft);
        assert_eq!(classify("LGPL-2.1-only").family, Family::WeakCopyleft);
        assert_eq!(classify("SSPL-1.0").family, Family::SourceAvailable);
        assert!(
            classify("SSPL-1.0")
                .obligation
                .contains("whole service stack")
        );
        assert_eq!(
            classify("AGPL-3.0-only").obligation,
            "network copyleft: offering modified versions to users over a network requires offering them the source"
        );
        assert_eq!(
            classify("PolyForm-Noncommercial-1.0.0").family,
            Family::NonCommercialProprietary
        );
    }

    #[test]
    fn refs_and_fallbacks() {
        assert_eq!(
            classify("LicenseRef-Comfy-Commercial").family,
            Family::NonCommercialProprietary
        );
        let cc = classify("LicenseRef-Commons-Clause");
        assert_eq!(cc.family, Family::SourceAvailable);
        assert!(cc.obligation.contains("selling"), "{}", cc.obligation);
        assert_eq!(classify("LicenseRef-Whatever").family, Family::Unknown);
        // Not in the table: the SPDX flags decide (OSL-1.0 is OSI-approved and copyleft).
        let osl = classify("OSL-1.0");
        assert_eq!(
            (osl.family, osl.source),
            (Family::StrongCopyleft, Source::SpdxFlags)
        );
        assert!(Family::NetworkCopyleft > Family::StrongCopyleft);
        assert!(Family::Permissive < Family::WeakCopyleft);
    }
}
