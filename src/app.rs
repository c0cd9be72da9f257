//! The commands: one function per command, each returning the process exit code
//! ([`crate::exit`]), on deps built by the composition root ([`crate::deps`]). The only module
//! besides `main` that prints.
#![allow(clippy::print_stderr)]

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::cli::{
    CheckArgs, Cli, Command, LicenseCommand, MigrateArgs, OutboxArgs, OutboxCommand, RunsArgs,
    RunsCommand, StateCommand, StatusArgs, SyncArgs,
};
use crate::config::{self, ValidConfig};
use crate::deps::{Deps, forge_for, open_store};
use crate::exit;
use crate::forge::Access;
use crate::pipeline::decisions::Outcome;
use crate::pipeline::{self, RunError, RunOptions};
use crate::store::schema::{self, SchemaError};
use crate::store::{ReviewKind, Source, Verdict};

/// `writeln!` for text people read: control characters from upstream text shown escaped.
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {
        writeln!($out, "{}", crate::term::sanitize(&format!($($arg)*)))
    };
}

/// `eprintln!` with control characters shown escaped (errors quote upstream answers).
macro_rules! errln {
    ($($arg:tt)*) => {
        eprintln!("{}", crate::term::sanitize(&format!($($arg)*)))
    };
}

/// Run a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    crate::started_at();
    // One TLS provider (ring) for every client in the process: reqwest, lettre.
    crate::http::install_crypto_provider();
    let config_path = config::resolve_path(cli.config.as_deref());
    let migrate = cli.migrate;
    let result = match cli.command {
        Command::Check(args) => return check(&config_path, &args).await,
        Command::Demo(args) => crate::demo::run(&args.dir).await,
        command => match load(&config_path) {
            Err(code) => return code,
            Ok(mut config) => {
                if migrate {
                    config.state.auto_migrate = true;
                }
                let state = config.state.clone();
                let result = match command {
                    Command::Sync(args) => sync(config, &args).await,
                    Command::Serve => crate::scheduler::serve(config_path.clone(), config).await,
                    Command::Outbox(OutboxArgs {
                        command: Some(OutboxCommand::Retry { id }),
                        ..
                    }) => retry_email(&config, id).await,
                    // The rest only read and write the state: on a blocking thread, by the
                    // rule on `Store`.
                    command => tokio::task::spawn_blocking(move || state_command(&config, command))
                        .await
                        .unwrap_or_else(|e| Err(anyhow::anyhow!("the command stopped: {e}"))),
                };
                // Every command gives up on a held lock before it changes anything.
                if let Err(e) = &result
                    && crate::store::is_locked(e)
                {
                    tracing::debug!(error = %format!("{e:#}"), "state database locked");
                    errln!(
                        "error: {}; nothing was changed, try again once it is released",
                        locked_message(&state)
                    );
                    return exit::BUSY;
                }
                result
            }
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => match e.chain().find_map(|c| c.downcast_ref::<SchemaError>()) {
            Some(schema) => {
                errln!("error: {schema}");
                exit::SCHEMA
            }
            None => {
                errln!("error: {e:#}");
                exit::FAILED
            }
        },
    }
}

/// The commands that only read and write the state (blocking).
fn state_command(config: &ValidConfig, command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Status(args) => status(config, &args),
        Command::License(cmd) => license(config, cmd),
        Command::Outbox(args) => outbox(config, &args),
        Command::Runs(args) => runs(config, &args),
        Command::Tag(cmd) => tag(config, cmd),
        Command::Review(cmd) => review(config, cmd),
        Command::Migrate(args) => migrate_state(config, &args),
        Command::State(StateCommand::Copy { to_url_env }) => copy_state(config, &to_url_env),
        Command::Check(_) | Command::Demo(_) | Command::Sync(_) | Command::Serve => {
            unreachable!("not a state command")
        }
    }
}

