//! Tools on running environments: `vers_status`, `integration_up`, `integration_down`,
//! `integration_service_status`, `integration_logs`, `vers_execute`, `vers_connect`.

use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use vers_engine::api::client::Method;
use vers_engine::api::requests::{
    DownRequest, ExecRequest, ExecSpecRequest, StopServicesRequest, UpRequest,
};

use super::args::{items, List, NoArgs, Parameters};
use super::{reply, segment, VersMcp};

/// `integration_up`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpArgs {
    /// Start only these services and their dependencies (array or comma-separated; default: all).
    #[serde(default)]
    pub services: Option<List>,
    /// Rebuild app services even if a build exists.
    #[serde(default)]
    pub build: bool,
    /// Stop after this checkpoint of the manifest (default: the last).
    #[serde(default)]
    pub checkpoint: Option<String>,
}

/// `integration_down`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownArgs {
    /// Stop only these services of HEAD, leaving the environment running (array or
    /// comma-separated). Without it, HEAD's whole environment stops.
    #[serde(default)]
    pub services: Option<List>,
}

/// `integration_logs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsArgs {
    /// Service of HEAD.
    pub service: String,
    /// Only the last N lines of each replica.
    #[serde(default)]
    pub lines: Option<usize>,
    /// Only log files written within this long, e.g. `10m`.
    #[serde(default)]
    pub since: Option<String>,
}

/// `vers_execute`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteArgs {
    /// Shell command, run with `sh -c` inside HEAD (services reachable by name).
    pub command: String,
    /// Run in this service's context: its environment variables, build directory and network.
    #[serde(default)]
    pub service: Option<String>,
}

/// `vers_connect`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectArgs {
    /// Open the shell in this service's context.
    #[serde(default)]
    pub service: Option<String>,
}

#[tool_router(router = environment_tools, vis = "pub(super)")]
impl VersMcp {
    /// Environments of the project (HEAD marked), their services, state, health and endpoints.
    #[tool]
    async fn vers_status(&self, Parameters(_): Parameters<NoArgs>) -> CallToolResult {
        reply(self.call::<()>(Method::GET, "/api/status", None).await)
    }

    /// Start the root environment from the manifest, take its checkpoints (reused when
    /// cached) and make it HEAD.
    #[tool]
    async fn integration_up(&self, Parameters(a): Parameters<UpArgs>) -> CallToolResult {
        let req = UpRequest {
            checkpoint: a.checkpoint,
            services: items(&a.services),
            build: a.build,
            ..Default::default()
        };
        reply(self.call(Method::POST, "/api/up", Some(&req)).await)
    }

    /// Stop HEAD's environment, or only some of its services.
    #[tool]
    async fn integration_down(&self, Parameters(a): Parameters<DownArgs>) -> CallToolResult {
        let services = items(&a.services);
        if services.is_empty() {
            let req = DownRequest::default();
            reply(self.call(Method::POST, "/api/down", Some(&req)).await)
        } else {
            let req = StopServicesRequest { services };
            reply(
                self.call(Method::POST, "/api/services/stop", Some(&req))
                    .await,
            )
        }
    }

    /// Services of HEAD: state, health, engine, address and host endpoint.
    #[tool]
    async fn integration_service_status(
        &self,
        Parameters(_): Parameters<NoArgs>,
    ) -> CallToolResult {
        let status = self.call::<()>(Method::GET, "/api/status", None).await;
        reply(status.and_then(|s| {
            let envs = s["environments"].as_array().cloned().unwrap_or_default();
            let head = envs.iter().find(|e| e["head"] == true).ok_or_else(|| {
                vers_engine::EngineError::Failed(if envs.is_empty() {
                    "no environment is running; start one with integration_up".into()
                } else {
                    "no environment is checked out (HEAD was deleted): see vers_branch_list \
                     and check one out with vers_branch_checkout (integration_up would \
                     replace the root environment)"
                        .into()
                })
            })?;
            Ok(json!({
                "environment": head["id"],
                "name": head["name"],
                "status": head["status"],
                "services": head["services"],
            }))
        }))
    }

    /// Log lines of a service of HEAD, per replica.
    #[tool]
    async fn integration_logs(&self, Parameters(a): Parameters<LogsArgs>) -> CallToolResult {
        let mut path = format!("/api/services/{}/logs?", segment(&a.service));
        if let Some(n) = a.lines {
            path.push_str(&format!("lines={n}&"));
        }
        if let Some(s) = &a.since {
            path.push_str(&format!("since={}", segment(s)));
        }
        reply(self.call::<()>(Method::GET, &path, None).await)
    }

    /// Run a shell command inside HEAD and return its exit code and output (stdout and
    /// stderr together). A non-zero exit code is a result, not a tool error.
    #[tool]
    async fn vers_execute(&self, Parameters(a): Parameters<ExecuteArgs>) -> CallToolResult {
        let req = ExecRequest {
            command: a.command,
            service: a.service,
            timeout: None,
        };
        reply(self.call(Method::POST, "/api/exec", Some(&req)).await)
    }

    /// The command that opens an interactive shell inside HEAD (an agent cannot hold a
    /// terminal: run it in one), with the environment it lands in.
    #[tool]
    async fn vers_connect(&self, Parameters(a): Parameters<ConnectArgs>) -> CallToolResult {
        let result = async {
            let project = self.project()?;
            let req = ExecSpecRequest {
                service: a.service.clone(),
            };
            let spec = self
                .call(Method::POST, "/api/exec/spec", Some(&req))
                .await?;
            let mut command = format!(
                "vers -f {} connect",
                shell_word(&project.manifest_path.to_string_lossy())
            );
            if let Some(s) = &a.service {
                command.push_str(&format!(" --service {}", shell_word(s)));
            }
            Ok(json!({
                "command": command,
                "environment": spec["env"],
                "name": spec["name"],
                "cwd": spec["cwd"],
            }))
        }
        .await;
        reply(result)
    }
}

/// `s` quoted for a POSIX shell when it needs it.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(
            shell_word("/srv/app/vers-integration.yaml"),
            "/srv/app/vers-integration.yaml"
        );
        assert_eq!(shell_word("/my dir/it's"), "'/my dir/it'\\''s'");
    }
}
