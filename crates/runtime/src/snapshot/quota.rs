//! Volume sizes on btrfs: quota groups with a limit on the bytes a volume's subvolume
//! references, so a write past the size fails with `EDQUOT` while reads go on.
//!
//! The store turns on *simple quotas* (Linux 6.7+: an extent is charged to the subvolume
//! that wrote it, so snapshots and clones stay O(1) and nothing is ever rescanned), or full
//! qgroups on older kernels. Under simple quotas a branch is charged for the bytes it writes
//! itself, not for the data it shares with its checkpoint.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::SnapshotError;

/// `BTRFS_QUOTA_CTL_ENABLE`.
const QUOTA_ENABLE: u64 = 1;
/// `BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA`.
const QUOTA_ENABLE_SIMPLE: u64 = 4;
/// `BTRFS_QGROUP_LIMIT_MAX_RFER`.
const LIMIT_MAX_RFER: u64 = 1;
/// The value that clears a qgroup limit (`CLEAR_VALUE`).
const LIMIT_CLEAR: u64 = u64::MAX;
/// Object id of every subvolume's root directory (`BTRFS_FIRST_FREE_OBJECTID`).
const SUBVOL_ROOT_INO: u64 = 256;

/// `struct btrfs_ioctl_quota_ctl_args`.
#[repr(C)]
struct QuotaCtlArgs {
    cmd: u64,
    status: u64,
}

/// `struct btrfs_qgroup_limit`.
#[repr(C)]
struct QgroupLimit {
    flags: u64,
    max_rfer: u64,
    max_excl: u64,
    rsv_rfer: u64,
    rsv_excl: u64,
}

/// `struct btrfs_ioctl_qgroup_limit_args` (qgroup id 0: the subvolume of the fd).
#[repr(C)]
struct QgroupLimitArgs {
    qgroupid: u64,
    lim: QgroupLimit,
}

/// `struct btrfs_ioctl_ino_lookup_args`.
#[repr(C)]
struct InoLookupArgs {
    treeid: u64,
    objectid: u64,
    name: [u8; 4080],
}

/// `struct btrfs_ioctl_fs_info_args`.
#[repr(C)]
struct FsInfoArgs {
    max_id: u64,
    num_devices: u64,
    fsid: [u8; 16],
    nodesize: u32,
    sectorsize: u32,
    clone_alignment: u32,
    csum_type: u16,
    csum_size: u16,
    flags: u64,
    generation: u64,
    metadata_uuid: [u8; 16],
    reserved: [u8; 944],
}

nix::ioctl_readwrite!(ioc_quota_ctl, 0x94, 40, QuotaCtlArgs);
nix::ioctl_read!(ioc_qgroup_limit, 0x94, 43, QgroupLimitArgs);
nix::ioctl_readwrite!(ioc_ino_lookup, 0x94, 18, InoLookupArgs);
nix::ioctl_read!(ioc_fs_info, 0x94, 31, FsInfoArgs);

fn open(path: &Path) -> Result<File, SnapshotError> {
    File::open(path).map_err(|e| SnapshotError::io(path, e))
}

/// Turns quotas on for the btrfs filesystem holding `path`: simple quotas where the kernel
/// has them, else full qgroups. Returns whether they are simple. Idempotent.
pub fn enable(path: &Path) -> Result<bool, SnapshotError> {
    let dir = open(path)?;
    let mut args = QuotaCtlArgs {
        cmd: QUOTA_ENABLE_SIMPLE,
        status: 0,
    };
    // SAFETY: `args` is a properly laid out btrfs_ioctl_quota_ctl_args living across the call.
    match unsafe { ioc_quota_ctl(dir.as_raw_fd(), &mut args) } {
        Ok(_) => Ok(true),
        Err(nix::Error::EINVAL) | Err(nix::Error::EOPNOTSUPP) => {
            let mut args = QuotaCtlArgs {
                cmd: QUOTA_ENABLE,
                status: 0,
            };
            // SAFETY: as above.
            unsafe { ioc_quota_ctl(dir.as_raw_fd(), &mut args) }
                .map_err(|e| SnapshotError::sys("enable quotas on", path, e))?;
            Ok(false)
        }
        Err(e) => Err(SnapshotError::sys("enable quotas on", path, e)),
    }
}

