//! `GET /runs/{id}`: one run: when and why it ran, and what it did to each server.

use std::fmt::Write as _;

use super::html::{document, escape, or_dash, path_segment, when};
use crate::report::RunReport;
use crate::store::{RunRow, RunServer};

/// The run page: `row`, its summary document when the run finished (`summary`), else the
/// servers whose reports it kept so far (`servers`).
pub fn render(row: &RunRow, summary: Option<&RunReport>, servers: &[RunServer]) -> String {
    let mut body = format!(
        "<nav><p><a href=\"/\">← All servers</a></p></nav>\n<header>\n<h1>Run #{}</h1>\n</header>\n<main>\n<dl>\n\
         <dt>Trigger</dt><dd>{}{}</dd>\n<dt>Started</dt><dd>{}</dd>\n<dt>Finished</dt><dd>{}</dd>\n<dt>Result</dt><dd>{}</dd>\n</dl>\n",
        row.id,
        escape(&row.trigger),
        if row.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        },
        escape(&when(&row.started_at)),
        row.finished_at
            .as_deref()
            .map_or_else(|| "still running".into(), |t| escape(&when(t))),
        escape(&row.result),
    );
    body.push_str(
        "<table>\n<caption>What the run did to each server</caption>\n<thead><tr><th scope=\"col\">Server</th>\
         <th scope=\"col\">Status</th><th scope=\"col\">Pinned → latest</th><th scope=\"col\">Rebuild PR</th>\
         <th scope=\"col\">Said</th></tr></thead>\n<tbody>\n",
    );
    let link = |name: &str| {
        format!(
            "<a href=\"/servers/{}\">{}</a>",
            path_segment(name),
            escape(name)
        )
    };
    match summary {
        Some(report) => {
            for s in &report.servers {
                let versions = match (&s.pinned, &s.latest) {
                    (Some(p), Some(l)) => format!(
                        "{} → {}",
                        escape(crate::render::short_ref(&p.git_ref)),
                        escape(&l.tag)
                    ),
                    (Some(p), None) => escape(crate::render::short_ref(&p.git_ref)),
                    _ => "—".into(),
                };
                let pr = s.pull_request.as_ref().map(|p| {
                    let action = serde_json::to_value(p.action)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    format!("{action}: {}", p.title)
                });
                let said = s.error.as_deref().or(s.hold_reason.as_deref());
                let _ = writeln!(
                    body,
                    "<tr><th scope=\"row\">{}</th><td>{}</td><td>{versions}</td><td>{}</td><td>{}</td></tr>",
                    link(&s.name),
                    s.status.as_str(),
                    or_dash(pr.as_deref()),
                    or_dash(said)
                );
            }
        }
        None => {
            for s in servers {
                let _ = writeln!(
                    body,
                    "<tr><th scope=\"row\">{}</th><td>{}</td><td>—</td><td>—</td><td>—</td></tr>",
                    link(&s.server),
                    escape(&s.status)
                );
            }
        }
    }
    body.push_str("</tbody>\n</table>\n</main>\n");
    document(&format!("Run #{}", row.id), &body)
}
