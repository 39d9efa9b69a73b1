//! The stress faults of one service (`cpu-stress`, `memory-stress`, `disk-fill`), each with
//! its own id so that each ends on its own `duration` without touching the others.

use super::diskfill::Filled;
use vers_runtime::spawn;

/// One stress fault in force.
#[derive(Debug)]
struct Stress {
    id: u64,
    action: &'static str,
    pids: Vec<i32>,
    fill: Option<Filled>,
}

/// The stress faults of a service.
#[derive(Debug, Default)]
pub struct Stresses {
    next: u64,
    items: Vec<Stress>,
}

impl Stresses {
    /// Records a new stress fault and returns its id.
    pub fn start(&mut self, action: &'static str) -> u64 {
        self.next += 1;
        self.items.push(Stress {
            id: self.next,
            action,
            pids: Vec::new(),
            fill: None,
        });
        self.next
    }

    fn get(&mut self, id: u64) -> Option<&mut Stress> {
        self.items.iter_mut().find(|s| s.id == id)
    }

    /// Adds a worker process (killed when the fault ends).
    pub fn add_pid(&mut self, id: u64, pid: i32) {
        if let Some(s) = self.get(id) {
            s.pids.push(pid);
        }
    }

    /// Sets the disk fill (undone when the fault ends).
    pub fn set_fill(&mut self, id: u64, fill: Filled) {
        if let Some(s) = self.get(id) {
            s.fill = Some(fill);
        }
    }

    /// Ends fault `id` (a fault already ended is fine); returns whether it was in force.
    pub fn end(&mut self, id: u64) -> bool {
        let Some(i) = self.items.iter().position(|s| s.id == id) else {
            return false;
        };
        end_one(self.items.remove(i));
        true
    }

    /// Ends every stress fault; returns whether there was any.
    pub fn end_all(&mut self) -> bool {
        let any = !self.items.is_empty();
        for s in self.items.drain(..) {
            end_one(s);
        }
        any
    }

    /// The actions in force, oldest first.
    pub fn names(&self) -> Vec<String> {
        self.items.iter().map(|s| s.action.to_string()).collect()
    }

    /// Whether none is in force.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

fn end_one(s: Stress) {
    for pid in s.pids {
        let _ = spawn::kill_group(pid, nix::sys::signal::Signal::SIGKILL);
    }
    if let Some(fill) = s.fill {
        fill.undo();
    }
}
