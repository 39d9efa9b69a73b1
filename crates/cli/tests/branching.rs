//! Checkpoints, branches and branched test runs against real PostgreSQL and Redis.

mod common;

use common::*;

const STACK: &str = r#"
name: branchy
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
  isolation:
    command: sh scripts/isolation.sh
    parallel: true
    branches:
      - name: b1
        env: { MARK: one }
      - name: b2
        env: { MARK: two }
      - name: b3
        env: { MARK: three }
      - name: b4
        env: { MARK: four }
  outcomes:
    command: sh -c 'echo "running $VERS_BRANCH"; test "$RESULT" = ok'
    timeout: 2s
    depends_on: [redis]
    branches:
      - name: good
        env: { RESULT: ok }
      - name: bad
        env: { RESULT: no }
      - name: slow
        env: { RESULT: ok }
        before: sleep 5
"#;

const SEED: &str = r#"#!/bin/bash
set -e
echo seeded >> "$SEED_COUNTER"
psql -v ON_ERROR_STOP=1 postgres://postgres@postgres/app -c "create table items(name text); insert into items values ('seed')"
redis-cli -h redis set seed yes
"#;

const ISOLATION: &str = r#"set -e
psql -v ON_ERROR_STOP=1 postgres://postgres@postgres/app -c "insert into items values ('$MARK')"
redis-cli -h redis rpush marks "$MARK" > /dev/null
sleep 1
n=$(psql -tA postgres://postgres@postgres/app -c "select count(*) from items")
m=$(psql -tA postgres://postgres@postgres/app -c "select count(*) from items where name = '$MARK'")
k=$(redis-cli -h redis llen marks)
s=$(redis-cli -h redis get seed)
echo "rows=$n mine=$m marks=$k seed=$s"
test "$n" = 2 && test "$m" = 1 && test "$k" = 1 && test "$s" = yes
"#;

fn project() -> (TempProject, std::path::PathBuf) {
    let p = TempProject::new(STACK);
    p.write("scripts/seed.sh", SEED);
    p.write("scripts/isolation.sh", ISOLATION);
    let counter = p.path().join("seed-count.txt");
    (p, counter)
}

#[test]
fn parallel_branches_are_isolated_and_root_is_unchanged() {
    let (p, counter) = project();
    let out = p.vers_counting_seeds(&counter, &["integration", "up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = p.vers_counting_seeds(
        &counter,
        &[
            "integration",
            "test",
            "--suite",
            "isolation",
            "--parallel",
            "--json",
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}{}", stdout(&out), stderr(&out)));
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["summary"]["passed"], 4, "{report:#}");
    // The root environment never saw the branches' writes.
    let n = p.vers(&[
        "execute",
        "psql -tA postgres://postgres@postgres/app -c 'select count(*) from items'",
    ]);
    assert_eq!(stdout(&n).trim(), "1");
    let k = p.vers(&["execute", "redis-cli -h redis llen marks"]);
    assert_eq!(stdout(&k).trim(), "0");
    // Branch environments are gone after the run.
    let list = p.json(&["branch", "list", "--format", "json"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    // The checkpoint cache: `down` + `up` again does not re-seed.
    p.ok(&["down"]);
    let out = p.vers_counting_seeds(&counter, &["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("reused"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        1
    );
    let n = p.vers(&[
        "execute",
        "psql -tA postgres://postgres@postgres/app -c 'select count(*) from items'",
    ]);
    assert_eq!(stdout(&n).trim(), "1");
}

#[test]
fn failures_and_timeouts_have_their_own_status_and_junit() {
    let (p, counter) = project();
    let junit = p.path().join("out/junit.xml");
    let out = p.vers_counting_seeds(
        &counter,
        &[
            "test",
            "--suite",
            "outcomes",
            "--json",
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let branches = report["suites"][0]["branches"].as_array().unwrap();
    let status = |n: &str| branches.iter().find(|b| b["name"] == n).unwrap()["status"].clone();
    assert_eq!(status("good"), "passed");
    assert_eq!(status("bad"), "failed");
    assert_eq!(status("slow"), "timeout");
    assert_eq!(report["summary"]["failed"], 2);
    let good_log = branches.iter().find(|b| b["name"] == "good").unwrap()["log"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(std::fs::read_to_string(good_log)
        .unwrap()
        .contains("running good"));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("testsuite name=\"outcomes\""), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    // Human output: one line per suite.
    let out = p.vers_counting_seeds(
        &counter,
        &["test", "--suite", "outcomes", "--scenario", "good"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("outcomes: 1/1 branches passed"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn commit_branch_checkout_rollback_and_log() {
    let p = TempProject::new("name: g\nservices:\n  redis:\n    template: redis@7\n");
    p.ok(&["up"]);
    p.ok(&["execute", "redis-cli -h redis set v 1"]);
    let c = p.json(&["commit", "--tag", "one", "--message", "v=1"]);
    assert_eq!(c["tag"], "one");
    assert!(c["commit_id"].as_str().unwrap().starts_with('c'));
    p.ok(&["execute", "redis-cli -h redis set v 2"]);
    p.ok(&["branch", "--alias", "exp", "--from", "one"]);
    p.ok(&["checkout", "exp"]);
    assert_eq!(
        stdout(&p.vers(&["execute", "redis-cli -h redis get v"])).trim(),
        "1"
    );
    p.ok(&["execute", "redis-cli -h redis set v 3"]);
    p.ok(&["rollback", "one"]);
    assert_eq!(
        stdout(&p.vers(&["execute", "redis-cli -h redis get v"])).trim(),
        "1"
    );
    let names = p.ok(&["branch", "list", "--format", "names"]);
    assert!(
        names.lines().any(|l| l == "exp") && names.lines().any(|l| l == "root"),
        "{names}"
    );
    let log = p.ok(&["log"]);
    assert!(
        log.contains("services-ready") && log.contains("one"),
        "{log}"
    );
    p.ok(&["checkout", "root"]);
    assert_eq!(
        stdout(&p.vers(&["execute", "redis-cli -h redis get v"])).trim(),
        "2"
    );
    assert_eq!(p.vers(&["branch", "delete", "root"]).status.code(), Some(1));
    p.ok(&["branch", "delete", "ex*"]);
    let names = p.ok(&["branch", "list", "--format", "names"]);
    assert!(!names.contains("exp"), "{names}");
}

#[test]
fn killed_during_checkpoint_leaves_no_half_checkpoint() {
    let p = TempProject::new("name: k\nservices:\n  redis:\n    template: redis@7\ncheckpoints:\n  - name: slow\n    after: sleep 30\n");
    let mut child = std::process::Command::new(vers_bin())
        .args(["up"])
        .current_dir(p.path())
        .env("CI", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the trigger runs, then kill the CLI hard.
    for _ in 0..200 {
        let st = std::fs::read_to_string(p.path().join(".vers/state.json")).unwrap_or_default();
        if st.contains("services-ready") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let log = p.json(&["log", "--format", "json"]);
    let names: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"services-ready"), "{log}");
    assert!(!names.contains(&"slow"), "half checkpoint visible: {log}");
    // The next command works and can finish the chain from the cache.
    p.write("vers-integration.yaml", "name: k\nservices:\n  redis:\n    template: redis@7\ncheckpoints:\n  - name: slow\n    after: sleep 0.1\n");
    let out = p.vers(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("reused"), "{}", stderr(&out));
}

#[test]
fn every_snapshotter_forks_isolated_branches() {
    for kind in ["copy", "overlay", "btrfs"] {
        let p = TempProject::new(
            "name: s\nservices:\n  redis:\n    template: redis@7\ncheckpoints:\n  - name: filled\n    after: redis-cli -h redis set k base\ntests:\n  t:\n    command: sh -c 'test \"$(redis-cli -h redis get k)\" = base && redis-cli -h redis set k $VERS_BRANCH'\n    branches:\n      - name: x\n      - name: y\n",
        );
        let out = std::process::Command::new(vers_bin())
            .args(["test", "--parallel", "--json"])
            .current_dir(p.path())
            .env("VERS_SNAPSHOTTER", kind)
            .env("CI", "true")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{kind}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let st = std::process::Command::new(vers_bin())
            .args(["status", "--json"])
            .current_dir(p.path())
            .env("VERS_SNAPSHOTTER", kind)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
        assert_eq!(v["snapshotter"], kind);
        let _ = std::process::Command::new(vers_bin())
            .args(["down", "--all"])
            .current_dir(p.path())
            .env("VERS_SNAPSHOTTER", kind)
            .output();
    }
}
