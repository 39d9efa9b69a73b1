//! The query DSL: Elasticsearch query JSON compiled into tantivy queries over the index's
//! schema. Compound queries (`bool`, `dis_max`, `constant_score`) live here; full-text
//! queries in [`text`], term-level queries in [`term_level`].

mod expand;
mod term_level;
mod text;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, EmptyQuery, Occur,
    Query,
};
use tantivy::Searcher;

use crate::error::EsError;
use crate::store::meta::IndexState;
use crate::store::schema::Fields;

pub use expand::{expand as expand_terms, fuzziness, TermSpace};

/// A compiled query.
pub type Q = Box<dyn Query>;

/// What compiling a query needs.
pub struct QueryCtx<'a> {
    /// The index name (for `_index` queries).
    pub index_name: &'a str,
    /// The index's mapping and analyzers.
    pub state: &'a IndexState,
    /// The schema's fields.
    pub fields: &'a Fields,
    /// The searcher (term dictionaries for fuzzy and prefix expansion).
    pub searcher: &'a Searcher,
    /// `now` for date math, in milliseconds.
    pub now_millis: i64,
    /// The terms each text field's queries look for (for highlighting).
    pub matched_terms: RefCell<BTreeMap<String, BTreeSet<String>>>,
}

impl QueryCtx<'_> {
    /// Records that queries on `field` look for `term`.
    pub fn note_term(&self, field: &str, term: &str) {
        self.matched_terms
            .borrow_mut()
            .entry(field.to_string())
            .or_default()
            .insert(term.to_string());
    }
}

/// Wraps `q` in a boost unless the boost is 1.
pub fn boosted(q: Q, boost: f32) -> Q {
    if (boost - 1.0).abs() < f32::EPSILON {
        q
    } else {
        Box::new(BoostQuery::new(q, boost))
    }
}

/// The `boost` parameter of a query object.
pub fn boost_of(params: &Map<String, Value>) -> Result<f32, EsError> {
    match params.get("boost") {
        None => Ok(1.0),
        Some(Value::Number(n)) => Ok(n.as_f64().unwrap_or(1.0) as f32),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| EsError::parsing(format!("[boost] must be a number, got [{s}]"))),
        Some(other) => Err(EsError::parsing(format!(
            "[boost] must be a number, got [{other}]"
        ))),
    }
}

/// Checks that `params` has only keys from `allowed` (plus `boost` and `_name`).
pub fn check_params(
    kind: &str,
    params: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(), EsError> {
    for key in params.keys() {
        if key != "boost" && key != "_name" && !allowed.contains(&key.as_str()) {
            return Err(EsError::parsing(format!(
                "[{kind}] query does not support [{key}]"
            )));
        }
    }
    Ok(())
}

/// The single `field: spec` entry of a field-level query body.
pub fn single_field<'v>(kind: &str, body: &'v Value) -> Result<(&'v str, &'v Value), EsError> {
    let obj = body.as_object().ok_or_else(|| {
        EsError::parsing(format!(
            "[{kind}] query malformed, no start_object after query name"
        ))
    })?;
    let mut entries = obj
        .iter()
        .filter(|(k, _)| k.as_str() != "_name" && k.as_str() != "boost");
    let (field, spec) = entries.next().ok_or_else(|| {
        EsError::parsing(format!(
            "[{kind}] query doesn't support multiple fields, found none"
        ))
    })?;
    if let Some((other, _)) = entries.next() {
        return Err(EsError::parsing(format!(
            "[{kind}] query doesn't support multiple fields, found [{field}] and [{other}]"
        )));
    }
    Ok((field.as_str(), spec))
}

/// A field-level spec split into its value and parameters: `"x"` or `{"<value_key>": "x", ...}`.
pub fn value_and_params<'v>(
    spec: &'v Value,
    value_key: &str,
    kind: &str,
) -> Result<(&'v Value, Map<String, Value>), EsError> {
    match spec {
        Value::Object(obj) => {
            let value = obj.get(value_key).ok_or_else(|| {
                EsError::parsing(format!("[{kind}] query requires [{value_key}]"))
            })?;
            let mut params = obj.clone();
            params.remove(value_key);
            Ok((value, params))
        }
        other => Ok((other, Map::new())),
    }
}

