//! Plans: start waves, suite order, service closures and matrix combinations.

use std::path::Path;

use proptest::prelude::*;
use vers_manifest::{
    matrix_combinations, order_suites, parse_str, plan, suite_order, suite_prerequisites,
    suite_services, waves_for, Manifest, Service,
};

fn manifest(src: &str) -> Manifest {
    parse_str(src, Path::new("vers-integration.yaml")).unwrap_or_else(|d| panic!("{d}"))
}

const SRC: &str = r#"
name: t
services:
  app:
    build: .
    depends_on: [db, cache]
    soft_depends_on: [search]
  worker:
    command: ./worker
    depends_on: [cache]
  db:
    template: postgres@15
  cache:
    template: redis@7
  search:
    template: elasticsearch@8
tests:
  later:
    command: "true"
    depends_on: [first]
    branches: [a, b]
  first:
    command: "true"
    depends_on: [worker]
  urgent:
    command: "true"
    run_first: true
matrix:
  postgres: [14, 15, 16]
  cache: [6, 7]
"#;

#[test]
fn waves_suites_and_matrix() {
    let m = manifest(SRC);
    let p = plan(&m);
    assert_eq!(
        p.waves,
        vec![vec!["db", "cache", "search"], vec!["app", "worker"]]
    );
    assert_eq!(p.checkpoints, ["services-ready"]);
    let order: Vec<&str> = p.tests.iter().map(|t| t.suite.as_str()).collect();
    assert_eq!(order, ["urgent", "first", "later"]);
    assert_eq!(p.tests[0].branches, ["urgent"]);
    assert_eq!(p.tests[2].branches, ["a", "b"]);
    assert_eq!(p.matrix.len(), 6);
    assert_eq!(p.matrix[1]["postgres"], "14");
    assert_eq!(p.matrix[1]["cache"], "7");
    assert_eq!(
        waves_for(&m, &["worker".to_string()]),
        vec![vec!["cache"], vec!["worker"]]
    );
    assert_eq!(
        waves_for(&m, &["app".to_string()]),
        vec![vec!["db", "cache", "search"], vec!["app"]]
    );
    assert_eq!(suite_services(&m, "first"), ["worker", "cache"]);
    assert_eq!(suite_services(&m, "later").len(), 5);
    assert_eq!(suite_services(&m, "nope"), Vec::<String>::new());
    assert!(
        matrix_combinations(&manifest("name: t\nservices:\n  a:\n    command: x\n")).is_empty()
    );
}

/// One order rule for `plan` and the test runner: `run_first`, then prerequisites, then
/// manifest order; a name that is both a service and a suite means the service.
#[test]
fn suite_order_rules() {
    let m = manifest(
        r#"
name: t
services:
  db:
    template: postgres@15
tests:
  uses-db:
    command: "true"
    depends_on: [db, api]
  db:
    command: "true"
  api:
    command: "true"
    depends_on: [db]
  smoke:
    command: "true"
    run_first: true
    depends_on: [late]
  late:
    command: "true"
"#,
    );
    assert_eq!(suite_prerequisites(&m, "uses-db"), ["api"]);
    assert!(suite_prerequisites(&m, "api").is_empty());
    assert!(suite_prerequisites(&m, "nope").is_empty());
    // `smoke` runs first but needs `late`, so `late` is pulled in front of it; `uses-db`
    // needs `api` only (its `db` is the service), so the `db` suite keeps its place after it.
    assert_eq!(suite_order(&m), ["late", "smoke", "api", "uses-db", "db"]);
    let p = plan(&m);
    let in_plan: Vec<&str> = p.tests.iter().map(|t| t.suite.as_str()).collect();
    assert_eq!(in_plan, suite_order(&m));
    // A selection orders only what it holds; an unselected prerequisite holds nothing back.
    let sel = |names: &[&str]| -> Vec<String> { names.iter().map(|s| s.to_string()).collect() };
    assert_eq!(
        order_suites(&m, &sel(&["uses-db", "smoke", "nope"])),
        ["smoke", "uses-db"]
    );
    assert_eq!(
        order_suites(&m, &sel(&["uses-db", "api"])),
        ["api", "uses-db"]
    );
    assert!(order_suites(&m, &[]).is_empty());
}

proptest! {
    /// Random DAGs (edges only to earlier services): every service appears in exactly one
    /// wave, after all its dependencies, and waves keep manifest order.
    #[test]
    fn waves_respect_dependencies(edges in proptest::collection::vec(proptest::collection::vec(any::<prop::sample::Index>(), 0..4), 1..12)) {
        let mut m = Manifest::empty(Path::new("m.yaml"));
        for (i, deps) in edges.iter().enumerate() {
            let mut s = Service { command: Some("x".into()), ..Service::default() };
            if i > 0 {
                for d in deps {
                    let name = format!("s{}", d.index(i));
                    if !s.depends_on.contains(&name) {
                        s.depends_on.push(name);
                    }
                }
            }
            m.services.insert(format!("s{i}"), s);
        }
        let all: Vec<String> = m.services.keys().cloned().collect();
        let waves = waves_for(&m, &all);
        let flat: Vec<&String> = waves.iter().flatten().collect();
        prop_assert_eq!(flat.len(), all.len());
        let wave_of = |n: &str| waves.iter().position(|w| w.iter().any(|x| x == n));
        for (name, s) in &m.services {
            for d in &s.depends_on {
                prop_assert!(wave_of(d) < wave_of(name));
            }
        }
        for w in &waves {
            let idx: Vec<usize> = w.iter().map(|n| m.services.get_index_of(n).unwrap()).collect();
            prop_assert!(idx.windows(2).all(|p| p[0] < p[1]));
        }
    }

    /// Random suite DAGs with random `run_first`: every suite appears once, after all its
    /// prerequisites; `plan` lists them in the same order.
    #[test]
    fn suite_order_respects_prerequisites(suites in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<prop::sample::Index>(), 0..3)), 1..12)) {
        let mut m = Manifest::empty(Path::new("m.yaml"));
        for (i, (first, deps)) in suites.iter().enumerate() {
            let mut s = vers_manifest::Suite { command: Some("true".into()), run_first: *first, ..Default::default() };
            if i > 0 {
                for d in deps {
                    let name = format!("t{}", d.index(i));
                    if !s.depends_on.contains(&name) {
                        s.depends_on.push(name);
                    }
                }
            }
            m.tests.insert(format!("t{i}"), s);
        }
        let order = suite_order(&m);
        prop_assert_eq!(order.len(), m.tests.len());
        let at = |n: &str| order.iter().position(|x| x == n);
        for (name, s) in &m.tests {
            for d in &s.depends_on {
                prop_assert!(at(d) < at(name));
            }
        }
        let planned: Vec<String> = plan(&m).tests.into_iter().map(|t| t.suite).collect();
        prop_assert_eq!(planned, order);
    }

    /// The matrix product has the product of the value counts, each combination once.
    #[test]
    fn matrix_is_a_full_product(a in 1usize..5, b in 1usize..5, c in 1usize..4) {
        let mut m = Manifest::empty(Path::new("m.yaml"));
        for (k, n) in [("x", a), ("y", b), ("z", c)] {
            m.matrix.insert(k.into(), (0..n).map(|i| i.to_string()).collect());
        }
        let combos = matrix_combinations(&m);
        prop_assert_eq!(combos.len(), a * b * c);
        let mut seen: Vec<String> = combos.iter().map(|c| format!("{c:?}")).collect();
        seen.sort();
        seen.dedup();
        prop_assert_eq!(seen.len(), a * b * c);
    }
}
