//! Creating an environment (namespace, cgroup, data volume) and starting its services in
//! dependency waves, each waiting for its health check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vers_catalog::{CatalogError, EngineBinary, Exec, InstanceCtx, Probe, Template};
use vers_manifest::{Manifest, Service};
use vers_runtime::spawn::User;

use crate::error::EngineError;
use crate::exec::{self, EnvCommand, Output};
use crate::progress::{Event, Progress, ServiceEvent};
use crate::project::Project;
use crate::supervisor::client::Client;
use crate::supervisor::protocol::*;
use crate::topology::{self, Placement};

/// Marker written in a service's data directory once its template setup ran.
const READY_MARKER: &str = ".vers-ready";

/// Everything needed to act on one environment.
#[derive(Clone)]
pub struct EnvContext {
    /// The project.
    pub project: Project,
    /// The manifest (interpolated values are computed per use).
    pub manifest: Arc<Manifest>,
    /// Supervisor client.
    pub client: Client,
    /// Environment id.
    pub env_id: String,
    /// Environment display name.
    pub env_name: String,
    /// Data volume of the environment (holds one directory per service).
    pub volume: PathBuf,
    /// Service placements.
    pub placements: Arc<Vec<Placement>>,
    /// The unprivileged user engines run as.
    pub user: User,
    /// Variables available to `${...}` interpolation (BRANCH_ID, VERS_ENV...).
    pub vars: BTreeMap<String, String>,
    /// Engine overrides from a matrix combination (template or service -> version).
    pub versions: BTreeMap<String, String>,
    /// Snapshot of the apps' built code this environment runs instead of the working tree
    /// (a deployment version's): each build context at its absolute path under this root.
    pub code: Option<PathBuf>,
    /// Host ports to forward to, by service and container port, where the manifest fixes
    /// none (a deployment's remembered ports); others get any free port.
    pub host_ports: BTreeMap<String, BTreeMap<u16, u16>>,
    /// Whether the manifest's fixed host ports (`ports: ["3001:3000"]`) are bound here: in
    /// the root environment and deployments only. Branches (tests, `vers branch`, warm
    /// pools) get a free port instead, so they never fight the root for it.
    pub fixed_host_ports: bool,
}

impl EnvContext {
    /// The directory an app's build context `context` (relative to the project) is run from:
    /// in the working tree, or in the environment's code snapshot when it has one.
    pub fn build_context(&self, context: &Path) -> PathBuf {
        let dir = self.project.dir.join(context);
        match &self.code {
            Some(code) => code_path(code, &dir),
            None => dir,
        }
    }

    /// Data directory of a service.
    pub fn data_dir(&self, service: &str) -> PathBuf {
        self.volume.join(service)
    }

    /// Log file of a service replica.
    pub fn log_path(&self, service: &str, replica: u32, replicas: u32) -> PathBuf {
        let file = if replicas > 1 {
            format!("{service}-{replica}.log")
        } else {
            format!("{service}.log")
        };
        self.project.logs_dir().join(&self.env_id).join(file)
    }

    /// Interpolates `${VAR}` in a manifest string with the environment's variables, then the caller's.
    pub fn interpolate(&self, s: &str) -> Result<String, EngineError> {
        let lookup = |k: &str| self.vars.get(k).cloned().or_else(|| std::env::var(k).ok());
        vers_manifest::interpolate(s, &lookup)
            .map_err(|e| EngineError::Failed(format!("interpolating `{s}`: {e}")))
    }

    /// [`EnvContext::interpolate`] for a service's own `command` and health command: after
    /// the environment's variables, the service's `env` (`own`) is seen before the caller's,
    /// so `--port ${PORT}` is the port the service is given.
    pub fn interpolate_for_service(
        &self,
        s: &str,
        own: &BTreeMap<String, String>,
    ) -> Result<String, EngineError> {
        let lookup = |k: &str| {
            self.vars
                .get(k)
                .or_else(|| own.get(k))
                .cloned()
                .or_else(|| std::env::var(k).ok())
        };
        vers_manifest::interpolate(s, &lookup)
            .map_err(|e| EngineError::Failed(format!("interpolating `{s}`: {e}")))
    }

    /// The version a service runs: matrix override by service or template name, else the manifest's.
    pub fn version_of(&self, name: &str, svc: &Service) -> Option<String> {
        let tmpl = svc.template.as_ref()?;
        self.versions
            .get(name)
            .or_else(|| self.versions.get(&tmpl.name))
            .cloned()
            .or_else(|| tmpl.version.clone())
    }
}

