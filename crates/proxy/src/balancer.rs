//! Least-connections balancing across the live backends of a service, skipping backends that
//! refuse connections.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::error::ProxyError;

/// How long a backend that refused a connection is tried only after the others.
const PENALTY: Duration = Duration::from_secs(1);
/// Upper bound for one connection attempt to a backend.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// One backend address with its live connection count.
pub(crate) struct Backend {
    addr: SocketAddr,
    active: AtomicUsize,
    /// Milliseconds since the balancer's epoch before which the backend is deprioritised.
    penalty_until_ms: AtomicU64,
}

/// Keeps a backend's active count raised while a proxied connection uses it.
pub(crate) struct BackendLease {
    backend: Arc<Backend>,
}

impl BackendLease {
    pub(crate) fn addr(&self) -> SocketAddr {
        self.backend.addr
    }
}

impl Drop for BackendLease {
    fn drop(&mut self) {
        self.backend.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The backend set of one service.
pub(crate) struct Balancer {
    service: String,
    epoch: Instant,
    backends: RwLock<Arc<Vec<Arc<Backend>>>>,
    rotation: AtomicUsize,
}

impl Balancer {
    pub(crate) fn new(service: String, addrs: Vec<SocketAddr>) -> Balancer {
        let balancer = Balancer {
            service,
            epoch: Instant::now(),
            backends: RwLock::new(Arc::new(Vec::new())),
            rotation: AtomicUsize::new(0),
        };
        balancer.set(addrs);
        balancer
    }

    /// Replaces the backend set, keeping counters of backends that stay.
    pub(crate) fn set(&self, addrs: Vec<SocketAddr>) {
        let mut guard = self
            .backends
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut next: Vec<Arc<Backend>> = Vec::with_capacity(addrs.len());
        for addr in addrs {
            if next.iter().any(|b| b.addr == addr) {
                continue;
            }
            let backend = guard
                .iter()
                .find(|b| b.addr == addr)
                .cloned()
                .unwrap_or_else(|| {
                    Arc::new(Backend {
                        addr,
                        active: AtomicUsize::new(0),
                        penalty_until_ms: AtomicU64::new(0),
                    })
                });
            next.push(backend);
        }
        *guard = Arc::new(next);
    }

    pub(crate) fn addrs(&self) -> Vec<SocketAddr> {
        let list = self.current();
        list.iter().map(|b| b.addr).collect()
    }

    fn current(&self) -> Arc<Vec<Arc<Backend>>> {
        Arc::clone(&self.backends.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Backends in the order to try: not penalised first, then fewest connections, ties rotated.
    fn candidates(&self) -> Vec<Arc<Backend>> {
        let list = self.current();
        if list.is_empty() {
            return Vec::new();
        }
        let start = self.rotation.fetch_add(1, Ordering::Relaxed) % list.len();
        let now = self.now_ms();
        let mut order: Vec<(bool, usize, usize, Arc<Backend>)> = list
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let penalised = b.penalty_until_ms.load(Ordering::Relaxed) > now;
                let rotated = (i + list.len() - start) % list.len();
                (
                    penalised,
                    b.active.load(Ordering::Relaxed),
                    rotated,
                    Arc::clone(b),
                )
            })
            .collect();
        order.sort_by_key(|(penalised, active, rotated, _)| (*penalised, *active, *rotated));
        order.into_iter().map(|(_, _, _, b)| b).collect()
    }

    /// Connects to the best live backend, trying the next one when a backend fails.
    pub(crate) async fn connect(&self) -> Result<(TcpStream, BackendLease), ProxyError> {
        let candidates = self.candidates();
        if candidates.is_empty() {
            return Err(ProxyError::NoBackends {
                service: self.service.clone(),
            });
        }
        let mut last = None;
        for backend in candidates {
            backend.active.fetch_add(1, Ordering::Relaxed);
            let lease = BackendLease {
                backend: Arc::clone(&backend),
            };
            let attempt = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend.addr));
            match attempt.await {
                Ok(Ok(stream)) => {
                    backend.penalty_until_ms.store(0, Ordering::Relaxed);
                    return Ok((stream, lease));
                }
                Ok(Err(err)) => last = Some((backend.addr, err)),
                Err(_) => {
                    let err = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "connection attempt timed out",
                    );
                    last = Some((backend.addr, err));
                }
            }
            let until = self.now_ms() + u64::try_from(PENALTY.as_millis()).unwrap_or(u64::MAX);
            backend.penalty_until_ms.store(until, Ordering::Relaxed);
            tracing::debug!(service = %self.service, backend = %backend.addr, "backend unreachable, trying the next");
        }
        let (addr, source) = last.ok_or_else(|| ProxyError::NoBackends {
            service: self.service.clone(),
        })?;
        Err(ProxyError::AllBackendsFailed {
            service: self.service.clone(),
            last: addr,
            source,
        })
    }
}
