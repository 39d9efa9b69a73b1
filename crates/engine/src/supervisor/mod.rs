//! The supervisor: a per-project daemon that owns every process, namespace, proxy and host
//! forward of the project's environments, reachable over a unix socket with HTTP+JSON.

pub mod access;
mod chaos;
pub mod client;
pub mod diskfill;
mod engine_reach;
mod environments;
mod forwards;
mod kafka_forward;
mod port_owner;
mod probes;
pub mod protocol;
pub mod server;
mod services;
pub mod start;
mod state;
pub mod stress;
pub mod tcp_peer;
mod traffic;
