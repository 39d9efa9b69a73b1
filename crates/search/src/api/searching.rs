//! Search APIs: `_search`, `_count` and `_delete_by_query`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::documents::Refresh;
use super::{App, Reply, Request};
use crate::error::EsError;
use crate::search::{self, SearchRequest, Target};
use crate::store::index::{parse_time_value, Condition};
use crate::store::registry::random_id;

fn targets(app: &App, req: &Request, expr: &str) -> Result<Vec<Target>, EsError> {
    let ignore = req.flag("ignore_unavailable");
    Ok(app
        .registry
        .resolve(expr, ignore)?
        .into_iter()
        .map(Target::new)
        .collect())
}

fn check_params(req: &Request) -> Result<(), EsError> {
    if req.flag("typed_keys") {
        return Err(EsError::unsupported("typed_keys"));
    }
    Ok(())
}

/// An open scroll: the searched indices as they were, and the hits not yet returned.
pub struct Scroll {
    targets: Vec<Target>,
    rest: search::ScrollRest,
    keep_alive: Duration,
    expires: Instant,
}

fn keep_alive(text: &str) -> Result<Duration, EsError> {
    parse_time_value(text)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            EsError::illegal_argument(format!(
                "failed to parse setting [scroll] with value [{text}] as a time value"
            ))
        })
}

fn scrolls(app: &App) -> std::sync::MutexGuard<'_, HashMap<String, Scroll>> {
    let mut guard = app.scrolls.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    guard.retain(|_, s| s.expires > now);
    guard
}

/// `GET/POST /<index>/_search` (opening a scroll with `?scroll=`).
pub fn search(app: &App, req: &Request, expr: &str) -> Result<Reply, EsError> {
    check_params(req)?;
    let body = req.json()?;
    let request = SearchRequest::parse(body.as_ref(), &req.params)?;
    let targets = targets(app, req, expr)?;
    let Some(ka) = req.param("scroll") else {
        return Ok(Reply::ok(search::search(&targets, &request, app.flavor)?));
    };
    let keep = keep_alive(ka)?;
    if request.from > 0 {
        return Err(EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: using [from] is not allowed in a scroll context;",
        ));
    }
    let (mut first, rest) = search::open_scroll(&targets, &request, app.flavor)?;
    let id = random_id(24);
    first["_scroll_id"] = json!(id);
    scrolls(app).insert(
        id,
        Scroll {
            targets,
            rest,
            keep_alive: keep,
            expires: Instant::now() + keep,
        },
    );
    Ok(Reply::ok(first))
}

