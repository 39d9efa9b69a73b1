//! The engine API's routes (`/api/...`), one handler per resource action; each builds an
//! [`Op`] and hands it to [`ops::run`]. Documented in `docs/openapi.yaml`. Every answer is
//! JSON: bad input through the extractors of [`super::extract`], unknown routes and methods
//! through the fallbacks here.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::Router;
use serde::Deserialize;

use super::events;
use super::extract::{method_not_allowed, Body, Path, Query};
use super::ops::{self, error_response, ApiState};
use super::requests::*;
use crate::error::EngineError;

type St = State<Arc<ApiState>>;

/// The `/api` router over `state`.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/api/status", get(status))
        .route("/api/up", post(up))
        .route("/api/down", post(down))
        .route("/api/commit", post(commit))
        .route("/api/branches", get(branches).post(branch))
        .route("/api/branches/{name}", axum::routing::delete(delete_branch))
        .route("/api/checkout", post(checkout))
        .route("/api/rollback", post(rollback))
        .route("/api/log", get(log))
        .route("/api/checkpoints", get(checkpoints))
        .route("/api/checkpoints/prune", post(checkpoint_prune))
        .route("/api/checkpoints/{name}", delete(checkpoint_rm))
        .route("/api/test", post(test))
        .route("/api/matrix", post(matrix))
        .route("/api/chaos", get(chaos_list))
        .route("/api/chaos/inject", post(chaos_inject))
        .route("/api/chaos/recover", post(chaos_recover))
        .route("/api/chaos/run", post(chaos_run))
        .route("/api/services/{name}/logs", get(logs))
        .route("/api/services/{name}/retire", post(retire_service))
        .route("/api/services/stop", post(stop_services))
        .route("/api/db/query", post(db_query))
        .route("/api/db/counts", get(db_counts))
        .route("/api/db/schema", get(db_schema))
        .route("/api/diff", post(diff))
        .route("/api/exec", post(exec))
        .route("/api/exec/spec", post(exec_spec))
        .route("/api/export", post(export))
        .route("/api/docs", get(docs))
        .route("/api/deployments", get(deployments).post(deploy))
        .route("/api/deployments/{name}", delete(deploy_remove))
        .route("/api/deployments/{name}/rollback", post(deploy_rollback))
        .route("/api/previews", get(deployments).post(preview_create))
        .route("/api/previews/{name}", delete(deploy_remove))
        .route("/api/events", get(events_feed))
        // The VM-shaped routes of SPEC section 1.
        .route("/api/vm", get(branches))
        .route("/api/vm/new_root", post(up))
        .route("/api/vm/from_commit", post(vm_from_commit))
        .route("/api/vm/{id}/branch", post(vm_branch))
        .route("/api/vm/{id}/commit", post(vm_commit))
        .route("/api/vm/{id}/state", patch(vm_state))
        .route("/api/vm/{id}", axum::routing::delete(vm_delete))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> Response {
    error_response(&EngineError::NotFound(
        "no such route; see docs/openapi.yaml for the API".into(),
    ))
}

/// Answered by the daemon itself from its kept report (a worker only for an environment's
/// own socket, whose view is narrowed to that environment).
async fn status(State(s): St, h: HeaderMap) -> Response {
    if s.scope.is_some() {
        return ops::run(&s, &h, Op::Status).await;
    }
    ops::answer(&h, s.status.get().await).await
}

async fn up(State(s): St, h: HeaderMap, Body(r): Body<UpRequest>) -> Response {
    ops::run(&s, &h, Op::Up(r)).await
}

async fn down(State(s): St, h: HeaderMap, Body(r): Body<DownRequest>) -> Response {
    if r.services.is_empty() {
        return ops::run(&s, &h, Op::Down(r)).await;
    }
    if r.all {
        return super::extract::rejection_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            "request body: `services` stops services of HEAD and `all` every environment; \
             send one of them"
                .into(),
        );
    }
    let services = r.services;
    ops::run(&s, &h, Op::StopServices(StopServicesRequest { services })).await
}

async fn commit(State(s): St, h: HeaderMap, Body(r): Body<CommitRequest>) -> Response {
    ops::run(&s, &h, Op::Commit(r)).await
}

async fn branches(State(s): St, h: HeaderMap) -> Response {
    ops::run(&s, &h, Op::Branches).await
}

