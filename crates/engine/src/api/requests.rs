//! The operations of the engine API as typed requests. Durations are written as on the command
//! line (`500ms`, `30s`, `5m`), so the CLI, MCP tools and HTTP callers send the same words.

use serde::{Deserialize, Serialize};

/// One engine operation, as the daemon hands it to a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Environments, services, health and endpoints.
    Status,
    /// Start the root environment up to a checkpoint and make it HEAD.
    Up(UpRequest),
    /// Stop HEAD, or everything (and the daemon) with `all`.
    Down(DownRequest),
    /// Checkpoint HEAD under a tag.
    Commit(CommitRequest),
    /// Fork a branch from a checkpoint (default: HEAD's).
    Branch(BranchRequest),
    /// Every environment of the project.
    Branches,
    /// Make a branch (or a fork of a checkpoint) HEAD.
    Checkout(CheckoutRequest),
    /// Reset HEAD to a checkpoint.
    Rollback(RollbackRequest),
    /// Delete branches matching a name or glob.
    Delete(DeleteRequest),
    /// Pause (freeze) or resume an environment.
    SetState(SetStateRequest),
    /// The checkpoint tree.
    Log,
    /// Run test suites on branches.
    Test(TestRequest),
    /// Run the tests once per matrix combination.
    Matrix(MatrixRequest),
    /// Inject a fault.
    ChaosInject(ChaosInjectRequest),
    /// End faults and restart what they killed.
    ChaosRecover(ChaosRecoverRequest),
    /// Faults in force.
    ChaosList,
    /// Run a scenario of `chaos.scenarios`.
    ChaosRun(ChaosRunRequest),
    /// Log lines of a service of HEAD.
    Logs(LogsRequest),
    /// How to run a command in HEAD (the caller runs it: it may need a terminal).
    ExecSpec(ExecSpecRequest),
    /// Run a command in HEAD and capture its output.
    Exec(ExecRequest),
    /// Delete every environment a cancelled test run left.
    SweepRun(SweepRunRequest),
    /// Run SQL on a postgres service of HEAD.
    DbQuery(DbQueryRequest),
    /// Exact row counts of every table of a postgres database of HEAD.
    DbCounts(DbTargetRequest),
    /// `pg_dump --schema-only` of a postgres database of HEAD.
    DbSchema(DbTargetRequest),
    /// Compare two environments or checkpoints.
    Diff(DiffRequest),
    /// Stop some services of HEAD, leaving the environment running.
    StopServices(StopServicesRequest),
    /// Stop a service about to leave the manifest in HEAD and drop it from HEAD's record
    /// (the client edits the manifest).
    RetireService(RetireServiceRequest),
    /// The manifest's checkpoint chain: whether each checkpoint would be reused, and why.
    Checkpoints,
    /// Delete a checkpoint (and every tag naming it).
    CheckpointRm(CheckpointRmRequest),
    /// Delete every checkpoint no branch or tag needs.
    CheckpointPrune,
    /// Bring the warm pools to their sizes (the daemon's pool keeper asks for it).
    FillPools,
    /// The stack as a Compose file or Kubernetes manifests.
    Export(ExportRequest),
    /// Deploy a new version of a local deployment.
    Deploy(DeployRequest),
    /// Every local deployment.
    Deployments,
    /// Run an earlier version of a deployment again.
    DeployRollback(DeployRollbackRequest),
    /// Stop and forget a deployment.
    DeployRemove(DeployRemoveRequest),
    /// Create (or redeploy) a preview with a time to live.
    PreviewCreate(PreviewRequest),
    /// Integration docs from the manifest and a test run's traffic.
    Docs(DocsRequest),
}

