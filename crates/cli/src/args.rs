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

    /// Pass host variable VAR through to the commands run in environments (test commands,
    /// hooks, scripts, health checks), which otherwise get a clean environment; repeatable.
    #[arg(long = "pass-env", global = true, value_name = "VAR")]
    pub pass_env: Vec<String>,

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
    /// Serve MCP on stdin/stdout so coding agents drive vers (register `vers mcp` with the agent).
    Mcp,
    /// Run one engine operation for the daemon (not for direct use).
    #[command(hide = true, name = "__worker")]
    Worker,
    /// Hold memory for `chaos inject --action memory-stress` (not for direct use).
    #[command(hide = true, name = "stress-memory")]
    StressMemory {
        /// Bytes to allocate and touch.
        bytes: u64,
    },
    /// Burn CPU for `chaos inject --action cpu-stress` (not for direct use).
    #[command(hide = true, name = "stress-cpu")]
    StressCpu {
        /// Share of each 100 ms period spent busy, in percent.
        load: u32,
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
    /// Remove a service from the manifest (refused while others depend on it) and stop it in HEAD.
    Remove(RemoveArgs),
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
    /// Delete checkpoints: one by tag, or every one no branch or tag needs.
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
    /// Inject, recover and list faults in the HEAD environment.
    #[command(subcommand)]
    Chaos(ChaosCommand),
    /// Compare HEAD with a branch or checkpoint, or two of them: database, files, config…
    Diff(DiffArgs),
    /// Inspect a postgres service of HEAD: run SQL, count rows, dump the schema.
    #[command(subcommand)]
    Db(DbCommand),
    /// Write the stack as a Compose file or Kubernetes manifests.
    Export(ExportArgs),
    /// Write integration docs (topology, upstreams, key flows, failure handling) from the
    /// manifest and the traffic recorded during the last test run.
    Docs(DocsArgs),
    /// Deploy a named, long-lived local environment (new version each time), or roll back / remove one.
    Deploy(DeployArgs),
    /// List local deployments with version, source checkpoint, state and endpoints.
    Deployments(JsonArg),
    /// Preview environments: create (with a TTL), list, remove.
    #[command(subcommand)]
    Preview(PreviewCommand),
    /// Serve the web dashboard on 127.0.0.1 and print its URL (with its token) first.
    Dashboard(DashboardArgs),
}

