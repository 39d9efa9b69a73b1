//! The init cache runs a template's data initialisation (real `initdb`) once and copies its
//! result into later fresh data directories.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use vers_engine::init_cache;

fn instance(data_dir: &Path, template: &str) -> vers_catalog::InstanceCtx {
    let user = vers_runtime::spawn::engine_user().unwrap();
    vers_catalog::InstanceCtx {
        service: "db".into(),
        replica: 0,
        template: Some(template.into()),
        version: None,
        listen: "127.10.0.1".parse().unwrap(),
        bind: "127.10.0.1".parse().unwrap(),
        ports: vec![5432],
        data_dir: data_dir.to_path_buf(),
        run_dir: data_dir.join("run"),
        project_dir: data_dir.to_path_buf(),
        config: serde_json::Value::Null,
        env: Default::default(),
        user_uid: user.uid,
        user_gid: user.gid,
        vers_exe: "/bin/true".into(),
        public_name: "db".into(),
        memory_limit: None,
        command: None,
        build_context: None,
        peers: Default::default(),
    }
}

fn fresh_dir(root: &Path, name: &str) -> PathBuf {
    let d = root.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let user = vers_runtime::spawn::engine_user().unwrap();
    vers_runtime::spawn::chown_recursive(&d, &user).unwrap();
    d
}

#[tokio::test]
async fn initdb_runs_once_and_later_data_dirs_come_from_the_cache() {
    let root = tempfile::Builder::new()
        .prefix("vers-init-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cache = root.path().join("cache");
    // This test binary holds this one test, so no other thread reads the environment.
    unsafe { std::env::set_var("VERS_INIT_CACHE", &cache) };
    let user = vers_runtime::spawn::engine_user().unwrap();
    let tmpl = vers_catalog::template_for("postgres").unwrap();
    let engine = tmpl.engine(None).unwrap();

    let first = fresh_dir(root.path(), "first");
    init_cache::initialise(tmpl, &instance(&first, "postgres"), &engine, &user)
        .await
        .unwrap();
    let entries: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "one complete entry, no temporary left: {entries:?}"
    );
    let entry = &entries[0];
    let version = std::fs::read_to_string(first.join("pgdata/PG_VERSION")).unwrap();
    assert_eq!(version.trim(), engine.major);
    let meta = std::fs::metadata(first.join("pgdata/PG_VERSION")).unwrap();
    assert_eq!(meta.uid(), user.uid, "owned by the engine user");

    // Mark the entry: a second fresh directory must be a copy of it, not a new initdb.
    std::fs::write(entry.join("pgdata/from-cache"), "yes").unwrap();
    let second = fresh_dir(root.path(), "second");
    init_cache::initialise(tmpl, &instance(&second, "postgres"), &engine, &user)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(second.join("pgdata/from-cache")).unwrap(),
        "yes"
    );
    assert!(second.join("pgdata/global/pg_control").is_file());

    // A template with no initialisation leaves the cache alone.
    let redis = vers_catalog::template_for("redis").unwrap();
    let third = fresh_dir(root.path(), "third");
    let redis_engine = redis.engine(None).unwrap();
    init_cache::initialise(redis, &instance(&third, "redis"), &redis_engine, &user)
        .await
        .unwrap();
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);
}
