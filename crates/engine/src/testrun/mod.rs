//! `vers integration test`: every branch of every selected suite runs on its own
//! copy-on-write fork of the suite's checkpoint, with a job limit, and results stream to
//! reporters (terminal, JSON, JUnit).

pub mod junit;
pub mod report;
pub mod runner;
pub mod selection;

pub use report::{BranchResult, SuiteResult, TestReport};
pub use runner::{run, TestOptions};
