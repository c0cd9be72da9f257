//! The rebuild PR's "Auto-merge" line (issue 17): whether upkeep armed the forge's auto-merge,
//! and if not, which guards stopped it, in plain words. Pure; the caller passes the words
//! (`pipeline::plan::automerge::Guard::plain`), so a new guard needs no change here.

/// Where the line goes: just above the footer every rebuild PR body ends with.
const FOOTER: &str = "\n<sub>Opened by upkeep for ";

/// `armed`: the strategy the forge merges with. `blocked`: what stops it, in plain words.
pub fn pr_line(armed: Option<&str>, blocked: &[&str]) -> String {
    match armed {
        Some(strategy) => format!(
            "**Auto-merge:** on ({strategy}). Nothing in this release needs a person: the forge \
             merges this PR once the checks and policies the repository requires pass.\n"
        ),
        None => format!(
            "**Auto-merge:** not armed: {}. A person reviews and merges this PR.\n",
            blocked.join("; ")
        ),
    }
}

/// How many UTF-16 code units (what Azure DevOps counts; at least as many as characters)
/// the line adds to a body.
pub fn cost(line: &str) -> usize {
    line.encode_utf16().count() + 1
}

/// `body` with `line` above its footer (at the end when there is none).
pub fn with_line(body: &str, line: &str) -> String {
    let at = body.rfind(FOOTER).map_or(body.len(), |i| i + 1);
    let mut out = String::with_capacity(body.len() + line.len() + 1);
    out.push_str(&body[..at]);
    out.push_str(line);
    if at < body.len() {
        out.push('\n');
    }
    out.push_str(&body[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armed_names_the_strategy_and_blocked_names_each_guard() {
        let on = pr_line(Some("squash"), &[]);
        assert!(on.starts_with("**Auto-merge:** on (squash)."), "{on}");
        let off = pr_line(
            None,
            &["the license changed", "a binary file was added or changed"],
        );
        assert_eq!(
            off,
            "**Auto-merge:** not armed: the license changed; a binary file was added or \
             changed. A person reviews and merges this PR.\n"
        );
    }

    #[test]
    fn the_line_sits_above_the_footer_within_its_cost() {
        let body = "## Release\n\ntext\n\n<sub>Opened by upkeep for `s` · updated</sub>\n";
        let line = pr_line(Some("merge"), &[]);
        let out = with_line(body, &line);
        assert!(
            out.contains(&format!("text\n\n{line}\n<sub>Opened by upkeep")),
            "{out}"
        );
        assert_eq!(
            out.encode_utf16().count(),
            body.encode_utf16().count() + cost(&line)
        );
        let bare = with_line("no footer\n", "L\n");
        assert_eq!(bare, "no footer\nL\n");
    }
}
