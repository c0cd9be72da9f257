use std::io::IsTerminal as _;

use clap::Parser as _;
use tracing_subscriber::EnvFilter;

use upkeep::cli::{Cli, LogFormat};

fn main() {
    let cli = Cli::parse();
    // A stalled upstream must not hang a run: libgit2 has no timeouts by default.
    // SAFETY: these set process-global libgit2 options; called once, before any thread exists
    // and before any git operation.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(30_000);
        let _ = git2::opts::set_server_timeout_in_milliseconds(120_000);
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
        LogFormat::Text => builder.init(),
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
