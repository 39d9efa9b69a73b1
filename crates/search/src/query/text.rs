//! Full-text queries: `match`, `match_phrase`, `match_phrase_prefix`, `match_bool_prefix`
//! and `multi_match`, analysed with the field's search analyzer and scored with BM25 per
//! field, as Elasticsearch does.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, DisjunctionMaxQuery, EmptyQuery, Occur, PhrasePrefixQuery,
    PhraseQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::Token;

use super::expand::{self, TermSpace};
use super::term_level::{self, Target};
use super::{boost_of, boosted, check_params, minimum_should_match, single_field, QueryCtx, Q};
use crate::error::EsError;
use crate::mapping::FieldInfo;

/// Options of a `match`-family query on one field.
#[derive(Debug, Clone)]
pub struct MatchOpts {
    /// All terms must match (`operator: and`).
    pub and: bool,
    /// `fuzziness`, if any.
    pub fuzziness: Option<Value>,
    /// `prefix_length` of fuzzy terms.
    pub prefix_length: usize,
    /// `max_expansions` of fuzzy or prefix terms.
    pub max_expansions: usize,
    /// `fuzzy_transpositions`.
    pub transpositions: bool,
    /// `analyzer` overriding the field's search analyzer.
    pub analyzer: Option<String>,
    /// `minimum_should_match`.
    pub minimum_should_match: Option<Value>,
    /// `zero_terms_query: all`.
    pub zero_terms_all: bool,
    /// `lenient`: values that do not fit the field match nothing instead of failing.
    pub lenient: bool,
    /// `slop` of phrases.
    pub slop: u32,
}

impl Default for MatchOpts {
    fn default() -> Self {
        MatchOpts {
            and: false,
            fuzziness: None,
            prefix_length: 0,
            max_expansions: 50,
            transpositions: true,
            analyzer: None,
            minimum_should_match: None,
            zero_terms_all: false,
            lenient: false,
            slop: 0,
        }
    }
}

fn usize_of(params: &Map<String, Value>, key: &str, default: usize) -> Result<usize, EsError> {
    match params.get(key) {
        None => Ok(default),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(|n| n as usize)
            .ok_or_else(|| EsError::parsing(format!("[{key}] must be a number, got [{v}]"))),
    }
}

impl MatchOpts {
    fn from_params(kind: &str, params: &Map<String, Value>) -> Result<MatchOpts, EsError> {
        let and = match params.get("operator").and_then(Value::as_str) {
            None => false,
            Some(op) if op.eq_ignore_ascii_case("or") => false,
            Some(op) if op.eq_ignore_ascii_case("and") => true,
            Some(op) => {
                return Err(EsError::parsing(format!(
                    "[{kind}] query parsing: unknown operator [{op}]"
                )))
            }
        };
        let zero_terms_all = match params.get("zero_terms_query").and_then(Value::as_str) {
            None => false,
            Some(z) if z.eq_ignore_ascii_case("none") => false,
            Some(z) if z.eq_ignore_ascii_case("all") => true,
            Some(z) => {
                return Err(EsError::parsing(format!(
                    "Unsupported zero_terms_query value [{z}]"
                )))
            }
        };
        Ok(MatchOpts {
            and,
            fuzziness: params.get("fuzziness").cloned(),
            prefix_length: usize_of(params, "prefix_length", 0)?,
            max_expansions: usize_of(params, "max_expansions", 50)?,
            transpositions: params
                .get("fuzzy_transpositions")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            analyzer: params
                .get("analyzer")
                .and_then(Value::as_str)
                .map(String::from),
            minimum_should_match: params.get("minimum_should_match").cloned(),
            zero_terms_all,
            lenient: params
                .get("lenient")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            slop: usize_of(params, "slop", 0)? as u32,
        })
    }
}

fn text_of(value: &Value, kind: &str) -> Result<String, EsError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(EsError::parsing(format!(
            "[{kind}] unknown token [{}] after [query]",
            if other.is_array() {
                "START_ARRAY"
            } else {
                "START_OBJECT"
            }
        ))),
    }
}

fn zero_terms(opts: &MatchOpts) -> Q {
    if opts.zero_terms_all {
        Box::new(AllQuery)
    } else {
        Box::new(EmptyQuery)
    }
}

fn analyze(
    ctx: &QueryCtx,
    info: &FieldInfo,
    text: &str,
    opts: &MatchOpts,
    quote: bool,
) -> Result<Vec<Token>, EsError> {
    let name = match &opts.analyzer {
        Some(a) => a.as_str(),
        None if quote => info.search_quote_analyzer.as_str(),
        None => info.search_analyzer.as_str(),
    };
    Ok(ctx.state.analyzers.get(name)?.analyze(text))
}

