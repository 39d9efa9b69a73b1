//! Finding and removing what a crashed supervisor or CLI left behind: processes in the
//! project's cgroups, network namespaces, test-run environments, half-written checkpoints and
//! snapshots no checkpoint record names.

use crate::error::EngineError;
use crate::project::Project;
use crate::state::{self, EnvStatus};

/// Removes every process, cgroup and namespace of the project that no live supervisor owns,
/// marks environments that were running as stopped, and deletes unfinished snapshots.
/// Called only when the supervisor does not answer.
pub fn clean_leftovers(project: &Project) -> Result<CleanupReport, EngineError> {
    let mut report = CleanupReport::default();
    // Processes first: they may hold mounts and namespaces.
    let root = project.cgroup_root();
    if let Ok(children) = vers_runtime::cgroup::list_children(&root) {
        for child in children {
            let path = format!("{root}/{child}");
            if let Ok(cg) = vers_runtime::cgroup::Cgroup::open(&path) {
                let _ = cg.thaw();
                report.processes += cg.procs().map(|p| p.len()).unwrap_or(0);
                let _ = cg.kill_all();
                let _ = cg.remove();
            }
        }
    }
    if let Ok(names) = vers_runtime::netns::list_netns(&project.netns_prefix()) {
        for name in names {
            if vers_runtime::netns::delete_netns(&name).is_ok() {
                report.namespaces += 1;
            }
        }
    }
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
    let _ = std::fs::remove_dir_all(std::path::Path::new("/run/vers").join(&project.key));
    Ok(report)
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
