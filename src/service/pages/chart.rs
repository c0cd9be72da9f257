//! The lag chart of a server page: how far behind the server was at each of its runs over the
//! last 90 days, drawn as inline SVG (no script, no external asset).
//!
//! A run's report says what the server was pinned at and what the latest release was. Where the
//! report carries its freshness (`freshness.lag`, seconds), that is the point; where it does not
//! (runs before freshness was reported) the point is the time since the first run of the current
//! stretch in which the pin was behind the latest release, so the chart still shows the shape.
//! The page adds the lag now as the last point.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::html::{escape, span};

/// How far back the chart looks.
pub const DAYS: i64 = 90;

/// What one run said about the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub at: DateTime<Utc>,
    /// The pin was older than the latest release.
    pub behind: bool,
    /// The lag the run reported itself, when it did.
    pub lag_seconds: Option<i64>,
}

/// The sample of a run that started at `started_at`, from the server's full report (JSON);
/// None when the run did not learn the pin and the latest release (a failed fetch).
pub fn sample(started_at: &str, report_json: &str) -> Option<Sample> {
    let at = DateTime::parse_from_rfc3339(started_at)
        .ok()?
        .with_timezone(&Utc);
    let report: serde_json::Value = serde_json::from_str(report_json).ok()?;
    let lag_seconds = report
        .pointer("/freshness/lag")
        .and_then(serde_json::Value::as_i64);
    let latest = report.get("latest").filter(|l| !l.is_null());
    let pinned = report.get("pinned").filter(|p| !p.is_null());
    let behind = match (pinned, latest) {
        (Some(p), Some(l)) => {
            let commits = (
                p.get("commit").and_then(serde_json::Value::as_str),
                l.get("commit").and_then(serde_json::Value::as_str),
            );
            match commits {
                (Some(pc), Some(lc)) => pc != lc,
                _ => {
                    let pin = p.get("ref").and_then(serde_json::Value::as_str)?;
                    let tag = l.get("tag").and_then(serde_json::Value::as_str)?;
                    crate::render::short_ref(pin) != tag
                }
            }
        }
        // The upstream has no release: nothing to be behind.
        (Some(_), None) => false,
        _ if lag_seconds.is_some() => false,
        _ => return None,
    };
    Some(Sample {
        at,
        behind,
        lag_seconds,
    })
}

