//! `rabbitmq@3` end to end through `vers`: the config's exchange, queue and binding exist at
//! start, pika seeds persistent messages by the service's name from a checkpoint script, and
//! two branches of the checkpoint each publish and see the seed and only their own messages,
//! while the root environment sees neither.

mod common;

use std::path::PathBuf;

use common::*;

const STACK: &str = r#"
name: rabbit-e2e
services:
  rabbitmq:
    template: rabbitmq@3
    config:
      vhosts: [shop]
      users:
        - name: app
          password: app-pw
          vhost: shop
      exchanges:
        - name: orders
          type: topic
          vhost: shop
      queues:
        - name: order-events
          vhost: shop
          durable: true
      bindings:
        - exchange: orders
          queue: order-events
          routing_key: "order.#"
checkpoints:
  - name: seeded
    after: PYTHON scripts/seed.py
tests:
  isolation:
    command: PYTHON scripts/isolation.py
    parallel: true
    branches:
      - name: a
        env: { MARK: a }
      - name: b
        env: { MARK: b }
"#;

const COMMON: &str = r#"
import pika
def channel():
    params = pika.URLParameters("amqp://app:app-pw@rabbitmq:5672/shop")
    params.socket_timeout = 10
    conn = pika.BlockingConnection(params)
    ch = conn.channel()
    ch.confirm_delivery()
    return conn, ch
def publish(ch, key, body):
    ch.basic_publish("orders", key, body.encode(), pika.BasicProperties(delivery_mode=2), mandatory=True)
"#;

/// Publishes two persistent messages through the topic exchange.
const SEED: &str = r#"
from common import channel, publish
conn, ch = channel()
publish(ch, "order.created", "seed-1")
publish(ch, "order.paid", "seed-2")
print("seeded", ch.queue_declare("order-events", passive=True).method.message_count)
conn.close()
"#;

/// One branch: publishes its mark, then drains the queue and checks it holds the seed and
/// only its own message.
const ISOLATION: &str = r#"
import os, time
from common import channel, publish
mark = os.environ["MARK"]
conn, ch = channel()
publish(ch, "order.created", "mark-" + mark)
time.sleep(1)
bodies = []
while True:
    method, _, body = ch.basic_get("order-events", auto_ack=True)
    if method is None:
        break
    bodies.append(body.decode())
print(mark, bodies)
assert sorted(bodies) == sorted(["seed-1", "seed-2", "mark-" + mark]), bodies
conn.close()
"#;

fn python() -> PathBuf {
    let venv = std::env::var_os("VERS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/vers/test-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh",
        python.display()
    );
    python
}

#[test]
fn rabbitmq_branches_of_a_checkpoint_see_the_seed_and_only_their_own_messages() {
    let python = python();
    let p = TempProject::new(&STACK.replace("PYTHON", &python.display().to_string()));
    p.write("scripts/common.py", COMMON);
    p.write("scripts/seed.py", SEED);
    p.write("scripts/isolation.py", ISOLATION);
    let out = p.vers(&["integration", "up"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report = p.json(&[
        "integration",
        "test",
        "--suite",
        "isolation",
        "--parallel",
        "--json",
    ]);
    assert_eq!(report["summary"]["passed"], 2, "{report:#}");

    // The root environment still has exactly the seed.
    let count = format!(
        "cd scripts && {} -c \"from common import channel; c, ch = channel(); print(ch.queue_declare('order-events', passive=True).method.message_count)\"",
        python.display()
    );
    let out = p.vers(&["execute", &count]);
    assert_eq!(stdout(&out).trim(), "2", "{}", stderr(&out));
}
