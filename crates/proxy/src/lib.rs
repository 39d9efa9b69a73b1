//! vers-proxy: the fault-injecting TCP proxy and balancer that sits in front of every service
//! of a vers environment.
//!
//! Each service is reached at a front address where a [`ServiceProxy`] listens; it forwards
//! every connection to the live backend with the fewest connections (ties rotate; a backend
//! that refuses is skipped and tried last for a second) and applies the faults attached to it
//! (Toxiproxy's vocabulary plus HTTP error injection) so that retries, timeouts and circuit
//! breakers can be tested. With kernel forwarding on (`ServiceProxy::set_kernel_forwarding`
//! or `VERS_PROXY_SOCKMAP=1`; off by default: no faster than splice here, see issue 15), a
//! connection that starts with no fault is forwarded in the kernel where BPF is available (a
//! sockhash with an `sk_skb` verdict, see `sockmap.rs`): its bytes never reach user space. A
//! fault reaching it hands it over to the copying pumps, in order and without loss, and it
//! stays there (copying with `read`/`write`) when the fault ends.
//! Elsewhere, and for recorded HTTP services, fault-free bytes are moved with `splice(2)`.
//!
//! Fault semantics, where Toxiproxy leaves a choice:
//! - `Latency`, `Slicer`, `LimitData`, `SlowClose` act on data toward the client;
//!   `Bandwidth` caps each direction separately, in kilobytes (1000 bytes) per second.
//! - `Timeout` holds data back (it is delivered if the fault ends before the close), and closes
//!   the connection `after` the fault reached it unless `after` is zero.
//! - `Down` and `Isolate` reset new connections at once and reset existing ones.
//! - `Loss` resets half of the lost connections and stalls the other half; a stalled connection
//!   proceeds normally if the loss fault ends before its client gives up.
//! - `HttpError` parses HTTP/1.1 request framing only while such a fault applies and answers
//!   the chosen requests itself; a pipelining client may see an injected answer before the
//!   answer to an earlier forwarded request.
//! - Traffic is recorded per client address (connections, bytes, and on HTTP ports requests
//!   by method and path template with status and latency), bounded, see [`TrafficSnapshot`].
//! - `from` matches the client's source IP; `until` expiry is enforced by the accept loop, which
//!   prunes the fault and wakes every connection.

mod balancer;
mod connection;
mod error;
mod fault;
mod http;
mod kernel;
mod pump;
mod registry;
mod service;
mod sockmap;
mod stats;
mod traffic;
mod view;
mod zerocopy;

pub use error::ProxyError;
pub use fault::{Fault, FaultId, FaultKind};
pub use service::ServiceProxy;
pub use stats::ProxyStats;
pub use traffic::{
    path_template, CallEvent, PeerTraffic, RequestTraffic, TrafficSnapshot, LATENCY_BOUNDS_US,
};
