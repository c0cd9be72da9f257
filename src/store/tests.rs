use super::*;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::testing::open(&dir.path().join("sub"));
    (dir, store)
}

testing::on_both_backends! {
    fn reopening_keeps_data_and_does_not_remigrate() {
        let dir = tempfile::tempdir().unwrap();
        let id = testing::open(dir.path())
            .start_run("manual", false)
            .unwrap();
        let again = testing::open(dir.path());
        assert_eq!(again.recent_runs(5).unwrap()[0].id, id);
    }

    fn lease_refuses_a_second_holder_until_released_or_expired() {
        let (_d, s) = store();
        assert!(
            s.acquire_lease("a", Duration::from_secs(60))
                .unwrap()
                .is_ok()
        );
        let busy = s
            .acquire_lease("b", Duration::from_secs(60))
            .unwrap()
            .unwrap_err();
        assert_eq!(busy.holder, "a");
        s.release_lease("a").unwrap();
        assert!(
            s.acquire_lease("b", Duration::from_secs(60))
                .unwrap()
                .is_ok()
        );
        // An expired lease (crashed holder) is taken over.
        s.acquire_lease("b", Duration::from_millis(0))
            .unwrap()
            .unwrap();
        // Expired once the clock is past its expiry (millisecond stamps): wait for the clock, not
        // for a guessed number of milliseconds.
        let expires: String = s
            .conn()
            .unwrap()
            .query_row(
                "SELECT expires_at FROM lease WHERE name = 'run'",
                params![],
                |r| r.get(0),
            )
            .unwrap();
        let expires = parse_ts(&expires).unwrap();
        while Utc::now() <= expires {
            std::thread::yield_now();
        }
        assert!(
            s.acquire_lease("c", Duration::from_secs(60))
                .unwrap()
                .is_ok()
        );
    }

    fn moved_tags_are_detected_against_the_first_sighting() {
        let (_d, s) = store();
        let t = |tag: &str, c: &str| (tag.to_string(), c.to_string());
        let moved = s
            .transaction(|tx| Store::record_tags(tx, "x", &[t("v1", "aaa"), t("v2", "bbb")]))
            .unwrap();
        assert!(moved.is_empty());
        let moved = s
            .transaction(|tx| Store::record_tags(tx, "x", &[t("v1", "aaa"), t("v2", "ccc")]))
            .unwrap();
        assert_eq!(moved.len(), 1);
        assert_eq!(
            (moved[0].old_commit.as_str(), moved[0].new_commit.as_str()),
            ("bbb", "ccc")
        );
        // Still an alarm on the next run: the history remembers the original commit.
        let moved = s
            .transaction(|tx| Store::record_tags(tx, "x", &[t("v2", "ccc")]))
            .unwrap();
        assert_eq!(moved.len(), 1);
        assert_eq!(s.tag_history("x").unwrap().len(), 3);
    }

    fn a_full_run_with_unchanged_tags_writes_no_history_rows() {
        let (_d, s) = store();
        let tags: Vec<(String, String)> = (0..2_000)
            .map(|i| (format!("v1.0.{i}"), format!("{i:040x}")))
            .collect();
        let writes = |tags: &[(String, String)]| {
            s.transaction(|tx| {
                let before = tx.total_changes()?;
                Store::record_tags(tx, "x", tags)?;
                Ok(tx.total_changes()? - before)
            })
            .unwrap()
        };
        assert_eq!(writes(&tags), 2_000, "the first sighting of each tag");
        assert_eq!(writes(&tags), 0, "nothing changed, nothing written");
        let mut moved = tags.clone();
        moved[7].1 = "f".repeat(40);
        moved.push(("v2.0.0".into(), "e".repeat(40)));
        assert_eq!(writes(&moved), 2, "one moved tag and one new tag");
        assert_eq!(writes(&moved), 0);
        // `last_seen` orders sightings (millisecond timestamps): let the clock move on.
        std::thread::sleep(Duration::from_millis(5));
        // Back where it was: recorded as the commit seen last, for `tag accept`.
        assert_eq!(writes(&tags), 1);
        assert_eq!(
            s.last_seen_commit("x", "v1.0.7").unwrap().as_deref(),
            Some(format!("{:040x}", 7).as_str())
        );
        assert_eq!(s.tag_history("x").unwrap().len(), 2_002);
    }

    fn outbox_dedupes_on_key_and_tracks_delivery() {
        let (_d, s) = store();
        let email = NewEmail {
            dedupe_key: "k1".into(),
            server: "x".into(),
            reason: "license-review".into(),
            recipients: vec!["o@example.com".into()],
            cc: vec![],
            subject: "s".into(),
            text: "t".into(),
            html: "<p>t</p>".into(),
        };
        assert!(
            s.transaction(|tx| Store::enqueue_email(tx, &email, None))
                .unwrap()
        );
        assert!(
            !s.transaction(|tx| Store::enqueue_email(tx, &email, None))
                .unwrap()
        );
        let due = s.due_emails().unwrap();
        assert_eq!(due.len(), 1);
        s.mark_sending(due[0].id).unwrap();
        // A crash here leaves it `sending`. On SQLite (one process drains) it is due again at
        // once; on a shared state only once the sender's claim lapses, since another replica
        // may still be sending it (`shared::tests` covers the lapse).
        let due_again = match testing::backend() {
            testing::Backend::Sqlite => 1,
            testing::Backend::Postgres => 0,
        };
        assert_eq!(s.due_emails().unwrap().len(), due_again);
        s.mark_sent(due[0].id).unwrap();
        assert!(s.due_emails().unwrap().is_empty());
        assert_eq!(
            s.outbox_counts(Some("x")).unwrap(),
            vec![("sent".to_string(), 1)]
        );
    }

    fn a_newer_version_supersedes_the_open_pr_record() {
        let (_d, s) = store();
        let mut pr = PrRecord {
            id: 0,
            server: "x".into(),
            version: "1.1.0".into(),
            tag: "v1.1.0".into(),
            commit: "c1".into(),
            branch: "upkeep/x".into(),
            forge_id: Some("upkeep/x".into()),
            url: None,
            title: "t".into(),
            body_hash: "h".into(),
            head_commit: None,
            state: PrRecordState::Open,
            held: false,
            closed_by: None,
            created_at: String::new(),
            updated_at: String::new(),
        };
        s.transaction(|tx| Store::upsert_pr(tx, &pr)).unwrap();
        pr.version = "1.2.0".into();
        s.transaction(|tx| Store::upsert_pr(tx, &pr)).unwrap();
        let all = s.prs("x").unwrap();
        assert_eq!(
            all.iter().map(|p| p.state.as_str()).collect::<Vec<_>>(),
            ["superseded", "open"]
        );
        assert_eq!(s.open_pr("x").unwrap().unwrap().version, "1.2.0");
    }

    fn approvals_are_keyed_on_the_fingerprint() {
        let (_d, s) = store();
        s.approve_license("x", "fp1", "Ada", Some("CELA-1"))
            .unwrap();
        assert!(s.approval("x", "fp1").unwrap().is_some());
        assert!(s.approval("x", "fp2").unwrap().is_none());
    }

    fn a_servers_full_report_is_kept_per_run_and_place() {
        let (_d, s) = store();
        let id = s.start_run("manual", false).unwrap();
        s.put_run_server(
            id,
            1,
            "beta",
            "failed",
            r#"{"name":"beta","diff":{"commits":3}}"#,
        )
        .unwrap();
        assert_eq!(
            s.run_server_report(id, 1).unwrap().as_deref(),
            Some(r#"{"name":"beta","diff":{"commits":3}}"#)
        );
        assert_eq!(s.run_server_report(id, 2).unwrap(), None);
        assert!(s.run_has_server_reports(id).unwrap());
        assert_eq!(s.run_summary(id).unwrap(), None, "not finished yet");
        s.finish_run(id, "failed", r#"{"servers":[]}"#).unwrap();
        assert_eq!(
            s.run_summary(id).unwrap().as_deref(),
            Some(r#"{"servers":[]}"#)
        );
        assert_eq!(s.run(id + 1).unwrap().map(|r| r.id), None);
    }

    fn pruning_drops_old_runs_server_reports_and_keeps_their_summaries() {
        let (_d, s) = store();
        let old = s.start_run("schedule", false).unwrap();
        s.put_run_server(
            old,
            0,
            "alpha",
            "pr-opened",
            r#"{"name":"alpha","diff":{}}"#,
        )
        .unwrap();
        s.finish_run(old, "ok", r#"{"servers":[{"name":"alpha"}]}"#)
            .unwrap();
        s.conn()
            .unwrap()
            .execute(
                "UPDATE runs SET started_at = '2020-01-01T00:00:00.000Z' WHERE id = ?1",
                params![old],
            )
            .unwrap();
        let new = s.start_run("schedule", false).unwrap();
        s.put_run_server(
            new,
            0,
            "alpha",
            "up-to-date",
            r#"{"name":"alpha","diff":null}"#,
        )
        .unwrap();
        assert_eq!(
            s.prune_run_reports(Duration::from_secs(86_400), new)
                .unwrap(),
            1
        );
        // The run in progress keeps its reports even when it started before the cutoff.
        assert_eq!(s.prune_run_reports(Duration::ZERO, new).unwrap(), 0);
        assert!(s.run_has_server_reports(new).unwrap());
        assert!(!s.run_has_server_reports(old).unwrap());
        assert_eq!(s.run_server_report(old, 0).unwrap(), None);
        assert!(s.run_server_report(new, 0).unwrap().is_some());
        let doc: serde_json::Value =
            serde_json::from_str(&s.run_summary(old).unwrap().unwrap()).unwrap();
        assert_eq!(doc["servers"], serde_json::json!([{"name": "alpha"}]));
    }
}

#[test]
fn http_cache_entries_keyed_with_credentials_are_dropped_by_the_upgrade() {
    // SQLite only: what is asserted is the bytes of the file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    // A database as version 5 left it: the key is the URL as configured.
    let mut conn = db::Conn::open_sqlite(&path, Duration::from_secs(10)).unwrap();
    schema::migrate_to(&mut conn, 5).unwrap();
    conn.execute(
        "INSERT INTO http_cache(url, etag, body, updated_at) VALUES (?1, 'e', ?2, 'now')",
        params!["https://bot:hunter2@npm.example.com/pkg", vec![0u8]],
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store
            .http_cache_get("https://bot:hunter2@npm.example.com/pkg")
            .unwrap(),
        None
    );
    drop(store);
    let bytes = std::fs::read(&path).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("hunter2"));
}

/// The run reports the store keeps, written back by [`crate::report`].
mod run_reports {
    use crate::report::*;

    fn summary(name: &str, status: Status) -> ServerSummary {
        ServerReport {
            status,
            ..ServerReport::new(name)
        }
        .summary()
    }

    crate::store::testing::on_both_backends! {
        fn a_stored_report_joins_the_summary_with_the_full_reports_still_kept() {
            let dir = tempfile::tempdir().unwrap();
            let s = crate::store::testing::open(dir.path());
            let id = s.start_run("manual", false).unwrap();
            let mut beta = ServerReport::new("beta");
            beta.notes.push("full".into());
            let mut gamma = ServerReport::new("gamma");
            gamma.error = Some("x".into());
            // Kept as they finished: beta first; gamma's full report was never kept.
            s.put_run_server(
                id,
                1,
                "beta",
                "up-to-date",
                &serde_json::to_string(&beta).unwrap(),
            )
            .unwrap();
            let alpha = ServerReport::new("alpha");
            s.put_run_server(
                id,
                0,
                "alpha",
                "up-to-date",
                &serde_json::to_string(&alpha).unwrap(),
            )
            .unwrap();
            let report = RunReport {
                run_id: id,
                trigger: Trigger::Manual,
                dry_run: false,
                started_at: "t0".into(),
                finished_at: "t1".into(),
                servers: vec![alpha.summary(), beta.summary(), gamma.summary()],
                emails: EmailSummary::default(),
            };
            s.finish_run(id, "ok", &serde_json::to_string(&report).unwrap())
                .unwrap();
            let doc: serde_json::Value =
                serde_json::from_str(&stored_json(&s, id).unwrap().unwrap()).unwrap();
            let servers = doc["servers"].as_array().unwrap();
            // Config order is the summary's; full reports replace summaries where kept.
            assert_eq!(servers[0], serde_json::to_value(&alpha).unwrap());
            assert_eq!(servers[1]["notes"], serde_json::json!(["full"]));
            assert!(servers[1].get("diff").is_some(), "beta is its full report");
            assert_eq!(servers[2], serde_json::to_value(gamma.summary()).unwrap());
            assert_eq!(servers[2]["error"], "x");
            assert_eq!(stored_json(&s, id + 1).unwrap(), None);
        }

        fn the_streamed_json_is_the_full_report_in_config_order() {
            let dir = tempfile::tempdir().unwrap();
            let store = crate::store::testing::open(dir.path());
            let run_id = store.start_run("manual", false).unwrap();
            let mut alpha = ServerReport::new("alpha");
            alpha.notes.push("line one \"quoted\"\nline two".into());
            alpha.pull_request = Some(PullRequestReport {
                action: PrAction::Created,
                branch: "upkeep/alpha".into(),
                title: "Rebuild alpha 2.0.0".into(),
                body: "## Release\n\n- one\n- two\n".into(),
                url: None,
                draft: false,
                labels: vec!["upkeep".into()],
                pin_diff: "-ref = \"v1\"\n+ref = \"v2\"\n".into(),
                checks: None,
                auto_merge: None,
            });
            // Stored out of order, as servers finish; beta's full report was never kept.
            store
                .put_run_server(
                    run_id,
                    0,
                    "alpha",
                    "pr-opened",
                    &serde_json::to_string(&alpha).unwrap(),
                )
                .unwrap();
            let report = RunReport {
                run_id,
                trigger: Trigger::Manual,
                dry_run: false,
                started_at: "t0".into(),
                finished_at: "t1".into(),
                servers: vec![alpha.summary(), summary("beta", Status::Failed)],
                emails: EmailSummary::default(),
            };
            let mut out = Vec::new();
            write_json(&report, &store, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(doc["run_id"], run_id);
            assert_eq!(doc["servers"][0], serde_json::to_value(&alpha).unwrap());
            assert_eq!(
                doc["servers"][0]["pull_request"]["body"],
                "## Release\n\n- one\n- two\n"
            );
            assert_eq!(doc["servers"][1]["name"], "beta");
            assert_eq!(doc["servers"][1]["status"], "failed");
            assert_eq!(doc["emails"]["sent"], 0);
            // Pretty: nested levels are indented under their parents.
            assert!(
                text.contains("\n    {\n      \"name\": \"alpha\""),
                "{text}"
            );

            let empty = RunReport {
                servers: Vec::new(),
                ..report
            };
            let mut out = Vec::new();
            write_json(&empty, &store, &mut out).unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(doc["servers"], serde_json::json!([]));
        }
    }
}

fn t(tag: &str, commit: &str) -> (String, String) {
    (tag.to_string(), commit.to_string())
}

testing::on_both_backends! {
    fn sightings_of_a_tag_written_in_the_same_millisecond_keep_their_write_order() {
        let (_d, s) = store();
        // Written "bbb" first, then "aaa": the opposite of the commits' own order.
        s.transaction(|tx| Store::record_tags(tx, "x", &[t("v1", "bbb")]))
            .unwrap();
        s.transaction(|tx| Store::record_tags(tx, "x", &[t("v1", "aaa")]))
            .unwrap();
        s.conn()
            .unwrap()
            .execute(
                "UPDATE tag_history SET first_seen = '2026-01-01T00:00:00.000Z',
                     last_seen = '2026-01-01T00:00:00.000Z'",
                params![],
            )
            .unwrap();
        // The one written last is the commit seen last; the one written first is the reference.
        assert_eq!(
            s.last_seen_commit("x", "v1").unwrap().as_deref(),
            Some("aaa")
        );
        let moved = s.moved_tags("x", &[t("v1", "ccc")]).unwrap();
        assert_eq!(moved[0].old_commit, "bbb");
    }

    fn migration_17_numbers_existing_sightings_in_the_order_they_were_first_seen() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = testing::conn(dir.path());
        schema::migrate_to(&mut conn, 16).unwrap();
        for (tag, commit, first_seen) in [
            ("v1", "ccc", "2026-01-02T00:00:00.000Z"),
            ("v1", "aaa", "2026-01-03T00:00:00.000Z"),
            ("v1", "bbb", "2026-01-01T00:00:00.000Z"),
            ("v2", "ddd", "2026-01-01T00:00:00.000Z"),
        ] {
            conn.execute(
                "INSERT INTO tag_history(server, tag, commit_id, first_seen, last_seen)
                 VALUES ('x', ?1, ?2, ?3, ?3)",
                params![tag, commit, first_seen],
            )
            .unwrap();
        }
        schema::migrate_to(&mut conn, 17).unwrap();
        let seqs = conn
            .query_map(
                "SELECT tag, commit_id, seq FROM tag_history ORDER BY tag, seq",
                params![],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)),
            )
            .unwrap();
        let want: Vec<(String, String, i64)> = [
            ("v1", "bbb", 1),
            ("v1", "ccc", 2),
            ("v1", "aaa", 3),
            ("v2", "ddd", 1),
        ]
        .into_iter()
        .map(|(t, c, n)| (t.to_string(), c.to_string(), n))
        .collect();
        assert_eq!(seqs, want);
    }
}

#[test]
fn a_location_names_the_file_or_the_server_and_database_never_credentials() {
    let file = Location::Sqlite(PathBuf::from("/var/lib/upkeep/state.db"));
    assert_eq!(file.to_string(), "/var/lib/upkeep/state.db");
    for (url, shown) in [
        (
            "postgres://upkeep:hunter2@db.internal:5433/upkeep?sslmode=require&password=hunter2",
            "PostgreSQL (db.internal:5433/upkeep)",
        ),
        (
            "postgresql://db.internal/state",
            "PostgreSQL (db.internal/state)",
        ),
        (
            "host=db.internal dbname=upkeep user=u password=hunter2",
            "PostgreSQL (db.internal/upkeep)",
        ),
    ] {
        assert_eq!(Location::postgres(url).to_string(), shown);
    }
    // A server that cannot be reached: the error names it, never the password.
    let options = db::PgOptions {
        url: crate::secret::Secret::new("postgres://upkeep:hunter2@127.0.0.1:1/upkeep"),
        lock_timeout: Duration::from_secs(1),
    };
    let err = Store::open_postgres(&options, schema::Policy::Refuse)
        .err()
        .expect("no server listens on port 1");
    let text = format!("{err:#}");
    assert!(text.contains("PostgreSQL (127.0.0.1:1/upkeep)"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

testing::on_both_backends! {
    fn migration_8_seeds_each_bot_branch_from_its_newest_pr_record_with_a_head() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = testing::conn(dir.path());
        schema::migrate_to(&mut conn, 7).unwrap();
        for (version, branch, head, updated_at) in [
            ("1.0.0", "upkeep/a", Some("old"), "2026-01-01T00:00:00.000Z"),
            ("1.1.0", "upkeep/a", Some("new"), "2026-01-02T00:00:00.000Z"),
            ("1.2.0", "upkeep/a", None, "2026-01-03T00:00:00.000Z"),
            ("2.0.0", "upkeep/b", None, "2026-01-01T00:00:00.000Z"),
        ] {
            conn.execute(
                "INSERT INTO pull_requests(server, version, tag, commit_id, branch, title, body_hash,
                     head_commit, state, created_at, updated_at)
                 VALUES ('s', ?1, ?1, 'c', ?2, 't', 'h', ?3, 'open', ?4, ?4)",
                params![version, branch, head, updated_at],
            )
            .unwrap();
        }
        schema::migrate_to(&mut conn, 8).unwrap();
        let seeded = conn
            .query_map(
                "SELECT branch, head FROM bot_branches ORDER BY branch",
                params![],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .unwrap();
        assert_eq!(seeded, [("upkeep/a".to_string(), "new".to_string())]);
    }
}
