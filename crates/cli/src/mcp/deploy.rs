//! Tools for long-lived environments and leaving vers: `integration_deploy`,
//! `integration_rollback`, `integration_deployments_list`, `integration_preview_create`,
//! `integration_preview_delete`, `integration_export`. Export files are written by this
//! process (the daemon answers with their content and never writes where a caller says).

use std::path::{Path, PathBuf};

use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use vers_engine::api::client::Method;
use vers_engine::api::requests::{
    DeployRequest, DeployRollbackRequest, ExportRequest, PreviewRequest,
};
use vers_engine::export::{Exported, Format};
use vers_engine::EngineError;

use super::args::{NoArgs, Parameters};
use super::{reply, segment, VersMcp};

/// `integration_deploy`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployArgs {
    /// Deployment name: a `deploy:` target of the manifest (`target: local`; hosted targets
    /// need the hosted service) or any name.
    pub name: String,
    /// Checkpoint, tag or branch to deploy (default: a new checkpoint of HEAD).
    #[serde(default)]
    pub from: Option<String>,
}

/// `integration_rollback`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackArgs {
    /// Deployment name.
    pub name: String,
    /// Version to run again, code and data (default: the one before the current).
    #[serde(default)]
    pub version: Option<u32>,
}

/// `integration_preview_create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewCreateArgs {
    /// Preview name, e.g. `pr-42`.
    pub name: String,
    /// Checkpoint, tag or branch (default: a new checkpoint of HEAD).
    #[serde(default)]
    pub from: Option<String>,
    /// Time to live, e.g. `24h` or `30m`; the daemon removes the preview after it (default:
    /// until deleted).
    #[serde(default)]
    pub ttl: Option<String>,
}

/// `integration_preview_delete`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewDeleteArgs {
    /// Preview name.
    pub name: String,
}

/// `integration_export`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportArgs {
    /// `compose` or `kubernetes` (`oci`, `raw`, `ami`, `gce` need the hosted service).
    pub format: String,
    /// Where to write, relative to the project: the Compose file (compose) or a directory
    /// (kubernetes). Default: `vers-export/FORMAT/`.
    #[serde(default)]
    pub output: Option<String>,
    /// Deploy target whose `env` and `scaling` apply to the apps.
    #[serde(default)]
    pub target: Option<String>,
}

#[tool_router(router = deploy_tools, vis = "pub(super)")]
impl VersMcp {
    /// Deploy the stack on this machine as a named, long-lived environment outside the test
    /// runner: a new version from a checkpoint (default: a new one of HEAD) with its own copy
    /// of the apps' built code; the previous version stops. Returns the version, its
    /// environment and the host endpoints, which stay the same from version to version.
    #[tool]
    async fn integration_deploy(&self, Parameters(a): Parameters<DeployArgs>) -> CallToolResult {
        let req = DeployRequest {
            name: a.name,
            from: a.from,
        };
        let result = async {
            let view = self
                .call(Method::POST, "/api/deployments", Some(&req))
                .await?;
            self.with_endpoints(view).await
        }
        .await;
        reply(result)
    }

    /// Run an earlier version of a deployment again, its code and its data (default: the
    /// version before the current one).
    #[tool]
    async fn integration_rollback(
        &self,
        Parameters(a): Parameters<RollbackArgs>,
    ) -> CallToolResult {
        let req = DeployRollbackRequest {
            name: a.name.clone(),
            to: a.version,
        };
        let path = format!("/api/deployments/{}/rollback", segment(&a.name));
        let result = async {
            let view = self.call(Method::POST, &path, Some(&req)).await?;
            self.with_endpoints(view).await
        }
        .await;
        reply(result)
    }

