//! btrfs snapshotter: volumes are subvolumes, checkpoints read-only snapshots of them, clones
//! writable snapshots of checkpoints. Everything goes through the btrfs ioctls
//! (SUBVOL_CREATE, SNAP_CREATE_V2, SNAP_DESTROY), so a commit or clone costs one system call
//! and O(1) in the data size.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::fsutil::{exchange, list_names, mkdirs, remove_all, rename_new};
use super::{check_id, growth, quota, Layout, SnapshotError, Snapshotter, SnapshotterKind};

/// `BTRFS_PATH_NAME_MAX + 1`.
const VOL_NAME_LEN: usize = 4088;
/// `BTRFS_SUBVOL_NAME_MAX + 1`.
const SUBVOL_NAME_LEN: usize = 4040;
/// `BTRFS_SUBVOL_RDONLY`.
const SUBVOL_RDONLY: u64 = 1 << 1;
/// Inode number of every subvolume's root directory (`BTRFS_FIRST_FREE_OBJECTID`).
const SUBVOL_ROOT_INO: u64 = 256;

/// `struct btrfs_ioctl_vol_args`.
#[repr(C)]
struct VolArgs {
    fd: i64,
    name: [u8; VOL_NAME_LEN],
}

/// `struct btrfs_ioctl_vol_args_v2` (the size/qgroup union is left zero).
#[repr(C)]
struct VolArgsV2 {
    fd: i64,
    transid: u64,
    flags: u64,
    unused: [u64; 4],
    name: [u8; SUBVOL_NAME_LEN],
}

nix::ioctl_write_ptr!(ioc_subvol_create, 0x94, 14, VolArgs);
nix::ioctl_write_ptr!(ioc_snap_destroy, 0x94, 15, VolArgs);
nix::ioctl_write_ptr!(ioc_snap_create_v2, 0x94, 23, VolArgsV2);
nix::ioctl_none!(ioc_sync, 0x94, 8);

/// Splits `path` into its opened parent directory and its final name.
fn parent_and_name(path: &Path) -> Result<(File, Vec<u8>), SnapshotError> {
    let parent = path
        .parent()
        .ok_or_else(|| SnapshotError::Invalid(format!("{} has no parent", path.display())))?;
    let name = path
        .file_name()
        .ok_or_else(|| SnapshotError::Invalid(format!("{} has no name", path.display())))?
        .as_encoded_bytes()
        .to_vec();
    let dir = File::open(parent).map_err(|e| SnapshotError::io(parent, e))?;
    Ok((dir, name))
}

fn copy_name<const N: usize>(
    dst: &mut [u8; N],
    name: &[u8],
    path: &Path,
) -> Result<(), SnapshotError> {
    if name.len() >= N {
        return Err(SnapshotError::Invalid(format!(
            "name of {} is too long",
            path.display()
        )));
    }
    dst[..name.len()].copy_from_slice(name);
    Ok(())
}

/// Creates an empty subvolume at `path`.
fn subvol_create(path: &Path) -> Result<(), SnapshotError> {
    let (dir, name) = parent_and_name(path)?;
    let mut args = VolArgs {
        fd: 0,
        name: [0; VOL_NAME_LEN],
    };
    copy_name(&mut args.name, &name, path)?;
    // SAFETY: `args` is a properly laid out btrfs_ioctl_vol_args living across the call.
    unsafe { ioc_subvol_create(dir.as_raw_fd(), &args) }
        .map_err(|e| SnapshotError::sys("create subvolume", path, e))?;
    Ok(())
}

