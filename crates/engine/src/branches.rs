//! Git-like operations on environments: commit (checkpoint HEAD), branch (fork a checkpoint),
//! checkout, rollback, delete and the checkpoint log.

use std::collections::BTreeMap;

use globset::Glob;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, NewCheckpoint};
use crate::environment;
use crate::error::EngineError;
use crate::pool;
use crate::progress::{Event, Progress};
use crate::stack::Stack;
use crate::state::{self, CheckpointRecord, EnvRecord, EnvStatus};
use crate::supervisor::protocol::TakenPort;

/// The HEAD environment: `VERS_ENV` when set, else `.vers/HEAD`.
pub fn head(stack: &Stack) -> Result<EnvRecord, EngineError> {
    let st = state::read(&stack.project.state_dir)?;
    let key = std::env::var("VERS_ENV")
        .ok()
        .filter(|v| !v.is_empty())
        .or(st.head.clone())
        .ok_or_else(|| no_head(&st))?;
    let env = st.find_env(&key).cloned().ok_or_else(|| {
        EngineError::NotFound(format!(
            "environment `{key}` does not exist (see `vers branch list`)"
        ))
    })?;
    if env.warm.is_none() {
        return Ok(env);
    }
    // A warm branch named by `VERS_ENV` is used as the user's: it leaves its pool first.
    let (_, now) = pool::claim_for_user(stack, &env.id)?;
    now.ok_or_else(|| EngineError::Failed(format!("environment `{key}` vanished")))
}

/// Why there is no HEAD: nothing was started, or HEAD was deleted while other environments
/// live on, which `vers checkout` (not `up`, which would replace the root) brings back.
fn no_head(st: &state::State) -> EngineError {
    let others: Vec<String> = st
        .envs
        .values()
        .filter(|e| e.warm.is_none() && !e.test_run)
        .map(|e| format!("{} ({})", e.name, status_word(e.status)))
        .collect();
    if others.is_empty() {
        return EngineError::NotFound(
            "no environment is running; start one with `vers integration up`".into(),
        );
    }
    EngineError::NotFound(format!(
        "no environment is checked out (HEAD was deleted); the project has {}: check one out \
         with `vers checkout NAME` (`vers integration up` would replace the root environment)",
        others.join(", ")
    ))
}

fn status_word(s: EnvStatus) -> &'static str {
    match s {
        EnvStatus::Running => "running",
        EnvStatus::Paused => "paused",
        EnvStatus::Stopped => "stopped",
    }
}

/// The HEAD environment ([`head`]), which must be running: commands that act on its
/// processes (`execute`, `connect`, `db`, `chaos`, `commit`...) call this.
pub fn running_head(stack: &Stack) -> Result<EnvRecord, EngineError> {
    let env = head(stack)?;
    require_running(&env)?;
    Ok(env)
}

/// A clear error, saying how to start it again, unless environment `env` is running.
pub fn require_running(env: &EnvRecord) -> Result<(), EngineError> {
    let again = if env.root {
        "run `vers integration up` to start it again on its data".to_string()
    } else {
        format!(
            "run `vers checkout {}` to start it again on its data",
            env.name
        )
    };
    match env.status {
        EnvStatus::Running => Ok(()),
        EnvStatus::Stopped => Err(EngineError::Failed(format!(
            "environment {} ({}) is stopped: its processes are gone (the vers daemon stopped \
             under it) and its data is kept; {again}",
            env.name, env.id
        ))),
        EnvStatus::Paused => Err(EngineError::Failed(format!(
            "environment {} ({}) is paused (HEAD moved to another branch); run `vers checkout {}` \
             to resume it",
            env.name, env.id, env.name
        ))),
    }
}

/// `vers commit --tag T`: checkpoints HEAD.
pub async fn commit(
    stack: &Stack,
    tag: &str,
    message: Option<String>,
) -> Result<CheckpointRecord, EngineError> {
    commit_env(stack, None, tag, message, false).await
}

