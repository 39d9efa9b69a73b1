//! Results of a test run, in the `--json` shape of SPEC 4.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One branch's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BranchResult {
    /// Branch name.
    pub name: String,
    /// passed, failed, timeout, error or skipped.
    pub status: String,
    /// Wall time of the branch (fork, hooks, command).
    pub duration_ms: u64,
    /// The branch's `env` from the manifest.
    pub env: BTreeMap<String, String>,
    /// Log file holding the branch's output.
    pub log: String,
    /// Why it did not pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Environment kept for inspection (`--keep-failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_env: Option<String>,
    /// The fault of a scenario branch, and when it was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<ScenarioResult>,
}

/// The fault of a scenario branch (`tests.SUITE.scenarios[]`) as it was run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The fault as the manifest states it.
    pub inject: vers_manifest::FaultSpec,
    /// Its `expect` labels (`VERS_EXPECT`).
    #[serde(default)]
    pub expect: Vec<String>,
    /// When the fault was applied, in milliseconds after the test command started
    /// (negative: before it started); absent when it never was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injected_at_ms: Option<i64>,
}

/// One suite's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteResult {
    /// Suite name.
    pub name: String,
    /// Branches passed.
    pub passed: usize,
    /// Branches run or skipped.
    pub total: usize,
    /// Each branch.
    pub branches: Vec<BranchResult>,
}

/// Totals.
#[derive(Debug, Clone, Copy, Serialize, Default, Deserialize)]
pub struct Summary {
    /// Branches.
    pub total: usize,
    /// Passed branches.
    pub passed: usize,
    /// Branches that did not pass (failed, timeout, error, skipped).
    pub failed: usize,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestReport {
    /// Totals.
    pub summary: Summary,
    /// Suites in run order.
    pub suites: Vec<SuiteResult>,
}

impl TestReport {
    /// Builds the report and its totals from suite results.
    pub fn new(suites: Vec<SuiteResult>) -> TestReport {
        let mut summary = Summary::default();
        for s in &suites {
            summary.total += s.total;
            summary.passed += s.passed;
        }
        summary.failed = summary.total - summary.passed;
        TestReport { summary, suites }
    }

    /// Whether every branch passed.
    pub fn all_passed(&self) -> bool {
        self.summary.failed == 0
    }
}

impl SuiteResult {
    /// The one-line summary printed per suite: `auth: 3/3 branches passed`.
    pub fn line(&self) -> String {
        format!(
            "{}: {}/{} branches passed",
            self.name, self.passed, self.total
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(status: &str) -> BranchResult {
        BranchResult {
            name: "x".into(),
            status: status.into(),
            duration_ms: 1,
            env: BTreeMap::new(),
            log: String::new(),
            message: None,
            kept_env: None,
            scenario: None,
        }
    }

    #[test]
    fn totals_and_lines() {
        let s = SuiteResult {
            name: "auth".into(),
            passed: 2,
            total: 3,
            branches: vec![b("passed"), b("passed"), b("failed")],
        };
        assert_eq!(s.line(), "auth: 2/3 branches passed");
        let r = TestReport::new(vec![s]);
        assert_eq!(r.summary.failed, 1);
        assert!(!r.all_passed());
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["summary"]["total"], 3);
        assert_eq!(json["suites"][0]["branches"][2]["status"], "failed");
    }
}
