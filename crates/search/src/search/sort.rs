//! Sorting hits: `sort` specs (`_score`, `_doc`, fields with order, missing and mode), sort
//! values read from the columnar JSON field, and the comparison Elasticsearch applies.

use std::cmp::Ordering;

use serde_json::{json, Value};
use tantivy::columnar::DynamicColumn;
use tantivy::{DocId, SegmentReader};

use crate::error::EsError;
use crate::mapping::{FieldType, Mapping};
use crate::store::schema::column;

/// One sort key's value for a hit.
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    /// No value.
    Missing,
    /// A number.
    Num(f64),
    /// An integer (kept exact).
    Int(i64),
    /// A string.
    Str(String),
}

impl SortValue {
    fn cmp_present(&self, other: &SortValue) -> Ordering {
        match (self, other) {
            (SortValue::Int(a), SortValue::Int(b)) => a.cmp(b),
            (SortValue::Str(a), SortValue::Str(b)) => a.cmp(b),
            (a, b) => a
                .as_f64()
                .partial_cmp(&b.as_f64())
                .unwrap_or(Ordering::Equal),
        }
    }

    fn as_f64(&self) -> f64 {
        match self {
            SortValue::Num(n) => *n,
            SortValue::Int(i) => *i as f64,
            _ => 0.0,
        }
    }

    /// The value as a hit's `sort` array shows it.
    pub fn to_json(&self) -> Value {
        match self {
            SortValue::Missing => Value::Null,
            SortValue::Num(n) => json!(n),
            SortValue::Int(i) => json!(i),
            SortValue::Str(s) => json!(s),
        }
    }

    /// A `search_after` value.
    pub fn from_json(v: &Value) -> SortValue {
        match v {
            Value::Null => SortValue::Missing,
            Value::Number(n) => n
                .as_i64()
                .map(SortValue::Int)
                .unwrap_or_else(|| SortValue::Num(n.as_f64().unwrap_or(0.0))),
            Value::String(s) => SortValue::Str(s.clone()),
            Value::Bool(b) => SortValue::Int(i64::from(*b)),
            other => SortValue::Str(other.to_string()),
        }
    }
}

/// What a sort key sorts by.
#[derive(Debug, Clone, PartialEq)]
pub enum SortBy {
    /// Relevance.
    Score,
    /// Index order.
    Doc,
    /// A field's value.
    Field {
        /// The field path.
        path: String,
        /// Whether the field is a date, a boolean or an integer (for the `sort` values).
        ty: Option<FieldType>,
    },
}

/// One sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// What it sorts by.
    pub by: SortBy,
    /// Descending.
    pub desc: bool,
    /// Missing values first (`missing: _first`).
    pub missing_first: bool,
}

fn parse_order(v: &Value, key: &str) -> Result<bool, EsError> {
    match v.as_str() {
        Some(o) if o.eq_ignore_ascii_case("desc") => Ok(true),
        Some(o) if o.eq_ignore_ascii_case("asc") => Ok(false),
        _ => Err(EsError::parsing(format!(
            "[{key}] unknown sort order [{v}]"
        ))),
    }
}

fn one_key(name: &str, opts: Option<&Value>, mappings: &[&Mapping]) -> Result<SortKey, EsError> {
    let mut key = SortKey {
        by: match name {
            "_score" => SortBy::Score,
            "_doc" => SortBy::Doc,
            path => {
                let found = mappings.iter().find_map(|m| m.field(path));
                let unmapped_type = opts
                    .and_then(|o| o.get("unmapped_type"))
                    .and_then(Value::as_str);
                match found {
                    Some(f) if f.ty == FieldType::Text => {
                        return Err(EsError::new(400, "search_phase_execution_exception", "all shards failed")
                            .with("phase", "query")
                            .caused_by(EsError::illegal_argument(format!(
                                "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [{path}] in order to load field data by uninverting the inverted index. Note that this can use significant memory."
                            ))))
                    }
                    Some(f) => SortBy::Field {
                        path: path.to_string(),
                        ty: Some(f.ty),
                    },
                    None if unmapped_type.is_some() || mappings.is_empty() => SortBy::Field {
                        path: path.to_string(),
                        ty: None,
                    },
                    None => {
                        return Err(EsError::new(400, "search_phase_execution_exception", "all shards failed")
                            .with("phase", "query")
                            .caused_by(EsError::new(
                                400,
                                "query_shard_exception",
                                format!("No mapping found for [{path}] in order to sort on"),
                            )))
                    }
                }
            }
        },
        desc: name == "_score",
        missing_first: false,
    };
    match opts {
        None => {}
        Some(v @ Value::String(_)) => key.desc = parse_order(v, name)?,
        Some(Value::Object(o)) => {
            for (k, v) in o {
                match k.as_str() {
                    "order" => key.desc = parse_order(v, name)?,
                    "missing" => key.missing_first = v.as_str() == Some("_first"),
                    "unmapped_type" | "mode" | "format" | "numeric_type" => {}
                    other => {
                        return Err(EsError::parsing(format!(
                            "[field_sort] unknown field [{other}]"
                        )))
                    }
                }
            }
        }
        Some(other) => {
            return Err(EsError::parsing(format!(
                "[sort] malformed entry for [{name}]: {other}"
            )))
        }
    }
    Ok(key)
}

