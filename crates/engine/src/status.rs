//! `status`: environments, their services, health and endpoints, as the supervisor sees them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::environment;
use crate::error::EngineError;
use crate::stack::Stack;
use crate::state::{self, EnvStatus};
use crate::topology;

/// One service in the status report (SPEC 4 shape).
#[derive(Debug, Clone, Serialize)]
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
}

/// One environment in the status report.
#[derive(Debug, Clone, Serialize)]
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
    /// Services.
    pub services: Vec<ServiceReport>,
}

/// The whole status report.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Environments, HEAD first.
    pub environments: Vec<EnvReport>,
    /// Snapshotter backing checkpoints and branches.
    pub snapshotter: String,
    /// Project directory.
    pub project: String,
}

/// Builds the status report, probing the health of every running service.
pub async fn status(stack: &Stack) -> Result<StatusReport, EngineError> {
    let st = state::read(&stack.project.state_dir)?;
    let live = stack.client.envs().await.unwrap_or_default();
    let mut envs = Vec::new();
    for rec in st.envs.values() {
        let live_env = live.iter().find(|e| e.id == rec.id);
        let ctx = stack.env_context(&rec.id, &rec.name, &rec.matrix, BTreeMap::new());
        let engines = environment::preflight(&ctx, &rec.services).unwrap_or_default();
        let mut services = Vec::new();
        for name in &rec.services {
            let Some(svc) = stack.manifest.services.get(name) else {
                continue;
            };
            let p = topology::find(&ctx.placements, name);
            let ls = live_env.and_then(|e| e.services.iter().find(|s| &s.name == name));
            let state = match (ls, live_env) {
                (Some(s), Some(e)) if e.frozen && s.state == "running" => "paused".to_string(),
                (Some(s), _) => s.state.clone(),
                (None, _) => "stopped".to_string(),
            };
            let health = if state == "running" {
                match engines.get(name) {
                    Some(engine) if environment::check_health(&ctx, name, engine).await => {
                        "healthy"
                    }
                    Some(_) => "unhealthy",
                    None => "unknown",
                }
            } else {
                "unknown"
            };
            let template = svc
                .template
                .as_ref()
                .map(|t| match &t.version {
                    Some(v) => format!("{}@{v}", t.name),
                    None => t.name.clone(),
                })
                .unwrap_or_else(|| "app".into());
            let port = p.and_then(|p| p.ports.first().copied()).unwrap_or(0);
            let host_endpoints = ls.map(|s| s.host_endpoints.clone()).unwrap_or_default();
            services.push(ServiceReport {
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
                        s.faults
                            .iter()
                            .map(|f| format!("{:?}", f.fault.kind))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
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
            services,
        });
    }
    envs.sort_by_key(|e| !e.head);
    Ok(StatusReport {
        environments: envs,
        snapshotter: stack.snap.kind().to_string(),
        project: stack.project.dir.display().to_string(),
    })
}
