//! HTTP handlers: authentication, parameter decoding, idempotency keys, and running a
//! request against the state as one committed transaction.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use serde_json::{json, Value};

use super::api;
use super::api_error::ApiError;
use super::auth;
use super::ctx::{Ctx, API_VERSION};
use super::expand::expand;
use super::form;
use super::ids::{now, random};
use super::params::Params;
use super::resources::{checkout, payment_intents, setup_intents};
use super::StripeState;

/// Marks requests that came in over the HTTPS listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Https;

/// Kind of the stored idempotent responses.
const IDEMPOTENCY: &str = "_idempotency";

/// The answer to one API request.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    replayed: bool,
}

fn base_url(headers: &HeaderMap, https: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:12111");
    format!("{}://{host}", if https { "https" } else { "http" })
}

impl StripeState {
    /// Runs `f` on the state with a fresh request context, commits what it changed, and
    /// wakes webhook delivery if it queued events.
    fn transact<R>(
        &self,
        base: String,
        request: Value,
        f: impl FnOnce(&mut Ctx) -> R,
    ) -> Result<R, ApiError> {
        let mut store = self
            .store
            .lock()
            .map_err(|_| ApiError::internal("stripe-mock state lock poisoned"))?;
        let store = &mut *store;
        let mut ctx = Ctx {
            st: &mut store.state,
            settings: &self.settings,
            now: now(),
            base,
            request,
            queued: 0,
            creating: None,
        };
        let out = f(&mut ctx);
        let queued = ctx.queued;
        store.commit().map_err(|e| {
            tracing::error!(error = %e, "cannot persist stripe-mock state");
            ApiError::internal(format!("could not persist state: {e}"))
        })?;
        if queued > 0 {
            self.notify.notify_one();
        }
        Ok(out)
    }
}

/// `GET /healthz`.
pub(crate) async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

/// Anything outside `/v1`.
pub(crate) async fn not_found(method: Method, uri: Uri) -> Response {
    let request_id = format!("req_{}", random(14));
    let e = ApiError::unknown_url(method.as_str(), uri.path());
    json_response(
        e.status,
        serde_json::to_vec(&e.body(&request_id)).unwrap_or_default(),
        &request_id,
        false,
    )
}

/// Every `/v1/...` endpoint.
pub(crate) async fn api(
    State(state): State<Arc<StripeState>>,
    https: Option<Extension<Https>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = format!("req_{}", random(14));
    let path = uri.path().to_string();
    let segs: Vec<&str> = path
        .trim_start_matches("/v1/")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let reply = handle(
        &state,
        https.is_some(),
        &method,
        &uri,
        &segs,
        &headers,
        &body,
        &request_id,
    );
    json_response(reply.status, reply.body, &request_id, reply.replayed)
}

#[allow(clippy::too_many_arguments)]
fn handle(
    state: &StripeState,
    https: bool,
    method: &Method,
    uri: &Uri,
    segs: &[&str],
    headers: &HeaderMap,
    body: &[u8],
    request_id: &str,
) -> Reply {
    let error = |e: ApiError| Reply {
        status: e.status,
        body: serde_json::to_vec(&e.body(request_id)).unwrap_or_default(),
        replayed: false,
    };
    if let Err(e) = auth::check(headers, method, segs) {
        return error(e);
    }
    let mut params = form::parse(uri.query().unwrap_or_default().as_bytes());
    if !body.is_empty() {
        if let (Value::Object(q), Value::Object(b)) = (&mut params, form::parse(body)) {
            q.extend(b);
        }
    }
    let params = Params(params);
    let idem_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && (*method == Method::POST || *method == Method::DELETE))
        .map(str::to_string);
    let fingerprint = idem_key
        .as_ref()
        .map(|_| format!("{method} {} {}", uri.path(), params.0))
        .unwrap_or_default();
    let expand_paths = params.expand();
    let base = base_url(headers, https);
    let request = json!({"id": request_id, "idempotency_key": idem_key});
    let result = state.transact(base, request, |ctx| {
        if let Some(key) = &idem_key {
            if let Some(saved) = ctx.st.get(IDEMPOTENCY, key) {
                if saved["fingerprint"].as_str() != Some(fingerprint.as_str()) {
                    return Err(ApiError::idempotency(key));
                }
                let status = saved["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(200);
                return Ok(Reply {
                    status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                    body: saved["body"].as_str().unwrap_or("{}").as_bytes().to_vec(),
                    replayed: true,
                });
            }
        }
        let (status, value) = match api::dispatch(ctx, method, segs, &params) {
            Ok(mut v) => {
                expand(ctx.st, &mut v, &expand_paths);
                (StatusCode::OK, v)
            }
            Err(e) => (e.status, e.body(request_id)),
        };
        let body = serde_json::to_vec(&value).unwrap_or_default();
        if let Some(key) = &idem_key {
            if !status.is_server_error() {
                ctx.st.put(
                    IDEMPOTENCY,
                    key,
                    json!({"fingerprint": fingerprint, "status": status.as_u16(), "body": String::from_utf8_lossy(&body), "created": ctx.now}),
                );
            }
        }
        Ok(Reply {
            status,
            body,
            replayed: false,
        })
    });
    match result {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) | Err(e) => error(e),
    }
}

