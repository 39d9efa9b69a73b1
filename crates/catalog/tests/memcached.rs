//! memcached for real (Debian package `memcached`): memory, connections and threads as configured.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use serde_json::json;
use support::{ctx, dirs, free_port, start, wait_healthy};
use vers_catalog::{template_for, EngineSource};

#[test]
fn memcached_runs_with_its_config() {
    let t = template_for("memcached").unwrap();
    let engine = match t.engine(Some("1.6")) {
        Ok(e) => e,
        Err(missing) => {
            assert!(
                missing.hint.contains("apt-get install memcached"),
                "{}",
                missing.hint
            );
            return;
        }
    };
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
    let server = start(
        &t.launch(&c, &engine).unwrap(),
        d.root.path().join("memcached.log"),
    );
    wait_healthy(&t.health(&c, &engine), &server);

    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.write_all(b"set k 0 0 1\r\nv\r\nstats settings\r\n")
        .unwrap();
    let mut reader = BufReader::new(conn);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end().to_string();
        if line == "END" || line.is_empty() {
            break;
        }
        lines.push(line);
    }
    assert_eq!(lines[0], "STORED");
    for want in [
        "STAT maxbytes 33554432",
        "STAT maxconns 64",
        "STAT num_threads 2",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want} not in {lines:?}");
    }
    assert_eq!(
        t.connection_env(&c).get("MEMCACHED_SERVERS"),
        Some(&format!("cache:{port}"))
    );
    drop(server);
}
