//! Fault injection into one service of one environment: proxy faults (latency, loss,
//! partitions, HTTP errors…), freezing, killing and resource stress.

use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use vers_proxy::{Fault, FaultKind};

use vers_manifest::{FaultAction, FaultError, FaultScope, FaultSpec};

use crate::branches;
use crate::environment;
use crate::error::EngineError;
use crate::progress::Progress;
use crate::stack::Stack;
use crate::state::{self, EnvRecord};
use crate::supervisor::protocol::{ChaosAction, ChaosRequest};
use crate::topology;

/// Every action `vers chaos inject --action` accepts: the manifest's chaos vocabulary (SPEC 6).
pub use vers_manifest::CHAOS_ACTIONS as ACTIONS;

/// What was injected.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Injected {
    /// Environment id.
    pub env: String,
    /// Service.
    pub service: String,
    /// Action.
    pub action: String,
    /// Ends by itself after this many milliseconds.
    pub duration_ms: Option<u64>,
    /// The checkpoint taken first (`pre-chaos-N`), to go back to with
    /// `vers chaos recover --checkpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// Default size of a volume whose service declares no `resources.storage` and whose
/// environment has no `vm.storage_mib` (4 GiB: room for a 1 GB database with its WAL).
pub const DEFAULT_VOLUME_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Default memory a `memory-stress` intensity is a share of, for a service with no
/// `resources.memory` in an environment with no `vm.memory_mib` (1 GiB).
pub const DEFAULT_MEMORY_BYTES: u64 = 1024 * 1024 * 1024;

/// Default `intensity` of `cpu-stress` and `memory-stress` (percent).
pub const DEFAULT_INTENSITY: u32 = 80;

/// Default `percentage` of `disk-fill` (percent of the volume).
pub const DEFAULT_FILL_PERCENTAGE: u32 = 95;

fn usage(msg: String) -> EngineError {
    EngineError::Manifest(msg)
}

/// The refusal of a fault, with each error's flag and help (`--rate must be …`).
fn refuse(errs: &[FaultError]) -> EngineError {
    let lines: Vec<String> = errs
        .iter()
        .map(|e| match &e.help {
            Some(h) => format!("{} {} ({h})", e.flag(), e.problem),
            None => format!("{} {}", e.flag(), e.problem),
        })
        .collect();
    usage(lines.join("; "))
}

/// The fault a request describes: its action and durations parsed, nothing checked against
/// the manifest yet.
pub fn fault_of(
    service: &str,
    action: &str,
    durations: [(&str, &Option<String>); 3],
) -> Result<FaultSpec, EngineError> {
    let action = action
        .parse::<FaultAction>()
        .map_err(|e| refuse(std::slice::from_ref(&e)))?;
    let mut spec = FaultSpec::new(service, action);
    for (flag, v) in durations {
        let Some(text) = v else { continue };
        let d = vers_manifest::parse_duration(text)
            .map_err(|e| usage(format!("--{flag} {text}: {e} (e.g. 500ms, 30s, 5m)")))?;
        match flag {
            "duration" => spec.duration = Some(d),
            "latency" => spec.latency = Some(d),
            _ => spec.jitter = Some(d),
        }
    }
    Ok(spec)
}

/// Checks a fault against the manifest (the one check of [`FaultSpec::check`]): exit 2,
/// nothing applied, when it makes no sense.
pub fn check(stack: &Stack, spec: &FaultSpec) -> Result<(), EngineError> {
    stack.require_service(&spec.service)?;
    let errs = spec.check(&stack.manifest, FaultScope::Environment);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(refuse(&errs))
    }
}

/// Checks a fault, takes the `pre-chaos-N` checkpoint of HEAD when `checkpoint` is set,
/// then applies the fault to HEAD. Nothing is applied when any part is invalid.
pub async fn inject(
    stack: &Stack,
    spec: &FaultSpec,
    checkpoint: bool,
) -> Result<Injected, EngineError> {
    check(stack, spec)?;
    let env = branches::running_head(stack)?;
    inject_into(stack, &env, spec, checkpoint).await
}

