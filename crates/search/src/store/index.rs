//! One index: its tantivy index, writer and reader, its metadata, its write-ahead log and
//! the versions of documents written since the last refresh (so reads by id are real-time,
//! as Elasticsearch's are, while searches see the last refresh).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value as _};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use super::directory::UnsyncedDirectory;
use super::document::{self, Stamp};
use super::meta::{IndexState, StoredMeta};
use super::schema::{self, Fields};
use super::translog::{Record, Translog, TRANSLOG_FILE};
use crate::error::EsError;
use crate::mapping::merge;
use crate::settings::Settings;

/// Memory the tantivy writer of one index may buffer before it flushes a segment.
const WRITER_MEMORY: usize = 24_000_000;

/// A document as stored: its version stamp and source.
#[derive(Debug, Clone)]
pub struct StoredDoc {
    /// Version and sequence number.
    pub stamp: Stamp,
    /// The source bytes.
    pub source: Arc<[u8]>,
}

/// The outcome of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new document.
    Created(Stamp),
    /// A new version of an existing document.
    Updated(Stamp),
    /// A deleted document.
    Deleted(Stamp),
    /// A delete of a document that did not exist.
    NotFound(Stamp),
}

impl Outcome {
    /// The stamp of the write.
    pub fn stamp(self) -> Stamp {
        match self {
            Outcome::Created(s)
            | Outcome::Updated(s)
            | Outcome::Deleted(s)
            | Outcome::NotFound(s) => s,
        }
    }

    /// Elasticsearch's `result` string.
    pub fn result(self) -> &'static str {
        match self {
            Outcome::Created(_) => "created",
            Outcome::Updated(_) => "updated",
            Outcome::Deleted(_) => "deleted",
            Outcome::NotFound(_) => "not_found",
        }
    }

    /// The HTTP status of the write.
    pub fn status(self) -> u16 {
        match self {
            Outcome::Created(_) => 201,
            Outcome::Updated(_) | Outcome::Deleted(_) => 200,
            Outcome::NotFound(_) => 404,
        }
    }
}

/// Preconditions of a write.
#[derive(Debug, Clone, Copy, Default)]
pub struct Condition {
    /// Fail when the document exists (`op_type=create`).
    pub create_only: bool,
    /// Optimistic concurrency: the current `_seq_no` must be this.
    pub if_seq_no: Option<u64>,
    /// Optimistic concurrency: the current `_primary_term` must be this.
    pub if_primary_term: Option<u64>,
}

struct Live {
    stamp: Stamp,
    source: Option<Arc<[u8]>>,
}

struct WriterState {
    writer: Option<IndexWriter>,
    translog: Translog,
    next_seq: u64,
    live: HashMap<String, Live>,
    pending: usize,
    last_refresh: Instant,
}

impl WriterState {
    fn writer(&mut self) -> Result<&mut IndexWriter, EsError> {
        self.writer
            .as_mut()
            .ok_or_else(|| EsError::internal("the index is being deleted"))
    }
}

/// An open index.
pub struct SearchIndex {
    /// Index name.
    pub name: String,
    /// Index uuid.
    pub uuid: String,
    dir: PathBuf,
    /// The schema's fields.
    pub fields: Fields,
    reader: IndexReader,
    state: RwLock<Arc<IndexState>>,
    writer: Mutex<WriterState>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("name", &self.name)
            .field("uuid", &self.uuid)
            .finish_non_exhaustive()
    }
}

fn io_err(what: &str, e: impl std::fmt::Display) -> EsError {
    EsError::internal(format!("{what}: {e}"))
}

impl SearchIndex {
    /// Creates a new index in the empty directory `dir`.
    pub fn create(dir: &Path, state: IndexState) -> Result<SearchIndex, EsError> {
        let tantivy_dir = dir.join("tantivy");
        std::fs::create_dir_all(&tantivy_dir).map_err(|e| io_err("create index directory", e))?;
        state
            .save(dir)
            .map_err(|e| io_err("write index metadata", e))?;
        let (schema, _) = schema::build();
        let directory =
            UnsyncedDirectory::open(&tantivy_dir).map_err(|e| io_err("open index", e))?;
        let index = Index::create(directory, schema, tantivy::IndexSettings::default())?;
        SearchIndex::from_parts(dir, index, state, false).map_err(EsError::internal)
    }

