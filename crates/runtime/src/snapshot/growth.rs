//! Growing the loop-mounted btrfs image on demand, up to a limit.
//!
//! The image `<state_dir>/btrfs.img` is sparse and starts at half its limit (at least
//! [`MIN_IMAGE`], at most [`INITIAL_MAX`]). When the free space the btrfs reports falls below
//! [`grow_threshold`], [`ensure_room`] enlarges the file, tells the loop device
//! (`LOOP_SET_CAPACITY`) and resizes the filesystem to the device (`BTRFS_IOC_RESIZE max`),
//! all while services keep writing. The limit is `VERS_STORE_LIMIT` (a size: `600mb`,
//! `50GiB`, bytes), and never more than the host disk can back while keeping a reserve
//! ([`host_reserve`]); without the variable it is only the host disk's.
//!
//! When the image cannot grow and the btrfs is (nearly) full, [`ensure_room`] says so with a
//! [`StoreFull`], whose text is the message users see.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

use super::SnapshotError;

/// Variable setting the largest size of the store image (a size: `600mb`, `50GiB`, bytes).
pub const LIMIT_VAR: &str = "VERS_STORE_LIMIT";
/// The smallest image vers makes (btrfs needs room for its own metadata).
pub const MIN_IMAGE: u64 = 256 * MIB;
/// The largest size a new image starts at (sparse, so a larger start costs nothing while the
/// host can back it, and absorbs bursts of writes faster than the watch).
pub const INITIAL_MAX: u64 = 8 * GIB;
/// Room made past the limit so checkpoints and branches can still be deleted on a full store
/// (a btrfs with no free metadata space cannot even delete).
pub const DELETE_RESERVE: u64 = 64 * MIB;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// Free space in the btrfs below which the image grows: an eighth of its size, at least
/// 128 MiB, at most 2 GiB.
pub fn grow_threshold(size: u64) -> u64 {
    (size / 8).clamp(128 * MIB, 2 * GIB)
}

/// Free space below which a store that cannot grow counts as full: a 32nd of its size, at
/// least 32 MiB.
pub fn full_threshold(size: u64) -> u64 {
    (size / 32).max(32 * MIB)
}

/// Host disk kept free whatever the limit: 5 % of the host filesystem holding the project,
/// at least 256 MiB and at most 2 GiB.
pub fn host_reserve(host_total: u64) -> u64 {
    (host_total / 20).clamp(256 * MIB, 2 * GIB)
}

/// Parses a size as the manifest writes them: bytes, or a number with `k`, `m`, `g`, `t`
/// (optionally followed by `b` or `ib`), 1024-based and case-insensitive.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let digits = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: f64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "b" => 1u64,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    let bytes = n * mult as f64;
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}

/// The file keeping the limit the daemon was started with, so every process of the project
/// (workers run with their caller's environment) applies the same one.
fn limit_file(state_dir: &Path) -> PathBuf {
    state_dir.join("store-limit")
}

/// The limit `VERS_STORE_LIMIT` sets in this process's environment, if any (an unreadable
/// value is ignored with a warning).
pub fn limit_from_env() -> Option<u64> {
    limit_of(&std::env::var(LIMIT_VAR).ok()?)
}

/// The limit a `VERS_STORE_LIMIT` value sets (`None` for an empty or unreadable one, with a
/// warning).
pub fn limit_of(text: &str) -> Option<u64> {
    if text.trim().is_empty() {
        return None;
    }
    match parse_size(text) {
        Some(n) => Some(n.max(MIN_IMAGE)),
        None => {
            tracing::warn!("{LIMIT_VAR}={text} is not a size (e.g. 600mb, 50GiB); ignored");
            None
        }
    }
}

/// Records the limit of this process's `VERS_STORE_LIMIT` as the store's (none when unset):
/// the daemon does this when it starts.
pub fn record_limit(state_dir: &Path) -> Result<(), SnapshotError> {
    let path = limit_file(state_dir);
    match limit_from_env() {
        Some(n) => std::fs::write(&path, n.to_string()).map_err(|e| SnapshotError::io(&path, e)),
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SnapshotError::io(&path, e)),
            _ => Ok(()),
        },
    }
}

