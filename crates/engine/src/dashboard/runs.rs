//! Test runs as the dashboard shows them: gathered from the event feed while the dashboard
//! serves (a run's start, each branch as it starts and finishes, the final report), the last
//! few kept in memory.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Mutex;

use serde_json::Value;

use crate::progress::{BranchEvent, Event};
use crate::testrun::TestReport;

/// How many runs the dashboard keeps.
const KEEP: usize = 8;
/// Most bytes of a branch log shown in its tail.
const TAIL_BYTES: u64 = 6 * 1024;
/// Most lines of a branch log shown in its tail.
const TAIL_LINES: usize = 40;

/// One branch of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct BranchRow {
    /// Branch name.
    pub name: String,
    /// `starting`, `running`, or the finished status (`passed`, `failed`, ...).
    pub status: String,
    /// Wall time once finished.
    pub duration_ms: Option<u64>,
    /// Its log file, once known.
    pub log: Option<String>,
    /// Why it did not pass (from the final report).
    pub message: Option<String>,
}

/// One suite of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteRow {
    /// Suite name.
    pub name: String,
    /// Its branches, in the order they were first seen.
    pub branches: Vec<BranchRow>,
}

impl SuiteRow {
    /// (passed, known branches).
    pub fn tally(&self) -> (usize, usize) {
        let passed = self
            .branches
            .iter()
            .filter(|b| b.status == "passed")
            .count();
        (passed, self.branches.len())
    }
}

/// One test run (`test` or `matrix` operation).
#[derive(Debug, Clone)]
pub struct Run {
    /// The API's run id.
    pub id: String,
    /// `test` or `matrix`.
    pub op: String,
    /// When it started (ms since the epoch).
    pub started_ms: u64,
    /// When it ended.
    pub ended_ms: Option<u64>,
    /// `running`, `finished`, `failed` or `cancelled`.
    pub outcome: String,
    /// Why it failed as a whole.
    pub error: Option<String>,
    /// Its suites.
    pub suites: Vec<SuiteRow>,
    /// The final report, when the run finished with one.
    pub report: Option<TestReport>,
    /// The project's name, for the JUnit report.
    pub project: String,
}

impl Run {
    fn suite(&mut self, name: &str) -> &mut SuiteRow {
        let i = match self.suites.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.suites.push(SuiteRow {
                    name: name.to_string(),
                    branches: Vec::new(),
                });
                self.suites.len() - 1
            }
        };
        &mut self.suites[i]
    }
}

/// The runs the dashboard has seen, newest first.
#[derive(Default)]
pub struct Runs {
    runs: Mutex<VecDeque<Run>>,
}

