//! `vers chaos inject|recover|list` against real PostgreSQL, Redis and stripe-mock in real
//! network namespaces, per-branch faults in parallel test runs, and the resilience example.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;

const STACK: &str = r#"
name: chaosy
services:
  postgres:
    template: postgres@15
    config:
      databases: [app]
  redis:
    template: redis@7
  stripe:
    template: stripe-mock
"#;

/// Upper bound (ms) for a request with no fault. Faults in these tests add at least 1000 ms,
/// so the margin absorbs a loaded CI machine without hiding a fault.
const FAST_MS: u64 = 700;

/// Prints the wall time of one command run inside the environment, in milliseconds.
fn timed(cmd: &str) -> String {
    format!(
        "s=$(date +%s%N); {cmd} > /dev/null || exit 1; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))"
    )
}

const REDIS_PING: &str = "redis-cli -h redis ping";
const PSQL_SELECT: &str = "psql -tA postgres://postgres@postgres/app -c 'select 1'";
const STRIPE_CHARGES: &str =
    "curl -s -o /dev/null -w '%{http_code}' -u sk_test_chaos: http://stripe:12111/v1/charges";

/// Milliseconds one run of `cmd` takes inside HEAD.
fn millis(p: &TempProject, cmd: &str) -> u64 {
    let text = p.ok(&["execute", &timed(cmd)]);
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("not a duration ({e}): {text:?}"))
}

fn service_state(p: &TempProject, name: &str) -> String {
    let st = p.json(&["status", "--json"]);
    st["environments"][0]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {st:#}"))["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn active_faults(p: &TempProject) -> Vec<serde_json::Value> {
    let list = p.json(&["chaos", "list", "--json"]);
    list["faults"]
        .as_array()
        .unwrap_or_else(|| panic!("no faults array: {list:#}"))
        .clone()
}

/// The `faults` of a service of HEAD as `status --json` lists them.
fn status_faults(p: &TempProject, name: &str) -> serde_json::Value {
    let st = p.json(&["status", "--json"]);
    let env = st["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["head"] == true)
        .unwrap_or_else(|| panic!("no HEAD in {st}"));
    env["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .map(|s| s["faults"].clone())
        .unwrap_or_else(|| panic!("no service {name} in {env}"))
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

#[test]
fn network_delay_adds_latency_until_recover() {
    let p = TempProject::new(STACK);
    p.ok(&["up"]);
    let before = millis(&p, REDIS_PING);
    assert!(
        before < FAST_MS,
        "redis ping took {before} ms with no fault"
    );
    assert!(active_faults(&p).is_empty());

    let out = p.ok(&[
        "chaos",
        "inject",
        "--service",
        "redis",
        "--action",
        "network-delay",
        "--latency",
        "1000ms",
    ]);
    assert!(out.contains("injected network-delay into redis"), "{out}");
    let slow = millis(&p, REDIS_PING);
    assert!(
        (1000..4000).contains(&slow),
        "redis ping took {slow} ms under a 1000 ms delay"
    );
    // Only redis is delayed; postgres in the same environment is not.
    let pg = millis(&p, PSQL_SELECT);
    assert!(
        pg < FAST_MS,
        "psql took {pg} ms while only redis was delayed"
    );

    let faults = active_faults(&p);
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0]["service"], "redis");
    assert_eq!(faults[0]["action"], "network-delay");
    assert_eq!(faults[0]["latency_ms"], 1000);
    let text = p.ok(&["chaos", "list"]);
    assert!(
        text.contains("redis") && text.contains("network-delay"),
        "{text}"
    );
    // `status` names the same fault the same way.
    assert_eq!(
        status_faults(&p, "redis"),
        serde_json::json!(["network-delay latency=1000ms"])
    );

    let out = p.ok(&["chaos", "recover"]);
    assert!(out.contains("redis"), "{out}");
    let after = millis(&p, REDIS_PING);
    assert!(after < FAST_MS, "redis ping took {after} ms after recover");
    assert!(active_faults(&p).is_empty());
    assert!(p.ok(&["chaos", "list"]).contains("no active faults"));

    // A delayed database: psql makes several round trips, each one delayed.
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "postgres",
        "--action",
        "network-delay",
        "--latency",
        "1000ms",
    ]);
    let pg = millis(&p, PSQL_SELECT);
    assert!(pg >= 2000, "psql took {pg} ms under a 1000 ms delay");
    p.ok(&["chaos", "recover", "--service", "postgres"]);
    let pg = millis(&p, PSQL_SELECT);
    assert!(pg < FAST_MS, "psql took {pg} ms after recover");
}

