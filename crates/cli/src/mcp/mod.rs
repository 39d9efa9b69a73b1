//! `vers mcp`: an MCP server on stdio so coding agents drive vers. It is a thin client of the
//! engine API: every tool turns its arguments into one API call on the project's daemon
//! (started when needed, as the CLI does) and answers with the result as text (JSON for
//! structured results). A failure is a tool result with `isError: true` and the engine's
//! message; the server keeps serving. Tool and argument names are those of the hosted
//! product's MCP server. One file per group of tools.

mod args;
mod branching;
mod chaos;
mod cli_terms;
mod deploy;
mod environments;
mod framing;
mod inspect;
mod manifest;
mod testing;

use std::path::{Path, PathBuf};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ContentBlock, CustomRequest, CustomResult, ErrorCode,
    Implementation, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{tool_handler, ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde::Serialize;
use serde_json::Value;
use vers_engine::api::client::{ApiClient, Method};
use vers_engine::progress::Silent;
use vers_engine::{EngineError, Project};

use crate::exit::Exit;

/// What the agent is told when it connects.
const INSTRUCTIONS: &str = "vers runs a project's stack (vers-integration.yaml) as copy-on-write \
environments: `integration_up` starts the root environment and makes it HEAD; `vers_commit` \
checkpoints HEAD; `vers_branch_create` forks a branch from a checkpoint and \
`vers_branch_checkout` makes it HEAD; `db_*`, `vers_execute` and `chaos_*` act on HEAD; \
`vers_diff` compares HEAD with a branch or checkpoint; `integration_test` runs the test \
suites, each branch on its own copy-on-write environment; `integration_deploy` and \
`integration_preview_create` start long-lived environments, `integration_export` writes \
Compose or Kubernetes files.";

/// The server: the project it acts on (found from `-f` or the working directory at each
/// call, so `integration_init` can create it) and its tools.
#[derive(Clone)]
pub struct VersMcp {
    file: Option<PathBuf>,
    tool_router: ToolRouter<VersMcp>,
}

impl VersMcp {
    /// A server for the project of `file` (None: found from the working directory).
    pub fn new(file: Option<PathBuf>) -> VersMcp {
        VersMcp {
            file,
            tool_router: Self::environment_tools()
                + Self::branching_tools()
                + Self::inspect_tools()
                + Self::manifest_tools()
                + Self::testing_tools()
                + Self::chaos_tools()
                + Self::deploy_tools(),
        }
    }

    /// The project, found now.
    fn project(&self) -> Result<Project, EngineError> {
        let cwd = std::env::current_dir()
            .map_err(|e| EngineError::Failed(format!("current directory: {e}")))?;
        Project::find(self.file.as_deref(), &cwd)
    }

    /// The directory new projects are created in (`integration_init`).
    fn project_dir(&self) -> Result<PathBuf, EngineError> {
        match &self.file {
            Some(f) => Ok(f
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."))),
            None => std::env::current_dir()
                .map_err(|e| EngineError::Failed(format!("current directory: {e}"))),
        }
    }

    /// A client of the project's daemon, which is started when it is not running.
    async fn api(&self) -> Result<ApiClient, EngineError> {
        ApiClient::connect(&self.project()?).await
    }

    /// One API call; the result as JSON.
    async fn call<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Value, EngineError> {
        self.api().await?.call(method, path, body, &Silent).await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for VersMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("vers", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    /// Requests rmcp could not read as one it knows. A `tools/call` lands here when its
    /// params do not have the shape of one (`arguments` that is not an object, no tool
    /// name): that is invalid params (-32602) saying what is wrong, not an unknown method.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        if request.method == "tools/call" {
            return Err(malformed_tool_call(request.params));
        }
        Err(ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            request.method,
            None,
        ))
    }
}

/// The -32602 error of `tools/call` params that are not `{name, arguments}`.
fn malformed_tool_call(params: Option<Value>) -> ErrorData {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    let Some(Value::Object(params)) = params else {
        return ErrorData::invalid_params(
            "tools/call: `params` must be an object `{name, arguments}`",
            None,
        );
    };
    let name = params.get("name").and_then(Value::as_str);
    let Some(name) = name else {
        return ErrorData::invalid_params(
            "tools/call: `params.name` must be a string naming the tool",
            Some(serde_json::json!({"argument": "name"})),
        );
    };
    match params.get("arguments") {
        Some(a) if !a.is_object() && !a.is_null() => ErrorData::invalid_params(
            format!(
                "{name}: `arguments` must be an object of the tool's arguments, not {}",
                kind(a)
            ),
            Some(serde_json::json!({"tool": name, "argument": "arguments"})),
        ),
        _ => {
            let why =
                serde_json::from_value::<CallToolRequestParams>(Value::Object(params.clone()))
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "its params could not be read".into());
            ErrorData::invalid_params(
                format!("{name}: malformed tools/call params: {why}"),
                Some(serde_json::json!({"tool": name})),
            )
        }
    }
}

/// Waits for `call` unless the client cancels the request first (`notifications/cancelled`).
/// Dropping the call closes its connection to the daemon, which stops a test run or matrix
/// and its branches; without this they ran to their end for nobody.
async fn unless_cancelled(
    context: &RequestContext<RoleServer>,
    call: impl std::future::Future<Output = Result<Value, EngineError>>,
) -> Result<Value, EngineError> {
    tokio::select! {
        result = call => result,
        _ = context.ct.cancelled() => Err(EngineError::Failed(
            "cancelled by the client; the operation was stopped".into(),
        )),
    }
}

/// A tool's answer: the value as pretty JSON, or the engine's message with `isError`.
fn reply(result: Result<Value, EngineError>) -> CallToolResult {
    match result {
        Ok(v) => match serde_json::to_string_pretty(&v) {
            Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
            Err(e) => failure(&EngineError::Failed(format!("encoding the result: {e}"))),
        },
        Err(e) => failure(&e),
    }
}

/// A tool's answer in plain text.
fn reply_text(result: Result<String, EngineError>) -> CallToolResult {
    match result {
        Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
        Err(e) => failure(&e),
    }
}

/// `isError: true` with the engine's message.
fn failure(e: &EngineError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(cli_terms::for_agents(
        &e.to_string(),
    ))])
}

/// A value as JSON.
fn to_value<T: Serialize>(v: &T) -> Result<Value, EngineError> {
    serde_json::to_value(v).map_err(|e| EngineError::Failed(format!("encoding the result: {e}")))
}

/// A path segment, percent-encoded (names may hold `/` or glob characters).
fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `vers mcp`: serves MCP on stdin/stdout until the client closes it.
pub async fn serve(file: Option<&Path>) -> Result<i32, Exit> {
    let stdio = framing::stdio();
    let server = VersMcp::new(file.map(Path::to_path_buf))
        .serve((stdio.input, stdio.output))
        .await
        .map_err(|e| Exit::failure(format!("mcp: starting the session: {e}")))?;
    let ended = server.waiting().await;
    let _ = stdio.writer.await;
    ended.map_err(|e| Exit::failure(format!("mcp: {e}")))?;
    Ok(0)
}
