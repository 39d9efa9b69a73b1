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
    let counter = p.scratch.path().join("seed-count.txt");
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
    let report = json_of(&out);
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
    let b = p.json(&["branch", "--alias", "exp", "--from", "one", "--json"]);
    assert_eq!(b["name"], "exp");
    let head = p.json(&["checkout", "exp", "--json"]);
    assert_eq!(
        (head["name"].as_str(), head["id"].clone()),
        (Some("exp"), b["id"].clone())
    );
    assert_eq!(
        stdout(&p.vers(&["execute", "redis-cli -h redis get v"])).trim(),
        "1"
    );
    p.ok(&["execute", "redis-cli -h redis set v 3"]);
    let back = p.json(&["rollback", "one", "--json"]);
    assert_eq!(back["checkpoint"], "one", "{back}");
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
    // Deleting HEAD leaves none: the advice is to check out what is left, not `up` (which
    // would replace the root environment and its data).
    p.ok(&["branch", "--alias", "gone", "--from", "one"]);
    p.ok(&["checkout", "gone"]);
    p.ok(&["branch", "delete", "gone", "--force"]);
    let out = p.vers(&["execute", "true"]);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("vers checkout NAME") && stderr(&out).contains("root (paused)"),
        "{}",
        stderr(&out)
    );
    p.ok(&["checkout", "root"]);
    assert_eq!(
        stdout(&p.vers(&["execute", "redis-cli -h redis get v"])).trim(),
        "2"
    );
    assert_eq!(p.vers(&["branch", "delete", "root"]).status.code(), Some(1));
    let gone = p.json(&["branch", "delete", "ex*", "--json"]);
    assert_eq!(gone["deleted"], serde_json::json!(["exp"]));
    let names = p.ok(&["branch", "list", "--format", "names"]);
    assert!(!names.contains("exp"), "{names}");
}

