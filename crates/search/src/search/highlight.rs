//! Highlighting: the text of requested fields with the terms the query looked for wrapped in
//! tags, cut into fragments around the matches (a plain highlighter).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::source::values_at;
use crate::error::EsError;
use crate::mapping::{FieldType, Mapping};
use crate::store::meta::IndexState;

/// Options of one highlighted field.
#[derive(Debug, Clone)]
struct FieldOpts {
    pattern: String,
    fragment_size: usize,
    number_of_fragments: usize,
    pre: String,
    post: String,
}

/// A parsed `highlight` request.
#[derive(Debug, Clone)]
pub struct Highlight {
    fields: Vec<FieldOpts>,
    require_field_match: bool,
}

fn usize_of(o: &Map<String, Value>, key: &str, default: usize) -> usize {
    o.get(key)
        .and_then(Value::as_u64)
        .map_or(default, |n| n as usize)
}

fn first_tag(o: &Map<String, Value>, key: &str, default: &str) -> String {
    match o.get(key) {
        Some(Value::Array(items)) => items
            .first()
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => default.to_string(),
    }
}

impl Highlight {
    /// Parses a `highlight` body.
    pub fn parse(v: &Value) -> Result<Highlight, EsError> {
        let o = v
            .as_object()
            .ok_or_else(|| EsError::parsing("[highlight] must be an object"))?;
        let fragment_size = usize_of(o, "fragment_size", 100);
        let number_of_fragments = usize_of(o, "number_of_fragments", 5);
        let pre = first_tag(o, "pre_tags", "<em>");
        let post = first_tag(o, "post_tags", "</em>");
        let entries: Vec<(String, Map<String, Value>)> = match o.get("fields") {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.as_object().cloned().unwrap_or_default()))
                .collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_object().cloned().unwrap_or_default()))
                })
                .collect(),
            _ => return Err(EsError::parsing("[highlight] requires [fields]")),
        };
        let fields = entries
            .into_iter()
            .map(|(pattern, f)| FieldOpts {
                pattern,
                fragment_size: usize_of(&f, "fragment_size", fragment_size),
                number_of_fragments: usize_of(&f, "number_of_fragments", number_of_fragments),
                pre: first_tag(&f, "pre_tags", &pre),
                post: first_tag(&f, "post_tags", &post),
            })
            .collect();
        Ok(Highlight {
            fields,
            require_field_match: o
                .get("require_field_match")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        })
    }

    /// The `highlight` object of a hit, `None` when nothing matched.
    pub fn render(
        &self,
        state: &IndexState,
        source: &Value,
        terms: &BTreeMap<String, BTreeSet<String>>,
    ) -> Option<Value> {
        let mut out = Map::new();
        let all_terms: BTreeSet<String> = terms.values().flatten().cloned().collect();
        for opts in &self.fields {
            for field in matching_text_fields(&state.mapping, &opts.pattern) {
                let wanted = if self.require_field_match {
                    match terms.get(&field) {
                        Some(t) => t,
                        None => continue,
                    }
                } else {
                    &all_terms
                };
                let Some(info) = state.mapping.field(&field) else {
                    continue;
                };
                let Ok(analyzer) = state.analyzers.get(&info.analyzer) else {
                    continue;
                };
                let source_path = field_source_path(&state.mapping, &field);
                let mut fragments = Vec::new();
                for value in values_at(source, &source_path) {
                    let text = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let spans: Vec<(usize, usize)> = analyzer
                        .analyze(&text)
                        .into_iter()
                        .filter(|t| matches_any(&t.text, wanted))
                        .map(|t| (t.offset_from, t.offset_to))
                        .collect();
                    if !spans.is_empty() {
                        fragments.extend(fragment(&text, &spans, opts));
                    }
                }
                if !fragments.is_empty() {
                    let limit = if opts.number_of_fragments == 0 {
                        usize::MAX
                    } else {
                        opts.number_of_fragments
                    };
                    fragments.truncate(limit);
                    out.insert(
                        field,
                        Value::Array(fragments.into_iter().map(Value::String).collect()),
                    );
                }
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }
}

fn matches_any(token: &str, wanted: &BTreeSet<String>) -> bool {
    wanted.iter().any(|w| match w.strip_prefix("prefix:") {
        Some(p) => token.starts_with(p),
        None => w == token,
    })
}

fn matching_text_fields(mapping: &Mapping, pattern: &str) -> Vec<String> {
    mapping
        .matching_fields(pattern)
        .into_iter()
        .filter(|f| f.ty == FieldType::Text)
        .map(|f| f.path.clone())
        .collect()
}

/// Where a (multi-)field's text comes from in the source: a multi-field reads its parent.
fn field_source_path(mapping: &Mapping, field: &str) -> String {
    match mapping.field(field) {
        Some(info) if info.is_multi_field => match field.rfind('.') {
            Some(i) => field_source_path(mapping, &field[..i]),
            None => field.to_string(),
        },
        _ => field.to_string(),
    }
}

fn tagged(
    text: &str,
    spans: &[(usize, usize)],
    from: usize,
    to: usize,
    opts: &FieldOpts,
) -> String {
    let mut out = String::new();
    let mut at = from;
    for &(s, e) in spans {
        if s < from || e > to || s < at {
            continue;
        }
        out.push_str(&text[at..s]);
        out.push_str(&opts.pre);
        out.push_str(&text[s..e]);
        out.push_str(&opts.post);
        at = e;
    }
    out.push_str(&text[at..to]);
    out
}

fn fragment(text: &str, spans: &[(usize, usize)], opts: &FieldOpts) -> Vec<String> {
    if opts.number_of_fragments == 0 || text.len() <= opts.fragment_size {
        return vec![tagged(text, spans, 0, text.len(), opts)];
    }
    let mut out = Vec::new();
    let mut covered_to = 0;
    for &(s, _) in spans {
        if s < covered_to {
            continue;
        }
        let mut start = s.saturating_sub(opts.fragment_size / 4);
        while start > 0 && !text.is_char_boundary(start) {
            start -= 1;
        }
        if let Some(space) = text[..start]
            .rfind(char::is_whitespace)
            .filter(|i| start - i < 20)
        {
            start = space + 1;
        }
        let mut end = (start + opts.fragment_size).min(text.len());
        while end < text.len() && !text.is_char_boundary(end) {
            end += 1;
        }
        if let Some(space) = text[end..].find(char::is_whitespace).filter(|i| *i < 20) {
            end += space;
        }
        out.push(tagged(text, spans, start, end, opts).trim().to_string());
        covered_to = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_matched_spans() {
        let opts = FieldOpts {
            pattern: "x".into(),
            fragment_size: 100,
            number_of_fragments: 5,
            pre: "<em>".into(),
            post: "</em>".into(),
        };
        assert_eq!(
            fragment("Trail running shoes", &[(6, 13), (14, 19)], &opts),
            ["Trail <em>running</em> <em>shoes</em>"]
        );
    }
}
