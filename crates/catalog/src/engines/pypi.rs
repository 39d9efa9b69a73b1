//! Engines published on PyPI, each installed into a virtual environment of its own in the
//! engine cache (`<cache>/<template>/<dir>`), and found again by the package metadata pip
//! leaves there, never by running the server.
//!
//! A virtual environment cannot be moved after creation (its scripts name their interpreter by
//! absolute path), so it is built in place under a lock and marked complete only at the end:
//! an interrupted install is removed and redone by the next one.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::fcntl::{Flock, FlockArg};

use crate::binaries::find_tool;

/// The distribution's Python, preferred over others on `PATH`.
const SYSTEM_PYTHON: &str = "/usr/bin/python3";
/// File written into a virtual environment once its install succeeded; holds the version.
const COMPLETE_MARKER: &str = ".vers-installed";

/// A step run in a fresh virtual environment (given its directory) before the install counts
/// as complete.
pub(crate) type Prepare = fn(&Path) -> Result<(), String>;

/// One PyPI engine: what pip installs and where.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PypiEngine {
    /// The template it serves, e.g. `mongodb`; also the cache subdirectory.
    pub template: &'static str,
    /// Directory of the virtual environment under `<cache>/<template>`, e.g. `secantusdb-0.7.0b3`.
    pub dir: &'static str,
    /// The distribution whose installed version names the engine, e.g. `SecantusDB`.
    pub distribution: &'static str,
    /// Requirements passed to pip, pinned, e.g. `SecantusDB==0.7.0b3`.
    pub requirements: &'static [&'static str],
    /// Constraints for transitive dependencies (`pip -c`), e.g. `cbor2<6`.
    pub constraints: &'static [&'static str],
    /// Run once pip is done, before the install counts as complete (e.g. to build a cache the
    /// engine would otherwise rebuild at every start); gets the environment's directory.
    pub prepare: Option<Prepare>,
}

/// A complete install of a [`PypiEngine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Installed {
    /// The virtual environment.
    pub venv: PathBuf,
    /// The installed version of the engine's distribution.
    pub version: String,
}

impl Installed {
    /// The environment's `bin` directory (its console scripts and `python`).
    pub fn bin_dir(&self) -> PathBuf {
        self.venv.join("bin")
    }
}

impl PypiEngine {
    /// Where the virtual environment lives in `cache`.
    pub fn venv(&self, cache: &Path) -> PathBuf {
        cache.join(self.template).join(self.dir)
    }

    /// The package spec shown to users, e.g. `SecantusDB==0.7.0b3 (PyPI)`.
    pub fn package(&self) -> String {
        format!(
            "{} (PyPI)",
            self.requirements
                .first()
                .copied()
                .unwrap_or(self.distribution)
        )
    }

    /// The complete install in `cache`, if any.
    pub fn installed(&self, cache: &Path) -> Option<Installed> {
        let venv = self.venv(cache);
        let version = std::fs::read_to_string(venv.join(COMPLETE_MARKER)).ok()?;
        let version = version.trim().to_string();
        (!version.is_empty() && reachable_by_all(&venv.join("bin/python")))
            .then_some(Installed { venv, version })
    }

    /// Installs into `cache` (reusing a complete install), reporting progress lines.
    pub fn install(
        &self,
        cache: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Installed, String> {
        let parent = cache.join(self.template);
        create_readable_dir(&parent)?;
        let lock_path = parent.join(format!(".{}.lock", self.dir));
        let lock_file =
            File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
        let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
            .map_err(|(_, e)| format!("locking {}: {e}", lock_path.display()))?;
        if let Some(done) = self.installed(cache) {
            progress(&format!(
                "{} {} is already in the cache",
                self.distribution, done.version
            ));
            return Ok(done);
        }
        let venv = self.venv(cache);
        if venv.exists() {
            progress(&format!(
                "removing an unfinished install at {}",
                venv.display()
            ));
            std::fs::remove_dir_all(&venv).map_err(|e| format!("{}: {e}", venv.display()))?;
        }
        let result = self.build(&venv, progress);
        if result.is_err() {
            // Nothing half-built stays behind; a removal failure only costs disk.
            let _ = std::fs::remove_dir_all(&venv);
        }
        result
    }

    /// Creates the virtual environment at `venv` and pip-installs into it.
    fn build(&self, venv: &Path, progress: &mut dyn FnMut(&str)) -> Result<Installed, String> {
        // The distribution's interpreter first: one under a user's home (pyenv) is out of the
        // unprivileged engine user's reach.
        let python = find_tool(&[PathBuf::from(SYSTEM_PYTHON)], "python3").ok_or(
            "python3 is not installed: install it with `apt-get install python3 python3-venv`",
        )?;
        if !reachable_by_all(&python) {
            return Err(format!(
                "{} is not readable by the unprivileged user engines run as; install the distribution's python3 (apt-get install python3 python3-venv)",
                python.display()
            ));
        }
        progress(&format!(
            "creating a Python virtual environment in {}",
            venv.display()
        ));
        run(Command::new(&python).arg("-m").arg("venv").arg(venv)).map_err(|e| {
            format!("{e}\n(Debian needs the venv module: apt-get install python3-venv)")
        })?;
        let venv_python = venv.join("bin/python");
        let mut pip = Command::new(&venv_python);
        pip.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
        ]);
        if !self.constraints.is_empty() {
            let path = venv.join("vers-constraints.txt");
            std::fs::write(&path, self.constraints.join("\n") + "\n")
                .map_err(|e| format!("{}: {e}", path.display()))?;
            pip.arg("-c").arg(&path);
        }
        pip.args(self.requirements);
        progress(&format!(
            "pip install {} (from PyPI; this can take a few minutes)",
            self.requirements.join(" ")
        ));
        run(&mut pip)?;
        let version = dist_version(venv, self.distribution).ok_or_else(|| {
            format!(
                "pip finished but {} has no metadata for {}",
                venv.display(),
                self.distribution
            )
        })?;
        if let Some(prepare) = self.prepare {
            progress(&format!(
                "preparing {} for its first start",
                self.distribution
            ));
            prepare(venv)?;
        }
        let marker = venv.join(COMPLETE_MARKER);
        std::fs::write(&marker, format!("{version}\n"))
            .map_err(|e| format!("{}: {e}", marker.display()))?;
        progress(&format!(
            "installed {} {version} into {}",
            self.distribution,
            venv.display()
        ));
        Ok(Installed {
            venv: venv.to_path_buf(),
            version,
        })
    }
}

