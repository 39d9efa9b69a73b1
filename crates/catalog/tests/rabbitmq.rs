//! RabbitMQ for real (Debian package `rabbitmq-server`): its version from the package
//! metadata (never by starting the broker), vhosts, users, exchanges, queues and bindings
//! from the config, epmd started with the broker and stopped with it, checked with pika.

mod support;

use serde_json::{json, Value};
use support::{ctx, dirs, free_port, run_python, start, wait_healthy};
use vers_catalog::{template_for, EngineSource, Probe};

fn amqp(url: &str, actions: &[&str]) -> Value {
    let mut args = vec![url];
    args.extend_from_slice(actions);
    serde_json::from_str(&run_python("clients/amqp_client.py", &args)).unwrap()
}

/// Processes whose command line contains `needle`, with their parent pids.
fn processes_with(needle: &str) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains(needle) {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        out.push((pid, ppid));
    }
    out
}

#[test]
fn rabbitmq_declares_the_config_and_keeps_epmd_with_the_broker() {
    let t = template_for("rabbitmq").unwrap();
    let engine = t.engine(Some("3")).unwrap_or_else(|missing| {
        panic!("rabbitmq-server is needed for this test (scripts/setup.sh installs it): {missing}")
    });
    assert!(
        matches!(engine.source, EngineSource::Distro { ref package } if package == "rabbitmq-server")
    );
    assert!(engine.version.starts_with("3."), "{}", engine.version);
    let d = dirs();
    let ports = vec![free_port(), free_port(), free_port(), free_port()];
    let epmd_port = ports[2];
    let c = ctx(
        "mq",
        "rabbitmq",
        &d,
        ports.clone(),
        json!({
            "vhosts": ["orders"],
            "users": [{"name": "app", "password": "pw", "vhost": "orders", "tags": ["monitoring"]}],
            "exchanges": [{"name": "events", "type": "topic", "vhost": "orders"}],
            "queues": [{"name": "created", "vhost": "orders", "durable": true}, {"name": "plain"}],
            "bindings": [{"exchange": "events", "queue": "created", "routing_key": "order.*"},
                         {"exchange": "amq.direct", "queue": "plain", "routing_key": "plain"}],
            "management": true
        }),
    );
    let probe = t.health(&c, &engine);
    assert!(matches!(probe, Probe::Exchange { .. }), "{probe:?}");
    let server = start(
        &t.launch(&c, &engine).unwrap(),
        d.root.path().join("rabbitmq.log"),
    );
    wait_healthy(&probe, &server);

    let app = format!("amqp://app:pw@127.0.0.1:{}/orders", ports[0]);
    let r = amqp(
        &app,
        &[
            "publish",
            "events",
            "order.created",
            "o-1",
            "--",
            "get",
            "created",
            "--",
            "count",
            "created",
        ],
    );
    assert_eq!(r, json!(["published", "o-1", 0]));
    let guest = format!("amqp://guest:guest@127.0.0.1:{}/%2F", ports[0]);
    let r = amqp(
        &guest,
        &[
            "publish",
            "amq.direct",
            "plain",
            "p-1",
            "--",
            "count",
            "plain",
        ],
    );
    assert_eq!(r, json!(["published", 1]));
    assert!(
        d.data.join("mnesia").is_dir(),
        "Mnesia lives in the data dir"
    );

    // The management API answers with the declared definitions.
    let mgmt = support::http(&json!([{
        "method": "GET",
        "url": format!("http://127.0.0.1:{}/api/queues/orders", ports[1]),
        "headers": {"Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="}
    }]));
    assert_eq!(mgmt[0]["status"], 200, "{}", mgmt[0]);
    assert_eq!(mgmt[0]["json"][0]["name"], "created");
    assert_eq!(t.http_ports(&c), vec![ports[1]]);

    // epmd runs in the foreground beside the broker, not detached, and ends with it.
    let epmds = processes_with(&format!("-port {epmd_port} -address"));
    assert_eq!(epmds.len(), 1, "{epmds:?}");
    assert_ne!(epmds[0].1, 1, "epmd must not be detached");
    drop(server);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !processes_with(&format!("-port {epmd_port} -address")).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "epmd outlived the broker"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        t.connection_env(&c).get("RABBITMQ_URL"),
        Some(&format!("amqp://guest:guest@mq:{}/", ports[0]))
    );
}

#[test]
fn rabbitmq_config_errors_name_the_key() {
    let t = template_for("rabbitmq").unwrap();
    let engine = t.engine(None).unwrap_or_else(|missing| panic!("{missing}"));
    let d = dirs();
    let bad = ctx(
        "mq",
        "rabbitmq",
        &d,
        vec![5672],
        json!({"plugins": ["rabbitmq_teleport"]}),
    );
    let err = t.launch(&bad, &engine).unwrap_err().to_string();
    assert!(
        err.contains("config.plugins[0]") && err.contains("rabbitmq_teleport"),
        "{err}"
    );
    let bad = ctx(
        "mq",
        "rabbitmq",
        &d,
        vec![5672],
        json!({"queues": [{"name": "q"}], "bindings": [{"exchange": "nope", "queue": "q"}]}),
    );
    let err = t.launch(&bad, &engine).unwrap_err().to_string();
    assert!(err.contains("config.bindings[0].exchange"), "{err}");
}
