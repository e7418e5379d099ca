//! `chatzz`: runs chatzz standalone, serving the Socket.IO protocol, a health check and
//! a demo chat page on one address.

mod app;
mod cli;
mod congestion;
mod demo;
mod metrics;
mod serve;

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = cli::Args::parse();
    match app::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("chatzz: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
