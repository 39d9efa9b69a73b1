//! Finding and removing what a crashed supervisor or CLI left behind: processes in the
//! project's cgroups, network namespaces, test-run environments, half-written checkpoints and
//! snapshots no checkpoint record names.

use crate::error::EngineError;
use crate::project::Project;
use crate::state::{self, EnvStatus};

/// Removes every process, cgroup and namespace of the project that no live supervisor owns,
/// marks environments that were running as stopped, and deletes unfinished snapshots.
/// Called only when the supervisor does not answer. Refuses (touching nothing) when the
/// project's key is claimed by another project.
pub fn clean_leftovers(project: &Project) -> Result<CleanupReport, EngineError> {
    project.claim_key()?;
    let mut report = CleanupReport::default();
    (report.processes, report.namespaces) = remove_environments(project);
    if project.state_dir.exists() {
        let mut guard = state::lock(&project.state_dir)?;
        let mut dead_test_envs = Vec::new();
        for env in guard.state.envs.values_mut() {
            if env.status != EnvStatus::Stopped {
                env.status = EnvStatus::Stopped;
                report.environments += 1;
            }
            if env.test_run || env.warm.is_some() {
                dead_test_envs.push(env.id.clone());
            }
        }
        if let Ok(snap) = crate::storage::snapshotter(project) {
            report.partial_checkpoints += sweep_pending(&mut guard.state, snap.as_ref());
            if let Ok(removed) = snap.cleanup_incomplete() {
                report.partial_checkpoints += removed.len();
            }
            for id in &dead_test_envs {
                let _ = snap.delete_volume(id);
            }
            // A snapshot whose checkpoint record was never written (a CLI or worker killed
            // right after the snapshot) would leak forever: no state record names it.
            for id in snap.list_checkpoints() {
                if !guard.state.checkpoints.contains_key(&id) && snap.delete_checkpoint(&id).is_ok()
                {
                    report.orphan_snapshots += 1;
                }
            }
        }
        for id in dead_test_envs {
            guard.state.envs.remove(&id);
        }
        guard.save()?;
    }
    let _ = std::fs::remove_file(project.socket_path());
    let _ = std::fs::remove_dir_all(project.runtime_dir());
    project.claim_key()?;
    Ok(report)
}

/// Kills every process in the project's environment cgroups, removes those cgroups and the
/// project's network namespaces; returns how many processes and namespaces. Only for when no
/// supervisor serves the project any more: at daemon start, and at the end of `down --all`,
/// where it also removes an environment a cancelled operation started but never recorded.
pub fn remove_environments(project: &Project) -> (usize, usize) {
    let (mut processes, mut namespaces) = (0, 0);
    // Processes first: they may hold mounts and namespaces.
    let root = project.cgroup_root();
    if let Ok(children) = vers_runtime::cgroup::list_children(&root) {
        for child in children {
            let path = format!("{root}/{child}");
            if let Ok(cg) = vers_runtime::cgroup::Cgroup::open(&path) {
                let _ = cg.thaw();
                processes += cg.procs().map(|p| p.len()).unwrap_or(0);
                let _ = cg.kill_all();
                let _ = cg.remove();
            }
        }
    }
    if let Ok(names) = vers_runtime::netns::list_netns(&project.netns_prefix()) {
        for name in names {
            if vers_runtime::netns::delete_netns(&name).is_ok() {
                namespaces += 1;
            }
        }
    }
    (processes, namespaces)
}

/// Removes the project's runtime directories when its daemon stops: the cgroup under which
/// its environments lived (when no process is left in it) and `/run/vers/<key>`, so a
/// stopped project leaves nothing on the host but its `.vers/` state.
pub fn remove_runtime_dirs(project: &Project) {
    if let Ok(cg) = vers_runtime::cgroup::Cgroup::open(&project.cgroup_root()) {
        if cg.procs().map(|p| p.is_empty()).unwrap_or(false) {
            let _ = cg.remove();
        }
    }
    let _ = std::fs::remove_dir_all(project.runtime_dir());
}

/// Removes the volumes and checkpoint snapshots whose making process died before their
/// record was written (see [`state::Pending`]); returns how many. Called under the state
/// lock before new ones are made, and at daemon start.
pub fn sweep_pending(
    state: &mut state::State,
    snap: &dyn vers_runtime::snapshot::Snapshotter,
) -> usize {
    let dead: Vec<(String, state::PendingKind)> = state
        .pending
        .iter()
        .filter(|(_, p)| !p.alive())
        .map(|(id, p)| (id.clone(), p.kind))
        .collect();
    let mut removed = 0;
    for (id, kind) in dead {
        let gone = match kind {
            state::PendingKind::Volume if !state.envs.contains_key(&id) => {
                snap.delete_volume(&id).is_ok()
            }
            state::PendingKind::Checkpoint if !state.checkpoints.contains_key(&id) => {
                snap.delete_checkpoint(&id).is_ok()
            }
            // Its record was written: nothing is half made.
            _ => true,
        };
        if gone {
            state.pending.remove(&id);
            removed += 1;
        }
    }
    removed
}

/// What a cleanup removed.
#[derive(Debug, Default, Clone, Copy)]
pub struct CleanupReport {
    /// Processes killed.
    pub processes: usize,
    /// Network namespaces removed.
    pub namespaces: usize,
    /// Environments marked stopped.
    pub environments: usize,
    /// Unfinished checkpoints removed.
    pub partial_checkpoints: usize,
    /// Snapshots no checkpoint record named, removed.
    pub orphan_snapshots: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_refuses_a_key_claimed_by_another_project() {
        let mine = tempfile::tempdir().unwrap();
        let theirs = tempfile::tempdir().unwrap();
        let mut p = Project::at(mine.path().to_path_buf(), mine.path().join("m.yaml"));
        let mut q = Project::at(theirs.path().to_path_buf(), theirs.path().join("m.yaml"));
        // Force the collision the 64-bit hash makes improbable.
        let key = format!("test-{}", std::process::id());
        p.key = key.clone();
        q.key = key;
        q.claim_key().unwrap();
        // Something of theirs under the shared name survives my cleanup.
        let theirs_file = q.runtime_dir().join("e1");
        std::fs::create_dir_all(&theirs_file).unwrap();
        let err = clean_leftovers(&p).unwrap_err().to_string();
        assert!(err.contains("collision"), "{err}");
        assert!(theirs_file.is_dir());
        // Their cleanup works, and once their directory is gone the key is free for mine.
        clean_leftovers(&q).unwrap();
        assert!(!theirs_file.exists());
        drop(theirs);
        clean_leftovers(&p).unwrap();
        assert_eq!(
            std::fs::read(p.claim_path()).unwrap(),
            mine.path().as_os_str().as_encoded_bytes()
        );
        remove_runtime_dirs(&p);
        assert!(!p.runtime_dir().exists());
    }
}
