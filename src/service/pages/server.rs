//! `GET /servers/{name}`: one server: where it stands, its lag over 90 days, the pending
//! license and MCP reviews with their diffs, its releases (tag → commit), rebuild PRs,
//! decisions, emails and runs.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::chart;
use super::fleet::FleetRow;
use super::html::{commit, document, escape, or_dash, span, table_section, web_link, when};
use crate::mcp::McpSurfaceReport;
use crate::status::ServerStatus;
use crate::store::{Decision, EmailLine, PrRecord, ServerRun, TagSighting};

/// Everything the server page shows, gathered by the handler.
#[derive(Debug)]
pub struct ServerPage<'a> {
    /// The server's row of the fleet page: freshness, blocker, checks.
    pub row: &'a FleetRow,
    pub status: &'a ServerStatus,
    /// Tags seen, oldest first.
    pub tags: &'a [TagSighting],
    pub prs: &'a [PrRecord],
    /// The `license show` text (with line diffs) when a license review is pending.
    pub license_review: Option<&'a str>,
    /// The pending MCP surface review's report.
    pub mcp_review: Option<&'a McpSurfaceReport>,
    pub decisions: &'a [Decision],
    pub emails: &'a [EmailLine],
    /// The server's runs of the last 90 days, newest first.
    pub runs: &'a [ServerRun],
    pub now: DateTime<Utc>,
}

fn summary(s: &ServerStatus, row: &FleetRow) -> String {
    let mut t = String::from("<dl>\n");
    let mut item = |term: &str, value: String| {
        let _ = writeln!(t, "<dt>{term}</dt><dd>{value}</dd>");
    };
    item("Status", escape(&s.status));
    let pinned = match (&s.pinned, &s.pinned_commit) {
        (Some(p), Some(c)) => format!("{} at {}", escape(crate::render::short_ref(p)), commit(c)),
        (p, _) => or_dash(p.as_deref().map(crate::render::short_ref)),
    };
    item("Pinned", pinned);
    item("Latest release", or_dash(s.latest.as_deref()));
    item(
        "Releases behind",
        row.releases_behind
            .map_or_else(|| "not counted yet".into(), |n| n.to_string()),
    );
    item(
        "Lag",
        row.lag_seconds
            .map_or_else(|| "unknown".into(), super::html::span),
    );
    item("Blocker", or_dash(row.blocker.as_deref()));
    if row.checks.is_some() {
        item("Checks", super::fleet::checks_cell(row.checks.as_ref()).1);
    }
    let pr = s.open_pr.as_ref().map_or_else(
        || "none".to_string(),
        |p| {
            // Only a web address becomes a link (never `javascript:` or the like).
            let link = p
                .url
                .as_deref()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                .map_or_else(String::new, |u| format!(" {}", web_link(Some(u), u)));
            format!(
                "{}{}, open since {}{link}",
                escape(&p.version),
                if p.held { " (held)" } else { "" },
                escape(&when(&p.since))
            )
        },
    );
    item("Rebuild PR", pr);
    if let Some(a) = s.open_pr.as_ref().and_then(|p| p.auto_merge.as_ref()) {
        item("Auto-merge", escape(&a.line()));
    }
    if let Some(r) = &s.hold_reason {
        item(
            "Held",
            format!(
                "{} (since {})",
                escape(r),
                escape(&when(s.held_since.as_deref().unwrap_or("")))
            ),
        );
    }
    if let Some(e) = &s.last_error {
        item(
            "Last error",
            format!("{} ({} run(s) in a row)", escape(e), s.consecutive_failures),
        );
    }
    item(
        "Last success",
        s.last_success_at
            .as_deref()
            .map_or_else(|| "never".into(), |t| escape(&when(t))),
    );
    for w in &s.warnings {
        item("Warning", escape(w));
    }
    t.push_str("</dl>\n");
    t
}

fn license_section(text: Option<&str>) -> String {
    match text {
        Some(t) => format!(
            "<section aria-labelledby=\"license\">\n<h2 id=\"license\">License review pending</h2>\n\
             <p>The rebuild is held until legal approves the change below \
             (<code>upkeep license approve</code>; this page changes nothing).</p>\n<pre>{}</pre>\n</section>\n",
            escape(t)
        ),
        None => "<section aria-labelledby=\"license\">\n<h2 id=\"license\">License review</h2>\n\
                 <p>No license review pending.</p>\n</section>\n"
            .into(),
    }
}

