//! `_bulk`: newline-delimited index, create, update and delete actions, each answered in
//! `items`, made durable together before the response.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};

use super::documents::{apply_update, write_body, Refresh, UpdateResult};
use super::{App, Reply, Request};
use crate::error::EsError;
use crate::store::index::{Condition, SearchIndex};
use crate::store::registry::random_id;

fn lines(body: &[u8]) -> Vec<&[u8]> {
    body.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect()
}

fn malformed(line: usize, what: &str) -> EsError {
    EsError::illegal_argument(format!("Malformed action/metadata line [{line}], {what}"))
}

struct Action {
    op: String,
    index: String,
    id: Option<String>,
    cond: Condition,
    retries: usize,
}

fn parse_action(
    line_no: usize,
    line: &[u8],
    default_index: Option<&str>,
) -> Result<Action, EsError> {
    let v: Value = serde_json::from_slice(line).map_err(|_| {
        malformed(
            line_no,
            "expected START_OBJECT or END_OBJECT but found [VALUE_STRING]",
        )
    })?;
    let obj = v
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| malformed(line_no, "expected a single action"))?;
    let (op, meta) = obj
        .iter()
        .next()
        .ok_or_else(|| malformed(line_no, "expected a single action"))?;
    if !["index", "create", "update", "delete"].contains(&op.as_str()) {
        return Err(EsError::illegal_argument(format!(
            "Malformed action/metadata line [{line_no}], expected field [create], [delete], [index] or [update] but found [{op}]"
        )));
    }
    let meta = meta
        .as_object()
        .ok_or_else(|| malformed(line_no, "expected START_OBJECT"))?;
    let mut action = Action {
        op: op.clone(),
        index: String::new(),
        id: None,
        cond: Condition {
            create_only: op == "create",
            ..Condition::default()
        },
        retries: 0,
    };
    let mut index = default_index.map(String::from);
    for (k, v) in meta {
        match k.as_str() {
            "_index" => index = v.as_str().map(String::from),
            "_id" => {
                action.id = Some(
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string()),
                )
            }
            "if_seq_no" => action.cond.if_seq_no = v.as_u64(),
            "if_primary_term" => action.cond.if_primary_term = v.as_u64(),
            "retry_on_conflict" => action.retries = v.as_u64().unwrap_or(0) as usize,
            "routing" | "require_alias" | "_source" | "dynamic_templates" => {}
            "op_type" => action.cond.create_only = v.as_str() == Some("create"),
            "pipeline" => return Err(EsError::unsupported("ingest pipelines")),
            "version" | "version_type" => {
                return Err(EsError::unsupported(
                    "external versioning (version / version_type)",
                ))
            }
            "_type" => {}
            other => {
                return Err(EsError::illegal_argument(format!(
                    "Action/metadata line [{line_no}] contains an unknown parameter [{other}]"
                )))
            }
        }
    }
    action.index = index.ok_or_else(|| {
        EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: index is missing;",
        )
    })?;
    Ok(action)
}

fn item_error(app: &App, index: &str, id: &str, e: &EsError) -> Value {
    let mut m = Map::new();
    m.insert("_index".into(), json!(index));
    if app.flavor.has_types() {
        m.insert("_type".into(), json!("_doc"));
    }
    m.insert("_id".into(), json!(id));
    m.insert("status".into(), json!(e.status));
    m.insert("error".into(), e.to_item_json());
    Value::Object(m)
}