/// [`inject`] into environment `env`, the fault already checked.
async fn inject_into(
    stack: &Stack,
    env: &EnvRecord,
    spec: &FaultSpec,
    checkpoint: bool,
) -> Result<Injected, EngineError> {
    require_running(stack, env, &spec.service).await?;
    let tag = if checkpoint {
        let tag = next_checkpoint_tag(stack)?;
        branches::commit_env(
            stack,
            Some(&env.id),
            &tag,
            Some(format!("before {} on {}", spec.action, spec.service)),
            false,
        )
        .await?;
        Some(tag)
    } else {
        None
    };
    let mut done = apply(stack, env, spec).await?;
    done.checkpoint = tag;
    Ok(done)
}

/// A scenario of `chaos.scenarios` applied by `vers chaos run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioRun {
    /// Scenario name.
    pub scenario: String,
    /// Its `expect` labels.
    #[serde(default)]
    pub expect: Vec<String>,
    /// What was injected, once `after` had passed.
    pub injected: Injected,
}

/// `vers chaos run NAME`: applies scenario `name` of the manifest's `chaos.scenarios` to
/// HEAD (or environment `branch`), `after` its delay, for its `duration`.
pub async fn run_scenario(
    stack: &Stack,
    name: &str,
    branch: Option<&str>,
    checkpoint: bool,
) -> Result<ScenarioRun, EngineError> {
    let scenarios = stack
        .manifest
        .chaos
        .as_ref()
        .map(|c| c.scenarios.as_slice())
        .unwrap_or_default();
    let sc = scenarios.iter().find(|s| s.name == name).ok_or_else(|| {
        let known: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
        usage(if known.is_empty() {
            format!("no chaos scenario `{name}`: the manifest has no `chaos.scenarios`")
        } else {
            format!(
                "no chaos scenario `{name}`; the manifest has: {}",
                known.join(", ")
            )
        })
    })?;
    check(stack, &sc.inject)?;
    let env = match branch {
        None => branches::running_head(stack)?,
        Some(key) => state::read(&stack.project.state_dir)?
            .find_env(key)
            .cloned()
            .ok_or_else(|| {
                usage(format!(
                    "--branch {key}: no such environment (see `vers branch list`)"
                ))
            })?,
    };
    branches::require_running(&env)?;
    require_running(stack, &env, &sc.inject.service).await?;
    if let Some(after) = sc.inject.after {
        tokio::time::sleep(after).await;
    }
    let injected = inject_into(stack, &env, &sc.inject, checkpoint).await?;
    Ok(ScenarioRun {
        scenario: sc.name.clone(),
        expect: sc.expect.clone(),
        injected,
    })
}

