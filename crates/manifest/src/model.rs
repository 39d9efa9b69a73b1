//! The typed manifest: what `vers-integration.yaml` says, after validation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::fault::FaultSpec;
use crate::selector::AfterSelector;

/// A validated `vers-integration.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// Project name.
    pub name: String,
    /// The manifest's own version (`1.0.0`), as written.
    pub version: Option<String>,
    /// Budget of one environment.
    pub vm: Option<Vm>,
    /// Services in manifest order.
    pub services: IndexMap<String, Service>,
    /// Test suites in manifest order.
    pub tests: IndexMap<String, Suite>,
    /// Declared checkpoints in order (the automatic `services-ready` only if declared).
    pub checkpoints: Vec<Checkpoint>,
    /// Matrix keys (template, service or runtime) and their values, as written.
    pub matrix: IndexMap<String, Vec<String>>,
    /// Deploy targets by name.
    pub deploy: IndexMap<String, Deploy>,
    /// Chaos scenarios.
    pub chaos: Option<Chaos>,
    /// The `monitoring` mapping, as JSON.
    pub monitoring: Option<serde_json::Value>,
    /// `pass_env:` — host variables passed through to the commands of environments (test
    /// commands, hooks, scripts, health checks, apps), which otherwise get a clean
    /// environment.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pass_env: Vec<String>,
    /// The file the manifest came from.
    pub path: PathBuf,
}

impl Manifest {
    /// A manifest with no services, for commands that must work without a valid manifest.
    pub fn empty(path: &Path) -> Manifest {
        Manifest {
            name: String::new(),
            version: None,
            vm: None,
            services: IndexMap::new(),
            tests: IndexMap::new(),
            checkpoints: Vec::new(),
            matrix: IndexMap::new(),
            deploy: IndexMap::new(),
            chaos: None,
            monitoring: None,
            pass_env: Vec::new(),
            path: path.to_path_buf(),
        }
    }

    /// The project directory (the manifest's parent).
    pub fn project_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// `vm:` — the resource budget of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Vm {
    /// Memory in MiB.
    pub memory_mib: Option<u64>,
    /// Virtual CPUs.
    pub vcpu: Option<u32>,
    /// Storage in MiB.
    pub storage_mib: Option<u64>,
}

/// `services.NAME`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    /// Catalog template (`postgres@15`), absent for app services.
    pub template: Option<TemplateRef>,
    /// How to build an app from source.
    pub build: Option<Build>,
    /// How to run an app service.
    pub command: Option<String>,
    /// The raw `config` block as JSON (`Null` if absent); validated per template.
    pub config: serde_json::Value,
    /// Environment; scalars stringified as written (`1025` → `"1025"`, null → `""`).
    pub env: IndexMap<String, String>,
    /// Hard dependencies.
    pub depends_on: Vec<String>,
    /// Soft dependencies.
    pub soft_depends_on: Vec<String>,
    /// Health check overrides.
    pub healthcheck: Option<Healthcheck>,
    /// Number of instances (default 1).
    pub replicas: u32,
    /// Resource requests and limits.
    pub resources: Option<Resources>,
    /// Host port forwards.
    pub ports: Vec<PortMap>,
    /// Line of the service's key in the manifest.
    pub line: usize,
}

impl Default for Service {
    fn default() -> Service {
        Service {
            template: None,
            build: None,
            command: None,
            config: serde_json::Value::Null,
            env: IndexMap::new(),
            depends_on: Vec::new(),
            soft_depends_on: Vec::new(),
            healthcheck: None,
            replicas: 1,
            resources: None,
            ports: Vec::new(),
            line: 0,
        }
    }
}

/// `template: name@version`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TemplateRef {
    /// Catalog template name (`postgres`).
    pub name: String,
    /// Version after `@`, if given.
    pub version: Option<String>,
}

impl TemplateRef {
    /// Splits `name@version`.
    pub fn parse(text: &str) -> TemplateRef {
        match text.split_once('@') {
            Some((n, v)) => TemplateRef {
                name: n.trim().to_string(),
                version: Some(v.trim().to_string()),
            },
            None => TemplateRef {
                name: text.trim().to_string(),
                version: None,
            },
        }
    }
}

impl std::fmt::Display for TemplateRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

/// `build: PATH` or `build: {context, command}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Build {
    /// Directory relative to the project.
    pub context: PathBuf,
    /// Build command; detected from the context when absent.
    pub command: Option<String>,
}

/// `healthcheck:`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Healthcheck {
    /// Shell command; healthy on exit 0.
    pub command: Option<String>,
    /// HTTP path probed on the service port.
    pub path: Option<String>,
    /// Time between probes.
    pub interval: Option<Duration>,
    /// Time one probe may take.
    pub timeout: Option<Duration>,
    /// Probes before giving up.
    pub retries: Option<u32>,
    /// Grace period before failures count.
    pub start_period: Option<Duration>,
}

