//! Checks across the manifest once it is decoded: references name existing services and
//! suites, no dependency cycles, selectors match something, matrix keys and versions exist.

use crate::ctx::{list, names_help, suggest, Ctx};
use crate::decode::{Index, RefKind};
use crate::diagnostic::{cut, quote};
use crate::fault::FaultScope;
use crate::model::Manifest;
use crate::selector::{pattern_matches, AfterSelector, ServiceSelector};
use crate::templates;

/// Runtimes a matrix key may name.
pub const MATRIX_RUNTIMES: &[&str] = &["node", "python"];

/// Name of the checkpoint `up` takes automatically once services are healthy.
pub const SERVICES_READY: &str = "services-ready";

/// Runs every cross-reference check, recording errors in `cx`.
pub fn check(cx: &mut Ctx, m: &Manifest, ix: &Index) {
    check_refs(cx, m, ix);
    check_service_cycles(cx, m, ix);
    check_suite_cycles(cx, m, ix);
    check_selectors(cx, m, ix);
    check_matrix(cx, m, ix);
    check_faults(cx, m, ix);
}

/// Checks every `build:` context on disk under `project_dir`: one that exists but is not a
/// readable directory (a symlink loop, a file…) is an error saying what it is. A missing
/// one is not an error here (`up` reports it): the manifest may come before the app.
pub fn check_build_contexts(cx: &mut Ctx, m: &Manifest, ix: &Index, project_dir: &std::path::Path) {
    for (name, svc) in &m.services {
        let Some(build) = &svc.build else { continue };
        if let Err(e) = crate::build_context::check_build_context(project_dir, &build.context) {
            if e.is_missing() {
                continue;
            }
            let pos = ix.build_pos.get(name).copied().unwrap_or_default();
            cx.err_help(pos, format!("service {}: {e}", quote(name)), e.help());
        }
    }
}

/// Checks that every checkpoint script (`after: scripts/seed.sh`) is a file under
/// `project_dir`. A script in a directory that does not exist yet is not an error here: a
/// build may write it (`dist/seed.js`); `up` reports it if it is still missing.
pub fn check_checkpoint_scripts(
    cx: &mut Ctx,
    m: &Manifest,
    ix: &Index,
    project_dir: &std::path::Path,
) {
    for (c, pos) in m.checkpoints.iter().zip(ix.after_pos.iter()) {
        let AfterSelector::Script(path) = &c.after else {
            continue;
        };
        if path.is_absolute() {
            continue;
        }
        let full = project_dir.join(path);
        let dir_exists = full.parent().is_some_and(|d| d.is_dir());
        if !dir_exists || full.exists() {
            continue;
        }
        let shown = path.display().to_string();
        let what = format!("`after` of checkpoint {}", quote(&c.name));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let near = full
            .parent()
            .and_then(|d| std::fs::read_dir(d).ok())
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let help = match name
            .as_deref()
            .and_then(|n| suggest(n, near.iter().map(String::as_str)))
        {
            Some(s) => format!("did you mean `{}`?", path.with_file_name(s).display()),
            None => {
                format!("create {shown}, or correct the path (relative to the project directory)")
            }
        };
        cx.err_help(
            *pos,
            format!(
                "{what} runs {}, which does not exist in {}",
                quote(&shown),
                project_dir.display()
            ),
            help,
        );
    }
}

/// Runs [`crate::FaultSpec::check`] on every scenario's fault, each error at the key it is
/// about (the fault's mapping when the key is missing).
fn check_faults(cx: &mut Ctx, m: &Manifest, ix: &Index) {
    for at in &ix.faults {
        let (spec, scope) = match &at.suite {
            Some(suite) => (
                m.tests.get(suite).and_then(|s| s.scenarios.get(at.index)),
                FaultScope::Suite(suite),
            ),
            None => (
                m.chaos.as_ref().and_then(|c| c.scenarios.get(at.index)),
                FaultScope::Environment,
            ),
        };
        let Some(spec) = spec.map(|s| &s.inject) else {
            continue;
        };
        for e in spec.check(m, scope) {
            let pos = match e.index {
                Some(i) => at.from.get(i).copied(),
                None => at.keys.get(e.field.key()).copied(),
            }
            .unwrap_or(at.pos);
            let message = format!("`{}` of {} {}", e.field.key(), at.what, e.problem);
            match e.help {
                Some(h) => cx.err_help(pos, message, h),
                None => cx.err(pos, message),
            }
        }
    }
}

