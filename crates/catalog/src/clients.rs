//! Client commands vers itself runs against a service to inspect it (`vers db`, `vers diff`):
//! `psql` and `pg_dump` for PostgreSQL, `redis-cli` for Redis. Like every template command
//! they are descriptions; the engine runs them inside the environment, in the service's pod.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::binaries::find_tool;
use crate::config::{strings_of, Config};
use crate::{CatalogError, EngineBinary, Exec, InstanceCtx};

/// The standard PostgreSQL port.
const POSTGRES_PORT: u16 = 5432;
/// The standard Redis port.
const REDIS_PORT: u16 = 6379;

/// A PostgreSQL client tool: the one shipped with the server (same version, which `pg_dump`
/// needs), else any installed one.
fn postgres_tool(engine: &EngineBinary, name: &str) -> Result<PathBuf, CatalogError> {
    find_tool(&[engine.bin_dir.join(name)], name)
        .or_else(|| crate::templates::postgres::discover::client_tool(name))
        .ok_or_else(|| CatalogError::MissingTool {
            tool: name.into(),
            hint: "install it with: apt-get install postgresql-client".into(),
        })
}

/// Environment of PostgreSQL client commands: no `.psqlrc`, bounded connection waits, no
/// notices mixed into results.
fn postgres_env() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("PGCONNECT_TIMEOUT".to_string(), "10".to_string()),
        ("PGUSER".to_string(), "postgres".to_string()),
        (
            "PGOPTIONS".to_string(),
            "-c client_min_messages=warning".to_string(),
        ),
        ("PGAPPNAME".to_string(), "vers-inspect".to_string()),
    ])
}

/// The databases a `postgres` service's `config` creates, in order (the first is the one
/// its clients use by default); empty when it configures none (then only `postgres` exists).
pub fn postgres_databases(config: &Value) -> Vec<String> {
    config
        .get("databases")
        .and_then(strings_of)
        .unwrap_or_default()
}

/// `psql` running the script file `script` against database `database` of the instance as
/// the `postgres` superuser, stopping at the first error (exit code 3 then).
pub fn psql_script(
    ctx: &InstanceCtx,
    engine: &EngineBinary,
    database: &str,
    script: &Path,
) -> Result<Exec, CatalogError> {
    let psql = postgres_tool(engine, "psql")?;
    Ok(Exec::new(
        psql,
        [
            "-X".to_string(),
            "-q".into(),
            "-v".into(),
            "ON_ERROR_STOP=1".into(),
            "-h".into(),
            ctx.listen.to_string(),
            "-p".into(),
            ctx.port(0, POSTGRES_PORT).to_string(),
            "-U".into(),
            "postgres".into(),
            "-d".into(),
            database.into(),
            "-f".into(),
            script.display().to_string(),
        ],
    )
    .with_env(postgres_env()))
}

/// `pg_dump --schema-only` of database `database` of the instance, as SQL on stdout.
pub fn pg_dump_schema(
    ctx: &InstanceCtx,
    engine: &EngineBinary,
    database: &str,
) -> Result<Exec, CatalogError> {
    let pg_dump = postgres_tool(engine, "pg_dump")?;
    Ok(Exec::new(
        pg_dump,
        [
            "--schema-only".to_string(),
            "--no-password".into(),
            "-h".into(),
            ctx.listen.to_string(),
            "-p".into(),
            ctx.port(0, POSTGRES_PORT).to_string(),
            "-U".into(),
            "postgres".into(),
            "-d".into(),
            database.into(),
        ],
    )
    .with_env(postgres_env()))
}

/// `redis-cli ARGS` against the instance, authenticated when the service has a password.
pub fn redis_cli(
    ctx: &InstanceCtx,
    engine: &EngineBinary,
    args: &[&str],
) -> Result<Exec, CatalogError> {
    let cli = find_tool(&[engine.bin_dir.join("redis-cli")], "redis-cli").ok_or_else(|| {
        CatalogError::MissingTool {
            tool: "redis-cli".into(),
            hint: "install it with: apt-get install redis-tools".into(),
        }
    })?;
    let mut argv = vec![
        "-h".to_string(),
        ctx.listen.to_string(),
        "-p".into(),
        ctx.port(0, REDIS_PORT).to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    let mut env = BTreeMap::new();
    let cfg = Config::new(&ctx.service, &ctx.config);
    if let Some((key, _)) = cfg.get_any(&["password", "requirepass"]) {
        if let Some(pass) = cfg.scalar(key)? {
            env.insert("REDISCLI_AUTH".to_string(), pass);
        }
    }
    Ok(Exec::new(cli, argv).with_env(env))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_databases_keep_their_order() {
        let cfg = serde_json::json!({"databases": ["app", "analytics"]});
        assert_eq!(postgres_databases(&cfg), vec!["app", "analytics"]);
        assert!(postgres_databases(&Value::Null).is_empty());
        let one = serde_json::json!({"databases": "solo"});
        assert_eq!(postgres_databases(&one), vec!["solo"]);
    }
}
