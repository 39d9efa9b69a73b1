//! MongoDB for real: the template's server (SecantusDB here, as no registry ships mongod)
//! started from `launch`, set up from the seed's config, judged by pymongo; a copy of its data
//! directory taken while the server is frozen starts and holds everything (how checkpoints
//! and branches work).

mod support;

use serde_json::json;
use support::{ctx, dirs, free_port, run_ok, run_python, start, wait_healthy};
use vers_catalog::{template_for, EngineBinary, InstanceCtx, Template};

fn engine(t: &dyn Template) -> EngineBinary {
    t.engine(Some("7")).unwrap_or_else(|missing| {
        panic!("{missing} (scripts/setup.sh runs `vers engines install mongodb@7`)")
    })
}

fn url(c: &InstanceCtx, path: &str) -> String {
    format!("mongodb://127.0.0.1:{}/{path}", c.ports[0])
}

#[test]
fn mongodb_applies_databases_and_indexes_serves_pymongo_and_survives_a_frozen_copy() {
    let t = template_for("mongodb").unwrap();
    let engine = engine(t);
    let stand_in = engine
        .stand_in
        .as_ref()
        .expect("no mongod here: a stand-in serves");
    assert!(
        stand_in.implementation.starts_with("SecantusDB 0.7")
            && stand_in.note.contains("not MongoDB"),
        "{stand_in}"
    );
    let config = json!({
        "databases": ["inventory", "orders"],
        "indexes": {"inventory.products": [
            {"keys": {"sku": 1}, "options": {"unique": true}},
            {"keys": [{"category": 1}, {"price": -1}], "options": {"name": "category_price"}},
        ]},
    });
    let d = dirs();
    let c = ctx(
        "mongodb-inventory",
        "mongodb",
        &d,
        vec![free_port()],
        config.clone(),
    );
    assert!(t.init_data(&c, &engine).unwrap().is_empty());
    let launch = t.launch(&c, &engine).unwrap();
    let server = start(&launch, d.root.path().join("mongo.log"));
    wait_healthy(&t.health(&c, &engine), &server);
    for step in t.setup(&c, &engine).unwrap() {
        run_ok(&step);
    }
    run_python("mongodb_client.py", &["check-setup", &url(&c, "")]);
    run_python("mongodb_client.py", &["write", &url(&c, "")]);
    for step in t.quiesce(&c, &engine) {
        run_ok(&step);
    }
    let env = t.connection_env(&c);
    assert_eq!(
        env["MONGODB_URL"],
        format!("mongodb://mongodb-inventory:{}/inventory", c.ports[0])
    );
    assert_eq!(env["MONGO_URL"], env["MONGODB_URL"]);

    // A branch: fresh processes on a copy of the frozen server's data directory.
    let copy = dirs();
    std::fs::remove_dir(&copy.data).unwrap();
    server.copy_while_frozen(&d.data, &copy.data);
    let b = ctx(
        "mongodb-inventory",
        "mongodb",
        &copy,
        vec![free_port()],
        config,
    );
    let branch = start(
        &t.launch(&b, &engine).unwrap(),
        copy.root.path().join("mongo.log"),
    );
    wait_healthy(&t.health(&b, &engine), &branch);
    run_python("mongodb_client.py", &["read", &url(&b, "")]);
    run_python("mongodb_client.py", &["check-setup", &url(&b, "")]);
}

#[test]
fn mongodb_auth_creates_the_root_user_before_the_first_start() {
    let t = template_for("mongodb").unwrap();
    let engine = engine(t);
    let d = dirs();
    let c = ctx(
        "mongo",
        "mongodb",
        &d,
        vec![free_port()],
        json!({"auth": {"enabled": true, "root_password": "s3cret pw/+"}}),
    );
    for step in t.init_data(&c, &engine).unwrap() {
        run_ok(&step);
    }
    let server = start(
        &t.launch(&c, &engine).unwrap(),
        d.root.path().join("mongo.log"),
    );
    wait_healthy(&t.health(&c, &engine), &server);
    let env_url = t.connection_env(&c)["MONGODB_URL"].clone();
    assert_eq!(
        env_url,
        format!(
            "mongodb://root:s3cret%20pw%2F%2B@mongo:{}/?authSource=admin",
            c.ports[0]
        )
    );
    let local = env_url.replace("@mongo:", "@127.0.0.1:");
    run_python("mongodb_client.py", &["auth", &local]);
}

#[test]
fn mongodb_refuses_what_its_implementation_cannot_honour() {
    let t = template_for("mongodb").unwrap();
    let engine = engine(t);
    let d = dirs();
    let c = ctx(
        "mongo",
        "mongodb",
        &d,
        vec![27017],
        json!({"replica_set": "rs0"}),
    );
    let err = t.launch(&c, &engine).unwrap_err().to_string();
    assert!(
        err.contains("config.replica_set") && err.contains("SecantusDB"),
        "{err}"
    );
    let c = ctx(
        "mongo",
        "mongodb",
        &d,
        vec![27017],
        json!({"indexes": {"shop.items": [{"keys": {"a": 1, "b": 1}}]}}),
    );
    let err = t.setup(&c, &engine).unwrap_err().to_string();
    assert!(err.contains("indexes.shop.items[0].keys"), "{err}");
    let missing = t.engine(Some("4")).unwrap_err();
    assert!(
        missing.hint.contains("mongodb@5, @6, @7"),
        "{}",
        missing.hint
    );
}
