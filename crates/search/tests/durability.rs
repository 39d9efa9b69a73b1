//! Durability: every write the server acknowledged survives a SIGKILL, and a copy of the
//! data directory taken while the process is frozen (as a vers checkpoint takes it) starts
//! with every write acknowledged before the freeze and none after. Concurrent writers and
//! updaters lose nothing.

mod support;

use std::process::Command;

use support::{run_python, ServerProcess};

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), "8");
    run_python(
        "durability_client.py",
        &["write", &server.url(), "0", "200"],
    );
    run_python(
        "durability_client.py",
        &["write", &server.url(), "200", "200"],
    );
    // The writes were never refreshed by the client; the kill leaves them in the
    // write-ahead log only (or in a commit of the periodic refresh).
    server.crash();
    let restarted = ServerProcess::start(dir.path(), "8");
    let out = run_python(
        "durability_client.py",
        &["verify", &restarted.url(), "400", "2"],
    );
    assert!(out.contains("verified 398"), "{out}");
}

#[test]
fn a_copy_of_a_frozen_server_has_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let copy = dir.path().join("copy");
    let server = ServerProcess::start(&data, "8");
    run_python(
        "durability_client.py",
        &["write", &server.url(), "0", "300"],
    );
    server.signal("STOP");
    let status = Command::new("cp")
        .arg("-a")
        .arg(&data)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success(), "cp failed");
    server.signal("CONT");
    run_python(
        "durability_client.py",
        &["write", &server.url(), "300", "300"],
    );
    let branch = ServerProcess::start(&copy, "8");
    let out = run_python(
        "durability_client.py",
        &["verify", &branch.url(), "300", "1"],
    );
    assert!(out.contains("verified 299"), "{out}");
    server.crash();
    let original = ServerProcess::start(&data, "8");
    let out = run_python(
        "durability_client.py",
        &["verify", &original.url(), "600", "2"],
    );
    assert!(out.contains("verified 598"), "{out}");
}

#[test]
fn concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), "8");
    let out = run_python(
        "durability_client.py",
        &["concurrent", &server.url(), "400"],
    );
    assert!(out.contains("concurrent 400"), "{out}");
}