fn mcp_section(report: Option<&McpSurfaceReport>) -> String {
    let mut t = String::from("<section aria-labelledby=\"mcp\">\n");
    let Some(r) = report else {
        t.push_str("<h2 id=\"mcp\">MCP surface review</h2>\n<p>No MCP surface review pending.</p>\n</section>\n");
        return t;
    };
    t.push_str("<h2 id=\"mcp\">MCP surface review pending</h2>\n");
    if !r.findings.is_empty() {
        t.push_str(
            "<table>\n<caption>Findings, most severe first</caption>\n<thead><tr><th scope=\"col\">Severity</th>\
             <th scope=\"col\">Item</th><th scope=\"col\">Field</th><th scope=\"col\">Finding</th></tr></thead>\n<tbody>\n",
        );
        for f in &r.findings {
            let _ = writeln!(
                t,
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                f.severity.as_str(),
                escape(&f.item),
                escape(&f.field),
                escape(&f.detail)
            );
        }
        t.push_str("</tbody>\n</table>\n");
    }
    let items = r.tools.iter().chain(&r.prompts).chain(&r.resources);
    let changed: Vec<_> = items
        .filter(|i| i.change != crate::mcp::ChangeKind::Unchanged)
        .collect();
    if !changed.is_empty() {
        t.push_str(
            "<table>\n<caption>What the release changes in what a model sees</caption>\n<thead><tr>\
             <th scope=\"col\">Item</th><th scope=\"col\">Change</th><th scope=\"col\">Field</th>\
             <th scope=\"col\">Before</th><th scope=\"col\">After</th></tr></thead>\n<tbody>\n",
        );
        for i in changed {
            let text = |v: Option<&crate::mcp::Text>| match v {
                None => "—".to_string(),
                Some(v) => v.literal().map_or_else(
                    || "<em>not statically known</em>".to_string(),
                    |s| format!("<pre>{}</pre>", escape(s)),
                ),
            };
            if i.changes.is_empty() {
                let _ = writeln!(
                    t,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>—</td><td>—</td></tr>",
                    escape(&i.name),
                    i.change.as_str(),
                    escape(&i.fields.join(", "))
                );
            }
            for c in &i.changes {
                let _ = writeln!(
                    t,
                    "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    escape(&i.name),
                    c.change.as_str(),
                    escape(&c.field),
                    text(c.old.as_ref()),
                    text(c.new.as_ref())
                );
            }
        }
        t.push_str("</tbody>\n</table>\n");
    }
    let _ = writeln!(
        t,
        "<p>Surface fingerprint <code>{}</code>; one of the MCP approvers (<code>[mcp] approvers</code>; where it is not set, the license approvers) decides with <code>/upkeep approve-mcp</code> or <code>/upkeep decline-mcp &lt;reason&gt;</code> on the rebuild PR, an operator with <code>upkeep review approve|decline --kind mcp</code>.</p>\n</section>",
        escape(&r.fingerprint)
    );
    t
}

fn releases(p: &ServerPage<'_>) -> String {
    let mut t = String::from(
        "<section aria-labelledby=\"releases\">\n<h2 id=\"releases\">Releases</h2>\n<table>\n\
         <caption>Tags seen upstream, newest first, with the commit each pointed at</caption>\n\
         <thead><tr><th scope=\"col\">Tag</th><th scope=\"col\">Commit</th><th scope=\"col\">First seen</th>\
         <th scope=\"col\">Rebuild PR</th></tr></thead>\n<tbody>\n",
    );
    let pinned = p.status.pinned_commit.as_deref();
    for tag in p.tags.iter().rev() {
        let pr = p
            .prs
            .iter()
            .find(|r| r.tag == tag.tag && r.commit == tag.commit)
            .map_or_else(|| "—".to_string(), |r| escape(r.state.as_str()));
        let mark = if Some(tag.commit.as_str()) == pinned {
            " <strong>(pinned)</strong>"
        } else {
            ""
        };
        let _ = writeln!(
            t,
            "<tr><th scope=\"row\"><code>{}</code>{mark}</th><td>{}</td><td>{}</td><td>{pr}</td></tr>",
            escape(&tag.tag),
            commit(&tag.commit),
            escape(&when(&tag.first_seen))
        );
    }
    if p.tags.is_empty() {
        t.push_str("<tr><td colspan=\"4\">No tags seen yet.</td></tr>\n");
    }
    t.push_str("</tbody>\n</table>\n</section>\n");
    t
}