/// Changes the store's limit to what the `VERS_STORE_LIMIT` value `text` of a command says
/// (the daemon does this for every operation whose caller sets it, so the limit can be
/// raised while environments run); an unreadable value changes nothing.
pub fn set_limit(state_dir: &Path, text: &str) -> Result<(), SnapshotError> {
    let Some(n) = limit_of(text) else {
        return Ok(());
    };
    if configured_limit(state_dir) == Some(n) {
        return Ok(());
    }
    let path = limit_file(state_dir);
    std::fs::write(&path, n.to_string()).map_err(|e| SnapshotError::io(&path, e))?;
    tracing::info!("snapshot store limit set to {n} bytes");
    Ok(())
}

/// The store's configured limit: as the daemon recorded it, else this process's
/// `VERS_STORE_LIMIT`.
pub fn configured_limit(state_dir: &Path) -> Option<u64> {
    std::fs::read_to_string(limit_file(state_dir))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .or_else(limit_from_env)
}

/// What bounds the store's growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// `VERS_STORE_LIMIT`.
    Configured,
    /// The host disk: growing more would leave less than the reserve free.
    HostDisk {
        /// Free bytes on the host filesystem holding the image.
        host_free: u64,
        /// Bytes kept free there.
        reserve: u64,
    },
}

/// The store's space as seen now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Apparent size of the image file.
    pub size: u64,
    /// Bytes the btrfs could still give to new data.
    pub free: u64,
    /// The size the image may grow to.
    pub limit: u64,
    /// What sets the limit.
    pub bound: Bound,
}

/// A store that is full and cannot grow; its `Display` is the message users see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFull {
    /// The space when it was found full.
    pub space: Space,
}

fn gb(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

fn mb(bytes: u64) -> String {
    if bytes >= 10_000_000_000 {
        gb(bytes)
    } else {
        format!("{} MB", bytes / 1_000_000)
    }
}

/// A limit to suggest: twice `limit`, in whole GB (or MB below 1 GB).
fn suggest(limit: u64) -> String {
    let twice = limit.saturating_mul(2);
    if twice >= 1_000_000_000 {
        format!("{}gb", twice.div_ceil(1_000_000_000))
    } else {
        format!("{}mb", twice.div_ceil(1_000_000))
    }
}

impl fmt::Display for StoreFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.space;
        write!(
            f,
            "snapshot store full ({}): {} free of {}; ",
            gb(s.size),
            mb(s.free),
            mb(s.size)
        )?;
        match s.bound {
            Bound::Configured => write!(
                f,
                "the image reached its limit {LIMIT_VAR}={}, so writes fail with ENOSPC \
                 (\"No space left on device\") — raise the limit (run a vers command with \
                 {LIMIT_VAR} set, e.g. `{LIMIT_VAR}={} vers execute true`), or free space: \
                 `vers checkpoint prune`, `vers checkpoint rm TAG`, `vers branch delete NAME`",
                mb(s.limit),
                suggest(s.limit)
            ),
            Bound::HostDisk { host_free, reserve } => write!(
                f,
                "the host disk has {} free and vers keeps {} of it in reserve, so the image \
                 cannot grow and writes fail with ENOSPC (\"No space left on device\") — free \
                 host disk, or free space in the store: `vers checkpoint prune`, \
                 `vers checkpoint rm TAG`, `vers branch delete NAME`",
                mb(host_free),
                mb(reserve)
            ),
        }
    }
}

/// What [`ensure_room`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Growth {
    /// Enough free space; nothing done.
    Enough(Space),
    /// The image grew.
    Grew {
        /// Size before.
        from: u64,
        /// Space after.
        space: Space,
        /// How long it took.
        took: Duration,
    },
    /// Short of space and at the limit; not full yet.
    AtLimit(Space),
    /// Full, and it cannot grow.
    Full(StoreFull),
}

/// The image file of the store under `state_dir`.
pub fn image_path(state_dir: &Path) -> PathBuf {
    state_dir.join("btrfs.img")
}

/// The mount point of the store under `state_dir`.
pub fn store_path(state_dir: &Path) -> PathBuf {
    state_dir.join("store")
}

