//! The license analysis on the relicensing patterns seen upstream, through real git repositories:
//! a dual-license preamble, an added exception, a Commons Clause rider, BUSL parameter changes,
//! SSPL and Elastic-2.0 replacing Apache, a workspace member relicensing alone, a vendored tree, a
//! manifest that disagrees with its LICENSE, and hostile trees. Every text is written here in the
//! shape the real ones have (the standard parts are the SPDX texts the `spdx` crate ships).

use std::collections::BTreeMap;

use git2::{Oid, Repository, Signature};
use upkeep::license::{
    Change, Family, LicenseJudgement, LicensePolicy, LicenseSnapshot, Position, Scope, Verdict,
    judge, scan, standard_text,
};

/// A file tree: path -> content; a `Link` is a symlink.
#[derive(Clone)]
enum Node {
    File(Vec<u8>),
    Link(String),
}

#[derive(Clone, Default)]
struct Tree(BTreeMap<String, Node>);

impl Tree {
    fn with(mut self, path: &str, text: &str) -> Self {
        self.0
            .insert(path.to_owned(), Node::File(text.as_bytes().to_vec()));
        self
    }

    fn bytes(mut self, path: &str, bytes: Vec<u8>) -> Self {
        self.0.insert(path.to_owned(), Node::File(bytes));
        self
    }

    fn link(mut self, path: &str, target: &str) -> Self {
        self.0
            .insert(path.to_owned(), Node::Link(target.to_owned()));
        self
    }

    fn without(mut self, path: &str) -> Self {
        self.0.remove(path);
        self
    }
}

/// Writes `tree` as nested git trees (no checkout, like an upstream's objects).
fn write_tree(repo: &Repository, tree: &Tree) -> Oid {
    fn write_dir(repo: &Repository, items: &BTreeMap<String, Node>) -> Oid {
        let mut files: Vec<(&str, &Node)> = Vec::new();
        let mut dirs: BTreeMap<&str, BTreeMap<String, Node>> = BTreeMap::new();
        for (path, node) in items {
            match path.split_once('/') {
                Some((dir, rest)) => {
                    dirs.entry(dir)
                        .or_default()
                        .insert(rest.to_owned(), node.clone());
                }
                None => files.push((path.as_str(), node)),
            }
        }
        let mut tb = repo.treebuilder(None).expect("treebuilder");
        for (name, node) in files {
            let (oid, mode) = match node {
                Node::File(b) => (repo.blob(b).expect("blob"), 0o100_644),
                Node::Link(t) => (repo.blob(t.as_bytes()).expect("blob"), 0o120_000),
            };
            tb.insert(name, oid, mode).expect("insert");
        }
        for (name, children) in dirs {
            tb.insert(name, write_dir(repo, &children), 0o040_000)
                .expect("insert");
        }
        tb.write().expect("write tree")
    }
    write_dir(repo, &tree.0)
}

struct Upstream {
    _dir: tempfile::TempDir,
    repo: Repository,
}

impl Upstream {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init_bare(dir.path()).expect("bare");
        Self { _dir: dir, repo }
    }

    fn commit(&self, tree: &Tree) -> Oid {
        let t = self
            .repo
            .find_tree(write_tree(&self.repo, tree))
            .expect("tree");
        let sig = Signature::now("upstream", "upstream@example.com").expect("sig");
        self.repo
            .commit(None, &sig, &sig, "release", &t, &[])
            .expect("commit")
    }

    fn snapshot(&self, tree: &Tree) -> LicenseSnapshot {
        scan(&self.repo, self.commit(tree)).expect("scan")
    }

    fn judge(&self, old: &Tree, new: &Tree) -> LicenseJudgement {
        judge(
            &self.snapshot(old),
            &self.snapshot(new),
            &LicensePolicy::default(),
        )
    }
}

fn text(id: &str) -> &'static str {
    standard_text(id).unwrap_or_else(|| panic!("no SPDX text for {id}"))
}

fn with_copyright(holder: &str, id: &str) -> String {
    format!("Copyright (c) 2025 {holder}\n\n{}", text(id))
}

fn pyproject(license: &str) -> String {
    format!("[project]\nname = \"comfy-mcp\"\nversion = \"0.10.0\"\nlicense = \"{license}\"\n")
}

fn file<'a>(j: &'a LicenseJudgement, path: &str) -> &'a upkeep::license::FileJudgement {
    j.files
        .iter()
        .find(|f| f.path == path && f.field.is_none())
        .unwrap_or_else(|| panic!("no file {path}"))
}

