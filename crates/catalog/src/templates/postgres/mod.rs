//! PostgreSQL 13–17: `initdb` on first start, a server tuned for disposable test data,
//! a wire-level readiness probe, and setup of databases, extensions, users and init scripts.
//!
//! Durability: the server runs with `fsync=off` and `full_page_writes=off`. These only
//! matter when the machine loses power. `synchronous_commit` stays on: with it off, a
//! commit reported to the client may still sit in WAL buffers in shared memory, which a
//! SIGKILL (`vers chaos inject --action kill`) loses; with `fsync=off` it costs one
//! `write` per commit and no flush to disk. A vers checkpoint freezes the processes and
//! snapshots the filesystem, and both the snapshot and the frozen server see the same
//! page cache; a frozen process is stopped between system calls, so every 8 kB page write
//! is either wholly in the snapshot or not at all. The snapshot is therefore exactly what a
//! crash of the server (not of the kernel) leaves behind, which PostgreSQL recovers from
//! with or without these settings. `quiesce` runs a
//! `CHECKPOINT` first so that branches start with little WAL to replay.

pub(crate) mod discover;
mod sql;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::{scalar_text, Config};
use crate::{
    CatalogError, EngineBinary, Exec, InstanceCtx, Launch, MissingEngine, Probe, Template,
};

use sql::{Grant, User};

/// The standard PostgreSQL port.
const PORT: u16 = 5432;
/// Default `shared_buffers` of PostgreSQL, lowered when the memory limit is small.
const DEFAULT_SHARED_BUFFERS: u64 = 128 << 20;
/// The smallest `shared_buffers` vers sets.
const MIN_SHARED_BUFFERS: u64 = 16 << 20;

/// The `postgres` template.
pub(crate) struct Postgres;

/// The cluster directory inside the service's data directory.
pub(crate) fn pgdata(ctx: &InstanceCtx) -> PathBuf {
    ctx.data_dir.join("pgdata")
}

fn psql() -> Result<PathBuf, CatalogError> {
    discover::client_tool("psql").ok_or_else(|| CatalogError::MissingTool {
        tool: "psql".into(),
        hint: "install it with: apt-get install postgresql-client".into(),
    })
}

/// Environment of client commands: no `.psqlrc` surprises, bounded connection waits.
fn client_env() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("PGCONNECT_TIMEOUT".to_string(), "10".to_string()),
        ("PGUSER".to_string(), "postgres".to_string()),
    ])
}

/// `psql` against database `db` of the instance, stopping at the first error.
fn psql_exec(psql: &Path, ctx: &InstanceCtx, db: &str, extra: &[String]) -> Exec {
    let mut args: Vec<String> = vec![
        "-X".into(),
        "-q".into(),
        "-v".into(),
        "ON_ERROR_STOP=1".into(),
        "-h".into(),
        ctx.listen.to_string(),
        "-p".into(),
        ctx.port(0, PORT).to_string(),
        "-U".into(),
        "postgres".into(),
        "-d".into(),
        db.into(),
    ];
    args.extend(extra.iter().cloned());
    Exec::new(psql, args).with_env(client_env())
}

/// The configured users.
/// What `setup` runs before the init scripts, in order: (database, SQL) for databases and
/// roles, then each database's extensions and grants, then full grant clauses; and the first
/// database (where init scripts run). Empty scripts are left out.
fn setup_scripts(
    cfg: &Config<'_>,
    service: &str,
) -> Result<(String, Vec<(String, String)>), CatalogError> {
    let databases = cfg.strings("databases")?;
    let extensions = cfg.strings("extensions")?;
    let users = users(cfg)?;
    let mut grants: Vec<(String, Grant)> = Vec::new();
    for (i, u) in users.iter().enumerate() {
        for (j, g) in u.grants.iter().enumerate() {
            let key = format!("users[{i}].grants[{j}]");
            grants.push((u.name.clone(), sql::parse_grant(g, service, &key)?));
        }
    }
    let first_db = databases
        .first()
        .cloned()
        .unwrap_or_else(|| "postgres".into());
    let mut scripts = vec![(
        "postgres".to_string(),
        sql::roles_and_databases(&databases, &users),
    )];
    let simple: Vec<(String, Grant)> = grants
        .iter()
        .filter(|(_, g)| !matches!(g, Grant::Clause(_)))
        .cloned()
        .collect();
    if !databases.iter().any(|d| d == "postgres") {
        let none: &[(String, Grant)] = if databases.is_empty() { &simple } else { &[] };
        scripts.push((
            "postgres".into(),
            sql::per_database("postgres", &extensions, none),
        ));
    }
    for db in &databases {
        scripts.push((db.clone(), sql::per_database(db, &extensions, &simple)));
    }
    scripts.push((first_db.clone(), sql::clauses(&grants)));
    scripts.retain(|(_, text)| !text.is_empty());
    Ok((first_db, scripts))
}

