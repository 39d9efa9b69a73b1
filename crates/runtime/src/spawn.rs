//! Starting processes inside an environment: enter its network namespace, give it a private
//! mount namespace with the environment's hosts file over `/etc/hosts`, join its cgroup, and
//! drop to the unprivileged engine user — all in the child between fork and exec.
//!
//! The mount namespace is private (no mount event propagates into or out of it) and holds
//! no snapshot store but the project's own ([`SpawnSpec::detach_foreign_stores`]), so an
//! unmount on the host is never kept alive by a copy in an environment. [`View`]s hide the
//! other environments' volumes and run directories: the process sees its own at the paths
//! its configuration names, and nothing created there later.
//!
//! No parent-death signal is set: processes must outlive the CLI that asked for them; the
//! supervisor owns, reaps and kills them (by process group or through their cgroup).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::{chdir, setgid, setgroups, setsid, setuid, Gid, Pid, Uid};

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
    /// Directories seen only in part (applied after `binds`, in order).
    pub views: Vec<View>,
    /// Detach every snapshot store mount (`…/.vers/store` and below) but those a view keeps,
    /// so the process holds no copy of another project's or environment's store.
    pub detach_foreign_stores: bool,
}

/// A directory the process sees only part of: in its mount namespace `dir` is covered by a
/// bind of `scratch` (an empty directory vers owns), into which each kept entry of
/// `dir` is bound back at its own relative path. Anything else under `dir`, including what is
/// created there later, stays invisible. Kept entries that do not exist (or are not
/// directories) are left out.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The directory to cover.
    pub dir: PathBuf,
    /// Relative paths of the directories under `dir` that stay visible.
    pub keep: Vec<PathBuf>,
    /// An empty directory (created when missing) the view is built on.
    pub scratch: PathBuf,
    /// Make the covering bind read-only (the kept directories keep their own flags). A
    /// writable view takes what the process creates beside the kept entries into `scratch`.
    pub read_only: bool,
}

/// What the child needs, prepared in the parent (no allocation after fork).
struct Prepared {
    netns: Option<OwnedFd>,
    hosts: Option<CString>,
    binds: Vec<(CString, CString)>,
    detach: Vec<CString>,
    views: Vec<PreparedView>,
    cwd: Option<CString>,
    cgroup_procs: Vec<OwnedFd>,
    user: Option<User>,
    new_session: bool,
}

/// A [`View`] as C strings: the kept directories' sources and their places in the scratch.
struct PreparedView {
    dir: CString,
    scratch: CString,
    keep: Vec<(CString, CString)>,
    read_only: bool,
}

impl Prepared {
    fn needs_mount_ns(&self) -> bool {
        self.hosts.is_some()
            || !self.binds.is_empty()
            || !self.views.is_empty()
            || !self.detach.is_empty()
    }
}

fn c_path(p: &Path) -> Result<CString, RuntimeError> {
    CString::new(p.as_os_str().as_encoded_bytes())
        .map_err(|_| RuntimeError::Sys(format!("path {} contains NUL", p.display())))
}

/// Makes the scratch directory of `view` (with a mount point for each kept directory that
/// exists) and the C strings `enter` mounts with. A view whose directory is missing is
/// skipped: there is nothing to hide.
fn prepare_view(view: &View) -> Result<Option<PreparedView>, RuntimeError> {
    if !view.dir.is_dir() {
        return Ok(None);
    }
    let mut keep = Vec::new();
    for rel in &view.keep {
        let src = view.dir.join(rel);
        if !src.is_dir() {
            continue;
        }
        let at = view.scratch.join(rel);
        if !at.is_dir() {
            std::fs::create_dir_all(&at).map_err(|e| RuntimeError::io(&at, e))?;
        }
        keep.push((c_path(&src)?, c_path(&at)?));
    }
    if !view.scratch.is_dir() {
        std::fs::create_dir_all(&view.scratch).map_err(|e| RuntimeError::io(&view.scratch, e))?;
    }
    Ok(Some(PreparedView {
        dir: c_path(&view.dir)?,
        scratch: c_path(&view.scratch)?,
        keep,
        read_only: view.read_only,
    }))
}