async fn branch(State(s): St, h: HeaderMap, Body(r): Body<BranchRequest>) -> Response {
    ops::run(&s, &h, Op::Branch(r)).await
}

#[derive(Debug, Default, Deserialize)]
struct ForceQuery {
    #[serde(default)]
    force: bool,
}

async fn delete_branch(
    State(s): St,
    h: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<ForceQuery>,
) -> Response {
    ops::run(
        &s,
        &h,
        Op::Delete(DeleteRequest {
            name,
            force: q.force,
        }),
    )
    .await
}

async fn checkout(State(s): St, h: HeaderMap, Body(r): Body<CheckoutRequest>) -> Response {
    ops::run(&s, &h, Op::Checkout(r)).await
}

async fn rollback(State(s): St, h: HeaderMap, Body(r): Body<RollbackRequest>) -> Response {
    ops::run(&s, &h, Op::Rollback(r)).await
}

async fn log(State(s): St, h: HeaderMap) -> Response {
    ops::run(&s, &h, Op::Log).await
}

async fn checkpoints(State(s): St, h: HeaderMap) -> Response {
    ops::run(&s, &h, Op::Checkpoints).await
}

async fn checkpoint_prune(State(s): St, h: HeaderMap) -> Response {
    ops::run(&s, &h, Op::CheckpointPrune).await
}

async fn checkpoint_rm(State(s): St, h: HeaderMap, Path(name): Path<String>) -> Response {
    ops::run(&s, &h, Op::CheckpointRm(CheckpointRmRequest { name })).await
}

async fn test(State(s): St, h: HeaderMap, Body(r): Body<TestRequest>) -> Response {
    ops::run(&s, &h, Op::Test(r)).await
}

async fn matrix(State(s): St, h: HeaderMap, Body(r): Body<MatrixRequest>) -> Response {
    ops::run(&s, &h, Op::Matrix(r)).await
}

async fn chaos_list(State(s): St, h: HeaderMap) -> Response {
    ops::run(&s, &h, Op::ChaosList).await
}

async fn chaos_inject(State(s): St, h: HeaderMap, Body(r): Body<ChaosInjectRequest>) -> Response {
    ops::run(&s, &h, Op::ChaosInject(r)).await
}

async fn chaos_recover(State(s): St, h: HeaderMap, Body(r): Body<ChaosRecoverRequest>) -> Response {
    ops::run(&s, &h, Op::ChaosRecover(r)).await
}

async fn chaos_run(State(s): St, h: HeaderMap, Body(r): Body<ChaosRunRequest>) -> Response {
    ops::run(&s, &h, Op::ChaosRun(r)).await
}

#[derive(Debug, Default, Deserialize)]
struct LogsQuery {
    lines: Option<usize>,
    since: Option<String>,
}

