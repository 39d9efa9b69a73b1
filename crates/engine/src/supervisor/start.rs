//! Starting the project's daemon exactly once: clients serialise on
//! `.vers/daemon-start.lock`, and the daemon itself holds `.vers/daemon.lock` while it lives,
//! so however many commands start at the same moment, one daemon serves the project.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use super::client::Client;
use crate::error::EngineError;
use crate::project::Project;

/// How long a starting daemon may take to answer (cleanup of a dead predecessor and creating
/// the snapshot store included).
const START_TIMEOUT: Duration = Duration::from_secs(30);

fn open_lock(path: &Path) -> Result<File, EngineError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| EngineError::io(path, e))
}

/// Takes the daemon lock without waiting; `None` when another daemon holds it.
pub fn hold_daemon_lock(project: &Project) -> Result<Option<Flock<File>>, EngineError> {
    let path = project.daemon_lock_path();
    let file = open_lock(&path)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(lock)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(EngineError::io(&path, e.into())),
    }
}

/// Whether a daemon currently holds the project's daemon lock.
pub fn daemon_alive(project: &Project) -> bool {
    matches!(hold_daemon_lock(project), Ok(None))
}

/// Starts the daemon unless a concurrent caller already did, and waits until it answers.
pub async fn start_daemon(project: &Project, client: &Client) -> Result<(), EngineError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(EngineError::Forbidden(format!(
            "vers runs environments in network namespaces, cgroups and mounts of their own, \
             which need root: run `sudo vers …` in {} (validate, plan and init work without)",
            project.dir.display()
        )));
    }
    let engine = vers_runtime::spawn::engine_user().ok();
    let opened = super::access::private_state_dir(&project.state_dir, engine.as_ref())
        .map_err(|e| EngineError::io(&project.state_dir, e))?;
    if let (Some(user), false) = (&engine, opened.is_empty()) {
        let dirs: Vec<String> = opened.iter().map(|d| d.display().to_string()).collect();
        eprintln!(
            "vers: engines run as user {} and could not reach {}; gave that user search access \
             (an ACL entry: no listing, no reading) to {}",
            user.name,
            project.state_dir.display(),
            dirs.join(", ")
        );
    }
    keep_out_of_git(&project.state_dir).map_err(|e| EngineError::io(&project.state_dir, e))?;
    let lock_path = project.daemon_start_lock_path();
    let file = open_lock(&lock_path)?;
    let _start_lock =
        tokio::task::spawn_blocking(move || Flock::lock(file, FlockArg::LockExclusive))
            .await
            .map_err(|e| EngineError::Supervisor(format!("waiting for the start lock: {e}")))?
            .map_err(|(_, e)| EngineError::io(&lock_path, e.into()))?;
    // Another command may have started it while this one waited for the lock.
    if client.ping().await {
        return Ok(());
    }
    let log_path = project.daemon_log_path();
    let mut child = spawn(project, &log_path)?;
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if client.ping().await {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            // A daemon that exits at once found another one holding the daemon lock: wait for
            // that one to answer.
            if !daemon_alive(project) {
                return Err(failed_to_start(&log_path, &format!("it exited ({status})")));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(failed_to_start(
        &log_path,
        &format!("it did not answer within {}s", START_TIMEOUT.as_secs()),
    ))
}

fn spawn(project: &Project, log_path: &PathBuf) -> Result<std::process::Child, EngineError> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().map_err(|e| EngineError::io(Path::new("vers"), e))?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| EngineError::io(log_path, e))?;
    let log2 = log.try_clone().map_err(|e| EngineError::io(log_path, e))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("daemon")
        .arg("--project")
        .arg(&project.dir)
        .arg("--manifest")
        .arg(&project.manifest_path)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log2)
        .current_dir(&project.dir);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent. The daemon
    // must outlive this command: it gets its own session.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(|e| EngineError::Supervisor(format!("starting the daemon: {e}")))
}

fn failed_to_start(log_path: &Path, why: &str) -> EngineError {
    EngineError::Supervisor(format!(
        "the vers daemon did not start: {why}; its log ({}) ends with:\n{}",
        log_path.display(),
        crate::logfile::tail_text(log_path, 10)
    ))
}

/// Writes `.vers/.gitignore` ignoring everything in `.vers` (as `.pytest_cache` and virtual
/// environments do), so `git add -A` in a project whose own `.gitignore` does not name
/// `.vers/` never picks up the store image, logs or state.
fn keep_out_of_git(state_dir: &Path) -> std::io::Result<()> {
    let path = state_dir.join(".gitignore");
    if path.exists() {
        return Ok(());
    }
    std::fs::write(
        path,
        "# vers's working state (store image, logs, state); never committed.\n*\n",
    )
}
