//! Running selected branches: make sure each suite's checkpoint exists, fork a branch per
//! scenario, run hooks and the command inside it, collect statuses, remove the branch.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};
use vers_manifest::Branch;

use super::report::{BranchResult, ScenarioResult, SuiteResult, TestReport};
use super::selection::{self, PlannedBranch, PlannedSuite};
use crate::branches;
use crate::chaos;
use crate::checkpoint::{self, NewCheckpoint};
use crate::environment;
use crate::error::EngineError;
use crate::exec::{self, EnvCommand, Output};
use crate::progress::{BranchEvent, Event, Progress};
use crate::stack::{self, BuildRequest, Stack};
use crate::state::{self, CheckpointRecord};

/// Default per-branch time limit when neither the suite nor `--timeout` sets one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Options of a test run.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// Suites to run (empty: all).
    pub suites: Vec<String>,
    /// Branches to run (empty: all).
    pub scenarios: Vec<String>,
    /// Run every suite's branches concurrently.
    pub parallel: bool,
    /// Job limit.
    pub jobs: Option<usize>,
    /// Per-branch timeout override.
    pub timeout: Option<Duration>,
    /// Keep failed branches' environments.
    pub keep_failed: bool,
    /// Shard I/N.
    pub shard: Option<(usize, usize)>,
    /// Matrix versions (template or service -> version).
    pub versions: BTreeMap<String, String>,
    /// Reuse only checkpoints taken at or after this time (unix seconds): `--rebuild`.
    pub fresh_since: Option<u64>,
}

/// Default job limit: two per core, bounded by how many environments of the `vm` budget fit
/// in the machine's memory.
pub fn default_jobs(stack: &Stack) -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let by_cpu = (cores * 2).max(2);
    let mem_total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(4096);
    let by_mem = stack
        .manifest
        .vm
        .as_ref()
        .and_then(|v| v.memory_mib)
        .map(|per_env| ((mem_total * 3 / 4) / per_env.max(1)).max(1) as usize)
        .unwrap_or(usize::MAX);
    by_cpu.min(by_mem).max(1)
}

/// The checkpoint a branch forks from: branch `from`, suite `checkpoint`, else the last of the manifest.
fn checkpoint_name(stack: &Stack, suite: &str, branch: &Branch) -> Option<String> {
    branch.from.clone().or_else(|| {
        stack
            .manifest
            .tests
            .get(suite)
            .and_then(|s| s.checkpoint.clone())
    })
}

