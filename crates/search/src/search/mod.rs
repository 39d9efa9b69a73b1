//! Running searches: a `_search` request over one or more indices (query, post filter,
//! paging, sorting, `search_after`, source filtering, highlighting, `fields`, total hits
//! and aggregations), `_count`, and the ids a `_delete_by_query` deletes.

pub mod aggs;
mod highlight;
pub mod sort;
pub mod source;
mod suggest;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::intermediate_agg_result::IntermediateAggregationResults;
use tantivy::aggregation::{
    AggContextParams, AggregationLimitsGuard, DistributedAggregationCollector,
};
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query};
use tantivy::tokenizer::TokenizerManager;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentOrdinal, SegmentReader, TantivyDocument};

use crate::error::EsError;
use crate::flavor::Flavor;
use crate::query::{compile, QueryCtx, Q};
use crate::store::index::SearchIndex;
use crate::store::meta::IndexState;
use highlight::Highlight;
use sort::{ColumnReader, SortBy, SortKey, SortValue};
use source::{values_at, SourceFilter};

/// Largest `from + size` (`index.max_result_window`).
const MAX_RESULT_WINDOW: usize = 10_000;

/// How many hits to count exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackTotal {
    /// Up to this many, then `gte`.
    UpTo(u64),
    /// All.
    All,
    /// No `total` in the response.
    Off,
}

/// A parsed `_search` request.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// The query (`match_all` when absent).
    pub query: Value,
    /// `post_filter`.
    pub post_filter: Option<Value>,
    /// `from`.
    pub from: usize,
    /// `size`.
    pub size: usize,
    /// `sort` as given in the body.
    pub sort: Option<Value>,
    /// `sort` as given in the URL.
    pub sort_param: Option<String>,
    /// `_source` filtering.
    pub source: SourceFilter,
    /// `aggs`.
    pub aggs: Option<Value>,
    /// `track_total_hits`.
    pub track_total: TrackTotal,
    /// `highlight`.
    pub highlight: Option<Value>,
    /// `search_after`.
    pub search_after: Option<Vec<Value>>,
    /// `min_score`.
    pub min_score: Option<f32>,
    /// `track_scores`.
    pub track_scores: bool,
    /// `version`.
    pub version: bool,
    /// `seq_no_primary_term`.
    pub seq_no_primary_term: bool,
    /// `fields` / `docvalue_fields` patterns.
    pub fields: Vec<String>,
    /// `rest_total_hits_as_int`.
    pub total_as_int: bool,
    /// `suggest`.
    pub suggest: Option<Value>,
}

fn usize_value(v: &Value, key: &str) -> Result<usize, EsError> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .map(|n| n as usize)
        .ok_or_else(|| {
            EsError::parsing(format!("[{key}] must be a non-negative number, got [{v}]"))
        })
}

