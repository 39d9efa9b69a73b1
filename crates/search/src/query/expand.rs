//! Multi-term queries (prefix, wildcard, regexp, fuzzy) expanded against the term
//! dictionaries of the searched segments into the concrete terms they match.

use std::collections::BTreeMap;

use tantivy::query::FuzzyTermQuery;
use tantivy::schema::Field;
use tantivy::{Searcher, Term};

use crate::error::EsError;

/// Where a field's terms live: a text slot, or a path of the columnar JSON field.
#[derive(Debug, Clone)]
pub enum TermSpace {
    /// A text slot (terms are the tokens).
    Slot(Field),
    /// A keyword path of the JSON field (terms are the values).
    Json {
        /// The JSON field.
        field: Field,
        /// The path.
        path: String,
    },
}

impl TermSpace {
    /// The term of `text` in this space.
    pub fn term(&self, text: &str) -> Term {
        match self {
            TermSpace::Slot(field) => Term::from_field_text(*field, text),
            TermSpace::Json { field, path } => {
                let mut t = Term::from_field_json_path(*field, path, true);
                t.append_type_and_str(text);
                t
            }
        }
    }

    fn field(&self) -> Field {
        match self {
            TermSpace::Slot(f) => *f,
            TermSpace::Json { field, .. } => *field,
        }
    }

    /// The dictionary key prefix of all terms of this space.
    fn key_prefix(&self) -> Vec<u8> {
        match self {
            TermSpace::Slot(_) => Vec::new(),
            TermSpace::Json { .. } => self.term("").serialized_value_bytes().to_vec(),
        }
    }
}

/// Largest number of distinct terms a prefix, wildcard or regexp query may expand to.
const MAX_EXPANSION: usize = 65_536;

/// The distinct terms of `space` that start with `literal_prefix` and satisfy `keep`.
pub fn expand(
    searcher: &Searcher,
    space: &TermSpace,
    literal_prefix: &str,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<String>, EsError> {
    let base = space.key_prefix();
    let mut start = base.clone();
    start.extend_from_slice(literal_prefix.as_bytes());
    let mut found = std::collections::BTreeSet::new();
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(space.field())?;
        let mut stream = inverted
            .terms()
            .range()
            .ge(&start)
            .into_stream()
            .map_err(|e| EsError::internal(format!("term dictionary: {e}")))?;
        while stream.advance() {
            let key = stream.key();
            if !key.starts_with(&start) {
                break;
            }
            let Ok(text) = std::str::from_utf8(&key[base.len()..]) else {
                continue;
            };
            if keep(text) {
                found.insert(text.to_string());
                if found.len() > MAX_EXPANSION {
                    return Err(EsError::new(
                        400,
                        "too_many_clauses",
                        format!("maxClauseCount is set to {MAX_EXPANSION}"),
                    ));
                }
            }
        }
    }
    Ok(found.into_iter().collect())
}

/// The terms of a text slot within `distance` edits of `text` (transpositions count one),
/// sharing its first `prefix_length` characters, at most `max_expansions`, closest first;
/// each with Lucene's similarity boost `1 - distance / min(len)`.
pub fn fuzzy(
    searcher: &Searcher,
    space: &TermSpace,
    text: &str,
    distance: u8,
    prefix_length: usize,
    max_expansions: usize,
    transpositions: bool,
) -> Result<Vec<(String, f32)>, EsError> {
    if distance == 0 {
        return Ok(vec![(text.to_string(), 1.0)]);
    }
    let prefix: String = text.chars().take(prefix_length).collect();
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    let query_len = text.chars().count();
    match space {
        TermSpace::Slot(field) => {
            let dfa = FuzzyTermQuery::new(
                Term::from_field_text(*field, text),
                distance,
                transpositions,
            )
            .automaton()?;
            for segment in searcher.segment_readers() {
                let inverted = segment.inverted_index(*field)?;
                let mut stream = inverted
                    .terms()
                    .search(&dfa)
                    .into_stream()
                    .map_err(|e| EsError::internal(format!("term dictionary: {e}")))?;
                while stream.advance() {
                    if let Ok(t) = std::str::from_utf8(stream.key()) {
                        if t.starts_with(&prefix) {
                            found.insert(t.to_string(), edit_distance(text, t, transpositions));
                        }
                    }
                }
            }
        }
        TermSpace::Json { .. } => {
            let max = distance as usize;
            for t in expand(searcher, space, &prefix, &|t: &str| {
                t.chars().count().abs_diff(query_len) <= max
                    && edit_distance(text, t, transpositions) <= max
            })? {
                let d = edit_distance(text, &t, transpositions);
                found.insert(t, d);
            }
        }
    }
    let mut terms: Vec<(String, usize)> = found.into_iter().collect();
    terms.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    terms.truncate(max_expansions);
    Ok(terms
        .into_iter()
        .map(|(t, d)| {
            let shorter = query_len.min(t.chars().count()).max(1);
            let boost = (1.0 - d as f32 / shorter as f32).max(0.1);
            (t, boost)
        })
        .collect())
}

fn edit_distance(a: &str, b: &str, transpositions: bool) -> usize {
    if transpositions {
        strsim::osa_distance(a, b)
    } else {
        strsim::levenshtein(a, b)
    }
}

/// The fuzziness Elasticsearch's `AUTO` (or `AUTO:low,high`, or a number) allows for a term
/// of `len` characters.
pub fn fuzziness(spec: &serde_json::Value, len: usize) -> Result<u8, EsError> {
    let text = match spec {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        other => {
            return Err(EsError::parsing(format!("invalid fuzziness [{other}]")));
        }
    };
    let bad = || EsError::parsing(format!("failed to parse [{text}] as fuzziness"));
    if let Some(rest) = text.strip_prefix("AUTO") {
        let (low, high) = match rest.strip_prefix(':') {
            Some(bounds) => {
                let (l, h) = bounds.split_once(',').ok_or_else(bad)?;
                (
                    l.trim().parse().map_err(|_| bad())?,
                    h.trim().parse().map_err(|_| bad())?,
                )
            }
            None if rest.is_empty() => (3usize, 6usize),
            None => return Err(bad()),
        };
        return Ok(if len < low {
            0
        } else if len < high {
            1
        } else {
            2
        });
    }
    let n: f64 = text.parse().map_err(|_| bad())?;
    if !(0.0..=2.0).contains(&n) || n.fract() != 0.0 {
        return Err(EsError::illegal_argument(format!(
            "Valid edit distances are [0, 1, 2] but was [{text}]"
        )));
    }
    Ok(n as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn auto_fuzziness_follows_term_length() {
        assert_eq!(fuzziness(&json!("AUTO"), 2).unwrap(), 0);
        assert_eq!(fuzziness(&json!("AUTO"), 4).unwrap(), 1);
        assert_eq!(fuzziness(&json!("AUTO"), 7).unwrap(), 2);
        assert_eq!(fuzziness(&json!("AUTO:2,4"), 3).unwrap(), 1);
        assert_eq!(fuzziness(&json!(1), 10).unwrap(), 1);
        assert_eq!(fuzziness(&json!("2"), 10).unwrap(), 2);
        assert!(fuzziness(&json!(3), 10).is_err());
        assert!(fuzziness(&json!("AUTO:x"), 10).is_err());
    }

    #[test]
    fn transpositions_cost_one() {
        assert_eq!(edit_distance("shoes", "shoes", true), 0);
        assert_eq!(edit_distance("sohes", "shoes", true), 1);
        assert_eq!(edit_distance("sohes", "shoes", false), 2);
    }
}
