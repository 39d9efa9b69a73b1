//! Finding the project and loading its manifest for a command; manifest errors exit 2 before
//! anything running is touched.

use std::path::Path;

use vers_engine::{Project, Stack};
use vers_manifest::Manifest;

use crate::exit::Exit;

/// Finds the project from `-f` or the current directory.
pub fn project(file: Option<&Path>) -> Result<Project, Exit> {
    let cwd =
        std::env::current_dir().map_err(|e| Exit::failure(format!("current directory: {e}")))?;
    Project::find(file, &cwd).map_err(Exit::from)
}

/// Loads and validates the manifest, printing diagnostics (file:line:col) on failure.
pub fn manifest(project: &Project) -> Result<Manifest, Exit> {
    vers_manifest::load(&project.manifest_path).map_err(|d| Exit::usage(d.to_string()))
}

/// Project, validated manifest and a connected stack.
pub async fn stack(file: Option<&Path>) -> Result<Stack, Exit> {
    let project = project(file)?;
    let manifest = manifest(&project)?;
    Stack::open(project, manifest).await.map_err(Exit::from)
}
