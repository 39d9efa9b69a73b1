//! Snapshotters (containerd's model): one interface for checkpoints and copy-on-write
//! clones of environment data volumes, backed by btrfs subvolumes, overlayfs layers, or
//! plain copies. Layout under the store: `volumes/<id>` and `checkpoints/<id>`. A checkpoint
//! is built under a `.tmp-` name and renamed into place, so a crash never leaves a half
//! checkpoint visible; `cleanup_incomplete` removes such leftovers.

mod btrfs;
mod copy;
mod error;
mod fsutil;
pub mod growth;
mod overlay;
pub mod quota;
mod store;

use std::fmt;
use std::path::{Path, PathBuf};

pub use btrfs::BtrfsSnapshotter;
pub use copy::CopySnapshotter;
pub use error::SnapshotError;
pub use growth::store_path;
pub use overlay::OverlaySnapshotter;
pub use store::{open_snapshotter, recorded_kind, unmount_store};

/// Which mechanism backs the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnapshotterKind {
    /// Block-level copy-on-write subvolume snapshots: O(1) commits and clones.
    Btrfs,
    /// Checkpoints are directory layers; clones are overlay mounts (O(1) to create, but a
    /// written file is copied up whole, and committing copies the merged view).
    Overlay,
    /// Plain recursive copies (reflinks where the filesystem has them).
    Copy,
}

impl fmt::Display for SnapshotterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SnapshotterKind::Btrfs => "btrfs",
            SnapshotterKind::Overlay => "overlay",
            SnapshotterKind::Copy => "copy",
        })
    }
}

impl std::str::FromStr for SnapshotterKind {
    type Err = SnapshotError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "btrfs" => Ok(SnapshotterKind::Btrfs),
            "overlay" => Ok(SnapshotterKind::Overlay),
            "copy" => Ok(SnapshotterKind::Copy),
            other => Err(SnapshotError::Invalid(format!(
                "{other:?} is not a snapshotter; use btrfs, overlay or copy"
            ))),
        }
    }
}

/// Checkpoints and clones of data volumes. Ids are plain names (no `/`, not starting with
/// `.`); the caller freezes the volume's processes around `commit`.
pub trait Snapshotter: Send + Sync {
    /// The mechanism.
    fn kind(&self) -> SnapshotterKind;
    /// Creates an empty writable volume and returns its path.
    fn create_volume(&self, id: &str) -> Result<PathBuf, SnapshotError>;
    /// Path of a volume's data (whether or not it exists).
    fn volume_path(&self, id: &str) -> PathBuf;
    /// Takes an immutable checkpoint of a volume's current contents, atomically: built under
    /// a temporary name and renamed into place.
    fn commit(&self, volume_id: &str, checkpoint_id: &str) -> Result<(), SnapshotError>;
    /// Creates a writable copy-on-write volume from a checkpoint and returns its path.
    fn clone_volume(
        &self,
        checkpoint_id: &str,
        new_volume_id: &str,
    ) -> Result<PathBuf, SnapshotError>;
    /// Replaces a volume's contents with a checkpoint's (rollback).
    fn restore(&self, checkpoint_id: &str, volume_id: &str) -> Result<(), SnapshotError>;
    /// Deletes a volume (a missing one is fine).
    fn delete_volume(&self, id: &str) -> Result<(), SnapshotError>;
    /// Deletes a checkpoint (a missing one is fine).
    fn delete_checkpoint(&self, id: &str) -> Result<(), SnapshotError>;
    /// Whether a complete checkpoint exists.
    fn checkpoint_exists(&self, id: &str) -> bool;
    /// Complete checkpoints, sorted.
    fn list_checkpoints(&self) -> Vec<String>;
    /// Removes leftovers of interrupted commits, clones and restores; returns their paths.
    fn cleanup_incomplete(&self) -> Result<Vec<String>, SnapshotError>;
    /// Limits the bytes a volume may hold (`None` lifts the limit), so writes past it fail
    /// with `EDQUOT`; a later `restore` keeps the limit. Returns whether the backend enforces
    /// it (btrfs with quotas on; overlay and copy volumes share the store's filesystem).
    fn set_volume_size(&self, id: &str, bytes: Option<u64>) -> Result<bool, SnapshotError> {
        let _ = (id, bytes);
        Ok(false)
    }
}

/// Prefix of entries being built; never listed as volumes or checkpoints.
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// Rejects ids that could escape the store or collide with temporary entries.
pub(crate) fn check_id(what: &str, id: &str) -> Result<(), SnapshotError> {
    let bad = id.is_empty()
        || id.starts_with('.')
        || id.contains(['/', '\0', ',', ':'])
        || id.len() > 200;
    if bad {
        Err(SnapshotError::Invalid(format!(
            "{what} id {id:?}: use a plain name without '/', ',' or ':' not starting with '.'"
        )))
    } else {
        Ok(())
    }
}

/// The two directories every snapshotter keeps under its store.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    store: PathBuf,
}

impl Layout {
    pub(crate) fn new(store: &Path) -> Layout {
        Layout {
            store: store.to_path_buf(),
        }
    }
    pub(crate) fn root(&self) -> &Path {
        &self.store
    }
    pub(crate) fn volumes(&self) -> PathBuf {
        self.store.join("volumes")
    }
    pub(crate) fn checkpoints(&self) -> PathBuf {
        self.store.join("checkpoints")
    }
    pub(crate) fn volume(&self, id: &str) -> PathBuf {
        self.volumes().join(id)
    }
    pub(crate) fn checkpoint(&self, id: &str) -> PathBuf {
        self.checkpoints().join(id)
    }
    pub(crate) fn tmp_checkpoint(&self, id: &str) -> PathBuf {
        self.checkpoints().join(format!("{TMP_PREFIX}{id}"))
    }
    pub(crate) fn tmp_volume(&self, id: &str) -> PathBuf {
        self.volumes().join(format!("{TMP_PREFIX}{id}"))
    }
    /// Temporary entries in both directories.
    pub(crate) fn tmp_entries(&self) -> Vec<PathBuf> {
        let mut out = fsutil::tmp_entries(&self.checkpoints());
        out.extend(fsutil::tmp_entries(&self.volumes()));
        out
    }
}
