//! Remembering what version probes printed. Discovering an engine runs `postgres --version`
//! (and the like) for every installed binary; at 8–12 ms a process that was most of a cold
//! branch's start (issue 15). A probe's answer depends only on the binary, so it is kept per
//! (path, args, size, mtime, inode) in memory and in `<engine cache>/probes.json`: a binary
//! that is replaced or upgraded has another identity and is probed again.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// Name of the on-disk cache inside the engine cache directory.
const FILE_NAME: &str = "probes.json";

/// Probe answers by identity (`None`: the probe failed).
type Answers = HashMap<String, Option<String>>;

/// This process's answers, loaded from disk on first use.
fn memory() -> &'static Mutex<Option<Answers>> {
    static CACHE: OnceLock<Mutex<Option<Answers>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(None))
}

/// The identity of `program` run with `args`, or `None` when it cannot be read (then the
/// probe is not cached).
fn key(program: &Path, args: &[&str]) -> Option<String> {
    let meta = std::fs::metadata(program).ok()?;
    Some(format!(
        "{}\u{0}{}\u{0}{}\u{0}{}.{}\u{0}{}",
        program.display(),
        args.join("\u{1}"),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ino()
    ))
}

fn load(dir: &Path) -> Answers {
    std::fs::read(dir.join(FILE_NAME))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Writes the cache beside its final name and renames it, so a reader never sees half a file.
/// Best effort: a cache that cannot be written only costs the next process a probe.
fn store(dir: &Path, map: &Answers) {
    let Ok(text) = serde_json::to_vec(map) else {
        return;
    };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = dir.join(format!("{FILE_NAME}.{}.tmp", std::process::id()));
    if std::fs::write(&tmp, text).is_ok() && std::fs::rename(&tmp, dir.join(FILE_NAME)).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// What `probe` returns for `program args`, from the cache when this binary was probed
/// before; the cache lives in `dir`.
pub(crate) fn cached_in(
    dir: &Path,
    program: &Path,
    args: &[&str],
    probe: impl FnOnce() -> Option<String>,
) -> Option<String> {
    let Some(key) = key(program, args) else {
        return probe();
    };
    {
        let mut guard = memory().lock().unwrap_or_else(|e| e.into_inner());
        let map = guard.get_or_insert_with(|| load(dir));
        if let Some(hit) = map.get(&key) {
            return hit.clone();
        }
    }
    let answer = probe();
    let mut guard = memory().lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(|| load(dir));
    // Another process may have added entries meanwhile: merge them before writing.
    for (k, v) in load(dir) {
        map.entry(k).or_insert(v);
    }
    map.insert(key, answer.clone());
    store(dir, map);
    answer
}

/// [`cached_in`] the engine cache directory.
pub(crate) fn cached(
    program: &Path,
    args: &[&str],
    probe: impl FnOnce() -> Option<String>,
) -> Option<String> {
    cached_in(&crate::engines::cache_dir(), program, args, probe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn probes_a_binary_once_and_again_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("engine");
        std::fs::write(&bin, "v1").unwrap();
        let calls = Cell::new(0);
        let probe = || {
            calls.set(calls.get() + 1);
            Some(format!("engine {}", std::fs::read_to_string(&bin).unwrap()))
        };
        let cache = dir.path().join("cache");
        assert_eq!(
            cached_in(&cache, &bin, &["--version"], probe).as_deref(),
            Some("engine v1")
        );
        assert_eq!(
            cached_in(&cache, &bin, &["--version"], probe).as_deref(),
            Some("engine v1")
        );
        assert_eq!(calls.get(), 1, "the second probe came from the cache");
        assert!(
            load(&cache)
                .values()
                .any(|v| v.as_deref() == Some("engine v1")),
            "the answer is kept on disk for the next process"
        );
        // Other arguments are another probe.
        cached_in(&cache, &bin, &["-V"], probe);
        assert_eq!(calls.get(), 2);
        // An upgraded binary (other size) is probed again.
        std::fs::write(&bin, "v2.0").unwrap();
        assert_eq!(
            cached_in(&cache, &bin, &["--version"], probe).as_deref(),
            Some("engine v2.0")
        );
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn a_missing_binary_is_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let calls = Cell::new(0);
        let probe = || {
            calls.set(calls.get() + 1);
            None
        };
        let missing = dir.path().join("nope");
        cached_in(dir.path(), &missing, &["--version"], probe);
        cached_in(dir.path(), &missing, &["--version"], probe);
        assert_eq!(calls.get(), 2);
    }
}
