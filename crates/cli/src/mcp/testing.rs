//! Tools that run tests: `integration_test`, `integration_matrix`, and the docs written from
//! their traffic: `integration_docs`.

use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{tool, tool_router, RoleServer};
use schemars::JsonSchema;
use serde::Deserialize;
use vers_engine::api::client::Method;
use vers_engine::api::requests::{MatrixRequest, TestRequest};
use vers_engine::EngineError;

use super::args::{items, KeyValues, List, Parameters};
use super::{reply, reply_text, segment, unless_cancelled, VersMcp};

/// `integration_test`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestArgs {
    /// Run only these suites (array or comma-separated; default: all).
    #[serde(default)]
    pub suite: Option<List>,
    /// Run branches concurrently, each on its own copy-on-write environment.
    #[serde(default)]
    pub parallel: bool,
    /// Run only the branches (scenarios) whose name starts with this.
    #[serde(default)]
    pub branch_prefix: Option<String>,
}

/// `integration_matrix`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixArgs {
    /// Only combinations with these values, as `{"postgres": "15"}` or `postgres=15` items.
    #[serde(default)]
    pub filter: Option<KeyValues>,
    /// Run combinations concurrently.
    #[serde(default)]
    pub parallel: bool,
    /// Keep going after a failing combination.
    #[serde(default)]
    pub continue_on_failure: bool,
}

/// `integration_docs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocsArgs {
    /// Test run whose traffic to use (default: the latest finished run).
    #[serde(default)]
    pub run: Option<String>,
    /// Write the Markdown to this file (relative paths: to the project directory) instead of
    /// returning it.
    #[serde(default)]
    pub output: Option<String>,
    /// Return the content as data (services, edges, upstreams, flows, failures) instead of
    /// Markdown.
    #[serde(default)]
    pub json: bool,
}

#[tool_router(router = testing_tools, vis = "pub(super)")]
impl VersMcp {
    /// Run the manifest's test suites, each branch on its own copy-on-write branch of its
    /// checkpoint; the report has every branch's status, duration and output. Failing tests
    /// are a report, not a tool error.
    #[tool]
    async fn integration_test(
        &self,
        Parameters(a): Parameters<TestArgs>,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let req = TestRequest {
            suites: items(&a.suite),
            parallel: a.parallel,
            branch_prefix: a.branch_prefix,
            ..Default::default()
        };
        let run = self.call(Method::POST, "/api/test", Some(&req));
        reply(unless_cancelled(&context, run).await)
    }

    /// Integration docs of the stack from the manifest and the traffic recorded during a test
    /// run: topology (mermaid), upstream services per app, key flows per test branch
    /// (sequence diagrams with measured latency), failure handling of injected faults.
    #[tool]
    async fn integration_docs(&self, Parameters(a): Parameters<DocsArgs>) -> CallToolResult {
        let path = match &a.run {
            Some(r) => format!("/api/docs?run={}", segment(r)),
            None => "/api/docs".to_string(),
        };
        let answer = self.call::<()>(Method::GET, &path, None).await;
        if a.json {
            return reply(answer.map(|v| v["docs"].clone()));
        }
        let markdown = answer.map(|v| v["markdown"].as_str().unwrap_or_default().to_string());
        let Some(output) = a.output else {
            return reply_text(markdown);
        };
        let written = markdown.and_then(|md| {
            let mut file = std::path::PathBuf::from(&output);
            if file.is_relative() {
                file = self.project()?.dir.join(file);
            }
            std::fs::write(&file, &md).map_err(|e| EngineError::io(&file, e))?;
            Ok(serde_json::json!({ "output": file, "bytes": md.len() }))
        });
        reply(written)
    }

    /// Run checkpoints and tests once per combination of the manifest's version matrix.
    #[tool]
    async fn integration_matrix(
        &self,
        Parameters(a): Parameters<MatrixArgs>,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let req = MatrixRequest {
            filter: a.filter.as_ref().map(KeyValues::pairs).unwrap_or_default(),
            parallel: a.parallel,
            continue_on_failure: a.continue_on_failure,
            ..Default::default()
        };
        let answer =
            unless_cancelled(&context, self.call(Method::POST, "/api/matrix", Some(&req))).await;
        reply(answer.and_then(|a| {
            crate::output::matrix_report::matrix_document(&a).map_err(EngineError::Failed)
        }))
    }
}
