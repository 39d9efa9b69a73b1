//! Inspecting environments: `vers db query|counts|schema` on a postgres service of HEAD, and
//! `vers diff`, which compares two environments or checkpoints (database contents and schema,
//! files of the service volumes, configuration, processes, logs). Every operation returns a
//! `Serialize` report that the CLI prints and the API and MCP tools return as is.

pub mod config;
pub mod db;
pub mod diff;
pub mod files;
mod pgvalue;
pub mod postgres;
pub mod psql;
pub mod redis;
mod statement;
mod target;
mod temp_env;

use serde::{Deserialize, Serialize};

/// How something differs between the older and the newer side of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Only on the newer side.
    Added,
    /// Only on the older side.
    Removed,
    /// On both, different.
    Modified,
}