fn field_patterns(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("field").and_then(Value::as_str).map(String::from),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl SearchRequest {
    /// Parses a `_search` body and its URL parameters.
    pub fn parse(
        body: Option<&Value>,
        params: &BTreeMap<String, String>,
    ) -> Result<SearchRequest, EsError> {
        let mut req = SearchRequest {
            query: json!({"match_all": {}}),
            post_filter: None,
            from: 0,
            size: 10,
            sort: None,
            sort_param: None,
            source: SourceFilter::default(),
            aggs: None,
            track_total: TrackTotal::UpTo(10_000),
            highlight: None,
            search_after: None,
            min_score: None,
            track_scores: false,
            version: false,
            seq_no_primary_term: false,
            fields: Vec::new(),
            total_as_int: params
                .get("rest_total_hits_as_int")
                .is_some_and(|v| v == "true"),
            suggest: None,
        };
        if let Some(body) = body {
            let obj = body
                .as_object()
                .ok_or_else(|| EsError::parsing("request body must be an object"))?;
            for (k, v) in obj {
                match k.as_str() {
                    "query" => req.query = v.clone(),
                    "post_filter" => req.post_filter = Some(v.clone()),
                    "from" => req.from = usize_value(v, "from")?,
                    "size" => req.size = usize_value(v, "size")?,
                    "sort" => req.sort = Some(v.clone()),
                    "_source" => req.source = SourceFilter::from_body(v)?,
                    "aggs" | "aggregations" => req.aggs = Some(v.clone()),
                    "track_total_hits" => req.track_total = track_total(v)?,
                    "highlight" => req.highlight = Some(v.clone()),
                    "search_after" => {
                        req.search_after =
                            Some(v.as_array().cloned().ok_or_else(|| {
                                EsError::parsing("[search_after] must be an array")
                            })?)
                    }
                    "min_score" => req.min_score = v.as_f64().map(|f| f as f32),
                    "track_scores" => req.track_scores = v.as_bool().unwrap_or(false),
                    "version" => req.version = v.as_bool().unwrap_or(false),
                    "seq_no_primary_term" => req.seq_no_primary_term = v.as_bool().unwrap_or(false),
                    "fields" | "docvalue_fields" => req.fields.extend(field_patterns(v)),
                    "timeout" | "terminate_after" | "explain" | "profile" | "stats"
                    | "indices_boost" => {
                        if k == "explain" && v.as_bool() == Some(true) {
                            return Err(EsError::unsupported("explain"));
                        }
                        if k == "profile" && v.as_bool() == Some(true) {
                            return Err(EsError::unsupported("profile"));
                        }
                    }
                    "stored_fields" => {
                        if v.as_str() == Some("_none_") {
                            req.source.disabled = true;
                        } else {
                            return Err(EsError::unsupported("stored_fields other than _none_"));
                        }
                    }
                    "suggest" => req.suggest = Some(v.clone()),
                    "collapse" | "rescore" | "script_fields" | "pit" | "runtime_mappings"
                    | "knn" | "rank" | "slice" => {
                        return Err(EsError::unsupported(format!("[{k}] in a search request")))
                    }
                    other => {
                        return Err(EsError::parsing(format!(
                            "Unknown key for a START_OBJECT in [{other}]."
                        )))
                    }
                }
            }
        }
        if let Some(q) = params.get("q") {
            req.query = json!({"query_string": {"query": q}});
        }
        if let Some(f) = params.get("from") {
            req.from = usize_value(&json!(f), "from")?;
        }
        if let Some(s) = params.get("size") {
            req.size = usize_value(&json!(s), "size")?;
        }
        if let Some(s) = params.get("sort") {
            req.sort_param = Some(s.clone());
        }
        if let Some(t) = params.get("track_total_hits") {
            req.track_total = track_total(&match t.as_str() {
                "true" => json!(true),
                "false" => json!(false),
                n => json!(n.parse::<u64>().unwrap_or(10_000)),
            })?;
        }
        req.source.apply_params(
            params.get("_source").map(String::as_str),
            params.get("_source_includes").map(String::as_str),
            params.get("_source_excludes").map(String::as_str),
        );
        if req.from + req.size > MAX_RESULT_WINDOW {
            return Err(EsError::new(400, "search_phase_execution_exception", "all shards failed")
                .with("phase", "query")
                .caused_by(EsError::illegal_argument(format!(
                    "Result window is too large, from + size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.",
                    req.from + req.size
                ))));
        }
        Ok(req)
    }
}

fn track_total(v: &Value) -> Result<TrackTotal, EsError> {
    match v {
        Value::Bool(true) => Ok(TrackTotal::All),
        Value::Bool(false) => Ok(TrackTotal::Off),
        Value::Number(n) => Ok(TrackTotal::UpTo(n.as_u64().unwrap_or(10_000))),
        other => Err(EsError::parsing(format!(
            "[track_total_hits] must be a boolean or a number, got [{other}]"
        ))),
    }
}

/// One index being searched, with a consistent view of it.
pub struct Target {
    /// The index.
    pub index: Arc<SearchIndex>,
    /// Its metadata at the start of the search.
    pub state: Arc<IndexState>,
    /// Its searcher at the start of the search.
    pub searcher: Searcher,
}

impl Target {
    /// A view of `index` now.
    pub fn new(index: Arc<SearchIndex>) -> Target {
        Target {
            state: index.state(),
            searcher: index.searcher(),
            index,
        }
    }

    fn ctx(&self, now: i64) -> QueryCtx<'_> {
        QueryCtx {
            index_name: &self.index.name,
            state: &self.state,
            fields: &self.index.fields,
            searcher: &self.searcher,
            now_millis: now,
            matched_terms: RefCell::new(BTreeMap::new()),
        }
    }
}

