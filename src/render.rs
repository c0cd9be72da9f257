//! The texts people read: rebuild PR titles and bodies, and owner emails. Pure functions of
//! the run's findings; no I/O. Bodies are size-aware: the least important sections are cut
//! first and the cut is said in the body. The license change's own screens are in [`license`].

pub mod automerge;
pub mod chat;
pub mod decisions;
pub mod fleet;
pub mod license;

mod review;

use std::fmt::Write as _;

pub use review::{MCP_REVIEW_LABEL, McpView, SecurityView, held_finding_lines, mcp_email};

use crate::license::{LicenseJudgement, LicenseSnapshot, Verdict};
use crate::report::{Attachment, Latest, MovedTag, Pinned};
use crate::upstream::diff::ReleaseDiff;

/// Label put on a rebuild PR held for license review.
pub const REVIEW_LABEL: &str = "license-review-required";

/// Everything a reviewer needs about one proposed rebuild.
pub struct RebuildView<'a> {
    pub server: &'a str,
    pub upstream: &'a str,
    pub old: &'a Pinned,
    pub old_version: Option<&'a str>,
    pub new: &'a Latest,
    pub license: Option<&'a LicenseJudgement>,
    /// The license files of the pinned and the proposed release, for the full texts (email
    /// attachments, the PR's collapsed section); `None` where not at hand.
    pub license_texts: (Option<&'a LicenseSnapshot>, Option<&'a LicenseSnapshot>),
    pub approval: Option<ApprovalView<'a>>,
    /// The license change awaits review: the PR is a held draft.
    pub license_held: bool,
    /// The MCP surface change, when either revision uses an MCP SDK.
    pub mcp: Option<McpView<'a>>,
    /// The advisory section, when the server's packages were looked up.
    pub security: Option<SecurityView<'a>>,
    pub diff: Option<&'a ReleaseDiff>,
    /// Release notes from the release channel (e.g. the GitHub release body), preferred over
    /// the changelog section found in the diff.
    pub release_notes: Option<&'a str>,
    /// The release channels looked up, with their cross-check findings.
    pub channels: &'a [crate::report::ChannelReport],
    pub run_id: i64,
    /// Who may decide a held license review on the PR (none: the CLI only).
    pub approvers: &'a [crate::config::license::Approver],
}

/// A recorded approval of the license change, as the PR body states it.
#[derive(Debug, Clone, Copy)]
pub struct ApprovalView<'a> {
    pub approved_by: &'a str,
    /// RFC 3339; the body shows the date.
    pub approved_at: &'a str,
    pub note: Option<&'a str>,
}

impl RebuildView<'_> {
    /// Some review holds the rebuild: the PR is a draft.
    pub fn held(&self) -> bool {
        self.license_held || self.mcp.is_some_and(|m| m.held)
    }

    pub(crate) fn old_label(&self) -> String {
        self.old_version
            .map_or_else(|| short_ref(&self.old.git_ref).to_string(), str::to_string)
    }
}

/// `refs/tags/v1.2.0` -> `v1.2.0`.
pub fn short_ref(r: &str) -> &str {
    r.strip_prefix("refs/tags/")
        .or_else(|| r.strip_prefix("refs/heads/"))
        .unwrap_or(r)
}

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

/// Text from an upstream (tag names, commit subjects) goes into Markdown: neutralise what could
/// render as markup, mention people, reference issues and PRs, or break out of a table cell.
///
/// A backslash alone does not stop a mention: GitHub resolves `@x` and `#1` after Markdown has
/// removed the escape. So mentions and references are also broken by [`neutralise_refs`].
pub fn md_escape(s: &str) -> String {
    neutralise_refs(&md_escape_markup(s))
}

/// The Markdown escaping of [`md_escape`] without breaking mentions, references and URLs: for
/// text from the config (the upstream URL), which is meant to link.
fn md_escape_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '@' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Zero-width joiner: invisible, and a word character to neither forge's autolinker.
const ZWJ: char = '\u{200D}';

/// Upstream text that a forge must not read as a mention or a reference, for any text a forge
/// renders (PR titles, bodies, comments, commit messages): a zero-width joiner after every `#`
/// and `!` that something follows, after an `@` that starts a word, and between `GH-` and its
/// number; and after the `//` of an `http(s)://` URL and the `www.` that starts one. That breaks
/// what GitHub autolinks ("Autolinked references and URLs": `#26`, `GH-26`, `owner/repo#26`,
/// full URLs, whose issue and PR URLs are cross-references too;
/// "Mentioning people and teams": `@user`, `@org/team`) and what Azure DevOps links
/// ("Link work items": `#123` work items, `!123` pull requests, `@<id>` mentions), with or
/// without a Markdown backslash before it. The text reads the same.
pub fn neutralise_refs(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        out.push(c);
        let next = chars.get(i + 1).copied();
        let follows = next.is_some_and(|n| !n.is_whitespace() && n != ZWJ);
        let breaks = match c {
            '#' | '!' => follows,
            '@' => follows && !in_word(&chars[..i]),
            '-' => next.is_some_and(|n| n.is_ascii_digit()) && after_gh(&chars[..i]),
            '/' => follows && after_scheme(&chars[..=i]),
            '.' => follows && after_www(&chars[..i]),
            _ => false,
        };
        if breaks {
            out.push(ZWJ);
        }
    }
    out
}