/// `resources:`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Resources {
    /// Memory in bytes.
    pub memory: Option<Limit<u64>>,
    /// CPUs (fractions allowed; `500m` = 0.5).
    pub cpu: Option<Limit<f64>>,
    /// Storage in bytes.
    pub storage: Option<Limit<u64>>,
}

/// A request and a limit; a flat value sets both.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Limit<T> {
    /// What the service asks for.
    pub request: Option<T>,
    /// What it may not exceed.
    pub limit: Option<T>,
}

/// `ports: ["HOST:CONTAINER"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PortMap {
    /// Port on 127.0.0.1 of the host.
    pub host: u16,
    /// Port of the service inside the environment.
    pub container: u16,
}

/// `tests.SUITE`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Suite {
    /// Command run in each branch.
    pub command: Option<String>,
    /// Declared branches (none, and no scenarios: one branch named after the suite).
    pub branches: Vec<Branch>,
    /// Scenarios (extension): each runs the suite's command on its own branch with a
    /// scheduled fault.
    pub scenarios: Vec<ChaosScenario>,
    /// Services needed, and suites that must pass first.
    pub depends_on: Vec<String>,
    /// Checkpoint (or commit tag) the branches fork from.
    pub checkpoint: Option<String>,
    /// Commands run once before the branches fork.
    pub setup: Vec<String>,
    /// Suite environment.
    pub env: IndexMap<String, String>,
    /// Per-branch timeout.
    pub timeout: Option<Duration>,
    /// Branches run concurrently even without `--parallel`.
    pub parallel: bool,
    /// Run this suite before the others.
    pub run_first: bool,
}

/// `tests.SUITE.branches[]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Branch {
    /// Branch name (unique in its suite).
    pub name: String,
    /// Branch environment (over the suite's).
    pub env: IndexMap<String, String>,
    /// Free text.
    pub description: Option<String>,
    /// Commands run before the test command.
    pub before: Vec<String>,
    /// Commands run after the test command.
    pub after: Vec<String>,
    /// Overrides the suite command.
    pub command: Option<String>,
    /// Checkpoint (or commit tag) to fork from.
    pub from: Option<String>,
    /// What outcome counts as a pass.
    pub expect: Option<Expect>,
}

/// `expect:` of a branch: `pass`, `fail` (any non-zero exit) or an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Expect {
    /// Exit 0 (`pass`, `success`).
    Pass,
    /// Any non-zero exit (`fail`, `failure`).
    Fail,
    /// This exact exit code (`expect: 3` or `{exit_code: 3}`).
    ExitCode(i32),
}

impl Expect {
    /// The expected exit code; `-1` stands for "any non-zero".
    pub fn exit_code(&self) -> i32 {
        match self {
            Expect::Pass => 0,
            Expect::Fail => -1,
            Expect::ExitCode(c) => *c,
        }
    }
}

/// `checkpoints[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// Checkpoint name (tag).
    pub name: String,
    /// What must happen before the snapshot.
    pub after: AfterSelector,
    /// Free text.
    pub description: Option<String>,
    /// Extension: globs (relative to the project) of the files the checkpoint depends on;
    /// when set they replace the default inputs of its cache key (every project file).
    pub inputs: Vec<String>,
    /// Extension: how many started, healthy branches of it to keep ready (0–64).
    pub warm: u32,
}

/// Most warm branches a checkpoint may ask for.
pub const MAX_WARM: u32 = 64;

/// `deploy.NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deploy {
    /// `vers.sh/hosted` or `local`.
    pub target: String,
    /// Public domain.
    pub domain: Option<String>,
    /// Replica bounds.
    pub scaling: Option<Scaling>,
    /// Extra environment.
    pub env: IndexMap<String, String>,
}

/// `deploy.NAME.scaling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Scaling {
    /// Fewest replicas.
    pub min: u32,
    /// Most replicas.
    pub max: u32,
}

/// `chaos:`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Chaos {
    /// Named fault scenarios, for `vers chaos run NAME`.
    pub scenarios: Vec<ChaosScenario>,
}

impl Chaos {
    /// The scenario named `name`.
    pub fn scenario(&self, name: &str) -> Option<&ChaosScenario> {
        self.scenarios.iter().find(|s| s.name == name)
    }
}

/// A named fault with the labels a test should see: an entry of `tests.SUITE.scenarios[]`
/// (run on its own branch with the suite's command) or of `chaos.scenarios[]` (run by
/// `vers chaos run NAME`). The hosted product's format, an extension of the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChaosScenario {
    /// Scenario name (unique among its suite's branches and scenarios, or among
    /// `chaos.scenarios`).
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The fault.
    pub inject: FaultSpec,
    /// Labels of what the test should observe, passed as `VERS_EXPECT` (comma-separated).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<String>,
}
