//! The engine facade: every operation of the API, on one project, with one progress sink.
//! The daemon runs it in a worker process that carries the caller's environment, so
//! `${VAR}` in the manifest and the variables test commands see are the caller's.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::requests::*;
use crate::chaos;
use crate::error::EngineError;
use crate::exec::{self, EnvCommand, Output};
use crate::inspect::db::{self, DbTarget};
use crate::inspect::diff;
use crate::lifecycle::{self, UpOptions};
use crate::matrix::{self, MatrixOptions};
use crate::progress::Progress;
use crate::project::Project;
use crate::stack::{self, Stack};
use crate::state::{self, EnvRecord, EnvStatus};
use crate::testrun::{self, selection, TestOptions};
use crate::{branches, prune, services, status};

/// One environment in `GET /api/branches` and `GET /api/vm`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BranchInfo {
    /// Environment id.
    pub id: String,
    /// Name: `root`, an alias, or `suite/branch`.
    pub name: String,
    /// Whether it is HEAD.
    pub head: bool,
    /// Whether `up` made it.
    pub root: bool,
    /// running, paused or stopped.
    pub status: EnvStatus,
    /// Name of the checkpoint it was forked from.
    pub from: Option<String>,
    /// Services started in it.
    pub services: Vec<String>,
    /// Unix seconds of creation.
    pub created: u64,
    /// Whether it waits in its checkpoint's warm pool (not yet handed out).
    #[serde(default)]
    pub warm: bool,
}

/// How to run a command in an environment (`execute`, `connect`): the caller runs it, since
/// it may need the caller's terminal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecSpec {
    /// Environment id.
    pub env: String,
    /// Environment name.
    pub name: String,
    /// Variables: the caller's, the environment's and the service's.
    pub vars: BTreeMap<String, String>,
    /// Working directory.
    pub cwd: PathBuf,
    /// The pod's network namespace (with `service`), else the environment's.
    pub netns: Option<String>,
    /// Set when the manifest on disk is broken and the environment's own was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

fn usage(msg: String) -> EngineError {
    EngineError::Manifest(msg)
}