fn locked_message(state: &config::StateConfig) -> String {
    let (wait, key) = match &state.backend {
        config::StateBackend::Sqlite { busy_timeout, .. } => (busy_timeout, "busy-timeout"),
        config::StateBackend::Postgres(pg) => (&pg.lock_timeout, "lock-timeout"),
    };
    format!(
        "the state database {} is locked by another process (gave up after {}s, [state] {key})",
        state.location(),
        wait.as_secs_f64()
    )
}

/// The config at `path`, its warnings logged; the exit code after printing its problems.
fn load(path: &Path) -> Result<ValidConfig, i32> {
    let config = config::load(path).map_err(|errors| problems(path, &errors))?;
    for w in &config.warnings {
        tracing::warn!(diagnostic = %w, code = w.code, "config: allowed, but risky");
    }
    Ok(config)
}

/// Print every problem of an invalid config; the exit code.
fn problems(path: &Path, errors: &config::ConfigErrors) -> i32 {
    for d in &errors.0 {
        // The alternate form adds the offending lines with a caret under each place; a
        // blank line keeps one problem apart from the next.
        errln!("{d:#}\n");
    }
    errln!("{} problem(s) in {}", errors.0.len(), path.display());
    exit::CONFIG
}

/// The chat webhook URLs `check` can see: the problems of those set in this environment (a
/// plain `http://` one off loopback without `allow-insecure`), and the names of those not set.
/// Neither ever shows a URL.
fn chat_webhook_urls(config: &config::ValidConfig) -> (Vec<String>, Vec<String>) {
    let (mut problems, mut unset) = (Vec::new(), Vec::new());
    for (name, dest) in &config.email.chat.destinations {
        match dest.webhook_url.resolve() {
            Ok(Some(url)) => {
                if let Err(e) = crate::notify::chat::check_url(url.expose(), dest.allow_insecure) {
                    problems.push(format!("[chat.{name}]: {e}"));
                }
            }
            Ok(None) => {}
            Err(_) => unset.push(name.clone()),
        }
    }
    (problems, unset)
}

async fn check(path: &Path, args: &CheckArgs) -> i32 {
    let config = match config::load(path) {
        Ok(c) => c,
        Err(errors) => return problems(path, &errors),
    };
    for w in &config.warnings {
        errln!("warning: {w:#}\n");
    }
    let mut out = std::io::stdout().lock();
    let _ = outln!(
        out,
        "{}: valid, {} server(s)",
        path.display(),
        config.servers.len()
    );
    let _ = outln!(
        out,
        "schedule `{}` ({}), next runs:",
        config.schedule.expression,
        config.schedule.timezone
    );
    for t in config.next_fires(chrono::Utc::now(), 3) {
        let _ = outln!(out, "  {}", t.to_rfc3339());
    }
    let _ = outln!(out, "{}", state_line(&config.state));
    let (weak, unchecked) = service_secret_strength(&config.service);
    for key in unchecked {
        let _ = outln!(
            out,
            "[service] {key}: not set in this environment, so its length is checked when serve uses it"
        );
    }
    let (insecure_chat, unset_chat) = chat_webhook_urls(&config);
    for name in unset_chat {
        let _ = outln!(
            out,
            "[chat.{name}] webhook URL: not set in this environment, so it is checked when a message is sent"
        );
    }
    if !weak.is_empty() || !insecure_chat.is_empty() {
        for problem in weak.iter().chain(&insecure_chat) {
            errln!("error: {problem}");
        }
        return exit::CONFIG;
    }
    if !args.online {
        return exit::OK;
    }
    let http = match crate::deps::http_pool() {
        Ok(http) => http,
        Err(e) => {
            errln!("error: {e:#}");
            return exit::FAILED;
        }
    };
    // Forge calls block: make them on a blocking thread, one server after another.
    let servers = config.servers.clone();
    let checked = tokio::task::spawn_blocking(move || {
        servers
            .iter()
            .map(|server| {
                let result = forge_for(&http, server).and_then(|f| {
                    f.check_access(&server.mirror.base)
                        .map_err(anyhow::Error::from)
                });
                (server.name.clone(), result)
            })
            .collect::<Vec<_>>()
    })
    .await;
    let checked = match checked {
        Ok(checked) => checked,
        Err(e) => {
            errln!("error: the mirror checks stopped: {e}");
            return exit::FAILED;
        }
    };
    let mut failed = false;
    for (name, result) in checked {
        match result {
            Ok(Access::Writable) => {
                let _ = outln!(out, "  {name}: mirror reachable and writable");
            }
            Ok(Access::Unknown(why)) => {
                let _ = writeln!(
                    out,
                    "  {name}: mirror reachable; could not tell whether it is writable: {why}"
                );
            }
            Err(e) => {
                failed = true;
                let _ = outln!(out, "  {name}: mirror check failed: {e:#}");
            }
        }
    }
    if failed { exit::FAILED } else { exit::OK }
}

