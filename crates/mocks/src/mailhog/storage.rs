//! Captured messages: kept in memory and, with `storage: maildir`, in an append-only log in
//! the data directory (`messages.log`), one framed and checksummed record per message or
//! deletion. One `write` per message keeps capture cheap; at start the log is replayed, a
//! record torn by a killed process is cut off, and a log that is mostly deleted messages is
//! compacted (temp file + rename). A filesystem snapshot thus always holds whole messages.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use indexmap::IndexMap;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::MailhogError;

/// Domain part of message ids, as MailHog's.
const ID_DOMAIN: &str = "mailhog.example";
const LOG_FILE: &str = "messages.log";
const MAGIC: &[u8; 4] = b"VMH1";
const FRAME_LEN: usize = 4 + 1 + 4 + 4;
const KIND_MESSAGE: u8 = b'M';
const KIND_DELETE: u8 = b'D';

/// Where messages are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageMode {
    /// In memory only: lost on restart, not captured by checkpoints.
    Memory,
    /// In the data directory, reloaded at start (the default).
    Maildir,
}

impl StorageMode {
    /// Reads `storage` from the service config (default `maildir`).
    pub fn from_config(config: &serde_json::Value) -> Result<Self, MailhogError> {
        let value = match config {
            serde_json::Value::Null => None,
            serde_json::Value::Object(map) => map.get("storage").filter(|v| !v.is_null()),
            other => {
                return Err(MailhogError::Config {
                    message: format!("expected a map, found {other}"),
                })
            }
        };
        match value {
            None => Ok(StorageMode::Maildir),
            Some(v) => match v.as_str() {
                Some("memory") => Ok(StorageMode::Memory),
                Some("maildir") => Ok(StorageMode::Maildir),
                _ => Err(MailhogError::Config {
                    message: format!("storage: expected `memory` or `maildir`, found {v}"),
                }),
            },
        }
    }
}

/// The SMTP envelope of a message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Envelope {
    /// Name the client gave in HELO/EHLO.
    pub helo: String,
    /// Reverse path of MAIL FROM (empty for the null sender).
    pub from: String,
    /// Parameters after MAIL FROM (e.g. `BODY=8BITMIME`).
    pub from_params: String,
    /// Forward paths of RCPT TO.
    pub to: Vec<String>,
}

/// Metadata line at the top of a message record.
#[derive(Debug, Serialize, Deserialize)]
struct RecordHeader {
    id: String,
    created_ns: u64,
    #[serde(flatten)]
    envelope: Envelope,
}

/// One captured message.
#[derive(Debug)]
pub struct StoredMessage {
    /// MailHog-style id, `RANDOM@mailhog.example`.
    pub id: String,
    /// When it was received.
    pub created: SystemTime,
    /// The SMTP envelope.
    pub envelope: Envelope,
    /// The message as received after dot-unstuffing.
    pub raw: Vec<u8>,
}

/// The open log of a `maildir` store.
struct Log {
    path: PathBuf,
    file: File,
}

/// All captured messages in arrival order.
pub struct MessageStore {
    log: Option<Mutex<Log>>,
    messages: RwLock<IndexMap<String, Arc<StoredMessage>>>,
}

impl MessageStore {
    /// Opens the store: in memory, or replaying `data_dir/messages.log`.
    pub fn open(mode: StorageMode, data_dir: &Path) -> Result<Self, MailhogError> {
        let mut messages = IndexMap::new();
        let log = match mode {
            StorageMode::Memory => None,
            StorageMode::Maildir => {
                fs::create_dir_all(data_dir).map_err(io_error(data_dir))?;
                let path = data_dir.join(LOG_FILE);
                let (replayed, deletions) = replay(&path)?;
                if deletions > replayed.len() {
                    rewrite(&path, replayed.values())?;
                }
                messages = replayed;
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(io_error(&path))?;
                Some(Mutex::new(Log { path, file }))
            }
        };
        Ok(MessageStore {
            log,
            messages: RwLock::new(messages),
        })
    }

    /// Stores a new message and returns its id.
    pub fn add(&self, envelope: Envelope, raw: Vec<u8>) -> Result<String, MailhogError> {
        let mut random = [0u8; 15];
        rand::rng().fill_bytes(&mut random);
        let id = format!("{}@{ID_DOMAIN}", URL_SAFE_NO_PAD.encode(random));
        let message = Arc::new(StoredMessage {
            id: id.clone(),
            created: SystemTime::now(),
            envelope,
            raw,
        });
        match &self.log {
            None => {
                self.write_lock().insert(id.clone(), message);
            }
            Some(log) => {
                let record = message_record(&message)?;
                let mut log = lock(log);
                append(&mut log, &record)?;
                // Inserting while the log is locked keeps memory in log order.
                self.write_lock().insert(id.clone(), message);
            }
        }
        Ok(id)
    }