    /// Deployments and previews: version, source checkpoint, started time (Unix seconds),
    /// state, versions, expiry (previews) and host endpoints.
    #[tool]
    async fn integration_deployments_list(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> CallToolResult {
        let result = async {
            let views = self
                .call::<()>(Method::GET, "/api/deployments", None)
                .await?;
            let mut out = Vec::new();
            for v in views.as_array().cloned().unwrap_or_default() {
                out.push(self.with_endpoints(v).await?);
            }
            Ok(json!({ "deployments": out }))
        }
        .await;
        reply(result)
    }

    /// Create a preview environment (e.g. one per pull request) from a checkpoint (default:
    /// a new one of HEAD); with `ttl`, the daemon removes it when it expires.
    #[tool]
    async fn integration_preview_create(
        &self,
        Parameters(a): Parameters<PreviewCreateArgs>,
    ) -> CallToolResult {
        let req = PreviewRequest {
            name: a.name,
            from: a.from,
            ttl: a.ttl,
        };
        let result = async {
            let view = self.call(Method::POST, "/api/previews", Some(&req)).await?;
            self.with_endpoints(view).await
        }
        .await;
        reply(result)
    }

    /// Delete a preview: its processes, namespaces, data and code copies.
    #[tool]
    async fn integration_preview_delete(
        &self,
        Parameters(a): Parameters<PreviewDeleteArgs>,
    ) -> CallToolResult {
        let path = format!("/api/previews/{}", segment(&a.name));
        reply(self.call::<()>(Method::DELETE, &path, None).await)
    }

    /// Export the stack as a Compose file or Kubernetes manifests (official engine images,
    /// build contexts for apps, vers's mock servers in a generated image; what cannot be
    /// expressed is listed in `notes`). Writes the files and returns their paths.
    #[tool]
    async fn integration_export(&self, Parameters(a): Parameters<ExportArgs>) -> CallToolResult {
        reply(self.export(a).await)
    }
}

impl VersMcp {
    /// `view` (a deployment) with `endpoints`: the host endpoint of each of its services.
    async fn with_endpoints(&self, mut view: Value) -> Result<Value, EngineError> {
        let status = self.call::<()>(Method::GET, "/api/status", None).await?;
        let endpoints = status["deployments"]
            .as_array()
            .and_then(|ds| ds.iter().find(|d| d["name"] == view["name"]))
            .map(|d| d["endpoints"].clone())
            .unwrap_or_else(|| json!({}));
        if let Some(m) = view.as_object_mut() {
            m.insert("endpoints".into(), endpoints);
        }
        Ok(view)
    }

    async fn export(&self, a: ExportArgs) -> Result<Value, EngineError> {
        let format = Format::parse(&a.format)?;
        let project = self.project()?;
        let out = match a.output.as_deref() {
            Some(o) => Some(inside(&project.dir, o)?),
            None => None,
        };
        let (dir, compose_file): (PathBuf, Option<PathBuf>) = match (out, format) {
            (Some(o), Format::Compose) => (
                o.parent()
                    .map(Path::to_path_buf)
                    .unwrap_or(project.dir.clone()),
                Some(o),
            ),
            (Some(o), Format::Kubernetes) => (o, None),
            (None, _) => (project.dir.join("vers-export").join(format.name()), None),
        };
        let req = ExportRequest {
            format: a.format,
            dir: Some(dir.display().to_string()),
            target: a.target,
        };
        let answer = self.call(Method::POST, "/api/export", Some(&req)).await?;
        let exported: Exported = serde_json::from_value(answer)
            .map_err(|e| EngineError::Failed(format!("reading the export: {e}")))?;
        let written = crate::commands::export::write_out(&exported, &dir, compose_file.as_deref())
            .map_err(EngineError::Failed)?;
        let main = compose_file.unwrap_or_else(|| dir.join(&exported.main));
        Ok(json!({
            "format": exported.format,
            "main": main,
            "files": written,
            "notes": exported.notes,
        }))
    }
}

/// `output` of `integration_export` under the project `dir`: a relative path that does not
/// climb out of it (an agent's tool call writes files only inside the project).
fn inside(dir: &Path, output: &str) -> Result<PathBuf, EngineError> {
    let rel = Path::new(output);
    if output.is_empty()
        || rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(EngineError::Forbidden(format!(
            "`output` {output:?} is outside the project: give a path relative to it without \
             `..`, e.g. \"deploy/compose.yaml\" (or leave it out for vers-export/FORMAT/)"
        )));
    }
    Ok(dir.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_output_stays_inside_the_project() {
        let dir = Path::new("/p");
        assert_eq!(
            inside(dir, "deploy/c.yaml").unwrap(),
            Path::new("/p/deploy/c.yaml")
        );
        for bad in ["../escape/c.yaml", "/etc/evil", "a/../../b", ""] {
            let e = inside(dir, bad).unwrap_err().to_string();
            assert!(e.contains("outside the project"), "{bad}: {e}");
        }
    }
}
