//! Tools that edit the manifest: `integration_init`, `integration_add_service`,
//! `integration_remove_service`. The file is the caller's, so this process writes it (the
//! same code as `vers integration init|add|remove`); removal asks the daemon to stop the
//! service in HEAD.

use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use vers_engine::manifest_edit;

use super::args::{KeyValues, Parameters};
use super::{reply, to_value, VersMcp};

/// `integration_init`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InitArgs {
    /// Project name written into the manifest.
    pub name: String,
    /// Stack template: blank, saas-starter, event-driven-microservices, data-pipeline,
    /// ecommerce-platform, multi-tenant-saas (default: blank).
    #[serde(default)]
    pub template: Option<String>,
}

/// `integration_add_service`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddArgs {
    /// Template and version, e.g. `postgres@15`, `redis@7`, `kafka`.
    pub service: String,
    /// Service name in the manifest (default: the template's name).
    #[serde(default)]
    pub alias: Option<String>,
    /// Template options, e.g. `{"databases": ["app"]}`.
    #[serde(default)]
    pub config: Option<KeyValues>,
}

/// `integration_remove_service`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveArgs {
    /// Service to remove (refused while other services or suites depend on it).
    pub service: String,
}

#[tool_router(router = manifest_tools, vis = "pub(super)")]
impl VersMcp {
    /// Write a new vers-integration.yaml from a stack template in the project directory
    /// (never over an existing one).
    #[tool]
    async fn integration_init(&self, Parameters(a): Parameters<InitArgs>) -> CallToolResult {
        let template = a.template.unwrap_or_else(|| "blank".into());
        reply(
            self.project_dir()
                .and_then(|dir| manifest_edit::init(&dir, &a.name, &template))
                .and_then(|done| to_value(&done)),
        )
    }

    /// Add a service from a template to the manifest, keeping its comments and formatting;
    /// nothing is written when the result would not validate.
    #[tool]
    async fn integration_add_service(&self, Parameters(a): Parameters<AddArgs>) -> CallToolResult {
        let config = a.config.as_ref().map(KeyValues::pairs).unwrap_or_default();
        reply(
            self.project()
                .and_then(|p| manifest_edit::add(&p, &a.service, a.alias.as_deref(), &config))
                .and_then(|done| to_value(&done)),
        )
    }

    /// Remove a service from the manifest and stop it in HEAD.
    #[tool]
    async fn integration_remove_service(
        &self,
        Parameters(a): Parameters<RemoveArgs>,
    ) -> CallToolResult {
        let result = async {
            let project = self.project()?;
            let api = self.api().await?;
            let done = manifest_edit::remove(&api, &project, &a.service).await?;
            to_value(&done)
        }
        .await;
        reply(result)
    }
}
