//! `up` and `down`: the root environment's lifecycle.

use nix::fcntl::Flock;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::EngineError;
use crate::progress::{Event, Progress};
use crate::stack::{self, BuildRequest, Stack};
use crate::state::{self, EnvRecord, EnvStatus};

/// Options of `up`.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Stop after this checkpoint.
    pub checkpoint: Option<String>,
    /// Only these services (and their dependencies).
    pub services: Vec<String>,
    /// Rebuild app services.
    pub rebuild: bool,
    /// Take no checkpoints.
    pub no_checkpoints: bool,
    /// Reuse only checkpoints taken at or after this time (unix seconds): `--rebuild`.
    pub fresh_since: Option<u64>,
}

/// Result of `up`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpOutcome {
    /// The new root environment (HEAD).
    pub env: String,
    /// Services started.
    pub services: Vec<String>,
    /// Checkpoints: name, id, reused from cache.
    pub checkpoints: Vec<(String, String, bool)>,
}

/// Waits for and takes the project's `up` lock (`.vers/up.lock`), held while an `up`
/// replaces the root environment: operations run in worker processes, so two `up` at once
/// would each replace the roots they saw and leave two. A dead holder's lock goes with it.
async fn one_up(state_dir: &std::path::Path) -> Result<Flock<std::fs::File>, EngineError> {
    crate::state::wait_for_lock(state_dir.join("up.lock"), "another `up`").await
}

/// Starts the root environment and makes it HEAD. A previous root environment of the project
/// is replaced only once the manifest has been validated (the caller validated it).
pub async fn up(
    stack: &Stack,
    opts: &UpOptions,
    progress: &dyn Progress,
) -> Result<UpOutcome, EngineError> {
    let services = stack.closure(&opts.services)?;
    // Neither a budget the machine cannot give nor a wrong name may cost the running root
    // environment: both are checked before anything.
    crate::budget::check_fits_machine(&stack.manifest)?;
    for note in crate::budget::unenforced(&stack.manifest) {
        progress.event(Event::Warning(note));
    }
    if let Some(t) = &opts.checkpoint {
        let names = vers_manifest::checkpoint_names(&stack.manifest);
        if !names.contains(t) {
            return Err(EngineError::Manifest(format!(
                "no checkpoint named `{t}`; the manifest's checkpoints are: {}",
                names.join(", ")
            )));
        }
    }
    crate::build::build_apps(stack, &services, opts.rebuild, progress).await?;
    // Two `up` at once would each replace the roots they see and leave two: one at a time.
    let _one_up = one_up(&stack.project.state_dir).await?;
    // Replace earlier root environments of this project; except the newest one when its
    // daemon died under it (it is `stopped`, its data kept) and it ran this same manifest:
    // that one `build` starts again on its data when nothing else differs.
    let mut old: Vec<EnvRecord> = state::read(&stack.project.state_dir)?
        .envs
        .values()
        .filter(|e| e.root && e.matrix.is_empty())
        .cloned()
        .collect();
    old.sort_by_key(|e| (e.created, e.id.len(), e.id.clone()));
    let manifest_hash = std::fs::read(&stack.project.manifest_path)
        .ok()
        .map(|text| crate::manifest_store::hash(&text));
    let resume = match old.last() {
        Some(e)
            if e.status == EnvStatus::Stopped
                && opts.fresh_since.is_none()
                && !opts.rebuild
                && manifest_hash.is_some()
                && e.manifest_hash == manifest_hash =>
        {
            old.pop()
        }
        _ => None,
    };
    for e in old {
        stack.destroy_env(&e.id).await?;
    }
    let outcome = stack::build(
        stack,
        BuildRequest {
            target: opts.checkpoint.as_deref(),
            services: services.clone(),
            keep: true,
            no_checkpoints: opts.no_checkpoints,
            versions: BTreeMap::new(),
            name: "root".into(),
            fresh_since: opts.fresh_since,
            resume,
        },
        progress,
    )
    .await;
    // Even a failed `up` leaves its environment as HEAD so `status` and `logs` can inspect it.
    let env = match &outcome {
        Ok(o) => o.env.clone(),
        Err(_) => state::read(&stack.project.state_dir)?
            .envs
            .values()
            .filter(|e| e.root && e.matrix.is_empty())
            .max_by_key(|e| e.created)
            .map(|e| e.id.clone()),
    };
    if let Some(env) = &env {
        let mut g = state::lock(&stack.project.state_dir)?;
        g.state.head = Some(env.clone());
        g.save()?;
    }
    let outcome = outcome?;
    Ok(UpOutcome {
        env: env.unwrap_or_default(),
        services,
        checkpoints: outcome.checkpoints,
    })
}

