//! `[freshness]` and each server's `[servers.freshness]`: how far behind upstream a rebuild may
//! fall before its owners are told (`max-lag`, default 14 days). The lag is the time since the
//! oldest release newer than the pin was published (see `crate::freshness`).

use std::time::Duration;

use serde::Deserialize;

use super::diag::Diagnostics;
use super::raw::S;
use super::values;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawFreshness {
    pub max_lag: Option<S<String>>,
}

#[derive(Debug, Clone)]
pub struct FreshnessConfig {
    /// Owners are told once a server's lag passes this, and again each time it passes another
    /// such period.
    pub max_lag: Duration,
}

/// Default of `max-lag`: two weeks.
pub const DEFAULT_MAX_LAG: Duration = Duration::from_secs(14 * 86_400);

pub fn validate(raw: Option<&RawFreshness>, d: &mut Diagnostics<'_>) -> FreshnessConfig {
    FreshnessConfig {
        max_lag: max_lag(raw, d).unwrap_or(DEFAULT_MAX_LAG),
    }
}

/// A `max-lag` when one is written (and valid): a duration of at least an hour.
pub fn max_lag(raw: Option<&RawFreshness>, d: &mut Diagnostics<'_>) -> Option<Duration> {
    let value = raw?.max_lag.as_ref()?;
    let lag = values::duration(d, Some(value), "max-lag", DEFAULT_MAX_LAG);
    if lag < Duration::from_secs(3_600) {
        d.at(
            Some(value.span()),
            "invalid-max-lag",
            format!(
                "`max-lag`: `{}` is under an hour; owners would be told on every run. Write e.g. \"7d\" or \"14d\"",
                value.get_ref()
            ),
        );
        return None;
    }
    Some(lag)
}
