//! Client of the supervisor's API, and starting the supervisor when it is not running
//! (after cleaning what a crashed one left behind).

use std::path::Path;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::UnixStream;

use super::protocol::*;
use crate::error::EngineError;
use crate::project::Project;

/// An HTTP/1.1 connection to the daemon's unix socket at `socket`, driven in the background.
pub async fn connect_http1(
    socket: &Path,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, EngineError> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| EngineError::Supervisor(format!("connect {}: {e}", socket.display())))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| EngineError::Supervisor(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// A connection factory for one project's supervisor.
#[derive(Debug, Clone)]
pub struct Client {
    socket: std::path::PathBuf,
}

impl Client {
    /// A client for the supervisor listening on `socket`.
    pub fn new(socket: &Path) -> Client {
        Client {
            socket: socket.to_path_buf(),
        }
    }

    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<R, EngineError> {
        let mut sender = connect_http1(&self.socket).await?;
        let bytes = match body {
            Some(b) => serde_json::to_vec(b)
                .map_err(|e| EngineError::Supervisor(format!("encoding request: {e}")))?,
            None => Vec::new(),
        };
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "vers")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| EngineError::Supervisor(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| EngineError::Supervisor(format!("{path}: {e}")))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| EngineError::Supervisor(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            let msg = serde_json::from_slice::<Reply>(&body)
                .ok()
                .and_then(|r| r.error)
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(EngineError::Supervisor(msg));
        }
        serde_json::from_slice(&body)
            .map_err(|e| EngineError::Supervisor(format!("decoding answer of {path}: {e}")))
    }

    /// Whether the supervisor answers.
    pub async fn ping(&self) -> bool {
        self.call::<(), serde_json::Value>(Method::GET, "/v1/ping", None)
            .await
            .is_ok()
    }

    /// Every environment the supervisor owns.
    pub async fn envs(&self) -> Result<Vec<EnvState>, EngineError> {
        self.call::<(), _>(Method::GET, "/v1/envs", None).await
    }

    /// Creates an environment.
    pub async fn create_env(&self, spec: &EnvSpec) -> Result<EnvState, EngineError> {
        self.call(Method::POST, "/v1/envs", Some(spec)).await
    }

    /// Stops and removes an environment.
    pub async fn delete_env(&self, id: &str) -> Result<(), EngineError> {
        self.call::<(), Reply>(Method::DELETE, &format!("/v1/envs/{id}"), None)
            .await
            .map(|_| ())
    }

    /// Freezes every process of an environment.
    pub async fn freeze(&self, id: &str) -> Result<(), EngineError> {
        self.call::<(), Reply>(Method::POST, &format!("/v1/envs/{id}/freeze"), None)
            .await
            .map(|_| ())
    }

    /// Freezes an environment, snapshots its volume as checkpoint `checkpoint` and thaws
    /// it: one daemon operation, finished even if this caller goes away midway.
    pub async fn snapshot(&self, id: &str, checkpoint: &str) -> Result<(), EngineError> {
        self.call::<SnapshotRequest, Reply>(
            Method::POST,
            &format!("/v1/envs/{id}/snapshot"),
            Some(&SnapshotRequest {
                checkpoint: checkpoint.to_string(),
            }),
        )
        .await
        .map(|_| ())
    }

    /// The traffic every proxy of an environment recorded.
    pub async fn traffic(&self, id: &str) -> Result<Vec<ProxyTraffic>, EngineError> {
        self.call::<(), _>(Method::GET, &format!("/v1/envs/{id}/traffic"), None)
            .await
    }

    /// Forgets the traffic every proxy of an environment recorded so far.
    pub async fn clear_traffic(&self, id: &str) -> Result<(), EngineError> {
        self.call::<(), Reply>(Method::DELETE, &format!("/v1/envs/{id}/traffic"), None)
            .await
            .map(|_| ())
    }

    /// Thaws an environment.
    pub async fn thaw(&self, id: &str) -> Result<(), EngineError> {
        self.call::<(), Reply>(Method::POST, &format!("/v1/envs/{id}/thaw"), None)
            .await
            .map(|_| ())
    }

    /// Moves fixed host ports to environment `id` from whichever holds them.
    pub async fn take_host_ports(
        &self,
        id: &str,
        ports: Vec<TakenPort>,
    ) -> Result<(), EngineError> {
        self.call::<TakeHostPorts, Reply>(
            Method::POST,
            &format!("/v1/envs/{id}/host-ports"),
            Some(&TakeHostPorts { ports }),
        )
        .await
        .map(|_| ())
    }

    /// Starts a service in an environment.
    pub async fn start_service(
        &self,
        id: &str,
        spec: &ServiceSpec,
    ) -> Result<ServiceStatus, EngineError> {
        self.call(Method::POST, &format!("/v1/envs/{id}/services"), Some(spec))
            .await
    }

    /// Runs an action (`stop`, `restart`, `pause`, `resume`) on a service.
    pub async fn service_action(
        &self,
        id: &str,
        service: &str,
        action: &str,
    ) -> Result<ServiceStatus, EngineError> {
        self.call::<(), _>(
            Method::POST,
            &format!("/v1/envs/{id}/services/{service}/{action}"),
            None,
        )
        .await
    }

    /// Adds a fault to a service's proxy.
    pub async fn add_fault(
        &self,
        id: &str,
        service: &str,
        fault: &vers_proxy::Fault,
    ) -> Result<FaultInfo, EngineError> {
        self.call(
            Method::POST,
            &format!("/v1/envs/{id}/services/{service}/faults"),
            Some(&FaultRequest {
                fault: fault.clone(),
            }),
        )
        .await
    }

    /// Removes every fault of a service.
    pub async fn clear_faults(
        &self,
        id: &str,
        service: &str,
    ) -> Result<ServiceStatus, EngineError> {
        self.call::<(), _>(
            Method::DELETE,
            &format!("/v1/envs/{id}/services/{service}/faults"),
            None,
        )
        .await
    }

    /// Runs a health probe inside an environment.
    pub async fn probe(&self, id: &str, req: &ProbeRequest) -> Result<ProbeResult, EngineError> {
        self.call(Method::POST, &format!("/v1/envs/{id}/probe"), Some(req))
            .await
    }

    /// Asks the supervisor to refill the warm pools in the background.
    pub async fn kick_pools(&self) -> Result<(), EngineError> {
        self.call::<(), Reply>(Method::POST, "/v1/pools/kick", None)
            .await
            .map(|_| ())
    }

    /// Asks the supervisor to stop everything and exit.
    pub async fn shutdown(&self) -> Result<(), EngineError> {
        self.call::<(), Reply>(Method::POST, "/v1/shutdown", None)
            .await
            .map(|_| ())
    }
}

