//! Log files of test branches, hooks, checkpoint scripts and suite setups, with a size cap:
//! when a file grows past it, its oldest part is cut and a marker line says how much went,
//! so a noisy test keeps the end of its output (what explains a failure) and never fills the
//! disk. The cap is 64 MB, or `VERS_LOG_CAP` bytes.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Default cap of one log file, in bytes.
pub const DEFAULT_CAP: u64 = 64 * 1024 * 1024;

/// Variable overriding the cap (bytes).
pub const CAP_VAR: &str = "VERS_LOG_CAP";

/// The cap in force: `VERS_LOG_CAP` when it is a number of at least 4 KiB, else the default.
pub fn cap() -> u64 {
    std::env::var(CAP_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n >= 4096)
        .unwrap_or(DEFAULT_CAP)
}

/// An append-only log file that keeps at most `cap` bytes.
pub struct CappedLog {
    path: PathBuf,
    file: File,
    len: u64,
    cap: u64,
}

impl CappedLog {
    /// Opens (creating) `path` for appending, with the given cap.
    pub fn open(path: &Path, cap: u64) -> io::Result<CappedLog> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        let mut log = CappedLog {
            path: path.to_path_buf(),
            file,
            len,
            cap,
        };
        if log.len > log.cap {
            log.cut()?;
        }
        Ok(log)
    }

    /// Appends `buf`, cutting the file's head when it passes the cap.
    pub fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)?;
        self.len += buf.len() as u64;
        if self.len > self.cap {
            self.cut()?;
        }
        Ok(())
    }

    /// Keeps the last half of the cap (from a line start), behind a marker line, by writing
    /// a new file and renaming it over the old one.
    fn cut(&mut self) -> io::Result<()> {
        let keep = self.cap / 2;
        let mut src = File::open(&self.path)?;
        let total = src.metadata()?.len();
        src.seek(SeekFrom::Start(total.saturating_sub(keep)))?;
        let mut tail = Vec::with_capacity(keep as usize);
        src.read_to_end(&mut tail)?;
        let start = match tail.iter().position(|b| *b == b'\n') {
            Some(i) if i + 1 < tail.len() => i + 1,
            _ => 0,
        };
        let dropped = total - (tail.len() - start) as u64;
        let tmp = self.path.with_extension("log.cut");
        {
            let mut out = File::create(&tmp)?;
            writeln!(
                out,
                "[vers: {dropped} earlier bytes of this log were cut; it keeps at most {} bytes ({CAP_VAR})]",
                self.cap
            )?;
            out.write_all(&tail[start..])?;
        }
        std::fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.len = self.file.metadata()?.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_past_its_cap_keeps_its_tail_behind_a_marker() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("b.log");
        let mut log = CappedLog::open(&path, 8192).unwrap();
        for i in 0..2000 {
            log.write(format!("line {i}\n").as_bytes()).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.len() <= 8192, "{} bytes", text.len());
        assert!(text.starts_with("[vers: "), "{}", &text[..80]);
        assert!(text.contains("earlier bytes of this log were cut"));
        assert!(text.ends_with("line 1999\n"));
        // Whole lines only after the marker.
        let second = text.lines().nth(1).unwrap();
        assert!(second.starts_with("line "), "{second}");
        // A reopened log over its cap is cut at once.
        std::fs::write(&path, "x\n".repeat(10_000)).unwrap();
        CappedLog::open(&path, 8192).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() <= 8192);
    }
}
