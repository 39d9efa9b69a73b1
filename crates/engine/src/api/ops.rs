//! Running one operation for a client: a worker process with the caller's environment, its
//! frames relayed as a JSON-lines stream (or one JSON answer), its events published on the
//! event feed, and, for test runs, cancellation when the client goes away.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::events::EventBus;
use super::frames::{ApiError, Frame};
use super::requests::{Op, SweepRunRequest};
use super::worker::Job;
use crate::error::EngineError;
use crate::project::Project;

/// Header carrying the caller's environment variables (base64 of a JSON object).
pub const CALLER_ENV_HEADER: &str = "x-vers-caller-env";
/// Header carrying the caller's working directory.
pub const CALLER_CWD_HEADER: &str = "x-vers-caller-cwd";
/// Header naming the manifest file when it is not the project's `vers-integration.yaml`.
pub const MANIFEST_HEADER: &str = "x-vers-manifest";
/// Media type of operation streams.
pub const NDJSON: &str = "application/x-ndjson";

/// What the daemon's API handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The project.
    pub project: Project,
    /// The event feed.
    pub bus: EventBus,
    /// The status report kept in the daemon.
    pub status: Arc<super::status_cache::StatusCache>,
    /// For a socket handed to one environment's processes: that environment's id. Requests
    /// on it act on that environment only.
    pub scope: Option<String>,
}

/// Who asks: their environment, working directory and manifest.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// Environment variables (None: the daemon's own).
    pub env: Option<BTreeMap<String, String>>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Manifest file.
    pub manifest: Option<PathBuf>,
    /// Whether the client asked for a JSON-lines stream.
    pub stream: bool,
}

impl Caller {
    /// Reads the caller headers.
    pub fn from_headers(headers: &HeaderMap) -> Result<Caller, EngineError> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let env = match text(CALLER_ENV_HEADER) {
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| EngineError::Manifest(format!("{CALLER_ENV_HEADER}: {e}")))?;
                Some(
                    serde_json::from_slice(&bytes)
                        .map_err(|e| EngineError::Manifest(format!("{CALLER_ENV_HEADER}: {e}")))?,
                )
            }
            None => None,
        };
        let stream = text(header::ACCEPT.as_str()).is_some_and(|a| a.contains(NDJSON));
        Ok(Caller {
            env,
            cwd: text(CALLER_CWD_HEADER).map(PathBuf::from),
            manifest: text(MANIFEST_HEADER).map(PathBuf::from),
            stream,
        })
    }
}

/// Encodes environment variables for [`CALLER_ENV_HEADER`].
pub fn encode_env(env: &BTreeMap<String, String>) -> String {
    let json = serde_json::to_vec(env).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(json)
}

/// An error answer: `{code, message}` with the status its code implies.
pub fn error_response(e: &EngineError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(ApiError::from(e))).into_response()
}

/// Runs `op` for the caller described by `headers` and answers it.
pub async fn run(state: &ApiState, headers: &HeaderMap, op: Op) -> Response {
    let caller = match Caller::from_headers(headers) {
        Ok(c) => c,
        Err(e) => return error_response(&e),
    };
    let stream = caller.stream;
    match start(state, caller, op).await {
        Ok(rx) if stream => stream_response(rx),
        Ok(rx) => json_response(rx).await,
        Err(e) => error_response(&e),
    }
}

/// Answers an operation the daemon ran itself, in the form the caller asked for (one JSON
/// answer, or a JSON-lines stream of one result frame).
pub async fn answer(
    headers: &HeaderMap,
    result: Result<serde_json::Value, EngineError>,
) -> Response {
    let caller = match Caller::from_headers(headers) {
        Ok(c) => c,
        Err(e) => return error_response(&e),
    };
    let frame = match result {
        Ok(value) => Frame::Result { value },
        Err(e) => Frame::Error(ApiError::from(&e)),
    };
    let (tx, rx) = mpsc::channel::<Out>(1);
    let _ = tx.send(Out::Frame(frame)).await;
    drop(tx);
    if caller.stream {
        stream_response(rx)
    } else {
        json_response(rx).await
    }
}

