//! Version schemes: parsing release tags' version text and ordering versions (pure).
//!
//! Owns the four schemes a server's config can name (`semver`, `pep440`, `calver`, `loose`),
//! the total order within each, and the prerelease test. It does not know about tags, tag
//! patterns or git: callers capture the version text from a tag and skip the ones that do not
//! parse (`Version::parse` returns `None`, never panics, on any input).
//!
//! Equality is semantic, consistent with the order: `v1.2` and `1.2.0` are equal semver
//! versions, and so are `1.0+a` and `1.0+b` (semver build metadata is ignored for ordering).
//! PEP 440 versions follow the specification through `pep440_rs`, local labels included
//! (`1.0 < 1.0+local.7`). Callers that need a deterministic order among equal versions break
//! ties on [`Version::as_str`].

use std::cmp::Ordering;
use std::fmt;

/// How a server numbers its releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionScheme {
    /// Semantic versioning; `1.2` and `1` and a leading `v` are accepted too.
    #[default]
    Semver,
    /// Python's PEP 440.
    Pep440,
    /// Calendar versions such as `2024.11.3`, `24.04` or `2026-11-27`.
    Calver,
    /// Anything with digits, compared like `sort -V`.
    Loose,
}

/// A parsed version: the raw text as captured plus the key it is ordered by.
#[derive(Debug, Clone)]
pub struct Version {
    raw: String,
    key: Key,
}

/// The ordering key. Variants are ordered by scheme first so that the order stays total even
/// when versions of different schemes are compared (which callers should not do).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Semver(SemverKey),
    Pep440(Pep440Key),
    Calver(CalverKey),
    Loose(LooseKey),
}

impl Version {
    /// Parses `raw` under `scheme`; `None` when it is not a version of that scheme.
    pub fn parse(scheme: VersionScheme, raw: &str) -> Option<Version> {
        let key = match scheme {
            VersionScheme::Semver => Key::Semver(SemverKey::parse(raw)?),
            VersionScheme::Pep440 => Key::Pep440(Pep440Key::parse(raw)?),
            VersionScheme::Calver => Key::Calver(CalverKey::parse(raw)?),
            VersionScheme::Loose => Key::Loose(LooseKey::parse(raw)?),
        };
        Some(Version {
            raw: raw.to_owned(),
            key,
        })
    }

    /// True for prereleases (semver pre part, PEP 440 pre or dev, calver suffix, loose markers).
    pub fn is_prerelease(&self) -> bool {
        match &self.key {
            Key::Semver(k) => !k.0.pre.is_empty(),
            Key::Pep440(k) => k.is_prerelease(),
            Key::Calver(k) => k.suffix.is_some(),
            Key::Loose(k) => k.is_prerelease(),
        }
    }