fn scroll_ids(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s.split(',').map(String::from).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// `GET/POST /_search/scroll[/<id>]`.
pub fn scroll(app: &App, req: &Request, path_id: Option<&str>) -> Result<Reply, EsError> {
    let body = req.json()?.unwrap_or_else(|| json!({}));
    let id = path_id
        .map(String::from)
        .or_else(|| req.param("scroll_id").map(String::from))
        .or_else(|| {
            body.get("scroll_id")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .ok_or_else(|| {
            EsError::new(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: scrollId is missing;",
            )
        })?;
    let keep = match req
        .param("scroll")
        .or_else(|| body.get("scroll").and_then(Value::as_str))
    {
        Some(k) => Some(keep_alive(k)?),
        None => None,
    };
    let mut all = scrolls(app);
    let scroll = all.get_mut(&id).ok_or_else(|| {
        EsError::new(
            404,
            "search_context_missing_exception",
            format!("No search context found for id [{id}]"),
        )
    })?;
    if let Some(k) = keep {
        scroll.keep_alive = k;
    }
    scroll.expires = Instant::now() + scroll.keep_alive;
    let mut page = search::scroll_page(&scroll.targets, &mut scroll.rest, app.flavor)?;
    page["_scroll_id"] = json!(id);
    Ok(Reply::ok(page))
}

/// `DELETE /_search/scroll[/<id>]`.
pub fn clear_scroll(app: &App, req: &Request, path_id: Option<&str>) -> Result<Reply, EsError> {
    let body = req.json()?.unwrap_or_else(|| json!({}));
    let mut ids: Vec<String> = path_id
        .map(|p| p.split(',').map(String::from).collect())
        .unwrap_or_default();
    ids.extend(scroll_ids(body.get("scroll_id")));
    if let Some(p) = req.param("scroll_id") {
        ids.extend(p.split(',').map(String::from));
    }
    let mut all = scrolls(app);
    let freed = if ids.iter().any(|i| i == "_all") {
        let n = all.len();
        all.clear();
        n
    } else {
        ids.iter().filter(|i| all.remove(*i).is_some()).count()
    };
    let status = if freed == 0 && !ids.is_empty() {
        404
    } else {
        200
    };
    Ok(Reply::json(
        status,
        json!({"succeeded": true, "num_freed": freed}),
    ))
}

/// `GET/POST /<index>/_count`.
pub fn count(app: &App, req: &Request, expr: &str) -> Result<Reply, EsError> {
    let body = req.json()?;
    let mut query = None;
    if let Some(b) = &body {
        let obj = b
            .as_object()
            .ok_or_else(|| EsError::parsing("request body must be an object"))?;
        for (k, v) in obj {
            match k.as_str() {
                "query" => query = Some(v.clone()),
                other => {
                    return Err(EsError::parsing(format!(
                        "request does not support [{other}]"
                    )))
                }
            }
        }
    }
    if let Some(q) = req.param("q") {
        query = Some(json!({"query_string": {"query": q}}));
    }
    let targets = targets(app, req, expr)?;
    let n = search::count(&targets, query.as_ref())?;
    let shards = targets.len();
    Ok(Reply::ok(json!({
        "count": n,
        "_shards": {"total": shards, "successful": shards, "skipped": 0, "failed": 0},
    })))
}

/// `POST /<index>/_delete_by_query`.
pub fn delete_by_query(app: &App, req: &Request, expr: &str) -> Result<Reply, EsError> {
    let started = Instant::now();
    if req.param("wait_for_completion") == Some("false") {
        return Err(EsError::unsupported(
            "asynchronous delete_by_query (wait_for_completion=false)",
        ));
    }
    let refresh = Refresh::of(req)?;
    let body = req.json()?.ok_or_else(|| {
        EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: query is missing;",
        )
    })?;
    let query = body.get("query").cloned().ok_or_else(|| {
        EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: query is missing;",
        )
    })?;
    if let Some(other) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "query" && *k != "max_docs"))
    {
        return Err(EsError::parsing(format!(
            "[delete_by_query] unknown field [{other}]"
        )));
    }
    let max_docs = body
        .get("max_docs")
        .and_then(Value::as_u64)
        .or_else(|| req.param("max_docs").and_then(|m| m.parse().ok()))
        .unwrap_or(u64::MAX);
    let mut deleted = 0u64;
    let mut total = 0u64;
    for target in targets(app, req, expr)? {
        for id in search::matching_ids(&target, &query)? {
            if total >= max_docs {
                break;
            }
            total += 1;
            if let crate::store::index::Outcome::Deleted(_) =
                target.index.delete_doc(&id, &Condition::default())?
            {
                deleted += 1;
            }
        }
        target.index.sync()?;
        if refresh == Refresh::Now {
            target.index.refresh()?;
        }
    }
    Ok(Reply::ok(json!({
        "took": started.elapsed().as_millis() as u64,
        "timed_out": false,
        "total": total,
        "deleted": deleted,
        "batches": u64::from(total > 0),
        "version_conflicts": 0,
        "noops": 0,
        "retries": {"bulk": 0, "search": 0},
        "throttled_millis": 0,
        "requests_per_second": -1.0,
        "throttled_until_millis": 0,
        "failures": [],
    })))
}

