//! The analyzers and normalizers of one index: Elasticsearch's built-in ones plus those its
//! `analysis` settings define from tokenizers, token filters and char filters.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Analyzer, CharClass, FilterKind, TokenizerKind, ENGLISH_STOP_WORDS};
use crate::error::EsError;

/// The analyzers and normalizers an index can use, by name.
#[derive(Debug, Clone)]
pub struct Analyzers {
    analyzers: HashMap<String, Analyzer>,
    normalizers: HashMap<String, Analyzer>,
}

fn english_stop() -> FilterKind {
    FilterKind::Stop {
        words: Arc::new(ENGLISH_STOP_WORDS.iter().map(|w| w.to_string()).collect()),
        ignore_case: false,
    }
}

fn standard_tokenizer() -> TokenizerKind {
    TokenizerKind::Standard {
        max_token_length: 255,
    }
}

/// Elasticsearch's built-in analyzers that vers search implements.
fn builtin_analyzer(name: &str) -> Option<Analyzer> {
    Some(match name {
        "standard" => Analyzer::new(standard_tokenizer(), vec![FilterKind::Lowercase]),
        "simple" => Analyzer::new(TokenizerKind::Lowercase, vec![]),
        "whitespace" => Analyzer::new(TokenizerKind::Whitespace, vec![]),
        "keyword" => Analyzer::new(TokenizerKind::Keyword, vec![]),
        "stop" => Analyzer::new(TokenizerKind::Lowercase, vec![english_stop()]),
        "english" => Analyzer::new(
            standard_tokenizer(),
            vec![
                FilterKind::PossessiveEnglish,
                FilterKind::Lowercase,
                english_stop(),
                FilterKind::Stem(frostem::Algorithm::Porter),
            ],
        ),
        _ => return None,
    })
}

fn str_param<'a>(def: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    def.get(key).and_then(Value::as_str)
}

fn usize_param(
    def: &Map<String, Value>,
    key: &str,
    default: usize,
    what: &str,
) -> Result<usize, EsError> {
    match def.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| bad_param(what, key, &n.to_string())),
        Some(Value::String(s)) => s.parse().map_err(|_| bad_param(what, key, s)),
        Some(other) => Err(bad_param(what, key, &other.to_string())),
    }
}

