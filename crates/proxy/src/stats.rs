//! Traffic counters of one proxy.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// A snapshot of a proxy's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyStats {
    /// Client connections accepted since the proxy was created.
    pub connections_total: u64,
    /// Client connections currently open.
    pub connections_active: u64,
    /// Connections closed at once by a fault (down, isolate, loss) or for want of a backend.
    pub connections_rejected: u64,
    /// Bytes forwarded from clients to backends.
    pub bytes_to_backend: u64,
    /// Bytes forwarded from backends to clients.
    pub bytes_to_client: u64,
    /// HTTP requests answered by an injected error instead of the service.
    pub http_errors_injected: u64,
}

/// Live counters, updated with relaxed atomics on the data path.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) connections_total: AtomicU64,
    pub(crate) connections_active: AtomicU64,
    pub(crate) connections_rejected: AtomicU64,
    pub(crate) bytes_to_backend: AtomicU64,
    pub(crate) bytes_to_client: AtomicU64,
    pub(crate) http_errors_injected: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ProxyStats {
        ProxyStats {
            connections_total: self.connections_total.load(Ordering::Relaxed),
            connections_active: self.connections_active.load(Ordering::Relaxed),
            connections_rejected: self.connections_rejected.load(Ordering::Relaxed),
            bytes_to_backend: self.bytes_to_backend.load(Ordering::Relaxed),
            bytes_to_client: self.bytes_to_client.load(Ordering::Relaxed),
            http_errors_injected: self.http_errors_injected.load(Ordering::Relaxed),
        }
    }
}

/// Counts a connection as active for as long as it lives.
pub(crate) struct ActiveGuard<'a> {
    counters: &'a Counters,
}

impl<'a> ActiveGuard<'a> {
    pub(crate) fn new(counters: &'a Counters) -> ActiveGuard<'a> {
        counters.connections_total.fetch_add(1, Ordering::Relaxed);
        counters.connections_active.fetch_add(1, Ordering::Relaxed);
        ActiveGuard { counters }
    }
}

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.counters
            .connections_active
            .fetch_sub(1, Ordering::Relaxed);
    }
}