fn json_response(status: StatusCode, body: Vec<u8>, request_id: &str, replayed: bool) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert("stripe-version", HeaderValue::from_static(API_VERSION));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("request-id", v);
    }
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

/// Query of the hosted pages.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct PageQuery {
    /// Test card number used on the Checkout page.
    card: Option<String>,
    /// `fail` to fail 3D Secure.
    result: Option<String>,
}

/// The hosted Checkout page: paying completes the session and redirects to `success_url`.
pub(crate) async fn checkout_page(
    State(state): State<Arc<StripeState>>,
    https: Option<Extension<Https>>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let request_id = format!("req_{}", random(14));
    let base = base_url(&headers, https.is_some());
    let request = json!({"id": request_id, "idempotency_key": null});
    let outcome = state
        .transact(base, request, |ctx| {
            checkout::complete(ctx, &id, q.card.as_deref())
        })
        .and_then(|r| r);
    match outcome {
        Ok(session) => match session["success_url"].as_str() {
            Some(url) => Redirect::to(&url.replace("{CHECKOUT_SESSION_ID}", &id)).into_response(),
            None => json_response(
                StatusCode::OK,
                serde_json::to_vec(&session).unwrap_or_default(),
                &request_id,
                false,
            ),
        },
        Err(e) => json_response(
            e.status,
            serde_json::to_vec(&e.body(&request_id)).unwrap_or_default(),
            &request_id,
            false,
        ),
    }
}

/// The hosted 3D Secure page: authenticates (or with `?result=fail` fails) the intent and
/// redirects to its `return_url` when it has one.
pub(crate) async fn three_ds_page(
    State(state): State<Arc<StripeState>>,
    https: Option<Extension<Https>>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let request_id = format!("req_{}", random(14));
    let base = base_url(&headers, https.is_some());
    let request = json!({"id": request_id, "idempotency_key": null});
    let success = q.result.as_deref() != Some("fail");
    let outcome = state
        .transact(base, request, |ctx| {
            if id.starts_with("seti_") {
                setup_intents::authenticate(ctx, &id, success)
            } else {
                payment_intents::authenticate(ctx, &id, success)
            }
        })
        .and_then(|r| r);
    let (intent, status) = match outcome {
        Ok(intent) => (intent, StatusCode::OK),
        Err(e) => match e.extra.get("payment_intent") {
            Some(pi) => (pi.clone(), StatusCode::OK),
            None => {
                return json_response(
                    e.status,
                    serde_json::to_vec(&e.body(&request_id)).unwrap_or_default(),
                    &request_id,
                    false,
                )
            }
        },
    };
    let redirect_status =
        if intent["status"] == "succeeded" || intent["status"] == "requires_capture" {
            "succeeded"
        } else {
            "failed"
        };
    match intent["return_url"].as_str() {
        Some(ret) => {
            let kind = if id.starts_with("seti_") {
                "setup_intent"
            } else {
                "payment_intent"
            };
            let sep = if ret.contains('?') { '&' } else { '?' };
            let secret = intent["client_secret"].as_str().unwrap_or_default();
            Redirect::to(&format!("{ret}{sep}{kind}={id}&{kind}_client_secret={secret}&redirect_status={redirect_status}")).into_response()
        }
        None => json_response(
            status,
            serde_json::to_vec(&intent).unwrap_or_default(),
            &request_id,
            false,
        ),
    }
}
