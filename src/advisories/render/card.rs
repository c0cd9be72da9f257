//! The chat card of an advisory notice (pure): what a Teams or Slack channel shows when the
//! owners are told of an advisory, with the facts a reader acts on (severity, the advisory and
//! its aliases, its summary, the pinned version, what fixes it or that nothing does yet) and
//! buttons to the rebuild PR and the advisory's page.
//!
//! The card is data ([`ChatCard`]); `render::chat` turns it into each service's JSON and makes
//! its text inert there (mentions, markup, control characters), as for every other card.

use super::{NoticeView, advisory_url, aliases_line, fixed_in_text, severity_text};
use crate::advisories::assess::{Advisory, plain_line};
use crate::advisories::{Notice, Severity};
use crate::render::chat::{ChatCard, Tone};

/// What the "Fixed in" fact says when no release upstream fixes the advisory.
pub const NO_FIX_YET: &str = "no fixed release upstream yet";

/// The card for `notice` about the server in `v`.
pub fn notice_card(v: &NoticeView<'_>, notice: &Notice<'_>) -> ChatCard {
    let a = notice.advisory();
    let id = plain_line(&a.id, 100);
    let (title, fixed, todo) = match notice {
        Notice::FixAvailable { release, .. } => (
            format!(
                "{} {}: security advisory {id}, fixed in {release}",
                v.server, v.pinned
            ),
            (*release).to_string(),
            match v.pr_url {
                Some(_) => format!(
                    "Review and merge the rebuild PR to {release}: upkeep skipped the release cooldown for it."
                ),
                None => format!(
                    "upkeep proposes {release} as a rebuild PR on its next run, without waiting for the cooldown."
                ),
            },
        ),
        Notice::NoFixYet { .. } => (
            format!(
                "{} {}: security advisory {id}, {NO_FIX_YET}",
                v.server, v.pinned
            ),
            match &a.fixed_in[..] {
                [] => NO_FIX_YET.to_string(),
                named => format!("{NO_FIX_YET} (the advisory names {})", named.join(", ")),
            },
            "Decide whether the internal deployment is exposed; upkeep tells you again when a release fixes it.".to_string(),
        ),
        Notice::ProposedAffected { version, .. } => (
            format!(
                "{} {version}: the proposed release is itself affected by {id}",
                v.server
            ),
            fixed_in_text(a),
            format!("Merging the rebuild to {version} does not remove this advisory."),
        ),
    };
    let mut facts = vec![
        ("Server".to_string(), v.server.to_string()),
        ("Severity".to_string(), severity_text(a)),
        ("Advisory".to_string(), id),
    ];
    let aliases = aliases_line(a, 6);
    if !aliases.is_empty() {
        facts.push(("Aliases".into(), aliases));
    }
    facts.push(("Pinned".into(), v.pinned.to_string()));
    if let Notice::ProposedAffected { version, .. } = notice {
        facts.push(("Proposed".into(), (*version).to_string()));
    }
    facts.push(("Fixed in".into(), fixed));
    ChatCard {
        title,
        facts,
        summary: vec![summary_line(a), todo],
        link: v.pr_url.map(str::to_string),
        tone: tone(a.severity),
        more: advisory_url(&a.id).map(|url| ("Read the advisory".to_string(), url)),
        ..ChatCard::default()
    }
}

fn summary_line(a: &Advisory) -> String {
    match (&a.summary[..], &a.details_error) {
        ("", Some(_)) => {
            "(the advisory's details could not be read from the advisory service)".into()
        }
        ("", None) => "(the advisory has no summary)".into(),
        (summary, _) => summary.to_string(),
    }
}

fn tone(severity: Severity) -> Tone {
    match severity {
        Severity::Critical | Severity::High => Tone::Attention,
        Severity::Medium => Tone::Warning,
        Severity::Low | Severity::Unknown => Tone::Plain,
    }
}
