//! Errors of the engine.

use std::path::Path;

/// Anything that can go wrong while running environments, checkpoints and tests.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No manifest could be found.
    #[error("{0}")]
    NoManifest(String),
    /// The manifest is invalid; the diagnostics say where.
    #[error("{0}")]
    Manifest(String),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The supervisor could not be reached or refused a request.
    #[error("supervisor: {0}")]
    Supervisor(String),
    /// A user-facing failure with a message that says what to do.
    #[error("{0}")]
    Failed(String),
    /// A lower layer failed.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl EngineError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> EngineError {
        EngineError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// Whether this error is about user input (exit code 2) rather than an operation failing.
    pub fn is_usage(&self) -> bool {
        matches!(self, EngineError::NoManifest(_) | EngineError::Manifest(_))
    }
}
