//! overlayfs snapshotter. A checkpoint is a directory layer holding the full merged view of
//! the committed volume. A volume cloned from a checkpoint is an overlay mount
//! (`lowerdir` = the checkpoint layer, its own `upper` and `work`), so a clone is O(1) to
//! create; the first write to a file copies that whole file up. Committing copies the
//! volume's merged view into a new layer (`cp -a`): O(data size), done while the caller
//! keeps the volume's processes frozen. A fresh (not cloned) volume is a plain directory.
//!
//! Per volume: `volumes/<id>/merged` (the data path), and for clones `upper/`, `work/` and a
//! `lower` file naming the checkpoint, so mounts lost in a reboot are remade on open.

use std::path::{Path, PathBuf};

use super::fsutil::{
    copy_tree, exchange, is_mountpoint, list_names, mkdirs, remove_all, rename_new,
};
use super::{check_id, Layout, SnapshotError, Snapshotter, SnapshotterKind};

/// Directory layers under `<store>/checkpoints`, overlay-mounted volumes under
/// `<store>/volumes`.
#[derive(Debug)]
pub struct OverlaySnapshotter {
    layout: Layout,
}

impl OverlaySnapshotter {
    /// Uses `store` as the store and remounts cloned volumes whose mount is gone.
    pub fn new(store: &Path) -> Result<OverlaySnapshotter, SnapshotError> {
        let layout = Layout::new(store);
        mkdirs(&layout.volumes())?;
        mkdirs(&layout.checkpoints())?;
        let snap = OverlaySnapshotter { layout };
        for id in list_names(&snap.layout.volumes()) {
            if let Some(lower) = snap.lower_of(&id) {
                if !is_mountpoint(&snap.merged(&id)) {
                    snap.mount(&lower, &id)?;
                }
            }
        }
        Ok(snap)
    }

    fn merged(&self, id: &str) -> PathBuf {
        self.layout.volume(id).join("merged")
    }

    fn lower_of(&self, id: &str) -> Option<String> {
        std::fs::read_to_string(self.layout.volume(id).join("lower"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    fn mount(&self, checkpoint_id: &str, volume_id: &str) -> Result<(), SnapshotError> {
        self.mount_at(checkpoint_id, &self.layout.volume(volume_id))
    }

    /// Mounts an overlay on checkpoint `checkpoint_id` at `root/merged`, with `root/upper`
    /// and `root/work`.
    fn mount_at(&self, checkpoint_id: &str, root: &Path) -> Result<(), SnapshotError> {
        let lower = self.layout.checkpoint(checkpoint_id);
        let (upper, work, merged) = (root.join("upper"), root.join("work"), root.join("merged"));
        for d in [&upper, &work, &merged] {
            mkdirs(d)?;
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            upper.display(),
            work.display()
        );
        nix::mount::mount(
            Some("overlay"),
            &merged,
            Some("overlay"),
            nix::mount::MsFlags::MS_NOATIME,
            Some(opts.as_str()),
        )
        .map_err(|e| SnapshotError::sys("mount overlay on", &merged, e))
    }

    fn unmount(&self, id: &str) -> Result<(), SnapshotError> {
        let m = self.merged(id);
        if is_mountpoint(&m) {
            nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH)
                .map_err(|e| SnapshotError::sys("unmount", &m, e))?;
        }
        Ok(())
    }

    /// Unmounts and removes a staging entry (a volume directory under a temporary name).
    fn remove_staged(&self, dir: &Path) -> Result<(), SnapshotError> {
        let m = dir.join("merged");
        if is_mountpoint(&m) {
            nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH)
                .map_err(|e| SnapshotError::sys("unmount", &m, e))?;
        }
        remove_all(dir)
    }

    /// Volumes whose overlay sits on checkpoint `id`.
    fn users_of(&self, id: &str) -> Vec<String> {
        list_names(&self.layout.volumes())
            .into_iter()
            .filter(|v| self.lower_of(v).as_deref() == Some(id))
            .collect()
    }
}

impl Snapshotter for OverlaySnapshotter {
    fn kind(&self) -> SnapshotterKind {
        SnapshotterKind::Overlay
    }

    fn create_volume(&self, id: &str) -> Result<PathBuf, SnapshotError> {
        check_id("volume", id)?;
        if self.layout.volume(id).exists() {
            return Err(SnapshotError::Exists(format!("volume {id}")));
        }
        let m = self.merged(id);
        mkdirs(&m)?;
        Ok(m)
    }

    fn volume_path(&self, id: &str) -> PathBuf {
        self.merged(id)
    }

