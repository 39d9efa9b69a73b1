//! Errors that stop the schema registry from starting or serving.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the schema registry could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum SchemaRegistryError {
    /// The state file or its directory could not be read or written.
    #[error("schema registry state {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The state file does not hold a registry state this version can read.
    #[error("schema registry state {} is not readable: {message}; move it aside to start empty", path.display())]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The Kafka broker the registry stands beside never answered.
    #[error("the Kafka broker at {addr} did not answer an ApiVersions request within {seconds} s: {last}")]
    Broker {
        /// The broker's address.
        addr: SocketAddr,
        /// How long the registry waited.
        seconds: u64,
        /// The last failure seen.
        last: String,
    },
    /// The listening socket could not be bound.
    #[error("schema registry cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("schema registry server failed: {0}")]
    Serve(std::io::Error),
}
