//! Every chaos action against real services of one shared environment (Redis, stripe-mock and
//! a single-replica Python app), the refusals that change nothing, `pre-chaos-N` checkpoints
//! with `recover --checkpoint`, `vers chaos run NAME`, and a scenario suite whose faults vers
//! schedules itself (`after`, `duration`, `VERS_SCENARIO`, `VERS_EXPECT`, JSON and JUnit).

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::*;

const STACK: &str = r#"
name: chaos-actions
services:
  redis:
    template: redis@7
    resources:
      memory: 256MiB
      storage: 64MiB
  stripe:
    template: stripe-mock
  web:
    build: ./web
    command: python3 -m http.server 3000
    healthcheck:
      command: curl -sf localhost:3000/who
chaos:
  scenarios:
    - name: slow-cache
      description: Redis 800 ms slower for 2 s, starting 1 s after `chaos run`
      inject: { service: redis, action: network-delay, latency: 800ms, after: 1s, duration: 2s }
      expect: [cache.slow]
"#;

/// Upper bound (ms) for a request with no fault; faults asserted here add at least 1 s.
const FAST_MS: u64 = 700;

const REDIS_PING: &str = "redis-cli -h redis ping";
const STRIPE: &str =
    "curl -s -o /dev/null -w '%{http_code}' -u sk_test_chaos: http://stripe:12111/v1/charges";

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

/// Milliseconds one run of `cmd` takes inside HEAD (the command must succeed).
fn millis(p: &TempProject, cmd: &str) -> u64 {
    let script = format!(
        "s=$(date +%s%N); {cmd} > /dev/null || exit 1; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))"
    );
    let text = p.ok(&["execute", &script]);
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("not a duration ({e}): {text:?}"))
}

fn inject(p: &TempProject, args: &[&str]) -> String {
    let mut full = vec!["chaos", "inject", "--no-checkpoint"];
    full.extend_from_slice(args);
    p.ok(&full)
}

