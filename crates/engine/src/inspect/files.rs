//! Changed paths between two copies of a data directory: added, removed and modified files
//! (and symlinks). Files with the same size and modification time are the same; with the
//! same size and another time their bytes decide, so a file rewritten with equal content does
//! not count as modified.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::EngineError;

pub use super::Change;

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// Path relative to the data directory.
    pub path: String,
    /// How it changed.
    pub change: Change,
    /// Size on the older side.
    pub size_from: Option<u64>,
    /// Size on the newer side.
    pub size_to: Option<u64>,
}

/// What the scan keeps of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    size: u64,
    mtime_ns: i128,
    link: Option<PathBuf>,
}

/// Every file and symlink under `root` by relative path (a missing root is empty). Paths
/// that vanish during the scan (a running server's temporary files) are skipped.
fn scan(root: &Path) -> Result<BTreeMap<String, Entry>, EngineError> {
    let mut out = BTreeMap::new();
    if !root.exists() {
        return Ok(out);
    }
    for item in walkdir::WalkDir::new(root).follow_links(false) {
        let item = match item {
            Ok(i) => i,
            Err(e) if e.io_error().map(|io| io.kind()) == Some(std::io::ErrorKind::NotFound) => {
                continue
            }
            Err(e) => {
                return Err(EngineError::Failed(format!(
                    "reading {}: {e}",
                    root.display()
                )))
            }
        };
        let ft = item.file_type();
        if ft.is_dir() {
            continue;
        }
        let meta = match item.metadata() {
            Ok(m) => m,
            Err(_) => continue,
        };
        let rel = item
            .path()
            .strip_prefix(root)
            .unwrap_or(item.path())
            .to_string_lossy()
            .into_owned();
        let link = if ft.is_symlink() {
            std::fs::read_link(item.path()).ok()
        } else {
            None
        };
        out.insert(
            rel,
            Entry {
                size: meta.len(),
                mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
                link,
            },
        );
    }
    Ok(out)
}

/// Whether two files hold the same bytes (unreadable files count as different).
fn same_bytes(a: &Path, b: &Path) -> bool {
    let (Ok(mut fa), Ok(mut fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let mut ba = vec![0u8; 64 * 1024];
    let mut bb = vec![0u8; 64 * 1024];
    loop {
        let na = match read_full(&mut fa, &mut ba) {
            Ok(n) => n,
            Err(_) => return false,
        };
        let nb = match read_full(&mut fb, &mut bb) {
            Ok(n) => n,
            Err(_) => return false,
        };
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The changes from directory `from` to directory `to`, sorted by path.
pub fn compare(from: &Path, to: &Path) -> Result<Vec<FileChange>, EngineError> {
    let a = scan(from)?;
    let b = scan(to)?;
    let mut out = Vec::new();
    for (path, ea) in &a {
        match b.get(path) {
            None => out.push(FileChange {
                path: path.clone(),
                change: Change::Removed,
                size_from: Some(ea.size),
                size_to: None,
            }),
            Some(eb) => {
                let same = if ea.link.is_some() || eb.link.is_some() {
                    ea.link == eb.link
                } else {
                    ea.size == eb.size
                        && (ea.mtime_ns == eb.mtime_ns
                            || same_bytes(&from.join(path), &to.join(path)))
                };
                if !same {
                    out.push(FileChange {
                        path: path.clone(),
                        change: Change::Modified,
                        size_from: Some(ea.size),
                        size_to: Some(eb.size),
                    });
                }
            }
        }
    }
    for (path, eb) in &b {
        if !a.contains_key(path) {
            out.push(FileChange {
                path: path.clone(),
                change: Change::Added,
                size_from: None,
                size_to: Some(eb.size),
            });
        }
    }
    out.sort_by(|x, y| x.path.cmp(&y.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_removed_and_modified_files_are_found() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        for d in [&a, &b] {
            std::fs::create_dir_all(d.join("sub")).unwrap();
            std::fs::write(d.join("same.txt"), "same").unwrap();
            std::fs::write(d.join("sub/edit.txt"), "one").unwrap();
        }
        std::fs::write(b.join("sub/edit.txt"), "two").unwrap();
        // Timestamps are coarse: set them apart as a later write would.
        let earlier = |p: &Path, secs: u64| {
            let f = std::fs::File::options().write(true).open(p).unwrap();
            f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(secs))
                .unwrap();
        };
        earlier(&b.join("sub/edit.txt"), 10);
        earlier(&b.join("same.txt"), 20);
        std::fs::write(a.join("gone.txt"), "x").unwrap();
        std::fs::write(b.join("new.txt"), "xyz").unwrap();
        let changes = compare(&a, &b).unwrap();
        let summary: Vec<(&str, Change)> = changes
            .iter()
            .map(|c| (c.path.as_str(), c.change))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("gone.txt", Change::Removed),
                ("new.txt", Change::Added),
                ("sub/edit.txt", Change::Modified),
            ],
            "same.txt has the same bytes though its time differs"
        );
        assert_eq!(changes[1].size_to, Some(3));
    }

    #[test]
    fn a_missing_side_is_empty() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), "1").unwrap();
        let changes = compare(&t.path().join("nope"), t.path()).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].change, Change::Added);
    }
}
