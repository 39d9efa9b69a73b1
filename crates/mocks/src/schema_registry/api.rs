//! The Confluent Schema Registry REST API over the store: subjects and versions, schemas by
//! id, compatibility levels and checks. Bodies are JSON whatever their declared content type
//! (`application/vnd.schemaregistry.v1+json`, `application/json`...); answers are
//! `application/vnd.schemaregistry.v1+json`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State as Extract};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::api_error::ApiError;
use super::registry::{schema_fields, VersionSpec};
use super::schema;
use super::store::{State, Store};
use super::types::{Level, SchemaType};

/// The media type of every answer.
pub(crate) const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

type Shared = Extract<Arc<Store>>;
type Params = Query<HashMap<String, String>>;
type Reply = Result<Response, ApiError>;

/// The API router over `store`.
pub(crate) fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route(
            "/subjects/{subject}/versions/{version}",
            get(version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(version_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(referenced_by),
        )
        .route("/schemas", get(schemas))
        .route("/schemas/types", get(schema_types))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(schema_text_by_id))
        .route("/schemas/ids/{id}/versions", get(id_versions))
        .route("/schemas/ids/{id}/subjects", get(id_subjects))
        .route(
            "/config",
            get(global_config)
                .put(set_global_config)
                .delete(delete_global_config),
        )
        .route(
            "/config/{subject}",
            get(subject_config)
                .put(set_subject_config)
                .delete(delete_subject_config),
        )
        .route("/mode", get(mode).put(set_mode))
        .route("/mode/{subject}", get(mode).put(set_mode))
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(compatibility_with_version),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(compatibility_with_all),
        )
        .route("/contexts", get(contexts))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(store)
}

/// A JSON answer with the registry's media type.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, MEDIA_TYPE)],
        body.to_string(),
    )
        .into_response()
}

fn ok(body: Value) -> Reply {
    Ok(json_response(StatusCode::OK, &body))
}

/// A schema's text as the answer's body (the `/schema` endpoints).
fn raw(text: &str) -> Reply {
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, MEDIA_TYPE)],
        text.to_string(),
    )
        .into_response())
}

