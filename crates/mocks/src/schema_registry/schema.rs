//! Submitted schemas: the request body read, the schema checked and put in the registry's
//! canonical form, and AVRO schemas parsed with the schemas they reference.
//!
//! What is checked per type: AVRO schemas must parse as Avro (Apache Avro's Rust parser, with
//! referenced schemas resolved); JSON schemas must be a JSON object or boolean; PROTOBUF
//! schemas must be non-empty and are stored as given (a `.proto` text or a base64
//! descriptor), not parsed.

use std::collections::BTreeSet;

use serde_json::Value;

use super::api_error::ApiError;
use super::store::{State, StoredSchema};
use super::types::{Reference, SchemaType};

/// A schema as a client sent it, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Submission {
    /// Its type (`schemaType`, AVRO when absent).
    pub schema_type: SchemaType,
    /// Its text (`schema`).
    pub schema: String,
    /// The schemas it references (`references`).
    pub references: Vec<Reference>,
}

/// Reads a register, lookup or compatibility request body:
/// `{"schema": "...", "schemaType": "AVRO", "references": [...]}`.
pub(crate) fn read_body(body: &[u8]) -> Result<Submission, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::unprocessable(format!("the request body is not JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ApiError::unprocessable(
            "the request body must be a JSON object such as {\"schema\": \"...\"}",
        ));
    };
    let schema = match map.get("schema") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(ApiError::invalid_schema("the request has no `schema`"))
        }
        Some(other) => {
            return Err(ApiError::invalid_schema(format!(
                "`schema` must be the schema as a JSON string, found {}",
                kind_of(other)
            )))
        }
    };
    let schema_type = match map.get("schemaType") {
        None | Some(Value::Null) => SchemaType::parse(None)?,
        Some(Value::String(s)) => SchemaType::parse(Some(s))?,
        Some(other) => {
            return Err(ApiError::invalid_schema(format!(
                "`schemaType` must be a string, found {}",
                kind_of(other)
            )))
        }
    };
    for key in ["metadata", "ruleSet"] {
        if map.get(key).is_some_and(|v| !is_empty(v)) {
            return Err(ApiError::not_permitted(format!(
                "`{key}` (data contracts) is not supported by vers's schema registry; register the schema without it"
            )));
        }
    }
    for key in ["id", "version"] {
        if map.get(key).is_some_and(|v| !v.is_null()) {
            return Err(ApiError::not_permitted(format!(
                "`{key}` in a registration is only allowed in IMPORT mode, which vers's schema registry does not serve; leave it out and the registry assigns it"
            )));
        }
    }
    let references = match map.get("references") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, r)| read_reference(i, r))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(ApiError::invalid_schema(format!(
                "`references` must be a list, found {}",
                kind_of(other)
            )))
        }
    };
    Ok(Submission {
        schema_type,
        schema,
        references,
    })
}

fn read_reference(i: usize, value: &Value) -> Result<Reference, ApiError> {
    let text = |key: &str| -> Result<String, ApiError> {
        match value.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(ApiError::invalid_schema(format!(
                "references[{i}] needs a `{key}` (a non-empty string)"
            ))),
        }
    };
    let version = value
        .get("version")
        .and_then(Value::as_i64)
        .and_then(|v| u32::try_from(v).ok())
        .filter(|v| *v >= 1 && *v <= i32::MAX as u32)
        .ok_or_else(|| {
            ApiError::invalid_schema(format!(
                "references[{i}] needs a `version`: a registered version number from 1"
            ))
        })?;
    Ok(Reference {
        name: text("name")?,
        subject: text("subject")?,
        version,
    })
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(m) => m.values().all(is_empty),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Checks `submission` against `state` (its references must be registered versions) and
/// returns it in canonical form: the identity under which the registry stores schemas, so
/// the same schema written with other spacing or key order gets the same id.
pub(crate) fn prepare(state: &State, submission: Submission) -> Result<StoredSchema, ApiError> {
    for r in &submission.references {
        let found = state
            .subjects
            .get(&r.subject)
            .is_some_and(|s| s.live().any(|v| v.version == r.version));
        if !found {
            return Err(ApiError::invalid_schema(format!(
                "reference '{}' names version {} of subject '{}', which is not registered",
                r.name, r.version, r.subject
            )));
        }
    }
    let schema = match submission.schema_type {
        SchemaType::Avro => compact_json(&submission.schema, "an Avro schema")?,
        SchemaType::Json => {
            let text = compact_json(&submission.schema, "a JSON Schema")?;
            if !(text.starts_with('{') || text == "true" || text == "false") {
                return Err(ApiError::invalid_schema(
                    "a JSON Schema must be a JSON object (or true or false)",
                ));
            }
            text
        }
        SchemaType::Protobuf => submission.schema.trim().to_string(),
    };
    let stored = StoredSchema {
        schema_type: submission.schema_type,
        schema,
        references: submission.references,
    };
    if stored.schema_type == SchemaType::Avro {
        parse_avro(state, &stored).map_err(ApiError::invalid_schema)?;
    }
    Ok(stored)
}

