//! Turning an Elasticsearch document (`_source`) into a tantivy document under the index's
//! mapping: text through its analyzer into its slot, keywords, numbers, booleans and dates
//! into the columnar JSON field, multi-fields and `copy_to` targets too, and every path with
//! a value into `_field_names`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use tantivy::schema::OwnedValue;
use tantivy::tokenizer::PreTokenizedString;
use tantivy::TantivyDocument;

use super::meta::IndexState;
use super::schema::Fields;
use crate::error::EsError;
use crate::mapping::{FieldInfo, FieldType};

/// Lucene's longest term, which Elasticsearch enforces for keyword values.
const MAX_TERM_BYTES: usize = 32_766;

/// The identity of a document version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// `_version`.
    pub version: u64,
    /// `_seq_no`.
    pub seq_no: u64,
}

struct Builder<'a> {
    state: &'a IndexState,
    id: &'a str,
    values: BTreeMap<String, Vec<OwnedValue>>,
    texts: BTreeMap<usize, Vec<PreTokenizedString>>,
    names: BTreeSet<String>,
}

fn preview(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A number normalised as tantivy's JSON indexer normalises it, so query terms match.
pub fn normalize_f64(v: f64) -> OwnedValue {
    if v.fract() == 0.0 && v >= i64::MIN as f64 && v <= i64::MAX as f64 {
        OwnedValue::I64(v as i64)
    } else {
        OwnedValue::F64(v)
    }
}

fn integer_range(type_name: &str) -> (i64, i64) {
    match type_name {
        "integer" => (i32::MIN as i64, i32::MAX as i64),
        "short" => (i16::MIN as i64, i16::MAX as i64),
        "byte" => (i8::MIN as i64, i8::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    }
}

/// The columnar value of a non-text field for `value`, or why it does not fit.
pub fn typed_value(field: &FieldInfo, value: &Value) -> Result<OwnedValue, String> {
    let number = |v: &Value| -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) if field.coerce => s.trim().parse().ok(),
            _ => None,
        }
    };
    match field.ty {
        FieldType::Keyword => {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => return Err(format!("unexpected value {other}")),
            };
            if text.len() > MAX_TERM_BYTES && field.ignore_above.is_none() {
                return Err(format!(
                    "Document contains at least one immense term in field=\"{}\" (whose UTF8 encoding is longer than the max length {MAX_TERM_BYTES}), all of which were skipped. Please correct the analyzer to not produce such terms.",
                    field.path
                ));
            }
            Ok(OwnedValue::Str(text))
        }
        FieldType::Integer => {
            let (lo, hi) = integer_range(&field.type_name);
            if let Some(i) = value.as_i64() {
                return if i < lo || i > hi {
                    Err(format!(
                        "Value [{i}] is out of range for {}",
                        field.type_name
                    ))
                } else {
                    Ok(OwnedValue::I64(i))
                };
            }
            let f =
                number(value).ok_or_else(|| format!("For input string: \"{}\"", preview(value)))?;
            if f.is_nan() || f < lo as f64 || f > hi as f64 {
                return Err(format!(
                    "Value [{f}] is out of range for {}",
                    field.type_name
                ));
            }
            Ok(OwnedValue::I64(f.trunc() as i64))
        }
        FieldType::Unsigned => {
            if let Some(u) = value.as_u64() {
                return Ok(match i64::try_from(u) {
                    Ok(i) => OwnedValue::I64(i),
                    Err(_) => OwnedValue::U64(u),
                });
            }
            let f =
                number(value).ok_or_else(|| format!("For input string: \"{}\"", preview(value)))?;
            if f < 0.0 || !f.is_finite() {
                return Err(format!("Value [{f}] is out of range for unsigned_long"));
            }
            Ok(normalize_f64(f.trunc()))
        }
        FieldType::Float => {
            let f =
                number(value).ok_or_else(|| format!("For input string: \"{}\"", preview(value)))?;
            if !f.is_finite() {
                return Err(format!(
                    "[{}] supports only finite values, but got [{f}]",
                    field.type_name
                ));
            }
            let f = match field.scaling_factor {
                Some(factor) if factor > 0.0 => (f * factor).round() / factor,
                _ => f,
            };
            Ok(normalize_f64(f))
        }
        FieldType::Boolean => match value {
            Value::Bool(b) => Ok(OwnedValue::Bool(*b)),
            Value::String(s) if s == "true" => Ok(OwnedValue::Bool(true)),
            Value::String(s) if s == "false" || s.is_empty() => Ok(OwnedValue::Bool(false)),
            other => Err(format!(
                "Failed to parse value [{}] as only [true] or [false] are allowed.",
                preview(other)
            )),
        },
        FieldType::Date => {
            let millis = match value {
                // Numbers are read with the field's format too (epoch_millis by default,
                // epoch_second when the mapping says so), as Elasticsearch reads them.
                Value::Number(n) => field.format.parse_millis(&n.to_string(), None),
                Value::String(s) => field.format.parse_millis(s, None),
                _ => None,
            }
            .ok_or_else(|| {
                format!(
                    "failed to parse date field [{}] with format [{}]",
                    preview(value),
                    "the field's format"
                )
            })?;
            Ok(OwnedValue::I64(millis))
        }
        FieldType::Text | FieldType::Binary | FieldType::Completion => {
            Err("not a columnar field".into())
        }
    }
}

