//! Errors of the oauth-mock server.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why oauth-mock could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum OauthError {
    /// The manifest `config` of the oauth-mock service is not valid.
    #[error("oauth-mock config: {message}")]
    Config {
        /// What is wrong, naming the key.
        message: String,
    },
    /// A file of the data directory could not be read or written.
    #[error("oauth-mock data file {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The stored signing key could not be used or a new one could not be generated.
    #[error("oauth-mock signing key {}: {message}", path.display())]
    Key {
        /// The key file concerned.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The listening socket could not be bound.
    #[error("oauth-mock cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("oauth-mock server failed: {source}")]
    Serve {
        /// The underlying error.
        source: std::io::Error,
    },
}
