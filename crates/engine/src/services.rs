//! Changing which services run: `vers remove SERVICE` (MCP `integration_remove_service`)
//! takes a service out of the manifest and stops it in HEAD; `vers integration down
//! --services a,b` (MCP `integration_down {services}`) stops only those services of HEAD.

use std::path::Path;

use serde::{Deserialize, Serialize};
use vers_manifest::Manifest;

use crate::branches;
use crate::error::EngineError;
use crate::stack::Stack;
use crate::state::{self, EnvRecord};

/// Result of removing a service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoveOutcome {
    /// The service removed.
    pub service: String,
    /// The manifest file edited.
    pub manifest: String,
    /// HEAD's environment name, when the service ran there and was stopped.
    pub stopped_in: Option<String>,
}

/// Result of stopping services.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StopOutcome {
    /// HEAD's environment id.
    pub environment: String,
    /// HEAD's environment name.
    pub environment_name: String,
    /// Services stopped now.
    pub stopped: Vec<String>,
    /// Services that were not running.
    pub already_stopped: Vec<String>,
    /// Running services of HEAD that depend on a stopped one (they may now fail).
    pub dependants_running: Vec<String>,
}

/// Who refers to `name`: services depending on it (hard or soft) and suites needing it.
fn dependants(m: &Manifest, name: &str) -> Vec<String> {
    let mut out: Vec<String> = m
        .services
        .iter()
        .filter(|(n, s)| {
            n.as_str() != name
                && (s.depends_on.iter().any(|d| d == name)
                    || s.soft_depends_on.iter().any(|d| d == name))
        })
        .map(|(n, _)| format!("service {n}"))
        .collect();
    out.extend(
        m.tests
            .iter()
            .filter(|(_, s)| s.depends_on.iter().any(|d| d == name))
            .map(|(n, _)| format!("test suite {n}")),
    );
    out
}

/// The manifest text without service `name`, keeping every other line as written, once
/// nothing depends on it and the result still validates. Nothing is written: the client that
/// asked writes it (the daemon never writes a file a caller names), after
/// [`retire_service`] stopped the service.
pub fn removal_edit(
    manifest: &Manifest,
    manifest_path: &Path,
    name: &str,
) -> Result<String, EngineError> {
    if !manifest.services.contains_key(name) {
        return Err(crate::stack::unknown_service(manifest, name));
    }
    let deps = dependants(manifest, name);
    if !deps.is_empty() {
        return Err(EngineError::Manifest(format!(
            "cannot remove {name}: {} depend{} on it; remove {name} from their depends_on first",
            deps.join(", "),
            if deps.len() == 1 { "s" } else { "" }
        )));
    }
    let path = manifest_path;
    let src = std::fs::read_to_string(path).map_err(|e| EngineError::io(path, e))?;
    let out = vers_manifest::scaffold::remove_service(&src, name)
        .map_err(|e| EngineError::Manifest(e.to_string()))?;
    // The edited manifest must still validate (other references: checkpoints, scenarios…).
    if let Err(d) = vers_manifest::parse_str(&out, path) {
        return Err(EngineError::Manifest(format!(
            "removing {name} would leave the manifest invalid; nothing was changed:\n{d}"
        )));
    }
    Ok(out)
}

/// Result of retiring a service in HEAD.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetireOutcome {
    /// The service.
    pub service: String,
    /// HEAD's environment name, when the service ran there and was stopped.
    pub stopped_in: Option<String>,
}

/// The daemon's half of `vers remove SERVICE`: checks the removal (as [`removal_edit`]),
/// then stops the service in HEAD when it runs there and drops it from HEAD's record.
pub async fn retire_service(stack: &Stack, name: &str) -> Result<RetireOutcome, EngineError> {
    removal_edit(&stack.manifest, &stack.project.manifest_path, name)?;
    let stopped_in = match branches::head(stack) {
        Ok(env) if env.services.iter().any(|s| s == name) => {
            stop_in(stack, &env, name).await?;
            forget(stack, &env.id, name)?;
            Some(env.name)
        }
        _ => None,
    };
    Ok(RetireOutcome {
        service: name.to_string(),
        stopped_in,
    })
}

/// Stops a service of an environment; `false` when it was not running.
async fn stop_in(stack: &Stack, env: &EnvRecord, name: &str) -> Result<bool, EngineError> {
    let live = stack.client.envs().await?;
    let running = live
        .iter()
        .find(|e| e.id == env.id)
        .and_then(|e| e.services.iter().find(|s| s.name == name))
        .is_some_and(|s| s.state != "stopped");
    if running {
        stack.client.service_action(&env.id, name, "stop").await?;
    }
    Ok(running)
}

/// Drops a service from an environment's record (it no longer belongs to its manifest).
fn forget(stack: &Stack, env_id: &str, name: &str) -> Result<(), EngineError> {
    let mut g = state::lock(&stack.project.state_dir)?;
    if let Some(e) = g.state.envs.get_mut(env_id) {
        e.services.retain(|s| s != name);
    }
    g.save()
}

/// Stops `services` of HEAD, leaving the others running.
pub async fn stop_services(stack: &Stack, services: &[String]) -> Result<StopOutcome, EngineError> {
    for s in services {
        stack.require_service(s)?;
    }
    let env = branches::running_head(stack)?;
    if let Some(s) = services.iter().find(|s| !env.services.contains(s)) {
        return Err(EngineError::Failed(format!(
            "{s} was not started in HEAD ({}); it runs: {}",
            env.name,
            env.services.join(", ")
        )));
    }
    let mut outcome = StopOutcome {
        environment: env.id.clone(),
        environment_name: env.name.clone(),
        stopped: Vec::new(),
        already_stopped: Vec::new(),
        dependants_running: Vec::new(),
    };
    for s in services {
        if stop_in(stack, &env, s).await? {
            outcome.stopped.push(s.clone());
        } else {
            outcome.already_stopped.push(s.clone());
        }
    }
    let live = stack.client.envs().await?;
    let running: Vec<String> = live
        .iter()
        .find(|e| e.id == env.id)
        .map(|e| {
            e.services
                .iter()
                .filter(|s| s.state == "running")
                .map(|s| s.name.clone())
                .collect()
        })
        .unwrap_or_default();
    outcome.dependants_running = running
        .into_iter()
        .filter(|n| {
            stack
                .manifest
                .services
                .get(n)
                .is_some_and(|svc| svc.depends_on.iter().any(|d| services.contains(d)))
        })
        .collect();
    Ok(outcome)
}
