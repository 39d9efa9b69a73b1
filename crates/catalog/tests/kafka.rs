//! Kafka for real: the broker the template finds (Apache Kafka, else the tansu stand-in that
//! `vers engines install kafka@3` builds), topics created by setup, and the confluent-kafka
//! client (librdkafka) producing, consuming in a group and committing. A copy of the data
//! directory of a frozen broker, started as a second broker, has exactly the topics, messages
//! and committed offsets of the moment of the copy.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{ctx, dirs, free_port, run_ok, start, wait_healthy, Running};
use vers_catalog::{template_for, EngineBinary, InstanceCtx, Template};

/// The test environment's python, with confluent-kafka installed by `scripts/setup.sh`.
fn python() -> PathBuf {
    let venv = std::env::var_os("VERS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/vers/test-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh to create the test virtual environment",
        python.display()
    );
    python
}

/// Runs `kafka_client.py BOOTSTRAP ARGS…` and returns its JSON answer.
fn client(bootstrap: &str, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kafka_client.py");
    let out = Command::new(python())
        .arg(script)
        .arg(bootstrap)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kafka_client.py {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("kafka_client.py {args:?}: {e}: {stdout}"))
}

/// The kafka@3 engine; the test fails (it does not skip) when none is installed.
fn engine(t: &dyn Template) -> EngineBinary {
    t.engine(Some("3")).unwrap_or_else(|missing| {
        panic!("{missing} (scripts/setup.sh runs `vers engines install kafka@3`)")
    })
}

/// The seed's topics, without the schema registry.
fn seed_config() -> Value {
    json!({
        "topics": [
            {"name": "user-events", "partitions": 6, "config": {"retention.ms": 86400000}},
            {"name": "order-events", "partitions": 6}
        ]
    })
}

/// Starts the template's broker for `c`, waits for its health probe and returns it with the
/// time it took to become healthy.
fn run_broker(
    t: &dyn Template,
    e: &EngineBinary,
    c: &InstanceCtx,
    log: PathBuf,
) -> (Running, Duration) {
    let launch = t.launch(c, e).unwrap();
    let began = Instant::now();
    let server = start(&launch, log);
    wait_healthy(&t.health(c, e), &server);
    (server, began.elapsed())
}

/// Resident memory of `pid` in MiB.
fn rss_mib(pid: nix::unistd::Pid) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    kib / 1024
}

/// The local addresses `pid` listens on, from `/proc/net/tcp` and the process's sockets.
fn listening_addresses(pid: nix::unistd::Pid) -> Vec<String> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|l| {
            l.to_string_lossy()
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .map(String::from)
        })
        .collect();
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // State 0A is LISTEN.
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                out.push(f[1].to_string());
            }
        }
    }
    out
}

