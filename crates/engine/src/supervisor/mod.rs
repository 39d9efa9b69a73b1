//! The supervisor: a per-project daemon that owns every process, namespace, proxy and host
//! forward of the project's environments, reachable over a unix socket with HTTP+JSON.

pub mod access;
pub mod client;
pub mod diskfill;
pub mod protocol;
pub mod server;
pub mod start;
pub mod stress;
