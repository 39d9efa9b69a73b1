//! Argument shapes shared by several tools, and the extractor that decodes a tool's
//! arguments.

use std::collections::BTreeMap;

use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::ErrorData;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// A tool's arguments decoded into `P`. Arguments that are missing or do not fit are a
/// JSON-RPC error -32602 (invalid params) naming the tool and the argument at fault, not a
/// tool result: the call was never made. (rmcp's own `Parameters` answers them as an
/// `isError` result without the argument's name.) Named `Parameters` so that `#[tool]`
/// takes the tool's input schema from `P`.
pub struct Parameters<P>(pub P);

impl<P: JsonSchema> JsonSchema for Parameters<P> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        P::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        P::json_schema(generator)
    }
}

impl<S, P: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<P> {
    fn from_context_part(context: &mut ToolCallContext<S>) -> Result<Self, ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        serde_path_to_error::deserialize(Value::Object(arguments))
            .map(Parameters)
            .map_err(|e| invalid_arguments(context.name(), &e))
    }
}

/// The -32602 error of a tool's arguments that do not decode: `TOOL: argument `PATH`: what
/// is wrong` (`TOOL: missing field `NAME`` when one is absent), with `{tool, argument}` as
/// data.
fn invalid_arguments(tool: &str, e: &serde_path_to_error::Error<serde_json::Error>) -> ErrorData {
    let path = e.path().to_string();
    let inner = e.inner().to_string();
    let (message, argument) = if path == "." {
        // The argument missing, or one the tool does not take (serde names the ones it
        // does: "unknown field `name`, expected `alias` or `from`").
        let missing = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|p| inner.strip_prefix(p))
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string);
        (format!("{tool}: invalid arguments: {inner}"), missing)
    } else {
        (
            format!("{tool}: invalid argument `{path}`: {inner}"),
            Some(path),
        )
    };
    ErrorData::invalid_params(message, Some(json!({"tool": tool, "argument": argument})))
}

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

/// The arguments of a tool that takes none: any given is refused as invalid params, as
/// for the other tools, instead of being ignored.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// Which postgres service and database (`db_*` tools).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Args {
        branch: String,
        #[serde(default)]
        lines: Option<usize>,
    }

    fn error_of(v: Value) -> ErrorData {
        let e = serde_path_to_error::deserialize::<_, Args>(v).unwrap_err();
        invalid_arguments("t", &e)
    }

    #[test]
    fn bad_arguments_are_invalid_params_naming_the_argument() {
        let e = error_of(json!({}));
        assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        assert_eq!(e.message, "t: invalid arguments: missing field `branch`");
        assert_eq!(e.data, Some(json!({"tool": "t", "argument": "branch"})));
        let e = error_of(json!({"branch": "b", "lines": "abc"}));
        assert!(
            e.message
                .starts_with("t: invalid argument `lines`: invalid type"),
            "{}",
            e.message
        );
        assert_eq!(e.data, Some(json!({"tool": "t", "argument": "lines"})));
    }

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
