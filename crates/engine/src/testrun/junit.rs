//! JUnit XML for CI: a testsuite per suite, a testcase per branch, with output and failures.

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::report::TestReport;
use crate::error::EngineError;

/// Most output kept per test case.
const MAX_OUTPUT: usize = 64 * 1024;

fn tail(text: &str) -> &str {
    if text.len() <= MAX_OUTPUT {
        return text;
    }
    let mut start = text.len() - MAX_OUTPUT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The output in `log` as text for XML: invalid UTF-8 bytes and control characters XML 1.0
/// cannot carry (all below U+0020 but tab, newline and carriage return) become U+FFFD, so
/// one stray byte does not lose the rest. A missing log is empty.
fn log_text(log: &Path) -> String {
    let bytes = std::fs::read(log).unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .chars()
        .map(|c| {
            if c < ' ' && !matches!(c, '\t' | '\n' | '\r') {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Writes the JUnit report of `report` to `path`.
pub fn write(report: &TestReport, project_name: &str, path: &Path) -> Result<(), EngineError> {
    let xml = render(report, project_name)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    }
    std::fs::write(path, xml).map_err(|e| EngineError::io(path, e))
}

/// The JUnit XML of `report` (the dashboard serves it for each run).
pub fn render(report: &TestReport, project_name: &str) -> Result<String, EngineError> {
    let mut junit = Report::new(format!("vers: {project_name}"));
    for suite in &report.suites {
        let mut ts = TestSuite::new(suite.name.clone());
        for b in &suite.branches {
            let status = match b.status.as_str() {
                "passed" => TestCaseStatus::success(),
                "skipped" => TestCaseStatus::skipped(),
                "failed" => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(b.message.clone().unwrap_or_else(|| "failed".into()));
                    s.set_type("failure");
                    s
                }
                other => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_message(b.message.clone().unwrap_or_else(|| other.to_string()));
                    s.set_type(other.to_string());
                    s
                }
            };
            let mut tc = TestCase::new(b.name.clone(), status);
            tc.set_classname(format!("{project_name}.{}", suite.name));
            tc.set_time(Duration::from_millis(b.duration_ms));
            tc.set_system_out(tail(&log_text(Path::new(&b.log))).to_string());
            ts.add_test_case(tc);
        }
        junit.add_test_suite(ts);
    }
    junit
        .to_string()
        .map_err(|e| EngineError::Failed(format!("rendering JUnit XML: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testrun::report::{BranchResult, SuiteResult};

    #[test]
    fn failures_and_output_land_in_the_xml() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("b.log");
        std::fs::write(&log, "assertion failed: 1 == 2\n").unwrap();
        let branch = |name: &str, status: &str| BranchResult {
            name: name.into(),
            status: status.into(),
            duration_ms: 1500,
            env: Default::default(),
            log: log.display().to_string(),
            message: (status != "passed").then(|| "exit code 1".into()),
            kept_env: None,
            scenario: None,
        };
        let report = TestReport::new(vec![SuiteResult {
            name: "billing".into(),
            passed: 1,
            total: 3,
            branches: vec![
                branch("create", "passed"),
                branch("declined", "failed"),
                branch("slow", "timeout"),
            ],
        }]);
        let out = tmp.path().join("junit.xml");
        write(&report, "demo", &out).unwrap();
        let xml = std::fs::read_to_string(&out).unwrap();
        assert!(
            xml.contains(r#"<testsuite name="billing" tests="3""#),
            "{xml}"
        );
        assert!(xml.contains("<failure"), "{xml}");
        assert!(xml.contains("<error"), "{xml}");
        assert!(xml.contains("assertion failed"), "{xml}");
    }

    /// One byte that is not UTF-8 (or a control character) used to drop the whole output.
    #[test]
    fn output_with_invalid_utf8_is_kept_lossily() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("b.log");
        std::fs::write(
            &log,
            b"line one fine\nlatin1 caf\xe9\nctl:\x01\x02 after\nline three\n",
        )
        .unwrap();
        let report = TestReport::new(vec![SuiteResult {
            name: "badutf".into(),
            passed: 0,
            total: 1,
            branches: vec![BranchResult {
                name: "badutf".into(),
                status: "failed".into(),
                duration_ms: 10,
                env: Default::default(),
                log: log.display().to_string(),
                message: Some("exit code 1".into()),
                kept_env: None,
                scenario: None,
            }],
        }]);
        let xml = render(&report, "demo").unwrap();
        assert!(xml.contains("line one fine"), "{xml}");
        assert!(xml.contains("latin1 caf\u{FFFD}"), "{xml}");
        assert!(xml.contains("ctl:\u{FFFD}\u{FFFD} after"), "{xml}");
        assert!(xml.contains("line three"), "{xml}");
    }
}