/// Checkpoints environment `env` (id or name; default HEAD) under `tag`; refused when the
/// snapshot store was full while it ran, unless `force`.
pub async fn commit_env(
    stack: &Stack,
    env: Option<&str>,
    tag: &str,
    message: Option<String>,
    force: bool,
) -> Result<CheckpointRecord, EngineError> {
    // A tag names a checkpoint (a snapshot directory) and the branches `checkout` forks from
    // it: the manifest's rule for names.
    vers_manifest::check_name(tag).map_err(|e| {
        EngineError::Manifest(format!(
            "tag {} is refused: {e} ({})",
            vers_manifest::quote(tag),
            vers_manifest::NAME_RULE
        ))
    })?;
    let env = match env {
        Some(key) => state::read(&stack.project.state_dir)?
            .find_env(key)
            .cloned()
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "environment `{key}` does not exist (see `vers branch list`)"
                ))
            })?,
        None => head(stack)?,
    };
    // Nothing freezes the environment between the quiesce and the snapshot; one paused
    // while this waited is refused by the check below, read again under the lock.
    let _paused = state::lock_env(&stack.project.state_dir, &env.id).await?;
    let env = state::read(&stack.project.state_dir)?
        .envs
        .get(&env.id)
        .cloned()
        .unwrap_or(env);
    require_running(&env)?;
    let ctx = stack.env_context(&env.id, &env.name, &env.matrix, BTreeMap::new());
    let engines = environment::preflight(&ctx, &env.services)?;
    let (rec, _) = checkpoint::take(
        &ctx,
        &engines,
        NewCheckpoint {
            name: tag,
            parent: env.parent_checkpoint.clone(),
            services: &env.services,
            message,
            cache_key: None,
            inputs: None,
            force,
        },
    )
    .await?;
    Ok(rec)
}

/// Resolves a checkpoint by id, tag or name, with a helpful error.
pub fn resolve_checkpoint(stack: &Stack, key: &str) -> Result<CheckpointRecord, EngineError> {
    let st = state::read(&stack.project.state_dir)?;
    st.find_checkpoint(key).cloned().ok_or_else(|| {
        let mut names: Vec<&String> = st.tags.keys().collect();
        names.sort();
        EngineError::NotFound(format!(
            "no checkpoint or tag `{key}`; known: {}",
            if names.is_empty() {
                "none yet (run `vers integration up`)".to_string()
            } else {
                names.into_iter().cloned().collect::<Vec<_>>().join(", ")
            }
        ))
    })
}

/// Forks a new running environment from a checkpoint, starting `services` (default: those
/// the checkpoint holds). A ready branch of the checkpoint's warm pool is taken when there is
/// one (see [`crate::pool`]); otherwise the services start cold.
pub async fn fork(
    stack: &Stack,
    name: &str,
    from: &CheckpointRecord,
    services: Option<Vec<String>>,
    test_run: bool,
    extra_vars: BTreeMap<String, String>,
    progress: &dyn Progress,
) -> Result<String, EngineError> {
    let services = services.unwrap_or_else(|| from.services.clone());
    if let Some(h) = pool::take(stack, from, &services, name, test_run, &extra_vars).await? {
        let ms = h.took.as_secs_f64() * 1000.0;
        eprintln!("warm hand-out: {} as {name} in {ms:.2} ms", h.id);
        if !test_run {
            progress.event(crate::progress::Event::Info(format!(
                "{name}: a warm branch of {}, handed out in {ms:.1} ms",
                from.name
            )));
        }
        return Ok(h.id);
    }
    let matrix = from.matrix.clone();
    // Every check that can refuse the branch runs before its record and volume exist.
    let probe = stack.env_context("probe", name, &matrix, BTreeMap::new());
    let engines = environment::preflight(&probe, &services)?;
    let id = stack.new_env(name, false, Some(&from.id), &services, test_run, &matrix)?;
    let booted = async {
        crate::error::failpoint("branch-after-record")?;
        let ctx = stack.env_context(&id, name, &matrix, extra_vars);
        stack.boot(&ctx, &services, &engines, progress).await
    }
    .await;
    let Err(e) = booted else {
        return Ok(id);
    };
    // A branch that did not start is removed whole (processes, namespace, volume, record);
    // its logs stay for the error to point at.
    let removed = stack.destroy_env(&id).await;
    if test_run {
        return Err(e);
    }
    let logs = stack.project.logs_dir().join(&id);
    Err(EngineError::Failed(match removed {
        Ok(()) => format!(
            "branch {name} ({id}) failed to start and was removed; its logs are kept in {}: {e}",
            logs.display()
        ),
        Err(r) => format!(
            "branch {name} ({id}) failed to start (logs in {}): {e}; removing it failed too \
             ({r}): delete it with `vers branch delete {name} --force`",
            logs.display()
        ),
    }))
}

