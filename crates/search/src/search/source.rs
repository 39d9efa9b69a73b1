//! `_source` filtering (`_source: false`, include and exclude patterns) and reading a field's
//! values out of a source document by dotted path.

use serde_json::{Map, Value};

use crate::error::EsError;
use crate::mapping::wildcard_match;

/// Which parts of `_source` a response includes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceFilter {
    /// No source at all.
    pub disabled: bool,
    /// Paths (with `*`) to keep; empty keeps everything.
    pub includes: Vec<String>,
    /// Paths (with `*`) to drop.
    pub excludes: Vec<String>,
}

fn strings(v: &Value) -> Result<Vec<String>, EsError> {
    match v {
        Value::String(s) => Ok(s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str().map(String::from).ok_or_else(|| {
                    EsError::parsing(format!("[_source] entries must be strings, got [{i}]"))
                })
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        other => Err(EsError::parsing(format!(
            "[_source] must be strings, got [{other}]"
        ))),
    }
}

impl SourceFilter {
    /// The filter a body's `_source` value asks for.
    pub fn from_body(v: &Value) -> Result<SourceFilter, EsError> {
        match v {
            Value::Bool(b) => Ok(SourceFilter {
                disabled: !b,
                ..Default::default()
            }),
            Value::String(_) | Value::Array(_) => Ok(SourceFilter {
                includes: strings(v)?,
                ..Default::default()
            }),
            Value::Object(o) => {
                for k in o.keys() {
                    if !["includes", "include", "excludes", "exclude"].contains(&k.as_str()) {
                        return Err(EsError::parsing(format!(
                            "Unknown key for a START_OBJECT in [_source]: [{k}]."
                        )));
                    }
                }
                let get = |a: &str, b: &str| o.get(a).or_else(|| o.get(b)).map(strings).transpose();
                Ok(SourceFilter {
                    disabled: false,
                    includes: get("includes", "include")?.unwrap_or_default(),
                    excludes: get("excludes", "exclude")?.unwrap_or_default(),
                })
            }
            Value::Null => Ok(SourceFilter::default()),
            other => Err(EsError::parsing(format!(
                "[_source] unexpected value [{other}]"
            ))),
        }
    }

    /// Applies the URL parameters `_source`, `_source_includes` and `_source_excludes`.
    pub fn apply_params(
        &mut self,
        source: Option<&str>,
        includes: Option<&str>,
        excludes: Option<&str>,
    ) {
        match source {
            Some("false") => self.disabled = true,
            Some("true") | None => {}
            Some(list) => self.includes = list.split(',').map(String::from).collect(),
        }
        if let Some(i) = includes {
            self.includes = i.split(',').map(String::from).collect();
        }
        if let Some(e) = excludes {
            self.excludes = e.split(',').map(String::from).collect();
        }
    }

    /// Whether the filter keeps the source unchanged.
    pub fn is_identity(&self) -> bool {
        !self.disabled && self.includes.is_empty() && self.excludes.is_empty()
    }

    /// The filtered source, `None` when disabled.
    pub fn apply(&self, source: &Value) -> Option<Value> {
        if self.disabled {
            return None;
        }
        if self.is_identity() {
            return Some(source.clone());
        }
        match source {
            Value::Object(o) => Some(Value::Object(self.filter_object("", o))),
            other => Some(other.clone()),
        }
    }

    fn included(&self, path: &str, is_object: bool) -> (bool, bool) {
        // (keep whole, descend)
        if self.excludes.iter().any(|e| wildcard_match(e, path)) {
            return (false, false);
        }
        if self.includes.is_empty()
            || self
                .includes
                .iter()
                .any(|i| wildcard_match(i, path) || wildcard_match(&format!("{i}.*"), path))
        {
            return (true, is_object);
        }
        let descend = is_object
            && self.includes.iter().any(|i| {
                i.starts_with(&format!("{path}."))
                    || (i.contains('*') && wildcard_match(&i.replace('.', "*"), path))
            });
        (false, descend)
    }

    fn filter_object(&self, prefix: &str, obj: &Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for (k, v) in obj {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            let (keep, descend) = self.included(&path, v.is_object() || v.is_array());
            if descend {
                match v {
                    Value::Object(child) => {
                        let filtered = self.filter_object(&path, child);
                        if keep || !filtered.is_empty() {
                            out.insert(k.clone(), Value::Object(filtered));
                        }
                    }
                    Value::Array(items) => {
                        let kept: Vec<Value> = items
                            .iter()
                            .filter_map(|item| match item {
                                Value::Object(child) => {
                                    let f = self.filter_object(&path, child);
                                    (keep || !f.is_empty()).then_some(Value::Object(f))
                                }
                                other => keep.then(|| other.clone()),
                            })
                            .collect();
                        if keep || !kept.is_empty() {
                            out.insert(k.clone(), Value::Array(kept));
                        }
                    }
                    other => {
                        if keep {
                            out.insert(k.clone(), other.clone());
                        }
                    }
                }
            } else if keep {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }
}

/// The values at the dotted `path` of `source` (arrays flattened; dotted keys honoured).
pub fn values_at<'a>(source: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    collect(source, path, &mut out);
    out
}

fn collect<'a>(value: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => {
            for item in items {
                collect(item, path, out);
            }
        }
        Value::Object(obj) => {
            if path.is_empty() {
                out.push(value);
                return;
            }
            for (k, v) in obj {
                if k == path {
                    flatten_into(v, out);
                } else if let Some(rest) = path
                    .strip_prefix(k.as_str())
                    .and_then(|r| r.strip_prefix('.'))
                {
                    collect(v, rest, out);
                }
            }
        }
        other => {
            if path.is_empty() {
                out.push(other);
            }
        }
    }
}

fn flatten_into<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => {
            for item in items {
                flatten_into(item, out);
            }
        }
        Value::Null => {}
        other => out.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn includes_and_excludes() {
        let src = json!({"name": "x", "price": 1, "meta": {"a": 1, "b": 2}, "tags": ["t"]});
        let f = SourceFilter::from_body(&json!(["name", "meta.a"])).unwrap();
        assert_eq!(
            f.apply(&src).unwrap(),
            json!({"name": "x", "meta": {"a": 1}})
        );
        let f = SourceFilter::from_body(&json!({"excludes": ["meta*"]})).unwrap();
        assert_eq!(
            f.apply(&src).unwrap(),
            json!({"name": "x", "price": 1, "tags": ["t"]})
        );
        let f = SourceFilter::from_body(&json!("meta")).unwrap();
        assert_eq!(f.apply(&src).unwrap(), json!({"meta": {"a": 1, "b": 2}}));
        assert!(SourceFilter::from_body(&json!(false))
            .unwrap()
            .apply(&src)
            .is_none());
    }

    #[test]
    fn values_by_path() {
        let src = json!({"a": {"b": [1, 2]}, "c.d": "x", "list": [{"k": 1}, {"k": 2}]});
        assert_eq!(values_at(&src, "a.b"), vec![&json!(1), &json!(2)]);
        assert_eq!(values_at(&src, "c.d"), vec![&json!("x")]);
        assert_eq!(values_at(&src, "list.k"), vec![&json!(1), &json!(2)]);
        assert!(values_at(&src, "nope").is_empty());
    }
}
