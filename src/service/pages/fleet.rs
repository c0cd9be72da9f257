//! `GET /`: the fleet, one row per server, sortable by lag with plain links (`?sort=lag`), so
//! sorting works without JavaScript.

use std::fmt::Write as _;

use super::html::{commit, document, escape, or_dash, path_segment, span, web_link, when};
use crate::freshness::{Blocker, Freshness};
use crate::status::ServerStatus;

/// One server's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetRow {
    pub name: String,
    /// The last run's status, or `never-synced`.
    pub status: String,
    pub pinned: Option<String>,
    pub pinned_commit: Option<String>,
    pub latest: Option<String>,
    /// Releases newer than the pin, when known.
    pub releases_behind: Option<u64>,
    /// How long the server has been behind, in seconds, when known.
    pub lag_seconds: Option<i64>,
    pub pr: Option<PrCell>,
    /// What keeps the rebuild from landing, in words.
    pub blocker: Option<String>,
    /// The rebuild PR's pipeline result, when read.
    pub checks: Option<ChecksCell>,
    pub last_run: Option<(i64, String)>,
}

/// The rebuild PR of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrCell {
    pub version: String,
    pub url: Option<String>,
    pub held: bool,
}

/// The row's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// By name (the default).
    Name,
    /// Longest lag first; servers whose lag is unknown last.
    Lag,
}

impl Sort {
    /// The `?sort=` value; anything unknown sorts by name.
    pub fn parse(value: Option<&str>) -> Sort {
        match value {
            Some("lag") => Sort::Lag,
            _ => Sort::Name,
        }
    }
}

/// The pipeline's answer on the open rebuild PR's head commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksCell {
    /// `pending`, `success`, `failure` or `none`.
    pub state: String,
    /// The names of the checks that failed.
    pub failed: Vec<String>,
    /// Where a person reads them.
    pub url: Option<String>,
}

impl FleetRow {
    /// The row of `status`'s server: what the state knows (pin, latest release, open PR, last
    /// run) and its `freshness`; `measured` says whether a full check counted the releases
    /// newer than the pin (before one did, releases behind and lag are unknown).
    pub fn from_status(
        s: &ServerStatus,
        freshness: &Freshness,
        measured: bool,
        checks: Option<&ChecksCell>,
    ) -> FleetRow {
        let blocker = freshness.blocker.map(|b| {
            let detail = match b {
                Blocker::Failing => Some(format!(
                    "{} run{} in a row: {}",
                    s.consecutive_failures,
                    if s.consecutive_failures == 1 { "" } else { "s" },
                    s.last_error.as_deref().unwrap_or("no error recorded")
                )),
                Blocker::LicenseReview | Blocker::McpReview | Blocker::MovedTag => {
                    s.hold_reason.clone()
                }
                Blocker::PipelineFailed => checks
                    .filter(|c| !c.failed.is_empty())
                    .map(|c| c.failed.join(", ")),
                Blocker::Declined | Blocker::AwaitingMerge => None,
            };
            match detail {
                Some(d) => format!("{}: {d}", b.as_str()),
                None => b.as_str().to_string(),
            }
        });
        FleetRow {
            name: s.name.clone(),
            status: s.status.clone(),
            pinned: s
                .pinned
                .as_deref()
                .map(|p| crate::render::short_ref(p).to_string()),
            pinned_commit: s.pinned_commit.clone(),
            latest: s.latest.clone(),
            releases_behind: measured.then_some(u64::from(freshness.releases_behind)),
            lag_seconds: freshness
                .lag
                .filter(|_| measured)
                .map(|l| i64::try_from(l).unwrap_or(i64::MAX)),
            pr: s.open_pr.as_ref().map(|p| PrCell {
                version: p.version.clone(),
                url: p.url.clone(),
                held: p.held,
            }),
            blocker,
            checks: checks.cloned(),
            last_run: s.last_run_id.zip(s.last_run_at.clone()),
        }
    }
}

/// `rows` in `sort` order.
pub fn sorted(mut rows: Vec<FleetRow>, sort: Sort) -> Vec<FleetRow> {
    match sort {
        Sort::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
        Sort::Lag => rows.sort_by(|a, b| {
            // Longest first, unknown last, then by name.
            let key = |r: &FleetRow| std::cmp::Reverse(r.lag_seconds.unwrap_or(-1));
            key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
        }),
    }
    rows
}

/// The CSS class of a status cell: its colour says what needs a look.
fn status_class(status: &str) -> &'static str {
    match status {
        "failed" => "bad",
        "held" => "warn",
        "up-to-date" => "ok",
        _ => "",
    }
}

