//! schema-registry: a Confluent-compatible Schema Registry (its REST API, error codes and
//! compatibility levels) served beside a Kafka broker, keeping subjects, versions, schemas and
//! levels in a file of the broker's data directory so checkpoints and branches capture them.
//!
//! What differs from Confluent's: schemas are not kept in a `_schemas` topic; compatibility is
//! checked for AVRO only (JSON and PROTOBUF versions that differ need compatibility NONE; see
//! `compat`); PROTOBUF schemas are stored as given, not parsed; no data contracts
//! (`metadata`, `ruleSet`), no modes other than READWRITE, no contexts other than the default.

mod api;
mod api_error;
mod broker;
mod compat;
mod error;
mod registry;
mod schema;
mod store;
mod types;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use error::SchemaRegistryError;
pub use store::STATE_FILE;

/// How to run the registry: where it listens, where it keeps its state, and the broker it
/// waits for before serving.
#[derive(Debug, Clone)]
pub struct SchemaRegistryOptions {
    /// Address to listen on.
    pub listen: IpAddr,
    /// Port (Confluent's default is 8081).
    pub port: u16,
    /// Directory holding the state file (the kafka service's data directory).
    pub data_dir: PathBuf,
    /// The Kafka broker to wait for before listening, if any.
    pub kafka: Option<SocketAddr>,
}

/// Loads the state, waits for the broker (when one is named), then serves until the server
/// fails.
pub async fn serve(opts: SchemaRegistryOptions) -> Result<(), SchemaRegistryError> {
    let store = open(&opts).await?;
    if let Some(kafka) = opts.kafka {
        broker::wait_for(kafka).await;
    }
    let addr = SocketAddr::new(opts.listen, opts.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SchemaRegistryError::Bind { addr, source })?;
    run(listener, store).await
}

/// Serves on an already bound listener (`opts.port` and `opts.kafka` are ignored).
pub async fn serve_on(
    listener: TcpListener,
    opts: SchemaRegistryOptions,
) -> Result<(), SchemaRegistryError> {
    let store = open(&opts).await?;
    run(listener, store).await
}

async fn open(opts: &SchemaRegistryOptions) -> Result<Arc<store::Store>, SchemaRegistryError> {
    let dir = opts.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || store::Store::open(&dir))
        .await
        .map_err(|e| SchemaRegistryError::Io {
            path: opts.data_dir.clone(),
            source: std::io::Error::other(e.to_string()),
        })??;
    Ok(Arc::new(store))
}

async fn run(listener: TcpListener, store: Arc<store::Store>) -> Result<(), SchemaRegistryError> {
    axum::serve(listener, api::router(store))
        .await
        .map_err(SchemaRegistryError::Serve)
}
