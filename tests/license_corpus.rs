//! License corpus: cosmetic and substantive variants of the SPDX texts the `spdx` crate ships,
//! judged in memory for many licenses and end to end through real git repositories for a subset.
//!
//! Targets: every substantive variant is `review-required` (100 % recall); at most 1 % of
//! cosmetic variants are flagged; shipped texts are identified as themselves (rate reported).
//! Run with `cargo test --test license_corpus -- --nocapture` to see the tables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use git2::{Oid, Repository, Signature};
use upkeep::license::{
    EntryKind, LicenseEntry, LicenseJudgement, LicensePolicy, LicenseSnapshot, Verdict, judge, scan,
};

/// The licenses the variants are built from: the common ones first (at least the 40 most used).
const IDS: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "MPL-2.0",
    "GPL-2.0-only",
    "GPL-3.0-only",
    "LGPL-2.1-only",
    "LGPL-3.0-only",
    "AGPL-3.0-only",
    "BUSL-1.1",
    "Unlicense",
    "0BSD",
    "Zlib",
    "EPL-2.0",
    "EPL-1.0",
    "CC0-1.0",
    "MIT-0",
    "BSL-1.0",
    "Artistic-2.0",
    "BSD-4-Clause",
    "BSD-3-Clause-Clear",
    "CDDL-1.0",
    "EUPL-1.2",
    "MS-PL",
    "MS-RL",
    "OFL-1.1",
    "PostgreSQL",
    "Python-2.0",
    "UPL-1.0",
    "WTFPL",
    "X11",
    "NCSA",
    "CC-BY-4.0",
    "CC-BY-SA-4.0",
    "Elastic-2.0",
    "SSPL-1.0",
    "AFL-3.0",
    "OSL-3.0",
    "MulanPSL-2.0",
    "BlueOak-1.0.0",
    "ECL-2.0",
    "LGPL-2.0-only",
    "Apache-1.1",
    "curl",
    "JSON",
    "Beerware",
    "MPL-1.1",
    "CECILL-2.1",
    "PHP-3.01",
    "Ruby",
    "Sleepycat",
    "W3C",
    "Unicode-3.0",
    "FSL-1.1-MIT",
    "PolyForm-Noncommercial-1.0.0",
    "Vim",
    "ISC-Veillard",
    "BSD-2-Clause-Patent",
    "zlib-acknowledgement",
    "CC-BY-NC-4.0",
    "OpenSSL",
    "LPPL-1.3c",
    "AGPL-1.0-only",
    "GPL-1.0-only",
    "EUPL-1.1",
    "APSL-2.0",
    "CPL-1.0",
];

/// Ids whose texts the git end-to-end subset uses.
const GIT_SUBSET: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "BSD-3-Clause",
    "GPL-3.0-only",
    "BUSL-1.1",
    "ISC",
    "MPL-2.0",
    "Unlicense",
];

const COMMONS_CLAUSE: &str = "\"Commons Clause\" License Condition v1.0\n\n\
The Software is provided to you by the Licensor under the License, as defined below, subject to the following \
condition.\n\n\
Without limiting other conditions in the License, the grant of rights under the License will not include, and \
the License does not grant to you, the right to Sell the Software.\n\n\
For purposes of the foregoing, \"Sell\" means practicing any or all of the rights granted to you under the \
License to provide to third parties, for a fee or other consideration (including without limitation fees for \
hosting or consulting/ support services related to the Software), a product or service whose value derives, \
entirely or substantially, from the functionality of the Software.\n";

const RESTRICTION: &str = "The Software may not be used to provide a hosted service to third parties without a commercial agreement with Example Corp.";

const NOTICE: &str = "Example Server\nCopyright 2023 Example Corp\n\nThis product includes software developed at Example Corp (https://example.com/).\n";

