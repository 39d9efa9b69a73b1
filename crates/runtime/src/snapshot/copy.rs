//! Copy snapshotter: volumes and checkpoints are plain directories; commit, clone and
//! restore copy the whole tree (`cp -a --reflink=auto`, so extents are shared where the
//! filesystem supports reflinks). Always works; costs O(data) on ext4.

use std::path::{Path, PathBuf};

use super::fsutil::{copy_tree, exchange, list_names, mkdirs, remove_all, rename_new};
use super::{check_id, Layout, SnapshotError, Snapshotter, SnapshotterKind};

/// Plain copies under `<store>/volumes` and `<store>/checkpoints`.
#[derive(Debug)]
pub struct CopySnapshotter {
    layout: Layout,
}

impl CopySnapshotter {
    /// Uses `store` as the store.
    pub fn new(store: &Path) -> Result<CopySnapshotter, SnapshotError> {
        let layout = Layout::new(store);
        mkdirs(&layout.volumes())?;
        mkdirs(&layout.checkpoints())?;
        Ok(CopySnapshotter { layout })
    }
}

impl Snapshotter for CopySnapshotter {
    fn kind(&self) -> SnapshotterKind {
        SnapshotterKind::Copy
    }

    fn create_volume(&self, id: &str) -> Result<PathBuf, SnapshotError> {
        check_id("volume", id)?;
        let p = self.layout.volume(id);
        std::fs::create_dir(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => SnapshotError::Exists(format!("volume {id}")),
            _ => SnapshotError::io(&p, e),
        })?;
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
        remove_all(&tmp)?;
        copy_tree(&src, &tmp)?;
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
        // Built under a temporary name so a crash never leaves a half volume.
        let tmp = self.layout.tmp_volume(new_volume_id);
        remove_all(&tmp)?;
        copy_tree(&src, &tmp)?;
        rename_new(&tmp, &dst, &format!("volume {new_volume_id}"))?;
        Ok(dst)
    }

    /// Copies the checkpoint beside the volume and swaps the two atomically.
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
        remove_all(&tmp)?;
        copy_tree(&src, &tmp)?;
        if vol.exists() {
            exchange(&tmp, &vol)?;
            remove_all(&tmp)
        } else {
            rename_new(&tmp, &vol, &format!("volume {volume_id}"))
        }
    }

    fn delete_volume(&self, id: &str) -> Result<(), SnapshotError> {
        check_id("volume", id)?;
        remove_all(&self.layout.volume(id))
    }

    fn delete_checkpoint(&self, id: &str) -> Result<(), SnapshotError> {
        check_id("checkpoint", id)?;
        remove_all(&self.layout.checkpoint(id))
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
            remove_all(&p)?;
            removed.push(p.display().to_string());
        }
        Ok(removed)
    }
}
