//! The stages of one server's run, in the order [`super::sync_server`] calls them, one file each.
//! Each is a function of the [`super::ServerRun`] (who, how, and the report so far) and the typed
//! outputs of earlier stages, returning its own typed output:
//!
//! | stage | reads | returns |
//! |---|---|---|
//! | [`fetch`] | the upstream (cache of bare clones) | [`fetch::Upstream`]: tags, releases |
//! | [`releases`] | the release channels | [`releases::Releases`]: lookups, the chosen release |
//! | [`commands`] | a held PR's comments (the state's PR record) | - (records and answers decisions made on the PR) |
//! | [`quiet`] | the state (quiet mark), whether the open PR is still open (one forge read) | whether the last full check still answers |
//! | [`pin`] | the mirror's pin file | [`pin::Mirror`]: forge, pin, latest, newer? |
//! | [`security`] | the run's advisory answer (OSV) | [`security::Security`]; may propose a fixing release in its cooldown |
//! | [`trust`] | the tag history (remembers it) | the moved tags |
//! | [`judge`] | git objects (license files, the release diff) | [`judge::Judged`] |
//! | [`propose`] | nothing (pure) | [`propose::Proposal`]: title, body, pin edit |
//! | [`decide`] | the forge's PR and branch, the PR records | [`decide::Decision`] (the plan) |
//! | [`apply`] | writes the mirror and the forge | [`apply::Applied`] |
//! | [`record`] | writes the outcome in one transaction | - |
//!
//! A dry run stops after `decide`. Decisions are made by pure functions ([`super::plan`],
//! [`quiet::key`], [`crate::license::judge`], [`crate::render`]); stages gather their inputs and
//! carry out their answers.
//!
//! **Adding a stage**: a file here with one public function `fn(&mut ServerRun, &Earlier…) ->
//! anyhow::Result<Output>` that adds its findings to `run.report`, a line in
//! [`super::ServerRun::stages`], and (if the outcome must be kept) a field the record stage
//! writes. A new check of the change (MCP surface, advisories) is a function beside the license
//! judgement in [`judge`] and a field of [`judge::Judged`]; a new way to learn about the PR
//! (comment approvals, pipeline results) reads in [`decide`] and acts in [`apply`].

pub mod apply;
pub mod commands;
pub mod decide;
pub mod fetch;
pub mod judge;
pub mod pin;
pub mod propose;
pub mod quiet;
pub mod record;
pub mod releases;
pub mod security;
pub mod trust;

/// A valid one-server config for the stages' tests: `release` is the server's `release` line
/// (and any tables that follow it, e.g. `[servers.channels]`); the mirror is a local one.
#[cfg(test)]
pub(crate) fn test_server(release: &str) -> crate::config::ServerConfig {
    let src = format!(
        "[[servers]]\nname = \"s\"\nupstream = \"https://example.com/s.git\"\n\
         owners = [\"o@example.com\"]\n{release}\n[servers.mirror]\nforge = \"local\"\n\
         repo = \"var/mirrors/s.git\"\nbase = \"main\"\npin-file = \"pin.yml\"\n\
         pin-format = \"azure-pipelines\"\n"
    );
    crate::config::parse(std::path::Path::new("t.toml"), &src)
        .expect("valid config")
        .servers
        .remove(0)
}
