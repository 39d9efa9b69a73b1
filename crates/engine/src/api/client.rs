//! A client of the engine API, for the CLI and `vers mcp`: connects to (or starts) the
//! project's daemon, sends the caller's environment, working directory and manifest along, and
//! turns an operation's stream back into progress events and a result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
pub use hyper::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::frames::{ApiError, Frame};
use super::ops::{encode_env, CALLER_CWD_HEADER, CALLER_ENV_HEADER, MANIFEST_HEADER, NDJSON};
use crate::error::EngineError;
use crate::progress::Progress;
use crate::project::Project;

/// A connection factory for one project's engine API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    socket: PathBuf,
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
    manifest: PathBuf,
}

impl ApiClient {
    /// Connects to the daemon of `project`, starting it when it is not running. The caller's
    /// environment and working directory travel with every request.
    pub async fn connect(project: &Project) -> Result<ApiClient, EngineError> {
        crate::supervisor::client::connect_or_start(project).await?;
        Ok(ApiClient {
            socket: project.socket_path(),
            env: std::env::vars().collect(),
            cwd: std::env::current_dir().ok(),
            manifest: project.manifest_path.clone(),
        })
    }

    /// Replaces the environment sent as the caller's.
    pub fn with_env(mut self, env: BTreeMap<String, String>) -> ApiClient {
        self.env = env;
        self
    }

    /// Calls `path`, streaming: events go to `progress`; the result is returned, or the
    /// operation's error with its code.
    pub async fn call<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        progress: &dyn Progress,
    ) -> Result<Value, EngineError> {
        let mut resp = self.send(method, path, body, true).await?;
        let status = resp.status();
        if !status.is_success() {
            let bytes = collect(resp.into_body()).await?;
            return Err(error_of(&bytes, status.as_u16()));
        }
        let mut pending: Vec<u8> = Vec::new();
        let mut result: Option<Result<Value, EngineError>> = None;
        loop {
            let Some(frame) = resp.body_mut().frame().await else {
                break;
            };
            let frame = frame.map_err(|e| EngineError::Supervisor(format!("{path}: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            pending.extend_from_slice(&data);
            while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=nl).collect();
                let line = &line[..line.len() - 1];
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match serde_json::from_slice::<Frame>(line) {
                    Ok(Frame::Event { event, .. }) => progress.event(event),
                    Ok(Frame::Result { value }) => result = Some(Ok(value)),
                    Ok(Frame::Error(e)) => result = Some(Err(EngineError::from(e))),
                    Err(_) => {}
                }
            }
        }
        result.unwrap_or_else(|| {
            Err(EngineError::Supervisor(format!(
                "{path}: the daemon closed the stream without an answer; see .vers/daemon.log"
            )))
        })
    }

    /// Like [`ApiClient::call`], decoding the result into `R`.
    pub async fn call_as<B: Serialize, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        progress: &dyn Progress,
    ) -> Result<R, EngineError> {
        let v = self.call(method, path, body, progress).await?;
        serde_json::from_value(v)
            .map_err(|e| EngineError::Supervisor(format!("decoding the answer of {path}: {e}")))
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        stream: bool,
    ) -> Result<hyper::Response<hyper::body::Incoming>, EngineError> {
        let mut sender = crate::supervisor::client::connect_http1(&self.socket).await?;
        let bytes = match body {
            Some(b) => serde_json::to_vec(b)
                .map_err(|e| EngineError::Supervisor(format!("encoding the request: {e}")))?,
            None => Vec::new(),
        };
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "vers")
            .header("content-type", "application/json")
            .header(CALLER_ENV_HEADER, encode_env(&self.env))
            .header(MANIFEST_HEADER, self.manifest.to_string_lossy().as_ref());
        if stream {
            req = req.header("accept", NDJSON);
        }
        if let Some(cwd) = &self.cwd {
            req = req.header(CALLER_CWD_HEADER, cwd.to_string_lossy().as_ref());
        }
        let req = req
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| EngineError::Supervisor(e.to_string()))?;
        sender
            .send_request(req)
            .await
            .map_err(|e| EngineError::Supervisor(format!("{path}: {e}")))
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

/// The path of `GET /api/db/{what}` (`counts`, `schema`) for a service and database.
pub fn db_path(what: &str, service: Option<&str>, database: Option<&str>) -> String {
    let mut path = format!("/api/db/{what}");
    let mut sep = '?';
    for (k, v) in [("service", service), ("database", database)] {
        if let Some(v) = v {
            let v = percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC);
            path.push_str(&format!("{sep}{k}={v}"));
            sep = '&';
        }
    }
    path
}

async fn collect(body: hyper::body::Incoming) -> Result<Bytes, EngineError> {
    Ok(body
        .collect()
        .await
        .map_err(|e| EngineError::Supervisor(e.to_string()))?
        .to_bytes())
}

fn error_of(body: &[u8], status: u16) -> EngineError {
    match serde_json::from_slice::<ApiError>(body) {
        Ok(e) => EngineError::from(e),
        Err(_) => {
            EngineError::Supervisor(format!("HTTP {status}: {}", String::from_utf8_lossy(body)))
        }
    }
}