/// `vers preview ...`.
#[derive(Debug, Subcommand)]
pub enum PreviewCommand {
    /// Create (or redeploy) a preview from a checkpoint, tag or branch.
    Create {
        /// Preview name.
        name: String,
        /// Checkpoint, tag or branch (default: a new checkpoint of HEAD).
        #[arg(long)]
        from: Option<String>,
        /// Time to live (e.g. 24h, 30m, 2s); the daemon removes it afterwards.
        #[arg(long)]
        ttl: Option<String>,
        /// Print one JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List previews.
    List(JsonArg),
    /// Remove a preview.
    Rm {
        /// Preview name.
        name: String,
        /// Print one JSON document on stdout (what `rm` prints anyway).
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `deploy`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DeployArgs {
    #[command(subcommand)]
    pub action: Option<DeployAction>,
    /// Deployment name (a `deploy:` target; hosted targets are refused).
    pub name: Option<String>,
    /// Checkpoint, tag or branch to deploy (default: a new checkpoint of HEAD).
    #[arg(long)]
    pub from: Option<String>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Sub-actions of `deploy`.
#[derive(Debug, Subcommand)]
pub enum DeployAction {
    /// Run an earlier version again, code and data from its checkpoint.
    Rollback {
        /// Deployment name.
        name: String,
        /// Version to run (default: the one before the current).
        #[arg(long)]
        to: Option<u32>,
        /// Print one JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Stop and forget a deployment.
    Rm {
        /// Deployment name.
        name: String,
        /// Print one JSON document on stdout (what `rm` prints anyway).
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// `compose` or `kubernetes`.
    pub format: String,
    /// Compose: the file to write (default vers-export/compose/compose.yaml in the project);
    /// Kubernetes: the directory (default vers-export/kubernetes).
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Apply this deploy target's `env` and `scaling` to the apps.
    #[arg(long)]
    pub target: Option<String>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `docs`.
#[derive(Debug, Args)]
pub struct DocsArgs {
    /// Write to this file, or into this directory as INTEGRATION.md (integration.json with
    /// --json); default: standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,
    /// Use the traffic of this test run (default: the latest finished run).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// The same content as JSON data instead of Markdown.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Port to serve on the first time (default: any free port); the daemon keeps serving
    /// there while it lives, and later calls print the same URL.
    #[arg(long)]
    pub port: Option<u16>,
    /// Only print the URL; do not try to open a browser.
    #[arg(long)]
    pub no_open: bool,
    /// Print one JSON document on stdout, `{"url"}`, and open no browser.
    #[arg(long)]
    pub json: bool,
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
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Template and version, e.g. `postgres@15`.
    pub template: String,
    /// Service name (default: the template name).
    #[arg(long)]
    pub alias: Option<String>,
    /// Template options as key=value (lists as a,b or [a,b]; a list key takes one item too);
    /// repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
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
    /// Ignore the checkpoint cache: take every checkpoint afresh.
    #[arg(long)]
    pub rebuild: bool,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `down`.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Stop every environment of the project and the supervisor (deployments and previews
    /// keep running, and the supervisor with them, unless --deployments).
    #[arg(long, conflicts_with = "services")]
    pub all: bool,
    /// With --all: remove deployments and previews too.
    #[arg(long, requires = "all")]
    pub deployments: bool,
    /// Stop only these services of HEAD, comma-separated (the environment stays).
    #[arg(long, value_delimiter = ',')]
    pub services: Vec<String>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Service to remove.
    pub service: String,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Branch (alias or id) or checkpoint (tag or id) to compare HEAD with, or `HEAD`.
    pub target: String,
    /// With a second name: compare TARGET (older) with it (newer) instead of with HEAD.
    pub other: Option<String>,
    /// Aspects to compare, comma-separated: database, files, config, processes, logs
    /// (default: database,files,config).
    #[arg(long, value_delimiter = ',')]
    pub aspects: Vec<String>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `vers db` actions.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Run SQL and print the rows (`--json`: typed values).
    Query(DbQueryArgs),
    /// Exact row counts of every table of every user schema.
    Counts(DbArgs),
    /// The schema, as `pg_dump --schema-only` prints it.
    Schema(DbSchemaArgs),
}

/// Which postgres service and database.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// Database (default: the service's first configured database, else `postgres`).
    #[arg(long)]
    pub database: Option<String>,
    /// Postgres service (default: the manifest's first).
    #[arg(long)]
    pub service: Option<String>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `db query`.
#[derive(Debug, Args)]
pub struct DbQueryArgs {
    /// SQL to run (several statements: all run, the last one's rows are printed).
    pub sql: String,
    #[command(flatten)]
    pub target: DbArgs,
}

/// Arguments of `db schema`.
#[derive(Debug, Args)]
pub struct DbSchemaArgs {
    /// Database (default: the service's first configured database, else `postgres`).
    #[arg(long)]
    pub database: Option<String>,
    /// Postgres service (default: the manifest's first).
    #[arg(long)]
    pub service: Option<String>,
    /// Write the SQL to this file instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Print one JSON document on stdout: `{"service","database","sql"}` (or, with
    /// `--output`, `{"service","database","bytes","path"}`).
    #[arg(long)]
    pub json: bool,
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
    #[arg(long, short = 'F', conflicts_with = "json")]
    pub follow: bool,
    /// Print one JSON document on stdout: `{"environment","service","replicas","files":[{"path","lines"}]}`.
    #[arg(long)]
    pub json: bool,
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
    /// Run only shard I of N (1-based), e.g. 2/4; a shard also runs the suites its suites
    /// `depends_on`.
    #[arg(long)]
    pub shard: Option<String>,
    /// Ignore the checkpoint cache: take every checkpoint and suite setup afresh.
    #[arg(long)]
    pub rebuild: bool,
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
    /// Ignore the checkpoint cache: take every combination's checkpoints afresh.
    #[arg(long)]
    pub rebuild: bool,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `execute`.
#[derive(Debug, Args)]
pub struct ExecuteArgs {
    /// Shell command to run.
    pub command: String,
    /// Run in this service's context: its network, working directory and the env it was
    /// started with (a catalog service adds its client variables, e.g. PGHOST).
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
    /// Commit even when the snapshot store was full while the environment ran (its data may
    /// lack writes that failed with ENOSPC).
    #[arg(long)]
    pub force: bool,
    /// Print one JSON document on stdout (what `commit` prints anyway: `{"commit_id","tag"}`).
    #[arg(long)]
    pub json: bool,
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
    /// Print one JSON document on stdout (what a new branch prints anyway: `{"id","name","from"}`).
    #[arg(long)]
    pub json: bool,
}

/// Sub-actions of `branch`.
#[derive(Debug, Subcommand)]
pub enum BranchAction {
    /// List environments of the project.
    List {
        /// Output format.
        #[arg(long, default_value = "table", value_parser = ["json", "table", "names"])]
        format: String,
        /// Print one JSON document on stdout (same as `--format json`).
        #[arg(long)]
        json: bool,
    },
    /// Remove branches by name or glob.
    Delete {
        /// Branch name or glob.
        name: String,
        /// Also delete HEAD or the root environment.
        #[arg(long)]
        force: bool,
        /// Print one JSON document on stdout: `{"deleted":[names]}`.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `checkout`.
#[derive(Debug, Args)]
pub struct CheckoutArgs {
    /// Branch or tag.
    pub name: String,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Checkpoint tag, or HEAD for HEAD's own parent checkpoint.
    pub target: String,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Output format.
    #[arg(long, default_value = "checkpoints", value_parser = ["checkpoints", "json"])]
    pub format: String,
    /// Print one JSON document on stdout (same as `--format json`).
    #[arg(long)]
    pub json: bool,
}

/// `vers checkpoint` actions.
#[derive(Debug, Subcommand)]
pub enum CheckpointCommand {
    /// Delete a checkpoint (by tag, name or id) and every tag naming it.
    Rm {
        /// Tag, checkpoint name or id.
        tag: String,
        /// Print one JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Delete every checkpoint that no branch was forked from and no tag names.
    Prune(JsonArg),
}

/// `vers chaos` actions.
#[derive(Debug, Subcommand)]
pub enum ChaosCommand {
    /// Inject a fault into one service of the HEAD environment.
    Inject(ChaosInjectArgs),
    /// End faults (all, or one service's) and restart killed services, or restore the
    /// environment's data to a checkpoint.
    Recover {
        /// Only this service.
        #[arg(long)]
        service: Option<String>,
        /// Restore HEAD's data to this checkpoint or tag (e.g. pre-chaos-1), ending every fault.
        #[arg(long)]
        checkpoint: Option<String>,
        /// Print one JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Show active faults.
    List(JsonArg),
    /// Run a scenario of the manifest's `chaos.scenarios` against HEAD (or --branch).
    Run {
        /// Scenario name.
        name: String,
        /// Environment to run it against (branch name or id; default HEAD).
        #[arg(long)]
        branch: Option<String>,
        /// Take no `pre-chaos-N` checkpoint first.
        #[arg(long)]
        no_checkpoint: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
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
    /// Stress level in percent, 0–100 (cpu-stress, memory-stress; default 80).
    #[arg(long)]
    pub intensity: Option<u32>,
    /// Share of the service's volume to fill, in percent (disk-fill; default 95).
    #[arg(long)]
    pub percentage: Option<u32>,
    /// Take no `pre-chaos-N` checkpoint before injecting.
    #[arg(long)]
    pub no_checkpoint: bool,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `vers engines` actions.
#[derive(Debug, Subcommand)]
pub enum EnginesCommand {
    /// Show engine versions on this machine and where each comes from.
    List(JsonArg),
    /// Install engine versions, e.g. `postgres@14 redis@7`.
    Install {
        /// TEMPLATE@VERSION items, or TEMPLATE alone for its default version (any, when unversioned).
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
    /// The manifest the project was found by (`-f`); default: the one in `--project`.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
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
    /// Elasticsearch / OpenSearch REST API subset over tantivy (vers search), the stand-in
    /// for `elasticsearch@7`, `elasticsearch@8` and `opensearch@2`.
    Elasticsearch {
        #[arg(long)]
        listen: std::net::IpAddr,
        #[arg(long, default_value_t = 9200)]
        port: u16,
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
        /// Major version to answer as (7 or 8 for Elasticsearch, 2 for OpenSearch).
        #[arg(long, default_value = "8")]
        major: String,
        /// `elasticsearch` or `opensearch`.
        #[arg(long, default_value = "elasticsearch")]
        product: String,
        /// The `cluster_name` to report.
        #[arg(long, default_value = "vers")]
        cluster_name: String,
        /// The node name to report.
        #[arg(long, default_value = "vers-search")]
        node_name: String,
    },
    /// Confluent-compatible Schema Registry, beside a kafka service's broker.
    SchemaRegistry {
        #[arg(long)]
        listen: std::net::IpAddr,
        #[arg(long, default_value_t = 8081)]
        port: u16,
        #[arg(long)]
        data_dir: PathBuf,
        /// The broker (`HOST:PORT`) to wait for before serving.
        #[arg(long)]
        kafka: Option<std::net::SocketAddr>,
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