/// Where directory `dir` (absolute) is kept in the code snapshot rooted at `code`.
pub fn code_path(code: &Path, dir: &Path) -> PathBuf {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    code.join(dir.strip_prefix("/").unwrap_or(&dir))
}

/// The catalog template backing a service (`app` for services built from source).
pub fn template_of(svc: &Service) -> Result<&'static dyn Template, EngineError> {
    let name = svc
        .template
        .as_ref()
        .map(|t| t.name.as_str())
        .unwrap_or("app");
    vers_catalog::template_for(name).ok_or_else(|| {
        EngineError::Failed(format!(
            "template `{name}` is accepted by the manifest but vers cannot run it on this machine yet"
        ))
    })
}

/// Checks that every engine the services need is installed, before anything starts.
pub fn preflight(
    ctx: &EnvContext,
    services: &[String],
) -> Result<BTreeMap<String, EngineBinary>, EngineError> {
    let mut found = BTreeMap::new();
    let mut missing = Vec::new();
    for name in services {
        let svc = service(&ctx.manifest, name)?;
        let tmpl = template_of(svc)?;
        match tmpl.engine(ctx.version_of(name, svc).as_deref()) {
            Ok(e) => {
                found.insert(name.clone(), e);
            }
            Err(m) => missing.push(format!("  {name}: {}", m.hint)),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(EngineError::Failed(format!(
            "missing engines; nothing was started:\n{}",
            missing.join("\n")
        )))
    }
}

/// A template's error for service `name`. A refused `config` option (one the serving
/// implementation cannot honour, found only once the engine is known) names the manifest's
/// file, line and column of the option, as validation errors do; the message already says
/// the service, the option and the fix.
pub fn catalog_failure(m: &Manifest, name: &str, e: CatalogError) -> EngineError {
    if let CatalogError::Config { key, .. } = &e {
        let at = std::fs::read_to_string(&m.path)
            .ok()
            .and_then(|src| vers_manifest::config_key_position(&src, name, key));
        let line = at.map_or(m.services.get(name).map_or(0, |s| s.line), |p| p.line);
        if line > 0 {
            let column = at.map_or(1, |p| p.column);
            return EngineError::Failed(format!("{}:{line}:{column}: {e}", m.path.display()));
        }
        return EngineError::Failed(e.to_string());
    }
    EngineError::Failed(format!("{name}: {e}"))
}

/// A service of the manifest by name.
pub fn service<'a>(m: &'a Manifest, name: &str) -> Result<&'a Service, EngineError> {
    m.services
        .get(name)
        .ok_or_else(|| EngineError::Failed(format!("no service `{name}` in the manifest")))
}

/// Registers the environment with the supervisor (namespace, hosts, cgroup, limits).
pub async fn create(ctx: &EnvContext) -> Result<(), EngineError> {
    let vm = ctx.manifest.vm.as_ref();
    let spec = EnvSpec {
        id: ctx.env_id.clone(),
        netns: ctx.project.netns_name(&ctx.env_id),
        hosts: topology::hosts_entries(&ctx.placements),
        cgroup: ctx.project.cgroup_path(&ctx.env_id),
        memory_limit: vm.and_then(|v| v.memory_mib).map(|m| m * 1024 * 1024),
        cpu_limit: vm.and_then(|v| v.vcpu).map(f64::from),
        front_net: topology::FRONT_NET.to_string(),
    };
    ctx.client.create_env(&spec).await?;
    Ok(())
}

