//! vers-proxy: the fault-injecting TCP proxy and balancer that sits in front of every service
//! of a vers environment.
//!
//! Each service is reached at a front address where a [`ServiceProxy`] listens; it forwards
//! every connection to the least-busy live backend and applies the faults attached to it
//! (Toxiproxy's vocabulary plus HTTP error injection) so that retries, timeouts and circuit
//! breakers can be tested. With no fault attached, bytes are copied straight through.

mod balancer;
mod connection;
mod error;
mod fault;
mod http;
mod pump;
mod registry;
mod service;
mod stats;
mod view;

pub use error::ProxyError;
pub use fault::{Fault, FaultId, FaultKind};
pub use service::ServiceProxy;
pub use stats::ProxyStats;
