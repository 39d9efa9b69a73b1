//! `vers`: bring up a stack from `vers-integration.yaml`, checkpoint it, and run every test
//! scenario on its own copy-on-write branch.

mod args;
mod commands;
mod context;
mod exit;
mod mcp;
mod output;

use clap::Parser;

use crate::args::{Cli, TopCommand};
use crate::exit::Exit;

fn main() {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    pass_env(&cli.pass_env);
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let (code, msg, json) = e.render();
            if let Some(doc) = json.filter(|_| std::env::args().any(|a| a == "--json")) {
                println!("{doc}");
            }
            if !msg.is_empty() {
                eprintln!("{msg}");
            }
            code
        }
    };
    std::process::exit(code);
}

/// `vers status | head`: once the reader of stdout (or of stderr, `2>&1 | head`) is gone,
/// printing fails with a broken pipe (Rust ignores SIGPIPE, so `println!` panics). Exit then as a program killed by
/// SIGPIPE would (status 141), silently; every other panic keeps the default report.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        let printing = text.contains("failed printing to stdout")
            || text.contains("failed printing to stderr");
        if printing && text.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// `--pass-env VAR`: adds VAR to `VERS_PASS_ENV`, which travels with the caller's
/// environment to the daemon's worker, where the commands of environments are built.
fn pass_env(names: &[String]) {
    if names.is_empty() {
        return;
    }
    let var = vers_engine::exec::PASS_ENV_VAR;
    let mut all: Vec<String> = std::env::var(var)
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    all.extend(names.iter().cloned());
    // Still single-threaded: the async runtime starts after this.
    std::env::set_var(var, all.join(","));
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
            TopCommand::Mcp => mcp::serve(file.as_deref()).await,
            TopCommand::Worker => Ok(vers_engine::api::worker::main().await),
            TopCommand::Mock(cmd) => commands::mock::run(cmd).await,
            TopCommand::StressMemory { bytes } => commands::chaos::hold_memory(bytes).await,
            TopCommand::StressCpu { load } => commands::chaos::burn_cpu(load),
        }
    })
}
