//! `vers chaos inject|recover|list`.

use std::path::Path;

use vers_engine::api::client::Method;
use vers_engine::api::requests::{ChaosInjectRequest, ChaosRecoverRequest, ChaosRunRequest};
use vers_engine::chaos::{ActiveFault, Injected, Recovered, ScenarioRun};
use vers_engine::progress::Silent;

use crate::args::ChaosCommand;
use crate::context;
use crate::exit::Exit;

fn check_duration(flag: &str, v: &Option<String>) -> Result<(), Exit> {
    match v {
        None => Ok(()),
        Some(s) => vers_manifest::parse_duration(s)
            .map(|_| ())
            .map_err(|e| Exit::usage(format!("error: {flag} {s}: {e} (e.g. 500ms, 30s, 5m)"))),
    }
}

/// One JSON document of a result.
fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Exit> {
    serde_json::to_string(value).map_err(|e| Exit::failure(format!("rendering JSON: {e}")))
}

/// Runs a chaos command on HEAD (`VERS_ENV` inside a branch).
pub async fn run(file: Option<&Path>, cmd: ChaosCommand) -> Result<i32, Exit> {
    match cmd {
        ChaosCommand::Inject(a) => {
            check_duration("--duration", &a.duration)?;
            check_duration("--latency", &a.latency)?;
            check_duration("--jitter", &a.jitter)?;
            let req = ChaosInjectRequest {
                duration: a.duration,
                latency: a.latency,
                jitter: a.jitter,
                service: a.service,
                action: a.action,
                loss: a.loss,
                rate: a.rate,
                status: a.status,
                percent: a.percent,
                from: a.from,
                intensity: a.intensity,
                percentage: a.percentage,
                no_checkpoint: a.no_checkpoint,
            };
            let api = context::validated_api(file).await?;
            let done: Injected = api
                .call_as(Method::POST, "/api/chaos/inject", Some(&req), &Silent)
                .await?;
            if a.json {
                println!("{}", to_json(&done)?);
            } else {
                println!("{}", describe_injected(&done));
            }
            Ok(0)
        }
        ChaosCommand::Recover {
            service,
            checkpoint,
            json,
        } => {
            let api = context::validated_api(file).await?;
            let req = ChaosRecoverRequest {
                service,
                checkpoint,
            };
            let done: Recovered = api
                .call_as(Method::POST, "/api/chaos/recover", Some(&req), &Silent)
                .await?;
            if json {
                println!("{}", to_json(&done)?);
                return Ok(0);
            }
            let what = if done.recovered.is_empty() {
                "nothing".into()
            } else {
                done.recovered.join(", ")
            };
            match &done.checkpoint {
                Some(tag) => println!("restored {tag}: recovered {what}"),
                None => println!("recovered {what}"),
            }
            Ok(0)
        }
        ChaosCommand::Run {
            name,
            branch,
            no_checkpoint,
            json,
        } => {
            let api = context::validated_api(file).await?;
            let req = ChaosRunRequest {
                name,
                branch,
                no_checkpoint,
            };
            let done: ScenarioRun = api
                .call_as(Method::POST, "/api/chaos/run", Some(&req), &Silent)
                .await?;
            if json {
                let text = serde_json::to_string(&done)
                    .map_err(|e| Exit::failure(format!("encoding the result: {e}")))?;
                println!("{text}");
            } else {
                println!(
                    "scenario {}: {}",
                    done.scenario,
                    describe_injected(&done.injected)
                );
                if !done.expect.is_empty() {
                    println!("expect: {}", done.expect.join(", "));
                }
            }
            Ok(0)
        }
        ChaosCommand::List(a) => {
            let api = context::validated_api(file).await?;
            let answer = api
                .call::<()>(Method::GET, "/api/chaos", None, &Silent)
                .await?;
            let env = answer["environment"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let active: Vec<ActiveFault> = serde_json::from_value(answer["faults"].clone())
                .map_err(|e| Exit::failure(format!("decoding the faults: {e}")))?;
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

/// One line for an injection: `injected pause into redis (env) for 3s; checkpoint pre-chaos-1`.
fn describe_injected(done: &Injected) -> String {
    let until = done
        .duration_ms
        .map(|ms| {
            format!(
                " for {}",
                crate::output::human(std::time::Duration::from_millis(ms))
            )
        })
        .unwrap_or_else(|| "; end it with `vers chaos recover`".into());
    let ckpt = done
        .checkpoint
        .as_ref()
        .map(|t| {
            format!(" (checkpoint {t}: `vers chaos recover --checkpoint {t}` restores the data)")
        })
        .unwrap_or_default();
    format!(
        "injected {} into {} ({}){until}{ckpt}",
        done.action, done.service, done.env
    )
}

/// Keeps one CPU busy `load` percent of each 100 ms period, until killed.
pub fn burn_cpu(load: u32) -> Result<i32, Exit> {
    let period = std::time::Duration::from_millis(100);
    let busy = period * load.min(100) / 100;
    loop {
        let start = std::time::Instant::now();
        while start.elapsed() < busy {
            std::hint::black_box(start.elapsed());
        }
        std::thread::sleep(period.saturating_sub(start.elapsed()));
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
