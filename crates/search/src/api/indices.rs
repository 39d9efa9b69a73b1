//! Index APIs: create, delete, get, exists, mappings, settings, refresh and analyze.

use serde_json::{json, Map, Value};

use super::{App, Reply, Request};
use crate::analysis::Analyzers;
use crate::error::EsError;
use crate::settings::Settings;
use crate::store::aliases::Action;
use crate::store::index::SearchIndex;

/// Settings that would change behaviour vers search cannot reproduce.
const REFUSED_SETTINGS: &[&str] = &[
    "similarity.",
    "sort.",
    "mode",
    "routing_path",
    "time_series.",
    "knn",
];

fn check_settings(settings: &Settings) -> Result<(), EsError> {
    for key in settings.0.keys() {
        if REFUSED_SETTINGS
            .iter()
            .any(|p| key == p.trim_end_matches('.') || key.starts_with(p))
        {
            return Err(EsError::unsupported(format!(
                "the index setting [index.{key}]"
            )));
        }
    }
    for key in [
        "number_of_shards",
        "number_of_replicas",
        "max_result_window",
        "max_ngram_diff",
    ] {
        settings.get_u64(key)?;
    }
    Ok(())
}

/// `PUT /<index>`.
pub fn create(app: &App, req: &Request, name: &str) -> Result<Reply, EsError> {
    if req.flag("include_type_name") {
        return Err(EsError::unsupported("include_type_name"));
    }
    let body = req.json()?.unwrap_or_else(|| json!({}));
    let obj = body
        .as_object()
        .ok_or_else(|| EsError::parsing("request body must be an object"))?;
    let mut settings_json = Value::Null;
    let mut mappings = Value::Null;
    let mut aliases = Vec::new();
    for (k, v) in obj {
        match k.as_str() {
            "settings" => settings_json = v.clone(),
            "mappings" => mappings = v.clone(),
            "aliases" => {
                for (alias, def) in v
                    .as_object()
                    .ok_or_else(|| EsError::parsing("[aliases] must be an object"))?
                {
                    aliases.push((alias.clone(), super::aliases::target_of(def)?));
                }
            }
            other => {
                // Elasticsearch reads a body without `settings` as settings.
                if !obj.contains_key("settings") && !obj.contains_key("mappings") {
                    settings_json = body.clone();
                    break;
                }
                return Err(EsError::parsing(format!(
                    "unknown key [{other}] for create index"
                )));
            }
        }
    }
    let mut settings = Settings::from_json(&settings_json)?;
    check_settings(&settings)?;
    settings
        .0
        .entry("number_of_shards".into())
        .or_insert(json!("1"));
    settings
        .0
        .entry("number_of_replicas".into())
        .or_insert(json!("1"));
    app.registry.create(name, settings, mappings)?;
    let actions: Vec<Action> = aliases
        .into_iter()
        .map(|(alias, target)| Action::Add {
            index: name.to_string(),
            alias,
            target,
        })
        .collect();
    if let Err(e) = app.registry.alias_actions(&actions) {
        app.registry.delete(name)?;
        return Err(e);
    }
    Ok(Reply::ok(
        json!({"acknowledged": true, "shards_acknowledged": true, "index": name}),
    ))
}

/// `DELETE /<index>` (names, lists and wildcards).
pub fn delete(app: &App, req: &Request, expr: &str) -> Result<Reply, EsError> {
    let ignore = req.flag("ignore_unavailable");
    if let Some(alias) = expr.split(',').find(|p| app.registry.is_alias(p)) {
        return Err(EsError::illegal_argument(format!(
            "The provided expression [{alias}] matches an alias, specify the corresponding concrete indices instead."
        )));
    }
    let targets = app.registry.resolve(expr, ignore)?;
    if targets.is_empty() && !expr.contains('*') && !ignore {
        return Err(EsError::index_not_found(expr));
    }
    for t in targets {
        app.registry.delete(&t.name)?;
    }
    Ok(Reply::ok(json!({"acknowledged": true})))
}

fn settings_json(app: &App, index: &SearchIndex) -> Value {
    let state = index.state();
    let mut s = state.settings.to_json();
    if let Some(Value::Object(inner)) = s.get_mut("index") {
        inner.insert(
            "creation_date".into(),
            json!(state.stored.creation_date.to_string()),
        );
        inner.insert("uuid".into(), json!(index.uuid));
        inner.insert("provided_name".into(), json!(index.name));
        inner.insert(
            "version".into(),
            json!({"created": app.flavor.index_version_created()}),
        );
        inner
            .entry("routing")
            .or_insert(json!({"allocation": {"include": {"_tier_preference": "data_content"}}}));
    }
    s
}

fn aliases_json(app: &App, index: &str) -> Value {
    let mut out = Map::new();
    for (alias, t) in app.registry.alias_table() {
        if let Some(target) = t.get(index) {
            let mut def = Map::new();
            if let Some(w) = target.is_write_index {
                def.insert("is_write_index".into(), json!(w));
            }
            out.insert(alias, Value::Object(def));
        }
    }
    Value::Object(out)
}

/// `GET /<index>`.
pub fn get(app: &App, req: &Request, expr: &str) -> Result<Reply, EsError> {
    let mut out = Map::new();
    for index in app.registry.resolve(expr, req.flag("ignore_unavailable"))? {
        let state = index.state();
        out.insert(
            index.name.clone(),
            json!({
                "aliases": aliases_json(app, &index.name),
                "mappings": state.mapping.to_json(),
                "settings": settings_json(app, &index),
            }),
        );
    }
    Ok(Reply::ok(Value::Object(out)))
}