impl Builder<'_> {
    fn mark(&mut self, path: &str) {
        let mut p = path;
        loop {
            if !self.names.insert(p.to_string()) {
                return;
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => return,
            }
        }
    }

    fn object(&mut self, prefix: &str, obj: &Map<String, Value>) -> Result<(), EsError> {
        for (key, value) in obj {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            self.any(&path, key, value)?;
        }
        Ok(())
    }

    fn any(&mut self, path: &str, key: &str, value: &Value) -> Result<(), EsError> {
        if let Some(field) = self.state.mapping.field(path) {
            return self.leaf(field, value, true);
        }
        if let Some(obj) = self.state.mapping.objects.get(path) {
            if !obj.enabled {
                return Ok(());
            }
            return match value {
                Value::Object(o) => self.object(path, o),
                Value::Array(items) => {
                    for item in items {
                        self.any(path, key, item)?;
                    }
                    Ok(())
                }
                Value::Null => Ok(()),
                _ => Err(EsError::mapper_parsing(format!(
                    "object mapping for [{path}] tried to parse field [{key}] as object, but found a concrete value"
                ))),
            };
        }
        // Unmapped (dynamic: false): kept in the source only; its children may be mapped
        // under dotted names.
        if let Value::Object(o) = value {
            self.object(path, o)?;
        }
        Ok(())
    }

    fn malformed(&self, field: &FieldInfo, value: &Value, cause: String) -> EsError {
        EsError::mapper_parsing(format!(
            "failed to parse field [{}] of type [{}] in document with id '{}'. Preview of field's value: '{}'",
            field.path,
            field.type_name,
            self.id,
            preview(value)
        ))
        .caused_by(EsError::illegal_argument(cause))
    }

    fn completion(&mut self, field: &FieldInfo, value: &Value) -> Result<(), EsError> {
        let mut inputs: Vec<(String, u64)> = Vec::new();
        let mut read = |v: &Value| -> Result<(), EsError> {
            match v {
                Value::String(s) => inputs.push((s.clone(), 1)),
                Value::Object(o) => {
                    let weight = match o.get("weight") {
                        None => 1,
                        Some(w) => w
                            .as_u64()
                            .or_else(|| w.as_str().and_then(|s| s.parse().ok()))
                            .ok_or_else(|| {
                                self.malformed(
                                    field,
                                    v,
                                    format!("weight must be a non-negative integer, got {w}"),
                                )
                            })?,
                    };
                    match o.get("input") {
                        Some(Value::String(s)) => inputs.push((s.clone(), weight)),
                        Some(Value::Array(items)) => {
                            for i in items {
                                if let Some(s) = i.as_str() {
                                    inputs.push((s.to_string(), weight));
                                }
                            }
                        }
                        _ => {
                            return Err(self.malformed(
                                field,
                                v,
                                "a completion object needs an [input]".into(),
                            ))
                        }
                    }
                    if o.contains_key("contexts") {
                        return Err(EsError::unsupported("completion contexts"));
                    }
                }
                Value::Null => {}
                other => {
                    return Err(self.malformed(
                        field,
                        other,
                        "expected a string or an object with [input]".into(),
                    ))
                }
            }
            Ok(())
        };
        match value {
            Value::Array(items) => {
                for i in items {
                    read(i)?;
                }
            }
            other => read(other)?,
        }
        let analyzer = self.state.analyzers.get(&field.analyzer)?.clone();
        for (input, weight) in inputs {
            let normalized = analyzer.terms(&input).join(" ");
            if normalized.is_empty() {
                continue;
            }
            self.values
                .entry(field.path.clone())
                .or_default()
                .push(OwnedValue::Str(completion_term(
                    &normalized,
                    weight,
                    &input,
                )));
            self.mark(&field.path);
        }
        Ok(())
    }

    fn leaf(&mut self, field: &FieldInfo, value: &Value, copy: bool) -> Result<(), EsError> {
        if field.ty == FieldType::Completion {
            return self.completion(field, value);
        }
        match value {
            Value::Array(items) => {
                for item in items {
                    self.leaf(field, item, copy)?;
                }
                return Ok(());
            }
            Value::Object(_) => {
                return Err(self.malformed(
                    field,
                    value,
                    format!(
                        "Can't get text on a START_OBJECT for field [{}]",
                        field.path
                    ),
                ))
            }
            Value::Null => {
                if let Some(nv) = field.null_value.clone() {
                    return self.leaf(field, &nv, copy);
                }
                return Ok(());
            }
            _ => {}
        }
        if field.index || field.doc_values {
            match field.ty {
                FieldType::Text => {
                    let text = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    if field.index {
                        let slot = self.state.slot(&field.path).ok_or_else(|| {
                            EsError::internal(format!("text field [{}] has no slot", field.path))
                        })?;
                        let analyzer = self.state.analyzers.get(&field.analyzer)?;
                        let tokens = analyzer.analyze(&text);
                        self.texts
                            .entry(slot)
                            .or_default()
                            .push(PreTokenizedString {
                                text: String::new(),
                                tokens,
                            });
                    }
                    self.mark(&field.path);
                }
                FieldType::Binary => self.mark(&field.path),
                _ => match typed_value(field, value) {
                    Ok(mut v) => {
                        if let OwnedValue::Str(s) = &v {
                            if field
                                .ignore_above
                                .is_some_and(|max| s.chars().count() > max)
                            {
                                return self.multi_and_copy(field, value, copy);
                            }
                            if let Some(n) = &field.normalizer {
                                let normalizer = self.state.analyzers.normalizer(n)?;
                                let normalized: String = normalizer.terms(s).concat();
                                v = OwnedValue::Str(normalized);
                            }
                        }
                        self.values.entry(field.path.clone()).or_default().push(v);
                        self.mark(&field.path);
                    }
                    Err(_) if field.ignore_malformed => {}
                    Err(cause) => return Err(self.malformed(field, value, cause)),
                },
            }
        }
        self.multi_and_copy(field, value, copy)
    }

    fn multi_and_copy(
        &mut self,
        field: &FieldInfo,
        value: &Value,
        copy: bool,
    ) -> Result<(), EsError> {
        for sub in &field.multi_fields {
            if let Some(sub_field) = self.state.mapping.field(sub) {
                self.leaf(sub_field, value, false)?;
            }
        }
        if copy {
            for target in &field.copy_to {
                if let Some(t) = self.state.mapping.field(target) {
                    self.leaf(t, value, false)?;
                }
            }
        }
        Ok(())
    }
}

