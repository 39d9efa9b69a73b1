//! `vers chaos inject|recover|list`.

use std::path::Path;

use vers_engine::chaos::{self, Injection};

use crate::args::ChaosCommand;
use crate::context;
use crate::exit::Exit;

fn duration(flag: &str, v: &Option<String>) -> Result<Option<std::time::Duration>, Exit> {
    match v {
        None => Ok(None),
        Some(s) => vers_manifest::parse_duration(s)
            .map(Some)
            .map_err(|e| Exit::usage(format!("error: {flag} {s}: {e} (e.g. 500ms, 30s, 5m)"))),
    }
}

/// Runs a chaos command on HEAD (`VERS_ENV` inside a branch).
pub async fn run(file: Option<&Path>, cmd: ChaosCommand) -> Result<i32, Exit> {
    match cmd {
        ChaosCommand::Inject(a) => {
            let inj = Injection {
                duration: duration("--duration", &a.duration)?,
                latency: duration("--latency", &a.latency)?,
                jitter: duration("--jitter", &a.jitter)?,
                service: a.service,
                action: a.action,
                loss: a.loss,
                rate: a.rate,
                status: a.status,
                percent: a.percent,
                from: a.from,
            };
            let stack = context::stack(file).await?;
            let done = chaos::inject(&stack, &inj).await?;
            println!(
                "injected {} into {} ({}){}",
                done.action,
                done.service,
                done.env,
                done.duration_ms
                    .map(|ms| format!(
                        " for {}",
                        crate::output::human(std::time::Duration::from_millis(ms))
                    ))
                    .unwrap_or_else(|| "; end it with `vers chaos recover`".into())
            );
            Ok(0)
        }
        ChaosCommand::Recover { service } => {
            let stack = context::stack(file).await?;
            let touched = chaos::recover(&stack, service.as_deref()).await?;
            println!(
                "recovered {}",
                if touched.is_empty() {
                    "nothing".into()
                } else {
                    touched.join(", ")
                }
            );
            Ok(0)
        }
        ChaosCommand::List(a) => {
            let stack = context::stack(file).await?;
            let (env, active) = chaos::list(&stack).await?;
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"environment": env, "faults": active})
                );
            } else if active.is_empty() {
                println!("no active faults in {env}");
            } else {
                for f in &active {
                    println!("{}", f.describe());
                }
            }
            Ok(0)
        }
    }
}

/// Allocates and touches `bytes` of memory, then sleeps until killed.
pub async fn hold_memory(bytes: u64) -> Result<i32, Exit> {
    let mut v: Vec<u8> = Vec::new();
    v.try_reserve_exact(bytes as usize)
        .map_err(|e| Exit::failure(e.to_string()))?;
    v.resize(bytes as usize, 1);
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        std::hint::black_box(&v);
    }
}
