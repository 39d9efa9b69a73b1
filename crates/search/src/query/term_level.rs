//! Term-level queries: `term`, `terms`, `range`, `exists`, `ids`, `prefix`, `wildcard`,
//! `regexp` and `fuzzy`, on exact (unanalysed) values.

use std::ops::Bound;

use serde_json::{Map, Value};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption, OwnedValue};
use tantivy::Term;

use super::expand::{self, TermSpace};
use super::{boost_of, boosted, check_params, single_field, value_and_params, QueryCtx, Q};
use crate::dates::{self, DateFormat};
use crate::error::EsError;
use crate::mapping::{wildcard_match, FieldInfo, FieldType};
use crate::store::document::typed_value;

/// What a field name in a query refers to.
pub enum Target<'a> {
    /// Nothing mapped: matches no document.
    Unmapped,
    /// A text field and its slot.
    Text {
        /// The field.
        info: &'a FieldInfo,
        /// Its slot field.
        slot: Field,
    },
    /// A keyword field.
    Keyword {
        /// The field.
        info: &'a FieldInfo,
    },
    /// A numeric, date or boolean field.
    Typed {
        /// The field.
        info: &'a FieldInfo,
    },
    /// `_id`.
    Id,
    /// `_index`.
    Index,
}

/// Resolves the field `path` of a query.
pub fn target<'a>(ctx: &'a QueryCtx, path: &str) -> Result<Target<'a>, EsError> {
    match path {
        "_id" => return Ok(Target::Id),
        "_index" => return Ok(Target::Index),
        _ => {}
    }
    let Some(info) = ctx.state.mapping.field(path) else {
        return Ok(Target::Unmapped);
    };
    let not_indexed = || {
        Err(EsError::new(
            400,
            "query_shard_exception",
            format!(
                "failed to create query: Cannot search on field [{path}] since it is not indexed."
            ),
        )
        .with("index", ctx.index_name))
    };
    match info.ty {
        FieldType::Text => {
            if !info.index {
                return not_indexed();
            }
            let slot = ctx
                .state
                .slot(path)
                .ok_or_else(|| EsError::internal(format!("text field [{path}] has no slot")))?;
            Ok(Target::Text {
                info,
                slot: ctx.fields.slots[slot],
            })
        }
        FieldType::Binary => not_indexed(),
        FieldType::Completion => Err(EsError::new(
            400,
            "query_shard_exception",
            format!("failed to create query: Field [{path}] of type [completion] does not support queries; use the completion suggester"),
        )
        .with("index", ctx.index_name)),
        _ if !info.index && !info.doc_values => not_indexed(),
        FieldType::Keyword => Ok(Target::Keyword { info }),
        _ => Ok(Target::Typed { info }),
    }
}

/// A keyword value as the field's normalizer writes it.
pub fn normalize_keyword(ctx: &QueryCtx, info: &FieldInfo, text: &str) -> Result<String, EsError> {
    match &info.normalizer {
        Some(n) => Ok(ctx.state.analyzers.normalizer(n)?.terms(text).concat()),
        None => Ok(text.to_string()),
    }
}

fn json_term(field: Field, path: &str, value: &OwnedValue) -> Term {
    let mut t = Term::from_field_json_path(field, path, true);
    match value {
        OwnedValue::Str(s) => t.append_type_and_str(s),
        OwnedValue::I64(i) => t.append_type_and_fast_value(*i),
        OwnedValue::U64(u) => match i64::try_from(*u) {
            Ok(i) => t.append_type_and_fast_value(i),
            Err(_) => t.append_type_and_fast_value(*u),
        },
        OwnedValue::F64(f) => t.append_type_and_fast_value(*f),
        OwnedValue::Bool(b) => t.append_type_and_fast_value(*b),
        _ => t.append_type_and_str(""),
    }
    t
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn query_error(ctx: &QueryCtx, cause: String) -> EsError {
    EsError::new(
        400,
        "query_shard_exception",
        format!("failed to create query: {cause}"),
    )
    .with("index", ctx.index_name)
    .caused_by(EsError::new(400, "illegal_argument_exception", cause))
}

/// The exact term `value` of `target`, or `None` when the target matches nothing.
fn exact_term(ctx: &QueryCtx, target: &Target, value: &Value) -> Result<Option<Term>, EsError> {
    Ok(Some(match target {
        Target::Unmapped | Target::Index => return Ok(None),
        Target::Id => Term::from_field_text(ctx.fields.id, &value_text(value)),
        Target::Text { slot, .. } => Term::from_field_text(*slot, &value_text(value)),
        Target::Keyword { info } => {
            let normalized = normalize_keyword(ctx, info, &value_text(value))?;
            json_term(ctx.fields.values, &info.path, &OwnedValue::Str(normalized))
        }
        Target::Typed { info } => {
            // A fraction never equals an integer field's value.
            if info.ty == FieldType::Integer && value.as_f64().is_some_and(|f| f.fract() != 0.0) {
                return Ok(None);
            }
            let typed = typed_value(info, value).map_err(|cause| query_error(ctx, cause))?;
            json_term(ctx.fields.values, &info.path, &typed)
        }
    }))
}

/// An exact-value query on `target` (what `term` does, and `match` on non-text fields).
pub fn typed_term(ctx: &QueryCtx, target: &Target, value: &Value) -> Result<Q, EsError> {
    if let Target::Index = target {
        return Ok(if value_text(value) == ctx.index_name {
            Box::new(AllQuery)
        } else {
            Box::new(EmptyQuery)
        });
    }
    match exact_term(ctx, target, value)? {
        Some(term) => Ok(Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))),
        None => Ok(Box::new(EmptyQuery)),
    }
}

