//! [`WaitBudget`]: the per-run ceiling on the time spent waiting out rate limits, shared by every
//! client made from one [`super::Pool`].
//!
//! One run of many servers against one rate-limited host could otherwise wait for hours, one
//! documented wait after another. The run sets the budget when it starts (`[service]
//! max-rate-limit-wait`); each wait is taken from it before sleeping, and a wait the budget cannot
//! cover fails that request with a rate-limit error instead: its server fails, the others go on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The waiting a run may still do. Cheap to clone: clones share the budget.
#[derive(Debug, Clone)]
pub struct WaitBudget {
    inner: Arc<Mutex<Spent>>,
}

#[derive(Debug, Clone, Copy)]
struct Spent {
    ceiling: Duration,
    spent: Duration,
}

impl Default for WaitBudget {
    /// The default ceiling of `[service] max-rate-limit-wait`.
    fn default() -> Self {
        Self::new(DEFAULT_CEILING)
    }
}

/// The default of `[service] max-rate-limit-wait`, for pools outside a run (`check --online`).
pub const DEFAULT_CEILING: Duration = crate::config::DEFAULT_MAX_RATE_LIMIT_WAIT;

impl WaitBudget {
    pub fn new(ceiling: Duration) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Spent {
                ceiling,
                spent: Duration::ZERO,
            })),
        }
    }

    /// A new run starts: the whole of `ceiling` is available again.
    pub fn reset(&self, ceiling: Duration) {
        *self.lock() = Spent {
            ceiling,
            spent: Duration::ZERO,
        };
    }

    /// Takes `wait` from the budget when it covers it (true); else takes nothing (false).
    pub fn take(&self, wait: Duration) -> bool {
        let mut spent = self.lock();
        let left = spent.ceiling.saturating_sub(spent.spent);
        if wait > left {
            return false;
        }
        spent.spent += wait;
        true
    }

    /// (spent, ceiling), for messages.
    pub fn state(&self) -> (Duration, Duration) {
        let spent = self.lock();
        (spent.spent, spent.ceiling)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Spent> {
        // Two durations are always consistent: a poisoned lock is still fine to use.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_taken_until_the_ceiling_and_a_run_starts_afresh() {
        let secs = Duration::from_secs;
        let budget = WaitBudget::new(secs(100));
        let shared = budget.clone();
        assert!(budget.take(secs(60)));
        assert!(!shared.take(secs(41)), "clones share one budget");
        assert!(shared.take(secs(40)));
        assert_eq!(budget.state(), (secs(100), secs(100)));
        assert!(!budget.take(secs(1)));
        assert!(budget.take(Duration::ZERO), "no wait needs no budget");
        budget.reset(secs(10));
        assert!(budget.take(secs(10)));
        assert_eq!(budget.state(), (secs(10), secs(10)));
    }
}