/// Whether the query flag `key` is `true` (Python clients write `True`).
fn flag(params: &HashMap<String, String>, key: &str) -> bool {
    params
        .get(key)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Which entries a listing shows: `deleted` adds soft-deleted ones, `deletedOnly` (or the
/// Python client's `deleted_only`) shows those alone.
#[derive(Clone, Copy)]
struct Shown {
    deleted: bool,
    only_deleted: bool,
}

impl Shown {
    fn of(params: &HashMap<String, String>) -> Self {
        let only_deleted = flag(params, "deletedOnly") || flag(params, "deleted_only");
        Shown {
            deleted: only_deleted || flag(params, "deleted"),
            only_deleted,
        }
    }
}

/// The `offset`/`limit` page of `items` (a negative or absent limit means all).
fn page<T>(items: Vec<T>, params: &HashMap<String, String>) -> Result<Vec<T>, ApiError> {
    let number = |key: &str| -> Result<i64, ApiError> {
        params.get(key).map_or(Ok(-1), |v| {
            v.parse::<i64>().map_err(|_| {
                ApiError::unprocessable(format!("`{key}` must be a whole number, found '{v}'"))
            })
        })
    };
    let offset = usize::try_from(number("offset")?).unwrap_or(0);
    let limit = usize::try_from(number("limit")?).unwrap_or(usize::MAX);
    Ok(items.into_iter().skip(offset).take(limit).collect())
}

fn schema_id(text: &str) -> Result<u32, ApiError> {
    text.parse().map_err(|_| ApiError::schema_not_found(None))
}

/// Runs a change on the store off the async workers (it syncs a file).
async fn change<R: Send + 'static>(
    store: Arc<Store>,
    f: impl FnOnce(&mut State) -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(move || store.update(f))
        .await
        .map_err(ApiError::store)?
}

/// `GET /`.
async fn root() -> Reply {
    ok(json!({}))
}

/// `GET /subjects?deleted=&subjectPrefix=`.
async fn subjects(Extract(store): Shared, Query(q): Params) -> Reply {
    let state = store.snapshot();
    let prefix = q.get("subjectPrefix").map(String::as_str).unwrap_or("");
    let shown = Shown::of(&q);
    let mut names = state.subject_names(shown.deleted, prefix);
    if shown.only_deleted {
        let live = state.subject_names(false, prefix);
        names.retain(|n| !live.contains(n));
    }
    ok(json!(page(names, &q)?))
}

/// `GET /subjects/{subject}/versions?deleted=`.
async fn versions(Extract(store): Shared, Path(subject): Path<String>, Query(q): Params) -> Reply {
    let state = store.snapshot();
    let shown = Shown::of(&q);
    let mut numbers = state.version_numbers(&subject, shown.deleted)?;
    if shown.only_deleted {
        let live = state.version_numbers(&subject, false).unwrap_or_default();
        numbers.retain(|n| !live.contains(n));
    }
    ok(json!(page(numbers, &q)?))
}

/// `POST /subjects/{subject}/versions`: registers a schema, `{"id": N}`.
async fn register(Extract(store): Shared, Path(subject): Path<String>, body: Bytes) -> Reply {
    let submission = schema::read_body(&body)?;
    let id = change(store, move |state| {
        let stored = schema::prepare(state, submission)?;
        state.register(&subject, stored)
    })
    .await?;
    ok(json!({ "id": id }))
}

/// `GET /subjects/{subject}/versions/{version}?deleted=`.
async fn version(
    Extract(store): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    let state = store.snapshot();
    let entry = state.version(&subject, spec, flag(&q, "deleted"))?;
    ok(state.version_doc(&subject, entry)?)
}

/// `GET /subjects/{subject}/versions/{version}/schema`: the schema text alone.
async fn version_schema(
    Extract(store): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    let state = store.snapshot();
    let entry = state.version(&subject, spec, flag(&q, "deleted"))?;
    raw(&state.schema_by_id(entry.id)?.schema)
}

/// `GET /subjects/{subject}/versions/{version}/referencedby`: ids of schemas referencing it.
async fn referenced_by(
    Extract(store): Shared,
    Path((subject, version)): Path<(String, String)>,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    let state = store.snapshot();
    let entry = state.version(&subject, spec, false)?;
    ok(json!(state.referrers(&subject, entry.version)))
}

/// `POST /subjects/{subject}?deleted=`: the version holding a schema.
async fn lookup(
    Extract(store): Shared,
    Path(subject): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> Reply {
    let submission = schema::read_body(&body)?;
    let state = store.snapshot();
    let deleted = flag(&q, "deleted");
    state.version_numbers(&subject, deleted)?;
    let stored = schema::prepare(&state, submission)?;
    ok(state.lookup(&subject, &stored, deleted)?)
}

/// `DELETE /subjects/{subject}?permanent=`: the deleted version numbers.
async fn delete_subject(
    Extract(store): Shared,
    Path(subject): Path<String>,
    Query(q): Params,
) -> Reply {
    let permanent = flag(&q, "permanent");
    let deleted = change(store, move |state| {
        state.delete_subject(&subject, permanent)
    })
    .await?;
    ok(json!(deleted))
}

/// `DELETE /subjects/{subject}/versions/{version}?permanent=`: the deleted version number.
async fn delete_version(
    Extract(store): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    let permanent = flag(&q, "permanent");
    let deleted = change(store, move |state| {
        state.delete_version(&subject, spec, permanent)
    })
    .await?;
    ok(json!(deleted))
}

/// `GET /schemas?subjectPrefix=&deleted=&latestOnly=`: every version's document.
async fn schemas(Extract(store): Shared, Query(q): Params) -> Reply {
    let state = store.snapshot();
    let deleted = flag(&q, "deleted");
    let latest_only = flag(&q, "latestOnly");
    let prefix = q.get("subjectPrefix").map(String::as_str).unwrap_or("");
    let mut out = Vec::new();
    for (name, subject) in state.subjects.iter().filter(|(n, _)| n.starts_with(prefix)) {
        let entries: Vec<_> = if latest_only {
            subject.visible(deleted).next_back().into_iter().collect()
        } else {
            subject.visible(deleted).collect()
        };
        for entry in entries {
            out.push(state.version_doc(name, entry)?);
        }
    }
    ok(Value::Array(out))
}

/// `GET /schemas/types`.
async fn schema_types() -> Reply {
    ok(json!(SchemaType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()))
}

/// `GET /schemas/ids/{id}`: `{"schema", "schemaType", "references"}`.
async fn schema_by_id(Extract(store): Shared, Path(id): Path<String>) -> Reply {
    let state = store.snapshot();
    ok(Value::Object(schema_fields(
        state.schema_by_id(schema_id(&id)?)?,
    )))
}

/// `GET /schemas/ids/{id}/schema`: the schema text alone.
async fn schema_text_by_id(Extract(store): Shared, Path(id): Path<String>) -> Reply {
    let state = store.snapshot();
    raw(&state.schema_by_id(schema_id(&id)?)?.schema)
}

/// `GET /schemas/ids/{id}/versions?deleted=`: `[{"subject", "version"}]`.
async fn id_versions(Extract(store): Shared, Path(id): Path<String>, Query(q): Params) -> Reply {
    let state = store.snapshot();
    let usages = state.usages(schema_id(&id)?, flag(&q, "deleted"))?;
    let docs: Vec<Value> = usages
        .iter()
        .map(|(subject, version)| json!({"subject": subject, "version": version}))
        .collect();
    ok(json!(page(docs, &q)?))
}

/// `GET /schemas/ids/{id}/subjects?deleted=`.
async fn id_subjects(Extract(store): Shared, Path(id): Path<String>, Query(q): Params) -> Reply {
    let state = store.snapshot();
    let usages = state.usages(schema_id(&id)?, flag(&q, "deleted"))?;
    let subjects: BTreeSet<&str> = usages.iter().map(|(s, _)| *s).collect();
    ok(json!(page(subjects.into_iter().collect(), &q)?))
}

/// The level of a `PUT /config` body `{"compatibility": "FULL"}`.
fn level_of_body(body: &[u8]) -> Result<Level, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::unprocessable(format!("the request body is not JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ApiError::unprocessable(
            "the request body must be an object such as {\"compatibility\": \"BACKWARD\"}",
        ));
    };
    if let Some((key, _)) = map
        .iter()
        .find(|(k, v)| k.as_str() != "compatibility" && !v.is_null())
    {
        return Err(ApiError::not_permitted(format!(
            "config `{key}` is not supported by vers's schema registry; it sets `compatibility` only"
        )));
    }
    match map.get("compatibility") {
        Some(Value::String(level)) => Level::parse(level),
        _ => Err(ApiError::invalid_level(
            "(missing: send {\"compatibility\": \"BACKWARD\"})",
        )),
    }
}