fn pull_requests(prs: &[PrRecord]) -> String {
    let rows: Vec<String> = prs
        .iter()
        .map(|pr| {
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&pr.version),
                pr.state.as_str(),
                if pr.held { " (held)" } else { "" },
                web_link(pr.url.as_deref(), &pr.title),
                escape(&when(&pr.created_at)),
                escape(&when(&pr.updated_at))
            )
        })
        .collect();
    table_section(
        "prs",
        "Rebuild PRs",
        "Every rebuild PR upkeep opened, newest first",
        &["Version", "State", "Title", "Opened", "Updated"],
        &rows,
        "None yet.",
    )
}

fn decisions(list: &[Decision]) -> String {
    let rows: Vec<String> = list
        .iter()
        .map(|d| {
            format!(
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                escape(&when(&d.at)),
                escape(&d.what),
                escape(&d.subject),
                or_dash(d.by.as_deref()),
                or_dash(d.note.as_deref())
            )
        })
        .collect();
    table_section(
        "decisions",
        "Decisions",
        "Approvals, accepted tags and declined PRs, oldest first",
        &["When", "Decision", "About", "By", "Note"],
        &rows,
        "None recorded.",
    )
}

fn emails(list: &[EmailLine]) -> String {
    let rows: Vec<String> = list
        .iter()
        .map(|e| {
            let delivery = match (e.status.as_str(), &e.sent_at) {
                ("sent", Some(at)) => format!("sent {}", escape(&when(at))),
                (status, _) => escape(status),
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{delivery}</td></tr>",
                escape(&when(&e.created_at)),
                escape(&e.reason),
                escape(&e.subject),
                escape(&e.recipients.join(", "))
            )
        })
        .collect();
    table_section(
        "emails",
        "Emails",
        "Emails about this server, newest first",
        &["Queued", "Why", "Subject", "To", "Delivery"],
        &rows,
        "None.",
    )
}

fn runs(list: &[ServerRun]) -> String {
    let rows: Vec<String> = list
        .iter()
        .map(|r| {
            let report: serde_json::Value = serde_json::from_str(&r.report).unwrap_or_default();
            let said = ["error", "hold_reason"]
                .iter()
                .find_map(|k| report.get(*k).and_then(serde_json::Value::as_str))
                .map_or_else(|| "—".to_string(), escape);
            format!(
                "<tr><th scope=\"row\"><a href=\"/runs/{id}\">#{id}</a></th><td>{}</td><td>{}</td><td>{}</td><td>{said}</td></tr>",
                escape(&when(&r.started_at)),
                escape(&r.trigger),
                escape(&r.status),
                id = r.run_id
            )
        })
        .collect();
    table_section(
        "runs",
        "Runs",
        "This server in the runs of the last 90 days, newest first",
        &["Run", "Started", "Trigger", "Status", "Said"],
        &rows,
        "No run in the last 90 days kept this server&#39;s report.",
    )
}

/// The server page.
pub fn render(p: &ServerPage<'_>) -> String {
    let name = escape(&p.status.name);
    let mut samples: Vec<chart::Sample> = p
        .runs
        .iter()
        .filter_map(|r| chart::sample(&r.started_at, &r.report))
        .collect();
    samples.sort_by_key(|s| s.at);
    let mut points = chart::series(&samples);
    let said = match p.row.lag_seconds {
        Some(lag) => {
            points.push((p.now, lag));
            format!("Behind by {} now.", span(lag))
        }
        None => points.last().map_or_else(
            || "How far behind is not known yet.".to_string(),
            |(_, lag)| format!("Behind by about {} at the last run.", span(*lag)),
        ),
    };
    let mut body = format!(
        "<nav><p><a href=\"/\">← All servers</a></p></nav>\n<header>\n<h1>{name}</h1>\n</header>\n<main>\n{}",
        summary(p.status, p.row)
    );
    let _ = write!(
        body,
        "<section aria-labelledby=\"lag\">\n<h2 id=\"lag\">Lag over the last {} days</h2>\n<p>{said}</p>\n{}</section>\n",
        chart::DAYS,
        chart::svg(&p.status.name, &points, p.now)
    );
    body.push_str(&license_section(p.license_review));
    body.push_str(&mcp_section(p.mcp_review));
    body.push_str(&releases(p));
    body.push_str(&pull_requests(p.prs));
    body.push_str(&decisions(p.decisions));
    body.push_str(&emails(p.emails));
    body.push_str(&runs(p.runs));
    body.push_str("</main>\n");
    document(&p.status.name, &body)
}
