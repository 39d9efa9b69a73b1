//! Command-line grammar of `vers`: `vers integration <cmd>` and the `vers <cmd>` aliases.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The `vers` command line.
#[derive(Debug, Parser)]
#[command(
    name = "vers",
    version,
    about = "Bring up a stack from vers-integration.yaml, checkpoint it, and run tests on copy-on-write branches",
    propagate_version = true
)]
pub struct Cli {
    /// Path to the manifest (default: vers-integration.yaml found from the current directory upwards).
    #[arg(short = 'f', long = "file", global = true, value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: TopCommand,
}

/// Top-level commands: the `integration` group plus an alias for each of its commands.
#[derive(Debug, Subcommand)]
pub enum TopCommand {
    /// Integration commands (the canonical form; each is also available as `vers <cmd>`).
    #[command(subcommand)]
    Integration(IntegrationCommand),
    #[command(flatten)]
    Alias(IntegrationCommand),
    /// List or install engine versions (PostgreSQL majors, Redis, ...).
    #[command(subcommand)]
    Engines(EnginesCommand),
    /// Run the supervisor of a project (started automatically; not for direct use).
    #[command(hide = true)]
    Daemon(DaemonArgs),
    /// Run a built-in mock server (started by the runtime; not for direct use).
    #[command(subcommand, hide = true)]
    Mock(MockCommand),
    /// Hold memory for `chaos inject --action memory-stress` (not for direct use).
    #[command(hide = true, name = "stress-memory")]
    StressMemory {
        /// Bytes to allocate and touch.
        bytes: u64,
    },
}

/// Commands of `vers integration`.
#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Parse and check the manifest, printing errors with file:line:col.
    Validate(JsonArg),
    /// Show start waves, checkpoints, tests and matrix combinations.
    Plan(JsonArg),
    /// Write a new manifest from a stack template.
    Init(InitArgs),
    /// Add a service to the manifest, keeping comments and formatting.
    Add(AddArgs),
    /// Start the root environment, take its checkpoints and make it HEAD.
    Up(UpArgs),
    /// Stop HEAD's environment (or every environment with --all) and free everything.
    Down(DownArgs),
    /// Show environments, services, health and endpoints.
    Status(JsonArg),
    /// Show a service's logs in the HEAD environment.
    Logs(LogsArgs),
    /// Run the test suites, each branch on its own copy-on-write branch.
    Test(TestArgs),
    /// Run checkpoints and tests for every combination of the version matrix.
    Matrix(MatrixArgs),
    /// Run a command inside the HEAD environment.
    Execute(ExecuteArgs),
    /// Open an interactive shell inside the HEAD environment.
    Connect(ConnectArgs),
    /// Checkpoint the HEAD environment under a tag.
    Commit(CommitArgs),
    /// Fork a branch from a checkpoint, or list/delete branches.
    Branch(BranchArgs),
    /// Make a branch or tag HEAD (a tag forks a fresh branch from it).
    Checkout(CheckoutArgs),
    /// Reset HEAD's data to a checkpoint (HEAD = its own parent checkpoint).
    Rollback(RollbackArgs),
    /// Show the checkpoint tree.
    Log(LogArgs),
    /// Inject, recover and list faults in the HEAD environment.
    #[command(subcommand)]
    Chaos(ChaosCommand),
}

/// Just the `--json` switch.
#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Project name written into the manifest.
    pub name: String,
    /// Stack template: blank, saas-starter, event-driven-microservices, data-pipeline, ecommerce-platform, multi-tenant-saas.
    #[arg(long, default_value = "blank")]
    pub template: String,
    /// Directory to write into (default: the current directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Arguments of `add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Template and version, e.g. `postgres@15`.
    pub template: String,
    /// Service name (default: the template name).
    #[arg(long)]
    pub alias: Option<String>,
    /// Template options as key=value (lists as a,b); repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
}

/// Arguments of `up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Stop after this checkpoint.
    #[arg(long)]
    pub checkpoint: Option<String>,
    /// Start only these services (and their dependencies), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub services: Vec<String>,
    /// Rebuild app services even if a build exists.
    #[arg(long)]
    pub build: bool,
    /// Start services without taking or restoring any checkpoint.
    #[arg(long)]
    pub no_checkpoints: bool,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `down`.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Stop every environment of the project and the supervisor.
    #[arg(long)]
    pub all: bool,
}

/// Arguments of `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Service name.
    pub service: String,
    /// Show the last N lines.
    #[arg(long, short = 'n')]
    pub lines: Option<usize>,
    /// Only lines written within this duration (e.g. 5m).
    #[arg(long)]
    pub since: Option<String>,
    /// Keep printing new lines.
    #[arg(long, short = 'F')]
    pub follow: bool,
}

/// Arguments of `test`.
#[derive(Debug, Args, Clone, Default)]
pub struct TestArgs {
    /// Run only this suite (repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub suite: Vec<String>,
    /// Run only this branch (scenario) of the selected suites.
    #[arg(long, value_delimiter = ',')]
    pub scenario: Vec<String>,
    /// Run branches of every suite concurrently.
    #[arg(long)]
    pub parallel: bool,
    /// Maximum branches running at once (default: from cores and the vm budget).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Per-branch timeout (e.g. 90s), overriding the suites' timeout.
    #[arg(long)]
    pub timeout: Option<String>,
    /// Keep the environments of failed branches for inspection.
    #[arg(long)]
    pub keep_failed: bool,
    /// Write a JUnit XML report to this path.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// Run only shard I of N (1-based), e.g. 2/4.
    #[arg(long)]
    pub shard: Option<String>,
}

