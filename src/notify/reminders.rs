//! Stale-review reminders (being written).

use crate::config::ValidConfig;
use crate::store::Store;

/// Queue a reminder for every held license review older than the SLA; returns how many.
pub fn enqueue_due(_store: &Store, _config: &ValidConfig, _run_id: i64) -> anyhow::Result<usize> {
    Ok(0)
}