/// `HEAD /<index>`.
pub fn exists(app: &App, _req: &Request, expr: &str) -> Result<Reply, EsError> {
    match app.registry.resolve(expr, false) {
        Ok(list) if !list.is_empty() => Ok(Reply::ok(json!({}))),
        Ok(_) | Err(_) => Ok(Reply::json(404, json!({}))),
    }
}

/// `GET /<index>/_mapping`.
pub fn get_mapping(app: &App, req: &Request, expr: &str) -> Result<Reply, EsError> {
    let mut out = Map::new();
    for index in app.registry.resolve(expr, req.flag("ignore_unavailable"))? {
        out.insert(
            index.name.clone(),
            json!({"mappings": index.state().mapping.to_json()}),
        );
    }
    Ok(Reply::ok(Value::Object(out)))
}

/// `PUT /<index>/_mapping`.
pub fn put_mapping(app: &App, req: &Request, expr: &str) -> Result<Reply, EsError> {
    if req.flag("include_type_name") {
        return Err(EsError::unsupported("include_type_name"));
    }
    let body = req.json()?.ok_or_else(|| {
        EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: mapping source is missing;",
        )
    })?;
    let targets = app.registry.resolve(expr, false)?;
    for index in &targets {
        index.put_mapping(&body)?;
    }
    Ok(Reply::ok(json!({"acknowledged": true})))
}

/// `GET /<index>/_settings`.
pub fn get_settings(app: &App, req: &Request, expr: &str) -> Result<Reply, EsError> {
    let mut out = Map::new();
    for index in app.registry.resolve(expr, req.flag("ignore_unavailable"))? {
        out.insert(
            index.name.clone(),
            json!({"settings": settings_json(app, &index)}),
        );
    }
    Ok(Reply::ok(Value::Object(out)))
}

/// `PUT /<index>/_settings`.
pub fn put_settings(app: &App, req: &Request, expr: &str) -> Result<Reply, EsError> {
    let body = req.json()?.ok_or_else(|| {
        EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: no settings to update;",
        )
    })?;
    let inner = body.get("settings").cloned().unwrap_or(body);
    let update = Settings::from_json(&inner)?;
    check_settings(&update)?;
    for index in app.registry.resolve(expr, false)? {
        index.put_settings(&update)?;
    }
    Ok(Reply::ok(json!({"acknowledged": true})))
}

/// `POST /<index>/_refresh` (and `_flush`).
pub fn refresh(app: &App, req: &Request, expr: &str) -> Result<Reply, EsError> {
    let targets = app.registry.resolve(expr, req.flag("ignore_unavailable"))?;
    for index in &targets {
        index.refresh()?;
    }
    let n = targets.len();
    Ok(Reply::ok(
        json!({"_shards": {"total": n * 2, "successful": n, "failed": 0}}),
    ))
}

fn texts(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// `POST /<index>/_analyze`.
pub fn analyze(app: &App, req: &Request, index: Option<&str>) -> Result<Reply, EsError> {
    let body = req.json()?.unwrap_or_else(|| json!({}));
    let text = body
        .get("text")
        .map(texts)
        .or_else(|| req.param("text").map(|t| vec![t.to_string()]))
        .ok_or_else(|| {
            EsError::new(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: text is missing;",
            )
        })?;
    let state = index
        .map(|i| app.registry.get(i))
        .transpose()?
        .map(|i| i.state());
    let builtin;
    let analyzers: &Analyzers = match &state {
        Some(s) => &s.analyzers,
        None => {
            builtin = Analyzers::from_settings(&json!({}), 1)?;
            &builtin
        }
    };
    let adhoc;
    let analyzer = if let Some(field) = body.get("field").and_then(Value::as_str) {
        let s = state
            .as_ref()
            .ok_or_else(|| EsError::illegal_argument("analyze by field needs an index"))?;
        let f = s
            .mapping
            .field(field)
            .ok_or_else(|| EsError::illegal_argument(format!("field [{field}] is not mapped")))?;
        analyzers.get(&f.analyzer)?.clone()
    } else if let Some(tokenizer) = body.get("tokenizer") {
        let mut analysis = state
            .as_ref()
            .map(|s| s.settings.nested("analysis"))
            .unwrap_or_else(|| json!({}));
        let tok_name = match tokenizer {
            Value::String(s) => s.clone(),
            def => {
                analysis["tokenizer"]["_adhoc_tokenizer"] = def.clone();
                "_adhoc_tokenizer".into()
            }
        };
        let mut filters = Vec::new();
        for (i, f) in body
            .get("filter")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            match f {
                Value::String(s) => filters.push(Value::String(s)),
                def => {
                    let name = format!("_adhoc_filter_{i}");
                    analysis["filter"][&name] = def;
                    filters.push(Value::String(name));
                }
            }
        }
        analysis["analyzer"]["_adhoc"] =
            json!({"type": "custom", "tokenizer": tok_name, "filter": filters});
        adhoc = Analyzers::from_settings(&analysis, 1)?;
        adhoc.get("_adhoc")?.clone()
    } else {
        let name = body
            .get("analyzer")
            .and_then(Value::as_str)
            .unwrap_or("standard");
        analyzers.get(name)?.clone()
    };
    let mut tokens = Vec::new();
    let mut base = 0;
    for t in text {
        let analyzed = analyzer.analyze(&t);
        let last = analyzed.iter().map(|tok| tok.position).max().unwrap_or(0);
        for tok in analyzed {
            tokens.push(json!({
                "token": tok.text,
                "start_offset": tok.offset_from,
                "end_offset": tok.offset_to,
                "type": if analyzer.is_keyword() { "word" } else { "<ALPHANUM>" },
                "position": base + tok.position,
            }));
        }
        base += last + 101;
    }
    Ok(Reply::ok(json!({"tokens": tokens})))
}
