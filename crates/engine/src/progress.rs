//! Progress events the engine emits while it works; the CLI turns them into live displays.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Something that happened during `up`, checkpointing or a test run. Serialised as
/// `{"kind": "service", "data": {...}}` on the API's streams and event feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Event {
    /// A service changed state in an environment.
    Service {
        /// Environment name.
        env: String,
        /// Service name.
        service: String,
        /// New state.
        state: ServiceEvent,
    },
    /// A checkpoint step.
    Checkpoint {
        /// Checkpoint name.
        name: String,
        /// What happened.
        state: CheckpointEvent,
    },
    /// A test branch changed state.
    Branch {
        /// Suite name.
        suite: String,
        /// Branch name.
        branch: String,
        /// New state.
        state: BranchEvent,
    },
    /// A build of an app service.
    Build {
        /// Service name.
        service: String,
        /// Finished (with its duration) or started.
        done: Option<Duration>,
    },
    /// A warning for the user (soft dependency failed, limit not enforceable...).
    Warning(String),
    /// A plain informational line.
    Info(String),
}

/// Service lifecycle steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ServiceEvent {
    /// Processes started, waiting for health.
    Starting,
    /// Health check passed.
    Healthy(Duration),
    /// Template setup (databases, users, init scripts) running.
    Setup,
    /// Failed to start or become healthy.
    Failed(String),
}

/// Checkpoint steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CheckpointEvent {
    /// Running its trigger (script, command, health selector).
    Running,
    /// Snapshot taken.
    Taken(Duration),
    /// Reused from the cache (inputs unchanged).
    Cached,
}

/// Test branch steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum BranchEvent {
    /// Forking and starting services.
    Starting,
    /// Running hooks and the test command.
    Running,
    /// Finished with a status (`passed`, `failed`, `timeout`, `error`, `skipped`).
    Finished {
        /// Status word.
        status: String,
        /// Wall time.
        duration: Duration,
        /// The branch's log file (empty when it has none, e.g. skipped).
        #[serde(default)]
        log: String,
    },
}

/// A sink for events.
pub trait Progress: Send + Sync {
    /// Records one event.
    fn event(&self, event: Event);
}

/// Discards every event (JSON output, tests).
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _event: Event) {}
}
