//! Elasticsearch's token filters, each a transformation of a token list.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use tantivy::tokenizer::{AsciiFoldingFilter, RawTokenizer, TextAnalyzer, Token};

/// A token filter of an analyzer.
#[derive(Debug, Clone)]
pub enum FilterKind {
    /// Lower-cases every token.
    Lowercase,
    /// Upper-cases every token.
    Uppercase,
    /// Folds non-ASCII letters to their ASCII equivalents.
    AsciiFolding {
        /// Keep the original token too, at the same position.
        preserve_original: bool,
    },
    /// Removes the listed words (positions keep their gaps).
    Stop {
        /// The words.
        words: Arc<HashSet<String>>,
        /// Compare lower-cased.
        ignore_case: bool,
    },
    /// A Snowball (or Porter) stemmer.
    Stem(frostem::Algorithm),
    /// Removes a trailing `'s`.
    PossessiveEnglish,
    /// Replaces each token by its prefixes.
    EdgeNgram {
        /// Shortest prefix.
        min_gram: usize,
        /// Longest prefix.
        max_gram: usize,
        /// Keep the whole token too.
        preserve_original: bool,
    },
    /// Replaces each token by its n-grams.
    Ngram {
        /// Shortest gram.
        min_gram: usize,
        /// Longest gram.
        max_gram: usize,
        /// Keep the whole token too.
        preserve_original: bool,
    },
    /// Trims white space around tokens.
    Trim,
    /// Removes tokens shorter or longer than the bounds (in characters).
    Length {
        /// Minimum length.
        min: usize,
        /// Maximum length.
        max: usize,
    },
    /// Cuts tokens to a length.
    Truncate(usize),
    /// Removes repeated tokens (at the same position only, or anywhere).
    Unique {
        /// Only tokens at the same position count as repeats.
        only_on_same_position: bool,
    },
    /// Reverses each token.
    Reverse,
    /// Single-word synonyms: each word maps to the words emitted at its position.
    Synonyms(Arc<BTreeMap<String, Vec<String>>>),
}

fn fold_ascii(text: &str, folder: &mut TextAnalyzer) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut stream = folder.token_stream(text);
    if stream.advance() {
        stream.token().text.clone()
    } else {
        text.to_string()
    }
}

fn at_same_position(t: &Token, text: String) -> Token {
    Token { text, ..t.clone() }
}

fn char_grams(t: &Token, min: usize, max: usize, edge: bool) -> Vec<Token> {
    let chars: Vec<char> = t.text.chars().collect();
    let mut out = Vec::new();
    let starts = if edge { 0..1 } else { 0..chars.len() };
    for start in starts {
        for len in min..=max {
            if start + len > chars.len() {
                break;
            }
            out.push(at_same_position(
                t,
                chars[start..start + len].iter().collect(),
            ));
        }
    }
    out
}

