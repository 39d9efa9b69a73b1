//! Finding what serves `mongodb`: a real `mongod` first (`VERS_ENGINE_MONGODB`, then `PATH`),
//! else SecantusDB from the engine cache, a MongoDB-compatible server labelled as a stand-in.

use std::path::{Path, PathBuf};

use crate::binaries::{cached_output, is_executable, on_path, version_matches};
use crate::engines::pypi::PypiEngine;
use crate::{engines, EngineBinary, EngineSource, MissingEngine, StandIn};

/// The environment variable naming a `mongod` binary or a MongoDB install directory.
pub(crate) const ENV_VAR: &str = "VERS_ENGINE_MONGODB";
/// The major served when a manifest names no version.
const DEFAULT_MAJOR: &str = "7";
/// Majors the template accepts (SPEC Appendix A).
const MAJORS: [&str; 3] = ["5", "6", "7"];

/// SecantusDB, installed from PyPI by `vers engines install mongodb@N`.
pub(crate) const SECANTUS: PypiEngine = PypiEngine {
    template: "mongodb",
    dir: "secantusdb-0.7.0b3",
    distribution: "SecantusDB",
    requirements: &["SecantusDB==0.7.0b3", "pymongo==4.20.1"],
    constraints: &[],
    prepare: None,
};

/// What SecantusDB is, and where it differs from MongoDB, as `vers` reports it.
const SECANTUS_NOTE: &str = "MongoDB wire protocol on WiredTiger (GPL-2.0, from PyPI), not MongoDB: it reports server version 8.2.11 to every client whatever major the manifest names, runs transactions without a replica set (mongod needs one), and cannot serve `replica_set`";

/// The real `mongod` named by `VERS_ENGINE_MONGODB` or found on `PATH`; an error when the
/// variable is set but names no `mongod`.
pub(crate) fn real() -> Result<Option<EngineBinary>, String> {
    if let Some(value) = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) {
        let given = PathBuf::from(&value);
        let candidates = [
            given.clone(),
            given.join("mongod"),
            given.join("bin/mongod"),
        ];
        let mongod = candidates
            .iter()
            .find(|c| c.file_name().is_some_and(|n| n == "mongod") && is_executable(c))
            .ok_or_else(|| {
                format!(
                    "{ENV_VAR}={} names no mongod (give the mongod binary or the directory holding bin/mongod)",
                    given.display()
                )
            })?;
        return at(mongod)
            .map(Some)
            .ok_or_else(|| format!("{} --version does not report a version", mongod.display()));
    }
    Ok(on_path("mongod").and_then(|m| at(&m)))
}

/// The `mongod` at `path`, with the version its `--version` reports.
fn at(path: &Path) -> Option<EngineBinary> {
    let text = cached_output(path, &["--version"])?;
    let version = db_version(&text)?;
    Some(EngineBinary {
        template: "mongodb".into(),
        major: version.split('.').next().unwrap_or(&version).to_string(),
        version,
        bin_dir: path.parent()?.to_path_buf(),
        source: EngineSource::Path,
        stand_in: None,
    })
}

/// `7.0.14` from `mongod --version`'s first line, `db version v7.0.14`.
pub(crate) fn db_version(text: &str) -> Option<String> {
    let rest = text.split("db version v").nth(1)?;
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (version.contains('.')).then_some(version)
}

/// SecantusDB from the engine cache, serving `major` (the default when `None`).
pub(crate) fn stand_in(major: Option<&str>) -> Option<EngineBinary> {
    let installed = SECANTUS.installed(&engines::cache_dir())?;
    Some(EngineBinary {
        template: "mongodb".into(),
        major: major.unwrap_or(DEFAULT_MAJOR).to_string(),
        version: installed.version.clone(),
        bin_dir: installed.bin_dir(),
        source: EngineSource::Cache {
            package: SECANTUS.package(),
        },
        stand_in: Some(StandIn {
            implementation: format!("SecantusDB {}", installed.version),
            note: SECANTUS_NOTE.into(),
        }),
    })
}

/// What serves `mongodb@major`: the real `mongod` when it is that major, else the stand-in.
pub(crate) fn find(major: Option<&str>) -> Result<EngineBinary, MissingEngine> {
    let missing = |hint: String| MissingEngine {
        template: "mongodb".into(),
        version: major.map(String::from),
        hint,
    };
    if let Some(m) = major.filter(|m| !MAJORS.contains(m)) {
        return Err(missing(format!(
            "vers serves mongodb@{} only; `{m}` is not one of them",
            MAJORS.join(", @")
        )));
    }
    let real = real().map_err(&missing)?;
    if let Some(found) = real
        .as_ref()
        .filter(|e| major.is_none_or(|m| version_matches(&e.version, m)))
    {
        return Ok(found.clone());
    }
    if let Some(found) = stand_in(major) {
        return Ok(found);
    }
    let wanted = major.unwrap_or(DEFAULT_MAJOR);
    let other = real
        .map(|e| {
            format!(
                " (this machine has mongod {} at {}, not {wanted})",
                e.version,
                e.bin_dir.display()
            )
        })
        .unwrap_or_default();
    Err(missing(format!(
        "no mongod {wanted} here{other}: put mongod on PATH or set {ENV_VAR}, or run `vers engines install mongodb@{wanted}` for SecantusDB, a MongoDB-compatible stand-in from PyPI"
    )))
}

/// Installs SecantusDB into the engine cache for `mongodb@major` (called when nothing serves
/// it yet) and returns what serves it then.
pub(crate) fn install(major: &str, progress: &mut dyn FnMut(&str)) -> Result<EngineBinary, String> {
    if !MAJORS.contains(&major) {
        return Err(format!(
            "vers serves mongodb@{} only; `{major}` is not one of them",
            MAJORS.join(", @")
        ));
    }
    // A VERS_ENGINE_MONGODB naming no mongod is a mistake to fix, not a reason for a stand-in.
    real()?;
    progress("no mongod here: installing SecantusDB, a MongoDB-compatible stand-in, from PyPI");
    SECANTUS.install(&engines::cache_dir(), progress)?;
    find(Some(major)).map_err(|missing| missing.hint)
}

/// Every engine that can serve `mongodb`, for `vers engines list`.
pub(crate) fn all() -> Vec<EngineBinary> {
    let mut out: Vec<EngineBinary> = real().ok().flatten().into_iter().collect();
    out.extend(stand_in(None));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mongods_version_line() {
        let text = "db version v7.0.14\nBuild Info: {\n    \"version\": \"7.0.14\"\n}";
        assert_eq!(db_version(text).as_deref(), Some("7.0.14"));
        assert_eq!(db_version("mongod: unknown option"), None);
    }
}
