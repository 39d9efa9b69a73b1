//! Log files of test branches, hooks, checkpoint scripts and suite setups, with a size cap:
//! when a file grows past it, its oldest part is cut and a marker line says how much went,
//! so a noisy test keeps the end of its output (what explains a failure) and never fills the
//! disk. The cap is 64 MB, or `VERS_LOG_CAP` bytes.
//!
//! A log may keep a time index beside it (`NAME.log.times`: lines `OFFSET UNIX_MS`, one at
//! most per second of output) so `logs --since` keeps the lines written in a time window
//! without changing what the log says. Reading is by bytes, converted lossily from UTF-8,
//! and from the end of the file: a big log costs what is shown, not its size.

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

/// Copies a supervised process's stdout and stderr, as they come, into the capped,
/// time-indexed log `path` (see [`CappedLog::open_timed`]), until both pipes close.
pub fn pipe_into(
    stdout: Option<tokio::process::ChildStdout>,
    stderr: Option<tokio::process::ChildStderr>,
    path: &Path,
) -> io::Result<()> {
    let log = std::sync::Arc::new(std::sync::Mutex::new(CappedLog::open_timed(path, cap())?));
    fn copy<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
        pipe: Option<R>,
        log: std::sync::Arc<std::sync::Mutex<CappedLog>>,
    ) {
        let Some(mut pipe) = pipe else { return };
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                match pipe.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        // A log that cannot be written loses lines, never the service.
                        if let Ok(mut log) = log.lock() {
                            let _ = log.write(&chunk[..n]);
                        }
                    }
                }
            }
        });
    }
    copy(stdout, log.clone());
    copy(stderr, log);
    Ok(())
}

/// An append-only log file that keeps at most `cap` bytes.
pub struct CappedLog {
    path: PathBuf,
    file: File,
    len: u64,
    cap: u64,
    /// The time index, when kept, and the second of its last entry.
    times: Option<(File, u64)>,
}

/// The time index of log `path`.
pub fn times_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_os_string();
    p.push(".times");
    PathBuf::from(p)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Entries `(offset, unix_ms)` of a time index, in file order.
fn read_times(path: &Path) -> io::Result<Vec<(u64, u64)>> {
    let bytes = std::fs::read(times_path(path))?;
    Ok(String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| {
            let (o, t) = l.split_once(' ')?;
            Some((o.parse().ok()?, t.parse().ok()?))
        })
        .collect())
}

