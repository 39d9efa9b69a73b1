//! Client of the supervisor's API, and starting the supervisor when it is not running
//! (after cleaning what a crashed one left behind).

use std::path::Path;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::UnixStream;

use super::protocol::*;
use crate::error::EngineError;
use crate::project::Project;

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
        let stream = UnixStream::connect(&self.socket).await.map_err(|e| {
            EngineError::Supervisor(format!("connect {}: {e}", self.socket.display()))
        })?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| EngineError::Supervisor(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
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

    /// Thaws an environment.
    pub async fn thaw(&self, id: &str) -> Result<(), EngineError> {
        self.call::<(), Reply>(Method::POST, &format!("/v1/envs/{id}/thaw"), None)
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

    /// Asks the supervisor to stop everything and exit.
    pub async fn shutdown(&self) -> Result<(), EngineError> {
        self.call::<(), Reply>(Method::POST, "/v1/shutdown", None)
            .await
            .map(|_| ())
    }
}

/// Connects to the project's supervisor, starting it first when it is not running.
/// A supervisor that died leaves processes, namespaces and cgroups behind: they are removed
/// before the new one starts, and environments recorded as running are marked stopped.
pub async fn connect_or_start(project: &Project) -> Result<Client, EngineError> {
    let client = Client::new(&project.socket_path());
    if client.ping().await {
        return Ok(client);
    }
    crate::cleanup::clean_leftovers(project)?;
    let exe = std::env::current_exe().map_err(|e| EngineError::io(Path::new("vers"), e))?;
    std::fs::create_dir_all(&project.state_dir)
        .map_err(|e| EngineError::io(&project.state_dir, e))?;
    let log_path = project.state_dir.join("supervisor.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| EngineError::io(&log_path, e))?;
    let log2 = log.try_clone().map_err(|e| EngineError::io(&log_path, e))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("daemon")
        .arg("--project")
        .arg(&project.dir)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log2)
        .current_dir(&project.dir);
    // The supervisor must outlive this command: give it its own session.
    unsafe_setsid(&mut cmd);
    cmd.spawn()
        .map_err(|e| EngineError::Supervisor(format!("starting the supervisor: {e}")))?;
    for _ in 0..200 {
        if client.ping().await {
            return Ok(client);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
    let tail: Vec<&str> = tail.lines().rev().take(10).collect();
    Err(EngineError::Supervisor(format!(
        "the supervisor did not start within 5s; its log ({}) ends with:\n{}",
        log_path.display(),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )))
}

/// Connects to a running supervisor without starting one.
pub async fn connect_existing(project: &Project) -> Option<Client> {
    let client = Client::new(&project.socket_path());
    client.ping().await.then_some(client)
}

fn unsafe_setsid(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
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
