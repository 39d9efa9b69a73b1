//! Choosing and opening the store under `<project>/.vers`: btrfs when the project is on
//! btrfs, else a sparse loop-mounted btrfs image `<state_dir>/btrfs.img` at
//! `<state_dir>/store`, else overlayfs, else plain copies. The chosen kind is recorded in
//! `<state_dir>/snapshotter` so later opens use the same one.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::fsutil::{is_btrfs, is_mountpoint, list_names, mkdirs};
use super::{
    BtrfsSnapshotter, CopySnapshotter, OverlaySnapshotter, SnapshotError, Snapshotter,
    SnapshotterKind,
};
use crate::error::run_command;

use super::growth::{image_path, initial_size, store_path as store_dir};

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Mounts (creating it when needed) the loop btrfs image at the store; reuses a store that
/// is already mounted.
fn mount_btrfs_image(state_dir: &Path) -> Result<PathBuf, SnapshotError> {
    let store = store_dir(state_dir);
    mkdirs(&store)?;
    if is_mountpoint(&store) {
        if is_btrfs(&store) {
            enable_quotas(&store);
            return Ok(store);
        }
        // An environment's view of the store (see `spawn::View`): the store is not this
        // process's to mount.
        return Err(SnapshotError::Unavailable(format!(
            "{} is covered by an environment's view of the store",
            store.display()
        )));
    }
    if !is_root() {
        return Err(SnapshotError::Unavailable(
            "mounting the btrfs store image needs root".into(),
        ));
    }
    let img = image_path(state_dir);
    if !img.exists() {
        let file = std::fs::File::create(&img).map_err(|e| SnapshotError::io(&img, e))?;
        restrict_image(&img)?;
        // Sparse: blocks are allocated only as data is written; the daemon grows it on
        // demand up to its limit (see `growth`).
        let size = initial_size(state_dir);
        let made = file
            .set_len(size)
            .map_err(|e| SnapshotError::io(&img, e))
            .and_then(|_| {
                run_command(Command::new("mkfs.btrfs").args(["-q", "-f"]).arg(&img))
                    .map_err(SnapshotError::from)
            });
        if let Err(e) = made {
            let _ = std::fs::remove_file(&img);
            return Err(SnapshotError::Unavailable(format!(
                "creating the btrfs store image {}: {e} (install btrfs-progs)",
                img.display()
            )));
        }
        drop(file);
    }
    // Images made before it was restricted are fixed on their next mount.
    restrict_image(&img)?;
    run_command(
        Command::new("mount")
            .args(["-t", "btrfs", "-o", "loop,noatime"])
            .arg(&img)
            .arg(&store),
    )?;
    tracing::info!(image = %img.display(), store = %store.display(), "mounted the btrfs store");
    enable_quotas(&store);
    Ok(store)
}

/// Makes the store image readable by root only: the engine user may traverse `.vers` (to
/// reach volumes) and would otherwise read every environment's data through the raw image.
fn restrict_image(img: &Path) -> Result<(), SnapshotError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(img, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| SnapshotError::io(img, e))
}

/// Turns quotas on in vers's own btrfs image, so volume sizes are enforced (a btrfs the
/// project lives on is left as its owner set it up).
fn enable_quotas(store: &Path) {
    match super::quota::enable(store) {
        Ok(simple) => tracing::debug!(simple, "quotas on in the btrfs store"),
        Err(e) => tracing::warn!("volume sizes are not enforced: {e}"),
    }
}

fn overlay_available() -> bool {
    is_root()
        && std::fs::read_to_string("/proc/filesystems")
            .map(|t| {
                t.lines()
                    .any(|l| l.split_whitespace().last() == Some("overlay"))
            })
            .unwrap_or(false)
}

/// Whether the store holds no volume or checkpoint (so its kind may change).
fn store_is_empty(state_dir: &Path) -> bool {
    let store = store_dir(state_dir);
    list_names(&store.join("volumes")).is_empty()
        && list_names(&store.join("checkpoints")).is_empty()
        && !image_path(state_dir).exists()
}

fn detect(state_dir: &Path) -> SnapshotterKind {
    if is_btrfs(state_dir) {
        return SnapshotterKind::Btrfs;
    }
    match mount_btrfs_image(state_dir) {
        Ok(_) => return SnapshotterKind::Btrfs,
        Err(e) => tracing::warn!("no btrfs store ({e}); falling back"),
    }
    if overlay_available() {
        SnapshotterKind::Overlay
    } else {
        SnapshotterKind::Copy
    }
}