/// Collects every matching document with its score.
struct AllScored;

struct AllScoredSegment {
    ord: SegmentOrdinal,
    hits: Vec<(Score, DocAddress)>,
}

impl Collector for AllScored {
    type Fruit = Vec<(Score, DocAddress)>;
    type Child = AllScoredSegment;

    fn for_segment(
        &self,
        ord: SegmentOrdinal,
        _: &SegmentReader,
    ) -> tantivy::Result<AllScoredSegment> {
        Ok(AllScoredSegment {
            ord,
            hits: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(Score, DocAddress)>>) -> tantivy::Result<Self::Fruit> {
        Ok(fruits.concat())
    }
}

impl SegmentCollector for AllScoredSegment {
    type Fruit = Vec<(Score, DocAddress)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.hits.push((score, DocAddress::new(self.ord, doc)));
    }

    fn harvest(self) -> Self::Fruit {
        self.hits
    }
}

struct Hit {
    target: usize,
    addr: DocAddress,
    score: Score,
    sort: Vec<SortValue>,
}

fn filtered(q: Q, filter: Option<Q>) -> Q {
    match filter {
        None => q,
        Some(f) => Box::new(BooleanQuery::new(vec![
            (Occur::Must, q),
            (Occur::Must, Box::new(ConstScoreQuery::new(f, 0.0))),
        ])),
    }
}

fn agg_context() -> AggContextParams {
    AggContextParams::new(
        AggregationLimitsGuard::default(),
        TokenizerManager::default(),
    )
}

fn collect_aggs(
    searcher: &Searcher,
    q: &dyn Query,
    native: &Aggregations,
) -> Result<IntermediateAggregationResults, EsError> {
    let collector = DistributedAggregationCollector::from_aggs(native.clone(), agg_context());
    searcher.search(q, &collector).map_err(agg_error)
}

fn agg_error(e: tantivy::TantivyError) -> EsError {
    match e {
        tantivy::TantivyError::AggregationError(a) => {
            EsError::illegal_argument(format!("aggregation: {a}"))
        }
        tantivy::TantivyError::InvalidArgument(a) => {
            EsError::illegal_argument(format!("aggregation: {a}"))
        }
        other => EsError::from(other),
    }
}

fn native_aggs(native: &Map<String, Value>) -> Result<Aggregations, EsError> {
    serde_json::from_value(Value::Object(native.clone()))
        .map_err(|e| EsError::parsing(format!("aggregation request: {e}")))
}

fn final_aggs(
    merged: Option<IntermediateAggregationResults>,
    native: &Aggregations,
) -> Result<Map<String, Value>, EsError> {
    let merged = merged.unwrap_or_default();
    let results = merged
        .into_final_result(native.clone(), AggregationLimitsGuard::default())
        .map_err(agg_error)?;
    match serde_json::to_value(results) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Ok(Map::new()),
        Err(e) => Err(EsError::internal(format!("aggregation results: {e}"))),
    }
}

fn merge(
    into: &mut Option<IntermediateAggregationResults>,
    part: IntermediateAggregationResults,
) -> Result<(), EsError> {
    match into {
        None => *into = Some(part),
        Some(acc) => acc.merge_fruits(part).map_err(agg_error)?,
    }
    Ok(())
}

/// Runs the aggregations of `req` over `targets` with the compiled main queries `queries`.
fn run_aggs(targets: &[Target], queries: &[Q], aggs: &Value, now: i64) -> Result<Value, EsError> {
    let translator = aggs::Translator {
        mappings: targets.iter().map(|t| &t.state.mapping).collect(),
        searchers: targets.iter().map(|t| &t.searcher).collect(),
    };
    let (native_json, plans) = translator.translate(aggs, true)?;
    let native = native_aggs(&native_json)?;
    let mut merged = None;
    if !native.is_empty() {
        for (t, q) in targets.iter().zip(queries) {
            merge(&mut merged, collect_aggs(&t.searcher, q.as_ref(), &native)?)?;
        }
    }
    let mut results = final_aggs(merged, &native)?;
    let mut out = Map::new();
    for plan in &plans {
        let value = match &plan.kind {
            aggs::Kind::Separate { which, sub_native } => {
                separate_agg(targets, queries, plan, which, sub_native, now)?
            }
            _ => aggs::finish(plan, results.remove(&plan.name)),
        };
        out.insert(plan.name.clone(), value);
    }
    Ok(Value::Object(out))
}

