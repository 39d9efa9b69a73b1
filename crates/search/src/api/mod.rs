//! The REST API: requests routed by method and path to the handlers of each API group, each
//! answering JSON (or `_cat` text) or an Elasticsearch-shaped error.

mod aliases;
mod bulk;
mod cat;
mod cluster;
mod documents;
mod indices;
mod router;
mod searching;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::error::{EsError, ServeError};
use crate::flavor::Flavor;
use crate::store::registry::{random_id, Registry};

/// An HTTP method the API distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
    /// Anything else.
    Other,
}

impl Method {
    /// The method of an HTTP request.
    pub fn from_http(m: &str) -> Method {
        match m {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            _ => Method::Other,
        }
    }

    /// The method's name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Other => "OTHER",
        }
    }
}

/// A request as the handlers see it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path as sent (for error messages).
    pub path: String,
    /// The path's percent-decoded segments.
    pub segments: Vec<String>,
    /// URL parameters.
    pub params: BTreeMap<String, String>,
    /// The (decompressed) body.
    pub body: Vec<u8>,
}

impl Request {
    /// The body as JSON, `None` when empty.
    pub fn json(&self) -> Result<Option<Value>, EsError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body)
            .map(Some)
            .map_err(|e| EsError::bad_json(format!("[1:1] failed to parse request body: {e}")))
    }

    /// URL parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// Whether URL parameter `key` is set to true (or present without a value).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.param(key), Some("") | Some("true"))
    }
}

/// A response body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// JSON.
    Json(Value),
    /// Plain text (`_cat`).
    Text(String),
    /// Nothing (`HEAD`).
    Empty,
}

/// A response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Body,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn ok(v: Value) -> Reply {
        Reply {
            status: 200,
            body: Body::Json(v),
        }
    }

    /// `status` with a JSON body.
    pub fn json(status: u16, v: Value) -> Reply {
        Reply {
            status,
            body: Body::Json(v),
        }
    }

    /// The reply of an error.
    pub fn error(e: &EsError) -> Reply {
        Reply::json(e.status, e.to_json())
    }
}

/// The server's state shared by all requests.
pub struct App {
    /// The indices.
    pub registry: Registry,
    /// What the server presents itself as.
    pub flavor: Flavor,
    /// `cluster_name`.
    pub cluster_name: String,
    /// The node's name.
    pub node_name: String,
    /// `cluster_uuid` (kept in the data directory).
    pub cluster_uuid: String,
    /// Open scroll contexts by id.
    pub scrolls: std::sync::Mutex<std::collections::HashMap<String, searching::Scroll>>,
}

impl App {
    /// Opens the server state in `data_dir`.
    pub fn open(
        data_dir: &Path,
        flavor: Flavor,
        cluster_name: &str,
        node_name: &str,
    ) -> Result<App, ServeError> {
        let registry = Registry::open(data_dir)?;
        let uuid_path = data_dir.join("cluster_uuid");
        let cluster_uuid = match std::fs::read_to_string(&uuid_path) {
            Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                let id = random_id(16);
                crate::store::meta::write_atomic(&uuid_path, id.as_bytes()).map_err(|source| {
                    ServeError::Io {
                        path: uuid_path.clone(),
                        source,
                    }
                })?;
                id
            }
        };
        Ok(App {
            registry,
            flavor,
            cluster_name: cluster_name.to_string(),
            node_name: node_name.to_string(),
            cluster_uuid,
            scrolls: Default::default(),
        })
    }

    /// Answers one request (blocking: run it off the async runtime).
    pub fn handle(&self, req: &Request) -> Reply {
        let reply = match router::route(self, req) {
            Ok(r) => r,
            Err(e) => Reply::error(&e),
        };
        if req.method == Method::Head {
            return Reply {
                status: reply.status,
                body: Body::Empty,
            };
        }
        reply
    }

    /// The `_shards` header of write responses.
    pub fn write_shards(&self) -> Value {
        json!({"total": 2, "successful": 1, "failed": 0})
    }
}
