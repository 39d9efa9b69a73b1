//! The web dashboard (`vers dashboard`): a page on 127.0.0.1 showing the checkpoint tree and
//! the selected environment's services, kept live from the event feed. The daemon hosts it
//! for its whole life, behind a random token that every page and API call must carry; the
//! engine API is served under the same token, so the page is a thin client of it: its
//! actions are calls of the API with the token in an `Authorization` header. Like the host
//! forwards, it accepts TCP connections from root and the project's owner only.

mod auth;
mod logs;
pub mod render;
pub mod runs;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::api::extract::{method_not_allowed, Body, Path, Query};
use crate::api::ops::{error_response, ApiState};
use crate::api::requests::{Op, TestRequest};
use crate::error::EngineError;

/// The running dashboard of a daemon, if one was asked for.
#[derive(Default)]
pub struct DashboardSlot {
    running: Mutex<Option<Running>>,
}

struct Running {
    url: String,
}

impl DashboardSlot {
    /// The dashboard's URL, starting it on 127.0.0.1:`port` (any free port when `None`) the
    /// first time; later calls answer the same URL whatever port they ask for.
    pub async fn ensure(
        &self,
        api: Arc<ApiState>,
        port: Option<u16>,
    ) -> Result<String, EngineError> {
        let mut running = self.running.lock().await;
        if let Some(r) = running.as_ref() {
            return Ok(r.url.clone());
        }
        let token = auth::new_token()?;
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port.unwrap_or(0)))
            .await
            .map_err(|e| {
                EngineError::Failed(format!(
                    "binding the dashboard to 127.0.0.1:{}: {e}",
                    port.unwrap_or(0)
                ))
            })?;
        let addr: SocketAddr = listener
            .local_addr()
            .map_err(|e| EngineError::Failed(format!("the dashboard's address: {e}")))?;
        let url = format!("http://{addr}/?token={token}");
        let runs = Arc::new(runs::Runs::default());
        follow_runs(&api, runs.clone());
        let listener = crate::supervisor::access::OwnerOnlyTcp::new(
            listener,
            crate::supervisor::access::allowed_uids(&api.project),
            "the dashboard".into(),
        );
        let app = router(api, runs, token);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("the dashboard stopped: {e}");
            }
        });
        *running = Some(Running { url: url.clone() });
        Ok(url)
    }
}

/// Keeps `runs` up to date from the event feed for as long as the daemon lives.
fn follow_runs(api: &ApiState, runs: Arc<runs::Runs>) {
    let mut rx = api.bus.subscribe();
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(record) => {
                    runs.apply(&record);
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// What the dashboard's own handlers share.
#[derive(Clone)]
struct Dash {
    api: Arc<ApiState>,
    runs: Arc<runs::Runs>,
}

/// The dashboard's routes: the page, its live fragments and the engine API, all behind
/// `token`.
fn router(api: Arc<ApiState>, runs: Arc<runs::Runs>, token: String) -> Router {
    let status = api.status.clone();
    let pages = Router::new()
        .route("/", get(page))
        .route("/ui/view", get(view))
        .route("/ui/logs", get(service_logs))
        .route("/ui/runs/{id}/junit.xml", get(junit))
        .route("/ui/test", post(start_test))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Dash {
            api: api.clone(),
            runs,
        });
    pages
        .merge(crate::api::routes::router(api))
        .layer(axum::middleware::from_fn_with_state(
            status,
            crate::api::status_cache::stale_on_change,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(token),
            auth::require_token,
        ))
}

/// Which environment the page shows (default: HEAD).
#[derive(Debug, Default, Deserialize)]
struct ViewQuery {
    #[serde(default)]
    env: Option<String>,
}

/// The status report as the daemon keeps it.
async fn status_report(api: &ApiState) -> Result<crate::status::StatusReport, EngineError> {
    let report = api.status.get().await?;
    serde_json::from_value(report)
        .map_err(|e| EngineError::Failed(format!("decoding the status report: {e}")))
}

/// What the page is drawn from: the kept status report, the checkpoint records, the
/// manifest's suites and the runs seen.
async fn snapshot(d: &Dash) -> Result<render::Snapshot, EngineError> {
    let report = status_report(&d.api).await?;
    let state = crate::state::read(&d.api.project.state_dir)?;
    // A manifest being edited may not parse: the page still shows the rest.
    let suites = vers_manifest::load(&d.api.project.manifest_path)
        .map(|m| m.tests.keys().cloned().collect())
        .unwrap_or_default();
    Ok(render::Snapshot {
        report,
        state,
        suites,
        runs: d.runs.list(),
    })
}

async fn page(State(d): State<Dash>, Query(q): Query<ViewQuery>) -> Response {
    match snapshot(&d).await {
        Ok(s) => no_store(Html(render::page(&s, q.env.as_deref())).into_response()),
        Err(e) => error_response(&e),
    }
}

/// The live part of the page, re-fetched by its script after each event.
async fn view(State(d): State<Dash>, Query(q): Query<ViewQuery>) -> Response {
    match snapshot(&d).await {
        Ok(s) => no_store(Html(render::view(&s, q.env.as_deref())).into_response()),
        Err(e) => error_response(&e),
    }
}

/// Which service log to follow.
#[derive(Debug, Default, Deserialize)]
struct LogsQuery {
    env: String,
    service: String,
}

/// A service's log, followed live (server-sent events: its tail, then what is appended).
async fn service_logs(State(d): State<Dash>, Query(q): Query<LogsQuery>) -> Response {
    let report = match status_report(&d.api).await {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    // Only a service the report names: the file's path is built from these names.
    let known = report
        .environments
        .iter()
        .find(|e| e.id == q.env)
        .is_some_and(|e| e.services.iter().any(|s| s.name == q.service));
    if !known {
        return error_response(&EngineError::NotFound(format!(
            "no service `{}` in environment `{}`",
            q.service, q.env
        )));
    }
    let path = logs::service_log(&d.api.project, &q.env, &q.service);
    logs::follow(path).into_response()
}

/// The JUnit XML of a finished run.
async fn junit(State(d): State<Dash>, Path(id): Path<String>) -> Response {
    let Some(run) = d.runs.get(&id) else {
        return error_response(&EngineError::NotFound(format!("no test run `{id}`")));
    };
    let Some(report) = &run.report else {
        return error_response(&EngineError::NotFound(format!(
            "test run `{id}` has no report (yet)"
        )));
    };
    match crate::testrun::junit::render(report, &run.project) {
        Ok(xml) => (
            [
                (header::CONTENT_TYPE, "application/xml".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"{id}.xml\""),
                ),
            ],
            xml,
        )
            .into_response(),
        Err(e) => error_response(&e),
    }
}

/// Starts a test run that goes on when the page is closed (unlike `POST /api/test`, whose
/// run ends with its client); the page follows it on the event feed.
async fn start_test(State(d): State<Dash>, Body(r): Body<TestRequest>) -> Response {
    let api = d.api.clone();
    tokio::spawn(async move {
        let answer = crate::api::ops::run(&api, &HeaderMap::new(), Op::Test(r)).await;
        if !answer.status().is_success() {
            tracing::info!(
                "a test run from the dashboard ended with {}",
                answer.status()
            );
        }
    });
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "started": true })),
    )
        .into_response()
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}
