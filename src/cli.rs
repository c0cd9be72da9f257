//! The command line (clap derive). Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keep sponsored rebuilds of third-party servers current with their upstreams.
///
/// Exit codes: 0 success; 1 a server failed (the others still ran) or the command failed;
/// 2 the config is invalid or the command line is wrong; 3 another run holds the lease;
/// 4 the state's schema is newer than this upkeep, or has migrations it may not apply.
#[derive(Debug, Parser)]
#[command(name = "upkeep", version, propagate_version = true)]
pub struct Cli {
    /// Config file [default: config/upkeep.toml]
    #[arg(long, global = true, env = "UPKEEP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format on stderr (filter with the UPKEEP_LOG env var, e.g. `UPKEEP_LOG=debug`)
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Apply the state's pending schema migrations when opening it, whatever
    /// `[state] auto-migrate` says
    #[arg(long, global = true)]
    pub migrate: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the config: print every problem as FILE:LINE:COL and the next fire times
    Check(CheckArgs),
    /// Sync the sponsored servers with their upstreams once
    Sync(SyncArgs),
    /// Run as a service: sync on the configured cron schedule until SIGTERM or ctrl-c
    Serve,
    /// Show each server's pinned and latest version, open PR, pending emails, last run
    Status(StatusArgs),
    /// Build a self-contained example (upstreams, a mirror, a config) and sync it, offline
    Demo(DemoArgs),
    /// License decisions: show the pending review of a server, record an approval
    #[command(subcommand)]
    License(LicenseCommand),
    /// List pending and failed emails, or retry one
    Outbox(OutboxArgs),
    /// Past runs, newest first, or one run's report
    Runs(RunsArgs),
    /// Moved release tags: accept the commit a tag points at now, after checking it
    #[command(subcommand)]
    Tag(TagCommand),
    /// Held reviews (license, MCP surface): record an approval that releases the hold, or a
    /// decline
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Apply the state's pending schema migrations and print each one; nothing to do is success
    Migrate(MigrateArgs),
    /// Move the state: copy this installation's SQLite state into an empty PostgreSQL database
    #[command(subcommand)]
    State(StateCommand),
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy every table of the SQLite state (`[state] path`) into the empty PostgreSQL database
    /// whose URL is in the environment variable VAR, then verify the row counts. Stop every
    /// upkeep using the SQLite state first.
    Copy {
        /// The environment variable holding the target's connection URL (never the URL itself:
        /// it may carry a password)
        #[arg(long, value_name = "VAR")]
        to_url_env: String,
    },
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Print the pending migrations and change nothing (exit 4 when there are some)
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Record that the pending KIND change of SERVER was reviewed and approved; the next sync
    /// marks the rebuild PR ready for review (if nothing else holds it)
    Approve {
        #[command(flatten)]
        review: ReviewTarget,
        /// A note, e.g. a ticket
        #[arg(long)]
        note: Option<String>,
    },
    /// Record that the pending KIND change of SERVER was declined; the next sync closes the
    /// rebuild PR with the reason, and that version is not proposed again
    Decline {
        #[command(flatten)]
        review: ReviewTarget,
        /// Why (shown on the PR and in the owners' email)
        #[arg(long)]
        reason: String,
    },
}

/// Which held review a `review` command decides, and who decided.
#[derive(Debug, Args)]
pub struct ReviewTarget {
    pub server: String,
    /// What was reviewed: `mcp` (the MCP surface) or `license`
    #[arg(long, value_enum)]
    pub kind: ReviewKindArg,
    /// Who decided (recorded and shown on the PR)
    #[arg(long)]
    pub by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReviewKindArg {
    Mcp,
    License,
}

#[derive(Debug, Subcommand)]
pub enum TagCommand {
    /// Accept the commit TAG of SERVER points at now; releases the hold its move caused
    Accept {
        server: String,
        tag: String,
        /// Who checked it (recorded)
        #[arg(long)]
        by: String,
    },
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also check that every mirror is reachable and writable with its credentials
    #[arg(long)]
    pub online: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Run now (required: upkeep syncs on a schedule only under `serve`)
    #[arg(long, required = true)]
    pub now: bool,
    /// Only this server (repeatable)
    #[arg(long = "server", value_name = "NAME")]
    pub servers: Vec<String>,
    /// Decide and report, but write nothing (no branch, PR, email or state besides the run log)
    #[arg(long)]
    pub dry_run: bool,
    /// Read every mirror and forge, even for servers whose upstream is unchanged since their
    /// last full check (e.g. to see a PR merged a minute ago)
    #[arg(long)]
    pub full: bool,
    /// Print the run report as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to build the example
    #[arg(long, default_value = "var/demo")]
    pub dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Record that the pending license change of SERVER was reviewed and approved
    Approve {
        server: String,
        /// Who approved it (recorded and shown on the PR)
        #[arg(long)]
        by: String,
        /// A note, e.g. the CELA ticket
        #[arg(long)]
        note: Option<String>,
    },
    /// Record that the pending license change of SERVER was declined: the rebuild PR is closed
    /// with a reply giving the reason, the version is never proposed again, the owners are emailed
    Decline {
        server: String,
        /// Who declined it (recorded and shown on the PR)
        #[arg(long)]
        by: String,
        /// Why (shown on the PR and in the owners' email)
        #[arg(long)]
        reason: String,
    },
    /// The review decisions (approved, declined, superseded) of SERVER, or of every server:
    /// source (cli, api, pr-comment), actor, time, note, license text, PR or comment URL
    Log {
        server: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the license files, verdict, decisions and pending change of SERVER: the change as
    /// SPDX expressions, the non-standard words, every declaration, parameters and notes
    Show {
        server: String,
        /// Also print the line diffs of files whose license changed (two different licenses,
        /// set line against line: long, and for reference only)
        #[arg(long)]
        line_diffs: bool,
    },
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub command: Option<RunsCommand>,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    /// How many runs to list
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// One run: its summary per server, or with --json its report (each server's full report
    /// while `[state] report-retention` keeps it, else its summary)
    Show {
        id: i64,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub command: Option<OutboxCommand>,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    /// Include sent emails
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Make a failed or waiting email due now and try to send it
    Retry { id: i64 },
}
