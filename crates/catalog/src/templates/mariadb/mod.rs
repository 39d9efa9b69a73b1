//! MariaDB 10 from the distro's `mariadb-server` (Debian 12 has 10.11; no MySQL server is
//! packaged, so `mysql` is not served by it): `mariadb-install-db` initialises the data
//! directory, `mariadbd` runs without any option file, `root` has no password and may connect
//! from every host (as with the official images' `MARIADB_ALLOW_EMPTY_ROOT_PASSWORD`), and
//! setup creates the config's databases and users and runs its init scripts. InnoDB recovers
//! a crash-consistent copy of its data directory, so checkpoints need no quiesce step.

mod sql;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::binaries::{find_tool, major_of, version_matches, version_of};
use crate::config::{scalar_text, Config};
use crate::{
    CatalogError, EngineBinary, EngineSource, Exec, InstanceCtx, Launch, MissingEngine, Probe,
    Template,
};

/// The standard MySQL/MariaDB port.
const PORT: u16 = 3306;
/// The server's socket in the run directory (setup connects through it as `root@localhost`).
const SOCKET: &str = "mysqld.sock";

/// The `mariadb` template.
pub(crate) struct Mariadb;

/// The installed `mariadbd`, whatever its version.
pub(crate) fn installed() -> Option<EngineBinary> {
    let server = find_tool(&[PathBuf::from("/usr/sbin/mariadbd")], "mariadbd")?;
    let version = version_of(&server, &["--version"])?;
    let bin_dir = server.parent()?.to_path_buf();
    let source = if bin_dir == Path::new("/usr/sbin") {
        EngineSource::Distro {
            package: "mariadb-server".into(),
        }
    } else {
        EngineSource::Path
    };
    Some(EngineBinary {
        stand_in: None,
        template: "mariadb".into(),
        major: major_of(&version),
        version,
        bin_dir,
        source,
    })
}

/// A client tool of the engine (`mariadb`, `mariadb-install-db`): beside the server, in
/// `/usr/bin`, or on PATH.
fn tool(engine: &EngineBinary, name: &str) -> Result<PathBuf, CatalogError> {
    let candidates = [
        engine.bin_dir.join(name),
        PathBuf::from("/usr/bin").join(name),
    ];
    find_tool(&candidates, name).ok_or_else(|| CatalogError::MissingTool {
        tool: name.into(),
        hint: "install it with: apt-get install mariadb-server mariadb-client".into(),
    })
}

/// `--name=value` options from `settings` (any server option).
fn settings(ctx: &InstanceCtx) -> Result<Vec<String>, CatalogError> {
    let cfg = Config::new(&ctx.service, &ctx.config);
    let mut out = Vec::new();
    let mut has_pool = false;
    if let Some(map) = cfg.object("settings")? {
        for (name, value) in map {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
            {
                return Err(cfg.error(
                    &format!("settings.{name}"),
                    "not a server option name (letters, digits, `_`, `-`, `.`)",
                ));
            }
            let value = scalar_text(value).ok_or_else(|| {
                cfg.error(
                    &format!("settings.{name}"),
                    format!("expected a value, found {value}"),
                )
            })?;
            has_pool |= name.replace('-', "_") == "innodb_buffer_pool_size";
            out.push(format!("--{name}={value}"));
        }
    }
    if let (false, Some(limit)) = (has_pool, ctx.memory_limit) {
        out.push(format!(
            "--innodb-buffer-pool-size={}",
            (limit / 2).max(8 << 20)
        ));
    }
    Ok(out)
}

/// The first database of the config, for clients and init scripts.
fn first_database(ctx: &InstanceCtx) -> Option<String> {
    Config::new(&ctx.service, &ctx.config)
        .strings("databases")
        .ok()
        .and_then(|dbs| dbs.into_iter().next())
}

/// The `mariadb` client run as `root` over the socket, reading SQL from `file`.
fn client(
    engine: &EngineBinary,
    ctx: &InstanceCtx,
    database: Option<&str>,
    file: &Path,
) -> Result<Exec, CatalogError> {
    let mut args = vec![
        "--no-defaults".to_string(),
        "--protocol=socket".into(),
        format!("--socket={}", ctx.run_dir.join(SOCKET).display()),
        "--user=root".into(),
    ];
    if let Some(db) = database {
        args.push(format!("--database={db}"));
    }
    args.extend(["-e".into(), format!("source {}", file.display())]);
    Ok(Exec::new(tool(engine, "mariadb")?, args))
}

/// Writes `text` into the run directory as `name` (readable by the engine user, unlike files
/// of a private project directory).
fn write_run_file(ctx: &InstanceCtx, name: &str, text: &[u8]) -> Result<PathBuf, CatalogError> {
    let path = ctx.run_dir.join(name);
    std::fs::write(&path, text).map_err(|e| CatalogError::io(&path, e))?;
    Ok(path)
}

