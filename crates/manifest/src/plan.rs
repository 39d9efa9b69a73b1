//! What `up` and `test` will do, derived from the manifest alone: start waves, checkpoints,
//! suites with their branches, and matrix combinations.

use std::collections::HashSet;

use indexmap::IndexMap;
use serde::Serialize;

use crate::model::Manifest;
use crate::validate::SERVICES_READY;

/// The plan of a manifest (`vers integration plan --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Services grouped into start waves.
    pub waves: Vec<Vec<String>>,
    /// Checkpoints in the order they are taken, `services-ready` first unless declared.
    pub checkpoints: Vec<String>,
    /// Suites in run order with their branches.
    pub tests: Vec<TestPlan>,
    /// Matrix combinations (empty without a matrix).
    pub matrix: Vec<IndexMap<String, String>>,
}

/// One suite of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestPlan {
    /// Suite name.
    pub suite: String,
    /// Every branch the suite runs: its branches, then its scenarios (the suite's name when
    /// it declares neither).
    pub branches: Vec<String>,
    /// Which of `branches` are scenarios; omitted from JSON when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<String>,
}

/// The names of a manifest's checkpoints in the order they are taken: `services-ready` first
/// unless declared, then the declared ones.
pub fn checkpoint_names(m: &Manifest) -> Vec<String> {
    let mut names = Vec::new();
    if !m.checkpoints.iter().any(|c| c.name == SERVICES_READY) {
        names.push(SERVICES_READY.to_string());
    }
    names.extend(m.checkpoints.iter().map(|c| c.name.clone()));
    names
}

/// Computes the plan.
pub fn plan(m: &Manifest) -> Plan {
    let roots: Vec<String> = m.services.keys().cloned().collect();
    let checkpoints = checkpoint_names(m);
    let tests = suite_order(m)
        .into_iter()
        .map(|suite| {
            let s = &m.tests[suite.as_str()];
            // Scenarios are branches too (SPEC section 3): each runs on its own.
            let branches = if s.branches.is_empty() && s.scenarios.is_empty() {
                vec![suite.clone()]
            } else {
                s.branches
                    .iter()
                    .map(|b| b.name.clone())
                    .chain(s.scenarios.iter().map(|c| c.name.clone()))
                    .collect()
            };
            let scenarios = s.scenarios.iter().map(|c| c.name.clone()).collect();
            TestPlan {
                suite,
                branches,
                scenarios,
            }
        })
        .collect();
    Plan {
        waves: waves_for(m, &roots),
        checkpoints,
        tests,
        matrix: matrix_combinations(m),
    }
}

/// Suites in run order (see [`order_suites`]), all of them.
pub fn suite_order(m: &Manifest) -> Vec<String> {
    let all: Vec<String> = m.tests.keys().cloned().collect();
    order_suites(m, &all)
}

/// The one rule for the order suites run in, used by `plan` and by the test runner:
/// `run_first` suites first, then manifest order, except that a suite's prerequisites
/// ([`suite_prerequisites`]) always run before it (a `run_first` suite pulls its
/// prerequisites forward with it). Only `selected` suites are ordered (a prerequisite that
/// is not selected does not hold anything back); names that are not suites are ignored. On a
/// cycle (only in an unvalidated manifest) the suite that closes it goes first.
pub fn order_suites(m: &Manifest, selected: &[String]) -> Vec<String> {
    let selected: HashSet<&str> = selected.iter().map(String::as_str).collect();
    let priority = |s: &str| (!m.tests[s].run_first, m.tests.get_index_of(s));
    // Selected prerequisites of `s`, highest priority last (they are popped from the end).
    let pending = |s: &str| -> Vec<String> {
        let mut pre: Vec<String> = suite_prerequisites(m, s)
            .into_iter()
            .filter(|d| selected.contains(d.as_str()))
            .collect();
        pre.sort_by_key(|d| std::cmp::Reverse(priority(d)));
        pre
    };
    let mut roots: Vec<&str> = m
        .tests
        .keys()
        .map(String::as_str)
        .filter(|k| selected.contains(k))
        .collect();
    roots.sort_by_key(|s| priority(s));
    let mut ordered: Vec<String> = Vec::new();
    let mut entered: HashSet<String> = HashSet::new();
    for root in roots {
        if !entered.insert(root.to_string()) {
            continue;
        }
        // Depth-first over prerequisites with an explicit stack: a long chain of suites
        // must not exhaust the call stack.
        let mut stack: Vec<(String, Vec<String>)> = vec![(root.to_string(), pending(root))];
        while let Some((suite, deps)) = stack.last_mut() {
            match deps.pop() {
                Some(d) => {
                    if entered.insert(d.clone()) {
                        let pre = pending(&d);
                        stack.push((d, pre));
                    }
                }
                None => {
                    ordered.push(std::mem::take(suite));
                    stack.pop();
                }
            }
        }
    }
    ordered
}

