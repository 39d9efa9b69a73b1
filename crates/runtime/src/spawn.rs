//! Starting processes inside an environment: enter its network namespace, give it a private
//! mount namespace with the environment's hosts file over `/etc/hosts`, join its cgroup, and
//! drop to the unprivileged engine user — all in the child between fork and exec.
//!
//! No parent-death signal is set: processes must outlive the CLI that asked for them; the
//! supervisor owns, reaps and kills them (by process group or through their cgroup).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::{setgid, setgroups, setsid, setuid, Gid, Pid, Uid};

use crate::cgroup::Cgroup;
use crate::error::RuntimeError;

/// A user to run processes as.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct User {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Login name.
    pub name: String,
}

/// Everything needed to start one process in an environment.
#[derive(Debug, Clone, Default)]
pub struct SpawnSpec {
    /// Program (looked up on the spec's PATH when relative).
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// The whole environment (nothing is inherited).
    pub env: BTreeMap<String, String>,
    /// Working directory (empty: inherit the caller's).
    pub cwd: PathBuf,
    /// Network namespace to enter.
    pub netns: Option<String>,
    /// File bind-mounted over `/etc/hosts` (in a private mount namespace).
    pub hosts_file: Option<PathBuf>,
    /// Further bind mounts (source, target) in the private mount namespace; e.g. the
    /// environment's own API socket directory over the daemon's.
    pub binds: Vec<(PathBuf, PathBuf)>,
    /// Run as this user.
    pub user: Option<User>,
    /// Cgroup to join before exec.
    pub cgroup: Option<Cgroup>,
    /// Append stdout here.
    pub stdout: Option<PathBuf>,
    /// Append stderr here.
    pub stderr: Option<PathBuf>,
    /// Connect stdin to /dev/null.
    pub stdin_null: bool,
    /// Start a new session (and process group) so the whole tree can be signalled.
    pub new_session: bool,
}

/// What the child needs, prepared in the parent (no allocation after fork).
struct Prepared {
    netns: Option<OwnedFd>,
    hosts: Option<CString>,
    binds: Vec<(CString, CString)>,
    cgroup_procs: Vec<OwnedFd>,
    user: Option<User>,
    new_session: bool,
}

fn prepare(spec: &SpawnSpec) -> Result<Prepared, RuntimeError> {
    let netns = match &spec.netns {
        Some(name) => {
            let p = crate::netns::netns_path(name);
            Some(OwnedFd::from(
                std::fs::File::open(&p).map_err(|e| RuntimeError::io(&p, e))?,
            ))
        }
        None => None,
    };
    let hosts = match &spec.hosts_file {
        Some(h) => {
            if !h.is_file() {
                return Err(RuntimeError::NotFound(format!(
                    "hosts file {} for {}",
                    h.display(),
                    spec.program.display()
                )));
            }
            Some(CString::new(h.as_os_str().as_encoded_bytes()).map_err(|_| {
                RuntimeError::Sys(format!("hosts file path {} contains NUL", h.display()))
            })?)
        }
        None => None,
    };
    let cgroup_procs = match &spec.cgroup {
        Some(cg) => cg.procs_files()?,
        None => Vec::new(),
    };
    let c_path = |p: &Path| {
        CString::new(p.as_os_str().as_encoded_bytes())
            .map_err(|_| RuntimeError::Sys(format!("path {} contains NUL", p.display())))
    };
    let mut binds = Vec::new();
    for (src, dst) in &spec.binds {
        if src.exists() && dst.exists() {
            binds.push((c_path(src)?, c_path(dst)?));
        }
    }
    Ok(Prepared {
        netns,
        hosts,
        binds,
        cgroup_procs,
        user: spec.user.clone(),
        new_session: spec.new_session,
    })
}

fn open_log(path: &Path) -> Result<std::fs::File, RuntimeError> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| RuntimeError::io(d, e))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| RuntimeError::io(path, e))
}

/// Builds a std command for `spec`: environment cleared and replaced, working directory,
/// log files, and the pre-exec step that enters the environment. Callers may still change
/// stdio (to capture output) before spawning.
pub fn std_command(spec: &SpawnSpec) -> Result<std::process::Command, RuntimeError> {
    let prepared = prepare(spec)?;
    let mut cmd = std::process::Command::new(&spec.program);
    cmd.args(&spec.args).env_clear().envs(&spec.env);
    if !spec.cwd.as_os_str().is_empty() {
        cmd.current_dir(&spec.cwd);
    }
    if spec.stdin_null {
        cmd.stdin(Stdio::null());
    }
    if let Some(p) = &spec.stdout {
        cmd.stdout(open_log(p)?);
    }
    if let Some(p) = &spec.stderr {
        cmd.stderr(open_log(p)?);
    }
    // SAFETY: `enter` only makes async-signal-safe system calls (setns, unshare, mount,
    // write, setsid, setgroups, setgid, setuid) on file descriptors and C strings prepared
    // before fork; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || enter(&prepared));
    }
    Ok(cmd)
}

/// Builds a tokio command for `spec` (see [`std_command`]); used for supervised services and
/// for commands whose output is captured or piped to the terminal.
pub fn spawn_command(spec: &SpawnSpec) -> Result<tokio::process::Command, RuntimeError> {
    std_command(spec).map(tokio::process::Command::from)
}

/// Starts `spec` and returns the std child.
pub fn spawn(spec: &SpawnSpec) -> Result<std::process::Child, RuntimeError> {
    std_command(spec)?
        .spawn()
        .map_err(|e| RuntimeError::Command(format!("starting {}: {e}", spec.program.display())))
}

