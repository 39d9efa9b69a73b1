//! Tools that run tests: `integration_test`, `integration_matrix`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use vers_engine::api::client::Method;
use vers_engine::api::requests::{MatrixRequest, TestRequest};

use super::args::{items, KeyValues, List};
use super::{reply, VersMcp};

/// `integration_test`.
#[derive(Debug, Deserialize, JsonSchema)]
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

#[tool_router(router = testing_tools, vis = "pub(super)")]
impl VersMcp {
    /// Run the manifest's test suites, each branch on its own copy-on-write branch of its
    /// checkpoint; the report has every branch's status, duration and output. Failing tests
    /// are a report, not a tool error.
    #[tool]
    async fn integration_test(&self, Parameters(a): Parameters<TestArgs>) -> CallToolResult {
        let req = TestRequest {
            suites: items(&a.suite),
            parallel: a.parallel,
            branch_prefix: a.branch_prefix,
            ..Default::default()
        };
        reply(self.call(Method::POST, "/api/test", Some(&req)).await)
    }

    /// Run checkpoints and tests once per combination of the manifest's version matrix.
    #[tool]
    async fn integration_matrix(&self, Parameters(a): Parameters<MatrixArgs>) -> CallToolResult {
        let req = MatrixRequest {
            filter: a.filter.as_ref().map(KeyValues::pairs).unwrap_or_default(),
            parallel: a.parallel,
            continue_on_failure: a.continue_on_failure,
            ..Default::default()
        };
        reply(self.call(Method::POST, "/api/matrix", Some(&req)).await)
    }
}