fn check_refs(cx: &mut Ctx, m: &Manifest, ix: &Index) {
    for (pos, name, kind, who) in &ix.refs {
        let ok = m.services.contains_key(name)
            || (*kind == RefKind::ServiceOrSuite && m.tests.contains_key(name));
        if ok {
            continue;
        }
        let mut candidates: Vec<&str> = m.services.keys().map(String::as_str).collect();
        if *kind == RefKind::ServiceOrSuite {
            candidates.extend(m.tests.keys().map(String::as_str));
        }
        let noun = if *kind == RefKind::Service {
            "service"
        } else {
            "service or suite"
        };
        let help = names_help(name, &candidates, "the manifest declares none");
        cx.err_help(
            *pos,
            format!("unknown {noun} {} in {who}", quote(name)),
            help,
        );
    }
}

/// Finds the cycles among `nodes` whose edges are given by `deps` (indices), one per
/// strongly connected group, each as a closed path (`a, b, a`).
pub fn find_cycles(n: usize, deps: &dyn Fn(usize) -> Vec<usize>) -> Vec<Vec<usize>> {
    // Kahn's algorithm removes everything not on or behind a cycle.
    let mut pending: Vec<usize> = (0..n).map(|i| deps(i).len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for d in deps(i) {
            dependents[d].push(i);
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|i| pending[*i] == 0).collect();
    let mut done = vec![false; n];
    while let Some(i) = ready.pop() {
        done[i] = true;
        for &j in &dependents[i] {
            pending[j] -= 1;
            if pending[j] == 0 {
                ready.push(j);
            }
        }
    }
    // Every remaining node depends on another remaining one: walking those edges must loop.
    let mut reported = vec![false; n];
    let mut cycles = Vec::new();
    for start in 0..n {
        if done[start] || reported[start] {
            continue;
        }
        let mut path: Vec<usize> = vec![start];
        let mut on_path = vec![false; n];
        on_path[start] = true;
        let mut cur = start;
        while let Some(next) = deps(cur).into_iter().find(|d| !done[*d]) {
            if reported[next] {
                break;
            }
            if on_path[next] {
                let from = path.iter().position(|x| *x == next).unwrap_or(0);
                let mut cycle: Vec<usize> = path[from..].to_vec();
                cycle.push(next);
                for &c in &cycle {
                    reported[c] = true;
                }
                cycles.push(cycle);
                break;
            }
            on_path[next] = true;
            path.push(next);
            cur = next;
        }
        for p in path {
            reported[p] = true;
        }
    }
    cycles
}

fn check_service_cycles(cx: &mut Ctx, m: &Manifest, ix: &Index) {
    let names: Vec<&String> = m.services.keys().collect();
    let deps = |i: usize| -> Vec<usize> {
        let s = &m.services[i];
        s.depends_on
            .iter()
            .chain(s.soft_depends_on.iter())
            .filter_map(|d| m.services.get_index_of(d))
            .collect()
    };
    for cycle in find_cycles(names.len(), &deps) {
        let text: Vec<String> = cycle.iter().map(|i| cut(names[*i])).collect();
        let pos = ix
            .service_pos
            .get(names[cycle[0]])
            .copied()
            .unwrap_or_default();
        cx.err_help(
            pos,
            format!("dependency cycle: {}", text.join(" -> ")),
            "remove one of these depends_on / soft_depends_on entries",
        );
    }
}

fn check_suite_cycles(cx: &mut Ctx, m: &Manifest, ix: &Index) {
    let names: Vec<&String> = m.tests.keys().collect();
    let deps = |i: usize| -> Vec<usize> {
        m.tests[i]
            .depends_on
            .iter()
            .filter(|d| !m.services.contains_key(*d))
            .filter_map(|d| m.tests.get_index_of(d))
            .collect()
    };
    for cycle in find_cycles(names.len(), &deps) {
        let text: Vec<String> = cycle.iter().map(|i| cut(names[*i])).collect();
        let pos = ix
            .suite_pos
            .get(names[cycle[0]])
            .copied()
            .unwrap_or_default();
        cx.err(
            pos,
            format!(
                "test suites depend on each other in a cycle: {}",
                text.join(" -> ")
            ),
        );
    }
}

fn check_selectors(cx: &mut Ctx, m: &Manifest, ix: &Index) {
    for (c, pos) in m.checkpoints.iter().zip(ix.after_pos.iter()) {
        let what = format!("`after` of checkpoint {}", quote(&c.name));
        match &c.after {
            AfterSelector::Healthcheck(ServiceSelector::All) => {
                if m.services.is_empty() {
                    cx.err(
                        *pos,
                        format!("{what} waits for all services, but there are none"),
                    );
                }
            }
            AfterSelector::Healthcheck(ServiceSelector::Patterns(ps)) => {
                for p in ps {
                    if !m.services.keys().any(|s| pattern_matches(p, s)) {
                        let services: Vec<&str> = m.services.keys().map(String::as_str).collect();
                        let help = names_help(p, &services, "the manifest declares none");
                        cx.err_help(
                            *pos,
                            format!("{} in {what} matches no service", quote(p)),
                            help,
                        );
                    }
                }
            }
            AfterSelector::SuiteSetup { suite, index } => match m.tests.get(suite) {
                None => cx.err_help(
                    *pos,
                    format!("unknown suite {} in {what}", quote(suite)),
                    format!(
                        "suites: {}",
                        list(&m.tests.keys().map(String::as_str).collect::<Vec<_>>())
                    ),
                ),
                Some(s) if s.setup.is_empty() => cx.err(
                    *pos,
                    format!("suite {} has no `setup` commands ({what})", quote(suite)),
                ),
                Some(s) => {
                    if let Some(i) = index.filter(|i| *i >= s.setup.len()) {
                        cx.err(
                            *pos,
                            format!(
                                "{what} names setup[{i}] but suite {} has {} setup command(s)",
                                quote(suite),
                                s.setup.len()
                            ),
                        );
                    }
                }
            },
            AfterSelector::Script(path) => {
                if path.is_absolute()
                    || path
                        .components()
                        .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    cx.err_help(
                        *pos,
                        format!("{what} must be a path inside the project"),
                        "e.g. scripts/seed.sh",
                    );
                }
            }
            AfterSelector::Shell(cmd) => {
                if cmd.trim().is_empty() {
                    cx.err(*pos, format!("{what} is empty"));
                }
            }
        }
    }
}

