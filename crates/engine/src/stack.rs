//! Bringing a manifest's stack to a checkpoint: reuse the longest cached prefix of the
//! checkpoint chain, start an environment there, run the remaining triggers and take the
//! remaining checkpoints. `up` keeps the environment as HEAD; tests use it only to make sure
//! the checkpoints they fork from exist.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use vers_catalog::EngineBinary;
use vers_manifest::{AfterSelector, Manifest};
use vers_runtime::snapshot::Snapshotter;
use vers_runtime::spawn::User;

use crate::checkpoint::{self, ChainStep, NewCheckpoint};
use crate::environment::{self, EnvContext};
use crate::error::EngineError;
use crate::exec::{self, EnvCommand, Output};
use crate::progress::{CheckpointEvent, Event, Progress};
use crate::project::Project;
use crate::state::{self, EnvRecord, EnvStatus};
use crate::supervisor::client::{self, Client};
use crate::topology;

/// Variable through which the daemon tells a worker the id of the test run it executes.
pub const RUN_ID_VAR: &str = "VERS_RUN_ID";

/// The project, its manifest and the machinery shared by every operation.
#[derive(Clone)]
pub struct Stack {
    /// The project.
    pub project: Project,
    /// Its validated manifest.
    pub manifest: Arc<Manifest>,
    /// Supervisor client.
    pub client: Client,
    /// The engine user.
    pub user: User,
    /// The snapshot store.
    pub snap: Arc<dyn Snapshotter>,
}

impl Stack {
    /// Opens the stack: connects to (or starts) the supervisor and opens the snapshot store.
    pub async fn open(project: Project, manifest: Manifest) -> Result<Stack, EngineError> {
        let client = client::connect_or_start(&project).await?;
        let user = vers_runtime::spawn::engine_user()
            .map_err(|e| EngineError::Failed(format!("engine user: {e}")))?;
        let snap: Arc<dyn Snapshotter> = Arc::from(crate::storage::snapshotter(&project)?);
        Ok(Stack {
            project,
            manifest: Arc::new(manifest),
            client,
            user,
            snap,
        })
    }

    /// A context for environment `env_id` (named `name`) with extra interpolation variables.
    pub fn env_context(
        &self,
        env_id: &str,
        name: &str,
        versions: &BTreeMap<String, String>,
        extra_vars: BTreeMap<String, String>,
    ) -> EnvContext {
        let placements = topology::placements(&self.manifest);
        let mut vars = environment::service_vars(&placements);
        vars.insert("VERS_ENV".into(), env_id.to_string());
        vars.insert("BRANCH_ID".into(), env_id.to_string());
        vars.extend(extra_vars);
        EnvContext {
            project: self.project.clone(),
            manifest: self.manifest.clone(),
            client: self.client.clone(),
            env_id: env_id.to_string(),
            env_name: name.to_string(),
            volume: self.snap.volume_path(env_id),
            placements: Arc::new(placements),
            user: self.user.clone(),
            vars,
            versions: versions.clone(),
            code: std::fs::read_link(self.project.code_link(env_id)).ok(),
            host_ports: BTreeMap::new(),
            fixed_host_ports: name == "root" && versions.is_empty(),
        }
    }

    /// A service of the manifest by name; an unknown name is a usage error listing the known ones.
    pub fn require_service(&self, name: &str) -> Result<&vers_manifest::Service, EngineError> {
        self.manifest
            .services
            .get(name)
            .ok_or_else(|| unknown_service(&self.manifest, name))
    }

    /// Services to start: `only` and their dependencies, or all.
    pub fn closure(&self, only: &[String]) -> Result<Vec<String>, EngineError> {
        for s in only {
            self.require_service(s)?;
        }
        let roots: Vec<String> = if only.is_empty() {
            self.manifest.services.keys().cloned().collect()
        } else {
            only.to_vec()
        };
        Ok(vers_manifest::waves_for(&self.manifest, &roots)
            .into_iter()
            .flatten()
            .collect())
    }

