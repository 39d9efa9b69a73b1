//! Tools on branches and checkpoints: `vers_branch_list`, `vers_branch_create`,
//! `vers_branch_checkout`, `vers_branch_delete`, `vers_commit`, `vers_rollback`.

use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use vers_engine::api::client::Method;
use vers_engine::api::requests::{BranchRequest, CheckoutRequest, CommitRequest, RollbackRequest};

use super::args::{NoArgs, Parameters};
use super::{reply, segment, VersMcp};

/// `vers_branch_create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchCreateArgs {
    /// Name of the new branch (default: a generated one).
    #[serde(default)]
    pub alias: Option<String>,
    /// Checkpoint (tag or id) to fork (default: the checkpoint HEAD was started from).
    #[serde(default)]
    pub from: Option<String>,
}

/// `vers_branch_checkout`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutArgs {
    /// Branch (name or id) to make HEAD, or a checkpoint tag (a fresh branch is forked from it).
    pub branch: String,
}

/// `vers_branch_delete`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchDeleteArgs {
    /// Branch name, id, or glob (`feature-*`).
    pub branch: String,
    /// Also delete HEAD.
    #[serde(default)]
    pub force: bool,
}

/// `vers_commit`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitArgs {
    /// Tag of the new checkpoint.
    pub tag: String,
    /// What the checkpoint holds.
    #[serde(default)]
    pub message: Option<String>,
}

/// `vers_rollback`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackArgs {
    /// Checkpoint tag or id, or `HEAD` for the checkpoint HEAD was started from.
    pub target: String,
}

#[tool_router(router = branching_tools, vis = "pub(super)")]
impl VersMcp {
    /// Every environment of the project: id, name, whether it is HEAD, status, the
    /// checkpoint it came from, its services.
    #[tool]
    async fn vers_branch_list(&self, Parameters(_): Parameters<NoArgs>) -> CallToolResult {
        reply(self.call::<()>(Method::GET, "/api/branches", None).await)
    }

    /// Fork a new branch (a copy-on-write environment) from a checkpoint; HEAD stays where
    /// it is.
    #[tool]
    async fn vers_branch_create(
        &self,
        Parameters(a): Parameters<BranchCreateArgs>,
    ) -> CallToolResult {
        let req = BranchRequest {
            alias: a.alias,
            from: a.from,
        };
        reply(self.call(Method::POST, "/api/branches", Some(&req)).await)
    }

    /// Make a branch HEAD (a checkpoint tag forks a fresh branch from it first).
    #[tool]
    async fn vers_branch_checkout(
        &self,
        Parameters(a): Parameters<CheckoutArgs>,
    ) -> CallToolResult {
        let req = CheckoutRequest { name: a.branch };
        reply(self.call(Method::POST, "/api/checkout", Some(&req)).await)
    }

    /// Delete branches matching a name, id or glob, with their data.
    #[tool]
    async fn vers_branch_delete(
        &self,
        Parameters(a): Parameters<BranchDeleteArgs>,
    ) -> CallToolResult {
        let path = format!("/api/branches/{}?force={}", segment(&a.branch), a.force);
        reply(self.call::<()>(Method::DELETE, &path, None).await)
    }

    /// Checkpoint HEAD under a tag (services are frozen, snapshotted and thawed by the daemon).
    #[tool]
    async fn vers_commit(&self, Parameters(a): Parameters<CommitArgs>) -> CallToolResult {
        let req = CommitRequest {
            tag: a.tag,
            message: a.message,
            env: None,
            force: false,
        };
        reply(self.call(Method::POST, "/api/commit", Some(&req)).await)
    }

    /// Reset HEAD's data to a checkpoint.
    #[tool]
    async fn vers_rollback(&self, Parameters(a): Parameters<RollbackArgs>) -> CallToolResult {
        let req = RollbackRequest { target: a.target };
        reply(self.call(Method::POST, "/api/rollback", Some(&req)).await)
    }
}