fn by_position(tokens: Vec<Token>) -> BTreeMap<usize, Vec<String>> {
    let mut out: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for t in tokens {
        let terms = out.entry(t.position).or_default();
        if !terms.contains(&t.text) {
            terms.push(t.text);
        }
    }
    out
}

/// A scored query for one term of a text slot or keyword path, fuzzy when asked.
fn term_query(
    ctx: &QueryCtx,
    path: &str,
    space: &TermSpace,
    term: &str,
    opts: &MatchOpts,
) -> Result<Q, EsError> {
    if let Some(f) = &opts.fuzziness {
        let distance = expand::fuzziness(f, term.chars().count())?;
        if distance > 0 {
            let expansions = expand::fuzzy(
                ctx.searcher,
                space,
                term,
                distance,
                opts.prefix_length,
                opts.max_expansions,
                opts.transpositions,
            )?;
            let mut subs: Vec<(Occur, Q)> = Vec::new();
            for (t, boost) in expansions {
                ctx.note_term(path, &t);
                let q: Q = Box::new(TermQuery::new(space.term(&t), IndexRecordOption::WithFreqs));
                subs.push((Occur::Should, Box::new(BoostQuery::new(q, boost))));
            }
            return Ok(match subs.len() {
                0 => Box::new(EmptyQuery),
                1 => subs.remove(0).1,
                _ => Box::new(BooleanQuery::new(subs)),
            });
        }
    }
    ctx.note_term(path, term);
    Ok(Box::new(TermQuery::new(
        space.term(term),
        IndexRecordOption::WithFreqs,
    )))
}

/// `match` on one field.
pub fn match_field(
    ctx: &QueryCtx,
    path: &str,
    value: &Value,
    opts: &MatchOpts,
) -> Result<Q, EsError> {
    match term_level::target(ctx, path)? {
        Target::Unmapped => Ok(Box::new(EmptyQuery)),
        Target::Text { info, slot } => {
            let text = text_of(value, "match")?;
            let positions = by_position(analyze(ctx, info, &text, opts, false)?);
            if positions.is_empty() {
                return Ok(zero_terms(opts));
            }
            let space = TermSpace::Slot(slot);
            let mut clauses: Vec<Q> = Vec::new();
            for terms in positions.values() {
                let mut alternatives: Vec<Q> = terms
                    .iter()
                    .map(|t| term_query(ctx, path, &space, t, opts))
                    .collect::<Result<_, _>>()?;
                clauses.push(if alternatives.len() == 1 {
                    alternatives.remove(0)
                } else {
                    Box::new(DisjunctionMaxQuery::new(alternatives))
                });
            }
            if clauses.len() == 1 {
                return Ok(clauses.remove(0));
            }
            let n = clauses.len();
            let occur = if opts.and { Occur::Must } else { Occur::Should };
            let subs: Vec<(Occur, Q)> = clauses.into_iter().map(|c| (occur, c)).collect();
            if opts.and {
                return Ok(Box::new(BooleanQuery::new(subs)));
            }
            let msm = match &opts.minimum_should_match {
                Some(spec) => minimum_should_match(spec, n)?.max(1),
                None => 1,
            };
            if msm > n {
                return Ok(Box::new(EmptyQuery));
            }
            Ok(Box::new(BooleanQuery::with_minimum_required_clauses(
                subs, msm,
            )))
        }
        Target::Keyword { info } => {
            let text = text_of(value, "match")?;
            let normalized = term_level::normalize_keyword(ctx, info, &text)?;
            let space = TermSpace::Json {
                field: ctx.fields.values,
                path: info.path.clone(),
            };
            term_query(ctx, path, &space, &normalized, opts)
        }
        target => match term_level::typed_term(ctx, &target, value) {
            Ok(q) => Ok(q),
            Err(_) if opts.lenient => Ok(Box::new(EmptyQuery)),
            Err(e) => Err(e),
        },
    }
}

