//! `vers integration test`: every branch of every selected suite runs on its own
//! copy-on-write fork of the suite's checkpoint, with a job limit, and results stream to
//! reporters (terminal, JSON, JUnit).

pub mod junit;
pub mod report;
pub mod runner;
pub mod selection;

pub use report::{BranchResult, SuiteResult, TestReport};
pub use runner::{run, TestOptions};

/// A fresh id for a test run: `run-<unix ms>-<pid>`, unique on this machine.
pub fn new_run_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("run-{ms}-{}-{n}", std::process::id())
}