/// `term`.
pub fn term(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let (field, spec) = single_field("term", body)?;
    let (value, params) = value_and_params(spec, "value", "term")?;
    check_params("term", &params, &["case_insensitive"])?;
    let target = target(ctx, field)?;
    let case_insensitive = params
        .get("case_insensitive")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let q = if case_insensitive {
        let wanted = value_text(value).to_lowercase();
        multi_term(ctx, field, &target, "", &move |t: &str| {
            t.to_lowercase() == wanted
        })?
    } else {
        typed_term(ctx, &target, value)?
    };
    if let Target::Text { .. } = target {
        ctx.note_term(field, &value_text(value));
    }
    Ok(boosted(q, boost_of(&params)?))
}

/// `terms`.
pub fn terms(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let obj = body
        .as_object()
        .ok_or_else(|| EsError::parsing("[terms] query malformed"))?;
    let mut field = None;
    for (k, v) in obj {
        match k.as_str() {
            "boost" | "_name" => {}
            _ if field.is_some() => {
                return Err(EsError::parsing(
                    "[terms] query does not support multiple fields",
                ))
            }
            _ => field = Some((k.as_str(), v)),
        }
    }
    let (field, values) =
        field.ok_or_else(|| EsError::parsing("[terms] query requires a field"))?;
    let values = match values {
        Value::Array(items) => items,
        Value::Object(_) => return Err(EsError::unsupported("terms lookup")),
        _ => {
            return Err(EsError::parsing(format!(
                "[terms] query does not support [{field}]"
            )))
        }
    };
    let target = target(ctx, field)?;
    if let Target::Index = target {
        let hit = values.iter().any(|v| value_text(v) == ctx.index_name);
        return Ok(if hit {
            Box::new(AllQuery)
        } else {
            Box::new(EmptyQuery)
        });
    }
    let mut list = Vec::new();
    for v in values {
        if let Some(t) = exact_term(ctx, &target, v)? {
            list.push(t);
        }
    }
    if list.is_empty() {
        return Ok(Box::new(EmptyQuery));
    }
    Ok(Box::new(ConstScoreQuery::new(
        Box::new(TermSetQuery::new(list)),
        boost_of(obj)?,
    )))
}

fn bound_value(params: &Map<String, Value>, key: &str) -> Option<Value> {
    params.get(key).filter(|v| !v.is_null()).cloned()
}

