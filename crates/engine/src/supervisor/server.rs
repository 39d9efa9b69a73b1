//! The supervisor daemon: HTTP+JSON over `/run/vers/<key>/api/api.sock`, owning processes, namespaces,
//! cgroups, proxies and host forwards of every environment of one project.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use vers_proxy::ServiceProxy;
use vers_runtime::cgroup::Cgroup;
use vers_runtime::netns::{NetNs, NsRuntime};
use vers_runtime::snapshot::Snapshotter;
use vers_runtime::spawn::{self, SpawnSpec, User};

use super::protocol::*;
use crate::project::Project;

/// A running process of a service.
struct Proc {
    pid: i32,
    exit: Arc<StdMutex<Option<String>>>,
}

/// A service inside an environment.
struct Service {
    spec: ServiceSpec,
    cgroup: Cgroup,
    procs: Vec<Proc>,
    proxies: Vec<ServiceProxy>,
    proxy_tasks: Vec<JoinHandle<()>>,
    forwards: Vec<(u16, String, JoinHandle<()>)>,
    paused: bool,
    stopped: bool,
    faults: Vec<(u64, vers_proxy::Fault, Vec<vers_proxy::FaultId>)>,
    stresses: super::stress::Stresses,
}

/// An environment owned by the supervisor.
struct Env {
    spec: EnvSpec,
    ns: Option<NetNs>,
    rt: Option<NsRuntime>,
    cgroup: Cgroup,
    services: Vec<Service>,
    frozen: bool,
    /// The API socket this environment's own processes see (acting on it only): its server
    /// task and directory.
    api: Option<(JoinHandle<()>, std::path::PathBuf)>,
}

/// Shared daemon state.
struct Daemon {
    project: Project,
    user: User,
    snap: Arc<dyn Snapshotter>,
    envs: Mutex<BTreeMap<String, Env>>,
    next_fault: std::sync::atomic::AtomicU64,
    shutdown: tokio::sync::Notify,
    bus: crate::api::events::EventBus,
    /// The status report `GET /api/status` answers from.
    status: Arc<crate::api::status_cache::StatusCache>,
    /// Wakes the warm-pool keeper ([`crate::pool::upkeep`]).
    pools: Arc<tokio::sync::Notify>,
    /// The web dashboard, once `vers dashboard` asked for it.
    dashboard: crate::dashboard::DashboardSlot,
}

type Shared = Arc<Daemon>;

/// An error answered as `{"ok":false,"error":...}` with a status code.
struct ApiError(StatusCode, String);

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

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

fn not_found(what: &str) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("{what} not found"))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

fn ok() -> Json<Reply> {
    Json(Reply {
        ok: true,
        error: None,
    })
}

