//! What an index is besides its documents: name, uuid, settings, mapping and the assignment
//! of text fields to slots, persisted as `vers-index.json` (written atomically) and parsed
//! into the analyzers and field table that indexing and search use.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::schema::SLOTS;
use crate::analysis::Analyzers;
use crate::error::EsError;
use crate::mapping::{FieldType, Mapping};
use crate::settings::Settings;

/// The file holding an index's metadata.
pub const META_FILE: &str = "vers-index.json";

/// The persisted metadata of an index.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMeta {
    /// Index name.
    pub name: String,
    /// Index uuid.
    pub uuid: String,
    /// Creation time, milliseconds since the epoch.
    pub creation_date: i64,
    /// Settings, flat (see [`Settings`]).
    pub settings: BTreeMap<String, Value>,
    /// The mapping as Elasticsearch renders it.
    pub mappings: Value,
    /// Text field path → slot.
    pub slots: BTreeMap<String, usize>,
}

/// An index's metadata parsed for use.
#[derive(Debug, Clone)]
pub struct IndexState {
    /// What is persisted.
    pub stored: StoredMeta,
    /// The settings.
    pub settings: Settings,
    /// The analyzers the settings define.
    pub analyzers: Analyzers,
    /// The mapping.
    pub mapping: Mapping,
}

fn assign_slots(mapping: &Mapping, slots: &mut BTreeMap<String, usize>) -> Result<(), EsError> {
    for field in mapping.fields.values() {
        if field.ty != FieldType::Text || slots.contains_key(&field.path) {
            continue;
        }
        let used: Vec<usize> = slots.values().copied().collect();
        let free = (0..SLOTS).find(|s| !used.contains(s)).ok_or_else(|| {
            EsError::illegal_argument(format!(
                "Limit of {SLOTS} text fields in index has been exceeded by [{}]: vers search indexes at most {SLOTS} text fields (multi-fields included) per index",
                field.path
            ))
        })?;
        slots.insert(field.path.clone(), free);
    }
    Ok(())
}

impl IndexState {
    /// Parses stored metadata (as read from disk, or made for a new index).
    pub fn parse(mut stored: StoredMeta) -> Result<IndexState, EsError> {
        let settings = Settings(stored.settings.clone());
        let max_ngram_diff = settings.get_u64("max_ngram_diff")?.unwrap_or(1) as usize;
        let analyzers = Analyzers::from_settings(&settings.nested("analysis"), max_ngram_diff)?;
        let mapping = Mapping::parse(&stored.mappings, &analyzers)?;
        assign_slots(&mapping, &mut stored.slots)?;
        Ok(IndexState {
            stored,
            settings,
            analyzers,
            mapping,
        })
    }

    /// The same index with mapping `mappings` (already merged).
    pub fn with_mapping(&self, mappings: Value) -> Result<IndexState, EsError> {
        let mut stored = self.stored.clone();
        stored.mappings = mappings;
        IndexState::parse(stored)
    }

    /// The same index with settings `settings`.
    pub fn with_settings(&self, settings: Settings) -> Result<IndexState, EsError> {
        let mut stored = self.stored.clone();
        stored.settings = settings.0;
        IndexState::parse(stored)
    }

    /// The slot of the text field at `path`.
    pub fn slot(&self, path: &str) -> Option<usize> {
        self.stored.slots.get(path).copied()
    }

    /// Writes the metadata into `dir`, atomically.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.stored).map_err(std::io::Error::other)?;
        write_atomic(&dir.join(META_FILE), &bytes)
    }

    /// Reads the metadata of the index in `dir`.
    pub fn load(dir: &Path) -> Result<IndexState, String> {
        let path = dir.join(META_FILE);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let stored: StoredMeta =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        IndexState::parse(stored).map_err(|e| format!("{}: {}", path.display(), e.reason))
    }
}

/// Writes `bytes` to `path` through a synced temporary file and a rename, then syncs the
/// directory: a crash leaves the old or the new file, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(mappings: Value) -> StoredMeta {
        StoredMeta {
            name: "x".into(),
            uuid: "u".into(),
            creation_date: 0,
            settings: BTreeMap::new(),
            mappings,
            slots: BTreeMap::new(),
        }
    }

    #[test]
    fn text_fields_get_stable_slots_and_round_trip() {
        let s = IndexState::parse(stored(json!({"properties": {"a": {"type": "text", "fields": {"k": {"type": "keyword"}, "ac": {"type": "text"}}}, "b": {"type": "keyword"}}}))).unwrap();
        assert_eq!(s.slot("a"), Some(0));
        assert_eq!(s.slot("a.ac"), Some(1));
        assert_eq!(s.slot("b"), None);
        let s2 = s
            .with_mapping(json!({"properties": {"a": {"type": "text", "fields": {"k": {"type": "keyword"}, "ac": {"type": "text"}}}, "b": {"type": "keyword"}, "c": {"type": "text"}}}))
            .unwrap();
        assert_eq!(s2.slot("a"), Some(0));
        assert_eq!(s2.slot("c"), Some(2));
        let dir = tempfile::tempdir().unwrap();
        s2.save(dir.path()).unwrap();
        let back = IndexState::load(dir.path()).unwrap();
        assert_eq!(back.slot("c"), Some(2));
    }

    #[test]
    fn slot_limit_is_an_error() {
        let mut props = serde_json::Map::new();
        for i in 0..=SLOTS {
            props.insert(format!("f{i}"), json!({"type": "text"}));
        }
        let e = IndexState::parse(stored(json!({"properties": props}))).unwrap_err();
        assert!(e.reason.contains("vers search indexes at most"), "{e}");
    }
}