/// A running operation's frames, and the heartbeats that let a dead client be noticed.
enum Out {
    Frame(Frame),
    Heartbeat,
}

fn stream_response(rx: mpsc::Receiver<Out>) -> Response {
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        let out = rx.recv().await?;
        let line = match out {
            Out::Frame(f) => {
                let mut l = serde_json::to_vec(&f).unwrap_or_default();
                l.push(b'\n');
                l
            }
            Out::Heartbeat => b"\n".to_vec(),
        };
        Some((Ok::<Bytes, Infallible>(Bytes::from(line)), rx))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, NDJSON)
        .body(Body::from_stream(body))
        .unwrap_or_else(|e| error_response(&EngineError::Failed(e.to_string())))
}

async fn json_response(mut rx: mpsc::Receiver<Out>) -> Response {
    while let Some(out) = rx.recv().await {
        match out {
            Out::Frame(Frame::Result { value }) => return axum::Json(value).into_response(),
            Out::Frame(Frame::Error(e)) => return error_response(&EngineError::from(e)),
            _ => {}
        }
    }
    error_response(&EngineError::Failed(
        "the operation ended without a result; see .vers/daemon.log".into(),
    ))
}

/// Starts the worker for `op`; frames arrive on the returned channel.
async fn start(
    state: &ApiState,
    caller: Caller,
    op: Op,
) -> Result<mpsc::Receiver<Out>, EngineError> {
    let mut env = caller
        .env
        .clone()
        .unwrap_or_else(|| std::env::vars().collect());
    if let Some(scope) = &state.scope {
        if !op.allowed_in_environment() {
            return Err(EngineError::Forbidden(format!(
                "`{}` is not allowed from inside an environment; its processes may act only on their own environment (status, commit, chaos, logs, execute)",
                op.name()
            )));
        }
        env.insert("VERS_ENV".into(), scope.clone());
    }
    // A command run with `VERS_STORE_LIMIT` changes the limit of the running store.
    if let Some(limit) = env.get(vers_runtime::snapshot::growth::LIMIT_VAR) {
        if let Err(e) = vers_runtime::snapshot::growth::set_limit(&state.project.state_dir, limit) {
            tracing::warn!("{e}");
        }
    }
    let run = op.cancel_on_disconnect().then(crate::testrun::new_run_id);
    if let Some(r) = &run {
        env.insert(crate::stack::RUN_ID_VAR.into(), r.clone());
    }
    let manifest = match (&caller.manifest, &state.scope) {
        (Some(m), None) => m.clone(),
        _ => state.project.manifest_path.clone(),
    };
    let job = Job {
        project_dir: state.project.dir.clone(),
        manifest,
        run: run.clone(),
        op: op.clone(),
    };
    let cwd = caller
        .cwd
        .filter(|c| c.is_dir() && state.scope.is_none())
        .unwrap_or_else(|| state.project.dir.clone());
    let mut child = spawn_worker(&state.project, &env, &cwd)?;
    let pgid = child.id().map(|p| p as i32);
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| EngineError::Failed("worker without stdin".into()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| EngineError::Failed("worker without stdout".into()))?;
    let job_bytes = serde_json::to_vec(&job).map_err(|e| EngineError::Failed(e.to_string()))?;
    stdin
        .write_all(&job_bytes)
        .await
        .map_err(|e| EngineError::Failed(format!("starting the operation: {e}")))?;
    drop(stdin);

    let (tx, rx) = mpsc::channel::<Out>(256);
    let bus = state.bus.clone();
    let status = state.status.clone();
    let project = state.project.clone();
    let op_name = op.name();
    bus.publish_op(op_name, run.as_deref(), "started", None);
    let started = crate::state::now();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut client_gone = false;
        let mut finished: Option<Frame> = None;
        let mut beat = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                line = lines.next_line() => {
                    let Ok(Some(line)) = line else { break };
                    let Ok(frame) = serde_json::from_str::<Frame>(&line) else { continue };
                    let frame = with_store_full(frame, &project, started);
                    // Whatever the operation reports may have changed environments; a status
                    // asked after this frame reaches the client must see it.
                    status.invalidate();
                    if let Frame::Event { event, run, .. } = &frame {
                        bus.publish_event(event, run.as_deref());
                    }
                    if matches!(frame, Frame::Result { .. } | Frame::Error(_)) {
                        finished = Some(frame.clone());
                    }
                    if !client_gone && tx.send(Out::Frame(frame)).await.is_err() {
                        client_gone = true;
                    }
                }
                _ = beat.tick() => {
                    if !client_gone && tx.send(Out::Heartbeat).await.is_err() {
                        client_gone = true;
                    }
                }
            }
            if client_gone && op.cancel_on_disconnect() {
                cancel(&project, pgid, run.as_deref(), &bus).await;
                bus.publish_op(op_name, run.as_deref(), "cancelled", None);
                let _ = child.wait().await;
                return;
            }
        }
        let _ = child.wait().await;
        status.invalidate();
        let (outcome, value) = match &finished {
            Some(Frame::Result { value }) => ("finished", Some(value.clone())),
            Some(Frame::Error(e)) => ("failed", Some(serde_json::json!(e))),
            _ => ("failed", None),
        };
        bus.publish_op(op_name, run.as_deref(), outcome, value.as_ref());
        if finished.is_none() && !client_gone {
            let _ = tx
                .send(Out::Frame(Frame::Error(ApiError {
                    code: "failed".into(),
                    message: "the operation's worker died without an answer; see .vers/daemon.log"
                        .into(),
                })))
                .await;
        }
    });
    Ok(rx)
}

