//! `_cluster/health`: a single node whose primaries are always active and whose replicas can
//! never be assigned (yellow when an index asks for replicas, as a one-node Elasticsearch).

use serde_json::{json, Map, Value};

use super::cat::{index_health, replicas};
use super::{App, Reply, Request};
use crate::error::EsError;

fn rank(status: &str) -> u8 {
    match status {
        "green" => 2,
        "yellow" => 1,
        _ => 0,
    }
}

/// The health object of the cluster (or of the indices `expr` names).
pub fn health_body(app: &App, expr: Option<&str>) -> Result<Value, EsError> {
    let indices = app.registry.resolve(expr.unwrap_or("_all"), false)?;
    let primaries = indices.len() as u64;
    let unassigned: u64 = indices.iter().map(|i| replicas(i)).sum();
    let status = if unassigned > 0 { "yellow" } else { "green" };
    let total = primaries + unassigned;
    let percent = if total == 0 {
        100.0
    } else {
        primaries as f64 * 100.0 / total as f64
    };
    Ok(json!({
        "cluster_name": app.cluster_name,
        "status": status,
        "timed_out": false,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": primaries,
        "active_shards": primaries,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": unassigned,
        "unassigned_primary_shards": 0,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": percent,
    }))
}

/// `GET /_cluster/health[/<index>]`.
pub fn health(app: &App, req: &Request, expr: Option<&str>) -> Result<Reply, EsError> {
    let mut body = health_body(app, expr)?;
    if req.param("level") == Some("indices") {
        let mut per = Map::new();
        for i in app.registry.resolve(expr.unwrap_or("_all"), false)? {
            per.insert(
                i.name.clone(),
                json!({"status": index_health(&i), "number_of_shards": 1, "number_of_replicas": replicas(&i),
                       "active_primary_shards": 1, "active_shards": 1, "relocating_shards": 0,
                       "initializing_shards": 0, "unassigned_shards": replicas(&i)}),
            );
        }
        body["indices"] = Value::Object(per);
    }
    if let Some(wanted) = req.param("wait_for_status") {
        if !["green", "yellow", "red"].contains(&wanted) {
            return Err(EsError::illegal_argument(format!(
                "unknown cluster health status [{wanted}]"
            )));
        }
        let status = body["status"].as_str().unwrap_or("red");
        if rank(status) < rank(wanted) {
            // A single node never assigns replicas: waiting cannot help, so answer the
            // timeout Elasticsearch would answer after `timeout`, at once.
            body["timed_out"] = json!(true);
            return Ok(Reply::json(408, body));
        }
    }
    Ok(Reply::ok(body))
}