/// Runs the selected suites and returns the report (the caller renders it).
pub async fn run(
    stack: &Stack,
    opts: &TestOptions,
    progress: Arc<dyn Progress>,
) -> Result<TestReport, EngineError> {
    let plan = selection::select(&stack.manifest, &opts.suites, &opts.scenarios, opts.shard)?;
    crate::budget::check_fits_machine(&stack.manifest)?;
    let all_services = stack.closure(&[])?;
    crate::build::build_apps(stack, &all_services, false, progress.as_ref()).await?;
    // Make sure every checkpoint the branches fork from exists (cached or built now).
    let chain_names: Vec<String> = {
        let probe_ctx = stack.env_context("probe", "probe", &opts.versions, BTreeMap::new());
        let engines = environment::preflight(&probe_ctx, &all_services)?;
        checkpoint::chain(
            &stack.manifest,
            &all_services,
            &engines,
            &opts.versions,
            &stack.project.dir,
        )
        .into_iter()
        .map(|s| s.name)
        .collect()
    };
    let default_target = chain_names.last().cloned();
    let mut resolved: HashMap<Option<String>, CheckpointRecord> = HashMap::new();
    for suite in &plan {
        for pb in &suite.branches {
            let name = checkpoint_name(stack, &suite.name, &pb.branch);
            if resolved.contains_key(&name) {
                continue;
            }
            let rec = match &name {
                Some(n) if !chain_names.contains(n) => branches::resolve_checkpoint(stack, n)?,
                _ => {
                    let target = name.clone().or_else(|| default_target.clone());
                    let outcome = stack::build(
                        stack,
                        BuildRequest {
                            target: target.as_deref(),
                            services: all_services.clone(),
                            keep: false,
                            no_checkpoints: false,
                            versions: opts.versions.clone(),
                            name: "checkpoints".into(),
                            fresh_since: opts.fresh_since,
                            resume: None,
                        },
                        progress.as_ref(),
                    )
                    .await?;
                    let (_, id, _) = outcome.checkpoints.last().cloned().ok_or_else(|| {
                        EngineError::Failed("the checkpoint chain is empty".into())
                    })?;
                    state::read(&stack.project.state_dir)?
                        .checkpoints
                        .get(&id)
                        .cloned()
                        .ok_or_else(|| EngineError::Failed(format!("checkpoint {id} vanished")))?
                }
            };
            resolved.insert(name, rec);
        }
    }
    let jobs = opts.jobs.unwrap_or_else(|| default_jobs(stack)).max(1);
    let sem = Arc::new(Semaphore::new(jobs));
    // Every run gets its own log directory, also two started in the same second; matrix
    // cells run at the same time and say their combination.
    let mut run_id = super::new_run_id();
    for (k, v) in &opts.versions {
        run_id.push_str(&format!("-{k}-{v}"));
    }
    let mut done_tx: HashMap<String, watch::Sender<Option<bool>>> = HashMap::new();
    let mut done_rx: HashMap<String, watch::Receiver<Option<bool>>> = HashMap::new();
    for s in &plan {
        let (tx, rx) = watch::channel(None);
        done_tx.insert(s.name.clone(), tx);
        done_rx.insert(s.name.clone(), rx);
    }
    let resolved = Arc::new(resolved);
    let parallel = opts.parallel;
    let mut handles = Vec::new();
    for suite in plan {
        let tx = done_tx
            .remove(&suite.name)
            .ok_or_else(|| EngineError::Failed("duplicate suite in plan".into()))?;
        let waits: Vec<watch::Receiver<Option<bool>>> = suite
            .after
            .iter()
            .filter_map(|d| done_rx.get(d).cloned())
            .collect();
        let stack = stack.clone();
        let opts = opts.clone();
        let sem = sem.clone();
        let progress = progress.clone();
        let resolved = resolved.clone();
        let run_id = run_id.clone();
        let fut = async move {
            let mut deps_ok = true;
            for mut w in waits {
                let r = w
                    .wait_for(|v| v.is_some())
                    .await
                    .map(|v| v.unwrap_or(false));
                deps_ok &= r.unwrap_or(false);
            }
            let result = if deps_ok {
                run_suite(&stack, &suite, &opts, sem, progress, &resolved, &run_id).await
            } else {
                skipped_suite(&stack, &suite, progress.as_ref())
            };
            let _ = tx.send(Some(result.passed == result.total));
            result
        };
        if parallel {
            handles.push(tokio::spawn(fut));
        } else {
            // Sequential suites: run to completion before starting the next.
            let r = fut.await;
            handles.push(tokio::spawn(async move { r }));
        }
    }
    let mut results = Vec::new();
    for h in handles {
        results.push(
            h.await
                .map_err(|e| EngineError::Failed(format!("suite task failed: {e}")))?,
        );
    }
    let report = TestReport::new(results);
    if let Err(e) = crate::docs::traffic::save_report(&stack.project, &run_id, &report) {
        tracing::warn!(error = %e, "the run's report was not saved");
    }
    Ok(report)
}

fn skipped_suite(stack: &Stack, suite: &PlannedSuite, progress: &dyn Progress) -> SuiteResult {
    let branches = suite
        .branches
        .iter()
        .map(|pb| {
            progress.event(Event::Branch {
                suite: suite.name.clone(),
                branch: pb.branch.name.clone(),
                state: BranchEvent::Finished {
                    status: "skipped".into(),
                    duration: Duration::ZERO,
                    log: String::new(),
                },
            });
            BranchResult {
                name: pb.branch.name.clone(),
                status: "skipped".into(),
                duration_ms: 0,
                env: pb.branch.env.clone().into_iter().collect(),
                log: String::new(),
                message: Some(format!(
                    "skipped: a suite it depends on ({}) did not pass",
                    suite.after.join(", ")
                )),
                kept_env: None,
                scenario: None,
            }
        })
        .collect::<Vec<_>>();
    let _ = stack;
    SuiteResult {
        name: suite.name.clone(),
        passed: 0,
        total: branches.len(),
        branches,
    }
}