async fn logs(
    State(s): St,
    h: HeaderMap,
    Path(service): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Response {
    let r = LogsRequest {
        service,
        lines: q.lines,
        since: q.since,
    };
    ops::run(&s, &h, Op::Logs(r)).await
}

async fn retire_service(State(s): St, h: HeaderMap, Path(service): Path<String>) -> Response {
    ops::run(&s, &h, Op::RetireService(RetireServiceRequest { service })).await
}

async fn stop_services(State(s): St, h: HeaderMap, Body(r): Body<StopServicesRequest>) -> Response {
    ops::run(&s, &h, Op::StopServices(r)).await
}

async fn db_query(State(s): St, h: HeaderMap, Body(r): Body<DbQueryRequest>) -> Response {
    ops::run(&s, &h, Op::DbQuery(r)).await
}

async fn db_counts(State(s): St, h: HeaderMap, Query(q): Query<DbTargetRequest>) -> Response {
    ops::run(&s, &h, Op::DbCounts(q)).await
}

async fn db_schema(State(s): St, h: HeaderMap, Query(q): Query<DbTargetRequest>) -> Response {
    ops::run(&s, &h, Op::DbSchema(q)).await
}

async fn diff(State(s): St, h: HeaderMap, Body(r): Body<DiffRequest>) -> Response {
    ops::run(&s, &h, Op::Diff(r)).await
}

async fn exec(State(s): St, h: HeaderMap, Body(r): Body<ExecRequest>) -> Response {
    ops::run(&s, &h, Op::Exec(r)).await
}

async fn exec_spec(State(s): St, h: HeaderMap, Body(r): Body<ExecSpecRequest>) -> Response {
    ops::run(&s, &h, Op::ExecSpec(r)).await
}

async fn export(State(s): St, h: HeaderMap, Body(r): Body<ExportRequest>) -> Response {
    ops::run(&s, &h, Op::Export(r)).await
}

async fn docs(State(s): St, h: HeaderMap, Query(q): Query<DocsRequest>) -> Response {
    ops::run(&s, &h, Op::Docs(q)).await
}

async fn deployments(State(s): St, h: HeaderMap) -> Response {
    ops::run(&s, &h, Op::Deployments).await
}

async fn deploy(State(s): St, h: HeaderMap, Body(r): Body<DeployRequest>) -> Response {
    ops::run(&s, &h, Op::Deploy(r)).await
}

async fn preview_create(State(s): St, h: HeaderMap, Body(r): Body<PreviewRequest>) -> Response {
    ops::run(&s, &h, Op::PreviewCreate(r)).await
}

async fn deploy_remove(State(s): St, h: HeaderMap, Path(name): Path<String>) -> Response {
    ops::run(&s, &h, Op::DeployRemove(DeployRemoveRequest { name })).await
}

#[derive(Debug, Default, Deserialize)]
struct RollbackTo {
    #[serde(default)]
    to: Option<u32>,
}

async fn deploy_rollback(
    State(s): St,
    h: HeaderMap,
    Path(name): Path<String>,
    Body(r): Body<RollbackTo>,
) -> Response {
    ops::run(
        &s,
        &h,
        Op::DeployRollback(DeployRollbackRequest { name, to: r.to }),
    )
    .await
}

async fn events_feed(State(s): St) -> impl IntoResponse {
    events::sse(&s.bus)
}

#[derive(Debug, Default, Deserialize)]
struct FromCommit {
    commit_id: String,
    #[serde(default)]
    alias: Option<String>,
}

async fn vm_from_commit(State(s): St, h: HeaderMap, Body(r): Body<FromCommit>) -> Response {
    if r.commit_id.is_empty() {
        return error_response(&EngineError::Manifest(
            "`commit_id` is required, e.g. {\"commit_id\": \"seeded\"}".into(),
        ));
    }
    let op = Op::Branch(BranchRequest {
        alias: r.alias,
        from: Some(r.commit_id),
    });
    ops::run(&s, &h, op).await
}

#[derive(Debug, Default, Deserialize)]
struct VmBranch {
    #[serde(default)]
    alias: Option<String>,
}

/// A branch of environment `id`'s current state: a checkpoint of it, then a fork.
async fn vm_branch(
    State(s): St,
    h: HeaderMap,
    Path(id): Path<String>,
    Body(r): Body<VmBranch>,
) -> Response {
    let tag = format!("{id}-{}", super::frames::now_ms());
    let commit = Op::Commit(CommitRequest {
        tag: tag.clone(),
        message: Some(format!("branch point of {id}")),
        env: Some(id),
        force: false,
    });
    let caller = HeaderMap::new();
    let answer = ops::run(&s, &caller, commit).await;
    if !answer.status().is_success() {
        return answer;
    }
    let op = Op::Branch(BranchRequest {
        alias: r.alias,
        from: Some(tag),
    });
    ops::run(&s, &h, op).await
}

#[derive(Debug, Default, Deserialize)]
struct VmCommit {
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

async fn vm_commit(
    State(s): St,
    h: HeaderMap,
    Path(id): Path<String>,
    Body(r): Body<VmCommit>,
) -> Response {
    let tag = r
        .tag
        .unwrap_or_else(|| format!("{id}-{}", super::frames::now_ms()));
    let op = Op::Commit(CommitRequest {
        tag,
        message: r.message,
        env: Some(id),
        force: false,
    });
    ops::run(&s, &h, op).await
}

async fn vm_state(
    State(s): St,
    h: HeaderMap,
    Path(id): Path<String>,
    Body(mut r): Body<SetStateRequest>,
) -> Response {
    r.env = id;
    ops::run(&s, &h, Op::SetState(r)).await
}

async fn vm_delete(
    State(s): St,
    h: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ForceQuery>,
) -> Response {
    ops::run(
        &s,
        &h,
        Op::Delete(DeleteRequest {
            name: id,
            force: q.force,
        }),
    )
    .await
}
