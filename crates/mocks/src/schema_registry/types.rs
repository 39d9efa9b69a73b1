//! The registry's vocabulary: schema types, compatibility levels and schema references.

use serde::{Deserialize, Serialize};

use super::api_error::ApiError;

/// The kind of a schema; Confluent's default is AVRO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum SchemaType {
    /// An Apache Avro schema (JSON text).
    Avro,
    /// A JSON Schema document.
    Json,
    /// A Protocol Buffers `.proto` file.
    Protobuf,
}

impl SchemaType {
    /// Every type, as `GET /schemas/types` lists them.
    pub const ALL: [SchemaType; 3] = [SchemaType::Json, SchemaType::Protobuf, SchemaType::Avro];

    /// The type named by a request's `schemaType` (AVRO when absent).
    pub fn parse(text: Option<&str>) -> Result<Self, ApiError> {
        match text.map(str::to_ascii_uppercase).as_deref() {
            None | Some("AVRO") => Ok(SchemaType::Avro),
            Some("JSON") => Ok(SchemaType::Json),
            Some("PROTOBUF") => Ok(SchemaType::Protobuf),
            Some(_) => Err(ApiError::invalid_schema(format!(
                "unknown schemaType '{}'; use AVRO, JSON or PROTOBUF",
                text.unwrap_or_default()
            ))),
        }
    }

    /// The name Confluent uses.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }
}

/// A compatibility level: which earlier versions a new schema is checked against and in
/// which direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Level {
    /// The new schema reads data written with the latest version (Confluent's default).
    #[default]
    Backward,
    /// The new schema reads data written with every version.
    BackwardTransitive,
    /// The latest version reads data written with the new schema.
    Forward,
    /// Every version reads data written with the new schema.
    ForwardTransitive,
    /// Backward and forward against the latest version.
    Full,
    /// Backward and forward against every version.
    FullTransitive,
    /// No check.
    None,
}

impl Level {
    /// The level a request names, in any letter case.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        Ok(match text.to_ascii_uppercase().as_str() {
            "BACKWARD" => Level::Backward,
            "BACKWARD_TRANSITIVE" => Level::BackwardTransitive,
            "FORWARD" => Level::Forward,
            "FORWARD_TRANSITIVE" => Level::ForwardTransitive,
            "FULL" => Level::Full,
            "FULL_TRANSITIVE" => Level::FullTransitive,
            "NONE" => Level::None,
            _ => return Err(ApiError::invalid_level(text)),
        })
    }

    /// The name Confluent uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Backward => "BACKWARD",
            Level::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Level::Forward => "FORWARD",
            Level::ForwardTransitive => "FORWARD_TRANSITIVE",
            Level::Full => "FULL",
            Level::FullTransitive => "FULL_TRANSITIVE",
            Level::None => "NONE",
        }
    }

    /// Whether the new schema must read data written with earlier versions.
    pub fn backward(self) -> bool {
        matches!(
            self,
            Level::Backward | Level::BackwardTransitive | Level::Full | Level::FullTransitive
        )
    }

    /// Whether earlier versions must read data written with the new schema.
    pub fn forward(self) -> bool {
        matches!(
            self,
            Level::Forward | Level::ForwardTransitive | Level::Full | Level::FullTransitive
        )
    }

    /// Whether every earlier version counts, not only the latest.
    pub fn transitive(self) -> bool {
        matches!(
            self,
            Level::BackwardTransitive | Level::ForwardTransitive | Level::FullTransitive
        )
    }
}

/// A schema's reference to a named type registered under another subject.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct Reference {
    /// The name the referring schema uses (an Avro full name, a JSON `$ref`, a proto import).
    pub name: String,
    /// The subject the referenced schema is registered under.
    pub subject: String,
    /// Its version there.
    pub version: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_in_any_case_and_know_their_direction() {
        assert_eq!(
            Level::parse("full_transitive").unwrap(),
            Level::FullTransitive
        );
        assert_eq!(Level::parse("NONE").unwrap(), Level::None);
        let e = Level::parse("SIDEWAYS").unwrap_err();
        assert_eq!(e.code, 42203);
        assert!(Level::Full.backward() && Level::Full.forward() && !Level::Full.transitive());
        assert!(!Level::Forward.backward() && Level::ForwardTransitive.transitive());
        assert!(!Level::None.backward() && !Level::None.forward());
        assert_eq!(Level::default().as_str(), "BACKWARD");
    }

    #[test]
    fn schema_types_default_to_avro() {
        assert_eq!(SchemaType::parse(None).unwrap(), SchemaType::Avro);
        assert_eq!(SchemaType::parse(Some("json")).unwrap(), SchemaType::Json);
        assert_eq!(SchemaType::parse(Some("THRIFT")).unwrap_err().code, 42201);
    }
}