/// `range`.
pub fn range(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let (field, spec) = single_field("range", body)?;
    let params = spec.as_object().ok_or_else(|| {
        EsError::parsing("[range] query malformed, no start_object after query name")
    })?;
    check_params(
        "range",
        params,
        &[
            "gte",
            "gt",
            "lte",
            "lt",
            "from",
            "to",
            "include_lower",
            "include_upper",
            "format",
            "time_zone",
            "relation",
        ],
    )?;
    let include_lower = params
        .get("include_lower")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let include_upper = params
        .get("include_upper")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut lower: Option<(Value, bool)> = None;
    let mut upper: Option<(Value, bool)> = None;
    if let Some(v) = bound_value(params, "from") {
        lower = Some((v, include_lower));
    }
    if let Some(v) = bound_value(params, "to") {
        upper = Some((v, include_upper));
    }
    if let Some(v) = bound_value(params, "gte") {
        lower = Some((v, true));
    }
    if let Some(v) = bound_value(params, "gt") {
        lower = Some((v, false));
    }
    if let Some(v) = bound_value(params, "lte") {
        upper = Some((v, true));
    }
    if let Some(v) = bound_value(params, "lt") {
        upper = Some((v, false));
    }
    let boost = boost_of(params)?;
    let target = target(ctx, field)?;
    if lower.is_none() && upper.is_none() {
        return exists_path(ctx, field, boost);
    }
    let bounds: (Bound<Term>, Bound<Term>) = match &target {
        Target::Unmapped | Target::Index => return Ok(Box::new(EmptyQuery)),
        Target::Id => return Err(EsError::unsupported("range queries on [_id]")),
        Target::Text { slot, .. } => {
            let b = |side: &Option<(Value, bool)>| match side {
                None => Bound::Unbounded,
                Some((v, true)) => Bound::Included(Term::from_field_text(*slot, &value_text(v))),
                Some((v, false)) => Bound::Excluded(Term::from_field_text(*slot, &value_text(v))),
            };
            (b(&lower), b(&upper))
        }
        Target::Keyword { info } => {
            let b = |side: &Option<(Value, bool)>| -> Result<Bound<Term>, EsError> {
                Ok(match side {
                    None => Bound::Unbounded,
                    Some((v, incl)) => {
                        let s = normalize_keyword(ctx, info, &value_text(v))?;
                        let t = json_term(ctx.fields.values, &info.path, &OwnedValue::Str(s));
                        if *incl {
                            Bound::Included(t)
                        } else {
                            Bound::Excluded(t)
                        }
                    }
                })
            };
            (b(&lower)?, b(&upper)?)
        }
        Target::Typed { info } => numeric_bounds(ctx, info, params, &lower, &upper)?,
    };
    Ok(Box::new(ConstScoreQuery::new(
        Box::new(RangeQuery::new(bounds.0, bounds.1)),
        boost,
    )))
}

fn numeric_bounds(
    ctx: &QueryCtx,
    info: &FieldInfo,
    params: &Map<String, Value>,
    lower: &Option<(Value, bool)>,
    upper: &Option<(Value, bool)>,
) -> Result<(Bound<Term>, Bound<Term>), EsError> {
    let number = |side: &Option<(Value, bool)>,
                  is_upper: bool|
     -> Result<Option<(f64, bool)>, EsError> {
        let Some((v, incl)) = side else {
            return Ok(None);
        };
        let n = match info.ty {
            FieldType::Date => {
                let format = match params.get("format").and_then(Value::as_str) {
                    Some(f) => DateFormat::parse(f).map_err(|e| query_error(ctx, e))?,
                    None => info.format.clone(),
                };
                let zone = params
                    .get("time_zone")
                    .and_then(Value::as_str)
                    .map(dates::parse_time_zone)
                    .transpose()
                    .map_err(|e| query_error(ctx, e))?;
                let round_up = (is_upper && *incl) || (!is_upper && !*incl);
                match v {
                    Value::Number(n) => n.as_f64().unwrap_or(0.0),
                    other => dates::parse_date_math(
                        &value_text(other),
                        &format,
                        zone,
                        ctx.now_millis,
                        round_up,
                    )
                    .map_err(|e| query_error(ctx, e))? as f64,
                }
            }
            FieldType::Boolean => match typed_value(info, v).map_err(|e| query_error(ctx, e))? {
                OwnedValue::Bool(b) => f64::from(u8::from(b)),
                _ => 0.0,
            },
            _ => match v {
                Value::Number(n) => n.as_f64().unwrap_or(0.0),
                Value::String(s) => s
                    .trim()
                    .parse()
                    .map_err(|_| query_error(ctx, format!("For input string: \"{s}\"")))?,
                other => return Err(query_error(ctx, format!("For input value: {other}"))),
            },
        };
        Ok(Some((n, *incl)))
    };
    let lo = number(lower, false)?;
    let hi = number(upper, true)?;
    if info.ty == FieldType::Boolean {
        return Err(EsError::unsupported("range queries on boolean fields"));
    }
    let fractional = [lo, hi].iter().flatten().any(|(n, _)| n.fract() != 0.0);
    let make = |side: Option<(f64, bool)>| -> Bound<Term> {
        let Some((n, incl)) = side else {
            return Bound::Unbounded;
        };
        let mut t = Term::from_field_json_path(ctx.fields.values, &info.path, true);
        if fractional {
            t.append_type_and_fast_value(n);
        } else {
            t.append_type_and_fast_value(n as i64);
        }
        if incl {
            Bound::Included(t)
        } else {
            Bound::Excluded(t)
        }
    };
    Ok((make(lo), make(hi)))
}

