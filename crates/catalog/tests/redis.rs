//! Redis for real: a generated config with memory limits, policy and password, checked
//! through redis-cli as a client would.

mod support;

use std::collections::BTreeMap;

use serde_json::json;
use support::{ctx, dirs, free_port, run, run_ok, start, wait_healthy};
use vers_catalog::{template_for, EngineSource, Exec, InstanceCtx};

fn cli(c: &InstanceCtx, password: Option<&str>, args: &[&str]) -> Exec {
    let mut env = BTreeMap::new();
    if let Some(p) = password {
        env.insert("REDISCLI_AUTH".to_string(), p.to_string());
    }
    let port = c.ports[0].to_string();
    let mut argv = vec!["-h", "127.0.0.1", "-p", &port];
    argv.extend_from_slice(args);
    Exec::new("/usr/bin/redis-cli", argv).with_env(env)
}

#[test]
fn redis_runs_with_maxmemory_policy_password_and_persistence() {
    let t = template_for("redis").unwrap();
    let engine = t.engine(Some("7")).unwrap();
    assert!(
        matches!(engine.source, EngineSource::Distro { ref package } if package == "redis-server")
    );
    let d = dirs();
    let c = ctx(
        "cache",
        "redis",
        &d,
        vec![free_port()],
        json!({"maxmemory": "64mb", "maxmemory_policy": "allkeys-lru", "password": "pw", "databases": 4}),
    );
    assert!(t.init_data(&c, &engine).unwrap().is_empty());
    let launch = t.launch(&c, &engine).unwrap();
    assert!(d.run.join("redis.conf").is_file());
    let server = start(&launch, d.root.path().join("redis.log"));
    wait_healthy(&t.health(&c, &engine), &server);

    let get = |key: &str| run_ok(&cli(&c, Some("pw"), &["CONFIG", "GET", key]));
    assert_eq!(get("maxmemory").lines().nth(1), Some("67108864"));
    assert_eq!(get("maxmemory-policy").lines().nth(1), Some("allkeys-lru"));
    assert_eq!(get("databases").lines().nth(1), Some("4"));
    assert_eq!(get("appendonly").lines().nth(1), Some("yes"));
    assert_eq!(get("bind").lines().nth(1), Some("127.0.0.1"));

    let noauth = String::from_utf8_lossy(&run(&cli(&c, None, &["GET", "k"])).stdout).into_owned();
    assert!(noauth.contains("NOAUTH"), "{noauth}");
    assert_eq!(
        run_ok(&cli(&c, Some("pw"), &["SET", "k", "v"])).trim(),
        "OK"
    );
    assert!(t.setup(&c, &engine).unwrap().is_empty());
    assert_eq!(
        t.connection_env(&c).get("REDIS_URL").map(String::as_str),
        Some(format!("redis://:pw@cache:{}", c.ports[0]).as_str())
    );
    drop(server);
    let aof_written = std::fs::read_dir(&d.data)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("appendonly"));
    assert!(aof_written, "no append-only file in the data dir");
}

#[test]
fn redis_without_persistence_and_with_a_wrong_major() {
    let t = template_for("redis").unwrap();
    let engine = t.engine(None).unwrap();
    let d = dirs();
    let mut c = ctx(
        "cache",
        "redis",
        &d,
        vec![6379],
        json!({"persistence": false}),
    );
    c.memory_limit = Some(100 << 20);
    t.launch(&c, &engine).unwrap();
    let conf = std::fs::read_to_string(d.run.join("redis.conf")).unwrap();
    assert!(
        conf.contains("appendonly no") && conf.contains("save \"\""),
        "{conf}"
    );
    assert!(
        conf.contains(&format!("maxmemory {}", (100u64 << 20) / 4 * 3)),
        "{conf}"
    );

    // `persistence`: a bool or rdb | aof | none, as docs/manifest.md says.
    for (value, appendonly, saves) in [
        (json!(true), "yes", true),
        (json!("aof"), "yes", true),
        (json!("rdb"), "no", true),
        (json!("none"), "no", false),
        (json!(false), "no", false),
        (json!("false"), "no", false),
    ] {
        let c = ctx(
            "cache",
            "redis",
            &d,
            vec![6379],
            json!({ "persistence": value }),
        );
        t.launch(&c, &engine).unwrap();
        let conf = std::fs::read_to_string(d.run.join("redis.conf")).unwrap();
        assert!(
            conf.contains(&format!("appendonly {appendonly}")),
            "{value}: {conf}"
        );
        assert_eq!(conf.contains("save \"\""), !saves, "{value}: {conf}");
    }
    let c = ctx(
        "cache",
        "redis",
        &d,
        vec![6379],
        json!({"persistence": "disk"}),
    );
    let err = t.launch(&c, &engine).unwrap_err().to_string();
    assert!(err.contains("persistence") && err.contains("rdb"), "{err}");

    let bad = ctx(
        "cache",
        "redis",
        &d,
        vec![6379],
        json!({"maxmemory_policy": "lru-ish"}),
    );
    let err = t.launch(&bad, &engine).unwrap_err().to_string();
    assert!(
        err.contains("maxmemory_policy") && err.contains("allkeys-lru"),
        "{err}"
    );

    let other = if engine.major == "6" { "7" } else { "6" };
    let missing = t.engine(Some(other)).unwrap_err();
    assert!(
        missing.hint.contains(&format!("redis@{}", engine.major)),
        "{}",
        missing.hint
    );
}

/// With `persistence: none` (or `false`, or `rdb`) Redis writes no AOF, so the checkpoint's
/// copy of the data directory holds the keys only because `quiesce` runs `SAVE`: a branch
/// started on that copy loads `dump.rdb` and sees them.
#[test]
fn redis_without_an_aof_keeps_its_keys_in_a_checkpoint() {
    let t = template_for("redis").unwrap();
    let engine = t.engine(None).unwrap();
    for persistence in [json!("none"), json!(false), json!("rdb")] {
        let config = json!({ "persistence": persistence });
        let d = dirs();
        let c = ctx("cache", "redis", &d, vec![free_port()], config.clone());
        let server = start(
            &t.launch(&c, &engine).unwrap(),
            d.root.path().join("redis.log"),
        );
        wait_healthy(&t.health(&c, &engine), &server);
        assert_eq!(
            run_ok(&cli(&c, None, &["SET", "seeded", "yes"])).trim(),
            "OK"
        );
        let quiesce = t.quiesce(&c, &engine);
        assert!(!quiesce.is_empty(), "{persistence}: no quiesce step");
        for step in quiesce {
            run_ok(&step);
        }

        let copy = dirs();
        std::fs::remove_dir(&copy.data).unwrap();
        server.copy_while_frozen(&d.data, &copy.data);
        let b = ctx("cache", "redis", &copy, vec![free_port()], config);
        let branch = start(
            &t.launch(&b, &engine).unwrap(),
            copy.root.path().join("redis.log"),
        );
        wait_healthy(&t.health(&b, &engine), &branch);
        assert_eq!(
            run_ok(&cli(&b, None, &["GET", "seeded"])).trim(),
            "yes",
            "{persistence}: the branch lost the key"
        );
    }
}