/// Whether an `@` after `before` is inside a word (`name@example.com`, `undici@^7`): neither
/// forge reads that as a mention. A Markdown escape before the `@` is looked through.
fn in_word(before: &[char]) -> bool {
    let before = before.strip_suffix(&['\\']).unwrap_or(before);
    before
        .last()
        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

/// Whether `upto` ends with `http://` or `https://` (any case) at the start of a word: a full
/// URL GitHub autolinks ("Autolinked references and URLs"), and a URL of one of its issues or
/// pull requests is a cross-reference that shows up in that issue's timeline. A joiner after
/// the `//` leaves no valid domain to link (GFM "extended autolinks").
fn after_scheme(upto: &[char]) -> bool {
    let text: String = upto
        .iter()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let lower = text.to_ascii_lowercase();
    let Some(scheme) = ["https://", "http://"]
        .into_iter()
        .find(|p| lower.ends_with(p))
    else {
        return false;
    };
    let start = upto.len() - scheme.len();
    start == 0 || !upto[start - 1].is_alphanumeric()
}

/// Whether `before` ends with a `www` (any case) that starts a word: GFM links `www.` too.
fn after_www(before: &[char]) -> bool {
    match before {
        [.., a, b, c] if [a, b, c].iter().all(|x| x.eq_ignore_ascii_case(&'w')) => {
            before.len() == 3 || !before[before.len() - 4].is_alphanumeric()
        }
        _ => false,
    }
}

/// Whether `before` ends with a `GH` (any case) that starts a word: GitHub's `GH-26` prefix.
fn after_gh(before: &[char]) -> bool {
    match before {
        [.., g, h] if g.eq_ignore_ascii_case(&'g') && h.eq_ignore_ascii_case(&'h') => {
            before.len() == 2 || !before[before.len() - 3].is_alphanumeric()
        }
        _ => false,
    }
}

pub fn pr_title(v: &RebuildView<'_>) -> String {
    // Titles render references too: the version comes from an upstream tag.
    let mut t = format!(
        "Rebuild {} {} → {}",
        v.server,
        neutralise_refs(&v.old_label()),
        neutralise_refs(&v.new.version)
    );
    match (v.license_held, v.mcp.is_some_and(|m| m.held)) {
        (true, true) => t.push_str(" (license and MCP review required)"),
        (true, false) => t.push_str(" (license review required)"),
        (false, true) => t.push_str(" (MCP review required)"),
        (false, false) => {}
    }
    t
}

/// The commit message of the pin bump.
pub fn commit_message(v: &RebuildView<'_>) -> String {
    format!(
        "Rebuild {} {} -> {}\n\nPin the upstream {} to {} ({}).\n\nProposed by upkeep run {}.",
        v.server,
        neutralise_refs(&v.old_label()),
        neutralise_refs(&v.new.version),
        v.upstream,
        neutralise_refs(&v.new.tag),
        v.new.commit,
        v.run_id
    )
}

/// Section of the PR body, in order of importance (cut from the end).
#[derive(Clone)]
struct Section {
    title: String,
    text: String,
}

impl Section {
    /// Characters the section takes in the body (`### title`, the text, the blank line).
    fn chars(&self) -> usize {
        self.title.chars().count() + self.text.chars().count() + 6
    }
}

/// `1234567` -> `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The note on a rebuild PR whose branch someone else changed: upkeep leaves it alone and
/// carries on elsewhere. `commits` are (id, author, subject) of the commits on the branch that
/// the base does not have, when the forge could list them.
pub fn touched_branch_note(
    branch: &str,
    version: &str,
    fresh_url: &str,
    commits: &[(&str, &str, &str)],
) -> String {
    // The version is upstream text: escaped and neutralised, as in the title.
    let mut t = format!(
        "upkeep found `{branch}` changed since it last wrote it and will not force-push over it. \
         The rebuild of {} continues in {fresh_url}. This PR is left as it is: merge or \
         close it.\n",
        md_escape(version)
    );
    if !commits.is_empty() {
        t.push_str("\nCommits on it that the base branch does not have:\n");
        for (id, author, subject) in commits {
            let _ = writeln!(
                t,
                "- `{}` {}: {}",
                &id[..id.len().min(12)],
                md_escape(author),
                md_escape(subject)
            );
        }
    }
    t
}

/// A compare link for upstreams on hosts whose compare URL is known (GitHub).
pub fn compare_url(upstream: &str, old_ref: &str, new_tag: &str) -> Option<String> {
    let rest = upstream
        .strip_prefix("https://github.com/")
        .or_else(|| upstream.strip_prefix("git@github.com:"))
        .or_else(|| upstream.strip_prefix("ssh://git@github.com/"))?;
    let repo = rest.trim_end_matches('/').trim_end_matches(".git");
    if repo.split('/').count() != 2 {
        return None;
    }
    let enc = |s: &str| {
        s.replace('%', "%25")
            .replace(' ', "%20")
            .replace('#', "%23")
    };
    Some(format!(
        "https://github.com/{repo}/compare/{}...{}",
        enc(short_ref(old_ref)),
        enc(new_tag)
    ))
}

fn summary_rows(head: &mut String, d: &ReleaseDiff) {
    let c = &d.commits;
    let _ = writeln!(
        head,
        "| commits / files | | {} commit{} by {} author{} · {} file{} · +{} −{} |",
        thousands(c.count as u64),
        if c.count == 1 { "" } else { "s" },
        c.authors_total(),
        if c.authors_total() == 1 { "" } else { "s" },
        thousands(d.files.changed as u64),
        if d.files.changed == 1 { "" } else { "s" },
        thousands(d.files.insertions),
        thousands(d.files.deletions)
    );
    let mut history = Vec::new();
    if !c.old_is_ancestor {
        history.push("⚠ the pinned commit is not an ancestor of the release (rewritten history or another branch)".to_string());
    }
    match c.reachable_from_default {
        Some(false) => {
            history.push("⚠ the release commit is not on the upstream default branch".to_string())
        }
        Some(true) => history.push("on the default branch".to_string()),
        None => {}
    }
    if !history.is_empty() {
        let _ = writeln!(head, "| history | | {} |", history.join(" · "));
    }
}

fn signals_section(d: &ReleaseDiff) -> String {
    let mut t = String::new();
    for s in &d.signals {
        let _ = writeln!(
            t,
            "- `{}`: {} <sub>{}</sub>",
            md_escape(&s.path).replace('`', "'"),
            md_escape(&s.reason),
            s.code
        );
    }
    if d.signals_truncated > 0 {
        let _ = writeln!(
            t,
            "- … {} more of the same kinds (at most {} listed per kind)",
            d.signals_truncated,
            crate::upstream::diff::MAX_SIGNALS_PER_CODE
        );
    }
    t
}

fn commits_section(d: &ReleaseDiff, compare: Option<&str>) -> String {
    let mut t = String::new();
    for c in &d.commits.list {
        let _ = writeln!(
            t,
            "- `{}` {}{} <sub>{}</sub>",
            c.short_id,
            if c.is_merge { "**merge** " } else { "" },
            md_escape(&c.subject),
            md_escape(&c.author)
        );
    }
    if d.commits.truncated > 0 {
        let _ = writeln!(
            t,
            "- … {} more{}",
            d.commits.truncated,
            compare.map(|u| format!(": {u}")).unwrap_or_default()
        );
    } else if let Some(u) = compare {
        let _ = writeln!(t, "\nCompare: {u}");
    }
    t
}

fn files_section(d: &ReleaseDiff) -> String {
    let mut t = String::new();
    for f in &d.files.largest {
        let _ = writeln!(
            t,
            "- `{}` +{} −{}",
            md_escape(&f.path).replace('`', "'"),
            f.insertions,
            f.deletions
        );
    }
    for f in &d.files.binary_or_large {
        let _ = writeln!(
            t,
            "- `{}` {}{}",
            md_escape(&f.path).replace('`', "'"),
            if f.large { "large file" } else { "binary" },
            f.size
                .map(|s| format!(", {} bytes", thousands(s)))
                .unwrap_or_default()
        );
    }
    if d.files.renames_count > 0 {
        let _ = writeln!(t, "- {} rename(s)", d.files.renames_count);
    }
    t
}

/// The PR body, within `limit` characters.
pub fn pr_body(v: &RebuildView<'_>, limit: usize) -> String {
    let head = pr_head(v);
    let compare = compare_url(v.upstream, &v.old.git_ref, &v.new.tag);
    let mut checklist = format!(
        "- [ ] Mirror pipeline green: no supply-chain vulnerabilities, no failed SDL tasks\n\
         - [ ] Component Governance: no open alerts\n\
         - [ ] CELA review of the license change ({})\n",
        if v.license
            .is_some_and(|l| l.verdict == Verdict::ReviewRequired)
        {
            "required for this release"
        } else {
            "not needed: no license change"
        }
    );
    if let Some(m) = v.mcp.filter(McpView::review_required) {
        let _ = writeln!(
            checklist,
            "- [{}] Review of the MCP surface change (findings at the hold levels)",
            if m.held { " " } else { "x" }
        );
    }
    // No run id or time here: an unchanged proposal must render to the same body, so a rerun
    // does not touch the PR.
    let footer = format!(
        "\n<sub>Opened by upkeep for `{}` · updated in place when a newer release appears</sub>\n",
        v.server
    );
    let fixed = [head.as_str(), checklist.as_str(), footer.as_str()]
        .iter()
        .map(|s| s.chars().count())
        .sum::<usize>()
        + FIXED_RESERVE;
    let mut sections = pr_sections(v, compare.as_deref(), limit.saturating_sub(fixed));
    // The full new license texts, collapsed, come last and only whole: a forge whose limit
    // cannot hold them (Azure DevOps) gets the pointer to the email and `license show` instead.
    let full = v
        .license
        .filter(|l| l.verdict == Verdict::ReviewRequired)
        .and_then(|l| license::pr_full_texts(l, v.license_texts.1, &v.new.tag));
    let Some(full) = full else {
        return fit_body(head, sections, &checklist, &footer, limit);
    };
    let without = fit_body(head.clone(), sections.clone(), &checklist, &footer, limit);
    sections.push(Section {
        title: "Full license texts".into(),
        text: full.clone(),
    });
    let with = fit_body(head, sections, &checklist, &footer, limit);
    if with.contains(&full) { with } else { without }
}

/// `> ✅ <what> approved by <who> on <date> (<note>).` and a blank line.
fn approved_line(what: &str, a: ApprovalView<'_>) -> String {
    format!(
        "> ✅ {what} approved by {} on {}{}.\n",
        md_escape(a.approved_by),
        a.approved_at.get(..10).unwrap_or(a.approved_at),
        a.note
            .map(|n| format!(" ({})", md_escape(n)))
            .unwrap_or_default()
    )
}

/// How the hold banner says what keeps the PR from being merged, on a forge with draft PRs.
const DRAFT_UNTIL: &str = "This PR stays a draft until";
/// The same where the repository has no draft PRs and the PR is open ready for review.
const BLOCKED_UNTIL: &str = "Draft PRs are not available in this repository, so this PR is open \
     for review but **must not be merged** until";

/// A held PR's body for a repository without draft PRs: the same body, each banner (a PR can be
/// held for its license and its MCP surface at once) saying the PR must not be merged instead of
/// that it stays a draft.
pub fn pr_body_without_draft(body: &str) -> String {
    body.replace(DRAFT_UNTIL, BLOCKED_UNTIL)
}

/// The top of the PR body: the hold (or approval) line and the table of pinned vs proposed.
fn pr_head(v: &RebuildView<'_>) -> String {
    let mut head = String::new();
    if let Some(m) = v.mcp {
        review::mcp_banner(&mut head, v, m);
    }
    if let Some(l) = v.license.filter(|l| v.license_held && l.analysis.is_some()) {
        head.push_str(&license::pr_banner(
            l,
            v.server,
            &v.new.version,
            v.approvers,
        ));
    } else if v.license_held {
        let reason = v
            .license
            .map_or("the license changed", |l| l.reason.as_str());
        let how = if v.approvers.is_empty() {
            format!(
                "{DRAFT_UNTIL} `upkeep license approve {} --by <name>` records an approval.",
                v.server
            )
        } else {
            decisions::pr_how_to_decide(
                decisions::Subject::License,
                v.server,
                &v.new.version,
                v.approvers,
                DRAFT_UNTIL,
            )
        };
        let _ = writeln!(
            head,
            "> ⛔ **Blocked: license change needs CELA review.** {}. {how}\n",
            md_escape(reason),
        );
    } else if let Some(a) = v.approval {
        let _ = writeln!(head, "{}", approved_line("License change", a));
    }
    let _ = writeln!(head, "| | pinned | proposed |\n|---|---|---|");
    // The upstream URL comes from the config: it links (escaped for the table all the same).
    let _ = writeln!(head, "| upstream | {} | |", md_escape_markup(v.upstream));
    let _ = writeln!(
        head,
        "| ref | `{}` | `refs/tags/{}` |",
        v.old.git_ref.replace('`', "'"),
        v.new.tag.replace('`', "'")
    );
    let _ = writeln!(
        head,
        "| commit | `{}` | `{}` |",
        v.old.commit.as_deref().map_or("unknown", short),
        short(&v.new.commit)
    );
    if let Some(date) = &v.new.date {
        let _ = writeln!(head, "| released | | {} |", date.get(..10).unwrap_or(date));
    }
    if let Some(d) = v.diff {
        summary_rows(&mut head, d);
    }
    if !v.channels.is_empty() {
        let _ = writeln!(head, "| channels | | {} |", channel_cells(v.channels));
    }
    head.push('\n');
    head
}

/// One cell per release channel: its latest version, or what is wrong with it. A tagged version
/// the registry holds back (deprecated, yanked) is the publisher's decision, not a disagreement:
/// it has its own section.
fn channel_cells(channels: &[crate::report::ChannelReport]) -> String {
    let cells: Vec<String> = channels
        .iter()
        .map(|c| match (&c.error, disagreements(c)) {
            (Some(_), _) => format!("{} ⚠ lookup failed", c.name),
            (None, 0) => format!(
                "{} {} ✔",
                c.name,
                md_escape(c.latest.as_deref().unwrap_or("-"))
            ),
            (None, n) => format!(
                "{} ⚠ {n} discrepanc{}",
                c.name,
                if n == 1 { "y" } else { "ies" }
            ),
        })
        .collect();
    cells.join(" · ")
}

/// How many cross-check findings of a channel are disagreements, not versions held back.
fn disagreements(c: &crate::report::ChannelReport) -> usize {
    c.discrepancies
        .iter()
        .filter(|d| !d.kind.is_withheld())
        .count()
}

/// The body's sections, most important first (advisories the release fixes, the license, the
/// MCP surface, other advisories, channel problems, signals, commits, release notes, largest
/// changes). `room` is what the sections may take in all.
fn pr_sections(v: &RebuildView<'_>, compare: Option<&str>, room: usize) -> Vec<Section> {
    let mut sections = Vec::new();
    let security = v.security.map(review::security_section);
    let leads = v.security.is_some_and(|s| s.leads);
    if leads {
        sections.extend(security.clone());
    }
    if let Some(l) = v.license {
        let title = match l.verdict {
            Verdict::Unchanged => "License: unchanged",
            Verdict::Cosmetic => "License: cosmetic change only",
            Verdict::ReviewRequired if v.license_held => "License: review required",
            Verdict::ReviewRequired => "License: changed (approved)",
        };
        let text = if l.verdict == Verdict::ReviewRequired && l.analysis.is_some() {
            license::pr_section(l, v.server)
        } else {
            license_section(l, v.license_held)
        };
        sections.push(Section {
            title: title.into(),
            text,
        });
    }
    if let Some(m) = v.mcp {
        let used: usize = sections.iter().map(Section::chars).sum();
        sections.extend(review::mcp_section(m, room.saturating_sub(used)));
    }
    if !leads {
        sections.extend(security);
    }
    let problems: Vec<String> = v
        .channels
        .iter()
        .flat_map(|c| {
            c.error
                .iter()
                .map(move |e| format!("- {}: lookup failed: {}", c.name, md_escape(e)))
                .chain(
                    c.discrepancies
                        .iter()
                        .filter(|d| !d.kind.is_withheld())
                        .map(|d| format!("- {}: {}", d.channel, md_escape(&d.detail))),
                )
        })
        .collect();
    if !problems.is_empty() {
        sections.push(Section {
            title: "Release channels disagree".into(),
            text: problems.join("\n") + "\n",
        });
    }
    let held_back: Vec<String> = v
        .channels
        .iter()
        .flat_map(|c| &c.discrepancies)
        .filter(|d| d.kind.is_withheld())
        .map(|d| format!("- {}: {}", d.channel, md_escape(&d.detail)))
        .collect();
    if !held_back.is_empty() {
        sections.push(Section {
            title: "Tagged versions the registries hold back (not proposed)".into(),
            text: held_back.join("\n") + "\n",
        });
    }
    match v.diff {
        Some(d) => sections.extend(diff_sections(v, d, compare)),
        None => sections.push(Section {
            title: "Commits".into(),
            text: "The pinned commit is not in the upstream history, so no commit range can be shown.\n".into(),
        }),
    }
    sections
}

/// The sections drawn from the release diff.
fn diff_sections(v: &RebuildView<'_>, d: &ReleaseDiff, compare: Option<&str>) -> Vec<Section> {
    let mut sections = Vec::new();
    if !d.signals.is_empty() {
        sections.push(Section {
            title: format!(
                "Supply-chain signals ({})",
                d.signals.len() + d.signals_truncated
            ),
            text: signals_section(d),
        });
    }
    let shown = d.commits.list.len();
    sections.push(Section {
        title: if d.commits.truncated > 0 {
            format!("Commits ({}; showing {shown})", d.commits.count)
        } else {
            format!("Commits ({})", d.commits.count)
        },
        text: commits_section(d, compare),
    });
    if let Some(notes) = v.release_notes {
        sections.push(Section {
            title: format!("Release notes ({})", md_escape(&v.new.tag)),
            text: quote(notes),
        });
    } else if let Some(notes) = &d.release_notes {
        sections.push(Section {
            title: format!(
                "Release notes ({}: {})",
                md_escape(&notes.path),
                md_escape(&notes.heading)
            ),
            text: format!(
                "{}{}\n",
                quote(&notes.text),
                if notes.truncated { "\n> …" } else { "" }
            ),
        });
    }
    if !d.files.largest.is_empty() || !d.files.binary_or_large.is_empty() {
        sections.push(Section {
            title: "Largest changes".into(),
            text: files_section(d),
        });
    }
    sections
}

/// Room kept beside the head, checklist and footer for the "cut to fit" note.
const FIXED_RESERVE: usize = 300;

/// Assemble the body, cutting the least important sections (from the end) until it fits, and
/// saying what was cut. Lengths are counted in UTF-16 code units, which is how Azure DevOps
/// counts its 4,000 (a .NET string length: an emoji is two); a body within that many units is
/// within that many characters too, so the one count serves every forge. Cuts fall between
/// characters, never inside a surrogate pair.
fn fit_body(
    head: String,
    sections: Vec<Section>,
    checklist: &str,
    footer: &str,
    limit: usize,
) -> String {
    let chars = |s: &str| s.encode_utf16().count();
    let fixed = chars(&head) + chars(checklist) + chars(footer) + FIXED_RESERVE;
    let mut body = head;
    let mut cut = Vec::new();
    let mut budget = limit.saturating_sub(fixed);
    for s in sections {
        let block = format!("### {}\n{}\n", s.title, s.text);
        let n = chars(&block);
        if n <= budget {
            budget -= n;
            body.push_str(&block);
        } else if budget > 400 {
            let keep = take_utf16(&block, budget - 100);
            let keep = keep.rfind('\n').map_or(keep.as_str(), |i| &keep[..i]);
            body.push_str(keep);
            // Close a code fence the cut may have left open.
            if keep.matches("```").count() % 2 == 1 {
                body.push_str("\n```");
            }
            body.push_str("\n…\n\n");
            budget = 0;
            cut.push(format!("{} (shortened)", s.title));
        } else {
            cut.push(s.title.clone());
        }
    }
    body.push_str("### Sponsoring checklist\n");
    body.push_str(checklist);
    if !cut.is_empty() {
        let _ = writeln!(
            body,
            "\n_Cut to fit this forge's size limit: {}. `upkeep sync --now --json` shows everything._",
            cut.join(", ")
        );
    }
    body.push_str(footer);
    body
}

/// The longest prefix of `text` of at most `units` UTF-16 code units, cut between characters.
fn take_utf16(text: &str, units: usize) -> String {
    let mut used = 0;
    text.chars()
        .take_while(|c| {
            used += c.len_utf16();
            used <= units
        })
        .collect()
}

fn quote(text: &str) -> String {
    text.lines()
        .map(|l| format!("> {}\n", md_escape(l)))
        .collect()
}

fn license_section(l: &LicenseJudgement, held: bool) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "**{}**: {}{}\n",
        l.verdict.code(),
        md_escape(&l.reason),
        if held {
            ""
        } else if l.verdict == Verdict::ReviewRequired {
            " (approved)"
        } else {
            ""
        }
    );
    for line in &l.summary {
        let _ = writeln!(t, "- {}", md_escape(line));
    }
    for f in &l.files {
        if let Some(d) = &f.unified_diff {
            let _ = writeln!(
                t,
                "\n`{}`:\n```diff\n{}```",
                md_escape(&f.path),
                d.replace("```", "'''")
            );
        }
    }
    t
}

