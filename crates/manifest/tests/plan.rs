//! Plans: start waves, suite order, service closures and matrix combinations.

use std::path::Path;

use proptest::prelude::*;
use vers_manifest::{
    matrix_combinations, parse_str, plan, suite_services, waves_for, Manifest, Service,
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
