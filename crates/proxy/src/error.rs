//! Errors of the proxy, naming the service they concern.

use std::net::SocketAddr;

/// Why the proxy could not forward a connection.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The service currently has no backend at all.
    #[error("service {service}: no backend to forward to")]
    NoBackends {
        /// The service name.
        service: String,
    },
    /// Every backend refused or timed out; `last` is the last one tried.
    #[error("service {service}: no backend reachable (last tried {last})")]
    AllBackendsFailed {
        /// The service name.
        service: String,
        /// The last backend address tried.
        last: SocketAddr,
        /// The error from that backend.
        #[source]
        source: std::io::Error,
    },
}
