//! The same suite against every snapshotter (needs root for btrfs loop images and overlay
//! mounts): commit, clone isolation, restore, deletion, and crash safety.

use std::path::Path;
use std::time::Instant;

use vers_runtime::snapshot::{open_snapshotter, unmount_store, SnapshotError, SnapshotterKind};

/// Unmounts the store (and detaches the loop device) even when an assertion fails.
struct StoreGuard(std::path::PathBuf);

impl Drop for StoreGuard {
    fn drop(&mut self) {
        let _ = unmount_store(&self.0);
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

fn exercise(kind: SnapshotterKind) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".vers");
    let _guard = StoreGuard(state.clone());
    let snap = open_snapshotter(&state, Some(kind)).unwrap();
    assert_eq!(snap.kind(), kind);
    assert_eq!(
        std::fs::read_to_string(state.join("snapshotter")).unwrap(),
        kind.to_string()
    );

    let v = snap.create_volume("v1").unwrap();
    assert_eq!(v, snap.volume_path("v1"));
    std::fs::create_dir(v.join("sub")).unwrap();
    std::fs::write(v.join("f"), "one").unwrap();
    std::fs::write(v.join("sub/g"), "keep").unwrap();
    snap.commit("v1", "c1").unwrap();
    assert!(matches!(
        snap.commit("v1", "c1"),
        Err(SnapshotError::Exists(_))
    ));
    assert!(snap.checkpoint_exists("c1"));

    // Later writes to the volume do not reach the checkpoint or its clones.
    std::fs::write(v.join("f"), "two").unwrap();
    std::fs::remove_file(v.join("sub/g")).unwrap();
    let clone = snap.clone_volume("c1", "v2").unwrap();
    assert_eq!(read(&clone.join("f")), "one");
    assert_eq!(read(&clone.join("sub/g")), "keep");

    // Writes in a clone are invisible to the volume and to sibling clones.
    std::fs::write(clone.join("f"), "three").unwrap();
    std::fs::remove_file(clone.join("sub/g")).unwrap();
    assert_eq!(read(&v.join("f")), "two");
    let sibling = snap.clone_volume("c1", "v3").unwrap();
    assert_eq!(read(&sibling.join("f")), "one");
    assert_eq!(read(&sibling.join("sub/g")), "keep");

    // A clone can be committed and cloned again (checkpoint chains).
    snap.commit("v2", "c2").unwrap();
    let grand = snap.clone_volume("c2", "v4").unwrap();
    assert_eq!(read(&grand.join("f")), "three");
    assert!(!grand.join("sub/g").exists());

    // Rollback.
    snap.restore("c1", "v1").unwrap();
    let v1 = snap.volume_path("v1");
    assert_eq!(read(&v1.join("f")), "one");
    assert_eq!(read(&v1.join("sub/g")), "keep");

    // A crashed commit leaves only a temporary entry: never listed, removed by cleanup.
    std::fs::create_dir_all(state.join("store/checkpoints/.tmp-c9/data")).unwrap();
    assert!(!snap.checkpoint_exists("c9"));
    assert_eq!(
        snap.list_checkpoints(),
        vec!["c1".to_string(), "c2".to_string()]
    );
    let removed = snap.cleanup_incomplete().unwrap();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(!state.join("store/checkpoints/.tmp-c9").exists());

    assert!(snap.create_volume("../escape").is_err());
    assert!(matches!(
        snap.clone_volume("nope", "v9"),
        Err(SnapshotError::NotFound(_))
    ));

    for id in ["v1", "v2", "v3", "v4"] {
        snap.delete_volume(id).unwrap();
        assert!(!snap.volume_path(id).exists());
    }
    snap.delete_checkpoint("c2").unwrap();
    snap.delete_checkpoint("c1").unwrap();
    assert!(snap.list_checkpoints().is_empty());
    drop(snap);
    // Reopening without a preference keeps the recorded kind.
    let again = open_snapshotter(&state, None).unwrap();
    assert_eq!(again.kind(), kind);
}

#[test]
fn btrfs_snapshotter() {
    exercise(SnapshotterKind::Btrfs);
}

#[test]
fn overlay_snapshotter() {
    exercise(SnapshotterKind::Overlay);
}

#[test]
fn copy_snapshotter() {
    exercise(SnapshotterKind::Copy);
}

#[test]
fn btrfs_checkpoints_are_read_only_and_the_image_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".vers");
    let _guard = StoreGuard(state.clone());
    let snap = open_snapshotter(&state, None).unwrap();
    assert_eq!(
        snap.kind(),
        SnapshotterKind::Btrfs,
        "auto-detection should pick the btrfs image"
    );
    let v = snap.create_volume("v").unwrap();
    std::fs::write(v.join("f"), "x").unwrap();
    snap.commit("v", "c").unwrap();
    let ckpt = state.join("store/checkpoints/c");
    assert!(std::fs::write(ckpt.join("f"), "y").is_err());
    // A second open reuses the mounted image and sees the same data.
    let again = open_snapshotter(&state, None).unwrap();
    assert!(again.checkpoint_exists("c"));
    // Switching kinds while the store holds data is refused.
    assert!(matches!(
        open_snapshotter(&state, Some(SnapshotterKind::Copy)),
        Err(SnapshotError::KindMismatch(_))
    ));
    unmount_store(&state).unwrap();
    assert!(!state.join("store/checkpoints").exists());
    // Remounting brings the data back.
    let remounted = open_snapshotter(&state, None).unwrap();
    assert!(remounted.checkpoint_exists("c"));
}

