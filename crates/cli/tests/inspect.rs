//! `vers db query|counts|schema`, `vers diff`, `vers remove` and `down --services` against
//! real PostgreSQL and Redis.

mod common;

use common::*;
use serde_json::{json, Value};

const STACK: &str = r#"
name: inspecty
services:
  postgres:
    template: postgres@15
    config:
      databases: [app]
  # Sessions live here.
  redis:
    template: redis@7
    depends_on: [postgres]
  # Outgoing mail, captured.
  mail:
    template: mailhog
checkpoints:
  - name: seeded
    after: scripts/seed.sh
"#;

const SEED: &str = r#"#!/bin/bash
set -e
psql -v ON_ERROR_STOP=1 postgres://postgres@postgres/app -c "create table items(name text, qty int); insert into items values ('a', 1), ('b', 2)"
redis-cli -h redis set seed yes
"#;

fn project() -> TempProject {
    let p = TempProject::new(STACK);
    p.write("scripts/seed.sh", SEED);
    p
}

/// Runs `vers` expecting failure with `code`; returns stderr.
fn fails(p: &TempProject, args: &[&str], code: i32) -> String {
    let out = p.vers(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "vers {args:?}:\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

fn count_of(counts: &Value, table: &str) -> i64 {
    counts["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("no table {table} in {counts}"))["rows"]
        .as_i64()
        .unwrap()
}

#[test]
fn query_counts_schema_and_their_errors() {
    let p = project();
    p.ok(&["up"]);

    // Types survive: numbers, null, text that looks like a number, booleans, JSON, arrays.
    let q = p.json(&[
        "db",
        "query",
        "select 1 as i, 'x'::text as t, null::int as n, 2.50::numeric(5,2) as d, true as b, \
         '{\"k\": [1, null]}'::jsonb as j, array[1,2] as arr, '42'::text as s, \
         9007199254740993::bigint as big;",
        "--json",
    ]);
    assert_eq!(q["service"], "postgres");
    assert_eq!(q["database"], "app");
    assert_eq!(q["row_count"], 1);
    assert_eq!(
        q["rows"],
        json!([{"i": 1, "t": "x", "n": null, "d": 2.5, "b": true, "j": {"k": [1, null]},
                "arr": [1, 2], "s": "42", "big": 9007199254740993_i64}])
    );
    assert_eq!(
        q["columns"][3],
        json!({"name": "d", "type": "numeric(5,2)"})
    );

    // Rows of a real table, in order, and statements without rows report what they changed.
    let ins = p.json(&[
        "db",
        "query",
        "insert into items values ('c', 3), ('d', null)",
        "--json",
    ]);
    assert_eq!(ins["row_count"], 2);
    assert_eq!(ins["columns"], json!([]));
    let rows = p.json(&[
        "db",
        "query",
        "select name, qty from items order by name",
        "--json",
    ]);
    assert_eq!(
        rows["rows"],
        json!([{"name": "a", "qty": 1}, {"name": "b", "qty": 2},
               {"name": "c", "qty": 3}, {"name": "d", "qty": null}])
    );
    let text = p.ok(&["db", "query", "select name from items where qty = 3"]);
    assert!(text.contains(" c ") && text.contains("(1 row)"), "{text}");

    // Exact counts, schema-qualified, over every user schema.
    p.ok(&[
        "db",
        "query",
        "create schema audit; create table audit.log(id serial primary key, at timestamptz default now()); \
         insert into audit.log default values",
    ]);
    let counts = p.json(&["db", "counts", "--json"]);
    assert_eq!(count_of(&counts, "items"), 4);
    assert_eq!(count_of(&counts, "log"), 1);
    assert!(
        counts["tables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["schema"] == "audit" && t["table"] == "log"),
        "{counts}"
    );
    // Another database of the same service.
    let other = p.json(&["db", "counts", "--database", "postgres", "--json"]);
    assert_eq!(other["database"], "postgres");
    assert_eq!(other["tables"], json!([]));

    // The schema dump has the tables created above, to stdout or to a file.
    let dump = p.ok(&["db", "schema"]);
    assert!(dump.contains("CREATE TABLE public.items"), "{dump}");
    let file = p.path().join("schema.sql");
    p.ok(&["db", "schema", "--output", file.to_str().unwrap()]);
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("CREATE TABLE audit.log"), "{written}");

    // Errors: unknown service and non-postgres service are usage errors; bad SQL carries the
    // database's message.
    let err = fails(&p, &["db", "query", "select 1", "--service", "nope"], 2);
    assert!(err.contains("unknown service `nope`"), "{err}");
    let err = fails(&p, &["db", "counts", "--service", "redis"], 2);
    assert!(
        err.contains("redis service") && err.contains("postgres"),
        "{err}"
    );
    let err = fails(&p, &["db", "query", "select * from nope"], 1);
    assert!(err.contains("relation \"nope\" does not exist"), "{err}");
    let err = fails(&p, &["db", "query", "select 1 \\! id"], 2);
    assert!(err.contains("meta-command"), "{err}");
    let err = fails(&p, &["db", "counts", "--database", "missing"], 1);
    assert!(err.contains("database \"missing\" does not exist"), "{err}");
}

#[test]
fn diff_of_branches_and_checkpoints() {
    let p = project();
    p.ok(&["up"]);
    p.ok(&["branch", "--alias", "left", "--from", "seeded"]);
    p.ok(&["branch", "--alias", "right", "--from", "seeded"]);

    // Writes in one branch are not in its sibling.
    p.ok(&["checkout", "left"]);
    p.ok(&[
        "db",
        "query",
        "insert into items values ('left', 9); create table extra(id int, note text); \
         alter table items add column tag text",
    ]);
    p.ok(&["execute", "redis-cli -h redis set only-left 1"]);
    assert_eq!(count_of(&p.json(&["db", "counts", "--json"]), "items"), 3);
    p.ok(&["checkout", "right"]);
    assert_eq!(count_of(&p.json(&["db", "counts", "--json"]), "items"), 2);
    p.ok(&["checkout", "left"]);

    // HEAD (left) against the checkpoint it came from.
    let d = p.json(&["diff", "seeded", "--json"]);
    assert_eq!(d["from"]["kind"], "checkpoint");
    assert_eq!(d["to"]["name"], "left");
    assert_eq!(d["identical"], false);
    let pg = &d["database"]["postgres"][0];
    assert_eq!(pg["service"], "postgres");
    let app = pg["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["database"] == "app")
        .unwrap();
    let items = app["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "items")
        .unwrap_or_else(|| panic!("{app}"));
    assert_eq!(
        (&items["rows_from"], &items["rows_to"], &items["delta"]),
        (&json!(2), &json!(3), &json!(1))
    );
    assert_eq!(app["schema"]["tables_added"], json!(["public.extra"]));
    let col = &app["schema"]["columns"][0];
    assert_eq!(
        (&col["table"], &col["column"], &col["change"]),
        (&json!("items"), &json!("tag"), &json!("added"))
    );
    let redis = &d["database"]["redis"][0];
    assert_eq!(redis["databases"][0]["delta"], 1, "{redis}");
    let files = d["files"]["services"].as_array().unwrap();
    let pg_files = files.iter().find(|s| s["service"] == "postgres").unwrap();
    assert!(pg_files["modified"].as_u64().unwrap() + pg_files["added"].as_u64().unwrap() > 0);
    assert!(
        files.iter().any(|s| s["service"] == "redis"),
        "the key written in left is in redis's append-only file: {}",
        d["files"]
    );
    assert_eq!(
        d["config"]["changes"],
        json!([]),
        "same manifest, same config"
    );

    // A branch made after the manifest changed differs in config.
    let edited = STACK.replace(
        "    template: mailhog\n",
        "    template: mailhog\n    env:\n      MAIL_MODE: strict\n",
    );
    std::fs::write(p.path().join("vers-integration.yaml"), edited).unwrap();
    p.ok(&["branch", "--alias", "later", "--from", "seeded"]);
    let c = p.json(&["diff", "seeded", "later", "--aspects", "config", "--json"]);
    let paths: Vec<&str> = c["config"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"manifest.services.mail.env.MAIL_MODE")
            && paths.contains(&"env.mail.MAIL_MODE"),
        "{paths:?}"
    );
    assert!(c.get("database").is_none() && c.get("files").is_none());

    // Two branches: left has a row, a table and a key that right has not.
    let d = p.json(&[
        "diff",
        "right",
        "left",
        "--aspects",
        "database,processes,logs",
        "--json",
    ]);
    let app = &d["database"]["postgres"][0]["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["database"] == "app")
        .unwrap()
        .clone();
    assert_eq!(app["schema"]["tables_added"], json!(["public.extra"]));
    assert_eq!(
        app["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == "items")
            .unwrap()["delta"],
        1
    );
    let procs = d["processes"]["services"].as_array().unwrap();
    assert!(
        procs
            .iter()
            .all(|s| s["from"]["state"] == "running" || s["from"]["state"] == "paused"),
        "{procs:?}"
    );
    assert!(d["logs"]["services"].as_array().unwrap().len() >= 2);
    let text = p.ok(&["diff", "right", "left"]);
    assert!(text.contains("public.items: 2 → 3 rows (+1)"), "{text}");

    // Nothing temporary is left: no environment, no namespace.
    let list = p.json(&["branch", "list", "--format", "json"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with("diff-of-")),
        "{names:?}"
    );
    assert_eq!(names.len(), 4, "root, left, right, later: {names:?}");

    // A comparison runs in a daemon worker (its pid ends the scratch environment's name);
    // one killed outright cannot clean up, and the next one removes what it left.
    let mut child = std::process::Command::new(vers_bin())
        .args(["diff", "seeded"])
        .current_dir(p.path())
        .env_remove("VERS_ENV")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let leftover = (0..200).find_map(|_| {
        let list = p.json(&["branch", "list", "--format", "json"]);
        let found = list.as_array().unwrap().iter().find_map(|e| {
            let name = e["name"].as_str().unwrap();
            name.starts_with("diff-of-seeded-")
                .then(|| e["id"].as_str().unwrap().to_string())
        });
        if found.is_none() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        found
    });
    let leftover = leftover.expect("the comparison made an environment for the checkpoint");
    let list = p.json(&["branch", "list", "--format", "json"]);
    let worker = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == leftover.as_str())
        .and_then(|e| e["name"].as_str()?.rsplit('-').next().map(str::to_string))
        .unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &worker])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -KILL {worker}");
    child.kill().unwrap();
    child.wait().unwrap();
    let list = p.json(&["branch", "list", "--format", "json"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == leftover.as_str()),
        "the killed comparison left {leftover}: {list}"
    );
    p.ok(&["diff", "seeded", "--aspects", "config"]);
    let list = p.json(&["branch", "list", "--format", "json"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|e| e["id"] != leftover.as_str()),
        "{list}"
    );
    let ns = format!("{}{leftover}", netns_prefix(p.path()));
    assert!(
        netns_matching(&ns)
            .iter()
            .all(|n| n != &ns && !n.starts_with(&format!("{ns}."))),
        "{:?}",
        netns_matching(&ns)
    );

    // Unknown sides are errors; the right one still works afterwards.
    let err = fails(&p, &["diff", "nowhere"], 1);
    assert!(
        err.contains("no branch or checkpoint named `nowhere`"),
        "{err}"
    );
    let err = fails(&p, &["diff", "seeded", "--aspects", "disk"], 2);
    assert!(err.contains("unknown aspect `disk`"), "{err}");
}

#[test]
fn remove_refuses_dependants_and_down_stops_only_some_services() {
    let p = project();
    p.ok(&["up"]);
    let manifest = p.path().join("vers-integration.yaml");

    // postgres is needed by redis: nothing changes.
    let err = fails(&p, &["remove", "postgres"], 2);
    assert!(err.contains("service redis"), "{err}");
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), STACK);

    // mail has no dependants: it leaves the manifest (comments of the others stay) and HEAD.
    let done = p.json(&["remove", "mail", "--json"]);
    assert_eq!(done["stopped_in"], "root");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(!text.contains("mail"), "{text}");
    assert!(
        text.contains("  # Sessions live here.\n  redis:\n"),
        "{text}"
    );
    assert!(text.contains("checkpoints:\n  - name: seeded\n"), "{text}");
    let status = p.json(&["status", "--json"]);
    let services: Vec<&str> = status["environments"][0]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(services, vec!["postgres", "redis"]);
    let err = fails(&p, &["remove", "mail"], 2);
    assert!(err.contains("unknown service `mail`"), "{err}");

    // down --services stops redis only; postgres keeps answering.
    let out = p.json(&["down", "--services", "redis", "--json"]);
    assert_eq!(out["stopped"], json!(["redis"]));
    let status = p.json(&["status", "--json"]);
    let state = |name: &str| {
        status["environments"][0]["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state("redis"), "stopped");
    assert_eq!(state("postgres"), "running");
    let ping = p.vers(&["execute", "redis-cli -h redis ping"]);
    assert!(!stdout(&ping).contains("PONG"), "{}", stdout(&ping));
    let q = p.json(&["db", "query", "select count(*) as n from items", "--json"]);
    assert_eq!(q["rows"][0]["n"], 2);
    let again = p.json(&["down", "--services", "redis", "--json"]);
    assert_eq!(again["already_stopped"], json!(["redis"]));
    let err = fails(&p, &["down", "--services", "nope"], 2);
    assert!(err.contains("unknown service `nope`"), "{err}");
}
