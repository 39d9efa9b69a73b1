//! Errors that stop the stripe-mock server from starting or serving.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why stripe-mock could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// The manifest `config` of the stripe-mock service is not valid.
    #[error("stripe-mock config: {message}")]
    Config {
        /// What is wrong, naming the key.
        message: String,
    },
    /// A file of the data directory could not be read or written.
    #[error("stripe-mock data file {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A state file of the data directory holds something that is not stripe-mock state.
    #[error("stripe-mock data file {} is corrupt: {message}", path.display())]
    Corrupt {
        /// The file concerned.
        path: PathBuf,
        /// What could not be decoded.
        message: String,
    },
    /// The self-signed certificate for the HTTPS listener could not be made or loaded.
    #[error("stripe-mock TLS certificate: {message}")]
    Tls {
        /// What went wrong.
        message: String,
    },
    /// The webhook HTTP client could not be built.
    #[error("stripe-mock webhook client: {message}")]
    Client {
        /// What went wrong.
        message: String,
    },
    /// A listening socket could not be bound.
    #[error("stripe-mock cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("stripe-mock server failed: {source}")]
    Serve {
        /// The underlying error.
        source: std::io::Error,
    },
}
