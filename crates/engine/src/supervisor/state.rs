//! The daemon's in-memory state: environments, their services and processes, and the error
//! type every route answers with.
//!
//! The map of environments is locked only to find, add or remove one; each environment has
//! its own lock, so a slow operation on one (starting a service, a snapshot, a probe) never
//! waits for another.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex as StdMutex};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use vers_proxy::ServiceProxy;
use vers_runtime::cgroup::Cgroup;
use vers_runtime::netns::{NetNs, NsRuntime};
use vers_runtime::snapshot::Snapshotter;
use vers_runtime::spawn::User;

use super::protocol::*;
use crate::project::Project;

/// A running process of a service.
pub(super) struct Proc {
    pub pid: i32,
    /// When it was spawned (for probes that wait for a process to settle).
    pub started: std::time::Instant,
    /// How the process ended, once it has (`None` while it runs).
    pub exit: Arc<StdMutex<Option<String>>>,
}

/// A service inside an environment.
pub(super) struct Service {
    pub spec: ServiceSpec,
    pub cgroup: Cgroup,
    pub procs: Vec<Proc>,
    pub proxies: Vec<ServiceProxy>,
    pub proxy_tasks: Vec<JoinHandle<()>>,
    /// Host forwards: (port in the environment, host address, accept task).
    pub forwards: Vec<super::forwards::Forward>,
    pub paused: bool,
    pub stopped: bool,
    /// Which pause or kill is in force: counted up by each one and by each recover, so the
    /// timer of one that has ended (recovered, or replaced) never ends a later one.
    pub process_fault: u64,
    pub faults: Vec<(u64, vers_proxy::Fault, Vec<vers_proxy::FaultId>)>,
    /// Stress and disk-fill faults in force.
    pub stresses: super::stress::Stresses,
}

/// An environment owned by the supervisor.
pub(super) struct Env {
    pub spec: EnvSpec,
    pub ns: Option<NetNs>,
    pub rt: Option<NsRuntime>,
    pub cgroup: Cgroup,
    pub services: Vec<Service>,
    /// Services being started: their names are taken while the environment is unlocked to
    /// make their pods and processes (see `services::start_service`).
    pub starting: std::collections::BTreeSet<String>,
    pub frozen: bool,
    /// The API socket this environment's own processes see (acting on it only): its server
    /// task and directory.
    pub api: Option<(JoinHandle<()>, std::path::PathBuf)>,
    /// Set once the environment is torn down, for a request that found it just before.
    pub gone: bool,
}

impl Env {
    /// The environment's spec and one of its services, by name.
    pub fn service_mut(&mut self, name: &str) -> Result<(&EnvSpec, &mut Service), ApiError> {
        let id = &self.spec.id;
        let svc = self
            .services
            .iter_mut()
            .find(|s| s.spec.name == name)
            .ok_or_else(|| not_found(&format!("service {name} in environment {id}")))?;
        Ok((&self.spec, svc))
    }
}

/// One environment behind its own lock.
pub(super) type EnvCell = Arc<Mutex<Env>>;

/// Shared daemon state.
pub(super) struct Daemon {
    pub project: Project,
    pub user: User,
    pub snap: Arc<dyn Snapshotter>,
    pub envs: Mutex<BTreeMap<String, EnvCell>>,
    pub next_fault: std::sync::atomic::AtomicU64,
    pub shutdown: tokio::sync::Notify,
    pub bus: crate::api::events::EventBus,
    /// The status report `GET /api/status` answers from.
    pub status: Arc<crate::api::status_cache::StatusCache>,
    /// Wakes the warm-pool keeper ([`crate::pool::upkeep`]).
    pub pools: Arc<tokio::sync::Notify>,
    /// The web dashboard, once `vers dashboard` asked for it.
    pub dashboard: crate::dashboard::DashboardSlot,
}

impl Daemon {
    /// The environment `id`, locked; `not found` when there is none (or it was just removed).
    pub async fn env(&self, id: &str) -> Result<tokio::sync::OwnedMutexGuard<Env>, ApiError> {
        let cell = self
            .envs
            .lock()
            .await
            .get(id)
            .cloned()
            .ok_or_else(|| not_found(&format!("environment {id}")))?;
        let env = cell.lock_owned().await;
        if env.gone {
            return Err(not_found(&format!("environment {id}")));
        }
        Ok(env)
    }
}

pub(super) type Shared = Arc<Daemon>;

/// An error answered as `{"ok":false,"error":...}` with a status code.
pub(super) struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(Reply {
                ok: false,
                error: Some(self.1),
            }),
        )
            .into_response()
    }
}

pub(super) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

pub(super) fn not_found(what: &str) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("{what} not found"))
}

pub(super) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

pub(super) fn ok() -> Json<Reply> {
    Json(Reply {
        ok: true,
        error: None,
    })
}
