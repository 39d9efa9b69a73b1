//! Index mappings: the JSON Elasticsearch accepts and renders (kept as the source of truth),
//! and the flat field table derived from it that indexing and searching use.

mod dynamic;
mod merge;

pub use dynamic::infer_update;
pub use merge::merge;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::analysis::Analyzers;
use crate::dates::DateFormat;
use crate::error::EsError;

/// The type of a mapped leaf field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Analyzed full text.
    Text,
    /// An exact string.
    Keyword,
    /// Signed integers (`long`, `integer`, `short`, `byte`).
    Integer,
    /// `unsigned_long`.
    Unsigned,
    /// Floating point (`double`, `float`, `half_float`, `scaled_float`).
    Float,
    /// `boolean`.
    Boolean,
    /// `date`.
    Date,
    /// `binary`: stored in the source only.
    Binary,
    /// `completion`: inputs for the completion suggester.
    Completion,
}

impl FieldType {
    /// Whether the field lives in tantivy's fast JSON field (sortable, aggregatable).
    pub fn is_columnar(self) -> bool {
        !matches!(
            self,
            FieldType::Text | FieldType::Binary | FieldType::Completion
        )
    }

    /// Whether values are numbers.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Integer | FieldType::Unsigned | FieldType::Float
        )
    }
}

/// What to do with fields a document has and the mapping has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dynamic {
    /// Map them.
    True,
    /// Keep them in `_source` only.
    False,
    /// Refuse the document.
    Strict,
}

impl Dynamic {
    fn parse(value: &Value, path: &str) -> Result<Dynamic, EsError> {
        match value {
            Value::Bool(true) => Ok(Dynamic::True),
            Value::Bool(false) => Ok(Dynamic::False),
            Value::String(s) if s == "true" => Ok(Dynamic::True),
            Value::String(s) if s == "false" => Ok(Dynamic::False),
            Value::String(s) if s == "strict" => Ok(Dynamic::Strict),
            Value::String(s) if s == "runtime" => Err(EsError::unsupported(format!(
                "dynamic: runtime (on [{path}])"
            ))),
            other => Err(EsError::mapper_parsing(format!(
                "Could not convert [{path}.dynamic] to boolean or strict: [{other}]"
            ))),
        }
    }
}

/// One mapped leaf field (or multi-field) by its full dotted path.
#[derive(Debug, Clone)]
pub struct FieldInfo {
    /// Full dotted path, e.g. `name.keyword`.
    pub path: String,
    /// The field's type.
    pub ty: FieldType,
    /// The type name as written (`long`, `scaled_float`, ...).
    pub type_name: String,
    /// Searchable (`index`).
    pub index: bool,
    /// Sortable and aggregatable (`doc_values`).
    pub doc_values: bool,
    /// Index-time analyzer (text).
    pub analyzer: String,
    /// Search-time analyzer (text).
    pub search_analyzer: String,
    /// Search-time analyzer of phrase queries (text).
    pub search_quote_analyzer: String,
    /// Normalizer (keyword).
    pub normalizer: Option<String>,
    /// Longer keyword values are not indexed.
    pub ignore_above: Option<usize>,
    /// Value indexed in place of `null`.
    pub null_value: Option<Value>,
    /// Date format.
    pub format: DateFormat,
    /// Fields the value is copied to.
    pub copy_to: Vec<String>,
    /// Full paths of the multi-fields under this field.
    pub multi_fields: Vec<String>,
    /// Whether this is a multi-field of another field.
    pub is_multi_field: bool,
    /// `scaled_float` factor.
    pub scaling_factor: Option<f64>,
    /// Malformed values are skipped instead of failing the document.
    pub ignore_malformed: bool,
    /// Strings are coerced to numbers.
    pub coerce: bool,
}

/// An object field.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    /// Its own `dynamic` setting, if any (otherwise inherited).
    pub dynamic: Option<Dynamic>,
    /// `enabled: false` objects are kept in the source only.
    pub enabled: bool,
}

/// A parsed mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The mapping as Elasticsearch renders it.
    pub json: Value,
    /// Leaf fields and multi-fields by full path.
    pub fields: BTreeMap<String, FieldInfo>,
    /// Object fields by full path.
    pub objects: BTreeMap<String, ObjectInfo>,
    /// The root `dynamic` setting.
    pub dynamic: Dynamic,
    /// Strings that look like dates are mapped as dates.
    pub date_detection: bool,
    /// Strings that look like numbers are mapped as numbers.
    pub numeric_detection: bool,
    /// `_source.enabled`.
    pub source_enabled: bool,
}

