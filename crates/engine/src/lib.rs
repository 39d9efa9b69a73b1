//! The vers engine: environments, checkpoints, branches and the test runner, on top of the
//! supervisor that owns processes, namespaces and proxies.
//!
//! The CLI calls these functions in-process; the supervisor (`supervisor::server`) is a
//! separate daemon per project so that services outlive each CLI call.

pub mod branches;
pub mod build;
pub mod chaos;
pub mod checkpoint;
pub mod cleanup;
pub mod environment;
pub mod error;
pub mod exec;
pub mod init_cache;
pub mod lifecycle;
pub mod matrix;
pub mod progress;
pub mod project;
pub mod stack;
pub mod state;
pub mod status;
pub mod storage;
pub mod supervisor;
pub mod testrun;
pub mod topology;

pub use error::EngineError;
pub use project::Project;
pub use stack::Stack;
