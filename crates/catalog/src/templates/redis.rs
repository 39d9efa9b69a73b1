//! Redis 6 and 7 from the distro's `redis-server`: a generated `redis.conf`, `PING` health.
//!
//! `persistence` is `aof` (the default, also `true`), `rdb` or `none` (also `false`).
//! Checkpoints capture the data directory, so a Redis without an append-only file would lose
//! its keys in every branch. With the AOF written on every command (fsynced once a second) a
//! frozen Redis has everything it acknowledged in the page cache that the snapshot captures.
//! `quiesce` rewrites the AOF first, so a checkpoint holds one RDB-format base (the AOF's RDB
//! preamble) and branches load it instead of replaying every command ever written. With `rdb`
//! (periodic snapshots, no AOF) or `none` (no saving at all) `quiesce` runs `SAVE`, so the
//! checkpoint still holds a `dump.rdb` of every key, which Redis loads when a branch starts.
//!
//! Health is `PING` answered `+PONG` over the wire (a Redis still loading answers `-LOADING`),
//! without starting a client process per probe.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::binaries::{find_tool, major_of, version_matches, version_of};
use crate::config::Config;
use crate::{
    CatalogError, EngineBinary, EngineSource, Exec, InstanceCtx, Launch, MissingEngine, Probe,
    Template,
};

/// The standard Redis port.
const PORT: u16 = 6379;
/// Eviction policies Redis accepts: the list the manifest validates against.
const POLICIES: &[&str] = vers_manifest::REDIS_POLICIES;

/// The `redis` template.
pub(crate) struct Redis;

/// The installed `redis-server`, whatever its version.
pub(crate) fn installed() -> Option<EngineBinary> {
    let server = find_tool(&[PathBuf::from("/usr/bin/redis-server")], "redis-server")?;
    let version = version_of(&server, &["--version"])?;
    let bin_dir = server.parent()?.to_path_buf();
    let source = if bin_dir == std::path::Path::new("/usr/bin") {
        EngineSource::Distro {
            package: "redis-server".into(),
        }
    } else {
        EngineSource::Path
    };
    Some(EngineBinary {
        stand_in: None,
        template: "redis".into(),
        major: major_of(&version),
        version,
        bin_dir,
        source,
    })
}

/// `redis-cli`, next to the server or on `PATH`.
fn cli(engine: &EngineBinary) -> PathBuf {
    find_tool(&[engine.bin_dir.join("redis-cli")], "redis-cli")
        .unwrap_or_else(|| PathBuf::from("redis-cli"))
}

/// How an instance persists its keys (`persistence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Persistence {
    /// Append-only file plus periodic RDB snapshots (`aof`, `true`, or absent).
    Aof,
    /// Periodic RDB snapshots only (`rdb`).
    Rdb,
    /// No saving while running (`none`, `false`); checkpoints still `SAVE` once.
    None,
}

/// The `persistence` of an instance: a bool or `rdb` | `aof` | `none`; absent means `aof`.
pub(crate) fn persistence(cfg: &Config<'_>) -> Result<Persistence, CatalogError> {
    let word = match cfg.get("persistence") {
        None | Some(serde_json::Value::Null) => return Ok(Persistence::Aof),
        Some(serde_json::Value::Bool(b)) => (if *b { "true" } else { "false" }).to_string(),
        Some(_) => cfg.scalar("persistence")?.unwrap_or_default(),
    };
    match word.to_ascii_lowercase().as_str() {
        "aof" | "true" | "yes" | "on" => Ok(Persistence::Aof),
        "rdb" => Ok(Persistence::Rdb),
        "none" | "false" | "no" | "off" => Ok(Persistence::None),
        _ => Err(cfg.error(
            "persistence",
            format!("expected true, false, rdb, aof or none, found `{word}`"),
        )),
    }
}

/// The password from `password` (or its alias `requirepass`).
fn password(cfg: &Config<'_>) -> Result<Option<String>, CatalogError> {
    match cfg.get_any(&["password", "requirepass"]) {
        None => Ok(None),
        Some((key, _)) => cfg.scalar(key),
    }
}

/// Quotes a `redis.conf` argument.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Percent-encodes everything but unreserved URL characters (for the password in `REDIS_URL`).
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

/// The `redis.conf` of an instance.
pub(crate) fn conf(ctx: &InstanceCtx) -> Result<String, CatalogError> {
    let cfg = Config::new(&ctx.service, &ctx.config);
    let mut lines = vec![
        format!("bind {}", ctx.bind),
        format!("port {}", ctx.port(0, PORT)),
        format!("dir {}", quoted(&ctx.data_dir.display().to_string())),
        "protected-mode no".to_string(),
        "daemonize no".to_string(),
        "logfile \"\"".to_string(),
    ];
    let maxmemory = match cfg.size("maxmemory")? {
        Some(bytes) => Some(bytes),
        None => ctx.memory_limit.map(|limit| limit / 4 * 3),
    };
    if let Some(bytes) = maxmemory {
        lines.push(format!("maxmemory {bytes}"));
    }
    if let Some(policy) = cfg.scalar("maxmemory_policy")? {
        if !POLICIES.contains(&policy.as_str()) {
            return Err(cfg.error(
                "maxmemory_policy",
                format!("`{policy}` is not one of {}", POLICIES.join(", ")),
            ));
        }
        lines.push(format!("maxmemory-policy {policy}"));
    }
    if let Some(n) = cfg.unsigned("databases")? {
        lines.push(format!("databases {n}"));
    }
    if let Some(pass) = password(&cfg)? {
        lines.push(format!("requirepass {}", quoted(&pass)));
    }
    if cfg.boolean("cluster")? == Some(true) {
        return Err(cfg.error(
            "cluster",
            "Redis Cluster needs several nodes and slot assignment; vers runs one Redis per service, so remove `cluster: true` (use `replicas` for an app, or several redis services)",
        ));
    }
    match persistence(&cfg)? {
        Persistence::Aof => lines.extend([
            "appendonly yes".to_string(),
            "appendfsync everysec".to_string(),
            "save 3600 1 300 100 60 10000".to_string(),
        ]),
        Persistence::Rdb => lines.extend([
            "appendonly no".to_string(),
            "save 3600 1 300 100 60 10000".to_string(),
        ]),
        Persistence::None => {
            lines.extend(["save \"\"".to_string(), "appendonly no".to_string()]);
        }
    }
    Ok(lines.join("\n") + "\n")
}