#[test]
fn pause_stalls_requests_until_recover() {
    let p = TempProject::new(STACK);
    p.ok(&["up"]);
    p.ok(&["execute", "redis-cli -h redis set kept yes"]);
    p.ok(&["chaos", "inject", "--service", "redis", "--action", "pause"]);
    assert_eq!(service_state(&p, "redis"), "paused");
    let faults = active_faults(&p);
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0]["action"], "pause");
    assert_eq!(status_faults(&p, "redis"), serde_json::json!(["pause"]));

    // A frozen server accepts nothing and answers nothing: the client times out.
    let t = Instant::now();
    let out = p.vers(&["execute", "timeout 2 redis-cli -h redis ping"]);
    assert_eq!(code(&out), Some(124), "{}", stdout(&out));
    assert!(t.elapsed() >= Duration::from_secs(2));
    // Other services keep answering.
    assert_eq!(p.ok(&["execute", PSQL_SELECT]).trim(), "1");

    let out = p.ok(&["chaos", "recover"]);
    assert!(out.contains("redis"), "{out}");
    assert_eq!(service_state(&p, "redis"), "running");
    assert_eq!(
        p.ok(&["execute", "timeout 5 redis-cli -h redis get kept"])
            .trim(),
        "yes"
    );
    assert!(active_faults(&p).is_empty());

    // The timer of a timed pause that was recovered does not end a later open-ended one.
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "redis",
        "--action",
        "pause",
        "--duration",
        "2s",
    ]);
    p.ok(&["chaos", "recover", "--service", "redis"]);
    p.ok(&["chaos", "inject", "--service", "redis", "--action", "pause"]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(service_state(&p, "redis"), "paused");
    p.ok(&["chaos", "recover"]);
}

/// A checkpoint of an environment with a paused service does not wait on that service
/// (its quiesce step cannot be answered) and leaves it paused.
#[test]
fn commit_with_a_paused_service_is_prompt_and_keeps_the_pause() {
    let p = TempProject::new(STACK);
    p.ok(&["up"]);
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "redis",
        "--action",
        "pause",
        "--duration",
        "60s",
    ]);
    let t = Instant::now();
    p.ok(&["commit", "--tag", "while-paused"]);
    // A second fault takes its own `pre-chaos-N` checkpoint the same way.
    p.ok(&["chaos", "inject", "--service", "stripe", "--action", "kill"]);
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "commit and inject with redis paused took {took:?}"
    );
    assert_eq!(service_state(&p, "redis"), "paused");
    assert_eq!(service_state(&p, "stripe"), "stopped");
    let out = p.vers(&["execute", "timeout 2 redis-cli -h redis ping"]);
    assert_eq!(code(&out), Some(124), "{}", stdout(&out));
    p.ok(&["chaos", "recover"]);
    assert_eq!(service_state(&p, "redis"), "running");
}

#[test]
fn kill_stops_the_service_and_recover_restarts_it_with_its_data() {
    let p = TempProject::new(STACK);
    p.ok(&["up"]);
    // Committed right before the crash: it must survive it.
    p.ok(&[
        "execute",
        "psql -v ON_ERROR_STOP=1 postgres://postgres@postgres/app -c 'create table t(x int)' -c 'insert into t values (42)'",
    ]);
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "postgres",
        "--action",
        "kill",
    ]);
    assert_eq!(service_state(&p, "postgres"), "stopped");
    let st = p.ok(&["status"]);
    assert!(st.contains("stopped"), "{st}");
    let out = p.vers(&["execute", &format!("timeout 5 {PSQL_SELECT}")]);
    assert_ne!(code(&out), Some(0), "psql reached a killed postgres");
    let faults = active_faults(&p);
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0]["service"], "postgres");
    assert_eq!(faults[0]["action"], "kill");
    // Redis was not touched.
    assert_eq!(service_state(&p, "redis"), "running");

    let out = p.ok(&["chaos", "recover", "--service", "postgres"]);
    assert!(out.contains("postgres"), "{out}");
    // `recover` returns once the service is healthy again: the first query works.
    let out = p.ok(&[
        "execute",
        "psql -tA postgres://postgres@postgres/app -c 'select x from t'",
    ]);
    assert_eq!(out.trim(), "42");
    assert_eq!(service_state(&p, "postgres"), "running");
    assert!(active_faults(&p).is_empty());
}

