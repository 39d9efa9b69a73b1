//! PostgreSQL for real: initdb, launch, health, setup (databases, extensions, users, grants,
//! init scripts), quiesce, run as the unprivileged engine user on a free port.

mod support;

use std::collections::BTreeMap;

use serde_json::json;
use support::{ctx, dirs, free_port, probe_once, run, run_ok, start, wait_healthy};
use vers_catalog::{template_for, EngineSource, Exec, InstanceCtx, Probe};

fn psql(c: &InstanceCtx, user: &str, password: Option<&str>, db: &str, sql: &str) -> Exec {
    let mut env = BTreeMap::new();
    if let Some(p) = password {
        env.insert("PGPASSWORD".to_string(), p.to_string());
    }
    Exec::new(
        "/usr/bin/psql",
        [
            "-X",
            "-tA",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            &c.ports[0].to_string(),
            "-U",
            user,
            "-d",
            db,
            "-c",
            sql,
        ],
    )
    .with_env(env)
}

#[test]
fn postgres_15_runs_and_is_set_up_as_the_manifest_says() {
    let t = template_for("postgres").unwrap();
    let engine = t.engine(Some("15")).unwrap();
    assert!(
        matches!(engine.source, EngineSource::Distro { ref package } if package == "postgresql-15")
    );
    let d = dirs();
    std::fs::create_dir(d.project.join("init")).unwrap();
    std::fs::write(
        d.project.join("init/01-schema.sql"),
        "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n",
    )
    .unwrap();
    std::fs::write(
        d.project.join("init/02-seed.sh"),
        "set -e\npsql -X -q -c \"INSERT INTO items (name) VALUES ('from-sh:$PGDATABASE')\"\n",
    )
    .unwrap();
    let port = free_port();
    let mut c = ctx(
        "db",
        "postgres",
        &d,
        vec![port],
        json!({
            "databases": ["app", "analytics"],
            "extensions": ["uuid-ossp", "pg_trgm"],
            "users": [
                {"name": "app_user", "password": "s3cret", "grants": ["ALL"]},
                {"name": "reader", "password": "r'1", "grants": ["SELECT"]},
                {"name": "ops", "grants": ["ALL ON DATABASE analytics"]}
            ],
            "init_scripts": ["init/01-schema.sql", "init/02-seed.sh"],
            "settings": {"max_connections": 40, "log_connections": false}
        }),
    );
    c.memory_limit = Some(256 << 20);

    for step in t.init_data(&c, &engine).unwrap() {
        run_ok(&step);
    }
    assert!(d.data.join("pgdata/PG_VERSION").is_file());
    let launch = t.launch(&c, &engine).unwrap();
    assert!(launch
        .args
        .contains(&"listen_addresses=127.0.0.1".to_string()));
    assert!(launch.args.contains(&format!("port={port}")));
    assert!(
        launch.args.contains(&"shared_buffers=65536kB".to_string()),
        "{:?}",
        launch.args
    );
    let probe = t.health(&c, &engine);
    assert!(
        matches!(&probe, Probe::Exchange { expect, .. } if expect == b"R"),
        "postgres is probed on the wire, not by a process per check: {probe:?}"
    );
    assert!(!probe_once(&probe), "healthy before the server started");
    let server = start(&launch, d.root.path().join("postgres.log"));
    wait_healthy(&probe, &server);

    for step in t.setup(&c, &engine).unwrap() {
        run_ok(&step);
    }

    assert_eq!(
        run_ok(&psql(
            &c,
            "postgres",
            None,
            "postgres",
            "SHOW max_connections"
        ))
        .trim(),
        "40"
    );
    let dbs = run_ok(&psql(
        &c,
        "postgres",
        None,
        "postgres",
        "SELECT datname FROM pg_database ORDER BY 1",
    ));
    assert!(
        dbs.lines().any(|l| l == "app") && dbs.lines().any(|l| l == "analytics"),
        "{dbs}"
    );
    for db in ["app", "analytics", "postgres"] {
        let exts = run_ok(&psql(
            &c,
            "postgres",
            None,
            db,
            "SELECT extname FROM pg_extension ORDER BY 1",
        ));
        assert!(
            exts.contains("uuid-ossp") && exts.contains("pg_trgm"),
            "{db}: {exts}"
        );
    }
    assert_eq!(
        run_ok(&psql(&c, "postgres", None, "app", "SELECT name FROM items")).trim(),
        "from-sh:app"
    );

    // A user with a password must give it; with ALL it can write tables created by init scripts.
    let wrong = run(&psql(&c, "app_user", Some("nope"), "app", "SELECT 1"));
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("password authentication failed"));
    run_ok(&psql(
        &c,
        "app_user",
        Some("s3cret"),
        "app",
        "INSERT INTO items (name) VALUES ('by app_user')",
    ));
    run_ok(&psql(
        &c,
        "app_user",
        Some("s3cret"),
        "app",
        "CREATE TABLE mine (x int)",
    ));
    assert_eq!(
        run_ok(&psql(
            &c,
            "app_user",
            Some("s3cret"),
            "app",
            "SELECT uuid_generate_v4() IS NOT NULL"
        ))
        .trim(),
        "t"
    );

    // SELECT only: reads but cannot write.
    assert_eq!(
        run_ok(&psql(
            &c,
            "reader",
            Some("r'1"),
            "app",
            "SELECT count(*) FROM items"
        ))
        .trim(),
        "2"
    );
    let denied = run(&psql(
        &c,
        "reader",
        Some("r'1"),
        "app",
        "INSERT INTO items (name) VALUES ('x')",
    ));
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("permission denied"),
        "{denied:?}"
    );

    // A full GRANT clause, granted as written.
    assert_eq!(
        run_ok(&psql(
            &c,
            "postgres",
            None,
            "postgres",
            "SELECT has_database_privilege('ops', 'analytics', 'CREATE')"
        ))
        .trim(),
        "t"
    );
    assert_eq!(
        run_ok(&psql(
            &c,
            "postgres",
            None,
            "postgres",
            "SELECT has_database_privilege('ops', 'app', 'CREATE')"
        ))
        .trim(),
        "f"
    );

    let quiesce = t.quiesce(&c, &engine);
    assert_eq!(quiesce.len(), 1);
    run_ok(&quiesce[0]);

    let env = t.connection_env(&c);
    assert_eq!(env.get("PGHOST").map(String::as_str), Some("db"));
    assert_eq!(env.get("PGDATABASE").map(String::as_str), Some("app"));
    assert_eq!(env.get("PGUSER").map(String::as_str), Some("postgres"));
    drop(server);
}

