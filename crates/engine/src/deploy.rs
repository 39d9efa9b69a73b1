//! Local deployments (`vers deploy NAME`): named, long-lived environments forked from a
//! checkpoint, outside the test runner's lifecycle. Each deploy is a new version with its own
//! checkpoint, its own copy of the apps' built code (each build context, copied after its
//! build into `.vers/deployments/NAME/vN/code/`) and the manifest it was made with, so
//! editing the working tree never changes a running deployment and `rollback` brings an
//! earlier version's code and data back; only the current version runs. Host ports stay the
//! same from version to version: the manifest's `ports:`, else the ones the first version got,
//! remembered with the deployment. Hosted targets (`target: vers.sh/hosted`) need the hosted
//! service and are refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::branches;
use crate::environment;
use crate::error::EngineError;
use crate::progress::{Event, Progress};
use crate::stack::Stack;
use crate::state::{self, CheckpointRecord, EnvStatus, State};

/// The deploy target that needs the hosted service.
pub const HOSTED: &str = "vers.sh/hosted";

/// One version of a deployment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployVersion {
    /// 1, 2, …
    pub version: u32,
    /// Checkpoint id it runs from.
    pub checkpoint: String,
    /// What it was deployed from (`--from`, or `HEAD`), as given.
    pub source: String,
    /// Environment id while this version runs.
    pub env: Option<String>,
    /// Unix seconds of the deploy.
    pub started: u64,
    /// Its copy of the apps' built code (None: no app with a build context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<PathBuf>,
    /// Hash of the manifest it was deployed with (its text is in `manifest_store`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_hash: Option<String>,
}

/// A deployment and its versions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    /// Name (a `deploy:` target of the manifest, or any name).
    pub name: String,
    /// The version that runs.
    pub current: u32,
    /// Every version, oldest first.
    pub versions: Vec<DeployVersion>,
    /// Whether it is a preview (`vers preview create`).
    #[serde(default)]
    pub preview: bool,
    /// Unix seconds after which the daemon removes it (previews with a TTL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// Host ports of its services (service -> container port -> host port), kept from
    /// version to version where the manifest fixes none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, BTreeMap<u16, u16>>,
}

impl Deployment {
    /// The version `v`.
    pub fn version(&self, v: u32) -> Option<&DeployVersion> {
        self.versions.iter().find(|x| x.version == v)
    }
}

/// A deployment as `vers deployments` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeploymentView {
    /// Name.
    pub name: String,
    /// Version that runs.
    pub version: u32,
    /// Name of the checkpoint it runs from.
    pub checkpoint: String,
    /// What it was deployed from.
    pub source: String,
    /// Unix seconds of the deploy.
    pub started: u64,
    /// running, paused or stopped.
    pub state: String,
    /// Environment id.
    pub env: Option<String>,
    /// Environment name (`deploy/NAME/vN`).
    pub env_name: Option<String>,
    /// Every version, oldest first.
    pub versions: Vec<u32>,
    /// Whether it is a preview.
    pub preview: bool,
    /// Unix seconds after which the daemon removes it.
    pub expires: Option<u64>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Refuses hosted targets: exit 2 with what to do instead.
pub fn check_target(stack: &Stack, name: &str) -> Result<(), EngineError> {
    if let Some(d) = stack.manifest.deploy.get(name) {
        if d.target == HOSTED {
            return Err(EngineError::Manifest(format!(
                "deploy target `{name}` is `{HOSTED}`: hosted deploys need the hosted service (vers.sh), \
                 which this machine cannot reach. To deploy on this machine, add a target with \
                 `target: local` under `deploy:` (e.g. `deploy: {{{name}-local: {{target: local}}}}`) \
                 and run `vers deploy {name}-local`, or `vers export compose|kubernetes` to run it elsewhere"
            )));
        }
    }
    vers_manifest::check_name(name)
        .map_err(|e| EngineError::Manifest(format!("deployment name `{name}`: {e}")))
}

fn env_name(name: &str, version: u32, preview: bool) -> String {
    let kind = if preview { "preview" } else { "deploy" };
    format!("{kind}/{name}/v{version}")
}