#[test]
fn a_wrong_checkpoint_name_or_tag_costs_nothing() {
    let p = TempProject::new("name: w\nservices:\n  redis:\n    template: redis@7\n");
    p.ok(&["up"]);
    p.ok(&["execute", "redis-cli -h redis set v kept"]);
    let out = p.vers(&["up", "--checkpoint", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("services-ready"), "{}", stderr(&out));
    // The running root is untouched: same environment, same data.
    assert_eq!(
        stdout(&p.vers(&["execute", "redis-cli -h redis get v"])).trim(),
        "kept"
    );
    for bad in ["", "a b/..", ".hidden"] {
        let out = p.vers(&["commit", "--tag", bad]);
        assert_eq!(out.status.code(), Some(2), "tag {bad:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("letters, digits"), "{}", stderr(&out));
    }
    let log = p.json(&["log", "--json"]);
    assert!(!log.to_string().contains("a b/.."), "{log}");
    // Reusing a tag moves it to the new checkpoint and says where it was.
    let first = p.json(&["commit", "--tag", "again"]);
    let out = p.vers(&["commit", "--tag", "again"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let from = first["commit_id"].as_str().unwrap();
    assert!(
        stderr(&out).contains(&format!("tag `again` moved from {from} to ")),
        "{}",
        stderr(&out)
    );
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

#[test]
fn a_changed_project_file_recomputes_the_checkpoints_that_depend_on_it() {
    let p = TempProject::new(
        r#"
name: inputs
services:
  redis:
    template: redis@7
checkpoints:
  - name: base
    after: scripts/base.sh
    inputs: [scripts/base.sh]
  - name: seeded
    after: scripts/seed.sh
"#,
    );
    p.write(
        "scripts/base.sh",
        "#!/bin/bash\necho base >> \"$SEED_COUNTER\"\n",
    );
    // The seed script reads a file it does not name on its command line.
    p.write(
        "scripts/seed.sh",
        "#!/bin/bash\nset -e\necho seeded >> \"$SEED_COUNTER\"\nredis-cli -h redis set value \"$(cat data/value.txt)\" > /dev/null\n",
    );
    p.write("data/value.txt", "one");
    let counter = p.scratch.path().join("runs.txt");
    let runs = || {
        std::fs::read_to_string(&counter)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let up = || {
        let out = p.vers_counting_seeds(&counter, &["up"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let _ = p.vers(&["down"]);
        stderr(&out)
    };
    let value = || {
        let out = p.vers_counting_seeds(&counter, &["up"]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&p.vers(&["execute", "redis-cli -h redis get value"]))
            .trim()
            .to_string()
    };

    up();
    assert_eq!(runs(), ["base", "seeded"]);
    // Nothing changed: both reused.
    let again = up();
    assert!(again.contains("checkpoint seeded reused"), "{again}");
    assert_eq!(runs(), ["base", "seeded"]);
    // The data file changed: `base` depends only on its script and is reused, `seeded` is
    // recomputed and holds the new value.
    p.write("data/value.txt", "two");
    let changed = up();
    assert!(changed.contains("checkpoint base reused"), "{changed}");
    assert_eq!(runs(), ["base", "seeded", "seeded"]);
    assert_eq!(value(), "two");
    p.ok(&["down"]);
    // Files vers keeps in `.vers/` are never inputs.
    p.write(".vers/notes.txt", "x");
    up();
    assert_eq!(runs(), ["base", "seeded", "seeded"]);
}

#[test]
fn a_snapshot_no_checkpoint_record_names_is_collected_at_the_next_daemon_start() {
    let p = TempProject::new("name: orphans\nservices:\n  redis:\n    template: redis@7\n");
    p.ok(&["up"]);
    p.ok(&["commit", "--tag", "kept"]);
    p.ok(&["commit", "--tag", "lost"]);
    let log = p.json(&["log", "--format", "json"]);
    let id_of = |tag: &str| {
        log.as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == tag)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (kept, lost) = (id_of("kept"), id_of("lost"));
    p.ok(&["down", "--all"]);
    // As if the CLI had been killed between the snapshot and its record.
    let state_path = p.path().join(".vers/state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    state["checkpoints"].as_object_mut().unwrap().remove(&lost);
    state["tags"].as_object_mut().unwrap().remove("lost");
    std::fs::write(&state_path, state.to_string()).unwrap();
    p.ok(&["status"]);
    let store = p.path().join(".vers/store/checkpoints");
    assert!(store.join(&kept).is_dir(), "{kept} was collected");
    assert!(!store.join(&lost).exists(), "{lost} leaked");
    p.ok(&["down", "--all"]);
}

/// Ids of the branches waiting in warm pools, from `status --json`.
fn warm_ids(p: &TempProject) -> Vec<String> {
    let st = p.json(&["status", "--json"]);
    st["environments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["warm"] == true && e["status"] == "running")
        .filter(|e| {
            e["services"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["health"] == "healthy")
        })
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Polls until the warm pools hold `n` healthy branches for which `ok` holds.
fn wait_for_pool(p: &TempProject, n: usize, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let ids = warm_ids(p);
        if ids.len() == n && ok(&ids) {
            return ids;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pool never held {n} fitting branches; last: {ids:?}\n{}",
            std::fs::read_to_string(p.path().join(".vers/daemon.log")).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn a_warm_pool_hands_out_started_branches_once_and_refills() {
    let p = TempProject::new(
        "name: w\nservices:\n  redis:\n    template: redis@7\ncheckpoints:\n  - name: seeded\n    after: redis-cli -h redis set seed yes\n    warm: 2\n",
    );
    p.ok(&["up"]);
    let pool = wait_for_pool(&p, 2, |_| true);
    assert!(p.ok(&["status"]).contains(" warm"));

    // A branch of the checkpoint is one of the pool's, started and with its data.
    let b = p.json(&["branch", "--alias", "w1", "--from", "seeded"]);
    let w1 = b["id"].as_str().unwrap().to_string();
    assert!(
        pool.contains(&w1),
        "{w1} was not taken from the pool {pool:?}"
    );
    let log = std::fs::read_to_string(p.path().join(".vers/daemon.log")).unwrap();
    assert!(
        log.contains(&format!("warm hand-out: {w1} as w1 in")),
        "{log}"
    );
    p.ok(&["checkout", "w1"]);
    assert_eq!(
        stdout(&p.vers(&["execute", "redis-cli -h redis get seed"])).trim(),
        "yes"
    );
    let listed = p.json(&["branch", "list", "--format", "json"]);
    let w1_entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "w1")
        .cloned()
        .unwrap();
    assert_eq!(w1_entry["id"], w1.as_str());

    // The pool refills in the background, without the branch handed out.
    let refilled = wait_for_pool(&p, 2, |ids| !ids.contains(&w1));

    // Two hand-outs at once never get the same branch.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| p.json(&["branch", "--alias", "a", "--from", "seeded"]));
        let b = s.spawn(|| p.json(&["branch", "--alias", "b", "--from", "seeded"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a["id"], b["id"]);
    assert!(
        refilled.iter().any(|id| a["id"] == id.as_str())
            || refilled.iter().any(|id| b["id"] == id.as_str()),
        "neither {a} nor {b} came from {refilled:?}"
    );

    // When the tag names another checkpoint, the old pool goes and a new one fills.
    let before = wait_for_pool(&p, 2, |_| true);
    p.ok(&["execute", "redis-cli -h redis set seed again"]);
    p.ok(&["commit", "--tag", "seeded"]);
    wait_for_pool(&p, 2, |ids| ids.iter().all(|id| !before.contains(id)));
    let c = p.json(&["branch", "--alias", "w2", "--from", "seeded"]);
    p.ok(&["checkout", "w2"]);
    assert_eq!(
        stdout(&p.vers(&["execute", "redis-cli -h redis get seed"])).trim(),
        "again",
        "{c}"
    );
}

/// A manifest with one redis and a `seeded` checkpoint warmed `warm` times.
fn warm_manifest(warm: usize, extra: &str) -> String {
    format!(
        "name: w\n{extra}services:\n  redis:\n    template: redis@7\ncheckpoints:\n  - name: seeded\n    after: redis-cli -h redis set seed yes\n    warm: {warm}\n  - name: done\n    after: redis-cli -h redis set done yes\n"
    )
}

/// Every environment of the project: (id, name, warm, status).
fn envs_of(p: &TempProject) -> Vec<(String, String, bool, String)> {
    p.json(&["status", "--json"])["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["name"].as_str().unwrap_or_default().to_string(),
                e["warm"] == true,
                e["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_checked_out_warm_branch_leaves_its_pool_once_and_the_pool_refills() {
    let p = TempProject::new(&warm_manifest(2, ""));
    p.ok(&["up"]);
    let pool = wait_for_pool(&p, 2, |_| true);
    let taken = pool[0].clone();
    p.ok(&["checkout", &taken]);
    p.ok(&["execute", "redis-cli -h redis set private head"]);
    let mine = envs_of(&p);
    let me = mine.iter().find(|e| e.0 == taken).unwrap();
    assert!(!me.2, "the checked-out branch is still warm: {mine:?}");
    assert_ne!(me.1, "warm-seeded", "{mine:?}");
    // The pool refills without it, and no hand-out gives it (with HEAD's writes) again.
    wait_for_pool(&p, 2, |ids| !ids.contains(&taken));
    for alias in ["f1", "f2", "f3"] {
        let b = p.json(&["branch", "--alias", alias, "--from", "seeded"]);
        assert_ne!(b["id"], taken.as_str(), "{b}");
    }
    // A warm branch used through VERS_ENV is the user's too.
    let used = wait_for_pool(&p, 2, |_| true)[0].clone();
    let out = std::process::Command::new(vers_bin())
        .args(["execute", "redis-cli -h redis set private used"])
        .env("VERS_ENV", &used)
        .current_dir(p.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for_pool(&p, 2, |ids| !ids.contains(&used));
    for alias in ["g1", "g2", "g3"] {
        let b = p.json(&["branch", "--alias", alias, "--from", "seeded"]);
        assert_ne!(b["id"], used.as_str(), "{b}");
    }
    let head = p.json(&["status", "--json"]);
    assert!(
        head["environments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == taken.as_str() && e["head"] == true),
        "{head}"
    );
}

#[test]
fn removing_a_warmed_checkpoint_drops_its_pool_for_good() {
    let p = TempProject::new(&warm_manifest(2, ""));
    p.ok(&["up"]);
    let pool = wait_for_pool(&p, 2, |_| true);
    // HEAD is based on `done`; only the pool uses `seeded`.
    let said = p.ok(&["checkpoint", "rm", "seeded"]);
    assert!(said.contains("seeded"), "{said}");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let left = envs_of(&p);
    assert!(
        left.iter().all(|e| !e.2 && !pool.contains(&e.0)),
        "the pool of a removed checkpoint is kept or refilled: {left:?}"
    );
    // HEAD still works on its own checkpoint.
    assert_eq!(
        stdout(&p.vers(&["execute", "redis-cli -h redis get done"])).trim(),
        "yes"
    );
}

#[test]
fn after_down_all_no_command_starts_the_warm_pool_again() {
    let p = TempProject::new(&warm_manifest(2, ""));
    p.ok(&["up"]);
    wait_for_pool(&p, 2, |_| true);
    p.ok(&["down", "--all"]);
    // Read-only commands start a daemon; it must not start the pool.
    p.ok(&["log"]);
    std::thread::sleep(std::time::Duration::from_secs(4));
    let envs = envs_of(&p);
    assert!(
        envs.iter().all(|e| e.3 != "running"),
        "something runs after down --all: {envs:?}"
    );
    // `up` brings the pool back; `down` (HEAD only, nothing else of the user's running)
    // drops it.
    p.ok(&["up"]);
    wait_for_pool(&p, 2, |_| true);
    p.ok(&["down"]);
    wait_for_pool(&p, 0, |_| true);
}

#[test]
fn warm_branches_leave_fixed_host_ports_to_head() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let manifest = warm_manifest(2, "").replace(
        "    template: redis@7\n",
        &format!("    template: redis@7\n    ports: [\"{port}:6379\"]\n"),
    );
    let p = TempProject::new(&manifest);
    p.ok(&["up"]);
    let pool = wait_for_pool(&p, 2, |_| true);
    let fixed = format!("127.0.0.1:{port}");
    let endpoints = |id: &str| -> Vec<String> {
        p.json(&["status", "--json"])["environments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["id"] == id)
            .flat_map(|e| e["services"].as_array().unwrap().clone())
            .map(|s| s["host_endpoint"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let head = head_id(&p);
    assert_eq!(endpoints(&head), std::slice::from_ref(&fixed));
    for id in &pool {
        assert!(!endpoints(id).contains(&fixed), "{id} holds {fixed}");
    }
    // HEAD can go and come back on its port while the pool runs.
    p.ok(&["down"]);
    p.ok(&["up"]);
    let head = head_id(&p);
    assert_eq!(endpoints(&head), [fixed]);
}

/// The id of HEAD as `status --json` reports it.
fn head_id(p: &TempProject) -> String {
    let st = p.json(&["status", "--json"]);
    st["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["head"] == true)
        .unwrap_or_else(|| panic!("no HEAD in {st}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_pool_larger_than_its_size_or_memory_cap_is_trimmed() {
    let p = TempProject::new(&warm_manifest(3, ""));
    p.ok(&["up"]);
    wait_for_pool(&p, 3, |_| true);
    // The manifest asks for fewer (same checkpoint): the next refill, which a cold branch
    // kicks, trims the extras and keeps the oldest.
    let pool = warm_ids(&p);
    p.write("vers-integration.yaml", &warm_manifest(1, ""));
    p.ok(&["branch", "--alias", "kick", "--from", "done"]);
    let kept = wait_for_pool(&p, 1, |_| true);
    assert!(pool.contains(&kept[0]), "{kept:?} is not of {pool:?}");

    // A memory cap that fits one branch holds after later refills (a cold branch kicks one).
    let available_mib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("MemAvailable:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024;
    let per_env = available_mib * 3 / 4 * 2 / 3;
    p.write(
        "vers-integration.yaml",
        &warm_manifest(3, &format!("vm:\n  memory_mib: {per_env}\n")),
    );
    p.ok(&["up"]);
    wait_for_pool(&p, 1, |_| true);
    p.ok(&["branch", "--alias", "cold", "--from", "done"]);
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert_eq!(warm_ids(&p).len(), 1);
}

#[test]
fn rebuild_prune_rm_and_the_reasons_a_checkpoint_is_reused_or_not() {
    let p = TempProject::new(
        r#"
name: reasons
services:
  redis:
    template: redis@7
checkpoints:
  - name: base
    after: scripts/base.sh
    inputs: [scripts/base.sh]
  - name: seeded
    after: scripts/seed.sh
"#,
    );
    p.write(
        "scripts/base.sh",
        "#!/bin/bash\necho base >> \"$SEED_COUNTER\"\n",
    );
    p.write(
        "scripts/seed.sh",
        "#!/bin/bash\necho seeded >> \"$SEED_COUNTER\"\ncat data/value.txt > /dev/null\n",
    );
    p.write("data/value.txt", "one");
    let counter = p.scratch.path().join("runs.txt");
    let runs = || {
        std::fs::read_to_string(&counter)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let up = |args: &[&str]| {
        let out = p.vers_counting_seeds(&counter, args);
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
    };
    let reasons = || -> Vec<(String, String)> {
        p.json(&["status", "--json"])["checkpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let plan = p.ok(&["plan"]);
    assert!(plan.contains("- seeded (new: never taken)"), "{plan}");

    up(&["up"]);
    assert_eq!(runs(), 2);
    assert_eq!(
        reasons(),
        [
            ("services-ready".into(), "reused: inputs unchanged".into()),
            ("base".into(), "reused: inputs unchanged".into()),
            ("seeded".into(), "reused: inputs unchanged".into()),
        ]
    );
    // A file only `seeded` covers changed: status, plan and up name it.
    p.write("data/value.txt", "two");
    let r = reasons();
    assert_eq!(r[1].1, "reused: inputs unchanged");
    assert_eq!(r[2].1, "rebuilt: data/value.txt changed");
    let plan = p.ok(&["plan"]);
    assert!(
        plan.contains("- seeded (rebuilt: data/value.txt changed)"),
        "{plan}"
    );
    let said = up(&["up"]);
    assert!(
        said.contains("checkpoint seeded: rebuilt: data/value.txt changed"),
        "{said}"
    );
    assert_eq!(runs(), 3);
    // --rebuild ignores the cache: every checkpoint is taken again, once.
    let said = up(&["up", "--rebuild"]);
    assert!(
        said.contains("checkpoint services-ready: rebuilt: --rebuild ignores the cache"),
        "{said}"
    );
    assert_eq!(runs(), 5);
    assert_eq!(reasons()[2].1, "reused: inputs unchanged");

    // Seven checkpoints were taken; the superseded services-ready, base and seeded ones are
    // needed by no tag or branch, and go with their snapshots.
    let log = p.json(&["log", "--format", "json"]);
    let ids: Vec<String> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 7, "{log}");
    let store = p.path().join(".vers/store/checkpoints");
    for id in &ids {
        assert!(store.join(id).is_dir(), "{id} has no snapshot in {store:?}");
    }
    let pruned = p.json(&["checkpoint", "prune", "--json"]);
    let removed: Vec<String> = pruned["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(removed.len(), 4, "{pruned}");
    for id in &ids {
        assert_eq!(!store.join(id).exists(), removed.contains(id), "{id}");
    }
    let left = p.json(&["log", "--format", "json"]);
    assert_eq!(left.as_array().unwrap().len(), 3, "{left}");
    // What is left is still reused.
    assert_eq!(reasons()[2].1, "reused: inputs unchanged");
    assert_eq!(
        p.json(&["checkpoint", "prune", "--json"])["removed"],
        serde_json::json!([])
    );

    // HEAD was forked from `seeded`: it stays; `base` goes, and is then taken anew.
    let refused = p.vers(&["checkpoint", "rm", "seeded"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("is the base of root"),
        "{}",
        stderr(&refused)
    );
    let gone = p.json(&["checkpoint", "rm", "base", "--json"]);
    assert_eq!(gone["removed"][0]["name"], "base", "{gone}");
    assert_eq!(reasons()[1].1, "new: never taken");
    let missing = p.vers(&["checkpoint", "rm", "nope"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no checkpoint named `nope`"),
        "{}",
        stderr(&missing)
    );
    p.ok(&["down"]);
}

#[test]
fn a_redis_checkpoint_holds_a_compacted_aof_so_branches_replay_nothing() {
    let p = TempProject::new(
        "name: aof\nservices:\n  redis:\n    template: redis@7\ncheckpoints:\n  - name: filled\n    after: redis-cli -h redis eval \"for i=1,2000 do redis.call('set','k'..i,'v') end return 1\" 0\n",
    );
    p.ok(&["up"]);
    let b = p.json(&["branch", "--alias", "x", "--from", "filled"]);
    let id = b["id"].as_str().unwrap();
    let dir = p
        .path()
        .join(".vers/store/volumes")
        .join(id)
        .join("redis/appendonlydir");
    let files: Vec<(String, u64)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    let incr: u64 = files
        .iter()
        .filter(|(n, _)| n.ends_with(".incr.aof"))
        .map(|(_, l)| l)
        .sum();
    // 2000 SETs in the log would be ~60 kB; the rewrite at checkpoint time leaves none.
    assert!(incr < 1000, "{files:?}");
    assert!(
        files
            .iter()
            .any(|(n, l)| n.ends_with(".base.rdb") && *l > 10_000),
        "{files:?}"
    );
    p.ok(&["checkout", "x"]);
    assert_eq!(
        stdout(&p.vers(&["execute", "redis-cli -h redis dbsize"])).trim(),
        "2000"
    );
}

/// A stack whose `worker` fails to start while `flag` exists.
fn flaky_manifest(flag: &std::path::Path) -> String {
    format!(
        r#"
name: flaky
services:
  kv:
    template: redis@7
  worker:
    command: sh -c 'if [ -e {flag} ]; then echo boom-marker-in-the-log; exit 3; fi; exec sleep 100000'
    healthcheck:
      command: test ! -e {flag}
      interval: 100ms
"#,
        flag = flag.display()
    )
}

/// Names of the environments in the project's state.
fn state_envs(p: &TempProject) -> Vec<String> {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path().join(".vers/state.json")).unwrap()).unwrap();
    state["envs"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_branch_that_fails_to_start_is_removed_whole_and_the_error_says_why() {
    let scratch = tempfile::tempdir().unwrap();
    let flag = scratch.path().join("fail");
    let p = TempProject::new(&flaky_manifest(&flag));
    p.ok(&["up"]);
    let prefix = netns_prefix(p.path());
    let root_ns = netns_matching(&prefix);
    let volumes = || {
        std::fs::read_dir(p.path().join(".vers/store/volumes"))
            .unwrap()
            .count()
    };
    let volumes_before = volumes();

    std::fs::write(&flag, "").unwrap();
    let out = p.vers(&["branch", "--alias", "broken"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("broken") && err.contains("removed") && err.contains("worker"),
        "{err}"
    );
    assert!(
        err.contains("boom-marker-in-the-log"),
        "the log tail: {err}"
    );
    // The error names the logs, and they are still there.
    let logs = err
        .split("logs are kept in ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .unwrap_or_else(|| panic!("no log directory in: {err}"));
    let log = std::path::Path::new(logs).join("worker.log");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("boom-marker-in-the-log"),
        "{}",
        log.display()
    );
    // Nothing of it is left: record, namespace, volume.
    assert_eq!(state_envs(&p), vec!["root".to_string()]);
    let branches = p.ok(&["branch", "list", "--format", "names"]);
    assert_eq!(branches.trim(), "root");
    assert_eq!(netns_matching(&prefix), root_ns);
    assert_eq!(volumes(), volumes_before);

    // A step failing right after the record is written leaves nothing either.
    std::fs::remove_file(&flag).unwrap();
    for fp in ["branch-after-record", "boot-after-create"] {
        let out = std::process::Command::new(vers_bin())
            .args(["branch", "--alias", "halfway"])
            .current_dir(p.path())
            .env_remove("VERS_ENV")
            .env("CI", "true")
            .env("VERS_FAILPOINTS", format!("{fp}=error"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{fp}: {}", stderr(&out));
        assert!(stderr(&out).contains("halfway"), "{fp}: {}", stderr(&out));
        assert_eq!(state_envs(&p), vec!["root".to_string()], "{fp}");
        assert_eq!(netns_matching(&prefix), root_ns, "{fp}");
        assert_eq!(volumes(), volumes_before, "{fp}");
    }

    // And a branch that starts is kept.
    p.ok(&["branch", "--alias", "fine"]);
    let mut names = state_envs(&p);
    names.sort();
    assert_eq!(names, vec!["fine".to_string(), "root".to_string()]);
    p.ok(&["down", "--all"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !netns_matching(&prefix).is_empty() {
        assert!(std::time::Instant::now() < deadline, "namespaces left");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
