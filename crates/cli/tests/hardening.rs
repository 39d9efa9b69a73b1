//! Hardening: the clean environment of test commands, hooks, scripts and health checks;
//! reading logs; cleanup of per-project directories on `down`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

/// `NAME=value` lines of an `env` dump.
fn env_dump(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn commands_of_environments_get_a_clean_environment_with_explicit_pass_through() {
    let scratch = tempfile::tempdir().unwrap();
    let s = scratch.path().display();
    let p = TempProject::new(&format!(
        r#"
name: cleanenv
pass_env: [FROM_MANIFEST]
services:
  redis:
    template: redis@7
    healthcheck:
      command: env > {s}/health.env
checkpoints:
  - name: seeded
    after: env > {s}/script.env
tests:
  dump:
    command: env > {s}/test-$VERS_BRANCH.env
    env: {{ SUITE_VAR: from-suite }}
    branches:
      - name: hooked
        before: env > {s}/hook.env
"#
    ));
    let run = |args: &[&str]| {
        let out = std::process::Command::new(vers_bin())
            .args(args)
            .current_dir(p.path())
            .env_remove("VERS_ENV")
            .env_remove("VERS_PASS_ENV")
            .env("CI", "true")
            .env("SECRET_TOKEN", "leaked")
            .env("FROM_MANIFEST", "by-manifest")
            .env("FROM_FLAG", "by-flag")
            .env("VERS_CUSTOM", "kept")
            .output()
            .unwrap();
        assert!(out.status.success(), "vers {args:?}: {}", stderr(&out));
    };
    run(&["up"]);
    run(&["--pass-env", "FROM_FLAG", "test"]);
    for file in ["health", "script", "hook", "test-hooked"] {
        let env = env_dump(&scratch.path().join(format!("{file}.env")));
        assert!(!env.contains_key("SECRET_TOKEN"), "{file}: {env:?}");
        assert_eq!(
            env.get("FROM_MANIFEST").map(String::as_str),
            Some("by-manifest"),
            "{file}: {env:?}"
        );
        assert_eq!(
            env.get("VERS_CUSTOM").map(String::as_str),
            Some("kept"),
            "{file}"
        );
        assert!(
            env.get("PATH").is_some_and(|p| p.contains("/usr/bin")),
            "{file}: {env:?}"
        );
        assert!(env.contains_key("HOME"), "{file}: {env:?}");
    }
    // `--pass-env` was given to `test` only: its commands see FROM_FLAG, `up`'s did not.
    let test = env_dump(&scratch.path().join("test-hooked.env"));
    assert_eq!(
        test.get("FROM_FLAG").map(String::as_str),
        Some("by-flag"),
        "{test:?}"
    );
    assert_eq!(
        test.get("SUITE_VAR").map(String::as_str),
        Some("from-suite")
    );
    assert_eq!(
        test.get("VERS_REDIS_HOST").map(String::as_str),
        Some("redis")
    );
    let script = env_dump(&scratch.path().join("script.env"));
    assert!(!script.contains_key("FROM_FLAG"), "{script:?}");
    // A bad name in `pass_env` is a manifest error with its position.
    let bad = TempProject::new("name: x\npass_env: [\"NOT-A-NAME\"]\nservices: {}\n");
    let out = bad.vers(&["integration", "validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("vers-integration.yaml:2:"),
        "{}",
        stderr(&out)
    );
}

/// The project's key: the name of the `/run/vers` directory that claims it.
fn project_key(p: &TempProject) -> String {
    let run = runtime_dir_of(p.path()).expect("a /run/vers directory claims the project");
    run.file_name().unwrap().to_str().unwrap().to_string()
}

/// The key directory under `/run/vers` whose claim names `dir`.
fn runtime_dir_of(dir: &Path) -> Option<std::path::PathBuf> {
    let me = dir.canonicalize().unwrap();
    std::fs::read_dir("/run/vers")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|d| {
            std::fs::read(d.join("project")).ok().as_deref()
                == Some(me.as_os_str().as_encoded_bytes())
        })
}

/// Every cgroup directory of a project key (v2, or each v1 controller).
fn cgroup_dirs(key: &str) -> Vec<std::path::PathBuf> {
    let mut out = vec![Path::new("/sys/fs/cgroup/vers").join(key)];
    for c in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        out.push(c.path().join("vers").join(key));
    }
    out
}

