//! Dynamic mapping: the mapping update a document implies for the fields it has and the
//! mapping has not, following Elasticsearch's defaults (strings become `text` with a
//! `keyword` multi-field, or `date` when they look like one; integers `long`; other numbers
//! `float`; objects `object`).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{Dynamic, Mapping};
use crate::dates::DateFormat;
use crate::error::EsError;

fn looks_like_date(s: &str) -> bool {
    // Elasticsearch's dynamic date detection needs at least a full date.
    if s.len() < 10 || !s.is_char_boundary(4) {
        return false;
    }
    match s.as_bytes()[4] {
        b'-' => DateFormat::default_format().parse_millis(s, None).is_some(),
        b'/' => DateFormat::parse("yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd")
            .ok()
            .and_then(|f| f.parse_millis(s, None))
            .is_some(),
        _ => false,
    }
}

fn infer_leaf(mapping: &Mapping, value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Bool(_) => Some(json!({"type": "boolean"})),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(json!({"type": "long"})),
        Value::Number(_) => Some(json!({"type": "float"})),
        Value::String(s) => {
            if mapping.date_detection && looks_like_date(s) {
                return Some(json!({"type": "date"}));
            }
            if mapping.numeric_detection {
                if s.parse::<i64>().is_ok() {
                    return Some(json!({"type": "long"}));
                }
                if s.parse::<f64>().is_ok() {
                    return Some(json!({"type": "float"}));
                }
            }
            Some(
                json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}),
            )
        }
        Value::Array(items) => items.iter().find_map(|v| infer_leaf(mapping, v)),
        Value::Object(_) => Some(json!({"type": "object"})),
    }
}

struct Walker<'a> {
    mapping: &'a Mapping,
    added: BTreeMap<String, Value>,
}

