//! Fault injection into one service of one environment: proxy faults (latency, loss,
//! partitions, HTTP errors…), freezing, killing and resource stress.

use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use vers_proxy::{Fault, FaultKind};

use crate::branches;
use crate::environment;
use crate::error::EngineError;
use crate::stack::Stack;
use crate::supervisor::protocol::{ChaosAction, ChaosRequest};
use crate::topology;

/// Every action `vers chaos inject --action` accepts: the manifest's chaos vocabulary (SPEC 6).
pub use vers_manifest::CHAOS_ACTIONS as ACTIONS;

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

/// Refuses percentages outside 0–100 and status codes that are not HTTP statuses.
fn check_ranges(inj: &Injection) -> Result<(), EngineError> {
    for (flag, v) in [("--loss", inj.loss), ("--percent", inj.percent)] {
        if let Some(v) = v {
            if !(0.0..=100.0).contains(&v) {
                return Err(usage(format!(
                    "{flag} {v}: expected a percentage from 0 to 100"
                )));
            }
        }
    }
    if let Some(s) = inj.status {
        if !(100..=599).contains(&s) {
            return Err(usage(format!(
                "--status {s}: expected an HTTP status from 100 to 599 (e.g. 503, 429)"
            )));
        }
    }
    Ok(())
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
    check_ranges(inj)?;
    let env = branches::head(stack)?;
    stack.require_service(&inj.service)?;
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
            percent: inj.loss.unwrap_or(100.0),
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
            percent: inj.percent.unwrap_or(100.0),
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

/// Ends faults of HEAD (all services, or one) and restarts killed services; returns the
/// services that had something to end once they are healthy again.
pub async fn recover(stack: &Stack, service: Option<&str>) -> Result<Vec<String>, EngineError> {
    let env = branches::head(stack)?;
    if let Some(s) = service {
        stack.require_service(s)?;
    }
    let touched = stack.client.recover(&env.id, service).await?;
    let ctx = stack.env_context(&env.id, &env.name, &env.matrix, Default::default());
    let engines = environment::preflight(&ctx, &touched)?;
    let deadline = Instant::now() + RECOVER_HEALTH_TIMEOUT;
    for name in &touched {
        let Some(engine) = engines.get(name) else {
            continue;
        };
        while !environment::check_health(&ctx, name, engine).await {
            if Instant::now() > deadline {
                return Err(EngineError::Failed(format!(
                    "{name} was recovered but is not healthy after {}s; see `vers integration logs {name}`",
                    RECOVER_HEALTH_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(touched)
}

/// How long `recover` waits for a restarted or thawed service to be healthy.
const RECOVER_HEALTH_TIMEOUT: Duration = Duration::from_secs(60);

/// One fault in force in an environment, as `vers chaos list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ActiveFault {
    /// Service the fault acts on.
    pub service: String,
    /// The `--action` that made it.
    pub action: String,
    /// Added latency (network-delay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Latency jitter (network-delay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<u64>,
    /// Share of connections or requests affected (network-loss, http-error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// HTTP status answered (http-error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Bandwidth cap in KB/s (bandwidth).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_kbps: Option<u64>,
    /// Only traffic from these addresses is affected.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<String>,
    /// Time left before the fault ends by itself (proxy faults with `--duration`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_ms: Option<u64>,
}

impl ActiveFault {
    fn new(service: &str, action: &str) -> ActiveFault {
        ActiveFault {
            service: service.to_string(),
            action: action.to_string(),
            latency_ms: None,
            jitter_ms: None,
            percent: None,
            status: None,
            rate_kbps: None,
            from: Vec::new(),
            remaining_ms: None,
        }
    }

    /// One line for humans: `redis: network-delay latency=400ms`.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{}: {}", self.service, self.action)];
        if let Some(v) = self.latency_ms {
            parts.push(format!("latency={v}ms"));
        }
        if let Some(v) = self.jitter_ms.filter(|j| *j > 0) {
            parts.push(format!("jitter={v}ms"));
        }
        if let Some(v) = self.status {
            parts.push(format!("status={v}"));
        }
        if let Some(v) = self.percent {
            parts.push(format!("percent={v}"));
        }
        if let Some(v) = self.rate_kbps {
            parts.push(format!("rate={v}KB/s"));
        }
        if !self.from.is_empty() {
            parts.push(format!("from={}", self.from.join(",")));
        }
        if let Some(v) = self.remaining_ms {
            parts.push(format!("ends in {:.1}s", v as f64 / 1000.0));
        }
        parts.join(" ")
    }
}

fn proxy_fault(service: &str, f: &Fault) -> ActiveFault {
    let action = match &f.kind {
        FaultKind::Latency { .. } => "network-delay",
        FaultKind::Loss { .. } => "network-loss",
        FaultKind::Isolate | FaultKind::Down => "network-isolate",
        FaultKind::Bandwidth { .. } => "bandwidth",
        FaultKind::ResetPeer { .. } => "reset-peer",
        FaultKind::HttpError { .. } => "http-error",
        FaultKind::Timeout { .. }
        | FaultKind::SlowClose { .. }
        | FaultKind::Slicer { .. }
        | FaultKind::LimitData { .. } => "timeout",
    };
    let mut out = ActiveFault::new(service, action);
    match &f.kind {
        FaultKind::Latency { latency, jitter } => {
            out.latency_ms = Some(latency.as_millis() as u64);
            out.jitter_ms = Some(jitter.as_millis() as u64);
        }
        FaultKind::Loss { percent } => out.percent = Some(*percent),
        FaultKind::Bandwidth { rate_kbps } => out.rate_kbps = Some(*rate_kbps),
        FaultKind::HttpError { status, percent } => {
            out.status = Some(*status);
            out.percent = Some(*percent);
        }
        _ => {}
    }
    out.from = f
        .from
        .iter()
        .flatten()
        .map(std::net::IpAddr::to_string)
        .collect();
    out.remaining_ms = f.until.map(|u| {
        u.duration_since(SystemTime::now())
            .unwrap_or_default()
            .as_millis() as u64
    });
    out
}

/// The faults in force in HEAD: proxy faults, paused and killed services.
pub async fn list(stack: &Stack) -> Result<(String, Vec<ActiveFault>), EngineError> {
    let env = branches::head(stack)?;
    let live = stack.client.envs().await?;
    let mut out = Vec::new();
    if let Some(e) = live.iter().find(|e| e.id == env.id) {
        for s in &e.services {
            match s.state.as_str() {
                "paused" => out.push(ActiveFault::new(&s.name, "pause")),
                "stopped" => out.push(ActiveFault::new(&s.name, "kill")),
                _ => {}
            }
            out.extend(s.faults.iter().map(|f| proxy_fault(&s.name, &f.fault)));
        }
    }
    Ok((env.id, out))
}
