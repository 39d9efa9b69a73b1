//! The faults that apply to one connection, folded into the few numbers the data path needs.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use crate::fault::{FaultId, FaultKind};
use crate::registry::FaultList;

/// The effective faults for one client address at one registry generation.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ConnFaults {
    /// True when nothing applies: the data path copies bytes straight through.
    pub(crate) clear: bool,
    /// Service down or partitioned from this client.
    pub(crate) down: bool,
    /// Summed base latency and jitter toward the client.
    pub(crate) latency: Option<(Duration, Duration)>,
    /// Lowest bandwidth cap, in bytes per second.
    pub(crate) bytes_per_sec: Option<u64>,
    /// Timeout faults: id and close delay (zero = never close).
    pub(crate) timeouts: Vec<(FaultId, Duration)>,
    /// Reset faults: id and delay before the reset.
    pub(crate) resets: Vec<(FaultId, Duration)>,
    /// Longest slow-close delay.
    pub(crate) slow_close: Option<Duration>,
    /// Slicer average size and delay.
    pub(crate) slicer: Option<(usize, Duration)>,
    /// Limit-data faults: id and byte budget.
    pub(crate) limits: Vec<(FaultId, u64)>,
    /// Summed share (0–100) of new connections to lose.
    pub(crate) loss_percent: f64,
    /// HTTP error faults: status and share (0–100) of requests.
    pub(crate) http_errors: Vec<(u16, f64)>,
}

impl ConnFaults {
    /// Folds the unexpired faults of `list` that apply to `peer`.
    pub(crate) fn compute(list: &FaultList, peer: IpAddr, now: SystemTime) -> ConnFaults {
        let mut view = ConnFaults {
            clear: true,
            ..ConnFaults::default()
        };
        for (id, fault) in list.iter() {
            if fault.is_expired(now) || !fault.applies_to(peer) {
                continue;
            }
            view.clear = false;
            match &fault.kind {
                FaultKind::Down | FaultKind::Isolate => view.down = true,
                FaultKind::Latency { latency, jitter } => {
                    let (l, j) = view.latency.unwrap_or_default();
                    view.latency = Some((l + *latency, j + *jitter));
                }
                FaultKind::Bandwidth { rate_kbps } => {
                    let rate = rate_kbps.saturating_mul(1000).max(1);
                    view.bytes_per_sec = Some(view.bytes_per_sec.map_or(rate, |r| r.min(rate)));
                }
                FaultKind::Timeout { after } => view.timeouts.push((*id, *after)),
                FaultKind::ResetPeer { after } => view.resets.push((*id, *after)),
                FaultKind::SlowClose { delay } => {
                    view.slow_close = Some(view.slow_close.map_or(*delay, |d| d.max(*delay)));
                }
                FaultKind::Slicer { avg_size, delay } => {
                    view.slicer = Some(((*avg_size).max(1), *delay));
                }
                FaultKind::LimitData { bytes } => view.limits.push((*id, *bytes)),
                FaultKind::Loss { percent } => view.loss_percent += percent.clamp(0.0, 100.0),
                FaultKind::HttpError { status, percent } => {
                    view.http_errors.push((*status, percent.clamp(0.0, 100.0)));
                }
            }
        }
        view
    }

    /// Whether data must be held back (a timeout fault is active).
    pub(crate) fn stalled(&self) -> bool {
        !self.timeouts.is_empty()
    }
}
