//! Fault injection into one service of one environment: proxy faults (latency, loss,
//! partitions, HTTP errors…), freezing, killing and resource stress.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use vers_proxy::{Fault, FaultKind};

use crate::branches;
use crate::error::EngineError;
use crate::stack::Stack;
use crate::supervisor::protocol::{ChaosAction, ChaosRequest};
use crate::topology;

/// Every action `vers chaos inject --action` accepts.
pub const ACTIONS: &[&str] = &[
    "pause",
    "kill",
    "network-delay",
    "network-loss",
    "network-isolate",
    "bandwidth",
    "reset-peer",
    "timeout",
    "http-error",
    "cpu-stress",
    "memory-stress",
    "disk-fill",
];

/// A fault request as the CLI parsed it.
#[derive(Debug, Clone, Default)]
pub struct Injection {
    /// Target service.
    pub service: String,
    /// Action name (one of `ACTIONS`).
    pub action: String,
    /// Ends the fault by itself.
    pub duration: Option<Duration>,
    /// Added latency.
    pub latency: Option<Duration>,
    /// Latency jitter.
    pub jitter: Option<Duration>,
    /// Loss percentage.
    pub loss: Option<f64>,
    /// Bandwidth in KB/s.
    pub rate: Option<u64>,
    /// HTTP status.
    pub status: Option<u16>,
    /// Share of requests, percent.
    pub percent: Option<f64>,
    /// Only traffic from these services.
    pub from: Vec<String>,
}

/// What was injected.
#[derive(Debug, Clone, Serialize)]
pub struct Injected {
    /// Environment id.
    pub env: String,
    /// Service.
    pub service: String,
    /// Action.
    pub action: String,
    /// Ends by itself after this many milliseconds.
    pub duration_ms: Option<u64>,
}

fn usage(msg: String) -> EngineError {
    EngineError::Manifest(msg)
}

/// Checks an injection against the manifest and HEAD, then applies it. Nothing is applied
/// when any part is invalid.
pub async fn inject(stack: &Stack, inj: &Injection) -> Result<Injected, EngineError> {
    if !ACTIONS.contains(&inj.action.as_str()) {
        return Err(usage(format!(
            "unknown action `{}`; actions: {}",
            inj.action,
            ACTIONS.join(", ")
        )));
    }
    let env = branches::head(stack)?;
    if !stack.manifest.services.contains_key(&inj.service) {
        return Err(usage(format!(
            "unknown service `{}`; services: {}",
            inj.service,
            stack
                .manifest
                .services
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let live = stack.client.envs().await?;
    let running = live
        .iter()
        .find(|e| e.id == env.id)
        .and_then(|e| e.services.iter().find(|s| s.name == inj.service))
        .is_some_and(|s| s.state == "running");
    if !running {
        return Err(usage(format!(
            "service `{}` is not running in {} (see `vers integration status`)",
            inj.service, env.name
        )));
    }
    let placements = topology::placements(&stack.manifest);
    let mut from_addrs = Vec::new();
    for f in &inj.from {
        let p = topology::find(&placements, f)
            .ok_or_else(|| usage(format!("--from {f}: no such service")))?;
        from_addrs.extend(p.backends.iter().map(|a| std::net::IpAddr::V4(*a)));
        from_addrs.push(std::net::IpAddr::V4(p.front));
    }
    let until = inj.duration.map(|d| SystemTime::now() + d);
    let from = (!from_addrs.is_empty()).then_some(from_addrs);
    let proxy_fault = |kind: FaultKind| Fault {
        kind,
        from: from.clone(),
        until,
    };
    let need = |v: Option<Duration>, flag: &str| {
        v.ok_or_else(|| usage(format!("--action {} needs {flag}", inj.action)))
    };
    let fault = match inj.action.as_str() {
        "network-delay" => Some(proxy_fault(FaultKind::Latency {
            latency: need(inj.latency, "--latency (e.g. 500ms)")?,
            jitter: inj.jitter.unwrap_or_default(),
        })),
        "network-loss" => Some(proxy_fault(FaultKind::Loss {
            percent: inj.loss.unwrap_or(100.0).clamp(0.0, 100.0),
        })),
        "network-isolate" => Some(proxy_fault(FaultKind::Isolate)),
        "bandwidth" => Some(proxy_fault(FaultKind::Bandwidth {
            rate_kbps: inj
                .rate
                .ok_or_else(|| usage("--action bandwidth needs --rate KBPS".into()))?,
        })),
        "reset-peer" => Some(proxy_fault(FaultKind::ResetPeer {
            after: Duration::ZERO,
        })),
        "timeout" => Some(proxy_fault(FaultKind::Timeout {
            after: Duration::ZERO,
        })),
        "http-error" => Some(proxy_fault(FaultKind::HttpError {
            status: inj.status.unwrap_or(503),
            percent: inj.percent.unwrap_or(100.0).clamp(0.0, 100.0),
        })),
        _ => None,
    };
    let duration_ms = inj.duration.map(|d| d.as_millis() as u64);
    match fault {
        Some(f) => {
            stack.client.add_fault(&env.id, &inj.service, &f).await?;
        }
        None => {
            let action = match inj.action.as_str() {
                "pause" => ChaosAction::Pause,
                "kill" => ChaosAction::Kill,
                "cpu-stress" => ChaosAction::CpuStress { workers: 2 },
                "memory-stress" => ChaosAction::MemoryStress {
                    bytes: 256 * 1024 * 1024,
                },
                _ => ChaosAction::DiskFill {
                    dir: stack.snap.volume_path(&env.id).join(&inj.service),
                    bytes: 512 * 1024 * 1024,
                },
            };
            stack
                .client
                .chaos(
                    &env.id,
                    &inj.service,
                    &ChaosRequest {
                        action,
                        duration_ms,
                    },
                )
                .await?;
        }
    }
    Ok(Injected {
        env: env.id,
        service: inj.service.clone(),
        action: inj.action.clone(),
        duration_ms,
    })
}

/// Ends faults of HEAD (all services, or one) and restarts killed services.
pub async fn recover(stack: &Stack, service: Option<&str>) -> Result<Vec<String>, EngineError> {
    let env = branches::head(stack)?;
    if let Some(s) = service {
        if !stack.manifest.services.contains_key(s) {
            return Err(usage(format!("unknown service `{s}`")));
        }
    }
    stack.client.recover(&env.id, service).await
}