    /// Messages newest first.
    pub fn newest_first(&self) -> Vec<Arc<StoredMessage>> {
        self.read_lock().values().rev().cloned().collect()
    }

    /// The message with `id`.
    pub fn get(&self, id: &str) -> Option<Arc<StoredMessage>> {
        self.read_lock().get(id).cloned()
    }

    /// Deletes the message with `id`; false if there was none.
    pub fn delete(&self, id: &str) -> Result<bool, MailhogError> {
        match &self.log {
            None => Ok(self.write_lock().shift_remove(id).is_some()),
            Some(log) => {
                let mut log = lock(log);
                if !self.read_lock().contains_key(id) {
                    return Ok(false);
                }
                append(&mut log, &frame(KIND_DELETE, id.as_bytes()))?;
                self.write_lock().shift_remove(id);
                Ok(true)
            }
        }
    }

    /// Deletes every message (replacing the log by an empty one).
    pub fn delete_all(&self) -> Result<(), MailhogError> {
        match &self.log {
            None => self.write_lock().clear(),
            Some(log) => {
                let mut log = lock(log);
                rewrite(&log.path, std::iter::empty())?;
                log.file = OpenOptions::new()
                    .append(true)
                    .open(&log.path)
                    .map_err(io_error(&log.path))?;
                self.write_lock().clear();
            }
        }
        Ok(())
    }

    fn read_lock(&self) -> std::sync::RwLockReadGuard<'_, IndexMap<String, Arc<StoredMessage>>> {
        self.messages
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_lock(&self) -> std::sync::RwLockWriteGuard<'_, IndexMap<String, Arc<StoredMessage>>> {
        self.messages
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn lock(log: &Mutex<Log>) -> std::sync::MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> MailhogError + '_ {
    move |source| MailhogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `MAGIC | kind | payload length (u32 LE) | CRC-32 of payload (u32 LE) | payload`.
fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(kind);
    out.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn message_record(message: &StoredMessage) -> Result<Vec<u8>, MailhogError> {
    let header = RecordHeader {
        id: message.id.clone(),
        created_ns: message
            .created
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0),
        envelope: message.envelope.clone(),
    };
    let mut payload = serde_json::to_vec(&header).map_err(|e| MailhogError::Io {
        path: PathBuf::from(LOG_FILE),
        source: e.into(),
    })?;
    payload.push(b'\n');
    payload.extend_from_slice(&message.raw);
    Ok(frame(KIND_MESSAGE, &payload))
}

/// Appends one record with a single write.
fn append(log: &mut Log, record: &[u8]) -> Result<(), MailhogError> {
    log.file.write_all(record).map_err(io_error(&log.path))
}

/// Parses one record at the start of `bytes`: its kind, payload and total length, or
/// `None` if the bytes do not hold a whole valid record.
fn parse_record(bytes: &[u8]) -> Option<(u8, &[u8], usize)> {
    if bytes.len() < FRAME_LEN || &bytes[..4] != MAGIC {
        return None;
    }
    let kind = bytes[4];
    let len = u32::from_le_bytes(bytes[5..9].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes[9..13].try_into().ok()?);
    let payload = bytes.get(FRAME_LEN..FRAME_LEN + len)?;
    (crc32fast::hash(payload) == crc).then_some((kind, payload, FRAME_LEN + len))
}

fn decode_message(payload: &[u8]) -> Option<StoredMessage> {
    let split = payload.iter().position(|&b| b == b'\n')?;
    let header: RecordHeader = serde_json::from_slice(&payload[..split]).ok()?;
    Some(StoredMessage {
        id: header.id,
        created: UNIX_EPOCH + Duration::from_nanos(header.created_ns),
        envelope: header.envelope,
        raw: payload[split + 1..].to_vec(),
    })
}

type Replayed = (IndexMap<String, Arc<StoredMessage>>, usize);

/// Replays the log: live messages in order and the number of deleted ones. A tail that is
/// not a whole valid record (a write cut short by a kill) is truncated away.
fn replay(path: &Path) -> Result<Replayed, MailhogError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok((IndexMap::new(), 0)),
        Err(source) => {
            return Err(MailhogError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let mut messages = IndexMap::new();
    let mut deletions = 0;
    let mut offset = 0;
    while let Some((kind, payload, len)) = parse_record(&bytes[offset..]) {
        match kind {
            KIND_MESSAGE => {
                if let Some(m) = decode_message(payload) {
                    messages.insert(m.id.clone(), Arc::new(m));
                }
            }
            KIND_DELETE => {
                let id = String::from_utf8_lossy(payload);
                deletions += usize::from(messages.shift_remove(id.as_ref()).is_some());
            }
            _ => {}
        }
        offset += len;
    }
    if offset < bytes.len() {
        tracing::warn!(
            "mailhog: dropping {} bytes of incomplete record at the end of {}",
            bytes.len() - offset,
            path.display()
        );
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_error(path))?;
        file.set_len(offset as u64).map_err(io_error(path))?;
    }
    Ok((messages, deletions))
}

