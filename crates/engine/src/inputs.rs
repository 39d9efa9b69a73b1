//! The project files a checkpoint's cache key covers (SPEC: "every file of the project that
//! git would track (outside git: all but `.vers/`)"): tracked files and untracked files git
//! does not ignore when the project is in a git work tree; otherwise every file under the
//! project directory except `.vers/`, `.git/` and `node_modules/` (installed dependencies,
//! which their lockfile already stands for). Either way `vers-export/` at the project's top,
//! where `vers export` writes what it derives from the manifest, is left out, so exporting
//! never makes the next `up` or `test` re-seed; so are the files vers wrote into the
//! project itself (a `--junit` report, see [`note_written`]).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use globset::GlobSet;
use sha2::{Digest, Sha256};

/// Directories never part of a project's inputs.
const SKIPPED_DIRS: &[&str] = &[".vers", ".git", "node_modules"];

/// Top-level directories vers itself writes into (`vers export`'s default output).
const OUTPUT_DIRS: &[&str] = &["vers-export"];

/// The content hash of every input file of a project, by path relative to the project.
#[derive(Debug, Clone, Default)]
pub struct ProjectFiles {
    files: Vec<(PathBuf, [u8; 32])>,
}

impl ProjectFiles {
    /// Reads the input files of the project in `dir` (see the module docs). Files that cannot
    /// be read (a tracked file deleted from the work tree) are left out.
    pub fn read(dir: &Path) -> ProjectFiles {
        let mut paths = git_files(dir).unwrap_or_else(|| walk(dir));
        let written = written_files(dir);
        paths.retain(|p| !written.contains(p));
        paths.retain(|p| {
            p.components().next().is_none_or(|c| {
                let first = c.as_os_str().to_string_lossy();
                !SKIPPED_DIRS.contains(&first.as_ref()) && !OUTPUT_DIRS.contains(&first.as_ref())
            })
        });
        paths.sort();
        paths.dedup();
        let cache_path = dir.join(HASH_CACHE);
        let known = load_hashes(&cache_path);
        let now = SystemTime::now();
        let mut keep = Vec::new();
        let mut files = Vec::new();
        for rel in paths {
            let Ok(meta) = std::fs::metadata(dir.join(&rel)) else {
                continue;
            };
            let stamp = Stamp::of(&meta);
            let hash = match known.get(&rel) {
                Some((s, hash)) if *s == stamp => *hash,
                _ => match std::fs::read(dir.join(&rel)) {
                    Ok(bytes) => Sha256::digest(&bytes).into(),
                    Err(_) => continue,
                },
            };
            let racy = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_none_or(|age| age < RACY);
            if !racy {
                keep.push((rel.clone(), stamp, hash));
            }
            files.push((rel, hash));
        }
        let unchanged = keep.len() == known.len()
            && keep.iter().all(|(p, s, h)| known.get(p) == Some(&(*s, *h)));
        if !unchanged && dir.join(".vers").is_dir() {
            save_hashes(&cache_path, &keep);
        }
        ProjectFiles { files }
    }

    /// The relative paths of the input files, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(p, _)| p.as_path())
    }

    /// The files under `prefix` (a relative directory; empty or `.` for all) that match
    /// `only` when given, with the hash of each one's content.
    pub fn entries<'a>(
        &'a self,
        prefix: &Path,
        only: Option<&'a GlobSet>,
    ) -> impl Iterator<Item = (&'a Path, &'a [u8; 32])> + 'a {
        let prefix: PathBuf = prefix
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        self.files
            .iter()
            .filter(move |(path, _)| {
                path.starts_with(&prefix) && only.is_none_or(|set| set.is_match(path))
            })
            .map(|(path, hash)| (path.as_path(), hash))
    }

    /// A digest of the files [`entries`](Self::entries) lists: paths and contents.
    pub fn digest(&self, prefix: &Path, only: Option<&GlobSet>) -> String {
        let mut h = Sha256::new();
        for (path, hash) in self.entries(prefix, only) {
            h.update(path.to_string_lossy().as_bytes());
            h.update(b"\0");
            h.update(hash);
        }
        hex::encode(h.finalize())
    }
}

/// Where a project remembers its files' hashes between runs (see [`Stamp`]).
const HASH_CACHE: &str = ".vers/inputs/file-hashes";

/// A file changed this recently may change again without its mtime moving (the clock's
/// resolution; "racily clean" in git's words): its hash is not remembered.
const RACY: Duration = Duration::from_secs(2);

/// What must be unchanged for a file's remembered hash to stand for its content: size,
/// modification and change times (nanoseconds) and inode. A tree of 10,000 files is then
/// decided with stat(2) calls instead of reading every byte (issue 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
        }
    }
}

type Remembered = HashMap<PathBuf, (Stamp, [u8; 32])>;