/// Starts `services` (already closed under dependencies) in waves; each wave's services start
/// together and must be healthy before the next wave. Soft dependencies that fail only warn.
pub async fn start_services(
    ctx: &EnvContext,
    services: &[String],
    engines: &BTreeMap<String, EngineBinary>,
    progress: &dyn Progress,
) -> Result<(), EngineError> {
    let waves = vers_manifest::waves_for(&ctx.manifest, services);
    let mut failed_soft: Vec<String> = Vec::new();
    for wave in waves {
        let wave: Vec<String> = wave.into_iter().filter(|s| services.contains(s)).collect();
        let mut tasks = Vec::new();
        for name in &wave {
            let svc = service(&ctx.manifest, name)?;
            if let Some(dep) = svc.depends_on.iter().find(|d| failed_soft.contains(d)) {
                return Err(EngineError::Failed(format!(
                    "{name} depends on {dep}, which failed to start"
                )));
            }
            let engine = engines.get(name).cloned().ok_or_else(|| {
                EngineError::Failed(format!("no engine resolved for service {name}"))
            })?;
            let ctx2 = ctx.clone();
            let name2 = name.clone();
            tasks.push((
                name.clone(),
                tokio::spawn(async move { start_one(&ctx2, &name2, &engine).await }),
            ));
        }
        // Every service of the wave waits for its health at the same time, so one slow
        // starter (initdb, an app's boot) does not delay the others' readiness.
        let waits = tasks.into_iter().map(|(name, task)| async move {
            progress.event(Event::Service {
                env: ctx.env_name.clone(),
                service: name.clone(),
                state: ServiceEvent::Starting,
            });
            let result = match task.await {
                Ok(Ok(started)) => wait_healthy(ctx, &name, started, progress).await,
                Ok(Err(e)) => Err(e),
                Err(e) => Err(EngineError::Failed(format!("starting {name}: {e}"))),
            };
            (name, result)
        });
        let mut hard_error = None;
        for (name, result) in futures_util::future::join_all(waits).await {
            if let Err(e) = result {
                progress.event(Event::Service {
                    env: ctx.env_name.clone(),
                    service: name.clone(),
                    state: ServiceEvent::Failed(e.to_string()),
                });
                let only_soft = ctx
                    .manifest
                    .services
                    .iter()
                    .all(|(n, s)| !services.contains(n) || !s.depends_on.contains(&name))
                    && ctx
                        .manifest
                        .services
                        .values()
                        .any(|s| s.soft_depends_on.contains(&name));
                if only_soft {
                    progress.event(Event::Warning(format!(
                        "{name} failed to start; continuing because it is only a soft dependency: {e}"
                    )));
                    failed_soft.push(name);
                } else if hard_error.is_none() {
                    hard_error = Some(e);
                }
            }
        }
        if let Some(e) = hard_error {
            return Err(e);
        }
    }
    Ok(())
}

/// What `start_one` hands to the health wait.
struct Started {
    fresh: bool,
    engine: EngineBinary,
    instances: Vec<InstanceCtx>,
    began: Instant,
}

fn instance_ctx(
    ctx: &EnvContext,
    name: &str,
    svc: &Service,
    p: &Placement,
    replica: u32,
) -> Result<InstanceCtx, EngineError> {
    let mut env = BTreeMap::new();
    for (k, v) in &svc.env {
        env.insert(k.clone(), ctx.interpolate(v)?);
    }
    let listen = p.backends.get(replica as usize).copied().unwrap_or(p.front);
    // Every instance has a network namespace of its own: it binds every address there.
    let bind = std::net::Ipv4Addr::UNSPECIFIED;
    let run_dir = ctx
        .project
        .run_dir(&ctx.env_id)
        .join(format!("{name}-{replica}"));
    let build_context = svc.build.as_ref().map(|b| ctx.build_context(&b.context));
    let command = match &svc.command {
        Some(c) => Some(ctx.interpolate_for_service(c, &own_vars(svc, p, &env))?),
        None => build_context
            .as_deref()
            .and_then(vers_catalog::app::detect_command),
    };
    let memory_limit = svc
        .resources
        .as_ref()
        .and_then(|r| r.memory.as_ref())
        .and_then(|m| m.limit.or(m.request));
    Ok(InstanceCtx {
        service: name.to_string(),
        replica,
        template: svc.template.as_ref().map(|t| t.name.clone()),
        version: ctx.version_of(name, svc),
        listen,
        bind,
        ports: p.ports.clone(),
        data_dir: ctx.data_dir(name),
        run_dir,
        project_dir: ctx.project.dir.clone(),
        config: svc.config.clone(),
        env,
        user_uid: ctx.user.uid,
        user_gid: ctx.user.gid,
        vers_exe: crate::own_binary::path(),
        public_name: name.to_string(),
        memory_limit,
        command,
        build_context,
        peers: ctx
            .placements
            .iter()
            .map(|p| (p.name.clone(), p.ports.clone()))
            .collect(),
    })
}

