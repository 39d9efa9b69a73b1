//! Running a project of `examples/` from a copy: the copy, and reading a `test --json` report
//! branch by branch with the logs of the branches that did not pass.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::TempProject;

/// A temporary project holding a copy of `examples/NAME` (without `node_modules` or `.vers`).
pub fn example_project(name: &str) -> TempProject {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    assert!(src.is_dir(), "{} is missing", src.display());
    let p = TempProject::new("");
    copy_tree(&src, p.path());
    p
}

/// Copies `src` into `dst`, leaving out `node_modules` and `.vers`.
pub fn copy_tree(src: &Path, dst: &Path) {
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

/// `suite → branch → status` of a `test --json` report.
pub fn statuses(report: &serde_json::Value) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for suite in report["suites"].as_array().into_iter().flatten() {
        let branches = suite["branches"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                (
                    b["name"].as_str().unwrap_or_default().to_string(),
                    b["status"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        out.insert(
            suite["name"].as_str().unwrap_or_default().to_string(),
            branches,
        );
    }
    out
}

/// The logs of every branch of a report that did not pass, for assertion messages.
pub fn failed_logs(report: &serde_json::Value) -> String {
    let mut logs = String::new();
    for suite in report["suites"].as_array().into_iter().flatten() {
        for b in suite["branches"].as_array().into_iter().flatten() {
            if b["status"] != "passed" {
                let log = b["log"].as_str().unwrap_or_default();
                let text = std::fs::read_to_string(log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(80).collect();
                logs.push_str(&format!(
                    "--- {}/{} {}\n{}\n",
                    suite["name"],
                    b["name"],
                    b["status"],
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
        }
    }
    logs
}

/// Asserts that the report has exactly `expected` (suite, branches) and that all passed.
pub fn assert_all_passed(report: &serde_json::Value, expected: &[(&str, &[&str])]) {
    let got = statuses(report);
    let logs = failed_logs(report);
    let want: BTreeMap<String, BTreeMap<String, String>> = expected
        .iter()
        .map(|(suite, branches)| {
            (
                suite.to_string(),
                branches
                    .iter()
                    .map(|b| (b.to_string(), "passed".to_string()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(got, want, "{logs}");
    assert_eq!(report["summary"]["failed"], 0, "{logs}");
}
