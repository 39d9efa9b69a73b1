//! `vers db query|counts|schema` (MCP `db_query`, `db_table_counts`, `db_schema_dump`): a
//! postgres service of HEAD (default: the manifest's first, and its first configured
//! database), inspected with the client tools run inside the environment.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::branches;
use crate::error::EngineError;
use crate::stack::Stack;
use crate::state::EnvRecord;

use super::postgres::{Postgres, TableCount};
use super::psql::{Column, DbError};
use super::target;

/// Which postgres service and database (`None`: the defaults).
#[derive(Debug, Clone, Default)]
pub struct DbTarget {
    /// Postgres service of the manifest.
    pub service: Option<String>,
    /// Database of that service.
    pub database: Option<String>,
}

/// Where an inspection ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Location {
    /// Environment id.
    pub environment: String,
    /// Environment name.
    pub environment_name: String,
    /// Postgres service.
    pub service: String,
    /// Database.
    pub database: String,
}

/// Result of `db query`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryResult {
    /// Where it ran.
    #[serde(flatten)]
    pub location: Location,
    /// Result columns in order, with their SQL types.
    pub columns: Vec<Column>,
    /// Rows as objects, column name → value (numbers, booleans, JSON and arrays typed; NULL
    /// as null; other types as PostgreSQL prints them). A repeated column name gets a `_2`,
    /// `_3`… suffix.
    pub rows: Vec<IndexMap<String, Value>>,
    /// Rows returned, or affected by INSERT, UPDATE, DELETE, MERGE or COPY.
    pub row_count: u64,
}

/// Result of `db counts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableCounts {
    /// Where it ran.
    #[serde(flatten)]
    pub location: Location,
    /// Every table of every user schema, by schema and name.
    pub tables: Vec<TableCount>,
}

/// Result of `db schema`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaDump {
    /// Where it ran.
    #[serde(flatten)]
    pub location: Location,
    /// The SQL `pg_dump --schema-only` printed.
    pub sql: String,
}

/// HEAD, the service and the database, with the service checked to be running.
async fn locate(stack: &Stack, t: &DbTarget) -> Result<(EnvRecord, Location), EngineError> {
    let service = target::postgres_service(stack, t.service.as_deref())?;
    let env = branches::running_head(stack)?;
    target::ensure_running(stack, &env, &service).await?;
    let database = t
        .database
        .clone()
        .unwrap_or_else(|| target::default_database(stack, &service));
    let location = Location {
        environment: env.id.clone(),
        environment_name: env.name.clone(),
        service,
        database,
    };
    Ok((env, location))
}

/// Runs one SQL statement (several separated by `;` all run; the last one's rows return).
/// A statement the database rejects fails with the database's message.
pub async fn query(stack: &Stack, t: &DbTarget, sql: &str) -> Result<QueryResult, EngineError> {
    let (env, location) = locate(stack, t).await?;
    let ctx = target::context(stack, &env);
    let pg = Postgres::new(&ctx, &location.service)?;
    let table = pg
        .run(&location.database, sql)
        .await?
        .map_err(|DbError(m)| {
            EngineError::Failed(format!(
                "{} ({}), database {}: {m}",
                location.service, location.environment_name, location.database
            ))
        })?;
    let keys = object_keys(&table.columns);
    let rows = table
        .rows
        .into_iter()
        .map(|r| keys.iter().cloned().zip(r).collect())
        .collect();
    Ok(QueryResult {
        location,
        columns: table.columns,
        rows,
        row_count: table.row_count,
    })
}

/// Exact row counts of every table of every user schema.
pub async fn counts(stack: &Stack, t: &DbTarget) -> Result<TableCounts, EngineError> {
    let (env, location) = locate(stack, t).await?;
    let ctx = target::context(stack, &env);
    let pg = Postgres::new(&ctx, &location.service)?;
    let tables = pg.table_counts(&location.database).await?;
    Ok(TableCounts { location, tables })
}

/// The schema of the database, as `pg_dump --schema-only` prints it.
pub async fn schema(stack: &Stack, t: &DbTarget) -> Result<SchemaDump, EngineError> {
    let (env, location) = locate(stack, t).await?;
    let ctx = target::context(stack, &env);
    let pg = Postgres::new(&ctx, &location.service)?;
    let sql = pg.schema_dump(&location.database).await?;
    Ok(SchemaDump { location, sql })
}

/// Object keys for columns: their names, repeated names suffixed `_2`, `_3`….
fn object_keys(columns: &[Column]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::with_capacity(columns.len());
    for c in columns {
        let mut key = c.name.clone();
        let mut n = 1;
        while keys.contains(&key) {
            n += 1;
            key = format!("{}_{n}", c.name);
        }
        keys.push(key);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_column_names_get_suffixes() {
        let col = |n: &str| Column {
            name: n.into(),
            type_name: "integer".into(),
        };
        let keys = object_keys(&[col("id"), col("id"), col("x"), col("id")]);
        assert_eq!(keys, vec!["id", "id_2", "x", "id_3"]);
    }
}
