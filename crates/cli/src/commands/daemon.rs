//! The hidden `vers daemon`: runs the project's supervisor.

use vers_engine::Project;

use crate::args::DaemonArgs;
use crate::exit::Exit;

/// Runs the supervisor until `down --all` asks it to stop.
pub async fn run(args: DaemonArgs) -> Result<i32, Exit> {
    let dir = args
        .project
        .canonicalize()
        .map_err(|e| Exit::failure(format!("{}: {e}", args.project.display())))?;
    let manifest = args
        .manifest
        .unwrap_or_else(|| vers_engine::project::manifest_in(&dir));
    let project = Project::at(dir, manifest);
    vers_engine::supervisor::server::run(project)
        .await
        .map_err(|e| Exit::failure(format!("supervisor: {e:#}")))?;
    Ok(0)
}
