//! The PostgreSQL side against a real PostgreSQL 15 (the throwaway cluster of `cluster.rs`).

use std::time::Duration;

use super::cluster::{self, PASSWORD, TestDb};
use crate::secret::Secret;
use crate::store::db::{Conn, Dialect, Exec, OptionalExt, PgOptions, Value, migration_sql, params};
use crate::store::migrations::MIGRATIONS;

fn options(url: String) -> PgOptions {
    PgOptions {
        url: Secret::new(url),
        lock_timeout: Duration::from_secs(60),
    }
}

fn connect(db: &TestDb) -> Conn {
    Conn::connect_postgres(&options(db.url())).expect("connecting to the test database")
}

fn texts(conn: &Conn, sql: &str) -> Vec<String> {
    conn.query_map(sql, params![], |r| r.get(0)).unwrap()
}

#[test]
fn every_kind_of_value_round_trips_through_a_real_table() {
    let db = cluster::fresh_database();
    let conn = connect(&db);
    conn.execute_batch(
        "CREATE TABLE v (big BIGINT, int INTEGER, small SMALLINT, flag BOOLEAN, txt TEXT,
            var VARCHAR(20), chr CHAR(3), nam NAME, bin BYTEA, dbl DOUBLE PRECISION, flt REAL)",
    )
    .unwrap();
    let insert = "INSERT INTO v VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
    let full = params![
        i64::MIN,
        -7_i32,
        300_u16,
        true,
        "ünïcødé 'quoted' ?1 $1",
        "varchar",
        "abc",
        "a_name",
        vec![0_u8, 255, 10, 0],
        -1.25e300_f64,
        0.5_f64
    ];
    assert_eq!(conn.execute(insert, full).unwrap(), 1);
    let nulls = vec![Value::Null; 11];
    conn.execute(insert, nulls.clone()).unwrap();

    let rows = conn
        .query_map("SELECT * FROM v ORDER BY big NULLS LAST", params![], |r| {
            Ok(r.clone().into_values())
        })
        .unwrap();
    assert_eq!(
        rows[0],
        vec![
            Value::Integer(i64::MIN),
            Value::Integer(-7),
            Value::Integer(300),
            Value::Integer(1),
            Value::Text("ünïcødé 'quoted' ?1 $1".into()),
            Value::Text("varchar".into()),
            Value::Text("abc".into()),
            Value::Text("a_name".into()),
            Value::Blob(vec![0, 255, 10, 0]),
            Value::Real(-1.25e300),
            Value::Real(0.5),
        ]
    );
    assert_eq!(rows[1], nulls);

    // Integers bind to narrower columns only when they fit, and say which placeholder did not.
    let err = conn
        .execute("INSERT INTO v(small) VALUES (?1)", params![70_000])
        .unwrap_err()
        .to_string();
    assert!(err.contains("?1") && err.contains("70000"), "{err}");
    // A type the store does not read is named, with the way out.
    let err = conn
        .query_row("SELECT sum(big) FROM v", params![], |r| r.get::<_, i64>(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("numeric") && err.contains("CAST"), "{err}");
    let sum: i64 = conn
        .query_row("SELECT CAST(sum(small) AS BIGINT) FROM v", params![], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(sum, 300);
    // Text binds to BYTEA as its bytes; an integer to a text placeholder as its digits.
    conn.execute(
        "INSERT INTO v(bin, txt) VALUES (?1, ?2)",
        params!["raw", 42],
    )
    .unwrap();
    let (bin, txt): (Vec<u8>, String) = conn
        .query_row("SELECT bin, txt FROM v WHERE txt = '42'", params![], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((bin, txt), (b"raw".to_vec(), "42".to_owned()));
}

#[test]
fn placeholders_inside_literals_and_quoted_names_stay_text() {
    let db = cluster::fresh_database();
    let conn = connect(&db);
    conn.execute_batch(r#"CREATE TABLE "odd?1" ("col$1" TEXT, "it's?2" TEXT)"#)
        .unwrap();
    conn.execute(
        r#"INSERT INTO "odd?1"("col$1", "it's?2") VALUES (?1, '?1 and $1 and ''?2''') -- ?3"#,
        params!["first"],
    )
    .unwrap();
    let row: (String, String) = conn
        .query_row(
            r#"SELECT "col$1", "it's?2" FROM "odd?1" WHERE "col$1" = ?1 /* ?2 */"#,
            params!["first"],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(row, ("first".into(), "?1 and $1 and '?2'".into()));
}

#[test]
fn a_placeholder_the_server_cannot_type_is_prepared_with_the_values_types() {
    let db = cluster::fresh_database();
    let mut conn = connect(&db);
    let is_null = |c: &Conn, v: Value| -> bool {
        c.query_row("SELECT ?1 IS NULL", vec![v], |r| r.get(0))
            .unwrap()
    };
    assert!(is_null(&conn, Value::Null));
    assert!(!is_null(&conn, Value::Integer(3)));
    assert!(!is_null(&conn, Value::Text("x".into())));
    assert!(!is_null(&conn, Value::Blob(vec![1])));
    // The same placeholder also compared with a column ("an optional filter").
    conn.execute_batch("CREATE TABLE f (server TEXT); INSERT INTO f VALUES ('a'), ('b')")
        .unwrap();
    let matching = |c: &Conn, server: Option<&str>| -> i64 {
        c.query_row(
            "SELECT COUNT(*) FROM f WHERE ?1 IS NULL OR server = ?1",
            params![server],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!((matching(&conn, None), matching(&conn, Some("a"))), (2, 1));
    // Inside a transaction the failed first attempt must not abort it.
    conn.execute_batch("CREATE TABLE t (n BIGINT)").unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute("INSERT INTO t VALUES (1)", params![]).unwrap();
    let null: bool = tx
        .query_row(
            "SELECT ?1 IS NULL AND ?2 = 2",
            params![None::<i64>, 2],
            |r| r.get(0),
        )
        .unwrap();
    assert!(null);
    tx.commit().unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t", params![], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn a_failed_statement_makes_the_commit_fail_instead_of_losing_the_transaction_silently() {
    let db = cluster::fresh_database();
    let mut conn = connect(&db);
    conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY)")
        .unwrap();
    conn.execute("INSERT INTO t VALUES ('a')", params![])
        .unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute("INSERT INTO t VALUES ('b')", params![]).unwrap();
    assert!(tx.execute("INSERT INTO t VALUES ('a')", params![]).is_err());
    let err = tx.commit().unwrap_err();
    assert_eq!(
        match &err {
            crate::store::db::Error::Postgres { code, .. } => code.as_deref(),
            _ => None,
        },
        Some("25P02"),
        "{err}"
    );
    assert!(err.to_string().contains("nothing was committed"), "{err}");
    assert_eq!(texts(&conn, "SELECT k FROM t ORDER BY k"), ["a"]);
    // The connection is usable again, and transactions commit.
    let tx = conn.transaction().unwrap();
    tx.execute("INSERT INTO t VALUES ('c')", params![]).unwrap();
    tx.commit().unwrap();
    assert_eq!(texts(&conn, "SELECT k FROM t ORDER BY k"), ["a", "c"]);
}

/// The number of sessions waiting for the advisory lock, seen from another connection.
fn advisory_waiters(observer: &Conn) -> i64 {
    observer
        .query_row(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
            params![],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn transactions_of_two_connections_take_turns_on_the_advisory_lock() {
    let db = cluster::fresh_database();
    let mut first = connect(&db);
    let observer = connect(&db);
    first.execute_batch("CREATE TABLE log (who TEXT)").unwrap();
    let tx = first.transaction().unwrap();
    tx.execute("INSERT INTO log VALUES ('first')", params![])
        .unwrap();

    let url = db.url();
    let second = std::thread::spawn(move || {
        let mut conn = Conn::connect_postgres(&options(url)).unwrap();
        let tx = conn.transaction().unwrap();
        // Runs only after the first committed: it sees the first's row.
        let seen: i64 = tx
            .query_row("SELECT count(*) FROM log", params![], |r| r.get(0))
            .unwrap();
        tx.execute("INSERT INTO log VALUES ('second')", params![])
            .unwrap();
        tx.commit().unwrap();
        seen
    });
    // The second is waiting on the lock (not on a row: it has not run a statement yet).
    while advisory_waiters(&observer) == 0 {
        // A second that failed instead of waiting would otherwise leave this loop spinning.
        assert!(!second.is_finished(), "the second transaction did not wait");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        texts(&observer, "SELECT who FROM log"),
        Vec::<String>::new()
    );
    tx.commit().unwrap();
    assert_eq!(second.join().unwrap(), 1);
    assert_eq!(
        texts(&observer, "SELECT who FROM log ORDER BY who"),
        ["first", "second"]
    );

    // With a short lock timeout the waiter gives up with a "locked" error.
    let _held = first.transaction().unwrap();
    let mut impatient = Conn::connect_postgres(&PgOptions {
        lock_timeout: Duration::from_millis(50),
        ..options(db.url())
    })
    .unwrap();
    let err = impatient.transaction().err().expect("the lock is held");
    assert!(err.is_locked(), "{err}");
    assert!(!err.is_connection_lost());
    // Nothing is left open on the impatient connection: it can still read.
    assert_eq!(
        texts(&impatient, "SELECT who FROM log ORDER BY who").len(),
        2
    );
}

#[test]
fn a_restarted_server_is_reconnected_outside_a_transaction_never_inside_one() {
    let mut db = cluster::fresh_database();
    let mut conn = connect(&db);
    conn.execute_batch("CREATE TABLE t (n BIGINT)").unwrap();
    conn.execute("INSERT INTO t VALUES (1)", params![]).unwrap();

    db.restart();
    // Outside a transaction: the next statement goes to a new connection.
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t", params![], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    assert!(!conn.is_closed());

    // Inside one: the statement after the restart fails as "connection lost", and so does
    // every later one until the rollback; the transaction's write is gone.
    {
        let tx = conn.transaction().unwrap();
        tx.execute("INSERT INTO t VALUES (2)", params![]).unwrap();
        db.restart();
        let err = tx
            .execute("INSERT INTO t VALUES (3)", params![])
            .unwrap_err();
        assert!(err.is_connection_lost(), "{err}");
        let err = tx.execute("SELECT 1", params![]).unwrap_err();
        assert!(err.is_connection_lost(), "{err}");
        assert!(conn_error_is_lost(tx.commit()));
    }
    // After the transaction, the connection comes back by itself.
    let rows = texts(&conn, "SELECT CAST(n AS TEXT) FROM t ORDER BY n");
    assert_eq!(rows, ["1"]);

    // A write outside a transaction that meets the dead connection is not repeated (it might
    // have committed): it reports the loss, and the next call reconnects.
    db.restart();
    let err = conn
        .execute("INSERT INTO t VALUES (10)", params![])
        .unwrap_err();
    assert!(err.is_connection_lost(), "{err}");
    conn.execute("INSERT INTO t VALUES (11)", params![])
        .unwrap();
    // A transaction begun after a restart just begins: BEGIN and the lock change nothing.
    db.restart();
    let tx = conn.transaction().unwrap();
    tx.execute("INSERT INTO t VALUES (12)", params![]).unwrap();
    tx.commit().unwrap();
    let rows = texts(&conn, "SELECT CAST(n AS TEXT) FROM t ORDER BY n");
    assert_eq!(rows, ["1", "11", "12"]);
}

#[test]
fn a_table_changed_by_another_connection_is_read_with_its_new_shape() {
    let db = cluster::fresh_database();
    let (conn, other) = (connect(&db), connect(&db));
    conn.execute_batch("CREATE TABLE t (a TEXT)").unwrap();
    conn.execute("INSERT INTO t VALUES ('x')", params![])
        .unwrap();
    let row = |c: &Conn| {
        c.query_row("SELECT * FROM t", params![], |r| {
            Ok(r.clone().into_values())
        })
        .unwrap()
    };
    assert_eq!(row(&conn).len(), 1); // now prepared and cached
    other
        .execute_batch("ALTER TABLE t ADD COLUMN b BIGINT DEFAULT 5")
        .unwrap();
    assert_eq!(row(&conn), [Value::Text("x".into()), Value::Integer(5)]);
}

fn conn_error_is_lost(r: crate::store::db::Result<()>) -> bool {
    r.err().is_some_and(|e| e.is_connection_lost())
}

#[test]
fn text_orders_bytewise_even_where_the_database_collates_otherwise() {
    // This machine's libc has only C and C.UTF-8 locales (`locale -a`), both bytewise for
    // UTF-8; PostgreSQL 15's ICU provider gives a real linguistic default instead.
    let db = cluster::fresh_database_with("LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'");
    let conn = connect(&db);
    conn.execute_batch(&migration_sql(
        Dialect::Postgres,
        "CREATE TABLE t (s TEXT NOT NULL)",
    ))
    .unwrap();
    let words = [
        "b",
        "B",
        "a",
        "_x",
        "Z",
        "2026-01-10T00:00:00Z",
        "2026-01-02T00:00:00Z",
        "v1.10",
        "v1.9",
        "é",
    ];
    for w in words {
        conn.execute("INSERT INTO t VALUES (?1)", params![w])
            .unwrap();
    }
    let mut bytewise: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    bytewise.sort();
    assert_eq!(texts(&conn, "SELECT s FROM t ORDER BY s"), bytewise);
    // The database's own default really does order otherwise (so the test means something).
    let linguistic = texts(&conn, r#"SELECT s FROM t ORDER BY s COLLATE "default""#);
    assert_ne!(linguistic, bytewise);
    // Comparisons too: 'B' < 'a' bytewise, not linguistically.
    assert!(
        conn.exists("SELECT 1 FROM t WHERE s = 'B' AND s < 'a'", params![])
            .unwrap()
    );
    assert!(
        conn.exists("SELECT 1 FROM t WHERE ?1 < s", params!["Z"])
            .unwrap()
    );
}

#[test]
fn every_migration_applies_and_every_table_takes_rows() {
    let db = cluster::fresh_database();
    let mut conn = connect(&db);
    assert_eq!(conn.schema_version().unwrap(), 0);
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        if i == 7 {
            seed_pull_requests(&conn);
        }
        let tx = conn.transaction().unwrap();
        tx.execute_batch(&migration_sql(Dialect::Postgres, sql))
            .unwrap_or_else(|e| panic!("migration {}: {e}", i + 1));
        tx.set_schema_version(i + 1).unwrap();
        tx.commit().unwrap();
        assert_eq!(conn.schema_version().unwrap(), i + 1);
    }
    // Migration 8 seeded each bot branch from its newest PR record (INSERT OR IGNORE, ordered).
    let heads = texts(&conn, "SELECT head FROM bot_branches ORDER BY server");
    assert_eq!(heads, ["newer", "only"]);

    // Every column has one of the four types, and every text column compares bytewise.
    let columns = conn
        .query_map(
            "SELECT table_name::text, column_name::text, data_type::text, collation_name::text,
                    is_identity::text
             FROM information_schema.columns WHERE table_schema = 'public'
             ORDER BY table_name, ordinal_position",
            params![],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)? == "YES",
                ))
            },
        )
        .unwrap();
    for (table, column, ty, collation, _) in &columns {
        match ty.as_str() {
            "text" => assert_eq!(collation.as_deref(), Some("C"), "{table}.{column}"),
            "bigint" | "bytea" | "double precision" | "boolean" => {}
            other => panic!("{table}.{column} has type {other}"),
        }
    }
    insert_a_row_into_every_table(&conn, &columns);
}

/// PR records before migration 8: two for one branch (the newer head must win), one alone.
fn seed_pull_requests(conn: &Conn) {
    let insert = "INSERT INTO pull_requests(server, version, tag, commit_id, branch, title,
        body_hash, head_commit, state, created_at, updated_at)
        VALUES (?1, ?2, 'v', 'c', ?3, 't', 'h', ?4, 'open', ?5, ?5)";
    for (server, version, branch, head, at) in [
        ("a", "1", "upkeep/a", "older", "2026-01-01T00:00:00Z"),
        ("a", "2", "upkeep/a", "newer", "2026-02-01T00:00:00Z"),
        ("b", "1", "upkeep/b", "only", "2026-01-01T00:00:00Z"),
    ] {
        conn.execute(insert, params![server, version, branch, head, at])
            .unwrap();
    }
}

type Column = (String, String, String, Option<String>, bool);

/// One row into every table (the outbox first: others reference its id 1), read back.
fn insert_a_row_into_every_table(conn: &Conn, columns: &[Column]) {
    let mut tables: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
    tables.dedup();
    tables.retain(|t| *t != "upkeep_schema");
    tables.sort_by_key(|t| (*t != "outbox", *t));
    for table in tables {
        let mine: Vec<&Column> = columns
            .iter()
            .filter(|c| c.0 == table && !c.4 && c.1 != "one_row")
            .collect();
        let values: Vec<Value> = mine
            .iter()
            .map(|c| match c.2.as_str() {
                "bigint" if c.1.ends_with("id") || c.1 == "seq" => Value::Integer(1),
                "bigint" => Value::Integer(2),
                "bytea" => Value::Blob(vec![0, 1, 2]),
                "double precision" => Value::Real(1.5),
                "boolean" => Value::Integer(1),
                _ => Value::Text(format!("{table}.{}", c.1)),
            })
            .collect();
        let names: Vec<&str> = mine.iter().map(|c| c.1.as_str()).collect();
        let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {table}({}) VALUES ({}) ON CONFLICT DO NOTHING",
            names.join(", "),
            marks.join(", ")
        );
        conn.execute(&sql, values.clone())
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let back = conn
            .query_map(
                &format!("SELECT {} FROM {table} ORDER BY 1 DESC", names.join(", ")),
                params![],
                |r| Ok(r.clone().into_values()),
            )
            .unwrap();
        assert!(
            back.contains(&values),
            "{table}: {values:?} not in {back:?}"
        );
    }
    // The identity columns count from 1 and never reuse an id.
    let id: i64 = conn
        .query_row(
            "INSERT INTO runs(trigger, started_at, result) VALUES ('t', 's', 'r') RETURNING id",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(id, 2);
}

#[test]
fn the_schema_version_is_zero_until_set_and_then_what_was_set() {
    let db = cluster::fresh_database();
    let mut conn = connect(&db);
    assert_eq!(conn.schema_version().unwrap(), 0);
    {
        let tx = conn.transaction().unwrap();
        tx.set_schema_version(3).unwrap();
        // Dropped without commit: rolled back.
    }
    assert_eq!(conn.schema_version().unwrap(), 0);
    let tx = conn.transaction().unwrap();
    tx.set_schema_version(3).unwrap();
    tx.set_schema_version(4).unwrap();
    tx.commit().unwrap();
    assert_eq!(conn.schema_version().unwrap(), 4);
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM upkeep_schema", params![], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(rows, 1);
}

#[test]
fn the_client_works_on_a_blocking_thread_of_a_tokio_runtime() {
    let db = cluster::fresh_database();
    let url = db.url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let answer = runtime.block_on(async move {
        tokio::task::spawn_blocking(move || {
            let conn = Conn::connect_postgres(&options(url)).unwrap();
            let answer: i64 = conn
                .query_row("SELECT ?1 + 1", params![41], |r| r.get(0))
                .unwrap();
            drop(conn);
            answer
        })
        .await
        .unwrap()
    });
    assert_eq!(answer, 42);
}

#[test]
fn the_url_and_its_password_never_show() {
    let db = cluster::fresh_database();
    let wrong = db.url().replace(PASSWORD, "not-the-password");
    let err = Conn::connect_postgres(&options(wrong.clone()))
        .err()
        .unwrap();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("password authentication failed"), "{shown}");
    assert!(
        shown.contains(&format!("127.0.0.1:{}/{}", port_of(&db), db.name)),
        "{shown}"
    );
    assert!(
        !shown.contains("not-the-password") && !shown.contains("postgres://"),
        "{shown}"
    );

    let good = options(db.url());
    let conn = Conn::connect_postgres(&good).unwrap();
    let Conn::Postgres(pg) = &conn else {
        unreachable!()
    };
    let shown = format!("{pg:?} {good:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    // A statement error shows the server's message, not the URL.
    let err = conn.execute("SELEC 1", params![]).unwrap_err();
    assert!(!format!("{err} {err:?}").contains(PASSWORD));
    assert!(!err.is_locked());

    // Nothing listening: "connection lost" (the caller may retry), and no URL.
    let closed = db.url().replace(&port_of(&db).to_string(), "1");
    let err = Conn::connect_postgres(&options(closed)).err().unwrap();
    assert!(err.is_connection_lost(), "{err}");
    assert!(!format!("{err} {err:?}").contains(PASSWORD), "{err:?}");
}

fn port_of(db: &TestDb) -> u16 {
    let url = db.url();
    let after = url.rsplit_once(':').unwrap().1;
    after.split('/').next().unwrap().parse().unwrap()
}

#[test]
fn the_session_is_named_upkeep() {
    let db = cluster::fresh_database();
    let conn = connect(&db);
    let name: String = conn
        .query_row(
            "SELECT current_setting('application_name')",
            params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(name, "upkeep");
    let conn = Conn::connect_postgres(&options(
        db.url_with("sslmode=disable&application_name=replica-2"),
    ))
    .unwrap();
    let name: Option<String> = conn
        .query_row(
            "SELECT current_setting('application_name')",
            params![],
            |r| r.get(0),
        )
        .optional()
        .unwrap();
    assert_eq!(name.as_deref(), Some("replica-2"));
}

/// Whether the session runs over TLS, as the server sees it.
fn over_tls(conn: &Conn) -> bool {
    conn.query_row(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        params![],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn sslmode_means_what_libpq_says() {
    let db = cluster::fresh_database();
    let ca = db.ca_file();
    let ca = ca.display();
    let connect_with =
        |host: &str, query: &str| Conn::connect_postgres(&options(db.url_for_host(host, query)));
    // The server's certificate names localhost only, and is signed by the test CA.
    let full = connect_with(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    )
    .unwrap();
    assert!(over_tls(&full));
    let err = connect_with(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    )
    .err()
    .expect("the certificate does not name 127.0.0.1");
    assert!(err.to_string().contains("not valid for name"), "{err}");
    let chain_only =
        connect_with("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")).unwrap();
    assert!(over_tls(&chain_only));
    // The system's trust store does not know the test CA.
    let err = connect_with("localhost", "sslmode=verify-full")
        .err()
        .unwrap();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    // require and prefer encrypt without checking; disable does not encrypt.
    assert!(over_tls(
        &connect_with("127.0.0.1", "sslmode=require").unwrap()
    ));
    assert!(over_tls(
        &connect_with("127.0.0.1", "sslmode=prefer").unwrap()
    ));
    assert!(
        over_tls(&connect_with("127.0.0.1", "").unwrap()),
        "prefer is the default"
    );
    assert!(!over_tls(
        &connect_with("127.0.0.1", "sslmode=disable").unwrap()
    ));
}

/// What the module docs say: inside an async task the blocking client panics ("Cannot start
/// a runtime from within a runtime") rather than stall the runtime's worker.
#[test]
fn the_client_panics_inside_an_async_task() {
    let db = cluster::fresh_database();
    let url = db.url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let joined = runtime.block_on(async move {
        tokio::spawn(async move {
            // Forgotten: dropping a client inside a runtime would panic a second time.
            std::mem::forget(Conn::connect_postgres(&options(url)));
        })
        .await
    });
    assert!(joined.is_err_and(|e| e.is_panic()));
}

/// The last `Arc<Store>` is often dropped by async code: the connection closes on a thread of
/// its own instead of panicking there.
#[test]
fn a_connection_dropped_inside_an_async_task_closes_quietly() {
    let db = cluster::fresh_database();
    let url = db.url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let conn =
            tokio::task::spawn_blocking(move || Conn::connect_postgres(&options(url)).unwrap())
                .await
                .unwrap();
        tokio::spawn(async move { drop(conn) }).await.unwrap();
    });
}