impl FilterKind {
    /// Applies the filter to `tokens`.
    pub fn apply(&self, tokens: Vec<Token>) -> Vec<Token> {
        match self {
            FilterKind::Lowercase => tokens
                .into_iter()
                .map(|mut t| {
                    t.text = t.text.to_lowercase();
                    t
                })
                .collect(),
            FilterKind::Uppercase => tokens
                .into_iter()
                .map(|mut t| {
                    t.text = t.text.to_uppercase();
                    t
                })
                .collect(),
            FilterKind::AsciiFolding { preserve_original } => {
                let mut folder = TextAnalyzer::builder(RawTokenizer::default())
                    .filter(AsciiFoldingFilter)
                    .build();
                let mut out = Vec::with_capacity(tokens.len());
                for t in tokens {
                    let folded = fold_ascii(&t.text, &mut folder);
                    if *preserve_original && folded != t.text {
                        out.push(t.clone());
                    }
                    out.push(at_same_position(&t, folded));
                }
                out
            }
            FilterKind::Stop { words, ignore_case } => tokens
                .into_iter()
                .filter(|t| {
                    if *ignore_case {
                        !words.contains(&t.text.to_lowercase())
                    } else {
                        !words.contains(&t.text)
                    }
                })
                .collect(),
            FilterKind::Stem(algorithm) => {
                let stemmer = frostem::Stemmer::new(*algorithm);
                tokens
                    .into_iter()
                    .map(|mut t| {
                        t.text = stemmer.stem(&t.text).into_owned();
                        t
                    })
                    .collect()
            }
            FilterKind::PossessiveEnglish => tokens
                .into_iter()
                .map(|mut t| {
                    for suffix in ["'s", "'S", "\u{2019}s", "\u{2019}S"] {
                        if let Some(stripped) = t.text.strip_suffix(suffix) {
                            t.text = stripped.to_string();
                            break;
                        }
                    }
                    t
                })
                .collect(),
            FilterKind::EdgeNgram {
                min_gram,
                max_gram,
                preserve_original,
            }
            | FilterKind::Ngram {
                min_gram,
                max_gram,
                preserve_original,
            } => {
                let edge = matches!(self, FilterKind::EdgeNgram { .. });
                let mut out = Vec::new();
                for t in tokens {
                    let grams = char_grams(&t, *min_gram, *max_gram, edge);
                    let whole_missing = !grams.iter().any(|g| g.text == t.text);
                    out.extend(grams);
                    if *preserve_original && whole_missing {
                        out.push(t);
                    }
                }
                out
            }
            FilterKind::Trim => tokens
                .into_iter()
                .map(|mut t| {
                    t.text = t.text.trim().to_string();
                    t
                })
                .collect(),
            FilterKind::Length { min, max } => tokens
                .into_iter()
                .filter(|t| {
                    let n = t.text.chars().count();
                    n >= *min && n <= *max
                })
                .collect(),
            FilterKind::Truncate(length) => tokens
                .into_iter()
                .map(|mut t| {
                    t.text = t.text.chars().take(*length).collect();
                    t
                })
                .collect(),
            FilterKind::Unique {
                only_on_same_position,
            } => {
                let mut seen = HashSet::new();
                tokens
                    .into_iter()
                    .filter(|t| {
                        let key = if *only_on_same_position {
                            (t.position, t.text.clone())
                        } else {
                            (0, t.text.clone())
                        };
                        seen.insert(key)
                    })
                    .collect()
            }
            FilterKind::Reverse => tokens
                .into_iter()
                .map(|mut t| {
                    t.text = t.text.chars().rev().collect();
                    t
                })
                .collect(),
            FilterKind::Synonyms(map) => {
                let mut out = Vec::with_capacity(tokens.len());
                for t in tokens {
                    match map.get(&t.text) {
                        Some(words) => {
                            for w in words {
                                out.push(at_same_position(&t, w.clone()));
                            }
                        }
                        None => out.push(t),
                    }
                }
                out
            }
        }
    }
}

/// Lucene's English stop words (Elasticsearch's `_english_`).
pub const ENGLISH_STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tokenizers::TokenizerKind;

    fn run(filters: &[FilterKind], text: &str) -> Vec<String> {
        let mut tokens = TokenizerKind::Standard {
            max_token_length: 255,
        }
        .tokenize(text);
        for f in filters {
            tokens = f.apply(tokens);
        }
        tokens.into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn snowball_english_stems_plurals_and_gerunds() {
        let filters = [
            FilterKind::Lowercase,
            FilterKind::Stem(frostem::Algorithm::English),
        ];
        assert_eq!(
            run(&filters, "Running Shoes runs shoe"),
            ["run", "shoe", "run", "shoe"]
        );
    }

    #[test]
    fn ascii_folding_and_stop_words_keep_positions() {
        let stop = FilterKind::Stop {
            words: Arc::new(ENGLISH_STOP_WORDS.iter().map(|w| w.to_string()).collect()),
            ignore_case: false,
        };
        let mut tokens = TokenizerKind::Standard {
            max_token_length: 255,
        }
        .tokenize("the café of Zoë");
        for f in [
            FilterKind::Lowercase,
            FilterKind::AsciiFolding {
                preserve_original: false,
            },
            stop,
        ] {
            tokens = f.apply(tokens);
        }
        let got: Vec<(String, usize)> = tokens.into_iter().map(|t| (t.text, t.position)).collect();
        assert_eq!(got, [("cafe".to_string(), 1), ("zoe".to_string(), 3)]);
    }

    #[test]
    fn edge_ngram_filter_keeps_the_position() {
        let tokens = FilterKind::EdgeNgram {
            min_gram: 1,
            max_gram: 3,
            preserve_original: true,
        }
        .apply(TokenizerKind::Whitespace.tokenize("ab shoes"));
        let got: Vec<(String, usize)> = tokens.into_iter().map(|t| (t.text, t.position)).collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), 0),
                ("ab".to_string(), 0),
                ("s".to_string(), 1),
                ("sh".to_string(), 1),
                ("sho".to_string(), 1),
                ("shoes".to_string(), 1)
            ]
        );
    }
}