/// `vers branch [--alias A] [--from X]`: forks a branch (default: from HEAD's checkpoint).
pub async fn branch(
    stack: &Stack,
    alias: Option<&str>,
    from: Option<&str>,
    progress: &dyn Progress,
) -> Result<EnvRecord, EngineError> {
    // A branch name becomes a directory and log file name: the manifest's rule for names.
    if let Some(a) = alias {
        vers_manifest::check_name(a).map_err(|e| {
            EngineError::Manifest(format!(
                "branch name {} is refused: {e} ({})",
                vers_manifest::quote(a),
                vers_manifest::NAME_RULE
            ))
        })?;
    }
    let ckpt = match from {
        Some(f) => resolve_checkpoint(stack, f)?,
        None => {
            let h = head(stack)?;
            let id = h.parent_checkpoint.ok_or_else(|| {
                EngineError::Failed("HEAD has no checkpoint yet; take one with `vers commit --tag T` or pass --from".into())
            })?;
            resolve_checkpoint(stack, &id)?
        }
    };
    let (name, _named) = claim_name(stack, alias, "branch").await?;
    let id = fork(stack, &name, &ckpt, None, false, BTreeMap::new(), progress).await?;
    let st = state::read(&stack.project.state_dir)?;
    st.envs
        .get(&id)
        .cloned()
        .ok_or_else(|| EngineError::Failed("the new branch vanished".into()))
}

/// `vers checkout NAME`: makes a branch (or a fresh fork of a tag) HEAD; the previous HEAD is paused.
pub async fn checkout(
    stack: &Stack,
    name: &str,
    progress: &dyn Progress,
) -> Result<EnvRecord, EngineError> {
    let st = state::read(&stack.project.state_dir)?;
    let target = match st.find_env(name) {
        Some(e) => e.clone(),
        None => {
            let ckpt = resolve_checkpoint(stack, name).map_err(|_| {
                EngineError::NotFound(format!(
                    "no branch or tag named `{name}` (see `vers branch list` and `vers log`)"
                ))
            })?;
            let (alias, _named) = claim_name(stack, None, name).await?;
            let id = fork(stack, &alias, &ckpt, None, false, BTreeMap::new(), progress).await?;
            state::read(&stack.project.state_dir)?
                .envs
                .get(&id)
                .cloned()
                .ok_or_else(|| EngineError::Failed("the new branch vanished".into()))?
        }
    };
    // A branch whose daemon died (stopped, its data kept) starts again on its data.
    let target = if target.status == EnvStatus::Stopped {
        stack.resume_env(&target, progress).await?;
        state::read(&stack.project.state_dir)?
            .envs
            .get(&target.id)
            .cloned()
            .ok_or_else(|| EngineError::Failed("the checked-out branch vanished".into()))?
    } else {
        target
    };
    // A warm branch checked out is the user's: it leaves its pool first (the pool refills),
    // so no hand-out gives it, with HEAD's writes, to anyone else.
    let target = if target.warm.is_some() {
        match pool::claim_for_user(stack, &target.id)? {
            (true, Some(claimed)) => claimed,
            (true, None) => {
                return Err(EngineError::Failed("the checked-out branch vanished".into()))
            }
            (false, _) => {
                return Err(EngineError::Failed(format!(
                    "warm branch {} was handed out meanwhile; check out its new name (see `vers branch list`)",
                    target.id
                )))
            }
        }
    } else {
        target
    };
    // The previous HEAD stays locked until the state says it is paused, so no commit
    // quiesces it frozen (see `state::lock_env`).
    let mut _paused = None;
    if let Some(prev) = st.head.as_ref().filter(|h| **h != target.id) {
        if st
            .envs
            .get(prev)
            .is_some_and(|e| e.status == EnvStatus::Running)
        {
            _paused = Some(state::lock_env(&stack.project.state_dir, prev).await?);
            stack.client.freeze(prev).await?;
        }
    }
    if target.status == EnvStatus::Paused {
        stack.client.thaw(&target.id).await?;
    }
    take_fixed_host_ports(stack, &target, progress).await;
    let mut g = state::lock(&stack.project.state_dir)?;
    if let Some(prev) = g.state.head.clone().filter(|h| *h != target.id) {
        if let Some(e) = g.state.envs.get_mut(&prev) {
            if e.status == EnvStatus::Running {
                e.status = EnvStatus::Paused;
            }
        }
    }
    if let Some(e) = g.state.envs.get_mut(&target.id) {
        e.status = EnvStatus::Running;
    }
    g.state.head = Some(target.id.clone());
    g.save()?;
    Ok(target)
}

