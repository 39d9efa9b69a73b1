//! Whether a new schema keeps a subject's compatibility level with earlier versions.
//!
//! AVRO schemas are checked with Apache Avro's schema resolution rules
//! (`apache_avro::schema_compatibility`): BACKWARD means the new schema reads data written
//! with the earlier one, FORWARD the reverse, FULL both. A resolution that works for only
//! some values (a union branch or an enum symbol the reader lacks) counts as incompatible,
//! as in Confluent's registry. Types defined by referenced schemas are compared by name.
//!
//! JSON and PROTOBUF schemas are not checked: a new version that differs from an earlier one
//! it must be compatible with is refused (42205) with how to register it (compatibility
//! NONE for the subject), rather than accepted unchecked.

use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};

use super::api_error::ApiError;
use super::schema::parse_avro;
use super::store::{State, StoredSchema};
use super::types::{Level, SchemaType};

/// The reasons `candidate`, proposed for `subject`, breaks `level` against each of
/// `earlier` (version number and schema); empty when it keeps it.
pub(crate) fn problems(
    state: &State,
    subject: &str,
    level: Level,
    candidate: &StoredSchema,
    earlier: &[(u32, &StoredSchema)],
) -> Result<Vec<String>, ApiError> {
    if level == Level::None || earlier.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let new_avro = match candidate.schema_type {
        SchemaType::Avro => Some(parse_avro(state, candidate).map_err(ApiError::invalid_schema)?),
        _ => None,
    };
    for (version, old) in earlier {
        if old.schema_type != candidate.schema_type {
            out.push(format!(
                "version {version} is a {} schema and the new one a {} schema",
                old.schema_type.as_str(),
                candidate.schema_type.as_str()
            ));
            continue;
        }
        let Some(new) = &new_avro else {
            if old.schema != candidate.schema || old.references != candidate.references {
                return Err(ApiError::not_permitted(format!(
                    "vers's schema registry checks the compatibility of AVRO schemas only; subject '{subject}' has compatibility {} and this {} schema differs from its version {version}: to register it, set the subject's compatibility to NONE (PUT /config/{subject} with {{\"compatibility\": \"NONE\"}})",
                    level.as_str(),
                    candidate.schema_type.as_str()
                )));
            }
            continue;
        };
        let old_avro = parse_avro(state, old).map_err(|e| {
            ApiError::store(format!(
                "version {version} of '{subject}' no longer parses: {e}"
            ))
        })?;
        if level.backward() {
            if let Some(why) = reading_fails(&old_avro, new) {
                out.push(format!(
                    "the new schema cannot read data written with version {version}: {why}"
                ));
            }
        }
        if level.forward() {
            if let Some(why) = reading_fails(new, &old_avro) {
                out.push(format!(
                    "version {version} cannot read data written with the new schema: {why}"
                ));
            }
        }
    }
    Ok(out)
}

/// Why a reader with schema `reader` cannot read every datum written with `writer`.
fn reading_fails(writer: &apache_avro::Schema, reader: &apache_avro::Schema) -> Option<String> {
    match SchemaCompatibility::can_read(writer, reader) {
        Ok(Compatibility::Full) => None,
        Ok(Compatibility::Partial) => Some(
            "only some values resolve (the reader lacks a union branch or an enum symbol the writer has)"
                .to_string(),
        ),
        Err(e) => Some(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avro(text: &str) -> StoredSchema {
        StoredSchema {
            schema_type: SchemaType::Avro,
            schema: text.into(),
            references: Vec::new(),
        }
    }

    const V1: &str = r#"{"type":"record","name":"User","fields":[{"name":"id","type":"long"}]}"#;
    const WITH_DEFAULT: &str = r#"{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"email","type":"string","default":""}]}"#;
    const WITHOUT_DEFAULT: &str = r#"{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"email","type":"string"}]}"#;
    const ID_AS_INT: &str =
        r#"{"type":"record","name":"User","fields":[{"name":"id","type":"int"}]}"#;

    fn check(level: Level, new: &str, old: &[&str]) -> Vec<String> {
        let olds: Vec<StoredSchema> = old.iter().map(|t| avro(t)).collect();
        let earlier: Vec<(u32, &StoredSchema)> = olds
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u32 + 1, s))
            .collect();
        problems(&State::default(), "s", level, &avro(new), &earlier).unwrap()
    }

    #[test]
    fn backward_needs_defaults_for_added_fields() {
        assert!(check(Level::Backward, WITH_DEFAULT, &[V1]).is_empty());
        let p = check(Level::Backward, WITHOUT_DEFAULT, &[V1]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("version 1"), "{p:?}");
        // Forward: the old reader ignores the new field, default or not.
        assert!(check(Level::Forward, WITHOUT_DEFAULT, &[V1]).is_empty());
        assert_eq!(check(Level::Full, WITHOUT_DEFAULT, &[V1]).len(), 1);
        assert!(check(Level::None, WITHOUT_DEFAULT, &[V1]).is_empty());
    }

    #[test]
    fn promotions_go_one_way() {
        // int data reads as long; long data does not read as int.
        assert!(check(Level::Backward, V1, &[ID_AS_INT]).is_empty());
        assert_eq!(check(Level::Forward, V1, &[ID_AS_INT]).len(), 1);
    }

    #[test]
    fn a_missing_enum_symbol_is_incompatible() {
        let old = r#"{"type":"enum","name":"E","symbols":["A","B"]}"#;
        let new = r#"{"type":"enum","name":"E","symbols":["A"]}"#;
        let p = check(Level::Backward, new, &[old]);
        assert_eq!(p.len(), 1, "{p:?}");
    }

    #[test]
    fn other_types_are_refused_unless_identical_or_none() {
        let json = |t: &str| StoredSchema {
            schema_type: SchemaType::Json,
            schema: t.into(),
            references: Vec::new(),
        };
        let old = json(r#"{"type":"object"}"#);
        let state = State::default();
        let same = problems(&state, "s", Level::Backward, &old, &[(1, &old)]).unwrap();
        assert!(same.is_empty());
        let new = json(r#"{"type":"string"}"#);
        let e = problems(&state, "s", Level::Backward, &new, &[(1, &old)]).unwrap_err();
        assert_eq!(e.code, 42205);
        assert!(e.message.contains("NONE"), "{e:?}");
        assert!(problems(&state, "s", Level::None, &new, &[(1, &old)])
            .unwrap()
            .is_empty());
        let p = problems(&state, "s", Level::Backward, &avro(V1), &[(1, &old)]).unwrap();
        assert!(p[0].contains("JSON schema"), "{p:?}");
    }
}