fn separate_agg(
    targets: &[Target],
    queries: &[Q],
    plan: &aggs::Plan,
    which: &aggs::Separate,
    sub_native: &Map<String, Value>,
    now: i64,
) -> Result<Value, EsError> {
    let sub = native_aggs(sub_native)?;
    let bucket = |make: &dyn Fn(&Target, &Q) -> Result<Q, EsError>| -> Result<Value, EsError> {
        let mut count = 0u64;
        let mut merged = None;
        for (t, q) in targets.iter().zip(queries) {
            let q2 = make(t, q)?;
            count += t.searcher.search(q2.as_ref(), &Count)? as u64;
            if !sub.is_empty() {
                merge(&mut merged, collect_aggs(&t.searcher, q2.as_ref(), &sub)?)?;
            }
        }
        let mut holder = final_aggs(merged, &sub)?;
        holder.insert("doc_count".into(), json!(count));
        let mut holder = Value::Object(holder);
        aggs::finish_subs(&plan.subs, &mut holder);
        Ok(holder)
    };
    let with_filter = |filter: &Value| {
        let filter = filter.clone();
        move |t: &Target, q: &Q| -> Result<Q, EsError> {
            let f = compile(&t.ctx(now), &filter)?;
            Ok(filtered(q.box_clone(), Some(f)))
        }
    };
    let mut result = match which {
        aggs::Separate::Filter(f) => bucket(&with_filter(f))?,
        aggs::Separate::Global => bucket(&|_t: &Target, _q: &Q| Ok(Box::new(AllQuery) as Q))?,
        aggs::Separate::Missing(path) => bucket(&|t: &Target, q: &Q| {
            let exists = compile(&t.ctx(now), &json!({"exists": {"field": path}}))?;
            Ok(Box::new(BooleanQuery::new(vec![
                (Occur::Must, q.box_clone()),
                (Occur::MustNot, exists),
            ])) as Q)
        })?,
        aggs::Separate::Filters {
            filters,
            keyed,
            other_bucket_key,
        } => {
            let mut named = Vec::new();
            for (key, f) in filters {
                named.push((key.clone(), bucket(&with_filter(f))?));
            }
            if let Some(other) = other_bucket_key {
                let all: Vec<Value> = filters.iter().map(|(_, f)| f.clone()).collect();
                let none = json!({"bool": {"must_not": all}});
                named.push((other.clone(), bucket(&with_filter(&none))?));
            }
            if *keyed {
                json!({"buckets": Value::Object(named.into_iter().collect())})
            } else {
                json!({"buckets": named.into_iter().map(|(_, v)| v).collect::<Vec<_>>()})
            }
        }
    };
    if let (Some(meta), Some(o)) = (&plan.meta, result.as_object_mut()) {
        o.insert("meta".into(), meta.clone());
    }
    Ok(result)
}

fn sort_keys(req: &SearchRequest, targets: &[Target]) -> Result<Vec<SortKey>, EsError> {
    let mappings: Vec<&crate::mapping::Mapping> =
        targets.iter().map(|t| &t.state.mapping).collect();
    match (&req.sort, &req.sort_param) {
        (_, Some(p)) => sort::parse_param(p, &mappings),
        (Some(s), None) => sort::parse(s, &mappings),
        (None, None) => Ok(Vec::new()),
    }
}

/// Runs a `_search` over `targets`.
pub fn search(targets: &[Target], req: &SearchRequest, flavor: Flavor) -> Result<Value, EsError> {
    Ok(run(targets, req, flavor, false)?.0)
}

/// The hits of a scroll not yet returned, with what rendering them needs.
pub struct ScrollRest {
    hits: Vec<Hit>,
    req: SearchRequest,
    keys: Vec<SortKey>,
    show_scores: bool,
    highlight: Option<Highlight>,
    terms: Vec<BTreeMap<String, std::collections::BTreeSet<String>>>,
    total: u64,
}