/// `GET /config`.
async fn global_config(Extract(store): Shared) -> Reply {
    ok(json!({"compatibilityLevel": store.snapshot().global_level().as_str()}))
}

/// `PUT /config`.
async fn set_global_config(Extract(store): Shared, body: Bytes) -> Reply {
    let level = level_of_body(&body)?;
    change(store, move |state| {
        state.compatibility = Some(level);
        Ok(())
    })
    .await?;
    ok(json!({"compatibility": level.as_str()}))
}

/// `DELETE /config`: back to BACKWARD; answers the level it replaced.
async fn delete_global_config(Extract(store): Shared) -> Reply {
    let old = change(store, |state| {
        let old = state.global_level();
        state.compatibility = None;
        Ok(old)
    })
    .await?;
    ok(json!({"compatibilityLevel": old.as_str()}))
}

/// `GET /config/{subject}?defaultToGlobal=`.
async fn subject_config(
    Extract(store): Shared,
    Path(subject): Path<String>,
    Query(q): Params,
) -> Reply {
    let state = store.snapshot();
    let own = state.subjects.get(&subject).and_then(|s| s.compatibility);
    let level = match own {
        Some(level) => level,
        None if flag(&q, "defaultToGlobal") => state.global_level(),
        None => return Err(ApiError::subject_level_not_configured(&subject)),
    };
    ok(json!({"compatibilityLevel": level.as_str()}))
}

