//! NATS for real (Debian package `nats-server`): core messaging, `max_payload` as configured,
//! and JetStream streams kept in the data directory across a restart, checked with nats-py.

mod support;

use serde_json::{json, Value};
use support::{ctx, dirs, free_port, run_python, start, wait_healthy};
use vers_catalog::{template_for, EngineSource, Probe};

#[test]
fn nats_serves_core_and_jetstream_from_its_data_directory() {
    let t = template_for("nats").unwrap();
    let engine = t.engine(Some("2")).unwrap_or_else(|missing| {
        panic!("nats-server is needed for this test (scripts/setup.sh installs it): {missing}")
    });
    assert!(
        matches!(engine.source, EngineSource::Distro { ref package } if package == "nats-server")
    );
    let d = dirs();
    let config = json!({"max_payload": "2mb", "max_connections": 50});
    let c = ctx("bus", "nats", &d, vec![free_port()], config.clone());
    let probe = t.health(&c, &engine);
    assert!(matches!(probe, Probe::Exchange { .. }), "{probe:?}");
    let url = format!("nats://127.0.0.1:{}", c.ports[0]);
    {
        let server = start(&t.launch(&c, &engine).unwrap(), d.root.path().join("a.log"));
        wait_healthy(&probe, &server);
        let out: Value =
            serde_json::from_str(&run_python("clients/nats_client.py", &[&url, "write"])).unwrap();
        assert_eq!(out["core"], "pong");
        assert_eq!(out["max_payload"], 2 * 1024 * 1024);
        assert_eq!(out["messages"], 3);
    }
    assert!(
        d.data.join("jetstream").is_dir(),
        "JetStream keeps its store in the data dir"
    );
    // A new server on the same data directory (as a branch starts) has the stream.
    let c2 = ctx("bus", "nats", &d, vec![free_port()], config);
    let server = start(
        &t.launch(&c2, &engine).unwrap(),
        d.root.path().join("b.log"),
    );
    wait_healthy(&t.health(&c2, &engine), &server);
    let url = format!("nats://127.0.0.1:{}", c2.ports[0]);
    let out: Value =
        serde_json::from_str(&run_python("clients/nats_client.py", &[&url, "read"])).unwrap();
    assert_eq!(out["messages"], 3);
    assert_eq!(out["first"], "order-0");
    assert_eq!(
        t.connection_env(&c2).get("NATS_URL"),
        Some(&format!("nats://bus:{}", c2.ports[0]))
    );
}

#[test]
fn nats_without_jetstream_and_with_a_bad_size() {
    let t = template_for("nats").unwrap();
    let engine = t.engine(None).unwrap_or_else(|missing| panic!("{missing}"));
    let d = dirs();
    let c = ctx("bus", "nats", &d, vec![4222], json!({"jetstream": false}));
    t.launch(&c, &engine).unwrap();
    let conf = std::fs::read_to_string(d.run.join("nats.conf")).unwrap();
    assert!(!conf.contains("jetstream"), "{conf}");
    let bad = ctx(
        "bus",
        "nats",
        &d,
        vec![4222],
        json!({"max_payload": "lots"}),
    );
    let err = t.launch(&bad, &engine).unwrap_err().to_string();
    assert!(err.contains("config.max_payload"), "{err}");
}
