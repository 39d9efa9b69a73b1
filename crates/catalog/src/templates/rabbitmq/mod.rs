//! RabbitMQ 3 from the distro's `rabbitmq-server` (3.10 on Debian 12). Its version comes from
//! the package metadata: `rabbitmq-server --version` is not a version flag, it boots a broker.
//!
//! The broker runs with a generated `rabbitmq.conf` (listener on the instance's address,
//! `guest` allowed from other hosts, logs on the console) and the config's vhosts, users,
//! exchanges, queues and bindings as definitions imported at every boot. Erlang distribution
//! stays on the loopback of the instance: the node is `rabbit@127.0.0.1` (a name independent
//! of the environment's addresses, so a branch finds its Mnesia directory), and its port
//! mapper `epmd` is started in the foreground before the broker, on the service's own port,
//! and stopped after it, so it belongs to the service's processes (the broker's
//! `-start_epmd false` keeps Erlang from starting a detached one). Mnesia and the message store live in the data directory
//! and recover a crash-consistent copy, so checkpoints need no quiesce step.

mod definitions;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::binaries::{
    debian_package_version, find_tool, is_executable, major_of, version_matches,
};
use crate::config::Config;
use crate::{
    CatalogError, EngineBinary, EngineSource, Exec, InstanceCtx, Launch, MissingEngine, Probe,
    Template,
};

/// The broker's start script in Debian's package.
const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
/// Where Debian's package keeps the broker and its plugins.
const LIB_DIR: &str = "/usr/lib/rabbitmq/lib";
/// The standard AMQP port.
const AMQP_PORT: u16 = 5672;
/// The management plugin's HTTP port.
const MANAGEMENT_PORT: u16 = 15672;
/// The Erlang port mapper's port.
const EPMD_PORT: u16 = 4369;
/// The Erlang distribution port.
const DIST_PORT: u16 = 25672;
/// The node name: its host part is the loopback address, where distribution listens.
const NODE: &str = "rabbit@127.0.0.1";
/// AMQP 0-9-1's protocol header.
const AMQP_HEADER: &[u8] = b"AMQP\x00\x00\x09\x01";

/// Exchange types that plugins add.
const PLUGIN_EXCHANGE_TYPES: [(&str, &str); 4] = [
    ("rabbitmq_consistent_hash_exchange", "x-consistent-hash"),
    ("rabbitmq_random_exchange", "x-random"),
    ("rabbitmq_recent_history_exchange", "x-recent-history"),
    ("rabbitmq_jms_topic_exchange", "x-jms-topic"),
];

/// The waits, in 50 ms steps, for `epmd` to answer before the broker starts.
const EPMD_WAIT_STEPS: u32 = 200;

/// The `rabbitmq` template.
pub(crate) struct Rabbitmq;

/// The installed broker, its version read from the package metadata.
pub(crate) fn installed() -> Option<EngineBinary> {
    let server = PathBuf::from(SERVER);
    if !is_executable(&server) {
        return None;
    }
    let version = debian_package_version("rabbitmq-server")?;
    Some(EngineBinary {
        stand_in: None,
        template: "rabbitmq".into(),
        major: major_of(&version),
        version,
        bin_dir: server.parent()?.to_path_buf(),
        source: EngineSource::Distro {
            package: "rabbitmq-server".into(),
        },
    })
}

/// The plugins directory of the installed broker of `version`.
fn plugins_dir(version: &str) -> PathBuf {
    Path::new(LIB_DIR)
        .join(format!("rabbitmq_server-{version}"))
        .join("plugins")
}

/// Whether a plugin called `name` is installed (a directory or archive `name-VERSION`).
fn plugin_installed(version: &str, name: &str) -> bool {
    std::fs::read_dir(plugins_dir(version)).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('-'))
        })
    })
}

/// The plugins to enable: `plugins`, plus the management plugin with `management: true`.
fn enabled_plugins(ctx: &InstanceCtx, version: &str) -> Result<Vec<String>, CatalogError> {
    let cfg = Config::new(&ctx.service, &ctx.config);
    let mut plugins = cfg.strings("plugins")?;
    for (i, p) in plugins.iter().enumerate() {
        if !plugin_installed(version, p) {
            return Err(cfg.error(
                &format!("plugins[{i}]"),
                format!(
                    "RabbitMQ {version} has no plugin `{p}` (see {})",
                    plugins_dir(version).display()
                ),
            ));
        }
    }
    if cfg.boolean("management")? == Some(true)
        && !plugins.iter().any(|p| p == "rabbitmq_management")
    {
        plugins.push("rabbitmq_management".into());
    }
    Ok(plugins)
}

