//! The fault vocabulary (Toxiproxy's toxics plus HTTP errors) that can be attached to a proxy.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// Identifier of a fault attached to one [`crate::ServiceProxy`], used to remove it later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaultId(pub u64);

impl fmt::Display for FaultId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault-{}", self.0)
    }
}

/// One injected fault: what happens, to whose connections, and until when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// What the fault does to the traffic.
    pub kind: FaultKind,
    /// Only connections whose source address is one of these are affected; `None` affects everyone.
    #[serde(default)]
    pub from: Option<Vec<IpAddr>>,
    /// Wall-clock expiry: once passed the fault is ignored and pruned by itself.
    #[serde(default)]
    pub until: Option<SystemTime>,
}

impl Fault {
    /// A fault of `kind` affecting every client, with no expiry.
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            kind,
            from: None,
            until: None,
        }
    }

    /// Restricts the fault to connections coming from these source addresses.
    pub fn from_sources(mut self, sources: Vec<IpAddr>) -> Fault {
        self.from = Some(sources);
        self
    }

    /// Makes the fault end by itself after `duration` from now.
    pub fn lasting(mut self, duration: Duration) -> Fault {
        self.until = Some(SystemTime::now() + duration);
        self
    }

    /// Whether the fault has passed its `until` time at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.until.is_some_and(|until| until <= now)
    }

    /// Whether a connection from `peer` is subject to this fault.
    pub fn applies_to(&self, peer: IpAddr) -> bool {
        match &self.from {
            None => true,
            Some(sources) => sources.contains(&peer),
        }
    }
}

/// What a fault does; the names and semantics follow Toxiproxy's toxics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Every chunk sent toward the client is delayed by `latency` ± a uniform random `jitter`.
    Latency {
        /// Base delay added to each chunk.
        latency: Duration,
        /// Maximum random deviation from `latency`, either way.
        jitter: Duration,
    },
    /// Caps throughput in each direction at `rate_kbps` kilobytes (1000 bytes) per second, as Toxiproxy's `rate`.
    Bandwidth {
        /// Allowed rate in kilobytes (1000 bytes) per second per direction.
        rate_kbps: u64,
    },
    /// Stops forwarding data (held back, not lost) and closes the connection after `after` unless it is zero.
    Timeout {
        /// Time after which the connection is closed; zero keeps it stalled until the fault goes away.
        after: Duration,
    },
    /// Resets the client connection (TCP RST via SO_LINGER 0) `after` the fault reaches it.
    ResetPeer {
        /// Delay before the reset.
        after: Duration,
    },
    /// Delays closing the client side by `delay` once the service has closed its side.
    SlowClose {
        /// Extra time the client side stays open.
        delay: Duration,
    },
    /// Cuts data sent toward the client into small pieces of about `avg_size` bytes, `delay` apart.
    Slicer {
        /// Average slice size in bytes.
        avg_size: usize,
        /// Pause between slices.
        delay: Duration,
    },
    /// Closes the connection once `bytes` bytes have been sent toward the client.
    LimitData {
        /// Number of bytes let through before the close.
        bytes: u64,
    },
    /// The service is down: new connections are reset at once and existing ones are cut.
    Down,
    /// This share (0–100) of new connections is lost: stalled with no data, or reset.
    Loss {
        /// Percentage of new connections affected.
        percent: f64,
    },
    /// A network partition: like `Down`, normally combined with `from`.
    Isolate,
    /// HTTP services only: this share (0–100) of requests is answered with `status` instead of being forwarded.
    HttpError {
        /// The HTTP status code returned (typically 503 or 429).
        status: u16,
        /// Percentage of requests affected.
        percent: f64,
    },
}
