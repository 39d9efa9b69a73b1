//! The mock's state: objects by kind, in creation order, persisted in the data directory
//! as a snapshot (`state.json`, replaced atomically) plus an append-only journal
//! (`journal.jsonl`, one line per committed request). A torn last journal line, as left by
//! SIGKILL or a snapshot of a frozen process, is dropped on load.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::StripeError;

const SNAPSHOT: &str = "state.json";
const JOURNAL: &str = "journal.jsonl";
/// The journal is folded into the snapshot once it outgrows this and twice the snapshot.
const COMPACT_MIN_BYTES: u64 = 8 << 20;

/// All objects, grouped by kind (`customer`, `payment_intent`, `_delivery`, ...).
#[derive(Debug, Default)]
pub(crate) struct State {
    kinds: HashMap<String, IndexMap<String, Value>>,
    index: HashMap<String, String>,
    changed: Vec<(String, String)>,
}

impl State {
    /// The object `id` of `kind`.
    pub fn get(&self, kind: &str, id: &str) -> Option<&Value> {
        self.kinds.get(kind)?.get(id)
    }

    /// The object `id` whatever its kind, with its kind.
    pub fn get_any(&self, id: &str) -> Option<(&str, &Value)> {
        let kind = self.index.get(id)?;
        Some((kind.as_str(), self.kinds.get(kind)?.get(id)?))
    }

    /// Stores (creates or replaces) an object; replacing keeps its position.
    pub fn put(&mut self, kind: &str, id: &str, value: Value) {
        self.apply(kind, id, Some(value));
        self.changed.push((kind.to_string(), id.to_string()));
    }

    /// Removes an object.
    pub fn remove(&mut self, kind: &str, id: &str) {
        self.apply(kind, id, None);
        self.changed.push((kind.to_string(), id.to_string()));
    }

    /// The objects of `kind`, oldest first.
    pub fn all(&self, kind: &str) -> impl DoubleEndedIterator<Item = &Value> {
        self.kinds.get(kind).into_iter().flat_map(|m| m.values())
    }

    /// How many objects of `kind` exist.
    pub fn count(&self, kind: &str) -> usize {
        self.kinds.get(kind).map_or(0, IndexMap::len)
    }

    /// Whether nothing was ever stored.
    pub fn is_empty(&self) -> bool {
        self.kinds.values().all(IndexMap::is_empty)
    }

    fn apply(&mut self, kind: &str, id: &str, value: Option<Value>) {
        match value {
            Some(v) => {
                self.kinds
                    .entry(kind.to_string())
                    .or_default()
                    .insert(id.to_string(), v);
                self.index.insert(id.to_string(), kind.to_string());
            }
            None => {
                if let Some(map) = self.kinds.get_mut(kind) {
                    map.shift_remove(id);
                }
                if self.index.get(id).is_some_and(|k| k == kind) {
                    self.index.remove(id);
                }
            }
        }
    }

    /// Takes the keys changed since the last call (each once, in order of last change).
    fn take_changed(&mut self) -> Vec<(String, String)> {
        let mut seen = std::collections::HashSet::new();
        let changed = std::mem::take(&mut self.changed);
        let mut out: Vec<(String, String)> = changed
            .into_iter()
            .rev()
            .filter(|key| seen.insert(key.clone()))
            .collect();
        out.reverse();
        out
    }
}

/// One object written or removed by a commit, as read back from the journal.
#[derive(Debug, Deserialize)]
struct Change {
    k: String,
    i: String,
    v: Option<Value>,
}

/// One journal line, as read back.
#[derive(Debug, Deserialize)]
struct Entry {
    seq: u64,
    changes: Vec<Change>,
}

/// One object written or removed by a commit, borrowed from the state for writing.
#[derive(Debug, Serialize)]
struct ChangeRef<'a> {
    k: &'a str,
    i: &'a str,
    v: Option<&'a Value>,
}

/// One journal line, borrowed from the state for writing.
#[derive(Debug, Serialize)]
struct EntryRef<'a> {
    seq: u64,
    changes: Vec<ChangeRef<'a>>,
}

/// The snapshot file.
#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    seq: u64,
    kinds: Vec<(String, Vec<(String, Value)>)>,
}

