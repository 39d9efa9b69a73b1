//! MongoDB 5, 6 and 7 on port 27017.
//!
//! Served by a real `mongod` when the machine has one (`VERS_ENGINE_MONGODB` or `PATH`), else
//! by SecantusDB, a MongoDB-compatible server on WiredTiger installed from PyPI by
//! `vers engines install mongodb@7`, labelled as a stand-in. No registry this project reaches
//! ships MongoDB itself, so the `mongod` path is written to MongoDB's documentation but not
//! exercised by the test suite.
//!
//! Both keep everything in `ctx.data_dir` behind a write-ahead journal, so a copy of the
//! directory of a running or frozen server starts and has the data; the journal reaches its
//! file within ~100 ms of a write, so `quiesce` asks the server to `fsync` and a checkpoint
//! holds every acknowledged write. Setup creates `indexes`, then gives each of `databases` that
//! has no collection yet an empty `_vers` collection (MongoDB creates databases lazily).
//! `auth` creates the `root` user (in `admin`) before the first start: with `mongod` through a
//! temporary server on a Unix socket, with SecantusDB straight into its storage.

mod discover;
mod settings;
mod wire;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::binaries::find_tool;
use crate::{
    CatalogError, EngineBinary, Exec, InstanceCtx, Launch, MissingEngine, Probe, Template,
};
pub(crate) use discover::{all, install};
use settings::Settings;

/// The standard MongoDB port.
const PORT: u16 = 27017;
/// vers's client steps for SecantusDB (setup, fsync, root user), run by its environment's Python.
const CLIENT_PY: &str = include_str!("client.py");
/// vers's setup for a real `mongod`, run by `mongosh` after a `const plan = …;` line.
const SETUP_JS: &str = include_str!("setup.js");
/// The keyfile replica set members authenticate each other with (`mongod` with auth only).
const KEYFILE: &str = "vers-keyfile";

/// The `mongodb` template.
pub(crate) struct MongoDb;

/// Which server an engine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    /// MongoDB's own `mongod`.
    Mongod,
    /// SecantusDB's `secantusd-py`, a stand-in.
    Secantus,
}

impl Server {
    fn of(engine: &EngineBinary) -> Server {
        if engine.stand_in.is_some() {
            Server::Secantus
        } else {
            Server::Mongod
        }
    }
}

/// The service's settings, refused where the serving implementation cannot honour them.
fn settings(ctx: &InstanceCtx, server: Server) -> Result<Settings, CatalogError> {
    let settings = Settings::read(&ctx.service, &ctx.config)?;
    if server == Server::Secantus && settings.replica_set.is_some() {
        return Err(CatalogError::config(
            &ctx.service,
            "replica_set",
            "SecantusDB (the MongoDB stand-in serving this service) cannot run as a replica set reachable by the service's name; remove `replica_set` (transactions and change streams work without it on SecantusDB), or install a real mongod",
        ));
    }
    Ok(settings)
}

/// Percent-encodes everything but unreserved URL characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A connection URL for `host:port`, with the root credentials and replica set when configured.
fn url(host: &str, port: u16, db: Option<&str>, settings: &Settings, direct: bool) -> String {
    let auth = settings
        .root_password
        .as_deref()
        .map(|p| format!("root:{}@", percent_encode(p)))
        .unwrap_or_default();
    let mut query = Vec::new();
    if settings.root_password.is_some() {
        query.push("authSource=admin".to_string());
    }
    if direct {
        query.push("directConnection=true".to_string());
    } else if let Some(set) = &settings.replica_set {
        query.push(format!("replicaSet={set}"));
    }
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    format!("mongodb://{auth}{host}:{port}/{}{query}", db.unwrap_or(""))
}

/// `mongosh`, beside `mongod` or on `PATH`.
fn mongosh(engine: &EngineBinary) -> Result<PathBuf, CatalogError> {
    find_tool(&[engine.bin_dir.join("mongosh")], "mongosh").ok_or_else(|| {
        CatalogError::MissingTool {
            tool: "mongosh".into(),
            hint: "vers runs setup steps of a real mongod with mongosh; install it from mongodb.com (package mongodb-mongosh) or put it beside mongod".into(),
        }
    })
}