impl Op {
    /// The operation's name, as in `{"op": ...}`.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Status => "status",
            Op::Up(_) => "up",
            Op::Down(_) => "down",
            Op::Commit(_) => "commit",
            Op::Branch(_) => "branch",
            Op::Branches => "branches",
            Op::Checkout(_) => "checkout",
            Op::Rollback(_) => "rollback",
            Op::Delete(_) => "delete",
            Op::SetState(_) => "set_state",
            Op::Log => "log",
            Op::Test(_) => "test",
            Op::Matrix(_) => "matrix",
            Op::ChaosInject(_) => "chaos_inject",
            Op::ChaosRecover(_) => "chaos_recover",
            Op::ChaosList => "chaos_list",
            Op::ChaosRun(_) => "chaos_run",
            Op::Logs(_) => "logs",
            Op::ExecSpec(_) => "exec_spec",
            Op::Exec(_) => "exec",
            Op::SweepRun(_) => "sweep_run",
            Op::DbQuery(_) => "db_query",
            Op::DbCounts(_) => "db_counts",
            Op::DbSchema(_) => "db_schema",
            Op::Diff(_) => "diff",
            Op::StopServices(_) => "stop_services",
            Op::RetireService(_) => "retire_service",
            Op::Checkpoints => "checkpoints",
            Op::CheckpointRm(_) => "checkpoint_rm",
            Op::CheckpointPrune => "checkpoint_prune",
            Op::FillPools => "fill_pools",
            Op::Export(_) => "export",
            Op::Deploy(_) => "deploy",
            Op::Deployments => "deployments",
            Op::DeployRollback(_) => "deploy_rollback",
            Op::DeployRemove(_) => "deploy_remove",
            Op::PreviewCreate(_) => "preview_create",
            Op::Docs(_) => "docs",
        }
    }

    /// Whether the operation may change what the warm pools should hold or hand out (a
    /// checkpoint made or retagged, a warm branch taken, HEAD brought down: pools are kept only
    /// while an environment of the user's runs), so the daemon refills after it. Not after
    /// `down --all`: the daemon is going away.
    pub fn may_change_pools(&self) -> bool {
        matches!(
            self,
            Op::Up(_)
                | Op::Down(DownRequest { all: false, .. })
                | Op::Commit(_)
                | Op::Branch(_)
                | Op::Checkout(_)
                | Op::Rollback(_)
                | Op::Delete(_)
                | Op::Test(_)
                | Op::Matrix(_)
        )
    }

    /// Whether a client going away cancels the operation (test runs: their branches are
    /// stopped). Everything else runs to its end, so nothing is left half-done.
    pub fn cancel_on_disconnect(&self) -> bool {
        matches!(self, Op::Test(_) | Op::Matrix(_))
    }

    /// Whether the operation may be asked from inside an environment (a test, hook or
    /// script of it), where it acts on that environment only.
    pub fn allowed_in_environment(&self) -> bool {
        matches!(
            self,
            Op::Status
                | Op::Commit(_)
                | Op::ChaosInject(_)
                | Op::ChaosRecover(_)
                | Op::ChaosList
                | Op::ChaosRun(_)
                | Op::Logs(_)
                | Op::ExecSpec(_)
                | Op::Exec(_)
                | Op::Log
                | Op::DbQuery(_)
                | Op::DbCounts(_)
                | Op::DbSchema(_)
        )
    }
}

/// `up`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UpRequest {
    /// Stop after this checkpoint (default: the last).
    pub checkpoint: Option<String>,
    /// Only these services and their dependencies.
    pub services: Vec<String>,
    /// Rebuild app services.
    pub build: bool,
    /// Take no checkpoints.
    pub no_checkpoints: bool,
    /// Ignore the checkpoint cache: take every checkpoint afresh.
    pub rebuild: bool,
}

/// `down`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DownRequest {
    /// Every environment, and the daemon (which stays while deployments run).
    pub all: bool,
    /// With `all`: remove deployments and previews too.
    pub deployments: bool,
    /// Stop only these services of HEAD, leaving its environment running (as
    /// `/api/services/stop`); refused together with `all`.
    pub services: Vec<String>,
}

