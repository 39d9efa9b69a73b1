//! `status`: environments, their services, health and endpoints, as the supervisor sees them.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use vers_catalog::EngineBinary;
use vers_manifest::Manifest;

use crate::checkpoint::{self, Reuse};
use crate::environment;
use crate::error::EngineError;
use crate::manifest_store;
use crate::project::Project;
use crate::stack::Stack;
use crate::state::{self, EnvRecord, EnvStatus};
use crate::supervisor::protocol::EnvState;
use crate::topology;

/// One service in the status report (SPEC 4 shape).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceReport {
    /// Service name.
    pub name: String,
    /// `postgres@15`, `stripe-mock`, or `app`.
    pub template: String,
    /// running, stopped, paused or failed.
    pub state: String,
    /// healthy, unhealthy, starting or unknown.
    pub health: String,
    /// Address inside the environment (its name resolves to it).
    pub address: String,
    /// Standard port.
    pub port: u16,
    /// Forward on the host (`127.0.0.1:PORT`).
    pub host_endpoint: Option<String>,
    /// Every forwarded port (container port -> host endpoint).
    pub host_endpoints: BTreeMap<u16, String>,
    /// Active faults, described.
    pub faults: Vec<String>,
    /// What serves it (None for app services and for engines not found).
    pub engine: Option<EngineReport>,
    /// CPU time its processes used, in microseconds (with `cpu-stress`'s workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_usec: Option<u64>,
    /// Memory its processes use, in bytes (with `memory-stress`'s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Why it failed, when it did (its processes' ends: `exit code 1: died of ENOSPC …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Bytes its volume holds (with `disk-fill`'s file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_bytes: Option<u64>,
}

/// What serves a service: the real engine, or a labelled stand-in (SPEC 8).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineReport {
    /// The version it reports (a stand-in reports the version it answers as).
    pub version: String,
    /// Where it came from: `distro (postgresql-15)`, `cache (…)`, `built in`, `PATH`.
    pub source: String,
    /// What runs: the engine itself (`postgres 15.18`) or the stand-in's implementation.
    pub implementation: String,
    /// For a stand-in, what it is compatible with and what differs; None for the real engine
    /// (and for vers's built-in mocks, which are mocks by design).
    pub stand_in: Option<String>,
}

impl EngineReport {
    /// The report of `engine`.
    pub fn of(engine: &EngineBinary) -> EngineReport {
        EngineReport {
            version: engine.version.clone(),
            source: engine.source.to_string(),
            implementation: match &engine.stand_in {
                Some(s) => s.implementation.clone(),
                None => format!("{} {}", engine.template, engine.version),
            },
            stand_in: engine.stand_in.as_ref().map(|s| s.note.clone()),
        }
    }
}

/// One environment in the status report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvReport {
    /// Environment id.
    pub id: String,
    /// Name (root, branch alias, suite/branch).
    pub name: String,
    /// Whether it is HEAD.
    pub head: bool,
    /// running, paused or stopped.
    pub status: String,
    /// Checkpoint it was forked from.
    pub parent_checkpoint: Option<String>,
    /// Whether it waits in its checkpoint's warm pool (started, not yet handed out).
    #[serde(default)]
    pub warm: bool,
    /// The deployment or preview it runs a version of (`vers deploy`), None for branches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// Services.
    pub services: Vec<ServiceReport>,
}

/// A deployment or preview in the status report, apart from the branches.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeploymentStatus {
    /// Deployment name.
    pub name: String,
    /// Whether it is a preview.
    pub preview: bool,
    /// The version that runs (or ran last).
    pub version: u32,
    /// Environment id of that version while it runs.
    pub env: Option<String>,
    /// Environment name (`deploy/NAME/vN`).
    pub env_name: Option<String>,
    /// running, paused or stopped.
    pub status: String,
    /// Host endpoint of each service (`127.0.0.1:PORT`).
    pub endpoints: BTreeMap<String, String>,
}

/// The whole status report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusReport {
    /// Environments, HEAD first.
    pub environments: Vec<EnvReport>,
    /// Snapshotter backing checkpoints and branches.
    pub snapshotter: String,
    /// Project directory.
    pub project: String,
    /// Deployments and previews (their environments are also in `environments`, marked
    /// with `deployment`).
    #[serde(default)]
    pub deployments: Vec<DeploymentStatus>,
    /// The manifest's checkpoint chain: whether `up` would reuse each checkpoint, and why
    /// (empty when an engine of the stack is missing).
    #[serde(default)]
    pub checkpoints: Vec<Reuse>,
    /// The loop-mounted snapshot store's size, free space and limit, and whether it is full
    /// (None when the store is not a loop image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<crate::store_space::StoreReport>,
    /// Things the user should know (a broken manifest on disk, a full store...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The manifest's checkpoint chain (every service, no matrix combination) and whether `up`