async fn start_one(
    ctx: &EnvContext,
    name: &str,
    engine: &EngineBinary,
) -> Result<Started, EngineError> {
    let svc = service(&ctx.manifest, name)?;
    let tmpl = template_of(svc)?;
    let p = topology::find(&ctx.placements, name)
        .ok_or_else(|| EngineError::Failed(format!("no placement for {name}")))?
        .clone();
    let is_app = topology::is_app(svc);
    let data_dir = ctx.data_dir(name);
    std::fs::create_dir_all(&data_dir).map_err(|e| EngineError::io(&data_dir, e))?;
    let fresh = !data_dir.join(READY_MARKER).exists();
    if !is_app && (fresh || !owned_by(&data_dir, &ctx.user)) {
        // A branch's data comes from a checkpoint the engine user wrote: walking it would
        // cost time in proportion to the data on every start, for nothing.
        vers_runtime::spawn::chown_recursive(&data_dir, &ctx.user)
            .map_err(|e| EngineError::Failed(format!("{}: {e}", data_dir.display())))?;
    }
    let replicas = svc.replicas.max(1);
    let mut instances = Vec::new();
    let mut processes = Vec::new();
    for r in 0..replicas {
        let ictx = instance_ctx(ctx, name, svc, &p, r)?;
        std::fs::create_dir_all(&ictx.run_dir).map_err(|e| EngineError::io(&ictx.run_dir, e))?;
        if !is_app {
            vers_runtime::spawn::chown_recursive(&ictx.run_dir, &ctx.user)
                .map_err(|e| EngineError::Failed(format!("{}: {e}", ictx.run_dir.display())))?;
        }
        if r == 0 && fresh {
            let failure = |e| catalog_failure(&ctx.manifest, name, e);
            crate::init_cache::initialise_with(tmpl, &ictx, engine, &ctx.user, &failure).await?;
        }
        let launch = tmpl
            .launch(&ictx, engine)
            .map_err(|e| catalog_failure(&ctx.manifest, name, e))?;
        let companions = tmpl
            .companions(&ictx, engine)
            .map_err(|e| catalog_failure(&ctx.manifest, name, e))?;
        let pod = p
            .pods
            .get(r as usize)
            .map(|pod| pod.netns(&ctx.project.netns_name(&ctx.env_id)));
        for (k, launch) in std::iter::once(launch).chain(companions).enumerate() {
            let mut env = if is_app {
                exec::base_env(&exec::passed_through(&ctx.manifest.pass_env))
            } else {
                BTreeMap::new()
            };
            env.extend(launch.env);
            let log = ctx.log_path(name, r, replicas);
            processes.push(ProcessSpec {
                program: launch.program,
                args: launch.args,
                env,
                cwd: launch.cwd,
                engine_user: !is_app,
                log: if k == 0 {
                    log
                } else {
                    log.with_extension(format!("{k}.log"))
                },
                netns: pod.clone(),
            });
        }
        instances.push(ictx);
    }
    let host_ports = host_ports(svc, &p, ctx.host_ports.get(name), ctx.fixed_host_ports);
    let http_ports = match instances.first() {
        Some(_) if svc.healthcheck.as_ref().is_some_and(|h| h.path.is_some()) => p.ports.clone(),
        Some(first) => tmpl.http_ports(first),
        None => Vec::new(),
    };
    let kafka_ports = instances
        .first()
        .map(|first| tmpl.kafka_ports(first))
        .unwrap_or_default();
    let memory_limit = instances.first().and_then(|i| i.memory_limit);
    let cpu_limit = svc
        .resources
        .as_ref()
        .and_then(|r| r.cpu.as_ref())
        .and_then(|c| c.limit.or(c.request));
    let spec = ServiceSpec {
        name: name.to_string(),
        front: p.front,
        ports: p.ports.clone(),
        http_ports,
        kafka_ports,
        restart_after_fill: tmpl.restart_after_disk_full(),
        pods: p
            .pods
            .iter()
            .map(|pod| PodSpec {
                netns: pod.netns(&ctx.project.netns_name(&ctx.env_id)),
                veth: pod.veth.clone(),
                address: pod.address,
            })
            .collect(),
        processes,
        host_ports,
        memory_limit,
        cpu_limit,
    };
    ctx.client.start_service(&ctx.env_id, &spec).await?;
    Ok(Started {
        fresh,
        engine: engine.clone(),
        instances,
        began: Instant::now(),
    })
}

/// Whether `path` belongs to `user` (its owner and group).
fn owned_by(path: &Path, user: &User) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|m| m.uid() == user.uid && m.gid() == user.gid)
}

fn host_ports(
    svc: &Service,
    p: &Placement,
    remembered: Option<&BTreeMap<u16, u16>>,
    fixed: bool,
) -> Vec<HostPort> {
    let remembered_for = |port: u16| remembered.and_then(|r| r.get(&port)).copied();
    let mut out: Vec<HostPort> = svc
        .ports
        .iter()
        .map(|m| HostPort {
            container: m.container,
            host: if fixed {
                Some(m.host)
            } else {
                remembered_for(m.container)
            },
        })
        .collect();
    for port in &p.ports {
        if !out.iter().any(|h| h.container == *port) {
            out.push(HostPort {
                container: *port,
                host: remembered_for(*port),
            });
        }
    }
    out
}

