//! kafka@3 end to end: `vers up` with the event-driven seed's topics and Schema Registry, a
//! checkpoint seeded by the confluent-kafka client talking to `kafka:9092` and `kafka:8081`
//! from inside the environment (plain messages, and Avro records whose schema the registry
//! holds), and two branches of that checkpoint that each see its messages, committed offsets
//! and schemas and only their own writes.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::*;

/// The Python of the test virtual environment (confluent-kafka is installed there by
/// `scripts/setup.sh`).
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

/// The seed's kafka service (Pattern 2), three of its topics and its Schema Registry, a
/// checkpoint and a branched suite.
fn manifest(python: &str) -> String {
    format!(
        r#"
name: events
services:
  kafka:
    template: kafka@3
    config:
      topics:
        - name: user-events
          partitions: 6
          config:
            retention.ms: 86400000
        - name: order-events
          partitions: 6
        - name: inventory-events
          partitions: 3
      schema_registry: true
checkpoints:
  - name: seeded
    after: {python} scripts/kafka_client.py seed && {python} scripts/registry_client.py seed
tests:
  isolation:
    command: {python} scripts/kafka_client.py branch && {python} scripts/registry_client.py branch
    parallel: true
    branches:
      - name: a
        env: {{ MARK: a }}
      - name: b
        env: {{ MARK: b }}
"#
    )
}

#[test]
fn kafka_topics_checkpoint_and_isolated_branches() {
    let python = python();
    let p = TempProject::new(&manifest(&python.display().to_string()));
    p.write("scripts/kafka_client.py", include_str!("engine_kafka.py"));
    p.write(
        "scripts/registry_client.py",
        include_str!("engine_kafka_registry.py"),
    );

    let began = Instant::now();
    let out = p.vers(&["up"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let up_time = began.elapsed();

    // The seed's writes are in the running root environment.
    let check = format!(
        "{} -c \"from confluent_kafka.admin import AdminClient; t = AdminClient({{'bootstrap.servers': 'kafka:9092'}}).list_topics(timeout=10).topics; print(len(t['user-events'].partitions), len(t['order-events'].partitions))\"",
        python.display()
    );
    assert_eq!(stdout(&p.vers(&["execute", &check])).trim(), "6 6");
    // The registry answers on the kafka service's address, port 8081, through its proxy.
    let subjects = format!(
        "{} -c \"import requests; print(requests.get('http://kafka:8081/subjects').json())\"",
        python.display()
    );
    assert_eq!(
        stdout(&p.vers(&["execute", &subjects])).trim(),
        "['inventory-events-value']"
    );

    // Two branches of the checkpoint, in parallel: each sees ten messages and g1 at four,
    // writes its own, and sees none of the other's.
    let out = p.vers(&["test", "--suite", "isolation", "--parallel", "--json"]);
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["summary"]["passed"], 2, "{report:#}");

    // The root environment moves on after the checkpoint: g1 reads everything, orders arrive,
    // and a version 2 of the schema is registered.
    let state = format!("{} scripts/kafka_client.py state", python.display());
    let registry_state = format!("{} scripts/registry_client.py state", python.display());
    assert_eq!(
        stdout(&p.vers(&["execute", &state])).trim(),
        "g1=4 users=10 orders=0"
    );
    assert_eq!(
        stdout(&p.vers(&["execute", &registry_state])).trim(),
        "inventory-events-value:[1] mark=-"
    );
    for script in ["kafka_client.py", "registry_client.py"] {
        p.ok(&[
            "execute",
            &format!("MARK=root {} scripts/{script} branch", python.display()),
        ]);
    }
    assert_eq!(
        stdout(&p.vers(&["execute", &state])).trim(),
        "g1=10 users=10 orders=3"
    );
    assert_eq!(
        stdout(&p.vers(&["execute", &registry_state])).trim(),
        "inventory-events-value:[1, 2] mark=root"
    );

    // A branch by hand, timed: it starts on the checkpoint's data, not the root's.
    let began = Instant::now();
    p.ok(&["branch", "--alias", "manual", "--from", "seeded"]);
    let branch_time = began.elapsed();
    p.ok(&["checkout", "manual"]);
    assert_eq!(
        stdout(&p.vers(&["execute", &state])).trim(),
        "g1=4 users=10 orders=0"
    );
    assert_eq!(
        stdout(&p.vers(&["execute", &registry_state])).trim(),
        "inventory-events-value:[1] mark=-"
    );

    // A client on the host, at the endpoint `status` gives: the broker it is told about is
    // that endpoint (inside, the broker advertises `kafka:9092`, which the host cannot
    // resolve), so it produces and a consumer group reads back.
    let status = json_of(&p.vers(&["status", "--json"]));
    let endpoint = status["environments"]
        .as_array()
        .and_then(|envs| envs.iter().find(|e| e["head"] == true))
        .map(|e| e["services"][0]["host_endpoint"].clone())
        .unwrap_or_default();
    let endpoint = endpoint.as_str().unwrap_or_else(|| panic!("{status:#}"));
    p.write(
        "scripts/host_client.py",
        include_str!("engine_kafka_host.py"),
    );
    let out = std::process::Command::new(&python)
        .arg(p.dir.path().join("scripts/host_client.py"))
        .arg(endpoint)
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out).trim(),
        "['order-0', 'order-1', 'order-2']",
        "{}",
        stderr(&out)
    );

    eprintln!(
        "kafka e2e figures: up {} ms (with seeding), branch from a checkpoint {} ms",
        up_time.as_millis(),
        branch_time.as_millis()
    );
}

/// An option the Kafka stand-in cannot honour is refused by `up` at its place in the
/// manifest (file:line:column), like a validation error, with the fix; the error does not
/// repeat the service's name.
#[test]
fn kafka_option_the_stand_in_refuses_names_its_line() {
    let p = TempProject::new(
        "name: refused\nservices:\n  events:\n    template: kafka@3\n    config:\n      topics:\n        - { name: orders, partitions: 3 }\n      consumer_groups:\n        - { name: billing, topics: [orders] }\n",
    );
    p.ok(&["validate"]);
    let out = p.vers(&["up"]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!out.status.success(), "{text}");
    let file = p.path().join("vers-integration.yaml");
    let expected = format!(
        "{}:8:7: service `events`: config.consumer_groups:",
        file.display()
    );
    assert!(text.contains(&expected), "{expected}\n{text}");
    assert!(text.contains("remove consumer_groups"), "{text}");
    assert!(!text.contains("events: events:"), "{text}");
    p.vers(&["down", "--all"]);
}

/// A consumer that was in a group when the checkpoint was taken (a worker killed, or simply
/// running: it never left) is gone in a branch: a new consumer of the group gets the
/// partitions at once and reads from the committed offsets, instead of waiting for the
/// departed member forever.
#[test]
fn a_branch_forgets_the_members_a_group_had_at_checkpoint_time() {
    let python = python();
    let p = TempProject::new(&format!(
        r#"
name: groups
services:
  kafka:
    template: kafka@3
    config:
      topics:
        - name: jobs
          partitions: 2
checkpoints:
  - name: joined
    after: {py} scripts/groups.py ghost
tests:
  rejoin:
    command: {py} scripts/groups.py rejoin
    timeout: 60s
    branches:
      - name: one
      - name: two
"#,
        py = python.display()
    ));
    p.write("scripts/groups.py", include_str!("engine_kafka_groups.py"));
    let out = p.vers(&["up"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = p.vers(&["test", "--parallel", "--json"]);
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["summary"]["passed"], 2, "{report:#}");
}
