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
    /// The environment, checkpoint or route asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (e.g. a process of one environment acting on another).
    #[error("{0}")]
    Forbidden(String),
    /// The operation was cancelled (its client went away).
    #[error("{0}")]
    Cancelled(String),
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

    /// The API's error code: `usage` (bad input or manifest), `not_found`, `forbidden`,
    /// `cancelled`, `daemon` (the daemon could not be reached) or `failed`.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::NoManifest(_) | EngineError::Manifest(_) => "usage",
            EngineError::NotFound(_) => "not_found",
            EngineError::Forbidden(_) => "forbidden",
            EngineError::Cancelled(_) => "cancelled",
            EngineError::Supervisor(_) => "daemon",
            EngineError::Io { .. } | EngineError::Failed(_) | EngineError::Other(_) => "failed",
        }
    }

    /// The error an API `{code, message}` stands for.
    pub fn from_code(code: &str, message: String) -> EngineError {
        match code {
            "usage" => EngineError::Manifest(message),
            "not_found" => EngineError::NotFound(message),
            "forbidden" => EngineError::Forbidden(message),
            "cancelled" => EngineError::Cancelled(message),
            // The message is the error's whole text, prefix included: keep it once.
            "daemon" => EngineError::Supervisor(match message.strip_prefix("supervisor: ") {
                Some(rest) => rest.to_string(),
                None => message,
            }),
            _ => EngineError::Failed(message),
        }
    }

    /// The HTTP status the API answers this error with.
    pub fn http_status(&self) -> u16 {
        match self.code() {
            "usage" => 400,
            "not_found" => 404,
            "forbidden" => 403,
            "cancelled" => 499,
            "daemon" => 503,
            _ => 500,
        }
    }
}

/// Reaches failpoint `name` (see [`vers_runtime::failpoint`]): the process dies there when a
/// test set it to `kill`; `error` makes the step fail. Nothing without the `failpoints`
/// feature.
pub fn failpoint(name: &str) -> Result<(), EngineError> {
    if vers_runtime::failpoint::hit(name) {
        return Err(EngineError::Failed(format!("failpoint {name}")));
    }
    Ok(())
}
