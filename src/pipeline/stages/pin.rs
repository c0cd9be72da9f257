//! Stage `pin`: read what the mirror pins (the pin file on its base branch, by ref and commit),
//! and which release the run is about: the chosen one, or the pinned one while nothing newer is
//! proposable.

use anyhow::Context as _;

use super::fetch::Upstream;
use super::releases::Releases;
use crate::config::{ForgeConfig, ServerConfig};
use crate::forge::pin::{self, Pin, PinTarget};
use crate::forge::{BaseFile, Forge};
use crate::pipeline::ServerRun;
use crate::report::{Latest, Pinned};
use crate::upstream::version::Version;
use crate::upstream::{self, Release};

/// The mirror, as this run found it.
pub struct Mirror {
    pub forge: Box<dyn Forge>,
    /// The pin file on the base branch, and the base commit it was read at.
    pub base: BaseFile,
    pub pin: Pin,
    /// The pinned commit: from the pin, or the pinned ref resolved in the upstream.
    pub pinned_commit: Option<String>,
    /// The pinned release's version, when the pinned ref is a release tag.
    pub pinned_version: Option<Version>,
    /// The release to propose, or the pinned one when none is proposable yet.
    pub latest: Release,
    /// Whether `latest` is newer than the pin.
    pub newer: bool,
}

impl Mirror {
    /// Where in the pin file this server's upstream is pinned.
    pub fn target<'a>(server: &'a ServerConfig) -> PinTarget<'a> {
        PinTarget {
            upstream: &server.upstream,
            entry: server.mirror.pin_entry.as_deref(),
        }
    }
}

/// Set up the forge, read the pin, and settle the release this run is about.
pub fn read(
    run: &mut ServerRun<'_>,
    upstream: &Upstream,
    releases: &Releases,
) -> anyhow::Result<Mirror> {
    let server = run.server;
    let forge = (run.deps.forges)(server)
        .with_context(|| format!("setting up the {} mirror", forge_kind(server)))?;
    crate::failpoint::hit("after-fetch");
    let base = tracing::info_span!("pin")
        .in_scope(|| forge.read_base_file(&server.mirror.base, &server.mirror.pin_file))?;
    let pin = pin::read_pin(
        server.mirror.pin_format,
        &base.content,
        &Mirror::target(server),
    )
    .with_context(|| {
        format!(
            "reading the pin from {} on {}",
            server.mirror.pin_file, server.mirror.base
        )
    })?;
    let pinned_commit = match &pin.commit {
        Some(c) => Some(c.clone()),
        None => upstream
            .fetched
            .repo
            .revparse_single(&pin.git_ref)
            .and_then(|o| o.peel_to_commit())
            .ok()
            .map(|c| c.id().to_string()),
    };
    run.report.pinned = Some(Pinned {
        git_ref: pin.git_ref.clone(),
        commit: pinned_commit.clone(),
    });
    let pinned_tag = crate::render::short_ref(&pin.git_ref).to_string();
    let pinned_version = upstream::tag_version(&pinned_tag, &server.release);
    let Some(latest) = releases.chosen.clone().or_else(|| {
        // Nothing proposable yet: report the pinned release as the latest usable one.
        upstream
            .releases
            .iter()
            .find(|r| Some(&r.parsed) == pinned_version.as_ref())
            .cloned()
    }) else {
        anyhow::bail!(
            "no release of {} is proposable yet ({} waiting for the cooldown, {} without a tag)",
            server.name,
            releases.waiting.len(),
            releases.untagged.len()
        );
    };
    run.report.latest = Some(Latest {
        version: latest.version.clone(),
        tag: latest.tag.clone(),
        commit: latest.commit.clone(),
        date: releases
            .published
            .as_ref()
            .and_then(|p| p.published_at)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .or_else(|| latest.date.clone()),
    });
    let newer = match &pinned_version {
        Some(pv) => latest.parsed > *pv,
        None => latest.commit != pinned_commit.clone().unwrap_or_default(),
    };
    Ok(Mirror {
        forge,
        base,
        pin,
        pinned_commit,
        pinned_version,
        latest,
        newer,
    })
}

fn forge_kind(server: &ServerConfig) -> &'static str {
    match server.mirror.forge {
        ForgeConfig::Local { .. } => "local",
        ForgeConfig::Github { .. } => "GitHub",
        ForgeConfig::AzureDevops { .. } => "Azure DevOps",
    }
}
