//! The texts of the fleet at a glance (issue 17): the email that tells a server's owners the
//! pipeline failed on its rebuild PR. Pure.

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
}
