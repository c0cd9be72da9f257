//! Composition root: valid config -> secrets -> store, forges, mailer; one function per
//! command, each returning the process exit code. The only module besides `main` that prints.
#![allow(clippy::print_stderr)]

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use crate::cli::{
    CheckArgs, Cli, Command, LicenseCommand, OutboxArgs, OutboxCommand, RunsArgs, RunsCommand,
    StatusArgs, SyncArgs,
};
use crate::config::{self, ForgeConfig, ServerConfig, ValidConfig};
use crate::forge::Forge;
use crate::forge::local::LocalForge;
use crate::pipeline::{self, Deps, ForgeFactory, RunError, RunOptions};
use crate::store::Store;

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

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_CONFIG: i32 = 2;
pub const EXIT_BUSY: i32 = 3;

/// Run a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    crate::started_at();
    // One TLS provider (ring) for every client in the process: reqwest, lettre.
    crate::forge::http::install_crypto_provider();
    let config_path = config::resolve_path(cli.config.as_deref());
    let result = match cli.command {
        Command::Check(args) => return check(&config_path, &args).await,
        Command::Demo(args) => crate::demo::run(&args.dir).await,
        command => match load(&config_path) {
            Err(code) => return code,
            Ok(config) => {
                let state = config.state.clone();
                let result = match command {
                    Command::Sync(args) => sync(config, &args).await,
                    Command::Serve => crate::scheduler::serve(config_path.clone(), config).await,
                    Command::Status(args) => status(&config, &args),
                    Command::License(cmd) => license(&config, cmd),
                    Command::Outbox(args) => outbox(&config, args).await,
                    Command::Runs(args) => runs(&config, &args),
                    Command::Tag(cmd) => tag(&config, cmd),
                    Command::Check(_) | Command::Demo(_) => unreachable!("handled above"),
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
                    return EXIT_BUSY;
                }
                result
            }
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            errln!("error: {e:#}");
            EXIT_FAILED
        }
    }
}

fn open_store(config: &ValidConfig) -> anyhow::Result<Store> {
    Store::open_with(&config.state.path, config.state.busy_timeout)
}

