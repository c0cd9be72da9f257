//! `[servers.mirror] auto-merge`, `merge-strategy`, `delete-source-branch` (issue 17): whether
//! upkeep arms the forge's own auto-merge on a rebuild PR that nothing holds for a person, and
//! how the forge then merges it. Off unless `auto-merge = true`.
//!
//! - `merge-strategy`: `merge` (a merge commit; the default, as on both forges), `squash`,
//!   `rebase`, and on Azure DevOps `rebase-merge` (semi-linear).
//! - `delete-source-branch` (Azure DevOps; default false): delete the bot branch once merged.
//!   On GitHub that is the repository's "Automatically delete head branches" setting, so asking
//!   for it here is an error rather than a promise upkeep cannot keep.
//! - The local git mirror has no PRs to merge (upkeep records them in the state only):
//!   `auto-merge = true` there is an error.

use crate::config::diag::Diagnostics;
use crate::config::raw::S;
use crate::forge::automerge::{MergeOptions, MergeStrategy};

use super::mirror::{ForgeConfig, RawMirror};

/// The mirror's auto-merge: None when off. `forge` is None when the forge table was invalid
/// (its own diagnostics are reported; only the forge-independent checks run then).
pub fn validate(
    m: &RawMirror,
    forge: Option<&ForgeConfig>,
    who: &str,
    d: &mut Diagnostics<'_>,
) -> Option<MergeOptions> {
    let on = m.auto_merge.as_ref().is_some_and(|a| *a.get_ref());
    if !on {
        for (key, span) in [
            ("merge-strategy", m.merge_strategy.as_ref().map(S::span)),
            (
                "delete-source-branch",
                m.delete_source_branch.as_ref().map(S::span),
            ),
        ] {
            if let Some(span) = span {
                d.warn(
                    Some(span),
                    "auto-merge-off",
                    format!("{who}: `{key}` has no effect without `auto-merge = true`"),
                );
            }
        }
        return None;
    }
    let at = m.auto_merge.as_ref().map(S::span);
    if let Some(ForgeConfig::Local { .. }) = forge {
        d.at(
            at,
            "auto-merge-unsupported",
            format!(
                "{who}: `auto-merge` needs a forge with pull requests (github or azure-devops); \
                 the local git mirror's PRs are recorded in the state only, and a person merges \
                 the bot branch"
            ),
        );
        return None;
    }
    let github = matches!(forge, Some(ForgeConfig::Github { .. }));
    let strategy = strategy(m, github, who, d);
    let delete_source_branch = m
        .delete_source_branch
        .as_ref()
        .is_some_and(|b| *b.get_ref());
    if github && delete_source_branch {
        d.at(
            m.delete_source_branch.as_ref().map(S::span),
            "invalid-value",
            format!(
                "{who}: GitHub deletes merged head branches by the repository setting \
                 \"Automatically delete head branches\", not per PR; remove \
                 `delete-source-branch` and set it on the repository"
            ),
        );
    }
    Some(MergeOptions {
        strategy: strategy?,
        delete_source_branch,
    })
}

fn strategy(
    m: &RawMirror,
    github: bool,
    who: &str,
    d: &mut Diagnostics<'_>,
) -> Option<MergeStrategy> {
    let Some(raw) = &m.merge_strategy else {
        return Some(MergeStrategy::Merge);
    };
    let word = raw.get_ref().as_str();
    let offered: &[MergeStrategy] = if github {
        &MergeStrategy::ALL[..3]
    } else {
        &MergeStrategy::ALL
    };
    match MergeStrategy::parse(word).filter(|s| offered.contains(s)) {
        Some(s) => Some(s),
        None => {
            let list = offered
                .iter()
                .map(|s| format!("\"{}\"", s.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            d.at(
                Some(raw.span()),
                "invalid-value",
                format!(
                    "{who}: merge-strategy `{word}` is not one of {list}{}",
                    if github { " on GitHub" } else { "" }
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse;
    use crate::forge::automerge::MergeStrategy;

    fn config(mirror: &str) -> String {
        format!(
            "[[servers]]\nname = \"s\"\nupstream = \"https://example.com/s.git\"\n\
             owners = [\"o@example.com\"]\nrelease = {{ channel = \"git-tags\" }}\n[servers.mirror]\n{mirror}\n\
             base = \"main\"\npin-file = \"pin.yml\"\npin-format = \"azure-pipelines\"\n"
        )
    }

    const GITHUB: &str = "forge = \"github\"\nrepo = \"acme/mirror\"\ntoken-env = \"T\"";
    const AZURE: &str = "forge = \"azure-devops\"\nrepo = \"org/proj/repo\"\ntoken-env = \"T\"";
    const LOCAL: &str = "forge = \"local\"\nrepo = \"var/m.git\"";

    fn options(mirror: &str) -> Option<crate::forge::automerge::MergeOptions> {
        let c = parse(Path::new("t.toml"), &config(mirror)).expect("valid");
        c.servers[0].mirror.auto_merge
    }

    fn errors(mirror: &str) -> Vec<String> {
        parse(Path::new("t.toml"), &config(mirror))
            .expect_err("invalid")
            .0
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn off_unless_asked_for() {
        assert_eq!(options(GITHUB), None);
        assert_eq!(options(&format!("{GITHUB}\nauto-merge = false")), None);
        let c = parse(
            Path::new("t.toml"),
            &config(&format!("{AZURE}\nmerge-strategy = \"squash\"")),
        )
        .unwrap();
        assert!(
            c.warnings[0].to_string().contains("no effect without"),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn each_forge_gets_its_strategies_and_the_defaults() {
        let gh = options(&format!("{GITHUB}\nauto-merge = true")).unwrap();
        assert_eq!(gh.strategy, MergeStrategy::Merge);
        assert!(!gh.delete_source_branch);
        let az = options(&format!(
            "{AZURE}\nauto-merge = true\nmerge-strategy = \"rebase-merge\"\ndelete-source-branch = true"
        ))
        .unwrap();
        assert_eq!(az.strategy, MergeStrategy::RebaseMerge);
        assert!(az.delete_source_branch);
        let sq = options(&format!(
            "{GITHUB}\nauto-merge = true\nmerge-strategy = \"squash\""
        ));
        assert_eq!(sq.unwrap().strategy, MergeStrategy::Squash);
    }

    #[test]
    fn every_problem_at_once() {
        let e = errors(&format!(
            "{GITHUB}\nauto-merge = true\nmerge-strategy = \"rebase-merge\"\ndelete-source-branch = true"
        ));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("merge-strategy `rebase-merge` is not one of \"merge\", \"squash\", \"rebase\" on GitHub"), "{e:?}");
        assert!(e[1].contains("Automatically delete head branches"), "{e:?}");
        let e = errors(&format!(
            "{AZURE}\nauto-merge = true\nmerge-strategy = \"ff\""
        ));
        assert!(e[0].contains("\"rebase-merge\""), "{e:?}");
    }

    #[test]
    fn the_local_mirror_says_it_has_no_auto_merge() {
        let e = errors(&format!("{LOCAL}\nauto-merge = true"));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("auto-merge-unsupported"), "{e:?}");
        assert!(e[0].contains("local git mirror"), "{e:?}");
    }
}