#[test]
fn kafka_topics_groups_and_a_copied_data_dir() {
    let t = template_for("kafka").unwrap();
    let e = engine(t);
    let d = dirs();
    let port = free_port();
    let mut c = ctx("kafka", "kafka", &d, vec![port], seed_config());
    // Clients on the host reach the broker by the address it advertises.
    c.public_name = "127.0.0.1".into();
    let bootstrap = format!("127.0.0.1:{port}");
    for step in t.init_data(&c, &e).unwrap() {
        run_ok(&step);
    }
    let (server, ready) = run_broker(t, &e, &c, d.root.path().join("kafka.log"));
    for step in t.setup(&c, &e).unwrap() {
        run_ok(&step);
    }

    // Only the instance's address, port 9092's stand-in: 127.0.0.1:PORT in hex.
    let listening = listening_addresses(server.pid());
    assert_eq!(
        listening,
        vec![format!("0100007F:{port:04X}")],
        "the broker must listen on 127.0.0.1:{port} only"
    );

    if e.stand_in.is_some() {
        assert!(
            d.data.join("tansu.db").is_file(),
            "tansu keeps its database in the data dir"
        );
    }
    let topics = client(&bootstrap, &["topics"]);
    assert_eq!(topics["user-events"], 6, "{topics}");
    assert_eq!(topics["order-events"], 6, "{topics}");

    let produced = client(&bootstrap, &["produce", "user-events", "0", "10"]);
    assert_eq!(produced, json!({"unflushed": 0, "errors": []}));
    // A consumer of group g1 reads four messages and commits each.
    let read = client(&bootstrap, &["consume", "user-events", "g1", "4", "commit"]);
    assert!(read["values"].as_array().unwrap().len() >= 4, "{read}");
    let committed_before = client(&bootstrap, &["committed", "user-events", "g1", "6"]);
    let committed_total: i64 = committed_before["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_i64().unwrap().max(0))
        .sum();
    assert_eq!(committed_total, 4, "{committed_before}");

    // The checkpoint: freeze the broker, copy its data directory, thaw it.
    let copy = d.root.path().join("copy");
    server.copy_while_frozen(&d.data, &copy);

    // The original goes on: more messages, and g1 reads and commits everything.
    let more = client(&bootstrap, &["produce", "user-events", "10", "5"]);
    assert_eq!(more["unflushed"], 0);
    let rest = client(
        &bootstrap,
        &["consume", "user-events", "g1", "11", "commit"],
    );
    assert_eq!(rest["values"].as_array().unwrap().len(), 11, "{rest}");

    // A second broker on the copy sees the checkpoint, not what happened after it.
    let d2 = dirs();
    let port2 = free_port();
    let mut c2 = ctx("kafka", "kafka", &d2, vec![port2], seed_config());
    c2.public_name = "127.0.0.1".into();
    c2.data_dir = copy.clone();
    let (branch, branch_ready) = run_broker(t, &e, &c2, d2.root.path().join("kafka.log"));
    let bootstrap2 = format!("127.0.0.1:{port2}");
    let topics2 = client(&bootstrap2, &["topics"]);
    assert_eq!(topics2["user-events"], 6, "{topics2}");
    assert_eq!(topics2["order-events"], 6, "{topics2}");
    assert_eq!(
        client(&bootstrap2, &["committed", "user-events", "g1", "6"]),
        committed_before
    );
    let all = client(
        &bootstrap2,
        &["consume", "user-events", "fresh", "10", "no"],
    );
    let mut want: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    want.sort();
    assert_eq!(all["values"], json!(want));
    // g1 resumes after its four committed messages.
    let resumed = client(&bootstrap2, &["consume", "user-events", "g1", "6", "no"]);
    assert_eq!(resumed["values"].as_array().unwrap().len(), 6, "{resumed}");

    eprintln!(
        "kafka figures: {} ({}), ready in {} ms, RSS {} MiB; started on a copied data dir in {} ms",
        e.stand_in
            .as_ref()
            .map(|s| s.implementation.clone())
            .unwrap_or_else(|| format!("Apache Kafka {}", e.version)),
        e.source,
        ready.as_millis(),
        rss_mib(server.pid()),
        branch_ready.as_millis()
    );
    drop(branch);
    drop(server);
}

#[test]
fn kafka_names_keys_the_broker_cannot_honour() {
    let t = template_for("kafka").unwrap();
    let e = engine(t);
    let d = dirs();
    let mut c = ctx("kafka", "kafka", &d, vec![free_port()], json!({}));
    c.config = json!({"topics": [{"name": "a", "replication": 3}]});
    let err = t.launch(&c, &e).unwrap_err().to_string();
    assert!(err.contains("config.topics[0].replication"), "{err}");
    c.config = json!({"topics": [{"name": "a"}], "schema_registry": {"port": 8082}});
    let err = t.launch(&c, &e).unwrap_err().to_string();
    assert!(err.contains("config.schema_registry"), "{err}");
    if let Some(stand_in) = &e.stand_in {
        assert!(stand_in.implementation.starts_with("tansu "), "{stand_in}");
        c.config = json!({"topics": [{"name": "a", "config": {"max.message.bytes": 100}}]});
        let err = t.launch(&c, &e).unwrap_err().to_string();
        assert!(
            err.contains("config.topics[0].config.max.message.bytes") && err.contains("tansu"),
            "{err}"
        );
    }
}
