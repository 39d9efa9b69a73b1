//! `validate`, `plan`, `init` and `add` through the real binary.

mod common;

use common::*;

#[test]
fn every_seed_manifest_validates() {
    for (name, text) in seed_manifests() {
        let p = TempProject::new(&text);
        let out = p.vers(&["integration", "validate"]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        let out = p.vers(&["validate", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["valid"], true, "{name}");
    }
}

#[test]
fn a_typo_names_file_line_column_and_the_fix() {
    let p = TempProject::new(
        "name: t\nservices:\n  db:\n    template: postgres@15\n  app:\n    build: .\n    depends_no: [db]\n",
    );
    let out = p.vers(&["integration", "validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("vers-integration.yaml:7:5"), "{err}");
    assert!(err.contains("depends_on"), "{err}");
}

/// A branch forking from a checkpoint the manifest does not declare (and no tag) is refused
/// by `validate` and `test` at its position, listing the checkpoints, before anything runs.
#[test]
fn an_unknown_fork_point_is_refused_with_its_position() {
    let p = TempProject::new(
        "name: t\nservices:\n  kv:\n    template: redis@7\ncheckpoints:\n  - name: seeded\n    after: healthcheck\ntests:\n  s:\n    command: \"true\"\n    branches:\n      - name: b\n        from: nosuchckpt\n",
    );
    let out = p.vers(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("vers-integration.yaml:13:15"), "{err}");
    assert!(
        err.contains("nosuchckpt") && err.contains("checkpoints: services-ready, seeded"),
        "{err}"
    );
    let out = p.vers(&["validate", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false, "{v}");
    assert_eq!(v["errors"][0]["line"], 13, "{v}");
    let out = p.vers(&["test", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("vers-integration.yaml:13:15"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_version_and_cycle_are_errors() {
    let p = TempProject::new(
        "name: t\nservices:\n  db:\n    template: postgres@9\n  a:\n    build: .\n    depends_on: [b]\n  b:\n    build: .\n    depends_on: [a]\n",
    );
    let out = p.vers(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(":4:"), "{err}");
    assert!(err.contains("15"), "supported versions listed: {err}");
    assert!(
        err.contains("a -> b -> a") || err.contains("b -> a -> b"),
        "{err}"
    );
}

#[test]
fn plan_json_has_the_spec_shape() {
    let (_, saas) = seed_manifests().into_iter().next().unwrap();
    let p = TempProject::new(&saas);
    let v = p.json(&["integration", "plan", "--json"]);
    let waves = v["waves"].as_array().unwrap();
    assert_eq!(waves.last().unwrap(), &serde_json::json!(["app"]));
    assert!(waves[0]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("postgres")));
    assert_eq!(
        v["checkpoints"],
        serde_json::json!(["services-ready", "db-seeded", "users-created"])
    );
    let auth = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["suite"] == "auth")
        .unwrap();
    assert_eq!(
        auth["branches"],
        serde_json::json!(["google-oauth", "github-oauth", "email-password"])
    );
    let unit = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["suite"] == "unit")
        .unwrap();
    assert_eq!(unit["branches"], serde_json::json!(["unit"]));
}

#[test]
fn init_writes_a_valid_manifest_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = vers_in(
        dir.path(),
        &[
            "integration",
            "init",
            "shop",
            "--template",
            "ecommerce-platform",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("vers-integration.yaml")).unwrap();
    assert!(text.contains("name: shop"), "{text}");
    assert!(std::fs::read_to_string(dir.path().join(".gitignore"))
        .unwrap()
        .contains(".vers/"));
    assert!(vers_in(dir.path(), &["validate"]).status.success());
    let again = vers_in(dir.path(), &["init", "other"]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("vers-integration.yaml")).unwrap(),
        text
    );
}

#[test]
fn add_keeps_comments_and_validates() {
    let p = TempProject::new(
        "# my stack\nname: t\nservices:\n  # the cache\n  redis:\n    template: redis@7\n",
    );
    p.ok(&[
        "integration",
        "add",
        "postgres@15",
        "--alias",
        "db",
        "--config",
        "databases=app,analytics",
    ]);
    let text = std::fs::read_to_string(p.path().join("vers-integration.yaml")).unwrap();
    assert!(
        text.contains("# my stack") && text.contains("# the cache"),
        "{text}"
    );
    assert!(
        text.contains("db:") && text.contains("postgres@15"),
        "{text}"
    );
    let v = p.json(&["plan", "--json"]);
    assert!(v["waves"][0]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("db")));
    let dup = p.vers(&["add", "redis@7"]);
    assert_eq!(dup.status.code(), Some(2));
    // A list-valued key takes one item, and `[a,b]` syntax.
    p.ok(&[
        "add",
        "postgres@16",
        "--alias",
        "pg2",
        "--config",
        "databases=one",
    ]);
    p.ok(&[
        "add",
        "postgres@16",
        "--alias",
        "pg3",
        "--config",
        "databases=[x,y]",
    ]);
    let text = std::fs::read_to_string(p.path().join("vers-integration.yaml")).unwrap();
    assert!(
        text.contains("databases: [one]") && text.contains("databases: [x, y]"),
        "{text}"
    );
}

/// SPEC §4: every command that reports takes `--json`.
#[test]
fn every_reporting_command_takes_json() {
    let p = TempProject::new("name: t\nservices: {}\n");
    let reporting: &[&[&str]] = &[
        &["validate"],
        &["plan"],
        &["init", "x"],
        &["add", "redis@7"],
        &["remove", "x"],
        &["up"],
        &["down"],
        &["status"],
        &["test"],
        &["matrix"],
        &["commit", "--tag", "t"],
        &["branch"],
        &["branch", "list"],
        &["branch", "delete", "x"],
        &["checkout", "x"],
        &["rollback", "x"],
        &["log"],
        &["checkpoint", "rm", "x"],
        &["checkpoint", "prune"],
        &["chaos", "inject", "--service", "s", "--action", "kill"],
        &["chaos", "recover"],
        &["chaos", "list"],
        &["chaos", "run", "x"],
        &["diff", "x"],
        &["db", "query", "select 1"],
        &["db", "counts"],
        &["db", "schema"],
        &["export", "compose"],
        &["docs"],
        &["deploy", "x"],
        &["deploy", "rm", "x"],
        &["deployments"],
        &["preview", "create", "x"],
        &["preview", "list"],
        &["preview", "rm", "x"],
        &["dashboard"],
        &["engines", "list"],
    ];
    for cmd in reporting {
        let mut args: Vec<&str> = cmd.to_vec();
        args.push("--help");
        let help = p.ok(&args);
        assert!(
            help.contains("--json"),
            "`vers {}` lacks --json",
            cmd.join(" ")
        );
    }
}

#[test]
fn init_and_add_report_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let p = TempProject::new("name: t\nservices: {}\n");
    let target = dir.path().display().to_string();
    let made = p.json(&["init", "shop", "--dir", &target, "--json"]);
    assert_eq!(made["name"], "shop");
    assert!(
        made["manifest"]
            .as_str()
            .unwrap()
            .ends_with("vers-integration.yaml"),
        "{made}"
    );
    let manifest = format!("{target}/vers-integration.yaml");
    let added = p.json(&[
        "add", "redis@7", "--alias", "cache", "-f", &manifest, "--json",
    ]);
    assert_eq!(
        (added["service"].as_str(), added["template"].as_str()),
        (Some("cache"), Some("redis@7")),
        "{added}"
    );
    assert!(std::fs::read_to_string(&manifest)
        .unwrap()
        .contains("cache:"));
}

/// Compose habits: top-level `x-…` keys holding anchors, and YAML merge keys (`<<: *app`)
/// reusing them; a service's own keys win over the merged ones.
#[test]
fn anchors_merge_keys_and_x_extension_keys_are_accepted() {
    let p = TempProject::new(
        r#"
name: anchors
x-app: &app
  command: python3 -m http.server 3000
  env: &env
    LOG_LEVEL: debug
    REGION: eu
services:
  db:
    template: redis@7
  api:
    <<: *app
    depends_on: [db]
  worker:
    <<: *app
    env:
      <<: *env
      REGION: us
"#,
    );
    let out = p.vers(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = p.json(&["plan", "--json"]);
    assert_eq!(
        plan["waves"],
        serde_json::json!([["db", "worker"], ["api"]])
    );
    let out = p.vers(&["validate", "--json"]);
    assert_eq!(json_of(&out)["valid"], true);

    // A merge key that names no mapping is an error at its line.
    p.write(
        "vers-integration.yaml",
        "name: t\nservices:\n  api:\n    <<: 3\n    command: sleep 1\n",
    );
    let out = p.vers(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("vers-integration.yaml:4:9"),
        "{}",
        stderr(&out)
    );
}

/// Compose's long form of `depends_on` (`db: {condition: service_healthy}`) orders the start
/// like the list form; `required: false` is a soft dependency; a condition vers cannot honour
/// is an error at its line.
#[test]
fn depends_on_in_compose_long_form() {
    let p = TempProject::new(
        r#"
name: longdeps
services:
  db:
    template: postgres@16
  cache:
    template: redis@7
  api:
    command: sleep 600
    depends_on:
      db:
        condition: service_healthy
      cache:
        condition: service_started
        required: false
"#,
    );
    let out = p.vers(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = p.json(&["plan", "--json"]);
    assert_eq!(plan["waves"], serde_json::json!([["db", "cache"], ["api"]]));

    p.write(
        "vers-integration.yaml",
        "name: t\nservices:\n  db:\n    template: redis@7\n  api:\n    command: sleep 1\n    depends_on:\n      db:\n        condition: service_completed_successfully\n      nope: {}\n",
    );
    let out = p.vers(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("vers-integration.yaml:9:20"), "{err}");
    assert!(err.contains("vers-integration.yaml:10:7"), "{err}");
}

/// A checkpoint script that is not there (a typo in its name) is a `validate` error at the
/// `after` line with the likely fix, and `up` refuses before starting anything; a script in
/// a directory that does not exist yet (a build may write it) is left for `up`.
#[test]
fn a_missing_checkpoint_script_is_named_at_its_line() {
    let p = TempProject::new(
        "name: t\nservices:\n  kv:\n    template: redis@7\ncheckpoints:\n  - name: seeded\n    after: scripts/seed.sh\n  - name: later\n    after: dist/load.js\n",
    );
    p.write("scripts/sead.sh", "true\n");
    let out = p.vers(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("vers-integration.yaml:7:12"), "{err}");
    assert!(
        err.contains("`scripts/seed.sh`, which does not exist"),
        "{err}"
    );
    assert!(err.contains("did you mean `scripts/sead.sh`?"), "{err}");
    assert!(!err.contains("dist/load.js"), "{err}");
    let out = p.vers(&["up"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!p.path().join(".vers/HEAD").exists());
}

/// A `--json` run of a command that reads the manifest (`plan`, `test`, `up`) prints, when
/// the manifest is broken, the same document as `validate --json` on stdout (exit 2), not
/// nothing.
#[test]
fn json_commands_print_manifest_errors_as_json() {
    let p = TempProject::new("name: t\nservices:\n  a:\n    comand: sleep 1\n");
    for args in [
        &["plan", "--json"][..],
        &["test", "--json"],
        &["up", "--json"],
        &["validate", "--json"],
    ] {
        let out = p.vers(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let doc = json_of(&out);
        assert_eq!(doc["valid"], false, "{args:?}: {doc}");
        assert_eq!(doc["errors"][1]["line"], 4, "{args:?}: {doc}");
        assert_eq!(
            doc["errors"][1]["help"], "did you mean `command`?",
            "{args:?}"
        );
    }
}

/// Compose's spellings get the vers key as the fix: `environment` → `env`, a health check's
/// `test` → `command`, `image` → `template`.
#[test]
fn compose_keys_are_answered_with_the_vers_key() {
    let p = TempProject::new(
        "name: t\nservices:\n  db:\n    image: postgres:16\n  app:\n    command: sleep 1\n    environment:\n      A: b\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n",
    );
    let out = p.vers(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("vers-integration.yaml:4:5"), "{err}");
    assert!(err.contains("vers calls it `template`"), "{err}");
    assert!(err.contains("vers-integration.yaml:7:5"), "{err}");
    assert!(err.contains("vers calls it `env`"), "{err}");
    assert!(err.contains("vers-integration.yaml:10:7"), "{err}");
    assert!(err.contains("vers calls it `command`"), "{err}");
}

/// `vers-integration.yml` is found as Compose finds `compose.yml`, from a subdirectory too,
/// and the stack comes up from it; a `.yaml` beside it wins.
#[test]
fn a_manifest_with_the_yml_extension_is_found() {
    let p = TempProject::new(
        "name: short\nservices:\n  cache:\n    template: redis@7\ncheckpoints:\n  - name: seeded\n    after: redis-cli -h cache set seed yes\n    warm: 1\n",
    );
    std::fs::rename(
        p.path().join("vers-integration.yaml"),
        p.path().join("vers-integration.yml"),
    )
    .unwrap();
    std::fs::create_dir_all(p.path().join("src/deep")).unwrap();
    let out = vers_in(&p.path().join("src/deep"), &["validate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("vers-integration.yml: valid"),
        "{}",
        stdout(&out)
    );
    p.ok(&["up"]);
    let ping = p.ok(&["execute", "redis-cli -h cache get seed"]);
    assert_eq!(ping.trim(), "yes");
    // The daemon reads the same file: it keeps the checkpoint's warm branch.
    wait_for_a_warm_branch(&p, &[]);
    let init = p.vers(&["init", "other"]);
    assert!(
        stderr(&init).contains("vers-integration.yml already exists"),
        "{}",
        stderr(&init)
    );
    p.write(
        "vers-integration.yaml",
        "name: long\nservices:\n  db:\n    template: postgres@15\n",
    );
    let out = p.vers(&["validate"]);
    assert!(
        stdout(&out).contains("vers-integration.yaml: valid"),
        "{}",
        stdout(&out)
    );
    p.ok(&["down", "--all"]);
}

/// A project found through `-f FILE` keeps its warm pools: the daemon reads that file.
#[test]
fn the_daemon_reads_the_manifest_named_by_f() {
    let p = TempProject::new("name: unused\nservices: {}\n");
    p.write(
        "stacks/ci.yaml",
        "name: named\nservices:\n  cache:\n    template: redis@7\ncheckpoints:\n  - name: seeded\n    after: redis-cli -h cache set seed yes\n    warm: 1\n",
    );
    let f = ["-f", "stacks/ci.yaml"];
    p.ok(&[f[0], f[1], "up"]);
    wait_for_a_warm_branch(&p, &f);
    p.ok(&[f[0], f[1], "down", "--all"]);
}

/// Polls `status --json` (after the global arguments `global`) until a warm branch shows.
fn wait_for_a_warm_branch(p: &TempProject, global: &[&str]) {
    let args: Vec<&str> = global.iter().copied().chain(["status", "--json"]).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !p.json(&args)["environments"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["warm"] == true)
    {
        assert!(std::time::Instant::now() < deadline, "no warm branch");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// One `validate` shows every mistake: a suite forking from a checkpoint that does not
/// exist is reported beside an error elsewhere in the manifest, not only once that is fixed.
#[test]
fn validate_reports_an_unknown_fork_point_beside_other_errors() {
    let p = TempProject::new(
        "name: both\nservices:\n  web:\n    command: python3 -m http.server 3000\n    healthcheck:\n      path: health\ntests:\n  t:\n    command: 'true'\n    checkpoint: seded\n",
    );
    let out = p.vers(&["validate", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let doc = json_of(&out);
    let errors = doc["errors"].as_array().cloned().unwrap_or_default();
    let lines: Vec<u64> = errors.iter().filter_map(|e| e["line"].as_u64()).collect();
    assert_eq!(lines, [6, 10], "{doc:#}");
    assert!(
        errors[1]["message"]
            .as_str()
            .unwrap_or("")
            .contains("`seded`"),
        "{doc:#}"
    );
}