fn header(label: &str, sort: Option<(Sort, Sort)>) -> String {
    match sort {
        Some((this, current)) => {
            let (value, order) = match this {
                Sort::Name => ("name", "ascending"),
                Sort::Lag => ("lag", "descending"),
            };
            let aria = if this == current {
                format!(" aria-sort=\"{order}\"")
            } else {
                String::new()
            };
            format!("<th scope=\"col\"{aria}><a href=\"/?sort={value}\">{label}</a></th>")
        }
        None => format!("<th scope=\"col\">{label}</th>"),
    }
}

fn pr_cell(pr: Option<&PrCell>) -> String {
    let Some(pr) = pr else {
        return "—".into();
    };
    let held = if pr.held { " (held)" } else { "" };
    format!("{}{held}", web_link(pr.url.as_deref(), &pr.version))
}

/// The checks cell: its CSS class and its markup (a link to the checks when there is one).
pub fn checks_cell(c: Option<&ChecksCell>) -> (&'static str, String) {
    let Some(c) = c else {
        return ("", "—".into());
    };
    let class = match c.state.as_str() {
        "failure" => "bad",
        "pending" => "warn",
        "success" => "ok",
        _ => "",
    };
    let text = if c.failed.is_empty() {
        c.state.clone()
    } else {
        format!("{}: {}", c.state, c.failed.join(", "))
    };
    (class, web_link(c.url.as_deref(), &text))
}

fn row(r: &FleetRow) -> String {
    let name = escape(&r.name);
    let pinned = match (&r.pinned, &r.pinned_commit) {
        (Some(p), Some(c)) => format!("{} {}", escape(p), commit(c)),
        (p, _) => or_dash(p.as_deref()),
    };
    let last_run = r.last_run.as_ref().map_or_else(
        || "never".to_string(),
        |(id, at)| {
            format!(
                "<a href=\"/runs/{id}\">#{id}</a><br />{}",
                escape(&when(at))
            )
        },
    );
    let (checks_class, checks) = checks_cell(r.checks.as_ref());
    format!(
        "<tr data-server=\"{name}\"><th scope=\"row\"><a href=\"/servers/{}\">{name}</a></th>\
         <td class=\"status {}\">{}</td><td>{pinned}</td><td>{}</td><td class=\"num\">{}</td>\
         <td class=\"num\" data-lag=\"{}\">{}</td><td>{}</td><td>{}</td><td class=\"{checks_class}\">{checks}</td><td class=\"when\">{last_run}</td></tr>\n",
        path_segment(&r.name),
        status_class(&r.status),
        escape(&r.status),
        or_dash(r.latest.as_deref()),
        r.releases_behind
            .map_or_else(|| "—".into(), |n| n.to_string()),
        r.lag_seconds.map_or_else(String::new, |s| s.to_string()),
        r.lag_seconds.map_or_else(|| "—".into(), span),
        pr_cell(r.pr.as_ref()),
        or_dash(r.blocker.as_deref()),
    )
}

/// The fleet page: `rows` (already sorted by `sort`) as of `now` (RFC 3339).
pub fn render(rows: &[FleetRow], sort: Sort, now: &str) -> String {
    let count = |f: &dyn Fn(&FleetRow) -> bool| rows.iter().filter(|r| f(r)).count();
    let mut body = String::new();
    let _ = write!(
        body,
        "<header>\n<h1>Sponsored rebuilds</h1>\n<p>{} servers: {} with an open rebuild PR, {} held, \
         {} failing. As of {}.</p>\n</header>\n<main>\n",
        rows.len(),
        count(&|r| r.pr.is_some()),
        count(&|r| r.status == "held"),
        count(&|r| r.status == "failed"),
        escape(&when(now)),
    );
    let order = match sort {
        Sort::Name => "by name",
        Sort::Lag => "by lag, longest first",
    };
    let _ = write!(
        body,
        "<table>\n<caption>Every sponsored server, sorted {order}</caption>\n<thead><tr>{}{}{}{}{}{}{}{}{}{}</tr></thead>\n<tbody>\n",
        header("Server", Some((Sort::Name, sort))),
        header("Status", None),
        header("Pinned", None),
        header("Latest", None),
        header("Releases behind", None),
        header("Lag", Some((Sort::Lag, sort))),
        header("Rebuild PR", None),
        header("Blocker", None),
        header("Checks", None),
        header("Last run", None),
    );
    for r in rows {
        body.push_str(&row(r));
    }
    body.push_str("</tbody>\n</table>\n</main>\n");
    document("Fleet", &body)
}