fn duration(flag: &str, v: &Option<String>) -> Result<Option<Duration>, EngineError> {
    match v {
        None => Ok(None),
        Some(s) => vers_manifest::parse_duration(s)
            .map(Some)
            .map_err(|e| usage(format!("{flag} {s}: {e} (e.g. 500ms, 30s, 5m)"))),
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, EngineError> {
    serde_json::to_value(v).map_err(|e| EngineError::Failed(format!("encoding the result: {e}")))
}

async fn open(project: &Project) -> Result<Stack, EngineError> {
    let manifest = vers_manifest::load(&project.manifest_path)
        .map_err(|d| EngineError::Manifest(d.to_string()))?;
    Stack::open(project.clone(), manifest).await
}

/// A stack that needs no valid manifest (`down`, `delete`, `set_state`, `sweep_run` must work
/// when the manifest is broken).
async fn open_lenient(project: &Project) -> Result<Stack, EngineError> {
    let manifest = vers_manifest::load(&project.manifest_path)
        .unwrap_or_else(|_| vers_manifest::Manifest::empty(&project.manifest_path));
    Stack::open(project.clone(), manifest).await
}

/// A stack for the operations that serve running environments (`status`, `logs`, `exec`,
/// `log`): with the manifest on disk when it is valid, else with the one HEAD (or the newest
/// environment) was started with, and a warning saying so. Without either, the manifest's
/// diagnostics.
async fn open_serving(project: &Project) -> Result<(Stack, Option<String>), EngineError> {
    let broken = match vers_manifest::load(&project.manifest_path) {
        Ok(m) => return Ok((Stack::open(project.clone(), m).await?, None)),
        Err(d) => d,
    };
    let st = state::read(&project.state_dir)?;
    let wanted = std::env::var("VERS_ENV")
        .ok()
        .filter(|v| !v.is_empty())
        .or(st.head.clone());
    let started = wanted
        .and_then(|k| st.find_env(&k))
        .or_else(|| {
            st.envs
                .values()
                .max_by_key(|e| (e.created, e.id.len(), e.id.clone()))
        })
        .and_then(|e| e.manifest_hash.as_deref())
        .and_then(|h| crate::manifest_store::load(project, h))
        .and_then(|text| vers_manifest::parse_str(&text, &project.manifest_path).ok());
    let Some(manifest) = started else {
        return Err(EngineError::Manifest(broken.to_string()));
    };
    let warning = format!(
        "{} is invalid ({} error{}; `vers validate` shows them): serving the running \
         environments with the manifest they were started with",
        project.manifest_path.display(),
        broken.0.len(),
        if broken.0.len() == 1 { "" } else { "s" }
    );
    Ok((Stack::open(project.clone(), manifest).await?, Some(warning)))
}

/// Adds `warning` (if any) to an operation's JSON object answer.
fn with_warning(mut value: Value, warning: Option<String>) -> Value {
    if let (Some(w), Some(obj)) = (warning, value.as_object_mut()) {
        obj.insert("warning".into(), Value::String(w));
    }
    value
}

/// For `--rebuild`: the second from which checkpoints count as this run's own. Checkpoint
/// times are whole seconds, so the run waits for the next second to begin; a checkpoint of
/// an earlier run that ended in the current second is then never taken for this run's.
async fn rebuild_epoch(rebuild: bool) -> Option<u64> {
    if !rebuild {
        return None;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let next = now.as_secs() + 1;
    tokio::time::sleep(Duration::from_secs(next) - now).await;
    Some(next)
}

/// Runs `op` on `project`, reporting progress to `progress`; the value is the operation's
/// result as the API returns it.
pub async fn execute(
    project: &Project,
    op: Op,
    progress: Arc<dyn Progress>,
) -> Result<Value, EngineError> {
    match op {
        Op::Status => to_value(&status::status(project).await?),
        Op::Up(r) => up(project, r, progress.as_ref()).await,
        Op::Down(r) => {
            let stack = open_lenient(project).await?;
            to_value(&lifecycle::down(&stack, r.all, r.deployments).await?)
        }
        Op::Commit(r) => {
            let stack = open(project).await?;
            let before = state::read(&project.state_dir)?.tags.get(&r.tag).cloned();
            let rec =
                branches::commit_env(&stack, r.env.as_deref(), &r.tag, r.message, r.force).await?;
            // A tag names one checkpoint at a time: reusing it moves it, as `git tag -f`
            // would, and says so (the earlier checkpoint keeps its id).
            let moved = before.filter(|id| *id != rec.id).map(|from| {
                format!(
                    "tag `{}` moved from {from} to {}; {from} is still there (`vers checkout {from}`)",
                    rec.name, rec.id
                )
            });
            let mut answer = json!({ "commit_id": rec.id, "tag": rec.name, "checkpoint": rec });
            if let Some(note) = moved {
                answer["note"] = json!(note);
            }
            Ok(answer)
        }
        Op::Branch(r) => {
            let stack = open(project).await?;
            let env = branches::branch(
                &stack,
                r.alias.as_deref(),
                r.from.as_deref(),
                progress.as_ref(),
            )
            .await?;
            to_value(&env)
        }
        Op::Branches => to_value(&list_branches(project)?),
        Op::Checkout(r) => {
            let stack = open(project).await?;
            to_value(&branches::checkout(&stack, &r.name, progress.as_ref()).await?)
        }
        Op::Rollback(r) => {
            let stack = open(project).await?;
            to_value(&branches::rollback(&stack, &r.target, progress.as_ref()).await?)
        }
        Op::Delete(r) => {
            let stack = open_lenient(project).await?;
            let deleted = branches::delete(&stack, &r.name, r.force).await?;
            Ok(json!({ "deleted": deleted }))
        }
        Op::SetState(r) => set_state(project, r).await,
        Op::Log => {
            let stack = open_lenient(project).await?;
            let entries = branches::log(&stack)?;
            let st = state::read(&project.state_dir)?;
            Ok(json!({ "entries": entries, "tags": st.tags }))
        }
        Op::Test(r) => test(project, r, progress).await,
        Op::Matrix(r) => run_matrix(project, r, progress).await,
        Op::ChaosInject(r) => {
            let mut spec = chaos::fault_of(
                &r.service,
                &r.action,
                [
                    ("duration", &r.duration),
                    ("latency", &r.latency),
                    ("jitter", &r.jitter),
                ],
            )?;
            spec.loss = r.loss;
            spec.rate = r.rate;
            spec.status = r.status;
            spec.percent = r.percent;
            spec.from = r.from;
            spec.intensity = r.intensity;
            spec.percentage = r.percentage;
            let stack = open(project).await?;
            to_value(&chaos::inject(&stack, &spec, !r.no_checkpoint).await?)
        }
        Op::ChaosRecover(r) => {
            let stack = open(project).await?;
            to_value(
                &chaos::recover(
                    &stack,
                    r.service.as_deref(),
                    r.checkpoint.as_deref(),
                    progress.as_ref(),
                )
                .await?,
            )
        }
        Op::ChaosRun(r) => {
            let stack = open(project).await?;
            to_value(
                &chaos::run_scenario(&stack, &r.name, r.branch.as_deref(), !r.no_checkpoint)
                    .await?,
            )
        }
        Op::ChaosList => {
            let stack = open(project).await?;
            let (env, faults) = chaos::list(&stack).await?;
            Ok(json!({ "environment": env, "faults": faults }))
        }
        Op::Logs(r) => logs(project, r).await,
        Op::ExecSpec(r) => {
            let (stack, warning) = open_serving(project).await?;
            let spec = exec_spec(&stack, r.service.as_deref()).await?;
            to_value(&ExecSpec { warning, ..spec })
        }
        Op::Exec(r) => {
            let (stack, warning) = open_serving(project).await?;
            let spec = exec_spec(&stack, r.service.as_deref()).await?;
            let cmd = EnvCommand {
                netns: spec.netns.clone(),
                ..EnvCommand::shell(&r.command, &spec.cwd, &spec.vars)
            };
            let limit = duration("timeout", &r.timeout)?;
            let done =
                exec::run_in_env(&stack.project, &spec.env, &cmd, Output::Capture, limit).await?;
            let answer = json!({
                "environment": spec.env,
                "exit_code": done.code,
                "timed_out": done.timed_out,
                "output": done.output,
            });
            Ok(with_warning(answer, warning))
        }
        Op::DbQuery(r) => {
            let stack = open(project).await?;
            let target = DbTarget {
                service: r.service,
                database: r.database,
            };
            to_value(&db::query(&stack, &target, &r.query).await?)
        }
        Op::DbCounts(r) => {
            let stack = open(project).await?;
            to_value(&db::counts(&stack, &db_target(r)).await?)
        }
        Op::DbSchema(r) => {
            let stack = open(project).await?;
            to_value(&db::schema(&stack, &db_target(r)).await?)
        }
        Op::Diff(r) => {
            let aspects = diff::parse_aspects(&r.aspects)?;
            let stack = open(project).await?;
            let to = r.to.as_deref().unwrap_or("HEAD");
            to_value(&diff::diff(&stack, &r.from, to, &aspects).await?)
        }
        Op::StopServices(r) => {
            let (stack, warning) = open_serving(project).await?;
            let outcome = to_value(&services::stop_services(&stack, &r.services).await?)?;
            Ok(with_warning(outcome, warning))
        }
        Op::RetireService(r) => {
            let stack = open(project).await?;
            to_value(&services::retire_service(&stack, &r.service).await?)
        }
        Op::FillPools => {
            let stack = open(project).await?;
            let report = crate::pool::fill(&stack).await?;
            if report != crate::pool::FillReport::default() {
                eprintln!("warm pools: {report:?}");
            }
            to_value(&report)
        }
        Op::Export(r) => {
            let format = crate::export::Format::parse(&r.format)?;
            let manifest = vers_manifest::load(&project.manifest_path)
                .map_err(|d| EngineError::Manifest(d.to_string()))?;
            let dir = match &r.dir {
                Some(d) => PathBuf::from(d),
                None => project.dir.join("vers-export").join(format.name()),
            };
            to_value(&crate::export::export(
                &manifest,
                format,
                &dir,
                r.target.as_deref(),
            )?)
        }
        Op::Docs(r) => {
            let manifest = vers_manifest::load(&project.manifest_path)
                .map_err(|d| EngineError::Manifest(d.to_string()))?;
            let docs = crate::docs::generate(project, &manifest, r.run.as_deref())?;
            let markdown = crate::docs::render::markdown(&docs);
            Ok(json!({ "docs": docs, "markdown": markdown }))
        }
        Op::Deploy(r) => {
            let stack = open(project).await?;
            to_value(
                &crate::deploy::deploy(
                    &stack,
                    &r.name,
                    r.from.as_deref(),
                    crate::deploy::Kind::default(),
                    progress.as_ref(),
                )
                .await?,
            )
        }
        Op::Deployments => to_value(&crate::deploy::list(&open_lenient(project).await?)?),
        Op::DeployRollback(r) => {
            let stack = open(project).await?;
            to_value(&crate::deploy::rollback(&stack, &r.name, r.to, progress.as_ref()).await?)
        }
        Op::PreviewCreate(r) => {
            let kind = crate::deploy::Kind {
                preview: true,
                ttl: duration("--ttl", &r.ttl)?,
            };
            let stack = open(project).await?;
            to_value(
                &crate::deploy::deploy(&stack, &r.name, r.from.as_deref(), kind, progress.as_ref())
                    .await?,
            )
        }
        Op::DeployRemove(r) => {
            let stack = open_lenient(project).await?;
            let stopped = crate::deploy::remove(&stack, &r.name).await?;
            Ok(json!({ "removed": r.name, "stopped": stopped }))
        }
        Op::SweepRun(r) => {
            let stack = open_lenient(project).await?;
            let ids: Vec<String> = state::read(&project.state_dir)?
                .envs
                .values()
                .filter(|e| e.run.as_deref() == Some(r.run.as_str()))
                .map(|e| e.id.clone())
                .collect();
            for id in &ids {
                stack.destroy_env(id).await?;
            }
            Ok(json!({ "deleted": ids }))
        }
        Op::Checkpoints => {
            let stack = open(project).await?;
            Ok(json!({ "chain": status::checkpoint_reuse(&stack)? }))
        }
        Op::CheckpointRm(r) => {
            let stack = open_lenient(project).await?;
            let removed = prune::remove(&stack, &r.name).await?;
            Ok(json!({ "removed": removed }))
        }
        Op::CheckpointPrune => {
            let stack = open_lenient(project).await?;
            let removed = prune::prune(&stack).await?;
            Ok(json!({ "removed": removed }))
        }
    }
}

fn db_target(r: DbTargetRequest) -> DbTarget {
    DbTarget {
        service: r.service,
        database: r.database,
    }
}

async fn up(
    project: &Project,
    r: UpRequest,
    progress: &dyn Progress,
) -> Result<Value, EngineError> {
    let stack = open(project).await?;
    progress.event(crate::progress::Event::Info(format!(
        "Starting {} ({} services)",
        stack.manifest.name,
        stack.closure(&r.services).map(|s| s.len()).unwrap_or(0)
    )));
    let opts = UpOptions {
        checkpoint: r.checkpoint,
        services: r.services,
        rebuild: r.build,
        no_checkpoints: r.no_checkpoints,
        fresh_since: rebuild_epoch(r.rebuild).await,
    };
    let outcome = lifecycle::up(&stack, &opts, progress).await?;
    let report = status::status(project).await?;
    Ok(json!({ "outcome": outcome, "status": report }))
}

fn list_branches(project: &Project) -> Result<Vec<BranchInfo>, EngineError> {
    let st = state::read(&project.state_dir)?;
    let mut envs: Vec<&EnvRecord> = st.envs.values().collect();
    envs.sort_by_key(|e| (e.created, e.id.len(), e.id.clone()));
    Ok(envs
        .into_iter()
        .map(|e| BranchInfo {
            id: e.id.clone(),
            name: e.name.clone(),
            head: st.head.as_deref() == Some(e.id.as_str()),
            root: e.root,
            status: e.status,
            from: e
                .parent_checkpoint
                .as_ref()
                .and_then(|c| st.checkpoints.get(c))
                .map(|c| c.name.clone()),
            services: e.services.clone(),
            created: e.created,
            warm: e.warm.is_some(),
        })
        .collect())
}

async fn set_state(project: &Project, r: SetStateRequest) -> Result<Value, EngineError> {
    let stack = open_lenient(project).await?;
    let rec = state::read(&project.state_dir)?
        .find_env(&r.env)
        .cloned()
        .ok_or_else(|| EngineError::NotFound(format!("environment `{}` does not exist", r.env)))?;
    // Held until the state records the pause (see `state::lock_env`).
    let _paused = state::lock_env(&project.state_dir, &rec.id).await?;
    let status = match r.state.as_str() {
        "paused" => {
            stack.client.freeze(&rec.id).await?;
            EnvStatus::Paused
        }
        "running" => {
            stack.client.thaw(&rec.id).await?;
            EnvStatus::Running
        }
        other => {
            return Err(usage(format!(
                "state `{other}`: expected `paused` or `running`"
            )))
        }
    };
    let mut g = state::lock(&project.state_dir)?;
    let rec = g
        .state
        .envs
        .get_mut(&rec.id)
        .ok_or_else(|| EngineError::NotFound(format!("environment `{}` vanished", r.env)))?;
    rec.status = status;
    let rec = rec.clone();
    g.save()?;
    to_value(&rec)
}

async fn test(
    project: &Project,
    r: TestRequest,
    progress: Arc<dyn Progress>,
) -> Result<Value, EngineError> {
    let shard = match &r.shard {
        Some(s) => Some(selection::parse_shard(s)?),
        None => None,
    };
    if r.jobs == Some(0) {
        return Err(usage("--jobs must be at least 1".into()));
    }
    let stack = open(project).await?;
    let mut scenarios = r.scenarios;
    if let Some(prefix) = r.branch_prefix.as_deref().filter(|p| !p.is_empty()) {
        let planned = selection::select(&stack.manifest, &r.suites, &[], None)?;
        let before = scenarios.len();
        for b in planned.iter().flat_map(|s| &s.branches) {
            if b.branch.name.starts_with(prefix) && !scenarios.contains(&b.branch.name) {
                scenarios.push(b.branch.name.clone());
            }
        }
        if scenarios.len() == before {
            return Err(usage(format!(
                "no branch of the selected suites starts with `{prefix}`"
            )));
        }
    }
    let opts = TestOptions {
        suites: r.suites,
        scenarios,
        parallel: r.parallel,
        jobs: r.jobs,
        timeout: duration("--timeout", &r.timeout)?,
        keep_failed: r.keep_failed,
        shard,
        versions: Default::default(),
        fresh_since: rebuild_epoch(r.rebuild).await,
    };
    let report = testrun::run(&stack, &opts, progress).await?;
    Ok(json!({ "project": stack.manifest.name, "report": report }))
}

async fn run_matrix(
    project: &Project,
    r: MatrixRequest,
    progress: Arc<dyn Progress>,
) -> Result<Value, EngineError> {
    let mut filter = Vec::new();
    for f in &r.filter {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            usage(format!(
                "--filter {f}: expected key=value, e.g. --filter postgres=15"
            ))
        })?;
        filter.push((k.trim().to_string(), v.trim().to_string()));
    }
    let stack = open(project).await?;
    let opts = MatrixOptions {
        filter,
        parallel: r.parallel,
        continue_on_failure: r.continue_on_failure,
        tests: TestOptions {
            parallel: r.parallel,
            fresh_since: rebuild_epoch(r.rebuild).await,
            ..Default::default()
        },
    };
    let results = matrix::run(&stack, &opts, progress).await?;
    // A list of [key, values] pairs: JSON objects do not keep the manifest's key order.
    let keys: Vec<(&String, &Vec<String>)> = stack.manifest.matrix.iter().collect();
    Ok(json!({ "matrix": keys, "results": results }))
}

async fn logs(project: &Project, r: LogsRequest) -> Result<Value, EngineError> {
    let (stack, warning) = open_serving(project).await?;
    let env = branches::head(&stack)?;
    let svc = stack.require_service(&r.service)?;
    let since = duration("--since", &r.since)?;
    let ctx = stack.env_context(&env.id, &env.name, &env.matrix, BTreeMap::new());
    let replicas = svc.replicas.max(1);
    let mut files = Vec::new();
    // Lines by their own time (the log's time index), read from the end of the file.
    let cutoff_ms = since.map(|d| {
        std::time::SystemTime::now()
            .checked_sub(d)
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    });
    for replica in 0..replicas {
        let path = ctx.log_path(&r.service, replica, replicas);
        let read = match cutoff_ms {
            Some(ms) => crate::logfile::lines_since(&path, ms, r.lines),
            None => crate::logfile::tail_lines(&path, r.lines),
        };
        let (lines, error) = match read {
            Ok(lines) => (lines, None),
            // Not written yet: nothing to show, and nothing wrong.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), None),
            Err(e) => (Vec::new(), Some(format!("{}: {e}", path.display()))),
        };
        files.push(json!({
            "replica": replica,
            "path": path,
            "lines": lines,
            "error": error,
        }));
    }
    let answer = json!({ "environment": env.id, "service": r.service, "replicas": replicas, "files": files });
    Ok(with_warning(answer, warning))
}

/// Where and how a command runs for `execute`/`connect`: its variables, working directory and,
/// with `service`, the service's own network namespace.
pub async fn exec_spec(stack: &Stack, service: Option<&str>) -> Result<ExecSpec, EngineError> {
    let env = branches::running_head(stack)?;
    let ctx = stack.env_context(&env.id, &env.name, &env.matrix, BTreeMap::new());
    let mut vars = stack::command_env(stack, &ctx, &BTreeMap::new())?;
    let mut cwd = stack.project.dir.clone();
    let mut netns = None;
    if let Some(name) = service {
        let svc = stack.require_service(name)?;
        vars.extend(crate::service_env::of_service(stack, &ctx, name).await?);
        if let Some(b) = &svc.build {
            cwd = ctx.build_context(&b.context);
        }
        // In the service's context means in its (first instance's) own network.
        netns = crate::environment::pod_of(&ctx, name, 0);
    }
    Ok(ExecSpec {
        env: env.id,
        name: env.name,
        vars,
        cwd,
        netns,
        warning: None,
    })
}