/// Parses a `sort` body value (a string, an object or an array of them).
pub fn parse(spec: &Value, mappings: &[&Mapping]) -> Result<Vec<SortKey>, EsError> {
    let items: Vec<&Value> = match spec {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut keys = Vec::new();
    for item in items {
        match item {
            Value::String(s) => keys.push(one_key(s, None, mappings)?),
            Value::Object(o) => {
                for (name, opts) in o {
                    keys.push(one_key(name, Some(opts), mappings)?);
                }
            }
            other => return Err(EsError::parsing(format!("[sort] malformed entry: {other}"))),
        }
    }
    Ok(keys)
}

/// Parses the `sort` URL parameter (`field:desc,other`).
pub fn parse_param(param: &str, mappings: &[&Mapping]) -> Result<Vec<SortKey>, EsError> {
    let mut items = Vec::new();
    for part in param.split(',').filter(|p| !p.is_empty()) {
        match part.split_once(':') {
            Some((f, o)) => items.push(json!({ f: o })),
            None => items.push(json!(part)),
        }
    }
    parse(&Value::Array(items), mappings)
}

/// Whether the keys sort by relevance only.
pub fn is_score_only(keys: &[SortKey]) -> bool {
    keys.is_empty() || (keys.len() == 1 && keys[0].by == SortBy::Score && keys[0].desc)
}

/// Reads a field's values in one segment.
pub struct ColumnReader {
    columns: Vec<DynamicColumn>,
}

impl ColumnReader {
    /// The columns of `path` in `segment`.
    pub fn open(segment: &SegmentReader, path: &str) -> Result<ColumnReader, EsError> {
        let handles = segment
            .fast_fields()
            .dynamic_column_handles(&column(path))?;
        let columns = handles
            .into_iter()
            .map(|h| h.open())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EsError::internal(format!("column {path}: {e}")))?;
        Ok(ColumnReader { columns })
    }

    /// The values of `doc`.
    pub fn values(&self, doc: DocId) -> Vec<SortValue> {
        let mut out = Vec::new();
        for c in &self.columns {
            match c {
                DynamicColumn::I64(col) => out.extend(col.values_for_doc(doc).map(SortValue::Int)),
                DynamicColumn::U64(col) => out
                    .extend(col.values_for_doc(doc).map(|u| {
                        i64::try_from(u).map_or(SortValue::Num(u as f64), SortValue::Int)
                    })),
                DynamicColumn::F64(col) => out.extend(col.values_for_doc(doc).map(SortValue::Num)),
                DynamicColumn::Bool(col) => out.extend(
                    col.values_for_doc(doc)
                        .map(|b| SortValue::Int(i64::from(b))),
                ),
                DynamicColumn::Str(col) => {
                    for ord in col.term_ords(doc) {
                        let mut s = String::new();
                        if col.ord_to_str(ord, &mut s).unwrap_or(false) {
                            out.push(SortValue::Str(s));
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The sort value of `doc`: the smallest value ascending, the largest descending.
    pub fn sort_value(&self, doc: DocId, desc: bool) -> SortValue {
        let values = self.values(doc);
        let pick = if desc {
            values.into_iter().max_by(|a, b| a.cmp_present(b))
        } else {
            values.into_iter().min_by(|a, b| a.cmp_present(b))
        };
        pick.unwrap_or(SortValue::Missing)
    }
}

/// Compares two hits' sort values under `keys`.
pub fn compare(keys: &[SortKey], a: &[SortValue], b: &[SortValue]) -> Ordering {
    for (i, key) in keys.iter().enumerate() {
        let (x, y) = (&a[i], &b[i]);
        let ord = match (x, y) {
            (SortValue::Missing, SortValue::Missing) => Ordering::Equal,
            (SortValue::Missing, _) => {
                if key.missing_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (_, SortValue::Missing) => {
                if key.missing_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => {
                let o = x.cmp_present(y);
                if key.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_values_sort_last_both_ways() {
        let asc = [SortKey {
            by: SortBy::Doc,
            desc: false,
            missing_first: false,
        }];
        let desc = [SortKey {
            by: SortBy::Doc,
            desc: true,
            missing_first: false,
        }];
        let one = [SortValue::Int(1)];
        let two = [SortValue::Num(2.5)];
        let none = [SortValue::Missing];
        assert_eq!(compare(&asc, &one, &two), Ordering::Less);
        assert_eq!(compare(&desc, &one, &two), Ordering::Greater);
        assert_eq!(compare(&asc, &none, &one), Ordering::Greater);
        assert_eq!(compare(&desc, &none, &one), Ordering::Greater);
    }

    #[test]
    fn parses_sort_forms() {
        let keys = parse(&json!(["_score", {"price": "desc"}, {"name.keyword": {"order": "asc", "missing": "_first"}}]), &[]).unwrap();
        assert_eq!(keys.len(), 3);
        assert!(keys[0].desc && keys[1].desc && !keys[2].desc && keys[2].missing_first);
        assert!(parse(&json!({"price": "up"}), &[]).is_err());
        assert_eq!(parse_param("price:desc,_score", &[]).unwrap().len(), 2);
    }
}
