//! Storage: indices on disk (tantivy segments, metadata, write-ahead log) and the conversion
//! of documents into tantivy documents.

pub mod aliases;
pub mod directory;
pub mod document;
pub mod index;
pub mod meta;
pub mod registry;
pub mod schema;
pub mod translog;