impl Walker<'_> {
    fn object(
        &mut self,
        prefix: &str,
        obj: &Map<String, Value>,
        dynamic: Dynamic,
    ) -> Result<(), EsError> {
        for (key, value) in obj {
            let mut path = prefix.to_string();
            let mut dyn_here = dynamic;
            let segments: Vec<&str> = key.split('.').collect();
            let mut skip = false;
            for (i, seg) in segments.iter().enumerate() {
                if seg.is_empty() {
                    return Err(EsError::mapper_parsing(format!(
                        "field name cannot contain only whitespace or be empty: ['{key}']"
                    )));
                }
                let parent = path.clone();
                path = if path.is_empty() {
                    seg.to_string()
                } else {
                    format!("{path}.{seg}")
                };
                if i + 1 < segments.len() {
                    // An intermediate object of a dotted name.
                    if let Some(o) = self.mapping.objects.get(&path) {
                        if !o.enabled {
                            skip = true;
                            break;
                        }
                        dyn_here = o.dynamic.unwrap_or(dyn_here);
                    } else if self.mapping.fields.contains_key(&path) {
                        return Err(EsError::mapper_parsing(format!(
                            "Could not dynamically add mapping for field [{key}]. Existing mapping for [{path}] must be of type object but found [{}].",
                            self.mapping.fields[&path].type_name
                        )));
                    } else if !self.added.contains_key(&path) {
                        if !self.allow(&parent, seg, dyn_here)? {
                            skip = true;
                            break;
                        }
                        self.added.insert(path.clone(), json!({"type": "object"}));
                    }
                }
            }
            if skip {
                continue;
            }
            self.value(&path, value, dyn_here)?;
        }
        Ok(())
    }

    /// Whether a new field `name` under `parent` may be mapped (`Ok(false)`: keep it in the
    /// source only).
    fn allow(&self, parent: &str, name: &str, dynamic: Dynamic) -> Result<bool, EsError> {
        match dynamic {
            Dynamic::True => Ok(true),
            Dynamic::False => Ok(false),
            Dynamic::Strict => Err(EsError::new(
                400,
                "strict_dynamic_mapping_exception",
                format!(
                    "mapping set to strict, dynamic introduction of [{name}] within [{}] is not allowed",
                    if parent.is_empty() { "_doc" } else { parent }
                ),
            )),
        }
    }

    fn value(&mut self, path: &str, value: &Value, dynamic: Dynamic) -> Result<(), EsError> {
        if self.mapping.fields.contains_key(path) {
            return Ok(());
        }
        let (parent, name) = match path.rfind('.') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path),
        };
        if let Some(o) = self.mapping.objects.get(path) {
            if !o.enabled {
                return Ok(());
            }
            let dyn_inner = o.dynamic.unwrap_or(dynamic);
            return self.children(path, value, dyn_inner);
        }
        match self.added.get(path) {
            Some(def) if def["type"] == "object" => return self.children(path, value, dynamic),
            Some(_) => return Ok(()),
            None => {}
        }
        let Some(def) = infer_leaf(self.mapping, value) else {
            return Ok(());
        };
        if !self.allow(parent, name, dynamic)? {
            return Ok(());
        }
        let is_object = def["type"] == "object";
        self.added.insert(path.to_string(), def);
        if is_object {
            self.children(path, value, dynamic)?;
        }
        Ok(())
    }

    fn children(&mut self, path: &str, value: &Value, dynamic: Dynamic) -> Result<(), EsError> {
        match value {
            Value::Object(obj) => self.object(path, obj, dynamic),
            Value::Array(items) => {
                for item in items {
                    self.children(path, item, dynamic)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn insert(root: &mut Map<String, Value>, segments: &[&str], def: &Value) {
    let props = root
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(props) = props.as_object_mut() else {
        return;
    };
    match segments {
        [] => {}
        [last] => {
            if def["type"] == "object" {
                props
                    .entry(last.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
            } else {
                props.insert(last.to_string(), def.clone());
            }
        }
        [first, rest @ ..] => {
            let child = props
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(child) = child.as_object_mut() {
                insert(child, rest, def);
            }
        }
    }
}

/// The mapping update `doc` implies (`{"properties": ...}`), `None` when it maps nothing new.
pub fn infer_update(mapping: &Mapping, doc: &Map<String, Value>) -> Result<Option<Value>, EsError> {
    let mut walker = Walker {
        mapping,
        added: BTreeMap::new(),
    };
    walker.object("", doc, mapping.dynamic)?;
    if walker.added.is_empty() {
        return Ok(None);
    }
    let mut root = Map::new();
    for (path, def) in &walker.added {
        let segments: Vec<&str> = path.split('.').collect();
        insert(&mut root, &segments, def);
    }
    Ok(Some(Value::Object(root)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Analyzers;
    use crate::mapping::merge;

    fn mapping(json: Value) -> Mapping {
        Mapping::parse(&json, &Analyzers::from_settings(&json!({}), 1).unwrap()).unwrap()
    }

    #[test]
    fn infers_elasticsearch_defaults() {
        let m = mapping(json!({"properties": {"name": {"type": "text"}}}));
        let doc = json!({"name": "x", "price": 9.5, "stock": 3, "active": true, "created": "2024-01-15T10:00:00Z",
                         "tags": ["a", "b"], "dims": {"w": 1}, "a.b": "c", "nothing": null});
        let update = infer_update(&m, doc.as_object().unwrap()).unwrap().unwrap();
        let p = &update["properties"];
        assert!(p.get("name").is_none());
        assert_eq!(p["price"]["type"], "float");
        assert_eq!(p["stock"]["type"], "long");
        assert_eq!(p["active"]["type"], "boolean");
        assert_eq!(p["created"]["type"], "date");
        assert_eq!(p["tags"]["fields"]["keyword"]["type"], "keyword");
        assert_eq!(p["dims"]["properties"]["w"]["type"], "long");
        assert_eq!(p["a"]["properties"]["b"]["type"], "text");
        assert!(p.get("nothing").is_none());
        let merged = mapping(merge(&m.json, &update).unwrap());
        assert!(merged.field("tags.keyword").is_some());
        assert!(merged.field("a.b").is_some());
        assert!(infer_update(&merged, doc.as_object().unwrap())
            .unwrap()
            .is_none());
    }

    #[test]
    fn strict_and_false() {
        let m = mapping(
            json!({"dynamic": "strict", "properties": {"name": {"type": "text"}, "free": {"type": "object", "dynamic": false}}}),
        );
        let e = infer_update(&m, json!({"other": 1}).as_object().unwrap()).unwrap_err();
        assert_eq!(e.kind, "strict_dynamic_mapping_exception");
        assert!(
            infer_update(&m, json!({"free": {"x": 1}}).as_object().unwrap())
                .unwrap()
                .is_none()
        );
    }
}