    fn commit(&self, volume_id: &str, checkpoint_id: &str) -> Result<(), SnapshotError> {
        check_id("checkpoint", checkpoint_id)?;
        let src = self.merged(volume_id);
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
        if !self.layout.checkpoint(checkpoint_id).is_dir() {
            return Err(SnapshotError::NotFound(format!(
                "checkpoint {checkpoint_id}"
            )));
        }
        let root = self.layout.volume(new_volume_id);
        if root.exists() {
            return Err(SnapshotError::Exists(format!("volume {new_volume_id}")));
        }
        // Prepared under a temporary name, then renamed and mounted in place.
        let tmp = self.layout.tmp_volume(new_volume_id);
        remove_all(&tmp)?;
        mkdirs(&tmp)?;
        let lower_file = tmp.join("lower");
        std::fs::write(&lower_file, checkpoint_id)
            .map_err(|e| SnapshotError::io(&lower_file, e))?;
        rename_new(&tmp, &root, &format!("volume {new_volume_id}"))?;
        if let Err(e) = self.mount(checkpoint_id, new_volume_id) {
            let _ = remove_all(&root);
            return Err(e);
        }
        Ok(self.merged(new_volume_id))
    }

    /// Replaces the volume by a fresh overlay on the checkpoint, atomically: the new volume
    /// is staged and mounted under a temporary name, then swapped with the old one in one
    /// rename (mounts move with their directories), and only then is the old one unmounted
    /// and removed. A failure or crash at any step leaves either the old volume or the
    /// restored one in place, never neither; the staging entry is removed by
    /// `cleanup_incomplete`.
    fn restore(&self, checkpoint_id: &str, volume_id: &str) -> Result<(), SnapshotError> {
        check_id("volume", volume_id)?;
        if !self.layout.checkpoint(checkpoint_id).is_dir() {
            return Err(SnapshotError::NotFound(format!(
                "checkpoint {checkpoint_id}"
            )));
        }
        let root = self.layout.volume(volume_id);
        if !root.exists() {
            return self.clone_volume(checkpoint_id, volume_id).map(|_| ());
        }
        let tmp = self.layout.tmp_volume(volume_id);
        self.remove_staged(&tmp)?;
        let staged = (|| {
            mkdirs(&tmp)?;
            let lower_file = tmp.join("lower");
            std::fs::write(&lower_file, checkpoint_id)
                .map_err(|e| SnapshotError::io(&lower_file, e))?;
            self.mount_at(checkpoint_id, &tmp)?;
            if crate::failpoint::hit("overlay-restore-before-swap") {
                return Err(SnapshotError::Io {
                    path: tmp.display().to_string(),
                    source: std::io::Error::other("failpoint overlay-restore-before-swap"),
                });
            }
            exchange(&tmp, &root)
        })();
        if let Err(e) = staged {
            let _ = self.remove_staged(&tmp);
            return Err(e);
        }
        // The old volume is now the staging entry.
        self.remove_staged(&tmp)
    }

    fn delete_volume(&self, id: &str) -> Result<(), SnapshotError> {
        check_id("volume", id)?;
        self.unmount(id)?;
        remove_all(&self.layout.volume(id))
    }

    /// Refuses while overlay volumes still use the checkpoint as their lower layer.
    fn delete_checkpoint(&self, id: &str) -> Result<(), SnapshotError> {
        check_id("checkpoint", id)?;
        let users = self.users_of(id);
        if !users.is_empty() {
            return Err(SnapshotError::InUse(format!(
                "checkpoint {id} is the base of volumes {}; delete them first",
                users.join(", ")
            )));
        }
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
            self.remove_staged(&p)?;
            removed.push(p.display().to_string());
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failpoint::{self, Action};

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    /// A restore that fails before its last step leaves the volume as it was, mounted and
    /// whole; a good one replaces it and leaves no staging entry or mount behind.
    #[test]
    fn overlay_restore_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let snap = OverlaySnapshotter::new(dir.path()).unwrap();
        let v = snap.create_volume("v1").unwrap();
        std::fs::write(v.join("f"), "one").unwrap();
        snap.commit("v1", "c1").unwrap();
        let clone = snap.clone_volume("c1", "v2").unwrap();
        std::fs::write(clone.join("f"), "changed").unwrap();
        std::fs::write(clone.join("g"), "new").unwrap();

        failpoint::set("overlay-restore-before-swap", Some(Action::Error));
        let failed = snap.restore("c1", "v2");
        failpoint::set("overlay-restore-before-swap", None);
        assert!(failed.is_err());
        assert_eq!(read(&clone.join("f")), "changed");
        assert_eq!(read(&clone.join("g")), "new");
        assert!(is_mountpoint(&clone));
        assert!(snap.layout.tmp_entries().is_empty(), "staging removed");

        snap.restore("c1", "v2").unwrap();
        assert_eq!(read(&clone.join("f")), "one");
        assert!(!clone.join("g").exists());
        assert!(is_mountpoint(&clone));
        assert!(snap.layout.tmp_entries().is_empty());
        // The old overlay is unmounted: no mount of this store is left but the volume's.
        let store = dir.path().canonicalize().unwrap().display().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let ours: Vec<&str> = mounts.lines().filter(|l| l.contains(&store)).collect();
        assert_eq!(ours.len(), 1, "{ours:#?}");
        // A plain (never cloned) volume is restored the same way.
        snap.restore("c1", "v1").unwrap();
        assert_eq!(read(&snap.volume_path("v1").join("f")), "one");
        snap.delete_volume("v1").unwrap();
        snap.delete_volume("v2").unwrap();
        assert!(!mounts_of(&store));
    }

    fn mounts_of(store: &str) -> bool {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| l.contains(store))
    }
}
