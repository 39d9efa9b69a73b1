//! vers search: a built-in server speaking the subset of Elasticsearch's REST API that
//! applications and their tests use (indices, mappings, documents, bulk, search with the
//! query DSL and aggregations), over the tantivy search library. vers serves it as the
//! stand-in for `elasticsearch@7`, `elasticsearch@8` and `opensearch@2` where no real engine
//! is installed; it is labelled as such and is not Elasticsearch.
//!
//! State lives in the data directory: each index is a tantivy index plus a write-ahead log
//! synced before a write is acknowledged, so a crash, or a copy of the directory taken while
//! the process is frozen, keeps every acknowledged write.

pub mod analysis;
pub mod api;
pub mod dates;
pub mod error;
pub mod flavor;
pub mod mapping;
pub mod query;
pub mod search;
pub mod server;
pub mod settings;
pub mod store;

pub use error::{EsError, ServeError};
pub use flavor::Flavor;
pub use server::{serve, SearchOptions};

/// The tantivy version vers search is built with (checked against Cargo.lock by a test).
pub const TANTIVY_VERSION: &str = "0.27.0";
