//! Which app services of a project run as workers: apps that declare no port and no health
//! check and listen on nothing. The first start of such an app waits a settle time before it
//! counts as up; the daemon then watches it for [`CONFIRM`] (`supervisor::probes`) and lists it in
//! `.vers/workers` only if it never listens on its port all that time, so its later starts
//! settle fast. An app seen listening is taken off the list (a web app that once started too
//! slowly must not be waited for as briefly as a worker).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long an app taken for a worker is watched before it is listed as one.
pub const CONFIRM: Duration = Duration::from_secs(30);

/// The workers file of the project whose state directory is `state_dir`.
fn file(state_dir: &Path) -> PathBuf {
    state_dir.join("workers")
}

/// Whether app `name` is listed as a worker.
pub fn listed(state_dir: &Path, name: &str) -> bool {
    std::fs::read_to_string(file(state_dir))
        .map(|t| t.lines().any(|l| l == name))
        .unwrap_or(false)
}

/// Lists app `name` as a worker, or takes it off the list.
pub fn set_listed(state_dir: &Path, name: &str, worker: bool) {
    let path = file(state_dir);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut names: Vec<&str> = text.lines().filter(|l| *l != name).collect();
    if worker {
        names.push(name);
    }
    let new: String = names.iter().map(|n| format!("{n}\n")).collect();
    if new == text {
        return;
    }
    if let Err(e) = crate::atomic_file::write(&path, new.as_bytes()) {
        tracing::warn!("{}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_adds_and_removes_one_name_keeping_the_others() {
        let d = tempfile::tempdir().unwrap();
        set_listed(d.path(), "etl", true);
        set_listed(d.path(), "mailer", true);
        set_listed(d.path(), "etl", true);
        assert!(listed(d.path(), "etl") && listed(d.path(), "mailer"));
        set_listed(d.path(), "etl", false);
        assert!(!listed(d.path(), "etl") && listed(d.path(), "mailer"));
        assert!(!listed(d.path(), "et"));
    }
}