/// Runs the first request of a scroll: the response (first page) and the rest of the hits.
pub fn open_scroll(
    targets: &[Target],
    req: &SearchRequest,
    flavor: Flavor,
) -> Result<(Value, ScrollRest), EsError> {
    let (v, rest) = run(targets, req, flavor, true)?;
    let rest = rest.ok_or_else(|| EsError::internal("scroll without its hits"))?;
    Ok((v, rest))
}

/// The next page of a scroll (empty hits once exhausted).
pub fn scroll_page(
    targets: &[Target],
    rest: &mut ScrollRest,
    flavor: Flavor,
) -> Result<Value, EsError> {
    let started = Instant::now();
    let n = rest.req.size.min(rest.hits.len());
    let page: Vec<Hit> = rest.hits.drain(..n).collect();
    let refs: Vec<&Hit> = page.iter().collect();
    let rendered = render_hits(
        targets,
        &refs,
        &rest.req,
        &rest.keys,
        rest.show_scores,
        rest.highlight.as_ref(),
        &rest.terms,
        flavor,
    )?;
    let max_score = if rest.show_scores {
        page.iter()
            .map(|h| h.score)
            .fold(None, |m: Option<f32>, s| Some(m.map_or(s, |m| m.max(s))))
    } else {
        None
    };
    Ok(json!({
        "took": started.elapsed().as_millis() as u64,
        "timed_out": false,
        "_shards": {"total": targets.len(), "successful": targets.len(), "skipped": 0, "failed": 0},
        "hits": {
            "total": if rest.req.total_as_int { json!(rest.total) } else { json!({"value": rest.total, "relation": "eq"}) },
            "max_score": max_score.map_or(Value::Null, |m| json!(m)),
            "hits": rendered,
        },
    }))
}

#[allow(clippy::too_many_arguments)]
fn render_hits(
    targets: &[Target],
    page: &[&Hit],
    req: &SearchRequest,
    keys: &[SortKey],
    show_scores: bool,
    highlight: Option<&Highlight>,
    terms_per_target: &[BTreeMap<String, std::collections::BTreeSet<String>>],
    flavor: Flavor,
) -> Result<Vec<Value>, EsError> {
    let mut rendered = Vec::with_capacity(page.len());
    for hit in page {
        let t = &targets[hit.target];
        let doc: TantivyDocument = t.searcher.doc(hit.addr)?;
        let stored = t.index.stored_of(&doc);
        let source: Value = serde_json::from_slice(&stored.source).unwrap_or(Value::Null);
        let mut h = Map::new();
        h.insert("_index".into(), json!(t.index.name));
        if flavor.has_types() {
            h.insert("_type".into(), json!("_doc"));
        }
        h.insert("_id".into(), json!(doc_id(&doc, &t.index)));
        if req.version {
            h.insert("_version".into(), json!(stored.stamp.version));
        }
        if req.seq_no_primary_term {
            h.insert("_seq_no".into(), json!(stored.stamp.seq_no));
            h.insert("_primary_term".into(), json!(1));
        }
        h.insert(
            "_score".into(),
            if show_scores {
                json!(hit.score)
            } else {
                Value::Null
            },
        );
        if t.state.mapping.source_enabled {
            if let Some(s) = req.source.apply(&source) {
                h.insert("_source".into(), s);
            }
        }
        if !req.fields.is_empty() {
            let f = fetch_fields(&t.state, &source, &req.fields);
            if !f.is_empty() {
                h.insert("fields".into(), Value::Object(f));
            }
        }
        if let Some(hl) = highlight {
            if let Some(v) = hl.render(&t.state, &source, &terms_per_target[hit.target]) {
                h.insert("highlight".into(), v);
            }
        }
        if !keys.is_empty() {
            h.insert(
                "sort".into(),
                Value::Array(hit.sort.iter().map(SortValue::to_json).collect()),
            );
        }
        rendered.push(Value::Object(h));
    }
    Ok(rendered)
}