/// What kind of deployment `deploy` makes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kind {
    /// A preview rather than a deployment.
    pub preview: bool,
    /// Time to live (previews).
    pub ttl: Option<std::time::Duration>,
}

/// `vers deploy NAME [--from X]`: a new version of `name` from checkpoint or tag `from`, or
/// from a fresh checkpoint of branch `from` (default: of HEAD). The previous version stops;
/// its checkpoint stays for `rollback`.
pub async fn deploy(
    stack: &Stack,
    name: &str,
    from: Option<&str>,
    kind: Kind,
    progress: &dyn Progress,
) -> Result<DeploymentView, EngineError> {
    check_target(stack, name)?;
    let st = state::read(&stack.project.state_dir)?;
    if let Some(d) = st.deployments.get(name) {
        if d.preview != kind.preview {
            let what = if d.preview {
                "a preview"
            } else {
                "a deployment"
            };
            return Err(EngineError::Failed(format!(
                "`{name}` is already {what}; remove it first or pick another name"
            )));
        }
    }
    let version = st
        .deployments
        .get(name)
        .and_then(|d| d.versions.iter().map(|v| v.version).max())
        .unwrap_or(0)
        + 1;
    let tag = format!(
        "{}-{name}-v{version}",
        if kind.preview { "preview" } else { "deploy" }
    );
    let (ckpt, source) = match from {
        Some(f) => match st.find_checkpoint(f) {
            Some(c) => (c.clone(), f.to_string()),
            None if st.find_env(f).is_some() => (
                branches::commit_env(
                    stack,
                    Some(f),
                    &tag,
                    Some(format!("deploy {name} v{version}")),
                    false,
                )
                .await?,
                f.to_string(),
            ),
            None => {
                return Err(EngineError::NotFound(format!(
                    "--from {f}: no checkpoint, tag or branch of that name"
                )))
            }
        },
        None => {
            if st.head.is_none() {
                return Err(EngineError::Failed(
                    "nothing to deploy: start the stack with `vers up` first, or pass --from TAG"
                        .into(),
                ));
            }
            (
                branches::commit_env(
                    stack,
                    None,
                    &tag,
                    Some(format!("deploy {name} v{version}")),
                    false,
                )
                .await?,
                "HEAD".to_string(),
            )
        }
    };
    drop(st);
    let manifest_hash = crate::manifest_store::save(&stack.project).ok();
    let dir = version_dir(stack, name, version);
    let code = match snapshot_code(stack, &ckpt.services, &dir.join("code"), progress).await {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    let (previous, ports) = take_current(stack, name)?;
    if let Some(old) = previous {
        stack.destroy_env(&old).await?;
    }
    let started = start_version(
        stack,
        &env_name(name, version, kind.preview),
        &ckpt,
        code.as_deref(),
        &ports,
        progress,
    )
    .await;
    let (env, ports) = match started {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    {
        let mut g = state::lock(&stack.project.state_dir)?;
        let d = g
            .state
            .deployments
            .entry(name.to_string())
            .or_insert_with(|| Deployment {
                name: name.to_string(),
                current: 0,
                versions: Vec::new(),
                preview: kind.preview,
                expires: None,
                ports: BTreeMap::new(),
            });
        d.expires = kind.ttl.map(|t| now() + t.as_secs().max(1));
        d.versions.push(DeployVersion {
            version,
            checkpoint: ckpt.id.clone(),
            source,
            env: Some(env),
            started: now(),
            code,
            manifest_hash,
        });
        d.current = version;
        d.ports = ports;
        g.save()?;
    }
    view(stack, name)
}

/// Where version `version` of deployment `name` keeps its files (its code snapshot).
fn version_dir(stack: &Stack, name: &str, version: u32) -> PathBuf {
    stack
        .project
        .state_dir
        .join("deployments")
        .join(name)
        .join(format!("v{version}"))
}

/// Host ports by service and container port.
pub type HostPorts = BTreeMap<String, BTreeMap<u16, u16>>;

/// Marks the current version of `name` as no longer running and returns its environment
/// (to stop before the next version takes its host ports) and the deployment's ports.
fn take_current(stack: &Stack, name: &str) -> Result<(Option<String>, HostPorts), EngineError> {
    let mut g = state::lock(&stack.project.state_dir)?;
    let Some(d) = g.state.deployments.get_mut(name) else {
        return Ok((None, BTreeMap::new()));
    };
    let current = d.current;
    let previous = d
        .versions
        .iter_mut()
        .find(|v| v.version == current)
        .and_then(|v| v.env.take());
    let ports = d.ports.clone();
    g.save()?;
    Ok((previous, ports))
}

/// The build directories of the apps among `services`: each build context, or the npm
/// workspace root a detected build runs at; none inside another.
fn code_dirs(stack: &Stack, services: &[String]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for name in services {
        let Some(svc) = stack.manifest.services.get(name) else {
            continue;
        };
        let Some(build) = svc.build.as_ref().filter(|_| crate::topology::is_app(svc)) else {
            continue;
        };
        let context = stack.project.dir.join(&build.context);
        let dir = match &build.command {
            Some(_) => context,
            None => vers_catalog::app::build_dir(&context),
        };
        dirs.push(dir.canonicalize().unwrap_or(dir));
    }
    dirs.sort();
    dirs.dedup();
    let all = dirs.clone();
    dirs.retain(|d| !all.iter().any(|o| o != d && d.starts_with(o)));
    dirs
}

/// Builds the apps among `services` (when their inputs changed) and copies each build
/// directory into `dest`, at its absolute path under it, leaving out `.vers` and `.git`.
/// None when no service is an app with a build context.
async fn snapshot_code(
    stack: &Stack,
    services: &[String],
    dest: &Path,
    progress: &dyn Progress,
) -> Result<Option<PathBuf>, EngineError> {
    let dirs = code_dirs(stack, services);
    if dirs.is_empty() {
        return Ok(None);
    }
    crate::build::build_apps(stack, services, false, progress).await?;
    let state_dir = stack
        .project
        .state_dir
        .canonicalize()
        .unwrap_or_else(|_| stack.project.state_dir.clone());
    for dir in &dirs {
        let target = environment::code_path(dest, dir);
        std::fs::create_dir_all(&target).map_err(|e| EngineError::io(&target, e))?;
        let mut sources = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| EngineError::io(dir, e))? {
            let entry = entry.map_err(|e| EngineError::io(dir, e))?;
            let path = entry.path();
            if entry.file_name() == ".git" || entry.file_name() == ".vers" || path == state_dir {
                continue;
            }
            sources.push(path);
        }
        if sources.is_empty() {
            continue;
        }
        let out = tokio::process::Command::new("cp")
            .args(["-a", "--reflink=auto", "--"])
            .args(&sources)
            .arg(&target)
            .output()
            .await
            .map_err(|e| EngineError::Failed(format!("copying {}: {e}", dir.display())))?;
        if !out.status.success() {
            return Err(EngineError::Failed(format!(
                "copying the built code of {} into {}: {}",
                dir.display(),
                target.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    progress.event(Event::Info(format!(
        "code of {} kept in {}",
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        dest.display()
    )));
    Ok(Some(dest.to_path_buf()))
}

/// Starts environment `env_name` from checkpoint `ckpt`, its apps run from `code` (else the
/// working tree), forwarding each service's ports to the host ports in `ports` that are still
/// free (others get new ones). Returns the environment and the host ports it got.
async fn start_version(
    stack: &Stack,
    env_name: &str,
    ckpt: &CheckpointRecord,
    code: Option<&Path>,
    ports: &BTreeMap<String, BTreeMap<u16, u16>>,
    progress: &dyn Progress,
) -> Result<(String, HostPorts), EngineError> {
    let services = ckpt.services.clone();
    let id = stack.new_env(
        env_name,
        false,
        Some(&ckpt.id),
        &services,
        false,
        &ckpt.matrix,
    )?;
    let result = async {
        if let Some(code) = code {
            let link = stack.project.code_link(&id);
            if let Some(parent) = link.parent() {
                std::fs::create_dir_all(parent).map_err(|e| EngineError::io(parent, e))?;
            }
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(code, &link).map_err(|e| EngineError::io(&link, e))?;
        }
        let mut ctx = stack.env_context(&id, env_name, &ckpt.matrix, BTreeMap::new());
        ctx.host_ports = wanted_ports(stack, &services, ports, progress);
        let engines = environment::preflight(&ctx, &services)?;
        stack.boot(&ctx, &services, &engines, progress).await?;
        host_ports_of(stack, &id).await
    }
    .await;
    match result {
        Ok(ports) => Ok((id, ports)),
        Err(e) => {
            let _ = stack.destroy_env(&id).await;
            Err(e)
        }
    }
}

/// The host ports a version of a deployment asks for: its remembered ones, then the
/// manifest's fixed `ports:`, each only while nothing holds it. A deployment or preview never
/// takes a port from HEAD or from another deployment (they would take it back and forth, and
/// a preview's would be lost when it expires): it gets a free port instead, and says so.
fn wanted_ports(
    stack: &Stack,
    services: &[String],
    remembered: &BTreeMap<String, BTreeMap<u16, u16>>,
    progress: &dyn Progress,
) -> BTreeMap<String, BTreeMap<u16, u16>> {
    let mut out = free_ports(remembered, progress);
    for (name, svc) in &stack.manifest.services {
        if !services.contains(name) {
            continue;
        }
        for m in &svc.ports {
            if remembered
                .get(name)
                .is_some_and(|r| r.contains_key(&m.container))
            {
                continue;
            }
            if is_free(m.host) {
                out.entry(name.clone())
                    .or_default()
                    .insert(m.container, m.host);
            } else {
                progress.event(Event::Warning(format!(
                    "{name}: host port {} is in use (HEAD or another deployment has it); \
                     forwarding port {} to a free one (see `vers deployments`)",
                    m.host, m.container
                )));
            }
        }
    }
    out
}

fn is_free(port: u16) -> bool {
    std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// The remembered ports that nothing else holds now.
fn free_ports(
    ports: &BTreeMap<String, BTreeMap<u16, u16>>,
    progress: &dyn Progress,
) -> BTreeMap<String, BTreeMap<u16, u16>> {
    let mut out: BTreeMap<String, BTreeMap<u16, u16>> = BTreeMap::new();
    for (service, map) in ports {
        for (container, host) in map {
            if is_free(*host) {
                out.entry(service.clone())
                    .or_default()
                    .insert(*container, *host);
            } else {
                progress.event(Event::Warning(format!(
                    "{service}: host port {host} is taken by another program; forwarding port \
                     {container} to a new one"
                )));
            }
        }
    }
    out
}

/// The host ports environment `id` forwards: service -> container port -> host port.
async fn host_ports_of(
    stack: &Stack,
    id: &str,
) -> Result<BTreeMap<String, BTreeMap<u16, u16>>, EngineError> {
    let envs = stack.client.envs().await?;
    let mut out: BTreeMap<String, BTreeMap<u16, u16>> = BTreeMap::new();
    for s in envs.iter().filter(|e| e.id == id).flat_map(|e| &e.services) {
        for (container, endpoint) in &s.host_endpoints {
            if let Some(port) = endpoint
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
            {
                out.entry(s.name.clone())
                    .or_default()
                    .insert(*container, port);
            }
        }
    }
    Ok(out)
}

/// The stack as version `v` was deployed: with the manifest it was made with when vers kept
/// it, else the current one.
fn stack_of(stack: &Stack, v: &DeployVersion) -> Stack {
    let manifest = v
        .manifest_hash
        .as_deref()
        .and_then(|h| crate::manifest_store::load(&stack.project, h))
        .and_then(|text| vers_manifest::parse_str(&text, &stack.project.manifest_path).ok());
    match manifest {
        Some(m) => Stack {
            manifest: Arc::new(m),
            ..stack.clone()
        },
        None => stack.clone(),
    }
}

/// Environment id -> deployment name, for every running deployment version.
pub fn envs_of(st: &State) -> BTreeMap<String, String> {
    st.deployments
        .values()
        .flat_map(|d| {
            d.versions
                .iter()
                .filter_map(|v| v.env.clone())
                .map(|e| (e, d.name.clone()))
        })
        .collect()
}

/// `vers deploy rollback NAME [--to V]`: runs version `to` (default: the one before the
/// current) again from its own checkpoint; the current version stops.
pub async fn rollback(
    stack: &Stack,
    name: &str,
    to: Option<u32>,
    progress: &dyn Progress,
) -> Result<DeploymentView, EngineError> {
    let st = state::read(&stack.project.state_dir)?;
    let d = st
        .deployments
        .get(name)
        .ok_or_else(|| EngineError::NotFound(format!("no deployment `{name}`")))?;
    let target = match to {
        Some(v) => v,
        None => d
            .versions
            .iter()
            .map(|v| v.version)
            .filter(|v| *v < d.current)
            .max()
            .ok_or_else(|| {
                EngineError::Failed(format!(
                    "deployment `{name}` has no version before v{}",
                    d.current
                ))
            })?,
    };
    // The current version again only when it is not running (to restart it).
    let running = d
        .version(target)
        .and_then(|v| v.env.as_ref())
        .and_then(|id| st.envs.get(id))
        .is_some_and(|e| e.status != EnvStatus::Stopped);
    if target == d.current && running {
        return Err(EngineError::Failed(format!(
            "deployment `{name}` already runs v{target}"
        )));
    }
    let v = d.version(target).ok_or_else(|| {
        EngineError::NotFound(format!("deployment `{name}` has no version {target}"))
    })?;
    let ckpt = st
        .checkpoints
        .get(&v.checkpoint)
        .cloned()
        .ok_or_else(|| EngineError::NotFound(format!("v{target}'s checkpoint is gone")))?;
    let preview = d.preview;
    let v = v.clone();
    drop(st);
    let vstack = stack_of(stack, &v);
    let (previous, ports) = take_current(stack, name)?;
    if let Some(old) = previous {
        stack.destroy_env(&old).await?;
    }
    let (env, ports) = start_version(
        &vstack,
        &env_name(name, target, preview),
        &ckpt,
        v.code.as_deref(),
        &ports,
        progress,
    )
    .await?;
    {
        let mut g = state::lock(&stack.project.state_dir)?;
        if let Some(e) = g.state.envs.get_mut(&env) {
            e.manifest_hash = v.manifest_hash.clone().or(e.manifest_hash.take());
        }
        let d = g
            .state
            .deployments
            .get_mut(name)
            .ok_or_else(|| EngineError::NotFound(format!("deployment `{name}` vanished")))?;
        if let Some(v) = d.versions.iter_mut().find(|v| v.version == target) {
            v.env = Some(env);
            v.started = now();
        }
        d.current = target;
        d.ports = ports;
        g.save()?;
    }
    view(stack, name)
}

/// `vers deploy rm NAME`: stops it and forgets its versions (their checkpoints stay in the
/// checkpoint tree until pruned).
pub async fn remove(stack: &Stack, name: &str) -> Result<Vec<String>, EngineError> {
    let d = {
        let mut g = state::lock(&stack.project.state_dir)?;
        let d = g
            .state
            .deployments
            .remove(name)
            .ok_or_else(|| EngineError::NotFound(format!("no deployment `{name}`")))?;
        g.save()?;
        d
    };
    let mut stopped = Vec::new();
    for env in d.versions.iter().filter_map(|v| v.env.clone()) {
        stack.destroy_env(&env).await?;
        stopped.push(env);
    }
    let dir = stack.project.state_dir.join("deployments").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
    }
    Ok(stopped)
}

/// Every deployment, by name.
pub fn list(stack: &Stack) -> Result<Vec<DeploymentView>, EngineError> {
    let st = state::read(&stack.project.state_dir)?;
    st.deployments.keys().map(|n| view(stack, n)).collect()
}

fn view(stack: &Stack, name: &str) -> Result<DeploymentView, EngineError> {
    let st = state::read(&stack.project.state_dir)?;
    let d = st
        .deployments
        .get(name)
        .ok_or_else(|| EngineError::NotFound(format!("no deployment `{name}`")))?;
    let v = d.version(d.current).ok_or_else(|| {
        EngineError::Failed(format!("deployment `{name}` lost its current version"))
    })?;
    let env = v.env.as_ref().and_then(|id| st.envs.get(id));
    let state = match env.map(|e| e.status) {
        Some(EnvStatus::Running) => "running",
        Some(EnvStatus::Paused) => "paused",
        _ => "stopped",
    };
    Ok(DeploymentView {
        name: d.name.clone(),
        version: v.version,
        checkpoint: st
            .checkpoints
            .get(&v.checkpoint)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| v.checkpoint.clone()),
        source: v.source.clone(),
        started: v.started,
        state: state.into(),
        env: env.map(|e| e.id.clone()),
        env_name: env.map(|e| e.name.clone()),
        versions: d.versions.iter().map(|v| v.version).collect(),
        preview: d.preview,
        expires: d.expires,
    })
}

/// Names of the previews past their TTL at `now` (Unix seconds).
pub fn expired(project: &crate::project::Project, now: u64) -> Vec<String> {
    state::read(&project.state_dir)
        .map(|st| {
            st.deployments
                .values()
                .filter(|d| d.expires.is_some_and(|e| e <= now))
                .map(|d| d.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Starts again, on its own data volume and its remembered host ports, the current version
/// of every deployment whose processes are gone (the daemon that ran them died: a reboot, a
/// kill): each one's name, or why it could not start.
pub async fn restart_stopped(stack: &Stack) -> Vec<Result<String, EngineError>> {
    let Ok(st) = state::read(&stack.project.state_dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for d in st.deployments.values() {
        let Some(v) = d.version(d.current) else {
            continue;
        };
        let Some(rec) = v.env.as_ref().and_then(|id| st.envs.get(id)) else {
            continue;
        };
        if rec.status == EnvStatus::Stopped {
            out.push(restart_one(stack, d, v, rec).await.map(|_| d.name.clone()));
        }
    }
    out
}

async fn restart_one(
    stack: &Stack,
    d: &Deployment,
    v: &DeployVersion,
    rec: &state::EnvRecord,
) -> Result<(), EngineError> {
    let vstack = stack_of(stack, v);
    let mut ctx = vstack.env_context(&rec.id, &rec.name, &rec.matrix, BTreeMap::new());
    ctx.host_ports = wanted_ports(stack, &rec.services, &d.ports, &crate::progress::Silent);
    let engines = environment::preflight(&ctx, &rec.services)?;
    vstack
        .boot(&ctx, &rec.services, &engines, &crate::progress::Silent)
        .await?;
    let ports = host_ports_of(stack, &rec.id).await?;
    let mut g = state::lock(&stack.project.state_dir)?;
    if let Some(e) = g.state.envs.get_mut(&rec.id) {
        e.status = EnvStatus::Running;
    }
    if let Some(d) = g.state.deployments.get_mut(&d.name) {
        d.ports = ports;
    }
    g.save()
}

/// The daemon's reaper: first starts again the deployments a dead daemon left stopped
/// ([`restart_stopped`]), then once a second removes the previews past their TTL (processes,
/// namespaces, data), whether or not any command runs.
pub async fn reap_expired(project: crate::project::Project) {
    let mut restarted = false;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let names = expired(&project, now());
        if names.is_empty() && restarted {
            continue;
        }
        let manifest = vers_manifest::load(&project.manifest_path)
            .unwrap_or_else(|_| vers_manifest::Manifest::empty(&project.manifest_path));
        let stack = match Stack::open(project.clone(), manifest).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("preview reaper: {e}");
                continue;
            }
        };
        for name in names {
            if let Err(e) = remove(&stack, &name).await {
                eprintln!("removing expired preview {name}: {e}");
            }
        }
        if !restarted {
            restarted = true;
            for r in restart_stopped(&stack).await {
                match r {
                    Ok(name) => eprintln!("restarted deployment {name}"),
                    Err(e) => eprintln!("restarting a deployment: {e}"),
                }
            }
        }
    }
}