/// Whether the management plugin runs.
fn management(ctx: &InstanceCtx) -> bool {
    let cfg = Config::new(&ctx.service, &ctx.config);
    cfg.boolean("management").ok().flatten() == Some(true)
        || cfg
            .strings("plugins")
            .is_ok_and(|p| p.iter().any(|n| n == "rabbitmq_management"))
}

/// The `rabbitmq.conf` of an instance.
fn conf(ctx: &InstanceCtx, definitions: &Path, management: bool) -> String {
    let mut lines = vec![
        format!(
            "listeners.tcp.default = {}:{}",
            ctx.bind,
            ctx.port(0, AMQP_PORT)
        ),
        "loopback_users = none".to_string(),
        "log.console = true".into(),
        "log.console.level = info".into(),
        "log.file = false".into(),
        "definitions.import_backend = local_filesystem".into(),
        format!("definitions.local.path = {}", definitions.display()),
    ];
    if management {
        lines.push(format!("management.tcp.ip = {}", ctx.bind));
        lines.push(format!(
            "management.tcp.port = {}",
            ctx.port(1, MANAGEMENT_PORT)
        ));
    }
    if let Some(limit) = ctx.memory_limit {
        lines.push(format!(
            "vm_memory_high_watermark.absolute = {}",
            limit / 5 * 3
        ));
    }
    lines.join("\n") + "\n"
}

/// Starts `epmd` in the foreground on the loopback and waits for it, runs the broker, and
/// stops `epmd` when the broker ends (a SIGTERM is passed on to the broker's own script,
/// which stops it cleanly).
const START_SCRIPT: &str = r#"set -u
"$VERS_EPMD" -port "$ERL_EPMD_PORT" -address 127.0.0.1 &
epmd_pid=$!
i=0
until "$VERS_EPMD" -port "$ERL_EPMD_PORT" -names >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge "$VERS_EPMD_WAIT_STEPS" ]; then
    echo "epmd did not start on port $ERL_EPMD_PORT" >&2
    kill "$epmd_pid" 2>/dev/null
    exit 1
  fi
  sleep 0.05
done
"$VERS_RABBITMQ_SERVER" &
server_pid=$!
trap 'kill -TERM "$server_pid" 2>/dev/null' TERM INT
status=0
wait "$server_pid" || status=$?
if kill -0 "$server_pid" 2>/dev/null; then
  status=0
  wait "$server_pid" || status=$?
fi
kill "$epmd_pid" 2>/dev/null
wait "$epmd_pid" 2>/dev/null
exit "$status"
"#;

