//! Document APIs: index (with or without an id, `op_type=create`), get, `_source`, delete,
//! partial update (`doc`, `doc_as_upsert`, `upsert`) and `_mget`; and the write-response
//! shape and `refresh` handling they share with `_bulk`.

use serde_json::{json, Map, Value};

use super::{App, Reply, Request};
use crate::error::EsError;
use crate::search::source::SourceFilter;
use crate::store::document::Stamp;
use crate::store::index::{Condition, Outcome, SearchIndex, StoredDoc};
use crate::store::registry::random_id;

/// What `?refresh=` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Nothing.
    No,
    /// Refresh before answering (`true`, or `wait_for`, which a refresh satisfies at once).
    Now,
}

impl Refresh {
    /// The `refresh` parameter of `req`.
    pub fn of(req: &Request) -> Result<Refresh, EsError> {
        match req.param("refresh") {
            None | Some("false") => Ok(Refresh::No),
            Some("") | Some("true") | Some("wait_for") => Ok(Refresh::Now),
            Some(other) => Err(EsError::illegal_argument(format!(
                "Unknown value for refresh: [{other}]."
            ))),
        }
    }
}

/// The `_shards` object of a write to `index`.
pub fn shards(index: &SearchIndex) -> Value {
    let replicas = index
        .state()
        .settings
        .get_u64("number_of_replicas")
        .ok()
        .flatten()
        .unwrap_or(1);
    json!({"total": 1 + replicas, "successful": 1, "failed": 0})
}

/// The body of a write response (also a bulk item).
pub fn write_body(
    app: &App,
    index: &SearchIndex,
    id: &str,
    result: &str,
    stamp: Stamp,
    shards_total: Option<Value>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("_index".into(), json!(index.name));
    if app.flavor.has_types() {
        m.insert("_type".into(), json!("_doc"));
    }
    m.insert("_id".into(), json!(id));
    m.insert("_version".into(), json!(stamp.version));
    m.insert("result".into(), json!(result));
    m.insert(
        "_shards".into(),
        shards_total.unwrap_or_else(|| shards(index)),
    );
    m.insert("_seq_no".into(), json!(stamp.seq_no));
    m.insert("_primary_term".into(), json!(1));
    m
}

/// Reads `if_seq_no` / `if_primary_term` (and `op_type`) from URL parameters.
pub fn condition(req: &Request, create_only: bool) -> Result<Condition, EsError> {
    let num = |k: &str| -> Result<Option<u64>, EsError> {
        req.param(k)
            .map(|v| {
                v.parse().map_err(|_| {
                    EsError::illegal_argument(format!("[{k}] must be a number, got [{v}]"))
                })
            })
            .transpose()
    };
    if req.param("version").is_some() || req.param("version_type").is_some_and(|v| v != "internal")
    {
        return Err(EsError::unsupported(
            "external versioning (version / version_type)",
        ));
    }
    let create_only = create_only
        || match req.param("op_type") {
            None | Some("index") => false,
            Some("create") => true,
            Some(other) => {
                return Err(EsError::illegal_argument(format!(
                    "opType must be 'create' or 'index', found: [{other}]"
                )))
            }
        };
    Ok(Condition {
        create_only,
        if_seq_no: num("if_seq_no")?,
        if_primary_term: num("if_primary_term")?,
    })
}

fn check_pipeline(req: &Request) -> Result<(), EsError> {
    if req.param("pipeline").is_some_and(|p| p != "_none") {
        return Err(EsError::unsupported("ingest pipelines"));
    }
    Ok(())
}

