//! The completion suggester (`suggest` with `completion` on a `completion` field): inputs
//! starting with the typed prefix (optionally within an edit distance), best weight first,
//! each with its document. The `term` and `phrase` suggesters are refused.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use tantivy::collector::DocSetCollector;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::TantivyDocument;

use super::Target;
use crate::error::EsError;
use crate::flavor::Flavor;
use crate::mapping::FieldType;
use crate::query::TermSpace;
use crate::store::document::split_completion_term;

struct Options {
    field: String,
    size: usize,
    skip_duplicates: bool,
    fuzzy: Option<(u8, usize)>,
}

fn parse_options(name: &str, completion: &Value, prefix_len: usize) -> Result<Options, EsError> {
    let o = completion.as_object().ok_or_else(|| {
        EsError::parsing(format!(
            "[completion] of suggestion [{name}] must be an object"
        ))
    })?;
    let mut opts = Options {
        field: String::new(),
        size: 5,
        skip_duplicates: false,
        fuzzy: None,
    };
    for (k, v) in o {
        match k.as_str() {
            "field" => opts.field = v.as_str().unwrap_or_default().to_string(),
            "size" => opts.size = v.as_u64().unwrap_or(5) as usize,
            "skip_duplicates" => opts.skip_duplicates = v.as_bool().unwrap_or(false),
            "fuzzy" => {
                let spec = match v {
                    Value::Bool(false) => None,
                    Value::Bool(true) => Some(Map::new()),
                    Value::Object(m) => Some(m.clone()),
                    other => {
                        return Err(EsError::parsing(format!(
                            "[fuzzy] must be a boolean or an object, got [{other}]"
                        )))
                    }
                };
                if let Some(m) = spec {
                    let fuzziness = m
                        .get("fuzziness")
                        .cloned()
                        .unwrap_or(Value::String("AUTO".into()));
                    let distance = crate::query::fuzziness(&fuzziness, prefix_len)?;
                    let prefix_length =
                        m.get("prefix_length").and_then(Value::as_u64).unwrap_or(1) as usize;
                    let min_length =
                        m.get("min_length").and_then(Value::as_u64).unwrap_or(3) as usize;
                    if prefix_len >= min_length {
                        opts.fuzzy = Some((distance.max(1), prefix_length));
                    }
                }
            }
            "analyzer" => {}
            "contexts" => return Err(EsError::unsupported("completion contexts")),
            "regex" => return Err(EsError::unsupported("regex completion")),
            other => {
                return Err(EsError::parsing(format!(
                    "[completion] unknown field [{other}]"
                )))
            }
        }
    }
    if opts.field.is_empty() {
        return Err(EsError::illegal_argument(format!(
            "suggestion [{name}] requires a [field]"
        )));
    }
    Ok(opts)
}

/// Whether some prefix of `candidate` is within `distance` edits of `typed`.
fn fuzzy_prefix(candidate: &str, typed: &str, distance: u8) -> bool {
    let chars: Vec<char> = candidate.chars().collect();
    let n = typed.chars().count();
    let d = distance as usize;
    (n.saturating_sub(d)..=(n + d).min(chars.len())).any(|len| {
        let prefix: String = chars[..len].iter().collect();
        strsim::osa_distance(&prefix, typed) <= d
    })
}

struct Found {
    target: usize,
    score: f64,
    text: String,
    id: String,
    source: Value,
}

