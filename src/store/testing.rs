//! How the store's own tests open a state: the one place that chooses the backend, so the same
//! tests run on SQLite and on PostgreSQL by changing these functions alone.
//!
//! Each test owns a temporary directory; the state "of" that directory is the same state every
//! time it is opened (a test that reopens its store sees what it wrote). On SQLite that is the
//! file `state.db` in it; on PostgreSQL a fresh database of the throwaway test cluster
//! (`db::pg_cluster`), created the first time the directory is opened and kept until the test
//! ends.
//!
//! [`on_both_backends!`] turns one test body into two tests, `<name>::sqlite` and
//! `<name>::postgres`: the body is written once, and [`open`], [`conn`] and [`location`] answer
//! for the backend of the test that calls them (a thread-local: called on another thread, or
//! outside [`on`], they panic rather than quietly choose a backend).

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::db::pg_cluster::{TestDb, fresh_database};
use super::{Location, Store, db, schema};

/// Which backend a test's state lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// How long a test waits for another connection's lock (as [`Store::open`] does).
const LOCK_WAIT: Duration = Duration::from_secs(10);

thread_local! {
    static BACKEND: Cell<Option<Backend>> = const { Cell::new(None) };
    /// The PostgreSQL databases of this thread's test, by test directory.
    static DATABASES: RefCell<Vec<(PathBuf, TestDb)>> = const { RefCell::new(Vec::new()) };
}

/// Run `test` with its state on `backend`; its PostgreSQL databases are released when it ends,
/// however it ends.
pub(crate) fn on(backend: Backend, test: impl FnOnce()) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            BACKEND.with(|b| b.set(None));
            DATABASES.with(|d| d.borrow_mut().clear());
        }
    }
    let _reset = Reset;
    BACKEND.with(|b| b.set(Some(backend)));
    test();
}

/// The backend of the test running on this thread.
pub(crate) fn backend() -> Backend {
    BACKEND.with(Cell::get).expect(
        "store::testing opens a state only inside on_both_backends! (testing::on), on the \
         test's own thread",
    )
}

/// The URL of the PostgreSQL database that holds the state of `dir` (created on first use).
fn postgres_url(dir: &Path) -> String {
    DATABASES.with(|d| {
        let mut d = d.borrow_mut();
        if let Some((_, db)) = d.iter().find(|(p, _)| p == dir) {
            return db.url();
        }
        let db = fresh_database();
        let url = db.url();
        d.push((dir.to_path_buf(), db));
        url
    })
}

fn pg_options(dir: &Path) -> db::PgOptions {
    db::PgOptions {
        url: crate::secret::Secret::new(postgres_url(dir)),
        lock_timeout: LOCK_WAIT,
    }
}

/// The migrated store of the test directory `dir` (opened again: the same state).
pub(crate) fn open(dir: &Path) -> Store {
    match backend() {
        Backend::Sqlite => Store::open(&dir.join("state.db")),
        Backend::Postgres => {
            Store::open_postgres(&pg_options(dir), schema::Policy::Apply).map(|(s, _)| s)
        }
    }
    .expect("opening the test state")
}

/// A raw connection to the state of `dir`, not migrated (for the schema's own tests, and for
/// the statements a test runs beside the store).
pub(crate) fn conn(dir: &Path) -> db::Conn {
    match backend() {
        Backend::Sqlite => db::Conn::open_sqlite(&dir.join("state.db"), LOCK_WAIT),
        Backend::Postgres => db::Conn::connect_postgres(&pg_options(dir)),
    }
    .expect("opening the test state")
}

/// Where [`open`] and [`conn`] keep the state of `dir`, as messages name it.
pub(crate) fn location(dir: &Path) -> Location {
    match backend() {
        Backend::Sqlite => Location::Sqlite(dir.join("state.db")),
        Backend::Postgres => Location::postgres(&postgres_url(dir)),
    }
}

/// The `[state]` table of a config whose state is that of `dir`, for tests that build their
/// dependencies from config text (PostgreSQL: the URL in a file beside, as `url-file`).
pub(crate) fn state_table(dir: &Path) -> String {
    match backend() {
        Backend::Sqlite => format!("[state]\npath = {:?}\n", dir.join("state.db")),
        Backend::Postgres => {
            let file = dir.join("state-url");
            crate::files::write_private(&file, postgres_url(dir).as_bytes())
                .expect("writing the test state's URL file");
            format!("[state]\nbackend = \"postgres\"\nurl-file = {file:?}\nauto-migrate = true\n")
        }
    }
}

/// Each `fn name() { body }` inside becomes a module `name` with two tests, `sqlite` and
/// `postgres`, that run the same body with its state on that backend (see the module docs).
/// The module sees everything its parent does (`use super::*`).
macro_rules! on_both_backends {
    ($($(#[$attr:meta])* fn $name:ident() $body:block)*) => {$(
        $(#[$attr])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sqlite() {
                $crate::store::testing::on($crate::store::testing::Backend::Sqlite, || $body);
            }

            #[test]
            fn postgres() {
                $crate::store::testing::on($crate::store::testing::Backend::Postgres, || $body);
            }
        }
    )*};
}
pub(crate) use on_both_backends;
