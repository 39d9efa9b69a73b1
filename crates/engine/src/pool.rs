//! Warm pools: a checkpoint that says `warm: N` has N branches of it started and healthy
//! while the project's daemon runs, so a branch of it is handed out without starting anything.
//!
//! Pooled branches are ordinary environments whose record says [`Warm`]; a hand-out claims
//! one under the state lock (so none is handed out twice) and renames it. The daemon refills
//! the pools in the background ([`upkeep`]) each time it is kicked: at its start, after every
//! hand-out and after operations that may change checkpoints. Branches of a checkpoint whose
//! tag now names another checkpoint (or that no manifest checkpoint warms any more) are dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vers_manifest::Manifest;

use crate::environment;
use crate::error::EngineError;
use crate::project::Project;
use crate::stack::{Stack, RUN_ID_VAR};
use crate::state::{self, CheckpointRecord, EnvStatus, State, Warm};

/// One pool the manifest asks for: the checkpoint's tag, its current id and the size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Manifest checkpoint name (the tag).
    pub tag: String,
    /// Id of the checkpoint the tag names now.
    pub checkpoint: String,
    /// Branches to keep ready.
    pub size: usize,
}

/// The pools `manifest` asks for whose checkpoints exist (a pool never builds its checkpoint),
/// while the project has a running environment of the user's (a root, HEAD or branch that is
/// not a warm one): after `vers down` or `vers down --all` no pool is kept, so a daemon that a
/// later read-only command starts starts nothing until the user starts something again.
pub fn wanted(manifest: &Manifest, st: &State) -> Vec<Wanted> {
    let in_use = st
        .envs
        .values()
        .any(|e| e.warm.is_none() && e.status == EnvStatus::Running);
    if !in_use {
        return Vec::new();
    }
    manifest
        .checkpoints
        .iter()
        .filter(|c| c.warm > 0)
        .filter_map(|c| {
            let id = st.tags.get(&c.name)?;
            st.checkpoints.contains_key(id).then(|| Wanted {
                tag: c.name.clone(),
                checkpoint: id.clone(),
                size: c.warm as usize,
            })
        })
        .collect()
}

/// Whether any of `keys` appears in what the services interpolate when they start (env,
/// command, health command, config): a branch started without those variables would differ.
fn interpolates_any<'a>(
    manifest: &Manifest,
    services: &[String],
    keys: impl Iterator<Item = &'a String>,
) -> bool {
    let text: String = services
        .iter()
        .filter_map(|s| manifest.services.get(s))
        .filter_map(|s| serde_json::to_string(s).ok())
        .collect();
    keys.into_iter().any(|k| text.contains(k.as_str()))
}

/// Takes environment `id` out of its pool if it is a warm branch (a checkout or any other
/// use of it as the user's), renaming it `name`; call under the state lock. Returns whether it
/// was one: a warm branch leaves its pool exactly once, whichever path claims it first.
pub fn claim(st: &mut State, id: &str, name: &str) -> bool {
    match st.envs.get_mut(id) {
        Some(e) if e.warm.is_some() => {
            e.warm = None;
            e.name = name.to_string();
            e.created = state::now();
            CLAIMED.store(true, std::sync::atomic::Ordering::Relaxed);
            true
        }
        _ => false,
    }
}

/// Takes warm branch `id` out of its pool for the user, renamed `branch-N` after its id, under
/// the state lock. Returns whether this call claimed it (false: another path did first) and
/// the environment's record as it is now.
pub fn claim_for_user(
    stack: &Stack,
    id: &str,
) -> Result<(bool, Option<state::EnvRecord>), EngineError> {
    let mut g = state::lock(&stack.project.state_dir)?;
    let name = format!("branch-{}", id.trim_start_matches('e'));
    let claimed = claim(&mut g.state, id, &name);
    if claimed {
        g.save()?;
    }
    Ok((claimed, g.state.envs.get(id).cloned()))
}