#[test]
fn setup_rejects_missing_init_scripts_and_unknown_privileges() {
    let t = template_for("postgres").unwrap();
    let engine = t.engine(Some("15")).unwrap();
    let d = dirs();
    let c = ctx(
        "db",
        "postgres",
        &d,
        vec![5432],
        json!({"init_scripts": ["nope.sql"]}),
    );
    let err = t.setup(&c, &engine).unwrap_err().to_string();
    assert!(
        err.contains("init_scripts[0]") && err.contains("nope.sql"),
        "{err}"
    );
    let c = ctx(
        "db",
        "postgres",
        &d,
        vec![5432],
        json!({"users": [{"name": "u", "grants": ["FLY"]}]}),
    );
    let err = t.setup(&c, &engine).unwrap_err().to_string();
    assert!(
        err.contains("users[0].grants[0]") && err.contains("FLY"),
        "{err}"
    );
}

#[test]
fn postgres_14_installed_from_npm_runs_with_extensions() {
    let mut lines = Vec::new();
    let engine =
        vers_catalog::engines::install("postgres", "14", &mut |l| lines.push(l.to_string()))
            .unwrap();
    assert_eq!(engine.major, "14");
    assert_eq!(
        vers_catalog::engines::find("postgres", Some("14")).unwrap(),
        engine
    );
    let t = template_for("postgres").unwrap();
    let d = dirs();
    let c = ctx(
        "db14",
        "postgres",
        &d,
        vec![free_port()],
        json!({"databases": ["app"], "extensions": ["uuid-ossp", "pg_trgm"],
               "users": [{"name": "app_user", "password": "pw", "grants": ["SELECT, INSERT"]}]}),
    );
    for step in t.init_data(&c, &engine).unwrap() {
        run_ok(&step);
    }
    let server = start(
        &t.launch(&c, &engine).unwrap(),
        d.root.path().join("pg14.log"),
    );
    wait_healthy(&t.health(&c, &engine), &server);
    for step in t.setup(&c, &engine).unwrap() {
        run_ok(&step);
    }
    assert!(
        run_ok(&psql(&c, "postgres", None, "app", "SELECT version()")).contains("PostgreSQL 14.")
    );
    assert_eq!(
        run_ok(&psql(
            &c,
            "app_user",
            Some("pw"),
            "app",
            "SELECT similarity('abc', 'abd') > 0"
        ))
        .trim(),
        "t"
    );
    run_ok(&psql(
        &c,
        "postgres",
        None,
        "app",
        "CREATE TABLE t (id serial, v text)",
    ));
    run_ok(&psql(
        &c,
        "app_user",
        Some("pw"),
        "app",
        "INSERT INTO t (v) VALUES ('x')",
    ));
    let denied = run(&psql(&c, "app_user", Some("pw"), "app", "DELETE FROM t"));
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("permission denied"),
        "{denied:?}"
    );
    drop(server);
}