const COMMON: &[&str] = &[
    "type",
    "index",
    "store",
    "doc_values",
    "copy_to",
    "meta",
    "fields",
    "boost",
];
const TEXT: &[&str] = &[
    "analyzer",
    "search_analyzer",
    "search_quote_analyzer",
    "index_options",
    "norms",
    "term_vector",
    "position_increment_gap",
    "index_phrases",
    "eager_global_ordinals",
    "similarity",
    "fielddata",
];
const KEYWORD: &[&str] = &[
    "ignore_above",
    "normalizer",
    "norms",
    "eager_global_ordinals",
    "index_options",
    "null_value",
    "similarity",
    "split_queries_on_whitespace",
];
const NUMBER: &[&str] = &["coerce", "ignore_malformed", "null_value", "scaling_factor"];
const DATE: &[&str] = &["format", "locale", "ignore_malformed", "null_value"];
const BOOLEAN: &[&str] = &["null_value"];
const COMPLETION: &[&str] = &[
    "analyzer",
    "search_analyzer",
    "preserve_separators",
    "preserve_position_increments",
    "max_input_length",
];

fn type_of(name: &str) -> Option<FieldType> {
    Some(match name {
        "text" | "match_only_text" => FieldType::Text,
        "keyword" | "constant_keyword" | "wildcard" => FieldType::Keyword,
        "long" | "integer" | "short" | "byte" => FieldType::Integer,
        "unsigned_long" => FieldType::Unsigned,
        "double" | "float" | "half_float" | "scaled_float" => FieldType::Float,
        "boolean" => FieldType::Boolean,
        "date" | "date_nanos" => FieldType::Date,
        "binary" => FieldType::Binary,
        "completion" => FieldType::Completion,
        _ => return None,
    })
}

fn bool_of(value: Option<&Value>, default: bool) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => default,
    }
}

struct Parser<'a> {
    analyzers: &'a Analyzers,
    fields: BTreeMap<String, FieldInfo>,
    objects: BTreeMap<String, ObjectInfo>,
}