/// The remembered hashes: one line a file, `HASH LEN MTIME_S MTIME_NS CTIME_S CTIME_NS INO
/// PATH` (the path last, so it may hold spaces). A line that does not parse is ignored.
fn load_hashes(path: &Path) -> Remembered {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut f = line.splitn(8, ' ');
            let hash: [u8; 32] = hex::decode(f.next()?).ok()?.try_into().ok()?;
            let mut num = || f.next()?.parse::<i64>().ok();
            let len = u64::try_from(num()?).ok()?;
            let mtime = (num()?, num()?);
            let ctime = (num()?, num()?);
            let ino = u64::try_from(num()?).ok()?;
            let rel = PathBuf::from(f.next()?);
            Some((
                rel,
                (
                    Stamp {
                        len,
                        mtime,
                        ctime,
                        ino,
                    },
                    hash,
                ),
            ))
        })
        .collect()
}

/// Writes the remembered hashes atomically. Best effort: a cache that cannot be written only
/// costs the next run some reading.
fn save_hashes(path: &Path, entries: &[(PathBuf, Stamp, [u8; 32])]) {
    let mut text = String::with_capacity(entries.len() * 120);
    for (rel, s, hash) in entries {
        let Some(p) = rel.to_str().filter(|p| !p.contains('\n')) else {
            continue;
        };
        text.push_str(&format!(
            "{} {} {} {} {} {} {} {p}\n",
            hex::encode(hash),
            s.len,
            s.mtime.0,
            s.mtime.1,
            s.ctime.0,
            s.ctime.1,
            s.ino
        ));
    }
    let _ = crate::atomic_file::write(path, text.as_bytes());
}

/// Where vers lists the files it wrote into the project, one path per line relative to it.
const WRITTEN: &str = ".vers/inputs/written";

/// Notes that vers wrote the file at `path` (a JUnit report of `vers integration test
/// --junit`): it is vers's output, so the next run does not take it for a changed input and
/// seed again. A path outside the project `project_dir` is not noted.
pub fn note_written(project_dir: &Path, path: &Path) -> std::io::Result<()> {
    let (Ok(dir), Ok(file)) = (project_dir.canonicalize(), path.canonicalize()) else {
        return Ok(());
    };
    let Ok(rel) = file.strip_prefix(&dir) else {
        return Ok(());
    };
    let mut written = written_files(&dir);
    if written.iter().any(|p| p == rel) {
        return Ok(());
    }
    written.push(rel.to_path_buf());
    let text: String = written
        .iter()
        .map(|p| format!("{}\n", p.display()))
        .collect();
    crate::atomic_file::write(&dir.join(WRITTEN), text.as_bytes())
}

/// The files [`note_written`] noted in the project `dir`.
fn written_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string(dir.join(WRITTEN))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// What `git ls-files` lists under `dir` (tracked, and untracked but not ignored), relative
/// to `dir`; None when `dir` is not in a git work tree or git is missing.
fn git_files(dir: &Path) -> Option<Vec<PathBuf>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        out.stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect(),
    )
}

