use std::io::IsTerminal as _;

use clap::Parser as _;
use tracing_subscriber::EnvFilter;

use upkeep::cli::{Cli, LogFormat};

fn main() {
    let cli = Cli::parse();
    // A stalled upstream must not hang a run: libgit2 has no timeouts by default. They are
    // process-global, so they come from the environment rather than the (reloadable) config.
    let connect_ms = git_timeout_ms("UPKEEP_GIT_CONNECT_TIMEOUT", 30_000);
    let io_ms = git_timeout_ms("UPKEEP_GIT_IO_TIMEOUT", 120_000);
    // SAFETY: these set process-global libgit2 options; called once, before any thread exists
    // and before any git operation.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(connect_ms);
        let _ = git2::opts::set_server_timeout_in_milliseconds(io_ms);
    }
    let filter = EnvFilter::try_from_env("UPKEEP_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,upkeep=info"));
    // Colour codes only for a terminal: piped into `docker logs`, journald or a file they are
    // noise. NO_COLOR (https://no-color.org) turns them off in a terminal too.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        // Text lines quote upstream text (errors, license lines): shown escaped, as on stdout.
        LogFormat::Text => builder.fmt_fields(upkeep::term::log_fields()).init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(upkeep::app::run(cli));
    std::process::exit(code);
}

/// A libgit2 timeout in milliseconds from `var` (a duration such as "30s"), or `default_ms`.
/// A value that is not a positive duration is a configuration error (exit 2).
fn git_timeout_ms(var: &str, default_ms: i32) -> i32 {
    let Ok(value) = std::env::var(var) else {
        return default_ms;
    };
    humantime::parse_duration(value.trim())
        .ok()
        .and_then(|d| i32::try_from(d.as_millis()).ok())
        .filter(|ms| *ms > 0)
        .unwrap_or_else(|| {
            eprintln!("error: {var}={value:?} is not a positive duration such as \"30s\"");
            std::process::exit(upkeep::exit::CONFIG);
        })
}