#[test]
fn http_error_answers_stripe_requests_with_503() {
    let p = TempProject::new(STACK);
    p.ok(&["up"]);
    assert_eq!(p.ok(&["execute", STRIPE_CHARGES]), "200");
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "stripe",
        "--action",
        "http-error",
        "--status",
        "503",
    ]);
    for _ in 0..3 {
        assert_eq!(p.ok(&["execute", STRIPE_CHARGES]), "503");
    }
    let faults = active_faults(&p);
    assert_eq!(faults[0]["action"], "http-error");
    assert_eq!(faults[0]["status"], 503);
    p.ok(&["chaos", "recover", "--service", "stripe"]);
    assert_eq!(p.ok(&["execute", STRIPE_CHARGES]), "200");

    // A share of requests: 50 % of 40 requests fail, far from none and from all.
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "stripe",
        "--action",
        "http-error",
        "--status",
        "429",
        "--percent",
        "50",
    ]);
    let script = format!("for i in $(seq 40); do {STRIPE_CHARGES}; echo; done");
    let codes = p.ok(&["execute", &script]);
    let failed = codes.lines().filter(|l| *l == "429").count();
    let passed = codes.lines().filter(|l| *l == "200").count();
    assert_eq!(failed + passed, 40, "{codes}");
    assert!((5..=35).contains(&failed), "{failed}/40 failed:\n{codes}");
}

#[test]
fn duration_ends_faults_by_themselves() {
    let p = TempProject::new(STACK);
    p.ok(&["up"]);
    let out = p.ok(&[
        "chaos",
        "inject",
        "--service",
        "redis",
        "--action",
        "network-delay",
        "--latency",
        "1000ms",
        "--duration",
        "3s",
    ]);
    assert!(out.contains("for 3"), "{out}");
    let injected = Instant::now();
    let slow = millis(&p, REDIS_PING);
    assert!(slow >= 1000, "{slow} ms");
    let faults = active_faults(&p);
    assert_eq!(faults.len(), 1, "{faults:?}");
    let left = faults[0]["remaining_ms"].as_u64().unwrap();
    assert!(left > 0 && left <= 3000, "{left}");
    std::thread::sleep(Duration::from_secs(3).saturating_sub(injected.elapsed()));
    std::thread::sleep(Duration::from_millis(300));
    let fast = millis(&p, REDIS_PING);
    assert!(fast < FAST_MS, "{fast} ms after the fault's duration");
    assert!(active_faults(&p).is_empty());

    // A paused service thaws by itself.
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "redis",
        "--action",
        "pause",
        "--duration",
        "1500ms",
    ]);
    let t = Instant::now();
    assert_eq!(
        p.ok(&["execute", "timeout 10 redis-cli -h redis ping"])
            .trim(),
        "PONG"
    );
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(1000),
        "answered after {waited:?} though paused for 1.5 s"
    );
    assert_eq!(service_state(&p, "redis"), "running");
    assert!(active_faults(&p).is_empty());

    // A killed service comes back by itself, healthy.
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "postgres",
        "--action",
        "kill",
        "--duration",
        "1s",
    ]);
    assert_eq!(service_state(&p, "postgres"), "stopped");
    let back = p.vers(&[
        "execute",
        &format!("for i in $(seq 100); do {PSQL_SELECT} > /dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1"),
    ]);
    assert_eq!(code(&back), Some(0), "postgres did not come back");
}