#[test]
fn down_all_removes_the_projects_runtime_and_cgroup_directories() {
    let p = TempProject::new("name: tidy\nservices:\n  redis:\n    template: redis@7\n");
    p.ok(&["up"]);
    let run = runtime_dir_of(p.path()).expect("a /run/vers directory claims the project");
    let key = project_key(&p);
    assert_eq!(key.len(), 16, "64-bit key: {key}");
    assert!(
        cgroup_dirs(&key).iter().any(|d| d.is_dir()),
        "the project's cgroup exists"
    );
    p.ok(&["down", "--all"]);
    // The daemon removes them as it exits, after `down` returned.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left: Vec<_> = cgroup_dirs(&key)
            .into_iter()
            .chain([run.clone()])
            .filter(|d| d.exists())
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left after down --all: {left:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `down --all` also removes what no environment record names: here a namespace and a
/// cgroup with a process in it, as a run cancelled between starting a branch and recording
/// it leaves them.
#[test]
fn down_all_removes_an_environment_no_record_names() {
    let p = TempProject::new("name: unrecorded\nservices:\n  redis:\n    template: redis@7\n");
    p.ok(&["up"]);
    let key = project_key(&p);
    let netns = format!("vers-{key}-e99");
    let made = std::process::Command::new("ip")
        .args(["netns", "add", &netns])
        .status()
        .unwrap();
    assert!(made.success());
    // The unified hierarchy, or (cgroup v1) each controller's that vers uses.
    let hierarchies: Vec<std::path::PathBuf> =
        if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            vec!["/sys/fs/cgroup".into()]
        } else {
            ["freezer", "memory", "pids"]
                .iter()
                .map(|c| Path::new("/sys/fs/cgroup").join(c))
                .filter(|d| d.join("vers").join(&key).is_dir())
                .collect()
        };
    assert!(!hierarchies.is_empty(), "no cgroup of project {key}");
    let mut sleeper = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap();
    for h in &hierarchies {
        let cgroup = h.join("vers").join(&key).join("e99");
        std::fs::create_dir_all(&cgroup).unwrap();
        std::fs::write(cgroup.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
    }
    p.ok(&["down", "--all"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let gone = loop {
        if sleeper.try_wait().unwrap().is_some() {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let listed = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&listed.stdout).contains(&netns);
    if !gone {
        let _ = sleeper.kill();
    }
    if left {
        let _ = std::process::Command::new("ip")
            .args(["netns", "delete", &netns])
            .status();
    }
    assert!(
        gone,
        "the process in the unrecorded environment's cgroup still runs"
    );
    assert!(!left, "{netns} is left");
}

const CRASHY: &str = r#"
name: crashy
services:
  redis:
    template: redis@7
checkpoints:
  - name: seeded
    after: redis-cli -h redis set seed yes
"#;

/// Runs `vers` with failpoint `fp` set to kill the process that reaches it.
fn vers_killed_at(p: &TempProject, fp: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(vers_bin())
        .args(args)
        .current_dir(p.path())
        .env_remove("VERS_ENV")
        .env("CI", "true")
        .env("VERS_FAILPOINTS", format!("{fp}=kill"))
        .output()
        .unwrap()
}

/// Names (not temporary entries) in a directory of the snapshot store.
fn store_names(p: &TempProject, sub: &str) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(p.path().join(".vers/store").join(sub))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with(".tmp-"))
                .collect()
        })
        .unwrap_or_default()
}

/// The invariants after a crash and the next command: every checkpoint the state shows has
/// its data and no snapshot is unnamed; every volume, namespace, cgroup and mount of the
/// project belongs to an environment the state names (and each environment has its
/// volume); nothing is left pending.
fn check_invariants(p: &TempProject, key: &str, when: &str) {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path().join(".vers/state.json")).unwrap()).unwrap();
    let envs: std::collections::BTreeSet<String> =
        state["envs"].as_object().unwrap().keys().cloned().collect();
    let ckpts: std::collections::BTreeSet<String> = state["checkpoints"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        store_names(p, "checkpoints"),
        ckpts,
        "{when}: checkpoints in store vs state"
    );
    assert_eq!(
        store_names(p, "volumes"),
        envs,
        "{when}: volumes vs environments"
    );
    assert!(
        state["pending"].as_object().is_none_or(|m| m.is_empty()),
        "{when}: pending {}",
        state["pending"]
    );
    let prefix = format!("vers-{key}-");
    for ns in netns_matching(&prefix) {
        let env = ns[prefix.len()..]
            .split(['-', '.'])
            .next()
            .unwrap()
            .to_string();
        assert!(
            envs.contains(&env),
            "{when}: namespace {ns} of no environment ({envs:?})"
        );
    }
    for dir in cgroup_dirs(key) {
        for child in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if child.file_type().unwrap().is_dir() {
                let name = child.file_name().to_string_lossy().into_owned();
                assert!(
                    envs.contains(&name),
                    "{when}: cgroup {} of no environment",
                    child.path().display()
                );
            }
        }
    }
    let volumes = p.path().canonicalize().unwrap().join(".vers/store/volumes");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for line in mounts.lines() {
        let target = line.split_whitespace().nth(4).unwrap();
        if let Some(rest) = target.strip_prefix(&format!("{}/", volumes.display())) {
            let id = rest.split('/').next().unwrap();
            assert!(
                envs.contains(id),
                "{when}: mount {target} of no environment"
            );
        }
    }
}