impl Template for Mariadb {
    fn name(&self) -> &'static str {
        "mariadb"
    }

    fn engine(&self, version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        let missing = |hint: String| MissingEngine {
            template: "mariadb".into(),
            version: version.map(String::from),
            hint,
        };
        match installed() {
            None => Err(missing(
                "install it with: apt-get install mariadb-server, or: vers engines install mariadb@10"
                    .into(),
            )),
            Some(e) if version.is_none_or(|v| version_matches(&e.version, v)) => Ok(e),
            Some(e) => Err(missing(format!(
                "this machine has MariaDB {}, and no MariaDB {} is available from its package sources; use mariadb@{}",
                e.version,
                version.unwrap_or_default(),
                e.major
            ))),
        }
    }

    fn init_data(
        &self,
        ctx: &InstanceCtx,
        engine: &EngineBinary,
    ) -> Result<Vec<Exec>, CatalogError> {
        Ok(vec![Exec::new(
            tool(engine, "mariadb-install-db")?,
            [
                "--no-defaults".to_string(),
                format!("--datadir={}", ctx.data_dir.display()),
                "--auth-root-authentication-method=normal".into(),
                "--skip-test-db".into(),
                "--skip-name-resolve".into(),
            ],
        )])
    }

    fn launch(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Launch, CatalogError> {
        let init = write_run_file(ctx, "init.sql", sql::init_file().as_bytes())?;
        let mut args = vec![
            "--no-defaults".to_string(),
            format!("--datadir={}", ctx.data_dir.display()),
            format!("--bind-address={}", ctx.bind),
            format!("--port={}", ctx.port(0, PORT)),
            format!("--socket={}", ctx.run_dir.join(SOCKET).display()),
            format!("--pid-file={}", ctx.run_dir.join("mariadbd.pid").display()),
            format!("--tmpdir={}", ctx.run_dir.display()),
            format!("--init-file={}", init.display()),
            "--skip-name-resolve".into(),
        ];
        args.extend(settings(ctx)?);
        Ok(Launch {
            program: engine.bin_dir.join("mariadbd"),
            args,
            env: BTreeMap::new(),
            cwd: ctx.data_dir.clone(),
        })
    }

    /// Healthy once the server sends its handshake: a first packet (sequence 0) of protocol 10.
    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        Probe::Exchange {
            port: ctx.port(0, PORT),
            send: Vec::new(),
            expect_at: 3,
            expect: vec![0x00, 0x0a],
        }
    }

    fn setup(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        let cfg = Config::new(&ctx.service, &ctx.config);
        let databases = cfg.strings("databases")?;
        let mut users = Vec::new();
        for (i, u) in cfg.objects("users")?.into_iter().enumerate() {
            let key = format!("users[{i}]");
            let text = |field: &str| u.get(field).and_then(scalar_text);
            let name = text("name")
                .ok_or_else(|| cfg.error(&format!("{key}.name"), "every user needs a name"))?;
            let grants: Vec<String> = match u.get("grants") {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(v) => crate::config::strings_of(v).ok_or_else(|| {
                    cfg.error(&format!("{key}.grants"), "expected a list of strings")
                })?,
            };
            let parsed = grants
                .iter()
                .enumerate()
                .map(|(g, entry)| {
                    sql::parse_grant(entry, &ctx.service, &format!("{key}.grants[{g}]"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            users.push((
                sql::User {
                    name,
                    password: text("password"),
                },
                parsed,
            ));
        }
        let script = write_run_file(ctx, "setup.sql", sql::setup(&databases, &users).as_bytes())?;
        let first = databases.first().map(String::as_str);
        let mut steps = vec![client(engine, ctx, None, &script)?];
        for (i, rel) in cfg.strings("init_scripts")?.iter().enumerate() {
            let key = format!("init_scripts[{i}]");
            let path = ctx.project_dir.join(rel);
            if path.extension().and_then(|e| e.to_str()) != Some("sql") {
                return Err(cfg.error(&key, format!("{rel}: init scripts must be .sql files")));
            }
            let text = std::fs::read(&path)
                .map_err(|e| cfg.error(&key, format!("{}: {e}", path.display())))?;
            let copy = write_run_file(ctx, &format!("init-{i}.sql"), &text)?;
            steps.push(client(engine, ctx, first, &copy)?);
        }
        Ok(steps)
    }

    fn quiesce(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Vec<Exec> {
        Vec::new()
    }

    fn connection_env(&self, ctx: &InstanceCtx) -> BTreeMap<String, String> {
        let port = ctx.port(0, PORT);
        let db = first_database(ctx).unwrap_or_default();
        BTreeMap::from([
            ("MYSQL_HOST".to_string(), ctx.public_name.clone()),
            ("MYSQL_TCP_PORT".to_string(), port.to_string()),
            ("MYSQL_USER".to_string(), "root".to_string()),
            (
                "DATABASE_URL".to_string(),
                format!("mysql://root@{}:{port}/{db}", ctx.public_name),
            ),
        ])
    }
}
