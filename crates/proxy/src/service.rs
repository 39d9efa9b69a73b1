//! The proxy of one service: its accept loop, backends, faults and counters.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;

use crate::balancer::Balancer;
use crate::connection;
use crate::fault::{Fault, FaultId};
use crate::kernel::KernelLinks;
use crate::registry::FaultRegistry;
use crate::stats::{Counters, ProxyStats};
use crate::traffic::{Traffic, TrafficSnapshot};

/// Pause after an accept error caused by resource exhaustion (too many open files...).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// State shared by the proxy handle and its connections.
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) http: bool,
    pub(crate) registry: FaultRegistry,
    pub(crate) balancer: Balancer,
    pub(crate) counters: Counters,
    pub(crate) traffic: Traffic,
    /// Byte counts of the connections forwarded in the kernel.
    pub(crate) kernel: KernelLinks,
    /// Whether new fault-free connections may be forwarded in the kernel.
    pub(crate) kernel_forwarding: AtomicBool,
}

/// A fault-injecting TCP proxy and least-connections balancer in front of one service's
/// backends; cheap to clone, all clones drive the same proxy.
#[derive(Clone)]
pub struct ServiceProxy {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ServiceProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceProxy")
            .field("name", &self.shared.name)
            .field("http", &self.shared.http)
            .field("backends", &self.shared.balancer.addrs())
            .finish()
    }
}

impl ServiceProxy {
    /// Creates the proxy of service `name` forwarding to `backends`; `http` enables HTTP faults.
    pub fn new(name: impl Into<String>, backends: Vec<SocketAddr>, http: bool) -> ServiceProxy {
        let name = name.into();
        ServiceProxy {
            shared: Arc::new(Shared {
                balancer: Balancer::new(name.clone(), backends),
                name,
                http,
                registry: FaultRegistry::new(),
                counters: Counters::default(),
                traffic: Traffic::new(),
                kernel: KernelLinks::default(),
                kernel_forwarding: AtomicBool::new(crate::kernel::on_by_default()),
            }),
        }
    }

    /// The service name given at creation.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Accepts connections on `listener` and proxies each until [`ServiceProxy::stop`]; may be
    /// called for several listeners at once. Returns an error only if accepting fails for good.
    pub async fn serve(&self, listener: TcpListener) -> io::Result<()> {
        let registry = &self.shared.registry;
        let mut changes = registry.subscribe();
        loop {
            if registry.is_stopped() {
                return Ok(());
            }
            let next_expiry = registry.prune(SystemTime::now());
            let expiry_sleep = async {
                match next_expiry {
                    Some(at) => {
                        let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
                        tokio::time::sleep(wait).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        tokio::spawn(connection::handle(Arc::clone(&self.shared), stream, peer));
                    }
                    Err(err) if is_transient(&err) => {
                        tracing::warn!(service = %self.shared.name, error = %err, "accept failed, retrying");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    Err(err) => {
                        return Err(io::Error::new(
                            err.kind(),
                            format!("service {}: accepting connections failed: {err}", self.shared.name),
                        ));
                    }
                },
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
                () = expiry_sleep => {}
            }
        }
    }

    /// Replaces the backend set (replicas come and go); live connections keep their backend.
    pub fn set_backends(&self, backends: Vec<SocketAddr>) {
        self.shared.balancer.set(backends);
    }

    /// The current backend set.
    pub fn backends(&self) -> Vec<SocketAddr> {
        self.shared.balancer.addrs()
    }

    /// Attaches a fault; it applies to new connections and, where meaningful, to existing ones.
    pub fn add_fault(&self, fault: Fault) -> FaultId {
        let applies = fault.clone();
        let id = self.shared.registry.add(fault);
        self.shared.kernel.divert(|peer| applies.applies_to(peer));
        tracing::debug!(service = %self.shared.name, %id, "fault added");
        id
    }

    /// Removes one fault; returns whether it existed.
    pub fn remove_fault(&self, id: FaultId) -> bool {
        self.shared.registry.remove(id)
    }

    /// Removes every fault, restoring normal service.
    pub fn clear_faults(&self) {
        self.shared.registry.clear();
    }

    /// The faults in force (expired ones are dropped first).
    pub fn faults(&self) -> Vec<(FaultId, Fault)> {
        self.shared.registry.prune(SystemTime::now());
        self.shared.registry.snapshot().to_vec()
    }

    /// A snapshot of the traffic counters.
    pub fn stats(&self) -> ProxyStats {
        self.shared.kernel.flush(&self.shared.counters);
        self.shared.counters.snapshot()
    }

    /// What was recorded of the traffic since the proxy started or [`ServiceProxy::clear_traffic`].
    pub fn traffic(&self) -> TrafficSnapshot {
        self.shared.kernel.flush(&self.shared.counters);
        self.shared.traffic.snapshot()
    }

    /// Forgets the traffic recorded so far.
    pub fn clear_traffic(&self) {
        self.shared.traffic.clear();
    }

    /// Turns traffic recording on (the default) or off for new connections.
    pub fn set_traffic_recording(&self, on: bool) {
        self.shared.traffic.set_enabled(on);
    }

    /// Lets new fault-free connections be forwarded in the kernel (a BPF sockhash, where BPF
    /// is available; off by default unless `VERS_PROXY_SOCKMAP=1`) or keeps them in user
    /// space (`splice(2)`). Connections already open keep their path.
    pub fn set_kernel_forwarding(&self, on: bool) {
        self.shared.kernel_forwarding.store(on, Ordering::Relaxed);
    }

    /// Stops every accept loop and closes every proxied connection; final.
    pub fn stop(&self) {
        self.shared.registry.stop();
    }

    /// Whether [`ServiceProxy::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.shared.registry.is_stopped()
    }
}

fn is_transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::OutOfMemory
    ) || matches!(err.raw_os_error(), Some(code) if is_resource_exhaustion(code))
}

/// EMFILE, ENFILE, ENOBUFS and ENOMEM on Linux: the process or system is out of resources.
fn is_resource_exhaustion(code: i32) -> bool {
    matches!(code, 24 | 23 | 105 | 12)
}