async fn run_suite(
    stack: &Stack,
    suite: &PlannedSuite,
    opts: &TestOptions,
    sem: Arc<Semaphore>,
    progress: Arc<dyn Progress>,
    resolved: &HashMap<Option<String>, CheckpointRecord>,
    run_id: &str,
) -> SuiteResult {
    let def = &stack.manifest.tests[suite.name.as_str()];
    let concurrent = opts.parallel || def.parallel;
    // Suite setup: once, checkpointed, then branches fork from it.
    let mut setup_from: HashMap<String, Result<CheckpointRecord, String>> = HashMap::new();
    let mut handles = Vec::new();
    let mut results = Vec::new();
    for pb in &suite.branches {
        let key = checkpoint_name(stack, &suite.name, &pb.branch);
        let Some(base) = resolved.get(&key).cloned() else {
            continue;
        };
        let from = if def.setup.is_empty() {
            Ok(base)
        } else {
            match setup_from.get(&base.id) {
                Some(r) => r.clone(),
                None => {
                    let r = suite_setup(stack, &suite.name, &base, opts, progress.as_ref())
                        .await
                        .map_err(|e| e.to_string());
                    setup_from.insert(base.id.clone(), r.clone());
                    r
                }
            }
        };
        let stack = stack.clone();
        let pb = pb.clone();
        let opts = opts.clone();
        let sem = sem.clone();
        let progress = progress.clone();
        let run_id = run_id.to_string();
        let fut = async move {
            let _permit = sem.acquire_owned().await;
            run_branch(&stack, &pb, from, &opts, progress.as_ref(), &run_id).await
        };
        if concurrent {
            handles.push(tokio::spawn(fut));
        } else {
            results.push(fut.await);
        }
    }
    for h in handles {
        match h.await {
            Ok(r) => results.push(r),
            Err(e) => results.push(BranchResult {
                name: "?".into(),
                status: "error".into(),
                duration_ms: 0,
                env: BTreeMap::new(),
                log: String::new(),
                message: Some(format!("branch task failed: {e}")),
                kept_env: None,
                scenario: None,
            }),
        }
    }
    let passed = results.iter().filter(|r| r.status == "passed").count();
    SuiteResult {
        name: suite.name.clone(),
        passed,
        total: results.len(),
        branches: results,
    }
}

/// Runs a suite's `setup` commands once in a fork of `base` and checkpoints the result (cached).
async fn suite_setup(
    stack: &Stack,
    suite: &str,
    base: &CheckpointRecord,
    opts: &TestOptions,
    progress: &dyn Progress,
) -> Result<CheckpointRecord, EngineError> {
    let def = &stack.manifest.tests[suite];
    let key = checkpoint::setup_key(base.cache_key.as_deref().unwrap_or(&base.id), &def.setup);
    let st = state::read(&stack.project.state_dir)?;
    if let Some(rec) = checkpoint::cached(&st, stack.snap.as_ref(), &key, opts.fresh_since) {
        return Ok(rec);
    }
    let name = format!("{suite}.setup");
    let inputs: BTreeMap<String, String> = [
        (format!("checkpoint {}", base.name), base.id.clone()),
        (format!("setup of suite {suite}"), def.setup.join("\n")),
    ]
    .into_iter()
    .collect();
    let services = crate::stack::suite_services(stack, suite)?;
    let mut vars = BTreeMap::new();
    vars.insert("VERS_SUITE".to_string(), suite.to_string());
    vars.insert("VERS_CHECKPOINT".to_string(), base.name.clone());
    let id = branches::fork(
        stack,
        &name,
        base,
        Some(services.clone()),
        true,
        vars,
        progress,
    )
    .await?;
    let ctx = stack.env_context(&id, &name, &opts.versions, BTreeMap::new());
    let result = async {
        let mut env: BTreeMap<String, String> = def.env.clone().into_iter().collect();
        env.insert("VERS_SUITE".into(), suite.to_string());
        let env = stack::command_env(stack, &ctx, &env)?;
        let log = stack.project.logs_dir().join(&id).join("setup.log");
        for c in &def.setup {
            let cmd = EnvCommand::shell(&ctx.interpolate(c)?, &stack.project.dir, &env);
            let done = exec::run_in_env(
                &stack.project,
                &id,
                &cmd,
                Output::Log(log.clone()),
                Some(DEFAULT_TIMEOUT),
            )
            .await?;
            if done.code != Some(0) {
                return Err(EngineError::Failed(format!(
                    "suite {suite}: setup `{c}` failed; see {}",
                    log.display()
                )));
            }
        }
        let engines = environment::preflight(&ctx, &services)?;
        let (rec, _) = checkpoint::take(
            &ctx,
            &engines,
            NewCheckpoint {
                name: &name,
                parent: Some(base.id.clone()),
                services: &base.services,
                message: Some(format!("setup of suite {suite}")),
                cache_key: Some(key.clone()),
                inputs: Some(&inputs),
                force: false,
            },
        )
        .await?;
        Ok(rec)
    }
    .await;
    let _ = stack.destroy_env(&id).await;
    result
}