/// Limits the bytes the subvolume at `subvol` may reference to `bytes` (`None` lifts the
/// limit). Returns `false`, changing nothing, when quotas are off on its filesystem.
pub fn set_limit(subvol: &Path, bytes: Option<u64>) -> Result<bool, SnapshotError> {
    let dir = open(subvol)?;
    let mut args = QgroupLimitArgs {
        qgroupid: 0,
        lim: QgroupLimit {
            flags: LIMIT_MAX_RFER,
            max_rfer: bytes.unwrap_or(LIMIT_CLEAR),
            max_excl: 0,
            rsv_rfer: 0,
            rsv_excl: 0,
        },
    };
    // SAFETY: `args` is a properly laid out btrfs_ioctl_qgroup_limit_args living across the
    // call.
    match unsafe { ioc_qgroup_limit(dir.as_raw_fd(), &mut args) } {
        Ok(_) => Ok(true),
        Err(nix::Error::ENOTCONN) | Err(nix::Error::ENOENT) => Ok(false),
        Err(e) => Err(SnapshotError::sys("limit the size of", subvol, e)),
    }
}

/// What a subvolume's quota group holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUsage {
    /// Bytes charged to the subvolume.
    pub used: u64,
    /// Its limit, if any.
    pub limit: Option<u64>,
}

/// The sysfs directory of the quota group of the subvolume at `subvol`.
fn qgroup_dir(subvol: &Path) -> Result<PathBuf, SnapshotError> {
    let dir = open(subvol)?;
    let mut info: FsInfoArgs = FsInfoArgs {
        max_id: 0,
        num_devices: 0,
        fsid: [0; 16],
        nodesize: 0,
        sectorsize: 0,
        clone_alignment: 0,
        csum_type: 0,
        csum_size: 0,
        flags: 0,
        generation: 0,
        metadata_uuid: [0; 16],
        reserved: [0; 944],
    };
    // SAFETY: `info` is a properly laid out btrfs_ioctl_fs_info_args living across the call.
    unsafe { ioc_fs_info(dir.as_raw_fd(), &mut info) }
        .map_err(|e| SnapshotError::sys("read the filesystem of", subvol, e))?;
    let mut lookup = InoLookupArgs {
        treeid: 0,
        objectid: SUBVOL_ROOT_INO,
        name: [0; 4080],
    };
    // SAFETY: `lookup` is a properly laid out btrfs_ioctl_ino_lookup_args living across the
    // call.
    unsafe { ioc_ino_lookup(dir.as_raw_fd(), &mut lookup) }
        .map_err(|e| SnapshotError::sys("look up the subvolume of", subvol, e))?;
    let f = &info.fsid;
    let hex = |r: std::ops::Range<usize>| -> String {
        f[r].iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let fsid = format!(
        "{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    );
    Ok(PathBuf::from(format!(
        "/sys/fs/btrfs/{fsid}/qgroups/0_{}",
        lookup.treeid
    )))
}

fn read_u64(path: &Path) -> Result<u64, SnapshotError> {
    let text = std::fs::read_to_string(path).map_err(|e| SnapshotError::io(path, e))?;
    text.trim()
        .parse()
        .map_err(|e| SnapshotError::Invalid(format!("{}: {e}", path.display())))
}

/// The bytes charged to the subvolume at `subvol` and its limit, after committing the
/// filesystem's transaction (so writes and deletes so far are counted); `None` when quotas
/// are off.
pub fn usage(subvol: &Path) -> Result<Option<QuotaUsage>, SnapshotError> {
    sync(subvol)?;
    let dir = qgroup_dir(subvol)?;
    if !dir.is_dir() {
        return Ok(None);
    }
    let used = read_u64(&dir.join("referenced"))?;
    let flags = read_u64(&dir.join("limit_flags"))?;
    let max = read_u64(&dir.join("max_referenced"))?;
    let limit = (flags & LIMIT_MAX_RFER != 0 && max != LIMIT_CLEAR).then_some(max);
    Ok(Some(QuotaUsage { used, limit }))
}

/// The limit of the subvolume at `subvol` (no commit needed); `None` when it has none or
/// quotas are off.
pub fn limit(subvol: &Path) -> Result<Option<u64>, SnapshotError> {
    let dir = qgroup_dir(subvol)?;
    if !dir.is_dir() {
        return Ok(None);
    }
    let flags = read_u64(&dir.join("limit_flags"))?;
    let max = read_u64(&dir.join("max_referenced"))?;
    Ok((flags & LIMIT_MAX_RFER != 0 && max != LIMIT_CLEAR).then_some(max))
}

/// Commits the filesystem holding `path`, so freed space is returned to its quota groups.
pub fn sync(path: &Path) -> Result<(), SnapshotError> {
    let f = open(path)?;
    nix::unistd::syncfs(&f).map_err(|e| SnapshotError::sys("sync", path, e))
}