    /// Creates a new environment record and its data volume (empty or cloned from `from`).
    pub fn new_env(
        &self,
        name: &str,
        root: bool,
        from: Option<&str>,
        services: &[String],
        test_run: bool,
        matrix: &BTreeMap<String, String>,
    ) -> Result<String, EngineError> {
        crate::budget::check_fits_machine(&self.manifest)?;
        let manifest_hash = crate::manifest_store::save(&self.project).ok();
        let mut g = state::lock(&self.project.state_dir)?;
        crate::cleanup::sweep_pending(&mut g.state, self.snap.as_ref());
        let id = g.state.new_id("e");
        // Saved before the volume exists: a process killed before the record below is
        // written leaves a pending volume the next sweep removes, and a used id.
        g.state
            .pending
            .insert(id.clone(), state::Pending::mine(state::PendingKind::Volume));
        g.save()?;
        match from {
            Some(ckpt) => self.snap.clone_volume(ckpt, &id).map(|_| ()),
            None => self.snap.create_volume(&id).map(|_| ()),
        }
        .map_err(|e| EngineError::Failed(format!("creating the data volume of {name}: {e}")))?;
        crate::supervisor::diskfill::remove_fill_files(&self.snap.volume_path(&id));
        crate::error::failpoint("env-after-volume")?;
        let size = crate::chaos::environment_volume_bytes(&self.manifest);
        match self.snap.set_volume_size(&id, Some(size)) {
            Ok(enforced) => tracing::debug!(env = %id, size, enforced, "volume size"),
            Err(e) => tracing::warn!("sizing the data volume of {name}: {e}"),
        }
        g.state.envs.insert(
            id.clone(),
            EnvRecord {
                id: id.clone(),
                name: name.to_string(),
                root,
                parent_checkpoint: from.map(str::to_string),
                services: services.to_vec(),
                status: EnvStatus::Running,
                created: state::now(),
                restored: 0,
                matrix: matrix.clone(),
                test_run,
                manifest_hash,
                run: if test_run {
                    std::env::var(RUN_ID_VAR).ok().filter(|r| !r.is_empty())
                } else {
                    None
                },
                warm: None,
            },
        );
        g.state.pending.remove(&id);
        g.save()?;
        Ok(id)
    }

    /// Stops an environment, deletes its volume and forgets it.
    pub async fn destroy_env(&self, id: &str) -> Result<(), EngineError> {
        let stopped = self.client.delete_env(id).await;
        crate::error::failpoint("delete-after-stop")?;
        let _ = std::fs::remove_dir_all(self.project.run_dir(id));
        let _ = std::fs::remove_dir_all(self.project.views_dir(id));
        let _ = std::fs::remove_file(self.project.code_link(id));
        let deleted = self.snap.delete_volume(id);
        crate::error::failpoint("delete-after-volume")?;
        let mut g = state::lock(&self.project.state_dir)?;
        g.state.envs.remove(id);
        if g.state.head.as_deref() == Some(id) {
            g.state.head = None;
        }
        g.save()?;
        if let Err(e) = stopped {
            if !e.to_string().contains("not found") {
                return Err(e);
            }
        }
        deleted.map_err(|e| EngineError::Failed(format!("deleting volume {id}: {e}")))
    }

