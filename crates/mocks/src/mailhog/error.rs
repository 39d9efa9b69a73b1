//! Errors of the mailhog server.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why mailhog could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum MailhogError {
    /// The manifest `config` of the mailhog service is not valid.
    #[error("mailhog config: {message}")]
    Config {
        /// What is wrong, naming the key.
        message: String,
    },
    /// A message file or the message directory could not be read or written.
    #[error("mailhog message store {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A listening socket could not be bound.
    #[error("mailhog cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// Which server: `smtp` or `api`.
        what: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A server stopped with an error.
    #[error("mailhog {what} server failed: {source}")]
    Serve {
        /// Which server: `smtp` or `api`.
        what: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
}