    /// The raw captured version text.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The scheme this version was parsed with.
    pub fn scheme(&self) -> VersionScheme {
        match self.key {
            Key::Semver(_) => VersionScheme::Semver,
            Key::Pep440(_) => VersionScheme::Pep440,
            Key::Calver(_) => VersionScheme::Calver,
            Key::Loose(_) => VersionScheme::Loose,
        }
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// A non-negative integer of any length, kept as digits without leading zeros so that huge
/// numbers in hostile tags neither overflow nor panic.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Num(String);

impl Num {
    /// `digits` must be ASCII digits only (may be empty, meaning zero).
    fn new(digits: &str) -> Num {
        Num(digits.trim_start_matches('0').to_owned())
    }

    fn zero() -> Num {
        Num(String::new())
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

/// Strips one leading `v`/`V` when a digit follows.
fn strip_v(s: &str) -> &str {
    match s.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => s,
    }
}

// ---------------------------------------------------------------------------------------------
// semver

/// A semver version with build metadata cleared (it does not take part in ordering).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SemverKey(semver::Version);

impl SemverKey {
    fn parse(raw: &str) -> Option<SemverKey> {
        let s = strip_v(raw);
        // Split off the pre/build tail so that the sloppy `1` / `1.2` forms can be filled in.
        let tail_at = s.find(['-', '+']).unwrap_or(s.len());
        let (core, tail) = s.split_at(tail_at);
        let parts = core.split('.').count();
        let filled = match parts {
            1 => format!("{core}.0.0{tail}"),
            2 => format!("{core}.0{tail}"),
            _ => s.to_owned(),
        };
        let mut v = semver::Version::parse(&filled).ok()?;
        v.build = semver::BuildMetadata::EMPTY;
        Some(SemverKey(v))
    }
}

// ---------------------------------------------------------------------------------------------
// PEP 440

/// A PEP 440 version as parsed, normalised and ordered by `pep440_rs` (the parser uv grew
/// from): epochs, pre/post/dev releases, implicit numbers, alternative spellings, and local
/// labels ordered as the specification says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pep440Key(pep440_rs::Version);

impl Pep440Key {
    /// `None` for text that is not a PEP 440 version, and for numbers beyond `u64`, which the
    /// crate refuses (PEP 440 sets no bound; such a tag is skipped like any unparsable one).
    fn parse(raw: &str) -> Option<Pep440Key> {
        raw.parse::<pep440_rs::Version>().ok().map(Pep440Key)
    }

    /// A pre-release or a development release (PEP 440 counts both as pre-releases).
    fn is_prerelease(&self) -> bool {
        self.0.any_prerelease()
    }
}

// ---------------------------------------------------------------------------------------------
// calver

#[derive(Debug, Clone)]
struct CalverKey {
    segments: Vec<Num>,
    /// The text after a `-` that is not numeric: marks a prerelease.
    suffix: Option<LooseKey>,
}

impl CalverKey {
    fn parse(raw: &str) -> Option<CalverKey> {
        let s = strip_v(raw.trim());
        let mut segments = Vec::new();
        let mut rest = s;
        let mut suffix = None;
        loop {
            let end = rest.find(['.', '-']).unwrap_or(rest.len());
            let seg = &rest[..end];
            if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            segments.push(Num::new(seg));
            if end == rest.len() {
                break;
            }
            let sep = rest.as_bytes()[end];
            rest = &rest[end + 1..];
            if sep == b'-' {
                let next_end = rest.find(['.', '-']).unwrap_or(rest.len());
                let next = &rest[..next_end];
                if next.is_empty() || !next.bytes().all(|b| b.is_ascii_digit()) {
                    // A non-numeric part after `-`: the rest is a prerelease suffix.
                    if !rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                    {
                        return None;
                    }
                    suffix = Some(LooseKey::parse_tokens(rest)?);
                    break;
                }
            }
        }
        Some(CalverKey { segments, suffix })
    }
}

// Equality must agree with the order, which pads missing segments with zeros.
impl PartialEq for CalverKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for CalverKey {}

impl PartialOrd for CalverKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CalverKey {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.segments.len().max(other.segments.len());
        let zero = Num::zero();
        for i in 0..n {
            let a = self.segments.get(i).unwrap_or(&zero);
            let b = other.segments.get(i).unwrap_or(&zero);
            match a.cmp(b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        // Same date: a release sorts after its prereleases.
        match (&self.suffix, &other.suffix) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => a.cmp(b),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// loose

/// One run of a loose version: numbers sort before words at the same position, as in `sort -V`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    Num(Num),
    Word(String),
}

/// Tokens compared lexicographically; a version that is a prefix of another sorts first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LooseKey(Vec<Token>);

const PRERELEASE_MARKERS: [&str; 8] = [
    "alpha", "beta", "rc", "pre", "dev", "preview", "nightly", "snapshot",
];

impl LooseKey {
    fn parse(raw: &str) -> Option<LooseKey> {
        let key = LooseKey::parse_tokens(strip_v(raw.trim()))?;
        // Without a single number it is a name (`latest`), not a version.
        key.0
            .iter()
            .any(|t| matches!(t, Token::Num(_)))
            .then_some(key)
    }

    /// Splits into numeric and alphabetic runs; everything else separates runs.
    fn parse_tokens(s: &str) -> Option<LooseKey> {
        let mut tokens = Vec::new();
        let mut chars = s.char_indices().peekable();
        while let Some(&(start, c)) = chars.peek() {
            if c.is_ascii_digit() || c.is_alphabetic() {
                let digit = c.is_ascii_digit();
                let mut end = start;
                while let Some(&(i, c)) = chars.peek() {
                    let same = if digit {
                        c.is_ascii_digit()
                    } else {
                        c.is_alphabetic() && !c.is_ascii_digit()
                    };
                    if !same {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                let run = &s[start..end];
                tokens.push(if digit {
                    Token::Num(Num::new(run))
                } else {
                    Token::Word(run.to_lowercase())
                });
            } else {
                chars.next();
            }
        }
        (!tokens.is_empty()).then_some(LooseKey(tokens))
    }

    fn is_prerelease(&self) -> bool {
        self.0.iter().any(|t| match t {
            Token::Word(w) => PRERELEASE_MARKERS.iter().any(|m| w.starts_with(m)),
            Token::Num(_) => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(scheme: VersionScheme, s: &str) -> Version {
        Version::parse(scheme, s).unwrap_or_else(|| panic!("{s} should parse as {scheme:?}"))
    }

    /// Asserts that each version in `ordered` sorts strictly before the next.
    fn assert_ascending(scheme: VersionScheme, ordered: &[&str]) {
        for pair in ordered.windows(2) {
            let (a, b) = (v(scheme, pair[0]), v(scheme, pair[1]));
            assert!(a < b, "{scheme:?}: expected {} < {}", pair[0], pair[1]);
            assert!(b > a);
        }
    }

    #[test]
    fn semver_parse_table() {
        use VersionScheme::Semver;
        let cases: &[(&str, Option<bool>)] = &[
            ("1.2.3", Some(false)),
            ("v1.2.3", Some(false)),
            ("V1.2.3", Some(false)),
            ("1.2", Some(false)),
            ("1", Some(false)),
            ("v2", Some(false)),
            ("1.2.3-rc.1", Some(true)),
            ("1.2-beta", Some(true)),
            ("1.2.3+build.5", Some(false)),
            ("1.2.3-alpha+build", Some(true)),
            ("", None),
            ("v", None),
            ("1.2.3.4", None),
            ("01.2.3", None),
            ("1..2", None),
            ("release-1.2.3", None),
            ("1.2.x", None),
            ("vv1.2.3", None),
        ];
        for (raw, expected) in cases {
            let got = Version::parse(Semver, raw).map(|v| v.is_prerelease());
            assert_eq!(got, *expected, "semver {raw:?}");
        }
    }

    #[test]
    fn semver_ordering() {
        assert_ascending(
            VersionScheme::Semver,
            &[
                "0.9.9",
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-beta",
                "1.0.0-rc.1",
                "1.0.0",
                "1.0.1",
                "1.2",
                "v1.10.0",
                "2",
            ],
        );
        let a = v(VersionScheme::Semver, "v1.2");
        let b = v(VersionScheme::Semver, "1.2.0+meta");
        assert_eq!(a, b, "fill-in and build metadata do not change the order");
        assert_eq!(a.as_str(), "v1.2");
        assert_eq!(b.to_string(), "1.2.0+meta");
    }

    #[test]
    fn pep440_parse_table() {
        use VersionScheme::Pep440;
        let cases: &[(&str, Option<bool>)] = &[
            ("1.0", Some(false)),
            ("v1.0", Some(false)),
            ("1!2.0", Some(false)),
            ("1.0a1", Some(true)),
            ("1.0-alpha.1", Some(true)),
            ("1.0.0rc2", Some(true)),
            ("1.0c2", Some(true)),
            ("1.0.post1", Some(false)),
            ("1.0-1", Some(false)),
            ("1.0.dev3", Some(true)),
            ("1.0a1.dev1", Some(true)),
            ("1.0.post1.dev2", Some(true)),
            ("1.0+ubuntu.1", Some(false)),
            ("2024.1.15.3.2", Some(false)),
            (" 1.0 ", Some(false)),
            ("1.0+", None),
            ("1.0.x", None),
            ("a1.0", None),
            ("", None),
        ];
        for (raw, expected) in cases {
            let got = Version::parse(Pep440, raw).map(|v| v.is_prerelease());
            assert_eq!(got, *expected, "pep440 {raw:?}");
        }
    }

    #[test]
    fn pep440_ordering_follows_the_spec_example() {
        // The ordering example from PEP 440 "Summary of permitted suffixes and relative ordering".
        assert_ascending(
            VersionScheme::Pep440,
            &[
                "1.dev0",
                "1.0.dev456",
                "1.0a1",
                "1.0a2.dev456",
                "1.0a12.dev456",
                "1.0a12",
                "1.0b1.dev456",
                "1.0b2",
                "1.0b2.post345.dev456",
                "1.0b2.post345",
                "1.0rc1.dev456",
                "1.0rc1",
                "1.0",
                "1.0.post456.dev34",
                "1.0.post456",
                "1.0.15",
                "1.1.dev1",
                "2!0.1",
            ],
        );
    }

    #[test]
    fn pep440_normalisation_makes_spellings_equal() {
        use VersionScheme::Pep440;
        let same = [
            ("1.0", "1.0.0"),
            ("1.0alpha1", "1.0a1"),
            ("1.0-beta-2", "1.0b2"),
            ("1.0preview1", "1.0rc1"),
            ("1.0c1", "1.0rc1"),
            ("1.0-1", "1.0.post1"),
            ("1.0rev1", "1.0.post1"),
            ("1.0.post", "1.0.post0"),
            ("1.0-dev", "1.0.dev0"),
            ("0!1.0", "1.0"),
            ("V1.0RC1", "1.0rc1"),
            ("1.01", "1.1"),
        ];
        for (a, b) in same {
            assert_eq!(v(Pep440, a), v(Pep440, b), "{a} == {b}");
        }
        // Changed with pep440_rs: local labels used to be ignored (`1.0+local.7` == `1.0`). PEP
        // 440, "Local version identifiers", orders them: a local version sorts after its public
        // version, and local segments compare numerically or lexicographically.
        assert!(v(Pep440, "1.0") < v(Pep440, "1.0+local.7"));
        assert!(v(Pep440, "1.0+local.7") < v(Pep440, "1.0+local.10"));
        assert!(v(Pep440, "1.0+local.7") < v(Pep440, "1.0.post1"));
    }

    #[test]
    fn calver_table() {
        use VersionScheme::Calver;
        let cases: &[(&str, Option<bool>)] = &[
            ("2024.11.3", Some(false)),
            ("24.04", Some(false)),
            ("2026-11-27", Some(false)),
            ("v2024.11.0", Some(false)),
            ("2024.11.0-rc1", Some(true)),
            ("2024.11.0-beta.2", Some(true)),
            ("2024.11.0-", None),
            ("2024..1", None),
            ("2024.11.x", None),
            ("2024.11.0-rc 1", None),
            ("", None),
        ];
        for (raw, expected) in cases {
            let got = Version::parse(Calver, raw).map(|v| v.is_prerelease());
            assert_eq!(got, *expected, "calver {raw:?}");
        }
        assert_ascending(
            Calver,
            &[
                "2024.1.0",
                "2024.9.1",
                "2024.11.0-rc1",
                "2024.11.0-rc2",
                "2024.11.0",
                "2024.11.3",
                "2026-11-27",
                "2026-12-01",
            ],
        );
        assert_eq!(v(Calver, "2024.11"), v(Calver, "2024.11.0"));
    }

    #[test]
    fn loose_table() {
        use VersionScheme::Loose;
        let cases: &[(&str, Option<bool>)] = &[
            ("1.2.3", Some(false)),
            ("release-2024_05", Some(false)),
            ("r42", Some(false)),
            ("1.0-beta3", Some(true)),
            ("2.0.0-SNAPSHOT", Some(true)),
            ("nightly-2024-05-01", Some(true)),
            ("3.1rc1", Some(true)),
            ("latest", None),
            ("---", None),
            ("", None),
        ];
        for (raw, expected) in cases {
            let got = Version::parse(Loose, raw).map(|v| v.is_prerelease());
            assert_eq!(got, *expected, "loose {raw:?}");
        }
        assert_ascending(
            Loose,
            &[
                "1.2", "1.2.1", "1.2.1a", "1.2.1b", "1.9", "v1.10", "1.10.0", "2",
            ],
        );
    }

    #[test]
    fn huge_numbers_compare_without_overflow() {
        let big = "1.99999999999999999999999999999";
        let bigger = "1.100000000000000000000000000000";
        for scheme in [VersionScheme::Calver, VersionScheme::Loose] {
            assert!(v(scheme, big) < v(scheme, bigger), "{scheme:?}");
        }
        // Changed with pep440_rs: it keeps each number in a u64 and refuses larger ones (PEP 440
        // itself sets no bound). Such a tag is skipped like any other unparsable one, never a
        // panic; numbers up to u64::MAX still compare.
        use VersionScheme::Pep440;
        assert!(Version::parse(Pep440, big).is_none());
        assert!(v(Pep440, "1.9999999999999999999") < v(Pep440, "1.18446744073709551615"));
    }

    #[test]
    fn scheme_deserialises_kebab_case() {
        #[derive(serde::Deserialize)]
        struct W {
            s: VersionScheme,
        }
        let w: W = toml::from_str("s = \"pep440\"").unwrap();
        assert_eq!(w.s, VersionScheme::Pep440);
        assert_eq!(VersionScheme::default(), VersionScheme::Semver);
    }

    const SCHEMES: [VersionScheme; 4] = [
        VersionScheme::Semver,
        VersionScheme::Pep440,
        VersionScheme::Calver,
        VersionScheme::Loose,
    ];

    /// Version-like strings, so that random samples actually parse.
    fn versionish() -> impl Strategy<Value = String> {
        prop::string::string_regex(
            "[vV]?([0-9]!)?[0-9]{1,3}([.-][0-9]{1,3}){0,3}([-.]?(a|b|c|rc|alpha|beta|dev|post|pre)[.]?[0-9]{0,2}){0,2}(\\+[a-z0-9]{1,3})?",
        )
        .expect("valid strategy regex")
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            for scheme in SCHEMES {
                if let Some(v) = Version::parse(scheme, &s) {
                    prop_assert_eq!(v.as_str(), s.as_str());
                    let _ = v.is_prerelease();
                }
            }
        }

        #[test]
        fn ordering_is_a_total_order(a in versionish(), b in versionish(), c in versionish()) {
            for scheme in SCHEMES {
                let (Some(a), Some(b), Some(c)) = (
                    Version::parse(scheme, &a),
                    Version::parse(scheme, &b),
                    Version::parse(scheme, &c),
                ) else {
                    continue;
                };
                // Antisymmetric and consistent with Eq.
                prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
                prop_assert_eq!(a == b, a.cmp(&b) == Ordering::Equal);
                // Transitive.
                if a <= b && b <= c {
                    prop_assert!(a <= c, "{} <= {} <= {} but not {} <= {}", a, b, c, a, c);
                }
                if a < b && b < c {
                    prop_assert!(a < c);
                }
            }
        }
    }
}
