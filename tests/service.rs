//! `upkeep serve` end to end: the real binary with a fast schedule against real git repos in
//! temp dirs; its HTTP surface; signals; and the deployment manifests.

mod service_support;

use std::collections::BTreeSet;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use chrono::{DateTime, Timelike as _, Utc};
use service_support::*;
use upkeep::service::auth::sign;

fn finished_runs(f: &Fixture, trigger: &str) -> Vec<upkeep::store::RunRow> {
    runs(f)
        .into_iter()
        .filter(|r| r.trigger == trigger && r.finished_at.is_some())
        .collect()
}

/// How far the log's wall clock may read a fire as early: the scheduler sleeps on the monotonic
/// clock, and the wall clock may be slewed against it.
const CLOCK_SLACK_MS: i64 = 100;

/// Every scheduled run answers a fire time of its own: the fire times are on the schedule
/// (every even second), each fired once and never before it came, and each run (oldest first)
/// started after a fire time that no earlier run used. How late a run starts is up to the
/// machine, so no bound on it is asserted.
fn assert_runs_follow_their_fire_times(
    runs: &[upkeep::store::RunRow],
    fires: &[(DateTime<Utc>, DateTime<Utc>)],
) {
    let slack = chrono::Duration::milliseconds(CLOCK_SLACK_MS);
    for (logged, fire) in fires {
        assert!(
            fire.second() % 2 == 0 && fire.nanosecond() == 0,
            "a fire time off the schedule: {fire}"
        );
        assert!(
            *logged + slack >= *fire,
            "fired early: {fire} was logged at {logged}"
        );
    }
    for w in fires.windows(2) {
        assert!(w[0].1 < w[1].1, "a fire time fired twice: {fires:?}");
    }
    let mut starts: Vec<DateTime<Utc>> = runs.iter().map(|r| parse_ts(&r.started_at)).collect();
    starts.sort();
    let mut unused = fires.iter().map(|(_, fire)| *fire);
    for start in &starts {
        let fire = unused.next();
        assert!(
            fire.is_some_and(|fire| fire <= *start + slack),
            "a run started at {start} without a fire time of its own (next unused: {fire:?}); runs {starts:?}, fires {fires:?}"
        );
    }
}

#[test]
fn scheduled_runs_happen_on_time_and_show_in_metrics_events_and_status() {
    let f = Fixture::new(
        &["alpha"],
        &[],
        &Settings {
            sync_token: true,
            ..Settings::default()
        },
    );
    let mut svc = f.start();
    let events = svc.events();
    let before = svc.metrics();
    let runs_before = before.sum("upkeep_runs_total", &[]);

    assert_eq!(svc.get("/healthz").unwrap(), (200, "ok\n".to_string()));
    let (code, body) = svc.get("/readyz").unwrap();
    assert_eq!(code, 200, "{body}");

    // Two scheduled runs, each on a fire time of its own, never in a burst.
    let scheduled = wait_for("two scheduled runs", CEILING, || {
        let r = finished_runs(&f, "schedule");
        (r.len() >= 2).then_some(r)
    });
    assert_runs_follow_their_fire_times(&scheduled, &due_fires(&svc.log()));
    let first = &scheduled[0];
    assert_eq!(report_servers(&f, first.id), vec!["alpha"]);

    // /events delivered a run's events, in order, as JSON named by their kind. The stream may
    // open after the first run started (the schedule does not wait for it), so the run checked
    // is the first one whose start the stream saw.
    let mut runs: std::collections::BTreeMap<i64, Vec<(String, serde_json::Value)>> =
        std::collections::BTreeMap::new();
    let seen = wait_for("the events of a whole run", CEILING, || {
        let (name, data) = events.recv_timeout(Duration::from_millis(200)).ok()?;
        assert_eq!(data["event"], name.as_str());
        let run_id = data["run_id"].as_i64()?;
        let finished = name == "run-finished";
        let run = runs.entry(run_id).or_default();
        run.push((name, data));
        (finished && run[0].0 == "run-started").then(|| run.clone())
    });
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"run-started"), "{names:?}");
    let started = seen
        .iter()
        .position(|(n, _)| n == "server-started")
        .expect("server-started");
    let done = seen
        .iter()
        .position(|(n, _)| n == "server-finished")
        .expect("server-finished");
    assert!(started < done);
    assert_eq!(seen[done].1["server"], "alpha");
    assert_eq!(seen[0].1["trigger"], "schedule");

    // /metrics parses strictly and its counters moved. The counters follow the run events,
    // which a run publishes after the state records it finished: wait until they saw both runs.
    let after = wait_for("/metrics to count two scheduled runs", CEILING, || {
        let m = svc.metrics();
        (m.sum("upkeep_runs_total", &[("trigger", "schedule")]) >= 2.0).then_some(m)
    });
    assert!(after.sum("upkeep_runs_total", &[]) > runs_before);
    assert!(after.sum("upkeep_server_syncs_total", &[("server", "alpha")]) >= 2.0);
    assert!(
        after.sum(
            "upkeep_server_sync_duration_seconds_count",
            &[("server", "alpha")]
        ) >= 2.0
    );
    assert!(after.sum("upkeep_run_duration_seconds_count", &[]) >= 2.0);
    assert!(after.sum("upkeep_pr_actions_total", &[]) >= 1.0);
    assert!(after.has("upkeep_server_last_success_timestamp_seconds"));
    assert_eq!(after.sum("upkeep_emails", &[("status", "failed")]), 0.0);

    // /status is the status --json document.
    let (code, body) = svc.get("/status").unwrap();
    assert_eq!(code, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["servers"][0]["name"], "alpha");
    assert!(doc["servers"][0]["last_run_id"].as_i64().is_some(), "{doc}");
    let cli = f.upkeep(&["status", "--json"]);
    assert!(cli.status.success());
    let cli_doc: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(cli_doc["servers"][0]["name"], doc["servers"][0]["name"]);

    // /sync: refused without the right token, started with it (once no scheduled run is in
    // flight: 409 until then).
    assert_eq!(svc.post("/sync", &[], "").0, 401);
    assert_eq!(
        svc.post("/sync", &[("Authorization", "Bearer wrong")], "")
            .0,
        401
    );
    let auth = format!("Bearer {SYNC_TOKEN}");
    let (code, body) = wait_for("/sync to be accepted", CEILING, || {
        let (code, body) = svc.post("/sync?server=alpha", &[("Authorization", &auth)], "");
        assert!(code == 202 || code == 409, "{code} {body}");
        (code == 202).then_some((code, body))
    });
    assert_eq!(code, 202, "{body}");
    let api = wait_for("the API run to finish", CEILING, || {
        finished_runs(&f, "api").pop()
    });
    assert_eq!(report_servers(&f, api.id), vec!["alpha"]);

    svc.term();
    let status = svc.wait_exit();
    assert!(status.success(), "{status}\n{}", svc.log());
}

