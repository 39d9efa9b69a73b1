//! Chaos routes: proxy faults, pause, kill, stress and disk-fill of a service, each ended by
//! its duration or by recover.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::Json;
use vers_runtime::spawn;

use super::protocol::*;
use super::services::{service_status, spawn_process, start_processes};
use super::state::*;

pub(super) async fn add_fault(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
    Json(req): Json<FaultRequest>,
) -> Result<Json<FaultInfo>, ApiError> {
    let mut env = d.env(&id).await?;
    let (_, svc) = env.service_mut(&name)?;
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

pub(super) async fn clear_faults(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Json<ServiceStatus>, ApiError> {
    let mut env = d.env(&id).await?;
    let (_, svc) = env.service_mut(&name)?;
    for p in &svc.proxies {
        p.clear_faults();
    }
    svc.faults.clear();
    Ok(Json(service_status(svc)))
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
    let filled = s.stresses.names().iter().any(|n| n == "disk-fill");
    s.stresses.end_all();
    s.process_fault += 1;
    if filled {
        restart_engine_after_fill(d, env, s).await?;
    }
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
        ChaosAction::CpuStress { .. } | ChaosAction::MemoryStress { .. } => {
            if let Some(id) = stress {
                s.stresses.end(id);
            }
        }
        ChaosAction::DiskFill { .. } => {
            if stress.is_some_and(|id| s.stresses.end(id)) {
                restart_engine_after_fill(d, env, s).await?;
            }
        }
    }
    Ok(())
}

/// Starts an engine that stays up but broken after a full disk again on its data once a
/// disk-fill of it ends (see `ServiceSpec::restart_after_fill`): it recovers its data on start.
async fn restart_engine_after_fill(
    d: &Daemon,
    env: &EnvSpec,
    s: &mut Service,
) -> Result<(), ApiError> {
    if !s.spec.restart_after_fill || s.stopped || s.paused {
        return Ok(());
    }
    let _ = s.cgroup.kill_all();
    start_processes(d, env, s).await
}

pub(super) async fn chaos(
    State(d): State<Shared>,
    UrlPath((id, name)): UrlPath<(String, String)>,
    Json(req): Json<ChaosRequest>,
) -> Result<Json<ServiceStatus>, ApiError> {
    let mut env = d.env(&id).await?;
    let (spec, svc) = env.service_mut(&name)?;
    let spec = spec.clone();
    if svc.stopped {
        return Err(bad(format!("service {name} is not running")));
    }
    let mut stress = None;
    if matches!(req.action, ChaosAction::Pause | ChaosAction::Kill) {
        svc.process_fault += 1;
    }
    let process_fault = svc.process_fault;
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
            let exe = crate::own_binary::path();
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
            let exe = crate::own_binary::path();
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
            let Ok(mut env) = d2.env(&id2).await else {
                return;
            };
            if let Ok((spec, svc)) = env.service_mut(&name2) {
                let ended = matches!(req.action, ChaosAction::Pause | ChaosAction::Kill)
                    && svc.process_fault != process_fault;
                if !ended {
                    let spec = spec.clone();
                    let _ = end_action(&d2, &spec, svc, &req.action, stress).await;
                }
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

pub(super) async fn recover(
    State(d): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<RecoverRequest>,
) -> Result<Json<Vec<String>>, ApiError> {
    let mut env = d.env(&id).await?;
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
