//! `nats@2` end to end through `vers`: nats-py creates a JetStream stream by the service's name
//! from a checkpoint script, and two branches of the checkpoint each publish and see the
//! seed's messages and only their own, while the root environment sees neither.

mod common;

use std::path::PathBuf;

use common::*;

const STACK: &str = r#"
name: nats-e2e
services:
  nats:
    template: nats
    config:
      jetstream: true
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

const SEED: &str = r#"
import asyncio, nats
async def main():
    nc = await nats.connect("nats://nats:4222", connect_timeout=10)
    js = nc.jetstream()
    await js.add_stream(name="EVENTS", subjects=["events.*"])
    for i in range(2):
        await js.publish("events.seed", f"seed-{i}".encode())
    print("seeded", (await js.stream_info("EVENTS")).state.messages)
    await nc.close()
asyncio.run(main())
"#;

const ISOLATION: &str = r#"
import asyncio, os, nats
async def main():
    mark = os.environ["MARK"]
    nc = await nats.connect("nats://nats:4222", connect_timeout=10)
    js = nc.jetstream()
    await js.publish("events.branch", f"mark-{mark}".encode())
    await asyncio.sleep(1)
    info = await js.stream_info("EVENTS")
    bodies = [(await js.get_msg("EVENTS", seq)).data.decode()
              for seq in range(info.state.first_seq, info.state.last_seq + 1)]
    print(mark, bodies)
    assert bodies == ["seed-0", "seed-1", f"mark-{mark}"], bodies
    await nc.close()
asyncio.run(main())
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
fn nats_branches_of_a_checkpoint_see_the_stream_and_only_their_own_messages() {
    let python = python();
    let p = TempProject::new(&STACK.replace("PYTHON", &python.display().to_string()));
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

    let check = format!(
        "{} -c \"import asyncio, nats\nasync def m():\n    nc = await nats.connect('nats://nats:4222')\n    print((await nc.jetstream().stream_info('EVENTS')).state.messages)\n    await nc.close()\nasyncio.run(m())\"",
        python.display()
    );
    let out = p.vers(&["execute", &check]);
    assert_eq!(stdout(&out).trim(), "2", "{}", stderr(&out));
}