/// would reuse each of its checkpoints, and why.
pub fn checkpoint_reuse(stack: &Stack) -> Result<Vec<Reuse>, EngineError> {
    let services = stack.closure(&[])?;
    let ctx = stack.env_context("probe", "root", &BTreeMap::new(), BTreeMap::new());
    let engines = environment::preflight(&ctx, &services)?;
    let steps = checkpoint::chain(
        &stack.manifest,
        &services,
        &engines,
        &BTreeMap::new(),
        &stack.project.dir,
    );
    let st = state::read(&stack.project.state_dir)?;
    Ok(checkpoint::explain(
        &stack.project,
        &st,
        stack.snap.as_ref(),
        &steps,
        None,
    ))
}

/// Builds the status report, probing the health of every running service. Each environment
/// is described by the manifest it was started with (kept by `manifest_store`), so `status`
/// keeps serving running environments while the manifest on disk is being edited or broken.
pub async fn status(project: &Project) -> Result<StatusReport, EngineError> {
    let mut report = environments(project).await?;
    let (checkpoints, warnings) = checkpoint_view(project, !report.environments.is_empty()).await;
    report.checkpoints = checkpoints;
    report.warnings = warnings;
    report.store = crate::store_space::report(&project.state_dir);
    if let Some(full) = report.store.as_ref().and_then(|s| s.full.clone()) {
        report.warnings.push(full);
    }
    Ok(report)
}