fn as_list(cmds: &[String]) -> Vec<String> {
    cmds.iter()
        .filter(|c| !c.trim().is_empty())
        .cloned()
        .collect()
}

/// Forks, runs hooks and the command, and removes one branch.
async fn run_branch(
    stack: &Stack,
    pb: &PlannedBranch,
    from: Result<CheckpointRecord, String>,
    opts: &TestOptions,
    progress: &dyn Progress,
    run_id: &str,
) -> BranchResult {
    let began = Instant::now();
    let suite = &pb.suite;
    let b = &pb.branch;
    let log = stack
        .project
        .logs_dir()
        .join("runs")
        .join(run_id)
        .join(suite)
        .join(format!("{}.log", b.name));
    let mut result = BranchResult {
        name: b.name.clone(),
        status: "error".into(),
        duration_ms: 0,
        env: b.env.clone().into_iter().collect(),
        log: log.display().to_string(),
        message: None,
        kept_env: None,
        scenario: None,
    };
    progress.event(Event::Branch {
        suite: suite.clone(),
        branch: b.name.clone(),
        state: BranchEvent::Starting,
    });
    let finish = |mut r: BranchResult, progress: &dyn Progress| {
        r.duration_ms = began.elapsed().as_millis() as u64;
        progress.event(Event::Branch {
            suite: suite.clone(),
            branch: b.name.clone(),
            state: BranchEvent::Finished {
                status: r.status.clone(),
                duration: began.elapsed(),
                log: r.log.clone(),
            },
        });
        r
    };
    let from = match from {
        Ok(f) => f,
        Err(e) => {
            result.message = Some(e);
            return finish(result, progress);
        }
    };
    let services = match crate::stack::suite_services(stack, suite) {
        Ok(s) => s,
        Err(e) => {
            result.message = Some(e.to_string());
            return finish(result, progress);
        }
    };
    let name = format!("{suite}/{}", b.name);
    let mut vars = BTreeMap::new();
    vars.insert("VERS_SUITE".to_string(), suite.clone());
    vars.insert("VERS_BRANCH".to_string(), b.name.clone());
    vars.insert("VERS_CHECKPOINT".to_string(), from.name.clone());
    if let Some(sc) = &pb.scenario {
        vars.insert("VERS_SCENARIO".to_string(), sc.name.clone());
        vars.insert("VERS_EXPECT".to_string(), sc.expect.join(","));
        result.scenario = Some(ScenarioResult {
            inject: sc.inject.clone(),
            expect: sc.expect.clone(),
            injected_at_ms: None,
        });
    }
    if let Some(d) = log.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    let env_id = match branches::fork(
        stack,
        &name,
        &from,
        Some(services),
        true,
        vars.clone(),
        progress,
    )
    .await
    {
        Ok(id) => id,
        Err(e) => {
            let _ = std::fs::write(&log, format!("branch failed to start: {e}\n"));
            result.message = Some(format!("branch failed to start: {e}"));
            return finish(result, progress);
        }
    };
    progress.event(Event::Branch {
        suite: suite.clone(),
        branch: b.name.clone(),
        state: BranchEvent::Running,
    });
    let started_us = crate::docs::traffic::now_us();
    let outcome = run_commands(stack, pb, &env_id, &vars, opts, &log).await;
    // What the proxies saw, kept beside the log for `vers docs`; a failure only costs the docs.
    if let Err(e) =
        crate::docs::traffic::record_branch(stack, &env_id, suite, &b.name, started_us, &log).await
    {
        note(&log, &format!("vers: traffic not recorded: {e}"));
    }
    match outcome {
        Ok((status, message, injected_at)) => {
            result.status = status;
            result.message = message;
            if let Some(sc) = result.scenario.as_mut() {
                sc.injected_at_ms = injected_at;
            }
        }
        Err(e) => result.message = Some(e.to_string()),
    }
    if result.status != "passed" && opts.keep_failed {
        result.kept_env = Some(env_id);
    } else if let Err(e) = stack.destroy_env(&env_id).await {
        result.message.get_or_insert(format!("cleanup failed: {e}"));
    }
    finish(result, progress)
}

