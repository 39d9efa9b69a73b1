//! Locating a project (the directory holding `vers-integration.yaml`) and its `.vers/` state paths.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::EngineError;

/// The manifest file name looked up from the current directory upwards.
pub const MANIFEST_FILE: &str = "vers-integration.yaml";
/// The same file with the shorter extension, found when there is no `.yaml` one.
pub const MANIFEST_FILE_YML: &str = "vers-integration.yml";

/// The manifest of a project in `dir`: `vers-integration.yaml`, else `.yml` as Compose
/// accepts it (the `.yaml` one wins when both are there; when neither exists, the `.yaml`
/// path).
pub fn manifest_in(dir: &Path) -> PathBuf {
    let yaml = dir.join(MANIFEST_FILE);
    let yml = dir.join(MANIFEST_FILE_YML);
    if !yaml.is_file() && yml.is_file() {
        yml
    } else {
        yaml
    }
}

/// A project: where its manifest is and where its state lives.
#[derive(Debug, Clone)]
pub struct Project {
    /// Directory holding the manifest; commands, scripts and builds run here.
    pub dir: PathBuf,
    /// The manifest file.
    pub manifest_path: PathBuf,
    /// `<dir>/.vers`: state, logs, snapshots.
    pub state_dir: PathBuf,
    /// Stable hash of the project directory (16 hex digits, 64 bits), used in namespace,
    /// cgroup and `/run/vers` names. Destructive cleanup also checks the key's claim
    /// ([`Project::claim_path`]) names this project, so even a collision cannot make one
    /// project remove another's processes.
    pub key: String,
}

impl Project {
    /// Finds the project from `file` (explicit manifest path) or from `cwd` upwards.
    pub fn find(file: Option<&Path>, cwd: &Path) -> Result<Project, EngineError> {
        let manifest_path = match file {
            Some(f) => {
                let f = if f.is_absolute() {
                    f.to_path_buf()
                } else {
                    cwd.join(f)
                };
                if !f.is_file() {
                    return Err(EngineError::NoManifest(format!(
                        "{} does not exist; check the -f path",
                        f.display()
                    )));
                }
                f
            }
            None => {
                let mut dir = Some(cwd);
                let mut found = None;
                while let Some(d) = dir {
                    let candidate = manifest_in(d);
                    if candidate.is_file() {
                        found = Some(candidate);
                        break;
                    }
                    dir = d.parent();
                }
                found.ok_or_else(|| {
                    EngineError::NoManifest(format!(
                        "no {MANIFEST_FILE} in {} or any parent directory; create one with `vers integration init NAME` or pass -f FILE",
                        cwd.display()
                    ))
                })?
            }
        };
        let manifest_path = manifest_path
            .canonicalize()
            .map_err(|e| EngineError::io(&manifest_path, e))?;
        let dir = manifest_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        Ok(Project::at(dir, manifest_path))
    }

    /// A project rooted at `dir` with the given manifest path (no checks).
    pub fn at(dir: PathBuf, manifest_path: PathBuf) -> Project {
        let digest = Sha256::digest(dir.as_os_str().as_encoded_bytes());
        let key = hex::encode(&digest[..8]);
        Project {
            state_dir: dir.join(".vers"),
            dir,
            manifest_path,
            key,
        }
    }

    /// Directory of the daemon's API socket: under `/run/vers/<key>/` so its path stays
    /// short (unix socket paths are limited to 108 bytes) whatever the project path is.
    pub fn api_dir(&self) -> PathBuf {
        PathBuf::from("/run/vers").join(&self.key).join("api")
    }

    /// Directory of the API socket an environment's own processes see in place of
    /// [`Project::api_dir`] (bind-mounted over it in their mount namespace).
    pub fn env_api_dir(&self, env_id: &str) -> PathBuf {
        PathBuf::from("/run/vers")
            .join(&self.key)
            .join("envs")
            .join(env_id)
    }

    /// What the processes of environment `env_id` see of the snapshot stores and of
    /// `/run/vers` (see `docs/isolation.md`): of the project's store only the environment's
    /// own volume (`volumes/<env_id>`), of `/run/vers` only its own run directory and the
    /// API directory (where its own socket is bound). Other environments' volumes,
    /// checkpoints, sockets and configuration files, of this project or another, are not
    /// there. The views are built on empty directories under `/run/vers/<key>/views/<env_id>`.
    pub fn env_views(&self, env_id: &str) -> Vec<vers_runtime::spawn::View> {
        let scratch = self.views_dir(env_id);
        vec![
            vers_runtime::spawn::View {
                dir: vers_runtime::snapshot::store_path(&self.state_dir),
                keep: vec![Path::new("volumes").join(env_id)],
                scratch: scratch.join("store"),
                read_only: true,
            },
            vers_runtime::spawn::View {
                dir: PathBuf::from("/run/vers"),
                keep: vec![
                    Path::new(&self.key).join(env_id),
                    Path::new(&self.key).join("api"),
                ],
                scratch: scratch.join("run"),
                // A nested `vers` of another project makes its runtime directory here.
                read_only: false,
            },
        ]
    }