impl Template for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn engine(&self, version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        let missing = |hint: String| MissingEngine {
            template: "redis".into(),
            version: version.map(String::from),
            hint,
        };
        match installed() {
            None => Err(missing(
                "install it with: apt-get install redis-server, or: vers engines install redis".into(),
            )),
            Some(e) if version.is_none_or(|v| version_matches(&e.version, v)) => Ok(e),
            Some(e) => Err(missing(format!(
                "this machine has Redis {} ({}), and no Redis {} is available from its package sources; use redis@{}",
                e.version,
                e.bin_dir.join("redis-server").display(),
                version.unwrap_or_default(),
                e.major
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
        let path = ctx.run_dir.join("redis.conf");
        std::fs::write(&path, conf(ctx)?).map_err(|e| CatalogError::io(&path, e))?;
        Ok(Launch {
            program: engine.bin_dir.join("redis-server"),
            args: vec![path.display().to_string()],
            env: BTreeMap::new(),
            cwd: ctx.data_dir.clone(),
        })
    }

    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        let ping = b"*1\r\n$4\r\nPING\r\n";
        match password(&Config::new(&ctx.service, &ctx.config)) {
            Ok(Some(pass)) => {
                // AUTH first; its `+OK\r\n` precedes the `+PONG`.
                let mut send = format!("*2\r\n$4\r\nAUTH\r\n${}\r\n", pass.len()).into_bytes();
                send.extend_from_slice(pass.as_bytes());
                send.extend_from_slice(b"\r\n");
                send.extend_from_slice(ping);
                Probe::Exchange {
                    port: ctx.port(0, PORT),
                    send,
                    expect_at: 5,
                    expect: b"+PONG".to_vec(),
                }
            }
            _ => Probe::Exchange {
                port: ctx.port(0, PORT),
                send: ping.to_vec(),
                expect_at: 0,
                expect: b"+PONG".to_vec(),
            },
        }
    }

    fn setup(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn quiesce(&self, ctx: &InstanceCtx, engine: &EngineBinary) -> Vec<Exec> {
        let cfg = Config::new(&ctx.service, &ctx.config);
        // A config `launch` refused never gets here.
        let Ok(mode) = persistence(&cfg) else {
            return Vec::new();
        };
        let cli = format!(
            "{} -h {} -p {}",
            cli(engine).display(),
            ctx.listen,
            ctx.port(0, PORT)
        );
        // Without an AOF (`rdb`, and `none`, whose Redis never saves by itself): write
        // `dump.rdb` now (SAVE returns once it is on disk), so the checkpoint holds every key.
        // With one: rewrite the AOF (into an RDB preamble) and wait until the rewrite is done.
        let script = if mode != Persistence::Aof {
            // A periodic BGSAVE in progress makes SAVE fail: retry until it is done. Any other
            // failure (a full disk) fails at once, saying why.
            format!(
                "for _ in $(seq 600); do\n\
                   answer=\"$({cli} save 2>&1)\"\n\
                   case \"$answer\" in\n\
                     OK) exit 0 ;;\n\
                     *'in progress'*) sleep 0.05 ;;\n\
                     *) echo \"SAVE: $answer\"; exit 1 ;;\n\
                   esac\n\
                 done\n\
                 exit 1\n"
            )
        } else {
            format!(
                "{cli} bgrewriteaof >/dev/null || exit 1\n\
             for _ in $(seq 600); do\n\
               case \"$({cli} info persistence)\" in\n\
                 *aof_rewrite_in_progress:0*aof_rewrite_scheduled:0*aof_last_bgrewrite_status:ok*) exit 0 ;;\n\
                 *aof_rewrite_in_progress:0*aof_rewrite_scheduled:0*aof_last_bgrewrite_status:err*)\n\
                   echo 'BGREWRITEAOF failed (see the redis log)'; exit 1 ;;\n\
               esac\n\
               sleep 0.05\n\
             done\n\
             exit 1\n"
            )
        };
        let mut env = BTreeMap::new();
        if let Ok(Some(pass)) = password(&cfg) {
            env.insert("REDISCLI_AUTH".to_string(), pass);
        }
        vec![Exec::new("/bin/sh", ["-c".to_string(), script]).with_env(env)]
    }

    fn connection_env(&self, ctx: &InstanceCtx) -> BTreeMap<String, String> {
        let port = ctx.port(0, PORT);
        let auth = match password(&Config::new(&ctx.service, &ctx.config)) {
            Ok(Some(p)) => format!(":{}@", percent_encode(&p)),
            _ => String::new(),
        };
        BTreeMap::from([
            ("REDIS_HOST".to_string(), ctx.public_name.clone()),
            ("REDIS_PORT".to_string(), port.to_string()),
            (
                "REDIS_URL".to_string(),
                format!("redis://{auth}{}:{port}", ctx.public_name),
            ),
        ])
    }
}
