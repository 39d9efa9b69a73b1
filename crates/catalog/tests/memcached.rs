//! memcached for real (Debian package `memcached`): memory, connections and threads as
//! configured, checked with pymemcache.

mod support;

use serde_json::json;
use support::{ctx, dirs, free_port, probe_once, run_python, start, wait_healthy};
use vers_catalog::{template_for, EngineSource, Probe};

#[test]
fn memcached_runs_with_its_config() {
    let t = template_for("memcached").unwrap();
    let engine = t.engine(Some("1.6")).unwrap_or_else(|missing| {
        panic!("memcached is needed for this test (scripts/setup.sh installs it): {missing}")
    });
    assert!(
        matches!(engine.source, EngineSource::Distro { ref package } if package == "memcached")
    );
    let d = dirs();
    let port = free_port();
    let c = ctx(
        "cache",
        "memcached",
        &d,
        vec![port],
        json!({"memory": "32mb", "max_connections": 64, "threads": 2}),
    );
    let probe = t.health(&c, &engine);
    assert!(matches!(probe, Probe::Exchange { .. }), "{probe:?}");
    assert!(!probe_once(&probe), "healthy before it started");
    let server = start(
        &t.launch(&c, &engine).unwrap(),
        d.root.path().join("memcached.log"),
    );
    wait_healthy(&probe, &server);

    let out = run_python(
        "clients/memcached_client.py",
        &["127.0.0.1", &port.to_string()],
    );
    let reply: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(reply["got"], "hello");
    let settings = &reply["settings"];
    assert_eq!(settings["maxbytes"], "33554432");
    assert_eq!(settings["maxconns"], "64");
    assert_eq!(settings["num_threads"], "2");
    assert_eq!(
        t.connection_env(&c).get("MEMCACHED_SERVERS"),
        Some(&format!("cache:{port}"))
    );
    drop(server);
}
