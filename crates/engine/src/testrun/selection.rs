//! Which suites and branches a test run covers, in what order, and which shard runs what.

use std::collections::{BTreeMap, BTreeSet};

use vers_manifest::{Branch, ChaosScenario, Manifest};

use crate::error::EngineError;

/// One branch to run.
#[derive(Debug, Clone)]
pub struct PlannedBranch {
    /// Suite name.
    pub suite: String,
    /// Branch (the manifest's, one named after the suite, or a scenario's).
    pub branch: Branch,
    /// The scenario this branch runs (`tests.SUITE.scenarios[]`).
    pub scenario: Option<ChaosScenario>,
}

/// A suite with the branches this run covers.
#[derive(Debug, Clone)]
pub struct PlannedSuite {
    /// Suite name.
    pub name: String,
    /// Suites that must pass first (suite names in its `depends_on`).
    pub after: Vec<String>,
    /// Branches to run.
    pub branches: Vec<PlannedBranch>,
}

/// Parses `--shard I/N` (1-based).
pub fn parse_shard(s: &str) -> Result<(usize, usize), EngineError> {
    let bad = || {
        EngineError::Manifest(format!(
            "--shard {s}: expected I/N with 1 <= I <= N, e.g. --shard 2/4"
        ))
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let i: usize = i.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The branches of a suite: its declared ones then one per scenario, or (with neither) one
/// named after the suite.
pub fn suite_branches(m: &Manifest, suite: &str) -> Vec<(Branch, Option<ChaosScenario>)> {
    let Some(s) = m.tests.get(suite) else {
        return Vec::new();
    };
    if s.branches.is_empty() && s.scenarios.is_empty() {
        return vec![(
            Branch {
                name: suite.to_string(),
                ..Branch::default()
            },
            None,
        )];
    }
    let declared = s.branches.iter().map(|b| (b.clone(), None));
    let scenarios = s.scenarios.iter().map(|sc| {
        (
            Branch {
                name: sc.name.clone(),
                description: sc.description.clone(),
                ..Branch::default()
            },
            Some(sc.clone()),
        )
    });
    declared.chain(scenarios).collect()
}

/// Selects and orders suites and branches (in the order of [`vers_manifest::order_suites`],
/// the same as `plan --json`); `--scenario` filters branches;
/// `--shard I/N` keeps every N-th branch of the flat list starting at I.
pub fn select(
    m: &Manifest,
    suites: &[String],
    scenarios: &[String],
    shard: Option<(usize, usize)>,
) -> Result<Vec<PlannedSuite>, EngineError> {
    for s in suites {
        if !m.tests.contains_key(s) {
            let known: Vec<&str> = m.tests.keys().map(String::as_str).collect();
            return Err(EngineError::Manifest(format!(
                "unknown suite `{s}`; the manifest has: {}",
                known.join(", ")
            )));
        }
    }
    let chosen: Vec<String> = m
        .tests
        .keys()
        .filter(|k| suites.is_empty() || suites.contains(k))
        .cloned()
        .collect();
    let ordered = vers_manifest::order_suites(m, &chosen);
    let mut flat = Vec::new();
    for s in &ordered {
        for (b, scenario) in suite_branches(m, s) {
            if scenarios.is_empty() || scenarios.contains(&b.name) {
                flat.push(PlannedBranch {
                    suite: s.clone(),
                    branch: b,
                    scenario,
                });
            }
        }
    }
    if !scenarios.is_empty() {
        for sc in scenarios {
            if !flat.iter().any(|p| &p.branch.name == sc) {
                return Err(EngineError::Manifest(format!(
                    "no branch or scenario named `{sc}` in the selected suites"
                )));
            }
        }
    }
    if let Some((i, n)) = shard {
        let mine = |k: usize| k % n == i - 1;
        let needed = prerequisites_of(
            m,
            flat.iter()
                .enumerate()
                .filter(|(k, _)| mine(*k))
                .map(|(_, b)| b.suite.clone()),
        );
        flat = flat
            .into_iter()
            .enumerate()
            .filter(|(k, b)| mine(*k) || needed.contains(&b.suite))
            .map(|(_, b)| b)
            .collect();
    }
    let mut by_suite: BTreeMap<String, Vec<PlannedBranch>> = BTreeMap::new();
    for b in flat {
        by_suite.entry(b.suite.clone()).or_default().push(b);
    }
    Ok(ordered
        .into_iter()
        .filter_map(|name| {
            let branches = by_suite.remove(&name)?;
            let after = vers_manifest::suite_prerequisites(m, &name);
            Some(PlannedSuite {
                name,
                after,
                branches,
            })
        })
        .collect())
}

/// The suites `suites` wait for, transitively: a shard runs all of their branches as well,
/// as Playwright runs a sharded project's dependencies in every shard, so that a suite never
/// starts in one shard while its prerequisite fails in another.
fn prerequisites_of(m: &Manifest, suites: impl Iterator<Item = String>) -> BTreeSet<String> {
    let mut todo: Vec<String> = suites.collect();
    let mut needed = BTreeSet::new();
    while let Some(s) = todo.pop() {
        for p in vers_manifest::suite_prerequisites(m, &s) {
            if needed.insert(p.clone()) {
                todo.push(p);
            }
        }
    }
    needed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let src = r#"
name: t
services:
  db:
    template: postgres@15
tests:
  later:
    command: "true"
    depends_on: [first]
    branches:
      - name: a
      - name: b
  first:
    command: "true"
    depends_on: [db]
    branches:
      - name: c
  urgent:
    command: "true"
    run_first: true
"#;
        vers_manifest::parse_str(src, std::path::Path::new("vers-integration.yaml")).unwrap()
    }

    #[test]
    fn orders_run_first_then_dependencies() {
        let m = manifest();
        let plan = select(&m, &[], &[], None).unwrap();
        let names: Vec<&str> = plan.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["urgent", "first", "later"]);
        assert_eq!(plan[2].after, ["first"]);
        assert_eq!(plan[0].branches[0].branch.name, "urgent");
    }

    #[test]
    fn scenario_and_shard_filter() {
        let m = manifest();
        let plan = select(&m, &[], &["b".into()], None).unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].branches[0].branch.name, "b");
        let s1 = select(&m, &[], &[], Some((1, 2))).unwrap();
        let s2 = select(&m, &[], &[], Some((2, 2))).unwrap();
        let count = |p: &Vec<PlannedSuite>| p.iter().map(|s| s.branches.len()).sum::<usize>();
        // Shard 1 has `urgent` and `later`/a; `later` waits for `first`, whose only branch
        // fell to shard 2, so shard 1 runs it too.
        let names = |p: &Vec<PlannedSuite>| p.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&s1), ["urgent", "first", "later"]);
        assert_eq!(count(&s1), 3);
        assert_eq!(names(&s2), ["first", "later"]);
        assert_eq!(count(&s2), 2);
        assert!(select(&m, &["nope".into()], &[], None).is_err());
        assert!(select(&m, &[], &["zzz".into()], None).is_err());
    }

    #[test]
    fn shard_parsing() {
        assert_eq!(parse_shard("2/4").unwrap(), (2, 4));
        assert!(parse_shard("0/4").is_err());
        assert!(parse_shard("5/4").is_err());
        assert!(parse_shard("x").is_err());
    }

    #[test]
    fn scenarios_become_branches_after_the_declared_ones() {
        let src = r#"
name: t
services:
  db:
    template: postgres@15
tests:
  chaos:
    command: "true"
    branches:
      - name: baseline
    scenarios:
      - name: db-down
        inject: { service: db, action: kill, after: 1s }
        expect: [app.returns_503]
  only-scenarios:
    command: "true"
    scenarios:
      - name: db-slow
        inject: { service: db, action: network-delay, latency: 100ms }
"#;
        let m =
            vers_manifest::parse_str(src, std::path::Path::new("vers-integration.yaml")).unwrap();
        let plan = select(&m, &["chaos".into()], &[], None).unwrap();
        let names: Vec<&str> = plan[0]
            .branches
            .iter()
            .map(|b| b.branch.name.as_str())
            .collect();
        assert_eq!(names, ["baseline", "db-down"]);
        assert!(plan[0].branches[0].scenario.is_none());
        let sc = plan[0].branches[1].scenario.as_ref().unwrap();
        assert_eq!(sc.expect, ["app.returns_503"]);
        assert_eq!(sc.inject.after, Some(std::time::Duration::from_secs(1)));
        let plan = select(&m, &["only-scenarios".into()], &[], None).unwrap();
        let names: Vec<&str> = plan[0]
            .branches
            .iter()
            .map(|b| b.branch.name.as_str())
            .collect();
        assert_eq!(names, ["db-slow"]);
        let plan = select(&m, &[], &["db-down".into()], None).unwrap();
        assert_eq!(plan.len(), 1);
    }
}
