//! Tools that inspect environments: `vers_diff`, `integration_compare_branches`,
//! `db_query`, `db_table_counts`, `db_schema_dump`.

use std::path::PathBuf;

use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use vers_engine::api::client::{db_path, Method};
use vers_engine::api::requests::{DbQueryRequest, DiffRequest};
use vers_engine::inspect::db::SchemaDump;
use vers_engine::EngineError;

use super::args::{items, DbTargetArgs, List, Parameters};
use super::{reply, reply_text, VersMcp};

/// `vers_diff`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffArgs {
    /// Branch (name or id) or checkpoint (tag or id) to compare HEAD with.
    pub target: String,
    /// Aspects: database (row counts and schema per postgres, key counts per redis), files
    /// (changed paths in service volumes), config (manifest, engines, env), processes, logs.
    /// Array or comma-separated; default: database, files, config.
    #[serde(default)]
    pub aspects: Option<List>,
}

/// `integration_compare_branches`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareArgs {
    /// The older side: branch (name or id), checkpoint (tag or id) or `HEAD`.
    pub branch1: String,
    /// The newer side: branch (name or id), checkpoint (tag or id) or `HEAD`.
    pub branch2: String,
    /// Aspects, as for vers_diff (default: database, files, config).
    #[serde(default)]
    pub aspects: Option<List>,
}

/// `db_query`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryArgs {
    /// SQL to run; with several statements the last one's rows are returned.
    pub query: String,
    /// Database name (default: the service's first configured database).
    #[serde(default)]
    pub database: Option<String>,
    /// Postgres service of the manifest (default: the first one).
    #[serde(default)]
    pub service: Option<String>,
}

/// `db_schema_dump`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaArgs {
    /// Database name (default: the service's first configured database).
    #[serde(default)]
    pub database: Option<String>,
    /// Postgres service of the manifest (default: the first one).
    #[serde(default)]
    pub service: Option<String>,
    /// Write the dump to this file (relative paths: to the project directory) instead of
    /// returning it.
    #[serde(default)]
    pub output: Option<String>,
}

#[tool_router(router = inspect_tools, vis = "pub(super)")]
impl VersMcp {
    /// Compare a branch or checkpoint (older) with HEAD (newer).
    #[tool]
    async fn vers_diff(&self, Parameters(a): Parameters<DiffArgs>) -> CallToolResult {
        let req = DiffRequest {
            from: a.target,
            to: None,
            aspects: items(&a.aspects),
        };
        reply(self.call(Method::POST, "/api/diff", Some(&req)).await)
    }

    /// Compare two branches or checkpoints: branch1 (older) with branch2 (newer).
    #[tool]
    async fn integration_compare_branches(
        &self,
        Parameters(a): Parameters<CompareArgs>,
    ) -> CallToolResult {
        let req = DiffRequest {
            from: a.branch1,
            to: Some(a.branch2),
            aspects: items(&a.aspects),
        };
        reply(self.call(Method::POST, "/api/diff", Some(&req)).await)
    }

    /// Run SQL on a postgres service of HEAD: columns with their types, rows as objects
    /// (typed values), and the row count.
    #[tool]
    async fn db_query(&self, Parameters(a): Parameters<QueryArgs>) -> CallToolResult {
        let req = DbQueryRequest {
            query: a.query,
            service: a.service,
            database: a.database,
        };
        reply(self.call(Method::POST, "/api/db/query", Some(&req)).await)
    }

    /// Exact row counts of every table of every user schema of a postgres database of HEAD.
    #[tool]
    async fn db_table_counts(&self, Parameters(a): Parameters<DbTargetArgs>) -> CallToolResult {
        let path = db_path("counts", a.service.as_deref(), a.database.as_deref());
        reply(self.call::<()>(Method::GET, &path, None).await)
    }

    /// The schema of a postgres database of HEAD as `pg_dump --schema-only` prints it
    /// (SQL text), or written to `output`.
    #[tool]
    async fn db_schema_dump(&self, Parameters(a): Parameters<SchemaArgs>) -> CallToolResult {
        let path = db_path("schema", a.service.as_deref(), a.database.as_deref());
        let dump = match self.call::<()>(Method::GET, &path, None).await {
            Ok(v) => serde_json::from_value::<SchemaDump>(v)
                .map_err(|e| EngineError::Failed(format!("decoding the schema dump: {e}"))),
            Err(e) => Err(e),
        };
        let Some(output) = a.output else {
            return reply_text(dump.map(|d| d.sql));
        };
        let written = dump.and_then(|d| {
            let mut file = PathBuf::from(&output);
            if file.is_relative() {
                file = self.project()?.dir.join(file);
            }
            std::fs::write(&file, &d.sql).map_err(|e| EngineError::io(&file, e))?;
            Ok(json!({
                "service": d.location.service,
                "database": d.location.database,
                "environment": d.location.environment_name,
                "output": file,
                "bytes": d.sql.len(),
            }))
        });
        reply(written)
    }
}