impl Template for Rabbitmq {
    fn name(&self) -> &'static str {
        "rabbitmq"
    }

    fn engine(&self, version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        let missing = |hint: String| MissingEngine {
            template: "rabbitmq".into(),
            version: version.map(String::from),
            hint,
        };
        match installed() {
            None => Err(missing(
                "install it with: apt-get install rabbitmq-server, or: vers engines install rabbitmq"
                    .into(),
            )),
            Some(e) if version.is_none_or(|v| version_matches(&e.version, v)) => Ok(e),
            Some(e) => Err(missing(format!(
                "this machine has RabbitMQ {}; use rabbitmq@{}",
                e.version, e.major
            ))),
        }
    }

    fn init_data(
        &self,
        _ctx: &InstanceCtx,
        _engine: &EngineBinary,
    ) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn launch(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Result<Launch, CatalogError> {
        let cfg = Config::new(&ctx.service, &ctx.config);
        let plugins = enabled_plugins(ctx, &engine.version)?;
        let extra_types: Vec<String> = PLUGIN_EXCHANGE_TYPES
            .iter()
            .filter(|(p, _)| plugins.iter().any(|x| x == p))
            .map(|(_, t)| t.to_string())
            .collect();
        let defs = definitions::build(&cfg, &engine.version, &extra_types)?;
        let epmd = find_tool(&[PathBuf::from("/usr/bin/epmd")], "epmd").ok_or_else(|| {
            CatalogError::MissingTool {
                tool: "epmd".into(),
                hint:
                    "install it with: apt-get install erlang-base (a dependency of rabbitmq-server)"
                        .into(),
            }
        })?;
        let write = |name: &str, text: &str| -> Result<PathBuf, CatalogError> {
            let path = ctx.run_dir.join(name);
            std::fs::write(&path, text).map_err(|e| CatalogError::io(&path, e))?;
            Ok(path)
        };
        let defs_text = serde_json::to_string_pretty(&defs).map_err(|e| {
            CatalogError::io(
                ctx.run_dir.join("definitions.json"),
                std::io::Error::other(e),
            )
        })?;
        let defs_path = write("definitions.json", &defs_text)?;
        let conf_path = write("rabbitmq.conf", &conf(ctx, &defs_path, management(ctx)))?;
        let plugins_path = write("enabled_plugins", &format!("[{}].\n", plugins.join(",")))?;
        let env_path = write("rabbitmq-env.conf", "")?;
        let run = |name: &str| ctx.run_dir.join(name).display().to_string();
        let data = |name: &str| ctx.data_dir.join(name).display().to_string();
        let env = BTreeMap::from(
            [
                ("PATH", "/usr/local/bin:/usr/bin:/bin".to_string()),
                ("HOME", ctx.data_dir.display().to_string()),
                ("LC_ALL", "C.UTF-8".into()),
                ("VERS_EPMD", epmd.display().to_string()),
                ("VERS_EPMD_WAIT_STEPS", EPMD_WAIT_STEPS.to_string()),
                (
                    "VERS_RABBITMQ_SERVER",
                    engine.bin_dir.join("rabbitmq-server").display().to_string(),
                ),
                ("ERL_EPMD_PORT", ctx.port(2, EPMD_PORT).to_string()),
                ("RABBITMQ_CONF_ENV_FILE", env_path.display().to_string()),
                ("RABBITMQ_CONFIG_FILE", conf_path.display().to_string()),
                ("RABBITMQ_ADVANCED_CONFIG_FILE", run("advanced.config")),
                (
                    "RABBITMQ_ENABLED_PLUGINS_FILE",
                    plugins_path.display().to_string(),
                ),
                ("RABBITMQ_MNESIA_BASE", data("mnesia")),
                ("RABBITMQ_LOG_BASE", run("log")),
                ("RABBITMQ_LOGS", "-".into()),
                ("RABBITMQ_PID_FILE", run("rabbitmq.pid")),
                ("RABBITMQ_NODENAME", NODE.into()),
                ("RABBITMQ_USE_LONGNAME", "true".into()),
                ("RABBITMQ_DIST_PORT", ctx.port(3, DIST_PORT).to_string()),
                (
                    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                    "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}".into(),
                ),
            ]
            .map(|(k, v)| (k.to_string(), v)),
        );
        Ok(Launch {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), START_SCRIPT.into()],
            env,
            cwd: ctx.data_dir.clone(),
        })
    }

    /// Healthy once the broker answers AMQP's protocol header with `connection.start`
    /// (a method frame of class 10, method 10).
    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        Probe::Exchange {
            port: ctx.port(0, AMQP_PORT),
            send: AMQP_HEADER.to_vec(),
            expect_at: 7,
            expect: vec![0x00, 0x0a, 0x00, 0x0a],
        }
    }

    fn setup(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn quiesce(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Vec<Exec> {
        Vec::new()
    }

    fn connection_env(&self, ctx: &InstanceCtx) -> BTreeMap<String, String> {
        let url = format!(
            "amqp://guest:guest@{}:{}/",
            ctx.public_name,
            ctx.port(0, AMQP_PORT)
        );
        BTreeMap::from([
            ("RABBITMQ_URL".to_string(), url.clone()),
            ("AMQP_URL".to_string(), url),
        ])
    }

    fn http_ports(&self, ctx: &InstanceCtx) -> Vec<u16> {
        if management(ctx) {
            vec![ctx.port(1, MANAGEMENT_PORT)]
        } else {
            Vec::new()
        }
    }
}