    /// Starts again an environment whose processes are gone (its daemon died, see
    /// [`crate::cleanup::clean_leftovers`]) on the data its volume kept: a new namespace and
    /// its services, each recovering its data as after a crash of its own (nothing is set up
    /// afresh). It runs the manifest it was started with when vers kept a copy of it. On
    /// failure whatever was started is stopped again and the environment stays `stopped`.
    pub async fn resume_env(
        &self,
        rec: &EnvRecord,
        progress: &dyn Progress,
    ) -> Result<(), EngineError> {
        let volume = self.snap.volume_path(&rec.id);
        if !volume.is_dir() {
            return Err(EngineError::Failed(format!(
                "environment {} ({}) cannot be started again: its data volume {} is gone; \
                 delete it with `vers branch delete {} --force`",
                rec.name,
                rec.id,
                volume.display(),
                rec.name
            )));
        }
        let stack = self.as_started(rec);
        let ctx = stack.env_context(&rec.id, &rec.name, &rec.matrix, BTreeMap::new());
        let engines = environment::preflight(&ctx, &rec.services)?;
        // Nothing of it should be left in the daemon; if something is, it goes first.
        if let Err(e) = self.client.delete_env(&rec.id).await {
            if !e.to_string().contains("not found") {
                return Err(e);
            }
        }
        progress.event(Event::Info(format!(
            "starting {} ({}) again on its data",
            rec.name, rec.id
        )));
        // A concurrent resume of the same environment fails here, touching nothing of it.
        environment::create(&ctx).await.map_err(|e| {
            EngineError::Failed(format!("starting {} ({}) again: {e}", rec.name, rec.id))
        })?;
        if let Err(e) = environment::start_services(&ctx, &rec.services, &engines, progress).await {
            let _ = self.client.delete_env(&rec.id).await;
            return Err(EngineError::Failed(format!(
                "environment {} ({}) could not be started again on its data, and stays stopped \
                 (logs in {}): {e}",
                rec.name,
                rec.id,
                self.project.logs_dir().join(&rec.id).display()
            )));
        }
        let mut g = state::lock(&self.project.state_dir)?;
        if let Some(e) = g.state.envs.get_mut(&rec.id) {
            e.status = EnvStatus::Running;
        }
        g.save()
    }

    /// This stack with the manifest environment `rec` was started with, when vers kept a
    /// copy of it that parses (else this stack's).
    fn as_started(&self, rec: &EnvRecord) -> Stack {
        let kept = rec
            .manifest_hash
            .as_deref()
            .and_then(|h| crate::manifest_store::load(&self.project, h))
            .and_then(|text| vers_manifest::parse_str(&text, &self.project.manifest_path).ok());
        match kept {
            Some(m) => Stack {
                manifest: Arc::new(m),
                ..self.clone()
            },
            None => self.clone(),
        }
    }

    /// Starts services of a new environment whose record and volume exist.
    pub async fn boot(
        &self,
        ctx: &EnvContext,
        services: &[String],
        engines: &BTreeMap<String, EngineBinary>,
        progress: &dyn Progress,
    ) -> Result<(), EngineError> {
        environment::create(ctx).await?;
        crate::error::failpoint("boot-after-create")?;
        environment::start_services(ctx, services, engines, progress).await
    }
}

/// What `build` should do.
pub struct BuildRequest<'a> {
    /// Stop after this checkpoint (None: the whole chain).
    pub target: Option<&'a str>,
    /// Services to run (closed under dependencies).
    pub services: Vec<String>,
    /// Keep the environment afterwards (as the new root) instead of removing it.
    pub keep: bool,
    /// Take no checkpoints at all (`up --no-checkpoints`).
    pub no_checkpoints: bool,
    /// Matrix versions.
    pub versions: BTreeMap<String, String>,
    /// Environment name.
    pub name: String,
    /// Reuse only checkpoints taken at or after this time (unix seconds): `--rebuild`.
    pub fresh_since: Option<u64>,
    /// A stopped root environment (its daemon died) to start again on its data instead of
    /// making a new one, when that gives what a new one would plus the writes made since
    /// (see [`resumable`]); otherwise it is deleted before the new one is made.
    pub resume: Option<EnvRecord>,
}

/// Outcome of `build`.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    /// The environment kept (when `keep`).
    pub env: Option<String>,
    /// Each checkpoint of the chain up to the target: name, id, reused from cache.
    pub checkpoints: Vec<(String, String, bool)>,
    /// Cache key of the last checkpoint.
    pub last_key: Option<String>,
}

