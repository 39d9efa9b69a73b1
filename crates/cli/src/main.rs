//! `vers`: bring up a stack from `vers-integration.yaml`, checkpoint it, and run every test
//! scenario on its own copy-on-write branch.

mod args;
mod commands;
mod context;
mod exit;
mod output;

use clap::Parser;

use crate::args::{Cli, TopCommand};
use crate::exit::Exit;

fn main() {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let (code, msg) = e.render();
            if !msg.is_empty() {
                eprintln!("{msg}");
            }
            code
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> Result<i32, Exit> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(4)
        .build()
        .map_err(|e| Exit::failure(format!("starting the async runtime: {e}")))?;
    rt.block_on(async move {
        let file = cli.file.clone();
        match cli.command {
            TopCommand::Integration(cmd) | TopCommand::Alias(cmd) => {
                commands::dispatch(file.as_deref(), cmd).await
            }
            TopCommand::Engines(cmd) => commands::engines::run(cmd).await,
            TopCommand::Daemon(args) => commands::daemon::run(args).await,
            TopCommand::Mock(cmd) => commands::mock::run(cmd).await,
            TopCommand::StressMemory { bytes } => commands::chaos::hold_memory(bytes).await,
        }
    })
}
