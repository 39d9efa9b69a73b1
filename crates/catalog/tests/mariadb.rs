//! MariaDB for real (Debian package `mariadb-server`): the data directory initialised by the
//! template, databases, users, grants, settings and init scripts applied, checked with PyMySQL.

mod support;

use serde_json::{json, Value};
use support::{ctx, dirs, free_port, probe_once, run, run_ok, run_python, start, wait_healthy};
use vers_catalog::{template_for, EngineSource, Probe};

fn sql(port: u16, user: &str, password: &str, db: &str, statements: &[&str]) -> Value {
    let port = port.to_string();
    let mut args = vec!["127.0.0.1", &port, user, password, db];
    args.extend_from_slice(statements);
    serde_json::from_str(&run_python("clients/mysql_client.py", &args)).unwrap()
}

#[test]
fn mariadb_is_initialised_configured_and_set_up_as_the_manifest_says() {
    let t = template_for("mariadb").unwrap();
    let engine = t.engine(Some("10")).unwrap_or_else(|missing| {
        panic!("mariadb-server is needed for this test (scripts/setup.sh installs it): {missing}")
    });
    assert!(
        matches!(engine.source, EngineSource::Distro { ref package } if package == "mariadb-server")
    );
    assert!(engine.version.starts_with("10."), "{}", engine.version);
    let d = dirs();
    std::fs::write(
        d.project.join("seed.sql"),
        "CREATE TABLE items (id INT PRIMARY KEY, name TEXT);\nINSERT INTO items VALUES (1, 'widget');\n",
    )
    .unwrap();
    let port = free_port();
    let c = ctx(
        "db",
        "mariadb",
        &d,
        vec![port],
        json!({
            "databases": ["shop", "audit"],
            "users": [{"name": "app", "password": "s3cret", "grants": ["ALL"]},
                      {"name": "reader", "password": "r", "grants": ["SELECT"]}],
            "init_scripts": ["seed.sql"],
            "settings": {"max_connections": 42, "character_set_server": "utf8mb4"}
        }),
    );
    for step in t.init_data(&c, &engine).unwrap() {
        run_ok(&step);
    }
    assert!(
        d.data.join("mysql").is_dir(),
        "system tables in the data dir"
    );
    let probe = t.health(&c, &engine);
    assert!(matches!(probe, Probe::Exchange { .. }), "{probe:?}");
    assert!(!probe_once(&probe));
    let server = start(
        &t.launch(&c, &engine).unwrap(),
        d.root.path().join("mariadb.log"),
    );
    wait_healthy(&probe, &server);
    for step in t.setup(&c, &engine).unwrap() {
        let out = run(&step);
        assert!(
            out.status.success(),
            "{:?}: {}{}\n{}",
            step.args,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            server.log()
        );
    }

    // The app user sees the seeded table and may write; settings took effect.
    let r = sql(
        port,
        "app",
        "s3cret",
        "shop",
        &[
            "SELECT name FROM items",
            "INSERT INTO items VALUES (2, 'gadget')",
            "SELECT @@max_connections, @@character_set_server",
        ],
    );
    assert_eq!(r[0], json!([["widget"]]));
    assert_eq!(r[2], json!([["42", "utf8mb4"]]));
    // root has no password and is reachable over TCP; the databases exist.
    let r = sql(port, "root", "", "", &["SHOW DATABASES"]);
    let names: Vec<&str> = r[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"shop") && names.contains(&"audit"),
        "{names:?}"
    );
    // The reader may read but not write.
    let r = sql(port, "reader", "r", "shop", &["SELECT COUNT(*) FROM items"]);
    assert_eq!(r[0], json!([["2"]]));
    let denied = std::process::Command::new(support::python())
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/mysql_client.py"))
        .args([
            "127.0.0.1",
            &port.to_string(),
            "reader",
            "r",
            "shop",
            "DELETE FROM items",
        ])
        .output()
        .unwrap();
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("DELETE command denied"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
    let env = t.connection_env(&c);
    assert_eq!(
        env.get("DATABASE_URL"),
        Some(&format!("mysql://root@db:{port}/shop"))
    );
    drop(server);
}

#[test]
fn mariadb_rejects_bad_grants_settings_and_scripts() {
    let t = template_for("mariadb").unwrap();
    let engine = t.engine(None).unwrap_or_else(|missing| panic!("{missing}"));
    let d = dirs();
    let bad = ctx(
        "db",
        "mariadb",
        &d,
        vec![3306],
        json!({"users": [{"name": "u", "grants": ["FLY"]}]}),
    );
    let err = t.setup(&bad, &engine).unwrap_err().to_string();
    assert!(
        err.contains("config.users[0].grants[0]") && err.contains("FLY"),
        "{err}"
    );
    let bad = ctx(
        "db",
        "mariadb",
        &d,
        vec![3306],
        json!({"settings": {"bad name": 1}}),
    );
    let err = t.launch(&bad, &engine).unwrap_err().to_string();
    assert!(err.contains("config.settings.bad name"), "{err}");
    let bad = ctx(
        "db",
        "mariadb",
        &d,
        vec![3306],
        json!({"init_scripts": ["missing.sql"]}),
    );
    let err = t.setup(&bad, &engine).unwrap_err().to_string();
    assert!(
        err.contains("config.init_scripts[0]") && err.contains("missing.sql"),
        "{err}"
    );
    let other = if engine.major == "10" { "11" } else { "10" };
    let missing = t.engine(Some(other)).unwrap_err();
    assert!(
        missing.hint.contains(&format!("mariadb@{}", engine.major)),
        "{}",
        missing.hint
    );
}