/// Runs the `suggest` section of a search request over `targets`.
pub fn run(targets: &[Target], suggest: &Value, flavor: Flavor) -> Result<Value, EsError> {
    let obj = suggest
        .as_object()
        .ok_or_else(|| EsError::parsing("[suggest] must be an object"))?;
    let global_text = obj.get("text").and_then(Value::as_str);
    let mut out = Map::new();
    for (name, def) in obj {
        if name == "text" {
            continue;
        }
        let def = def
            .as_object()
            .ok_or_else(|| EsError::parsing(format!("suggestion [{name}] must be an object")))?;
        if def.contains_key("term") || def.contains_key("phrase") {
            return Err(EsError::unsupported("the term and phrase suggesters"));
        }
        let completion = def.get("completion").ok_or_else(|| {
            EsError::parsing(format!(
                "suggestion [{name}] needs a [completion] suggester"
            ))
        })?;
        let typed = def
            .get("prefix")
            .or_else(|| def.get("text"))
            .and_then(Value::as_str)
            .or(global_text)
            .ok_or_else(|| {
                EsError::illegal_argument(format!("suggestion [{name}] requires a [prefix]"))
            })?;
        let opts = parse_options(name, completion, typed.chars().count())?;
        let mut found: Vec<Found> = Vec::new();
        for (ti, t) in targets.iter().enumerate() {
            let Some(info) = t.state.mapping.field(&opts.field) else {
                continue;
            };
            if info.ty != FieldType::Completion {
                return Err(EsError::illegal_argument(format!(
                    "Field [{}] is not a completion suggest field",
                    opts.field
                )));
            }
            let analyzer = t.state.analyzers.get(&info.search_analyzer)?;
            let normalized = analyzer.terms(typed).join(" ");
            let space = TermSpace::Json {
                field: t.index.fields.values,
                path: info.path.clone(),
            };
            let terms = match opts.fuzzy {
                None => crate::query::expand_terms(&t.searcher, &space, &normalized, &|_| true)?,
                Some((distance, prefix_length)) => {
                    let literal: String = normalized.chars().take(prefix_length).collect();
                    let typed_norm = normalized.clone();
                    crate::query::expand_terms(
                        &t.searcher,
                        &space,
                        &literal,
                        &move |term: &str| {
                            split_completion_term(term)
                                .is_some_and(|(n, _, _)| fuzzy_prefix(n, &typed_norm, distance))
                        },
                    )?
                }
            };
            let mut best: HashMap<tantivy::DocAddress, (f64, String)> = HashMap::new();
            for term in terms {
                let Some((_, weight, input)) = split_completion_term(&term) else {
                    continue;
                };
                let q = TermQuery::new(space.term(&term), IndexRecordOption::Basic);
                for addr in t.searcher.search(&q, &DocSetCollector)? {
                    let entry = best
                        .entry(addr)
                        .or_insert((weight as f64, input.to_string()));
                    if (weight as f64) > entry.0 {
                        *entry = (weight as f64, input.to_string());
                    }
                }
            }
            for (addr, (score, text)) in best {
                let doc: TantivyDocument = t.searcher.doc(addr)?;
                let stored = t.index.stored_of(&doc);
                let id = {
                    use tantivy::schema::Value as _;
                    doc.get_first(t.index.fields.id)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string()
                };
                found.push(Found {
                    target: ti,
                    score,
                    text,
                    id,
                    source: serde_json::from_slice(&stored.source).unwrap_or(Value::Null),
                });
            }
        }
        found.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.text.cmp(&b.text))
                .then_with(|| a.id.cmp(&b.id))
        });
        if opts.skip_duplicates {
            let mut seen = std::collections::HashSet::new();
            found.retain(|f| seen.insert(f.text.clone()));
        }
        found.truncate(opts.size);
        let options: Vec<Value> = found
            .into_iter()
            .map(|f| {
                let mut o = Map::new();
                o.insert("text".into(), json!(f.text));
                o.insert("_index".into(), json!(targets[f.target].index.name));
                if flavor.has_types() {
                    o.insert("_type".into(), json!("_doc"));
                }
                o.insert("_id".into(), json!(f.id));
                o.insert("_score".into(), json!(f.score));
                o.insert("_source".into(), f.source);
                Value::Object(o)
            })
            .collect();
        out.insert(
            name.clone(),
            json!([{"text": typed, "offset": 0, "length": typed.chars().count(), "options": options}]),
        );
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzzy_prefixes() {
        assert!(fuzzy_prefix("laptop stand", "lpat", 1) || fuzzy_prefix("laptop stand", "lpat", 2));
        assert!(fuzzy_prefix("laptop stand", "lapt", 1));
        assert!(fuzzy_prefix("laptop stand", "lsptop", 1));
        assert!(!fuzzy_prefix("keyboard", "lap", 1));
    }
}
