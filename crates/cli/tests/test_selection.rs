//! `vers test --shard I/N` and `--keep-failed` against real redis: shards split a suite's
//! branches without overlap or gap, and a failed branch's environment is kept (and only
//! with the flag).

mod common;

use std::collections::BTreeSet;

use common::*;

const MANIFEST: &str = r#"name: selection
services:
  redis:
    template: redis@7
tests:
  s:
    command: redis-cli -h redis incr n && test "x$FAIL" != x1
    branches:
      - name: b1
      - name: b2
      - name: b3
        env:
          FAIL: "1"
      - name: b4
"#;

/// Runs `vers test ARGS --json` (which fails when a branch fails) and returns its report.
fn report(p: &TempProject, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["test"];
    all.extend_from_slice(args);
    all.push("--json");
    json_of(&p.vers(&all))
}

fn branch_names(report: &serde_json::Value) -> BTreeSet<String> {
    report["suites"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["branches"].as_array().unwrap().iter())
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect()
}

fn running_env_ids(p: &TempProject) -> BTreeSet<String> {
    p.json(&["status", "--json"])["environments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "running")
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn shards_split_branches_and_keep_failed_keeps_only_the_failed_environment() {
    let p = TempProject::new(MANIFEST);
    p.ok(&["up"]);
    let before = running_env_ids(&p);

    let one = branch_names(&report(&p, &["--shard", "1/2"]));
    let two = branch_names(&report(&p, &["--shard", "2/2"]));
    assert!(!one.is_empty() && !two.is_empty(), "{one:?} {two:?}");
    assert!(one.is_disjoint(&two), "shards overlap: {one:?} {two:?}");
    let union: BTreeSet<String> = one.union(&two).cloned().collect();
    let all: BTreeSet<String> = ["b1", "b2", "b3", "b4"].map(String::from).into();
    assert_eq!(union, all);
    let bad = p.vers(&["test", "--shard", "3/2"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("--shard 3/2"), "{}", stderr(&bad));

    // Without --keep-failed every branch's environment is gone after the run.
    let plain = report(&p, &[]);
    assert_eq!(plain["suites"][0]["passed"], 3, "{plain}");
    assert_eq!(running_env_ids(&p), before);

    let kept = report(&p, &["--keep-failed"]);
    let branches = kept["suites"][0]["branches"].as_array().unwrap();
    let failed: Vec<_> = branches
        .iter()
        .filter(|b| b["status"] != "passed")
        .collect();
    assert_eq!(failed.len(), 1, "{kept}");
    assert_eq!(failed[0]["name"], "b3");
    let kept_id = failed[0]["kept_env"]
        .as_str()
        .unwrap_or_else(|| panic!("no kept_env: {kept}"))
        .to_string();
    assert!(
        branches
            .iter()
            .filter(|b| b["status"] == "passed")
            .all(|b| b.get("kept_env").is_none()),
        "{kept}"
    );
    let now: BTreeSet<String> = running_env_ids(&p);
    let added: Vec<_> = now.difference(&before).collect();
    assert_eq!(added, vec![&kept_id], "only the failed branch is kept");
    p.ok(&["down", "--all"]);
}
