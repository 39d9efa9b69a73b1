//! What the engine tells a template about one process instance, and what a template hands
//! back: processes to launch, commands to execute and health probes.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// What the engine knows about one process instance of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceCtx {
    /// Service name in the manifest.
    pub service: String,
    /// Replica index, 0 for the first (or only) instance.
    pub replica: u32,
    /// Template name, e.g. `postgres`; `None` for app services.
    pub template: Option<String>,
    /// Requested version, e.g. `15`.
    pub version: Option<String>,
    /// The instance's own address: where other processes of the environment (probes,
    /// setup steps, the service's proxy) reach it.
    pub listen: Ipv4Addr,
    /// The address the server binds. Under vers every instance runs in a network namespace
    /// of its own (as a container does), so this is `0.0.0.0` and `localhost` inside the
    /// instance reaches the instance itself; tests running servers side by side on the host
    /// set it to `listen`.
    pub bind: Ipv4Addr,
    /// Ports the process listens on; the first is the main one (tests may pick free ports).
    pub ports: Vec<u16>,
    /// Persistent data directory, captured by checkpoints; exists and is owned by the engine user.
    pub data_dir: PathBuf,
    /// Scratch directory for sockets, pid and generated config files; not captured; short.
    pub run_dir: PathBuf,
    /// The project directory (holding `vers-integration.yaml`).
    pub project_dir: PathBuf,
    /// The manifest's `config:` block of the service (already validated; may be `Null`).
    pub config: serde_json::Value,
    /// The service's `env` after interpolation.
    pub env: BTreeMap<String, String>,
    /// Uid of the unprivileged user the engine runs processes as.
    pub user_uid: u32,
    /// Gid of that user.
    pub user_gid: u32,
    /// Path of the `vers` binary, which serves the built-in mocks.
    pub vers_exe: PathBuf,
    /// Hostname the other processes of the environment use, e.g. `postgres`.
    pub public_name: String,
    /// Memory limit of the service in bytes, if any.
    pub memory_limit: Option<u64>,
    /// The app's command (`command:` or detected), for app services.
    pub command: Option<String>,
    /// The app's build context directory, for services with `build:`.
    pub build_context: Option<PathBuf>,
    /// Every service of the environment by name (its hostname there) with its standard ports,
    /// main first: what a gateway or a client template needs to reach the others.
    pub peers: BTreeMap<String, Vec<u16>>,
}

impl InstanceCtx {
    /// The `n`th port of the instance, or `default` when the engine gave fewer ports.
    pub fn port(&self, n: usize, default: u16) -> u16 {
        self.ports.get(n).copied().unwrap_or(default)
    }
}

/// A long-running process to start (the service's server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// Absolute path of the program.
    pub program: PathBuf,
    /// Arguments (argv without the program).
    pub args: Vec<String>,
    /// Environment of the process (the engine adds nothing for engine processes).
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub cwd: PathBuf,
}

/// A command run to completion, as the engine user, with a cleared environment plus `env`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    /// Absolute path of the program (or a name the engine finds on its default `PATH`).
    pub program: PathBuf,
    /// Arguments (argv without the program).
    pub args: Vec<String>,
    /// Environment variables of the command.
    pub env: BTreeMap<String, String>,
    /// Working directory; `None` lets the engine choose (the project directory).
    pub cwd: Option<PathBuf>,
    /// Bytes fed to standard input; templates of this crate never need it.
    pub stdin: Option<Vec<u8>>,
}

impl Exec {
    /// A command running `program` with `args`, no extra environment and the engine's default cwd.
    pub fn new<I, S>(program: impl Into<PathBuf>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Exec {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: BTreeMap::new(),
            cwd: None,
            stdin: None,
        }
    }

    /// The same command with `env` added to its environment.
    pub fn with_env(mut self, env: BTreeMap<String, String>) -> Self {
        self.env.extend(env);
        self
    }

    /// The same command run in `cwd`.
    pub fn in_dir(mut self, cwd: impl Into<PathBuf>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }
}

/// How the engine decides that an instance is healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Healthy when the command exits 0 (run inside the environment).
    Exec(Exec),
    /// Healthy when `GET path` on the instance's address and `port` answers 2xx.
    Http {
        /// Port on the instance's listen address.
        port: u16,
        /// Path with query, e.g. `/v1/charges`.
        path: String,
        /// Request headers.
        headers: Vec<(String, String)>,
    },
    /// Healthy when a TCP connection to the instance's address and `port` succeeds.
    Tcp {
        /// Port on the instance's listen address.
        port: u16,
    },
    /// Healthy when, after connecting to `port` and writing `send` (may be empty), the first
    /// bytes the server answers hold `expect` at offset `expect_at`: a protocol-level check
    /// (a Kafka ApiVersions reply, an AMQP `connection.start`, a MySQL greeting) that needs
    /// no client program.
    Exchange {
        /// Port on the instance's listen address.
        port: u16,
        /// Bytes written once connected.
        send: Vec<u8>,
        /// Offset of `expect` in the reply.
        expect_at: usize,
        /// Bytes the reply must hold at `expect_at`.
        expect: Vec<u8>,
    },
}
