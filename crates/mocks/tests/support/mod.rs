//! Helpers shared by the integration tests: running the Python client scripts.

use std::path::PathBuf;
use std::process::Stdio;

/// Path of a script in this `tests` directory.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

/// The Python of the test virtual environment that `scripts/setup.sh` fills with the real
/// client libraries (`$VERS_TEST_VENV`, default `/var/cache/vers/test-venv`).
pub fn python() -> PathBuf {
    let venv = std::env::var_os("VERS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/vers/test-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh to create the test virtual environment",
        python.display()
    );
    python
}

/// Runs `SCRIPT ARGS…` with the test environment's python and panics with its output unless
/// it exits 0.
pub async fn run_python(name: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new(python())
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