/// Where the state is, as `check` shows it: a PostgreSQL URL only redacted, and when it cannot
/// be read here, why (naming its variable or file, never its value).
fn state_line(state: &config::StateConfig) -> String {
    match &state.backend {
        config::StateBackend::Sqlite { path, .. } => format!("state: SQLite {}", path.display()),
        config::StateBackend::Postgres(pg) => match pg.url() {
            Ok(url) => format!(
                "state: PostgreSQL {}",
                config::database_url::redact(url.expose())
            ),
            Err(e) => format!(
                "state: PostgreSQL, URL not readable in this environment, so it is checked when \
                 the state is opened: {e:#}"
            ),
        },
    }
}

/// The service's secrets that are too weak (messages), and the keys whose secret is not
/// available here to check. A secret is only read to measure it, never printed.
fn service_secret_strength(service: &config::ServiceConfig) -> (Vec<String>, Vec<&'static str>) {
    let read = match &service.read_access {
        config::ReadAccess::Token(t) => t,
        config::ReadAccess::Open => &config::SecretRef::None,
    };
    let mut weak = Vec::new();
    let mut unchecked = Vec::new();
    for (key, secret) in [
        ("sync-token-env", &service.sync_token),
        ("webhook-secret-env", &service.webhook_secret),
        ("read-token", read),
    ] {
        match secret.resolve() {
            Ok(None) => {}
            Ok(Some(value)) => {
                if let Some(why) = config::weak_secret(value.expose()) {
                    weak.push(format!("[service] {key}: the secret {why}"));
                }
            }
            Err(_) => unchecked.push(key),
        }
    }
    (weak, unchecked)
}

async fn sync(config: ValidConfig, args: &SyncArgs) -> anyhow::Result<i32> {
    let deps = Deps::open(config).await?;
    let opts = RunOptions {
        servers: args.servers.clone(),
        dry_run: args.dry_run,
        full: args.full,
        trigger: crate::report::Trigger::Manual,
        fresh_since: None,
    };
    // A progress bar on a terminal (stderr), fed by the run's events; nothing when piped.
    let bar = (!args.json).then(|| crate::progress::spawn(&deps.events));
    let result = pipeline::run(&deps, &opts).await;
    if let Some(bar) = bar {
        bar.finish();
    }
    let report = match result {
        Ok(r) => r,
        Err(RunError::Busy(h)) => {
            errln!(
                "error: another upkeep run is in progress ({} since {}); it holds the lease until {}",
                h.holder,
                h.acquired_at,
                h.expires_at
            );
            return Ok(exit::BUSY);
        }
        Err(RunError::UnknownServer(s)) => {
            errln!(
                "error: unknown server `{s}` (not in {})",
                deps.config.file.display()
            );
            return Ok(exit::CONFIG);
        }
        Err(RunError::StateLocked(e)) => return Err(e),
        Err(RunError::Other(e)) if crate::store::is_locked(&e) => {
            tracing::debug!(error = %format!("{e:#}"), "state database locked mid-run");
            errln!(
                "error: {}; the run stopped part-way (its finished decisions are kept) and the next run picks up",
                locked_message(&deps.config.state)
            );
            return Ok(exit::FAILED);
        }
        Err(RunError::Other(e)) => return Err(e),
    };
    let failed = report.any_failed();
    if args.json {
        // Streamed from the state one server at a time: at thousands of servers the full
        // report is tens of MB, and the run kept only summaries.
        deps.store
            .blocking(move |store| {
                let mut out = std::io::stdout().lock();
                let mut w = std::io::BufWriter::new(&mut out);
                crate::report::write_json(&report, store, &mut w)?;
                w.flush()?;
                Ok(())
            })
            .await?;
    } else {
        write!(
            std::io::stdout().lock(),
            "{}",
            crate::term::sanitize(&crate::status::run_summary(&report))
        )?;
    }
    Ok(if failed { exit::FAILED } else { exit::OK })
}

