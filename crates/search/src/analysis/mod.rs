//! Text analysis as Elasticsearch does it: a tokenizer followed by token filters, configured
//! by the index's `analysis` settings. An [`Analyzer`] is also a tantivy tokenizer, so the
//! same code analyses documents when they are indexed and query text when it is searched.

mod filters;
mod registry;
mod tokenizers;

pub use filters::{FilterKind, ENGLISH_STOP_WORDS};
pub use registry::Analyzers;
pub use tokenizers::{CharClass, TokenizerKind};

use std::sync::Arc;

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

#[derive(Debug)]
struct Chain {
    tokenizer: TokenizerKind,
    filters: Vec<FilterKind>,
}

/// A tokenizer and its filters.
#[derive(Debug, Clone)]
pub struct Analyzer(Arc<Chain>);

impl Analyzer {
    /// An analyzer running `tokenizer` then `filters` in order.
    pub fn new(tokenizer: TokenizerKind, filters: Vec<FilterKind>) -> Analyzer {
        Analyzer(Arc::new(Chain { tokenizer, filters }))
    }

    /// The tokens of `text`.
    pub fn analyze(&self, text: &str) -> Vec<Token> {
        let mut tokens = self.0.tokenizer.tokenize(text);
        for filter in &self.0.filters {
            tokens = filter.apply(tokens);
        }
        tokens
    }

    /// The token texts of `text`.
    pub fn terms(&self, text: &str) -> Vec<String> {
        self.analyze(text).into_iter().map(|t| t.text).collect()
    }

    /// Whether the analyzer keeps its input as one token (a keyword analyzer or normalizer).
    pub fn is_keyword(&self) -> bool {
        matches!(self.0.tokenizer, TokenizerKind::Keyword)
    }
}

/// The tokens of one value, handed to tantivy's indexer.
pub struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        // Invariant: tantivy calls `token` only after `advance` returned true.
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        // Invariant: as for `token`.
        &mut self.tokens[self.next - 1]
    }
}

impl Tokenizer for Analyzer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream {
            tokens: self.analyze(text),
            next: 0,
        }
    }
}
