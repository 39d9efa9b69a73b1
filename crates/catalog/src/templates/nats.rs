//! NATS 2 from the distro's `nats-server`: a generated config file, JetStream on (its file
//! store, `jetstream/`, in the data directory, so checkpoints and branches carry streams and messages), and
//! the server's `INFO` greeting as the health check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::binaries::{cached_output, find_tool, major_of, version_matches};
use crate::config::Config;
use crate::{
    CatalogError, EngineBinary, EngineSource, Exec, InstanceCtx, Launch, MissingEngine, Probe,
    Template,
};

/// The standard NATS client port.
const PORT: u16 = 4222;

/// The `nats` template.
pub(crate) struct Nats;

/// The version `nats-server --version` prints (`nats-server: v2.9.10`).
fn server_version(bin: &Path) -> Option<String> {
    let text = cached_output(bin, &["--version"])?;
    let rest = text
        .split(": v")
        .nth(1)
        .or_else(|| text.split(" v").nth(1))?;
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    version.contains('.').then_some(version)
}

/// The installed `nats-server`, whatever its version.
pub(crate) fn installed() -> Option<EngineBinary> {
    let bin = find_tool(&[PathBuf::from("/usr/sbin/nats-server")], "nats-server")?;
    let version = server_version(&bin)?;
    let bin_dir = bin.parent()?.to_path_buf();
    let source = if bin_dir == Path::new("/usr/sbin") || bin_dir == Path::new("/usr/bin") {
        EngineSource::Distro {
            package: "nats-server".into(),
        }
    } else {
        EngineSource::Path
    };
    Some(EngineBinary {
        stand_in: None,
        template: "nats".into(),
        major: major_of(&version),
        version,
        bin_dir,
        source,
    })
}

/// Quotes a string for the NATS config syntax.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The `nats-server` config of an instance.
pub(crate) fn conf(ctx: &InstanceCtx) -> Result<String, CatalogError> {
    let cfg = Config::new(&ctx.service, &ctx.config);
    let mut lines = vec![
        format!(
            "listen: {}",
            quoted(&format!("{}:{}", ctx.bind, ctx.port(0, PORT)))
        ),
        format!("server_name: {}", quoted(&ctx.service)),
    ];
    if let Some(bytes) = cfg.size("max_payload")? {
        lines.push(format!("max_payload: {bytes}"));
    }
    if let Some(n) = cfg.unsigned("max_connections")? {
        lines.push(format!("max_connections: {n}"));
    }
    if cfg.boolean("jetstream")?.unwrap_or(true) {
        let store = &ctx.data_dir;
        let mut js = vec![format!(
            "store_dir: {}",
            quoted(&store.display().to_string())
        )];
        if let Some(limit) = ctx.memory_limit {
            js.push(format!("max_memory_store: {}", limit / 2));
        }
        lines.push(format!("jetstream {{\n  {}\n}}", js.join("\n  ")));
    }
    Ok(lines.join("\n") + "\n")
}

impl Template for Nats {
    fn name(&self) -> &'static str {
        "nats"
    }

    fn engine(&self, version: Option<&str>) -> Result<EngineBinary, MissingEngine> {
        let missing = |hint: String| MissingEngine {
            template: "nats".into(),
            version: version.map(String::from),
            hint,
        };
        match installed() {
            None => Err(missing(
                "install it with: apt-get install nats-server, or: vers engines install nats"
                    .into(),
            )),
            Some(e) if version.is_none_or(|v| version_matches(&e.version, v)) => Ok(e),
            Some(e) => Err(missing(format!(
                "this machine has nats-server {}; use nats@{}",
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
        let path = ctx.run_dir.join("nats.conf");
        std::fs::write(&path, conf(ctx)?).map_err(|e| CatalogError::io(&path, e))?;
        Ok(Launch {
            program: engine.bin_dir.join("nats-server"),
            args: vec!["-c".into(), path.display().to_string()],
            env: BTreeMap::new(),
            cwd: ctx.data_dir.clone(),
        })
    }

    /// Healthy once the server greets a new connection with its `INFO` line.
    fn health(&self, ctx: &InstanceCtx, _engine: &EngineBinary) -> Probe {
        Probe::Exchange {
            port: ctx.port(0, PORT),
            send: Vec::new(),
            expect_at: 0,
            expect: b"INFO ".to_vec(),
        }
    }

    fn setup(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Result<Vec<Exec>, CatalogError> {
        Ok(Vec::new())
    }

    fn quiesce(&self, _ctx: &InstanceCtx, _engine: &EngineBinary) -> Vec<Exec> {
        Vec::new()
    }

    fn connection_env(&self, ctx: &InstanceCtx) -> BTreeMap<String, String> {
        BTreeMap::from([(
            "NATS_URL".to_string(),
            format!("nats://{}:{}", ctx.public_name, ctx.port(0, PORT)),
        )])
    }
}