/// Arguments of `matrix`.
#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Only combinations matching key=value pairs, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub filter: Vec<String>,
    /// Run combinations concurrently.
    #[arg(long)]
    pub parallel: bool,
    /// Keep going after a failing combination.
    #[arg(long)]
    pub continue_on_failure: bool,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `execute`.
#[derive(Debug, Args)]
pub struct ExecuteArgs {
    /// Shell command to run.
    pub command: String,
    /// Run in this service's context (its env and working directory).
    #[arg(long)]
    pub service: Option<String>,
}

/// Arguments of `connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Open the shell in this service's context.
    #[arg(long)]
    pub service: Option<String>,
}

/// Arguments of `commit`.
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Tag naming the checkpoint.
    #[arg(long)]
    pub tag: String,
    /// Description stored with the checkpoint.
    #[arg(long, short = 'm')]
    pub message: Option<String>,
}

/// Arguments of `branch`.
#[derive(Debug, Args)]
pub struct BranchArgs {
    #[command(subcommand)]
    pub action: Option<BranchAction>,
    /// Name of the new branch.
    #[arg(long)]
    pub alias: Option<String>,
    /// Checkpoint or tag to fork from (default: HEAD's latest checkpoint).
    #[arg(long)]
    pub from: Option<String>,
}

/// Sub-actions of `branch`.
#[derive(Debug, Subcommand)]
pub enum BranchAction {
    /// List environments of the project.
    List {
        /// Output format.
        #[arg(long, default_value = "table", value_parser = ["json", "table", "names"])]
        format: String,
    },
    /// Remove branches by name or glob.
    Delete {
        /// Branch name or glob.
        name: String,
        /// Also delete HEAD or the root environment.
        #[arg(long)]
        force: bool,
    },
}

/// Arguments of `checkout`.
#[derive(Debug, Args)]
pub struct CheckoutArgs {
    /// Branch or tag.
    pub name: String,
}

/// Arguments of `rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Checkpoint tag, or HEAD for HEAD's own parent checkpoint.
    pub target: String,
}

/// Arguments of `log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Output format.
    #[arg(long, default_value = "checkpoints", value_parser = ["checkpoints", "json"])]
    pub format: String,
}

/// `vers chaos` actions.
#[derive(Debug, Subcommand)]
pub enum ChaosCommand {
    /// Inject a fault into one service of the HEAD environment.
    Inject(ChaosInjectArgs),
    /// End faults (all, or one service's) and restart killed services.
    Recover {
        /// Only this service.
        #[arg(long)]
        service: Option<String>,
    },
    /// Show active faults.
    List(JsonArg),
}

/// Arguments of `chaos inject`.
#[derive(Debug, Args)]
pub struct ChaosInjectArgs {
    /// Target service.
    #[arg(long)]
    pub service: String,
    /// pause, kill, network-delay, network-loss, network-isolate, bandwidth, reset-peer, timeout, http-error, cpu-stress, memory-stress, disk-fill.
    #[arg(long)]
    pub action: String,
    /// End the fault by itself after this long.
    #[arg(long)]
    pub duration: Option<String>,
    /// Added latency (network-delay).
    #[arg(long)]
    pub latency: Option<String>,
    /// Latency jitter (network-delay).
    #[arg(long)]
    pub jitter: Option<String>,
    /// Share of connections dropped, in percent (network-loss).
    #[arg(long)]
    pub loss: Option<f64>,
    /// Bandwidth cap in KB/s (bandwidth).
    #[arg(long)]
    pub rate: Option<u64>,
    /// HTTP status to answer with (http-error).
    #[arg(long)]
    pub status: Option<u16>,
    /// Share of requests affected, in percent (http-error; default 100).
    #[arg(long)]
    pub percent: Option<f64>,
    /// Only traffic from these services, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub from: Vec<String>,
}

/// `vers engines` actions.
#[derive(Debug, Subcommand)]
pub enum EnginesCommand {
    /// Show engine versions on this machine and where each comes from.
    List(JsonArg),
    /// Install engine versions, e.g. `postgres@14 redis@7`.
    Install {
        /// TEMPLATE@VERSION items.
        #[arg(required = true)]
        engines: Vec<String>,
    },
}

/// Arguments of the hidden `daemon` command.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Project directory whose environments this supervisor owns.
    #[arg(long)]
    pub project: PathBuf,
}

/// Built-in mock servers.
#[derive(Debug, Subcommand)]
pub enum MockCommand {
    /// Stripe API mock.
    Stripe {
        #[arg(long)]
        listen: std::net::IpAddr,
        #[arg(long, default_value_t = 12111)]
        port: u16,
        #[arg(long)]
        https_port: Option<u16>,
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// OpenID Connect / OAuth provider mock.
    Oauth {
        #[arg(long)]
        listen: std::net::IpAddr,
        #[arg(long, default_value_t = 8080)]
        port: u16,
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        public_base: Option<String>,
    },
    /// SMTP capture server with the MailHog API.
    Mailhog {
        #[arg(long)]
        listen: std::net::IpAddr,
        #[arg(long, default_value_t = 1025)]
        smtp_port: u16,
        #[arg(long, default_value_t = 8025)]
        api_port: u16,
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}