/// Converts a template probe for one instance into a supervisor probe.
fn probe_spec(ctx: &EnvContext, probe: Probe, addr: std::net::Ipv4Addr) -> ProbeSpec {
    match probe {
        Probe::Exec(e) => ProbeSpec::Exec(ProcessSpec {
            program: e.program,
            args: e.args,
            env: with_path(e.env),
            cwd: e.cwd.unwrap_or_else(|| ctx.project.dir.clone()),
            engine_user: true,
            log: PathBuf::from("/dev/null"),
            netns: None,
        }),
        Probe::Http {
            port,
            path,
            headers,
        } => ProbeSpec::Http {
            addr,
            port,
            path,
            headers,
        },
        Probe::Tcp { port } => ProbeSpec::Tcp { addr, port },
        Probe::Exchange {
            port,
            send,
            expect_at,
            expect,
        } => ProbeSpec::Exchange {
            addr,
            port,
            send,
            expect_at,
            expect,
        },
    }
}

/// A template step (setup, quiesce) of service `name` as a command run as the engine user in
/// the pod of its first instance (so `localhost` there is the service, as in its container).
fn engine_step(ctx: &EnvContext, name: &str, step: &Exec) -> EnvCommand {
    EnvCommand {
        program: step.program.clone(),
        args: step.args.clone(),
        env: with_path(step.env.clone()),
        cwd: step.cwd.clone().unwrap_or_else(|| ctx.project.dir.clone()),
        user: Some(ctx.user.clone()),
        netns: pod_of(ctx, name, 0),
    }
}

/// What the template of service `name` sees of its replica `replica` in this environment.
pub fn instance(ctx: &EnvContext, name: &str, replica: u32) -> Result<InstanceCtx, EngineError> {
    let svc = service(&ctx.manifest, name)?;
    let p = topology::find(&ctx.placements, name)
        .ok_or_else(|| EngineError::Failed(format!("no placement for {name}")))?;
    instance_ctx(ctx, name, svc, p, replica)
}

/// Runs a client command described by a template (e.g. `psql`) against service `name`: as
/// the engine user, in the pod of its first instance, stdout and stderr captured apart.
pub async fn run_client(
    ctx: &EnvContext,
    name: &str,
    step: &Exec,
    timeout: Duration,
) -> Result<exec::Finished, EngineError> {
    let cmd = engine_step(ctx, name, step);
    exec::run_in_env(
        &ctx.project,
        &ctx.env_id,
        &cmd,
        Output::Split,
        Some(timeout),
    )
    .await
}

fn with_path(mut env: BTreeMap<String, String>) -> BTreeMap<String, String> {
    env.entry("PATH".into())
        .or_insert_with(|| "/usr/local/bin:/usr/bin:/bin".into());
    env
}

/// The namespace of replica `replica`'s pod of service `name`.
pub fn pod_of(ctx: &EnvContext, name: &str, replica: u32) -> Option<String> {
    topology::find(&ctx.placements, name)
        .and_then(|p| p.pods.get(replica as usize))
        .map(|pod| pod.netns(&ctx.project.netns_name(&ctx.env_id)))
}

/// What `${…}` in a service's own command sees besides the environment's variables: its
/// interpolated `env`, and for an app the `PORT` and `HOST` it is started with.
fn own_vars(
    svc: &Service,
    p: &Placement,
    env: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut own = env.clone();
    if svc.template.is_none() {
        own.insert(
            "PORT".into(),
            p.ports
                .first()
                .copied()
                .unwrap_or(vers_manifest::DEFAULT_APP_PORT)
                .to_string(),
        );
        own.insert("HOST".into(), "0.0.0.0".into());
    }
    own
}

/// The placement of service `name` in the environment.
fn p_of<'a>(ctx: &'a EnvContext, name: &str) -> Result<&'a Placement, EngineError> {
    crate::topology::find(&ctx.placements, name)
        .ok_or_else(|| EngineError::Failed(format!("no placement for service {name}")))
}