/// Reads `path` from byte `from` to its end, lossily as UTF-8.
fn read_from(path: &Path, from: u64) -> io::Result<String> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The last `n` lines of `path` (every line with `None`), reading blocks from its end until
/// enough lines are in; bytes that are not UTF-8 are replaced, never fatal.
pub fn tail_lines(path: &Path, n: Option<usize>) -> io::Result<Vec<String>> {
    let Some(n) = n else {
        return Ok(read_from(path, 0)?.lines().map(String::from).collect());
    };
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    const BLOCK: u64 = 64 * 1024;
    // n lines need n+1 line ends in view (the last byte may be the last line's end).
    while start > 0 && buf.iter().filter(|b| **b == b'\n').count() <= n {
        let from = start.saturating_sub(BLOCK);
        let mut block = vec![0u8; (start - from) as usize];
        f.seek(SeekFrom::Start(from))?;
        f.read_exact(&mut block)?;
        block.extend_from_slice(&buf);
        buf = block;
        start = from;
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().collect();
    // A block boundary may cut the first line: drop it unless it starts the file.
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    let from = lines.len().saturating_sub(n);
    Ok(lines[from..].iter().map(|l| l.to_string()).collect())
}

/// The last `lines` lines of `path`, lossily, for quoting the end of a log in an error
/// message (a read failure is said in place of the text).
pub fn tail_text(path: &Path, lines: usize) -> String {
    match tail_lines(path, Some(lines)) {
        Ok(l) => l.join("\n"),
        Err(e) => format!("({}: {e})", path.display()),
    }
}

/// The lines of `path` written at or after `since_ms` (Unix milliseconds), the last `n`
/// of them with `Some(n)`. A line's time is that of the output it began in, from the time
/// index; a log without one counts as written at its modification time.
pub fn lines_since(path: &Path, since_ms: u64, n: Option<usize>) -> io::Result<Vec<String>> {
    let times = match read_times(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mtime = std::fs::metadata(path)?
                .modified()?
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            return if mtime >= since_ms {
                tail_lines(path, n)
            } else {
                Ok(Vec::new())
            };
        }
        Err(e) => return Err(e),
    };
    let Some(&(offset, _)) = times.iter().find(|(_, t)| *t >= since_ms) else {
        return Ok(Vec::new());
    };
    let text = read_from(path, offset.saturating_sub(1))?;
    // Start at the first line that begins at or after `offset`.
    let text = if offset == 0 {
        text.as_str()
    } else {
        match text.find('\n') {
            Some(i) => &text[i + 1..],
            None => "",
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    let from = n.map(|n| lines.len().saturating_sub(n)).unwrap_or(0);
    Ok(lines[from..].iter().map(|l| l.to_string()).collect())
}

impl CappedLog {
    /// Opens (creating) `path` for appending, with the given cap.
    pub fn open(path: &Path, cap: u64) -> io::Result<CappedLog> {
        CappedLog::open_with(path, cap, false)
    }

    /// Opens `path` like [`CappedLog::open`], keeping a time index beside it.
    pub fn open_timed(path: &Path, cap: u64) -> io::Result<CappedLog> {
        CappedLog::open_with(path, cap, true)
    }

    fn open_with(path: &Path, cap: u64, timed: bool) -> io::Result<CappedLog> {
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
            times: None,
        };
        if timed {
            let times = OpenOptions::new()
                .create(true)
                .append(true)
                .open(times_path(path))?;
            log.times = Some((times, 0));
        }
        if log.len > log.cap {
            log.cut()?;
        }
        Ok(log)
    }

    /// Appends `buf`, cutting the file's head when it passes the cap.
    pub fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some((times, last)) = &mut self.times {
            let ms = now_ms();
            if ms / 1000 != *last {
                writeln!(times, "{} {ms}", self.len)?;
                *last = ms / 1000;
            }
        }
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
        let new_len = self.file.metadata()?.len();
        if self.times.is_some() {
            self.cut_times(total, total - dropped, new_len)?;
        }
        self.len = new_len;
        Ok(())
    }

    /// Rewrites the time index after a cut that kept the last `kept` of `total` bytes (now
    /// the last `kept` of `new_len`): kept entries move with their bytes; the new head takes
    /// the time of the last entry cut.
    fn cut_times(&mut self, total: u64, kept: u64, new_len: u64) -> io::Result<()> {
        let entries = read_times(&self.path).unwrap_or_default();
        let cut_at = total - kept;
        let shift = |o: u64| o - cut_at + (new_len - kept);
        let mut out = String::new();
        if let Some((_, t)) = entries.iter().rev().find(|(o, _)| *o < cut_at) {
            out.push_str(&format!("0 {t}\n"));
        }
        for (o, t) in entries.iter().filter(|(o, _)| *o >= cut_at) {
            out.push_str(&format!("{} {t}\n", shift(*o)));
        }
        let path = times_path(&self.path);
        let tmp = self.path.with_extension("times.cut");
        std::fs::write(&tmp, out)?;
        std::fs::rename(&tmp, &path)?;
        let last = self.times.as_ref().map(|(_, l)| *l).unwrap_or(0);
        let file = OpenOptions::new().append(true).open(&path)?;
        self.times = Some((file, last));
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

    #[test]
    fn tails_are_read_lossily_from_the_end() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("s.log");
        let mut bytes = Vec::new();
        for i in 0..50_000 {
            bytes.extend_from_slice(format!("line {i} ").as_bytes());
            bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
        }
        std::fs::write(&path, &bytes).unwrap();
        let last = tail_lines(&path, Some(3)).unwrap();
        assert_eq!(last.len(), 3);
        assert!(last[0].starts_with("line 49997 "), "{last:?}");
        assert!(last[2].starts_with("line 49999 \u{fffd}"), "{last:?}");
        // Across block boundaries, every line whole.
        let many = tail_lines(&path, Some(20_000)).unwrap();
        assert_eq!(many.len(), 20_000);
        assert!(many[0].starts_with("line 30000 "), "{}", many[0]);
        assert_eq!(tail_lines(&path, None).unwrap().len(), 50_000);
        assert_eq!(tail_lines(&path, Some(100_000)).unwrap().len(), 50_000);
        assert!(tail_text(&d.path().join("none.log"), 5).contains("none.log"));
    }

    #[test]
    fn since_keeps_the_lines_written_after_the_cutoff_across_cuts() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("t.log");
        let mut log = CappedLog::open_timed(&path, 64 * 1024).unwrap();
        log.write(b"old 1\nold 2\n").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let cutoff = now_ms();
        log.write(b"new 1\n").unwrap();
        log.write(b"new 2\n").unwrap();
        let lines = lines_since(&path, cutoff, None).unwrap();
        assert_eq!(lines, vec!["new 1", "new 2"]);
        assert_eq!(lines_since(&path, cutoff, Some(1)).unwrap(), vec!["new 2"]);
        assert_eq!(lines_since(&path, 0, None).unwrap().len(), 4);
        assert!(lines_since(&path, now_ms() + 5000, None)
            .unwrap()
            .is_empty());
        // Past the cap the index moves with the kept bytes.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let cutoff = now_ms();
        for i in 0..10_000 {
            log.write(format!("late {i}\n").as_bytes()).unwrap();
        }
        let lines = lines_since(&path, cutoff, None).unwrap();
        assert!(
            lines[0].starts_with("[vers: "),
            "the cut is shown: {:?}",
            &lines[..3]
        );
        assert!(
            lines[1..].iter().all(|l| l.starts_with("late ")),
            "{:?}",
            &lines[..3]
        );
        assert_eq!(lines.last().unwrap(), "late 9999");
        assert!(std::fs::metadata(&path).unwrap().len() <= 64 * 1024);
        // A log without an index counts as written at its modification time.
        let plain = d.path().join("p.log");
        std::fs::write(&plain, "a\nb\n").unwrap();
        assert_eq!(lines_since(&plain, cutoff, None).unwrap().len(), 2);
        assert!(lines_since(&plain, now_ms() + 5000, None)
            .unwrap()
            .is_empty());
    }
}
