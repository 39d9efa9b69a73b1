//! Finding executables and reading the versions they report.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// How long a version probe may run before it is killed: a binary that starts a server
/// instead of printing its version (as `rabbitmq-server --version` does) must not hang vers.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `program args` and returns its stdout and stderr, or `None` when it cannot run, fails
/// or is still running after [`PROBE_TIMEOUT`] (then it is killed with its process group).
pub(crate) fn output_of(program: &Path, args: &[&str]) -> Option<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .ok()?;
    // Read both pipes on threads so a chatty probe cannot block on a full pipe.
    let mut out_pipe = child.stdout.take()?;
    let mut err_pipe = child.stderr.take()?;
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => break None,
        }
    };
    let Some(status) = status else {
        // The probe's own process group: whatever it started dies with it.
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = child.kill();
        let _ = child.wait();
        return None;
    };
    let (out, err) = (out.join().ok()?, err.join().ok()?);
    if !status.success() {
        return None;
    }
    let mut text = String::from_utf8_lossy(&out).into_owned();
    text.push_str(&String::from_utf8_lossy(&err));
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

/// [`output_of`] asked once per binary (see [`crate::probe_cache`]): for probes whose answer
/// depends only on the binary, such as `--version`.
pub(crate) fn cached_output(program: &Path, args: &[&str]) -> Option<String> {
    crate::probe_cache::cached(program, args, || output_of(program, args))
}

/// The version `program` reports for `args` (usually `--version`).
pub(crate) fn version_of(program: &Path, args: &[&str]) -> Option<String> {
    cached_output(program, args).and_then(|text| first_version(&text))
}

/// The package database `dpkg-query` reads.
const DPKG_STATUS: &str = "/var/lib/dpkg/status";

/// The upstream version of an installed Debian package, without epoch and revision
/// (`0.10.23` of `1:0.10.23-1+deb12u1`), read from the package database: the way to learn
/// the version of a server whose binary has no version flag.
pub(crate) fn debian_package_version(package: &str) -> Option<String> {
    let dpkg = find_tool(&[PathBuf::from("/usr/bin/dpkg-query")], "dpkg-query")?;
    // The answer changes when the package database does: the cache key is its file.
    let args = ["-W", "-f=${Version}", package];
    let full =
        crate::probe_cache::cached(Path::new(DPKG_STATUS), &args, || output_of(&dpkg, &args))?;
    let full = full.trim();
    let without_epoch = full.split_once(':').map_or(full, |(_, v)| v);
    let upstream = without_epoch.split('-').next()?.to_string();
    (!upstream.is_empty()).then_some(upstream)
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
    fn kills_a_probe_that_does_not_exit() {
        let began = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("server");
        std::fs::write(&script, "#!/bin/sh\nsleep 60 &\nsleep 60\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(output_of(&script, &["--version"]), None);
        assert!(began.elapsed() < PROBE_TIMEOUT + Duration::from_secs(2));
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
