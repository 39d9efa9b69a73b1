//! The registry's state and its file: schemas by id, subjects with their versions, and the
//! compatibility levels, saved as one JSON file in the data directory.
//!
//! Every change writes the whole state to a temporary file, syncs it and renames it over
//! `schema-registry.json` before the request is answered, so an acknowledged change
//! survives SIGKILL, and a copy of the directory taken at any instant (a checkpoint of a
//! frozen process) holds either the state before a change or the state after it. The
//! state is a single file, not a directory, because under Apache Kafka the data directory
//! is the broker's `log.dirs`, where every subdirectory must be a topic partition.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use super::api_error::ApiError;
use super::error::SchemaRegistryError;
use super::types::{Level, Reference, SchemaType};

/// The state file, in the data directory.
pub const STATE_FILE: &str = "schema-registry.json";
/// Where a new state is written before it replaces the old one.
const TEMP_FILE: &str = ".schema-registry.json.tmp";
/// The version of the file layout.
const FORMAT: u32 = 1;

/// One schema, shared by every subject version that registered the same text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredSchema {
    /// Its type.
    #[serde(rename = "schemaType")]
    pub schema_type: SchemaType,
    /// Its text in the registry's canonical form (compact JSON for AVRO and JSON).
    pub schema: String,
    /// The schemas it refers to, by subject and version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
}

/// A version of a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct VersionEntry {
    /// The version number, from 1.
    pub version: u32,
    /// The schema id.
    pub id: u32,
    /// Whether the version is soft-deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// A subject: its versions in order and its own compatibility level, if set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Subject {
    /// Versions, oldest first (soft-deleted ones included).
    #[serde(default)]
    pub versions: Vec<VersionEntry>,
    /// The subject-level compatibility level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<Level>,
}

impl Subject {
    /// The versions that are not soft-deleted, oldest first.
    pub fn live(&self) -> impl DoubleEndedIterator<Item = &VersionEntry> {
        self.versions.iter().filter(|v| !v.deleted)
    }

    /// The version entries, soft-deleted ones included when `deleted`.
    pub fn visible(&self, deleted: bool) -> impl DoubleEndedIterator<Item = &VersionEntry> {
        self.versions.iter().filter(move |v| deleted || !v.deleted)
    }
}

/// Everything the registry knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct State {
    /// The id the next new schema gets (ids are never reused).
    pub next_id: u32,
    /// Schemas by id.
    pub schemas: BTreeMap<u32, StoredSchema>,
    /// Subjects by name.
    pub subjects: BTreeMap<String, Subject>,
    /// The global compatibility level, when set (else BACKWARD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<Level>,
}

impl Default for State {
    fn default() -> Self {
        State {
            next_id: 1,
            schemas: BTreeMap::new(),
            subjects: BTreeMap::new(),
            compatibility: None,
        }
    }
}

/// The file's layout: a format number around the state.
#[derive(Serialize, Deserialize)]
struct Saved {
    format: u32,
    state: State,
}