/// `PUT/POST /<index>/_doc[/<id>]`, `PUT /<index>/_create/<id>`.
pub fn index(
    app: &App,
    req: &Request,
    name: &str,
    id: Option<&str>,
    create: bool,
) -> Result<Reply, EsError> {
    check_pipeline(req)?;
    let refresh = Refresh::of(req)?;
    let cond = condition(req, create)?;
    let index = app.registry.get_or_create(name)?;
    let id = match id {
        Some(id) => id.to_string(),
        None => random_id(15),
    };
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: source is missing;",
        ));
    }
    let outcome = index.index_doc(&id, req.body.clone(), &cond)?;
    index.sync()?;
    let mut body = write_body(app, &index, &id, outcome.result(), outcome.stamp(), None);
    if refresh == Refresh::Now {
        index.refresh()?;
        body.insert("forced_refresh".into(), json!(true));
    }
    Ok(Reply::json(outcome.status(), Value::Object(body)))
}

fn source_filter(req: &Request) -> SourceFilter {
    let mut f = SourceFilter::default();
    f.apply_params(
        req.param("_source"),
        req.param("_source_includes"),
        req.param("_source_excludes"),
    );
    f
}

fn get_body(
    app: &App,
    index: &SearchIndex,
    id: &str,
    doc: Option<&StoredDoc>,
    filter: &SourceFilter,
) -> Value {
    let mut m = Map::new();
    m.insert("_index".into(), json!(index.name));
    if app.flavor.has_types() {
        m.insert("_type".into(), json!("_doc"));
    }
    m.insert("_id".into(), json!(id));
    match doc {
        Some(d) => {
            m.insert("_version".into(), json!(d.stamp.version));
            m.insert("_seq_no".into(), json!(d.stamp.seq_no));
            m.insert("_primary_term".into(), json!(1));
            m.insert("found".into(), json!(true));
            let source: Value = serde_json::from_slice(&d.source).unwrap_or(Value::Null);
            if let Some(s) = filter.apply(&source) {
                m.insert("_source".into(), s);
            }
        }
        None => {
            m.insert("found".into(), json!(false));
        }
    }
    Value::Object(m)
}

/// `GET /<index>/_doc/<id>` and `GET /<index>/_source/<id>`.
pub fn get(
    app: &App,
    req: &Request,
    name: &str,
    id: &str,
    source_only: bool,
) -> Result<Reply, EsError> {
    let index = app.registry.get(name)?;
    if req.param("realtime") == Some("false") {
        // A non-real-time get reads the last refresh.
        let doc = index.stored(&index.searcher(), id)?;
        return Ok(get_reply(
            app,
            &index,
            id,
            doc.as_ref(),
            &source_filter(req),
            source_only,
        ));
    }
    let doc = index.get(id)?;
    if req.flag("refresh") {
        index.refresh()?;
    }
    Ok(get_reply(
        app,
        &index,
        id,
        doc.as_ref(),
        &source_filter(req),
        source_only,
    ))
}

fn get_reply(
    app: &App,
    index: &SearchIndex,
    id: &str,
    doc: Option<&StoredDoc>,
    filter: &SourceFilter,
    source_only: bool,
) -> Reply {
    if source_only {
        return match doc {
            Some(d) => {
                let source: Value = serde_json::from_slice(&d.source).unwrap_or(Value::Null);
                Reply::ok(filter.apply(&source).unwrap_or(Value::Null))
            }
            None => Reply::error(&EsError::new(
                404,
                "resource_not_found_exception",
                format!("Document not found [{}]/[_doc]/[{id}]", index.name),
            )),
        };
    }
    let body = get_body(app, index, id, doc, filter);
    Reply::json(if doc.is_some() { 200 } else { 404 }, body)
}

/// `DELETE /<index>/_doc/<id>`.
pub fn delete(app: &App, req: &Request, name: &str, id: &str) -> Result<Reply, EsError> {
    let refresh = Refresh::of(req)?;
    let cond = condition(req, false)?;
    let index = app.registry.get(name)?;
    let outcome = index.delete_doc(id, &cond)?;
    index.sync()?;
    let mut body = write_body(app, &index, id, outcome.result(), outcome.stamp(), None);
    if refresh == Refresh::Now {
        index.refresh()?;
        body.insert("forced_refresh".into(), json!(true));
    }
    Ok(Reply::json(outcome.status(), Value::Object(body)))
}