#[test]
fn overlay_refuses_to_delete_a_checkpoint_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".vers");
    let _guard = StoreGuard(state.clone());
    let snap = open_snapshotter(&state, Some(SnapshotterKind::Overlay)).unwrap();
    snap.create_volume("v").unwrap();
    snap.commit("v", "c").unwrap();
    snap.clone_volume("c", "w").unwrap();
    assert!(matches!(
        snap.delete_checkpoint("c"),
        Err(SnapshotError::InUse(_))
    ));
    snap.delete_volume("w").unwrap();
    snap.delete_checkpoint("c").unwrap();
}

/// Cost of commit + clone of a 100 MB volume per snapshotter (run with `--ignored
/// --nocapture`; prints timings).
#[test]
#[ignore]
fn measure_commit_and_clone_of_100mb() {
    for kind in [
        SnapshotterKind::Btrfs,
        SnapshotterKind::Overlay,
        SnapshotterKind::Copy,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".vers");
        let _guard = StoreGuard(state.clone());
        let snap = open_snapshotter(&state, Some(kind)).unwrap();
        let v = snap.create_volume("v").unwrap();
        let chunk = vec![7u8; 1024 * 1024];
        for i in 0..100 {
            std::fs::write(v.join(format!("f{i}")), &chunk).unwrap();
        }
        nix::unistd::sync();
        let t = Instant::now();
        snap.commit("v", "c").unwrap();
        let commit = t.elapsed();
        let t = Instant::now();
        snap.clone_volume("c", "w").unwrap();
        let clone = t.elapsed();
        println!("{kind}: commit {commit:?}, clone {clone:?} (100 files, 100 MB)");
        snap.delete_volume("w").unwrap();
    }
}

/// Appends 1 MiB blocks to `path` until a write fails or `max` MiB are written; returns the
/// MiB written and the error that stopped it.
fn write_until_full(path: &Path, max: usize) -> (usize, Option<std::io::Error>) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let block = vec![7u8; 1024 * 1024];
    for i in 0..max {
        if let Err(e) = f.write_all(&block).and_then(|()| f.sync_data()) {
            return (i, Some(e));
        }
    }
    (max, None)
}

#[test]
fn btrfs_volume_sizes_are_enforced_and_survive_restore() {
    use vers_runtime::snapshot::quota;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".vers");
    let _guard = StoreGuard(state.clone());
    let snap = open_snapshotter(&state, Some(SnapshotterKind::Btrfs)).unwrap();
    let v = snap.create_volume("v").unwrap();
    assert!(snap.set_volume_size("v", Some(16 << 20)).unwrap());
    std::fs::write(v.join("keep"), "kept").unwrap();
    let (mib, err) = write_until_full(&v.join("big"), 64);
    let err = err.unwrap_or_else(|| panic!("wrote {mib} MiB into a 16 MiB volume"));
    assert_eq!(err.raw_os_error(), Some(libc::EDQUOT), "{err}");
    assert!((12..=16).contains(&mib), "{mib} MiB fit into 16 MiB");
    // Reads go on; deleting frees the space again.
    assert_eq!(read(&v.join("keep")), "kept");
    let usage = quota::usage(&v).unwrap().unwrap();
    assert_eq!(usage.limit, Some(16 << 20));
    assert!(usage.used >= 12 << 20, "{usage:?}");
    std::fs::remove_file(v.join("big")).unwrap();
    quota::sync(&v).unwrap();
    assert_eq!(write_until_full(&v.join("again"), 8).0, 8);
    // A restore keeps the size; lifting it lets the volume grow.
    snap.commit("v", "c").unwrap();
    snap.restore("c", "v").unwrap();
    assert_eq!(quota::limit(&v).unwrap(), Some(16 << 20));
    assert_eq!(read(&v.join("keep")), "kept");
    assert!(snap.set_volume_size("v", None).unwrap());
    assert_eq!(quota::limit(&v).unwrap(), None);
    assert_eq!(write_until_full(&v.join("more"), 24).0, 24);
    // Overlay and copy volumes say they do not enforce a size.
    let other = tempfile::tempdir().unwrap();
    let copy = open_snapshotter(&other.path().join(".vers"), Some(SnapshotterKind::Copy)).unwrap();
    copy.create_volume("v").unwrap();
    assert!(!copy.set_volume_size("v", Some(1 << 20)).unwrap());
}
