//! [`HostLimit`]: at most N requests in flight to one host at once, across every client made
//! from one [`super::Pool`] (`[service.per-host-concurrency] api`).
//!
//! REST APIs ask for it: GitHub's "Best practices for using the REST API" say to avoid
//! concurrent requests and its secondary rate limits cap them; a run of thousands of servers
//! must not turn into thousands of requests at one forge or registry at once. A blocking
//! counting semaphore keyed by host: permits are held for one request (send and body), never
//! nested, so waiting cannot deadlock.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, PoisonError};

/// Per-host request permits.
#[derive(Debug)]
pub struct HostLimit {
    per_host: usize,
    in_flight: Mutex<HashMap<String, usize>>,
    freed: Condvar,
}

/// One request's permit on a host; released on drop.
#[derive(Debug)]
pub struct Permit<'a> {
    limit: &'a HostLimit,
    host: String,
}

impl HostLimit {
    /// At most `per_host` (at least 1) in flight per host.
    pub fn new(per_host: usize) -> Self {
        Self {
            per_host: per_host.max(1),
            in_flight: Mutex::new(HashMap::new()),
            freed: Condvar::new(),
        }
    }

    pub fn per_host(&self) -> usize {
        self.per_host
    }

    /// Waits for a permit on `host`.
    pub fn acquire(&self, host: &str) -> Permit<'_> {
        let mut map = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            let n = map.entry(host.to_string()).or_default();
            if *n < self.per_host {
                *n += 1;
                return self.permit(host);
            }
            map = self.freed.wait(map).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A permit on `host` if one is free now.
    pub fn try_acquire(&self, host: &str) -> Option<Permit<'_>> {
        let mut map = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(host.to_string()).or_default();
        (*n < self.per_host).then(|| {
            *n += 1;
            self.permit(host)
        })
    }

    fn permit(&self, host: &str) -> Permit<'_> {
        Permit {
            limit: self,
            host: host.to_string(),
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut map = self
            .limit
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.host) {
            *n -= 1;
            if *n == 0 {
                // Thousands of hosts over a service's life: keep only those in use.
                map.remove(&self.host);
            }
        }
        drop(map);
        self.limit.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::HostLimit;

    #[test]
    fn permits_are_counted_per_host_and_returned_on_drop() {
        let limit = HostLimit::new(2);
        let a1 = limit.try_acquire("api.github.com").unwrap();
        let _a2 = limit.try_acquire("api.github.com").unwrap();
        assert!(limit.try_acquire("api.github.com").is_none());
        // Another host has its own permits.
        assert!(limit.try_acquire("registry.npmjs.org").is_some());
        drop(a1);
        assert!(limit.try_acquire("api.github.com").is_some());
    }

    #[test]
    fn a_waiter_gets_the_permit_another_thread_returns() {
        let limit = std::sync::Arc::new(HostLimit::new(1));
        let held = limit.try_acquire("h").unwrap();
        let waiter = {
            let limit = limit.clone();
            std::thread::spawn(move || {
                let _p = limit.acquire("h");
            })
        };
        drop(held);
        waiter.join().unwrap();
        assert!(limit.try_acquire("h").is_some());
    }

    #[test]
    fn zero_means_one() {
        assert_eq!(HostLimit::new(0).per_host(), 1);
    }
}