/// The store mounts a process of `spec` must not hold: every one in this process's mount
/// table (which the child's namespace copies) but the views' directories and kept entries.
fn foreign_stores(spec: &SpawnSpec) -> Result<Vec<CString>, RuntimeError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| RuntimeError::io(Path::new("/proc/self/mountinfo"), e))?;
    let points = crate::mounts::mount_points(&text);
    let keep_under: Vec<PathBuf> = spec
        .views
        .iter()
        .flat_map(|v| v.keep.iter().map(|k| v.dir.join(k)))
        .collect();
    let own: Vec<&Path> = spec.views.iter().map(|v| v.dir.as_path()).collect();
    crate::mounts::foreign_store_mounts(&points, &own, &keep_under)
        .iter()
        .map(|p| c_path(p))
        .collect()
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
    let mut binds = Vec::new();
    for (src, dst) in &spec.binds {
        if src.exists() && dst.exists() {
            binds.push((c_path(src)?, c_path(dst)?));
        }
    }
    let mut views = Vec::new();
    for v in &spec.views {
        views.extend(prepare_view(v)?);
    }
    let detach = if spec.detach_foreign_stores {
        foreign_stores(spec)?
    } else {
        Vec::new()
    };
    // std changes directory before `enter` mounts: a working directory under a covered
    // directory would otherwise still reach what the view hides.
    let cwd = if spec.cwd.as_os_str().is_empty() || views.is_empty() {
        None
    } else {
        Some(c_path(&spec.cwd)?)
    };
    Ok(Prepared {
        netns,
        hosts,
        binds,
        detach,
        views,
        cwd,
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
    // umount2, chdir, write, setsid, setgroups, setgid, setuid) on file descriptors and C
    // strings prepared before fork; it allocates nothing and takes no lock.
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
/// namespace, take a mount namespace of its own (every mount made private, so no mount or
/// unmount propagates into or out of it), detach the foreign stores, bind the hosts file
/// over `/etc/hosts` and the other binds, build the views (then change directory again), join
/// the cgroup (writing "0" to `cgroup.procs` moves the writer, on v1 and v2), start a new
/// session, then drop to the user. std applies its own uid/gid before pre-exec closures,
/// which is why the user switch happens here rather than through `Command::uid`.
fn enter(p: &Prepared) -> std::io::Result<()> {
    if let Some(ns) = &p.netns {
        setns(ns, CloneFlags::CLONE_NEWNET).map_err(errno)?;
    }
    if p.needs_mount_ns() {
        unshare(CloneFlags::CLONE_NEWNS).map_err(errno)?;
        mount(
            None::<&str>,
            c"/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(errno)?;
    }
    for m in &p.detach {
        // Every mount stacked there (a copy of a store, an outer environment's view over
        // it); an error means none is left (or it went with a parent since the table was
        // read). Bounded, in case the path keeps resolving to a mount.
        for _ in 0..16 {
            if umount2(m.as_c_str(), MntFlags::MNT_DETACH).is_err() {
                break;
            }
        }
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
    for v in &p.views {
        enter_view(v)?;
    }
    if let Some(cwd) = &p.cwd {
        chdir(cwd.as_c_str()).map_err(errno)?;
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

/// Builds one view in the child: the kept directories bound (with what is mounted under
/// them) into the scratch directory, the scratch bound over the directory, made read-only.
fn enter_view(v: &PreparedView) -> std::io::Result<()> {
    for (src, at) in &v.keep {
        mount(
            Some(src.as_c_str()),
            at.as_c_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(errno)?;
    }
    mount(
        Some(v.scratch.as_c_str()),
        v.dir.as_c_str(),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(errno)?;
    if v.read_only {
        mount(
            None::<&str>,
            v.dir.as_c_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(errno)?;
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