/// An operation's error, with the full snapshot store's message appended when the store was
/// full while it ran (so the failing command says why).
fn with_store_full(frame: Frame, project: &Project, started: u64) -> Frame {
    let Frame::Error(mut e) = frame else {
        return frame;
    };
    if let Some(rec) = crate::store_space::read_record(&project.state_dir) {
        if (rec.full || rec.last >= started) && !e.message.contains("snapshot store full") {
            e.message = format!("{}\n{}", e.message, rec.message);
        }
    }
    Frame::Error(e)
}

fn spawn_worker(
    project: &Project,
    env: &BTreeMap<String, String>,
    cwd: &std::path::Path,
) -> Result<tokio::process::Child, EngineError> {
    // The daemon's own binary, even if it was replaced on disk since (an upgrade while it
    // runs): workers always match the daemon that starts them.
    let exe = std::path::PathBuf::from("/proc/self/exe");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(project.daemon_log_path())
        .map_err(|e| EngineError::io(&project.daemon_log_path(), e))?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("__worker")
        .env_clear()
        .envs(env)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .process_group(0);
    cmd.spawn()
        .map_err(|e| EngineError::Failed(format!("starting a worker: {e}")))
}

/// Stops a cancelled test run: its worker (and every command of its process group), then the
/// branches it made.
async fn cancel(project: &Project, pgid: Option<i32>, run: Option<&str>, bus: &EventBus) {
    use nix::sys::signal::Signal;
    if let Some(pgid) = pgid {
        let _ = vers_runtime::spawn::kill_group(pgid, Signal::SIGTERM);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = vers_runtime::spawn::kill_group(pgid, Signal::SIGKILL);
    }
    let Some(run) = run else { return };
    // The sweep is a worker of its own, with the daemon's environment.
    let op = Op::SweepRun(SweepRunRequest {
        run: run.to_string(),
    });
    if run_internal(project, op).await {
        bus.publish_op("sweep_run", Some(run), "finished", None);
    }
}

/// Runs an operation of the daemon's own (a cancelled run's sweep, a warm-pool refill) in a
/// worker with the daemon's environment, and waits for it; false when no worker could start.
pub async fn run_internal(project: &Project, op: Op) -> bool {
    let job = Job {
        project_dir: project.dir.clone(),
        manifest: project.manifest_path.clone(),
        run: None,
        op,
    };
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let Ok(mut child) = spawn_worker(project, &env, &project.dir) else {
        return false;
    };
    if let (Some(mut stdin), Ok(bytes)) = (child.stdin.take(), serde_json::to_vec(&job)) {
        let _ = stdin.write_all(&bytes).await;
    }
    child.wait_with_output().await.is_ok()
}

/// `Arc` handle used by the router.
pub type Shared = Arc<ApiState>;