/// Runs the supervisor of `project` until it is asked to shut down.
///
/// Holds `.vers/daemon.lock` for its whole life, so a second daemon of the same project
/// exits at once. Before it answers, it removes what a dead predecessor left behind and
/// creates the snapshot store, so no client ever races another over either.
pub async fn run(project: Project) -> anyhow::Result<()> {
    let engine_uid = spawn::engine_user().ok().map(|u| u.uid);
    super::access::private_state_dir(&project.state_dir, engine_uid)?;
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
    let snap: Arc<dyn Snapshotter> = Arc::from(crate::storage::snapshotter(&project)?);
    let socket = project.socket_path();
    let listener = super::access::bind_private(&socket)?;
    let listener = super::access::PeerChecked::new(listener, super::access::allowed_uids(&project));
    std::fs::write(project.daemon_pid_path(), std::process::id().to_string())?;
    let user = spawn::engine_user()?;
    let bus = crate::api::events::EventBus::new();
    let status = crate::api::status_cache::StatusCache::new(project.clone(), bus.clone());
    tokio::spawn(status.clone().watch());
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
    let mut envs = daemon.envs.lock().await;
    for (_, env) in std::mem::take(&mut *envs) {
        teardown_env(env).await;
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
    Json(r): Json<DashboardRequest>,
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

/// What every proxy of an environment recorded (`GET /v1/envs/{id}/traffic`).
async fn env_traffic(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Vec<ProxyTraffic>>, ApiError> {
    let envs = d.envs.lock().await;
    let env = envs
        .get(&id)
        .ok_or_else(|| not_found(&format!("environment {id}")))?;
    let mut out = Vec::new();
    for s in &env.services {
        for (proxy, port) in s.proxies.iter().zip(&s.spec.ports) {
            out.push(ProxyTraffic {
                service: s.spec.name.clone(),
                port: *port,
                http: s.spec.http_ports.contains(port),
                traffic: proxy.traffic(),
            });
        }
    }
    Ok(Json(out))
}

/// Forgets what the proxies of an environment recorded (`DELETE /v1/envs/{id}/traffic`).
async fn clear_env_traffic(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Reply>, ApiError> {
    let envs = d.envs.lock().await;
    let env = envs
        .get(&id)
        .ok_or_else(|| not_found(&format!("environment {id}")))?;
    for proxy in env.services.iter().flat_map(|s| &s.proxies) {
        proxy.clear_traffic();
    }
    Ok(ok())
}

async fn ping() -> Json<serde_json::Value> {
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

fn service_status(s: &Service) -> ServiceStatus {
    let processes: Vec<ProcessStatus> = s
        .procs
        .iter()
        .map(|p| {
            let exit = p.exit.lock().ok().and_then(|e| e.clone());
            ProcessStatus {
                pid: p.pid,
                alive: exit.is_none(),
                exit,
            }
        })
        .collect();
    let state = if s.stopped {
        "stopped"
    } else if s.paused {
        "paused"
    } else if !processes.is_empty() && processes.iter().all(|p| !p.alive) {
        "failed"
    } else {
        "running"
    };
    ServiceStatus {
        name: s.spec.name.clone(),
        state: state.to_string(),
        front: s.spec.front,
        ports: s.spec.ports.clone(),
        processes,
        host_endpoints: s.forwards.iter().map(|(c, h, _)| (*c, h.clone())).collect(),
        faults: s
            .faults
            .iter()
            .filter(|(_, f, _)| f.until.is_none_or(|u| u > std::time::SystemTime::now()))
            .map(|(id, f, _)| FaultInfo {
                id: *id,
                fault: f.clone(),
            })
            .collect(),
        stress: s.stresses.names(),
        cpu_usec: s.cgroup.cpu_usage_usec(),
        memory_bytes: s.cgroup.memory_usage(),
    }
}

fn env_state(e: &Env) -> EnvState {
    EnvState {
        id: e.spec.id.clone(),
        netns: e.spec.netns.clone(),
        frozen: e.frozen,
        services: e.services.iter().map(service_status).collect(),
    }
}

async fn list_envs(State(d): State<Shared>) -> Json<Vec<EnvState>> {
    let envs = d.envs.lock().await;
    Json(envs.values().map(env_state).collect())
}

async fn create_env(
    State(d): State<Shared>,
    Json(spec): Json<EnvSpec>,
) -> Result<Json<EnvState>, ApiError> {
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
        frozen: false,
        api,
    };
    let state = env_state(&env);
    envs.insert(spec.id.clone(), env);
    Ok(Json(state))
}

async fn teardown_service(s: &mut Service) {
    s.stresses.end_all();
    for (_, _, task) in s.forwards.drain(..) {
        task.abort();
    }
    for p in &s.proxies {
        p.stop();
    }
    for t in s.proxy_tasks.drain(..) {
        t.abort();
    }
    let _ = s.cgroup.thaw();
    let _ = s.cgroup.kill_all();
    for p in &s.procs {
        let _ = spawn::kill_group(p.pid, nix::sys::signal::Signal::SIGKILL);
    }
    let pods: Vec<String> = s.spec.pods.iter().map(|p| p.netns.clone()).collect();
    delete_pods(pods).await;
}

/// Removes pod namespaces off the async executor (each is an `ip netns delete`).
async fn delete_pods(pods: Vec<String>) {
    let _ = tokio::task::spawn_blocking(move || {
        for netns in pods {
            if let Err(e) = vers_runtime::pod::delete(&netns) {
                tracing::warn!("removing pod {netns}: {e}");
            }
        }
    })
    .await;
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
        .route("/v1/ping", get(ping))
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

async fn teardown_env(mut env: Env) {
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

async fn delete_env(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Reply>, ApiError> {
    let env = d.envs.lock().await.remove(&id);
    match env {
        Some(env) => {
            teardown_env(env).await;
            Ok(ok())
        }
        None => Err(not_found(&format!("environment {id}"))),
    }
}

async fn freeze_env(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Reply>, ApiError> {
    set_frozen(&d, &id, true).await
}

async fn thaw_env(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Reply>, ApiError> {
    set_frozen(&d, &id, false).await
}

/// Freeze, snapshot, thaw as one operation. It runs in its own task so that a client going
/// away (the request future dropped) cannot stop it between freeze and thaw.
async fn snapshot_env(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<SnapshotRequest>,
) -> Result<Json<Reply>, ApiError> {
    let task = tokio::spawn(async move {
        let _frozen = set_frozen(&d, &id, true).await?;
        let snap = d.snap.clone();
        let (env, checkpoint) = (id.clone(), req.checkpoint.clone());
        let committed = tokio::task::spawn_blocking(move || snap.commit(&env, &checkpoint)).await;
        let thawed = set_frozen(&d, &id, false).await;
        match committed {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(internal(e)),
            Err(e) => return Err(internal(e)),
        }
        thawed
    });
    task.await.map_err(internal)?
}

/// Freezes or thaws every process of an environment through its cgroup.
async fn set_frozen(d: &Shared, id: &str, frozen: bool) -> Result<Json<Reply>, ApiError> {
    let mut envs = d.envs.lock().await;
    let env = envs
        .get_mut(id)
        .ok_or_else(|| not_found(&format!("environment {id}")))?;
    if frozen {
        env.cgroup.freeze()
    } else {
        env.cgroup.thaw()
    }
    .map_err(internal)?;
    env.frozen = frozen;
    Ok(ok())
}

/// Builds the spawn description of a process inside an environment.
fn spawn_spec(d: &Daemon, env: &EnvSpec, p: &ProcessSpec, cgroup: Option<Cgroup>) -> SpawnSpec {
    SpawnSpec {
        program: p.program.clone(),
        args: p.args.clone(),
        env: p.env.clone(),
        cwd: p.cwd.clone(),
        netns: Some(p.netns.clone().unwrap_or_else(|| env.netns.clone())),
        hosts_file: Some(std::path::PathBuf::from(format!(
            "/etc/netns/{}/hosts",
            env.netns
        ))),
        binds: vec![(d.project.env_api_dir(&env.id), d.project.api_dir())],
        user: if p.engine_user {
            Some(d.user.clone())
        } else {
            None
        },
        cgroup,
        stdout: Some(p.log.clone()),
        stderr: Some(p.log.clone()),
        stdin_null: true,
        new_session: true,
    }
}

fn spawn_process(
    d: &Daemon,
    env: &EnvSpec,
    p: &ProcessSpec,
    cg: &Cgroup,
) -> Result<Proc, ApiError> {
    if let Some(dir) = p.log.parent() {
        std::fs::create_dir_all(dir).map_err(internal)?;
    }
    // Output goes through the daemon into a capped, time-indexed log (see `logfile`).
    let spec = SpawnSpec {
        stdout: None,
        stderr: None,
        ..spawn_spec(d, env, p, Some(cg.clone()))
    };
    let mut cmd = spawn::spawn_command(&spec)
        .map_err(|e| internal(format!("starting {}: {e}", p.program.display())))?;
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| internal(format!("starting {}: {e}", p.program.display())))?;
    crate::logfile::pipe_into(child.stdout.take(), child.stderr.take(), &p.log)
        .map_err(|e| internal(format!("{}: {e}", p.log.display())))?;
    let pid = child
        .id()
        .ok_or_else(|| internal("process exited before its pid was known"))? as i32;
    let exit = Arc::new(StdMutex::new(None));
    let exit2 = exit.clone();
    tokio::spawn(async move {
        let status = child.wait().await;
        let text = match status {
            Ok(s) => match s.code() {
                Some(c) => format!("exit code {c}"),
                None => {
                    use std::os::unix::process::ExitStatusExt;
                    format!("killed by signal {}", s.signal().unwrap_or(0))
                }
            },
            Err(e) => format!("wait failed: {e}"),
        };
        if let Ok(mut g) = exit2.lock() {
            *g = Some(text);
        }
    });
    Ok(Proc { pid, exit })
}

async fn start_processes(d: &Daemon, env: &EnvSpec, s: &mut Service) -> Result<(), ApiError> {
    let mut procs = Vec::new();
    for p in &s.spec.processes {
        procs.push(spawn_process(d, env, p, &s.cgroup)?);
    }
    s.procs = procs;
    s.stopped = false;
    s.paused = false;
    Ok(())
}

async fn start_service(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Json(spec): Json<ServiceSpec>,
) -> Result<Json<ServiceStatus>, ApiError> {
    let mut envs = d.envs.lock().await;
    let env = envs
        .get_mut(&id)
        .ok_or_else(|| not_found(&format!("environment {id}")))?;
    if env.services.iter().any(|s| s.spec.name == spec.name) {
        return Err(bad(format!("service {} already started", spec.name)));
    }
    let cg_path = format!("{}/{}", env.spec.cgroup, spec.name);
    let cgroup = Cgroup::create(&cg_path).map_err(internal)?;
    if let Some(m) = spec.memory_limit {
        let _ = cgroup.set_memory_limit(m);
    }
    if let Some(c) = spec.cpu_limit {
        let _ = cgroup.set_cpu_limit(c);
    }
    let rt = env
        .rt
        .as_ref()
        .ok_or_else(|| internal("environment runtime is gone"))?;
    let mut svc = Service {
        spec: spec.clone(),
        cgroup,
        procs: Vec::new(),
        proxies: Vec::new(),
        proxy_tasks: Vec::new(),
        forwards: Vec::new(),
        paused: false,
        stopped: false,
        faults: Vec::new(),
        stresses: Default::default(),
    };
    let pods: Vec<vers_runtime::pod::PodSpec> = spec
        .pods
        .iter()
        .map(|p| vers_runtime::pod::PodSpec {
            netns: p.netns.clone(),
            veth: p.veth.clone(),
            address: p.address,
        })
        .collect();
    let env_netns = env.spec.netns.clone();
    let front_net = env.spec.front_net.clone();
    let made = tokio::task::spawn_blocking(move || {
        let mut made = Vec::new();
        for pod in &pods {
            if let Err(e) = vers_runtime::pod::create(&env_netns, &front_net, pod) {
                return Err((made, e));
            }
            made.push(pod.netns.clone());
        }
        Ok(())
    })
    .await
    .map_err(internal)?;
    if let Err((made, e)) = made {
        delete_pods(made).await;
        let _ = svc.cgroup.remove();
        return Err(internal(format!("network of {}: {e}", spec.name)));
    }
    {
        for &port in &spec.ports {
            let backends: Vec<SocketAddr> = spec
                .pods
                .iter()
                .map(|p| SocketAddr::from((p.address, port)))
                .collect();
            let proxy = ServiceProxy::new(
                format!("{}:{port}", spec.name),
                backends,
                spec.http_ports.contains(&port),
            );
            let front = spec.front;
            let listener = rt
                .spawn(async move { TcpListener::bind((front, port)).await })
                .await
                .map_err(internal)?
                .map_err(|e| internal(format!("binding {front}:{port}: {e}")))?;
            let p2 = proxy.clone();
            let task = rt.spawn(async move {
                let _ = p2.serve(listener).await;
            });
            svc.proxies.push(proxy);
            svc.proxy_tasks.push(task);
        }
    }
    start_processes(&d, &env.spec, &mut svc).await?;
    for hp in &spec.host_ports {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, hp.host.unwrap_or(0)))
            .await
            .map_err(|e| {
                internal(format!(
                    "host port {} for {}: {e}",
                    hp.host.unwrap_or(0),
                    spec.name
                ))
            })?;
        let local = listener.local_addr().map_err(internal)?;
        let handle = rt.handle();
        let target = SocketAddr::from((spec.front, hp.container));
        let task = tokio::spawn(forward_loop(listener, handle, target));
        svc.forwards.push((hp.container, local.to_string(), task));
    }
    let status = service_status(&svc);
    env.services.push(svc);
    Ok(Json(status))
}

/// Accepts host connections and splices each into the environment's namespace.
async fn forward_loop(listener: TcpListener, ns: tokio::runtime::Handle, target: SocketAddr) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(std_stream) = stream.into_std() else {
            continue;
        };
        ns.spawn(async move {
            let Ok(mut inbound) = TcpStream::from_std(std_stream) else {
                return;
            };
            let Ok(mut outbound) = TcpStream::connect(target).await else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
        });
    }
}

fn find_service<'a>(
    envs: &'a mut BTreeMap<String, Env>,
    id: &str,
    name: &str,
) -> Result<(&'a EnvSpec, &'a mut Service), ApiError> {
    let env = envs
        .get_mut(id)
        .ok_or_else(|| not_found(&format!("environment {id}")))?;
    let spec = &env.spec;
    let svc = env
        .services
        .iter_mut()
        .find(|s| s.spec.name == name)
        .ok_or_else(|| not_found(&format!("service {name} in environment {id}")))?;
    Ok((spec, svc))
}

async fn stop_service(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Json<ServiceStatus>, ApiError> {
    let mut envs = d.envs.lock().await;
    let (_, svc) = find_service(&mut envs, &id, &name)?;
    let _ = svc.cgroup.thaw();
    svc.cgroup.kill_all().map_err(internal)?;
    for p in &svc.procs {
        let _ = spawn::kill_group(p.pid, nix::sys::signal::Signal::SIGKILL);
    }
    svc.stopped = true;
    svc.paused = false;
    Ok(Json(service_status(svc)))
}

async fn restart_service(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Json<ServiceStatus>, ApiError> {
    let mut envs = d.envs.lock().await;
    let (spec, svc) = find_service(&mut envs, &id, &name)?;
    let spec = spec.clone();
    let _ = svc.cgroup.thaw();
    let _ = svc.cgroup.kill_all();
    start_processes(&d, &spec, svc).await?;
    Ok(Json(service_status(svc)))
}

async fn pause_service(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Json<ServiceStatus>, ApiError> {
    let mut envs = d.envs.lock().await;
    let (_, svc) = find_service(&mut envs, &id, &name)?;
    if svc.stopped {
        return Err(bad(format!("service {name} is not running")));
    }
    svc.cgroup.freeze().map_err(internal)?;
    svc.paused = true;
    Ok(Json(service_status(svc)))
}

async fn resume_service(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Json<ServiceStatus>, ApiError> {
    let mut envs = d.envs.lock().await;
    let (_, svc) = find_service(&mut envs, &id, &name)?;
    svc.cgroup.thaw().map_err(internal)?;
    svc.paused = false;
    Ok(Json(service_status(svc)))
}

async fn add_fault(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
    Json(req): Json<FaultRequest>,
) -> Result<Json<FaultInfo>, ApiError> {
    let mut envs = d.envs.lock().await;
    let (_, svc) = find_service(&mut envs, &id, &name)?;
    if svc.proxies.is_empty() {
        return Err(bad(format!(
            "service {name} has no ports, so no traffic to fault"
        )));
    }
    let ids = svc
        .proxies
        .iter()
        .map(|p| p.add_fault(req.fault.clone()))
        .collect();
    let fid = d
        .next_fault
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    svc.faults.push((fid, req.fault.clone(), ids));
    Ok(Json(FaultInfo {
        id: fid,
        fault: req.fault,
    }))
}

async fn clear_faults(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Json<ServiceStatus>, ApiError> {
    let mut envs = d.envs.lock().await;
    let (_, svc) = find_service(&mut envs, &id, &name)?;
    for p in &svc.proxies {
        p.clear_faults();
    }
    svc.faults.clear();
    Ok(Json(service_status(svc)))
}

async fn probe(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<ProbeRequest>,
) -> Result<Json<ProbeResult>, ApiError> {
    let (spec, handle) = {
        let envs = d.envs.lock().await;
        let env = envs
            .get(&id)
            .ok_or_else(|| not_found(&format!("environment {id}")))?;
        let rt = env
            .rt
            .as_ref()
            .ok_or_else(|| internal("environment runtime is gone"))?;
        (env.spec.clone(), rt.handle())
    };
    let limit = Duration::from_millis(req.timeout_ms.max(1));
    let result = match req.probe {
        ProbeSpec::Exec(p) => exec_probe(&d, &spec, &p, limit).await,
        ProbeSpec::Tcp { addr, port } => {
            let fut = handle.spawn(async move {
                tokio::time::timeout(limit, TcpStream::connect((addr, port))).await
            });
            match fut.await {
                Ok(Ok(Ok(_))) => ProbeResult {
                    healthy: true,
                    detail: String::new(),
                },
                Ok(Ok(Err(e))) => ProbeResult {
                    healthy: false,
                    detail: format!("connect {addr}:{port}: {e}"),
                },
                _ => ProbeResult {
                    healthy: false,
                    detail: format!("connect {addr}:{port}: timed out"),
                },
            }
        }
        ProbeSpec::Exchange {
            addr,
            port,
            send,
            expect_at,
            expect,
        } => {
            let fut = handle.spawn(async move {
                tokio::time::timeout(limit, exchange(addr, port, &send, expect_at, &expect)).await
            });
            match fut.await {
                Ok(Ok(Ok(()))) => ProbeResult {
                    healthy: true,
                    detail: String::new(),
                },
                Ok(Ok(Err(e))) => ProbeResult {
                    healthy: false,
                    detail: e,
                },
                _ => ProbeResult {
                    healthy: false,
                    detail: format!("{addr}:{port}: no answer in time"),
                },
            }
        }
        ProbeSpec::Http {
            addr,
            port,
            path,
            headers,
        } => {
            let fut = handle.spawn(async move {
                tokio::time::timeout(limit, http_get(addr, port, &path, &headers)).await
            });
            match fut.await {
                Ok(Ok(Ok(code))) if (200..300).contains(&code) => ProbeResult {
                    healthy: true,
                    detail: format!("HTTP {code}"),
                },
                Ok(Ok(Ok(code))) => ProbeResult {
                    healthy: false,
                    detail: format!("HTTP {code}"),
                },
                Ok(Ok(Err(e))) => ProbeResult {
                    healthy: false,
                    detail: e,
                },
                _ => ProbeResult {
                    healthy: false,
                    detail: "timed out".into(),
                },
            }
        }
    };
    Ok(Json(result))
}

async fn exec_probe(d: &Daemon, env: &EnvSpec, p: &ProcessSpec, limit: Duration) -> ProbeResult {
    let spec = spawn_spec(d, env, p, None);
    let spec = SpawnSpec {
        stdout: None,
        stderr: None,
        ..spec
    };
    let mut cmd = match spawn::spawn_command(&spec) {
        Ok(c) => c,
        Err(e) => {
            return ProbeResult {
                healthy: false,
                detail: e.to_string(),
            }
        }
    };
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    match tokio::time::timeout(limit, cmd.output()).await {
        Ok(Ok(out)) => {
            let mut detail = String::from_utf8_lossy(&out.stdout).into_owned();
            detail.push_str(&String::from_utf8_lossy(&out.stderr));
            ProbeResult {
                healthy: out.status.success(),
                detail: detail.trim().to_string(),
            }
        }
        Ok(Err(e)) => ProbeResult {
            healthy: false,
            detail: e.to_string(),
        },
        Err(_) => ProbeResult {
            healthy: false,
            detail: format!("health command timed out after {limit:?}"),
        },
    }
}

/// Connects, writes `send`, and checks that the reply holds `expect` at `expect_at`.
async fn exchange(
    addr: Ipv4Addr,
    port: u16,
    send: &[u8],
    expect_at: usize,
    expect: &[u8],
) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect((addr, port))
        .await
        .map_err(|e| format!("connect {addr}:{port}: {e}"))?;
    if !send.is_empty() {
        stream
            .write_all(send)
            .await
            .map_err(|e| format!("write to {addr}:{port}: {e}"))?;
    }
    let want = expect_at + expect.len();
    let mut reply = Vec::with_capacity(want);
    while reply.len() < want {
        let mut buf = [0u8; 512];
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("read from {addr}:{port}: {e}"))?;
        if n == 0 {
            return Err(format!(
                "{addr}:{port} closed the connection after {} bytes",
                reply.len()
            ));
        }
        reply.extend_from_slice(&buf[..n]);
    }
    if &reply[expect_at..want] == expect {
        Ok(())
    } else {
        Err(format!(
            "{addr}:{port} answered an unexpected reply ({} bytes)",
            reply.len()
        ))
    }
}

/// `GET path` over HTTP/1.1 and return the status code.
async fn http_get(
    addr: Ipv4Addr,
    port: u16,
    path: &str,
    headers: &[(String, String)],
) -> Result<u16, String> {
    let stream = TcpStream::connect((addr, port))
        .await
        .map_err(|e| format!("connect {addr}:{port}: {e}"))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = hyper::Request::get(path).header("host", format!("{addr}:{port}"));
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    Ok(resp.status().as_u16())
}

/// Ends every fault of a service and restarts it when it was killed; returns whether there
/// was anything to end.
async fn recover_service(d: &Daemon, env: &EnvSpec, s: &mut Service) -> Result<bool, ApiError> {
    let now = std::time::SystemTime::now();
    let mut touched = s.faults.iter().any(|(_, f, _)| !f.is_expired(now)) || !s.stresses.is_empty();
    for p in &s.proxies {
        p.clear_faults();
    }
    s.faults.clear();
    s.stresses.end_all();
    if s.paused {
        s.cgroup.thaw().map_err(internal)?;
        s.paused = false;
        touched = true;
    }
    if restart_if_dead(d, env, s).await? {
        touched = true;
    }
    Ok(touched)
}

/// Restarts a killed service, or one whose processes have all exited.
async fn restart_if_dead(d: &Daemon, env: &EnvSpec, s: &mut Service) -> Result<bool, ApiError> {
    let dead = s.stopped
        || (!s.procs.is_empty()
            && s.procs
                .iter()
                .all(|p| p.exit.lock().map(|e| e.is_some()).unwrap_or(false)));
    if dead {
        let _ = s.cgroup.kill_all();
        start_processes(d, env, s).await?;
    }
    Ok(dead)
}

/// Undoes one chaos action when its `--duration` ends, leaving other faults (other stress
/// faults included: `stress` is the id of this one) in force.
async fn end_action(
    d: &Daemon,
    env: &EnvSpec,
    s: &mut Service,
    action: &ChaosAction,
    stress: Option<u64>,
) -> Result<(), ApiError> {
    d.status.invalidate();
    match action {
        ChaosAction::Pause => {
            if s.paused {
                s.cgroup.thaw().map_err(internal)?;
                s.paused = false;
            }
        }
        ChaosAction::Kill => {
            restart_if_dead(d, env, s).await?;
        }
        ChaosAction::CpuStress { .. }
        | ChaosAction::MemoryStress { .. }
        | ChaosAction::DiskFill { .. } => {
            if let Some(id) = stress {
                s.stresses.end(id);
            }
        }
    }
    Ok(())
}

async fn chaos(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
    Json(req): Json<ChaosRequest>,
) -> Result<Json<ServiceStatus>, ApiError> {
    let mut envs = d.envs.lock().await;
    let (spec, svc) = find_service(&mut envs, &id, &name)?;
    let spec = spec.clone();
    if svc.stopped {
        return Err(bad(format!("service {name} is not running")));
    }
    let mut stress = None;
    match &req.action {
        ChaosAction::Pause => {
            svc.cgroup.freeze().map_err(internal)?;
            svc.paused = true;
        }
        ChaosAction::Kill => {
            let _ = svc.cgroup.thaw();
            svc.cgroup.kill_all().map_err(internal)?;
            for p in &svc.procs {
                let _ = spawn::kill_group(p.pid, nix::sys::signal::Signal::SIGKILL);
            }
            svc.stopped = true;
        }
        ChaosAction::CpuStress { workers, load } => {
            let exe = std::env::current_exe().map_err(internal)?;
            let id = svc.stresses.start("cpu-stress");
            stress = Some(id);
            for _ in 0..*workers {
                let p = stress_process(
                    vec!["stress-cpu".into(), load.to_string()],
                    &exe.display().to_string(),
                );
                let proc_ = spawn_process(&d, &spec, &p, &svc.cgroup)?;
                svc.stresses.add_pid(id, proc_.pid);
            }
        }
        ChaosAction::MemoryStress { bytes } => {
            let exe = std::env::current_exe().map_err(internal)?;
            let p = stress_process(
                vec!["stress-memory".into(), bytes.to_string()],
                &exe.display().to_string(),
            );
            let proc_ = spawn_process(&d, &spec, &p, &svc.cgroup)?;
            let id = svc.stresses.start("memory-stress");
            stress = Some(id);
            svc.stresses.add_pid(id, proc_.pid);
        }
        ChaosAction::DiskFill {
            dir,
            bytes,
            volume,
            headroom,
        } => {
            let (dir, bytes, volume, headroom) = (dir.clone(), *bytes, volume.clone(), *headroom);
            let filled = tokio::task::spawn_blocking(move || {
                super::diskfill::fill(&dir, bytes, volume.as_deref(), headroom)
            })
            .await
            .map_err(internal)?
            .map_err(internal)?;
            let id = svc.stresses.start("disk-fill");
            stress = Some(id);
            svc.stresses.set_fill(id, filled);
        }
    }
    if let Some(ms) = req.duration_ms {
        let d2 = d.clone();
        let (id2, name2) = (id.clone(), name.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let mut envs = d2.envs.lock().await;
            if let Ok((spec, svc)) = find_service(&mut envs, &id2, &name2) {
                let spec = spec.clone();
                let _ = end_action(&d2, &spec, svc, &req.action, stress).await;
            }
        });
    }
    Ok(Json(service_status(svc)))
}

fn stress_process(args: Vec<String>, program: &str) -> ProcessSpec {
    let mut env = BTreeMap::new();
    env.insert(
        "PATH".to_string(),
        "/usr/local/bin:/usr/bin:/bin".to_string(),
    );
    ProcessSpec {
        netns: None,
        program: program.into(),
        args,
        env,
        cwd: "/".into(),
        engine_user: true,
        log: "/dev/null".into(),
    }
}

async fn recover(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<RecoverRequest>,
) -> Result<Json<Vec<String>>, ApiError> {
    let mut envs = d.envs.lock().await;
    let env = envs
        .get_mut(&id)
        .ok_or_else(|| not_found(&format!("environment {id}")))?;
    let spec = env.spec.clone();
    let mut touched = Vec::new();
    for s in env.services.iter_mut() {
        if req.service.as_deref().is_some_and(|n| n != s.spec.name) {
            continue;
        }
        if recover_service(&d, &spec, s).await? {
            touched.push(s.spec.name.clone());
        }
    }
    Ok(Json(touched))
}