/// Set when this process took a warm branch out of its pool ([`claim`]).
static CLAIMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this process took a warm branch out of its pool, so its pool needs a refill.
pub fn claimed_any() -> bool {
    CLAIMED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Takes warm branch `id` out of its pool so no hand-out gets it, then deletes it; a branch
/// that was handed out meanwhile is left alone. Returns whether it was deleted.
async fn evict(stack: &Stack, id: &str) -> Result<bool, EngineError> {
    {
        let mut g = state::lock(&stack.project.state_dir)?;
        match g.state.envs.get_mut(id).and_then(|e| e.warm.as_mut()) {
            Some(w) => w.ready = false,
            None => return Ok(false),
        }
        g.save()?;
    }
    stack.destroy_env(id).await?;
    Ok(true)
}

/// Deletes the warm branches of the checkpoints `ids` (being removed): pool branches are not
/// the user's, so they never keep a checkpoint. Returns the deleted environments' ids.
pub async fn drop_pools_of(stack: &Stack, ids: &[String]) -> Result<Vec<String>, EngineError> {
    let st = state::read(&stack.project.state_dir)?;
    let mut dropped = Vec::new();
    for e in st.envs.values() {
        if e.warm.as_ref().is_some_and(|w| ids.contains(&w.checkpoint))
            && evict(stack, &e.id).await?
        {
            dropped.push(e.id.clone());
        }
    }
    Ok(dropped)
}

/// A warm branch handed out.
#[derive(Debug, Clone)]
pub struct HandOut {
    /// The environment's id (unchanged: its processes already run under it).
    pub id: String,
    /// Time from the request to the branch being the caller's.
    pub took: Duration,
}

/// Takes a ready warm branch of `from` running exactly `services` and makes it the caller's
/// environment `name`; None when the pool is empty (the caller starts one cold). A branch
/// whose processes died in the pool is deleted and the next one tried.
pub async fn take(
    stack: &Stack,
    from: &CheckpointRecord,
    services: &[String],
    name: &str,
    test_run: bool,
    extra_vars: &BTreeMap<String, String>,
) -> Result<Option<HandOut>, EngineError> {
    let began = Instant::now();
    if interpolates_any(&stack.manifest, services, extra_vars.keys()) {
        return Ok(None);
    }
    let wanted: BTreeSet<&String> = services.iter().collect();
    loop {
        let claimed = {
            let mut g = state::lock(&stack.project.state_dir)?;
            let id = g
                .state
                .envs
                .values()
                .filter(|e| {
                    e.status == EnvStatus::Running
                        && e.warm
                            .as_ref()
                            .is_some_and(|w| w.ready && w.checkpoint == from.id)
                        && e.services.iter().collect::<BTreeSet<_>>() == wanted
                })
                .min_by_key(|e| (e.created, e.id.len(), e.id.clone()))
                .map(|e| e.id.clone());
            let Some(id) = id else { return Ok(None) };
            if let Some(e) = g.state.envs.get_mut(&id) {
                e.warm = None;
                e.name = name.to_string();
                e.test_run = test_run;
                e.created = state::now();
                e.run = if test_run {
                    std::env::var(RUN_ID_VAR).ok().filter(|r| !r.is_empty())
                } else {
                    None
                };
            }
            g.save()?;
            id
        };
        let _ = stack.client.kick_pools().await;
        if alive(stack, &claimed).await {
            return Ok(Some(HandOut {
                id: claimed,
                took: began.elapsed(),
            }));
        }
        stack.destroy_env(&claimed).await?;
    }
}

/// Whether every process of environment `id` still runs.
async fn alive(stack: &Stack, id: &str) -> bool {
    let Ok(envs) = stack.client.envs().await else {
        return false;
    };
    envs.iter().find(|e| e.id == id).is_some_and(|e| {
        e.services
            .iter()
            .all(|s| s.processes.iter().all(|p| p.alive))
    })
}

/// Asks the project's daemon (if it runs) to refill its pools; best effort.
pub async fn kick(project: &Project) {
    if let Some(client) = crate::supervisor::client::connect_existing(project).await {
        let _ = client.kick_pools().await;
    }
}

/// What one refill did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FillReport {
    /// Warm branches started (env ids).
    pub started: Vec<String>,
    /// Warm branches deleted (stale checkpoint, dead processes or failed start).
    pub dropped: Vec<String>,
    /// Starts that failed, with their errors.
    pub failed: Vec<String>,
    /// Branches not started because they would not fit in memory (`vm.memory_mib`).
    pub no_room: usize,
}

/// How many more environments of `vm.memory_mib` fit in three quarters of the memory
/// available now (unbounded without `vm.memory_mib`).
/// The warm branches of a checkpoint's pool, ready or starting.
fn members<'s>(st: &'s State, checkpoint: &str) -> Vec<&'s state::EnvRecord> {
    st.envs
        .values()
        .filter(|e| e.warm.as_ref().is_some_and(|w| w.checkpoint == checkpoint))
        .collect()
}

fn room(manifest: &Manifest) -> usize {
    let Some(per_env) = manifest.vm.as_ref().and_then(|v| v.memory_mib) else {
        return usize::MAX;
    };
    let available_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(4096);
    (available_mib * 3 / 4 / per_env.max(1)) as usize
}

