use clap::Parser as _;
use tracing_subscriber::EnvFilter;

use upkeep::cli::{Cli, LogFormat};

fn main() {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_env("UPKEEP_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,upkeep=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
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
