//! Editing the project's manifest as a client does it (`vers integration init|add|remove`,
//! MCP `integration_init`, `integration_add_service`, `integration_remove_service`): the
//! file is the caller's, so the caller's process writes it; the daemon only stops what a
//! removed service ran. Every edit keeps comments and formatting and is written only when
//! the result validates.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api::client::{ApiClient, Method};
use crate::api::requests::RetireServiceRequest;
use crate::error::EngineError;
use crate::progress::Silent;
use crate::project::Project;
use crate::services::{self, RemoveOutcome, RetireOutcome};

/// Result of [`init`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitOutcome {
    /// The manifest written.
    pub manifest: PathBuf,
    /// Stack template it came from.
    pub template: String,
}

/// Result of [`add`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddOutcome {
    /// Name of the new service.
    pub service: String,
    /// `template[@version]` as asked.
    pub template: String,
    /// The manifest edited.
    pub manifest: PathBuf,
}

/// Writes a new manifest named `name` from stack `template` into `dir` (never over an
/// existing one), and adds `.vers/` to the directory's `.gitignore`.
pub fn init(dir: &Path, name: &str, template: &str) -> Result<InitOutcome, EngineError> {
    // The `.yaml` path when neither spelling exists.
    let path = crate::project::manifest_in(dir);
    if path.exists() {
        return Err(EngineError::Manifest(format!(
            "{} already exists; vers never overwrites a manifest (edit it, or use `vers integration add`)",
            path.display()
        )));
    }
    let text = vers_manifest::scaffold::render_stack(template, name).map_err(|e| {
        EngineError::Manifest(format!(
            "{e}\n  help: templates are {}",
            vers_manifest::scaffold::stack_names().join(", ")
        ))
    })?;
    std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    std::fs::write(&path, text).map_err(|e| EngineError::io(&path, e))?;
    let gitignore = dir.join(".gitignore");
    let existing = std::fs::read_to_string(&gitignore).unwrap_or_default();
    if !existing
        .lines()
        .any(|l| l.trim() == ".vers/" || l.trim() == ".vers")
    {
        let mut text = existing;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(".vers/\n");
        std::fs::write(&gitignore, text).map_err(|e| EngineError::io(&gitignore, e))?;
    }
    Ok(InitOutcome {
        manifest: path,
        template: template.to_string(),
    })
}

/// Adds a service from `template` (`name[@version]`) to the manifest of `project`, named
/// `alias` (default: the template's name), with template options `config` (`KEY=VALUE`).
pub fn add(
    project: &Project,
    template: &str,
    alias: Option<&str>,
    config: &[String],
) -> Result<AddOutcome, EngineError> {
    let path = &project.manifest_path;
    let src = std::fs::read_to_string(path).map_err(|e| EngineError::io(path, e))?;
    let (name, version) = match template.split_once('@') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (template.to_string(), None),
    };
    let tref = vers_manifest::TemplateRef {
        name: name.clone(),
        version,
    };
    let mut pairs = Vec::new();
    for kv in config {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            EngineError::Manifest(format!(
                "--config {kv}: expected KEY=VALUE, e.g. --config databases=app,analytics"
            ))
        })?;
        pairs.push((k.to_string(), v.to_string()));
    }
    let service = alias.map(str::to_string).unwrap_or(name);
    let out = vers_manifest::scaffold::add_service(&src, &service, &tref, &pairs)
        .map_err(|e| EngineError::Manifest(e.to_string()))?;
    if let Err(d) = vers_manifest::parse_str(&out, path) {
        return Err(EngineError::Manifest(format!(
            "adding {service} would make the manifest invalid; nothing was written:\n{d}"
        )));
    }
    std::fs::write(path, out).map_err(|e| EngineError::io(path, e))?;
    Ok(AddOutcome {
        service,
        template: template.to_string(),
        manifest: path.clone(),
    })
}

/// Removes service `name` from the manifest of `project` once nothing depends on it: the
/// edit is checked here, the daemon stops the service in HEAD, then the file is written.
/// Nothing changes when a check fails.
pub async fn remove(
    api: &ApiClient,
    project: &Project,
    name: &str,
) -> Result<RemoveOutcome, EngineError> {
    let manifest = vers_manifest::load(&project.manifest_path)
        .map_err(|d| EngineError::Manifest(d.to_string()))?;
    let text = services::removal_edit(&manifest, &project.manifest_path, name)?;
    let path = format!("/api/services/{name}/retire");
    let retired: RetireOutcome = api
        .call_as(
            Method::POST,
            &path,
            Some(&RetireServiceRequest {
                service: name.to_string(),
            }),
            &Silent,
        )
        .await?;
    std::fs::write(&project.manifest_path, text)
        .map_err(|e| EngineError::io(&project.manifest_path, e))?;
    Ok(RemoveOutcome {
        service: retired.service,
        manifest: project.manifest_path.display().to_string(),
        stopped_in: retired.stopped_in,
    })
}