#[test]
fn a_kill_at_any_step_of_up_checkpoint_branch_or_delete_leaves_nothing_half_done() {
    let p = TempProject::new(CRASHY);
    p.ok(&["up"]);
    let key = project_key(&p);
    p.ok(&["commit", "--tag", "base"]);
    check_invariants(&p, &key, "after up");
    // (failpoint, the command killed there, the next command)
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "env-after-volume",
            &["branch", "--alias", "b1", "--from", "seeded"],
            &["branch", "--alias", "b1", "--from", "seeded"],
        ),
        (
            "branch-after-record",
            &["branch", "--alias", "b2", "--from", "seeded"],
            &["status"],
        ),
        (
            "boot-after-create",
            &["branch", "--alias", "b3", "--from", "base"],
            &["status"],
        ),
        (
            "checkpoint-before-snapshot",
            &["commit", "--tag", "t1"],
            &["commit", "--tag", "t1"],
        ),
        (
            "checkpoint-after-snapshot",
            &["commit", "--tag", "t2"],
            &["commit", "--tag", "t2"],
        ),
        (
            "delete-after-stop",
            &["branch", "delete", "b1"],
            &["branch", "delete", "b1"],
        ),
        (
            "delete-after-volume",
            &["branch", "delete", "b2"],
            &["branch", "delete", "b2"],
        ),
        (
            "delete-after-stop",
            &["branch", "delete", "b3"],
            &["branch", "delete", "b3"],
        ),
        ("up-after-boot", &["up", "--rebuild"], &["up"]),
    ];
    for (fp, killed, next) in cases {
        let out = vers_killed_at(&p, fp, killed);
        assert!(
            !out.status.success(),
            "{fp}: `vers {killed:?}` was not killed: {}",
            stderr(&out)
        );
        p.ok(next);
        check_invariants(&p, &key, &format!("{fp} in {killed:?}, then {next:?}"));
    }
    // Committed checkpoints kept their data through every crash.
    for from in ["seeded", "base", "t1", "t2"] {
        let name = format!("check-{from}");
        p.ok(&["branch", "--alias", &name, "--from", from]);
        p.ok(&["checkout", &name]);
        let got = p.ok(&["execute", "redis-cli -h redis get seed"]);
        assert_eq!(got.trim(), "yes", "data of {from}");
    }
    check_invariants(&p, &key, "after the checks");
    // And `down --all` leaves nothing of the project on the host.
    p.ok(&["down", "--all"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let store = p.path().canonicalize().unwrap().join(".vers/store");
    let store_mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(&store.display().to_string())
    };
    while std::time::Instant::now() < deadline
        && (runtime_dir_of(p.path()).is_some()
            || !netns_matching(&format!("vers-{key}-")).is_empty()
            || store_mounted())
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(netns_matching(&format!("vers-{key}-")).is_empty());
    assert!(runtime_dir_of(p.path()).is_none());
    assert!(cgroup_dirs(&key).iter().all(|d| !d.exists()));
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let left: Vec<&str> = mounts
        .lines()
        .filter(|l| l.contains(&store.display().to_string()))
        .collect();
    assert!(left.is_empty(), "still mounted: {left:#?}");
}

const NOISY: &str = r#"i=0
while [ $i -lt 3000 ]; do echo "filler line $i of the start"; i=$((i+1)); done
printf 'caf\351 marker\n'
while :; do echo "tick $i"; i=$((i+1)); sleep 0.2; done
"#;

