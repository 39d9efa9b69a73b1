//! The project's snapshot store: which snapshotter backs `.vers/store`.

use vers_runtime::snapshot::{self, Snapshotter, SnapshotterKind};

use crate::error::EngineError;
use crate::project::Project;

/// Opens the project's snapshotter; `VERS_SNAPSHOTTER=btrfs|overlay|copy` overrides the choice.
pub fn snapshotter(project: &Project) -> Result<Box<dyn Snapshotter>, EngineError> {
    let prefer = match std::env::var("VERS_SNAPSHOTTER").ok().as_deref() {
        Some("btrfs") => Some(SnapshotterKind::Btrfs),
        Some("overlay") => Some(SnapshotterKind::Overlay),
        Some("copy") => Some(SnapshotterKind::Copy),
        Some("") | None => None,
        Some(other) => {
            return Err(EngineError::Failed(format!(
                "VERS_SNAPSHOTTER={other} is not a snapshotter; use btrfs, overlay or copy"
            )))
        }
    };
    snapshot::open_snapshotter(&project.state_dir, prefer)
        .map_err(|e| EngineError::Failed(format!("opening the snapshot store: {e}")))
}