/// The environment of a branch's commands, in SPEC order: build-service env, suite env,
/// branch env, then the `VERS_*` variables.
fn branch_env(
    stack: &Stack,
    ctx: &environment::EnvContext,
    pb: &PlannedBranch,
    vars: &BTreeMap<String, String>,
    versions: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, EngineError> {
    let def = &stack.manifest.tests[pb.suite.as_str()];
    let mut layered = BTreeMap::new();
    for (k, v) in &def.env {
        layered.insert(k.clone(), ctx.interpolate(v)?);
    }
    for (k, v) in &pb.branch.env {
        layered.insert(k.clone(), ctx.interpolate(v)?);
    }
    let mut env = stack::command_env(stack, ctx, &BTreeMap::new())?;
    // Suite and branch values win over build-service env, VERS_* over everything.
    env.extend(layered);
    env.extend(ctx.vars.clone());
    env.extend(vars.clone());
    env.extend(stack::matrix_vars(versions));
    Ok(env)
}

async fn run_commands(
    stack: &Stack,
    pb: &PlannedBranch,
    env_id: &str,
    vars: &BTreeMap<String, String>,
    opts: &TestOptions,
    log: &PathBuf,
) -> Result<(String, Option<String>, Option<i64>), EngineError> {
    let def = &stack.manifest.tests[pb.suite.as_str()];
    let b = &pb.branch;
    let ctx = stack.env_context(
        env_id,
        &format!("{}/{}", pb.suite, b.name),
        &opts.versions,
        vars.clone(),
    );
    let env = branch_env(stack, &ctx, pb, vars, &opts.versions)?;
    let timeout = opts.timeout.or(def.timeout).unwrap_or(DEFAULT_TIMEOUT);
    let deadline = Instant::now() + timeout;
    let run = |script: String| {
        let cmd = EnvCommand::shell(&script, &stack.project.dir, &env);
        let remaining = deadline.saturating_duration_since(Instant::now());
        async move {
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
            {
                let _ = writeln!(f, "$ {script}");
            }
            exec::run_in_env(
                &stack.project,
                env_id,
                &cmd,
                Output::Log(log.clone()),
                Some(remaining),
            )
            .await
        }
    };
    for hook in as_list(&b.before) {
        let done = run(ctx.interpolate(&hook)?).await?;
        if done.timed_out {
            return Ok((
                "timeout".into(),
                Some(format!("before hook `{hook}` timed out after {timeout:?}")),
                None,
            ));
        }
        if done.code != Some(0) {
            return Ok((
                "error".into(),
                Some(format!(
                    "before hook `{hook}` exited with {}",
                    done.code.unwrap_or(-1)
                )),
                None,
            ));
        }
    }
    let command = b
        .command
        .clone()
        .or_else(|| def.command.clone())
        .ok_or_else(|| EngineError::Failed(format!("suite {} has no command", pb.suite)))?;
    let script = ctx.interpolate(&command)?;
    // A scenario's fault: now (before the command), or `after` the command starts.
    let mut fault = None;
    let mut injected_at = None;
    if let Some(sc) = &pb.scenario {
        let env = state::read(&stack.project.state_dir)?
            .envs
            .get(env_id)
            .cloned()
            .ok_or_else(|| EngineError::Failed(format!("branch {env_id} vanished")))?;
        match sc.inject.after {
            None => {
                let t = Instant::now();
                if let Err(e) = chaos::apply(stack, &env, &sc.inject).await {
                    return Ok(("error".into(), Some(fault_failed(&sc.inject, &e)), None));
                }
                note(
                    log,
                    &format!("{} (before the command)", applied(&sc.inject, t.elapsed())),
                );
                injected_at = Some(-(t.elapsed().as_millis() as i64));
            }
            Some(after) => {
                let (stack, spec) = (stack.clone(), sc.inject.clone());
                let started = Instant::now();
                fault = Some(tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let r = chaos::apply(&stack, &env, &spec).await;
                    (started.elapsed(), r)
                }));
            }
        }
    }
    let done = run(script).await?;
    let mut fault_error = None;
    if let (Some(task), Some(sc)) = (fault, &pb.scenario) {
        if task.is_finished() {
            match task.await {
                Ok((at, Ok(_))) => {
                    injected_at = Some(at.as_millis() as i64);
                    note(log, &applied(&sc.inject, at));
                }
                Ok((_, Err(e))) => fault_error = Some(fault_failed(&sc.inject, &e)),
                Err(e) => fault_error = Some(format!("the fault's task failed: {e}")),
            }
        } else {
            task.abort();
            note(
                log,
                &format!(
                    "chaos: the command ended before `after` ({}); {} was not applied",
                    vers_manifest::human_duration(sc.inject.after.unwrap_or_default()),
                    sc.inject.action
                ),
            );
        }
    }
    let (mut status, mut message) = if let Some(e) = fault_error {
        ("error".to_string(), Some(e))
    } else if done.timed_out {
        (
            "timeout".to_string(),
            Some(format!("timed out after {timeout:?}")),
        )
    } else {
        let code = done.code.unwrap_or(-1);
        let expected = expected_code(b);
        if code == expected || (expected != 0 && expected == -1 && code != 0) {
            ("passed".to_string(), None)
        } else {
            (
                "failed".to_string(),
                Some(format!("`{command}` exited with {code}")),
            )
        }
    };
    for hook in as_list(&b.after) {
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(30));
        let cmd = EnvCommand::shell(&ctx.interpolate(&hook)?, &stack.project.dir, &env);
        let done = exec::run_in_env(
            &stack.project,
            env_id,
            &cmd,
            Output::Log(log.clone()),
            Some(remaining),
        )
        .await?;
        if done.code != Some(0) && status == "passed" {
            status = "error".into();
            message = Some(format!(
                "after hook `{hook}` exited with {}",
                done.code.unwrap_or(-1)
            ));
        }
    }
    Ok((status, message, injected_at))
}

/// Why a scenario's fault could not be applied.
fn fault_failed(spec: &vers_manifest::FaultSpec, e: &EngineError) -> String {
    format!(
        "the scenario's fault ({} on {}) could not be applied: {e}",
        spec.action, spec.service
    )
}

/// The log line of an applied fault: what, asked and observed times.
fn applied(spec: &vers_manifest::FaultSpec, at: Duration) -> String {
    let asked = spec
        .after
        .map(|a| format!(", asked after {}", vers_manifest::human_duration(a)))
        .unwrap_or_default();
    let lasting = spec
        .duration
        .map(|d| format!(" for {}", vers_manifest::human_duration(d)))
        .unwrap_or_default();
    format!(
        "chaos: {} on {}{lasting} applied at +{} ms{asked}",
        spec.action,
        spec.service,
        at.as_millis()
    )
}

/// Appends a line to a branch's log.
fn note(log: &PathBuf, line: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// The exit code a branch expects: 0, or what its `expect` says (`fail` = any non-zero, shown as -1).
fn expected_code(b: &Branch) -> i32 {
    match &b.expect {
        Some(e) => e.exit_code(),
        None => 0,
    }
}