fn status(config: &ValidConfig, args: &StatusArgs) -> anyhow::Result<i32> {
    let store = open_store(config)?;
    let doc = crate::status::collect(config, &store)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        write!(
            out,
            "{}",
            crate::term::sanitize(&crate::status::table(&doc))
        )?;
    }
    Ok(exit::OK)
}

fn license(config: &ValidConfig, cmd: LicenseCommand) -> anyhow::Result<i32> {
    match cmd {
        LicenseCommand::Approve { server, by, note } => {
            approve(config, ReviewKind::License, &server, &by, note.as_deref())
        }
        LicenseCommand::Decline { server, by, reason } => {
            decline(config, ReviewKind::License, &server, &by, &reason)
        }
        LicenseCommand::Log { server, json } => license_log(config, server.as_deref(), json),
        LicenseCommand::Show { server, line_diffs } => {
            if config.server(&server).is_none() {
                errln!("error: unknown server `{server}`");
                return Ok(exit::CONFIG);
            }
            let store = open_store(config)?;
            let mut out = std::io::stdout().lock();
            write!(
                out,
                "{}",
                crate::term::sanitize(&crate::status::license_text(&store, &server, line_diffs)?)
            )?;
            Ok(exit::OK)
        }
    }
}

fn review(config: &ValidConfig, cmd: crate::cli::ReviewCommand) -> anyhow::Result<i32> {
    let kind_of = |kind| match kind {
        crate::cli::ReviewKindArg::Mcp => ReviewKind::Mcp,
        crate::cli::ReviewKindArg::License => ReviewKind::License,
    };
    match cmd {
        crate::cli::ReviewCommand::Approve { review: r, note } => {
            approve(config, kind_of(r.kind), &r.server, &r.by, note.as_deref())
        }
        crate::cli::ReviewCommand::Decline { review: r, reason } => {
            decline(config, kind_of(r.kind), &r.server, &r.by, &reason)
        }
    }
}

/// What the review of `kind` is about, in the commands' output.
fn review_what(kind: ReviewKind) -> &'static str {
    match kind {
        ReviewKind::License => "license change",
        ReviewKind::Mcp => "MCP surface change",
    }
}

/// Approve the pending `kind` review of `server`: recorded against the fingerprint of what was
/// held, so a later, different change needs its own approval.
fn approve(
    config: &ValidConfig,
    kind: ReviewKind,
    server: &str,
    by: &str,
    note: Option<&str>,
) -> anyhow::Result<i32> {
    if config.server(server).is_none() {
        eprintln!("error: unknown server `{server}`");
        return Ok(exit::CONFIG);
    }
    let what = review_what(kind);
    let store = open_store(config)?;
    let request = crate::pipeline::decisions::Request {
        kind,
        verdict: Verdict::Approved,
        source: Source::Cli,
        by,
        note,
    };
    let server_config = config.server(server).unwrap_or_else(|| unreachable!());
    let Outcome::Recorded { fingerprint } =
        crate::pipeline::decisions::decide(&store, server_config, request)?
    else {
        eprintln!("error: {server} has no {what} waiting for review");
        return Ok(exit::FAILED);
    };
    writeln!(
        std::io::stdout().lock(),
        "Approved the {what} of {server} (fingerprint {}) by {by}.\nThe next sync marks the rebuild PR ready for review unless something else holds it.",
        &fingerprint[..fingerprint.len().min(16)]
    )?;
    Ok(exit::OK)
}