/// The size a new image starts at for the limit in force.
pub fn initial_size(state_dir: &Path) -> u64 {
    let limit = match configured_limit(state_dir) {
        Some(l) => l,
        None => host_cap(state_dir, 0, 0).0,
    };
    (limit / 2)
        .clamp(MIN_IMAGE, INITIAL_MAX)
        .min(limit.max(MIN_IMAGE))
}

/// The largest image the host disk can back (`allocated` bytes of it already are), keeping
/// the reserve, and the host's free bytes and reserve.
fn host_cap(state_dir: &Path, size: u64, allocated: u64) -> (u64, u64, u64) {
    match nix::sys::statvfs::statvfs(state_dir) {
        Ok(s) => {
            let frsize = s.fragment_size();
            let free = s.blocks_available() * frsize;
            let reserve = host_reserve(s.blocks() * frsize);
            let cap = (allocated + free).saturating_sub(reserve).max(size);
            (cap, free, reserve)
        }
        Err(_) => (size, 0, 0),
    }
}

/// The space of the loop-mounted store under `state_dir`; `None` when the store is not a
/// mounted image (a project on btrfs, overlay, copies).
pub fn space(state_dir: &Path) -> Option<Space> {
    let img = image_path(state_dir);
    let meta = std::fs::metadata(&img).ok()?;
    let store = store_path(state_dir);
    let st = nix::sys::statvfs::statvfs(&store).ok()?;
    // An unmounted store shows the filesystem below it.
    if st.filesystem_id() == nix::sys::statvfs::statvfs(state_dir).ok()?.filesystem_id() {
        return None;
    }
    let free = st.blocks_available() * st.fragment_size();
    let size = meta.len();
    let (host, host_free, reserve) = host_cap(state_dir, size, meta.blocks() * 512);
    let (limit, bound) = match configured_limit(state_dir) {
        Some(l) if l <= host => (l.max(size), Bound::Configured),
        _ => (host, Bound::HostDisk { host_free, reserve }),
    };
    Some(Space {
        size,
        free,
        limit,
        bound,
    })
}

/// Makes sure the store under `state_dir` has room: when its free space is below `want`
/// (default [`grow_threshold`]), grows the image, past the limit by up to `beyond` bytes
/// (for deletions). Serialised with other callers by `<state_dir>/store-grow.lock`.
/// `Ok(None)` when the store is not a mounted image.
pub fn ensure_room(
    state_dir: &Path,
    want: Option<u64>,
    beyond: u64,
) -> Result<Option<Growth>, SnapshotError> {
    let Some(space) = space(state_dir) else {
        return Ok(None);
    };
    let want = want.unwrap_or_else(|| grow_threshold(space.size));
    if space.free >= want {
        return Ok(Some(Growth::Enough(space)));
    }
    let lock_path = state_dir.join("store-grow.lock");
    let lock_file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| SnapshotError::io(&lock_path, e))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| SnapshotError::sys("lock", &lock_path, e))?;
    // Another caller may have grown it meanwhile.
    let Some(space) = self::space(state_dir) else {
        return Ok(None);
    };
    if space.free >= want {
        return Ok(Some(Growth::Enough(space)));
    }
    let step = (space.size / 2).max(512 * MIB);
    let limit = if beyond > 0 {
        let (_, host_free, _) = host_cap(state_dir, space.size, 0);
        // The reserve of the host disk is what deletions may use.
        (space.limit + beyond).min(space.size + host_free.saturating_sub(16 * MIB))
    } else {
        space.limit
    };
    let target = (space.size + step.max(want - space.free)).min(limit);
    if target <= space.size {
        return Ok(Some(if space.free < full_threshold(space.size) {
            Growth::Full(StoreFull { space })
        } else {
            Growth::AtLimit(space)
        }));
    }
    let began = Instant::now();
    grow(state_dir, target)?;
    let took = began.elapsed();
    let after = self::space(state_dir).unwrap_or(Space {
        size: target,
        ..space
    });
    tracing::info!(
        from = space.size,
        to = target,
        ms = took.as_millis() as u64,
        "grew the snapshot store image"
    );
    Ok(Some(Growth::Grew {
        from: space.size,
        space: after,
        took,
    }))
}

