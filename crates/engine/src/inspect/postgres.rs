//! One postgres service of a running environment, as inspections see it: statements through
//! `psql`, the databases, exact row counts, columns and indexes of user tables, and the
//! schema as `pg_dump --schema-only` prints it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vers_catalog::EngineBinary;

use crate::environment::{self, EnvContext};
use crate::error::EngineError;

use super::psql::{self, DbError, Table};
use super::target;

/// Schemas that are PostgreSQL's own (every other schema is a user schema).
const USER_RELATIONS: &str = "c.relkind IN ('r', 'p') \
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

/// How long `pg_dump` may run.
const DUMP_TIMEOUT: Duration = Duration::from_secs(600);

/// The exact number of rows of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCount {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// `count(*)`.
    pub rows: i64,
}

/// One column of a user table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// Column name.
    pub column: String,
    /// SQL type (`format_type`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Default expression.
    pub default: Option<String>,
}

/// One index of a user table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexInfo {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// Index name.
    pub index: String,
    /// `CREATE INDEX …` as PostgreSQL prints it.
    pub definition: String,
}

/// A postgres service of a running environment.
pub struct Postgres<'a> {
    ctx: &'a EnvContext,
    service: String,
    engine: EngineBinary,
}

impl<'a> Postgres<'a> {
    /// Service `service` of the environment of `ctx`.
    pub fn new(ctx: &'a EnvContext, service: &str) -> Result<Postgres<'a>, EngineError> {
        Ok(Postgres {
            ctx,
            service: service.to_string(),
            engine: target::engine(ctx, service)?,
        })
    }

    /// Runs `sql` in `database`; `Ok(Err(_))` is the database's own error.
    pub async fn run(
        &self,
        database: &str,
        sql: &str,
    ) -> Result<Result<Table, DbError>, EngineError> {
        psql::run(self.ctx, &self.service, &self.engine, database, sql).await
    }

    /// Runs one of vers's own queries; a database error is a failure.
    async fn rows(&self, database: &str, sql: &str) -> Result<Table, EngineError> {
        self.run(database, sql).await?.map_err(|DbError(m)| {
            EngineError::Failed(format!(
                "{} in {}, database {database}: {m}",
                self.service, self.ctx.env_name
            ))
        })
    }

    /// The databases clients can connect to (templates excluded), `postgres` last.
    pub async fn databases(&self) -> Result<Vec<String>, EngineError> {
        let t = self
            .rows(
                "postgres",
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn \
                 ORDER BY datname = 'postgres', datname",
            )
            .await?;
        Ok(t.rows.iter().map(|r| text(&r[0])).collect())
    }

    /// Exact row counts of every table of every user schema of `database`.
    pub async fn table_counts(&self, database: &str) -> Result<Vec<TableCount>, EngineError> {
        let sql = format!(
            "SELECT n.nspname, c.relname, (xpath('/row/c/text()', query_to_xml(format(\
             'SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]\
             ::text::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {USER_RELATIONS} ORDER BY 1, 2"
        );
        let t = self.rows(database, &sql).await?;
        Ok(t.rows
            .iter()
            .map(|r| TableCount {
                schema: text(&r[0]),
                table: text(&r[1]),
                rows: r[2].as_i64().unwrap_or(0),
            })
            .collect())
    }

    /// Columns of every user table of `database`, in table and column order.
    pub async fn columns(&self, database: &str) -> Result<Vec<ColumnInfo>, EngineError> {
        let sql = format!(
            "SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), \
             NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
             WHERE {USER_RELATIONS} ORDER BY 1, 2, a.attnum"
        );
        let t = self.rows(database, &sql).await?;
        Ok(t.rows
            .iter()
            .map(|r| ColumnInfo {
                schema: text(&r[0]),
                table: text(&r[1]),
                column: text(&r[2]),
                type_name: text(&r[3]),
                nullable: r[4].as_bool().unwrap_or(true),
                default: r[5].as_str().map(String::from),
            })
            .collect())
    }

    /// Indexes of every user table of `database`.
    pub async fn indexes(&self, database: &str) -> Result<Vec<IndexInfo>, EngineError> {
        let t = self
            .rows(
                database,
                "SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes \
                 WHERE schemaname NOT IN ('pg_catalog', 'information_schema') \
                 AND schemaname NOT LIKE 'pg\\_toast%' ORDER BY 1, 2, 3",
            )
            .await?;
        Ok(t.rows
            .iter()
            .map(|r| IndexInfo {
                schema: text(&r[0]),
                table: text(&r[1]),
                index: text(&r[2]),
                definition: text(&r[3]),
            })
            .collect())
    }

    /// `pg_dump --schema-only` of `database`.
    pub async fn schema_dump(&self, database: &str) -> Result<String, EngineError> {
        let inst = environment::instance(self.ctx, &self.service, 0)?;
        let exec = vers_catalog::clients::pg_dump_schema(&inst, &self.engine, database)
            .map_err(|e| EngineError::Failed(format!("{}: {e}", self.service)))?;
        let done = environment::run_client(self.ctx, &self.service, &exec, DUMP_TIMEOUT).await?;
        if done.code != Some(0) {
            // pg_dump refuses a server newer than itself; the fix is a newer pg_dump.
            let fix = if done.stderr.contains("server version mismatch") {
                format!(
                    "\nThe PostgreSQL {major} engine here has no pg_dump of its own: install \
                     PostgreSQL {major}'s client tools (`apt-get install postgresql-client-{major}` \
                     from apt.postgresql.org), which vers then uses",
                    major = self.engine.major
                )
            } else {
                String::new()
            };
            return Err(EngineError::Failed(format!(
                "{} in {}: pg_dump of database {database} failed{}: {}{fix}",
                self.service,
                self.ctx.env_name,
                if done.timed_out { " (timed out)" } else { "" },
                done.stderr.trim()
            )));
        }
        Ok(done.output)
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
