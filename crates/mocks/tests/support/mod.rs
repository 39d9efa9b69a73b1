//! Helpers shared by the integration tests: running the Python client scripts.

use std::path::PathBuf;
use std::process::Stdio;

/// Path of a script in this `tests` directory.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

/// Runs `python3 SCRIPT ARGS…` and panics with its output unless it exits 0.
pub async fn run_python(name: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new("python3")
        .arg(script(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("python3 must be installed to run {name}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    stdout
}