fn actions(p: &TempProject) -> Vec<(String, String)> {
    let list = p.json(&["chaos", "list", "--json"]);
    list["faults"]
        .as_array()
        .unwrap_or_else(|| panic!("{list:#}"))
        .iter()
        .map(|f| {
            (
                f["service"].as_str().unwrap().to_string(),
                f["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A number of redis's entry in `status --json`.
fn redis_stat(p: &TempProject, key: &str) -> u64 {
    let st = p.json(&["status", "--json"]);
    let svc = st["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["head"] == true)
        .and_then(|e| {
            e["services"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"] == "redis")
                .cloned()
        })
        .unwrap_or_else(|| panic!("no redis in {st:#}"));
    svc[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {svc:#}"))
}

/// Polls `check` every 100 ms for up to `within`.
fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

const MIB: u64 = 1024 * 1024;

#[test]
fn every_action_on_one_environment() {
    let p = TempProject::new(STACK);
    p.write("web/who", "web\n");
    p.ok(&["up"]);
    assert!(millis(&p, REDIS_PING) < FAST_MS);

    // Nonsense is refused with exit 2 before anything changes.
    let refused: &[(&[&str], &str)] = &[
        (
            &["--service", "redis", "--action", "bandwidth", "--rate", "0"],
            "--rate must be a bandwidth in KB/s of at least 1",
        ),
        (
            &["--service", "redis", "--action", "http-error"],
            "`http-error` needs a service that speaks HTTP",
        ),
        (
            &[
                "--service",
                "redis",
                "--action",
                "cpu-stress",
                "--intensity",
                "150",
            ],
            "--intensity must be a percentage from 0 to 100",
        ),
        (
            &[
                "--service",
                "redis",
                "--action",
                "disk-fill",
                "--percentage",
                "0",
            ],
            "--percentage must be a percentage from 1 to 100",
        ),
        (
            &["--service", "redis", "--action", "kill", "--latency", "1s"],
            "--latency does not apply to `kill`",
        ),
    ];
    for (args, needle) in refused {
        let mut full = vec!["chaos", "inject"];
        full.extend_from_slice(args);
        let out = p.vers(&full);
        assert_eq!(code(&out), Some(2), "{full:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{full:?}: {}", stderr(&out));
    }
    let out = p.vers(&["chaos", "run", "nope"]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("slow-cache"), "{}", stderr(&out));
    assert!(actions(&p).is_empty());
    let log = p.json(&["log", "--format", "json"]);
    assert!(!log.to_string().contains("pre-chaos"), "{log:#}");

    // network-delay with jitter: every ping is delayed by 300 ms ± 250 ms, not all alike.
    inject(
        &p,
        &[
            "--service",
            "redis",
            "--action",
            "network-delay",
            "--latency",
            "300ms",
            "--jitter",
            "250ms",
        ],
    );
    let pings: Vec<u64> = (0..8).map(|_| millis(&p, REDIS_PING)).collect();
    assert!(
        pings.iter().all(|&ms| (40..1500).contains(&ms)),
        "{pings:?}"
    );
    let spread = pings.iter().max().unwrap() - pings.iter().min().unwrap();
    assert!(
        spread >= 50,
        "jitter 250 ms but pings spread {spread} ms: {pings:?}"
    );
    p.ok(&["chaos", "recover"]);

    // network-loss: every connection dropped, then about half of them.
    inject(&p, &["--service", "stripe", "--action", "network-loss"]);
    assert_ne!(
        p.ok(&["execute", &format!("{STRIPE} --max-time 2 || true")]),
        "200"
    );
    p.ok(&["chaos", "recover"]);
    inject(
        &p,
        &[
            "--service",
            "stripe",
            "--action",
            "network-loss",
            "--loss",
            "50",
        ],
    );
    let codes = p.ok(&[
        "execute",
        &format!("for i in $(seq 30); do {STRIPE} --max-time 3 || true; echo; done"),
    ]);
    let passed = codes.lines().filter(|l| *l == "200").count();
    assert!(
        (3..=27).contains(&passed),
        "{passed}/30 passed at 50 % loss:\n{codes}"
    );
    p.ok(&["chaos", "recover"]);

    // network-isolate from one service: the app's pod loses redis, everyone else keeps it.
    inject(
        &p,
        &[
            "--service",
            "redis",
            "--action",
            "network-isolate",
            "--from",
            "web",
        ],
    );
    assert_eq!(p.ok(&["execute", REDIS_PING]).trim(), "PONG");
    let cut = p.vers(&[
        "execute",
        "--service",
        "web",
        "timeout 3 redis-cli -h redis ping | grep -q PONG",
    ]);
    assert_ne!(code(&cut), Some(0), "web still reaches an isolated redis");
    p.ok(&["chaos", "recover"]);
    assert_eq!(
        p.ok(&["execute", "--service", "web", REDIS_PING]).trim(),
        "PONG"
    );

    // bandwidth: 150 KB read at 50 KB/s takes about 3 s.
    p.ok(&[
        "execute",
        "head -c 150000 /dev/zero | tr '\\0' a | redis-cli -h redis -x set big > /dev/null",
    ]);
    let get_big = "redis-cli -h redis get big";
    assert!(millis(&p, get_big) < FAST_MS);
    inject(
        &p,
        &[
            "--service",
            "redis",
            "--action",
            "bandwidth",
            "--rate",
            "50",
        ],
    );
    let slow = millis(&p, get_big);
    assert!(
        (2000..10000).contains(&slow),
        "150 KB at 50 KB/s took {slow} ms"
    );
    p.ok(&["chaos", "recover"]);
    assert!(millis(&p, get_big) < FAST_MS);

    // reset-peer: connections are reset at once.
    inject(&p, &["--service", "stripe", "--action", "reset-peer"]);
    let t = Instant::now();
    let reset = p.vers(&["execute", &format!("{STRIPE} --max-time 5")]);
    assert_ne!(code(&reset), Some(0), "{}", stdout(&reset));
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    p.ok(&["chaos", "recover"]);

    // timeout: connections are accepted and never answered (curl gives up: exit 28).
    inject(&p, &["--service", "stripe", "--action", "timeout"]);
    let t = Instant::now();
    let hung = p.vers(&["execute", &format!("{STRIPE} --max-time 2")]);
    assert_eq!(code(&hung), Some(28), "{}", stderr(&hung));
    assert!(t.elapsed() >= Duration::from_secs(2));
    p.ok(&["chaos", "recover"]);
    assert_eq!(p.ok(&["execute", STRIPE]), "200");

    // cpu-stress: the service's cgroup burns CPU at the asked intensity, then stops. `status`
    // answers from a report the daemon keeps (up to 2 s old), so the windows are long.
    let cpu = |p: &TempProject| redis_stat(p, "cpu_usec");
    inject(
        &p,
        &[
            "--service",
            "redis",
            "--action",
            "cpu-stress",
            "--intensity",
            "60",
            "--duration",
            "6s",
        ],
    );
    assert!(actions(&p).contains(&("redis".into(), "cpu-stress".into())));
    std::thread::sleep(Duration::from_millis(300));
    let (c1, t1) = (cpu(&p), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let busy = (cpu(&p) - c1) as f64 / t1.elapsed().as_micros() as f64;
    assert!(busy >= 0.25, "cpu-stress at 60 %: {busy:.2} CPUs busy");
    assert!(eventually(Duration::from_secs(8), || actions(&p).is_empty()));
    std::thread::sleep(Duration::from_millis(2500));
    let (c2, t2) = (cpu(&p), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let after = (cpu(&p) - c2) as f64 / t2.elapsed().as_micros() as f64;
    assert!(after < 0.2, "{after:.2} CPUs busy once cpu-stress ended");

    // memory-stress: 50 % of redis's 256 MiB is held in its cgroup until recover.
    let mem0 = redis_stat(&p, "memory_bytes");
    inject(
        &p,
        &[
            "--service",
            "redis",
            "--action",
            "memory-stress",
            "--intensity",
            "50",
        ],
    );
    assert!(
        eventually(Duration::from_secs(10), || redis_stat(&p, "memory_bytes")
            >= mem0 + 100 * MIB),
        "memory-stress 50 % of 256 MiB: {} MiB in use (before: {} MiB)",
        redis_stat(&p, "memory_bytes") / MIB,
        mem0 / MIB
    );
    assert_eq!(p.ok(&["execute", REDIS_PING]).trim(), "PONG");
    p.ok(&["chaos", "recover"]);
    assert!(eventually(Duration::from_secs(5), || redis_stat(
        &p,
        "memory_bytes"
    ) < mem0 + 32 * MIB));

    // Two stress faults end each on its own duration: cpu-stress after 2 s, memory-stress
    // after 7 s.
    inject(
        &p,
        &[
            "--service",
            "redis",
            "--action",
            "cpu-stress",
            "--duration",
            "2s",
        ],
    );
    inject(
        &p,
        &[
            "--service",
            "redis",
            "--action",
            "memory-stress",
            "--intensity",
            "50",
            "--duration",
            "7s",
        ],
    );
    let t = Instant::now();
    let memory_only = vec![("redis".to_string(), "memory-stress".to_string())];
    assert!(
        eventually(Duration::from_secs(5), || actions(&p) == memory_only),
        "{:?} after {:?}",
        actions(&p),
        t.elapsed()
    );
    assert!(t.elapsed() < Duration::from_secs(6));
    assert!(
        eventually(Duration::from_secs(4), || redis_stat(&p, "memory_bytes")
            >= mem0 + 100 * MIB),
        "memory-stress ended with cpu-stress: {} MiB in use",
        redis_stat(&p, "memory_bytes") / MIB
    );
    assert!(eventually(Duration::from_secs(8), || actions(&p).is_empty()));
    assert!(t.elapsed() >= Duration::from_secs(7), "{:?}", t.elapsed());

    // disk-fill: 90 % of redis's 64 MiB volume; the volume's quota leaves the other 10 %, so
    // redis's AOF writes fail (MISCONF) while reads go on, until recover frees it.
    p.ok(&["execute", "redis-cli -h redis set kept-read yes"]);
    let vol0 = redis_stat(&p, "volume_bytes");
    assert!(vol0 < 8 * MIB, "{vol0}");
    inject(
        &p,
        &[
            "--service",
            "redis",
            "--action",
            "disk-fill",
            "--percentage",
            "90",
        ],
    );
    assert!(
        eventually(Duration::from_secs(5), || (55 * MIB..=60 * MIB)
            .contains(&redis_stat(&p, "volume_bytes"))),
        "disk-fill 90 % of 64 MiB left {} bytes",
        redis_stat(&p, "volume_bytes")
    );
    assert!(actions(&p).contains(&("redis".into(), "disk-fill".into())));
    let writes = p.ok(&[
        "execute",
        "for i in $(seq 30); do head -c 1000000 /dev/zero | tr '\\0' a | redis-cli -h redis -x set big$i; sleep 0.2; done 2>&1",
    ]);
    assert!(
        writes.contains("MISCONF"),
        "30 MB written into 6 MiB left:\n{writes}"
    );
    assert_eq!(
        p.ok(&["execute", "redis-cli -h redis get kept-read"])
            .trim(),
        "yes"
    );
    p.ok(&["chaos", "recover"]);
    assert!(eventually(Duration::from_secs(5), || redis_stat(
        &p,
        "volume_bytes"
    ) < 40 * MIB));
    assert!(
        eventually(Duration::from_secs(10), || stdout(
            &p.vers(&["execute", "redis-cli -h redis set again ok"])
        )
        .trim()
            == "OK"),
        "redis still refuses writes after recover"
    );
    p.ok(&["execute", "redis-cli -h redis flushall"]);

    // An automatic checkpoint before the fault; `recover --checkpoint` brings its data back.
    p.ok(&["execute", "redis-cli -h redis set kept before"]);
    let out = p.ok(&["chaos", "inject", "--service", "redis", "--action", "pause"]);
    assert!(out.contains("pre-chaos-1"), "{out}");
    p.ok(&["chaos", "recover"]);
    p.ok(&["execute", "redis-cli -h redis set kept after"]);
    let out = p.ok(&["chaos", "recover", "--checkpoint", "pre-chaos-1"]);
    assert!(out.contains("restored pre-chaos-1"), "{out}");
    assert_eq!(
        p.ok(&["execute", "redis-cli -h redis get kept"]).trim(),
        "before"
    );
    let out = p.vers(&["chaos", "recover", "--checkpoint", "pre-chaos-9"]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));

    // Concurrent injects each get their own pre-chaos-N.
    let tags: Vec<String> = std::thread::scope(|sc| {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                sc.spawn(|| {
                    p.ok(&[
                        "chaos",
                        "inject",
                        "--service",
                        "redis",
                        "--action",
                        "network-delay",
                        "--latency",
                        "10ms",
                    ])
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| {
                let out = r.join().unwrap();
                let at = out.find("pre-chaos-").unwrap_or_else(|| panic!("{out}"));
                let n: String = out[at + 10..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                format!("pre-chaos-{n}")
            })
            .collect()
    });
    assert_ne!(tags[0], tags[1], "{tags:?}");
    for tag in &tags {
        assert!(
            ["pre-chaos-2", "pre-chaos-3"].contains(&tag.as_str()),
            "{tags:?}"
        );
    }
    p.ok(&["chaos", "recover"]);

    // `chaos run NAME`: the manifest's scenario, `after` 1 s, for 2 s.
    let t = Instant::now();
    let run = p.json(&["chaos", "run", "slow-cache", "--no-checkpoint", "--json"]);
    let waited = t.elapsed();
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert_eq!(run["scenario"], "slow-cache", "{run:#}");
    assert_eq!(run["expect"][0], "cache.slow", "{run:#}");
    assert_eq!(run["injected"]["action"], "network-delay", "{run:#}");
    let slow = millis(&p, REDIS_PING);
    assert!(slow >= 800, "{slow} ms under the scenario's 800 ms delay");
    std::thread::sleep(Duration::from_secs(2).saturating_sub(t.elapsed() - waited));
    std::thread::sleep(Duration::from_millis(300));
    assert!(millis(&p, REDIS_PING) < FAST_MS);
    assert!(actions(&p).is_empty());
}

const SUITE: &str = r#"
name: chaos-suite
services:
  redis:
    template: redis@7
tests:
  chaos:
    command: sh check.sh
    timeout: 1m
    branches:
      - name: calm
    scenarios:
      - name: slow-later
        inject: { service: redis, action: network-delay, latency: 700ms, after: 2s, duration: 2s }
        expect: [fast.first, slow.then, fast.again]
      - name: frozen-first
        inject: { service: redis, action: pause, duration: 1500ms }
        expect: [frozen.first]
"#;

/// The suite's command: checks its labels against what it observes of redis, with the times
/// since it started (the fault is vers's to schedule).
const CHECK: &str = r#"set -e
start=$(date +%s%N)
since() { echo $(( ($(date +%s%N) - start) / 1000000 )); }
ms() { s=$(date +%s%N); timeout 10 redis-cli -h redis ping > /dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
echo "scenario=${VERS_SCENARIO:-none} expect=${VERS_EXPECT:-none}"
case "$VERS_SCENARIO" in
  slow-later)
    test "$VERS_EXPECT" = "fast.first,slow.then,fast.again"
    t=$(ms); echo "fast.first $t ms at $(since)"; test "$t" -lt 500
    sleep 2.5
    t=$(ms); echo "slow.then $t ms at $(since)"; test "$t" -ge 700
    while [ "$(since)" -lt 4800 ]; do sleep 0.1; done
    t=$(ms); echo "fast.again $t ms at $(since)"; test "$t" -lt 500 ;;
  frozen-first)
    test "$VERS_EXPECT" = "frozen.first"
    t=$(ms); echo "frozen.first $t ms at $(since)"; test "$t" -ge 800 ;;
  *)
    test -z "$VERS_EXPECT"
    t=$(ms); echo "calm $t ms"; test "$t" -lt 500 ;;
esac
"#;

#[test]
fn scenario_suite_runs_each_scenario_on_its_own_branch() {
    let p = TempProject::new(SUITE);
    p.write("check.sh", CHECK);
    let junit = p.scratch.path().join("junit.xml");
    let out = p.vers(&[
        "test",
        "--parallel",
        "--json",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let report = json_of(&out);
    let branches = report["suites"][0]["branches"].as_array().unwrap().clone();
    let logs: String = branches
        .iter()
        .map(|b| {
            format!(
                "--- {} {}\n{}",
                b["name"],
                b["status"],
                std::fs::read_to_string(b["log"].as_str().unwrap_or_default()).unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(code(&out), Some(0), "{report:#}\n{logs}");
    assert_eq!(report["summary"]["passed"], 3, "{report:#}\n{logs}");
    let by_name = |n: &str| {
        branches
            .iter()
            .find(|b| b["name"] == n)
            .unwrap_or_else(|| panic!("no {n}: {report:#}"))
            .clone()
    };
    assert!(by_name("calm").get("scenario").is_none());
    let later = by_name("slow-later");
    assert_eq!(later["scenario"]["inject"]["after"], "2s", "{later:#}");
    assert_eq!(later["scenario"]["expect"][1], "slow.then", "{later:#}");
    let at = later["scenario"]["injected_at_ms"].as_i64().unwrap();
    assert!(
        (2000..2600).contains(&at),
        "asked after 2s, applied at {at} ms"
    );
    let frozen = by_name("frozen-first");
    assert!(frozen["scenario"]["injected_at_ms"].as_i64().unwrap() <= 0);
    assert!(
        logs.contains("chaos: network-delay on redis for 2s applied at +"),
        "{logs}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    for name in ["calm", "slow-later", "frozen-first"] {
        assert!(xml.contains(&format!("name=\"{name}\"")), "{xml}");
    }
    // The root environment never had a fault, and nothing was left running.
    let st = p.json(&["status", "--json"]);
    assert!(!st.to_string().contains("slow-later"), "{st:#}");
}
