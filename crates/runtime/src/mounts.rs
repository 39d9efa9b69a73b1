//! Where copies of a project's snapshot store live: mount tables of this and other mount
//! namespaces, and detaching a store from every namespace that still holds a copy.
//!
//! A mount namespace made with `unshare(CLONE_NEWNS)` starts with a copy of every mount of
//! its creator. Copies of a private mount are independent: unmounting the store on the host
//! leaves them in place, and the loop device under a btrfs store image stays attached while
//! any copy lives. Marking the store shared does not help on a host whose `/` is private: an
//! unmount propagates through the peer group of the *parent* mount, and the store's parent
//! is `/`. So vers keeps copies from being made (an environment process detaches every store
//! but its own, see [`crate::spawn`]) and removes those that exist anyway (processes started
//! by an older vers, namespaces made by other tools) with [`detach_everywhere`].

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use nix::mount::{umount2, MntFlags};
use nix::sched::{setns, CloneFlags};

/// The mount points listed in a `mountinfo` text, unescaped, in table order.
pub fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .collect()
}

/// Undoes the octal escapes (`\040` for a space, ...) of a `mountinfo` path.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `path` is a project's snapshot store (`<project>/.vers/store`) or lies under one.
pub fn in_a_store(path: &Path) -> bool {
    let parts: Vec<_> = path.components().collect();
    parts
        .windows(2)
        .any(|w| w[0].as_os_str() == ".vers" && w[1].as_os_str() == "store")
}

/// Of `points`, those to detach so that no store mount is left but the `keep` ones and what
/// lies under the `keep_under` paths: every mount at or under a store, except those kept,
/// and except mounts under another one chosen (a lazy unmount takes the whole subtree).
/// Sorted.
pub fn foreign_store_mounts(
    points: &[PathBuf],
    keep: &[&Path],
    keep_under: &[PathBuf],
) -> Vec<PathBuf> {
    let chosen: BTreeSet<&PathBuf> = points
        .iter()
        .filter(|p| in_a_store(p))
        .filter(|p| !keep.contains(&p.as_path()))
        .filter(|p| !keep_under.iter().any(|k| p.starts_with(k)))
        .collect();
    // Sorted, so a parent comes before what lies under it.
    let mut out: Vec<PathBuf> = Vec::new();
    for p in chosen {
        if !out.iter().any(|q| p.starts_with(q)) {
            out.push(p.clone());
        }
    }
    out
}

/// Detaches (lazily) every mount at or under `path` from every other mount namespace of the
/// machine that still holds one; returns how many namespaces were cleaned. Namespaces are
/// entered through a short-lived child (`setns` needs a single-threaded process).
pub fn detach_everywhere(path: &Path) -> usize {
    let own = std::fs::read_link("/proc/self/ns/mnt").ok();
    let mut seen = BTreeSet::new();
    let mut cleaned = 0;
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for entry in procs.flatten() {
        if !entry
            .file_name()
            .as_encoded_bytes()
            .iter()
            .all(u8::is_ascii_digit)
        {
            continue;
        }
        let dir = entry.path();
        let Ok(ns) = std::fs::read_link(dir.join("ns/mnt")) else {
            continue;
        };
        if Some(&ns) == own.as_ref() || !seen.insert(ns) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(dir.join("mountinfo")) else {
            continue;
        };
        let mut targets: Vec<PathBuf> = mount_points(&text)
            .into_iter()
            .filter(|p| p.starts_with(path))
            .collect();
        if targets.is_empty() {
            continue;
        }
        // Deepest first, so each detach finds its mount still attached.
        targets.sort_by(|a, b| b.cmp(a));
        targets.dedup();
        match detach_in(&dir.join("ns/mnt"), &targets) {
            Ok(()) => cleaned += 1,
            Err(e) => tracing::warn!(
                "detaching {} from the mount namespace of {}: {e}",
                path.display(),
                dir.display()
            ),
        }
    }
    cleaned
}

/// Enters the mount namespace `ns` in a child process and lazily detaches `targets` there.
fn detach_in(ns: &Path, targets: &[PathBuf]) -> std::io::Result<()> {
    let fd = std::fs::File::open(ns)?;
    let targets: Vec<std::ffi::CString> = targets
        .iter()
        .filter_map(|t| std::ffi::CString::new(t.as_os_str().as_encoded_bytes()).ok())
        .collect();
    let mut cmd = std::process::Command::new("true");
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: the closure makes only async-signal-safe system calls (setns, umount2) on a
    // descriptor and C strings made before fork.
    unsafe {
        cmd.pre_exec(move || {
            let f = std::os::fd::BorrowedFd::borrow_raw(fd.as_raw_fd());
            setns(f, CloneFlags::CLONE_NEWNS)
                .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
            for t in &targets {
                // Every mount stacked there (an environment's view over its store copy);
                // an error means none is left (a parent's detach took it).
                for _ in 0..16 {
                    if umount2(t.as_c_str(), MntFlags::MNT_DETACH).is_err() {
                        break;
                    }
                }
            }
            Ok(())
        });
    }
    let status = cmd.status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("helper ended with {status}")))
    }
}
