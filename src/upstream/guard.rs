//! What keeps one fetch into a cache clone bounded and alone.
//!
//! - [`FetchStop`]: a cancel flag and a total deadline, checked by libgit2's progress callbacks
//!   (returning false from them aborts the transfer). libgit2's own timeout is per read, so an
//!   upstream that drips a byte at a time is never cut off by it; this is. The run sets the
//!   deadline to `[service] server-timeout` and cancels when it abandons the server, so an
//!   abandoned sync stops fetching instead of running on in the background.
//! - [`CloneLock`]: one fetch per cache clone at a time, across threads and processes: an
//!   exclusive advisory lock (`flock`) on `<cache-dir>/.<server>.fetch-lock`, released when the
//!   lock is dropped or its process dies. A second fetch does not wait: it is refused with a
//!   message, and the next run fetches. With the lock held, lock files libgit2 left in the clone
//!   are known to be stale.
//!
//! Progress callbacks run only while data arrives: a transfer that is completely silent ends on
//! libgit2's per-read timeout, one that drips ends here.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context as _;

/// Why a fetch was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// [`FetchStop::cancel`] was called (the run abandoned the server).
    Cancelled,
    /// The total deadline passed.
    Deadline,
}

/// A cancel flag and an optional deadline for one server's fetch. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct FetchStop {
    cancelled: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl FetchStop {
    /// Never stops until cancelled.
    pub fn new() -> FetchStop {
        FetchStop::default()
    }

    /// Stop any transfer still running at `at`.
    #[must_use]
    pub fn with_deadline(mut self, at: Instant) -> FetchStop {
        self.deadline = Some(at);
        self
    }

    /// Stop the fetch (and every clone of this `FetchStop`) at its next progress report.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Whether the fetch must stop now, and why.
    pub fn stopped(&self) -> Option<Stopped> {
        if self.cancelled.load(Ordering::SeqCst) {
            Some(Stopped::Cancelled)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(Stopped::Deadline)
        } else {
            None
        }
    }

    /// The error a stopped fetch from `shown_url` (already redacted) ends with.
    pub(crate) fn error(why: Stopped, shown_url: &str) -> anyhow::Error {
        match why {
            Stopped::Cancelled => anyhow::anyhow!(
                "fetch from upstream {shown_url} cancelled: the server's sync was abandoned \
                 ([service] server-timeout)"
            ),
            Stopped::Deadline => anyhow::anyhow!(
                "fetch from upstream {shown_url} stopped at its deadline ([service] \
                 server-timeout) before the transfer finished"
            ),
        }
    }
}

/// The exclusive right to fetch into one cache clone; released on drop.
#[derive(Debug)]
pub struct CloneLock {
    // Closing the file releases the lock.
    _file: File,
}

impl CloneLock {
    /// Take the lock of `server`'s clone in `cache_dir`; None when another fetch (in this
    /// process or another) holds it.
    pub fn try_acquire(cache_dir: &Path, server: &str) -> anyhow::Result<Option<CloneLock>> {
        crate::files::create_private_dir_all(cache_dir)
            .with_context(|| format!("creating the cache directory {}", cache_dir.display()))?;
        // Named after the server (validated to a safe alphabet); beside the clone, not in it, so
        // rebuilding a damaged clone keeps the lock.
        let path = cache_dir.join(format!(".{server}.fetch-lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening the fetch lock {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(CloneLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }
}
