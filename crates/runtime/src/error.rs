//! Errors of the runtime layer: every variant names the file, command or object concerned.

use std::path::Path;

/// A Linux mechanism (namespace, process, cgroup, mount) failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// An external command (ip, useradd, mount…) could not run or failed.
    #[error("{0}")]
    Command(String),
    /// A system call failed.
    #[error("{0}")]
    Sys(String),
    /// The thing to create exists already.
    #[error("{0} already exists")]
    Exists(String),
    /// The thing to open does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// An operation did not finish in time (a cgroup that would not freeze, processes that
    /// survive SIGKILL).
    #[error("{0}")]
    Timeout(String),
}

impl RuntimeError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> RuntimeError {
        RuntimeError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Runs an external command and returns its stdout, or an error carrying its stderr.
pub(crate) fn run_command(cmd: &mut std::process::Command) -> Result<String, RuntimeError> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| RuntimeError::Command(format!("running {shown}: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(RuntimeError::Command(format!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
