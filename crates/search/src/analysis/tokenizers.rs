//! Elasticsearch's tokenizers: text in, tokens with positions and offsets out.

use tantivy::tokenizer::Token;
use unicode_segmentation::UnicodeSegmentation;

/// Character classes of the `token_chars` setting of the n-gram tokenizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharClass {
    /// Letters.
    Letter,
    /// Digits.
    Digit,
    /// White space.
    Whitespace,
    /// Punctuation.
    Punctuation,
    /// Symbols.
    Symbol,
}

impl CharClass {
    /// The class named `name` in settings.
    pub fn parse(name: &str) -> Option<CharClass> {
        Some(match name {
            "letter" => CharClass::Letter,
            "digit" => CharClass::Digit,
            "whitespace" => CharClass::Whitespace,
            "punctuation" => CharClass::Punctuation,
            "symbol" => CharClass::Symbol,
            _ => return None,
        })
    }

    fn contains(self, c: char) -> bool {
        match self {
            CharClass::Letter => c.is_alphabetic(),
            CharClass::Digit => c.is_numeric(),
            CharClass::Whitespace => c.is_whitespace(),
            CharClass::Punctuation => c.is_ascii_punctuation() && !"$+<=>^`|~".contains(c),
            CharClass::Symbol => {
                "$+<=>^`|~".contains(c)
                    || (!c.is_alphanumeric()
                        && !c.is_whitespace()
                        && !c.is_ascii_punctuation()
                        && !c.is_control())
            }
        }
    }
}

/// A tokenizer of an analyzer.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenizerKind {
    /// Unicode word boundaries (UAX #29), keeping words with a letter or digit.
    Standard {
        /// Longer words are split at this many characters.
        max_token_length: usize,
    },
    /// Splits on white space.
    Whitespace,
    /// The whole input is one token.
    Keyword,
    /// Splits on anything that is not a letter.
    Letter,
    /// `letter`, then lower-cased.
    Lowercase,
    /// Prefixes of each word (or of the whole input when `token_chars` is empty).
    EdgeNgram {
        /// Shortest prefix.
        min_gram: usize,
        /// Longest prefix.
        max_gram: usize,
        /// Characters that belong to words.
        token_chars: Vec<CharClass>,
    },
    /// All substrings of each word between the two lengths.
    Ngram {
        /// Shortest gram.
        min_gram: usize,
        /// Longest gram.
        max_gram: usize,
        /// Characters that belong to words.
        token_chars: Vec<CharClass>,
    },
}

fn token(text: &str, from: usize, to: usize, position: usize) -> Token {
    Token {
        offset_from: from,
        offset_to: to,
        position,
        text: text[from..to].to_string(),
        position_length: 1,
    }
}

/// Splits `text` into runs of characters for which `keep` holds, as (start, end) byte offsets.
fn runs(text: &str, keep: impl Fn(char) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (keep(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// The char-boundary byte offsets of `text[from..to]`, including both ends.
fn char_bounds(text: &str, from: usize, to: usize) -> Vec<usize> {
    let mut bounds: Vec<usize> = text[from..to]
        .char_indices()
        .map(|(i, _)| from + i)
        .collect();
    bounds.push(to);
    bounds
}

impl TokenizerKind {
    /// The tokens of `text`.
    pub fn tokenize(&self, text: &str) -> Vec<Token> {
        match self {
            TokenizerKind::Standard { max_token_length } => {
                let mut out = Vec::new();
                for (start, word) in text.split_word_bound_indices() {
                    if !word.chars().any(char::is_alphanumeric) {
                        continue;
                    }
                    let bounds = char_bounds(text, start, start + word.len());
                    let mut i = 0;
                    while i + 1 < bounds.len() {
                        let j = (i + (*max_token_length).max(1)).min(bounds.len() - 1);
                        let pos = out.len();
                        out.push(token(text, bounds[i], bounds[j], pos));
                        i = j;
                    }
                }
                out
            }
            TokenizerKind::Whitespace => runs(text, |c| !c.is_whitespace())
                .into_iter()
                .enumerate()
                .map(|(pos, (s, e))| token(text, s, e, pos))
                .collect(),
            TokenizerKind::Keyword => {
                if text.is_empty() {
                    Vec::new()
                } else {
                    vec![token(text, 0, text.len(), 0)]
                }
            }
            TokenizerKind::Letter => runs(text, char::is_alphabetic)
                .into_iter()
                .enumerate()
                .map(|(pos, (s, e))| token(text, s, e, pos))
                .collect(),
            TokenizerKind::Lowercase => TokenizerKind::Letter
                .tokenize(text)
                .into_iter()
                .map(|mut t| {
                    t.text = t.text.to_lowercase();
                    t
                })
                .collect(),
            TokenizerKind::EdgeNgram {
                min_gram,
                max_gram,
                token_chars,
            } => grams(text, token_chars, *min_gram, *max_gram, true),
            TokenizerKind::Ngram {
                min_gram,
                max_gram,
                token_chars,
            } => grams(text, token_chars, *min_gram, *max_gram, false),
        }
    }
}

/// N-grams (or edge n-grams) of each word of `text`; one position per gram, as Lucene's
/// n-gram tokenizers do.
fn grams(text: &str, token_chars: &[CharClass], min: usize, max: usize, edge: bool) -> Vec<Token> {
    let words = if token_chars.is_empty() {
        if text.is_empty() {
            Vec::new()
        } else {
            vec![(0, text.len())]
        }
    } else {
        runs(text, |c| token_chars.iter().any(|class| class.contains(c)))
    };
    let mut out = Vec::new();
    for (s, e) in words {
        let bounds = char_bounds(text, s, e);
        let chars = bounds.len() - 1;
        let starts: Vec<usize> = if edge { vec![0] } else { (0..chars).collect() };
        for start in starts {
            for len in min..=max {
                if start + len > chars {
                    break;
                }
                let pos = out.len();
                out.push(token(text, bounds[start], bounds[start + len], pos));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(tokens: Vec<Token>) -> Vec<String> {
        tokens.into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn standard_splits_words_and_keeps_contractions_and_decimals() {
        let t = TokenizerKind::Standard {
            max_token_length: 255,
        };
        assert_eq!(
            texts(t.tokenize("Don't run, it's 3.5 km! Trail-running")),
            ["Don't", "run", "it's", "3.5", "km", "Trail", "running"]
        );
        let positions: Vec<usize> = t.tokenize("a b c").iter().map(|t| t.position).collect();
        assert_eq!(positions, [0, 1, 2]);
    }

    #[test]
    fn standard_splits_overlong_words() {
        let t = TokenizerKind::Standard {
            max_token_length: 3,
        };
        assert_eq!(texts(t.tokenize("abcdefg")), ["abc", "def", "g"]);
    }

    #[test]
    fn whitespace_letter_keyword() {
        assert_eq!(
            texts(TokenizerKind::Whitespace.tokenize(" Foo-bar  baz ")),
            ["Foo-bar", "baz"]
        );
        assert_eq!(
            texts(TokenizerKind::Lowercase.tokenize("Foo-bar1baz")),
            ["foo", "bar", "baz"]
        );
        assert_eq!(
            texts(TokenizerKind::Keyword.tokenize("New York")),
            ["New York"]
        );
    }

    #[test]
    fn edge_ngrams_per_word() {
        let t = TokenizerKind::EdgeNgram {
            min_gram: 2,
            max_gram: 4,
            token_chars: vec![CharClass::Letter],
        };
        assert_eq!(texts(t.tokenize("Shoe ab")), ["Sh", "Sho", "Shoe", "ab"]);
    }
}