#[test]
fn bad_input_exits_2_and_applies_nothing() {
    let p = TempProject::new(STACK);
    // Only redis (and what it needs) runs: postgres is in the manifest but not started.
    p.ok(&["up", "--services", "redis"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["--service", "nope", "--action", "pause"],
            "unknown service",
        ),
        (
            &["--service", "reids", "--action", "pause"],
            "unknown service `reids`; did you mean `redis`?",
        ),
        (
            &["--service", "redis", "--action", "explode"],
            "names no chaos action",
        ),
        (
            &[
                "--service",
                "redis",
                "--action",
                "pause",
                "--duration",
                "5 parsecs",
            ],
            "--duration",
        ),
        (
            &[
                "--service",
                "redis",
                "--action",
                "network-delay",
                "--latency",
                "soon",
            ],
            "--latency",
        ),
        (
            &["--service", "redis", "--action", "network-delay"],
            "--latency is required",
        ),
        (
            &[
                "--service",
                "redis",
                "--action",
                "network-loss",
                "--loss",
                "150",
            ],
            "--loss",
        ),
        (
            &[
                "--service",
                "redis",
                "--action",
                "http-error",
                "--status",
                "42",
            ],
            "--status",
        ),
        (
            &[
                "--service",
                "redis",
                "--action",
                "network-isolate",
                "--from",
                "ghost",
            ],
            "ghost",
        ),
        (
            &[
                "--service",
                "postgres",
                "--action",
                "network-delay",
                "--latency",
                "1s",
            ],
            "not running",
        ),
        (
            &["--service", "postgres", "--action", "kill"],
            "not running",
        ),
    ];
    for (args, needle) in cases {
        let mut full = vec!["chaos", "inject"];
        full.extend_from_slice(args);
        let out = p.vers(&full);
        assert_eq!(code(&out), Some(2), "{full:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(needle),
            "{full:?}: expected `{needle}` in: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "{full:?}: {}", stdout(&out));
    }
    assert!(active_faults(&p).is_empty());
    assert!(millis(&p, REDIS_PING) < FAST_MS);
    assert_eq!(service_state(&p, "redis"), "running");
    let out = p.vers(&["chaos", "recover", "--service", "nope"]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));

    // A killed service takes no further fault until it is recovered.
    p.ok(&["chaos", "inject", "--service", "redis", "--action", "kill"]);
    let out = p.vers(&["chaos", "inject", "--service", "redis", "--action", "pause"]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not running"), "{}", stderr(&out));
    let faults = active_faults(&p);
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0]["action"], "kill");
}

const BRANCHES: &str = r#"
name: chaos-branches
services:
  redis:
    template: redis@7
tests:
  resilience:
    command: sh scripts/measure.sh
    branches:
      - name: slow
        env: { EXPECT: slow }
        before: vers chaos inject --service redis --action network-delay --latency 1000ms
      - name: fast
        env: { EXPECT: fast }
"#;

