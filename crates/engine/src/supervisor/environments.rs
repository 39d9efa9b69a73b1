//! Environment routes: create one (its network namespace, cgroup and private API socket),
//! list, freeze, thaw, snapshot and delete.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use vers_runtime::cgroup::Cgroup;
use vers_runtime::netns::{NetNs, NsRuntime};

use super::protocol::*;
use super::services::{delete_pods, service_status, teardown_service};
use super::state::*;

pub(super) fn env_state(e: &Env) -> EnvState {
    EnvState {
        id: e.spec.id.clone(),
        netns: e.spec.netns.clone(),
        frozen: e.frozen,
        services: e.services.iter().map(service_status).collect(),
    }
}

pub(super) async fn list_envs(State(d): State<Shared>) -> Json<Vec<EnvState>> {
    let cells: Vec<EnvCell> = d.envs.lock().await.values().cloned().collect();
    let mut states = Vec::with_capacity(cells.len());
    for cell in cells {
        let env = cell.lock().await;
        if !env.gone {
            states.push(env_state(&env));
        }
    }
    Json(states)
}

pub(super) async fn create_env(
    State(d): State<Shared>,
    Json(spec): Json<EnvSpec>,
) -> Result<Json<EnvState>, ApiError> {
    // The map stays locked while the namespace is made (milliseconds), so two requests for
    // one id cannot both create it.
    let mut envs = d.envs.lock().await;
    if envs.contains_key(&spec.id) {
        return Err(bad(format!("environment {} already exists", spec.id)));
    }
    // A namespace left by a crashed supervisor is removed before reuse.
    let _ = vers_runtime::netns::delete_netns(&spec.netns);
    let ns = NetNs::create(&spec.netns).map_err(internal)?;
    if let Err(e) = vers_runtime::pod::make_fronts_local(&spec.netns, &spec.front_net) {
        let _ = ns.delete();
        return Err(internal(e));
    }
    let hosts: Vec<(String, std::net::IpAddr)> = spec
        .hosts
        .iter()
        .map(|(h, a)| (h.clone(), std::net::IpAddr::V4(*a)))
        .collect();
    if let Err(e) = ns.write_hosts(&hosts) {
        let _ = ns.delete();
        return Err(internal(e));
    }
    let rt = match NsRuntime::start(&ns) {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ns.delete();
            return Err(internal(e));
        }
    };
    let cgroup = match Cgroup::create(&spec.cgroup) {
        Ok(c) => c,
        Err(e) => {
            rt.shutdown();
            let _ = ns.delete();
            return Err(internal(e));
        }
    };
    if let Some(m) = spec.memory_limit {
        let _ = cgroup.set_memory_limit(m);
    }
    if let Some(c) = spec.cpu_limit {
        let _ = cgroup.set_cpu_limit(c);
    }
    let api = match serve_env_api(&d, &spec.id) {
        Ok(task) => Some((task, d.project.env_api_dir(&spec.id))),
        Err(e) => {
            tracing::warn!("the API socket of environment {}: {e}", spec.id);
            None
        }
    };
    let env = Env {
        spec: spec.clone(),
        ns: Some(ns),
        rt: Some(rt),
        cgroup,
        services: Vec::new(),
        starting: Default::default(),
        frozen: false,
        api,
        gone: false,
    };
    let state = env_state(&env);
    envs.insert(spec.id.clone(), Arc::new(Mutex::new(env)));
    Ok(Json(state))
}

/// Serves the API to one environment's processes on `/run/vers/<key>/envs/<id>/api.sock`,
/// which they see in place of the daemon's socket (bind-mounted over its directory): requests
/// there act on that environment only, and those that would reach beyond it are refused.
fn serve_env_api(d: &Shared, env_id: &str) -> std::io::Result<JoinHandle<()>> {
    let dir = d.project.env_api_dir(env_id);
    let listener = super::access::bind_private(&dir.join("api.sock"))?;
    let listener =
        super::access::PeerChecked::new(listener, super::access::allowed_uids(&d.project));
    let app = Router::new()
        .route("/v1/ping", get(super::server::ping))
        .merge(crate::api::routes::router(Arc::new(
            crate::api::ops::ApiState {
                project: d.project.clone(),
                bus: d.bus.clone(),
                status: d.status.clone(),
                scope: Some(env_id.to_string()),
            },
        )));
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

/// Stops every process of an environment and removes its namespaces, cgroups and API socket.
pub(super) async fn teardown_env(env: &mut Env) {
    env.gone = true;
    if let Some((api, dir)) = env.api.take() {
        api.abort();
        let _ = std::fs::remove_dir_all(dir);
    }
    let _ = env.cgroup.thaw();
    for s in env.services.iter_mut().rev() {
        teardown_service(s).await;
    }
    let _ = env.cgroup.kill_all();
    for s in &env.services {
        let _ = s.cgroup.remove();
    }
    let _ = env.cgroup.remove();
    if let Ok(left) = vers_runtime::netns::list_netns(&crate::topology::pod_prefix(&env.spec.netns))
    {
        delete_pods(left).await;
    }
    if let Some(rt) = env.rt.take() {
        rt.shutdown();
    }
    if let Some(ns) = env.ns.take() {
        let _ = ns.delete();
    }
}

pub(super) async fn delete_env(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Reply>, ApiError> {
    let cell = d.envs.lock().await.remove(&id);
    match cell {
        Some(cell) => {
            // Waits for whatever operation holds the environment, then tears it down.
            teardown_env(&mut *cell.lock().await).await;
            Ok(ok())
        }
        None => Err(not_found(&format!("environment {id}"))),
    }
}

pub(super) async fn freeze_env(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Reply>, ApiError> {
    set_frozen(&d, &id, true).await
}

pub(super) async fn thaw_env(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Reply>, ApiError> {
    set_frozen(&d, &id, false).await
}

/// Freeze, snapshot, thaw as one operation. It runs in its own task so that a client going
/// away (the request future dropped) cannot stop it between freeze and thaw; the
/// environment stays locked throughout, so nothing else acts on it half-frozen.
pub(super) async fn snapshot_env(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<SnapshotRequest>,
) -> Result<Json<Reply>, ApiError> {
    let task = tokio::spawn(async move {
        let mut env = d.env(&id).await?;
        // A paused environment stays paused after its snapshot.
        let was_frozen = env.frozen;
        freeze_locked(&mut env, true)?;
        let snap = d.snap.clone();
        let (env_id, checkpoint) = (id.clone(), req.checkpoint.clone());
        let committed =
            tokio::task::spawn_blocking(move || snap.commit(&env_id, &checkpoint)).await;
        let thawed = if was_frozen {
            Ok(())
        } else {
            freeze_locked(&mut env, false)
        };
        match committed {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(internal(e)),
            Err(e) => return Err(internal(e)),
        }
        thawed.map(|_| ok())
    });
    task.await.map_err(internal)?
}

/// Freezes or thaws every process of an environment through its cgroup.
async fn set_frozen(d: &Shared, id: &str, frozen: bool) -> Result<Json<Reply>, ApiError> {
    let mut env = d.env(id).await?;
    freeze_locked(&mut env, frozen)?;
    Ok(ok())
}

/// Freezes or thaws an environment already locked by the caller, and records it.
fn freeze_locked(env: &mut Env, frozen: bool) -> Result<(), ApiError> {
    if frozen {
        env.cgroup.freeze()
    } else {
        env.cgroup.thaw()
    }
    .map_err(internal)?;
    env.frozen = frozen;
    Ok(())
}
