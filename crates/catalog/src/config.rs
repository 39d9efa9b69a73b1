//! Typed reads of a service's `config:` block, with errors that name the service and key.

use serde_json::{Map, Value};

use crate::CatalogError;

/// A service's `config:` block (`Null` reads as empty).
pub(crate) struct Config<'a> {
    service: &'a str,
    value: &'a Value,
}

impl<'a> Config<'a> {
    /// The config of `service`.
    pub fn new(service: &'a str, value: &'a Value) -> Self {
        Config { service, value }
    }

    /// The error for `key` with `message`.
    pub fn error(&self, key: &str, message: impl Into<String>) -> CatalogError {
        CatalogError::config(self.service, key, message)
    }

    /// The value of `key`, `None` when absent or null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.value.get(key).filter(|v| !v.is_null())
    }

    /// The first present key among `keys` (aliases), with the key that matched.
    pub fn get_any(&self, keys: &[&'static str]) -> Option<(&'static str, &'a Value)> {
        keys.iter().find_map(|k| self.get(k).map(|v| (*k, v)))
    }

    /// A list of strings (a single string counts as a one-element list).
    pub fn strings(&self, key: &str) -> Result<Vec<String>, CatalogError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(v) => strings_of(v).ok_or_else(|| self.error(key, "expected a list of strings")),
        }
    }

    /// A scalar as text (strings, numbers and booleans).
    pub fn scalar(&self, key: &str) -> Result<Option<String>, CatalogError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => scalar_text(v)
                .map(Some)
                .ok_or_else(|| self.error(key, format!("expected a value, found {v}"))),
        }
    }

    /// A boolean (`true`/`false`, or the strings `yes`/`no`/`on`/`off`).
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, CatalogError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" => Ok(Some(true)),
                "false" | "no" | "off" => Ok(Some(false)),
                _ => Err(self.error(key, format!("expected true or false, found `{s}`"))),
            },
            Some(v) => Err(self.error(key, format!("expected true or false, found {v}"))),
        }
    }

    /// A non-negative integer (numbers or numeric strings).
    pub fn unsigned(&self, key: &str) -> Result<Option<u64>, CatalogError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.error(key, format!("expected a whole number, found {n}"))),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.error(key, format!("expected a whole number, found `{s}`"))),
            Some(v) => Err(self.error(key, format!("expected a whole number, found {v}"))),
        }
    }

    /// A size in bytes: a number of bytes or text such as `256mb` (1024-based).
    pub fn size(&self, key: &str) -> Result<Option<u64>, CatalogError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.error(key, format!("expected a size, found {n}"))),
            Some(Value::String(s)) => parse_size(s).map(Some).ok_or_else(|| {
                self.error(
                    key,
                    format!("expected a size such as 256mb or 1gb, found `{s}`"),
                )
            }),
            Some(v) => Err(self.error(key, format!("expected a size, found {v}"))),
        }
    }

    /// A list of objects (each element must be a map).
    pub fn objects(&self, key: &str) -> Result<Vec<&'a Map<String, Value>>, CatalogError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_object()
                        .ok_or_else(|| self.error(&format!("{key}[{i}]"), "expected a map"))
                })
                .collect(),
            Some(_) => Err(self.error(key, "expected a list")),
        }
    }

    /// A map.
    pub fn object(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, CatalogError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(self.error(key, "expected a map")),
        }
    }
}

/// A string or a list of strings as a list.
pub(crate) fn strings_of(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items.iter().map(|i| i.as_str().map(String::from)).collect(),
        _ => None,
    }
}

/// A scalar value as text; `None` for lists, maps and null.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses `256mb`, `1GB`, `512k`, `100` (bytes) into bytes, 1024-based.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    let bytes = num * mult as f64;
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_sizes_1024_based() {
        assert_eq!(parse_size("256mb"), Some(256 << 20));
        assert_eq!(parse_size("1GB"), Some(1 << 30));
        assert_eq!(parse_size("1.5k"), Some(1536));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("12 parsecs"), None);
    }

    #[test]
    fn reads_typed_values_and_names_the_key_in_errors() {
        let v = json!({"a": ["x", "y"], "b": "yes", "c": "42", "d": {"k": 1}, "e": null});
        let c = Config::new("svc", &v);
        assert_eq!(c.strings("a").unwrap(), vec!["x", "y"]);
        assert_eq!(c.boolean("b").unwrap(), Some(true));
        assert_eq!(c.unsigned("c").unwrap(), Some(42));
        assert_eq!(c.strings("e").unwrap(), Vec::<String>::new());
        let err = c.strings("d").unwrap_err().to_string();
        assert!(err.contains("svc") && err.contains("config.d"), "{err}");
        let null = Value::Null;
        assert!(Config::new("svc", &null).get("a").is_none());
    }
}