/// Each branch checks that `vers` is the binary under test, then measures redis. The
/// `fast` branch measures only after `slow` has injected its fault and waits, so both run
/// at the same time.
const MEASURE: &str = r#"set -e
test "$(command -v vers)" = "$EXPECTED_VERS" || { echo "vers is $(command -v vers)"; exit 3; }
ms() { s=$(date +%s%N); redis-cli -h redis ping > /dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
wait_for() { for i in $(seq 200); do test -e "$MARKS/$1" && return 0; sleep 0.1; done; echo "no $1"; exit 4; }
if [ "$EXPECT" = slow ]; then
  t=$(ms); echo "slow branch: $t ms"; test "$t" -ge 1000
  touch "$MARKS/slow-faulted"
  wait_for fast-measured
  t=$(ms); echo "slow branch again: $t ms"; test "$t" -ge 1000
  vers chaos list --json | grep -q network-delay
else
  wait_for slow-faulted
  for i in 1 2 3; do t=$(ms); echo "fast branch: $t ms"; test "$t" -lt 700; done
  vers chaos list | grep -q "no active faults"
  touch "$MARKS/fast-measured"
fi
"#;

#[test]
fn before_hook_faults_apply_to_their_branch_alone() {
    let p = TempProject::new(BRANCHES);
    p.write("scripts/measure.sh", MEASURE);
    let marks = p.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(vers_bin())
            .args(args)
            .current_dir(p.path())
            .env_remove("VERS_ENV")
            .env("CI", "true")
            // The engine must put the running `vers` on PATH by itself.
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("EXPECTED_VERS", vers_bin())
            .env("MARKS", &marks)
            .env("VERS_PASS_ENV", "EXPECTED_VERS,MARKS")
            .output()
            .unwrap()
    };
    let out = run(&["up"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let out = run(&["test", "--parallel", "--json"]);
    let report = json_of(&out);
    let logs: String = report["suites"][0]["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let log = b["log"].as_str().unwrap_or_default();
            format!(
                "--- {} {}\n{}",
                b["name"],
                b["status"],
                std::fs::read_to_string(log).unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(code(&out), Some(0), "{report:#}\n{logs}");
    assert_eq!(report["summary"]["passed"], 2, "{report:#}\n{logs}");
    assert!(logs.contains("slow branch again"), "{logs}");
    assert!(logs.contains("fast branch"), "{logs}");
    // The root environment never had the fault.
    assert!(active_faults(&p).is_empty());
    assert!(millis(&p, REDIS_PING) < FAST_MS);
}

/// Copies `src` to `dst` without `node_modules` and `.vers`.
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

#[test]
fn resilience_example_survives_every_fault() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/resilience");
    let p = TempProject::new("");
    copy_tree(&example, p.path());
    let out = p.vers(&["integration", "test", "--parallel", "--json"]);
    let report = json_of(&out);
    let mut logs = String::new();
    let mut names = Vec::new();
    for suite in report["suites"].as_array().unwrap() {
        for b in suite["branches"].as_array().unwrap() {
            names.push(b["name"].as_str().unwrap().to_string());
            if b["status"] != "passed" {
                let log = b["log"].as_str().unwrap_or_default();
                logs.push_str(&format!(
                    "--- {} {}\n{}\n",
                    b["name"],
                    b["status"],
                    std::fs::read_to_string(log).unwrap_or_default()
                ));
            }
        }
    }
    assert_eq!(code(&out), Some(0), "{report:#}\n{logs}");
    assert_eq!(report["summary"]["failed"], 0, "{report:#}\n{logs}");
    for b in [
        "dependency-paused",
        "database-slow",
        "service-crash",
        "upstream-503",
        "baseline",
        "database-crash",
        "redis-unavailable",
    ] {
        assert!(names.iter().any(|n| n == b), "no branch {b}: {names:?}");
    }
    // The scenario suite reports each scenario's fault and when it was applied.
    let chaos = report["suites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "chaos")
        .unwrap_or_else(|| panic!("no chaos suite: {report:#}"));
    let crash = chaos["branches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "database-crash")
        .unwrap();
    assert_eq!(crash["scenario"]["inject"]["action"], "kill", "{crash:#}");
    let at = crash["scenario"]["injected_at_ms"].as_i64().unwrap();
    assert!(
        (10000..11000).contains(&at),
        "kill asked after 10s, applied at {at} ms"
    );
}

/// A checkpoint whose service cannot write what it holds in memory (redis on a full disk) is
/// refused naming that service, instead of a checkpoint silently without its data; once the
/// disk has room, the same commit goes through.
#[test]
fn a_commit_is_refused_while_a_service_cannot_save_its_data() {
    let p = TempProject::new(STACK);
    p.ok(&["up"]);
    p.ok(&["execute", "redis-cli -h redis set kept yes"]);
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "redis",
        "--action",
        "disk-fill",
        "--percentage",
        "100",
        "--no-checkpoint",
    ]);
    let out = p.vers(&["commit", "--tag", "full"]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("redis: its quiesce step") && stderr(&out).contains("--force"),
        "{}",
        stderr(&out)
    );
    let log = p.json(&["log", "--json"]);
    assert!(!log.to_string().contains("\"full\""), "{log}");
    p.ok(&["chaos", "recover"]);
    p.ok(&["commit", "--tag", "whole"]);
}

/// A checkpoint forced through during a disk-fill holds the fill file, but a branch of it
/// starts without it: a fault's leftover is not data.
#[test]
fn a_branch_of_a_checkpoint_taken_during_a_disk_fill_starts_without_the_fill() {
    let p = TempProject::new(STACK);
    p.ok(&["up"]);
    p.ok(&[
        "chaos",
        "inject",
        "--service",
        "redis",
        "--action",
        "disk-fill",
        "--percentage",
        "50",
        "--no-checkpoint",
    ]);
    p.ok(&["commit", "--tag", "filled", "--force"]);
    p.ok(&["chaos", "recover"]);
    let branch = p.json(&["branch", "--alias", "after", "--from", "filled"]);
    let id = branch["id"].as_str().unwrap();
    let redis_dir = p.path().join(".vers/store/volumes").join(id).join("redis");
    assert!(redis_dir.is_dir(), "{}", redis_dir.display());
    assert!(!redis_dir.join(".vers-chaos-fill").exists());
}