#[test]
fn service_logs_are_capped_read_lossily_and_filtered_by_line_time() {
    let p = TempProject::new(
        "name: noisy\nservices:\n  noisy:\n    build: ./noisy\n    command: sh noisy.sh\n    healthcheck:\n      command: 'true'\n",
    );
    p.write("noisy/noisy.sh", NOISY);
    let out = std::process::Command::new(vers_bin())
        .args(["up"])
        .current_dir(p.path())
        .env_remove("VERS_ENV")
        .env("CI", "true")
        .env("VERS_LOG_CAP", "16384")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let log = p.path().join(".vers/logs");
    // Wait for the ticks after the burst.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let logs = loop {
        let text = p.ok(&["logs", "noisy"]);
        // Two ticks at least, so the last two lines are ticks.
        if text.contains("tick 3001") {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "no ticks in:\n{text}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    // Capped: the start was cut behind a marker; the invalid byte shows as U+FFFD.
    assert!(
        logs.contains("earlier bytes of this log were cut"),
        "{logs}"
    );
    assert!(!logs.contains("filler line 0 "), "the head was cut");
    assert!(logs.contains("caf\u{fffd} marker"), "{logs}");
    let files: Vec<_> = walk(&log)
        .into_iter()
        .filter(|f| f.ends_with("noisy.log") && !f.parent().unwrap().ends_with("build"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(std::fs::metadata(&files[0]).unwrap().len() <= 16384);
    // --lines reads the tail.
    let two = p.ok(&["logs", "noisy", "--lines", "2"]);
    assert_eq!(two.lines().count(), 2, "{two}");
    assert!(two.lines().all(|l| l.starts_with("tick ")), "{two}");
    // --since keeps the lines written in the window, not the whole (recently written) file.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let recent = p.ok(&["logs", "noisy", "--since", "1s"]);
    assert!(
        !recent.is_empty() && recent.lines().all(|l| l.starts_with("tick ")),
        "{recent}"
    );
    assert!(recent.lines().count() <= 10, "{recent}");
    // --json: the same lines in one document, as MCP's integration_logs gives them.
    let doc = p.json(&["logs", "noisy", "--lines", "2", "--json"]);
    assert_eq!(doc["service"], "noisy", "{doc}");
    let lines = doc["files"][0]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{doc}");
    assert!(lines[1].as_str().unwrap().starts_with("tick "), "{doc}");
    let both = p.vers(&["logs", "noisy", "--json", "--follow"]);
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

const RESUMABLE: &str = r#"
name: resumable
services:
  db:
    template: postgres@16
checkpoints:
  - name: seeded
    after: psql -v ON_ERROR_STOP=1 -h db -U postgres -c "create table t(x int); insert into t values (1)"
"#;

/// SIGKILLs the project's daemon and waits until it is gone.
fn kill_daemon(p: &TempProject) {
    let pid: i32 = std::fs::read_to_string(p.path().join(".vers/daemon.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -9 {pid}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "daemon {pid} lives on"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn rows(p: &TempProject) -> String {
    p.ok(&[
        "execute",
        "psql -tA -h db -U postgres -c 'select x from t order by x'",
    ])
    .split_whitespace()
    .collect::<Vec<_>>()
    .join(",")
}

/// The status of environment `name` in `vers status --json`.
fn env_status(p: &TempProject, name: &str) -> (String, String) {
    let st = p.json(&["status", "--json"]);
    let env = st["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no environment {name} in {st}"))
        .clone();
    (
        env["id"].as_str().unwrap().to_string(),
        env["status"].as_str().unwrap().to_string(),
    )
}

#[test]
fn after_a_kill_of_the_daemon_up_and_checkout_start_environments_again_on_their_data() {
    let p = TempProject::new(RESUMABLE);
    p.ok(&["up"]);
    // `db schema` of a postgres 16 works, or (no pg_dump 16 on the machine: the embedded
    // engine has none) says which client tools to install.
    let schema = p.vers(&["db", "schema"]);
    assert!(
        schema.status.success() || stderr(&schema).contains("postgresql-client-16"),
        "{}",
        stderr(&schema)
    );
    let key = project_key(&p);
    p.ok(&[
        "execute",
        "psql -h db -U postgres -c 'insert into t values (2)'",
    ]);
    let (root, _) = env_status(&p, "root");
    // A branch, HEAD when the daemon dies, with a write of its own.
    p.ok(&["branch", "--alias", "side", "--from", "seeded"]);
    p.ok(&["checkout", "side"]);
    p.ok(&[
        "execute",
        "psql -h db -U postgres -c 'insert into t values (3)'",
    ]);
    kill_daemon(&p);

    // The next command cleans up: nothing of the dead daemon is left, and both are shown
    // stopped.
    let out = p.vers(&["execute", "true"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("side") && err.contains("stopped") && err.contains("vers checkout side"),
        "{err}"
    );
    assert!(!err.contains("/run/netns"), "{err}");
    check_invariants(&p, &key, "after the kill");
    assert!(
        netns_matching(&format!("vers-{key}-")).is_empty(),
        "namespaces of a dead daemon: {:?}",
        netns_matching(&format!("vers-{key}-"))
    );
    assert_eq!(env_status(&p, "root").1, "stopped");
    assert_eq!(env_status(&p, "side").1, "stopped");
    let text = p.ok(&["status"]);
    assert!(
        text.contains("`vers checkout side`") && text.contains("`vers up`"),
        "{text}"
    );
    for cmd in [
        &["db", "query", "select 1"][..],
        &["commit", "--tag", "never"],
        &["chaos", "list"],
    ] {
        let out = p.vers(cmd);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("is stopped") && !stderr(&out).contains("/run/netns"),
            "{cmd:?}: {}",
            stderr(&out)
        );
    }

    // `checkout` starts the branch again on its data.
    p.ok(&["checkout", "side"]);
    assert_eq!(env_status(&p, "side").1, "running");
    assert_eq!(rows(&p), "1,3");

    // `up` (same manifest) starts the root again on its data: the same environment, HEAD.
    kill_daemon(&p);
    p.ok(&["up"]);
    assert_eq!(
        env_status(&p, "root"),
        (root.clone(), "running".to_string())
    );
    assert_eq!(rows(&p), "1,2");
    assert_eq!(env_status(&p, "side").1, "stopped");
    check_invariants(&p, &key, "after up");

    // A root that stopped with other data than this `up` would give is replaced.
    kill_daemon(&p);
    p.ok(&["up", "--no-checkpoints"]);
    let (new_root, status) = env_status(&p, "root");
    assert_eq!(status, "running");
    assert_ne!(new_root, root);
    check_invariants(&p, &key, "after up --no-checkpoints");

    p.ok(&["down", "--all"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !netns_matching(&format!("vers-{key}-")).is_empty() {
        assert!(std::time::Instant::now() < deadline, "namespaces left");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `down --all` that cannot remove one environment still removes the others and stops the
/// supervisor, then reports the error: it used to stop at the first one and leave the
/// daemon, its store mount and every later environment running.
#[test]
fn down_all_stops_the_daemon_even_when_an_environment_cannot_be_removed() {
    let p = TempProject::new("name: downerr\nservices:\n  redis:\n    template: redis@7\n");
    p.ok(&["up"]);
    p.ok(&["branch", "--alias", "side"]);
    let pid: i32 = std::fs::read_to_string(p.path().join(".vers/daemon.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let out = std::process::Command::new(vers_bin())
        .args(["down", "--all"])
        .current_dir(p.path())
        .env_remove("VERS_ENV")
        .env("CI", "true")
        .env("VERS_FAILPOINTS", "delete-after-volume=error")
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(0),
        "the failpoint's error is reported"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon still runs after down --all: {}",
            stderr(&out)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_project_in_a_private_directory_lets_its_engines_reach_their_data() {
    use std::os::unix::fs::PermissionsExt;
    // `mktemp -d`, `/root/app`: a directory the engine user cannot search.
    let p = TempProject::new("name: private\nservices:\n  postgres:\n    template: postgres@15\n");
    std::fs::set_permissions(p.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = p.vers(&["up"]);
    let err = stderr(&out);
    assert!(out.status.success(), "up in a 0700 directory: {err}");
    assert!(
        err.contains("gave that user search access")
            && err.contains(&p.path().display().to_string()),
        "up says which directory it opened to the engine user: {err}"
    );
    let rows = p.ok(&[
        "execute",
        "psql -tA postgres://postgres@postgres/postgres -c 'select 41+1'",
    ]);
    assert_eq!(rows.trim(), "42");
    // Search only: the group class (the ACL mask) gains x, nobody gains read or write.
    let mode = std::fs::metadata(p.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o710, "the directory's mode with its ACL mask");
    p.ok(&["down", "--all"]);
    let again = p.vers(&["up"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        !stderr(&again).contains("search access"),
        "a second up has nothing to open: {}",
        stderr(&again)
    );
}

/// Runs `cmd`, whose program is a copy of the binary just written, retrying while it is
/// busy (`ETXTBSY`): a child another test thread forked meanwhile holds the copy's write
/// descriptor until its own exec.
fn output_of_fresh_copy(cmd: &mut std::process::Command) -> std::process::Output {
    const ETXTBSY: i32 = 26;
    for _ in 0..100 {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
    cmd.output().unwrap()
}

#[test]
fn commands_that_need_the_daemon_tell_a_user_without_root_to_use_sudo() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let p = TempProject::new("name: noroot\nservices:\n  redis:\n    template: redis@7\n");
    // A copy of the binary that `nobody` can run, wherever the build tree lives.
    let bin_dir = tempfile::Builder::new()
        .prefix("vers-bin-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(bin_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = bin_dir.path().join("vers");
    std::fs::copy(vers_bin(), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = |args: &[&str]| {
        output_of_fresh_copy(
            std::process::Command::new(&bin)
                .args(args)
                .current_dir(p.path())
                .env("CI", "true")
                .env_remove("VERS_ENV")
                .uid(65534)
                .gid(65534),
        )
    };
    let validate = as_nobody(&["integration", "validate"]);
    assert!(validate.status.success(), "{}", stderr(&validate));
    let up = as_nobody(&["integration", "up"]);
    assert_eq!(up.status.code(), Some(1), "{}", stderr(&up));
    assert!(
        stderr(&up).contains("need root") && stderr(&up).contains("sudo"),
        "up without root says what to do: {}",
        stderr(&up)
    );
}

#[test]
fn git_never_sees_the_state_directory_of_a_project() {
    let p = TempProject::new("name: gitignore\nservices:\n  redis:\n    template: redis@7\n");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(p.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    git(&["init", "-q"]);
    p.ok(&["up"]);
    assert!(p.path().join(".vers/btrfs.img").exists() || p.path().join(".vers/store").exists());
    let untracked = git(&["status", "--porcelain", "--untracked-files=all"]);
    assert_eq!(
        untracked.trim(),
        "?? vers-integration.yaml",
        "only the user's files are untracked"
    );
    p.ok(&["down", "--all"]);
}

/// A silent health command (`curl -sf`, `false`) that keeps failing: `up`'s error says how
/// it failed (its exit code) instead of a bare "failed".
#[test]
fn a_failing_silent_health_command_reports_its_exit_code() {
    let p = TempProject::new(
        r#"
name: silentcheck
services:
  worker:
    command: sleep 600
    healthcheck:
      command: exit 7
      interval: 100ms
      timeout: 1s
      retries: 3
"#,
    );
    let out = p.vers(&["up", "--no-checkpoints"]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("health command exited with code 7, printing nothing"),
        "{err}"
    );
}

/// A daemon whose binary was replaced on disk (an upgrade, a rebuild) still starts built-in
/// mocks and stress actions: they run the daemon's own binary, not the vanished file.
#[test]
fn a_daemon_keeps_starting_mocks_after_its_binary_is_replaced() {
    let bin = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        bin.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let exe = bin.path().join("vers");
    std::fs::copy(vers_bin(), &exe).unwrap();
    let p = TempProject::new("name: upgraded\nservices:\n  stripe:\n    template: stripe-mock\n");
    let run = |args: &[&str]| {
        let out = output_of_fresh_copy(
            std::process::Command::new(&exe)
                .current_dir(p.path())
                .args(args)
                .env("CI", "true"),
        );
        assert!(out.status.success(), "vers {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    run(&["up", "--no-checkpoints"]);
    // What an upgrade does: a new file renamed over the old one, whose inode lives on.
    let fresh = bin.path().join("vers.new");
    std::fs::copy(vers_bin(), &fresh).unwrap();
    std::fs::rename(&fresh, &exe).unwrap();
    run(&["commit", "--tag", "before"]);
    let branched = run(&["branch", "--from", "before", "--json"]);
    assert!(branched.contains("\"id\""), "{branched}");
    run(&[
        "chaos",
        "inject",
        "--service",
        "stripe",
        "--action",
        "cpu-stress",
        "--duration",
        "1s",
    ]);
    run(&["down", "--all"]);
}
