//! Aggregations: Elasticsearch aggregation requests translated into tantivy's (which follow
//! Elasticsearch's format) over the columnar JSON field, and tantivy's results turned back
//! into Elasticsearch's (integer date keys, `key_as_string`, calendar intervals, `meta`).
//! `filter`, `filters`, `global` and `missing` run as separate passes at the top level.

use chrono::{Datelike, TimeZone, Utc};
use serde_json::{json, Map, Value};
use tantivy::columnar::DynamicColumn;
use tantivy::Searcher;

use crate::dates::{self, DateFormat};
use crate::error::EsError;
use crate::mapping::{FieldType, Mapping};
use crate::store::schema::column;

/// How a native aggregation's result is turned into Elasticsearch's.
#[derive(Debug, Clone)]
pub enum Post {
    /// As tantivy renders it.
    Plain,
    /// `terms`: keys rendered for the field's type.
    Terms {
        /// The field's type.
        ty: Option<FieldType>,
        /// The date format of date keys.
        format: DateFormat,
    },
    /// `date_histogram` with a fixed interval (a histogram over milliseconds).
    DateHistogram {
        /// Format of `key_as_string`.
        format: DateFormat,
    },
    /// `date_histogram` with a calendar month, quarter or year interval (a range over the
    /// interval's boundaries).
    Calendar {
        /// Format of `key_as_string`.
        format: DateFormat,
        /// `min_doc_count`.
        min_doc_count: u64,
        /// Keep empty buckets at the ends (`extended_bounds` given).
        keep_ends: bool,
    },
    /// `date_range`: `from_as_string` / `to_as_string`.
    DateRange {
        /// The format.
        format: DateFormat,
    },
    /// `min`/`max` of a date field: `value_as_string`.
    DateMetric {
        /// The format.
        format: DateFormat,
    },
}

/// A top-level aggregation that runs as its own pass.
#[derive(Debug, Clone)]
pub enum Separate {
    /// `filter`: documents also matching the query.
    Filter(Value),
    /// `filters`: one bucket per named (or listed) query, plus an optional other bucket.
    Filters {
        /// The filters with their bucket keys.
        filters: Vec<(String, Value)>,
        /// Buckets keyed by name (an object) rather than a list.
        keyed: bool,
        /// Key of the bucket of documents matching none.
        other_bucket_key: Option<String>,
    },
    /// `global`: all documents of the searched indices, ignoring the query.
    Global,
    /// `missing`: documents without a value for the field.
    Missing(String),
}

/// What to do with one aggregation of the request.
#[derive(Debug, Clone)]
pub enum Kind {
    /// Computed by tantivy as part of the main pass.
    Native(Post),
    /// Computed in a pass of its own.
    Separate {
        /// Which documents.
        which: Separate,
        /// The tantivy request of its sub-aggregations.
        sub_native: Map<String, Value>,
    },
    /// A calendar histogram over a field without values: no buckets.
    NoBuckets,
}

/// One aggregation of the request.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Its name.
    pub name: String,
    /// Its `meta`.
    pub meta: Option<Value>,
    /// How it is computed.
    pub kind: Kind,
    /// Its sub-aggregations.
    pub subs: Vec<Plan>,
}

/// What translating needs: the mappings and searchers of the searched indices.
pub struct Translator<'a> {
    /// The mappings of the searched indices.
    pub mappings: Vec<&'a Mapping>,
    /// Their searchers (for the value range of calendar histograms).
    pub searchers: Vec<&'a Searcher>,
}

fn fielddata_error(path: &str) -> EsError {
    EsError::new(400, "search_phase_execution_exception", "all shards failed")
        .with("phase", "query")
        .caused_by(EsError::illegal_argument(format!(
            "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [{path}] in order to load field data by uninverting the inverted index. Note that this can use significant memory."
        )))
}

const METRIC_KEYS: &[&str] = &[
    "field",
    "missing",
    "format",
    "precision_threshold",
    "sigma",
    "percents",
    "keyed",
    "tdigest",
    "hdr",
    "value_type",
];