/// The probes of a service: the manifest's `healthcheck` (command or path) else the template's.
fn probes(ctx: &EnvContext, name: &str, started: &Started) -> Result<Vec<ProbeSpec>, EngineError> {
    let svc = service(&ctx.manifest, name)?;
    let tmpl = template_of(svc)?;
    let mut out = Vec::new();
    for inst in &started.instances {
        let addr = inst.listen;
        let hc = svc.healthcheck.as_ref();
        if let Some(cmd) = hc.and_then(|h| h.command.as_ref()) {
            // A service's own health command runs in its pod, as in a container of its own:
            // `localhost` there is the service itself.
            let cmd =
                ctx.interpolate_for_service(cmd, &own_vars(svc, p_of(ctx, name)?, &inst.env))?;
            let mut env = exec::passed_through(&ctx.manifest.pass_env);
            env.extend(tmpl.connection_env(inst));
            env.extend(inst.env.clone());
            out.push(ProbeSpec::Exec(ProcessSpec {
                program: PathBuf::from("/bin/sh"),
                args: vec!["-c".into(), cmd],
                env: with_path(exec::base_env(&env)),
                cwd: ctx.project.dir.clone(),
                engine_user: false,
                log: PathBuf::from("/dev/null"),
                netns: pod_of(ctx, name, inst.replica),
            }));
        } else if let Some(path) = hc.and_then(|h| h.path.as_ref()) {
            out.push(ProbeSpec::Http {
                addr,
                port: inst.ports.first().copied().unwrap_or(3000),
                path: path.clone(),
                headers: Vec::new(),
            });
        } else if svc.template.is_none() {
            // An app: healthy when it accepts on its first port; one that declares no port
            // may be a worker instead (see `WORKER_SETTLE`).
            let settle = if vers_manifest::declares_port(svc) {
                u64::MAX
            } else {
                worker_settle(ctx, name).as_millis() as u64
            };
            out.push(ProbeSpec::TcpOrRunning {
                addr,
                port: inst.port(0, vers_manifest::DEFAULT_APP_PORT),
                service: name.to_string(),
                replica: inst.replica,
                settle_ms: settle,
            });
        } else {
            out.push(probe_spec(ctx, tmpl.health(inst, &started.engine), addr));
        }
    }
    Ok(out)
}

/// How long an app that declares no port and no health check must run, not listening on
/// its `PORT`, before it counts as a worker that is up: long enough for a slow web app on a
/// busy machine to bind first.
const WORKER_SETTLE: Duration = Duration::from_secs(10);

/// The same for an app this project has already seen run as a worker (listening on
/// nothing): only long enough to catch a crash at start.
const KNOWN_WORKER_SETTLE: Duration = Duration::from_millis(500);

fn worker_settle(ctx: &EnvContext, name: &str) -> Duration {
    if crate::workers::listed(&ctx.project.state_dir, name) {
        KNOWN_WORKER_SETTLE
    } else {
        WORKER_SETTLE
    }
}

/// Tells the user, the first time, that app `name` was taken for a worker (running,
/// listening on nothing); the daemon then watches it ([`crate::workers`]).
fn tell_worker(ctx: &EnvContext, name: &str, progress: &dyn Progress) {
    if !crate::workers::listed(&ctx.project.state_dir, name) {
        progress.event(Event::Info(format!(
            "{name} declares no port and no healthcheck and listens on no port after {}s: \
             started as a worker (give it `ports:` or a `healthcheck:` to wait for it to serve)",
            WORKER_SETTLE.as_secs()
        )));
    }
}

/// Checks a running service once: `healthy` when every replica passes its probe.
pub async fn check_health(ctx: &EnvContext, name: &str, engine: &EngineBinary) -> bool {
    let Ok(svc) = service(&ctx.manifest, name) else {
        return false;
    };
    let Some(p) = topology::find(&ctx.placements, name) else {
        return false;
    };
    let mut instances = Vec::new();
    for r in 0..svc.replicas.max(1) {
        match instance_ctx(ctx, name, svc, p, r) {
            Ok(i) => instances.push(i),
            Err(_) => return false,
        }
    }
    let started = Started {
        fresh: false,
        engine: engine.clone(),
        instances,
        began: Instant::now(),
    };
    let Ok(probes) = probes(ctx, name, &started) else {
        return false;
    };
    for probe in probes {
        let req = ProbeRequest {
            probe,
            timeout_ms: 2000,
        };
        match ctx.client.probe(&ctx.env_id, &req).await {
            Ok(r) if r.healthy => {}
            _ => return false,
        }
    }
    true
}

/// Pause between health checks while a service is young (see [`EAGER_PERIOD`]).
const EAGER_PAUSE: Duration = Duration::from_millis(4);

