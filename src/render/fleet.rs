//! The texts of the fleet at a glance (issue 17): the emails that tell a server's owners the
//! pipeline failed on its rebuild PR, and that its rebuild fell behind further than `max-lag`.
//! Pure.

use std::fmt::Write as _;

use super::{EmailText, html_from_text};

/// What the pipeline-failed email says.
pub struct PipelineFailed<'a> {
    pub server: &'a str,
    /// The release the PR proposes.
    pub version: &'a str,
    pub pr_url: Option<&'a str>,
    /// The head commit the checks ran on.
    pub head: &'a str,
    /// Each failed check: its name and where to read it.
    pub failed: &'a [(String, Option<String>)],
    /// Where every check of the PR is shown.
    pub checks_url: Option<&'a str>,
}

/// The email to the owners when the rebuild PR's pipeline failed on its head commit.
pub fn pipeline_failed_email(v: &PipelineFailed<'_>) -> EmailText {
    let subject = format!(
        "[upkeep] {}: the rebuild pipeline failed for {}",
        v.server, v.version
    );
    let mut t = format!(
        "The rebuild PR of {} for {} did not pass its pipeline, so it cannot be merged as it is.\n\n\
         Pull request: {}\nCommit: {}\n\nFailed checks:\n",
        v.server,
        v.version,
        v.pr_url.unwrap_or("(no link)"),
        v.head,
    );
    for (name, url) in v.failed {
        let _ = writeln!(
            t,
            "  - {}{}",
            name,
            url.as_deref().map(|u| format!(": {u}")).unwrap_or_default()
        );
    }
    if let Some(u) = v.checks_url {
        let _ = writeln!(t, "\nAll checks: {u}");
    }
    t.push_str(
        "\nWhat to do\n  1. Read the failed checks' logs: a build broken by the new release needs a fix on the\n     rebuild branch or upstream.\n  2. A flaky check: re-run it on the PR; upkeep reads the result on its next check.\n\
         upkeep tells you once per commit of the PR; a new commit that fails again is told again.\n",
    );
    EmailText {
        html: html_from_text(&t),
        subject,
        text: t,
    }
}

/// What the lag notice says.
pub struct LagNotice<'a> {
    pub server: &'a str,
    pub releases_behind: u32,
    /// When the oldest release newer than the pin was published (RFC 3339).
    pub behind_since: &'a str,
    /// How long ago that was, as people read it (`3d 4h`).
    pub lag: &'a str,
    /// The configured `max-lag`, as people read it.
    pub max_lag: &'a str,
    /// What blocks the server (`license-review`, `pipeline-failed`, ...), if anything.
    pub blocker: Option<&'a str>,
    pub pr_url: Option<&'a str>,
}

/// The notice to the owners when a server's rebuild has fallen further behind than `max-lag`.
pub fn lag_email(v: &LagNotice<'_>) -> EmailText {
    let subject = format!(
        "[upkeep] {}: the rebuild is {} behind upstream",
        v.server, v.lag
    );
    let mut t = format!(
        "The rebuild of {} is {} release{} behind upstream; the oldest of them was published {} \
         ({} ago),\nlonger ago than the {} this fleet allows ([freshness] max-lag).\n\n",
        v.server,
        v.releases_behind,
        if v.releases_behind == 1 { "" } else { "s" },
        v.behind_since,
        v.lag,
        v.max_lag,
    );
    let what = match v.blocker {
        Some("license-review") => {
            "a license change waits for legal review (`upkeep license show`)."
        }
        Some("mcp-review") => "a change of the MCP surface waits for review.",
        Some("moved-tag") => {
            "a release tag moved upstream; someone has to check it (`upkeep tag accept`)."
        }
        Some("pipeline-failed") => "the rebuild PR's pipeline failed; see its checks.",
        Some("awaiting-merge") => "the rebuild PR waits for someone to merge it.",
        Some("declined") => {
            "the rebuild PR was closed without merge; upkeep waits for a newer release."
        }
        Some("failing") => "upkeep's runs for this server fail (`upkeep status` shows the error).",
        _ => "nothing on upkeep's side; the next run proposes the release.",
    };
    let _ = writeln!(t, "What holds it: {what}");
    if let Some(u) = v.pr_url {
        let _ = writeln!(t, "Pull request: {u}");
    }
    t.push_str(
        "\nupkeep tells you once when a server passes max-lag, and again each time it falls \
         behind by\nanother max-lag.\n",
    );
    EmailText {
        html: html_from_text(&t),
        subject,
        text: t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_names_every_failed_check_and_escapes_them_in_html() {
        let failed = vec![
            (
                "build <linux>".to_string(),
                Some("https://ci/1".to_string()),
            ),
            ("lint".to_string(), None),
        ];
        let e = pipeline_failed_email(&PipelineFailed {
            server: "weather",
            version: "1.2.0",
            pr_url: Some("https://forge/pr/7"),
            head: "abc123",
            failed: &failed,
            checks_url: Some("https://forge/pr/7/checks"),
        });
        assert_eq!(
            e.subject,
            "[upkeep] weather: the rebuild pipeline failed for 1.2.0"
        );
        assert!(
            e.text
                .contains("  - build <linux>: https://ci/1\n  - lint\n"),
            "{}",
            e.text
        );
        assert!(e.text.contains("All checks: https://forge/pr/7/checks"));
        assert!(e.html.contains("build &lt;linux&gt;") && !e.html.contains("<linux>"));
    }

    #[test]
    fn the_lag_notice_says_how_far_behind_and_what_holds_it() {
        let e = lag_email(&LagNotice {
            server: "weather",
            releases_behind: 2,
            behind_since: "2026-03-01T00:00:00Z",
            lag: "15d",
            max_lag: "14days",
            blocker: Some("pipeline-failed"),
            pr_url: Some("https://forge/pr/7"),
        });
        assert_eq!(
            e.subject,
            "[upkeep] weather: the rebuild is 15d behind upstream"
        );
        assert!(e.text.contains("2 releases behind"), "{}", e.text);
        assert!(e.text.contains("pipeline failed"), "{}", e.text);
        assert!(e.text.contains("Pull request: https://forge/pr/7"));
    }
}
