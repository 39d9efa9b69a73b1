//! The worker: a process the daemon starts for one operation, with the caller's environment
//! and working directory. It reads a [`Job`] on stdin and writes [`Frame`]s on stdout, one per
//! line. Killing its process group cancels the operation.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::frames::{now_ms, ApiError, Frame};
use super::requests::Op;
use crate::progress::{Event, Progress};
use crate::project::Project;

/// What the daemon asks a worker to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Project directory.
    pub project_dir: PathBuf,
    /// Manifest file (a project may be used with `-f other.yaml`).
    pub manifest: PathBuf,
    /// Test run id, for events.
    #[serde(default)]
    pub run: Option<String>,
    /// The operation.
    pub op: Op,
}

/// Writes frames to stdout; a closed stdout (the daemon went away) is ignored.
struct FrameWriter {
    out: Mutex<std::io::Stdout>,
    run: Option<String>,
}

impl FrameWriter {
    fn write(&self, frame: &Frame) {
        let Ok(mut line) = serde_json::to_vec(frame) else {
            return;
        };
        line.push(b'\n');
        if let Ok(mut out) = self.out.lock() {
            let _ = out.write_all(&line);
            let _ = out.flush();
        }
    }
}

impl Progress for FrameWriter {
    fn event(&self, event: Event) {
        self.write(&Frame::Event {
            at_ms: now_ms(),
            run: self.run.clone(),
            event,
        });
    }
}

/// Runs the job read from stdin; returns the process exit code (0 whatever the operation's
/// outcome: that travels in the frames).
pub async fn main() -> i32 {
    let mut input = String::new();
    if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut input) {
        eprintln!("worker: reading the job: {e}");
        return 1;
    }
    let job: Job = match serde_json::from_str(&input) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("worker: bad job: {e}");
            return 1;
        }
    };
    let writer = Arc::new(FrameWriter {
        out: Mutex::new(std::io::stdout()),
        run: job.run.clone(),
    });
    let project = Project::at(job.project_dir, job.manifest);
    let refill = job.op.may_change_pools();
    let frame = match super::facade::execute(&project, job.op, writer.clone()).await {
        Ok(value) => Frame::Result { value },
        Err(e) => Frame::Error(ApiError::from(&e)),
    };
    writer.write(&frame);
    if refill || crate::pool::claimed_any() {
        crate::pool::kick(&project).await;
    }
    0
}
