//! `vers integration matrix`: one root environment per combination of the version matrix,
//! its checkpoints and tests run there.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::environment;
use crate::error::EngineError;
use crate::progress::{Event, Progress};
use crate::stack::Stack;
use crate::testrun::{self, SuiteResult, TestOptions};

/// Options of a matrix run.
#[derive(Debug, Clone, Default)]
pub struct MatrixOptions {
    /// Only combinations with these key=value pairs.
    pub filter: Vec<(String, String)>,
    /// Run combinations concurrently.
    pub parallel: bool,
    /// Keep going after a failing combination.
    pub continue_on_failure: bool,
    /// Options passed to each combination's test run.
    pub tests: TestOptions,
}

/// One combination's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellResult {
    /// key -> value.
    pub combination: IndexMap<String, String>,
    /// passed, failed or skipped.
    pub status: String,
    /// Wall time.
    pub duration_ms: u64,
    /// Suites run in this combination.
    pub suites: Vec<SuiteResult>,
    /// First error lines, when it failed before or outside tests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Combinations selected by `filter`; an unknown key or a value outside the matrix is an error.
pub fn select(
    stack: &Stack,
    filter: &[(String, String)],
) -> Result<Vec<IndexMap<String, String>>, EngineError> {
    let m = &stack.manifest;
    if m.matrix.is_empty() {
        return Err(EngineError::Manifest(
            "the manifest has no `matrix:`; add one, e.g. matrix: {postgres: [14, 15, 16]}".into(),
        ));
    }
    for (k, v) in filter {
        let values = m.matrix.get(k).ok_or_else(|| {
            EngineError::Manifest(format!(
                "--filter {k}={v}: `{k}` is not a matrix key; keys: {}",
                m.matrix.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        if !values.contains(v) {
            return Err(EngineError::Manifest(format!(
                "--filter {k}={v}: `{v}` is not among {k}'s values ({})",
                values.join(", ")
            )));
        }
    }
    Ok(vers_manifest::matrix_combinations(m)
        .into_iter()
        .filter(|c| filter.iter().all(|(k, v)| c.get(k) == Some(v)))
        .collect())
}

/// A runtime key (`node`, `python`) must name the version the machine has.
fn check_runtime(key: &str, version: &str) -> Option<Result<(), String>> {
    let (program, args): (&str, &[&str]) = match key {
        "node" => ("node", &["--version"]),
        "python" => ("python3", &["--version"]),
        _ => return None,
    };
    let out = std::process::Command::new(program).args(args).output();
    Some(match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            let have = text
                .trim()
                .trim_start_matches('v')
                .trim_start_matches("Python ")
                .to_string();
            if have == version || have.starts_with(&format!("{version}.")) {
                Ok(())
            } else {
                Err(format!(
                    "{key} {version} is not installed (this machine has {key} {have})"
                ))
            }
        }
        _ => Err(format!("{key} is not installed ({program} not found)")),
    })
}

/// One engine the matrix needs and the machine lacks: who needs it, where, and how to get it.
struct Missing {
    services: Vec<String>,
    combos: Vec<String>,
    hint: String,
}

/// Checks that every combination's engines exist, before anything starts: one line per
/// missing engine, naming the services and combinations that need it and how to install it.
pub fn preflight(stack: &Stack, combos: &[IndexMap<String, String>]) -> Result<(), EngineError> {
    let services = stack.closure(&[])?;
    let mut missing: IndexMap<String, Missing> = IndexMap::new();
    let mut note = |what: String, service: Option<&str>, combo: String, hint: String| {
        let m = missing.entry(what).or_insert_with(|| Missing {
            services: Vec::new(),
            combos: Vec::new(),
            hint,
        });
        if let Some(s) = service.filter(|s| !m.services.iter().any(|x| x == s)) {
            m.services.push(s.to_string());
        }
        if !m.combos.contains(&combo) {
            m.combos.push(combo);
        }
    };
    for combo in combos {
        let versions: BTreeMap<String, String> = combo.clone().into_iter().collect();
        for (k, v) in combo {
            if let Some(Err(e)) = check_runtime(k, v) {
                note(format!("{k} {v}"), None, describe(combo), e);
            }
        }
        let ctx = stack.env_context("probe", "probe", &versions, BTreeMap::new());
        for name in &services {
            let svc = environment::service(&stack.manifest, name)?;
            let tmpl = environment::template_of(svc)?;
            if let Err(e) = tmpl.engine(ctx.version_of(name, svc).as_deref()) {
                let what = match &e.version {
                    Some(v) => format!("{}@{v}", e.template),
                    None => e.template.clone(),
                };
                note(what, Some(name), describe(combo), e.hint);
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = missing
        .iter()
        .map(|(what, m)| {
            let by = if m.services.is_empty() {
                String::new()
            } else {
                format!(" for {}", m.services.join(", "))
            };
            let cells = if m.combos.len() == combos.len() && combos.len() > 1 {
                format!("all {} combinations", combos.len())
            } else {
                m.combos.join("; ")
            };
            format!("  {what}{by} ({cells}): {}", m.hint)
        })
        .collect();
    Err(EngineError::Failed(format!(
        "the matrix needs engines this machine does not have; nothing was started:\n{}",
        lines.join("\n")
    )))
}

/// `key=value, …` of a combination.
pub fn describe(combo: &IndexMap<String, String>) -> String {
    combo
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Progress of one combination: names carry it, so cells running at once stay apart.
struct CellProgress {
    inner: Arc<dyn Progress>,
    label: String,
}

impl Progress for CellProgress {
    fn event(&self, event: Event) {
        let l = &self.label;
        self.inner.event(match event {
            Event::Service {
                env,
                service,
                state,
            } => Event::Service {
                env,
                service: format!("{service} [{l}]"),
                state,
            },
            Event::Checkpoint { name, state } => Event::Checkpoint {
                name: format!("{name} [{l}]"),
                state,
            },
            Event::Branch {
                suite,
                branch,
                state,
            } => Event::Branch {
                suite: format!("[{l}] {suite}"),
                branch,
                state,
            },
            other => other,
        })
    }
}

/// Runs the selected combinations.
pub async fn run(
    stack: &Stack,
    opts: &MatrixOptions,
    progress: Arc<dyn Progress>,
) -> Result<Vec<CellResult>, EngineError> {
    let combos = select(stack, &opts.filter)?;
    preflight(stack, &combos)?;
    let mut results = Vec::new();
    let mut handles = Vec::new();
    let mut stop = false;
    for combo in combos {
        if stop {
            results.push(CellResult {
                combination: combo,
                status: "skipped".into(),
                duration_ms: 0,
                suites: Vec::new(),
                error: Some("skipped after an earlier failure (use --continue-on-failure)".into()),
            });
            continue;
        }
        let stack = stack.clone();
        let mut tests = opts.tests.clone();
        tests.versions = combo.clone().into_iter().collect();
        let progress: Arc<dyn Progress> = Arc::new(CellProgress {
            inner: progress.clone(),
            label: describe(&combo),
        });
        let fut = async move {
            progress.event(Event::Info(format!("matrix: {}", describe(&combo))));
            let began = Instant::now();
            let r = testrun::run(&stack, &tests, progress).await;
            let duration_ms = began.elapsed().as_millis() as u64;
            match r {
                Ok(report) => CellResult {
                    status: if report.all_passed() {
                        "passed"
                    } else {
                        "failed"
                    }
                    .into(),
                    combination: combo,
                    duration_ms,
                    error: None,
                    suites: report.suites,
                },
                Err(e) => CellResult {
                    combination: combo,
                    status: "failed".into(),
                    duration_ms,
                    suites: Vec::new(),
                    error: Some(e.to_string()),
                },
            }
        };
        if opts.parallel {
            handles.push(tokio::spawn(fut));
        } else {
            let r = fut.await;
            if r.status != "passed" && !opts.continue_on_failure {
                stop = true;
            }
            results.push(r);
        }
    }
    for h in handles {
        results.push(
            h.await
                .map_err(|e| EngineError::Failed(format!("matrix cell failed: {e}")))?,
        );
    }
    Ok(results)
}