fn spdx_text(id: &str) -> &'static str {
    spdx::text::LICENSE_TEXTS
        .iter()
        .find(|(name, _)| *name == id)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("no SPDX text for {id}"))
}

/// A repository state: files (path -> bytes) and manifest fields (path, field, value).
#[derive(Clone, Debug)]
struct State {
    files: BTreeMap<String, Vec<u8>>,
    package_license: Option<String>,
}

impl State {
    fn base(id: &str) -> Self {
        let mut files = BTreeMap::new();
        files.insert(
            "LICENSE".to_owned(),
            format!("Copyright (c) 2023 Example Corp\n\n{}", spdx_text(id)).into_bytes(),
        );
        files.insert("NOTICE".to_owned(), NOTICE.as_bytes().to_vec());
        Self {
            files,
            package_license: Some(id.to_owned()),
        }
    }

    fn license(&self) -> String {
        String::from_utf8(self.files["LICENSE"].clone()).expect("utf-8")
    }

    fn with_license(mut self, text: String) -> Self {
        self.files.insert("LICENSE".to_owned(), text.into_bytes());
        self
    }

    fn package_json(&self) -> Option<String> {
        self.package_license.as_ref().map(|l| {
            format!(
                "{{\n  \"name\": \"example\",\n  \"license\": {}\n}}\n",
                serde_json::json!(l)
            )
        })
    }

    /// The snapshot built in memory (what `scan` would build, without git).
    fn snapshot(&self) -> LicenseSnapshot {
        let mut snap = LicenseSnapshot::empty();
        for (path, bytes) in &self.files {
            let kind = if path.starts_with("NOTICE") {
                EntryKind::Notice
            } else {
                EntryKind::License
            };
            snap.entries
                .push(LicenseEntry::from_file_bytes(path, kind, None, bytes).expect("entry"));
        }
        if let Some(l) = &self.package_license {
            snap.entries.push(LicenseEntry::from_manifest_value(
                "package.json",
                "license",
                l,
            ));
        }
        snap.sort();
        snap
    }
}

// ---- text transformations -------------------------------------------------------------------

fn is_copyrightish(line: &str) -> bool {
    let l = line.trim_start().to_ascii_lowercase();
    l.starts_with("copyright")
        || l.starts_with("portions copyright")
        || l.starts_with("(c)")
        || l.starts_with('\u{a9}')
}

/// Rewraps every paragraph to `width` columns (copyright statements stay on their own lines,
/// as any reflow tool that treats them as paragraphs would keep them).
fn reflow(text: &str, width: usize) -> String {
    let mut out = String::new();
    for para in text.split("\n\n") {
        let mut words: Vec<&str> = Vec::new();
        let flush = |words: &mut Vec<&str>, out: &mut String| {
            let mut col = 0;
            for w in words.drain(..) {
                if col > 0 && col + 1 + w.len() > width {
                    out.push('\n');
                    col = 0;
                } else if col > 0 {
                    out.push(' ');
                    col += 1;
                }
                out.push_str(w);
                col += w.len();
            }
            if col > 0 {
                out.push('\n');
            }
        };
        for line in para.lines() {
            if is_copyrightish(line) {
                flush(&mut words, &mut out);
                out.push_str(line.trim());
                out.push('\n');
            } else {
                words.extend(line.split_whitespace());
            }
        }
        flush(&mut words, &mut out);
        out.push('\n');
    }
    out
}

