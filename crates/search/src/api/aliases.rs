//! Alias APIs: `POST /_aliases` (atomic add/remove/remove_index actions), `PUT|DELETE
//! /<index>/_alias/<name>`, and `GET|HEAD` of aliases.

use serde_json::{json, Map, Value};

use super::{App, Reply, Request};
use crate::error::EsError;
use crate::mapping::wildcard_match;
use crate::store::aliases::{Action, AliasTarget};

fn names(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// The target properties of an alias definition (`{}` or `{"is_write_index": true}`).
pub fn target_of(def: &Value) -> Result<AliasTarget, EsError> {
    let mut target = AliasTarget::default();
    if let Some(obj) = def.as_object() {
        for (k, v) in obj {
            match k.as_str() {
                "is_write_index" => target.is_write_index = v.as_bool(),
                "is_hidden" => {}
                "filter" | "routing" | "index_routing" | "search_routing" => {
                    return Err(EsError::unsupported(format!("alias [{k}]")))
                }
                other => {
                    return Err(EsError::parsing(format!(
                        "[aliases] unknown field [{other}]"
                    )))
                }
            }
        }
    }
    Ok(target)
}

/// Expands index names (wildcards included) of an alias action.
fn concrete(app: &App, exprs: &[String]) -> Result<Vec<String>, EsError> {
    let mut out = Vec::new();
    for e in exprs {
        for i in app.registry.resolve(e, false)? {
            if !out.contains(&i.name) {
                out.push(i.name.clone());
            }
        }
    }
    Ok(out)
}

/// `POST /_aliases`.
pub fn update(app: &App, req: &Request) -> Result<Reply, EsError> {
    let body = req
        .json()?
        .ok_or_else(|| EsError::parsing("[aliases] requires actions"))?;
    let list = body
        .get("actions")
        .and_then(Value::as_array)
        .ok_or_else(|| EsError::parsing("[aliases] requires an [actions] array"))?;
    let mut actions = Vec::new();
    let mut remove_indices: Vec<String> = Vec::new();
    for item in list {
        let obj = item.as_object().filter(|o| o.len() == 1).ok_or_else(|| {
            EsError::parsing("each alias action must be one of add, remove, remove_index")
        })?;
        let (kind, spec) = obj
            .iter()
            .next()
            .ok_or_else(|| EsError::parsing("empty alias action"))?;
        let mut indices = names(spec.get("indices"));
        indices.extend(names(spec.get("index")));
        let mut aliases = names(spec.get("aliases"));
        aliases.extend(names(spec.get("alias")));
        match kind.as_str() {
            "add" => {
                let mut def = spec.clone();
                if let Some(o) = def.as_object_mut() {
                    for k in ["index", "indices", "alias", "aliases", "must_exist"] {
                        o.remove(k);
                    }
                }
                let target = target_of(&def)?;
                for index in concrete(app, &indices)? {
                    for alias in &aliases {
                        actions.push(Action::Add {
                            index: index.clone(),
                            alias: alias.clone(),
                            target: target.clone(),
                        });
                    }
                }
            }
            "remove" => {
                let table = app.registry.alias_table();
                for index in concrete(app, &indices)? {
                    for pattern in &aliases {
                        let matching: Vec<&String> = table
                            .iter()
                            .filter(|(a, t)| wildcard_match(pattern, a) && t.contains_key(&index))
                            .map(|(a, _)| a)
                            .collect();
                        if matching.is_empty() && !pattern.contains('*') {
                            actions.push(Action::Remove {
                                index: index.clone(),
                                alias: pattern.clone(),
                            });
                        }
                        for alias in matching {
                            actions.push(Action::Remove {
                                index: index.clone(),
                                alias: alias.clone(),
                            });
                        }
                    }
                }
            }
            // Applied after the alias changes, as part of the same request.
            "remove_index" => remove_indices.extend(concrete(app, &indices)?),
            other => return Err(EsError::parsing(format!("unknown alias action [{other}]"))),
        }
    }
    app.registry.alias_actions(&actions)?;
    for index in remove_indices {
        app.registry.delete(&index)?;
    }
    Ok(Reply::ok(json!({"acknowledged": true, "errors": false})))
}

/// `PUT /<index>/_alias/<name>`.
pub fn put(app: &App, req: &Request, index: &str, alias: &str) -> Result<Reply, EsError> {
    let target = target_of(&req.json()?.unwrap_or_else(|| json!({})))?;
    let actions: Vec<Action> = concrete(app, &[index.to_string()])?
        .into_iter()
        .map(|i| Action::Add {
            index: i,
            alias: alias.to_string(),
            target: target.clone(),
        })
        .collect();
    app.registry.alias_actions(&actions)?;
    Ok(Reply::ok(json!({"acknowledged": true})))
}

/// `DELETE /<index>/_alias/<name>`.
pub fn delete(app: &App, _req: &Request, index: &str, alias: &str) -> Result<Reply, EsError> {
    let actions: Vec<Action> = concrete(app, &[index.to_string()])?
        .into_iter()
        .map(|i| Action::Remove {
            index: i,
            alias: alias.to_string(),
        })
        .collect();
    app.registry.alias_actions(&actions)?;
    Ok(Reply::ok(json!({"acknowledged": true})))
}

/// `GET /_alias[/<name>]`, `GET /<index>/_alias[/<name>]` (and `HEAD`).
pub fn get(
    app: &App,
    _req: &Request,
    index: Option<&str>,
    alias: Option<&str>,
) -> Result<Reply, EsError> {
    let table = app.registry.alias_table();
    let indices: Vec<String> = match index {
        Some(expr) => app
            .registry
            .resolve(expr, false)?
            .iter()
            .map(|i| i.name.clone())
            .collect(),
        None => app.registry.all().iter().map(|i| i.name.clone()).collect(),
    };
    let wanted = |a: &str| alias.is_none_or(|p| p.split(',').any(|p| wildcard_match(p, a)));
    let mut out = Map::new();
    let mut found = false;
    for name in indices {
        let mut aliases = Map::new();
        for (a, targets) in &table {
            if let Some(t) = targets.get(&name) {
                if wanted(a) {
                    found = true;
                    let mut def = Map::new();
                    if let Some(w) = t.is_write_index {
                        def.insert("is_write_index".into(), json!(w));
                    }
                    aliases.insert(a.clone(), Value::Object(def));
                }
            }
        }
        if alias.is_none() || !aliases.is_empty() {
            out.insert(name, json!({"aliases": aliases}));
        }
    }
    match alias {
        Some(a) if !found => Ok(Reply::json(
            404,
            json!({"error": format!("alias [{a}] missing"), "status": 404}),
        )),
        _ => Ok(Reply::ok(Value::Object(out))),
    }
}