/// Brings every pool to its size: drops stale or dead warm branches, then starts the missing
/// ones (all at once), each counting against `vm.memory_mib`.
pub async fn fill(stack: &Stack) -> Result<FillReport, EngineError> {
    let mut report = FillReport::default();
    let st = state::read(&stack.project.state_dir)?;
    let wanted = wanted(&stack.manifest, &st);
    let live = stack.client.envs().await.unwrap_or_default();
    for e in st.envs.values() {
        let Some(w) = &e.warm else { continue };
        let current = wanted.iter().any(|p| p.checkpoint == w.checkpoint);
        let dead = w.ready
            && !live.iter().any(|l| {
                l.id == e.id
                    && l.services
                        .iter()
                        .all(|s| s.processes.iter().all(|p| p.alive))
            });
        if (!current || dead || e.status != EnvStatus::Running) && evict(stack, &e.id).await? {
            report.dropped.push(e.id.clone());
        }
    }
    // A pool never holds more than its size (a daemon killed mid-refill leaves a worker that
    // still starts branches while the next daemon refills): the extras go, the ready and
    // oldest stay.
    let st = state::read(&stack.project.state_dir)?;
    for p in &wanted {
        let mut members = members(&st, &p.checkpoint);
        members.sort_by_key(|e| {
            (
                !e.warm.as_ref().is_some_and(|w| w.ready),
                e.created,
                e.id.len(),
                e.id.clone(),
            )
        });
        for e in members.iter().skip(p.size) {
            if evict(stack, &e.id).await? {
                report.dropped.push(e.id.clone());
            }
        }
    }
    let st = state::read(&stack.project.state_dir)?;
    // The memory cap counts the warm branches there are: they use little of the memory they
    // may grow to, so `MemAvailable` alone would let every refill add more.
    let pooled = st.envs.values().filter(|e| e.warm.is_some()).count();
    let mut room = room(&stack.manifest).saturating_sub(pooled);
    let mut starts = Vec::new();
    for p in &wanted {
        let have = members(&st, &p.checkpoint).len();
        let Some(rec) = st.checkpoints.get(&p.checkpoint) else {
            continue;
        };
        for _ in have..p.size {
            if room == 0 {
                report.no_room += 1;
                continue;
            }
            room -= 1;
            starts.push(start_warm(stack, rec.clone()));
        }
    }
    for outcome in futures_util::future::join_all(starts).await {
        match outcome {
            Ok(id) => report.started.push(id),
            Err((id, e)) => {
                report.failed.push(e.to_string());
                if let Some(id) = id {
                    report.dropped.push(id);
                }
            }
        }
    }
    Ok(report)
}

/// Starts one warm branch of `rec`; on failure it is deleted (its id returned with the error).
async fn start_warm(
    stack: &Stack,
    rec: CheckpointRecord,
) -> Result<String, (Option<String>, EngineError)> {
    let name = format!("warm-{}", rec.name);
    let id = stack
        .new_env(
            &name,
            false,
            Some(&rec.id),
            &rec.services,
            false,
            &rec.matrix,
        )
        .map_err(|e| (None, e))?;
    let mark = |ready: bool| -> Result<(), EngineError> {
        let mut g = state::lock(&stack.project.state_dir)?;
        if let Some(e) = g.state.envs.get_mut(&id) {
            e.warm = Some(Warm {
                checkpoint: rec.id.clone(),
                ready,
            });
        }
        // The pool may have gone while this branch was being made (its checkpoint removed,
        // the project brought down): then the branch goes too.
        if !wanted(&stack.manifest, &g.state)
            .iter()
            .any(|p| p.checkpoint == rec.id)
        {
            return Err(EngineError::Failed(format!(
                "the warm pool of {} is no longer wanted",
                rec.name
            )));
        }
        g.save()
    };
    let booted = async {
        mark(false)?;
        let mut ctx = stack.env_context(&id, &name, &rec.matrix, BTreeMap::new());
        // A pool branch must not hold the fixed host ports HEAD (or the branch it becomes) needs.
        ctx.fixed_host_ports = false;
        let engines = environment::preflight(&ctx, &rec.services)?;
        stack
            .boot(&ctx, &rec.services, &engines, &crate::progress::Silent)
            .await?;
        mark(true)
    }
    .await;
    match booted {
        Ok(()) => Ok(id),
        Err(e) => {
            let _ = stack.destroy_env(&id).await;
            Err((Some(id), e))
        }
    }
}

/// Whether the project may have pools to keep: its manifest warms a checkpoint, or its state
/// still holds warm branches (to drop).
fn has_pools(project: &Project) -> bool {
    let warms = vers_manifest::load(&project.manifest_path)
        .map(|m| m.checkpoints.iter().any(|c| c.warm > 0))
        .unwrap_or(false);
    warms
        || state::read(&project.state_dir)
            .map(|st| st.envs.values().any(|e| e.warm.is_some()))
            .unwrap_or(false)
}

/// The daemon's pool keeper: after each kick, one refill in a worker of its own (kicks that
/// arrive meanwhile cause one more). Ends when `stop` is notified.
pub async fn upkeep(project: Project, kick: Arc<tokio::sync::Notify>) {
    loop {
        kick.notified().await;
        if !has_pools(&project) {
            continue;
        }
        crate::api::ops::run_internal(&project, crate::api::requests::Op::FillPools).await;
    }
}
