//! Helpers shared by the CLI integration tests: temporary projects and `vers` invocations.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

/// A temporary project directory; `down --all` runs when it is dropped so no namespace,
/// process or mount outlives a test.
pub struct TempProject {
    pub dir: tempfile::TempDir,
    /// A directory outside the project, for files a test's scripts write during a run (a
    /// file written inside the project would change the checkpoints' cache inputs).
    pub scratch: tempfile::TempDir,
}

impl TempProject {
    pub fn new(manifest: &str) -> TempProject {
        let dir = tempfile::Builder::new()
            .prefix("vers-test-")
            .tempdir()
            .unwrap();
        std::fs::write(dir.path().join("vers-integration.yaml"), manifest).unwrap();
        TempProject::in_dir(dir)
    }

    /// A project in an existing temporary directory.
    pub fn in_dir(dir: tempfile::TempDir) -> TempProject {
        let scratch = tempfile::Builder::new()
            .prefix("vers-scratch-")
            .tempdir()
            .unwrap();
        TempProject { dir, scratch }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Runs `vers` with `SEED_COUNTER` set, so seed scripts can count their runs in a file
    /// outside every environment (how tests see whether a checkpoint came from the cache).
    pub fn vers_counting_seeds(&self, counter: &Path, args: &[&str]) -> Output {
        std::process::Command::new(vers_bin())
            .args(args)
            .current_dir(self.path())
            .env("SEED_COUNTER", counter)
            .env("VERS_PASS_ENV", "SEED_COUNTER")
            .env("CI", "true")
            .env_remove("VERS_ENV")
            .output()
            .unwrap()
    }

    pub fn vers(&self, args: &[&str]) -> Output {
        vers_in(self.path(), args)
    }

    /// Runs `vers` and fails the test with its output unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.vers(args);
        assert!(
            out.status.success(),
            "vers {args:?} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let text = self.ok(args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
    }
}

impl Drop for TempProject {
    fn drop(&mut self) {
        if self.path().join(".vers").exists() {
            let _ = vers_in(
                self.path(),
                &["integration", "down", "--all", "--deployments"],
            );
        }
    }
}

pub fn vers_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vers"))
}

pub fn vers_in(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(vers_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("VERS_ENV")
        .env("CI", "true")
        .output()
        .unwrap()
}

/// The JSON a `vers … --json` run printed (whether or not it succeeded: a failing test run
/// still reports), failing the test with its output when it printed none.
pub fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}{}", stdout(out), stderr(out)))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Network namespaces whose name contains `needle`.
pub fn netns_matching(needle: &str) -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.contains(needle))
        .map(str::to_string)
        .collect()
}

/// The prefix of a project's namespace names: `vers-<key>-`, key = the first 16 hex digits of
/// sha256(canonical project directory).
pub fn netns_prefix(dir: &Path) -> String {
    use std::io::Write;
    let canon = dir.canonicalize().unwrap();
    let mut h = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    h.stdin
        .take()
        .unwrap()
        .write_all(canon.as_os_str().as_encoded_bytes())
        .unwrap();
    let out = h.wait_with_output().unwrap();
    format!("vers-{}-", &String::from_utf8_lossy(&out.stdout)[..16])
}

/// The seed manifests shipped as stack templates.
pub fn seed_manifests() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifest/templates");
    let mut out = Vec::new();
    for name in [
        "saas-starter",
        "event-driven-microservices",
        "data-pipeline",
        "ecommerce-platform",
        "multi-tenant-saas",
    ] {
        let path = dir.join(format!("{name}.yaml"));
        out.push((
            name.to_string(),
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        ));
    }
    out
}

/// Copies the example `examples/NAME` into `dst`, leaving out what a run adds
/// (`node_modules`, `.vers`).
pub fn copy_example(name: &str, dst: &Path) {
    fn copy(src: &Path, dst: &Path) {
        std::fs::create_dir_all(dst).unwrap();
        for entry in std::fs::read_dir(src).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if name == "node_modules" || name == ".vers" {
                continue;
            }
            let to = dst.join(&name);
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &to);
            } else {
                std::fs::copy(entry.path(), &to).unwrap();
            }
        }
    }
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples")
            .join(name),
        dst,
    );
}