/// The indexed term of a completion input: its analysed form (what prefixes match), its
/// weight and the input as given (what the suggester answers), separated by NUL.
pub fn completion_term(normalized: &str, weight: u64, input: &str) -> String {
    format!("{normalized}\u{0}{weight}\u{0}{input}")
}

/// Splits a completion term into (analysed form, weight, input).
pub fn split_completion_term(term: &str) -> Option<(&str, u64, &str)> {
    let mut parts = term.splitn(3, '\u{0}');
    let normalized = parts.next()?;
    let weight = parts.next()?.parse().ok()?;
    Some((normalized, weight, parts.next()?))
}

/// The tantivy document of `source` with id `id` at `stamp`.
pub fn build(
    fields: &Fields,
    state: &IndexState,
    id: &str,
    source: &[u8],
    parsed: &Map<String, Value>,
    stamp: Stamp,
) -> Result<TantivyDocument, EsError> {
    let mut b = Builder {
        state,
        id,
        values: BTreeMap::new(),
        texts: BTreeMap::new(),
        names: BTreeSet::new(),
    };
    b.object("", parsed)?;
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.id, id);
    doc.add_bytes(fields.source, source);
    doc.add_u64(fields.version, stamp.version);
    doc.add_u64(fields.seq_no, stamp.seq_no);
    for name in &b.names {
        doc.add_text(fields.field_names, name);
    }
    if !b.values.is_empty() {
        let object: Vec<(String, OwnedValue)> = b
            .values
            .into_iter()
            .map(|(k, mut v)| {
                let value = if v.len() == 1 {
                    v.remove(0)
                } else {
                    OwnedValue::Array(v)
                };
                (k, value)
            })
            .collect();
        doc.add_field_value(fields.values, &OwnedValue::Object(object));
    }
    for (slot, values) in b.texts {
        for v in values {
            doc.add_field_value(fields.slots[slot], &OwnedValue::PreTokStr(v));
        }
    }
    Ok(doc)
}