/// `text` parsed as JSON and written back compactly, object keys sorted.
fn compact_json(text: &str, what: &str) -> Result<String, ApiError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::invalid_schema(format!("{what} must be JSON: {e}")))?;
    Ok(value.to_string())
}

/// Parses an AVRO schema with the schemas it references (transitively), which define the
/// named types it uses.
pub(crate) fn parse_avro(
    state: &State,
    stored: &StoredSchema,
) -> Result<apache_avro::Schema, String> {
    let mut texts = Vec::new();
    collect_references(state, &stored.references, &mut texts, &mut BTreeSet::new())?;
    if texts.is_empty() {
        apache_avro::Schema::parse_str(&stored.schema).map_err(|e| e.to_string())
    } else {
        apache_avro::Schema::parse_str_with_list(&stored.schema, &texts)
            .map(|(schema, _)| schema)
            .map_err(|e| e.to_string())
    }
}

/// The texts of the schemas `references` name, each after those it references itself.
fn collect_references(
    state: &State,
    references: &[Reference],
    out: &mut Vec<String>,
    seen: &mut BTreeSet<(String, u32)>,
) -> Result<(), String> {
    for r in references {
        if !seen.insert((r.subject.clone(), r.version)) {
            continue;
        }
        let schema = state
            .subjects
            .get(&r.subject)
            .and_then(|s| s.versions.iter().find(|v| v.version == r.version))
            .and_then(|v| state.schemas.get(&v.id))
            .ok_or_else(|| {
                format!(
                    "reference '{}' names version {} of subject '{}', which is not registered",
                    r.name, r.version, r.subject
                )
            })?;
        if schema.schema_type != SchemaType::Avro {
            return Err(format!(
                "reference '{}' is a {} schema; an AVRO schema can only reference AVRO schemas",
                r.name,
                schema.schema_type.as_str()
            ));
        }
        collect_references(state, &schema.references, out, seen)?;
        out.push(schema.schema.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submit(body: Value) -> Result<StoredSchema, ApiError> {
        prepare(&State::default(), read_body(body.to_string().as_bytes())?)
    }

    #[test]
    fn avro_schemas_are_checked_and_made_canonical() {
        let a = submit(serde_json::json!({"schema": "{\"type\": \"record\", \"name\": \"U\", \"fields\": [{\"name\": \"id\", \"type\": \"long\"}]}"})).unwrap();
        let b = submit(serde_json::json!({"schema": "{\"fields\":[{\"type\":\"long\",\"name\":\"id\"}],\"name\":\"U\",\"type\":\"record\"}"})).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.schema_type, SchemaType::Avro);
        let e = submit(serde_json::json!({"schema": "{\"type\": \"record\", \"name\": \"U\"}"}))
            .unwrap_err();
        assert_eq!(e.code, 42201, "{e:?}");
        let e = submit(serde_json::json!({"schema": "{not json"})).unwrap_err();
        assert_eq!(e.code, 42201);
        let e = submit(serde_json::json!({"schema": "\"no_such_type\""})).unwrap_err();
        assert_eq!(e.code, 42201);
    }

    #[test]
    fn json_and_protobuf_are_stored() {
        let j =
            submit(serde_json::json!({"schemaType": "JSON", "schema": "{ \"type\": \"object\" }"}))
                .unwrap();
        assert_eq!(j.schema, "{\"type\":\"object\"}");
        let e = submit(serde_json::json!({"schemaType": "JSON", "schema": "[1]"})).unwrap_err();
        assert_eq!(e.code, 42201);
        let p = submit(serde_json::json!({"schemaType": "PROTOBUF", "schema": "syntax = \"proto3\";\nmessage M { int32 a = 1; }\n"}))
            .unwrap();
        assert!(p.schema.ends_with('}'));
    }

    #[test]
    fn bodies_name_what_is_wrong() {
        let e = read_body(b"[]").unwrap_err();
        assert_eq!(e.code, 422);
        let e = read_body(br#"{"schema": 5}"#).unwrap_err();
        assert!(e.message.contains("JSON string"), "{e:?}");
        let e = read_body(br#"{"schema": "\"int\"", "ruleSet": {"domainRules": [{"name": "r"}]}}"#)
            .unwrap_err();
        assert_eq!(e.code, 42205);
        assert!(read_body(br#"{"schema": "\"int\"", "ruleSet": null, "metadata": {}}"#).is_ok());
        let e =
            read_body(br#"{"schema": "\"int\"", "references": [{"name": "a", "subject": "s"}]}"#)
                .unwrap_err();
        assert!(e.message.contains("references[0]"), "{e:?}");
    }

    #[test]
    fn references_must_exist() {
        let e = submit(serde_json::json!({"schema": "\"int\"", "references": [{"name": "A", "subject": "a", "version": 1}]}))
            .unwrap_err();
        assert!(e.message.contains("subject 'a'"), "{e:?}");
    }
}