/// `POST /_bulk`, `POST /<index>/_bulk`.
pub fn bulk(app: &App, req: &Request, default_index: Option<&str>) -> Result<Reply, EsError> {
    let started = Instant::now();
    let refresh = Refresh::of(req)?;
    if req.param("pipeline").is_some_and(|p| p != "_none") {
        return Err(EsError::unsupported("ingest pipelines"));
    }
    let lines = lines(&req.body);
    if lines.is_empty() {
        return Err(EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added;",
        ));
    }
    let mut items = Vec::new();
    let mut errors = false;
    let mut touched: BTreeMap<String, Arc<SearchIndex>> = BTreeMap::new();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let action = parse_action(line_no, lines[i], default_index)?;
        i += 1;
        let source = if action.op == "delete" {
            None
        } else {
            let s = lines.get(i).ok_or_else(|| {
                EsError::illegal_argument("The bulk request must be terminated by a newline [\\n]")
            })?;
            i += 1;
            Some(*s)
        };
        let id = match (&action.id, action.op.as_str()) {
            (Some(id), _) => id.clone(),
            (None, "index" | "create") => random_id(15),
            (None, _) => {
                let e = EsError::new(
                    400,
                    "action_request_validation_exception",
                    "Validation Failed: 1: id is missing;",
                );
                items.push(json!({ action.op.clone(): item_error(app, &action.index, "", &e) }));
                errors = true;
                continue;
            }
        };
        let result = run(app, &action, &id, source, &mut touched);
        let item = match result {
            Ok(v) => v,
            Err(e) => {
                errors = true;
                item_error(app, &action.index, &id, &e)
            }
        };
        items.push(json!({ action.op.clone(): item }));
    }
    for index in touched.values() {
        index.sync()?;
        if refresh == Refresh::Now {
            index.refresh()?;
        }
    }
    Ok(Reply::ok(json!({
        "took": started.elapsed().as_millis() as u64,
        "errors": errors,
        "items": items,
    })))
}

fn run(
    app: &App,
    action: &Action,
    id: &str,
    source: Option<&[u8]>,
    touched: &mut BTreeMap<String, Arc<SearchIndex>>,
) -> Result<Value, EsError> {
    let index = match action.op.as_str() {
        "delete" => app.registry.get(&action.index)?,
        _ => app.registry.get_or_create(&action.index)?,
    };
    touched.insert(index.name.clone(), index.clone());
    let mut body = match action.op.as_str() {
        "index" | "create" => {
            let outcome = index.index_doc(id, source.unwrap_or_default().to_vec(), &action.cond)?;
            let mut b = write_body(app, &index, id, outcome.result(), outcome.stamp(), None);
            b.insert("status".into(), json!(outcome.status()));
            b
        }
        "delete" => {
            let outcome = index.delete_doc(id, &action.cond)?;
            let mut b = write_body(app, &index, id, outcome.result(), outcome.stamp(), None);
            b.insert("status".into(), json!(outcome.status()));
            b
        }
        _ => {
            let body: Value = serde_json::from_slice(source.unwrap_or_default())
                .map_err(|e| EsError::bad_json(format!("failed to parse update: {e}")))?;
            match apply_update(&index, id, &body, &action.cond, action.retries)? {
                UpdateResult::Written(outcome, _) => {
                    let mut b =
                        write_body(app, &index, id, outcome.result(), outcome.stamp(), None);
                    b.insert("status".into(), json!(outcome.status()));
                    b
                }
                UpdateResult::Noop(stamp, _) => {
                    let mut b = write_body(
                        app,
                        &index,
                        id,
                        "noop",
                        stamp,
                        Some(json!({"total": 0, "successful": 0, "failed": 0})),
                    );
                    b.insert("status".into(), json!(200));
                    b
                }
            }
        }
    };
    body.remove("forced_refresh");
    Ok(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_and_unknown_ones_fail() {
        let a = parse_action(1, br#"{"index": {"_index": "p", "_id": "1"}}"#, None).unwrap();
        assert_eq!(
            (a.op.as_str(), a.index.as_str(), a.id.as_deref()),
            ("index", "p", Some("1"))
        );
        let a = parse_action(1, br#"{"create": {"_id": 7}}"#, Some("d")).unwrap();
        assert!(a.cond.create_only);
        assert_eq!(a.id.as_deref(), Some("7"));
        assert!(parse_action(1, br#"{"upsert": {}}"#, Some("d")).is_err());
        assert!(parse_action(1, br#"{"index": {}}"#, None).is_err());
        assert_eq!(lines(b"a\n\nb\r\n").len(), 2);
    }
}