/// A client step for `ctx`'s server: SecantusDB's Python with [`CLIENT_PY`] and `args`.
fn python_step(engine: &EngineBinary, args: &[String], env: BTreeMap<String, String>) -> Exec {
    let mut argv = vec!["-c".to_string(), CLIENT_PY.to_string()];
    argv.extend(args.iter().cloned());
    Exec::new(engine.bin_dir.join("python"), argv).with_env(env)
}

/// The WiredTiger cache size: half the memory limit (at least 256 MB), else 256 MB.
fn cache_megabytes(ctx: &InstanceCtx) -> u64 {
    ctx.memory_limit
        .map(|limit| (limit / 2) >> 20)
        .unwrap_or(256)
        .max(256)
}

/// `init_data` of a real `mongod` with auth: a keyfile for a replica set, then the root user
/// created through a temporary `mongod` listening only on a Unix socket, then stopped.
fn mongod_init(
    ctx: &InstanceCtx,
    engine: &EngineBinary,
    settings: &Settings,
    password: &str,
) -> Result<Vec<Exec>, CatalogError> {
    let mongod = engine.bin_dir.join("mongod");
    let shell = mongosh(engine)?;
    let data = ctx.data_dir.display().to_string();
    let mut steps = Vec::new();
    if settings.replica_set.is_some() {
        steps.push(Exec::new(
            "/bin/sh",
            [
                "-c".to_string(),
                format!(
                    "set -e; umask 077; head -c 756 /dev/urandom | base64 -w0 > \"$1/{KEYFILE}\"; chmod 400 \"$1/{KEYFILE}\""
                ),
                "keyfile".into(),
                data.clone(),
            ],
        ));
    }
    let script = "set -eu
tmp=$(mktemp -d)
trap 'rm -rf \"$tmp\"' EXIT
\"$MONGOD\" --dbpath \"$DATA\" --port 27017 --bind_ip \"$tmp/init.sock\" --unixSocketPrefix \"$tmp\" --fork --logpath \"$tmp/mongod.log\" >/dev/null
socket=$(printf %s \"$tmp/mongodb-27017.sock\" | sed 's,/,%2F,g')
\"$MONGOSH\" \"mongodb://$socket/admin\" --quiet --eval 'db.createUser({user: \"root\", pwd: process.env.VERS_MONGODB_ROOT_PASSWORD, roles: [\"root\"]})'
\"$MONGOD\" --dbpath \"$DATA\" --shutdown >/dev/null
";
    let env = BTreeMap::from([
        ("MONGOD".to_string(), mongod.display().to_string()),
        ("MONGOSH".to_string(), shell.display().to_string()),
        ("DATA".to_string(), data),
        (
            "VERS_MONGODB_ROOT_PASSWORD".to_string(),
            password.to_string(),
        ),
    ]);
    steps.push(Exec::new("/bin/sh", ["-c", script]).with_env(env));
    Ok(steps)
}

impl Template for MongoDb {
    fn name(&self) -> &'static str {
        "mongodb"
    }

    fn engine(&self, version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        discover::find(version)
    }

    fn init_data(
        &self,
        ctx: &InstanceCtx,
        engine: &EngineBinary,
    ) -> Result<Vec<Exec>, CatalogError> {
        let server = Server::of(engine);
        let settings = settings(ctx, server)?;
        let Some(password) = settings.root_password.as_deref() else {
            return Ok(Vec::new());
        };
        match server {
            Server::Secantus => Ok(vec![python_step(
                engine,
                &["root-user".into(), ctx.data_dir.display().to_string()],
                BTreeMap::from([(
                    "VERS_MONGODB_ROOT_PASSWORD".to_string(),
                    password.to_string(),
                )]),
            )]),
            Server::Mongod => mongod_init(ctx, engine, &settings, password),
        }
    }

    fn launch(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Launch, CatalogError> {
        let server = Server::of(engine);
        let settings = settings(ctx, server)?;
        let port = ctx.port(0, PORT).to_string();
        let data = ctx.data_dir.display().to_string();
        let cache_mb = cache_megabytes(ctx);
        let (program, args) = match server {
            Server::Secantus => {
                // An explicit (empty) config file stops SecantusDB from reading one from
                // the working directory, the home directory or /etc.
                let conf = ctx.run_dir.join("secantusd.toml");
                std::fs::write(&conf, "# settings come from the command line (vers)\n")
                    .map_err(|e| CatalogError::io(&conf, e))?;
                let mut args = vec![
                    "--config".to_string(),
                    conf.display().to_string(),
                    "--host".into(),
                    ctx.bind.to_string(),
                    "--port".into(),
                    port,
                    "--storage-path".into(),
                    data,
                    // A replica-set advertisement would name the bind address (0.0.0.0), which
                    // clients reaching the service by name cannot use.
                    "--standalone".into(),
                    "--cache-size".into(),
                    format!("{cache_mb}M"),
                ];
                if settings.root_password.is_some() {
                    args.push("--auth".into());
                }
                (engine.bin_dir.join("secantusd-py"), args)
            }
            Server::Mongod => {
                let mut args = vec![
                    "--dbpath".to_string(),
                    data,
                    "--bind_ip".into(),
                    ctx.bind.to_string(),
                    "--port".into(),
                    port,
                    // The default socket, /tmp/mongodb-27017.sock, would collide between
                    // environments sharing /tmp.
                    "--nounixsocket".into(),
                    "--wiredTigerCacheSizeGB".into(),
                    format!("{:.2}", cache_mb as f64 / 1024.0),
                ];
                if settings.root_password.is_some() {
                    args.push("--auth".into());
                }
                if let Some(set) = &settings.replica_set {
                    args.extend(["--replSet".to_string(), set.clone()]);
                    if settings.root_password.is_some() {
                        args.push("--keyFile".into());
                        args.push(ctx.data_dir.join(KEYFILE).display().to_string());
                    }
                }
                (engine.bin_dir.join("mongod"), args)
            }
        };
        Ok(Launch {
            program,
            args,
            env: BTreeMap::new(),
            cwd: ctx.data_dir.clone(),
        })
    }

    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        wire::ping_probe(ctx.port(0, PORT))
    }

    fn setup(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        let server = Server::of(engine);
        let settings = settings(ctx, server)?;
        if !settings.needs_setup() {
            return Ok(Vec::new());
        }
        let port = ctx.port(0, PORT);
        let plan = settings.plan(&format!("{}:{port}", ctx.public_name));
        let local = url(&ctx.listen.to_string(), port, None, &settings, true);
        Ok(vec![match server {
            Server::Secantus => python_step(
                engine,
                &["setup".into(), plan.to_string()],
                BTreeMap::from([("VERS_MONGODB_URL".to_string(), local)]),
            ),
            Server::Mongod => Exec::new(
                mongosh(engine)?,
                [
                    local,
                    "--quiet".into(),
                    "--eval".into(),
                    format!("const plan = {plan};\n{SETUP_JS}"),
                ],
            ),
        }])
    }

    fn restart_after_disk_full(&self) -> bool {
        // WiredTiger panics on a full disk: the stand-in keeps answering `ping` and fails
        // every other operation, and mongod aborts; both need a start on their data.
        true
    }

    fn quiesce(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Vec<Exec> {
        let server = Server::of(engine);
        let Ok(settings) = settings(ctx, server) else {
            return Vec::new();
        };
        let local = url(
            &ctx.listen.to_string(),
            ctx.port(0, PORT),
            None,
            &settings,
            true,
        );
        match server {
            Server::Secantus => vec![python_step(
                engine,
                &["fsync".into()],
                BTreeMap::from([("VERS_MONGODB_URL".to_string(), local)]),
            )],
            Server::Mongod => match mongosh(engine) {
                Ok(shell) => vec![Exec::new(
                    shell,
                    [
                        local,
                        "--quiet".into(),
                        "--eval".into(),
                        "db.adminCommand({fsync: 1})".into(),
                    ],
                )],
                Err(_) => Vec::new(),
            },
        }
    }

    fn connection_env(&self, ctx: &InstanceCtx) -> BTreeMap<String, String> {
        let Ok(settings) = Settings::read(&ctx.service, &ctx.config) else {
            return BTreeMap::new();
        };
        let url = url(
            &ctx.public_name,
            ctx.port(0, PORT),
            settings.databases.first().map(String::as_str),
            &settings,
            false,
        );
        BTreeMap::from([
            ("MONGODB_URL".to_string(), url.clone()),
            ("MONGO_URL".to_string(), url),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// An instance of service `mongo` with `config`, for the tests of this module.
    fn ctx_with(config: Value) -> InstanceCtx {
        InstanceCtx {
            service: "mongo".into(),
            replica: 0,
            template: Some("mongodb".into()),
            version: Some("7".into()),
            listen: std::net::Ipv4Addr::new(10, 0, 0, 2),
            bind: std::net::Ipv4Addr::UNSPECIFIED,
            ports: vec![27017],
            data_dir: "/data".into(),
            run_dir: std::env::temp_dir(),
            project_dir: "/project".into(),
            config,
            env: BTreeMap::new(),
            user_uid: 1,
            user_gid: 1,
            vers_exe: "/usr/bin/vers".into(),
            public_name: "mongo".into(),
            memory_limit: None,
            command: None,
            build_context: None,
            peers: BTreeMap::new(),
        }
    }

    fn engine(stand_in: bool) -> EngineBinary {
        EngineBinary {
            template: "mongodb".into(),
            version: "7.0.14".into(),
            major: "7".into(),
            bin_dir: "/opt/mongo/bin".into(),
            source: crate::EngineSource::Path,
            stand_in: stand_in.then(|| crate::StandIn {
                implementation: "SecantusDB".into(),
                note: "stand-in".into(),
            }),
        }
    }

    #[test]
    fn connection_urls_name_the_service_database_and_credentials() {
        let env = MongoDb.connection_env(&ctx_with(json!({"databases": ["inventory"]})));
        assert_eq!(env["MONGODB_URL"], "mongodb://mongo:27017/inventory");
        assert_eq!(env["MONGO_URL"], env["MONGODB_URL"]);
        let env = MongoDb.connection_env(&ctx_with(
            json!({"auth": {"root_password": "p@ss"}, "replica_set": true}),
        ));
        assert_eq!(
            env["MONGODB_URL"],
            "mongodb://root:p%40ss@mongo:27017/?authSource=admin&replicaSet=rs0"
        );
    }

    #[test]
    fn mongod_listens_on_the_bind_address_and_standard_port_without_a_shared_socket() {
        let launch = MongoDb
            .launch(&ctx_with(json!({"replica_set": "main"})), &engine(false))
            .unwrap();
        assert_eq!(launch.program, PathBuf::from("/opt/mongo/bin/mongod"));
        let args = launch.args.join(" ");
        assert!(
            args.contains("--dbpath /data --bind_ip 0.0.0.0 --port 27017 --nounixsocket"),
            "{args}"
        );
        assert!(args.contains("--replSet main"), "{args}");
    }

    #[test]
    fn the_stand_in_refuses_a_replica_set_naming_the_key_and_itself() {
        let err = MongoDb
            .launch(&ctx_with(json!({"replica_set": true})), &engine(true))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.replica_set") && err.contains("SecantusDB"),
            "{err}"
        );
    }

    #[test]
    fn setup_runs_only_when_there_is_something_to_create() {
        let none = MongoDb
            .setup(&ctx_with(Value::Null), &engine(true))
            .unwrap();
        assert!(none.is_empty());
        let steps = MongoDb
            .setup(
                &ctx_with(json!({"databases": ["inventory"]})),
                &engine(true),
            )
            .unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(
            steps[0].env["VERS_MONGODB_URL"],
            "mongodb://10.0.0.2:27017/?directConnection=true"
        );
        assert!(steps[0].args.iter().any(|a| a.contains("\"inventory\"")));
    }
}
