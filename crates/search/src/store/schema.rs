//! The fixed tantivy schema every index uses, whatever its mapping: mappings change while an
//! index lives, a tantivy schema cannot.
//!
//! - `_id`, `_source`, `_version`, `_seq_no`: the document's identity, body and versions;
//! - `_field_names`: every field path holding a value (what `exists` queries search);
//! - `f`: one JSON field holding keyword, numeric, boolean and date values under their
//!   full paths, indexed verbatim and columnar (`fast`) for sorting and aggregations;
//! - `t0`…`t63`: one slot per `text` field (assigned as fields are mapped), holding the
//!   tokens the field's analyzer produced, with positions and field norms, so each text
//!   field is scored on its own as Lucene scores it.

use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, Schema, TextFieldIndexing, TextOptions, FAST,
    STORED,
};

/// How many `text` fields (multi-fields included) one index can map.
pub const SLOTS: usize = 64;

/// The name of the JSON field of columnar values.
pub const VALUES: &str = "f";

/// The fields of the schema.
#[derive(Debug, Clone)]
pub struct Fields {
    /// `_id`.
    pub id: Field,
    /// `_source` (raw JSON bytes).
    pub source: Field,
    /// `_version`.
    pub version: Field,
    /// `_seq_no`.
    pub seq_no: Field,
    /// `_field_names`.
    pub field_names: Field,
    /// `f`: keyword, numeric, boolean and date values.
    pub values: Field,
    /// `t0`…: text slots.
    pub slots: Vec<Field>,
}

/// The schema and its fields.
pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let raw = |stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        );
        if stored {
            o.set_stored()
        } else {
            o
        }
    };
    let id = b.add_text_field("_id", raw(true));
    let source = b.add_bytes_field("_source", STORED);
    let version = b.add_u64_field("_version", STORED);
    let seq_no = b.add_u64_field("_seq_no", STORED | FAST);
    let field_names = b.add_text_field("_field_names", raw(false));
    let values = b.add_json_field(
        VALUES,
        JsonObjectOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_index_option(IndexRecordOption::WithFreqs)
                    .set_fieldnorms(false),
            )
            .set_fast("raw")
            .set_expand_dots_enabled(),
    );
    let slots = (0..SLOTS)
        .map(|i| {
            b.add_text_field(
                &format!("t{i}"),
                TextOptions::default().set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer("default")
                        .set_index_option(IndexRecordOption::WithFreqsAndPositions)
                        .set_fieldnorms(true),
                ),
            )
        })
        .collect();
    (
        b.build(),
        Fields {
            id,
            source,
            version,
            seq_no,
            field_names,
            values,
            slots,
        },
    )
}

/// The column name of the value at `path` for tantivy's fast field readers and aggregations.
pub fn column(path: &str) -> String {
    format!("{VALUES}.{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_every_slot() {
        let (schema, fields) = build();
        assert_eq!(fields.slots.len(), SLOTS);
        assert_eq!(schema.get_field("t63").unwrap(), fields.slots[63]);
        assert_eq!(column("name.keyword"), "f.name.keyword");
    }
}