/// Snapshots the subvolume `src` to `dst` (read-only when asked).
fn snapshot(src: &Path, dst: &Path, readonly: bool) -> Result<(), SnapshotError> {
    let source = File::open(src).map_err(|e| SnapshotError::io(src, e))?;
    let (dir, name) = parent_and_name(dst)?;
    let mut args = VolArgsV2 {
        fd: i64::from(source.as_raw_fd()),
        transid: 0,
        flags: if readonly { SUBVOL_RDONLY } else { 0 },
        unused: [0; 4],
        name: [0; SUBVOL_NAME_LEN],
    };
    copy_name(&mut args.name, &name, dst)?;
    // SAFETY: `args` is a properly laid out btrfs_ioctl_vol_args_v2 living across the call;
    // `source` stays open until after it.
    unsafe { ioc_snap_create_v2(dir.as_raw_fd(), &args) }
        .map_err(|e| SnapshotError::sys("snapshot to", dst, e))?;
    Ok(())
}

fn is_subvolume(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .map(|m| m.is_dir() && m.ino() == SUBVOL_ROOT_INO)
        .unwrap_or(false)
}

/// Deletes the subvolume (or plain directory) at `path`; a missing one is fine.
fn delete_subvolume(path: &Path) -> Result<(), SnapshotError> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    if !is_subvolume(path) {
        return remove_all(path);
    }
    let (dir, name) = parent_and_name(path)?;
    let mut args = VolArgs {
        fd: 0,
        name: [0; VOL_NAME_LEN],
    };
    copy_name(&mut args.name, &name, path)?;
    // SAFETY: `args` is a properly laid out btrfs_ioctl_vol_args living across the call.
    unsafe { ioc_snap_destroy(dir.as_raw_fd(), &args) }
        .map_err(|e| SnapshotError::sys("delete subvolume", path, e))?;
    Ok(())
}

/// Subvolume snapshots under `<store>/volumes` and `<store>/checkpoints`.
#[derive(Debug)]
pub struct BtrfsSnapshotter {
    layout: Layout,
}

impl BtrfsSnapshotter {
    /// Before a deletion on a loop-mounted store with almost no free space: grows the image,
    /// past its limit by [`growth::DELETE_RESERVE`] if need be, since a btrfs without free
    /// metadata space cannot even delete. Returns whether space was short.
    fn make_room_to_delete(&self) -> bool {
        let Some(state_dir) = self.layout.root().parent() else {
            return false;
        };
        match growth::ensure_room(
            state_dir,
            Some(growth::DELETE_RESERVE / 2),
            growth::DELETE_RESERVE,
        ) {
            Ok(Some(growth::Growth::Enough(_))) | Ok(None) => false,
            Ok(Some(g)) => {
                tracing::info!("deleting on a store short of space: {g:?}");
                true
            }
            Err(e) => {
                tracing::warn!("making room to delete in the store: {e}");
                true
            }
        }
    }

    /// After deleting on a store short of space: commits and wakes the cleaner, so the space
    /// of deleted subvolumes comes back as soon as it can.
    fn release_space(&self) {
        if let Ok(dir) = File::open(self.layout.root()) {
            // SAFETY: BTRFS_IOC_SYNC takes no argument.
            if let Err(e) = unsafe { ioc_sync(dir.as_raw_fd()) } {
                tracing::warn!("syncing the store after a deletion: {e}");
            }
        }
    }

    /// Uses `store` (a directory on btrfs) as the store.
    pub fn new(store: &Path) -> Result<BtrfsSnapshotter, SnapshotError> {
        let layout = Layout::new(store);
        mkdirs(&layout.volumes())?;
        mkdirs(&layout.checkpoints())?;
        Ok(BtrfsSnapshotter { layout })
    }
}

impl Snapshotter for BtrfsSnapshotter {
    fn kind(&self) -> SnapshotterKind {
        SnapshotterKind::Btrfs
    }

    fn create_volume(&self, id: &str) -> Result<PathBuf, SnapshotError> {
        check_id("volume", id)?;
        let p = self.layout.volume(id);
        if p.exists() {
            return Err(SnapshotError::Exists(format!("volume {id}")));
        }
        subvol_create(&p)?;
        Ok(p)
    }

    fn volume_path(&self, id: &str) -> PathBuf {
        self.layout.volume(id)
    }