/// The suites a suite runs after (and only if they passed): the names in its `depends_on`
/// that are suites. A name that is both a service and a suite means the service.
pub fn suite_prerequisites(m: &Manifest, suite: &str) -> Vec<String> {
    let Some(s) = m.tests.get(suite) else {
        return Vec::new();
    };
    s.depends_on
        .iter()
        .filter(|d| m.tests.contains_key(*d) && !m.services.contains_key(*d))
        .cloned()
        .collect()
}

/// Names of the services `roots` need: themselves and their transitive hard and soft
/// dependencies, in manifest order. Unknown names are ignored.
pub fn closure(m: &Manifest, roots: &[String]) -> Vec<String> {
    let mut wanted = vec![false; m.services.len()];
    let mut todo: Vec<usize> = roots
        .iter()
        .filter_map(|r| m.services.get_index_of(r))
        .collect();
    while let Some(i) = todo.pop() {
        if wanted[i] {
            continue;
        }
        wanted[i] = true;
        let s = &m.services[i];
        todo.extend(
            s.depends_on
                .iter()
                .chain(s.soft_depends_on.iter())
                .filter_map(|d| m.services.get_index_of(d)),
        );
    }
    m.services
        .keys()
        .enumerate()
        .filter(|(i, _)| wanted[*i])
        .map(|(_, k)| k.clone())
        .collect()
}

/// Start waves of `roots` and their transitive dependencies: each wave holds the services
/// whose dependencies are all in earlier waves, in manifest order. Services on a cycle (only
/// possible in an unvalidated manifest) go into one last wave.
pub fn waves_for(m: &Manifest, roots: &[String]) -> Vec<Vec<String>> {
    let mut left: Vec<String> = closure(m, roots);
    let mut placed: Vec<String> = Vec::new();
    let mut waves = Vec::new();
    while !left.is_empty() {
        let (wave, rest): (Vec<String>, Vec<String>) = left.into_iter().partition(|name| {
            let s = &m.services[name.as_str()];
            s.depends_on
                .iter()
                .chain(s.soft_depends_on.iter())
                .filter(|d| m.services.contains_key(*d))
                .all(|d| placed.contains(d))
        });
        if wave.is_empty() {
            waves.push(rest);
            break;
        }
        placed.extend(wave.iter().cloned());
        waves.push(wave);
        left = rest;
    }
    waves
}

/// Services a suite needs: the services in its `depends_on` (suite names excluded) with
/// their transitive dependencies, or every service when it names none. Manifest order.
pub fn suite_services(m: &Manifest, suite: &str) -> Vec<String> {
    let Some(s) = m.tests.get(suite) else {
        return Vec::new();
    };
    let roots: Vec<String> = s
        .depends_on
        .iter()
        .filter(|d| m.services.contains_key(*d))
        .cloned()
        .collect();
    if roots.is_empty() {
        return m.services.keys().cloned().collect();
    }
    closure(m, &roots)
}

/// Every combination of the matrix values, first key varying slowest. Empty without a matrix.
pub fn matrix_combinations(m: &Manifest) -> Vec<IndexMap<String, String>> {
    if m.matrix.is_empty() {
        return Vec::new();
    }
    let mut combos: Vec<IndexMap<String, String>> = vec![IndexMap::new()];
    for (key, values) in &m.matrix {
        let mut next = Vec::with_capacity(combos.len() * values.len());
        for c in &combos {
            for v in values {
                let mut c2 = c.clone();
                c2.insert(key.clone(), v.clone());
                next.push(c2);
            }
        }
        combos = next;
    }
    combos
}