/// `POST /_reindex`: copies the documents of source indices matching a query into a
/// destination index, synchronously.
pub fn reindex(app: &App, req: &Request) -> Result<Reply, EsError> {
    let started = Instant::now();
    if req.param("wait_for_completion") == Some("false") {
        return Err(EsError::unsupported(
            "asynchronous reindex (wait_for_completion=false)",
        ));
    }
    let refresh = Refresh::of(req)?;
    let body = req.json()?.ok_or_else(|| {
        EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: source is missing;",
        )
    })?;
    for k in body
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        match k.as_str() {
            "source" | "dest" | "conflicts" | "max_docs" | "size" => {}
            "script" => return Err(EsError::unsupported("reindex scripts")),
            other => {
                return Err(EsError::parsing(format!(
                    "[reindex] unknown field [{other}]"
                )))
            }
        }
    }
    let source = body.get("source").cloned().unwrap_or_default();
    if source.get("remote").is_some() {
        return Err(EsError::unsupported("reindex from a remote cluster"));
    }
    let indices: Vec<String> = match source.get("index") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => return Err(EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: use _all if you really want to copy from all existing indexes;",
        )),
    };
    let query = source
        .get("query")
        .cloned()
        .unwrap_or_else(|| json!({"match_all": {}}));
    let filter = match source.get("_source") {
        Some(f) => crate::search::source::SourceFilter::from_body(f)?,
        None => crate::search::source::SourceFilter::default(),
    };
    let dest = body.get("dest").cloned().unwrap_or_default();
    let dest_name = dest.get("index").and_then(Value::as_str).ok_or_else(|| {
        EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: index must be specified;",
        )
    })?;
    if dest.get("pipeline").is_some() {
        return Err(EsError::unsupported("ingest pipelines"));
    }
    let create_only = dest.get("op_type").and_then(Value::as_str) == Some("create");
    let proceed = body.get("conflicts").and_then(Value::as_str) == Some("proceed");
    let max_docs = body
        .get("max_docs")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    let targets = targets(app, req, &indices.join(","))?;
    if targets.iter().any(|t| t.index.name == dest_name) {
        return Err(EsError::new(400, "action_request_validation_exception", format!("Validation Failed: 1: reindex cannot write into an index its reading from [{dest_name}];")));
    }
    let dest_index = app.registry.get_or_create(dest_name)?;
    let cond = Condition {
        create_only,
        ..Condition::default()
    };
    let (mut total, mut created, mut updated, mut conflicts) = (0u64, 0u64, 0u64, 0u64);
    let mut failures = Vec::new();
    'outer: for t in &targets {
        for (id, bytes) in search::matching_docs(t, &query)? {
            if total >= max_docs {
                break 'outer;
            }
            total += 1;
            let doc = if filter.is_identity() {
                bytes.to_vec()
            } else {
                let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                serde_json::to_vec(&filter.apply(&v).unwrap_or(Value::Null)).unwrap_or_default()
            };
            match dest_index.index_doc(&id, doc, &cond) {
                Ok(crate::store::index::Outcome::Created(_)) => created += 1,
                Ok(_) => updated += 1,
                Err(e) if e.status == 409 => {
                    conflicts += 1;
                    if !proceed {
                        failures.push(json!({"index": dest_name, "id": id, "cause": e.to_item_json(), "status": 409}));
                        break 'outer;
                    }
                }
                Err(e) => {
                    failures.push(json!({"index": dest_name, "id": id, "cause": e.to_item_json(), "status": e.status}));
                    break 'outer;
                }
            }
        }
    }
    dest_index.sync()?;
    if refresh == Refresh::Now {
        dest_index.refresh()?;
    }
    Ok(Reply::ok(json!({
        "took": started.elapsed().as_millis() as u64,
        "timed_out": false,
        "total": total,
        "updated": updated,
        "created": created,
        "deleted": 0,
        "batches": u64::from(total > 0),
        "version_conflicts": conflicts,
        "noops": 0,
        "retries": {"bulk": 0, "search": 0},
        "throttled_millis": 0,
        "requests_per_second": -1.0,
        "throttled_until_millis": 0,
        "failures": failures,
    })))
}

/// `GET/POST [/<index>]/_msearch`: newline-delimited header and body pairs, each answered
/// in `responses` (a failing search answers its error in place).
pub fn msearch(app: &App, req: &Request, default_index: Option<&str>) -> Result<Reply, EsError> {
    let started = Instant::now();
    let lines: Vec<&[u8]> = req
        .body
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    if !lines.len().is_multiple_of(2) {
        return Err(EsError::illegal_argument(
            "The msearch request must be terminated by a newline [\\n]",
        ));
    }
    let mut responses = Vec::new();
    for pair in lines.chunks(2) {
        let header: Value = serde_json::from_slice(pair[0])
            .map_err(|e| EsError::bad_json(format!("msearch header: {e}")))?;
        let body: Value = serde_json::from_slice(pair[1])
            .map_err(|e| EsError::bad_json(format!("msearch body: {e}")))?;
        let index = match header.get("index") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(","),
            _ => default_index.unwrap_or("_all").to_string(),
        };
        let result = SearchRequest::parse(Some(&body), &req.params)
            .and_then(|r| search::search(&targets(app, req, &index)?, &r, app.flavor));
        responses.push(match result {
            Ok(mut v) => {
                v["status"] = json!(200);
                v
            }
            Err(e) => {
                let mut v = e.to_json();
                v["status"] = json!(e.status);
                v
            }
        });
    }
    Ok(Reply::ok(
        json!({"took": started.elapsed().as_millis() as u64, "responses": responses}),
    ))
}