fn run(
    targets: &[Target],
    req: &SearchRequest,
    flavor: Flavor,
    scroll: bool,
) -> Result<(Value, Option<ScrollRest>), EsError> {
    let started = Instant::now();
    let now = chrono::Utc::now().timestamp_millis();
    let keys = sort_keys(req, targets)?;
    let highlight = req.highlight.as_ref().map(Highlight::parse).transpose()?;
    let score_only = !scroll
        && sort::is_score_only(&keys)
        && req.search_after.is_none()
        && req.min_score.is_none();
    let window = req.from + req.size;
    let mut queries: Vec<Q> = Vec::new();
    let mut terms_per_target = Vec::new();
    let mut hits: Vec<Hit> = Vec::new();
    let mut total: u64 = 0;
    for (ti, t) in targets.iter().enumerate() {
        let ctx = t.ctx(now);
        let q = compile(&ctx, &req.query)?;
        let pf = req
            .post_filter
            .as_ref()
            .map(|p| compile(&ctx, p))
            .transpose()?;
        let hits_q = filtered(q.box_clone(), pf);
        if score_only {
            total += t.searcher.search(hits_q.as_ref(), &Count)? as u64;
            if window > 0 {
                let top = t.searcher.search(
                    hits_q.as_ref(),
                    &TopDocs::with_limit(window).order_by_score(),
                )?;
                hits.extend(top.into_iter().map(|(score, addr)| Hit {
                    target: ti,
                    addr,
                    score,
                    sort: Vec::new(),
                }));
            }
        } else {
            let all = t.searcher.search(hits_q.as_ref(), &AllScored)?;
            let mut readers: HashMap<(u32, String), ColumnReader> = HashMap::new();
            let after: Option<Vec<SortValue>> = req
                .search_after
                .as_ref()
                .map(|a| a.iter().map(SortValue::from_json).collect());
            if let Some(a) = &after {
                if a.len() != keys.len().max(1) {
                    return Err(EsError::illegal_argument(format!(
                        "search_after has {} value(s) but sort has {}.",
                        a.len(),
                        keys.len()
                    )));
                }
            }
            for (score, addr) in all {
                if req.min_score.is_some_and(|m| score < m) {
                    continue;
                }
                let mut values = Vec::with_capacity(keys.len());
                for key in &keys {
                    values.push(match &key.by {
                        SortBy::Score => SortValue::Num(score as f64),
                        SortBy::Doc => SortValue::Int(
                            ((ti as i64) << 40)
                                | ((addr.segment_ord as i64) << 32)
                                | addr.doc_id as i64,
                        ),
                        SortBy::Field { path, .. } => {
                            let reader = match readers.entry((addr.segment_ord, path.clone())) {
                                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                                std::collections::hash_map::Entry::Vacant(e) => {
                                    e.insert(ColumnReader::open(
                                        t.searcher.segment_reader(addr.segment_ord),
                                        path,
                                    )?)
                                }
                            };
                            reader.sort_value(addr.doc_id, key.desc)
                        }
                    });
                }
                if keys.is_empty() {
                    values.push(SortValue::Num(score as f64));
                }
                if let Some(a) = &after {
                    let effective: Vec<SortKey> = if keys.is_empty() {
                        vec![SortKey {
                            by: SortBy::Score,
                            desc: true,
                            missing_first: false,
                        }]
                    } else {
                        keys.clone()
                    };
                    if sort::compare(&effective, &values, a) != std::cmp::Ordering::Greater {
                        continue;
                    }
                }
                total += 1;
                hits.push(Hit {
                    target: ti,
                    addr,
                    score,
                    sort: values,
                });
            }
        }
        terms_per_target.push(ctx.matched_terms.into_inner());
        queries.push(q);
    }
    if score_only {
        hits.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.target.cmp(&b.target))
                .then(a.addr.cmp(&b.addr))
        });
    } else {
        let effective: Vec<SortKey> = if keys.is_empty() {
            vec![SortKey {
                by: SortBy::Score,
                desc: true,
                missing_first: false,
            }]
        } else {
            keys.clone()
        };
        hits.sort_by(|a, b| {
            sort::compare(&effective, &a.sort, &b.sort)
                .then(a.target.cmp(&b.target))
                .then(a.addr.cmp(&b.addr))
        });
    }
    let by_score = keys.is_empty() || keys[0].by == SortBy::Score;
    let show_scores = by_score || req.track_scores;
    let max_score = if show_scores {
        hits.iter()
            .map(|h| h.score)
            .fold(None, |m: Option<f32>, s| Some(m.map_or(s, |m| m.max(s))))
    } else {
        None
    };
    let skip = if scroll { 0 } else { req.from };
    let page: Vec<&Hit> = hits.iter().skip(skip).take(req.size).collect();
    let rendered = render_hits(
        targets,
        &page,
        req,
        &keys,
        show_scores,
        highlight.as_ref(),
        &terms_per_target,
        flavor,
    )?;
    let shown = page.len();
    let mut hits_obj = Map::new();
    match req.track_total {
        TrackTotal::Off => {}
        _ if req.total_as_int => {
            hits_obj.insert("total".into(), json!(total));
        }
        TrackTotal::All => {
            hits_obj.insert("total".into(), json!({"value": total, "relation": "eq"}));
        }
        TrackTotal::UpTo(limit) => {
            let (value, relation) = if total > limit {
                (limit, "gte")
            } else {
                (total, "eq")
            };
            hits_obj.insert(
                "total".into(),
                json!({"value": value, "relation": relation}),
            );
        }
    }
    hits_obj.insert(
        "max_score".into(),
        max_score.map_or(Value::Null, |m| json!(m)),
    );
    hits_obj.insert("hits".into(), Value::Array(rendered));
    let mut out = Map::new();
    out.insert("took".into(), json!(started.elapsed().as_millis() as u64));
    out.insert("timed_out".into(), json!(false));
    out.insert(
        "_shards".into(),
        json!({"total": targets.len(), "successful": targets.len(), "skipped": 0, "failed": 0}),
    );
    out.insert("hits".into(), Value::Object(hits_obj));
    if let Some(a) = &req.aggs {
        out.insert("aggregations".into(), run_aggs(targets, &queries, a, now)?);
    }
    if let Some(s) = &req.suggest {
        out.insert("suggest".into(), suggest::run(targets, s, flavor)?);
    }
    let rest = scroll.then(|| ScrollRest {
        hits: hits.split_off(shown.min(hits.len())),
        req: req.clone(),
        keys,
        show_scores,
        highlight,
        terms: terms_per_target,
        total,
    });
    Ok((Value::Object(out), rest))
}