fn lease_trigger(f: &Fixture) -> Option<String> {
    let holder = f.store().lease_holder().unwrap()?;
    Some(
        holder
            .holder
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string(),
    )
}

#[test]
fn sync_now_and_scheduled_runs_never_overlap() {
    // Each side is held open at a failpoint while the other is started, so the two meet every
    // time, however busy the machine.
    let f = Fixture::new(&["alpha"], &[], &Settings::default());
    let serve = Pause::new();
    serve.release("before-lease");
    let mut svc = f.start_with(&serve.env(&["before-lease", "after-lease"]));

    // 1. A scheduled run holds the lease: `sync --now` is refused, and so are the fire times
    //    that come meanwhile.
    serve.wait_reached("after-lease");
    assert_eq!(lease_trigger(&f).as_deref(), Some("schedule"));
    let out = f.upkeep(&["sync", "--now"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "exit 3, busy: {err}");
    assert!(err.contains("another upkeep run is in progress"), "{err}");
    wait_for(
        "a fire time skipped while the scheduled run is in progress",
        CEILING,
        || {
            svc.log()
                .contains("scheduled run skipped: the previous run is still in progress")
                .then_some(())
        },
    );

    // 2. A manual run holds the lease: the scheduled run that meets it is skipped. The next
    //    scheduled run is held just before it takes the lease, the manual run takes it, then
    //    the scheduled run is let go.
    serve.hold("before-lease");
    serve.release("after-lease");
    serve.wait_reached("before-lease");
    assert_eq!(lease_trigger(&f), None, "the first run released the lease");
    let manual_pause = Pause::new();
    let manual = f.spawn_upkeep(&["sync", "--now"], &manual_pause.env(&["after-lease"]));
    manual_pause.wait_reached("after-lease");
    assert_eq!(lease_trigger(&f).as_deref(), Some("manual"));
    serve.release("before-lease");
    wait_for(
        "the scheduled run to be skipped for the manual run's lease",
        CEILING,
        || {
            svc.log()
                .lines()
                .any(|l| {
                    l.contains("run skipped: another run holds the lease")
                        && l.contains("trigger=schedule")
                })
                .then_some(())
        },
    );
    manual_pause.release("after-lease");
    let out = wait_output(manual, "the manual run to finish");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 3. The schedule goes on once the manual run is done.
    let manual_end = finished_runs(&f, "manual")
        .pop()
        .and_then(|r| r.finished_at)
        .map(|t| parse_ts(&t))
        .expect("the manual run finished");
    wait_for("a scheduled run after the manual one", CEILING, || {
        finished_runs(&f, "schedule")
            .iter()
            .any(|r| parse_ts(&r.started_at) > manual_end)
            .then_some(())
    });
    svc.term();
    assert!(svc.wait_exit().success(), "{}", svc.log());

    // Never two runs at once: the runs' intervals are disjoint.
    let all = runs(&f);
    assert!(
        all.iter().all(|r| r.finished_at.is_some()),
        "a run left unfinished: {all:?}"
    );
    let mut spans: Vec<_> = all
        .iter()
        .map(|r| {
            (
                parse_ts(&r.started_at),
                parse_ts(r.finished_at.as_deref().unwrap()),
                r.trigger.clone(),
            )
        })
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "runs overlap: {:?} and {:?}", w[0], w[1]);
    }
    assert!(spans.iter().any(|s| s.2 == "manual") && spans.iter().any(|s| s.2 == "schedule"));
    assert!(f.store().lease_holder().unwrap().is_none());
}