/// Merges `patch` into `base` as Elasticsearch's partial update does: objects merge
/// recursively, everything else is replaced.
pub fn deep_merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// The result of a partial update.
pub enum UpdateResult {
    /// A write happened.
    Written(Outcome, Value),
    /// The document already had the values.
    Noop(Stamp, Value),
}

/// Applies an update body (`doc`, `doc_as_upsert`, `upsert`) to document `id`, retrying
/// `retries` times when a concurrent write changes the document between read and write.
pub fn apply_update(
    index: &SearchIndex,
    id: &str,
    body: &Value,
    cond: &Condition,
    retries: usize,
) -> Result<UpdateResult, EsError> {
    let obj = body
        .as_object()
        .ok_or_else(|| EsError::parsing("update request body must be an object"))?;
    for k in obj.keys() {
        match k.as_str() {
            "doc" | "doc_as_upsert" | "upsert" | "detect_noop" | "_source" | "scripted_upsert" => {}
            "script" => {
                return Err(EsError::unsupported(
                    "scripted updates (use a partial `doc` update instead)",
                ))
            }
            other => {
                return Err(EsError::parsing(format!(
                    "[UpdateRequest] unknown field [{other}]"
                )))
            }
        }
    }
    let mut attempt = 0;
    loop {
        match update_once(index, id, obj, cond) {
            Err(e) if e.status == 409 && attempt < retries && cond.if_seq_no.is_none() => {
                attempt += 1
            }
            other => return other,
        }
    }
}

fn update_once(
    index: &SearchIndex,
    id: &str,
    obj: &Map<String, Value>,
    cond: &Condition,
) -> Result<UpdateResult, EsError> {
    let doc = obj.get("doc");
    let current = index.get(id)?;
    let Some(current) = current else {
        let upsert = if obj.get("doc_as_upsert").and_then(Value::as_bool) == Some(true) {
            doc
        } else {
            obj.get("upsert")
        };
        let Some(new) = upsert else {
            return Err(EsError::new(
                404,
                "document_missing_exception",
                format!("[{id}]: document missing"),
            )
            .with("index_uuid", index.uuid.as_str())
            .with("shard", "0")
            .with("index", index.name.as_str()));
        };
        let bytes = serde_json::to_vec(new).map_err(|e| EsError::internal(e.to_string()))?;
        let create = Condition {
            create_only: true,
            ..*cond
        };
        let outcome = index.index_doc(id, bytes, &create)?;
        return Ok(UpdateResult::Written(outcome, new.clone()));
    };
    let doc = doc.ok_or_else(|| {
        EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: script or doc is missing;",
        )
    })?;
    let mut merged: Value = serde_json::from_slice(&current.source).unwrap_or_else(|_| json!({}));
    let before = merged.clone();
    deep_merge(&mut merged, doc);
    let detect_noop = obj
        .get("detect_noop")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if detect_noop && merged == before {
        return Ok(UpdateResult::Noop(current.stamp, merged));
    }
    let bytes = serde_json::to_vec(&merged).map_err(|e| EsError::internal(e.to_string()))?;
    let guarded = Condition {
        create_only: false,
        if_seq_no: Some(cond.if_seq_no.unwrap_or(current.stamp.seq_no)),
        if_primary_term: Some(cond.if_primary_term.unwrap_or(1)),
    };
    let outcome = index.index_doc(id, bytes, &guarded)?;
    Ok(UpdateResult::Written(outcome, merged))
}

