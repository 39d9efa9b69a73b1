//! `up`, `status`, `execute`, `logs`, `down` with real PostgreSQL and Redis inside real
//! network namespaces, and cleanup after a crashed supervisor.

mod common;

use common::*;

const STACK: &str = r#"
name: envtest
services:
  postgres:
    template: postgres@15
    config:
      databases: [app]
      extensions: [pg_trgm]
      users:
        - name: appuser
          password: secret
          grants: [ALL]
  redis:
    template: redis@7
    config:
      maxmemory: 64mb
      maxmemory_policy: allkeys-lru
  cache2:
    template: redis@7
checkpoints:
  - name: seeded
    after: psql postgres://postgres@postgres/app -c "create table t(v int); insert into t values (41)"
"#;

fn svc<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["environments"][0]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {status}"))
}

#[test]
fn up_status_execute_down_with_real_engines() {
    let p = TempProject::new(STACK);
    p.ok(&["integration", "up"]);
    let st = p.json(&["integration", "status", "--json"]);
    assert_eq!(st["environments"][0]["head"], true);
    for name in ["postgres", "redis", "cache2"] {
        let s = svc(&st, name);
        assert_eq!(s["state"], "running", "{s}");
        assert_eq!(s["health"], "healthy", "{s}");
        assert!(
            s["host_endpoint"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:"),
            "{s}"
        );
    }
    assert_eq!(svc(&st, "postgres")["port"], 5432);
    assert_eq!(svc(&st, "redis")["port"], 6379);
    // Names resolve inside the environment; the checkpoint trigger ran; config applied.
    let out = p.vers(&[
        "execute",
        "psql -tA postgres://postgres@postgres/app -c 'select v+1 from t'",
    ]);
    assert_eq!(stdout(&out).trim(), "42", "{}", stderr(&out));
    let out = p.vers(&["execute", "psql -tA postgres://appuser:secret@postgres/app -c \"select extname from pg_extension where extname='pg_trgm'\""]);
    assert_eq!(stdout(&out).trim(), "pg_trgm", "{}", stderr(&out));
    let out = p.vers(&[
        "execute",
        "redis-cli -h redis config get maxmemory-policy | tail -1",
    ]);
    assert_eq!(stdout(&out).trim(), "allkeys-lru");
    // Two redis services keep separate data.
    p.ok(&[
        "execute",
        "redis-cli -h redis set k one && redis-cli -h cache2 set k two",
    ]);
    let out = p.vers(&["execute", "redis-cli -h redis get k"]);
    assert_eq!(stdout(&out).trim(), "one");
    // The exit code is the command's.
    assert_eq!(p.vers(&["execute", "exit 7"]).status.code(), Some(7));
    // The host endpoint reaches the service.
    let ep = svc(&st, "redis")["host_endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    let (host, port) = ep.split_once(':').unwrap();
    let out = std::process::Command::new("redis-cli")
        .args(["-h", host, "-p", port, "get", "k"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "one");
    // Logs are captured.
    let logs = p.ok(&["integration", "logs", "postgres", "--lines", "50"]);
    assert!(logs.contains("ready to accept connections"), "{logs}");
    let key = std::fs::read_to_string(p.path().join(".vers/state.json")).unwrap();
    assert!(key.contains("\"root\": true"));
    p.ok(&["integration", "down", "--all"]);
    assert!(netns_matching(&project_key(&p)).is_empty());
}

fn project_key(p: &TempProject) -> String {
    // Namespaces are named vers-<key>-<env>, key = first 16 hex digits of sha256(project dir).
    let canon = p.path().canonicalize().unwrap();
    use std::io::Write;
    let mut h = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    h.stdin
        .take()
        .unwrap()
        .write_all(canon.as_os_str().as_encoded_bytes())
        .unwrap();
    let out = h.wait_with_output().unwrap();
    format!("vers-{}-", &String::from_utf8_lossy(&out.stdout)[..16])
}

#[test]
fn two_projects_side_by_side_do_not_interfere() {
    let manifest = "name: side\nservices:\n  postgres:\n    template: postgres@15\n  redis:\n    template: redis@7\n";
    let a = TempProject::new(manifest);
    let b = TempProject::new(manifest);
    a.ok(&["up", "--no-checkpoints"]);
    b.ok(&["up", "--no-checkpoints"]);
    a.ok(&["execute", "redis-cli -h redis set who a && psql postgres://postgres@postgres/postgres -c 'create table only_a(x int)'"]);
    b.ok(&["execute", "redis-cli -h redis set who b"]);
    assert_eq!(
        stdout(&a.vers(&["execute", "redis-cli -h redis get who"])).trim(),
        "a"
    );
    assert_eq!(
        stdout(&b.vers(&["execute", "redis-cli -h redis get who"])).trim(),
        "b"
    );
    let out = b.vers(&["execute", "psql -tA postgres://postgres@postgres/postgres -c \"select count(*) from pg_tables where tablename='only_a'\""]);
    assert_eq!(stdout(&out).trim(), "0");
}

#[test]
fn unhealthy_service_fails_up_with_its_log() {
    let p = TempProject::new(
        "name: bad\nservices:\n  app:\n    command: echo booting; echo kaboom >&2; exit 3\n    healthcheck:\n      interval: 100ms\n      retries: 5\n",
    );
    let out = p.vers(&["up"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("app"), "{err}");
    assert!(err.contains("kaboom"), "log tail shown: {err}");
}

#[test]
fn broken_manifest_leaves_running_environment_untouched() {
    let p = TempProject::new("name: keep\nservices:\n  redis:\n    template: redis@7\n");
    p.ok(&["up", "--no-checkpoints"]);
    p.ok(&["execute", "redis-cli -h redis set k v"]);
    p.write(
        "vers-integration.yaml",
        "name: keep\nservices:\n  redis:\n    templat: redis@7\n",
    );
    let out = p.vers(&["up"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    p.write(
        "vers-integration.yaml",
        "name: keep\nservices:\n  redis:\n    template: redis@7\n",
    );
    assert_eq!(
        stdout(&p.vers(&["execute", "redis-cli -h redis get k"])).trim(),
        "v"
    );
    // Stopping a service needs no valid manifest: the one HEAD started with is used.
    p.write(
        "vers-integration.yaml",
        "name: keep\nservices:\n  redis:\n    templat: redis@7\n",
    );
    let out = p.vers(&["down", "--services", "redis"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("stopped redis"), "{}", stdout(&out));
    assert!(stderr(&out).contains("warning:"), "{}", stderr(&out));
}

#[test]
fn missing_engine_fails_before_anything_starts() {
    // Redis 6: a major no package source of a supported machine offers (setup installs 7),
    // so the test never depends on what happens to be installed.
    let p = TempProject::new(
        "name: m\nservices:\n  redis:\n    template: redis@7\n  legacy:\n    template: redis@6\n",
    );
    let out = p.vers(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("missing engines; nothing was started"),
        "{err}"
    );
    assert!(
        err.contains("legacy:") && err.contains("no Redis 6 is available"),
        "{err}"
    );
    assert!(err.contains("use redis@7"), "{err}");
    let st = p.json(&["status", "--json"]);
    assert!(st["environments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["services"].as_array().unwrap().is_empty() || e["status"] != "running"));
}

#[test]
fn killed_supervisor_is_cleaned_up_by_the_next_command() {
    let p = TempProject::new("name: crash\nservices:\n  redis:\n    template: redis@7\n");
    p.ok(&["up", "--no-checkpoints"]);
    let pid: i32 = std::fs::read_to_string(p.path().join(".vers/daemon.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let prefix = project_key(&p);
    assert_eq!(
        netns_matching(&prefix).len(),
        2,
        "the environment's namespace and redis's pod"
    );
    let redis_pids = pids_of_cgroup_children(&prefix);
    assert!(!redis_pids.is_empty());
    p.ok(&["execute", "redis-cli -h redis set before-the-crash kept"]);
    unsafe { libc_kill(pid) };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let st = p.json(&["status", "--json"]);
    assert_eq!(st["environments"][0]["status"], "stopped", "{st}");
    let id = st["environments"][0]["id"].as_str().unwrap().to_string();
    assert!(netns_matching(&prefix).is_empty(), "namespace left behind");
    for pid in redis_pids {
        assert!(!process_alive(&pid), "process {pid} left behind");
    }
    // A stopped HEAD is reported as such, never as a missing namespace.
    let out = p.vers(&["execute", "redis-cli -h redis ping"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is stopped") && stderr(&out).contains("vers integration up"),
        "{}",
        stderr(&out)
    );
    // The same `up` starts it again on its data.
    p.ok(&["up", "--no-checkpoints"]);
    let st = p.json(&["status", "--json"]);
    assert_eq!(st["environments"][0]["id"], id.as_str(), "{st}");
    assert_eq!(st["environments"][0]["status"], "running", "{st}");
    let got = p.ok(&["execute", "redis-cli -h redis get before-the-crash"]);
    assert_eq!(got.trim(), "kept");
}

/// Whether `pid` is a live process. A killed process reparented to init stays in /proc as a
/// zombie until init reaps it; it holds nothing, so it counts as gone.
fn process_alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        // The state follows the parenthesised command name: `123 (redis-server) Z ...`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
    }
}

unsafe fn libc_kill(pid: i32) {
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
}

fn pids_of_cgroup_children(prefix: &str) -> Vec<String> {
    let key = prefix.trim_start_matches("vers-").trim_end_matches('-');
    let mut out = Vec::new();
    for base in [
        "/sys/fs/cgroup/pids/vers",
        "/sys/fs/cgroup/memory/vers",
        "/sys/fs/cgroup/unified/vers",
        "/sys/fs/cgroup/vers",
    ] {
        let dir = std::path::Path::new(base).join(key);
        if dir.exists() {
            for entry in walk(&dir) {
                if entry.ends_with("cgroup.procs") {
                    out.extend(
                        std::fs::read_to_string(&entry)
                            .unwrap_or_default()
                            .lines()
                            .map(str::to_string),
                    );
                }
            }
            if !out.is_empty() {
                break;
            }
        }
    }
    out
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The controller directory of an environment's (or service's) cgroup, v1 or unified.
fn cgroup_dir(controller: &str, project_prefix: &str, rel: &str) -> std::path::PathBuf {
    let key = project_prefix
        .trim_start_matches("vers-")
        .trim_end_matches('-');
    let v1 = std::path::Path::new("/sys/fs/cgroup")
        .join(controller)
        .join("vers")
        .join(key)
        .join(rel);
    if v1.exists() {
        v1
    } else {
        std::path::Path::new("/sys/fs/cgroup/vers")
            .join(key)
            .join(rel)
    }
}

fn read_limit(dir: &std::path::Path, v1: &str, v2: &str) -> String {
    std::fs::read_to_string(dir.join(v1))
        .or_else(|_| std::fs::read_to_string(dir.join(v2)))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .trim()
        .to_string()
}

#[test]
fn vm_and_service_memory_limits_are_enforced_by_cgroups() {
    let p = TempProject::new(
        "name: limits\nvm:\n  memory_mib: 512\n  vcpu: 1\nservices:\n  redis:\n    template: redis@7\n    resources:\n      memory: 96mb\n      cpu: 0.5\n  cache:\n    template: redis@7\n",
    );
    p.ok(&["up", "--no-checkpoints"]);
    let st = p.json(&["status", "--json"]);
    let env = st["environments"][0]["id"].as_str().unwrap().to_string();
    let prefix = project_key(&p);
    let env_mem = cgroup_dir("memory", &prefix, &env);
    assert_eq!(
        read_limit(&env_mem, "memory.limit_in_bytes", "memory.max"),
        (512u64 << 20).to_string()
    );
    let svc_mem = cgroup_dir("memory", &prefix, &format!("{env}/redis"));
    assert_eq!(
        read_limit(&svc_mem, "memory.limit_in_bytes", "memory.max"),
        (96u64 << 20).to_string()
    );
    let svc_cpu = cgroup_dir("cpu", &prefix, &format!("{env}/redis"));
    let quota = read_limit(&svc_cpu, "cpu.cfs_quota_us", "cpu.max");
    let period = std::fs::read_to_string(svc_cpu.join("cpu.cfs_period_us"))
        .map(|t| t.trim().parse::<u64>().unwrap())
        .unwrap_or(100_000);
    let quota: u64 = quota.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(
        quota * 2,
        period,
        "half a core: quota {quota} of period {period}"
    );
    // Past its 96 MB the kernel kills redis; its sibling without a limit keeps its data.
    p.ok(&["execute", "redis-cli -h cache set survivor yes"]);
    let fill = "redis-cli -h redis eval \"for i=1,2000 do redis.call('set','k'..i,string.rep('x',100000)) end return 1\" 0";
    let out = p.vers(&["execute", fill]);
    assert_ne!(
        stdout(&out).trim(),
        "1",
        "redis stored 200 MB under a 96 MB limit"
    );
    let mut state = String::new();
    for _ in 0..50 {
        let st = p.json(&["status", "--json"]);
        state = svc(&st, "redis")["state"].as_str().unwrap().to_string();
        if state != "running" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_ne!(
        state, "running",
        "redis survived exceeding its memory limit"
    );
    assert_eq!(
        stdout(&p.vers(&["execute", "redis-cli -h cache get survivor"])).trim(),
        "yes"
    );
}

/// A fixed host port (`ports: ["H:C"]`) belongs to the root environment: test branches and
/// `vers branch` forks get a free port instead, so they start while the root holds it.
#[test]
fn a_fixed_host_port_stays_with_the_root_and_branches_still_start() {
    let host_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = TempProject::new(&format!(
        r#"
name: fixedports
services:
  redis:
    template: redis@7
    ports: ["{host_port}:6379"]
tests:
  hit:
    command: redis-cli -h redis ping | grep -q PONG
    parallel: true
    branches: [{{name: a}}, {{name: b}}]
"#
    ));
    p.ok(&["up"]);
    let st = p.json(&["status", "--json"]);
    assert_eq!(
        svc(&st, "redis")["host_endpoint"],
        format!("127.0.0.1:{host_port}"),
        "{st}"
    );
    let report = p.json(&["test", "--json"]);
    assert_eq!(report["summary"]["passed"], 2, "{report}");
    let fork = p.vers(&["branch", "--alias", "side"]);
    assert_eq!(fork.status.code(), Some(0), "{}", stderr(&fork));
    let st = p.json(&["status", "--json"]);
    let side = st["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "side")
        .unwrap_or_else(|| panic!("no branch side in {st}"));
    let endpoint = side["services"][0]["host_endpoint"].as_str().unwrap_or("");
    assert!(
        endpoint.starts_with("127.0.0.1:") && !endpoint.ends_with(&format!(":{host_port}")),
        "{side}"
    );
}

/// Two `up` at the same time leave one root environment, as two in a row do.
#[test]
fn two_ups_at_once_leave_one_root() {
    let p = TempProject::new("name: twoups\nservices:\n  redis:\n    template: redis@7\n");
    p.ok(&["up"]);
    let spawn = || {
        std::process::Command::new(vers_bin())
            .arg("up")
            .current_dir(p.path())
            .env("CI", "true")
            .env_remove("VERS_ENV")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let list = p.json(&["branch", "list", "--json"]);
    let roots: Vec<&serde_json::Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["root"] == true)
        .collect();
    assert_eq!(roots.len(), 1, "{list}");
    assert_eq!(roots[0]["head"], true, "{list}");
}

/// Two `up` at once build one after the other: builds run in the project's directories
/// (`npm ci` rewrites `node_modules`), so two at once would break each other. The build
/// here fails if another one runs beside it.
#[test]
fn two_ups_at_once_build_one_at_a_time() {
    let p = TempProject::new("name: twobuilds\nservices: {}\n");
    let busy = p.scratch.path().join("building");
    p.write(
        "vers-integration.yaml",
        &format!(
            "name: twobuilds\nservices:\n  web:\n    build:\n      context: ./web\n      command: mkdir {b} && sleep 1 && rmdir {b}\n    command: python3 -m http.server 3000\n",
            b = busy.display()
        ),
    );
    p.write("web/index.html", "hi");
    let spawn = || {
        std::process::Command::new(vers_bin())
            .args(["up", "--no-checkpoints"])
            .current_dir(p.path())
            .env("CI", "true")
            .env_remove("VERS_ENV")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for up in [a, b] {
        let out = up.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert!(!busy.exists());
}

/// A `vm.memory_mib` beyond the machine's memory is refused before anything starts, and a
/// running root survives the refused `up`.
#[test]
fn a_vm_budget_beyond_the_machine_is_refused_and_costs_nothing() {
    let p = TempProject::new("name: bigvm\nservices:\n  redis:\n    template: redis@7\n");
    p.ok(&["up"]);
    p.ok(&["execute", "redis-cli -h redis set v kept"]);
    p.write(
        "vers-integration.yaml",
        "name: bigvm\nvm:\n  memory_mib: 99000000\nservices:\n  redis:\n    template: redis@7\ntests:\n  t:\n    command: \"true\"\n",
    );
    for cmd in [&["up"][..], &["test"][..]] {
        let out = p.vers(cmd);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("vm.memory_mib"), "{}", stderr(&out));
    }
    assert_eq!(
        stdout(&p.vers(&["execute", "redis-cli -h redis get v"])).trim(),
        "kept"
    );
}

/// An app that declares no port and no healthcheck and listens on nothing (a queue worker)
/// is up once it has kept running, where it used to fail `up` after two minutes; the
/// project remembers it, so a branch does not wait for it again. One that exits at once
/// still fails `up` with its log.
#[test]
fn a_worker_without_a_port_is_up_once_it_keeps_running() {
    let p = TempProject::new(
        "name: workers\nservices:\n  redis:\n    template: redis@7\n  worker:\n    command: while true; do redis-cli -h redis lpush beats 1 >/dev/null; sleep 0.2; done\n    depends_on: [redis]\n",
    );
    let began = std::time::Instant::now();
    let out = p.vers(&["up"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(began.elapsed() < std::time::Duration::from_secs(60));
    let err = stderr(&out);
    assert!(err.contains("started as a worker"), "{err}");
    let beats: u64 = p
        .ok(&["execute", "redis-cli -h redis llen beats"])
        .trim()
        .parse()
        .unwrap();
    assert!(beats > 0, "the worker ran");
    let st = p.json(&["status", "--json"]);
    assert_eq!(svc(&st, "worker")["health"], "healthy", "{st}");
    // Remembered once it has run a while more without ever listening.
    let workers = p.path().join(".vers/workers");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !std::fs::read_to_string(&workers).is_ok_and(|t| t.lines().any(|l| l == "worker")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker is never remembered"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let began = std::time::Instant::now();
    p.ok(&["branch", "--alias", "side"]);
    let took = began.elapsed();
    assert!(
        took < std::time::Duration::from_secs(9),
        "a known worker is waited for again: {took:?}"
    );

    let q = TempProject::new(
        "name: quitter\nservices:\n  worker:\n    command: echo done here; exit 0\n",
    );
    let out = q.vers(&["up"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("done here"), "{err}");
}

/// `vers execute` runs inside the environment's cgroup, held to its `vm.memory_mib` like
/// the environment's services, tests and hooks.
#[test]
fn execute_is_held_to_the_environment_budget() {
    let p = TempProject::new(
        "name: execbudget\nvm:\n  memory_mib: 128\nservices:\n  redis:\n    template: redis@7\n",
    );
    p.ok(&["up", "--no-checkpoints"]);
    let st = p.json(&["status", "--json"]);
    let env = st["environments"][0]["id"].as_str().unwrap().to_string();
    let cgroups = p.ok(&["execute", "cat /proc/self/cgroup"]);
    assert!(
        cgroups.lines().any(|l| l.contains(&format!("{env}/_exec"))),
        "{cgroups}"
    );
    let out = p.vers(&[
        "execute",
        "python3 -c \"b = b'x' * (400 << 20); print('kept')\"",
    ]);
    assert!(
        !stdout(&out).contains("kept"),
        "400 MB held under a 128 MiB budget"
    );
    assert_ne!(out.status.code(), Some(0));
    // The environment itself is untouched by its command's end.
    assert_eq!(p.ok(&["execute", "redis-cli -h redis ping"]).trim(), "PONG");
}

/// The manifest's fixed host ports follow HEAD (SPEC section 2): `vers checkout` of a
/// branch moves `127.0.0.1:H` to it, the previous HEAD keeps a free port, and checking the
/// root out again moves the port back.
#[test]
fn fixed_host_ports_follow_checkout() {
    let host_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = TempProject::new(&format!(
        "name: followhead\nservices:\n  redis:\n    template: redis@7\n    ports: [\"{host_port}:6379\"]\n"
    ));
    p.ok(&["up", "--no-checkpoints"]);
    p.ok(&["execute", "redis-cli -h redis set who root"]);
    let from_host = || {
        // A paused environment's redis never answers: the timeout makes that a failure.
        let out = std::process::Command::new("timeout")
            .args([
                "5",
                "redis-cli",
                "-h",
                "127.0.0.1",
                "-p",
                &host_port.to_string(),
            ])
            .args(["get", "who"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(from_host(), "root");
    p.ok(&["commit", "--tag", "base"]);
    p.ok(&["branch", "--alias", "side"]);
    p.ok(&["checkout", "side"]);
    p.ok(&["execute", "redis-cli -h redis set who side"]);
    assert_eq!(from_host(), "side");
    // A rollback restarts the branch's services: it keeps the port all the same.
    p.ok(&["rollback", "base"]);
    assert_eq!(from_host(), "root");
    p.ok(&["execute", "redis-cli -h redis set who side"]);
    assert_eq!(from_host(), "side");
    let st = p.json(&["status", "--json"]);
    let endpoint_of = |name: &str| {
        st["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no environment {name} in {st}"))["services"][0]
            ["host_endpoint"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(endpoint_of("side"), format!("127.0.0.1:{host_port}"));
    let root = endpoint_of("root");
    assert!(
        root.starts_with("127.0.0.1:") && root != format!("127.0.0.1:{host_port}"),
        "{root}"
    );
    p.ok(&["checkout", "root"]);
    assert_eq!(from_host(), "root");
    // A new root takes the port from the branch that holds it.
    p.ok(&["checkout", "side"]);
    assert_eq!(from_host(), "side");
    let out = p.vers(&["up", "--no-checkpoints"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    p.ok(&["execute", "redis-cli -h redis set who newroot"]);
    assert_eq!(from_host(), "newroot");
}

/// An app bound to 127.0.0.1 (Flask's `app.run()`, `http.server --bind 127.0.0.1`) can
/// never be reached by another service: `up` says so at once instead of waiting two
/// minutes, or calling it a worker.
#[test]
fn an_app_bound_to_loopback_fails_up_at_once_saying_why() {
    let p = TempProject::new(
        "name: loopback\nservices:\n  app:\n    command: python3 -m http.server 3000 --bind 127.0.0.1\n",
    );
    let began = std::time::Instant::now();
    let out = p.vers(&["up"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(began.elapsed() < std::time::Duration::from_secs(9));
    let err = stderr(&out);
    assert!(
        err.contains("listens on 127.0.0.1:3000 only") && err.contains("bind 0.0.0.0"),
        "{err}"
    );
}

/// A fixed host port another program holds fails `up` naming that program and the fixes,
/// once (no doubled prefix).
#[test]
fn a_taken_fixed_host_port_names_who_holds_it() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let p = TempProject::new(&format!(
        "name: taken\nservices:\n  redis:\n    template: redis@7\n    ports: [\"{port}:6379\"]\n"
    ));
    let out = p.vers(&["up"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "up with a taken port: {err}");
    assert!(
        err.contains(&format!("host port {port} for redis is in use"))
            && err.contains(&format!("(pid {})", std::process::id()))
            && err.contains("`ports:` of redis"),
        "{err}"
    );
    assert!(!err.contains("supervisor: supervisor:"), "{err}");
    p.ok(&["down", "--all"]);
}

/// An app wrongly remembered as a worker (it only started slowly once) is forgotten as soon
/// as it is seen listening, so later starts wait for it to serve again.
#[test]
fn an_app_seen_listening_is_no_longer_taken_for_a_worker() {
    let p = TempProject::new(
        "name: slowweb\nservices:\n  web:\n    command: sleep 2; exec python3 -m http.server $PORT\n",
    );
    let workers = p.path().join(".vers/workers");
    std::fs::create_dir_all(workers.parent().unwrap()).unwrap();
    std::fs::write(&workers, "other\nweb\n").unwrap();
    p.ok(&["up"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&workers).unwrap_or_default();
        if !text.lines().any(|l| l == "web") {
            assert!(
                text.lines().any(|l| l == "other"),
                "other labels stay: {text:?}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "web listens on its port and is still listed as a worker: {text:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    // The next start waits for it to serve: right after `branch`, it answers.
    p.ok(&["branch", "--alias", "side"]);
    let page = p.ok(&[
        "execute",
        "curl -sf -o /dev/null -w '%{http_code}' http://web:3000/",
    ]);
    assert_eq!(page.trim(), "200");
    p.ok(&["down", "--all"]);
}

/// `execute --service` runs with the service's variables as the running service got them,
/// whatever the caller's shell holds now, and a catalog service's client variables, so
/// `psql` with no arguments reaches the service's own database.
#[test]
fn execute_in_a_service_sees_what_the_service_runs_with() {
    let p = TempProject::new(
        r#"
name: svcenv
services:
  db:
    template: postgres@15
    config:
      databases: [shop]
  api:
    command: python3 -m http.server $PORT
    env:
      GREETING: "${GREETING:-hello}"
"#,
    );
    let up = std::process::Command::new(vers_bin())
        .current_dir(p.path())
        .args(["up", "--no-checkpoints"])
        .env("CI", "true")
        .env("GREETING", "from-up")
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", stderr(&up));
    let seen = p.ok(&["execute", "--service", "api", "echo \"$GREETING $PORT\""]);
    assert_eq!(seen, "from-up 3000\n");
    let db = p.ok(&[
        "execute",
        "--service",
        "db",
        "psql -XAtc 'select current_database(), current_user'",
    ]);
    assert_eq!(db, "shop|postgres\n");
}