/// `commit`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CommitRequest {
    /// Tag of the new checkpoint.
    pub tag: String,
    /// What it holds.
    #[serde(default)]
    pub message: Option<String>,
    /// Environment to commit (default: HEAD).
    #[serde(default)]
    pub env: Option<String>,
    /// Commit even when the snapshot store was full while the environment ran.
    #[serde(default)]
    pub force: bool,
}

/// `branch`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BranchRequest {
    /// Name of the new branch.
    pub alias: Option<String>,
    /// Checkpoint (id, tag or name) to fork; default HEAD's.
    pub from: Option<String>,
}

/// `checkout`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CheckoutRequest {
    /// Branch, environment id, or checkpoint tag.
    pub name: String,
}

/// `rollback`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RollbackRequest {
    /// Checkpoint tag or id, or `HEAD` (HEAD's own checkpoint).
    pub target: String,
}

/// `branch delete`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeleteRequest {
    /// Name, id or glob.
    pub name: String,
    /// Also HEAD.
    #[serde(default)]
    pub force: bool,
}

/// `PATCH /api/vm/{id}/state`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetStateRequest {
    /// Environment id or name.
    #[serde(default)]
    pub env: String,
    /// `paused` or `running`.
    pub state: String,
}

/// `test`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TestRequest {
    /// Suites (empty: all).
    pub suites: Vec<String>,
    /// Branches or scenarios (empty: all).
    pub scenarios: Vec<String>,
    /// Run branches concurrently.
    pub parallel: bool,
    /// Concurrency limit.
    pub jobs: Option<usize>,
    /// Per-branch time limit, e.g. `5m`.
    pub timeout: Option<String>,
    /// Keep failed branches' environments.
    pub keep_failed: bool,
    /// `I/N`.
    pub shard: Option<String>,
    /// Only branches whose name starts with this (added to `scenarios`).
    pub branch_prefix: Option<String>,
    /// Ignore the checkpoint cache: take every checkpoint (and suite setup) afresh.
    pub rebuild: bool,
}

/// `matrix`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MatrixRequest {
    /// `key=value` filters.
    pub filter: Vec<String>,
    /// Run combinations concurrently.
    pub parallel: bool,
    /// Keep going after a failing combination.
    pub continue_on_failure: bool,
    /// Ignore the checkpoint cache: take every combination's checkpoints afresh.
    pub rebuild: bool,
}

/// `chaos inject`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChaosInjectRequest {
    /// Target service.
    pub service: String,
    /// Action.
    pub action: String,
    /// Ends by itself after this long.
    #[serde(default)]
    pub duration: Option<String>,
    /// Added latency.
    #[serde(default)]
    pub latency: Option<String>,
    /// Latency jitter.
    #[serde(default)]
    pub jitter: Option<String>,
    /// Loss percentage.
    #[serde(default)]
    pub loss: Option<f64>,
    /// Bandwidth in KB/s.
    #[serde(default)]
    pub rate: Option<u64>,
    /// HTTP status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Share of requests, percent.
    #[serde(default)]
    pub percent: Option<f64>,
    /// Only traffic from these services.
    #[serde(default)]
    pub from: Vec<String>,
    /// Stress level in percent (cpu-stress, memory-stress).
    #[serde(default)]
    pub intensity: Option<u32>,
    /// Share of the volume to fill in percent (disk-fill; default 95).
    #[serde(default)]
    pub percentage: Option<u32>,
    /// Take no `pre-chaos-N` checkpoint first.
    #[serde(default)]
    pub no_checkpoint: bool,
}

/// `chaos recover`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChaosRecoverRequest {
    /// One service (default: all).
    pub service: Option<String>,
    /// Restore the environment's data to this checkpoint (or tag) instead.
    pub checkpoint: Option<String>,
}