/// The single-field body of a `match`-family query as (field, value, params).
fn field_body<'v>(
    kind: &str,
    body: &'v Value,
    allowed: &[&str],
) -> Result<(&'v str, Value, Map<String, Value>), EsError> {
    let (field, spec) = single_field(kind, body)?;
    let (value, params) = match spec {
        Value::Object(obj) => {
            let value = obj
                .get("query")
                .cloned()
                .ok_or_else(|| EsError::parsing(format!("[{kind}] requires query value")))?;
            let mut params = obj.clone();
            params.remove("query");
            (value, params)
        }
        other => (other.clone(), Map::new()),
    };
    check_params(kind, &params, allowed)?;
    Ok((field, value, params))
}

/// `match`.
pub fn match_query(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let (field, value, params) = field_body(
        "match",
        body,
        &[
            "operator",
            "fuzziness",
            "prefix_length",
            "max_expansions",
            "fuzzy_transpositions",
            "analyzer",
            "minimum_should_match",
            "zero_terms_query",
            "lenient",
            "auto_generate_synonyms_phrase_query",
            "fuzzy_rewrite",
            "cutoff_frequency",
        ],
    )?;
    let opts = MatchOpts::from_params("match", &params)?;
    Ok(boosted(
        match_field(ctx, field, &value, &opts)?,
        boost_of(&params)?,
    ))
}

/// `match_phrase` (or `match_phrase_prefix`) on one field.
pub fn phrase_field(
    ctx: &QueryCtx,
    path: &str,
    value: &Value,
    opts: &MatchOpts,
    prefix: bool,
) -> Result<Q, EsError> {
    match term_level::target(ctx, path)? {
        Target::Unmapped => Ok(Box::new(EmptyQuery)),
        Target::Text { info, slot } => {
            let text = text_of(value, "match_phrase")?;
            let tokens = analyze(ctx, info, &text, opts, true)?;
            let Some(first) = tokens.first().map(|t| t.position) else {
                return Ok(zero_terms(opts));
            };
            let mut terms: Vec<(usize, tantivy::Term)> = Vec::new();
            let mut seen_positions = std::collections::BTreeSet::new();
            for t in &tokens {
                // Several tokens at one position (synonyms): the first stands for the position.
                if seen_positions.insert(t.position) {
                    terms.push((
                        t.position - first,
                        tantivy::Term::from_field_text(slot, &t.text),
                    ));
                }
            }
            let last = tokens.last().map(|t| t.text.clone()).unwrap_or_default();
            for t in &tokens[..tokens.len().saturating_sub(usize::from(prefix))] {
                ctx.note_term(path, &t.text);
            }
            if prefix {
                ctx.note_term(path, &format!("prefix:{last}"));
                if opts.slop > 0 {
                    return Err(EsError::unsupported("[slop] of match_phrase_prefix"));
                }
                let mut q = PhrasePrefixQuery::new_with_offset(terms);
                q.set_max_expansions(opts.max_expansions as u32);
                return Ok(Box::new(q));
            }
            if terms.len() == 1 {
                return Ok(Box::new(TermQuery::new(
                    terms.remove(0).1,
                    IndexRecordOption::WithFreqs,
                )));
            }
            Ok(Box::new(PhraseQuery::new_with_offset_and_slop(
                terms, opts.slop,
            )))
        }
        Target::Keyword { info } if prefix => {
            let text = text_of(value, "match_phrase_prefix")?;
            let normalized = term_level::normalize_keyword(ctx, info, &text)?;
            prefix_terms(
                ctx,
                path,
                &TermSpace::Json {
                    field: ctx.fields.values,
                    path: info.path.clone(),
                },
                &normalized,
                opts.max_expansions,
            )
        }
        _ => match_field(ctx, path, value, opts),
    }
}

/// A constant-score query for the terms of `space` starting with `prefix`.
fn prefix_terms(
    ctx: &QueryCtx,
    path: &str,
    space: &TermSpace,
    prefix: &str,
    max: usize,
) -> Result<Q, EsError> {
    let mut terms = expand::expand(ctx.searcher, space, prefix, &|_| true)?;
    terms.truncate(max.max(1));
    ctx.note_term(path, &format!("prefix:{prefix}"));
    if terms.is_empty() {
        return Ok(Box::new(EmptyQuery));
    }
    Ok(Box::new(tantivy::query::ConstScoreQuery::new(
        Box::new(TermSetQuery::new(terms.iter().map(|t| space.term(t)))),
        1.0,
    )))
}

/// `match_phrase` / `match_phrase_prefix`.
pub fn match_phrase(ctx: &QueryCtx, body: &Value, prefix: bool) -> Result<Q, EsError> {
    let kind = if prefix {
        "match_phrase_prefix"
    } else {
        "match_phrase"
    };
    let (field, value, params) = field_body(
        kind,
        body,
        &["slop", "analyzer", "max_expansions", "zero_terms_query"],
    )?;
    let opts = MatchOpts::from_params(kind, &params)?;
    Ok(boosted(
        phrase_field(ctx, field, &value, &opts, prefix)?,
        boost_of(&params)?,
    ))
}