impl Parser<'_> {
    fn properties(&mut self, prefix: &str, props: &Value) -> Result<(), EsError> {
        let props = props.as_object().ok_or_else(|| {
            EsError::mapper_parsing(format!(
                "Expected map for property [properties] on field [{}] but got a {}",
                if prefix.is_empty() { "_doc" } else { prefix },
                json_kind(props)
            ))
        })?;
        for (name, def) in props {
            if name.is_empty() {
                return Err(EsError::mapper_parsing(
                    "field name cannot be an empty string",
                ));
            }
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            self.field(&path, def, false)?;
        }
        Ok(())
    }

    fn field(&mut self, path: &str, def: &Value, multi: bool) -> Result<(), EsError> {
        let def = def.as_object().ok_or_else(|| {
            EsError::mapper_parsing(format!(
                "Expected map for property [fields] on field [{path}] but got a {}",
                json_kind(def)
            ))
        })?;
        let type_name = match def.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(other) => {
                return Err(EsError::mapper_parsing(format!(
                    "No type specified for field [{path}]: [{other}]"
                )))
            }
            None if def.contains_key("properties") || !multi => "object",
            None => {
                return Err(EsError::mapper_parsing(format!(
                    "No type specified for field [{path}]"
                )))
            }
        };
        if type_name == "object" {
            if multi {
                return Err(EsError::mapper_parsing(format!(
                    "Type [object] cannot be used in multi field [{path}]"
                )));
            }
            for key in def.keys() {
                if !["type", "properties", "dynamic", "enabled", "subobjects"]
                    .contains(&key.as_str())
                {
                    return Err(EsError::mapper_parsing(format!(
                        "unknown parameter [{key}] on mapper [{path}] of type [object]"
                    )));
                }
            }
            let dynamic = def
                .get("dynamic")
                .map(|d| Dynamic::parse(d, path))
                .transpose()?;
            self.objects.insert(
                path.to_string(),
                ObjectInfo {
                    dynamic,
                    enabled: bool_of(def.get("enabled"), true),
                },
            );
            if let Some(props) = def.get("properties") {
                self.properties(path, props)?;
            }
            return Ok(());
        }
        let Some(ty) = type_of(type_name) else {
            let known = [
                "nested",
                "flattened",
                "geo_point",
                "geo_shape",
                "ip",
                "completion",
                "search_as_you_type",
                "dense_vector",
                "sparse_vector",
                "join",
                "percolator",
                "rank_feature",
                "rank_features",
                "integer_range",
                "long_range",
                "float_range",
                "double_range",
                "date_range",
                "ip_range",
                "alias",
                "histogram",
                "point",
                "shape",
                "version",
                "token_count",
                "annotated_text",
                "semantic_text",
            ];
            return Err(if known.contains(&type_name) {
                EsError::unsupported(format!("the [{type_name}] field type (field [{path}])"))
            } else {
                EsError::mapper_parsing(format!(
                    "No handler for type [{type_name}] declared on field [{path}]"
                ))
            });
        };
        let allowed: &[&str] = match ty {
            FieldType::Text => TEXT,
            FieldType::Keyword => KEYWORD,
            FieldType::Integer | FieldType::Unsigned | FieldType::Float => NUMBER,
            FieldType::Date => DATE,
            FieldType::Boolean => BOOLEAN,
            FieldType::Binary => &[],
            FieldType::Completion => COMPLETION,
        };
        if ty == FieldType::Completion && def.contains_key("contexts") {
            return Err(EsError::unsupported(format!(
                "completion contexts (field [{path}])"
            )));
        }
        for key in def.keys() {
            if !COMMON.contains(&key.as_str()) && !allowed.contains(&key.as_str()) {
                return Err(EsError::mapper_parsing(format!(
                    "unknown parameter [{key}] on mapper [{path}] of type [{type_name}]"
                )));
            }
        }
        if ty == FieldType::Text && bool_of(def.get("fielddata"), false) {
            return Err(EsError::unsupported(format!(
                "fielddata on text field [{path}] (aggregate or sort on a keyword multi-field instead)"
            )));
        }
        if let Some(sim) = def.get("similarity").and_then(Value::as_str) {
            if sim != "BM25" {
                return Err(EsError::unsupported(format!(
                    "the similarity [{sim}] of field [{path}] (only BM25)"
                )));
            }
        }
        let analyzer = def
            .get("analyzer")
            .and_then(Value::as_str)
            .unwrap_or(if ty == FieldType::Completion {
                "simple"
            } else {
                "standard"
            })
            .to_string();
        let search_analyzer = def
            .get("search_analyzer")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| analyzer.clone());
        let search_quote_analyzer = def
            .get("search_quote_analyzer")
            .and_then(Value::as_str)
            .map(String::from)
            .unwrap_or_else(|| search_analyzer.clone());
        if matches!(ty, FieldType::Text | FieldType::Completion) {
            for a in [&analyzer, &search_analyzer, &search_quote_analyzer] {
                self.analyzers.get(a).map_err(|_| {
                    EsError::mapper_parsing(format!(
                        "Failed to parse mapping: analyzer [{a}] has not been configured in mappings"
                    ))
                })?;
            }
        }
        let normalizer = def
            .get("normalizer")
            .and_then(Value::as_str)
            .map(String::from);
        if let Some(n) = &normalizer {
            self.analyzers.normalizer(n).map_err(|_| {
                EsError::mapper_parsing(format!("normalizer [{n}] not found for field [{path}]"))
            })?;
        }
        let format = match def.get("format").and_then(Value::as_str) {
            Some(f) => DateFormat::parse(f)
                .map_err(|e| EsError::mapper_parsing(format!("Invalid format: [{f}]: {e}")))?,
            None => DateFormat::default_format(),
        };
        let scaling_factor = def.get("scaling_factor").and_then(Value::as_f64);
        if type_name == "scaled_float" && scaling_factor.is_none() {
            return Err(EsError::mapper_parsing(format!(
                "Field [scaling_factor] is required for field [{path}]"
            )));
        }
        let copy_to = match def.get("copy_to") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            Some(other) => {
                return Err(EsError::mapper_parsing(format!(
                    "copy_to of [{path}] must be a string or a list: [{other}]"
                )))
            }
        };
        let ignore_above = match def.get("ignore_above") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| {
                        EsError::mapper_parsing(format!(
                            "Failed to parse [ignore_above] of [{path}]: [{v}]"
                        ))
                    })? as usize,
            ),
        };
        let mut multi_fields = Vec::new();
        if let Some(fields) = def.get("fields") {
            let fields = fields.as_object().ok_or_else(|| {
                EsError::mapper_parsing(format!(
                    "Expected map for property [fields] on field [{path}]"
                ))
            })?;
            for (name, sub) in fields {
                let sub_path = format!("{path}.{name}");
                self.field(&sub_path, sub, true)?;
                multi_fields.push(sub_path);
            }
        }
        self.fields.insert(
            path.to_string(),
            FieldInfo {
                path: path.to_string(),
                ty,
                type_name: type_name.to_string(),
                index: bool_of(def.get("index"), ty != FieldType::Binary),
                doc_values: bool_of(def.get("doc_values"), ty.is_columnar()),
                analyzer,
                search_analyzer,
                search_quote_analyzer,
                normalizer,
                ignore_above,
                null_value: def.get("null_value").cloned().filter(|v| !v.is_null()),
                format,
                copy_to,
                multi_fields,
                is_multi_field: multi,
                scaling_factor,
                ignore_malformed: bool_of(def.get("ignore_malformed"), false),
                coerce: bool_of(def.get("coerce"), true),
            },
        );
        Ok(())
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "String",
        Value::Array(_) => "ArrayList",
        Value::Object(_) => "LinkedHashMap",
    }
}