/// Decline the pending `kind` review of `server`: recorded with the reason; the next run
/// closes the PR with a reply, and the version is not proposed again.
fn decline(
    config: &ValidConfig,
    kind: ReviewKind,
    server: &str,
    by: &str,
    reason: &str,
) -> anyhow::Result<i32> {
    let Some(server_config) = config.server(server) else {
        errln!("error: unknown server `{server}`");
        return Ok(exit::CONFIG);
    };
    if reason.trim().is_empty() {
        errln!("error: --reason must say why (it is shown on the PR and to the owners)");
        return Ok(exit::CONFIG);
    }
    let store = open_store(config)?;
    let what = review_what(kind);
    let request = crate::pipeline::decisions::Request {
        kind,
        verdict: Verdict::Declined,
        source: Source::Cli,
        by,
        note: Some(reason.trim()),
    };
    let Outcome::Recorded { fingerprint } =
        crate::pipeline::decisions::decide(&store, server_config, request)?
    else {
        errln!("error: {server} has no {what} waiting for review");
        return Ok(exit::FAILED);
    };
    let mut out = std::io::stdout().lock();
    outln!(
        out,
        "Declined the {what} of {server} (fingerprint {}) by {by}.\nThe next sync closes the rebuild PR with your reason; that version is not proposed again, a newer release is.",
        &fingerprint[..fingerprint.len().min(16)]
    )?;
    Ok(exit::OK)
}

/// `license log`: the audit trail of review decisions.
fn license_log(config: &ValidConfig, server: Option<&str>, json: bool) -> anyhow::Result<i32> {
    if let Some(name) = server
        && config.server(name).is_none()
    {
        errln!("error: unknown server `{name}`");
        return Ok(exit::CONFIG);
    }
    let store = open_store(config)?;
    let rows = store.decisions(server)?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(exit::OK);
    }
    write!(
        out,
        "{}",
        crate::term::sanitize(&crate::status::decisions_text(&rows))
    )?;
    Ok(exit::OK)
}

fn tag(config: &ValidConfig, cmd: crate::cli::TagCommand) -> anyhow::Result<i32> {
    let crate::cli::TagCommand::Accept { server, tag, by } = cmd;
    if config.server(&server).is_none() {
        errln!("error: unknown server `{server}`");
        return Ok(exit::CONFIG);
    }
    let store = open_store(config)?;
    let Some(commit) = store.last_seen_commit(&server, &tag)? else {
        errln!("error: upkeep has never seen tag `{tag}` of {server}");
        return Ok(exit::FAILED);
    };
    store.accept_tag(&server, &tag, &commit, &by)?;
    let mut out = std::io::stdout().lock();
    outln!(
        out,
        "Accepted {tag} of {server} at {commit} (by {by}). The next sync proposes releases again."
    )?;
    Ok(exit::OK)
}