    /// The scratch directories of [`Project::env_views`] for `env_id`.
    pub fn views_dir(&self, env_id: &str) -> PathBuf {
        self.runtime_dir().join("views").join(env_id)
    }

    /// `/run/vers/<key>`: every runtime directory of the project (API sockets, per-environment
    /// scratch directories); removed when its daemon stops.
    pub fn runtime_dir(&self) -> PathBuf {
        PathBuf::from("/run/vers").join(&self.key)
    }

    /// `/run/vers/<key>/project`: the project directory owning the key, written by its
    /// daemon at start.
    pub fn claim_path(&self) -> PathBuf {
        self.runtime_dir().join("project")
    }

    /// Claims the key for this project, or says which other project holds it (a key
    /// collision: then nothing named by the key may be cleaned up from here).
    pub fn claim_key(&self) -> Result<(), EngineError> {
        let path = self.claim_path();
        let me = self.dir.as_os_str().as_encoded_bytes();
        match std::fs::read(&path) {
            Ok(owner) if owner == me => return Ok(()),
            Ok(owner) if Path::new(std::ffi::OsStr::from_bytes(&owner)).is_dir() => {
                return Err(EngineError::Failed(format!(
                    "project key {} of {} is held by {} (a hash collision); move one of the projects",
                    self.key,
                    self.dir.display(),
                    String::from_utf8_lossy(&owner)
                )))
            }
            // A claim of a directory that no longer exists is stale.
            _ => {}
        }
        std::fs::create_dir_all(self.runtime_dir())
            .map_err(|e| EngineError::io(&self.runtime_dir(), e))?;
        std::fs::write(&path, me).map_err(|e| EngineError::io(&path, e))
    }

    /// Path of the daemon's unix socket.
    pub fn socket_path(&self) -> PathBuf {
        self.api_dir().join("api.sock")
    }

    /// Lock file the running daemon holds for its whole life: exactly one daemon per project.
    pub fn daemon_lock_path(&self) -> PathBuf {
        self.state_dir.join("daemon.lock")
    }

    /// Lock file clients hold while they start the daemon, so concurrent commands start one.
    pub fn daemon_start_lock_path(&self) -> PathBuf {
        self.state_dir.join("daemon-start.lock")
    }

    /// The daemon's log file.
    pub fn daemon_log_path(&self) -> PathBuf {
        self.state_dir.join("daemon.log")
    }

    /// The daemon's pid file.
    pub fn daemon_pid_path(&self) -> PathBuf {
        self.state_dir.join("daemon.pid")
    }

    /// Where environment `env_id` finds the built code of its apps when it does not run them
    /// from the working tree (a deployment version's snapshot): a link to that snapshot.
    pub fn code_link(&self, env_id: &str) -> PathBuf {
        self.state_dir.join("code").join(env_id)
    }

    /// Directory of service and test logs.
    pub fn logs_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    /// Short per-environment scratch directory for unix sockets (outside the project, paths must stay short).
    pub fn run_dir(&self, env_id: &str) -> PathBuf {
        PathBuf::from("/run/vers").join(&self.key).join(env_id)
    }

    /// Network namespace name of an environment.
    pub fn netns_name(&self, env_id: &str) -> String {
        format!("{}{}", self.netns_prefix(), env_id)
    }

    /// Prefix shared by every namespace of this project (used to find leftovers).
    pub fn netns_prefix(&self) -> String {
        format!("vers-{}-", self.key)
    }

    /// Cgroup path (relative to each controller root) of an environment.
    pub fn cgroup_path(&self, env_id: &str) -> String {
        format!("{}/{}", self.cgroup_root(), env_id)
    }

    /// Cgroup under which every environment of this project lives.
    pub fn cgroup_root(&self) -> String {
        format!("vers/{}", self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_manifest_upwards_and_derives_names() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(MANIFEST_FILE), "name: x\n").unwrap();
        let sub = tmp.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let p = Project::find(None, &sub).unwrap();
        assert_eq!(p.dir, tmp.path().canonicalize().unwrap());
        assert_eq!(p.key.len(), 16);
        assert!(p.socket_path().as_os_str().len() < 40);
        assert!(p.netns_name("root").starts_with("vers-"));
        assert!(p.netns_name("root").ends_with("-root"));
    }

    #[test]
    fn missing_manifest_says_how_to_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Project::find(None, tmp.path()).unwrap_err().to_string();
        assert!(err.contains("vers integration init"), "{err}");
    }
}
