//! Errors of snapshot operations.

use std::path::Path;

/// A snapshot store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A btrfs ioctl or mount call failed.
    #[error("{op} {path}: {source}")]
    Sys {
        /// What was attempted.
        op: &'static str,
        /// The path concerned.
        path: String,
        /// The OS error.
        source: nix::Error,
    },
    /// An external command (cp, mkfs.btrfs, mount…) failed.
    #[error(transparent)]
    Runtime(#[from] crate::RuntimeError),
    /// The named checkpoint or volume does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// The named checkpoint or volume exists already.
    #[error("{0} already exists")]
    Exists(String),
    /// A checkpoint is still the base of overlay volumes.
    #[error("{0}")]
    InUse(String),
    /// A bad id or snapshotter name.
    #[error("{0}")]
    Invalid(String),
    /// The store was made by another snapshotter and still holds data.
    #[error("{0}")]
    KindMismatch(String),
    /// No usable snapshotter (or the requested one is unavailable here).
    #[error("{0}")]
    Unavailable(String),
}

impl SnapshotError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> SnapshotError {
        SnapshotError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// A failed system call on `path`.
    pub(crate) fn sys(op: &'static str, path: &Path, source: nix::Error) -> SnapshotError {
        SnapshotError::Sys {
            op,
            path: path.display().to_string(),
            source,
        }
    }
}