/// Connects to the project's supervisor, starting it first when it is not running.
/// Concurrent callers start exactly one (see [`super::start`]); a daemon that died leaves
/// processes, namespaces and cgroups behind, and its successor removes them before it answers.
pub async fn connect_or_start(project: &Project) -> Result<Client, EngineError> {
    let client = Client::new(&project.socket_path());
    if client.ping().await {
        return Ok(client);
    }
    super::start::start_daemon(project, &client).await?;
    Ok(client)
}

/// Connects to a running supervisor without starting one.
pub async fn connect_existing(project: &Project) -> Option<Client> {
    let client = Client::new(&project.socket_path());
    client.ping().await.then_some(client)
}

impl Client {
    /// Injects a process-level fault into a service.
    pub async fn chaos(
        &self,
        id: &str,
        service: &str,
        req: &ChaosRequest,
    ) -> Result<ServiceStatus, EngineError> {
        self.call(
            Method::POST,
            &format!("/v1/envs/{id}/services/{service}/chaos"),
            Some(req),
        )
        .await
    }

    /// Ends faults (of one service or all) and restarts killed services; returns the services touched.
    pub async fn recover(
        &self,
        id: &str,
        service: Option<&str>,
    ) -> Result<Vec<String>, EngineError> {
        self.call(
            Method::POST,
            &format!("/v1/envs/{id}/recover"),
            Some(&RecoverRequest {
                service: service.map(str::to_string),
            }),
        )
        .await
    }
}