fn markdown(text: &str) -> String {
    let mut out = String::new();
    let mut headed = false;
    let mut emphasised = false;
    for line in text.lines() {
        if !headed && !line.trim().is_empty() && !is_copyrightish(line) {
            out.push_str("# ");
            out.push_str(line.trim());
            headed = true;
        } else if !emphasised && line.contains(" Software ") {
            out.push_str(&line.replacen(" Software ", " **Software** ", 1));
            emphasised = true;
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn curly_quotes(text: &str) -> String {
    let mut open = true;
    text.chars()
        .map(|c| match c {
            '"' => {
                open = !open;
                if open { '\u{201d}' } else { '\u{201c}' }
            }
            '\'' => '\u{2019}',
            other => other,
        })
        .collect()
}

/// Inserts "not" after the first modal verb of the body (or mid-text when there is none).
fn insert_not(text: &str) -> String {
    let body_start = text.find("\n\n").map_or(0, |i| i + 2);
    for modal in [
        " may ", " shall ", " must ", " is ", " are ", " will ", " can ",
    ] {
        if let Some(i) = text[body_start..].find(modal) {
            let at = body_start + i + modal.len();
            return format!("{}not {}", &text[..at], &text[at..]);
        }
    }
    let words: Vec<&str> = text.split(' ').collect();
    let mid = words.len() / 2;
    format!("{} not {}", words[..mid].join(" "), words[mid..].join(" "))
}

/// Inserts a restriction sentence as its own paragraph after the first body paragraph.
fn add_restriction(text: &str) -> String {
    let paras: Vec<&str> = text.split("\n\n").collect();
    let at = paras.len().min(3);
    let mut out: Vec<String> = paras.iter().map(|p| (*p).to_owned()).collect();
    out.insert(at, RESTRICTION.to_owned());
    out.join("\n\n")
}

/// Deletes the longest paragraph (a whole clause or the warranty disclaimer).
fn delete_paragraph(text: &str) -> String {
    let paras: Vec<&str> = text.split("\n\n").collect();
    let longest = paras
        .iter()
        .enumerate()
        .max_by_key(|(_, p)| p.len())
        .map_or(0, |(i, _)| i);
    paras
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != longest)
        .map(|(_, p)| *p)
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Swaps one word for another with a different meaning.
fn swap_word(text: &str) -> String {
    for (from, to) in [
        (" without ", " with "),
        (" and ", " or "),
        (" any ", " no "),
        (" the ", " a "),
    ] {
        if let Some(i) = text.rfind(from) {
            return format!("{}{to}{}", &text[..i], &text[i + from.len()..]);
        }
    }
    format!("{text}\nAmended.\n")
}

fn other_license(id: &str) -> &'static str {
    if id == "Apache-2.0" {
        "MIT"
    } else {
        "Apache-2.0"
    }
}

// ---- the variants ---------------------------------------------------------------------------

struct Variant {
    name: &'static str,
    substantive: bool,
    new: State,
}

fn variants(id: &str) -> Vec<Variant> {
    let base = State::base(id);
    let lic = base.license();
    let body = lic
        .split_once("\n\n")
        .map_or(lic.as_str(), |(_, b)| b)
        .to_owned();
    let cos = |name, new: State| Variant {
        name,
        substantive: false,
        new,
    };
    let sub = |name, new: State| Variant {
        name,
        substantive: true,
        new,
    };
    let mut v = vec![
        cos(
            "year-bump",
            base.clone().with_license(lic.replacen("2023", "2025", 1)),
        ),
        cos(
            "holder-change",
            base.clone().with_license(lic.replacen(
                "Example Corp",
                "Other Holder Ltd. <legal@other.example>",
                1,
            )),
        ),
        cos(
            "add-all-rights-reserved",
            base.clone().with_license(lic.replacen(
                "Example Corp\n",
                "Example Corp\nAll rights reserved.\n",
                1,
            )),
        ),
        cos("reflow-60", base.clone().with_license(reflow(&lic, 60))),
        cos("reflow-100", base.clone().with_license(reflow(&lic, 100))),
        cos("crlf", base.clone().with_license(lic.replace('\n', "\r\n"))),
        cos("markdown", base.clone().with_license(markdown(&lic))),
        cos(
            "trailing-whitespace",
            base.clone()
                .with_license(lic.lines().map(|l| format!("{l}   \n")).collect()),
        ),
        cos(
            "indented",
            base.clone()
                .with_license(lic.lines().map(|l| format!("\t{l}\n")).collect()),
        ),
        cos(
            "curly-quotes",
            base.clone().with_license(curly_quotes(&lic)),
        ),
        cos("notice-year-bump", {
            let mut s = base.clone();
            s.files
                .insert("NOTICE".into(), NOTICE.replace("2023", "2024").into_bytes());
            s
        }),
        cos("renamed-to-LICENSE.md", {
            let mut s = base.clone();
            let text = s.files.remove("LICENSE").expect("license");
            s.files.insert(
                "LICENSE.md".into(),
                markdown(&String::from_utf8(text).expect("utf-8")).into_bytes(),
            );
            s
        }),
        cos("manifest-imprecise-spelling", {
            let mut s = base.clone();
            s.package_license = Some(if id == "Apache-2.0" {
                "Apache 2.0".into()
            } else {
                id.replace("-only", "").to_ascii_lowercase()
            });
            s
        }),
        sub(
            "restriction-sentence",
            base.clone().with_license(add_restriction(&lic)),
        ),
        sub("inserted-not", base.clone().with_license(insert_not(&lic))),
        sub(
            "commons-clause",
            base.clone()
                .with_license(format!("{lic}\n\n{COMMONS_CLAUSE}")),
        ),
        sub(
            "swapped-license",
            base.clone().with_license(format!(
                "Copyright (c) 2023 Example Corp\n\n{}",
                spdx_text(other_license(id))
            )),
        ),
        sub(
            "dual-in-one-file",
            base.clone()
                .with_license(format!("{lic}\n\n---\n\n{}", spdx_text(other_license(id)))),
        ),
        sub("dual-file-added", {
            let mut s = base.clone();
            s.files.insert(
                "LICENSE-APACHE".into(),
                spdx_text(other_license(id)).as_bytes().to_vec(),
            );
            s.package_license = Some(format!("{id} OR {}", other_license(id)));
            s
        }),
        sub("license-file-deleted", {
            let mut s = base.clone();
            s.files.remove("LICENSE");
            s
        }),
        sub("license-removed-entirely", {
            let mut s = base.clone();
            s.files.remove("LICENSE");
            s.package_license = None;
            s
        }),
        sub("manifest-changed", {
            let mut s = base.clone();
            s.package_license = Some(if id == "BUSL-1.1" {
                "MIT".into()
            } else {
                "BUSL-1.1".into()
            });
            s
        }),
        sub("notice-changed", {
            let mut s = base.clone();
            s.files.insert("NOTICE".into(), format!("{NOTICE}\nThis product includes the Acme Parser, licensed under the Acme Commercial License.\n").into_bytes());
            s
        }),
        sub(
            "paragraph-deleted",
            base.clone().with_license(delete_paragraph(&lic)),
        ),
        sub("word-swapped", base.clone().with_license(swap_word(&lic))),
        sub(
            "terms-on-copyright-line",
            base.clone().with_license(lic.replacen(
                "Example Corp\n",
                "Example Corp. Commercial use requires a separate license.\n",
                1,
            )),
        ),
        sub("renamed-and-changed", {
            let mut s = base.clone();
            s.files.remove("LICENSE");
            s.files
                .insert("LICENSE.txt".into(), add_restriction(&lic).into_bytes());
            s
        }),
        sub(
            "body-only-kept",
            base.clone().with_license(format!(
                "Copyright (c) 2023 Example Corp\n\n{RESTRICTION}\n\n{body}"
            )),
        ),
    ];
    // A copy of the text put under a different extension alongside must be noticed as added.
    v.push(sub("extra-license-file", {
        let mut s = base.clone();
        s.files.insert(
            "COPYING".into(),
            spdx_text("GPL-3.0-only").as_bytes().to_vec(),
        );
        s
    }));
    v
}

// ---- the tests ------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    /// (expected, actual) -> count
    confusion: BTreeMap<(&'static str, Verdict), usize>,
    per_variant: BTreeMap<&'static str, (usize, usize)>,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, id: &str, variant: &Variant, j: &LicenseJudgement) {
        let expected = if variant.substantive {
            "substantive"
        } else {
            "cosmetic"
        };
        *self.confusion.entry((expected, j.verdict)).or_default() += 1;
        let ok = if variant.substantive {
            j.verdict == Verdict::ReviewRequired
        } else {
            j.verdict != Verdict::ReviewRequired
        };
        let slot = self.per_variant.entry(variant.name).or_default();
        slot.0 += 1;
        if ok {
            slot.1 += 1;
        } else {
            self.failures.push(format!(
                "{id} / {}: {} ({}: {})",
                variant.name,
                j.verdict.code(),
                j.code,
                j.reason
            ));
        }
    }

    fn print(&self) {
        eprintln!("\nconfusion table (rows: expected, columns: verdict)");
        eprintln!(
            "{:<12} {:>10} {:>10} {:>16}",
            "", "unchanged", "cosmetic", "review-required"
        );
        for expected in ["cosmetic", "substantive"] {
            let get = |v| self.confusion.get(&(expected, v)).copied().unwrap_or(0);
            eprintln!(
                "{expected:<12} {:>10} {:>10} {:>16}",
                get(Verdict::Unchanged),
                get(Verdict::Cosmetic),
                get(Verdict::ReviewRequired)
            );
        }
        eprintln!("\nper variant (correct / total)");
        for (name, (total, ok)) in &self.per_variant {
            eprintln!("  {name:<30} {ok:>4} / {total}");
        }
        for f in &self.failures {
            eprintln!("  MISS {f}");
        }
    }

    fn count(&self, expected: &str, pred: impl Fn(Verdict) -> bool) -> usize {
        self.confusion
            .iter()
            .filter(|((e, v), _)| *e == expected && pred(*v))
            .map(|(_, n)| *n)
            .sum()
    }
}

#[test]
fn corpus_variants_are_classified() {
    let policy = LicensePolicy::default();
    // Two workers: the corpus is CPU-bound and debug builds are slow.
    let judged: Vec<(&str, Variant, LicenseJudgement)> = std::thread::scope(|s| {
        let workers: Vec<_> = IDS
            .chunks(IDS.len().div_ceil(2))
            .map(|chunk| {
                let policy = &policy;
                s.spawn(move || {
                    let mut out = Vec::new();
                    for id in chunk {
                        let base = State::base(id);
                        let old = base.snapshot();
                        // The base against a fresh snapshot of itself is unchanged.
                        let same = judge(&old, &base.snapshot(), policy);
                        assert_eq!(same.verdict, Verdict::Unchanged, "{id}: {}", same.reason);
                        for variant in variants(id) {
                            let j = judge(&old, &variant.new.snapshot(), policy);
                            out.push((*id, variant, j));
                        }
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    let mut tally = Tally::default();
    for (id, variant, j) in &judged {
        tally.record(id, variant, j);
    }
    tally.print();
    let substantive = tally.count("substantive", |_| true);
    let missed = tally.count("substantive", |v| v != Verdict::ReviewRequired);
    let cosmetic = tally.count("cosmetic", |_| true);
    let flagged = tally.count("cosmetic", |v| v == Verdict::ReviewRequired);
    eprintln!(
        "\nrecall {}/{substantive}; cosmetic flagged {flagged}/{cosmetic}",
        substantive - missed
    );
    assert!(substantive >= 40 * 15, "corpus too small: {substantive}");
    assert_eq!(missed, 0, "every substantive variant must need review");
    assert!(
        flagged * 100 <= cosmetic,
        "too many cosmetic variants flagged: {flagged}/{cosmetic}"
    );
}

/// Groups of shipped ids with byte-identical texts (AGPL-3.0, -only, -or-later, ...).
fn identical_text_groups() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let mut by_text: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (id, text) in spdx::text::LICENSE_TEXTS {
        by_text.entry(text).or_default().insert(id);
    }
    let mut out = BTreeMap::new();
    for group in by_text.values() {
        for id in group {
            out.insert(*id, group.clone());
        }
    }
    out
}

fn family(id: &str) -> &str {
    let id = id.trim_end_matches('+');
    id.strip_suffix("-only")
        .or_else(|| id.strip_suffix("-or-later"))
        .unwrap_or(id)
}

#[test]
fn shipped_texts_are_identified_as_themselves() {
    let groups = identical_text_groups();
    // One representative per distinct text, deprecated ids skipped (the store omits them).
    let mut seen = BTreeSet::new();
    let cases: Vec<(&str, &str)> = spdx::text::LICENSE_TEXTS
        .iter()
        .filter(|(id, _)| spdx::license_id(id).is_some_and(|l| !l.is_deprecated()))
        .filter(|(_, text)| seen.insert(*text))
        .map(|(id, text)| (*id, *text))
        .collect();
    let results: Vec<(&str, Option<(String, f32)>)> = std::thread::scope(|s| {
        let half = cases.len() / 2;
        let (a, b) = cases.split_at(half);
        let run = |chunk: &[(&'static str, &'static str)]| {
            chunk
                .iter()
                .map(|(id, text)| {
                    let d = upkeep::license::identify(text).expect("store loads");
                    (*id, d.map(|d| (d.id, d.confidence)))
                })
                .collect::<Vec<_>>()
        };
        let ha = s.spawn(move || run(a));
        let hb = s.spawn(move || run(b));
        let mut r = ha.join().expect("thread");
        r.extend(hb.join().expect("thread"));
        r
    });
    let mut exact = 0;
    let mut alias = 0;
    let mut misses = Vec::new();
    for (id, found) in &results {
        let Some((got, score)) = found else {
            misses.push(format!("{id}: nothing"));
            continue;
        };
        let group = &groups[id];
        if got == id {
            exact += 1;
        } else if group.contains(got.as_str()) || family(got) == family(id) {
            alias += 1;
        } else {
            misses.push(format!("{id}: identified as {got} ({score:.3})"));
        }
    }
    let total = results.len();
    eprintln!(
        "\nidentification of {total} distinct shipped SPDX texts: {exact} exact, {alias} as an identical-text alias, {} other",
        misses.len()
    );
    eprintln!(
        "rate (exact or alias): {:.1}%",
        100.0 * (exact + alias) as f64 / total as f64
    );
    for m in &misses {
        eprintln!("  near-duplicate or miss: {m}");
    }
    // The common licenses must all be recognised.
    for id in IDS {
        let got = results
            .iter()
            .find(|(i, _)| groups[i].contains(id))
            .and_then(|(_, f)| f.clone());
        let (got, _) = got.unwrap_or_else(|| panic!("{id} not identified"));
        assert!(
            groups[id].contains(got.as_str()) || family(&got) == family(id),
            "{id} identified as {got}"
        );
    }
    assert!(
        (exact + alias) * 100 >= total * 97,
        "identification rate too low"
    );
}

// ---- end to end through git -----------------------------------------------------------------

fn commit_state(repo: &Repository, state: &State, parent: Option<Oid>) -> Oid {
    let mut tb = repo.treebuilder(None).expect("treebuilder");
    for (path, bytes) in &state.files {
        let blob = repo.blob(bytes).expect("blob");
        tb.insert(path, blob, 0o100_644).expect("insert");
    }
    if let Some(pj) = state.package_json() {
        tb.insert(
            "package.json",
            repo.blob(pj.as_bytes()).expect("blob"),
            0o100_644,
        )
        .expect("insert");
    }
    tb.insert(
        "README.md",
        repo.blob(b"# example\n").expect("blob"),
        0o100_644,
    )
    .expect("insert");
    let tree = repo
        .find_tree(tb.write().expect("write tree"))
        .expect("tree");
    let sig = Signature::now("upstream", "upstream@example.com").expect("sig");
    let parents: Vec<git2::Commit<'_>> = parent
        .map(|p| repo.find_commit(p).expect("parent"))
        .into_iter()
        .collect();
    let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
    repo.commit(None, &sig, &sig, "release", &tree, &refs)
        .expect("commit")
}

#[test]
fn git_end_to_end_subset_matches_in_memory_judgement() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = LicensePolicy::default();
    let mut checked = 0;
    for (n, id) in GIT_SUBSET.iter().enumerate() {
        let repo = Repository::init_bare(dir.path().join(format!("r{n}.git"))).expect("init bare");
        let base = State::base(id);
        let old_commit = commit_state(&repo, &base, None);
        let old = scan(&repo, old_commit).expect("scan old");
        let old_mem = base.snapshot();
        assert_eq!(old.commit, old_commit.to_string());
        assert_eq!(
            old.fingerprint(),
            old_mem.fingerprint(),
            "{id}: scan and in-memory agree"
        );
        for variant in variants(id) {
            let new_commit = commit_state(&repo, &variant.new, Some(old_commit));
            let new = scan(&repo, new_commit).expect("scan new");
            let j = judge(&old, &new, &policy);
            let mem = judge(&old_mem, &variant.new.snapshot(), &policy);
            assert_eq!(
                j.verdict, mem.verdict,
                "{id} / {}: git {} vs memory {}",
                variant.name, j.reason, mem.reason
            );
            assert_eq!(j.code, mem.code, "{id} / {}", variant.name);
            if variant.substantive {
                assert_eq!(
                    j.verdict,
                    Verdict::ReviewRequired,
                    "{id} / {}: {}",
                    variant.name,
                    j.reason
                );
                assert_ne!(
                    j.fingerprint, j.old_fingerprint,
                    "{id} / {}: a new approval is needed",
                    variant.name
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= GIT_SUBSET.len() * 20);
    assert!(Path::new(dir.path()).exists());
}

#[test]
fn git_mit_restriction_reads_like_the_email_example() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = Repository::init_bare(dir.path()).expect("init bare");
    let base = State::base("MIT");
    let old_commit = commit_state(&repo, &base, None);
    let lic = base.license();
    let changed = lic.replacen(
        "\nTHE SOFTWARE",
        &format!("\n{RESTRICTION}\n\nTHE SOFTWARE"),
        1,
    );
    let new_commit = commit_state(&repo, &base.clone().with_license(changed), Some(old_commit));
    let j = judge(
        &scan(&repo, old_commit).expect("scan"),
        &scan(&repo, new_commit).expect("scan"),
        &LicensePolicy::default(),
    );
    assert_eq!(j.verdict, Verdict::ReviewRequired);
    assert_eq!(j.code, "text-changed");
    let file = j
        .files
        .iter()
        .find(|f| f.path == "LICENSE")
        .expect("LICENSE judged");
    assert_eq!(
        file.new_id.as_ref().map(|d| d.id.as_str()),
        Some("MIT"),
        "the label still says MIT"
    );
    let diff = file.unified_diff.as_deref().expect("a diff");
    assert!(
        diff.contains("+The Software may not be used to provide a hosted service"),
        "{diff}"
    );
    assert!(file.word_diff.iter().any(|w| w.tag == upkeep::license::WordTag::Insert && w.text.contains("hosted service")));
    let summary = j.summary.join("\n");
    assert!(
        summary.contains("LICENSE: MIT -> MIT with added text: \"The Software may not be used"),
        "{summary}"
    );
    assert!(
        summary.contains("package.json license: unchanged (MIT)"),
        "{summary}"
    );
    eprintln!("{summary}\n{diff}");
}
