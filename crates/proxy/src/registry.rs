//! The set of faults attached to one proxy, with a generation counter and change notification
//! so that live connections pick up changes without locking on the data path.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use tokio::sync::watch;

use crate::fault::{Fault, FaultId};

/// An immutable list of the faults in force at one generation.
pub(crate) type FaultList = Arc<Vec<(FaultId, Fault)>>;

/// Shared, versioned store of faults; also carries the proxy's stop flag.
pub(crate) struct FaultRegistry {
    next_id: AtomicU64,
    generation: AtomicU64,
    stopped: AtomicBool,
    list: RwLock<FaultList>,
    changes: watch::Sender<u64>,
}

impl FaultRegistry {
    pub(crate) fn new() -> FaultRegistry {
        FaultRegistry {
            next_id: AtomicU64::new(1),
            generation: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            list: RwLock::new(Arc::new(Vec::new())),
            changes: watch::Sender::new(0),
        }
    }

    /// The current generation; any change to the faults or the stop flag bumps it.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A receiver woken on every change.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The faults in force, expired ones included until the next prune.
    pub(crate) fn snapshot(&self) -> FaultList {
        Arc::clone(&self.list.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.bump();
    }

    pub(crate) fn add(&self, fault: Fault) -> FaultId {
        let id = FaultId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.update(|list| list.push((id, fault)));
        id
    }

    pub(crate) fn remove(&self, id: FaultId) -> bool {
        let mut removed = false;
        self.update(|list| {
            let before = list.len();
            list.retain(|(fid, _)| *fid != id);
            removed = list.len() != before;
        });
        removed
    }

    pub(crate) fn clear(&self) {
        self.update(Vec::clear);
    }

    /// Drops expired faults; returns the earliest expiry among the remaining ones.
    pub(crate) fn prune(&self, now: SystemTime) -> Option<SystemTime> {
        let current = self.snapshot();
        if current.iter().any(|(_, f)| f.is_expired(now)) {
            self.update(|list| list.retain(|(_, f)| !f.is_expired(now)));
        }
        self.snapshot().iter().filter_map(|(_, f)| f.until).min()
    }

    fn update(&self, change: impl FnOnce(&mut Vec<(FaultId, Fault)>)) {
        {
            let mut guard = self.list.write().unwrap_or_else(PoisonError::into_inner);
            let mut next = Vec::clone(&guard);
            change(&mut next);
            *guard = Arc::new(next);
        }
        self.bump();
    }

    fn bump(&self) {
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.changes.send_replace(generation);
    }
}