/// `pre-chaos-N`, N one more than the highest handed out or taken so far in the project.
/// The number is reserved under the state lock, so concurrent injects get distinct tags.
fn next_checkpoint_tag(stack: &Stack) -> Result<String, EngineError> {
    let mut g = state::lock(&stack.project.state_dir)?;
    let taken = g
        .state
        .tags
        .keys()
        .filter_map(|t| t.strip_prefix("pre-chaos-"))
        .filter_map(|n| n.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    let n = taken.max(g.state.chaos_checkpoints) + 1;
    g.state.chaos_checkpoints = n;
    g.save()?;
    Ok(format!("pre-chaos-{n}"))
}

async fn require_running(stack: &Stack, env: &EnvRecord, service: &str) -> Result<(), EngineError> {
    let live = stack.client.envs().await?;
    let running = live
        .iter()
        .find(|e| e.id == env.id)
        .and_then(|e| e.services.iter().find(|s| s.name == service))
        .is_some_and(|s| s.state == "running");
    if running {
        Ok(())
    } else {
        Err(usage(format!(
            "service `{service}` is not running in {} (see `vers integration status`)",
            env.name
        )))
    }
}

/// Applies a checked fault to environment `env` (a test branch, or HEAD): through the proxy
/// in front of the service for network and HTTP faults, through its supervisor for the
/// others. `after` is the caller's business (it is the time to call this).
pub async fn apply(
    stack: &Stack,
    env: &EnvRecord,
    spec: &FaultSpec,
) -> Result<Injected, EngineError> {
    require_running(stack, env, &spec.service).await?;
    let placements = topology::placements(&stack.manifest);
    let mut from_addrs = Vec::new();
    for f in &spec.from {
        let p = topology::find(&placements, f)
            .ok_or_else(|| usage(format!("--from {f}: no such service")))?;
        from_addrs.extend(p.backends.iter().map(|a| std::net::IpAddr::V4(*a)));
        from_addrs.push(std::net::IpAddr::V4(p.front));
    }
    let until = spec.duration.map(|d| SystemTime::now() + d);
    let from = (!from_addrs.is_empty()).then_some(from_addrs);
    let proxy_fault = |kind: FaultKind| Fault {
        kind,
        from: from.clone(),
        until,
    };
    let fault = match spec.action {
        FaultAction::NetworkDelay => Some(proxy_fault(FaultKind::Latency {
            latency: spec
                .latency
                .ok_or_else(|| usage("--latency is required by `network-delay`".into()))?,
            jitter: spec.jitter.unwrap_or_default(),
        })),
        FaultAction::NetworkLoss => Some(proxy_fault(FaultKind::Loss {
            percent: spec.loss.unwrap_or(100.0),
        })),
        FaultAction::NetworkIsolate => Some(proxy_fault(FaultKind::Isolate)),
        FaultAction::Bandwidth => Some(proxy_fault(FaultKind::Bandwidth {
            rate_kbps: spec
                .rate
                .ok_or_else(|| usage("--rate is required by `bandwidth`".into()))?,
        })),
        FaultAction::ResetPeer => Some(proxy_fault(FaultKind::ResetPeer {
            after: Duration::ZERO,
        })),
        FaultAction::Timeout => Some(proxy_fault(FaultKind::Timeout {
            after: Duration::ZERO,
        })),
        FaultAction::HttpError => Some(proxy_fault(FaultKind::HttpError {
            status: spec.status.unwrap_or(503),
            percent: spec.percent.unwrap_or(100.0),
        })),
        _ => None,
    };
    let duration_ms = spec.duration.map(|d| d.as_millis() as u64);
    match fault {
        Some(f) => {
            stack.client.add_fault(&env.id, &spec.service, &f).await?;
        }
        None => {
            let action = process_action(stack, env, spec);
            // A commit's quiesce step would wait out its timeout on a service frozen under
            // it: a pause waits for the commit instead (see `state::lock_env`).
            let _paused = match action {
                ChaosAction::Pause => {
                    Some(state::lock_env(&stack.project.state_dir, &env.id).await?)
                }
                _ => None,
            };
            stack
                .client
                .chaos(
                    &env.id,
                    &spec.service,
                    &ChaosRequest {
                        action,
                        duration_ms,
                    },
                )
                .await?;
        }
    }
    Ok(Injected {
        env: env.id.clone(),
        service: spec.service.clone(),
        action: spec.action.to_string(),
        duration_ms,
        checkpoint: None,
    })
}

/// The supervisor's action for a fault on the service's processes, with `intensity` and
/// `percentage` turned into workers, bytes and load.
fn process_action(stack: &Stack, env: &EnvRecord, spec: &FaultSpec) -> ChaosAction {
    let intensity = spec.intensity.unwrap_or(DEFAULT_INTENSITY).min(100);
    match spec.action {
        FaultAction::Pause => ChaosAction::Pause,
        FaultAction::Kill => ChaosAction::Kill,
        FaultAction::CpuStress => ChaosAction::CpuStress {
            workers: cpu_workers(stack, &spec.service),
            load: intensity,
        },
        FaultAction::MemoryStress => ChaosAction::MemoryStress {
            bytes: memory_of(stack, &spec.service) / 100 * u64::from(intensity),
        },
        _ => {
            let pct = spec.percentage.unwrap_or(DEFAULT_FILL_PERCENTAGE).min(100);
            let size = volume_size(&stack.manifest, &spec.service);
            let dir = stack.snap.volume_path(&env.id).join(&spec.service);
            let used = disk_usage(&dir);
            let filled = size / 100 * u64::from(pct);
            ChaosAction::DiskFill {
                dir,
                bytes: filled.saturating_sub(used),
                volume: Some(stack.snap.volume_path(&env.id)),
                headroom: size.saturating_sub(used.max(filled)),
            }
        }
    }
}

/// Busy workers of `cpu-stress`: one per CPU the service may use (its `resources.cpu`
/// limit, else `vm.vcpu`, else the machine's cores).
fn cpu_workers(stack: &Stack, service: &str) -> u32 {
    let limit = stack
        .manifest
        .services
        .get(service)
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.cpu)
        .and_then(|c| c.limit.or(c.request))
        .map(|c| c.ceil() as u32);
    let vm = stack.manifest.vm.as_ref().and_then(|v| v.vcpu);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    limit.or(vm).unwrap_or(cores).clamp(1, cores.max(1))
}