const ROOT_KEYS: &[&str] = &[
    "properties",
    "dynamic",
    "date_detection",
    "numeric_detection",
    "dynamic_date_formats",
    "_source",
    "_meta",
    "_routing",
    "dynamic_templates",
];

impl Mapping {
    /// The empty mapping of a new index.
    pub fn empty() -> Mapping {
        Mapping {
            json: json!({}),
            fields: BTreeMap::new(),
            objects: BTreeMap::new(),
            dynamic: Dynamic::True,
            date_detection: true,
            numeric_detection: false,
            source_enabled: true,
        }
    }

    /// Parses a mapping body (`{"properties": {...}, "dynamic": ...}`), checking analyzers
    /// against `analyzers`.
    pub fn parse(json: &Value, analyzers: &Analyzers) -> Result<Mapping, EsError> {
        let obj = match json {
            Value::Null => return Ok(Mapping::empty()),
            Value::Object(o) => o,
            other => {
                return Err(EsError::mapper_parsing(format!(
                    "Failed to parse mapping: Expected map for property [mappings] but got a {}",
                    json_kind(other)
                )))
            }
        };
        if obj.len() == 1 && !obj.contains_key("properties") {
            if let Some((name, inner)) = obj.iter().next() {
                if !ROOT_KEYS.contains(&name.as_str()) && inner.get("properties").is_some() {
                    return Err(EsError::illegal_argument(format!(
                        "The mapping definition cannot be nested under a type [{name}] unless include_type_name is set to true."
                    )));
                }
            }
        }
        for key in obj.keys() {
            if !ROOT_KEYS.contains(&key.as_str()) {
                return Err(EsError::mapper_parsing(format!(
                    "Root mapping definition has unsupported parameters:  [{key} : {}]",
                    obj[key]
                )));
            }
        }
        if let Some(t) = obj.get("dynamic_templates") {
            if t.as_array().is_some_and(|a| !a.is_empty()) {
                return Err(EsError::unsupported("dynamic_templates"));
            }
        }
        if obj
            .get("_routing")
            .and_then(|r| r.get("required"))
            .is_some_and(|r| bool_of(Some(r), false))
        {
            return Err(EsError::unsupported("_routing.required"));
        }
        if let Some(formats) = obj.get("dynamic_date_formats") {
            let default = json!([
                "strict_date_optional_time",
                "yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z"
            ]);
            if *formats != default {
                return Err(EsError::unsupported("custom dynamic_date_formats"));
            }
        }
        let mut parser = Parser {
            analyzers,
            fields: BTreeMap::new(),
            objects: BTreeMap::new(),
        };
        if let Some(props) = obj.get("properties") {
            parser.properties("", props)?;
        }
        for f in parser.fields.values() {
            for target in &f.copy_to {
                if !parser.fields.contains_key(target) {
                    return Err(EsError::mapper_parsing(format!(
                        "copy_to target [{target}] of field [{}] is not mapped (map it explicitly first)",
                        f.path
                    )));
                }
            }
        }
        Ok(Mapping {
            json: json.clone(),
            fields: parser.fields,
            objects: parser.objects,
            dynamic: obj
                .get("dynamic")
                .map(|d| Dynamic::parse(d, "_doc"))
                .transpose()?
                .unwrap_or(Dynamic::True),
            date_detection: bool_of(obj.get("date_detection"), true),
            numeric_detection: bool_of(obj.get("numeric_detection"), false),
            source_enabled: bool_of(obj.get("_source").and_then(|s| s.get("enabled")), true),
        })
    }

