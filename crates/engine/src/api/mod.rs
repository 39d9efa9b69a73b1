//! The engine API: every operation of vers as a typed request, served by the project's daemon
//! over HTTP+JSON on its unix socket. The daemon runs each operation in a worker process that
//! carries the caller's environment; progress streams back as JSON lines and onto the event
//! feed. The CLI and `vers mcp` are clients of it.

pub mod client;
pub mod events;
pub mod extract;
pub mod facade;
pub mod frames;
pub mod ops;
pub mod requests;
pub mod routes;
pub mod status_cache;
pub mod worker;