/// The minimum number of `optional` clauses a `minimum_should_match` spec requires.
pub fn minimum_should_match(spec: &Value, optional: usize) -> Result<usize, EsError> {
    let text = match spec {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        other => {
            return Err(EsError::parsing(format!(
                "[minimum_should_match] must be a number or a string, got [{other}]"
            )))
        }
    };
    if text.contains('<') {
        // Conditional: "N<spec N2<spec2": the spec of the largest N below `optional` applies.
        let mut result = optional;
        let mut pairs: Vec<(usize, &str)> = Vec::new();
        for part in text.split_whitespace() {
            let (n, s) = part.split_once('<').ok_or_else(|| {
                EsError::parsing(format!("invalid minimum_should_match [{text}]"))
            })?;
            let n: usize = n
                .parse()
                .map_err(|_| EsError::parsing(format!("invalid minimum_should_match [{text}]")))?;
            pairs.push((n, s));
        }
        pairs.sort_by_key(|p| p.0);
        for (n, s) in pairs {
            if optional > n {
                result = minimum_should_match(&Value::String(s.to_string()), optional)?;
            }
        }
        return Ok(result);
    }
    let bad = || EsError::parsing(format!("invalid minimum_should_match [{text}]"));
    let value = if let Some(p) = text.strip_suffix('%') {
        let pct: f64 = p.parse().map_err(|_| bad())?;
        let n = (optional as f64 * pct.abs() / 100.0).floor() as i64;
        if pct < 0.0 {
            optional as i64 - n
        } else {
            n
        }
    } else {
        let n: i64 = text.parse().map_err(|_| bad())?;
        if n < 0 {
            optional as i64 + n
        } else {
            n
        }
    };
    Ok(value.max(0) as usize)
}

fn clauses(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
    }
}

fn bool_query(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let obj = body
        .as_object()
        .ok_or_else(|| EsError::parsing("[bool] query malformed"))?;
    check_params(
        "bool",
        obj,
        &[
            "must",
            "should",
            "filter",
            "must_not",
            "minimum_should_match",
            "adjust_pure_negative",
        ],
    )?;
    let mut subs: Vec<(Occur, Q)> = Vec::new();
    for c in clauses(obj.get("must")) {
        subs.push((Occur::Must, compile(ctx, c)?));
    }
    for c in clauses(obj.get("filter")) {
        subs.push((
            Occur::Must,
            Box::new(ConstScoreQuery::new(compile(ctx, c)?, 0.0)),
        ));
    }
    let required = subs.len();
    let shoulds: Vec<Q> = clauses(obj.get("should"))
        .into_iter()
        .map(|c| compile(ctx, c))
        .collect::<Result<_, _>>()?;
    let n_should = shoulds.len();
    for s in shoulds {
        subs.push((Occur::Should, s));
    }
    let mut negatives = 0;
    for c in clauses(obj.get("must_not")) {
        subs.push((Occur::MustNot, compile(ctx, c)?));
        negatives += 1;
    }
    let msm = match obj.get("minimum_should_match") {
        Some(spec) => minimum_should_match(spec, n_should)?,
        None if required == 0 && n_should > 0 => 1,
        None => 0,
    };
    let boost = boost_of(obj)?;
    if subs.is_empty() {
        return Ok(boosted(Box::new(AllQuery), boost));
    }
    if required == 0 && n_should == 0 && negatives > 0 {
        subs.push((
            Occur::Must,
            Box::new(ConstScoreQuery::new(Box::new(AllQuery), 0.0)),
        ));
    }
    if msm > n_should {
        return Ok(Box::new(EmptyQuery));
    }
    // Elasticsearch's default: one optional clause must match when nothing is required.
    let q: Q = Box::new(BooleanQuery::with_minimum_required_clauses(subs, msm));
    Ok(boosted(q, boost))
}

fn dis_max(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let obj = body
        .as_object()
        .ok_or_else(|| EsError::parsing("[dis_max] query malformed"))?;
    check_params("dis_max", obj, &["queries", "tie_breaker"])?;
    let queries: Vec<Q> = clauses(obj.get("queries"))
        .into_iter()
        .map(|c| compile(ctx, c))
        .collect::<Result<_, _>>()?;
    if queries.is_empty() {
        return Err(EsError::parsing(
            "[dis_max] requires 'queries' field with at least one clause",
        ));
    }
    let tie = obj
        .get("tie_breaker")
        .and_then(Value::as_f64)
        .unwrap_or(0.0) as f32;
    Ok(boosted(
        Box::new(DisjunctionMaxQuery::with_tie_breaker(queries, tie)),
        boost_of(obj)?,
    ))
}