/// The databases, roles, grants and extensions of service `service`'s `config` as one psql
/// script (`\connect`ing to each database in turn): the statements `setup` runs, for an
/// exported stack's `docker-entrypoint-initdb.d`. Init scripts are not in it.
pub fn init_sql(service: &str, config: &serde_json::Value) -> Result<String, CatalogError> {
    let cfg = Config::new(service, config);
    let (_, scripts) = setup_scripts(&cfg, service)?;
    Ok(scripts
        .into_iter()
        .map(|(db, text)| format!("\\connect {}\n{text}", sql::ident(&db)))
        .collect())
}

fn users(cfg: &Config<'_>) -> Result<Vec<User>, CatalogError> {
    cfg.objects("users")?
        .into_iter()
        .enumerate()
        .map(|(i, u)| {
            let name = u
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| cfg.error(&format!("users[{i}].name"), "expected a role name"))?;
            let password = u.get("password").and_then(scalar_text);
            let grants = match u.get("grants") {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => crate::config::strings_of(v).ok_or_else(|| {
                    cfg.error(
                        &format!("users[{i}].grants"),
                        "expected a list of privileges or GRANT clauses",
                    )
                })?,
            };
            Ok(User {
                name: name.to_string(),
                password,
                grants,
            })
        })
        .collect()
}

/// A protocol 3.0 startup message for `user` on `database` (the first thing a client sends).
fn startup_message(user: &str, database: &str) -> Vec<u8> {
    let mut body = 196_608u32.to_be_bytes().to_vec(); // protocol version 3.0
    for (key, value) in [
        ("user", user),
        ("database", database),
        ("application_name", "vers-health"),
    ] {
        body.extend_from_slice(key.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    // The length counts itself; a startup message is a few dozen bytes.
    let len = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
    let mut msg = len.to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    msg
}

/// `pg_hba.conf`: local and `postgres` connections are trusted; users with a password must give it.
fn hba(users: &[User]) -> String {
    let mut text = String::from("local all all trust\nhost all postgres 0.0.0.0/0 trust\n");
    for u in users.iter().filter(|u| u.password.is_some()) {
        text.push_str(&format!("host all {} 0.0.0.0/0 md5\n", sql::ident(&u.name)));
    }
    text.push_str("host all all 0.0.0.0/0 trust\n");
    text
}

/// A `settings` value as `postgresql.conf` text.
fn setting_text(cfg: &Config<'_>, key: &str, v: &Value) -> Result<String, CatalogError> {
    match v {
        Value::Bool(true) => Ok("on".into()),
        Value::Bool(false) => Ok("off".into()),
        other => scalar_text(other).ok_or_else(|| {
            cfg.error(
                &format!("settings.{key}"),
                "expected a string, number or boolean",
            )
        }),
    }
}

fn write(path: &Path, text: &str) -> Result<(), CatalogError> {
    std::fs::write(path, text).map_err(|e| CatalogError::io(path, e))
}

fn remove_stale_lock(path: &Path) -> Result<(), CatalogError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(CatalogError::io(path, e)),
        _ => Ok(()),
    }
}