fn bool_param(def: &Map<String, Value>, key: &str) -> bool {
    match def.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

fn bad_param(what: &str, key: &str, value: &str) -> EsError {
    EsError::illegal_argument(format!(
        "[{what}] has an invalid value [{value}] for [{key}]"
    ))
}

/// The names listed under `key` (a string or an array of strings).
fn names(def: &Map<String, Value>, key: &str) -> Vec<String> {
    match def.get(key) {
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

fn stop_words(def: &Map<String, Value>, what: &str) -> Result<Arc<HashSet<String>>, EsError> {
    if def.contains_key("stopwords_path") {
        return Err(EsError::unsupported(format!(
            "[stopwords_path] of [{what}]"
        )));
    }
    let list: Vec<String> = match def.get("stopwords") {
        None => vec!["_english_".into()],
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        Some(other) => return Err(bad_param(what, "stopwords", &other.to_string())),
    };
    let mut words = HashSet::new();
    for w in list {
        match w.as_str() {
            "_english_" => words.extend(ENGLISH_STOP_WORDS.iter().map(|w| w.to_string())),
            "_none_" => {}
            other if other.starts_with('_') && other.ends_with('_') => {
                return Err(EsError::unsupported(format!(
                    "the stop word list [{other}] of [{what}] (only _english_ and _none_ are built in)"
                )))
            }
            other => {
                words.insert(other.to_string());
            }
        }
    }
    Ok(Arc::new(words))
}

fn snowball_language(language: &str) -> Option<frostem::Algorithm> {
    use frostem::Algorithm as A;
    Some(match language.to_ascii_lowercase().as_str() {
        "english" | "porter2" => A::English,
        "porter" => A::Porter,
        "lovins" => A::Lovins,
        "danish" => A::Danish,
        "dutch" => A::Dutch,
        "finnish" => A::Finnish,
        "french" => A::French,
        "german" | "german2" => A::German,
        "hungarian" => A::Hungarian,
        "italian" => A::Italian,
        "norwegian" => A::Norwegian,
        "portuguese" => A::Portuguese,
        "romanian" => A::Romanian,
        "russian" => A::Russian,
        "spanish" => A::Spanish,
        "swedish" => A::Swedish,
        "turkish" => A::Turkish,
        "catalan" => A::Catalan,
        "basque" => A::Basque,
        "irish" => A::Irish,
        "lithuanian" => A::Lithuanian,
        "arabic" => A::Arabic,
        "greek" => A::Greek,
        "armenian" => A::Armenian,
        "estonian" => A::Estonian,
        _ => return None,
    })
}

/// The algorithm of a `stemmer` filter's `language`: Lucene's `english` stemmer is the
/// original Porter algorithm; Snowball languages map to their Snowball stemmers.
fn stemmer_language(language: &str) -> Option<frostem::Algorithm> {
    match language.to_ascii_lowercase().as_str() {
        "english" | "porter" => Some(frostem::Algorithm::Porter),
        "light_english" | "minimal_english" | "kstem" | "lovins" => None,
        other => snowball_language(other),
    }
}

/// Built-in token filters by name.
fn builtin_filter(name: &str) -> Option<FilterKind> {
    Some(match name {
        "lowercase" => FilterKind::Lowercase,
        "uppercase" => FilterKind::Uppercase,
        "asciifolding" => FilterKind::AsciiFolding {
            preserve_original: false,
        },
        "stop" => english_stop(),
        "snowball" => FilterKind::Stem(frostem::Algorithm::English),
        "porter_stem" => FilterKind::Stem(frostem::Algorithm::Porter),
        "stemmer" => FilterKind::Stem(frostem::Algorithm::Porter),
        "trim" => FilterKind::Trim,
        "unique" => FilterKind::Unique {
            only_on_same_position: false,
        },
        "reverse" => FilterKind::Reverse,
        "edge_ngram" => FilterKind::EdgeNgram {
            min_gram: 1,
            max_gram: 2,
            preserve_original: false,
        },
        "ngram" => FilterKind::Ngram {
            min_gram: 1,
            max_gram: 2,
            preserve_original: false,
        },
        "length" => FilterKind::Length {
            min: 0,
            max: usize::MAX,
        },
        "truncate" => FilterKind::Truncate(10),
        _ => return None,
    })
}

/// Built-in tokenizers by name.
fn builtin_tokenizer(name: &str) -> Option<TokenizerKind> {
    Some(match name {
        "standard" => standard_tokenizer(),
        "whitespace" => TokenizerKind::Whitespace,
        "keyword" => TokenizerKind::Keyword,
        "letter" => TokenizerKind::Letter,
        "lowercase" => TokenizerKind::Lowercase,
        "edge_ngram" => TokenizerKind::EdgeNgram {
            min_gram: 1,
            max_gram: 2,
            token_chars: vec![],
        },
        "ngram" => TokenizerKind::Ngram {
            min_gram: 1,
            max_gram: 2,
            token_chars: vec![],
        },
        _ => return None,
    })
}

fn synonyms(def: &Map<String, Value>, name: &str) -> Result<FilterKind, EsError> {
    if def.contains_key("synonyms_path") || def.contains_key("synonyms_set") {
        return Err(EsError::unsupported(format!(
            "[synonyms_path]/[synonyms_set] of synonym filter [{name}] (list the synonyms inline)"
        )));
    }
    let rules = names(def, "synonyms");
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let words = |side: &str| -> Result<Vec<String>, EsError> {
        let words: Vec<String> = side
            .split(',')
            .map(|w| w.trim().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        if let Some(multi) = words.iter().find(|w| w.contains(char::is_whitespace)) {
            return Err(EsError::unsupported(format!(
                "the multi-word synonym [{multi}] of filter [{name}] (single words only)"
            )));
        }
        Ok(words)
    };
    for rule in rules {
        if let Some((left, right)) = rule.split_once("=>") {
            let targets = words(right)?;
            for w in words(left)? {
                map.entry(w).or_default().extend(targets.iter().cloned());
            }
        } else {
            let group = words(&rule)?;
            for w in &group {
                let entry = map.entry(w.clone()).or_default();
                for g in &group {
                    if !entry.contains(g) {
                        entry.push(g.clone());
                    }
                }
            }
        }
    }
    Ok(FilterKind::Synonyms(Arc::new(map)))
}

struct Builder<'a> {
    tokenizers: &'a Map<String, Value>,
    filters: &'a Map<String, Value>,
    char_filters: &'a Map<String, Value>,
    max_ngram_diff: usize,
}

fn ngram_diff_check(min: usize, max: usize, limit: usize, what: &str) -> Result<(), EsError> {
    if max < min {
        return Err(EsError::illegal_argument(format!(
            "[{what}]: max_gram [{max}] is less than min_gram [{min}]"
        )));
    }
    if max - min > limit {
        return Err(EsError::illegal_argument(format!(
            "The difference between max_gram and min_gram in NGram Tokenizer must be less than or equal to: [{limit}] but was [{}]. This limit can be set by changing the [index.max_ngram_diff] index level setting.",
            max - min
        )));
    }
    Ok(())
}

impl Builder<'_> {
    fn tokenizer(&self, name: &str) -> Result<TokenizerKind, EsError> {
        let Some(def) = self.tokenizers.get(name) else {
            return builtin_tokenizer(name).ok_or_else(|| {
                if matches!(
                    name,
                    "classic"
                        | "uax_url_email"
                        | "pattern"
                        | "path_hierarchy"
                        | "char_group"
                        | "simple_pattern"
                        | "simple_pattern_split"
                        | "thai"
                        | "icu_tokenizer"
                ) {
                    EsError::unsupported(format!("the [{name}] tokenizer"))
                } else {
                    EsError::illegal_argument(format!("failed to find tokenizer under [{name}]"))
                }
            });
        };
        let def = def.as_object().ok_or_else(|| {
            EsError::illegal_argument(format!("tokenizer [{name}] must be an object"))
        })?;
        let kind = str_param(def, "type").ok_or_else(|| {
            EsError::illegal_argument(format!("tokenizer [{name}] must specify a [type]"))
        })?;
        let token_chars = || -> Result<Vec<CharClass>, EsError> {
            names(def, "token_chars")
                .iter()
                .map(|c| {
                    CharClass::parse(c).ok_or_else(|| {
                        EsError::illegal_argument(format!("Unknown token type: '{c}', must be one of [letter, digit, whitespace, punctuation, symbol]"))
                    })
                })
                .collect()
        };
        Ok(match kind {
            "standard" => TokenizerKind::Standard {
                max_token_length: usize_param(def, "max_token_length", 255, name)?,
            },
            "edge_ngram" | "edgeNGram" => {
                let min_gram = usize_param(def, "min_gram", 1, name)?;
                let max_gram = usize_param(def, "max_gram", 2, name)?;
                if max_gram < min_gram {
                    return Err(EsError::illegal_argument(format!(
                        "[{name}]: max_gram [{max_gram}] is less than min_gram [{min_gram}]"
                    )));
                }
                TokenizerKind::EdgeNgram {
                    min_gram,
                    max_gram,
                    token_chars: token_chars()?,
                }
            }
            "ngram" | "nGram" => {
                let min_gram = usize_param(def, "min_gram", 1, name)?;
                let max_gram = usize_param(def, "max_gram", 2, name)?;
                ngram_diff_check(min_gram, max_gram, self.max_ngram_diff, name)?;
                TokenizerKind::Ngram {
                    min_gram,
                    max_gram,
                    token_chars: token_chars()?,
                }
            }
            other => builtin_tokenizer(other)
                .filter(|_| def.len() == 1)
                .ok_or_else(|| EsError::unsupported(format!("the [{other}] tokenizer [{name}]")))?,
        })
    }

    fn filter(&self, name: &str) -> Result<FilterKind, EsError> {
        let Some(def) = self.filters.get(name) else {
            return builtin_filter(name).ok_or_else(|| {
                if matches!(
                    name,
                    "kstem"
                        | "word_delimiter"
                        | "word_delimiter_graph"
                        | "shingle"
                        | "synonym"
                        | "synonym_graph"
                        | "elision"
                        | "apostrophe"
                        | "cjk_width"
                        | "cjk_bigram"
                        | "decimal_digit"
                        | "delimited_payload"
                        | "keyword_marker"
                        | "keyword_repeat"
                        | "hunspell"
                        | "phonetic"
                        | "icu_folding"
                        | "icu_normalizer"
                        | "classic"
                        | "common_grams"
                ) {
                    EsError::unsupported(format!("the [{name}] token filter"))
                } else {
                    EsError::illegal_argument(format!("failed to find filter under name [{name}]"))
                }
            });
        };
        let def = def.as_object().ok_or_else(|| {
            EsError::illegal_argument(format!("filter [{name}] must be an object"))
        })?;
        let kind = str_param(def, "type").ok_or_else(|| {
            EsError::illegal_argument(format!("filter [{name}] must specify a [type]"))
        })?;
        Ok(match kind {
            "stop" => FilterKind::Stop {
                words: stop_words(def, name)?,
                ignore_case: bool_param(def, "ignore_case"),
            },
            "snowball" => {
                let language = str_param(def, "language").unwrap_or("English");
                FilterKind::Stem(snowball_language(language).ok_or_else(|| {
                    EsError::unsupported(format!(
                        "the snowball language [{language}] of filter [{name}]"
                    ))
                })?)
            }
            "stemmer" => {
                let language = str_param(def, "language")
                    .or_else(|| str_param(def, "name"))
                    .unwrap_or("english");
                if language.eq_ignore_ascii_case("possessive_english") {
                    FilterKind::PossessiveEnglish
                } else {
                    FilterKind::Stem(stemmer_language(language).ok_or_else(|| {
                        EsError::unsupported(format!(
                            "the stemmer language [{language}] of filter [{name}]"
                        ))
                    })?)
                }
            }
            "porter_stem" => FilterKind::Stem(frostem::Algorithm::Porter),
            "lowercase" => {
                if let Some(language) = str_param(def, "language") {
                    return Err(EsError::unsupported(format!(
                        "the lowercase language [{language}] of filter [{name}]"
                    )));
                }
                FilterKind::Lowercase
            }
            "uppercase" => FilterKind::Uppercase,
            "asciifolding" => FilterKind::AsciiFolding {
                preserve_original: bool_param(def, "preserve_original"),
            },
            "edge_ngram" | "edgeNGram" => {
                let min_gram = usize_param(def, "min_gram", 1, name)?;
                let max_gram = usize_param(def, "max_gram", 2, name)?;
                if max_gram < min_gram {
                    return Err(EsError::illegal_argument(format!(
                        "[{name}]: max_gram [{max_gram}] is less than min_gram [{min_gram}]"
                    )));
                }
                FilterKind::EdgeNgram {
                    min_gram,
                    max_gram,
                    preserve_original: bool_param(def, "preserve_original"),
                }
            }
            "ngram" | "nGram" => {
                let min_gram = usize_param(def, "min_gram", 1, name)?;
                let max_gram = usize_param(def, "max_gram", 2, name)?;
                ngram_diff_check(min_gram, max_gram, self.max_ngram_diff, name)?;
                FilterKind::Ngram {
                    min_gram,
                    max_gram,
                    preserve_original: bool_param(def, "preserve_original"),
                }
            }
            "trim" => FilterKind::Trim,
            "length" => FilterKind::Length {
                min: usize_param(def, "min", 0, name)?,
                max: usize_param(def, "max", usize::MAX, name)?,
            },
            "truncate" => FilterKind::Truncate(usize_param(def, "length", 10, name)?),
            "unique" => FilterKind::Unique {
                only_on_same_position: bool_param(def, "only_on_same_position"),
            },
            "reverse" => FilterKind::Reverse,
            "synonym" | "synonym_graph" => synonyms(def, name)?,
            other => {
                return Err(EsError::unsupported(format!(
                    "the [{other}] token filter [{name}]"
                )))
            }
        })
    }

    fn check_char_filters(&self, def: &Map<String, Value>, name: &str) -> Result<(), EsError> {
        if let Some(first) = names(def, "char_filter").first() {
            let kind = self
                .char_filters
                .get(first)
                .and_then(|d| d.get("type"))
                .and_then(Value::as_str)
                .unwrap_or(first);
            return Err(EsError::unsupported(format!(
                "the [{kind}] char_filter of analyzer [{name}]"
            )));
        }
        Ok(())
    }

    fn analyzer(&self, name: &str, def: &Value) -> Result<Analyzer, EsError> {
        let def = def.as_object().ok_or_else(|| {
            EsError::illegal_argument(format!("analyzer [{name}] must be an object"))
        })?;
        self.check_char_filters(def, name)?;
        let kind = str_param(def, "type").unwrap_or(if def.contains_key("tokenizer") {
            "custom"
        } else {
            ""
        });
        match kind {
            "custom" => {
                let tokenizer_name = str_param(def, "tokenizer").ok_or_else(|| {
                    EsError::illegal_argument(format!(
                        "analyzer [{name}] must specify either an analyzer type, or a tokenizer"
                    ))
                })?;
                let tokenizer = self.tokenizer(tokenizer_name)?;
                let filters = names(def, "filter")
                    .iter()
                    .map(|f| self.filter(f))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Analyzer::new(tokenizer, filters))
            }
            "standard" => {
                let mut filters = vec![FilterKind::Lowercase];
                if def.contains_key("stopwords") {
                    filters.push(FilterKind::Stop {
                        words: stop_words(def, name)?,
                        ignore_case: false,
                    });
                }
                Ok(Analyzer::new(
                    TokenizerKind::Standard {
                        max_token_length: usize_param(def, "max_token_length", 255, name)?,
                    },
                    filters,
                ))
            }
            "stop" => Ok(Analyzer::new(
                TokenizerKind::Lowercase,
                vec![FilterKind::Stop {
                    words: stop_words(def, name)?,
                    ignore_case: false,
                }],
            )),
            "snowball" => {
                let language = str_param(def, "language").unwrap_or("English");
                let stem = snowball_language(language).ok_or_else(|| {
                    EsError::unsupported(format!(
                        "the snowball language [{language}] of analyzer [{name}]"
                    ))
                })?;
                let mut filters = vec![FilterKind::Lowercase];
                if def.contains_key("stopwords") || language.eq_ignore_ascii_case("english") {
                    filters.push(FilterKind::Stop {
                        words: stop_words(def, name)?,
                        ignore_case: false,
                    });
                }
                filters.push(FilterKind::Stem(stem));
                Ok(Analyzer::new(standard_tokenizer(), filters))
            }
            "english" => {
                if def.contains_key("stem_exclusion") {
                    return Err(EsError::unsupported(format!(
                        "[stem_exclusion] of analyzer [{name}]"
                    )));
                }
                Ok(Analyzer::new(
                    standard_tokenizer(),
                    vec![
                        FilterKind::PossessiveEnglish,
                        FilterKind::Lowercase,
                        FilterKind::Stop {
                            words: stop_words(def, name)?,
                            ignore_case: false,
                        },
                        FilterKind::Stem(frostem::Algorithm::Porter),
                    ],
                ))
            }
            "simple" | "whitespace" | "keyword" => builtin_analyzer(kind)
                .ok_or_else(|| EsError::internal(format!("built-in analyzer {kind} missing"))),
            "" => Err(EsError::illegal_argument(format!(
                "analyzer [{name}] must specify either an analyzer type, or a tokenizer"
            ))),
            other => Err(EsError::unsupported(format!(
                "the [{other}] analyzer type of analyzer [{name}]"
            ))),
        }
    }

    fn normalizer(&self, name: &str, def: &Value) -> Result<Analyzer, EsError> {
        let def = def.as_object().ok_or_else(|| {
            EsError::illegal_argument(format!("normalizer [{name}] must be an object"))
        })?;
        self.check_char_filters(def, name)?;
        let filters = names(def, "filter")
            .iter()
            .map(|f| {
                let filter = self.filter(f)?;
                match filter {
                    FilterKind::Lowercase
                    | FilterKind::Uppercase
                    | FilterKind::AsciiFolding { .. }
                    | FilterKind::Trim => Ok(filter),
                    _ => Err(EsError::illegal_argument(format!(
                        "Custom normalizer [{name}] may not use filter [{f}]"
                    ))),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Analyzer::new(TokenizerKind::Keyword, filters))
    }
}

impl Analyzers {
    /// The analyzers of an index whose `analysis` settings are `analysis` (nested) and whose
    /// `index.max_ngram_diff` is `max_ngram_diff`.
    pub fn from_settings(analysis: &Value, max_ngram_diff: usize) -> Result<Analyzers, EsError> {
        let empty = Map::new();
        let section = |key: &str| {
            analysis
                .get(key)
                .and_then(Value::as_object)
                .unwrap_or(&empty)
        };
        let builder = Builder {
            tokenizers: section("tokenizer"),
            filters: section("filter"),
            char_filters: section("char_filter"),
            max_ngram_diff,
        };
        let mut analyzers = HashMap::new();
        for name in [
            "standard",
            "simple",
            "whitespace",
            "keyword",
            "stop",
            "english",
        ] {
            if let Some(a) = builtin_analyzer(name) {
                analyzers.insert(name.to_string(), a);
            }
        }
        for (name, def) in section("analyzer") {
            analyzers.insert(name.clone(), builder.analyzer(name, def)?);
        }
        // Every defined filter and tokenizer must build, even when no analyzer uses it.
        for name in section("filter").keys() {
            builder.filter(name)?;
        }
        for name in section("tokenizer").keys() {
            builder.tokenizer(name)?;
        }
        let mut normalizers = HashMap::new();
        normalizers.insert(
            "lowercase".to_string(),
            Analyzer::new(TokenizerKind::Keyword, vec![FilterKind::Lowercase]),
        );
        for (name, def) in section("normalizer") {
            normalizers.insert(name.clone(), builder.normalizer(name, def)?);
        }
        Ok(Analyzers {
            analyzers,
            normalizers,
        })
    }

    /// The analyzer called `name`.
    pub fn get(&self, name: &str) -> Result<&Analyzer, EsError> {
        self.analyzers
            .get(name)
            .ok_or_else(|| EsError::illegal_argument(format!("failed to find analyzer [{name}]")))
    }

    /// The normalizer called `name`.
    pub fn normalizer(&self, name: &str) -> Result<&Analyzer, EsError> {
        self.normalizers
            .get(name)
            .ok_or_else(|| EsError::illegal_argument(format!("failed to find normalizer [{name}]")))
    }

    /// The names of all analyzers.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.analyzers.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pattern_four_product_analyzer_stems() {
        let a = Analyzers::from_settings(
            &json!({"analyzer": {"product_analyzer": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "snowball"]}}}),
            1,
        )
        .unwrap();
        let pa = a.get("product_analyzer").unwrap();
        assert_eq!(pa.terms("Trail running shoes"), ["trail", "run", "shoe"]);
        assert_eq!(pa.terms("runs shoes"), ["run", "shoe"]);
        assert_eq!(
            a.get("standard").unwrap().terms("Running Shoe"),
            ["running", "shoe"]
        );
    }

    #[test]
    fn autocomplete_with_edge_ngram_filter_and_tokenizer() {
        let a = Analyzers::from_settings(
            &json!({
                "filter": {"ac": {"type": "edge_ngram", "min_gram": 2, "max_gram": 10}},
                "tokenizer": {"ac_tok": {"type": "edge_ngram", "min_gram": "2", "max_gram": "3", "token_chars": ["letter"]}},
                "analyzer": {
                    "autocomplete": {"tokenizer": "standard", "filter": ["lowercase", "ac"]},
                    "autocomplete_tok": {"tokenizer": "ac_tok", "filter": ["lowercase"]}
                }
            }),
            1,
        )
        .unwrap();
        assert_eq!(a.get("autocomplete").unwrap().terms("Lap"), ["la", "lap"]);
        assert_eq!(
            a.get("autocomplete_tok").unwrap().terms("Lapt x"),
            ["la", "lap"]
        );
    }

    #[test]
    fn unknown_and_unsupported_parts_are_errors() {
        let err = Analyzers::from_settings(
            &json!({"analyzer": {"x": {"tokenizer": "standard", "filter": ["nope"]}}}),
            1,
        )
        .unwrap_err();
        assert!(
            err.reason
                .contains("failed to find filter under name [nope]"),
            "{err}"
        );
        let err = Analyzers::from_settings(
            &json!({"analyzer": {"x": {"tokenizer": "standard", "filter": ["kstem"]}}}),
            1,
        )
        .unwrap_err();
        assert!(err.reason.contains("vers search"), "{err}");
        let err = Analyzers::from_settings(
            &json!({"tokenizer": {"t": {"type": "ngram", "min_gram": 1, "max_gram": 5}}}),
            1,
        )
        .unwrap_err();
        assert!(err.reason.contains("max_ngram_diff"), "{err}");
    }

    #[test]
    fn single_word_synonyms_share_a_position() {
        let a = Analyzers::from_settings(
            &json!({
                "filter": {"syn": {"type": "synonym", "synonyms": ["sneakers, trainers", "tee => tshirt"]}},
                "analyzer": {"s": {"tokenizer": "standard", "filter": ["lowercase", "syn"]}}
            }),
            1,
        )
        .unwrap();
        let s = a.get("s").unwrap();
        assert_eq!(s.terms("Sneakers tee"), ["sneakers", "trainers", "tshirt"]);
    }
}