/// `PUT /config/{subject}` (the subject need not have versions yet).
async fn set_subject_config(
    Extract(store): Shared,
    Path(subject): Path<String>,
    body: Bytes,
) -> Reply {
    let level = level_of_body(&body)?;
    change(store, move |state| {
        state.subjects.entry(subject).or_default().compatibility = Some(level);
        Ok(())
    })
    .await?;
    ok(json!({"compatibility": level.as_str()}))
}

/// `DELETE /config/{subject}`: the subject follows the global level again; answers the
/// level it had.
async fn delete_subject_config(Extract(store): Shared, Path(subject): Path<String>) -> Reply {
    let old = change(store, move |state| {
        let s = state
            .subjects
            .get_mut(&subject)
            .ok_or_else(|| ApiError::subject_not_found(&subject))?;
        let old = s
            .compatibility
            .take()
            .ok_or_else(|| ApiError::subject_level_not_configured(&subject))?;
        if s.versions.is_empty() {
            state.subjects.remove(&subject);
        }
        Ok(old)
    })
    .await?;
    ok(json!({"compatibilityLevel": old.as_str()}))
}

/// `GET /mode` and `/mode/{subject}`: always READWRITE.
async fn mode() -> Reply {
    ok(json!({"mode": "READWRITE"}))
}

/// `PUT /mode` and `/mode/{subject}`: READWRITE is accepted, other modes refused (42204).
async fn set_mode(body: Bytes) -> Reply {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::unprocessable(format!("the request body is not JSON: {e}")))?;
    match value.get("mode").and_then(Value::as_str) {
        Some(m) if m.eq_ignore_ascii_case("READWRITE") => ok(json!({"mode": "READWRITE"})),
        Some(m) => Err(ApiError::invalid_mode(m)),
        None => Err(ApiError::invalid_mode("(missing)")),
    }
}

/// The answer of a compatibility check: `{"is_compatible"}`, with `messages` when verbose.
fn compatibility_answer(problems: Vec<String>, verbose: bool) -> Reply {
    let mut body = json!({"is_compatible": problems.is_empty()});
    if verbose {
        body["messages"] = json!(problems);
    }
    ok(body)
}

/// `POST /compatibility/subjects/{subject}/versions/{version}?verbose=`.
async fn compatibility_with_version(
    Extract(store): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
    body: Bytes,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    let submission = schema::read_body(&body)?;
    let state = store.snapshot();
    state.version(&subject, spec, false)?;
    let candidate = schema::prepare(&state, submission)?;
    let problems = state.test_compatibility(&subject, Some(spec), &candidate)?;
    compatibility_answer(problems, flag(&q, "verbose"))
}

/// `POST /compatibility/subjects/{subject}/versions?verbose=`: against the versions the
/// subject's level names.
async fn compatibility_with_all(
    Extract(store): Shared,
    Path(subject): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> Reply {
    let submission = schema::read_body(&body)?;
    let state = store.snapshot();
    let candidate = schema::prepare(&state, submission)?;
    let problems = state.test_compatibility(&subject, None, &candidate)?;
    compatibility_answer(problems, flag(&q, "verbose"))
}

/// `GET /contexts`: the default context only.
async fn contexts() -> Reply {
    ok(json!(["."]))
}

async fn no_route(method: Method, uri: Uri) -> Response {
    ApiError::no_route(method.as_str(), uri.path()).into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({
            "error_code": 405,
            "message": format!("HTTP 405 Method Not Allowed: {} {}", method, uri.path()),
        }),
    )
}