/// What `down` did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DownOutcome {
    /// Environments stopped.
    pub stopped: Vec<String>,
    /// Deployments and previews removed (`--deployments`).
    pub removed_deployments: Vec<String>,
    /// Deployments left running (`--all` without `--deployments`): the daemon stays to run
    /// them.
    pub kept_deployments: Vec<String>,
}

/// Stops HEAD's environment (or all of the project's with `all`, and the supervisor) and frees
/// its processes, namespace and data volume. Checkpoints stay (they are the cache). Deployments
/// and previews keep running unless `deployments` (with `all`) removes them too; while one
/// runs, the supervisor stays and the snapshot store stays mounted.
pub async fn down(stack: &Stack, all: bool, deployments: bool) -> Result<DownOutcome, EngineError> {
    let mut outcome = DownOutcome::default();
    if all && deployments {
        let names: Vec<String> = state::read(&stack.project.state_dir)?
            .deployments
            .keys()
            .cloned()
            .collect();
        for name in names {
            outcome
                .stopped
                .extend(crate::deploy::remove(stack, &name).await?);
            outcome.removed_deployments.push(name);
        }
    }
    let st = state::read(&stack.project.state_dir)?;
    let deployed = crate::deploy::envs_of(&st);
    let targets: Vec<String> = if all {
        st.envs
            .keys()
            .filter(|id| !deployed.contains_key(*id))
            .cloned()
            .collect()
    } else {
        st.head.iter().cloned().collect()
    };
    // One environment that cannot be removed does not keep the others, or with `all` the
    // supervisor, running: the first error is reported once everything else is done.
    let mut failed = None;
    for id in targets {
        match stack.destroy_env(&id).await {
            Ok(()) => outcome.stopped.push(id),
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    if all {
        let st = state::read(&stack.project.state_dir)?;
        outcome.kept_deployments = crate::deploy::envs_of(&st)
            .into_iter()
            .filter(|(id, _)| st.envs.contains_key(id))
            .map(|(_, name)| name)
            .collect();
        outcome.kept_deployments.sort();
        outcome.kept_deployments.dedup();
        if !outcome.kept_deployments.is_empty() {
            let mut g = state::lock(&stack.project.state_dir)?;
            g.state.head = None;
            g.save()?;
            return failed.map_or(Ok(outcome), Err);
        }
        let _ = stack.client.shutdown().await;
        // What the supervisor did not know of (an environment a cancelled run started but
        // never recorded) goes too: `down --all` leaves no process or namespace behind.
        let (processes, namespaces) = crate::cleanup::remove_environments(&stack.project);
        if processes + namespaces > 0 {
            tracing::warn!(
                processes,
                namespaces,
                "down --all removed processes and namespaces no environment record named"
            );
        }
        let mut g = state::lock(&stack.project.state_dir)?;
        g.state.head = None;
        for e in g.state.envs.values_mut() {
            e.status = EnvStatus::Stopped;
        }
        g.save()?;
        vers_runtime::snapshot::unmount_store(&stack.project.state_dir)
            .map_err(|e| EngineError::Failed(format!("unmounting the snapshot store: {e}")))?;
    }
    failed.map_or(Ok(outcome), Err)
}
