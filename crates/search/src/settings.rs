//! Index settings: accepted nested (`{"index": {"analysis": …}}`) or dotted
//! (`"index.number_of_replicas": 0`), kept flat, rendered nested with string scalars as
//! Elasticsearch renders them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::EsError;

/// Index settings flattened to dotted keys without the `index.` prefix.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings(pub BTreeMap<String, Value>);

/// Settings that may change on an open index.
const DYNAMIC: &[&str] = &[
    "number_of_replicas",
    "refresh_interval",
    "max_result_window",
    "max_ngram_diff",
    "blocks.write",
    "blocks.read_only",
];

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            let key = prefix.strip_prefix("index.").unwrap_or(prefix);
            out.insert(key.to_string(), other.clone());
        }
    }
}

fn stringify(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(stringify).collect()),
        Value::String(_) | Value::Null => value.clone(),
        other => Value::String(other.to_string()),
    }
}

fn insert_path(root: &mut Map<String, Value>, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            root.insert((*last).to_string(), value);
        }
        [first, rest @ ..] => {
            let entry = root
                .entry((*first).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(child) = entry {
                insert_path(child, rest, value);
            }
        }
    }
}

impl Settings {
    /// Settings from a request body's `settings` object.
    pub fn from_json(value: &Value) -> Result<Settings, EsError> {
        if !value.is_object() && !value.is_null() {
            return Err(EsError::illegal_argument(
                "index settings must be an object",
            ));
        }
        let mut out = BTreeMap::new();
        flatten("", value, &mut out);
        Ok(Settings(out))
    }

    /// The raw value of `key` (dotted, without `index.`).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// `key` as an unsigned number (settings may write numbers as strings).
    pub fn get_u64(&self, key: &str) -> Result<Option<u64>, EsError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| bad_number(key, n)),
            Some(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| bad_number(key, &s.as_str())),
            Some(other) => Err(bad_number(key, other)),
        }
    }

    /// The settings under `prefix` as a nested object (e.g. `analysis`).
    pub fn nested(&self, prefix: &str) -> Value {
        let mut root = Map::new();
        let dotted = format!("{prefix}.");
        for (k, v) in &self.0 {
            if let Some(rest) = k.strip_prefix(&dotted) {
                let parts: Vec<&str> = rest.split('.').collect();
                insert_path(&mut root, &parts, v.clone());
            }
        }
        Value::Object(root)
    }

    /// Merges `update` into these settings, refusing settings an open index cannot change.
    pub fn update(&mut self, update: &Settings) -> Result<(), EsError> {
        let fixed: Vec<&String> = update
            .0
            .keys()
            .filter(|k| !DYNAMIC.contains(&k.as_str()))
            .collect();
        if !fixed.is_empty() {
            let names: Vec<String> = fixed.iter().map(|k| format!("index.{k}")).collect();
            return Err(EsError::illegal_argument(format!(
                "Can't update non dynamic settings [[{}]] for open indices",
                names.join(", ")
            )));
        }
        for (k, v) in &update.0 {
            if v.is_null() {
                self.0.remove(k);
            } else {
                self.0.insert(k.clone(), v.clone());
            }
        }
        Ok(())
    }

    /// The settings as Elasticsearch renders them: `{"index": {...}}` with string scalars.
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        for (k, v) in &self.0 {
            let mut parts = vec!["index"];
            parts.extend(k.split('.'));
            insert_path(&mut root, &parts, stringify(v));
        }
        Value::Object(root)
    }
}

fn bad_number(key: &str, value: &dyn std::fmt::Display) -> EsError {
    EsError::illegal_argument(format!(
        "Failed to parse value [{value}] for setting [index.{key}]"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_and_dotted_forms_agree() {
        let a = Settings::from_json(&json!({"index": {"number_of_replicas": 0, "analysis": {"analyzer": {"x": {"tokenizer": "standard", "filter": ["lowercase"]}}}}})).unwrap();
        let b = Settings::from_json(&json!({"index.number_of_replicas": "0", "analysis.analyzer.x.tokenizer": "standard", "analysis": {"analyzer": {"x": {"filter": ["lowercase"]}}}})).unwrap();
        assert_eq!(a.get_u64("number_of_replicas").unwrap(), Some(0));
        assert_eq!(b.get_u64("number_of_replicas").unwrap(), Some(0));
        assert_eq!(a.nested("analysis"), b.nested("analysis"));
        assert_eq!(a.to_json()["index"]["number_of_replicas"], json!("0"));
    }

    #[test]
    fn static_settings_cannot_change() {
        let mut s = Settings::default();
        let err = s
            .update(
                &Settings::from_json(
                    &json!({"analysis": {"analyzer": {"x": {"type": "standard"}}}}),
                )
                .unwrap(),
            )
            .unwrap_err();
        assert!(err.reason.contains("non dynamic settings"), "{err}");
        s.update(&Settings::from_json(&json!({"index": {"number_of_replicas": 2}})).unwrap())
            .unwrap();
        assert_eq!(s.get_u64("number_of_replicas").unwrap(), Some(2));
    }
}