/// How long after its start a service is checked every [`EAGER_PAUSE`].
const EAGER_PERIOD: Duration = Duration::from_secs(1);

/// Waits until every replica of a service passes its probe, then runs template setup on a
/// fresh data directory. Fails early when the service's processes have all exited.
async fn wait_healthy(
    ctx: &EnvContext,
    name: &str,
    started: Started,
    progress: &dyn Progress,
) -> Result<(), EngineError> {
    let svc = service(&ctx.manifest, name)?;
    let hc = svc.healthcheck.as_ref();
    let interval = hc
        .and_then(|h| h.interval)
        .unwrap_or(Duration::from_millis(100))
        .max(Duration::from_millis(20));
    // Without an interval of the manifest's, checks come every few milliseconds for the
    // first second (a branch's engines are up within tens of milliseconds, and a check that
    // comes late is time the caller waits for nothing), then back off to `interval`.
    // Commands start a process per check: those back off from the first check on.
    let probes = probes(ctx, name, &started)?;
    let eager = hc.and_then(|h| h.interval).is_none()
        && !probes.iter().any(|p| matches!(p, ProbeSpec::Exec(_)));
    let mut pause = if hc.and_then(|h| h.interval).is_some() {
        interval
    } else {
        EAGER_PAUSE
    };
    let timeout = hc.and_then(|h| h.timeout).unwrap_or(Duration::from_secs(5));
    let start_period = hc.and_then(|h| h.start_period).unwrap_or_default();
    let budget = match hc.and_then(|h| h.retries) {
        Some(r) => start_period + (interval + timeout.min(interval * 4)) * r.max(1),
        None => Duration::from_secs(
            std::env::var("VERS_HEALTH_TIMEOUT_SECS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(120),
        )
        .max(start_period),
    };
    let deadline = started.began + budget;
    let mut pending: Vec<usize> = (0..probes.len()).collect();
    let mut last_detail = String::new();
    loop {
        let mut still = Vec::new();
        for i in pending {
            let r = ctx
                .client
                .probe(
                    &ctx.env_id,
                    &ProbeRequest {
                        probe: probes[i].clone(),
                        timeout_ms: timeout.as_millis() as u64,
                    },
                )
                .await?;
            if !r.healthy && r.fatal {
                return Err(EngineError::Failed(format!(
                    "{}; last lines of its log:\n{}",
                    r.detail,
                    log_tail(ctx, name, 15)
                )));
            } else if !r.healthy {
                last_detail = r.detail;
                still.push(i);
            } else if r.running_only {
                tell_worker(ctx, name, progress);
            } else if matches!(probes[i], ProbeSpec::TcpOrRunning { .. }) {
                // Seen serving: whatever it was taken for once, its starts wait for it.
                crate::workers::set_listed(&ctx.project.state_dir, name, false);
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if all_exited(ctx, name).await {
            return Err(EngineError::Failed(format!(
                "{name} exited before becoming healthy; last lines of its log:\n{}",
                log_tail(ctx, name, 15)
            )));
        }
        if Instant::now() > deadline {
            return Err(EngineError::Failed(format!(
                "{name} did not become healthy within {budget:?} (last check: {}); last lines of its log:\n{}",
                if last_detail.is_empty() { "failed" } else { last_detail.as_str() },
                log_tail(ctx, name, 15)
            )));
        }
        tokio::time::sleep(pause).await;
        if !eager || started.began.elapsed() > EAGER_PERIOD {
            pause = (pause * 2).min(interval);
        }
    }
    let elapsed = started.began.elapsed();
    if started.fresh {
        progress.event(Event::Service {
            env: ctx.env_name.clone(),
            service: name.to_string(),
            state: ServiceEvent::Setup,
        });
        run_setup(ctx, name, &started).await?;
    }
    progress.event(Event::Service {
        env: ctx.env_name.clone(),
        service: name.to_string(),
        state: ServiceEvent::Healthy(elapsed),
    });
    Ok(())
}

async fn run_setup(ctx: &EnvContext, name: &str, started: &Started) -> Result<(), EngineError> {
    let svc = service(&ctx.manifest, name)?;
    let tmpl = template_of(svc)?;
    if let Some(inst) = started.instances.first() {
        let steps = tmpl
            .setup(inst, &started.engine)
            .map_err(|e| catalog_failure(&ctx.manifest, name, e))?;
        for step in steps {
            let cmd = engine_step(ctx, name, &step);
            let done = exec::run_in_env(
                &ctx.project,
                &ctx.env_id,
                &cmd,
                Output::Capture,
                Some(Duration::from_secs(300)),
            )
            .await?;
            if done.code != Some(0) {
                return Err(EngineError::Failed(format!(
                    "{name}: setup step `{} {}` failed:\n{}",
                    step.program.display(),
                    step.args.join(" "),
                    done.output.trim()
                )));
            }
        }
    }
    let marker = ctx.data_dir(name).join(READY_MARKER);
    std::fs::write(&marker, b"").map_err(|e| EngineError::io(&marker, e))?;
    Ok(())
}

async fn all_exited(ctx: &EnvContext, name: &str) -> bool {
    let Ok(envs) = ctx.client.envs().await else {
        return false;
    };
    envs.iter()
        .filter(|e| e.id == ctx.env_id)
        .flat_map(|e| e.services.iter())
        .filter(|s| s.name == name)
        .any(|s| !s.processes.is_empty() && s.processes.iter().all(|p| !p.alive))
}

/// The last `n` lines of a service's log in an environment.
pub fn log_tail(ctx: &EnvContext, name: &str, n: usize) -> String {
    let replicas = ctx
        .manifest
        .services
        .get(name)
        .map(|s| s.replicas.max(1))
        .unwrap_or(1);
    let path = ctx.log_path(name, 0, replicas);
    let tail = match crate::logfile::tail_lines(&path, Some(n)) {
        Ok(lines) => lines.join("\n"),
        Err(e) => format!("({}: {e})", path.display()),
    };
    if tail.is_empty() {
        format!("({} is empty)", path.display())
    } else {
        tail
    }
}

/// Runs every template's quiesce step (e.g. PostgreSQL CHECKPOINT, LocalStack writing its
/// state to disk) before a snapshot, and returns the steps that failed, each as a line
/// naming its service: a snapshot after a failed one would miss what that service keeps in
/// memory. A service that is paused or stopped (a chaos fault) is skipped: it cannot answer,
/// and waiting for it would hold the checkpoint for the step's whole timeout.
pub async fn quiesce(
    ctx: &EnvContext,
    services: &[String],
    engines: &BTreeMap<String, EngineBinary>,
) -> Vec<String> {
    let mut failed = Vec::new();
    let idle: Vec<String> = match ctx.client.envs().await {
        Ok(envs) => envs
            .iter()
            .filter(|e| e.id == ctx.env_id)
            .flat_map(|e| e.services.iter())
            .filter(|s| s.state == "paused" || s.state == "stopped")
            .map(|s| s.name.clone())
            .collect(),
        Err(_) => Vec::new(),
    };
    for name in services {
        if idle.contains(name) {
            continue;
        }
        let Ok(svc) = service(&ctx.manifest, name) else {
            continue;
        };
        let Ok(tmpl) = template_of(svc) else { continue };
        let Some(engine) = engines.get(name) else {
            continue;
        };
        let Some(p) = topology::find(&ctx.placements, name) else {
            continue;
        };
        let Ok(inst) = instance_ctx(ctx, name, svc, p, 0) else {
            continue;
        };
        for step in tmpl.quiesce(&inst, engine) {
            let cmd = engine_step(ctx, name, &step);
            let done = exec::run_in_env(
                &ctx.project,
                &ctx.env_id,
                &cmd,
                Output::Capture,
                Some(Duration::from_secs(30)),
            )
            .await;
            let why = match done {
                Ok(d) if d.code == Some(0) => continue,
                _ if !tmpl.quiesce_required() => continue,
                Ok(d) if d.timed_out => "timed out after 30 s".to_string(),
                Ok(d) => format!(
                    "exited with {}: {}",
                    d.code.unwrap_or(-1),
                    last_line(&d.output)
                ),
                Err(e) => e.to_string(),
            };
            failed.push(format!("{name}: its quiesce step {why}"));
        }
    }
    failed
}

/// The last non-empty line of a command's output, for a one-line error.
fn last_line(output: &str) -> &str {
    output
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// Environment variables a test command, hook or script sees for the services of an
/// environment: `VERS_<NAME>_HOST` / `_PORT`.
pub fn service_vars(placements: &[Placement]) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for p in placements {
        let key = p.name.to_uppercase().replace('-', "_");
        vars.insert(format!("VERS_{key}_HOST"), p.name.clone());
        if let Some(port) = p.ports.first() {
            vars.insert(format!("VERS_{key}_PORT"), port.to_string());
        }
    }
    vars
}