/// The screens of one relicensing pattern: the held PR body at GitHub's and Azure DevOps' sizes
/// and the license email with its attachments, as the reviewer gets them. Checks what issue 21
/// asks of every pattern (the change as an expression in the banner and the subject, the Azure
/// body within 4,000 UTF-16 units with the essentials, the email under 100 KB) and snapshots the
/// Azure body and the email's text part, the two screens that must stand alone.
fn assert_screens(name: &str, up: &Upstream, old: &Tree, new: &Tree) {
    use upkeep::render::{self, RebuildView};
    use upkeep::report::{Latest, Pinned};
    let (o, n) = (up.snapshot(old), up.snapshot(new));
    let j = judge(&o, &n, &LicensePolicy::default());
    let a = j.analysis.as_ref().expect("analysis");
    let old_ref = Pinned {
        git_ref: "refs/tags/v1.0.0".into(),
        commit: Some("a".repeat(40)),
    };
    let latest = Latest {
        version: "2.0.0".into(),
        tag: "v2.0.0".into(),
        commit: "b".repeat(40),
        date: None,
    };
    let held = j.verdict == Verdict::ReviewRequired;
    let view = RebuildView {
        server: "example-mcp",
        upstream: "https://github.com/example/example-mcp.git",
        old: &old_ref,
        old_version: Some("1.0.0"),
        new: &latest,
        license: Some(&j),
        license_texts: (Some(&o), Some(&n)),
        approval: None,
        license_held: held,
        mcp: None,
        security: None,
        diff: None,
        release_notes: None,
        channels: &[],
        run_id: 42,
        approvers: &[],
    };
    let github = render::pr_body(&view, 65_536);
    let azure = render::pr_body(&view, 4_000);
    let units = azure.encode_utf16().count();
    assert!(units <= 4_000, "{name}: Azure body of {units} units");
    let expression = a.new.expression.as_deref().unwrap_or("no license");
    // A held PR's banner names the change; a cosmetic one has no banner to lead with.
    for (forge, body) in [("github", &github), ("azure", &azure)]
        .into_iter()
        .filter(|_| held)
    {
        let top: String = body.lines().take(12).collect::<Vec<_>>().join("\n");
        assert!(
            top.contains(expression),
            "{name}: {forge} body does not lead with `{expression}`:\n{top}"
        );
    }
    if held {
        assert!(azure.contains("upkeep license show"), "{name}: {azure}");
        let (email, attachments) =
            render::license_email_with_attachments(&view, Some("https://git.example.com/pr/7"), 7);
        let size = email.text.len()
            + email.html.len()
            + attachments
                .iter()
                .map(|a| upkeep::render::license::encoded_len(&a.body))
                .sum::<usize>();
        assert!(size < 100 * 1024, "{name}: email of {size} bytes");
        // The subject's tail is the change: the new expression, or the package that moved.
        let tail = email
            .subject
            .split("CELA review: ")
            .nth(1)
            .unwrap_or_default();
        assert!(
            tail.ends_with(expression)
                || tail == format!("{expression}, text changed")
                || tail.starts_with(&format!("{expression} (unchanged); package")),
            "{name}: {}",
            email.subject
        );
        // The headline (without the PR's code spans) is the email's first line.
        assert_eq!(
            email.text.lines().next(),
            Some(a.headline.replace('`', "").as_str()),
            "{name}"
        );
        insta::assert_snapshot!(
            format!("screens_{name}"),
            format!(
                "Subject: {}\n\n----- email text -----\n{}\n----- attachments -----\n{}\n\n----- Azure DevOps PR body ({units} UTF-16 units) -----\n{azure}",
                email.subject,
                email.text,
                attachments
                    .iter()
                    .map(|a| format!("{} ({} bytes)", a.filename, a.body.len()))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        );
    } else {
        insta::assert_snapshot!(
            format!("screens_{name}"),
            format!("----- Azure DevOps PR body ({units} UTF-16 units) -----\n{azure}")
        );
    }
}

const PREAMBLE: &str = "comfy-mcp is dual-licensed. You may use, modify and distribute it under the terms of the GNU Affero General Public License version 3 or (at your option) any later version, as set out below. Alternatively, a commercial license is available from Comfy Org, Inc. for use that is not compatible with the AGPL; contact licensing@comfy.org for the commercial terms.";

#[test]
fn dual_license_preamble_before_agpl_reads_as_an_or_with_a_commercial_ref() {
    let up = Upstream::new();
    let old = Tree::default()
        .with("LICENSE", &with_copyright("Comfy Org", "Apache-2.0"))
        .with("pyproject.toml", &pyproject("Apache-2.0"));
    let new = Tree::default()
        .with(
            "LICENSE",
            &format!("{PREAMBLE}\n\n{}", text("AGPL-3.0-or-later")),
        )
        .with("pyproject.toml", &pyproject("AGPL-3.0-or-later"));
    let j = up.judge(&old, &new);
    assert_screens("dual_license_preamble", &up, &old, &new);
    assert_eq!(j.verdict, Verdict::ReviewRequired);
    let a = j.analysis.as_ref().expect("analysis");
    assert_eq!(a.old.expression.as_deref(), Some("Apache-2.0"));
    assert_eq!(
        a.new.expression.as_deref(),
        Some("AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial")
    );
    assert_eq!(
        a.headline,
        "`Apache-2.0` → `AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial`: dual-licensed: AGPL-3.0-or-later, or a commercial license from the licensor (Comfy) — see the non-standard text"
    );
    assert!(a.expression_changed);
    assert_eq!(a.new.family, Some(Family::NetworkCopyleft));
    assert_eq!(
        a.new.obligation.as_deref(),
        Some(
            "network copyleft: offering modified versions to users over a network requires offering them the source"
        )
    );
    assert_eq!(a.old.family, Some(Family::Permissive));
    assert!(a.disclaimer.contains("not legal advice"));
    // The LICENSE file: no line diff of Apache against AGPL, the preamble as the only non-standard words.
    let lic = file(&j, "LICENSE");
    assert_eq!(lic.code, "id-changed");
    assert!(
        lic.shows_canonical(),
        "never a diff of two licenses on screen"
    );
    let c = lic
        .canonical
        .as_ref()
        .expect("compared with the canonical AGPL text");
    assert_eq!(c.id, "AGPL-3.0-or-later");
    assert_eq!(c.runs.len(), 1, "{:#?}", c.runs);
    assert_eq!(c.runs[0].position, Position::Before);
    assert_eq!(c.runs[0].added, PREAMBLE);
    assert!(
        c.score > 0.9 && c.standard_share > 0.95,
        "{} {}",
        c.score,
        c.standard_share
    );
    // A manifest that already names the commercial option is taken as it is.
    let named = new.clone().with(
        "pyproject.toml",
        &pyproject("AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial"),
    );
    let a = up.judge(&old, &named).analysis.expect("analysis");
    assert_eq!(
        a.new.expression.as_deref(),
        Some("AGPL-3.0-or-later OR LicenseRef-Comfy-Commercial")
    );
    assert!(a.new.disagreement.is_none());
}

#[test]
fn agpl_with_an_added_commercial_exception_is_a_with_and_keeps_the_old_file_diff() {
    let up = Upstream::new();
    let old = Tree::default().with(
        "LICENSE",
        &with_copyright("Acme Software Ltd", "AGPL-3.0-or-later"),
    );
    let exception = "Additional permission under GNU AGPL version 3 section 7\n\nIf you have purchased a commercial license from Acme Software Ltd, the requirements of section 13 do not apply to your use of the Program over a network.";
    let new = Tree::default().with(
        "LICENSE",
        &format!(
            "{}\n\n{exception}\n",
            with_copyright("Acme Software Ltd", "AGPL-3.0-or-later")
        ),
    );
    let j = up.judge(&old, &new);
    assert_screens("agpl_commercial_exception", &up, &old, &new);
    assert_eq!(
        (j.verdict, j.code.as_str()),
        (Verdict::ReviewRequired, "text-changed")
    );
    let lic = file(&j, "LICENSE");
    assert!(
        lic.canonical.is_none() && !lic.shows_canonical(),
        "same license: the diff against the old file stays"
    );
    assert!(
        lic.unified_diff
            .as_deref()
            .is_some_and(|d| d.contains("+Additional permission under GNU AGPL"))
    );
    let a = j.analysis.expect("analysis");
    assert_eq!(
        a.new.expression.as_deref(),
        Some("AGPL-3.0-or-later WITH AdditionRef-Acme-Software-exception")
    );
    assert!(
        a.new.reading.contains("added exception"),
        "{}",
        a.new.reading
    );
    assert_eq!(a.new.family, Some(Family::NetworkCopyleft));
}

const COMMONS_CLAUSE: &str = "\"Commons Clause\" License Condition v1.0\n\nThe Software is provided to you by the Licensor under the License, as defined below, subject to the following condition.\n\nWithout limiting other conditions in the License, the grant of rights under the License will not include, and the License does not grant to you, the right to Sell the Software.\n\nFor purposes of the foregoing, \"Sell\" means practicing any or all of the rights granted to you under the License to provide to third parties, for a fee or other consideration, a product or service whose value derives, entirely or substantially, from the functionality of the Software.\n\nSoftware: redis-mcp\nLicense: Apache 2.0\nLicensor: Example Labs\n";

#[test]
fn apache_plus_commons_clause_is_source_available() {
    let up = Upstream::new();
    let old = Tree::default()
        .with("LICENSE", &with_copyright("Example Labs", "Apache-2.0"))
        .with(
            "package.json",
            r#"{"name":"redis-mcp","license":"Apache-2.0"}"#,
        );
    let new = old.clone().with(
        "LICENSE",
        &format!(
            "{}\n\n{COMMONS_CLAUSE}",
            with_copyright("Example Labs", "Apache-2.0")
        ),
    );
    let j = up.judge(&old, &new);
    assert_screens("commons_clause_rider", &up, &old, &new);
    assert_eq!(j.verdict, Verdict::ReviewRequired);
    let a = j.analysis.expect("analysis");
    assert_eq!(
        a.new.expression.as_deref(),
        Some("Apache-2.0 AND LicenseRef-Commons-Clause")
    );
    assert!(a.headline.starts_with("`Apache-2.0` → `Apache-2.0 AND LicenseRef-Commons-Clause`: Apache-2.0 with the Commons Clause"), "{}", a.headline);
    assert_eq!(a.new.family, Some(Family::SourceAvailable));
    assert!(
        a.new
            .obligation
            .as_deref()
            .is_some_and(|o| o.contains("selling")),
        "{:?}",
        a.new.obligation
    );
}

fn busl(values: [&str; 5]) -> String {
    let [licensor, work, grant, date, change] = values;
    let terms = text("BUSL-1.1");
    let terms = &terms[terms.find("Terms").expect("terms")..];
    format!(
        "Business Source License 1.1\n\nParameters\n\nLicensor:             {licensor}\nLicensed Work:        {work}\nAdditional Use Grant: {grant}\nChange Date:          {date}\nChange License:       {change}\n\nFor information about alternative licensing arrangements for the Licensed Work,\nplease contact licensing@example.com.\n\nNotice\n\nThe Business Source License (this document, or the \"License\") is not an Open\nSource license. However, the Licensed Work will eventually be made available\nunder an Open Source License, as stated in this License.\n\nLicense text copyright (c) 2017 MariaDB Corporation Ab, All Rights Reserved.\n\"Business Source License\" is a trademark of MariaDB Corporation Ab.\n\n-----------------------------------------------------------------------------\n\n{terms}"
    )
}

#[test]
fn busl_parameter_changes_are_named_one_by_one() {
    let up = Upstream::new();
    let base = [
        "Example Labs, Inc.",
        "Example Server 2.3.0. The Licensed Work is (c) 2025 Example Labs, Inc.",
        "You may make production use of the Licensed Work, provided Your use does not include offering the Licensed Work to third parties on a hosted or embedded basis.",
        "2029-03-01",
        "Mozilla Public License, version 2.0",
    ];
    let old = Tree::default().with("LICENSE", &busl(base));
    let old_snap = up.snapshot(&old);
    assert_eq!(
        old_snap.entries[0].detected.as_ref().map(|d| d.id.as_str()),
        Some("BUSL-1.1")
    );
    for (i, name) in upkeep::license::BUSL_KEYS.iter().enumerate() {
        let mut v = base;
        v[i] = "Changed for this test";
        let j = judge(
            &old_snap,
            &up.snapshot(&Tree::default().with("LICENSE", &busl(v))),
            &LicensePolicy::default(),
        );
        assert_eq!(j.verdict, Verdict::ReviewRequired, "{name}");
        let a = j.analysis.as_ref().expect("analysis");
        assert_eq!(a.parameters.len(), 1, "{name}: {:?}", a.parameters);
        assert_eq!(a.parameters[0].name, *name);
        assert_eq!(a.parameters[0].old.as_deref(), Some(base[i]));
        assert_eq!(
            a.parameters[0].new.as_deref(),
            Some("Changed for this test")
        );
        assert!(
            j.reason.contains(&format!("only the {name} changed")),
            "{name}: {}",
            j.reason
        );
    }
    let mut later = base;
    later[3] = "2030-03-01";
    assert_screens(
        "busl_change_date",
        &up,
        &Tree::default().with("LICENSE", &busl(base)),
        &Tree::default().with("LICENSE", &busl(later)),
    );
    let j = judge(
        &old_snap,
        &up.snapshot(&Tree::default().with("LICENSE", &busl(later))),
        &LicensePolicy::default(),
    );
    assert_eq!(
        j.reason,
        "LICENSE: BUSL-1.1 parameters: only the Change Date changed (\"2029-03-01\" -> \"2030-03-01\")"
    );
    let a = j.analysis.expect("analysis");
    assert!(
        a.headline
            .starts_with("`BUSL-1.1` (unchanged): the Change Date changed"),
        "{}",
        a.headline
    );
    assert_eq!(a.new.family, Some(Family::SourceAvailable));
}

#[test]
fn sspl_and_elastic_replacing_apache_are_compared_with_their_canonical_texts() {
    for (id, obligation) in [
        ("SSPL-1.0", "whole service stack"),
        ("Elastic-2.0", "hosted or managed service"),
    ] {
        let up = Upstream::new();
        let old = Tree::default()
            .with("LICENSE", &with_copyright("Example Labs", "Apache-2.0"))
            .with("package.json", r#"{"license":"Apache-2.0"}"#);
        let new = Tree::default()
            .with("LICENSE", text(id))
            .with("package.json", &format!(r#"{{"license":"{id}"}}"#));
        let j = up.judge(&old, &new);
        assert_screens(&format!("apache_to_{id}"), &up, &old, &new);
        assert_eq!(j.verdict, Verdict::ReviewRequired, "{id}");
        let lic = file(&j, "LICENSE");
        assert_eq!(lic.code, "id-changed", "{id}: {}", lic.reason);
        assert!(lic.shows_canonical(), "{id}");
        let c = lic.canonical.as_ref().expect("canonical");
        assert_eq!(c.id, id);
        assert!(c.is_standard(), "{id}: {:?}", c.runs);
        let a = j.analysis.expect("analysis");
        assert_eq!(a.new.expression.as_deref(), Some(id));
        assert_eq!(a.new.family, Some(Family::SourceAvailable), "{id}");
        assert!(
            a.new
                .obligation
                .as_deref()
                .is_some_and(|o| o.contains(obligation)),
            "{id}: {:?}",
            a.new.obligation
        );
        assert!(
            a.headline.starts_with(&format!("`Apache-2.0` → `{id}`")),
            "{}",
            a.headline
        );
    }
}

fn cargo_member(name: &str, license: &str) -> String {
    format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nlicense = \"{license}\"\n")
}

#[test]
fn a_workspace_member_that_relicenses_alone_is_a_finding() {
    let up = Upstream::new();
    let old = Tree::default()
        .with("LICENSE", &with_copyright("Example Labs", "0BSD"))
        .with("Cargo.toml", "[workspace]\nmembers = [\"mcp-v8-client\", \"server\"]\n[workspace.package]\nlicense = \"0BSD\"\n")
        .with("server/Cargo.toml", "[package]\nname = \"server\"\nlicense.workspace = true\n")
        .with("mcp-v8-client/Cargo.toml", &cargo_member("mcp-v8-client", "MIT"))
        .with("mcp-v8-client/src/lib.rs", "pub fn x() {}\n")
        .with("packages/web/package.json", r#"{"name":"web","license":"0BSD"}"#);
    let new = old.clone().with(
        "mcp-v8-client/Cargo.toml",
        &cargo_member("mcp-v8-client", "AGPL-3.0-or-later"),
    );
    let j = up.judge(&old, &new);
    assert_screens("workspace_member_relicenses", &up, &old, &new);
    assert_eq!(j.verdict, Verdict::ReviewRequired, "{:?}", j.findings);
    let f = j
        .files
        .iter()
        .find(|f| {
            f.path == "mcp-v8-client/Cargo.toml" && f.field.as_deref() == Some("package.license")
        })
        .expect("member field judged");
    assert_eq!(
        (f.code.as_str(), f.scope, f.package.as_str()),
        ("manifest-changed", Scope::Package, "mcp-v8-client")
    );
    let a = j.analysis.expect("analysis");
    assert_eq!(
        a.old.expression, a.new.expression,
        "the root did not change"
    );
    let row = a
        .packages
        .iter()
        .find(|p| p.dir == "mcp-v8-client")
        .expect("member row");
    assert_eq!(
        (row.old.as_deref(), row.new.as_deref()),
        (Some("MIT"), Some("AGPL-3.0-or-later"))
    );
    // At the pinned release the member's MIT disagreed with the root's 0BSD LICENSE.
    assert!(
        row.old_disagreement
            .as_deref()
            .is_some_and(|d| d.contains("MIT") && d.contains("0BSD")),
        "{row:?}"
    );
    assert!(
        a.headline
            .contains("package `mcp-v8-client`: `MIT` → `AGPL-3.0-or-later`"),
        "{}",
        a.headline
    );
    // The member that inherits the workspace license reads as 0BSD, and agrees.
    let server = a
        .packages
        .iter()
        .find(|p| p.dir == "server")
        .expect("server row");
    assert_eq!(server.new.as_deref(), Some("0BSD"));
    assert!(server.new_disagreement.is_none());
    assert!(
        a.packages
            .iter()
            .any(|p| p.dir == "packages/web" && p.scope == Scope::Package)
    );
}

#[test]
fn a_new_disagreement_in_a_package_is_a_review_finding() {
    let up = Upstream::new();
    let old = Tree::default()
        .with("LICENSE", &with_copyright("Example Labs", "0BSD"))
        .with(
            "packages/a/package.json",
            r#"{"name":"a","license":"0BSD"}"#,
        );
    let new = old
        .clone()
        .with("packages/a/package.json", r#"{"name":"a","license":"MIT"}"#);
    let j = up.judge(&old, &new);
    let d = j
        .findings
        .iter()
        .find(|f| f.code == "manifest-disagrees")
        .expect("disagreement reported");
    assert_eq!(
        (d.verdict, d.path.as_deref()),
        (Verdict::ReviewRequired, Some("packages/a"))
    );
}

#[test]
fn vendored_trees_are_reported_with_their_own_licenses_and_never_hold() {
    let up = Upstream::new();
    let old = Tree::default()
        .with("LICENSE", &with_copyright("Example Labs", "MIT"))
        .with(
            "vendor/github.com/acme/parser/LICENSE",
            &with_copyright("Acme", "BSD-3-Clause"),
        )
        .with("third_party/zlib/LICENSE", text("Zlib"));
    let new = old
        .clone()
        .with(
            "vendor/github.com/acme/parser/LICENSE",
            &with_copyright("Acme", "GPL-3.0-only"),
        )
        .with(
            "node_modules/left-pad/package.json",
            r#"{"name":"left-pad","license":"WTFPL"}"#,
        );
    let (o, n) = (up.snapshot(&old), up.snapshot(&new));
    assert_screens("vendored_tree_changes", &up, &old, &new);
    assert_eq!(
        o.fingerprint(),
        n.fingerprint(),
        "vendored churn never voids an approval"
    );
    let j = judge(&o, &n, &LicensePolicy::default());
    assert_eq!(j.verdict, Verdict::Cosmetic, "{:?}", j.findings);
    let f = file(&j, "vendor/github.com/acme/parser/LICENSE");
    assert_eq!(
        (f.code.as_str(), f.scope),
        ("vendored-changed", Scope::Vendored)
    );
    let a = j.analysis.expect("analysis");
    let row = a
        .packages
        .iter()
        .find(|p| p.dir == "vendor/github.com/acme/parser")
        .expect("row");
    assert_eq!(
        (row.scope, row.old.as_deref(), row.new.as_deref()),
        (
            Scope::Vendored,
            Some("BSD-3-Clause"),
            Some("GPL-3.0-or-later")
        )
    );
    assert!(
        a.packages
            .iter()
            .any(|p| p.dir == "node_modules/left-pad" && p.new.as_deref() == Some("WTFPL"))
    );
    assert!(
        a.packages
            .iter()
            .any(|p| p.dir == "third_party/zlib" && p.scope == Scope::Vendored)
    );
    // An operator who wants vendored changes reviewed says so.
    let strict = LicensePolicy {
        allowed: vec![],
        review_codes: Some(vec![upkeep::license::FindingCode::VendoredChanged]),
    };
    assert_eq!(judge(&o, &n, &strict).verdict, Verdict::ReviewRequired);
}

#[test]
fn a_manifest_that_disagrees_with_its_license_is_reported_at_either_release() {
    let up = Upstream::new();
    let both = Tree::default()
        .with("LICENSE", &with_copyright("Example Labs", "0BSD"))
        .with("package.json", r#"{"name":"x","license":"MIT"}"#);
    let j = up.judge(&both, &both.clone().with("README.md", "# x\n"));
    assert_eq!(
        j.verdict,
        Verdict::Unchanged,
        "a standing disagreement does not hold a release"
    );
    let a = j.analysis.expect("analysis");
    for side in [&a.old, &a.new] {
        let d = side
            .disagreement
            .as_deref()
            .expect("reported on both sides");
        assert!(d.contains("MIT") && d.contains("0BSD"), "{d}");
    }
    let agree = Tree::default()
        .with("LICENSE", &with_copyright("Example Labs", "0BSD"))
        .with("package.json", r#"{"name":"x","license":"0BSD"}"#);
    let j = up.judge(&agree, &both);
    assert_screens("manifest_disagrees", &up, &agree, &both);
    assert!(
        j.findings
            .iter()
            .any(|f| f.code == "manifest-disagrees" && f.verdict == Verdict::ReviewRequired)
    );
}

#[test]
fn new_packages_under_known_licenses_are_cosmetic_and_new_licenses_are_not() {
    let up = Upstream::new();
    let old = Tree::default()
        .with("LICENSE", &with_copyright("Example Labs", "MIT"))
        .with(
            "package.json",
            r#"{"name":"root","license":"MIT","workspaces":["packages/*"]}"#,
        );
    let known = old
        .clone()
        .with(
            "packages/new/package.json",
            r#"{"name":"new","license":"MIT"}"#,
        )
        .with(
            "packages/new/LICENSE",
            &with_copyright("Someone Else", "MIT"),
        );
    let j = up.judge(&old, &known);
    assert_eq!(j.verdict, Verdict::Cosmetic, "{:?}", j.findings);
    assert!(
        j.findings.iter().all(|f| f.code == "package-added"),
        "{:?}",
        j.findings
    );
    let novel = old.clone().with(
        "packages/new/package.json",
        r#"{"name":"new","license":"BUSL-1.1"}"#,
    );
    let j = up.judge(&old, &novel);
    assert_eq!(
        (j.verdict, j.code.as_str()),
        (Verdict::ReviewRequired, "manifest-changed")
    );
    // Removing a package is not a license change of what remains.
    let j = up.judge(&known, &old);
    assert_eq!(j.verdict, Verdict::Cosmetic, "{:?}", j.findings);
    assert!(
        j.files
            .iter()
            .filter(|f| f.change == Change::Removed)
            .all(|f| f.code == "package-removed")
    );
}

#[test]
fn hostile_trees_are_bounded_with_a_note() {
    let up = Upstream::new();
    let mut tree = Tree::default().with("LICENSE", &with_copyright("Example Labs", "MIT"));
    // Deeper than the walk goes.
    let deep = (0..12)
        .map(|i| format!("d{i}"))
        .collect::<Vec<_>>()
        .join("/");
    tree = tree.with(
        &format!("{deep}/package.json"),
        r#"{"license":"GPL-3.0-only"}"#,
    );
    // More packages than it reads.
    for i in 0..(upkeep::license::MAX_PACKAGES + 20) {
        tree = tree.with(
            &format!("packages/p{i:04}/package.json"),
            r#"{"license":"MIT"}"#,
        );
    }
    // A symlinked directory, a binary and an oversized license file in a package.
    tree = tree
        .link("packages/evil", "/etc")
        .bytes("packages/bin/LICENSE", b"\x7fELF\0\x01\x02".to_vec())
        .bytes("packages/big/LICENSE", vec![b'a'; 2 * 1024 * 1024]);
    let snap = up.snapshot(&tree);
    assert!(snap.truncated);
    assert!(
        snap.notes.iter().any(|n| n.contains("deeper than")),
        "{:?}",
        snap.notes
    );
    assert!(
        snap.notes
            .iter()
            .any(|n| n.contains("packages beyond the first")),
        "{:?}",
        snap.notes
    );
    assert!(
        !snap.entries.iter().any(|e| e.path.starts_with("d0/")),
        "too deep"
    );
    assert!(
        !snap
            .entries
            .iter()
            .any(|e| e.path.starts_with("packages/evil")),
        "symlinks are not followed"
    );
    // The walk is breadth first in name order, so which packages were read is stable.
    let read = snap
        .entries
        .iter()
        .filter(|e| e.path.starts_with("packages/p"))
        .count();
    assert!(read < upkeep::license::MAX_PACKAGES + 20, "{read}");
    let j = judge(&LicenseSnapshot::empty(), &snap, &LicensePolicy::default());
    assert_eq!(j.verdict, Verdict::ReviewRequired);
    assert!(
        j.analysis
            .expect("analysis")
            .notes
            .iter()
            .any(|n| n.starts_with("proposed release: "))
    );
    let _ = tree.without("LICENSE");
}

#[test]
fn scans_are_cached_per_tree() {
    let up = Upstream::new();
    let tree = Tree::default()
        .with("LICENSE", &with_copyright("Example Labs", "MIT"))
        .with("packages/a/package.json", r#"{"license":"MIT"}"#);
    let a = up.commit(&tree);
    let first = scan(&up.repo, a).expect("scan");
    // A second commit with the same tree: the cached snapshot, under the new commit id.
    let sig = Signature::now("x", "x@example.com").expect("sig");
    let t = up
        .repo
        .find_commit(a)
        .expect("commit")
        .tree()
        .expect("tree");
    let b = up
        .repo
        .commit(None, &sig, &sig, "again", &t, &[])
        .expect("commit");
    let second = scan(&up.repo, b).expect("scan");
    assert_eq!(second.commit, b.to_string());
    assert_eq!(first.entries, second.entries);
}

#[test]
fn python_subprojects_and_go_modules_declare_their_own_licenses() {
    let up = Upstream::new();
    let old = Tree::default()
        .with("LICENSE", &with_copyright("Example Labs", "MIT"))
        .with(
            "clients/python/pyproject.toml",
            "[project]\nname = \"client\"\nlicense = \"Apache-2.0\"\n",
        )
        .with("clients/python/LICENSE", text("Apache-2.0"))
        .with(
            "tools/gen/go.mod",
            "module example.com/tools/gen\n\ngo 1.22\n",
        )
        .with(
            "tools/gen/LICENSE",
            &with_copyright("Example Labs", "BSD-3-Clause"),
        );
    let new = old.clone().with("tools/gen/LICENSE", text("MPL-2.0"));
    let j = up.judge(&old, &new);
    assert_eq!(j.verdict, Verdict::ReviewRequired);
    let go = file(&j, "tools/gen/LICENSE");
    assert_eq!((go.code.as_str(), go.scope), ("id-changed", Scope::Package));
    assert!(go.shows_canonical());
    let a = j.analysis.expect("analysis");
    let row = |dir: &str| {
        a.packages
            .iter()
            .find(|p| p.dir == dir)
            .unwrap_or_else(|| panic!("no row {dir}"))
    };
    assert_eq!(row("clients/python").new.as_deref(), Some("Apache-2.0"));
    assert!(row("clients/python").new_disagreement.is_none());
    assert_eq!(
        (
            row("tools/gen").old.as_deref(),
            row("tools/gen").new.as_deref()
        ),
        (Some("BSD-3-Clause"), Some("MPL-2.0"))
    );
    assert!(
        a.headline
            .contains("package `tools/gen`: `BSD-3-Clause` → `MPL-2.0`"),
        "{}",
        a.headline
    );
}

#[test]
fn the_analysis_is_stored_and_read_back_and_old_judgements_still_read() {
    let up = Upstream::new();
    let old = Tree::default().with("LICENSE", &with_copyright("Comfy Org", "Apache-2.0"));
    let new = Tree::default().with(
        "LICENSE",
        &format!("{PREAMBLE}\n\n{}", text("AGPL-3.0-or-later")),
    );
    let j = up.judge(&old, &new);
    let json = serde_json::to_string(&j).expect("serialise");
    let back: LicenseJudgement = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back.analysis, j.analysis);
    assert_eq!(back.fingerprint, j.fingerprint);
    assert_eq!(
        file(&back, "LICENSE").canonical,
        file(&j, "LICENSE").canonical
    );
    // A judgement stored before the analysis existed has none of the new fields.
    let mut v: serde_json::Value = serde_json::from_str(&json).expect("json");
    v.as_object_mut().expect("object").remove("analysis");
    for f in v["files"].as_array_mut().expect("files") {
        let f = f.as_object_mut().expect("file");
        for k in ["scope", "package", "canonical"] {
            f.remove(k);
        }
    }
    let old_form: LicenseJudgement = serde_json::from_value(v).expect("old judgements still read");
    assert!(old_form.analysis.is_none());
    assert_eq!(old_form.files[0].scope, Scope::Root);
}