    /// The mapped field at `path`, if any.
    pub fn field(&self, path: &str) -> Option<&FieldInfo> {
        self.fields.get(path)
    }

    /// The `dynamic` setting that applies inside the object at `path` ("" for the root).
    pub fn dynamic_at(&self, path: &str) -> Dynamic {
        let mut p = path;
        loop {
            if let Some(d) = self.objects.get(p).and_then(|o| o.dynamic) {
                return d;
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None if !p.is_empty() => p = "",
                None => return self.dynamic,
            }
        }
    }

    /// The paths of fields matching `pattern` (`*` wildcards), as `fields` lists name them.
    pub fn matching_fields(&self, pattern: &str) -> Vec<&FieldInfo> {
        if !pattern.contains('*') {
            return self.fields.get(pattern).into_iter().collect();
        }
        self.fields
            .values()
            .filter(|f| wildcard_match(pattern, &f.path))
            .collect()
    }

    /// The mapping rendered for `GET _mapping`.
    pub fn to_json(&self) -> Value {
        match &self.json {
            Value::Object(o) if !o.is_empty() => self.json.clone(),
            _ => Value::Object(Map::new()),
        }
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyzers() -> Analyzers {
        Analyzers::from_settings(&json!({}), 1).unwrap()
    }

    #[test]
    fn parses_fields_multi_fields_and_objects() {
        let m = Mapping::parse(
            &json!({"properties": {
                "name": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
                "price": {"type": "scaled_float", "scaling_factor": 100},
                "created": {"type": "date", "format": "yyyy-MM-dd"},
                "address": {"properties": {"city": {"type": "keyword"}}}
            }}),
            &analyzers(),
        )
        .unwrap();
        assert_eq!(m.field("name").unwrap().ty, FieldType::Text);
        assert_eq!(m.field("name.keyword").unwrap().ignore_above, Some(256));
        assert!(m.field("name.keyword").unwrap().is_multi_field);
        assert_eq!(m.field("price").unwrap().ty, FieldType::Float);
        assert_eq!(m.field("address.city").unwrap().ty, FieldType::Keyword);
        assert!(m.objects.contains_key("address"));
        assert_eq!(m.matching_fields("name*").len(), 2);
    }

    #[test]
    fn rejects_unknown_parameters_types_and_analyzers() {
        let a = analyzers();
        let e = Mapping::parse(
            &json!({"properties": {"x": {"type": "text", "bogus": 1}}}),
            &a,
        )
        .unwrap_err();
        assert_eq!(
            e.reason,
            "unknown parameter [bogus] on mapper [x] of type [text]"
        );
        let e = Mapping::parse(&json!({"properties": {"x": {"type": "strange"}}}), &a).unwrap_err();
        assert!(e.reason.contains("No handler for type [strange]"));
        let e = Mapping::parse(&json!({"properties": {"x": {"type": "nested"}}}), &a).unwrap_err();
        assert!(e.reason.contains("vers search"));
        let e = Mapping::parse(
            &json!({"properties": {"x": {"type": "text", "analyzer": "nope"}}}),
            &a,
        )
        .unwrap_err();
        assert!(e.reason.contains("analyzer [nope]"));
        let e = Mapping::parse(&json!({"_doc": {"properties": {}}}), &a).unwrap_err();
        assert!(e.reason.contains("include_type_name"));
    }

    #[test]
    fn dynamic_is_inherited() {
        let m = Mapping::parse(
            &json!({"dynamic": "strict", "properties": {"meta": {"type": "object", "dynamic": true, "properties": {}}}}),
            &analyzers(),
        )
        .unwrap();
        assert_eq!(m.dynamic_at(""), Dynamic::Strict);
        assert_eq!(m.dynamic_at("meta"), Dynamic::True);
        assert_eq!(m.dynamic_at("meta.x"), Dynamic::True);
        assert_eq!(m.dynamic_at("other"), Dynamic::Strict);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("na*", "name"));
        assert!(wildcard_match("*.keyword", "name.keyword"));
        assert!(wildcard_match("a*c*e", "abcde"));
        assert!(!wildcard_match("a*z", "abc"));
    }
}