/// HEAD's services answer on the manifest's fixed host ports (`ports: ["5433:5432"]`,
/// SPEC section 2): a branch made HEAD takes them from whichever environment holds them,
/// which keeps a free port instead. Failing that, the ports stay and the user is told.
async fn take_fixed_host_ports(stack: &Stack, target: &EnvRecord, progress: &dyn Progress) {
    let ports: Vec<TakenPort> = stack
        .manifest
        .services
        .iter()
        .filter(|(name, _)| target.services.contains(name))
        .flat_map(|(name, svc)| {
            svc.ports.iter().map(|p| TakenPort {
                service: name.clone(),
                container: p.container,
                host: p.host,
            })
        })
        .collect();
    if ports.is_empty() {
        return;
    }
    if let Err(e) = stack.client.take_host_ports(&target.id, ports).await {
        progress.event(Event::Warning(format!(
            "{} could not take the fixed host ports: {e}",
            target.name
        )));
    }
}

/// `vers rollback TAG|HEAD`: resets HEAD's data to a checkpoint and restarts its services.
pub async fn rollback(
    stack: &Stack,
    target: &str,
    progress: &dyn Progress,
) -> Result<CheckpointRecord, EngineError> {
    let env = head(stack)?;
    let ckpt = if target == "HEAD" {
        let id = env.parent_checkpoint.clone().ok_or_else(|| {
            EngineError::Failed("HEAD has no parent checkpoint to roll back to".into())
        })?;
        resolve_checkpoint(stack, &id)?
    } else {
        resolve_checkpoint(stack, target)?
    };
    let ctx = stack.env_context(&env.id, &env.name, &env.matrix, BTreeMap::new());
    let engines = environment::preflight(&ctx, &env.services)?;
    // A stopped HEAD (its daemon died) has nothing left in the daemon to stop.
    if let Err(e) = stack.client.delete_env(&env.id).await {
        if !e.to_string().contains("not found") {
            return Err(e);
        }
    }
    let mark_stopped = || -> Result<(), EngineError> {
        let mut g = state::lock(&stack.project.state_dir)?;
        if let Some(e) = g.state.envs.get_mut(&env.id) {
            e.status = EnvStatus::Stopped;
        }
        g.save()
    };
    if let Err(e) = stack.snap.restore(&ckpt.id, &env.id) {
        mark_stopped()?;
        return Err(EngineError::Failed(format!(
            "restoring {} into {} ({}): {e}; it is stopped",
            ckpt.name, env.name, env.id
        )));
    }
    crate::supervisor::diskfill::remove_fill_files(&stack.snap.volume_path(&env.id));
    if let Err(e) = stack.boot(&ctx, &env.services, &engines, progress).await {
        let _ = stack.client.delete_env(&env.id).await;
        mark_stopped()?;
        return Err(EngineError::Failed(format!(
            "{} ({}) was rolled back to {} but did not start again, and is stopped (logs in {}): {e}",
            env.name,
            env.id,
            ckpt.name,
            stack.project.logs_dir().join(&env.id).display()
        )));
    }
    // Started again, a branch's services listen on free host ports: as HEAD it takes the
    // fixed ones back, as at its checkout.
    if state::read(&stack.project.state_dir)?.head.as_deref() == Some(env.id.as_str()) {
        take_fixed_host_ports(stack, &env, progress).await;
    }
    let mut g = state::lock(&stack.project.state_dir)?;
    if let Some(e) = g.state.envs.get_mut(&env.id) {
        e.parent_checkpoint = Some(ckpt.id.clone());
        e.status = EnvStatus::Running;
        e.restored = state::now();
    }
    g.save()?;
    Ok(ckpt)
}