fn locked_message(state: &config::StateConfig) -> String {
    format!(
        "the state database {} is locked by another process (gave up after {}s, [state] busy-timeout)",
        state.path.display(),
        state.busy_timeout.as_secs_f64()
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
    EXIT_CONFIG
}

/// The forge of a server, with its secrets resolved now.
pub fn forge_for(server: &ServerConfig) -> anyhow::Result<Box<dyn Forge>> {
    Ok(match &server.mirror.forge {
        ForgeConfig::Local { repo } => Box::new(LocalForge::new(repo)?),
        ForgeConfig::Github {
            api_url,
            owner,
            repo,
            token,
        } => {
            let token = token.resolve().context("GitHub token")?;
            Box::new(crate::forge::github::GithubForge::new(
                crate::forge::github::GithubSettings {
                    api_url: api_url.clone(),
                    owner: owner.clone(),
                    repo: repo.clone(),
                    token,
                    timeout: std::time::Duration::from_secs(30),
                    max_retries: 4,
                    max_rate_limit_wait: std::time::Duration::from_secs(300),
                },
            )?)
        }
        ForgeConfig::AzureDevops {
            base_url,
            organization,
            project,
            repository,
            api_version,
            token,
        } => {
            let token = token.resolve().context("Azure DevOps token")?;
            Box::new(crate::forge::azure::AzureForge::new(
                crate::forge::azure::AzureSettings {
                    base_url: base_url.clone(),
                    organization: organization.clone(),
                    project: project.clone(),
                    repository: repository.clone(),
                    api_version: api_version.clone(),
                    token,
                    timeout: std::time::Duration::from_secs(30),
                    max_retries: 4,
                    max_rate_limit_wait: std::time::Duration::from_secs(300),
                },
            )?)
        }
    })
}

pub fn deps(config: ValidConfig) -> anyhow::Result<Deps> {
    let store = open_store(&config)?;
    let forges: ForgeFactory = Arc::new(forge_for);
    let concurrency = config.service.concurrency;
    Ok(Deps {
        config: Arc::new(config),
        store: Arc::new(store),
        forges,
        concurrency,
        events: crate::events::Bus::new(),
        stop: tokio_util::sync::CancellationToken::new(),
    })
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
    let (weak, unchecked) = service_secret_strength(&config.service);
    for key in unchecked {
        let _ = outln!(
            out,
            "[service] {key}: not set in this environment, so its length is checked when serve uses it"
        );
    }
    if !weak.is_empty() {
        for problem in &weak {
            errln!("error: {problem}");
        }
        return EXIT_CONFIG;
    }
    if !args.online {
        return EXIT_OK;
    }
    let mut failed = false;
    for server in &config.servers {
        let result = forge_for(server).and_then(|f| {
            f.check_access(&server.mirror.base)
                .map_err(anyhow::Error::from)
        });
        match result {
            Ok(()) => {
                let _ = outln!(out, "  {}: mirror reachable and writable", server.name);
            }
            Err(e) => {
                failed = true;
                let _ = outln!(out, "  {}: mirror check failed: {e:#}", server.name);
            }
        }
    }
    if failed { EXIT_FAILED } else { EXIT_OK }
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
    let deps = deps(config)?;
    let opts = RunOptions {
        servers: args.servers.clone(),
        dry_run: args.dry_run,
        full: args.full,
        trigger: "manual".into(),
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
            return Ok(EXIT_BUSY);
        }
        Err(RunError::UnknownServer(s)) => {
            errln!(
                "error: unknown server `{s}` (not in {})",
                deps.config.file.display()
            );
            return Ok(EXIT_CONFIG);
        }
        Err(RunError::StateLocked(e)) => return Err(e),
        Err(RunError::Other(e)) if crate::store::is_locked(&e) => {
            tracing::debug!(error = %format!("{e:#}"), "state database locked mid-run");
            errln!(
                "error: {}; the run stopped part-way (its finished decisions are kept) and the next run picks up",
                locked_message(&deps.config.state)
            );
            return Ok(EXIT_FAILED);
        }
        Err(RunError::Other(e)) => return Err(e),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        // Streamed from the state one server at a time: at thousands of servers the full
        // report is tens of MB, and the run kept only summaries.
        let mut w = std::io::BufWriter::new(&mut out);
        crate::report::write_json(&report, &deps.store, &mut w)?;
        w.flush()?;
    } else {
        write!(
            out,
            "{}",
            crate::term::sanitize(&crate::status::run_summary(&report))
        )?;
    }
    Ok(if report.any_failed() {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
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
    Ok(EXIT_OK)
}

fn license(config: &ValidConfig, cmd: LicenseCommand) -> anyhow::Result<i32> {
    let store = open_store(config)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        LicenseCommand::Approve { server, by, note } => {
            if config.server(&server).is_none() {
                errln!("error: unknown server `{server}`");
                return Ok(EXIT_CONFIG);
            }
            let Some((fingerprint, _)) = store.pending_review(&server)? else {
                errln!("error: {server} has no license change waiting for review");
                return Ok(EXIT_FAILED);
            };
            store.approve_license(&server, &fingerprint, &by, note.as_deref())?;
            outln!(
                out,
                "Approved the license of {server} (fingerprint {}) by {by}.\nThe next sync marks the rebuild PR ready for review.",
                &fingerprint[..fingerprint.len().min(16)]
            )?;
            Ok(EXIT_OK)
        }
        LicenseCommand::Show { server } => {
            if config.server(&server).is_none() {
                errln!("error: unknown server `{server}`");
                return Ok(EXIT_CONFIG);
            }
            write!(
                out,
                "{}",
                crate::term::sanitize(&crate::status::license_text(&store, &server)?)
            )?;
            Ok(EXIT_OK)
        }
    }
}

fn tag(config: &ValidConfig, cmd: crate::cli::TagCommand) -> anyhow::Result<i32> {
    let crate::cli::TagCommand::Accept { server, tag, by } = cmd;
    if config.server(&server).is_none() {
        errln!("error: unknown server `{server}`");
        return Ok(EXIT_CONFIG);
    }
    let store = open_store(config)?;
    let Some(commit) = store.last_seen_commit(&server, &tag)? else {
        errln!("error: upkeep has never seen tag `{tag}` of {server}");
        return Ok(EXIT_FAILED);
    };
    store.accept_tag(&server, &tag, &commit, &by)?;
    let mut out = std::io::stdout().lock();
    outln!(
        out,
        "Accepted {tag} of {server} at {commit} (by {by}). The next sync proposes releases again."
    )?;
    Ok(EXIT_OK)
}

fn runs(config: &ValidConfig, args: &RunsArgs) -> anyhow::Result<i32> {
    let store = open_store(config)?;
    let mut out = std::io::stdout().lock();
    if let Some(RunsCommand::Show { id, json }) = args.command {
        let Some(row) = store.run(id)? else {
            errln!("error: no run {id} in {}", config.state.path.display());
            return Ok(EXIT_FAILED);
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
            return Ok(EXIT_OK);
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
        return Ok(EXIT_OK);
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
        return Ok(EXIT_OK);
    }
    if listed.is_empty() {
        outln!(out, "no runs yet")?;
        return Ok(EXIT_OK);
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
    Ok(EXIT_OK)
}

async fn outbox(config: &ValidConfig, args: OutboxArgs) -> anyhow::Result<i32> {
    let store = open_store(config)?;
    let mut out = std::io::stdout().lock();
    if let Some(OutboxCommand::Retry { id }) = args.command {
        if !store.retry_email(id)? {
            errln!("error: no pending or failed email with id {id}");
            return Ok(EXIT_FAILED);
        }
        let summary = crate::notify::outbox::drain(&store, &config.email).await;
        let row = store.outbox_row(id)?.context("outbox row vanished")?;
        outln!(
            out,
            "email {id}: {}{}",
            row.status,
            row.last_error
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )?;
        return Ok(if summary.failed > 0 || row.status != "sent" {
            EXIT_FAILED
        } else {
            EXIT_OK
        });
    }
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
    Ok(EXIT_OK)
}