/// Creates `dir` (and its parents) readable and searchable by everyone: engines run as an
/// unprivileged user and must reach the cache.
fn create_readable_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mode = std::fs::metadata(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o005 != 0o005 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o755))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Whether every user can run `path`: the file it resolves to is world-executable and every
/// directory above it world-searchable (engines run as an unprivileged user).
fn reachable_by_all(path: &Path) -> bool {
    let Ok(real) = path.canonicalize() else {
        return false;
    };
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode())
            .unwrap_or(0)
    };
    mode(&real) & 0o001 != 0 && real.ancestors().skip(1).all(|dir| mode(dir) & 0o001 != 0)
}

/// Runs `cmd` to completion, with its stderr in the error when it fails.
pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .env("PIP_NO_WARN_SCRIPT_LOCATION", "1")
        .output()
        .map_err(|e| format!("running {shown}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The version of `distribution` installed in `venv`, from its `*.dist-info` directory name
/// (normalised as pip writes it: case-insensitive, `-` and `.` as `_`).
pub(crate) fn dist_version(venv: &Path, distribution: &str) -> Option<String> {
    let normalise = |s: &str| s.to_ascii_lowercase().replace(['-', '.'], "_");
    let want = normalise(distribution);
    let lib = venv.join("lib");
    for python_dir in std::fs::read_dir(&lib).ok()?.flatten() {
        let site = python_dir.path().join("site-packages");
        let Ok(entries) = std::fs::read_dir(&site) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".dist-info") else {
                continue;
            };
            if let Some((dist, version)) = stem.split_once('-') {
                if normalise(dist) == want {
                    return Some(version.to_string());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_from_dist_info_names() {
        let venv = tempfile::tempdir().unwrap();
        let site = venv.path().join("lib/python3.11/site-packages");
        std::fs::create_dir_all(site.join("secantusdb-0.7.0b3.dist-info")).unwrap();
        std::fs::create_dir_all(site.join("pymongo-4.20.1.dist-info")).unwrap();
        assert_eq!(
            dist_version(venv.path(), "SecantusDB").as_deref(),
            Some("0.7.0b3")
        );
        assert_eq!(
            dist_version(venv.path(), "PyMongo").as_deref(),
            Some("4.20.1")
        );
        assert_eq!(dist_version(venv.path(), "moto"), None);
    }

    #[test]
    fn an_install_without_its_marker_is_not_installed() {
        let cache = tempfile::tempdir().unwrap();
        let engine = PypiEngine {
            template: "t",
            dir: "pkg-1",
            distribution: "pkg",
            requirements: &["pkg==1"],
            constraints: &[],
            prepare: None,
        };
        std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let venv = engine.venv(cache.path());
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        // Any interpreter every user can run stands for the environment's python here.
        std::os::unix::fs::symlink("/bin/sh", venv.join("bin/python")).unwrap();
        assert_eq!(engine.installed(cache.path()), None);
        std::fs::write(venv.join(COMPLETE_MARKER), "1\n").unwrap();
        assert_eq!(
            engine.installed(cache.path()),
            Some(Installed {
                venv: venv.clone(),
                version: "1".into()
            })
        );
    }
}
