//! `_cat` APIs (`indices`, `health`, `count`): aligned text tables, or JSON with
//! `format=json`, with `v`, `h` and `s` as Elasticsearch reads them.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::{App, Body, Reply, Request};
use crate::error::EsError;
use crate::store::index::SearchIndex;

/// The health of one index on a single node: replicas can never be assigned.
pub fn index_health(index: &SearchIndex) -> &'static str {
    let replicas = index
        .state()
        .settings
        .get_u64("number_of_replicas")
        .ok()
        .flatten()
        .unwrap_or(1);
    if replicas > 0 {
        "yellow"
    } else {
        "green"
    }
}

/// The replica count of an index.
pub fn replicas(index: &SearchIndex) -> u64 {
    index
        .state()
        .settings
        .get_u64("number_of_replicas")
        .ok()
        .flatten()
        .unwrap_or(1)
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["b", "kb", "mb", "gb", "tb"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}b")
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}

fn table(req: &Request, columns: &[&str], rows: Vec<Vec<String>>) -> Result<Reply, EsError> {
    let selected: Vec<usize> = match req.param("h") {
        Some(h) => h
            .split(',')
            .map(|name| {
                columns
                    .iter()
                    .position(|c| *c == name.trim())
                    .ok_or_else(|| {
                        EsError::illegal_argument(format!("header [{name}] is not a valid header"))
                    })
            })
            .collect::<Result<_, _>>()?,
        None => (0..columns.len()).collect(),
    };
    let mut rows = rows;
    if let Some(s) = req.param("s") {
        for key in s.split(',').rev() {
            let (name, desc) = match key.split_once(':') {
                Some((n, o)) => (n, o == "desc"),
                None => (key, false),
            };
            if let Some(col) = columns.iter().position(|c| *c == name) {
                rows.sort_by(|a, b| {
                    let o = match (a[col].parse::<f64>(), b[col].parse::<f64>()) {
                        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                        _ => a[col].cmp(&b[col]),
                    };
                    if desc {
                        o.reverse()
                    } else {
                        o
                    }
                });
            }
        }
    }
    if req.param("format") == Some("json") {
        let list: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut m = Map::new();
                for &c in &selected {
                    m.insert(columns[c].to_string(), json!(r[c]));
                }
                Value::Object(m)
            })
            .collect();
        return Ok(Reply::ok(Value::Array(list)));
    }
    let mut all: Vec<Vec<String>> = Vec::new();
    if req.flag("v") {
        all.push(selected.iter().map(|&c| columns[c].to_string()).collect());
    }
    for r in &rows {
        all.push(selected.iter().map(|&c| r[c].clone()).collect());
    }
    let widths: Vec<usize> = (0..selected.len())
        .map(|i| all.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for r in all {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        text.push_str(cells.join(" ").trim_end());
        text.push('\n');
    }
    Ok(Reply {
        status: 200,
        body: Body::Text(text),
    })
}

/// `GET /_cat/indices[/<index>]`.
pub fn indices(app: &App, req: &Request, expr: Option<&str>) -> Result<Reply, EsError> {
    let columns = [
        "health",
        "status",
        "index",
        "uuid",
        "pri",
        "rep",
        "docs.count",
        "docs.deleted",
        "store.size",
        "pri.store.size",
    ];
    let mut rows = Vec::new();
    for index in app.registry.resolve(expr.unwrap_or("_all"), false)? {
        let searcher = index.searcher();
        let deleted: u64 = searcher
            .segment_readers()
            .iter()
            .map(|s| u64::from(s.num_deleted_docs()))
            .sum();
        let size = dir_size(index.dir());
        let bytes = if req.param("bytes") == Some("b") {
            size.to_string()
        } else {
            human_bytes(size)
        };
        rows.push(vec![
            index_health(&index).to_string(),
            "open".to_string(),
            index.name.clone(),
            index.uuid.clone(),
            "1".to_string(),
            replicas(&index).to_string(),
            searcher.num_docs().to_string(),
            deleted.to_string(),
            bytes.clone(),
            bytes,
        ]);
    }
    table(req, &columns, rows)
}

/// `GET /_cat/health`.
pub fn health(app: &App, req: &Request) -> Result<Reply, EsError> {
    let h = super::cluster::health_body(app, None)?;
    let now = chrono::Utc::now();
    let s = |k: &str| h[k].to_string().trim_matches('"').to_string();
    let row = vec![
        now.timestamp().to_string(),
        now.format("%H:%M:%S").to_string(),
        app.cluster_name.clone(),
        s("status"),
        "1".into(),
        "1".into(),
        s("active_shards"),
        s("active_primary_shards"),
        "0".into(),
        "0".into(),
        s("unassigned_shards"),
        "0".into(),
        "-".into(),
        format!("{}%", s("active_shards_percent_as_number")),
    ];
    table(
        req,
        &[
            "epoch",
            "timestamp",
            "cluster",
            "status",
            "node.total",
            "node.data",
            "shards",
            "pri",
            "relo",
            "init",
            "unassign",
            "pending_tasks",
            "max_task_wait_time",
            "active_shards_percent",
        ],
        vec![row],
    )
}

/// `GET /_cat/count[/<index>]`.
pub fn count(app: &App, req: &Request, expr: Option<&str>) -> Result<Reply, EsError> {
    let total: u64 = app
        .registry
        .resolve(expr.unwrap_or("_all"), false)?
        .iter()
        .map(|i| i.searcher().num_docs())
        .sum();
    let now = chrono::Utc::now();
    table(
        req,
        &["epoch", "timestamp", "count"],
        vec![vec![
            now.timestamp().to_string(),
            now.format("%H:%M:%S").to_string(),
            total.to_string(),
        ]],
    )
}

/// `GET /_cat/aliases[/<alias>]`.
pub fn aliases(app: &App, req: &Request, pattern: Option<&str>) -> Result<Reply, EsError> {
    let mut rows = Vec::new();
    for (alias, targets) in app.registry.alias_table() {
        if pattern.is_some_and(|p| {
            !p.split(',')
                .any(|p| crate::mapping::wildcard_match(p, &alias))
        }) {
            continue;
        }
        for (index, t) in targets {
            let write = match t.is_write_index {
                Some(w) => w.to_string(),
                None => "-".to_string(),
            };
            rows.push(vec![
                alias.clone(),
                index,
                "-".into(),
                "-".into(),
                "-".into(),
                write,
            ]);
        }
    }
    table(
        req,
        &[
            "alias",
            "index",
            "filter",
            "routing.index",
            "routing.search",
            "is_write_index",
        ],
        rows,
    )
}