    /// Opens the index in `dir`, replaying its write-ahead log.
    pub fn open(dir: &Path) -> Result<SearchIndex, String> {
        let state = IndexState::load(dir)?;
        let tantivy_dir = dir.join("tantivy");
        let directory = UnsyncedDirectory::open(&tantivy_dir).map_err(|e| e.to_string())?;
        let index = Index::open(directory).map_err(|e| e.to_string())?;
        let (expected, _) = schema::build();
        if index.schema() != expected {
            return Err(format!(
                "{} was written by another version of vers search (its schema differs)",
                tantivy_dir.display()
            ));
        }
        SearchIndex::from_parts(dir, index, state, true)
    }

    fn from_parts(
        dir: &Path,
        index: Index,
        state: IndexState,
        replay: bool,
    ) -> Result<SearchIndex, String> {
        let fields = schema::build().1;
        let writer: IndexWriter = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(|e| e.to_string())?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e: tantivy::TantivyError| e.to_string())?;
        let committed: u64 = index
            .load_metas()
            .map_err(|e| e.to_string())?
            .payload
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let (translog, records) =
            Translog::open(&dir.join(TRANSLOG_FILE)).map_err(|e| e.to_string())?;
        let idx = SearchIndex {
            name: state.stored.name.clone(),
            uuid: state.stored.uuid.clone(),
            dir: dir.to_path_buf(),
            fields,
            reader,
            state: RwLock::new(Arc::new(state)),
            writer: Mutex::new(WriterState {
                writer: Some(writer),
                translog,
                next_seq: committed,
                live: HashMap::new(),
                pending: 0,
                last_refresh: Instant::now(),
            }),
        };
        if replay {
            let mut w = idx.lock();
            for r in records.into_iter().filter(|r| r.seq >= committed) {
                idx.replay(&mut w, r).map_err(|e| e.reason)?;
            }
            drop(w);
            idx.refresh().map_err(|e| e.reason)?;
        }
        Ok(idx)
    }

    fn lock(&self) -> MutexGuard<'_, WriterState> {
        // A panic while holding the lock leaves the writer state as consistent as the
        // tantivy writer itself; keep serving.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The index's current metadata.
    pub fn state(&self) -> Arc<IndexState> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_state(&self, state: IndexState) -> Result<(), EsError> {
        state
            .save(&self.dir)
            .map_err(|e| io_err("write index metadata", e))?;
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(state);
        Ok(())
    }

    /// A searcher over the last refresh.
    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// The stored document `id` as of the last refresh.
    pub fn stored(&self, searcher: &Searcher, id: &str) -> Result<Option<StoredDoc>, EsError> {
        let term = Term::from_field_text(self.fields.id, id);
        let hits = searcher.search(
            &TermQuery::new(term, IndexRecordOption::Basic),
            &TopDocs::with_limit(1).order_by_score(),
        )?;
        let Some((_, addr)) = hits.first() else {
            return Ok(None);
        };
        let doc: TantivyDocument = searcher.doc(*addr)?;
        Ok(Some(self.stored_of(&doc)))
    }

    /// The stamp and source of a stored tantivy document.
    pub fn stored_of(&self, doc: &TantivyDocument) -> StoredDoc {
        let source: Arc<[u8]> = doc
            .get_first(self.fields.source)
            .and_then(|v| v.as_bytes())
            .map(Arc::from)
            .unwrap_or_else(|| Arc::from(&b"{}"[..]));
        StoredDoc {
            stamp: Stamp {
                version: doc
                    .get_first(self.fields.version)
                    .and_then(|v| v.as_u64())
                    .unwrap_or(1),
                seq_no: doc
                    .get_first(self.fields.seq_no)
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0),
            },
            source,
        }
    }

    fn current(&self, w: &WriterState, id: &str) -> Result<Option<StoredDoc>, EsError> {
        if let Some(live) = w.live.get(id) {
            return Ok(live.source.clone().map(|source| StoredDoc {
                stamp: live.stamp,
                source,
            }));
        }
        self.stored(&self.searcher(), id)
    }

    /// The document `id` now (real-time: writes not yet refreshed included).
    pub fn get(&self, id: &str) -> Result<Option<StoredDoc>, EsError> {
        let w = self.lock();
        if let Some(live) = w.live.get(id) {
            return Ok(live.source.clone().map(|source| StoredDoc {
                stamp: live.stamp,
                source,
            }));
        }
        drop(w);
        self.stored(&self.searcher(), id)
    }

    fn check(
        &self,
        id: &str,
        current: Option<&StoredDoc>,
        cond: &Condition,
    ) -> Result<(), EsError> {
        if cond.create_only {
            if let Some(c) = current {
                return Err(EsError::version_conflict(
                    id,
                    &format!(
                        "document already exists (current version [{}])",
                        c.stamp.version
                    ),
                    &self.name,
                    &self.uuid,
                ));
            }
        }
        if cond.if_seq_no.is_some() || cond.if_primary_term.is_some() {
            let want_seq = cond.if_seq_no.unwrap_or(u64::MAX);
            let want_term = cond.if_primary_term.unwrap_or(0);
            match current {
                None => {
                    return Err(EsError::version_conflict(
                        id,
                        &format!("required seqNo [{want_seq}], primary term [{want_term}]. but no document was found"),
                        &self.name,
                        &self.uuid,
                    ))
                }
                Some(c) if c.stamp.seq_no != want_seq || want_term != 1 => {
                    return Err(EsError::version_conflict(
                        id,
                        &format!(
                            "required seqNo [{want_seq}], primary term [{want_term}]. current document has seqNo [{}] and primary term [1]",
                            c.stamp.seq_no
                        ),
                        &self.name,
                        &self.uuid,
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Adds the fields `doc` brings to the mapping (dynamic mapping), persisting the change.
    fn map_dynamic(
        &self,
        doc: &serde_json::Map<String, Value>,
    ) -> Result<Arc<IndexState>, EsError> {
        let state = self.state();
        let Some(update) = crate::mapping::infer_update(&state.mapping, doc)? else {
            return Ok(state);
        };
        let merged = merge(&state.mapping.json, &update)?;
        let next = state.with_mapping(merged)?;
        self.set_state(next)?;
        Ok(self.state())
    }

    /// Indexes `source` as document `id`.
    pub fn index_doc(
        &self,
        id: &str,
        source: Vec<u8>,
        cond: &Condition,
    ) -> Result<Outcome, EsError> {
        validate_id(id)?;
        let parsed = document::parse_source(&source)?;
        let mut w = self.lock();
        let current = self.current(&w, id)?;
        self.check(id, current.as_ref(), cond)?;
        let state = self.map_dynamic(&parsed)?;
        let stamp = Stamp {
            version: current.as_ref().map_or(1, |c| c.stamp.version + 1),
            seq_no: w.next_seq,
        };
        let doc = document::build(&self.fields, &state, id, &source, &parsed, stamp)?;
        let record = Record {
            seq: stamp.seq_no,
            id: id.to_string(),
            version: stamp.version,
            source: Some(String::from_utf8_lossy(&source).into_owned()),
        };
        w.translog
            .append(&record)
            .map_err(|e| io_err("write-ahead log", e))?;
        let term = Term::from_field_text(self.fields.id, id);
        let writer = w.writer()?;
        writer.delete_term(term);
        writer.add_document(doc)?;
        w.next_seq += 1;
        w.pending += 1;
        w.live.insert(
            id.to_string(),
            Live {
                stamp,
                source: Some(Arc::from(source)),
            },
        );
        Ok(if current.is_some() {
            Outcome::Updated(stamp)
        } else {
            Outcome::Created(stamp)
        })
    }

    /// Deletes document `id`.
    pub fn delete_doc(&self, id: &str, cond: &Condition) -> Result<Outcome, EsError> {
        let mut w = self.lock();
        let current = self.current(&w, id)?;
        self.check(id, current.as_ref(), cond)?;
        let stamp = Stamp {
            version: current.as_ref().map_or(1, |c| c.stamp.version + 1),
            seq_no: w.next_seq,
        };
        w.next_seq += 1;
        let Some(_) = current else {
            return Ok(Outcome::NotFound(stamp));
        };
        let record = Record {
            seq: stamp.seq_no,
            id: id.to_string(),
            version: stamp.version,
            source: None,
        };
        w.translog
            .append(&record)
            .map_err(|e| io_err("write-ahead log", e))?;
        w.writer()?
            .delete_term(Term::from_field_text(self.fields.id, id));
        w.pending += 1;
        w.live.insert(
            id.to_string(),
            Live {
                stamp,
                source: None,
            },
        );
        Ok(Outcome::Deleted(stamp))
    }

    fn replay(&self, w: &mut WriterState, r: Record) -> Result<(), EsError> {
        let stamp = Stamp {
            version: r.version,
            seq_no: r.seq,
        };
        let term = Term::from_field_text(self.fields.id, &r.id);
        match r.source {
            Some(source) => {
                let bytes = source.into_bytes();
                let parsed = document::parse_source(&bytes)?;
                let state = self.map_dynamic(&parsed)?;
                let doc = document::build(&self.fields, &state, &r.id, &bytes, &parsed, stamp)?;
                let writer = w.writer()?;
                writer.delete_term(term);
                writer.add_document(doc)?;
            }
            None => {
                w.writer()?.delete_term(term);
            }
        }
        w.next_seq = w.next_seq.max(r.seq + 1);
        w.pending += 1;
        Ok(())
    }

    /// Makes the writes of this request durable against a crash of the process (writes the
    /// write-ahead log out of the process).
    pub fn sync(&self) -> Result<(), EsError> {
        self.lock()
            .translog
            .sync()
            .map_err(|e| io_err("write-ahead log", e))
    }

    /// Whether writes wait for a refresh and the index's `refresh_interval` has passed.
    pub fn refresh_due(&self) -> bool {
        let Some(interval) = refresh_interval(self.state().settings.get("refresh_interval")) else {
            return false;
        };
        let w = self.lock();
        w.pending > 0 && w.last_refresh.elapsed() >= interval
    }

    /// Makes every write visible to searches: commits tantivy (recording the next sequence
    /// number) and empties the write-ahead log.
    pub fn refresh(&self) -> Result<(), EsError> {
        let mut w = self.lock();
        if w.pending == 0 {
            return Ok(());
        }
        let next_seq = w.next_seq.to_string();
        let writer = w.writer()?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&next_seq);
        prepared.commit()?;
        self.reader.reload()?;
        w.live.clear();
        w.pending = 0;
        w.last_refresh = Instant::now();
        w.translog.reset().map_err(|e| io_err("write-ahead log", e))
    }

    /// Merges `update` into the mapping.
    pub fn put_mapping(&self, update: &Value) -> Result<(), EsError> {
        let _w = self.lock();
        let state = self.state();
        let merged = merge(&state.mapping.json, update)?;
        let next = state.with_mapping(merged)?;
        self.set_state(next)
    }

    /// Applies a settings update.
    pub fn put_settings(&self, update: &Settings) -> Result<(), EsError> {
        let _w = self.lock();
        let state = self.state();
        let mut settings = state.settings.clone();
        settings.update(update)?;
        let next = state.with_settings(settings)?;
        self.set_state(next)
    }

    /// Stops the writer (waiting for merges) before the index is deleted.
    pub fn shut_down(&self) {
        let mut w = self.lock();
        if let Some(writer) = w.writer.take() {
            if let Err(e) = writer.wait_merging_threads() {
                tracing::warn!("index {}: stopping merges: {e}", self.name);
            }
        }
    }

    /// The directory of the index.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// New index metadata for `name`.
    pub fn new_meta(name: &str, uuid: &str, settings: Settings, mappings: Value) -> StoredMeta {
        StoredMeta {
            name: name.to_string(),
            uuid: uuid.to_string(),
            creation_date: chrono::Utc::now().timestamp_millis(),
            settings: settings.0,
            mappings,
            slots: Default::default(),
        }
    }
}

/// Checks a document id as Elasticsearch does.
pub fn validate_id(id: &str) -> Result<(), EsError> {
    if id.is_empty() {
        return Err(EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: id is missing;",
        ));
    }
    if id.len() > 512 {
        return Err(EsError::new(
            400,
            "action_request_validation_exception",
            format!(
                "Validation Failed: 1: id [{id}] is too long, must be no longer than 512 bytes but was: {};",
                id.len()
            ),
        ));
    }
    Ok(())
}

/// The automatic refresh interval of `refresh_interval` (default one second; `-1`: never).
pub fn refresh_interval(setting: Option<&Value>) -> Option<Duration> {
    let text = match setting {
        None | Some(Value::Null) => return Some(Duration::from_secs(1)),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    parse_time_value(&text)
}

/// Reads an Elasticsearch time value (`1s`, `500ms`, `2m`, `-1`); `None` for `-1`.
pub fn parse_time_value(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "-1" {
        return None;
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "d" => n * 86400.0,
        "h" => n * 3600.0,
        "m" => n * 60.0,
        "s" | "" => n,
        "ms" => n / 1000.0,
        "micros" => n / 1e6,
        "nanos" => n / 1e9,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}