impl Template for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn engine(&self, version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        discover::find(version)
    }

    fn init_data(
        &self,
        ctx: &InstanceCtx,
        engine: &EngineBinary,
    ) -> Result<Vec<Exec>, CatalogError> {
        let mut args: Vec<String> = vec![
            "-D".into(),
            pgdata(ctx).display().to_string(),
            "-U".into(),
            "postgres".into(),
            "--auth=trust".into(),
            "-E".into(),
            "UTF8".into(),
            "--locale=C".into(),
            "--no-sync".into(),
        ];
        if engine.major.parse::<u32>().is_ok_and(|m| m >= 14) {
            args.push("--no-instructions".into());
        }
        let env = BTreeMap::from([("LC_ALL".to_string(), "C".to_string())]);
        Ok(vec![Exec::new(engine.bin_dir.join("initdb"), args)
            .with_env(env)
            .in_dir(&ctx.data_dir)])
    }

    fn launch(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Launch, CatalogError> {
        let cfg = Config::new(&ctx.service, &ctx.config);
        let hba_path = ctx.run_dir.join("pg_hba.conf");
        write(&hba_path, &hba(&users(&cfg)?))?;
        let mut settings: Vec<(String, String)> = vec![
            ("listen_addresses".into(), ctx.bind.to_string()),
            ("port".into(), ctx.port(0, PORT).to_string()),
            (
                "unix_socket_directories".into(),
                ctx.run_dir.display().to_string(),
            ),
            ("hba_file".into(), hba_path.display().to_string()),
            ("fsync".into(), "off".into()),
            ("full_page_writes".into(), "off".into()),
        ];
        if let Some(limit) = ctx.memory_limit {
            if limit / 4 < DEFAULT_SHARED_BUFFERS {
                let kb = (limit / 4).max(MIN_SHARED_BUFFERS) >> 10;
                settings.push(("shared_buffers".into(), format!("{kb}kB")));
            }
        }
        if let Some(map) = cfg.object("settings")? {
            for (k, v) in map {
                settings.push((k.clone(), setting_text(&cfg, k, v)?));
            }
        }
        // A data directory cloned from a checkpoint carries the lock file of the server it was
        // taken from. That server may still run (all environments share one PID namespace),
        // and PostgreSQL would refuse to start; nothing else uses this directory, so the lock
        // is stale by construction.
        remove_stale_lock(&pgdata(ctx).join("postmaster.pid"))?;
        let mut args = vec!["-D".to_string(), pgdata(ctx).display().to_string()];
        for (k, v) in settings {
            args.push("-c".into());
            args.push(format!("{k}={v}"));
        }
        Ok(Launch {
            program: engine.bin_dir.join("postgres"),
            args,
            env: BTreeMap::from([("LC_ALL".to_string(), "C".to_string())]),
            cwd: ctx.data_dir.clone(),
        })
    }

    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        // What `pg_isready` asks, without starting a process per check: the server is ready
        // when it answers a startup message with an authentication request ('R'); while it
        // starts or recovers it answers an error ('E', "the database system is starting up").
        Probe::Exchange {
            port: ctx.port(0, PORT),
            send: startup_message("postgres", "postgres"),
            expect_at: 0,
            expect: b"R".to_vec(),
        }
    }

    fn setup(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        let cfg = Config::new(&ctx.service, &ctx.config);
        let psql = psql()?;
        let (first_db, scripts) = setup_scripts(&cfg, &ctx.service)?;
        let mut steps = Vec::new();
        for (file_no, (db, text)) in scripts.into_iter().enumerate() {
            let path = ctx.run_dir.join(format!("setup-{}.sql", file_no + 1));
            write(&path, &text)?;
            steps.push(psql_exec(
                &psql,
                ctx,
                &db,
                &["-f".into(), path.display().to_string()],
            ));
        }
        for (i, rel) in cfg.strings("init_scripts")?.iter().enumerate() {
            steps.push(init_script(ctx, &cfg, &psql, &first_db, i, rel)?);
        }
        Ok(steps)
    }

    fn quiesce_required(&self) -> bool {
        // The data directory of a frozen server is crash-consistent (WAL): CHECKPOINT only
        // shortens the replay when a branch starts.
        false
    }

    fn quiesce(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Vec<Exec> {
        psql()
            .map(|psql| {
                vec![psql_exec(
                    &psql,
                    ctx,
                    "postgres",
                    &["-c".into(), "CHECKPOINT".into()],
                )]
            })
            .unwrap_or_default()
    }

    fn connection_env(&self, ctx: &InstanceCtx) -> BTreeMap<String, String> {
        let mut env = BTreeMap::from([
            ("PGHOST".to_string(), ctx.public_name.clone()),
            ("PGPORT".to_string(), ctx.port(0, PORT).to_string()),
            ("PGUSER".to_string(), "postgres".to_string()),
        ]);
        if let Ok(dbs) = Config::new(&ctx.service, &ctx.config).strings("databases") {
            if let Some(db) = dbs.first() {
                env.insert("PGDATABASE".into(), db.clone());
            }
        }
        env
    }
}

/// One `init_scripts` entry: `.sql` through `psql -f` in the first database, `.sh` with bash.
fn init_script(
    ctx: &InstanceCtx,
    cfg: &Config<'_>,
    psql: &Path,
    db: &str,
    index: usize,
    rel: &str,
) -> Result<Exec, CatalogError> {
    let key = format!("init_scripts[{index}]");
    let path = ctx.project_dir.join(rel);
    if !path.is_file() {
        return Err(cfg.error(&key, format!("{} does not exist", path.display())));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let exec = match ext {
        "sql" => psql_exec(psql, ctx, db, &["-f".into(), path.display().to_string()]),
        "sh" => {
            let mut env = client_env();
            env.insert("PGHOST".into(), ctx.listen.to_string());
            env.insert("PGPORT".into(), ctx.port(0, PORT).to_string());
            env.insert("PGDATABASE".into(), db.to_string());
            Exec::new("/bin/bash", [path.display().to_string()]).with_env(env)
        }
        _ => {
            return Err(cfg.error(
                &key,
                format!("{rel}: init scripts must be .sql (run with psql) or .sh (run with bash)"),
            ))
        }
    };
    Ok(exec.in_dir(&ctx.project_dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hba_trusts_postgres_and_asks_users_with_passwords() {
        let text = hba(&[
            User {
                name: "app".into(),
                password: Some("pw".into()),
                grants: vec![],
            },
            User {
                name: "open".into(),
                password: None,
                grants: vec![],
            },
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "host all postgres 0.0.0.0/0 trust");
        assert_eq!(lines[2], "host all \"app\" 0.0.0.0/0 md5");
        assert_eq!(lines[3], "host all all 0.0.0.0/0 trust");
    }
}
