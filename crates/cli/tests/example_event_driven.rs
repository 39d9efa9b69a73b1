//! `examples/event-driven-microservices` (seed 000 Pattern 2 as written) end to end: validate,
//! `up` (npm workspace build, infrastructure, four Node services, the seed script and three
//! checkpoints), then every suite as parallel branches — unit, service-integration through
//! Kong with mails in MailHog, event flows through Kafka and MongoDB, and resilience under
//! `vers chaos` faults injected by the branches' `before:` hooks.

mod common;

use std::path::Path;
use std::time::Instant;

use common::*;

/// Copies the example without what a previous run left (dependencies, vers state).
fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "node_modules" || name == ".vers" {
            continue;
        }
        let to = dst.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// Every branch's status, and the logs of those that did not pass.
fn branches(report: &serde_json::Value) -> (Vec<(String, String, String)>, String) {
    let mut out = Vec::new();
    let mut logs = String::new();
    for suite in report["suites"].as_array().cloned().unwrap_or_default() {
        for b in suite["branches"].as_array().cloned().unwrap_or_default() {
            let status = b["status"].as_str().unwrap_or_default().to_string();
            if status != "passed" {
                let log = b["log"].as_str().unwrap_or_default();
                logs.push_str(&format!(
                    "--- {}/{} {status}\n{}\n",
                    suite["name"],
                    b["name"],
                    std::fs::read_to_string(log).unwrap_or_default()
                ));
            }
            out.push((
                suite["name"].as_str().unwrap_or_default().to_string(),
                b["name"].as_str().unwrap_or_default().to_string(),
                status,
            ));
        }
    }
    (out, logs)
}

#[test]
fn event_driven_example_passes_every_branch() {
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/event-driven-microservices");
    let p = TempProject::new("");
    copy_tree(&example, p.path());

    let validated = p.ok(&["integration", "validate"]);
    assert!(
        validated.contains("11 services, 4 test suites, 3 checkpoints"),
        "{validated}"
    );

    let began = Instant::now();
    p.ok(&["integration", "up"]);
    let up = began.elapsed();
    let checkpoints = p.ok(&["log", "--format", "checkpoints"]);
    for name in ["infrastructure-ready", "services-ready", "seeded"] {
        assert!(checkpoints.contains(name), "{checkpoints}");
    }

    let began = Instant::now();
    let out = p.vers(&["integration", "test", "--parallel", "--json"]);
    let tests = began.elapsed();
    let report = json_of(&out);
    let (results, logs) = branches(&report);
    assert_eq!(out.status.code(), Some(0), "{report:#}\n{logs}");
    let expected = [
        ("unit", "unit"),
        ("service-integration", "user-service"),
        ("service-integration", "order-service"),
        ("service-integration", "inventory-service"),
        ("event-flow", "order-created-flow"),
        ("event-flow", "order-cancelled-flow"),
        ("event-flow", "inventory-low-flow"),
        ("resilience", "kafka-down"),
        ("resilience", "database-slow"),
        ("resilience", "service-crash"),
    ];
    let mut got: Vec<(String, String)> = results
        .iter()
        .map(|(s, b, status)| {
            assert_eq!(status, "passed", "{s}/{b}\n{logs}");
            (s.clone(), b.clone())
        })
        .collect();
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(s, b)| (s.to_string(), b.to_string()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{report:#}");
    assert_eq!(report["summary"]["passed"], 10, "{report:#}");

    eprintln!(
        "event-driven example figures: up {} s, test --parallel {} s",
        up.as_secs(),
        tests.as_secs()
    );
}