fn exists_path(ctx: &QueryCtx, pattern: &str, boost: f32) -> Result<Q, EsError> {
    let mut paths: Vec<String> = Vec::new();
    if pattern.contains('*') {
        for p in ctx
            .state
            .mapping
            .fields
            .keys()
            .chain(ctx.state.mapping.objects.keys())
        {
            if wildcard_match(pattern, p) {
                paths.push(p.clone());
            }
        }
    } else {
        paths.push(pattern.to_string());
    }
    if paths.is_empty() {
        return Ok(Box::new(EmptyQuery));
    }
    let terms = paths
        .iter()
        .map(|p| Term::from_field_text(ctx.fields.field_names, p));
    Ok(Box::new(ConstScoreQuery::new(
        Box::new(TermSetQuery::new(terms)),
        boost,
    )))
}

/// `exists`.
pub fn exists(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let obj = body
        .as_object()
        .ok_or_else(|| EsError::parsing("[exists] query malformed"))?;
    check_params("exists", obj, &["field"])?;
    let field = obj
        .get("field")
        .and_then(Value::as_str)
        .ok_or_else(|| EsError::parsing("[exists] must be provided with a [field]"))?;
    if field == "_id" || field == "_index" {
        return Ok(boosted(Box::new(AllQuery), boost_of(obj)?));
    }
    exists_path(ctx, field, boost_of(obj)?)
}

/// `ids`.
pub fn ids(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let obj = body
        .as_object()
        .ok_or_else(|| EsError::parsing("[ids] query malformed"))?;
    check_params("ids", obj, &["values", "type", "types"])?;
    let values = match obj.get("values") {
        Some(Value::Array(items)) => items,
        _ => return Err(EsError::parsing("[ids] query requires [values]")),
    };
    if values.is_empty() {
        return Ok(Box::new(EmptyQuery));
    }
    let terms = values
        .iter()
        .map(|v| Term::from_field_text(ctx.fields.id, &value_text(v)));
    Ok(Box::new(ConstScoreQuery::new(
        Box::new(TermSetQuery::new(terms)),
        boost_of(obj)?,
    )))
}

fn space_of(ctx: &QueryCtx, target: &Target) -> Option<(TermSpace, Option<String>)> {
    match target {
        Target::Text { slot, .. } => Some((TermSpace::Slot(*slot), None)),
        Target::Keyword { info } => Some((
            TermSpace::Json {
                field: ctx.fields.values,
                path: info.path.clone(),
            },
            info.normalizer.clone(),
        )),
        Target::Id => Some((TermSpace::Slot(ctx.fields.id), None)),
        _ => None,
    }
}

/// A constant-score query over the terms of `target` starting with `literal_prefix` that
/// satisfy `keep`.
fn multi_term(
    ctx: &QueryCtx,
    path: &str,
    target: &Target,
    literal_prefix: &str,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Q, EsError> {
    let Some((space, _)) = space_of(ctx, target) else {
        return match target {
            Target::Unmapped => Ok(Box::new(EmptyQuery)),
            _ => Err(EsError::new(
                400,
                "query_shard_exception",
                format!("failed to create query: Can only use prefix, wildcard, regexp or fuzzy queries on keyword and text fields - not on [{path}]"),
            )
            .with("index", ctx.index_name)),
        };
    };
    let terms = expand::expand(ctx.searcher, &space, literal_prefix, keep)?;
    if terms.is_empty() {
        return Ok(Box::new(EmptyQuery));
    }
    Ok(Box::new(ConstScoreQuery::new(
        Box::new(TermSetQuery::new(terms.iter().map(|t| space.term(t)))),
        1.0,
    )))
}

fn pattern_params<'v>(
    kind: &str,
    body: &'v Value,
    allowed: &[&str],
) -> Result<(&'v str, String, Map<String, Value>), EsError> {
    let (field, spec) = single_field(kind, body)?;
    let (value, params) = match spec {
        Value::Object(obj) => {
            let key = if kind == "wildcard" && !obj.contains_key("value") {
                "wildcard"
            } else {
                "value"
            };
            value_and_params(spec, key, kind)?
        }
        other => (other, Map::new()),
    };
    check_params(kind, &params, allowed)?;
    Ok((field, value_text(value), params))
}

