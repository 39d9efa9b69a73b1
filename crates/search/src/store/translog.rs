//! The write-ahead log of an index: every acknowledged write since the last tantivy commit,
//! one JSON line each, written out of the process before the write is acknowledged and
//! replayed when the index opens. A line torn by a crash was never acknowledged and is
//! dropped. Like the tantivy files (see `directory`), the log is not `fsync`ed: it survives
//! the process being killed and a checkpoint's snapshot of a frozen process, not a power cut.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The file name of the log inside an index directory.
pub const TRANSLOG_FILE: &str = "translog.jsonl";

/// One logged write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Sequence number of the write.
    pub seq: u64,
    /// Document id.
    pub id: String,
    /// Version the document has after the write.
    pub version: u64,
    /// The new source; `None` for a delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// An open log.
#[derive(Debug)]
pub struct Translog {
    file: File,
    pending: Vec<u8>,
}

impl Translog {
    /// Opens (or creates) the log at `path`, returning it with the records it holds.
    pub fn open(path: &Path) -> std::io::Result<(Translog, Vec<Record>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut records = Vec::new();
        let mut good = 0u64;
        {
            let mut reader = BufReader::new(&file);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = reader.read_until(b'\n', &mut line)?;
                if n == 0 || line.last() != Some(&b'\n') {
                    break;
                }
                match serde_json::from_slice::<Record>(&line) {
                    Ok(r) => {
                        records.push(r);
                        good += n as u64;
                    }
                    Err(_) => break,
                }
            }
        }
        if file.metadata()?.len() != good {
            file.set_len(good)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::End(0))?;
        Ok((
            Translog {
                file,
                pending: Vec::new(),
            },
            records,
        ))
    }

    /// Queues `record`; [`Translog::sync`] writes it.
    pub fn append(&mut self, record: &Record) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.pending, record).map_err(std::io::Error::other)?;
        self.pending.push(b'\n');
        Ok(())
    }

    /// Writes the queued records into the file (the page cache).
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.pending)?;
        self.pending.clear();
        Ok(())
    }

    /// Empties the log (after a commit made every record in it durable).
    pub fn reset(&mut self) -> std::io::Result<()> {
        self.pending.clear();
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64) -> Record {
        Record {
            seq,
            id: format!("d{seq}"),
            version: 1,
            source: Some("{\"a\":1}".into()),
        }
    }

    #[test]
    fn records_survive_reopen_and_torn_tails_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TRANSLOG_FILE);
        let (mut log, old) = Translog::open(&path).unwrap();
        assert!(old.is_empty());
        log.append(&rec(1)).unwrap();
        log.append(&rec(2)).unwrap();
        log.sync().unwrap();
        drop(log);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":3,\"id\":\"d3\",\"ver").unwrap();
        drop(f);
        let (mut log, got) = Translog::open(&path).unwrap();
        assert_eq!(got, vec![rec(1), rec(2)]);
        log.append(&rec(3)).unwrap();
        log.sync().unwrap();
        let (mut log, got) = Translog::open(&path).unwrap();
        assert_eq!(got.len(), 3);
        log.reset().unwrap();
        let (_, got) = Translog::open(&path).unwrap();
        assert!(got.is_empty());
    }
}