/// Starts `spec` as a tokio child process (must be called inside a tokio runtime).
pub fn spawn_async(spec: &SpawnSpec) -> Result<tokio::process::Child, RuntimeError> {
    spawn_command(spec)?
        .spawn()
        .map_err(|e| RuntimeError::Command(format!("starting {}: {e}", spec.program.display())))
}

fn errno(e: nix::Error) -> std::io::Error {
    std::io::Error::from_raw_os_error(e as i32)
}

/// Runs in the child between fork and exec, as root, in this order: enter the network
/// namespace, take a private mount namespace (mounts made slave so nothing propagates back
/// to the host) with the hosts file bound over `/etc/hosts`, join the cgroup (writing "0" to
/// `cgroup.procs` moves the writer, on v1 and v2), start a new session, then drop to the
/// user. std applies its own uid/gid before pre-exec closures, which is why the user switch
/// happens here rather than through `Command::uid`.
fn enter(p: &Prepared) -> std::io::Result<()> {
    if let Some(ns) = &p.netns {
        setns(ns, CloneFlags::CLONE_NEWNET).map_err(errno)?;
    }
    if p.hosts.is_some() || !p.binds.is_empty() {
        unshare(CloneFlags::CLONE_NEWNS).map_err(errno)?;
        mount(
            None::<&str>,
            c"/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_SLAVE,
            None::<&str>,
        )
        .map_err(errno)?;
    }
    if let Some(hosts) = &p.hosts {
        mount(
            Some(hosts.as_c_str()),
            c"/etc/hosts",
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(errno)?;
    }
    for (src, dst) in &p.binds {
        mount(
            Some(src.as_c_str()),
            dst.as_c_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(errno)?;
    }
    for fd in &p.cgroup_procs {
        // SAFETY: write(2) on an open descriptor from a static buffer; async-signal-safe.
        let r = unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    if p.new_session {
        setsid().map_err(errno)?;
    }
    if let Some(u) = &p.user {
        setgroups(&[Gid::from_raw(u.gid)]).map_err(errno)?;
        setgid(Gid::from_raw(u.gid)).map_err(errno)?;
        setuid(Uid::from_raw(u.uid)).map_err(errno)?;
    }
    Ok(())
}

/// Sends `sig` to a process group.
pub fn kill_group(pgid: i32, sig: Signal) -> Result<(), RuntimeError> {
    killpg(Pid::from_raw(pgid), sig).map_err(|e| RuntimeError::Sys(format!("killpg {pgid}: {e}")))
}

/// Whether a process exists and has not exited (a zombie awaiting its reaper counts as dead).
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 || kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// The unprivileged user engines run as (PostgreSQL refuses root): `vers` if it exists, else
/// created with `useradd --system`, else `nobody`.
pub fn engine_user() -> Result<User, RuntimeError> {
    if let Some(u) = lookup("vers") {
        return Ok(u);
    }
    let created = crate::error::run_command(std::process::Command::new("useradd").args([
        "--system",
        "--no-create-home",
        "--shell",
        "/usr/sbin/nologin",
        "vers",
    ]));
    match created {
        Ok(_) => {
            if let Some(u) = lookup("vers") {
                tracing::info!(uid = u.uid, "created the engine user vers");
                return Ok(u);
            }
        }
        Err(e) => tracing::warn!("could not create the engine user vers, using nobody: {e}"),
    }
    lookup("nobody")
        .ok_or_else(|| RuntimeError::NotFound("user vers (useradd failed) and user nobody".into()))
}

fn lookup(name: &str) -> Option<User> {
    let u = nix::unistd::User::from_name(name).ok()??;
    Some(User {
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        name: u.name,
    })
}

/// Gives `path` to `user` unless it already belongs to them, keeping data cloned from a
/// checkpoint (already owned) O(1) to prepare.
pub fn ensure_owned(path: &Path, user: &User) -> Result<(), RuntimeError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).map_err(|e| RuntimeError::io(path, e))?;
    if meta.uid() == user.uid && meta.gid() == user.gid {
        return Ok(());
    }
    chown_recursive(path, user)
}

/// Gives `path` and everything under it to `user`. Entries that already belong to `user` are
/// left untouched: a chown writes metadata (and copies a whole file up on overlayfs).
pub fn chown_recursive(path: &Path, user: &User) -> Result<(), RuntimeError> {
    use std::os::unix::fs::MetadataExt;
    let uid = Some(Uid::from_raw(user.uid));
    let gid = Some(Gid::from_raw(user.gid));
    let meta = std::fs::symlink_metadata(path).map_err(|e| RuntimeError::io(path, e))?;
    if meta.uid() != user.uid || meta.gid() != user.gid {
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            path,
            uid,
            gid,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| RuntimeError::Sys(format!("chown {}: {e}", path.display())))?;
    }
    if meta.is_dir() {
        let rd = std::fs::read_dir(path).map_err(|e| RuntimeError::io(path, e))?;
        for entry in rd.flatten() {
            chown_recursive(&entry.path(), user)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn chown_recursive_leaves_what_the_user_already_owns_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data");
        std::fs::write(&file, b"x").unwrap();
        let before = std::fs::metadata(&file).unwrap();
        let owner = User {
            uid: before.uid(),
            gid: before.gid(),
            name: "owner".into(),
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        chown_recursive(dir.path(), &owner).unwrap();
        let after = std::fs::metadata(&file).unwrap();
        // A chown, even to the same owner, sets the change time: none happened.
        assert_eq!(
            (before.ctime(), before.ctime_nsec()),
            (after.ctime(), after.ctime_nsec())
        );
    }
}
