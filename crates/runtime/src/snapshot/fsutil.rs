//! Small filesystem helpers shared by the snapshotters.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{SnapshotError, TMP_PREFIX};
use crate::error::run_command;

pub(crate) fn mkdirs(p: &Path) -> Result<(), SnapshotError> {
    std::fs::create_dir_all(p).map_err(|e| SnapshotError::io(p, e))
}

/// Removes a directory tree; a missing one is fine.
pub(crate) fn remove_all(p: &Path) -> Result<(), SnapshotError> {
    match std::fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(SnapshotError::io(p, e)),
    }
}

/// Names in `dir` that are not temporary entries, sorted.
pub(crate) fn list_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with(TMP_PREFIX))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Temporary entries (`.tmp-…`) in `dir`.
pub(crate) fn tmp_entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(TMP_PREFIX))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `path` is on btrfs.
pub(crate) fn is_btrfs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type() == nix::sys::statfs::BTRFS_SUPER_MAGIC)
        .unwrap_or(false)
}

/// Whether something is mounted exactly at `path` (per this process's mount table).
pub(crate) fn is_mountpoint(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let Ok(canon) = path.canonicalize() else {
        return false;
    };
    let target = canon.to_string_lossy().replace(' ', "\\040");
    text.lines()
        .any(|l| l.split_whitespace().nth(4) == Some(target.as_str()))
}

/// `cp -a --reflink=auto SRC DST` (DST must not exist): ownership, modes, xattrs and
/// timestamps kept; extents shared where the filesystem can.
pub(crate) fn copy_tree(src: &Path, dst: &Path) -> Result<(), SnapshotError> {
    run_command(
        Command::new("cp")
            .args(["-a", "--reflink=auto", "--"])
            .arg(src)
            .arg(dst),
    )
    .map(|_| ())
    .map_err(SnapshotError::from)
}

/// Atomically swaps two existing paths (renameat2 RENAME_EXCHANGE).
pub(crate) fn exchange(a: &Path, b: &Path) -> Result<(), SnapshotError> {
    nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        a,
        nix::fcntl::AT_FDCWD,
        b,
        nix::fcntl::RenameFlags::RENAME_EXCHANGE,
    )
    .map_err(|e| SnapshotError::sys("renameat2(RENAME_EXCHANGE) onto", b, e))
}

/// Renames `from` to `to`, failing with `Exists` when `to` is present.
pub(crate) fn rename_new(from: &Path, to: &Path, what: &str) -> Result<(), SnapshotError> {
    nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        from,
        nix::fcntl::AT_FDCWD,
        to,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(|e| match e {
        nix::Error::EEXIST => SnapshotError::Exists(what.to_string()),
        e => SnapshotError::sys("rename into", to, e),
    })
}