/// `prefix`.
pub fn prefix(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let (field, value, params) = pattern_params("prefix", body, &["case_insensitive", "rewrite"])?;
    let target = target(ctx, field)?;
    let ci = params
        .get("case_insensitive")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let value = match (&target, ci) {
        (Target::Keyword { info }, false) => normalize_keyword(ctx, info, &value)?,
        _ => value,
    };
    if matches!(target, Target::Text { .. }) {
        ctx.note_term(field, &format!("prefix:{value}"));
    }
    let q = if ci {
        let lower = value.to_lowercase();
        multi_term(ctx, field, &target, "", &move |t: &str| {
            t.to_lowercase().starts_with(&lower)
        })?
    } else {
        multi_term(ctx, field, &target, &value, &|_| true)?
    };
    Ok(boosted(q, boost_of(&params)?))
}

/// Whether `text` matches the wildcard `pattern` (`*` any run, `?` one character).
pub fn glob(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == '*' {
        p += 1;
    }
    p == pattern.len()
}

/// `wildcard`.
pub fn wildcard(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let (field, value, params) =
        pattern_params("wildcard", body, &["case_insensitive", "rewrite"])?;
    let target = target(ctx, field)?;
    let ci = params
        .get("case_insensitive")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let pattern: Vec<char> = if ci {
        value.to_lowercase()
    } else {
        value.clone()
    }
    .chars()
    .collect();
    let literal: String = if ci {
        String::new()
    } else {
        value
            .chars()
            .take_while(|c| *c != '*' && *c != '?')
            .collect()
    };
    let q = multi_term(ctx, field, &target, &literal, &move |t: &str| {
        let chars: Vec<char> = if ci {
            t.to_lowercase().chars().collect()
        } else {
            t.chars().collect()
        };
        glob(&pattern, &chars)
    })?;
    Ok(boosted(q, boost_of(&params)?))
}

/// `regexp`.
pub fn regexp(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let (field, value, params) = pattern_params(
        "regexp",
        body,
        &[
            "flags",
            "case_insensitive",
            "max_determinized_states",
            "rewrite",
        ],
    )?;
    let ci = params
        .get("case_insensitive")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let re = regex::RegexBuilder::new(&format!("^(?:{value})$"))
        .case_insensitive(ci)
        .build()
        .map_err(|e| query_error(ctx, format!("invalid regular expression [{value}]: {e}")))?;
    let target = target(ctx, field)?;
    let q = multi_term(ctx, field, &target, "", &move |t: &str| re.is_match(t))?;
    Ok(boosted(q, boost_of(&params)?))
}

/// `fuzzy`.
pub fn fuzzy(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let (field, spec) = single_field("fuzzy", body)?;
    let (value, params) = value_and_params(spec, "value", "fuzzy")?;
    check_params(
        "fuzzy",
        &params,
        &[
            "fuzziness",
            "prefix_length",
            "max_expansions",
            "transpositions",
            "rewrite",
        ],
    )?;
    let target = target(ctx, field)?;
    let Some((space, normalizer)) = space_of(ctx, &target) else {
        return match target {
            Target::Unmapped => Ok(Box::new(EmptyQuery)),
            other => typed_term(ctx, &other, value),
        };
    };
    let mut text = value_text(value);
    if let (Some(_), Target::Keyword { info }) = (&normalizer, &target) {
        text = normalize_keyword(ctx, info, &text)?;
    }
    let spec = params
        .get("fuzziness")
        .cloned()
        .unwrap_or(Value::String("AUTO".into()));
    let distance = expand::fuzziness(&spec, text.chars().count())?;
    let usize_param = |k: &str, d: usize| {
        params
            .get(k)
            .and_then(Value::as_u64)
            .map_or(d, |n| n as usize)
    };
    let expansions = expand::fuzzy(
        ctx.searcher,
        &space,
        &text,
        distance,
        usize_param("prefix_length", 0),
        usize_param("max_expansions", 50),
        params
            .get("transpositions")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    )?;
    let subs: Vec<(Occur, Q)> = expansions
        .into_iter()
        .map(|(t, b)| {
            if matches!(target, Target::Text { .. }) {
                ctx.note_term(field, &t);
            }
            let q: Q = Box::new(TermQuery::new(space.term(&t), IndexRecordOption::WithFreqs));
            (Occur::Should, Box::new(BoostQuery::new(q, b)) as Q)
        })
        .collect();
    if subs.is_empty() {
        return Ok(Box::new(EmptyQuery));
    }
    Ok(boosted(
        Box::new(BooleanQuery::new(subs)),
        boost_of(&params)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str, t: &str) -> bool {
        glob(
            &p.chars().collect::<Vec<_>>(),
            &t.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn globs() {
        assert!(g("sh*", "shoes"));
        assert!(g("s?oe*", "shoes"));
        assert!(g("*oes", "shoes"));
        assert!(g("*", ""));
        assert!(!g("s?", "shoes"));
        assert!(!g("x*", "shoes"));
    }
}