/// Atomically replaces the log with one holding only `messages`.
fn rewrite<'a>(
    path: &Path,
    messages: impl Iterator<Item = &'a Arc<StoredMessage>>,
) -> Result<(), MailhogError> {
    let tmp = path.with_extension("log.tmp");
    let mut file = File::create(&tmp).map_err(io_error(&tmp))?;
    for message in messages {
        file.write_all(&message_record(message)?)
            .map_err(io_error(&tmp))?;
    }
    drop(file);
    fs::rename(&tmp, path).map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope() -> Envelope {
        Envelope {
            helo: "client".into(),
            from: "a@x.io".into(),
            from_params: "BODY=8BITMIME".into(),
            to: vec!["b@y.io".into()],
        }
    }

    fn ids(store: &MessageStore) -> Vec<String> {
        store.newest_first().iter().map(|m| m.id.clone()).collect()
    }

    #[test]
    fn log_is_replayed_in_order_with_deletions() {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(StorageMode::Maildir, dir.path()).unwrap();
        let first = store
            .add(envelope(), b"Subject: 1\r\n\r\none\r\n".to_vec())
            .unwrap();
        let second = store
            .add(envelope(), b"Subject: 2\r\n\r\ntwo\r\n".to_vec())
            .unwrap();
        let third = store
            .add(envelope(), b"Subject: 3\r\n\r\n3\r\n".to_vec())
            .unwrap();
        assert!(store.delete(&second).unwrap());
        assert!(!store.delete(&second).unwrap());
        let reopened = MessageStore::open(StorageMode::Maildir, dir.path()).unwrap();
        assert_eq!(ids(&reopened), vec![third.clone(), first.clone()]);
        assert_eq!(reopened.get(&first).unwrap().envelope, envelope());
        assert_eq!(
            reopened.get(&third).unwrap().raw,
            b"Subject: 3\r\n\r\n3\r\n"
        );
        reopened.delete_all().unwrap();
        assert!(ids(&MessageStore::open(StorageMode::Maildir, dir.path()).unwrap()).is_empty());
        reopened.add(envelope(), b"x".to_vec()).unwrap();
        assert_eq!(
            ids(&MessageStore::open(StorageMode::Maildir, dir.path()).unwrap()).len(),
            1
        );
    }

    #[test]
    fn torn_tail_is_cut_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(StorageMode::Maildir, dir.path()).unwrap();
        let kept = store
            .add(envelope(), b"Subject: kept\r\n\r\nk\r\n".to_vec())
            .unwrap();
        drop(store);
        let path = dir.path().join(LOG_FILE);
        let whole = fs::read(&path).unwrap();
        let mut torn = whole.clone();
        torn.extend_from_slice(&whole[..whole.len() / 2]);
        fs::write(&path, &torn).unwrap();
        let store = MessageStore::open(StorageMode::Maildir, dir.path()).unwrap();
        assert_eq!(ids(&store), vec![kept.clone()]);
        assert_eq!(fs::read(&path).unwrap().len(), whole.len());
        let next = store
            .add(envelope(), b"Subject: next\r\n\r\nn\r\n".to_vec())
            .unwrap();
        let reopened = MessageStore::open(StorageMode::Maildir, dir.path()).unwrap();
        assert_eq!(ids(&reopened), vec![next, kept]);
    }

    #[test]
    fn mostly_deleted_log_is_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(StorageMode::Maildir, dir.path()).unwrap();
        let keep = store.add(envelope(), vec![b'k'; 100]).unwrap();
        for _ in 0..3 {
            let id = store.add(envelope(), vec![b'x'; 1000]).unwrap();
            store.delete(&id).unwrap();
        }
        let path = dir.path().join(LOG_FILE);
        let before = fs::metadata(&path).unwrap().len();
        let reopened = MessageStore::open(StorageMode::Maildir, dir.path()).unwrap();
        assert!(fs::metadata(&path).unwrap().len() < before / 4);
        assert_eq!(ids(&reopened), vec![keep]);
    }

    #[test]
    fn memory_mode_writes_no_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = MessageStore::open(StorageMode::Memory, dir.path()).unwrap();
        let id = store.add(envelope(), b"x".to_vec()).unwrap();
        assert_eq!(ids(&store), vec![id.clone()]);
        assert!(store.delete(&id).unwrap());
        assert!(!dir.path().join(LOG_FILE).exists());
    }

    #[test]
    fn storage_mode_from_config() {
        assert_eq!(
            StorageMode::from_config(&json!(null)).unwrap(),
            StorageMode::Maildir
        );
        assert_eq!(
            StorageMode::from_config(&json!({"storage": "memory"})).unwrap(),
            StorageMode::Memory
        );
        assert!(StorageMode::from_config(&json!({"storage": "s3"})).is_err());
    }
}