    fn commit(&self, volume_id: &str, checkpoint_id: &str) -> Result<(), SnapshotError> {
        check_id("checkpoint", checkpoint_id)?;
        let src = self.layout.volume(volume_id);
        if !src.is_dir() {
            return Err(SnapshotError::NotFound(format!("volume {volume_id}")));
        }
        let dst = self.layout.checkpoint(checkpoint_id);
        if dst.exists() {
            return Err(SnapshotError::Exists(format!("checkpoint {checkpoint_id}")));
        }
        let tmp = self.layout.tmp_checkpoint(checkpoint_id);
        delete_subvolume(&tmp)?;
        snapshot(&src, &tmp, true)?;
        rename_new(&tmp, &dst, &format!("checkpoint {checkpoint_id}"))
    }

    fn clone_volume(
        &self,
        checkpoint_id: &str,
        new_volume_id: &str,
    ) -> Result<PathBuf, SnapshotError> {
        check_id("volume", new_volume_id)?;
        let src = self.layout.checkpoint(checkpoint_id);
        if !src.is_dir() {
            return Err(SnapshotError::NotFound(format!(
                "checkpoint {checkpoint_id}"
            )));
        }
        let dst = self.layout.volume(new_volume_id);
        if dst.exists() {
            return Err(SnapshotError::Exists(format!("volume {new_volume_id}")));
        }
        snapshot(&src, &dst, false)?;
        Ok(dst)
    }

    /// Snapshots the checkpoint beside the volume and swaps the two atomically, so a crash
    /// leaves either the old or the new contents in place.
    fn restore(&self, checkpoint_id: &str, volume_id: &str) -> Result<(), SnapshotError> {
        check_id("volume", volume_id)?;
        let src = self.layout.checkpoint(checkpoint_id);
        if !src.is_dir() {
            return Err(SnapshotError::NotFound(format!(
                "checkpoint {checkpoint_id}"
            )));
        }
        let vol = self.layout.volume(volume_id);
        let tmp = self.layout.tmp_volume(volume_id);
        delete_subvolume(&tmp)?;
        snapshot(&src, &tmp, false)?;
        if is_subvolume(&vol) {
            if let Some(bytes) = quota::limit(&vol)? {
                quota::set_limit(&tmp, Some(bytes))?;
            }
        }
        if vol.exists() {
            exchange(&tmp, &vol)?;
            delete_subvolume(&tmp)
        } else {
            rename_new(&tmp, &vol, &format!("volume {volume_id}"))
        }
    }

    fn delete_volume(&self, id: &str) -> Result<(), SnapshotError> {
        check_id("volume", id)?;
        let short = self.make_room_to_delete();
        delete_subvolume(&self.layout.volume(id))?;
        if short {
            self.release_space();
        }
        Ok(())
    }

    fn delete_checkpoint(&self, id: &str) -> Result<(), SnapshotError> {
        check_id("checkpoint", id)?;
        let short = self.make_room_to_delete();
        delete_subvolume(&self.layout.checkpoint(id))?;
        if short {
            self.release_space();
        }
        Ok(())
    }

    fn checkpoint_exists(&self, id: &str) -> bool {
        check_id("checkpoint", id).is_ok() && self.layout.checkpoint(id).is_dir()
    }

    fn list_checkpoints(&self) -> Vec<String> {
        list_names(&self.layout.checkpoints())
    }

    fn cleanup_incomplete(&self) -> Result<Vec<String>, SnapshotError> {
        let mut removed = Vec::new();
        for p in self.layout.tmp_entries() {
            delete_subvolume(&p)?;
            removed.push(p.display().to_string());
        }
        Ok(removed)
    }

    fn set_volume_size(&self, id: &str, bytes: Option<u64>) -> Result<bool, SnapshotError> {
        check_id("volume", id)?;
        let vol = self.layout.volume(id);
        if !is_subvolume(&vol) {
            return Err(SnapshotError::NotFound(format!("volume {id}")));
        }
        quota::set_limit(&vol, bytes)
    }
}