/// The state together with the files that persist it.
#[derive(Debug)]
pub(crate) struct Store {
    /// The in-memory state, changed by request handlers and saved by [`Store::commit`].
    pub state: State,
    dir: PathBuf,
    journal: File,
    journal_bytes: u64,
    snapshot_bytes: u64,
    seq: u64,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StripeError + '_ {
    move |source| StripeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Store {
    /// Loads the state saved in `dir` (creating the directory if needed).
    pub fn open(dir: &Path) -> Result<Store, StripeError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut state = State::default();
        let snap_path = dir.join(SNAPSHOT);
        let mut seq = 0;
        let mut snapshot_bytes = 0;
        match fs::read(&snap_path) {
            Ok(bytes) => {
                snapshot_bytes = bytes.len() as u64;
                let snap: Snapshot =
                    serde_json::from_slice(&bytes).map_err(|e| StripeError::Corrupt {
                        path: snap_path.clone(),
                        message: e.to_string(),
                    })?;
                seq = snap.seq;
                for (kind, objects) in snap.kinds {
                    for (id, value) in objects {
                        state.apply(&kind, &id, Some(value));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&snap_path)(e)),
        }
        let journal_path = dir.join(JOURNAL);
        let valid_len = replay(&journal_path, &mut state, &mut seq)?;
        let journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path)
            .map_err(io_err(&journal_path))?;
        if journal.metadata().map_err(io_err(&journal_path))?.len() != valid_len {
            tracing::warn!(path = %journal_path.display(), "dropping a torn journal tail");
            journal.set_len(valid_len).map_err(io_err(&journal_path))?;
        }
        Ok(Store {
            state,
            dir: dir.to_path_buf(),
            journal,
            journal_bytes: valid_len,
            snapshot_bytes,
            seq,
        })
    }

    /// Appends the changes made since the last commit to the journal (one line), folding the
    /// journal into a new snapshot when it has grown large.
    pub fn commit(&mut self) -> Result<(), StripeError> {
        let changed = self.state.take_changed();
        if changed.is_empty() {
            return Ok(());
        }
        self.seq += 1;
        let entry = EntryRef {
            seq: self.seq,
            changes: changed
                .iter()
                .map(|(k, i)| ChangeRef {
                    k,
                    i,
                    v: self.state.get(k, i),
                })
                .collect(),
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| StripeError::Corrupt {
            path: self.dir.join(JOURNAL),
            message: format!("cannot encode a journal entry: {e}"),
        })?;
        line.push(b'\n');
        let path = self.dir.join(JOURNAL);
        self.journal.write_all(&line).map_err(io_err(&path))?;
        self.journal_bytes += line.len() as u64;
        if self.journal_bytes > COMPACT_MIN_BYTES.max(2 * self.snapshot_bytes) {
            self.compact()?;
        }
        Ok(())
    }

    /// Writes the whole state as a new snapshot (temp file + rename), then empties the journal.
    pub fn compact(&mut self) -> Result<(), StripeError> {
        let snap = Snapshot {
            seq: self.seq,
            kinds: self
                .state
                .kinds
                .iter()
                .map(|(k, m)| {
                    (
                        k.clone(),
                        m.iter().map(|(i, v)| (i.clone(), v.clone())).collect(),
                    )
                })
                .collect(),
        };
        let path = self.dir.join(SNAPSHOT);
        let bytes = serde_json::to_vec(&snap).map_err(|e| StripeError::Corrupt {
            path: path.clone(),
            message: format!("cannot encode the snapshot: {e}"),
        })?;
        write_atomic(&path, &bytes)?;
        self.snapshot_bytes = bytes.len() as u64;
        let journal_path = self.dir.join(JOURNAL);
        write_atomic(&journal_path, b"")?;
        self.journal = OpenOptions::new()
            .append(true)
            .open(&journal_path)
            .map_err(io_err(&journal_path))?;
        self.journal_bytes = 0;
        Ok(())
    }
}

/// Applies the journal's complete entries newer than `seq`; returns the length of the valid
/// prefix of the file.
fn replay(path: &Path, state: &mut State, seq: &mut u64) -> Result<u64, StripeError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut reader = BufReader::new(file);
    let mut valid = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io_err(path))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        let Ok(entry) = serde_json::from_slice::<Entry>(&line) else {
            break;
        };
        if entry.seq > *seq {
            for c in entry.changes {
                state.apply(&c.k, &c.i, c.v);
            }
            *seq = entry.seq;
        }
        valid += n as u64;
    }
    Ok(valid)
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StripeError> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commits_survive_reopen_and_torn_tails_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(dir.path()).unwrap();
            s.state.put("customer", "cus_1", json!({"id": "cus_1"}));
            s.state.put("customer", "cus_2", json!({"id": "cus_2"}));
            s.commit().unwrap();
            s.state
                .put("customer", "cus_1", json!({"id": "cus_1", "name": "x"}));
            s.state.remove("customer", "cus_2");
            s.commit().unwrap();
        }
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(JOURNAL))
            .unwrap();
        f.write_all(b"{\"seq\":3,\"changes\":[{\"k\":\"customer\"")
            .unwrap();
        drop(f);
        let mut s = Store::open(dir.path()).unwrap();
        assert_eq!(s.state.get("customer", "cus_1").unwrap()["name"], "x");
        assert!(s.state.get("customer", "cus_2").is_none());
        s.state.put("customer", "cus_3", json!({"id": "cus_3"}));
        s.commit().unwrap();
        s.compact().unwrap();
        s.state.put("customer", "cus_4", json!({"id": "cus_4"}));
        s.commit().unwrap();
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        let ids: Vec<_> = s.state.all("customer").map(|v| v["id"].clone()).collect();
        assert_eq!(ids, vec![json!("cus_1"), json!("cus_3"), json!("cus_4")]);
        assert_eq!(s.state.get_any("cus_3").unwrap().0, "customer");
    }
}