/// The lag at each sample (`samples` oldest first), in seconds.
pub fn series(samples: &[Sample]) -> Vec<(DateTime<Utc>, i64)> {
    let mut behind_since: Option<DateTime<Utc>> = None;
    samples
        .iter()
        .map(|s| {
            let derived = if s.behind {
                let start = *behind_since.get_or_insert(s.at);
                (s.at - start).num_seconds()
            } else {
                behind_since = None;
                0
            };
            (s.at, s.lag_seconds.unwrap_or(derived))
        })
        .collect()
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// The chart of `points` (oldest first) over the 90 days before `now`; `name` labels it.
pub fn svg(name: &str, points: &[(DateTime<Utc>, i64)], now: DateTime<Utc>) -> String {
    let start = now - chrono::Duration::days(DAYS);
    let points: Vec<&(DateTime<Utc>, i64)> = points.iter().filter(|(t, _)| *t >= start).collect();
    if points.is_empty() {
        return "<p>No run of this server in the last 90 days kept its report.</p>\n".into();
    }
    let max = points.iter().map(|(_, l)| *l).max().unwrap_or(0).max(1);
    let latest = points.last().map_or(0, |(_, l)| *l);
    // Whole days on the axis once the lag passes one.
    let top = if max >= 86_400 {
        (max + 86_399) / 86_400 * 86_400
    } else {
        max
    };
    #[allow(clippy::cast_precision_loss)] // Seconds of 90 days fit an f64 exactly.
    let x = |t: DateTime<Utc>| {
        LEFT + (t - start).num_seconds() as f64 / (DAYS * 86_400) as f64 * (WIDTH - LEFT - RIGHT)
    };
    #[allow(clippy::cast_precision_loss)]
    let y = |lag: i64| TOP + (1.0 - lag as f64 / top as f64) * (HEIGHT - TOP - BOTTOM);
    let mut path = String::new();
    for (i, (t, lag)) in points.iter().enumerate() {
        // A step line: the lag holds until the next run measures it again.
        if i == 0 {
            let _ = write!(path, "M{:.1},{:.1}", x(*t), y(*lag));
        } else {
            let _ = write!(path, " H{:.1} V{:.1}", x(*t), y(*lag));
        }
    }
    let _ = write!(path, " H{:.1}", x(now));
    let title = format!(
        "Lag of {name} over the last {DAYS} days: {} now, at most {} ({} run{})",
        span(latest),
        span(max),
        points.len(),
        if points.len() == 1 { "" } else { "s" }
    );
    let base = HEIGHT - BOTTOM;
    format!(
        "<figure>\n<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-labelledby=\"lag-title\" \
         width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\">\n\
         <title id=\"lag-title\">{title}</title>\n\
         <line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#555\" />\n\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{base}\" stroke=\"#555\" />\n\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\" fill=\"#1a1a1a\">{}</text>\n\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\" fill=\"#1a1a1a\">0</text>\n\
         <text x=\"{LEFT}\" y=\"{}\" font-size=\"11\" fill=\"#1a1a1a\">{}</text>\n\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\" fill=\"#1a1a1a\">{}</text>\n\
         <path d=\"{path}\" fill=\"none\" stroke=\"#0b4f8a\" stroke-width=\"2\" />\n\
         </svg>\n<figcaption>{title}</figcaption>\n</figure>\n",
        WIDTH - RIGHT,
        LEFT - 6.0,
        TOP + 10.0,
        escape(&span(top)),
        LEFT - 6.0,
        base,
        HEIGHT - 8.0,
        start.format("%Y-%m-%d"),
        WIDTH - RIGHT,
        HEIGHT - 8.0,
        now.format("%Y-%m-%d"),
        title = escape(&title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::days(day)
    }

    fn report(pinned: &str, latest: &str) -> String {
        serde_json::json!({
            "pinned": {"ref": format!("refs/tags/{pinned}"), "commit": null},
            "latest": {"version": latest, "tag": latest, "commit": format!("c-{latest}"), "date": null},
        })
        .to_string()
    }

    #[test]
    fn the_lag_grows_while_behind_and_drops_when_the_pin_catches_up() {
        let samples: Vec<Sample> = [
            (0, "v1", "v1"),
            (1, "v1", "v2"),
            (4, "v1", "v3"),
            (5, "v3", "v3"),
        ]
        .iter()
        .map(|(d, p, l)| sample(&at(*d).to_rfc3339(), &report(p, l)).unwrap())
        .collect();
        let lags: Vec<i64> = series(&samples).into_iter().map(|(_, l)| l).collect();
        assert_eq!(lags, vec![0, 0, 3 * 86_400, 0]);
    }

    #[test]
    fn a_reported_lag_wins_and_a_failed_run_is_no_sample() {
        let with = serde_json::json!({"pinned": null, "latest": null, "freshness": {"lag": 77}});
        let s = sample(&at(0).to_rfc3339(), &with.to_string()).unwrap();
        assert_eq!(series(&[s]), vec![(at(0), 77)]);
        let failed = serde_json::json!({"status": "failed", "pinned": null, "latest": null});
        assert_eq!(sample(&at(0).to_rfc3339(), &failed.to_string()), None);
    }

    #[test]
    fn the_chart_keeps_to_its_window_and_escapes_its_label() {
        let now = at(100);
        let svg = svg("<x>", &[(at(1), 5), (at(50), 2 * 86_400)], now);
        assert!(svg.contains("&lt;x&gt;"), "{svg}");
        assert!(
            svg.contains("(1 run)"),
            "the run before the window is left out: {svg}"
        );
        assert!(svg.contains(">2d 0h<"), "{svg}");
        assert!(svg::tests_parse(&svg));
        assert!(super::svg("x", &[], now).contains("No run"));
    }

    mod svg {
        pub fn tests_parse(text: &str) -> bool {
            roxmltree::Document::parse(text).is_ok()
        }
    }
}