/// `struct btrfs_ioctl_vol_args`.
#[repr(C)]
struct VolArgs {
    fd: i64,
    name: [u8; 4088],
}

nix::ioctl_write_ptr!(ioc_resize, 0x94, 3, VolArgs);
nix::ioctl_none!(loop_set_capacity, 0x4C, 0x07);

/// Enlarges the image to `size`, then the loop devices backed by it, then the btrfs.
fn grow(state_dir: &Path, size: u64) -> Result<(), SnapshotError> {
    let img = image_path(state_dir);
    let f = OpenOptions::new()
        .write(true)
        .open(&img)
        .map_err(|e| SnapshotError::io(&img, e))?;
    f.set_len(size).map_err(|e| SnapshotError::io(&img, e))?;
    drop(f);
    let devices = loop_devices(&img);
    if devices.is_empty() {
        return Err(SnapshotError::Invalid(format!(
            "no loop device is backed by {}",
            img.display()
        )));
    }
    for dev in &devices {
        let d = File::open(dev).map_err(|e| SnapshotError::io(dev, e))?;
        // SAFETY: LOOP_SET_CAPACITY takes no argument.
        unsafe { loop_set_capacity(d.as_raw_fd()) }
            .map_err(|e| SnapshotError::sys("set the capacity of", dev, e))?;
    }
    let store = store_path(state_dir);
    let dir = File::open(&store).map_err(|e| SnapshotError::io(&store, e))?;
    let mut args = VolArgs {
        fd: 0,
        name: [0; 4088],
    };
    args.name[..3].copy_from_slice(b"max");
    // SAFETY: `args` is a properly laid out btrfs_ioctl_vol_args living across the call.
    unsafe { ioc_resize(dir.as_raw_fd(), &args) }
        .map_err(|e| SnapshotError::sys("resize", &store, e))?;
    Ok(())
}

/// The loop devices (`/dev/loopN`) whose backing file is `img`.
pub fn loop_devices(img: &Path) -> Vec<PathBuf> {
    let want = std::fs::canonicalize(img).unwrap_or_else(|_| img.to_path_buf());
    let Ok(rd) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let Ok(backing) = std::fs::read_to_string(e.path().join("loop/backing_file")) else {
            continue;
        };
        if Path::new(backing.trim()) == want {
            out.push(PathBuf::from("/dev").join(&name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_the_manifest() {
        assert_eq!(parse_size("600mb"), Some(600 * MIB));
        assert_eq!(parse_size("2GiB"), Some(2 * GIB));
        assert_eq!(parse_size("1.5g"), Some(3 * GIB / 2));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size("5 parsecs"), None);
    }

    #[test]
    fn the_full_message_says_what_happened_and_the_fix() {
        let space = Space {
            size: 600 * MIB,
            free: 3 * MIB,
            limit: 600 * MIB,
            bound: Bound::Configured,
        };
        let text = StoreFull { space }.to_string();
        assert!(
            text.starts_with("snapshot store full (0.6 GB): 3 MB free of 629 MB; "),
            "{text}"
        );
        assert!(text.contains("limit VERS_STORE_LIMIT=629 MB"), "{text}");
        assert!(
            text.contains("`VERS_STORE_LIMIT=2gb vers execute true`"),
            "{text}"
        );
        let host = StoreFull {
            space: Space {
                size: 40 * GIB,
                bound: Bound::HostDisk {
                    host_free: 900 * MIB,
                    reserve: 2 * GIB,
                },
                ..space
            },
        }
        .to_string();
        assert!(
            host.starts_with("snapshot store full (42.9 GB): "),
            "{host}"
        );
        assert!(
            host.contains("the host disk has 943 MB free and vers keeps 2147 MB of it in reserve"),
            "{host}"
        );
        assert!(host.contains("free host disk"), "{host}");
    }

    #[test]
    fn thresholds_scale_with_the_image() {
        assert_eq!(grow_threshold(300 * MIB), 128 * MIB);
        assert_eq!(grow_threshold(20 * GIB), 2 * GIB);
        assert_eq!(full_threshold(600 * MIB), 32 * MIB);
        assert_eq!(host_reserve(252 * GIB), 2 * GIB);
        assert_eq!(host_reserve(GIB), 256 * MIB);
    }
}
