//! `vers mcp` driven by the official MCP Python SDK (`mcp` from PyPI, installed in the test
//! virtual environment): a full agent session on real PostgreSQL and Redis, error cases
//! answered with `isError` while the server keeps serving, and the manifest tools.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::*;

const STACK: &str = r#"
name: agent
services:
  postgres:
    template: postgres@15
    config:
      databases: [app]
  redis:
    template: redis@7
checkpoints:
  - name: seeded
    after: scripts/seed.sh
tests:
  items:
    parallel: true
    branches:
      - name: add-one
        command: psql -v ON_ERROR_STOP=1 -tA postgres://postgres@postgres/app -c "insert into items values ('x', 9)" && test "$(psql -tA postgres://postgres@postgres/app -c 'select count(*) from items')" = 3
      - name: keeps-seed
        command: test "$(psql -tA postgres://postgres@postgres/app -c 'select count(*) from items')" = 2
"#;

const SEED: &str = r#"#!/bin/bash
set -e
psql -v ON_ERROR_STOP=1 postgres://postgres@postgres/app -c "create table items(name text, qty int); insert into items values ('a', 1), ('b', 2)"
"#;

/// The Python of the test virtual environment, where `mcp` is installed.
fn python() -> PathBuf {
    let venv = std::env::var_os("VERS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/vers/test-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh to create the test virtual environment",
        python.display()
    );
    let has_mcp = std::process::Command::new(&python)
        .args(["-c", "import mcp"])
        .status()
        .unwrap();
    assert!(
        has_mcp.success(),
        "the `mcp` package is missing from {}: run scripts/setup.sh",
        python.display()
    );
    python
}

#[test]
fn an_agent_session_through_the_mcp_python_sdk() {
    let python = python();
    let p = TempProject::new(STACK);
    let seed = p.write("scripts/seed.sh", SEED);
    std::fs::set_permissions(&seed, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let fresh = tempfile::Builder::new()
        .prefix("vers-mcp-fresh-")
        .tempdir()
        .unwrap();
    let began = Instant::now();
    let out = std::process::Command::new(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_session.py"))
        .arg(vers_bin())
        .arg(p.path())
        .arg(fresh.path())
        .env("CI", "true")
        .env_remove("VERS_ENV")
        .output()
        .unwrap();
    // The fresh project's daemon was started by integration_remove_service.
    let _ = vers_in(fresh.path(), &["down", "--all"]);
    let text = stdout(&out);
    assert!(
        out.status.success() && text.contains("MCP_SESSION_OK"),
        "the MCP session failed ({:?}):\nstdout:\n{text}\nstderr:\n{}",
        out.status.code(),
        stderr(&out)
    );
    let figure = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    };
    let (mcp_ms, api_ms) = (figure("MCP_STATUS_P50_MS="), figure("API_STATUS_P50_MS="));
    eprintln!(
        "vers_status p50: {mcp_ms:.1} ms through MCP, {api_ms:.1} ms API alone; session {:.1}s",
        began.elapsed().as_secs_f64()
    );
    // A generous bound that still catches a per-call daemon start or a reconnect storm.
    assert!(
        mcp_ms - api_ms < 100.0,
        "MCP adds {:.1} ms to vers_status",
        mcp_ms - api_ms
    );
}