/// The state behind a lock, and the file it is saved to.
pub(crate) struct Store {
    dir: PathBuf,
    current: RwLock<Arc<State>>,
    writer: Mutex<()>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SchemaRegistryError + '_ {
    move |source| SchemaRegistryError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Store {
    /// Loads the state saved in `dir` (an empty registry when there is none), dropping a
    /// temporary file left by a write that was interrupted.
    pub fn open(dir: &Path) -> Result<Store, SchemaRegistryError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let temp = dir.join(TEMP_FILE);
        match fs::remove_file(&temp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&temp)(e)),
        }
        let path = dir.join(STATE_FILE);
        let state = match fs::read(&path) {
            Ok(bytes) => {
                let saved: Saved =
                    serde_json::from_slice(&bytes).map_err(|e| SchemaRegistryError::Corrupt {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                if saved.format != FORMAT {
                    return Err(SchemaRegistryError::Corrupt {
                        path,
                        message: format!(
                            "layout {} is not the layout {FORMAT} this vers writes",
                            saved.format
                        ),
                    });
                }
                saved.state
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(io_error(&path)(e)),
        };
        Ok(Store {
            dir: dir.to_path_buf(),
            current: RwLock::new(Arc::new(state)),
            writer: Mutex::new(()),
        })
    }

    /// The current state (a consistent snapshot; later changes do not alter it).
    pub fn snapshot(&self) -> Arc<State> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Applies `change` to a copy of the state; when it succeeds and changed something, saves
    /// the copy durably and makes it current. Changes are applied one at a time.
    pub fn update<R>(
        &self,
        change: impl FnOnce(&mut State) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let _one_writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let before = self.snapshot();
        let mut next = State::clone(&before);
        let result = change(&mut next)?;
        if next != *before {
            self.save(&next).map_err(ApiError::store)?;
            *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        }
        Ok(result)
    }

    /// Writes `state` to the temporary file, syncs it, renames it over the state file and
    /// syncs the directory.
    fn save(&self, state: &State) -> Result<(), SchemaRegistryError> {
        let temp = self.dir.join(TEMP_FILE);
        let path = self.dir.join(STATE_FILE);
        let bytes = serde_json::to_vec(&SavedRef {
            format: FORMAT,
            state,
        })
        .map_err(|e| SchemaRegistryError::Corrupt {
            path: path.clone(),
            message: format!("cannot encode the state: {e}"),
        })?;
        let mut file = File::create(&temp).map_err(io_error(&temp))?;
        file.write_all(&bytes).map_err(io_error(&temp))?;
        file.sync_all().map_err(io_error(&temp))?;
        drop(file);
        fs::rename(&temp, &path).map_err(io_error(&path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error(&self.dir))
    }
}

/// [`Saved`] borrowing the state it writes.
#[derive(Serialize)]
struct SavedRef<'a> {
    format: u32,
    state: &'a State,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(text: &str) -> StoredSchema {
        StoredSchema {
            schema_type: SchemaType::Avro,
            schema: text.into(),
            references: Vec::new(),
        }
    }

    #[test]
    fn a_change_is_on_disk_when_update_returns() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = store
            .update(|s| {
                let id = s.next_id;
                s.next_id += 1;
                s.schemas.insert(id, schema("\"string\""));
                s.subjects
                    .entry("a".into())
                    .or_default()
                    .versions
                    .push(VersionEntry {
                        version: 1,
                        id,
                        deleted: false,
                    });
                Ok(id)
            })
            .unwrap();
        assert_eq!(id, 1);
        let reopened = Store::open(dir.path()).unwrap();
        assert_eq!(*reopened.snapshot(), *store.snapshot());
        assert_eq!(reopened.snapshot().next_id, 2);
    }

    #[test]
    fn a_refused_change_leaves_state_and_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let err = store
            .update(|s| -> Result<(), ApiError> {
                s.next_id = 99;
                Err(ApiError::subject_not_found("x"))
            })
            .unwrap_err();
        assert_eq!(err.code, 40401);
        assert_eq!(store.snapshot().next_id, 1);
        assert!(!dir.path().join(STATE_FILE).exists());
    }

    #[test]
    fn an_interrupted_write_is_dropped_and_the_last_state_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .update(|s| {
                s.compatibility = Some(Level::Full);
                Ok(())
            })
            .unwrap();
        fs::write(dir.path().join(TEMP_FILE), b"{\"format\":1,\"sta").unwrap();
        let reopened = Store::open(dir.path()).unwrap();
        assert_eq!(reopened.snapshot().compatibility, Some(Level::Full));
        assert!(!dir.path().join(TEMP_FILE).exists());
    }

    #[test]
    fn an_unreadable_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(STATE_FILE), b"not json").unwrap();
        let e = Store::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains(STATE_FILE) && e.contains("move it aside"), "{e}");
    }
}