fn runs(config: &ValidConfig, args: &RunsArgs) -> anyhow::Result<i32> {
    let store = open_store(config)?;
    let mut out = std::io::stdout().lock();
    if let Some(RunsCommand::Show { id, json }) = args.command {
        let Some(row) = store.run(id)? else {
            errln!("error: no run {id} in {}", config.state.location());
            return Ok(exit::FAILED);
        };
        let Some(doc) = store.run_summary(id)? else {
            // Still running, or it died before finishing (a later run marks it aborted).
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&row)?)?;
            } else {
                outln!(
                    out,
                    "run #{id} ({}) started {}: {}, no report",
                    row.trigger,
                    row.started_at,
                    row.result
                )?;
            }
            return Ok(exit::OK);
        };
        let mut w = std::io::BufWriter::new(&mut out);
        if json {
            crate::report::write_stored(&store, id, &mut w)?;
        } else {
            let report: crate::report::RunReport =
                serde_json::from_str(&doc).context("reading the run's report")?;
            outln!(
                w,
                "{} run, started {}, finished {}: {}",
                row.trigger,
                row.started_at,
                row.finished_at.as_deref().unwrap_or("-"),
                row.result
            )?;
            write!(
                w,
                "{}",
                crate::term::sanitize(&crate::status::run_summary(&report))
            )?;
        }
        w.flush()?;
        return Ok(exit::OK);
    }
    let mut listed = Vec::new();
    for row in store.recent_runs(args.limit)? {
        let statuses = store
            .run_summary(row.id)?
            .and_then(|doc| serde_json::from_str::<crate::report::RunReport>(&doc).ok())
            .map(|r| {
                let mut counts = std::collections::BTreeMap::<&'static str, usize>::new();
                for s in &r.servers {
                    *counts.entry(s.status.as_str()).or_default() += 1;
                }
                counts
            });
        listed.push((row, statuses));
    }
    if args.json {
        let docs: Vec<serde_json::Value> = listed
            .iter()
            .map(|(row, statuses)| {
                let mut v = serde_json::to_value(row).unwrap_or_default();
                v["statuses"] = serde_json::to_value(statuses).unwrap_or_default();
                v
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&docs)?)?;
        return Ok(exit::OK);
    }
    if listed.is_empty() {
        outln!(out, "no runs yet")?;
        return Ok(exit::OK);
    }
    outln!(
        out,
        "{:>6}  {:<9} {:<25} {:<8} SERVERS",
        "RUN",
        "TRIGGER",
        "STARTED",
        "RESULT"
    )?;
    for (row, statuses) in listed {
        let servers = statuses.map_or_else(
            || "-".to_string(),
            |c| {
                c.iter()
                    .map(|(s, n)| format!("{n} {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        );
        outln!(
            out,
            "{:>6}  {:<9} {:<25} {:<8} {}{}",
            row.id,
            row.trigger,
            row.started_at,
            row.result,
            servers,
            if row.dry_run { " (dry run)" } else { "" }
        )?;
    }
    Ok(exit::OK)
}

/// `outbox retry ID`: make one email due now and send what is due.
async fn retry_email(config: &ValidConfig, id: i64) -> anyhow::Result<i32> {
    let store = std::sync::Arc::new(
        tokio::task::spawn_blocking({
            let config = config.clone();
            move || open_store(&config)
        })
        .await??,
    );
    if !store.blocking(move |s| s.retry_email(id)).await? {
        errln!("error: no pending or failed email with id {id}");
        return Ok(exit::FAILED);
    }
    let summary = crate::pipeline::outbox::drain(&store, &config.email).await;
    let row = store
        .blocking(move |s| s.outbox_row(id))
        .await?
        .context("outbox row vanished")?;
    outln!(
        std::io::stdout().lock(),
        "email {id}: {}{}",
        row.status,
        row.last_error
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    )?;
    Ok(if summary.failed > 0 || row.status != "sent" {
        exit::FAILED
    } else {
        exit::OK
    })
}

/// `outbox`: the pending and failed emails (`--all`: sent ones too).
fn outbox(config: &ValidConfig, args: &OutboxArgs) -> anyhow::Result<i32> {
    let store = open_store(config)?;
    let mut out = std::io::stdout().lock();
    let statuses: &[&str] = if args.all {
        &[]
    } else {
        &["pending", "sending", "failed"]
    };
    let rows = store.outbox(statuses)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
    } else if rows.is_empty() {
        outln!(out, "outbox: nothing pending or failed")?;
    } else {
        for r in rows {
            outln!(
                out,
                "{:>5}  {:<8} attempts={} next={} {} -> {}\n       {}{}",
                r.id,
                r.status,
                r.attempts,
                r.next_attempt_at,
                r.server,
                r.recipients.join(", "),
                r.subject,
                r.last_error
                    .map(|e| format!("\n       last error: {e}"))
                    .unwrap_or_default()
            )?;
        }
    }
    Ok(exit::OK)
}

/// `upkeep migrate`: apply the state's pending migrations and print each; with `--check`, print
/// them and change nothing.
fn migrate_state(config: &ValidConfig, args: &MigrateArgs) -> anyhow::Result<i32> {
    let place = config.state.location();
    let mut out = std::io::stdout().lock();
    let policy = if args.check {
        schema::Policy::Refuse
    } else {
        schema::Policy::Apply
    };
    let applied = match crate::deps::open_state(&config.state, policy) {
        Ok((_, applied)) => applied,
        Err(e) => match e.chain().find_map(|c| c.downcast_ref::<SchemaError>()) {
            Some(SchemaError::Pending { state, known, .. }) if args.check => {
                writeln!(
                    out,
                    "state {place}: schema version {state}; this upkeep knows {known}; pending:"
                )?;
                for m in schema::pending(*state) {
                    writeln!(out, "  {}: {}", m.number, m.summary)?;
                }
                return Ok(exit::SCHEMA);
            }
            _ => return Err(e),
        },
    };
    let known = schema::known();
    match (applied.first(), applied.len()) {
        (None, _) => writeln!(
            out,
            "state {place}: schema version {known}, up to date; nothing to apply"
        )?,
        (Some(first), n) => {
            writeln!(
                out,
                "state {place}: schema version {} -> {known} ({n} migration{})",
                first.number - 1,
                if n == 1 { "" } else { "s" }
            )?;
            for m in &applied {
                writeln!(out, "  applied {}: {}", m.number, m.summary)?;
            }
        }
    }
    Ok(exit::OK)
}

/// `upkeep state copy --to-url-env VAR`: the SQLite state into an empty PostgreSQL database,
/// verified by counting every table on both sides (see [`crate::store::copy`]).
fn copy_state(config: &ValidConfig, var: &str) -> anyhow::Result<i32> {
    use crate::store::db::{Conn, PgOptions};
    let crate::config::StateBackend::Sqlite { path, .. } = &config.state.backend else {
        anyhow::bail!(
            "`state copy` reads a SQLite state: run it with the config of the installation being moved ([state] backend = \"sqlite\")"
        );
    };
    let url = std::env::var(var).map_err(|_| {
        anyhow::anyhow!(
            "the environment variable {var} is not set (it must hold the target's PostgreSQL URL)"
        )
    })?;
    let shown = crate::store::db::shown_url(&url);
    let source = Conn::open_sqlite(path, config.state.busy_timeout)
        .with_context(|| format!("opening the SQLite state {}", path.display()))?;
    let (mut source, known) = (source, schema::known());
    let version = source.schema_version()?;
    anyhow::ensure!(
        version == known,
        "the SQLite state {} is at schema version {version}, this upkeep knows {known}: run `upkeep migrate` with the SQLite config first",
        path.display()
    );
    let options = PgOptions {
        url: crate::secret::Secret::new(url),
        lock_timeout: config.state.busy_timeout,
    };
    // The target gets this build's schema first (an empty database: every migration).
    drop(
        crate::store::Store::open_postgres(&options, schema::Policy::Apply)
            .with_context(|| format!("creating the schema in {shown}"))?,
    );
    let mut target =
        Conn::connect_postgres(&options).with_context(|| format!("connecting to {shown}"))?;
    let counted = crate::store::copy::copy(&source, &mut target)
        .with_context(|| format!("copying {} into {shown}", path.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "copied {} into {shown} (schema version {known})",
        path.display()
    )?;
    writeln!(out, "  {:<24} {:>10} {:>10}", "table", "sqlite", "postgres")?;
    for c in &counted {
        writeln!(out, "  {:<24} {:>10} {:>10}", c.table, c.source, c.target)?;
    }
    let differ: Vec<&str> = counted
        .iter()
        .filter(|c| c.source != c.target)
        .map(|c| c.table.as_str())
        .collect();
    if differ.is_empty() {
        writeln!(
            out,
            "verified: every table has the same number of rows on both sides"
        )?;
        return Ok(exit::OK);
    }
    writeln!(
        out,
        "NOT verified: the row counts differ for {}",
        differ.join(", ")
    )?;
    Ok(exit::FAILED)
}
