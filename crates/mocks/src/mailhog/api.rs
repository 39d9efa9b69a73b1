//! MailHog-compatible HTTP API (v1 and v2) over the captured messages.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::render::{header_text, message_json, searchable_text};
use super::storage::{MessageStore, StoredMessage};

const DEFAULT_LIMIT: usize = 50;

type Shared = State<Arc<MessageStore>>;

/// The API router over `store`.
pub(crate) fn router(store: Arc<MessageStore>) -> Router {
    Router::new()
        .route("/api/v2/messages", get(v2_messages))
        .route("/api/v2/search", get(v2_search))
        .route("/api/v1/messages", get(v1_messages).delete(delete_all))
        .route("/api/v1/messages/{id}", get(v1_message).delete(delete_one))
        .route("/api/v1/messages/{id}/download", get(download))
        .with_state(store)
}

fn number(query: &HashMap<String, String>, key: &str, default: usize) -> usize {
    query
        .get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The v2 `{total, count, start, items}` page of `messages`.
fn page(messages: Vec<Arc<StoredMessage>>, query: &HashMap<String, String>) -> Json<Value> {
    let start = number(query, "start", 0);
    let limit = number(query, "limit", DEFAULT_LIMIT);
    let total = messages.len();
    let items: Vec<Value> = messages
        .iter()
        .skip(start)
        .take(limit)
        .map(|m| message_json(m))
        .collect();
    Json(json!({"total": total, "count": items.len(), "start": start, "items": items}))
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `GET /api/v2/messages?start=&limit=`.
async fn v2_messages(
    State(store): Shared,
    Query(query): Query<HashMap<String, String>>,
) -> Json<Value> {
    page(store.newest_first(), &query)
}

/// `GET /api/v2/search?kind=from|to|containing&query=`.
async fn v2_search(State(store): Shared, Query(query): Query<HashMap<String, String>>) -> Response {
    let needle = query
        .get("query")
        .map(|q| q.to_lowercase())
        .unwrap_or_default();
    let kind = query.get("kind").map(String::as_str).unwrap_or_default();
    let matches = |m: &StoredMessage| -> bool {
        match kind {
            "from" => {
                m.envelope.from.to_lowercase().contains(&needle)
                    || header_text(m, &["from"]).contains(&needle)
            }
            "to" => {
                m.envelope
                    .to
                    .iter()
                    .any(|t| t.to_lowercase().contains(&needle))
                    || header_text(m, &["to", "cc"]).contains(&needle)
            }
            _ => searchable_text(m).contains(&needle),
        }
    };
    if !matches!(kind, "from" | "to" | "containing") {
        return error(
            StatusCode::BAD_REQUEST,
            "kind must be from, to or containing",
        );
    }
    let found: Vec<_> = store
        .newest_first()
        .into_iter()
        .filter(|m| matches(m))
        .collect();
    page(found, &query).into_response()
}

/// `GET /api/v1/messages`: every message, newest first.
async fn v1_messages(State(store): Shared) -> Json<Value> {
    Json(Value::Array(
        store
            .newest_first()
            .iter()
            .map(|m| message_json(m))
            .collect(),
    ))
}

/// `GET /api/v1/messages/{id}`.
async fn v1_message(State(store): Shared, Path(id): Path<String>) -> Response {
    match store.get(&id) {
        Some(m) => Json(message_json(&m)).into_response(),
        None => error(StatusCode::NOT_FOUND, "message not found"),
    }
}

/// `DELETE /api/v1/messages/{id}`.
async fn delete_one(State(store): Shared, Path(id): Path<String>) -> Response {
    match store.delete(&id) {
        Ok(true) => StatusCode::OK.into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, "message not found"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `DELETE /api/v1/messages`.
async fn delete_all(State(store): Shared) -> Response {
    match store.delete_all() {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `GET /api/v1/messages/{id}/download`: the raw message.
async fn download(State(store): Shared, Path(id): Path<String>) -> Response {
    let Some(m) = store.get(&id) else {
        return error(StatusCode::NOT_FOUND, "message not found");
    };
    let disposition = format!("attachment; filename=\"{}.eml\"", id.replace('"', ""));
    (
        [
            (header::CONTENT_TYPE, "message/rfc822".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        m.raw.clone(),
    )
        .into_response()
}
