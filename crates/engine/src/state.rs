//! The project's state store: environments, checkpoints, tags, HEAD and the checkpoint cache,
//! kept in `.vers/state.json` and changed only under an exclusive file lock.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::error::EngineError;

/// Lifecycle of an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvStatus {
    /// Processes are running.
    Running,
    /// Frozen (a previous HEAD after `checkout`).
    Paused,
    /// Processes are gone; the data volume remains.
    Stopped,
}

/// One environment: a network namespace, a data volume and the services started in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvRecord {
    /// Short unique id (also the volume id and the namespace suffix).
    pub id: String,
    /// Human name: `root`, a branch alias, or `suite/branch` for test branches.
    pub name: String,
    /// Whether this is a root environment made by `up` (or a matrix cell).
    pub root: bool,
    /// Checkpoint the data was cloned from (None for a fresh root).
    pub parent_checkpoint: Option<String>,
    /// Services started in it, in start order.
    pub services: Vec<String>,
    /// Current lifecycle state.
    pub status: EnvStatus,
    /// Unix seconds of creation.
    pub created: u64,
    /// Unix seconds its data was last reset to a checkpoint (`vers rollback`); 0 = never.
    /// What happened to its data before (a full store) no longer applies after.
    #[serde(default)]
    pub restored: u64,
    /// Matrix combination this environment runs, if any.
    #[serde(default)]
    pub matrix: BTreeMap<String, String>,
    /// Whether this environment belongs to a test run (removed after it unless kept).
    #[serde(default)]
    pub test_run: bool,
    /// Hash of the manifest it was started with (its text is in `manifest_store`).
    #[serde(default)]
    pub manifest_hash: Option<String>,
    /// Id of the test run that made it (`VERS_RUN_ID` of the daemon's worker), so the
    /// daemon can stop a cancelled run's branches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// For a branch kept ready in a checkpoint's warm pool: which pool, and whether it is
    /// healthy and may be handed out. None for every other environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm: Option<Warm>,
}

/// Membership of an environment in a checkpoint's warm pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warm {
    /// Id of the checkpoint it was forked from (the pool it belongs to).
    pub checkpoint: String,
    /// Whether its services are started and healthy (only ready ones are handed out).
    pub ready: bool,
}

/// An immutable snapshot of an environment's data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointRecord {
    /// Unique id (the snapshotter's checkpoint id).
    pub id: String,
    /// Name: a manifest checkpoint name or a commit tag.
    pub name: String,
    /// Parent checkpoint id, if the environment came from one.
    pub parent: Option<String>,
    /// Environment it was taken from.
    pub env: String,
    /// Services whose data it holds (started when it was taken).
    pub services: Vec<String>,
    /// Free text (`--message`, manifest description).
    pub message: Option<String>,
    /// Cache key of its inputs, for manifest checkpoints.
    pub cache_key: Option<String>,
    /// Unix seconds.
    pub created: u64,
    /// Hash of the manifest at the time.
    pub manifest_hash: String,
    /// Engine versions of the services (template -> version).
    pub engines: BTreeMap<String, String>,
    /// Matrix versions the environment ran with (branches of it run the same engines).
    #[serde(default)]
    pub matrix: BTreeMap<String, String>,
}

/// The whole persisted state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Environments by id.
    pub envs: BTreeMap<String, EnvRecord>,
    /// Checkpoints by id.
    pub checkpoints: BTreeMap<String, CheckpointRecord>,
    /// Tag or checkpoint name -> checkpoint id (latest wins).
    pub tags: BTreeMap<String, String>,
    /// The current environment.
    pub head: Option<String>,
    /// Cache key -> checkpoint id.
    pub cache: BTreeMap<String, String>,
    /// Counter for ids.
    pub next_id: u64,
    /// Local deployments by name (`vers deploy`).
    #[serde(default)]
    pub deployments: BTreeMap<String, crate::deploy::Deployment>,
    /// Volumes and checkpoints being made, by id: written before the snapshotter makes
    /// them and removed with the record that names them, so what a killed process left
    /// half made is found and removed ([`crate::cleanup::sweep_pending`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<String, Pending>,
    /// The last `pre-chaos-N` number handed out (so concurrent injects never share one).
    #[serde(default)]
    pub chaos_checkpoints: u64,
}

/// What is being made under an id, and by which process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// `volume` or `checkpoint`.
    pub kind: PendingKind,
    /// The process making it.
    pub pid: u32,
    /// That process's start time (clock ticks since boot), so a reused pid is not taken
    /// for it.
    pub start: u64,
}

/// Kinds of [`Pending`] work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PendingKind {
    /// A data volume (an environment's).
    Volume,
    /// A checkpoint's snapshot.
    Checkpoint,
}

/// Start time of process `pid` (field 22 of `/proc/PID/stat`), None when it is gone.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl Pending {
    /// Work of `kind` by the current process.
    pub fn mine(kind: PendingKind) -> Pending {
        let pid = std::process::id();
        Pending {
            kind,
            pid,
            start: process_start(pid).unwrap_or(0),
        }
    }

    /// Whether the process that began it is still running.
    pub fn alive(&self) -> bool {
        process_start(self.pid) == Some(self.start)
    }
}

