//! Request and response bodies of the supervisor's local HTTP+JSON API.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Create an environment: namespace, hosts file, cgroup and in-namespace runtime.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvSpec {
    /// Environment id.
    pub id: String,
    /// Network namespace name.
    pub netns: String,
    /// Hostname -> address entries of the environment's hosts file.
    pub hosts: Vec<(String, Ipv4Addr)>,
    /// Cgroup path of the environment.
    pub cgroup: String,
    /// Memory budget of the environment (bytes).
    pub memory_limit: Option<u64>,
    /// CPU budget of the environment (cores).
    pub cpu_limit: Option<f64>,
    /// The network of front addresses, made local in the namespace (e.g. `10.99.0.0/16`).
    pub front_net: String,
}

/// One process to run (a replica of a service).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// Program to execute.
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// Full environment.
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Run as the unprivileged engine user (else as the supervisor's user).
    pub engine_user: bool,
    /// Log file receiving stdout and stderr.
    pub log: PathBuf,
    /// The pod namespace the process runs in; `None`: the environment's own namespace.
    #[serde(default)]
    pub netns: Option<String>,
}

/// A service instance's own network namespace, linked to the environment's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PodSpec {
    /// Namespace name.
    pub netns: String,
    /// Name of the environment's end of the veth pair.
    pub veth: String,
    /// The instance's address.
    pub address: Ipv4Addr,
}

/// A host port forward of a service port.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostPort {
    /// Port inside the environment.
    pub container: u16,
    /// Fixed host port (`ports: ["3001:3000"]`), else any free port.
    pub host: Option<u16>,
}

/// Start a service: its processes, its front proxy and its host forwards.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Service name.
    pub name: String,
    /// Address the service's name resolves to.
    pub front: Ipv4Addr,
    /// Standard ports.
    pub ports: Vec<u16>,
    /// Ports that speak HTTP (HTTP faults apply).
    pub http_ports: Vec<u16>,
    /// Ports where a Kafka broker advertises the service's name: their host forwards put
    /// their own address in its place (see `supervisor::kafka_forward`).
    #[serde(default)]
    pub kafka_ports: Vec<u16>,
    /// Whether the service is started again on its data when a disk-fill of it ends (its
    /// engine stays up but broken after a full disk, see `Template::restart_after_disk_full`).
    #[serde(default)]
    pub restart_after_fill: bool,
    /// Each replica's pod; its address is the proxy's backend for that replica.
    pub pods: Vec<PodSpec>,
    /// The processes of every replica (each runs in its replica's pod).
    pub processes: Vec<ProcessSpec>,
    /// Host forwards.
    pub host_ports: Vec<HostPort>,
    /// Memory limit of the service (bytes).
    pub memory_limit: Option<u64>,
    /// CPU limit of the service (cores).
    pub cpu_limit: Option<f64>,
}

/// State of one process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessStatus {
    /// Process id (also its process group).
    pub pid: i32,
    /// Still running.
    pub alive: bool,
    /// Exit code or signal description once it ended.
    pub exit: Option<String>,
}

/// State of a service as the supervisor sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// Service name.
    pub name: String,
    /// `running`, `stopped`, `paused` or `failed`.
    pub state: String,
    /// Front address.
    pub front: Ipv4Addr,
    /// Standard ports.
    pub ports: Vec<u16>,
    /// Replica processes.
    pub processes: Vec<ProcessStatus>,
    /// container port -> `127.0.0.1:PORT` on the host.
    pub host_endpoints: BTreeMap<u16, String>,
    /// Active faults.
    pub faults: Vec<FaultInfo>,
    /// Stress actions in force (`cpu-stress`, `memory-stress`, `disk-fill`).
    #[serde(default)]
    pub stress: Vec<String>,
    /// CPU time the service's processes used, in microseconds (its cgroup's).
    #[serde(default)]
    pub cpu_usec: Option<u64>,
    /// Memory its processes use, in bytes (its cgroup's).
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

/// State of an environment as the supervisor sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvState {
    /// Environment id.
    pub id: String,
    /// Network namespace name.
    pub netns: String,
    /// Whether the whole environment is frozen.
    pub frozen: bool,
    /// Services in start order.
    pub services: Vec<ServiceStatus>,
}

/// A fault to inject into a service's proxy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRequest {
    /// The fault (proxy vocabulary).
    pub fault: vers_proxy::Fault,
}

/// An active fault.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultInfo {
    /// Fault id within the service.
    pub id: u64,
    /// The fault.
    pub fault: vers_proxy::Fault,
}

/// A plain acknowledgement or error body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reply {
    /// Whether the request succeeded.
    pub ok: bool,
    /// Error text when it did not.
    pub error: Option<String>,
}

