//! `[schedule]`: when `serve` runs (a cron expression in a timezone), with jitter, and how often
//! a quiet server still gets a full check. Also the cron parser every schedule in the config uses.

use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::diag::Diagnostics;
use super::raw::S;
use super::values;

/// A merged or closed rebuild PR is noticed within a day even when upstream stays quiet.
pub const DEFAULT_RECHECK: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_CRON: &str = "0 */6 * * *";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawSchedule {
    pub cron: Option<S<String>>,
    pub timezone: Option<S<String>>,
    pub jitter: Option<S<String>>,
    pub recheck: Option<S<String>>,
}

#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// The expression as written (5 or 6 fields).
    pub expression: String,
    pub schedule: cron::Schedule,
    pub timezone: chrono_tz::Tz,
    /// Each server's start is delayed by a random share of this, so many servers do not hit
    /// one host in the same second.
    pub jitter: Duration,
    /// The longest a server whose upstream has not changed goes without a full check (mirror
    /// and forge read). Zero: every run is a full check.
    pub recheck: Duration,
}

pub fn validate(raw: Option<RawSchedule>, d: &mut Diagnostics<'_>) -> ScheduleConfig {
    let s = raw.unwrap_or_default();
    let expression = s
        .cron
        .as_ref()
        .map_or_else(|| DEFAULT_CRON.to_string(), |c| c.get_ref().clone());
    let schedule = parse_cron(&expression).unwrap_or_else(|msg| {
        d.at(s.cron.as_ref().map(S::span), "invalid-cron", msg);
        parse_cron(DEFAULT_CRON).expect("the default cron expression parses")
    });
    let timezone = match &s.timezone {
        None => chrono_tz::UTC,
        Some(tz) => tz.get_ref().parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
            d.at(
                Some(tz.span()),
                "invalid-timezone",
                format!(
                    "unknown timezone `{}`; use an IANA name such as \"UTC\" or \"Europe/Berlin\"",
                    tz.get_ref()
                ),
            );
            chrono_tz::UTC
        }),
    };
    ScheduleConfig {
        expression,
        schedule,
        timezone,
        jitter: values::duration(d, s.jitter.as_ref(), "jitter", Duration::ZERO),
        recheck: values::duration(d, s.recheck.as_ref(), "recheck", DEFAULT_RECHECK),
    }
}

/// Parse a 5-field crontab expression (or a 6-field one with seconds first).
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields = expr.split_whitespace().count();
    let full = match fields {
        5 => format!("0 {expr}"),
        6 => expr.to_string(),
        n => {
            return Err(format!(
                "cron expression `{expr}` has {n} fields; write the 5-field crontab form \
                 `MIN HOUR DAY MONTH WEEKDAY` (e.g. `0 */6 * * *`), or 6 fields with seconds first"
            ));
        }
    };
    cron::Schedule::from_str(&full).map_err(|e| {
        format!(
            "invalid cron expression `{expr}`: {}",
            e.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        )
    })
}
