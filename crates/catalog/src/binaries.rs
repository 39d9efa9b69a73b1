//! Finding executables and reading the versions they report.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `PATH` used when the process has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Whether `path` is a regular file with an execute bit.
pub(crate) fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first executable called `name` on `PATH`.
pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// The first of `candidates` (absolute paths) that is executable, else `name` on `PATH`.
pub(crate) fn find_tool(candidates: &[PathBuf], name: &str) -> Option<PathBuf> {
    candidates
        .iter()
        .find(|c| is_executable(c))
        .cloned()
        .or_else(|| on_path(name))
}

/// Runs `program args` and returns its stdout and stderr, or `None` when it cannot run or fails.
pub(crate) fn output_of(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Some(text)
}

/// The first dotted version number in a `--version` text, e.g. `15.14` in
/// `postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)` or `7.0.15` in `Redis server v=7.0.15`.
pub(crate) fn first_version(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '=')
        .filter(|token| token.starts_with(|c: char| c.is_ascii_digit()))
        .map(|token| {
            let end = token
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(token.len());
            token[..end].trim_end_matches('.')
        })
        .find(|v| v.contains('.'))
        .map(str::to_string)
}

/// The version `program` reports for `args` (usually `--version`).
pub(crate) fn version_of(program: &Path, args: &[&str]) -> Option<String> {
    output_of(program, args).and_then(|text| first_version(&text))
}

/// Whether `version` (e.g. `15.14`) is the requested `want` (`15`) or starts with it (`8.0` of `8.0.36`).
pub(crate) fn version_matches(version: &str, want: &str) -> bool {
    version == want || version.starts_with(&format!("{want}."))
}

/// The leading component of a version, e.g. `15` of `15.14`.
pub(crate) fn major_of(version: &str) -> String {
    version.split('.').next().unwrap_or(version).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_versions_from_version_texts() {
        assert_eq!(
            first_version("postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)").as_deref(),
            Some("15.14")
        );
        assert_eq!(
            first_version("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0").as_deref(),
            Some("7.0.15")
        );
        assert_eq!(
            first_version("mariadbd  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu")
                .as_deref(),
            Some("10.11.6")
        );
        assert_eq!(first_version("no digits here"), None);
    }

    #[test]
    fn matches_majors_and_minors() {
        assert!(version_matches("15.14", "15"));
        assert!(version_matches("8.0.36", "8.0"));
        assert!(!version_matches("150.1", "15"));
        assert!(!version_matches("14.2", "15"));
        assert_eq!(major_of("17.2"), "17");
    }
}