/// Parses a source body, which must be a JSON object.
pub fn parse_source(source: &[u8]) -> Result<Map<String, Value>, EsError> {
    match serde_json::from_slice::<Value>(source) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(EsError::mapper_parsing("failed to parse").caused_by(EsError::new(
            400,
            "not_x_content_exception",
            "Compressor detection can only be called on some xcontent bytes or compressed xcontent bytes",
        ))),
        Err(e) => Err(EsError::mapper_parsing("failed to parse")
            .caused_by(EsError::bad_json(e.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::meta::StoredMeta;
    use crate::store::schema;
    use serde_json::json;
    use tantivy::schema::Value as _;

    fn state(mappings: Value) -> IndexState {
        IndexState::parse(StoredMeta {
            name: "x".into(),
            uuid: "u".into(),
            creation_date: 0,
            settings: BTreeMap::new(),
            mappings,
            slots: BTreeMap::new(),
        })
        .unwrap()
    }

    #[test]
    fn builds_values_texts_and_field_names() {
        let s = state(json!({"properties": {
            "name": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 5}}},
            "price": {"type": "float"},
            "tags": {"type": "keyword", "normalizer": "lowercase"},
            "dims": {"properties": {"w": {"type": "integer"}}},
            "when": {"type": "date"}
        }}));
        let (_, fields) = schema::build();
        let src = json!({"name": "Running Shoe", "price": 10, "tags": ["A", "b"], "dims": {"w": "3"}, "when": "2024-01-01"});
        let bytes = serde_json::to_vec(&src).unwrap();
        let doc = build(
            &fields,
            &s,
            "1",
            &bytes,
            src.as_object().unwrap(),
            Stamp {
                version: 1,
                seq_no: 0,
            },
        )
        .unwrap();
        let names: Vec<String> = doc
            .get_all(fields.field_names)
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        assert!(names.contains(&"dims".to_string()) && names.contains(&"dims.w".to_string()));
        assert!(
            !names.contains(&"name.keyword".to_string()),
            "ignore_above applies"
        );
        let json_value = doc.get_first(fields.values).unwrap();
        let OwnedValue::Object(entries) = OwnedValue::from(json_value) else {
            panic!("object")
        };
        let map: BTreeMap<String, OwnedValue> = entries.into_iter().collect();
        assert_eq!(map["price"], OwnedValue::I64(10));
        assert_eq!(map["dims.w"], OwnedValue::I64(3));
        assert_eq!(
            map["tags"],
            OwnedValue::Array(vec![
                OwnedValue::Str("a".into()),
                OwnedValue::Str("b".into())
            ])
        );
        assert_eq!(map["when"], OwnedValue::I64(1_704_067_200_000));
    }

    #[test]
    fn numeric_dates_follow_the_field_format() {
        let s = state(
            json!({"properties": {"ms": {"type": "date"}, "sec": {"type": "date", "format": "epoch_second"}}}),
        );
        let (_, fields) = schema::build();
        let src = json!({"ms": 1_700_000_000_000i64, "sec": 1_700_000_000});
        let doc = build(
            &fields,
            &s,
            "1",
            b"{}",
            src.as_object().unwrap(),
            Stamp {
                version: 1,
                seq_no: 0,
            },
        )
        .unwrap();
        let OwnedValue::Object(entries) = OwnedValue::from(doc.get_first(fields.values).unwrap())
        else {
            panic!("object")
        };
        let map: BTreeMap<String, OwnedValue> = entries.into_iter().collect();
        assert_eq!(map["ms"], OwnedValue::I64(1_700_000_000_000));
        assert_eq!(map["sec"], OwnedValue::I64(1_700_000_000_000));
    }

    #[test]
    fn malformed_values_are_mapper_errors() {
        let s = state(
            json!({"properties": {"price": {"type": "float"}, "meta": {"properties": {"a": {"type": "keyword"}}}}}),
        );
        let (_, fields) = schema::build();
        let src = json!({"price": "cheap"});
        let e = build(
            &fields,
            &s,
            "7",
            b"{}",
            src.as_object().unwrap(),
            Stamp {
                version: 1,
                seq_no: 0,
            },
        )
        .unwrap_err();
        assert_eq!(e.kind, "mapper_parsing_exception");
        assert!(
            e.reason
                .contains("failed to parse field [price] of type [float] in document with id '7'"),
            "{e}"
        );
        let src = json!({"meta": 5});
        let e = build(
            &fields,
            &s,
            "7",
            b"{}",
            src.as_object().unwrap(),
            Stamp {
                version: 1,
                seq_no: 0,
            },
        )
        .unwrap_err();
        assert!(
            e.reason.contains("tried to parse field [meta] as object"),
            "{e}"
        );
    }
}
