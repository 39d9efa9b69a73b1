//! The supervisor daemon: HTTP+JSON over `/run/vers/<key>/api/api.sock`, owning processes, namespaces,
//! cgroups, proxies and host forwards of every environment of one project.
//!
//! This file starts the daemon and routes requests; each resource's handlers live in their own
//! module: [`super::environments`], [`super::services`], [`super::probes`], [`super::chaos`],
//! [`super::traffic`] and [`super::forwards`]; the engine API of clients (status, branches, tests, events) is
//! [`crate::api`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use tokio::sync::Mutex;
use vers_runtime::snapshot::Snapshotter;
use vers_runtime::spawn;

use super::chaos::{add_fault, chaos, clear_faults, recover};
use super::environments::{
    create_env, delete_env, freeze_env, list_envs, snapshot_env, teardown_env, thaw_env,
};
use super::probes::probe;
use super::protocol::*;
use super::services::{
    pause_service, restart_service, resume_service, start_service, stop_service,
};
use super::state::*;
use super::traffic::{clear_env_traffic, env_traffic};
use crate::project::Project;

/// Runs the supervisor of `project` until it is asked to shut down.
///
/// Holds `.vers/daemon.lock` for its whole life, so a second daemon of the same project
/// exits at once. Before it answers, it removes what a dead predecessor left behind and
/// creates the snapshot store, so no client ever races another over either.
pub async fn run(project: Project) -> anyhow::Result<()> {
    let engine = spawn::engine_user().ok();
    let opened = super::access::private_state_dir(&project.state_dir, engine.as_ref())?;
    if !opened.is_empty() {
        eprintln!("gave the engine user search access to {opened:?}");
    }
    let Some(_lock) = super::start::hold_daemon_lock(&project)? else {
        eprintln!(
            "another vers daemon already serves {}",
            project.dir.display()
        );
        return Ok(());
    };
    let report = crate::cleanup::clean_leftovers(&project)?;
    if report.processes + report.namespaces + report.environments + report.partial_checkpoints > 0 {
        eprintln!("removed what a previous daemon left: {report:?}");
    }
    vers_runtime::snapshot::growth::record_limit(&project.state_dir)?;
    let snap: Arc<dyn Snapshotter> = Arc::from(crate::storage::snapshotter(&project)?);
    let socket = project.socket_path();
    let listener = super::access::bind_private(&socket)?;
    super::access::private_runtime_dir(&project.runtime_dir(), engine.as_ref().map(|u| u.gid))?;
    let listener = super::access::PeerChecked::new(listener, super::access::allowed_uids(&project));
    std::fs::write(project.daemon_pid_path(), std::process::id().to_string())?;
    let user = spawn::engine_user()?;
    let bus = crate::api::events::EventBus::new();
    let status = crate::api::status_cache::StatusCache::new(project.clone(), bus.clone());
    tokio::spawn(status.clone().watch());
    let store_watch = tokio::spawn(crate::store_space::watch(project.clone(), bus.clone()));
    let daemon: Shared = Arc::new(Daemon {
        project,
        user,
        snap,
        envs: Mutex::new(BTreeMap::new()),
        next_fault: std::sync::atomic::AtomicU64::new(1),
        shutdown: tokio::sync::Notify::new(),
        bus,
        status,
        pools: Arc::new(tokio::sync::Notify::new()),
        dashboard: crate::dashboard::DashboardSlot::default(),
    });
    let keeper = tokio::spawn(crate::pool::upkeep(
        daemon.project.clone(),
        daemon.pools.clone(),
    ));
    daemon.pools.notify_one();
    let app = Router::new()
        .route("/v1/ping", get(ping))
        .route("/v1/envs", get(list_envs).post(create_env))
        .route("/v1/envs/{id}", delete(delete_env))
        .route("/v1/envs/{id}/freeze", post(freeze_env))
        .route("/v1/envs/{id}/thaw", post(thaw_env))
        .route("/v1/envs/{id}/snapshot", post(snapshot_env))
        .route("/v1/envs/{id}/probe", post(probe))
        .route(
            "/v1/envs/{id}/host-ports",
            post(super::forwards::take_host_ports),
        )
        .route("/v1/envs/{id}/services", post(start_service))
        .route("/v1/envs/{id}/services/{name}/stop", post(stop_service))
        .route(
            "/v1/envs/{id}/services/{name}/restart",
            post(restart_service),
        )
        .route("/v1/envs/{id}/services/{name}/pause", post(pause_service))
        .route("/v1/envs/{id}/services/{name}/resume", post(resume_service))
        .route(
            "/v1/envs/{id}/services/{name}/faults",
            post(add_fault).delete(clear_faults),
        )
        .route("/v1/envs/{id}/services/{name}/chaos", post(chaos))
        .route("/v1/envs/{id}/recover", post(recover))
        .route(
            "/v1/envs/{id}/traffic",
            get(env_traffic).delete(clear_env_traffic),
        )
        .route("/v1/pools/kick", post(kick_pools))
        .route("/v1/shutdown", post(shutdown))
        .route("/api/dashboard", post(dashboard))
        .method_not_allowed_fallback(crate::api::extract::method_not_allowed)
        .with_state(daemon.clone())
        .merge(crate::api::routes::router(Arc::new(
            crate::api::ops::ApiState {
                project: daemon.project.clone(),
                bus: daemon.bus.clone(),
                status: daemon.status.clone(),
                scope: None,
            },
        )))
        .layer(axum::middleware::from_fn_with_state(
            daemon.status.clone(),
            crate::api::status_cache::stale_on_change,
        ));
    let reaper = tokio::spawn(crate::deploy::reap_expired(daemon.project.clone()));
    let d2 = daemon.clone();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move { d2.shutdown.notified().await });
    // Open event feeds never end by themselves: after a shutdown request, in-flight answers
    // get a few seconds, then the daemon exits.
    let d3 = daemon.clone();
    tokio::select! {
        served = server => served?,
        _ = async move {
            d3.shutdown.notified().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        } => {}
    }
    keeper.abort();
    reaper.abort();
    store_watch.abort();
    let cells = std::mem::take(&mut *daemon.envs.lock().await);
    for (_, cell) in cells {
        teardown_env(&mut *cell.lock().await).await;
    }
    let _ = std::fs::remove_file(daemon.project.socket_path());
    let _ = std::fs::remove_file(daemon.project.daemon_pid_path());
    crate::cleanup::remove_runtime_dirs(&daemon.project);
    Ok(())
}

/// What `POST /api/dashboard` takes: the port to serve on (any free one when absent).
#[derive(Debug, Default, serde::Deserialize)]
struct DashboardRequest {
    #[serde(default)]
    port: Option<u16>,
}

/// Starts the dashboard once for the daemon's life and answers `{"url"}`, the same URL on
/// every call.
async fn dashboard(
    State(d): State<Shared>,
    h: axum::http::HeaderMap,
    crate::api::extract::Body(r): crate::api::extract::Body<DashboardRequest>,
) -> Response {
    let api = Arc::new(crate::api::ops::ApiState {
        project: d.project.clone(),
        bus: d.bus.clone(),
        status: d.status.clone(),
        scope: None,
    });
    let url = d.dashboard.ensure(api, r.port).await;
    crate::api::ops::answer(&h, url.map(|url| serde_json::json!({ "url": url }))).await
}

pub(super) async fn ping() -> Json<serde_json::Value> {
    Json(serde_json::json!({"ok": true, "pid": std::process::id()}))
}

async fn kick_pools(State(d): State<Shared>) -> Json<Reply> {
    d.pools.notify_one();
    ok()
}

async fn shutdown(State(d): State<Shared>) -> Json<Reply> {
    d.shutdown.notify_waiters();
    ok()
}