impl Translator<'_> {
    fn field_info(&self, path: &str) -> (Option<FieldType>, DateFormat) {
        for m in &self.mappings {
            if let Some(f) = m.field(path) {
                return (Some(f.ty), f.format.clone());
            }
        }
        (None, DateFormat::default_format())
    }

    fn field(
        &self,
        agg: &str,
        params: &mut Map<String, Value>,
    ) -> Result<(String, Option<FieldType>, DateFormat), EsError> {
        if params.contains_key("script") {
            return Err(EsError::unsupported(format!(
                "[script] in a [{agg}] aggregation"
            )));
        }
        let path = params
            .get("field")
            .and_then(Value::as_str)
            .ok_or_else(|| EsError::parsing(format!("[{agg}] aggregation requires a [field]")))?
            .to_string();
        let (ty, format) = self.field_info(&path);
        if ty == Some(FieldType::Text) {
            return Err(fielddata_error(&path));
        }
        params.insert("field".into(), Value::String(column(&path)));
        Ok((path, ty, format))
    }

    fn date_millis(&self, v: &Value, format: &DateFormat) -> Result<f64, EsError> {
        match v {
            Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => {
                dates::parse_date_math(s, format, None, Utc::now().timestamp_millis(), false)
                    .map(|m| m as f64)
                    .map_err(EsError::parsing)
            }
            other => Err(EsError::parsing(format!("invalid date bound [{other}]"))),
        }
    }

    fn value_range(&self, path: &str) -> Result<Option<(i64, i64)>, EsError> {
        let mut range: Option<(i64, i64)> = None;
        for searcher in &self.searchers {
            for segment in searcher.segment_readers() {
                for handle in segment
                    .fast_fields()
                    .dynamic_column_handles(&column(path))?
                {
                    let col = handle
                        .open()
                        .map_err(|e| EsError::internal(format!("column {path}: {e}")))?;
                    let (lo, hi) = match col {
                        DynamicColumn::I64(c) => (c.min_value(), c.max_value()),
                        DynamicColumn::U64(c) => (c.min_value() as i64, c.max_value() as i64),
                        DynamicColumn::F64(c) => (c.min_value() as i64, c.max_value() as i64),
                        _ => continue,
                    };
                    if lo > hi {
                        continue;
                    }
                    range = Some(match range {
                        None => (lo, hi),
                        Some((a, b)) => (a.min(lo), b.max(hi)),
                    });
                }
            }
        }
        Ok(range)
    }

    /// Translates an aggregations object (`{"name": {"terms": ...}, ...}`).
    pub fn translate(
        &self,
        aggs: &Value,
        top: bool,
    ) -> Result<(Map<String, Value>, Vec<Plan>), EsError> {
        let obj = aggs
            .as_object()
            .ok_or_else(|| EsError::parsing("[aggs] must be an object"))?;
        let mut native = Map::new();
        let mut plans = Vec::new();
        for (name, def) in obj {
            let (n, plan) = self.translate_one(name, def, top)?;
            if let Some(n) = n {
                native.insert(name.clone(), n);
            }
            plans.push(plan);
        }
        Ok((native, plans))
    }

    fn translate_one(
        &self,
        name: &str,
        def: &Value,
        top: bool,
    ) -> Result<(Option<Value>, Plan), EsError> {
        let def = def
            .as_object()
            .ok_or_else(|| EsError::parsing(format!("Expected [START_OBJECT] under [{name}]")))?;
        let mut kind_entry: Option<(&String, &Value)> = None;
        let mut sub: Option<&Value> = None;
        let mut meta = None;
        for (k, v) in def {
            match k.as_str() {
                "aggs" | "aggregations" => sub = Some(v),
                "meta" => meta = Some(v.clone()),
                _ if kind_entry.is_some() => {
                    return Err(EsError::parsing(format!(
                        "Found two aggregation type definitions in [{name}]: [{}] and [{k}]",
                        kind_entry.map(|e| e.0.as_str()).unwrap_or_default()
                    )))
                }
                _ => kind_entry = Some((k, v)),
            }
        }
        let (kind, body) = kind_entry.ok_or_else(|| {
            EsError::parsing(format!("Missing definition for aggregation [{name}]"))
        })?;
        let mut params = body.as_object().cloned().ok_or_else(|| {
            EsError::parsing(format!("[{kind}] aggregation [{name}] must be an object"))
        })?;
        let separate = matches!(kind.as_str(), "filter" | "filters" | "global" | "missing");
        if separate && !top {
            return Err(EsError::unsupported(format!(
                "a [{kind}] aggregation below another aggregation (aggregation [{name}])"
            )));
        }
        let (sub_native, subs) = match sub {
            Some(s) => self.translate(s, false)?,
            None => (Map::new(), Vec::new()),
        };
        let plan = |kind: Kind| Plan {
            name: name.to_string(),
            meta: meta.clone(),
            kind,
            subs: subs.clone(),
        };
        let allow = |allowed: &[&str], params: &Map<String, Value>| -> Result<(), EsError> {
            for k in params.keys() {
                if !allowed.contains(&k.as_str()) {
                    return Err(EsError::parsing(format!(
                        "[{kind}] aggregation [{name}] does not support [{k}] in vers search"
                    )));
                }
            }
            Ok(())
        };
        let with_subs = |native_kind: &str, params: Map<String, Value>| -> Value {
            let mut out = Map::new();
            out.insert(native_kind.to_string(), Value::Object(params));
            if !sub_native.is_empty() {
                out.insert("aggs".into(), Value::Object(sub_native.clone()));
            }
            Value::Object(out)
        };
        match kind.as_str() {
            "filter" => Ok((
                None,
                plan(Kind::Separate {
                    which: Separate::Filter(body.clone()),
                    sub_native,
                }),
            )),
            "global" => Ok((
                None,
                plan(Kind::Separate {
                    which: Separate::Global,
                    sub_native,
                }),
            )),
            "missing" => {
                allow(&["field"], &params)?;
                let path = params
                    .get("field")
                    .and_then(Value::as_str)
                    .ok_or_else(|| EsError::parsing("[missing] aggregation requires a [field]"))?;
                Ok((
                    None,
                    plan(Kind::Separate {
                        which: Separate::Missing(path.to_string()),
                        sub_native,
                    }),
                ))
            }
            "filters" => {
                allow(
                    &["filters", "other_bucket", "other_bucket_key", "keyed"],
                    &params,
                )?;
                let (filters, keyed) = match params.get("filters") {
                    Some(Value::Object(m)) => (
                        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                        true,
                    ),
                    Some(Value::Array(items)) => (
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, v)| (i.to_string(), v.clone()))
                            .collect(),
                        false,
                    ),
                    _ => return Err(EsError::parsing("[filters] aggregation requires [filters]")),
                };
                let other_bucket_key =
                    match (params.get("other_bucket_key"), params.get("other_bucket")) {
                        (Some(k), _) => k.as_str().map(String::from),
                        (None, Some(Value::Bool(true))) => Some("_other_".into()),
                        _ => None,
                    };
                Ok((
                    None,
                    plan(Kind::Separate {
                        which: Separate::Filters {
                            filters,
                            keyed,
                            other_bucket_key,
                        },
                        sub_native,
                    }),
                ))
            }
            "terms" => {
                allow(
                    &[
                        "field",
                        "size",
                        "shard_size",
                        "min_doc_count",
                        "order",
                        "missing",
                        "include",
                        "exclude",
                        "show_term_doc_count_error",
                        "execution_hint",
                        "collect_mode",
                        "value_type",
                        "format",
                    ],
                    &params,
                )?;
                for k in ["execution_hint", "collect_mode", "value_type", "format"] {
                    params.remove(k);
                }
                let (_, ty, format) = self.field("terms", &mut params)?;
                Ok((
                    Some(with_subs("terms", params)),
                    plan(Kind::Native(Post::Terms { ty, format })),
                ))
            }
            "avg" | "sum" | "min" | "max" | "value_count" | "stats" | "extended_stats"
            | "cardinality" | "percentiles" => {
                allow(METRIC_KEYS, &params)?;
                for k in [
                    "format",
                    "precision_threshold",
                    "tdigest",
                    "hdr",
                    "value_type",
                ] {
                    params.remove(k);
                }
                let (_, ty, format) = self.field(kind, &mut params)?;
                let post = if ty == Some(FieldType::Date) && (kind == "min" || kind == "max") {
                    Post::DateMetric { format }
                } else {
                    Post::Plain
                };
                Ok((Some(with_subs(kind, params)), plan(Kind::Native(post))))
            }
            "histogram" => {
                allow(
                    &[
                        "field",
                        "interval",
                        "offset",
                        "min_doc_count",
                        "extended_bounds",
                        "hard_bounds",
                        "missing",
                        "keyed",
                        "format",
                    ],
                    &params,
                )?;
                params.remove("format");
                self.field("histogram", &mut params)?;
                Ok((
                    Some(with_subs("histogram", params)),
                    plan(Kind::Native(Post::Plain)),
                ))
            }
            "range" => {
                allow(&["field", "ranges", "keyed", "format"], &params)?;
                params.remove("format");
                self.field("range", &mut params)?;
                Ok((
                    Some(with_subs("range", params)),
                    plan(Kind::Native(Post::Plain)),
                ))
            }
            "date_range" => {
                allow(
                    &["field", "ranges", "keyed", "format", "time_zone"],
                    &params,
                )?;
                utc_only(&params)?;
                let (_, _, field_format) = self.field("date_range", &mut params)?;
                let format = agg_format(&params, field_format)?;
                params.remove("format");
                params.remove("time_zone");
                if let Some(Value::Array(ranges)) = params.get_mut("ranges") {
                    for r in ranges.iter_mut().filter_map(Value::as_object_mut) {
                        for side in ["from", "to"] {
                            if let Some(v) = r.get(side).cloned() {
                                r.insert(side.into(), json!(self.date_millis(&v, &format)?));
                            }
                        }
                    }
                }
                Ok((
                    Some(with_subs("range", params)),
                    plan(Kind::Native(Post::DateRange { format })),
                ))
            }
            "date_histogram" => self.date_histogram(name, params, &with_subs, &plan),
            "composite" | "multi_terms" => {
                rewrite_nested_fields(self, &mut params)?;
                Ok((
                    Some(with_subs(kind, params)),
                    plan(Kind::Native(Post::Plain)),
                ))
            }
            "top_hits"
            | "nested"
            | "reverse_nested"
            | "significant_terms"
            | "significant_text"
            | "sampler"
            | "diversified_sampler"
            | "geo_distance"
            | "geohash_grid"
            | "geo_bounds"
            | "ip_range"
            | "rare_terms"
            | "auto_date_histogram"
            | "variable_width_histogram"
            | "weighted_avg"
            | "median_absolute_deviation"
            | "percentile_ranks"
            | "scripted_metric"
            | "matrix_stats"
            | "bucket_sort"
            | "bucket_selector"
            | "bucket_script"
            | "avg_bucket"
            | "sum_bucket"
            | "max_bucket"
            | "min_bucket"
            | "stats_bucket"
            | "derivative"
            | "cumulative_sum"
            | "moving_fn"
            | "string_stats"
            | "boxplot"
            | "t_test"
            | "adjacency_matrix" => Err(EsError::unsupported(format!("the [{kind}] aggregation"))),
            other => Err(EsError::parsing(format!(
                "Unknown aggregation type [{other}] did you mean [terms]?"
            ))
            .caused_by(EsError::new(
                400,
                "named_object_not_found_exception",
                format!("[1:1] unknown field [{other}]"),
            ))),
        }
    }

    fn date_histogram(
        &self,
        name: &str,
        mut params: Map<String, Value>,
        with_subs: &dyn Fn(&str, Map<String, Value>) -> Value,
        plan: &dyn Fn(Kind) -> Plan,
    ) -> Result<(Option<Value>, Plan), EsError> {
        for k in params.keys() {
            if ![
                "field",
                "calendar_interval",
                "fixed_interval",
                "interval",
                "format",
                "time_zone",
                "min_doc_count",
                "extended_bounds",
                "hard_bounds",
                "offset",
                "order",
                "keyed",
                "missing",
            ]
            .contains(&k.as_str())
            {
                return Err(EsError::parsing(format!(
                    "[date_histogram] aggregation [{name}] does not support [{k}] in vers search"
                )));
            }
        }
        utc_only(&params)?;
        if params.get("keyed").and_then(Value::as_bool) == Some(true) {
            return Err(EsError::unsupported("keyed date_histogram"));
        }
        if params.contains_key("order") {
            return Err(EsError::unsupported("[order] of a date_histogram"));
        }
        let (path, _, field_format) = self.field("date_histogram", &mut params)?;
        let format = agg_format(&params, field_format)?;
        let interval = params
            .get("calendar_interval")
            .or_else(|| params.get("fixed_interval"))
            .or_else(|| params.get("interval"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                EsError::illegal_argument(
                    "Invalid interval specified, must be non-null and non-empty",
                )
            })?
            .to_string();
        let calendar = params.contains_key("calendar_interval");
        let min_doc_count = params
            .get("min_doc_count")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let bounds = |key: &str| -> Result<Option<(f64, f64)>, EsError> {
            match params.get(key) {
                None => Ok(None),
                Some(b) => Ok(Some((
                    b.get("min")
                        .map(|v| self.date_millis(v, &format))
                        .transpose()?
                        .unwrap_or(f64::MIN),
                    b.get("max")
                        .map(|v| self.date_millis(v, &format))
                        .transpose()?
                        .unwrap_or(f64::MAX),
                ))),
            }
        };
        let extended = bounds("extended_bounds")?;
        let hard = bounds("hard_bounds")?;
        let unit = calendar_unit(&interval, calendar)?;
        let mut native = Map::new();
        native.insert("field".into(), params["field"].clone());
        native.insert("min_doc_count".into(), json!(min_doc_count));
        if let Some((a, b)) = extended {
            native.insert("extended_bounds".into(), json!({"min": a, "max": b}));
        }
        if let Some((a, b)) = hard {
            native.insert("hard_bounds".into(), json!({"min": a, "max": b}));
        }
        match unit {
            CalendarUnit::Fixed { millis, offset } => {
                let extra = match params.get("offset").and_then(Value::as_str) {
                    Some(o) => signed_millis(o)?,
                    None => 0,
                };
                native.insert("interval".into(), json!(millis as f64));
                let off = (offset + extra).rem_euclid(millis);
                if off != 0 {
                    native.insert("offset".into(), json!(off as f64));
                }
                Ok((
                    Some(with_subs("histogram", native)),
                    plan(Kind::Native(Post::DateHistogram { format })),
                ))
            }
            CalendarUnit::Months(step) => {
                let Some((lo, hi)) = self.value_range(&path)? else {
                    if extended.is_none() {
                        return Ok((None, plan(Kind::NoBuckets)));
                    }
                    let (a, b) = extended.unwrap_or((0.0, 0.0));
                    return self.calendar(
                        params,
                        (a as i64, b as i64),
                        step,
                        extended.is_some(),
                        min_doc_count,
                        format,
                        with_subs,
                        plan,
                    );
                };
                let (lo, hi) = match extended {
                    Some((a, b)) => (lo.min(a as i64), hi.max(b as i64)),
                    None => (lo, hi),
                };
                let (lo, hi) = match hard {
                    Some((a, b)) => (lo.max(a as i64), hi.min(b as i64)),
                    None => (lo, hi),
                };
                self.calendar(
                    params,
                    (lo, hi),
                    step,
                    extended.is_some(),
                    min_doc_count,
                    format,
                    with_subs,
                    plan,
                )
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn calendar(
        &self,
        params: Map<String, Value>,
        (lo, hi): (i64, i64),
        step: u32,
        keep_ends: bool,
        min_doc_count: u64,
        format: DateFormat,
        with_subs: &dyn Fn(&str, Map<String, Value>) -> Value,
        plan: &dyn Fn(Kind) -> Plan,
    ) -> Result<(Option<Value>, Plan), EsError> {
        let start =
            month_floor(lo, step).ok_or_else(|| EsError::illegal_argument("date out of range"))?;
        let mut ranges = Vec::new();
        let mut from = start;
        while from <= hi {
            let to = add_months(from, step)
                .ok_or_else(|| EsError::illegal_argument("date out of range"))?;
            ranges.push(json!({"from": from as f64, "to": to as f64}));
            from = to;
            if ranges.len() > 10_000 {
                return Err(EsError::new(
                    400,
                    "too_many_buckets_exception",
                    "Trying to create too many buckets. Must be less than or equal to: [10000].",
                ));
            }
        }
        let native = json!({"field": params["field"].clone(), "ranges": ranges});
        let Value::Object(native) = native else {
            return Err(EsError::internal("range request is not an object"));
        };
        Ok((
            Some(with_subs("range", native)),
            plan(Kind::Native(Post::Calendar {
                format,
                min_doc_count,
                keep_ends,
            })),
        ))
    }
}

fn utc_only(params: &Map<String, Value>) -> Result<(), EsError> {
    match params.get("time_zone").and_then(Value::as_str) {
        None => Ok(()),
        Some(tz) => match dates::parse_time_zone(tz) {
            Ok(off) if off.local_minus_utc() == 0 => Ok(()),
            _ => Err(EsError::unsupported(format!(
                "the aggregation time_zone [{tz}] (UTC only)"
            ))),
        },
    }
}

fn agg_format(
    params: &Map<String, Value>,
    field_format: DateFormat,
) -> Result<DateFormat, EsError> {
    match params.get("format").and_then(Value::as_str) {
        Some(f) => DateFormat::parse(f).map_err(EsError::parsing),
        None => Ok(field_format),
    }
}

fn rewrite_nested_fields(t: &Translator, params: &mut Map<String, Value>) -> Result<(), EsError> {
    fn walk(t: &Translator, v: &mut Value) -> Result<(), EsError> {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(path)) = o.get("field").cloned() {
                    let (ty, _) = t.field_info(&path);
                    if ty == Some(FieldType::Text) {
                        return Err(fielddata_error(&path));
                    }
                    o.insert("field".into(), Value::String(column(&path)));
                }
                for (_, child) in o.iter_mut() {
                    walk(t, child)?;
                }
            }
            Value::Array(items) => {
                for i in items {
                    walk(t, i)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    for key in ["sources", "terms"] {
        if let Some(v) = params.get_mut(key) {
            walk(t, v)?;
        }
    }
    Ok(())
}

enum CalendarUnit {
    Fixed { millis: i64, offset: i64 },
    Months(u32),
}

const DAY: i64 = 86_400_000;

fn calendar_unit(interval: &str, calendar: bool) -> Result<CalendarUnit, EsError> {
    let fixed = |millis: i64| Ok(CalendarUnit::Fixed { millis, offset: 0 });
    match interval {
        "1m" | "minute" => fixed(60_000),
        "1h" | "hour" => fixed(3_600_000),
        "1d" | "day" => fixed(DAY),
        // Calendar weeks start on Monday; the epoch was a Thursday.
        "1w" | "week" => Ok(CalendarUnit::Fixed {
            millis: 7 * DAY,
            offset: 4 * DAY,
        }),
        "1M" | "month" => Ok(CalendarUnit::Months(1)),
        "1q" | "quarter" => Ok(CalendarUnit::Months(3)),
        "1y" | "year" => Ok(CalendarUnit::Months(12)),
        "1s" | "second" => fixed(1000),
        other if calendar => Err(EsError::illegal_argument(format!(
            "The supplied interval [{other}] could not be parsed as a calendar interval."
        ))),
        other => {
            let millis = crate::store::index::parse_time_value(other)
                .map(|d| d.as_millis() as i64)
                .filter(|m| *m > 0)
                .ok_or_else(|| EsError::illegal_argument(format!("failed to parse setting [date_histogram.fixedInterval] with value [{other}] as a time value")))?;
            fixed(millis)
        }
    }
}

fn signed_millis(text: &str) -> Result<i64, EsError> {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    crate::store::index::parse_time_value(rest)
        .map(|d| sign * d.as_millis() as i64)
        .ok_or_else(|| EsError::illegal_argument(format!("failed to parse offset [{text}]")))
}

fn month_floor(millis: i64, step: u32) -> Option<i64> {
    let dt = Utc.timestamp_millis_opt(millis).single()?;
    let months = dt.year() * 12 + dt.month0() as i32;
    let floored = months - months.rem_euclid(step as i32);
    Utc.with_ymd_and_hms(
        floored.div_euclid(12),
        (floored.rem_euclid(12) + 1) as u32,
        1,
        0,
        0,
        0,
    )
    .single()
    .map(|d| d.timestamp_millis())
}

fn add_months(millis: i64, n: u32) -> Option<i64> {
    let dt = Utc.timestamp_millis_opt(millis).single()?;
    dt.checked_add_months(chrono::Months::new(n))
        .map(|d| d.timestamp_millis())
}

fn int_if_whole(v: &Value) -> Value {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 && !v.is_i64() && !v.is_u64() => {
            json!(f as i64)
        }
        _ => v.clone(),
    }
}

fn buckets_mut(v: &mut Value) -> Vec<&mut Value> {
    match v.get_mut("buckets") {
        Some(Value::Array(items)) => items.iter_mut().collect(),
        Some(Value::Object(map)) => map.values_mut().collect(),
        _ => Vec::new(),
    }
}

/// The empty result of an aggregation whose field has no values anywhere.
fn empty_result(plan: &Plan) -> Value {
    match &plan.kind {
        Kind::Native(Post::Terms { .. }) => {
            json!({"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": []})
        }
        _ => json!({"buckets": []}),
    }
}

/// Turns tantivy's result of `plan` (`raw`, `None` when tantivy had none) into
/// Elasticsearch's.
pub fn finish(plan: &Plan, raw: Option<Value>) -> Value {
    let mut v = match (&plan.kind, raw) {
        (Kind::NoBuckets, _) => json!({"buckets": []}),
        (_, Some(v)) => v,
        (_, None) => empty_result(plan),
    };
    if let Kind::Native(post) = &plan.kind {
        match post {
            Post::Plain => {}
            Post::Terms { ty, format } => {
                if let Some(o) = v.as_object_mut() {
                    o.entry("doc_count_error_upper_bound").or_insert(json!(0));
                }
                for b in buckets_mut(&mut v) {
                    let key = b.get("key").cloned().unwrap_or(Value::Null);
                    match ty {
                        Some(FieldType::Date) => {
                            let ms = key.as_f64().unwrap_or(0.0) as i64;
                            b["key"] = json!(ms);
                            b["key_as_string"] = json!(format.format_millis(ms));
                        }
                        Some(FieldType::Boolean) => {
                            let truthy = key
                                .as_f64()
                                .map(|f| f != 0.0)
                                .or_else(|| key.as_bool())
                                .unwrap_or(false);
                            b["key"] = json!(i64::from(truthy));
                            b["key_as_string"] = json!(truthy.to_string());
                        }
                        Some(FieldType::Integer) | Some(FieldType::Unsigned) => {
                            b["key"] = int_if_whole(&key)
                        }
                        _ => {}
                    }
                }
            }
            Post::DateHistogram { format } => {
                for b in buckets_mut(&mut v) {
                    let ms = b.get("key").and_then(Value::as_f64).unwrap_or(0.0) as i64;
                    b["key"] = json!(ms);
                    b["key_as_string"] = json!(format.format_millis(ms));
                }
            }
            Post::Calendar {
                format,
                min_doc_count,
                keep_ends,
            } => {
                let mut out: Vec<Value> = Vec::new();
                for b in buckets_mut(&mut v) {
                    let ms = b.get("from").and_then(Value::as_f64).unwrap_or(0.0) as i64;
                    let mut nb = Map::new();
                    nb.insert("key_as_string".into(), json!(format.format_millis(ms)));
                    nb.insert("key".into(), json!(ms));
                    if let Some(o) = b.as_object() {
                        for (k, val) in o {
                            if !["key", "from", "to", "from_as_string", "to_as_string"]
                                .contains(&k.as_str())
                            {
                                nb.insert(k.clone(), val.clone());
                            }
                        }
                    }
                    out.push(Value::Object(nb));
                }
                out.sort_by_key(|b| b["key"].as_i64().unwrap_or(0));
                let count = |b: &Value| b["doc_count"].as_u64().unwrap_or(0);
                if *min_doc_count > 0 {
                    out.retain(|b| count(b) >= *min_doc_count);
                } else if !keep_ends {
                    while out.first().is_some_and(|b| count(b) == 0) {
                        out.remove(0);
                    }
                    while out.last().is_some_and(|b| count(b) == 0) {
                        out.pop();
                    }
                }
                v = json!({ "buckets": out });
            }
            Post::DateRange { format } => {
                for b in buckets_mut(&mut v) {
                    for side in ["from", "to"] {
                        if let Some(ms) = b.get(side).and_then(Value::as_f64) {
                            b[side] = json!(ms);
                            b[format!("{side}_as_string")] = json!(format.format_millis(ms as i64));
                        }
                    }
                    if let (Some(f), Some(t)) = (
                        b.get("from_as_string").cloned(),
                        b.get("to_as_string").cloned(),
                    ) {
                        b["key"] = json!(format!(
                            "{}-{}",
                            f.as_str().unwrap_or(""),
                            t.as_str().unwrap_or("")
                        ));
                    }
                }
            }
            Post::DateMetric { format } => {
                if let Some(ms) = v.get("value").and_then(Value::as_f64) {
                    v["value_as_string"] = json!(format.format_millis(ms as i64));
                }
            }
        }
    }
    if !plan.subs.is_empty() {
        for b in buckets_mut(&mut v) {
            finish_subs(&plan.subs, b);
        }
    }
    if let (Some(meta), Some(o)) = (&plan.meta, v.as_object_mut()) {
        o.insert("meta".into(), meta.clone());
    }
    v
}

/// Finishes the sub-aggregation results held in `holder` (a bucket or a single-bucket
/// aggregation) in place.
pub fn finish_subs(subs: &[Plan], holder: &mut Value) {
    let Some(o) = holder.as_object_mut() else {
        return;
    };
    for sub in subs {
        let raw = o.remove(&sub.name);
        o.insert(sub.name.clone(), finish(sub, raw));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_boundaries() {
        let jan15 = Utc
            .with_ymd_and_hms(2024, 1, 15, 12, 0, 0)
            .unwrap()
            .timestamp_millis();
        let jan1 = Utc
            .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        let apr1 = Utc
            .with_ymd_and_hms(2024, 4, 1, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(month_floor(jan15, 1), Some(jan1));
        assert_eq!(month_floor(jan15, 12), Some(jan1));
        assert_eq!(add_months(jan1, 3), Some(apr1));
        assert!(matches!(
            calendar_unit("1d", true).unwrap(),
            CalendarUnit::Fixed { millis: DAY, .. }
        ));
        assert!(matches!(
            calendar_unit("month", true).unwrap(),
            CalendarUnit::Months(1)
        ));
        assert!(matches!(
            calendar_unit("90m", false).unwrap(),
            CalendarUnit::Fixed {
                millis: 5_400_000,
                ..
            }
        ));
        assert!(calendar_unit("3d", true).is_err());
    }

    #[test]
    fn date_histogram_keys_become_integers_with_strings() {
        let plan = Plan {
            name: "per_day".into(),
            meta: None,
            kind: Kind::Native(Post::DateHistogram {
                format: DateFormat::default_format(),
            }),
            subs: vec![],
        };
        let out = finish(
            &plan,
            Some(json!({"buckets": [{"key": 86400000.0, "doc_count": 2}]})),
        );
        assert_eq!(out["buckets"][0]["key"], json!(86_400_000));
        assert_eq!(
            out["buckets"][0]["key_as_string"],
            json!("1970-01-02T00:00:00.000Z")
        );
    }
}