/// The status report without what `up` would reuse (no checkpoints, no warnings): what the
/// daemon keeps, since checkpoint reuse depends on files and is worked out per call.
pub async fn environments(project: &Project) -> Result<StatusReport, EngineError> {
    let st = state::read(&project.state_dir)?;
    let deployed = crate::deploy::envs_of(&st);
    let mut stacks: HashMap<Option<String>, Stack> = HashMap::new();
    let mut live = None;
    let mut envs = Vec::new();
    for rec in st.envs.values() {
        let key = rec.manifest_hash.clone();
        if !stacks.contains_key(&key) {
            let manifest = manifest_of(project, key.as_deref());
            stacks.insert(key.clone(), Stack::open(project.clone(), manifest).await?);
        }
        let Some(stack) = stacks.get(&key) else {
            continue; // invariant: inserted just above
        };
        if live.is_none() {
            live = Some(stack.client.envs().await.unwrap_or_default());
        }
        let live_env = live
            .as_ref()
            .and_then(|l| l.iter().find(|e| e.id == rec.id));
        let services = service_reports(stack, rec, live_env).await;
        let status = match (rec.status, live_env) {
            (EnvStatus::Stopped, _) | (_, None) => "stopped",
            (_, Some(e)) if e.frozen => "paused",
            _ => "running",
        };
        envs.push(EnvReport {
            id: rec.id.clone(),
            name: rec.name.clone(),
            head: st.head.as_deref() == Some(rec.id.as_str()),
            status: status.to_string(),
            parent_checkpoint: rec
                .parent_checkpoint
                .as_ref()
                .and_then(|c| st.checkpoints.get(c))
                .map(|c| c.name.clone()),
            warm: rec.warm.is_some(),
            deployment: deployed.get(&rec.id).cloned(),
            services,
        });
    }
    envs.sort_by_key(|e| !e.head);
    let deployments = st
        .deployments
        .values()
        .map(|d| {
            let env = d
                .version(d.current)
                .and_then(|v| v.env.as_ref())
                .and_then(|id| envs.iter().find(|e| &e.id == id));
            DeploymentStatus {
                name: d.name.clone(),
                preview: d.preview,
                version: d.current,
                env: env.map(|e| e.id.clone()),
                env_name: env.map(|e| e.name.clone()),
                status: env
                    .map(|e| e.status.clone())
                    .unwrap_or_else(|| "stopped".into()),
                endpoints: env
                    .map(|e| {
                        e.services
                            .iter()
                            .filter_map(|s| Some((s.name.clone(), s.host_endpoint.clone()?)))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    // The store records its kind when it is made: reading that never mounts the store, so a
    // status rebuilt while `down --all` unmounts it cannot mount it again behind it.
    let snapshotter = match vers_runtime::snapshot::recorded_kind(&project.state_dir) {
        Some(kind) => kind.to_string(),
        None => crate::storage::snapshotter(project)?.kind().to_string(),
    };
    Ok(StatusReport {
        environments: envs,
        deployments,
        snapshotter,
        project: project.dir.display().to_string(),
        checkpoints: Vec::new(),
        store: None,
        warnings: Vec::new(),
    })
}

/// What `up` would reuse of the manifest on disk, and why (it depends on the project's files,
/// so it is worked out afresh for every status call); a warning instead while the manifest
/// is broken and environments run.
pub async fn checkpoint_view(project: &Project, running: bool) -> (Vec<Reuse>, Vec<String>) {
    let mut warnings = Vec::new();
    let checkpoints = match vers_manifest::load(&project.manifest_path) {
        Ok(m) => match Stack::open(project.clone(), m).await {
            Ok(stack) => checkpoint_reuse(&stack).unwrap_or_default(),
            Err(_) => Vec::new(),
        },
        Err(d) => {
            if running {
                warnings.push(format!(
                    "{} is invalid ({} error{}; `vers validate` shows them): showing the \
                     running environments with the manifest they were started with",
                    project.manifest_path.display(),
                    d.0.len(),
                    if d.0.len() == 1 { "" } else { "s" }
                ));
            }
            Vec::new()
        }
    };
    (checkpoints, warnings)
}

/// The manifest environment records with `hash` were started with; else the project's
/// manifest as it is on disk; else an empty one (services then show without a template).
fn manifest_of(project: &Project, hash: Option<&str>) -> Manifest {
    if let Some(text) = hash.and_then(|h| manifest_store::load(project, h)) {
        if let Ok(m) = vers_manifest::parse_str(&text, &project.manifest_path) {
            return m;
        }
    }
    vers_manifest::load(&project.manifest_path)
        .unwrap_or_else(|_| Manifest::empty(&project.manifest_path))
}

/// The services of environment `rec`, their health probed concurrently.
async fn service_reports(
    stack: &Stack,
    rec: &EnvRecord,
    live_env: Option<&EnvState>,
) -> Vec<ServiceReport> {
    let ctx = stack.env_context(&rec.id, &rec.name, &rec.matrix, BTreeMap::new());
    let engines = environment::preflight(&ctx, &rec.services).unwrap_or_default();
    let reports = rec.services.iter().map(|name| {
        let ctx = &ctx;
        let engines = &engines;
        async move {
            let svc = stack.manifest.services.get(name);
            let p = topology::find(&ctx.placements, name);
            let ls = live_env.and_then(|e| e.services.iter().find(|s| &s.name == name));
            let state = match (ls, live_env) {
                (Some(s), Some(e)) if e.frozen && s.state == "running" => "paused".to_string(),
                (Some(s), _) => s.state.clone(),
                (None, _) => "stopped".to_string(),
            };
            let health = if state == "running" {
                match engines.get(name) {
                    Some(engine) if environment::check_health(ctx, name, engine).await => "healthy",
                    Some(_) => "unhealthy",
                    None => "unknown",
                }
            } else {
                "unknown"
            };
            let template = match svc {
                Some(svc) => svc
                    .template
                    .as_ref()
                    .map(|t| match &t.version {
                        Some(v) => format!("{}@{v}", t.name),
                        None => t.name.clone(),
                    })
                    .unwrap_or_else(|| "app".into()),
                None => "unknown".into(),
            };
            let port = p.and_then(|p| p.ports.first().copied()).unwrap_or(0);
            let host_endpoints = ls.map(|s| s.host_endpoints.clone()).unwrap_or_default();
            ServiceReport {
                name: name.clone(),
                template,
                state,
                health: health.to_string(),
                address: p.map(|p| p.front.to_string()).unwrap_or_default(),
                port,
                host_endpoint: host_endpoints.get(&port).cloned(),
                host_endpoints,
                faults: ls
                    .map(|s| {
                        crate::chaos::faults_of(s)
                            .iter()
                            .map(crate::chaos::ActiveFault::effect)
                            .collect()
                    })
                    .unwrap_or_default(),
                engine: svc
                    .and_then(|s| s.template.as_ref())
                    .and_then(|_| engines.get(name))
                    .map(EngineReport::of),
                reason: ls
                    .filter(|s| s.state == "failed")
                    .and_then(|s| s.processes.iter().find_map(|p| p.exit.clone())),
                cpu_usec: ls.and_then(|s| s.cpu_usec),
                memory_bytes: ls.and_then(|s| s.memory_bytes),
                volume_bytes: ls
                    .map(|_| crate::chaos::disk_usage(&stack.snap.volume_path(&rec.id).join(name))),
            }
        }
    });
    futures_util::future::join_all(reports).await
}