/// The memory an `intensity` of `memory-stress` is a share of: the service's
/// `resources.memory` limit, else the environment's `vm.memory_mib`, else
/// [`DEFAULT_MEMORY_BYTES`].
fn memory_of(stack: &Stack, service: &str) -> u64 {
    let own = stack
        .manifest
        .services
        .get(service)
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.memory)
        .and_then(|m| m.limit.or(m.request));
    let vm = stack
        .manifest
        .vm
        .as_ref()
        .and_then(|v| v.memory_mib)
        .map(|m| m * 1024 * 1024);
    own.or(vm).unwrap_or(DEFAULT_MEMORY_BYTES)
}

/// Bytes held by the files under `dir` (what a volume already uses).
pub fn disk_usage(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// The size of a service's volume: its `resources.storage` limit, else its share of
/// `vm.storage_mib` (split evenly between the services), else [`DEFAULT_VOLUME_BYTES`].
pub fn volume_size(m: &vers_manifest::Manifest, service: &str) -> u64 {
    let own = m
        .services
        .get(service)
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.storage)
        .and_then(|s| s.limit.or(s.request));
    let share =
        m.vm.as_ref()
            .and_then(|v| v.storage_mib)
            .map(|mib| mib * 1024 * 1024 / (m.services.len().max(1) as u64));
    own.or(share).unwrap_or(DEFAULT_VOLUME_BYTES)
}

/// The size of an environment's data volume: the sum of its services' [`volume_size`]s.
/// The btrfs store enforces it with a quota on the volume (writes past it fail with
/// `EDQUOT`); `disk-fill` lowers it for the time of the fault.
pub fn environment_volume_bytes(m: &vers_manifest::Manifest) -> u64 {
    m.services.keys().map(|s| volume_size(m, s)).sum()
}

/// What `recover` ended.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Recovered {
    /// Services that had something to end (all of them after a restore).
    pub recovered: Vec<String>,
    /// The checkpoint the environment's data was restored to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// Ends faults of HEAD (all services, or one) and restarts killed services; returns the
/// services that had something to end once they are healthy again. With `checkpoint`, HEAD
/// is restored to that checkpoint instead (which ends every fault).
pub async fn recover(
    stack: &Stack,
    service: Option<&str>,
    checkpoint: Option<&str>,
    progress: &dyn Progress,
) -> Result<Recovered, EngineError> {
    let env = branches::running_head(stack)?;
    if let Some(s) = service {
        stack.require_service(s)?;
    }
    if let Some(tag) = checkpoint {
        if service.is_some() {
            return Err(usage(
                "--checkpoint restores the whole environment; drop --service".into(),
            ));
        }
        let rec = branches::resolve_checkpoint(stack, tag).map_err(|e| usage(e.to_string()))?;
        branches::rollback(stack, &rec.id, progress).await?;
        return Ok(Recovered {
            recovered: env.services.clone(),
            checkpoint: Some(tag.to_string()),
        });
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
    Ok(Recovered {
        recovered: touched,
        checkpoint: None,
    })
}

/// How long `recover` waits for a restarted or thawed service to be healthy.
const RECOVER_HEALTH_TIMEOUT: Duration = Duration::from_secs(60);

/// One fault in force in an environment, as `vers chaos list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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
        format!("{}: {}", self.service, self.effect())
    }

    /// The action and its settings, without the service (`network-delay latency=300ms`):
    /// how `status` lists a service's faults.
    pub fn effect(&self) -> String {
        let mut parts = vec![self.action.clone()];
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
    let env = branches::running_head(stack)?;
    let live = stack.client.envs().await?;
    let mut out = Vec::new();
    if let Some(e) = live.iter().find(|e| e.id == env.id) {
        for s in &e.services {
            out.extend(faults_of(s));
        }
    }
    Ok((env.id, out))
}

/// The faults acting on one running service, as `chaos list` shows them: a paused or killed
/// service, its proxy faults and its stresses.
pub fn faults_of(s: &crate::supervisor::protocol::ServiceStatus) -> Vec<ActiveFault> {
    let mut out = Vec::new();
    match s.state.as_str() {
        "paused" => out.push(ActiveFault::new(&s.name, "pause")),
        "stopped" => out.push(ActiveFault::new(&s.name, "kill")),
        _ => {}
    }
    out.extend(s.faults.iter().map(|f| proxy_fault(&s.name, &f.fault)));
    out.extend(s.stress.iter().map(|a| ActiveFault::new(&s.name, a)));
    out
}
