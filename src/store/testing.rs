//! How the store's own tests open a state: the one place that chooses the backend, so the same
//! tests can run on another backend by changing these functions alone.
//!
//! Each test owns a temporary directory; the state "of" that directory is the same state every
//! time it is opened (a test that reopens its store sees what it wrote). Today that is the
//! SQLite file `state.db` in it.

use std::path::Path;
use std::time::Duration;

use super::{Location, Store, db};

/// The migrated store of the test directory `dir` (opened again: the same state).
pub(crate) fn open(dir: &Path) -> Store {
    Store::open(&dir.join("state.db")).expect("opening the test state")
}

/// A raw connection to the state of `dir`, not migrated (for the schema's own tests).
pub(crate) fn conn(dir: &Path) -> db::Conn {
    db::Conn::open_sqlite(&dir.join("state.db"), Duration::from_secs(10))
        .expect("opening the test state")
}

/// Where [`open`] and [`conn`] keep the state of `dir`, as messages name it.
pub(crate) fn location(dir: &Path) -> Location {
    Location::Sqlite(dir.join("state.db"))
}