fn doc_id(doc: &TantivyDocument, index: &SearchIndex) -> String {
    use tantivy::schema::Value as _;
    doc.get_first(index.fields.id)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

fn fetch_fields(state: &IndexState, source: &Value, patterns: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    for pattern in patterns {
        for f in state.mapping.matching_fields(pattern) {
            let mut src_path = f.path.clone();
            while state
                .mapping
                .field(&src_path)
                .is_some_and(|i| i.is_multi_field)
            {
                match src_path.rfind('.') {
                    Some(i) => src_path.truncate(i),
                    None => break,
                }
            }
            let values: Vec<Value> = values_at(source, &src_path).into_iter().cloned().collect();
            if !values.is_empty() {
                out.insert(f.path.clone(), Value::Array(values));
            }
        }
    }
    out
}

/// Counts the documents of `targets` matching `query` (`match_all` when `None`).
pub fn count(targets: &[Target], query: Option<&Value>) -> Result<u64, EsError> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut total = 0;
    for t in targets {
        let q = match query {
            Some(q) => compile(&t.ctx(now), q)?,
            None => Box::new(AllQuery),
        };
        total += t.searcher.search(q.as_ref(), &Count)? as u64;
    }
    Ok(total)
}

/// The ids of the documents of `target` matching `query`.
pub fn matching_ids(target: &Target, query: &Value) -> Result<Vec<String>, EsError> {
    Ok(matching_docs(target, query)?
        .into_iter()
        .map(|(id, _)| id)
        .collect())
}

/// A document's id and source.
pub type IdAndSource = (String, Arc<[u8]>);

/// The ids and sources of the documents of `target` matching `query`, in index order.
pub fn matching_docs(target: &Target, query: &Value) -> Result<Vec<IdAndSource>, EsError> {
    let now = chrono::Utc::now().timestamp_millis();
    let q = compile(&target.ctx(now), query)?;
    let mut all = target.searcher.search(q.as_ref(), &AllScored)?;
    all.sort_by_key(|(_, addr)| *addr);
    let mut docs = Vec::with_capacity(all.len());
    for (_, addr) in all {
        let doc: TantivyDocument = target.searcher.doc(addr)?;
        docs.push((
            doc_id(&doc, &target.index),
            target.index.stored_of(&doc).source,
        ));
    }
    Ok(docs)
}