/// Every file under `dir` but the skipped directories, relative to `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(e.file_type().is_dir()
                    && SKIPPED_DIRS.contains(&e.file_name().to_string_lossy().as_ref()))
        })
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .filter_map(|e| e.path().strip_prefix(dir).ok().map(Path::to_path_buf))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn globs(patterns: &[&str]) -> GlobSet {
        let mut b = globset::GlobSetBuilder::new();
        for p in patterns {
            b.add(globset::Glob::new(p).unwrap());
        }
        b.build().unwrap()
    }

    /// Sets a file's mtime into the past, so its hash may be remembered (not "racy").
    fn age(path: &Path) {
        let old = std::time::SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }

    /// The hash `files` holds for the relative path `rel`.
    fn hash_of(files: &ProjectFiles, rel: &str) -> [u8; 32] {
        *files
            .entries(Path::new(""), None)
            .find(|(p, _)| *p == Path::new(rel))
            .unwrap()
            .1
    }

    #[test]
    fn remembered_hashes_stand_while_size_times_and_inode_do() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".vers")).unwrap();
        write(d.path(), "old.txt", "old");
        write(d.path(), "new.txt", "new");
        age(&d.path().join("old.txt"));
        let first = ProjectFiles::read(d.path());
        let cache = d.path().join(HASH_CACHE);
        let remembered = load_hashes(&cache);
        assert!(remembered.contains_key(Path::new("old.txt")));
        assert!(
            !remembered.contains_key(Path::new("new.txt")),
            "a file changed within {RACY:?} is hashed again next time"
        );
        // The fast path is taken: a remembered hash with a matching stamp is believed
        // without reading the file (here a planted one).
        let text = std::fs::read_to_string(&cache).unwrap();
        let (hash, rest) = text.split_once(' ').unwrap();
        let planted = format!("{} {rest}", "ab".repeat(32));
        assert_ne!(hash, "ab".repeat(32));
        std::fs::write(&cache, planted).unwrap();
        let second = ProjectFiles::read(d.path());
        assert_eq!(hash_of(&second, "old.txt"), [0xab; 32]);
        // A rewrite of the same size with the old mtime restored still changes ctime.
        write(d.path(), "old.txt", "OLD");
        age(&d.path().join("old.txt"));
        let third = ProjectFiles::read(d.path());
        assert_ne!(
            third.digest(Path::new(""), None),
            first.digest(Path::new(""), None)
        );
        assert_eq!(
            hash_of(&third, "old.txt"),
            <[u8; 32]>::from(Sha256::digest(b"OLD"))
        );
    }

    #[test]
    fn a_report_vers_wrote_into_the_project_is_not_an_input() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "vers-integration.yaml", "name: x");
        write(d.path(), "reports/junit.xml", "<testsuites/>");
        let before = ProjectFiles::read(d.path());
        assert!(before.paths().any(|p| p == Path::new("reports/junit.xml")));
        note_written(d.path(), &d.path().join("reports/junit.xml")).unwrap();
        note_written(d.path(), &d.path().join("reports/junit.xml")).unwrap();
        // Outside the project: not noted.
        let elsewhere = tempfile::tempdir().unwrap();
        write(elsewhere.path(), "junit.xml", "<testsuites/>");
        note_written(d.path(), &elsewhere.path().join("junit.xml")).unwrap();
        assert_eq!(
            written_files(d.path()),
            [PathBuf::from("reports/junit.xml")]
        );
        let after = ProjectFiles::read(d.path());
        assert!(!after.paths().any(|p| p == Path::new("reports/junit.xml")));
        // A later report with other contents changes nothing.
        write(d.path(), "reports/junit.xml", "<testsuites tests=\"2\"/>");
        assert_eq!(
            ProjectFiles::read(d.path()).digest(Path::new(""), None),
            after.digest(Path::new(""), None)
        );
    }

    #[test]
    fn outside_git_every_file_but_state_and_dependencies_counts() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "vers-integration.yaml",
            "scripts/seed.js",
            "services/a/src/app.js",
            ".vers/state.json",
            "node_modules/x/index.js",
            "services/a/node_modules/y/index.js",
            "vers-export/compose/compose.yaml",
        ] {
            write(d.path(), f, "1");
        }
        let files = ProjectFiles::read(d.path());
        let paths: Vec<String> = files
            .paths()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            paths,
            [
                "scripts/seed.js",
                "services/a/src/app.js",
                "vers-integration.yaml"
            ]
        );

        // A digest changes with a file's content, and only for the files it covers.
        let all = files.digest(Path::new("."), None);
        let app = files.digest(Path::new("services/a"), None);
        let scripts = globs(&["scripts/**"]);
        let seed = files.digest(Path::new(""), Some(&scripts));
        write(d.path(), "services/a/src/app.js", "2");
        write(d.path(), ".vers/state.json", "2");
        write(d.path(), "node_modules/x/index.js", "2");
        let files = ProjectFiles::read(d.path());
        assert_ne!(files.digest(Path::new("."), None), all);
        assert_ne!(files.digest(Path::new("./services/a"), None), app);
        assert_eq!(files.digest(Path::new(""), Some(&scripts)), seed);
        // A new file counts too.
        write(d.path(), "scripts/more.sh", "x");
        assert_ne!(
            ProjectFiles::read(d.path()).digest(Path::new(""), Some(&scripts)),
            seed
        );
    }

    #[test]
    fn in_git_what_git_would_track_counts() {
        let d = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .arg("-C")
                .arg(d.path())
                .args(args)
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        write(d.path(), ".gitignore", "junit.xml\nbuild/\n");
        write(d.path(), "project/vers-integration.yaml", "name: x\n");
        write(d.path(), "project/scripts/seed.sh", "true\n");
        write(d.path(), "project/junit.xml", "<x/>");
        write(d.path(), "project/build/out.bin", "b");
        write(d.path(), "elsewhere.txt", "e");
        git(&["add", "project/vers-integration.yaml"]);
        // The project is a subdirectory of the work tree: its files, relative to it;
        // tracked and untracked alike, never the ignored ones.
        let files = ProjectFiles::read(&d.path().join("project"));
        let paths: Vec<String> = files
            .paths()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(paths, ["scripts/seed.sh", "vers-integration.yaml"]);
        let before = files.digest(Path::new(""), None);
        write(d.path(), "project/junit.xml", "<y/>");
        assert_eq!(
            ProjectFiles::read(&d.path().join("project")).digest(Path::new(""), None),
            before
        );
    }
}
