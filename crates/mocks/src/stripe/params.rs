//! Typed access to decoded request parameters, with Stripe's validation errors.

use serde_json::{Map, Value};

use super::api_error::ApiError;

/// The decoded parameters of one request (a JSON object of strings, objects and arrays).
#[derive(Debug, Clone)]
pub(crate) struct Params(pub Value);

impl Params {
    /// Parameters with nothing in them.
    pub fn empty() -> Self {
        Params(Value::Object(Map::new()))
    }

    /// The raw value at a dotted path (`card.number`).
    pub fn get(&self, path: &str) -> Option<&Value> {
        lookup(&self.0, path)
    }

    /// Whether the parameter is present.
    pub fn has(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    /// A string parameter (empty strings count as absent).
    pub fn str(&self, path: &str) -> Option<&str> {
        self.get(path)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A required string parameter.
    pub fn req_str(&self, path: &str) -> Result<&str, ApiError> {
        self.str(path)
            .ok_or_else(|| ApiError::missing_param(&bracketed(path)))
    }

    /// An integer parameter.
    pub fn int(&self, path: &str) -> Result<Option<i64>, ApiError> {
        match self.get(path) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s.parse::<i64>().map(Some).map_err(|_| {
                ApiError::invalid(&bracketed(path), format!("Invalid integer: {s}"))
                    .with_code("parameter_invalid_integer")
            }),
            Some(Value::Number(n)) => Ok(n.as_i64()),
            Some(_) => Err(ApiError::invalid(&bracketed(path), "Invalid integer")),
        }
    }

    /// A boolean parameter (`true`/`false`).
    pub fn bool(&self, path: &str) -> Result<Option<bool>, ApiError> {
        match self.get(path) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.as_str() {
                "true" | "True" | "1" => Ok(Some(true)),
                "false" | "False" | "0" | "" => Ok(Some(false)),
                other => Err(ApiError::invalid(
                    &bracketed(path),
                    format!("Invalid boolean: {other}"),
                )),
            },
            Some(_) => Err(ApiError::invalid(&bracketed(path), "Invalid boolean")),
        }
    }

    /// The list of strings at `path` (a single string counts as a one-element list).
    pub fn strings(&self, path: &str) -> Vec<String> {
        match self.get(path) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    /// The list of objects at `path`.
    pub fn objects(&self, path: &str) -> Vec<Params> {
        match self.get(path) {
            Some(Value::Array(items)) => items.iter().map(|v| Params(v.clone())).collect(),
            _ => Vec::new(),
        }
    }

    /// The nested parameters at `path`, if any.
    pub fn sub(&self, path: &str) -> Option<Params> {
        self.get(path)
            .filter(|v| v.is_object())
            .map(|v| Params(v.clone()))
    }

    /// The `expand` list.
    pub fn expand(&self) -> Vec<String> {
        self.strings("expand")
    }
}

/// The value at a dotted path inside a JSON tree.
pub(crate) fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = root;
    for part in path.split('.') {
        node = match node {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// `card.number` written the way Stripe names parameters: `card[number]`.
pub(crate) fn bracketed(path: &str) -> String {
    let mut parts = path.split('.');
    let mut out = parts.next().unwrap_or_default().to_string();
    for p in parts {
        out.push('[');
        out.push_str(p);
        out.push(']');
    }
    out
}

/// Applies `metadata[...]` updates to an existing metadata object: empty values unset keys,
/// and an empty `metadata` string clears it.
pub(crate) fn merge_metadata(current: &Value, p: &Params) -> Value {
    let mut meta = current.as_object().cloned().unwrap_or_default();
    match p.get("metadata") {
        Some(Value::Object(update)) => {
            for (k, v) in update {
                match v.as_str() {
                    Some("") | None => {
                        meta.remove(k);
                    }
                    Some(s) => {
                        meta.insert(k.clone(), Value::String(s.to_string()));
                    }
                }
            }
        }
        Some(Value::String(s)) if s.is_empty() => meta.clear(),
        _ => {}
    }
    Value::Object(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_access_and_errors() {
        let p = Params(
            json!({"amount": "12", "bad": "x", "confirm": "true", "card": {"number": "42"}, "metadata": {"a": "", "b": "2"}}),
        );
        assert_eq!(p.int("amount").unwrap(), Some(12));
        let err = p.int("bad").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("bad"));
        assert_eq!(p.bool("confirm").unwrap(), Some(true));
        assert_eq!(p.str("card.number"), Some("42"));
        assert_eq!(
            p.req_str("card.cvc").unwrap_err().param.as_deref(),
            Some("card[cvc]")
        );
        let merged = merge_metadata(&json!({"a": "1", "c": "3"}), &p);
        assert_eq!(merged, json!({"b": "2", "c": "3"}));
    }
}
