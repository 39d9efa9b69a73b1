//! App services: build and run command detection, and a real app bound to HOST:PORT.

mod support;

use std::path::Path;

use serde_json::json;
use support::{ctx, dirs, free_port, probe_once, start, wait_healthy};
use vers_catalog::app::{build_dir, detect_build, detect_command, npm_workspace_root};
use vers_catalog::{template_for, CatalogError, Probe};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn detects_npm_and_cargo_builds() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(detect_build(d.path()), None);
    write(d.path(), "Cargo.toml", "[package]\nname = \"x\"\n");
    assert_eq!(
        detect_build(d.path()).as_deref(),
        Some("cargo build --release")
    );
    write(d.path(), "package.json", "{}");
    assert_eq!(detect_build(d.path()).as_deref(), Some("npm install"));
    write(d.path(), "package-lock.json", "{}");
    assert_eq!(detect_build(d.path()).as_deref(), Some("npm ci"));
}

#[test]
fn npm_workspace_members_build_at_the_workspace_root() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    for dir in [
        "services/user",
        "services/user/sub",
        "packages/events",
        "tools/x",
        "own",
    ] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        write(&root.join(dir), "package.json", "{}");
    }
    write(
        root,
        "package.json",
        r#"{"workspaces": ["./services/*", "packages/events/", "own"]}"#,
    );
    write(root, "package-lock.json", "{}");
    write(&root.join("own"), "package-lock.json", "{}");

    // Members (by glob or by name) build at the root, where `npm ci` reads the lockfile.
    assert_eq!(build_dir(&root.join("services/user")), root);
    assert_eq!(build_dir(&root.join("packages/events")), root);
    assert_eq!(
        detect_build(&build_dir(&root.join("services/user"))).as_deref(),
        Some("npm ci")
    );
    // Not members: a `*` does not cross a `/`, and unlisted directories stay on their own.
    assert_eq!(npm_workspace_root(&root.join("services/user/sub")), None);
    assert_eq!(build_dir(&root.join("tools/x")), root.join("tools/x"));
    // A member with its own lockfile builds by itself.
    assert_eq!(npm_workspace_root(&root.join("own")).as_deref(), Some(root));
    assert_eq!(build_dir(&root.join("own")), root.join("own"));
    // The object form of `workspaces`.
    write(
        root,
        "package.json",
        r#"{"workspaces": {"packages": ["tools/*"]}}"#,
    );
    assert_eq!(build_dir(&root.join("tools/x")), root);
    assert_eq!(
        build_dir(&root.join("services/user")),
        root.join("services/user")
    );
}

#[test]
fn detects_procfile_web_then_npm_start() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(detect_command(d.path()), None);
    write(d.path(), "package.json", r#"{"scripts": {"test": "jest"}}"#);
    assert_eq!(detect_command(d.path()), None);
    write(
        d.path(),
        "package.json",
        r#"{"scripts": {"start": "node server.js"}}"#,
    );
    assert_eq!(detect_command(d.path()).as_deref(), Some("npm start"));
    write(
        d.path(),
        "Procfile",
        "worker: node worker.js\nweb: node web.js --port $PORT\n",
    );
    assert_eq!(
        detect_command(d.path()).as_deref(),
        Some("node web.js --port $PORT")
    );
}

#[test]
fn an_app_runs_its_command_on_host_and_port() {
    let t = template_for("app").unwrap();
    let engine = t.engine(None).unwrap();
    let d = dirs();
    let port = free_port();
    let mut c = ctx("web", "app", &d, vec![port], json!(null));
    c.template = None;
    c.env.insert("GREETING".into(), "hi".into());
    c.command = Some("echo \"$GREETING $HOST:$PORT\" > seen && exec python3 -m http.server \"$PORT\" --bind \"$HOST\"".into());
    let launch = t.launch(&c, &engine).unwrap();
    assert_eq!(launch.cwd, d.project);
    assert_eq!(launch.env.get("PORT"), Some(&port.to_string()));
    assert_eq!(
        launch.env.get("HOST").map(String::as_str),
        Some("127.0.0.1")
    );
    assert_eq!(
        launch.env.get("VERS_SERVICE").map(String::as_str),
        Some("web")
    );
    assert_eq!(
        launch.env.get("VERS_REPLICA").map(String::as_str),
        Some("0")
    );
    assert_eq!(
        launch.env.get("VERS_INSTANCE").map(String::as_str),
        Some("web-0")
    );
    let mut third = c.clone();
    third.replica = 2;
    let launch3 = t.launch(&third, &engine).unwrap();
    assert_eq!(
        launch3.env.get("VERS_INSTANCE").map(String::as_str),
        Some("web-2")
    );
    assert_eq!(
        launch3.env.get("VERS_REPLICA").map(String::as_str),
        Some("2")
    );
    let probe = t.health(&c, &engine);
    assert_eq!(probe, Probe::Tcp { port });
    assert!(!probe_once(&probe));
    let server = start(&launch, d.root.path().join("app.log"));
    wait_healthy(&probe, &server);
    assert_eq!(
        std::fs::read_to_string(d.project.join("seen"))
            .unwrap()
            .trim(),
        format!("hi 127.0.0.1:{port}")
    );
    assert!(t.setup(&c, &engine).unwrap().is_empty() && t.quiesce(&c, &engine).is_empty());
}

#[test]
fn an_app_without_a_command_is_an_error_naming_the_directory() {
    let t = template_for("app").unwrap();
    let engine = t.engine(None).unwrap();
    let d = dirs();
    let mut c = ctx("web", "app", &d, vec![3000], json!(null));
    c.build_context = Some(d.project.clone());
    match t.launch(&c, &engine) {
        Err(CatalogError::NoCommand { service, context }) => {
            assert_eq!(service, "web");
            assert_eq!(context, d.project);
        }
        other => panic!("{other:?}"),
    }
    write(&d.project, "Procfile", "web: ./serve\n");
    let launch = t.launch(&c, &engine).unwrap();
    assert_eq!(launch.args, vec!["-c".to_string(), "./serve".to_string()]);
}
