//! The vers engine: environments, checkpoints, branches and the test runner, on top of the
//! supervisor that owns processes, namespaces and proxies.
//!
//! One daemon per project (`supervisor::server`) owns the environments and serves the engine
//! API (`api`); the CLI and `vers mcp` are its clients.

pub mod api;
pub mod atomic_file;
pub mod branches;
pub mod budget;
pub mod build;
pub mod chaos;
pub mod checkpoint;
pub mod cleanup;
pub mod dashboard;
pub mod deploy;
pub mod docs;
pub mod environment;
pub mod error;
pub mod exec;
pub mod export;
pub mod init_cache;
pub mod inputs;
pub mod inspect;
pub mod lifecycle;
pub mod logfile;
pub mod manifest_edit;
pub mod manifest_store;
pub mod matrix;
pub mod own_binary;
pub mod pool;
pub mod progress;
pub mod project;
pub mod prune;
pub mod service_env;
pub mod services;
pub mod stack;
pub mod state;
pub mod status;
pub mod storage;
pub mod store_space;
pub mod supervisor;
pub mod testrun;
pub mod topology;
pub mod workers;

pub use error::EngineError;
pub use project::Project;
pub use stack::Stack;