/// `vers branch delete NAME|GLOB`: removes matching environments (HEAD and roots need --force).
pub async fn delete(stack: &Stack, pattern: &str, force: bool) -> Result<Vec<String>, EngineError> {
    let st = state::read(&stack.project.state_dir)?;
    let glob = Glob::new(pattern)
        .map_err(|e| EngineError::Manifest(format!("bad pattern `{pattern}`: {e}")))?
        .compile_matcher();
    let matches: Vec<&EnvRecord> = st
        .envs
        .values()
        .filter(|e| e.id == pattern || e.name == pattern || glob.is_match(&e.name))
        .collect();
    if matches.is_empty() {
        return Err(EngineError::NotFound(format!(
            "no branch matches `{pattern}` (see `vers branch list`)"
        )));
    }
    if !force {
        if let Some(e) = matches
            .iter()
            .find(|e| e.root || st.head.as_deref() == Some(e.id.as_str()))
        {
            return Err(EngineError::Failed(format!(
                "`{}` is {}; pass --force to delete it",
                e.name,
                if e.root {
                    "the root environment"
                } else {
                    "HEAD"
                }
            )));
        }
    }
    let mut removed = Vec::new();
    for e in matches {
        stack.destroy_env(&e.id).await?;
        removed.push(e.name.clone());
    }
    Ok(removed)
}

/// A node of the checkpoint tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEntry {
    /// Checkpoint id.
    pub id: String,
    /// Name or tag.
    pub name: String,
    /// Parent id.
    pub parent: Option<String>,
    /// Message.
    pub message: Option<String>,
    /// Unix seconds.
    pub created: u64,
    /// Depth in the tree (0 = root).
    pub depth: usize,
}

/// The checkpoint tree in depth-first order.
pub fn log(stack: &Stack) -> Result<Vec<LogEntry>, EngineError> {
    let st = state::read(&stack.project.state_dir)?;
    let mut children: BTreeMap<Option<String>, Vec<&CheckpointRecord>> = BTreeMap::new();
    for c in st.checkpoints.values() {
        let parent = c.parent.clone().filter(|p| st.checkpoints.contains_key(p));
        children.entry(parent).or_default().push(c);
    }
    for v in children.values_mut() {
        v.sort_by_key(|c| (c.created, c.id.len(), c.id.clone()));
    }
    let mut out = Vec::new();
    fn walk(
        parent: Option<String>,
        depth: usize,
        children: &BTreeMap<Option<String>, Vec<&CheckpointRecord>>,
        out: &mut Vec<LogEntry>,
    ) {
        if let Some(list) = children.get(&parent) {
            for c in list {
                out.push(LogEntry {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    parent: c.parent.clone(),
                    message: c.message.clone(),
                    created: c.created,
                    depth,
                });
                walk(Some(c.id.clone()), depth + 1, children, out);
            }
        }
    }
    walk(None, 0, &children, &mut out);
    Ok(out)
}

/// A name for a new branch, held under the name's lock until the returned guard drops:
/// `alias` when no branch has it (else an error), or the first free `PREFIX-N` from the
/// project's next id. Two calls at once with one alias make one branch, and generated
/// names do not collide.
async fn claim_name(
    stack: &Stack,
    alias: Option<&str>,
    prefix: &str,
) -> Result<(String, nix::fcntl::Flock<std::fs::File>), EngineError> {
    let mut bump = 0;
    loop {
        let st = state::read(&stack.project.state_dir)?;
        let name = match alias {
            Some(a) => a.to_string(),
            None => format!("{prefix}-{}", st.next_id + 1 + bump),
        };
        let lock = state::lock_branch_name(&stack.project.state_dir, &name).await?;
        let taken = state::read(&stack.project.state_dir)?
            .envs
            .values()
            .any(|e| e.name == name);
        match (taken, alias) {
            (false, _) => return Ok((name, lock)),
            (true, Some(a)) => {
                return Err(EngineError::Failed(format!(
                    "a branch named `{a}` already exists"
                )))
            }
            // Another branch has the generated name: try the next number.
            (true, None) => bump += 1,
        }
    }
}