/// Subject and bodies (text, HTML) of an email.
pub struct EmailText {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Make untrusted text safe inside HTML.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html_from_text(text: &str) -> String {
    format!(
        "<html><body><pre style=\"font-family:monospace\">{}</pre></body></html>",
        html_escape(text)
    )
}

/// The email that asks owners for a CELA review of a license change: plain text, and HTML with
/// the non-standard words highlighted (without its attachments; see
/// [`license_email_with_attachments`]).
pub fn license_email(v: &RebuildView<'_>, pr_url: Option<&str>, sla_days: u64) -> EmailText {
    license_email_with_attachments(v, pr_url, sla_days).0
}

/// The license review email and its attachments (the comparison with the standard text or the
/// diff, the new and the old license files), within [`license::EMAIL_LIMIT_BYTES`] in total:
/// what does not fit is named in the email, which points to `upkeep license show`.
pub fn license_email_with_attachments(
    v: &RebuildView<'_>,
    pr_url: Option<&str>,
    sla_days: u64,
) -> (EmailText, Vec<Attachment>) {
    let subject = license_email_subject(v);
    let intro = format!(
        "The upstream of {}, a sponsored server you own, released {} with a changed license.\n\
         upkeep has held the rebuild until the change is reviewed.",
        v.server, v.new.version
    );
    let steps_after = decisions::email_steps(
        decisions::Subject::License,
        v.server,
        &v.new.version,
        v.approvers,
    );
    let steps = [
        "Send this email and its attachments to CELA for review.".to_string(),
        steps_after[0].clone(),
        steps_after[1].clone(),
    ];
    let pins = format!(
        "Pinned: {} ({})   Proposed: {} ({})",
        short_ref(&v.old.git_ref),
        v.old.commit.as_deref().map_or("unknown", short),
        v.new.tag,
        short(&v.new.commit)
    );
    let footer = format!(
        "You get this email once for this license text. If it is not reviewed within {sla_days} days, upkeep reminds you."
    );
    let summary = v.license.map(license::email_summary);
    let mut t = String::new();
    let mut h = String::from("<html><body style=\"font-family:sans-serif\">");
    // The first line is the change itself; the commercial option and its contact follow.
    if let Some(l) = v.license {
        let top: Vec<String> = std::iter::once(license::headline(l))
            .chain(license::commercial_line(l))
            .collect();
        let _ = writeln!(t, "{}\n", top.join("\n"));
        let _ = write!(
            h,
            "<p style=\"font-size:1.1em\"><b>{}</b></p>",
            top.iter()
                .map(|s| html_escape(s))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    let _ = writeln!(t, "{intro}");
    let _ = write!(h, "<p>{}</p>", html_escape(&intro).replace('\n', "<br>"));
    if let Some(summary) = &summary {
        t.push_str(&summary.text);
        h.push_str(&summary.html);
    }
    t.push_str("\nWhat to do\n");
    h.push_str("<h3>What to do</h3><ol>");
    for (i, step) in steps.iter().enumerate() {
        let _ = writeln!(t, "  {}. {step}", i + 1);
        let _ = write!(h, "<li>{}</li>", html_escape(step).replace('\n', "<br>"));
    }
    h.push_str("</ol>");
    t.push('\n');
    if let Some(url) = pr_url {
        let _ = writeln!(t, "Rebuild PR (draft): {url}");
        let _ = write!(
            h,
            "<p>Rebuild PR (draft): <a href=\"{0}\">{0}</a></p>",
            html_escape(url)
        );
    }
    if let Some(part) = review::mcp_email_part(v) {
        let _ = writeln!(t, "{part}");
        let _ = write!(
            h,
            "<pre style=\"white-space:pre-wrap\">{}</pre>",
            html_escape(&part)
        );
    }
    let tail = format!("{pins}\n\n{footer}");
    let budget = license::attachment_budget(&t, &h).saturating_sub(2 * tail.len());
    let (attachments, files) = license_attachments(v, budget);
    let _ = writeln!(t, "{files}{tail}");
    let _ = write!(
        h,
        "<p>{}</p><p><code>{}</code></p><p style=\"color:#666\">{}</p></body></html>",
        html_escape(&files).replace('\n', "<br>"),
        html_escape(&pins),
        html_escape(&footer)
    );
    (
        EmailText {
            subject,
            text: t,
            html: h,
        },
        attachments,
    )
}

/// The license email's subject: its tail is the change as expressions, so an inbox list says
/// what happened.
fn license_email_subject(v: &RebuildView<'_>) -> String {
    let mut subject = format!(
        "[upkeep] {} {} -> {}: license change needs CELA review",
        v.server,
        v.old_label(),
        v.new.version
    );
    // The subject's tail is the change as expressions, so an inbox list says what happened.
    if let Some(a) = v.license.and_then(|l| l.analysis.as_ref()) {
        let expr = |e: Option<&String>| e.map_or("no license", String::as_str).to_owned();
        let new = expr(a.new.expression.as_ref());
        if a.expression_changed {
            let _ = write!(subject, ": {} -> {new}", expr(a.old.expression.as_ref()));
        } else if a.headline.contains("; package") || a.headline.contains(" packages changed") {
            // The root kept its license; a package relicensed: that is the news.
            let _ = write!(
                subject,
                ": {}",
                a.headline.replace('`', "").replace('→', "->")
            );
        } else {
            let _ = write!(subject, ": {new}, text changed");
        }
    }
    subject
}

/// The license texts attached within `budget` bytes, and the lines that name what is attached
/// and what was left out.
fn license_attachments(v: &RebuildView<'_>, budget: usize) -> (Vec<Attachment>, String) {
    let (attachments, left_out) = match v.license {
        Some(l) => {
            license::attachments(l, v.license_texts, (&v.old_label(), &v.new.version), budget)
        }
        None => (Vec::new(), Vec::new()),
    };
    let mut files = String::new();
    if !attachments.is_empty() {
        let names: Vec<&str> = attachments.iter().map(|a| a.filename.as_str()).collect();
        let _ = writeln!(files, "Attached: {}.", names.join(", "));
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            files,
            "Not attached (the email would pass {} KB): {}; `upkeep license show {}` prints everything.",
            license::EMAIL_LIMIT_BYTES / 1024,
            left_out.join(", "),
            v.server
        );
    }
    (attachments, files)
}

/// The alarm sent when release tags moved upstream.
pub fn moved_tag_email(server: &str, upstream: &str, moved: &[MovedTag]) -> EmailText {
    let subject = format!("[upkeep] {server}: release tag moved upstream; rebuild held");
    let mut t = format!(
        "A release tag of {server} ({upstream}) now points at a different commit than when upkeep first saw it.\n\
         A moved or re-created tag can mean a compromised release or rewritten history, so upkeep holds\n\
         every rebuild of {server} until someone checks it.\n\n"
    );
    for m in moved {
        let _ = writeln!(
            t,
            "  {}: {} (first seen {}) -> {}",
            m.tag, m.old_commit, m.first_seen, m.new_commit
        );
    }
    t.push_str("\nWhat to do\n  1. Compare the commits upstream and ask the maintainers why the tag moved.\n");
    if let Some(m) = moved.first() {
        let _ = writeln!(
            t,
            "  2. If the new commit is legitimate:  upkeep tag accept {server} {} --by \"<your name>\"\n     upkeep then proposes releases of {server} again.",
            m.tag
        );
    }
    t.push_str("  3. If it is not: keep the hold and tell the sponsoring team; the pinned rebuild stays as it is.\n");
    EmailText {
        html: html_from_text(&t),
        subject,
        text: t,
    }
}

/// The alert sent when a server has failed several runs in a row.
pub fn failing_email(server: &str, runs: i64, error: &str) -> EmailText {
    let subject = format!("[upkeep] {server}: sync failing for {runs} runs in a row");
    let t = format!(
        "upkeep could not sync {server} in its last {runs} runs, so new upstream releases are not being proposed.\n\n\
         Last error:\n  {error}\n\nRun `upkeep sync --now --server {server}` to see the problem.\n"
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
    fn without_drafts_every_banner_says_the_pr_must_not_be_merged() {
        let body = format!(
            "{DRAFT_UNTIL} the MCP surface is approved.\n\n{DRAFT_UNTIL} the license is approved.\n"
        );
        let out = pr_body_without_draft(&body);
        assert!(!out.contains(DRAFT_UNTIL), "{out}");
        assert_eq!(
            out.matches("**must not be merged** until").count(),
            2,
            "{out}"
        );
    }

    #[test]
    fn markdown_from_upstream_is_neutralised() {
        assert_eq!(
            md_escape("fix | @team <script>\nx"),
            "fix \\| \\@\u{200D}team \\<script\\> x"
        );
    }

    /// What GitHub and Azure DevOps would link in `rendered` once Markdown has removed its
    /// backslash escapes (GitHub resolves mentions and references after that). The patterns are
    /// the documented ones: GitHub "Autolinked references and URLs" and "Mentioning people and
    /// teams"; Azure DevOps "Link work items" (`#123`), pull requests (`!123`), `@<id>`.
    fn autolinked(rendered: &str) -> Vec<String> {
        let unescaped = regex::Regex::new(r"\\([!-/:-@\[-`{-~])")
            .unwrap()
            .replace_all(rendered, "$1");
        let patterns = [
            r"(?:^|[^\w`])@[A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9][\w.-]*)?",
            r"(?:^|[^\w&])#\d+",
            r"(?i)(?:^|\W)GH-\d+",
            r"[\w.-]+/[\w.-]+#\d+",
            r"(?:^|\W)!\d+",
            r"@<[^>]+>",
            // GFM extended autolinks: a scheme or `www.` followed by a valid domain.
            r"(?i)(?:https?://|\bwww\.)[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+",
        ];
        patterns
            .iter()
            .flat_map(|p| {
                regex::Regex::new(p)
                    .unwrap()
                    .find_iter(&unescaped)
                    .map(|m| {
                        m.as_str()
                            .trim_start_matches(|c: char| {
                                !c.is_alphanumeric() && !"@#!".contains(c)
                            })
                            .to_string()
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// `text` rendered for a forge links nothing and reads the same (the joiners are invisible).
    fn assert_inert(text: &str) {
        let unescape = regex::Regex::new(r"\\(.)").unwrap();
        for rendered in [md_escape(text), neutralise_refs(text)] {
            assert_eq!(autolinked(&rendered), Vec::<String>::new(), "{rendered:?}");
            let visible: String = rendered.chars().filter(|c| *c != '\u{200D}').collect();
            let plain = unescape.replace_all(&visible, "$1");
            assert_eq!(plain, text.replace('\n', " "));
        }
    }

    #[test]
    fn the_checker_sees_what_a_backslash_leaves_linked() {
        // The escape that was used before: GitHub still pings `@octocat` and links `#1`.
        assert_eq!(
            autolinked(r"fix \@octocat \#1 GH-2"),
            ["@octocat", "#1", "GH-2"]
        );
    }

    #[test]
    fn a_user_mention_is_inert() {
        assert_inert("thanks @octocat");
        assert_inert("@octocat");
        assert_inert("(@octocat)");
        // Inside a word it is no mention, and stays as it was.
        assert_eq!(md_escape("undici@^7.2.0"), "undici\\@^7.2.0");
    }

    #[test]
    fn a_team_mention_is_inert() {
        assert_inert("cc @acme-corp/security-team");
    }

    #[test]
    fn an_issue_reference_is_inert() {
        assert_inert("fixes #12");
        assert_inert("#12 and (#13)");
    }

    #[test]
    fn a_gh_reference_is_inert() {
        assert_inert("see GH-12");
        assert_inert("gh-12");
        // Not a reference: left alone.
        assert_eq!(neutralise_refs("HIGH-12"), "HIGH-12");
    }

    #[test]
    fn a_full_url_is_inert() {
        assert_inert("fixed in https://github.com/other-org/repo/issues/12 (thanks)");
        assert_inert("see HTTP://GitHub.com/o/r/pull/3 and www.example.com/x");
        // Not URLs: left alone.
        assert_eq!(neutralise_refs("a/b//c awww.x"), "a/b//c awww.x");
    }

    #[test]
    fn a_cross_repository_reference_is_inert() {
        assert_inert("closes other-org/other.repo#12");
    }

    #[test]
    fn azure_pull_request_and_work_item_references_are_inert() {
        assert_inert("merged in !12, work item #34");
        assert_inert("@<6f1b2c3d-0000-4000-8000-000000000001> please look");
    }

    #[test]
    fn a_hostile_commit_subject_tag_and_notes_link_nothing_in_the_pr() {
        let old = Pinned {
            git_ref: "refs/tags/v1.0.0".into(),
            commit: Some("a".repeat(40)),
        };
        let new = Latest {
            version: "1.1.0-@octocat#7".into(),
            tag: "v1.1.0-@octocat#7".into(),
            commit: "b".repeat(40),
            date: None,
        };
        let mut diff: ReleaseDiff = serde_json::from_value(serde_json::json!({
            "old": "a", "new": "b",
            "commits": {"count": 1, "old_is_ancestor": true, "reachable_from_default": null, "authors": [],
                        "first_date": null, "last_date": null, "list": [], "truncated": 0},
            "files": {"changed": 1, "insertions": 1, "deletions": 1, "largest": [], "binary_or_large": [],
                      "binary_or_large_count": 0, "renames": [], "renames_count": 0, "renames_exact_only": false},
            "signals": [], "release_notes": null
        }))
        .unwrap();
        diff.commits
            .list
            .push(crate::upstream::diff::CommitSummary {
                short_id: "abc1234".into(),
                id: String::new(),
                subject: "fix @octocat #1 GH-2 acme/app#3 !4".into(),
                author: "@mallory".into(),
                date: String::new(),
                is_merge: false,
            });
        let v = RebuildView {
            server: "s",
            upstream: "https://example.com/o/r.git",
            old: &old,
            old_version: Some("1.0.0"),
            new: &new,
            license: None,
            license_texts: (None, None),
            approval: None,
            license_held: false,
            mcp: None,
            security: None,
            diff: Some(&diff),
            release_notes: Some(
                "Thanks @acme/maintainers for #99 (https://github.com/acme/x/issues/99)\n@everyone",
            ),
            channels: &[],
            run_id: 1,
            approvers: &[],
        };
        // Code spans (the pin table's refs) are not linked by either forge; the upstream's and
        // the PR's URLs come from the config and the forge, and are meant to link.
        let outside_code = |t: &str| {
            regex::Regex::new(r"`[^`]*`|https://example\.com/(o/r\.git|pr/2)")
                .unwrap()
                .replace_all(t, "")
                .into_owned()
        };
        for text in [
            pr_body(&v, 65_536),
            pr_title(&v),
            commit_message(&v),
            touched_branch_note(
                "upkeep/s",
                &new.version,
                "https://example.com/pr/2",
                &[("0123456789abcdef", "@mallory", "see #7 and @acme/ops")],
            ),
        ] {
            assert_eq!(
                autolinked(&outside_code(&text)),
                Vec::<String>::new(),
                "{text}"
            );
        }
    }

    #[test]
    fn body_stays_within_the_limit_and_says_what_was_cut() {
        let old = Pinned {
            git_ref: "refs/tags/v1.0.0".into(),
            commit: Some("a".repeat(40)),
        };
        let new = Latest {
            version: "1.1.0".into(),
            tag: "v1.1.0".into(),
            commit: "b".repeat(40),
            date: None,
        };
        let mut diff: ReleaseDiff = serde_json::from_value(serde_json::json!({
            "old": "a", "new": "b",
            "commits": {"count": 5000, "old_is_ancestor": true, "reachable_from_default": null, "authors": [],
                        "first_date": null, "last_date": null, "list": [], "truncated": 3000},
            "files": {"changed": 1, "insertions": 1, "deletions": 1, "largest": [], "binary_or_large": [],
                      "binary_or_large_count": 0, "renames": [], "renames_count": 0, "renames_exact_only": false},
            "signals": [], "release_notes": null
        }))
        .unwrap();
        for i in 0..2000 {
            diff.commits
                .list
                .push(crate::upstream::diff::CommitSummary {
                    short_id: format!("{i:07}"),
                    id: String::new(),
                    subject: "x".repeat(80),
                    author: "a".into(),
                    date: String::new(),
                    is_merge: false,
                });
        }
        let v = RebuildView {
            server: "s",
            upstream: "https://github.com/o/r.git",
            old: &old,
            old_version: Some("1.0.0"),
            new: &new,
            license: None,
            license_texts: (None, None),
            approval: None,
            license_held: false,
            mcp: None,
            security: None,
            diff: Some(&diff),
            release_notes: None,
            channels: &[],
            run_id: 1,
            approvers: &[],
        };
        for limit in [4_000, 65_536] {
            let body = pr_body(&v, limit);
            assert!(
                body.chars().count() <= limit,
                "{} > {limit}",
                body.chars().count()
            );
            assert!(body.contains("Cut to fit"));
            assert!(body.contains("Sponsoring checklist"));
        }
        assert_eq!(
            compare_url(v.upstream, "refs/tags/v1.0.0", "v1.1.0").unwrap(),
            "https://github.com/o/r/compare/v1.0.0...v1.1.0"
        );

        // Astral characters (emoji) count two UTF-16 units each, as Azure DevOps counts them:
        // a body of emoji subjects fits 4,000 units, and is never cut inside a pair.
        let mut emoji = diff.clone();
        for c in &mut emoji.commits.list {
            c.subject = "🚀".repeat(40);
        }
        let v = RebuildView {
            diff: Some(&emoji),
            ..v
        };
        let body = pr_body(&v, 4_000);
        let units: Vec<u16> = body.encode_utf16().collect();
        assert!(units.len() <= 4_000, "{} UTF-16 units", units.len());
        assert!(
            String::from_utf16(&units).is_ok(),
            "a surrogate pair was split"
        );
        assert!(body.contains('🚀') && body.contains("Cut to fit"));
        assert_eq!(take_utf16("a🚀b", 2), "a", "never half an emoji");
        assert_eq!(take_utf16("a🚀b", 3), "a🚀");
    }
}