impl State {
    /// Allocates a fresh short id with a prefix (`e` environments, `c` checkpoints).
    pub fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }

    /// Resolves an environment by id or name (the most recent with that name).
    pub fn find_env(&self, key: &str) -> Option<&EnvRecord> {
        self.envs.get(key).or_else(|| {
            self.envs
                .values()
                .filter(|e| e.name == key)
                .max_by_key(|e| (e.created, e.id.len(), e.id.clone()))
        })
    }

    /// Resolves a checkpoint by id, tag or name.
    pub fn find_checkpoint(&self, key: &str) -> Option<&CheckpointRecord> {
        self.checkpoints
            .get(key)
            .or_else(|| self.tags.get(key).and_then(|id| self.checkpoints.get(id)))
    }
}

/// Exclusive access to the state file; saved on `commit`.
pub struct StateGuard {
    path: PathBuf,
    _lock: Flock<File>,
    /// The state as loaded.
    pub state: State,
}

impl StateGuard {
    /// Writes the state atomically (temp file + rename).
    pub fn save(&self) -> Result<(), EngineError> {
        let tmp = self.path.with_extension("json.tmp");
        let data = serde_json::to_vec_pretty(&self.state)
            .map_err(|e| EngineError::Failed(format!("serialising state: {e}")))?;
        let mut f = File::create(&tmp).map_err(|e| EngineError::io(&tmp, e))?;
        f.write_all(&data).map_err(|e| EngineError::io(&tmp, e))?;
        f.sync_all().map_err(|e| EngineError::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| EngineError::io(&self.path, e))
    }
}

/// Waits for and takes the lock of one environment's pause state (`.vers/locks/ENV.lock`):
/// held by a commit from its quiesce to its snapshot, and by whatever freezes the
/// environment (checkout pausing the previous HEAD, `PATCH /api/vm/{id}/state`) until the
/// state records it. Operations run in separate worker processes; without it a checkout
/// could freeze an environment while a commit's quiesce command runs in it, and that
/// command (frozen, SIGKILL pending) would never end. A dead holder's lock goes with it.
pub async fn lock_env(state_dir: &Path, env_id: &str) -> Result<Flock<File>, EngineError> {
    lock_file(state_dir, env_id).await
}

/// Waits for and takes the lock of a branch name (`.vers/locks/name-NAME.lock`), held from
/// the check that no branch has the name until its record is written, so two branches
/// created at once under one name are one branch and a refusal.
pub async fn lock_branch_name(state_dir: &Path, name: &str) -> Result<Flock<File>, EngineError> {
    lock_file(state_dir, &format!("name-{name}")).await
}

async fn lock_file(state_dir: &Path, key: &str) -> Result<Flock<File>, EngineError> {
    let dir = state_dir.join("locks");
    std::fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
    wait_for_lock(
        dir.join(format!("{key}.lock")),
        &format!("the lock of {key}"),
    )
    .await
}

/// Waits for and takes an exclusive `flock` of the file at `path` (created if missing) off
/// the async threads; `what` names it in the error. A dead holder's lock goes with it.
pub(crate) async fn wait_for_lock(path: PathBuf, what: &str) -> Result<Flock<File>, EngineError> {
    tokio::task::spawn_blocking(move || flock_file(&path))
        .await
        .map_err(|e| EngineError::Failed(format!("waiting for {what}: {e}")))?
}

/// Opens (creating it if missing) and exclusively `flock`s the file at `path`, blocking
/// until it is free. A dead holder's lock goes with it.
fn flock_file(path: &Path) -> Result<Flock<File>, EngineError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| EngineError::io(path, e))?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| EngineError::io(path, e.into()))
}

/// Locks and loads the state of a project's state directory (created if missing).
pub fn lock(state_dir: &Path) -> Result<StateGuard, EngineError> {
    std::fs::create_dir_all(state_dir).map_err(|e| EngineError::io(state_dir, e))?;
    let lock = flock_file(&state_dir.join("state.lock"))?;
    let path = state_dir.join("state.json");
    let state = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            EngineError::Failed(format!(
                "{} is corrupt ({e}); remove it and run `vers down --all`",
                path.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
        Err(e) => return Err(EngineError::io(&path, e)),
    };
    Ok(StateGuard {
        path,
        _lock: lock,
        state,
    })
}

/// Reads the state without keeping a lock (for status displays).
pub fn read(state_dir: &Path) -> Result<State, EngineError> {
    Ok(lock(state_dir)?.state)
}

/// Now, in unix seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_ids_are_unique() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let mut g = lock(tmp.path()).unwrap();
            let a = g.state.new_id("e");
            let b = g.state.new_id("e");
            assert_ne!(a, b);
            g.state.tags.insert("t".into(), "c1".into());
            g.save().unwrap();
        }
        let s = read(tmp.path()).unwrap();
        assert_eq!(s.next_id, 2);
        assert_eq!(s.tags.get("t").map(String::as_str), Some("c1"));
    }
}
