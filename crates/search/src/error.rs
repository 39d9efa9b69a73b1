//! Errors: the Elasticsearch-shaped error every request can answer with, and the errors of
//! starting the server.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

/// An error answered to a client in Elasticsearch's shape:
/// `{"error": {"root_cause": [...], "type": ..., "reason": ...}, "status": N}`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}: {reason}")]
pub struct EsError {
    /// HTTP status.
    pub status: u16,
    /// Elasticsearch's exception type, e.g. `index_not_found_exception`.
    pub kind: String,
    /// Human-readable reason.
    pub reason: String,
    /// Further fields of the error object (`index`, `resource.id`, ...).
    pub extra: Map<String, Value>,
    /// The error that caused this one, rendered as `caused_by`.
    pub caused_by: Option<Box<EsError>>,
}

impl EsError {
    /// An error of `kind` with `status` and `reason`.
    pub fn new(status: u16, kind: impl Into<String>, reason: impl Into<String>) -> Self {
        EsError {
            status,
            kind: kind.into(),
            reason: reason.into(),
            extra: Map::new(),
            caused_by: None,
        }
    }

    /// The same error with a further field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// The same error with a cause.
    pub fn caused_by(mut self, cause: EsError) -> Self {
        self.caused_by = Some(Box::new(cause));
        self
    }

    /// 400 `parsing_exception`: the request body is not what the API accepts.
    pub fn parsing(reason: impl Into<String>) -> Self {
        EsError::new(400, "parsing_exception", reason)
    }

    /// 400 `x_content_parse_exception`: the body is not valid JSON.
    pub fn bad_json(reason: impl Into<String>) -> Self {
        EsError::new(400, "x_content_parse_exception", reason)
    }

    /// 400 `illegal_argument_exception`.
    pub fn illegal_argument(reason: impl Into<String>) -> Self {
        EsError::new(400, "illegal_argument_exception", reason)
    }

    /// 400 `illegal_argument_exception` for something Elasticsearch has but this server
    /// does not implement, naming the server so nobody mistakes it for Elasticsearch.
    pub fn unsupported(what: impl AsRef<str>) -> Self {
        EsError::illegal_argument(format!(
            "{} is not supported by vers search (the built-in Elasticsearch stand-in)",
            what.as_ref()
        ))
    }

    /// 400 `mapper_parsing_exception`.
    pub fn mapper_parsing(reason: impl Into<String>) -> Self {
        EsError::new(400, "mapper_parsing_exception", reason)
    }

    /// 404 `index_not_found_exception` for `index`.
    pub fn index_not_found(index: &str) -> Self {
        EsError::new(
            404,
            "index_not_found_exception",
            format!("no such index [{index}]"),
        )
        .with("resource.type", "index_or_alias")
        .with("resource.id", index)
        .with("index_uuid", "_na_")
        .with("index", index)
    }

    /// 400 `resource_already_exists_exception` for an index that exists.
    pub fn index_exists(index: &str, uuid: &str) -> Self {
        EsError::new(
            400,
            "resource_already_exists_exception",
            format!("index [{index}/{uuid}] already exists"),
        )
        .with("index_uuid", uuid)
        .with("index", index)
    }

    /// 409 `version_conflict_engine_exception`.
    pub fn version_conflict(id: &str, detail: &str, index: &str, uuid: &str) -> Self {
        EsError::new(
            409,
            "version_conflict_engine_exception",
            format!("[{id}]: version conflict, {detail}"),
        )
        .with("index_uuid", uuid)
        .with("shard", "0")
        .with("index", index)
    }

    /// 500 for a failure of the storage underneath.
    pub fn internal(reason: impl Into<String>) -> Self {
        EsError::new(500, "exception", reason)
    }

    fn object(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("type".into(), Value::String(self.kind.clone()));
        map.insert("reason".into(), Value::String(self.reason.clone()));
        for (k, v) in &self.extra {
            map.insert(k.clone(), v.clone());
        }
        if let Some(cause) = &self.caused_by {
            map.insert("caused_by".into(), Value::Object(cause.object()));
        }
        map
    }

    /// The error object alone (as bulk items carry it).
    pub fn to_item_json(&self) -> Value {
        Value::Object(self.object())
    }

    /// The whole response body.
    pub fn to_json(&self) -> Value {
        let mut root = self.object();
        root.remove("caused_by");
        let mut error = self.object();
        error.insert("root_cause".into(), json!([Value::Object(root)]));
        json!({ "error": Value::Object(error), "status": self.status })
    }
}

impl From<tantivy::TantivyError> for EsError {
    fn from(e: tantivy::TantivyError) -> Self {
        EsError::internal(format!("search index: {e}"))
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data directory could not be read or prepared.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The failure.
        source: std::io::Error,
    },
    /// An index stored in the data directory could not be opened.
    #[error("index {name}: {reason}")]
    Index {
        /// The index name (or directory).
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The server configuration is not what the server accepts.
    #[error("config: {0}")]
    Config(String),
}