fn bool_prefix_field(
    ctx: &QueryCtx,
    path: &str,
    value: &Value,
    opts: &MatchOpts,
) -> Result<Q, EsError> {
    let Target::Text { info, slot } = term_level::target(ctx, path)? else {
        return phrase_field(ctx, path, value, opts, true);
    };
    let text = text_of(value, "match_bool_prefix")?;
    let mut tokens = analyze(ctx, info, &text, opts, false)?;
    let Some(last) = tokens.pop() else {
        return Ok(Box::new(EmptyQuery));
    };
    let space = TermSpace::Slot(slot);
    let mut clauses: Vec<Q> = tokens
        .iter()
        .map(|t| term_query(ctx, path, &space, &t.text, opts))
        .collect::<Result<_, _>>()?;
    clauses.push(prefix_terms(
        ctx,
        path,
        &space,
        &last.text,
        opts.max_expansions,
    )?);
    let occur = if opts.and { Occur::Must } else { Occur::Should };
    let n = clauses.len();
    let subs: Vec<(Occur, Q)> = clauses.into_iter().map(|c| (occur, c)).collect();
    let msm = match (&opts.minimum_should_match, opts.and) {
        (_, true) => 0,
        (Some(spec), false) => minimum_should_match(spec, n)?.max(1),
        (None, false) => 1,
    };
    Ok(Box::new(BooleanQuery::with_minimum_required_clauses(
        subs, msm,
    )))
}

/// `match_bool_prefix`.
pub fn match_bool_prefix(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let (field, value, params) = field_body(
        "match_bool_prefix",
        body,
        &[
            "operator",
            "analyzer",
            "minimum_should_match",
            "fuzziness",
            "prefix_length",
            "max_expansions",
            "fuzzy_transpositions",
        ],
    )?;
    let opts = MatchOpts::from_params("match_bool_prefix", &params)?;
    Ok(boosted(
        bool_prefix_field(ctx, field, &value, &opts)?,
        boost_of(&params)?,
    ))
}

/// `fields` entries (`name^2`, `title*`) resolved to mapped fields with boosts.
pub fn resolve_fields(ctx: &QueryCtx, specs: &[String]) -> Result<Vec<(String, f32)>, EsError> {
    let mut out: Vec<(String, f32)> = Vec::new();
    for spec in specs {
        let (pattern, boost) = match spec.split_once('^') {
            Some((p, b)) => (
                p,
                b.parse::<f32>()
                    .map_err(|_| EsError::parsing(format!("invalid boost in field [{spec}]")))?,
            ),
            None => (spec.as_str(), 1.0),
        };
        if pattern.contains('*') {
            for f in ctx.state.mapping.matching_fields(pattern) {
                let searchable = matches!(
                    f.ty,
                    crate::mapping::FieldType::Text | crate::mapping::FieldType::Keyword
                ) && f.index;
                if searchable && !out.iter().any(|(p, _)| *p == f.path) {
                    out.push((f.path.clone(), boost));
                }
            }
        } else if !out.iter().any(|(p, _)| p == pattern) {
            out.push((pattern.to_string(), boost));
        }
    }
    Ok(out)
}