/// Says which services a stand-in serves instead of the real engine (SPEC 8: never silently).
fn report_stand_ins(engines: &BTreeMap<String, EngineBinary>, progress: &dyn Progress) {
    for (service, engine) in engines {
        if let Some(s) = &engine.stand_in {
            progress.event(Event::Info(format!(
                "  {service} ({}@{}) is served by {}, a stand-in: {}",
                engine.template, engine.major, s.implementation, s.note
            )));
        }
    }
}

/// Brings the stack to `req.target` (see module docs).
pub async fn build(
    stack: &Stack,
    req: BuildRequest<'_>,
    progress: &dyn Progress,
) -> Result<BuildOutcome, EngineError> {
    let probe_ctx = stack.env_context("probe", &req.name, &req.versions, BTreeMap::new());
    let engines = environment::preflight(&probe_ctx, &req.services)?;
    report_stand_ins(&engines, progress);
    let full = checkpoint::chain(
        &stack.manifest,
        &req.services,
        &engines,
        &req.versions,
        &stack.project.dir,
    );
    let steps: Vec<ChainStep> = match req.target {
        Some(t) => {
            let pos = full.iter().position(|s| s.name == t).ok_or_else(|| {
                EngineError::Manifest(format!(
                    "no checkpoint named `{t}`; the manifest's checkpoints are: {}",
                    full.iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            full[..=pos].to_vec()
        }
        None => full,
    };
    let steps = if req.no_checkpoints {
        Vec::new()
    } else {
        steps
    };
    // Longest cached prefix.
    let st = state::read(&stack.project.state_dir)?;
    let reuse = checkpoint::explain(
        &stack.project,
        &st,
        stack.snap.as_ref(),
        &steps,
        req.fresh_since,
    );
    let mut hit: Option<(usize, String)> = None;
    for (i, r) in reuse.iter().enumerate() {
        match (&r.checkpoint, r.reused) {
            (Some(id), true) => hit = Some((i, id.clone())),
            _ => break,
        }
    }
    let mut outcome = BuildOutcome {
        env: None,
        checkpoints: Vec::new(),
        last_key: steps.last().map(|s| s.key.clone()),
    };
    for r in &reuse {
        match (&r.checkpoint, r.reused) {
            (Some(id), true) => {
                progress.event(Event::Checkpoint {
                    name: r.name.clone(),
                    state: CheckpointEvent::Cached,
                });
                outcome.checkpoints.push((r.name.clone(), id.clone(), true));
            }
            _ => progress.event(Event::Info(format!(
                "  checkpoint {}: {}",
                r.name, r.reason
            ))),
        }
    }
    let done_upto = hit.as_ref().map(|(i, _)| i + 1).unwrap_or(0);
    if done_upto == steps.len() && !req.keep {
        return Ok(outcome);
    }
    let from = hit.as_ref().map(|(_, id)| id.clone());
    if let Some(old) = &req.resume {
        let all_cached = done_upto == steps.len();
        if all_cached && resumable(&st, old, &req.services, from.as_deref()) {
            stack.resume_env(old, progress).await?;
            outcome.env = Some(old.id.clone());
            return Ok(outcome);
        }
        progress.event(Event::Info(format!(
            "  {} ({}) stopped when its daemon died; its data does not match this `up`, so a new one replaces it",
            old.name, old.id
        )));
        stack.destroy_env(&old.id).await?;
    }
    let env_id = stack.new_env(
        &req.name,
        req.keep,
        from.as_deref(),
        &req.services,
        !req.keep,
        &req.versions,
    )?;
    let ctx = stack.env_context(&env_id, &req.name, &req.versions, BTreeMap::new());
    let result = async {
        stack.boot(&ctx, &req.services, &engines, progress).await?;
        crate::error::failpoint("up-after-boot")?;
        let mut parent = from.clone();
        for step in &steps[done_upto..] {
            progress.event(Event::Checkpoint {
                name: step.name.clone(),
                state: CheckpointEvent::Running,
            });
            if let Some(after) = &step.after {
                run_trigger(stack, &ctx, &step.name, after, &req.services).await?;
            }
            let (rec, took) = checkpoint::take(
                &ctx,
                &engines,
                NewCheckpoint {
                    name: &step.name,
                    parent: parent.clone(),
                    services: &req.services,
                    message: step.description.clone(),
                    cache_key: Some(step.key.clone()),
                    inputs: Some(&step.inputs),
                    force: false,
                },
            )
            .await?;
            progress.event(Event::Checkpoint {
                name: step.name.clone(),
                state: CheckpointEvent::Taken(took),
            });
            parent = Some(rec.id.clone());
            outcome.checkpoints.push((step.name.clone(), rec.id, false));
        }
        Ok::<(), EngineError>(())
    }
    .await;
    if req.keep {
        // A failed `up` leaves the environment running for inspection; nothing is torn down silently.
        outcome.env = Some(env_id);
        result.map(|_| outcome)
    } else {
        let _ = stack.destroy_env(&env_id).await;
        result.map(|_| outcome)
    }
}

/// Whether stopped environment `old` may be started again in place of a new one forked from
/// checkpoint `from` (None: an empty one) with `services`: it ran the same services, and the
/// nearest manifest checkpoint (one with a cache key; commits have none) in its line of
/// checkpoints is `from`, so its data is `from`'s plus what was written since.
pub fn resumable(
    st: &state::State,
    old: &EnvRecord,
    services: &[String],
    from: Option<&str>,
) -> bool {
    let mut mine = old.services.clone();
    let mut wanted = services.to_vec();
    mine.sort();
    wanted.sort();
    if mine != wanted {
        return false;
    }
    let mut at = old.parent_checkpoint.as_deref();
    // A parent chain is a tree, but a corrupt state must not loop forever.
    for _ in 0..=st.checkpoints.len() {
        let Some(id) = at else { break };
        let Some(c) = st.checkpoints.get(id) else {
            break;
        };
        if c.cache_key.is_some() {
            return Some(id) == from;
        }
        at = c.parent.as_deref();
    }
    from.is_none()
}

/// Variables every command run in an environment sees on top of its clean base environment
/// ([`exec::base_env`]): host variables named by the manifest's `pass_env:`, the env of
/// every `build:` service whose context is the project root, the environment's variables,
/// `VERS_MATRIX_*` of its matrix combination, then `extra`.
pub fn command_env(
    stack: &Stack,
    ctx: &EnvContext,
    extra: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, EngineError> {
    // Host variables the manifest passes through; everything below overrides them.
    let mut env = exec::passed_through(&stack.manifest.pass_env);
    for svc in stack.manifest.services.values() {
        let at_root = svc.build.as_ref().is_some_and(|b| {
            let p = stack.project.dir.join(&b.context);
            p.canonicalize().ok() == stack.project.dir.canonicalize().ok()
        });
        if at_root {
            for (k, v) in &svc.env {
                env.insert(k.clone(), ctx.interpolate(v)?);
            }
        }
    }
    env.extend(ctx.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.extend(matrix_vars(&ctx.versions));
    env.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(env)
}

/// `VERS_MATRIX_<KEY>=<value>` for a matrix combination (key upper-cased, `-` → `_`).
pub fn matrix_vars(versions: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    versions
        .iter()
        .map(|(k, v)| {
            (
                format!("VERS_MATRIX_{}", k.to_uppercase().replace('-', "_")),
                v.clone(),
            )
        })
        .collect()
}

/// Runs a checkpoint's `after:` trigger inside the environment.
async fn run_trigger(
    stack: &Stack,
    ctx: &EnvContext,
    name: &str,
    after: &AfterSelector,
    started: &[String],
) -> Result<(), EngineError> {
    let mut extra = BTreeMap::new();
    extra.insert("VERS_CHECKPOINT".to_string(), name.to_string());
    let env = command_env(stack, ctx, &extra)?;
    let commands: Vec<EnvCommand> = match after {
        AfterSelector::Healthcheck(sel) => {
            let wanted = sel.resolve(&stack.manifest);
            if let Some(missing) = wanted.iter().find(|s| !started.contains(s)) {
                return Err(EngineError::Failed(format!(
                    "checkpoint {name} needs service {missing}, which was not started (see --services)"
                )));
            }
            Vec::new()
        }
        AfterSelector::Script(path) => {
            let full = stack.project.dir.join(path);
            if !full.is_file() {
                return Err(EngineError::Failed(format!(
                    "checkpoint {name}: script {} does not exist in {}",
                    path.display(),
                    stack.project.dir.display()
                )));
            }
            let (program, mut args) = interpreter(&full);
            args.push(full.display().to_string());
            vec![EnvCommand {
                program,
                args,
                env: exec::base_env(&env),
                cwd: stack.project.dir.clone(),
                user: None,
                netns: None,
            }]
        }
        AfterSelector::Shell(cmd) => vec![EnvCommand::shell(
            &ctx.interpolate(cmd)?,
            &stack.project.dir,
            &env,
        )],
        AfterSelector::SuiteSetup { suite, index } => {
            let s = stack.manifest.tests.get(suite).ok_or_else(|| {
                EngineError::Failed(format!("checkpoint {name}: no test suite {suite}"))
            })?;
            let cmds: Vec<String> = match index {
                Some(i) => s.setup.get(*i).cloned().into_iter().collect(),
                None => s.setup.clone(),
            };
            let mut out = Vec::new();
            for c in cmds {
                out.push(EnvCommand::shell(
                    &ctx.interpolate(&c)?,
                    &stack.project.dir,
                    &env,
                ));
            }
            out
        }
    };
    let log = stack
        .project
        .logs_dir()
        .join(&ctx.env_id)
        .join(format!("checkpoint-{name}.log"));
    for cmd in commands {
        let done = exec::run_in_env(
            &stack.project,
            &ctx.env_id,
            &cmd,
            Output::Log(log.clone()),
            Some(Duration::from_secs(3600)),
        )
        .await?;
        if done.code != Some(0) {
            let tail = crate::logfile::tail_text(&log, 20);
            return Err(EngineError::Failed(format!(
                "checkpoint {name}: `{}` exited with {}; last lines ({}):\n{tail}",
                cmd.args.last().cloned().unwrap_or_default(),
                done.code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "a timeout".into()),
                log.display()
            )));
        }
    }
    Ok(())
}

/// How a checkpoint script is run, by extension.
fn interpreter(path: &std::path::Path) -> (PathBuf, Vec<String>) {
    match path.extension().and_then(|e| e.to_str()) {
        Some("sh") | Some("bash") => (PathBuf::from("bash"), Vec::new()),
        Some("js") | Some("mjs") | Some("cjs") => (PathBuf::from("node"), Vec::new()),
        Some("py") => (PathBuf::from("python3"), Vec::new()),
        _ => (
            PathBuf::from("/bin/sh"),
            vec!["-c".into(), "exec \"$0\"".into()],
        ),
    }
}

/// Services a suite's branches start: its `depends_on` services and their dependencies, or all.
pub fn suite_services(stack: &Stack, suite: &str) -> Result<Vec<String>, EngineError> {
    let wanted = vers_manifest::suite_services(&stack.manifest, suite);
    stack.closure(&wanted)
}

/// The usage error for a service name `m` does not have: the closest name when one is
/// near (`dcos` → `docs`), else every name it has.
pub fn unknown_service(m: &vers_manifest::Manifest, name: &str) -> EngineError {
    let known: Vec<&str> = m.services.keys().map(String::as_str).collect();
    let list = known.join(", ");
    EngineError::Manifest(match vers_manifest::suggest(name, known.iter().copied()) {
        Some(close) => {
            format!("unknown service `{name}`; did you mean `{close}`? (the manifest has: {list})")
        }
        None => format!("unknown service `{name}`; the manifest has: {list}"),
    })
}
