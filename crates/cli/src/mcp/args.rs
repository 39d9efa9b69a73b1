//! Argument shapes shared by several tools.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// A list given as a JSON array, or as one comma-separated string (`"postgres,redis"`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum List {
    /// Comma-separated.
    Text(String),
    /// One item each.
    Items(Vec<String>),
}

impl List {
    /// The items, trimmed, empty ones dropped.
    pub fn items(&self) -> Vec<String> {
        let raw: Vec<&str> = match self {
            List::Text(s) => s.split(',').collect(),
            List::Items(v) => v.iter().map(String::as_str).collect(),
        };
        raw.into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// The items of an optional list.
pub fn items(list: &Option<List>) -> Vec<String> {
    list.as_ref().map(List::items).unwrap_or_default()
}

/// Options as an object (`{"databases": ["app", "analytics"]}`) or `KEY=VALUE` items.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum KeyValues {
    /// Option name → value (lists as arrays or `a,b`).
    Object(BTreeMap<String, Value>),
    /// `KEY=VALUE` items.
    Pairs(List),
}

impl KeyValues {
    /// As `KEY=VALUE` items, the form of the CLI's `--config` and `--filter`.
    pub fn pairs(&self) -> Vec<String> {
        match self {
            KeyValues::Pairs(l) => l.items(),
            KeyValues::Object(m) => m
                .iter()
                .map(|(k, v)| format!("{k}={}", option_text(v)))
                .collect(),
        }
    }
}

fn option_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(option_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Which postgres service and database (`db_*` tools).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct DbTargetArgs {
    /// Database name (default: the service's first configured database).
    #[serde(default)]
    pub database: Option<String>,
    /// Postgres service of the manifest (default: the first one).
    #[serde(default)]
    pub service: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_come_as_arrays_or_comma_separated_text() {
        let a: List = serde_json::from_str(r#"["database", " files "]"#).unwrap();
        assert_eq!(a.items(), vec!["database", "files"]);
        let t: List = serde_json::from_str(r#""database, files,,""#).unwrap();
        assert_eq!(t.items(), vec!["database", "files"]);
        assert!(items(&None).is_empty());
    }

    #[test]
    fn key_values_come_as_an_object_or_pairs() {
        let o: KeyValues =
            serde_json::from_str(r#"{"databases": ["app", "analytics"], "replicas": 2}"#).unwrap();
        assert_eq!(o.pairs(), vec!["databases=app,analytics", "replicas=2"]);
        let p: KeyValues = serde_json::from_str(r#"["databases=app"]"#).unwrap();
        assert_eq!(p.pairs(), vec!["databases=app"]);
        let t: KeyValues = serde_json::from_str(r#""postgres=15,redis=7""#).unwrap();
        assert_eq!(t.pairs(), vec!["postgres=15", "redis=7"]);
    }
}