/// The file in which a store records the kind it was made with.
fn kind_path(state_dir: &Path) -> PathBuf {
    state_dir.join("snapshotter")
}

/// The kind the store under `state_dir` was made with, read without opening (or mounting)
/// it; `None` before the store exists.
pub fn recorded_kind(state_dir: &Path) -> Option<SnapshotterKind> {
    std::fs::read_to_string(kind_path(state_dir))
        .ok()
        .and_then(|k| k.trim().parse().ok())
}

/// Opens the store under `state_dir` (`<project>/.vers`): btrfs where the project is on
/// btrfs, else a loop-mounted btrfs image, else overlayfs, else copies. `prefer` forces a
/// kind; a store that already holds data keeps the kind it was made with.
pub fn open_snapshotter(
    state_dir: &Path,
    prefer: Option<SnapshotterKind>,
) -> Result<Box<dyn Snapshotter>, SnapshotError> {
    mkdirs(state_dir)?;
    let kind_file = kind_path(state_dir);
    let recorded = recorded_kind(state_dir);
    let kind = match (prefer, recorded) {
        (Some(p), Some(r)) if p != r => {
            if store_is_empty(state_dir) {
                p
            } else {
                return Err(SnapshotError::KindMismatch(format!(
                    "the store in {} was made by the {r} snapshotter and holds data; \
                     remove it (vers down --all, then delete {}) to switch to {p}",
                    state_dir.display(),
                    store_dir(state_dir).display()
                )));
            }
        }
        (Some(p), _) => p,
        (None, Some(r)) => r,
        (None, None) => detect(state_dir),
    };
    let store = store_dir(state_dir);
    let snap: Box<dyn Snapshotter> = match kind {
        SnapshotterKind::Btrfs => {
            let base = if is_btrfs(state_dir) && !image_path(state_dir).exists() {
                store.clone()
            } else {
                mount_btrfs_image(state_dir)?
            };
            Box::new(BtrfsSnapshotter::new(&base)?)
        }
        SnapshotterKind::Overlay => {
            if !overlay_available() {
                return Err(SnapshotError::Unavailable(
                    "the overlay snapshotter needs root and overlayfs".into(),
                ));
            }
            Box::new(OverlaySnapshotter::new(&store)?)
        }
        SnapshotterKind::Copy => Box::new(CopySnapshotter::new(&store)?),
    };
    std::fs::write(&kind_file, kind.to_string()).map_err(|e| SnapshotError::io(&kind_file, e))?;
    tracing::debug!(kind = %kind, store = %store.display(), "opened the snapshot store");
    Ok(snap)
}

/// Unmounts the overlay volumes and the loop-mounted btrfs store of `state_dir` and detaches
/// the loop device (for `down --all` and cleanup); the data stays in the image.
pub fn unmount_store(state_dir: &Path) -> Result<(), SnapshotError> {
    let store = store_dir(state_dir);
    let vols = store.join("volumes");
    for v in list_names(&vols) {
        let m = vols.join(&v).join("merged");
        if is_mountpoint(&m) {
            nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH)
                .map_err(|e| SnapshotError::sys("unmount", &m, e))?;
        }
    }
    if is_mountpoint(&store) {
        if let Err(e) = nix::mount::umount(&store) {
            tracing::warn!("store {} busy ({e}); detaching lazily", store.display());
            nix::mount::umount2(&store, nix::mount::MntFlags::MNT_DETACH)
                .map_err(|e| SnapshotError::sys("unmount", &store, e))?;
        }
    }
    // Copies of the store in other mount namespaces (processes started before environment
    // processes detached foreign stores, other tools' namespaces) would keep the loop device.
    // Swept after the host's unmount, so no namespace made meanwhile can copy it again.
    let copies = crate::mounts::detach_everywhere(&store);
    if copies > 0 {
        tracing::info!(copies, "detached the store from other mount namespaces");
    }
    let img = image_path(state_dir);
    if img.exists() {
        // `mount -o loop` sets autoclear, but a lazily unmounted store keeps its device.
        let listed = run_command(Command::new("losetup").arg("-j").arg(&img)).unwrap_or_default();
        for dev in listed.lines().filter_map(|l| l.split(':').next()) {
            let _ = run_command(Command::new("losetup").args(["-d", dev]));
        }
    }
    Ok(())
}
