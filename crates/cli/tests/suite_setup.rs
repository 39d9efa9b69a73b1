//! A suite's `setup:` against real redis: its commands run once per run in a fork of the
//! checkpoint, every branch of the suite starts from what they left, branches stay isolated
//! from each other, and the root environment never sees the setup's writes.

mod common;

use common::*;

const MANIFEST: &str = r#"name: suite-setup
services:
  redis:
    template: redis@7
tests:
  s:
    setup:
      - redis-cli -h redis set fixture 41 && echo run >> setup-runs.txt
      - redis-cli -h redis incr fixture
    command: test "$(redis-cli -h redis incr fixture)" = 43
    branches:
      - name: b1
      - name: b2
      - name: b3
"#;

#[test]
fn suite_setup_runs_once_and_every_branch_starts_from_its_result() {
    let p = TempProject::new(MANIFEST);
    p.ok(&["up"]);
    let out = p.vers(&["test", "--parallel", "--json"]);
    let report = json_of(&out);
    // Each branch sees 41 + 1 from the setup and adds its own 1: 43 in every one of them
    // only if the branches are isolated from each other.
    assert_eq!(report["suites"][0]["passed"], 3, "{report}");
    assert!(out.status.success(), "{}", stderr(&out));
    let runs = std::fs::read_to_string(p.path().join("setup-runs.txt")).unwrap();
    assert_eq!(runs.lines().count(), 1, "setup ran once for three branches");
    let root = p.ok(&["execute", "redis-cli -h redis exists fixture"]);
    assert_eq!(
        root.trim(),
        "0",
        "the setup wrote into the root environment"
    );
    p.ok(&["down", "--all"]);
}
