//! `herald-app`: the wiring every Herald binary shares.
//!
//! Settings (file + env + flags), tracing, choice of backends (sled today), admin key
//! bootstrap, signal handling and the composition of API and delivery engine into one
//! process. Binaries call [`main_herald`] or [`main_role`] and stay a few lines long.
//! Logic lives in the library crates; this crate only connects them.
#![warn(missing_docs)]
#![allow(clippy::print_stdout)] // The CLI prints its results (demo, generated admin key).

mod admin;
pub mod cli;
mod demo;
mod serve;
mod settings;

use std::process::ExitCode;

use clap::Parser;

pub use serve::{build_deps, run_serve, shutdown_signal, Components};
pub use settings::Settings;

/// Sets up logging to stderr at `level` (`info`, `debug`, ...).
pub fn init_tracing(level: &str) {
    let level = level
        .parse::<tracing::Level>()
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// A multi-threaded tokio runtime sized for the machine.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Entry point of the `herald` binary.
pub fn main_herald() -> ExitCode {
    let cli = cli::HeraldCli::parse();
    report(run_herald(cli))
}

fn run_herald(cli: cli::HeraldCli) -> anyhow::Result<()> {
    match cli.command {
        cli::HeraldCommand::Demo => {
            init_tracing("warn");
            runtime()?.block_on(demo::run_demo())
        }
        cli::HeraldCommand::Serve => {
            let settings = Settings::load(&cli.global)?;
            init_tracing(&settings.log);
            runtime()?.block_on(run_serve(settings, shutdown_signal()))
        }
        cli::HeraldCommand::CheckConfig => {
            let settings = Settings::load(&cli.global)?;
            print!("{}", settings.to_toml());
            Ok(())
        }
    }
}

/// Entry point of `herald-api` and `herald-worker`, which need a shared store.
pub fn main_role(role: &str) -> ExitCode {
    let cli = cli::RoleCli::parse();
    report(run_role(role, cli))
}

fn run_role(role: &str, cli: cli::RoleCli) -> anyhow::Result<()> {
    let settings = Settings::load(&cli.global)?;
    init_tracing(&settings.log);
    // sled is single-process: API and worker must share one process, which is `herald
    // serve`. Separate roles need the PostgreSQL store, which this build does not have.
    anyhow::bail!(
        "{role} runs against a shared store (--postgres-url), which this build does not \
         support yet; with the embedded sled store run `herald serve`, which runs the API \
         and the delivery worker in one process"
    )
}
