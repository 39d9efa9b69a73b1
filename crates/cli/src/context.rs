//! Finding the project and loading its manifest for a command; manifest errors exit 2 before
//! anything running is touched.

use std::path::Path;

use vers_engine::api::client::ApiClient;
use vers_engine::Project;
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
    vers_manifest::load(&project.manifest_path)
        .map_err(|d| Exit::manifest(&project.manifest_path, &d))
}

/// Checks the names suites fork from (a suite's `checkpoint`, a branch's `from`) against the
/// manifest's checkpoints and the project's tags, printing diagnostics (file:line:col) on
/// failure. The state is read only when the project has one (nothing is created).
pub fn fork_points(project: &Project, m: &Manifest) -> Result<(), Exit> {
    fork_point_errors(project, Some(m)).map_err(|d| Exit::manifest(&project.manifest_path, &d))
}

/// [`fork_points`] as diagnostics (for `validate --json`); with no `m` (a manifest that
/// does not parse), against the checkpoint names in its text.
pub fn fork_point_errors(
    project: &Project,
    m: Option<&Manifest>,
) -> Result<(), vers_manifest::Diagnostics> {
    let path = &project.manifest_path;
    let Ok(src) = std::fs::read_to_string(path) else {
        // `load` reports an unreadable manifest itself.
        return Ok(());
    };
    let state = if project.state_dir.join("state.json").is_file() {
        vers_engine::state::read(&project.state_dir).unwrap_or_default()
    } else {
        vers_engine::state::State::default()
    };
    let tags: Vec<String> = state.tags.keys().cloned().collect();
    let in_project = |name: &str| state.find_checkpoint(name).is_some();
    match m {
        Some(m) => vers_manifest::check_fork_points(&src, path, m, &tags, &in_project),
        None => vers_manifest::check_fork_points_in_text(&src, path, &tags, &in_project),
    }
}

/// A client of the project's daemon (started when needed), without reading the manifest
/// (`down`, `branch delete` and `log` work with a broken one).
pub async fn api(file: Option<&Path>) -> Result<ApiClient, Exit> {
    let project = project(file)?;
    ApiClient::connect(&project).await.map_err(Exit::from)
}

/// Validates the manifest here first (its diagnostics name file:line:col and exit 2 before
/// anything running is touched), then connects to the daemon.
pub async fn validated_api(file: Option<&Path>) -> Result<ApiClient, Exit> {
    let project = project(file)?;
    manifest(&project)?;
    ApiClient::connect(&project).await.map_err(Exit::from)
}

/// A client for the commands that serve running environments (`status`, `logs`, `execute`,
/// `connect`): a broken manifest on disk does not stop them; the daemon then serves with the
/// manifest the environments were started with and says so (or answers with the manifest's
/// diagnostics when nothing runs).
pub async fn serving_api(file: Option<&Path>) -> Result<ApiClient, Exit> {
    api(file).await
}

/// Prints an answer's `warning` on stderr.
pub fn warn(answer: &serde_json::Value) {
    if let Some(w) = answer["warning"].as_str() {
        eprintln!("warning: {w}");
    }
}