/// Most matrix combinations a manifest may ask for.
pub const MAX_MATRIX_COMBINATIONS: usize = 256;

fn check_matrix(cx: &mut Ctx, m: &Manifest, ix: &Index) {
    let total = m
        .matrix
        .values()
        .fold(1usize, |acc, v| acc.saturating_mul(v.len()));
    if !m.matrix.is_empty() && total > MAX_MATRIX_COMBINATIONS {
        let pos = ix
            .matrix_pos
            .values()
            .next()
            .map(|(p, _)| *p)
            .unwrap_or_default();
        cx.err(pos, format!("the matrix has {total} combinations; at most {MAX_MATRIX_COMBINATIONS} are supported"));
    }
    for (key, values) in &m.matrix {
        let Some((key_pos, value_pos)) = ix.matrix_pos.get(key) else {
            continue;
        };
        let used_template = m
            .services
            .values()
            .any(|s| s.template.as_ref().is_some_and(|t| &t.name == key));
        let info = if used_template {
            templates::template(key)
        } else if let Some(svc) = m.services.get(key) {
            match svc
                .template
                .as_ref()
                .and_then(|t| templates::template(&t.name))
            {
                Some(info) => Some(info),
                None => {
                    cx.err_help(
                        *key_pos,
                        format!(
                            "matrix key {q} names service {q}, which has no catalog template",
                            q = quote(key)
                        ),
                        "matrix keys vary template versions; use a runtime key (node, python) for app services",
                    );
                    continue;
                }
            }
        } else if MATRIX_RUNTIMES.contains(&key.as_str()) {
            None
        } else {
            let mut candidates: Vec<&str> = m
                .services
                .values()
                .filter_map(|s| s.template.as_ref().map(|t| t.name.as_str()))
                .collect();
            candidates.extend(m.services.keys().map(String::as_str));
            candidates.extend(MATRIX_RUNTIMES.iter().copied());
            let help = match suggest(key, candidates.iter().copied()) {
                Some(s) => format!("did you mean {}?", quote(s)),
                None => "a matrix key names a template used by a service, a service, or a runtime (node, python)".to_string(),
            };
            let message = if templates::template(key).is_some() {
                format!("matrix key {} names a template no service uses", quote(key))
            } else {
                format!("unknown matrix key {}", quote(key))
            };
            cx.err_help(*key_pos, message, help);
            continue;
        };
        let Some(info) = info else { continue };
        if !info.is_versioned() {
            cx.err(
                *key_pos,
                format!(
                    "template `{}` is unversioned; it cannot be a matrix key",
                    info.name
                ),
            );
            continue;
        }
        for (v, pos) in values.iter().zip(value_pos.iter()) {
            if !info.supports(v) {
                cx.err_help(
                    *pos,
                    format!(
                        "unsupported version {} of `{}` in matrix key {}",
                        quote(v),
                        info.name,
                        quote(key)
                    ),
                    format!("supported versions: {}", info.versions.join(", ")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_found_once() {
        // 0 -> 1 -> 2 -> 0, 3 -> 0 (behind the cycle), 4 -> 4.
        let edges: Vec<Vec<usize>> = vec![vec![1], vec![2], vec![0], vec![0], vec![4]];
        let cycles = find_cycles(5, &|i| edges[i].clone());
        assert_eq!(cycles, vec![vec![0, 1, 2, 0], vec![4, 4]]);
        let acyclic: Vec<Vec<usize>> = vec![vec![], vec![0], vec![0, 1]];
        assert!(find_cycles(3, &|i| acyclic[i].clone()).is_empty());
    }
}
