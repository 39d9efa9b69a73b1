//! Service routes: start a service (its pods, fault proxies, processes and host forwards),
//! stop, restart, pause and resume it; and how its processes are spawned.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex as StdMutex};

use axum::extract::{Path as UrlPath, State};
use axum::Json;
use tokio::net::TcpListener;
use vers_proxy::ServiceProxy;
use vers_runtime::cgroup::Cgroup;
use vers_runtime::spawn::{self, SpawnSpec};

use super::protocol::*;
use super::state::*;

pub(super) fn service_status(s: &Service) -> ServiceStatus {
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

/// Kills a service's processes and removes its proxies, forwards and pods.
pub(super) async fn teardown_service(s: &mut Service) {
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
pub(super) async fn delete_pods(pods: Vec<String>) {
    let _ = tokio::task::spawn_blocking(move || {
        for netns in pods {
            if let Err(e) = vers_runtime::pod::delete(&netns) {
                tracing::warn!("removing pod {netns}: {e}");
            }
        }
    })
    .await;
}

/// Builds the spawn description of a process inside an environment.
pub(super) fn spawn_spec(
    d: &Daemon,
    env: &EnvSpec,
    p: &ProcessSpec,
    cgroup: Option<Cgroup>,
) -> SpawnSpec {
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
        views: d.project.env_views(&env.id),
        detach_foreign_stores: true,
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

/// Spawns one process of a service into its cgroup and records how it ends.
pub(super) fn spawn_process(
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
    let log = p.log.clone();
    let state_dir = d.project.state_dir.clone();
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
        let text = match enospc_reason(&log, &state_dir) {
            Some(why) => format!("{text}: {why}"),
            None => text,
        };
        if let Ok(mut g) = exit2.lock() {
            *g = Some(text);
        }
    });
    Ok(Proc {
        pid,
        started: std::time::Instant::now(),
        exit,
    })
}

/// Why a process whose log ends with "No space left on device" died: the full snapshot store
/// (with its message) when the daemon saw it full, else a full disk. A quota (`EDQUOT`,
/// "Disk quota exceeded", as `disk-fill` causes) is not this.
fn enospc_reason(log: &std::path::Path, state_dir: &std::path::Path) -> Option<String> {
    let tail = crate::logfile::tail_text(log, 40);
    if !tail.contains("No space left on device") {
        return None;
    }
    Some(match crate::store_space::read_record(state_dir) {
        Some(r) if r.full || r.last + 60 >= crate::state::now() => {
            // The head of the message (`snapshot store full (0.6 GB)`); `status` shows it all.
            let head = r.message.split(':').next().unwrap_or(&r.message);
            format!("died of ENOSPC (no space left on device): {head}, see `vers status`")
        }
        _ => "died of ENOSPC (no space left on device): its disk is full".to_string(),
    })
}

/// (Re)starts every process of a service.
pub(super) async fn start_processes(
    d: &Daemon,
    env: &EnvSpec,
    s: &mut Service,
) -> Result<(), ApiError> {
    let mut procs = Vec::new();
    for p in &s.spec.processes {
        procs.push(spawn_process(d, env, p, &s.cgroup)?);
    }
    s.procs = procs;
    s.stopped = false;
    s.paused = false;
    Ok(())
}

/// Starts a service. The environment is locked only to take the service's name and, at the
/// end, to add it: the services of one wave make their pods, proxies and processes at the
/// same time. It runs in its own task so that a client going away cannot leave it half made.
pub(super) async fn start_service(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Json(spec): Json<ServiceSpec>,
) -> Result<Json<ServiceStatus>, ApiError> {
    tokio::spawn(async move {
        let (env_spec, rt) = {
            let mut env = d.env(&id).await?;
            if env.starting.contains(&spec.name)
                || env.services.iter().any(|s| s.spec.name == spec.name)
            {
                return Err(bad(format!("service {} already started", spec.name)));
            }
            let rt = env
                .rt
                .as_ref()
                .ok_or_else(|| internal("environment runtime is gone"))?
                .handle();
            env.starting.insert(spec.name.clone());
            (env.spec.clone(), rt)
        };
        let made = make_service(&d, &env_spec, &rt, &spec).await;
        let mut env = match d.env(&id).await {
            Ok(env) => env,
            Err(gone) => {
                // The environment was torn down meanwhile: nothing of the service may stay.
                if let Ok(mut svc) = made {
                    teardown_service(&mut svc).await;
                    let _ = svc.cgroup.remove();
                }
                return Err(gone);
            }
        };
        env.starting.remove(&spec.name);
        let svc = made?;
        let status = service_status(&svc);
        env.services.push(svc);
        Ok(Json(status))
    })
    .await
    .map_err(internal)?
}

/// Makes a service's cgroup, pods, proxies, processes and host forwards; on error nothing of
/// it is left running.
async fn make_service(
    d: &Daemon,
    env: &EnvSpec,
    rt: &tokio::runtime::Handle,
    spec: &ServiceSpec,
) -> Result<Service, ApiError> {
    let cg_path = format!("{}/{}", env.cgroup, spec.name);
    let cgroup = Cgroup::create(&cg_path).map_err(internal)?;
    if let Some(m) = spec.memory_limit {
        let _ = cgroup.set_memory_limit(m);
    }
    if let Some(c) = spec.cpu_limit {
        let _ = cgroup.set_cpu_limit(c);
    }
    let mut svc = Service {
        spec: spec.clone(),
        cgroup,
        procs: Vec::new(),
        proxies: Vec::new(),
        proxy_tasks: Vec::new(),
        forwards: Vec::new(),
        paused: false,
        stopped: false,
        process_fault: 0,
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
    let env_netns = env.netns.clone();
    let front_net = env.front_net.clone();
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
    // A service that cannot finish starting leaves nothing running behind it.
    let started = match open_proxies(rt, spec, &mut svc).await {
        Ok(()) => start_processes(d, env, &mut svc).await,
        Err(e) => Err(e),
    };
    let started = match started {
        Ok(()) => super::forwards::open(d, spec, rt, super::access::allowed_uids(&d.project)).await,
        Err(e) => Err(e),
    };
    match started {
        Ok(forwards) => {
            svc.forwards = forwards;
            Ok(svc)
        }
        Err(e) => {
            teardown_service(&mut svc).await;
            let _ = svc.cgroup.remove();
            Err(e)
        }
    }
}

/// Binds a fault proxy on the service's front address for each of its ports.
async fn open_proxies(
    rt: &tokio::runtime::Handle,
    spec: &ServiceSpec,
    svc: &mut Service,
) -> Result<(), ApiError> {
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
    Ok(())
}

pub(super) async fn stop_service(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Json<ServiceStatus>, ApiError> {
    let mut env = d.env(&id).await?;
    let (_, svc) = env.service_mut(&name)?;
    let _ = svc.cgroup.thaw();
    svc.cgroup.kill_all().map_err(internal)?;
    for p in &svc.procs {
        let _ = spawn::kill_group(p.pid, nix::sys::signal::Signal::SIGKILL);
    }
    svc.stopped = true;
    svc.paused = false;
    Ok(Json(service_status(svc)))
}

pub(super) async fn restart_service(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Json<ServiceStatus>, ApiError> {
    let mut env = d.env(&id).await?;
    let (spec, svc) = env.service_mut(&name)?;
    let spec = spec.clone();
    let _ = svc.cgroup.thaw();
    let _ = svc.cgroup.kill_all();
    start_processes(&d, &spec, svc).await?;
    Ok(Json(service_status(svc)))
}

pub(super) async fn pause_service(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Json<ServiceStatus>, ApiError> {
    let mut env = d.env(&id).await?;
    let (_, svc) = env.service_mut(&name)?;
    if svc.stopped {
        return Err(bad(format!("service {name} is not running")));
    }
    svc.cgroup.freeze().map_err(internal)?;
    svc.paused = true;
    Ok(Json(service_status(svc)))
}

pub(super) async fn resume_service(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Json<ServiceStatus>, ApiError> {
    let mut env = d.env(&id).await?;
    let (_, svc) = env.service_mut(&name)?;
    svc.cgroup.thaw().map_err(internal)?;
    svc.paused = false;
    Ok(Json(service_status(svc)))
}
