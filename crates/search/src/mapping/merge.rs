//! Merging a mapping update (`PUT _mapping`, or fields a document adds) into a mapping, with
//! Elasticsearch's rules: fields and multi-fields may be added, a field's type and most of
//! its parameters may not change.

use serde_json::{Map, Value};

use crate::error::EsError;

/// Parameters an existing field may change.
const UPDATABLE: &[&str] = &[
    "ignore_above",
    "search_analyzer",
    "search_quote_analyzer",
    "meta",
    "boost",
    "eager_global_ordinals",
];

fn type_name(def: &Map<String, Value>) -> &str {
    def.get("type").and_then(Value::as_str).unwrap_or("object")
}

fn merge_properties(
    existing: &mut Map<String, Value>,
    update: &Map<String, Value>,
    prefix: &str,
) -> Result<(), EsError> {
    for (name, udef) in update {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let Some(edef) = existing.get_mut(name) else {
            existing.insert(name.clone(), udef.clone());
            continue;
        };
        let (Some(e), Some(u)) = (edef.as_object_mut(), udef.as_object()) else {
            return Err(EsError::mapper_parsing(format!(
                "Expected map for property [{path}]"
            )));
        };
        let (et, ut) = (type_name(e).to_string(), type_name(u).to_string());
        if et != ut {
            return Err(EsError::illegal_argument(format!(
                "mapper [{path}] cannot be changed from type [{et}] to [{ut}]"
            )));
        }
        for (key, uval) in u {
            match key.as_str() {
                "type" => {}
                "properties" | "fields" => {
                    let target = e
                        .entry(key.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    match (target.as_object_mut(), uval.as_object()) {
                        (Some(t), Some(uv)) => merge_properties(t, uv, &path)?,
                        _ => {
                            return Err(EsError::mapper_parsing(format!(
                                "Expected map for property [{key}] on field [{path}]"
                            )))
                        }
                    }
                }
                "dynamic" | "enabled" if et == "object" => {
                    e.insert(key.clone(), uval.clone());
                }
                k if UPDATABLE.contains(&k) => {
                    e.insert(key.clone(), uval.clone());
                }
                k => match e.get(k) {
                    Some(old) if old == uval => {}
                    old => {
                        let old = old.map(Value::to_string).unwrap_or_else(|| "null".into());
                        return Err(EsError::illegal_argument(format!(
                            "Mapper for [{path}] conflicts with existing mapper:\n\tCannot update parameter [{k}] from [{}] to [{}]",
                            old.trim_matches('"'),
                            uval.to_string().trim_matches('"')
                        )));
                    }
                },
            }
        }
    }
    Ok(())
}

/// `existing` with `update` merged in, or why the update conflicts.
pub fn merge(existing: &Value, update: &Value) -> Result<Value, EsError> {
    let mut out = existing.as_object().cloned().unwrap_or_default();
    let Some(update) = update.as_object() else {
        return Err(EsError::mapper_parsing(
            "Failed to parse mapping: mapping must be an object",
        ));
    };
    for (key, value) in update {
        if key == "properties" {
            let target = out
                .entry("properties")
                .or_insert_with(|| Value::Object(Map::new()));
            let (Some(t), Some(u)) = (target.as_object_mut(), value.as_object()) else {
                return Err(EsError::mapper_parsing(
                    "Expected map for property [properties] on field [_doc]",
                ));
            };
            merge_properties(t, u, "")?;
        } else {
            out.insert(key.clone(), value.clone());
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn adds_fields_and_multi_fields() {
        let m = merge(
            &json!({"properties": {"name": {"type": "text"}}}),
            &json!({"properties": {"name": {"type": "text", "fields": {"raw": {"type": "keyword"}}}, "n": {"type": "long"}}}),
        )
        .unwrap();
        assert_eq!(m["properties"]["name"]["fields"]["raw"]["type"], "keyword");
        assert_eq!(m["properties"]["n"]["type"], "long");
    }

    #[test]
    fn type_and_analyzer_changes_conflict() {
        let e = merge(
            &json!({"properties": {"name": {"type": "text"}}}),
            &json!({"properties": {"name": {"type": "keyword"}}}),
        )
        .unwrap_err();
        assert_eq!(
            e.reason,
            "mapper [name] cannot be changed from type [text] to [keyword]"
        );
        let e = merge(
            &json!({"properties": {"name": {"type": "text", "analyzer": "standard"}}}),
            &json!({"properties": {"name": {"type": "text", "analyzer": "english"}}}),
        )
        .unwrap_err();
        assert!(
            e.reason.contains("Cannot update parameter [analyzer]"),
            "{e}"
        );
    }
}