fn constant_score(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let obj = body
        .as_object()
        .ok_or_else(|| EsError::parsing("[constant_score] query malformed"))?;
    check_params("constant_score", obj, &["filter"])?;
    let filter = obj
        .get("filter")
        .ok_or_else(|| EsError::parsing("[constant_score] requires a 'filter' element"))?;
    Ok(Box::new(ConstScoreQuery::new(
        compile(ctx, filter)?,
        boost_of(obj)?,
    )))
}

/// Compiles an Elasticsearch query object.
pub fn compile(ctx: &QueryCtx, query: &Value) -> Result<Q, EsError> {
    let obj = query
        .as_object()
        .ok_or_else(|| EsError::parsing(format!("query must be an object, got [{query}]")))?;
    let mut entries = obj.iter();
    let (kind, body) = entries
        .next()
        .ok_or_else(|| EsError::parsing("query malformed, empty clause found"))?;
    if let Some((other, _)) = entries.next() {
        return Err(EsError::parsing(format!(
            "[{kind}] malformed query, expected [END_OBJECT] but found [FIELD_NAME] ([{other}])"
        )));
    }
    match kind.as_str() {
        "match_all" => {
            let params = body.as_object().cloned().unwrap_or_default();
            check_params("match_all", &params, &[])?;
            Ok(Box::new(ConstScoreQuery::new(
                Box::new(AllQuery),
                boost_of(&params)?,
            )))
        }
        "match_none" => Ok(Box::new(EmptyQuery)),
        "bool" => bool_query(ctx, body),
        "dis_max" => dis_max(ctx, body),
        "constant_score" => constant_score(ctx, body),
        "match" => text::match_query(ctx, body),
        "match_phrase" => text::match_phrase(ctx, body, false),
        "match_phrase_prefix" => text::match_phrase(ctx, body, true),
        "match_bool_prefix" => text::match_bool_prefix(ctx, body),
        "multi_match" => text::multi_match(ctx, body),
        "simple_query_string" | "query_string" => text::query_string(ctx, kind, body),
        "term" => term_level::term(ctx, body),
        "terms" => term_level::terms(ctx, body),
        "range" => term_level::range(ctx, body),
        "exists" => term_level::exists(ctx, body),
        "ids" => term_level::ids(ctx, body),
        "prefix" => term_level::prefix(ctx, body),
        "wildcard" => term_level::wildcard(ctx, body),
        "regexp" => term_level::regexp(ctx, body),
        "fuzzy" => term_level::fuzzy(ctx, body),
        "nested" | "has_child" | "has_parent" | "function_score" | "script_score" | "script"
        | "boosting" | "more_like_this" | "geo_distance" | "geo_bounding_box" | "geo_shape"
        | "percolate" | "knn" | "intervals" | "span_term" | "span_near" | "distance_feature"
        | "rank_feature" | "pinned" | "combined_fields" | "terms_set" | "wrapper" => {
            Err(EsError::unsupported(format!("the [{kind}] query")))
        }
        other => Err(
            EsError::parsing(format!("unknown query [{other}]")).caused_by(EsError::new(
                400,
                "named_object_not_found_exception",
                format!("[1:1] unknown field [{other}]"),
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimum_should_match_forms() {
        assert_eq!(minimum_should_match(&json!(2), 4).unwrap(), 2);
        assert_eq!(minimum_should_match(&json!("-1"), 4).unwrap(), 3);
        assert_eq!(minimum_should_match(&json!("75%"), 4).unwrap(), 3);
        assert_eq!(minimum_should_match(&json!("-25%"), 4).unwrap(), 3);
        assert_eq!(minimum_should_match(&json!("2<75%"), 2).unwrap(), 2);
        assert_eq!(minimum_should_match(&json!("2<75%"), 8).unwrap(), 6);
        assert_eq!(minimum_should_match(&json!(9), 4).unwrap(), 9);
        assert!(minimum_should_match(&json!("x"), 4).is_err());
    }
}
