//! What a `build:` context is on disk: a readable directory, or precisely what else (a
//! symlink loop, a dangling symlink, a file, something unreadable, nothing), so that an
//! error says what the path is instead of "does not exist".

use std::io;
use std::path::{Path, PathBuf};

/// `ELOOP` on Linux (x86, ARM, RISC-V): too many levels of symbolic links. The standard
/// library's `ErrorKind::FilesystemLoop` is not stable.
const ELOOP: i32 = 40;

/// Why a build context cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BuildContextError {
    /// Nothing at the path.
    #[error("build context {} does not exist", .path.display())]
    Missing {
        /// The context, joined to the project directory.
        path: PathBuf,
    },
    /// A symlink that (through others) points back at itself.
    #[error("build context {} is a symlink loop", .path.display())]
    SymlinkLoop {
        /// The context.
        path: PathBuf,
    },
    /// A symlink whose target does not exist.
    #[error("build context {} is a symlink to {}, which does not exist", .path.display(), .target.display())]
    DanglingSymlink {
        /// The context.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
    /// Something other than a directory (`a file`, `a socket`…), or a path through a file.
    #[error("build context {} is {what}, not a directory", .path.display())]
    NotADirectory {
        /// The context.
        path: PathBuf,
        /// What it is instead.
        what: &'static str,
    },
    /// A directory (or path) this user may not read.
    #[error("build context {} cannot be read: {source}", .path.display())]
    Unreadable {
        /// The context.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
}

impl BuildContextError {
    /// Whether the context is simply absent (the project may not have the app yet), as
    /// opposed to present and wrong.
    pub fn is_missing(&self) -> bool {
        matches!(self, BuildContextError::Missing { .. })
    }

    /// How to fix it.
    pub fn help(&self) -> &'static str {
        match self {
            BuildContextError::Missing { .. } => "create the directory or fix the path in `build:`",
            BuildContextError::SymlinkLoop { .. } | BuildContextError::DanglingSymlink { .. } => {
                "point the symlink at the app's directory, or write that directory in `build:`"
            }
            BuildContextError::NotADirectory { .. } => {
                "`build:` names the app's directory (the one holding package.json, Cargo.toml…)"
            }
            BuildContextError::Unreadable { .. } => {
                "give the user running vers read and search permission on it"
            }
        }
    }
}

/// Checks the build context `context` of a project in `project_dir`: returns the
/// directory when it is a readable directory, else what it is.
pub fn check_build_context(
    project_dir: &Path,
    context: &Path,
) -> Result<PathBuf, BuildContextError> {
    let path = project_dir.join(context);
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => match std::fs::read_dir(&path) {
            Ok(_) => Ok(path),
            Err(source) => Err(BuildContextError::Unreadable { path, source }),
        },
        Ok(meta) => Err(BuildContextError::NotADirectory {
            path,
            what: kind(&meta.file_type()),
        }),
        Err(e) if e.raw_os_error() == Some(ELOOP) => Err(BuildContextError::SymlinkLoop { path }),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            Err(BuildContextError::NotADirectory {
                path,
                what: "a path through a file",
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&path).unwrap_or_default();
                Err(BuildContextError::DanglingSymlink { path, target })
            }
            _ => Err(BuildContextError::Missing { path }),
        },
        Err(source) => Err(BuildContextError::Unreadable { path, source }),
    }
}

fn kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_file() {
        "a file"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a directory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_the_path_is() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("app")).unwrap();
        std::fs::write(d.join("file"), "x").unwrap();
        std::os::unix::fs::symlink("loop-b", d.join("loop-a")).unwrap();
        std::os::unix::fs::symlink("loop-a", d.join("loop-b")).unwrap();
        std::os::unix::fs::symlink("gone", d.join("dangling")).unwrap();
        std::os::unix::fs::symlink("app", d.join("to-app")).unwrap();
        assert_eq!(
            check_build_context(d, Path::new("app")).unwrap(),
            d.join("app")
        );
        assert_eq!(
            check_build_context(d, Path::new("to-app")).unwrap(),
            d.join("to-app")
        );
        let msg = |c: &str| {
            check_build_context(d, Path::new(c))
                .unwrap_err()
                .to_string()
        };
        assert!(
            msg("loop-a").ends_with("loop-a is a symlink loop"),
            "{}",
            msg("loop-a")
        );
        assert!(msg("dangling").ends_with("dangling is a symlink to gone, which does not exist"));
        assert!(msg("file").ends_with("file is a file, not a directory"));
        assert!(msg("file/sub").ends_with("is a path through a file, not a directory"));
        assert!(msg("nope").ends_with("nope does not exist"));
        assert!(check_build_context(d, Path::new("nope"))
            .unwrap_err()
            .is_missing());
        assert!(!check_build_context(d, Path::new("file"))
            .unwrap_err()
            .is_missing());
    }
}