/// A health probe run inside an environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ProbeSpec {
    /// Healthy when the process exits 0.
    Exec(ProcessSpec),
    /// Healthy on a 2xx answer to `GET path`.
    Http {
        /// Address to connect to.
        addr: Ipv4Addr,
        /// Port.
        port: u16,
        /// Request path.
        path: String,
        /// Extra headers.
        headers: Vec<(String, String)>,
    },
    /// Healthy when a TCP connection is accepted.
    Tcp {
        /// Address to connect to.
        addr: Ipv4Addr,
        /// Port.
        port: u16,
    },
    /// Healthy when a TCP connection is accepted or, failing that, when process `replica` of
    /// `service` has run `settle_ms` without exiting: an app that declares no port may be a
    /// worker that listens on nothing.
    TcpOrRunning {
        /// Address to connect to.
        addr: Ipv4Addr,
        /// Port the app is told to listen on (`PORT`).
        port: u16,
        /// Service whose process is checked.
        service: String,
        /// Replica of that process.
        replica: u32,
        /// How long the process must have run (`u64::MAX`: never enough, the app declares
        /// a port it must answer on).
        settle_ms: u64,
    },
    /// Healthy when the reply to `send` holds `expect` at `expect_at`.
    Exchange {
        /// Address to connect to.
        addr: Ipv4Addr,
        /// Port.
        port: u16,
        /// Bytes written once connected.
        send: Vec<u8>,
        /// Offset of `expect` in the reply.
        expect_at: usize,
        /// Bytes the reply must hold there.
        expect: Vec<u8>,
    },
}

/// Fixed host ports an environment takes over (`vers checkout` makes it HEAD).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TakeHostPorts {
    /// The ports, each of one service.
    pub ports: Vec<TakenPort>,
}

/// A fixed host port of a service (`ports: ["3001:3000"]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TakenPort {
    /// Service name.
    pub service: String,
    /// Port inside the environment.
    pub container: u16,
    /// Port on 127.0.0.1 of the host.
    pub host: u16,
}

/// Run a probe with a time limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeRequest {
    /// What to check.
    pub probe: ProbeSpec,
    /// Time limit in milliseconds.
    pub timeout_ms: u64,
}

/// Outcome of a probe.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Whether the check passed.
    pub healthy: bool,
    /// Output or error text (for failure messages).
    pub detail: String,
    /// Passed because the process kept running, not because it answered (`TcpOrRunning`).
    #[serde(default)]
    pub running_only: bool,
    /// Failed in a way waiting cannot mend (the app listens where no one can reach it).
    #[serde(default)]
    pub fatal: bool,
}

impl ProbeResult {
    /// A passed check.
    pub fn pass(detail: impl Into<String>) -> ProbeResult {
        ProbeResult {
            healthy: true,
            detail: detail.into(),
            running_only: false,
            fatal: false,
        }
    }

    /// A failed check, worth repeating.
    pub fn fail(detail: impl Into<String>) -> ProbeResult {
        ProbeResult {
            healthy: false,
            detail: detail.into(),
            running_only: false,
            fatal: false,
        }
    }
}

/// A fault that acts on a service's processes rather than its traffic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ChaosAction {
    /// Freeze the service's processes.
    Pause,
    /// SIGKILL the service's processes; it stays down until recovered.
    Kill,
    /// Busy-loop workers in the service's cgroup.
    CpuStress {
        /// Number of busy workers.
        workers: u32,
        /// Share of each 100 ms period a worker is busy (percent).
        load: u32,
    },
    /// A process in the service's cgroup holding this much memory.
    MemoryStress {
        /// Bytes to allocate and touch.
        bytes: u64,
    },
    /// A file filling the service's data directory.
    DiskFill {
        /// The service's data directory.
        dir: PathBuf,
        /// Bytes to write (bounded by free space).
        bytes: u64,
        /// The environment's data volume, whose quota is lowered while the fill lasts.
        #[serde(default)]
        volume: Option<PathBuf>,
        /// Bytes left writable once the fill is written (the rest of the service's volume).
        #[serde(default)]
        headroom: u64,
    },
}

/// Inject a process-level fault, optionally ending by itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChaosRequest {
    /// What to do.
    pub action: ChaosAction,
    /// End it after this many milliseconds.
    pub duration_ms: Option<u64>,
}

/// End faults of an environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecoverRequest {
    /// Only this service.
    pub service: Option<String>,
}

/// Body of `POST /v1/envs/{id}/snapshot`: freeze, snapshot the volume as `checkpoint`, thaw,
/// all inside the daemon so no client death can leave the environment frozen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotRequest {
    /// Id the new checkpoint gets in the snapshot store.
    pub checkpoint: String,
}

/// The traffic one proxy of a service recorded (`GET /v1/envs/{id}/traffic`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProxyTraffic {
    /// Service name.
    pub service: String,
    /// The port the proxy serves.
    pub port: u16,
    /// Whether the port speaks HTTP (requests are recorded).
    pub http: bool,
    /// What was recorded.
    pub traffic: vers_proxy::TrafficSnapshot,
}