fn default_fields(ctx: &QueryCtx) -> Vec<String> {
    vec![ctx
        .state
        .settings
        .get("query.default_field")
        .and_then(Value::as_str)
        .unwrap_or("*")
        .to_string()]
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// `multi_match`.
pub fn multi_match(ctx: &QueryCtx, body: &Value) -> Result<Q, EsError> {
    let params = body
        .as_object()
        .ok_or_else(|| EsError::parsing("[multi_match] query malformed"))?;
    check_params(
        "multi_match",
        params,
        &[
            "query",
            "fields",
            "type",
            "operator",
            "fuzziness",
            "prefix_length",
            "max_expansions",
            "fuzzy_transpositions",
            "analyzer",
            "minimum_should_match",
            "zero_terms_query",
            "lenient",
            "tie_breaker",
            "slop",
            "auto_generate_synonyms_phrase_query",
            "fuzzy_rewrite",
        ],
    )?;
    let value = params
        .get("query")
        .ok_or_else(|| EsError::parsing("No text specified for multi_match query"))?;
    let mut specs = string_list(params.get("fields"));
    let explicit = !specs.is_empty();
    if !explicit {
        specs = default_fields(ctx);
    }
    let fields = resolve_fields(ctx, &specs)?;
    let mut opts = MatchOpts::from_params("multi_match", params)?;
    if !explicit {
        opts.lenient = true;
    }
    let kind = params
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("best_fields");
    let tie = params
        .get("tie_breaker")
        .and_then(Value::as_f64)
        .map(|t| t as f32);
    let per_field = |f: &dyn Fn(&str) -> Result<Q, EsError>| -> Result<Vec<Q>, EsError> {
        fields
            .iter()
            .map(|(path, boost)| Ok(boosted(f(path)?, *boost)))
            .collect()
    };
    let q: Q = match kind {
        "best_fields" | "phrase" | "phrase_prefix" | "bool_prefix" => {
            let queries = per_field(&|path| match kind {
                "phrase" => phrase_field(ctx, path, value, &opts, false),
                "phrase_prefix" => phrase_field(ctx, path, value, &opts, true),
                "bool_prefix" => bool_prefix_field(ctx, path, value, &opts),
                _ => match_field(ctx, path, value, &opts),
            })?;
            if queries.is_empty() {
                Box::new(EmptyQuery)
            } else {
                Box::new(DisjunctionMaxQuery::with_tie_breaker(
                    queries,
                    tie.unwrap_or(0.0),
                ))
            }
        }
        "most_fields" => {
            let queries = per_field(&|path| match_field(ctx, path, value, &opts))?;
            Box::new(BooleanQuery::new(
                queries.into_iter().map(|q| (Occur::Should, q)).collect(),
            ))
        }
        "cross_fields" => cross_fields(ctx, &fields, value, &opts, tie.unwrap_or(0.0))?,
        other => {
            return Err(EsError::parsing(format!(
                "[multi_match] query does not support type [{other}]"
            )))
        }
    };
    Ok(boosted(q, boost_of(params)?))
}

/// `cross_fields`: each term must match in some field (dis-max over fields per term).
fn cross_fields(
    ctx: &QueryCtx,
    fields: &[(String, f32)],
    value: &Value,
    opts: &MatchOpts,
    tie: f32,
) -> Result<Q, EsError> {
    let text = text_of(value, "multi_match")?;
    let mut per_term: BTreeMap<usize, Vec<Q>> = BTreeMap::new();
    for (path, boost) in fields {
        match term_level::target(ctx, path)? {
            Target::Text { info, slot } => {
                let space = TermSpace::Slot(slot);
                for (i, (_, terms)) in by_position(analyze(ctx, info, &text, opts, false)?)
                    .into_iter()
                    .enumerate()
                {
                    for t in terms {
                        per_term
                            .entry(i)
                            .or_default()
                            .push(boosted(term_query(ctx, path, &space, &t, opts)?, *boost));
                    }
                }
            }
            _ => {
                let q = match_field(
                    ctx,
                    path,
                    value,
                    &MatchOpts {
                        lenient: true,
                        ..opts.clone()
                    },
                )?;
                per_term.entry(0).or_default().push(boosted(q, *boost));
            }
        }
    }
    let n = per_term.len();
    if n == 0 {
        return Ok(zero_terms(opts));
    }
    let occur = if opts.and { Occur::Must } else { Occur::Should };
    let subs: Vec<(Occur, Q)> = per_term
        .into_values()
        .map(|qs| {
            (
                occur,
                Box::new(DisjunctionMaxQuery::with_tie_breaker(qs, tie)) as Q,
            )
        })
        .collect();
    let msm = match (&opts.minimum_should_match, opts.and) {
        (_, true) => 0,
        (Some(spec), false) => minimum_should_match(spec, n)?.max(1),
        (None, false) => 1,
    };
    Ok(Box::new(BooleanQuery::with_minimum_required_clauses(
        subs, msm,
    )))
}

/// `query_string` / `simple_query_string`: terms, quoted phrases, `+`/`-` and trailing `*`
/// over the given (or default) fields; the rest of the Lucene syntax is refused.
pub fn query_string(ctx: &QueryCtx, kind: &str, body: &Value) -> Result<Q, EsError> {
    let params = body
        .as_object()
        .ok_or_else(|| EsError::parsing(format!("[{kind}] query malformed")))?;
    check_params(
        kind,
        params,
        &[
            "query",
            "fields",
            "default_field",
            "default_operator",
            "analyzer",
            "lenient",
            "flags",
            "minimum_should_match",
            "analyze_wildcard",
            "fuzziness",
        ],
    )?;
    let text = params
        .get("query")
        .and_then(Value::as_str)
        .ok_or_else(|| EsError::parsing(format!("[{kind}] requires 'query' field")))?;
    let mut specs = string_list(params.get("fields"));
    if specs.is_empty() {
        specs = match params.get("default_field").and_then(Value::as_str) {
            Some(f) => vec![f.to_string()],
            None => default_fields(ctx),
        };
    }
    let fields = resolve_fields(ctx, &specs)?;
    let and = params
        .get("default_operator")
        .and_then(Value::as_str)
        .is_some_and(|o| o.eq_ignore_ascii_case("and"));
    let opts = MatchOpts {
        analyzer: params
            .get("analyzer")
            .and_then(Value::as_str)
            .map(String::from),
        lenient: true,
        ..MatchOpts::default()
    };
    let tokens = split_query(text);
    let lucene = kind == "query_string";
    // Lucene's boolean keywords (query_string only): `a AND b` requires both, `NOT a` excludes.
    let and = and || (lucene && tokens.iter().any(|t| t == "AND"));
    let mut clauses: Vec<(Occur, Q)> = Vec::new();
    let mut negate_next = false;
    for raw in &tokens {
        if lucene && (raw == "AND" || raw == "OR" || raw == "&&" || raw == "||") {
            continue;
        }
        if lucene && (raw == "NOT" || raw == "!") {
            negate_next = true;
            continue;
        }
        let (mut occur, term) = if let Some(t) = raw.strip_prefix('+') {
            (Occur::Must, t)
        } else if let Some(t) = raw.strip_prefix('-') {
            (Occur::MustNot, t)
        } else {
            (if and { Occur::Must } else { Occur::Should }, raw.as_str())
        };
        if std::mem::take(&mut negate_next) {
            occur = Occur::MustNot;
        }
        if term.is_empty() {
            continue;
        }
        let unquoted_colon = term.find(':').filter(|i| !term[..*i].contains('"'));
        let (targets, term): (Vec<(String, f32)>, &str) = match unquoted_colon {
            Some(i) if lucene => {
                let field = &term[..i];
                (resolve_fields(ctx, &[field.to_string()])?, &term[i + 1..])
            }
            _ => (fields.clone(), term),
        };
        if lucene
            && (term.starts_with('(')
                || term.starts_with('[')
                || term.starts_with('{')
                || term.contains('~')
                || term.contains('^'))
        {
            return Err(EsError::unsupported(format!(
                "the query_string syntax of [{text}] (vers search reads terms, field:terms, \"phrases\", AND, OR, NOT, +, - and trailing *)"
            )));
        }
        let per_field: Vec<Q> = targets
            .iter()
            .map(|(path, boost)| {
                let q = if let Some(phrase) =
                    term.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
                {
                    phrase_field(ctx, path, &Value::String(phrase.to_string()), &opts, false)?
                } else if term == "*" {
                    Box::new(AllQuery)
                } else if let Some(prefix) = term.strip_suffix('*') {
                    phrase_field(ctx, path, &Value::String(prefix.to_string()), &opts, true)?
                } else {
                    match_field(ctx, path, &Value::String(term.to_string()), &opts)?
                };
                Ok(boosted(q, *boost))
            })
            .collect::<Result<_, EsError>>()?;
        if per_field.is_empty() {
            clauses.push((occur, Box::new(EmptyQuery)));
        } else {
            clauses.push((occur, Box::new(DisjunctionMaxQuery::new(per_field))));
        }
    }
    if clauses.is_empty() {
        return Ok(Box::new(EmptyQuery));
    }
    if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
        clauses.push((Occur::Must, Box::new(AllQuery)));
    }
    let has_required = clauses.iter().any(|(o, _)| *o == Occur::Must);
    let msm = usize::from(!has_required && clauses.iter().any(|(o, _)| *o == Occur::Should));
    Ok(boosted(
        Box::new(BooleanQuery::with_minimum_required_clauses(clauses, msm)),
        boost_of(params)?,
    ))
}

/// Splits a query string into terms, keeping quoted phrases (with their quotes) whole.
fn split_query(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                current.push(c);
                quoted = !quoted;
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_split_on_space_outside_quotes() {
        assert_eq!(
            split_query("red \"running shoes\" -cheap sh*"),
            ["red", "\"running shoes\"", "-cheap", "sh*"]
        );
    }
}
