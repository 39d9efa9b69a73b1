//! The web dashboard (`vers dashboard`): a page on 127.0.0.1 showing the checkpoint tree and
//! the selected environment's services, kept live from the event feed. The daemon hosts it
//! for its whole life, behind a random token that every page and API call must carry; the
//! engine API is served under the same token, so the page is a thin client of it.

mod auth;
pub mod render;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::api::ops::{error_response, ApiState};
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
        let app = router(api, token);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("the dashboard stopped: {e}");
            }
        });
        *running = Some(Running { url: url.clone() });
        Ok(url)
    }
}

/// The dashboard's routes: the page, its live fragments and the engine API, all behind
/// `token`.
fn router(api: Arc<ApiState>, token: String) -> Router {
    let status = api.status.clone();
    let pages = Router::new()
        .route("/", get(page))
        .route("/ui/view", get(view))
        .with_state(api.clone());
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

/// What the page is drawn from: the kept status report and the checkpoint records.
async fn snapshot(api: &ApiState) -> Result<render::Snapshot, EngineError> {
    let report = api.status.get().await?;
    let report: crate::status::StatusReport = serde_json::from_value(report)
        .map_err(|e| EngineError::Failed(format!("decoding the status report: {e}")))?;
    let state = crate::state::read(&api.project.state_dir)?;
    Ok(render::Snapshot { report, state })
}

async fn page(State(api): State<Arc<ApiState>>, Query(q): Query<ViewQuery>) -> Response {
    match snapshot(&api).await {
        Ok(s) => no_store(Html(render::page(&s, q.env.as_deref())).into_response()),
        Err(e) => error_response(&e),
    }
}

/// The live part of the page, re-fetched by its script after each event.
async fn view(State(api): State<Arc<ApiState>>, Query(q): Query<ViewQuery>) -> Response {
    match snapshot(&api).await {
        Ok(s) => no_store(Html(render::view(&s, q.env.as_deref())).into_response()),
        Err(e) => error_response(&e),
    }
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}