/// `POST /<index>/_update/<id>`.
pub fn update(app: &App, req: &Request, name: &str, id: &str) -> Result<Reply, EsError> {
    let refresh = Refresh::of(req)?;
    let cond = condition(req, false)?;
    let body = req.json()?.ok_or_else(|| {
        EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: script or doc is missing;",
        )
    })?;
    let index = app.registry.get_or_create(name)?;
    let want_source = body
        .get("_source")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || req.param("_source") == Some("true");
    let retries = req
        .param("retry_on_conflict")
        .map(|r| {
            r.parse().map_err(|_| {
                EsError::illegal_argument(format!(
                    "[retry_on_conflict] must be a number, got [{r}]"
                ))
            })
        })
        .transpose()?
        .unwrap_or(0);
    let (status, mut out, source) = match apply_update(&index, id, &body, &cond, retries)? {
        UpdateResult::Written(outcome, source) => {
            index.sync()?;
            (
                outcome.status(),
                write_body(app, &index, id, outcome.result(), outcome.stamp(), None),
                source,
            )
        }
        UpdateResult::Noop(stamp, source) => (
            200,
            write_body(
                app,
                &index,
                id,
                "noop",
                stamp,
                Some(json!({"total": 0, "successful": 0, "failed": 0})),
            ),
            source,
        ),
    };
    if want_source {
        out.insert("get".into(), json!({"found": true, "_source": source}));
    }
    if refresh == Refresh::Now {
        index.refresh()?;
        out.insert("forced_refresh".into(), json!(true));
    }
    Ok(Reply::json(status, Value::Object(out)))
}

/// `GET /_mget`, `GET /<index>/_mget`.
pub fn mget(app: &App, req: &Request, default_index: Option<&str>) -> Result<Reply, EsError> {
    let body = req.json()?.ok_or_else(|| {
        EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: no documents to get;",
        )
    })?;
    let mut specs: Vec<(String, String, SourceFilter)> = Vec::new();
    let base_filter = source_filter(req);
    if let Some(ids) = body.get("ids").and_then(Value::as_array) {
        let index =
            default_index.ok_or_else(|| EsError::illegal_argument("ids given without an index"))?;
        for id in ids {
            specs.push((
                index.to_string(),
                id.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| id.to_string()),
                base_filter.clone(),
            ));
        }
    } else if let Some(docs) = body.get("docs").and_then(Value::as_array) {
        for d in docs {
            let index = d
                .get("_index")
                .and_then(Value::as_str)
                .or(default_index)
                .ok_or_else(|| {
                    EsError::new(
                        400,
                        "action_request_validation_exception",
                        "Validation Failed: 1: index is missing for doc 0;",
                    )
                })?;
            let id = d
                .get("_id")
                .map(|v| {
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string())
                })
                .ok_or_else(|| {
                    EsError::new(
                        400,
                        "action_request_validation_exception",
                        "Validation Failed: 1: id is missing for doc 0;",
                    )
                })?;
            let filter = match d.get("_source") {
                Some(s) => SourceFilter::from_body(s)?,
                None => base_filter.clone(),
            };
            specs.push((index.to_string(), id, filter));
        }
    } else {
        return Err(EsError::parsing(
            "unexpected content in mget request: expected [docs] or [ids]",
        ));
    }
    let mut docs = Vec::new();
    for (index, id, filter) in specs {
        match app.registry.get(&index) {
            Ok(i) => {
                let doc = i.get(&id)?;
                docs.push(get_body(app, &i, &id, doc.as_ref(), &filter));
            }
            Err(e) => docs.push(json!({"_index": index, "_id": id, "error": e.to_item_json()})),
        }
    }
    Ok(Reply::ok(json!({"docs": docs})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_updates_merge_objects_and_replace_the_rest() {
        let mut base = json!({"a": 1, "o": {"x": 1, "y": 2}, "l": [1, 2]});
        deep_merge(
            &mut base,
            &json!({"o": {"y": 3, "z": 4}, "l": [9], "n": "new"}),
        );
        assert_eq!(
            base,
            json!({"a": 1, "o": {"x": 1, "y": 3, "z": 4}, "l": [9], "n": "new"})
        );
    }
}