impl Runs {
    /// A copy of the runs, newest first.
    pub fn list(&self) -> Vec<Run> {
        self.runs
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The run `id`.
    pub fn get(&self, id: &str) -> Option<Run> {
        self.runs
            .lock()
            .ok()
            .and_then(|r| r.iter().find(|x| x.id == id).cloned())
    }

    /// Takes in one record of the event feed; true when it changed a run.
    pub fn apply(&self, record: &Value) -> bool {
        let Some(run_id) = record["run"].as_str() else {
            return false;
        };
        let Ok(mut runs) = self.runs.lock() else {
            return false;
        };
        let at = record["at_ms"].as_u64().unwrap_or(0);
        match record["type"].as_str() {
            Some("operation") => {
                let op = record["op"].as_str().unwrap_or("");
                if op != "test" && op != "matrix" {
                    return false;
                }
                let outcome = record["outcome"].as_str().unwrap_or("failed");
                if outcome == "started" {
                    runs.push_front(Run {
                        id: run_id.to_string(),
                        op: op.to_string(),
                        started_ms: at,
                        ended_ms: None,
                        outcome: "running".into(),
                        error: None,
                        suites: Vec::new(),
                        report: None,
                        project: String::new(),
                    });
                    runs.truncate(KEEP);
                    return true;
                }
                let Some(run) = runs.iter_mut().find(|r| r.id == run_id) else {
                    return false;
                };
                run.ended_ms = Some(at);
                run.outcome = outcome.to_string();
                let result = &record["result"];
                if outcome == "failed" {
                    run.error = result["message"].as_str().map(str::to_string);
                }
                if let Some(p) = result["project"].as_str() {
                    run.project = p.to_string();
                }
                if let Ok(report) = serde_json::from_value::<TestReport>(result["report"].clone()) {
                    run.suites = report
                        .suites
                        .iter()
                        .map(|s| SuiteRow {
                            name: s.name.clone(),
                            branches: s
                                .branches
                                .iter()
                                .map(|b| BranchRow {
                                    name: b.name.clone(),
                                    status: b.status.clone(),
                                    duration_ms: Some(b.duration_ms),
                                    log: (!b.log.is_empty()).then(|| b.log.clone()),
                                    message: b.message.clone(),
                                })
                                .collect(),
                        })
                        .collect();
                    run.report = Some(report);
                }
                // Branches a cancelled or failed run left unfinished.
                for s in &mut run.suites {
                    for b in &mut s.branches {
                        if b.duration_ms.is_none() {
                            b.status = if outcome == "cancelled" {
                                "cancelled".into()
                            } else {
                                "error".into()
                            };
                        }
                    }
                }
                true
            }
            Some("progress") => {
                let Ok(Event::Branch {
                    suite,
                    branch,
                    state,
                }) = serde_json::from_value::<Event>(record["event"].clone())
                else {
                    return false;
                };
                let Some(run) = runs.iter_mut().find(|r| r.id == run_id) else {
                    return false;
                };
                let suite = run.suite(&suite);
                let i = match suite.branches.iter().position(|b| b.name == branch) {
                    Some(i) => i,
                    None => {
                        suite.branches.push(BranchRow {
                            name: branch.clone(),
                            status: "starting".into(),
                            duration_ms: None,
                            log: None,
                            message: None,
                        });
                        suite.branches.len() - 1
                    }
                };
                let row = &mut suite.branches[i];
                match state {
                    BranchEvent::Starting => row.status = "starting".into(),
                    BranchEvent::Running => row.status = "running".into(),
                    BranchEvent::Finished {
                        status,
                        duration,
                        log,
                    } => {
                        row.status = status;
                        row.duration_ms = Some(duration.as_millis() as u64);
                        row.log = (!log.is_empty()).then_some(log);
                    }
                }
                true
            }
            _ => false,
        }
    }
}

/// The last lines of a log file (at most [`TAIL_LINES`] lines of its last [`TAIL_BYTES`]).
pub fn tail(path: &str) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(TAIL_BYTES);
    if f.seek(SeekFrom::Start(from)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    let _ = f.take(TAIL_BYTES).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if from > 0 && !lines.is_empty() {
        lines.remove(0); // a partial first line
    }
    let skip = lines.len().saturating_sub(TAIL_LINES);
    lines[skip..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn branch_event(run: &str, suite: &str, branch: &str, state: Value) -> Value {
        json!({"at_ms": 5, "type": "progress", "env": null, "run": run,
               "event": {"kind": "branch", "data": {"suite": suite, "branch": branch, "state": state}}})
    }

    #[test]
    fn a_run_is_followed_branch_by_branch_then_replaced_by_its_report() {
        let runs = Runs::default();
        assert!(
            !runs.apply(&json!({"type": "operation", "op": "branch", "run": null,
            "outcome": "started", "at_ms": 1}))
        );
        assert!(
            runs.apply(&json!({"type": "operation", "op": "test", "run": "r1",
            "outcome": "started", "at_ms": 1}))
        );
        assert!(runs.apply(&branch_event("r1", "api", "create", json!("Starting"))));
        assert!(runs.apply(&branch_event("r1", "api", "declined", json!("Running"))));
        let finished = json!({"Finished": {"status": "passed",
            "duration": {"secs": 1, "nanos": 500_000_000}, "log": "/tmp/x.log"}});
        assert!(runs.apply(&branch_event("r1", "api", "create", finished)));
        assert!(!runs.apply(&branch_event("other", "api", "create", json!("Running"))));
        let run = runs.get("r1").unwrap();
        assert_eq!(run.outcome, "running");
        assert_eq!(run.suites[0].tally(), (1, 2));
        assert_eq!(run.suites[0].branches[0].duration_ms, Some(1500));
        assert_eq!(run.suites[0].branches[0].log.as_deref(), Some("/tmp/x.log"));
        assert_eq!(run.suites[0].branches[1].status, "running");

        let report = json!({"summary": {"total": 2, "passed": 1, "failed": 1},
            "suites": [{"name": "api", "passed": 1, "total": 2, "branches": [
              {"name": "create", "status": "passed", "duration_ms": 1500, "env": {}, "log": "/tmp/x.log"},
              {"name": "declined", "status": "failed", "duration_ms": 2000, "env": {}, "log": "/tmp/y.log",
               "message": "exit code 1"}]}]});
        assert!(
            runs.apply(&json!({"type": "operation", "op": "test", "run": "r1",
            "outcome": "finished", "at_ms": 9,
            "result": {"project": "shop", "report": report}}))
        );
        let run = runs.get("r1").unwrap();
        assert_eq!(run.outcome, "finished");
        assert_eq!(run.project, "shop");
        assert_eq!(run.suites[0].tally(), (1, 2));
        assert_eq!(
            run.suites[0].branches[1].message.as_deref(),
            Some("exit code 1")
        );
        assert!(run.report.is_some());
    }

    #[test]
    fn a_cancelled_run_marks_its_unfinished_branches_and_old_runs_drop() {
        let runs = Runs::default();
        for i in 0..KEEP + 2 {
            runs.apply(
                &json!({"type": "operation", "op": "test", "run": format!("r{i}"),
                "outcome": "started", "at_ms": i}),
            );
        }
        assert_eq!(runs.list().len(), KEEP);
        let newest = format!("r{}", KEEP + 1);
        assert_eq!(runs.list()[0].id, newest);
        runs.apply(&branch_event(&newest, "s", "b", json!("Running")));
        runs.apply(&json!({"type": "operation", "op": "test", "run": newest,
            "outcome": "cancelled", "at_ms": 99}));
        assert_eq!(runs.list()[0].suites[0].branches[0].status, "cancelled");
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.log");
        let text: String = (0..5000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let t = tail(path.to_str().unwrap());
        assert_eq!(t.lines().count(), TAIL_LINES);
        assert!(t.ends_with("line 4999"), "{t}");
        assert_eq!(tail("/nonexistent/x.log"), "");
    }
}
