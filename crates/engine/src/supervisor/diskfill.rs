//! `disk-fill`: a file filling a service's data directory to a share of its volume, and the
//! environment volume's quota lowered so only the rest of that volume stays writable. Writes
//! then fail with `EDQUOT` (or `ENOSPC` where no quota is enforced) while reads go on;
//! [`Filled::undo`] deletes the file and puts the quota back.

use std::io::Write;
use std::path::{Path, PathBuf};

use vers_runtime::snapshot::quota;

/// Name of the file `disk-fill` writes into the service's data directory.
pub const FILL_FILE: &str = ".vers-chaos-fill";

/// Space left alone on a filesystem without a quota, so the rest of the machine keeps going.
const SPARE_BYTES: u64 = 16 * 1024 * 1024;

/// Deletes the fill file of each service data directory of `volume`, a volume just made
/// from a checkpoint (a forced commit during a disk-fill): a fault's leftover is not data,
/// and a branch or a rollback starts with the room its volume has. Returns how many.
pub fn remove_fill_files(volume: &Path) -> usize {
    let Ok(dirs) = std::fs::read_dir(volume) else {
        return 0;
    };
    dirs.flatten()
        .filter(|d| std::fs::remove_file(d.path().join(FILL_FILE)).is_ok())
        .count()
}

/// A disk fill in force.
#[derive(Debug)]
pub struct Filled {
    /// The fill file.
    pub file: PathBuf,
    /// The volume whose quota was lowered, and its limit before.
    lowered: Option<(PathBuf, Option<u64>)>,
}

/// Writes `bytes` into `dir/.vers-chaos-fill` (fewer when the disk or quota is full first),
/// then, when `volume` has a quota, lowers its limit to what it holds plus `headroom`.
pub fn fill(
    dir: &Path,
    bytes: u64,
    volume: Option<&Path>,
    headroom: u64,
) -> Result<Filled, String> {
    let file = dir.join(FILL_FILE);
    let before = volume.and_then(|v| quota::usage(v).ok().flatten());
    let free = nix::sys::statvfs::statvfs(dir)
        .map(|s| s.blocks_available() * s.fragment_size())
        .unwrap_or(0);
    let mut size = bytes;
    match before.and_then(|q| q.limit.map(|l| (q.used, l))) {
        Some((used, limit)) => size = size.min(limit.saturating_sub(used)).min(free),
        None => size = size.min(free.saturating_sub(SPARE_BYTES)),
    }
    write_fill(&file, size).map_err(|e| format!("disk-fill {}: {e}", file.display()))?;
    let mut filled = Filled {
        file,
        lowered: None,
    };
    if let (Some(vol), Some(before)) = (volume, before) {
        let now = quota::usage(vol)
            .map_err(|e| e.to_string())?
            .map(|q| q.used)
            .unwrap_or(before.used);
        let target = now.saturating_add(headroom);
        if before.limit.is_none_or(|l| target < l) {
            quota::set_limit(vol, Some(target)).map_err(|e| e.to_string())?;
            filled.lowered = Some((vol.to_path_buf(), before.limit));
        }
    }
    Ok(filled)
}

impl Filled {
    /// Deletes the fill file, puts the volume's quota back and commits, so the space is
    /// writable again at once.
    pub fn undo(self) {
        let _ = std::fs::remove_file(&self.file);
        if let Some((vol, limit)) = self.lowered {
            if let Err(e) = quota::set_limit(&vol, limit) {
                tracing::warn!("disk-fill: restoring the quota of {}: {e}", vol.display());
            }
            let _ = quota::sync(&vol);
        } else if let Some(dir) = self.file.parent() {
            let _ = quota::sync(dir);
        }
    }
}

/// Allocates `size` bytes at `path`: `fallocate` (no data written), else zeros; a full disk
/// or quota ends the file early, which is what a fill is for.
fn write_fill(path: &Path, size: u64) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    if size == 0 {
        return Ok(());
    }
    let full = |e: &std::io::Error| {
        matches!(
            e.raw_os_error(),
            Some(nix::libc::EDQUOT) | Some(nix::libc::ENOSPC)
        )
    };
    let len = i64::try_from(size).unwrap_or(i64::MAX);
    // Unsupported, or a full disk or quota: write what fits below.
    if nix::fcntl::fallocate(&f, nix::fcntl::FallocateFlags::empty(), 0, len).is_ok() {
        return f.sync_all();
    }
    let block = vec![0u8; 1024 * 1024];
    let mut left = size.saturating_sub(f.metadata()?.len());
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        match f.write_all(&block[..n]) {
            Ok(()) => left -= n as u64,
            Err(e) if full(&e) => break,
            Err(e) => return Err(e),
        }
    }
    match f.sync_all() {
        Err(e) if !full(&e) => Err(e),
        _ => Ok(()),
    }
}