/// `chaos run NAME`: a scenario of the manifest's `chaos.scenarios`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChaosRunRequest {
    /// Scenario name.
    pub name: String,
    /// Environment (branch name or id; default HEAD).
    #[serde(default)]
    pub branch: Option<String>,
    /// Take no `pre-chaos-N` checkpoint first.
    #[serde(default)]
    pub no_checkpoint: bool,
}

/// `logs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogsRequest {
    /// Service.
    pub service: String,
    /// Last N lines of each replica.
    pub lines: Option<usize>,
    /// Only files written within this long, e.g. `10m`.
    pub since: Option<String>,
}

/// `execute` / `connect`: where and how to run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecSpecRequest {
    /// In this service's context (its env, build directory and pod).
    pub service: Option<String>,
}

/// Run a command in HEAD, output captured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExecRequest {
    /// Shell command.
    pub command: String,
    /// In this service's context.
    #[serde(default)]
    pub service: Option<String>,
    /// Time limit, e.g. `30s`.
    #[serde(default)]
    pub timeout: Option<String>,
}

/// Sweep of a cancelled run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SweepRunRequest {
    /// Run id.
    pub run: String,
}

/// Which postgres service and database of HEAD (default: the manifest's first postgres
/// service and its first database).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DbTargetRequest {
    /// Postgres service.
    pub service: Option<String>,
    /// Database.
    pub database: Option<String>,
}

/// `db query`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DbQueryRequest {
    /// SQL to run (several statements: the last one's rows return).
    pub query: String,
    /// Postgres service.
    #[serde(default)]
    pub service: Option<String>,
    /// Database.
    #[serde(default)]
    pub database: Option<String>,
}

/// `diff`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DiffRequest {
    /// The older side: `HEAD`, a branch (name or id) or a checkpoint (tag or id).
    pub from: String,
    /// The newer side (default: `HEAD`).
    #[serde(default)]
    pub to: Option<String>,
    /// Aspects: database, files, config, processes, logs (empty: database, files, config).
    #[serde(default)]
    pub aspects: Vec<String>,
}

/// `down --services`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StopServicesRequest {
    /// Services of HEAD to stop.
    pub services: Vec<String>,
}

/// The daemon's half of `remove SERVICE`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RetireServiceRequest {
    /// The service.
    pub service: String,
}

/// `checkpoint rm`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CheckpointRmRequest {
    /// Tag, name or id of the checkpoint.
    pub name: String,
}

/// `docs [--run ID]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DocsRequest {
    /// Test run whose traffic to use (default: the latest finished run).
    pub run: Option<String>,
}

/// `export`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExportRequest {
    /// `compose` or `kubernetes` (`oci`, `raw`, `ami`, `gce` need the hosted service).
    pub format: String,
    /// Absolute directory the files will be written in (default: `vers-export/FORMAT` in
    /// the project); build contexts are written relative to it.
    #[serde(default)]
    pub dir: Option<String>,
    /// Deploy target whose `env` and `scaling` apply to the apps.
    #[serde(default)]
    pub target: Option<String>,
}

/// `deploy NAME [--from X]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeployRequest {
    /// Deployment name (a `deploy:` target; hosted targets are refused).
    pub name: String,
    /// Checkpoint, tag or branch to deploy (default: a new checkpoint of HEAD).
    #[serde(default)]
    pub from: Option<String>,
}

/// `deploy rollback NAME [--to V]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DeployRollbackRequest {
    /// Deployment name.
    pub name: String,
    /// Version to run (default: the one before the current).
    pub to: Option<u32>,
}

/// `deploy rm NAME`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DeployRemoveRequest {
    /// Deployment name.
    pub name: String,
}

/// `preview create NAME [--from X] [--ttl D]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PreviewRequest {
    /// Preview name.
    pub name: String,
    /// Checkpoint, tag or branch (default: a new checkpoint of HEAD).
    #[serde(default)]
    pub from: Option<String>,
    /// Time to live (`24h`, `2s`); none: until `preview rm`.
    #[serde(default)]
    pub ttl: Option<String>,
}