fn is_shutdown_skip(server: &serde_json::Value) -> bool {
    server["error"]
        .as_str()
        .is_some_and(|e| e.contains("shutting down"))
}

#[test]
fn sigterm_during_a_run_finishes_it_and_leaves_the_state_consistent() {
    // The held upstream keeps its server in flight until the test answers, after SIGTERM.
    let held = HeldUpstream::start();
    let f = Fixture::new(
        &["alpha", "beta"],
        &[("slow", held.url.clone())],
        &Settings {
            concurrency: 1,
            grace: "10m",
            ..Settings::default()
        },
    );
    // The first run waits once it holds the lease until the event stream is open, so the
    // stream sees all of it. libgit2 must not give up on the held fetch first.
    let pause = Pause::new();
    let mut env = pause.env(&["after-lease"]);
    env.push(("UPKEEP_GIT_IO_TIMEOUT".into(), "1h".into()));
    let mut svc = f.start_with(&env);
    let events = svc.events();
    pause.wait_reached("after-lease");
    pause.release("after-lease");
    // Wait until the held server is in flight (the others wait: concurrency 1).
    let mut started = BTreeSet::new();
    let run_id = wait_for("the held server in flight", CEILING, || {
        match events.recv_timeout(Duration::from_millis(200)) {
            Ok((name, data)) if name == "server-started" => {
                started.insert((
                    data["run_id"].as_i64()?,
                    data["server"].as_str()?.to_string(),
                ));
                (data["server"] == "slow")
                    .then(|| data["run_id"].as_i64())
                    .flatten()
            }
            _ => None,
        }
    });
    wait_for("the held upstream to be asked", CEILING, || {
        (held.requests() > 0).then_some(())
    });
    let started_first = started.iter().filter(|(r, _)| *r == run_id).count();
    assert_eq!(lease_trigger(&f).as_deref(), Some("schedule"));
    svc.term();
    wait_for("serve to stop taking work", CEILING, || {
        svc.log().contains("shutting down").then_some(())
    });
    held.answer();
    let status = svc.wait_exit();
    assert!(status.success(), "{status}\n{}", svc.log());
    // Every event the stream delivered before it closed.
    loop {
        match events.recv_timeout(CEILING) {
            Ok((name, data)) => {
                if name == "server-started" {
                    started.insert((
                        data["run_id"].as_i64().unwrap(),
                        data["server"].as_str().unwrap().to_string(),
                    ));
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("/events stayed open after serve exited"),
        }
    }

    let store = f.store();
    assert!(
        store.lease_holder().unwrap().is_none(),
        "the lease was released"
    );
    let run = runs(&f).into_iter().find(|r| r.id == run_id).unwrap();
    assert!(
        run.finished_at.is_some(),
        "the interrupted run was finished: {run:?}"
    );
    assert_ne!(run.result, "running");
    // Only the run in flight finished: no scheduled run started after the signal.
    assert!(runs(&f).iter().all(|r| r.id <= run_id));
    // The servers that had started finished; those that had not were skipped, not synced.
    let report: serde_json::Value = serde_json::from_str(
        &upkeep::report::stored_json(&store, run_id)
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let servers = report["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 3, "{report}");
    for s in servers {
        let name = s["name"].as_str().unwrap().to_string();
        let skipped = is_shutdown_skip(s);
        assert_eq!(
            skipped,
            !started.contains(&(run_id, name.clone())),
            "{name}: skipped {skipped}, started events {started:?}"
        );
    }
    // Nothing could start while the held server had the only permit, and SIGTERM came
    // before it was answered: every server that had not started by then was skipped.
    let skipped = servers.iter().filter(|s| is_shutdown_skip(s)).count();
    assert_eq!(skipped, 3 - started_first, "{report}");
    // No branch pushed without its PR record, and no PR record without its branch.
    for s in &f.servers {
        let branch = has_branch(&s.mirror, &s.name);
        let pr = store.open_pr(&s.name).unwrap().is_some();
        assert_eq!(branch, pr, "{}: branch {branch}, PR record {pr}", s.name);
    }
}

#[test]
fn sighup_with_a_broken_config_keeps_the_old_one() {
    let f = Fixture::new(&["alpha"], &[], &Settings::default());
    let mut svc = f.start();
    wait_for("a scheduled run", CEILING, || {
        (!finished_runs(&f, "schedule").is_empty()).then_some(())
    });
    std::fs::write(
        &f.config,
        f.config_text(&Settings::default())
            .replace("*/2 * * * * *", "every two seconds")
            .replace("[state]\n", "[state]\nbogus = 1\n"),
    )
    .unwrap();
    let signalled = Utc::now();
    svc.hup();
    let log = wait_for("the reload to be refused", CEILING, || {
        let log = svc.log();
        log.contains("config reload failed; keeping the old config")
            .then_some(log)
    });
    // Every diagnostic is logged.
    assert!(log.contains("invalid-cron"), "{log}");
    assert!(log.contains("unknown-key"), "{log}");
    // The old schedule keeps running.
    wait_for("a scheduled run after the refused reload", CEILING, || {
        finished_runs(&f, "schedule")
            .iter()
            .any(|r| parse_ts(&r.started_at) > signalled)
            .then_some(())
    });
    assert_eq!(svc.get("/healthz").unwrap().0, 200);

    // A valid config is applied: the server's schedule, moved half a year away, takes effect.
    std::fs::write(
        &f.config,
        f.config_text(&Settings::default())
            .replace("*/2 * * * * *", &far_cron()),
    )
    .unwrap();
    svc.hup();
    wait_for("the reload to be applied", CEILING, || {
        svc.log().contains("config reloaded").then_some(())
    });
    let next = wait_for(
        "the scheduler to wait for the new schedule",
        CEILING,
        || {
            next_fires(log_after(&svc.log(), "config reloaded"))
                .first()
                .map(|(_, next)| *next)
        },
    );
    assert!(
        next - Utc::now() > chrono::Duration::days(100),
        "the new schedule fires half a year from now, not at {next}"
    );
    svc.term();
    assert!(svc.wait_exit().success());
    let log = svc.log();
    let after = log_after(&log, "config reloaded");
    assert!(
        due_fires(after).is_empty(),
        "a run fired after the reload:\n{after}"
    );
}

#[test]
fn sighup_naming_another_state_database_is_refused_and_other_state_keys_apply() {
    let f = Fixture::new(&["alpha"], &[], &Settings::default());
    let mut svc = f.start();
    wait_for("a scheduled run", CEILING, || {
        (!finished_runs(&f, "schedule").is_empty()).then_some(())
    });
    let text = f.config_text(&Settings::default());
    let other = f.dir.path().join("state").join("other.db");
    std::fs::write(&f.config, text.replace("state/upkeep.db", "state/other.db")).unwrap();
    let signalled = Utc::now();
    svc.hup();
    let log = wait_for("the reload to be refused", CEILING, || {
        let log = svc.log();
        log.contains("config reload refused").then_some(log)
    });
    let refusal = log
        .lines()
        .find(|l| l.contains("config reload refused"))
        .unwrap();
    assert!(refusal.contains("ERROR"), "{refusal}");
    assert!(refusal.contains("[state] path"), "{refusal}");
    assert!(refusal.contains("restart"), "{refusal}");
    let m = svc.metrics();
    assert_eq!(
        m.sum("upkeep_config_reloads_total", &[("result", "refused")]),
        1.0
    );
    assert_eq!(m.sum("upkeep_config_last_reload_successful", &[]), 0.0);
    // The service keeps running on the old database; the other file was never opened.
    wait_for("a scheduled run after the refused reload", CEILING, || {
        finished_runs(&f, "schedule")
            .iter()
            .any(|r| parse_ts(&r.started_at) > signalled)
            .then_some(())
    });
    assert!(!other.exists(), "the refused database was created");

    // The same file by another name (a symlink) is the same database, and the other [state]
    // keys apply: the schedule moves away with the reload.
    let link = f.dir.path().join("state").join("link.db");
    std::os::unix::fs::symlink(f.state_db(), &link).unwrap();
    std::fs::write(
        &f.config,
        text.replace("state/upkeep.db", "state/link.db")
            .replace(
                "lease-timeout = \"5m\"",
                "lease-timeout = \"7m\"\nbusy-timeout = \"3s\"",
            )
            .replace("*/2 * * * * *", &far_cron()),
    )
    .unwrap();
    svc.hup();
    wait_for("the reload to be applied", CEILING, || {
        svc.log().contains("config reloaded").then_some(())
    });
    let m = svc.metrics();
    assert_eq!(
        m.sum("upkeep_config_reloads_total", &[("result", "applied")]),
        1.0
    );
    assert_eq!(m.sum("upkeep_config_last_reload_successful", &[]), 1.0);
    svc.term();
    assert!(svc.wait_exit().success());
}

fn release_payload(clone_url: &str) -> String {
    serde_json::json!({
        "action": "published",
        "release": { "tag_name": "v1.1.0" },
        "repository": { "clone_url": clone_url, "html_url": "https://example.invalid/x", "ssh_url": "git@example.invalid:x.git" }
    })
    .to_string()
}

#[test]
fn a_signed_webhook_syncs_exactly_the_matching_server() {
    let f = Fixture::new(
        &["alpha", "beta"],
        &[],
        &Settings {
            cron: far_cron(), // only the webhook runs here
            webhook_secret: true,
            ..Settings::default()
        },
    );
    let svc = f.start();
    let secret = WEBHOOK_SECRET.as_bytes();
    let alpha = f.servers.iter().find(|s| s.name == "alpha").unwrap();
    // Same repository, written differently: case, no .git, a trailing slash.
    let url = format!(
        "{}/",
        alpha.upstream.trim_end_matches(".git").to_uppercase()
    );
    let body = release_payload(&url);

    // Unsigned and wrongly signed deliveries change nothing.
    let (code, _) = svc.post("/webhooks/github", &[("X-GitHub-Event", "release")], &body);
    assert_eq!(code, 401);
    let wrong = sign(b"not the secret", body.as_bytes());
    let (code, _) = svc.post(
        "/webhooks/github",
        &[
            ("X-GitHub-Event", "release"),
            ("X-Hub-Signature-256", &wrong),
        ],
        &body,
    );
    assert_eq!(code, 401);
    // A signature over another body is wrong too.
    let other = sign(secret, release_payload("file:///elsewhere").as_bytes());
    let (code, _) = svc.post(
        "/webhooks/github",
        &[
            ("X-GitHub-Event", "release"),
            ("X-Hub-Signature-256", &other),
        ],
        &body,
    );
    assert_eq!(code, 401);

    let ping = r#"{"zen":"Keep it logically awesome."}"#;
    let (code, _) = svc.post(
        "/webhooks/github",
        &[
            ("X-GitHub-Event", "ping"),
            ("X-Hub-Signature-256", &sign(secret, ping.as_bytes())),
        ],
        ping,
    );
    assert_eq!(code, 200);
    let unknown = release_payload("https://github.com/someone/else.git");
    let (code, _) = svc.post(
        "/webhooks/github",
        &[
            ("X-GitHub-Event", "release"),
            ("X-Hub-Signature-256", &sign(secret, unknown.as_bytes())),
        ],
        &unknown,
    );
    assert_eq!(code, 404);
    // No sync token configured: the endpoint is disabled.
    let (code, body403) = svc.post("/sync", &[("Authorization", "Bearer anything")], "");
    assert_eq!(code, 403);
    assert!(body403.contains("sync endpoint disabled"), "{body403}");
    assert!(runs(&f).is_empty(), "refused deliveries started a run");

    let (code, reply) = svc.post(
        "/webhooks/github",
        &[
            ("X-GitHub-Event", "release"),
            ("X-Hub-Signature-256", &sign(secret, body.as_bytes())),
        ],
        &body,
    );
    assert_eq!(code, 202, "{reply}");
    let run = wait_for("the webhook run", CEILING, || {
        finished_runs(&f, "webhook").pop()
    });
    assert_eq!(report_servers(&f, run.id), vec!["alpha"]);
    assert_eq!(runs(&f).len(), 1);
    assert!(has_branch(&alpha.mirror, "alpha"));
    let beta = f.servers.iter().find(|s| s.name == "beta").unwrap();
    assert!(!has_branch(&beta.mirror, "beta"));
}

#[test]
fn a_run_blocked_by_a_locked_state_database_is_skipped_counted_and_the_next_one_runs() {
    let settings = Settings {
        cron: far_cron(), // only /sync runs here
        sync_token: true,
        ..Settings::default()
    };
    let f = Fixture::new(&["alpha"], &[], &settings);
    let text = f
        .config_text(&settings)
        .replace("[state]\n", "[state]\nbusy-timeout = \"500ms\"\n");
    std::fs::write(&f.config, text).unwrap();
    let auth = format!("Bearer {SYNC_TOKEN}");
    let auth = [("Authorization", auth.as_str())];
    let mut svc = f.start();
    wait_for("the service to be ready", CEILING, || {
        (svc.get("/readyz").ok()?.0 == 200).then_some(())
    });
    // Another process (a backup, an sqlite3 shell) holds the write lock.
    let lock = rusqlite::Connection::open(f.state_db()).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    assert_eq!(svc.post("/sync", &auth, "").0, 202);
    wait_for("the locked run to be counted", CEILING, || {
        (svc.metrics()
            .sum("upkeep_runs_skipped_total", &[("reason", "state-locked")])
            == 1.0)
            .then_some(())
    });
    assert!(
        svc.log()
            .contains("state database locked past [state] busy-timeout"),
        "{}",
        svc.log()
    );
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    assert!(
        runs(&f).is_empty(),
        "the locked run started: {:?}",
        runs(&f)
    );
    // Once the lock is gone, the next request runs and opens the PR. (The skipped run is
    // counted just before its task ends: until it has, /sync answers 409.)
    wait_for(
        "/sync to be accepted after the skipped run",
        CEILING,
        || {
            let (code, body) = svc.post("/sync", &auth, "");
            assert!(code == 202 || code == 409, "{code} {body}");
            (code == 202).then_some(())
        },
    );
    let api = wait_for("the API run to finish", CEILING, || {
        finished_runs(&f, "api").pop()
    });
    assert_eq!(api.result, "ok");
    assert!(has_branch(&f.servers[0].mirror, "alpha"));
    svc.term();
    assert!(svc.wait_exit().success(), "{}", svc.log());
}

#[test]
fn a_missed_fire_time_is_caught_up_once_on_start() {
    // Daily at the time of day it was twelve hours ago: the last fire time is half a day back,
    // the next one half a day ahead, out of the test's reach.
    let at = Utc::now() - chrono::Duration::hours(12);
    let f = Fixture::new(
        &["alpha"],
        &[],
        &Settings {
            cron: format!("{} {} * * *", at.minute(), at.hour()),
            ..Settings::default()
        },
    );
    // A fresh state has nothing to catch up. The service decides that before it first waits
    // for its schedule, so once it waits, the decision is in.
    {
        let mut svc = f.start();
        svc.wait_scheduling();
        svc.term();
        assert!(svc.wait_exit().success());
        assert!(!svc.log().contains("catching up"), "{}", svc.log());
        assert!(runs(&f).is_empty(), "a fresh start ran: {:?}", runs(&f));
    }
    // The last scheduled run was two days ago: two daily fire times were missed.
    {
        let store = f.store();
        let id = store.start_run("schedule", false).unwrap();
        store
            .finish_run(id, "ok", "{\"servers\":[{\"name\":\"alpha\"}]}")
            .unwrap();
    }
    let conn = rusqlite::Connection::open(f.state_db()).unwrap();
    let two_days_ago = (Utc::now() - chrono::Duration::days(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    conn.execute(
        "UPDATE runs SET started_at = ?1, finished_at = ?1",
        [&two_days_ago],
    )
    .unwrap();
    drop(conn);

    let mut svc = f.start();
    let caught_up = wait_for("the catch-up run", CEILING, || {
        let r = finished_runs(&f, "schedule");
        (r.len() >= 2).then_some(r)
    });
    svc.wait_scheduling();
    svc.term();
    assert!(svc.wait_exit().success());
    // Once, never a burst: one catch-up run for both missed fire times, and nothing else.
    let log = svc.log();
    assert_eq!(log.matches("catching up once").count(), 1, "{log}");
    assert!(due_fires(&log).is_empty(), "{log}");
    assert_eq!(finished_runs(&f, "schedule").len(), 2, "{caught_up:?}");
    assert_eq!(report_servers(&f, caught_up[1].id), vec!["alpha"]);
}

// ---- deployment files ------------------------------------------------------------------------

fn deploy_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn yaml_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
}

fn load_yaml(path: &std::path::Path) -> Vec<yaml_rust2::Yaml> {
    let text = std::fs::read_to_string(path).unwrap();
    yaml_rust2::YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

/// Every document of the YAML files directly in `dir`, with its file's name.
fn manifests(dir: &std::path::Path) -> Vec<(String, yaml_rust2::Yaml)> {
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            docs.extend(load_yaml(&p).into_iter().map(|d| (name.clone(), d)));
        }
    }
    docs
}

#[test]
fn deployment_manifests_parse_and_say_what_they_must() {
    use yaml_rust2::Yaml;
    let mut files = Vec::new();
    yaml_files(&deploy_dir(), &mut files);
    assert!(files.len() >= 5, "{files:?}");
    for path in &files {
        for doc in load_yaml(path) {
            assert!(
                !doc.is_badvalue() && !doc.is_null(),
                "{} has an empty document",
                path.display()
            );
        }
    }
    // The SQLite sample: the files of deploy/kubernetes itself (postgres/ is the other variant).
    let kinds: std::collections::BTreeMap<String, yaml_rust2::Yaml> =
        manifests(&deploy_dir().join("kubernetes"))
            .into_iter()
            .filter_map(|(_, doc)| Some((doc["kind"].as_str()?.to_string(), doc)))
            .collect();
    for kind in [
        "Deployment",
        "PersistentVolumeClaim",
        "ConfigMap",
        "Secret",
        "Service",
        "CronJob",
    ] {
        assert!(kinds.contains_key(kind), "no {kind} in deploy/kubernetes");
    }

    let dep = &kinds["Deployment"];
    let pod = &dep["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(
        c["args"][0].as_str(),
        Some("serve"),
        "the Deployment runs serve"
    );
    assert_eq!(
        c["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/healthz")
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert!(
        c["envFrom"][0]["secretRef"]["name"].as_str().is_some(),
        "secrets come from a Secret"
    );
    assert_eq!(
        dep["spec"]["replicas"].as_i64(),
        Some(1),
        "one replica: runs share one state"
    );
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|m| m["mountPath"].as_str())
        .collect();
    assert!(
        mounts.contains(&"/var/lib/upkeep") && mounts.contains(&"/etc/upkeep"),
        "{mounts:?}"
    );
    let claim = pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
        .expect("the state volume is a PVC");
    assert_eq!(
        kinds["PersistentVolumeClaim"]["metadata"]["name"].as_str(),
        Some(claim)
    );

    let cron = &kinds["CronJob"];
    assert_eq!(cron["spec"]["concurrencyPolicy"].as_str(), Some("Forbid"));
    let job_pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let args: Vec<&str> = job_pod["containers"][0]["args"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(args.starts_with(&["sync", "--now"]), "{args:?}");
    assert_eq!(
        job_pod["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );

    let svc = &kinds["Service"];
    let port = svc["spec"]["ports"][0]["port"].as_i64();
    assert_eq!(port, Some(9187));

    // The config in the ConfigMap is a valid upkeep config that listens beyond loopback.
    let toml_text = kinds["ConfigMap"]["data"]["upkeep.toml"]
        .as_str()
        .expect("upkeep.toml in the ConfigMap");
    let config = upkeep::config::parse(std::path::Path::new("configmap/upkeep.toml"), toml_text)
        .unwrap_or_else(|e| panic!("the ConfigMap's config is invalid:\n{e}"));
    assert_eq!(config.service.listen.port(), 9187);
    assert!(
        !config.service.listen.ip().is_loopback(),
        "probes cannot reach a loopback listener"
    );

    // The pipeline sample pins the upstream the way upkeep edits it, and extends a template.
    let pipeline = load_yaml(&deploy_dir().join("azure-pipelines/mirror-pipeline.yml"));
    let p = &pipeline[0];
    let repos = p["resources"]["repositories"].as_vec().unwrap();
    let pinned = repos
        .iter()
        .find(|r| {
            r["ref"]
                .as_str()
                .is_some_and(|r| r.starts_with("refs/tags/"))
        })
        .expect("an upstream pinned to a tag");
    assert!(pinned["name"].as_str().is_some());
    assert!(
        p["extends"]["template"]
            .as_str()
            .is_some_and(|t| t.contains('@'))
    );
    let text =
        std::fs::read_to_string(deploy_dir().join("azure-pipelines/mirror-pipeline.yml")).unwrap();
    assert!(
        regex::Regex::new(r"ref: refs/tags/\S+\s+# upkeep:commit=[0-9a-f]{40}")
            .unwrap()
            .is_match(&text),
        "the pin carries its commit"
    );

    let dockerfile = std::fs::read_to_string(deploy_dir().join("Dockerfile")).unwrap();
    for needle in [
        "HEALTHCHECK",
        "/healthz",
        "VOLUME",
        "USER",
        "ENTRYPOINT [\"upkeep\"]",
        "ca-certificates",
    ] {
        assert!(dockerfile.contains(needle), "Dockerfile lacks {needle}");
    }
    assert!(
        dockerfile.matches("FROM ").count() >= 2,
        "a multi-stage build"
    );
}

/// The PostgreSQL variant: replicas, no state volume, the URL from a Secret in every pod that
/// opens the state, a migration Job kept out of `kubectl apply -k`, a disruption budget.
#[test]
fn the_postgres_variant_runs_replicas_on_a_shared_database() {
    use yaml_rust2::Yaml;
    let dir = deploy_dir().join("kubernetes/postgres");
    let docs = manifests(&dir);
    let named = |kind: &str, name: &str| -> &Yaml {
        docs.iter()
            .map(|(_, d)| d)
            .find(|d| {
                d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name)
            })
            .unwrap_or_else(|| panic!("no {kind} {name} in {}", dir.display()))
    };
    let strs = |y: &Yaml| -> Vec<String> {
        y.as_vec()
            .map(|v| {
                v.iter()
                    .filter_map(|s| Some(s.as_str()?.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };

    // The config: PostgreSQL, the URL named (never written), no migrations by the replicas.
    let toml_text = named("ConfigMap", "upkeep-config")["data"]["upkeep.toml"]
        .as_str()
        .expect("upkeep.toml in the ConfigMap");
    let config = upkeep::config::parse(std::path::Path::new("postgres/upkeep.toml"), toml_text)
        .unwrap_or_else(|e| panic!("the PostgreSQL ConfigMap's config is invalid:\n{e}"));
    let upkeep::config::StateBackend::Postgres(pg) = &config.state.backend else {
        panic!("the PostgreSQL variant's config is not on PostgreSQL");
    };
    let upkeep::config::SecretRef::Env(url_var) = &pg.url_from else {
        panic!(
            "the sample takes the URL from the environment: {:?}",
            pg.url_from
        );
    };
    assert!(!config.state.auto_migrate, "replicas must not migrate");
    assert!(!config.service.listen.ip().is_loopback());

    // Every pod that opens the state gets that variable from the Secret's key.
    let url_from_secret = |container: &Yaml, what: &str| {
        let env = container["env"].as_vec().unwrap();
        let var = env
            .iter()
            .find(|e| e["name"].as_str() == Some(url_var.as_str()))
            .unwrap_or_else(|| panic!("{what}: no {url_var} in its env"));
        let key = &var["valueFrom"]["secretKeyRef"];
        assert_eq!(key["name"].as_str(), Some("upkeep-database"), "{what}");
        assert_eq!(key["key"].as_str(), Some("url"), "{what}");
    };

    let dep = named("Deployment", "upkeep");
    assert_eq!(dep["spec"]["replicas"].as_i64(), Some(3));
    assert_eq!(
        dep["spec"]["strategy"]["type"].as_str(),
        Some("RollingUpdate")
    );
    let pod = &dep["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(strs(&c["args"])[0], "serve");
    url_from_secret(c, "the Deployment");
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    assert_eq!(
        c["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/healthz")
    );
    for r in ["cpu", "memory"] {
        assert!(
            !c["resources"]["requests"][r].is_badvalue(),
            "no {r} request"
        );
    }
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    // No volume for the state; the cache (the config's cache-dir) on a volume of the pod's own.
    let volumes = pod["volumes"].as_vec().unwrap();
    assert!(
        volumes
            .iter()
            .all(|v| v["persistentVolumeClaim"].is_badvalue()),
        "no shared volume: {volumes:?}"
    );
    let cache_dir = config.state.cache_dir.display().to_string();
    let cache = c["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"].as_str() == Some(cache_dir.as_str()))
        .unwrap_or_else(|| panic!("nothing mounted at the cache-dir {cache_dir}"));
    let cache_volume = volumes
        .iter()
        .find(|v| v["name"] == cache["name"])
        .expect("the cache's volume");
    assert!(!cache_volume["emptyDir"].is_badvalue(), "{cache_volume:?}");

    // The migration: the same image, `upkeep migrate`, a Helm pre-upgrade hook.
    let job = named("Job", "upkeep-migrate");
    let hook = job["metadata"]["annotations"]["helm.sh/hook"]
        .as_str()
        .unwrap_or("");
    assert!(
        hook.contains("pre-upgrade") && hook.contains("pre-install"),
        "{hook}"
    );
    let jc = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(strs(&jc["args"])[0], "migrate");
    assert_eq!(
        jc["image"], c["image"],
        "the Job migrates with the rolled-out image"
    );
    url_from_secret(jc, "the migration Job");
    assert_eq!(
        job["spec"]["template"]["spec"]["restartPolicy"].as_str(),
        Some("Never")
    );

    // The move from SQLite: the SQLite sample's volume, copied to the same URL.
    let copy = named("Job", "upkeep-state-copy");
    let cc = &copy["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        strs(&cc["args"])[..4],
        ["state", "copy", "--to-url-env", url_var.as_str()]
    );
    url_from_secret(cc, "the copy Job");
    let sqlite_pvc = &load_yaml(&deploy_dir().join("kubernetes/pvc.yaml"))[0]["metadata"]["name"];
    let copy_volumes = copy["spec"]["template"]["spec"]["volumes"]
        .as_vec()
        .unwrap();
    assert!(
        copy_volumes
            .iter()
            .any(|v| v["persistentVolumeClaim"]["claimName"] == *sqlite_pvc),
        "the copy reads the SQLite sample's volume"
    );

    // At most one replica away at a time, and for these pods.
    let pdb = named("PodDisruptionBudget", "upkeep");
    assert_eq!(pdb["spec"]["maxUnavailable"].as_i64(), Some(1));
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        dep["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(
        named("Service", "upkeep")["spec"]["ports"][0]["port"].as_i64(),
        Some(9187)
    );

    // The Secret ships no URL.
    let secret = named("Secret", "upkeep-database");
    assert_eq!(secret["stringData"]["url"].as_str(), Some(""));

    // `kubectl apply -k` applies the replicas, never a Job: the migration must finish before
    // the rollout, and the copy runs once.
    let kustomization = load_yaml(&dir.join("kustomization.yaml"));
    let resources = strs(&kustomization[0]["resources"]);
    for file in [
        "configmap.yaml",
        "deployment.yaml",
        "service.yaml",
        "pdb.yaml",
    ] {
        assert!(
            resources.iter().any(|r| r == file),
            "{file} not in {resources:?}"
        );
    }
    for r in &resources {
        assert!(dir.join(r).is_file(), "{r} is listed but missing");
        let (_, doc) = docs.iter().find(|(f, _)| f == r).unwrap();
        assert_ne!(doc["kind"].as_str(), Some("Job"), "{r}: a Job in apply -k");
    }
}

/// `kubectl kustomize` renders both variants (when kubectl is installed; it needs no cluster).
#[test]
fn both_kustomizations_render() {
    let Ok(out) = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
    else {
        eprintln!("note: kubectl not found; skipped rendering the kustomizations");
        return;
    };
    assert!(out.status.success());
    for dir in ["kubernetes", "kubernetes/postgres"] {
        let out = std::process::Command::new("kubectl")
            .arg("kustomize")
            .arg(deploy_dir().join(dir))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl kustomize deploy/{dir}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rendered = String::from_utf8_lossy(&out.stdout);
        assert!(rendered.contains("kind: Deployment"), "deploy/{dir}");
        assert!(rendered.contains("namespace: upkeep"), "deploy/{dir}");
    }
}

#[test]
fn systemd_units_are_hardened_and_verify() {
    let dir = deploy_dir().join("systemd");
    let service = std::fs::read_to_string(dir.join("upkeep.service")).unwrap();
    for needle in [
        "ExecStart=/usr/local/bin/upkeep --config /etc/upkeep/upkeep.toml serve",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "StateDirectory=upkeep",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
    ] {
        assert!(service.contains(needle), "upkeep.service lacks {needle}");
    }
    let timer = std::fs::read_to_string(dir.join("upkeep-sync.timer")).unwrap();
    assert!(timer.contains("OnCalendar="));
    let oneshot = std::fs::read_to_string(dir.join("upkeep-sync.service")).unwrap();
    assert!(oneshot.contains("Type=oneshot") && oneshot.contains("sync --now"));

    let Ok(out) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("note: systemd-analyze not found; skipped `systemd-analyze verify` of the units");
        return;
    };
    assert!(out.status.success());
    // verify wants the ExecStart binary to exist: point a copy of the units at a stand-in.
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("upkeep");
    std::fs::copy(assert_cmd::cargo::cargo_bin("upkeep"), &bin).unwrap();
    let mut units = Vec::new();
    for name in ["upkeep.service", "upkeep-sync.service", "upkeep-sync.timer"] {
        let text = std::fs::read_to_string(dir.join(name))
            .unwrap()
            .replace("/usr/local/bin/upkeep", bin.to_str().unwrap());
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        units.push(p);
    }
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Lines about the units themselves are problems; anything else is the host's systemd.
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("upkeep")).collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
}
